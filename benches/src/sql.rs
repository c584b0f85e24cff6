//! The SQL suite: Stele embedded against SQLite (bundled, same schema, WAL with
//! synchronous=FULL), in one run. The two sides' trials alternate (batch by batch for the
//! loads, run by run for the queries, who goes first alternating too), figures are medians,
//! and cold figures (the first query after the load, and after both are reopened) stand
//! beside warm ones. `STELE_SQL_CACHE_MB` sets the column cache's budget (default 512).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use stele_ledger::{Ledger, Options};
use stele_sql::{Engine, Output, Value};

use crate::{percentiles, Args, Figure};

const BATCH: u64 = 1000;

fn log(msg: &str) {
    eprintln!("[stele-bench] {msg}");
}

fn stele_rows(e: &Engine, sql: &str) -> usize {
    match e.execute(sql, &HashMap::new()).unwrap().pop() {
        Some(Output::Rows { rows, .. }) => rows.len(),
        other => panic!("{sql}: {other:?}"),
    }
}

/// The id of the `i`-th row of a load: ascending, or a permutation of `0..rows` (an odd
/// multiplier prime to `rows`, whose factors are 2 and 5) for the random-key load.
fn key(i: u64, rows: u64, random: bool) -> u64 {
    match random {
        false => i,
        true => (i * 7919 + 13) % rows,
    }
}

