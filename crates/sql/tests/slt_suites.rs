//! Runs every `sql-tests/*.slt` suite through `stele slt`'s library code, each on a fresh
//! embedded database, and fails with every failing record's file, line and difference.

#[test]
fn sql_tests_suites() {
    // The package directory as cargo gives it at run time (see crates/proto/tests/descriptor.rs).
    let package = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let dir = format!("{package}/../../sql-tests");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {dir}");
    let mut total = stele_sql::slt::Report::default();
    for f in &files {
        total.add(stele_sql::slt::run_file(f, &[]));
    }
    for f in &total.failures {
        eprintln!("{f}\n");
    }
    println!("slt: {} passed, {} failed", total.passed, total.failed);
    assert_eq!(total.failed, 0, "{} slt records failed", total.failed);
    assert!(total.passed > 0);
}
