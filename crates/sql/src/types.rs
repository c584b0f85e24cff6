//! SQL types and values of immudb's classic dialect.

use crate::error::SqlError;

/// The eight column types. Their names are part of the catalog keys (`CTL.COLUMN.…TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// Signed 64-bit integer.
    Integer,
    /// True or false.
    Boolean,
    /// UTF-8 text; a declared size bounds its length in bytes.
    Varchar,
    /// Raw bytes; a declared size bounds their length.
    Blob,
    /// IEEE-754 double.
    Float,
    /// Microseconds since the Unix epoch, UTC, no time zone.
    Timestamp,
    /// A 128-bit UUID.
    Uuid,
    /// JSON text; cannot be indexed.
    Json,
}

impl SqlType {
    /// Every type, in declaration order.
    pub const ALL: [SqlType; 8] = [
        SqlType::Integer,
        SqlType::Boolean,
        SqlType::Varchar,
        SqlType::Blob,
        SqlType::Float,
        SqlType::Timestamp,
        SqlType::Uuid,
        SqlType::Json,
    ];

    /// The name immudb writes into catalog keys.
    pub fn name(self) -> &'static str {
        match self {
            SqlType::Integer => "INTEGER",
            SqlType::Boolean => "BOOLEAN",
            SqlType::Varchar => "VARCHAR",
            SqlType::Blob => "BLOB",
            SqlType::Float => "FLOAT",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::Uuid => "UUID",
            SqlType::Json => "JSON",
        }
    }

    /// The type of a catalog key's type name; a name that is none of [`SqlType::ALL`]'s is
    /// `Corrupted`.
    pub fn from_name(name: &str) -> Result<SqlType, SqlError> {
        SqlType::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| SqlError::Corrupted(format!("unknown column type {name:?}")))
    }

    /// The `maxLen` immudb stores for a column: fixed widths, or the declared VARCHAR/BLOB size.
    pub fn stored_max_len(self, declared: u32) -> u32 {
        match self {
            SqlType::Integer | SqlType::Float | SqlType::Timestamp => 8,
            SqlType::Boolean => 1,
            SqlType::Uuid => 16,
            SqlType::Varchar | SqlType::Blob | SqlType::Json => declared,
        }
    }
}

/// One SQL value. `Timestamp` is microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL, of no type.
    Null,
    /// An INTEGER.
    Integer(i64),
    /// A BOOLEAN.
    Boolean(bool),
    /// A VARCHAR.
    Varchar(String),
    /// A BLOB.
    Blob(Vec<u8>),
    /// A FLOAT.
    Float(f64),
    /// A TIMESTAMP: microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A UUID's 16 bytes.
    Uuid([u8; 16]),
    /// A JSON value, as its text.
    Json(String),
}

impl Value {
    /// Whether the value is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The type of a non-NULL value.
    pub fn sql_type(&self) -> Option<SqlType> {
        Some(match self {
            Value::Null => return None,
            Value::Integer(_) => SqlType::Integer,
            Value::Boolean(_) => SqlType::Boolean,
            Value::Varchar(_) => SqlType::Varchar,
            Value::Blob(_) => SqlType::Blob,
            Value::Float(_) => SqlType::Float,
            Value::Timestamp(_) => SqlType::Timestamp,
            Value::Uuid(_) => SqlType::Uuid,
            Value::Json(_) => SqlType::Json,
        })
    }
}

/// The canonical text of a UUID: 8-4-4-4-12 lowercase hex digits.
pub fn uuid_string(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Parses a UUID from its text form (hyphens optional).
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The text of a value in a result row (sqllogictest files, EXPLAIN, error messages).
pub fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Varchar(s) => stele_slt::varchar_text(s),
        Value::Json(s) => s.clone(),
        Value::Float(f) => format!("{f}"),
        Value::Blob(b) => stele_slt::blob_text(b),
        Value::Uuid(u) => uuid_string(u),
        Value::Timestamp(us) => stele_slt::timestamp_text(*us),
    }
}
