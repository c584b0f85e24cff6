//! Queries run: planned, executed as a stream of batches, and their result columns named as
//! classic names them.

use crate::bind::request::Template;
use crate::bind::sources::BoundSource;
use crate::bind::values::object_name;
use crate::error::Result;
use crate::exec::engine::Engine;
use crate::exec::output::{Batches, ColumnDesc, Output, RowStream};
use crate::plan::errors::df_err;
use crate::plan::query::is_set_operation;
use crate::store::arrow::sql_type_of_field;
use crate::store::WriteSet;
use crate::types::{Rows, Value};
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, SendableRecordBatchStream,
};
use datafusion::sql::sqlparser::ast::{self as ast, SetExpr, Statement, TableFactor};
use std::collections::HashMap;
use std::sync::Arc;

/// Every row of a stream (a single batch kept as it is, not copied).
fn collect(mut stream: RowStream) -> Result<(Vec<ColumnDesc>, Rows)> {
    let mut rows = Rows::new(stream.columns.len());
    while let Some(mut batch) = stream.next_batch()? {
        match rows.is_empty() {
            true => rows = batch,
            false => rows.append(&mut batch),
        }
    }
    Ok((stream.columns, rows))
}

impl Engine {
    /// Plans and runs a query.
    pub(crate) fn query(
        &self,
        stmt: Statement,
        sources: &[BoundSource],
        ws: &mut WriteSet,
    ) -> Result<(Vec<ColumnDesc>, Rows)> {
        collect(self.query_stream(stmt, sources, ws)?)
    }

    /// A plain query of a cached template with its parameters ([`Step::Query`]): the fast path
    /// on the template itself, else the template bound and planned as any query (no periods,
    /// no index hints: nothing else of a bind applies).
    ///
    /// [`Step::Query`]: crate::bind::request::Step::Query
    pub(crate) fn template_query_stream(
        &self,
        t: &Template,
        params: &HashMap<String, Value>,
        ws: &mut WriteSet,
    ) -> Result<RowStream> {
        if let [Statement::Query(q)] = t.parsed.statements.as_slice() {
            if let Some((columns, rows)) = self.point_select(q, &[], Some(params), ws)? {
                return Ok(self.ready(columns, rows));
            }
        }
        // The fast path has had its try: the bound statement would answer it the same.
        self.planned_stream(t.bound_query(params)?, &[], ws)
    }

    /// [`Engine::template_query_stream`], its rows read whole.
    pub(crate) fn template_query(
        &self,
        t: &Template,
        params: &HashMap<String, Value>,
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let (columns, rows) = collect(self.template_query_stream(t, params, ws)?)?;
        Ok(Output::Rows { columns, rows })
    }

    /// A result computed without DataFusion, as one batch.
    pub(crate) fn ready(&self, columns: Vec<ColumnDesc>, rows: Rows) -> RowStream {
        RowStream {
            runtime: self.runtime.clone(),
            columns,
            rows: Batches::Ready(Some(rows)),
            distinct: None,
            skip: 0,
            take: None,
        }
    }

    /// Runs a query, its rows to be read batch by batch. What it reads of the current state is
    /// recorded in `ws`, for the phantom checks of its commit.
    pub(crate) fn query_stream(
        &self,
        stmt: Statement,
        sources: &[BoundSource],
        ws: &mut WriteSet,
    ) -> Result<RowStream> {
        if let Statement::Query(q) = &stmt {
            if let Some((columns, rows)) = self.point_select(q, sources, None, ws)? {
                return Ok(self.ready(columns, rows));
            }
        }
        self.planned_stream(stmt, sources, ws)
    }

