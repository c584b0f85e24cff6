//! The append-only hash tree (AHT) over every transaction's Alh.
//!
//! Leaf `n` (1-based, one per transaction) is `H(0x00 ‖ Alh(n))`; `root(n)` is the RFC 6962
//! Merkle tree hash of the first `n` leaves. The tree is kept as its *perfect subtrees*:
//! node `(level, index)` is the hash of leaves `[index·2^level, (index+1)·2^level)`, and it exists
//! once all those leaves do. Any range hash a proof needs is a fold of O(log n) such nodes, so
//! the ledger stores exactly these nodes and nothing else ([`NodeSource`]).
//!
//! Proofs follow immudb, which differs from textbook RFC 6962 in the consistency proof:
//! when `i` is a power of two, `root(i)` is prepended, and `i = j > 1` has a two-term form.

use crate::{leaf_hash, node_hash, Digest, ProofError, TxId};

/// Where the perfect-subtree nodes come from: memory, RocksDB, ...
pub trait NodeSource {
    /// The source's own error; proof errors (bad arguments, a leaf beyond the tree) convert
    /// into it.
    type Error: From<ProofError>;
    /// The hash of the perfect subtree at `level` with position `index` at that level.
    fn node(&self, level: u32, index: u64) -> Result<Digest, Self::Error>;
}

/// A node that appending a leaf created; the ledger persists these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewNode {
    /// Height above the leaves: 0 for a leaf.
    pub level: u32,
    /// Position among the nodes of its level, 0-based: the node covers leaves
    /// `[index·2^level, (index+1)·2^level)`.
    pub index: u64,
    /// The node's hash; for a leaf, `H(0x00 ‖ Alh)`.
    pub hash: Digest,
}

/// The right edge of the tree: one perfect subtree per set bit of the size, highest first.
/// Enough to append and to compute the current root without reading anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<(u32, Digest)>,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves, read from its nodes.
    pub fn load<S: NodeSource>(source: &S, size: u64) -> Result<Frontier, S::Error> {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                nodes.push((level, source.node(level, start >> level)?));
                start += 1u64 << level;
            }
        }
        Ok(Frontier { size, nodes })
    }

    /// How many leaves the tree holds: the number of transactions appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the leaf for `alh`; returns the nodes created, the leaf first.
    pub fn append(&mut self, alh: &Digest) -> Vec<NewNode> {
        let pos = self.size;
        let mut level = 0u32;
        let mut hash = leaf_hash(alh);
        let mut created = vec![NewNode {
            level,
            index: pos,
            hash,
        }];
        while let Some(&(l, left)) = self.nodes.last() {
            if l != level {
                break;
            }
            self.nodes.pop();
            hash = node_hash(&left, &hash);
            level += 1;
            created.push(NewNode {
                level,
                index: pos >> level,
                hash,
            });
        }
        self.nodes.push((level, hash));
        self.size += 1;
        created
    }

    /// `root(size)`, or `None` for the empty tree.
    pub fn root(&self) -> Option<Digest> {
        let mut it = self.nodes.iter().rev();
        let mut acc = it.next()?.1;
        for (_, left) in it {
            acc = node_hash(left, &acc);
        }
        Some(acc)
    }
}

/// An AHT held in memory: for tests, tools and clients that replay a history.
#[derive(Debug, Clone, Default)]
pub struct MemAht {
    frontier: Frontier,
    levels: Vec<Vec<Digest>>,
}

impl MemAht {
    /// An empty tree.
    pub fn new() -> MemAht {
        MemAht::default()
    }

    /// Appends the leaf for `alh` and keeps every node it creates; returns them, the leaf first.
    pub fn append(&mut self, alh: &Digest) -> Vec<NewNode> {
        let created = self.frontier.append(alh);
        for n in &created {
            let l = n.level as usize;
            if self.levels.len() <= l {
                self.levels.resize(l + 1, Vec::new());
            }
            debug_assert_eq!(self.levels[l].len() as u64, n.index);
            self.levels[l].push(n.hash);
        }
        created
    }

    /// How many leaves the tree holds.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// `root(size)`, or `None` for the empty tree.
    pub fn root(&self) -> Option<Digest> {
        self.frontier.root()
    }
}

