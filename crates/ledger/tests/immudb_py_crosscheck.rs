//! Cross-check with the real verifier: a random history of 220 txs (1 to 9 entries each, some
//! with metadata, some written through the immudb key/value model) is committed to a ledger on
//! RocksDB; every entry inclusion proof and the dual proofs of more than 2,000 (source ≤ target)
//! pairs are exported and verified by immudb-py 1.5.0's own functions, which must also reject
//! deliberately corrupted proofs.
//!
//! Needs `STELE_PYTHON`: a Python with `immudb-py==1.5.0` installed (`scripts/test` makes one).

mod common;

use common::Rng;
use serde_json::{json, Value};
use stele_ledger::kv::KvOp;
use stele_ledger::proof::{state::SigningKey, DualProof, KvMetadata, State, TxHeader};
use stele_ledger::{Ledger, NewEntry, Options};

fn h(b: &[u8]) -> String {
    hex::encode(b)
}

fn header_json(x: &TxHeader) -> Value {
    json!({"id": x.id, "prevAlh": h(&x.prev_alh), "ts": x.ts, "nentries": x.nentries, "eH": h(&x.eh),
           "blTxId": x.bl_tx_id, "blRoot": h(&x.bl_root), "version": x.version})
}

fn md_json(md: &KvMetadata) -> Value {
    json!({"deleted": md.deleted, "expiresAt": md.expires_at, "nonIndexable": md.non_indexable})
}

fn dual_json(p: &DualProof) -> Value {
    let list = |v: &Vec<[u8; 32]>| v.iter().map(|d| h(d)).collect::<Vec<_>>();
    json!({
        "sourceTxHeader": header_json(&p.source_tx_header),
        "targetTxHeader": header_json(&p.target_tx_header),
        "inclusionProof": list(&p.inclusion_proof),
        "consistencyProof": list(&p.consistency_proof),
        "targetBlTxAlh": h(&p.target_bl_tx_alh),
        "lastInclusionProof": list(&p.last_inclusion_proof),
        "linearProof": {"sourceTxId": p.linear_proof.source_tx_id, "targetTxId": p.linear_proof.target_tx_id,
                        "terms": list(&p.linear_proof.terms)},
    })
}

/// The user-level operation behind a KV-model entry, for immudb-py to re-encode.
type Logical = Vec<(Vec<u8>, Value)>;

fn build_history(
    ledger: &Ledger,
    rng: &mut Rng,
    txs: u64,
) -> std::collections::HashMap<u64, Logical> {
    let mut logical = std::collections::HashMap::new();
    let mut live: Vec<Vec<u8>> = Vec::new();
    for _ in 0..txs {
        let kind = rng.below(20);
        let (header, ops): (TxHeader, Logical) = if kind < 11 || live.is_empty() {
            // Raw entries under the KV and SQL prefixes, some with metadata.
            let n = rng.below(9) + 1;
            let entries = (0..n)
                .map(|i| {
                    let mut key = vec![[0u8, 2][rng.below(2) as usize], i as u8];
                    key.extend(rng.bytes(1, 24));
                    let metadata = match rng.below(8) {
                        0 => KvMetadata {
                            deleted: true,
                            ..Default::default()
                        },
                        1 => KvMetadata {
                            expires_at: Some(1_700_000_000 + rng.below(1 << 30)),
                            ..Default::default()
                        },
                        2 => KvMetadata {
                            non_indexable: true,
                            ..Default::default()
                        },
                        3 => KvMetadata {
                            expires_at: Some(4_000_000_000),
                            non_indexable: true,
                            deleted: false,
                        },
                        _ => KvMetadata::default(),
                    };
                    let value = if metadata.deleted {
                        vec![]
                    } else {
                        rng.bytes(0, 80)
                    };
                    NewEntry {
                        key,
                        metadata,
                        value,
                    }
                })
                .collect();
            (ledger.commit(entries).unwrap(), vec![])
        } else if kind < 15 {
            let n = rng.below(9) + 1;
            let mut ops = Vec::new();
            let mut logical = Vec::new();
            for i in 0..n {
                let mut key = format!("k{i}-").into_bytes();
                key.extend(rng.bytes(1, 6));
                let value = rng.bytes(0, 40);
                logical.push((
                    stele_ledger::kv::set_key(&key),
                    json!({"kind": "set", "key": h(&key), "value": h(&value)}),
                ));
                live.push(key.clone());
                ops.push(KvOp::Set {
                    key,
                    value,
                    metadata: KvMetadata::default(),
                });
            }
            (ledger.kv().exec_all(ops, false).unwrap(), logical)
        } else if kind < 17 {
            let target = live[rng.below(live.len() as u64) as usize].clone();
            let mut key = b"ref-".to_vec();
            key.extend(rng.bytes(4, 8));
            let at_tx = if rng.below(2) == 0 {
                0
            } else {
                ledger.kv().get(&target, Default::default()).unwrap().tx
            };
            let hdr = ledger
                .kv()
                .set_reference(&key, &target, at_tx, at_tx > 0)
                .unwrap();
            let lg =
                json!({"kind": "ref", "key": h(&key), "referenced": h(&target), "atTx": at_tx});
            (hdr, vec![(stele_ledger::kv::set_key(&key), lg)])
        } else if kind < 19 {
            let key = live[rng.below(live.len() as u64) as usize].clone();
            let set = b"zset".to_vec();
            let score = (rng.below(2000) as f64 - 1000.0) / 8.0;
            let hdr = ledger.kv().zadd(&set, score, &key, 0, false).unwrap();
            let lg =
                json!({"kind": "zadd", "set": h(&set), "score": score, "key": h(&key), "atTx": 0});
            (
                hdr,
                vec![(stele_ledger::kv::zset_key(&set, score, &key, 0), lg)],
            )
        } else {
            let key = live.swap_remove(rng.below(live.len() as u64) as usize);
            let hdr = ledger.kv().delete(vec![key.clone()]).unwrap();
            (
                hdr,
                vec![(
                    stele_ledger::kv::set_key(&key),
                    json!({"kind": "delete", "key": h(&key)}),
                )],
            )
        };
        logical.insert(header.id, ops);
    }
    logical
}

