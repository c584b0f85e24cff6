//! The raw ledger API: commits, versioned reads, history, scans, preconditions, bad input,
//! group commit, reopening, several ledgers in one process, and proofs checked as a client would.

use std::sync::Arc;

use stele_ledger::proof::{verify::verify_read, EntrySpec, KvMetadata, State};
use stele_ledger::{
    Commit, HistoryQuery, Ledger, LedgerError, NewEntry, Options, Precondition, ScanQuery,
};

fn open(dir: &tempfile::TempDir) -> Ledger {
    Ledger::open(dir.path().join("db"), Options::default()).unwrap()
}

fn e(k: &str, v: &str) -> NewEntry {
    NewEntry::new(k.as_bytes(), v.as_bytes())
}

#[test]
fn versions_snapshots_and_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    assert_eq!(l.state().tx_id, 0);
    assert!(matches!(l.get(b"a", None), Err(LedgerError::KeyNotFound)));
    let h1 = l.commit(vec![e("a", "1"), e("b", "1")]).unwrap();
    let h2 = l.commit(vec![e("a", "2")]).unwrap();
    let h3 = l.commit(vec![e("a", "3")]).unwrap();
    assert_eq!((h1.id, h2.id, h3.id), (1, 2, 3));
    assert_eq!(h2.prev_alh, h1.alh().unwrap());
    assert_eq!(l.state().alh, h3.alh().unwrap());

    let latest = l.get(b"a", None).unwrap();
    assert_eq!(
        (latest.value.as_slice(), latest.tx, latest.revision),
        (&b"3"[..], 3, 3)
    );
    let old = l.get(b"a", Some(2)).unwrap();
    assert_eq!((old.value.as_slice(), old.revision), (&b"2"[..], 2));
    assert_eq!(l.get(b"b", Some(3)).unwrap().tx, 1);
    assert!(matches!(
        l.get(b"a", Some(9)),
        Err(LedgerError::IllegalArguments(_))
    ));

    assert_eq!(l.get_at_tx(b"a", 2).unwrap().value, b"2");
    assert!(matches!(
        l.get_at_tx(b"b", 2),
        Err(LedgerError::KeyNotFound)
    ));
    assert!(matches!(l.get_at_tx(b"a", 7), Err(LedgerError::TxNotFound)));

    assert_eq!(l.get_at_revision(b"a", 1, None).unwrap().value, b"1");
    assert_eq!(l.get_at_revision(b"a", -1, None).unwrap().value, b"2");
    assert_eq!(l.get_at_revision(b"a", 0, None).unwrap().value, b"3");
    for bad in [4, -3] {
        let err = l.get_at_revision(b"a", bad, None).unwrap_err();
        assert_eq!(err.to_string(), "invalid key revision number");
    }

    let hist = l.history(b"a", &HistoryQuery::default()).unwrap();
    assert_eq!(
        hist.iter().map(|e| (e.tx, e.revision)).collect::<Vec<_>>(),
        vec![(1, 1), (2, 2), (3, 3)]
    );
    let desc = l
        .history(
            b"a",
            &HistoryQuery {
                desc: true,
                offset: 1,
                limit: 1,
                snapshot: None,
            },
        )
        .unwrap();
    assert_eq!(desc[0].value, b"2");
    let at2 = l
        .history(
            b"a",
            &HistoryQuery {
                snapshot: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(at2.len(), 2);
}

#[test]
fn deletes_expiry_and_non_indexable() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    l.commit(vec![e("k", "v"), e("gone", "x")]).unwrap();
    let del = KvMetadata {
        deleted: true,
        ..Default::default()
    };
    l.commit(vec![NewEntry {
        key: b"k".to_vec(),
        metadata: del,
        value: vec![],
    }])
    .unwrap();
    assert!(matches!(l.get(b"k", None), Err(LedgerError::KeyNotFound)));
    assert_eq!(l.get(b"k", Some(1)).unwrap().value, b"v");
    let hist = l.history(b"k", &HistoryQuery::default()).unwrap();
    assert!(hist[1].metadata.deleted && hist[1].value.is_empty());

    let expired = KvMetadata {
        expires_at: Some(1),
        ..Default::default()
    };
    let later = KvMetadata {
        expires_at: Some(u64::MAX / 2),
        ..Default::default()
    };
    l.commit(vec![
        NewEntry {
            key: b"exp".to_vec(),
            metadata: expired,
            value: b"v".to_vec(),
        },
        NewEntry {
            key: b"fresh".to_vec(),
            metadata: later,
            value: b"v".to_vec(),
        },
    ])
    .unwrap();
    assert!(matches!(l.get(b"exp", None), Err(LedgerError::KeyNotFound)));
    assert_eq!(l.get(b"fresh", None).unwrap().metadata, later);

    let hidden = KvMetadata {
        non_indexable: true,
        ..Default::default()
    };
    let h = l
        .commit(vec![NewEntry {
            key: b"gone".to_vec(),
            metadata: hidden,
            value: b"y".to_vec(),
        }])
        .unwrap();
    // Not indexed: reads still see the older version, the tx still holds the entry.
    assert_eq!(l.get(b"gone", None).unwrap().value, b"x");
    assert_eq!(l.tx(h.id).unwrap().entries[0].key, b"gone");
    assert_eq!(l.tx_entry_value(b"gone", h.id).unwrap(), b"y");
    let keys: Vec<_> = l
        .scan(&ScanQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, vec![b"fresh".to_vec(), b"gone".to_vec()]);
}

