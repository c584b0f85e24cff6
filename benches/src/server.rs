//! The server suite: each operation over gRPC (a tonic client, as an SDK calls it) against the
//! same operation called in-process on a ledger of the same kind, in one run, at 1, 8 and 64
//! concurrent clients. The ratio is what the protocol costs.
//!
//! The server runs in this process on a free loopback port and a temporary directory; every
//! gRPC client has its own connection. The two sides' trials alternate; each figure is the
//! median of the trials' figures.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stele_ledger::kv::ReadAt;
use stele_ledger::{Ledger, Options};
use stele_proto::immudb::{self as pb, immu_service_client::ImmuServiceClient};
use stele_sql::{Engine, Value};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{percentiles, Args, Figure};

const VALUE_LEN: usize = 100;
/// Keys (each written by its own tx, as verified writes are) and rows read by the read trials.
const PRELOADED: u64 = 2_000;

type Client = ImmuServiceClient<InterceptedService<Channel, Auth>>;

/// Adds the login token to every call.
#[derive(Clone)]
struct Auth(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

fn log(msg: &str) {
    eprintln!("[stele-bench] {msg}");
}

fn value(i: u64) -> Vec<u8> {
    let mut v = format!("value-{i}-").into_bytes();
    v.resize(VALUE_LEN, b'v');
    v
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Set,
    VerifiableSet,
    Get,
    VerifiableGet,
    SqlInsert,
    SqlPointSelect,
}

impl Op {
    const ALL: [Op; 6] = [
        Op::Set,
        Op::VerifiableSet,
        Op::Get,
        Op::VerifiableGet,
        Op::SqlInsert,
        Op::SqlPointSelect,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Set => "Set",
            Op::VerifiableSet => "VerifiableSet",
            Op::Get => "Get",
            Op::VerifiableGet => "VerifiableGet",
            Op::SqlInsert => "SQL insert",
            Op::SqlPointSelect => "SQL point select",
        }
    }
}

/// One trial's throughput and latencies.
struct Trial {
    ops_per_s: f64,
    p50: f64,
    p99: f64,
}

