//! The commands on a data directory (one sub-directory a database), and `serve`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use stele_ledger::kv::ReadAt;
use stele_ledger::{HistoryQuery, Ledger, LedgerError, Options, ScanQuery};
use stele_sql::{Engine, Output, SqlSession, SqlType, Value};

use crate::output;
use crate::table::{Cell, Outcome, Rows};
use crate::{Cli, Command, ServeArgs};

pub fn run(cli: Cli) -> Result<(), String> {
    let command = match cli.command {
        Command::Serve(a) => return serve(cli.data_dir, *a),
        Command::Slt {
            files,
            labels,
            complete,
        } => return slt(&files, &labels, complete),
        c => c,
    };
    let path = cli.data_dir.join(&cli.db);
    let ledger = Ledger::open(&path, Options::default())
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let err = |e: LedgerError| e.to_string();
    match command {
        Command::Sql(args) => {
            let engine = Arc::new(Engine::new(Arc::new(ledger)).map_err(|e| e.to_string())?);
            let mut session = EmbeddedSql {
                session: SqlSession::shared(engine.clone()),
                engine,
            };
            let history = cli.data_dir.join(".sql_history");
            return crate::shell::run(&mut session, args, Some(history));
        }
        Command::State => {
            let s = ledger.state();
            println!("database {} at {}", cli.db, path.display());
            println!("tx {}  state hash {}", s.tx_id, hex::encode(s.alh));
        }
        Command::Verify { from, to } => {
            if from != 1 || to.is_some() {
                return Err("--from and --to apply to verify --server; on a data directory every tx is recomputed".into());
            }
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
            output::entry(&e.value, e.tx, e.revision);
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
                output::version(e.revision, e.tx, e.metadata.deleted, &e.value);
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
                output::scan_row(&e.key, &e.value, e.tx);
            }
        }
        Command::Ref {
            key,
            referenced,
            at_tx,
        } => {
            let h = ledger
                .kv()
                .set_reference(
                    key.as_bytes(),
                    referenced.as_bytes(),
                    at_tx.unwrap_or(0),
                    at_tx.is_some(),
                )
                .map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::Zadd {
            set,
            score,
            key,
            at_tx,
        } => {
            let h = ledger
                .kv()
                .zadd(
                    set.as_bytes(),
                    score,
                    key.as_bytes(),
                    at_tx.unwrap_or(0),
                    at_tx.is_some(),
                )
                .map_err(err)?;
            println!("tx {}", h.id);
        }
        Command::Zscan {
            set,
            min,
            max,
            desc,
            limit,
        } => {
            let q = stele_ledger::kv::ZScanQuery {
                set: set.into_bytes(),
                min_score: min,
                max_score: max,
                desc,
                limit,
                ..Default::default()
            };
            for z in ledger.kv().zscan(&q).map_err(err)? {
                output::zscan_row(&z.key, z.score, &z.entry.value, z.entry.tx);
            }
        }
        Command::Tx { id } => {
            let tx = ledger.tx(id).map_err(err)?;
            let h = &tx.header;
            let alh = h.alh().map_err(|e| e.to_string())?;
            let keys = tx.entries.iter().map(|e| e.key.as_slice());
            output::tx(h.id, h.ts, h.nentries, &h.eh, &alh, keys);
        }
        Command::Serve(_)
        | Command::Slt { .. }
        | Command::Vset { .. }
        | Command::Vget { .. }
        | Command::Vtx { .. }
        | Command::Vref { .. }
        | Command::Vzadd { .. }
        | Command::User(_)
        | Command::Database(_)
        | Command::Status => unreachable!("handled before opening the database"),
    }
    Ok(())
}

/// `stele slt`: prints each failure with its line, then `N passed, M failed`.
fn slt(files: &[PathBuf], labels: &[String], complete: bool) -> Result<(), String> {
    let mut total = stele_sql::slt::Report::default();
    for f in files {
        total.add(stele_sql::slt::run_file(f, labels, complete));
    }
    output::slt_report(&total)
}

