//! SQL over a session: a request's text is split into statements, runs of writes go out as one
//! `SQLExec` (one request, one tx, as immudb runs it), queries as `SQLQuery`, and `BEGIN` /
//! `COMMIT` / `ROLLBACK` become the session's interactive transaction (`NewTx`, `Commit`,
//! `Rollback`), inside which statements go out as `TxSQLExec` / `TxSQLQuery`. So a
//! transaction may span requests, as in an embedded session.
//!
//! Invariant: after an error inside a transaction the transaction is over (the engine cancels
//! it; the client rolls back whatever the server kept), as the embedded engine behaves.

use std::borrow::Borrow;

use stele_proto::immudb as pb;

use crate::connection::Client;
use crate::error::Result;

/// A SQL value as the wire carries it (UUIDs and JSON arrive as text).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL` (also a value the server sent empty).
    Null,
    /// An `INTEGER`.
    Integer(i64),
    /// A `VARCHAR`; also a UUID or JSON value, as text.
    Varchar(String),
    /// A `BOOLEAN`.
    Boolean(bool),
    /// A `BLOB`.
    Blob(Vec<u8>),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// A `FLOAT` (64-bit).
    Float(f64),
}

impl Value {
    fn from_wire(v: &pb::SqlValue) -> Value {
        use pb::sql_value::Value as V;
        match &v.value {
            None | Some(V::Null(_)) => Value::Null,
            Some(V::N(n)) => Value::Integer(*n),
            Some(V::S(s)) => Value::Varchar(s.clone()),
            Some(V::B(b)) => Value::Boolean(*b),
            Some(V::Bs(b)) => Value::Blob(b.clone()),
            Some(V::Ts(t)) => Value::Timestamp(*t),
            Some(V::F(f)) => Value::Float(*f),
        }
    }
}

/// A result column: its name as the server gives it and its type (`INTEGER`, `VARCHAR`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column's name, as the server gives it.
    pub name: String,
    /// The name of its SQL type, as the server gives it.
    pub ty: String,
}

/// What one call of a request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A query's result (also the answer of a catalog call such as [`SqlSession::tables`]).
    Rows {
        /// The result's columns, in order.
        columns: Vec<Column>,
        /// The rows, each with one value per column.
        rows: Vec<Vec<Value>>,
    },
    /// Writes ran: the rows they changed (unknown inside a transaction until it commits) and
    /// the txs they committed.
    Done {
        /// Rows changed; `None` for writes inside a transaction, counted at its commit.
        updated_rows: Option<u64>,
        /// Ids of the txs committed; empty inside a transaction.
        txs: Vec<u64>,
    },
    /// `BEGIN`: a transaction is open.
    Began,
    /// `ROLLBACK`: the transaction was dropped.
    RolledBack,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Begin,
    Commit,
    Rollback,
    Query,
    Write,
}

/// An SQL session on a [`Client`]'s session, owning the client or borrowing it. One per
/// client: the server keeps one transaction per session.
pub struct SqlSession<C: Borrow<Client>> {
    client: C,
    in_tx: bool,
}

impl Client {
    /// An SQL session on this client.
    pub fn sql(&self) -> SqlSession<&Client> {
        SqlSession::new(self)
    }
}

impl<C: Borrow<Client>> SqlSession<C> {
    /// An SQL session on `client`, with no transaction open.
    pub fn new(client: C) -> SqlSession<C> {
        SqlSession {
            client,
            in_tx: false,
        }
    }

    fn client(&self) -> &Client {
        self.client.borrow()
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.in_tx
    }

    /// Runs a request (one or more statements, `;`-separated). Returns what each call did;
    /// on an error, what ran before it stays done unless it was inside a transaction.
    pub fn execute(&mut self, text: &str) -> Result<Vec<Output>> {
        let mut outputs = Vec::new();
        let result = self.run(text, &mut outputs);
        if result.is_err() && self.in_tx {
            self.in_tx = false;
            // The engine cancelled it; if the server kept it (a failed read), drop it there.
            let _ = self
                .client()
                .call(|mut s| async move { s.rollback(()).await });
        }
        result.map(|()| outputs)
    }

    fn run(&mut self, text: &str, outputs: &mut Vec<Output>) -> Result<()> {
        let mut writes: Vec<&str> = Vec::new();
        for stmt in split_statements(text) {
            let kind = kind(stmt);
            if kind == Kind::Write || (!self.in_tx && matches!(kind, Kind::Commit | Kind::Rollback))
            {
                // Outside a transaction the engine answers COMMIT / ROLLBACK itself.
                writes.push(stmt);
                continue;
            }
            self.flush(&mut writes, outputs)?;
            match kind {
                Kind::Begin if self.in_tx => {
                    // The engine's own answer (nested transactions), which cancels this one.
                    writes.push(stmt);
                    self.flush(&mut writes, outputs)?;
                }
                Kind::Begin => {
                    let r = pb::NewTxRequest {
                        mode: pb::TxMode::ReadWrite as i32,
                        ..Default::default()
                    };
                    self.client()
                        .call(|mut s| async move { s.new_tx(r).await })?;
                    self.in_tx = true;
                    outputs.push(Output::Began);
                }
                Kind::Commit => {
                    self.in_tx = false;
                    let c = self
                        .client()
                        .call(|mut s| async move { s.commit(()).await })?;
                    outputs.push(Output::Done {
                        updated_rows: Some(c.updated_rows as u64),
                        txs: c.header.map(|h| h.id).into_iter().collect(),
                    });
                }
                Kind::Rollback => {
                    self.in_tx = false;
                    self.client()
                        .call(|mut s| async move { s.rollback(()).await })?;
                    outputs.push(Output::RolledBack);
                }
                Kind::Query => outputs.push(self.query(stmt)?),
                Kind::Write => unreachable!("batched above"),
            }
        }
        self.flush(&mut writes, outputs)
    }

