//! Dual proofs: that a source transaction and a target transaction belong to one history.
//!
//! Built as immudb 1.9.3 builds them (spec 3.8), for headers `S` and `T` with `S.id ≤ T.id`:
//!
//! ```text
//! inclusionProof     = S.id < T.blTxID ? AHT.incl(S.id, T.blTxID) : []
//! consistencyProof   = S.blTxID > 0    ? AHT.cons(S.blTxID, T.blTxID) : []
//! targetBlTxAlh      = T.blTxID > 0    ? Alh(T.blTxID) : 32 zero bytes
//! lastInclusionProof = T.blTxID > 0    ? AHT.incl(T.blTxID, T.blTxID) : []
//! linearProof        = LinearProof(max(S.id, T.blTxID), T.id)
//! ```
//! The linear advance proof is never needed because every header links `blTxID = id − 1`.

use crate::{
    aht::{self, NodeSource},
    leaf_hash,
    linear::{verify_linear_proof, LinearProof},
    Digest, ProofError, TxHeader, TxId,
};

/// Proof that a source and a later (or the same) target transaction are one history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DualProof {
    /// Header of the source transaction `S`.
    pub source_tx_header: TxHeader,
    /// Header of the target transaction `T`.
    pub target_tx_header: TxHeader,
    /// AHT inclusion of `Alh(S.id)` in `T.blRoot`; empty unless `S.id < T.blTxID`.
    pub inclusion_proof: Vec<Digest>,
    /// AHT consistency of `S.blRoot` with `T.blRoot`; empty when `S.blTxID` is 0.
    pub consistency_proof: Vec<Digest>,
    /// `Alh(T.blTxID)`, or 32 zero bytes when `T.blTxID` is 0.
    pub target_bl_tx_alh: Digest,
    /// AHT inclusion of `target_bl_tx_alh` as the last leaf of `T.blRoot`; empty when
    /// `T.blTxID` is 0.
    pub last_inclusion_proof: Vec<Digest>,
    /// The Alh chain from `max(S.id, T.blTxID)` to `T.id`.
    pub linear_proof: LinearProof,
}

/// A history to build proofs from: its headers and its AHT nodes.
pub trait History: NodeSource {
    /// The header of committed transaction `id`.
    fn header(&self, id: TxId) -> Result<TxHeader, Self::Error>;
    /// How many transactions are committed (and so how many AHT leaves exist).
    fn committed(&self) -> TxId;
}

fn alh_of<H: History>(h: &H, id: TxId) -> Result<Digest, H::Error> {
    Ok(h.header(id)?.alh()?)
}

/// `LinearProof(s, t)`.
pub fn linear_proof<H: History>(h: &H, s: TxId, t: TxId) -> Result<LinearProof, H::Error> {
    if s == 0 || s > t || t > h.committed() {
        return Err(ProofError::IllegalArguments(format!("linear proof from {s} to {t}")).into());
    }
    let mut terms = Vec::with_capacity((t - s + 1) as usize);
    terms.push(alh_of(h, s)?);
    for id in s + 1..=t {
        terms.push(h.header(id)?.inner_hash()?);
    }
    Ok(LinearProof {
        source_tx_id: s,
        target_tx_id: t,
        terms,
    })
}

/// The dual proof between committed transactions `source ≤ target`.
pub fn dual_proof<H: History>(h: &H, source: TxId, target: TxId) -> Result<DualProof, H::Error> {
    if source == 0 || source > target || target > h.committed() {
        return Err(ProofError::IllegalArguments(format!(
            "dual proof from {source} to {target} (committed: {})",
            h.committed()
        ))
        .into());
    }
    let s = h.header(source)?;
    let t = h.header(target)?;
    let size = h.committed();
    let inclusion_proof = if s.id < t.bl_tx_id {
        aht::inclusion_proof(h, s.id, t.bl_tx_id, size)?
    } else {
        vec![]
    };
    let consistency_proof = if s.bl_tx_id > 0 {
        aht::consistency_proof(h, s.bl_tx_id, t.bl_tx_id, size)?
    } else {
        vec![]
    };
    let (target_bl_tx_alh, last_inclusion_proof) = if t.bl_tx_id > 0 {
        (
            alh_of(h, t.bl_tx_id)?,
            aht::inclusion_proof(h, t.bl_tx_id, t.bl_tx_id, size)?,
        )
    } else {
        ([0; 32], vec![])
    };
    let linear_proof = linear_proof(h, s.id.max(t.bl_tx_id), t.id)?;
    Ok(DualProof {
        source_tx_header: s,
        target_tx_header: t,
        inclusion_proof,
        consistency_proof,
        target_bl_tx_alh,
        last_inclusion_proof,
        linear_proof,
    })
}

/// Checks that `(source_id, source_alh)` and `(target_id, target_alh)` are one history.
pub fn verify_dual_proof(
    p: &DualProof,
    source_id: TxId,
    target_id: TxId,
    source_alh: &Digest,
    target_alh: &Digest,
) -> bool {
    let (s, t) = (&p.source_tx_header, &p.target_tx_header);
    if s.id != source_id || t.id != target_id || s.id == 0 || s.id > t.id {
        return false;
    }
    if s.alh().ok().as_ref() != Some(source_alh) || t.alh().ok().as_ref() != Some(target_alh) {
        return false;
    }
    if source_id < t.bl_tx_id
        && !aht::verify_inclusion(
            &p.inclusion_proof,
            source_id,
            t.bl_tx_id,
            &leaf_hash(source_alh),
            &t.bl_root,
        )
    {
        return false;
    }
    if s.bl_tx_id > 0
        && !aht::verify_consistency(
            &p.consistency_proof,
            s.bl_tx_id,
            t.bl_tx_id,
            &s.bl_root,
            &t.bl_root,
        )
    {
        return false;
    }
    if t.bl_tx_id > 0
        && !aht::verify_last_inclusion(
            &p.last_inclusion_proof,
            t.bl_tx_id,
            &leaf_hash(&p.target_bl_tx_alh),
            &t.bl_root,
        )
    {
        return false;
    }
    if source_id < t.bl_tx_id {
        verify_linear_proof(
            &p.linear_proof,
            t.bl_tx_id,
            target_id,
            &p.target_bl_tx_alh,
            target_alh,
        )
    } else {
        verify_linear_proof(
            &p.linear_proof,
            source_id,
            target_id,
            source_alh,
            target_alh,
        )
    }
}
