//! Proofs from the stored history: an entry's inclusion in its tx, and the dual proof between
//! any two committed txs. The construction itself lives in `stele-proof`; this module only
//! serves it headers and AHT nodes from RocksDB.

use std::cell::RefCell;
use std::collections::HashMap;

use stele_proof::{
    aht::NodeSource,
    dual::{self, DualProof, History},
    htree::HTree,
    Digest, InclusionProof, TxHeader, TxId,
};

use crate::format::{self, CF_AHT};
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

/// A history that serves AHT nodes from a map filled by one batched read, and caches headers.
///
/// Which nodes a proof needs depends only on tx ids, never on node values, so a first pass with
/// `record` set notes the nodes (answering zeros), one `multi_get` fetches them all, and a
/// second pass builds the real proof from memory.
struct PrefetchedHistory<'a> {
    inner: &'a Inner,
    committed: TxId,
    record: Option<RefCell<Vec<(u32, u64)>>>,
    nodes: HashMap<(u32, u64), Digest>,
    headers: RefCell<HashMap<TxId, TxHeader>>,
}

impl NodeSource for PrefetchedHistory<'_> {
    type Error = LedgerError;
    fn node(&self, level: u32, index: u64) -> Result<Digest> {
        if let Some(r) = &self.record {
            r.borrow_mut().push((level, index));
            return Ok([0; 32]);
        }
        match self.nodes.get(&(level, index)) {
            Some(d) => Ok(*d),
            None => AhtNodes(self.inner).node(level, index),
        }
    }
}

impl History for PrefetchedHistory<'_> {
    fn header(&self, id: TxId) -> Result<TxHeader> {
        if let Some(h) = self.headers.borrow().get(&id) {
            return Ok(h.clone());
        }
        let h = self.inner.tx_record(id, self.committed, false)?.header;
        self.headers.borrow_mut().insert(id, h.clone());
        Ok(h)
    }
    fn committed(&self) -> TxId {
        self.committed
    }
}

/// Inclusion of one entry in its tx, with the tx it was proven against.
#[derive(Debug, Clone)]
pub struct EntryProof {
    /// The tx holding the entry: its header and every entry's digest inputs.
    pub tx: Tx,
    /// The entry's audit path to the tx's `eH`.
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
        let mut p = PrefetchedHistory {
            inner: h.inner,
            committed: h.committed,
            record: Some(RefCell::new(Vec::new())),
            nodes: HashMap::new(),
            headers: RefCell::new(HashMap::new()),
        };
        dual::dual_proof(&p, source, target)?;
        let mut wanted = p.record.take().unwrap().into_inner();
        wanted.sort_unstable();
        wanted.dedup();
        let keys: Vec<[u8; 9]> = wanted.iter().map(|&(l, i)| format::aht_key(l, i)).collect();
        let cf = self.inner.cf(CF_AHT);
        for (pos, got) in self
            .inner
            .db
            .batched_multi_get_cf(cf, &keys, true)
            .into_iter()
            .enumerate()
        {
            if let Some(v) = got? {
                p.nodes.insert(wanted[pos], stele_proof::digest_from(&v)?);
            }
        }
        dual::dual_proof(&p, source, target)
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
