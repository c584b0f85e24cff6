//! The SQL store: DDL and row writes as ledger transactions, and row reads at a snapshot or over
//! a tx range. The SQL front end (parser, DataFusion planning) sits on top of this module.
//!
//! Invariants:
//! - one call that writes is one ledger tx; a call that would change nothing writes no tx;
//! - every row key read or written by a write carries a `KeyNotModifiedAfter(snapshot)`
//!   precondition, so a concurrent change to those rows aborts the commit with `tx read conflict`
//!   and nothing is written (range phantoms are not detected yet);
//! - deletes write the same `R.` key with the old row value and the `deleted` metadata flag;
//! - secondary indexes are derived entries (`M.` keys in the ledger's unhashed `idx` family)
//!   written in the same batch as the rows they index: a row's entry is live from the tx that
//!   gave it those column values until the tx that changed or deleted them. `CREATE INDEX`
//!   back-fills every committed version with its own tx id, so time travel can use the index;
//! - a transaction that writes rows aborts if DDL committed after its snapshot, and `CREATE
//!   INDEX` aborts if rows of its table were written after its snapshot (the back-fill would
//!   miss them); a UNIQUE index entry carries an `IndexPrefixFree` precondition.

use std::sync::Arc;

use std::collections::{BTreeMap, BTreeSet};
use stele_ledger::format::successor;
use stele_ledger::proof::{KvMetadata, TxHeader, TxId};

use stele_ledger::{
    Commit, Entry, HistoryQuery, IndexEntry, KeySpan, Ledger, LedgerError, NewEntry, Precondition,
    ScanQuery,
};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::cache::ColumnCache;
use crate::catalog::{Catalog, Column, Index, Table};
use crate::check;
use crate::columnar::BatchBuilder;
use crate::encoding::{self, FLAG_AUTO_INCREMENT, FLAG_NOT_NULL, PRIMARY_INDEX_ID};
use crate::pending::PendingMap;
use crate::types::{SqlType, Value};
use crate::{Result, SqlError};

/// Classic immudb's limit on an indexed key, in bytes.
pub const MAX_KEY_LEN: u32 = 512;
/// Most columns in a primary key or index.
pub const MAX_INDEX_COLUMNS: usize = 8;
const RESERVED: [&str; 3] = ["_rev", "_tx_metadata", "_diff_action"];

/// A column of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: SqlType,
    /// The declared size (`VARCHAR[n]`); `None` when absent.
    pub size: Option<u32>,
    pub not_null: bool,
    pub auto_increment: bool,
}

/// A `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub columns: Vec<ColumnSpec>,
    pub primary_key: Vec<String>,
    /// CHECK constraints: optional name and the expression's text (see `check::expression_text`).
    pub checks: Vec<(Option<String>, String)>,
    pub if_not_exists: bool,
}

/// What to do with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Fails with `key already exists` when the primary key is taken.
    Insert,
    /// `INSERT ... ON CONFLICT DO NOTHING`: skips a taken primary key.
    InsertOrIgnore,
    /// Replaces the whole row; unlisted columns become NULL.
    Upsert,
    /// Deletes the row with these primary-key values (other columns are ignored).
    Delete,
}

/// One row read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Values of the table's live columns, in column order.
    pub values: Vec<Value>,
    /// The tx that wrote this version.
    pub tx: TxId,
    /// 1-based version number of the row (set by history reads, else 0).
    pub revision: u64,
    /// Whether this version is a delete (history reads only).
    pub deleted: bool,
}

/// The result of a write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOutcome {
    /// The committed tx; `None` when nothing had to be written.
    pub tx: Option<TxHeader>,
    pub updated_rows: usize,
    /// Primary keys of the first and last inserted rows.
    pub first_inserted_pk: Option<Vec<Value>>,
    pub last_inserted_pk: Option<Vec<Value>>,
    /// The table rows were inserted into, when any were (what the keys above belong to).
    pub inserted_into: Option<String>,
}

/// Bounds on stored row keys: `(key, inclusive)` at each end, unbounded when `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    pub lo: Option<(Vec<u8>, bool)>,
    pub hi: Option<(Vec<u8>, bool)>,
}

impl KeyRange {
    /// Every key starting with `prefix`.
    pub fn prefix(prefix: Vec<u8>) -> KeyRange {
        let hi = successor(&prefix).map(|s| (s, false));
        KeyRange {
            lo: Some((prefix, true)),
            hi,
        }
    }

    fn contains(&self, k: &[u8]) -> bool {
        KeySpan::between(k, &self.lo, &self.hi)
    }

    fn apply(&self, q: &mut ScanQuery) {
        if let Some((k, incl)) = &self.lo {
            q.seek_key = Some(k.clone());
            q.inclusive_seek = *incl;
        }
        if let Some((k, incl)) = &self.hi {
            q.end_key = Some(k.clone());
            q.inclusive_end = *incl;
        }
    }
}

/// Which versions a read sees: the newest version per row whose tx lies in `[from, until]`
/// (`from = 1`: "as of `until`"), dropped if it is a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxRange {
    pub from: TxId,
    pub until: TxId,
}

/// What a transaction holds for one key: the version it writes, if any, and whether its commit
/// checks that no other tx wrote the key since the snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending {
    write: Option<PendingWrite>,
    guarded: bool,
}

/// A pending version of a key.
#[derive(Debug, Clone)]
pub(crate) struct PendingWrite {
    metadata: KvMetadata,
    value: Vec<u8>,
}

impl PendingWrite {
    fn live(&self) -> Option<&[u8]> {
        (!self.metadata.deleted).then_some(self.value.as_slice())
    }
}

/// What a SQL transaction will commit, and the keys whose change by anyone else must abort it.
///
/// Reads inside the transaction see these writes (read-your-writes); the commit is one ledger
/// tx with `KeyNotModifiedAfter(snapshot)` on every row key read or written, and
/// `KeyMustNotExist` on every catalog id it allocates.
#[derive(Debug, Clone, Default)]
pub struct WriteSet {
    /// The committed tx this transaction reads from.
    pub snapshot: TxId,
    /// When the transaction began (unix microseconds): what `NOW()` returns in it.
    pub now_micros: i64,
    // The growing parts are shared: a query's table providers hold a copy of the write set,
    // which must not cost a copy of every pending row (copied on write only while shared).
    // One ordered map holds a key's pending version and its guard, so that writing a row
    // (read it, guard it, write it) walks the map once.
    entries: Arc<PendingMap<Pending>>,
    fresh: BTreeSet<Vec<u8>>,
    /// Secondary-index entries of this tx: `true` when the entry is deleted.
    index: Arc<BTreeMap<Vec<u8>, bool>>,
    /// Index entries back-filled at older txs (`CREATE INDEX` on a table with history).
    backfill: Vec<IndexEntry>,
    preconditions: Vec<Precondition>,
    /// Key spans of the current state the transaction's queries read (phantom checks).
    reads: Vec<KeySpan>,
    /// Set when the transaction will only read: reads are not recorded.
    read_only: bool,
    /// The catalog this transaction sees, once read; forgotten when it writes a catalog key.
    catalog: std::sync::OnceLock<Catalog>,
    /// Per table written, the greatest row key ever written as of (at least) the snapshot,
    /// read once from the ledger: a key above it has no committed version the transaction
    /// could see, and needs neither a read nor a probe of the ledger's watched prefixes.
    greatest: Vec<(u32, Option<Vec<u8>>)>,
}

impl WriteSet {
    /// Declares that this transaction only reads (a lone query): its reads are not recorded.
    pub(crate) fn read_only(&mut self) {
        self.read_only = true;
    }

    /// Guards a key the transaction read to write: its commit fails if another tx wrote it
    /// since the snapshot.
    pub(crate) fn guard(&mut self, key: Vec<u8>) {
        Arc::make_mut(&mut self.entries).entry(key).guarded = true;
    }

    /// Records a key a query read, guarded as [`WriteSet::guard`] unless the transaction only
    /// reads.
    pub(crate) fn guard_read(&mut self, key: Vec<u8>) {
        if !self.read_only {
            self.guard(key);
        }
    }

