//! Validating, hashing and encoding a transaction's entries before the committer takes it.
//!
//! [`PreparedEntries`] does it into a few buffers, with no allocation per entry. It runs on the
//! committing caller's thread. (Preparing a big tx on two threads, split where its htree
//! splits, measured slower here: the second core is not free for it.)

use stele_proof::{htree, Digest, KvMetadata, TxId};

use crate::format;
use crate::ledger::{NewEntry, Options};
use crate::{LedgerError, Result};

/// Kv keys (with a placeholder tx id, set at commit) and kv records, back to back in one
/// buffer: a big transaction costs two allocations here, not two per entry.
pub(crate) struct KvRecords {
    buf: Vec<u8>,
    /// Per entry, where its key ends and where its record ends.
    ends: Vec<(usize, usize)>,
}

impl KvRecords {
    fn with_capacity(entries: usize, bytes: usize) -> KvRecords {
        KvRecords {
            buf: Vec::with_capacity(bytes + entries * 16),
            ends: Vec::with_capacity(entries),
        }
    }

    fn push(&mut self, key: &[u8], md: &[u8], value: &[u8]) {
        format::kv_key_into(&mut self.buf, key, 0);
        let key_end = self.buf.len();
        format::kv_record_into(&mut self.buf, md, value);
        self.ends.push((key_end, self.buf.len()));
    }

    /// Stamps every key with the tx id that writes it and hands each `(key, record)` over.
    pub(crate) fn stamp(&mut self, id: TxId, mut put: impl FnMut(&[u8], &[u8])) {
        let rev = (!id).to_be_bytes();
        let mut start = 0;
        for &(key_end, end) in &self.ends {
            self.buf[key_end - 8..key_end].copy_from_slice(&rev);
            put(&self.buf[start..key_end], &self.buf[key_end..end]);
            start = end;
        }
    }
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
        let bytes = entries.iter().map(|e| e.key.len() + e.value.len()).sum();
        let mut prepared = PreparedEntries::with_capacity(entries.len(), bytes);
        for e in entries {
            prepared.push(o, &e.key, e.metadata, &e.value)?;
        }
        Ok(prepared)
    }

    fn push(&mut self, o: &Options, key: &[u8], md: KvMetadata, value: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(LedgerError::illegal("empty key"));
        }
        if key.len() > o.max_key_len {
            return Err(LedgerError::illegal(format!(
                "max key length exceeded: {} bytes (at most {})",
                key.len(),
                o.max_key_len
            )));
        }
        if value.len() > o.max_value_len {
            return Err(LedgerError::illegal(format!(
                "max value length exceeded: {} bytes (at most {})",
                value.len(),
                o.max_value_len
            )));
        }
        let md = md.to_bytes();
        let h_value = stele_proof::sha256(value);
        self.digests
            .push(stele_proof::entry_digest(1, key, &md, &h_value)?);
        self.kv.push(key, &md, value);
        format::tx_entry_into(&mut self.records, key, &md, value.len() as u32, &h_value);
        Ok(())
    }

    /// The root of the entries' htree (`eH`).
    pub(crate) fn root(&self) -> Result<Digest> {
        Ok(htree::root(&self.digests)?)
    }
}
