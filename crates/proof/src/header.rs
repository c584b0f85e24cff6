//! The transaction header, its inner hash and the accumulated linear hash (Alh).
//!
//! ```text
//! innerHash(v0) = H(u64be(ts) ‖ u16be(0) ‖ u16be(nentries) ‖ eH ‖ u64be(blTxID) ‖ blRoot)
//! innerHash(v1) = H(u64be(ts) ‖ u16be(1) ‖ u16be(len md) ‖ md ‖ u32be(nentries) ‖ eH ‖ u64be(blTxID) ‖ blRoot)
//! Alh           = H(u64be(id) ‖ prevAlh ‖ innerHash)
//! ```
//! Stele writes version 1 with empty tx metadata and `blTxID = id − 1`.

use crate::{sha256_concat, Digest, ProofError, TxId};

/// The header version Stele writes.
pub const WRITE_VERSION: u16 = 1;

/// A transaction header: what a transaction's inner hash and Alh are computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxHeader {
    /// This transaction's id: 1 for the first, consecutive after that.
    pub id: TxId,
    /// Alh of transaction `id − 1` (`H("")` for transaction 1).
    pub prev_alh: Digest,
    /// Commit time, unix seconds.
    pub ts: i64,
    /// Header version: 1 is what Stele writes, 0 is only verified; decides the hash layout.
    pub version: u16,
    /// Tx metadata bytes; always empty in what Stele writes.
    pub metadata: Vec<u8>,
    /// How many entries the transaction holds: the leaves of its tree.
    pub nentries: u32,
    /// Root of the per-transaction tree.
    pub eh: Digest,
    /// Size of the AHT this header commits to (`id − 1`).
    pub bl_tx_id: TxId,
    /// Root of the AHT at `bl_tx_id` leaves, or 32 zero bytes when it is 0.
    pub bl_root: Digest,
}

impl TxHeader {
    /// The header Stele writes for transaction `id`: version 1, empty tx metadata, linked to
    /// the AHT of the `id − 1` transactions before it (`bl_root` = its root, zeros when empty).
    pub fn new_v1(
        id: TxId,
        prev_alh: Digest,
        ts: i64,
        nentries: u32,
        eh: Digest,
        bl_root: Option<Digest>,
    ) -> TxHeader {
        TxHeader {
            id,
            prev_alh,
            ts,
            version: WRITE_VERSION,
            metadata: Vec::new(),
            nentries,
            eh,
            bl_tx_id: id - 1,
            bl_root: bl_root.unwrap_or([0; 32]),
        }
    }

    /// `innerHash`: the hash of every field but `id` and `prev_alh`, in the layout of
    /// `version`; fails for an unknown version or a field too large for it.
    pub fn inner_hash(&self) -> Result<Digest, ProofError> {
        let ts = self.ts.to_be_bytes();
        let version = self.version.to_be_bytes();
        let bl = self.bl_tx_id.to_be_bytes();
        match self.version {
            0 => {
                let n = u16::try_from(self.nentries)
                    .map_err(|_| ProofError::IllegalArguments("too many entries for v0".into()))?;
                Ok(sha256_concat(&[
                    &ts,
                    &version,
                    &n.to_be_bytes(),
                    &self.eh,
                    &bl,
                    &self.bl_root,
                ]))
            }
            1 => {
                let mdlen = u16::try_from(self.metadata.len())
                    .map_err(|_| ProofError::IllegalArguments("tx metadata too long".into()))?;
                Ok(sha256_concat(&[
                    &ts,
                    &version,
                    &mdlen.to_be_bytes(),
                    &self.metadata,
                    &self.nentries.to_be_bytes(),
                    &self.eh,
                    &bl,
                    &self.bl_root,
                ]))
            }
            v => Err(ProofError::UnsupportedVersion(v)),
        }
    }

    /// The accumulated linear hash of this transaction.
    pub fn alh(&self) -> Result<Digest, ProofError> {
        Ok(alh_from(self.id, &self.prev_alh, &self.inner_hash()?))
    }
}

/// `H(u64be(id) ‖ prevAlh ‖ innerHash)`.
pub fn alh_from(id: TxId, prev_alh: &Digest, inner_hash: &Digest) -> Digest {
    sha256_concat(&[&id.to_be_bytes(), prev_alh, inner_hash])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{entry::EntrySpec, htree, KvMetadata, GENESIS_ALH};

    #[test]
    fn golden_tx1() {
        // spec 3.12: tx 1 = Set("k", "v") at ts 1700000000, version 1.
        let e = EntrySpec {
            key: b"\0k".to_vec(),
            metadata: KvMetadata::default(),
            value: b"\0v".to_vec(),
        };
        let eh = htree::root(&[e.digest(1).unwrap()]).unwrap();
        assert_eq!(
            hex::encode(eh),
            "80ebc5783343bf94d8a7097d27b681b71b517a7ddd7ce86dc18ac4f6c33c7f8f"
        );
        let h = TxHeader {
            id: 1,
            prev_alh: GENESIS_ALH,
            ts: 1_700_000_000,
            version: 1,
            metadata: vec![],
            nentries: 1,
            eh,
            bl_tx_id: 0,
            bl_root: [0; 32],
        };
        assert_eq!(
            hex::encode(h.inner_hash().unwrap()),
            "8e09e5510c02d2441d58532324d9ddcd2879e3a813c2bd16dcecbe4b0167821f"
        );
        assert_eq!(
            hex::encode(h.alh().unwrap()),
            "7b2aac1bb6791358ec7c7bea772946f9deb4f5b425f1a2ae61893a9d6385f9fc"
        );
    }

    #[test]
    fn genesis_is_hash_of_empty_string() {
        assert_eq!(crate::sha256(b""), GENESIS_ALH);
    }
}