#[test]
fn scans() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    for (i, k) in ["a1", "a2", "a3", "b1", "a\0z", "a"].iter().enumerate() {
        l.commit(vec![e(k, &i.to_string())]).unwrap();
    }
    l.commit(vec![e("a2", "new")]).unwrap();
    let keys = |q: ScanQuery| -> Vec<String> {
        l.scan(&q)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.key).unwrap())
            .collect()
    };
    let p = |s: &str| s.as_bytes().to_vec();
    assert_eq!(
        keys(ScanQuery {
            prefix: p("a"),
            ..Default::default()
        }),
        ["a", "a\0z", "a1", "a2", "a3"]
    );
    assert_eq!(
        keys(ScanQuery {
            prefix: p("a"),
            desc: true,
            ..Default::default()
        }),
        ["a3", "a2", "a1", "a\0z", "a"]
    );
    assert_eq!(
        keys(ScanQuery {
            prefix: p("a"),
            seek_key: Some(p("a1")),
            ..Default::default()
        }),
        ["a2", "a3"]
    );
    assert_eq!(
        keys(ScanQuery {
            prefix: p("a"),
            seek_key: Some(p("a1")),
            inclusive_seek: true,
            limit: 2,
            ..Default::default()
        }),
        ["a1", "a2"]
    );
    assert_eq!(
        keys(ScanQuery {
            seek_key: Some(p("a3")),
            desc: true,
            end_key: Some(p("a")),
            ..Default::default()
        }),
        ["a2", "a1", "a\0z"]
    );
    assert_eq!(
        keys(ScanQuery {
            end_key: Some(p("a2")),
            inclusive_end: true,
            offset: 2,
            ..Default::default()
        }),
        ["a1", "a2"]
    );
    let at5 = l
        .scan(&ScanQuery {
            prefix: p("a2"),
            snapshot: Some(5),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(at5[0].value, b"1");
    let now = l
        .scan(&ScanQuery {
            prefix: p("a2"),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(now[0].value, b"new");
    assert_eq!(
        keys(ScanQuery {
            prefix: p("zz"),
            ..Default::default()
        }),
        Vec::<String>::new()
    );
}

#[test]
fn preconditions_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    l.commit(vec![e("x", "1")]).unwrap();
    let fails = |pre: Precondition| {
        let r = l.commit_with(Commit {
            entries: vec![e("y", "1")],
            preconditions: vec![pre],
            no_sync: false,
            ..Default::default()
        });
        matches!(r, Err(LedgerError::PreconditionFailed(_)))
    };
    assert!(fails(Precondition::KeyMustExist(b"nope".to_vec())));
    assert!(fails(Precondition::KeyMustNotExist(b"x".to_vec())));
    l.commit(vec![e("x", "2")]).unwrap();
    assert!(fails(Precondition::KeyNotModifiedAfter(b"x".to_vec(), 1)));
    assert_eq!(l.state().tx_id, 2, "failed preconditions wrote nothing");
    assert!(matches!(l.get(b"y", None), Err(LedgerError::KeyNotFound)));
    let ok = Commit {
        entries: vec![e("y", "1")],
        preconditions: vec![
            Precondition::KeyMustExist(b"x".to_vec()),
            Precondition::KeyNotModifiedAfter(b"x".to_vec(), 2),
        ],
        no_sync: true,
        ..Default::default()
    };
    assert_eq!(l.commit_with(ok).unwrap().id, 3);
    // The same check on an entry of the commit, by its position.
    let guarded = |at: u64, entry: usize| {
        l.commit_with(Commit {
            entries: vec![e("q", "1"), e("x", "3")],
            preconditions: vec![Precondition::EntryNotModifiedAfter(entry, at)],
            ..Default::default()
        })
    };
    assert!(
        matches!(guarded(1, 1), Err(LedgerError::PreconditionFailed(m)) if m.contains("was modified after tx 1"))
    );
    assert!(matches!(
        guarded(2, 2),
        Err(LedgerError::IllegalArguments(_))
    ));
    assert_eq!(l.state().tx_id, 3, "failed preconditions wrote nothing");
    assert_eq!(guarded(2, 1).unwrap().id, 4);
    // Entry 1 (`x`) is now written at tx 4: guarding it as of tx 3 fails.
    assert!(matches!(
        guarded(3, 1),
        Err(LedgerError::PreconditionFailed(_))
    ));
}

#[test]
fn bad_input_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(
        dir.path(),
        Options {
            max_tx_entries: 4,
            max_key_len: 8,
            max_value_len: 16,
            ..Default::default()
        },
    )
    .unwrap();
    let cases: Vec<(Vec<NewEntry>, &str)> = vec![
        (vec![], "at least one entry"),
        (
            (0..5).map(|i| e(&format!("k{i}"), "v")).collect(),
            "max number of entries per tx exceeded",
        ),
        (vec![e("", "v")], "empty key"),
        (vec![e("012345678", "v")], "max key length exceeded"),
        (vec![e("k", &"v".repeat(17))], "max value length exceeded"),
        (vec![e("k", "1"), e("k", "2")], "duplicate key"),
    ];
    for (entries, want) in cases {
        let err = l.commit(entries).unwrap_err();
        assert!(err.to_string().contains(want), "{err} should say {want}");
    }
    assert_eq!(l.state().tx_id, 0);
    assert!(l.scan(&ScanQuery::default()).unwrap().is_empty());
}

#[test]
fn group_commit_keeps_ids_consecutive() {
    let dir = tempfile::tempdir().unwrap();
    let l = Arc::new(open(&dir));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let l = Arc::clone(&l);
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| l.commit(vec![e(&format!("t{t}-{i}"), "v")]).unwrap().id)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, (1..=400).collect::<Vec<_>>());
    assert_eq!(l.verify().unwrap().txs, 400);
}

