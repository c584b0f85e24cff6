//! Planning a query on DataFusion: classic semantics applied to the statement, its tables
//! registered as providers pinned to the transaction's snapshot or to their periods' tx
//! ranges, and the logical plan checked against classic's rules.

use crate::bind::sources::{table_named, BoundSource};
use crate::bind::values::object_name;
use crate::error::{Result, SqlError};
use crate::plan::catalog_functions::CatalogFunction;
use crate::plan::errors::{df_err, planning_err};
use crate::plan::provider::{LedgerTable, ScanLog, Source};
use crate::store::arrow::table_schema;
use crate::store::catalog::{Catalog, Table};
use crate::store::{SqlStore, WriteSet};
use crate::types::SqlType;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{self as ast, SetExpr, Statement, TableFactor};
use std::collections::HashMap;
use std::sync::Arc;

/// Plans queries of one database: its store, and the runtime DataFusion runs on.
pub struct Planner<'a> {
    pub store: &'a Arc<SqlStore>,
    pub runtime: &'a Arc<tokio::runtime::Runtime>,
    pub sessions: &'a Sessions,
}

/// DataFusion session states with immudb's functions registered, built once per engine and
/// cloned for each query (building one registers a few hundred built-in functions, most of a
/// small query's fixed cost). Each query's clone gets a catalog of its own, so the tables it
/// registers are its alone.
pub struct Sessions {
    parallel: datafusion::execution::SessionState,
    in_order: datafusion::execution::SessionState,
}

impl Default for Sessions {
    fn default() -> Sessions {
        use datafusion::prelude::SessionConfig;
        let build = |mut config: SessionConfig| {
            // One pass of the logical optimizer: a second one finds nothing more to do in our
            // queries' plans, and costs as much as the first (DataFusion stops only after a
            // pass that changed nothing).
            config.options_mut().optimizer.max_passes = 1;
            let ctx = SessionContext::new_with_config(config);
            crate::plan::functions::register(&ctx);
            ctx.state()
        };
        Sessions {
            parallel: build(SessionConfig::new()),
            in_order: build(SessionConfig::new().with_target_partitions(1)),
        }
    }
}

impl Sessions {
    /// A context for one query: on one partition when its rows must come in key order.
    fn context(&self, in_order: bool) -> SessionContext {
        use datafusion::catalog::{
            CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
            MemorySchemaProvider,
        };
        let base = match in_order {
            true => &self.in_order,
            false => &self.parallel,
        };
        let names = &base.config().options().catalog;
        let catalog = MemoryCatalogProvider::new();
        catalog
            .register_schema(&names.default_schema, Arc::new(MemorySchemaProvider::new()))
            .expect("a new catalog takes a schema");
        let catalogs = MemoryCatalogProviderList::new();
        catalogs.register_catalog(names.default_catalog.clone(), Arc::new(catalog));
        // A clone, not a builder from it: building registers every function again.
        let mut state = base.clone();
        state.register_catalog_list(Arc::new(catalogs));
        SessionContext::new_with_state(state)
    }
}

