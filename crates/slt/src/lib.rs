//! # stele-slt: sqllogictest files over any SQL database
//!
//! The runner that `stele slt` uses, embedded (over `stele-sql`) and remote (over gRPC):
//! it reads a file's records, runs each through a [`Database`], and compares what came back.
//! It knows nothing of how SQL runs, so both sides share one format and one summary line.
//!
//! Records (sqllogictest-rs format): `statement ok`, `statement error [text]`,
//! `query <types> [rowsort|valuesort]` with `----` and the expected rows, `query error [text]`,
//! `onlyif <label>` / `skipif <label>` before a record, `halt`, and `#` comments. An error's
//! text must be a substring of the message. Cells render as [`Database::run`] returns them;
//! [`timestamp_text`] is the one rendering of a TIMESTAMP that both sides use.
//!
//! Invariant: one [`Database`] per file, used in record order, so a transaction begun in one
//! record and committed in a later one behaves as in an interactive session.

use std::path::Path;

/// Where a file's SQL runs: one session of a fresh database.
pub trait Database {
    /// Runs one record's SQL (it may hold several statements). Returns the rows of its last
    /// statement that produced rows, each cell rendered as text, or `None` when none did; or
    /// the error's message.
    fn run(&mut self, sql: &str) -> Result<Option<Vec<Vec<String>>>, String>;
}

/// What running files found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Records that ran and came back as expected (skipped records are not counted).
    pub passed: usize,
    /// Records that did not: wrong results, unknown records, and files that could not run.
    pub failed: usize,
    /// One message per failure, `file:line: what`.
    pub failures: Vec<String>,
}

impl Report {
    /// Adds another file's counts and failures to these.
    pub fn add(&mut self, other: Report) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.failures.extend(other.failures);
    }

    /// A report of one failure that stopped a file before its records ran.
    pub fn broken(name: &str, what: impl std::fmt::Display) -> Report {
        Report {
            passed: 0,
            failed: 1,
            failures: vec![format!("{name}: {what}")],
        }
    }

    /// The summary line `stele slt` closes with.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed, self.failed)
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

