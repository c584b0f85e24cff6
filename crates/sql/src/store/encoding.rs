//! immudb's byte layout of SQL data (spec immudb-sql.md §3, wire spec §5.4).
//!
//! Every key starts with the SQL prefix `0x02`; ids are `u32` big-endian; the database id inside
//! keys is always 1 and the primary index id is 0.
//!
//! | key | value |
//! |---|---|
//! | `CTL.TABLE.{1}{table}` | table name |
//! | `CTL.COLUMN.{1}{table}{col}{TYPE}` | `{flags:1}{maxLen:4}{name}`; flags bit0 NOT NULL, bit1 AUTO_INCREMENT |
//! | `CTL.INDEX.{1}{table}{index}` | `{unique:1}` then `{col:4}{order:1 = 0}` per column |
//! | `CTL.CHECK.{1}{table}{check}` | `{nameLen-1:1}{name}{expression SQL text}` |
//! | `R.{1}{table}{0}{encPK…}` | `{n:4}` then n × `{col:4}{len:4}{bytes}` for the non-NULL columns |
//!
//! Secondary indexes live in the ledger's derived `idx` column family (versioned, not hashed):
//!
//! | key | value |
//! |---|---|
//! | `M.{1}{table}{index}{encCol…}{encPK…}` | none (a version is live or a delete) |
//!
//! `encPK` is the order-preserving key encoding of each primary-key column: `0x20` for NULL, or
//! `0x80` then INTEGER: `u64` with the sign bit flipped; TIMESTAMP: the same over nanoseconds;
//! FLOAT: IEEE bits, sign bit flipped when positive, all bits inverted when negative; BOOLEAN: one
//! byte; UUID: 16 bytes; VARCHAR/BLOB: the bytes zero-padded to the column's size, then `u32` len.

use crate::error::{Result, SqlError};
use crate::types::{SqlType, Value};

/// The first byte of every SQL key: immudb's SQL engine prefix (the key/value model's keys
/// start with `0x00` and `0x01`).
pub const SQL_PREFIX: u8 = 0x02;
/// The database id inside every catalog, row and index key: always 1.
pub const DATABASE_ID: u32 = 1;
/// The index id of a table's primary key, which row keys carry after the table id.
pub const PRIMARY_INDEX_ID: u32 = 0;
/// The key encoding of NULL: this tag alone. It sorts before [`VALUE_KEY_TAG`], so NULLs come
/// first.
pub const NULL_KEY_TAG: u8 = 0x20;
/// The tag before a non-NULL value's key encoding.
pub const VALUE_KEY_TAG: u8 = 0x80;
/// Bit 0 of a column entry's flags: the column is NOT NULL (immudb's `nullableFlag`).
pub const FLAG_NOT_NULL: u8 = 0x01;
/// Bit 1 of a column entry's flags: the column is AUTO_INCREMENT.
pub const FLAG_AUTO_INCREMENT: u8 = 0x02;

/// `0x02 "CTL."`: the prefix of every catalog entry's key.
pub const CATALOG_PREFIX: &[u8] = b"\x02CTL.";
const TABLE_TAG: &[u8] = b"\x02CTL.TABLE.";
const COLUMN_TAG: &[u8] = b"\x02CTL.COLUMN.";
const INDEX_TAG: &[u8] = b"\x02CTL.INDEX.";
const CHECK_TAG: &[u8] = b"\x02CTL.CHECK.";
/// Longest CHECK constraint name: its length minus one is stored in one byte.
pub const MAX_CONSTRAINT_NAME_LEN: usize = 256;
/// `0x02 "R."`: the prefix of every row key.
pub const ROW_TAG: &[u8] = b"\x02R.";
const INDEX_ENTRY_TAG: &[u8] = b"\x02M.";

