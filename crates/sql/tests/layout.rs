//! immudb's byte layout, checked against the real dumps in spec immudb-sql.md §3.1–3.2, and the
//! store's rules (ids, conflicts, deletes, time travel, history).

use stele_ledger::proof::{verify::verify_read, EntrySpec, KvMetadata, State};
use stele_ledger::{Ledger, Options};
use stele_sql::encoding::{encode_key_value, row_prefix};
use stele_sql::{ColumnSpec, SqlError, SqlStore, SqlType, TableSpec, TxRange, Value, WriteKind};

fn col(name: &str, ty: SqlType, size: Option<u32>) -> ColumnSpec {
    ColumnSpec {
        name: name.into(),
        ty,
        size,
        not_null: false,
        auto_increment: false,
    }
}

fn spec_table() -> TableSpec {
    // CREATE TABLE t (id INTEGER AUTO_INCREMENT, name VARCHAR[8], age INTEGER, PRIMARY KEY id)
    TableSpec {
        name: "t".into(),
        columns: vec![
            ColumnSpec {
                auto_increment: true,
                ..col("id", SqlType::Integer, None)
            },
            col("name", SqlType::Varchar, Some(8)),
            col("age", SqlType::Integer, None),
        ],
        primary_key: vec!["id".into()],
        checks: vec![],
        if_not_exists: false,
    }
}

fn row(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn catalog_and_row_bytes_match_immudb() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let sql = SqlStore::new(ledger.clone()).unwrap();
    let h = sql.create_table(&spec_table()).unwrap().unwrap();
    let tx = ledger.tx(h.id).unwrap();
    let mut got: Vec<(String, String)> = tx
        .entries
        .iter()
        .map(|e| {
            (
                hex::encode(&e.key),
                hex::encode(ledger.tx_entry_value(&e.key, h.id).unwrap()),
            )
        })
        .collect();
    got.sort();
    let hexs = |s: &str| hex::encode(s);
    let mut want = vec![
        (
            format!("02{}000000010000000100000000", hexs("CTL.INDEX.")),
            "010000000100".to_string(),
        ),
        (
            format!(
                "02{}000000010000000100000001{}",
                hexs("CTL.COLUMN."),
                hexs("INTEGER")
            ),
            format!("0200000008{}", hexs("id")),
        ),
        (
            format!(
                "02{}000000010000000100000002{}",
                hexs("CTL.COLUMN."),
                hexs("VARCHAR")
            ),
            format!("0000000008{}", hexs("name")),
        ),
        (
            format!(
                "02{}000000010000000100000003{}",
                hexs("CTL.COLUMN."),
                hexs("INTEGER")
            ),
            format!("0000000008{}", hexs("age")),
        ),
        (
            format!("02{}0000000100000001", hexs("CTL.TABLE.")),
            hexs("t"),
        ),
    ];
    want.sort();
    assert_eq!(got, want);

    // INSERT INTO t (name, age) VALUES ('ann', 30); INSERT INTO t (name) VALUES ('bob')
    let out = sql
        .write_rows(
            "t",
            vec![(
                WriteKind::Insert,
                row(&[
                    ("name", Value::Varchar("ann".into())),
                    ("age", Value::Integer(30)),
                ]),
            )],
        )
        .unwrap();
    assert_eq!(out.first_inserted_pk, Some(vec![Value::Integer(1)]));
    let e = &ledger.tx(out.tx.as_ref().unwrap().id).unwrap().entries[0];
    assert_eq!(
        hex::encode(&e.key),
        format!(
            "02{}00000001000000010000000080{}",
            hexs("R."),
            "8000000000000001"
        )
    );
    let v = ledger
        .tx_entry_value(&e.key, out.tx.as_ref().unwrap().id)
        .unwrap();
    assert_eq!(
        hex::encode(v),
        format!("00000003000000010000000800000000000000010000000200000003{}0000000300000008000000000000001e", hexs("ann"))
    );
    let out = sql
        .write_rows(
            "t",
            vec![(
                WriteKind::Insert,
                row(&[("name", Value::Varchar("bob".into()))]),
            )],
        )
        .unwrap();
    let e = &ledger.tx(out.tx.as_ref().unwrap().id).unwrap().entries[0];
    let v = ledger
        .tx_entry_value(&e.key, out.tx.as_ref().unwrap().id)
        .unwrap();
    assert_eq!(
        hex::encode(v),
        format!(
            "00000002000000010000000800000000000000020000000200000003{}",
            hexs("bob")
        )
    );
}