impl Planner<'_> {
    /// Plans a query with DataFusion; tables are pinned to the transaction's snapshot (plus its
    /// own writes), `sources` (references with a period or history, bound in `bind`) to their
    /// tx ranges or every version.
    pub(crate) fn plan(
        &self,
        mut stmt: Statement,
        sources: &[BoundSource],
        ws: &WriteSet,
    ) -> Result<(
        SessionContext,
        datafusion::logical_expr::LogicalPlan,
        ScanLog,
    )> {
        check_joins(&stmt)?;
        let cat = self.store.catalog_in(ws)?;
        let types = column_types(&cat, &stmt, sources);
        crate::plan::semantics::classic(&mut stmt, &types, Some(ws.now_micros))?;
        // Rows without ORDER BY come in primary-key order, as classic reads them from an index:
        // a LIMIT or OFFSET then takes the first ones. Parallel partitions would race, so such a
        // query runs on one partition (its scans too).
        let in_key_order = matches!(&stmt, Statement::Query(q)
            if q.order_by.is_none()
                && (q.limit_clause.is_some() || q.fetch.is_some() || is_set_operation(&stmt)));
        let ctx = self.sessions.context(in_key_order);
        let log = ScanLog::default();
        let shared = Arc::new(cat.clone());
        for kind in ["tables", "columns", "indexes"] {
            ctx.register_udtf(
                kind,
                Arc::new(CatalogFunction {
                    kind,
                    catalog: shared.clone(),
                }),
            );
        }
        // The DCB event store's events, at the statement's snapshot.
        ctx.register_udtf(
            "events",
            Arc::new(crate::plan::events::EventsFunction {
                ledger: self.store.ledger().clone(),
                snapshot: cat.snapshot,
                since: 0,
            }),
        );
        // Only the tables and sources the statement names: registering one costs a provider and
        // its schema.
        let mut named = std::collections::HashSet::new();
        let _ = ast::visit_relations(&stmt, |r| {
            named.insert(object_name(r));
            std::ops::ControlFlow::<()>::Continue(())
        });
        let current = Arc::new(ws.clone());
        for t in cat.tables.values() {
            if named.contains(&t.name) {
                self.register(&ctx, t, Source::Current(current.clone()), &t.name, &log)?;
            }
        }
        for b in sources.iter().filter(|b| named.contains(&b.handle)) {
            if b.function && b.table == "events" {
                // `EVENTS(...) SINCE ... UNTIL ...`: the events appended in the period's txs.
                let range = self.resolve_period(&b.period, cat.snapshot, ws.now_micros)?;
                ctx.register_udtf(
                    &b.handle,
                    Arc::new(crate::plan::events::EventsFunction {
                        ledger: self.store.ledger().clone(),
                        snapshot: range.until,
                        since: range.from,
                    }),
                );
                continue;
            }
            let t = cat.table(&b.table)?;
            let source = match b.period.history {
                true => Source::History(cat.snapshot),
                false => {
                    Source::Range(self.resolve_period(&b.period, cat.snapshot, ws.now_micros)?)
                }
            };
            self.register(&ctx, t, source, &b.handle, &log)?;
        }
        let plan = self
            .runtime
            .block_on(
                ctx.state()
                    .statement_to_plan(DfStatement::Statement(Box::new(stmt))),
            )
            .map_err(planning_err)?;
        union_columns_match(&plan)?;
        Ok((ctx, plan, log))
    }

    pub(crate) fn register(
        &self,
        ctx: &SessionContext,
        t: &Table,
        source: Source,
        name: &str,
        log: &ScanLog,
    ) -> Result<()> {
        let schema = match source {
            Source::History(_) => {
                let mut fields = vec![Field::new("_rev", DataType::Int64, false)];
                fields.extend(table_schema(t).fields().iter().map(|f| f.as_ref().clone()));
                Arc::new(Schema::new(fields))
            }
            _ => table_schema(t),
        };
        let provider = LedgerTable {
            store: self.store.clone(),
            table: t.clone(),
            source,
            schema,
            log: log.clone(),
        };
        // A bare reference: a name (a source's handle too) is registered as it is, unparsed.
        ctx.register_table(TableReference::bare(name.to_string()), Arc::new(provider))
            .map_err(df_err)?;
        Ok(())
    }
}

