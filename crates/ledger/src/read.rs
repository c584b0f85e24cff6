//! Reads at a snapshot: a key's newest version, a version by tx or revision, history, scans,
//! and transactions by id.
//!
//! A snapshot is a committed tx id; a read at snapshot `s` sees exactly the versions written by
//! txs `1..=s`. Versions are immutable once written and every tx at or below the committed id is
//! wholly in RocksDB, so reads need no RocksDB snapshot and never block the committer.
//! Non-indexable entries are never visible to these reads (only to tx reads); deleted and
//! expired versions hide the key from `get` and `scan` but stay in `history`.

use rocksdb::DBRawIteratorWithThreadMode;
use stele_proof::{KvMetadata, TxHeader, TxId};

use crate::format::{self, successor, TxEntryRecord, CF_IDX, CF_KV, CF_TX};
use crate::ledger::{now_secs, Inner};
use crate::{Ledger, LedgerError, Result};

/// One version of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The stored key.
    pub key: Vec<u8>,
    /// The stored value.
    pub value: Vec<u8>,
    /// The version's KV metadata: deleted, expiry, non-indexable.
    pub metadata: KvMetadata,
    /// The tx that wrote this version.
    pub tx: TxId,
    /// 1-based position of this version among the key's indexable versions (deletes count),
    /// stored at commit; 0 for a non-indexable entry, a derived index entry, and in scans of
    /// keys written by unnumbered commits (`Commit::unnumbered`).
    pub revision: u64,
}

impl Entry {
    /// Whether this version is neither a delete nor expired at `now` (unix seconds).
    pub fn is_live(&self, now: i64) -> bool {
        !self.metadata.deleted && !self.metadata.expired_at(now as u64)
    }
}

/// A key met by [`Ledger::visit`], as stored (escaped): decoded only by a visitor that needs it.
#[derive(Debug, Clone, Copy)]
pub struct VisitedKey<'a>(&'a [u8]);

impl VisitedKey<'_> {
    /// The key, decoded into `out` (replacing what it held).
    pub fn decode_into(&self, out: &mut Vec<u8>) {
        format::unescape_into(out, self.0);
    }

    /// The key, decoded.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len());
        self.decode_into(&mut out);
        out
    }
}

/// A transaction as stored: header and entry digests inputs, in hashed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    /// The tx's header, as hashed.
    pub header: TxHeader,
    /// Each entry's digest inputs, in hashed order.
    pub entries: Vec<TxEntryRecord>,
}

/// Which versions of a key [`Ledger::history`] returns, and in what order.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// How many versions to skip first, in the requested order.
    pub offset: usize,
    /// 0: no limit.
    pub limit: usize,
    /// Newest first.
    pub desc: bool,
    /// Read at this tx instead of the latest.
    pub snapshot: Option<TxId>,
}

/// Which keys [`Ledger::scan`] and [`Ledger::index_scan`] return, and in what order.
#[derive(Debug, Clone, Default)]
pub struct ScanQuery {
    /// Only keys starting with this.
    pub prefix: Vec<u8>,
    /// Start after this key (at it with `inclusive_seek`); in a descending scan, the upper end.
    pub seek_key: Option<Vec<u8>>,
    /// Include `seek_key` itself.
    pub inclusive_seek: bool,
    /// Stop before this key (at it with `inclusive_end`); in a descending scan, the lower end.
    pub end_key: Option<Vec<u8>>,
    /// Include `end_key` itself.
    pub inclusive_end: bool,
    /// Greatest key first.
    pub desc: bool,
    /// How many matching keys to skip first, in the scan's order.
    pub offset: usize,
    /// 0: no limit.
    pub limit: usize,
    /// Read at this tx instead of the latest.
    pub snapshot: Option<TxId>,
    /// Also return keys whose newest version is a delete or has expired (their ids, say).
    pub include_deleted: bool,
}

type RawIter<'a> = DBRawIteratorWithThreadMode<'a, rocksdb::DB>;

impl Ledger {
    fn snapshot_or_latest(&self, snapshot: Option<TxId>) -> Result<TxId> {
        let committed = self.state().tx_id;
        match snapshot {
            None => Ok(committed),
            Some(s) if s <= committed => Ok(s),
            Some(s) => Err(LedgerError::illegal(format!(
                "snapshot tx {s} is beyond the last committed tx {committed}"
            ))),
        }
    }

