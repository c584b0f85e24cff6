//! The crate's one error type, grouped by what the caller should do about it.

use crate::TxId;

/// Why a hash or proof could not be computed, or did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    // --- the input is malformed: fix the caller ---
    /// A digest was not 32 bytes; holds the length it had.
    #[error("digest must be 32 bytes, got {0}")]
    BadDigestLength(usize),
    /// KV metadata bytes do not parse: an unknown, repeated or out-of-order attribute, or a
    /// short expiresAt.
    #[error("invalid KV metadata: {0}")]
    BadMetadata(String),
    /// A tx header version other than 0 and 1.
    #[error("unsupported tx header version {0}")]
    UnsupportedVersion(u16),
    /// An entry has KV metadata, which header version 0 cannot hash.
    #[error("metadata is not supported by tx header version 0")]
    MetadataUnsupported,
    /// A key longer than 65535 bytes, whose length does not fit the digest; holds its length.
    #[error("key too long for a digest: {0} bytes (at most 65535)")]
    KeyTooLong(usize),
    /// Arguments out of range: tx 0, a reversed range, an empty tree, or a header field too
    /// large for its version; says which.
    #[error("illegal arguments: {0}")]
    IllegalArguments(String),

    // --- the proof does not check out: the data or the server is not to be trusted ---
    /// A proof or a server's answer does not check out; names the check that failed.
    #[error("verification failed: {0}")]
    VerificationFailed(&'static str),
    /// A state signature is not DER, does not match the state, or the public key is malformed.
    #[error("signature verification failed: {0}")]
    BadSignature(&'static str),

    // --- the node source could not provide what a proof needs ---
    /// A node or header the proof needs is not in the source; names what is missing.
    #[error("proof data missing: {0}")]
    Missing(String),
    /// The proof needs a tx later than the tree (or history) holds; holds that tx id.
    #[error("tx {0} is beyond the tree")]
    BeyondTree(TxId),
}
