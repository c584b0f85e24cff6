//! The SQL suite: Stele embedded against SQLite (bundled, same schema, WAL with
//! synchronous=FULL), in one run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn insert_values(from: u64, to: u64) -> String {
    (from..to)
        .map(|i| format!("({i}, {}, {}, 'name-{i}')", i % 100, i % 997))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(args: &Args) -> Vec<Figure> {
    let rows: u64 = if args.quick { 20_000 } else { 1_000_000 };
    let samples = if args.quick { 200 } else { 2_000 };
    let dir = tempfile::tempdir().unwrap();
    let mut figures = Vec::new();

    // --- bulk insert, durable: 1,000-row transactions on both sides ---
    let engine = Engine::new(Arc::new(
        Ledger::open(dir.path().join("stele"), Options::default()).unwrap(),
    ))
    .unwrap();
    engine
        .execute(
            "CREATE TABLE t (id INTEGER, grp INTEGER, v INTEGER, s VARCHAR[32], PRIMARY KEY id)",
            &HashMap::new(),
        )
        .unwrap();
    // As SQLite below: a parameterised single-row INSERT, run 1,000 times per transaction.
    log(&format!("inserting {rows} rows into Stele"));
    let start = Instant::now();
    let mut session = engine.session();
    let insert = "INSERT INTO t (id, grp, v, s) VALUES (@id, @grp, @v, @s)";
    // The parameter map is built once and its values replaced per row, as SQLite's statement
    // is prepared once and bound per row.
    let mut params: HashMap<String, Value> = ["id", "grp", "v", "s"]
        .into_iter()
        .map(|k| (k.to_string(), Value::Null))
        .collect();
    for b in (0..rows).step_by(BATCH as usize) {
        session.execute("BEGIN", &HashMap::new()).unwrap();
        for i in b..(b + BATCH).min(rows) {
            // One pass over the map, as SQLite's statement is bound by position: no key hashing.
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
    }
    let stele_insert = rows as f64 / start.elapsed().as_secs_f64();
    // The same rows again, as one multi-row INSERT text per transaction (into a twin table).
    engine
        .execute(
            "CREATE TABLE t2 (id INTEGER, grp INTEGER, v INTEGER, s VARCHAR[32], PRIMARY KEY id)",
            &HashMap::new(),
        )
        .unwrap();
    // `--only insert-param` skips this load, to profile the parameterised one alone.
    let text_load = args.only.as_deref() != Some("insert-param");
    let start = Instant::now();
    for b in (0..rows).step_by(BATCH as usize).filter(|_| text_load) {
        let sql = format!(
            "INSERT INTO t2 (id, grp, v, s) VALUES {}",
            insert_values(b, (b + BATCH).min(rows))
        );
        engine.execute(&sql, &HashMap::new()).unwrap();
    }
    let stele_insert_text = rows as f64 / start.elapsed().as_secs_f64();

    let sqlite = rusqlite::Connection::open(dir.path().join("sqlite.db")).unwrap();
    sqlite.pragma_update(None, "journal_mode", "WAL").unwrap();
    sqlite.pragma_update(None, "synchronous", "FULL").unwrap();
    sqlite
        .execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER, v INTEGER, s VARCHAR(32))",
            [],
        )
        .unwrap();
    log(&format!("inserting {rows} rows into SQLite"));
    let start = Instant::now();
    for b in (0..rows).step_by(BATCH as usize) {
        let tx = sqlite.unchecked_transaction().unwrap();
        {
            let mut st = tx
                .prepare_cached("INSERT INTO t (id, grp, v, s) VALUES (?1, ?2, ?3, ?4)")
                .unwrap();
            for i in b..(b + BATCH).min(rows) {
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
    }
    let sqlite_insert = rows as f64 / start.elapsed().as_secs_f64();
    figures.push(Figure {
        name: format!("bulk insert {rows} rows, 1000-row durable txs"),
        unit: "rows/s",
        stele: stele_insert,
        baseline: Some(("SQLite WAL synchronous=FULL".into(), sqlite_insert)),
    });
    if text_load {
        figures.push(Figure {
            name: format!("bulk insert {rows} rows, one 1000-row INSERT text per tx"),
            unit: "rows/s",
            stele: stele_insert_text,
            baseline: Some(("SQLite WAL synchronous=FULL".into(), sqlite_insert)),
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

    // --- point select by primary key ---
    let mut rng = crate::XorShift(0x9e37_79b9_7f4a_7c15);
    let mut ours = Vec::with_capacity(samples);
    let mut theirs = Vec::with_capacity(samples);
    let mut old = Vec::with_capacity(samples);
    let old_tx = 2 + rows / BATCH / 2; // the middle of the load
    let select = "SELECT id, grp, v, s FROM t WHERE id = @id";
    let select_old = format!("SELECT id, grp, v, s FROM t UNTIL TX {old_tx} WHERE id = @id");
    let rows_of = |sql: &str, params: &HashMap<String, Value>| match engine
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
        assert_eq!(rows_of(select, &params), 1);
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
        rows_of(&select_old, &params);
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

    // --- whole-query timings, median of a few runs ---
    let timed = |f: &dyn Fn()| -> f64 {
        let mut runs: Vec<Duration> = (0..3)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed()
            })
            .collect();
        runs.sort();
        runs[1].as_secs_f64() * 1e3
    };
    let range_lo = rows / 3;
    let range_sql = format!(
        "SELECT id, v FROM t WHERE id >= {range_lo} AND id < {}",
        range_lo + 10_000.min(rows / 2)
    );
    let ours = timed(&|| {
        stele_rows(&engine, &range_sql);
    });
    let theirs = timed(&|| {
        let mut st = sqlite.prepare_cached(&range_sql).unwrap();
        let n = st.query_map([], |r| r.get::<_, i64>(0)).unwrap().count();
        assert!(n > 0);
    });
    figures.push(Figure {
        name: "range scan of 10k rows".into(),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite".into(), theirs)),
    });

    let agg_sql = "SELECT grp, COUNT(*), SUM(v) FROM t GROUP BY grp";
    // The first full scan reads the ledger and fills the column cache; later ones reuse it.
    let start = Instant::now();
    assert_eq!(stele_rows(&engine, agg_sql), 100);
    let cold = start.elapsed().as_secs_f64() * 1e3;
    let ours = timed(&|| {
        assert_eq!(stele_rows(&engine, agg_sql), 100);
    });
    let theirs = timed(&|| {
        let mut st = sqlite.prepare_cached(agg_sql).unwrap();
        assert_eq!(
            st.query_map([], |r| r.get::<_, i64>(0)).unwrap().count(),
            100
        );
    });
    figures.push(Figure {
        name: format!("COUNT/SUM/GROUP BY over {rows} rows"),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite".into(), theirs)),
    });
    figures.push(Figure {
        name: format!("COUNT/SUM/GROUP BY over {rows} rows, first run (cache cold)"),
        unit: "ms",
        stele: cold,
        baseline: Some(("SQLite".into(), theirs)),
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
    engine
        .execute(
            &format!(
                "INSERT INTO small (id, label) VALUES {}",
                small_rows.join(", ")
            ),
            &HashMap::new(),
        )
        .unwrap();
    sqlite
        .execute(
            &format!(
                "INSERT INTO small (id, label) VALUES {}",
                small_rows.join(", ")
            ),
            [],
        )
        .unwrap();
    let join_sql =
        format!("SELECT COUNT(*) FROM t INNER JOIN small ON t.v = small.id WHERE t.id < {big}");
    let ours = timed(&|| {
        stele_rows(&engine, &join_sql);
    });
    let theirs = timed(&|| {
        let n: i64 = sqlite.query_row(&join_sql, [], |r| r.get(0)).unwrap();
        assert!(n > 0);
    });
    figures.push(Figure {
        name: format!("INNER JOIN {big} x 1000 rows, COUNT(*)"),
        unit: "ms",
        stele: ours,
        baseline: Some(("SQLite".into(), theirs)),
    });
    figures
}
