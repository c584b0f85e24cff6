//! Login, sessions and their transactions, users, databases, server information, and the SQL
//! statements the server (not a database's engine) owns.

use std::sync::OnceLock;

use stele_proto::immudb as pb;
use stele_sql::Output;

use crate::auth::{Caller, Need, OpenTx};
use crate::error::{Result, ServerError};
use crate::registry::{
    check_password, check_username, db_name, hash_password, Database, Settings, User, DEFAULT_DB,
    PERM_ADMIN, PERM_R, PERM_RW, PERM_SYSADMIN, SYSADMIN,
};
use crate::service::{sql, Shared};

const DEFAULT_PASSWORD_WARNING: &str =
    "immudb user has the default password: please change it to ensure proper security";

fn text(b: &[u8], what: &str) -> Result<String> {
    String::from_utf8(b.to_vec())
        .map_err(|_| ServerError::invalid(format!("illegal arguments: {what} is not UTF-8")))
}

/// Checks a user's password; an unknown user costs a bcrypt check too, so that timing does
/// not tell which names exist.
fn authenticate(s: &Shared, name: &[u8], password: &[u8]) -> Result<User> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let user = std::str::from_utf8(name)
        .ok()
        .and_then(|n| s.registry.user(n));
    let ok = match &user {
        Some(u) => check_password(password, &u.hash),
        None => {
            let dummy = DUMMY.get_or_init(|| hash_password(b"-").unwrap_or_default());
            let _ = check_password(password, dummy);
            false
        }
    };
    match user {
        Some(u) if ok && u.active => Ok(u),
        Some(_) if ok => Err(ServerError::Unauthenticated("user is not active".into())),
        _ => Err(ServerError::Unauthenticated(
            "invalid user name or password".into(),
        )),
    }
}

pub fn login(s: &Shared, r: pb::LoginRequest) -> Result<pb::LoginResponse> {
    let user = authenticate(s, &r.user, &r.password)?;
    let warning = if user.name == SYSADMIN && r.password == b"immudb" {
        DEFAULT_PASSWORD_WARNING.as_bytes().to_vec()
    } else {
        Vec::new()
    };
    tracing::info!(user = %user.name, "login");
    Ok(pb::LoginResponse {
        token: s.auth.new_token(&user.name, None),
        warning,
    })
}

/// The database `name` if it exists, is loaded, and `user` may read it.
fn selectable(s: &Shared, user: &User, name: &str) -> Result<String> {
    let name = name.to_lowercase();
    if !s.registry.exists(&name) {
        return Err(ServerError::NotFound(format!("'{name}' does not exist")));
    }
    if user.permission(&name) < PERM_R {
        return Err(ServerError::denied(
            "Logged in user does not have permission on this database",
        ));
    }
    s.registry.get(&name)?;
    Ok(name)
}

pub fn use_database(s: &Shared, caller: Caller, r: pb::Database) -> Result<pb::UseDatabaseReply> {
    let name = selectable(s, &caller.user, &r.database_name)?;
    let token = caller.token.as_deref().ok_or_else(|| {
        ServerError::invalid(
            "UseDatabase needs a token login: a session's database is fixed when it opens",
        )
    })?;
    Ok(pb::UseDatabaseReply {
        token: s.auth.use_database(token, &name)?,
    })
}

pub fn open_session(s: &Shared, r: pb::OpenSessionRequest) -> Result<pb::OpenSessionResponse> {
    let user = authenticate(s, &r.username, &r.password)?;
    let db = if r.database_name.is_empty() {
        DEFAULT_DB.to_string()
    } else {
        r.database_name.clone()
    };
    let db = selectable(s, &user, &db)?;
    let session = s.auth.open_session(&user.name, db);
    tracing::info!(user = %user.name, "session opened");
    Ok(pb::OpenSessionResponse {
        session_id: session.id.clone(),
        server_uuid: s.uuid.clone(),
    })
}

fn session(caller: &Caller) -> Result<&crate::auth::Session> {
    caller
        .session
        .as_deref()
        .ok_or_else(|| ServerError::invalid("this call needs a session (OpenSession)"))
}

