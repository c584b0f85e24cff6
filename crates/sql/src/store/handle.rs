//! The store handle: the catalog as of a snapshot or inside a transaction, and beginning and
//! committing transactions (one ledger tx each).

use super::cache::ColumnCache;
use super::catalog::{Catalog, PendingCatalogWrite};
use super::checks::{CheckEvaluator, NoEvaluator};
use super::encoding::{self};
use super::helper::Helper;
use super::write_set::WriteSet;
use crate::error::{Result, SqlError};
use std::collections::HashSet;
use std::sync::Arc;
use stele_ledger::proof::{TxHeader, TxId};
use stele_ledger::{Commit, Entry, IndexEntry, Ledger, LedgerError, NewEntry, Precondition};

/// A database's SQL store over its ledger.
pub struct SqlStore {
    pub(super) ledger: Arc<Ledger>,
    /// Tables' current rows as Arrow batches, kept between queries.
    pub(super) columns: ColumnCache,
    /// The newest catalog read, reused while no catalog key changed (the ledger watches them).
    pub(super) cache: parking_lot::Mutex<Option<Catalog>>,
    /// Evaluates CHECK constraints before rows are written.
    pub(super) checks: Arc<dyn CheckEvaluator>,
    /// Reads parts of a read cut in parts, beside the caller.
    pub(super) reader: Helper,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlStore")
    }
}

pub(super) fn map_conflict(e: LedgerError) -> SqlError {
    match e {
        LedgerError::PreconditionFailed(_) => SqlError::ReadConflict,
        other => SqlError::Ledger(other),
    }
}

/// The folder, in the ledger's directory, of the tables' column copies (see `cache.rs`).
pub const COLUMN_COPIES_DIR: &str = "sql-columns";

impl SqlStore {
    /// A store without an evaluator of CHECK constraints: tables with checks cannot be written
    /// (the engine opens its store with [`SqlStore::with_checks`]).
    pub fn new(ledger: Arc<Ledger>) -> Result<SqlStore> {
        SqlStore::with_checks(ledger, Arc::new(NoEvaluator))
    }

    /// A store that evaluates CHECK constraints with `checks` before it writes rows.
    pub fn with_checks(ledger: Arc<Ledger>, checks: Arc<dyn CheckEvaluator>) -> Result<SqlStore> {
        ledger.watch_prefix(encoding::CATALOG_PREFIX)?;
        let columns = ColumnCache::new(super::cache::DEFAULT_BUDGET);
        columns.set_dir(Some(ledger.path().join(COLUMN_COPIES_DIR)));
        let store = SqlStore {
            ledger,
            columns,
            cache: parking_lot::Mutex::new(None),
            checks,
            reader: Helper::start(),
        };
        // Copies of tables dropped since they were written take disk space and never answer
        // (a catalog that cannot be read here fails the first statement that needs it instead).
        if let Ok(cat) = store.catalog(None) {
            let live: HashSet<u32> = cat.tables.values().map(|t| t.id).collect();
            store
                .columns
                .remove_dropped_copies(cat.max_table_id, |id| live.contains(&id));
        }
        Ok(store)
    }

    /// The ledger this store keeps its entries in.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The store's reader thread.
    pub(crate) fn reader(&self) -> &Helper {
        &self.reader
    }

    /// The column cache of this store's tables.
    pub fn cache(&self) -> &ColumnCache {
        &self.columns
    }

    /// The committed catalog as of `snapshot` (the latest committed tx when `None`).
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

    pub(crate) fn read_catalog_in(&self, ws: &WriteSet) -> Result<Catalog> {
        let pending: Vec<PendingCatalogWrite> = ws
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
        preconditions.extend(
            ws.index_reads
                .into_iter()
                .map(|span| Precondition::NoIndexChangeInRangeSince(span, ws.snapshot)),
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
    pub(crate) fn committed_live(&self, key: &[u8], snapshot: TxId) -> Result<Option<Vec<u8>>> {
        Ok(self.ledger.get_latest(key, snapshot)?.map(|e| e.value))
    }

    /// The live entry of a stored key as the transaction sees it.
    pub(crate) fn entry_in(&self, key: &[u8], ws: &WriteSet) -> Result<Option<Entry>> {
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
}
