//! Snapshots of EXPLAIN output (which access path and snapshot each scan uses) and of error
//! messages users see.

use std::collections::HashMap;
use std::sync::Arc;

use stele_ledger::{Ledger, Options};
use stele_sql::{Engine, Output, Value};

fn engine(dir: &tempfile::TempDir) -> Engine {
    let e = Engine::new(Arc::new(
        Ledger::open(dir.path(), Options::default()).unwrap(),
    ))
    .unwrap();
    e.execute(
        "CREATE TABLE t (id INTEGER, k VARCHAR[8], v INTEGER, PRIMARY KEY (id, k));
         CREATE TABLE u (id INTEGER, w VARCHAR[8], PRIMARY KEY id)",
        &HashMap::new(),
    )
    .unwrap();
    e.execute("INSERT INTO t (id, k, v) VALUES (1, 'a', 10), (2, 'b', 20); INSERT INTO u (id, w) VALUES (1, 'x')", &HashMap::new())
        .unwrap();
    e
}

/// The rows of the last statement's output.
fn last_rows(mut outputs: Vec<Output>) -> Vec<Vec<Value>> {
    match outputs.pop() {
        Some(Output::Rows { rows, .. }) => rows.into_lists(),
        other => panic!("{other:?}"),
    }
}

/// EXPLAIN's scan lines (DataFusion's own plan lines vary with its version; ours do not).
fn scans(e: &Engine, sql: &str) -> String {
    let out = e
        .execute(&format!("EXPLAIN {sql}"), &HashMap::new())
        .unwrap();
    let Some(Output::Rows { rows, .. }) = out.into_iter().last() else {
        panic!("no rows")
    };
    rows.into_iter()
        .filter_map(|r| match &r[0] {
            Value::Varchar(l) if l.starts_with("LedgerScan") => Some(l.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn explain_shows_index_and_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    insta::assert_snapshot!(
        "point_lookup",
        scans(&e, "SELECT v FROM t WHERE id = 1 AND k = 'a'")
    );
    insta::assert_snapshot!(
        "partial_key_is_a_prefix_range",
        scans(&e, "SELECT v FROM t WHERE id = 1")
    );
    insta::assert_snapshot!(
        "time_travel",
        scans(&e, "SELECT v FROM t BEFORE TX 2 WHERE id = 2 AND k = 'b'")
    );
    insta::assert_snapshot!(
        "pk_range",
        scans(&e, "SELECT w FROM u WHERE id > 0 AND id <= 5 AND w = 'x'")
    );
    insta::assert_snapshot!(
        "join",
        scans(
            &e,
            "SELECT t.v, u.w FROM t INNER JOIN u ON t.id = u.id WHERE u.id = 1"
        )
    );
    // A query with a repeated item is explained as it runs (both its items kept).
    assert_eq!(
        scans(&e, "SELECT w, w FROM u WHERE id > 0 AND id <= 5"),
        scans(&e, "SELECT w FROM u WHERE id > 0 AND id <= 5")
    );
}

#[test]
fn explain_names_secondary_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.execute(
        "CREATE INDEX ON t (v); CREATE TABLE p (id INTEGER, a INTEGER, b VARCHAR[4], c FLOAT, PRIMARY KEY id);
         CREATE INDEX ON p (a, b); CREATE INDEX ON p (c)",
        &HashMap::new(),
    )
    .unwrap();
    insta::assert_snapshot!("index_equality", scans(&e, "SELECT id FROM t WHERE v = 10"));
    insta::assert_snapshot!(
        "index_range",
        scans(&e, "SELECT id FROM t WHERE v >= 10 AND v < 20")
    );
    insta::assert_snapshot!(
        "index_in",
        scans(&e, "SELECT id FROM t WHERE v IN (10, 20, 30, 40)")
    );
    insta::assert_snapshot!(
        "two_column_index",
        scans(&e, "SELECT id FROM p WHERE a = 1 AND b > 'x'")
    );
    insta::assert_snapshot!(
        "second_column_alone_is_no_range",
        scans(&e, "SELECT id FROM p WHERE b = 'x'")
    );
    insta::assert_snapshot!(
        "float_is_not_pushed",
        scans(&e, "SELECT id FROM p WHERE c = 1.5")
    );
    insta::assert_snapshot!(
        "index_time_travel",
        scans(&e, "SELECT id FROM t SINCE TX 1 UNTIL TX 2 WHERE v = 10")
    );
    insta::assert_snapshot!(
        "pk_in_list",
        scans(&e, "SELECT w FROM u WHERE id IN (1, 2, 3, 4)")
    );
}

#[test]
fn point_lookups_return_what_a_scan_would() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let rows = |sql: &str| last_rows(e.execute(sql, &HashMap::new()).unwrap());
    assert_eq!(
        rows("SELECT v FROM t WHERE id = 2 AND k = 'b'"),
        vec![vec![Value::Integer(20)]]
    );
    assert_eq!(
        rows("SELECT v FROM t WHERE id = 2 AND k = 'a'"),
        Vec::<Vec<Value>>::new()
    );
    assert_eq!(
        rows("SELECT v FROM t WHERE k = 'b' AND id = 2 AND v > 5"),
        vec![vec![Value::Integer(20)]]
    );
    assert_eq!(
        rows("SELECT v FROM t WHERE k = 'b' AND id = 2 AND v > 25"),
        Vec::<Vec<Value>>::new()
    );
    // Inside a transaction the lookup sees the transaction's own writes.
    let mut s = e.session();
    s.execute(
        "BEGIN; UPSERT INTO t (id, k, v) VALUES (2, 'b', 21)",
        &HashMap::new(),
    )
    .unwrap();
    let r = s
        .execute("SELECT v FROM t WHERE id = 2 AND k = 'b'", &HashMap::new())
        .unwrap();
    assert_eq!(
        r.outputs,
        vec![Output::Rows {
            columns: vec![stele_sql::ColumnDesc {
                name: "v".into(),
                ty: Some(stele_sql::SqlType::Integer),
                selector: "(t.v)".into(),
            }],
            rows: stele_sql::Rows::from_lists(1, [vec![Value::Integer(21)]])
        }]
    );
    s.execute("ROLLBACK", &HashMap::new()).unwrap();
    assert_eq!(
        rows("SELECT v FROM t WHERE id = 2 AND k = 'b'"),
        vec![vec![Value::Integer(20)]]
    );
}

/// The point-select fast path (no DataFusion) answers exactly what the general path answers:
/// `AND 1 = 1` sends the same query down the general path.
#[test]
fn point_select_fast_path_matches_general_path() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.execute(
        "UPSERT INTO u (id, w) VALUES (1, 'y'); INSERT INTO u (id, w) VALUES (5, NULL)",
        &HashMap::new(),
    )
    .unwrap();
    let run = |s: &mut stele_sql::SqlSession, sql: &str| {
        last_rows(s.execute(sql, &HashMap::new()).unwrap().outputs)
    };
    let mut s = e.session();
    for q in [
        "SELECT * FROM u WHERE id = 1",
        "SELECT w FROM u WHERE id = 5",
        "SELECT w, id FROM u WHERE id = 7",
        "SELECT v, k FROM t WHERE k = 'b' AND id = 2",
        "SELECT w FROM u UNTIL TX 2 WHERE id = 1",
        "SELECT w FROM u SINCE TX 3 WHERE id = 1",
        "SELECT id FROM u WHERE id = 5.0",
    ] {
        let fast = run(&mut s, q);
        let general = run(&mut s, &format!("{q} AND 1 = 1"));
        assert_eq!(fast, general, "{q}");
    }
    // Errors too: a key compared with a value of another kind.
    let err = |s: &mut stele_sql::SqlSession, sql: &str| {
        s.execute(sql, &HashMap::new()).unwrap_err().to_string()
    };
    let q = "SELECT id FROM u WHERE id = '5'";
    assert_eq!(err(&mut s, q), "values are not comparable");
    assert_eq!(err(&mut s, q), err(&mut s, &format!("{q} AND 1 = 1")));
    s.execute(
        "BEGIN; DELETE FROM u WHERE id = 1; INSERT INTO u (id, w) VALUES (8, 'z')",
        &HashMap::new(),
    )
    .unwrap();
    for q in [
        "SELECT w FROM u WHERE id = 1",
        "SELECT w FROM u WHERE id = 8",
    ] {
        assert_eq!(
            run(&mut s, q),
            run(&mut s, &format!("{q} AND 1 = 1")),
            "{q} in a transaction"
        );
    }
}