#[test]
fn key_encodings_preserve_order() {
    let ints = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
    let enc: Vec<Vec<u8>> = ints
        .iter()
        .map(|i| encode_key_value(&Value::Integer(*i), SqlType::Integer, 8).unwrap())
        .collect();
    assert!(enc.windows(2).all(|w| w[0] < w[1]));
    let floats = [f64::NEG_INFINITY, -2.5, -0.0, 0.0, 1e-9, 3.5, f64::INFINITY];
    let enc: Vec<Vec<u8>> = floats
        .iter()
        .map(|f| encode_key_value(&Value::Float(*f), SqlType::Float, 8).unwrap())
        .collect();
    assert!(enc.windows(2).all(|w| w[0] < w[1]));
    let s = encode_key_value(&Value::Varchar("ab".into()), SqlType::Varchar, 4).unwrap();
    assert_eq!(hex::encode(s), "806162000000000002");
    assert_eq!(
        encode_key_value(&Value::Null, SqlType::Integer, 8).unwrap(),
        vec![0x20]
    );
    assert!(encode_key_value(&Value::Varchar("abcde".into()), SqlType::Varchar, 4).is_err());
    // TIMESTAMP keys carry nanoseconds.
    let ts = encode_key_value(&Value::Timestamp(1), SqlType::Timestamp, 8).unwrap();
    assert_eq!(hex::encode(ts), "8080000000000003e8");
}

#[test]
fn create_table_rules_and_error_texts() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let sql = SqlStore::new(ledger.clone()).unwrap();
    let err = |spec: TableSpec| sql.create_table(&spec).unwrap_err().to_string();
    let base = |cols: Vec<ColumnSpec>, pk: &[&str]| TableSpec {
        name: "x".into(),
        columns: cols,
        primary_key: pk.iter().map(|s| s.to_string()).collect(),
        checks: vec![],
        if_not_exists: false,
    };
    assert_eq!(
        err(base(vec![col("a", SqlType::Integer, None)], &[])),
        "no primary key specified"
    );
    assert_eq!(
        err(base(vec![col("a", SqlType::Integer, Some(4))], &["a"])),
        "only VARCHAR and BLOB types support max length"
    );
    assert_eq!(
        err(base(
            vec![
                col("a", SqlType::Integer, None),
                col("a", SqlType::Integer, None)
            ],
            &["a"]
        )),
        "duplicated column (a)"
    );
    assert_eq!(
        err(base(vec![col("_rev", SqlType::Integer, None)], &["_rev"])),
        "reserved word(_rev)"
    );
    assert_eq!(
        err(base(vec![col("a", SqlType::Integer, None)], &["b"])),
        "column does not exist (b)"
    );
    assert!(err(base(vec![col("s", SqlType::Varchar, None)], &["s"]))
        .starts_with("indexed key of unsupported type or exceeded length"));
    assert_eq!(
        err(base(vec![col("j", SqlType::Json, None)], &["j"])),
        "cannot index column of type JSON"
    );
    let auto_str = ColumnSpec {
        auto_increment: true,
        ..col("s", SqlType::Varchar, Some(8))
    };
    assert_eq!(
        err(base(vec![auto_str], &["s"])),
        "only INTEGER single-column primary keys can be set as auto incremental"
    );
    let nine: Vec<ColumnSpec> = (0..9)
        .map(|i| col(&format!("c{i}"), SqlType::Integer, None))
        .collect();
    let names: Vec<String> = (0..9).map(|i| format!("c{i}")).collect();
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        err(base(nine, &refs)),
        "number of columns in multi-column index exceeded"
    );
    assert_eq!(ledger.state().tx_id, 0, "rejected DDL writes nothing");

    sql.create_table(&spec_table()).unwrap();
    assert_eq!(
        sql.create_table(&spec_table()).unwrap_err().to_string(),
        "table already exists (t)"
    );
    assert!(sql
        .create_table(&TableSpec {
            if_not_exists: true,
            ..spec_table()
        })
        .unwrap()
        .is_none());
    assert_eq!(
        ledger.state().tx_id,
        1,
        "IF NOT EXISTS on an existing table writes nothing"
    );
    let cat = sql.catalog(None).unwrap();
    let t = cat.table("t").unwrap();
    assert_eq!(
        (t.id, t.columns.len(), t.primary_key().columns.clone()),
        (1, 3, vec![1])
    );
    assert!(t.columns[0].auto_increment && !t.columns[0].not_null);
    assert_eq!(
        cat.table("nope").unwrap_err().to_string(),
        "table does not exist (nope)"
    );
}

