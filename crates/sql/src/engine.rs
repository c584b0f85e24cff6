//! Executing immudb SQL: statements parsed by [`crate::parse`], DDL and writes through the
//! [`SqlStore`], queries planned and run by DataFusion over tables pinned to a snapshot tx (or a
//! tx range, for time travel).
//!
//! Each write statement is one ledger tx for now (immudb commits a whole request as one tx;
//! see `docs/sql.md` for what remains).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, Float64Array, Int64Array,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::{ScalarValue, TableReference};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::TableProviderFilterPushDown;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    self as ast, Expr as SqlExpr, FromTable, ObjectName, SetExpr, Statement, TableFactor,
    TableObject, UnaryOperator,
};
use stele_ledger::proof::{TxHeader, TxId};
use stele_ledger::{KeySpan, Ledger};

use crate::access::{self, Access};
use crate::catalog::{Catalog, Table};
use crate::parse::{self, IndexHint, Period, HISTORY_MARK, PERIOD_MARK};
use crate::store::{
    ColumnSpec, KeyRange, Row, SqlStore, TableSpec, TxRange, WriteKind, WriteOutcome, WriteSet,
};
use crate::types::{SqlType, Value};
use crate::{Result, SqlError};

/// A result column: its name and type (`None` where a column has no SQL type, as `SELECT NULL`),
/// and the selector immudb names it by on the wire (spec immudb-wire.md 5.2): `(table.col)` for
/// a column of a table (or sub-query) `table`, `(table.alias)` for an aliased value, and
/// `(table.colN)` for an unaliased computed value at 0-based position N, `table` being the
/// query's first data source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDesc {
    pub name: String,
    pub ty: Option<SqlType>,
    pub selector: String,
}

impl ColumnDesc {
    /// A column `name` of `table`.
    fn of(table: &str, name: &str, ty: Option<SqlType>) -> ColumnDesc {
        ColumnDesc {
            name: name.to_string(),
            ty,
            selector: format!("({table}.{name})"),
        }
    }
}

/// A table reference's name as the user wrote it: time-travel and history markers removed.
fn source_name(internal: &str) -> &str {
    let name = internal.split(PERIOD_MARK).next().unwrap_or(internal);
    name.strip_suffix(HISTORY_MARK).unwrap_or(name)
}

/// A query whose body is a set operation (UNION and friends).
fn is_set_operation(stmt: &Statement) -> bool {
    matches!(stmt, Statement::Query(q) if matches!(q.body.as_ref(), SetExpr::SetOperation { .. }))
}

/// Turns a top-level `UNION` (distinct) of a query without ORDER BY, LIMIT or OFFSET, and the
/// UNIONs chained under it, into `UNION ALL`; true when it did (the caller then drops repeated
/// rows itself, keeping first occurrences in order).
fn distinct_union_to_all(stmt: &mut Statement) -> bool {
    use ast::{SetOperator, SetQuantifier};
    let Statement::Query(q) = stmt else {
        return false;
    };
    if q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return false;
    }
    match q.body.as_ref() {
        SetExpr::SetOperation {
            op: SetOperator::Union,
            set_quantifier: SetQuantifier::None | SetQuantifier::Distinct,
            ..
        } => {}
        _ => return false,
    }
    // Every UNION under a distinct one may keep its duplicates: the top drops them all.
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
    to_all(&mut q.body);
    true
}

/// The name of a query's first data source (its alias if it has one), and the aliases its
/// select list gives: what result columns are named after.
fn selector_context(stmt: &Statement) -> (String, std::collections::HashSet<String>) {
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
            aliases.insert(alias.value.to_lowercase());
        }
    }
    let first = sel
        .from
        .first()
        .map(|f| source_of(&f.relation))
        .unwrap_or_default();
    (first, aliases)
}

/// What columns of a data source are qualified by: its alias, else the table's name.
fn source_of(relation: &TableFactor) -> String {
    match relation {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
            a.name.value.to_lowercase()
        }
        TableFactor::Table { name, .. } => source_name(&object_name(name)).to_string(),
        _ => String::new(),
    }
}

/// The SQL type of a result column DataFusion computed.
pub(crate) fn sql_type_of(t: &DataType) -> Option<SqlType> {
    Some(match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => SqlType::Integer,
        DataType::Boolean => SqlType::Boolean,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::Varchar,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Blob,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => SqlType::Float,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => SqlType::Timestamp,
        DataType::FixedSizeBinary(16) => SqlType::Uuid,
        _ => return None,
    })
}

/// What one statement answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A query's columns (names and types) and rows.
    Rows {
        columns: Vec<ColumnDesc>,
        rows: Vec<Vec<Value>>,
    },
    /// A statement that writes (or would): the tx it committed, if any, and the rows it changed.
    Done(WriteOutcome),
}

/// The SQL engine of one database.
pub struct Engine {
    store: Arc<SqlStore>,
    /// Drives DataFusion; may be shared by every engine of a process ([`Engine::with_runtime`]).
    runtime: Arc<tokio::runtime::Runtime>,
    /// Parsed statements by SQL text, parameters as placeholders (see [`parse::parse_template`]).
    templates: parking_lot::Mutex<HashMap<String, Arc<Template>>>,
}

/// A cached parse of one SQL text.
struct Template {
    text: String,
    parsed: parse::Parsed,
    /// Set when the text is one `INSERT ... VALUES` of parameters and literals: such a
    /// statement is bound by filling its rows, without cloning or walking its AST.
    insert: Option<PreparedInsert>,
}

/// An `INSERT ... VALUES` whose values are parameters and literals.
struct PreparedInsert {
    target: Arc<InsertTarget>,
    rows: Vec<Vec<Slot>>,
    /// The parameters' names, each once; [`Slot::Parameter`] holds a position here.
    names: Vec<String>,
}

/// One value of a prepared INSERT's row.
enum Slot {
    Literal(Value),
    Parameter(usize),
}

/// Up to this many parameter names, a prepared INSERT finds its parameters with one pass over
/// the request's parameter map (a few string comparisons) instead of a hash lookup per name.
const SCAN_PARAMS_MAX: usize = 8;

/// Where an INSERT writes and how, taken from its AST.
struct InsertTarget {
    table: String,
    /// The columns named, lower-cased; empty: all of the table's, in order.
    columns: Vec<String>,
    kind: WriteKind,
}

/// A request's statements, ready to run.
struct Request {
    steps: Vec<Step>,
    periods: Vec<Period>,
    hints: Vec<IndexHint>,
}

enum Step {
    /// Boxed: a parsed statement is kilobytes, and a prepared INSERT's step is moved per row.
    Statement(Box<Statement>),
    /// A prepared INSERT's target and its bound rows.
    Insert(Arc<InsertTarget>, Vec<Vec<Value>>),
}

impl Template {
    fn new(text: &str, parsed: parse::Parsed) -> Template {
        let plain = parsed.periods.is_empty() && parsed.hints.is_empty();
        let insert = match (parsed.statements.as_slice(), plain) {
            ([Statement::Insert(ins)], true) => prepared_insert(ins),
            _ => None,
        };
        Template {
            text: text.to_string(),
            parsed,
            insert,
        }
    }

    /// The request this template makes with `params`.
    fn bind(&self, params: &HashMap<String, Value>) -> Result<Request> {
        let Some(ins) = &self.insert else {
            return Ok(Request::from(parse::bind(&self.parsed, params)?));
        };
        let mut few = [None; SCAN_PARAMS_MAX];
        let many: Vec<Option<&Value>>;
        let found: &[Option<&Value>] = if ins.names.len() <= SCAN_PARAMS_MAX {
            for (name, v) in params {
                if let Some(i) = ins.names.iter().position(|n| n == name) {
                    few[i] = Some(v);
                }
            }
            &few[..ins.names.len()]
        } else {
            many = ins.names.iter().map(|n| params.get(n)).collect();
            &many
        };
        let mut rows = Vec::with_capacity(ins.rows.len());
        for r in &ins.rows {
            let mut row = Vec::with_capacity(r.len());
            for slot in r {
                row.push(match slot {
                    Slot::Literal(v) => v.clone(),
                    Slot::Parameter(i) => parameter_value(
                        found[*i]
                            .ok_or_else(|| SqlError::MissingParameter(ins.names[*i].clone()))?,
                    ),
                });
            }
            rows.push(row);
        }
        Ok(Request {
            steps: vec![Step::Insert(ins.target.clone(), rows)],
            periods: Vec::new(),
            hints: Vec::new(),
        })
    }
}

impl From<parse::Parsed> for Request {
    fn from(p: parse::Parsed) -> Request {
        Request {
            steps: p
                .statements
                .into_iter()
                .map(|s| Step::Statement(Box::new(s)))
                .collect(),
            periods: p.periods,
            hints: p.hints,
        }
    }
}

/// A parameter's value as an INSERT row receives it: what its literal evaluates to when bound
/// into the statement's text (JSON and UUID values arrive as strings, which the columns convert).
fn parameter_value(v: &Value) -> Value {
    match v {
        Value::Json(s) => Value::Varchar(s.clone()),
        Value::Uuid(u) => Value::Varchar(crate::types::uuid_string(u)),
        other => other.clone(),
    }
}

