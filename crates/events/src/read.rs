//! Reads at a view (a committed tx and the head it had): the events matching a query within a
//! position range, in either direction, at most `max` of them.
//!
//! A query that matches everything scans the log. Otherwise each item is driven by one index:
//! its first tag's (then the event is checked against the item's other tags and its types), or,
//! for an item of types only, each type's index (whose entries need no check). The drivers'
//! matches are merged in position order without repeats. Index entries come in chunks, so a
//! read touches about as many entries as it returns.

use std::collections::BTreeMap;

use prost::Message as _;
use stele_ledger::{Ledger, LedgerError, ScanQuery};
use stele_proto::umadb as pb;

use crate::error::{EventError, Result};
use crate::keys;
use crate::query;
use crate::View;

/// Index entries fetched per step of a driver.
const CHUNK: usize = 256;

/// The event stored at `position` as of `view`.
pub fn event_at(ledger: &Ledger, view: View, position: u64) -> Result<pb::SequencedEvent> {
    let key = keys::stored(&keys::event_key(position));
    let entry = ledger.get(&key, Some(view.tx)).map_err(|e| match e {
        LedgerError::KeyNotFound => {
            EventError::Corruption(format!("event {position} is indexed but not stored"))
        }
        other => other.into(),
    })?;
    decode(&entry.value, position)
}

fn decode(stored: &[u8], position: u64) -> Result<pb::SequencedEvent> {
    let bytes = stored
        .strip_prefix(&[0x00])
        .ok_or_else(|| EventError::Corruption(format!("event {position}: not a plain value")))?;
    pb::SequencedEvent::decode(bytes)
        .map_err(|e| EventError::Corruption(format!("event {position} does not decode: {e}")))
}

/// Up to `max` events matching `q` with positions in `lo..=hi` (ascending, or descending when
/// `backwards`), as of `view`.
pub fn find(
    ledger: &Ledger,
    view: View,
    q: &pb::Query,
    lo: u64,
    hi: u64,
    backwards: bool,
    max: usize,
) -> Result<Vec<pb::SequencedEvent>> {
    let hi = hi.min(view.head);
    let lo = lo.max(1);
    if max == 0 || lo > hi {
        return Ok(Vec::new());
    }
    if query::matches_all(q) {
        return scan(ledger, view, lo, hi, backwards, max);
    }
    // Matches by position, from every driver; each driver needs at most `max`.
    let mut found: BTreeMap<u64, pb::SequencedEvent> = BTreeMap::new();
    for item in &q.items {
        let drivers: Vec<Vec<u8>> = match item.tags.first() {
            Some(tag) => vec![keys::tag_prefix(tag)],
            None => item.types.iter().map(|t| keys::type_prefix(t)).collect(),
        };
        let exact = item.tags.is_empty();
        for prefix in drivers {
            drive(ledger, view, &prefix, lo, hi, backwards, max, &mut |position| {
                if found.contains_key(&position) {
                    return Ok(true);
                }
                let e = event_at(ledger, view, position)?;
                let hit = exact || e.event.as_ref().is_some_and(|ev| query::item_matches(item, ev));
                if hit {
                    found.insert(position, e);
                }
                Ok(hit)
            })?;
        }
    }
    Ok(if backwards {
        found.into_values().rev().take(max).collect()
    } else {
        found.into_values().take(max).collect()
    })
}

/// Walks the index entries under `prefix` within `lo..=hi`, calling `check(position)` on each
/// until `max` of them were hits or the range is done.
#[allow(clippy::too_many_arguments)]
fn drive(
    ledger: &Ledger,
    view: View,
    prefix: &[u8],
    mut lo: u64,
    mut hi: u64,
    backwards: bool,
    max: usize,
    check: &mut dyn FnMut(u64) -> Result<bool>,
) -> Result<()> {
    let mut hits = 0;
    while lo <= hi && hits < max {
        let (seek, end) = if backwards { (hi, lo) } else { (lo, hi) };
        let chunk = ledger.index_scan(&ScanQuery {
            prefix: prefix.to_vec(),
            seek_key: Some(keys::at(prefix, seek)),
            inclusive_seek: true,
            end_key: Some(keys::at(prefix, end)),
            inclusive_end: true,
            desc: backwards,
            limit: CHUNK,
            snapshot: Some(view.tx),
            ..Default::default()
        })?;
        let n = chunk.len();
        for e in chunk {
            let Some(position) = keys::position_of_stored(&e.key) else {
                return Err(EventError::Corruption("an index entry without a position".into()));
            };
            if check(position)? {
                hits += 1;
                if hits >= max {
                    return Ok(());
                }
            }
            if backwards {
                if position <= lo {
                    return Ok(());
                }
                hi = position - 1;
            } else {
                if position >= hi {
                    return Ok(());
                }
                lo = position + 1;
            }
        }
        if n < CHUNK {
            return Ok(());
        }
    }
    Ok(())
}

/// Up to `max` events of `lo..=hi` in order, from the log itself.
fn scan(ledger: &Ledger, view: View, lo: u64, hi: u64, backwards: bool, max: usize) -> Result<Vec<pb::SequencedEvent>> {
    let prefix = keys::stored_event_prefix();
    let bound = |p: u64| keys::stored(&keys::event_key(p));
    let (seek, end) = if backwards { (hi, lo) } else { (lo, hi) };
    let entries = ledger.scan(&ScanQuery {
        prefix,
        seek_key: Some(bound(seek)),
        inclusive_seek: true,
        end_key: Some(bound(end)),
        inclusive_end: true,
        desc: backwards,
        limit: max,
        snapshot: Some(view.tx),
        ..Default::default()
    })?;
    entries
        .iter()
        .map(|e| {
            let position = keys::position_of_stored(&e.key)
                .ok_or_else(|| EventError::Corruption("an event key without a position".into()))?;
            decode(&e.value, position)
        })
        .collect()
}
