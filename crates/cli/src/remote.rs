//! The commands against a server (`--server HOST:PORT`), over stele-client.
//!
//! Output matches the embedded commands line for line where both exist. Verified commands
//! print what they proved and the trusted state they left; a failed proof is an error naming
//! the tx and the check, and the trusted state is left as it was.

use std::path::{Path, PathBuf};

use stele_client::sql::{Output, SqlSession, Value};
use stele_client::{
    pb, Client, ClientError, Credentials, Permission, ServerAddress, TrustStore, Version,
};

use crate::output::{self, show};
use crate::table::{self, Cell, Format, Outcome, Rows};
use crate::{Cli, Command, DatabaseCommand, UserCommand};

fn err(e: ClientError) -> String {
    e.to_string()
}

/// A password from `var` (when set and not empty) or a prompt on the terminal, without echo.
fn password(var: &str, prompt: &str) -> Result<String, String> {
    if let Some(p) = std::env::var(var).ok().filter(|p| !p.is_empty()) {
        return Ok(p);
    }
    rpassword::prompt_password(prompt)
        .map_err(|e| format!("no password: set {var} or run on a terminal ({e})"))
}

pub fn run(cli: Cli) -> Result<(), String> {
    let address = ServerAddress {
        addr: cli.server.clone().expect("remote mode has --server"),
        tls_ca: cli.tls_ca.clone(),
        tls_domain: cli.tls_domain.clone(),
    };
    let secret = password(
        "STELE_PASSWORD",
        &format!("password for {}@{}: ", cli.user, address.addr),
    )?;
    let credentials = Credentials {
        user: cli.user.clone(),
        password: secret.clone(),
        database: cli.db.clone(),
    };
    let mut client = Client::open(&address, credentials).map_err(err)?;
    if let Some(path) = &cli.server_key {
        client.require_signatures(stele_client::load_server_key(path).map_err(err)?);
    }
    let store = TrustStore::default_location()
        .ok_or("no state directory for trusted states: set STELE_STATE_DIR or HOME")?;
    let server = address.addr.as_str();
    match cli.command {
        Command::Serve(_) => unreachable!("refused before connecting"),
        Command::State => {
            let s = client.signed_state().map_err(err)?;
            println!("database {} at {server}", cli.db);
            println!("tx {}  state hash {}", s.tx_id, hex::encode(&s.tx_hash));
            match store.load(server, &cli.db).map_err(err)? {
                Some(t) => println!(
                    "trusted here: tx {}  state hash {}",
                    t.tx_id,
                    hex::encode(t.tx_hash)
                ),
                None => println!("trusted here: nothing yet (the next verified call starts it)"),
            }
        }
        Command::Verify { from, to } => verify(&client, &store, from, to)?,
        Command::Set { key, value } => {
            let h = client.set(key.as_bytes(), value.as_bytes()).map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::Get {
            key,
            at_tx,
            revision,
        } => {
            let e = client
                .get(key.as_bytes(), version(at_tx, revision))
                .map_err(err)?;
            output::entry(&e.value, e.tx, e.revision);
        }
        Command::Delete { key } => {
            let h = client.delete(key.as_bytes()).map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::History { key, desc, limit } => {
            let limit = u32::try_from(limit).map_err(|_| "--limit is too large")?;
            for e in client
                .history(key.as_bytes(), 0, limit, desc)
                .map_err(err)?
            {
                let deleted = e.metadata.as_ref().is_some_and(|m| m.deleted);
                output::version(e.revision, e.tx, deleted, &e.value);
            }
        }
        Command::Scan {
            prefix,
            desc,
            limit,
        } => {
            let prefix = prefix.unwrap_or_default();
            for e in client
                .scan(prefix.as_bytes(), limit as u64, desc)
                .map_err(err)?
            {
                output::scan_row(&e.key, &e.value, e.tx);
            }
        }
        Command::Tx { id } => print_tx(&client.tx(id).map_err(err)?)?,
        Command::Ref {
            key,
            referenced,
            at_tx,
        } => {
            let h = client
                .set_reference(key.as_bytes(), referenced.as_bytes(), at_tx)
                .map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::Zadd {
            set,
            score,
            key,
            at_tx,
        } => {
            let h = client
                .zadd(set.as_bytes(), score, key.as_bytes(), at_tx)
                .map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::Zscan {
            set,
            min,
            max,
            desc,
            limit,
        } => {
            for z in client
                .zscan(set.as_bytes(), min, max, desc, limit as u64)
                .map_err(err)?
            {
                let e = z.entry.unwrap_or_default();
                output::zscan_row(&z.key, z.score, &e.value, e.tx);
            }
        }
        Command::Vref {
            key,
            referenced,
            at_tx,
        } => {
            let (h, state) = client
                .verified_set_reference(&store, key.as_bytes(), referenced.as_bytes(), at_tx)
                .map_err(err)?;
            println!("tx {}\tverified; trusted state tx {}", h.id, state.tx_id);
        }
        Command::Vzadd { set, score, key } => {
            let (h, state) = client
                .verified_zadd(&store, set.as_bytes(), score, key.as_bytes())
                .map_err(err)?;
            println!("tx {}\tverified; trusted state tx {}", h.id, state.tx_id);
        }
        Command::Vset { key, value } => {
            let (h, state) = client
                .verified_set(&store, key.as_bytes(), value.as_bytes())
                .map_err(err)?;
            println!("tx {}\tverified; trusted state tx {}", h.id, state.tx_id);
        }
        Command::Vget {
            key,
            at_tx,
            revision,
        } => {
            let (e, state) = client
                .verified_get(&store, key.as_bytes(), version(at_tx, revision))
                .map_err(err)?;
            println!(
                "{}\ttx {}\trevision {}\tverified; trusted state tx {}",
                show(&e.value),
                e.tx,
                e.revision,
                state.tx_id
            );
        }
        Command::Vtx { id } => {
            let (tx, state) = client.verified_tx(&store, id).map_err(err)?;
            print_tx(&tx)?;
            println!("verified; trusted state tx {}", state.tx_id);
        }
        Command::Sql(args) => {
            let mut session = RemoteSql(client.sql());
            crate::shell::run(&mut session, args, history_file())?;
        }
        Command::Slt {
            files,
            labels,
            complete,
        } => slt(&client, &files, &labels, complete)?,
        Command::User(c) => user(&client, &cli.db, &secret, c)?,
        Command::Database(c) => database(&client, &store, c)?,
        Command::Status => status(&client)?,
    }
    Ok(())
}

fn version(at_tx: Option<u64>, revision: Option<i64>) -> Version {
    match (at_tx, revision) {
        (Some(t), _) => Version::AtTx(t),
        (None, Some(r)) => Version::AtRevision(r),
        (None, None) => Version::Latest,
    }
}

fn print_tx(tx: &pb::Tx) -> Result<(), String> {
    let h = tx.header.clone().unwrap_or_default();
    let alh = stele_client::kv::alh(&h).map_err(err)?;
    let keys = tx.entries.iter().map(|e| e.key.as_slice());
    output::tx(h.id, h.ts, h.nentries as u32, &h.e_h, &alh, keys);
    Ok(())
}

/// The shell's history file, beside the trusted states.
fn history_file() -> Option<PathBuf> {
    TrustStore::default_location().map(|s| s.path("", "").with_file_name("sql_history"))
}

fn verify(client: &Client, store: &TrustStore, from: u64, to: Option<u64>) -> Result<(), String> {
    let mut progress = crate::progress::Progress::new("txs");
    let r = client
        .audit(store, from, to, &mut |done, total| {
            progress.update(done, total)
        })
        .map_err(err)?;
    if r.to < r.from {
        println!(
            "nothing to verify: database {} has no txs from tx {}",
            client.database(),
            r.from
        );
        return Ok(());
    }
    println!(
        "verified txs {}..={} of database {} on {}: {} entries; trusted state tx {} {}",
        r.from,
        r.to,
        client.database(),
        client.address().addr,
        r.entries,
        r.trusted_after.tx_id,
        hex::encode(r.trusted_after.tx_hash)
    );
    if !r.anchored {
        println!(
            "note: nothing was trusted before and the walk began at tx {}: its start was taken on trust (verify from tx 1 to check the whole chain)",
            r.from
        );
    }
    Ok(())
}

/// A remote SQL session, as the shell sees it.
struct RemoteSql<C: std::borrow::Borrow<Client>>(SqlSession<C>);

fn cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Integer(i) => Cell::Int(*i),
        Value::Varchar(s) => Cell::Text(s.clone()),
        Value::Boolean(b) => Cell::Bool(*b),
        Value::Blob(b) => Cell::Text(stele_slt::blob_text(b)),
        Value::Timestamp(t) => Cell::Text(stele_slt::timestamp_text(*t)),
        Value::Float(f) => Cell::Float(*f),
    }
}

fn outcome(o: Output) -> Outcome {
    match o {
        Output::Rows { columns, rows } => Outcome::Rows(Rows {
            columns: columns
                .into_iter()
                .map(|c| (table::column_name(&c.name), c.ty))
                .collect(),
            rows: rows.iter().map(|r| r.iter().map(cell).collect()).collect(),
        }),
        Output::Done { updated_rows, txs } => Outcome::Done {
            updated: updated_rows,
            txs,
        },
        Output::Began => Outcome::Began,
        Output::RolledBack => Outcome::RolledBack,
    }
}

impl<C: std::borrow::Borrow<Client>> crate::shell::Session for RemoteSql<C> {
    fn execute(&mut self, text: &str) -> Result<Vec<Outcome>, String> {
        Ok(self
            .0
            .execute(text)
            .map_err(err)?
            .into_iter()
            .map(outcome)
            .collect())
    }

    fn tables(&mut self) -> Result<Outcome, String> {
        self.0.tables().map(outcome).map_err(err)
    }

    fn describe(&mut self, table: &str) -> Result<Outcome, String> {
        self.0.describe(table).map(outcome).map_err(err)
    }

    fn in_transaction(&self) -> bool {
        self.0.in_transaction()
    }
}

/// A value as `stele slt` renders it (the embedded runner's rendering).
fn slt_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Varchar(s) => stele_slt::varchar_text(s),
        Value::Float(f) => format!("{f}"),
        Value::Blob(b) => stele_slt::blob_text(b),
        Value::Timestamp(t) => stele_slt::timestamp_text(*t),
    }
}

