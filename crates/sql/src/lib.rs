//! # stele-sql: immudb's SQL dialect over the ledger
//!
//! Tables, columns, indexes and rows are ledger entries under the `0x02` prefix, in immudb's
//! byte layout, so that a row's proof is an ordinary ledger proof that immudb clients check
//! (`VerifiableSQLGet` rebuilds the row key from its primary-key values).
//!
//! Layers, bottom up:
//! - [`types`]: the eight SQL types and their values.
//! - [`encoding`]: catalog keys and values, row keys (order-preserving primary-key encoding) and
//!   row values (NULL by omission).
//! - [`catalog`]: the catalog as of a snapshot tx; ids are never reused.
//! - `pending`: a transaction's pending keys, an ordered map built for ascending appends.
//! - [`store`]: DDL and row writes as ledger transactions (optimistic, with per-row conflict
//!   preconditions), secondary-index entries, row reads at a snapshot or over a tx range, and
//!   `HISTORY OF`.
//! - [`check`]: CHECK constraints, evaluated over the rows a statement writes.
//! - [`cache`]: tables' current rows kept as Arrow batches between queries.
//! - `columnar`: stored rows decoded straight into Arrow batches (projected columns only).
//! - `functions`: immudb's JSON functions (`->`, JSON_TYPEOF) as DataFusion functions.
//! - [`parse`]: immudb's syntax rewritten onto sqlparser (DataFusion's re-export); `semantics`:
//!   classic immudb's semantics as AST rewrites.
//! - [`access`]: access paths (primary or secondary key ranges) chosen from pushed filters.
//! - [`engine`]: statements, sessions and transactions; queries on DataFusion over
//!   snapshot-pinned table providers.
//! - [`slt`]: the sqllogictest runner behind `stele slt`.
//!
//! See `docs/sql.md` for the design and what remains.

pub mod access;
pub mod cache;
pub mod catalog;
pub mod check;
mod columnar;
pub mod encoding;
pub mod engine;
mod error;
mod events;
mod functions;
pub mod parse;
mod pending;
mod semantics;
pub mod slt;
pub mod store;
pub mod types;

pub use engine::{ColumnDesc, Engine, ExecResult, Output, RowStream, SqlSession};
pub use error::{Result, SqlError};
pub use store::{ColumnSpec, Row, SqlStore, TableSpec, TxRange, WriteKind, WriteOutcome, WriteSet};
pub use types::{SqlType, Value};
