//! DataFusion's errors in immudb's words, where immudb has some.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;

use crate::error::SqlError;

/// The text of `msg` between the first `open` and the `close` after it.
pub(crate) fn text_between<'a>(msg: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = msg.split_once(open)?.1;
    Some(rest.split_once(close)?.0)
}

/// An error of ours carried through DataFusion (`External`), for [`df_err`] to take back out
/// as it went in.
pub(crate) fn external(e: SqlError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// DataFusion's errors as ours: an error of ours that DataFusion carried (`External`, from our
/// functions and providers) comes out as it went in; DataFusion's own errors that immudb has
/// words for get them, by variant where DataFusion has one, else by its message.
pub(crate) fn df_err(e: impl Into<DataFusionError>) -> SqlError {
    let e = match ours(e.into()) {
        Ok(ours) => return ours,
        Err(e) => e,
    };
    match e.find_root() {
        DataFusionError::ArrowError(a, _) if matches!(a.as_ref(), ArrowError::DivideByZero) => {
            return SqlError::DivisionByZero
        }
        DataFusionError::SchemaError(s, _) => {
            if let SchemaError::FieldNotFound { field, .. } = s.as_ref() {
                return SqlError::ColumnDoesNotExist(field.name.clone());
            }
        }
        _ => {}
    }
    let msg = e.to_string();
    // A selected column neither grouped nor aggregated: `(t.c): must appear ...`.
    if msg.contains("must appear in the GROUP BY clause") {
        if let Some(col) = text_between(&msg, "column \"", "\"") {
            return SqlError::Query(format!(
                "({col}): must appear in the group by clause or be used in an aggregated function"
            ));
        }
    }
    if msg.contains("UNION queries have different number of columns") {
        return SqlError::ColumnMismatchInUnion;
    }
    // `CAST(x AS BLOB)`: a type the query engine cannot cast to.
    if let Some(ty) = msg.split("Unsupported SQL type ").nth(1) {
        return SqlError::NotSupported(format!("CAST to {}", ty.trim()));
    }
    if let Some(name) = text_between(&msg, "Invalid function '", "'") {
        return SqlError::IllegalArguments(format!("unknown function {name}"));
    }
    if msg.contains("Divide by zero") {
        return SqlError::DivisionByZero;
    }
    if msg.contains("LIMIT must be >= 0") {
        return SqlError::Query("invalid limit".into());
    }
    if msg.contains("OFFSET must be >=0") {
        return SqlError::Query("invalid offset".into());
    }
    // LIKE is regexp_like underneath (semantics.rs); the regex crate's words follow.
    if msg.contains("regex parse error") || msg.contains("Regular expression did not compile") {
        let detail = msg
            .rsplit("error: ")
            .next()
            .unwrap_or(&msg)
            .trim_matches(|c| c == '"' || c == ')' || c == '(');
        return SqlError::Query(format!(
            "error in 'LIKE' clause: error parsing regexp: {detail}"
        ));
    }
    SqlError::Query(msg)
}

/// DataFusion's planning errors, in immudb's words where immudb has some.
pub(crate) fn planning_err(e: DataFusionError) -> SqlError {
    let msg = e.to_string();
    if let Some(name) = text_between(&msg, "table '", "' not found") {
        let name = name.rsplit('.').next().unwrap_or(name);
        return SqlError::TableDoesNotExist(name.to_string());
    }
    df_err(e)
}

/// Our own error, when `e` carries one (through `External`, an Arrow kernel's external error,
/// or DataFusion's wrappers); else `e` unchanged.
fn ours(e: DataFusionError) -> Result<SqlError, DataFusionError> {
    match e {
        DataFusionError::External(b) => b
            .downcast::<SqlError>()
            .map(|s| *s)
            .map_err(DataFusionError::External),
        DataFusionError::ArrowError(a, context) => match *a {
            ArrowError::ExternalError(b) => b.downcast::<SqlError>().map(|s| *s).map_err(|b| {
                DataFusionError::ArrowError(Box::new(ArrowError::ExternalError(b)), context)
            }),
            other => Err(DataFusionError::ArrowError(Box::new(other), context)),
        },
        DataFusionError::Context(c, inner) => {
            ours(*inner).map_err(|i| DataFusionError::Context(c, Box::new(i)))
        }
        DataFusionError::Diagnostic(d, inner) => {
            ours(*inner).map_err(|i| DataFusionError::Diagnostic(d, Box::new(i)))
        }
        DataFusionError::Shared(shared) => match std::sync::Arc::try_unwrap(shared) {
            Ok(inner) => ours(inner),
            // Shared with another receiver: ours by its words (our Display is our message).
            Err(shared) => match find(&shared) {
                Some(s) => Ok(SqlError::Query(s.to_string())),
                None => Err(DataFusionError::Shared(shared)),
            },
        },
        other => Err(other),
    }
}

/// Our error inside `e`, by reference.
fn find(e: &DataFusionError) -> Option<&SqlError> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(s) = err.downcast_ref::<SqlError>() {
            return Some(s);
        }
        cur = err.source();
    }
    None
}
