//! The `stele` client against a `stele serve` started by each test (a free loopback port, a
//! temporary data directory and state directory): every remote command, the SQL shell from
//! stdin and a pseudo-terminal, the output formats, the admin commands with a non-admin's
//! permission errors, `verify --server` catching a server whose stored history was altered,
//! and `sql-tests/` through `stele slt --server` with the embedded runner's results.

use std::io::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{text, untimed};

const STELE: &str = env!("CARGO_BIN_EXE_stele");

/// A server on a loopback port over a data directory, stopped (SIGTERM) when dropped.
struct Server {
    child: Option<Child>,
    addr: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The address in the server's `stele server started addr=...` log line; the rest of its log
/// is drained on a thread of its own (a full pipe would stall the server).
fn bound_addr(stderr: std::process::ChildStderr) -> String {
    use std::io::BufRead as _;
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the server exited before it started")
            .unwrap();
        if let Some(rest) = line.split("stele server started").nth(1) {
            let value = rest.split("addr=").nth(1).expect("an addr= field");
            break value
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ':'))
                .collect::<String>();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    addr
}

impl Server {
    fn start(data: &Path, port: u16) -> Server {
        Server::start_with(data, port, &[])
    }

    /// Port 0: the server binds a port of the system's choosing and the address it logs is
    /// taken (a port picked here and handed over could be taken by another test's server in
    /// between). Another port: that one, waited for until it accepts connections.
    fn start_with(data: &Path, port: u16, flags: &[&str]) -> Server {
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(STELE)
            .arg("--data-dir")
            .arg(data)
            .args(["serve", "--listen", &listen, "--dcb-listen", "127.0.0.1:0"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(if port == 0 {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let addr = match child.stderr.take() {
            Some(stderr) => bound_addr(stderr),
            None => listen,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child: Some(child),
            addr,
        }
    }

    fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Stops the server cleanly and waits for it.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while c.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = c.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client's environment: the server, the user and password, a state directory of its own.
struct Env<'a> {
    addr: String,
    state: &'a Path,
    user: &'a str,
    password: &'a str,
}

impl<'a> Env<'a> {
    /// The superuser `immudb` (default password) on `server`, trusting states under `state`.
    fn superuser(server: &Server, state: &'a Path) -> Env<'a> {
        Env {
            addr: server.addr.clone(),
            state,
            user: "immudb",
            password: "immudb",
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>, extra: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(STELE);
        cmd.args(args)
            .env("STELE_SERVER", &self.addr)
            .env("STELE_USER", self.user)
            .env("STELE_PASSWORD", self.password)
            .env("STELE_STATE_DIR", self.state)
            .env_remove("STELE_DB")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None, &[]);
        assert!(
            out.status.success(),
            "stele {args:?} failed: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs a command that must fail; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None, &[]);
        assert!(
            !out.status.success(),
            "stele {args:?} succeeded: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }
}

#[test]
fn key_value_and_verified_commands_work_against_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), 0);
    let state = dir.path().join("state");
    let c = Env::superuser(&server, &state);
    assert_eq!(c.ok(&["set", "greeting", "hello"]), "tx 1\n");
    assert_eq!(c.ok(&["set", "greeting", "hi"]), "tx 2\n");
    assert_eq!(c.ok(&["get", "greeting"]), "hi\ttx 2\trevision 2\n");
    assert_eq!(
        c.ok(&["get", "greeting", "--at-tx", "1"]),
        "hello\ttx 1\trevision 1\n"
    );
    assert_eq!(
        c.ok(&["get", "greeting", "--revision", "1"]),
        "hello\ttx 1\trevision 1\n"
    );
    assert_eq!(
        c.ok(&["history", "greeting", "--desc"]),
        "revision 2\ttx 2\thi\nrevision 1\ttx 1\thello\n"
    );
    assert_eq!(c.ok(&["scan", "gr"]), "greeting\thi\ttx 2\n");
    assert!(c.ok(&["tx", "2"]).starts_with("tx 2  ts "));
    assert!(c.fails(&["get", "nope"]).contains("key not found"));

    // Verified calls start the trusted state and move it forward.
    assert_eq!(
        c.ok(&["vset", "k", "v1"]),
        "tx 3\tverified; trusted state tx 3\n"
    );
    assert_eq!(
        c.ok(&["vget", "greeting"]),
        "hi\ttx 2\trevision 2\tverified; trusted state tx 3\n"
    );
    assert!(c
        .ok(&["vtx", "1"])
        .ends_with("verified; trusted state tx 3\n"));
    assert_eq!(c.ok(&["delete", "k"]), "tx 4\n");
    assert!(c
        .ok(&["history", "k"])
        .ends_with("revision 2\ttx 4\t(deleted)\n"));
    let s = c.ok(&["state"]);
    assert!(s.contains("tx 4  state hash "), "{s}");
    assert!(s.contains("trusted here: tx 3"), "{s}");
    assert!(c.ok(&["vtx", "4"]).ends_with("trusted state tx 4\n"));

    // References and sorted sets, plain and verified.
    assert_eq!(c.ok(&["ref", "alias", "greeting"]), "tx 5\n");
    assert_eq!(c.ok(&["get", "alias"]), "hi\ttx 2\trevision 2\n");
    assert_eq!(
        c.ok(&["vref", "pinned", "greeting", "--at-tx", "1"]),
        "tx 6\tverified; trusted state tx 6\n"
    );
    assert!(c.ok(&["vget", "pinned"]).starts_with("hello\ttx 1\t"));
    assert_eq!(c.ok(&["zadd", "board", "2.5", "greeting"]), "tx 7\n");
    assert!(c
        .fails(&["vzadd", "board", "-1", "alias"])
        .contains("cannot reference a reference"));
    assert_eq!(c.ok(&["set", "low", "x"]), "tx 8\n");
    assert_eq!(
        c.ok(&["vzadd", "board", "1", "low"]),
        "tx 9\tverified; trusted state tx 9\n"
    );
    assert_eq!(
        c.ok(&["zscan", "board"]),
        "low\t1\tx\ttx 8\ngreeting\t2.5\thi\ttx 2\n"
    );
    assert_eq!(
        c.ok(&["zscan", "board", "--min", "2"]),
        "greeting\t2.5\thi\ttx 2\n"
    );

    // Bad input and a wrong password are errors with their reason, nothing else.
    assert!(c.fails(&["vtx", "99"]).contains("tx not found"));
    let wrong = Env {
        addr: c.addr.clone(),
        password: "wrong",
        ..c
    };
    assert!(wrong
        .fails(&["get", "greeting"])
        .contains("invalid user name or password"));
    let nowhere = Command::new(STELE)
        .args([
            "--server",
            &format!("127.0.0.1:{}", free_port()),
            "get",
            "a",
        ])
        .env("STELE_PASSWORD", "x")
        .output()
        .unwrap();
    assert!(text(&nowhere.stderr).contains("cannot connect to 127.0.0.1:"));
    let embedded_only = Command::new(STELE)
        .args([
            "--data-dir",
            dir.path().join("d2").to_str().unwrap(),
            "vget",
            "a",
        ])
        .env_remove("STELE_SERVER")
        .output()
        .unwrap();
    assert!(text(&embedded_only.stderr).contains("vget works against a server"));
}

#[test]
fn signed_answers_are_checked_with_the_server_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = |name: &str| dir.path().join(name).display().to_string();
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .output()
            .map(|o| o.status.success())
    };
    for (private, public) in [("server.pem", "server.pub"), ("other.pem", "other.pub")] {
        let made = openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key(private),
        ])
        .unwrap_or(false)
            && openssl(&["ec", "-in", &key(private), "-pubout", "-out", &key(public)])
                .unwrap_or(false);
        if !made {
            eprintln!("no openssl here: signatures not tested");
            return;
        }
    }
    let signed = Server::start_with(
        &dir.path().join("data"),
        0,
        &["--signing-key", &key("server.pem")],
    );
    let state = dir.path().join("state");
    let c = Env::superuser(&signed, &state);
    let with = |k: &str| -> Vec<String> { vec!["--server-key".into(), key(k)] };
    let args = |k: &str, rest: &[&str]| -> Vec<String> {
        with(k)
            .into_iter()
            .chain(rest.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |k: &str, rest: &[&str]| {
        let a = args(k, rest);
        c.run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None, &[])
    };
    assert!(run("server.pub", &["vset", "k", "v"]).status.success());
    assert!(run("server.pub", &["vget", "k"]).status.success());
    assert!(run("server.pub", &["state"]).status.success());
    let wrong = run("other.pub", &["vget", "k"]);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong.stderr).contains("signature"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(!run("other.pub", &["state"]).status.success());
    assert!(text(&run("server.pem", &["vget", "k"]).stderr).contains("not a PEM P-256 public key"));
    drop(signed);

    // A server that does not sign fails a client that requires signatures.
    let unsigned = Server::start(&dir.path().join("data2"), 0);
    let c = Env {
        addr: unsigned.addr.clone(),
        ..c
    };
    let out = c.run(
        &["--server-key", &key("server.pub"), "vset", "k", "v"],
        None,
        &[],
    );
    assert!(
        text(&out.stderr).contains("not signed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sql_runs_remotely_from_arguments_stdin_and_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), 0);
    let state = dir.path().join("state");
    let c = Env::superuser(&server, &state);
    let out = c.ok(&[
        "sql",
        "-e",
        "CREATE TABLE t (id INTEGER AUTO_INCREMENT, s VARCHAR[8], PRIMARY KEY id); INSERT INTO t (s) VALUES ('a'), ('b,c')",
    ]);
    assert_eq!(untimed(&out), "(2 rows updated, tx 1)\n");

    // One session from stdin: a transaction spans requests, errors keep it usable.
    let script = "BEGIN;\nINSERT INTO t (s) VALUES ('c');\nSELECT id, s FROM t\n  WHERE id > 1;\nCOMMIT;\nSELECT nope FROM t;\n\\d t\nSELECT COUNT(*) FROM t;\n";
    let out = c.run(&["sql"], Some(script), &[]);
    assert!(!out.status.success());
    assert_eq!(
        untimed(&text(&out.stdout)),
        "(transaction open)\n(done)\n id      | s\n INTEGER | VARCHAR\n---------+---------\n       2 | b,c\n       3 | c\n(2 rows)\n(1 row updated, tx 2)\n COLUMN  | TYPE       | NULLABLE | INDEX       | AUTO_INCREMENT | UNIQUE\n VARCHAR | VARCHAR    | BOOLEAN  | VARCHAR     | BOOLEAN        | BOOLEAN\n---------+------------+----------+-------------+----------------+---------\n id      | INTEGER    | true     | PRIMARY KEY | true           | true\n s       | VARCHAR(8) | true     | NO          | false          | false\n(2 rows)\n table   | name    | unique  | primary\n VARCHAR | VARCHAR | BOOLEAN | BOOLEAN\n---------+---------+---------+---------\n t       | t(id)   | true    | true\n(1 row)\n col0\n INTEGER\n---------\n       3\n(1 row)\n"
    );
    assert!(text(&out.stderr).contains("error: column does not exist (nope)"));

    // A transaction left open is not committed.
    let out = c.run(
        &["sql"],
        Some("BEGIN; INSERT INTO t (s) VALUES ('d');"),
        &[],
    );
    assert!(text(&out.stderr).contains("not committed"));
    assert_eq!(
        c.ok(&["sql", "--format", "csv", "SELECT id, s FROM t"]),
        "id,s\n1,a\n2,\"b,c\"\n3,c\n"
    );
    assert_eq!(
        c.ok(&[
            "sql",
            "--format",
            "json",
            "SELECT id, s FROM t WHERE id = 2"
        ]),
        "[{\"id\":2,\"s\":\"b,c\"}]\n"
    );
    assert_eq!(
        untimed(&c.ok(&["sql", "-e", "\\d"])),
        " TABLE\n VARCHAR\n---------\n t\n(1 row)\n"
    );

    // The shell on a pseudo-terminal (util-linux `script`), typed a line at a time.
    if Command::new("script").arg("--version").output().is_ok() {
        let mut shell = Command::new("script")
            .args(["-qfc", &format!("{STELE} sql"), "/dev/null"])
            .env("STELE_SERVER", &server.addr)
            .env("STELE_PASSWORD", "immudb")
            .env("STELE_STATE_DIR", &state)
            .env("TERM", "dumb")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = shell.stdin.take().unwrap();
        for line in [
            "BEGIN;",
            "INSERT INTO t (s)",
            "  VALUES ('tty');",
            "COMMIT;",
            "SELECT s FROM t WHERE id = 4;",
            "\\q",
        ] {
            std::thread::sleep(Duration::from_millis(400));
            input.write_all(format!("{line}\n").as_bytes()).unwrap();
            input.flush().unwrap();
        }
        std::thread::sleep(Duration::from_millis(400));
        drop(input);
        let out = text(&shell.wait_with_output().unwrap().stdout);
        assert!(out.contains("stele*> "), "no transaction prompt in {out:?}");
        assert!(out.contains("(1 row updated, tx 3, "), "{out:?}");
        assert!(out.contains(" tty"), "{out:?}");
        assert!(state.join("sql_history").exists());
    }
}

#[test]
fn admin_commands_and_a_non_admins_permission_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), 0);
    let state = dir.path().join("state");
    let admin = Env::superuser(&server, &state);
    let out = admin.run(
        &["user", "create", "reader", "--permission", "read"],
        None,
        &[("STELE_NEW_PASSWORD", "Reader1!pw")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "user reader created with read on defaultdb\n"
    );
    let users = admin.ok(&["user", "list"]);
    assert!(
        users.contains(" reader | true   | defaultdb:read | immudb "),
        "{users}"
    );
    admin.ok(&["set", "k", "v"]);

    let reader = Env {
        addr: admin.addr.clone(),
        user: "reader",
        password: "Reader1!pw",
        ..admin
    };
    assert_eq!(reader.ok(&["get", "k"]), "v\ttx 1\trevision 1\n");
    assert!(reader
        .fails(&["set", "k", "w"])
        .contains("does not have the permission"));
    assert!(reader
        .fails(&["database", "create", "x"])
        .contains("needs the system admin"));
    assert!(reader
        .fails(&["user", "activate", "immudb", "--off"])
        .contains("error: "));

    assert_eq!(
        admin.ok(&["user", "permission", "grant", "reader", "readwrite"]),
        "granted readwrite on defaultdb to reader\n"
    );
    assert_eq!(reader.ok(&["set", "k", "w"]), "tx 2\n");
    admin.ok(&["user", "activate", "reader", "--off"]);
    assert!(reader.fails(&["get", "k"]).contains("not active"));
    admin.ok(&["user", "activate", "reader"]);
    let out = admin.run(
        &["user", "password", "reader"],
        None,
        &[("STELE_NEW_PASSWORD", "Reader2!pw")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(reader
        .fails(&["get", "k"])
        .contains("invalid user name or password"));

    // Databases: create, use, unload, load, settings, delete.
    assert_eq!(
        admin.ok(&["database", "create", "db2"]),
        "database db2 created\n"
    );
    assert_eq!(
        admin.ok(&["database", "create", "db2", "--if-not-exists"]),
        "database db2 already exists\n"
    );
    assert_eq!(
        admin.ok(&["--db", "db2", "vset", "x", "1"]),
        "tx 1\tverified; trusted state tx 1\n"
    );
    let list = admin.ok(&["database", "list"]);
    assert!(list.contains(" db2       | true   |   1 |"), "{list}");
    let settings = admin.ok(&["--db", "db2", "database", "settings"]);
    assert!(
        settings.starts_with("database db2\n") && settings.contains("maxKeyLen: "),
        "{settings}"
    );
    assert_eq!(
        admin.ok(&["database", "unload", "db2"]),
        "database db2 unloaded\n"
    );
    assert!(admin
        .fails(&["--db", "db2", "get", "x"])
        .contains("error: "));
    assert_eq!(
        admin.ok(&["database", "load", "db2"]),
        "database db2 loaded\n"
    );
    admin.ok(&["database", "unload", "db2"]);
    assert_eq!(
        admin.ok(&["database", "delete", "db2"]),
        "database db2 deleted\n"
    );
    assert!(!admin.ok(&["database", "list"]).contains("db2"));

    let status = admin.ok(&["status"]);
    assert!(
        status.contains(&format!("at {}\nup since ", server.addr)),
        "{status}"
    );
    assert!(status.contains("2 databases, "), "{status}"); // defaultdb and the event store's dcb
}

/// Flips the last byte of the stored value of `key` as written in tx `tx`.
fn tamper_value(data: &Path, key: &[u8], tx: u64) {
    use stele_ledger::format::{self, CF_AHT, CF_IDX, CF_KV, CF_REV, CF_TX};
    use stele_ledger::rocksdb::{ColumnFamilyDescriptor, Options, DB};
    let cfs = [CF_TX, CF_KV, CF_AHT, CF_IDX, CF_REV]
        .map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
    let db = DB::open_cf_descriptors(&Options::default(), data.join("defaultdb"), cfs).unwrap();
    let cf = db.cf_handle(CF_KV).unwrap();
    let stored = format::kv_key(key, tx);
    let mut v = db
        .get_cf(cf, &stored)
        .unwrap()
        .expect("the version is stored");
    let last = v.len() - 1;
    v[last] ^= 0x01;
    db.put_cf(cf, &stored, v).unwrap();
}

#[test]
fn verify_server_catches_a_history_altered_between_two_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start(&data, 0);
    let state = dir.path().join("state");
    let c = Env::superuser(&server, &state);
    for i in 0..12 {
        c.ok(&["set", &format!("key{i}"), &format!("value {i}")]);
    }
    c.ok(&[
        "sql",
        "-e",
        "CREATE TABLE t (id INTEGER, PRIMARY KEY id); INSERT INTO t (id) VALUES (1), (2)",
    ]);
    let out = c.ok(&["verify"]);
    assert!(
        out.starts_with("verified txs 1..=13 of database defaultdb on "),
        "{out}"
    );
    assert!(out.contains("trusted state tx 13 "), "{out}");
    assert!(c
        .ok(&["verify", "--from", "5", "--to", "9"])
        .starts_with("verified txs 5..=9 "));
    assert!(c
        .fails(&["verify", "--to", "99"])
        .contains("beyond the server's last tx (13)"));

    // The server is stopped, a stored value of tx 6 changed, the server restarted.
    let port = server.port();
    server.stop();
    tamper_value(&data, b"\0key5", 6);
    let server = Server::start(&data, port);
    let c = Env {
        addr: server.addr.clone(),
        ..c
    };
    let err = c.fails(&["verify"]);
    assert!(
        err.contains("error: verification failed at tx 6: "),
        "{err}"
    );
    assert!(c
        .fails(&["vget", "key5"])
        .contains("verification failed at tx 6"));
    // The trusted state was left as it was.
    assert!(c.ok(&["state"]).contains("trusted here: tx 13 "));
    drop(server);

    // A server that lost its history (a fresh data directory at the same address).
    let server = Server::start(&dir.path().join("fresh"), port);
    let c = Env {
        addr: server.addr.clone(),
        ..c
    };
    c.ok(&["set", "a", "b"]);
    let err = c.fails(&["verify"]);
    assert!(err.contains("history was lost or rolled back"), "{err}");
}

#[test]
fn sql_tests_give_the_same_results_through_slt_server() {
    // The package directory as cargo gives it at run time (see crates/proto/tests/descriptor.rs).
    let package = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let root = Path::new(&package).join("../../sql-tests");
    let mut files: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    assert!(files.len() > 5);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"), 0);
    let state = dir.path().join("state");
    let c = Env::superuser(&server, &state);
    let mut args = vec!["slt"];
    args.extend(files.iter().map(String::as_str));
    let remote = c.run(&args, None, &[]);
    let embedded = Command::new(STELE)
        .args(&args)
        .env_remove("STELE_SERVER")
        .output()
        .unwrap();
    assert!(remote.status.success(), "{}", text(&remote.stdout));
    assert!(embedded.status.success(), "{}", text(&embedded.stdout));
    let summary = text(&remote.stdout);
    assert_eq!(summary, text(&embedded.stdout));
    assert!(summary.ends_with(" passed, 0 failed\n"), "{summary}");
    // The runner's databases are gone.
    assert!(!c.ok(&["database", "list"]).contains("slt"));
}
