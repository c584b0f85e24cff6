//! SHA-256 of many short, independent messages at once (a tx's values, entry digests, tree
//! leaves and nodes).
//!
//! One SHA-NI stream waits on each round's result; four interleaved streams keep the unit busy
//! (measured on the development machine: 23 ns a block against 32 ns for one stream). Messages
//! go four at a time, each padded into its own buffer; a group whose messages are long (more
//! than [`MAX_BLOCKS`] blocks) or a CPU without SHA-NI takes the one-stream path. The result is
//! exactly [`crate::sha256`] of each message: the tests compare them.

use crate::{digest_of_state, Digest, SHA256_IV};

/// Longest padded message, in blocks, that goes through the four-stream path: lanes of one
/// group run as many blocks as the longest, so a long message would make the others wait.
const MAX_BLOCKS: usize = 4;

/// Appends to `out` the SHA-256 of messages `0..n`; `message(i, buf)` appends message `i`'s
/// bytes to `buf`.
pub fn sha256_each(n: usize, out: &mut Vec<Digest>, mut message: impl FnMut(usize, &mut Vec<u8>)) {
    out.reserve(n);
    let mut bufs: [Vec<u8>; 4] = Default::default();
    let fast = shani::available();
    let mut i = 0;
    while i < n {
        let lanes = (n - i).min(4);
        for (l, buf) in bufs.iter_mut().enumerate().take(lanes) {
            buf.clear();
            message(i + l, buf);
        }
        let short = bufs[..lanes].iter().all(|b| b.len() + 9 <= MAX_BLOCKS * 64);
        if fast && lanes == 4 && short {
            for b in &mut bufs {
                pad(b);
            }
            // SAFETY: `available()` checked the CPU features the function is compiled for.
            let states = unsafe { shani::hash4(&bufs) };
            out.extend(states.iter().map(digest_of_state));
        } else {
            out.extend(bufs[..lanes].iter().map(|b| crate::sha256(b)));
        }
        i += lanes;
    }
}

/// FIPS 180-4 5.1.1: `0x80`, zeros up to 56 mod 64, the length in bits.
fn pad(b: &mut Vec<u8>) {
    let bits = (b.len() as u64) * 8;
    b.push(0x80);
    let rem = b.len() % 64;
    let zeros = if rem <= 56 { 56 - rem } else { 120 - rem };
    b.resize(b.len() + zeros, 0);
    b.extend_from_slice(&bits.to_be_bytes());
}

#[cfg(target_arch = "x86_64")]
mod shani {
    use std::arch::x86_64::*;

    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    pub fn available() -> bool {
        is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("sse4.1")
            && is_x86_feature_detected!("ssse3")
    }

    /// The states after hashing four padded messages, each a whole number of blocks, at most
    /// `MAX_BLOCKS`. A lane whose message is shorter than another's keeps its state once its
    /// last block is done (the extra rounds it runs on its first block are discarded).
    ///
    /// # Safety
    /// The CPU must have SHA-NI, SSE4.1 and SSSE3 ([`available`]).
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    pub unsafe fn hash4(msgs: &[Vec<u8>; 4]) -> [[u32; 8]; 4] {
        let blocks = msgs.each_ref().map(|m| m.len() / 64);
        let most = blocks.iter().copied().max().unwrap_or(0);
        let mut states = [super::SHA256_IV; 4];
        let mut done = [super::SHA256_IV; 4];
        for k in 0..most {
            let input: [&[u8]; 4] = std::array::from_fn(|l| {
                let at = if k < blocks[l] { k * 64 } else { 0 };
                &msgs[l][at..at + 64]
            });
            compress4(&mut states, input);
            for l in 0..4 {
                if k + 1 == blocks[l] {
                    done[l] = states[l];
                }
            }
        }
        done
    }

