//! Statements bound to our own types: what each DDL and write statement does, in the store's
//! terms (names folded, specs built), with the user's expressions kept as syntax trees for the
//! planner. The executor runs these, never sqlparser's statements.

use datafusion::sql::sqlparser::ast::{
    self as ast, Expr as SqlExpr, FromTable, SetExpr, Statement, TableFactor,
};

use crate::bind::ddl::{column_spec, table_spec};
use crate::bind::request::{insert_target, InsertTarget};
use crate::bind::sources::{bind_sources, table_named, BoundSource};
use crate::bind::values::object_name;
use crate::error::{Result, SqlError};
use crate::parse::{IndexHint, Period};
use crate::store::{ColumnSpec, TableSpec};

/// One statement, bound.
#[derive(Debug)]
pub(crate) enum Bound {
    CreateTable(TableSpec),
    CreateIndex {
        table: String,
        columns: Vec<String>,
        unique: bool,
        if_not_exists: bool,
    },
    /// `ALTER TABLE`: its operations, run in order.
    AlterTable {
        table: String,
        ops: Vec<AlterOp>,
    },
    DropTables {
        names: Vec<String>,
        if_exists: bool,
    },
    /// `DROP INDEX`: each index by its table and columns.
    DropIndexes(Vec<(String, Vec<String>)>),
    Insert {
        target: InsertTarget,
        source: InsertSource,
        /// The sources its values' and query's references read.
        sources: Vec<BoundSource>,
    },
    /// `UPDATE`: the assignments (column, value expression) of the rows `filter` selects.
    Update {
        table: String,
        relation: TableFactor,
        sets: Vec<(String, SqlExpr)>,
        filter: Option<SqlExpr>,
        sources: Vec<BoundSource>,
    },
    Delete {
        table: String,
        relation: TableFactor,
        filter: Option<SqlExpr>,
        sources: Vec<BoundSource>,
    },
    Query(BoundQuery),
    ShowTables,
    /// `SHOW TABLE t`: the rows of `COLUMNS('t')`.
    ShowTable(String),
    /// `EXPLAIN query`.
    Explain {
        statement: Box<Statement>,
        sources: Vec<BoundSource>,
    },
    Begin,
    Commit,
    Rollback,
}

/// One operation of `ALTER TABLE`.
#[derive(Debug)]
pub(crate) enum AlterOp {
    AddColumn(ColumnSpec),
    RenameColumn { old: String, new: String },
    DropColumn(String),
    DropConstraint(String),
    RenameTable(String),
}

/// Where an INSERT's rows come from.
#[derive(Debug)]
pub(crate) enum InsertSource {
    /// VALUES rows: each value an expression (constants are evaluated without planning).
    Values(Vec<Vec<SqlExpr>>),
    Query(Box<ast::Query>),
}

/// A query, bound: the planner plans `query` over the current state of the tables it names
/// and over `sources`, the references with a period or `HISTORY OF` (renamed to their
/// handles); `hints` are its `USE INDEX ON` hints, by the name or alias they follow.
#[derive(Debug)]
pub(crate) struct BoundQuery {
    pub(crate) query: Box<ast::Query>,
    pub(crate) sources: Vec<BoundSource>,
    pub(crate) hints: Vec<IndexHint>,
}

