//! The column cache: a table's current rows, decoded into Arrow batches, kept between queries,
//! in memory and as a column copy on disk.
//!
//! A full scan of a table at the current state leaves its batches here (every column, in
//! primary-key order). A later scan of the same table reuses them while they are still the
//! table's rows at its snapshot: the ledger tracks the last tx that wrote under the table's row
//! prefix (`Ledger::watch_prefix`), and cached rows read at tx `S` are the rows at snapshot `Q`
//! when that last write is at or before both `S` and `Q`. Primary-key ranges on a single
//! INTEGER key are served by slicing the cached batches (binary search on the sorted key).
//!
//! The batches a full scan reads from the ledger are also written, on a thread of their own,
//! to a column copy on disk (`column_file.rs`; in the ledger's directory, `sql-columns/`). After
//! a restart the memory is empty, but a table's copy answers for it once it is proved current:
//! its snapshot `S` is at or after the last write the ledger knows of under the table's prefix,
//! or no tx after `S` (at most [`MAX_TXS_CHECKED`] of them, read from their records) wrote
//! there. A full scan then loads the whole copy into memory; a key range on a single INTEGER key
//! reads only the chunks of the batches it overlaps, of the columns it projects, as runs of
//! batches planned here ([`CopyRead`]) and read by the scan's partitions (the first while the
//! rest of the query is planned).
//!
//! Invariants:
//! - only committed state is cached (never a transaction's pending writes, never a tx range);
//! - an entry, in memory or on disk, is tied to the table's id and column list: DDL that
//!   changes either misses;
//! - the cache holds at most `budget` bytes of Arrow memory; a table larger than that is not
//!   cached (nor copied to disk), and caching one table evicts the others when the total would
//!   exceed it; a budget of 0 turns off both the memory and the disk copies;
//! - a copy that fails a check (a checksum, its shape) is forgotten and deleted; the scan reads
//!   the ledger instead (a run that fails when the plan runs: its own keys, from the ledger).
//!
//! Not here: incremental maintenance (any write to a table drops its entry's validity; the
//! next full scan rebuilds it and rewrites its copy).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use stele_ledger::proof::TxId;
use stele_ledger::Ledger;

use crate::error::Result;
use crate::store::catalog::Table;
use crate::store::column_file::{self, ColumnFile};
use crate::store::encoding;
use crate::store::helper::Helper;
use crate::store::KeyRange;
use crate::types::{SqlType, Value};

/// Default budget of the column cache, in bytes of Arrow memory.
pub const DEFAULT_BUDGET: usize = 512 << 20;

/// Most txs after a column copy's snapshot whose records are read to prove it current.
pub const MAX_TXS_CHECKED: u64 = 4096;

/// Least time between two writes of one table's column copy: a table written between full
/// scans would otherwise be rewritten whole at each (a copy left behind by it is proved stale,
/// and the next full scan after the interval writes a current one).
pub const MIN_COPY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

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

/// A table's column copy on disk, proved to hold its rows at every snapshot from `valid_at`
/// until the next write under its prefix.
#[derive(Debug)]
struct DiskCopy {
    file: Arc<ColumnFile>,
    valid_at: TxId,
}

/// The column cache of one store: cached rows by table id, within a byte budget.
#[derive(Default)]
pub struct ColumnCache {
    tables: parking_lot::Mutex<HashMap<u32, Arc<CachedTable>>>,
    /// Most bytes of Arrow memory kept (see [`ColumnCache::set_budget`]).
    budget: std::sync::atomic::AtomicUsize,
    /// Where column copies are written; `None`: none are.
    dir: parking_lot::Mutex<Option<PathBuf>>,
    /// Copies opened and checked, by table id (`None`: none usable, until the next write of one).
    copies: Arc<parking_lot::Mutex<HashMap<u32, Option<Arc<DiskCopy>>>>>,
    /// Tables whose copy is being written, and the threads writing them.
    writing: Arc<parking_lot::Mutex<HashSet<u32>>>,
    /// When each table's copy was last written by this cache.
    written: parking_lot::Mutex<HashMap<u32, std::time::Instant>>,
    writers: parking_lot::Mutex<Vec<std::thread::JoinHandle<()>>>,
}