    /// Records spans the transaction read: its commit fails if another tx wrote in one since.
    pub(crate) fn read_spans(&mut self, spans: Vec<KeySpan>) {
        if self.read_only {
            return;
        }
        for s in spans {
            let covered = self
                .reads
                .iter()
                .any(|r| *r == s || (r.prefix == s.prefix && r.lo.is_none() && r.hi.is_none()));
            if !covered {
                if s.lo.is_none() && s.hi.is_none() {
                    self.reads.retain(|r| r.prefix != s.prefix);
                }
                self.reads.push(s);
            }
        }
    }

    /// Whether the commit would write nothing.
    pub fn is_empty(&self) -> bool {
        !self.entries.values().any(|p| p.write.is_some())
    }

    /// How many entries the commit will write.
    pub fn len(&self) -> usize {
        self.entries.values().filter(|p| p.write.is_some()).count()
    }

    fn put(&mut self, e: NewEntry) {
        self.put_write(
            e.key,
            PendingWrite {
                metadata: e.metadata,
                value: e.value,
            },
        );
    }

    fn put_write(&mut self, key: Vec<u8>, w: PendingWrite) {
        if key.starts_with(encoding::CATALOG_PREFIX) {
            self.catalog = std::sync::OnceLock::new();
        }
        Arc::make_mut(&mut self.entries).entry(key).write = Some(w);
    }

    /// Guards `key` and returns its live value as the transaction sees it (its pending
    /// version, else what `committed` reads) with the key's slot, where the caller puts the
    /// version it writes: reading, guarding and writing a key walk the map once.
    fn guarded_slot(
        &mut self,
        key: Vec<u8>,
        committed: impl FnOnce(&[u8]) -> Result<Option<Vec<u8>>>,
    ) -> Result<(Option<Vec<u8>>, &mut Pending)> {
        let (live, slot) = Arc::make_mut(&mut self.entries).slot(key, |key, pending| {
            match pending.and_then(|p| p.write.as_ref()) {
                Some(w) => Ok(w.live().map(<[u8]>::to_vec)),
                // Absent, or guarded by an earlier read and not written: what is committed.
                None => committed(key),
            }
        })?;
        slot.guarded = true;
        Ok((live, slot))
    }

    /// Writes a secondary-index entry (`deleted`: a delete version of it).
    fn put_index(&mut self, key: Vec<u8>, deleted: bool) {
        Arc::make_mut(&mut self.index).insert(key, deleted);
    }

    /// Writes a delete version of a catalog key (its last value kept), guarded against a
    /// concurrent change of the same entry.
    fn drop_catalog_entry(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.guard(key.clone());
        self.put(NewEntry {
            key,
            metadata: KvMetadata {
                deleted: true,
                ..Default::default()
            },
            value,
        });
    }

    /// The pending version of a key, if the transaction wrote one.
    fn pending(&self, key: &[u8]) -> Option<&PendingWrite> {
        self.entries.get(key).and_then(|p| p.write.as_ref())
    }

    /// Pending versions of keys under a prefix, in key order.
    fn pending_under<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a PendingWrite)> + 'a {
        self.entries
            .range_from(prefix)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .filter_map(|(k, p)| Some((k, p.write.as_ref()?)))
    }
}

pub struct SqlStore {
    ledger: Arc<Ledger>,
    /// Tables' current rows as Arrow batches, kept between queries.
    columns: ColumnCache,
    /// The newest catalog read, reused while no catalog key changed (the ledger watches them).
    cache: parking_lot::Mutex<Option<Catalog>>,
}

fn map_conflict(e: LedgerError) -> SqlError {
    match e {
        LedgerError::PreconditionFailed(_) => SqlError::ReadConflict,
        other => SqlError::Ledger(other),
    }
}

impl SqlStore {
    pub fn new(ledger: Arc<Ledger>) -> Result<SqlStore> {
        ledger.watch_prefix(encoding::CATALOG_PREFIX)?;
        Ok(SqlStore {
            ledger,
            columns: ColumnCache::new(crate::cache::DEFAULT_BUDGET),
            cache: parking_lot::Mutex::new(None),
        })
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The column cache of this store's tables.
    pub fn cache(&self) -> &ColumnCache {
        &self.columns
    }

    pub fn catalog(&self, snapshot: Option<TxId>) -> Result<Catalog> {
        let s = snapshot.unwrap_or_else(|| self.ledger.state().tx_id);
        // A cached catalog read at `c.snapshot` is the catalog at any `s` from its last change
        // on, as long as no catalog key was written after `c.snapshot`.
        if let Some(c) = self.cache.lock().as_ref() {
            let last_write = self
                .ledger
                .last_write_under(encoding::CATALOG_PREFIX)
                .unwrap_or(TxId::MAX);
            if last_write <= c.snapshot && c.last_change <= s {
                return Ok(Catalog {
                    snapshot: s,
                    ..c.clone()
                });
            }
        }
        let cat = Catalog::load(&self.ledger, Some(s), None)?;
        let mut cache = self.cache.lock();
        if cache.as_ref().is_none_or(|c| c.snapshot <= s) {
            *cache = Some(cat.clone());
        }
        Ok(cat)
    }

    /// The catalog a transaction sees: its snapshot plus its own DDL.
    pub fn catalog_in(&self, ws: &WriteSet) -> Result<Catalog> {
        if let Some(c) = ws.catalog.get() {
            return Ok(c.clone());
        }
        let cat = self.read_catalog_in(ws)?;
        Ok(ws.catalog.get_or_init(|| cat).clone())
    }

    fn read_catalog_in(&self, ws: &WriteSet) -> Result<Catalog> {
        let pending: Vec<(Vec<u8>, Vec<u8>, bool)> = ws
            .pending_under(encoding::CATALOG_PREFIX)
            .map(|(k, w)| (k.to_vec(), w.value.clone(), w.metadata.deleted))
            .collect();
        if pending.is_empty() {
            return self.catalog(Some(ws.snapshot));
        }
        Catalog::load(&self.ledger, Some(ws.snapshot), Some(&pending))
    }

    /// A transaction reading the latest committed state.
    pub fn begin(&self) -> WriteSet {
        WriteSet {
            snapshot: self.ledger.state().tx_id,
            now_micros: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64),
            ..Default::default()
        }
    }

    /// Commits a transaction as one ledger tx; `None` when it wrote nothing.
    pub fn commit(&self, ws: WriteSet) -> Result<Option<TxHeader>> {
        if ws.is_empty() {
            return Ok(None);
        }
        let pending = Arc::unwrap_or_clone(ws.entries);
        let mut entries = Vec::with_capacity(pending.len());
        let mut preconditions = Vec::with_capacity(pending.len());
        for (key, p) in pending.into_sorted() {
            match (p.write, p.guarded) {
                (Some(w), guarded) => {
                    if guarded {
                        let entry = entries.len();
                        preconditions.push(Precondition::EntryNotModifiedAfter(entry, ws.snapshot));
                    }
                    entries.push(NewEntry {
                        key,
                        metadata: w.metadata,
                        value: w.value,
                    });
                }
                (None, true) => {
                    preconditions.push(Precondition::KeyNotModifiedAfter(key, ws.snapshot))
                }
                (None, false) => {}
            }
        }
        preconditions.extend(ws.fresh.into_iter().map(Precondition::KeyMustNotExist));
        let rows = encoding::ROW_TAG;
        if entries.iter().any(|e| e.key.starts_with(rows)) {
            // Rows written under a schema that changed meanwhile (a new index, say) abort.
            preconditions.push(Precondition::NoWriteUnderSince(
                encoding::CATALOG_PREFIX.to_vec(),
                ws.snapshot,
            ));
        }
        preconditions.extend(ws.preconditions);
        preconditions.extend(
            ws.reads
                .into_iter()
                .map(|span| Precondition::NoWriteInRangeSince(span, ws.snapshot)),
        );
        let mut index_entries = ws.backfill;
        index_entries.extend(
            Arc::unwrap_or_clone(ws.index)
                .into_iter()
                .map(|(key, deleted)| IndexEntry {
                    key,
                    deleted,
                    at: None,
                }),
        );
        let commit = Commit {
            entries,
            preconditions,
            index_entries,
            no_sync: false,
            // Rows are read by revision only in HISTORY OF, which counts them.
            unnumbered: true,
        };
        Ok(Some(self.ledger.commit_with(commit).map_err(map_conflict)?))
    }

