//! # stele-proof: hashing and proofs, byte-compatible with immudb
//!
//! Everything a ledger needs to *build* proofs and everything a client needs to *check* them,
//! with no I/O and no async. The byte layouts follow immudb 1.9.3 (header version 1 is what we
//! write; version 0 is verified for old histories):
//!
//! - [`metadata`]: KV metadata bytes (deleted, expiresAt, nonIndexable).
//! - [`entry`]: entry digests, the leaves of the per-transaction tree.
//! - [`htree`]: the per-transaction Merkle tree: root `eH` and inclusion proofs.
//! - [`header`]: the transaction header, its inner hash and the accumulated hash `Alh`.
//! - [`aht`]: the append-only hash tree over every `Alh`: roots, inclusion, consistency
//!   (immudb's variant) and last-inclusion proofs, over any store of perfect subtree nodes.
//! - [`linear`], [`dual`]: linear proofs and dual proofs, built exactly as immudb builds them.
//! - [`state`]: the client's trusted state and its ECDSA P-256 signature.
//! - [`verify`]: whole verified reads and writes, as an immudb client checks them.
//! - `many`: SHA-256 of many short messages at once ([`sha256_each`]), four SHA-NI streams
//!   interleaved: a tx's values, entry digests and tree levels.
//!
//! Invariants: every digest is exactly 32 bytes; the genesis state hash is `H("")`; a proof that
//! verifies here verifies in the unmodified immudb-py 1.5.0 client, and the other way round.
//! This crate does not decide what is stored where; `stele-ledger` does.

pub mod aht;
pub mod dual;
pub mod entry;
mod error;
pub mod header;
pub mod history;
pub mod htree;
pub mod linear;
// The one module with unsafe code: SHA-NI intrinsics behind a CPU feature check.
#[allow(unsafe_code)]
mod many;
pub mod metadata;
pub mod state;
pub mod verify;

pub use dual::DualProof;
pub use entry::{entry_digest, EntrySpec};
pub use error::ProofError;
pub use header::TxHeader;
pub use htree::InclusionProof;
pub use linear::LinearProof;
pub use many::sha256_each;
pub use metadata::KvMetadata;
pub use state::State;

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// A transaction id: 1 for the first transaction, consecutive after that. 0 means "none".
pub type TxId = u64;

/// Prefix of a leaf hash in both Merkle trees.
pub const LEAF_PREFIX: u8 = 0x00;
/// Prefix of an inner node hash in both Merkle trees.
pub const NODE_PREFIX: u8 = 0x01;

/// `H("")`: the hash of the empty database state and the `prevAlh` of transaction 1.
pub const GENESIS_ALH: Digest = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// SHA-256 of one byte string.
pub fn sha256(data: &[u8]) -> Digest {
    sha256_concat(&[data])
}

/// SHA-256 of the concatenation of several byte strings, without building it.
pub fn sha256_concat(parts: &[&[u8]]) -> Digest {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > ONE_SHOT_MAX {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        return h.finalize().into();
    }
    let mut blocks = [[0u8; 64]; ONE_SHOT_BLOCKS];
    let flat = blocks.as_flattened_mut();
    let mut at = 0;
    for p in parts {
        flat[at..at + p.len()].copy_from_slice(p);
        at += p.len();
    }
    sha256_padded(&mut blocks, len)
}

/// `H(0x00 ‖ d)`: the leaf hash of a digest in either tree.
pub fn leaf_hash(d: &Digest) -> Digest {
    sha256_concat(&[&[LEAF_PREFIX], d])
}

/// `H(0x01 ‖ l ‖ r)`: an inner node of either tree.
pub fn node_hash(l: &Digest, r: &Digest) -> Digest {
    sha256_concat(&[&[NODE_PREFIX], l, r])
}

/// Blocks of a message hashed in one shot, and the longest such message (room for the 9 bytes
/// of padding). Tree nodes, leaves, entry digests and short values are hashed millions of times
/// a second; padding them in place skips the streaming hasher's buffering.
const ONE_SHOT_BLOCKS: usize = 4;
const ONE_SHOT_MAX: usize = ONE_SHOT_BLOCKS * 64 - 9;

/// SHA-256 of the first `len` bytes of `blocks`, whose later bytes are zero (FIPS 180-4 5.1.1).
#[allow(deprecated)] // sha2 0.10 takes its blocks as generic-array 0.14 arrays.
fn sha256_padded(blocks: &mut [[u8; 64]; ONE_SHOT_BLOCKS], len: usize) -> Digest {
    use sha2::digest::generic_array::GenericArray;
    let n = (len + 9).div_ceil(64);
    blocks[len / 64][len % 64] = 0x80;
    blocks[n - 1][56..].copy_from_slice(&((len as u64) * 8).to_be_bytes());
    let mut state = SHA256_IV;
    for b in &blocks[..n] {
        sha2::compress256(
            &mut state,
            std::slice::from_ref(GenericArray::from_slice(b)),
        );
    }
    digest_of_state(&state)
}

/// SHA-256's initial state (FIPS 180-4 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The digest of a final SHA-256 state: its words, big-endian.
fn digest_of_state(state: &[u32; 8]) -> Digest {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// Reads a 32-byte digest from a slice, or says what was wrong with it.
pub fn digest_from(bytes: &[u8]) -> Result<Digest, ProofError> {
    bytes
        .try_into()
        .map_err(|_| ProofError::BadDigestLength(bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One-shot hashing agrees with the streaming hasher at every length around the block
    /// and one-shot limits.
    #[test]
    fn one_shot_matches_the_streaming_hasher() {
        let data: Vec<u8> = (0..600u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let (a, b) = data[..len].split_at(len / 3);
            let expected: Digest = Sha256::digest(&data[..len]).into();
            assert_eq!(sha256_concat(&[a, b]), expected, "length {len}");
            assert_eq!(sha256(&data[..len]), expected, "length {len}");
        }
        assert_eq!(sha256(b""), GENESIS_ALH);
    }
}