fn signature(t: &Table) -> Vec<(u32, SqlType)> {
    t.columns.iter().map(|c| (c.id, c.ty)).collect()
}

/// Whether rows of `t` read at `read_at`, with columns `columns`, are its rows at `snapshot`:
/// the last write under its rows the ledger knows of is at or before both, and its column
/// list is the same.
fn current(
    ledger: &Ledger,
    t: &Table,
    snapshot: TxId,
    read_at: TxId,
    columns: &[(u32, SqlType)],
) -> bool {
    ledger
        .last_write_under(&encoding::row_prefix(t.id))
        .is_some_and(|last| last <= snapshot.min(read_at))
        && columns
            .iter()
            .copied()
            .eq(t.columns.iter().map(|c| (c.id, c.ty)))
}

impl ColumnCache {
    /// An empty cache holding at most `budget` bytes of Arrow memory.
    pub fn new(budget: usize) -> ColumnCache {
        let cache = ColumnCache::default();
        cache.set_budget(budget);
        cache
    }

    /// Keeps column copies in `dir` (created when the first is written); `None`: keeps none.
    pub fn set_dir(&self, dir: Option<PathBuf>) {
        *self.dir.lock() = dir;
        self.copies.lock().clear();
    }

    /// Waits until every column copy being written is on disk.
    pub fn wait_for_copies(&self) {
        let writers = std::mem::take(&mut *self.writers.lock());
        for w in writers {
            let _ = w.join();
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
        current(ledger, t, snapshot, cached.snapshot, &cached.columns).then_some(cached)
    }

    /// Starts tracking writes to `t`'s rows; call before reading rows meant for [`Self::put`].
    pub fn watch(&self, ledger: &Ledger, t: &Table) -> Result<()> {
        Ok(ledger.watch_writes(&encoding::row_prefix(t.id))?)
    }

    /// Keeps `batches` (every column of `t`, in key order, read at `snapshot`) if they fit;
    /// false if they do not.
    pub fn put(&self, t: &Table, snapshot: TxId, batches: Vec<RecordBatch>) -> bool {
        let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
        let budget = self.budget();
        if bytes > budget {
            return false;
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
        true
    }

    /// Keeps `batches` (as for [`Self::put`]) in memory and, if they fit, writes them as `t`'s
    /// column copy on a thread of its own (unless one is being written for `t` already, or
    /// was less than [`MIN_COPY_INTERVAL`] ago). A failed write leaves the older copy, or none:
    /// the copy is derived data.
    pub fn put_and_copy(&self, t: &Table, snapshot: TxId, batches: Vec<RecordBatch>) {
        if !self.put(t, snapshot, batches.clone()) {
            return;
        }
        let Some(dir) = self.dir.lock().clone() else {
            return;
        };
        {
            let mut written = self.written.lock();
            let now = std::time::Instant::now();
            if written
                .get(&t.id)
                .is_some_and(|w| now.duration_since(*w) < MIN_COPY_INTERVAL)
                || !self.writing.lock().insert(t.id)
            {
                return;
            }
            written.insert(t.id, now);
        }
        let id = t.id;
        let (t, copies, writing) = (t.clone(), self.copies.clone(), self.writing.clone());
        let write = move || {
            let written = std::fs::create_dir_all(&dir)
                .map_err(|e| crate::error::SqlError::Corrupted(e.to_string()))
                .and_then(|()| column_file::write(&dir, &t, snapshot, &batches));
            if written.is_err() {
                let _ = std::fs::remove_file(column_file::tmp_path_of(&dir, t.id));
            }
            // Opened again, and checked, by the next scan that asks.
            copies.lock().remove(&t.id);
            writing.lock().remove(&t.id);
        };
        let mut writers = self.writers.lock();
        writers.retain(|w| !w.is_finished());
        match std::thread::Builder::new()
            .name("stele-sql-copy".into())
            .spawn(write)
        {
            Ok(w) => writers.push(w),
            Err(_) => {
                self.writing.lock().remove(&id);
            }
        }
    }

    /// `t`'s column copy if it holds its rows at `snapshot`.
    fn copy(&self, ledger: &Ledger, t: &Table, snapshot: TxId) -> Option<Arc<DiskCopy>> {
        if self.budget() == 0 {
            return None;
        }
        let dir = self.dir.lock().clone()?;
        let known = self.copies.lock().get(&t.id).cloned();
        let copy = match known {
            Some(c) => c?,
            None => {
                let c = open_copy(ledger, &dir, t).map(Arc::new);
                self.copies.lock().insert(t.id, c.clone());
                c?
            }
        };
        current(ledger, t, snapshot, copy.valid_at, &copy.file.columns).then_some(copy)
    }

    /// Deletes the column copies, finished or not, of dropped tables: ids up to `max_table_id`
    /// (the highest ever used) that `live` does not hold. Table ids are never reused, so such a
    /// copy could never answer again; a newer table's id is above `max_table_id` and its copy
    /// is left alone. Best effort: a file that cannot be listed or deleted stays.
    pub fn remove_dropped_copies(&self, max_table_id: u32, live: impl Fn(u32) -> bool) {
        let Some(dir) = self.dir.lock().clone() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(column_file::table_of_file) else {
                continue;
            };
            if id <= max_table_id && !live(id) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Forgets `t`'s copy and deletes its file (it failed a check).
    pub(crate) fn drop_copy(&self, t: &Table) {
        self.copies.lock().insert(t.id, None);
        if let Some(dir) = self.dir.lock().as_ref() {
            if !self.writing.lock().contains(&t.id) {
                let _ = std::fs::remove_file(column_file::path_of(dir, t.id));
            }
        }
    }

    /// Every row of `t` at `snapshot` from its column copy, now also kept in memory; `None`
    /// when there is no current copy (or it fails a check).
    pub(crate) fn load_copy(
        &self,
        ledger: &Ledger,
        reader: &Helper,
        t: &Table,
        snapshot: TxId,
        schema: &SchemaRef,
    ) -> Option<Vec<RecordBatch>> {
        let copy = self.copy(ledger, t, snapshot)?;
        match copy.file.read_all(reader, schema) {
            Ok(batches) => {
                self.put(t, copy.valid_at, batches.clone());
                Some(batches)
            }
            Err(_) => {
                self.drop_copy(t);
                None
            }
        }
    }

    /// The rows of `t` at `snapshot` in `ranges` (on a single INTEGER key), from its column
    /// copy, as up to `parts` reads of contiguous runs of the copy's batches, in key order, not
    /// yet made (the key column of a batch a range cuts is read here); `None` when there is no
    /// current copy, the key is not one INTEGER column, or the copy fails a check.
    pub(crate) fn copy_reads(
        &self,
        ledger: &Ledger,
        t: &Table,
        snapshot: TxId,
        ranges: &[KeyRange],
        parts: usize,
    ) -> Option<Vec<CopyRead>> {
        let key = column_file::integer_key(t)?;
        let bounds = ranges
            .iter()
            .map(|r| integer_bounds(t, r))
            .collect::<Option<Vec<_>>>()?;
        let copy = self.copy(ledger, t, snapshot)?;
        let file = &copy.file;
        let mut pieces = Vec::new();
        for b in bounds {
            match file.range_pieces(key, b) {
                Ok(p) => pieces.extend(p),
                Err(_) => {
                    self.drop_copy(t);
                    return None;
                }
            }
        }
        // A few pieces are one read: a read handed to another thread costs more than a short one.
        let parts = match pieces.len() < 4 {
            true => 1,
            false => parts.max(1),
        };
        let per = pieces.len().div_ceil(parts).max(1);
        let mut runs: Vec<Vec<column_file::Piece>> = Vec::new();
        for (i, p) in pieces.into_iter().enumerate() {
            match runs.last_mut() {
                Some(run) if i % per != 0 => run.push(p),
                _ => runs.push(vec![p]),
            }
        }
        // Each run covers the keys from its first row to the next run's first row.
        let firsts = runs
            .iter()
            .map(|run| file.first_key(&run[0]))
            .collect::<Result<Vec<_>>>();
        let Ok(firsts) = firsts else {
            self.drop_copy(t);
            return None;
        };
        let reads = runs
            .into_iter()
            .enumerate()
            .map(|(i, pieces)| CopyRead {
                file: file.clone(),
                pieces,
                keys: ((i > 0).then(|| firsts[i]), firsts.get(i + 1).copied()),
            })
            .collect::<Vec<_>>();
        match reads.is_empty() {
            // No row in the ranges: one read of nothing.
            true => Some(vec![CopyRead {
                file: file.clone(),
                pieces: Vec::new(),
                keys: (None, None),
            }]),
            false => Some(reads),
        }
    }
}

/// A planned read of a run of a column copy's batches (see [`ColumnCache::copy_reads`]).
#[derive(Debug)]
pub(crate) struct CopyRead {
    file: Arc<ColumnFile>,
    pieces: Vec<column_file::Piece>,
    /// The INTEGER keys it covers: from (inclusive) and to (exclusive), `None` where open.
    keys: (Option<i64>, Option<i64>),
}

impl CopyRead {
    /// The rows, columns `projection`, as batches of `schema` (the projected one).
    pub(crate) fn read(
        &self,
        projection: &[usize],
        schema: &SchemaRef,
    ) -> Result<Vec<RecordBatch>> {
        self.file.read_list(&self.pieces, projection, schema)
    }

    /// The same rows' key ranges, for a read of the ledger instead: `ranges` (those the copy
    /// was asked for) cut to the keys this read covers.
    pub(crate) fn key_ranges(&self, t: &Table, ranges: &[KeyRange]) -> Result<Vec<KeyRange>> {
        let (from, to) = self.keys;
        let key = |v: i64| -> Result<Vec<u8>> {
            let mut k = encoding::row_prefix(t.id);
            encoding::encode_key_value_into(&mut k, &Value::Integer(v), SqlType::Integer, 0)?;
            Ok(k)
        };
        let mut out = Vec::new();
        for r in ranges {
            // Ranges the copy answered are INTEGER bounds (`copy_reads`).
            let Some((lo, hi)) = integer_bounds(t, r) else {
                continue;
            };
            let lo_cut = from.filter(|f| *f > lo);
            let hi_cut = to.filter(|end| hi.is_none_or(|h| *end < h));
            if hi_cut.or(hi).is_some_and(|h| lo_cut.unwrap_or(lo) >= h) {
                continue;
            }
            out.push(KeyRange {
                lo: match lo_cut {
                    Some(f) => Some((key(f)?, true)),
                    None => r.lo.clone(),
                },
                hi: match hi_cut {
                    Some(end) => Some((key(end)?, false)),
                    None => r.hi.clone(),
                },
            });
        }
        Ok(out)
    }
}

impl Drop for ColumnCache {
    fn drop(&mut self) {
        // No copy is half-written past the store's life (its directory may go with it).
        self.wait_for_copies();
    }
}

/// Opens `t`'s copy in `dir` and proves it current (see the module's note).
fn open_copy(ledger: &Ledger, dir: &std::path::Path, t: &Table) -> Option<DiskCopy> {
    let file = match ColumnFile::open(&column_file::path_of(dir, t.id)) {
        Ok(Some(f)) => f,
        Ok(None) => return None,
        Err(_) => {
            let _ = std::fs::remove_file(column_file::path_of(dir, t.id));
            return None;
        }
    };
    if file.table != t.id || file.columns != signature(t) {
        return None;
    }
    let prefix = encoding::row_prefix(t.id);
    ledger.watch_writes(&prefix).ok()?;
    let last = ledger.last_write_under(&prefix)?;
    // A copy from beyond the ledger's end (a directory restored from an older backup) says
    // nothing about this ledger's rows.
    if file.snapshot > ledger.state().tx_id {
        return None;
    }
    let valid_at = if last <= file.snapshot {
        file.snapshot
    } else {
        if last - file.snapshot > MAX_TXS_CHECKED {
            return None;
        }
        for id in file.snapshot + 1..=last {
            if ledger.tx_writes_under(id, &prefix).ok()? {
                return None;
            }
        }
        last
    };
    Some(DiskCopy {
        file: Arc::new(file),
        valid_at,
    })
}

/// The half-open integer bounds `[lo, hi)` of a key range on `t`'s single INTEGER key
/// (`hi` `None`: no upper end); `None` when `range` is not such a range.
fn integer_bounds(t: &Table, range: &KeyRange) -> Option<(i64, Option<i64>)> {
    let prefix_len = encoding::row_prefix(t.id).len();
    // A bound key is the prefix, then `0x80` and the flipped big-endian integer; a shorter
    // key is an open end (the NULL-skipping lower bound, or a prefix's successor).
    let decode = |k: &[u8]| -> Option<i64> {
        let b = k.get(prefix_len..)?;
        (b.len() == 9 && b[0] == encoding::VALUE_KEY_TAG)
            .then(|| (u64::from_be_bytes(b[1..].try_into().unwrap()) ^ (1 << 63)) as i64)
    };
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
            // `v + 1` past i64::MAX: no upper end.
            Some(v) if *incl => v.checked_add(1),
            Some(v) => Some(v),
            None if k.len() <= prefix_len + 1 => None,
            None => return None,
        },
    };
    Some((lo, hi))
}

impl CachedTable {
    /// The rows whose row key lies in `range`, when the table's primary key is one INTEGER
    /// column (`None` otherwise: the caller reads the ledger).
    pub fn slice(&self, t: &Table, range: &KeyRange) -> Option<Vec<RecordBatch>> {
        let pos = column_file::integer_key(t)?;
        let (lo, hi) = integer_bounds(t, range)?;
        let mut out = Vec::new();
        for b in &self.batches {
            let ids = b.column(pos).as_any().downcast_ref::<Int64Array>()?;
            let values = ids.values();
            // Batches are in key order: those wholly before the range are passed over on their
            // last key, and the first wholly after it ends the walk (a search in each would
            // read ~13 far-apart keys of every batch of a large table).
            let (Some(&first), Some(&last)) = (values.first(), values.last()) else {
                continue;
            };
            if hi.is_some_and(|h| first >= h) {
                break;
            }
            if last < lo {
                continue;
            }
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

#[cfg(test)]
mod tests {
    //! Column copies after a restart: used when current, never when not. A forged copy (its
    //! `v` column times 1000, checksums valid) tells which source answered.
    use std::collections::HashMap;
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::record_batch::RecordBatch;
    use stele_ledger::{Ledger, Options};

    use crate::exec::Engine;
    use crate::store::arrow::table_schema;
    use crate::store::column_file::{self, ColumnFile};
    use crate::store::handle::COLUMN_COPIES_DIR;
    use crate::types::Value;
    use crate::Output;

    /// Five batches: long reads take the two-thread path.
    const ROWS: i64 = 40_000;

    fn open(dir: &std::path::Path) -> Engine {
        Engine::new(Arc::new(Ledger::open(dir, Options::default()).unwrap())).unwrap()
    }

    fn run(e: &Engine, sql: &str) -> Vec<Vec<Value>> {
        match e.execute(sql, &HashMap::new()).unwrap().pop() {
            Some(Output::Rows { rows, .. }) => rows.into_lists(),
            other => panic!("{other:?}"),
        }
    }

    fn int(e: &Engine, sql: &str) -> i64 {
        match run(e, sql)[..] {
            [ref row] => match row[..] {
                [Value::Integer(n)] => n,
                _ => panic!("{row:?}"),
            },
            ref rows => panic!("{rows:?}"),
        }
    }

    /// A table `t` of `ROWS` rows `(i, i % 7, 'r<i>')`, `other` of one row; a full scan of
    /// `t` wrote its copy.
    fn setup(dir: &std::path::Path) -> Engine {
        let e = open(dir);
        e.execute(
            "CREATE TABLE t (id INTEGER, v INTEGER, s VARCHAR[16], PRIMARY KEY id);
             CREATE TABLE other (id INTEGER, PRIMARY KEY id)",
            &HashMap::new(),
        )
        .unwrap();
        for from in (0..ROWS).step_by(1000) {
            let values: Vec<String> = (from..from + 1000)
                .map(|i| format!("({i}, {}, 'r{i}')", i % 7))
                .collect();
            e.execute(
                &format!("INSERT INTO t (id, v, s) VALUES {}", values.join(", ")),
                &HashMap::new(),
            )
            .unwrap();
        }
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), true_sum(0, ROWS));
        e.store().cache().wait_for_copies();
        e
    }

    fn true_sum(lo: i64, hi: i64) -> i64 {
        (lo..hi).map(|i| i % 7).sum()
    }

    /// Rewrites `t`'s copy with `v` times 1000, at the copy's own snapshot.
    fn forge(dir: &std::path::Path) {
        let e = open(dir);
        let cat = e.store().catalog(None).unwrap();
        let t = cat.table("t").unwrap().clone();
        drop(e);
        let copies = dir.join(COLUMN_COPIES_DIR);
        let file = ColumnFile::open(&column_file::path_of(&copies, t.id))
            .unwrap()
            .expect("a copy");
        let schema = table_schema(&t);
        let file = Arc::new(file);
        let batches: Vec<RecordBatch> = file
            .read_all(&crate::store::helper::Helper::start(), &schema)
            .unwrap()
            .into_iter()
            .map(|b| {
                let v = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
                let v: Int64Array = v.iter().map(|x| x.map(|x| x * 1000)).collect();
                let mut cols = b.columns().to_vec();
                cols[1] = Arc::new(v) as ArrayRef;
                RecordBatch::try_new(schema.clone(), cols).unwrap()
            })
            .collect();
        column_file::write(&copies, &t, file.snapshot, &batches).unwrap();
    }

    #[test]
    fn a_current_copy_answers_after_a_restart_until_the_table_is_written() {
        let dir = tempfile::tempdir().unwrap();
        drop(setup(dir.path()));
        forge(dir.path());
        let e = open(dir.path());
        // A key range reads the copy's chunks; then a full scan loads it whole.
        let range = "SELECT SUM(v) FROM t WHERE id >= 100 AND id < 9000";
        assert_eq!(int(&e, range), true_sum(100, 9000) * 1000);
        let long = "SELECT SUM(v) FROM t WHERE id >= 100 AND id < 35000";
        assert_eq!(int(&e, long), true_sum(100, 35000) * 1000);
        assert_eq!(
            run(
                &e,
                "SELECT MIN(id), MAX(id), COUNT(*) FROM t WHERE id > 7 AND id <= 33333"
            ),
            [[
                Value::Integer(8),
                Value::Integer(33333),
                Value::Integer(33326)
            ]]
        );
        // A write elsewhere leaves it current.
        e.execute("INSERT INTO other (id) VALUES (1)", &HashMap::new())
            .unwrap();
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), true_sum(0, ROWS) * 1000);
        assert_eq!(int(&e, range), true_sum(100, 9000) * 1000);
        // A write to `t` does not.
        e.execute("UPDATE t SET v = 0 WHERE id = 19998", &HashMap::new())
            .unwrap();
        // Row 19998's `v` was 19998 % 7 = 6.
        let fixed = true_sum(0, ROWS) - 6;
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), fixed);
        assert_eq!(int(&e, range), true_sum(100, 9000));
    }

    #[test]
    fn txs_after_the_copy_are_read_to_prove_it_current() {
        let dir = tempfile::tempdir().unwrap();
        let e = setup(dir.path());
        // Later txs that do not touch `t`.
        e.execute("INSERT INTO other (id) VALUES (1)", &HashMap::new())
            .unwrap();
        e.execute("INSERT INTO other (id) VALUES (2)", &HashMap::new())
            .unwrap();
        drop(e);
        forge(dir.path());
        let e = open(dir.path());
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), true_sum(0, ROWS) * 1000);

        // A later tx that writes `t` (before the restart) makes the copy stale.
        drop(e);
        let dir = tempfile::tempdir().unwrap();
        let e = setup(dir.path());
        e.execute("DELETE FROM t WHERE id = 5", &HashMap::new())
            .unwrap();
        drop(e);
        forge(dir.path());
        let e = open(dir.path());
        // Row 5's `v` was 5.
        let expected = true_sum(0, ROWS) - 5;
        assert_eq!(
            int(&e, &format!("SELECT SUM(v) FROM t WHERE id < {ROWS}")),
            expected
        );
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), expected);
    }

    #[test]
    fn a_copy_of_other_columns_or_with_a_bad_checksum_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        drop(setup(dir.path()));
        forge(dir.path());
        let e = open(dir.path());
        e.execute("ALTER TABLE t ADD COLUMN w INTEGER", &HashMap::new())
            .unwrap();
        assert_eq!(
            int(&e, "SELECT SUM(v) FROM t WHERE id < 500"),
            true_sum(0, 500)
        );
        drop(e);

        let dir = tempfile::tempdir().unwrap();
        drop(setup(dir.path()));
        forge(dir.path());
        // One byte of the first chunk flipped.
        let copies = dir.path().join(COLUMN_COPIES_DIR);
        let path = std::fs::read_dir(&copies)
            .unwrap()
            .map(|f| f.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "cols"))
            .unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[200] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let e = open(dir.path());
        assert_eq!(
            int(&e, "SELECT SUM(v) FROM t WHERE id < 500"),
            true_sum(0, 500)
        );
        assert!(!path.exists(), "a copy that fails its checksum is deleted");
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), true_sum(0, ROWS));
        e.store().cache().wait_for_copies();
        assert!(path.exists(), "the next full scan writes it again");
    }

    #[test]
    fn a_chunk_failing_its_check_when_a_range_is_read_is_read_from_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        drop(setup(dir.path()));
        // One byte flipped in the `v` chunk of the fourth batch: a long range is read as two
        // runs, the second (batches 4 and 5) when the plan runs, after its checks passed.
        let e = open(dir.path());
        let t = e.store().catalog(None).unwrap().table("t").unwrap().clone();
        drop(e);
        let path = column_file::path_of(&dir.path().join(COLUMN_COPIES_DIR), t.id);
        let file = ColumnFile::open(&path).unwrap().expect("a copy");
        let (offset, len) = file.chunk_place(3, 1);
        drop(file);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[(offset + len as u64 / 2) as usize] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let e = open(dir.path());
        let long =
            "SELECT SUM(v), COUNT(*), MIN(id), MAX(id) FROM t WHERE id >= 100 AND id < 35000";
        assert_eq!(
            run(&e, long),
            [[
                Value::Integer(true_sum(100, 35000)),
                Value::Integer(34900),
                Value::Integer(100),
                Value::Integer(34999)
            ]]
        );
        assert!(!path.exists(), "a copy that fails its checksum is deleted");
        assert_eq!(
            int(&e, "SELECT COUNT(*) FROM t WHERE id >= 100 AND id < 35000"),
            34900
        );
    }

    #[test]
    fn a_budget_of_zero_writes_and_reads_no_copy() {
        let dir = tempfile::tempdir().unwrap();
        drop(setup(dir.path()));
        forge(dir.path());
        let e = open(dir.path());
        e.store().cache().set_budget(0);
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), true_sum(0, ROWS));
    }

    #[test]
    fn copies_of_dropped_tables_are_deleted_when_the_store_opens() {
        let dir = tempfile::tempdir().unwrap();
        let e = setup(dir.path());
        e.execute("INSERT INTO other (id) VALUES (1)", &HashMap::new())
            .unwrap();
        assert_eq!(int(&e, "SELECT COUNT(*) FROM other"), 1);
        e.store().cache().wait_for_copies();
        let cat = e.store().catalog(None).unwrap();
        let (t, other) = (cat.tables["t"].id, cat.tables["other"].id);
        let copies = dir.path().join(COLUMN_COPIES_DIR);
        let (t_copy, other_copy) = (
            column_file::path_of(&copies, t),
            column_file::path_of(&copies, other),
        );
        assert!(t_copy.exists() && other_copy.exists());
        // An unfinished write of `other`'s, and a file of a table id not used yet.
        let other_tmp = column_file::tmp_path_of(&copies, other);
        let newer = column_file::path_of(&copies, cat.max_table_id + 1);
        std::fs::write(&other_tmp, b"partial").unwrap();
        std::fs::write(&newer, b"not ours to judge").unwrap();
        e.execute("DROP TABLE other", &HashMap::new()).unwrap();
        assert!(
            other_copy.exists(),
            "deleted when a store opens, not before"
        );
        drop(e);

        let e = open(dir.path());
        assert!(!other_copy.exists() && !other_tmp.exists());
        assert!(t_copy.exists(), "a live table's copy stays");
        assert!(newer.exists(), "an id above the highest used stays");
        // And `t`'s copy still answers (forged: v times 1000).
        drop(e);
        forge(dir.path());
        let e = open(dir.path());
        assert_eq!(int(&e, "SELECT SUM(v) FROM t"), 1000 * true_sum(0, ROWS));
    }
}
