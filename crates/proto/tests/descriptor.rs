//! Our `immudb.schema` is the client's: every message, field (name, number, type, label,
//! oneof), enum and RPC of our compiled `.proto` equals the descriptor immudb-py 1.5.0 ships,
//! compared by `compare_descriptor.py` in the client's own Python.
//!
//! Needs `STELE_PYTHON`: a Python with `immudb-py==1.5.0` installed (`scripts/test` makes one).

#[test]
fn our_proto_matches_the_descriptor_immudb_py_ships() {
    let python = std::env::var("STELE_PYTHON").expect(
        "STELE_PYTHON must name a Python with immudb-py==1.5.0 installed; scripts/test sets it up",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("immudb.pb");
    std::fs::write(&path, stele_proto::immudb::FILE_DESCRIPTOR_SET).unwrap();
    // The package directory as cargo gives it when running the test (a binary built from
    // another checkout sharing the target directory would carry that checkout's path).
    let package = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let script = format!("{package}/tests/compare_descriptor.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "descriptor differs:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("73 methods"), "{text}");
}