impl NodeSource for MemAht {
    type Error = ProofError;
    fn node(&self, level: u32, index: u64) -> Result<Digest, ProofError> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(index as usize))
            .copied()
            .ok_or_else(|| ProofError::Missing(format!("AHT node ({level}, {index})")))
    }
}

/// The largest power of two strictly below `n` (`n ≥ 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// RFC 6962 `MTH(D[a:b])`, from perfect-subtree nodes.
pub fn range_hash<S: NodeSource>(s: &S, a: u64, b: u64) -> Result<Digest, S::Error> {
    let n = b - a;
    if n.is_power_of_two() && a.is_multiple_of(n) {
        return s.node(n.trailing_zeros(), a / n);
    }
    let k = split_point(n);
    Ok(node_hash(
        &range_hash(s, a, a + k)?,
        &range_hash(s, a + k, b)?,
    ))
}

fn check_range(i: TxId, j: TxId, size: u64) -> Result<(), ProofError> {
    if i == 0 || i > j {
        return Err(ProofError::IllegalArguments(format!(
            "AHT proof for ({i}, {j})"
        )));
    }
    if j > size {
        return Err(ProofError::BeyondTree(j));
    }
    Ok(())
}

/// `root(n)` of a tree that holds at least `n` leaves.
pub fn root<S: NodeSource>(s: &S, n: u64) -> Result<Digest, S::Error> {
    if n == 0 {
        return Err(ProofError::IllegalArguments("root of an empty tree".into()).into());
    }
    range_hash(s, 0, n)
}

/// Inclusion of leaf `i` in `root(j)`: the RFC 6962 audit path `PATH(i−1, D[0:j])`, leaf first.
pub fn inclusion_proof<S: NodeSource>(
    s: &S,
    i: TxId,
    j: TxId,
    size: u64,
) -> Result<Vec<Digest>, S::Error> {
    check_range(i, j, size)?;
    let mut terms = Vec::new();
    path(s, i - 1, 0, j, &mut terms)?;
    Ok(terms)
}

fn path<S: NodeSource>(
    s: &S,
    m: u64,
    a: u64,
    b: u64,
    out: &mut Vec<Digest>,
) -> Result<(), S::Error> {
    let n = b - a;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(s, m, a, a + k, out)?;
        out.push(range_hash(s, a + k, b)?);
    } else {
        path(s, m - k, a + k, b, out)?;
        out.push(range_hash(s, a, a + k)?);
    }
    Ok(())
}

/// Consistency of `root(i)` with `root(j)`, in immudb's form.
pub fn consistency_proof<S: NodeSource>(
    s: &S,
    i: TxId,
    j: TxId,
    size: u64,
) -> Result<Vec<Digest>, S::Error> {
    check_range(i, j, size)?;
    if i == j {
        if j == 1 {
            return Ok(vec![]);
        }
        let k = split_point(j);
        return Ok(vec![range_hash(s, k, j)?, range_hash(s, 0, k)?]);
    }
    let mut terms = Vec::new();
    if i.is_power_of_two() {
        terms.push(range_hash(s, 0, i)?);
    }
    subproof(s, i, 0, j, true, &mut terms)?;
    Ok(terms)
}

