//! Row writes: INSERT, UPSERT, DELETE rows of a table inside a transaction, with their
//! conversions to the columns' types, AUTO_INCREMENT, uniqueness and CHECK constraints.

use super::catalog::{Column, Table};
use super::encoding::{self};
use super::handle::SqlStore;
use super::json::json_text;
use super::write_set::{PendingWrite, WriteSet};
use crate::error::{Result, SqlError};
use crate::types::{SqlType, Value};
use stele_ledger::proof::{KvMetadata, TxHeader};
use stele_ledger::ScanQuery;

/// What to do with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    /// Fails with `key already exists` when the primary key is taken.
    Insert,
    /// `INSERT ... ON CONFLICT DO NOTHING`: skips a taken primary key.
    InsertOrIgnore,
    /// Replaces the whole row; unlisted columns become NULL.
    Upsert,
    /// Deletes the row with these primary-key values (other columns are ignored).
    Delete,
}

/// The result of a write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteOutcome {
    /// The committed tx; `None` when nothing had to be written.
    pub tx: Option<TxHeader>,
    /// Rows written: inserted, replaced, updated or deleted (rows skipped by `ON CONFLICT DO
    /// NOTHING`, or deletes of absent rows, do not count).
    pub updated_rows: usize,
    /// The primary-key values of the first inserted row; `None` when no row was inserted.
    pub first_inserted_pk: Option<Vec<Value>>,
    /// The primary-key values of the last inserted row; `None` when no row was inserted.
    pub last_inserted_pk: Option<Vec<Value>>,
    /// The table rows were inserted into, when any were (what the keys above belong to).
    pub inserted_into: Option<String>,
}

impl SqlStore {
    /// The row key of `pk` (values in primary-key order).
    pub fn row_key(&self, t: &Table, pk: &[Value]) -> Result<Vec<u8>> {
        let cols = t.pk_columns();
        if pk.len() != cols.len() {
            return Err(SqlError::InvalidNumberOfValues);
        }
        let mut key = encoding::row_prefix(t.id);
        for (c, v) in cols.iter().zip(pk) {
            push_pk_value(&mut key, c, &convert(v, c, &t.name)?)?;
        }
        Ok(key)
    }

    /// The row key of a full row whose values are already converted to their columns' types.
    pub(crate) fn row_key_of(
        &self,
        t: &Table,
        prefix: &[u8],
        pk_positions: &[usize],
        values: &[Value],
    ) -> Result<Vec<u8>> {
        let mut key = Vec::with_capacity(prefix.len() + 9 * pk_positions.len());
        key.extend_from_slice(prefix);
        for &p in pk_positions {
            push_pk_value(&mut key, &t.columns[p], &values[p])?;
        }
        Ok(key)
    }

    /// Writes rows of one table in one tx. Each row lists `(column name, value)`; columns not
    /// listed are NULL (or allocated, for an AUTO_INCREMENT primary key on insert).
    pub fn write_rows(
        &self,
        table: &str,
        rows: Vec<(WriteKind, Vec<(String, Value)>)>,
    ) -> Result<WriteOutcome> {
        let mut ws = self.begin();
        let mut outcome = WriteOutcome::default();
        for (kind, row) in rows {
            let cat = self.catalog_in(&ws)?;
            let (columns, values): (Vec<String>, Vec<Value>) = row.into_iter().unzip();
            let o = self.write_rows_in(&mut ws, cat.table(table)?, &columns, kind, vec![values])?;
            outcome.updated_rows += o.updated_rows;
            if outcome.first_inserted_pk.is_none() {
                outcome.first_inserted_pk = o.first_inserted_pk;
            }
            outcome.last_inserted_pk = o.last_inserted_pk.or(outcome.last_inserted_pk);
            outcome.inserted_into = o.inserted_into.or(outcome.inserted_into);
        }
        outcome.tx = self.commit(ws)?;
        Ok(outcome)
    }