/// The target and rows of an `INSERT ... VALUES` whose values are all parameters or literals.
fn prepared_insert(ins: &ast::Insert) -> Option<PreparedInsert> {
    let target = insert_target(ins).ok()?;
    let source = ins.source.as_ref()?;
    let SetExpr::Values(values) = source.body.as_ref() else {
        return None;
    };
    if source.with.is_some() || source.order_by.is_some() || source.limit_clause.is_some() {
        return None;
    }
    let mut rows = Vec::with_capacity(values.rows.len());
    let mut names: Vec<String> = Vec::new();
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for r in &values.rows {
        let mut row = Vec::with_capacity(r.content.len());
        for e in &r.content {
            row.push(match e {
                SqlExpr::Value(v) => match &v.value {
                    ast::Value::Placeholder(p) => {
                        let name = p.strip_prefix('@')?;
                        let next = positions.len();
                        let i = *positions.entry(name).or_insert(next);
                        if i == next {
                            names.push(name.to_string());
                        }
                        Slot::Parameter(i)
                    }
                    _ => Slot::Literal(eval_const(e)?),
                },
                _ => Slot::Literal(eval_const(e)?),
            });
        }
        rows.push(row);
    }
    Some(PreparedInsert {
        target: Arc::new(target),
        rows,
        names,
    })
}

/// An INSERT's table, columns and kind.
fn insert_target(ins: &ast::Insert) -> Result<InsertTarget> {
    let TableObject::TableName(name) = &ins.table else {
        return Err(SqlError::NotSupported(
            "INSERT into a table function".into(),
        ));
    };
    let kind = if ins.replace_into {
        WriteKind::Upsert
    } else if matches!(&ins.on, Some(ast::OnInsert::OnConflict(c)) if matches!(c.action, ast::OnConflictAction::DoNothing))
    {
        WriteKind::InsertOrIgnore
    } else if ins.on.is_some() {
        return Err(SqlError::NotSupported(
            "ON CONFLICT other than DO NOTHING".into(),
        ));
    } else {
        WriteKind::Insert
    };
    Ok(InsertTarget {
        table: object_name(name),
        columns: ins
            .columns
            .iter()
            .map(|c| c.to_string().trim_matches('"').to_lowercase())
            .collect(),
        kind,
    })
}

/// Most statements kept parsed; the cache starts over when full.
const TEMPLATE_CACHE: usize = 256;
/// Longer SQL texts (bulk inserts of literals, say) are not kept.
const TEMPLATE_MAX_LEN: usize = 4096;

/// The text of `msg` between the first `open` and the `close` after it.
fn text_between<'a>(msg: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = msg.split_once(open)?.1;
    Some(rest.split_once(close)?.0)
}

/// DataFusion's execution errors; the ones immudb has words for get them.
pub(crate) fn df_err(e: impl std::fmt::Display) -> SqlError {
    let msg = e.to_string();
    // A selected column neither grouped nor aggregated: `(t.c): must appear ...`.
    if msg.contains("must appear in the GROUP BY clause") {
        if let Some(col) = text_between(&msg, "column \"", "\"") {
            return SqlError::Query(format!(
                "({col}): must appear in the group by clause or be used in an aggregated function"
            ));
        }
    }
    if msg.contains("UNION queries have different number of columns") {
        return SqlError::ColumnMismatchInUnion;
    }
    // Raised by `uuid_from_text` (functions.rs) in these words.
    if let Some(rest) = msg.split("invalid value provided: ").nth(1) {
        return SqlError::InvalidValue(rest.to_string());
    }
    // `CAST(x AS BLOB)`: a type the query engine cannot cast to.
    if let Some(ty) = msg.split("Unsupported SQL type ").nth(1) {
        return SqlError::NotSupported(format!("CAST to {}", ty.trim()));
    }
    // Raised by the JSON comparison functions (functions.rs) in these words.
    if msg.contains(&SqlError::ValuesNotComparable.to_string()) {
        return SqlError::ValuesNotComparable;
    }
    if let Some(name) = text_between(&msg, "Invalid function '", "'") {
        return SqlError::IllegalArguments(format!("unknown function {name}"));
    }
    for what in ["numeric", "boolean"] {
        let text = crate::functions::expecting(what);
        if msg.contains(&text) {
            return SqlError::Query(text);
        }
    }
    if msg.contains("Divide by zero") {
        return SqlError::DivisionByZero;
    }
    if msg.contains("LIMIT must be >= 0") {
        return SqlError::Query("invalid limit".into());
    }
    if msg.contains("OFFSET must be >=0") {
        return SqlError::Query("invalid offset".into());
    }
    // LIKE is regexp_like underneath (semantics.rs); the regex crate's words follow.
    if msg.contains("regex parse error") || msg.contains("Regular expression did not compile") {
        let detail = msg
            .rsplit("error: ")
            .next()
            .unwrap_or(&msg)
            .trim_matches(|c| c == '"' || c == ')' || c == '(');
        return SqlError::Query(format!(
            "error in 'LIKE' clause: error parsing regexp: {detail}"
        ));
    }
    SqlError::Query(msg)
}

