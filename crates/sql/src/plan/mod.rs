//! # plan: classic immudb semantics on DataFusion, and access paths
//!
//! A query's statement is rewritten to classic semantics (`semantics`), its tables registered
//! as providers pinned to a snapshot or a period's tx range (`provider`), planned by DataFusion
//! (`query`), and each scan reaches its rows by the access path its pushed filters allow
//! (`access`): primary-key points and ranges, secondary-index equalities and ranges, or the
//! whole table. A provider reports `Exact` only for filters its access path applies exactly.
//!
//! Invariants: planning writes nothing; what a scan of the current state read is recorded as
//! key spans, for the commit's conflict checks. What it does not do: run statements (exec).
//!
//! - `semantics`: classic's rewrites; `functions`: immudb's functions as DataFusion UDFs;
//! - `access`, `provider`, `catalog_functions`, `events`: what tables and table functions read;
//!   `stream`: committed rows handed to DataFusion a batch at a time, as they are read;
//! - `query`: the [`Planner`](query::Planner), which registers a provider for each source the
//!   bound statement carries (`bind/sources.rs`); `period`: periods to tx ranges; `hints`:
//!   `USE INDEX` orders;
//! - `check`: CHECK constraints evaluated over rows; `errors`: DataFusion's errors in immudb's
//!   words.

pub mod access;
pub(crate) mod catalog_functions;
pub(crate) mod check;
pub(crate) mod errors;
pub(crate) mod events;
pub(crate) mod functions;
pub(crate) mod hints;
pub(crate) mod period;
pub(crate) mod provider;
pub(crate) mod query;
pub(crate) mod semantics;
pub(crate) mod stream;
