//! The per-transaction Merkle tree (immudb `htree`): RFC 6962 with `0x00`/`0x01` prefixes.
//!
//! Leaves are `H(0x00 ‖ digest)`; each level pairs `(0,1), (2,3), …` and an odd last node is
//! promoted unchanged. The root is the transaction's `eH`. Inclusion proofs are the RFC 6962
//! audit path, leaf first.

use crate::{leaf_hash, node_hash, Digest, ProofError, LEAF_PREFIX, NODE_PREFIX};

/// Inclusion of leaf `leaf` (0-based) in a tree of `width` leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// The proven leaf's position, 0-based, in entry order.
    pub leaf: u32,
    /// How many leaves (entries) the tree has.
    pub width: u32,
    /// Sibling hashes from the leaf up to the root; a promoted odd node adds none.
    pub terms: Vec<Digest>,
}

/// A built tree: every level, leaves first.
#[derive(Debug, Clone)]
pub struct HTree {
    levels: Vec<Vec<Digest>>,
}

impl HTree {
    /// Builds the tree over entry digests. A transaction always has at least one entry.
    pub fn build(digests: &[Digest]) -> Result<HTree, ProofError> {
        if digests.is_empty() {
            return Err(ProofError::IllegalArguments(
                "a tree needs at least one entry".into(),
            ));
        }
        let mut levels = vec![digests.iter().map(leaf_hash).collect::<Vec<_>>()];
        while levels.last().unwrap().len() > 1 {
            let below = levels.last().unwrap();
            let above = below
                .chunks(2)
                .map(|p| {
                    if p.len() == 2 {
                        node_hash(&p[0], &p[1])
                    } else {
                        p[0]
                    }
                })
                .collect();
            levels.push(above);
        }
        Ok(HTree { levels })
    }

    /// How many leaves (entries) the tree has.
    pub fn width(&self) -> usize {
        self.levels[0].len()
    }

    /// The root, `eH`.
    pub fn root(&self) -> Digest {
        self.levels.last().unwrap()[0]
    }

    /// The audit path of leaf `i`, leaf first.
    pub fn inclusion_proof(&self, i: usize) -> Result<InclusionProof, ProofError> {
        let width = self.width();
        if i >= width {
            return Err(ProofError::IllegalArguments(format!(
                "leaf {i} out of range for a tree of {width}"
            )));
        }
        let mut terms = Vec::new();
        let mut idx = i;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = idx ^ 1;
            // An odd last node has no sibling at this level: it is promoted, no term.
            if sibling < level.len() {
                terms.push(level[sibling]);
            }
            idx /= 2;
        }
        Ok(InclusionProof {
            leaf: i as u32,
            width: width as u32,
            terms,
        })
    }
}

/// The root of the tree over `digests` (`eH`), computed in one buffer.
pub fn root(digests: &[Digest]) -> Result<Digest, ProofError> {
    if digests.is_empty() {
        return Err(ProofError::IllegalArguments(
            "a tree needs at least one entry".into(),
        ));
    }
    // Each level's hashes are independent: they go through `sha256_each` together.
    let mut level = Vec::with_capacity(digests.len());
    crate::sha256_each(digests.len(), &mut level, |i, b| {
        b.push(LEAF_PREFIX);
        b.extend_from_slice(&digests[i]);
    });
    let mut above = Vec::with_capacity(level.len().div_ceil(2));
    while level.len() > 1 {
        let n = level.len();
        above.clear();
        crate::sha256_each(n / 2, &mut above, |i, b| {
            b.push(NODE_PREFIX);
            b.extend_from_slice(&level[2 * i]);
            b.extend_from_slice(&level[2 * i + 1]);
        });
        // An odd last node is promoted unchanged.
        if n % 2 == 1 {
            above.push(level[n - 1]);
        }
        std::mem::swap(&mut level, &mut above);
    }
    Ok(level[0])
}

/// Checks that `digest` is leaf `proof.leaf` of the tree whose root is `root`.
pub fn verify_inclusion(proof: &InclusionProof, digest: &Digest, root: &Digest) -> bool {
    if proof.width == 0 || proof.leaf >= proof.width {
        return false;
    }
    let mut c = leaf_hash(digest);
    let mut i = proof.leaf;
    let mut r = proof.width - 1;
    for t in &proof.terms {
        c = if i.is_multiple_of(2) && i != r {
            node_hash(&c, t)
        } else {
            node_hash(t, &c)
        };
        i /= 2;
        r /= 2;
    }
    i == r && &c == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256;

    fn digests(n: usize) -> Vec<Digest> {
        (0..n).map(|i| sha256(&(i as u64).to_be_bytes())).collect()
    }

    /// RFC 6962 MTH, straight from its recursive definition.
    fn mth(d: &[Digest]) -> Digest {
        if d.len() == 1 {
            return leaf_hash(&d[0]);
        }
        let k = 1usize << (usize::BITS - 1 - (d.len() - 1).leading_zeros());
        node_hash(&mth(&d[..k]), &mth(&d[k..]))
    }

    #[test]
    fn root_alone_matches_the_built_tree() {
        for n in 1..=70 {
            let d = digests(n);
            assert_eq!(
                root(&d).unwrap(),
                HTree::build(&d).unwrap().root(),
                "width {n}"
            );
        }
        assert!(root(&[]).is_err());
    }

    #[test]
    fn root_is_rfc6962_and_every_proof_verifies() {
        for n in 1..=70 {
            let d = digests(n);
            let t = HTree::build(&d).unwrap();
            assert_eq!(t.root(), mth(&d), "width {n}");
            for (i, di) in d.iter().enumerate() {
                let p = t.inclusion_proof(i).unwrap();
                assert!(verify_inclusion(&p, di, &t.root()), "width {n} leaf {i}");
                let other = sha256(b"other");
                assert!(!verify_inclusion(&p, &other, &t.root()));
                if !p.terms.is_empty() {
                    let mut bad = p.clone();
                    bad.terms[0][0] ^= 1;
                    assert!(!verify_inclusion(&bad, di, &t.root()));
                }
            }
        }
    }

    #[test]
    fn rejects_empty_and_out_of_range() {
        assert!(HTree::build(&[]).is_err());
        assert!(HTree::build(&digests(3))
            .unwrap()
            .inclusion_proof(3)
            .is_err());
    }
}
