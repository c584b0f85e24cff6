//! INSERT, UPSERT, UPDATE and DELETE: their rows evaluated, then written by the store.

use crate::bind::request::{insert_target, InsertTarget};
use crate::bind::values::{eval_const, object_name};
use crate::exec::engine::Engine;
use crate::exec::output::Output;
use crate::parse::{self, Period};
use crate::store::{WriteKind, WriteSet};
use crate::types::Value;
use crate::{Result, SqlError};
use datafusion::sql::sqlparser::ast::{self as ast, FromTable, SetExpr, Statement, TableFactor};
use std::collections::HashMap;

impl Engine {
    pub(crate) fn insert(
        &self,
        ins: ast::Insert,
        periods: &[Period],
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let target = insert_target(&ins)?;
        // The table is looked up before any value is evaluated.
        self.store.catalog_in(ws)?.table(&target.table)?;
        let source = ins
            .source
            .ok_or_else(|| SqlError::IllegalArguments("INSERT needs VALUES or a query".into()))?;
        let rows: Vec<Vec<Value>> = match source.body.as_ref() {
            SetExpr::Values(values) => {
                let mut rows = Vec::with_capacity(values.rows.len());
                for r in &values.rows {
                    let mut row = Vec::with_capacity(r.content.len());
                    for e in &r.content {
                        row.push(match eval_const(e) {
                            Some(v) => v,
                            None => {
                                let stmt = parse::parse(&format!("SELECT {e}"), &HashMap::new())?
                                    .statements
                                    .remove(0);
                                let (_, mut out) = self.query(stmt, periods, ws)?;
                                out.pop().and_then(|mut r| r.pop()).unwrap_or(Value::Null)
                            }
                        });
                    }
                    rows.push(row);
                }
                rows
            }
            _ => self.query(Statement::Query(source), periods, ws)?.1,
        };
        self.insert_rows(&target, rows, ws)
    }

    /// Writes an INSERT's evaluated rows.
    pub(crate) fn insert_rows(
        &self,
        target: &InsertTarget,
        rows: Vec<Vec<Value>>,
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(&target.table)?;
        let all;
        let columns: &[String] = if target.columns.is_empty() {
            all = t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            &all
        } else {
            &target.columns
        };
        if rows.iter().any(|r| r.len() != columns.len()) {
            return Err(SqlError::InvalidNumberOfValues);
        }
        Ok(Output::Done(self.store.write_rows_in(
            ws,
            t,
            columns,
            target.kind,
            rows,
        )?))
    }

    pub(crate) fn delete(
        &self,
        del: ast::Delete,
        periods: &[Period],
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let tables = match &del.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
        };
        let [from] = tables.as_slice() else {
            return Err(SqlError::NotSupported("DELETE from several tables".into()));
        };
        let TableFactor::Table { name, .. } = &from.relation else {
            return Err(SqlError::NotSupported("DELETE from a sub-query".into()));
        };
        let table = object_name(name);
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(&table)?;
        let pk: Vec<String> = t.pk_columns().iter().map(|c| c.name.clone()).collect();
        let filter = del
            .selection
            .as_ref()
            .map(|e| format!(" WHERE {e}"))
            .unwrap_or_default();
        let stmt = parse::parse(
            &format!("SELECT {} FROM {table}{filter}", pk.join(", ")),
            &HashMap::new(),
        )?
        .statements
        .remove(0);
        let (_, rows) = self.query(stmt, periods, ws)?;
        Ok(Output::Done(self.store.write_rows_in(
            ws,
            t,
            &pk,
            WriteKind::Delete,
            rows,
        )?))
    }
}

impl Engine {
    /// `UPDATE t SET c = e, ... [WHERE cond]`: each matching row is rewritten whole.
    pub(crate) fn update(
        &self,
        up: ast::Update,
        periods: &[Period],
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let TableFactor::Table { name, .. } = &up.table.relation else {
            return Err(SqlError::NotSupported("UPDATE of a sub-query".into()));
        };
        let table = object_name(name);
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(&table)?;
        let pk: Vec<u32> = t.primary_key().columns.clone();
        let mut sets = Vec::with_capacity(up.assignments.len());
        for a in &up.assignments {
            let col = a.target.to_string().trim_matches('"').to_lowercase();
            let c = t.column(&col)?;
            if pk.contains(&c.id) {
                return Err(SqlError::PkCanNotBeUpdated);
            }
            sets.push((col, a.value.to_string()));
        }
        let all: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let exprs: Vec<String> = sets.iter().map(|(_, e)| e.clone()).collect();
        let filter = up
            .selection
            .as_ref()
            .map(|e| format!(" WHERE {e}"))
            .unwrap_or_default();
        let sql = format!(
            "SELECT {}, {} FROM {table}{filter}",
            all.join(", "),
            exprs.join(", ")
        );
        let stmt = parse::parse(&sql, &HashMap::new())?.statements.remove(0);
        let (_, rows) = self.query(stmt, periods, ws)?;
        let mut writes = Vec::with_capacity(rows.len());
        for mut row in rows {
            let new = row.split_off(all.len());
            for ((col, _), v) in sets.iter().zip(new) {
                row[all.iter().position(|n| n == col).unwrap()] = v;
            }
            writes.push(row);
        }
        Ok(Output::Done(self.store.write_rows_in(
            ws,
            t,
            &all,
            WriteKind::Upsert,
            writes,
        )?))
    }
}
