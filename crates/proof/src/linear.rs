//! Linear proofs: the Alh chain from one transaction to a later one.
//!
//! `LinearProof(s, t)` has the terms `[Alh(s), innerHash(s+1), …, innerHash(t)]`; folding
//! `a = H(u64be(s+k) ‖ a ‖ terms[k])` from `Alh(s)` must give `Alh(t)`.

use crate::{header::alh_from, Digest, TxId};

/// `LinearProof(s, t)`: the Alh chain from transaction `s` to transaction `t`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinearProof {
    /// `s`, the transaction the chain starts from.
    pub source_tx_id: TxId,
    /// `t`, the transaction the chain ends at.
    pub target_tx_id: TxId,
    /// `[Alh(s), innerHash(s+1), …, innerHash(t)]`: `t − s + 1` digests.
    pub terms: Vec<Digest>,
}

/// Checks the chain from `(source_id, source_alh)` to `(target_id, target_alh)`.
/// Like immudb's Go verifier (and stricter than immudb-py) it also checks the term count.
pub fn verify_linear_proof(
    proof: &LinearProof,
    source_id: TxId,
    target_id: TxId,
    source_alh: &Digest,
    target_alh: &Digest,
) -> bool {
    if proof.source_tx_id != source_id
        || proof.target_tx_id != target_id
        || source_id == 0
        || source_id > target_id
        || proof.terms.len() as u64 != target_id - source_id + 1
        || &proof.terms[0] != source_alh
    {
        return false;
    }
    let mut alh = proof.terms[0];
    for (k, inner) in proof.terms.iter().enumerate().skip(1) {
        alh = alh_from(source_id + k as u64, &alh, inner);
    }
    &alh == target_alh
}
