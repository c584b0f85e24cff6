//! Real immudb outputs, as immudb-py's offline tests carry them (base64 protobufs of immudb's
//! `Tx`, `VerifiableTx` and `ImmutableState`, header version 0, written by a 2021 server).
//! We decode them with a minimal protobuf reader and verify them with our functions.

use stele_proof::{
    dual::verify_dual_proof,
    htree,
    verify::{verify_write, Tx, TxEntryDigest},
    DualProof, EntrySpec, KvMetadata, LinearProof, State, TxHeader,
};

const V0: &str = "CnIIGhIg0IswQi+55M5xLZSEZUNnpSqoU7JSjtSgNZBlyCMK/3IYzfrjgAYgASogsgXOdHznBIOL0fRjDit+QmDn+9M5FZms8jTI5fHfcpIwGTogmXu3vjcP/kHZTXvT0O158Tx9A3ywjmHG0LOPxS5Bk9kSOwoLAHNhbGFjYWR1bGESIMTfI1H+rKu77CCQQ/ktaUmx/krECfmjHSg+Gy3Zc2NvGMyAgICAgICAASAL";
const S1: &str = "CglkZWZhdWx0ZGIQGhogjEG+djOLorSgQUZ4uxZ6pwEOrQJDtZJA7EvAoA2KGLY=";
const V1: &str = "CrABCnIIGxIgjEG+djOLorSgQUZ4uxZ6pwEOrQJDtZJA7EvAoA2KGLYY/oLkgAYgASogW42DIq7yEjr0Bd5vwhNgWawpXGugTjsyrCH5T/1aAgMwGjog+Ls6Bqhl3wY+Zm0bzdTSnefm2R5FmWbIBXVqI7+XK9USOgoKAGltbXV0YWJsZRIgNya+E7AWF0hes0nK+oPRxRM2QKuURi1RVts9Ls8n/p0Y14CAgICAgIABIAkS3AMKcggbEiCMQb52M4uitKBBRni7FnqnAQ6tAkO1kkDsS8CgDYoYthj+guSABiABKiBbjYMirvISOvQF3m/CE2BZrClca6BOOzKsIflP/VoCAzAaOiD4uzoGqGXfBj5mbRvN1NKd5+bZHkWZZsgFdWojv5cr1RJyCBsSIIxBvnYzi6K0oEFGeLsWeqcBDq0CQ7WSQOxLwKANihi2GP6C5IAGIAEqIFuNgyKu8hI69AXeb8ITYFmsKVxroE47Mqwh+U/9WgIDMBo6IPi7OgaoZd8GPmZtG83U0p3n5tkeRZlmyAV1aiO/lyvVIiBD2z2e5izoJX/f/wsxmRRgoqvRm9k1u07wnLvvKnnv7yIgvi9aTotJJoBOJNWBIamr92YFxY45RfWhIvDAjITo0qcqIIxBvnYzi6K0oEFGeLsWeqcBDq0CQ7WSQOxLwKANihi2MiDXuDDqI078k42ylczzX14lHfTDlrLjdJDHrqdhUD18YjIgcN967NBXNa3FCQYPp28QeNYB5oy92UyoZnJ9Z1Q5CDkyIL4vWk6LSSaATiTVgSGpq/dmBcWOOUX1oSLwwIyE6NKnOiYIGxAbGiAd/x/VhanAhIuG0lY4zYXyU650agKUGqi4trCM9MbPpg==";
const S2: &str = "GBsiIB3/H9WFqcCEi4bSVjjNhfJTrnRqApQaqLi2sIz0xs+mKgA=";
const V2: &str = "CrABCnIIHBIgHf8f1YWpwISLhtJWOM2F8lOudGoClBqouLawjPTGz6YYvoTkgAYgASogW42DIq7yEjr0Bd5vwhNgWawpXGugTjsyrCH5T/1aAgMwGzogcdx7vXRTwJ2den3/Fj08IP1erEHl8a/8a+kd0I2a5/ASOgoKAGltbXV0YWJsZRIgNya+E7AWF0hes0nK+oPRxRM2QKuURi1RVts9Ls8n/p0Y4ICAgICAgIABIAkSwgQKcggbEiCMQb52M4uitKBBRni7FnqnAQ6tAkO1kkDsS8CgDYoYthj+guSABiABKiBbjYMirvISOvQF3m/CE2BZrClca6BOOzKsIflP/VoCAzAaOiD4uzoGqGXfBj5mbRvN1NKd5+bZHkWZZsgFdWojv5cr1RJyCBwSIB3/H9WFqcCEi4bSVjjNhfJTrnRqApQaqLi2sIz0xs+mGL6E5IAGIAEqIFuNgyKu8hI69AXeb8ITYFmsKVxroE47Mqwh+U/9WgIDMBs6IHHce710U8CdnXp9/xY9PCD9XqxB5fGv/GvpHdCNmufwIiB3UMOMPGOr9ivOCyKgp183KUPUsAazU5n+qTPGJbTGCyIgYUsXyKcZ+HVbCvm1CZ1SZMzIeq8bt47vbOrmzrpdp6AiIHDfeuzQVzWtxQkGD6dvEHjWAeaMvdlMqGZyfWdUOQg5IiC+L1pOi0kmgE4k1YEhqav3ZgXFjjlF9aEi8MCMhOjSpyogHf8f1YWpwISLhtJWOM2F8lOudGoClBqouLawjPTGz6YyIHdQw4w8Y6v2K84LIqCnXzcpQ9SwBrNTmf6pM8YltMYLMiBw33rs0Fc1rcUJBg+nbxB41gHmjL3ZTKhmcn1nVDkIOTIgvi9aTotJJoBOJNWBIamr92YFxY45RfWhIvDAjITo0qc6SAgbEBwaIB3/H9WFqcCEi4bSVjjNhfJTrnRqApQaqLi2sIz0xs+mGiAWMJsNvC67Pz/DKvwxULaaxae5nNHAH3A6EA3OwBC2zw==";

