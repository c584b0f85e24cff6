//! # stele-events: a DCB event store over the ledger
//!
//! UmaDB's model of Dynamic Consistency Boundaries, on a Stele ledger database of its own:
//! events get gapless positions from 1; an append may carry a condition (no event matching a
//! query after a position) checked atomically with its write; reads select events by type and
//! tag; subscriptions follow the head; tracking info records, per upstream source, the last
//! position processed, in the same tx as the events it produced.
//!
//! - [`keys`]: where events, tracking positions and the type and tag indexes live.
//! - [`query`]: what an event matching a query means.
//! - `read`: reads at a view, driven by the indexes.
//! - `append`: the writer thread and its commit groups.
//!
//! Invariants: every event and tracking position is a plain key/value entry of its append's
//! ledger tx, so immudb's VerifiableGet proves it; a read sees one committed view (a tx and
//! the head it had), never a half-written append; the head only grows. Not here: the wire
//! protocol (stele-server serves it) and the limits of gRPC messages.

mod append;
mod error;
pub mod keys;
pub mod query;
mod read;

use std::sync::Arc;

use parking_lot::Mutex;
use stele_ledger::proof::TxId;
use stele_ledger::{Ledger, LedgerError, ScanQuery};
use stele_proto::umadb as pb;

pub use append::{parse_uuid, BATCH_MAX_EVENTS, MAX_FIELD, MAX_SOURCE_LEN};
pub use error::{EventError, Result};

/// What a read sees: a committed ledger tx and the last event position it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The ledger tx read at.
    pub tx: TxId,
    /// Position of the last event as of that tx; 0 when there is none.
    pub head: u64,
}

/// The log as of ledger tx `tx`: that tx and the last position it holds (for reads of a
/// ledger without its store, e.g. SQL at a past tx).
pub fn view_at(ledger: &Ledger, tx: TxId) -> Result<View> {
    let last = ledger.scan(&ScanQuery {
        prefix: keys::stored_event_prefix(),
        desc: true,
        limit: 1,
        snapshot: Some(tx),
        ..Default::default()
    })?;
    let head = last
        .first()
        .and_then(|e| keys::position_of_stored(&e.key))
        .unwrap_or(0);
    Ok(View { tx, head })
}

/// Up to `max` events matching `query` with positions in `lo..=hi` as of `view`, ascending or
/// (`backwards`) descending: [`EventStore::find`] on a ledger without its store.
pub fn find(
    ledger: &Ledger,
    view: View,
    query: &pb::Query,
    lo: u64,
    hi: u64,
    backwards: bool,
    max: usize,
) -> Result<Vec<pb::SequencedEvent>> {
    read::find(ledger, view, query, lo, hi, backwards, max)
}

/// What the writer thread and the readers share.
pub(crate) struct Shared {
    ledger: Arc<Ledger>,
    view: Mutex<View>,
    head: tokio::sync::watch::Sender<u64>,
    max_entries: usize,
}

impl Shared {
    fn view(&self) -> View {
        *self.view.lock()
    }

    /// Makes a committed view visible to readers and wakes subscribers.
    fn published(&self, v: View) {
        *self.view.lock() = v;
        self.head.send_replace(v.head);
    }

    fn tracking(&self, source: &str) -> Result<Option<u64>> {
        let key = keys::stored(&keys::tracking_key(source));
        match self.ledger.get(&key, None) {
            Ok(e) => {
                let bytes: [u8; 8] = e
                    .value
                    .get(1..)
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| {
                        EventError::Corruption(format!("tracking position of {source:?}"))
                    })?;
                Ok(Some(u64::from_be_bytes(bytes)))
            }
            Err(LedgerError::KeyNotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The event store of one ledger database.
pub struct EventStore {
    shared: Arc<Shared>,
    writer: Mutex<Option<crossbeam_channel::Sender<append::Job>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl EventStore {
    /// The store over `ledger` (its head found from the log); one tx holds at most
    /// `max_entries` entries, so one append at most `max_entries - 1` events.
    pub fn open(ledger: Arc<Ledger>, max_entries: usize) -> Result<EventStore> {
        let view = view_at(&ledger, ledger.state().tx_id)?;
        let (head_tx, _) = tokio::sync::watch::channel(view.head);
        let shared = Arc::new(Shared {
            ledger,
            view: Mutex::new(view),
            head: head_tx,
            max_entries: max_entries.max(2),
        });
        // Unbounded: a submit never blocks the async thread that makes it.
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        let writer_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("stele-events-writer".into())
            .spawn(move || append::run(writer_shared, jobs_rx))
            .map_err(|e| EventError::Internal(format!("no writer thread: {e}")))?;
        Ok(EventStore {
            shared,
            writer: Mutex::new(Some(jobs_tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// The ledger underneath.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.shared.ledger
    }

    /// The committed view reads start from.
    pub fn view(&self) -> View {
        self.shared.view()
    }

    /// The last position (`None` when the store is empty).
    pub fn head(&self) -> Option<u64> {
        Some(self.view().head).filter(|h| *h > 0)
    }

    /// A receiver of the head, for subscriptions to wait on.
    pub fn watch_head(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.head.subscribe()
    }

    /// The last position recorded for `source`.
    pub fn tracking(&self, source: &str) -> Result<Option<u64>> {
        self.shared.tracking(source)
    }

    /// Queues an append; the receiver gets its last position (0 for no events) once durable.
    pub fn submit(
        &self,
        request: pb::AppendRequest,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<u64>>> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let writer = self.writer.lock().clone().ok_or(EventError::ShuttingDown)?;
        writer
            .send(append::Job { request, reply })
            .map_err(|_| EventError::ShuttingDown)?;
        Ok(answer)
    }

    /// Appends and waits (blocking) until it is durable: the last position, 0 for no events.
    pub fn append(&self, request: pb::AppendRequest) -> Result<u64> {
        self.submit(request)?
            .blocking_recv()
            .map_err(|_| EventError::ShuttingDown)?
    }

    /// Up to `max` events matching `query` with positions in `lo..=hi`, as of `view`,
    /// ascending or (`backwards`) descending.
    pub fn find(
        &self,
        view: View,
        query: &pb::Query,
        lo: u64,
        hi: u64,
        backwards: bool,
        max: usize,
    ) -> Result<Vec<pb::SequencedEvent>> {
        find(&self.shared.ledger, view, query, lo, hi, backwards, max)
    }

    /// Stops taking appends, lets the queued ones finish, and waits for the writer.
    pub fn close(&self) {
        self.writer.lock().take();
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for EventStore {
    fn drop(&mut self) {
        self.close();
    }
}
