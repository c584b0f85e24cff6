//! `stele`: the one binary.
//!
//! For now it works on embedded ledgers in a data directory (one sub-directory a database):
//! `serve` opens the default database and reports its state (the gRPC server comes with a
//! later issue), `verify` audits a database, the key/value commands read and write it with
//! immudb's key/value model, and `sql` runs SQL on it.

use std::path::PathBuf;
use std::process::ExitCode;

use stele_ledger::kv::ReadAt;
use stele_ledger::{HistoryQuery, Ledger, LedgerError, Options, ScanQuery};

const USAGE: &str = "\
usage: stele [--data-dir DIR] [--db NAME] COMMAND

commands:
  serve                 open the database and report its state
  state                 print the current tx id and state hash (Alh)
  verify                recompute every hash from the stored bytes; names the first bad tx
  set KEY VALUE         write a key
  get KEY [--at-tx N | --revision N]
  delete KEY
  history KEY [--desc] [--limit N]
  scan [PREFIX] [--desc] [--limit N]
  tx ID                 show a transaction's header and keys
  sql [STATEMENTS]      run SQL (immudb's dialect) in one session: the argument as one
                        request, or else stdin, a request per statement ending with ';'
  slt FILE... [--label NAME]...
                        run sqllogictest files, each on a fresh temporary database

defaults: --data-dir ./data, --db defaultdb";

struct Cli {
    data_dir: PathBuf,
    db: String,
    command: String,
    args: Vec<String>,
}

fn parse() -> Result<Cli, String> {
    let mut data_dir = PathBuf::from("data");
    let mut db = "defaultdb".to_string();
    let mut rest = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data-dir" => data_dir = it.next().ok_or("--data-dir needs a directory")?.into(),
            "--db" => db = it.next().ok_or("--db needs a database name")?,
            "-h" | "--help" => return Err(String::new()),
            _ => rest.push(a),
        }
    }
    if db.is_empty()
        || !db
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "invalid database name {db:?}: use ASCII letters, digits, '_' and '-'"
        ));
    }
    if rest.is_empty() {
        return Err(String::new());
    }
    let command = rest.remove(0);
    Ok(Cli {
        data_dir,
        db,
        command,
        args: rest,
    })
}

/// Takes `--flag VALUE` out of `args`.
fn flag(args: &mut Vec<String>, name: &str) -> Result<Option<String>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) if i + 1 < args.len() => {
            let v = args.remove(i + 1);
            args.remove(i);
            Ok(Some(v))
        }
        Some(_) => Err(format!("{name} needs a value")),
    }
}

fn switch(args: &mut Vec<String>, name: &str) -> bool {
    let found = args.iter().position(|a| a == name);
    if let Some(i) = found {
        args.remove(i);
    }
    found.is_some()
}

fn number<T: std::str::FromStr>(v: Option<String>, name: &str) -> Result<Option<T>, String> {
    v.map(|s| {
        s.parse()
            .map_err(|_| format!("{name} needs a number, got {s:?}"))
    })
    .transpose()
}

fn show(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap_or_else(|_| format!("0x{}", hex::encode(b)))
}

/// `stele slt`: prints each failure with its line, then `N passed, M failed`.
fn run_slt(mut args: Vec<String>) -> Result<(), String> {
    let mut labels = Vec::new();
    while let Some(l) = flag(&mut args, "--label")? {
        labels.push(l);
    }
    if args.is_empty() {
        return Err("slt expects at least one FILE".into());
    }
    let mut total = stele_sql::slt::Report::default();
    for f in &args {
        total.add(stele_sql::slt::run_file(std::path::Path::new(f), &labels));
    }
    for f in &total.failures {
        println!("{f}\n");
    }
    println!("{} passed, {} failed", total.passed, total.failed);
    if total.failed > 0 {
        return Err(format!("{} records failed", total.failed));
    }
    Ok(())
}

/// Prints what one SQL request did: each statement's rows (a header of column names, then
/// tab-separated values as `stele slt` renders them) or its count, then the txs committed.
fn print_sql(result: &stele_sql::ExecResult) {
    for out in &result.outputs {
        match out {
            stele_sql::Output::Rows { columns, rows } => {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                println!("{}", names.join("\t"));
                for r in rows {
                    let cells: Vec<String> = r.iter().map(stele_sql::slt::render).collect();
                    println!("{}", cells.join("\t"));
                }
                println!(
                    "({} row{})",
                    rows.len(),
                    if rows.len() == 1 { "" } else { "s" }
                );
            }
            stele_sql::Output::Done(o) => println!("{} row(s) updated", o.updated_rows),
        }
    }
    for h in &result.committed {
        println!("committed tx {}", h.id);
    }
    if result.in_transaction {
        println!("(transaction open)");
    }
}