fn insert_values(table: &str, from: u64, to: u64, rows: u64, random: bool) -> String {
    let values = (from..to)
        .map(|i| {
            let id = key(i, rows, random);
            format!("({id}, {}, {}, 'name-{id}')", id % 100, id % 997)
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO {table} (id, grp, v, s) VALUES {values}")
}

fn open_stele(dir: &Path) -> Engine {
    let engine = Engine::new(Arc::new(
        Ledger::open(dir.join("stele"), Options::default()).unwrap(),
    ))
    .unwrap();
    let budget: usize = std::env::var("STELE_SQL_CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    engine.store().cache().set_budget(budget << 20);
    engine
}

fn open_sqlite(dir: &Path) -> rusqlite::Connection {
    let sqlite = rusqlite::Connection::open(dir.join("sqlite.db")).unwrap();
    sqlite.pragma_update(None, "journal_mode", "WAL").unwrap();
    sqlite.pragma_update(None, "synchronous", "FULL").unwrap();
    sqlite
}

/// Runs the two sides alternately, `n` times each (who goes first alternates too), and
/// returns their median times in ms.
fn alternate(n: usize, ours: &mut dyn FnMut(), theirs: &mut dyn FnMut()) -> (f64, f64) {
    let (mut a, mut b) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let time = |f: &mut dyn FnMut(), into: &mut Vec<f64>| {
        let s = Instant::now();
        f();
        into.push(s.elapsed().as_secs_f64() * 1e3);
    };
    for i in 0..n {
        if i % 2 == 0 {
            time(ours, &mut a);
            time(theirs, &mut b);
        } else {
            time(theirs, &mut b);
            time(ours, &mut a);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(a), median(b))
}

/// Times one run of `f`, in ms.
fn once(f: impl FnOnce()) -> f64 {
    let s = Instant::now();
    f();
    s.elapsed().as_secs_f64() * 1e3
}

const SCHEMA_STELE: &str = "(id INTEGER, grp INTEGER, v INTEGER, s VARCHAR[32], PRIMARY KEY id)";
const SCHEMA_SQLITE: &str = "(id INTEGER PRIMARY KEY, grp INTEGER, v INTEGER, s VARCHAR(32))";

pub fn run(args: &Args) -> Vec<Figure> {
    let rows: u64 = if args.quick { 20_000 } else { 1_000_000 };
    let samples = if args.quick { 200 } else { 2_000 };
    let dir = tempfile::tempdir().unwrap();
    let mut figures = Vec::new();
    let mut engine = open_stele(dir.path());
    let mut sqlite = open_sqlite(dir.path());
    for t in ["t", "t2", "t3"] {
        engine
            .execute(&format!("CREATE TABLE {t} {SCHEMA_STELE}"), &HashMap::new())
            .unwrap();
        sqlite
            .execute(&format!("CREATE TABLE {t} {SCHEMA_SQLITE}"), [])
            .unwrap();
    }

    // --- bulk insert, durable: 1,000-row transactions on both sides, batches alternating ---
    // Parameterised single-row INSERTs, 1,000 per transaction, on both sides.
    log(&format!("inserting {rows} rows, parameterised, both sides"));
    let insert = "INSERT INTO t (id, grp, v, s) VALUES (@id, @grp, @v, @s)";
    // The parameter map is built once and its values replaced per row, as SQLite's statement
    // is prepared once and bound per row.
    let mut params: HashMap<String, Value> = ["id", "grp", "v", "s"]
        .into_iter()
        .map(|k| (k.to_string(), Value::Null))
        .collect();
    let (mut ours, mut theirs) = (0.0, 0.0);
    {
        let mut session = engine.session();
        for b in (0..rows).step_by(BATCH as usize) {
            let end = (b + BATCH).min(rows);
            ours += once(|| {
                session.execute("BEGIN", &HashMap::new()).unwrap();
                for i in b..end {
                    // One pass over the map, as SQLite binds by position: no key hashing.
                    for (k, v) in params.iter_mut() {
                        *v = match k.as_str() {
                            "id" => Value::Integer(i as i64),
                            "grp" => Value::Integer((i % 100) as i64),
                            "v" => Value::Integer((i % 997) as i64),
                            "s" => Value::Varchar(format!("name-{i}")),
                            other => unreachable!("parameter {other}"),
                        };
                    }
                    session.execute(insert, &params).unwrap();
                }
                session.execute("COMMIT", &HashMap::new()).unwrap();
            });
            theirs += once(|| {
                let tx = sqlite.unchecked_transaction().unwrap();
                {
                    let mut st = tx
                        .prepare_cached("INSERT INTO t (id, grp, v, s) VALUES (?1, ?2, ?3, ?4)")
                        .unwrap();
                    for i in b..end {
                        st.execute(rusqlite::params![
                            i as i64,
                            (i % 100) as i64,
                            (i % 997) as i64,
                            format!("name-{i}")
                        ])
                        .unwrap();
                    }
                }
                tx.commit().unwrap();
            });
        }
    }
    let rate = |ms: f64| rows as f64 / (ms / 1e3);
    figures.push(Figure {
        name: format!(
            "bulk insert {rows} rows, parameterised single-row INSERTs, 1000-row durable txs"
        ),
        unit: "rows/s",
        stele: rate(ours),
        baseline: Some(("SQLite WAL synchronous=FULL, prepared".into(), rate(theirs))),
    });
    // One 1000-row INSERT text per transaction on both sides: keys ascending (into t2), then
    // in random order (into t3).
    // `--only point|range|range-planned|aggregate|aggregate-cold|join|join-cold`: no text loads; after the load, that query alone, looped
    // for a profiler (`STELE_BENCH_LOOPS` times, default 300), and nothing is reported.
    let profile = args.only.as_deref().filter(|o| {
        [
            "point",
            "range",
            "range-planned",
            "aggregate",
            "aggregate-cold",
            "join",
            "join-cold",
        ]
        .contains(o)
    });
    // `STELE_BENCH_TEXT_LOADS=1` keeps the text loads before a profiled query, so that it reads
    // the store as the full run leaves it.
    let text_load = args.only.is_none()
        || args.only.as_deref() == Some("insert")
        || std::env::var_os("STELE_BENCH_TEXT_LOADS").is_some_and(|v| v == "1");
    for (table, random) in [("t2", false), ("t3", true)]
        .into_iter()
        .filter(|_| text_load)
    {
        log(&format!(
            "inserting {rows} rows into {table} as INSERT texts, both sides"
        ));
        let (mut ours, mut theirs) = (0.0, 0.0);
        for b in (0..rows).step_by(BATCH as usize) {
            let sql = insert_values(table, b, (b + BATCH).min(rows), rows, random);
            ours += once(|| {
                engine.execute(&sql, &HashMap::new()).unwrap();
            });
            theirs += once(|| {
                let tx = sqlite.unchecked_transaction().unwrap();
                tx.execute(&sql, []).unwrap();
                tx.commit().unwrap();
            });
        }
        let keys = if random { "random" } else { "ascending" };
        figures.push(Figure {
            name: format!("bulk insert {rows} rows, one 1000-row INSERT text per tx, {keys} keys"),
            unit: "rows/s",
            stele: rate(ours),
            baseline: Some(("SQLite, the same INSERT texts".into(), rate(theirs))),
        });
    }
    // `--only insert` (or `insert-param`) stops after the load, for profiling the write path.
    if args
        .only
        .as_deref()
        .is_some_and(|o| o.starts_with("insert"))
    {
        return figures;
    }

    // The work the loads left behind, done before the queries are measured: RocksDB's
    // compactions (in the background) and SQLite's WAL checkpoint (inline in a commit once the
    // WAL holds 1000 pages), so that neither side's reads compete with it.
    let ours = once(|| engine.store().ledger().settle().unwrap());
    let theirs = once(|| {
        sqlite
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap()
    });
    figures.push(Figure {
        name: "settling after the loads (compactions; the WAL checkpoint)".into(),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite wal_checkpoint(TRUNCATE)".into(), theirs)),
    });

    if let Some(which) = profile {
        if which == "join-cold" {
            // The join after a restart, over and over: the engine is closed and reopened
            // before each run (the OS page cache stays warm).
            profile_loop(&engine, "join", rows, 0);
            let loops = profile_loops(20);
            let sql = join_sql(rows);
            for _ in 0..loops {
                drop(engine);
                engine = open_stele(dir.path());
                let first = once(|| {
                    stele_rows(&engine, &sql);
                });
                let second = once(|| {
                    stele_rows(&engine, &sql);
                });
                log(&format!("{first:.3} ms, then {second:.3} ms"));
            }
        } else {
            profile_loop(&engine, which, rows, profile_loops(300));
        }
        return figures;
    }

    // --- point select by primary key ---
    let mut rng = crate::XorShift(0x9e37_79b9_7f4a_7c15);
    let mut ours = Vec::with_capacity(samples);
    let mut theirs = Vec::with_capacity(samples);
    let mut old = Vec::with_capacity(samples);
    let old_tx = 4 + rows / BATCH / 2; // the middle of the parameterised load
    let select = "SELECT id, grp, v, s FROM t WHERE id = @id";
    let select_old = format!("SELECT id, grp, v, s FROM t UNTIL TX {old_tx} WHERE id = @id");
    let rows_of = |e: &Engine, sql: &str, params: &HashMap<String, Value>| match e
        .execute(sql, params)
        .unwrap()
        .pop()
    {
        Some(Output::Rows { rows, .. }) => rows.len(),
        other => panic!("{sql}: {other:?}"),
    };
    for _ in 0..samples {
        let id = rng.below(rows);
        let params = HashMap::from([("id".to_string(), Value::Integer(id as i64))]);
        let s = Instant::now();
        assert_eq!(rows_of(&engine, select, &params), 1);
        ours.push(s.elapsed());
        let s = Instant::now();
        let got: i64 = sqlite
            .prepare_cached("SELECT id, grp, v, s FROM t WHERE id = ?1")
            .unwrap()
            .query_row([id as i64], |r| r.get(0))
            .unwrap();
        theirs.push(s.elapsed());
        assert_eq!(got, id as i64);
        let s = Instant::now();
        rows_of(&engine, &select_old, &params);
        old.push(s.elapsed());
    }
    let (o50, _) = percentiles(ours.clone());
    let (t50, _) = percentiles(theirs);
    let (h50, _) = percentiles(old);
    figures.push(Figure {
        name: "point select by primary key p50".into(),
        unit: "us",
        stele: o50,
        baseline: Some(("SQLite prepared statement".into(), t50)),
    });
    figures.push(Figure {
        name: format!("point select at an old tx (UNTIL TX {old_tx}) p50"),
        unit: "us",
        stele: h50,
        baseline: Some(("Stele point select at the current state".into(), o50)),
    });

    // --- whole queries: alternating runs, medians ---
    let trials = 7;
    // A key range, read without planning; then the same rows with a condition on a non-key
    // column too, which DataFusion plans.
    let range = range_sql(rows);
    for (name, sql) in [
        ("range scan of 10k rows", range.clone()),
        (
            "range scan of 10k rows, with a filter on another column (planned)",
            format!("{range} AND v >= 0"),
        ),
    ] {
        let (ours, theirs) = alternate(
            trials,
            &mut || {
                stele_rows(&engine, &sql);
            },
            &mut || {
                let mut st = sqlite.prepare_cached(&sql).unwrap();
                // Every value of the answer read out, as Stele hands back every one.
                let rows: Vec<(i64, i64)> = st
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert!(!rows.is_empty());
            },
        );
        figures.push(Figure {
            name: name.into(),
            unit: "ms",
            stele: ours,
            baseline: Some(("SQLite".into(), theirs)),
        });
    }

    let agg_sql = "SELECT grp, COUNT(*), SUM(v) FROM t GROUP BY grp";
    let agg_stele = |e: &Engine| assert_eq!(stele_rows(e, agg_sql), 100);
    let agg_sqlite = |c: &rusqlite::Connection| {
        let mut st = c.prepare_cached(agg_sql).unwrap();
        assert_eq!(
            st.query_map([], |r| Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?
            )))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .len(),
            100
        );
    };
    // The first full scan reads the ledger and fills the column cache; later ones reuse it.
    let cold_ours = once(|| agg_stele(&engine));
    let cold_theirs = once(|| agg_sqlite(&sqlite));
    // The column copy the first scan started writing is on disk before anything else is timed
    // (its writing thread would otherwise share the cores with the next trials).
    engine.store().cache().wait_for_copies();
    let (ours, theirs) = alternate(trials, &mut || agg_stele(&engine), &mut || {
        agg_sqlite(&sqlite)
    });
    figures.push(Figure {
        name: format!("COUNT/SUM/GROUP BY over {rows} rows (warm)"),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite".into(), theirs)),
    });
    figures.push(Figure {
        name: format!("COUNT/SUM/GROUP BY over {rows} rows, first run after the load (cold)"),
        unit: "ms",
        stele: cold_ours,
        baseline: Some(("SQLite, its first run".into(), cold_theirs)),
    });
    let cache = engine.store().cache();
    figures.push(Figure {
        name: format!(
            "column cache memory holding t ({rows} rows, 4 columns), budget {} MiB",
            cache.budget() >> 20
        ),
        unit: "MiB",
        stele: cache.memory() as f64 / (1 << 20) as f64,
        baseline: None,
    });

    // --- join: 100k x 1k ---
    let big = (rows / 10).max(1000);
    engine
        .execute(
            "CREATE TABLE small (id INTEGER, label VARCHAR[16], PRIMARY KEY id)",
            &HashMap::new(),
        )
        .unwrap();
    sqlite
        .execute(
            "CREATE TABLE small (id INTEGER PRIMARY KEY, label VARCHAR(16))",
            [],
        )
        .unwrap();
    let small_rows: Vec<String> = (0..1000).map(|i| format!("({i}, 'l{i}')")).collect();
    let small_insert = format!(
        "INSERT INTO small (id, label) VALUES {}",
        small_rows.join(", ")
    );
    engine.execute(&small_insert, &HashMap::new()).unwrap();
    sqlite.execute(&small_insert, []).unwrap();
    let join_sql = join_sql(rows);
    let join_stele = |e: &Engine| {
        stele_rows(e, &join_sql);
    };
    let join_sqlite = |c: &rusqlite::Connection| {
        let n: i64 = c.query_row(&join_sql, [], |r| r.get(0)).unwrap();
        assert!(n > 0);
    };
    let (ours, theirs) = alternate(trials, &mut || join_stele(&engine), &mut || {
        join_sqlite(&sqlite)
    });
    figures.push(Figure {
        name: format!("INNER JOIN {big} x 1000 rows, COUNT(*) (warm)"),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite".into(), theirs)),
    });

    // --- cold after a restart: both closed and reopened (the OS page cache stays warm on
    // both sides), then the query's first run on each, who goes first alternating; a restart
    // per trial, medians. The join's trials first, then the aggregate's. ---
    // The old handles close before the new ones open (RocksDB's lock, SQLite's WAL).
    macro_rules! restart {
        () => {
            drop(engine);
            drop(sqlite);
            engine = open_stele(dir.path());
            sqlite = open_sqlite(dir.path());
        };
    }
    macro_rules! after_restarts {
        ($ours:expr, $theirs:expr) => {{
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for i in 0..COLD_TRIALS {
                restart!();
                if i % 2 == 0 {
                    a.push(once(|| $ours(&engine)));
                    b.push(once(|| $theirs(&sqlite)));
                } else {
                    b.push(once(|| $theirs(&sqlite)));
                    a.push(once(|| $ours(&engine)));
                }
            }
            (crate::median(a), crate::median(b))
        }};
    }
    let (ours, theirs) = after_restarts!(join_stele, join_sqlite);
    figures.push(Figure {
        name: format!("INNER JOIN {big} x 1000 rows, first run after a restart (cold)"),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite, its first run after a reopen".into(), theirs)),
    });
    let (ours, theirs) = after_restarts!(agg_stele, agg_sqlite);
    figures.push(Figure {
        name: format!("COUNT/SUM/GROUP BY over {rows} rows, first run after a restart (cold)"),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite, its first run after a reopen".into(), theirs)),
    });
    figures
}

/// Restarts (each followed by one cold run of each side) behind a "first run after a restart"
/// figure.
const COLD_TRIALS: usize = 5;

/// The range scan's query: 10k rows (fewer in a quick run) by primary key, a third of the way in.
fn range_sql(rows: u64) -> String {
    let lo = rows / 3;
    format!(
        "SELECT id, v FROM t WHERE id >= {lo} AND id < {}",
        lo + 10_000.min(rows / 2)
    )
}

/// `STELE_BENCH_LOOPS`, else `default`.
fn profile_loops(default: usize) -> usize {
    profile_env("STELE_BENCH_LOOPS", default)
}

/// The number in the environment variable `name`, else `default`.
fn profile_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The join's query: a tenth of `t` (at least 1000 rows) joined with the 1000 rows of `small`.
fn join_sql(rows: u64) -> String {
    format!(
        "SELECT COUNT(*) FROM t INNER JOIN small ON t.v = small.id WHERE t.id < {}",
        (rows / 10).max(1000)
    )
}

/// Runs one query of the suite over and over (for a profiler): `point`, `range`,
/// `range-planned`, `aggregate` (warm) or `join` (warm), `loops` times (0: only the setup).
fn profile_loop(engine: &Engine, which: &str, rows: u64, loops: usize) {
    let sql = match which {
        "range" => range_sql(rows),
        "range-planned" => format!("{} AND v >= 0", range_sql(rows)),
        "aggregate" => "SELECT grp, COUNT(*), SUM(v) FROM t GROUP BY grp".into(),
        // Every run reads `t` from the ledger, as the first run after the load does (a cache
        // budget of 0 keeps nothing in memory and writes no column copy).
        "aggregate-cold" => {
            engine.store().cache().set_budget(0);
            "SELECT grp, COUNT(*), SUM(v) FROM t GROUP BY grp".into()
        }
        "point" => "SELECT id, grp, v, s FROM t WHERE id = @id".into(),
        _ => {
            // As in the suite: the aggregate has scanned `t` whole (it is in the column cache).
            if which == "join" {
                stele_rows(engine, "SELECT grp, COUNT(*), SUM(v) FROM t GROUP BY grp");
            }
            engine
                .execute(
                    "CREATE TABLE small (id INTEGER, label VARCHAR[16], PRIMARY KEY id)",
                    &HashMap::new(),
                )
                .unwrap();
            let small: Vec<String> = (0..1000).map(|i| format!("({i}, 'l{i}')")).collect();
            let insert = format!("INSERT INTO small (id, label) VALUES {}", small.join(", "));
            engine.execute(&insert, &HashMap::new()).unwrap();
            join_sql(rows)
        }
    };
    log(&format!("running {sql} {loops} times"));
    let mut rng = crate::XorShift(0x9e37_79b9_7f4a_7c15);
    // `STELE_BENCH_PAUSE_MS`: a pause before each run, so that each starts as a lone query
    // does (the other core idle, the caches holding something else); then the runs' median.
    let pause = std::time::Duration::from_millis(profile_env("STELE_BENCH_PAUSE_MS", 0) as u64);
    let mut each = Vec::with_capacity(loops);
    let s = Instant::now();
    for _ in 0..loops {
        if !pause.is_zero() {
            std::thread::sleep(pause);
        }
        let one = Instant::now();
        match which {
            // A point select by a random key, its parameter bound as the suite binds it.
            "point" => {
                let params =
                    HashMap::from([("id".to_string(), Value::Integer(rng.below(rows) as i64))]);
                match engine.execute(&sql, &params).unwrap().pop() {
                    Some(Output::Rows { rows, .. }) => assert_eq!(rows.len(), 1),
                    other => panic!("{other:?}"),
                }
            }
            _ => {
                stele_rows(engine, &sql);
            }
        }
        each.push(one.elapsed().as_secs_f64() * 1e3);
    }
    if pause.is_zero() {
        log(&format!(
            "{:.4} ms a run",
            s.elapsed().as_secs_f64() * 1e3 / loops as f64
        ));
    } else if !each.is_empty() {
        log(&format!("{:.4} ms a run, median", crate::median(each)));
    }
}
