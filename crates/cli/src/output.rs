//! The lines the key/value and slt commands print, embedded and remote alike: one format,
//! written once, so a script reads either mode's output the same way.

/// A key or value as text when it is UTF-8, else as `0x` and hex.
pub fn show(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap_or_else(|_| format!("0x{}", hex::encode(b)))
}

/// `get`: the value, the tx that wrote it and its revision.
pub fn entry(value: &[u8], tx: u64, revision: u64) {
    println!("{}\ttx {tx}\trevision {revision}", show(value));
}

/// `history`: one version of a key.
pub fn version(revision: u64, tx: u64, deleted: bool, value: &[u8]) {
    let v = if deleted {
        "(deleted)".to_string()
    } else {
        show(value)
    };
    println!("revision {revision}\ttx {tx}\t{v}");
}

/// `scan`: one live key.
pub fn scan_row(key: &[u8], value: &[u8], tx: u64) {
    println!("{}\t{}\ttx {tx}", show(key), show(value));
}

/// `zscan`: one member of a sorted set and the value it refers to.
pub fn zscan_row(key: &[u8], score: f64, value: &[u8], tx: u64) {
    println!("{}\t{score}\t{}\ttx {tx}", show(key), show(value));
}

/// `tx`: the header, then one stored key a line.
pub fn tx<'k>(
    id: u64,
    ts: i64,
    nentries: u32,
    eh: &[u8],
    alh: &[u8],
    keys: impl Iterator<Item = &'k [u8]>,
) {
    println!(
        "tx {id}  ts {ts}  entries {nentries}  eH {}  Alh {}",
        hex::encode(eh),
        hex::encode(alh)
    );
    for k in keys {
        println!("  {}", show(k));
    }
}

/// `slt`: each failure with its line, then `N passed, M failed`; an error when any failed.
pub fn slt_report(report: &stele_slt::Report) -> Result<(), String> {
    for f in &report.failures {
        println!("{f}\n");
    }
    println!("{}", report.summary());
    match report.failed {
        0 => Ok(()),
        n => Err(format!("{n} records failed")),
    }
}
