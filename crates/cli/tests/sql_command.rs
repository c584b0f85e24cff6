//! `stele sql`: a request from the arguments, or requests from stdin in one session.

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod common;
use common::{text, untimed};

fn stele(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stele"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn sql_runs_requests_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = stele(
        dir.path(),
        &[
            "sql",
            "CREATE TABLE t (id INTEGER AUTO_INCREMENT, s VARCHAR[8], PRIMARY KEY id);",
            "INSERT INTO t (s) VALUES ('a'), ('b')",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(untimed(&text(&out.stdout)), "(2 rows updated, tx 1)\n");

    // From stdin: one session, so a transaction spans statements; a failed statement is
    // reported and the exit status says so.
    let script = "BEGIN;\nINSERT INTO t (s) VALUES ('c');\nSELECT id, s FROM t\n  WHERE id > 1;\nCOMMIT;\nSELECT nope FROM t;\n";
    let out = stele(dir.path(), &["sql"], Some(script));
    assert!(!out.status.success());
    assert_eq!(
        untimed(&text(&out.stdout)),
        "(transaction open)\n(1 row updated)\n id      | s\n INTEGER | VARCHAR\n---------+---------\n       2 | b\n       3 | c\n(2 rows)\n(done, tx 2)\n"
    );
    assert!(text(&out.stderr).contains("error: column does not exist (nope)"));

    // An open transaction at the end of input is not committed.
    let out = stele(
        dir.path(),
        &["sql"],
        Some("BEGIN; INSERT INTO t (s) VALUES ('d');"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not committed"));
    let out = stele(dir.path(), &["sql", "SELECT COUNT(*) FROM t"], None);
    // An unaliased aggregate is named by its position, as classic names it.
    assert_eq!(
        untimed(&text(&out.stdout)),
        " col0\n INTEGER\n---------\n       3\n(1 row)\n"
    );
    let out = stele(
        dir.path(),
        &["sql", "--format", "csv", "-e", "SELECT id, s FROM t"],
        None,
    );
    assert_eq!(text(&out.stdout), "id,s\n1,a\n2,b\n3,c\n");
    assert!(stele(dir.path(), &["verify"], None).status.success());
}
