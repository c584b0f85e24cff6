//! The crate's one error type, grouped by what the caller should do about it.

use std::path::PathBuf;

use stele_proof::TxId;

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    // --- nothing was sent, or nothing came back: check the address, the network, TLS ---
    /// The connection could not be made.
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        /// The server's address, `HOST:PORT`, as given.
        addr: String,
        /// What failed: the address, the CA file, TLS, the connection itself.
        message: String,
    },

    // --- the server refused the request: its message says why (it is printed as is) ---
    /// The server answered with a gRPC error status.
    #[error("{message}")]
    Server {
        /// The status code.
        code: tonic::Code,
        /// The status message, as the server sent it.
        message: String,
    },

    // --- the caller's input is wrong: fix the command ---
    /// Bad input from the caller (an unknown permission, an unreadable server key, ...);
    /// nothing was sent.
    #[error("{0}")]
    Input(String),

    // --- the server is not to be trusted: a proof failed or an answer was malformed ---
    /// A proof or a signature in a verified answer did not check out.
    #[error("verification failed at tx {tx}: {what}")]
    Verification {
        /// The tx whose answer failed to verify.
        tx: TxId,
        /// What did not check out (with the trusted state when a proof failed).
        what: String,
    },
    /// An answer that does not parse into what the call expects.
    #[error("malformed answer from the server: {0}")]
    Protocol(String),

    // --- the trusted state on this machine could not be read or written ---
    /// The local trusted-state file could not be read, parsed or written.
    #[error("trusted state {path}: {message}")]
    TrustedState {
        /// The trusted-state file.
        path: PathBuf,
        /// The I/O or parse error.
        message: String,
    },
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

/// The crate's result type: [`ClientError`] unless said otherwise.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;
