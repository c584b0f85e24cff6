//! The fast read of the commonest bulk write: `INSERT INTO t [(c, ...)] VALUES (v, ...), ...`
//! (or `UPSERT INTO`) whose values are plain literals, read straight from the text into rows
//! of values, without sqlparser's tokens and tree (for a 1000-row text they cost more than
//! writing the rows).
//!
//! It reads a strict subset and answers `None` for anything else, the general parser then
//! reading the text: unquoted names, lower-cased (a keyword too, as the parser takes it, but
//! not the few its INSERT grammar reads where a table name goes); integers and decimals
//! with an optional leading `-`; single-quoted strings (`''` is a quote, a backslash is itself);
//! `NULL`, `TRUE`, `FALSE`; spaces, tabs and newlines between tokens; one optional `;` at the
//! end. A value is what the general path evaluates the same literal to (`bind/values.rs`
//! `eval_const`): a number without a point is an INTEGER unless it overflows one, then a FLOAT.
//! Errors are never reported here: a text this reader refuses is read again by the parser,
//! whose error it gets.

use crate::types::Value;

/// An `INSERT` (or `UPSERT`) of literal rows.
#[derive(Debug, PartialEq)]
pub struct LiteralInsert {
    /// The table, lower-cased.
    pub table: String,
    /// The columns named, lower-cased; empty when none are.
    pub columns: Vec<String>,
    /// `UPSERT INTO`.
    pub upsert: bool,
    /// The rows' values.
    pub rows: Vec<Vec<Value>>,
}

/// `sql` read as an INSERT of literal rows, or `None` when it is anything else.
pub fn literal_insert(sql: &str) -> Option<LiteralInsert> {
    let mut r = Reader {
        s: sql.as_bytes(),
        at: 0,
    };
    let upsert = match r.word()?.to_ascii_uppercase().as_str() {
        "INSERT" => false,
        "UPSERT" => true,
        _ => return None,
    };
    r.keyword("INTO")?;
    let table = r.name()?;
    if TABLE_PLACE.iter().any(|k| table.eq_ignore_ascii_case(k)) {
        return None;
    }
    let mut columns = Vec::new();
    if r.eat(b'(') {
        loop {
            columns.push(r.name()?);
            if !r.eat(b',') {
                break;
            }
        }
        r.expect(b')')?;
    }
    r.keyword("VALUES")?;
    let mut rows = Vec::new();
    loop {
        r.expect(b'(')?;
        let mut row = Vec::with_capacity(columns.len().max(1));
        loop {
            row.push(r.value()?);
            if !r.eat(b',') {
                break;
            }
        }
        r.expect(b')')?;
        rows.push(row);
        if !r.eat(b',') {
            break;
        }
    }
    r.eat(b';');
    r.skip_space();
    (r.at == r.s.len()).then_some(LiteralInsert {
        table,
        columns,
        upsert,
        rows,
    })
}

/// Words the parser's INSERT grammar reads where a table name goes (`INSERT INTO TABLE t`,
/// `INTO FUNCTION f(...)`, `INTO LOCAL DIRECTORY ...`): never taken as a table's name here.
const TABLE_PLACE: [&str; 9] = [
    "TABLE",
    "FUNCTION",
    "LOCAL",
    "DIRECTORY",
    "OVERWRITE",
    "DEFAULT",
    "VALUES",
    "SELECT",
    "WITH",
];

