//! immudb's key/value model on raw ledger entries (spec wire §3.1 and §4).
//!
//! | kind        | stored key                                                   | stored value                         |
//! |-------------|--------------------------------------------------------------|--------------------------------------|
//! | plain value | `0x00 ‖ key`                                                 | `0x00 ‖ value`                       |
//! | reference   | `0x00 ‖ key`                                                 | `0x01 ‖ u64be(atTx) ‖ 0x00 ‖ refKey` |
//! | delete      | `0x00 ‖ key`, metadata `deleted`                             | empty, no prefix                     |
//! | sorted set  | `0x01 ‖ u64be(len set) ‖ set ‖ u64be(f64 bits) ‖ u64be(len ek) ‖ ek ‖ u64be(atTx)`, `ek = 0x00 ‖ key` | empty |
//!
//! Keys and values go in and come out without their prefixes. Checks that depend on what is
//! stored (a referenced key must exist and not be a reference, ...) read at a snapshot and
//! commit with `KeyNotModifiedAfter(snapshot)` preconditions, so they hold at commit time;
//! a concurrent change makes the commit fail with a retryable precondition error.
//! The SQL (0x02) and event layers do not go through this module.

use stele_proof::{KvMetadata, TxHeader, TxId};

use crate::read::{HistoryQuery, ScanQuery};
use crate::{Commit, Entry, Ledger, LedgerError, NewEntry, Precondition, Result};

/// Stored-key prefix of plain values, references and deletes.
pub const SET_KEY_PREFIX: u8 = 0x00;
/// Stored-key prefix of sorted-set members.
pub const SORTED_SET_KEY_PREFIX: u8 = 0x01;
/// Stored-key prefix of the SQL layer, which does not go through this module.
pub const SQL_KEY_PREFIX: u8 = 0x02;
/// Stored-value prefix of a plain value.
pub const PLAIN_VALUE_PREFIX: u8 = 0x00;
/// Stored-value prefix of a reference.
pub const REFERENCE_VALUE_PREFIX: u8 = 0x01;

/// `0x00 ‖ key`.
pub fn set_key(key: &[u8]) -> Vec<u8> {
    [&[SET_KEY_PREFIX][..], key].concat()
}

/// `0x01 ‖ u64be(atTx) ‖ 0x00 ‖ refKey`.
pub fn reference_value(referenced_key: &[u8], at_tx: TxId) -> Vec<u8> {
    let mut v = vec![REFERENCE_VALUE_PREFIX];
    v.extend_from_slice(&at_tx.to_be_bytes());
    v.extend_from_slice(&set_key(referenced_key));
    v
}

/// The prefix shared by every member of sorted set `set`.
pub fn zset_prefix(set: &[u8]) -> Vec<u8> {
    let mut k = vec![SORTED_SET_KEY_PREFIX];
    k.extend_from_slice(&(set.len() as u64).to_be_bytes());
    k.extend_from_slice(set);
    k
}

/// The stored key of member `key` with `score` in `set`, bound to `at_tx` (0: unbound).
pub fn zset_key(set: &[u8], score: f64, key: &[u8], at_tx: TxId) -> Vec<u8> {
    let mut k = zset_prefix(set);
    k.extend_from_slice(&score.to_bits().to_be_bytes());
    k.extend_from_slice(&(key.len() as u64 + 1).to_be_bytes());
    k.extend_from_slice(&set_key(key));
    k.extend_from_slice(&at_tx.to_be_bytes());
    k
}

/// The reference through which a value was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The reference's own key, unprefixed.
    pub key: Vec<u8>,
    /// The tx that wrote the reference.
    pub tx: TxId,
    /// The tx the reference is bound to; 0 when it follows the referenced key's newest version.
    pub at_tx: TxId,
    /// The revision of the reference's version among its key's versions.
    pub revision: u64,
    /// The reference's own KV metadata.
    pub metadata: KvMetadata,
}

/// A resolved value, as immudb's `Entry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key, unprefixed; for a value read through a reference, the referenced key.
    pub key: Vec<u8>,
    /// The value, unprefixed; empty for a delete.
    pub value: Vec<u8>,
    /// The tx that wrote this version.
    pub tx: TxId,
    /// The revision of this version among its key's versions.
    pub revision: u64,
    /// This version's KV metadata.
    pub metadata: KvMetadata,
    /// The reference the value was read through; `None` for a direct read.
    pub referenced_by: Option<Reference>,
}