#[test]
fn error_messages() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let err = |sql: &str| e.execute(sql, &HashMap::new()).unwrap_err().to_string();
    insta::assert_snapshot!(
        "errors",
        [
            "CREATE TABLE t (id INTEGER, PRIMARY KEY id)",
            "CREATE TABLE x (id INTEGER)",
            "CREATE TABLE x (id INTEGER[4], PRIMARY KEY id)",
            "CREATE TABLE x (id INTEGER, s VARCHAR, PRIMARY KEY s)",
            "CREATE TABLE x (j JSON, PRIMARY KEY j)",
            "CREATE TABLE x (_rev INTEGER, PRIMARY KEY _rev)",
            "INSERT INTO t (id, k, v) VALUES (1, 'a', 1)",
            "INSERT INTO t (id, k) VALUES (1, 'far too long')",
            "INSERT INTO nope (id) VALUES (1)",
            "INSERT INTO u (id, nope) VALUES (3, 'x')",
            "UPDATE u SET id = 2 WHERE id = 1",
            "SELECT * FROM t RIGHT JOIN u ON t.id = u.id",
            "SELECT * FROM t FULL JOIN u ON t.id = u.id",
            "SELECT * FROM t BEFORE TX 1",
            "SELECT * FROM t UNTIL TX 0",
            "COMMIT",
            "SELECT @missing",
            "SELECT id FROM u WHERE w = 5",
            "SELECT id FROM u UNION SELECT w FROM u",
            "SELECT id + NULL FROM u",
            "SELECT nosuchfn(id) FROM u",
        ]
        .iter()
        .map(|q| format!("{q}\n  -> {}", err(q)))
        .collect::<Vec<_>>()
        .join("\n")
    );
    // Raised inside DataFusion (a JSON field of another kind), in the same words.
    e.execute(
        "CREATE TABLE j (id INTEGER, d JSON, PRIMARY KEY id); INSERT INTO j (id, d) VALUES (1, '{\"a\": \"x\"}')",
        &HashMap::new(),
    )
    .unwrap();
    assert_eq!(
        err("SELECT id FROM j WHERE d->'a' = 5"),
        "values are not comparable"
    );
}

