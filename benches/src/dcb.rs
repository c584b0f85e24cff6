//! `stele-bench dcb`: Stele's DCB service against the reference UmaDB server, side by side.
//!
//! Both servers run as processes of their own on loopback, on the same disk, each with its
//! data in a fresh temporary directory, and both acknowledge only durable appends (UmaDB syncs
//! every commit; so does the ledger). UmaDB is the `umadb` 0.7.8 wheel's server, from a venv
//! this tool makes under `~/.cache/stele/bench-venv` (`STELE_BENCH_VENV` overrides); Stele is
//! the release `stele serve` (built first when missing). One Rust gRPC client (stele-proto's
//! `umadb.v1` client over tonic) drives both; the two sides' trials alternate and each figure is
//! the median of the trials. `ratio = stele / umadb` (above 1 is better for events/s, below 1
//! for latencies).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stele_proto::umadb::{self as pb, dcb_client::DcbClient};
use tonic::transport::Channel;

use crate::{Args, Figure};

type Client = DcbClient<Channel>;

/// Events preloaded for the reads: `TAGS` tags with `PER_TAG` events each, over `TYPES` types.
const TAGS: u64 = 10_000;
const PER_TAG: u64 = 10;
const TYPES: u64 = 100;

fn log(msg: &str) {
    eprintln!("[dcb] {msg}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed when dropped.
struct Server {
    name: &'static str,
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv() -> PathBuf {
    let dir = std::env::var_os("STELE_BENCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/stele/bench-venv")
        });
    if !dir.join("bin/umadb").exists() {
        log(&format!("making {} with umadb 0.7.8", dir.display()));
        let ok = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(dir.join("bin/pip"))
                .args(["install", "-q", "umadb==0.7.8"])
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "could not install umadb 0.7.8 into {}", dir.display());
    }
    dir
}

fn stele_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("STELE_BIN") {
        return PathBuf::from(p);
    }
    let bin = std::env::current_exe().unwrap().with_file_name("stele");
    if !bin.exists() {
        log("building the release stele binary");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--release", "-q", "-p", "stele"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok && bin.exists(), "could not build {}", bin.display());
    }
    bin
}

fn start(name: &'static str, mut cmd: Command, port: u16) -> Server {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "{name} did not start on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        name,
        child,
        url: format!("http://{addr}"),
    }
}

fn start_servers(dir: &Path) -> (Server, Server) {
    let uma_port = free_port();
    let mut uma = Command::new(venv().join("bin/umadb"));
    uma.arg("--listen")
        .arg(format!("127.0.0.1:{uma_port}"))
        .arg("--db-path")
        .arg(dir.join("uma"));
    std::fs::create_dir_all(dir.join("uma")).unwrap();
    let umadb = start("umadb", uma, uma_port);
    let (immudb_port, dcb_port) = (free_port(), free_port());
    let mut st = Command::new(stele_binary());
    st.arg("--data-dir")
        .arg(dir.join("stele"))
        .args(["serve", "--listen", &format!("127.0.0.1:{immudb_port}")])
        .args(["--dcb-listen", &format!("127.0.0.1:{dcb_port}")]);
    let stele = start("stele", st, dcb_port);
    (stele, umadb)
}