    /// [`Engine::query_stream`] past its fast path: planned by DataFusion.
    fn planned_stream(
        &self,
        stmt: Statement,
        sources: &[BoundSource],
        ws: &mut WriteSet,
    ) -> Result<RowStream> {
        let mut stmt = stmt;
        // UNION without ORDER BY: classic returns the first occurrence of each row in the order
        // its branches produce them, and a LIMIT or OFFSET cuts that sequence. DataFusion's
        // UNION DISTINCT is a hash aggregate, and its LIMIT over a union takes rows as the
        // branches race (orders that change run to run): run it as UNION ALL, branch after
        // branch, and drop repeats, skip and limit here.
        let in_order = set_operation_in_order(&mut stmt);
        let repeats = name_select_items(&mut stmt);
        let (first, aliases) = selector_context(&stmt);
        // A set operation's columns come out unqualified; those that are plain columns of the
        // first query keep their names (classic names a UNION's columns after its first query).
        let set_operation = is_set_operation(&stmt);
        let plain =
            |name: &str| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        let (ctx, plan, log) = self.planner().plan(stmt, sources, ws)?;
        let mut columns: Vec<ColumnDesc> = plan
            .schema()
            .iter()
            .enumerate()
            .map(|(i, (qualifier, f))| {
                let ty = sql_type_of_field(f);
                match qualifier {
                    Some(q) => ColumnDesc::of(q.table(), f.name(), ty),
                    None if aliases.contains(f.name()) => ColumnDesc::of(&first, f.name(), ty),
                    None if set_operation && plain(f.name()) => {
                        ColumnDesc::of(&first, f.name(), ty)
                    }
                    // Unaliased computed values are `colN`, as classic names them.
                    None => ColumnDesc::of(&first, &format!("col{i}"), ty),
                }
            })
            .collect();
        // A repeated select item reads as its first occurrence: a plain column under its own
        // name again, a computed value as `colN` of its own position.
        for r in &repeats {
            let ty = columns[r.first].ty;
            columns[r.at] = match r.plain {
                true => columns[r.first].clone(),
                false => ColumnDesc::of(&first, &format!("col{}", r.at), ty),
            };
        }
        let stream = self
            .runtime
            .block_on(async {
                let df = ctx.execute_logical_plan(plan).await?;
                let task = Arc::new(df.task_ctx());
                let physical = df.create_physical_plan().await?;
                // Partitions one after another: a set operation's (its branches', in order;
                // merged as they come, the branches' rows would interleave), and scans' that
                // are in key order partition after partition.
                if set_operation
                    || (physical.output_partitioning().partition_count() > 1
                        && key_ordered(&physical))
                {
                    return Ok(in_partition_order(physical, task));
                }
                datafusion::physical_plan::execute_stream(physical, task)
            })
            .map_err(df_err)?;
        // Scans are planned by now: their reads are known.
        let scans = std::mem::take(&mut *log.lock());
        ws.read_spans(scans.reads);
        ws.read_index_spans(scans.index_reads);
        for key in scans.row_keys {
            ws.guard_read(key);
        }
        Ok(RowStream {
            runtime: self.runtime.clone(),
            columns,
            rows: Batches::Stream(stream),
            distinct: in_order
                .as_ref()
                .and_then(|o| o.distinct.then(std::collections::HashSet::new)),
            skip: in_order.as_ref().map_or(0, |o| o.skip),
            take: in_order.and_then(|o| o.take),
        })
    }

    /// `EXPLAIN <query>`: DataFusion's physical plan, then one line per table scan saying which
    /// access path and which snapshot it uses.
    pub(crate) fn explain(
        &self,
        stmt: Statement,
        sources: &[BoundSource],
        ws: &WriteSet,
    ) -> Result<Vec<String>> {
        // Planned as the query itself would be (its repeated items and JSON fields named).
        let mut stmt = stmt;
        name_select_items(&mut stmt);
        let (ctx, plan, log) = self.planner().plan(stmt, sources, ws)?;
        let physical = self
            .runtime
            .block_on(ctx.state().create_physical_plan(&plan))
            .map_err(df_err)?;
        let text = datafusion::physical_plan::displayable(physical.as_ref())
            .indent(false)
            .to_string();
        let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_string()).collect();
        lines.extend(log.lock().lines.iter().cloned());
        Ok(lines)
    }
}

