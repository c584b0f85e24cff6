//! What SQL requests produce, and how it prints: aligned tables with each column's type under
//! its name, CSV (RFC 4180), or JSON (one array of objects per result).
//!
//! Both kinds of session (embedded and remote) turn their results into [`Outcome`]s, so the
//! shell prints them the same way whichever it talks to.

use std::fmt::Write as _;
use std::time::Duration;

/// How results print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, types under the names, then the row count and the time taken.
    Table,
    /// A header of column names, then one line per row; NULL is an empty field.
    Csv,
    /// An array of objects per result, one per line.
    Json,
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Text, and values shown as text: timestamps, UUIDs, JSON, BLOBs (hex).
    Text(String),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Null => "NULL".into(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::Bool(b) => b.to_string(),
            Cell::Text(s) => s.clone(),
        }
    }

    fn json(&self) -> String {
        match self {
            Cell::Null => "null".into(),
            Cell::Int(i) => i.to_string(),
            Cell::Float(f) if f.is_finite() => format!("{f:?}"),
            Cell::Float(f) => json_string(&f.to_string()),
            Cell::Bool(b) => b.to_string(),
            Cell::Text(s) => json_string(s),
        }
    }
}

/// A result: its columns (name, type) and rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rows {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Cell>>,
}

/// What one part of a request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Rows(Rows),
    /// Writes ran: rows changed (unknown inside a transaction) and txs committed.
    Done {
        updated: Option<u64>,
        txs: Vec<u64>,
    },
    Began,
    RolledBack,
}

/// A column name as a user reads it: a selector `(table.column)` shows as `column`.
pub fn column_name(selector: &str) -> String {
    let inner = selector
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(selector);
    inner.rsplit('.').next().unwrap_or(inner).to_string()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The text of a request's outcomes; `elapsed` is shown after the last in table format.
pub fn render(outcomes: &[Outcome], format: Format, elapsed: Option<Duration>) -> String {
    let mut out = String::new();
    for (i, o) in outcomes.iter().enumerate() {
        let time = elapsed.filter(|_| i + 1 == outcomes.len());
        match format {
            Format::Table => table(&mut out, o, time),
            Format::Csv => csv(&mut out, o),
            Format::Json => json(&mut out, o),
        }
    }
    out
}

fn footer(out: &mut String, what: String, time: Option<Duration>) {
    match time {
        Some(t) => {
            let _ = writeln!(out, "({what}, {})", millis(t));
        }
        None => {
            let _ = writeln!(out, "({what})");
        }
    }
}

fn table(out: &mut String, o: &Outcome, time: Option<Duration>) {
    match o {
        Outcome::Rows(r) => {
            let cells: Vec<Vec<String>> = r
                .rows
                .iter()
                .map(|row| row.iter().map(Cell::text).collect())
                .collect();
            let widths: Vec<usize> = r
                .columns
                .iter()
                .enumerate()
                .map(|(i, (name, ty))| {
                    cells
                        .iter()
                        .map(|row| row.get(i).map_or(0, |c| c.chars().count()))
                        .chain([name.chars().count(), ty.chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |out: &mut String, items: Vec<(&str, bool)>| {
                let parts: Vec<String> = items
                    .iter()
                    .zip(&widths)
                    .map(|((s, right), w)| {
                        if *right {
                            format!(" {s:>w$} ")
                        } else {
                            format!(" {s:<w$} ")
                        }
                    })
                    .collect();
                let _ = writeln!(out, "{}", parts.join("|").trim_end());
            };
            line(
                out,
                r.columns.iter().map(|(n, _)| (n.as_str(), false)).collect(),
            );
            if r.columns.iter().any(|(_, t)| !t.is_empty()) {
                line(
                    out,
                    r.columns.iter().map(|(_, t)| (t.as_str(), false)).collect(),
                );
            }
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            let _ = writeln!(out, "{}", rule.join("+"));
            for (row, texts) in r.rows.iter().zip(&cells) {
                line(
                    out,
                    row.iter()
                        .zip(texts)
                        .map(|(c, t)| (t.as_str(), matches!(c, Cell::Int(_) | Cell::Float(_))))
                        .collect(),
                );
            }
            footer(out, plural(r.rows.len(), "row", "rows"), time);
        }
        Outcome::Done { updated, txs } => {
            let mut what = match updated {
                Some(n) => format!("{} updated", plural(*n as usize, "row", "rows")),
                None => "done".into(),
            };
            match txs.as_slice() {
                [] => {}
                [t] => what.push_str(&format!(", tx {t}")),
                many => what.push_str(&format!(
                    ", txs {}",
                    many.iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
            footer(out, what, time);
        }
        Outcome::Began => footer(out, "transaction open".into(), time),
        Outcome::RolledBack => footer(out, "rolled back".into(), time),
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv(out: &mut String, o: &Outcome) {
    let Outcome::Rows(r) = o else { return };
    let header: Vec<String> = r.columns.iter().map(|(n, _)| csv_field(n)).collect();
    let _ = writeln!(out, "{}", header.join(","));
    for row in &r.rows {
        let fields: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Null => String::new(),
                other => csv_field(&other.text()),
            })
            .collect();
        let _ = writeln!(out, "{}", fields.join(","));
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json(out: &mut String, o: &Outcome) {
    match o {
        Outcome::Rows(r) => {
            let objects: Vec<String> = r
                .rows
                .iter()
                .map(|row| {
                    let fields: Vec<String> = r
                        .columns
                        .iter()
                        .zip(row)
                        .map(|((n, _), c)| format!("{}:{}", json_string(n), c.json()))
                        .collect();
                    format!("{{{}}}", fields.join(","))
                })
                .collect();
            let _ = writeln!(out, "[{}]", objects.join(","));
        }
        Outcome::Done { updated, txs } => {
            let updated = updated.map_or("null".into(), |n| n.to_string());
            let txs: Vec<String> = txs.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "{{\"updated_rows\":{updated},\"txs\":[{}]}}",
                txs.join(",")
            );
        }
        Outcome::Began => out.push_str("{\"transaction\":\"open\"}\n"),
        Outcome::RolledBack => out.push_str("{\"transaction\":\"rolled back\"}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Outcome> {
        vec![
            Outcome::Rows(Rows {
                columns: vec![
                    ("id".into(), "INTEGER".into()),
                    ("s".into(), "VARCHAR".into()),
                ],
                rows: vec![
                    vec![Cell::Int(1), Cell::Text("a,\"b\"".into())],
                    vec![Cell::Int(20), Cell::Null],
                ],
            }),
            Outcome::Done {
                updated: Some(1),
                txs: vec![7],
            },
        ]
    }

    #[test]
    fn each_format_renders_rows_and_writes() {
        let t = Some(Duration::from_micros(1500));
        assert_eq!(
            render(&sample(), Format::Table, t),
            " id      | s\n INTEGER | VARCHAR\n---------+---------\n       1 | a,\"b\"\n      20 | NULL\n(2 rows)\n(1 row updated, tx 7, 1.5 ms)\n"
        );
        assert_eq!(
            render(&sample(), Format::Csv, t),
            "id,s\n1,\"a,\"\"b\"\"\"\n20,\n"
        );
        assert_eq!(
            render(&sample(), Format::Json, t),
            "[{\"id\":1,\"s\":\"a,\\\"b\\\"\"},{\"id\":20,\"s\":null}]\n{\"updated_rows\":1,\"txs\":[7]}\n"
        );
        assert_eq!(column_name("(t.id)"), "id");
        assert_eq!(column_name("(col0)"), "col0");
    }
}