    /// Writes rows of table `t` (as the transaction's catalog has it) inside a transaction, all
    /// the same way (`kind`). Each row gives the values of `columns`, in that order; columns
    /// not listed are NULL (or allocated, for an AUTO_INCREMENT primary key on insert).
    pub fn write_rows_in(
        &self,
        ws: &mut WriteSet,
        t: &Table,
        columns: &[String],
        kind: WriteKind,
        rows: Vec<Vec<Value>>,
    ) -> Result<WriteOutcome> {
        // Watched, the table's rows let the ledger answer existence checks of new keys above
        // the greatest one, and commit-time conflict checks, without reads.
        let prefix = encoding::row_prefix_array(t.id);
        let greatest = match ws.greatest.iter().position(|(id, _)| *id == t.id) {
            Some(i) => i,
            None => {
                // Read after the snapshot was taken: it covers every tx the snapshot holds.
                let max = self.ledger.watch_greatest_key(&prefix)?;
                ws.greatest.push((t.id, max));
                ws.greatest.len() - 1
            }
        };
        // A column listed twice would write one of its values and drop the other.
        if let Some(name) = (1..columns.len()).find_map(|i| {
            columns[..i]
                .contains(&columns[i])
                .then(|| columns[i].clone())
        }) {
            return Err(SqlError::DuplicatedColumn(name));
        }
        // Rows that list every column in the table's order are used as they are.
        let in_table_order = columns.len() == t.columns.len()
            && columns.iter().zip(&t.columns).all(|(n, c)| *n == c.name);
        let positions = match in_table_order {
            true => Vec::new(),
            false => columns
                .iter()
                .map(|name| {
                    t.columns
                        .iter()
                        .position(|c| c.name == *name)
                        .ok_or_else(|| SqlError::ColumnDoesNotExist(name.clone()))
                })
                .collect::<Result<Vec<usize>>>()?,
        };
        let pk_position = |id: &u32| t.columns.iter().position(|c| c.id == *id);
        // A one-column key (the common case) needs no list.
        let (pk_one, pk_many): (Option<usize>, Vec<usize>);
        let pk_positions: &[usize] = match t.primary_key().columns.as_slice() {
            [id] => {
                pk_one = pk_position(id);
                pk_one.as_slice()
            }
            ids => {
                pk_many = ids.iter().filter_map(pk_position).collect();
                &pk_many
            }
        };
        let auto = match pk_positions {
            [p] if t.columns[*p].auto_increment => Some(*p),
            _ => None,
        };
        let mut max_auto = match auto {
            Some(_) => self.max_auto_increment(t, ws)?,
            None => 0,
        };
        let checks = !t.checks.is_empty();
        let mut checked_rows: Vec<Vec<Value>> = Vec::new();
        // Only a statement of several rows can write one twice.
        let mut written = std::collections::HashSet::new();
        let several = rows.len() > 1;
        let secondary = t.indexes.len() > 1;
        let prefix_len = prefix.len();
        let snapshot = ws.snapshot;
        let mut outcome = WriteOutcome::default();
        let mut last_inserted: Option<Vec<Value>> = None;
        // Each row is written as soon as it is checked: a failed statement cancels its whole
        // transaction, so a partly written statement is never committed.
        for given in rows {
            // Full row in column order, converted and checked.
            let mut values = match in_table_order {
                true => given,
                false => {
                    let mut values = vec![Value::Null; t.columns.len()];
                    for (&pos, v) in positions.iter().zip(given) {
                        values[pos] = v;
                    }
                    values
                }
            };
            for (v, c) in values.iter_mut().zip(&t.columns) {
                *v = convert_owned(std::mem::replace(v, Value::Null), c, &t.name)?;
            }
            // An explicit AUTO_INCREMENT key at or below the highest one ever written must name
            // an existing row, for UPSERT too; only INSERT allocates a key it is not given.
            let mut explicit_old_id = false;
            if let Some(pos) = auto {
                let allocates = matches!(kind, WriteKind::Insert | WriteKind::InsertOrIgnore);
                match values[pos] {
                    Value::Null if allocates => {
                        max_auto += 1;
                        values[pos] = Value::Integer(max_auto);
                    }
                    Value::Integer(v) if v > max_auto => max_auto = v,
                    Value::Integer(_) if kind != WriteKind::Delete => explicit_old_id = true,
                    _ => {}
                }
            }
            let key = self.row_key_of(t, &prefix, pk_positions, &values)?;
            if several && !written.insert(key.clone()) {
                return Err(SqlError::IllegalArguments(
                    "a statement writes the same row twice".into(),
                ));
            }
            // Index maintenance needs the key after the pending map took it.
            let index_key = secondary.then(|| key.clone());
            let above = ws.greatest[greatest]
                .1
                .as_ref()
                .is_none_or(|max| key > *max);
            let mut inserted = false;
            let (existing, slot) = ws.guarded_slot(key, |k| match above {
                true => Ok(None),
                false => self.committed_live(k, snapshot),
            })?;
            let old_values = match (&existing, secondary) {
                (Some(v), true) => Some(self.decode(t, v)?),
                _ => None,
            };
            let write = match kind {
                WriteKind::Delete => {
                    let Some(old) = existing else { continue };
                    (
                        PendingWrite {
                            metadata: KvMetadata {
                                deleted: true,
                                ..Default::default()
                            },
                            value: old,
                        },
                        None,
                    )
                }
                WriteKind::Insert | WriteKind::InsertOrIgnore | WriteKind::Upsert => {
                    if existing.is_some() && kind == WriteKind::Insert {
                        return Err(SqlError::KeyAlreadyExists);
                    }
                    if existing.is_some() && kind == WriteKind::InsertOrIgnore {
                        continue;
                    }
                    if explicit_old_id && existing.is_none() {
                        return Err(SqlError::InvalidValue(
                            "specified value must be greater than current one".into(),
                        ));
                    }
                    for (c, v) in t.columns.iter().zip(&values) {
                        if c.not_null && v.is_null() {
                            return Err(SqlError::NotNullableColumnCannotBeNull(c.name.clone()));
                        }
                    }
                    let row = encoding::encode_row(t.columns.iter().map(|c| c.id).zip(&values));
                    inserted = existing.is_none();
                    if inserted && outcome.first_inserted_pk.is_none() {
                        outcome.first_inserted_pk =
                            Some(pk_positions.iter().map(|&p| values[p].clone()).collect());
                    }
                    (
                        PendingWrite {
                            metadata: KvMetadata::default(),
                            value: row,
                        },
                        Some(values),
                    )
                }
            };
            let (write, new_values) = write;
            match index_key {
                Some(key) => {
                    self.maintain_indexes(
                        ws,
                        t,
                        &key[prefix_len..],
                        old_values.as_deref(),
                        new_values.as_deref(),
                    )?;
                    ws.put_write(key, write);
                }
                None => slot.write = Some(write),
            }
            if let Some(values) = new_values {
                match (inserted, checks) {
                    (true, false) => last_inserted = Some(values),
                    (true, true) => {
                        last_inserted = Some(values.clone());
                        checked_rows.push(values);
                    }
                    (false, true) => checked_rows.push(values),
                    (false, false) => {}
                }
            }
            outcome.updated_rows += 1;
        }
        if checks {
            self.checks.verify(t, &checked_rows)?;
        }
        // The last inserted row's values become its key's (one key column: in place).
        outcome.last_inserted_pk = last_inserted.map(|mut values| match *pk_positions {
            [p] => {
                values.swap(0, p);
                values.truncate(1);
                values
            }
            _ => pk_positions.iter().map(|&p| values[p].clone()).collect(),
        });
        if outcome.last_inserted_pk.is_some() {
            outcome.inserted_into = Some(t.name.clone());
        }
        Ok(outcome)
    }

