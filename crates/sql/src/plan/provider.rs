//! The ledger's tables as DataFusion sees them: a provider pinned to a snapshot (plus a
//! transaction's own writes), a tx range, or every version, that chooses an access path from
//! the filters pushed to it and records what it read.

use crate::error::Result;
use crate::plan::access::{self, Access};
use crate::plan::errors::{df_err, external};
use crate::plan::stream::{self, CopyPartition, ScanPartition};
use crate::store::arrow::rows_to_batch;
use crate::store::catalog::Table;
use crate::store::{CopyRead, KeyRange, Row, SqlStore, TxRange, WriteSet};
use crate::types::{SqlType, Value};
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;
use stele_ledger::proof::TxId;
use stele_ledger::KeySpan;

/// What a statement's scans did, in planning order: their access paths (for EXPLAIN) and the
/// key spans of the current state they read (for the transaction's phantom checks).
#[derive(Debug, Default)]
pub(crate) struct Scans {
    /// One line per scan: its access path and snapshot.
    pub(crate) lines: Vec<String>,
    /// Row-key spans of the current state read.
    pub(crate) reads: Vec<KeySpan>,
    /// Secondary-index spans of the current state read.
    pub(crate) index_reads: Vec<KeySpan>,
    /// Row keys read through a secondary index: each row read is guarded as a point read.
    pub(crate) row_keys: Vec<Vec<u8>>,
}

pub(crate) type ScanLog = Arc<parking_lot::Mutex<Scans>>;

/// Which rows a table reference reads.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// The current state as a transaction sees it (its snapshot plus its own writes).
    Current(Arc<WriteSet>),
    /// Committed versions over a tx range (time travel).
    Range(TxRange),
    /// Every committed version of every row, with `_rev` (HISTORY OF).
    History(TxId),
}

/// A table as DataFusion sees it.
#[derive(Debug)]
pub(crate) struct LedgerTable {
    pub(crate) store: Arc<SqlStore>,
    pub(crate) table: Table,
    pub(crate) source: Source,
    pub(crate) schema: SchemaRef,
    /// One line per scan planned (which access path and which snapshot), and what it read.
    pub(crate) log: ScanLog,
}

impl LedgerTable {
    pub(crate) fn snapshot_text(&self) -> String {
        match &self.source {
            Source::Current(ws) if ws.is_empty() => format!("snapshot tx {}", ws.snapshot),
            Source::Current(ws) => {
                format!("snapshot tx {} + {} pending writes", ws.snapshot, ws.len())
            }
            Source::Range(r) => format!("tx range [{}, {}]", r.from, r.until),
            Source::History(s) => format!("every version up to tx {s}"),
        }
    }
}