#[test]
fn immudb_py_verifies_our_proofs() {
    let python = std::env::var("STELE_PYTHON").expect(
        "STELE_PYTHON must name a Python with immudb-py==1.5.0 installed; scripts/test sets it up",
    );
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("db"), Options::default()).unwrap();
    let mut rng = Rng(0x5_7e1e);
    let logical = build_history(&ledger, &mut rng, 220);
    let n = ledger.state().tx_id;
    assert_eq!(n, 220);

    let mut txs = Vec::new();
    for id in 1..=n {
        let (tx, proofs) = ledger.tx_entry_proofs(id).unwrap();
        let ops = &logical[&id];
        let entries: Vec<Value> = tx
            .entries
            .iter()
            .map(|e| {
                let md = KvMetadata::from_bytes(&e.metadata).unwrap();
                let value = ledger.tx_entry_value(&e.key, id).unwrap();
                let lg = ops.iter().find(|(k, _)| *k == e.key).map(|(_, v)| v.clone());
                json!({"key": h(&e.key), "hValue": h(&e.h_value), "vLen": e.v_len, "md": md_json(&md),
                       "value": h(&value), "logical": lg})
            })
            .collect();
        let proofs: Vec<Value> = proofs
            .iter()
            .map(|p| json!({"leaf": p.leaf, "width": p.width, "terms": p.terms.iter().map(|t| h(t)).collect::<Vec<_>>()}))
            .collect();
        txs.push(
            json!({"header": header_json(&tx.header), "alh": h(&tx.header.alh().unwrap()),
                        "entries": entries, "proofs": proofs}),
        );
    }

    // Every edge case near the start and the end, then random pairs: over 2,000 in all.
    let mut pairs = Vec::new();
    for t in 1..=n {
        pairs.push((t, t));
        pairs.push((1, t));
        if t > 1 {
            pairs.push((t - 1, t));
        }
    }
    while pairs.len() < 2200 {
        let (a, b) = (rng.below(n) + 1, rng.below(n) + 1);
        pairs.push((a.min(b), a.max(b)));
    }
    let mut duals = Vec::new();
    let mut corrupted = Vec::new();
    for (i, &(s, t)) in pairs.iter().enumerate() {
        let p = ledger.dual_proof(s, t).unwrap();
        if i % 40 == 0 && s + 1 < t {
            let mut bad = p.clone();
            let what = match i / 40 % 4 {
                0 if !bad.inclusion_proof.is_empty() => {
                    bad.inclusion_proof[0][0] ^= 1;
                    "inclusion term"
                }
                1 if !bad.consistency_proof.is_empty() => {
                    let l = bad.consistency_proof.len() - 1;
                    bad.consistency_proof[l][5] ^= 2;
                    "consistency term"
                }
                2 => {
                    bad.target_bl_tx_alh[7] ^= 4;
                    "targetBlTxAlh"
                }
                _ => {
                    let l = bad.linear_proof.terms.len() - 1;
                    bad.linear_proof.terms[l][9] ^= 8;
                    "linear term"
                }
            };
            corrupted
                .push(json!({"source": s, "target": t, "what": what, "proof": dual_json(&bad)}));
        }
        duals.push(json!({"source": s, "target": t, "proof": dual_json(&p)}));
    }
    assert!(duals.len() >= 2000 && corrupted.len() >= 20);

    let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
    let signed: Vec<Value> = (1..=n)
        .step_by(23)
        .map(|id| {
            let st = State { db: "defaultdb".into(), tx_id: id, tx_hash: ledger.header(id).unwrap().alh().unwrap() };
            json!({"db": st.db, "txId": st.tx_id, "txHash": h(&st.tx_hash), "signature": h(&st.sign(&key))})
        })
        .collect();
    let public = stele_ledger::proof::state::public_key_bytes(key.verifying_key());

    let out = dir.path().join("proofs.json");
    let doc = json!({"txs": txs, "duals": duals, "corrupted": corrupted, "signedStates": signed, "publicKey": h(&public)});
    std::fs::write(&out, serde_json::to_vec(&doc).unwrap()).unwrap();
    // The package directory as cargo gives it when running the test (a binary built from
    // another checkout sharing the target directory would carry that checkout's path).
    let package = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let script = format!("{package}/tests/python/verify_with_immudb_py.py");
    let result = std::process::Command::new(&python)
        .arg(script)
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&result.stderr));
    assert!(
        result.status.success(),
        "immudb-py rejected our proofs: {stdout}"
    );
    assert!(stdout.contains("immudb-py verified 220 txs"));
}