/// A TIMESTAMP (microseconds since the epoch, UTC) as `YYYY-MM-DD HH:MM:SS[.ffffff]`.
pub fn timestamp_text(us: i64) -> String {
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

/// A VARCHAR cell: the empty string is `(empty)`, so that a row's cells stay countable.
pub fn varchar_text(s: &str) -> String {
    if s.is_empty() {
        "(empty)".into()
    } else {
        s.to_string()
    }
}

/// A BLOB cell: lowercase hex.
pub fn blob_text(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

enum Expect {
    Ok,
    Error(String),
    Rows { sort: bool, rows: Vec<String> },
}

/// Runs the file at `path` on the database `open` gives (a fresh one for this file). With
/// `complete`, the file is rewritten with the answers as its expectations
/// ([`complete_script`]), replaced whole only once the run has ended.
pub fn run_file<D: Database>(
    path: &Path,
    labels: &[String],
    complete: bool,
    open: impl FnOnce() -> Result<D, String>,
) -> Report {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Report::broken(&name, format!("cannot read: {e}")),
    };
    let mut db = match open() {
        Ok(db) => db,
        Err(e) => return Report::broken(&name, format!("cannot open a database: {e}")),
    };
    if !complete {
        return run_script(&text, &name, labels, &mut db);
    }
    let (completed, report) = complete_script(&text, &name, labels, &mut db);
    let tmp = path.with_extension("slt.complete");
    let written = std::fs::write(&tmp, completed).and_then(|()| std::fs::rename(&tmp, path));
    match written {
        Ok(()) => report,
        Err(e) => {
            let mut r = report;
            r.add(Report::broken(&name, format!("cannot rewrite: {e}")));
            r
        }
    }
}

/// Runs the records of `text` (named `name` in failures) against `db`, in order.
pub fn run_script(text: &str, name: &str, labels: &[String], db: &mut dyn Database) -> Report {
    walk(text, name, labels, db, None)
}

/// Runs the records of `text` against `db` and returns the text with every record's
/// expectation replaced by what `db` answered (`stele slt --complete`): a query's rows (sorted
/// for `rowsort`), `statement ok`, or `statement error` / `query error` with the first line of
/// the error. Comments, conditions and skipped records are kept as they are. The report says
/// which records differed from the old expectations.
pub fn complete_script(
    text: &str,
    name: &str,
    labels: &[String],
    db: &mut dyn Database,
) -> (String, Report) {
    let mut out = Vec::new();
    let report = walk(text, name, labels, db, Some(&mut out));
    let mut completed = out.join("\n");
    completed.push('\n');
    (completed, report)
}

/// The one walk over a script's records: runs each, checks it, and (completing) writes the
/// script back with the answers as expectations.
fn walk(
    text: &str,
    name: &str,
    labels: &[String],
    db: &mut dyn Database,
    mut out: Option<&mut Vec<String>>,
) -> Report {
    let lines: Vec<&str> = text.lines().collect();
    let mut report = Report::default();
    let mut i = 0;
    let mut skip = false;
    while i < lines.len() {
        let line = lines[i].trim();
        let at = i + 1;
        let record_start = i;
        i += 1;
        let mut verbatim = |from: usize, to: usize| {
            if let Some(out) = out.as_deref_mut() {
                out.extend(lines[from..to].iter().map(|l| l.to_string()));
            }
        };
        if line.is_empty() || line.starts_with('#') {
            verbatim(record_start, i);
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[0] {
            "halt" => {
                verbatim(record_start, lines.len());
                break;
            }
            "onlyif" => {
                skip |= !words.get(1).is_some_and(|l| labels.iter().any(|x| x == l));
                verbatim(record_start, i);
                continue;
            }
            "skipif" => {
                skip |= words.get(1).is_some_and(|l| labels.iter().any(|x| x == l));
                verbatim(record_start, i);
                continue;
            }
            "statement" | "query" => {}
            other => {
                report.failed += 1;
                report
                    .failures
                    .push(format!("{name}:{at}: unknown record {other:?}"));
                verbatim(record_start, i);
                continue;
            }
        }
        // The SQL runs to a blank line or `----`.
        let mut sql = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && lines[i].trim() != "----" {
            sql.push(lines[i]);
            i += 1;
        }
        let sql_end = i;
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
            verbatim(record_start, i);
            continue;
        }
        let result = db.run(&sql);
        if let Some(out) = out.as_deref_mut() {
            completed(
                out,
                &words,
                &lines[record_start + 1..sql_end],
                &expect,
                &result,
            );
        }
        match check(expect, result) {
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

/// Writes one record as `result` answered it.
fn completed(
    out: &mut Vec<String>,
    words: &[&str],
    sql: &[&str],
    expect: &Expect,
    result: &Result<Option<Vec<Vec<String>>>, String>,
) {
    let first_line = |e: &str| e.lines().next().unwrap_or("").to_string();
    match (result, expect) {
        (Err(e), _) => out.push(format!("{} error {}", words[0], first_line(e))),
        (Ok(_), Expect::Error(_)) | (Ok(None), _) if words[0] == "statement" => {
            out.push("statement ok".into())
        }
        (Ok(_), Expect::Rows { .. }) => out.push(words.join(" ")),
        // A query whose old expectation was an error: its rows, sorted as `rowsort` would.
        (Ok(_), _) => out.push(format!("{} rowsort", words[0])),
    }
    out.extend(sql.iter().map(|l| l.to_string()));
    if let (Ok(rows), true) = (result, words[0] == "query") {
        let mut rows: Vec<String> = rows.iter().flatten().map(|r| r.join(" ")).collect();
        let sort = match expect {
            Expect::Rows { sort, .. } => *sort,
            _ => true,
        };
        if sort {
            rows.sort();
        }
        out.push("----".into());
        out.extend(rows);
    }
}

/// What is wrong with `result` given `expect`, if anything.
fn check(expect: Expect, result: Result<Option<Vec<Vec<String>>>, String>) -> Option<String> {
    match (expect, result) {
        (Expect::Ok, Ok(_)) => None,
        (Expect::Ok, Err(e)) => Some(format!("statement failed: {e}")),
        (Expect::Error(want), Err(msg)) => {
            (!msg.contains(&want)).then(|| format!("error {msg:?} does not contain {want:?}"))
        }
        (Expect::Error(_), Ok(_)) => Some("statement succeeded, an error was expected".into()),
        (Expect::Rows { .. }, Err(e)) => Some(format!("query failed: {e}")),
        (
            Expect::Rows {
                sort,
                rows: mut want,
            },
            Ok(rows),
        ) => {
            let mut got: Vec<String> = rows
                .unwrap_or_default()
                .iter()
                .map(|r| r.join(" "))
                .collect();
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that answers from a script of canned results, in order.
    struct Canned(Vec<Result<Option<Vec<Vec<String>>>, String>>);

    impl Database for Canned {
        fn run(&mut self, _sql: &str) -> Result<Option<Vec<Vec<String>>>, String> {
            self.0.remove(0)
        }
    }

    fn rows(r: &[&[&str]]) -> Result<Option<Vec<Vec<String>>>, String> {
        Ok(Some(
            r.iter()
                .map(|c| c.iter().map(|s| s.to_string()).collect())
                .collect(),
        ))
    }

    #[test]
    fn records_pass_and_fail_as_their_expectations_say() {
        let text = "statement ok\nCREATE x\n\nstatement error exists\nCREATE x\n\n\
                    query IT rowsort\nSELECT\n----\n2 b\n1 a\n\nquery I\nSELECT\n----\n1\n\n\
                    skipif remote\nstatement ok\nNEVER RUN\n\nstatement error exists\nCREATE y\n";
        let mut db = Canned(vec![
            Ok(None),
            Err("table already exists (x)".into()),
            rows(&[&["1", "a"], &["2", "b"]]),
            rows(&[&["2"]]),
            Err("syntax error".into()),
        ]);
        let r = run_script(text, "f.slt", &["remote".into()], &mut db);
        assert_eq!((r.passed, r.failed), (3, 2), "{:#?}", r.failures);
        assert!(
            r.failures[0].starts_with("f.slt:13: expected"),
            "{}",
            r.failures[0]
        );
        assert!(r.failures[1].contains("does not contain \"exists\""));
        assert_eq!(r.summary(), "3 passed, 2 failed");
    }

    #[test]
    fn complete_rewrites_expectations_with_the_answers() {
        let text = "# kept\nstatement ok\nCREATE x\n\nstatement error nope\nCREATE x\n\n\
                    query I rowsort\nSELECT\n----\n9\n\nquery I\nBAD\n----\n1\n";
        let mut db = Canned(vec![
            Ok(None),
            Err("table already exists (x)\nmore".into()),
            rows(&[&["2"], &["1"]]),
            Err("syntax error".into()),
        ]);
        let (text, r) = complete_script(text, "f.slt", &[], &mut db);
        assert_eq!((r.passed, r.failed), (1, 3));
        assert_eq!(
            text,
            "# kept\nstatement ok\nCREATE x\n\nstatement error table already exists (x)\n\
             CREATE x\n\nquery I rowsort\nSELECT\n----\n1\n2\n\nquery error syntax error\nBAD\n"
        );
    }

    #[test]
    fn timestamps_render_in_utc_with_micros_only_when_present() {
        assert_eq!(timestamp_text(0), "1970-01-01 00:00:00");
        assert_eq!(
            timestamp_text(951_782_400_000_001),
            "2000-02-29 00:00:00.000001"
        );
        assert_eq!(timestamp_text(-1), "1969-12-31 23:59:59.999999");
    }
}