/// How a set operation's rows are cut in the branches' order: repeats dropped (`UNION`),
/// then OFFSET rows skipped and LIMIT rows kept.
pub(crate) struct InOrder {
    pub(crate) distinct: bool,
    pub(crate) skip: usize,
    pub(crate) take: Option<usize>,
}

/// For a top-level UNION [ALL] without ORDER BY whose LIMIT and OFFSET are literals (or
/// absent): removes them and turns every UNION into UNION ALL, returning what the result
/// stream must do instead. `None` (the statement unchanged) for anything else, and for a UNION
/// ALL without LIMIT or OFFSET, which the branch-by-branch stream already answers in order.
pub(crate) fn set_operation_in_order(stmt: &mut Statement) -> Option<InOrder> {
    use ast::{LimitClause, SetOperator, SetQuantifier};
    let Statement::Query(q) = stmt else {
        return None;
    };
    if q.order_by.is_some() || q.fetch.is_some() {
        return None;
    }
    let distinct = match q.body.as_ref() {
        SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier,
            ..
        } => !matches!(set_quantifier, SetQuantifier::All),
        _ => return None,
    };
    let count = |e: &ast::Expr| match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n.parse::<usize>().ok(),
            _ => None,
        },
        _ => None,
    };
    let (skip, take) = match &q.limit_clause {
        None => (0, None),
        Some(LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => {
            let take = match limit {
                Some(l) => Some(count(l)?),
                None => None,
            };
            let skip = match offset {
                Some(o) => count(&o.value)?,
                None => 0,
            };
            (skip, take)
        }
        Some(_) => return None,
    };
    if !distinct && skip == 0 && take.is_none() {
        return None;
    }
    q.limit_clause = None;
    // Every UNION under the top one may keep its repeats: the stream drops them all (a UNION
    // ALL under a UNION keeps none either).
    fn to_all(body: &mut SetExpr) {
        if let SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier,
            left,
            right,
        } = body
        {
            *set_quantifier = SetQuantifier::All;
            to_all(left);
            to_all(right);
        }
    }
    if distinct {
        to_all(&mut q.body);
    }
    Some(InOrder {
        distinct,
        skip,
        take,
    })
}

/// The name of a query's first data source (its alias if it has one), and the aliases its
/// select list gives: what result columns are named after.
pub(crate) fn selector_context(stmt: &Statement) -> (String, std::collections::HashSet<String>) {
    let mut aliases = std::collections::HashSet::new();
    let Statement::Query(q) = stmt else {
        return (String::new(), aliases);
    };
    let mut body = q.body.as_ref();
    while let SetExpr::SetOperation { left, .. } = body {
        body = left.as_ref();
    }
    let SetExpr::Select(sel) = body else {
        return (String::new(), aliases);
    };
    for item in &sel.projection {
        if let ast::SelectItem::ExprWithAlias { alias, .. } = item {
            // A quoted alias keeps its case, as DataFusion names the column.
            aliases.insert(match alias.quote_style {
                Some(_) => alias.value.clone(),
                None => alias.value.to_lowercase(),
            });
        }
    }
    let first = sel
        .from
        .first()
        .map(|f| source_of(&f.relation))
        .unwrap_or_default();
    (first, aliases)
}

/// A select item that repeats an earlier one (`SELECT id, id`).
struct Repeat {
    at: usize,
    first: usize,
    /// A plain column or a JSON field of one, named by its selector (else a computed value).
    plain: bool,
}

/// The select list named as classic names it, in aliases DataFusion accepts: repeated items
/// hidden (named back after planning from what this returns), then JSON fields named.
fn name_select_items(stmt: &mut Statement) -> Vec<Repeat> {
    let repeats = alias_repeats(stmt);
    crate::plan::semantics::name_json_fields(stmt);
    repeats
}

