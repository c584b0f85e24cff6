//! Expressions built as syntax trees: what the stages above put into a parsed statement (a
//! bound parameter, a classic rewrite) is built here, never written as SQL text and parsed.

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, UnaryOperator, Value as SqlValue,
};

/// The call `name(args...)`.
pub(crate) fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// The literal `'text'`.
pub(crate) fn string(text: &str) -> Expr {
    Expr::value(SqlValue::SingleQuotedString(text.to_string()))
}

/// The literal `TRUE` or `FALSE`.
pub(crate) fn boolean(b: bool) -> Expr {
    Expr::value(SqlValue::Boolean(b))
}

/// The number whose digits are `digits` (no sign), negated when `negative`: a unary minus over
/// the literal, as the parser reads `-5`.
pub(crate) fn number(digits: String, negative: bool) -> Expr {
    let n = Expr::value(SqlValue::Number(digits, false));
    if negative {
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr: Box::new(n),
        }
    } else {
        n
    }
}

/// The integer `i`.
pub(crate) fn integer(i: i64) -> Expr {
    number(i.unsigned_abs().to_string(), i < 0)
}

/// `(e)`: `e` kept apart from the operators around it.
pub(crate) fn nested(e: Expr) -> Expr {
    Expr::Nested(Box::new(e))
}
