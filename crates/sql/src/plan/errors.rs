//! DataFusion's errors in immudb's words, where immudb has some.

use crate::parse::PERIOD_MARK;
use crate::SqlError;

/// The text of `msg` between the first `open` and the `close` after it.
pub(crate) fn text_between<'a>(msg: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let rest = msg.split_once(open)?.1;
    Some(rest.split_once(close)?.0)
}

/// DataFusion's execution errors; the ones immudb has words for get them.
pub(crate) fn df_err(e: impl std::fmt::Display) -> SqlError {
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
    // Raised by `uuid_from_text` (functions.rs) in these words.
    if let Some(rest) = msg.split("invalid value provided: ").nth(1) {
        return SqlError::InvalidValue(rest.to_string());
    }
    // `CAST(x AS BLOB)`: a type the query engine cannot cast to.
    if let Some(ty) = msg.split("Unsupported SQL type ").nth(1) {
        return SqlError::NotSupported(format!("CAST to {}", ty.trim()));
    }
    // Raised by the JSON comparison functions (functions.rs) in these words.
    if msg.contains(&SqlError::ValuesNotComparable.to_string()) {
        return SqlError::ValuesNotComparable;
    }
    if let Some(name) = text_between(&msg, "Invalid function '", "'") {
        return SqlError::IllegalArguments(format!("unknown function {name}"));
    }
    for what in ["numeric", "boolean"] {
        let text = crate::plan::functions::expecting(what);
        if msg.contains(&text) {
            return SqlError::Query(text);
        }
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
pub(crate) fn planning_err(e: datafusion::error::DataFusionError) -> SqlError {
    let msg = e.to_string();
    if let Some(name) = text_between(&msg, "table '", "' not found") {
        let name = name.rsplit('.').next().unwrap_or(name);
        return SqlError::TableDoesNotExist(
            name.split(PERIOD_MARK).next().unwrap_or(name).to_string(),
        );
    }
    if let Some(rest) = msg.split("No field named ").nth(1) {
        let field = rest
            .split_whitespace()
            .next()
            .unwrap_or(rest)
            .trim_end_matches('.');
        let field = field.rsplit('.').next().unwrap_or(field).trim_matches('"');
        return SqlError::ColumnDoesNotExist(field.to_string());
    }
    df_err(msg)
}
