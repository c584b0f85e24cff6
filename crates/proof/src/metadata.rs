//! KV metadata and its bytes (immudb `KVMetadata.Bytes()`).
//!
//! Attributes are written in the order of their codes: `0x00` deleted (no payload),
//! `0x01` expiresAt (`u64be` unix seconds), `0x02` nonIndexable (no payload). No attributes
//! give the empty string, and "absent" and "empty" metadata hash alike.

use crate::ProofError;

/// Attribute code of `deleted` (no payload).
pub const DELETED_ATTR: u8 = 0;
/// Attribute code of `expiresAt` (a `u64be` of unix seconds follows).
pub const EXPIRES_AT_ATTR: u8 = 1;
/// Attribute code of `nonIndexable` (no payload).
pub const NON_INDEXABLE_ATTR: u8 = 2;
/// The longest metadata encoding: all three attributes.
pub const MAX_METADATA_LEN: usize = 11;

/// The metadata of one entry (immudb `KVMetadata`); the default is no attributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KvMetadata {
    /// The entry is a delete: it marks its key as absent as of its transaction.
    pub deleted: bool,
    /// Unix seconds after which the entry reads as absent.
    pub expires_at: Option<u64>,
    /// The entry stays out of the key index: it is in its tx, but key reads and scans skip it.
    pub non_indexable: bool,
}

impl KvMetadata {
    /// Whether no attribute is set, so the metadata bytes are empty.
    pub fn is_empty(&self) -> bool {
        *self == KvMetadata::default()
    }

    /// The metadata bytes that go into the entry digest.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Most entries have no metadata: their bytes cost no allocation.
        if *self == KvMetadata::default() {
            return Vec::new();
        }
        let mut b = Vec::with_capacity(MAX_METADATA_LEN);
        if self.deleted {
            b.push(DELETED_ATTR);
        }
        if let Some(t) = self.expires_at {
            b.push(EXPIRES_AT_ATTR);
            b.extend_from_slice(&t.to_be_bytes());
        }
        if self.non_indexable {
            b.push(NON_INDEXABLE_ATTR);
        }
        b
    }

    /// Parses metadata bytes; attributes must be known, unique and in code order, so that
    /// `from_bytes(b).to_bytes() == b` for every accepted `b`.
    pub fn from_bytes(b: &[u8]) -> Result<KvMetadata, ProofError> {
        let mut md = KvMetadata::default();
        let mut i = 0;
        let mut last: Option<u8> = None;
        while i < b.len() {
            let code = b[i];
            if last.is_some_and(|l| code <= l) {
                return Err(ProofError::BadMetadata(format!(
                    "attribute {code} out of order or repeated"
                )));
            }
            last = Some(code);
            i += 1;
            match code {
                DELETED_ATTR => md.deleted = true,
                EXPIRES_AT_ATTR => {
                    let raw = b
                        .get(i..i + 8)
                        .ok_or_else(|| ProofError::BadMetadata("expiresAt needs 8 bytes".into()))?;
                    md.expires_at = Some(u64::from_be_bytes(raw.try_into().unwrap()));
                    i += 8;
                }
                NON_INDEXABLE_ATTR => md.non_indexable = true,
                other => {
                    return Err(ProofError::BadMetadata(format!(
                        "unknown attribute code {other}"
                    )))
                }
            }
        }
        Ok(md)
    }

    /// Whether an entry with this metadata has expired at `now` (unix seconds).
    pub fn expired_at(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_bytes() {
        let md = KvMetadata {
            expires_at: Some(1_800_000_000),
            ..Default::default()
        };
        assert_eq!(hex::encode(md.to_bytes()), "01000000006b49d200");
        let md = KvMetadata {
            deleted: true,
            non_indexable: true,
            ..Default::default()
        };
        assert_eq!(md.to_bytes(), vec![0x00, 0x02]);
        assert!(KvMetadata::default().to_bytes().is_empty());
        let all = KvMetadata {
            deleted: true,
            expires_at: Some(7),
            non_indexable: true,
        };
        assert_eq!(all.to_bytes().len(), MAX_METADATA_LEN);
    }

    #[test]
    fn round_trip_and_rejects() {
        for md in [
            KvMetadata::default(),
            KvMetadata {
                deleted: true,
                ..Default::default()
            },
            KvMetadata {
                deleted: true,
                expires_at: Some(u64::MAX),
                non_indexable: true,
            },
        ] {
            assert_eq!(KvMetadata::from_bytes(&md.to_bytes()).unwrap(), md);
        }
        assert!(KvMetadata::from_bytes(&[3]).is_err());
        assert!(KvMetadata::from_bytes(&[2, 0]).is_err());
        assert!(KvMetadata::from_bytes(&[0, 0]).is_err());
        assert!(KvMetadata::from_bytes(&[1, 0, 0]).is_err());
    }
}