async fn connect(url: &str) -> Client {
    for _ in 0..100 {
        let endpoint = Channel::from_shared(url.to_string()).expect("a URL");
        if let Ok(channel) = endpoint.tcp_nodelay(true).connect().await {
            return DcbClient::new(channel).max_decoding_message_size(4 << 20);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot connect to {url}");
}

fn event(ty: String, tags: Vec<String>, i: u64) -> pb::Event {
    pb::Event {
        event_type: ty,
        tags,
        data: format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(64)).into_bytes(),
        ..Default::default()
    }
}

/// The preload both servers get: event `i` has type `t{i % TYPES}` and tag `g{i % TAGS}`.
async fn preload(url: &str) {
    let mut c = connect(url).await;
    let total = TAGS * PER_TAG;
    let mut i = 0;
    while i < total {
        let events = (i..(i + 1000).min(total))
            .map(|n| event(format!("t{}", n % TYPES), vec![format!("g{}", n % TAGS)], n))
            .collect();
        c.append(pb::AppendRequest {
            events,
            ..Default::default()
        })
        .await
        .unwrap();
        i += 1000;
    }
}

#[derive(Clone, Copy, Debug)]
enum Workload {
    Append {
        clients: usize,
        per_request: usize,
        conditional: bool,
    },
    FullRead,
    TagRead,
    TypeRead,
}

impl Workload {
    fn name(self) -> String {
        match self {
            Workload::Append {
                clients,
                per_request,
                conditional,
            } => format!(
                "dcb append {per_request} event{}/request, {clients} client{}, {}",
                if per_request == 1 { "" } else { "s" },
                if clients == 1 { "" } else { "s" },
                if conditional {
                    "conditional"
                } else {
                    "unconditional"
                }
            ),
            Workload::FullRead => "dcb full read (100k events), 1 reader".into(),
            Workload::TagRead => "dcb read one tag among 10k, 1 reader".into(),
            Workload::TypeRead => "dcb type-only read (1 type of 100), 1 reader".into(),
        }
    }
}

/// Events per second of one trial of `w` against `url`, for `dur`.
async fn trial(url: &str, w: Workload, round: u64, dur: Duration) -> f64 {
    match w {
        Workload::Append {
            clients,
            per_request,
            conditional,
        } => {
            let mut conns = Vec::new();
            for _ in 0..clients {
                conns.push(connect(url).await);
            }
            let start = Instant::now();
            let tasks: Vec<_> = conns
                .into_iter()
                .enumerate()
                .map(|(c, mut client)| {
                    tokio::spawn(async move {
                        let tag = format!("r{round}c{c}");
                        let mut n = 0u64;
                        while start.elapsed() < dur {
                            let events = (0..per_request)
                                .map(|j| event("bench".into(), vec![tag.clone()], n + j as u64))
                                .collect();
                            // A boundary of the client's own tag: checked, never conflicting.
                            let condition = conditional.then(|| pb::AppendCondition {
                                fail_if_events_match: Some(pb::Query {
                                    items: vec![pb::QueryItem {
                                        types: vec!["never".into()],
                                        tags: vec![tag.clone()],
                                    }],
                                }),
                                after: None,
                            });
                            client
                                .append(pb::AppendRequest {
                                    events,
                                    condition,
                                    tracking_info: None,
                                })
                                .await
                                .unwrap();
                            n += per_request as u64;
                        }
                        n
                    })
                })
                .collect();
            let mut total = 0;
            for t in tasks {
                total += t.await.unwrap();
            }
            total as f64 / start.elapsed().as_secs_f64()
        }
        Workload::FullRead | Workload::TagRead | Workload::TypeRead => {
            let mut client = connect(url).await;
            let start = Instant::now();
            let mut events = 0u64;
            let mut k = round * 7919;
            while start.elapsed() < dur {
                k += 1;
                let item = match w {
                    Workload::TagRead => Some(pb::QueryItem {
                        types: vec![],
                        tags: vec![format!("g{}", k % TAGS)],
                    }),
                    Workload::TypeRead => Some(pb::QueryItem {
                        types: vec![format!("t{}", k % TYPES)],
                        tags: vec![],
                    }),
                    _ => None,
                };
                let req = pb::ReadRequest {
                    query: item.map(|i| pb::Query { items: vec![i] }),
                    batch_size: Some(1000),
                    ..Default::default()
                };
                let mut stream = client.read(req).await.unwrap().into_inner();
                while let Some(m) = stream.message().await.unwrap() {
                    events += m.events.len() as u64;
                }
            }
            events as f64 / start.elapsed().as_secs_f64()
        }
    }
}

/// Delivery latencies (µs) of `n` appends to a subscriber of their tag.
async fn subscriber_latency(url: &str, round: u64, n: usize) -> f64 {
    let mut writer = connect(url).await;
    let mut reader = connect(url).await;
    let tag = format!("sub{round}");
    let mut stream = reader
        .subscribe(pb::SubscribeRequest {
            query: Some(pb::Query {
                items: vec![pb::QueryItem {
                    types: vec![],
                    tags: vec![tag.clone()],
                }],
            }),
            after: None,
            batch_size: None,
        })
        .await
        .unwrap()
        .into_inner();
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let sent = Instant::now();
        writer
            .append(pb::AppendRequest {
                events: vec![event("sub".into(), vec![tag.clone()], i as u64)],
                ..Default::default()
            })
            .await
            .unwrap();
        let _ = stream.message().await.unwrap();
        samples.push(sent.elapsed().as_secs_f64() * 1e6);
    }
    crate::median(samples)
}

pub fn run(args: &Args) -> Vec<Figure> {
    let dur = Duration::from_millis(if args.quick { 500 } else { 2_000 });
    let trials = if args.quick { 1 } else { 3 };
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (stele, umadb) = start_servers(dir.path());
    log("preloading 100k events into each server");
    rt.block_on(async {
        preload(&stele.url).await;
        preload(&umadb.url).await;
    });
    // Reads first, while both stores hold exactly the preloaded events.
    let mut workloads = vec![Workload::FullRead, Workload::TagRead, Workload::TypeRead];
    for conditional in [false, true] {
        for clients in [1, 8, 32] {
            workloads.push(Workload::Append {
                clients,
                per_request: 1,
                conditional,
            });
        }
    }
    workloads.push(Workload::Append {
        clients: 8,
        per_request: 100,
        conditional: false,
    });
    let wants = |name: &str| {
        args.only
            .as_deref()
            .is_none_or(|o| name.to_lowercase().contains(&o.to_lowercase()))
    };
    let mut figures = Vec::new();
    let mut round = 0;
    for w in workloads.into_iter().filter(|w| wants(&w.name())) {
        log(&w.name());
        let (mut s, mut u) = (Vec::new(), Vec::new());
        for _ in 0..trials {
            round += 1;
            // Alternate which side goes first.
            let order: [&Server; 2] = if round % 2 == 0 {
                [&stele, &umadb]
            } else {
                [&umadb, &stele]
            };
            for server in order {
                let v = rt.block_on(trial(&server.url, w, round, dur));
                if server.name == "stele" {
                    s.push(v)
                } else {
                    u.push(v)
                }
            }
        }
        figures.push(Figure {
            name: w.name(),
            unit: "events/s",
            stele: crate::median(s),
            baseline: Some(("umadb".into(), crate::median(u))),
        });
    }
    if wants("dcb subscriber") {
        log("subscriber delivery latency");
        let n = if args.quick { 50 } else { 200 };
        let (mut s, mut u) = (Vec::new(), Vec::new());
        for _ in 0..trials {
            round += 1;
            s.push(rt.block_on(subscriber_latency(&stele.url, round, n)));
            u.push(rt.block_on(subscriber_latency(&umadb.url, round, n)));
        }
        figures.push(Figure {
            name: "dcb subscriber delivery latency p50".into(),
            unit: "us",
            stele: crate::median(s),
            baseline: Some(("umadb".into(), crate::median(u))),
        });
    }
    drop(stele);
    drop(umadb);
    figures
}