impl<C: std::borrow::Borrow<Client>> stele_slt::Database for RemoteSql<C> {
    fn run(&mut self, sql: &str) -> Result<Option<Vec<Vec<String>>>, String> {
        let outputs = self.0.execute(sql).map_err(err)?;
        Ok(match outputs.into_iter().last() {
            Some(Output::Rows { rows, .. }) => Some(
                rows.iter()
                    .map(|r| r.iter().map(slt_text).collect())
                    .collect(),
            ),
            _ => None,
        })
    }
}

/// `stele slt --server`: each file in a database of its own, created here and deleted after.
fn slt(admin: &Client, files: &[PathBuf], labels: &[String], complete: bool) -> Result<(), String> {
    let mut total = stele_slt::Report::default();
    for (n, f) in files.iter().enumerate() {
        let name = format!("slt{}x{n}", std::process::id());
        total.add(slt_file(admin, &name, f, labels, complete));
    }
    output::slt_report(&total)
}

fn slt_file(
    admin: &Client,
    db: &str,
    file: &Path,
    labels: &[String],
    complete: bool,
) -> stele_slt::Report {
    let name = file.display().to_string();
    if let Err(e) = admin.create_database(db, false) {
        return stele_slt::Report::broken(&name, format!("cannot create database {db}: {e}"));
    }
    let report = stele_slt::run_file(file, labels, complete, || {
        let session = admin.on_database(db).map_err(err)?;
        Ok(RemoteSql(SqlSession::new(session)))
    });
    let dropped = admin
        .unload_database(db)
        .and_then(|()| admin.delete_database(db));
    match dropped {
        Ok(()) => report,
        Err(e) => {
            let mut r = report;
            r.add(stele_slt::Report::broken(
                &name,
                format!("cannot delete database {db}: {e}"),
            ));
            r
        }
    }
}