/// The branches of a UNION select columns of the same kinds, as classic requires (DataFusion
/// would coerce an INTEGER and a VARCHAR column to text).
fn union_columns_match(plan: &datafusion::logical_expr::LogicalPlan) -> Result<()> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::logical_expr::LogicalPlan;
    fn kind(t: &DataType) -> Option<u8> {
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

/// DataFusion's planning errors, in immudb's words where immudb has some.
pub(crate) fn planning_err(e: datafusion::error::DataFusionError) -> SqlError {
    let msg = e.to_string();
    if let Some(name) = text_between(&msg, "table '", "' not found") {
        let name = name.rsplit('.').next().unwrap_or(name);
        return SqlError::TableDoesNotExist(
            name.split(PERIOD_MARK).next().unwrap_or(name).to_string(),
        );
    }
    if let Some(rest) = msg.split("No field named ").nth(1) {
        let field = rest
            .split_whitespace()
            .next()
            .unwrap_or(rest)
            .trim_end_matches('.');
        let field = field.rsplit('.').next().unwrap_or(field).trim_matches('"');
        return SqlError::ColumnDoesNotExist(field.to_string());
    }
    df_err(msg)
}

/// The Arrow type of a column type.
pub fn arrow_type(t: SqlType) -> DataType {
    match t {
        SqlType::Integer => DataType::Int64,
        SqlType::Boolean => DataType::Boolean,
        SqlType::Varchar | SqlType::Json => DataType::Utf8,
        SqlType::Blob => DataType::Binary,
        SqlType::Float => DataType::Float64,
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        SqlType::Uuid => DataType::FixedSizeBinary(16),
    }
}

pub(crate) fn table_schema(t: &Table) -> SchemaRef {
    Arc::new(Schema::new(
        t.columns
            .iter()
            .map(|c| Field::new(&c.name, arrow_type(c.ty), true))
            .collect::<Vec<_>>(),
    ))
}

/// immudb's catalog functions as DataFusion table functions: `TABLES()`, `COLUMNS('t')`,
/// `INDEXES('t')`, answered from the catalog the statement reads.
#[derive(Debug)]
struct CatalogFunction {
    kind: &'static str,
    catalog: Arc<Catalog>,
}

impl datafusion::catalog::TableFunctionImpl for CatalogFunction {
    fn call_with_args(
        &self,
        args: datafusion::catalog::TableFunctionArgs,
    ) -> datafusion::common::Result<Arc<dyn TableProvider>> {
        use datafusion::arrow::array::{BooleanArray, Int64Array, StringArray};
        let ext = |e: SqlError| datafusion::error::DataFusionError::External(Box::new(e));
        let table = match args.exprs() {
            [] if self.kind == "tables" => None,
            [Expr::Literal(ScalarValue::Utf8(Some(t)) | ScalarValue::Utf8View(Some(t)), _)]
                if self.kind != "tables" =>
            {
                Some(self.catalog.table(&t.to_lowercase()).map_err(ext)?)
            }
            _ => {
                let want = if self.kind == "tables" {
                    "no arguments"
                } else {
                    "a table name"
                };
                return Err(ext(SqlError::IllegalArguments(format!(
                    "{}() takes {want}",
                    self.kind.to_uppercase()
                ))));
            }
        };
        let s = |v: Vec<String>| Arc::new(StringArray::from(v)) as ArrayRef;
        let b = |v: Vec<bool>| Arc::new(BooleanArray::from(v)) as ArrayRef;
        let (fields, arrays): (Vec<(&str, DataType)>, Vec<ArrayRef>) = match (self.kind, table) {
            ("tables", _) => (
                vec![("name", DataType::Utf8)],
                vec![s(self.catalog.tables.keys().cloned().collect())],
            ),
            ("columns", Some(t)) => {
                let indexed = |id: u32| t.indexes.iter().any(|i| i.columns.contains(&id));
                let primary = |id: u32| t.primary_key().columns.contains(&id);
                let unique = |id: u32| t.indexes.iter().any(|i| i.unique && i.columns == [id]);
                let c = &t.columns;
                (
                    vec![
                        ("table", DataType::Utf8),
                        ("name", DataType::Utf8),
                        ("type", DataType::Utf8),
                        ("max_length", DataType::Int64),
                        ("nullable", DataType::Boolean),
                        ("auto_increment", DataType::Boolean),
                        ("indexed", DataType::Boolean),
                        ("primary", DataType::Boolean),
                        ("unique", DataType::Boolean),
                    ],
                    vec![
                        s(c.iter().map(|_| t.name.clone()).collect()),
                        s(c.iter().map(|x| x.name.clone()).collect()),
                        s(c.iter().map(|x| x.ty.name().to_string()).collect()),
                        Arc::new(Int64Array::from(
                            c.iter().map(|x| x.max_len as i64).collect::<Vec<_>>(),
                        )),
                        b(c.iter().map(|x| !x.not_null).collect()),
                        b(c.iter().map(|x| x.auto_increment).collect()),
                        b(c.iter().map(|x| indexed(x.id)).collect()),
                        b(c.iter().map(|x| primary(x.id)).collect()),
                        b(c.iter().map(|x| unique(x.id)).collect()),
                    ],
                )
            }
            (_, Some(t)) => {
                let name = |i: &crate::catalog::Index| {
                    let cols: Vec<String> = i
                        .columns
                        .iter()
                        .filter_map(|c| t.column_by_id(*c))
                        .map(|c| c.name.clone())
                        .collect();
                    format!("{}({})", t.name, cols.join(","))
                };
                (
                    vec![
                        ("table", DataType::Utf8),
                        ("name", DataType::Utf8),
                        ("unique", DataType::Boolean),
                        ("primary", DataType::Boolean),
                    ],
                    vec![
                        s(t.indexes.iter().map(|_| t.name.clone()).collect()),
                        s(t.indexes.iter().map(name).collect()),
                        b(t.indexes.iter().map(|i| i.unique).collect()),
                        b(t.indexes
                            .iter()
                            .map(|i| i.id == crate::encoding::PRIMARY_INDEX_ID)
                            .collect()),
                    ],
                )
            }
            _ => unreachable!("checked above"),
        };
        let schema = Arc::new(Schema::new(
            fields
                .into_iter()
                .map(|(n, t)| Field::new(n, t, false))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        Ok(Arc::new(datafusion::datasource::MemTable::try_new(
            schema,
            vec![vec![batch]],
        )?))
    }
}

/// What a statement's scans did, in planning order: their access paths (for EXPLAIN) and the
/// key spans of the current state they read (for the transaction's phantom checks).
#[derive(Debug, Default)]
struct Scans {
    lines: Vec<String>,
    reads: Vec<KeySpan>,
}

type ScanLog = Arc<parking_lot::Mutex<Scans>>;

/// Which rows a table reference reads.
#[derive(Debug, Clone)]
enum Source {
    /// The current state as a transaction sees it (its snapshot plus its own writes).
    Current(Arc<WriteSet>),
    /// Committed versions over a tx range (time travel).
    Range(TxRange),
    /// Every committed version of every row, with `_rev` (HISTORY OF).
    History(TxId),
}

/// A table as DataFusion sees it.
#[derive(Debug)]
struct LedgerTable {
    store: Arc<SqlStore>,
    table: Table,
    source: Source,
    schema: SchemaRef,
    /// One line per scan planned (which access path and which snapshot), and what it read.
    log: ScanLog,
}

impl LedgerTable {
    fn snapshot_text(&self) -> String {
        match &self.source {
            Source::Current(ws) if ws.is_empty() => format!("snapshot tx {}", ws.snapshot),
            Source::Current(ws) => {
                format!("snapshot tx {} + {} pending writes", ws.snapshot, ws.len())
            }
            Source::Range(r) => format!("tx range [{}, {}]", r.from, r.until),
            Source::History(s) => format!("every version up to tx {s}"),
        }
    }
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqlStore")
    }
}

#[async_trait]
impl TableProvider for LedgerTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn table_type(&self) -> TableType {
        TableType::Base
    }
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        let access = self.access(filters);
        Ok((0..filters.len())
            .map(|i| {
                if access.used().contains(&i) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let limit = limit.unwrap_or(0);
        // One partition, in key order, when the query must see rows in key order (see `plan`).
        let single = state.config().target_partitions() == 1;
        let filter_refs: Vec<&Expr> = filters.iter().collect();
        // DataFusion passes exactly the filters reported `Exact`: the same access comes out.
        let access = self.access(&filter_refs);
        {
            let mut log = self.log.lock();
            log.lines.push(format!(
                "LedgerScan {}: {} at {}",
                self.table.name,
                access.describe(&self.table.name),
                self.snapshot_text()
            ));
            // The current state's rows this scan depends on: its primary-key ranges, else the
            // whole table. A commit fails if another tx wrote there since the snapshot.
            if let Source::Current(_) = self.source {
                let prefix = crate::encoding::row_prefix(self.table.id);
                match &access {
                    Access::Primary(p) => log.reads.extend(p.ranges.iter().map(|r| KeySpan {
                        prefix: prefix.clone(),
                        lo: r.lo.clone(),
                        hi: r.hi.clone(),
                    })),
                    _ => log.reads.push(KeySpan {
                        prefix,
                        lo: None,
                        hi: None,
                    }),
                }
            }
        }
        let ext = |e: SqlError| datafusion::error::DataFusionError::External(Box::new(e));
        // Committed rows over key ranges decode straight into Arrow, in partitions.
        let committed = match &self.source {
            Source::Current(ws) if ws.is_empty() => Some(TxRange {
                from: 1,
                until: ws.snapshot,
            }),
            Source::Range(r) => Some(*r),
            _ => None,
        };
        let ranges = match &access {
            Access::Full => Some(vec![KeyRange::default()]),
            Access::Primary(p) if p.points.is_none() => Some(p.ranges.clone()),
            _ => None,
        };
        if let (Some(range), Some(ranges)) = (committed, ranges) {
            let all: Vec<usize> = (0..self.table.columns.len()).collect();
            let projection = projection.unwrap_or(&all);
            if matches!(self.source, Source::Current(_)) && limit == 0 {
                if let Some(batches) =
                    self.cached(&access, &ranges, range.until, projection, single)
                {
                    let batches = batches.map_err(ext)?;
                    let schema = Arc::new(self.schema.project(projection)?);
                    return Ok(MemorySourceConfig::try_new_exec(&batches, schema, None)?);
                }
            }
            let mut partitions: Vec<Vec<RecordBatch>> = Vec::new();
            let mut remaining = limit;
            for keys in &ranges {
                let parts = self
                    .store
                    .scan_batches(
                        &self.table,
                        range,
                        keys,
                        remaining,
                        projection,
                        &self.schema,
                    )
                    .map_err(ext)?;
                if limit > 0 {
                    let n: usize = parts.iter().flatten().map(|b| b.num_rows()).sum();
                    remaining = remaining.saturating_sub(n);
                }
                // Every range's first partition goes to partition 0, its second to 1.
                for (i, p) in parts.into_iter().enumerate() {
                    let i = if single { 0 } else { i };
                    if partitions.len() <= i {
                        partitions.push(Vec::new());
                    }
                    partitions[i].extend(p);
                }
                if limit > 0 && remaining == 0 {
                    break;
                }
            }
            if partitions.is_empty() {
                partitions.push(Vec::new());
            }
            let schema = Arc::new(self.schema.project(projection)?);
            return Ok(MemorySourceConfig::try_new_exec(&partitions, schema, None)?);
        }
        let rows = self.read(access, limit).map_err(ext)?;
        let types: Vec<SqlType> = match self.source {
            Source::History(_) => std::iter::once(SqlType::Integer)
                .chain(self.table.columns.iter().map(|c| c.ty))
                .collect(),
            _ => self.table.columns.iter().map(|c| c.ty).collect(),
        };
        let batch =
            rows_to_batch(&types, &self.schema, rows.iter().map(|r| &r.values)).map_err(ext)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema.clone(),
            projection.cloned(),
        )?)
    }
}

impl LedgerTable {
    /// Batches of the projected columns from the column cache, as two partitions (one if
    /// `single`): the cached rows if they are current, or after reading and caching the whole
    /// table for a full scan.
    /// `None` when the cache cannot answer (a key range it cannot slice).
    fn cached(
        &self,
        access: &Access,
        ranges: &[KeyRange],
        snapshot: TxId,
        projection: &[usize],
        single: bool,
    ) -> Option<Result<Vec<Vec<RecordBatch>>>> {
        let (t, store) = (&self.table, &self.store);
        let cache = store.cache();
        let batches: Vec<RecordBatch> = match cache.get(store.ledger(), t, snapshot) {
            Some(c) => match access {
                Access::Full => c.batches.clone(),
                _ => ranges
                    .iter()
                    .map(|r| c.slice(t, r))
                    .collect::<Option<Vec<_>>>()?
                    .into_iter()
                    .flatten()
                    .collect(),
            },
            None if matches!(access, Access::Full) => {
                if let Err(e) = cache.watch(store.ledger(), t) {
                    return Some(Err(e));
                }
                let all: Vec<usize> = (0..t.columns.len()).collect();
                let range = TxRange {
                    from: 1,
                    until: snapshot,
                };
                let read =
                    store.scan_batches(t, range, &KeyRange::default(), 0, &all, &self.schema);
                let batches: Vec<RecordBatch> = match read {
                    Ok(parts) => parts.into_iter().flatten().collect(),
                    Err(e) => return Some(Err(e)),
                };
                cache.put(t, snapshot, batches.clone());
                batches
            }
            None => return None,
        };
        let mut parts = vec![Vec::new(); if single { 1 } else { 2 }];
        let n = parts.len();
        for (i, b) in batches.iter().enumerate() {
            match b.project(projection) {
                Ok(p) => parts[i % n].push(p),
                Err(e) => return Some(Err(df_err(e))),
            }
        }
        Some(Ok(parts))
    }

    fn access(&self, filters: &[&Expr]) -> Access {
        match self.source {
            Source::History(_) => Access::Full,
            _ => access::choose(&self.table, filters),
        }
    }

    /// The rows an access path reaches in this table's source (at most `limit`, 0: all).
    fn read(&self, access: Access, limit: usize) -> Result<Vec<Row>> {
        let t = &self.table;
        let store = &self.store;
        let mut rows = match (&self.source, access) {
            (Source::History(s), _) => {
                let mut rows = store.history(t, *s)?;
                for r in &mut rows {
                    r.values.insert(0, Value::Integer(r.revision as i64));
                }
                return Ok(rows);
            }
            (_, Access::Full) => self.read_range(&KeyRange::default(), limit)?,
            (source, Access::Primary(plan)) => match plan.points {
                Some(keys) => match source {
                    Source::Current(ws) => store.rows_by_keys_in(t, &keys, ws)?,
                    Source::Range(r) => store.rows_by_keys(t, &keys, *r)?,
                    Source::History(_) => unreachable!("history reads every version"),
                },
                None => {
                    let mut rows = Vec::new();
                    for r in &plan.ranges {
                        rows.extend(self.read_range(r, limit)?);
                    }
                    rows
                }
            },
            (source, Access::Secondary(index, _, plan)) => {
                let (snapshot, ws) = match source {
                    Source::Current(ws) => (ws.snapshot, Some(ws.as_ref())),
                    Source::Range(r) => (r.until, None),
                    Source::History(_) => unreachable!("history reads every version"),
                };
                let keys = store.index_row_keys(t, &index, &plan.ranges, snapshot, ws)?;
                match source {
                    Source::Current(ws) => store.rows_by_keys_in(t, &keys, ws)?,
                    Source::Range(r) => store.rows_by_keys(t, &keys, *r)?,
                    Source::History(_) => unreachable!("history reads every version"),
                }
            }
        };
        if limit > 0 {
            rows.truncate(limit);
        }
        Ok(rows)
    }

    fn read_range(&self, keys: &KeyRange, limit: usize) -> Result<Vec<Row>> {
        match &self.source {
            Source::Current(ws) => self.store.scan_keys_in(&self.table, keys, limit, Some(ws)),
            Source::Range(r) => self.store.scan_keys(&self.table, *r, keys, limit),
            Source::History(_) => unreachable!("history reads every version"),
        }
    }
}

pub(crate) fn rows_to_batch<'a>(
    types: &[SqlType],
    schema: &SchemaRef,
    rows: impl Iterator<Item = &'a Vec<Value>> + Clone,
) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        let vals = rows.clone().map(|r| &r[i]);
        // One typed column: each value is taken when it has the column's variant, NULL otherwise.
        macro_rules! column {
            ($array:ty, $pat:pat => $out:expr) => {
                Arc::new(<$array>::from_iter(vals.map(|v| match v {
                    $pat => Some($out),
                    _ => None,
                })))
            };
        }
        let array: ArrayRef = match ty {
            SqlType::Integer => column!(Int64Array, Value::Integer(x) => *x),
            SqlType::Boolean => column!(BooleanArray, Value::Boolean(x) => *x),
            SqlType::Varchar | SqlType::Json => {
                column!(StringArray, Value::Varchar(x) | Value::Json(x) => x.as_str())
            }
            SqlType::Blob => column!(BinaryArray, Value::Blob(x) => x.as_slice()),
            SqlType::Float => column!(Float64Array, Value::Float(x) => *x),
            SqlType::Timestamp => column!(TimestampMicrosecondArray, Value::Timestamp(x) => *x),
            SqlType::Uuid => Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vals.map(|v| match v {
                        Value::Uuid(u) => Some(u.as_slice()),
                        _ => None,
                    }),
                    16,
                )
                .map_err(df_err)?,
            ),
        };
        arrays.push(array);
    }
    RecordBatch::try_new(schema.clone(), arrays).map_err(df_err)
}

