//! stele-bench: Stele measured side by side with its baselines, in one run.
//!
//! `cargo run --release -p stele-bench -- ledger [--json] [--quick] [--history N]`
//! `cargo run --release -p stele-bench -- sql [--json] [--quick]`
//! `cargo run --release -p stele-bench -- server [--json] [--quick] [--only OPERATION]`
//! `cargo run --release -p stele-bench -- dcb [--json] [--quick] [--only WORKLOAD]`
//!
//! Every figure is printed as `{"name", "unit", "stele", "baseline", "baseline_value", "ratio"}`;
//! `ratio = stele / baseline_value` (so above 1 is better for throughputs, below 1 for latencies).
//! Only ratios from the same run mean anything: disk sync latency on shared machines swings 20x.

mod dcb;
mod ledger;
mod server;
mod sql;

use serde_json::{json, Value};

/// One reported figure.
pub struct Figure {
    pub name: String,
    pub unit: &'static str,
    pub stele: f64,
    pub baseline: Option<(String, f64)>,
}

impl Figure {
    pub fn to_json(&self) -> Value {
        let (b, bv, ratio) = match &self.baseline {
            Some((name, v)) => (
                json!(name),
                json!(v),
                json!(if *v > 0.0 { self.stele / v } else { 0.0 }),
            ),
            None => (Value::Null, Value::Null, Value::Null),
        };
        json!({"name": self.name, "unit": self.unit, "stele": self.stele, "baseline": b, "baseline_value": bv, "ratio": ratio})
    }
}

pub struct Args {
    pub json: bool,
    /// Run only the sections whose name contains this.
    pub only: Option<String>,
    pub quick: bool,
    pub history: u64,
}

fn main() {
    let mut argv = std::env::args().skip(1);
    let Some(suite) = argv.next() else {
        eprintln!(
            "usage: stele-bench ledger|sql|server|dcb [--json] [--quick] [--history N] [--only SECTION]"
        );
        std::process::exit(2);
    };
    let mut args = Args {
        json: false,
        only: None,
        quick: false,
        history: 1_000_000,
    };
    while let Some(a) = argv.next() {
        match a.as_str() {
            "--json" => args.json = true,
            "--quick" => {
                args.quick = true;
                args.history = 50_000;
            }
            "--only" => args.only = argv.next(),
            "--history" => {
                args.history = argv.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                    eprintln!("--history needs a number of transactions");
                    std::process::exit(2)
                })
            }
            other => {
                eprintln!("unknown option {other}");
                std::process::exit(2);
            }
        }
    }
    let figures = match suite.as_str() {
        "ledger" => ledger::run(&args),
        "sql" => sql::run(&args),
        "server" => server::run(&args),
        "dcb" => dcb::run(&args),
        other => {
            eprintln!("unknown suite {other}: expected ledger, sql, server or dcb");
            std::process::exit(2);
        }
    };
    if args.json {
        let arr: Vec<Value> = figures.iter().map(Figure::to_json).collect();
        println!("{}", serde_json::to_string_pretty(&arr).unwrap());
    } else {
        for f in &figures {
            match &f.baseline {
                Some((b, v)) => println!(
                    "{:<55} {:>14.1} {:<10} vs {b} {v:.1} (ratio {:.2})",
                    f.name,
                    f.stele,
                    f.unit,
                    f.stele / v
                ),
                None => println!("{:<55} {:>14.1} {}", f.name, f.stele, f.unit),
            }
        }
    }
}

/// xorshift64: a cheap, seeded stream of sample choices.
pub struct XorShift(pub u64);

impl XorShift {
    /// A number below `m`.
    pub fn below(&mut self, m: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % m
    }
}

/// The median of trial figures (the mean of the middle two for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Median and 99th percentile of samples, in microseconds.
pub fn percentiles(mut samples: Vec<std::time::Duration>) -> (f64, f64) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}
