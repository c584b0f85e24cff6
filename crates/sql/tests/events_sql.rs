//! `EVENTS([type [, tag]])`: the event store's events read through SQL, selected by type and
//! tag, at the statement's snapshot (and so as of any past tx).

use std::collections::HashMap;
use std::sync::Arc;

use stele_events::EventStore;
use stele_ledger::{Ledger, Options};
use stele_proto::umadb as pb;
use stele_sql::{Engine, Output, Value};

fn ev(ty: &str, tags: &[&str]) -> pb::Event {
    pb::Event {
        event_type: ty.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        data: ty.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn rows(engine: &Engine, sql: &str) -> Vec<Vec<Value>> {
    let out = engine.execute(sql, &HashMap::new()).unwrap();
    match out.into_iter().last() {
        Some(Output::Rows { rows, .. }) => rows.into_lists(),
        other => panic!("{sql}: no rows: {other:?}"),
    }
}

fn ints(engine: &Engine, sql: &str) -> Vec<i64> {
    rows(engine, sql)
        .into_iter()
        .map(|r| match r[0] {
            Value::Integer(i) => i,
            ref v => panic!("{sql}: {v:?}"),
        })
        .collect()
}

#[test]
fn events_are_a_table_selected_by_type_and_tag_at_any_tx() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(dir.path().join("dcb"), Options::default()).unwrap());
    let store = EventStore::open(ledger.clone(), 1024).unwrap();
    let append = |events| {
        store
            .append(pb::AppendRequest {
                events,
                ..Default::default()
            })
            .unwrap()
    };
    append(vec![ev("A", &["t1"])]);
    let first_tx = ledger.state().tx_id;
    append(vec![ev("B", &["t1", "t2"]), ev("C", &[])]);
    let engine = Engine::new(ledger.clone()).unwrap();

    assert_eq!(
        ints(&engine, "SELECT position FROM EVENTS()"),
        vec![1, 2, 3]
    );
    assert_eq!(ints(&engine, "SELECT position FROM EVENTS('B')"), vec![2]);
    assert_eq!(
        ints(&engine, "SELECT position FROM EVENTS(NULL, 't1')"),
        vec![1, 2]
    );
    assert_eq!(
        ints(&engine, "SELECT position FROM EVENTS('A', 't2')"),
        Vec::<i64>::new()
    );
    // Other filters apply as in any query; tx is the appending tx, so a stream as of a past tx
    // is the events of txs up to it.
    assert_eq!(
        ints(
            &engine,
            &format!("SELECT COUNT(*) FROM EVENTS() WHERE tx <= {first_tx}")
        ),
        vec![1]
    );
    assert_eq!(
        ints(
            &engine,
            "SELECT position FROM EVENTS() WHERE type <> 'A' ORDER BY position DESC"
        ),
        vec![3, 2]
    );
    let r = rows(
        &engine,
        "SELECT type, tags, data, uuid, tx FROM EVENTS('B')",
    );
    assert_eq!(
        r,
        vec![vec![
            Value::Varchar("B".into()),
            Value::Varchar("[\"t1\",\"t2\"]".into()),
            Value::Blob(b"B".to_vec()),
            Value::Null,
            Value::Integer(first_tx as i64 + 1),
        ]]
    );
    let err = engine
        .execute("SELECT * FROM EVENTS(1)", &HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("EVENTS() takes an event type and a tag"),
        "{err}"
    );
}