const NO_TX: &str = "no transaction is open in this session";

pub fn new_tx(s: &Shared, caller: Caller, r: pb::NewTxRequest) -> Result<pb::NewTxResponse> {
    let session = session(&caller)?;
    let read_only = match pb::TxMode::try_from(r.mode) {
        Ok(pb::TxMode::ReadOnly) => true,
        Ok(pb::TxMode::ReadWrite) => false,
        Ok(pb::TxMode::WriteOnly) => {
            return Err(ServerError::invalid(
                "illegal arguments: write-only transactions are not supported",
            ))
        }
        Err(_) => return Err(ServerError::invalid("illegal arguments: unknown tx mode")),
    };
    let db = caller.database(
        &s.registry,
        if read_only { Need::Read } else { Need::Write },
    )?;
    let mut open = session.tx.lock();
    if open.is_some() {
        return Err(ServerError::FailedPrecondition(
            "a transaction is already open in this session: commit or roll it back first".into(),
        ));
    }
    let mut sql = stele_sql::SqlSession::shared(db.engine.clone());
    sql.execute("BEGIN TRANSACTION", &Default::default())?;
    let id = crate::auth::random_id();
    *open = Some(OpenTx {
        id: id.clone(),
        db,
        sql,
        read_only,
        done: Vec::new(),
    });
    Ok(pb::NewTxResponse { transaction_id: id })
}

/// Commits (or rolls back) the session's transaction.
pub fn end_tx(caller: &Caller, commit: bool) -> Result<Option<pb::CommittedSqlTx>> {
    let session = session(caller)?;
    let mut tx = session
        .tx
        .lock()
        .take()
        .ok_or_else(|| ServerError::FailedPrecondition(NO_TX.into()))?;
    let _pending = tx.db.request();
    if !commit {
        tx.sql.execute("ROLLBACK", &Default::default())?;
        return Ok(None);
    }
    let result = tx.sql.execute("COMMIT", &Default::default())?;
    let mut committed = pb::CommittedSqlTx {
        header: result.committed.last().map(crate::convert::header),
        ..Default::default()
    };
    sql::count_outputs(&mut committed, &tx.done);
    Ok(Some(committed))
}

pub fn tx_sql_exec(_s: &Shared, caller: Caller, r: pb::SqlExecRequest) -> Result<()> {
    let session = session(&caller)?;
    let mut open = session.tx.lock();
    let tx = open
        .as_mut()
        .ok_or_else(|| ServerError::FailedPrecondition(NO_TX.into()))?;
    if tx.read_only {
        return Err(ServerError::invalid(
            "illegal arguments: the transaction is read-only: use TxSQLQuery, or open a read-write transaction",
        ));
    }
    let params = crate::convert::params(&r.params)?;
    let result = {
        let _pending = tx.db.request();
        tx.sql.execute(&r.sql, &params)
    };
    match result {
        // The engine cancelled the transaction: nothing of it is written.
        Err(e) => {
            *open = None;
            Err(e.into())
        }
        Ok(result) if !result.in_transaction => {
            *open = None;
            Err(ServerError::invalid(
                "illegal arguments: end an interactive transaction with Commit or Rollback, not in SQL (it was cancelled)",
            ))
        }
        Ok(result) => {
            tx.done.extend(
                result
                    .outputs
                    .into_iter()
                    .filter(|o| matches!(o, Output::Done(_))),
            );
            Ok(())
        }
    }
}

pub fn tx_sql_query(caller: &Caller, r: pb::SqlQueryRequest) -> Result<Vec<pb::SqlQueryResult>> {
    let session = session(caller)?;
    let mut open = session.tx.lock();
    let tx = open
        .as_mut()
        .ok_or_else(|| ServerError::FailedPrecondition(NO_TX.into()))?;
    let params = crate::convert::params(&r.params)?;
    let _pending = tx.db.request();
    let rows = tx.sql.query(&r.sql, &params);
    let messages = rows.map_err(ServerError::from).and_then(|mut rows| {
        let mut messages = vec![sql::first_message(&mut rows)?];
        while let Some(rows) = sql::next_rows(&mut rows)? {
            messages.push(pb::SqlQueryResult {
                columns: Vec::new(),
                rows,
            });
        }
        Ok(messages)
    });
    drop(_pending);
    if messages.is_err() && !tx.sql.in_transaction() {
        // The engine cancelled the transaction.
        *open = None;
    }
    messages
}

