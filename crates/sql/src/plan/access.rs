//! Access paths: how a table scan reaches its rows, chosen from the filters DataFusion offers.
//!
//! A key (the primary key, or a secondary index's columns followed by the primary key) is
//! encoded order-preservingly, column by column, each column at a fixed width. Filters that
//! fix a leading run of key columns to values (`=`, `IN`, or `OR`s of `=`) and then bound the
//! next column (`<`, `<=`, `>`, `>=`, `BETWEEN`) therefore select whole key ranges, and a scan of
//! those ranges evaluates them exactly. Those filters, and only those, are reported `Exact`;
//! DataFusion evaluates every other filter on the rows the scan returns.
//!
//! Invariants:
//! - a filter counts only when its literal has the key column's own type and is not NULL, so
//!   the comparison DataFusion would make is the byte comparison of the encodings;
//! - FLOAT key columns are never used (`-0.0 = 0.0` but their encodings differ);
//! - a range starts after the NULL tag (`0x20`), since NULL satisfies no comparison;
//! - at most [`MAX_RANGES`] ranges: a larger `IN` product stops at the previous column.
//!
//! Not here: cost estimates. The choice prefers a primary-key point lookup, then the key with
//! the most columns fixed, then the primary key.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::store::catalog::{Column, Index, Table};
use crate::store::encoding::{self, NULL_KEY_TAG};
use crate::store::KeyRange;
use crate::types::{SqlType, Value};
use stele_ledger::format::successor;

/// Most key ranges one scan reads.
pub const MAX_RANGES: usize = 1024;

/// How a scan reaches its rows.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every row, in primary-key order.
    Full,
    /// Row-key ranges of the primary index.
    Primary(KeyPlan),
    /// Index-key ranges of a secondary index, then each row by its primary key.
    Secondary(Index, String, KeyPlan),
}

/// Key ranges derived from filters.
#[derive(Debug, Clone)]
pub struct KeyPlan {
    /// The key ranges to scan, in key order.
    pub ranges: Vec<KeyRange>,
    /// When every key column is fixed: the exact keys (one per range).
    pub points: Option<Vec<Vec<u8>>>,
    /// Which of the offered filters the ranges evaluate exactly.
    pub used: Vec<usize>,
    /// How many leading key columns the filters fix to values.
    pub fixed: usize,
    /// Whether the filters also bound the key column after the fixed ones.
    pub bounded: bool,
    /// The conditions, for EXPLAIN.
    pub text: String,
}

impl Access {
    /// The filters this access evaluates exactly.
    pub fn used(&self) -> &[usize] {
        match self {
            Access::Full => &[],
            Access::Primary(p) | Access::Secondary(_, _, p) => &p.used,
        }
    }

    /// The access path in words, for EXPLAIN; `table` is the scanned table's name.
    pub fn describe(&self, table: &str) -> String {
        match self {
            Access::Full => "primary index, full range".into(),
            Access::Primary(p) => match &p.points {
                Some(_) => format!("primary key lookup {}", p.text),
                None => format!("primary index, {}", p.text),
            },
            Access::Secondary(_, name, p) => format!("index {table}({name}), {}", p.text),
        }
    }
}

/// Picks the access path for `filters` over `t`.
pub fn choose(t: &Table, filters: &[&Expr]) -> Access {
    let pk = t.pk_columns();
    let primary = plan_key(&encoding::row_prefix(t.id), &pk, filters);
    if let Some(p) = &primary {
        if p.points.is_some() {
            return Access::Primary(primary.unwrap());
        }
    }
    let score = |p: &KeyPlan| 2 * p.fixed + p.bounded as usize;
    let mut best: Access = match primary {
        Some(p) => Access::Primary(p),
        None => Access::Full,
    };
    let mut best_score = match &best {
        Access::Primary(p) => score(p),
        _ => 0,
    };
    for index in t
        .indexes
        .iter()
        .filter(|i| i.id != encoding::PRIMARY_INDEX_ID)
    {
        let cols: Option<Vec<&Column>> =
            index.columns.iter().map(|id| t.column_by_id(*id)).collect();
        let Some(cols) = cols else { continue };
        let prefix = encoding::index_entry_prefix(t.id, index.id);
        if let Some(mut p) = plan_key(&prefix, &cols, filters) {
            // Index keys end with the primary key: they are never points themselves.
            p.points = None;
            if score(&p) > best_score {
                best_score = score(&p);
                let name = cols
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                best = Access::Secondary(index.clone(), name, p);
            }
        }
    }
    best
}

