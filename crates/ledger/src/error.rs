//! The ledger's one error type, grouped by what the caller should do about it.

use stele_proof::{ProofError, TxId};

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    // --- not there: the caller asked for something that does not exist (immudb's texts) ---
    /// The key has no live version at the snapshot, or no version in the tx asked about.
    #[error("key not found")]
    KeyNotFound,
    /// The tx id is 0 or beyond the last committed tx.
    #[error("tx not found")]
    TxNotFound,
    /// The key has no version with the revision asked for.
    #[error("invalid key revision number")]
    InvalidRevision,

    // --- bad input: nothing was written; fix the request ---
    /// The request is malformed or over a limit of [`crate::Options`]; says how.
    #[error("illegal arguments: {0}")]
    IllegalArguments(String),
    /// A [`crate::Precondition`] of the commit does not hold; says which.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),

    // --- the stored data does not check out: stop trusting it, run `stele verify` ---
    /// Stored bytes are missing or do not decode.
    #[error("data corruption at tx {tx}: {what}")]
    Corrupted {
        /// The tx whose data is bad; 0 when the damage is not tied to one tx.
        tx: TxId,
        /// What is missing or malformed.
        what: String,
    },
    /// [`crate::Ledger::verify`] found stored data that does not match the hash chain.
    #[error("verification failed at tx {tx}: {what}")]
    VerificationFailed {
        /// The first tx that does not match; 0 when the mismatch is not tied to one tx.
        tx: TxId,
        /// Which check failed.
        what: String,
    },

    // --- the engine cannot go on: retry later or restart ---
    /// RocksDB failed to read or write.
    #[error("storage error: {0}")]
    Storage(#[from] rocksdb::Error),
    /// The tx's commit group failed as a whole (a read, the batch write, or its committer
    /// failed); no tx of the group was written, so the tx may be retried.
    #[error("commit failed, nothing was written: {0}")]
    CommitFailed(String),
    /// The ledger is shut down and takes no more requests.
    #[error("the ledger is closed")]
    Closed,
    /// A proof could not be built or checked: bad arguments, or a node or header it needs is
    /// missing.
    #[error("proof error: {0}")]
    Proof(#[from] ProofError),
}

impl LedgerError {
    pub(crate) fn illegal(msg: impl Into<String>) -> LedgerError {
        LedgerError::IllegalArguments(msg.into())
    }
    pub(crate) fn corrupted(tx: TxId, what: impl Into<String>) -> LedgerError {
        LedgerError::Corrupted {
            tx,
            what: what.into(),
        }
    }
}

/// A result whose error is a [`LedgerError`] unless said otherwise.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
