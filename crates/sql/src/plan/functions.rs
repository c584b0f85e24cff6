//! immudb's JSON functions as DataFusion scalar functions over the JSON text a JSON column holds:
//!
//! - `json_get(doc, key)`: `doc->'key'`, an object's field or, for an array, the element at the
//!   index `key` spells; NULL when absent. The result is JSON text in classic's form
//!   (`store::json`: `"ann"` with its quotes) and its column reports the type JSON.
//! - `json_typeof(doc)`: `OBJECT`, `ARRAY`, `STRING`, `NUMBER`, `BOOL` or `NULL` (classic's
//!   words).
//! - `json_value(doc)`: a JSON string without its quotes, other values as their text.
//! - `json_string(doc)`, `json_number(doc)`, `json_boolean(doc)`: a JSON string, number or
//!   boolean as a SQL value, what a JSON value is compared as against a SQL literal
//!   (`doc->'name' = 'ann'`, see `semantics.rs`); NULL for JSON null; a value of another kind
//!   fails with `values are not comparable`.
//!
//! `uuid_from_text(x)` is `CAST(x AS UUID)` (`semantics.rs` rewrites it): a UUID's text (with or
//! without dashes) becomes the 16-byte UUID; a UUID stays as it is; anything else fails with
//! `invalid value provided: unsupported cast: can not cast ... as a UUID`.
//!
//! `text_to_integer(x)` and `text_to_float(x)` are `CAST(text AS INTEGER | FLOAT)`: the text
//! parsed as a 64-bit integer or float; anything else fails with `invalid value provided:
//! unsupported cast: can not cast string 'abc' as a INTEGER`.
//!
//! And two guards the classic rewrites put around operands (`semantics.rs`): `expect_numeric(x)`
//! and `expect_boolean(x)` return `x` unchanged, or fail with immudb's `invalid value provided
//! (expecting numeric value)` / `(expecting boolean value)` when a value is NULL, as arithmetic
//! and AND/OR/NOT on NULL do in classic immudb.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, Float64Array, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use serde_json::Value as Json;

