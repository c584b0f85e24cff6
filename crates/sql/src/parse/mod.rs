//! From immudb's SQL text to sqlparser statements.
//!
//! immudb's dialect is close to generic SQL but not quite. We tokenize with sqlparser's
//! tokenizer (generic dialect), rewrite the few immudb forms into standard ones, and parse the
//! rewritten tokens:
//!
//! - identifiers are case-insensitive: every unquoted and quoted identifier is folded to lower case;
//! - `TYPE[n]` becomes `TYPE(n)` (the store then allows a size on VARCHAR and BLOB only);
//! - `PRIMARY KEY col` becomes `PRIMARY KEY (col)`;
//! - `UPSERT INTO` becomes `REPLACE INTO` (the statement's `replace_into` flag);
//! - `@name` parameters become placeholders ([`parse_template`]), in periods' instants too;
//!   [`bind`] / [`bind_into`] replace them in the parsed trees by typed literal expressions of
//!   their values (never by text), so that a statement run many times with new parameters is
//!   parsed once;
//! - a time-travel period after a table name (`t SINCE TX 3 UNTIL TX 5`, with SINCE | AFTER and
//!   UNTIL | BEFORE, TX n or a timestamp) is cut out and recorded with the location of the name
//!   it follows; the name stays as written;
//! - `(HISTORY OF t)` becomes `t`, recorded the same way as reading every version (with `_rev`);
//! - `DROP INDEX ON t (a, b)` becomes `DROP INDEX "t(a,b)"`.
//!
//! The rewritten tokens keep their source tokens' locations, so the names the parser builds
//! carry them: the binder binds each table reference to its period by location
//! (`bind/sources.rs`), and syntax errors say where they are.
//!
//! What does not parse is a `parsing error: ...` naming what was found.
//!
//! [`build`]: expressions built as syntax trees, for the stages above that add to a statement;
//! [`insert`]: an INSERT of literal rows read straight into values (the bulk-load fast path).

pub(crate) mod build;
pub(crate) mod insert;

use std::collections::HashMap;

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{
    Location, Span, Token, TokenWithSpan, Tokenizer, Word,
};

use crate::error::{Result, SqlError};
use crate::types::Value;

/// One bound of a period: which keyword, and the tokens of its instant.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodBound {
    /// SINCE, AFTER, UNTIL or BEFORE.
    pub keyword: String,
    /// `TX n` (true) or a timestamp (false).
    pub tx: bool,
    /// The instant's expression.
    pub expr: datafusion::sql::sqlparser::ast::Expr,
}

/// What a table reference reads other than the current state, cut out of the text: a
/// time-travel period (`t SINCE TX 3 UNTIL TX 5`), or every version (`(HISTORY OF t)`). It
/// belongs to the table reference whose name starts at `at` in the text (the parser keeps the
/// tokens' locations on the names it builds); the binder binds each reference to its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// The SINCE or AFTER bound; `None` when the period has none.
    pub start: Option<PeriodBound>,
    /// The UNTIL or BEFORE bound; `None` when the period has none.
    pub end: Option<PeriodBound>,
    /// `(HISTORY OF t)`: every committed version of every row, with `_rev` (no bounds).
    pub history: bool,
    /// Where the table reference's name starts in the text.
    pub at: Location,
}

impl Default for Period {
    fn default() -> Period {
        Period {
            start: None,
            end: None,
            history: false,
            at: Location::empty(),
        }
    }
}

/// Parsed statements and the periods their table references point to.
#[derive(Debug)]
pub struct Parsed {
    /// The request's statements, in order.
    pub statements: Vec<Statement>,
    /// The periods (and HISTORY OF) cut out of table references, each with its reference's
    /// location.
    pub periods: Vec<Period>,
    /// The `USE INDEX ON` hints cut out of data sources, in text order.
    pub hints: Vec<IndexHint>,
}

/// A `USE INDEX ON (cols)` cut out of a data source: the index a query's rows come from, so
/// their order when the query has no ORDER BY.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexHint {
    /// The word before the hint: the table's name or alias, lower-cased.
    pub source: String,
    /// The hinted index's columns, lower-cased, as written.
    pub columns: Vec<String>,
}

fn parse_err(msg: impl std::fmt::Display) -> SqlError {
    SqlError::Parsing(msg.to_string())
}

