//! Appends: one writer thread takes a request and whatever else is queued (up to
//! [`BATCH_MAX_EVENTS`] events), checks each request in order against the committed log plus
//! the earlier requests of the batch, gives each request's events the next positions, and
//! commits the batch as one ledger tx (one sync). Requests refused (a failed condition, bad
//! input) get their error at once and leave nothing; the others are answered after the commit,
//! all failing if it fails.
//!
//! Invariants: positions are gapless and each request's are contiguous; a condition and its
//! write are atomic (one writer, batch-local visibility); tracking positions per source only
//! increase; an empty append writes only its tracking info and answers 0.

use std::collections::HashMap;
use std::sync::Arc;

use prost::Message as _;
use stele_ledger::{Commit, IndexEntry, NewEntry};
use stele_proto::umadb as pb;

use crate::error::{EventError, Result};
use crate::{keys, query, read, Shared, View};

/// Most events one commit group takes (more wait for the next).
pub const BATCH_MAX_EVENTS: usize = 2048;
/// Longest tracking source, in bytes.
pub const MAX_SOURCE_LEN: usize = 255;
/// Longest metadata key or value, and most tags on one event.
pub const MAX_FIELD: usize = 65_535;

/// A queued append and where its answer goes.
pub struct Job {
    pub request: pb::AppendRequest,
    pub reply: tokio::sync::oneshot::Sender<Result<u64>>,
}

