//! # stele-ledger: the verifiable KV log on RocksDB
//!
//! Every write is a transaction of 1..N entries appended to a tamper-evident log. A
//! transaction's entries are hashed into its tree (`eH`), its header is chained to the previous
//! one by the accumulated hash (Alh), and every Alh is appended to the AHT, all exactly as
//! immudb does (see `stele-proof`), so any read can be proven to an immudb client.
//!
//! Invariants:
//! - One RocksDB `WriteBatch` per commit group holds the tx records, every version written and
//!   the new AHT nodes: after a crash a tx is wholly there or not at all. No WAL of our own.
//! - Tx ids are consecutive from 1; header version 1, empty tx metadata, `blTxID = id − 1`.
//! - A commit is acknowledged only after its batch is written (and synced, unless `no_sync`).
//! - Every key keeps every version; no version is ever overwritten or deleted in RocksDB
//!   (only the `rev` family's per-key counters, derived data, are).
//! - A version's revision (1 for a key's first indexable version) is stored with it at
//!   commit, so reads report revisions without counting versions.
//!
//! Layers, bottom up:
//! - [`format`]: the bytes in each column family.
//! - [`ledger`]: open/recover, state, validation and the group-commit pipeline.
//! - `migrate`: bringing a data directory of an older format up to date, once, at open.
//! - `prepare`: validating, hashing and encoding a tx's entries before it is queued.
//! - [`read`]: snapshot reads, history, scans, txs.
//! - [`proofs`]: inclusion and dual proofs from the stored history.
//! - [`audit`]: `verify`, the full recomputation.
//! - [`kv`]: immudb's key/value model (plain values, references, sorted sets, deletes) on
//!   top of raw entries; the SQL and event layers use raw entries under their own prefixes.
//!
//! Not here: networking, users, SQL.

mod audit;
mod error;
pub mod format;
mod input;
pub mod kv;
mod ledger;
mod migrate;
mod prepare;
mod proofs;
mod read;

pub use audit::AuditReport;
pub use error::{LedgerError, Result};
pub use input::{NewEntry, Options};
pub use ledger::{Commit, Committed, IndexEntry, KeySpan, Ledger, Precondition};
pub use proofs::EntryProof;
pub use read::{Entry, HistoryQuery, ScanQuery, Tx, VisitedKey};
/// The RocksDB binding, re-exported so that tools and benchmarks link this one copy.
pub use rocksdb;
pub use stele_proof as proof;
