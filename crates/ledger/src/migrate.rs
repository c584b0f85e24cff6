//! Bringing a ledger written by an older format up to [`format::FORMAT_VERSION`], at open.
//!
//! Format 1 → 2: kv records gain their revision and the `rev` family its per-key counters.
//! The walk goes key by key in `kv` order, rewriting each version's record with its
//! revision. It writes in batches; the format key is raised in the last one, so a crash
//! midway leaves format 1 and the next open redoes the walk (a record rewritten twice comes
//! out the same). Hashed data (tx records, the AHT) is not touched.

use rocksdb::{WriteBatch, DB};

use crate::format::{self, CF_KV, CF_REV};
use crate::{LedgerError, Result};

/// Bytes of rewritten records per batch.
const BATCH_BYTES: usize = 4 << 20;

/// Format 1 → 2: stores every version's revision and every key's newest revision.
pub(crate) fn revisions(db: &DB) -> Result<()> {
    let kv = db.cf_handle(CF_KV).expect("column family opened at start");
    let rev = db.cf_handle(CF_REV).expect("column family opened at start");
    let mut batch = WriteBatch::default();
    let mut it = db.raw_iterator_cf(kv);
    it.seek_to_first();
    // One key's versions, newest first: (kv key, tx, non-indexable).
    let mut versions: Vec<(Vec<u8>, u64, bool)> = Vec::new();
    loop {
        let escaped = it.key().map(|k| escaped_part(k).to_vec());
        let Some(escaped) = escaped else { break };
        // Gather the key's versions (their kv keys only; values are re-read when rewritten).
        versions.clear();
        while let Some(k) = it.key() {
            if escaped_part(k) != escaped.as_slice() {
                break;
            }
            let (_, tx) = format::decode_kv_key(k)?;
            let md = format::decode_kv_record(it.value().unwrap(), tx)?.metadata;
            versions.push((k.to_vec(), tx, md.non_indexable));
            it.next();
        }
        it.status()?;
        let total = versions.iter().filter(|v| !v.2).count() as u64;
        let mut revision = total;
        for (kv_key, tx, non_indexable) in &versions {
            let raw = db.get_pinned_cf(kv, kv_key)?.ok_or_else(|| {
                LedgerError::corrupted(*tx, "kv record vanished during migration")
            })?;
            let record = format::decode_kv_record(&raw, *tx)?;
            let own = if *non_indexable { 0 } else { revision };
            let mut out = Vec::with_capacity(raw.len() + 8);
            // Metadata encodes canonically: these are the bytes that were stored.
            let md = record.metadata.to_bytes();
            format::kv_record_into(&mut out, &md, own, record.value);
            batch.put_cf(kv, kv_key, out);
            if !*non_indexable {
                revision -= 1;
            }
        }
        if total > 0 {
            batch.put_cf(rev, &escaped, total.to_be_bytes());
        }
        if batch.size_in_bytes() >= BATCH_BYTES {
            db.write(std::mem::take(&mut batch))?;
        }
    }
    it.status()?;
    batch.put(format::FORMAT_KEY, format::FORMAT_VERSION.to_be_bytes());
    db.write(batch)?;
    Ok(())
}

/// The escaped key of a kv key (its tx suffix dropped).
fn escaped_part(kv_key: &[u8]) -> &[u8] {
    &kv_key[..kv_key.len().saturating_sub(10)]
}
