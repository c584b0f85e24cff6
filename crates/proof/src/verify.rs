//! Whole verified operations, as an immudb client checks them (spec 3.9).
//!
//! Each function takes the client's trusted [`State`] and what the server answered, checks
//! everything, and returns the new state to trust. A failure names the check that failed.

use crate::{
    dual::{verify_dual_proof, DualProof},
    entry_digest, htree, Digest, EntrySpec, InclusionProof, ProofError, State, TxHeader, TxId,
};

fn fail(what: &'static str) -> ProofError {
    ProofError::VerificationFailed(what)
}

/// One entry of a transaction as a server returns it: the inputs of its entry digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxEntryDigest {
    /// The stored key.
    pub key: Vec<u8>,
    /// KV metadata bytes.
    pub metadata: Vec<u8>,
    /// `H(stored value)`.
    pub h_value: Digest,
    /// Length of the stored value.
    pub v_len: u32,
}

/// A transaction as a server returns it: the header and each entry as a digest input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    /// The header, which commits to the entries through `eh` and `nentries`.
    pub header: TxHeader,
    /// The entries in hashed order: the leaves of the tx's tree.
    pub entries: Vec<TxEntryDigest>,
}

impl Tx {
    /// Entry digests in hashed order.
    pub fn digests(&self) -> Result<Vec<Digest>, ProofError> {
        self.entries
            .iter()
            .map(|e| entry_digest(self.header.version, &e.key, &e.metadata, &e.h_value))
            .collect()
    }

    /// Rebuilds the tree and checks it against the header's `eH` and entry count.
    pub fn check_tree(&self) -> Result<htree::HTree, ProofError> {
        if self.entries.len() != self.header.nentries as usize {
            return Err(fail("entry count differs from the header"));
        }
        let tree = htree::HTree::build(&self.digests()?)?;
        if tree.root() != self.header.eh {
            return Err(fail("entries do not hash to the header's eH"));
        }
        Ok(tree)
    }
}

/// Checks that the history moves from `state` to `(target_id, target_alh)` (or back from it)
/// with `proof`; the genesis state trusts the first answer it gets (immudb's behaviour).
fn check_dual(
    state: &State,
    proof: &DualProof,
    source: (TxId, Digest),
    target: (TxId, Digest),
) -> Result<(), ProofError> {
    if state.tx_id > 0 && !verify_dual_proof(proof, source.0, target.0, &source.1, &target.1) {
        return Err(fail("dual proof"));
    }
    Ok(())
}

/// A verified read of `entry`, written in transaction `vtx` (immudb `verifiedGet`).
/// Returns the new trusted state.
pub fn verify_read(
    state: &State,
    entry: &EntrySpec,
    vtx: TxId,
    inclusion: &InclusionProof,
    proof: &DualProof,
) -> Result<State, ProofError> {
    let (eh, source, target) = if state.tx_id <= vtx {
        let t = &proof.target_tx_header;
        if t.id != vtx {
            return Err(fail("dual proof target is not the entry's tx"));
        }
        (t.eh, (state.tx_id, state.tx_hash), (vtx, t.alh()?))
    } else {
        let s = &proof.source_tx_header;
        if s.id != vtx {
            return Err(fail("dual proof source is not the entry's tx"));
        }
        (s.eh, (vtx, s.alh()?), (state.tx_id, state.tx_hash))
    };
    let digest = entry.digest(proof.target_tx_header.version)?;
    if !htree::verify_inclusion(inclusion, &digest, &eh) {
        return Err(fail("entry inclusion"));
    }
    check_dual(state, proof, source, target)?;
    Ok(State {
        db: state.db.clone(),
        tx_id: target.0,
        tx_hash: target.1,
    })
}

/// A verified single-entry write (immudb `verifiedSet`, `verifiedSetReference`, `verifiedZAdd`):
/// `tx` must hold exactly `expected`, and be a later tx than `state`.
pub fn verify_write(
    state: &State,
    tx: &Tx,
    expected: &EntrySpec,
    proof: &DualProof,
) -> Result<State, ProofError> {
    if tx.header.nentries != 1 || tx.entries.len() != 1 {
        return Err(fail("a verified write must be a single-entry tx"));
    }
    if expected.metadata.deleted {
        return Err(fail("a verified write must not be a delete"));
    }
    let tree = tx.check_tree()?;
    let inclusion = tree.inclusion_proof(0)?;
    if !htree::verify_inclusion(
        &inclusion,
        &expected.digest(tx.header.version)?,
        &tree.root(),
    ) {
        return Err(fail("the tx does not hold the written entry"));
    }
    if tx.header.eh != proof.target_tx_header.eh {
        return Err(fail("tx eH differs from the dual proof target"));
    }
    let target = (tx.header.id, tx.header.alh()?);
    check_dual(state, proof, (state.tx_id, state.tx_hash), target)?;
    Ok(State {
        db: state.db.clone(),
        tx_id: target.0,
        tx_hash: target.1,
    })
}

/// A verified transaction read (immudb `verifiedTxById`): only the dual proof is checked,
/// and the returned state is the later of the two.
pub fn verify_tx(state: &State, tx: &Tx, proof: &DualProof) -> Result<State, ProofError> {
    tx.check_tree()?;
    let alh = tx.header.alh()?;
    let (source, target) = if state.tx_id <= tx.header.id {
        ((state.tx_id, state.tx_hash), (tx.header.id, alh))
    } else {
        ((tx.header.id, alh), (state.tx_id, state.tx_hash))
    };
    check_dual(state, proof, source, target)?;
    Ok(State {
        db: state.db.clone(),
        tx_id: target.0,
        tx_hash: target.1,
    })
}
