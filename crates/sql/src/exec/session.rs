//! Sessions: requests, and explicit transactions that span them.

use crate::bind::request::{Step, Template};
use crate::bind::statement::{bind, Bound};
use crate::error::{Result, SqlError};
use crate::exec::engine::Engine;
use crate::exec::output::{ExecResult, Output, RowStream};
use crate::store::WriteSet;
use crate::types::Value;
use datafusion::sql::sqlparser::ast::Statement;
use std::collections::HashMap;
use std::sync::Arc;

/// One client's session: requests run in it, and an explicit transaction (BEGIN … COMMIT)
/// stays open across requests. Without BEGIN, each request is one transaction. An error
/// inside an explicit transaction cancels it.
pub struct SqlSession<'e> {
    pub(crate) engine: EngineRef<'e>,
    pub(crate) tx: Option<WriteSet>,
    /// The template of the session's last parameterised request.
    pub(crate) last_template: Option<Arc<Template>>,
}

/// The engine a session runs on: borrowed, or shared so that the session is `'static` (a
/// server keeps a client's open transaction between its calls).
pub(crate) enum EngineRef<'e> {
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
    /// Whether an explicit transaction (BEGIN without COMMIT or ROLLBACK yet) is open.
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

    pub(crate) fn query_inner(
        &mut self,
        sql: &str,
        params: &HashMap<String, Value>,
    ) -> Result<RowStream> {
        let engine = &*self.engine;
        let request = engine.parse(sql, params, &mut self.last_template)?;
        let mut steps = request.steps;
        let one_query = || {
            SqlError::IllegalArguments(
                "a query request holds one statement that returns rows".into(),
            )
        };
        let step = match (steps.pop(), steps.is_empty()) {
            (Some(step), true) => step,
            _ => return Err(one_query()),
        };
        let open = self.tx.take();
        let was_open = open.is_some();
        let mut ws = open.unwrap_or_else(|| {
            let mut ws = engine.store.begin();
            ws.read_only();
            ws
        });
        let result = match step {
            // A plain query's template runs as it is; any other statement, bound.
            Step::Query(template, params) => {
                engine.template_query_stream(&template, &params, &mut ws)
            }
            Step::Insert(..) => Err(one_query()),
            Step::Statement(stmt) => match bind(*stmt, &request.periods, &request.hints) {
                Err(e) => Err(e),
                Ok(Bound::Query(mut q)) => {
                    engine.planner().hinted_order(&mut q, &ws).and_then(|()| {
                        engine.query_stream(Statement::Query(q.query), &q.sources, &mut ws)
                    })
                }
                Ok(stmt @ (Bound::ShowTables | Bound::ShowTable(_) | Bound::Explain { .. })) => {
                    match engine.statement(stmt, &mut ws)? {
                        Output::Rows { columns, rows } => Ok(engine.ready(columns, rows)),
                        Output::Done(_) => Err(SqlError::IllegalArguments(
                            "the statement returns no rows".into(),
                        )),
                    }
                }
                _ => Err(one_query()),
            },
        };
        if was_open {
            self.tx = Some(ws);
        }
        result
    }

    /// Runs a request, its statements in order. Statements outside an explicit transaction
    /// form one transaction, committed at the request's end (or at its BEGIN); an explicit one
    /// (BEGIN … COMMIT) may span requests. An error discards the transaction, explicit or not,
    /// with its uncommitted writes.
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
            && match parsed.steps.as_slice() {
                [Step::Query(..)] => true,
                [Step::Statement(stmt)] => matches!(**stmt, Statement::Query(_)),
                _ => false,
            }
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
                    Step::Query(template, params) => {
                        let out = engine.template_query(&template, &params, ws)?;
                        result.outputs.push(out);
                        return Ok(());
                    }
                    Step::Statement(stmt) => *stmt,
                };
                match bind(stmt, &parsed.periods, &parsed.hints)? {
                    Bound::Begin => {
                        if explicit {
                            return Err(SqlError::NestedTx);
                        }
                        // What this request wrote before BEGIN commits on its own.
                        let before = std::mem::replace(ws, store.begin());
                        result.committed.extend(store.commit(before)?);
                        explicit = true;
                    }
                    Bound::Commit => {
                        if !explicit {
                            return Err(SqlError::NoOngoingTx);
                        }
                        let done = std::mem::replace(ws, store.begin());
                        result.committed.extend(store.commit(done)?);
                        explicit = false;
                    }
                    Bound::Rollback => {
                        if !explicit {
                            return Err(SqlError::NoOngoingTx);
                        }
                        *ws = store.begin();
                        explicit = false;
                    }
                    stmt => {
                        let out = engine.statement(stmt, ws)?;
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

impl Engine {
    /// A session: holds an explicit transaction across requests.
    pub fn session(&self) -> SqlSession<'_> {
        SqlSession {
            engine: EngineRef::Borrowed(self),
            tx: None,
            last_template: None,
        }
    }
}
