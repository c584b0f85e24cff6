//! `stele sql`: requests from the arguments (`-e`), from stdin, or typed at a shell with line
//! editing and a history file. One session throughout, so `BEGIN` ... `COMMIT` may span
//! requests and prompts. A request ends at a line whose last `;` is outside quotes and
//! comments. Lines starting with `\` at the start of a request are shell commands:
//! `\d` lists tables, `\d TABLE` shows a table's columns and indexes, `\q` quits, `\?` helps.
//!
//! Errors print the server's (or engine's) message and leave the session usable; a script's
//! exit status says whether every request succeeded.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Instant;

use crate::table::{self, Format, Outcome};
use crate::SqlArgs;

/// An SQL session, embedded or remote.
pub trait Session {
    /// Runs one request (one or more statements).
    fn execute(&mut self, text: &str) -> Result<Vec<Outcome>, String>;
    /// The database's tables.
    fn tables(&mut self) -> Result<Outcome, String>;
    /// A table's columns and indexes.
    fn describe(&mut self, table: &str) -> Result<Outcome, String>;
    /// Whether a transaction is open.
    fn in_transaction(&self) -> bool;
}

const HELP: &str = "\
End each request with ';' (it may span lines). BEGIN ... COMMIT spans requests.
  \\d          list tables
  \\d TABLE    a table's columns and indexes
  \\q          quit (an open transaction is rolled back)
  \\?          this help";

/// Runs `stele sql` on `session`; `history` is the shell's history file.
pub fn run(
    session: &mut dyn Session,
    args: SqlArgs,
    history: Option<PathBuf>,
) -> Result<(), String> {
    let format = args.format;
    let one = args
        .execute
        .or_else(|| (!args.statements.is_empty()).then(|| args.statements.join(" ")));
    if let Some(text) = one {
        let ok = request(session, &text, format);
        if session.in_transaction() {
            return Err("the request left a transaction open; it was not committed".into());
        }
        return if ok {
            Ok(())
        } else {
            Err("the request failed".into())
        };
    }
    if std::io::stdin().is_terminal() {
        return interactive(session, format, history);
    }
    script(session, format)
}

/// Runs one request and prints what it did, or its error. Returns whether it succeeded.
fn request(session: &mut dyn Session, text: &str, format: Format) -> bool {
    let trimmed = text.trim();
    if let Some(command) = trimmed.strip_prefix('\\') {
        return backslash(session, command, format);
    }
    let started = Instant::now();
    match session.execute(text) {
        Ok(outcomes) => {
            print!(
                "{}",
                table::render(&outcomes, format, Some(started.elapsed()))
            );
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

fn backslash(session: &mut dyn Session, command: &str, format: Format) -> bool {
    let mut words = command.trim_end_matches(';').split_whitespace();
    let started = Instant::now();
    let result = match (words.next(), words.next()) {
        (Some("d"), None) => session.tables().map(|o| vec![o]),
        (Some("d"), Some(t)) => describe(session, t),
        (Some("?" | "h" | "help"), _) => {
            println!("{HELP}");
            return true;
        }
        _ => Err(format!("unknown command \\{command}: \\? lists them")),
    };
    match result {
        Ok(o) => {
            print!("{}", table::render(&o, format, Some(started.elapsed())));
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

/// `\\d TABLE`: the table's columns, then its indexes (the catalog function `INDEXES`).
fn describe(session: &mut dyn Session, table: &str) -> Result<Vec<Outcome>, String> {
    let mut out = vec![session.describe(table)?];
    // A name that got this far is a table's: an identifier, safe inside quotes.
    if table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        out.extend(session.execute(&format!("SELECT * FROM INDEXES('{table}')"))?);
    }
    Ok(out)
}

/// Requests from stdin, each ending at a complete `;` line (or a `\` command line).
fn script(session: &mut dyn Session, format: Format) -> Result<(), String> {
    use std::io::BufRead as _;
    let mut failed = false;
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        if pending.trim().is_empty() && line.trim_start().starts_with('\\') {
            failed |= !request(session, &line, format);
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if stele_client::sql::is_complete(&pending) {
            failed |= !request(session, &pending, format);
            pending.clear();
        }
    }
    if !pending.trim().is_empty() {
        failed |= !request(session, &pending, format);
    }
    if session.in_transaction() {
        return Err("input ended inside a transaction; it was not committed".into());
    }
    match failed {
        true => Err("some requests failed".into()),
        false => Ok(()),
    }
}

/// The shell on a terminal: line editing, history, prompts that show an open transaction.
fn interactive(
    session: &mut dyn Session,
    format: Format,
    history: Option<PathBuf>,
) -> Result<(), String> {
    use rustyline::error::ReadlineError;
    let mut editor = rustyline::DefaultEditor::new().map_err(|e| format!("terminal: {e}"))?;
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("stele sql: end requests with ';'; \\? for help, \\q to quit");
    let mut pending = String::new();
    loop {
        let prompt = match (pending.is_empty(), session.in_transaction()) {
            (true, false) => "stele> ",
            (true, true) => "stele*> ",
            (false, _) => "   ...> ",
        };
        match editor.readline(prompt) {
            Ok(line) => {
                if pending.is_empty() && line.trim_start().starts_with('\\') {
                    let _ = editor.add_history_entry(line.as_str());
                    if matches!(line.trim(), "\\q" | "\\quit") {
                        break;
                    }
                    request(session, &line, format);
                    continue;
                }
                pending.push_str(&line);
                pending.push('\n');
                if stele_client::sql::is_complete(&pending) {
                    let _ = editor.add_history_entry(pending.trim_end());
                    request(session, &pending, format);
                    pending.clear();
                }
            }
            Err(ReadlineError::Interrupted) => pending.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(format!("terminal: {e}")),
        }
    }
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = editor.save_history(h);
    }
    if session.in_transaction() {
        eprintln!("the open transaction was not committed");
    }
    Ok(())
}