/// A DataFusion scalar as a SQL value.
pub(crate) fn from_scalar(s: ScalarValue) -> Result<Value> {
    Ok(match s {
        s if s.is_null() => Value::Null,
        ScalarValue::Int64(Some(v)) => Value::Integer(v),
        ScalarValue::Int32(Some(v)) => Value::Integer(v as i64),
        ScalarValue::Int16(Some(v)) => Value::Integer(v as i64),
        ScalarValue::Int8(Some(v)) => Value::Integer(v as i64),
        ScalarValue::UInt64(Some(v)) => Value::Integer(v as i64),
        ScalarValue::UInt32(Some(v)) => Value::Integer(v as i64),
        ScalarValue::Boolean(Some(v)) => Value::Boolean(v),
        ScalarValue::Float64(Some(v)) => Value::Float(v),
        ScalarValue::Float32(Some(v)) => Value::Float(v as f64),
        ScalarValue::Utf8(Some(v))
        | ScalarValue::LargeUtf8(Some(v))
        | ScalarValue::Utf8View(Some(v)) => Value::Varchar(v),
        ScalarValue::Binary(Some(v))
        | ScalarValue::LargeBinary(Some(v))
        | ScalarValue::BinaryView(Some(v)) => Value::Blob(v),
        ScalarValue::FixedSizeBinary(16, Some(v)) => {
            Value::Uuid(v.try_into().map_err(|_| df_err("bad uuid"))?)
        }
        ScalarValue::TimestampMicrosecond(Some(v), _) => Value::Timestamp(v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Value::Timestamp(v.div_euclid(1000)),
        ScalarValue::TimestampMillisecond(Some(v), _) => Value::Timestamp(v * 1000),
        ScalarValue::TimestampSecond(Some(v), _) => Value::Timestamp(v * 1_000_000),
        ScalarValue::Decimal128(Some(v), _, scale) => {
            Value::Float(v as f64 / 10f64.powi(scale as i32))
        }
        other => {
            return Err(SqlError::NotSupported(format!(
                "values of type {}",
                other.data_type()
            )))
        }
    })
}

fn object_name(n: &ObjectName) -> String {
    n.0.iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(".")
        .trim_matches('"')
        .to_lowercase()
}

/// Constant expressions of VALUES lists, without planning a query.
fn eval_const(e: &SqlExpr) -> Option<Value> {
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

impl Engine {
    pub fn new(ledger: Arc<Ledger>) -> Result<Engine> {
        Engine::with_runtime(ledger, Engine::runtime()?)
    }

    /// A runtime for DataFusion, to share between engines: its threads run query plans only.
    pub fn runtime() -> Result<Arc<tokio::runtime::Runtime>> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stele-sql")
            .build()
            .map_err(df_err)?;
        Ok(Arc::new(runtime))
    }

    /// An engine whose queries run on `runtime`. Its methods block on it, so they must be
    /// called from a blocking thread, never from inside an async task.
    pub fn with_runtime(
        ledger: Arc<Ledger>,
        runtime: Arc<tokio::runtime::Runtime>,
    ) -> Result<Engine> {
        Ok(Engine {
            store: Arc::new(SqlStore::new(ledger)?),
            runtime,
            templates: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    /// Parses `sql` with its parameters, reusing the parse of an earlier request with the same
    /// text: a parameterised statement is tokenized and parsed once, then only bound.
    ///
    /// `last` is the caller's memo of the template it used last: a session repeating one
    /// statement finds it with a comparison, without hashing the text.
    fn parse(
        &self,
        sql: &str,
        params: &HashMap<String, Value>,
        last: &mut Option<Arc<Template>>,
    ) -> Result<Request> {
        if let Some(t) = last.as_ref().filter(|t| t.text == sql) {
            return t.bind(params);
        }
        if sql.len() > TEMPLATE_MAX_LEN {
            return Ok(parse::parse(sql, params)?.into());
        }
        let cached = self.templates.lock().get(sql).cloned();
        let template = match cached {
            Some(t) => t,
            None => match parse::parse_template(sql)? {
                Some(t) => {
                    let t = Arc::new(Template::new(sql, t));
                    let mut cache = self.templates.lock();
                    if cache.len() >= TEMPLATE_CACHE {
                        cache.clear();
                    }
                    cache.insert(sql.to_string(), t.clone());
                    t
                }
                None => return Ok(parse::parse(sql, params)?.into()),
            },
        };
        let request = template.bind(params);
        *last = Some(template);
        request
    }

    /// Orders a query by its `USE INDEX ON (cols)` hint when it has no ORDER BY: classic scans
    /// the hinted index, so a plain query over one source returns its rows in that index's
    /// order (its columns, NULLs first, then the primary key). The index must exist.
    fn hinted_order(
        &self,
        mut stmt: Statement,
        hints: &[IndexHint],
        ws: &WriteSet,
    ) -> Result<Statement> {
        let Statement::Query(q) = &mut stmt else {
            return Ok(stmt);
        };
        if hints.is_empty() || q.order_by.is_some() {
            return Ok(stmt);
        }
        let SetExpr::Select(sel) = q.body.as_mut() else {
            return Ok(stmt);
        };
        let ([from], None) = (sel.from.as_slice(), &sel.distinct) else {
            return Ok(stmt);
        };
        let grouped = !matches!(&sel.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty());
        if !from.joins.is_empty() || grouped || has_aggregate(&sel.projection) {
            return Ok(stmt);
        }
        let TableFactor::Table { name, alias, .. } = &from.relation else {
            return Ok(stmt);
        };
        let source = object_name(name);
        let alias = alias.as_ref().map(|a| a.name.value.to_lowercase());
        let Some(hint) = hints
            .iter()
            .find(|h| h.source == source || Some(&h.source) == alias.as_ref())
        else {
            return Ok(stmt);
        };
        let table = source.split(PERIOD_MARK).next().unwrap_or(&source);
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
        Ok(stmt)
    }

    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Runs one request in a fresh session (every statement in one tx).
    pub fn execute(&self, sql: &str, params: &HashMap<String, Value>) -> Result<Vec<Output>> {
        Ok(self.session().execute(sql, params)?.outputs)
    }

    /// A session: holds an explicit transaction across requests.
    pub fn session(&self) -> SqlSession<'_> {
        SqlSession {
            engine: EngineRef::Borrowed(self),
            tx: None,
            last_template: None,
        }
    }

    fn statement(&self, stmt: Statement, periods: &[Period], ws: &mut WriteSet) -> Result<Output> {
        let done = |updated_rows| {
            Output::Done(WriteOutcome {
                updated_rows,
                ..Default::default()
            })
        };
        match stmt {
            Statement::CreateTable(ct) => {
                let spec = table_spec(&ct)?;
                self.store.create_table_in(ws, &spec)?;
                Ok(done(0))
            }
            Statement::CreateIndex(ci) => {
                let table = object_name(&ci.table_name);
                let cols = ci
                    .columns
                    .iter()
                    .map(|c| c.column.expr.to_string().trim_matches('"').to_lowercase())
                    .collect::<Vec<_>>();
                self.store
                    .create_index_in(ws, &table, &cols, ci.unique, ci.if_not_exists)?;
                Ok(done(0))
            }
            Statement::Insert(ins) => self.insert(ins, periods, ws),
            Statement::Delete(del) => self.delete(del, periods, ws),
            Statement::Update(up) => self.update(up, periods, ws),
            Statement::AlterTable(at) => {
                let table = object_name(&at.name);
                for op in &at.operations {
                    use ast::AlterTableOperation as Op;
                    match op {
                        Op::AddColumn { column_def, .. } => {
                            let (spec, pk) = column_spec(column_def)?;
                            if pk {
                                return Err(SqlError::MultiplePrimaryKeys(table));
                            }
                            self.store.add_column_in(ws, &table, &spec)?
                        }
                        Op::RenameColumn {
                            old_column_name,
                            new_column_name,
                        } => self.store.rename_column_in(
                            ws,
                            &table,
                            &old_column_name.value.to_lowercase(),
                            &new_column_name.value.to_lowercase(),
                        )?,
                        Op::DropColumn { column_names, .. } => {
                            for c in column_names {
                                self.store
                                    .drop_column_in(ws, &table, &c.value.to_lowercase())?;
                            }
                        }
                        Op::DropConstraint { name, .. } => {
                            self.store.drop_constraint_in(ws, &table, &name.value)?
                        }
                        Op::RenameTable { table_name } => {
                            let (ast::RenameTableNameKind::As(n) | ast::RenameTableNameKind::To(n)) =
                                table_name;
                            self.store.rename_table_in(ws, &table, &object_name(n))?
                        }
                        other => {
                            return Err(SqlError::NotSupported(format!("ALTER TABLE {other}")))
                        }
                    }
                }
                Ok(done(0))
            }
            Statement::Drop {
                object_type,
                if_exists,
                names,
                ..
            } => {
                for n in &names {
                    let name = object_name(n);
                    match object_type {
                        ast::ObjectType::Table => {
                            self.store.drop_table_in(ws, &name, if_exists)?;
                        }
                        ast::ObjectType::Index => {
                            // "t(a,b)" from DROP INDEX ON t (a, b), or t.c
                            let (table, cols) = match name.split_once('(') {
                                Some((t, rest)) => (t.to_string(), rest.trim_end_matches(')').split(',').map(|c| c.trim().to_string()).collect()),
                                None => match name.split_once('.') {
                                    Some((t, c)) => (t.to_string(), vec![c.to_string()]),
                                    None => return Err(SqlError::Parsing(format!("DROP INDEX needs ON table (columns) or table.column, got {name}"))),
                                },
                            };
                            self.store.drop_index_in(ws, &table, &cols)?;
                        }
                        other => return Err(SqlError::NotSupported(format!("DROP {other}"))),
                    }
                }
                Ok(done(0))
            }
            Statement::Query(q) => {
                if let Some((columns, rows)) = self.point_select(&q, periods, ws)? {
                    return Ok(Output::Rows { columns, rows });
                }
                let (columns, rows) = self.query(Statement::Query(q), periods, ws)?;
                Ok(Output::Rows { columns, rows })
            }
            Statement::ShowTables { .. } => {
                let cat = self.store.catalog_in(ws)?;
                let rows = cat
                    .tables
                    .keys()
                    .map(|n| vec![Value::Varchar(n.clone())])
                    .collect();
                Ok(Output::Rows {
                    columns: vec![ColumnDesc::of("tables", "name", Some(SqlType::Varchar))],
                    rows,
                })
            }
            // `SHOW TABLE t`: the rows of `COLUMNS('t')`.
            Statement::ShowVariable { variable }
                if variable.len() == 2 && variable[0].value.eq_ignore_ascii_case("table") =>
            {
                let table = variable[1].value.to_lowercase();
                self.store.catalog_in(ws)?.table(&table)?;
                let stmt = parse::parse(
                    &format!("SELECT * FROM COLUMNS('{}')", table.replace('\'', "''")),
                    &HashMap::new(),
                )?
                .statements
                .remove(0);
                let (columns, rows) = self.query(stmt, periods, ws)?;
                Ok(Output::Rows { columns, rows })
            }
            Statement::Explain { statement, .. } => {
                let lines = self.explain(*statement, periods, ws)?;
                Ok(Output::Rows {
                    columns: vec![ColumnDesc::of("explain", "plan", Some(SqlType::Varchar))],
                    rows: lines.into_iter().map(|l| vec![Value::Varchar(l)]).collect(),
                })
            }
            other => Err(SqlError::NotSupported(format!(
                "statement {}",
                first_words(&other.to_string())
            ))),
        }
    }

    /// Plans a query with DataFusion; tables are pinned to the transaction's snapshot (plus its
    /// own writes), period tables to their tx range.
    fn plan(
        &self,
        mut stmt: Statement,
        periods: &[Period],
        ws: &WriteSet,
    ) -> Result<(
        SessionContext,
        datafusion::logical_expr::LogicalPlan,
        ScanLog,
    )> {
        check_joins(&stmt)?;
        let cat = self.store.catalog_in(ws)?;
        let types = column_types(&cat, &stmt);
        crate::semantics::classic(&mut stmt, &types, Some(ws.now_micros))?;
        // Rows without ORDER BY come in primary-key order, as classic reads them from an index:
        // a LIMIT or OFFSET then takes the first ones. Parallel partitions would race, so such a
        // query runs on one partition (its scans too).
        let in_key_order = matches!(&stmt, Statement::Query(q)
            if q.order_by.is_none()
                && (q.limit_clause.is_some() || q.fetch.is_some() || is_set_operation(&stmt)));
        let ctx = match in_key_order {
            true => SessionContext::new_with_config(
                datafusion::prelude::SessionConfig::new().with_target_partitions(1),
            ),
            false => SessionContext::new(),
        };
        crate::functions::register(&ctx);
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
            Arc::new(crate::events::EventsFunction {
                ledger: self.store.ledger().clone(),
                snapshot: cat.snapshot,
                since: 0,
            }),
        );
        // Only the tables the statement names: registering one costs a provider and its schema.
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
            let history = format!("{}{HISTORY_MARK}", t.name);
            if named.contains(&history) {
                self.register(&ctx, t, Source::History(cat.snapshot), &history, &log)?;
            }
        }
        for (k, p) in periods.iter().enumerate() {
            // The period's table is named in the statement as `name$period$k`.
            let marker = format!("{PERIOD_MARK}{k}");
            let Some(name) = find_period_table(&stmt, &marker) else {
                continue;
            };
            if name == "events" && cat.table("events").is_err() {
                // `EVENTS(...) SINCE ... UNTIL ...`: the events appended in the period's txs.
                let range = self.resolve_period(p, cat.snapshot, ws.now_micros)?;
                ctx.register_udtf(
                    &format!("events{marker}"),
                    Arc::new(crate::events::EventsFunction {
                        ledger: self.store.ledger().clone(),
                        snapshot: range.until,
                        since: range.from,
                    }),
                );
                continue;
            }
            let t = cat.table(&name)?;
            let range = self.resolve_period(p, cat.snapshot, ws.now_micros)?;
            self.register(
                &ctx,
                t,
                Source::Range(range),
                &format!("{name}{marker}"),
                &log,
            )?;
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

    /// The fast path of `SELECT cols FROM t WHERE pk1 = lit AND ... ` (every key column, nothing
    /// else): one key read, no DataFusion planning. `None` for anything else; the answer is the
    /// one the general path gives (`tests/explain_and_errors.rs` compares them).
    fn point_select(
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
                let r = self.resolve_period(p, cat.snapshot, ws.now_micros)?;
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

    /// Plans and runs a query.
    fn query(
        &self,
        stmt: Statement,
        periods: &[Period],
        ws: &mut WriteSet,
    ) -> Result<(Vec<ColumnDesc>, Vec<Vec<Value>>)> {
        let mut stream = self.query_stream(stmt, periods, ws)?;
        let mut rows = Vec::new();
        while let Some(batch) = stream.next_batch()? {
            rows.extend(batch);
        }
        Ok((stream.columns, rows))
    }

    /// Runs a query, its rows to be read batch by batch. What it reads of the current state is
    /// recorded in `ws`, for the phantom checks of its commit.
    fn query_stream(
        &self,
        stmt: Statement,
        periods: &[Period],
        ws: &mut WriteSet,
    ) -> Result<RowStream> {
        if let Statement::Query(q) = &stmt {
            if let Some((columns, rows)) = self.point_select(q, periods, ws)? {
                return Ok(RowStream {
                    runtime: self.runtime.clone(),
                    columns,
                    rows: Rows::Ready(Some(rows)),
                    distinct: None,
                });
            }
        }
        let mut stmt = stmt;
        // UNION without ORDER BY or LIMIT: classic returns the first occurrence of each row in
        // the order its branches produce them. DataFusion's UNION DISTINCT is a hash
        // aggregate (an order that changes run to run): run it as UNION ALL, branch after
        // branch, and drop repeats here.
        let distinct_union = distinct_union_to_all(&mut stmt);
        let (first, aliases) = selector_context(&stmt);
        // A set operation's columns come out unqualified; those that are plain columns of the
        // first query keep their names (classic names a UNION's columns after its first query).
        let set_operation = is_set_operation(&stmt);
        let plain =
            |name: &str| !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        let (ctx, plan, log) = self.plan(stmt, periods, ws)?;
        let columns: Vec<ColumnDesc> = plan
            .schema()
            .iter()
            .enumerate()
            .map(|(i, (qualifier, f))| {
                let ty = sql_type_of(f.data_type());
                match qualifier {
                    Some(q) => ColumnDesc::of(source_name(q.table()), f.name(), ty),
                    None if aliases.contains(f.name()) => ColumnDesc::of(&first, f.name(), ty),
                    None if set_operation && plain(f.name()) => {
                        ColumnDesc::of(&first, f.name(), ty)
                    }
                    // Unaliased computed values are `colN`, as classic names them.
                    None => ColumnDesc::of(&first, &format!("col{i}"), ty),
                }
            })
            .collect();
        let stream = self
            .runtime
            .block_on(async {
                let df = ctx.execute_logical_plan(plan).await?;
                if !set_operation {
                    return df.execute_stream().await;
                }
                // A set operation's partitions (its branches', in order) one after another:
                // merging them as they come would interleave the branches' rows.
                let schema = Arc::new(df.schema().as_arrow().clone());
                let parts = df.execute_stream_partitioned().await?;
                use futures::StreamExt as _;
                let chained = futures::stream::iter(parts).flatten();
                Ok(Box::pin(
                    datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                        schema, chained,
                    ),
                )
                    as datafusion::physical_plan::SendableRecordBatchStream)
            })
            .map_err(df_err)?;
        // Scans are planned by now: their reads are known.
        ws.read_spans(std::mem::take(&mut log.lock().reads));
        Ok(RowStream {
            runtime: self.runtime.clone(),
            columns,
            rows: Rows::Stream(stream),
            distinct: distinct_union.then(std::collections::HashSet::new),
        })
    }

    /// `EXPLAIN <query>`: DataFusion's physical plan, then one line per table scan saying which
    /// access path and which snapshot it uses.
    fn explain(&self, stmt: Statement, periods: &[Period], ws: &WriteSet) -> Result<Vec<String>> {
        let (ctx, plan, log) = self.plan(stmt, periods, ws)?;
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

    fn register(
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
        // A bare reference: names like `t$period$0` must not be parsed as SQL.
        ctx.register_table(TableReference::bare(name.to_string()), Arc::new(provider))
            .map_err(df_err)?;
        Ok(())
    }

    /// SINCE/AFTER/UNTIL/BEFORE TX n → a tx range (spec immudb-sql.md §1.7); `now_micros`
    /// is the statement's `NOW()`.
    fn resolve_period(&self, p: &Period, snapshot: TxId, now_micros: i64) -> Result<TxRange> {
        let mut range = TxRange {
            from: 1,
            until: snapshot,
        };
        let ledger = self.store.ledger();
        for b in [&p.start, &p.end].into_iter().flatten() {
            let expr = if b.tx {
                b.expr.clone()
            } else {
                format!("CAST({} AS TIMESTAMP)", b.expr)
            };
            // `TX 42` needs no query; anything else is evaluated by DataFusion.
            let value = match (b.tx, b.expr.trim().parse::<i64>()) {
                (true, Ok(n)) => Value::Integer(n),
                _ => {
                    let parsed = parse::parse(&format!("SELECT {expr}"), &HashMap::new())?;
                    let stmt = parsed.statements.into_iter().next().unwrap();
                    // Evaluated in the statement's time: NOW() is the transaction's.
                    let mut ws = WriteSet::default();
                    ws.now_micros = now_micros;
                    let (_, rows) = self.query(stmt, &[], &mut ws)?;
                    rows.into_iter()
                        .next()
                        .and_then(|r| r.into_iter().next())
                        .unwrap_or(Value::Null)
                }
            };
            let start = matches!(b.keyword.as_str(), "SINCE" | "AFTER");
            if !b.tx {
                // A timestamp bound: the first tx at/after it, or the last tx at/before it;
                // the exclusive forms move the instant by one second.
                let Value::Timestamp(us) = value else {
                    return Err(SqlError::IllegalArguments(
                        "a period bound must be TX n or a timestamp".into(),
                    ));
                };
                let secs = us.div_euclid(1_000_000);
                let found = match b.keyword.as_str() {
                    "SINCE" => ledger.first_tx_since(secs)?,
                    "AFTER" => ledger.first_tx_since(secs + 1)?,
                    "UNTIL" => ledger.last_tx_until(secs)?,
                    _ => ledger.last_tx_until(secs - 1)?,
                };
                match (found, start) {
                    (Some(id), true) => range.from = range.from.max(id),
                    (Some(id), false) => range.until = range.until.min(id),
                    // No such tx: the range is empty, which is not an error.
                    (None, _) => range = TxRange { from: 1, until: 0 },
                }
                continue;
            }
            let Value::Integer(n) = value else {
                return Err(SqlError::IllegalArguments(
                    "a tx id must be an integer".into(),
                ));
            };
            if n <= 0 {
                return Err(SqlError::IllegalArguments(format!(
                    "invalid tx range, tx ID must be a positive integer, {n} given"
                )));
            }
            let n = n as u64;
            match b.keyword.as_str() {
                "SINCE" => range.from = n,
                "AFTER" => range.from = n + 1,
                "UNTIL" => range.until = range.until.min(n),
                _ => {
                    if n == 1 {
                        return Err(SqlError::IllegalArguments(
                            "invalid tx range, tx ID must be greater than 1, 1 given".into(),
                        ));
                    }
                    range.until = range.until.min(n - 1)
                }
            }
        }
        Ok(range)
    }

    fn insert(&self, ins: ast::Insert, periods: &[Period], ws: &mut WriteSet) -> Result<Output> {
        let target = insert_target(&ins)?;
        // The table is looked up before any value is evaluated.
        self.store.catalog_in(ws)?.table(&target.table)?;
        let source = ins
            .source
            .ok_or_else(|| SqlError::IllegalArguments("INSERT needs VALUES or a query".into()))?;
        let rows: Vec<Vec<Value>> = match source.body.as_ref() {
            SetExpr::Values(values) => {
                let mut rows = Vec::with_capacity(values.rows.len());
                for r in &values.rows {
                    let mut row = Vec::with_capacity(r.content.len());
                    for e in &r.content {
                        row.push(match eval_const(e) {
                            Some(v) => v,
                            None => {
                                let stmt = parse::parse(&format!("SELECT {e}"), &HashMap::new())?
                                    .statements
                                    .remove(0);
                                let (_, mut out) = self.query(stmt, periods, ws)?;
                                out.pop().and_then(|mut r| r.pop()).unwrap_or(Value::Null)
                            }
                        });
                    }
                    rows.push(row);
                }
                rows
            }
            _ => self.query(Statement::Query(source), periods, ws)?.1,
        };
        self.insert_rows(&target, rows, ws)
    }

    /// Writes an INSERT's evaluated rows.
    fn insert_rows(
        &self,
        target: &InsertTarget,
        rows: Vec<Vec<Value>>,
        ws: &mut WriteSet,
    ) -> Result<Output> {
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(&target.table)?;
        let all;
        let columns: &[String] = if target.columns.is_empty() {
            all = t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            &all
        } else {
            &target.columns
        };
        if rows.iter().any(|r| r.len() != columns.len()) {
            return Err(SqlError::InvalidNumberOfValues);
        }
        Ok(Output::Done(self.store.write_rows_in(
            ws,
            t,
            columns,
            target.kind,
            rows,
        )?))
    }

    fn delete(&self, del: ast::Delete, periods: &[Period], ws: &mut WriteSet) -> Result<Output> {
        let tables = match &del.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
        };
        let [from] = tables.as_slice() else {
            return Err(SqlError::NotSupported("DELETE from several tables".into()));
        };
        let TableFactor::Table { name, .. } = &from.relation else {
            return Err(SqlError::NotSupported("DELETE from a sub-query".into()));
        };
        let table = object_name(name);
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(&table)?;
        let pk: Vec<String> = t.pk_columns().iter().map(|c| c.name.clone()).collect();
        let filter = del
            .selection
            .as_ref()
            .map(|e| format!(" WHERE {e}"))
            .unwrap_or_default();
        let stmt = parse::parse(
            &format!("SELECT {} FROM {table}{filter}", pk.join(", ")),
            &HashMap::new(),
        )?
        .statements
        .remove(0);
        let (_, rows) = self.query(stmt, periods, ws)?;
        Ok(Output::Done(self.store.write_rows_in(
            ws,
            t,
            &pk,
            WriteKind::Delete,
            rows,
        )?))
    }
}

impl Engine {
    /// `UPDATE t SET c = e, ... [WHERE cond]`: each matching row is rewritten whole.
    fn update(&self, up: ast::Update, periods: &[Period], ws: &mut WriteSet) -> Result<Output> {
        let TableFactor::Table { name, .. } = &up.table.relation else {
            return Err(SqlError::NotSupported("UPDATE of a sub-query".into()));
        };
        let table = object_name(name);
        let cat = self.store.catalog_in(ws)?;
        let t = cat.table(&table)?;
        let pk: Vec<u32> = t.primary_key().columns.clone();
        let mut sets = Vec::with_capacity(up.assignments.len());
        for a in &up.assignments {
            let col = a.target.to_string().trim_matches('"').to_lowercase();
            let c = t.column(&col)?;
            if pk.contains(&c.id) {
                return Err(SqlError::PkCanNotBeUpdated);
            }
            sets.push((col, a.value.to_string()));
        }
        let all: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        let exprs: Vec<String> = sets.iter().map(|(_, e)| e.clone()).collect();
        let filter = up
            .selection
            .as_ref()
            .map(|e| format!(" WHERE {e}"))
            .unwrap_or_default();
        let sql = format!(
            "SELECT {}, {} FROM {table}{filter}",
            all.join(", "),
            exprs.join(", ")
        );
        let stmt = parse::parse(&sql, &HashMap::new())?.statements.remove(0);
        let (_, rows) = self.query(stmt, periods, ws)?;
        let mut writes = Vec::with_capacity(rows.len());
        for mut row in rows {
            let new = row.split_off(all.len());
            for ((col, _), v) in sets.iter().zip(new) {
                row[all.iter().position(|n| n == col).unwrap()] = v;
            }
            writes.push(row);
        }
        Ok(Output::Done(self.store.write_rows_in(
            ws,
            t,
            &all,
            WriteKind::Upsert,
            writes,
        )?))
    }
}

/// A query's result: its columns, then its rows batch by batch as execution produces them
/// (the whole result is never held unless the caller keeps it). Reads the snapshot the query
/// was planned at, whatever is committed meanwhile.
pub struct RowStream {
    runtime: Arc<tokio::runtime::Runtime>,
    columns: Vec<ColumnDesc>,
    rows: Rows,
    /// A UNION's rows seen so far: later copies are dropped, so the first occurrences come
    /// out in the order the branches produce them (classic's order).
    distinct: Option<std::collections::HashSet<String>>,
}

enum Rows {
    /// Computed without DataFusion (a point select): one batch.
    Ready(Option<Vec<Vec<Value>>>),
    Stream(datafusion::physical_plan::SendableRecordBatchStream),
}

impl RowStream {
    /// The result's column names and SQL types.
    pub fn columns(&self) -> &[ColumnDesc] {
        &self.columns
    }

    /// The next batch of rows; `None` at the end. Batches are never empty.
    pub fn next_batch(&mut self) -> Result<Option<Vec<Vec<Value>>>> {
        use futures::StreamExt;
        let stream = match &mut self.rows {
            Rows::Ready(rows) => return Ok(rows.take().filter(|r| !r.is_empty())),
            Rows::Stream(s) => s,
        };
        loop {
            let Some(batch) = self.runtime.block_on(stream.next()) else {
                return Ok(None);
            };
            let b = batch.map_err(df_err)?;
            if b.num_rows() == 0 {
                continue;
            }
            let mut rows = Vec::with_capacity(b.num_rows());
            for r in 0..b.num_rows() {
                let mut row = Vec::with_capacity(b.num_columns());
                for c in b.columns() {
                    row.push(from_scalar(
                        ScalarValue::try_from_array(c, r).map_err(df_err)?,
                    )?);
                }
                rows.push(row);
            }
            if let Some(seen) = &mut self.distinct {
                // Debug text tells values of different types apart.
                rows.retain(|row| seen.insert(format!("{row:?}")));
                if rows.is_empty() {
                    continue;
                }
            }
            return Ok(Some(rows));
        }
    }
}

impl Iterator for RowStream {
    type Item = Result<Vec<Vec<Value>>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_batch().transpose()
    }
}

/// What a request did: each statement's output, the txs it committed, and whether an explicit
/// transaction is still open.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecResult {
    pub outputs: Vec<Output>,
    pub committed: Vec<TxHeader>,
    pub in_transaction: bool,
}

/// One client's session: requests run in it, and an explicit transaction (BEGIN … COMMIT)
/// stays open across requests. Without BEGIN, each request is one transaction. An error
/// inside an explicit transaction cancels it.
pub struct SqlSession<'e> {
    engine: EngineRef<'e>,
    tx: Option<WriteSet>,
    /// The template of the session's last parameterised request.
    last_template: Option<Arc<Template>>,
}