    /// The highest primary key ever written to an AUTO_INCREMENT table, deleted rows included.
    pub(crate) fn max_auto_increment(&self, t: &Table, ws: &WriteSet) -> Result<i64> {
        let prefix = encoding::row_prefix(t.id);
        let last = self.ledger.scan(&ScanQuery {
            prefix: prefix.clone(),
            desc: true,
            limit: 1,
            include_deleted: true,
            snapshot: Some(ws.snapshot),
            ..Default::default()
        })?;
        let stored = last.first().map(|e| e.key.clone());
        let pending = ws.pending_under(&prefix).last().map(|(k, _)| k.to_vec());
        let Some(key) = stored.into_iter().chain(pending).max() else {
            return Ok(0);
        };
        let k = &key[prefix.len()..];
        if k.len() != 9 || k[0] != encoding::VALUE_KEY_TAG {
            return Err(SqlError::Corrupted("malformed AUTO_INCREMENT key".into()));
        }
        Ok((u64::from_be_bytes(k[1..].try_into().unwrap()) ^ (1u64 << 63)) as i64)
    }
}

/// Appends a primary-key value, already of its column's type, to a row key.
pub(crate) fn push_pk_value(key: &mut Vec<u8>, c: &Column, v: &Value) -> Result<()> {
    if v.is_null() {
        return Err(SqlError::PkCanNotBeNull);
    }
    encoding::encode_key_value_into(key, v, c.ty, c.max_len)
}

