//! The event store on a ledger in a temporary directory: positions, conditions, idempotent
//! retries, tracking info, reads by type and tag in both directions, concurrent appenders.

use std::sync::Arc;

use stele_events::{EventError, EventStore, View};
use stele_ledger::{Ledger, Options};
use stele_proto::umadb as pb;

fn store() -> (tempfile::TempDir, EventStore) {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options {
        max_tx_entries: 1 << 16,
        ..Options::default()
    };
    let ledger = Arc::new(Ledger::open(dir.path().join("dcb"), opts).unwrap());
    (dir, EventStore::open(ledger, 1 << 16).unwrap())
}

fn ev(ty: &str, tags: &[&str]) -> pb::Event {
    pb::Event {
        event_type: ty.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        data: format!("{ty}:{}", tags.join(",")).into_bytes(),
        ..Default::default()
    }
}

fn append(s: &EventStore, events: Vec<pb::Event>) -> Result<u64, EventError> {
    s.append(pb::AppendRequest {
        events,
        ..Default::default()
    })
}

fn query(items: &[(&[&str], &[&str])]) -> pb::Query {
    pb::Query {
        items: items
            .iter()
            .map(|(types, tags)| pb::QueryItem {
                types: types.iter().map(|t| t.to_string()).collect(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
            })
            .collect(),
    }
}

fn positions(s: &EventStore, q: &pb::Query, lo: u64, backwards: bool, max: usize) -> Vec<u64> {
    let v = s.view();
    s.find(v, q, lo, u64::MAX, backwards, max)
        .unwrap()
        .iter()
        .map(|e| e.position)
        .collect()
}

#[test]
fn reads_select_by_type_and_tag_in_both_directions() {
    let (_d, s) = store();
    assert_eq!(s.head(), None);
    assert_eq!(append(&s, vec![ev("A", &["t1"])]).unwrap(), 1);
    assert_eq!(
        append(&s, vec![ev("B", &["t1", "t2"]), ev("C", &[])]).unwrap(),
        3
    );
    assert_eq!(s.head(), Some(3));
    let all = query(&[]);
    // (query, start, backwards, limit) -> positions: spec 2.4's table, and more.
    let cases: Vec<(pb::Query, u64, bool, usize, Vec<u64>)> = vec![
        (all.clone(), 1, false, 100, vec![1, 2, 3]),
        (all.clone(), 1, false, 2, vec![1, 2]),
        (all.clone(), 2, false, 100, vec![2, 3]),
        (all.clone(), 99, false, 100, vec![]),
        (all.clone(), 1, true, 100, vec![3, 2, 1]),
        (query(&[(&[], &["t1", "t2"])]), 1, false, 100, vec![2]),
        (query(&[(&["A", "C"], &[])]), 1, false, 100, vec![1, 3]),
        (query(&[(&["A", "C"], &[])]), 1, true, 1, vec![3]),
        (query(&[(&[], &["t1"])]), 1, true, 100, vec![2, 1]),
        (query(&[(&["B"], &["t1"])]), 1, false, 100, vec![2]),
        (query(&[(&["A"], &["t2"])]), 1, false, 100, vec![]),
        (query(&[(&["A", "B"], &["t1"])]), 1, false, 100, vec![1, 2]),
        (query(&[(&["A", "B"], &["t1"])]), 1, true, 1, vec![2]),
        (
            query(&[(&["B", "C"], &["t1", "t2"])]),
            2,
            false,
            100,
            vec![2],
        ),
        (query(&[(&["A", "B"], &["t1"])]), 2, true, 100, vec![2]),
        (
            query(&[(&["A"], &[]), (&[], &["t2"])]),
            1,
            false,
            100,
            vec![1, 2],
        ),
        (
            query(&[(&["A"], &[]), (&[], &["t1"])]),
            1,
            false,
            100,
            vec![1, 2],
        ),
        (
            query(&[(&[], &[]), (&["nope"], &[])]),
            1,
            false,
            100,
            vec![1, 2, 3],
        ),
        (query(&[(&["nope"], &[])]), 1, false, 100, vec![]),
    ];
    for (q, lo, back, max, want) in cases {
        assert_eq!(
            positions(&s, &q, lo, back, max),
            want,
            "{q:?} from {lo} back {back} max {max}"
        );
    }
    // A read at an older view does not see later events.
    let old = View { tx: 1, head: 1 };
    assert_eq!(s.find(old, &all, 1, u64::MAX, false, 10).unwrap().len(), 1);
    let e = &s.find(s.view(), &all, 2, 2, false, 1).unwrap()[0];
    assert_eq!(e.event.as_ref().unwrap().data, b"B:t1,t2");
}

#[test]
fn conditions_fail_on_a_match_after_their_position_and_retries_are_idempotent() {
    let (_d, s) = store();
    let cb = query(&[(&["example"], &["c1"])]);
    let cond = |after: Option<u64>| {
        Some(pb::AppendCondition {
            fail_if_events_match: Some(cb.clone()),
            after,
        })
    };
    append(&s, vec![ev("other", &["c1"])]).unwrap();
    let mut first = ev("example", &["c1"]);
    first.uuid = "6c4b9e0c-1f0e-4ce5-9b8d-6f5f0e7b2a10".into();
    let r = pb::AppendRequest {
        events: vec![first.clone()],
        condition: cond(None),
        tracking_info: None,
    };
    assert_eq!(s.append(r.clone()).unwrap(), 2);
    // The same request again: its events are the first matches, UUID for UUID.
    assert_eq!(s.append(r.clone()).unwrap(), 2);
    // Other UUIDs conflict.
    let mut other = r.clone();
    other.events[0].uuid = "7c4b9e0c-1f0e-4ce5-9b8d-6f5f0e7b2a10".into();
    assert!(matches!(s.append(other), Err(EventError::Integrity(_))));
    // After the conflicting event, the condition holds again.
    let mut later = r.clone();
    later.events[0].uuid.clear();
    later.condition = cond(Some(2));
    assert_eq!(s.append(later.clone()).unwrap(), 3);
    assert!(matches!(s.append(later), Err(EventError::Integrity(_))));
    // An empty query matches everything: fails on a non-empty store, holds after the head.
    let all = |after| pb::AppendCondition {
        fail_if_events_match: Some(query(&[])),
        after,
    };
    let mut r2 = pb::AppendRequest {
        events: vec![ev("x", &[])],
        condition: Some(all(None)),
        tracking_info: None,
    };
    assert!(matches!(
        s.append(r2.clone()),
        Err(EventError::Integrity(_))
    ));
    r2.condition = Some(all(Some(3)));
    assert_eq!(s.append(r2).unwrap(), 4);
    // An unconditional duplicate UUID is written again.
    assert_eq!(
        s.append(pb::AppendRequest {
            events: vec![first],
            ..Default::default()
        })
        .unwrap(),
        5
    );
}

#[test]
fn tracking_positions_only_increase_and_ride_on_their_events() {
    let (_d, s) = store();
    let t = |p| {
        Some(pb::TrackingInfo {
            source: "upstream".into(),
            position: p,
        })
    };
    assert_eq!(s.tracking("upstream").unwrap(), None);
    let r = pb::AppendRequest {
        events: vec![ev("a", &[]), ev("b", &[])],
        condition: None,
        tracking_info: t(10),
    };
    assert_eq!(s.append(r.clone()).unwrap(), 2);
    assert_eq!(s.tracking("upstream").unwrap(), Some(10));
    assert!(matches!(s.append(r), Err(EventError::Integrity(m)) if m.contains("non-increasing")));
    // An empty append records its tracking and answers 0.
    let empty = pb::AppendRequest {
        events: vec![],
        condition: None,
        tracking_info: t(11),
    };
    assert_eq!(s.append(empty).unwrap(), 0);
    assert_eq!(s.tracking("upstream").unwrap(), Some(11));
    let got = s.find(s.view(), &query(&[]), 1, 9, false, 9).unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|e| e.tracking_info == t(10)));
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let (_d, s) = store();
    let mut bad_uuid = ev("a", &[]);
    bad_uuid.uuid = "not-a-uuid".into();
    assert!(matches!(
        append(&s, vec![ev("ok", &[]), bad_uuid]),
        Err(EventError::Deserialization(_))
    ));
    let mut dup = ev("a", &[]);
    dup.metadata = vec![
        pb::MetadataEntry {
            key: "k".into(),
            value: "1".into(),
        },
        pb::MetadataEntry {
            key: "k".into(),
            value: "2".into(),
        },
    ];
    assert!(matches!(
        append(&s, vec![dup]),
        Err(EventError::InvalidArgument(_))
    ));
    let long = pb::AppendRequest {
        events: vec![ev("a", &[])],
        condition: None,
        tracking_info: Some(pb::TrackingInfo {
            source: "s".repeat(256),
            position: 1,
        }),
    };
    assert!(matches!(
        s.append(long),
        Err(EventError::InvalidArgument(_))
    ));
    assert_eq!(s.head(), None);
    assert_eq!(s.ledger().state().tx_id, 0);
}

#[test]
fn concurrent_appenders_get_gapless_contiguous_positions() {
    let (_d, s) = store();
    let s = Arc::new(s);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                (0..20)
                    .map(|i| {
                        let events = (0..3)
                            .map(|j| ev(&format!("w{t}"), &[&format!("i{i}"), &format!("j{j}")]))
                            .collect();
                        append(&s, events).unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut lasts: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    lasts.sort();
    assert_eq!(lasts, (1..=160).map(|i| i * 3).collect::<Vec<_>>());
    let all = s
        .find(s.view(), &query(&[]), 1, u64::MAX, false, 1000)
        .unwrap();
    assert_eq!(all.len(), 480);
    for chunk in all.chunks(3) {
        let ty = &chunk[0].event.as_ref().unwrap().event_type;
        assert!(
            chunk
                .iter()
                .all(|e| &e.event.as_ref().unwrap().event_type == ty),
            "interleaved"
        );
    }
    assert_eq!(
        positions(&s, &query(&[(&["w3"], &[])]), 1, false, 1000).len(),
        60
    );
    s.ledger().verify().unwrap();
}