// --- users ---

fn user_message(u: &User) -> pb::User {
    let mut permissions: Vec<pb::Permission> = u
        .permissions
        .iter()
        .map(|(db, p)| pb::Permission {
            database: db.clone(),
            permission: *p,
        })
        .collect();
    if u.sysadmin {
        permissions.push(pb::Permission {
            database: "*".into(),
            permission: PERM_SYSADMIN,
        });
    }
    pb::User {
        user: u.name.as_bytes().to_vec(),
        permissions,
        createdby: u.created_by.clone(),
        createdat: u.created_at.clone(),
        active: u.active,
    }
}

pub fn list_users(s: &Shared, caller: Caller, _: ()) -> Result<pb::UserList> {
    let db = caller.db.clone().unwrap_or_default();
    let users = s
        .registry
        .users()
        .into_iter()
        .filter(|u| {
            caller.is_sysadmin()
                || u.name == caller.user.name
                || (caller.user.permission(&db) >= PERM_ADMIN && u.permissions.contains_key(&db))
        })
        .map(|u| user_message(&u))
        .collect();
    Ok(pb::UserList { users })
}

fn check_permission_value(p: u32) -> Result<()> {
    match p {
        PERM_R | PERM_RW | PERM_ADMIN => Ok(()),
        PERM_SYSADMIN => Err(ServerError::invalid("can not create another system admin")),
        _ => Err(ServerError::invalid("unrecognized permission")),
    }
}

/// The caller may administer database `db`.
fn admin_of(s: &Shared, caller: &Caller, db: &str) -> Result<String> {
    let db = db.to_lowercase();
    if !s.registry.exists(&db) {
        return Err(ServerError::NotFound(format!(
            "database {db} does not exist"
        )));
    }
    caller.check(&db, Need::Admin)?;
    Ok(db)
}

pub fn create_user(s: &Shared, caller: Caller, r: pb::CreateUserRequest) -> Result<()> {
    let name = text(&r.user, "the user name")?;
    check_username(&name)?;
    if r.password.is_empty() {
        return Err(ServerError::invalid(
            "illegal arguments: the password is empty",
        ));
    }
    check_permission_value(r.permission)?;
    let db = admin_of(s, &caller, &r.database)?;
    if s.registry.user(&name).is_some() {
        return Err(ServerError::AlreadyExists("user already exists".into()));
    }
    let user = User {
        name,
        hash: hash_password(&r.password)?,
        permissions: [(db, r.permission)].into_iter().collect(),
        sysadmin: false,
        active: true,
        created_by: caller.user.name.clone(),
        created_at: crate::now_text(),
    };
    tracing::info!(user = %user.name, by = %caller.user.name, "user created");
    s.registry.add_user(user)
}

pub fn change_password(s: &Shared, caller: Caller, r: pb::ChangePasswordRequest) -> Result<()> {
    let name = text(&r.user, "the user name")?;
    if r.new_password.is_empty() {
        return Err(ServerError::invalid(
            "illegal arguments: the new password is empty",
        ));
    }
    let target = s
        .registry
        .user(&name)
        .ok_or_else(|| ServerError::NotFound(format!("user {name} not found")))?;
    if name == caller.user.name || target.sysadmin {
        if !check_password(&r.old_password, &target.hash) {
            return Err(ServerError::denied("old password is incorrect"));
        }
    } else if !caller.is_sysadmin() && target.created_by != caller.user.name {
        return Err(ServerError::denied(
            "changing another user's password needs the system admin or the user's creator",
        ));
    }
    let hash = hash_password(&r.new_password)?;
    s.registry.update_user(&name, |u| {
        u.hash = hash;
        Ok(())
    })
}

