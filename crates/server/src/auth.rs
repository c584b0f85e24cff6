//! Who is calling: login tokens, sessions, and the permission each call needs.
//!
//! A call names its caller with gRPC metadata: `sessionid` (session mode) wins over
//! `authorization: Bearer <token>` (token mode), as immudb decides. Tokens and session ids are
//! random 128-bit values held in memory only: a restart logs everyone out. A token maps to a
//! user and the database it selected; a session binds a user to a database and may hold one
//! interactive SQL transaction. Idle sessions expire ([`SESSION_IDLE`]).
//!
//! Invariant: a caller's rights are read from the registry on every call, so a revoked
//! permission or a deactivated user takes effect at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use stele_sql::SqlSession;
use tonic::metadata::MetadataMap;

use crate::error::{Result, ServerError};
use crate::registry::{Database, Registry, User, PERM_ADMIN, PERM_R, PERM_RW, PERM_SYSADMIN};

/// A session with no call for this long is closed (immudb: 3 minutes).
pub const SESSION_IDLE: Duration = Duration::from_secs(180);

/// What a call needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    /// Any logged-in user, no database required.
    Login,
    /// Read permission (`PERM_R`) on the selected database.
    Read,
    /// Read-write permission (`PERM_RW`) on the selected database.
    Write,
    /// Admin permission (`PERM_ADMIN`) on the selected database.
    Admin,
    /// The superuser (`PERM_SYSADMIN`).
    SysAdmin,
}

impl Need {
    fn level(self) -> u32 {
        match self {
            Need::Login => 0,
            Need::Read => PERM_R,
            Need::Write => PERM_RW,
            Need::Admin => PERM_ADMIN,
            Need::SysAdmin => PERM_SYSADMIN,
        }
    }
}

struct Token {
    user: String,
    db: Option<String>,
}

/// An interactive SQL transaction of a session.
pub struct OpenTx {
    /// The transaction id NewTx returned: random, 32 hex digits.
    pub id: String,
    /// The database it runs on, held open until it ends.
    pub db: Arc<Database>,
    /// The SQL session inside `BEGIN TRANSACTION`, where its statements run.
    pub sql: SqlSession<'static>,
    /// Opened in read-only mode: TxSQLExec is refused.
    pub read_only: bool,
    /// What its statements wrote so far, for the rows and keys its commit reports.
    pub done: Vec<stele_sql::Output>,
}

/// A session opened by OpenSession: a user bound to one database until it closes or expires.
pub struct Session {
    /// The session id the client sends as `sessionid` metadata: random, 32 hex digits.
    pub id: String,
    /// Name of the user who opened it.
    pub user: String,
    /// The database it is bound to, fixed when it opens.
    pub db: String,
    last_seen: Mutex<Instant>,
    /// The session's open transaction; locked by the call that uses it.
    pub tx: Mutex<Option<OpenTx>>,
}

/// The caller of one call, once authenticated.
#[derive(Clone)]
pub struct Caller {
    /// The calling user, as the registry holds it now.
    pub user: User,
    /// The database the token or session selected; `None` for a token that selected none yet.
    pub db: Option<String>,
    /// The caller's token in token mode; `None` in session mode.
    pub token: Option<String>,
    /// The caller's session in session mode; `None` in token mode.
    pub session: Option<Arc<Session>>,
}

impl Caller {
    /// Whether the caller is the superuser.
    pub fn is_sysadmin(&self) -> bool {
        self.user.sysadmin
    }

    /// The selected database, with at least the permission `need`.
    pub fn database(&self, registry: &Registry, need: Need) -> Result<Arc<Database>> {
        let name = self
            .db
            .as_deref()
            .ok_or_else(|| ServerError::invalid("please select a database first"))?;
        self.check(name, need)?;
        if need >= Need::Write && registry.is_owned(name) {
            return Err(ServerError::denied(format!(
                "database {name} is written only through its service (the DCB event store): the immudb API reads it"
            )));
        }
        registry.get(name)
    }