fn b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | A.iter().position(|&a| a == c).expect("base64") as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// One protobuf field: its number and either a varint or a byte string.
enum Val<'a> {
    Int(u64),
    Bytes(&'a [u8]),
}

fn fields(mut b: &[u8]) -> Vec<(u32, Val<'_>)> {
    fn varint(b: &mut &[u8]) -> u64 {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = b[0];
            *b = &b[1..];
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        v
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let tag = varint(&mut b);
        let (num, wire) = ((tag >> 3) as u32, tag & 7);
        match wire {
            0 => out.push((num, Val::Int(varint(&mut b)))),
            2 => {
                let len = varint(&mut b) as usize;
                out.push((num, Val::Bytes(&b[..len])));
                b = &b[len..];
            }
            w => panic!("unexpected wire type {w}"),
        }
    }
    out
}

fn int(f: &[(u32, Val)], n: u32) -> u64 {
    f.iter()
        .find_map(|(k, v)| match v {
            Val::Int(i) if *k == n => Some(*i),
            _ => None,
        })
        .unwrap_or(0)
}
fn bytes<'a>(f: &[(u32, Val<'a>)], n: u32) -> Vec<&'a [u8]> {
    f.iter()
        .filter_map(|(k, v)| match v {
            Val::Bytes(b) if *k == n => Some(*b),
            _ => None,
        })
        .collect()
}
fn digest(b: &[u8]) -> [u8; 32] {
    stele_proof::digest_from(b).unwrap()
}

fn header(b: &[u8]) -> TxHeader {
    let f = fields(b);
    TxHeader {
        id: int(&f, 1),
        prev_alh: digest(bytes(&f, 2)[0]),
        ts: int(&f, 3) as i64,
        nentries: int(&f, 4) as u32,
        eh: digest(bytes(&f, 5)[0]),
        bl_tx_id: int(&f, 6),
        bl_root: digest(bytes(&f, 7)[0]),
        version: int(&f, 8) as u16,
        metadata: vec![],
    }
}

fn tx(b: &[u8]) -> Tx {
    let f = fields(b);
    let entries = bytes(&f, 2)
        .into_iter()
        .map(|e| {
            let ef = fields(e);
            TxEntryDigest {
                key: bytes(&ef, 1)[0].to_vec(),
                h_value: digest(bytes(&ef, 2)[0]),
                metadata: vec![],
                v_len: 0,
            }
        })
        .collect();
    Tx {
        header: header(bytes(&f, 1)[0]),
        entries,
    }
}