/// Whether `v` already has the type of a column of type `ty` (NULL fits every column).
pub(crate) fn has_type(ty: SqlType, v: &Value) -> bool {
    matches!(
        (ty, v),
        (_, Value::Null)
            | (SqlType::Integer, Value::Integer(_))
            | (SqlType::Boolean, Value::Boolean(_))
            | (SqlType::Varchar, Value::Varchar(_))
            | (SqlType::Blob, Value::Blob(_))
            | (SqlType::Float, Value::Float(_))
            | (SqlType::Timestamp, Value::Timestamp(_))
            | (SqlType::Uuid, Value::Uuid(_))
            | (SqlType::Json, Value::Json(_))
    )
}

/// [`convert`] of an owned value: one already of the column's type is moved, not copied.
pub fn convert_owned(v: Value, c: &Column, table: &str) -> Result<Value> {
    if !has_type(c.ty, &v) {
        return convert(&v, c, table);
    }
    check_size(&v, c, table)?;
    Ok(v)
}

/// Converts a value for a column (int ↔ float, string → int/float/uuid), checking its size.
pub fn convert(v: &Value, c: &Column, table: &str) -> Result<Value> {
    let cast_err = |what: &str| {
        SqlError::InvalidValue(format!(
            "unsupported cast: can not cast {what} as a {}: table: {table}, column: {}",
            c.ty.name(),
            c.name
        ))
    };
    // What the message names: `string 'abc'` as classic says it, else the type and value.
    let described = |v: &Value| match (v, v.sql_type()) {
        (Value::Varchar(s), _) => format!("string '{s}'"),
        (_, Some(ty)) => format!("{} {}", ty.name(), crate::types::render(v)),
        (_, None) => crate::types::render(v),
    };
    let out = match (c.ty, v) {
        _ if has_type(c.ty, v) => v.clone(),
        (SqlType::Float, Value::Integer(i)) => Value::Float(*i as f64),
        (SqlType::Integer, Value::Float(f)) => Value::Integer(f.trunc() as i64),
        (SqlType::Integer, Value::Varchar(s)) => {
            Value::Integer(s.trim().parse().map_err(|_| cast_err(&described(v)))?)
        }
        (SqlType::Float, Value::Varchar(s)) => {
            Value::Float(s.trim().parse().map_err(|_| cast_err(&described(v)))?)
        }
        (SqlType::Json, Value::Varchar(s)) => {
            // Stored as compact text; anything that is not JSON is refused.
            let parsed: serde_json::Value = serde_json::from_str(s).map_err(|_| {
                SqlError::InvalidValue(format!(
                    "invalid json value: table: {table}, column: {}",
                    c.name
                ))
            })?;
            Value::Json(json_text(&parsed))
        }
        (SqlType::Json, other) if !matches!(other, Value::Blob(_) | Value::Uuid(_)) => {
            let value = match other {
                Value::Integer(i) => serde_json::Value::from(*i),
                Value::Float(f) => serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .ok_or_else(|| cast_err(&described(other)))?,
                Value::Boolean(b) => serde_json::Value::Bool(*b),
                _ => return Err(cast_err(&described(other))),
            };
            Value::Json(json_text(&value))
        }
        (SqlType::Uuid, Value::Varchar(s)) => {
            Value::Uuid(crate::types::parse_uuid(s).ok_or_else(|| cast_err(&described(v)))?)
        }
        (SqlType::Timestamp, Value::Varchar(_)) => {
            return Err(SqlError::NotATimestamp {
                table: table.to_string(),
                column: c.name.clone(),
            })
        }
        (_, other) => return Err(cast_err(&described(other))),
    };
    check_size(&out, c, table)?;
    Ok(out)
}

/// A VARCHAR[n] or BLOB[n] value must fit its column.
pub(crate) fn check_size(v: &Value, c: &Column, table: &str) -> Result<()> {
    let len = match v {
        Value::Varchar(s) => s.len(),
        Value::Blob(b) => b.len(),
        _ => 0,
    };
    if matches!(c.ty, SqlType::Varchar | SqlType::Blob) && c.max_len > 0 && len > c.max_len as usize
    {
        return Err(SqlError::MaxLengthExceeded {
            table: table.to_string(),
            column: c.name.clone(),
        });
    }
    Ok(())
}
