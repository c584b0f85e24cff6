//! # bind: statements bound to their parameters and to the store's terms
//!
//! Between the parser and the planner: a request's statements with their parameters bound as
//! typed values (a parameterised INSERT fills rows of values; nothing is substituted as SQL
//! text), and DDL bound to the store's specs. Parsed templates are cached by text, so a
//! statement run many times is parsed once.
//!
//! Invariants: binding never plans or reads rows; names are folded to lower case here once.
//!
//! - `statement`: [`statement::Bound`], each statement in our own terms, what exec runs;
//! - `select`: queries built as syntax trees (UPDATE's and DELETE's rows, computed values);
//! - `request`: a request's steps, the template cache, prepared INSERTs;
//! - `ddl`: `CREATE TABLE` and column definitions as [`crate::store::TableSpec`];
//! - `values`: object names and constant literals.

pub(crate) mod ddl;
pub(crate) mod request;
pub(crate) mod select;
pub(crate) mod statement;
pub(crate) mod values;
