//! The fast path of `SELECT cols FROM t WHERE <primary-key conditions>`: a key read (every key
//! column equal to a value) or a key-range read (a single INTEGER key column compared with
//! values, over fewer than 65536 keys), straight into values, without DataFusion.

use crate::bind::sources::{source_named, BoundSource};
use crate::bind::values::{eval_const, object_name};
use crate::error::Result;
use crate::exec::engine::Engine;
use crate::exec::output::{Answer, ColumnDesc};
use crate::exec::query::source_of;
use crate::store::catalog::Table;
use crate::store::{encoding, side_by_side, KeyRange, Row, TxRange, WriteSet};
use crate::types::{Rows, SqlType, Value};
use datafusion::sql::sqlparser::ast::{self as ast, Expr as SqlExpr, SetExpr, TableFactor};
use std::collections::HashMap;
use stele_ledger::KeySpan;

impl Engine {
    /// The fast path of `SELECT cols FROM t WHERE pk1 = lit AND ... ` (every key column, nothing
    /// else: one key read) or of `... WHERE pk >= lo AND pk < hi` (see [`key_condition`]: a key
    /// range read), without DataFusion planning. `None` for anything else; the answer is the one
    /// the general path gives (`tests/explain_and_errors.rs` and `tests/differential.rs` compare
    /// them).
    ///
    /// `params`: the parameters of an unbound template (`Step::Query`), read where the
    /// conditions name them (`@name`), each evaluated as its bound literal would be.
    pub(crate) fn point_select(
        &self,
        q: &ast::Query,
        sources: &[BoundSource],
        params: Option<&HashMap<String, Value>>,
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
        let Some(keys) = key_condition(t, selection, params) else {
            return Ok(None);
        };
        // The fast path answers in one batch, and a range of a single INTEGER key holds at
        // most one row a key: a wider range is left to the planned scan, which streams it.
        if let KeyCondition::Range(lo, hi) = keys {
            if lo <= hi && hi.abs_diff(lo) >= MAX_RANGE_KEYS {
                return Ok(None);
            }
        }
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
        let positions: Vec<usize> = out.iter().map(|(_, i)| *i).collect();
        let rows = match keys {
            KeyCondition::Point(pk) => {
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
                Rows::from_lists(
                    positions.len(),
                    row.iter().map(|r| answer_row(r, &positions)),
                )
            }
            KeyCondition::Range(lo, hi) => {
                let tx_range = match range {
                    None => TxRange {
                        from: 1,
                        until: ws.snapshot,
                    },
                    Some(p) => self
                        .planner()
                        .resolve_period(p, cat.snapshot, ws.now_micros)?,
                };
                self.key_range_rows(t, lo, hi, tx_range, range.is_none(), &positions, ws)?
            }
        };
        let columns = out
            .iter()
            .map(|(n, i)| ColumnDesc::of(&source, n, Some(t.columns[*i].ty)))
            .collect();
        Ok(Some((columns, rows)))
    }

    /// The rows whose INTEGER primary key lies in `lo..=hi`, over `range` (at the current state
    /// as the transaction sees it when `current`), as values of the columns at `positions`.
    /// A range of many rows is cut in parts read side by side (by this thread and the store's
    /// reader thread, each taking the next part left).
    #[allow(clippy::too_many_arguments)]
    fn key_range_rows(
        &self,
        t: &Table,
        lo: i64,
        hi: i64,
        range: TxRange,
        current: bool,
        positions: &[usize],
        ws: &mut WriteSet,
    ) -> Result<Rows> {
        /// Rows read on this thread before the rest of a range is cut in parts.
        const HEAD: usize = 64;
        /// A range of at most this many keys is read on this thread alone.
        const SHORT: u64 = 1024;
        /// The parts the rest of a longer range is cut in: enough that a reader thread that
        /// starts late, or runs slower, leaves its share to this one (a part costs a seek).
        const PARTS: usize = 8;
        if lo > hi {
            return Ok(Rows::new(positions.len()));
        }
        let keys = KeyRange {
            lo: Some((self.store.row_key(t, &[Value::Integer(lo)])?, true)),
            hi: Some((self.store.row_key(t, &[Value::Integer(hi)])?, true)),
        };
        if current {
            // The range read: a commit fails if another tx wrote into it meanwhile.
            ws.read_spans(vec![KeySpan {
                prefix: encoding::row_prefix(t.id),
                lo: keys.lo.clone(),
                hi: keys.hi.clone(),
            }]);
            if !ws.is_empty() {
                // The transaction's own writes merge in: the committed rows read whole.
                let rows = self.store.scan_keys_in(t, &keys, 0, Some(ws))?;
                return Ok(Rows::from_lists(
                    positions.len(),
                    rows.iter().map(|r| answer_row(r, positions)),
                ));
            }
        }
        // A short range on this thread. A longer one: its first rows on this thread, and when
        // there are more, the rest cut in parts read side by side (a thread costs more than a
        // short read; a wide range of few keys ends within its head).
        let span = hi.abs_diff(lo);
        let head = match span < SHORT {
            true => usize::MAX,
            false => HEAD,
        };
        let mut rows = Rows::new(positions.len());
        let Some(resume) = self
            .store
            .scan_values(t, range, &keys, positions, head, &mut rows)?
        else {
            return Ok(rows);
        };
        let rest = KeyRange {
            lo: Some((resume, false)),
            hi: keys.hi.clone(),
        };
        let parts = self.store.split_keys(t, range.until, &rest, PARTS)?;
        let (store, t, positions) = (self.store.clone(), t.clone(), positions.to_vec());
        side_by_side(self.store.reader(), parts, &mut rows, move |keys, out| {
            store
                .scan_values(&t, range, keys, &positions, usize::MAX, out)
                .map(|_| ())
        })?;
        Ok(rows)
    }
}