#[test]
fn writes_reads_time_travel_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let sql = SqlStore::new(ledger.clone()).unwrap();
    let spec = TableSpec {
        name: "p".into(),
        columns: vec![
            col("id", SqlType::Integer, None),
            ColumnSpec {
                not_null: true,
                ..col("v", SqlType::Varchar, Some(4))
            },
        ],
        primary_key: vec!["id".into()],
        checks: vec![],
        if_not_exists: false,
    };
    sql.create_table(&spec).unwrap(); // tx 1
    let w = |kind, id: i64, v: &str| {
        sql.write_rows(
            "p",
            vec![(
                kind,
                row(&[("id", Value::Integer(id)), ("v", Value::Varchar(v.into()))]),
            )],
        )
    };
    let tx2 = w(WriteKind::Insert, 1, "a").unwrap().tx.unwrap().id;
    w(WriteKind::Insert, 2, "b").unwrap();
    assert!(matches!(
        w(WriteKind::Insert, 1, "z"),
        Err(SqlError::KeyAlreadyExists)
    ));
    assert_eq!(
        w(WriteKind::InsertOrIgnore, 1, "z").unwrap().tx,
        None,
        "nothing to write, no tx"
    );
    w(WriteKind::Upsert, 1, "a2").unwrap(); // tx 4
    w(WriteKind::Delete, 2, "").unwrap(); // tx 5
    assert_eq!(w(WriteKind::Delete, 2, "").unwrap().updated_rows, 0);
    assert_eq!(
        w(WriteKind::Insert, 3, "toolong").unwrap_err().to_string(),
        "max length exceeded: table: p, column: v"
    );
    let null_v = sql.write_rows(
        "p",
        vec![(WriteKind::Insert, row(&[("id", Value::Integer(9))]))],
    );
    assert_eq!(
        null_v.unwrap_err().to_string(),
        "not nullable column can not be null (v)"
    );
    let null_pk = sql.write_rows(
        "p",
        vec![(WriteKind::Insert, row(&[("v", Value::Varchar("x".into()))]))],
    );
    assert_eq!(
        null_pk.unwrap_err().to_string(),
        "primary key can not be null"
    );
    assert_eq!(ledger.state().tx_id, 5);

    let cat = sql.catalog(None).unwrap();
    let t = cat.table("p").unwrap();
    let vals = |rows: Vec<stele_sql::Row>| rows.into_iter().map(|r| r.values).collect::<Vec<_>>();
    let row_of = |id: i64, v: &str| vec![Value::Integer(id), Value::Varchar(v.into())];
    assert_eq!(
        vals(sql.scan(t, TxRange { from: 1, until: 5 }, 0).unwrap()),
        vec![row_of(1, "a2")]
    );
    assert_eq!(
        vals(sql.scan(t, TxRange { from: 1, until: 3 }, 0).unwrap()),
        vec![row_of(1, "a"), row_of(2, "b")]
    );
    // SINCE TX 4: only rows whose newest in-range version was written at 4 or later (and alive).
    assert_eq!(
        vals(sql.scan(t, TxRange { from: 4, until: 5 }, 0).unwrap()),
        vec![row_of(1, "a2")]
    );
    assert_eq!(
        vals(sql.scan(t, TxRange { from: 3, until: 3 }, 0).unwrap()),
        vec![row_of(2, "b")]
    );
    let hist = sql.history(t, 5).unwrap();
    let summary: Vec<(Vec<Value>, u64, bool)> = hist
        .into_iter()
        .map(|r| (r.values, r.revision, r.deleted))
        .collect();
    assert_eq!(
        summary,
        vec![
            (row_of(1, "a"), 1, false),
            (row_of(1, "a2"), 2, false),
            (row_of(2, "b"), 1, false),
            (row_of(2, "b"), 2, true)
        ]
    );
    assert_eq!(
        sql.get(t, &[Value::Integer(1)], tx2)
            .unwrap()
            .unwrap()
            .values,
        row_of(1, "a")
    );

    // A row's proof is an ordinary ledger proof over the key an immudb client rebuilds.
    let pk = encode_key_value(&Value::Integer(1), SqlType::Integer, 8).unwrap();
    let key = [row_prefix(t.id), pk].concat();
    let entry = ledger.get(&key, None).unwrap();
    let p = ledger.entry_proof(entry.tx, &key).unwrap();
    let client = State {
        db: "defaultdb".into(),
        tx_id: 2,
        tx_hash: ledger.header(2).unwrap().alh().unwrap(),
    };
    let dual = ledger.dual_proof(2, entry.tx).unwrap();
    let spec = EntrySpec {
        key,
        metadata: KvMetadata::default(),
        value: entry.value,
    };
    verify_read(&client, &spec, entry.tx, &p.inclusion, &dual).unwrap();
}

