//! A transaction's pending keys: an ordered map built for appends.
//!
//! Bulk inserts write keys in ascending order. A B-tree pays a search for each (about a dozen
//! comparisons of long keys that share their table prefix, per level); here a key above every
//! key held is pushed onto a sorted vector, the *tail*, after one comparison.
//!
//! Invariant: `tail` is strictly ascending and each of its keys is greater than every key of
//! `tree`, so the map's order is the tree's followed by the tail's. A key below the tail goes
//! to the tree; a new key inside the tail's span first moves the tail into the tree (rare: a
//! statement writing out of order), which keeps every insertion cheap.

use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub(crate) struct PendingMap<V> {
    tree: BTreeMap<Vec<u8>, V>,
    tail: Vec<(Vec<u8>, V)>,
}

impl<V> Default for PendingMap<V> {
    fn default() -> Self {
        PendingMap {
            tree: BTreeMap::new(),
            tail: Vec::new(),
        }
    }
}

impl<V: Default> PendingMap<V> {
    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        match self.tail_position(key) {
            Some(Ok(i)) => Some(&self.tail[i].1),
            Some(Err(_)) => None,
            None => self.tree.get(key),
        }
    }

    /// The slot of `key`, created with the default value when absent. `look` runs first, with
    /// the key and its value if it had one; its error leaves the map as it was.
    pub fn slot<R, E>(
        &mut self,
        key: Vec<u8>,
        look: impl FnOnce(&[u8], Option<&V>) -> Result<R, E>,
    ) -> Result<(R, &mut V), E> {
        let above_all = match self.tail.last() {
            Some((last, _)) => key > *last,
            None => self
                .tree
                .last_key_value()
                .is_none_or(|(last, _)| key > *last),
        };
        if above_all {
            let r = look(&key, None)?;
            self.tail.push((key, V::default()));
            let slot = &mut self.tail.last_mut().expect("just pushed").1;
            return Ok((r, slot));
        }
        match self.tail_position(&key) {
            Some(Ok(i)) => {
                let r = look(&self.tail[i].0, Some(&self.tail[i].1))?;
                return Ok((r, &mut self.tail[i].1));
            }
            // Inside the tail's span: the tail joins the tree.
            Some(Err(_)) => self.tree.extend(self.tail.drain(..)),
            None => {}
        }
        use std::collections::btree_map::Entry;
        match self.tree.entry(key) {
            Entry::Occupied(o) => {
                let r = look(o.key(), Some(o.get()))?;
                Ok((r, o.into_mut()))
            }
            Entry::Vacant(v) => {
                let r = look(v.key(), None)?;
                Ok((r, v.insert(V::default())))
            }
        }
    }

    /// The slot of `key`, created with the default value when absent.
    pub fn entry(&mut self, key: Vec<u8>) -> &mut V {
        match self.slot(key, |_, _| Ok::<(), std::convert::Infallible>(())) {
            Ok(((), slot)) => slot,
            Err(never) => match never {},
        }
    }

    /// Entries with keys at or above `from`, in key order.
    pub fn range_from<'a>(&'a self, from: &'a [u8]) -> impl Iterator<Item = (&'a [u8], &'a V)> {
        let start = self.tail.partition_point(|(k, _)| k.as_slice() < from);
        self.tree
            .range::<[u8], _>((std::ops::Bound::Included(from), std::ops::Bound::Unbounded))
            .map(|(k, v)| (k.as_slice(), v))
            .chain(self.tail[start..].iter().map(|(k, v)| (k.as_slice(), v)))
    }

    /// Every value, in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.tree.values().chain(self.tail.iter().map(|(_, v)| v))
    }

    /// Every entry, in key order.
    pub fn into_sorted(self) -> impl Iterator<Item = (Vec<u8>, V)> {
        self.tree.into_iter().chain(self.tail)
    }

    pub fn len(&self) -> usize {
        self.tree.len() + self.tail.len()
    }

    /// Where `key` is or would be in the tail; `None` when it sorts below the tail.
    fn tail_position(&self, key: &[u8]) -> Option<Result<usize, usize>> {
        let first = self.tail.first()?;
        (key >= first.0.as_slice())
            .then(|| self.tail.binary_search_by(|(k, _)| k.as_slice().cmp(key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random runs of ascending, descending and scattered keys, checked after every step
    /// against a B-tree holding the same writes.
    #[test]
    fn behaves_as_an_ordered_map() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..40 {
            let mut map: PendingMap<u32> = PendingMap::default();
            let mut model: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
            let mut cursor = next(500);
            for step in 0..300u32 {
                let k = match next(4) {
                    0 | 1 => {
                        cursor += 1 + next(3);
                        cursor
                    }
                    2 => next(1000),
                    _ => cursor.saturating_sub(next(20)),
                };
                let key = format!("R.{k:06}").into_bytes();
                let expected = model.get(&key).copied();
                let (seen, slot) = map
                    .slot(key.clone(), |k, v| {
                        assert_eq!(k, key.as_slice());
                        Ok::<_, ()>(v.copied())
                    })
                    .unwrap();
                assert_eq!(seen, expected, "round {round} step {step}");
                *slot += step + 1;
                *model.entry(key).or_default() += step + 1;
                // A failed look changes nothing.
                let absent = format!("R.{:06}", 2000 + next(100)).into_bytes();
                if !model.contains_key(&absent) {
                    assert!(map.slot(absent, |_, _| Err::<(), _>(())).is_err());
                }
                assert_eq!(map.len(), model.len());
            }
            for probe in 0..1100u64 {
                let key = format!("R.{probe:06}").into_bytes();
                assert_eq!(map.get(&key), model.get(&key));
                let from: Vec<_> = map
                    .range_from(&key)
                    .map(|(k, v)| (k.to_vec(), *v))
                    .collect();
                let want: Vec<_> = model
                    .range(key.clone()..)
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                assert_eq!(from, want);
            }
            assert!(map.values().copied().eq(model.values().copied()));
            assert!(map.into_sorted().eq(model.into_iter()));
        }
    }
}
