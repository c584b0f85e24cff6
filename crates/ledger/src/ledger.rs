//! Opening a ledger, its current state, and the commit pipeline (group commit).
//!
//! Callers validate and hash their entries on their own thread ([`Prepared`]), then queue them.
//! The first caller to find no commit in progress becomes the *leader* (the committer of the
//! moment, as in RocksDB's own write path): it takes everything that is queued, checks
//! preconditions, assigns consecutive ids, chains the Alh, appends to the AHT, writes ONE
//! RocksDB batch, syncs once if any caller asked for durability, publishes the new state, and
//! only then hands every caller in the group its answer. Callers that queued meanwhile wait,
//! and one of them leads the next group. A lone writer therefore commits on its own thread with
//! no hand-off. A failed batch write rolls the in-memory chain back and fails the whole group:
//! nothing is acknowledged that is not in RocksDB.
//!
//! Preconditions are checked against the committed state plus the group's earlier txs. Watched
//! prefixes ([`Ledger::watch_prefix`]) let many be answered from memory: each knows the last tx
//! that wrote under it and the greatest key ever written there, so "no write here since tx s"
//! and "this key above the greatest was never written" need no read. They are updated before
//! the group's state is published, so no reader sees a tx its watchers have not.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};
use rocksdb::{ColumnFamilyDescriptor, WriteBatch, WriteOptions, DB};
use stele_proof::{
    aht::{Frontier, NodeSource},
    Digest, EntrySpec, KvMetadata, ProofError, TxHeader, TxId, GENESIS_ALH,
};

use crate::format::{self, CF_AHT, CF_IDX, CF_KV, CF_REV, CF_TX};
use crate::input::{NewEntry, Options};
use crate::prepare::{KvRecords, PreparedEntries};
use crate::{LedgerError, Result};

/// A condition checked atomically with the commit, against the latest committed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// The key has a live (not deleted, not expired) version.
    KeyMustExist(Vec<u8>),
    /// The key has no live version.
    KeyMustNotExist(Vec<u8>),
    /// The key's newest version (live or not) was written at or before this tx.
    KeyNotModifiedAfter(Vec<u8>, TxId),
    /// As `KeyNotModifiedAfter`, for the key of entry `i` of the same commit (no copy of the
    /// key: a SQL transaction guards every row it writes).
    EntryNotModifiedAfter(usize, TxId),
    /// No committed tx after this one wrote a (hashed) entry whose key starts with the prefix.
    NoWriteUnderSince(Vec<u8>, TxId),
    /// No live index entry starts with the prefix, except the given key (a unique index).
    IndexPrefixFree(Vec<u8>, Vec<u8>),
    /// No committed tx after `since` wrote a (hashed) entry in the span: the phantom check of a
    /// range a transaction read.
    NoWriteInRangeSince(KeySpan, TxId),
    /// No index entry in the span (column family `idx`) was added or retired by a tx after
    /// `since`: the phantom check of a range a transaction read through a secondary index.
    NoIndexChangeInRangeSince(KeySpan, TxId),
}

/// The keys under `prefix` between two bounds, each `(key, inclusive)`; `None`: unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpan {
    /// Only keys starting with this are in the span.
    pub prefix: Vec<u8>,
    /// The lower bound; `None`: from the first key under the prefix.
    pub lo: KeyBound,
    /// The upper bound; `None`: to the last key under the prefix.
    pub hi: KeyBound,
}

/// A bound of a key range: `(key, inclusive)`; `None`: unbounded.
pub type KeyBound = Option<(Vec<u8>, bool)>;

impl KeySpan {
    /// Whether `key` is under the prefix and between the bounds.
    pub fn contains(&self, key: &[u8]) -> bool {
        key.starts_with(&self.prefix) && KeySpan::between(key, &self.lo, &self.hi)
    }

    /// Whether `key` lies between the bounds `lo` and `hi`.
    pub fn between(key: &[u8], lo: &KeyBound, hi: &KeyBound) -> bool {
        lo.as_ref()
            .is_none_or(|(lo, incl)| key > lo.as_slice() || (*incl && key == lo.as_slice()))
            && hi
                .as_ref()
                .is_none_or(|(hi, incl)| key < hi.as_slice() || (*incl && key == hi.as_slice()))
    }
}

impl Precondition {
    /// The key this precondition is about, given the commit's entry keys (empty for an entry
    /// index out of range, which validation refuses).
    fn key<'a>(&'a self, entry_keys: &'a [Vec<u8>]) -> &'a [u8] {
        match self {
            Precondition::KeyMustExist(k)
            | Precondition::KeyMustNotExist(k)
            | Precondition::KeyNotModifiedAfter(k, _)
            | Precondition::NoWriteUnderSince(k, _)
            | Precondition::IndexPrefixFree(k, _) => k,
            Precondition::EntryNotModifiedAfter(i, _) => entry_keys.get(*i).map_or(&[], |k| k),
            Precondition::NoWriteInRangeSince(span, _)
            | Precondition::NoIndexChangeInRangeSince(span, _) => &span.prefix,
        }
    }

    /// The tx after which the key must not have been written, for the two "not modified" forms.
    fn not_modified_after(&self) -> Option<TxId> {
        match self {
            Precondition::KeyNotModifiedAfter(_, tx)
            | Precondition::EntryNotModifiedAfter(_, tx) => Some(*tx),
            _ => None,
        }
    }
}

/// A derived index entry (column family `idx`): versioned like a kv entry, written atomically
/// with its tx, but neither hashed nor part of the tx record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The index key, as stored in `idx` (the layer's prefix included).
    pub key: Vec<u8>,
    /// Whether this version removes the index entry (a tombstone).
    pub deleted: bool,
    /// The tx it is a version of: `None` for the committing tx, an earlier id to back-fill.
    pub at: Option<TxId>,
}