/// A row's values at `positions` as the answer carries them: JSON reads back as text (its
/// column type stays JSON), as it does through DataFusion.
fn answer_row(r: &Row, positions: &[usize]) -> Vec<Value> {
    positions
        .iter()
        .map(|i| match &r.values[*i] {
            Value::Json(j) => Value::Varchar(j.clone()),
            other => other.clone(),
        })
        .collect()
}

/// A literal's value, or an `@name` parameter's from `params` as its bound literal evaluates
/// (`None`: neither, or a parameter missing: binding the statement reports that).
fn const_or_param(e: &SqlExpr, params: Option<&HashMap<String, Value>>) -> Option<Value> {
    if let (SqlExpr::Value(v), Some(params)) = (e, params) {
        if let ast::Value::Placeholder(p) = &v.value {
            let value = params.get(p.strip_prefix('@')?)?;
            return eval_const(&crate::parse::literal_expr(value));
        }
    }
    eval_const(e)
}

/// The widest key range the fast path reads (in keys, so in rows at most): its answer is
/// one batch held whole.
const MAX_RANGE_KEYS: u64 = 1 << 16;

/// Which rows a fast-path WHERE clause selects by primary key.
enum KeyCondition {
    /// Every key column equal to a value: one row at most.
    Point(Vec<Value>),
    /// A single INTEGER key column within `lo..=hi` (empty when `lo > hi`).
    Range(i64, i64),
}

/// The key condition of a WHERE clause made only of comparisons between primary-key columns
/// and literals (or bound parameters), joined by AND: equalities fixing every key column, or
/// `=`, `<`, `<=`, `>`, `>=` on a single INTEGER key column with INTEGER values. `None` for
/// anything else (the general path then plans it, and reports its errors).
fn key_condition(
    t: &Table,
    selection: &SqlExpr,
    params: Option<&HashMap<String, Value>>,
) -> Option<KeyCondition> {
    use ast::BinaryOperator as Op;
    let mut conds = vec![selection];
    let mut compared: Vec<(String, Op, Value)> = Vec::new();
    while let Some(e) = conds.pop() {
        match e {
            SqlExpr::BinaryOp {
                left,
                op: Op::And,
                right,
            } => {
                conds.push(left);
                conds.push(right);
            }
            SqlExpr::Nested(inner) => conds.push(inner),
            SqlExpr::BinaryOp { left, op, right }
                if matches!(op, Op::Eq | Op::Lt | Op::LtEq | Op::Gt | Op::GtEq) =>
            {
                // `literal op column` is `column op' literal`, the comparison turned around.
                let (col, lit, op) = match (left.as_ref(), right.as_ref()) {
                    (SqlExpr::Identifier(c), l) => (c, l, op.clone()),
                    (l, SqlExpr::Identifier(c)) => (
                        c,
                        l,
                        match op {
                            Op::Lt => Op::Gt,
                            Op::LtEq => Op::GtEq,
                            Op::Gt => Op::Lt,
                            Op::GtEq => Op::LtEq,
                            other => other.clone(),
                        },
                    ),
                    _ => return None,
                };
                let v = const_or_param(lit, params).filter(|v| !v.is_null())?;
                compared.push((col.value.to_lowercase(), op, v));
            }
            _ => return None,
        }
    }
    let pk_cols = t.pk_columns();
    if compared.iter().all(|(_, op, _)| *op == Op::Eq) {
        let mut fixed: HashMap<String, Value> = HashMap::new();
        for (col, _, v) in compared {
            let c = t.column(&col).ok()?;
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
                return None;
            }
            let v = crate::store::convert(&v, c, &t.name).ok()?;
            if fixed.insert(col, v).is_some() {
                return None;
            }
        }
        if fixed.len() != pk_cols.len() {
            return None;
        }
        let pk = pk_cols
            .iter()
            .map(|c| fixed.get(&c.name).cloned())
            .collect::<Option<Vec<_>>>()?;
        return Some(KeyCondition::Point(pk));
    }
    // A range: one INTEGER key column, INTEGER values only (a FLOAT bound compares as a
    // FLOAT, which the general path does).
    let [key] = pk_cols.as_slice() else {
        return None;
    };
    if key.ty != SqlType::Integer {
        return None;
    }
    let (mut lo, mut hi) = (i64::MIN, i64::MAX);
    for (col, op, v) in compared {
        let (true, Value::Integer(n)) = (col == key.name, v) else {
            return None;
        };
        match op {
            Op::Eq => (lo, hi) = (lo.max(n), hi.min(n)),
            Op::GtEq => lo = lo.max(n),
            Op::LtEq => hi = hi.min(n),
            // Past the end of i64 nothing is greater (or less): an empty range.
            Op::Gt => match n.checked_add(1) {
                Some(m) => lo = lo.max(m),
                None => return Some(KeyCondition::Range(1, 0)),
            },
            Op::Lt => match n.checked_sub(1) {
                Some(m) => hi = hi.min(m),
                None => return Some(KeyCondition::Range(1, 0)),
            },
            _ => return None,
        }
    }
    Some(KeyCondition::Range(lo, hi))
}
