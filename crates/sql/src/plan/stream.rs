//! Streamed scans: committed rows of key ranges handed to DataFusion a batch at a time, as
//! they are read.
//!
//! A partition reads its key ranges in order, one batch of up to [`BATCH_ROWS`] rows per poll,
//! straight from the ledger's iterator into Arrow; the next batch seeks past the last key of the
//! one before. Nothing is read before DataFusion asks, and nothing after it stops asking (a
//! LIMIT met, a dropped stream). Every read is at the snapshot's tx range, so rows committed
//! while the query runs are never seen.
//!
//! Invariants: a partition's rows come in key order; partitions cover disjoint key ranges.
//! Not here: a transaction's own uncommitted writes (those scans are read whole, `provider`),
//! and the column cache's fill (a whole table, read at once).

use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;
use datafusion::physical_plan::SendableRecordBatchStream;

use crate::plan::errors::external;
use crate::store::catalog::Table;
use crate::store::{KeyRange, SqlStore, TxRange, BATCH_ROWS};

/// One partition of a streamed scan.
#[derive(Debug, Clone)]
pub(crate) struct ScanPartition {
    pub(crate) store: Arc<SqlStore>,
    pub(crate) table: Table,
    /// Which versions are read.
    pub(crate) range: TxRange,
    /// The key ranges read, in key order.
    pub(crate) keys: Vec<KeyRange>,
    /// At most this many rows (0: all).
    pub(crate) limit: usize,
    /// Positions among the table's live columns.
    pub(crate) projection: Vec<usize>,
    /// The table's full schema, and the projected one the batches have.
    pub(crate) table_schema: SchemaRef,
    pub(crate) projected: SchemaRef,
}

/// Where a partition's reading stands.
struct Cursor {
    part: Arc<ScanPartition>,
    /// Index of the key range being read.
    at: usize,
    /// The last key read in it, to resume after.
    after: Option<Vec<u8>>,
    /// Rows still to return (`usize::MAX`: no limit).
    left: usize,
}

impl Cursor {
    /// The next non-empty batch, `None` at the end.
    fn next_batch(&mut self) -> crate::error::Result<Option<RecordBatch>> {
        let p = &self.part;
        while self.at < p.keys.len() && self.left > 0 {
            let (batch, resume) = p.store.read_chunk(
                &p.table,
                p.range,
                &p.keys[self.at],
                self.after.as_deref(),
                BATCH_ROWS.min(self.left),
                &p.projection,
                &p.table_schema,
            )?;
            match resume {
                Some(k) => self.after = Some(k),
                None => {
                    self.at += 1;
                    self.after = None;
                }
            }
            if let Some(b) = batch.filter(|b| b.num_rows() > 0) {
                self.left -= b.num_rows();
                return Ok(Some(b));
            }
        }
        Ok(None)
    }
}

impl PartitionStream for ScanPartition {
    fn schema(&self) -> &SchemaRef {
        &self.projected
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let part = Arc::new(self.clone());
        let cursor = Cursor {
            left: match part.limit {
                0 => usize::MAX,
                n => n,
            },
            part,
            at: 0,
            after: None,
        };
        // Each poll reads one batch on the polling thread: the read is CPU work over RocksDB's
        // blocks, like any operator's.
        let batches = futures::stream::unfold(Some(cursor), |cursor| async move {
            let mut cursor = cursor?;
            match cursor.next_batch() {
                Ok(Some(b)) => Some((Ok(b), Some(cursor))),
                Ok(None) => None,
                Err(e) => Some((Err(external(e)), None)),
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(
            self.projected.clone(),
            batches,
        ))
    }
}

/// Key ranges dealt into at most `n` partitions of contiguous ranges, in key order.
pub(crate) fn deal(ranges: Vec<KeyRange>, n: usize) -> Vec<Vec<KeyRange>> {
    let n = n.clamp(1, ranges.len().max(1));
    let per = ranges.len().div_ceil(n).max(1);
    let mut parts: Vec<Vec<KeyRange>> = ranges.chunks(per).map(|c| c.to_vec()).collect();
    if parts.is_empty() {
        parts.push(Vec::new());
    }
    parts
}
