//! immudb's classic semantics on top of DataFusion's, as rewrites of the parsed statement
//! before planning (spec immudb-sql.md §1.6):
//!
//! - two-valued logic: `a = b` is `a IS NOT DISTINCT FROM b` (so `NULL = NULL` is TRUE and
//!   `1 = NULL` FALSE), `a != b` / `a <> b` is `a IS DISTINCT FROM b`, and `<`, `<=`, `>`, `>=` are
//!   FALSE, never NULL, when a side is NULL (`NOT (col > 5)` holds for a NULL col);
//! - `x LIKE p` is an unanchored regular-expression match, FALSE when `x` is NULL (and
//!   `x NOT LIKE p` TRUE);
//! - AVG of an INTEGER column divides as integers; SUM, MIN and MAX of no rows give 0;
//! - `doc->'key'` reads a JSON field (`functions.rs`); compared with a literal, a JSON value
//!   compares as the literal's type;
//! - `NOW()` is the transaction's timestamp, constant across its statements; `RANDOM_UUID()` is
//!   DataFusion's `uuid()`;
//! - arithmetic on NULL fails with `invalid value provided (expecting numeric value)`, and
//!   AND, OR and NOT on NULL with `(expecting boolean value)`: in the select list of the
//!   statement's query, operands that may be NULL are wrapped in the guards `expect_numeric` /
//!   `expect_boolean` (`functions.rs`). Only there: DataFusion evaluates a filter's conjuncts
//!   over whole batches in an order of its choosing, so a guard in a filter would fail on rows
//!   the query's own `WHERE x IS NOT NULL` drops, where classic never evaluates them. Elsewhere
//!   NULL arithmetic gives NULL, which a comparison takes as FALSE;
//! - `LIMIT 0` means no limit; NULL sorts first in ascending order and last in descending;
//! - `CAST('text' AS TIMESTAMP)` reads immudb's formats (date, minutes, seconds, fractions), and
//!   `CAST(integer AS TIMESTAMP)` reads unix seconds.

use std::collections::HashMap;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, ExactNumberInfo, Expr, FunctionArg, FunctionArgExpr,
    FunctionArguments, LimitClause, OrderBy, OrderByKind, Query, SetExpr, Statement, UnaryOperator,
    Value as SqlValue, VisitMut, VisitorMut,
};

use crate::error::{Result, SqlError};
use crate::parse::build::{boolean, call, integer, nested, string};
use crate::types::SqlType;

/// The text forms of a TIMESTAMP immudb accepts.
const TIMESTAMP_FORMATS: [&str; 4] = [
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
];

struct Classic<'a> {
    error: Option<SqlError>,
    /// The transaction's timestamp (unix microseconds) that `NOW()` stands for, when known.
    now: Option<i64>,
    /// Column types of the tables the statement reads (see [`classic`]).
    types: &'a HashMap<String, SqlType>,
}

impl Classic<'_> {
    /// The type of a plain column (`c` or `t.c`), when it is known.
    fn column_type(&self, e: &Expr) -> Option<SqlType> {
        match e {
            Expr::Identifier(i) => self.types.get(&i.value.to_lowercase()).copied(),
            Expr::CompoundIdentifier(parts) => {
                let name = parts.last()?.value.to_lowercase();
                // `q.c` by its table or alias; a sub-query's alias is not one: `c` then.
                let qualified = match parts.len() {
                    2.. => parts[parts.len() - 2].value.to_lowercase() + "." + &name,
                    _ => String::new(),
                };
                self.types
                    .get(&qualified)
                    .or_else(|| self.types.get(&name))
                    .copied()
            }
            _ => None,
        }
    }

    /// What `e` compares as, when its type is known: a column's, a literal's or a CAST's type.
    /// `None` also for NULL, which compares with anything.
    fn compared_as(&self, e: &Expr) -> Option<SqlType> {
        match e {
            Expr::Nested(inner) => self.compared_as(inner),
            Expr::Value(v) => match v.value {
                SqlValue::Number(..) => Some(SqlType::Integer),
                SqlValue::SingleQuotedString(_) => Some(SqlType::Varchar),
                SqlValue::Boolean(_) => Some(SqlType::Boolean),
                SqlValue::HexStringLiteral(_) => Some(SqlType::Blob),
                _ => None,
            },
            Expr::Cast { data_type, .. } => {
                let name = data_type.to_string().to_uppercase();
                SqlType::from_name(name.split(['(', '[']).next().unwrap_or("")).ok()
            }
            _ => self.column_type(e),
        }
        .map(|t| match t {
            SqlType::Float => SqlType::Integer,
            t => t,
        })
    }

    /// The type of the first argument of a call, when it is a plain column of a known type.
    fn first_arg_type(&self, args: &FunctionArguments) -> Option<SqlType> {
        let FunctionArguments::List(list) = args else {
            return None;
        };
        match list.args.first()? {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => self.column_type(e),
            _ => None,
        }
    }

    /// The type of a call's only argument, when it is a plain column (`c` or `t.c`) of a known
    /// type.
    fn arg_type(&self, args: &FunctionArguments) -> Option<SqlType> {
        match args {
            FunctionArguments::List(list) if list.args.len() == 1 => self.first_arg_type(args),
            _ => None,
        }
    }
}