fn upper(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_uppercase()),
        _ => None,
    }
}

fn word(value: &str) -> Token {
    Token::make_word(value, None)
}

/// Words that end a period's instant expression.
const STOP: [&str; 22] = [
    "SINCE", "AFTER", "UNTIL", "BEFORE", "AS", "WHERE", "JOIN", "INNER", "LEFT", "RIGHT", "FULL",
    "CROSS", "ON", "GROUP", "ORDER", "LIMIT", "OFFSET", "HAVING", "UNION", "USE", "SET", "VALUES",
];

/// Parses immudb SQL and binds its named parameters ([`parse_template`], then [`bind_into`]).
pub fn parse(sql: &str, params: &HashMap<String, Value>) -> Result<Parsed> {
    let mut parsed = parse_template(sql)?;
    bind_into(&mut parsed, params)?;
    Ok(parsed)
}

/// Parses immudb SQL keeping `@name` parameters as placeholders (in periods' instants too),
/// for [`bind`]: a statement run many times with new parameters is parsed once.
pub fn parse_template(sql: &str) -> Result<Parsed> {
    parse_inner(sql)
}

/// The statements of a template with every placeholder replaced by its parameter's value.
pub fn bind(template: &Parsed, params: &HashMap<String, Value>) -> Result<Parsed> {
    let mut parsed = Parsed {
        statements: template.statements.clone(),
        periods: template.periods.clone(),
        hints: template.hints.clone(),
    };
    bind_into(&mut parsed, params)?;
    Ok(parsed)
}

/// Replaces every placeholder of `parsed` (statements and periods' instants) by the literal
/// expression of its parameter's value: values are bound as typed literals in the trees,
/// never as text.
pub fn bind_into(parsed: &mut Parsed, params: &HashMap<String, Value>) -> Result<()> {
    use datafusion::sql::sqlparser::ast::{visit_expressions_mut, Expr, Value as SqlValue};
    use std::ops::ControlFlow;
    let replace = |e: &mut Expr| {
        if let Expr::Value(v) = e {
            if let SqlValue::Placeholder(p) = &v.value {
                if let Some(name) = p.strip_prefix('@') {
                    match params.get(name) {
                        Some(value) => *e = literal_expr(value),
                        None => {
                            return ControlFlow::Break(SqlError::MissingParameter(name.to_string()))
                        }
                    }
                }
            }
        }
        ControlFlow::Continue(())
    };
    for stmt in &mut parsed.statements {
        if let ControlFlow::Break(err) = visit_expressions_mut(stmt, replace) {
            return Err(err);
        }
    }
    for period in &mut parsed.periods {
        for bound in [&mut period.start, &mut period.end].into_iter().flatten() {
            if let ControlFlow::Break(err) = visit_expressions_mut(&mut bound.expr, replace) {
                return Err(err);
            }
        }
    }
    Ok(())
}

/// The literal expression of a parameter value.
pub(crate) fn literal_expr(v: &Value) -> datafusion::sql::sqlparser::ast::Expr {
    use datafusion::sql::sqlparser::ast::{Expr, Value as SqlValue};
    match v {
        Value::Null => Expr::value(SqlValue::Null),
        Value::Integer(i) => build::integer(*i),
        Value::Boolean(b) => build::boolean(*b),
        Value::Varchar(s) | Value::Json(s) => build::string(s),
        Value::Blob(b) => Expr::value(SqlValue::HexStringLiteral(
            b.iter().map(|x| format!("{x:02x}")).collect(),
        )),
        Value::Float(f) => {
            let s = format!("{f:?}");
            match s.strip_prefix('-') {
                Some(abs) => build::number(abs.to_string(), true),
                None => build::number(s, false),
            }
        }
        // Microseconds (`CAST(integer AS TIMESTAMP)` would read seconds).
        Value::Timestamp(us) => build::call("to_timestamp_micros", vec![build::integer(*us)]),
        Value::Uuid(u) => build::string(&crate::types::uuid_string(u)),
    }
}

