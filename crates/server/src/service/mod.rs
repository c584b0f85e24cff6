//! `ImmuService`: every RPC, each a few lines that say who may call it and which handler runs.
//!
//! A call is authenticated on its async thread (memory only), then its handler runs on the
//! runtime's blocking pool with the database it names: handlers are plain functions over
//! [`Database`], grouped by kind:
//! - [`kv`]: key/value reads and writes; [`verified`]: the same with proofs and signatures;
//! - [`txs`]: transactions by id and scans; [`sql`]: SQL requests, catalog calls;
//! - [`admin`]: login, sessions, users, databases, server information;
//! - [`streams`]: the chunked stream calls, export and replication.
//!
//! Failed calls are logged here, one line each, with the RPC's name and the error's text
//! (never a request's content).

mod admin;
mod kv;
mod sql;
mod streams;
mod txs;
mod verified;

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use stele_ledger::proof::{State, TxHeader};
use stele_proto::immudb::{self as pb, immu_service_server::ImmuService};
use tonic::{Request, Response, Status};

use crate::auth::{Auth, Caller, Need};
use crate::error::{Result, ServerError};
use crate::registry::{Database, Registry};
use crate::Config;

/// What every call shares: the registry, the live tokens and sessions, the signing key.
pub struct Shared {
    pub registry: Registry,
    pub auth: Auth,
    signer: Option<p256::ecdsa::SigningKey>,
    started_at: i64,
    uuid: String,
}

impl Shared {
    /// The signature of state `(db, h.id, Alh(h))`, when a signing key is configured.
    pub fn sign(&self, db: &str, h: &TxHeader) -> Result<Option<pb::Signature>> {
        let Some(key) = &self.signer else {
            return Ok(None);
        };
        let state = State {
            db: db.to_string(),
            tx_id: h.id,
            tx_hash: h.alh().map_err(|e| ServerError::Internal(e.to_string()))?,
        };
        Ok(Some(self.signature(&state, key)))
    }

    fn signature(&self, state: &State, key: &p256::ecdsa::SigningKey) -> pb::Signature {
        pb::Signature {
            public_key: stele_ledger::proof::state::public_key_bytes(key.verifying_key()),
            signature: state.sign(key),
        }
    }

    /// `CurrentState` of a database, signed when a key is configured.
    pub fn current_state(&self, db: &Database) -> pb::ImmutableState {
        let c = db.ledger.state();
        let state = State {
            db: db.name.clone(),
            tx_id: c.tx_id,
            tx_hash: c.alh,
        };
        pb::ImmutableState {
            db: db.name.clone(),
            tx_id: c.tx_id,
            tx_hash: c.alh.to_vec(),
            signature: self.signer.as_ref().map(|k| self.signature(&state, k)),
            precommitted_tx_id: c.tx_id,
            precommitted_tx_hash: c.alh.to_vec(),
        }
    }
}

/// The gRPC service; cheap to clone.
#[derive(Clone)]
pub struct Service {
    shared: Arc<Shared>,
}

type Reply<T> = std::result::Result<Response<T>, Status>;
type BoxStream<T> = Pin<Box<dyn Stream<Item = std::result::Result<T, Status>> + Send + 'static>>;

/// The RPC's name, for the log line of a failed call.
fn rpc_name<T>(req: &Request<T>) -> String {
    req.extensions()
        .get::<crate::call::RpcName>()
        .map_or_else(|| "?".to_string(), |n| n.0.clone())
}

fn failed(rpc: &str, e: ServerError) -> Status {
    tracing::warn!(rpc, error = %e, "call failed");
    e.into()
}

/// Runs blocking work on the runtime's bounded blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServerError::Internal(format!("a worker failed: {e}")))?
}

impl Service {
    /// Opens the registry (blocking: call it off async threads).
    pub fn open(config: &Config) -> Result<Service> {
        let signer = match &config.signing_key {
            Some(p) => Some(crate::load_signing_key(p)?),
            None => None,
        };
        let runtime = stele_sql::Engine::runtime()?;
        let registry = Registry::open(config.data_dir.clone(), &config.admin_password, runtime)?;
        Ok(Service {
            shared: Arc::new(Shared {
                registry,
                auth: Auth::default(),
                signer,
                started_at: crate::now_millis() / 1000,
                uuid: crate::auth::random_id(),
            }),
        })
    }

