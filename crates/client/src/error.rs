//! The crate's one error type, grouped by what the caller should do about it.

use std::path::PathBuf;

use stele_proof::TxId;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    // --- nothing was sent, or nothing came back: check the address, the network, TLS ---
    #[error("cannot connect to {addr}: {message}")]
    Connect { addr: String, message: String },

    // --- the server refused the request: its message says why (it is printed as is) ---
    #[error("{message}")]
    Server { code: tonic::Code, message: String },

    // --- the caller's input is wrong: fix the command ---
    #[error("{0}")]
    Input(String),

    // --- the server is not to be trusted: a proof failed or an answer was malformed ---
    #[error("verification failed at tx {tx}: {what}")]
    Verification { tx: TxId, what: String },
    #[error("malformed answer from the server: {0}")]
    Protocol(String),

    // --- the trusted state on this machine could not be read or written ---
    #[error("trusted state {path}: {message}")]
    TrustedState { path: PathBuf, message: String },
}

impl ClientError {
    /// The gRPC code of a server's refusal, if this is one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the server was unreachable rather than refusing.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ClientError::Connect { .. }) || self.code() == Some(tonic::Code::Unavailable)
    }
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> ClientError {
        ClientError::Server {
            code: s.code(),
            message: s.message().to_string(),
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
