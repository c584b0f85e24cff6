//! immudb's key/value model: plain values, references, sorted sets, deletes, error texts.

use stele_ledger::kv::{KvOp, ReadAt, ZScanQuery};
use stele_ledger::proof::KvMetadata;
use stele_ledger::{HistoryQuery, Ledger, LedgerError, Options, ScanQuery};

fn open(dir: &tempfile::TempDir) -> Ledger {
    Ledger::open(dir.path(), Options::default()).unwrap()
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

#[test]
fn set_get_delete_and_stored_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    let h = l.kv().set(kv(&[("a", "1"), ("b", "2")])).unwrap();
    assert_eq!(h.nentries, 2);
    let tx = l.tx(h.id).unwrap();
    assert_eq!(
        tx.entries[0].key, b"\0a",
        "stored keys carry the 0x00 prefix"
    );
    assert_eq!(
        l.tx_entry_value(b"\0a", h.id).unwrap(),
        b"\0\x31",
        "stored values carry 0x00"
    );
    assert_eq!(l.kv().get(b"a", ReadAt::Latest).unwrap().value, b"1");
    assert_eq!(
        l.kv()
            .get_all(&[b"a".to_vec(), b"zz".to_vec(), b"b".to_vec()])
            .unwrap()
            .len(),
        2
    );

    let d = l.kv().delete(vec![b"a".to_vec()]).unwrap();
    assert_eq!(
        l.tx_entry_value(b"\0a", d.id).unwrap(),
        b"",
        "a delete stores an empty, unprefixed value"
    );
    assert_eq!(
        l.kv().get(b"a", ReadAt::Latest).unwrap_err().to_string(),
        "key not found"
    );
    assert_eq!(
        l.kv().delete(vec![b"a".to_vec()]).unwrap_err().to_string(),
        "key not found"
    );
    let hist = l.kv().history(b"a", &HistoryQuery::default()).unwrap();
    assert!(hist[1].metadata.deleted && hist[1].value.is_empty());
    assert_eq!(l.kv().get(b"a", ReadAt::AtTx(h.id)).unwrap().value, b"1");
    assert_eq!(l.kv().get(b"b", ReadAt::SinceTx(d.id)).unwrap().value, b"2");
    assert!(l.kv().set(kv(&[("", "x")])).is_err());
    assert!(matches!(
        l.kv().exec_all(
            vec![KvOp::Set {
                key: b"x".to_vec(),
                value: vec![],
                metadata: KvMetadata {
                    deleted: true,
                    ..Default::default()
                }
            }],
            false
        ),
        Err(LedgerError::IllegalArguments(_))
    ));
}

#[test]
fn revisions_and_error_texts() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    for v in ["1", "2", "3"] {
        l.kv().set(kv(&[("k", v)])).unwrap();
    }
    assert_eq!(l.kv().get(b"k", ReadAt::AtRevision(1)).unwrap().value, b"1");
    assert_eq!(
        l.kv().get(b"k", ReadAt::AtRevision(-2)).unwrap().value,
        b"1"
    );
    assert_eq!(l.kv().get(b"k", ReadAt::Latest).unwrap().revision, 3);
    assert_eq!(
        l.kv()
            .get(b"k", ReadAt::AtRevision(5))
            .unwrap_err()
            .to_string(),
        "invalid key revision number"
    );
    assert_eq!(l.tx(99).unwrap_err().to_string(), "tx not found");
}