/// Classic returns a repeated select item twice (`SELECT id, id FROM t`: two columns `(t.id)`);
/// DataFusion refuses two items of one name. Each unaliased repeat of an earlier item gets a
/// hidden alias here, and is named back after planning.
fn alias_repeats(stmt: &mut Statement) -> Vec<Repeat> {
    let Statement::Query(q) = stmt else {
        return Vec::new();
    };
    let SetExpr::Select(select) = q.body.as_mut() else {
        return Vec::new();
    };
    // Over a single source, `c` and `q.c` (its name or alias) are the same column.
    let single = match select.from.as_slice() {
        [f] if f.joins.is_empty() => Some(source_of(&f.relation)),
        _ => None,
    };
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut repeats = Vec::new();
    for (at, item) in select.projection.iter_mut().enumerate() {
        let ast::SelectItem::UnnamedExpr(e) = item else {
            continue;
        };
        let key = match (&*e, &single) {
            (ast::Expr::Identifier(c), Some(source)) => {
                format!("{source}.{}", c.value.to_lowercase())
            }
            _ => e.to_string().to_lowercase(),
        };
        match seen.get(&key) {
            None => {
                seen.insert(key, at);
            }
            Some(&first) => {
                let plain = matches!(
                    e,
                    ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_)
                ) || crate::plan::semantics::json_field_name(e).is_some();
                *item = ast::SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: ast::Ident::with_quote('"', format!("__repeat_{at}")),
                };
                repeats.push(Repeat { at, first, plain });
            }
        }
    }
    repeats
}

/// What columns of a data source are qualified by: its alias, else the table's name.
pub(crate) fn source_of(relation: &TableFactor) -> String {
    match relation {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            a.name.value.to_lowercase()
        }
        TableFactor::Table { name, .. } => object_name(name),
        _ => String::new(),
    }
}

/// Whether each output partition of `plan` is one scan partition's rows (contiguous key ranges,
/// in key order, partition after partition), only filtered and projected: read one after
/// another, the partitions give the rows in primary-key order, as classic returns them.
fn key_ordered(plan: &Arc<dyn ExecutionPlan>) -> bool {
    use datafusion::datasource::source::DataSourceExec;
    use datafusion::physical_plan::coop::CooperativeExec;
    use datafusion::physical_plan::filter::FilterExec;
    use datafusion::physical_plan::projection::ProjectionExec;
    use datafusion::physical_plan::streaming::StreamingTableExec;
    if plan.is::<StreamingTableExec>() || plan.is::<DataSourceExec>() {
        return true;
    }
    let passes_rows_on =
        plan.is::<ProjectionExec>() || plan.is::<FilterExec>() || plan.is::<CooperativeExec>();
    match plan.children().as_slice() {
        [child] if passes_rows_on => key_ordered(child),
        _ => false,
    }
}

/// `plan`'s partitions one after another, each read ahead (a couple of batches) on the runtime
/// while those before it are consumed.
fn in_partition_order(
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<datafusion::execution::TaskContext>,
) -> SendableRecordBatchStream {
    use datafusion::physical_plan::stream::{
        RecordBatchReceiverStreamBuilder, RecordBatchStreamAdapter,
    };
    use futures::StreamExt as _;
    let schema = plan.schema();
    let parts: Vec<SendableRecordBatchStream> = (0..plan.output_partitioning().partition_count())
        .map(|p| {
            let mut reader = RecordBatchReceiverStreamBuilder::new(schema.clone(), 2);
            let tx = reader.tx();
            let (plan, task) = (plan.clone(), task.clone());
            reader.spawn(async move {
                let mut batches = plan.execute(p, task)?;
                while let Some(b) = batches.next().await {
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
                Ok(())
            });
            reader.build()
        })
        .collect();
    Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter(parts).flatten(),
    ))
}
