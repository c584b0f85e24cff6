//! The ledger suite: write throughput and durable commits against raw RocksDB, read latencies
//! over a long history.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use stele_ledger::rocksdb::{self, WriteBatch, WriteOptions, DB};
use stele_ledger::{Commit, Ledger, NewEntry, Options};

use crate::{percentiles, Args, Figure};

const KEY_LEN: usize = 32;
const VALUE_LEN: usize = 100;
const WRITERS: usize = 2;

fn key(i: u64) -> Vec<u8> {
    let mut k = format!("key-{i:016}").into_bytes();
    k.resize(KEY_LEN, b'.');
    k
}

fn value(i: u64) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(VALUE_LEN, b'v');
    v
}

/// Raw RocksDB with the options the ledger uses (lz4, same parallelism).
fn raw_db(path: &std::path::Path) -> DB {
    let mut o = rocksdb::Options::default();
    o.create_if_missing(true);
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    o.increase_parallelism(2);
    DB::open(&o, path).unwrap()
}

/// Commits without waiting for the disk: the bulk-load path.
fn commit_no_sync(ledger: &Ledger, entries: Vec<NewEntry>) {
    ledger
        .commit_with(Commit {
            entries,
            no_sync: true,
            ..Default::default()
        })
        .unwrap();
}

fn log(msg: &str) {
    eprintln!("[stele-bench] {msg}");
}

/// Runs `per_thread(t)` on `threads` threads and returns the elapsed time.
fn timed_threads(threads: usize, per_thread: impl Fn(usize) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let f = &per_thread;
            s.spawn(move || f(t));
        }
    });
    start.elapsed()
}

fn ledger_batched(tx_size: u64, per_writer: u64) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("ledger"), Options::default()).unwrap();
    timed_threads(WRITERS, |w| {
        for t in 0..per_writer {
            let base = (w as u64 * per_writer + t) * tx_size;
            let entries = (base..base + tx_size)
                .map(|i| NewEntry::new(key(i), value(i)))
                .collect();
            commit_no_sync(&ledger, entries);
        }
    })
}

