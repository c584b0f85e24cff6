//! One statement of a request run inside a transaction: DDL to the store, writes to `dml`,
//! queries to `query`.

use crate::bind::ddl::{column_spec, table_spec};
use crate::bind::values::object_name;
use crate::exec::engine::Engine;
use crate::exec::output::{ColumnDesc, Output};
use crate::parse::{self, Period};
use crate::store::{WriteOutcome, WriteSet};
use crate::types::{SqlType, Value};
use crate::{Result, SqlError};
use datafusion::sql::sqlparser::ast::{self as ast, Statement};
use std::collections::HashMap;

impl Engine {
    pub(crate) fn statement(
        &self,
        stmt: Statement,
        periods: &[Period],
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let done = |updated_rows| {
            Output::Done(WriteOutcome {
                updated_rows,
                ..Default::default()
            })
        };
        match stmt {
            Statement::CreateTable(ct) => {
                let spec = table_spec(&ct)?;
                self.store.create_table_in(ws, &spec)?;
                Ok(done(0))
            }
            Statement::CreateIndex(ci) => {
                let table = object_name(&ci.table_name);
                let cols = ci
                    .columns
                    .iter()
                    .map(|c| c.column.expr.to_string().trim_matches('"').to_lowercase())
                    .collect::<Vec<_>>();
                self.store
                    .create_index_in(ws, &table, &cols, ci.unique, ci.if_not_exists)?;
                Ok(done(0))
            }
            Statement::Insert(ins) => self.insert(ins, periods, ws),
            Statement::Delete(del) => self.delete(del, periods, ws),
            Statement::Update(up) => self.update(up, periods, ws),
            Statement::AlterTable(at) => {
                let table = object_name(&at.name);
                for op in &at.operations {
                    use ast::AlterTableOperation as Op;
                    match op {
                        Op::AddColumn { column_def, .. } => {
                            let (spec, pk) = column_spec(column_def)?;
                            if pk {
                                return Err(SqlError::MultiplePrimaryKeys(table));
                            }
                            self.store.add_column_in(ws, &table, &spec)?
                        }
                        Op::RenameColumn {
                            old_column_name,
                            new_column_name,
                        } => self.store.rename_column_in(
                            ws,
                            &table,
                            &old_column_name.value.to_lowercase(),
                            &new_column_name.value.to_lowercase(),
                        )?,
                        Op::DropColumn { column_names, .. } => {
                            for c in column_names {
                                self.store
                                    .drop_column_in(ws, &table, &c.value.to_lowercase())?;
                            }
                        }
                        Op::DropConstraint { name, .. } => {
                            self.store.drop_constraint_in(ws, &table, &name.value)?
                        }
                        Op::RenameTable { table_name } => {
                            let (ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n)) =
                                table_name;
                            self.store.rename_table_in(ws, &table, &object_name(n))?
                        }
                        other => {
                            return Err(SqlError::NotSupported(format!("ALTER TABLE {other}")))
                        }
                    }
                }
                Ok(done(0))
            }
            Statement::Drop {
                object_type,
                if_exists,
                names,
                ..
            } => {
                for n in &names {
                    let name = object_name(n);
                    match object_type {
                        ast::ObjectType::Table => {
                            self.store.drop_table_in(ws, &name, if_exists)?;
                        }
                        ast::ObjectType::Index => {
                            // "t(a,b)" from DROP INDEX ON t (a, b), or t.c
                            let (table, cols) = match name.split_once('(') {
                                Some((t, rest)) => (t.to_string(), rest.trim_end_matches(')').split(',').map(|c| c.trim().to_string()).collect()),
                                None => match name.split_once('.') {
                                    Some((t, c)) => (t.to_string(), vec![c.to_string()]),
                                    None => return Err(SqlError::Parsing(format!("DROP INDEX needs ON table (columns) or table.column, got {name}"))),
                                },
                            };
                            self.store.drop_index_in(ws, &table, &cols)?;
                        }
                        other => return Err(SqlError::NotSupported(format!("DROP {other}"))),
                    }
                }
                Ok(done(0))
            }
            Statement::Query(q) => {
                if let Some((columns, rows)) = self.point_select(&q, periods, ws)? {
                    return Ok(Output::Rows { columns, rows });
                }
                let (columns, rows) = self.query(Statement::Query(q), periods, ws)?;
                Ok(Output::Rows { columns, rows })
            }
            Statement::ShowTables { .. } => {
                let cat = self.store.catalog_in(ws)?;
                let rows = cat
                    .tables
                    .keys()
                    .map(|n| vec![Value::Varchar(n.clone())])
                    .collect();
                Ok(Output::Rows {
                    columns: vec![ColumnDesc::of("tables", "name", Some(SqlType::Varchar))],
                    rows,
                })
            }
            // `SHOW TABLE t`: the rows of `COLUMNS('t')`.
            Statement::ShowVariable { variable }
                if variable.len() == 2 && variable[0].value.eq_ignore_ascii_case("table") =>
            {
                let table = variable[1].value.to_lowercase();
                self.store.catalog_in(ws)?.table(&table)?;
                let stmt = parse::parse(
                    &format!("SELECT * FROM COLUMNS('{}')", table.replace('\'', "''")),
                    &HashMap::new(),
                )?
                .statements
                .remove(0);
                let (columns, rows) = self.query(stmt, periods, ws)?;
                Ok(Output::Rows { columns, rows })
            }
            Statement::Explain { statement, .. } => {
                let lines = self.explain(*statement, periods, ws)?;
                Ok(Output::Rows {
                    columns: vec![ColumnDesc::of("explain", "plan", Some(SqlType::Varchar))],
                    rows: lines.into_iter().map(|l| vec![Value::Varchar(l)]).collect(),
                })
            }
            other => Err(SqlError::NotSupported(format!(
                "statement {}",
                first_words(&other.to_string())
            ))),
        }
    }
}

pub(crate) fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}
