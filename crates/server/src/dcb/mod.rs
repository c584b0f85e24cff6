//! The DCB event store served as UmaDB's `umadb.v1.DCB` (on its own address, 127.0.0.1:50051
//! by default), with the standard health service and UmaDB's legacy path alias.
//!
//! - `service`: the five RPCs over stele-events (reads in batches at the view of their first
//!   batch, subscriptions that wait on the head, appends through the store's writer).
//! - `health`: `grpc.health.v1.Health`, SERVING until shutdown, then NOT_SERVING; its watch
//!   streams end with it.
//! - `alias`: `/umadb.UmaDBService/<Method>` rewritten to `/umadb.v1.DCB/<Method>`.
//!
//! Invariants: with an API key every DCB call must carry `authorization: Bearer <key>` (health
//! needs none); a response message stays under 3.5 MiB (clients accept 4 MiB); on shutdown
//! health turns NOT_SERVING and every subscription and watch stream ends, so the server drains.
//!
//! Not here: the event store itself (stele-events), the immudb API on the same events (the
//! event database is an ordinary database of the registry, `dcb`).

mod alias;
mod health;
mod service;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use crate::error::{Result, ServerError};
use crate::registry::{Registry, Settings};

pub use service::DcbService;

/// The database the event store lives in.
pub const DCB_DB: &str = "dcb";

/// Most entries in one tx of the event database (so one append takes up to this less one).
const DCB_MAX_TX_ENTRIES: u32 = 1 << 16;

/// How the DCB service is served.
#[derive(Debug, Clone)]
pub struct DcbConfig {
    /// Address the DCB and health services listen on.
    pub listen: SocketAddr,
    /// When set, every DCB call needs `authorization: Bearer <key>`.
    pub api_key: Option<String>,
}

/// Opens (creating it on first start) the event database and its store.
pub fn open_store(registry: &Registry) -> Result<Arc<stele_events::EventStore>> {
    let settings = Settings {
        max_tx_entries: DCB_MAX_TX_ENTRIES,
        ..Settings::default()
    };
    registry.create(DCB_DB, settings, true)?;
    // Written only by the event store's writer: its head and conditions see every event.
    registry.own(DCB_DB);
    let db = registry.get(DCB_DB)?;
    let entries = db.settings.max_tx_entries as usize;
    stele_events::EventStore::open(db.ledger.clone(), entries)
        .map(Arc::new)
        .map_err(|e| ServerError::Internal(format!("event store: {e}")))
}

/// Serves the DCB and health services on `listener` until `stop` turns true.
pub async fn serve(
    store: Arc<stele_events::EventStore>,
    config: DcbConfig,
    tls: Option<tonic::transport::ServerTlsConfig>,
    listener: tokio::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let health = health::Health::new(stop.clone());
    let service = DcbService::new(store, stop.clone());
    let key = config.api_key.clone();
    let dcb = stele_proto::umadb::dcb_server::DcbServer::with_interceptor(service, move |req| {
        service::check_api_key(key.as_deref(), req)
    });
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(5)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .initial_stream_window_size(Some(4 << 20))
        .initial_connection_window_size(Some(8 << 20));
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| ServerError::invalid(format!("TLS configuration: {e}")))?;
    }
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    builder
        .layer(alias::AliasLayer)
        .add_service(stele_proto::health::health_server::HealthServer::new(
            health,
        ))
        .add_service(dcb)
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| ServerError::Unavailable(format!("DCB server: {e}")))
}