/// Snapshot isolation with optimistic conflict detection: a transaction that wrote a row
/// someone else changed after its snapshot fails at COMMIT with a retryable error and writes
/// nothing; a transaction on other rows commits.
#[test]
fn conflicting_transactions_abort_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let p = HashMap::new();
    let mut a = e.session();
    let mut b = e.session();
    a.execute("BEGIN; UPDATE u SET w = 'from a' WHERE id = 1", &p)
        .unwrap();
    b.execute("BEGIN; UPDATE u SET w = 'from b' WHERE id = 1", &p)
        .unwrap();
    let committed = b.execute("COMMIT", &p).unwrap().committed;
    assert_eq!(committed.len(), 1);
    let before = e.store().ledger().state().tx_id;
    let err = a.execute("COMMIT", &p).unwrap_err();
    assert_eq!(err.to_string(), "tx read conflict");
    assert_eq!(
        e.store().ledger().state().tx_id,
        before,
        "the losing transaction wrote nothing"
    );
    assert!(!a.in_transaction());
    let rows = last_rows(e.execute("SELECT w FROM u WHERE id = 1", &p).unwrap());
    assert_eq!(rows, vec![vec![Value::Varchar("from b".into())]]);

    // Disjoint rows do not conflict; a retry after the conflict succeeds.
    a.execute("BEGIN; INSERT INTO u (id, w) VALUES (20, 'a')", &p)
        .unwrap();
    b.execute("BEGIN; INSERT INTO u (id, w) VALUES (21, 'b')", &p)
        .unwrap();
    assert_eq!(b.execute("COMMIT", &p).unwrap().committed.len(), 1);
    assert_eq!(a.execute("COMMIT", &p).unwrap().committed.len(), 1);
    a.execute("UPDATE u SET w = 'from a' WHERE id = 1", &p)
        .unwrap();
}

