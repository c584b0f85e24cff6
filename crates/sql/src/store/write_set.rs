//! A SQL transaction's write set: what it will commit, what it read, and the guards that
//! abort it when another tx changed those keys first.

use super::catalog::Catalog;
use super::encoding::{self};
use super::pending::PendingMap;
use crate::error::Result;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use stele_ledger::proof::{KvMetadata, TxId};
use stele_ledger::{IndexEntry, KeySpan, NewEntry, Precondition};

/// What a transaction holds for one key: the version it writes, if any, and whether its commit
/// checks that no other tx wrote the key since the snapshot.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending {
    pub(super) write: Option<PendingWrite>,
    pub(super) guarded: bool,
}

/// A pending version of a key.
#[derive(Debug, Clone)]
pub(crate) struct PendingWrite {
    pub(super) metadata: KvMetadata,
    pub(super) value: Vec<u8>,
}

impl PendingWrite {
    pub(crate) fn live(&self) -> Option<&[u8]> {
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
    pub(super) entries: Arc<PendingMap<Pending>>,
    pub(super) fresh: BTreeSet<Vec<u8>>,
    /// Secondary-index entries of this tx: `true` when the entry is deleted.
    pub(super) index: Arc<BTreeMap<Vec<u8>, bool>>,
    /// Index entries back-filled at older txs (`CREATE INDEX` on a table with history).
    pub(super) backfill: Vec<IndexEntry>,
    pub(super) preconditions: Vec<Precondition>,
    /// Key spans of the current state the transaction's queries read (phantom checks).
    pub(super) reads: Vec<KeySpan>,
    /// Secondary-index spans the transaction's queries read (phantom checks on the `idx`
    /// entries: a row entering or leaving the range).
    pub(super) index_reads: Vec<KeySpan>,
    /// Set when the transaction will only read: reads are not recorded.
    pub(super) read_only: bool,
    /// The catalog this transaction sees, once read; forgotten when it writes a catalog key.
    pub(super) catalog: std::sync::OnceLock<Catalog>,
    /// Per table written, the greatest row key ever written as of (at least) the snapshot,
    /// read once from the ledger: a key above it has no committed version the transaction
    /// could see, and needs neither a read nor a probe of the ledger's watched prefixes.
    pub(super) greatest: Vec<(u32, Option<Vec<u8>>)>,
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

    /// Records secondary-index spans the transaction read: its commit fails if another tx added
    /// or retired an index entry in one since (a row came into or left the range).
    pub(crate) fn read_index_spans(&mut self, spans: Vec<KeySpan>) {
        if self.read_only {
            return;
        }
        for s in spans {
            if !self.index_reads.contains(&s) {
                self.index_reads.push(s);
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

    pub(crate) fn put(&mut self, e: NewEntry) {
        self.put_write(
            e.key,
            PendingWrite {
                metadata: e.metadata,
                value: e.value,
            },
        );
    }

    pub(crate) fn put_write(&mut self, key: Vec<u8>, w: PendingWrite) {
        if key.starts_with(encoding::CATALOG_PREFIX) {
            self.catalog = std::sync::OnceLock::new();
        }
        Arc::make_mut(&mut self.entries).entry(key).write = Some(w);
    }

    /// Guards `key` and returns its live value as the transaction sees it (its pending
    /// version, else what `committed` reads) with the key's slot, where the caller puts the
    /// version it writes: reading, guarding and writing a key walk the map once.
    pub(crate) fn guarded_slot(
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
    pub(crate) fn put_index(&mut self, key: Vec<u8>, deleted: bool) {
        Arc::make_mut(&mut self.index).insert(key, deleted);
    }

    /// Writes a delete version of a catalog key (its last value kept), guarded against a
    /// concurrent change of the same entry.
    pub(crate) fn drop_catalog_entry(&mut self, key: Vec<u8>, value: Vec<u8>) {
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
    pub(crate) fn pending(&self, key: &[u8]) -> Option<&PendingWrite> {
        self.entries.get(key).and_then(|p| p.write.as_ref())
    }

    /// Pending versions of keys under a prefix, in key order.
    pub(crate) fn pending_under<'a>(
        &'a self,
        prefix: &'a [u8],
    ) -> impl Iterator<Item = (&'a [u8], &'a PendingWrite)> + 'a {
        self.entries
            .range_from(prefix)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .filter_map(|(k, p)| Some((k, p.write.as_ref()?)))
    }
}
