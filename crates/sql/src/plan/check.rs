//! CHECK constraints: boolean expressions over a row, stored as SQL text in `CTL.CHECK.` entries
//! and evaluated on every row an INSERT, UPSERT or UPDATE writes (spec immudb-sql.md §1.4).
//!
//! A row passes only when every check evaluates to TRUE. With classic two-valued logic a
//! comparison with NULL is FALSE, so `CHECK (qty >= 0)` refuses a NULL `qty`, as immudb does.
//! A check that does not evaluate to a boolean is `invalid check constraint` (refused already at
//! CREATE TABLE); one that cannot be evaluated (a column gone, a bad cast) is a violation whose
//! message carries the evaluation error.
//!
//! Evaluation is DataFusion's, synchronous: the stored text gets the same classic rewrites as a
//! query's WHERE clause, becomes a physical expression over the table's Arrow schema, and runs
//! once over a batch of all the rows a statement writes.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::DFSchema;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{self, Expr as SqlExpr, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::errors::{df_err, planning_err};
use crate::error::{Result, SqlError};
use crate::store::arrow::{rows_to_batch, table_schema};
use crate::store::catalog::Table;
use crate::store::checks::CheckEvaluator;
use crate::types::Value;

/// A table's checks, compiled against its current columns.
pub struct Checks {
    compiled: Vec<(String, Arc<dyn PhysicalExpr>)>,
    failed: Vec<(String, String)>,
    schema: datafusion::arrow::datatypes::SchemaRef,
    types: Vec<crate::types::SqlType>,
}

impl Checks {
    /// Compiles every check of `t`. A check that does not compile is kept as an error, raised
    /// when a row is written (the row cannot be proven to satisfy it).
    pub fn compile(t: &Table) -> Result<Checks> {
        let schema = table_schema(t);
        let df_schema = DFSchema::try_from(schema.as_ref().clone())
            .map_err(|e| SqlError::Query(e.to_string()))?;
        let ctx = SessionContext::new();
        crate::plan::functions::register(&ctx);
        let types: HashMap<String, crate::types::SqlType> =
            t.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
        let mut compiled = Vec::new();
        let mut failed = Vec::new();
        for c in &t.checks {
            match compile_one(&ctx, &df_schema, &types, &c.expr) {
                Ok(Some(p)) => compiled.push((c.expr.clone(), p)),
                Ok(None) => return Err(SqlError::InvalidCheckConstraint(String::new())),
                Err(e) => failed.push((c.expr.clone(), e)),
            }
        }
        Ok(Checks {
            compiled,
            failed,
            schema,
            types: t.columns.iter().map(|c| c.ty).collect(),
        })
    }

    /// Every row (values in column order) must satisfy every check.
    pub fn verify(&self, rows: &[Vec<Value>]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if let Some((_, e)) = self.failed.first() {
            return Err(SqlError::CheckConstraintViolation(e.clone()));
        }
        let batch = rows_to_batch(&self.types, &self.schema, rows.iter())?;
        for (text, expr) in &self.compiled {
            let out = expr
                .evaluate(&batch)
                .and_then(|v| v.into_array(batch.num_rows()))
                .map_err(|e| SqlError::CheckConstraintViolation(df_err(e).to_string()))?;
            let Some(b) = out.as_any().downcast_ref::<BooleanArray>() else {
                return Err(SqlError::InvalidCheckConstraint(String::new()));
            };
            if (0..b.len()).any(|i| b.is_null(i) || !b.value(i)) {
                return Err(SqlError::CheckConstraintViolation(text.clone()));
            }
        }
        Ok(())
    }
}

/// `Ok(None)`: the expression is not boolean.
fn compile_one(
    ctx: &SessionContext,
    schema: &DFSchema,
    types: &HashMap<String, crate::types::SqlType>,
    text: &str,
) -> std::result::Result<Option<Arc<dyn PhysicalExpr>>, String> {
    // The stored text is parsed once; the classic rewrites work on statements: wrap the
    // expression in a built query, rewrite, unwrap, and plan the tree (never text again).
    let parsed = Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| e.to_string())?;
    let mut stmt = crate::bind::select::value(parsed);
    crate::plan::semantics::classic(&mut stmt, types, None).map_err(|e| e.to_string())?;
    let expr = select_item(&mut stmt).ok_or_else(|| format!("malformed check {text:?}"))?;
    let logical = ctx
        .state()
        .create_logical_expr_from_sql_expr(ast::ExprWithAlias { expr, alias: None }, schema)
        .map_err(|e| planning_err(e).to_string())?;
    // The classic rewrites leave COALESCE, which only the simplifier turns into something a
    // physical expression can run.
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_schema(Arc::new(schema.clone()))
            .build(),
    );
    let physical = simplifier
        .coerce(logical, schema)
        .and_then(|e| simplifier.simplify(e))
        .and_then(|e| ctx.create_physical_expr(e, schema))
        .map_err(|e| planning_err(e).to_string())?;
    let ty = physical
        .data_type(schema.as_arrow())
        .map_err(|e| planning_err(e).to_string())?;
    Ok((ty == DataType::Boolean).then_some(physical))
}

fn select_item(stmt: &mut Statement) -> Option<SqlExpr> {
    let Statement::Query(q) = stmt else {
        return None;
    };
    let ast::SetExpr::Select(s) = q.body.as_mut() else {
        return None;
    };
    match s.projection.first_mut()? {
        ast::SelectItem::UnnamedExpr(e) => {
            Some(std::mem::replace(e, SqlExpr::value(ast::Value::Null)))
        }
        _ => None,
    }
}

/// The checks of a `CREATE TABLE`, validated against its columns: each must be boolean.
pub fn validate(t: &Table) -> Result<()> {
    match Checks::compile(t)?.failed.first() {
        Some((_, e)) => Err(SqlError::InvalidCheckConstraint(format!(": {e}"))),
        None => Ok(()),
    }
}

/// The engine's evaluator of CHECK constraints, handed to the store.
pub struct DataFusionChecks;

impl CheckEvaluator for DataFusionChecks {
    fn validate(&self, t: &Table) -> Result<()> {
        validate(t)
    }
    fn verify(&self, t: &Table, rows: &[Vec<Value>]) -> Result<()> {
        Checks::compile(t)?.verify(rows)
    }
}