    /// A handle on what every call shares, for the server's own tasks (session expiry, DCB).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// The tonic server of this service, with immudb's 32 MiB message limits.
    pub fn into_server(self) -> pb::immu_service_server::ImmuServiceServer<Service> {
        pb::immu_service_server::ImmuServiceServer::new(self)
            .max_decoding_message_size(stele_proto::MAX_MESSAGE_SIZE)
            .max_encoding_message_size(stele_proto::MAX_MESSAGE_SIZE)
    }

    fn caller<T>(&self, req: &Request<T>) -> Result<Caller> {
        self.shared
            .auth
            .caller(&self.shared.registry, req.metadata())
    }

    /// A call on the caller's database that needs `need` on it: authenticates, then runs `f`
    /// on the blocking pool.
    async fn on_db<Q: Send + 'static, A: Send + 'static>(
        &self,
        req: Request<Q>,
        need: Need,
        f: impl FnOnce(&Shared, &Database, Q) -> Result<A> + Send + 'static,
    ) -> Reply<A> {
        let rpc = rpc_name(&req);
        let run = async {
            let caller = self.caller(&req)?;
            let db = caller.database(&self.shared.registry, need)?;
            if need >= Need::Write && need < Need::Admin && db.settings.replica {
                return Err(ServerError::FailedPrecondition(format!(
                    "database {} is read-only because it is a replica",
                    db.name
                )));
            }
            let shared = self.shared.clone();
            let q = req.into_inner();
            blocking(move || {
                let _pending = db.request();
                f(&shared, &db, q)
            })
            .await
        };
        run.await.map(Response::new).map_err(|e| failed(&rpc, e))
    }

    /// A call that needs a login but no database: authenticates, then runs `f` on the
    /// blocking pool.
    async fn on_caller<Q: Send + 'static, A: Send + 'static>(
        &self,
        req: Request<Q>,
        f: impl FnOnce(&Shared, Caller, Q) -> Result<A> + Send + 'static,
    ) -> Reply<A> {
        let rpc = rpc_name(&req);
        let run = async {
            let caller = self.caller(&req)?;
            let shared = self.shared.clone();
            let q = req.into_inner();
            blocking(move || f(&shared, caller, q)).await
        };
        run.await.map(Response::new).map_err(|e| failed(&rpc, e))
    }

    /// A call that needs no login.
    async fn open_call<Q: Send + 'static, A: Send + 'static>(
        &self,
        req: Request<Q>,
        f: impl FnOnce(&Shared, Q) -> Result<A> + Send + 'static,
    ) -> Reply<A> {
        let rpc = rpc_name(&req);
        let shared = self.shared.clone();
        let q = req.into_inner();
        blocking(move || f(&shared, q))
            .await
            .map(Response::new)
            .map_err(|e| failed(&rpc, e))
    }