fn ids(tag: &[u8], ids: &[u32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(tag.len() + 4 * ids.len() + 12);
    k.extend_from_slice(tag);
    for id in ids {
        k.extend_from_slice(&id.to_be_bytes());
    }
    k
}

/// `CTL.TABLE.{1}{table}`: the key of a table's catalog entry, whose value is the table's name.
pub fn table_key(table: u32) -> Vec<u8> {
    ids(TABLE_TAG, &[DATABASE_ID, table])
}

/// `CTL.COLUMN.{1}{table}{column}{TYPE}`: the key of a column's catalog entry; the type's name
/// ends it.
pub fn column_key(table: u32, column: u32, ty: SqlType) -> Vec<u8> {
    let mut k = ids(COLUMN_TAG, &[DATABASE_ID, table, column]);
    k.extend_from_slice(ty.name().as_bytes());
    k
}

/// `{flags:1}{maxLen:4}{name}`: the value of a column's catalog entry (flags
/// [`FLAG_NOT_NULL`] and [`FLAG_AUTO_INCREMENT`]).
pub fn column_value(flags: u8, max_len: u32, name: &str) -> Vec<u8> {
    let mut v = vec![flags];
    v.extend_from_slice(&max_len.to_be_bytes());
    v.extend_from_slice(name.as_bytes());
    v
}

/// `CTL.INDEX.{1}{table}{index}`: the key of an index's catalog entry.
pub fn index_key(table: u32, index: u32) -> Vec<u8> {
    ids(INDEX_TAG, &[DATABASE_ID, table, index])
}

/// `{unique:1}` then `{column id:4}{0x00}` per column (0: ascending order): the value of an
/// index's catalog entry.
pub fn index_value(unique: bool, columns: &[u32]) -> Vec<u8> {
    let mut v = vec![unique as u8];
    for c in columns {
        v.extend_from_slice(&c.to_be_bytes());
        v.push(0);
    }
    v
}

/// `CTL.CHECK.{1}{table}{check}`: the key of a CHECK constraint's catalog entry.
pub fn check_key(table: u32, check: u32) -> Vec<u8> {
    ids(CHECK_TAG, &[DATABASE_ID, table, check])
}

/// `{nameLen-1:1}{name}{expr}`; the name is 1..=256 bytes (checked by the caller).
pub fn check_value(name: &str, expr: &str) -> Vec<u8> {
    let mut v = vec![(name.len() - 1) as u8];
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(expr.as_bytes());
    v
}

/// `R.{1}{table}{0}`: the prefix of every row key of a table.
pub fn row_prefix(table: u32) -> Vec<u8> {
    row_prefix_array(table).to_vec()
}

/// Length of [`row_prefix`].
pub const ROW_PREFIX_LEN: usize = ROW_TAG.len() + 12;

/// [`row_prefix`] without an allocation.
pub fn row_prefix_array(table: u32) -> [u8; ROW_PREFIX_LEN] {
    let mut p = [0u8; ROW_PREFIX_LEN];
    let (tag, ids) = p.split_at_mut(ROW_TAG.len());
    tag.copy_from_slice(ROW_TAG);
    for (slot, id) in ids
        .chunks_exact_mut(4)
        .zip([DATABASE_ID, table, PRIMARY_INDEX_ID])
    {
        slot.copy_from_slice(&id.to_be_bytes());
    }
    p
}

/// `M.{1}{table}{index}`: the prefix of every entry of a secondary index.
pub fn index_entry_prefix(table: u32, index: u32) -> Vec<u8> {
    ids(INDEX_ENTRY_TAG, &[DATABASE_ID, table, index])
}

/// The width of the key-encoded value at the start of `b` (a column of type `ty`, size `max_len`).
pub fn key_value_width(b: &[u8], ty: SqlType, max_len: u32) -> Result<usize> {
    let width = match b.first() {
        Some(&NULL_KEY_TAG) => 1,
        Some(&VALUE_KEY_TAG) => {
            1 + match ty {
                SqlType::Integer | SqlType::Timestamp | SqlType::Float => 8,
                SqlType::Boolean => 1,
                SqlType::Uuid => 16,
                SqlType::Varchar | SqlType::Blob => max_len as usize + 4,
                SqlType::Json => return Err(SqlError::CannotIndexJson),
            }
        }
        _ => return Err(SqlError::Corrupted("malformed index key".into())),
    };
    if b.len() < width {
        return Err(SqlError::Corrupted("truncated index key".into()));
    }
    Ok(width)
}

/// A catalog entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogEntry {
    /// A `CTL.TABLE.` entry.
    Table {
        /// The table's id.
        table: u32,
        /// The table's name.
        name: String,
    },
    /// A `CTL.COLUMN.` entry.
    Column {
        /// The id of the column's table.
        table: u32,
        /// The column's id in its table.
        column: u32,
        /// The column's type, from the key's type name.
        ty: SqlType,
        /// [`FLAG_NOT_NULL`] and [`FLAG_AUTO_INCREMENT`] bits.
        flags: u8,
        /// The stored `maxLen`: the declared size of VARCHAR/BLOB/JSON (0: none), else the width.
        max_len: u32,
        /// The column's name.
        name: String,
    },
    /// A `CTL.INDEX.` entry.
    Index {
        /// The id of the index's table.
        table: u32,
        /// The index's id in its table (0: the primary key).
        index: u32,
        /// Whether the index is UNIQUE.
        unique: bool,
        /// The indexed column ids, in index order.
        columns: Vec<u32>,
    },
    /// A `CTL.CHECK.` entry.
    Check {
        /// The id of the check's table.
        table: u32,
        /// The check's id in its table.
        check: u32,
        /// The constraint's name.
        name: String,
        /// The check's expression, as SQL text.
        expr: String,
    },
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().unwrap()))
        .ok_or_else(|| SqlError::Corrupted("truncated catalog entry".into()))
}