/// `stele sql`: one request from the arguments, or one request per `;`-terminated statement
/// read from stdin, all in one session (so BEGIN ... COMMIT may span requests).
fn run_sql(ledger: Ledger, args: Vec<String>) -> Result<(), String> {
    use std::collections::HashMap;
    use std::io::BufRead;
    let engine = stele_sql::Engine::new(std::sync::Arc::new(ledger)).map_err(|e| e.to_string())?;
    let mut session = engine.session();
    let no_params = HashMap::new();
    if !args.is_empty() {
        let result = session
            .execute(&args.join(" "), &no_params)
            .map_err(|e| e.to_string())?;
        print_sql(&result);
        return Ok(());
    }
    let mut failed = false;
    let mut run = |sql: &str| match session.execute(sql, &no_params) {
        Ok(result) => print_sql(&result),
        Err(e) => {
            eprintln!("error: {e}");
            failed = true;
        }
    };
    let mut pending = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| format!("reading stdin: {e}"))?;
        pending.push_str(&line);
        pending.push('\n');
        if line.trim_end().ends_with(';') {
            run(&pending);
            pending.clear();
        }
    }
    if !pending.trim().is_empty() {
        run(&pending);
    }
    if session.in_transaction() {
        eprintln!("error: input ended inside a transaction; it was not committed");
        failed = true;
    }
    match failed {
        true => Err("some statements failed".into()),
        false => Ok(()),
    }
}

fn run(cli: Cli) -> Result<(), String> {
    if cli.command == "slt" {
        return run_slt(cli.args);
    }
    let path = cli.data_dir.join(&cli.db);
    let ledger = Ledger::open(&path, Options::default())
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    if cli.command == "sql" {
        return run_sql(ledger, cli.args);
    }
    let err = |e: LedgerError| e.to_string();
    let mut args = cli.args;
    let positional = |args: &Vec<String>, n: usize, what: &str| -> Result<(), String> {
        if args.len() != n {
            return Err(format!("{} expects {what}", cli.command));
        }
        Ok(())
    };
    match cli.command.as_str() {
        "serve" | "state" => {
            let s = ledger.state();
            println!("database {} at {}", cli.db, path.display());
            println!("tx {}  state hash {}", s.tx_id, hex::encode(s.alh));
            if cli.command == "serve" {
                println!(
                    "the gRPC server is not part of this build yet: use the key/value commands"
                );
            }
        }
        "verify" => {
            let r = ledger.verify().map_err(err)?;
            println!(
                "verified {} txs, {} entries; state tx {} hash {}",
                r.txs,
                r.entries,
                r.state.tx_id,
                hex::encode(r.state.alh)
            );
        }
        "set" => {
            positional(&args, 2, "KEY VALUE")?;
            let h = ledger
                .kv()
                .set(vec![(
                    args[0].clone().into_bytes(),
                    args[1].clone().into_bytes(),
                )])
                .map_err(err)?;
            println!("tx {}", h.id);
        }
        "get" => {
            let at_tx = number(flag(&mut args, "--at-tx")?, "--at-tx")?;
            let rev = number(flag(&mut args, "--revision")?, "--revision")?;
            positional(&args, 1, "KEY")?;
            let at = match (at_tx, rev) {
                (Some(_), Some(_)) => return Err("use either --at-tx or --revision".into()),
                (Some(t), None) => ReadAt::AtTx(t),
                (None, Some(r)) => ReadAt::AtRevision(r),
                (None, None) => ReadAt::Latest,
            };
            let e = ledger.kv().get(args[0].as_bytes(), at).map_err(err)?;
            println!("{}\ttx {}\trevision {}", show(&e.value), e.tx, e.revision);
        }
        "delete" => {
            positional(&args, 1, "KEY")?;
            let h = ledger
                .kv()
                .delete(vec![args[0].clone().into_bytes()])
                .map_err(err)?;
            println!("tx {}", h.id);
        }
        "history" => {
            let desc = switch(&mut args, "--desc");
            let limit = number(flag(&mut args, "--limit")?, "--limit")?.unwrap_or(0);
            positional(&args, 1, "KEY")?;
            let q = HistoryQuery {
                desc,
                limit,
                ..Default::default()
            };
            for e in ledger.kv().history(args[0].as_bytes(), &q).map_err(err)? {
                let v = if e.metadata.deleted {
                    "(deleted)".to_string()
                } else {
                    show(&e.value)
                };
                println!("revision {}\ttx {}\t{v}", e.revision, e.tx);
            }
        }
        "scan" => {
            let desc = switch(&mut args, "--desc");
            let limit = number(flag(&mut args, "--limit")?, "--limit")?.unwrap_or(0);
            if args.len() > 1 {
                return Err("scan expects at most a PREFIX".into());
            }
            let prefix = args
                .first()
                .map(|p| p.clone().into_bytes())
                .unwrap_or_default();
            for e in ledger
                .kv()
                .scan(&ScanQuery {
                    prefix,
                    desc,
                    limit,
                    ..Default::default()
                })
                .map_err(err)?
            {
                println!("{}\t{}\ttx {}", show(&e.key), show(&e.value), e.tx);
            }
        }
        "tx" => {
            positional(&args, 1, "ID")?;
            let id = number(Some(args[0].clone()), "tx")?.unwrap();
            let tx = ledger.tx(id).map_err(err)?;
            let h = &tx.header;
            println!(
                "tx {}  ts {}  entries {}  eH {}  Alh {}",
                h.id,
                h.ts,
                h.nentries,
                hex::encode(h.eh),
                hex::encode(h.alh().map_err(|e| e.to_string())?)
            );
            for e in &tx.entries {
                println!("  {}", show(&e.key));
            }
        }
        other => return Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(c) => c,
        Err(msg) => {
            if msg.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
