//! The crate's one error type. Messages are immudb's (spec immudb-sql.md §2), so that clients
//! matching on them keep working; grouped by what the caller should do.

use stele_ledger::LedgerError;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    // --- the statement names something that is not there, or already is ---
    #[error("table does not exist ({0})")]
    TableDoesNotExist(String),
    #[error("table already exists ({0})")]
    TableAlreadyExists(String),
    #[error("column does not exist ({0})")]
    ColumnDoesNotExist(String),
    #[error("index already exists")]
    IndexAlreadyExists,
    #[error("index not found ({0})")]
    IndexNotFound(String),
    #[error("column already exists ({0})")]
    ColumnAlreadyExists(String),
    #[error("key already exists")]
    KeyAlreadyExists,
    #[error("constraint not found ({0})")]
    ConstraintNotFound(String),
    #[error("constraint already exists ({0})")]
    ConstraintAlreadyExists(String),

    // --- the statement breaks a rule of the dialect: fix it ---
    #[error("parsing error: {0}")]
    Parsing(String),
    #[error("missing parameter({0})")]
    MissingParameter(String),
    #[error("not supported: {0}")]
    NotSupported(String),
    #[error("nested tx are not supported")]
    NestedTx,
    #[error("no ongoing transaction")]
    NoOngoingTx,
    #[error("primary key can not be updated")]
    PkCanNotBeUpdated,
    #[error("unsupported join type: {0}")]
    UnsupportedJoinType(String),
    #[error("same old and new names ({0})")]
    SameOldAndNewNames(String),
    #[error("new column must be nullable ({0})")]
    NewColumnMustBeNullable(String),
    #[error("cannot drop column {0} because one or more indexes require it")]
    CannotDropIndexedColumn(String),
    #[error("cannot drop column {column} because {constraint} constraint requires it")]
    CannotDropCheckedColumn { column: String, constraint: String },
    #[error("having clause requires group clause")]
    HavingRequiresGroupBy,
    #[error("invalid check constraint{0}")]
    InvalidCheckConstraint(String),
    #[error("check constraint violation: {0}")]
    CheckConstraintViolation(String),
    #[error("constraint name len: max length exceeded")]
    ConstraintNameTooLong,
    #[error("no primary key specified")]
    NoPrimaryKey,
    #[error("\"{0}\": multiple primary keys are not allowed")]
    MultiplePrimaryKeys(String),
    #[error("duplicated column ({0})")]
    DuplicatedColumn(String),
    #[error("reserved word({0})")]
    ReservedWord(String),
    #[error("only VARCHAR and BLOB types support max length")]
    LimitedMaxLen,
    #[error("only INTEGER single-column primary keys can be set as auto incremental")]
    LimitedAutoIncrement,
    #[error("number of columns in multi-column index exceeded")]
    MaxNumberOfColumnsInIndexExceeded,
    #[error("indexed key of unsupported type or exceeded length: {0}")]
    LimitedKeyType(String),
    #[error("cannot index column of type JSON")]
    CannotIndexJson,
    #[error("unique index creation is only supported on empty tables")]
    LimitedIndexCreation,
    #[error("primary key can not be null")]
    PkCanNotBeNull,
    #[error("not nullable column can not be null ({0})")]
    NotNullableColumnCannotBeNull(String),
    #[error("max length exceeded: table: {table}, column: {column}")]
    MaxLengthExceeded { table: String, column: String },
    #[error("invalid value provided: {0}")]
    InvalidValue(String),
    /// A string given for a TIMESTAMP column (classic converts none implicitly).
    #[error("value is not a timestamp: invalid value provided: table: {table}, column: {column}")]
    NotATimestamp { table: String, column: String },
    #[error("division by zero")]
    DivisionByZero,
    #[error("values are not comparable")]
    ValuesNotComparable,
    #[error("column mismatch in union statement")]
    ColumnMismatchInUnion,
    #[error("invalid number of values provided")]
    InvalidNumberOfValues,
    #[error("illegal arguments: {0}")]
    IllegalArguments(String),

    // --- a concurrent transaction won: retry ---
    #[error("tx read conflict")]
    ReadConflict,

    // --- what is stored does not decode: stop and audit ---
    #[error("data is corrupted: {0}")]
    Corrupted(String),

    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Query(String),
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;
