//! # stele-sql: immudb's SQL dialect over the ledger
//!
//! Tables, columns, indexes and rows are ledger entries under the `0x02` prefix, in immudb's
//! byte layout, so that a row's proof is an ordinary ledger proof that immudb clients check
//! (`VerifiableSQLGet` rebuilds the row key from its primary-key values).
//!
//! Stages, each a folder that imports only the ones below it:
//!
//! ```text
//! parse  ->  bind  ->  plan  ->  exec
//!   immudb's     statements    classic        sessions,
//!   tokens onto  bound to      semantics on   transactions,
//!   sqlparser    parameters    DataFusion,    DML, DDL
//!                and specs     access paths
//!                      \           |           /
//!                       `------- store -------'
//!                  catalog, keys and rows, indexes,
//!                  write sets, the column cache
//! ```
//!
//! - [`types`] and [`SqlError`] are the shared vocabulary: the eight SQL types, their values,
//!   and one error enum.
//! - [`store`]: the bottom layer (ledger entries in immudb's layout).
//! - [`parse`]: immudb's token forms rewritten onto sqlparser (DataFusion's re-export).
//! - `bind`: parameters bound as typed values, DDL bound to store specs, the template cache.
//! - [`plan`]: classic semantics as rewrites, table providers and access paths.
//! - `exec`: the [`Engine`] and its [`SqlSession`]s.
//! - [`slt`]: the sqllogictest runner behind `stele slt` on an embedded engine.
//!
//! `docs/sql.md` walks one query and one write through the stages.

mod bind;
mod error;
mod exec;
pub mod parse;
pub mod plan;
pub mod slt;
pub mod store;
pub mod types;

pub use error::{Result, SqlError};
pub use exec::{catalog_of, ColumnDesc, Engine, ExecResult, Output, RowStream, SqlSession};
pub use store::{
    catalog, encoding, ColumnSpec, Row, SqlStore, TableSpec, TxRange, WriteKind, WriteOutcome,
    WriteSet,
};
pub use types::{Rows, SqlType, Value};
