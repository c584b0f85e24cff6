//! The ledger's one error type, grouped by what the caller should do about it.

use stele_proof::{ProofError, TxId};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    // --- not there: the caller asked for something that does not exist (immudb's texts) ---
    #[error("key not found")]
    KeyNotFound,
    #[error("tx not found")]
    TxNotFound,
    #[error("invalid key revision number")]
    InvalidRevision,

    // --- bad input: nothing was written; fix the request ---
    #[error("illegal arguments: {0}")]
    IllegalArguments(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),

    // --- the stored data does not check out: stop trusting it, run `stele verify` ---
    #[error("data corruption at tx {tx}: {what}")]
    Corrupted { tx: TxId, what: String },
    #[error("verification failed at tx {tx}: {what}")]
    VerificationFailed { tx: TxId, what: String },

    // --- the engine cannot go on: retry later or restart ---
    #[error("storage error: {0}")]
    Storage(#[from] rocksdb::Error),
    #[error("commit failed, nothing was written: {0}")]
    CommitFailed(String),
    #[error("the ledger is closed")]
    Closed,
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

pub type Result<T, E = LedgerError> = std::result::Result<T, E>;