pub fn change_permission(s: &Shared, caller: Caller, r: pb::ChangePermissionRequest) -> Result<()> {
    if r.username == caller.user.name {
        return Err(ServerError::denied(
            "changing your own permissions is not allowed",
        ));
    }
    let target = s
        .registry
        .user(&r.username)
        .ok_or_else(|| ServerError::NotFound(format!("user {} not found", r.username)))?;
    if target.sysadmin {
        return Err(ServerError::denied(
            "changing the system admin's permissions is not allowed",
        ));
    }
    let db = admin_of(s, &caller, &r.database)?;
    let grant = match pb::PermissionAction::try_from(r.action) {
        Ok(pb::PermissionAction::Grant) => {
            check_permission_value(r.permission)?;
            true
        }
        Ok(pb::PermissionAction::Revoke) => false,
        Err(_) => {
            return Err(ServerError::invalid(
                "illegal arguments: unknown permission action",
            ))
        }
    };
    s.registry.update_user(&r.username, |u| {
        if grant {
            u.permissions.insert(db, r.permission);
        } else {
            u.permissions.remove(&db);
        }
        Ok(())
    })
}

pub fn set_active_user(s: &Shared, caller: Caller, r: pb::SetActiveUserRequest) -> Result<()> {
    let target = s
        .registry
        .user(&r.username)
        .ok_or_else(|| ServerError::NotFound(format!("user {} not found", r.username)))?;
    if target.sysadmin || target.name == caller.user.name {
        return Err(ServerError::denied(
            "changing this user's status is not allowed",
        ));
    }
    let admin_of_theirs = target
        .permissions
        .keys()
        .any(|db| caller.user.permission(db) >= PERM_ADMIN);
    if !caller.is_sysadmin() && !admin_of_theirs {
        return Err(ServerError::denied(
            "changing a user's status needs the system admin or an admin of one of its databases",
        ));
    }
    s.registry.update_user(&r.username, |u| {
        u.active = r.active;
        Ok(())
    })
}

// --- databases ---

pub fn server_info(s: &Shared) -> pb::ServerInfoResponse {
    let dbs = s.registry.list();
    pb::ServerInfoResponse {
        version: crate::IMMUDB_VERSION.into(),
        started_at: s.started_at,
        num_transactions: dbs
            .iter()
            .filter_map(|(_, _, open)| open.as_ref())
            .map(|db| db.ledger.state().tx_id as i64)
            .sum(),
        num_databases: dbs.len() as i32,
        databases_disk_size: s.registry.disk_size() as i64,
    }
}

fn sysadmin(caller: &Caller) -> Result<()> {
    if !caller.is_sysadmin() {
        return Err(ServerError::denied("this call needs the system admin"));
    }
    Ok(())
}

/// Settings with the fields `n` sets replaced.
fn settings_from(n: Option<&pb::DatabaseNullableSettings>, base: Settings) -> Settings {
    let Some(n) = n else { return base };
    let u32_of = |v: &Option<pb::NullableUint32>, d: u32| v.as_ref().map_or(d, |v| v.value);
    let bool_of = |v: &Option<pb::NullableBool>, d: bool| v.as_ref().map_or(d, |v| v.value);
    let repl = n.replication_settings.as_ref();
    Settings {
        replica: repl.map_or(base.replica, |r| bool_of(&r.replica, base.replica)),
        primary_database: repl
            .and_then(|r| r.primary_database.as_ref())
            .map_or(base.primary_database.clone(), |v| v.value.clone()),
        max_key_len: u32_of(&n.max_key_len, base.max_key_len),
        max_value_len: u32_of(&n.max_value_len, base.max_value_len),
        max_tx_entries: u32_of(&n.max_tx_entries, base.max_tx_entries),
        autoload: bool_of(&n.autoload, base.autoload),
        exclude_commit_time: bool_of(&n.exclude_commit_time, base.exclude_commit_time),
        file_size: u32_of(&n.file_size, base.file_size),
    }
}

