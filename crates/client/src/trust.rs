//! Trusted states on this machine: one file per server and database, holding the last state
//! (tx id and Alh) the client verified. A verified call proves the server's answer against it
//! and only then replaces it, so a server that rewrites its history is caught by the next
//! call however long ago the state was saved.
//!
//! Location: `$STELE_STATE_DIR`, else `$XDG_STATE_HOME/stele`, else `~/.local/state/stele`;
//! under it `trusted/<server>/<database>`. The file is text:
//! `stele trusted state 1\ndb <name>\ntx <id>\nalh <64 hex digits>\n`, replaced atomically
//! (written beside, synced, renamed).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use stele_proof::State;

use crate::error::{ClientError, Result};

const MAGIC: &str = "stele trusted state 1";

/// Where trusted states are kept.
#[derive(Debug, Clone)]
pub struct TrustStore {
    dir: PathBuf,
}

impl TrustStore {
    /// The store in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> TrustStore {
        TrustStore { dir: dir.into() }
    }

    /// The user's store (see the module notes), or `None` when no home is known.
    pub fn default_location() -> Option<TrustStore> {
        let var = |n: &str| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("STELE_STATE_DIR")
            .or_else(|| var("XDG_STATE_HOME").map(|d| d.join("stele")))
            .or_else(|| var("HOME").map(|h| h.join(".local/state/stele")))
            .map(TrustStore::at)
    }

    /// The file of `database` on `server`.
    pub fn path(&self, server: &str, database: &str) -> PathBuf {
        let safe = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        self.dir
            .join("trusted")
            .join(safe(server))
            .join(safe(database))
    }

    /// The trusted state of `database` on `server`, or `None` before the first verified call.
    pub fn load(&self, server: &str, database: &str) -> Result<Option<State>> {
        let path = self.path(server, database);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(bad(&path, e)),
        };
        parse(&text, database).map(Some).map_err(|m| bad(&path, m))
    }

    /// Replaces the trusted state of `database` on `server`.
    pub fn save(&self, server: &str, state: &State) -> Result<()> {
        let path = self.path(server, &state.db);
        let dir = path.parent().expect("a file under the store");
        std::fs::create_dir_all(dir).map_err(|e| bad(dir, e))?;
        let text = format!(
            "{MAGIC}\ndb {}\ntx {}\nalh {}\n",
            state.db,
            state.tx_id,
            hex::encode(state.tx_hash)
        );
        let tmp = path.with_extension("new");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| bad(&path, e))
    }

    /// Forgets the trusted state of `database` on `server` (after it was deleted there).
    pub fn forget(&self, server: &str, database: &str) -> Result<()> {
        let path = self.path(server, database);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(bad(&path, e)),
            _ => Ok(()),
        }
    }
}

fn bad(path: &Path, e: impl std::fmt::Display) -> ClientError {
    ClientError::TrustedState {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn parse(text: &str, database: &str) -> Result<State, String> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err("not a trusted state file".into());
    }
    let mut field = |name: &str| -> Result<String, String> {
        lines
            .next()
            .and_then(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .map(str::to_string)
            .ok_or_else(|| format!("no {name} line"))
    };
    let db = field("db")?;
    let tx_id = field("tx")?.parse().map_err(|e| format!("tx: {e}"))?;
    let alh = hex::decode(field("alh")?).map_err(|e| format!("alh: {e}"))?;
    if db != database {
        return Err(format!("holds database {db:?}, not {database:?}"));
    }
    Ok(State {
        db,
        tx_id,
        tx_hash: alh
            .try_into()
            .map_err(|_| "alh is not 32 bytes".to_string())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_loads_back_and_a_damaged_file_is_an_error() {
        let dir = std::env::temp_dir().join(format!("stele-trust-{}", std::process::id()));
        let store = TrustStore::at(&dir);
        assert_eq!(store.load("127.0.0.1:3322", "db1").unwrap(), None);
        let s = State {
            db: "db1".into(),
            tx_id: 42,
            tx_hash: [7; 32],
        };
        store.save("127.0.0.1:3322", &s).unwrap();
        assert_eq!(store.load("127.0.0.1:3322", "db1").unwrap(), Some(s));
        assert_eq!(store.load("127.0.0.1:3323", "db1").unwrap(), None);
        std::fs::write(store.path("127.0.0.1:3322", "db1"), "garbage").unwrap();
        assert!(store.load("127.0.0.1:3322", "db1").is_err());
        store.forget("127.0.0.1:3322", "db1").unwrap();
        assert_eq!(store.load("127.0.0.1:3322", "db1").unwrap(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