fn raw_batched(tx_size: u64, per_writer: u64) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let db = raw_db(dir.path());
    timed_threads(WRITERS, |w| {
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        for t in 0..per_writer {
            let base = (w as u64 * per_writer + t) * tx_size;
            let mut b = WriteBatch::default();
            for i in base..base + tx_size {
                b.put(key(i), value(i));
            }
            db.write_opt(b, &wo).unwrap();
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Entries/s through the ledger and through raw write batches, alternating trials, medians.
fn batched_writes(tx_size: u64, total: u64, trials: usize) -> Figure {
    let per_writer = total / tx_size / WRITERS as u64;
    let n = (per_writer * WRITERS as u64 * tx_size) as f64;
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..trials {
        ours.push(n / ledger_batched(tx_size, per_writer).as_secs_f64());
        raw.push(n / raw_batched(tx_size, per_writer).as_secs_f64());
    }
    let f = Figure {
        name: format!(
            "batched writes, {tx_size}-entry txs, no sync, {WRITERS} writers (median of {trials})"
        ),
        unit: "entries/s",
        stele: median(ours),
        baseline: Some(("raw RocksDB write batches".into(), median(raw))),
    };
    log(&format!(
        "{}: {:.0} vs {:.0}",
        f.name,
        f.stele,
        f.baseline.as_ref().unwrap().1
    ));
    f
}

/// Commits (or synced puts) per second from `threads` threads for `dur`.
fn durable_commits(threads: usize, dur: Duration) -> Figure {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("ledger"), Options::default()).unwrap();
    let count = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let run = |work: &(dyn Fn(u64) + Sync)| -> f64 {
        count.store(0, Ordering::SeqCst);
        stop.store(false, Ordering::SeqCst);
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (count, stop) = (&count, &stop);
                s.spawn(move || {
                    let mut i = t as u64 * 1_000_000_000;
                    while !stop.load(Ordering::Relaxed) {
                        work(i);
                        i += 1;
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            std::thread::sleep(dur);
            stop.store(true, Ordering::SeqCst);
        });
        count.load(Ordering::SeqCst) as f64 / start.elapsed().as_secs_f64()
    };
    let stele = run(&|i| {
        ledger
            .commit(vec![NewEntry::new(key(i), value(i))])
            .unwrap();
    });
    drop(ledger);
    let db = raw_db(&dir.path().join("raw"));
    let mut wo = WriteOptions::default();
    wo.set_sync(true);
    let raw = run(&|i| db.put_opt(key(i), value(i), &wo).unwrap());
    let f = Figure {
        name: format!("durable single-entry commits, {threads} committers"),
        unit: "commits/s",
        stele,
        baseline: Some((format!("raw RocksDB synced puts, {threads} writers"), raw)),
    };
    log(&format!("{}: {:.0} vs {:.0}", f.name, f.stele, raw));
    f
}

fn read_latencies(history: u64, samples: usize) -> Vec<Figure> {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(dir.path().join("ledger"), Options::default()).unwrap();
    let keys = (history / 10).max(1);
    log(&format!(
        "loading {history} single-entry txs over {keys} keys"
    ));
    let loaders = 8;
    let next = AtomicU64::new(0);
    let t = timed_threads(loaders, |_| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= history {
            break;
        }
        commit_no_sync(&ledger, vec![NewEntry::new(key(i % keys), value(i))]);
    });
    log(&format!("loaded in {:.1}s", t.as_secs_f64()));
    let n = ledger.state().tx_id;
    let mut rng = crate::XorShift(0x1234_5678);
    let mut latest = Vec::with_capacity(samples);
    let mut old = Vec::with_capacity(samples);
    let mut verified = Vec::with_capacity(samples);
    for _ in 0..samples {
        let k = key(rng.below(keys));
        let s = Instant::now();
        let e = ledger.get(&k, None).unwrap();
        latest.push(s.elapsed());

        let snap = 1 + rng.below(n / 2);
        let s = Instant::now();
        let _ = ledger.get(&k, Some(snap));
        old.push(s.elapsed());

        // A client whose state is some earlier tx asks for a verified read of the key.
        let state_tx = 1 + rng.below(n);
        let s = Instant::now();
        let e2 = ledger.get(&k, None).unwrap();
        let _incl = ledger.entry_proof(e2.tx, &e2.key).unwrap();
        let _dual = if state_tx <= e2.tx {
            ledger.dual_proof(state_tx, e2.tx)
        } else {
            ledger.dual_proof(e2.tx, state_tx)
        }
        .unwrap();
        verified.push(s.elapsed());
        assert_eq!(e, e2);
    }
    drop(ledger);
    let db = raw_db(&dir.path().join("raw"));
    for i in 0..keys {
        db.put(key(i), value(i)).unwrap();
    }
    db.flush().unwrap();
    let mut raw = Vec::with_capacity(samples);
    for _ in 0..samples {
        let k = key(rng.below(keys));
        let s = Instant::now();
        db.get_pinned(&k).unwrap().unwrap();
        raw.push(s.elapsed());
    }
    let (l50, l99) = percentiles(latest);
    let (o50, o99) = percentiles(old);
    let (v50, v99) = percentiles(verified);
    let (r50, r99) = percentiles(raw);
    let h = format!("{n} txs");
    let fig = |name: String, v: f64, base: Option<(&str, f64)>| Figure {
        name,
        unit: "us",
        stele: v,
        baseline: base.map(|(b, x)| (b.to_string(), x)),
    };
    vec![
        fig(
            format!("get latest p50, {h}"),
            l50,
            Some(("raw RocksDB get p50 (one version a key)", r50)),
        ),
        fig(
            format!("get latest p99, {h}"),
            l99,
            Some(("raw RocksDB get p99 (one version a key)", r99)),
        ),
        fig(format!("get at an old tx p50, {h}"), o50, None),
        fig(format!("get at an old tx p99, {h}"), o99, None),
        fig(
            format!("verified get (entry + inclusion + dual proof) p50, {h}"),
            v50,
            None,
        ),
        fig(
            format!("verified get (entry + inclusion + dual proof) p99, {h}"),
            v99,
            None,
        ),
    ]
}

pub fn run(args: &Args) -> Vec<Figure> {
    let total = if args.quick { 20_000 } else { 400_000 };
    let dur = Duration::from_secs(if args.quick { 1 } else { 4 });
    let mut figures = Vec::new();
    let wants = |section: &str| args.only.as_deref().is_none_or(|o| section.contains(o));
    if wants("batched") {
        for size in [1u64, 10, 100, 1000] {
            let entries = if size == 1 { total / 4 } else { total };
            figures.push(batched_writes(
                size,
                entries,
                if args.quick { 1 } else { 5 },
            ));
        }
    }
    if wants("durable") {
        let mut by_threads = Vec::new();
        for threads in [1, 8, 64] {
            let f = durable_commits(threads, dur);
            by_threads.push(f.stele);
            figures.push(f);
        }
        figures.push(Figure {
            name: "durable commits: 64 committers over 1 committer".into(),
            unit: "x",
            stele: by_threads[2] / by_threads[0],
            baseline: None,
        });
    }
    if wants("reads") {
        figures.extend(read_latencies(
            args.history,
            if args.quick { 2_000 } else { 20_000 },
        ));
    }
    figures
}
