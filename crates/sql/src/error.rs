//! The crate's one error type. Messages are immudb's (spec immudb-sql.md §2), so that clients
//! matching on them keep working; grouped by what the caller should do.

use stele_ledger::LedgerError;

/// Every error of the SQL layer; its `Display` is immudb's message.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    // --- the statement names something that is not there, or already is ---
    /// A statement names a table the catalog does not have (the name).
    #[error("table does not exist ({0})")]
    TableDoesNotExist(String),
    /// CREATE TABLE (without IF NOT EXISTS) or RENAME TO names a table that exists.
    #[error("table already exists ({0})")]
    TableAlreadyExists(String),
    /// A statement names a column its table does not have.
    #[error("column does not exist ({0})")]
    ColumnDoesNotExist(String),
    /// CREATE INDEX (without IF NOT EXISTS) on the columns of an existing index.
    #[error("index already exists")]
    IndexAlreadyExists,
    /// DROP INDEX or `USE INDEX ON` names columns no index has (`table(cols)`).
    #[error("index not found ({0})")]
    IndexNotFound(String),
    /// ADD COLUMN or RENAME COLUMN gives a name the table already has.
    #[error("column already exists ({0})")]
    ColumnAlreadyExists(String),
    /// INSERT of a primary key that is taken, or a write that would repeat a UNIQUE index's
    /// values.
    #[error("key already exists")]
    KeyAlreadyExists,
    /// DROP CONSTRAINT names no CHECK of the table.
    #[error("constraint not found ({0})")]
    ConstraintNotFound(String),
    /// CREATE TABLE names two CHECK constraints alike.
    #[error("constraint already exists ({0})")]
    ConstraintAlreadyExists(String),

    // --- the statement breaks a rule of the dialect: fix it ---
    /// The SQL text does not parse (sqlparser's message, or what was found).
    #[error("parsing error: {0}")]
    Parsing(String),
    /// The statement uses `@name` but the request gives no such parameter.
    #[error("missing parameter({0})")]
    MissingParameter(String),
    /// A statement, clause, type or option the dialect does not have.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// BEGIN inside an explicit transaction.
    #[error("nested tx are not supported")]
    NestedTx,
    /// COMMIT or ROLLBACK with no explicit transaction open.
    #[error("no ongoing transaction")]
    NoOngoingTx,
    /// UPDATE sets a primary-key column.
    #[error("primary key can not be updated")]
    PkCanNotBeUpdated,
    /// A join other than INNER or LEFT (RIGHT, FULL, CROSS, ...).
    #[error("unsupported join type: {0}")]
    UnsupportedJoinType(String),
    /// RENAME COLUMN or RENAME TO gives the name the column or table already has.
    #[error("same old and new names ({0})")]
    SameOldAndNewNames(String),
    /// ADD COLUMN of a NOT NULL column (existing rows would read NULL).
    #[error("new column must be nullable ({0})")]
    NewColumnMustBeNullable(String),
    /// DROP COLUMN of a column that an index (the primary key included) uses.
    #[error("cannot drop column {0} because one or more indexes require it")]
    CannotDropIndexedColumn(String),
    /// DROP COLUMN of a column that a CHECK constraint names.
    #[error("cannot drop column {column} because {constraint} constraint requires it")]
    CannotDropCheckedColumn {
        /// The column to drop.
        column: String,
        /// The name of the CHECK constraint that names it.
        constraint: String,
    },
    /// A HAVING clause without GROUP BY.
    #[error("having clause requires group clause")]
    HavingRequiresGroupBy,
    /// A CHECK expression that does not compile or is not boolean; the text is `: ` and the
    /// reason, or empty.
    #[error("invalid check constraint{0}")]
    InvalidCheckConstraint(String),
    /// A written row does not satisfy a CHECK (its expression), or the check cannot be evaluated.
    #[error("check constraint violation: {0}")]
    CheckConstraintViolation(String),
    /// A CHECK constraint name that is empty or longer than 256 bytes.
    #[error("constraint name len: max length exceeded")]
    ConstraintNameTooLong,
    /// CREATE TABLE without a PRIMARY KEY.
    #[error("no primary key specified")]
    NoPrimaryKey,
    /// A table given a primary key twice, or ADD COLUMN of a PRIMARY KEY column (the table's
    /// name).
    #[error("\"{0}\": multiple primary keys are not allowed")]
    MultiplePrimaryKeys(String),
    /// CREATE TABLE or an INSERT's column list names a column twice.
    #[error("duplicated column ({0})")]
    DuplicatedColumn(String),
    /// A column named (or renamed) as a reserved pseudo-column: `_rev`, `_tx_metadata`,
    /// `_diff_action`.
    #[error("reserved word({0})")]
    ReservedWord(String),
    /// A size given to a type other than VARCHAR, BLOB or JSON.
    #[error("only VARCHAR and BLOB types support max length")]
    LimitedMaxLen,
    /// AUTO_INCREMENT on anything but a single-column INTEGER primary key, or on an added column.
    #[error("only INTEGER single-column primary keys can be set as auto incremental")]
    LimitedAutoIncrement,
    /// A primary key or index of more than [`MAX_INDEX_COLUMNS`](crate::store::MAX_INDEX_COLUMNS)
    /// columns.
    #[error("number of columns in multi-column index exceeded")]
    MaxNumberOfColumnsInIndexExceeded,
    /// A VARCHAR/BLOB key column without a size or beyond the key limit, an index's columns
    /// together beyond it, or a key value longer than its column's size.
    #[error("indexed key of unsupported type or exceeded length: {0}")]
    LimitedKeyType(String),
    /// A JSON column in a primary key or index.
    #[error("cannot index column of type JSON")]
    CannotIndexJson,
    /// CREATE UNIQUE INDEX on a table that has rows.
    #[error("unique index creation is only supported on empty tables")]
    LimitedIndexCreation,
    /// A row written with a NULL primary-key column.
    #[error("primary key can not be null")]
    PkCanNotBeNull,
    /// A written row (INSERT, UPSERT or UPDATE) leaves a NOT NULL column NULL.
    #[error("not nullable column can not be null ({0})")]
    NotNullableColumnCannotBeNull(String),
    /// A VARCHAR or BLOB value longer than its column's size.
    #[error("max length exceeded: table: {table}, column: {column}")]
    MaxLengthExceeded {
        /// The table written to.
        table: String,
        /// The column whose size the value exceeds.
        column: String,
    },
    /// A value that cannot be converted or cast to the type it must have, or is out of range; also
    /// an explicit AUTO_INCREMENT key, at or below the highest one, that names no row.
    #[error("invalid value provided: {0}")]
    InvalidValue(String),
    /// A string given for a TIMESTAMP column (classic converts none implicitly).
    #[error("value is not a timestamp: invalid value provided: table: {table}, column: {column}")]
    NotATimestamp {
        /// The table written to.
        table: String,
        /// The TIMESTAMP column given the string.
        column: String,
    },
    /// A division by zero in an expression.
    #[error("division by zero")]
    DivisionByZero,
    /// A comparison between values of incompatible types (`qty = 'ten'`).
    #[error("values are not comparable")]
    ValuesNotComparable,
    /// The sides of a UNION have different numbers of columns.
    #[error("column mismatch in union statement")]
    ColumnMismatchInUnion,
    /// A VALUES row whose length is not the number of columns, or a primary key of the wrong arity.
    #[error("invalid number of values provided")]
    InvalidNumberOfValues,
    /// A statement or request refused as given: bad period bounds or function arguments, a
    /// request of the wrong kind, a row written twice by one statement, DROP INDEX of the primary key.
    #[error("illegal arguments: {0}")]
    IllegalArguments(String),

    // --- a concurrent transaction won: retry ---
    /// A concurrent transaction committed a change to what this one read or wrote: retry.
    #[error("tx read conflict")]
    ReadConflict,

    // --- what is stored does not decode: stop and audit ---
    /// Stored catalog entries, keys or rows do not decode.
    #[error("data is corrupted: {0}")]
    Corrupted(String),

    /// An error of the ledger underneath, passed through.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// An error of planning or running a query, as its message: immudb's words where immudb has
    /// some, else DataFusion's.
    #[error("{0}")]
    Query(String),
}

/// A result whose error is, by default, a [`SqlError`].
pub type Result<T, E = SqlError> = std::result::Result<T, E>;