fn new_password(user: &str) -> Result<String, String> {
    password("STELE_NEW_PASSWORD", &format!("new password for {user}: "))
}

fn user(client: &Client, db: &str, own_password: &str, c: UserCommand) -> Result<(), String> {
    match c {
        UserCommand::Create {
            name,
            permission,
            database,
        } => {
            let permission = Permission::parse(&permission).map_err(err)?;
            let database = database.unwrap_or_else(|| db.to_string());
            let secret = new_password(&name)?;
            client
                .create_user(&name, &secret, permission, &database)
                .map_err(err)?;
            println!(
                "user {name} created with {} on {database}",
                Permission::name_of(permission.code())
            );
        }
        UserCommand::List => {
            let users = client.list_users().map_err(err)?;
            let rows = users
                .iter()
                .map(|u| {
                    let permissions: Vec<String> = u
                        .permissions
                        .iter()
                        .map(|p| format!("{}:{}", p.database, Permission::name_of(p.permission)))
                        .collect();
                    vec![
                        Cell::Text(show(&u.user)),
                        Cell::Bool(u.active),
                        Cell::Text(permissions.join(", ")),
                        Cell::Text(u.createdby.clone()),
                        Cell::Text(u.createdat.clone()),
                    ]
                })
                .collect();
            print_rows(
                &["user", "active", "permissions", "created by", "created at"],
                rows,
            );
        }
        UserCommand::Password { name } => {
            // One's own password (and the superuser's) needs the old one: it is the login's.
            let old = if name == client.user() {
                own_password.to_string()
            } else {
                String::new()
            };
            let secret = new_password(&name)?;
            client.change_password(&name, &old, &secret).map_err(err)?;
            println!("password of {name} changed");
        }
        UserCommand::Permission {
            action,
            name,
            permission,
            database,
        } => {
            let permission = Permission::parse(&permission).map_err(err)?;
            let database = database.unwrap_or_else(|| db.to_string());
            let grant = action == "grant";
            client
                .change_permission(grant, &name, &database, permission)
                .map_err(err)?;
            println!(
                "{} {} on {database} {} {name}",
                if grant { "granted" } else { "revoked" },
                Permission::name_of(permission.code()),
                if grant { "to" } else { "from" }
            );
        }
        UserCommand::Activate { name, off } => {
            client.set_active(&name, !off).map_err(err)?;
            println!(
                "user {name} {}",
                if off { "deactivated" } else { "activated" }
            );
        }
    }
    Ok(())
}