/// A sorted-set member, as immudb's `ZEntry`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZEntry {
    /// The sorted set's name.
    pub set: Vec<u8>,
    /// The member's key, unprefixed.
    pub key: Vec<u8>,
    /// The member's score.
    pub score: f64,
    /// The tx the member is bound to; 0 when it follows the key's newest version.
    pub at_tx: TxId,
    /// The member key's value, as read (at `at_tx` when bound).
    pub entry: KvEntry,
}

/// Which version a read wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadAt {
    /// The newest version.
    #[default]
    Latest,
    /// The newest version once tx n is committed (waits for it).
    SinceTx(TxId),
    /// The version written by tx n exactly.
    AtTx(TxId),
    /// `> 0` from the first version, `<= 0` back from the newest.
    AtRevision(i64),
}

/// One operation of an `exec_all`.
#[derive(Debug, Clone, PartialEq)]
pub enum KvOp {
    /// Sets `key` to `value`.
    Set {
        /// The key, unprefixed.
        key: Vec<u8>,
        /// The value, unprefixed.
        value: Vec<u8>,
        /// The entry's KV metadata; `deleted` is refused (deletes go through `delete`).
        metadata: KvMetadata,
    },
    /// Makes `key` a reference to `referenced_key`, which must hold a live plain value.
    Ref {
        /// The reference's key, unprefixed; it must not hold a plain value.
        key: Vec<u8>,
        /// The key referred to, unprefixed.
        referenced_key: Vec<u8>,
        /// The tx the reference is bound to when `bound`; 0 otherwise.
        at_tx: TxId,
        /// Whether the reference reads `referenced_key` as of `at_tx` rather than its newest
        /// version.
        bound: bool,
    },
    /// Adds `key`, which must hold a live plain value, to sorted set `set` with `score`.
    ZAdd {
        /// The sorted set's name.
        set: Vec<u8>,
        /// The member's score; must be finite.
        score: f64,
        /// The member's key, unprefixed.
        key: Vec<u8>,
        /// The tx the member is bound to when `bound`; 0 otherwise.
        at_tx: TxId,
        /// Whether the member reads `key` as of `at_tx` rather than its newest version.
        bound: bool,
    },
}

/// Which members of a sorted set [`Kv::zscan`] returns, and in what order.
#[derive(Debug, Clone, Default)]
pub struct ZScanQuery {
    /// The sorted set's name.
    pub set: Vec<u8>,
    /// Start after this member (at it with `inclusive_seek`), with `seek_score` and
    /// `seek_at_tx`; `None` or empty: from the first member.
    pub seek_key: Option<Vec<u8>>,
    /// The score of the seek member.
    pub seek_score: f64,
    /// The tx the seek member is bound to; 0 for an unbound member.
    pub seek_at_tx: TxId,
    /// Include the seek member itself.
    pub inclusive_seek: bool,
    /// Leave out members scored below this.
    pub min_score: Option<f64>,
    /// Leave out members scored above this.
    pub max_score: Option<f64>,
    /// Last member first.
    pub desc: bool,
    /// How many members to skip first, after the score filter.
    pub offset: usize,
    /// 0: no limit.
    pub limit: usize,
    /// Read at this tx instead of the latest.
    pub snapshot: Option<TxId>,
}

/// The key/value view of a ledger.
pub struct Kv<'a> {
    ledger: &'a Ledger,
}

impl Ledger {
    /// The key/value view of this ledger.
    pub fn kv(&self) -> Kv<'_> {
        Kv { ledger: self }
    }
}

fn strip(stored: &[u8]) -> Vec<u8> {
    stored.get(1..).unwrap_or_default().to_vec()
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(LedgerError::illegal("empty key"));
    }
    Ok(())
}