/// The writer thread's loop: until every sender is gone.
pub fn run(shared: Arc<Shared>, jobs: crossbeam_channel::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut events = first.request.events.len();
        let mut batch = vec![first];
        while events < BATCH_MAX_EVENTS {
            match jobs.try_recv() {
                Ok(j) => {
                    events += j.request.events.len();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        commit_batch(&shared, batch);
    }
}

/// What a batch will write, and who waits for it.
struct Batch {
    view: View,
    next: u64,
    /// The batch's events so far, for the conditions of later requests.
    pending: Vec<pb::SequencedEvent>,
    tracking: HashMap<String, u64>,
    entries: Vec<NewEntry>,
    index: Vec<IndexEntry>,
    waiting: Vec<(tokio::sync::oneshot::Sender<Result<u64>>, u64)>,
}

impl Batch {
    fn new(view: View) -> Batch {
        Batch {
            view,
            next: view.head + 1,
            pending: Vec::new(),
            tracking: HashMap::new(),
            entries: Vec::new(),
            index: Vec::new(),
            waiting: Vec::new(),
        }
    }

    fn size(&self) -> usize {
        self.entries.len() + self.tracking.len()
    }
}

fn commit_batch(shared: &Shared, jobs: Vec<Job>) {
    let mut batch = Batch::new(shared.view());
    for job in jobs {
        let needed = job.request.events.len() + 1;
        if needed > shared.max_entries {
            let _ = job.reply.send(Err(EventError::InvalidArgument(format!(
                "too many events in one append: {} (at most {})",
                job.request.events.len(),
                shared.max_entries - 1
            ))));
            continue;
        }
        if batch.size() + needed > shared.max_entries {
            batch = flush(shared, batch);
        }
        match prepare(shared, &mut batch, &job.request) {
            Ok(Staged::Written(last)) => batch.waiting.push((job.reply, last)),
            // Events of this very batch: answered once they are committed.
            Ok(Staged::AlreadyDone(last)) if last > batch.view.head => {
                batch.waiting.push((job.reply, last))
            }
            Ok(Staged::AlreadyDone(last)) => {
                let _ = job.reply.send(Ok(last));
            }
            Err(e) => {
                let _ = job.reply.send(Err(e));
            }
        }
    }
    flush(shared, batch);
}

/// Commits what the batch holds, answers its waiters, and returns a fresh batch.
fn flush(shared: &Shared, mut batch: Batch) -> Batch {
    if batch.waiting.is_empty() {
        return Batch::new(shared.view());
    }
    for (source, position) in std::mem::take(&mut batch.tracking) {
        batch.entries.push(NewEntry::new(
            keys::stored(&keys::tracking_key(&source)),
            keys::stored(&position.to_be_bytes()),
        ));
    }
    let head = batch.next - 1;
    let result = shared.ledger.commit_with(Commit {
        entries: std::mem::take(&mut batch.entries),
        index_entries: std::mem::take(&mut batch.index),
        // Event keys are written once; numbering them would cost a read each.
        unnumbered: true,
        ..Default::default()
    });
    match result {
        Ok(header) => {
            shared.published(View {
                tx: header.id,
                head,
            });
            for (reply, last) in batch.waiting {
                let _ = reply.send(Ok(last));
            }
        }
        Err(e) => {
            let message = e.to_string();
            for (reply, _) in batch.waiting {
                let _ = reply.send(Err(EventError::Internal(format!(
                    "the commit failed: {message}"
                ))));
            }
        }
    }
    Batch::new(shared.view())
}

enum Staged {
    /// Written with the batch: its last position (0 for no events).
    Written(u64),
    /// An idempotent retry of an append already in the log: its last position.
    AlreadyDone(u64),
}

/// Checks one request against the log and the batch, and stages its writes.
fn prepare(shared: &Shared, batch: &mut Batch, r: &pb::AppendRequest) -> Result<Staged> {
    validate(r)?;
    if let Some(cond) = &r.condition {
        let q = cond.fail_if_events_match.clone().unwrap_or_default();
        let after = cond.after.unwrap_or(0);
        if let Some(conflict) = first_matches(shared, batch, &q, after, 1)?.first() {
            if let Some(last) = idempotent_retry(shared, batch, &q, after, &r.events)? {
                return Ok(Staged::AlreadyDone(last));
            }
            return Err(EventError::Integrity(format!(
                "condition failed: event {} matches the append condition's query after position {after}",
                conflict.position
            )));
        }
    }
    if let Some(t) = &r.tracking_info {
        let last = match batch.tracking.get(&t.source) {
            Some(p) => Some(*p),
            None => shared.tracking(&t.source)?,
        };
        if let Some(last) = last.filter(|l| t.position <= *l) {
            return Err(EventError::Integrity(format!(
                "non-increasing tracking position {} for source {:?} (last {last})",
                t.position, t.source
            )));
        }
        batch.tracking.insert(t.source.clone(), t.position);
    }
    let mut last = 0;
    for event in &r.events {
        let position = batch.next;
        batch.next += 1;
        last = position;
        let sequenced = pb::SequencedEvent {
            position,
            event: Some(event.clone()),
            tracking_info: r.tracking_info.clone(),
        };
        batch.entries.push(NewEntry::new(
            keys::stored(&keys::event_key(position)),
            keys::stored(&sequenced.encode_to_vec()),
        ));
        let mut index_key = |prefix: Vec<u8>| {
            batch.index.push(IndexEntry {
                key: keys::at(&prefix, position),
                deleted: false,
                at: None,
            })
        };
        index_key(keys::type_prefix(&event.event_type));
        let mut tags: Vec<&String> = event.tags.iter().collect();
        tags.sort();
        tags.dedup();
        for tag in tags {
            index_key(keys::tag_prefix(tag));
        }
        batch.pending.push(sequenced);
    }
    Ok(Staged::Written(last))
}

/// The first `n` events after `after` matching `q`: from the log, then from the batch.
fn first_matches(
    shared: &Shared,
    batch: &Batch,
    q: &pb::Query,
    after: u64,
    n: usize,
) -> Result<Vec<pb::SequencedEvent>> {
    let mut out = read::find(
        &shared.ledger,
        batch.view,
        q,
        after + 1,
        batch.view.head,
        false,
        n,
    )?;
    for e in &batch.pending {
        if out.len() >= n {
            break;
        }
        if e.position > after && e.event.as_ref().is_some_and(|ev| query::matches(q, ev)) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// A conditional append whose events all carry UUIDs is already done when the first events
/// matching its condition after `after` are exactly its events, UUID for UUID, in order: their
/// last position is the answer (UmaDB's rule; UUIDs are not otherwise unique).
fn idempotent_retry(
    shared: &Shared,
    batch: &Batch,
    q: &pb::Query,
    after: u64,
    events: &[pb::Event],
) -> Result<Option<u64>> {
    if events.is_empty() || events.iter().any(|e| e.uuid.is_empty()) {
        return Ok(None);
    }
    let found = first_matches(shared, batch, q, after, events.len())?;
    let same = found.len() == events.len()
        && found.iter().zip(events).all(|(f, e)| {
            f.event
                .as_ref()
                .is_some_and(|fe| same_uuid(&fe.uuid, &e.uuid))
        });
    Ok(same.then(|| found.last().map_or(0, |f| f.position)))
}

fn same_uuid(a: &str, b: &str) -> bool {
    matches!((parse_uuid(a), parse_uuid(b)), (Some(x), Some(y)) if x == y)
}

/// A UUID in any of its text forms (hyphenated, simple, braced, URN) as its 16 bytes.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
    let s = s
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(s);
    let hex: String = match s.len() {
        32 => s.to_string(),
        36 => {
            let b = s.as_bytes();
            if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                return None;
            }
            s.replace('-', "")
        }
        _ => return None,
    };
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The limits of spec sections 2.3 and 2.9, each with the error kind UmaDB gives.
fn validate(r: &pb::AppendRequest) -> Result<()> {
    if let Some(t) = &r.tracking_info {
        if t.source.len() > MAX_SOURCE_LEN {
            return Err(EventError::InvalidArgument(format!(
                "tracking source is {} bytes long (at most {MAX_SOURCE_LEN})",
                t.source.len()
            )));
        }
    }
    for (i, e) in r.events.iter().enumerate() {
        if !e.uuid.is_empty() && parse_uuid(&e.uuid).is_none() {
            return Err(EventError::Deserialization(format!(
                "Invalid UUID in Event: event {i} has uuid {:?}",
                e.uuid
            )));
        }
        if e.tags.len() > MAX_FIELD {
            return Err(EventError::InvalidArgument(format!(
                "event {i} has {} tags (at most {MAX_FIELD})",
                e.tags.len()
            )));
        }
        let mut keys: Vec<&str> = Vec::with_capacity(e.metadata.len());
        for m in &e.metadata {
            if m.key.len() > MAX_FIELD || m.value.len() > MAX_FIELD {
                return Err(EventError::InvalidArgument(format!(
                    "event {i}: metadata entry {:?} is longer than {MAX_FIELD} bytes",
                    m.key
                )));
            }
            if keys.contains(&m.key.as_str()) {
                return Err(EventError::InvalidArgument(format!(
                    "event {i}: duplicate metadata key {:?}",
                    m.key
                )));
            }
            keys.push(&m.key);
        }
    }
    Ok(())
}
