//! The crate's one error type, grouped by what the caller should do about it.

use crate::TxId;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    // --- the input is malformed: fix the caller ---
    #[error("digest must be 32 bytes, got {0}")]
    BadDigestLength(usize),
    #[error("invalid KV metadata: {0}")]
    BadMetadata(String),
    #[error("unsupported tx header version {0}")]
    UnsupportedVersion(u16),
    #[error("metadata is not supported by tx header version 0")]
    MetadataUnsupported,
    #[error("key too long for a digest: {0} bytes (at most 65535)")]
    KeyTooLong(usize),
    #[error("illegal arguments: {0}")]
    IllegalArguments(String),

    // --- the proof does not check out: the data or the server is not to be trusted ---
    #[error("verification failed: {0}")]
    VerificationFailed(&'static str),
    #[error("signature verification failed: {0}")]
    BadSignature(&'static str),

    // --- the node source could not provide what a proof needs ---
    #[error("proof data missing: {0}")]
    Missing(String),
    #[error("tx {0} is beyond the tree")]
    BeyondTree(TxId),
}
