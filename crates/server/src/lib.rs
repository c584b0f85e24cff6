//! # stele-server: immudb's gRPC service over Stele
//!
//! Speaks `immudb.schema.ImmuService` as immudb 1.9.3 does, so that immudb's own SDKs work
//! unchanged, their client-side proof checks included.
//!
//! Invariants:
//! - Every call is authenticated and authorised before it touches a database ([`auth`]); the
//!   calls that need no login are Login, OpenSession, Health and ServerInfo.
//! - Blocking work (ledger commits and reads, bcrypt, DataFusion) runs on the runtime's
//!   bounded blocking pool, never on its async threads; one DataFusion runtime serves every
//!   database.
//! - A write is acknowledged only once its ledger commit is durable; a call that fails writes
//!   nothing (each request is one ledger transaction).
//! - Errors map onto gRPC codes in one place ([`error`]); logs never carry a password or token.
//!
//! Layers:
//! - [`registry`]: databases and users, persisted in `systemdb`.
//! - [`auth`]: tokens, sessions, the caller of a call and what it may do.
//! - `call`: the layer every call passes first (its name, its deadline).
//! - `convert`: ledger and SQL types to and from the wire's messages.
//! - `stream`: the chunk framing of the streaming calls.
//! - `service`: the RPCs, grouped by kind (key/value, verified, SQL, administration, streams).
//! - [`dcb`]: UmaDB's DCB service over the event store in database `dcb`, on its own address.
//!
//! Not here: TLS certificate management beyond loading PEM files, replication from a primary
//! (a replica is fed by `replicateTx`).

pub mod auth;
mod call;
mod convert;
pub mod dcb;
mod error;
pub mod registry;
mod service;
mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub use error::{Result, ServerError};
pub use service::Service;

/// The version reported by Health and ServerInfo: the immudb release whose protocol this is.
pub const IMMUDB_VERSION: &str = "1.9.3";

/// How a server is started.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding every database, one subdirectory each, `systemdb` included.
    pub data_dir: PathBuf,
    /// Address the immudb gRPC service listens on.
    pub listen: SocketAddr,
    /// PEM file of an ECDSA P-256 private key (SEC1 or PKCS#8): states and verified answers are
    /// signed with it.
    pub signing_key: Option<PathBuf>,
    /// PEM certificate chain and private key: serve TLS instead of plaintext.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The superuser's password when `systemdb` is created.
    pub admin_password: String,
    /// The DCB event-store service, when it is served.
    pub dcb: Option<dcb::DcbConfig>,
}

impl Config {
    /// Plaintext, unsigned, no DCB service, with immudb's default superuser password `immudb`.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen,
            signing_key: None,
            tls: None,
            admin_password: "immudb".into(),
            dcb: None,
        }
    }
}

/// Loads a P-256 signing key from PEM: a SEC1 `EC PRIVATE KEY` or PKCS#8 `PRIVATE KEY` block,
/// base64 wrapped at any width (as Go's PEM reader, and so immudb's `--signingKey`, accepts);
/// other blocks (an `EC PARAMETERS` block before the key, say) are skipped.
pub fn load_signing_key(path: &std::path::Path) -> Result<p256::ecdsa::SigningKey> {
    use base64::Engine as _;
    use p256::pkcs8::DecodePrivateKey;
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServerError::invalid(format!("cannot read {}: {e}", path.display())))?;
    let bad = || {
        ServerError::invalid(format!(
            "{} is not a PEM ECDSA P-256 private key (EC PRIVATE KEY or PRIVATE KEY block)",
            path.display()
        ))
    };
    for label in ["EC PRIVATE KEY", "PRIVATE KEY"] {
        let (begin, end) = (
            format!("-----BEGIN {label}-----"),
            format!("-----END {label}-----"),
        );
        let Some(start) = text.find(&begin) else {
            continue;
        };
        let body = &text[start + begin.len()..];
        let body = &body[..body.find(&end).ok_or_else(bad)?];
        let b64: String = body
            .lines()
            .filter(|l| !l.contains(':')) // RFC 1421 headers, if any
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| bad())?;
        let key = if label == "EC PRIVATE KEY" {
            p256::SecretKey::from_sec1_der(&der).map_err(|_| bad())?
        } else {
            p256::SecretKey::from_pkcs8_der(&der).map_err(|_| bad())?
        };
        return Ok(key.into());
    }
    Err(bad())
}

