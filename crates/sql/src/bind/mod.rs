//! # bind: statements bound to their parameters and to the store's terms
//!
//! Between the parser and the planner: a request's statements with their parameters bound as
//! typed values (a parameterised INSERT fills rows of values; nothing is substituted as SQL
//! text), and DDL bound to the store's specs. Parsed templates are cached by text, so a
//! statement run many times is parsed once; a plain query's template (no periods, no index
//! hints) is handed on unbound with its parameters (`request::Step::Query`), and bound only
//! when the point-read fast path cannot answer it.
//!
//! Invariants: binding never plans or reads rows; names are folded to lower case here once;
//! every period and `HISTORY OF` of a statement is bound to its reference here, so the stages
//! above see sources, never the parser's periods.
//!
//! - `statement`: [`statement::Bound`], each statement in our own terms, what exec runs; a
//!   query is a [`statement::BoundQuery`]: its syntax tree, its sources and its index hints;
//! - `sources`: table references with a period or `HISTORY OF` bound to sources of their own
//!   (by the location the parser recorded, never by name);
//! - `select`: queries built as syntax trees (UPDATE's and DELETE's rows, computed values);
//! - `request`: a request's steps, the template cache, prepared INSERTs;
//! - `ddl`: `CREATE TABLE` and column definitions as [`crate::store::TableSpec`];
//! - `values`: object names and constant literals.

pub(crate) mod ddl;
pub(crate) mod request;
pub(crate) mod select;
pub(crate) mod sources;
pub(crate) mod statement;
pub(crate) mod values;
