//! Progress of a long walk on stderr: a bar with the rate and the time left on a terminal,
//! a plain line every few seconds otherwise (logs, CI).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

pub struct Progress {
    what: &'static str,
    started: Instant,
    last: Option<Instant>,
    terminal: bool,
}

impl Progress {
    pub fn new(what: &'static str) -> Progress {
        Progress {
            what,
            started: Instant::now(),
            last: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Reports `done` of `total`; draws at most ten times a second (a plain line every five
    /// seconds off a terminal), and always at the end.
    pub fn update(&mut self, done: u64, total: u64) {
        let now = Instant::now();
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if done < total && self.last.is_some_and(|l| now - l < every) {
            return;
        }
        self.last = Some(now);
        let secs = (now - self.started).as_secs_f64().max(1e-6);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 {
            format!("{:.0}s", (total - done.min(total)) as f64 / rate)
        } else {
            "?".into()
        };
        let mut err = std::io::stderr().lock();
        if self.terminal {
            const WIDTH: u64 = 30;
            let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH) as usize;
            let _ = write!(
                err,
                "\r[{}{}] {done}/{total} {}  {rate:.0}/s  ETA {eta} ",
                "#".repeat(filled),
                " ".repeat(WIDTH as usize - filled),
                self.what
            );
            if done >= total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{done}/{total} {} ({rate:.0}/s, ETA {eta})", self.what);
        }
    }
}
