//! Reads at a view (a committed tx and the head it had): the events matching a query within a
//! position range, in either direction, at most `max` of them.
//!
//! A query that matches everything scans the log. Otherwise each item is answered from the
//! indexes alone: an item of one constraint (one tag, or types only) walks its index(es) in
//! chunks; an item of several (tags, and types) intersects them, each index seeking to the
//! next position the others hold (a zig-zag join), so a rare constraint keeps the read short
//! however common the others are. The items' matches are merged in position order without
//! repeats, and only those events are read.

use std::collections::BTreeMap;

use prost::Message as _;
use stele_ledger::{Ledger, ScanQuery};
use stele_proto::umadb as pb;

use crate::error::{EventError, Result};
use crate::keys;
use crate::query;
use crate::View;

/// Index entries fetched per step of a driver.
const CHUNK: usize = 256;

/// The event stored at `position` as of `view` (one seek: events are written once, so no
/// revision is counted).
pub fn event_at(ledger: &Ledger, view: View, position: u64) -> Result<pb::SequencedEvent> {
    let key = keys::stored(&keys::event_key(position));
    match ledger.get_latest(&key, view.tx)? {
        Some(entry) => decode(&entry.value, position),
        None => Err(EventError::Corruption(format!(
            "event {position} is indexed but not stored"
        ))),
    }
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
    // Matches by position, from every item; each item needs at most `max`.
    let mut found: BTreeMap<u64, pb::SequencedEvent> = BTreeMap::new();
    for item in &q.items {
        let tags: Vec<Vec<u8>> = item.tags.iter().map(|t| keys::tag_prefix(t)).collect();
        let types: Vec<Vec<u8>> = item.types.iter().map(|t| keys::type_prefix(t)).collect();
        let mut positions = Vec::new();
        if tags.len() + usize::from(!types.is_empty()) >= 2 {
            // Several constraints: intersect their indexes, seeking from one to the next.
            let mut groups: Vec<&[Vec<u8>]> = tags.chunks(1).collect();
            if !types.is_empty() {
                groups.push(&types);
            }
            intersect(
                ledger,
                view,
                &groups,
                lo,
                hi,
                backwards,
                max,
                &mut positions,
            )?;
        } else {
            // One index answers the item exactly: walk it in chunks.
            for prefix in tags.iter().chain(&types) {
                drive(ledger, view, prefix, lo, hi, backwards, max, &mut |p| {
                    positions.push(p);
                    Ok(true)
                })?;
            }
        }
        for p in positions {
            if let std::collections::btree_map::Entry::Vacant(slot) = found.entry(p) {
                slot.insert(event_at(ledger, view, p)?);
            }
        }
    }
    Ok(if backwards {
        found.into_values().rev().take(max).collect()
    } else {
        found.into_values().take(max).collect()
    })
}

/// The nearest position at or after `from` (at or before, `backwards`) within `lo..=hi` in any
/// of the indexes `group`.
fn nearest(
    ledger: &Ledger,
    view: View,
    group: &[Vec<u8>],
    from: u64,
    lo: u64,
    hi: u64,
    backwards: bool,
) -> Result<Option<u64>> {
    let mut best: Option<u64> = None;
    for prefix in group {
        let (seek, end) = if backwards { (from, lo) } else { (from, hi) };
        let hit = ledger.index_scan(&ScanQuery {
            prefix: prefix.clone(),
            seek_key: Some(keys::at(prefix, seek)),
            inclusive_seek: true,
            end_key: Some(keys::at(prefix, end)),
            inclusive_end: true,
            desc: backwards,
            limit: 1,
            snapshot: Some(view.tx),
            ..Default::default()
        })?;
        if let Some(p) = hit.first().and_then(|e| keys::position_of_stored(&e.key)) {
            best = Some(match best {
                None => p,
                Some(b) if backwards => b.max(p),
                Some(b) => b.min(p),
            });
        }
    }
    Ok(best)
}

/// Up to `max` positions in `lo..=hi` present in every group (a group: any of its indexes),
/// in order: each group in turn moves the candidate to its nearest position until all agree.
#[allow(clippy::too_many_arguments)]
fn intersect(
    ledger: &Ledger,
    view: View,
    groups: &[&[Vec<u8>]],
    lo: u64,
    hi: u64,
    backwards: bool,
    max: usize,
    out: &mut Vec<u64>,
) -> Result<()> {
    let mut candidate = if backwards { hi } else { lo };
    while out.len() < max && (lo..=hi).contains(&candidate) {
        let mut agreed = 0;
        let mut i = 0;
        while agreed < groups.len() {
            let Some(p) = nearest(
                ledger,
                view,
                groups[i % groups.len()],
                candidate,
                lo,
                hi,
                backwards,
            )?
            else {
                return Ok(());
            };
            if p == candidate {
                agreed += 1;
            } else {
                candidate = p;
                agreed = 1;
            }
            i += 1;
        }
        out.push(candidate);
        candidate = match (backwards, candidate) {
            (true, 0) => return Ok(()),
            (true, c) => c - 1,
            (false, c) => c + 1,
        };
    }
    Ok(())
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
                return Err(EventError::Corruption(
                    "an index entry without a position".into(),
                ));
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

/// Up to `max` events of `lo..=hi` in order, from the log itself (forwards with the ledger's
/// visiting scan, which steps instead of seeking and copies nothing it does not keep).
fn scan(
    ledger: &Ledger,
    view: View,
    lo: u64,
    hi: u64,
    backwards: bool,
    max: usize,
) -> Result<Vec<pb::SequencedEvent>> {
    let prefix = keys::stored_event_prefix();
    let bound = |p: u64| keys::stored(&keys::event_key(p));
    if !backwards {
        let mut out = Vec::new();
        let mut failed = None;
        let mut key_buf = Vec::new();
        ledger.visit(
            &ScanQuery {
                prefix,
                seek_key: Some(bound(lo)),
                inclusive_seek: true,
                end_key: Some(bound(hi)),
                inclusive_end: true,
                snapshot: Some(view.tx),
                ..Default::default()
            },
            true,
            |key, _tx, value| {
                key.decode_into(&mut key_buf);
                let decoded = keys::position_of_stored(&key_buf)
                    .ok_or_else(|| EventError::Corruption("an event key without a position".into()))
                    .and_then(|p| decode(value, p));
                match decoded {
                    Ok(e) => out.push(e),
                    Err(e) => failed = Some(e),
                }
                failed.is_none() && out.len() < max
            },
        )?;
        return match failed {
            Some(e) => Err(e),
            None => Ok(out),
        };
    }
    let entries = ledger.scan(&ScanQuery {
        prefix,
        seek_key: Some(bound(hi)),
        inclusive_seek: true,
        end_key: Some(bound(lo)),
        inclusive_end: true,
        desc: true,
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