pub fn settings_message(s: &Settings) -> pb::DatabaseNullableSettings {
    let u = |value| Some(pb::NullableUint32 { value });
    let b = |value| Some(pb::NullableBool { value });
    pb::DatabaseNullableSettings {
        replication_settings: Some(pb::ReplicationNullableSettings {
            replica: b(s.replica),
            primary_database: Some(pb::NullableString {
                value: s.primary_database.clone(),
            }),
            ..Default::default()
        }),
        file_size: u(s.file_size),
        max_key_len: u(s.max_key_len),
        max_value_len: u(s.max_value_len),
        max_tx_entries: u(s.max_tx_entries),
        exclude_commit_time: b(s.exclude_commit_time),
        write_tx_header_version: u(1),
        autoload: b(s.autoload),
        ..Default::default()
    }
}

pub fn create_database(
    s: &Shared,
    caller: &Caller,
    name: &str,
    settings: Option<&pb::DatabaseNullableSettings>,
    if_not_exists: bool,
) -> Result<pb::CreateDatabaseResponse> {
    sysadmin(caller)?;
    let name = db_name(name)?;
    let settings = settings_from(settings, Settings::default());
    let created = s.registry.create(&name, settings, if_not_exists)?;
    let effective = s.registry.settings(&name)?;
    if created {
        tracing::info!(db = %name, by = %caller.user.name, "database created");
    }
    Ok(pb::CreateDatabaseResponse {
        name,
        settings: Some(settings_message(&effective)),
        already_existed: !created,
    })
}

pub fn load_database(
    s: &Shared,
    caller: Caller,
    r: pb::LoadDatabaseRequest,
) -> Result<pb::LoadDatabaseResponse> {
    sysadmin(&caller)?;
    let name = r.database.to_lowercase();
    s.registry.load(&name)?;
    Ok(pb::LoadDatabaseResponse { database: name })
}

pub fn unload_database(
    s: &Shared,
    caller: Caller,
    r: pb::UnloadDatabaseRequest,
) -> Result<pb::UnloadDatabaseResponse> {
    sysadmin(&caller)?;
    let name = r.database.to_lowercase();
    s.registry.unload(&name)?;
    Ok(pb::UnloadDatabaseResponse { database: name })
}

pub fn delete_database(
    s: &Shared,
    caller: Caller,
    r: pb::DeleteDatabaseRequest,
) -> Result<pb::DeleteDatabaseResponse> {
    sysadmin(&caller)?;
    let name = r.database.to_lowercase();
    s.registry.delete(&name)?;
    tracing::info!(db = %name, by = %caller.user.name, "database deleted");
    Ok(pb::DeleteDatabaseResponse { database: name })
}

fn visible(caller: &Caller, db: &str) -> bool {
    caller.user.permission(db) >= PERM_R
}

pub fn database_list(s: &Shared, caller: &Caller) -> pb::DatabaseListResponse {
    pb::DatabaseListResponse {
        databases: s
            .registry
            .list()
            .into_iter()
            .filter(|(n, _, _)| visible(caller, n))
            .map(|(database_name, _, _)| pb::Database { database_name })
            .collect(),
    }
}

pub fn database_list_v2(s: &Shared, caller: &Caller) -> pb::DatabaseListResponseV2 {
    pb::DatabaseListResponseV2 {
        databases: s
            .registry
            .list()
            .into_iter()
            .filter(|(n, _, _)| visible(caller, n))
            .map(|(name, settings, open)| pb::DatabaseInfo {
                settings: Some(settings_message(&settings)),
                loaded: open.is_some(),
                disk_size: s.registry.db_disk_size(&name),
                num_transactions: open.map_or(0, |db| db.ledger.state().tx_id),
                name,
            })
            .collect(),
    }
}

pub fn update_database(
    s: &Shared,
    caller: Caller,
    r: pb::UpdateDatabaseRequest,
) -> Result<pb::UpdateDatabaseResponse> {
    let name = admin_of(s, &caller, &r.database)?;
    let settings = settings_from(r.settings.as_ref(), s.registry.settings(&name)?);
    s.registry.update(&name, settings.clone())?;
    Ok(pb::UpdateDatabaseResponse {
        database: name,
        settings: Some(settings_message(&settings)),
    })
}