#[test]
fn reopen_and_several_ledgers() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    {
        let la = Ledger::open(&a, Options::default()).unwrap();
        let lb = Ledger::open(&b, Options::default()).unwrap();
        la.commit(vec![e("k", "a1")]).unwrap();
        la.commit(vec![e("k", "a2")]).unwrap();
        lb.commit(vec![e("k", "b1")]).unwrap();
        assert_eq!((la.state().tx_id, lb.state().tx_id), (2, 1));
        assert_ne!(la.state().alh, lb.state().alh);
    }
    let la = Ledger::open(&a, Options::default()).unwrap();
    let before = la.state();
    assert_eq!(before.tx_id, 2);
    assert_eq!(la.get(b"k", None).unwrap().value, b"a2");
    let h = la.commit(vec![e("k", "a3")]).unwrap();
    assert_eq!((h.id, h.prev_alh), (3, before.alh));
    la.verify().unwrap();
}

#[test]
fn proofs_verify_as_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    for i in 0..40u32 {
        l.commit(
            (0..1 + i % 5)
                .map(|j| e(&format!("k{i}-{j}"), &format!("v{i}")))
                .collect(),
        )
        .unwrap();
    }
    let client = State {
        db: "db".into(),
        tx_id: 7,
        tx_hash: l.header(7).unwrap().alh().unwrap(),
    };
    for (vtx, key) in [(12u64, "k11-0"), (40, "k39-4"), (3, "k2-2"), (7, "k6-1")] {
        let entry = l.get_at_tx(key.as_bytes(), vtx).unwrap();
        let p = l.entry_proof(vtx, key.as_bytes()).unwrap();
        let dual = if client.tx_id <= vtx {
            l.dual_proof(client.tx_id, vtx)
        } else {
            l.dual_proof(vtx, client.tx_id)
        }
        .unwrap();
        let spec = EntrySpec {
            key: entry.key.clone(),
            metadata: entry.metadata,
            value: entry.value.clone(),
        };
        let new = verify_read(&client, &spec, vtx, &p.inclusion, &dual).unwrap();
        assert_eq!(new.tx_id, vtx.max(client.tx_id));
        let forged = EntrySpec {
            value: b"forged".to_vec(),
            ..spec
        };
        assert!(verify_read(&client, &forged, vtx, &p.inclusion, &dual).is_err());
    }
    assert!(matches!(l.dual_proof(5, 41), Err(LedgerError::TxNotFound)));
    assert!(matches!(
        l.dual_proof(9, 5),
        Err(LedgerError::IllegalArguments(_))
    ));
    assert!(matches!(
        l.entry_proof(5, b"nope"),
        Err(LedgerError::KeyNotFound)
    ));
}