/// A transaction to commit.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// The entries to write, in hashed order: at least one, no key twice.
    pub entries: Vec<NewEntry>,
    /// Checked atomically with the commit: if one fails, the tx fails and nothing of it is
    /// written.
    pub preconditions: Vec<Precondition>,
    /// Derived index entries written with the tx (not hashed).
    pub index_entries: Vec<IndexEntry>,
    /// Acknowledge once written to RocksDB's WAL without waiting for the disk sync (bulk loads).
    pub no_sync: bool,
    /// Number no revisions for this tx's entries: they store revision 0 and reads count the
    /// key's versions instead. For layers whose keys are never read by revision on a hot
    /// path (SQL rows): numbering costs a read and a write per entry at commit. A layer keeps
    /// to one choice for its keys (a numbered write after unnumbered ones would count from
    /// the last numbered version).
    pub unnumbered: bool,
}

/// What the ledger's state is: the last committed tx and its Alh (`H("")` when empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The last committed tx; 0 when the ledger is empty.
    pub tx_id: TxId,
    /// Alh of that tx; `H("")` when the ledger is empty.
    pub alh: Digest,
    /// Commit time of that tx, unix seconds; 0 when the ledger is empty.
    pub ts: i64,
}

/// A transaction validated and hashed by its caller, ready for the committer.
struct Prepared {
    nentries: u32,
    /// The entry part of the tx record, encoded.
    entry_records: Vec<u8>,
    /// The entries' kv keys and records, in hashed order.
    kv: KvRecords,
    /// The entries' keys and metadata, in hashed order (for watchers and the group's
    /// precondition checks).
    keys: Vec<Vec<u8>>,
    metadata: Vec<KvMetadata>,
    /// Per entry, its `rev` key (empty for an entry that gets no revision: non-indexable, or
    /// an unnumbered commit's): computed by the caller, so the committer only looks them up.
    rev_keys: Vec<Vec<u8>>,
    eh: Digest,
    preconditions: Vec<Precondition>,
    index_entries: Vec<IndexEntry>,
    sync: bool,
    /// A replicated tx: the header it must come out with (its timestamp is used as is).
    expected: Option<TxHeader>,
}

/// The queue of prepared txs and the answers for their callers, under one lock.
#[derive(Default)]
struct Queue {
    pending: Vec<(u64, Prepared)>,
    answers: HashMap<u64, Result<TxHeader>>,
    next_ticket: u64,
    leader: bool,
}

/// What only the leader touches: the chain's tip and the AHT's right edge.
struct Chain {
    state: Committed,
    frontier: Frontier,
}

pub(crate) struct Inner {
    pub(crate) db: DB,
    pub(crate) opts: Options,
    committed: Mutex<Committed>,
    advanced: Condvar,
    queue: Mutex<Queue>,
    /// Counts finished groups, so that waiters can poll before they sleep.
    groups_done: AtomicU64,
    /// Signalled when answers are posted or the leader steps down.
    answered: Condvar,
    chain: Mutex<Chain>,
    /// Watched key prefixes (see `watch_prefix`); a commit group works on a snapshot of it.
    watched: Mutex<Arc<WatchSet>>,
    path: PathBuf,
}

/// A watched key prefix: what the ledger knows about the writes under it without reading.
#[derive(Clone)]
struct Watched {
    prefix: Vec<u8>,
    /// The last committed tx that wrote a hashed entry under the prefix.
    last_tx: TxId,
    /// The greatest key ever written under the prefix (deleted or not), if it was looked for
    /// (`Some(None)`: none yet; `None`: not known, a watch of writes only).
    /// Invariant: when known, no key above it has any version, so such a key is absent at
    /// every tx.
    max_key: Option<Option<Vec<u8>>>,
}

impl Watched {
    /// Whether `key`, under this prefix, is known to have no version at any tx.
    fn never_written(&self, key: &[u8]) -> bool {
        self.max_key
            .as_ref()
            .is_some_and(|m| m.as_deref().is_none_or(|m| key > m))
    }
}

/// FNV-1a for the watched-prefix map: it holds a few short prefixes this process chose (one
/// per SQL table), so collisions cannot be forced, and it is probed for every row written.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The watched prefixes, found for a key with one hash lookup per distinct prefix length
/// (a handful), however many prefixes are watched (one per SQL table written, say).
#[derive(Clone, Default)]
struct WatchSet {
    list: Vec<Watched>,
    by_prefix: HashMap<Vec<u8>, usize, BuildHasherDefault<PrefixHasher>>,
    /// The distinct lengths of the prefixes, ascending.
    lengths: Vec<usize>,
}

impl WatchSet {
    fn get(&self, prefix: &[u8]) -> Option<&Watched> {
        self.by_prefix.get(prefix).map(|&i| &self.list[i])
    }

    fn push(&mut self, w: Watched) {
        if let Err(at) = self.lengths.binary_search(&w.prefix.len()) {
            self.lengths.insert(at, w.prefix.len());
        }
        self.by_prefix.insert(w.prefix.clone(), self.list.len());
        self.list.push(w);
    }

    /// The positions in `list` of the watched prefixes `key` starts with.
    fn matching<'a>(&'a self, key: &'a [u8]) -> impl Iterator<Item = usize> + Clone + 'a {
        self.lengths
            .iter()
            .take_while(move |&&l| l <= key.len())
            .filter_map(move |&l| self.by_prefix.get(&key[..l]).copied())
    }
}

/// The watched prefixes of the last key looked up. A tx's keys mostly come in runs that share
/// their longest watched prefix (a SQL table's rows, say), and then share the answer: one
/// comparison instead of a hash probe per prefix length.
#[derive(Default)]
struct MatchMemo {
    /// The key's first `longest` bytes, when it had that many (`valid`).
    head: Vec<u8>,
    valid: bool,
    hits: Vec<usize>,
}