/// FlushIndex: Stele writes its index with each tx, so there is nothing to catch up; the
/// request is validated as immudb validates it.
pub fn flush_index(db: &Database, r: pb::FlushIndexRequest) -> Result<pb::FlushIndexResponse> {
    if !(0.0..=100.0).contains(&r.cleanup_percentage) {
        return Err(ServerError::invalid(format!(
            "illegal arguments: cleanupPercentage must be between 0 and 100, got {}",
            r.cleanup_percentage
        )));
    }
    db.ledger.flush()?;
    Ok(pb::FlushIndexResponse {
        database: db.name.clone(),
    })
}

pub fn compact_index(db: &Database) -> Result<()> {
    db.ledger.compact();
    Ok(())
}

// --- statements the server owns ---

fn permission_named(word: &str) -> Result<u32> {
    match word.to_uppercase().as_str() {
        "READ" => Ok(PERM_R),
        "READWRITE" => Ok(PERM_RW),
        "ADMIN" => Ok(PERM_ADMIN),
        other => Err(ServerError::invalid(format!(
            "syntax error: unknown permission {other}: use READ, READWRITE or ADMIN"
        ))),
    }
}

fn permission_name(p: u32) -> &'static str {
    match p {
        PERM_R => "READ",
        PERM_RW => "READWRITE",
        PERM_ADMIN => "ADMIN",
        PERM_SYSADMIN => "SYSADMIN",
        _ => "NONE",
    }
}