/// The engine a session runs on: borrowed, or shared so that the session is `'static` (a
/// server keeps a client's open transaction between its calls).
enum EngineRef<'e> {
    Borrowed(&'e Engine),
    Shared(Arc<Engine>),
}

impl std::ops::Deref for EngineRef<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        match self {
            EngineRef::Borrowed(e) => e,
            EngineRef::Shared(e) => e,
        }
    }
}

impl SqlSession<'static> {
    /// A session that owns a handle to its engine: it can be kept and moved between threads.
    pub fn shared(engine: Arc<Engine>) -> SqlSession<'static> {
        SqlSession {
            engine: EngineRef::Shared(engine),
            tx: None,
            last_template: None,
        }
    }
}

impl<'e> SqlSession<'e> {
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Runs one statement that returns rows (a query, SHOW, EXPLAIN) and hands its rows over
    /// batch by batch, for a server to stream. Inside an explicit transaction it reads the
    /// transaction's snapshot and own writes. Nothing is written, so nothing is committed; a
    /// statement that writes is refused. An error before the first row, inside an explicit
    /// transaction, cancels the transaction (as [`SqlSession::execute`]).
    pub fn query(&mut self, sql: &str, params: &HashMap<String, Value>) -> Result<RowStream> {
        let result = self.query_inner(sql, params);
        if result.is_err() {
            self.tx = None;
        }
        result
    }

