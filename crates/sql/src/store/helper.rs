//! The store's reader thread: parts of a read cut in pieces run there, side by side with the
//! caller's thread, each thread taking the next piece not yet taken.
//!
//! A thread kept for the store's life and woken for each read costs ~10 us; one spawned for
//! each read costs ~50 us (measured on a 2-vCPU VM), which is 5% of a 10k-row range read.
//!
//! Where the woken thread runs matters as much: Linux places a thread it wakes on an idle CPU
//! only if that CPU's vCPU is not descheduled by the host, and an idle vCPU of a VM is; so on a
//! VM whose other vCPU has been idle for a while (a query arriving alone), the reader thread
//! was woken onto its caller's CPU and the two halves of a read ran one after the other (a
//! 10k-row range: 1.6-1.8 ms against 1.0 in a tight loop). Before each hand-over the reader
//! thread is allowed every CPU the caller may use but the one the caller is on
//! ([`Placement`]); and the pieces are taken one by one, so a reader thread that starts late, or
//! runs slower, reads fewer of them.
//!
//! Invariants:
//! - one job at a time: a job handed over while another runs goes to a thread spawned for it
//!   (two queries reading side by side never wait for each other's pieces);
//! - a job owns what it reads (an `Arc` of the store or of a column copy): a caller that
//!   returns early on an error of its own leaves nothing borrowed behind;
//! - a job that panics is reported to its caller as an error, and the thread carries on;
//! - the thread ends when the store, and with it the sender, is dropped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use crate::error::{Result, SqlError};
use crate::types::Rows;

type Job = Box<dyn FnOnce() + Send>;

/// The reader thread of one store.
#[derive(Debug)]
pub(crate) struct Helper {
    /// `None` when the thread could not be started: every job then gets a thread of its own.
    jobs: Option<mpsc::Sender<Job>>,
    busy: Arc<AtomicBool>,
    placement: Arc<Placement>,
}

/// A job's result, to be waited for.
pub(crate) struct Pending<T>(mpsc::Receiver<std::thread::Result<T>>);

impl Helper {
    /// Starts the thread.
    pub(crate) fn start() -> Helper {
        let (send, jobs) = mpsc::channel::<Job>();
        let placement = Arc::new(Placement::default());
        let own = placement.clone();
        let started = std::thread::Builder::new()
            .name("stele-read".into())
            .spawn(move || {
                own.started();
                for job in jobs {
                    job();
                }
            });
        Helper {
            jobs: started.ok().map(|_| send),
            busy: Arc::new(AtomicBool::new(false)),
            placement,
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
                self.placement.off_callers_cpu();
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

/// What the parts of a [`side_by_side`] read are read into: each part into one of its own,
/// appended to the first's in the parts' order.
pub(crate) trait Gathered: Send + Sync + Sized + 'static {
    /// An empty one, of the same shape.
    fn fresh(&self) -> Self;
    /// `more` appended.
    fn gather(&mut self, more: Self);
}

impl<T: Send + Sync + 'static> Gathered for Vec<T> {
    fn fresh(&self) -> Self {
        Vec::new()
    }

    fn gather(&mut self, mut more: Self) {
        self.append(&mut more);
    }
}

impl Gathered for Rows {
    fn fresh(&self) -> Self {
        Rows::new(self.width())
    }

    fn gather(&mut self, mut more: Self) {
        self.append(&mut more);
    }
}

/// `read` of each of `parts` (disjoint parts of one read, in order) appended to `out` in the
/// parts' order. The first is read on this thread, straight into `out`; each later one by
/// whichever of this thread and one job on the store's reader thread comes for it first
/// (each into one of its own, appended after). Returns once every part is read, or at the
/// first error (of the lowest part that failed, when both threads fail).
pub(crate) fn side_by_side<P: Send + Sync + 'static, O: Gathered>(
    reader: &Helper,
    parts: Vec<P>,
    out: &mut O,
    read: impl Fn(&P, &mut O) -> Result<()> + Send + Sync + 'static,
) -> Result<()> {
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Ok(());
    };
    let later: Vec<P> = parts.collect();
    if later.is_empty() {
        return read(&first, out);
    }
    let shared = Arc::new(Shared {
        slots: Mutex::new(later.iter().map(|_| None).collect()),
        parts: later,
        next: AtomicUsize::new(0),
        filled: Condvar::new(),
        blank: out.fresh(),
        read,
    });
    // The job's result is not waited for: the slots say when every part is read.
    let job = shared.clone();
    drop(reader.run(move || job.take_parts()));
    if let Err(e) = (shared.read)(&first, out) {
        // Nothing more is taken; a part the reader thread is reading finishes unread by us.
        shared.next.store(shared.parts.len(), Ordering::Release);
        return Err(e);
    }
    shared.take_parts();
    let mut slots = shared.slots.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        // Every part is taken by now; one still unread is being read on the reader thread.
        if slots.iter().all(Option::is_some) {
            break;
        }
        slots = shared.filled.wait(slots).unwrap_or_else(|e| e.into_inner());
    }
    for slot in slots.iter_mut() {
        out.gather(slot.take().expect("every slot is filled")?);
    }
    Ok(())
}