fn print_rows(names: &[&str], rows: Vec<Vec<Cell>>) {
    let r = Rows {
        columns: names
            .iter()
            .map(|n| (n.to_string(), String::new()))
            .collect(),
        rows,
    };
    print!(
        "{}",
        table::render(&[Outcome::Rows(r)], Format::Table, None)
    );
}

fn database(client: &Client, store: &TrustStore, c: DatabaseCommand) -> Result<(), String> {
    match c {
        DatabaseCommand::Create {
            name,
            if_not_exists,
        } => {
            let r = client.create_database(&name, if_not_exists).map_err(err)?;
            if r.already_existed {
                println!("database {name} already exists");
            } else {
                println!("database {name} created");
            }
        }
        DatabaseCommand::List => list_databases(client)?,
        DatabaseCommand::Load { name } => {
            client.load_database(&name).map_err(err)?;
            println!("database {name} loaded");
        }
        DatabaseCommand::Unload { name } => {
            client.unload_database(&name).map_err(err)?;
            println!("database {name} unloaded");
        }
        DatabaseCommand::Delete { name } => {
            client.delete_database(&name).map_err(err)?;
            store.forget(&client.address().addr, &name).map_err(err)?;
            println!("database {name} deleted");
        }
        DatabaseCommand::Settings => {
            let r = client.database_settings().map_err(err)?;
            println!("database {}", r.database);
            for (name, value) in settings(&r.settings.unwrap_or_default()) {
                println!("  {name}: {value}");
            }
        }
    }
    Ok(())
}

/// The settings a server reported, by name, skipping those it left unset.
fn settings(s: &pb::DatabaseNullableSettings) -> Vec<(&'static str, String)> {
    let n = |v: &Option<pb::NullableUint32>| v.as_ref().map(|v| v.value.to_string());
    let b = |v: &Option<pb::NullableBool>| v.as_ref().map(|v| v.value.to_string());
    let ms = |v: &Option<pb::NullableMilliseconds>| v.as_ref().map(|v| format!("{} ms", v.value));
    [
        ("fileSize", n(&s.file_size)),
        ("maxKeyLen", n(&s.max_key_len)),
        ("maxValueLen", n(&s.max_value_len)),
        ("maxTxEntries", n(&s.max_tx_entries)),
        ("excludeCommitTime", b(&s.exclude_commit_time)),
        ("maxConcurrency", n(&s.max_concurrency)),
        ("maxIOConcurrency", n(&s.max_io_concurrency)),
        ("writeTxHeaderVersion", n(&s.write_tx_header_version)),
        ("autoload", b(&s.autoload)),
        ("syncFrequency", ms(&s.sync_frequency)),
        ("writeBufferSize", n(&s.write_buffer_size)),
        ("maxActiveTransactions", n(&s.max_active_transactions)),
        ("mvccReadSetLimit", n(&s.mvcc_read_set_limit)),
        ("embeddedValues", b(&s.embedded_values)),
        ("preallocFiles", b(&s.prealloc_files)),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k, v?)))
    .collect()
}

fn status(client: &Client) -> Result<(), String> {
    let info = client.server_info().map_err(err)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let up = (now - info.started_at).max(0);
    println!("server {} at {}", info.version, client.address().addr);
    println!(
        "up since {} UTC ({}d {:02}h {:02}m {:02}s)",
        stele_slt::timestamp_text(info.started_at * 1_000_000),
        up / 86_400,
        up / 3600 % 24,
        up / 60 % 60,
        up % 60
    );
    println!(
        "{} databases, {} txs, {} bytes on disk",
        info.num_databases, info.num_transactions, info.databases_disk_size
    );
    list_databases(client)
}

fn list_databases(client: &Client) -> Result<(), String> {
    let rows = client
        .list_databases()
        .map_err(err)?
        .iter()
        .map(|d| {
            vec![
                Cell::Text(d.name.clone()),
                Cell::Bool(d.loaded),
                Cell::Int(d.num_transactions as i64),
                Cell::Int(d.disk_size as i64),
            ]
        })
        .collect();
    print_rows(&["database", "loaded", "txs", "disk bytes"], rows);
    Ok(())
}
