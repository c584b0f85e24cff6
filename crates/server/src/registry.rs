//! Databases and users, kept in `systemdb`.
//!
//! Every database is its own ledger and SQL engine in `<data dir>/<name>`; `systemdb` is a
//! ledger too, holding one plain key per database (`database/<name>`: its settings, JSON) and
//! per user (`user/<name>`: bcrypt hash, permissions, JSON). Its history is therefore as
//! verifiable as any database's. The registry loads both at start and writes through: a change
//! is acknowledged only once committed to `systemdb`.
//!
//! Invariants: a database is open (loaded) or not; only an unloaded database may be deleted;
//! names are lower-case ASCII letters, digits and `_` (they are directory names); systemdb is
//! never listed nor selectable. All methods block (RocksDB, bcrypt): call them off async threads.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::{json, Value as Json};
use stele_ledger::{Ledger, LedgerError, Options, ScanQuery};
use stele_sql::Engine;

use crate::error::{Result, ServerError};

/// The registry's own database: never listed nor selectable.
pub const SYSTEM_DB: &str = "systemdb";
/// The database created on first start; it cannot be unloaded nor deleted.
pub const DEFAULT_DB: &str = "defaultdb";
/// The superuser's name, created on first start.
pub const SYSADMIN: &str = "immudb";

/// Permissions (immudb's values): read a database.
pub const PERM_R: u32 = 1;
/// Permission to read and write a database.
pub const PERM_RW: u32 = 2;
/// Permission to administer a database: grant permissions on it, compact, export, replicate.
pub const PERM_ADMIN: u32 = 254;
/// The superuser's permission, on every database.
pub const PERM_SYSADMIN: u32 = 255;

/// The settings a database is created with; stored, returned and applied on open.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// A replica: written only by `replicateTx`, read-only to the other write calls.
    pub replica: bool,
    /// The primary a replica follows; stored and reported only (Stele does not replicate by
    /// itself).
    pub primary_database: String,
    /// Longest key accepted, in bytes (1 to 65536).
    pub max_key_len: u32,
    /// Longest value accepted, in bytes (1 to 32 MiB).
    pub max_value_len: u32,
    /// Most entries in one transaction (1 to 65536).
    pub max_tx_entries: u32,
    /// Loaded when the server starts.
    pub autoload: bool,
    /// immudb's setting; stored and reported only.
    pub exclude_commit_time: bool,
    /// immudb's file size, in bytes; stored and reported only.
    pub file_size: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            replica: false,
            primary_database: String::new(),
            max_key_len: 1024,
            max_value_len: 32 << 20,
            max_tx_entries: 1024,
            autoload: true,
            exclude_commit_time: false,
            file_size: 1 << 29,
        }
    }
}

impl Settings {
    fn to_json(&self) -> Json {
        json!({
            "replica": self.replica,
            "primaryDatabase": self.primary_database,
            "maxKeyLen": self.max_key_len,
            "maxValueLen": self.max_value_len,
            "maxTxEntries": self.max_tx_entries,
            "autoload": self.autoload,
            "excludeCommitTime": self.exclude_commit_time,
            "fileSize": self.file_size,
        })
    }

    fn from_json(j: &Json) -> Settings {
        let d = Settings::default();
        let u = |k: &str, d: u32| j.get(k).and_then(Json::as_u64).map_or(d, |v| v as u32);
        let b = |k: &str, d: bool| j.get(k).and_then(Json::as_bool).unwrap_or(d);
        Settings {
            replica: b("replica", d.replica),
            primary_database: j
                .get("primaryDatabase")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string(),
            max_key_len: u("maxKeyLen", d.max_key_len),
            max_value_len: u("maxValueLen", d.max_value_len),
            max_tx_entries: u("maxTxEntries", d.max_tx_entries),
            autoload: b("autoload", d.autoload),
            exclude_commit_time: b("excludeCommitTime", d.exclude_commit_time),
            file_size: u("fileSize", d.file_size),
        }
    }

    fn ledger_options(&self) -> Options {
        Options {
            max_key_len: self.max_key_len as usize,
            // The stored value carries a one-byte prefix.
            max_value_len: self.max_value_len as usize + 1,
            max_tx_entries: self.max_tx_entries as usize,
            ..Options::default()
        }
    }

