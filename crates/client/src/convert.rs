//! From the wire's messages to stele-proof's types: every digest must be exactly 32 bytes and
//! every count in range, or the answer is malformed (never truncated or padded to fit).

use stele_proof::verify::{Tx, TxEntryDigest};
use stele_proof::{
    digest_from, Digest, DualProof, InclusionProof, KvMetadata, LinearProof, TxHeader,
};
use stele_proto::immudb as pb;

use crate::error::{ClientError, Result};

fn malformed(what: impl Into<String>) -> ClientError {
    ClientError::Protocol(what.into())
}

fn digest(b: &[u8], what: &str) -> Result<Digest> {
    digest_from(b).map_err(|e| malformed(format!("{what}: {e}")))
}

fn digests(v: &[Vec<u8>], what: &str) -> Result<Vec<Digest>> {
    v.iter().map(|d| digest(d, what)).collect()
}

pub(crate) fn required<'a, T>(m: &'a Option<T>, what: &str) -> Result<&'a T> {
    m.as_ref()
        .ok_or_else(|| malformed(format!("{what} is missing")))
}

pub fn header(h: &pb::TxHeader) -> Result<TxHeader> {
    Ok(TxHeader {
        id: h.id,
        prev_alh: digest(&h.prev_alh, "prevAlh")?,
        ts: h.ts,
        version: u16::try_from(h.version).map_err(|_| malformed("header version"))?,
        metadata: match &h.metadata {
            // Stele and immudb write empty tx metadata; anything else would be hashed as sent.
            Some(m) if m.truncated_tx_id != 0 || !m.extra.is_empty() => {
                return Err(malformed("tx metadata this client cannot hash"))
            }
            _ => Vec::new(),
        },
        nentries: u32::try_from(h.nentries).map_err(|_| malformed("nentries"))?,
        eh: digest(&h.e_h, "eH")?,
        bl_tx_id: h.bl_tx_id,
        bl_root: digest(&h.bl_root, "blRoot")?,
    })
}

pub fn metadata(m: Option<&pb::KvMetadata>) -> Result<KvMetadata> {
    let Some(m) = m else {
        return Ok(KvMetadata::default());
    };
    Ok(KvMetadata {
        deleted: m.deleted,
        expires_at: match &m.expiration {
            None => None,
            Some(e) => Some(u64::try_from(e.expires_at).map_err(|_| malformed("expiration"))?),
        },
        non_indexable: m.non_indexable,
    })
}

pub fn tx(t: &pb::Tx) -> Result<Tx> {
    Ok(Tx {
        header: header(required(&t.header, "tx header")?)?,
        entries: t
            .entries
            .iter()
            .map(|e| {
                Ok(TxEntryDigest {
                    key: e.key.clone(),
                    metadata: metadata(e.metadata.as_ref())?.to_bytes(),
                    h_value: digest(&e.h_value, "hValue")?,
                    v_len: u32::try_from(e.v_len).map_err(|_| malformed("vLen"))?,
                })
            })
            .collect::<Result<_>>()?,
    })
}

pub fn inclusion(p: &pb::InclusionProof) -> Result<InclusionProof> {
    Ok(InclusionProof {
        leaf: u32::try_from(p.leaf).map_err(|_| malformed("inclusion leaf"))?,
        width: u32::try_from(p.width).map_err(|_| malformed("inclusion width"))?,
        terms: digests(&p.terms, "inclusion term")?,
    })
}

pub fn dual_proof(p: &pb::DualProof) -> Result<DualProof> {
    let linear = required(&p.linear_proof, "linear proof")?;
    Ok(DualProof {
        source_tx_header: header(required(&p.source_tx_header, "source header")?)?,
        target_tx_header: header(required(&p.target_tx_header, "target header")?)?,
        inclusion_proof: digests(&p.inclusion_proof, "inclusion proof")?,
        consistency_proof: digests(&p.consistency_proof, "consistency proof")?,
        target_bl_tx_alh: digest(&p.target_bl_tx_alh, "targetBlTxAlh")?,
        last_inclusion_proof: digests(&p.last_inclusion_proof, "last inclusion proof")?,
        linear_proof: LinearProof {
            source_tx_id: linear.source_tx_id,
            target_tx_id: linear.target_tx_id,
            terms: digests(&linear.terms, "linear proof term")?,
        },
    })
}

/// A verified tx's parts: the tx and its dual proof.
pub fn verifiable_tx(v: &pb::VerifiableTx) -> Result<(Tx, DualProof)> {
    Ok((
        tx(required(&v.tx, "tx")?)?,
        dual_proof(required(&v.dual_proof, "dual proof")?)?,
    ))
}