    /// The live value of a stored key at `snapshot`.
    fn committed_live(&self, key: &[u8], snapshot: TxId) -> Result<Option<Vec<u8>>> {
        Ok(self.ledger.get_latest(key, snapshot)?.map(|e| e.value))
    }

    /// The live entry of a stored key as the transaction sees it.
    fn entry_in(&self, key: &[u8], ws: &WriteSet) -> Result<Option<Entry>> {
        if let Some(w) = ws.pending(key) {
            return Ok(w.live().map(|value| Entry {
                key: key.to_vec(),
                value: value.to_vec(),
                metadata: w.metadata,
                tx: 0,
                revision: 0,
            }));
        }
        // Keys above every key ever written under a watched table need no read.
        if self.ledger.never_written(key) {
            return Ok(None);
        }
        Ok(self.ledger.get_latest(key, ws.snapshot)?)
    }

    /// `CREATE TABLE` in its own tx. `Ok(None)` when `IF NOT EXISTS` finds the table.
    pub fn create_table(&self, spec: &TableSpec) -> Result<Option<TxHeader>> {
        let mut ws = self.begin();
        self.create_table_in(&mut ws, spec)?;
        self.commit(ws)
    }

    /// `CREATE TABLE` inside a transaction; `false` when `IF NOT EXISTS` finds the table.
    pub fn create_table_in(&self, ws: &mut WriteSet, spec: &TableSpec) -> Result<bool> {
        let cat = self.catalog_in(ws)?;
        if cat.tables.contains_key(&spec.name) {
            return if spec.if_not_exists {
                Ok(false)
            } else {
                Err(SqlError::TableAlreadyExists(spec.name.clone()))
            };
        }
        let mut seen = std::collections::HashSet::new();
        for c in &spec.columns {
            if RESERVED.contains(&c.name.as_str()) {
                return Err(SqlError::ReservedWord(c.name.clone()));
            }
            if !seen.insert(c.name.as_str()) {
                return Err(SqlError::DuplicatedColumn(c.name.clone()));
            }
            if c.size.is_some() && !matches!(c.ty, SqlType::Varchar | SqlType::Blob | SqlType::Json)
            {
                return Err(SqlError::LimitedMaxLen);
            }
        }
        if spec.primary_key.is_empty() {
            return Err(SqlError::NoPrimaryKey);
        }
        let pk: Vec<&ColumnSpec> = spec
            .primary_key
            .iter()
            .map(|n| {
                spec.columns
                    .iter()
                    .find(|c| &c.name == n)
                    .ok_or_else(|| SqlError::ColumnDoesNotExist(n.clone()))
            })
            .collect::<Result<_>>()?;
        let pk_cols: Vec<(SqlType, u32, &str)> = pk
            .iter()
            .map(|c| {
                (
                    c.ty,
                    c.ty.stored_max_len(c.size.unwrap_or(0)),
                    c.name.as_str(),
                )
            })
            .collect();
        check_index_columns(&pk_cols)?;
        for c in &spec.columns {
            if c.auto_increment
                && !(pk.len() == 1 && pk[0].name == c.name && c.ty == SqlType::Integer)
            {
                return Err(SqlError::LimitedAutoIncrement);
            }
        }

        let table = cat.max_table_id + 1;
        let mut entries = Vec::with_capacity(spec.columns.len() + 2);
        let mut pk_ids = Vec::new();
        for (i, c) in spec.columns.iter().enumerate() {
            let id = i as u32 + 1;
            if spec.primary_key.contains(&c.name) {
                pk_ids.push((
                    spec.primary_key.iter().position(|n| n == &c.name).unwrap(),
                    id,
                ));
            }
            let flags = if c.not_null { FLAG_NOT_NULL } else { 0 }
                | if c.auto_increment {
                    FLAG_AUTO_INCREMENT
                } else {
                    0
                };
            entries.push(NewEntry::new(
                encoding::column_key(table, id, c.ty),
                encoding::column_value(flags, c.ty.stored_max_len(c.size.unwrap_or(0)), &c.name),
            ));
        }
        pk_ids.sort();
        let pk_ids: Vec<u32> = pk_ids.into_iter().map(|(_, id)| id).collect();
        entries.insert(
            0,
            NewEntry::new(
                encoding::index_key(table, PRIMARY_INDEX_ID),
                encoding::index_value(true, &pk_ids),
            ),
        );
        let table_key = encoding::table_key(table);
        entries.push(NewEntry::new(
            table_key.clone(),
            spec.name.as_bytes().to_vec(),
        ));
        let mut names = std::collections::HashSet::new();
        for (i, (name, expr)) in spec.checks.iter().enumerate() {
            let id = i as u32 + 1;
            let name = name
                .clone()
                .unwrap_or_else(|| format!("{}_check{id}", spec.name));
            if name.is_empty() || name.len() > encoding::MAX_CONSTRAINT_NAME_LEN {
                return Err(SqlError::ConstraintNameTooLong);
            }
            if !names.insert(name.clone()) {
                return Err(SqlError::ConstraintAlreadyExists(name));
            }
            entries.push(NewEntry::new(
                encoding::check_key(table, id),
                encoding::check_value(&name, expr),
            ));
        }
        ws.fresh.insert(table_key);
        for e in entries {
            ws.put(e);
        }
        if !spec.checks.is_empty() {
            // On error the request's transaction is discarded, these entries with it.
            check::validate(self.catalog_in(ws)?.table(&spec.name)?)?;
        }
        Ok(true)
    }

