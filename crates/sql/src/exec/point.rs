//! The fast path of `SELECT cols FROM t WHERE pk = lit AND ...`: one key read, no planning.

use crate::bind::sources::{source_named, BoundSource};
use crate::bind::values::{eval_const, object_name};
use crate::error::Result;
use crate::exec::engine::Engine;
use crate::exec::output::{Answer, ColumnDesc};
use crate::exec::query::source_of;
use crate::store::WriteSet;
use crate::types::{SqlType, Value};
use datafusion::sql::sqlparser::ast::{self as ast, Expr as SqlExpr, SetExpr, TableFactor};
use std::collections::HashMap;

impl Engine {
    /// The fast path of `SELECT cols FROM t WHERE pk1 = lit AND ... ` (every key column, nothing
    /// else): one key read, no DataFusion planning. `None` for anything else; the answer is the
    /// one the general path gives (`tests/explain_and_errors.rs` compares them).
    pub(crate) fn point_select(
        &self,
        q: &ast::Query,
        sources: &[BoundSource],
        ws: &mut WriteSet,
    ) -> Result<Option<Answer>> {
        // Every field is named (no `..`): a clause a newer sqlparser adds fails to compile here
        // instead of being ignored by the fast path.
        let ast::Query {
            with,
            body,
            order_by,
            limit_clause,
            fetch,
            locks,
            for_clause,
            settings,
            format_clause,
            pipe_operators,
        } = q;
        let plain_query = with.is_none()
            && order_by.is_none()
            && limit_clause.is_none()
            && fetch.is_none()
            && locks.is_empty()
            && for_clause.is_none()
            && settings.is_none()
            && format_clause.is_none()
            && pipe_operators.is_empty();
        let (true, SetExpr::Select(sel)) = (plain_query, body.as_ref()) else {
            return Ok(None);
        };
        let ast::Select {
            select_token: _,
            optimizer_hints,
            distinct,
            select_modifiers,
            top,
            top_before_distinct: _,
            projection,
            exclude,
            into,
            from,
            lateral_views,
            prewhere,
            selection,
            connect_by,
            group_by,
            cluster_by,
            distribute_by,
            sort_by,
            having,
            named_window,
            qualify,
            window_before_qualify: _,
            value_table_mode,
            flavor,
        } = sel.as_ref();
        let simple = optimizer_hints.is_empty()
            && distinct.is_none()
            && select_modifiers.is_none()
            && top.is_none()
            && exclude.is_none()
            && into.is_none()
            && lateral_views.is_empty()
            && prewhere.is_none()
            && connect_by.is_empty()
            && matches!(group_by, ast::GroupByExpr::Expressions(g, m) if g.is_empty() && m.is_empty())
            && cluster_by.is_empty()
            && distribute_by.is_empty()
            && sort_by.is_empty()
            && having.is_none()
            && named_window.is_empty()
            && qualify.is_none()
            && value_table_mode.is_none()
            && matches!(flavor, ast::SelectFlavor::Standard);
        let ([from], true, Some(selection)) = (from.as_slice(), simple, selection) else {
            return Ok(None);
        };
        let ast::TableWithJoins { relation, joins } = from;
        let TableFactor::Table {
            name,
            alias: _,
            args: None,
            with_hints,
            version: None,
            with_ordinality: false,
            partitions,
            json_path: None,
            sample: None,
            index_hints,
        } = relation
        else {
            return Ok(None);
        };
        if !(joins.is_empty()
            && with_hints.is_empty()
            && partitions.is_empty()
            && index_hints.is_empty())
        {
            return Ok(None);
        }
        let bound = source_named(sources, name);
        if bound.is_some_and(|b| b.period.history) {
            return Ok(None);
        }
        let source = source_of(relation);
        let (table, range) = match bound {
            Some(b) => (b.table.clone(), Some(&b.period)),
            None => (object_name(name), None),
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
                    let same_kind = matches!(
                        (&v, c.ty),
                        (
                            Value::Integer(_) | Value::Float(_),
                            SqlType::Integer | SqlType::Float,
                        ) | (
                            Value::Varchar(_),
                            SqlType::Varchar | SqlType::Uuid | SqlType::Json
                        ) | (Value::Boolean(_), SqlType::Boolean)
                            | (Value::Blob(_), SqlType::Blob)
                    );
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
        for item in projection {
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
            .map(|(n, i)| ColumnDesc::of(&source, n, Some(t.columns[*i].ty)))
            .collect();
        // JSON reads back as text (its type stays JSON), as it does through DataFusion.
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