    /// Refuses settings no database could run with.
    pub fn check(&self) -> Result<()> {
        if self.max_key_len == 0 || self.max_key_len > 1 << 16 {
            return Err(ServerError::invalid(format!(
                "illegal arguments: maxKeyLen must be between 1 and 65536, got {}",
                self.max_key_len
            )));
        }
        if self.max_value_len == 0 || self.max_value_len > 32 << 20 {
            return Err(ServerError::invalid(format!(
                "illegal arguments: maxValueLen must be between 1 and 33554432, got {}",
                self.max_value_len
            )));
        }
        if self.max_tx_entries == 0 || self.max_tx_entries > 1 << 16 {
            return Err(ServerError::invalid(format!(
                "illegal arguments: maxTxEntries must be between 1 and 65536, got {}",
                self.max_tx_entries
            )));
        }
        Ok(())
    }
}

/// One open database: its ledger and SQL engine, and the counters `DatabaseHealth` reports.
pub struct Database {
    /// Its name, as stored (lower case); also its directory's name.
    pub name: String,
    /// The settings it was opened with (an update applies from its next load).
    pub settings: Settings,
    /// Its ledger: the key/value store and the proofs.
    pub ledger: Arc<Ledger>,
    /// Its SQL engine, over the same ledger.
    pub engine: Arc<Engine>,
    /// Requests in flight on it (see [`Database::request`]).
    pub pending: AtomicU32,
    /// When its last request completed, in milliseconds since the Unix epoch; 0 before any.
    pub last_completed_ms: AtomicI64,
}

impl Database {
    /// Counts a request as pending until the guard drops.
    pub fn request(&self) -> RequestGuard<'_> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        RequestGuard { db: self }
    }
}

/// A request counted as pending on a database; on drop it is done, and the completion time
/// recorded.
pub struct RequestGuard<'a> {
    db: &'a Database,
}

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        self.db.pending.fetch_sub(1, Ordering::Relaxed);
        self.db
            .last_completed_ms
            .store(crate::now_millis(), Ordering::Relaxed);
    }
}

/// A user as stored.
#[derive(Debug, Clone)]
pub struct User {
    /// The user name (letters, digits and `_`).
    pub name: String,
    /// bcrypt hash of the password.
    pub hash: String,
    /// Database name → permission (R, RW, ADMIN).
    pub permissions: BTreeMap<String, u32>,
    /// The superuser: every permission on every database.
    pub sysadmin: bool,
    /// A deactivated user (`false`) cannot log in, and its tokens and sessions are refused.
    pub active: bool,
    /// Name of the user who created it; empty for the superuser.
    pub created_by: String,
    /// When it was created, as Go's `time.Time.String()` prints it (UTC).
    pub created_at: String,
}

impl User {
    fn to_json(&self) -> Json {
        json!({
            "hash": self.hash,
            "permissions": self.permissions,
            "sysadmin": self.sysadmin,
            "active": self.active,
            "createdBy": self.created_by,
            "createdAt": self.created_at,
        })
    }

    fn from_json(name: &str, j: &Json) -> Result<User> {
        let s = |k: &str| {
            j.get(k)
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let permissions = j
            .get("permissions")
            .and_then(Json::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(db, p)| Some((db.clone(), p.as_u64()? as u32)))
                    .collect()
            })
            .unwrap_or_default();
        if s("hash").is_empty() {
            return Err(ServerError::Internal(format!(
                "systemdb: user {name} has no password hash"
            )));
        }
        Ok(User {
            name: name.to_string(),
            hash: s("hash"),
            permissions,
            sysadmin: j.get("sysadmin").and_then(Json::as_bool).unwrap_or(false),
            active: j.get("active").and_then(Json::as_bool).unwrap_or(true),
            created_by: s("createdBy"),
            created_at: s("createdAt"),
        })
    }

    /// This user's permission on `db` (SYSADMIN everywhere for the superuser; 0: none).
    pub fn permission(&self, db: &str) -> u32 {
        if self.sysadmin {
            PERM_SYSADMIN
        } else {
            self.permissions.get(db).copied().unwrap_or(0)
        }
    }
}

