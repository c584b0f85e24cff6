//! # exec: sessions, transactions and statements run
//!
//! The top layer: an [`Engine`] per database runs requests in [`SqlSession`]s. A request's
//! statements run in one transaction (a [`crate::store::WriteSet`]) unless BEGIN ... COMMIT
//! holds one open across requests; an error inside an explicit transaction cancels it. Writes
//! evaluate their rows (VALUES, a query, UPDATE's assignments) and hand them to the store;
//! queries are planned by [`crate::plan`] and streamed, except point selects, read directly.
//!
//! Invariants: a request that fails writes nothing; a lone query commits nothing; what a
//! transaction's queries read is guarded at its commit.
//!
//! - `engine`: the [`Engine`]; `session`: [`SqlSession`];
//! - `statement`: one statement's dispatch and DDL; `dml`: writes; `query` and `point`: reads;
//! - `output`: result columns, rows and outcomes.

mod dml;
pub(crate) mod engine;
pub(crate) mod output;
mod point;
mod query;
pub(crate) mod session;
mod statement;

pub use engine::{catalog_of, Engine};
pub use output::{ColumnDesc, ExecResult, Output, RowStream};
pub use session::SqlSession;