impl MatchMemo {
    fn matching(&mut self, watched: &WatchSet, key: &[u8]) -> &[usize] {
        let longest = watched.lengths.last().copied().unwrap_or(0);
        match key.get(..longest) {
            Some(head) if self.valid && self.head == head => return &self.hits,
            Some(head) => {
                self.head.clear();
                self.head.extend_from_slice(head);
                self.valid = true;
            }
            None => self.valid = false,
        }
        self.hits.clear();
        self.hits.extend(watched.matching(key));
        &self.hits
    }
}

/// One ledger: its own RocksDB, tx ids, AHT and state. Several can be open in one process.
pub struct Ledger {
    pub(crate) inner: Inner,
}

/// Every column family of a ledger (see [`format`]).
const ALL_CFS: [&str; 5] = [CF_TX, CF_KV, CF_AHT, CF_IDX, CF_REV];

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Ledger {
    /// Opens the ledger at `path`, creating it if it does not exist.
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<Ledger> {
        let path = path.as_ref().to_path_buf();
        let mut db_opts = rocksdb::Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_compression_type(rocksdb::DBCompressionType::Lz4);
        db_opts.increase_parallelism(2);
        // Every commit syncs the WAL. Syncing a file that grows must also journal its new size
        // (about twice the cost, measured on ext4); a recycled WAL file is overwritten in
        // place, so its sync writes only data. A WAL file is recycled once every column
        // family's data in it is flushed: capping the WAL's total size flushes the small
        // families (`aht`, `idx`) with the big ones, and bounds recovery's replay too.
        db_opts.set_recycle_log_file_num(4);
        db_opts.set_max_total_wal_size(opts.wal_size_cap);
        let cfs = ALL_CFS.map(|n| {
            let mut o = rocksdb::Options::default();
            o.set_compression_type(rocksdb::DBCompressionType::Lz4);
            if n == CF_REV {
                // Point reads only, mostly of keys never written before: a bloom filter
                // answers those without reading a block.
                let mut t = rocksdb::BlockBasedOptions::default();
                t.set_bloom_filter(10.0, false);
                o.set_block_based_table_factory(&t);
            }
            ColumnFamilyDescriptor::new(n, o)
        });
        let db = DB::open_cf_descriptors(&db_opts, &path, cfs)?;
        match db.get(format::FORMAT_KEY)? {
            None => db.put(format::FORMAT_KEY, format::FORMAT_VERSION.to_be_bytes())?,
            Some(v) if v[..] == format::FORMAT_VERSION.to_be_bytes() => {}
            Some(v) if v[..] == 1u32.to_be_bytes() => crate::migrate::revisions(&db)?,
            Some(v) => {
                return Err(LedgerError::corrupted(
                    0,
                    format!("unsupported format version {v:02x?}"),
                ))
            }
        }
        let genesis = Committed {
            tx_id: 0,
            alh: GENESIS_ALH,
            ts: 0,
        };
        let mut inner = Inner {
            db,
            opts,
            committed: Mutex::new(genesis),
            advanced: Condvar::new(),
            queue: Mutex::new(Queue::default()),
            groups_done: AtomicU64::new(0),
            answered: Condvar::new(),
            watched: Mutex::new(Arc::new(WatchSet::default())),
            chain: Mutex::new(Chain {
                state: genesis,
                frontier: Frontier::default(),
            }),
            path,
        };
        let (committed, frontier) = inner.recover()?;
        *inner.committed.get_mut() = committed;
        *inner.chain.get_mut() = Chain {
            state: committed,
            frontier,
        };
        Ok(Ledger { inner })
    }

    /// Writes every memtable to table files (what is committed is already durable in the WAL;
    /// this shortens recovery).
    pub fn flush(&self) -> Result<()> {
        for cf in ALL_CFS {
            self.inner.db.flush_cf(self.inner.cf(cf))?;
        }
        Ok(())
    }

    /// Waits until RocksDB's background work scheduled so far (flushes and the compactions
    /// they trigger) is done: a quiescent store, for benchmarks that measure reads apart from
    /// the compaction debt writes leave behind. Memtables are not flushed for it.
    pub fn settle(&self) -> Result<()> {
        let opts = rocksdb::WaitForCompactOptions::default();
        self.inner.db.wait_for_compact(&opts)?;
        Ok(())
    }

    /// Compacts every column family's whole key range (reclaims space, speeds up reads).
    pub fn compact(&self) {
        for cf in ALL_CFS {
            self.inner
                .db
                .compact_range_cf(self.inner.cf(cf), None::<&[u8]>, None::<&[u8]>);
        }
    }

    /// The directory of the ledger's RocksDB.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The limits and tuning the ledger was opened with.
    pub fn options(&self) -> &Options {
        &self.inner.opts
    }

    /// The last committed tx and its Alh.
    pub fn state(&self) -> Committed {
        *self.inner.committed.lock()
    }

    /// Starts tracking the last tx that writes a key under `prefix` (a catalog, say), so that
    /// callers can cache what they derive from those keys. Until a write is seen, the last
    /// write is taken to be the tx committed when watching began.
    ///
    /// The ledger also keeps the greatest key written under the prefix, found here with one
    /// seek: keys above it are known to be absent without a read (see `never_written`).
    pub fn watch_prefix(&self, prefix: &[u8]) -> Result<()> {
        self.watched(prefix, true, |_| ())
    }

    /// Starts tracking the last tx that writes under `prefix`, as [`Ledger::watch_prefix`],
    /// without looking for the greatest key written there (no read; a later
    /// [`Ledger::watch_greatest_key`] looks for it).
    pub fn watch_writes(&self, prefix: &[u8]) -> Result<()> {
        self.watched(prefix, false, |_| ())
    }

    /// Watches `prefix` (as [`Ledger::watch_prefix`]) and returns the greatest key ever written
    /// under it, `None` if none was. It covers every tx committed before the call (watchers
    /// learn of a write before its tx is published).
    pub fn watch_greatest_key(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        self.watched(prefix, true, |w| w.max_key.clone().flatten())
    }

    /// `read` of the watch on `prefix`, which starts if there is none; with `max_key`, the
    /// watch knows the greatest key written under the prefix (looked for now if it did not).
    fn watched<R>(&self, prefix: &[u8], max_key: bool, read: impl Fn(&Watched) -> R) -> Result<R> {
        let ready = |w: &Watched| !max_key || w.max_key.is_some();
        // Cheap when already watched: callers may call it on every write.
        if let Some(w) = self.inner.watched.lock().get(prefix).filter(|w| ready(w)) {
            return Ok(read(w));
        }
        // Holding the chain lock, no group is in flight: every later group sees the prefix,
        // and the greatest key found on disk covers every committed tx.
        let _no_group = self.inner.chain.lock();
        let found = match max_key {
            true => Some(self.inner.max_key_under(prefix)?),
            false => None,
        };
        let mut guard = self.inner.watched.lock();
        if let Some(w) = guard.get(prefix) {
            if ready(w) {
                return Ok(read(w));
            }
            let list = Arc::make_mut(&mut guard);
            let i = list.by_prefix[prefix];
            list.list[i].max_key = found;
            return Ok(read(&list.list[i]));
        }
        let now = self.inner.committed.lock().tx_id;
        let w = Watched {
            prefix: prefix.to_vec(),
            last_tx: now,
            max_key: found,
        };
        let r = read(&w);
        Arc::make_mut(&mut guard).push(w);
        Ok(r)
    }

    /// The last committed tx known to have written under a watched prefix (`None` if unwatched).
    pub fn last_write_under(&self, prefix: &[u8]) -> Option<TxId> {
        self.inner.watched.lock().get(prefix).map(|w| w.last_tx)
    }

    /// True when `key` is known, without a read, to have no version at any tx: it lies under
    /// a watched prefix and above every key ever written there. `false` means "unknown".
    pub fn never_written(&self, key: &[u8]) -> bool {
        let w = self.inner.watched.lock();
        let found = w.matching(key).any(|i| w.list[i].never_written(key));
        found
    }

    /// Waits until tx `tx_id` is committed, at most `since_tx_wait`.
    pub fn wait_for(&self, tx_id: TxId) -> Result<Committed> {
        let deadline = std::time::Instant::now() + self.inner.opts.since_tx_wait;
        let mut c = self.inner.committed.lock();
        while c.tx_id < tx_id {
            if self.inner.advanced.wait_until(&mut c, deadline).timed_out() {
                return Err(LedgerError::illegal(format!(
                    "tx {tx_id} is not committed (last committed: {})",
                    c.tx_id
                )));
            }
        }
        Ok(*c)
    }

    /// Commits one transaction of plain entries, durably.
    pub fn commit(&self, entries: Vec<NewEntry>) -> Result<TxHeader> {
        self.commit_with(Commit {
            entries,
            ..Default::default()
        })
    }

    /// Commits one transaction; returns its header once it is durable (or written, with
    /// `no_sync`). On any error nothing of it is written.
    pub fn commit_with(&self, commit: Commit) -> Result<TxHeader> {
        let tx = self.prepare(commit)?;
        self.inner.submit(tx)
    }

    /// Appends a tx replicated from another ledger: committed only if its header comes out
    /// exactly as `expected` (same id, timestamp, previous Alh, entries and AHT root), so the
    /// replica's chain is the primary's, byte for byte.
    pub fn commit_replicated(&self, commit: Commit, expected: &TxHeader) -> Result<TxHeader> {
        let mut tx = self.prepare(commit)?;
        tx.expected = Some(expected.clone());
        self.inner.submit(tx)
    }

    /// Validates and hashes a transaction; runs on the caller's thread, outside the critical section.
    fn prepare(&self, c: Commit) -> Result<Prepared> {
        let o = &self.inner.opts;
        let n = c.entries.len();
        if n == 0 {
            return Err(LedgerError::illegal(
                "a transaction needs at least one entry",
            ));
        }
        if n > o.max_tx_entries {
            return Err(LedgerError::illegal(format!(
                "max number of entries per tx exceeded: {n} entries (at most {})",
                o.max_tx_entries
            )));
        }
        let prepared = PreparedEntries::of(o, &c.entries)?;
        let eh = prepared.root()?;
        // The values are dropped here, on the thread that allocated them.
        let (keys, metadata): (Vec<Vec<u8>>, Vec<KvMetadata>) =
            c.entries.into_iter().map(|e| (e.key, e.metadata)).unzip();
        for p in &c.preconditions {
            if let Precondition::EntryNotModifiedAfter(i, _) = p {
                if *i >= n {
                    return Err(LedgerError::illegal(format!(
                        "precondition on entry {i} of a transaction of {n} entries"
                    )));
                }
            }
            let key = p.key(&keys);
            if key.is_empty() || key.len() > o.max_key_len {
                return Err(LedgerError::illegal(
                    "precondition on an empty or too long key",
                ));
            }
        }
        let mut sorted: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        sorted.sort_unstable();
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(LedgerError::illegal(format!(
                "duplicate key in one transaction: {}",
                String::from_utf8_lossy(w[0])
            )));
        }
        let rev_keys = keys
            .iter()
            .zip(&metadata)
            .map(|(k, md)| match md.non_indexable || c.unnumbered {
                true => Vec::new(),
                false => format::rev_key(k),
            })
            .collect();
        Ok(Prepared {
            nentries: n as u32,
            entry_records: prepared.records,
            kv: prepared.kv,
            keys,
            metadata,
            rev_keys,
            eh,
            preconditions: c.preconditions,
            index_entries: c.index_entries,
            sync: !c.no_sync,
            expected: None,
        })
    }

    /// Builds an [`EntrySpec`] digest helper for callers that want to check what they wrote.
    pub fn entry_spec(e: &NewEntry) -> EntrySpec {
        EntrySpec {
            key: e.key.clone(),
            metadata: e.metadata,
            value: e.value.clone(),
        }
    }
}

