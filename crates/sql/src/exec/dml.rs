//! INSERT, UPSERT, UPDATE and DELETE: their rows evaluated (constants directly, anything else
//! by planning a query built as a syntax tree), then written by the store.

use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, SelectItem, Statement, TableFactor};

use crate::bind::request::InsertTarget;
use crate::bind::select;
use crate::bind::sources::BoundSource;
use crate::bind::statement::InsertSource;
use crate::bind::values::eval_const;
use crate::error::{Result, SqlError};
use crate::exec::engine::Engine;
use crate::exec::output::Output;
use crate::store::{WriteKind, WriteSet};
use crate::types::Value;

impl Engine {
    /// `INSERT` / `UPSERT`: VALUES rows or a query's rows.
    pub(crate) fn insert(
        &self,
        target: InsertTarget,
        source: InsertSource,
        sources: &[BoundSource],
        ws: &mut WriteSet,
    ) -> Result<Output> {
        // The table is looked up before any value is evaluated.
        self.store.catalog_in(ws)?.table(&target.table)?;
        let rows: Vec<Vec<Value>> = match source {
            InsertSource::Values(values) => {
                let mut rows = Vec::with_capacity(values.len());
                for r in values {
                    let mut row = Vec::with_capacity(r.len());
                    for e in r {
                        row.push(match eval_const(&e) {
                            Some(v) => v,
                            None => {
                                let (_, out) = self.query(select::value(e), sources, ws)?;
                                out.get(0)
                                    .and_then(|r| r.first().cloned())
                                    .unwrap_or(Value::Null)
                            }
                        });
                    }
                    rows.push(row);
                }
                rows
            }
            InsertSource::Query(q) => self.query(Statement::Query(q), sources, ws)?.1.into_lists(),
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

    /// `DELETE FROM t [WHERE cond]`: the primary keys of the matching rows, deleted.
    pub(crate) fn delete(
        &self,
        table: &str,
        relation: TableFactor,
        filter: Option<SqlExpr>,
        sources: &[BoundSource],
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(table)?;
        let pk: Vec<String> = t.pk_columns().iter().map(|c| c.name.clone()).collect();
        let projection = pk.iter().map(|c| select::column(c)).collect();
        let stmt = select::select(Some(relation), projection, filter);
        let (_, rows) = self.query(stmt, sources, ws)?;
        Ok(Output::Done(self.store.write_rows_in(
            ws,
            t,
            &pk,
            WriteKind::Delete,
            rows.into_lists(),
        )?))
    }

    /// `UPDATE t SET c = e, ... [WHERE cond]`: each matching row is rewritten whole, its
    /// columns and the assignments' values read by one query.
    pub(crate) fn update(
        &self,
        table: &str,
        relation: TableFactor,
        sets: Vec<(String, SqlExpr)>,
        filter: Option<SqlExpr>,
        sources: &[BoundSource],
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(table)?;
        let pk: Vec<u32> = t.primary_key().columns.clone();
        let mut targets = Vec::with_capacity(sets.len());
        for (col, _) in &sets {
            let c = t.column(col)?;
            if pk.contains(&c.id) {
                return Err(SqlError::PkCanNotBeUpdated);
            }
            targets.push(t.columns.iter().position(|x| x.id == c.id).unwrap_or(0));
        }
        let all: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let projection: Vec<SelectItem> = all
            .iter()
            .map(|c| select::column(c))
            .chain(sets.into_iter().map(|(_, e)| SelectItem::UnnamedExpr(e)))
            .collect();
        let stmt = select::select(Some(relation), projection, filter);
        let (_, rows) = self.query(stmt, sources, ws)?;
        let mut writes = Vec::with_capacity(rows.len());
        for mut row in rows.into_lists() {
            let new = row.split_off(all.len());
            for (at, v) in targets.iter().zip(new) {
                row[*at] = v;
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