/// `e` as an operand of a comparison with `other`: a JSON field access (`json_get`) against a
/// literal becomes the literal's type; anything else is `e` itself.
fn json_operand(e: &Expr, other: &Expr) -> Expr {
    let is_json =
        matches!(e, Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("json_get"));
    let Expr::Value(v) = other else {
        return e.clone();
    };
    let as_type = match (&v.value, is_json) {
        (SqlValue::SingleQuotedString(_), true) => "json_string",
        (SqlValue::Number(..), true) => "json_number",
        (SqlValue::Boolean(_), true) => "json_boolean",
        _ => return e.clone(),
    };
    call(as_type, vec![e.clone()])
}

/// Whether `e`, already rewritten, can never be NULL, so needs no guard: a non-NULL literal, a
/// two-valued comparison or test, or an operation whose operands are guarded.
fn never_null(e: &Expr) -> bool {
    match e {
        Expr::Value(v) => !matches!(v.value, SqlValue::Null),
        Expr::Nested(inner) => never_null(inner),
        Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::Exists { .. } => true,
        Expr::BinaryOp { op, .. } => arithmetic(op) || logical(op),
        Expr::UnaryOp { op, .. } => matches!(op, UnaryOperator::Not | UnaryOperator::Minus),
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            f.over.is_none()
                && matches!(
                    name.as_str(),
                    "coalesce" | "expect_numeric" | "expect_boolean" | "count"
                )
        }
        _ => false,
    }
}

fn arithmetic(op: &BinaryOperator) -> bool {
    use BinaryOperator::*;
    matches!(op, Plus | Minus | Multiply | Divide | Modulo)
}

fn logical(op: &BinaryOperator) -> bool {
    matches!(op, BinaryOperator::And | BinaryOperator::Or)
}

/// `e` as an operand that must not be NULL: guarded by `guard` unless it cannot be.
fn guarded(e: &Expr, guard: &str) -> Expr {
    if never_null(e) {
        nested(e.clone())
    } else {
        call(guard, vec![e.clone()])
    }
}