/// Opens a transaction in `a` that runs `read` and writes a marker row, lets `other` commit
/// from another session, and commits `a`: the commit's error, if any (the marker row is undone
/// after a commit that went through).
fn read_then_commit(
    e: &Engine,
    a: &mut stele_sql::SqlSession,
    read: &str,
    other: &str,
) -> Option<String> {
    let p = HashMap::new();
    a.execute(
        &format!("BEGIN; {read}; INSERT INTO t (id, k, v) VALUES (99, 'z', 1)"),
        &p,
    )
    .unwrap();
    e.execute(other, &p).unwrap();
    let out = a.execute("COMMIT", &p);
    if out.is_ok() {
        e.execute("DELETE FROM t WHERE id = 99", &p).unwrap();
    }
    out.err().map(|err| err.to_string())
}

/// What a transaction read decides its commit too: a row it read and another transaction
/// changed, or a row another transaction added to a range it read (a phantom), aborts it.
/// Writes outside what it read do not.
#[test]
fn reads_conflict_with_later_writes_to_what_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let p = HashMap::new();
    e.execute(
        "INSERT INTO u (id, w) VALUES (10, 'ten'), (20, 'twenty'), (30, 'thirty')",
        &p,
    )
    .unwrap();
    let mut a = e.session();
    let conflict = |a: &mut stele_sql::SqlSession, read: &str, other: &str| {
        read_then_commit(&e, a, read, other)
    };
    let conflicted = Some("tx read conflict".to_string());
    // A range read, then an insert inside it: a phantom.
    assert_eq!(
        conflict(
            &mut a,
            "SELECT COUNT(*) FROM u WHERE id >= 10 AND id <= 30",
            "INSERT INTO u (id, w) VALUES (15, 'x')"
        ),
        conflicted
    );
    // ... an insert outside it: none.
    assert_eq!(
        conflict(
            &mut a,
            "SELECT COUNT(*) FROM u WHERE id >= 10 AND id <= 30",
            "INSERT INTO u (id, w) VALUES (40, 'x')"
        ),
        None
    );
    // A point read, then an update of that row, or of another.
    assert_eq!(
        conflict(
            &mut a,
            "SELECT w FROM u WHERE id = 20",
            "UPDATE u SET w = 'changed' WHERE id = 20"
        ),
        conflicted
    );
    assert_eq!(
        conflict(
            &mut a,
            "SELECT w FROM u WHERE id = 20",
            "UPDATE u SET w = 'changed' WHERE id = 30"
        ),
        None
    );
    // A scan on a non-key column reads the whole table.
    assert_eq!(
        conflict(
            &mut a,
            "SELECT id FROM u WHERE w = 'ten'",
            "INSERT INTO u (id, w) VALUES (50, 'x')"
        ),
        conflicted
    );
    // Writes to another table never conflict with these reads.
    assert_eq!(
        conflict(
            &mut a,
            "SELECT id FROM u WHERE w = 'ten'",
            "INSERT INTO t (id, k, v) VALUES (7, 'q', 1)"
        ),
        None
    );
    // A read-only transaction commits nothing, so it never conflicts.
    a.execute("BEGIN; SELECT * FROM u", &p).unwrap();
    e.execute("INSERT INTO u (id, w) VALUES (60, 'x')", &p)
        .unwrap();
    assert!(a.execute("COMMIT", &p).unwrap().committed.is_empty());
}

