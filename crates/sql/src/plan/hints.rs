//! `USE INDEX ON (cols)`: a query without ORDER BY returns its rows in the hinted index's order.

use crate::bind::sources::table_named;
use crate::bind::statement::BoundQuery;
use crate::bind::values::object_name;
use crate::error::{Result, SqlError};
use crate::plan::query::Planner;
use crate::store::WriteSet;
use datafusion::sql::sqlparser::ast::{self as ast, Expr as SqlExpr, SetExpr, TableFactor};

impl Planner<'_> {
    /// Orders a query by its `USE INDEX ON (cols)` hint when it has no ORDER BY: classic scans
    /// the hinted index, so a plain query over one source returns its rows in that index's
    /// order (its columns, NULLs first, then the primary key). The index must exist.
    pub(crate) fn hinted_order(&self, bound: &mut BoundQuery, ws: &WriteSet) -> Result<()> {
        let BoundQuery {
            query: q,
            sources,
            hints,
        } = bound;
        if hints.is_empty() || q.order_by.is_some() {
            return Ok(());
        }
        let SetExpr::Select(sel) = q.body.as_mut() else {
            return Ok(());
        };
        let ([from], None) = (sel.from.as_slice(), &sel.distinct) else {
            return Ok(());
        };
        let grouped = !matches!(&sel.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty());
        if !from.joins.is_empty() || grouped || has_aggregate(&sel.projection) {
            return Ok(());
        }
        let TableFactor::Table { name, alias, .. } = &from.relation else {
            return Ok(());
        };
        // A reference with a period is its source's handle: the table is the source's.
        let source = table_named(sources, name);
        let alias = alias.as_ref().map(|a| a.name.value.to_lowercase());
        let Some(hint) = hints
            .iter()
            .find(|h| h.source == source || Some(&h.source) == alias.as_ref())
        else {
            return Ok(());
        };
        let table = source.as_str();
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(table)?;
        let ids = hint
            .columns
            .iter()
            .map(|c| t.column(c).map(|c| c.id))
            .collect::<Result<Vec<u32>>>()?;
        if !t.indexes.iter().any(|i| i.columns == ids) {
            return Err(SqlError::IndexNotFound(format!(
                "{table}({})",
                hint.columns.join(",")
            )));
        }
        let qualifier = alias.unwrap_or_else(|| table.to_string());
        let mut keys = hint.columns.clone();
        for c in t.pk_columns() {
            if !keys.contains(&c.name) {
                keys.push(c.name.clone());
            }
        }
        let exprs = keys
            .into_iter()
            .map(|c| ast::OrderByExpr {
                expr: SqlExpr::CompoundIdentifier(vec![
                    ast::Ident::new(qualifier.clone()),
                    ast::Ident::new(c),
                ]),
                options: ast::OrderByOptions {
                    asc: Some(true),
                    nulls_first: Some(true),
                },
                with_fill: None,
            })
            .collect();
        q.order_by = Some(ast::OrderBy {
            kind: ast::OrderByKind::Expressions(exprs),
            interpolate: None,
        });
        Ok(())
    }
}

/// Whether a select list holds an aggregate call (its rows are then not the source's rows).
pub(crate) fn has_aggregate(items: &[ast::SelectItem]) -> bool {
    use datafusion::sql::sqlparser::ast::visit_expressions;
    use std::ops::ControlFlow;
    items.iter().any(|item| {
        let found = visit_expressions(item, |e| match e {
            SqlExpr::Function(f)
                if matches!(
                    object_name(&f.name).as_str(),
                    "count" | "sum" | "min" | "max" | "avg"
                ) =>
            {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        });
        found.is_break()
    })
}
