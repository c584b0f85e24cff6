//! `EVENTS([type [, tag]])`: the DCB event store's events as a read-only table, read at the
//! statement's snapshot. A period after the call, as after a table name
//! (`EVENTS('enrolled') SINCE TX 3 UNTIL TX 9`), keeps the events appended by the period's
//! txs, read as of its end: what the stream looked like then (events never change; a tx only
//! adds them, so `WHERE tx <= n` says the same).
//!
//! Columns: `position`, `type`, `tags` (a JSON array), `data` (BLOB), `uuid` (NULL when the
//! event has none), `tx` (the ledger tx that appended it) and `ts` (that tx's time). A type
//! and/or a tag given as arguments select events through the store's indexes (stele-events);
//! other filters apply as in any query. Outside the event database there are no events, so
//! the table is empty.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::Expr;
use stele_ledger::proof::TxId;
use stele_ledger::Ledger;
use stele_proto::umadb as pb;

use crate::error::SqlError;
use crate::plan::errors::external;

pub(crate) struct EventsFunction {
    pub ledger: Arc<Ledger>,
    /// The tx the events are read at (a period's end).
    pub snapshot: TxId,
    /// The first tx whose events are included (a period's start; 0: all).
    pub since: TxId,
}

impl std::fmt::Debug for EventsFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventsFunction(at tx {})", self.snapshot)
    }
}

fn events_error(e: stele_events::EventError) -> datafusion::error::DataFusionError {
    match e {
        stele_events::EventError::Ledger(l) => external(SqlError::Ledger(l)),
        other => external(SqlError::IllegalArguments(format!("events: {other}"))),
    }
}

/// An argument: a string, or NULL for "any".
fn text(e: &Expr) -> Option<Option<String>> {
    match e {
        Expr::Literal(ScalarValue::Utf8(v) | ScalarValue::Utf8View(v), _) => Some(v.clone()),
        Expr::Literal(ScalarValue::Null, _) => Some(None),
        _ => None,
    }
}

fn json_array(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

impl TableFunctionImpl for EventsFunction {
    fn call_with_args(
        &self,
        args: TableFunctionArgs,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        let bad = || {
            external(SqlError::IllegalArguments(
                "EVENTS() takes an event type and a tag, each a string or NULL".into(),
            ))
        };
        let (ty, tag) = match args.exprs() {
            [] => (None, None),
            [a] => (text(a).ok_or_else(bad)?, None),
            [a, b] => (text(a).ok_or_else(bad)?, text(b).ok_or_else(bad)?),
            _ => return Err(bad()),
        };
        let query = match (&ty, &tag) {
            (None, None) => pb::Query::default(),
            _ => pb::Query {
                items: vec![pb::QueryItem {
                    types: ty.into_iter().collect(),
                    tags: tag.into_iter().collect(),
                }],
            },
        };
        let view = stele_events::view_at(&self.ledger, self.snapshot).map_err(events_error)?;
        let events =
            stele_events::find(&self.ledger, view, &query, 1, view.head, false, usize::MAX)
                .map_err(events_error)?;
        let mut times: HashMap<TxId, i64> = HashMap::new();
        let (mut pos, mut types, mut tags, mut data, mut uuids, mut txs, mut ts) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for e in &events {
            let key = stele_events::keys::stored(&stele_events::keys::event_key(e.position));
            let tx = match self
                .ledger
                .get_latest(&key, self.snapshot)
                .map_err(|l| external(l.into()))?
            {
                Some(entry) if entry.tx >= self.since => entry.tx,
                _ => continue,
            };
            let time = match times.get(&tx) {
                Some(t) => *t,
                None => {
                    let t = self.ledger.header(tx).map_err(|l| external(l.into()))?.ts * 1_000_000;
                    times.insert(tx, t);
                    t
                }
            };
            let ev = e.event.clone().unwrap_or_default();
            pos.push(e.position as i64);
            types.push(ev.event_type);
            tags.push(json_array(&ev.tags));
            data.push(ev.data);
            uuids.push((!ev.uuid.is_empty()).then_some(ev.uuid));
            txs.push(tx as i64);
            ts.push(time);
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("position", DataType::Int64, false),
            Field::new("type", DataType::Utf8, false),
            Field::new("tags", DataType::Utf8, false),
            Field::new("data", DataType::Binary, false),
            Field::new("uuid", DataType::Utf8, true),
            Field::new("tx", DataType::Int64, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, None),
                false,
            ),
        ]));
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(pos)),
            Arc::new(StringArray::from(types)),
            Arc::new(StringArray::from(tags)),
            Arc::new(BinaryArray::from_iter_values(data)),
            Arc::new(StringArray::from(uuids)),
            Arc::new(Int64Array::from(txs)),
            Arc::new(TimestampMicrosecondArray::from(ts)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        Ok(Arc::new(datafusion::datasource::MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?))
    }
}