#[test]
fn big_transactions_prove_every_entry() {
    // Widths around powers of two (where the htree's shape changes) up to the largest tx.
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    let widths = [255usize, 256, 257, 511, 512, 513, 1000, 1024];
    for (t, &n) in widths.iter().enumerate() {
        let entries = (0..n)
            .map(|i| NewEntry {
                key: format!("t{t}-{i:05}").into_bytes(),
                // A few entries carry metadata, so that its bytes are hashed on both threads.
                metadata: KvMetadata {
                    non_indexable: i % 97 == 3,
                    ..Default::default()
                },
                value: vec![i as u8; i % 70],
            })
            .collect();
        l.commit(entries).unwrap();
    }
    l.verify().unwrap();
    let last = widths.len() as u64;
    let client = State {
        db: "db".into(),
        tx_id: last,
        tx_hash: l.state().alh,
    };
    for (t, &n) in widths.iter().enumerate() {
        let tx = t as u64 + 1;
        assert_eq!(l.header(tx).unwrap().nentries as usize, n);
        let split = n.next_power_of_two() / 2;
        for i in [0, split - 1, split.min(n - 1), n - 1] {
            let key = format!("t{t}-{i:05}").into_bytes();
            let p = l.entry_proof(tx, &key).unwrap();
            let spec = EntrySpec {
                key,
                metadata: KvMetadata {
                    non_indexable: i % 97 == 3,
                    ..Default::default()
                },
                value: vec![i as u8; i % 70],
            };
            let dual = l.dual_proof(tx, last).unwrap();
            verify_read(&client, &spec, tx, &p.inclusion, &dual)
                .unwrap_or_else(|e| panic!("tx of {n} entries, entry {i}: {e}"));
        }
    }
}

