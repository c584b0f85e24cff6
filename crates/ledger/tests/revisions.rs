//! Revisions are stored at commit: every indexable version of a key is numbered 1, 2, ...
//! in tx order, also when concurrent committers' txs share a commit group and write the same
//! keys, and a data directory of format 1 (no stored revisions) is numbered when opened.

use std::sync::Arc;

use stele_ledger::format::{self, CF_AHT, CF_IDX, CF_KV, CF_REV, CF_TX};
use stele_ledger::rocksdb::{ColumnFamilyDescriptor, Options as DbOptions, DB};
use stele_ledger::{HistoryQuery, Ledger, NewEntry, Options, ScanQuery};

const KEYS: [&[u8]; 5] = [b"k0", b"k1", b"k\x002", b"k3", b"k4"];

/// What a key's versions must say, recomputed from its history: revisions 1..n in tx order,
/// each version's stored revision as `get_at_tx` reads it, and the newest at `get` and in a
/// scan.
fn check_numbering(l: &Ledger) {
    for key in KEYS {
        let hist = l.history(key, &HistoryQuery::default()).unwrap();
        let revisions: Vec<u64> = hist.iter().map(|e| e.revision).collect();
        let expected: Vec<u64> = (1..=hist.len() as u64).collect();
        assert_eq!(revisions, expected, "key {key:?}");
        assert!(hist.windows(2).all(|w| w[0].tx < w[1].tx));
        for e in &hist {
            assert_eq!(l.get_at_tx(key, e.tx).unwrap().revision, e.revision);
            // As of its own tx, a version is the newest.
            if !e.metadata.deleted {
                assert_eq!(l.get(key, Some(e.tx)).unwrap().revision, e.revision);
            }
        }
        if let Some(last) = hist.last() {
            let n = hist.len() as i64;
            assert_eq!(l.get_at_revision(key, 0, None).unwrap().tx, last.tx);
            assert_eq!(l.get_at_revision(key, 1, None).unwrap().tx, hist[0].tx);
            assert_eq!(l.get_at_revision(key, 1 - n, None).unwrap().tx, hist[0].tx);
            let scanned = l
                .scan(&ScanQuery {
                    prefix: key.to_vec(),
                    include_deleted: true,
                    ..Default::default()
                })
                .unwrap();
            let found = scanned.iter().find(|e| e.key == key).unwrap();
            assert_eq!((found.tx, found.revision), (last.tx, last.revision));
        }
    }
}

fn entry(key: &[u8], n: u64) -> NewEntry {
    let mut e = NewEntry::new(key, n.to_be_bytes());
    match n % 7 {
        // Not indexed: no revision of its own, not counted.
        3 => e.metadata.non_indexable = true,
        5 => e.metadata.deleted = true,
        _ => {}
    }
    e
}

/// Commits from `threads` threads at once, each tx writing a varying subset of `KEYS`.
fn write_concurrently(l: &Arc<Ledger>, threads: u64, per_thread: u64) {
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let n = t * 1_000_003 + i * 7919;
                    let entries: Vec<NewEntry> = KEYS
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| (n >> j) & 1 == 1 || *j as u64 == n % 5)
                        .map(|(_, k)| entry(k, n))
                        .collect();
                    l.commit(entries).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn concurrent_committers_number_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let l = Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    write_concurrently(&l, 6, 150);
    check_numbering(&l);
    // A non-indexable version has no revision.
    let tx = l.commit(vec![entry(b"k1", 3)]).unwrap().id;
    assert_eq!(l.get_at_tx(b"k1", tx).unwrap().revision, 0);
    drop(l);
    // Numbering goes on after a reopen.
    let l = Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let before = l.history(b"k0", &HistoryQuery::default()).unwrap().len() as u64;
    l.commit(vec![NewEntry::new(&b"k0"[..], &b"again"[..])])
        .unwrap();
    assert_eq!(l.get(b"k0", None).unwrap().revision, before + 1);
    write_concurrently(&l, 3, 40);
    check_numbering(&l);
}

fn raw_db(dir: &std::path::Path) -> DB {
    let cfs = [CF_TX, CF_KV, CF_AHT, CF_IDX, CF_REV]
        .map(|n| ColumnFamilyDescriptor::new(n, DbOptions::default()));
    DB::open_cf_descriptors(&DbOptions::default(), dir, cfs).unwrap()
}

