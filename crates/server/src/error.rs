//! The server's one error type, grouped by what the client should do, and its mapping onto gRPC
//! status codes (the only place that mapping is made). Messages are immudb's texts where its
//! clients read them (`key not found`, `tx not found`, `user already exists`, ...).

use stele_ledger::LedgerError;
use stele_sql::SqlError;
use tonic::{Code, Status};

/// Why a call failed; converts into the gRPC [`Status`] the client receives.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    // --- who is calling: log in, or ask for more rights ---
    /// No valid token or session, bad credentials, or an inactive user (`UNAUTHENTICATED`).
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller lacks the permission the call needs (`PERMISSION_DENIED`).
    #[error("{0}")]
    PermissionDenied(String),

    // --- bad request: nothing was done; fix it ---
    /// A malformed or out-of-range request (`INVALID_ARGUMENT`).
    #[error("{0}")]
    InvalidArgument(String),
    /// The database, user, session or key named does not exist (`NOT_FOUND`).
    #[error("{0}")]
    NotFound(String),
    /// The database or user to create exists already (`ALREADY_EXISTS`).
    #[error("{0}")]
    AlreadyExists(String),
    /// Not possible in the current state: a database not loaded, a replica written to, no open
    /// transaction (`FAILED_PRECONDITION`).
    #[error("{0}")]
    FailedPrecondition(String),
    /// An immudb call (or form of one) this server does not implement, by name
    /// (`UNIMPLEMENTED`).
    #[error("{0} is not implemented by this server")]
    Unimplemented(&'static str),

    // --- from the layers below, mapped by kind ---
    /// A ledger error; its code depends on its kind (`NOT_FOUND` for a missing key or tx,
    /// `DATA_LOSS` for corruption, ...).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A SQL error; its code depends on its kind (`ABORTED` for a read conflict, `NOT_FOUND`,
    /// `ALREADY_EXISTS`, else `INVALID_ARGUMENT`).
    #[error(transparent)]
    Sql(#[from] SqlError),

    // --- the server cannot go on with this call: retry later ---
    /// The server cannot serve: its address cannot be bound, or its transport failed
    /// (`UNAVAILABLE`).
    #[error("{0}")]
    Unavailable(String),
    /// A failure inside the server: a worker, the file system, `systemdb`'s contents
    /// (`INTERNAL`).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The server's result type: [`ServerError`] unless said otherwise.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

impl ServerError {
    /// A [`ServerError::InvalidArgument`] with message `msg`.
    pub fn invalid(msg: impl Into<String>) -> ServerError {
        ServerError::InvalidArgument(msg.into())
    }
    /// A [`ServerError::PermissionDenied`] with message `msg`.
    pub fn denied(msg: impl Into<String>) -> ServerError {
        ServerError::PermissionDenied(msg.into())
    }
}

fn ledger_code(e: &LedgerError) -> Code {
    match e {
        LedgerError::KeyNotFound | LedgerError::TxNotFound => Code::NotFound,
        LedgerError::InvalidRevision | LedgerError::IllegalArguments(_) => Code::InvalidArgument,
        LedgerError::PreconditionFailed(_) => Code::FailedPrecondition,
        LedgerError::Corrupted { .. } | LedgerError::VerificationFailed { .. } => Code::DataLoss,
        LedgerError::Closed => Code::Unavailable,
        LedgerError::Storage(_) | LedgerError::CommitFailed(_) | LedgerError::Proof(_) => {
            Code::Internal
        }
    }
}

fn sql_code(e: &SqlError) -> Code {
    match e {
        SqlError::Ledger(l) => ledger_code(l),
        SqlError::ReadConflict => Code::Aborted,
        SqlError::Corrupted(_) => Code::DataLoss,
        SqlError::TableDoesNotExist(_)
        | SqlError::ColumnDoesNotExist(_)
        | SqlError::IndexNotFound(_)
        | SqlError::ConstraintNotFound(_) => Code::NotFound,
        SqlError::TableAlreadyExists(_)
        | SqlError::IndexAlreadyExists
        | SqlError::ColumnAlreadyExists(_)
        | SqlError::KeyAlreadyExists
        | SqlError::ConstraintAlreadyExists(_) => Code::AlreadyExists,
        _ => Code::InvalidArgument,
    }
}

impl From<ServerError> for Status {
    fn from(e: ServerError) -> Status {
        let code = match &e {
            ServerError::Unauthenticated(_) => Code::Unauthenticated,
            ServerError::PermissionDenied(_) => Code::PermissionDenied,
            ServerError::InvalidArgument(_) => Code::InvalidArgument,
            ServerError::NotFound(_) => Code::NotFound,
            ServerError::AlreadyExists(_) => Code::AlreadyExists,
            ServerError::FailedPrecondition(_) => Code::FailedPrecondition,
            ServerError::Unimplemented(_) => Code::Unimplemented,
            ServerError::Ledger(l) => ledger_code(l),
            ServerError::Sql(s) => sql_code(s),
            ServerError::Unavailable(_) => Code::Unavailable,
            ServerError::Internal(_) => Code::Internal,
        };
        Status::new(code, e.to_string())
    }
}

/// A DCB error as UmaDB's clients read it: the code, the message, and a prost-encoded
/// `ErrorResponse` naming its kind in the status details (`grpc-status-details-bin`).
pub fn dcb_status(e: &stele_events::EventError) -> Status {
    use stele_events::EventError as E;
    use stele_proto::umadb::ErrorType;
    let (code, kind) = match e {
        E::InvalidArgument(_) => (Code::InvalidArgument, ErrorType::InvalidArgument),
        E::Deserialization(_) | E::Corruption(_) => (Code::DataLoss, ErrorType::Corruption),
        E::Integrity(_) => (Code::FailedPrecondition, ErrorType::Integrity),
        E::ShuttingDown => (Code::Unavailable, ErrorType::Io),
        E::Internal(_) => (Code::Internal, ErrorType::Internal),
        E::Ledger(_) => (Code::Internal, ErrorType::Io),
    };
    dcb_status_of(code, kind, e.to_string())
}

/// A DCB status of `code` with `kind` in its details.
pub fn dcb_status_of(code: Code, kind: stele_proto::umadb::ErrorType, message: String) -> Status {
    use prost::Message as _;
    let details = stele_proto::umadb::ErrorResponse {
        message: message.clone(),
        error_type: kind as i32,
    };
    Status::with_details(code, message, details.encode_to_vec().into())
}
