//! The column cache: a table's current rows, decoded into Arrow batches, kept between queries.
//!
//! A full scan of a table at the current state leaves its batches here (every column, in
//! primary-key order). A later scan of the same table reuses them while they are still the
//! table's rows at its snapshot: the ledger tracks the last tx that wrote under the table's row
//! prefix (`Ledger::watch_prefix`), and cached rows read at tx `S` are the rows at snapshot `Q`
//! when that last write is at or before both `S` and `Q`. Primary-key ranges on a single
//! INTEGER key are served by slicing the cached batches (binary search on the sorted key).
//!
//! Invariants:
//! - only committed state is cached (never a transaction's pending writes, never a tx range);
//! - an entry is tied to the table's id and column list: DDL that changes either misses;
//! - the cache holds at most `budget` bytes of Arrow memory; a table larger than that is not
//!   cached, and caching one table evicts the others when the total would exceed it.
//!
//! Not here: incremental maintenance (any write to a table drops its entry's validity; the
//! next full scan rebuilds it).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::record_batch::RecordBatch;
use stele_ledger::proof::TxId;
use stele_ledger::Ledger;

use crate::error::Result;
use crate::store::catalog::Table;
use crate::store::encoding;
use crate::store::KeyRange;
use crate::types::SqlType;

/// Default budget of the column cache, in bytes of Arrow memory.
pub const DEFAULT_BUDGET: usize = 512 << 20;

/// One table's cached rows.
#[derive(Debug)]
pub struct CachedTable {
    /// The snapshot the rows were read at.
    pub snapshot: TxId,
    /// `(column id, type)` of every column, in table order.
    columns: Vec<(u32, SqlType)>,
    /// Every column, rows in primary-key order.
    pub batches: Vec<RecordBatch>,
    bytes: usize,
}

/// The column cache of one store: cached rows by table id, within a byte budget.
#[derive(Default)]
pub struct ColumnCache {
    tables: parking_lot::Mutex<HashMap<u32, Arc<CachedTable>>>,
    /// Most bytes of Arrow memory kept (see [`ColumnCache::set_budget`]).
    budget: std::sync::atomic::AtomicUsize,
}

fn signature(t: &Table) -> Vec<(u32, SqlType)> {
    t.columns.iter().map(|c| (c.id, c.ty)).collect()
}

impl ColumnCache {
    /// An empty cache holding at most `budget` bytes of Arrow memory.
    pub fn new(budget: usize) -> ColumnCache {
        ColumnCache {
            tables: Default::default(),
            budget: budget.into(),
        }
    }

    /// Most bytes of Arrow memory the cache keeps.
    pub fn budget(&self) -> usize {
        self.budget.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the budget; a smaller one evicts every table at once if they no longer fit (0
    /// turns the cache off: every scan reads the ledger).
    pub fn set_budget(&self, bytes: usize) {
        self.budget
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
        let mut tables = self.tables.lock();
        if tables.values().map(|c| c.bytes).sum::<usize>() > bytes {
            tables.clear();
        }
    }

    /// Bytes of Arrow memory the cached tables hold now.
    pub fn memory(&self) -> usize {
        self.tables.lock().values().map(|c| c.bytes).sum()
    }

    /// The cached rows of `t` if they are its rows at `snapshot`.
    pub fn get(&self, ledger: &Ledger, t: &Table, snapshot: TxId) -> Option<Arc<CachedTable>> {
        let cached = self.tables.lock().get(&t.id).cloned()?;
        let last = ledger.last_write_under(&encoding::row_prefix(t.id))?;
        (last <= snapshot.min(cached.snapshot) && cached.columns == signature(t)).then_some(cached)
    }

    /// Starts tracking writes to `t`'s rows; call before reading rows meant for [`Self::put`].
    pub fn watch(&self, ledger: &Ledger, t: &Table) -> Result<()> {
        Ok(ledger.watch_prefix(&encoding::row_prefix(t.id))?)
    }

    /// Keeps `batches` (every column of `t`, in key order, read at `snapshot`) if they fit.
    pub fn put(&self, t: &Table, snapshot: TxId, batches: Vec<RecordBatch>) {
        let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
        let budget = self.budget();
        if bytes > budget {
            return;
        }
        let mut tables = self.tables.lock();
        let total: usize = tables
            .iter()
            .filter(|(id, _)| **id != t.id)
            .map(|(_, c)| c.bytes)
            .sum();
        if total + bytes > budget {
            tables.clear();
        }
        tables.insert(
            t.id,
            Arc::new(CachedTable {
                snapshot,
                columns: signature(t),
                batches,
                bytes,
            }),
        );
    }
}

impl CachedTable {
    /// The rows whose row key lies in `range`, when the table's primary key is one INTEGER
    /// column (`None` otherwise: the caller reads the ledger).
    pub fn slice(&self, t: &Table, range: &KeyRange) -> Option<Vec<RecordBatch>> {
        let [pk] = t.pk_columns()[..] else {
            return None;
        };
        if pk.ty != SqlType::Integer {
            return None;
        }
        let pos = t.columns.iter().position(|c| c.id == pk.id)?;
        let prefix_len = encoding::row_prefix(t.id).len();
        // A bound key is the prefix, then `0x80` and the flipped big-endian integer; a shorter
        // key is an open end (the NULL-skipping lower bound, or a prefix's successor).
        let decode = |k: &[u8]| -> Option<i64> {
            let b = k.get(prefix_len..)?;
            (b.len() == 9 && b[0] == encoding::VALUE_KEY_TAG)
                .then(|| (u64::from_be_bytes(b[1..].try_into().unwrap()) ^ (1 << 63)) as i64)
        };
        // Half-open integer bounds [lo, hi).
        let lo: i64 = match &range.lo {
            None => i64::MIN,
            Some((k, incl)) => match decode(k) {
                Some(v) if *incl => v,
                Some(v) => v.checked_add(1)?,
                None if k.len() <= prefix_len + 1 => i64::MIN,
                None => return None,
            },
        };
        let hi: Option<i64> = match &range.hi {
            None => None,
            Some((k, incl)) => match decode(k) {
                Some(v) if *incl => v.checked_add(1),
                Some(v) => Some(v),
                None if k.len() <= prefix_len + 1 => None,
                None => return None,
            },
        };
        let mut out = Vec::new();
        for b in &self.batches {
            let ids = b.column(pos).as_any().downcast_ref::<Int64Array>()?;
            let values = ids.values();
            let start = values.partition_point(|v| *v < lo);
            let end = match hi {
                Some(h) => values.partition_point(|v| *v < h),
                None => values.len(),
            };
            if start < end {
                out.push(b.slice(start, end - start));
            }
        }
        Some(out)
    }
}