    fn query_inner(&mut self, sql: &str, params: &HashMap<String, Value>) -> Result<RowStream> {
        let engine = &*self.engine;
        let request = engine.parse(sql, params, &mut self.last_template)?;
        let mut steps = request.steps;
        let (Some(Step::Statement(stmt)), true) = (steps.pop(), steps.is_empty()) else {
            return Err(SqlError::IllegalArguments(
                "a query request holds one statement that returns rows".into(),
            ));
        };
        let open = self.tx.take();
        let was_open = open.is_some();
        let mut ws = open.unwrap_or_else(|| {
            let mut ws = engine.store.begin();
            ws.read_only();
            ws
        });
        let result = match engine.hinted_order(*stmt, &request.hints, &ws) {
            Err(e) => Err(e),
            Ok(stmt @ Statement::Query(_)) => engine.query_stream(stmt, &request.periods, &mut ws),
            Ok(
                stmt @ (Statement::ShowTables { .. }
                | Statement::ShowVariable { .. }
                | Statement::Explain { .. }),
            ) => match engine.statement(stmt, &request.periods, &mut ws)? {
                Output::Rows { columns, rows } => Ok(RowStream {
                    runtime: engine.runtime.clone(),
                    columns,
                    rows: Rows::Ready(Some(rows)),
                    distinct: None,
                }),
                Output::Done(_) => Err(SqlError::IllegalArguments(
                    "the statement returns no rows".into(),
                )),
            },
            _ => Err(SqlError::IllegalArguments(
                "a query request holds one statement that returns rows".into(),
            )),
        };
        if was_open {
            self.tx = Some(ws);
        }
        result
    }