fn parse_inner(sql: &str) -> Result<Parsed> {
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(parse_err)?;
    let toks: Vec<TokenWithSpan> = tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    let mut out: Vec<Token> = Vec::with_capacity(toks.len());
    // For each token of `out`, the source token it came from (that of the step that wrote it),
    // so that a syntax error can say where in the text it is.
    let mut origin: Vec<usize> = Vec::with_capacity(toks.len());
    let mut step = 0;
    let mut periods = Vec::new();
    let mut hints = Vec::new();
    let mut i = 0;
    let at = |i: usize| toks.get(i).map(|t| &t.token);
    while i < toks.len() {
        origin.truncate(out.len());
        origin.resize(out.len(), step);
        step = i;
        let t = &toks[i].token;
        match t {
            Token::Word(w) if w.value.starts_with('@') && w.quote_style.is_none() => {
                out.push(Token::Placeholder(w.value.to_lowercase()));
                i += 1;
                continue;
            }
            Token::LParen
                if at(i + 1).and_then(upper).as_deref() == Some("HISTORY")
                    && at(i + 2).and_then(upper).as_deref() == Some("OF")
                    && matches!(at(i + 3), Some(Token::Word(_)))
                    && at(i + 4) == Some(&Token::RParen) =>
            {
                // (HISTORY OF t) -> t, its reference marked as reading every version.
                if let Some(Token::Word(table)) = at(i + 3) {
                    out.push(fold(table));
                    periods.push(Period {
                        history: true,
                        at: toks[i + 3].span.start,
                        ..Period::default()
                    });
                    // The name's location is the table word's.
                    step = i + 3;
                }
                i += 5;
                continue;
            }
            Token::Word(w) => {
                let up = w.value.to_uppercase();
                // VARCHAR[n] -> VARCHAR(n)
                if matches!(
                    up.as_str(),
                    "VARCHAR"
                        | "BLOB"
                        | "JSON"
                        | "INTEGER"
                        | "BOOLEAN"
                        | "FLOAT"
                        | "TIMESTAMP"
                        | "UUID"
                ) && w.quote_style.is_none()
                    && at(i + 1) == Some(&Token::LBracket)
                    && matches!(at(i + 2), Some(Token::Number(..)))
                    && at(i + 3) == Some(&Token::RBracket)
                {
                    out.push(word(&up));
                    out.push(Token::LParen);
                    out.push(toks[i + 2].token.clone());
                    out.push(Token::RParen);
                    i += 4;
                    continue;
                }
                // PRIMARY KEY col -> PRIMARY KEY (col)
                if up == "KEY" && out.last().and_then(upper).as_deref() == Some("PRIMARY") {
                    if let Some(Token::Word(col)) = at(i + 1) {
                        out.push(word("KEY"));
                        out.push(Token::LParen);
                        out.push(fold(col));
                        out.push(Token::RParen);
                        i += 2;
                        continue;
                    }
                }
                // CREATE INDEX IF NOT EXISTS ON t (...): sqlparser wants a name there; immudb has none.
                if up == "ON" && out.len() >= 4 {
                    let tail: Vec<Option<String>> =
                        out[out.len() - 4..].iter().map(upper).collect();
                    if tail
                        == [
                            Some("INDEX".into()),
                            Some("IF".into()),
                            Some("NOT".into()),
                            Some("EXISTS".into()),
                        ]
                    {
                        out.push(Token::make_word("unnamed_index", None));
                    }
                }
                // DROP INDEX ON t (a, b) -> DROP INDEX "t(a,b)" (immudb names indexes by table and columns)
                if up == "ON"
                    && out.last().and_then(upper).as_deref() == Some("INDEX")
                    && out.len() >= 2
                    && upper(&out[out.len() - 2]).as_deref() == Some("DROP")
                {
                    if let (Some(Token::Word(table)), Some(Token::LParen)) = (at(i + 1), at(i + 2))
                    {
                        let mut cols = Vec::new();
                        let mut j = i + 3;
                        while let Some(Token::Word(c)) = at(j) {
                            cols.push(c.value.to_lowercase());
                            j += 1;
                            if at(j) == Some(&Token::Comma) {
                                j += 1;
                            }
                        }
                        if at(j) == Some(&Token::RParen) {
                            let name =
                                format!("{}({})", table.value.to_lowercase(), cols.join(","));
                            out.push(Token::make_word(&name, Some('"')));
                            i = j + 1;
                            continue;
                        }
                    }
                }
                // `USE INDEX ON (cols)` after a data source: cut out and kept as a hint. The
                // planner picks its own access path; the hint gives the rows' order when the
                // query has none (classic scans the hinted index).
                if up == "USE"
                    && w.quote_style.is_none()
                    && at(i + 1).and_then(upper).as_deref() == Some("INDEX")
                    && at(i + 2).and_then(upper).as_deref() == Some("ON")
                    && at(i + 3) == Some(&Token::LParen)
                {
                    let mut j = i + 4;
                    let mut columns = Vec::new();
                    while let Some(t) = at(j).filter(|t| !matches!(t, Token::RParen | Token::EOF)) {
                        if let Token::Word(c) = t {
                            columns.push(c.value.to_lowercase());
                        }
                        j += 1;
                    }
                    if at(j) == Some(&Token::RParen) {
                        if let Some(Token::Word(source)) = out.last() {
                            hints.push(IndexHint {
                                source: source.value.to_lowercase(),
                                columns,
                            });
                        }
                        i = j + 1;
                        continue;
                    }
                }
                if up == "UPSERT"
                    && w.quote_style.is_none()
                    && upper(at(i + 1).unwrap_or(&Token::EOF)).as_deref() == Some("INTO")
                {
                    out.push(word("REPLACE"));
                    i += 1;
                    continue;
                }
                // `SELECT FROM t`: classic's grammar needs a select list.
                if w.quote_style.is_none()
                    && up == "FROM"
                    && out.last().and_then(upper).as_deref() == Some("SELECT")
                {
                    return Err(parse_err(format!(
                        "syntax error: unexpected FROM at position {}",
                        offset(sql, toks[i].span.end)
                    )));
                }
                // A period after a table name.
                if w.quote_style.is_none()
                    && matches!(up.as_str(), "SINCE" | "AFTER" | "UNTIL" | "BEFORE")
                {
                    // The period belongs between the table and its alias: `t AS a BEFORE ...`
                    // (or `t a BEFORE ...`) is immudb's syntax error, not a table named `a`.
                    let n = out.len();
                    let after_alias = n >= 2
                        && matches!(out[n - 1], Token::Word(_))
                        && (upper(&out[n - 2]).as_deref() == Some("AS")
                            || (n >= 3
                                && matches!(out[n - 2], Token::Word(_))
                                && matches!(upper(&out[n - 3]).as_deref(), Some("FROM" | "JOIN"))));
                    if after_alias {
                        return Err(parse_err(format!(
                            "syntax error: unexpected {up} at position {}",
                            offset(sql, toks[i].span.end)
                        )));
                    }
                    // A period after `EVENTS(...)`, the event table function: the function
                    // is renamed as a table would be.
                    // The tokens so far all have their origin (see the loop's head).
                    let name_at = events_call_start(&out).or_else(|| {
                        matches!(out.last(), Some(Token::Word(_))).then(|| out.len() - 1)
                    });
                    if let Some(name_at) = name_at {
                        let (mut period, next) = read_period(&toks, i)?;
                        period.at = toks[origin[name_at]].span.start;
                        periods.push(period);
                        i = next;
                        continue;
                    }
                }
                out.push(fold(w));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    origin.truncate(out.len());
    origin.resize(out.len(), step);
    let (out, origin) = json_arrows(out, origin);
    // Each token with its source token's location: the names of table references keep
    // theirs, which binds them to their periods.
    // (Moved, not copied: a bulk INSERT's text is thousands of tokens.)
    let located: Vec<TokenWithSpan> = out
        .into_iter()
        .zip(&origin)
        .map(|(t, &o)| TokenWithSpan::new(t, toks.get(o).map_or(Span::empty(), |s| s.span)))
        .collect();
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(located);
    let statements = parser
        .parse_statements()
        .map_err(|e| syntax_error(e, sql, &toks, &origin, parser.index()))?;
    Ok(Parsed {
        statements,
        periods,
        hints,
    })
}

/// `doc -> 'key'` binds tighter than any other operator in immudb (`d->'a' = 'x'` compares the
/// field); sqlparser's generic dialect binds it looser than `=`. Each access becomes the call
/// `json_get(doc, 'key')` (`functions.rs`), chains nesting left to right.
fn json_arrows(tokens: Vec<Token>, origin: Vec<usize>) -> (Vec<Token>, Vec<usize>) {
    if !tokens.contains(&Token::Arrow) {
        return (tokens, origin);
    }
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len() + 8);
    let mut from: Vec<usize> = Vec::with_capacity(tokens.len() + 8);
    let mut i = 0;
    while i < tokens.len() {
        let key = match (&tokens[i], tokens.get(i + 1)) {
            (Token::Arrow, Some(k @ Token::SingleQuotedString(_))) => k.clone(),
            _ => {
                out.push(tokens[i].clone());
                from.push(origin[i]);
                i += 1;
                continue;
            }
        };
        // The operand before the arrow: a (qualified) column, or a call ending the chain.
        let mut start = out.len();
        match out.last() {
            Some(Token::Word(_)) => {
                start -= 1;
                while start >= 2
                    && out[start - 1] == Token::Period
                    && matches!(out[start - 2], Token::Word(_))
                {
                    start -= 2;
                }
            }
            Some(Token::RParen) => {
                let mut depth = 0;
                while start > 0 {
                    start -= 1;
                    match out[start] {
                        Token::RParen => depth += 1,
                        Token::LParen => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        break;
                    }
                }
                if start > 0 && matches!(out[start - 1], Token::Word(_)) {
                    start -= 1;
                }
            }
            _ => {
                out.push(tokens[i].clone());
                from.push(origin[i]);
                i += 1;
                continue;
            }
        }
        let operand = out.split_off(start);
        let operand_from = from.split_off(start);
        let arrow = origin[i];
        out.push(Token::make_word("json_get", None));
        out.push(Token::LParen);
        from.extend([arrow, arrow]);
        out.extend(operand);
        from.extend(operand_from);
        out.push(Token::Comma);
        out.push(key);
        out.push(Token::RParen);
        from.extend([arrow, origin[i + 1], origin[i + 1]]);
        i += 2;
    }
    (out, from)
}

/// sqlparser's error in immudb's words: `syntax error: unexpected X, expecting Y at position
/// N`, N the byte offset in `sql` just past the token the parser stopped at (where the parser
/// says it is; else `index`, its position in the rewritten tokens, which `origin` maps to a
/// token of `toks`, the source's tokens).
fn syntax_error(
    e: datafusion::sql::sqlparser::parser::ParserError,
    sql: &str,
    toks: &[TokenWithSpan],
    origin: &[usize],
    index: usize,
) -> SqlError {
    use datafusion::sql::sqlparser::parser::ParserError;
    let msg = match &e {
        ParserError::ParserError(m) => m.as_str(),
        _ => return parse_err(e),
    };
    let Some((expected, found)) = msg
        .strip_prefix("Expected: ")
        .and_then(|m| m.split_once(", found: "))
    else {
        return parse_err(e);
    };
    // The parser names where the found token starts (the tokens carry their source's
    // locations); without that, the token before its position (the one it consumed last)
    // is taken when that source token reads as the found one.
    let (found, start) = match found.rsplit_once(" at Line: ") {
        Some((found, location)) => (
            found,
            location
                .split_once(", Column: ")
                .and_then(|(l, c)| Some(Location::new(l.parse().ok()?, c.parse().ok()?))),
        ),
        None => (found, None),
    };
    let token = start
        .and_then(|at| toks.iter().find(|t| t.span.start == at))
        .or_else(|| {
            let t = toks.get(*origin.get(index.checked_sub(1)?)?)?;
            (t.token.to_string() == found).then_some(t)
        });
    let unexpected = match found {
        "EOF" => "$end",
        other => other,
    };
    // The position is just past that source token; the end of the text when there is none.
    let position = token.map_or(sql.len(), |t| offset(sql, t.span.end));
    SqlError::Parsing(format!(
        "syntax error: unexpected {unexpected}, expecting {expected} at position {position}"
    ))
}

/// The byte offset in `sql` of a location (1-based line and column, in characters).
fn offset(sql: &str, Location { line, column }: Location) -> usize {
    let mut at = 0;
    for (n, l) in sql.split_inclusive('\n').enumerate() {
        if n as u64 + 1 == line {
            let chars = (column.saturating_sub(1)) as usize;
            return at + l.char_indices().nth(chars).map_or(l.len(), |(b, _)| b);
        }
        at += l.len();
    }
    sql.len()
}

/// Identifiers fold to lower case (quoted ones too, as immudb does); so do keywords, which
/// match case-insensitively anyway, so that names that are also keywords (`TABLES()`) fold alike.
fn fold(w: &Word) -> Token {
    Token::make_word(&w.value.to_lowercase(), w.quote_style)
}

/// Where the name `EVENTS` of a call `EVENTS(...)` ending the tokens so far is, if they end so.
fn events_call_start(out: &[Token]) -> Option<usize> {
    if !matches!(out.last(), Some(Token::RParen)) {
        return None;
    }
    let mut depth = 0usize;
    for j in (0..out.len()).rev() {
        match out[j] {
            Token::RParen => depth += 1,
            Token::LParen => {
                depth -= 1;
                if depth == 0 {
                    return match out.get(j.checked_sub(1)?)? {
                        Token::Word(w)
                            if w.quote_style.is_none()
                                && w.value.eq_ignore_ascii_case("events") =>
                        {
                            Some(j - 1)
                        }
                        _ => None,
                    };
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads `[SINCE|AFTER instant] [UNTIL|BEFORE instant]` from token `i`.
fn read_period(toks: &[TokenWithSpan], mut i: usize) -> Result<(Period, usize)> {
    let mut p = Period::default();
    while let Some(kw) = toks.get(i).and_then(|t| upper(&t.token)) {
        let is_start = matches!(kw.as_str(), "SINCE" | "AFTER");
        if !is_start && !matches!(kw.as_str(), "UNTIL" | "BEFORE") {
            break;
        }
        if (is_start && (p.start.is_some() || p.end.is_some())) || (!is_start && p.end.is_some()) {
            return Err(parse_err(format!("unexpected {kw} in a period")));
        }
        i += 1;
        let tx = toks.get(i).and_then(|t| upper(&t.token)).as_deref() == Some("TX");
        if tx {
            i += 1;
        }
        // The instant runs until a stop word, a closing token, or an alias after an operand.
        let mut depth = 0i32;
        let mut expr = Vec::new();
        let mut prev_operand = false;
        while let Some(t) = toks.get(i).map(|t| &t.token) {
            match t {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => break,
                Token::RParen => depth -= 1,
                Token::Comma | Token::SemiColon | Token::EOF if depth == 0 => break,
                Token::Word(w)
                    if depth == 0
                        && w.quote_style.is_none()
                        && STOP.contains(&w.value.to_uppercase().as_str()) =>
                {
                    break
                }
                Token::Word(w)
                    if depth == 0
                        && prev_operand
                        && !w.value.starts_with('@')
                        && !is_operator_word(&w.value) =>
                {
                    break
                }
                _ => {}
            }
            prev_operand = matches!(
                t,
                Token::Number(..) | Token::SingleQuotedString(_) | Token::RParen | Token::Word(_)
            ) && !matches!(t, Token::Word(w) if is_operator_word(&w.value));
            match t {
                Token::Word(w) if w.value.starts_with('@') => {
                    expr.push(Token::Placeholder(w.value.to_lowercase()))
                }
                other => expr.push(other.clone()),
            }
            i += 1;
        }
        if expr.is_empty() {
            return Err(parse_err(format!("{kw} needs an instant")));
        }
        let bound = PeriodBound {
            keyword: kw.clone(),
            tx,
            expr: instant(expr)?,
        };
        if is_start {
            p.start = Some(bound);
        } else {
            p.end = Some(bound);
        }
    }
    Ok((p, i))
}

/// A period's instant, parsed from its tokens: one whole expression.
fn instant(tokens: Vec<Token>) -> Result<datafusion::sql::sqlparser::ast::Expr> {
    let mut parser = Parser::new(&GenericDialect {}).with_tokens(tokens);
    let expr = parser.parse_expr().map_err(parse_err)?;
    match parser.peek_token().token {
        Token::EOF => Ok(expr),
        other => Err(parse_err(format!(
            "unexpected {other} in a period's instant"
        ))),
    }
}

fn is_operator_word(w: &str) -> bool {
    matches!(
        w.to_uppercase().as_str(),
        "AND" | "OR" | "NOT" | "CAST" | "TIMESTAMP" | "NOW" | "INTERVAL"
    )
}