impl VisitorMut for Classic<'_> {
    type Break = ();

    fn post_visit_query(&mut self, q: &mut Query) -> ControlFlow<()> {
        // NULL sorts first ascending and last descending, whatever DataFusion's default.
        if let Some(OrderBy {
            kind: OrderByKind::Expressions(items),
            ..
        }) = &mut q.order_by
        {
            for o in items {
                if o.options.nulls_first.is_none() {
                    o.options.nulls_first = Some(o.options.asc != Some(false));
                }
            }
        }
        if let Some(LimitClause::LimitOffset { limit, .. }) = &mut q.limit_clause {
            if limit.as_ref().is_some_and(|l| l.to_string() == "0") {
                *limit = None;
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, e: &mut Expr) -> ControlFlow<()> {
        let new = match e {
            // Text to INTEGER or FLOAT parses the text as classic does, failing with its
            // `unsupported cast` (Arrow's cast kernel has its own message).
            Expr::Cast {
                expr, data_type, ..
            } if matches!(
                data_type,
                DataType::Integer(_) | DataType::Int(_) | DataType::Float(_)
            ) && (matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, SqlValue::SingleQuotedString(_)))
                || self.column_type(expr) == Some(SqlType::Varchar)) =>
            {
                let parse = match data_type {
                    DataType::Float(_) => "text_to_float",
                    _ => "text_to_integer",
                };
                call(parse, vec![(**expr).clone()])
            }
            // immudb's INTEGER and FLOAT are 64 bits; DataFusion reads SQL's INTEGER and FLOAT
            // as 32 (`CAST(3000000000 AS INTEGER)` failed, `CAST('0.1' AS FLOAT)` rounded).
            Expr::Cast { data_type, .. }
                if matches!(
                    data_type,
                    DataType::Integer(_) | DataType::Int(_) | DataType::Float(_)
                ) =>
            {
                *data_type = match data_type {
                    DataType::Float(_) => DataType::Double(ExactNumberInfo::None),
                    _ => DataType::BigInt(None),
                };
                return ControlFlow::Continue(());
            }
            Expr::BinaryOp { left, op, right } => {
                // Values of different kinds (numbers, strings, booleans, timestamps, blobs) are
                // not comparable; JSON and UUID values convert.
                if matches!(
                    op,
                    BinaryOperator::Eq
                        | BinaryOperator::NotEq
                        | BinaryOperator::Lt
                        | BinaryOperator::LtEq
                        | BinaryOperator::Gt
                        | BinaryOperator::GtEq
                ) {
                    if let (Some(a), Some(b)) = (self.compared_as(left), self.compared_as(right)) {
                        let converts = |t| matches!(t, SqlType::Json | SqlType::Uuid);
                        if a != b && !converts(a) && !converts(b) {
                            self.error = Some(SqlError::ValuesNotComparable);
                            return ControlFlow::Break(());
                        }
                    }
                }
                // A JSON value compared with a literal is compared as the literal's type.
                let (left, right) = (json_operand(left, right), json_operand(right, left));
                match op {
                    BinaryOperator::Eq => {
                        Expr::IsNotDistinctFrom(Box::new(nested(left)), Box::new(nested(right)))
                    }
                    BinaryOperator::NotEq => {
                        Expr::IsDistinctFrom(Box::new(nested(left)), Box::new(nested(right)))
                    }
                    BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq => {
                        let compared = Expr::BinaryOp {
                            left: Box::new(nested(left)),
                            op: op.clone(),
                            right: Box::new(nested(right)),
                        };
                        call("COALESCE", vec![compared, boolean(false)])
                    }
                    // `doc->'key'`: the field (or array element) of a JSON value.
                    BinaryOperator::Arrow => call("json_get", vec![left, right]),
                    _ => return ControlFlow::Continue(()),
                }
            }
            // A number is not a boolean in classic: `cannot cast INTEGER to BOOLEAN`.
            Expr::Cast {
                expr, data_type, ..
            } if data_type.to_string().eq_ignore_ascii_case("BOOLEAN") => {
                let number = match expr.as_ref() {
                    Expr::Value(v) => match &v.value {
                        SqlValue::Number(n, _) if n.contains(['.', 'e', 'E']) => Some("FLOAT"),
                        SqlValue::Number(..) => Some("INTEGER"),
                        _ => None,
                    },
                    e => match self.column_type(e) {
                        Some(SqlType::Integer) => Some("INTEGER"),
                        Some(SqlType::Float) => Some("FLOAT"),
                        _ => None,
                    },
                };
                if let Some(from) = number {
                    self.error = Some(SqlError::InvalidValue(format!(
                        "unsupported cast: cannot cast {from} to BOOLEAN"
                    )));
                    return ControlFlow::Break(());
                }
                return ControlFlow::Continue(());
            }
            // CAST(text AS UUID) parses the text, as writing it into a UUID column does.
            Expr::Cast {
                expr, data_type, ..
            } if data_type.to_string().eq_ignore_ascii_case("UUID") => {
                call("uuid_from_text", vec![(**expr).clone()])
            }
            // CAST('…' AS TIMESTAMP) accepts immudb's formats, to microseconds (so years past
            // 2262 work too).
            Expr::Cast {
                expr, data_type, ..
            } if data_type.to_string().eq_ignore_ascii_case("TIMESTAMP")
                && matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, SqlValue::SingleQuotedString(_))) =>
            {
                let mut args = vec![(**expr).clone()];
                args.extend(TIMESTAMP_FORMATS.iter().map(|f| string(f)));
                call("to_timestamp_micros", args)
            }
            // CAST(integer AS TIMESTAMP) reads the integer as unix seconds.
            Expr::Cast {
                expr, data_type, ..
            } if data_type.to_string().eq_ignore_ascii_case("TIMESTAMP")
                && (matches!(expr.as_ref(), Expr::Value(v) if matches!(v.value, SqlValue::Number(..)))
                    || self.column_type(expr) == Some(SqlType::Integer)) =>
            {
                // The cast stays, over the seconds read as a timestamp.
                **expr = call("to_timestamp_seconds", vec![(**expr).clone()]);
                return ControlFlow::Continue(());
            }
            // AVG of an INTEGER column is integer division; SUM, MIN and MAX of no rows are 0.
            // NOW() is the transaction's timestamp, the same for all its statements.
            Expr::Function(f) if f.over.is_none() && f.filter.is_none() => {
                let name = f.name.to_string().to_lowercase();
                // `->` and JSON_TYPEOF take a JSON value: a column of another type is refused
                // (even when its text happens to be JSON), with classic's words.
                if matches!(name.as_str(), "json_get" | "json_typeof") {
                    if let Some(t) = self.first_arg_type(&f.args).filter(|t| *t != SqlType::Json) {
                        self.error = Some(match name.as_str() {
                            "json_get" => SqlError::Query(format!(
                                "-> operator cannot be applied on column of type {}",
                                t.name()
                            )),
                            _ => SqlError::IllegalArguments(
                                "'JSON_TYPEOF' function expects an argument of type JSON".into(),
                            ),
                        });
                        return ControlFlow::Break(());
                    }
                }
                // RANDOM_UUID() is a fresh version-4 UUID (text a UUID column converts).
                let special = match name.as_str() {
                    "random_uuid" => Some(call("uuid", Vec::new())),
                    "now" => self
                        .now
                        .map(|now| call("to_timestamp_micros", vec![integer(now)])),
                    _ => None,
                };
                if let Some(new) = special {
                    *e = new;
                    return ControlFlow::Continue(());
                }
                let arg_type = self.arg_type(&f.args);
                let f = Expr::Function(f.clone());
                match (name.as_str(), arg_type) {
                    ("avg", Some(SqlType::Integer)) => Expr::Cast {
                        kind: CastKind::Cast,
                        expr: Box::new(f),
                        data_type: DataType::BigInt(None),
                        array: false,
                        format: None,
                    },
                    ("sum" | "min" | "max", Some(SqlType::Integer | SqlType::Float)) => {
                        call("COALESCE", vec![f, integer(0)])
                    }
                    _ => return ControlFlow::Continue(()),
                }
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                any: false,
                escape_char: None,
            } => {
                let matched = call("regexp_like", vec![(**expr).clone(), (**pattern).clone()]);
                let m = call("COALESCE", vec![matched, boolean(false)]);
                if *negated {
                    Expr::UnaryOp {
                        op: UnaryOperator::Not,
                        expr: Box::new(m),
                    }
                } else {
                    m
                }
            }
            _ => return ControlFlow::Continue(()),
        };
        *e = new;
        ControlFlow::Continue(())
    }
}

