//! A sqllogictest runner (sqllogictest-rs format) over a fresh embedded database per file.
//!
//! Records: `statement ok`, `statement error [text]`, `query <types> [rowsort|valuesort]` with
//! `----` and the expected rows, `query error [text]`, `onlyif <label>` / `skipif <label>`
//! before a record, `halt`, and `#` comments. An error's text must be a substring of the
//! message. Values render as: INTEGER decimal, FLOAT shortest round-trip, BOOLEAN true/false,
//! NULL `NULL`, empty VARCHAR `(empty)`, TIMESTAMP `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC), BLOB
//! lowercase hex, UUID canonical text, JSON as stored.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use stele_ledger::{Ledger, Options};

use crate::engine::{Engine, Output};
use crate::types::{uuid_string, Value};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    /// One message per failure, `file:line: what`.
    pub failures: Vec<String>,
}

impl Report {
    pub fn add(&mut self, other: Report) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.failures.extend(other.failures);
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// The text of a value in a result row.
pub fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Varchar(s) if s.is_empty() => "(empty)".into(),
        Value::Varchar(s) | Value::Json(s) => s.clone(),
        Value::Float(f) => format!("{f}"),
        Value::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
        Value::Uuid(u) => uuid_string(u),
        Value::Timestamp(us) => {
            let secs = us.div_euclid(1_000_000);
            let micros = us.rem_euclid(1_000_000);
            let (y, m, d) = civil(secs.div_euclid(86_400));
            let s = secs.rem_euclid(86_400);
            let base = format!(
                "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
                s / 3600,
                s / 60 % 60,
                s % 60
            );
            if micros == 0 {
                base
            } else {
                format!("{base}.{micros:06}")
            }
        }
    }
}

enum Expect {
    Ok,
    Error(String),
    Rows { sort: bool, rows: Vec<String> },
}

/// Runs one file against a fresh database in a temporary directory.
pub fn run_file(path: &Path, labels: &[String]) -> Report {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return Report {
                passed: 0,
                failed: 1,
                failures: vec![format!("{name}: cannot read: {e}")],
            }
        }
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            return Report {
                passed: 0,
                failed: 1,
                failures: vec![format!("{name}: no temporary directory: {e}")],
            }
        }
    };
    let engine = Ledger::open(dir.path().join("db"), Options::default())
        .map_err(|e| e.to_string())
        .and_then(|l| Engine::new(Arc::new(l)).map_err(|e| e.to_string()));
    match engine {
        Ok(engine) => run_script(&text, &name, labels, &engine),
        Err(e) => Report {
            passed: 0,
            failed: 1,
            failures: vec![format!("{name}: cannot open a database: {e}")],
        },
    }
}

/// Runs the records of `text` against `engine`.
pub fn run_script(text: &str, name: &str, labels: &[String], engine: &Engine) -> Report {
    let lines: Vec<&str> = text.lines().collect();
    let mut report = Report::default();
    // One session a file: BEGIN in one record and COMMIT in a later one share a transaction.
    let mut session = engine.session();
    let mut i = 0;
    let mut skip = false;
    while i < lines.len() {
        let line = lines[i].trim();
        let at = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "halt" => break,
            "onlyif" => {
                skip |= !words.get(1).is_some_and(|l| labels.iter().any(|x| x == l));
                continue;
            }
            "skipif" => {
                skip |= words.get(1).is_some_and(|l| labels.iter().any(|x| x == l));
                continue;
            }
            "statement" | "query" => {}
            other => {
                report.failed += 1;
                report
                    .failures
                    .push(format!("{name}:{at}: unknown record {other:?}"));
                continue;
            }
        }
        // The SQL runs to a blank line or `----`.
        let mut sql = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        let sql = sql.join("\n");
        let expect = if words.get(1) == Some(&"error") {
            Expect::Error(line.splitn(3, ' ').nth(2).unwrap_or("").trim().to_string())
        } else if words[0] == "statement" {
            Expect::Ok
        } else {
            let mut rows = Vec::new();
            if i < lines.len() && lines[i].trim() == "----" {
                i += 1;
                while i < lines.len() && !lines[i].trim().is_empty() {
                    rows.push(lines[i].split_whitespace().collect::<Vec<_>>().join(" "));
                    i += 1;
                }
            }
            Expect::Rows {
                sort: words.iter().any(|w| *w == "rowsort" || *w == "valuesort"),
                rows,
            }
        };
        if std::mem::take(&mut skip) {
            continue;
        }
        let result = session.execute(&sql, &HashMap::new()).map(|r| r.outputs);
        let failure = match (expect, result) {
            (Expect::Ok, Ok(_)) => None,
            (Expect::Ok, Err(e)) => Some(format!("statement failed: {e}")),
            (Expect::Error(want), Err(e)) => {
                let msg = e.to_string();
                (!msg.contains(&want)).then(|| format!("error {msg:?} does not contain {want:?}"))
            }
            (Expect::Error(_), Ok(_)) => Some("statement succeeded, an error was expected".into()),
            (Expect::Rows { .. }, Err(e)) => Some(format!("query failed: {e}")),
            (
                Expect::Rows {
                    sort,
                    rows: mut want,
                },
                Ok(outputs),
            ) => {
                let mut got: Vec<String> = match outputs.into_iter().last() {
                    Some(Output::Rows { rows, .. }) => rows
                        .iter()
                        .map(|r| r.iter().map(render).collect::<Vec<_>>().join(" "))
                        .collect(),
                    _ => vec![],
                };
                if sort {
                    got.sort();
                    want.sort();
                }
                (got != want).then(|| {
                    format!(
                        "expected\n  {}\ngot\n  {}",
                        want.join("\n  "),
                        got.join("\n  ")
                    )
                })
            }
        };
        match failure {
            None => report.passed += 1,
            Some(f) => {
                report.failed += 1;
                report
                    .failures
                    .push(format!("{name}:{at}: {f}\n  sql: {sql}"));
            }
        }
    }
    report
}
