//! The crate's one error type, grouped by what the caller should do; each maps to one of the
//! DCB protocol's error kinds (UmaDB's `ErrorType`).

use stele_ledger::LedgerError;

/// Why an event-store call failed.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    // --- the request is wrong: fix it ---
    /// A request beyond the protocol's limits (too many events, tags or metadata bytes, a
    /// duplicate metadata key, ...); nothing was written.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Bytes that should decode did not (a malformed event UUID, say).
    #[error("deserialization error: {0}")]
    Deserialization(String),

    // --- the store's state refuses it: read again, decide again ---
    /// An append refused by the store's state: its condition matched an event, or its tracking
    /// position does not advance its source's; nothing was written.
    #[error("integrity error: {0}")]
    Integrity(String),

    // --- the store could not do it: retry later or report ---
    /// Stored data that is not what the store wrote (an event that does not decode, say).
    #[error("corruption: {0}")]
    Corruption(String),
    /// The store is closing, or closed: its writer takes no more appends.
    #[error("the event store is shutting down")]
    ShuttingDown,
    /// A failure inside the store: no writer thread, or a commit that failed.
    #[error("internal error: {0}")]
    Internal(String),
    /// An error of the ledger underneath.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
}

/// The crate's result type: [`EventError`] unless said otherwise.
pub type Result<T, E = EventError> = std::result::Result<T, E>;