    /// One block of each of four independent streams, their rounds interleaved.
    #[target_feature(enable = "sha,sse4.1,ssse3")]
    unsafe fn compress4(states: &mut [[u32; 8]; 4], blocks: [&[u8]; 4]) {
        // Byte order: the message's big-endian words into little-endian lanes.
        let bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bu64 as i64, 0x0405060700010203u64 as i64);
        let mut abef = [_mm_setzero_si128(); 4];
        let mut cdgh = [_mm_setzero_si128(); 4];
        for l in 0..4 {
            // SAFETY (loads): each state is 8 u32s, read as two 16-byte halves.
            let dcba = _mm_loadu_si128(states[l].as_ptr() as *const __m128i);
            let hgfe = _mm_loadu_si128(states[l].as_ptr().add(4) as *const __m128i);
            let cdab = _mm_shuffle_epi32::<0xB1>(dcba);
            let efgh = _mm_shuffle_epi32::<0x1B>(hgfe);
            abef[l] = _mm_alignr_epi8::<8>(cdab, efgh);
            cdgh[l] = _mm_blend_epi16::<0xF0>(efgh, cdab);
        }
        let (abef0, cdgh0) = (abef, cdgh);
        let mut w = [[_mm_setzero_si128(); 4]; 4];
        for i in 0..16 {
            let k = _mm_loadu_si128(K.as_ptr().add(4 * i) as *const __m128i);
            for l in 0..4 {
                let m = &mut w[l];
                if i < 4 {
                    // SAFETY: every block is 64 bytes (`hash4` slices them so).
                    let raw = _mm_loadu_si128(blocks[l].as_ptr().add(16 * i) as *const __m128i);
                    m[i] = _mm_shuffle_epi8(raw, bswap);
                } else {
                    // W[4i..4i+4] from the four words groups before.
                    let x = _mm_sha256msg1_epu32(m[i % 4], m[(i + 1) % 4]);
                    let x = _mm_add_epi32(x, _mm_alignr_epi8::<4>(m[(i + 3) % 4], m[(i + 2) % 4]));
                    m[i % 4] = _mm_sha256msg2_epu32(x, m[(i + 3) % 4]);
                }
                let wk = _mm_add_epi32(m[i % 4], k);
                cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk);
                abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32::<0x0E>(wk));
            }
        }
        for l in 0..4 {
            let abef = _mm_add_epi32(abef[l], abef0[l]);
            let cdgh = _mm_add_epi32(cdgh[l], cdgh0[l]);
            let feba = _mm_shuffle_epi32::<0x1B>(abef);
            let dchg = _mm_shuffle_epi32::<0xB1>(cdgh);
            let dcba = _mm_blend_epi16::<0xF0>(feba, dchg);
            let hgfe = _mm_alignr_epi8::<8>(dchg, feba);
            _mm_storeu_si128(states[l].as_mut_ptr() as *mut __m128i, dcba);
            _mm_storeu_si128(states[l].as_mut_ptr().add(4) as *mut __m128i, hgfe);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod shani {
    pub fn available() -> bool {
        false
    }

    pub unsafe fn hash4(_: &[Vec<u8>; 4]) -> [[u32; 8]; 4] {
        unreachable!("never called: not available")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length from 0 to 300 bytes, in groups whose lanes differ in length (so lanes
    /// finish at different blocks), equals the one-stream hash.
    #[test]
    fn equals_sha256_of_each_message() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 31 + 7) as u8).collect();
        for shift in 0..5 {
            let lens: Vec<usize> = (0..301).map(|i| (i * 7 + shift * 13) % 301).collect();
            let mut out = Vec::new();
            sha256_each(lens.len(), &mut out, |i, b| {
                b.extend_from_slice(&data[..lens[i]])
            });
            assert_eq!(out.len(), lens.len());
            for (d, &len) in out.iter().zip(&lens) {
                assert_eq!(*d, crate::sha256(&data[..len]), "length {len}");
            }
        }
    }

    #[test]
    fn padding_is_fips_180_4() {
        for len in 0..200 {
            let mut b = vec![0xAB; len];
            pad(&mut b);
            assert_eq!(b.len() % 64, 0, "length {len}");
            assert!(b.len() >= len + 9 && b.len() < len + 9 + 64);
            assert_eq!(b[len], 0x80);
            assert_eq!(b[b.len() - 8..], ((len as u64) * 8).to_be_bytes());
        }
    }
}
