//! Arrow for SQL values: each column type's Arrow type, a table's schema, rows into batches,
//! and DataFusion scalars back into values.

use crate::error::{Result, SqlError};
use crate::store::catalog::Table;
use crate::types::{Rows, SqlType, Value};
use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, Float64Array, Int64Array,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use std::sync::Arc;

/// The field metadata key that marks a text column as JSON (Arrow has no JSON type): set on a
/// JSON column's field and on `doc->'key'`'s result, and carried by DataFusion through
/// projections and aliases, so a result column reports the type JSON as classic's does.
pub(crate) const SQL_TYPE_KEY: &str = "stele.sql_type";

/// A nullable field of `name` for a column of type `ty` (JSON marked as such).
pub(crate) fn column_field(name: &str, ty: SqlType) -> Field {
    let field = Field::new(name, arrow_type(ty), true);
    match ty {
        SqlType::Json => field
            .with_metadata([(SQL_TYPE_KEY.to_string(), SqlType::Json.name().to_string())].into()),
        _ => field,
    }
}

/// The SQL type of a result column DataFusion computed.
pub(crate) fn sql_type_of_field(f: &Field) -> Option<SqlType> {
    match f.metadata().get(SQL_TYPE_KEY) {
        Some(t) if t == SqlType::Json.name() => Some(SqlType::Json),
        _ => sql_type_of(f.data_type()),
    }
}

/// The SQL type of an Arrow type.
pub(crate) fn sql_type_of(t: &DataType) -> Option<SqlType> {
    Some(match t {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => SqlType::Integer,
        DataType::Boolean => SqlType::Boolean,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SqlType::Varchar,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => SqlType::Blob,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => SqlType::Float,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => SqlType::Timestamp,
        DataType::FixedSizeBinary(16) => SqlType::Uuid,
        _ => return None,
    })
}

/// The Arrow type of a column type.
pub fn arrow_type(t: SqlType) -> DataType {
    match t {
        SqlType::Integer => DataType::Int64,
        SqlType::Boolean => DataType::Boolean,
        SqlType::Varchar | SqlType::Json => DataType::Utf8,
        SqlType::Blob => DataType::Binary,
        SqlType::Float => DataType::Float64,
        SqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        SqlType::Uuid => DataType::FixedSizeBinary(16),
    }
}

pub(crate) fn table_schema(t: &Table) -> SchemaRef {
    Arc::new(Schema::new(
        t.columns
            .iter()
            .map(|c| column_field(&c.name, c.ty))
            .collect::<Vec<_>>(),
    ))
}

pub(crate) fn rows_to_batch<'a>(
    types: &[SqlType],
    schema: &SchemaRef,
    rows: impl Iterator<Item = &'a Vec<Value>> + Clone,
) -> Result<RecordBatch> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(types.len());
    for (i, ty) in types.iter().enumerate() {
        let vals = rows.clone().map(|r| &r[i]);
        // One typed column: each value is taken when it has the column's variant, NULL otherwise.
        macro_rules! column {
            ($array:ty, $pat:pat => $out:expr) => {
                Arc::new(<$array>::from_iter(vals.map(|v| match v {
                    $pat => Some($out),
                    _ => None,
                })))
            };
        }
        let array: ArrayRef = match ty {
            SqlType::Integer => column!(Int64Array, Value::Integer(x) => *x),
            SqlType::Boolean => column!(BooleanArray, Value::Boolean(x) => *x),
            SqlType::Varchar | SqlType::Json => {
                column!(StringArray, Value::Varchar(x) | Value::Json(x) => x.as_str())
            }
            SqlType::Blob => column!(BinaryArray, Value::Blob(x) => x.as_slice()),
            SqlType::Float => column!(Float64Array, Value::Float(x) => *x),
            SqlType::Timestamp => column!(TimestampMicrosecondArray, Value::Timestamp(x) => *x),
            SqlType::Uuid => Arc::new(
                FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                    vals.map(|v| match v {
                        Value::Uuid(u) => Some(u.as_slice()),
                        _ => None,
                    }),
                    16,
                )
                .map_err(arrow_err)?,
            ),
        };
        arrays.push(array);
    }
    RecordBatch::try_new(schema.clone(), arrays).map_err(arrow_err)
}