/// bcrypt's cost for stored passwords: immudb's (about 50-80 ms a check, which is also what
/// makes a login with a 1 ms deadline time out, as immudb's clients expect).
const BCRYPT_COST: u32 = 10;

/// A bcrypt hash of `password` for storing.
pub fn hash_password(password: &[u8]) -> Result<String> {
    bcrypt::hash(password, BCRYPT_COST).map_err(|e| ServerError::Internal(e.to_string()))
}

/// Whether `password` matches the bcrypt `hash`; `false` for a malformed hash too.
pub fn check_password(password: &[u8], hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

struct Slot {
    settings: Settings,
    open: Option<Arc<Database>>,
}

/// The server's databases and users, persisted in `systemdb`.
pub struct Registry {
    data_dir: PathBuf,
    system: Ledger,
    runtime: Arc<tokio::runtime::Runtime>,
    dbs: RwLock<BTreeMap<String, Slot>>,
    users: RwLock<BTreeMap<String, User>>,
    /// Databases a service of the server owns (the event store's): the immudb API reads them
    /// but never writes, unloads or deletes them.
    owned: RwLock<std::collections::BTreeSet<String>>,
}

const DB_KEY: &str = "database/";
const USER_KEY: &str = "user/";

/// A database name as stored: lower case, checked.
pub fn db_name(name: &str) -> Result<String> {
    let name = name.to_lowercase();
    if name.is_empty()
        || name.len() > 128
        || !name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    {
        return Err(ServerError::invalid(format!(
            "illegal arguments: invalid database name {name:?}: use 1 to 128 letters, digits and underscores"
        )));
    }
    Ok(name)
}

/// Refuses a user name that is empty or has characters other than ASCII letters, digits and `_`.
pub fn check_username(name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return Err(ServerError::invalid(
            "username can only contain letters, digits and underscores",
        ));
    }
    Ok(())
}