/// The branches of a UNION select columns of the same kinds, as classic requires (DataFusion
/// would coerce an INTEGER and a VARCHAR column to text).
pub(crate) fn union_columns_match(plan: &datafusion::logical_expr::LogicalPlan) -> Result<()> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::LogicalPlan;
    pub(crate) fn kind(t: &DataType) -> Option<u8> {
        Some(match t {
            DataType::Null => return None,
            t if t.is_numeric() => 0,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => 1,
            DataType::Boolean => 2,
            DataType::Timestamp(..) => 3,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => 4,
            _ => 5,
        })
    }
    let mut mismatch = false;
    plan.apply(|node| {
        if let LogicalPlan::Union(u) = node {
            let first = u.inputs[0].schema();
            mismatch = u.inputs[1..].iter().any(|i| {
                let other = i.schema();
                other.fields().len() != first.fields().len()
                    || first.fields().iter().zip(other.fields()).any(|(a, b)| {
                        matches!((kind(a.data_type()), kind(b.data_type())), (Some(x), Some(y)) if x != y)
                    })
            });
            if mismatch {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(df_err)?;
    match mismatch {
        true => Err(SqlError::ColumnMismatchInUnion),
        false => Ok(()),
    }
}

/// immudb's classic dialect has INNER and LEFT joins only, and HAVING only with GROUP BY.
pub(crate) fn check_joins(stmt: &Statement) -> Result<()> {
    let Statement::Query(q) = stmt else {
        return Ok(());
    };
    pub(crate) fn walk(body: &SetExpr) -> Result<()> {
        match body {
            SetExpr::Select(s) => {
                let grouped = match &s.group_by {
                    ast::GroupByExpr::Expressions(e, _) => !e.is_empty(),
                    ast::GroupByExpr::All(_) => true,
                };
                if s.having.is_some() && !grouped {
                    return Err(SqlError::HavingRequiresGroupBy);
                }
                for t in &s.from {
                    for j in &t.joins {
                        use ast::JoinOperator as J;
                        let name = match &j.join_operator {
                            J::Join(_) | J::Inner(_) | J::Left(_) | J::LeftOuter(_) => continue,
                            J::Right(_) | J::RightOuter(_) => "RIGHT",
                            J::FullOuter(_) => "FULL",
                            J::CrossJoin(_) => "CROSS",
                            _ => "this",
                        };
                        return Err(SqlError::UnsupportedJoinType(format!(
                            "{name} JOIN is not supported (use INNER or LEFT JOIN)"
                        )));
                    }
                }
                Ok(())
            }
            SetExpr::SetOperation { left, right, .. } => {
                walk(left)?;
                walk(right)
            }
            SetExpr::Query(q) => walk(&q.body),
            _ => Ok(()),
        }
    }
    walk(&q.body)
}

/// The column types of the tables `stmt` reads, as [`crate::plan::semantics::classic`] takes them
/// (its rewrites of AVG, SUM/MIN/MAX and comparisons depend on them): a name that means
/// INTEGER in one table and FLOAT in another is resolved by the tables the statement names.
/// A reference to one of `sources` reads its source's table.
pub(crate) fn column_types(
    cat: &Catalog,
    stmt: &Statement,
    sources: &[BoundSource],
) -> HashMap<String, SqlType> {
    use datafusion::sql::sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;
    /// The tables a statement reads, with the names its columns may be qualified by.
    struct Sources<'c> {
        cat: &'c Catalog,
        bound: &'c [BoundSource],
        found: Vec<(&'c Table, Option<String>)>,
    }
    impl Visitor for Sources<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, f: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table { name, alias, .. } = f {
                let table = table_named(self.bound, name);
                if let Ok(t) = self.cat.table(&table) {
                    let alias = alias.as_ref().map(|a| a.name.value.to_lowercase());
                    self.found.push((t, alias));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut sources = Sources {
        cat,
        bound: sources,
        found: Vec::new(),
    };
    let _ = stmt.visit(&mut sources);
    let mut types = HashMap::new();
    // Unqualified: `None` once two tables disagree.
    let mut plain: HashMap<&str, Option<SqlType>> = HashMap::new();
    for (t, alias) in &sources.found {
        for c in &t.columns {
            types.insert(format!("{}.{}", t.name, c.name), c.ty);
            if let Some(a) = alias {
                types.insert(format!("{a}.{}", c.name), c.ty);
            }
            let e = plain.entry(c.name.as_str()).or_insert(Some(c.ty));
            if *e != Some(c.ty) {
                *e = None;
            }
        }
    }
    types.extend(
        plain
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v))),
    );
    types
}

/// A query whose body is a set operation (UNION and friends).
pub(crate) fn is_set_operation(stmt: &Statement) -> bool {
    matches!(stmt, Statement::Query(q) if matches!(q.body.as_ref(), SetExpr::SetOperation { .. }))
}
