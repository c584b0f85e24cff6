//! `SqlSession::query`: a query's rows handed over batch by batch, as the server streams them.

use std::collections::HashMap;
use std::sync::Arc;

use stele_ledger::{Ledger, Options};
use stele_sql::{ColumnDesc, Engine, SqlType, Value};

const ROWS: i64 = 20_000;

fn engine(dir: &tempfile::TempDir) -> Engine {
    let e = Engine::new(Arc::new(
        Ledger::open(dir.path(), Options::default()).unwrap(),
    ))
    .unwrap();
    e.execute(
        "CREATE TABLE t (id INTEGER, s VARCHAR[16], PRIMARY KEY id)",
        &HashMap::new(),
    )
    .unwrap();
    insert(&e, 0..ROWS);
    e
}

/// Rows `(i, 's<i>')` for each `i` of `ids`, 1000 a transaction.
fn insert(e: &Engine, ids: std::ops::Range<i64>) {
    for from in ids.clone().step_by(1_000) {
        let values: Vec<String> = (from..(from + 1_000).min(ids.end))
            .map(|i| format!("({i}, 's{i}')"))
            .collect();
        e.execute(
            &format!("INSERT INTO t (id, s) VALUES {}", values.join(", ")),
            &HashMap::new(),
        )
        .unwrap();
    }
}

/// Every row of a query run in `s`.
fn rows(s: &mut stele_sql::SqlSession, sql: &str) -> Vec<Vec<Value>> {
    s.query(sql, &HashMap::new())
        .unwrap()
        .flat_map(|b| b.unwrap())
        .collect()
}

#[test]
fn a_large_result_arrives_in_several_batches() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut session = e.session();
    let mut stream = session
        .query("SELECT id, s FROM t ORDER BY id", &HashMap::new())
        .unwrap();
    assert_eq!(
        stream.columns(),
        [
            ColumnDesc {
                name: "id".into(),
                ty: Some(SqlType::Integer),
                selector: "(t.id)".into(),
            },
            ColumnDesc {
                name: "s".into(),
                ty: Some(SqlType::Varchar),
                selector: "(t.s)".into(),
            }
        ]
    );
    // Rows written after the query started are not seen: the stream reads its snapshot.
    e.execute("INSERT INTO t (id, s) VALUES (-1, 'late')", &HashMap::new())
        .unwrap();
    let batches: Vec<Vec<Vec<Value>>> = stream.by_ref().map(|b| b.unwrap().into_lists()).collect();
    assert!(batches.len() > 1, "{} batch(es)", batches.len());
    assert!(batches.iter().all(|b| !b.is_empty()));
    let ids: Vec<i64> = batches
        .iter()
        .flatten()
        .map(|r| match r[0] {
            Value::Integer(i) => i,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, (0..ROWS).collect::<Vec<_>>());
    assert!(stream.next_batch().unwrap().is_none());
}

#[test]
fn queries_inside_a_transaction_see_its_writes_and_keep_it_open() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut s = e.session();
    s.execute(
        "BEGIN; INSERT INTO t (id, s) VALUES (-5, 'mine')",
        &HashMap::new(),
    )
    .unwrap();
    let mine = rows(&mut s, "SELECT s FROM t WHERE id = -5");
    assert_eq!(mine, [[Value::Varchar("mine".into())]]);
    let count = rows(&mut s, "SELECT COUNT(*) FROM t");
    assert_eq!(count, [[Value::Integer(ROWS + 1)]]);
    // SHOW and EXPLAIN return rows too.
    let tables = rows(&mut s, "SHOW TABLES");
    assert_eq!(tables, [[Value::Varchar("t".into())]]);
    assert!(s.in_transaction());
    s.execute("COMMIT", &HashMap::new()).unwrap();
    assert!(!s.in_transaction());
    assert_eq!(
        rows(&mut e.session(), "SELECT id FROM t WHERE id = -5").len(),
        1
    );
}

#[test]
fn a_statement_that_writes_is_refused_and_cancels_the_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut s = e.session();
    s.execute(
        "BEGIN; INSERT INTO t (id, s) VALUES (-7, 'x')",
        &HashMap::new(),
    )
    .unwrap();
    let err = s
        .query("DELETE FROM t WHERE id = 1", &HashMap::new())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "illegal arguments: a query request holds one statement that returns rows"
    );
    assert!(!s.in_transaction());
    let err = s
        .query("SELECT 1; SELECT 2", &HashMap::new())
        .err()
        .unwrap();
    assert!(err.to_string().contains("one statement"), "{err}");
    // Nothing of the cancelled transaction was written.
    assert!(rows(&mut e.session(), "SELECT id FROM t WHERE id = -7").is_empty());
}

