//! The engine of one database: its store, the runtime its queries run on, and the cache of
//! parsed statements.

use crate::bind::request::{Request, Template, TEMPLATE_CACHE, TEMPLATE_MAX_LEN};
use crate::error::Result;
use crate::exec::output::Output;
use crate::parse::{self};
use crate::plan::errors::df_err;
use crate::plan::query::Planner;
use crate::store::catalog::Catalog;
use crate::store::SqlStore;
use crate::types::Value;
use std::collections::HashMap;
use std::sync::Arc;
use stele_ledger::Ledger;

/// The SQL engine of one database.
pub struct Engine {
    pub(crate) store: Arc<SqlStore>,
    /// Drives DataFusion; may be shared by every engine of a process ([`Engine::with_runtime`]).
    pub(crate) runtime: Arc<tokio::runtime::Runtime>,
    /// Parsed statements by SQL text, parameters as placeholders (see [`parse::parse_template`]).
    pub(crate) templates: parking_lot::Mutex<HashMap<String, Arc<Template>>>,
    /// DataFusion session states, cloned for each query.
    pub(crate) sessions: crate::plan::query::Sessions,
}

impl Engine {
    /// The planner of this engine's queries.
    pub(crate) fn planner(&self) -> Planner<'_> {
        Planner {
            store: &self.store,
            runtime: &self.runtime,
            sessions: &self.sessions,
        }
    }

    /// The engine of the database in `ledger`, on a runtime of its own ([`Engine::runtime`]).
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
            store: Arc::new(SqlStore::with_checks(
                ledger,
                Arc::new(crate::plan::check::DataFusionChecks),
            )?),
            runtime,
            templates: parking_lot::Mutex::new(HashMap::new()),
            sessions: Default::default(),
        })
    }

    /// Parses `sql` with its parameters, reusing the parse of an earlier request with the same
    /// text: a parameterised statement is tokenized and parsed once, then only bound.
    ///
    /// `last` is the caller's memo of the template it used last: a session repeating one
    /// statement finds it with a comparison, without hashing the text.
    pub(crate) fn parse(
        &self,
        sql: &str,
        params: &HashMap<String, Value>,
        last: &mut Option<Arc<Template>>,
    ) -> Result<Request> {
        if let Some(t) = last.as_ref().filter(|t| t.text == sql) {
            return t.bind(params);
        }
        // An INSERT of literal rows (a bulk load's texts, each new) is read without the parser
        // and not cached.
        if params.is_empty() {
            if let Some(request) = Request::literal_insert(sql) {
                return Ok(request);
            }
        }
        if sql.len() > TEMPLATE_MAX_LEN {
            // Not kept: parsed, then bound in place (no copy of a long text's statements).
            let mut parsed = parse::parse_template(sql)?;
            parse::bind_into(&mut parsed, params)?;
            return Ok(parsed.into());
        }
        let cached = self.templates.lock().get(sql).cloned();
        let template = match cached {
            Some(t) => t,
            None => {
                let t = Arc::new(Template::new(sql, parse::parse_template(sql)?));
                let mut cache = self.templates.lock();
                if cache.len() >= TEMPLATE_CACHE {
                    cache.clear();
                }
                cache.insert(sql.to_string(), t.clone());
                t
            }
        };
        let request = template.bind(params);
        *last = Some(template);
        request
    }

    /// The store this engine reads and writes.
    pub fn store(&self) -> &SqlStore {
        &self.store
    }

    /// Runs one request in a fresh session (every statement in one tx).
    pub fn execute(&self, sql: &str, params: &HashMap<String, Value>) -> Result<Vec<Output>> {
        Ok(self.session().execute(sql, params)?.outputs)
    }
}

/// For tests and tools: a catalog snapshot.
pub fn catalog_of(engine: &Engine) -> Result<Catalog> {
    engine.store.catalog(None)
}