use crate::error::SqlError;
use crate::store::arrow::column_field;
use crate::store::json::json_text;
use crate::types::SqlType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Get,
    TypeOf,
    Value,
    AsString,
    AsNumber,
    AsBoolean,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonFunction {
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Get => "json_get",
            Kind::TypeOf => "json_typeof",
            Kind::Value => "json_value",
            Kind::AsString => "json_string",
            Kind::AsNumber => "json_number",
            Kind::AsBoolean => "json_boolean",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            Kind::AsNumber => DataType::Float64,
            Kind::AsBoolean => DataType::Boolean,
            _ => DataType::Utf8,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        Ok(Arc::new(match self.kind {
            // A field of a JSON value is JSON (the result column's type says so).
            Kind::Get => column_field(self.name(), SqlType::Json),
            _ => Field::new(self.name(), self.return_type(&types)?, true),
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if matches!(self.kind, Kind::AsNumber | Kind::AsBoolean) {
            return self.typed(&arrays[0]);
        }
        let text = |a: &ArrayRef| -> DfResult<StringArray> {
            let cast = datafusion::arrow::compute::cast(a, &DataType::Utf8)?;
            Ok(cast
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("cast to Utf8")
                .clone())
        };
        let docs = text(&arrays[0])?;
        let keys = match self.kind {
            Kind::Get => Some(text(&arrays[1])?),
            _ => None,
        };
        let mut out: Vec<Option<String>> = Vec::with_capacity(docs.len());
        for i in 0..docs.len() {
            if docs.is_null(i) {
                out.push(None);
                continue;
            }
            let Ok(doc) = serde_json::from_str::<Json>(docs.value(i)) else {
                return fail(SqlError::Query("invalid json value".into()));
            };
            out.push(match self.kind {
                Kind::Get => {
                    let keys = keys.as_ref().expect("json_get has a key");
                    if keys.is_null(i) {
                        None
                    } else {
                        let key = keys.value(i);
                        let found = match &doc {
                            Json::Object(m) => m.get(key),
                            Json::Array(a) => key.parse::<usize>().ok().and_then(|n| a.get(n)),
                            _ => None,
                        };
                        found.map(json_text)
                    }
                }
                Kind::TypeOf => Some(
                    match doc {
                        Json::Object(_) => "OBJECT",
                        Json::Array(_) => "ARRAY",
                        Json::String(_) => "STRING",
                        Json::Number(_) => "NUMBER",
                        Json::Bool(_) => "BOOL",
                        Json::Null => "NULL",
                    }
                    .to_string(),
                ),
                Kind::Value => match doc {
                    Json::String(s) => Some(s),
                    Json::Null => None,
                    other => Some(json_text(&other)),
                },
                Kind::AsString => match doc {
                    Json::String(s) => Some(s),
                    Json::Null => None,
                    _ => return fail(SqlError::ValuesNotComparable),
                },
                Kind::AsNumber | Kind::AsBoolean => unreachable!("typed above"),
            });
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    }
}

/// `expect_numeric` / `expect_boolean`: see the module note.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Expect {
    numeric: bool,
    signature: Signature,
}

impl Expect {
    fn what(&self) -> &'static str {
        if self.numeric {
            "numeric"
        } else {
            "boolean"
        }
    }
}

/// The error an [`Expect`] guard raises; `engine::df_err` keeps its words.
pub fn expecting(what: &str) -> String {
    format!("invalid value provided (expecting {what} value)")
}

impl ScalarUDFImpl for Expect {
    fn name(&self) -> &str {
        if self.numeric {
            "expect_numeric"
        } else {
            "expect_boolean"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DfResult<DataType> {
        Ok(match &args[0] {
            DataType::Null if self.numeric => DataType::Int64,
            DataType::Null => DataType::Boolean,
            other => other.clone(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arg = args.args.into_iter().next().expect("one argument");
        let null = match &arg {
            ColumnarValue::Scalar(s) => s.is_null(),
            ColumnarValue::Array(a) => a.null_count() > 0 || *a.data_type() == DataType::Null,
        };
        if null {
            return fail(SqlError::Query(expecting(self.what())));
        }
        Ok(arg)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct UuidFromText {
    signature: Signature,
}

/// `CAST(text AS INTEGER)` (or FLOAT, with `float`), classic's way.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TextToNumber {
    float: bool,
    signature: Signature,
}

impl ScalarUDFImpl for TextToNumber {
    fn name(&self) -> &str {
        if self.float {
            "text_to_float"
        } else {
            "text_to_integer"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(if self.float {
            DataType::Float64
        } else {
            DataType::Int64
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        use datafusion::arrow::array::Int64Array;
        let arg = args.args.into_iter().next().expect("one argument");
        let array = arg.into_array(args.number_rows)?;
        let texts = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
        let texts = texts
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        let (target, n) = (if self.float { "FLOAT" } else { "INTEGER" }, texts.len());
        let failed = |text: &str| {
            fail(SqlError::InvalidValue(format!(
                "unsupported cast: can not cast string '{text}' as a {target}"
            )))
        };
        if self.float {
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                out.push(match texts.is_null(i) {
                    true => None,
                    false => match texts.value(i).parse::<f64>() {
                        Ok(f) => Some(f),
                        Err(_) => return failed(texts.value(i)),
                    },
                });
            }
            return Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))));
        }
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(match texts.is_null(i) {
                true => None,
                false => match texts.value(i).parse::<i64>() {
                    Ok(v) => Some(v),
                    Err(_) => return failed(texts.value(i)),
                },
            });
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
    }
}

impl ScalarUDFImpl for UuidFromText {
    fn name(&self) -> &str {
        "uuid_from_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::FixedSizeBinary(16))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let arg = args.args.into_iter().next().expect("one argument");
        let rows = args.number_rows;
        let array = arg.into_array(rows)?;
        match array.data_type() {
            DataType::FixedSizeBinary(16) => return Ok(ColumnarValue::Array(array)),
            DataType::Null => {
                let none = std::iter::repeat_n(None::<[u8; 16]>, array.len());
                let out = FixedSizeBinaryArray::try_from_sparse_iter_with_size(none, 16)?;
                return Ok(ColumnarValue::Array(Arc::new(out)));
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {}
            other => {
                let what = crate::store::arrow::sql_type_of(other).map_or("value", |t| t.name());
                return fail(SqlError::InvalidValue(format!(
                    "unsupported cast: can not cast {what} as a UUID"
                )));
            }
        }
        let texts = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
        let texts = texts
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        let mut out = Vec::with_capacity(texts.len());
        for i in 0..texts.len() {
            if texts.is_null(i) {
                out.push(None);
                continue;
            }
            let text = texts.value(i);
            match crate::types::parse_uuid(text) {
                Some(u) => out.push(Some(u)),
                None => {
                    return fail(SqlError::InvalidValue(format!(
                        "unsupported cast: can not cast string '{text}' as a UUID"
                    )))
                }
            }
        }
        let out = FixedSizeBinaryArray::try_from_sparse_iter_with_size(out.into_iter(), 16)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

fn expect(numeric: bool) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(Expect {
        numeric,
        signature: Signature::any(1, Volatility::Immutable),
    }))
}

impl JsonFunction {
    /// `json_number` / `json_boolean` over the JSON texts of `docs`.
    fn typed(&self, docs: &ArrayRef) -> DfResult<ColumnarValue> {
        let docs = datafusion::arrow::compute::cast(docs, &DataType::Utf8)?;
        let docs = docs
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("cast to Utf8");
        let parse = |i: usize| -> DfResult<Option<Json>> {
            if docs.is_null(i) {
                return Ok(None);
            }
            match serde_json::from_str::<Json>(docs.value(i)) {
                Ok(Json::Null) => Ok(None),
                Ok(doc) => Ok(Some(doc)),
                Err(_) => fail(SqlError::Query("invalid json value".into())),
            }
        };
        let not_comparable = || fail(SqlError::ValuesNotComparable);
        if self.kind == Kind::AsNumber {
            let mut out = Vec::with_capacity(docs.len());
            for i in 0..docs.len() {
                out.push(match parse(i)? {
                    None => None,
                    Some(Json::Number(n)) => n.as_f64(),
                    Some(_) => return not_comparable(),
                });
            }
            return Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))));
        }
        let mut out = Vec::with_capacity(docs.len());
        for i in 0..docs.len() {
            out.push(match parse(i)? {
                None => None,
                Some(Json::Bool(b)) => Some(b),
                Some(_) => return not_comparable(),
            });
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(out))))
    }
}