fn utf8(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec())
        .map_err(|_| SqlError::Corrupted("catalog name is not UTF-8".into()))
}

/// Decodes a stored catalog key and value; `None` for catalog kinds this version ignores.
pub fn decode_catalog(key: &[u8], value: &[u8]) -> Result<Option<CatalogEntry>> {
    let check_db = |rest: &[u8]| -> Result<()> {
        if u32_at(rest, 0)? != DATABASE_ID {
            return Err(SqlError::Corrupted(
                "catalog entry of another database id".into(),
            ));
        }
        Ok(())
    };
    if let Some(rest) = key.strip_prefix(TABLE_TAG) {
        check_db(rest)?;
        return Ok(Some(CatalogEntry::Table {
            table: u32_at(rest, 4)?,
            name: utf8(value)?,
        }));
    }
    if let Some(rest) = key.strip_prefix(COLUMN_TAG) {
        check_db(rest)?;
        let ty = SqlType::from_name(&utf8(rest.get(12..).unwrap_or_default())?)?;
        if value.len() < 5 {
            return Err(SqlError::Corrupted("truncated column entry".into()));
        }
        return Ok(Some(CatalogEntry::Column {
            table: u32_at(rest, 4)?,
            column: u32_at(rest, 8)?,
            ty,
            flags: value[0],
            max_len: u32_at(value, 1)?,
            name: utf8(&value[5..])?,
        }));
    }
    if let Some(rest) = key.strip_prefix(INDEX_TAG) {
        check_db(rest)?;
        let (unique, cols) = value
            .split_first()
            .ok_or_else(|| SqlError::Corrupted("empty index entry".into()))?;
        if cols.len() % 5 != 0 {
            return Err(SqlError::Corrupted("malformed index entry".into()));
        }
        let columns = cols
            .chunks(5)
            .map(|c| u32_at(c, 0))
            .collect::<Result<_>>()?;
        return Ok(Some(CatalogEntry::Index {
            table: u32_at(rest, 4)?,
            index: u32_at(rest, 8)?,
            unique: *unique != 0,
            columns,
        }));
    }
    if let Some(rest) = key.strip_prefix(CHECK_TAG) {
        check_db(rest)?;
        let (len, rest_value) = value
            .split_first()
            .ok_or_else(|| SqlError::Corrupted("empty check constraint entry".into()))?;
        let name_len = *len as usize + 1;
        if rest_value.len() < name_len {
            return Err(SqlError::Corrupted(
                "truncated check constraint entry".into(),
            ));
        }
        return Ok(Some(CatalogEntry::Check {
            table: u32_at(rest, 4)?,
            check: u32_at(rest, 8)?,
            name: utf8(&rest_value[..name_len])?,
            expr: utf8(&rest_value[name_len..])?,
        }));
    }
    Ok(None)
}

