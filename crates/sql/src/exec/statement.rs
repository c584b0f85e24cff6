//! One bound statement of a request run inside a transaction: DDL to the store, writes to
//! `dml`, queries to `query` (or the point-read fast path).

use crate::bind::select;
use crate::bind::statement::{AlterOp, Bound};
use crate::error::{Result, SqlError};
use crate::exec::engine::Engine;
use crate::exec::output::{ColumnDesc, Output};
use crate::store::{WriteOutcome, WriteSet};
use crate::types::{Rows, SqlType, Value};
use datafusion::sql::sqlparser::ast::Statement;

impl Engine {
    /// Runs one statement in `ws`. Transaction control (BEGIN, COMMIT, ROLLBACK) is the
    /// session's and is refused here.
    pub(crate) fn statement(&self, stmt: Bound, ws: &mut WriteSet) -> Result<Output> {
        let done = |updated_rows| {
            Output::Done(WriteOutcome {
                updated_rows,
                ..Default::default()
            })
        };
        let store = &self.store;
        match stmt {
            Bound::CreateTable(spec) => {
                store.create_table_in(ws, &spec)?;
                Ok(done(0))
            }
            Bound::CreateIndex {
                table,
                columns,
                unique,
                if_not_exists,
            } => {
                store.create_index_in(ws, &table, &columns, unique, if_not_exists)?;
                Ok(done(0))
            }
            Bound::Insert {
                target,
                source,
                sources,
            } => self.insert(target, source, &sources, ws),
            Bound::Delete {
                table,
                relation,
                filter,
                sources,
            } => self.delete(&table, relation, filter, &sources, ws),
            Bound::Update {
                table,
                relation,
                sets,
                filter,
                sources,
            } => self.update(&table, relation, sets, filter, &sources, ws),
            Bound::AlterTable { table, ops } => {
                for op in ops {
                    match op {
                        AlterOp::AddColumn(spec) => store.add_column_in(ws, &table, &spec)?,
                        AlterOp::RenameColumn { old, new } => {
                            store.rename_column_in(ws, &table, &old, &new)?
                        }
                        AlterOp::DropColumn(c) => store.drop_column_in(ws, &table, &c)?,
                        AlterOp::DropConstraint(name) => {
                            store.drop_constraint_in(ws, &table, &name)?
                        }
                        AlterOp::RenameTable(new) => store.rename_table_in(ws, &table, &new)?,
                    }
                }
                Ok(done(0))
            }
            Bound::DropTables { names, if_exists } => {
                for name in &names {
                    store.drop_table_in(ws, name, if_exists)?;
                }
                Ok(done(0))
            }
            Bound::DropIndexes(indexes) => {
                for (table, columns) in &indexes {
                    store.drop_index_in(ws, table, columns)?;
                }
                Ok(done(0))
            }
            Bound::Query(mut q) => {
                self.planner().hinted_order(&mut q, ws)?;
                // The point-read fast path first, in `query`.
                let (columns, rows) = self.query(Statement::Query(q.query), &q.sources, ws)?;
                Ok(Output::Rows { columns, rows })
            }
            Bound::ShowTables => {
                let cat = store.catalog_in(ws)?;
                let rows = Rows::from_lists(
                    1,
                    cat.tables.keys().map(|n| vec![Value::Varchar(n.clone())]),
                );
                Ok(Output::Rows {
                    columns: vec![ColumnDesc::of("tables", "name", Some(SqlType::Varchar))],
                    rows,
                })
            }
            Bound::ShowTable(table) => {
                store.catalog_in(ws)?.table(&table)?;
                let stmt = select::table_function("columns", &table);
                let (columns, rows) = self.query(stmt, &[], ws)?;
                Ok(Output::Rows { columns, rows })
            }
            Bound::Explain { statement, sources } => {
                let lines = self.explain(*statement, &sources, ws)?;
                Ok(Output::Rows {
                    columns: vec![ColumnDesc::of("explain", "plan", Some(SqlType::Varchar))],
                    rows: Rows::from_lists(1, lines.into_iter().map(|l| vec![Value::Varchar(l)])),
                })
            }
            Bound::Begin | Bound::Commit | Bound::Rollback => Err(SqlError::IllegalArguments(
                "transaction control is a session's".into(),
            )),
        }
    }
}