#[test]
fn references() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    let h1 = l.kv().set(kv(&[("target", "v1")])).unwrap();
    l.kv().set(kv(&[("target", "v2")])).unwrap();
    let r = l.kv().set_reference(b"ref", b"target", 0, false).unwrap();
    let stored = l.tx_entry_value(b"\0ref", r.id).unwrap();
    assert_eq!(
        stored,
        [&[1u8][..], &0u64.to_be_bytes(), b"\0target"].concat()
    );
    let got = l.kv().get(b"ref", ReadAt::Latest).unwrap();
    assert_eq!(
        (got.key.as_slice(), got.value.as_slice()),
        (&b"target"[..], &b"v2"[..])
    );
    let by = got.referenced_by.unwrap();
    assert_eq!((by.key.as_slice(), by.tx, by.at_tx), (&b"ref"[..], r.id, 0));

    l.kv()
        .set_reference(b"bound", b"target", h1.id, true)
        .unwrap();
    assert_eq!(l.kv().get(b"bound", ReadAt::Latest).unwrap().value, b"v1");
    // Unbound references follow the target.
    l.kv().set(kv(&[("target", "v3")])).unwrap();
    assert_eq!(l.kv().get(b"ref", ReadAt::Latest).unwrap().value, b"v3");
    let scanned = l.kv().scan(&ScanQuery::default()).unwrap();
    assert_eq!(scanned.len(), 3);

    assert!(l.kv().set_reference(b"r2", b"missing", 0, false).is_err());
    assert!(
        l.kv().set_reference(b"r2", b"ref", 0, false).is_err(),
        "no reference to a reference"
    );
    assert!(l.kv().set_reference(b"target", b"bound", 0, false).is_err());
    assert!(
        l.kv().set_reference(b"r2", b"target", 1, false).is_err(),
        "atTx needs boundRef"
    );
    assert!(l.kv().set_reference(b"r2", b"target", 0, true).is_err());
    // A reference may name a key set in the same request.
    l.kv()
        .exec_all(
            vec![
                KvOp::Set {
                    key: b"new".to_vec(),
                    value: b"n".to_vec(),
                    metadata: KvMetadata::default(),
                },
                KvOp::Ref {
                    key: b"r3".to_vec(),
                    referenced_key: b"new".to_vec(),
                    at_tx: 0,
                    bound: false,
                },
            ],
            false,
        )
        .unwrap();
    assert_eq!(l.kv().get(b"r3", ReadAt::Latest).unwrap().value, b"n");
}

#[test]
fn sorted_sets() {
    let dir = tempfile::tempdir().unwrap();
    let l = open(&dir);
    l.kv()
        .set(kv(&[("a", "A"), ("b", "B"), ("c", "C")]))
        .unwrap();
    l.kv().zadd(b"s", 2.0, b"b", 0, false).unwrap();
    l.kv().zadd(b"s", 1.0, b"a", 0, false).unwrap();
    let z = l.kv().zadd(b"s", 3.5, b"c", 0, false).unwrap();
    l.kv().zadd(b"other", 1.0, b"a", 0, false).unwrap();
    let stored = &l.tx(z.id).unwrap().entries[0];
    assert_eq!(stored.key, stele_ledger::kv::zset_key(b"s", 3.5, b"c", 0));
    assert_eq!(stored.v_len, 0);

    let keys = |q: ZScanQuery| {
        l.kv()
            .zscan(&q)
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect::<Vec<_>>()
    };
    let set = |q: ZScanQuery| ZScanQuery {
        set: b"s".to_vec(),
        ..q
    };
    assert_eq!(keys(set(ZScanQuery::default())), [b"a", b"b", b"c"]);
    assert_eq!(
        keys(set(ZScanQuery {
            desc: true,
            limit: 2,
            ..Default::default()
        })),
        [b"c", b"b"]
    );
    assert_eq!(
        keys(set(ZScanQuery {
            min_score: Some(1.5),
            max_score: Some(3.0),
            ..Default::default()
        })),
        [b"b"]
    );
    assert_eq!(
        keys(set(ZScanQuery {
            seek_key: Some(b"a".to_vec()),
            seek_score: 1.0,
            ..Default::default()
        })),
        [b"b", b"c"]
    );
    let first = &l.kv().zscan(&set(ZScanQuery::default())).unwrap()[0];
    assert_eq!(
        (first.score, first.entry.value.as_slice()),
        (1.0, &b"A"[..])
    );

    assert!(l.kv().zadd(b"s", 1.0, b"missing", 0, false).is_err());
    assert!(l.kv().zadd(b"s", f64::NAN, b"a", 0, false).is_err());
}
