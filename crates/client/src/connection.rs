//! A session with a server: the connection, the session id every call carries, and a
//! keep-alive so that an idle shell keeps its session (and its open transaction).
//!
//! Calls block: the client owns a small runtime and waits on it, which is what a command-line
//! tool wants. Every call goes through [`Client::call`] or [`Client::stream`], which turn the
//! server's refusals into [`ClientError::Server`] with its message as is.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stele_proto::immudb::{self as pb, immu_service_client::ImmuServiceClient};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::error::{ClientError, Result};

/// Where a server is and how to reach it.
#[derive(Debug, Clone)]
pub struct ServerAddress {
    /// `HOST:PORT`.
    pub addr: String,
    /// A PEM CA certificate to trust: the connection uses TLS when it is given.
    pub tls_ca: Option<PathBuf>,
    /// The name the server's certificate is checked against (default: the host).
    pub tls_domain: Option<String>,
}

impl ServerAddress {
    /// `addr` (`HOST:PORT`) over plaintext, without TLS.
    pub fn plain(addr: impl Into<String>) -> ServerAddress {
        ServerAddress {
            addr: addr.into(),
            tls_ca: None,
            tls_domain: None,
        }
    }
}

/// Who logs in, and where.
#[derive(Clone)]
pub struct Credentials {
    /// The user name to log in as.
    pub user: String,
    /// That user's password.
    pub password: String,
    /// The database the session opens on (empty: the server's default database).
    pub database: String,
}

/// Adds the session id to every request.
#[derive(Clone, Default)]
pub struct SessionHeader(Arc<Mutex<Option<MetadataValue<Ascii>>>>);

impl tonic::service::Interceptor for SessionHeader {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(id) = self.0.lock().expect("session header lock").clone() {
            req.metadata_mut().insert("sessionid", id);
        }
        Ok(req)
    }
}

/// The generated client with the session header on every call.
pub type Service = ImmuServiceClient<InterceptedService<Channel, SessionHeader>>;

/// How long a connection attempt may take, and the interval of keep-alives (the server
/// closes sessions idle for three minutes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const KEEP_ALIVE_EVERY: Duration = Duration::from_secs(60);

/// An open session on one database of a server.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    service: Service,
    header: SessionHeader,
    address: ServerAddress,
    credentials: Credentials,
    keep_alive: Option<tokio::task::JoinHandle<()>>,
    /// The server's public key: when set, verified answers and states must carry its signature.
    pub(crate) server_key: Option<p256::ecdsa::VerifyingKey>,
}

impl Client {
    /// Connects and opens a session as `credentials.user` on `credentials.database`.
    pub fn open(address: &ServerAddress, credentials: Credentials) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stele-client")
            .enable_all()
            .build()
            .map_err(|e| ClientError::Connect {
                addr: address.addr.clone(),
                message: format!("no runtime: {e}"),
            })?;
        let channel = runtime.block_on(connect(address))?;
        let header = SessionHeader::default();
        let service = ImmuServiceClient::with_interceptor(channel, header.clone())
            .max_decoding_message_size(stele_proto::MAX_MESSAGE_SIZE)
            .max_encoding_message_size(stele_proto::MAX_MESSAGE_SIZE);
        let mut client = Client {
            runtime,
            service,
            header,
            address: address.clone(),
            credentials,
            keep_alive: None,
            server_key: None,
        };
        client.open_session()?;
        Ok(client)
    }

    /// Another session on the same server as the same user, on `database`.
    pub fn on_database(&self, database: &str) -> Result<Client> {
        let mut credentials = self.credentials.clone();
        credentials.database = database.to_string();
        let mut other = Client::open(&self.address, credentials)?;
        other.server_key = self.server_key;
        Ok(other)
    }

    /// Requires every verified answer and every state to be signed by `key` from now on.
    pub fn require_signatures(&mut self, key: p256::ecdsa::VerifyingKey) {
        self.server_key = Some(key);
    }

    fn open_session(&mut self) -> Result<()> {
        let c = &self.credentials;
        let request = pb::OpenSessionRequest {
            username: c.user.clone().into_bytes(),
            password: c.password.clone().into_bytes(),
            database_name: c.database.clone(),
        };
        let session = self.call(|mut s| async move { s.open_session(request).await })?;
        let id = MetadataValue::try_from(session.session_id.as_str())
            .map_err(|_| ClientError::Protocol("a session id that is not ASCII".into()))?;
        *self.header.0.lock().expect("session header lock") = Some(id);
        let mut service = self.service.clone();
        self.keep_alive = Some(self.runtime.spawn(async move {
            loop {
                tokio::time::sleep(KEEP_ALIVE_EVERY).await;
                if service.keep_alive(()).await.is_err() {
                    break;
                }
            }
        }));
        Ok(())
    }

    /// The server's address as given.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// The database this session works on.
    pub fn database(&self) -> &str {
        &self.credentials.database
    }

    /// The user this session is logged in as.
    pub fn user(&self) -> &str {
        &self.credentials.user
    }

    /// The generated client, for a call to be made with [`Client::call`].
    pub(crate) fn service(&self) -> Service {
        self.service.clone()
    }

    /// Runs one unary call and waits for its answer.
    pub fn call<T, F>(&self, call: impl FnOnce(Service) -> F) -> Result<T>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.runtime
            .block_on(call(self.service.clone()))
            .map(tonic::Response::into_inner)
            .map_err(ClientError::from)
    }

    /// Runs one server-streaming call and collects every message.
    pub fn stream<T, F>(&self, call: impl FnOnce(Service) -> F) -> Result<Vec<T>>
    where
        F: Future<Output = Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>>,
    {
        self.runtime.block_on(async {
            let mut stream = call(self.service.clone()).await?.into_inner();
            let mut out = Vec::new();
            while let Some(m) = stream.message().await? {
                out.push(m);
            }
            Ok(out)
        })
    }
}

impl Drop for Client {
    /// Closes the session (best effort, briefly): the server would expire it anyway.
    fn drop(&mut self) {
        if let Some(k) = self.keep_alive.take() {
            k.abort();
        }
        if self.header.0.lock().map(|h| h.is_some()).unwrap_or(false) {
            let mut service = self.service.clone();
            let _ = self.runtime.block_on(async move {
                tokio::time::timeout(Duration::from_secs(2), service.close_session(())).await
            });
        }
    }
}

async fn connect(address: &ServerAddress) -> Result<Channel> {
    let fail = |message: String| ClientError::Connect {
        addr: address.addr.clone(),
        message,
    };
    let scheme = if address.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", address.addr))
        .map_err(|e| fail(format!("not an address: {e}")))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    if let Some(ca) = &address.tls_ca {
        let pem = std::fs::read(ca).map_err(|e| fail(format!("{}: {e}", ca.display())))?;
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem));
        let host = address
            .addr
            .rsplit_once(':')
            .map_or(&*address.addr, |(h, _)| h);
        tls = tls.domain_name(
            address
                .tls_domain
                .clone()
                .unwrap_or_else(|| host.to_string()),
        );
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| fail(format!("TLS: {e}")))?;
    }
    endpoint.connect().await.map_err(|e| {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let s_text = s.to_string();
            if !message.contains(&s_text) {
                message = format!("{message}: {s_text}");
            }
            source = s.source();
        }
        fail(message)
    })
}