#[async_trait]
impl TableProvider for LedgerTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        let access = self.access(filters);
        Ok((0..filters.len())
            .map(|i| {
                if access.used().contains(&i) || access::always_true(&self.table, filters[i]) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let filter_refs: Vec<&Expr> = filters.iter().collect();
        let access = self.access(&filter_refs);
        // DataFusion passes every filter some call of `supports_filters_pushdown` called
        // `Exact`; it asks more than once, with fewer filters each time, so a filter may have
        // been exact for an access path other than the one all of them choose. Those the
        // chosen path does not apply are applied here, over all columns, before the
        // projection and the limit.
        let leftover: Vec<Expr> = filters
            .iter()
            .enumerate()
            .filter(|(i, f)| !access.used().contains(i) && !access::always_true(&self.table, f))
            .map(|(_, f)| f.clone())
            .collect();
        if leftover.is_empty() {
            return self.scan_with(state, projection, access, limit.unwrap_or(0));
        }
        let all = self.scan_with(state, None, access, 0)?;
        let unqualified = |e: Expr| {
            use datafusion::common::tree_node::{Transformed, TreeNode};
            e.transform(|e| {
                Ok(match e {
                    Expr::Column(c) => Transformed::yes(Expr::Column(
                        datafusion::common::Column::new_unqualified(c.name),
                    )),
                    other => Transformed::no(other),
                })
            })
            .map(|t| t.data)
        };
        let predicate = leftover
            .into_iter()
            .map(unqualified)
            .collect::<datafusion::common::Result<Vec<_>>>()?
            .into_iter()
            .reduce(Expr::and)
            .expect("leftover filters");
        let df_schema = datafusion::common::DFSchema::try_from(self.schema.as_ref().clone())?;
        let predicate = state.create_physical_expr(predicate, &df_schema)?;
        let mut plan: Arc<dyn ExecutionPlan> = Arc::new(
            datafusion::physical_plan::filter::FilterExec::try_new(predicate, all)?,
        );
        if let Some(p) = projection {
            use datafusion::physical_expr::expressions::Column;
            use datafusion::physical_expr::PhysicalExpr;
            let exprs = p.iter().map(|&i| {
                let name = self.schema.field(i).name().clone();
                (
                    Arc::new(Column::new(&name, i)) as Arc<dyn PhysicalExpr>,
                    name,
                )
            });
            plan = Arc::new(
                datafusion::physical_plan::projection::ProjectionExec::try_new(exprs, plan)?,
            );
        }
        if let Some(n) = limit {
            plan = Arc::new(datafusion::physical_plan::limit::GlobalLimitExec::new(
                Arc::new(
                    datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec::new(
                        plan,
                    ),
                ),
                0,
                Some(n),
            ));
        }
        Ok(plan)
    }
}

impl LedgerTable {
    /// The scan of `access`'s rows (at most `limit`, 0: all), projected.
    fn scan_with(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        access: Access,
        limit: usize,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        // One partition, in key order, when the query must see rows in key order (see `plan`).
        let single = state.config().target_partitions() == 1;
        {
            let mut log = self.log.lock();
            log.lines.push(format!(
                "LedgerScan {}: {} at {}",
                self.table.name,
                access.describe(&self.table.name),
                self.snapshot_text()
            ));
            // The current state's rows this scan depends on: its primary-key ranges, else the
            // whole table. A commit fails if another tx wrote there since the snapshot.
            if let Source::Current(_) = self.source {
                let prefix = crate::store::encoding::row_prefix(self.table.id);
                match &access {
                    Access::Primary(p) => log.reads.extend(p.ranges.iter().map(|r| KeySpan {
                        prefix: prefix.clone(),
                        lo: r.lo.clone(),
                        hi: r.hi.clone(),
                    })),
                    // Through an index: its spans (rows entering or leaving them), and each
                    // row read as a point (recorded by `read`).
                    Access::Secondary(index, _, p) => {
                        let prefix =
                            crate::store::encoding::index_entry_prefix(self.table.id, index.id);
                        log.index_reads.extend(p.ranges.iter().map(|r| KeySpan {
                            prefix: prefix.clone(),
                            lo: r.lo.clone(),
                            hi: r.hi.clone(),
                        }))
                    }
                    _ => log.reads.push(KeySpan {
                        prefix,
                        lo: None,
                        hi: None,
                    }),
                }
            }
        }
        // Committed rows over key ranges decode straight into Arrow, in partitions.
        let committed = match &self.source {
            Source::Current(ws) if ws.is_empty() => Some(TxRange {
                from: 1,
                until: ws.snapshot,
            }),
            Source::Range(r) => Some(*r),
            _ => None,
        };
        let ranges = match &access {
            Access::Full => Some(vec![KeyRange::default()]),
            Access::Primary(p) if p.points.is_none() => Some(p.ranges.clone()),
            _ => None,
        };
        if let (Some(range), Some(ranges)) = (committed, ranges) {
            let all: Vec<usize> = (0..self.table.columns.len()).collect();
            let projection = projection.unwrap_or(&all);
            let projected = Arc::new(self.schema.project(projection)?);
            if matches!(self.source, Source::Current(_)) && limit == 0 {
                match self.cached(&access, &ranges, range.until, projection, single) {
                    Some(Cached::Batches(batches)) => {
                        let batches = batches.map_err(external)?;
                        return Ok(MemorySourceConfig::try_new_exec(&batches, projected, None)?);
                    }
                    Some(Cached::Copy(reads)) => {
                        let partitions = reads
                            .into_iter()
                            .enumerate()
                            .map(|(i, read)| {
                                let keys =
                                    read.key_ranges(&self.table, &ranges).map_err(external)?;
                                let p = CopyPartition {
                                    read: Arc::new(read),
                                    ahead: Default::default(),
                                    fallback: ScanPartition {
                                        store: self.store.clone(),
                                        table: self.table.clone(),
                                        range,
                                        keys,
                                        limit: 0,
                                        projection: projection.clone(),
                                        table_schema: self.schema.clone(),
                                        projected: projected.clone(),
                                    },
                                };
                                // The first run is read while the query's planning goes on; the
                                // others when executed, side by side with it.
                                if i == 0 {
                                    p.read_ahead();
                                }
                                Ok(Arc::new(p) as Arc<dyn PartitionStream>)
                            })
                            .collect::<datafusion::common::Result<Vec<_>>>()?;
                        return Ok(Arc::new(StreamingTableExec::try_new(
                            projected,
                            partitions,
                            None,
                            Vec::new(),
                            false,
                            None,
                        )?));
                    }
                    None => {}
                }
            }
            // Streamed: one partition in key order (a LIMIT, or rows wanted in key order),
            // else two reading halves of the ranges side by side.
            let partitions: Vec<Vec<KeyRange>> = if single || limit > 0 {
                vec![ranges]
            } else if let [keys] = ranges.as_slice() {
                let halves = self.store.split_keys(&self.table, range.until, keys, 2);
                halves
                    .map_err(external)?
                    .into_iter()
                    .map(|h| vec![h])
                    .collect()
            } else {
                stream::deal(ranges, 2)
            };
            let streams = partitions
                .into_iter()
                .map(|keys| {
                    Arc::new(ScanPartition {
                        store: self.store.clone(),
                        table: self.table.clone(),
                        range,
                        keys,
                        limit,
                        projection: projection.clone(),
                        table_schema: self.schema.clone(),
                        projected: projected.clone(),
                    }) as Arc<dyn PartitionStream>
                })
                .collect();
            return Ok(Arc::new(StreamingTableExec::try_new(
                projected,
                streams,
                None,
                Vec::new(),
                false,
                (limit > 0).then_some(limit),
            )?));
        }
        let rows = self.read(access, limit).map_err(external)?;
        let types: Vec<SqlType> = match self.source {
            Source::History(_) => std::iter::once(SqlType::Integer)
                .chain(self.table.columns.iter().map(|c| c.ty))
                .collect(),
            _ => self.table.columns.iter().map(|c| c.ty).collect(),
        };
        let batch = rows_to_batch(&types, &self.schema, rows.iter().map(|r| &r.values))
            .map_err(external)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

/// What the column cache answers a scan with.
pub(crate) enum Cached {
    /// Rows in memory (or just read whole into it), as batches of each partition.
    Batches(Result<Vec<Vec<RecordBatch>>>),
    /// Runs of a current column copy's batches, one a partition, not yet read.
    Copy(Vec<CopyRead>),
}

/// `batches` dealt to `parts` partitions as contiguous runs, so that partitions read one after
/// the other are in key order.
fn contiguous(batches: Vec<RecordBatch>, parts: usize) -> Vec<Vec<RecordBatch>> {
    let mut out = vec![Vec::new(); parts];
    let per = batches.len().div_ceil(parts).max(1);
    for (i, b) in batches.into_iter().enumerate() {
        out[i / per].push(b);
    }
    out
}

impl LedgerTable {
    /// Batches of the projected columns from the column cache, as two partitions (one if
    /// `single`): the cached rows if they are current, or after reading and caching the whole
    /// table for a full scan.
    /// `None` when the cache cannot answer (a key range it cannot slice).
    pub(crate) fn cached(
        &self,
        access: &Access,
        ranges: &[KeyRange],
        snapshot: TxId,
        projection: &[usize],
        single: bool,
    ) -> Option<Cached> {
        let (t, store) = (&self.table, &self.store);
        let cache = store.cache();
        let parts = if single { 1 } else { 2 };
        let batches: Vec<RecordBatch> = match cache.get(store.ledger(), t, snapshot) {
            Some(c) => match access {
                Access::Full => c.batches.clone(),
                _ => ranges
                    .iter()
                    .map(|r| c.slice(t, r))
                    .collect::<Option<Vec<_>>>()?
                    .into_iter()
                    .flatten()
                    .collect(),
            },
            None if matches!(access, Access::Full) => {
                if let Err(e) = cache.watch(store.ledger(), t) {
                    return Some(Cached::Batches(Err(e)));
                }
                match cache.load_copy(store.ledger(), store.reader(), t, snapshot, &self.schema) {
                    Some(batches) => batches,
                    None => {
                        let batches = match store.table_batches(t, snapshot, &self.schema) {
                            Ok(b) => b,
                            Err(e) => return Some(Cached::Batches(Err(e))),
                        };
                        cache.put_and_copy(t, snapshot, batches.clone());
                        batches
                    }
                }
            }
            // Not in memory: the key ranges' chunks of a current column copy, if there is one,
            // read when the plan runs.
            None => {
                let reads = cache.copy_reads(store.ledger(), t, snapshot, ranges, parts)?;
                return Some(Cached::Copy(reads));
            }
        };
        let projected = batches
            .iter()
            .map(|b| b.project(projection))
            .collect::<Result<Vec<_>, _>>();
        Some(Cached::Batches(match projected {
            Ok(p) => Ok(contiguous(p, parts)),
            Err(e) => Err(df_err(e)),
        }))
    }

    pub(crate) fn access(&self, filters: &[&Expr]) -> Access {
        match self.source {
            Source::History(_) => Access::Full,
            _ => access::choose(&self.table, filters),
        }
    }

    /// The rows an access path reaches in this table's source (at most `limit`, 0: all).
    pub(crate) fn read(&self, access: Access, limit: usize) -> Result<Vec<Row>> {
        let t = &self.table;
        let store = &self.store;
        let mut rows = match (&self.source, access) {
            (Source::History(s), _) => {
                let mut rows = store.history(t, *s)?;
                for r in &mut rows {
                    r.values.insert(0, Value::Integer(r.revision as i64));
                }
                return Ok(rows);
            }
            (_, Access::Full) => self.read_range(&KeyRange::default(), limit)?,
            (source, Access::Primary(plan)) => match plan.points {
                Some(keys) => match source {
                    Source::Current(ws) => store.rows_by_keys_in(t, &keys, ws)?,
                    Source::Range(r) => store.rows_by_keys(t, &keys, *r)?,
                    Source::History(_) => unreachable!("history reads every version"),
                },
                None => {
                    let mut rows = Vec::new();
                    for r in &plan.ranges {
                        rows.extend(self.read_range(r, limit)?);
                    }
                    rows
                }
            },
            (source, Access::Secondary(index, _, plan)) => {
                let (snapshot, ws) = match source {
                    Source::Current(ws) => (ws.snapshot, Some(ws.as_ref())),
                    Source::Range(r) => (r.until, None),
                    Source::History(_) => unreachable!("history reads every version"),
                };
                // Rows come in primary-key order whatever the index (classic's order without
                // ORDER BY, which a LIMIT or OFFSET cuts): row keys sort as their keys do.
                let mut keys = store.index_row_keys(t, &index, &plan.ranges, snapshot, ws)?;
                keys.sort_unstable();
                keys.dedup();
                match source {
                    Source::Current(ws) => {
                        let rows = store.rows_by_keys_in(t, &keys, ws)?;
                        self.log.lock().row_keys.extend(keys);
                        rows
                    }
                    Source::Range(r) => store.rows_by_keys(t, &keys, *r)?,
                    Source::History(_) => unreachable!("history reads every version"),
                }
            }
        };
        if limit > 0 {
            rows.truncate(limit);
        }
        Ok(rows)
    }

    pub(crate) fn read_range(&self, keys: &KeyRange, limit: usize) -> Result<Vec<Row>> {
        match &self.source {
            Source::Current(ws) => self.store.scan_keys_in(&self.table, keys, limit, Some(ws)),
            Source::Range(r) => self.store.scan_keys(&self.table, *r, keys, limit),
            Source::History(_) => unreachable!("history reads every version"),
        }
    }
}