/// A read through a secondary index conflicts on the index range it read and on the rows it
/// read, not on the whole table: a row entering or leaving the range, or a change to a row
/// read, aborts the transaction; writes elsewhere in the table do not.
#[test]
fn index_reads_conflict_on_their_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let p = HashMap::new();
    e.execute(
        "CREATE TABLE g (id INTEGER, a INTEGER, note VARCHAR[8], PRIMARY KEY id); \
         CREATE INDEX ON g (a); \
         INSERT INTO g (id, a, note) VALUES (1, 3, 'x'), (2, 5, 'y'), (3, 3, 'z'), (4, 8, 'w')",
        &p,
    )
    .unwrap();
    let mut s = e.session();
    let mut case = |read: &str, other: &str| read_then_commit(&e, &mut s, read, other);
    let conflicted = Some("tx read conflict".to_string());
    let read = "SELECT id, note FROM g WHERE a >= 3 AND a <= 5";
    // The scan goes through the index.
    let plan = e.execute(&format!("EXPLAIN {read}"), &p).unwrap();
    assert!(format!("{plan:?}").contains("index g(a)"), "{plan:?}");
    // A new row inside the range (a phantom), a row moved into it, a row moved out of it.
    assert_eq!(
        case(read, "INSERT INTO g (id, a) VALUES (10, 4)"),
        conflicted
    );
    assert_eq!(case(read, "UPDATE g SET a = 4 WHERE id = 4"), conflicted);
    assert_eq!(case(read, "UPDATE g SET a = 9 WHERE id = 2"), conflicted);
    // A row read, changed in a column outside the index.
    assert_eq!(
        case(read, "UPDATE g SET note = 'q' WHERE id = 3"),
        conflicted
    );
    // Rows outside the range, and a new row outside it: no conflict (the whole table was
    // the read set before).
    assert_eq!(case(read, "UPDATE g SET note = 'q' WHERE id = 2"), None);
    assert_eq!(case(read, "INSERT INTO g (id, a) VALUES (11, 7)"), None);
    assert_eq!(case(read, "UPDATE g SET a = 9 WHERE id = 11"), None);
}

/// The catalog cache never serves a stale catalog, even to another engine on the same ledger.
#[test]
fn catalog_cache_follows_ddl_from_any_engine() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let a = Engine::new(ledger.clone()).unwrap();
    let b = Engine::new(ledger).unwrap();
    let p = HashMap::new();
    a.execute("CREATE TABLE x (id INTEGER, PRIMARY KEY id)", &p)
        .unwrap();
    b.execute("INSERT INTO x (id) VALUES (1)", &p).unwrap();
    b.execute("ALTER TABLE x ADD COLUMN note VARCHAR[8]", &p)
        .unwrap();
    a.execute("UPSERT INTO x (id, note) VALUES (1, 'seen')", &p)
        .unwrap();
    a.execute("DROP TABLE x", &p).unwrap();
    assert_eq!(
        b.execute("SELECT * FROM x", &p).unwrap_err().to_string(),
        "table does not exist (x)"
    );
    // Time travel reads past rows through today's catalog, as immudb does: a dropped table is gone.
    let old = b.execute("SELECT note FROM x UNTIL TX 4", &p);
    assert_eq!(
        old.unwrap_err().to_string(),
        "table does not exist (x)",
        "the table is gone from today's catalog"
    );
}

/// Schema changes and row writes that overlap abort the later commit: rows written under an
/// old schema would miss a new index, and an index back-fill would miss rows committed after
/// its snapshot. Concurrent inserts of one UNIQUE value: the second commit aborts.
#[test]
fn ddl_and_unique_conflicts_abort_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    let p = HashMap::new();
    let count = |sql: &str| last_rows(e.execute(sql, &p).unwrap());

    // A row insert racing CREATE INDEX: whichever commits second aborts.
    let mut a = e.session();
    a.execute("BEGIN; INSERT INTO u (id, w) VALUES (30, 'race')", &p)
        .unwrap();
    e.execute("CREATE INDEX ON u (w)", &p).unwrap();
    assert_eq!(
        a.execute("COMMIT", &p).unwrap_err().to_string(),
        "tx read conflict"
    );

    let mut b = e.session();
    b.execute("BEGIN; CREATE INDEX ON t (v)", &p).unwrap();
    e.execute("INSERT INTO t (id, k, v) VALUES (9, 'z', 99)", &p)
        .unwrap();
    assert_eq!(
        b.execute("COMMIT", &p).unwrap_err().to_string(),
        "tx read conflict"
    );
    // Retried, the index covers the row.
    e.execute("CREATE INDEX ON t (v)", &p).unwrap();
    assert_eq!(
        count("SELECT id FROM t WHERE v = 99"),
        vec![vec![Value::Integer(9)]]
    );

    // Two transactions take the same UNIQUE value: the second to commit aborts.
    e.execute(
        "CREATE TABLE m (id INTEGER, email VARCHAR[16], PRIMARY KEY id); CREATE UNIQUE INDEX ON m (email)",
        &p,
    )
    .unwrap();
    let mut c = e.session();
    let mut d = e.session();
    c.execute("BEGIN; INSERT INTO m (id, email) VALUES (1, 'same')", &p)
        .unwrap();
    d.execute("BEGIN; INSERT INTO m (id, email) VALUES (2, 'same')", &p)
        .unwrap();
    c.execute("COMMIT", &p).unwrap();
    assert_eq!(
        d.execute("COMMIT", &p).unwrap_err().to_string(),
        "tx read conflict"
    );
    // The retry sees the committed value and gets the classic error.
    assert_eq!(
        e.execute("INSERT INTO m (id, email) VALUES (2, 'same')", &p)
            .unwrap_err()
            .to_string(),
        "key already exists"
    );
    assert_eq!(
        count("SELECT id FROM m WHERE email = 'same'"),
        vec![vec![Value::Integer(1)]]
    );
}