fn subproof<S: NodeSource>(
    s: &S,
    m: u64,
    a: u64,
    b: u64,
    whole: bool,
    out: &mut Vec<Digest>,
) -> Result<(), S::Error> {
    let n = b - a;
    if m == n {
        if !whole {
            out.push(range_hash(s, a, b)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(s, m, a, a + k, whole, out)?;
        out.push(range_hash(s, a + k, b)?);
    } else {
        subproof(s, m - k, a + k, b, false, out)?;
        out.push(range_hash(s, a, a + k)?);
    }
    Ok(())
}

/// Checks that `leaf` (a leaf hash) is leaf `i` of `root(j) == root`.
pub fn verify_inclusion(proof: &[Digest], i: TxId, j: TxId, leaf: &Digest, root: &Digest) -> bool {
    if i == 0 || i > j || (i < j && proof.is_empty()) {
        return false;
    }
    let (mut i1, mut j1) = (i - 1, j - 1);
    let mut c = *leaf;
    for h in proof {
        c = if i1 % 2 == 0 && i1 != j1 {
            node_hash(&c, h)
        } else {
            node_hash(h, &c)
        };
        i1 >>= 1;
        j1 >>= 1;
    }
    // The path must end at the root: anything shorter or longer climbs to the wrong place.
    i1 == j1 && &c == root
}

/// Checks `proof` against `root(i) == root_i` and `root(j) == root_j`.
pub fn verify_consistency(
    proof: &[Digest],
    i: TxId,
    j: TxId,
    root_i: &Digest,
    root_j: &Digest,
) -> bool {
    if i == 0 || i > j || (i < j && proof.is_empty()) {
        return false;
    }
    if proof.is_empty() {
        return root_i == root_j;
    }
    let (mut f, mut s) = (i - 1, j - 1);
    while f % 2 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut ci, mut cj) = (proof[0], proof[0]);
    for h in &proof[1..] {
        if f % 2 == 1 || f == s {
            ci = node_hash(h, &ci);
            cj = node_hash(h, &cj);
            while f % 2 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            cj = node_hash(&cj, h);
        }
        f >>= 1;
        s >>= 1;
    }
    &ci == root_i && &cj == root_j
}

/// Checks that `leaf` is the last leaf (`i`) of the tree whose root is `root`.
pub fn verify_last_inclusion(proof: &[Digest], i: TxId, leaf: &Digest, root: &Digest) -> bool {
    if i == 0 {
        return false;
    }
    // Every step of a last-leaf path hashes from the left.
    let c = proof.iter().fold(*leaf, |c, h| node_hash(h, &c));
    &c == root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256;

    fn tree(n: u64) -> (MemAht, Vec<Digest>) {
        let mut t = MemAht::new();
        let mut roots = Vec::new();
        for k in 1..=n {
            t.append(&sha256(&k.to_be_bytes()));
            roots.push(t.root().unwrap());
        }
        (t, roots)
    }

    #[test]
    fn frontier_root_matches_range_hash_and_reload() {
        let (t, roots) = tree(70);
        for n in 1..=70u64 {
            assert_eq!(root(&t, n).unwrap(), roots[n as usize - 1]);
            let f = Frontier::load(&t, n).unwrap();
            assert_eq!(f.root().unwrap(), roots[n as usize - 1]);
        }
    }

    #[test]
    fn all_proofs_verify_and_corruptions_fail() {
        let n = 40;
        let (t, roots) = tree(n);
        for j in 1..=n {
            let rj = roots[j as usize - 1];
            for i in 1..=j {
                let leaf = leaf_hash(&sha256(&i.to_be_bytes()));
                let p = inclusion_proof(&t, i, j, n).unwrap();
                assert!(verify_inclusion(&p, i, j, &leaf, &rj), "incl {i} {j}");
                assert!(!verify_inclusion(&p, i, j, &sha256(b"x"), &rj));
                let c = consistency_proof(&t, i, j, n).unwrap();
                let ri = roots[i as usize - 1];
                assert!(verify_consistency(&c, i, j, &ri, &rj), "cons {i} {j}");
                assert!(!verify_consistency(&c, i, j, &sha256(b"x"), &rj));
                if !c.is_empty() {
                    let mut bad = c.clone();
                    let last = bad.len() - 1;
                    bad[last][0] ^= 1;
                    assert!(
                        !verify_consistency(&bad, i, j, &ri, &rj),
                        "bad cons {i} {j}"
                    );
                }
            }
            let last = inclusion_proof(&t, j, j, n).unwrap();
            let leaf = leaf_hash(&sha256(&j.to_be_bytes()));
            assert!(verify_last_inclusion(&last, j, &leaf, &rj));
        }
        assert!(inclusion_proof(&t, 0, 3, n).is_err());
        assert!(inclusion_proof(&t, 4, 3, n).is_err());
        assert_eq!(
            inclusion_proof(&t, 1, n + 1, n),
            Err(ProofError::BeyondTree(n + 1))
        );
    }

    #[test]
    fn consistency_forms_match_immudb() {
        let (t, roots) = tree(8);
        // i a power of two: root(i) comes first.
        assert_eq!(consistency_proof(&t, 2, 5, 8).unwrap()[0], roots[1]);
        // i == j > 1: two terms; i == j == 1: none.
        assert_eq!(consistency_proof(&t, 6, 6, 8).unwrap().len(), 2);
        assert!(consistency_proof(&t, 1, 1, 8).unwrap().is_empty());
    }
}
