//! CHECK constraints as the store keeps them: each expression's text (immudb's parenthesised
//! form, in `CTL.CHECK.` entries), the columns it names, and its rewrite when a column is
//! renamed. Evaluating them is the plan layer's: the store calls the [`CheckEvaluator`] it was
//! given before it writes rows, so that it needs no expression engine of its own.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr as SqlExpr, Ident, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::catalog::Table;
use crate::error::{Result, SqlError};
use crate::types::Value;

/// Evaluates tables' CHECK constraints (the plan layer implements it over DataFusion).
pub trait CheckEvaluator: Send + Sync {
    /// Fails unless every check of `t` is a boolean expression over its columns.
    fn validate(&self, t: &Table) -> Result<()>;
    /// Fails with the first check that one of `rows` (all of `t`'s columns, in order) breaks.
    fn verify(&self, t: &Table, rows: &[Vec<Value>]) -> Result<()>;
}

/// The evaluator of a store opened without the SQL engine: checks are stored as given, and a
/// table with checks cannot be written, because its rows cannot be proven to satisfy them.
pub(crate) struct NoEvaluator;

impl CheckEvaluator for NoEvaluator {
    fn validate(&self, _: &Table) -> Result<()> {
        Ok(())
    }
    fn verify(&self, _: &Table, _: &[Vec<Value>]) -> Result<()> {
        Err(SqlError::NotSupported(
            "CHECK constraints without the SQL engine".into(),
        ))
    }
}

/// The stored text of a check's expression, in immudb's form: every binary operation
/// parenthesised (`(qty >= 0)`), so that the violation message reads as immudb's does.
pub fn expression_text(e: &SqlExpr) -> String {
    match e {
        SqlExpr::BinaryOp { left, op, right } => {
            format!(
                "({} {op} {})",
                expression_text(left),
                expression_text(right)
            )
        }
        SqlExpr::Nested(inner) => expression_text(inner),
        SqlExpr::UnaryOp {
            op: ast::UnaryOperator::Not,
            expr,
        } => format!("(NOT {})", expression_text(expr)),
        other => other.to_string(),
    }
}

fn parse(text: &str) -> Result<SqlExpr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::Corrupted(format!("check constraint {text:?}: {e}")))
}

/// The columns a check's expression names (lower case).
pub fn referenced_columns(text: &str) -> Result<Vec<String>> {
    struct Columns(Vec<String>);
    impl Visitor for Columns {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &SqlExpr) -> ControlFlow<()> {
            match e {
                SqlExpr::Identifier(i) => self.0.push(i.value.to_lowercase()),
                SqlExpr::CompoundIdentifier(parts) => {
                    if let Some(last) = parts.last() {
                        self.0.push(last.value.to_lowercase())
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut v = Columns(Vec::new());
    let _ = parse(text)?.visit(&mut v);
    Ok(v.0)
}

/// Whether a check's expression names column `column`.
pub fn names_column(text: &str, column: &str) -> Result<bool> {
    Ok(referenced_columns(text)?.iter().any(|n| n == column))
}

/// The check's text with column `old` renamed to `new` (ALTER TABLE ... RENAME COLUMN keeps the
/// table's checks meaning what they meant).
pub fn rename_column(text: &str, old: &str, new: &str) -> Result<String> {
    struct Rename<'a>(&'a str, &'a str);
    impl VisitorMut for Rename<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, e: &mut SqlExpr) -> ControlFlow<()> {
            let ident = match e {
                SqlExpr::Identifier(i) => Some(i),
                SqlExpr::CompoundIdentifier(parts) => parts.last_mut(),
                _ => None,
            };
            if let Some(i) = ident.filter(|i| i.value.to_lowercase() == self.0) {
                *i = Ident::new(self.1);
            }
            ControlFlow::Continue(())
        }
    }
    let mut e = parse(text)?;
    let _ = VisitMut::visit(&mut e, &mut Rename(old, new));
    Ok(expression_text(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_is_parenthesised_like_immudb() {
        let e = parse("qty >= 0 AND (price > 1 OR NOT flag)").unwrap();
        assert_eq!(
            expression_text(&e),
            "((qty >= 0) AND ((price > 1) OR (NOT flag)))"
        );
        assert_eq!(
            rename_column("(qty >= 0)", "qty", "amount").unwrap(),
            "(amount >= 0)"
        );
        assert_eq!(
            referenced_columns("((t.a > b) AND (LENGTH(c) < 3))").unwrap(),
            ["a", "b", "c"]
        );
    }
}