/// The value bytes of a non-NULL value, as stored in a row (`EncodeRawValue`).
pub fn encode_raw_value(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_raw_value_into(&mut out, v);
    out
}

/// How many bytes [`encode_raw_value`] writes for `v`.
fn raw_len(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Boolean(_) => 1,
        Value::Integer(_) | Value::Float(_) | Value::Timestamp(_) => 8,
        Value::Varchar(s) | Value::Json(s) => s.len(),
        Value::Blob(b) => b.len(),
        Value::Uuid(u) => u.len(),
    }
}

/// Appends [`encode_raw_value`]'s bytes to `out`.
fn encode_raw_value_into(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => {}
        Value::Integer(i) => out.extend_from_slice(&i.to_be_bytes()),
        Value::Boolean(b) => out.push(*b as u8),
        Value::Varchar(s) | Value::Json(s) => out.extend_from_slice(s.as_bytes()),
        Value::Blob(b) => out.extend_from_slice(b),
        Value::Float(f) => out.extend_from_slice(&f.to_bits().to_be_bytes()),
        Value::Timestamp(us) => out.extend_from_slice(&us.to_be_bytes()),
        Value::Uuid(u) => out.extend_from_slice(u),
    }
}

/// Reads a stored value of type `ty`.
#[inline]
pub fn decode_raw_value(ty: SqlType, b: &[u8]) -> Result<Value> {
    Ok(match ty {
        SqlType::Integer => Value::Integer(decode_i64(ty, b)?),
        SqlType::Float => Value::Float(f64::from_bits(decode_i64(ty, b)? as u64)),
        SqlType::Timestamp => Value::Timestamp(decode_i64(ty, b)?),
        SqlType::Boolean => match b {
            [x] => Value::Boolean(*x != 0),
            _ => return Err(wrong_length(ty, b)),
        },
        SqlType::Uuid => Value::Uuid(b.try_into().map_err(|_| wrong_length(ty, b))?),
        SqlType::Varchar => Value::Varchar(
            String::from_utf8(b.to_vec())
                .map_err(|_| SqlError::Corrupted("VARCHAR is not UTF-8".into()))?,
        ),
        SqlType::Json => Value::Json(
            String::from_utf8(b.to_vec())
                .map_err(|_| SqlError::Corrupted("JSON is not UTF-8".into()))?,
        ),
        SqlType::Blob => Value::Blob(b.to_vec()),
    })
}

/// The 8 stored bytes of an INTEGER, FLOAT (its bits) or TIMESTAMP of type `ty`, read as one
/// big-endian word (a scan decodes these straight into its rows).
#[inline]
pub fn decode_i64(ty: SqlType, b: &[u8]) -> Result<i64> {
    match <[u8; 8]>::try_from(b) {
        Ok(a) => Ok(i64::from_be_bytes(a)),
        Err(_) => Err(wrong_length(ty, b)),
    }
}

#[cold]
fn wrong_length(ty: SqlType, b: &[u8]) -> SqlError {
    SqlError::Corrupted(format!("{} value of {} bytes", ty.name(), b.len()))
}

/// The order-preserving key encoding of one value of a column of type `ty` and size `max_len`
/// (`EncodeRawValueAsKey`).
pub fn encode_key_value(v: &Value, ty: SqlType, max_len: u32) -> Result<Vec<u8>> {
    let mut k = Vec::with_capacity(1 + 8);
    encode_key_value_into(&mut k, v, ty, max_len)?;
    Ok(k)
}