#[test]
fn auto_increment_and_unique_index_rules() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let sql = SqlStore::new(ledger.clone()).unwrap();
    sql.create_table(&spec_table()).unwrap();
    let ins = |pairs: &[(&str, Value)]| sql.write_rows("t", vec![(WriteKind::Insert, row(pairs))]);
    ins(&[("name", Value::Varchar("a".into()))]).unwrap();
    ins(&[("name", Value::Varchar("b".into()))]).unwrap();
    let out = ins(&[("id", Value::Integer(10))]).unwrap();
    assert_eq!(out.last_inserted_pk, Some(vec![Value::Integer(10)]));
    sql.write_rows(
        "t",
        vec![(WriteKind::Delete, row(&[("id", Value::Integer(10))]))],
    )
    .unwrap();
    // Deleted ids are not reused.
    let out = ins(&[("name", Value::Varchar("c".into()))]).unwrap();
    assert_eq!(out.first_inserted_pk, Some(vec![Value::Integer(11)]));
    assert_eq!(
        ins(&[("id", Value::Integer(5))]).unwrap_err().to_string(),
        "invalid value provided: specified value must be greater than current one"
    );
    assert_eq!(
        sql.create_index("t", &["name".into()], true, false)
            .unwrap_err()
            .to_string(),
        "unique index creation is only supported on empty tables"
    );
    sql.create_index("t", &["name".into()], false, false)
        .unwrap();
    assert_eq!(
        sql.create_index("t", &["name".into()], false, false)
            .unwrap_err()
            .to_string(),
        "index already exists"
    );
    assert!(sql
        .create_index("t", &["name".into()], false, true)
        .unwrap()
        .is_none());
    let cat = sql.catalog(None).unwrap();
    assert_eq!(cat.table("t").unwrap().indexes.len(), 2);
}

#[test]
fn check_constraint_bytes_match_immudb() {
    // CREATE TABLE t (..., CONSTRAINT positive_age CHECK (age >= 0), CHECK (age < 200), ...)
    let dir = tempfile::tempdir().unwrap();
    let ledger = std::sync::Arc::new(Ledger::open(dir.path(), Options::default()).unwrap());
    let sql = SqlStore::new(ledger.clone()).unwrap();
    let spec = TableSpec {
        checks: vec![
            (Some("positive_age".into()), "(age >= 0)".into()),
            (None, "(age < 200)".into()),
        ],
        ..spec_table()
    };
    let h = sql.create_table(&spec).unwrap().unwrap();
    let checks: Vec<(String, String)> = ledger
        .tx(h.id)
        .unwrap()
        .entries
        .iter()
        .filter(|e| e.key.starts_with(b"\x02CTL.CHECK."))
        .map(|e| {
            (
                hex::encode(&e.key),
                hex::encode(ledger.tx_entry_value(&e.key, h.id).unwrap()),
            )
        })
        .collect();
    let hexs = |s: &str| hex::encode(s);
    // Key: CTL.CHECK.{db 1}{table 1}{check id}; value: {nameLen-1}{name}{expression text}.
    assert_eq!(
        checks,
        vec![
            (
                format!("02{}000000010000000100000001", hexs("CTL.CHECK.")),
                format!("0b{}{}", hexs("positive_age"), hexs("(age >= 0)")),
            ),
            (
                format!("02{}000000010000000100000002", hexs("CTL.CHECK.")),
                format!("07{}{}", hexs("t_check2"), hexs("(age < 200)")),
            ),
        ]
    );
    let cat = sql.catalog(None).unwrap();
    let names: Vec<&str> = cat.tables["t"]
        .checks
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["positive_age", "t_check2"]);
}
