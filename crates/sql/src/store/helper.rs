//! The store's reader thread: the second half of a read cut in two runs there, side by side
//! with the first on the caller's thread.
//!
//! A thread kept for the store's life and woken for each read costs ~10 us; one spawned for
//! each read costs ~50 us (measured on a 2-vCPU VM), which is 5% of a 10k-row range read.
//!
//! Invariants:
//! - one job at a time: a job handed over while another runs goes to a thread spawned for it
//!   (two queries reading side by side never wait for each other's halves);
//! - a job owns what it reads (an `Arc` of the store or of a column copy): a caller that
//!   returns early on an error of its own half leaves nothing borrowed behind;
//! - a job that panics is reported to its caller as an error, and the thread carries on;
//! - the thread ends when the store, and with it the sender, is dropped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use crate::error::{Result, SqlError};

type Job = Box<dyn FnOnce() + Send>;

/// The reader thread of one store.
#[derive(Debug)]
pub(crate) struct Helper {
    /// `None` when the thread could not be started: every job then gets a thread of its own.
    jobs: Option<mpsc::Sender<Job>>,
    busy: Arc<AtomicBool>,
}

/// A job's result, to be waited for.
pub(crate) struct Pending<T>(mpsc::Receiver<std::thread::Result<T>>);

impl Helper {
    /// Starts the thread.
    pub(crate) fn start() -> Helper {
        let (send, jobs) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("stele-read".into())
            .spawn(move || {
                for job in jobs {
                    job();
                }
            });
        Helper {
            jobs: started.ok().map(|_| send),
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Runs `f` on the reader thread, or on a thread of its own when that one is busy.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Pending<T> {
        let (send, result) = mpsc::sync_channel(1);
        match self
            .jobs
            .as_ref()
            .filter(|_| !self.busy.swap(true, Ordering::AcqRel))
        {
            Some(jobs) => {
                let busy = self.busy.clone();
                // Free before the result is sent: the caller's next read finds it idle.
                let job: Job = Box::new(move || {
                    let r = catch_unwind(AssertUnwindSafe(f));
                    busy.store(false, Ordering::Release);
                    let _ = send.send(r);
                });
                // The thread is gone: the job gets a thread of its own, as every later one will.
                if let Err(mpsc::SendError(job)) = jobs.send(job) {
                    let _ = std::thread::Builder::new().spawn(job);
                }
            }
            // A thread that cannot be started is reported by `wait` (the job, and the result's
            // sender in it, are dropped).
            None => {
                let _ = std::thread::Builder::new()
                    .spawn(move || drop(send.send(catch_unwind(AssertUnwindSafe(f)))));
            }
        }
        Pending(result)
    }
}

/// `read` of each of `parts` (disjoint parts of one read, in order) appended to `out`: the first
/// on this thread, straight into `out`, the others side by side on the store's reader thread
/// (or threads of their own), each into a vector of its own appended after.
pub(crate) fn side_by_side<P: Send + 'static, T: Send + 'static>(
    reader: &Helper,
    parts: Vec<P>,
    out: &mut Vec<T>,
    read: impl Fn(&P, &mut Vec<T>) -> Result<()> + Send + Sync + 'static,
) -> Result<()> {
    let read = Arc::new(read);
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Ok(());
    };
    let later: Vec<_> = parts
        .map(|p| {
            let read = read.clone();
            reader.run(move || {
                let mut more = Vec::new();
                read(&p, &mut more).map(|()| more)
            })
        })
        .collect();
    read(&first, out)?;
    for h in later {
        out.extend(h.wait()??);
    }
    Ok(())
}

impl<T> Pending<T> {
    /// Waits for the job's result.
    pub(crate) fn wait(self) -> Result<T> {
        match self.0.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(SqlError::Corrupted("a read thread panicked".into())),
            Err(_) => Err(SqlError::Corrupted(
                "a read thread could not be started".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Helper;

    #[test]
    fn jobs_run_on_the_helper_or_beside_it_and_panics_come_back_as_errors() {
        let helper = Helper::start();
        // Two at once: the second runs on a thread of its own while the first holds the helper.
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let first = helper.run(move || {
            release.recv().unwrap();
            std::thread::current().name().map(str::to_string)
        });
        let second = helper.run(|| std::thread::current().name().map(str::to_string));
        assert_eq!(second.wait().unwrap(), None);
        hold.send(()).unwrap();
        assert_eq!(first.wait().unwrap().as_deref(), Some("stele-read"));
        // A panic is an error to its caller; the helper goes on with the next job.
        let panicked = helper.run(|| -> u32 { panic!("boom") });
        assert!(panicked.wait().is_err());
        assert_eq!(helper.run(|| 7).wait().unwrap(), 7);
    }
}