/// [`encode_key_value`], appended to `k`.
pub fn encode_key_value_into(k: &mut Vec<u8>, v: &Value, ty: SqlType, max_len: u32) -> Result<()> {
    let flip = |u: u64| (u ^ (1u64 << 63)).to_be_bytes();
    if v.is_null() {
        k.push(NULL_KEY_TAG);
        return Ok(());
    }
    let start = k.len();
    k.push(VALUE_KEY_TAG);
    match (ty, v) {
        (SqlType::Integer, Value::Integer(i)) => k.extend_from_slice(&flip(*i as u64)),
        (SqlType::Timestamp, Value::Timestamp(us)) => {
            let ns = us
                .checked_mul(1000)
                .ok_or_else(|| SqlError::InvalidValue("timestamp out of range".into()))?;
            k.extend_from_slice(&flip(ns as u64))
        }
        (SqlType::Float, Value::Float(f)) => {
            let bits = f.to_bits();
            let ordered = if bits >> 63 == 0 {
                bits ^ (1u64 << 63)
            } else {
                !bits
            };
            k.extend_from_slice(&ordered.to_be_bytes())
        }
        (SqlType::Boolean, Value::Boolean(b)) => k.push(*b as u8),
        (SqlType::Uuid, Value::Uuid(u)) => k.extend_from_slice(u),
        (SqlType::Varchar, Value::Varchar(_)) | (SqlType::Blob, Value::Blob(_)) => {
            let raw = encode_raw_value(v);
            if max_len == 0 || raw.len() > max_len as usize {
                return Err(SqlError::LimitedKeyType(format!(
                    "a value of {} bytes does not fit a key column of size {max_len}",
                    raw.len()
                )));
            }
            k.extend_from_slice(&raw);
            k.resize(start + 1 + max_len as usize, 0);
            k.extend_from_slice(&(raw.len() as u32).to_be_bytes());
        }
        (SqlType::Json, _) => return Err(SqlError::CannotIndexJson),
        _ => {
            return Err(SqlError::InvalidValue(format!(
                "a {:?} value in a {} key column",
                v.sql_type(),
                ty.name()
            )))
        }
    }
    Ok(())
}

/// A row value: the non-NULL columns as `(column id, value)`, in column order.
pub fn encode_row<'a>(columns: impl IntoIterator<Item = (u32, &'a Value)> + Clone) -> Vec<u8> {
    let size: usize = columns
        .clone()
        .into_iter()
        .map(|(_, v)| 8 + raw_len(v))
        .sum();
    let mut b = Vec::with_capacity(4 + size);
    b.extend_from_slice(&0u32.to_be_bytes());
    let mut present = 0u32;
    for (id, v) in columns {
        if v.is_null() {
            continue;
        }
        present += 1;
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&(raw_len(v) as u32).to_be_bytes());
        encode_raw_value_into(&mut b, v);
    }
    b[..4].copy_from_slice(&present.to_be_bytes());
    b
}

/// Splits a row value into `(column id, value bytes)`.
pub fn decode_row(b: &[u8]) -> Result<Vec<(u32, &[u8])>> {
    let mut out = Vec::new();
    for_each_cell(b, |id, v| {
        out.push((id, v));
        Ok(())
    })?;
    Ok(out)
}

/// Calls `f(column id, value bytes)` for each cell of a row value, in stored order, without
/// allocating; fails on a malformed value (after the cells before the fault).
pub fn for_each_cell<'a>(
    b: &'a [u8],
    mut f: impl FnMut(u32, &'a [u8]) -> Result<()>,
) -> Result<()> {
    let bad = || SqlError::Corrupted("malformed row value".into());
    let n = u32_at(b, 0).map_err(|_| bad())? as usize;
    let mut at = 4;
    for _ in 0..n {
        let id = u32_at(b, at).map_err(|_| bad())?;
        let len = u32_at(b, at + 4).map_err(|_| bad())? as usize;
        let v = b.get(at + 8..at + 8 + len).ok_or_else(bad)?;
        f(id, v)?;
        at += 8 + len;
    }
    if at != b.len() {
        return Err(bad());
    }
    Ok(())
}
