//! Entry digests: the leaves of the per-transaction tree.
//!
//! - header version 0: `H(key ‖ hValue)`, metadata must be empty;
//! - header version 1: `H(u16be(len md) ‖ md ‖ u16be(len key) ‖ key ‖ hValue)`;
//!
//! where `key` is the *stored* key (with its 0x00/0x01/0x02 prefix) and `hValue = H(stored value)`.

use crate::{sha256, sha256_concat, Digest, KvMetadata, ProofError};

/// A key, its metadata and its value, all as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySpec {
    /// The stored key, with its 0x00/0x01/0x02 prefix.
    pub key: Vec<u8>,
    /// The entry's KV metadata; empty for a plain set.
    pub metadata: KvMetadata,
    /// The stored value; the digest takes its hash.
    pub value: Vec<u8>,
}

impl EntrySpec {
    /// The entry digest under tx header `version` (see [`entry_digest`]).
    pub fn digest(&self, version: u16) -> Result<Digest, ProofError> {
        entry_digest(
            version,
            &self.key,
            &self.metadata.to_bytes(),
            &sha256(&self.value),
        )
    }
}

/// The digest of an entry given its stored key, metadata bytes and value hash.
pub fn entry_digest(
    version: u16,
    key: &[u8],
    md: &[u8],
    h_value: &Digest,
) -> Result<Digest, ProofError> {
    match version {
        0 => {
            if !md.is_empty() {
                return Err(ProofError::MetadataUnsupported);
            }
            Ok(sha256_concat(&[key, h_value]))
        }
        1 => entry_preimage_v1(key, md, h_value, sha256_concat),
        v => Err(ProofError::UnsupportedVersion(v)),
    }
}

/// Hands the parts of a header-version-1 entry digest's input, `u16(len md) ‖ md ‖
/// u16(len key) ‖ key ‖ H(value)`, to `take` (which hashes them, or copies them for a batch).
pub fn entry_preimage_v1<R>(
    key: &[u8],
    md: &[u8],
    h_value: &Digest,
    take: impl FnOnce(&[&[u8]]) -> R,
) -> Result<R, ProofError> {
    let klen = u16::try_from(key.len()).map_err(|_| ProofError::KeyTooLong(key.len()))?;
    // Metadata is at most 11 bytes (see `metadata`), so its length always fits.
    let mdlen = md.len() as u16;
    Ok(take(&[
        &mdlen.to_be_bytes(),
        md,
        &klen.to_be_bytes(),
        key,
        h_value,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_v1_digest() {
        // spec 3.12: Set("k", "v") stores 0x00‖"k" -> 0x00‖"v".
        let e = EntrySpec {
            key: b"\0k".to_vec(),
            metadata: KvMetadata::default(),
            value: b"\0v".to_vec(),
        };
        assert_eq!(
            hex::encode(e.digest(1).unwrap()),
            "70a54f5802f2cc58555c63e0c444623f6d59c9800c6926093dee555cd6071853"
        );
    }

    #[test]
    fn v0_rejects_metadata() {
        let md = KvMetadata {
            deleted: true,
            ..Default::default()
        };
        let e = EntrySpec {
            key: b"\0k".to_vec(),
            metadata: md,
            value: vec![],
        };
        assert_eq!(e.digest(0), Err(ProofError::MetadataUnsupported));
        assert_eq!(e.digest(2), Err(ProofError::UnsupportedVersion(2)));
    }
}
