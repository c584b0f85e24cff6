//! The fast path of `SELECT cols FROM t WHERE pk = lit AND ...`: one key read, no planning.

use crate::bind::values::{eval_const, object_name};
use crate::exec::engine::Engine;
use crate::exec::output::ColumnDesc;
use crate::exec::query::source_of;
use crate::parse::{Period, HISTORY_MARK, PERIOD_MARK};
use crate::store::WriteSet;
use crate::types::{SqlType, Value};
use crate::Result;
use datafusion::sql::sqlparser::ast::{self as ast, Expr as SqlExpr, SetExpr, TableFactor};
use std::collections::HashMap;

impl Engine {
    /// The fast path of `SELECT cols FROM t WHERE pk1 = lit AND ... ` (every key column, nothing
    /// else): one key read, no DataFusion planning. `None` for anything else; the answer is the
    /// one the general path gives (`tests/explain_and_errors.rs` compares them).
    pub(crate) fn point_select(
        &self,
        q: &ast::Query,
        periods: &[Period],
        ws: &mut WriteSet,
    ) -> Result<Option<(Vec<ColumnDesc>, Vec<Vec<Value>>)>> {
        if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some()
        {
            return Ok(None);
        }
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return Ok(None);
        };
        let simple = sel.distinct.is_none()
            && sel.top.is_none()
            && sel.into.is_none()
            && sel.from.len() == 1
            && sel.from[0].joins.is_empty()
            && sel.lateral_views.is_empty()
            && sel.prewhere.is_none()
            && matches!(&sel.group_by, ast::GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty())
            && sel.having.is_none()
            && sel.qualify.is_none()
            && sel.sort_by.is_empty()
            && sel.named_window.is_empty();
        let (true, Some(selection)) = (simple, &sel.selection) else {
            return Ok(None);
        };
        let TableFactor::Table {
            name, args: None, ..
        } = &sel.from[0].relation
        else {
            return Ok(None);
        };
        let name = object_name(name);
        if name.contains(HISTORY_MARK) {
            return Ok(None);
        }
        let source = source_of(&sel.from[0].relation);
        let (table, range) = match name.split_once(PERIOD_MARK) {
            Some((t, k)) => {
                let Some(p) = k.parse::<usize>().ok().and_then(|k| periods.get(k)) else {
                    return Ok(None);
                };
                (t.to_string(), Some(p))
            }
            None => (name, None),
        };
        let cat = self.store.catalog_in(ws)?;
        let Ok(t) = cat.table(&table) else {
            return Ok(None);
        };
        // The WHERE clause: equalities between key columns and literals, joined by AND.
        let mut conds = vec![selection];
        let mut fixed: HashMap<String, Value> = HashMap::new();
        while let Some(e) = conds.pop() {
            match e {
                SqlExpr::BinaryOp {
                    left,
                    op: ast::BinaryOperator::And,
                    right,
                } => {
                    conds.push(left);
                    conds.push(right);
                }
                SqlExpr::Nested(inner) => conds.push(inner),
                SqlExpr::BinaryOp {
                    left,
                    op: ast::BinaryOperator::Eq,
                    right,
                } => {
                    let (col, lit) = match (left.as_ref(), right.as_ref()) {
                        (SqlExpr::Identifier(c), l) | (l, SqlExpr::Identifier(c)) => {
                            (c.value.to_lowercase(), l)
                        }
                        _ => return Ok(None),
                    };
                    let Some(v) = eval_const(lit).filter(|v| !v.is_null()) else {
                        return Ok(None);
                    };
                    let Ok(c) = t.column(&col) else {
                        return Ok(None);
                    };
                    // Kinds that are not comparable: the general path says so.
                    let same_kind = match (&v, c.ty) {
                        (
                            Value::Integer(_) | Value::Float(_),
                            SqlType::Integer | SqlType::Float,
                        ) => true,
                        (Value::Varchar(_), SqlType::Varchar | SqlType::Uuid | SqlType::Json) => {
                            true
                        }
                        (Value::Boolean(_), SqlType::Boolean) | (Value::Blob(_), SqlType::Blob) => {
                            true
                        }
                        _ => false,
                    };
                    if !same_kind {
                        return Ok(None);
                    }
                    let Ok(v) = crate::store::convert(&v, c, &t.name) else {
                        return Ok(None);
                    };
                    if fixed.insert(col, v).is_some() {
                        return Ok(None);
                    }
                }
                _ => return Ok(None),
            }
        }
        let pk_cols = t.pk_columns();
        if fixed.len() != pk_cols.len() {
            return Ok(None);
        }
        let Some(pk) = pk_cols
            .iter()
            .map(|c| fixed.get(&c.name).cloned())
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        // The projection: `*` or plain columns, aliased or not.
        let mut out: Vec<(String, usize)> = Vec::new();
        for item in &sel.projection {
            match item {
                ast::SelectItem::Wildcard(_) => out.extend(
                    t.columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.name.clone(), i)),
                ),
                ast::SelectItem::UnnamedExpr(SqlExpr::Identifier(c))
                | ast::SelectItem::ExprWithAlias {
                    expr: SqlExpr::Identifier(c),
                    ..
                } => {
                    let Some(i) = t
                        .columns
                        .iter()
                        .position(|x| x.name == c.value.to_lowercase())
                    else {
                        return Ok(None);
                    };
                    let name = match item {
                        ast::SelectItem::ExprWithAlias { alias, .. } => alias.value.to_lowercase(),
                        _ => t.columns[i].name.clone(),
                    };
                    out.push((name, i));
                }
                _ => return Ok(None),
            }
        }
        let row = match range {
            None => {
                // The row read: its commit fails if another tx changed it meanwhile.
                self.store.get_in_guarded(t, &pk, ws)?
            }
            Some(p) => {
                let r = self
                    .planner()
                    .resolve_period(p, cat.snapshot, ws.now_micros)?;
                if r.from > r.until {
                    None
                } else {
                    self.store
                        .get(t, &pk, r.until)?
                        .filter(|row| row.tx >= r.from)
                }
            }
        };
        let columns = out
            .iter()
            .map(|(n, i)| {
                // JSON reads back as text (see `cell` below).
                let ty = match t.columns[*i].ty {
                    SqlType::Json => SqlType::Varchar,
                    other => other,
                };
                ColumnDesc::of(&source, n, Some(ty))
            })
            .collect();
        // JSON reads back as text, as it does through DataFusion.
        let cell = |v: &Value| match v {
            Value::Json(j) => Value::Varchar(j.clone()),
            other => other.clone(),
        };
        let rows = row
            .map(|r| out.iter().map(|(_, i)| cell(&r.values[*i])).collect())
            .into_iter()
            .collect();
        Ok(Some((columns, rows)))
    }
}
