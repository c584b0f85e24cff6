//! Names and constant values as statements write them: object names folded to lower case,
//! and literals of VALUES lists evaluated without planning a query.

use crate::error::Result;
use crate::types::Value;
use datafusion::sql::sqlparser::ast::{self as ast, Expr as SqlExpr, ObjectName, UnaryOperator};

pub(crate) fn object_name(n: &ObjectName) -> String {
    n.0.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(".")
        .trim_matches('"')
        .to_lowercase()
}

/// Constant expressions of VALUES lists, without planning a query.
pub(crate) fn eval_const(e: &SqlExpr) -> Option<Value> {
    use ast::Value as V;
    Some(match e {
        SqlExpr::Value(v) => match &v.value {
            V::Number(n, _) => match n.parse::<i64>() {
                Ok(i) => Value::Integer(i),
                Err(_) => Value::Float(n.parse().ok()?),
            },
            V::SingleQuotedString(s) => Value::Varchar(s.clone()),
            V::Boolean(b) => Value::Boolean(*b),
            V::Null => Value::Null,
            V::HexStringLiteral(h) => Value::Blob(
                (0..h.len() / 2)
                    .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16))
                    .collect::<Result<_, _>>()
                    .ok()?,
            ),
            _ => return None,
        },
        SqlExpr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match eval_const(expr)? {
            Value::Integer(i) => Value::Integer(i.checked_neg()?),
            Value::Float(f) => Value::Float(-f),
            _ => return None,
        },
        SqlExpr::Nested(e) => eval_const(e)?,
        _ => return None,
    })
}
