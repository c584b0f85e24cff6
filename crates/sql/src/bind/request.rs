//! A request's statements bound to their parameters, and the cache of parsed templates that
//! makes a statement run many times with new parameters a parse once and a bind each time.

use crate::bind::values::{eval_const, object_name};
use crate::error::{Result, SqlError};
use crate::parse::{self, IndexHint, Period};
use crate::store::WriteKind;
use crate::types::Value;
use datafusion::sql::sqlparser::ast::{
    self as ast, Expr as SqlExpr, SetExpr, Statement, TableObject,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A cached parse of one SQL text.
pub(crate) struct Template {
    pub(crate) text: String,
    pub(crate) parsed: parse::Parsed,
    /// Set when the text is one `INSERT ... VALUES` of parameters and literals: such a
    /// statement is bound by filling its rows, without cloning or walking its AST.
    pub(crate) insert: Option<PreparedInsert>,
    /// Set when the text is one query without periods or index hints: it runs as
    /// [`Step::Query`], bound only if the point-select fast path cannot answer it.
    pub(crate) query: bool,
}

/// An `INSERT ... VALUES` whose values are parameters and literals.
pub(crate) struct PreparedInsert {
    pub(crate) target: Arc<InsertTarget>,
    pub(crate) rows: Vec<Vec<Slot>>,
    /// The parameters' names, each once; [`Slot::Parameter`] holds a position here.
    pub(crate) names: Vec<String>,
}

/// One value of a prepared INSERT's row.
pub(crate) enum Slot {
    Literal(Value),
    Parameter(usize),
}

/// Up to this many parameter names, a prepared INSERT finds its parameters with one pass over
/// the request's parameter map (a few string comparisons) instead of a hash lookup per name.
pub(crate) const SCAN_PARAMS_MAX: usize = 8;

/// Where an INSERT writes and how, taken from its AST.
#[derive(Debug)]
pub(crate) struct InsertTarget {
    pub(crate) table: String,
    /// The columns named, lower-cased; empty: all of the table's, in order.
    pub(crate) columns: Vec<String>,
    pub(crate) kind: WriteKind,
}

/// A request's statements, ready to run.
pub(crate) struct Request {
    pub(crate) steps: Vec<Step>,
    pub(crate) periods: Vec<Period>,
    pub(crate) hints: Vec<IndexHint>,
}

pub(crate) enum Step {
    /// Boxed: a parsed statement is kilobytes, and a prepared INSERT's step is moved per row.
    Statement(Box<Statement>),
    /// A prepared INSERT's target and its bound rows.
    Insert(Arc<InsertTarget>, Vec<Vec<Value>>),
    /// A plain query's template and its parameters, not yet bound: the fast path reads the
    /// parameters where the conditions use them (a bind clones the whole statement, ~20% of a
    /// point select's time); anything else binds it (`Template::bound_query`).
    Query(Arc<Template>, HashMap<String, Value>),
}

impl Template {
    pub(crate) fn new(text: &str, parsed: parse::Parsed) -> Template {
        let plain = parsed.periods.is_empty() && parsed.hints.is_empty();
        let insert = match (parsed.statements.as_slice(), plain) {
            ([Statement::Insert(ins)], true) => prepared_insert(ins),
            _ => None,
        };
        let query = plain && matches!(parsed.statements.as_slice(), [Statement::Query(_)]);
        Template {
            text: text.to_string(),
            parsed,
            insert,
            query,
        }
    }

    /// The request this template makes with `params`.
    pub(crate) fn bind(self: &Arc<Self>, params: &HashMap<String, Value>) -> Result<Request> {
        if self.query {
            return Ok(Request {
                steps: vec![Step::Query(self.clone(), params.clone())],
                periods: Vec::new(),
                hints: Vec::new(),
            });
        }
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
        Ok(Request::insert(ins.target.clone(), rows))
    }

    /// A plain query's statement bound to `params` (see [`Step::Query`]).
    pub(crate) fn bound_query(&self, params: &HashMap<String, Value>) -> Result<Statement> {
        let mut parsed = parse::bind(&self.parsed, params)?;
        match (parsed.statements.pop(), parsed.statements.is_empty()) {
            (Some(stmt), true) => Ok(stmt),
            _ => Err(SqlError::IllegalArguments(
                "a query template holds one statement".into(),
            )),
        }
    }
}

impl Request {
    /// The request of an `INSERT` (or `UPSERT`) of literal rows read by the fast reader
    /// (`parse/insert.rs`), the same as a prepared INSERT's; `None` for any other text.
    pub(crate) fn literal_insert(sql: &str) -> Option<Request> {
        let ins = parse::insert::literal_insert(sql)?;
        let target = InsertTarget {
            table: ins.table,
            columns: ins.columns,
            kind: match ins.upsert {
                true => WriteKind::Upsert,
                false => WriteKind::Insert,
            },
        };
        Some(Request::insert(Arc::new(target), ins.rows))
    }

    /// The request of one INSERT whose rows are already values.
    fn insert(target: Arc<InsertTarget>, rows: Vec<Vec<Value>>) -> Request {
        Request {
            steps: vec![Step::Insert(target, rows)],
            periods: Vec::new(),
            hints: Vec::new(),
        }
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
pub(crate) fn parameter_value(v: &Value) -> Value {
    match v {
        Value::Json(s) => Value::Varchar(s.clone()),
        Value::Uuid(u) => Value::Varchar(crate::types::uuid_string(u)),
        other => other.clone(),
    }
}

/// The target and rows of an `INSERT ... VALUES` whose values are all parameters or literals.
pub(crate) fn prepared_insert(ins: &ast::Insert) -> Option<PreparedInsert> {
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
pub(crate) fn insert_target(ins: &ast::Insert) -> Result<InsertTarget> {
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
pub(crate) const TEMPLATE_CACHE: usize = 256;

/// Longer SQL texts (bulk inserts of literals, say) are not kept.
pub(crate) const TEMPLATE_MAX_LEN: usize = 4096;