/// A bound on one key column: the encoded value and whether it is inclusive.
type Bound = Option<(Vec<u8>, bool)>;

/// Ranges over keys `prefix ‖ enc(cols[0]) ‖ enc(cols[1]) ‖ …` from the filters.
fn plan_key(prefix: &[u8], cols: &[&Column], filters: &[&Expr]) -> Option<KeyPlan> {
    let mut prefixes: Vec<Vec<u8>> = vec![prefix.to_vec()];
    let mut used = Vec::new();
    let mut text = Vec::new();
    let mut fixed = 0;
    let mut bounded = false;
    let mut ranges = Vec::new();
    for col in cols {
        if !pushable(col.ty) {
            break;
        }
        let values = filters.iter().enumerate().find_map(|(i, f)| {
            let (name, vals) = column_values(f)?;
            (name == col.name && vals.iter().all(|v| v.sql_type() == Some(col.ty)))
                .then_some((i, vals))
        });
        if let Some((i, vals)) = values {
            if prefixes.len() * vals.len() > MAX_RANGES {
                break;
            }
            // A value too long for the column equals no stored value: it selects nothing.
            // Sorted and de-duplicated: the ranges come out in key order (what a scan without
            // ORDER BY returns) and each key once, however the IN list repeats or orders them.
            // The encoding is order-preserving and prefix-free, so the products stay sorted.
            let mut encoded: Vec<Vec<u8>> = vals
                .iter()
                .filter_map(|v| encoding::encode_key_value(v, col.ty, col.max_len).ok())
                .collect();
            encoded.sort_unstable();
            encoded.dedup();
            prefixes = prefixes
                .iter()
                .flat_map(|p| {
                    encoded.iter().map(move |e| {
                        let mut k = p.clone();
                        k.extend_from_slice(e);
                        k
                    })
                })
                .collect();
            used.push(i);
            fixed += 1;
            text.push(match &vals[..] {
                [v] => format!("{} = {}", col.name, shown(v)),
                _ => format!(
                    "{} IN ({})",
                    col.name,
                    vals.iter().map(shown).collect::<Vec<_>>().join(", ")
                ),
            });
            continue;
        }
        // The tightest lower and upper bounds on this column, compared as encodings.
        let (mut lo, mut hi): (Bound, Bound) = (None, None);
        let (mut lo_text, mut hi_text) = (String::new(), String::new());
        for (i, f) in filters.iter().enumerate() {
            let Some((name, op, v)) = comparison(f) else {
                continue;
            };
            if name != col.name || v.sql_type() != Some(col.ty) {
                continue;
            }
            let Ok(enc) = encoding::encode_key_value(&v, col.ty, col.max_len) else {
                continue;
            };
            let lit = shown(&v);
            used.push(i);
            match op {
                Operator::Gt | Operator::GtEq => {
                    let incl = op == Operator::GtEq;
                    if lo
                        .as_ref()
                        .is_none_or(|(x, xi)| enc > *x || (enc == *x && *xi && !incl))
                    {
                        lo = Some((enc, incl));
                        lo_text = format!("{}{lit}", if incl { "[" } else { "(" });
                    }
                }
                _ => {
                    let incl = op == Operator::LtEq;
                    if hi
                        .as_ref()
                        .is_none_or(|(x, xi)| enc < *x || (enc == *x && *xi && !incl))
                    {
                        hi = Some((enc, incl));
                        hi_text = format!("{lit}{}", if incl { "]" } else { ")" });
                    }
                }
            }
        }
        if lo.is_none() && hi.is_none() {
            break;
        }
        bounded = true;
        text.push(format!(
            "{} in {}, {}",
            col.name,
            if lo_text.is_empty() {
                "(-inf".into()
            } else {
                lo_text
            },
            if hi_text.is_empty() {
                "+inf)".into()
            } else {
                hi_text
            },
        ));
        for p in &prefixes {
            let at = |enc: &[u8]| {
                let mut k = p.clone();
                k.extend_from_slice(enc);
                k
            };
            let lo = match &lo {
                Some((e, true)) => (at(e), true),
                Some((e, false)) => (successor(&at(e))?, true),
                None => (at(&[NULL_KEY_TAG + 1]), true),
            };
            let hi = match &hi {
                Some((e, true)) => successor(&at(e)).map(|s| (s, false)),
                Some((e, false)) => Some((at(e), false)),
                None => successor(p).map(|s| (s, false)),
            };
            ranges.push(KeyRange { lo: Some(lo), hi });
        }
        break;
    }
    if fixed == 0 && !bounded {
        return None;
    }
    let points = (fixed == cols.len()).then(|| prefixes.clone());
    if !bounded {
        ranges = prefixes.into_iter().map(KeyRange::prefix).collect();
    }
    Some(KeyPlan {
        ranges,
        points,
        used,
        fixed,
        bounded,
        text: text.join(", "),
    })
}

