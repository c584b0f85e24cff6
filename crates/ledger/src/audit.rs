//! `verify`: recompute everything from the stored bytes and name the first tx that does not
//! match. Checks, per tx in order: the record is there and names its own id; every entry's value
//! is stored under its key and hashes to the recorded `hValue`; the entries hash to `eH`; the
//! header links to the previous Alh and to the AHT root before it; the stored AHT nodes are the
//! ones this Alh creates. Then: the kv store holds no entry that no tx wrote, and the chain
//! ends at the state the ledger serves.

use stele_proof::{aht::Frontier, sha256, TxId, GENESIS_ALH};

use crate::format::{self, CF_AHT, CF_KV};
use crate::ledger::Committed;
use crate::proofs::tx_tree;
use crate::{Ledger, LedgerError, Result};

/// What [`Ledger::verify`] checked, when everything matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// How many txs were checked: every committed one.
    pub txs: u64,
    /// How many entries those txs hold, each found stored under its key.
    pub entries: u64,
    /// The state the verified chain ends at: the one the ledger serves.
    pub state: Committed,
}

fn fail(tx: TxId, what: impl Into<String>) -> LedgerError {
    LedgerError::VerificationFailed {
        tx,
        what: what.into(),
    }
}

impl Ledger {
    /// Verifies the whole ledger from its stored bytes.
    pub fn verify(&self) -> Result<AuditReport> {
        let state = self.state();
        let inner = &self.inner;
        let mut frontier = Frontier::default();
        let mut alh = GENESIS_ALH;
        let mut entries = 0u64;
        for id in 1..=state.tx_id {
            let tx = inner
                .tx_record(id, state.tx_id, true)
                .map_err(|e| fail(id, e.to_string()))?;
            let h = &tx.header;
            if h.version != 1 || !h.metadata.is_empty() {
                return Err(fail(id, "unexpected header version or tx metadata"));
            }
            if h.prev_alh != alh {
                return Err(fail(id, "prevAlh does not match the previous tx's Alh"));
            }
            if h.bl_tx_id != id - 1 || h.bl_root != frontier.root().unwrap_or([0; 32]) {
                return Err(fail(id, "blTxID/blRoot do not match the AHT"));
            }
            if h.nentries as usize != tx.entries.len() || tx.entries.is_empty() {
                return Err(fail(id, "entry count does not match the header"));
            }
            for e in &tx.entries {
                let raw = inner
                    .db
                    .get_pinned_cf(inner.cf(CF_KV), format::kv_key(&e.key, id))?
                    .ok_or_else(|| fail(id, format!("value of key {:02x?} is missing", e.key)))?;
                let record =
                    format::decode_kv_record(&raw, id).map_err(|err| fail(id, err.to_string()))?;
                let (md, value) = (record.metadata, record.value);
                if md.to_bytes() != e.metadata {
                    return Err(fail(id, format!("metadata of key {:02x?} differs", e.key)));
                }
                if value.len() as u32 != e.v_len || sha256(value) != e.h_value {
                    return Err(fail(
                        id,
                        format!("value of key {:02x?} does not match its hash", e.key),
                    ));
                }
            }
            entries += tx.entries.len() as u64;
            if tx_tree(&tx).map_err(|e| fail(id, e.to_string()))?.root() != h.eh {
                return Err(fail(id, "entries do not hash to eH"));
            }
            alh = h.alh()?;
            for n in frontier.append(&alh) {
                let stored = inner
                    .db
                    .get_pinned_cf(inner.cf(CF_AHT), format::aht_key(n.level, n.index))?;
                if stored.as_deref() != Some(&n.hash[..]) {
                    return Err(fail(
                        id,
                        format!("AHT node ({}, {}) does not match", n.level, n.index),
                    ));
                }
            }
        }
        if alh != state.alh {
            return Err(fail(
                state.tx_id,
                "the served state is not the end of the chain",
            ));
        }
        // Every stored version must belong to a tx entry: count them, and name a stray one.
        let mut it = inner.db.raw_iterator_cf(inner.cf(CF_KV));
        it.seek_to_first();
        let mut stored = 0u64;
        while let Some(raw) = it.key() {
            let (_, tx) = format::decode_kv_key(raw).map_err(|e| fail(0, e.to_string()))?;
            if tx > state.tx_id {
                return Err(fail(tx, "a stored version belongs to no committed tx"));
            }
            stored += 1;
            it.next();
        }
        it.status()?;
        if stored != entries {
            // Find the stray version to name its tx.
            it.seek_to_first();
            while let Some(raw) = it.key() {
                let (key, tx) = format::decode_kv_key(raw).map_err(|e| fail(0, e.to_string()))?;
                let rec = inner.tx_record(tx, state.tx_id, true)?;
                if !rec.entries.iter().any(|e| e.key == key) {
                    return Err(fail(
                        tx,
                        format!("stored key {key:02x?} is not an entry of the tx"),
                    ));
                }
                it.next();
            }
            return Err(fail(
                0,
                format!("{stored} stored versions for {entries} entries"),
            ));
        }
        Ok(AuditReport {
            txs: state.tx_id,
            entries,
            state,
        })
    }
}
