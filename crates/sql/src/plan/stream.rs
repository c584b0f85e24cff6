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
//! A key range that a table's current column copy holds is read from the copy instead
//! ([`CopyPartition`]): its run of batches, read ahead while the rest of the query is planned.
//!
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
use crate::store::{CopyRead, KeyRange, Pending, SqlStore, TxRange, BATCH_ROWS};

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

/// One partition of a key-range scan answered by a table's column copy: its run of the copy's
/// batches, read ahead on the store's reader thread when planned so (while planning goes on),
/// else when executed. A read that fails a check forgets the copy, and the partition reads the
/// same rows from the ledger instead (`fallback`: its key ranges cut to this run's keys).
pub(crate) struct CopyPartition {
    pub(crate) read: Arc<CopyRead>,
    pub(crate) ahead: parking_lot::Mutex<Option<Pending<crate::error::Result<Vec<RecordBatch>>>>>,
    pub(crate) fallback: ScanPartition,
}

impl std::fmt::Debug for CopyPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyPartition")
            .field("read", &self.read)
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl CopyPartition {
    /// Starts reading the run on the store's reader thread; `execute` takes the result.
    pub(crate) fn read_ahead(&self) {
        let (read, p) = (self.read.clone(), &self.fallback);
        let (projection, schema) = (p.projection.clone(), p.projected.clone());
        let job = p
            .store
            .reader()
            .run(move || read.read(&projection, &schema));
        *self.ahead.lock() = Some(job);
    }
}

impl PartitionStream for CopyPartition {
    fn schema(&self) -> &SchemaRef {
        &self.fallback.projected
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        use futures::StreamExt;
        let ahead = self.ahead.lock().take();
        let (read, fallback) = (self.read.clone(), self.fallback.clone());
        let batches = futures::stream::once(async move {
            let p = &fallback;
            let got = match ahead {
                Some(job) => job.wait().and_then(|r| r),
                None => read.read(&p.projection, &p.projected),
            };
            match got {
                Ok(batches) => futures::stream::iter(batches.into_iter().map(Ok)).boxed(),
                Err(_) => {
                    p.store.cache().drop_copy(&p.table);
                    fallback.execute(ctx).boxed()
                }
            }
        })
        .flatten();
        Box::pin(RecordBatchStreamAdapter::new(
            self.fallback.projected.clone(),
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
