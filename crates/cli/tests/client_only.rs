//! Built without its `embedded` feature, the binary is a client only: stele-proto and
//! stele-proof are its only Stele libraries, and neither RocksDB nor DataFusion is in its
//! dependency tree.

#[test]
fn the_client_only_build_links_neither_rocksdb_nor_datafusion() {
    // The package directory as cargo gives it at run time (see crates/proto/tests/descriptor.rs).
    let package = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let manifest = format!("{package}/Cargo.toml");
    let out = std::process::Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--manifest-path", &manifest])
        .args([
            "-p",
            "stele",
            "--no-default-features",
            "--edges",
            "normal,build",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tree.contains("stele-client"), "{tree}");
    assert!(tree.contains("stele-proof"), "{tree}");
    for banned in [
        "rocksdb",
        "datafusion",
        "stele-ledger",
        "stele-sql ",
        "stele-server",
        "arrow",
    ] {
        assert!(
            !tree.lines().any(|l| l.contains(banned)),
            "{banned} is in the client-only build:\n{tree}"
        );
    }
}