fn trial(latencies: Vec<Duration>, elapsed: Duration) -> Trial {
    let n = latencies.len();
    let (p50, p99) = percentiles(latencies);
    Trial {
        ops_per_s: n as f64 / elapsed.as_secs_f64(),
        p50,
        p99,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Keys of client `c`'s `i`-th write: unique across clients and trials.
fn write_key(op: Op, trial: usize, c: usize, i: u64) -> Vec<u8> {
    format!("w-{op:?}-{trial}-{c}-{i:08}").into_bytes()
}

fn read_key(i: u64) -> Vec<u8> {
    format!("r-{:08}", i % PRELOADED).into_bytes()
}

fn sql_id(trial: usize, c: usize, i: u64) -> i64 {
    ((trial as i64) << 40) | ((c as i64) << 28) | i as i64
}

async fn connect(addr: std::net::SocketAddr) -> Client {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut plain = ImmuServiceClient::new(channel.clone());
    let token = plain
        .login(pb::LoginRequest {
            user: b"immudb".to_vec(),
            password: b"immudb".to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .token;
    let auth = Auth(format!("Bearer {token}").parse().unwrap());
    let mut client = ImmuServiceClient::with_interceptor(channel, auth);
    client
        .use_database(pb::Database {
            database_name: "defaultdb".into(),
        })
        .await
        .unwrap();
    client
}

fn param(name: &str, v: pb::sql_value::Value) -> pb::NamedParam {
    pb::NamedParam {
        name: name.into(),
        value: Some(pb::SqlValue { value: Some(v) }),
    }
}

/// One gRPC call of `op`; `since` is the client's trusted state for verified calls.
async fn grpc_op(client: &mut Client, op: Op, key: Vec<u8>, id: i64, since: &mut u64) {
    use pb::sql_value::Value as V;
    match op {
        Op::Set => {
            client
                .set(pb::SetRequest {
                    k_vs: vec![pb::KeyValue {
                        value: value(id as u64),
                        key,
                        metadata: None,
                    }],
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        Op::VerifiableSet => {
            let v = client
                .verifiable_set(pb::VerifiableSetRequest {
                    set_request: Some(pb::SetRequest {
                        k_vs: vec![pb::KeyValue {
                            value: value(id as u64),
                            key,
                            metadata: None,
                        }],
                        ..Default::default()
                    }),
                    prove_since_tx: *since,
                })
                .await
                .unwrap()
                .into_inner();
            *since = v.tx.unwrap().header.unwrap().id;
        }
        Op::Get => {
            client
                .get(pb::KeyRequest {
                    key,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        Op::VerifiableGet => {
            client
                .verifiable_get(pb::VerifiableGetRequest {
                    key_request: Some(pb::KeyRequest {
                        key,
                        ..Default::default()
                    }),
                    prove_since_tx: *since,
                })
                .await
                .unwrap();
        }
        Op::SqlInsert => {
            client
                .sql_exec(pb::SqlExecRequest {
                    sql: "INSERT INTO t (id, v) VALUES (@id, @v)".into(),
                    params: vec![param("id", V::N(id)), param("v", V::S(format!("v{id}")))],
                    no_wait: false,
                })
                .await
                .unwrap();
        }
        Op::SqlPointSelect => {
            let mut stream = client
                .sql_query(pb::SqlQueryRequest {
                    sql: "SELECT v FROM t WHERE id = @id".into(),
                    params: vec![param("id", V::N(id % PRELOADED as i64))],
                    reuse_snapshot: false,
                    accept_stream: true,
                })
                .await
                .unwrap()
                .into_inner();
            while stream.message().await.unwrap().is_some() {}
        }
    }
}

/// The same operation in-process, with what the server does for it.
fn local_op(ledger: &Ledger, engine: &Engine, op: Op, key: Vec<u8>, id: i64, since: &mut u64) {
    let params = |id: i64| -> HashMap<String, Value> {
        [
            ("id".to_string(), Value::Integer(id)),
            ("v".to_string(), Value::Varchar(format!("v{id}"))),
        ]
        .into_iter()
        .collect()
    };
    match op {
        Op::Set => {
            ledger.kv().set(vec![(key, value(id as u64))]).unwrap();
        }
        Op::VerifiableSet => {
            let h = ledger.kv().set(vec![(key, value(id as u64))]).unwrap();
            let source = if *since == 0 { h.id } else { *since };
            ledger.dual_proof(source, h.id).unwrap();
            ledger.tx(h.id).unwrap();
            *since = h.id;
        }
        Op::Get => {
            ledger.kv().get(&key, ReadAt::Latest).unwrap();
        }
        Op::VerifiableGet => {
            let e = ledger.kv().get(&key, ReadAt::Latest).unwrap();
            let stored = stele_ledger::kv::set_key(&key);
            ledger.entry_proof(e.tx, &stored).unwrap();
            let (s, t) = if *since <= e.tx {
                (if *since == 0 { e.tx } else { *since }, e.tx)
            } else {
                (e.tx, *since)
            };
            ledger.dual_proof(s, t).unwrap();
            ledger.tx(e.tx).unwrap();
        }
        Op::SqlInsert => {
            engine
                .execute("INSERT INTO t (id, v) VALUES (@id, @v)", &params(id))
                .unwrap();
        }
        Op::SqlPointSelect => {
            let mut s = engine.session();
            let rows = s
                .query(
                    "SELECT v FROM t WHERE id = @id",
                    &params(id % PRELOADED as i64),
                )
                .unwrap();
            for b in rows {
                b.unwrap();
            }
        }
    }
}

fn preload_local(ledger: &Ledger, engine: &Engine) {
    for i in 0..PRELOADED {
        ledger.kv().set(vec![(read_key(i), value(i))]).unwrap();
    }
    for chunk in (0..PRELOADED).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk.iter().map(|i| format!("({i}, 'v{i}')")).collect();
        engine
            .execute(
                &format!("INSERT INTO t (id, v) VALUES {}", values.join(", ")),
                &HashMap::new(),
            )
            .unwrap();
    }
}

async fn preload_server(client: &mut Client) {
    for i in 0..PRELOADED {
        client
            .set(pb::SetRequest {
                k_vs: vec![pb::KeyValue {
                    key: read_key(i),
                    value: value(i),
                    metadata: None,
                }],
                ..Default::default()
            })
            .await
            .unwrap();
    }
    for chunk in (0..PRELOADED).collect::<Vec<_>>().chunks(1000) {
        let values: Vec<String> = chunk.iter().map(|i| format!("({i}, 'v{i}')")).collect();
        client
            .sql_exec(pb::SqlExecRequest {
                sql: format!("INSERT INTO t (id, v) VALUES {}", values.join(", ")),
                ..Default::default()
            })
            .await
            .unwrap();
    }
}

fn key_for(op: Op, t: usize, c: usize, i: u64) -> Vec<u8> {
    match op {
        Op::Get | Op::VerifiableGet => read_key(i * 7919 + c as u64),
        _ => write_key(op, t, c, i),
    }
}

pub fn run(args: &Args) -> Vec<Figure> {
    let dur = Duration::from_millis(if args.quick { 500 } else { 2_000 });
    let trials = if args.quick { 1 } else { 3 };
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .unwrap();

    // The server, in this process.
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let config = stele_server::Config::new(dir.path().join("server"), addr);
    let server = rt.spawn(stele_server::serve_on(config, listener, async {
        let _ = stopped.await;
    }));
    let mut admin = rt.block_on(async {
        // The server opens its databases before it answers.
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        connect(addr).await
    });
    rt.block_on(async {
        admin
            .sql_exec(pb::SqlExecRequest {
                sql: "CREATE TABLE t (id INTEGER, v VARCHAR, PRIMARY KEY id)".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        preload_server(&mut admin).await;
    });

    // The in-process side: a ledger and SQL engine with the server's defaults.
    let ledger = Arc::new(Ledger::open(dir.path().join("local"), Options::default()).unwrap());
    let engine = Engine::new(ledger.clone()).unwrap();
    engine
        .execute(
            "CREATE TABLE t (id INTEGER, v VARCHAR, PRIMARY KEY id)",
            &HashMap::new(),
        )
        .unwrap();
    preload_local(&ledger, &engine);

    let wants = |op: Op| {
        args.only
            .as_deref()
            .is_none_or(|o| op.name().to_lowercase().contains(&o.to_lowercase()))
    };
    let mut figures = Vec::new();
    // Numbers every trial of the run: written keys and rows are unique across trials.
    let mut round = 0;
    for op in Op::ALL.into_iter().filter(|op| wants(*op)) {
        for clients in [1usize, 8, 64] {
            log(&format!("{} with {clients} clients", op.name()));
            let connections: Vec<Client> = rt.block_on(async { futures_join(clients, addr).await });
            let mut remote = Vec::new();
            let mut local = Vec::new();
            for _ in 0..trials {
                round += 1;
                remote.push(rt.block_on(grpc_trial(&connections, op, round, dur)));
                local.push(local_trial(&ledger, &engine, clients, op, round, dur));
            }
            let name = |what: &str| format!("server {} {clients} clients: {what}", op.name());
            let pick = |v: &[Trial], f: fn(&Trial) -> f64| median(v.iter().map(f).collect());
            figures.push(Figure {
                name: name("ops/s"),
                unit: "ops/s",
                stele: pick(&remote, |t| t.ops_per_s),
                baseline: Some(("in-process".into(), pick(&local, |t| t.ops_per_s))),
            });
            figures.push(Figure {
                name: name("p50"),
                unit: "us",
                stele: pick(&remote, |t| t.p50),
                baseline: Some(("in-process".into(), pick(&local, |t| t.p50))),
            });
            figures.push(Figure {
                name: name("p99"),
                unit: "us",
                stele: pick(&remote, |t| t.p99),
                baseline: Some(("in-process".into(), pick(&local, |t| t.p99))),
            });
        }
    }
    let _ = stop.send(());
    rt.block_on(server).unwrap().unwrap();
    figures
}

async fn futures_join(n: usize, addr: std::net::SocketAddr) -> Vec<Client> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(connect(addr).await);
    }
    out
}

async fn grpc_trial(connections: &[Client], op: Op, t: usize, dur: Duration) -> Trial {
    let start = Instant::now();
    let tasks: Vec<_> = connections
        .iter()
        .enumerate()
        .map(|(c, client)| {
            let mut client = client.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                // Verified calls prove against the client's state, as an SDK's do.
                let mut since = client.current_state(()).await.unwrap().into_inner().tx_id;
                let mut i = 0u64;
                while start.elapsed() < dur {
                    let s = Instant::now();
                    grpc_op(
                        &mut client,
                        op,
                        key_for(op, t, c, i),
                        sql_id(t, c, i),
                        &mut since,
                    )
                    .await;
                    lat.push(s.elapsed());
                    i += 1;
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    trial(all, start.elapsed())
}

fn local_trial(
    ledger: &Ledger,
    engine: &Engine,
    clients: usize,
    op: Op,
    t: usize,
    dur: Duration,
) -> Trial {
    let start = Instant::now();
    let all = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                s.spawn(move || {
                    let mut lat = Vec::new();
                    let mut since = ledger.state().tx_id;
                    let mut i = 0u64;
                    while start.elapsed() < dur {
                        let st = Instant::now();
                        local_op(
                            ledger,
                            engine,
                            op,
                            key_for(op, t, c, i),
                            sql_id(t, c, i),
                            &mut since,
                        );
                        lat.push(st.elapsed());
                        i += 1;
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    trial(all, start.elapsed())
}
