//! Tampering: changing any stored byte directly in RocksDB (a value, a key, a header byte, an
//! AHT node) makes `verify` fail, and the error names the tx.

use stele_ledger::format::{self, CF_AHT, CF_IDX, CF_KV, CF_REV, CF_TX};
use stele_ledger::rocksdb::{ColumnFamilyDescriptor, Options as DbOptions, DB};
use stele_ledger::{Ledger, LedgerError, NewEntry, Options};

fn build(dir: &std::path::Path) {
    let ledger = Ledger::open(dir, Options::default()).unwrap();
    for i in 0..30u32 {
        let entries = (0..1 + i % 4)
            .map(|j| {
                NewEntry::new(
                    format!("\0key-{i}-{j}").into_bytes(),
                    format!("\0value {i} {j}").into_bytes(),
                )
            })
            .collect();
        ledger.commit(entries).unwrap();
    }
    ledger.verify().unwrap();
}

fn raw_db(dir: &std::path::Path) -> DB {
    let cfs = [CF_TX, CF_KV, CF_AHT, CF_IDX, CF_REV]
        .map(|n| ColumnFamilyDescriptor::new(n, DbOptions::default()));
    DB::open_cf_descriptors(&DbOptions::default(), dir, cfs).unwrap()
}

/// Builds a ledger, lets `tamper` change its RocksDB, and returns the tx `verify` names.
fn tampered(tamper: impl FnOnce(&DB)) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    {
        let db = raw_db(dir.path());
        tamper(&db);
    }
    let ledger = Ledger::open(dir.path(), Options::default()).unwrap();
    match ledger.verify() {
        Err(LedgerError::VerificationFailed { tx, what }) => {
            println!("detected at tx {tx}: {what}");
            tx
        }
        other => panic!("tampering not detected: {other:?}"),
    }
}

fn flip(db: &DB, cf: &str, key: &[u8], at: impl Fn(usize) -> usize) {
    let cf = db.cf_handle(cf).unwrap();
    let mut v = db.get_cf(cf, key).unwrap().expect("stored");
    let i = at(v.len());
    v[i] ^= 0x01;
    db.put_cf(cf, key, v).unwrap();
}

#[test]
fn changed_value_is_detected() {
    assert_eq!(
        tampered(|db| flip(db, CF_KV, &format::kv_key(b"\0key-9-1", 10), |n| n - 1)),
        10
    );
}

#[test]
fn changed_key_is_detected() {
    let tx = tampered(|db| {
        let cf = db.cf_handle(CF_KV).unwrap();
        let old = format::kv_key(b"\0key-14-2", 15);
        let v = db.get_cf(cf, &old).unwrap().unwrap();
        db.delete_cf(cf, &old).unwrap();
        db.put_cf(cf, format::kv_key(b"\0key-14-X", 15), v).unwrap();
    });
    assert_eq!(tx, 15);
}

#[test]
fn extra_version_is_detected() {
    let tx = tampered(|db| {
        let cf = db.cf_handle(CF_KV).unwrap();
        db.put_cf(
            cf,
            format::kv_key(b"\0forged", 7),
            format::encode_kv_record(&[], b"\0x"),
        )
        .unwrap();
    });
    assert_eq!(tx, 7);
}

#[test]
fn changed_header_byte_is_detected() {
    // Byte 45 is inside the timestamp of the record.
    assert_eq!(
        tampered(|db| flip(db, CF_TX, &17u64.to_be_bytes(), |_| 45)),
        17
    );
    // The last tx has no successor to link to it: the AHT leaf catches it.
    assert_eq!(
        tampered(|db| flip(db, CF_TX, &30u64.to_be_bytes(), |_| 45)),
        30
    );
}

#[test]
fn changed_entry_in_tx_record_is_detected() {
    assert_eq!(
        tampered(|db| flip(db, CF_TX, &20u64.to_be_bytes(), |n| n - 3)),
        20
    );
}

#[test]
fn changed_aht_node_is_detected() {
    // Node (1, 5) is created by tx 12 (leaves 10 and 11, 0-based).
    assert_eq!(
        tampered(|db| flip(db, CF_AHT, &format::aht_key(1, 5), |_| 0)),
        12
    );
}