/// A literal as EXPLAIN shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::Varchar(s) => format!("'{}'", s.replace('\'', "''")),
        other => crate::types::render(other),
    }
}

/// Key column types whose value order is their encoding's byte order, equality included.
/// Whether `e` holds for every row of `t`: `(c op literal) IS NOT NULL` with `c` a column that
/// is never NULL (declared NOT NULL, or part of the primary key) and a non-NULL literal, what
/// DataFusion leaves of the `COALESCE(c op literal, false)` two-valued logic wraps comparisons
/// in. A scan reports it `Exact` and applies nothing for it.
pub fn always_true(t: &Table, e: &Expr) -> bool {
    let Expr::IsNotNull(inner) = e else {
        return false;
    };
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = inner.as_ref() else {
        return false;
    };
    if !matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
    ) {
        return false;
    }
    let never_null = |e: &Expr| match e {
        Expr::Literal(v, _) => !v.is_null(),
        Expr::Column(c) => t.columns.iter().any(|col| {
            col.name == c.name && (col.not_null || t.primary_key().columns.contains(&col.id))
        }),
        _ => false,
    };
    never_null(left) && never_null(right)
}

fn pushable(ty: SqlType) -> bool {
    !matches!(ty, SqlType::Float | SqlType::Json)
}

/// A DataFusion literal as a SQL value (`None` for NULL or a type SQL values lack).
fn literal(s: &ScalarValue) -> Option<Value> {
    let v = crate::store::arrow::from_scalar(s.clone()).ok()?;
    (!v.is_null()).then_some(v)
}

/// `column = literal` (or `IS NOT DISTINCT FROM`, which two-valued `=` becomes).
pub fn column_equals(e: &Expr) -> Option<(String, Value)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    if !matches!(op, Operator::Eq | Operator::IsNotDistinctFrom) {
        return None;
    }
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) | (Expr::Literal(v, _), Expr::Column(c)) => {
            Some((c.name.clone(), literal(v)?))
        }
        _ => None,
    }
}

/// The values a filter fixes a column to: `c = v`, `c IN (v, …)`, or `c = v OR c = w …`.
fn column_values(e: &Expr) -> Option<(String, Vec<Value>)> {
    if let Some((c, v)) = column_equals(e) {
        return Some((c, vec![v]));
    }
    match e {
        Expr::InList(l) if !l.negated => {
            let Expr::Column(c) = l.expr.as_ref() else {
                return None;
            };
            let vals = l
                .list
                .iter()
                .map(|x| match x {
                    Expr::Literal(v, _) => literal(v),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((c.name.clone(), vals))
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let (a, mut va) = column_values(left)?;
            let (b, vb) = column_values(right)?;
            (a == b).then(|| {
                va.extend(vb);
                (a, va)
            })
        }
        _ => None,
    }
}

/// `column op literal` for `<`, `<=`, `>`, `>=`, seen through the `COALESCE(…, false)` that
/// two-valued logic wraps comparisons in; the operator turns around when the literal is left.
pub fn comparison(e: &Expr) -> Option<(String, Operator, Value)> {
    let e = match e {
        Expr::ScalarFunction(f)
            if f.name() == "coalesce"
                && f.args.len() == 2
                && matches!(
                    &f.args[1],
                    Expr::Literal(ScalarValue::Boolean(Some(false)), _)
                ) =>
        {
            &f.args[0]
        }
        other => other,
    };
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    let (col, lit, op) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v, _)) => (c, v, *op),
        (Expr::Literal(v, _), Expr::Column(c)) => (c, v, op.swap()?),
        _ => return None,
    };
    if !matches!(
        op,
        Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
    ) {
        return None;
    }
    Some((col.name.clone(), op, literal(lit)?))
}