impl Kv<'_> {
    /// Sets keys to values in one transaction.
    pub fn set(&self, kvs: Vec<(Vec<u8>, Vec<u8>)>) -> Result<TxHeader> {
        let ops = kvs
            .into_iter()
            .map(|(key, value)| KvOp::Set {
                key,
                value,
                metadata: KvMetadata::default(),
            })
            .collect();
        self.exec_all(ops, false)
    }

    /// Runs every operation in one transaction, in order.
    pub fn exec_all(&self, ops: Vec<KvOp>, no_sync: bool) -> Result<TxHeader> {
        self.exec_all_with(ops, Vec::new(), no_sync)
    }

    /// As [`Kv::exec_all`], with the caller's own preconditions (on stored keys) checked
    /// atomically with the commit.
    pub fn exec_all_with(
        &self,
        ops: Vec<KvOp>,
        mut preconditions: Vec<Precondition>,
        no_sync: bool,
    ) -> Result<TxHeader> {
        if ops.is_empty() {
            return Err(LedgerError::illegal("no operations"));
        }
        let snapshot = self.ledger.state().tx_id;
        let mut entries = Vec::with_capacity(ops.len());
        // Plain keys set by this request: a ref or zadd may name them.
        let set_here: std::collections::HashSet<Vec<u8>> = ops
            .iter()
            .filter_map(|op| match op {
                KvOp::Set { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect();
        for op in ops {
            match op {
                KvOp::Set {
                    key,
                    value,
                    metadata,
                } => {
                    check_key(&key)?;
                    if metadata.deleted {
                        return Err(LedgerError::illegal("use delete to delete a key"));
                    }
                    let value = [&[PLAIN_VALUE_PREFIX][..], &value].concat();
                    entries.push(NewEntry {
                        key: set_key(&key),
                        metadata,
                        value,
                    });
                }
                KvOp::Ref {
                    key,
                    referenced_key,
                    at_tx,
                    bound,
                } => {
                    check_key(&key)?;
                    check_key(&referenced_key)?;
                    if key == referenced_key {
                        return Err(LedgerError::illegal("a key cannot reference itself"));
                    }
                    self.check_bound(at_tx, bound, snapshot)?;
                    if !set_here.contains(&referenced_key) {
                        self.check_referable(&referenced_key, at_tx, snapshot)?;
                        preconditions.push(Precondition::KeyNotModifiedAfter(
                            set_key(&referenced_key),
                            snapshot,
                        ));
                    }
                    match self.ledger.get(&set_key(&key), Some(snapshot)) {
                        Ok(e) if e.value.first() != Some(&REFERENCE_VALUE_PREFIX) => {
                            return Err(LedgerError::illegal(
                                "the key already holds a value: a reference can only replace a reference",
                            ))
                        }
                        Ok(_) | Err(LedgerError::KeyNotFound) => {}
                        Err(e) => return Err(e),
                    }
                    preconditions.push(Precondition::KeyNotModifiedAfter(set_key(&key), snapshot));
                    entries.push(NewEntry {
                        key: set_key(&key),
                        metadata: KvMetadata::default(),
                        value: reference_value(&referenced_key, at_tx),
                    });
                }
                KvOp::ZAdd {
                    set,
                    score,
                    key,
                    at_tx,
                    bound,
                } => {
                    check_key(&set)?;
                    check_key(&key)?;
                    if !score.is_finite() {
                        return Err(LedgerError::illegal("a score must be a finite number"));
                    }
                    self.check_bound(at_tx, bound, snapshot)?;
                    if !set_here.contains(&key) {
                        self.check_referable(&key, at_tx, snapshot)?;
                        preconditions
                            .push(Precondition::KeyNotModifiedAfter(set_key(&key), snapshot));
                    }
                    entries.push(NewEntry {
                        key: zset_key(&set, score, &key, at_tx),
                        metadata: KvMetadata::default(),
                        value: Vec::new(),
                    });
                }
            }
        }
        self.ledger.commit_with(Commit {
            entries,
            preconditions,
            no_sync,
            ..Default::default()
        })
    }

    fn check_bound(&self, at_tx: TxId, bound: bool, snapshot: TxId) -> Result<()> {
        if bound != (at_tx > 0) {
            return Err(LedgerError::illegal(if bound {
                "a bound reference needs the tx it is bound to (binding to the current tx is not supported)"
            } else {
                "atTx is only allowed with boundRef"
            }));
        }
        if at_tx > snapshot {
            return Err(LedgerError::illegal(format!(
                "atTx {at_tx} is not committed yet"
            )));
        }
        Ok(())
    }

    /// A reference or sorted-set member must name a live plain value (at `at_tx` when bound).
    fn check_referable(&self, key: &[u8], at_tx: TxId, snapshot: TxId) -> Result<()> {
        let e = if at_tx > 0 {
            self.ledger.get_at_tx(&set_key(key), at_tx)?
        } else {
            self.ledger.get(&set_key(key), Some(snapshot))?
        };
        if e.metadata.deleted {
            return Err(LedgerError::KeyNotFound);
        }
        if e.value.first() == Some(&REFERENCE_VALUE_PREFIX) {
            return Err(LedgerError::illegal("cannot reference a reference"));
        }
        Ok(())
    }

    /// Deletes keys (each must have a live value) in one transaction.
    pub fn delete(&self, keys: Vec<Vec<u8>>) -> Result<TxHeader> {
        if keys.is_empty() {
            return Err(LedgerError::illegal("no keys to delete"));
        }
        let deleted = KvMetadata {
            deleted: true,
            ..Default::default()
        };
        let mut entries = Vec::with_capacity(keys.len());
        let mut preconditions = Vec::with_capacity(keys.len());
        for k in keys {
            check_key(&k)?;
            let stored = set_key(&k);
            preconditions.push(Precondition::KeyMustExist(stored.clone()));
            entries.push(NewEntry {
                key: stored,
                metadata: deleted,
                value: Vec::new(),
            });
        }
        self.ledger
            .commit_with(Commit {
                entries,
                preconditions,
                no_sync: false,
                ..Default::default()
            })
            .map_err(|e| match e {
                LedgerError::PreconditionFailed(_) => LedgerError::KeyNotFound,
                other => other,
            })
    }

    /// Reads a key, resolving references.
    pub fn get(&self, key: &[u8], at: ReadAt) -> Result<KvEntry> {
        check_key(key)?;
        let stored = set_key(key);
        let (entry, snapshot) = match at {
            ReadAt::Latest => (self.ledger.get(&stored, None)?, None),
            ReadAt::SinceTx(n) => {
                self.ledger.wait_for(n)?;
                (self.ledger.get(&stored, None)?, None)
            }
            ReadAt::AtTx(n) => (self.ledger.get_at_tx(&stored, n)?, Some(n)),
            ReadAt::AtRevision(r) => (self.ledger.get_at_revision(&stored, r, None)?, None),
        };
        if entry.metadata.deleted || entry.metadata.non_indexable {
            return Err(LedgerError::KeyNotFound);
        }
        self.resolve(key, entry, snapshot)
    }

    /// Reads several keys at the latest state; missing keys are left out.
    pub fn get_all(&self, keys: &[Vec<u8>]) -> Result<Vec<KvEntry>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            match self.get(k, ReadAt::Latest) {
                Ok(e) => out.push(e),
                Err(LedgerError::KeyNotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn resolve(&self, key: &[u8], e: Entry, snapshot: Option<TxId>) -> Result<KvEntry> {
        match e.value.first() {
            Some(&PLAIN_VALUE_PREFIX) => Ok(KvEntry {
                key: key.to_vec(),
                value: strip(&e.value),
                tx: e.tx,
                revision: e.revision,
                metadata: e.metadata,
                referenced_by: None,
            }),
            Some(&REFERENCE_VALUE_PREFIX) if e.value.len() >= 10 => {
                let at_tx = u64::from_be_bytes(e.value[1..9].try_into().unwrap());
                let target = &e.value[9..];
                let resolved = if at_tx > 0 {
                    self.ledger.get_at_tx(target, at_tx)?
                } else {
                    self.ledger.get(target, snapshot)?
                };
                if resolved.metadata.deleted || resolved.value.first() != Some(&PLAIN_VALUE_PREFIX)
                {
                    return Err(LedgerError::KeyNotFound);
                }
                Ok(KvEntry {
                    key: strip(target),
                    value: strip(&resolved.value),
                    tx: resolved.tx,
                    revision: resolved.revision,
                    metadata: resolved.metadata,
                    referenced_by: Some(Reference {
                        key: key.to_vec(),
                        tx: e.tx,
                        at_tx,
                        revision: e.revision,
                        metadata: e.metadata,
                    }),
                })
            }
            _ => Err(LedgerError::corrupted(e.tx, "malformed key/value entry")),
        }
    }

    /// Every version of a key, deletes included (with an empty value).
    pub fn history(&self, key: &[u8], q: &HistoryQuery) -> Result<Vec<KvEntry>> {
        check_key(key)?;
        let versions = self.ledger.history(&set_key(key), q)?;
        if versions.is_empty() {
            return Err(LedgerError::KeyNotFound);
        }
        Ok(versions
            .into_iter()
            .map(|e| KvEntry {
                key: key.to_vec(),
                value: if e.metadata.deleted {
                    Vec::new()
                } else {
                    strip(&e.value)
                },
                tx: e.tx,
                revision: e.revision,
                metadata: e.metadata,
                referenced_by: None,
            })
            .collect())
    }

    /// Live keys in a range, references resolved (dangling ones left out).
    pub fn scan(&self, q: &ScanQuery) -> Result<Vec<KvEntry>> {
        let q = ScanQuery {
            prefix: set_key(&q.prefix),
            seek_key: q.seek_key.as_deref().map(set_key),
            end_key: q.end_key.as_deref().map(set_key),
            ..q.clone()
        };
        let mut out = Vec::new();
        for e in self.ledger.scan(&q)? {
            let key = strip(&e.key);
            match self.resolve(&key, e, q.snapshot) {
                Ok(r) => out.push(r),
                Err(LedgerError::KeyNotFound) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }

    /// Adds `key` to sorted set `set` with `score`.
    pub fn zadd(
        &self,
        set: &[u8],
        score: f64,
        key: &[u8],
        at_tx: TxId,
        bound: bool,
    ) -> Result<TxHeader> {
        self.exec_all(
            vec![KvOp::ZAdd {
                set: set.to_vec(),
                score,
                key: key.to_vec(),
                at_tx,
                bound,
            }],
            false,
        )
    }

    /// Sets `key` to refer to `referenced_key` (at `at_tx` when bound).
    pub fn set_reference(
        &self,
        key: &[u8],
        referenced_key: &[u8],
        at_tx: TxId,
        bound: bool,
    ) -> Result<TxHeader> {
        self.exec_all(
            vec![KvOp::Ref {
                key: key.to_vec(),
                referenced_key: referenced_key.to_vec(),
                at_tx,
                bound,
            }],
            false,
        )
    }

    /// Members of a sorted set in stored-key order (raw float bits), filtered by score.
    pub fn zscan(&self, q: &ZScanQuery) -> Result<Vec<ZEntry>> {
        check_key(&q.set)?;
        let prefix = zset_prefix(&q.set);
        let seek_key = match &q.seek_key {
            Some(k) if !k.is_empty() => Some(zset_key(&q.set, q.seek_score, k, q.seek_at_tx)),
            _ => None,
        };
        let raw = self.ledger.scan(&ScanQuery {
            prefix: prefix.clone(),
            seek_key,
            inclusive_seek: q.inclusive_seek,
            desc: q.desc,
            snapshot: q.snapshot,
            ..Default::default()
        })?;
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        let mut out = Vec::new();
        for e in raw {
            let rest = &e.key[prefix.len()..];
            let bad = || LedgerError::corrupted(e.tx, "malformed sorted-set key");
            if rest.len() < 24 {
                return Err(bad());
            }
            let score = f64::from_bits(u64::from_be_bytes(rest[..8].try_into().unwrap()));
            let klen = u64::from_be_bytes(rest[8..16].try_into().unwrap()) as usize;
            if rest.len() != 16 + klen + 8 || klen == 0 {
                return Err(bad());
            }
            let key = rest[17..16 + klen].to_vec();
            let at_tx = u64::from_be_bytes(rest[16 + klen..].try_into().unwrap());
            if q.min_score.is_some_and(|m| score < m) || q.max_score.is_some_and(|m| score > m) {
                continue;
            }
            let read = if at_tx > 0 {
                ReadAt::AtTx(at_tx)
            } else {
                ReadAt::Latest
            };
            let entry = match (read, q.snapshot) {
                (ReadAt::Latest, Some(s)) => self
                    .ledger
                    .get(&set_key(&key), Some(s))
                    .and_then(|e| self.resolve(&key, e, Some(s))),
                _ => self.get(&key, read),
            };
            match entry {
                Ok(entry) => out.push(ZEntry {
                    set: q.set.clone(),
                    key,
                    score,
                    at_tx,
                    entry,
                }),
                Err(LedgerError::KeyNotFound) => continue,
                Err(err) => return Err(err),
            }
        }
        Ok(out.into_iter().skip(q.offset).take(limit).collect())
    }
}
