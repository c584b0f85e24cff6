//! The crate's one error type, grouped by what the caller should do; each maps to one of the
//! DCB protocol's error kinds (UmaDB's `ErrorType`).

use stele_ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    // --- the request is wrong: fix it ---
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Bytes that should decode did not (a malformed event UUID, say).
    #[error("deserialization error: {0}")]
    Deserialization(String),

    // --- the store's state refuses it: read again, decide again ---
    #[error("integrity error: {0}")]
    Integrity(String),

    // --- the store could not do it: retry later or report ---
    #[error("corruption: {0}")]
    Corruption(String),
    #[error("the event store is shutting down")]
    ShuttingDown,
    #[error("internal error: {0}")]
    Internal(String),
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
}

pub type Result<T, E = EventError> = std::result::Result<T, E>;