fn function(kind: Kind, args: usize) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(JsonFunction {
        kind,
        signature: Signature::any(args, Volatility::Immutable),
    }))
}

/// The functions to register in every query's context.
pub static FUNCTIONS: LazyLock<[Arc<ScalarUDF>; 11]> = LazyLock::new(|| {
    [
        Arc::new(ScalarUDF::new_from_impl(UuidFromText {
            signature: Signature::any(1, Volatility::Immutable),
        })),
        Arc::new(ScalarUDF::new_from_impl(TextToNumber {
            float: false,
            signature: Signature::any(1, Volatility::Immutable),
        })),
        Arc::new(ScalarUDF::new_from_impl(TextToNumber {
            float: true,
            signature: Signature::any(1, Volatility::Immutable),
        })),
        function(Kind::Get, 2),
        function(Kind::TypeOf, 1),
        function(Kind::Value, 1),
        function(Kind::AsString, 1),
        function(Kind::AsNumber, 1),
        function(Kind::AsBoolean, 1),
        expect(true),
        expect(false),
    ]
});

/// Registers these functions in `ctx`.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    for f in FUNCTIONS.iter() {
        ctx.register_udf(f.as_ref().clone());
    }
}

/// Fails with our own error, carried through DataFusion as `External` and downcast by
/// `errors::df_err` (its words are never matched as text).
fn fail<T>(e: SqlError) -> DfResult<T> {
    Err(crate::plan::errors::external(e))
}