    /// Fails unless the caller has permission `need` on database `db`.
    pub fn check(&self, db: &str, need: Need) -> Result<()> {
        if self.user.permission(db) < need.level() {
            return Err(ServerError::denied(format!(
                "user {} does not have the permission to do this on database {db}",
                self.user.name
            )));
        }
        Ok(())
    }
}

/// The server's live tokens and sessions, in memory only.
#[derive(Default)]
pub struct Auth {
    tokens: Mutex<HashMap<String, Token>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

/// A fresh random 128-bit id as 32 hex digits (tokens, session and transaction ids, the
/// server uuid).
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source failed");
    hex::encode(b)
}

fn header<'a>(md: &'a MetadataMap, name: &str) -> Option<&'a str> {
    md.get(name).and_then(|v| v.to_str().ok())
}

impl Auth {
    /// Issues a token for `user`, with `db` selected (`None`: none yet).
    pub fn new_token(&self, user: &str, db: Option<String>) -> String {
        let t = random_id();
        self.tokens.lock().insert(
            t.clone(),
            Token {
                user: user.to_string(),
                db,
            },
        );
        t
    }

    /// Ends a token. Only the caller's own: other clients logged in as the same user go on.
    pub fn logout(&self, token: &str) {
        self.tokens.lock().remove(token);
    }

    /// Opens a session of `user` bound to database `db`.
    pub fn open_session(&self, user: &str, db: String) -> Arc<Session> {
        let s = Arc::new(Session {
            id: random_id(),
            user: user.to_string(),
            db,
            last_seen: Mutex::new(Instant::now()),
            tx: Mutex::new(None),
        });
        self.sessions.lock().insert(s.id.clone(), s.clone());
        s
    }

    /// Closes session `id`, dropping its open transaction; `NotFound` if there is none.
    pub fn close_session(&self, id: &str) -> Result<()> {
        self.sessions
            .lock()
            .remove(id)
            .map(|_| ())
            .ok_or_else(|| ServerError::NotFound("session not found".into()))
    }

    /// Closes sessions idle for longer than `idle` (their transactions are dropped).
    pub fn expire_sessions(&self, idle: Duration) -> usize {
        let mut sessions = self.sessions.lock();
        let before = sessions.len();
        sessions.retain(|_, s| s.last_seen.lock().elapsed() < idle);
        before - sessions.len()
    }

    /// Authenticates a call from its metadata.
    pub fn caller(&self, registry: &Registry, md: &MetadataMap) -> Result<Caller> {
        let (user, db, token, session) = if let Some(id) = header(md, "sessionid") {
            let s = self
                .sessions
                .lock()
                .get(id)
                .cloned()
                .ok_or_else(|| ServerError::Unauthenticated("session not found".into()))?;
            *s.last_seen.lock() = Instant::now();
            (s.user.clone(), Some(s.db.clone()), None, Some(s))
        } else if let Some(auth) = header(md, "authorization") {
            let token = auth.strip_prefix("Bearer ").unwrap_or(auth).trim();
            let tokens = self.tokens.lock();
            let t = tokens
                .get(token)
                .ok_or_else(|| ServerError::Unauthenticated("invalid token".into()))?;
            (t.user.clone(), t.db.clone(), Some(token.to_string()), None)
        } else {
            return Err(ServerError::Unauthenticated("Please login".into()));
        };
        let user = registry
            .user(&user)
            .ok_or_else(|| ServerError::Unauthenticated("invalid token".into()))?;
        if !user.active {
            return Err(ServerError::Unauthenticated("user is not active".into()));
        }
        Ok(Caller {
            user,
            db,
            token,
            session,
        })
    }

    /// Points the caller's token at `db` and returns it.
    pub fn use_database(&self, token: &str, db: &str) -> Result<String> {
        let mut tokens = self.tokens.lock();
        let t = tokens
            .get_mut(token)
            .ok_or_else(|| ServerError::Unauthenticated("invalid token".into()))?;
        t.db = Some(db.to_string());
        Ok(token.to_string())
    }
}