impl Registry {
    /// Opens `systemdb` under `data_dir` (creating it, the superuser and `defaultdb` on first
    /// start), and every database whose `autoload` is set.
    pub fn open(
        data_dir: PathBuf,
        admin_password: &str,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Result<Registry> {
        std::fs::create_dir_all(&data_dir).map_err(|e| {
            ServerError::Internal(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let system = Ledger::open(data_dir.join(SYSTEM_DB), Options::default())?;
        let reg = Registry {
            data_dir,
            system,
            runtime,
            dbs: RwLock::new(BTreeMap::new()),
            users: RwLock::new(BTreeMap::new()),
            owned: RwLock::new(Default::default()),
        };
        for (key, value) in reg.system_scan(DB_KEY)? {
            let settings = Settings::from_json(&parse_json(&value)?);
            reg.dbs.write().insert(
                key,
                Slot {
                    settings,
                    open: None,
                },
            );
        }
        for (key, value) in reg.system_scan(USER_KEY)? {
            let user = User::from_json(&key, &parse_json(&value)?)?;
            reg.users.write().insert(key, user);
        }
        if !reg.users.read().contains_key(SYSADMIN) {
            if admin_password.is_empty() {
                return Err(ServerError::invalid("the admin password must not be empty"));
            }
            let user = User {
                name: SYSADMIN.to_string(),
                hash: hash_password(admin_password.as_bytes())?,
                permissions: BTreeMap::new(),
                sysadmin: true,
                active: true,
                created_by: String::new(),
                created_at: crate::now_text(),
            };
            reg.add_user(user)?;
        }
        if !reg.dbs.read().contains_key(DEFAULT_DB) {
            reg.create(DEFAULT_DB, Settings::default(), true)?;
        }
        let autoload: Vec<String> = reg
            .dbs
            .read()
            .iter()
            .filter(|(_, s)| s.settings.autoload && s.open.is_none())
            .map(|(n, _)| n.clone())
            .collect();
        for name in autoload {
            reg.load(&name)?;
        }
        Ok(reg)
    }

    fn system_scan(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let entries = self.system.kv().scan(&ScanQuery {
            prefix: prefix.as_bytes().to_vec(),
            ..Default::default()
        })?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let key = String::from_utf8_lossy(&e.key[prefix.len()..]).into_owned();
                (key, e.value)
            })
            .collect())
    }

    fn system_put(&self, key: String, value: &Json) -> Result<()> {
        self.system
            .kv()
            .set(vec![(key.into_bytes(), value.to_string().into_bytes())])?;
        Ok(())
    }

    // --- databases ---

    /// Creates a database; `Ok(false)` when it existed and `if_not_exists` was given.
    pub fn create(&self, name: &str, settings: Settings, if_not_exists: bool) -> Result<bool> {
        let name = db_name(name)?;
        if name == SYSTEM_DB {
            return Err(ServerError::AlreadyExists(format!(
                "database '{name}' already exists"
            )));
        }
        settings.check()?;
        let mut dbs = self.dbs.write();
        if dbs.contains_key(&name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(ServerError::AlreadyExists(format!(
                "database '{name}' already exists"
            )));
        }
        let path = self.data_dir.join(&name);
        if path.exists() {
            // Left by a database deleted while its files were held open: start afresh.
            std::fs::remove_dir_all(&path).map_err(|e| {
                ServerError::Internal(format!("cannot clear {}: {e}", path.display()))
            })?;
        }
        let db = self.open_db(&name, &settings)?;
        self.system_put(format!("{DB_KEY}{name}"), &settings.to_json())?;
        dbs.insert(
            name,
            Slot {
                settings,
                open: Some(db),
            },
        );
        Ok(true)
    }

    fn open_db(&self, name: &str, settings: &Settings) -> Result<Arc<Database>> {
        let ledger = Arc::new(Ledger::open(
            self.data_dir.join(name),
            settings.ledger_options(),
        )?);
        let engine = Arc::new(Engine::with_runtime(ledger.clone(), self.runtime.clone())?);
        Ok(Arc::new(Database {
            name: name.to_string(),
            settings: settings.clone(),
            ledger,
            engine,
            pending: AtomicU32::new(0),
            last_completed_ms: AtomicI64::new(0),
        }))
    }

    /// The open database `name`.
    pub fn get(&self, name: &str) -> Result<Arc<Database>> {
        let dbs = self.dbs.read();
        match dbs.get(name) {
            None => Err(ServerError::NotFound(format!("'{name}' does not exist"))),
            Some(Slot { open: None, .. }) => Err(ServerError::FailedPrecondition(format!(
                "database {name} is not loaded: load it first"
            ))),
            Some(Slot { open: Some(db), .. }) => Ok(db.clone()),
        }
    }

    /// Marks `name` as owned by a service: read-only to the immudb API, never unloaded.
    pub fn own(&self, name: &str) {
        self.owned.write().insert(name.to_string());
    }

    /// Whether a service owns `name` (see [`Registry::own`]).
    pub fn is_owned(&self, name: &str) -> bool {
        self.owned.read().contains(name)
    }

    /// Whether database `name` exists, loaded or not.
    pub fn exists(&self, name: &str) -> bool {
        self.dbs.read().contains_key(name)
    }

    /// Every database: name, settings and, when loaded, the open database.
    pub fn list(&self) -> Vec<(String, Settings, Option<Arc<Database>>)> {
        self.dbs
            .read()
            .iter()
            .map(|(n, s)| (n.clone(), s.settings.clone(), s.open.clone()))
            .collect()
    }

    /// The stored settings of database `name` (the ones its next load applies).
    pub fn settings(&self, name: &str) -> Result<Settings> {
        self.dbs
            .read()
            .get(name)
            .map(|s| s.settings.clone())
            .ok_or_else(|| ServerError::NotFound(format!("'{name}' does not exist")))
    }

    /// Opens an unloaded database; `FailedPrecondition` if it is loaded already.
    pub fn load(&self, name: &str) -> Result<()> {
        let mut dbs = self.dbs.write();
        let slot = dbs
            .get_mut(name)
            .ok_or_else(|| ServerError::NotFound(format!("'{name}' does not exist")))?;
        if slot.open.is_some() {
            return Err(ServerError::FailedPrecondition(format!(
                "database {name} is already loaded"
            )));
        }
        slot.open = Some(self.open_db(name, &slot.settings)?);
        Ok(())
    }

    /// Closes a database: later calls on it fail; its files are released when the calls in
    /// flight end.
    pub fn unload(&self, name: &str) -> Result<()> {
        let mut dbs = self.dbs.write();
        let slot = dbs
            .get_mut(name)
            .ok_or_else(|| ServerError::NotFound(format!("'{name}' does not exist")))?;
        if name == DEFAULT_DB {
            return Err(ServerError::denied(
                "the default database cannot be unloaded",
            ));
        }
        if self.is_owned(name) {
            return Err(ServerError::denied(format!(
                "database {name} is the event store's: it cannot be unloaded while the server runs"
            )));
        }
        if slot.open.take().is_none() {
            return Err(ServerError::FailedPrecondition(format!(
                "database {name} is already unloaded"
            )));
        }
        Ok(())
    }

    /// Deletes an unloaded database and its files.
    pub fn delete(&self, name: &str) -> Result<()> {
        let mut dbs = self.dbs.write();
        let slot = dbs
            .get(name)
            .ok_or_else(|| ServerError::NotFound(format!("'{name}' does not exist")))?;
        if name == DEFAULT_DB {
            return Err(ServerError::denied(
                "the default database cannot be deleted",
            ));
        }
        if self.is_owned(name) {
            return Err(ServerError::denied(format!(
                "database {name} is the event store's: it cannot be deleted"
            )));
        }
        if slot.open.is_some() {
            return Err(ServerError::FailedPrecondition(format!(
                "database {name} is loaded: unload it before deleting it"
            )));
        }
        match self
            .system
            .kv()
            .delete(vec![format!("{DB_KEY}{name}").into_bytes()])
        {
            Ok(_) | Err(LedgerError::KeyNotFound) => {}
            Err(e) => return Err(e.into()),
        }
        dbs.remove(name);
        // Files still held by a call in flight are cleared when the name is created again.
        let _ = std::fs::remove_dir_all(self.data_dir.join(name));
        Ok(())
    }

    /// Replaces a database's settings; limits apply from its next load.
    pub fn update(&self, name: &str, settings: Settings) -> Result<()> {
        settings.check()?;
        let mut dbs = self.dbs.write();
        let slot = dbs
            .get_mut(name)
            .ok_or_else(|| ServerError::NotFound(format!("'{name}' does not exist")))?;
        self.system_put(format!("{DB_KEY}{name}"), &settings.to_json())?;
        slot.settings = settings;
        Ok(())
    }

    /// Total size of the databases' files, in bytes.
    pub fn disk_size(&self) -> u64 {
        fn size(p: &std::path::Path) -> u64 {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| match e.metadata() {
                            Ok(m) if m.is_dir() => size(&e.path()),
                            Ok(m) => m.len(),
                            Err(_) => 0,
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        size(&self.data_dir)
    }

    /// Size of the files directly in database `name`'s directory, in bytes; 0 if unreadable.
    pub fn db_disk_size(&self, name: &str) -> u64 {
        std::fs::read_dir(self.data_dir.join(name))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    // --- users ---

    /// The user `name`, if it exists.
    pub fn user(&self, name: &str) -> Option<User> {
        self.users.read().get(name).cloned()
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<User> {
        self.users.read().values().cloned().collect()
    }

    /// Adds a user; fails with immudb's `user already exists`.
    pub fn add_user(&self, user: User) -> Result<()> {
        let mut users = self.users.write();
        if users.contains_key(&user.name) {
            return Err(ServerError::AlreadyExists("user already exists".into()));
        }
        self.store_user(&mut users, user)
    }

    /// Applies `f` to a stored user and writes it back (under the lock: no lost update).
    pub fn update_user(&self, name: &str, f: impl FnOnce(&mut User) -> Result<()>) -> Result<()> {
        let mut users = self.users.write();
        let mut user = users
            .get(name)
            .cloned()
            .ok_or_else(|| ServerError::NotFound(format!("user {name} not found")))?;
        f(&mut user)?;
        self.store_user(&mut users, user)
    }

    /// Persists a user, then shows it: the map never holds what systemdb does not.
    fn store_user(&self, users: &mut BTreeMap<String, User>, user: User) -> Result<()> {
        self.system_put(format!("{USER_KEY}{}", user.name), &user.to_json())?;
        users.insert(user.name.clone(), user);
        Ok(())
    }
}

fn parse_json(b: &[u8]) -> Result<Json> {
    serde_json::from_slice(b).map_err(|e| ServerError::Internal(format!("systemdb: {e}")))
}
