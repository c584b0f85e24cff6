//! Property tests: random histories (1 to 9 entries a tx, some with metadata), every proof the
//! history can build must verify, and any corruption of a proof or a claim must not.

use stele_proof::{
    dual::{dual_proof, verify_dual_proof, History},
    history::MemHistory,
    htree::{self, HTree},
    verify::{verify_read, verify_tx, verify_write, Tx, TxEntryDigest},
    EntrySpec, KvMetadata, State, TxHeader,
};

/// splitmix64: small, seedable, good enough to pick shapes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        (0..self.below(max) + 1)
            .map(|_| self.next() as u8)
            .collect()
    }
}

fn random_entries(rng: &mut Rng) -> Vec<EntrySpec> {
    let n = rng.below(9) + 1;
    (0..n)
        .map(|i| {
            let metadata = match rng.below(6) {
                0 => KvMetadata {
                    deleted: true,
                    ..Default::default()
                },
                1 => KvMetadata {
                    expires_at: Some(rng.next() >> 20),
                    ..Default::default()
                },
                2 => KvMetadata {
                    non_indexable: true,
                    expires_at: Some(5),
                    deleted: true,
                },
                _ => KvMetadata::default(),
            };
            let mut key = vec![0u8, i as u8];
            key.extend(rng.bytes(20));
            EntrySpec {
                key,
                metadata,
                value: rng.bytes(64),
            }
        })
        .collect()
}

fn tx_of(h: &TxHeader, entries: &[EntrySpec]) -> Tx {
    Tx {
        header: h.clone(),
        entries: entries
            .iter()
            .map(|e| TxEntryDigest {
                key: e.key.clone(),
                metadata: e.metadata.to_bytes(),
                h_value: stele_proof::sha256(&e.value),
                v_len: e.value.len() as u32,
            })
            .collect(),
    }
}

#[test]
fn random_histories_verify() {
    for seed in 0..4u64 {
        let mut rng = Rng(seed);
        let mut hist = MemHistory::new();
        let mut txs = Vec::new();
        for k in 0..120 {
            let entries = random_entries(&mut rng);
            let h = hist.commit(&entries, 1_700_000_000 + k).unwrap();
            txs.push((h, entries));
        }
        let n = hist.committed();
        let state_at = |id: u64| State {
            db: "db".into(),
            tx_id: id,
            tx_hash: hist.header(id).unwrap().alh().unwrap(),
        };

        for _ in 0..600 {
            let a = rng.below(n) + 1;
            let b = rng.below(n) + 1;
            let (s, t) = (a.min(b), a.max(b));
            let p = dual_proof(&hist, s, t).unwrap();
            let (sa, ta) = (state_at(s).tx_hash, state_at(t).tx_hash);
            assert!(verify_dual_proof(&p, s, t, &sa, &ta), "dual {s} -> {t}");
            assert!(!verify_dual_proof(&p, s, t, &ta, &ta) || s == t);
            let mut bad = p.clone();
            bad.target_tx_header.ts += 1;
            assert!(!verify_dual_proof(&bad, s, t, &sa, &ta));
            for list in [0, 1, 2] {
                let mut bad = p.clone();
                let terms = match list {
                    0 => &mut bad.inclusion_proof,
                    1 => &mut bad.consistency_proof,
                    _ => &mut bad.last_inclusion_proof,
                };
                if let Some(t0) = terms.first_mut() {
                    t0[31] ^= 0x80;
                    assert!(
                        !verify_dual_proof(&bad, s, t, &sa, &ta),
                        "corrupt list {list}"
                    );
                }
            }

            // A verified read of an entry of tx t, from a state before it and after it.
            let (h, entries) = &txs[t as usize - 1];
            let i = rng.below(entries.len() as u64) as usize;
            let tree = HTree::build(&tx_of(h, entries).digests().unwrap()).unwrap();
            let incl = tree.inclusion_proof(i).unwrap();
            let before = state_at(s);
            let got = verify_read(&before, &entries[i], t, &incl, &p).unwrap();
            assert_eq!(got.tx_id, t);
            let mut other = entries[i].clone();
            other.value.push(1);
            assert!(verify_read(&before, &other, t, &incl, &p).is_err());
            // From a later state, the entry's tx is the proof's source.
            let (hs, es) = &txs[s as usize - 1];
            let ts = HTree::build(&tx_of(hs, es).digests().unwrap()).unwrap();
            let after = state_at(t);
            let got = verify_read(&after, &es[0], s, &ts.inclusion_proof(0).unwrap(), &p).unwrap();
            assert_eq!(got, after);
            assert!(verify_tx(&before, &tx_of(h, entries), &p).is_ok());
        }

        // Every entry of every tx has a verifying inclusion proof.
        for (h, entries) in &txs {
            let tx = tx_of(h, entries);
            let tree = tx.check_tree().unwrap();
            for (i, d) in tx.digests().unwrap().iter().enumerate() {
                assert!(htree::verify_inclusion(
                    &tree.inclusion_proof(i).unwrap(),
                    d,
                    &h.eh
                ));
            }
        }
    }
}

#[test]
fn verified_write_needs_one_entry_and_the_right_tx() {
    let mut hist = MemHistory::new();
    let e = EntrySpec {
        key: b"\0a".to_vec(),
        metadata: KvMetadata::default(),
        value: b"\0x".to_vec(),
    };
    let h1 = hist.commit(std::slice::from_ref(&e), 1).unwrap();
    let two = vec![
        e.clone(),
        EntrySpec {
            key: b"\0b".to_vec(),
            ..e.clone()
        },
    ];
    let h2 = hist.commit(&two, 2).unwrap();
    let h3 = hist.commit(std::slice::from_ref(&e), 3).unwrap();
    let genesis = State::genesis("db");
    let s1 = verify_write(
        &genesis,
        &tx_of(&h1, std::slice::from_ref(&e)),
        &e,
        &dual_proof(&hist, 1, 1).unwrap(),
    )
    .unwrap();
    assert!(verify_write(
        &s1,
        &tx_of(&h2, &two),
        &e,
        &dual_proof(&hist, 1, 2).unwrap()
    )
    .is_err());
    let s3 = verify_write(
        &s1,
        &tx_of(&h3, std::slice::from_ref(&e)),
        &e,
        &dual_proof(&hist, 1, 3).unwrap(),
    )
    .unwrap();
    assert_eq!(s3.tx_id, 3);
    let deleted = EntrySpec {
        metadata: KvMetadata {
            deleted: true,
            ..Default::default()
        },
        ..e.clone()
    };
    assert!(verify_write(
        &s1,
        &tx_of(&h3, std::slice::from_ref(&e)),
        &deleted,
        &dual_proof(&hist, 1, 3).unwrap()
    )
    .is_err());
}
