//! A whole history held in memory: headers plus the AHT, built exactly as the ledger builds
//! them. For tests, tools, and clients that replay a log to audit it.

use crate::{
    aht::{MemAht, NodeSource},
    dual::History,
    htree::HTree,
    Digest, EntrySpec, ProofError, TxHeader, TxId, GENESIS_ALH,
};

/// Every header of a history and its AHT, in memory; a [`History`] to build proofs from.
#[derive(Debug, Clone, Default)]
pub struct MemHistory {
    headers: Vec<TxHeader>,
    aht: MemAht,
}

impl MemHistory {
    /// An empty history: no transactions.
    pub fn new() -> MemHistory {
        MemHistory::default()
    }

    /// The current state hash: Alh of the last tx, or `H("")`.
    pub fn alh(&self) -> Digest {
        self.headers
            .last()
            .map(|h| h.alh().expect("v1 header"))
            .unwrap_or(GENESIS_ALH)
    }

    /// Appends a transaction of `entries` (in hashed order) committed at `ts`.
    pub fn commit(&mut self, entries: &[EntrySpec], ts: i64) -> Result<TxHeader, ProofError> {
        let digests = entries
            .iter()
            .map(|e| e.digest(1))
            .collect::<Result<Vec<_>, _>>()?;
        let eh = HTree::build(&digests)?.root();
        let id = self.headers.len() as TxId + 1;
        let h = TxHeader::new_v1(
            id,
            self.alh(),
            ts,
            entries.len() as u32,
            eh,
            self.aht.root(),
        );
        self.aht.append(&h.alh()?);
        self.headers.push(h.clone());
        Ok(h)
    }
}

impl NodeSource for MemHistory {
    type Error = ProofError;
    fn node(&self, level: u32, index: u64) -> Result<Digest, ProofError> {
        self.aht.node(level, index)
    }
}

impl History for MemHistory {
    fn header(&self, id: TxId) -> Result<TxHeader, ProofError> {
        id.checked_sub(1)
            .and_then(|i| self.headers.get(i as usize))
            .cloned()
            .ok_or(ProofError::BeyondTree(id))
    }
    fn committed(&self) -> TxId {
        self.headers.len() as TxId
    }
}