/// The later parts of a [`side_by_side`] read, taken one at a time by the threads reading them.
struct Shared<P, O, F> {
    parts: Vec<P>,
    /// The next part not yet taken (`parts.len()` and above: none left).
    next: AtomicUsize,
    /// Each part's rows once read (or its error).
    slots: Mutex<Vec<Option<Result<O>>>>,
    filled: Condvar,
    /// An empty `O` each part's is made like.
    blank: O,
    read: F,
}

impl<P, O: Gathered, F: Fn(&P, &mut O) -> Result<()>> Shared<P, O, F> {
    /// Reads parts not yet taken until there are none left.
    fn take_parts(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::AcqRel);
            let Some(part) = self.parts.get(i) else {
                return;
            };
            let got = catch_unwind(AssertUnwindSafe(|| {
                let mut rows = self.blank.fresh();
                (self.read)(part, &mut rows).map(|()| rows)
            }))
            .unwrap_or_else(|_| Err(SqlError::Corrupted("a read thread panicked".into())));
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots[i] = Some(got);
            self.filled.notify_all();
        }
    }
}

/// Which CPUs the reader thread may run on: every CPU its last caller may use but the one that
/// caller was on, so that waking it never puts it behind its caller (see the module's note).
#[derive(Debug, Default)]
struct Placement {
    /// The reader thread's id, once it runs.
    #[cfg(target_os = "linux")]
    thread: std::sync::OnceLock<nix::unistd::Pid>,
    /// The CPU the reader thread is kept off (`usize::MAX`: none yet).
    #[cfg(target_os = "linux")]
    off: AtomicUsize,
}

#[cfg(target_os = "linux")]
impl Placement {
    /// Called on the reader thread as it starts.
    fn started(&self) {
        // Kept off no CPU yet; then callers may place the thread.
        self.off.store(usize::MAX, Ordering::Relaxed);
        let _ = self.thread.set(nix::unistd::gettid());
    }

    /// Keeps the reader thread off the calling thread's CPU, when the caller may use another.
    /// Best effort: a CPU set that cannot be read or applied leaves the thread where it is.
    fn off_callers_cpu(&self) {
        use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity, CpuSet};
        let (Some(thread), Ok(cpu)) = (self.thread.get(), sched_getcpu()) else {
            return;
        };
        if self.off.load(Ordering::Relaxed) == cpu {
            return;
        }
        let Ok(mut allowed) = sched_getaffinity(nix::unistd::Pid::from_raw(0)) else {
            return;
        };
        let others = (0..CpuSet::count())
            .filter(|&c| c != cpu && allowed.is_set(c).unwrap_or(false))
            .count();
        if others > 0 && allowed.unset(cpu).is_ok() && sched_setaffinity(*thread, &allowed).is_ok()
        {
            self.off.store(cpu, Ordering::Relaxed);
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Placement {
    fn started(&self) {}
    fn off_callers_cpu(&self) {}
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
    use super::{side_by_side, Helper};
    use crate::error::SqlError;

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

    #[test]
    fn parts_read_side_by_side_come_back_in_order_with_the_first_error() {
        let helper = Helper::start();
        let parts: Vec<u32> = (0..40).collect();
        let mut out = vec![1000];
        side_by_side(&helper, parts.clone(), &mut out, |p, out| {
            out.extend([*p * 2, *p * 2 + 1]);
            Ok(())
        })
        .unwrap();
        assert_eq!(out[0], 1000);
        assert_eq!(out[1..], (0..80).collect::<Vec<u32>>());
        // The lowest failing part's error, a panic among them.
        let got = side_by_side(&helper, parts, &mut Vec::new(), |p, out| match p {
            7 => Err(SqlError::Corrupted("part 7".into())),
            20 => panic!("part 20"),
            _ => {
                out.push(*p);
                Ok(())
            }
        });
        assert!(matches!(got, Err(SqlError::Corrupted(m)) if m == "part 7"));
        // With the reader thread held by another job, the caller reads every part itself
        // (a thread spawned for the job takes any part it finds left).
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let held = helper.run(move || release.recv().unwrap());
        let mut out = Vec::new();
        side_by_side(&helper, vec![1, 2, 3], &mut out, |p, out| {
            out.push(*p);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, [1, 2, 3]);
        hold.send(()).unwrap();
        held.wait().unwrap();
    }
}