/// Runs the server until `shutdown` completes: then it stops accepting calls, lets the calls
/// in flight finish, and closes every database.
pub async fn serve(config: Config, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| {
            ServerError::Unavailable(format!("cannot listen on {}: {e}", config.listen))
        })?;
    serve_on(config, listener, shutdown).await
}

/// As [`serve`], on a listener already bound (tests bind port 0 and read the port back).
pub async fn serve_on(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let addr = listener.local_addr().ok();
    let mut builder = tonic::transport::Server::builder();
    let tls = match &config.tls {
        Some((cert, key)) => {
            let read = |p: &PathBuf| {
                std::fs::read(p)
                    .map_err(|e| ServerError::invalid(format!("cannot read {}: {e}", p.display())))
            };
            let identity = tonic::transport::Identity::from_pem(read(cert)?, read(key)?);
            Some(tonic::transport::ServerTlsConfig::new().identity(identity))
        }
        None => None,
    };
    if let Some(tls) = &tls {
        builder = builder
            .tls_config(tls.clone())
            .map_err(|e| ServerError::invalid(format!("TLS configuration: {e}")))?;
    }
    let service = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Service::open(&config))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))??
    };
    let shared = service.shared();
    let kept = service.shared();
    // One stop signal for both services: the caller's shutdown sets it.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let dcb_task = match &config.dcb {
        None => None,
        Some(dcb_config) => {
            let registry_shared = service.shared();
            let store =
                tokio::task::spawn_blocking(move || dcb::open_store(&registry_shared.registry))
                    .await
                    .map_err(|e| ServerError::Internal(e.to_string()))??;
            let dcb_listener = tokio::net::TcpListener::bind(dcb_config.listen)
                .await
                .map_err(|e| {
                    ServerError::Unavailable(format!(
                        "cannot listen on {} (DCB): {e}",
                        dcb_config.listen
                    ))
                })?;
            tracing::info!(
                dcb_addr = %dcb_listener.local_addr().map_or_else(|_| dcb_config.listen.to_string(), |a| a.to_string()),
                api_key = dcb_config.api_key.is_some(),
                "DCB service started"
            );
            let task = tokio::spawn(dcb::serve(
                store.clone(),
                dcb_config.clone(),
                tls.clone(),
                dcb_listener,
                stop_rx.clone(),
            ));
            Some((task, store))
        }
    };
    let mut stopped = stop_rx.clone();
    let shutdown = async move {
        tokio::select! {
            _ = shutdown => {}
            _ = stopped.wait_for(|s| *s) => {}
        }
        let _ = stop_tx.send(true);
    };
    let expiry = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            // Off the async threads: a session's transaction may hold the last handle of an
            // unloaded database, which closes its RocksDB when dropped.
            let s = shared.clone();
            let n = tokio::task::spawn_blocking(move || s.auth.expire_sessions(auth::SESSION_IDLE))
                .await
                .unwrap_or(0);
            if n > 0 {
                tracing::info!(sessions = n, "closed idle sessions");
            }
        }
    });
    tracing::info!(
        addr = %addr.map_or_else(|| config.listen.to_string(), |a| a.to_string()),
        data_dir = %config.data_dir.display(),
        tls = config.tls.is_some(),
        signing = config.signing_key.is_some(),
        "stele server started"
    );
    // Replies go out at once: without TCP_NODELAY a reply of more than one segment waits for
    // the client's delayed ACK (about 40 ms a call).
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let result = builder
        .layer(call::CallLayer)
        .add_service(service.into_server())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    expiry.abort();
    let _ = expiry.await;
    if let Some((task, store)) = dcb_task {
        match task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "DCB service failed"),
            Err(e) => tracing::warn!(error = %e, "DCB service panicked"),
            Ok(Ok(())) => {}
        }
        // Queued appends finish before the databases close.
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    }
    // The last handle closes every database, whose engines hold the DataFusion runtime: a
    // runtime cannot be dropped on an async thread.
    let _ = tokio::task::spawn_blocking(move || drop(kept)).await;
    tracing::info!("stele server stopped");
    result.map_err(|e| ServerError::Unavailable(format!("server: {e}")))
}

pub(crate) fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Now, as text (immudb shows a user's creation time as Go's `time.Time.String()`).
pub(crate) fn now_text() -> String {
    let secs = now_millis() / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