    /// `ALTER TABLE t DROP CONSTRAINT name`.
    pub fn drop_constraint_in(&self, ws: &mut WriteSet, table: &str, name: &str) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let c = t
            .checks
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| SqlError::ConstraintNotFound(name.to_string()))?;
        ws.drop_catalog_entry(
            encoding::check_key(t.id, c.id),
            encoding::check_value(&c.name, &c.expr),
        );
        Ok(())
    }

    /// `CREATE [UNIQUE] INDEX ON table (columns)` in its own tx; `Ok(None)` when
    /// `IF NOT EXISTS` finds it.
    pub fn create_index(
        &self,
        table: &str,
        columns: &[String],
        unique: bool,
        if_not_exists: bool,
    ) -> Result<Option<TxHeader>> {
        let mut ws = self.begin();
        self.create_index_in(&mut ws, table, columns, unique, if_not_exists)?;
        self.commit(ws)
    }

    /// `CREATE [UNIQUE] INDEX` inside a transaction; `false` when `IF NOT EXISTS` finds it.
    pub fn create_index_in(
        &self,
        ws: &mut WriteSet,
        table: &str,
        columns: &[String],
        unique: bool,
        if_not_exists: bool,
    ) -> Result<bool> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let cols: Vec<&Column> = columns.iter().map(|n| t.column(n)).collect::<Result<_>>()?;
        let ids: Vec<u32> = cols.iter().map(|c| c.id).collect();
        check_index_columns(
            &cols
                .iter()
                .map(|c| (c.ty, c.max_len, c.name.as_str()))
                .collect::<Vec<_>>(),
        )?;
        if t.indexes.iter().any(|i| i.columns == ids) {
            return if if_not_exists {
                Ok(false)
            } else {
                Err(SqlError::IndexAlreadyExists)
            };
        }
        if unique && !self.scan_in(t, 1, Some(ws))?.is_empty() {
            return Err(SqlError::LimitedIndexCreation);
        }
        let index = Index {
            id: t.max_index_id + 1,
            unique,
            columns: ids,
        };
        let key = encoding::index_key(t.id, index.id);
        ws.fresh.insert(key.clone());
        ws.put(NewEntry::new(
            key,
            encoding::index_value(unique, &index.columns),
        ));
        self.backfill_index(ws, t, &index)?;
        Ok(true)
    }

    /// Writes the entries of a new index for every committed version of the table's rows (at
    /// the versions' own txs) and for the transaction's pending rows.
    fn backfill_index(&self, ws: &mut WriteSet, t: &Table, index: &Index) -> Result<()> {
        let prefix = encoding::row_prefix(t.id);
        let mut backfill = Vec::new();
        let mut row: Vec<u8> = Vec::new();
        let mut live: Option<Vec<u8>> = None;
        let mut committed_live: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let pending: BTreeSet<Vec<u8>> =
            ws.pending_under(&prefix).map(|(k, _)| k.to_vec()).collect();
        self.ledger
            .for_each_version(&prefix, ws.snapshot, |key, tx, md, value| {
                if key != row.as_slice() {
                    if let Some(k) = live.take().filter(|_| pending.contains(&row)) {
                        committed_live.insert(row.clone(), k);
                    }
                    row = key.to_vec();
                }
                let entry = if md.deleted {
                    None
                } else {
                    let values = self.decode(t, value)?;
                    Some(index_entry_key(t, index, &values, &key[prefix.len()..])?)
                };
                if entry != live {
                    if let Some(old) = live.take() {
                        backfill.push(IndexEntry {
                            key: old,
                            deleted: true,
                            at: Some(tx),
                        });
                    }
                    if let Some(new) = &entry {
                        backfill.push(IndexEntry {
                            key: new.clone(),
                            deleted: false,
                            at: Some(tx),
                        });
                    }
                    live = entry;
                }
                Ok::<(), SqlError>(())
            })?;
        if let Some(k) = live.take().filter(|_| pending.contains(&row)) {
            committed_live.insert(row, k);
        }
        ws.backfill.extend(backfill);
        for key in pending {
            let new = match ws.pending(&key).and_then(PendingWrite::live) {
                None => None,
                Some(value) => {
                    let values = self.decode(t, value)?;
                    Some(index_entry_key(t, index, &values, &key[prefix.len()..])?)
                }
            };
            let old = committed_live.remove(&key);
            if old != new {
                if let Some(old) = old {
                    ws.put_index(old, true);
                }
                if let Some(new) = new {
                    ws.put_index(new, false);
                }
            }
        }
        // A row committed after the snapshot would be missing from the back-fill.
        ws.preconditions
            .push(Precondition::NoWriteUnderSince(prefix, ws.snapshot));
        Ok(())
    }

    /// Keeps the secondary indexes of one row in step with a write: `old` and `new` are the
    /// full rows before and after (`None`: absent). UNIQUE indexes are checked here against
    /// the snapshot and the transaction, and again at commit by a precondition.
    fn maintain_indexes(
        &self,
        ws: &mut WriteSet,
        t: &Table,
        pk_enc: &[u8],
        old: Option<&[Value]>,
        new: Option<&[Value]>,
    ) -> Result<()> {
        for index in t.indexes.iter().filter(|i| i.id != PRIMARY_INDEX_ID) {
            let old_key = old
                .map(|v| index_entry_key(t, index, v, pk_enc))
                .transpose()?;
            let new_key = new
                .map(|v| index_entry_key(t, index, v, pk_enc))
                .transpose()?;
            if old_key == new_key {
                continue;
            }
            if let Some(k) = old_key {
                ws.put_index(k, true);
            }
            let Some(k) = new_key else { continue };
            if index.unique {
                let prefix = k[..k.len() - pk_enc.len()].to_vec();
                if self.index_prefix_taken(ws, &prefix, &k)? {
                    return Err(SqlError::KeyAlreadyExists);
                }
                ws.preconditions
                    .push(Precondition::IndexPrefixFree(prefix, k.clone()));
            }
            ws.put_index(k, false);
        }
        Ok(())
    }

    /// Whether a live entry other than `except` starts with `prefix`, as the transaction sees it.
    fn index_prefix_taken(&self, ws: &WriteSet, prefix: &[u8], except: &[u8]) -> Result<bool> {
        let pending = ws
            .index
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix));
        for (k, deleted) in pending {
            if !deleted && k.as_slice() != except {
                return Ok(true);
            }
        }
        let committed = self.ledger.index_scan(&ScanQuery {
            prefix: prefix.to_vec(),
            snapshot: Some(ws.snapshot),
            ..Default::default()
        })?;
        Ok(committed
            .iter()
            .any(|e| e.key.as_slice() != except && ws.index.get(&e.key) != Some(&true)))
    }

    /// Row keys reached through a secondary index: its live entries in `ranges` (index-key
    /// bounds) at the snapshot, with the transaction's own index writes applied, in index order.
    pub fn index_row_keys(
        &self,
        t: &Table,
        index: &Index,
        ranges: &[KeyRange],
        snapshot: TxId,
        ws: Option<&WriteSet>,
    ) -> Result<Vec<Vec<u8>>> {
        let prefix = encoding::index_entry_prefix(t.id, index.id);
        let mut found: BTreeSet<Vec<u8>> = BTreeSet::new();
        for r in ranges {
            let mut q = ScanQuery {
                prefix: prefix.clone(),
                snapshot: Some(snapshot),
                ..Default::default()
            };
            r.apply(&mut q);
            found.extend(self.ledger.index_scan(&q)?.into_iter().map(|e| e.key));
            if let Some(ws) = ws {
                for (k, deleted) in ws.index.range(prefix.clone()..) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    if r.contains(k) {
                        if *deleted {
                            found.remove(k);
                        } else {
                            found.insert(k.clone());
                        }
                    }
                }
            }
        }
        let cols: Vec<&Column> = index
            .columns
            .iter()
            .map(|id| {
                t.column_by_id(*id)
                    .ok_or_else(|| SqlError::Corrupted("index on a dropped column".into()))
            })
            .collect::<Result<_>>()?;
        let rows = encoding::row_prefix(t.id);
        found
            .into_iter()
            .map(|k| {
                let mut at = prefix.len();
                for c in &cols {
                    at += encoding::key_value_width(&k[at..], c.ty, c.max_len)?;
                }
                let mut key = rows.clone();
                key.extend_from_slice(&k[at..]);
                Ok(key)
            })
            .collect()
    }

    /// Rows by row key as a transaction sees them (absent keys are skipped).
    pub fn rows_by_keys_in(&self, t: &Table, keys: &[Vec<u8>], ws: &WriteSet) -> Result<Vec<Row>> {
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(e) = self.entry_in(key, ws)? {
                rows.push(Row {
                    values: self.decode(t, &e.value)?,
                    tx: e.tx,
                    revision: 0,
                    deleted: false,
                });
            }
        }
        Ok(rows)
    }

    /// Committed rows by row key over a tx range (absent keys are skipped).
    pub fn rows_by_keys(&self, t: &Table, keys: &[Vec<u8>], range: TxRange) -> Result<Vec<Row>> {
        let mut rows = Vec::with_capacity(keys.len());
        if range.from == 0 || range.from > range.until {
            return Ok(rows);
        }
        for key in keys {
            if let Some(e) = self.ledger.get_latest(key, range.until)? {
                if e.tx >= range.from {
                    rows.push(Row {
                        values: self.decode(t, &e.value)?,
                        tx: e.tx,
                        revision: 0,
                        deleted: false,
                    });
                }
            }
        }
        Ok(rows)
    }

    /// `ALTER TABLE t ADD COLUMN c ...`: the new column must be nullable; existing rows read NULL.
    pub fn add_column_in(&self, ws: &mut WriteSet, table: &str, c: &ColumnSpec) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        if RESERVED.contains(&c.name.as_str()) {
            return Err(SqlError::ReservedWord(c.name.clone()));
        }
        if t.columns.iter().any(|x| x.name == c.name) {
            return Err(SqlError::ColumnAlreadyExists(c.name.clone()));
        }
        if c.size.is_some() && !matches!(c.ty, SqlType::Varchar | SqlType::Blob | SqlType::Json) {
            return Err(SqlError::LimitedMaxLen);
        }
        if c.auto_increment {
            return Err(SqlError::LimitedAutoIncrement);
        }
        if c.not_null {
            return Err(SqlError::NewColumnMustBeNullable(c.name.clone()));
        }
        let key = encoding::column_key(t.id, t.max_column_id + 1, c.ty);
        ws.fresh.insert(key.clone());
        ws.put(NewEntry::new(
            key,
            encoding::column_value(0, c.ty.stored_max_len(c.size.unwrap_or(0)), &c.name),
        ));
        Ok(())
    }

    fn column_entry(t: &Table, c: &Column, name: &str, deleted: bool) -> NewEntry {
        let flags = if c.not_null { FLAG_NOT_NULL } else { 0 }
            | if c.auto_increment {
                FLAG_AUTO_INCREMENT
            } else {
                0
            };
        NewEntry {
            key: encoding::column_key(t.id, c.id, c.ty),
            metadata: KvMetadata {
                deleted,
                ..Default::default()
            },
            value: encoding::column_value(flags, c.max_len, name),
        }
    }

    /// `ALTER TABLE t RENAME COLUMN a TO b`.
    pub fn rename_column_in(
        &self,
        ws: &mut WriteSet,
        table: &str,
        old: &str,
        new: &str,
    ) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let c = t.column(old)?;
        if old == new {
            return Err(SqlError::SameOldAndNewNames(old.to_string()));
        }
        if RESERVED.contains(&new) {
            return Err(SqlError::ReservedWord(new.to_string()));
        }
        if t.columns.iter().any(|x| x.name == new) {
            return Err(SqlError::ColumnAlreadyExists(new.to_string()));
        }
        let e = Self::column_entry(t, c, new, false);
        ws.guard(e.key.clone());
        ws.put(e);
        // Checks follow the column: their stored text names it by its new name.
        for ck in &t.checks {
            if check::names_column(&ck.expr, old)? {
                let key = encoding::check_key(t.id, ck.id);
                let expr = check::rename_column(&ck.expr, old, new)?;
                ws.guard(key.clone());
                ws.put(NewEntry::new(key, encoding::check_value(&ck.name, &expr)));
            }
        }
        Ok(())
    }

    /// `ALTER TABLE t DROP COLUMN c`: refused while an index or a CHECK uses the column.
    pub fn drop_column_in(&self, ws: &mut WriteSet, table: &str, column: &str) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let c = t.column(column)?;
        if t.indexes.iter().any(|i| i.columns.contains(&c.id)) {
            return Err(SqlError::CannotDropIndexedColumn(column.to_string()));
        }
        for ck in &t.checks {
            if check::names_column(&ck.expr, column)? {
                return Err(SqlError::CannotDropCheckedColumn {
                    column: column.to_string(),
                    constraint: ck.name.clone(),
                });
            }
        }
        let e = Self::column_entry(t, c, &c.name, true);
        ws.guard(e.key.clone());
        ws.put(e);
        Ok(())
    }

    /// `ALTER TABLE t RENAME TO t2`.
    pub fn rename_table_in(&self, ws: &mut WriteSet, old: &str, new: &str) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(old)?;
        if old == new {
            return Err(SqlError::SameOldAndNewNames(old.to_string()));
        }
        if cat.tables.contains_key(new) {
            return Err(SqlError::TableAlreadyExists(new.to_string()));
        }
        let key = encoding::table_key(t.id);
        ws.guard(key.clone());
        ws.put(NewEntry::new(key, new.as_bytes().to_vec()));
        Ok(())
    }

    /// `DROP TABLE t`: its catalog entries become deletes; its rows stay in the log. `false`
    /// when `IF EXISTS` finds no table.
    pub fn drop_table_in(&self, ws: &mut WriteSet, table: &str, if_exists: bool) -> Result<bool> {
        let cat = self.catalog_in(ws)?;
        let t = match cat.table(table) {
            Ok(t) => t,
            Err(_) if if_exists => return Ok(false),
            Err(e) => return Err(e),
        };
        let deleted = KvMetadata {
            deleted: true,
            ..Default::default()
        };
        let mut entries = vec![NewEntry {
            key: encoding::table_key(t.id),
            metadata: deleted,
            value: t.name.as_bytes().to_vec(),
        }];
        entries.extend(
            t.columns
                .iter()
                .map(|c| Self::column_entry(t, c, &c.name, true)),
        );
        entries.extend(t.indexes.iter().map(|i| NewEntry {
            key: encoding::index_key(t.id, i.id),
            metadata: deleted,
            value: encoding::index_value(i.unique, &i.columns),
        }));
        // Unlike classic immudb (spec §2.4 item 2), a table with checks can be dropped.
        entries.extend(t.checks.iter().map(|c| NewEntry {
            key: encoding::check_key(t.id, c.id),
            metadata: deleted,
            value: encoding::check_value(&c.name, &c.expr),
        }));
        for e in entries {
            ws.guard(e.key.clone());
            ws.put(e);
        }
        Ok(true)
    }

    /// `DROP INDEX ON t (cols)`: the primary index cannot be dropped.
    pub fn drop_index_in(&self, ws: &mut WriteSet, table: &str, columns: &[String]) -> Result<()> {
        let cat = self.catalog_in(ws)?;
        let t = cat.table(table)?;
        let name = format!("{table}({})", columns.join(","));
        let ids: Vec<u32> = columns
            .iter()
            .map(|n| t.column(n).map(|c| c.id))
            .collect::<Result<_>>()?;
        let idx = t
            .indexes
            .iter()
            .find(|i| i.columns == ids)
            .ok_or(SqlError::IndexNotFound(name))?;
        if idx.id == PRIMARY_INDEX_ID {
            return Err(SqlError::IllegalArguments(
                "primary key index can NOT be deleted".into(),
            ));
        }
        ws.drop_catalog_entry(
            encoding::index_key(t.id, idx.id),
            encoding::index_value(idx.unique, &idx.columns),
        );
        Ok(())
    }

    /// The row key of `pk` (values in primary-key order).
    pub fn row_key(&self, t: &Table, pk: &[Value]) -> Result<Vec<u8>> {
        let cols = t.pk_columns();
        if pk.len() != cols.len() {
            return Err(SqlError::InvalidNumberOfValues);
        }
        let mut key = encoding::row_prefix(t.id);
        for (c, v) in cols.iter().zip(pk) {
            push_pk_value(&mut key, c, &convert(v, c, &t.name)?)?;
        }
        Ok(key)
    }

    /// The row key of a full row whose values are already converted to their columns' types.
    fn row_key_of(
        &self,
        t: &Table,
        prefix: &[u8],
        pk_positions: &[usize],
        values: &[Value],
    ) -> Result<Vec<u8>> {
        let mut key = Vec::with_capacity(prefix.len() + 9 * pk_positions.len());
        key.extend_from_slice(prefix);
        for &p in pk_positions {
            push_pk_value(&mut key, &t.columns[p], &values[p])?;
        }
        Ok(key)
    }

    /// Writes rows of one table in one tx. Each row lists `(column name, value)`; columns not
    /// listed are NULL (or allocated, for an AUTO_INCREMENT primary key on insert).
    pub fn write_rows(
        &self,
        table: &str,
        rows: Vec<(WriteKind, Vec<(String, Value)>)>,
    ) -> Result<WriteOutcome> {
        let mut ws = self.begin();
        let mut outcome = WriteOutcome::default();
        for (kind, row) in rows {
            let cat = self.catalog_in(&ws)?;
            let (columns, values): (Vec<String>, Vec<Value>) = row.into_iter().unzip();
            let o = self.write_rows_in(&mut ws, cat.table(table)?, &columns, kind, vec![values])?;
            outcome.updated_rows += o.updated_rows;
            if outcome.first_inserted_pk.is_none() {
                outcome.first_inserted_pk = o.first_inserted_pk;
            }
            outcome.last_inserted_pk = o.last_inserted_pk.or(outcome.last_inserted_pk);
            outcome.inserted_into = o.inserted_into.or(outcome.inserted_into);
        }
        outcome.tx = self.commit(ws)?;
        Ok(outcome)
    }

    /// Writes rows of table `t` (as the transaction's catalog has it) inside a transaction, all
    /// the same way (`kind`). Each row gives the values of `columns`, in that order; columns
    /// not listed are NULL (or allocated, for an AUTO_INCREMENT primary key on insert).
    pub fn write_rows_in(
        &self,
        ws: &mut WriteSet,
        t: &Table,
        columns: &[String],
        kind: WriteKind,
        rows: Vec<Vec<Value>>,
    ) -> Result<WriteOutcome> {
        // Watched, the table's rows let the ledger answer existence checks of new keys above
        // the greatest one, and commit-time conflict checks, without reads.
        let prefix = encoding::row_prefix_array(t.id);
        let greatest = match ws.greatest.iter().position(|(id, _)| *id == t.id) {
            Some(i) => i,
            None => {
                // Read after the snapshot was taken: it covers every tx the snapshot holds.
                let max = self.ledger.watch_greatest_key(&prefix)?;
                ws.greatest.push((t.id, max));
                ws.greatest.len() - 1
            }
        };
        // A column listed twice would write one of its values and drop the other.
        if let Some(name) = (1..columns.len()).find_map(|i| {
            columns[..i]
                .contains(&columns[i])
                .then(|| columns[i].clone())
        }) {
            return Err(SqlError::DuplicatedColumn(name));
        }
        // Rows that list every column in the table's order are used as they are.
        let in_table_order = columns.len() == t.columns.len()
            && columns.iter().zip(&t.columns).all(|(n, c)| *n == c.name);
        let positions = match in_table_order {
            true => Vec::new(),
            false => columns
                .iter()
                .map(|name| {
                    t.columns
                        .iter()
                        .position(|c| c.name == *name)
                        .ok_or_else(|| SqlError::ColumnDoesNotExist(name.clone()))
                })
                .collect::<Result<Vec<usize>>>()?,
        };
        let pk_position = |id: &u32| t.columns.iter().position(|c| c.id == *id);
        // A one-column key (the common case) needs no list.
        let (pk_one, pk_many): (Option<usize>, Vec<usize>);
        let pk_positions: &[usize] = match t.primary_key().columns.as_slice() {
            [id] => {
                pk_one = pk_position(id);
                pk_one.as_slice()
            }
            ids => {
                pk_many = ids.iter().filter_map(pk_position).collect();
                &pk_many
            }
        };
        let auto = match pk_positions {
            [p] if t.columns[*p].auto_increment => Some(*p),
            _ => None,
        };
        let mut max_auto = match auto {
            Some(_) => self.max_auto_increment(t, ws)?,
            None => 0,
        };
        let checks = match t.checks.is_empty() {
            true => None,
            false => Some(check::Checks::compile(t)?),
        };
        let mut checked_rows: Vec<Vec<Value>> = Vec::new();
        // Only a statement of several rows can write one twice.
        let mut written = std::collections::HashSet::new();
        let several = rows.len() > 1;
        let secondary = t.indexes.len() > 1;
        let prefix_len = prefix.len();
        let snapshot = ws.snapshot;
        let mut outcome = WriteOutcome::default();
        let mut last_inserted: Option<Vec<Value>> = None;
        // Each row is written as soon as it is checked: a failed statement cancels its whole
        // transaction, so a partly written statement is never committed.
        for given in rows {
            // Full row in column order, converted and checked.
            let mut values = match in_table_order {
                true => given,
                false => {
                    let mut values = vec![Value::Null; t.columns.len()];
                    for (&pos, v) in positions.iter().zip(given) {
                        values[pos] = v;
                    }
                    values
                }
            };
            for (v, c) in values.iter_mut().zip(&t.columns) {
                *v = convert_owned(std::mem::replace(v, Value::Null), c, &t.name)?;
            }
            // An explicit AUTO_INCREMENT key at or below the highest one ever written must name
            // an existing row, for UPSERT too; only INSERT allocates a key it is not given.
            let mut explicit_old_id = false;
            if let Some(pos) = auto {
                let allocates = matches!(kind, WriteKind::Insert | WriteKind::InsertOrIgnore);
                match values[pos] {
                    Value::Null if allocates => {
                        max_auto += 1;
                        values[pos] = Value::Integer(max_auto);
                    }
                    Value::Integer(v) if v > max_auto => max_auto = v,
                    Value::Integer(_) if kind != WriteKind::Delete => explicit_old_id = true,
                    _ => {}
                }
            }
            let key = self.row_key_of(t, &prefix, pk_positions, &values)?;
            if several && !written.insert(key.clone()) {
                return Err(SqlError::IllegalArguments(
                    "a statement writes the same row twice".into(),
                ));
            }
            // Index maintenance needs the key after the pending map took it.
            let index_key = secondary.then(|| key.clone());
            let above = ws.greatest[greatest]
                .1
                .as_ref()
                .is_none_or(|max| key > *max);
            let mut inserted = false;
            let (existing, slot) = ws.guarded_slot(key, |k| match above {
                true => Ok(None),
                false => self.committed_live(k, snapshot),
            })?;
            let old_values = match (&existing, secondary) {
                (Some(v), true) => Some(self.decode(t, v)?),
                _ => None,
            };
            let write = match kind {
                WriteKind::Delete => {
                    let Some(old) = existing else { continue };
                    (
                        PendingWrite {
                            metadata: KvMetadata {
                                deleted: true,
                                ..Default::default()
                            },
                            value: old,
                        },
                        None,
                    )
                }
                WriteKind::Insert | WriteKind::InsertOrIgnore | WriteKind::Upsert => {
                    if existing.is_some() && kind == WriteKind::Insert {
                        return Err(SqlError::KeyAlreadyExists);
                    }
                    if existing.is_some() && kind == WriteKind::InsertOrIgnore {
                        continue;
                    }
                    if explicit_old_id && existing.is_none() {
                        return Err(SqlError::InvalidValue(
                            "specified value must be greater than current one".into(),
                        ));
                    }
                    for (c, v) in t.columns.iter().zip(&values) {
                        if c.not_null && v.is_null() {
                            return Err(SqlError::NotNullableColumnCannotBeNull(c.name.clone()));
                        }
                    }
                    let row = encoding::encode_row(t.columns.iter().map(|c| c.id).zip(&values));
                    inserted = existing.is_none();
                    if inserted && outcome.first_inserted_pk.is_none() {
                        outcome.first_inserted_pk =
                            Some(pk_positions.iter().map(|&p| values[p].clone()).collect());
                    }
                    (
                        PendingWrite {
                            metadata: KvMetadata::default(),
                            value: row,
                        },
                        Some(values),
                    )
                }
            };
            let (write, new_values) = write;
            match index_key {
                Some(key) => {
                    self.maintain_indexes(
                        ws,
                        t,
                        &key[prefix_len..],
                        old_values.as_deref(),
                        new_values.as_deref(),
                    )?;
                    ws.put_write(key, write);
                }
                None => slot.write = Some(write),
            }
            if let Some(values) = new_values {
                match (inserted, checks.is_some()) {
                    (true, false) => last_inserted = Some(values),
                    (true, true) => {
                        last_inserted = Some(values.clone());
                        checked_rows.push(values);
                    }
                    (false, true) => checked_rows.push(values),
                    (false, false) => {}
                }
            }
            outcome.updated_rows += 1;
        }
        if let Some(checks) = &checks {
            checks.verify(&checked_rows)?;
        }
        // The last inserted row's values become its key's (one key column: in place).
        outcome.last_inserted_pk = last_inserted.map(|mut values| match *pk_positions {
            [p] => {
                values.swap(0, p);
                values.truncate(1);
                values
            }
            _ => pk_positions.iter().map(|&p| values[p].clone()).collect(),
        });
        if outcome.last_inserted_pk.is_some() {
            outcome.inserted_into = Some(t.name.clone());
        }
        Ok(outcome)
    }

    /// The highest primary key ever written to an AUTO_INCREMENT table, deleted rows included.
    fn max_auto_increment(&self, t: &Table, ws: &WriteSet) -> Result<i64> {
        let prefix = encoding::row_prefix(t.id);
        let last = self.ledger.scan(&ScanQuery {
            prefix: prefix.clone(),
            desc: true,
            limit: 1,
            include_deleted: true,
            snapshot: Some(ws.snapshot),
            ..Default::default()
        })?;
        let stored = last.first().map(|e| e.key.clone());
        let pending = ws.pending_under(&prefix).last().map(|(k, _)| k.to_vec());
        let Some(key) = stored.into_iter().chain(pending).max() else {
            return Ok(0);
        };
        let k = &key[prefix.len()..];
        if k.len() != 9 || k[0] != encoding::VALUE_KEY_TAG {
            return Err(SqlError::Corrupted("malformed AUTO_INCREMENT key".into()));
        }
        Ok((u64::from_be_bytes(k[1..].try_into().unwrap()) ^ (1u64 << 63)) as i64)
    }

    fn decode(&self, t: &Table, value: &[u8]) -> Result<Vec<Value>> {
        let mut values = vec![Value::Null; t.columns.len()];
        for (id, bytes) in encoding::decode_row(value)? {
            // Columns dropped since keep their ids reserved: skip them.
            if let Some(pos) = t.columns.iter().position(|c| c.id == id) {
                values[pos] = encoding::decode_raw_value(t.columns[pos].ty, bytes)?;
            }
        }
        Ok(values)
    }

    /// The row with primary key `pk` as a transaction sees it (its own writes included).
    pub fn get_in(&self, t: &Table, pk: &[Value], ws: Option<&WriteSet>) -> Result<Option<Row>> {
        let Some(ws) = ws else {
            return self.get(t, pk, self.ledger.state().tx_id);
        };
        let key = self.row_key(t, pk)?;
        self.row_in(t, &key, ws)
    }

    /// [`SqlStore::get_in`] inside a transaction, the row's key guarded as read (unless the
    /// transaction only reads): its commit fails if another tx changed the row meanwhile.
    pub fn get_in_guarded(
        &self,
        t: &Table,
        pk: &[Value],
        ws: &mut WriteSet,
    ) -> Result<Option<Row>> {
        let key = self.row_key(t, pk)?;
        let row = self.row_in(t, &key, ws)?;
        ws.guard_read(key);
        Ok(row)
    }

    fn row_in(&self, t: &Table, key: &[u8], ws: &WriteSet) -> Result<Option<Row>> {
        Ok(match self.entry_in(key, ws)? {
            Some(e) => Some(Row {
                values: self.decode(t, &e.value)?,
                tx: e.tx,
                revision: 0,
                deleted: false,
            }),
            None => None,
        })
    }

    /// The row with primary key `pk` as of `snapshot`, if it exists.
    pub fn get(&self, t: &Table, pk: &[Value], snapshot: TxId) -> Result<Option<Row>> {
        let key = self.row_key(t, pk)?;
        match self.ledger.get_latest(&key, snapshot)? {
            Some(e) => Ok(Some(Row {
                values: self.decode(t, &e.value)?,
                tx: e.tx,
                revision: 0,
                deleted: false,
            })),
            None => Ok(None),
        }
    }

    /// The table's rows in primary-key order over a tx range (at most `limit`, 0: all).
    /// The table as a transaction sees it: its snapshot plus its own writes, in key order.
    pub fn scan_in(&self, t: &Table, limit: usize, ws: Option<&WriteSet>) -> Result<Vec<Row>> {
        self.scan_keys_in(t, &KeyRange::default(), limit, ws)
    }

    /// [`SqlStore::scan_in`] restricted to row keys in `keys`.
    pub fn scan_keys_in(
        &self,
        t: &Table,
        keys: &KeyRange,
        limit: usize,
        ws: Option<&WriteSet>,
    ) -> Result<Vec<Row>> {
        let Some(ws) = ws.filter(|w| !w.is_empty()) else {
            let until = ws
                .map(|w| w.snapshot)
                .unwrap_or_else(|| self.ledger.state().tx_id);
            return self.scan_keys(t, TxRange { from: 1, until }, keys, limit);
        };
        let prefix = encoding::row_prefix(t.id);
        let mut rows: BTreeMap<Vec<u8>, Row> = BTreeMap::new();
        let mut q = ScanQuery {
            prefix: prefix.clone(),
            snapshot: Some(ws.snapshot),
            ..Default::default()
        };
        keys.apply(&mut q);
        for e in self.ledger.scan(&q)? {
            rows.insert(
                e.key,
                Row {
                    values: self.decode(t, &e.value)?,
                    tx: e.tx,
                    revision: 0,
                    deleted: false,
                },
            );
        }
        for (key, w) in ws.pending_under(&prefix).filter(|(k, _)| keys.contains(k)) {
            match w.live() {
                None => {
                    rows.remove(key);
                }
                Some(value) => {
                    rows.insert(
                        key.to_vec(),
                        Row {
                            values: self.decode(t, value)?,
                            tx: 0,
                            revision: 0,
                            deleted: false,
                        },
                    );
                }
            }
        }
        let limit = if limit == 0 { usize::MAX } else { limit };
        Ok(rows.into_values().take(limit).collect())
    }

    /// Committed rows over a tx range (time travel); a transaction's own writes are not seen.
    pub fn scan(&self, t: &Table, range: TxRange, limit: usize) -> Result<Vec<Row>> {
        self.scan_keys(t, range, &KeyRange::default(), limit)
    }

    /// [`SqlStore::scan`] restricted to row keys in `keys`.
    pub fn scan_keys(
        &self,
        t: &Table,
        range: TxRange,
        keys: &KeyRange,
        limit: usize,
    ) -> Result<Vec<Row>> {
        if range.from == 0 || range.from > range.until {
            return Ok(Vec::new());
        }
        let mut q = ScanQuery {
            prefix: encoding::row_prefix(t.id),
            snapshot: Some(range.until),
            ..Default::default()
        };
        keys.apply(&mut q);
        let entries = self.ledger.scan(&q)?;
        let mut rows = Vec::new();
        for e in entries.into_iter().filter(|e| e.tx >= range.from) {
            rows.push(Row {
                values: self.decode(t, &e.value)?,
                tx: e.tx,
                revision: 0,
                deleted: false,
            });
            if rows.len() == limit {
                break;
            }
        }
        Ok(rows)
    }

    /// Committed rows over a tx range decoded straight into Arrow batches of the projected
    /// columns (`projection`: positions among the live columns), as partitions for DataFusion.
    /// A long scan is split in two halves of the remaining key range, read on two threads.
    pub fn scan_batches(
        &self,
        t: &Table,
        range: TxRange,
        keys: &KeyRange,
        limit: usize,
        projection: &[usize],
        schema: &SchemaRef,
    ) -> Result<Vec<Vec<RecordBatch>>> {
        /// Rows read on the calling thread before the rest is split.
        const SPLIT_AFTER: usize = 16_384;
        if range.from == 0 || range.from > range.until {
            return Ok(vec![Vec::new()]);
        }
        let mut q = ScanQuery {
            prefix: encoding::row_prefix(t.id),
            snapshot: Some(range.until),
            ..Default::default()
        };
        keys.apply(&mut q);
        let read = |q: &ScanQuery, stop_after: usize| -> Result<(BatchBuilder, Option<Vec<u8>>)> {
            let mut b = BatchBuilder::new(t, projection, schema);
            let mut err = None;
            let mut resume = None;
            self.ledger.visit(q, |key, tx, value| {
                if tx < range.from {
                    return true;
                }
                if let Err(e) = b.push(value) {
                    err = Some(e);
                    return false;
                }
                if b.len() == stop_after {
                    resume = Some(key.to_vec());
                    return false;
                }
                true
            })?;
            match err {
                Some(e) => Err(e),
                None => Ok((b, resume)),
            }
        };
        let first = if limit > 0 { limit } else { SPLIT_AFTER };
        let (head, resume) = read(&q, first)?;
        let Some(resume) = resume.filter(|_| limit == 0) else {
            return Ok(vec![head.finish()?]);
        };
        // The rest, from just after `resume` to the range's last key, in two halves.
        let mut rest = q.clone();
        rest.seek_key = Some(resume.clone());
        rest.inclusive_seek = false;
        let last = self.ledger.scan(&ScanQuery {
            desc: true,
            limit: 1,
            seek_key: q.end_key.clone(),
            inclusive_seek: q.inclusive_end,
            end_key: Some(resume.clone()),
            inclusive_end: false,
            ..q.clone()
        })?;
        let halves = match last.first().and_then(|l| midpoint(&resume, &l.key)) {
            Some(mid) => {
                let mut a = rest.clone();
                a.end_key = Some(mid.clone());
                a.inclusive_end = false;
                let mut b = rest;
                b.seek_key = Some(mid);
                b.inclusive_seek = true;
                vec![a, b]
            }
            None => vec![rest],
        };
        let mut parts = vec![head.finish()?];
        std::thread::scope(|scope| -> Result<()> {
            let handles: Vec<_> = halves
                .iter()
                .skip(1)
                .map(|h| scope.spawn(|| read(h, usize::MAX)))
                .collect();
            let (own, _) = read(&halves[0], usize::MAX)?;
            parts.push(own.finish()?);
            for h in handles {
                let (b, _) = h
                    .join()
                    .map_err(|_| SqlError::Corrupted("a scan thread panicked".into()))??;
                parts.push(b.finish()?);
            }
            Ok(())
        })?;
        // Two partitions for DataFusion: the head joins the first half.
        let mut parts = parts.into_iter();
        let mut first_part = parts.next().unwrap_or_default();
        first_part.extend(parts.next().unwrap_or_default());
        let mut out = vec![first_part];
        out.extend(parts);
        Ok(out)
    }

    /// `HISTORY OF t`: every version of every row, by primary key then revision; a delete is a
    /// revision carrying the last values.
    pub fn history(&self, t: &Table, snapshot: TxId) -> Result<Vec<Row>> {
        let keys = self.ledger.scan(&ScanQuery {
            prefix: encoding::row_prefix(t.id),
            snapshot: Some(snapshot),
            include_deleted: true,
            ..Default::default()
        })?;
        let mut rows = Vec::new();
        for k in keys {
            for v in self.ledger.history(
                &k.key,
                &HistoryQuery {
                    snapshot: Some(snapshot),
                    ..Default::default()
                },
            )? {
                rows.push(Row {
                    values: self.decode(t, &v.value)?,
                    tx: v.tx,
                    revision: v.revision,
                    deleted: v.metadata.deleted,
                });
            }
        }
        Ok(rows)
    }
}

