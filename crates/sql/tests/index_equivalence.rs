//! Differential test: every query answered through a secondary index (or a primary-key range)
//! returns what the same query returns when the filter cannot be pushed down (`a + 0 = 3`
//! instead of `a = 3`), at every tx of a random history, including the txs before the index
//! existed (the back-fill).

use std::collections::HashMap;
use std::sync::Arc;

use stele_ledger::{Ledger, Options};
use stele_sql::{Engine, Output, Value};

/// A small deterministic generator (xorshift), so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rows(e: &Engine, sql: &str) -> Vec<Vec<Value>> {
    let out = e
        .execute(sql, &HashMap::new())
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    let Some(Output::Rows { rows, .. }) = out.into_iter().last() else {
        panic!("{sql}: no rows")
    };
    let mut rows = rows.into_lists();
    rows.sort_by_key(|r| format!("{r:?}"));
    rows
}

fn explain(e: &Engine, sql: &str) -> String {
    rows(e, &format!("EXPLAIN {sql}"))
        .into_iter()
        .filter_map(|r| match &r[0] {
            Value::Varchar(l) if l.starts_with("LedgerScan") => Some(l.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn index_scans_match_full_scans_at_every_tx() {
    for seed in [7u64, 1234, 99991] {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
        let e = Engine::new(ledger.clone()).unwrap();
        let mut rng = Rng(seed);
        e.execute(
            "CREATE TABLE r (id INTEGER, a INTEGER, b VARCHAR[4], PRIMARY KEY id)",
            &HashMap::new(),
        )
        .unwrap();
        let a = |rng: &mut Rng| match rng.below(6) {
            5 => "NULL".to_string(),
            v => v.to_string(),
        };
        let b = |rng: &mut Rng| ["'x'", "'y'", "'zz'", "NULL"][rng.below(4) as usize].to_string();
        for step in 0..60 {
            if step == 25 {
                e.execute(
                    "CREATE INDEX ON r (a); CREATE INDEX ON r (b, a)",
                    &HashMap::new(),
                )
                .unwrap();
            }
            let id = rng.below(12);
            let sql = match rng.below(4) {
                0 => format!(
                    "UPSERT INTO r (id, a, b) VALUES ({id}, {}, {})",
                    a(&mut rng),
                    b(&mut rng)
                ),
                1 => format!("UPDATE r SET a = {} WHERE id = {id}", a(&mut rng)),
                2 => format!("DELETE FROM r WHERE id = {id}"),
                _ => format!(
                    "BEGIN; UPSERT INTO r (id, a, b) VALUES ({id}, {}, {}); UPDATE r SET b = {} WHERE id = {}; COMMIT",
                    a(&mut rng),
                    b(&mut rng),
                    b(&mut rng),
                    rng.below(12)
                ),
            };
            e.execute(&sql, &HashMap::new()).unwrap();
        }
        let last = ledger.state().tx_id;
        let preds = [
            ("a = 3", "a + 0 = 3", "index r(a)"),
            ("a >= 2 AND a < 4", "a + 0 >= 2 AND a + 0 < 4", "index r(a)"),
            ("a IN (0, 4)", "a + 0 IN (0, 4)", "index r(a)"),
            ("a <= 1", "a + 0 <= 1", "index r(a)"),
            ("b = 'x'", "b || '' = 'x'", "index r(b,a)"),
            (
                "b = 'y' AND a > 2",
                "b || '' = 'y' AND a + 0 > 2",
                "index r(b,a)",
            ),
            (
                "b IN ('x', 'zz') AND a = 1",
                "b || '' IN ('x', 'zz') AND a + 0 = 1",
                "index r(b,a)",
            ),
            (
                "id > 3 AND id <= 8",
                "id + 0 > 3 AND id + 0 <= 8",
                "primary index",
            ),
            (
                "id IN (1, 5, 11)",
                "id + 0 IN (1, 5, 11)",
                "primary key lookup",
            ),
        ];
        for (pushed, plain, path) in preds {
            let q = format!("SELECT id, a, b FROM r WHERE {pushed}");
            assert!(explain(&e, &q).contains(path), "{q}: {}", explain(&e, &q));
            assert_eq!(
                rows(&e, &q),
                rows(&e, &format!("SELECT id, a, b FROM r WHERE {plain}")),
                "seed {seed}: {q}"
            );
            for t in 1..=last {
                for period in [
                    format!("UNTIL TX {t}"),
                    format!("SINCE TX {t}"),
                    format!("SINCE TX {} UNTIL TX {t}", t.saturating_sub(3).max(1)),
                ] {
                    let q = format!("SELECT id, a, b FROM r {period} WHERE {pushed}");
                    let expected = rows(
                        &e,
                        &format!("SELECT id, a, b FROM r {period} WHERE {plain}"),
                    );
                    assert_eq!(rows(&e, &q), expected, "seed {seed}: {q}");
                }
            }
        }
    }
}

/// Scans long enough to be split across threads return every row once, at the current state
/// and at older txs, over whole tables and key ranges.
#[test]
fn split_scans_return_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let e = Engine::new(ledger.clone()).unwrap();
    let p = HashMap::new();
    e.execute(
        "CREATE TABLE big (id INTEGER, v INTEGER, s VARCHAR[8], PRIMARY KEY id)",
        &p,
    )
    .unwrap();
    let n: i64 = 50_000;
    for chunk in (0..n).step_by(1000) {
        let values: Vec<String> = (chunk..chunk + 1000)
            .map(|i| format!("({i}, {}, 's{}')", i % 7, i % 3))
            .collect();
        e.execute(
            &format!("INSERT INTO big (id, v, s) VALUES {}", values.join(",")),
            &p,
        )
        .unwrap();
    }
    let loaded = ledger.state().tx_id;
    e.execute("DELETE FROM big WHERE id >= 10000 AND id < 10500", &p)
        .unwrap();
    e.execute(
        "UPDATE big SET v = 100 WHERE id >= 40000 AND id < 40010",
        &p,
    )
    .unwrap();
    let one = |sql: &str| rows(&e, sql);
    let sum_v = |ids: std::ops::Range<i64>, skip: &dyn Fn(i64) -> bool, upd: bool| -> i64 {
        ids.filter(|i| !skip(*i))
            .map(|i| {
                if upd && (40000..40010).contains(&i) {
                    100
                } else {
                    i % 7
                }
            })
            .sum()
    };
    let deleted = |i: i64| (10000..10500).contains(&i);
    let none = |_: i64| false;
    assert_eq!(
        one("SELECT COUNT(*), SUM(v), COUNT(DISTINCT id) FROM big"),
        vec![vec![
            Value::Integer(n - 500),
            Value::Integer(sum_v(0..n, &deleted, true)),
            Value::Integer(n - 500)
        ]]
    );
    assert_eq!(
        one(&format!(
            "SELECT COUNT(*), SUM(v) FROM big UNTIL TX {loaded}"
        )),
        vec![vec![
            Value::Integer(n),
            Value::Integer(sum_v(0..n, &none, false))
        ]]
    );
    assert_eq!(
        one("SELECT COUNT(*), SUM(v), MIN(id), MAX(id) FROM big WHERE id >= 5000 AND id < 45000"),
        vec![vec![
            Value::Integer(40000 - 500),
            Value::Integer(sum_v(5000..45000, &deleted, true)),
            Value::Integer(5000),
            Value::Integer(44999)
        ]]
    );
    // A range that only newer txs wrote: SINCE the delete, only the updated rows.
    assert_eq!(
        one(&format!("SELECT COUNT(*) FROM big SINCE TX {}", loaded + 2)),
        vec![vec![Value::Integer(10)]]
    );
    assert_eq!(
        one("SELECT s, COUNT(*) FROM big GROUP BY s ORDER BY s"),
        (0..3)
            .map(|k| vec![
                Value::Varchar(format!("s{k}")),
                Value::Integer((0..n).filter(|i| i % 3 == k && !deleted(*i)).count() as i64)
            ])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        one("SELECT id FROM big WHERE id > 3 LIMIT 3"),
        vec![
            vec![Value::Integer(4)],
            vec![Value::Integer(5)],
            vec![Value::Integer(6)]
        ]
    );
}

/// The column cache never answers with rows that are no longer current: writes, deletes, DDL,
/// another engine on the same ledger, transactions and time travel all see the ledger's rows.
#[test]
fn column_cache_never_serves_stale_rows() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let e = Engine::new(ledger.clone()).unwrap();
    let other = Engine::new(ledger.clone()).unwrap();
    let p = HashMap::new();
    e.execute(
        "CREATE TABLE c (id INTEGER, v INTEGER, PRIMARY KEY id); INSERT INTO c (id, v) VALUES (1, 10), (2, 20), (3, 30)",
        &p,
    )
    .unwrap();
    let sum = |e: &Engine, sql: &str| rows(e, sql);
    let total = "SELECT COUNT(*), SUM(v) FROM c";
    let ranged = "SELECT COUNT(*), SUM(v) FROM c WHERE id >= 2";
    let pair = |n: i64, s: i64| vec![vec![Value::Integer(n), Value::Integer(s)]];
    assert_eq!(sum(&e, total), pair(3, 60)); // fills the cache
    assert_eq!(sum(&e, total), pair(3, 60)); // served from it
    assert_eq!(sum(&e, ranged), pair(2, 50));
    e.execute("UPDATE c SET v = 11 WHERE id = 1", &p).unwrap();
    assert_eq!(sum(&e, total), pair(3, 61));
    other.execute("DELETE FROM c WHERE id = 3", &p).unwrap();
    assert_eq!(sum(&e, total), pair(2, 31));
    assert_eq!(sum(&e, ranged), pair(1, 20));
    e.execute("ALTER TABLE c ADD COLUMN w INTEGER", &p).unwrap();
    assert_eq!(sum(&e, "SELECT COUNT(*), COUNT(w) FROM c"), pair(2, 0));
    e.execute("UPSERT INTO c (id, v, w) VALUES (4, 40, 1)", &p)
        .unwrap();
    assert_eq!(sum(&e, "SELECT COUNT(*), SUM(w) FROM c"), pair(3, 1));
    // Inside a transaction, its own writes count; the cache is not touched by them.
    let mut s = e.session();
    s.execute("BEGIN; INSERT INTO c (id, v) VALUES (5, 50)", &p)
        .unwrap();
    let r = s.execute(total, &p).unwrap();
    assert_eq!(
        r.outputs.last(),
        Some(&Output::Rows {
            columns: r_columns(&r),
            rows: stele_sql::Rows::from_lists(2, pair(4, 121))
        })
    );
    s.execute("ROLLBACK", &p).unwrap();
    assert_eq!(sum(&e, total), pair(3, 71));
    // Time travel reads the ledger.
    assert_eq!(sum(&e, &format!("{total} UNTIL TX 1")), pair(3, 60));
    // A dropped and re-created table of the same name is a new table.
    e.execute(
        "DROP TABLE c; CREATE TABLE c (id INTEGER, v INTEGER, PRIMARY KEY id)",
        &p,
    )
    .unwrap();
    assert_eq!(sum(&e, total), pair(0, 0));
}

fn r_columns(r: &stele_sql::ExecResult) -> Vec<stele_sql::ColumnDesc> {
    match r.outputs.last() {
        Some(Output::Rows { columns, .. }) => columns.clone(),
        _ => Vec::new(),
    }
}
