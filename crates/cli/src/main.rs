//! `stele`: the one binary.
//!
//! `serve` runs the gRPC server (immudb's protocol) on a data directory; the other commands
//! work on the embedded databases of a data directory directly (one sub-directory a database):
//! `verify` audits one, the key/value commands read and write it with immudb's key/value model,
//! `sql` runs SQL on it, `slt` runs sqllogictest files. Every flag can also be given as a
//! `STELE_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use stele_ledger::kv::ReadAt;
use stele_ledger::{HistoryQuery, Ledger, LedgerError, Options, ScanQuery};

#[derive(Parser)]
#[command(
    name = "stele",
    version,
    about = "Stele: an immutable, verifiable ledger database"
)]
struct Cli {
    /// Directory holding the databases (one sub-directory each).
    #[arg(long, global = true, env = "STELE_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
    /// Database the embedded commands work on.
    #[arg(long, global = true, env = "STELE_DB", default_value = "defaultdb", value_parser = db_name)]
    db: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server (immudb 1.9.3's protocol) until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Print the current tx id and state hash (Alh).
    State,
    /// Recompute every hash from the stored bytes; names the first bad tx.
    Verify,
    /// Write a key.
    Set { key: String, value: String },
    /// Read a key (latest, at a tx, or at a revision).
    Get {
        key: String,
        #[arg(long, conflicts_with = "revision")]
        at_tx: Option<u64>,
        #[arg(long, allow_hyphen_values = true)]
        revision: Option<i64>,
    },
    /// Delete a key.
    Delete { key: String },
    /// Every version of a key.
    History {
        key: String,
        #[arg(long)]
        desc: bool,
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Live keys under a prefix.
    Scan {
        prefix: Option<String>,
        #[arg(long)]
        desc: bool,
        #[arg(long, default_value_t = 0)]
        limit: usize,
    },
    /// Show a transaction's header and keys.
    Tx { id: u64 },
    /// Run SQL (immudb's dialect) in one session: the arguments as one request, or else stdin,
    /// a request per statement ending with ';'.
    Sql { statements: Vec<String> },
    /// Run sqllogictest files, each on a fresh temporary database.
    Slt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long = "label")]
        labels: Vec<String>,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (loopback unless you mean otherwise).
    #[arg(long, env = "STELE_LISTEN", default_value = "127.0.0.1:3322")]
    listen: SocketAddr,
    /// ECDSA P-256 private key (PEM) to sign states and verified answers with.
    #[arg(long, env = "STELE_SIGNING_KEY")]
    signing_key: Option<PathBuf>,
    /// TLS certificate chain (PEM); needs --tls-key.
    #[arg(long, env = "STELE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM); needs --tls-cert.
    #[arg(long, env = "STELE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The superuser `immudb`'s password when the data directory is first created.
    #[arg(
        long,
        env = "STELE_ADMIN_PASSWORD",
        default_value = "immudb",
        hide_env_values = true
    )]
    admin_password: String,
    /// Most threads for blocking work (commits, reads, SQL): bounds what many clients cost.
    #[arg(long, env = "STELE_BLOCKING_THREADS", default_value_t = 64)]
    blocking_threads: usize,
}

fn db_name(s: &str) -> Result<String, String> {
    if s.is_empty()
        || !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "invalid database name {s:?}: use ASCII letters, digits, '_' and '-'"
        ));
    }
    Ok(s.to_string())
}

fn show(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap_or_else(|_| format!("0x{}", hex::encode(b)))
}

/// `stele slt`: prints each failure with its line, then `N passed, M failed`.
fn run_slt(files: &[PathBuf], labels: &[String]) -> Result<(), String> {
    let mut total = stele_sql::slt::Report::default();
    for f in files {
        total.add(stele_sql::slt::run_file(f, labels));
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

/// `stele serve`: the server on a runtime whose blocking pool is bounded.
fn serve(data_dir: PathBuf, a: ServeArgs) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(a.blocking_threads.max(1))
        .thread_name("stele-server")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let mut config = stele_server::Config::new(data_dir, a.listen);
    config.signing_key = a.signing_key;
    config.tls = a.tls_cert.zip(a.tls_key);
    config.admin_password = a.admin_password;
    runtime
        .block_on(stele_server::serve(config, shutdown_signal()))
        .map_err(|e| e.to_string())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: finishing the calls in flight");
}

fn run(cli: Cli) -> Result<(), String> {
    let command = match cli.command {
        Command::Serve(a) => return serve(cli.data_dir, a),
        Command::Slt { files, labels } => return run_slt(&files, &labels),
        c => c,
    };
    let path = cli.data_dir.join(&cli.db);
    let ledger = Ledger::open(&path, Options::default())
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let err = |e: LedgerError| e.to_string();
    match command {
        Command::Serve(_) | Command::Slt { .. } => unreachable!("handled above"),
        Command::Sql { statements } => return run_sql(ledger, statements),
        Command::State => {
            let s = ledger.state();
            println!("database {} at {}", cli.db, path.display());
            println!("tx {}  state hash {}", s.tx_id, hex::encode(s.alh));
        }
        Command::Verify => {
            let r = ledger.verify().map_err(err)?;
            println!(
                "verified {} txs, {} entries; state tx {} hash {}",
                r.txs,
                r.entries,
                r.state.tx_id,
                hex::encode(r.state.alh)
            );
        }
        Command::Set { key, value } => {
            let h = ledger
                .kv()
                .set(vec![(key.into_bytes(), value.into_bytes())])
                .map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::Get {
            key,
            at_tx,
            revision,
        } => {
            let at = match (at_tx, revision) {
                (Some(t), _) => ReadAt::AtTx(t),
                (None, Some(r)) => ReadAt::AtRevision(r),
                (None, None) => ReadAt::Latest,
            };
            let e = ledger.kv().get(key.as_bytes(), at).map_err(err)?;
            println!("{}\ttx {}\trevision {}", show(&e.value), e.tx, e.revision);
        }
        Command::Delete { key } => {
            let h = ledger.kv().delete(vec![key.into_bytes()]).map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::History { key, desc, limit } => {
            let q = HistoryQuery {
                desc,
                limit,
                ..Default::default()
            };
            for e in ledger.kv().history(key.as_bytes(), &q).map_err(err)? {
                let v = if e.metadata.deleted {
                    "(deleted)".to_string()
                } else {
                    show(&e.value)
                };
                println!("revision {}\ttx {}\t{v}", e.revision, e.tx);
            }
        }
        Command::Scan {
            prefix,
            desc,
            limit,
        } => {
            let q = ScanQuery {
                prefix: prefix.map(String::into_bytes).unwrap_or_default(),
                desc,
                limit,
                ..Default::default()
            };
            for e in ledger.kv().scan(&q).map_err(err)? {
                println!("{}\t{}\ttx {}", show(&e.key), show(&e.value), e.tx);
            }
        }
        Command::Tx { id } => {
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
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}