    pub fn execute(&mut self, sql: &str, params: &HashMap<String, Value>) -> Result<ExecResult> {
        let engine = &*self.engine;
        let store = &engine.store;
        let parsed = match engine.parse(sql, params, &mut self.last_template) {
            Ok(p) => p,
            Err(e) => {
                self.tx = None;
                return Err(e);
            }
        };
        let mut explicit = self.tx.is_some();
        // The transaction stays in the session while the request runs: a write set is a few
        // hundred bytes, not worth moving out and back for every statement.
        let ws = self.tx.get_or_insert_with(|| store.begin());
        // A lone query outside a transaction commits nothing: what it reads needs no guard.
        if !explicit
            && matches!(
                parsed.steps.as_slice(),
                [Step::Statement(stmt)] if matches!(**stmt, Statement::Query(_))
            )
        {
            ws.read_only();
        }
        let mut result = ExecResult {
            outputs: Vec::new(),
            committed: Vec::new(),
            in_transaction: false,
        };
        for step in parsed.steps {
            let step: Result<()> = (|| {
                let stmt = match step {
                    Step::Insert(target, rows) => {
                        let out = engine.insert_rows(&target, rows, ws)?;
                        result.outputs.push(out);
                        return Ok(());
                    }
                    Step::Statement(stmt) => *stmt,
                };
                match stmt {
                    Statement::StartTransaction { .. } => {
                        if explicit {
                            return Err(SqlError::NestedTx);
                        }
                        // What this request wrote before BEGIN commits on its own.
                        let before = std::mem::replace(ws, store.begin());
                        result.committed.extend(store.commit(before)?);
                        explicit = true;
                    }
                    Statement::Commit { .. } => {
                        if !explicit {
                            return Err(SqlError::NoOngoingTx);
                        }
                        let done = std::mem::replace(ws, store.begin());
                        result.committed.extend(store.commit(done)?);
                        explicit = false;
                    }
                    Statement::Rollback { .. } => {
                        if !explicit {
                            return Err(SqlError::NoOngoingTx);
                        }
                        *ws = store.begin();
                        explicit = false;
                    }
                    stmt => {
                        let stmt = engine.hinted_order(stmt, &parsed.hints, ws)?;
                        let out = engine.statement(stmt, &parsed.periods, ws)?;
                        result.outputs.push(out);
                    }
                }
                Ok(())
            })();
            if let Err(e) = step {
                // The transaction is gone: an explicit one is cancelled, an implicit one discarded.
                self.tx = None;
                return Err(e);
            }
        }
        if explicit {
            result.in_transaction = true;
        } else if let Some(ws) = self.tx.take() {
            result.committed.extend(store.commit(ws)?);
        }
        Ok(result)
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// The table name a period marker was attached to.
fn find_period_table(stmt: &Statement, marker: &str) -> Option<String> {
    let text = stmt.to_string();
    let at = text.find(marker)?;
    let start = text[..at].rfind(|c: char| !(c.is_alphanumeric() || c == '_'))? + 1;
    Some(text[start..at].to_string())
}

/// Whether a select list holds an aggregate call (its rows are then not the source's rows).
fn has_aggregate(items: &[ast::SelectItem]) -> bool {
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

/// immudb's classic dialect has INNER and LEFT joins only, and HAVING only with GROUP BY.
fn check_joins(stmt: &Statement) -> Result<()> {
    let Statement::Query(q) = stmt else {
        return Ok(());
    };
    fn walk(body: &SetExpr) -> Result<()> {
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

/// One column definition, and whether it says PRIMARY KEY.
fn column_spec(c: &ast::ColumnDef) -> Result<(ColumnSpec, bool)> {
    let name = c.name.value.to_lowercase();
    let (ty, size) = column_type(&c.data_type.to_string())?;
    let mut spec = ColumnSpec {
        name,
        ty,
        size,
        not_null: false,
        auto_increment: false,
    };
    let mut pk = false;
    for o in &c.options {
        match o.option.to_string().to_uppercase().as_str() {
            "NOT NULL" => spec.not_null = true,
            "NULL" => {}
            "AUTO_INCREMENT" => spec.auto_increment = true,
            "PRIMARY KEY" => pk = true,
            other => return Err(SqlError::NotSupported(format!("column option {other}"))),
        }
    }
    Ok((spec, pk))
}

/// `CREATE TABLE` in immudb's form, from the parsed statement.
fn table_spec(ct: &ast::CreateTable) -> Result<TableSpec> {
    let mut columns = Vec::with_capacity(ct.columns.len());
    let mut pk: Vec<String> = Vec::new();
    let mut checks = Vec::new();
    for c in &ct.columns {
        let (spec, is_pk) = column_spec(c)?;
        if is_pk {
            if !pk.is_empty() {
                return Err(SqlError::MultiplePrimaryKeys(object_name(&ct.name)));
            }
            pk.push(spec.name.clone());
        }
        columns.push(spec);
    }
    for con in &ct.constraints {
        if let ast::TableConstraint::Check(c) = con {
            checks.push((
                c.name.as_ref().map(|n| n.value.clone()),
                crate::check::expression_text(&c.expr),
            ));
            continue;
        }
        let text = con.to_string();
        let Some(rest) = text.strip_prefix("PRIMARY KEY") else {
            return Err(SqlError::NotSupported(format!("table constraint {text}")));
        };
        if !pk.is_empty() {
            return Err(SqlError::MultiplePrimaryKeys(object_name(&ct.name)));
        }
        pk = rest
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_lowercase())
            .collect();
    }
    Ok(TableSpec {
        name: object_name(&ct.name),
        columns,
        primary_key: pk,
        checks,
        if_not_exists: ct.if_not_exists,
    })
}

/// `INTEGER`, `VARCHAR(8)`, ... → type and declared size.
fn column_type(text: &str) -> Result<(SqlType, Option<u32>)> {
    let up = text.to_uppercase();
    let (base, size) = match up.split_once('(') {
        Some((b, rest)) => {
            let n = rest
                .trim_end_matches(')')
                .trim()
                .parse::<u32>()
                .map_err(|_| SqlError::Parsing(format!("bad size in {text}")))?;
            (b.trim().to_string(), Some(n))
        }
        None => (up.trim().to_string(), None),
    };
    let ty = match base.as_str() {
        "INTEGER" => SqlType::Integer,
        "BOOLEAN" => SqlType::Boolean,
        "VARCHAR" => SqlType::Varchar,
        "BLOB" => SqlType::Blob,
        "FLOAT" => SqlType::Float,
        "TIMESTAMP" => SqlType::Timestamp,
        "UUID" => SqlType::Uuid,
        "JSON" => SqlType::Json,
        other => {
            return Err(SqlError::NotSupported(format!(
                "type {other}: use INTEGER, BOOLEAN, VARCHAR, BLOB, FLOAT, TIMESTAMP, UUID or JSON"
            )))
        }
    };
    Ok((ty, size))
}

/// The column types of the tables `stmt` reads, as [`crate::semantics::classic`] takes them
/// (its rewrites of AVG, SUM/MIN/MAX and comparisons depend on them): a name that means
/// INTEGER in one table and FLOAT in another is resolved by the tables the statement names.
fn column_types(cat: &Catalog, stmt: &Statement) -> HashMap<String, SqlType> {
    use datafusion::sql::sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;
    /// The tables a statement reads, with the names its columns may be qualified by.
    struct Sources<'c> {
        cat: &'c Catalog,
        found: Vec<(&'c Table, Option<String>)>,
    }
    impl Visitor for Sources<'_> {
        type Break = ();
        fn pre_visit_table_factor(&mut self, f: &TableFactor) -> ControlFlow<()> {
            if let TableFactor::Table { name, alias, .. } = f {
                let table = object_name(name);
                if let Ok(t) = self.cat.table(source_name(&table)) {
                    let alias = alias.as_ref().map(|a| a.name.value.to_lowercase());
                    self.found.push((t, alias));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut sources = Sources {
        cat,
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

/// For tests and tools: a catalog snapshot.
pub fn catalog_of(engine: &Engine) -> Result<Catalog> {
    engine.store.catalog(None)
}