/// Words of a one-statement request (a trailing `;` dropped), with quoted strings kept whole.
fn words(sql: &str) -> Vec<String> {
    let sql = sql.trim().trim_end_matches(';').trim();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(w: &str) -> Result<String> {
    w.strip_prefix('\'')
        .and_then(|w| w.strip_suffix('\''))
        .map(str::to_string)
        .ok_or_else(|| ServerError::invalid("syntax error: the password must be a quoted string"))
}

/// SQLExec of a statement the server owns (databases, users, grants): run here, not by a
/// database's engine. `None` for anything else.
pub async fn server_statement(
    s: &std::sync::Arc<Shared>,
    caller: &Caller,
    r: &pb::SqlExecRequest,
) -> Result<Option<pb::SqlExecResult>> {
    let w = words(&r.sql);
    let up: Vec<String> = w.iter().map(|w| w.to_uppercase()).collect();
    let up: Vec<&str> = up.iter().map(String::as_str).collect();
    let owned = matches!(
        up.as_slice(),
        ["CREATE", "DATABASE", ..]
            | ["CREATE", "USER", ..]
            | ["ALTER", "USER", ..]
            | ["DROP", "USER", ..]
            | ["GRANT", ..]
            | ["REVOKE", ..]
            // `USE SNAPSHOT ...` is the engine's (and refused there).
            | ["USE", "DATABASE", _]
            | ["USE", _]
    );
    if !owned {
        return Ok(None);
    }
    let s = s.clone();
    let caller = caller.clone();
    let w2 = w.clone();
    super::blocking(move || server_statement_blocking(&s, &caller, &w2)).await?;
    Ok(Some(pb::SqlExecResult::default()))
}

fn server_statement_blocking(s: &Shared, caller: &Caller, w: &[String]) -> Result<()> {
    let up: Vec<String> = w.iter().map(|w| w.to_uppercase()).collect();
    let up: Vec<&str> = up.iter().map(String::as_str).collect();
    let syntax = || {
        ServerError::invalid(format!(
            "syntax error: unexpected statement: {}",
            w.join(" ")
        ))
    };
    match up.as_slice() {
        ["CREATE", "DATABASE", "IF", "NOT", "EXISTS", _] => {
            create_database(s, caller, &w[5], None, true).map(|_| ())
        }
        ["CREATE", "DATABASE", _] => create_database(s, caller, &w[2], None, false).map(|_| ()),
        ["USE", "DATABASE", _] | ["USE", _] => {
            let name = w.last().unwrap();
            let token = caller.token.as_deref().ok_or_else(|| {
                ServerError::invalid(
                    "USE needs a token login: a session's database is fixed when it opens",
                )
            })?;
            let name = selectable(s, &caller.user, name)?;
            s.auth.use_database(token, &name).map(|_| ())
        }
        ["CREATE", "USER", _, "WITH", "PASSWORD", _, perm] => {
            let db = caller
                .db
                .clone()
                .ok_or_else(|| ServerError::invalid("please select a database first"))?;
            create_user(
                s,
                caller.clone(),
                pb::CreateUserRequest {
                    user: w[2].as_bytes().to_vec(),
                    password: unquote(&w[5])?.into_bytes(),
                    permission: permission_named(perm)?,
                    database: db,
                },
            )
        }
        ["ALTER", "USER", _, "WITH", "PASSWORD", _, perm] => {
            let db = caller
                .db
                .clone()
                .ok_or_else(|| ServerError::invalid("please select a database first"))?;
            let name = w[2].clone();
            let target = s
                .registry
                .user(&name)
                .ok_or_else(|| ServerError::NotFound(format!("user {name} not found")))?;
            admin_of(s, caller, &db)?;
            if target.sysadmin || name == caller.user.name {
                return Err(ServerError::denied("changing this user is not allowed"));
            }
            let hash = hash_password(unquote(&w[5])?.as_bytes())?;
            let p = permission_named(perm)?;
            s.registry.update_user(&name, |u| {
                u.hash = hash;
                u.permissions.insert(db, p);
                Ok(())
            })
        }
        ["DROP", "USER", _] => set_active_user(
            s,
            caller.clone(),
            pb::SetActiveUserRequest {
                active: false,
                username: w[2].clone(),
            },
        ),
        [verb @ ("GRANT" | "REVOKE"), perm, "ON", "DATABASE", _, "TO", "USER", _]
        | [verb @ ("GRANT" | "REVOKE"), perm, "ON", "DATABASE", _, "FROM", "USER", _] => {
            let action = if *verb == "GRANT" {
                pb::PermissionAction::Grant
            } else {
                pb::PermissionAction::Revoke
            };
            change_permission(
                s,
                caller.clone(),
                pb::ChangePermissionRequest {
                    action: action as i32,
                    username: w[7].clone(),
                    database: w[4].clone(),
                    permission: permission_named(perm)?,
                },
            )
        }
        _ => Err(syntax()),
    }
}

/// SQLQuery of a catalog the server owns: `SHOW DATABASES`, `SHOW USERS`, and the table
/// functions `DATABASES()` and `USERS()` selected whole. `None` for anything else.
pub fn server_query(
    s: &Shared,
    db: &Database,
    r: &pb::SqlQueryRequest,
) -> Result<Option<pb::SqlQueryResult>> {
    let w: Vec<String> = words(&r.sql).iter().map(|w| w.to_uppercase()).collect();
    let w: Vec<&str> = w.iter().map(String::as_str).collect();
    let varchar = |table: &str, col: &str| pb::Column {
        name: format!("({table}.{col})"),
        r#type: "VARCHAR".into(),
    };
    let value = |v: String| stele_sql::Value::Varchar(v);
    match w.as_slice() {
        ["SHOW", "DATABASES"] | ["SELECT", "*", "FROM", "DATABASES()"] => {
            Ok(Some(pb::SqlQueryResult {
                columns: vec![varchar("databases", "name")],
                rows: s
                    .registry
                    .list()
                    .into_iter()
                    .map(|(n, _, _)| crate::convert::row(&[value(n)]))
                    .collect(),
            }))
        }
        ["SHOW", "USERS"] | ["SELECT", "*", "FROM", "USERS()"] => Ok(Some(pb::SqlQueryResult {
            columns: vec![varchar("users", "name"), varchar("users", "permission")],
            rows: s
                .registry
                .users()
                .into_iter()
                .filter(|u| u.permission(&db.name) > 0)
                .map(|u| {
                    let p = permission_name(u.permission(&db.name)).to_string();
                    crate::convert::row(&[value(u.name), value(p)])
                })
                .collect(),
        })),
        _ => Ok(None),
    }
}
