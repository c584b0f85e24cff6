//! Durability: a child process commits from several threads and is killed with SIGKILL at a
//! random moment, over and over. After each restart every tx the child saw acknowledged is there
//! with its entries, nothing else is half-written, and `verify` passes. The child caps the WAL
//! at 256 KiB, so RocksDB flushes and recycles WAL files (overwrites them in place) many times
//! a round and the kills land in recycled files too.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Rng;
use stele_ledger::{Commit, Ledger, NewEntry, Options};

const ROUNDS: u64 = 24;
const THREADS: u64 = 4;

fn value_of(key: &str) -> Vec<u8> {
    format!("value-of-{key}").repeat(12).into_bytes()
}

/// The child: commits until killed, printing `ACK <tx> <key>,<key>...` after each acknowledgement.
#[test]
#[ignore = "run by kill9_rounds as a child process"]
fn child_committer() {
    let dir = std::env::var("STELE_CRASH_DIR").expect("STELE_CRASH_DIR");
    let round: u64 = std::env::var("STELE_CRASH_ROUND").unwrap().parse().unwrap();
    let opts = Options {
        wal_size_cap: 256 << 10,
        ..Options::default()
    };
    let ledger = Arc::new(Ledger::open(&dir, opts).unwrap());
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (ledger, out) = (Arc::clone(&ledger), Arc::clone(&out));
            std::thread::spawn(move || {
                for seq in 0.. {
                    let keys: Vec<String> = (0..1 + seq % 3)
                        .map(|i| format!("r{round}-t{t}-s{seq}-{i}"))
                        .collect();
                    let entries = keys
                        .iter()
                        .map(|k| NewEntry::new(k.as_bytes(), value_of(k)))
                        .collect();
                    let no_sync = seq % 5 == 4;
                    let h = ledger
                        .commit_with(Commit {
                            entries,
                            no_sync,
                            ..Default::default()
                        })
                        .unwrap();
                    let mut o = out.lock().unwrap();
                    writeln!(o, "ACK {} {}", h.id, keys.join(",")).unwrap();
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn kill9_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0xC0FFEE);
    let mut total_acks = 0;
    let mut last_tx = 0;
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_committer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("STELE_CRASH_DIR", &db)
            .env("STELE_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        std::thread::sleep(Duration::from_millis(150 + rng.below(500)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let lines = reader.join().unwrap();

        let ledger = Ledger::open(&db, Options::default()).unwrap();
        let state = ledger.state();
        assert!(
            state.tx_id >= last_tx,
            "round {round}: the ledger went back in time"
        );
        let mut acks = 0;
        for line in &lines {
            let parts: Vec<&str> = line.split(' ').collect();
            // A line cut by the kill was never seen whole: the child had not reported it.
            let [tag, id, keys] = parts[..] else { continue };
            let Ok(id) = id.parse::<u64>() else { continue };
            if tag != "ACK" {
                continue;
            }
            assert!(
                id <= state.tx_id,
                "round {round}: acknowledged tx {id} lost (state {})",
                state.tx_id
            );
            let tx = ledger.tx(id).unwrap();
            for k in keys.split(',') {
                assert!(
                    tx.entries.iter().any(|e| e.key == k.as_bytes()),
                    "round {round}: tx {id} lacks {k}"
                );
                let e = ledger.get_at_tx(k.as_bytes(), id).unwrap();
                assert_eq!(e.value, value_of(k));
            }
            acks += 1;
        }
        let report = ledger
            .verify()
            .unwrap_or_else(|e| panic!("round {round}: verify failed: {e}"));
        assert_eq!(report.txs, state.tx_id);
        total_acks += acks;
        last_tx = state.tx_id;
    }
    assert!(
        total_acks > ROUNDS * 10,
        "the children acknowledged too little to test anything: {total_acks}"
    );
}
