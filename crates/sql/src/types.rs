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

/// Rows of values, every row as wide as the others, held in one list row after row: what a
/// query answers, a batch at a time. One allocation holds a whole batch (a list of rows of
/// their own made one for each row: ~17% of a 10k-row key-range read's CPU).
#[derive(Clone, Default, PartialEq)]
pub struct Rows {
    width: usize,
    len: usize,
    /// `len * width` values.
    values: Vec<Value>,
}

impl Rows {
    /// No rows, of `width` values each.
    pub fn new(width: usize) -> Rows {
        Rows::with_capacity(width, 0)
    }

    /// No rows, of `width` values each, with room for `rows` of them.
    pub fn with_capacity(width: usize, rows: usize) -> Rows {
        Rows {
            width,
            len: 0,
            values: Vec::with_capacity(width.saturating_mul(rows)),
        }
    }

    /// Rows of `width` values each, from lists of values.
    ///
    /// # Panics
    /// When a list is not `width` values long.
    pub fn from_lists(width: usize, lists: impl IntoIterator<Item = Vec<Value>>) -> Rows {
        let mut rows = Rows::new(width);
        for list in lists {
            rows.push(list);
        }
        rows
    }

    /// The number of values in a row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a row.
    ///
    /// # Panics
    /// When it does not hold [`Rows::width`] values.
    pub fn push(&mut self, row: impl IntoIterator<Item = Value>) {
        let before = self.values.len();
        self.values.extend(row);
        assert_eq!(
            self.values.len() - before,
            self.width,
            "a row of the wrong width"
        );
        self.len += 1;
    }

    /// `rows` rows of `width` NULLs each, to be filled in place.
    pub(crate) fn nulls(width: usize, rows: usize) -> Rows {
        let mut values = Vec::new();
        values.resize_with(width.saturating_mul(rows), || Value::Null);
        Rows {
            width,
            len: rows,
            values,
        }
    }

    /// The values of column `j`, row by row, to be set in place.
    pub(crate) fn column_mut(&mut self, j: usize) -> impl Iterator<Item = &mut Value> {
        let width = self.width.max(1);
        self.values.iter_mut().skip(j).step_by(width)
    }

    /// Appends a row of NULLs and returns it, to be filled in place.
    pub(crate) fn push_nulls(&mut self) -> &mut [Value] {
        let at = self.values.len();
        self.values
            .extend(std::iter::repeat_with(|| Value::Null).take(self.width));
        self.len += 1;
        &mut self.values[at..]
    }

    /// Row `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<&[Value]> {
        (i < self.len).then(|| &self.values[i * self.width..(i + 1) * self.width])
    }

    /// The rows in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[Value]> + ExactSizeIterator + '_ {
        (0..self.len).map(|i| &self.values[i * self.width..(i + 1) * self.width])
    }

    /// The rows as lists of values of their own.
    pub fn to_lists(&self) -> Vec<Vec<Value>> {
        self.iter().map(<[Value]>::to_vec).collect()
    }

    /// The rows as lists of values of their own, the values moved.
    pub fn into_lists(self) -> Vec<Vec<Value>> {
        let mut values = self.values.into_iter();
        (0..self.len)
            .map(|_| values.by_ref().take(self.width).collect())
            .collect()
    }

    /// Moves every row of `other` (as wide as these) after these.
    pub fn append(&mut self, other: &mut Rows) {
        assert_eq!(self.width, other.width, "rows of different widths");
        self.values.append(&mut other.values);
        self.len += std::mem::take(&mut other.len);
    }

    /// Keeps the first `rows` rows.
    pub fn truncate(&mut self, rows: usize) {
        if rows < self.len {
            self.values.truncate(rows * self.width);
            self.len = rows;
        }
    }

    /// Drops the first `rows` rows (all of them when there are fewer).
    pub fn skip(&mut self, rows: usize) {
        let rows = rows.min(self.len);
        self.values.drain(..rows * self.width);
        self.len -= rows;
    }

    /// Keeps the rows `keep` says yes to, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&[Value]) -> bool) {
        let width = self.width;
        let mut kept = 0;
        for i in 0..self.len {
            if keep(&self.values[i * width..(i + 1) * width]) {
                // Moved down over the rows dropped so far.
                for j in 0..width {
                    self.values.swap(kept * width + j, i * width + j);
                }
                kept += 1;
            }
        }
        self.values.truncate(kept * width);
        self.len = kept;
    }
}

impl std::ops::Index<usize> for Rows {
    type Output = [Value];

    fn index(&self, i: usize) -> &[Value] {
        match self.get(i) {
            Some(row) => row,
            None => panic!("row {i} of {}", self.len),
        }
    }
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq<Vec<Vec<Value>>> for Rows {
    fn eq(&self, other: &Vec<Vec<Value>>) -> bool {
        self.len == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_slice())
    }
}

impl IntoIterator for Rows {
    type Item = Vec<Value>;
    type IntoIter = std::vec::IntoIter<Vec<Value>>;

    /// Each row as a list of values of its own.
    fn into_iter(self) -> Self::IntoIter {
        self.into_lists().into_iter()
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a [Value];
    type IntoIter = Box<dyn Iterator<Item = &'a [Value]> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::{Rows, Value};

    #[test]
    fn rows_keep_their_order_through_every_edit() {
        let int = |i: i64| Value::Integer(i);
        let mut rows = Rows::from_lists(2, (0..6).map(|i| vec![int(i), int(10 * i)]));
        assert_eq!((rows.len(), rows.width()), (6, 2));
        assert_eq!(rows[2], [int(2), int(20)]);
        rows.skip(1);
        rows.truncate(4);
        rows.retain(|r| r[0] != int(3));
        let mut more = Rows::from_lists(2, [vec![int(9), Value::Null]]);
        rows.append(&mut more);
        assert!(more.is_empty());
        assert_eq!(
            rows,
            vec![
                vec![int(1), int(10)],
                vec![int(2), int(20)],
                vec![int(4), int(40)],
                vec![int(9), Value::Null],
            ]
        );
        assert_eq!(rows.get(4), None);
        // Rows of no values still count.
        let mut empty = Rows::new(0);
        empty.push([]);
        empty.push([]);
        assert_eq!((empty.len(), empty.iter().count()), (2, 2));
        empty.skip(5);
        assert!(empty.is_empty());
    }
}
