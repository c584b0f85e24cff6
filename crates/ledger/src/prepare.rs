//! Validating, hashing and encoding a transaction's entries before the committer takes it.
//!
//! [`PreparedEntries`] does it into a few buffers, with no allocation per entry. It runs on the
//! committing caller's thread. (Preparing a big tx on two threads, split where its htree
//! splits, measured slower here: the second core is not free for it.)

use stele_proof::entry::entry_preimage_v1;
use stele_proof::{htree, Digest, TxId};

use crate::format;
use crate::input::{NewEntry, Options};
use crate::{LedgerError, Result};

/// Kv keys (with a placeholder tx id, set at commit) and kv records (with a placeholder
/// revision, set at commit), back to back in one buffer: a big transaction costs two
/// allocations here, not two per entry.
pub(crate) struct KvRecords {
    buf: Vec<u8>,
    /// Per entry, where its key ends, where its revision starts and where its record ends.
    ends: Vec<(usize, usize, usize)>,
}

impl KvRecords {
    fn with_capacity(entries: usize, bytes: usize) -> KvRecords {
        KvRecords {
            buf: Vec::with_capacity(bytes + entries * 24),
            ends: Vec::with_capacity(entries),
        }
    }

    fn push(&mut self, key: &[u8], md: &[u8], value: &[u8]) {
        format::kv_key_into(&mut self.buf, key, 0);
        let key_end = self.buf.len();
        let rev_at = key_end + format::kv_record_into(&mut self.buf, md, 0, value);
        self.ends.push((key_end, rev_at, self.buf.len()));
    }

    /// Stamps every key with the tx id that writes it and every record with its revision
    /// (`revisions[i]` for entry `i`), and hands each `(key, record)` over.
    pub(crate) fn stamp(&mut self, id: TxId, revisions: &[u64], mut put: impl FnMut(&[u8], &[u8])) {
        let rev = (!id).to_be_bytes();
        let mut start = 0;
        for (&(key_end, rev_at, end), &revision) in self.ends.iter().zip(revisions) {
            self.buf[key_end - 8..key_end].copy_from_slice(&rev);
            format::set_kv_revision(&mut self.buf, rev_at, revision);
            put(&self.buf[start..key_end], &self.buf[key_end..end]);
            start = end;
        }
    }
}

/// Refuses an entry the ledger cannot store.
fn check(o: &Options, e: &NewEntry) -> Result<()> {
    if e.key.is_empty() {
        return Err(LedgerError::illegal("empty key"));
    }
    // Hashed with a u16 length (the entry digest).
    let max_key_len = o.max_key_len.min(u16::MAX as usize);
    if e.key.len() > max_key_len {
        return Err(LedgerError::illegal(format!(
            "max key length exceeded: {} bytes (at most {max_key_len})",
            e.key.len()
        )));
    }
    if e.value.len() > o.max_value_len {
        return Err(LedgerError::illegal(format!(
            "max value length exceeded: {} bytes (at most {})",
            e.value.len(),
            o.max_value_len
        )));
    }
    Ok(())
}

/// A transaction's entries, validated, hashed and encoded.
pub(crate) struct PreparedEntries {
    /// The entry part of the tx record.
    pub(crate) records: Vec<u8>,
    pub(crate) kv: KvRecords,
    /// The entries' digests: the leaves of the tx's htree.
    digests: Vec<Digest>,
}

impl PreparedEntries {
    fn with_capacity(entries: usize, bytes: usize) -> PreparedEntries {
        PreparedEntries {
            records: Vec::with_capacity(bytes + entries * 40),
            kv: KvRecords::with_capacity(entries, bytes),
            digests: Vec::with_capacity(entries),
        }
    }

    /// Prepares borrowed entries.
    pub(crate) fn of(o: &Options, entries: &[NewEntry]) -> Result<PreparedEntries> {
        let mut bytes = 0;
        for e in entries {
            check(o, e)?;
            bytes += e.key.len() + e.value.len();
        }
        let mut prepared = PreparedEntries::with_capacity(entries.len(), bytes);
        // The values' hashes, then the entry digests: independent hashes, hashed together.
        let mut h_values = Vec::with_capacity(entries.len());
        stele_proof::sha256_each(entries.len(), &mut h_values, |i, b| {
            b.extend_from_slice(&entries[i].value)
        });
        let metadata: Vec<_> = entries.iter().map(|e| e.metadata.to_bytes()).collect();
        // Entry digests, header version 1. The preimage fails only for a key too long for its
        // u16 length, which `check` refused above.
        stele_proof::sha256_each(entries.len(), &mut prepared.digests, |i, b| {
            let copy = |parts: &[&[u8]]| parts.iter().for_each(|p| b.extend_from_slice(p));
            let _ = entry_preimage_v1(&entries[i].key, &metadata[i], &h_values[i], copy);
        });
        for ((e, md), h_value) in entries.iter().zip(&metadata).zip(&h_values) {
            prepared.kv.push(&e.key, md, &e.value);
            let len = e.value.len() as u32;
            format::tx_entry_into(&mut prepared.records, &e.key, md, len, h_value);
        }
        Ok(prepared)
    }

    /// The root of the entries' htree (`eH`).
    pub(crate) fn root(&self) -> Result<Digest> {
        Ok(htree::root(&self.digests)?)
    }
}