/// Result columns carry the selectors immudb's clients see: `(table.col)`, `(table.alias)`,
/// `(table.colN)` for an unaliased computed value at position N.
#[test]
fn columns_are_named_as_immudb_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut s = e.session();
    for (sql, want) in [
        ("SELECT id, s FROM t WHERE id < 3", vec!["(t.id)", "(t.s)"]),
        ("SELECT COUNT(*) FROM t", vec!["(t.col0)"]),
        (
            "SELECT id, id + 1 FROM t WHERE id < 3",
            vec!["(t.id)", "(t.col1)"],
        ),
        ("SELECT COUNT(*) AS n FROM t", vec!["(t.n)"]),
        // A repeated item is returned again, named as classic names it.
        (
            "SELECT id, id FROM t WHERE id < 2",
            vec!["(t.id)", "(t.id)"],
        ),
        (
            "SELECT COUNT(*), COUNT(*) FROM t",
            vec!["(t.col0)", "(t.col1)"],
        ),
        (
            "SELECT id, t.id FROM t WHERE id < 2",
            vec!["(t.id)", "(t.id)"],
        ),
        (
            "SELECT x.s, s FROM t AS x WHERE s = 's1'",
            vec!["(x.s)", "(x.s)"],
        ),
        // The point-select fast path names them the same way.
        (
            "SELECT s AS name FROM t AS x WHERE id = 1",
            vec!["(x.name)"],
        ),
        ("SELECT id FROM t WHERE id = 1", vec!["(t.id)"]),
        ("SELECT x.id FROM t AS x WHERE x.id > 19990", vec!["(x.id)"]),
        (
            "SELECT a.id, b.s FROM t AS a INNER JOIN t AS b ON a.id = b.id WHERE a.id < 2",
            vec!["(a.id)", "(b.s)"],
        ),
        (
            "SELECT q.id FROM (SELECT id FROM t) AS q WHERE q.id < 2",
            vec!["(q.id)"],
        ),
        ("SELECT id FROM t SINCE TX 1 WHERE id < 2", vec!["(t.id)"]),
    ] {
        let stream = s.query(sql, &HashMap::new()).unwrap();
        let got: Vec<&str> = stream
            .columns()
            .iter()
            .map(|c| c.selector.as_str())
            .collect();
        assert_eq!(got, want, "{sql}");
    }
}

/// A JSON column, and a field of one, are columns of type JSON; an unaliased field access is
/// named after it as classic names it (`d->'a'`, a chain `d->'a->b'`), not `colN`.
#[test]
fn json_results_are_typed_and_named_as_immudb_does() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut s = e.session();
    s.execute(
        "CREATE TABLE j (id INTEGER, d JSON, PRIMARY KEY id); \
         INSERT INTO j (id, d) VALUES (1, '{\"a\": {\"b\": 2}}')",
        &HashMap::new(),
    )
    .unwrap();
    for (sql, want) in [
        (
            "SELECT d, d->'a', d->'a'->'b', d->'a' AS x, JSON_TYPEOF(d) FROM j",
            vec![
                ("(j.d)", "JSON"),
                ("(j.d->'a')", "JSON"),
                ("(j.d->'a->b')", "JSON"),
                ("(j.x)", "JSON"),
                ("(j.col4)", "VARCHAR"),
            ],
        ),
        (
            "SELECT d->'a', d->'a' FROM j",
            vec![("(j.d->'a')", "JSON"), ("(j.d->'a')", "JSON")],
        ),
        // The point-select fast path types a JSON column the same way.
        ("SELECT d FROM j WHERE id = 1", vec![("(j.d)", "JSON")]),
    ] {
        let stream = s.query(sql, &HashMap::new()).unwrap();
        let got: Vec<(&str, &str)> = stream
            .columns()
            .iter()
            .map(|c| (c.selector.as_str(), c.ty.map_or("ANY", |t| t.name())))
            .collect();
        assert_eq!(got, want, "{sql}");
    }
}