/// The newest version of a key that a precondition sees: its tx and metadata.
type Latest = Option<(TxId, KvMetadata)>;

/// What earlier txs of a group wrote, for the preconditions of later ones.
#[derive(Default)]
struct GroupOverlay {
    /// Newest version of each hashed key.
    kv: HashMap<Vec<u8>, (TxId, KvMetadata)>,
    /// Index entries: whether each is live.
    idx: std::collections::BTreeMap<Vec<u8>, bool>,
}

impl Inner {
    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column family opened at start")
    }

    /// Reads the last committed header and the AHT frontier back from RocksDB.
    fn recover(&self) -> Result<(Committed, Frontier)> {
        let mut it = self.db.raw_iterator_cf(self.cf(CF_TX));
        it.seek_to_last();
        it.status()?;
        let Some(raw) = it.value() else {
            return Ok((
                Committed {
                    tx_id: 0,
                    alh: GENESIS_ALH,
                    ts: 0,
                },
                Frontier::default(),
            ));
        };
        let id = u64::from_be_bytes(
            it.key()
                .unwrap()
                .try_into()
                .map_err(|_| LedgerError::corrupted(0, "bad tx key"))?,
        );
        let (h, _) = format::decode_tx_record(raw, id, false)?;
        let alh = h.alh()?;
        let frontier = Frontier::load(&AhtNodes(self), id)?;
        if frontier.root().is_none() {
            return Err(LedgerError::corrupted(id, "empty AHT"));
        }
        Ok((
            Committed {
                tx_id: id,
                alh,
                ts: h.ts,
            },
            frontier,
        ))
    }

    /// The newest indexable version of `key` at or before `snapshot`.
    fn latest_version(
        &self,
        it: &mut rocksdb::DBRawIteratorWithThreadMode<'_, DB>,
        key: &[u8],
        snapshot: TxId,
    ) -> Result<Latest> {
        let prefix = format::kv_key_prefix(key);
        let mut seek = prefix.clone();
        seek.extend_from_slice(&(!snapshot).to_be_bytes());
        it.seek(&seek);
        while let Some(k) = it.key() {
            if !k.starts_with(&prefix) || k.len() != prefix.len() + 8 {
                break;
            }
            let tx = !u64::from_be_bytes(k[prefix.len()..].try_into().unwrap());
            let md = format::decode_kv_record(it.value().unwrap(), tx)?.metadata;
            if !md.non_indexable {
                return Ok(Some((tx, md)));
            }
            it.next();
        }
        it.status()?;
        Ok(None)
    }

    /// The greatest key with a version under `prefix` (one backward seek).
    fn max_key_under(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut esc = Vec::with_capacity(prefix.len() + 2);
        format::escape_into(&mut esc, prefix);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_KV));
        match format::successor(&esc) {
            Some(end) => it.seek_for_prev(&end),
            None => it.seek_to_last(),
        }
        // `seek_for_prev` may land on `end` itself, which is not under the prefix.
        while let Some(k) = it.key() {
            if k.starts_with(&esc) && k.len() >= 10 {
                let mut key = Vec::new();
                format::unescape_into(&mut key, &k[..k.len() - 10]);
                return Ok(Some(key));
            }
            if k < esc.as_slice() {
                break;
            }
            it.prev();
        }
        it.status()?;
        Ok(None)
    }

    /// Checks a tx's preconditions against the committed state (`snapshot`, the tip before the
    /// group), the earlier txs of its group (`overlay`), and what watched prefixes tell
    /// without a read (`watched`, as of before the group).
    fn check_preconditions(
        &self,
        tx: &Prepared,
        overlay: &GroupOverlay,
        watched: &WatchSet,
        snapshot: TxId,
        now: i64,
    ) -> Result<()> {
        let (pre, entry_keys, own_index) = (&tx.preconditions, &tx.keys, &tx.index_entries);
        // One iterator for every key that needs a read: creating one costs about a seek.
        let mut it = None;
        let mut memo = MatchMemo::default();
        for p in pre {
            let key = p.key(entry_keys);
            let not_modified_after = p.not_modified_after();
            let name = || String::from_utf8_lossy(key);
            match p {
                Precondition::NoWriteUnderSince(prefix, since) => {
                    if overlay.kv.keys().any(|k| k.starts_with(prefix))
                        || self.written_under_since(prefix, *since, snapshot)?
                    {
                        return Err(LedgerError::PreconditionFailed(format!(
                            "keys under {} were written after tx {since}",
                            name()
                        )));
                    }
                    continue;
                }
                Precondition::NoWriteInRangeSince(span, since) => {
                    if overlay.kv.keys().any(|k| span.contains(k))
                        || self.written_since(
                            &span.prefix,
                            |k| span.contains(k),
                            *since,
                            snapshot,
                        )?
                    {
                        return Err(LedgerError::PreconditionFailed(format!(
                            "keys read under {} were written after tx {since}",
                            name()
                        )));
                    }
                    continue;
                }
                Precondition::NoIndexChangeInRangeSince(span, since) => {
                    if overlay.idx.keys().any(|k| span.contains(k))
                        || self.index_changed_since(span, *since)?
                    {
                        return Err(LedgerError::PreconditionFailed(format!(
                            "index entries read under {} changed after tx {since}",
                            name()
                        )));
                    }
                    continue;
                }
                Precondition::IndexPrefixFree(prefix, except) => {
                    if self.index_prefix_taken(prefix, except, own_index, overlay)? {
                        return Err(LedgerError::PreconditionFailed(format!(
                            "index prefix {} is taken",
                            name()
                        )));
                    }
                    continue;
                }
                _ => {}
            }
            let latest = match overlay.kv.get(key) {
                Some(v) => Some(*v),
                None => {
                    // A watched prefix can answer without a read: a key above everything ever
                    // written there is absent, and no write there since `tx` means no write
                    // to the key since `tx`.
                    // One pass over the watched prefixes of the key (a hash probe each).
                    let (mut never, mut quiet) = (false, false);
                    for &i in memo.matching(watched, key) {
                        let w = &watched.list[i];
                        never |= w.never_written(key);
                        if let Some(tx) = not_modified_after {
                            quiet |= w.last_tx <= tx;
                        }
                    }
                    match p {
                        _ if never => None,
                        _ if quiet => continue,
                        _ => {
                            let it =
                                it.get_or_insert_with(|| self.db.raw_iterator_cf(self.cf(CF_KV)));
                            self.latest_version(it, key, snapshot)?
                        }
                    }
                }
            };
            let live = latest.is_some_and(|(_, md)| !md.deleted && !md.expired_at(now as u64));
            match p {
                Precondition::KeyMustExist(_) if !live => {
                    return Err(LedgerError::PreconditionFailed(format!(
                        "key {} must exist",
                        name()
                    )))
                }
                Precondition::KeyMustNotExist(_) if live => {
                    return Err(LedgerError::PreconditionFailed(format!(
                        "key {} must not exist",
                        name()
                    )))
                }
                _ => {}
            }
            if let Some(tx) = not_modified_after.filter(|tx| latest.is_some_and(|(t, _)| t > *tx)) {
                return Err(LedgerError::PreconditionFailed(format!(
                    "key {} was modified after tx {tx}",
                    name()
                )));
            }
        }
        Ok(())
    }

    /// Whether a committed tx in `(since, snapshot]` wrote a hashed entry under `prefix`.
    /// A watched prefix answers from memory; any other reads the tx records since.
    fn written_under_since(&self, prefix: &[u8], since: TxId, snapshot: TxId) -> Result<bool> {
        if let Some(w) = self.watched.lock().get(prefix) {
            return Ok(w.last_tx > since);
        }
        self.written_since(prefix, |k| k.starts_with(prefix), since, snapshot)
    }

    /// Whether a committed tx in `(since, snapshot]` wrote a hashed entry whose key (under
    /// `prefix`) satisfies `hit`. A watched prefix with no write since answers from memory.
    fn written_since(
        &self,
        prefix: &[u8],
        hit: impl Fn(&[u8]) -> bool,
        since: TxId,
        snapshot: TxId,
    ) -> Result<bool> {
        let quiet = {
            let w = self.watched.lock();
            let quiet = w.matching(prefix).any(|i| w.list[i].last_tx <= since);
            quiet
        };
        if quiet {
            return Ok(false);
        }
        for id in since + 1..=snapshot {
            let raw = self
                .db
                .get_pinned_cf(self.cf(CF_TX), id.to_be_bytes())?
                .ok_or_else(|| LedgerError::corrupted(id, "missing tx record"))?;
            let (_, entries) = format::decode_tx_record(&raw, id, true)?;
            if entries.iter().any(|e| hit(&e.key)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the newest version of an index entry in `span` is younger than `since`: an
    /// entry added, or retired (its delete version), after it. Reads only the span's entries,
    /// which the transaction that guards it has read already.
    fn index_changed_since(&self, span: &KeySpan, since: TxId) -> Result<bool> {
        let start = match &span.lo {
            Some((lo, _)) if lo.starts_with(&span.prefix) => lo.as_slice(),
            _ => span.prefix.as_slice(),
        };
        let mut seek = Vec::new();
        format::escape_into(&mut seek, start);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_IDX));
        it.seek(&seek);
        while let Some(raw) = it.key() {
            // The first version of a key met is its newest.
            let (key, tx) = format::decode_kv_key(raw)?;
            if !key.starts_with(&span.prefix) || !KeySpan::between(&key, &None, &span.hi) {
                break;
            }
            if tx > since && span.contains(&key) {
                return Ok(true);
            }
            it.seek(format::kv_key(&key, 0));
        }
        it.status()?;
        Ok(false)
    }

    /// Whether a live index entry other than `except` starts with `prefix`, counting what
    /// earlier txs of the group wrote; entries the tx itself deletes (`own`) do not count.
    fn index_prefix_taken(
        &self,
        prefix: &[u8],
        except: &[u8],
        own: &[IndexEntry],
        overlay: &GroupOverlay,
    ) -> Result<bool> {
        let deleted_by_tx = |k: &[u8]| {
            own.iter()
                .any(|e| e.deleted && e.at.is_none() && e.key == k)
        };
        let taken_in_group = overlay
            .idx
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .any(|(k, live)| *live && k.as_slice() != except && !deleted_by_tx(k));
        if taken_in_group {
            return Ok(true);
        }
        let mut escaped = Vec::new();
        format::escape_into(&mut escaped, prefix);
        let mut it = self.db.raw_iterator_cf(self.cf(CF_IDX));
        it.seek(&escaped);
        while let Some(raw) = it.key() {
            if !raw.starts_with(&escaped) {
                break;
            }
            // The first version of a key met is its newest; nothing newer is committed while
            // the leader checks.
            let (key, tx) = format::decode_kv_key(raw)?;
            let md = format::decode_kv_record(it.value().unwrap(), tx)?.metadata;
            let live = overlay.idx.get(&key).copied().unwrap_or(!md.deleted);
            if live && key.as_slice() != except && !deleted_by_tx(&key) {
                return Ok(true);
            }
            it.seek(format::kv_key(&key, 0));
        }
        it.status()?;
        Ok(false)
    }

    /// Queues a prepared tx and returns its answer, leading the commit of a group if no one is.
    fn submit(&self, tx: Prepared) -> Result<TxHeader> {
        let mut q = self.queue.lock();
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.pending.push((ticket, tx));
        loop {
            if let Some(answer) = q.answers.remove(&ticket) {
                return answer;
            }
            if !q.leader {
                q.leader = true;
                let group = std::mem::take(&mut q.pending);
                drop(q);
                let tickets: Vec<u64> = group.iter().map(|(t, _)| *t).collect();
                let guard = LeaderGuard {
                    inner: self,
                    tickets,
                };
                let answers = self.commit_group(group);
                std::mem::forget(guard);
                q = self.queue.lock();
                q.answers.extend(answers);
                q.leader = false;
                self.groups_done.fetch_add(1, Ordering::Release);
                self.answered.notify_all();
                continue;
            }
            // A group commit takes tens of microseconds: yield a few times before sleeping,
            // since a futex sleep and wake-up costs about as much again.
            let seen = self.groups_done.load(Ordering::Acquire);
            drop(q);
            let mut spins = 0;
            while spins < 64 && self.groups_done.load(Ordering::Acquire) == seen {
                std::thread::yield_now();
                spins += 1;
            }
            q = self.queue.lock();
            if spins == 64 && q.leader && !q.answers.contains_key(&ticket) {
                self.answered.wait(&mut q);
            }
        }
    }

    /// Commits one group as one batch; returns every caller's answer.
    fn commit_group(&self, group: Vec<(u64, Prepared)>) -> Vec<(u64, Result<TxHeader>)> {
        let mut chain = self.chain.lock();
        let before = (chain.state, chain.frontier.clone());
        let mut batch = WriteBatch::default();
        // Versions written earlier in this group, for the preconditions of later txs in it:
        // kept up to the last tx with preconditions.
        let track_until = group
            .iter()
            .rposition(|(_, tx)| !tx.preconditions.is_empty())
            .unwrap_or(0);
        let mut overlay = GroupOverlay::default();
        let mut answers = Vec::with_capacity(group.len());
        let mut accepted = 0;
        let mut sync = false;
        let now = now_secs();
        // Stable during the group: only groups change it, and they hold the chain lock.
        let watched: Arc<WatchSet> = self.watched.lock().clone();
        // Per watched prefix written by this group: its last tx and greatest key.
        let mut touched: Vec<Option<(TxId, Vec<u8>)>> = vec![None; watched.list.len()];
        let mut memo = MatchMemo::default();
        let mut revisions = match self.newest_revisions(&group) {
            Ok(r) => r,
            Err(e) => {
                let msg = e.to_string();
                return group
                    .into_iter()
                    .map(|(t, _)| (t, Err(LedgerError::CommitFailed(msg.clone()))))
                    .collect();
            }
        };
        for (i, (ticket, tx)) in group.into_iter().enumerate() {
            if let Err(e) = self.check_preconditions(&tx, &overlay, &watched, before.0.tx_id, now) {
                answers.push((ticket, Err(e)));
                continue;
            }
            // (watched prefix, greatest key of this tx under it)
            let mut hits: Vec<(usize, &[u8])> = Vec::new();
            for key in &tx.keys {
                for &i in memo.matching(&watched, key) {
                    match hits.iter_mut().find(|(h, _)| *h == i) {
                        Some((_, max)) if *max < key.as_slice() => *max = key,
                        Some(_) => {}
                        None => hits.push((i, key)),
                    }
                }
            }
            let hits: Vec<(usize, Vec<u8>)> =
                hits.into_iter().map(|(i, k)| (i, k.to_vec())).collect();
            let track = i < track_until;
            let overlay = track.then_some(&mut overlay);
            match self.append(&mut batch, tx, &mut chain, &mut revisions, overlay) {
                Ok((header, wants_sync)) => {
                    for (i, key) in hits {
                        let t = touched[i].get_or_insert_with(|| (header.id, Vec::new()));
                        t.0 = header.id;
                        if t.1 < key {
                            t.1 = key;
                        }
                    }
                    sync |= wants_sync;
                    accepted += 1;
                    answers.push((ticket, Ok(header)));
                }
                Err(e) => answers.push((ticket, Err(e))),
            }
        }
        if accepted == 0 {
            return answers;
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        if let Err(e) = self.db.write_opt(batch, &wo) {
            (chain.state, chain.frontier) = before;
            let msg = e.to_string();
            for (_, a) in answers.iter_mut() {
                if a.is_ok() {
                    *a = Err(LedgerError::CommitFailed(msg.clone()));
                }
            }
            return answers;
        }
        // Watchers learn of a write before anyone can read the tx that made it.
        if touched.iter().any(Option::is_some) {
            // Positions are stable: prefixes are only added with the chain lock held.
            drop(watched);
            let mut guard = self.watched.lock();
            let w = Arc::make_mut(&mut guard);
            for (i, t) in touched.into_iter().enumerate() {
                let Some((id, key)) = t else { continue };
                let entry = &mut w.list[i];
                entry.last_tx = entry.last_tx.max(id);
                // A watch of writes only leaves it unknown: looking for it later (with the
                // chain lock) finds this write on disk.
                if let Some(m) = &mut entry.max_key {
                    if m.as_ref().is_none_or(|m| *m < key) {
                        *m = Some(key);
                    }
                }
            }
        }
        *self.committed.lock() = chain.state;
        self.advanced.notify_all();
        answers
    }

    /// The newest revision of every indexable key the group writes, as committed (0 for a
    /// key never written): one batched point read of the `rev` family.
    fn newest_revisions(&self, group: &[(u64, Prepared)]) -> Result<HashMap<Vec<u8>, u64>> {
        let mut keys: Vec<&[u8]> = group
            .iter()
            .flat_map(|(_, tx)| tx.rev_keys.iter())
            .filter(|k| !k.is_empty())
            .map(Vec::as_slice)
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let found = self.db.batched_multi_get_cf(self.cf(CF_REV), &keys, true);
        let mut out = HashMap::with_capacity(keys.len());
        for (key, got) in keys.into_iter().zip(found) {
            let revision = match got? {
                None => 0,
                Some(v) => u64::from_be_bytes(
                    AsRef::<[u8]>::as_ref(&v)
                        .try_into()
                        .map_err(|_| LedgerError::corrupted(0, "bad revision record"))?,
                ),
            };
            out.insert(key.to_vec(), revision);
        }
        Ok(out)
    }

    /// Chains one prepared tx onto the chain's tip and adds its records to `batch`.
    /// `revisions` holds the newest revision of each key the group writes (by `rev` key),
    /// advanced here for this tx's indexable entries.
    fn append(
        &self,
        batch: &mut WriteBatch,
        mut tx: Prepared,
        chain: &mut Chain,
        revisions: &mut HashMap<Vec<u8>, u64>,
        overlay: Option<&mut GroupOverlay>,
    ) -> Result<(TxHeader, bool)> {
        let id = chain.state.tx_id + 1;
        if let Some(e) = tx
            .index_entries
            .iter()
            .find(|e| e.at.is_some_and(|a| a == 0 || a > id))
        {
            return Err(LedgerError::illegal(format!(
                "index entry back-filled at tx {} (committing tx {id})",
                e.at.unwrap_or(0)
            )));
        }
        // Timestamps never go backwards, whatever the wall clock does.
        let ts = match &tx.expected {
            Some(e) => e.ts,
            None => now_secs().max(chain.state.ts),
        };
        let header = TxHeader::new_v1(
            id,
            chain.state.alh,
            ts,
            tx.nentries,
            tx.eh,
            chain.frontier.root(),
        );
        if let Some(e) = &tx.expected {
            if *e != header {
                return Err(LedgerError::PreconditionFailed(format!(
                    "replicated tx {} does not follow this ledger: expected tx {} after Alh {}, with eH {}",
                    e.id,
                    header.id,
                    hex_of(&header.prev_alh),
                    hex_of(&header.eh),
                )));
            }
        }
        let alh = header.alh()?;
        let mut record = format::encode_tx_header(&header);
        record.extend_from_slice(&tx.entry_records);
        batch.put_cf(self.cf(CF_TX), id.to_be_bytes(), record);
        let rev_cf = self.cf(CF_REV);
        let mut own = Vec::with_capacity(tx.keys.len());
        for rev_key in &tx.rev_keys {
            if rev_key.is_empty() {
                own.push(0);
                continue;
            }
            let newest = revisions
                .get_mut(rev_key.as_slice())
                .ok_or_else(|| LedgerError::CommitFailed("a key's revision was not read".into()))?;
            *newest += 1;
            own.push(*newest);
            batch.put_cf(rev_cf, rev_key, newest.to_be_bytes());
        }
        let kv_cf = self.cf(CF_KV);
        tx.kv
            .stamp(id, &own, |key, record| batch.put_cf(kv_cf, key, record));
        let idx_cf = self.cf(CF_IDX);
        for e in &tx.index_entries {
            let md = KvMetadata {
                deleted: e.deleted,
                ..Default::default()
            };
            batch.put_cf(
                idx_cf,
                format::kv_key(&e.key, e.at.unwrap_or(id)),
                format::encode_kv_record(&md.to_bytes(), b""),
            );
        }
        if let Some(overlay) = overlay {
            for (key, md) in tx.keys.into_iter().zip(&tx.metadata) {
                if !md.non_indexable {
                    overlay.kv.insert(key, (id, *md));
                }
            }
            for e in tx.index_entries {
                overlay.idx.insert(e.key, !e.deleted);
            }
        }
        for n in chain.frontier.append(&alh) {
            batch.put_cf(self.cf(CF_AHT), format::aht_key(n.level, n.index), n.hash);
        }
        chain.state = Committed { tx_id: id, alh, ts };
        Ok((header, tx.sync))
    }
}

fn hex_of(d: &Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Should a leader panic, fails its group and steps down, so that no caller waits forever.
struct LeaderGuard<'a> {
    inner: &'a Inner,
    tickets: Vec<u64>,
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        let mut q = self.inner.queue.lock();
        for t in self.tickets.drain(..) {
            q.answers.insert(
                t,
                Err(LedgerError::CommitFailed("the committer panicked".into())),
            );
        }
        q.leader = false;
        self.inner.groups_done.fetch_add(1, Ordering::Release);
        self.inner.answered.notify_all();
    }
}

/// The AHT's perfect-subtree nodes, read from the `aht` column family.
pub(crate) struct AhtNodes<'a>(pub(crate) &'a Inner);

impl NodeSource for AhtNodes<'_> {
    type Error = LedgerError;
    fn node(&self, level: u32, index: u64) -> Result<Digest> {
        let raw = self
            .0
            .db
            .get_pinned_cf(self.0.cf(CF_AHT), format::aht_key(level, index))?
            .ok_or_else(|| ProofError::Missing(format!("AHT node ({level}, {index})")))?;
        Ok(stele_proof::digest_from(&raw)?)
    }
}