    fn flush(&mut self, writes: &mut Vec<&str>, outputs: &mut Vec<Output>) -> Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let r = pb::SqlExecRequest {
            sql: writes.join(";\n"),
            ..Default::default()
        };
        writes.clear();
        if self.in_tx {
            self.client()
                .call(|mut s| async move { s.tx_sql_exec(r).await })?;
            outputs.push(Output::Done {
                updated_rows: None,
                txs: Vec::new(),
            });
        } else {
            let result = self
                .client()
                .call(|mut s| async move { s.sql_exec(r).await })?;
            outputs.push(Output::Done {
                updated_rows: Some(result.txs.iter().map(|t| t.updated_rows as u64).sum()),
                txs: result
                    .txs
                    .iter()
                    .filter_map(|t| t.header.as_ref())
                    .map(|h| h.id)
                    .collect(),
            });
        }
        Ok(())
    }

    fn query(&self, sql: &str) -> Result<Output> {
        let r = pb::SqlQueryRequest {
            sql: sql.to_string(),
            accept_stream: true,
            ..Default::default()
        };
        let messages = if self.in_tx {
            self.client()
                .stream(|mut s| async move { s.tx_sql_query(r).await })?
        } else {
            self.client()
                .stream(|mut s| async move { s.sql_query(r).await })?
        };
        Ok(rows_of(messages))
    }

    /// The database's tables (`\d`).
    pub fn tables(&self) -> Result<Output> {
        let r = self
            .client()
            .call(|mut s| async move { s.list_tables(()).await })?;
        Ok(rows_of(vec![r]))
    }

    /// A table's columns and indexes (`\d TABLE`).
    pub fn describe(&self, table: &str) -> Result<Output> {
        let r = pb::Table {
            table_name: table.to_string(),
        };
        let r = self
            .client()
            .call(|mut s| async move { s.describe_table(r).await })?;
        Ok(rows_of(vec![r]))
    }
}

fn rows_of(messages: Vec<pb::SqlQueryResult>) -> Output {
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for m in messages {
        if columns.is_empty() {
            columns = m
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    ty: c.r#type.clone(),
                })
                .collect();
        }
        rows.extend(
            m.rows
                .iter()
                .map(|r| r.values.iter().map(Value::from_wire).collect()),
        );
    }
    Output::Rows { columns, rows }
}

/// What a statement is, from its first word.
fn kind(stmt: &str) -> Kind {
    let word: String = stmt
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    match word.as_str() {
        "BEGIN" => Kind::Begin,
        "COMMIT" => Kind::Commit,
        "ROLLBACK" => Kind::Rollback,
        "SELECT" | "SHOW" | "EXPLAIN" | "WITH" | "VALUES" => Kind::Query,
        _ => Kind::Write,
    }
}

/// Where the statement-ending `;`s of `text` are (outside quotes and comments), and whether
/// the text ends inside a quote or a block comment.
fn scan(text: &str) -> (Vec<usize>, bool) {
    let b = text.as_bytes();
    let mut ends = Vec::new();
    let mut i = 0;
    let mut open = false;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                open = true;
                while i < b.len() {
                    if b[i] == q {
                        // A doubled quote is an escaped one.
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        open = false;
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                open = true;
                while i < b.len() {
                    if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        open = false;
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            b';' => ends.push(i),
            _ => {}
        }
        i += 1;
    }
    (ends, open)
}

/// The statements of `text`, split at `;` outside quotes and comments, blanks and leading
/// comments trimmed; empty statements are skipped.
pub fn split_statements(text: &str) -> Vec<&str> {
    let (ends, _) = scan(text);
    let mut start = 0;
    ends.into_iter()
        .chain(std::iter::once(text.len()))
        .filter_map(|end| {
            let s = strip_comments_and_blanks(&text[start..end]);
            start = (end + 1).min(text.len());
            (!s.is_empty()).then_some(s)
        })
        .collect()
}

/// `s` without leading and trailing whitespace and leading comments.
fn strip_comments_and_blanks(mut s: &str) -> &str {
    loop {
        s = s.trim();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return s;
        }
    }
}

/// Whether `text` ends a request: a `;` outside quotes and comments with only blanks and
/// comments after it. The shell reads lines until this holds.
pub fn is_complete(text: &str) -> bool {
    let (ends, open) = scan(text);
    !open
        && ends
            .last()
            .is_some_and(|&e| strip_comments_and_blanks(&text[e + 1..]).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        assert_eq!(
            split_statements("BEGIN; INSERT INTO t (s) VALUES ('a;b', 'it''s;') ; -- x;y\nCOMMIT;"),
            vec![
                "BEGIN",
                "INSERT INTO t (s) VALUES ('a;b', 'it''s;')",
                "COMMIT"
            ]
        );
        assert_eq!(
            split_statements(" ; /* a;b */ SELECT 1 ;;"),
            vec!["SELECT 1"]
        );
        assert_eq!(kind("(SELECT 1) UNION (SELECT 2)"), Kind::Query);
        assert_eq!(kind("begin transaction"), Kind::Begin);
        assert_eq!(kind("UPSERT INTO t (id) VALUES (1)"), Kind::Write);
        assert!(is_complete("SELECT 'a;' ;\n"));
        assert!(!is_complete("SELECT 'a;"));
        assert!(!is_complete("SELECT 1"));
        assert!(is_complete("SELECT 1; -- done"));
        assert!(!is_complete("SELECT 1; /* open"));
    }
}