/// Rewrites a query statement to immudb's semantics.
/// `types`: the columns of the tables the statement reads, keyed `table.column` and
/// `alias.column`, and `column` alone when every such table having it gives it one type.
/// `now`: the transaction's timestamp in unix microseconds, for `NOW()`.
pub fn classic(
    stmt: &mut Statement,
    types: &HashMap<String, SqlType>,
    now: Option<i64>,
) -> Result<()> {
    let mut v = Classic {
        error: None,
        now,
        types,
    };
    let _ = stmt.visit(&mut v);
    if let Some(e) = v.error {
        return Err(e);
    }
    if let Statement::Query(q) = stmt {
        guard_select_items(&mut q.body)?;
    }
    Ok(())
}

/// Guards the operands of arithmetic, AND, OR, NOT and unary minus in a query's select list
/// (the branches' of a UNION) against NULL.
fn guard_select_items(body: &mut SetExpr) -> Result<()> {
    use datafusion::sql::sqlparser::ast::{visit_expressions_mut, SelectItem};
    match body {
        SetExpr::Select(select) => {
            for item in &mut select.projection {
                let (SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) = item
                else {
                    continue;
                };
                let flow = visit_expressions_mut(e, |e| {
                    let new = match e {
                        Expr::BinaryOp { left, op, right } if arithmetic(op) || logical(op) => {
                            if never_null(left) && never_null(right) {
                                return ControlFlow::Continue(());
                            }
                            let guard = match arithmetic(op) {
                                true => "expect_numeric",
                                false => "expect_boolean",
                            };
                            Expr::BinaryOp {
                                left: Box::new(guarded(left, guard)),
                                op: op.clone(),
                                right: Box::new(guarded(right, guard)),
                            }
                        }
                        Expr::UnaryOp { op, expr } if !never_null(expr) => match op {
                            UnaryOperator::Not | UnaryOperator::Minus => {
                                let guard = match op {
                                    UnaryOperator::Not => "expect_boolean",
                                    _ => "expect_numeric",
                                };
                                Expr::UnaryOp {
                                    op: *op,
                                    expr: Box::new(call(guard, vec![(**expr).clone()])),
                                }
                            }
                            _ => return ControlFlow::Continue(()),
                        },
                        _ => return ControlFlow::Continue(()),
                    };
                    *e = new;
                    ControlFlow::<SqlError>::Continue(())
                });
                if let ControlFlow::Break(err) = flow {
                    return Err(err);
                }
            }
            Ok(())
        }
        SetExpr::SetOperation { left, right, .. } => {
            guard_select_items(left)?;
            guard_select_items(right)
        }
        SetExpr::Query(q) => guard_select_items(&mut q.body),
        _ => Ok(()),
    }
}