fn dual(b: &[u8]) -> DualProof {
    let f = fields(b);
    let digests = |n| bytes(&f, n).into_iter().map(digest).collect::<Vec<_>>();
    let lf = fields(bytes(&f, 7)[0]);
    DualProof {
        source_tx_header: header(bytes(&f, 1)[0]),
        target_tx_header: header(bytes(&f, 2)[0]),
        inclusion_proof: digests(3),
        consistency_proof: digests(4),
        target_bl_tx_alh: digest(bytes(&f, 5)[0]),
        last_inclusion_proof: digests(6),
        linear_proof: LinearProof {
            source_tx_id: int(&lf, 1),
            target_tx_id: int(&lf, 2),
            terms: bytes(&lf, 3).into_iter().map(digest).collect(),
        },
    }
}

fn set_spec(key: &[u8], value: &[u8]) -> EntrySpec {
    EntrySpec {
        key: [&[0u8][..], key].concat(),
        metadata: KvMetadata::default(),
        value: [&[0u8][..], value].concat(),
    }
}

#[test]
fn tx_inclusion_v0() {
    let t = tx(&b64(V0));
    assert_eq!(t.header.version, 0);
    let tree = t.check_tree().unwrap();
    let p = tree.inclusion_proof(0).unwrap();
    let d = set_spec(b"salacadula", b"magicabula").digest(0).unwrap();
    assert!(htree::verify_inclusion(&p, &d, &t.header.eh));
    let wrong = set_spec(b"salacadula", b"magicabulo").digest(0).unwrap();
    assert!(!htree::verify_inclusion(&p, &wrong, &t.header.eh));
}

fn decode_vtx(vtx: &str) -> (Tx, DualProof) {
    let raw = b64(vtx);
    let vf = fields(&raw);
    (tx(bytes(&vf, 1)[0]), dual(bytes(&vf, 2)[0]))
}

/// A verified set checked from `state`; wrong values and forged states must fail.
fn simulated_set(state: State, t: &Tx, p: &DualProof) {
    let new = verify_write(&state, t, &set_spec(b"immutable", b"database"), p).unwrap();
    assert_eq!(new.tx_id, t.header.id);
    assert!(verify_write(&state, t, &set_spec(b"immutable", b"databasf"), p).is_err());
    if state.tx_id > 0 {
        let mut forged = state.clone();
        forged.tx_hash[0] ^= 1;
        assert!(verify_write(&forged, t, &set_spec(b"immutable", b"database"), p).is_err());
    }
}

#[test]
fn simulated_set_1() {
    let f = b64(S1);
    let s1 = State {
        db: "defaultdb".into(),
        tx_id: int(&fields(&f), 2),
        tx_hash: digest(bytes(&fields(&f), 3)[0]),
    };
    assert_eq!(s1.tx_id, 26);
    let (t, p) = decode_vtx(V1);
    // This old server answered with a self-proof of tx 27, whose chain starts at the state's Alh.
    assert_eq!(t.header.id, 27);
    assert_eq!(t.header.prev_alh, s1.tx_hash);
    let alh = t.header.alh().unwrap();
    assert!(verify_dual_proof(&p, 27, 27, &alh, &alh));
    assert!(!verify_dual_proof(&p, 26, 27, &s1.tx_hash, &alh));
    simulated_set(State::genesis("defaultdb"), &t, &p);
}

#[test]
fn simulated_set_2() {
    // This state was written by an older schema: txId is field 3 and txHash field 4.
    let f = b64(S2);
    let s2 = State {
        db: "defaultdb".into(),
        tx_id: int(&fields(&f), 3),
        tx_hash: digest(bytes(&fields(&f), 4)[0]),
    };
    assert_eq!(s2.tx_id, 27);
    let (t, p) = decode_vtx(V2);
    assert_eq!(t.header.id, 28);
    assert!(!p.consistency_proof.is_empty() && !p.last_inclusion_proof.is_empty());
    simulated_set(s2, &t, &p);
}