/// An embedded SQL session, as the shell sees it.
struct EmbeddedSql {
    engine: Arc<Engine>,
    session: SqlSession<'static>,
}

fn cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Integer(i) => Cell::Int(*i),
        Value::Float(f) => Cell::Float(*f),
        Value::Boolean(b) => Cell::Bool(*b),
        other => Cell::Text(stele_sql::slt::render(other)),
    }
}

fn rows<'a>(
    columns: Vec<(String, String)>,
    rows: impl IntoIterator<Item = &'a [Value]>,
) -> Outcome {
    Outcome::Rows(Rows {
        columns,
        rows: rows
            .into_iter()
            .map(|r| r.iter().map(cell).collect())
            .collect(),
    })
}

impl crate::shell::Session for EmbeddedSql {
    fn execute(&mut self, text: &str) -> Result<Vec<Outcome>, String> {
        let was_open = self.session.in_transaction();
        let result = self
            .session
            .execute(text, &HashMap::new())
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        if !was_open && result.in_transaction {
            out.push(Outcome::Began);
        }
        let mut updated = None;
        for o in &result.outputs {
            match o {
                Output::Rows { columns, rows: r } => {
                    let columns = columns
                        .iter()
                        .map(|c| {
                            (
                                c.name.clone(),
                                c.ty.map_or("ANY", SqlType::name).to_string(),
                            )
                        })
                        .collect();
                    out.push(rows(columns, r));
                }
                Output::Done(w) => *updated.get_or_insert(0) += w.updated_rows as u64,
            }
        }
        let txs: Vec<u64> = result.committed.iter().map(|h| h.id).collect();
        if updated.is_some() || !txs.is_empty() {
            out.push(Outcome::Done { updated, txs });
        } else if was_open && !result.in_transaction {
            out.push(Outcome::RolledBack);
        }
        Ok(out)
    }

    fn tables(&mut self) -> Result<Outcome, String> {
        let outputs = self
            .session
            .execute("SHOW TABLES", &HashMap::new())
            .map_err(|e| e.to_string())?
            .outputs;
        match outputs.into_iter().next() {
            Some(Output::Rows { rows: r, .. }) => {
                Ok(rows(vec![("TABLE".into(), "VARCHAR".into())], &r))
            }
            _ => Ok(rows(
                vec![("TABLE".into(), "VARCHAR".into())],
                std::iter::empty(),
            )),
        }
    }

    fn describe(&mut self, name: &str) -> Result<Outcome, String> {
        let catalog = self
            .engine
            .store()
            .catalog(None)
            .map_err(|e| e.to_string())?;
        let r = catalog.describe(name).map_err(|e| e.to_string())?;
        let columns = stele_sql::catalog::DESCRIBE_COLUMNS
            .iter()
            .map(|(n, t)| (n.to_string(), t.name().to_string()))
            .collect();
        Ok(rows(columns, r.iter().map(Vec::as_slice)))
    }

    fn in_transaction(&self) -> bool {
        self.session.in_transaction()
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
    let umadb = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut config = stele_server::Config::new(data_dir, a.listen);
    config.signing_key = a.signing_key;
    config.tls = a.tls_cert.zip(a.tls_key).or_else(|| {
        umadb("UMADB_TLS_CERT")
            .map(PathBuf::from)
            .zip(umadb("UMADB_TLS_KEY").map(PathBuf::from))
    });
    config.admin_password = a.admin_password;
    if !a.no_dcb {
        let listen = match (a.dcb_listen, umadb("UMADB_LISTEN")) {
            (Some(l), _) => l,
            (None, Some(l)) => l.parse().map_err(|e| format!("UMADB_LISTEN {l:?}: {e}"))?,
            (None, None) => std::net::SocketAddr::from(([127, 0, 0, 1], 50051)),
        };
        config.dcb = Some(stele_server::dcb::DcbConfig {
            listen,
            api_key: a.dcb_api_key.or_else(|| umadb("UMADB_API_KEY")),
        });
    }
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
