//! SQL calls (spec wire §5): requests run in a session of the database's engine; results go
//! out as `SQLQueryResult` batches; interactive transactions live in a client's session.

use stele_proto::immudb as pb;
use stele_sql::{ExecResult, Output, RowStream, SqlSession, SqlType, Value};

use crate::convert;
use crate::error::{Result, ServerError};
use crate::registry::Database;

/// Rows per `SQLQueryResult` message of a streamed result.
pub const ROWS_PER_MESSAGE: usize = 1000;

/// What a request committed: one `CommittedSQLTx` per tx. Rows changed and keys inserted are
/// counted into the request's last tx (a request commits at most one tx per COMMIT).
pub fn exec_result(r: ExecResult) -> pb::SqlExecResult {
    let mut txs: Vec<pb::CommittedSqlTx> = r
        .committed
        .iter()
        .map(|h| pb::CommittedSqlTx {
            header: Some(convert::header(h)),
            ..Default::default()
        })
        .collect();
    if let Some(last) = txs.last_mut() {
        count_outputs(last, &r.outputs);
    }
    pb::SqlExecResult {
        txs,
        ongoing_tx: r.in_transaction,
    }
}

/// Adds what `outputs` changed to `tx`: rows, and per table the first and last inserted key
/// (for one-column keys, as immudb reports them).
pub fn count_outputs(tx: &mut pb::CommittedSqlTx, outputs: &[Output]) {
    for o in outputs {
        let Output::Done(w) = o else { continue };
        tx.updated_rows += w.updated_rows as u32;
        let Some(table) = &w.inserted_into else {
            continue;
        };
        if let Some([pk]) = w.first_inserted_pk.as_deref() {
            tx.first_inserted_p_ks
                .entry(table.clone())
                .or_insert_with(|| convert::sql_value(pk));
        }
        if let Some([pk]) = w.last_inserted_pk.as_deref() {
            tx.last_inserted_p_ks
                .insert(table.clone(), convert::sql_value(pk));
        }
    }
}

pub fn exec(db: &Database, r: pb::SqlExecRequest) -> Result<pb::SqlExecResult> {
    let params = convert::params(&r.params)?;
    let mut session = SqlSession::shared(db.engine.clone());
    let result = session.execute(&r.sql, &params)?;
    if result.in_transaction {
        // Nobody could end it: a transaction across calls needs a session (NewTx).
        return Err(ServerError::invalid(
            "illegal arguments: the request leaves a transaction open: end it with COMMIT or ROLLBACK, or use an interactive transaction (NewTx)",
        ));
    }
    Ok(exec_result(result))
}

/// The first message of a result: its columns and first rows (none for an empty result).
pub fn first_message(rows: &mut RowStream) -> Result<pb::SqlQueryResult> {
    let columns = rows.columns().iter().map(convert::column).collect();
    Ok(pb::SqlQueryResult {
        columns,
        rows: next_rows(rows)?.unwrap_or_default(),
    })
}

/// Up to [`ROWS_PER_MESSAGE`] rows; `None` at the end.
pub fn next_rows(rows: &mut RowStream) -> Result<Option<Vec<pb::Row>>> {
    let mut out = Vec::new();
    while out.len() < ROWS_PER_MESSAGE {
        match rows.next_batch()? {
            None => break,
            Some(batch) => out.extend(batch.iter().map(convert::row)),
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

pub fn query(db: &Database, r: &pb::SqlQueryRequest) -> Result<RowStream> {
    let params = convert::params(&r.params)?;
    Ok(SqlSession::shared(db.engine.clone()).query(&r.sql, &params)?)
}

fn one_column_result(name: &str, ty: SqlType, values: Vec<Value>) -> pb::SqlQueryResult {
    pb::SqlQueryResult {
        columns: vec![pb::Column {
            name: name.into(),
            r#type: ty.name().into(),
        }],
        rows: values.into_iter().map(|v| convert::row(&[v])).collect(),
    }
}

pub fn list_tables(db: &Database) -> Result<pb::SqlQueryResult> {
    let catalog = db.engine.store().catalog(None)?;
    Ok(one_column_result(
        "TABLE",
        SqlType::Varchar,
        catalog
            .tables
            .keys()
            .map(|t| Value::Varchar(t.clone()))
            .collect(),
    ))
}

pub fn describe_table(db: &Database, r: pb::Table) -> Result<pb::SqlQueryResult> {
    let catalog = db.engine.store().catalog(None)?;
    let rows = catalog.describe(&r.table_name)?;
    Ok(pb::SqlQueryResult {
        columns: stele_sql::catalog::DESCRIBE_COLUMNS
            .iter()
            .map(|(name, ty)| pb::Column {
                name: name.to_string(),
                r#type: ty.name().into(),
            })
            .collect(),
        rows: rows.iter().map(|r| convert::row(r)).collect(),
    })
}