#[test]
fn index_entries_are_versioned_unhashed_and_back_filled() {
    use stele_ledger::IndexEntry;
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(dir.path(), Options::default()).unwrap();
    let ie = |k: &str, deleted: bool, at: Option<u64>| IndexEntry {
        key: k.as_bytes().to_vec(),
        deleted,
        at,
    };
    let commit = |entries: Vec<NewEntry>, index_entries: Vec<IndexEntry>| {
        l.commit_with(Commit {
            entries,
            index_entries,
            ..Default::default()
        })
    };
    let h1 = commit(vec![e("r1", "a")], vec![ie("i.a.r1", false, None)]).unwrap();
    let h2 = commit(
        vec![e("r1", "b")],
        vec![ie("i.a.r1", true, None), ie("i.b.r1", false, None)],
    )
    .unwrap();
    // Index entries are not part of the hashed tx: the tx has one entry.
    assert_eq!(h2.nentries, 1);
    let live = |snapshot: u64, prefix: &str| -> Vec<String> {
        l.index_scan(&ScanQuery {
            prefix: prefix.as_bytes().to_vec(),
            snapshot: Some(snapshot),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8(e.key).unwrap())
        .collect()
    };
    assert_eq!(live(h1.id, "i."), ["i.a.r1"]);
    assert_eq!(live(h2.id, "i."), ["i.b.r1"]);
    // Back-filling writes versions at older txs: time travel sees them.
    commit(
        vec![e("x", "1")],
        vec![
            ie("j.a.r1", false, Some(h1.id)),
            ie("j.a.r1", true, Some(h2.id)),
        ],
    )
    .unwrap();
    assert_eq!(live(h1.id, "j."), ["j.a.r1"]);
    assert!(live(h2.id, "j.").is_empty());
    // A back-fill cannot name a future tx.
    assert!(commit(vec![e("x", "2")], vec![ie("k", false, Some(99))]).is_err());
    // Verification is unaffected by index entries.
    l.verify().unwrap();
    // for_each_version replays a key's versions oldest first.
    let mut seen = Vec::new();
    l.for_each_version(b"r", l.state().tx_id, |k, tx, _, v| {
        seen.push((String::from_utf8_lossy(k).into_owned(), tx, v.to_vec()));
        Ok::<(), LedgerError>(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [
            ("r1".to_string(), 1, b"a".to_vec()),
            ("r1".to_string(), 2, b"b".to_vec())
        ]
    );
}

#[test]
fn prefix_and_unique_index_preconditions() {
    use stele_ledger::IndexEntry;
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(dir.path(), Options::default()).unwrap();
    let h1 = l.commit(vec![e("t.1", "a")]).unwrap();
    let since = |p: &str, tx: u64| Precondition::NoWriteUnderSince(p.as_bytes().to_vec(), tx);
    let with = |pre: Precondition, idx: Vec<IndexEntry>| {
        l.commit_with(Commit {
            entries: vec![e("other", "x")],
            preconditions: vec![pre],
            index_entries: idx,
            ..Default::default()
        })
    };
    assert!(with(since("t.", h1.id), vec![]).is_ok());
    l.commit(vec![e("t.2", "b")]).unwrap();
    assert!(matches!(
        with(since("t.", h1.id), vec![]),
        Err(LedgerError::PreconditionFailed(_))
    ));
    // Watched prefixes answer from memory, the same way.
    l.watch_prefix(b"c.").unwrap();
    let now = l.state().tx_id;
    assert!(with(since("c.", now), vec![]).is_ok());
    l.commit(vec![e("c.1", "x")]).unwrap();
    assert!(with(since("c.", now), vec![]).is_err());

    let entry = |k: &str| IndexEntry {
        key: k.as_bytes().to_vec(),
        deleted: false,
        at: None,
    };
    let free = |p: &str, own: &str| {
        Precondition::IndexPrefixFree(p.as_bytes().to_vec(), own.as_bytes().to_vec())
    };
    assert!(with(free("u.v1.", "u.v1.r1"), vec![entry("u.v1.r1")]).is_ok());
    // The row's own entry does not count; another row's does.
    assert!(with(free("u.v1.", "u.v1.r1"), vec![]).is_ok());
    assert!(with(free("u.v1.", "u.v1.r2"), vec![entry("u.v1.r2")]).is_err());
    assert!(with(free("u.v2.", "u.v2.r2"), vec![entry("u.v2.r2")]).is_ok());
}

#[test]
fn a_watch_of_writes_only_knows_no_greatest_key_until_asked() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    l.commit(vec![e("w.b", "1")]).unwrap();
    l.watch_writes(b"w.").unwrap();
    let watched_at = l.last_write_under(b"w.").unwrap();
    assert_eq!(watched_at, l.state().tx_id);
    // Nothing is known absent: the greatest key was not looked for.
    assert!(!l.never_written(b"w.z"));
    // Writes after the watch are tracked, and found when the greatest key is asked for.
    let tx = l.commit(vec![e("w.c", "2"), e("x.a", "3")]).unwrap();
    assert_eq!(l.last_write_under(b"w."), Some(tx.id));
    assert_eq!(l.watch_greatest_key(b"w.").unwrap(), Some(b"w.c".to_vec()));
    assert!(l.never_written(b"w.d") && !l.never_written(b"w.c"));
    // From then on the watch keeps it up to date.
    l.commit(vec![e("w.e", "4")]).unwrap();
    assert!(!l.never_written(b"w.d") && l.never_written(b"w.f"));
    // Which txs wrote under a prefix, from their records.
    assert!(l.tx_writes_under(tx.id, b"w.").unwrap());
    assert!(l.tx_writes_under(tx.id, b"x.a").unwrap());
    assert!(!l.tx_writes_under(tx.id, b"v.").unwrap());
    assert!(l.tx_writes_under(tx.id + 100, b"w.").is_err());
    // Watching with the greatest key first, then writes only: nothing is forgotten.
    l.watch_prefix(b"v.").unwrap();
    l.watch_writes(b"v.").unwrap();
    assert!(l.never_written(b"v.a"));
}

#[test]
fn watched_prefixes_answer_absence_and_conflicts_without_reads() {
    let dir = tempfile::tempdir().unwrap();
    {
        let l = open(&dir);
        l.commit(vec![e("w.b", "1"), e("w.d\0x", "2"), e("x.z", "3")])
            .unwrap();
    }
    // Reopened, watching finds the greatest key written under the prefix on disk.
    let l = open(&dir);
    assert!(!l.never_written(b"w.a"), "unwatched: unknown");
    l.watch_prefix(b"w.").unwrap();
    for (k, never) in [
        ("w.a", false), // below the greatest key: unknown, though absent
        ("w.d\0x", false),
        ("w.d\0y", true),
        ("w.e", true),
        ("x.zz", false), // not under the prefix
    ] {
        assert_eq!(l.never_written(k.as_bytes()), never, "{k:?}");
    }
    // Nested prefixes: each answers for its keys.
    l.watch_prefix(b"w.d").unwrap();
    assert!(!l.never_written(b"w.d\0x") && l.never_written(b"w.d\0y"));
    assert_eq!(l.last_write_under(b"w.d"), l.last_write_under(b"w."));
    // A delete counts as a write.
    l.commit_with(Commit {
        entries: vec![NewEntry {
            metadata: KvMetadata {
                deleted: true,
                ..Default::default()
            },
            ..e("w.f", "")
        }],
        ..Default::default()
    })
    .unwrap();
    assert!(!l.never_written(b"w.f") && l.never_written(b"w.g"));

    let pre = |p: Vec<Precondition>, entries: Vec<NewEntry>| {
        l.commit_with(Commit {
            entries,
            preconditions: p,
            ..Default::default()
        })
    };
    let not_modified = |k: &str, tx| Precondition::KeyNotModifiedAfter(k.as_bytes().into(), tx);
    let must_not = |k: &str| Precondition::KeyMustNotExist(k.as_bytes().into());
    // Keys above the greatest: absent, whatever was written meanwhile elsewhere.
    assert!(pre(vec![must_not("w.h")], vec![e("w.h", "1")]).is_ok());
    assert!(pre(vec![must_not("w.h")], vec![e("w.h", "2")]).is_err());
    // ... and a key that must exist there fails without a read.
    let must = |k: &str| Precondition::KeyMustExist(k.as_bytes().into());
    assert!(pre(vec![must("w.zz")], vec![e("x.1", "1")]).is_err());
    assert!(pre(vec![must("w.h")], vec![e("x.1", "1")]).is_ok());
    // Not modified after tx s: a write under the prefix since s forces a read, which tells a
    // write of another key (no conflict) from a write of this one (conflict).
    let s = l.state().tx_id;
    assert!(pre(vec![not_modified("w.b", s)], vec![e("w.i", "1")]).is_ok());
    l.commit(vec![e("w.j", "1")]).unwrap();
    assert!(pre(vec![not_modified("w.b", s)], vec![e("w.k", "1")]).is_ok());
    l.commit(vec![e("w.b", "again")]).unwrap();
    assert!(pre(vec![not_modified("w.b", s)], vec![e("w.k", "2")]).is_err());
    // Within one group, an earlier tx's write is seen by a later tx's precondition.
    let s = l.state().tx_id;
    let results: Vec<_> = std::thread::scope(|scope| {
        let a = scope.spawn(|| pre(vec![not_modified("w.m", s)], vec![e("w.m", "a")]));
        let b = scope.spawn(|| pre(vec![not_modified("w.m", s)], vec![e("w.m", "b")]));
        [a.join().unwrap(), b.join().unwrap()]
    })
    .into_iter()
    .collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one of two writers of a fresh key wins: {results:?}"
    );
}

#[test]
fn range_preconditions_catch_phantoms_only() {
    use stele_ledger::KeySpan;
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    l.commit(vec![e("r.1", "a"), e("r.5", "b")]).unwrap();
    let span = |prefix: &str| KeySpan {
        prefix: prefix.as_bytes().to_vec(),
        lo: Some((format!("{prefix}3").into_bytes(), true)),
        hi: Some((format!("{prefix}7").into_bytes(), false)),
    };
    let with = |p: &str, since| {
        l.commit_with(Commit {
            entries: vec![e("other", "x")],
            preconditions: vec![Precondition::NoWriteInRangeSince(span(p), since)],
            ..Default::default()
        })
    };
    for watched in [false, true] {
        let p = if watched { "w." } else { "r." };
        if watched {
            l.watch_prefix(b"w.").unwrap();
        }
        let s = l.state().tx_id;
        assert!(with(p, s).is_ok(), "no write since");
        // Writes outside the span, or at its open end, are no phantoms.
        l.commit(vec![e(&format!("{p}9"), "c"), e(&format!("{p}7"), "c")])
            .unwrap();
        assert!(with(p, s).is_ok(), "writes outside the span");
        // A write inside is.
        l.commit(vec![e(&format!("{p}3"), "d")]).unwrap();
        assert!(
            matches!(with(p, s), Err(LedgerError::PreconditionFailed(_))),
            "a write inside the span (watched: {watched})"
        );
        assert!(with(p, l.state().tx_id).is_ok());
    }
}

/// `visit` (the SQL and event stores' forward scan) answers as `scan` does, over keys chosen to
/// stress its escaped comparisons: 0x00 and 0xFF bytes, keys that are prefixes of others,
/// several versions and deletes, bounds inclusive and not, at every snapshot.
#[test]
fn visit_answers_as_scan() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    let keys: Vec<Vec<u8>> = vec![
        b"p".to_vec(),
        b"p\x00".to_vec(),
        b"p\x00\x00".to_vec(),
        b"p\x00\x01".to_vec(),
        b"p\x00\xff".to_vec(),
        b"p\x01".to_vec(),
        b"pa".to_vec(),
        b"pa\x00b".to_vec(),
        b"pab".to_vec(),
        b"p\xff".to_vec(),
        b"p\xff\xff".to_vec(),
        b"q".to_vec(),
        b"\xff".to_vec(),
        b"\xff\xff\x00".to_vec(),
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let mut last = 0;
    for round in 0..12 {
        let mut entries = Vec::new();
        for k in &keys {
            if next(3) == 0 {
                continue;
            }
            // Only a live key can be deleted.
            let deleted = round > 0 && next(4) == 0;
            if deleted && l.get(k, None).is_err() {
                continue;
            }
            entries.push(NewEntry {
                key: k.clone(),
                metadata: KvMetadata {
                    deleted,
                    ..Default::default()
                },
                value: format!("{round}").into_bytes(),
            });
        }
        if !entries.is_empty() {
            last = l.commit(entries).unwrap().id;
        }
    }
    let bounds: Vec<Option<Vec<u8>>> = std::iter::once(None)
        .chain(keys.iter().cloned().map(Some))
        .chain([Some(b"p\x00\x00\x00".to_vec()), Some(b"pa\x00".to_vec())])
        .collect();
    let mut checked = 0;
    for prefix in [&b""[..], b"p", b"p\x00", b"pa", b"\xff", b"\xff\xff"] {
        for seek in &bounds {
            for end in &bounds {
                for (inclusive_seek, inclusive_end) in [(true, true), (false, false), (true, false)]
                {
                    let snapshot = 1 + next(last);
                    let q = ScanQuery {
                        prefix: prefix.to_vec(),
                        seek_key: seek.clone(),
                        inclusive_seek,
                        end_key: end.clone(),
                        inclusive_end,
                        snapshot: Some(snapshot),
                        ..Default::default()
                    };
                    let want: Vec<(Vec<u8>, u64, Vec<u8>)> = l
                        .scan(&q)
                        .unwrap()
                        .into_iter()
                        .map(|e| (e.key, e.tx, e.value))
                        .collect();
                    let mut got = Vec::new();
                    l.visit(&q, checked % 2 == 0, |k, tx, v| {
                        got.push((k.to_vec(), tx, v.to_vec()));
                        true
                    })
                    .unwrap();
                    assert_eq!(got, want, "{q:?}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000);
}
