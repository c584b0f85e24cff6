//! sqllogictest files on an embedded database: [`stele_slt`]'s runner over a session of a fresh
//! [`Engine`] in a temporary directory, with this crate's rendering of values.
//!
//! Values render as: INTEGER decimal, FLOAT shortest round-trip, BOOLEAN true/false, NULL
//! `NULL`, empty VARCHAR `(empty)`, TIMESTAMP `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC), BLOB
//! lowercase hex, UUID canonical text, JSON as stored. A remote run renders the wire's values
//! the same way (`stele_slt`'s helpers), so both give the same results.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use stele_ledger::{Ledger, Options};
pub use stele_slt::Report;

use crate::exec::{Engine, Output, SqlSession};
pub use crate::types::render;

/// One session of an embedded database, as the runner sees it.
struct Embedded {
    session: SqlSession<'static>,
    // Dropped after the session: the database lives in this directory.
    _dir: tempfile::TempDir,
}

impl stele_slt::Database for Embedded {
    fn run(&mut self, sql: &str) -> Result<Option<Vec<Vec<String>>>, String> {
        let outputs = self
            .session
            .execute(sql, &HashMap::new())
            .map_err(|e| e.to_string())?
            .outputs;
        Ok(match outputs.into_iter().last() {
            Some(Output::Rows { rows, .. }) => Some(
                rows.iter()
                    .map(|r| r.iter().map(render).collect())
                    .collect(),
            ),
            _ => None,
        })
    }
}

/// Runs one file against a fresh database in a temporary directory (with `complete`, rewrites
/// its expectations with the answers: see [`stele_slt::complete_script`]).
pub fn run_file(path: &Path, labels: &[String], complete: bool) -> Report {
    stele_slt::run_file(path, labels, complete, || {
        let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
        let ledger =
            Ledger::open(dir.path().join("db"), Options::default()).map_err(|e| e.to_string())?;
        let engine = Engine::new(Arc::new(ledger)).map_err(|e| e.to_string())?;
        Ok(Embedded {
            session: SqlSession::shared(Arc::new(engine)),
            _dir: dir,
        })
    })
}