/// Rewrites a ledger's RocksDB as format 1 wrote it: kv records without revisions, no `rev`
/// family entries, format key 1.
fn downgrade_to_format_1(dir: &std::path::Path) {
    let db = raw_db(dir);
    let kv = db.cf_handle(CF_KV).unwrap();
    let rev = db.cf_handle(CF_REV).unwrap();
    let mut records = Vec::new();
    let mut it = db.raw_iterator_cf(kv);
    it.seek_to_first();
    while let (Some(k), Some(v)) = (it.key(), it.value()) {
        assert_eq!(v[0] & 0x80, 0x80, "a format 2 record carries its revision");
        let mdlen = (v[0] & 0x7F) as usize;
        let mut old = vec![mdlen as u8];
        old.extend_from_slice(&v[1..1 + mdlen]);
        old.extend_from_slice(&v[1 + mdlen + 8..]);
        records.push((k.to_vec(), old));
        it.next();
    }
    drop(it);
    for (k, v) in records {
        db.put_cf(kv, k, v).unwrap();
    }
    let mut it = db.raw_iterator_cf(rev);
    it.seek_to_first();
    let mut counters = Vec::new();
    while let Some(k) = it.key() {
        counters.push(k.to_vec());
        it.next();
    }
    drop(it);
    assert!(!counters.is_empty());
    for k in counters {
        db.delete_cf(rev, k).unwrap();
    }
    db.put(format::FORMAT_KEY, 1u32.to_be_bytes()).unwrap();
}

#[test]
fn format_1_directory_is_numbered_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let l = Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
        write_concurrently(&l, 2, 60);
        KEYS.map(|k| l.history(k, &HistoryQuery::default()).unwrap())
    };
    downgrade_to_format_1(dir.path());
    let l = Ledger::open(dir.path(), Options::default()).unwrap();
    for (key, hist) in KEYS.iter().zip(&expected) {
        let now = l.history(key, &HistoryQuery::default()).unwrap();
        let pairs = |h: &[stele_ledger::Entry]| {
            h.iter()
                .map(|e| (e.tx, e.revision, e.value.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(&now), pairs(hist));
    }
    check_numbering(&l);
    l.verify().unwrap();
    let newest = l.get_at_revision(b"k3", 0, None).unwrap().revision;
    l.commit(vec![NewEntry::new(&b"k3"[..], &b"after"[..])])
        .unwrap();
    assert_eq!(l.get(b"k3", None).unwrap().revision, newest + 1);
    drop(l);
    let db = raw_db(dir.path());
    assert_eq!(
        db.get(format::FORMAT_KEY).unwrap().unwrap(),
        format::FORMAT_VERSION.to_be_bytes()
    );
}

#[test]
fn unnumbered_commits_are_counted_when_read() {
    use stele_ledger::Commit;
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(dir.path(), Options::default()).unwrap();
    let mut txs = Vec::new();
    for i in 0..4u64 {
        let mut e = NewEntry::new(&b"row"[..], i.to_be_bytes());
        e.metadata.deleted = i == 1;
        let commit = Commit {
            entries: vec![e, entry(b"k0", 3)],
            unnumbered: true,
            ..Default::default()
        };
        txs.push(l.commit_with(commit).unwrap().id);
    }
    assert_eq!(l.get(b"row", None).unwrap().revision, 4);
    assert_eq!(l.get(b"row", Some(txs[2])).unwrap().revision, 3);
    for (i, tx) in txs.iter().enumerate() {
        assert_eq!(l.get_at_tx(b"row", *tx).unwrap().revision, i as u64 + 1);
        assert_eq!(
            l.get_at_revision(b"row", i as i64 + 1, None).unwrap().tx,
            *tx
        );
    }
    assert_eq!(l.get_at_revision(b"row", -3, None).unwrap().revision, 1);
    let hist = l.history(b"row", &HistoryQuery::default()).unwrap();
    assert_eq!(
        hist.iter().map(|e| e.revision).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    // A scan reports what is stored: 0 for an unnumbered version.
    let scanned = l
        .scan(&ScanQuery {
            prefix: b"row".to_vec(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!((scanned.len(), scanned[0].revision), (1, 0));
}