/// A key-range scan (the column cache holds only whole tables) hands its rows over as it reads
/// them, in batches, from two partitions that read ahead only a few batches: rows written and
/// changed after the first batch arrived are not seen (every batch reads the query's snapshot),
/// and the rows are all there.
#[test]
fn a_streamed_scan_reads_its_snapshot_batch_after_batch() {
    const MANY: i64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    insert(&e, ROWS..MANY);
    let mut session = e.session();
    let mut stream = session
        .query(
            "SELECT id, s FROM t WHERE id >= 0 AND s <> 'none'",
            &HashMap::new(),
        )
        .unwrap();
    let first = stream.next_batch().unwrap().unwrap();
    e.execute(
        "INSERT INTO t (id, s) VALUES (-1, 'late'), (200000, 'late'); \
         UPDATE t SET s = 'changed' WHERE id = 40000 OR id = 90000; \
         DELETE FROM t WHERE id = 99999 OR id = 49999",
        &HashMap::new(),
    )
    .unwrap();
    // Rows without ORDER BY come in primary-key order: the partitions one after the other.
    let mut got: Vec<Vec<Value>> = first.into_lists();
    got.extend(stream.by_ref().flat_map(|b| b.unwrap()));
    let want: Vec<Vec<Value>> = (0..MANY)
        .map(|i| vec![Value::Integer(i), Value::Varchar(format!("s{i}"))])
        .collect();
    assert!(got == want, "{} rows, not as at the snapshot", got.len());
    // The whole table, read for the column cache and then from it, in two partitions.
    for _ in 0..2 {
        let ids: Vec<Vec<Value>> = rows(&mut e.session(), "SELECT id FROM t");
        let want: Vec<Vec<Value>> = std::iter::once(-1)
            .chain((0..MANY).filter(|i| *i != 49999 && *i != 99999))
            .chain([200000])
            .map(|i| vec![Value::Integer(i)])
            .collect();
        assert!(ids == want, "{} rows, not in key order", ids.len());
    }
    // With a LIMIT, one partition in key order (the late rows are seen by a new query).
    let limited = rows(
        &mut e.session(),
        "SELECT id FROM t WHERE id < 100 AND s <> 'none' LIMIT 3",
    );
    assert_eq!(
        limited,
        [-1, 0, 1].map(|i| vec![Value::Integer(i)]).to_vec()
    );
}

/// A plain key-range select over 1024 keys or more, holding more rows than its first read
/// (64), reads the rest in parts side by side: the rows still come whole and in key order,
/// as the planned query's do, at the current state and at a past tx (where the range's keys
/// are fewer than its span).
#[test]
fn a_long_key_range_is_read_whole_and_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut s = e.session();
    // Tx 2 holds the first 1000 rows, tx 4 rows up to 3000.
    for (period, from, to) in [("", 100, 15_000), (" UNTIL TX 4", 0, 3_000)] {
        let range = format!("SELECT id, s FROM t{period} WHERE id >= {from} AND id < 15000");
        let fast = rows(&mut s, &range);
        let planned = rows(&mut s, &format!("{range} AND s <> 'none' ORDER BY id"));
        let want: Vec<Vec<Value>> = (from..to)
            .map(|i| vec![Value::Integer(i), Value::Varchar(format!("s{i}"))])
            .collect();
        assert!(fast == want, "{range}: {} rows", fast.len());
        assert!(planned == want, "{range} planned: {} rows", planned.len());
    }
}

/// The key-range fast path answers in one batch, so it takes ranges of fewer than 65536 keys
/// (as many rows at most); a wider one is streamed by the planned scan, batch by batch, with
/// the same rows.
#[test]
fn a_key_range_too_wide_for_one_batch_is_streamed() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let mut s = e.session();
    let want: Vec<Vec<Value>> = (5..ROWS)
        .map(|i| vec![Value::Integer(i), Value::Varchar(format!("s{i}"))])
        .collect();
    for (hi, one_batch) in [(65_540, true), (65_541, false)] {
        let sql = format!("SELECT id, s FROM t WHERE id >= 5 AND id <= {hi}");
        let got: Vec<stele_sql::Rows> = s
            .query(&sql, &HashMap::new())
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(got.len() == 1, one_batch, "{sql}: {} batches", got.len());
        let rows: Vec<Vec<Value>> = got.into_iter().flatten().collect();
        assert!(rows == want, "{sql}: {} rows", rows.len());
    }
}
