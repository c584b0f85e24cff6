//! What callers hand a ledger: the options it opens with, and the entries of a commit (the
//! rest of a commit, its preconditions and index entries, is `ledger.rs`'s).

use std::time::Duration;

use stele_proof::KvMetadata;

/// Limits and tuning of one ledger.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most entries in one transaction.
    pub max_tx_entries: usize,
    /// Longest stored key, in bytes (prefix included).
    pub max_key_len: usize,
    /// Largest stored value, in bytes (prefix included).
    pub max_value_len: usize,
    /// Most transactions the committer puts into one batch.
    pub max_group_txs: usize,
    /// How long a `since_tx` read waits for that tx before giving up.
    pub since_tx_wait: Duration,
    /// WAL bytes kept before RocksDB flushes the memtables holding the oldest WAL file, which
    /// is then recycled (see [`Ledger::open`]). Bounds recovery's replay.
    pub wal_size_cap: u64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_tx_entries: 1024,
            max_key_len: 1024,
            max_value_len: 32 << 20,
            max_group_txs: 1024,
            since_tx_wait: Duration::from_secs(10),
            wal_size_cap: 16 << 20,
        }
    }
}

/// One entry to write, as stored (prefixes included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The stored key, prefix included.
    pub key: Vec<u8>,
    /// The entry's KV metadata; the default for a plain set.
    pub metadata: KvMetadata,
    /// The stored value, prefix included.
    pub value: Vec<u8>,
}

impl NewEntry {
    /// An entry with no metadata: a plain set of `key` to `value`.
    pub fn new(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> NewEntry {
        NewEntry {
            key: key.into(),
            metadata: KvMetadata::default(),
            value: value.into(),
        }
    }
}