/// A DataFusion scalar as a SQL value.
pub(crate) fn from_scalar(s: ScalarValue) -> Result<Value> {
    Ok(match s {
        s if s.is_null() => Value::Null,
        ScalarValue::Int64(Some(v)) => Value::Integer(v),
        ScalarValue::Int32(Some(v)) => Value::Integer(v as i64),
        ScalarValue::Int16(Some(v)) => Value::Integer(v as i64),
        ScalarValue::Int8(Some(v)) => Value::Integer(v as i64),
        ScalarValue::UInt64(Some(v)) => Value::Integer(v as i64),
        ScalarValue::UInt32(Some(v)) => Value::Integer(v as i64),
        ScalarValue::Boolean(Some(v)) => Value::Boolean(v),
        ScalarValue::Float64(Some(v)) => Value::Float(v),
        ScalarValue::Float32(Some(v)) => Value::Float(v as f64),
        ScalarValue::Utf8(Some(v))
        | ScalarValue::LargeUtf8(Some(v))
        | ScalarValue::Utf8View(Some(v)) => Value::Varchar(v),
        ScalarValue::Binary(Some(v))
        | ScalarValue::LargeBinary(Some(v))
        | ScalarValue::BinaryView(Some(v)) => Value::Blob(v),
        ScalarValue::FixedSizeBinary(16, Some(v)) => Value::Uuid(
            v.try_into()
                .map_err(|_| SqlError::Corrupted("a UUID of other than 16 bytes".into()))?,
        ),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Value::Timestamp(v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Value::Timestamp(v.div_euclid(1000)),
        ScalarValue::TimestampMillisecond(Some(v), _) => Value::Timestamp(v * 1000),
        ScalarValue::TimestampSecond(Some(v), _) => Value::Timestamp(v * 1_000_000),
        ScalarValue::Decimal128(Some(v), _, scale) => {
            Value::Float(v as f64 / 10f64.powi(scale as i32))
        }
        other => {
            return Err(SqlError::NotSupported(format!(
                "values of type {}",
                other.data_type()
            )))
        }
    })
}

/// An Arrow error while building a batch of stored values: the values did not fit the schema.
fn arrow_err(e: datafusion::arrow::error::ArrowError) -> SqlError {
    SqlError::Query(e.to_string())
}

/// The rows of a batch as SQL values, column by column through typed arrays (a scalar per
/// cell only for types a column of ours never has); the same values [`from_scalar`] gives.
pub(crate) fn batch_rows(b: &RecordBatch) -> Result<Rows> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
    let mut rows = Rows::nulls(b.num_columns(), b.num_rows());
    for (j, c) in b.columns().iter().enumerate() {
        macro_rules! typed {
            ($array:expr, $value:expr) => {{
                let a = $array;
                for (i, cell) in rows.column_mut(j).enumerate() {
                    if !a.is_null(i) {
                        *cell = $value(a, i);
                    }
                }
            }};
        }
        match c.data_type() {
            DataType::Int64 => typed!(c.as_primitive::<Int64Type>(), |a: &Int64Array, i| {
                Value::Integer(a.value(i))
            }),
            DataType::Float64 => typed!(c.as_primitive::<Float64Type>(), |a: &Float64Array, i| {
                Value::Float(a.value(i))
            }),
            DataType::Boolean => typed!(c.as_boolean(), |a: &BooleanArray, i| {
                Value::Boolean(a.value(i))
            }),
            DataType::Utf8 => typed!(c.as_string::<i32>(), |a: &StringArray, i| {
                Value::Varchar(a.value(i).to_string())
            }),
            DataType::Binary => typed!(c.as_binary::<i32>(), |a: &BinaryArray, i| {
                Value::Blob(a.value(i).to_vec())
            }),
            DataType::Timestamp(TimeUnit::Microsecond, _) => typed!(
                c.as_primitive::<TimestampMicrosecondType>(),
                |a: &TimestampMicrosecondArray, i| Value::Timestamp(a.value(i))
            ),
            _ => {
                for (i, cell) in rows.column_mut(j).enumerate() {
                    *cell = from_scalar(
                        ScalarValue::try_from_array(c, i)
                            .map_err(|e| SqlError::Query(e.to_string()))?,
                    )?;
                }
            }
        }
    }
    Ok(rows)
}
