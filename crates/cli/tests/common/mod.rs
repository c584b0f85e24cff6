//! Helpers the CLI tests share.

/// Output bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Output without its timings, which vary: a line ending `, 1.2 ms)` ends `)`.
pub fn untimed(out: &str) -> String {
    out.lines()
        .map(|l| match (l.rfind(", "), l.ends_with(" ms)")) {
            (Some(i), true) => format!("{})\n", &l[..i]),
            _ => format!("{l}\n"),
        })
        .collect()
}
