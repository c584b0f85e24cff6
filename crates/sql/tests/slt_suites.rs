//! The `sql-tests/*.slt` suites, one test per file (a failure names its file), each run through
//! `stele slt`'s library code on a fresh embedded database; failing records print their line
//! and difference. `every_file_has_a_test` keeps the list below complete.

use std::path::PathBuf;

/// The directory of the suites, from the package directory cargo gives at run time (see
/// crates/proto/tests/descriptor.rs).
fn suites() -> PathBuf {
    let package = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    PathBuf::from(package).join("../../sql-tests")
}

fn run(file: &str) {
    let path = suites().join(file);
    let report = stele_sql::slt::run_file(&path, &[], false);
    for f in &report.failures {
        eprintln!("{f}\n");
    }
    assert_eq!(report.failed, 0, "{file}: {}", report.summary());
    assert!(report.passed > 0, "{file}: no records ran");
}

/// One `#[test]` per suite file, named after it.
macro_rules! suites {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { run(concat!(stringify!($name), ".slt")); })*
        const FILES: &[&str] = &[$(concat!(stringify!($name), ".slt")),*];
    };
}

suites!(
    aggregates_joins,
    basics,
    catalog,
    checks,
    ddl,
    errors,
    functions,
    indexes,
    json_uuid_blob,
    keys_and_writes,
    queries,
    ranges,
    semantics,
    time_travel,
    transactions,
    types,
);

#[test]
fn every_file_has_a_test() {
    let mut files: Vec<String> = std::fs::read_dir(suites())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".slt"))
        .collect();
    files.sort();
    let mut listed: Vec<String> = FILES.iter().map(|f| f.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "sql-tests/*.slt and the suites! list differ");
}