/// Names the unaliased JSON field accesses of a query's select list as classic does: `d->'a'`
/// is the column `d->'a'`, and a chain `d->'a'->'b'` the column `d->'a->b'` (not `colN`).
pub fn name_json_fields(stmt: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{Ident, SelectItem};
    let Statement::Query(q) = stmt else {
        return;
    };
    let SetExpr::Select(select) = q.body.as_mut() else {
        return;
    };
    for item in &mut select.projection {
        let SelectItem::UnnamedExpr(e) = item else {
            continue;
        };
        let Some(name) = json_field_name(e) else {
            continue;
        };
        *item = SelectItem::ExprWithAlias {
            expr: e.clone(),
            alias: Ident::with_quote('"', name),
        };
    }
}

/// `col->'f1->f2'` for the chain `json_get(json_get(col, 'f1'), 'f2')`, else `None`.
pub(crate) fn json_field_name(e: &Expr) -> Option<String> {
    let mut fields = Vec::new();
    let mut e = e;
    loop {
        match e {
            Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("json_get") => {
                let FunctionArguments::List(list) = &f.args else {
                    return None;
                };
                let [FunctionArg::Unnamed(FunctionArgExpr::Expr(doc)), FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(key)))] =
                    list.args.as_slice()
                else {
                    return None;
                };
                let SqlValue::SingleQuotedString(key) = &key.value else {
                    return None;
                };
                fields.push(key.clone());
                e = doc;
            }
            Expr::Identifier(column) => break Some(column.value.clone()),
            Expr::CompoundIdentifier(parts) => break parts.last().map(|c| c.value.clone()),
            _ => return None,
        }
    }
    .filter(|_| !fields.is_empty())
    .map(|column| {
        fields.reverse();
        format!("{column}->'{}'", fields.join("->"))
    })
}