/// A template's query runs unbound, its parameters read by the fast path where its key
/// conditions use them: it answers as the same text with literals does, and as the general
/// path does, errors included, through `execute` and through the streamed `query`.
#[test]
fn parameters_read_by_the_fast_path_answer_as_bound_literals_do() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.execute(
        "INSERT INTO u (id, w) VALUES (2, 'b'), (3, NULL), (4, 'd'), (9, 'i')",
        &HashMap::new(),
    )
    .unwrap();
    // A template's query runs on the template itself, its parameters read where its key
    // conditions use them; the same text with a literal instead of each parameter, and
    // `AND 1 = 1` (no fast path), must answer alike, errors included, through `execute` and
    // through the streamed `query`.
    let p = |pairs: &[(&str, Value)]| -> HashMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let cases: Vec<(&str, HashMap<String, Value>, &str)> = vec![
        (
            "SELECT * FROM u WHERE id = @id",
            p(&[("id", Value::Integer(4))]),
            "SELECT * FROM u WHERE id = 4",
        ),
        (
            "SELECT w FROM u WHERE id = @id",
            p(&[("id", Value::Integer(7))]),
            "SELECT w FROM u WHERE id = 7",
        ),
        (
            "SELECT id FROM u WHERE id = @id",
            p(&[("id", Value::Float(3.0))]),
            "SELECT id FROM u WHERE id = 3.0",
        ),
        (
            "SELECT id FROM u WHERE id = @id",
            p(&[("id", Value::Float(-0.0))]),
            "SELECT id FROM u WHERE id = -0.0",
        ),
        (
            "SELECT id FROM u WHERE id = @id",
            p(&[("id", Value::Null)]),
            "SELECT id FROM u WHERE id = NULL",
        ),
        (
            "SELECT id FROM u WHERE id = @id",
            p(&[("id", Value::Varchar("3".into()))]),
            "SELECT id FROM u WHERE id = '3'",
        ),
        (
            "SELECT id, w FROM u WHERE id >= @lo AND id < @hi",
            p(&[("lo", Value::Integer(2)), ("hi", Value::Integer(9))]),
            "SELECT id, w FROM u WHERE id >= 2 AND id < 9",
        ),
        (
            "SELECT id FROM u WHERE @lo <= id",
            p(&[("lo", Value::Integer(-5))]),
            "SELECT id FROM u WHERE -5 <= id",
        ),
        (
            "SELECT v, k FROM t WHERE k = @k AND id = @id",
            p(&[("k", Value::Varchar("b".into())), ("id", Value::Integer(2))]),
            "SELECT v, k FROM t WHERE k = 'b' AND id = 2",
        ),
        (
            "SELECT id FROM u WHERE id = @id + 1",
            p(&[("id", Value::Integer(1))]),
            "SELECT id FROM u WHERE id = 1 + 1",
        ),
        (
            "SELECT @x, id FROM u WHERE id = @id",
            p(&[("x", Value::Integer(7)), ("id", Value::Integer(2))]),
            "SELECT 7, id FROM u WHERE id = 2",
        ),
        (
            "SELECT w FROM u WHERE id = @id",
            p(&[("other", Value::Integer(2))]),
            "SELECT w FROM u WHERE id = @id",
        ),
    ];
    let answer = |r: stele_sql::Result<Vec<Vec<Value>>>| match r {
        Ok(rows) => format!("{rows:?}"),
        Err(e) => format!("error: {e}"),
    };
    let mut s = e.session();
    for (template, params, literal) in cases {
        for _ in 0..2 {
            let fast = answer(s.execute(template, &params).map(|r| last_rows(r.outputs)));
            let streamed = answer(s.query(template, &params).and_then(|rows| {
                rows.collect::<stele_sql::Result<Vec<_>>>()
                    .map(|b| b.iter().flat_map(|b| b.to_lists()).collect())
            }));
            let bound = answer(
                s.execute(literal, &HashMap::new())
                    .map(|r| last_rows(r.outputs)),
            );
            let general = answer(
                s.execute(&format!("{literal} AND 1 = 1"), &HashMap::new())
                    .map(|r| last_rows(r.outputs)),
            );
            assert_eq!(fast, bound, "{template} {params:?}");
            assert_eq!(streamed, bound, "{template} {params:?}, streamed");
            if !literal.contains('@') {
                assert_eq!(bound, general, "{literal}");
            }
        }
    }
}