    fn kv_iter(&self) -> RawIter<'_> {
        self.inner.db.raw_iterator_cf(self.inner.cf(CF_KV))
    }

    /// The newest live version of `key` at `snapshot` (latest when `None`), with its revision.
    pub fn get(&self, key: &[u8], snapshot: Option<TxId>) -> Result<Entry> {
        let snapshot = self.snapshot_or_latest(snapshot)?;
        let newest = self
            .versions_desc(key, snapshot, 1)
            .next()
            .transpose()?
            .ok_or(LedgerError::KeyNotFound)?;
        if !newest.is_live(now_secs()) {
            return Err(LedgerError::KeyNotFound);
        }
        if newest.revision == 0 {
            // Written by an unnumbered commit: count.
            let revision = self.count_versions(key, snapshot)?;
            return Ok(Entry { revision, ..newest });
        }
        Ok(newest)
    }

    /// The newest live version of `key` at `snapshot` (one seek): `None` when absent, deleted
    /// or expired.
    pub fn get_latest(&self, key: &[u8], snapshot: TxId) -> Result<Option<Entry>> {
        match self.versions_desc(key, snapshot, 1).next().transpose()? {
            Some(e) if e.is_live(now_secs()) => Ok(Some(e)),
            _ => Ok(None),
        }
    }

    /// Visits the live keys of a forward scan at the snapshot without copying them:
    /// `f(key, tx, value)` in key order, until it returns `false`. `seek_key`/`end_key` bound
    /// the scan as in [`ScanQuery`]; `desc`, `offset`, `limit` and `include_deleted` are ignored.
    /// The key comes escaped ([`VisitedKey`]): most visitors never need it.
    ///
    /// Cheaper than [`Ledger::scan`]: it steps with `next` over older versions instead of
    /// seeking past them, compares escaped keys instead of decoding them, leaves the end bound
    /// to RocksDB's iterator, and stops checking the start bound once a key has passed it.
    /// `fill_cache: false` reads blocks the cache lacks without keeping them (a scan of more
    /// than the cache holds would only evict what others read).
    pub fn visit(
        &self,
        q: &ScanQuery,
        fill_cache: bool,
        mut f: impl FnMut(VisitedKey<'_>, TxId, &[u8]) -> bool,
    ) -> Result<()> {
        let snapshot = self.snapshot_or_latest(q.snapshot)?;
        let now = now_secs();
        // RocksDB counts every step of an iterator in a thread-local perf context unless told
        // not to; nothing here reads those counts.
        rocksdb::perf::set_perf_stats(rocksdb::perf::PerfStatsLevel::Disable);
        let esc = |k: &[u8]| {
            let mut out = Vec::with_capacity(k.len() + 2);
            format::escape_into(&mut out, k);
            out
        };
        let prefix = esc(&q.prefix);
        // Escaping preserves order, so bounds compare escaped key bytes (terminator excluded).
        let mut lower = q.seek_key.as_ref().map(|k| (esc(k), q.inclusive_seek));
        // The first stored key past the scan: every version of a key `k` is `esc(k) ‖ 00 00 ‖
        // tx`, below `esc(k) ‖ 00 01` and above `esc(k)`, and a longer key with `k` as its
        // prefix continues with `00 FF` or a byte above `00`.
        let end = q.end_key.as_ref().map(|k| {
            let mut e = esc(k);
            if q.inclusive_end {
                e.extend_from_slice(&[0, 1]);
            }
            e
        });
        let past_prefix = successor(&prefix);
        let upper = match (end, &past_prefix) {
            (Some(e), Some(p)) => Some(e.min(p.clone())),
            (e, p) => e.or_else(|| p.clone()),
        };
        let mut opts = rocksdb::ReadOptions::default();
        opts.fill_cache(fill_cache);
        if !fill_cache {
            // A long scan reads ahead in bigger steps than one block.
            opts.set_readahead_size(1 << 20);
        }
        if let Some(u) = &upper {
            opts.set_iterate_upper_bound(u.clone());
        }
        let mut it = self
            .inner
            .db
            .raw_iterator_cf_opt(self.inner.cf(CF_KV), opts);
        match &lower {
            Some((k, _)) if k.as_slice() > prefix.as_slice() => it.seek(k),
            _ => it.seek(&prefix),
        }
        // The escaped key of the last version handled: older versions of it are skipped.
        let mut done_key: Vec<u8> = Vec::new();
        let same = |a: &[u8], b: &[u8]| a.len() == b.len() && a.last() == b.last() && a == b;
        // One validity check a step for the key and value both.
        while let Some((raw, stored)) = it.item() {
            // Only a prefix of all 0xFF bytes has no upper bound to stop at.
            if raw.len() < 10 || (past_prefix.is_none() && !raw.starts_with(&prefix)) {
                break;
            }
            let (ek, id) = raw.split_at(raw.len() - 10);
            if !done_key.is_empty() && same(ek, &done_key) {
                it.next();
                continue;
            }
            if let Some((lo, incl)) = &lower {
                if ek < lo.as_slice() || (!incl && ek == lo.as_slice()) {
                    it.next();
                    continue;
                }
                // Keys only grow from here.
                lower = None;
            }
            let tx = !u64::from_be_bytes(id[2..].try_into().unwrap());
            if tx > snapshot {
                // A version newer than the snapshot: jump to the key's version at the snapshot.
                let mut target = ek.to_vec();
                target.extend_from_slice(&[0, 0]);
                target.extend_from_slice(&(!snapshot).to_be_bytes());
                it.seek(&target);
                continue;
            }
            let record = format::decode_kv_record(stored, tx)?;
            let (md, value) = (record.metadata, record.value);
            if md.non_indexable {
                it.next();
                continue;
            }
            done_key.clear();
            done_key.extend_from_slice(ek);
            if !md.deleted && !md.expired_at(now as u64) && !f(VisitedKey(ek), tx, value) {
                return Ok(());
            }
            it.next();
        }
        it.status()?;
        Ok(())
    }

    /// The version of `key` written by tx `tx` exactly (deleted or not).
    pub fn get_at_tx(&self, key: &[u8], tx: TxId) -> Result<Entry> {
        if tx == 0 || tx > self.state().tx_id {
            return Err(LedgerError::TxNotFound);
        }
        let raw = self
            .inner
            .db
            .get_pinned_cf(self.inner.cf(CF_KV), format::kv_key(key, tx))?
            .ok_or(LedgerError::KeyNotFound)?;
        let record = format::decode_kv_record(&raw, tx)?;
        let revision = match record.revision {
            0 if !record.metadata.non_indexable => self.count_versions(key, tx)?,
            r => r,
        };
        Ok(Entry {
            key: key.to_vec(),
            value: record.value.to_vec(),
            metadata: record.metadata,
            tx,
            revision,
        })
    }

    /// Version `revision` of `key`: `> 0` counts from the first version (1 = first), `<= 0`
    /// from the newest (0 = newest, −1 = the one before). Deleted versions count.
    pub fn get_at_revision(
        &self,
        key: &[u8],
        revision: i64,
        snapshot: Option<TxId>,
    ) -> Result<Entry> {
        let snapshot = self.snapshot_or_latest(snapshot)?;
        // The newest version at the snapshot carries the count of versions up to it.
        let total = match self.versions_desc(key, snapshot, 0).next().transpose()? {
            Some(newest) if newest.revision > 0 => newest.revision,
            Some(_) => self.count_versions(key, snapshot)?,
            None => return Err(LedgerError::KeyNotFound),
        };
        let rev = if revision > 0 {
            revision
        } else {
            total as i64 + revision
        };
        if rev < 1 || rev as u64 > total {
            return Err(LedgerError::InvalidRevision);
        }
        let skip = (total - rev as u64) as usize;
        let e = self
            .versions_desc(key, snapshot, usize::MAX)
            .nth(skip)
            .ok_or(LedgerError::InvalidRevision)??;
        Ok(Entry {
            revision: rev as u64,
            ..e
        })
    }

    /// How many indexable versions `key` has at `snapshot` (one iterator step a version):
    /// the revision of a version an unnumbered commit wrote.
    fn count_versions(&self, key: &[u8], snapshot: TxId) -> Result<u64> {
        self.versions_desc(key, snapshot, 0)
            .try_fold(0u64, |n, v| v.map(|_| n + 1))
    }

    /// Every indexable version of `key` at `snapshot`, newest first, with their stored
    /// revisions (0 where an unnumbered commit wrote them); only the first `with_values`
    /// versions carry their value.
    fn versions_desc<'a>(
        &'a self,
        key: &[u8],
        snapshot: TxId,
        mut with_values: usize,
    ) -> impl Iterator<Item = Result<Entry>> + 'a {
        let prefix = format::kv_key_prefix(key);
        // Bounded to this key's versions, so RocksDB can skip files that hold none of them.
        let mut opts = rocksdb::ReadOptions::default();
        opts.set_iterate_upper_bound(format::kv_key(key, 0));
        let mut it = self
            .inner
            .db
            .raw_iterator_cf_opt(self.inner.cf(CF_KV), opts);
        let mut seek = prefix.clone();
        seek.extend_from_slice(&(!snapshot).to_be_bytes());
        it.seek(&seek);
        let key = key.to_vec();
        let mut done = false;
        std::iter::from_fn(move || loop {
            if done {
                return None;
            }
            let Some(k) = it.key() else {
                done = true;
                return it.status().err().map(|e| Err(e.into()));
            };
            if !k.starts_with(&prefix) || k.len() != prefix.len() + 8 {
                done = true;
                return None;
            }
            let tx = !u64::from_be_bytes(k[prefix.len()..].try_into().unwrap());
            let decoded = format::decode_kv_record(it.value().unwrap(), tx).map(|r| {
                let value = if with_values > 0 && !r.metadata.non_indexable {
                    r.value.to_vec()
                } else {
                    Vec::new()
                };
                (r.metadata, r.revision, value)
            });
            it.next();
            match decoded {
                Err(e) => {
                    done = true;
                    return Some(Err(e));
                }
                Ok((md, _, _)) if md.non_indexable => continue,
                Ok((metadata, revision, value)) => {
                    with_values = with_values.saturating_sub(1);
                    return Some(Ok(Entry {
                        key: key.clone(),
                        value,
                        metadata,
                        tx,
                        revision,
                    }));
                }
            }
        })
    }

    /// The versions of `key` at the snapshot, tombstones included, with their revisions.
    pub fn history(&self, key: &[u8], q: &HistoryQuery) -> Result<Vec<Entry>> {
        let snapshot = self.snapshot_or_latest(q.snapshot)?;
        let mut all = self
            .versions_desc(key, snapshot, usize::MAX)
            .collect::<Result<Vec<_>>>()?;
        // Positions, so that unnumbered versions are numbered too.
        let total = all.len() as u64;
        for (i, e) in all.iter_mut().enumerate() {
            e.revision = total - i as u64;
        }
        if !q.desc {
            all.reverse();
        }
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        Ok(all.into_iter().skip(q.offset).take(limit).collect())
    }

    /// The live keys in a range at the snapshot, each at its newest version.
    pub fn scan(&self, q: &ScanQuery) -> Result<Vec<Entry>> {
        self.scan_cf(CF_KV, q)
    }

    /// [`Ledger::scan`] over the derived index entries (`Commit::index_entries`); their values
    /// are empty.
    pub fn index_scan(&self, q: &ScanQuery) -> Result<Vec<Entry>> {
        self.scan_cf(CF_IDX, q)
    }

    /// Every version of every key under `prefix` written at or before `snapshot`, key by key
    /// in key order, each key's versions oldest first: `f(key, tx, metadata, value)`. The
    /// first error (the callback's own or a storage error) stops the walk.
    pub fn for_each_version<E: From<LedgerError>>(
        &self,
        prefix: &[u8],
        snapshot: TxId,
        mut f: impl FnMut(&[u8], TxId, KvMetadata, &[u8]) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let mut escaped = Vec::new();
        format::escape_into(&mut escaped, prefix);
        let mut it = self.kv_iter();
        it.seek(&escaped);
        // Versions come newest first within a key: gather one key's, then replay them reversed.
        let mut versions: Vec<(TxId, KvMetadata, Vec<u8>)> = Vec::new();
        let mut current: Option<Vec<u8>> = None;
        loop {
            let decoded = match it.key() {
                Some(raw) if raw.starts_with(&escaped) => Some(format::decode_kv_key(raw)?),
                _ => None,
            };
            if decoded.as_ref().map(|(k, _)| k) != current.as_ref() {
                if let Some(k) = current.take() {
                    for (tx, md, v) in versions.drain(..).rev() {
                        f(&k, tx, md, &v)?;
                    }
                }
                let Some((k, _)) = &decoded else { break };
                current = Some(k.clone());
            }
            let Some((_, tx)) = decoded else { break };
            if tx <= snapshot {
                let r = format::decode_kv_record(it.value().unwrap(), tx)?;
                if !r.metadata.non_indexable {
                    versions.push((tx, r.metadata, r.value.to_vec()));
                }
            }
            it.next();
        }
        it.status().map_err(LedgerError::from)?;
        Ok(())
    }

    fn scan_cf(&self, cf: &str, q: &ScanQuery) -> Result<Vec<Entry>> {
        let snapshot = self.snapshot_or_latest(q.snapshot)?;
        let now = now_secs();
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        let mut out = Vec::new();
        let mut skipped = 0;
        let mut emit = |e: Entry| {
            if !q.include_deleted && !e.is_live(now) {
                return true;
            }
            if skipped < q.offset {
                skipped += 1;
                return true;
            }
            out.push(e);
            out.len() < limit
        };
        let in_lower = |k: &[u8]| match (&q.desc, &q.seek_key, &q.end_key) {
            (false, Some(s), _) => k > s.as_slice() || (q.inclusive_seek && k == s.as_slice()),
            (true, _, Some(e)) => k > e.as_slice() || (q.inclusive_end && k == e.as_slice()),
            _ => true,
        };
        let in_upper = |k: &[u8]| match (&q.desc, &q.seek_key, &q.end_key) {
            (false, _, Some(e)) => k < e.as_slice() || (q.inclusive_end && k == e.as_slice()),
            (true, Some(s), _) => k < s.as_slice() || (q.inclusive_seek && k == s.as_slice()),
            _ => true,
        };
        let mut escaped_prefix = Vec::new();
        format::escape_into(&mut escaped_prefix, &q.prefix);
        let mut it = self.inner.db.raw_iterator_cf(self.inner.cf(cf));

        if !q.desc {
            match &q.seek_key {
                Some(s) if s.as_slice() > q.prefix.as_slice() => it.seek(format::kv_key_prefix(s)),
                _ => it.seek(&escaped_prefix),
            }
            while let Some(raw) = it.key() {
                let (key, tx) = format::decode_kv_key(raw)?;
                if !key.starts_with(&q.prefix) || !in_upper(&key) {
                    break;
                }
                if !in_lower(&key) {
                    it.seek(format::kv_key(&key, 0));
                    continue;
                }
                if tx > snapshot {
                    it.seek(format::kv_key(&key, snapshot));
                    continue;
                }
                let r = format::decode_kv_record(it.value().unwrap(), tx)?;
                if r.metadata.non_indexable {
                    it.next();
                    continue;
                }
                let e = Entry {
                    key,
                    value: r.value.to_vec(),
                    metadata: r.metadata,
                    tx,
                    revision: r.revision,
                };
                let next = format::kv_key(&e.key, 0);
                let current = e.key.clone();
                if !emit(e) {
                    break;
                }
                // The key's older versions follow: step over a few (a seek costs more than
                // a step, and most keys have one version), seek past the rest.
                it.next();
                let mut steps = 0;
                while let Some(raw) = it.key() {
                    if format::decode_kv_key(raw)?.0 != current {
                        break;
                    }
                    steps += 1;
                    if steps > 2 {
                        it.seek(&next);
                        break;
                    }
                    it.next();
                }
            }
        } else {
            match (&q.seek_key, successor(&escaped_prefix)) {
                (Some(s), succ) if succ.as_ref().is_none_or(|p| format::kv_key_prefix(s) < *p) => {
                    it.seek_for_prev(format::kv_key(s, 0))
                }
                (_, Some(succ)) => it.seek_for_prev(succ),
                (_, None) => it.seek_to_last(),
            }
            // Walking backwards, a key's versions come oldest first: keep the newest visible one.
            let mut candidate: Option<Entry> = None;
            let mut current: Option<Vec<u8>> = None;
            loop {
                let decoded = match it.key() {
                    Some(raw) => Some(format::decode_kv_key(raw)?),
                    None => None,
                };
                let same = matches!((&decoded, &current), (Some((k, _)), Some(c)) if k == c);
                if !same {
                    if let Some(e) = candidate.take() {
                        if !emit(e) {
                            break;
                        }
                    }
                    match &decoded {
                        Some((k, _)) if k.starts_with(&q.prefix) && in_lower(k) => {
                            current = Some(k.clone())
                        }
                        _ => break,
                    }
                }
                let (key, tx) = decoded.unwrap();
                if in_upper(&key) && tx <= snapshot {
                    let r = format::decode_kv_record(it.value().unwrap(), tx)?;
                    if !r.metadata.non_indexable {
                        candidate = Some(Entry {
                            key,
                            value: r.value.to_vec(),
                            metadata: r.metadata,
                            tx,
                            revision: r.revision,
                        });
                    }
                }
                it.prev();
            }
        }
        it.status()?;
        Ok(out)
    }

    /// The header of committed tx `id`.
    pub fn header(&self, id: TxId) -> Result<TxHeader> {
        Ok(self.tx_record(id, false)?.header)
    }

    /// Committed tx `id` with its entries in hashed order.
    pub fn tx(&self, id: TxId) -> Result<Tx> {
        self.tx_record(id, true)
    }

    fn tx_record(&self, id: TxId, with_entries: bool) -> Result<Tx> {
        self.inner.tx_record(id, self.state().tx_id, with_entries)
    }

    /// Whether committed tx `id` has an entry whose key starts with `prefix` (read from its
    /// record, without copying its entries).
    pub fn tx_writes_under(&self, id: TxId, prefix: &[u8]) -> Result<bool> {
        let raw = self.inner.raw_tx_record(id, self.state().tx_id)?;
        let mut found = false;
        let header = format::visit_tx_record(&raw, id, true, |key, _, _, _| {
            found = key.starts_with(prefix);
            !found
        })?;
        holds(id, &header)?;
        Ok(found)
    }

    /// The stored value of an entry of tx `id`.
    pub fn tx_entry_value(&self, key: &[u8], id: TxId) -> Result<Vec<u8>> {
        let raw = self
            .inner
            .db
            .get_pinned_cf(self.inner.cf(CF_KV), format::kv_key(key, id))?
            .ok_or_else(|| LedgerError::corrupted(id, "entry value missing"))?;
        Ok(format::decode_kv_record(&raw, id)?.value.to_vec())
    }

    /// The first committed tx whose timestamp is at or after `ts` (unix seconds), if any.
    /// Timestamps never decrease along the chain, so this is a binary search.
    pub fn first_tx_since(&self, ts: i64) -> Result<Option<TxId>> {
        let last = self.state().tx_id;
        let (mut lo, mut hi) = (1u64, last + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.header(mid)?.ts >= ts {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Ok((lo <= last).then_some(lo))
    }

    /// The last committed tx whose timestamp is at or before `ts` (unix seconds), if any.
    pub fn last_tx_until(&self, ts: i64) -> Result<Option<TxId>> {
        let first_after = match self.first_tx_since(ts.saturating_add(1))? {
            Some(id) => id,
            None => self.state().tx_id + 1,
        };
        Ok((first_after > 1).then(|| first_after - 1))
    }

    /// Up to `limit` committed txs from `from`, ascending or descending.
    pub fn tx_scan(&self, from: TxId, limit: usize, desc: bool) -> Result<Vec<Tx>> {
        let last = self.state().tx_id;
        if from == 0 || from > last {
            return Err(LedgerError::TxNotFound);
        }
        let ids: Box<dyn Iterator<Item = TxId>> = if desc {
            Box::new((1..=from).rev())
        } else {
            Box::new(from..=last)
        };
        ids.take(limit).map(|id| self.tx(id)).collect()
    }
}

impl Inner {
    pub(crate) fn tx_record(&self, id: TxId, committed: TxId, with_entries: bool) -> Result<Tx> {
        let raw = self.raw_tx_record(id, committed)?;
        let (header, entries) = format::decode_tx_record(&raw, id, with_entries)?;
        holds(id, &header)?;
        Ok(Tx { header, entries })
    }

    /// The stored record of tx `id`, one of the `committed` first.
    fn raw_tx_record(&self, id: TxId, committed: TxId) -> Result<rocksdb::DBPinnableSlice<'_>> {
        if id == 0 || id > committed {
            return Err(LedgerError::TxNotFound);
        }
        self.db
            .get_pinned_cf(self.cf(CF_TX), id.to_be_bytes())?
            .ok_or_else(|| LedgerError::corrupted(id, "tx record missing"))
    }
}

/// Checks that the record read for tx `id` is that tx's.
fn holds(id: TxId, header: &TxHeader) -> Result<()> {
    match header.id == id {
        true => Ok(()),
        false => Err(LedgerError::corrupted(
            id,
            format!("record holds tx {}", header.id),
        )),
    }
}
