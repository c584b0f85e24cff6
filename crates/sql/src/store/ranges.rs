//! Bounds of a read: stored row keys ([`KeyRange`]) and committed txs ([`TxRange`]).

use stele_ledger::format::successor;
use stele_ledger::proof::TxId;
use stele_ledger::{KeySpan, ScanQuery};

/// Bounds on stored row keys: `(key, inclusive)` at each end, unbounded when `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// The lower bound and whether it is included; `None`: from the first key.
    pub lo: Option<(Vec<u8>, bool)>,
    /// The upper bound and whether it is included; `None`: to the last key.
    pub hi: Option<(Vec<u8>, bool)>,
}

impl KeyRange {
    /// Every key starting with `prefix`.
    pub fn prefix(prefix: Vec<u8>) -> KeyRange {
        let hi = successor(&prefix).map(|s| (s, false));
        KeyRange {
            lo: Some((prefix, true)),
            hi,
        }
    }

    pub(crate) fn contains(&self, k: &[u8]) -> bool {
        KeySpan::between(k, &self.lo, &self.hi)
    }

    pub(crate) fn apply(&self, q: &mut ScanQuery) {
        if let Some((k, incl)) = &self.lo {
            q.seek_key = Some(k.clone());
            q.inclusive_seek = *incl;
        }
        if let Some((k, incl)) = &self.hi {
            q.end_key = Some(k.clone());
            q.inclusive_end = *incl;
        }
    }
}

/// Which versions a read sees: the newest version per row whose tx lies in `[from, until]`
/// (`from = 1`: "as of `until`"), dropped if it is a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxRange {
    /// The first tx of the range, included (1: from the first tx).
    pub from: TxId,
    /// The last tx of the range, included.
    pub until: TxId,
}
