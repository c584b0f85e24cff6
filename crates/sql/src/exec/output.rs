//! What statements answer: result columns, rows (streamed batch by batch), write outcomes.

use crate::error::Result;
use crate::plan::errors::df_err;
use crate::store::WriteOutcome;
use crate::types::{Rows, SqlType};
use std::sync::Arc;
use stele_ledger::proof::TxHeader;

/// A result column: its name and type (`None` where a column has no SQL type, as `SELECT NULL`),
/// and the selector immudb names it by on the wire (spec immudb-wire.md 5.2): `(table.col)` for
/// a column of a table (or sub-query) `table`, `(table.alias)` for an aliased value, and
/// `(table.colN)` for an unaliased computed value at 0-based position N, `table` being the
/// query's first data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDesc {
    /// The column's name in the result: the column's own, its alias, or `colN`.
    pub name: String,
    /// Its SQL type; `None` when it has none.
    pub ty: Option<SqlType>,
    /// immudb's selector of the column: `(table.name)`.
    pub selector: String,
}

impl ColumnDesc {
    /// A column `name` of `table`.
    pub(crate) fn of(table: &str, name: &str, ty: Option<SqlType>) -> ColumnDesc {
        ColumnDesc {
            name: name.to_string(),
            ty,
            selector: format!("({table}.{name})"),
        }
    }
}

/// What one statement answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A query's columns (names and types) and rows.
    Rows {
        /// The result's columns, in order.
        columns: Vec<ColumnDesc>,
        /// Every row, each a value per column.
        rows: Rows,
    },
    /// A statement that writes (or would): the tx it committed, if any, and the rows it changed.
    Done(WriteOutcome),
}

/// A whole query result: its columns and every row.
pub(crate) type Answer = (Vec<ColumnDesc>, Rows);

/// A query's result: its columns, then its rows batch by batch as execution produces them
/// (the whole result is never held unless the caller keeps it). Reads the snapshot the query
/// was planned at, whatever is committed meanwhile.
pub struct RowStream {
    pub(crate) runtime: Arc<tokio::runtime::Runtime>,
    pub(crate) columns: Vec<ColumnDesc>,
    pub(crate) rows: Batches,
    /// A UNION's rows seen so far: later copies are dropped, so the first occurrences come
    /// out in the order the branches produce them (classic's order).
    pub(crate) distinct: Option<std::collections::HashSet<String>>,
    /// Rows still to skip and to return (a set operation's OFFSET and LIMIT, applied here,
    /// after `distinct`, so that they cut rows in the branches' order).
    pub(crate) skip: usize,
    pub(crate) take: Option<usize>,
}

/// Where a [`RowStream`]'s rows come from.
pub(crate) enum Batches {
    /// Computed without DataFusion (a point select): one batch.
    Ready(Option<Rows>),
    Stream(datafusion::physical_plan::SendableRecordBatchStream),
}

impl RowStream {
    /// The result's column names and SQL types.
    pub fn columns(&self) -> &[ColumnDesc] {
        &self.columns
    }

    /// The next batch of rows; `None` at the end. Batches are never empty.
    pub fn next_batch(&mut self) -> Result<Option<Rows>> {
        use futures::StreamExt;
        let stream = match &mut self.rows {
            Batches::Ready(rows) => return Ok(rows.take().filter(|r| !r.is_empty())),
            Batches::Stream(s) => s,
        };
        loop {
            if self.take == Some(0) {
                return Ok(None);
            }
            let Some(batch) = self.runtime.block_on(stream.next()) else {
                return Ok(None);
            };
            let b = batch.map_err(df_err)?;
            if b.num_rows() == 0 {
                continue;
            }
            let mut rows = crate::store::arrow::batch_rows(&b)?;
            if let Some(seen) = &mut self.distinct {
                // Debug text tells values of different types apart.
                rows.retain(|row| seen.insert(format!("{row:?}")));
            }
            let skipped = self.skip.min(rows.len());
            rows.skip(skipped);
            self.skip -= skipped;
            if let Some(take) = &mut self.take {
                rows.truncate(*take);
                *take -= rows.len();
            }
            if rows.is_empty() {
                continue;
            }
            return Ok(Some(rows));
        }
    }
}

impl Iterator for RowStream {
    type Item = Result<Rows>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

/// What a request did: each statement's output, the txs it committed, and whether an explicit
/// transaction is still open.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecResult {
    /// One output per statement that ran (not BEGIN, COMMIT or ROLLBACK), in request order.
    pub outputs: Vec<Output>,
    /// The headers of the txs the request committed, in commit order.
    pub committed: Vec<TxHeader>,
    /// Whether an explicit transaction (BEGIN without COMMIT) is open after the request.
    pub in_transaction: bool,
}