/// A key between `a` and `b` (`a < b`), splitting the keys between them roughly in half when
/// they are spread evenly; `None` when they are too close to split.
fn midpoint(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let word = |k: &[u8]| {
        let mut w = [0u8; 8];
        let tail = k.get(common..).unwrap_or(&[]);
        let n = tail.len().min(8);
        w[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(w)
    };
    let (x, y) = (word(a), word(b));
    if y <= x || y - x < 2 {
        return None;
    }
    let mut mid = a[..common].to_vec();
    mid.extend_from_slice(&(x + (y - x) / 2).to_be_bytes());
    Some(mid)
}

/// The entry key of a row in a secondary index: `M.{table}{index}`, the key encoding of the
/// indexed columns, then the row's encoded primary key (`values` is the full row).
pub fn index_entry_key(
    t: &Table,
    index: &Index,
    values: &[Value],
    pk_enc: &[u8],
) -> Result<Vec<u8>> {
    let mut k = encoding::index_entry_prefix(t.id, index.id);
    for id in &index.columns {
        let pos = t
            .columns
            .iter()
            .position(|c| c.id == *id)
            .ok_or_else(|| SqlError::Corrupted("index on a dropped column".into()))?;
        let c = &t.columns[pos];
        k.extend_from_slice(&encoding::encode_key_value(&values[pos], c.ty, c.max_len)?);
    }
    k.extend_from_slice(pk_enc);
    Ok(k)
}

/// Primary keys and indexes: at most 8 columns, no JSON, sized VARCHAR/BLOB within the key limit.
fn check_index_columns(cols: &[(SqlType, u32, &str)]) -> Result<()> {
    if cols.len() > MAX_INDEX_COLUMNS {
        return Err(SqlError::MaxNumberOfColumnsInIndexExceeded);
    }
    for (ty, max_len, name) in cols {
        if *ty == SqlType::Json {
            return Err(SqlError::CannotIndexJson);
        }
        if matches!(ty, SqlType::Varchar | SqlType::Blob)
            && (*max_len == 0 || *max_len > MAX_KEY_LEN)
        {
            return Err(SqlError::LimitedKeyType(format!(
                "can not create index using column '{name}'. Max key length for variable columns is {MAX_KEY_LEN}"
            )));
        }
    }
    let total: u32 = cols.iter().map(|(_, l, _)| l + 5).sum();
    if total > MAX_KEY_LEN + 5 * cols.len() as u32 && cols.len() > 1 {
        let names: Vec<&str> = cols.iter().map(|(_, _, n)| *n).collect();
        return Err(SqlError::LimitedKeyType(format!(
            "can not create index using columns '[{}]'. Max key length is {MAX_KEY_LEN}",
            names.join(" ")
        )));
    }
    Ok(())
}

/// Appends a primary-key value, already of its column's type, to a row key.
fn push_pk_value(key: &mut Vec<u8>, c: &Column, v: &Value) -> Result<()> {
    if v.is_null() {
        return Err(SqlError::PkCanNotBeNull);
    }
    encoding::encode_key_value_into(key, v, c.ty, c.max_len)
}

/// Whether `v` already has the type of a column of type `ty` (NULL fits every column).
fn has_type(ty: SqlType, v: &Value) -> bool {
    matches!(
        (ty, v),
        (_, Value::Null)
            | (SqlType::Integer, Value::Integer(_))
            | (SqlType::Boolean, Value::Boolean(_))
            | (SqlType::Varchar, Value::Varchar(_))
            | (SqlType::Blob, Value::Blob(_))
            | (SqlType::Float, Value::Float(_))
            | (SqlType::Timestamp, Value::Timestamp(_))
            | (SqlType::Uuid, Value::Uuid(_))
            | (SqlType::Json, Value::Json(_))
    )
}

/// [`convert`] of an owned value: one already of the column's type is moved, not copied.
pub fn convert_owned(v: Value, c: &Column, table: &str) -> Result<Value> {
    if !has_type(c.ty, &v) {
        return convert(&v, c, table);
    }
    check_size(&v, c, table)?;
    Ok(v)
}

/// Converts a value for a column (int ↔ float, string → int/float/uuid), checking its size.
pub fn convert(v: &Value, c: &Column, table: &str) -> Result<Value> {
    let cast_err = |what: &str| {
        SqlError::InvalidValue(format!(
            "unsupported cast: can not cast {what} as a {}: table: {table}, column: {}",
            c.ty.name(),
            c.name
        ))
    };
    // What the message names: `string 'abc'` as classic says it, else the type and value.
    let described = |v: &Value| match (v, v.sql_type()) {
        (Value::Varchar(s), _) => format!("string '{s}'"),
        (_, Some(ty)) => format!("{} {}", ty.name(), crate::slt::render(v)),
        (_, None) => crate::slt::render(v),
    };
    let out = match (c.ty, v) {
        _ if has_type(c.ty, v) => v.clone(),
        (SqlType::Float, Value::Integer(i)) => Value::Float(*i as f64),
        (SqlType::Integer, Value::Float(f)) => Value::Integer(f.trunc() as i64),
        (SqlType::Integer, Value::Varchar(s)) => {
            Value::Integer(s.trim().parse().map_err(|_| cast_err(&described(v)))?)
        }
        (SqlType::Float, Value::Varchar(s)) => {
            Value::Float(s.trim().parse().map_err(|_| cast_err(&described(v)))?)
        }
        (SqlType::Json, Value::Varchar(s)) => {
            // Stored as compact text; anything that is not JSON is refused.
            let parsed: serde_json::Value = serde_json::from_str(s).map_err(|_| {
                SqlError::InvalidValue(format!(
                    "invalid json value: table: {table}, column: {}",
                    c.name
                ))
            })?;
            Value::Json(parsed.to_string())
        }
        (SqlType::Json, other) if !matches!(other, Value::Blob(_) | Value::Uuid(_)) => {
            let text = match other {
                Value::Integer(i) => i.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Boolean(b) => b.to_string(),
                _ => return Err(cast_err(&described(other))),
            };
            Value::Json(text)
        }
        (SqlType::Uuid, Value::Varchar(s)) => {
            Value::Uuid(crate::types::parse_uuid(s).ok_or_else(|| cast_err(&described(v)))?)
        }
        (SqlType::Timestamp, Value::Varchar(_)) => {
            return Err(SqlError::NotATimestamp {
                table: table.to_string(),
                column: c.name.clone(),
            })
        }
        (_, other) => return Err(cast_err(&described(other))),
    };
    check_size(&out, c, table)?;
    Ok(out)
}

/// A VARCHAR[n] or BLOB[n] value must fit its column.
fn check_size(v: &Value, c: &Column, table: &str) -> Result<()> {
    let len = match v {
        Value::Varchar(s) => s.len(),
        Value::Blob(b) => b.len(),
        _ => 0,
    };
    if matches!(c.ty, SqlType::Varchar | SqlType::Blob) && c.max_len > 0 && len > c.max_len as usize
    {
        return Err(SqlError::MaxLengthExceeded {
            table: table.to_string(),
            column: c.name.clone(),
        });
    }
    Ok(())
}