    /// A server-streaming call on the caller's database: `f` produces the messages on the
    /// blocking pool and hands them to `send` as they come.
    async fn stream_on_db<Q: Send + 'static, A: Send + 'static>(
        &self,
        req: Request<Q>,
        need: Need,
        f: impl FnOnce(&Shared, &Database, Q, &dyn Fn(A) -> bool) -> Result<()> + Send + 'static,
    ) -> Reply<BoxStream<A>> {
        let rpc = rpc_name(&req);
        let caller = self.caller(&req).map_err(|e| failed(&rpc, e))?;
        let db = caller
            .database(&self.shared.registry, need)
            .map_err(|e| failed(&rpc, e))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<std::result::Result<A, Status>>(4);
        let shared = self.shared.clone();
        let q = req.into_inner();
        tokio::task::spawn_blocking(move || {
            let _pending = db.request();
            let send = |a: A| tx.blocking_send(Ok(a)).is_ok();
            if let Err(e) = f(&shared, &db, q, &send) {
                let _ = tx.blocking_send(Err(failed(&rpc, e)));
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    /// A server-streaming call whose whole answer is chunks computed at once.
    async fn chunks_on_db<Q: Send + 'static>(
        &self,
        req: Request<Q>,
        need: Need,
        f: impl FnOnce(&Shared, &Database, Q) -> Result<Vec<pb::Chunk>> + Send + 'static,
    ) -> Reply<BoxStream<pb::Chunk>> {
        let chunks = self.on_db(req, need, f).await?.into_inner();
        Ok(Response::new(Box::pin(futures::stream::iter(
            chunks.into_iter().map(Ok),
        ))))
    }
}

#[tonic::async_trait]
impl ImmuService for Service {
    // --- login, sessions, users ---

    async fn login(&self, req: Request<pb::LoginRequest>) -> Reply<pb::LoginResponse> {
        self.open_call(req, admin::login).await
    }

    async fn logout(&self, req: Request<()>) -> Reply<()> {
        self.on_caller(req, |s, caller, ()| {
            if let Some(token) = &caller.token {
                s.auth.logout(token);
            }
            Ok(())
        })
        .await
    }

    async fn use_database(&self, req: Request<pb::Database>) -> Reply<pb::UseDatabaseReply> {
        self.on_caller(req, admin::use_database).await
    }

    async fn open_session(
        &self,
        req: Request<pb::OpenSessionRequest>,
    ) -> Reply<pb::OpenSessionResponse> {
        self.open_call(req, admin::open_session).await
    }

    async fn close_session(&self, req: Request<()>) -> Reply<()> {
        self.on_caller(req, |s, caller, ()| match &caller.session {
            Some(session) => s.auth.close_session(&session.id),
            None => Err(ServerError::invalid(
                "no session: this call needs a sessionid",
            )),
        })
        .await
    }

    async fn keep_alive(&self, req: Request<()>) -> Reply<()> {
        // Authenticating the call is what keeps the session alive.
        self.on_caller(req, |_, _, ()| Ok(())).await
    }

    async fn new_tx(&self, req: Request<pb::NewTxRequest>) -> Reply<pb::NewTxResponse> {
        self.on_caller(req, admin::new_tx).await
    }

    async fn commit(&self, req: Request<()>) -> Reply<pb::CommittedSqlTx> {
        self.on_caller(req, |_, caller, ()| admin::end_tx(&caller, true))
            .await
            .map(|r| r.map(|c| c.unwrap_or_default()))
    }

    async fn rollback(&self, req: Request<()>) -> Reply<()> {
        self.on_caller(req, |_, caller, ()| {
            admin::end_tx(&caller, false).map(|_| ())
        })
        .await
    }

    async fn tx_sql_exec(&self, req: Request<pb::SqlExecRequest>) -> Reply<()> {
        self.on_caller(req, admin::tx_sql_exec).await
    }

    type TxSQLQueryStream = BoxStream<pb::SqlQueryResult>;

    async fn tx_sql_query(
        &self,
        req: Request<pb::SqlQueryRequest>,
    ) -> Reply<Self::TxSQLQueryStream> {
        let rpc = rpc_name(&req);
        let caller = self.caller(&req).map_err(|e| failed(&rpc, e))?;
        let q = req.into_inner();
        // The transaction's reads run to the end here: the session's lock is not held across
        // messages sent to the client.
        let messages = blocking(move || admin::tx_sql_query(&caller, q))
            .await
            .map_err(|e| failed(&rpc, e))?;
        Ok(Response::new(Box::pin(futures::stream::iter(
            messages.into_iter().map(Ok),
        ))))
    }

    async fn list_users(&self, req: Request<()>) -> Reply<pb::UserList> {
        self.on_caller(req, admin::list_users).await
    }

    async fn create_user(&self, req: Request<pb::CreateUserRequest>) -> Reply<()> {
        self.on_caller(req, admin::create_user).await
    }

    async fn change_password(&self, req: Request<pb::ChangePasswordRequest>) -> Reply<()> {
        self.on_caller(req, admin::change_password).await
    }

    async fn change_permission(&self, req: Request<pb::ChangePermissionRequest>) -> Reply<()> {
        self.on_caller(req, admin::change_permission).await
    }

    async fn set_active_user(&self, req: Request<pb::SetActiveUserRequest>) -> Reply<()> {
        self.on_caller(req, admin::set_active_user).await
    }

    async fn update_auth_config(&self, _req: Request<pb::AuthConfig>) -> Reply<()> {
        Err(ServerError::Unimplemented("UpdateAuthConfig").into())
    }

    async fn update_mtls_config(&self, _req: Request<pb::MtlsConfig>) -> Reply<()> {
        Err(ServerError::Unimplemented("UpdateMTLSConfig").into())
    }

    // --- server ---

    async fn health(&self, _req: Request<()>) -> Reply<pb::HealthResponse> {
        Ok(Response::new(pb::HealthResponse {
            status: true,
            version: crate::IMMUDB_VERSION.into(),
        }))
    }

    async fn server_info(
        &self,
        req: Request<pb::ServerInfoRequest>,
    ) -> Reply<pb::ServerInfoResponse> {
        self.open_call(req, |s, _| Ok(admin::server_info(s))).await
    }

    async fn database_health(&self, req: Request<()>) -> Reply<pb::DatabaseHealthResponse> {
        self.on_db(req, Need::Read, |_, db, ()| {
            use std::sync::atomic::Ordering;
            Ok(pb::DatabaseHealthResponse {
                // This call itself is not counted.
                pending_requests: db.pending.load(Ordering::Relaxed).saturating_sub(1),
                last_request_completed_at: db.last_completed_ms.load(Ordering::Relaxed),
            })
        })
        .await
    }

    async fn current_state(&self, req: Request<()>) -> Reply<pb::ImmutableState> {
        self.on_db(req, Need::Read, |s, db, ()| Ok(s.current_state(db)))
            .await
    }

    // --- key/value ---

    async fn set(&self, req: Request<pb::SetRequest>) -> Reply<pb::TxHeader> {
        self.on_db(req, Need::Write, |_, db, r| kv::set(db, r))
            .await
    }

    async fn verifiable_set(
        &self,
        req: Request<pb::VerifiableSetRequest>,
    ) -> Reply<pb::VerifiableTx> {
        self.on_db(req, Need::Write, verified::verifiable_set).await
    }

    async fn get(&self, req: Request<pb::KeyRequest>) -> Reply<pb::Entry> {
        self.on_db(req, Need::Read, |_, db, r| kv::get(db, r)).await
    }

    async fn verifiable_get(
        &self,
        req: Request<pb::VerifiableGetRequest>,
    ) -> Reply<pb::VerifiableEntry> {
        self.on_db(req, Need::Read, verified::verifiable_get).await
    }

    async fn delete(&self, req: Request<pb::DeleteKeysRequest>) -> Reply<pb::TxHeader> {
        self.on_db(req, Need::Write, |_, db, r| kv::delete(db, r))
            .await
    }

    async fn get_all(&self, req: Request<pb::KeyListRequest>) -> Reply<pb::Entries> {
        self.on_db(req, Need::Read, |_, db, r| kv::get_all(db, r))
            .await
    }

    async fn exec_all(&self, req: Request<pb::ExecAllRequest>) -> Reply<pb::TxHeader> {
        self.on_db(req, Need::Write, |_, db, r| {
            Ok(crate::convert::header(&kv::exec_all(db, r)?))
        })
        .await
    }

    async fn scan(&self, req: Request<pb::ScanRequest>) -> Reply<pb::Entries> {
        self.on_db(req, Need::Read, |_, db, r| kv::scan(db, r))
            .await
    }

    async fn count(&self, _req: Request<pb::KeyPrefix>) -> Reply<pb::EntryCount> {
        Err(ServerError::Unimplemented("Count").into())
    }

    async fn count_all(&self, _req: Request<()>) -> Reply<pb::EntryCount> {
        Err(ServerError::Unimplemented("CountAll").into())
    }

    async fn tx_by_id(&self, req: Request<pb::TxRequest>) -> Reply<pb::Tx> {
        self.on_db(req, Need::Read, |_, db, r| txs::tx_by_id(db, r))
            .await
    }

    async fn verifiable_tx_by_id(
        &self,
        req: Request<pb::VerifiableTxRequest>,
    ) -> Reply<pb::VerifiableTx> {
        self.on_db(req, Need::Read, verified::verifiable_tx_by_id)
            .await
    }

    async fn tx_scan(&self, req: Request<pb::TxScanRequest>) -> Reply<pb::TxList> {
        self.on_db(req, Need::Read, |_, db, r| txs::tx_scan(db, r))
            .await
    }

    async fn history(&self, req: Request<pb::HistoryRequest>) -> Reply<pb::Entries> {
        self.on_db(req, Need::Read, |_, db, r| kv::history(db, r))
            .await
    }

    async fn set_reference(&self, req: Request<pb::ReferenceRequest>) -> Reply<pb::TxHeader> {
        self.on_db(req, Need::Write, |_, db, r| {
            Ok(crate::convert::header(&kv::set_reference(db, r)?))
        })
        .await
    }

    async fn verifiable_set_reference(
        &self,
        req: Request<pb::VerifiableReferenceRequest>,
    ) -> Reply<pb::VerifiableTx> {
        self.on_db(req, Need::Write, verified::verifiable_set_reference)
            .await
    }

    async fn z_add(&self, req: Request<pb::ZAddRequest>) -> Reply<pb::TxHeader> {
        self.on_db(req, Need::Write, |_, db, r| {
            Ok(crate::convert::header(&kv::zadd(db, r)?))
        })
        .await
    }

    async fn verifiable_z_add(
        &self,
        req: Request<pb::VerifiableZAddRequest>,
    ) -> Reply<pb::VerifiableTx> {
        self.on_db(req, Need::Write, verified::verifiable_zadd)
            .await
    }

    async fn z_scan(&self, req: Request<pb::ZScanRequest>) -> Reply<pb::ZEntries> {
        self.on_db(req, Need::Read, |_, db, r| kv::zscan(db, r))
            .await
    }

    // --- databases ---

    async fn create_database(&self, req: Request<pb::Database>) -> Reply<()> {
        self.on_caller(req, |s, caller, r| {
            admin::create_database(s, &caller, &r.database_name, None, false).map(|_| ())
        })
        .await
    }

    async fn create_database_with(&self, _req: Request<pb::DatabaseSettings>) -> Reply<()> {
        Err(ServerError::Unimplemented("CreateDatabaseWith: use CreateDatabaseV2").into())
    }

    async fn create_database_v2(
        &self,
        req: Request<pb::CreateDatabaseRequest>,
    ) -> Reply<pb::CreateDatabaseResponse> {
        self.on_caller(req, |s, caller, r| {
            admin::create_database(s, &caller, &r.name, r.settings.as_ref(), r.if_not_exists)
        })
        .await
    }

    async fn load_database(
        &self,
        req: Request<pb::LoadDatabaseRequest>,
    ) -> Reply<pb::LoadDatabaseResponse> {
        self.on_caller(req, admin::load_database).await
    }

    async fn unload_database(
        &self,
        req: Request<pb::UnloadDatabaseRequest>,
    ) -> Reply<pb::UnloadDatabaseResponse> {
        self.on_caller(req, admin::unload_database).await
    }

    async fn delete_database(
        &self,
        req: Request<pb::DeleteDatabaseRequest>,
    ) -> Reply<pb::DeleteDatabaseResponse> {
        self.on_caller(req, admin::delete_database).await
    }

    async fn database_list(&self, req: Request<()>) -> Reply<pb::DatabaseListResponse> {
        self.on_caller(req, |s, caller, ()| Ok(admin::database_list(s, &caller)))
            .await
    }

    async fn database_list_v2(
        &self,
        req: Request<pb::DatabaseListRequestV2>,
    ) -> Reply<pb::DatabaseListResponseV2> {
        self.on_caller(req, |s, caller, _| Ok(admin::database_list_v2(s, &caller)))
            .await
    }

    async fn update_database(&self, _req: Request<pb::DatabaseSettings>) -> Reply<()> {
        Err(ServerError::Unimplemented("UpdateDatabase: use UpdateDatabaseV2").into())
    }

    async fn update_database_v2(
        &self,
        req: Request<pb::UpdateDatabaseRequest>,
    ) -> Reply<pb::UpdateDatabaseResponse> {
        self.on_caller(req, admin::update_database).await
    }

    async fn get_database_settings(&self, _req: Request<()>) -> Reply<pb::DatabaseSettings> {
        Err(ServerError::Unimplemented("GetDatabaseSettings: use GetDatabaseSettingsV2").into())
    }

    async fn get_database_settings_v2(
        &self,
        req: Request<pb::DatabaseSettingsRequest>,
    ) -> Reply<pb::DatabaseSettingsResponse> {
        self.on_db(req, Need::Read, |s, db, _| {
            Ok(pb::DatabaseSettingsResponse {
                database: db.name.clone(),
                settings: Some(admin::settings_message(&s.registry.settings(&db.name)?)),
            })
        })
        .await
    }

    async fn flush_index(
        &self,
        req: Request<pb::FlushIndexRequest>,
    ) -> Reply<pb::FlushIndexResponse> {
        self.on_db(req, Need::Write, |_, db, r| admin::flush_index(db, r))
            .await
    }

    async fn compact_index(&self, req: Request<()>) -> Reply<()> {
        self.on_db(req, Need::Admin, |_, db, ()| admin::compact_index(db))
            .await
    }

    async fn truncate_database(
        &self,
        _req: Request<pb::TruncateDatabaseRequest>,
    ) -> Reply<pb::TruncateDatabaseResponse> {
        Err(ServerError::Unimplemented("TruncateDatabase").into())
    }

    // --- SQL ---

    async fn sql_exec(&self, req: Request<pb::SqlExecRequest>) -> Reply<pb::SqlExecResult> {
        let rpc = rpc_name(&req);
        let caller = self.caller(&req).map_err(|e| failed(&rpc, e))?;
        if let Some(result) = admin::server_statement(&self.shared, &caller, req.get_ref())
            .await
            .map_err(|e| failed(&rpc, e))?
        {
            return Ok(Response::new(result));
        }
        self.on_db(req, Need::Write, |_, db, r| sql::exec(db, r))
            .await
    }

    type SQLQueryStream = BoxStream<pb::SqlQueryResult>;

    async fn sql_query(&self, req: Request<pb::SqlQueryRequest>) -> Reply<Self::SQLQueryStream> {
        self.stream_on_db(req, Need::Read, |s, db, r, send| {
            if let Some(result) = admin::server_query(s, db, &r)? {
                send(result);
                return Ok(());
            }
            let mut rows = sql::query(db, &r)?;
            if !send(sql::first_message(&mut rows)?) {
                return Ok(());
            }
            while let Some(rows) = sql::next_rows(&mut rows)? {
                if !send(pb::SqlQueryResult {
                    columns: Vec::new(),
                    rows,
                }) {
                    break;
                }
            }
            Ok(())
        })
        .await
    }

    async fn unary_sql_query(
        &self,
        req: Request<pb::SqlQueryRequest>,
    ) -> Reply<pb::SqlQueryResult> {
        self.on_db(req, Need::Read, |s, db, r| {
            if let Some(result) = admin::server_query(s, db, &r)? {
                return Ok(result);
            }
            let mut rows = sql::query(db, &r)?;
            let mut result = sql::first_message(&mut rows)?;
            while let Some(more) = sql::next_rows(&mut rows)? {
                result.rows.extend(more);
            }
            Ok(result)
        })
        .await
    }

    async fn list_tables(&self, req: Request<()>) -> Reply<pb::SqlQueryResult> {
        self.on_db(req, Need::Read, |_, db, ()| sql::list_tables(db))
            .await
    }

    async fn describe_table(&self, req: Request<pb::Table>) -> Reply<pb::SqlQueryResult> {
        self.on_db(req, Need::Read, |_, db, r| sql::describe_table(db, r))
            .await
    }

    async fn verifiable_sql_get(
        &self,
        req: Request<pb::VerifiableSqlGetRequest>,
    ) -> Reply<pb::VerifiableSqlEntry> {
        self.on_db(req, Need::Read, verified::verifiable_sql_get)
            .await
    }

    // --- streams ---

    type streamGetStream = BoxStream<pb::Chunk>;

    async fn stream_get(&self, req: Request<pb::KeyRequest>) -> Reply<Self::streamGetStream> {
        self.chunks_on_db(req, Need::Read, |_, db, r| streams::get(db, r))
            .await
    }

    async fn stream_set(&self, req: Request<tonic::Streaming<pb::Chunk>>) -> Reply<pb::TxHeader> {
        let (db, chunks) = self.client_stream(req, Need::Write).await?;
        let set = streams::read_set(chunks, &db)
            .await
            .map_err(|e| failed("streamSet", e))?;
        let header = blocking(move || kv::set(&db, set))
            .await
            .map_err(|e| failed("streamSet", e))?;
        Ok(Response::new(header))
    }

    type streamVerifiableGetStream = BoxStream<pb::Chunk>;

    async fn stream_verifiable_get(
        &self,
        req: Request<pb::VerifiableGetRequest>,
    ) -> Reply<Self::streamVerifiableGetStream> {
        self.chunks_on_db(req, Need::Read, streams::verifiable_get)
            .await
    }

    async fn stream_verifiable_set(
        &self,
        req: Request<tonic::Streaming<pb::Chunk>>,
    ) -> Reply<pb::VerifiableTx> {
        let (db, chunks) = self.client_stream(req, Need::Write).await?;
        let r = streams::read_verifiable_set(chunks, &db)
            .await
            .map_err(|e| failed("streamVerifiableSet", e))?;
        let shared = self.shared.clone();
        let v = blocking(move || verified::verifiable_set(&shared, &db, r))
            .await
            .map_err(|e| failed("streamVerifiableSet", e))?;
        Ok(Response::new(v))
    }

    type streamScanStream = BoxStream<pb::Chunk>;

    async fn stream_scan(&self, req: Request<pb::ScanRequest>) -> Reply<Self::streamScanStream> {
        self.chunks_on_db(req, Need::Read, |_, db, r| {
            streams::entries(kv::scan(db, r)?)
        })
        .await
    }

    type streamZScanStream = BoxStream<pb::Chunk>;

    async fn stream_z_scan(
        &self,
        req: Request<pb::ZScanRequest>,
    ) -> Reply<Self::streamZScanStream> {
        self.chunks_on_db(req, Need::Read, |_, db, r| {
            streams::zentries(kv::zscan(db, r)?)
        })
        .await
    }

    type streamHistoryStream = BoxStream<pb::Chunk>;

    async fn stream_history(
        &self,
        req: Request<pb::HistoryRequest>,
    ) -> Reply<Self::streamHistoryStream> {
        self.chunks_on_db(req, Need::Read, |_, db, r| {
            streams::entries(kv::history(db, r)?)
        })
        .await
    }

    async fn stream_exec_all(
        &self,
        req: Request<tonic::Streaming<pb::Chunk>>,
    ) -> Reply<pb::TxHeader> {
        let (db, chunks) = self.client_stream(req, Need::Write).await?;
        let r = streams::read_exec_all(chunks, &db)
            .await
            .map_err(|e| failed("streamExecAll", e))?;
        let h = blocking(move || kv::exec_all(&db, r))
            .await
            .map_err(|e| failed("streamExecAll", e))?;
        Ok(Response::new(crate::convert::header(&h)))
    }

    type exportTxStream = BoxStream<pb::Chunk>;

    async fn export_tx(&self, req: Request<pb::ExportTxRequest>) -> Reply<Self::exportTxStream> {
        self.chunks_on_db(req, Need::Admin, |_, db, r| streams::export_tx(db, r))
            .await
    }

    async fn replicate_tx(&self, req: Request<tonic::Streaming<pb::Chunk>>) -> Reply<pb::TxHeader> {
        let (db, chunks) = self.client_stream(req, Need::Admin).await?;
        let exported = streams::read_export(chunks)
            .await
            .map_err(|e| failed("replicateTx", e))?;
        let h = blocking(move || streams::replicate(&db, exported))
            .await
            .map_err(|e| failed("replicateTx", e))?;
        Ok(Response::new(h))
    }

    type streamExportTxStream = BoxStream<pb::Chunk>;

    async fn stream_export_tx(
        &self,
        _req: Request<tonic::Streaming<pb::ExportTxRequest>>,
    ) -> Reply<Self::streamExportTxStream> {
        Err(ServerError::Unimplemented("streamExportTx: use exportTx").into())
    }
}

impl Service {
    /// Authenticates a client-streaming call and returns its database and chunks.
    async fn client_stream(
        &self,
        req: Request<tonic::Streaming<pb::Chunk>>,
        need: Need,
    ) -> std::result::Result<(Arc<Database>, tonic::Streaming<pb::Chunk>), Status> {
        let rpc = rpc_name(&req);
        let caller = self.caller(&req).map_err(|e| failed(&rpc, e))?;
        let db = caller
            .database(&self.shared.registry, need)
            .map_err(|e| failed(&rpc, e))?;
        if need == Need::Write && db.settings.replica {
            return Err(failed(
                &rpc,
                ServerError::FailedPrecondition(format!(
                    "database {} is read-only because it is a replica",
                    db.name
                )),
            ));
        }
        Ok((db, req.into_inner()))
    }
}
