//! # stele-client: a client of Stele's immudb API
//!
//! What the `stele` binary uses in remote mode, and what any Rust program can use to talk to a
//! Stele (or immudb 1.9.3) server with proofs checked on its side:
//!
//! - [`connection`]: a session on one database ([`Client`]), the calls' plumbing, keep-alives.
//! - [`kv`]: set, get, delete, history, scan, tx, state.
//! - [`verified`]: verified set, get and tx, and the audit of a range of txs, each checked with
//!   stele-proof against the trusted state of [`trust`], which advances only after a check.
//! - [`sql`]: statements, queries and interactive transactions across requests.
//! - [`admin`]: users, permissions, databases, server status.
//!
//! Invariants: a trusted state is replaced only by one a proof tied to it; an answer that does
//! not parse into proof types is an error, never patched. This crate links neither RocksDB nor
//! DataFusion: stele-proto and stele-proof are its only Stele dependencies.

pub mod admin;
pub mod connection;
mod convert;
mod error;
pub mod kv;
pub mod sql;
pub mod trust;
pub mod verified;

pub use admin::Permission;
pub use connection::{Client, Credentials, ServerAddress};
pub use error::{ClientError, Result};
pub use kv::Version;
pub use stele_proof::State;
pub use stele_proto::immudb as pb;
pub use trust::TrustStore;
pub use verified::{load_server_key, AuditReport};
