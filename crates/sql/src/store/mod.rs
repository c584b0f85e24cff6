//! # store: tables, rows and indexes as ledger entries
//!
//! The bottom layer: DDL and row writes as ledger transactions, and row reads at a snapshot or
//! over a tx range, in immudb's byte layout. It knows nothing of SQL text or of DataFusion's
//! plans: the layers above hand it table specs, rows of values and key ranges, and it hands
//! back rows or Arrow batches. CHECK constraints are evaluated through the [`CheckEvaluator`]
//! the engine gives it.
//!
//! Invariants:
//! - one call that writes is one ledger tx; a call that would change nothing writes no tx;
//! - every row key read or written by a write carries a `KeyNotModifiedAfter(snapshot)`
//!   precondition, so a concurrent change to those rows aborts the commit with `tx read conflict`
//!   and nothing is written; the key spans a transaction's queries read are checked the same way
//!   (phantoms in the ranges it read abort it too);
//! - deletes write the same `R.` key with the old row value and the `deleted` metadata flag;
//! - secondary indexes are derived entries (`M.` keys in the ledger's unhashed `idx` family)
//!   written in the same batch as the rows they index: a row's entry is live from the tx that
//!   gave it those column values until the tx that changed or deleted them. `CREATE INDEX`
//!   back-fills every committed version with its own tx id, so time travel can use the index;
//! - a transaction that writes rows aborts if DDL committed after its snapshot, and `CREATE
//!   INDEX` aborts if rows of its table were written after its snapshot (the back-fill would
//!   miss them); a UNIQUE index entry carries an `IndexPrefixFree` precondition.
//!
//! Files, bottom up:
//! - [`encoding`]: catalog keys and values, row keys (order-preserving primary-key encoding)
//!   and row values (NULL by omission);
//! - [`catalog`]: the catalog as of a snapshot tx; ids are never reused;
//! - `pending`: a transaction's pending keys, an ordered map built for ascending appends;
//! - `ranges`: key ranges and tx ranges of reads; `write_set`: a transaction's writes, reads
//!   and guards;
//! - `checks`: CHECK constraints' stored text, and the evaluator the store calls;
//! - [`json`]: the one text form of a JSON value (classic's), stored and returned;
//! - `arrow`: values into Arrow arrays and back; `columnar`: stored rows decoded straight into
//!   Arrow batches; [`cache`]: tables' current rows kept as batches between queries, and
//!   `column_file`: those batches as a column copy on disk, for after a restart;
//! - `handle`: the [`SqlStore`], its catalog reads, begin and commit; `helper`: its reader
//!   thread, which reads parts of a long read beside the caller (kept off the caller's CPU);
//! - `tables` (tables and columns), `index` (secondary indexes), `rows` (row writes), `read`
//!   (row reads and `HISTORY OF`): the store's operations.

pub(crate) mod arrow;
pub mod cache;
pub mod catalog;
pub(crate) mod checks;
mod column_file;
mod columnar;
pub mod encoding;
mod handle;
mod helper;
mod index;
pub mod json;
mod pending;
mod ranges;
mod read;
mod rows;
mod tables;
mod write_set;

pub use arrow::arrow_type;
pub(crate) use cache::CopyRead;
pub use checks::CheckEvaluator;
pub(crate) use columnar::BATCH_ROWS;
pub use handle::SqlStore;
pub(crate) use helper::{side_by_side, Pending};
pub use index::{index_entry_key, MAX_INDEX_COLUMNS, MAX_KEY_LEN};
pub use ranges::{KeyRange, TxRange};
pub use read::Row;
pub use rows::{convert, convert_owned, WriteKind, WriteOutcome};
pub use tables::{ColumnSpec, TableSpec};
pub use write_set::WriteSet;