struct Reader<'a> {
    s: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn skip_space(&mut self) {
        while self
            .s
            .get(self.at)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.at += 1;
        }
    }

    /// The next byte after spaces is `c`: consumed.
    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.s.get(self.at) == Some(&c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        self.eat(c).then_some(())
    }

    /// An unquoted word: a letter or `_`, then letters, digits and `_`.
    fn word(&mut self) -> Option<&str> {
        self.skip_space();
        let start = self.at;
        let first = *self.s.get(self.at)?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        while self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.at += 1;
        }
        // ASCII only, so a valid str.
        std::str::from_utf8(&self.s[start..self.at]).ok()
    }

    fn keyword(&mut self, k: &str) -> Option<()> {
        self.word()?.eq_ignore_ascii_case(k).then_some(())
    }

    /// A table or column name, lower-cased: any word (the parser takes keywords as names).
    fn name(&mut self) -> Option<String> {
        Some(self.word()?.to_ascii_lowercase())
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_space();
        match *self.s.get(self.at)? {
            b'\'' => self.string().map(Value::Varchar),
            b'-' => {
                self.at += 1;
                // A minus directly before the digits (anything else: the general parser).
                if !self.s.get(self.at)?.is_ascii_digit() {
                    return None;
                }
                match self.number()? {
                    Value::Integer(i) => i.checked_neg().map(Value::Integer),
                    Value::Float(f) => Some(Value::Float(-f)),
                    _ => None,
                }
            }
            c if c.is_ascii_digit() => self.number(),
            _ => match self.word()?.to_ascii_uppercase().as_str() {
                "NULL" => Some(Value::Null),
                "TRUE" => Some(Value::Boolean(true)),
                "FALSE" => Some(Value::Boolean(false)),
                _ => None,
            },
        }
    }

    /// Digits, optionally a point and more digits; not followed by a letter, `_`, `.` or `e`.
    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        let digits = |r: &mut Self| {
            while r.s.get(r.at).is_some_and(u8::is_ascii_digit) {
                r.at += 1;
            }
        };
        digits(self);
        let mut point = false;
        if self.s.get(self.at) == Some(&b'.') {
            point = true;
            self.at += 1;
            let before = self.at;
            digits(self);
            if self.at == before {
                return None;
            }
        }
        if self
            .s
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
        {
            return None;
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).ok()?;
        if !point {
            if let Ok(i) = text.parse::<i64>() {
                return Some(Value::Integer(i));
            }
        }
        text.parse::<f64>().ok().map(Value::Float)
    }

    /// A single-quoted string, `''` standing for a quote.
    fn string(&mut self) -> Option<String> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let rest = &self.s[self.at..];
            let quote = rest.iter().position(|c| *c == b'\'')?;
            out.extend_from_slice(&rest[..quote]);
            self.at += quote + 1;
            if self.s.get(self.at) == Some(&b'\'') {
                out.push(b'\'');
                self.at += 1;
            } else {
                // Cut at quotes only, so whole UTF-8 sequences.
                return String::from_utf8(out).ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Every text the fast reader takes gives the rows the general parser's path evaluates.
    #[test]
    fn reads_what_the_parser_reads() {
        for sql in [
            "INSERT INTO t (id, s) VALUES (1, 'a'), (-2, 'it''s'), (3, NULL)",
            "insert into T values (1.5, -0.25, TRUE, false, null, 'x\\y', 'é ''q''')",
            "UPSERT INTO t (a) VALUES (9223372036854775807), (9223372036854775808);",
            "INSERT INTO t(a,b)VALUES(1,2),(3,4) ;  \n",
            "INSERT INTO t (a) VALUES (-9223372036854775807)",
            "INSERT INTO t (id, name, value, data, type, select, key) VALUES (1, 2, 3, 4, 5, 6, 7)",
            "INSERT INTO name (id) VALUES (1)",
        ] {
            let fast = literal_insert(sql).unwrap_or_else(|| panic!("not read: {sql}"));
            let parsed = crate::parse::parse(sql, &HashMap::new()).unwrap();
            let [datafusion::sql::sqlparser::ast::Statement::Insert(ins)] =
                parsed.statements.as_slice()
            else {
                panic!("{sql}: not one INSERT");
            };
            let source = ins.source.as_ref().unwrap();
            let datafusion::sql::sqlparser::ast::SetExpr::Values(values) = source.body.as_ref()
            else {
                panic!("{sql}: not VALUES");
            };
            let rows: Vec<Vec<Value>> = values
                .rows
                .iter()
                .map(|r| {
                    r.content
                        .iter()
                        .map(|e| crate::bind::values::eval_const(e).unwrap())
                        .collect()
                })
                .collect();
            assert_eq!(fast.rows, rows, "{sql}");
            assert_eq!(fast.table, ins.table.to_string().to_lowercase(), "{sql}");
            let columns: Vec<String> = ins.columns.iter().map(|c| c.to_string()).collect();
            assert_eq!(fast.columns, columns, "{sql}");
            assert_eq!(fast.upsert, ins.replace_into, "{sql}");
        }
    }

    /// Anything outside the subset is left to the general parser.
    #[test]
    fn leaves_the_rest_to_the_parser() {
        for sql in [
            "INSERT INTO t (a) VALUES (@p)",
            "INSERT INTO t (a) VALUES (1 + 2)",
            "INSERT INTO t (a) VALUES (1e3)",
            "INSERT INTO t (a) VALUES (.5)",
            "INSERT INTO t (a) VALUES ('x'::JSON)",
            "INSERT INTO t (a) VALUES (x'ff')",
            "INSERT INTO t (a) VALUES (- 1)",
            "INSERT INTO t (a) VALUES (1) ON CONFLICT DO NOTHING",
            "INSERT INTO t (a) VALUES (1); INSERT INTO t (a) VALUES (2)",
            "INSERT INTO t (a) VALUES (1) -- comment",
            "INSERT INTO \"t\" (a) VALUES (1)",
            "INSERT INTO db.t (a) VALUES (1)",
            "INSERT INTO table (a) VALUES (1)",
            "INSERT INTO values (a) VALUES (1)",
            "INSERT INTO t (a) SELECT 1",
            "INSERT INTO t (a) VALUES ('unterminated)",
            "INSERT INTO t (a) VALUES (1",
            "SELECT 1",
        ] {
            assert_eq!(literal_insert(sql), None, "{sql}");
        }
    }
}
