//! Proofs from the stored history: an entry's inclusion in its tx, and the dual proof between
//! any two committed txs. The construction itself lives in `stele-proof`; this module only
//! serves it headers and AHT nodes from RocksDB.

use stele_proof::{
    aht::NodeSource,
    dual::{self, DualProof, History},
    htree::HTree,
    Digest, InclusionProof, TxHeader, TxId,
};

use crate::ledger::{AhtNodes, Inner};
use crate::read::Tx;
use crate::{Ledger, LedgerError, Result};

/// The history as of one committed tx.
pub(crate) struct StoredHistory<'a> {
    pub(crate) inner: &'a Inner,
    pub(crate) committed: TxId,
}

impl NodeSource for StoredHistory<'_> {
    type Error = LedgerError;
    fn node(&self, level: u32, index: u64) -> Result<Digest> {
        AhtNodes(self.inner).node(level, index)
    }
}

impl History for StoredHistory<'_> {
    fn header(&self, id: TxId) -> Result<TxHeader> {
        Ok(self.inner.tx_record(id, self.committed, false)?.header)
    }
    fn committed(&self) -> TxId {
        self.committed
    }
}

/// Inclusion of one entry in its tx, with the tx it was proven against.
#[derive(Debug, Clone)]
pub struct EntryProof {
    pub tx: Tx,
    pub inclusion: InclusionProof,
}

impl Ledger {
    fn history_view(&self) -> StoredHistory<'_> {
        StoredHistory {
            inner: &self.inner,
            committed: self.state().tx_id,
        }
    }

    /// The dual proof from committed tx `source` to committed tx `target` (`source ≤ target`).
    pub fn dual_proof(&self, source: TxId, target: TxId) -> Result<DualProof> {
        let h = self.history_view();
        if source == 0 || target == 0 || source > h.committed || target > h.committed {
            return Err(LedgerError::TxNotFound);
        }
        if source > target {
            return Err(LedgerError::illegal(format!(
                "dual proof source {source} is after its target {target}"
            )));
        }
        dual::dual_proof(&h, source, target)
    }

    /// The inclusion proof of stored `key` in tx `tx`.
    pub fn entry_proof(&self, tx: TxId, key: &[u8]) -> Result<EntryProof> {
        let tx = self.tx(tx)?;
        let i = tx
            .entries
            .iter()
            .position(|e| e.key == key)
            .ok_or(LedgerError::KeyNotFound)?;
        let inclusion = tx_tree(&tx)?.inclusion_proof(i)?;
        Ok(EntryProof { tx, inclusion })
    }

    /// The inclusion proofs of every entry of tx `tx`, in hashed order.
    pub fn tx_entry_proofs(&self, tx: TxId) -> Result<(Tx, Vec<InclusionProof>)> {
        let tx = self.tx(tx)?;
        let tree = tx_tree(&tx)?;
        let proofs = (0..tx.entries.len())
            .map(|i| tree.inclusion_proof(i))
            .collect::<Result<_, _>>()?;
        Ok((tx, proofs))
    }
}

/// Rebuilds a tx's tree from its stored entry records.
pub(crate) fn tx_tree(tx: &Tx) -> Result<HTree> {
    let digests = tx
        .entries
        .iter()
        .map(|e| stele_proof::entry_digest(tx.header.version, &e.key, &e.metadata, &e.h_value))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HTree::build(&digests)?)
}