/// Binds one parsed statement; `periods` and `hints` are those the parser cut out of the
/// request's text (each statement's references take their own, by location).
pub(crate) fn bind(mut stmt: Statement, periods: &[Period], hints: &[IndexHint]) -> Result<Bound> {
    let sources = match periods.is_empty() {
        true => Vec::new(),
        false => bind_sources(&mut stmt, periods),
    };
    Ok(match stmt {
        Statement::CreateTable(ct) => Bound::CreateTable(table_spec(&ct)?),
        Statement::CreateIndex(ci) => Bound::CreateIndex {
            table: object_name(&ci.table_name),
            columns: ci
                .columns
                .iter()
                .map(|c| c.column.expr.to_string().trim_matches('"').to_lowercase())
                .collect(),
            unique: ci.unique,
            if_not_exists: ci.if_not_exists,
        },
        Statement::Insert(ins) => {
            let target = insert_target(&ins)?;
            let source = ins.source.ok_or_else(|| {
                SqlError::IllegalArguments("INSERT needs VALUES or a query".into())
            })?;
            let source = match *source {
                ast::Query { body, .. } if matches!(*body, SetExpr::Values(_)) => {
                    let SetExpr::Values(values) = *body else {
                        unreachable!("matched above")
                    };
                    InsertSource::Values(values.rows.into_iter().map(|r| r.content).collect())
                }
                query => InsertSource::Query(Box::new(query)),
            };
            Bound::Insert {
                target,
                source,
                sources,
            }
        }
        Statement::Update(up) => {
            let relation = up.table.relation;
            let TableFactor::Table { name, .. } = &relation else {
                return Err(SqlError::NotSupported("UPDATE of a sub-query".into()));
            };
            let table = table_named(&sources, name);
            let sets = up
                .assignments
                .into_iter()
                .map(|a| {
                    (
                        a.target.to_string().trim_matches('"').to_lowercase(),
                        a.value,
                    )
                })
                .collect();
            Bound::Update {
                table,
                relation,
                sets,
                filter: up.selection,
                sources,
            }
        }
        Statement::Delete(del) => {
            let tables = match del.from {
                FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
            };
            let Ok([from]) = <[_; 1]>::try_from(tables) else {
                return Err(SqlError::NotSupported("DELETE from several tables".into()));
            };
            let TableFactor::Table { name, .. } = &from.relation else {
                return Err(SqlError::NotSupported("DELETE from a sub-query".into()));
            };
            Bound::Delete {
                table: table_named(&sources, name),
                relation: from.relation,
                filter: del.selection,
                sources,
            }
        }
        Statement::AlterTable(at) => {
            let table = object_name(&at.name);
            let mut ops = Vec::with_capacity(at.operations.len());
            for op in at.operations {
                use ast::AlterTableOperation as Op;
                let op = match op {
                    Op::AddColumn { column_def, .. } => {
                        let (spec, pk) = column_spec(&column_def)?;
                        if pk {
                            return Err(SqlError::MultiplePrimaryKeys(table));
                        }
                        AlterOp::AddColumn(spec)
                    }
                    Op::RenameColumn {
                        old_column_name,
                        new_column_name,
                    } => AlterOp::RenameColumn {
                        old: old_column_name.value.to_lowercase(),
                        new: new_column_name.value.to_lowercase(),
                    },
                    Op::DropColumn { column_names, .. } => {
                        ops.extend(
                            column_names
                                .iter()
                                .map(|c| AlterOp::DropColumn(c.value.to_lowercase())),
                        );
                        continue;
                    }
                    Op::DropConstraint { name, .. } => AlterOp::DropConstraint(name.value),
                    Op::RenameTable { table_name } => {
                        let (ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n)) =
                            &table_name;
                        AlterOp::RenameTable(object_name(n))
                    }
                    other => return Err(SqlError::NotSupported(format!("ALTER TABLE {other}"))),
                };
                ops.push(op);
            }
            Bound::AlterTable { table, ops }
        }
        Statement::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => match object_type {
            ast::ObjectType::Table => Bound::DropTables {
                names: names.iter().map(object_name).collect(),
                if_exists,
            },
            ast::ObjectType::Index => {
                let mut indexes = Vec::with_capacity(names.len());
                for n in &names {
                    let name = object_name(n);
                    // "t(a,b)" from DROP INDEX ON t (a, b) (the parser's rewrite), or t.c
                    indexes.push(match name.split_once('(') {
                        Some((t, rest)) => (
                            t.to_string(),
                            rest.trim_end_matches(')')
                                .split(',')
                                .map(|c| c.trim().to_string())
                                .collect(),
                        ),
                        None => match name.split_once('.') {
                            Some((t, c)) => (t.to_string(), vec![c.to_string()]),
                            None => {
                                return Err(SqlError::Parsing(format!(
                                "DROP INDEX needs ON table (columns) or table.column, got {name}"
                            )))
                            }
                        },
                    });
                }
                Bound::DropIndexes(indexes)
            }
            other => return Err(SqlError::NotSupported(format!("DROP {other}"))),
        },
        Statement::Query(query) => Bound::Query(BoundQuery {
            query,
            sources,
            hints: hints.to_vec(),
        }),
        Statement::ShowTables { .. } => Bound::ShowTables,
        Statement::ShowVariable { variable }
            if variable.len() == 2 && variable[0].value.eq_ignore_ascii_case("table") =>
        {
            Bound::ShowTable(variable[1].value.to_lowercase())
        }
        Statement::Explain { statement, .. } => Bound::Explain { statement, sources },
        Statement::StartTransaction { .. } => Bound::Begin,
        Statement::Commit { .. } => Bound::Commit,
        Statement::Rollback { .. } => Bound::Rollback,
        other => {
            return Err(SqlError::NotSupported(format!(
                "statement {}",
                first_words(&other.to_string())
            )))
        }
    })
}

/// The first two words of a statement, to name what is not supported.
fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}