/// A parameterised statement is parsed once and bound per request: every type binds, each
/// request sees its own values, and a missing parameter is an error each time.
#[test]
fn parameters_bind_into_cached_statements() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(&dir);
    e.execute(
        "CREATE TABLE typed (id INTEGER, f FLOAT, b BOOLEAN, s VARCHAR[8], bl BLOB[4], ts TIMESTAMP, u UUID, PRIMARY KEY id)",
        &HashMap::new(),
    )
    .unwrap();
    let insert =
        "INSERT INTO typed (id, f, b, s, bl, ts, u) VALUES (@id, @f, @b, @s, @bl, @ts, @u)";
    let row = |id: i64| {
        vec![
            Value::Integer(id),
            Value::Float(-1.5 * id as f64),
            Value::Boolean(id % 2 == 0),
            Value::Varchar(format!("it's {id}")),
            Value::Blob(vec![id as u8, 0xff]),
            Value::Timestamp(-1_000_123 * id),
            Value::Uuid([id as u8; 16]),
        ]
    };
    let names = ["id", "f", "b", "s", "bl", "ts", "u"];
    for id in [-3i64, 1, 2] {
        let params: HashMap<String, Value> =
            names.iter().map(|n| n.to_string()).zip(row(id)).collect();
        e.execute(insert, &params).unwrap();
    }
    let select = "SELECT id, f, b, s, bl, ts, u FROM typed WHERE id = @id";
    for id in [2i64, -3, 1] {
        let params = HashMap::from([("id".to_string(), Value::Integer(id))]);
        assert_eq!(
            last_rows(e.execute(select, &params).unwrap()),
            vec![row(id)]
        );
    }
    for _ in 0..2 {
        assert_eq!(
            e.execute(select, &HashMap::new()).unwrap_err().to_string(),
            "missing parameter(id)"
        );
    }
    // A TIMESTAMP parameter binds as microseconds (a built to_timestamp_micros call).
    let by_ts = "SELECT id FROM typed WHERE ts = @ts";
    let ts = HashMap::from([("ts".to_string(), Value::Timestamp(-1_000_123 * 2))]);
    assert_eq!(
        last_rows(e.execute(by_ts, &ts).unwrap()),
        vec![vec![Value::Integer(2)]]
    );
    // A text too long to keep as a template binds its parameters the same way.
    let long = format!(
        "SELECT id FROM typed WHERE id = @id AND s <> '{}'",
        "x".repeat(5000)
    );
    let one = HashMap::from([("id".to_string(), Value::Integer(1))]);
    assert_eq!(
        last_rows(e.execute(&long, &one).unwrap()),
        vec![vec![Value::Integer(1)]]
    );
    // A parameter inside a period's instant is a placeholder of the template too.
    let at = "SELECT COUNT(*) FROM typed UNTIL TX @tx";
    let count = |tx: i64| {
        last_rows(
            e.execute(at, &HashMap::from([("tx".to_string(), Value::Integer(tx))]))
                .unwrap(),
        )
    };
    let last = e.store().ledger().state().tx_id as i64;
    assert_eq!(count(last), vec![vec![Value::Integer(3)]]);
    assert_eq!(count(last - 1), vec![vec![Value::Integer(2)]]);
}
