//! The `umadb.v1.DCB` RPCs (spec umadb-dcb.md section 2) over stele-events.

use std::pin::Pin;
use std::sync::Arc;

use prost::Message as _;
use stele_events::{EventError, EventStore, View};
use stele_proto::umadb::{self as pb, dcb_server};
use tokio::sync::{mpsc, watch};
use tonic::{Code, Request, Response, Status};

use crate::error::{dcb_status, dcb_status_of};

/// Default and bounds of `batch_size`.
const DEFAULT_BATCH: u32 = 1024;
const MAX_BATCH: u32 = 4096;
/// A response message is split before it reaches this many bytes (clients accept 4 MiB).
const MAX_MESSAGE_BYTES: usize = 3_500_000;

/// `batch_size` as the server applies it: 1024 when unset, clamped to 1..=4096.
fn batch_size(b: Option<u32>) -> usize {
    b.unwrap_or(DEFAULT_BATCH).clamp(1, MAX_BATCH) as usize
}

/// With an API key, the call's `authorization` must be exactly `Bearer <key>`.
pub fn check_api_key(key: Option<&str>, req: Request<()>) -> Result<Request<()>, Status> {
    let Some(key) = key else {
        return Ok(req);
    };
    let given = req
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if given.and_then(|g| g.strip_prefix("Bearer ")) == Some(key) {
        return Ok(req);
    }
    Err(dcb_status_of(
        Code::Unauthenticated,
        pb::ErrorType::Authentication,
        "authentication error: missing or invalid API key".into(),
    ))
}

/// The `umadb.v1.DCB` service over one event store.
pub struct DcbService {
    store: Arc<EventStore>,
    stop: watch::Receiver<bool>,
}

impl DcbService {
    /// Serves `store`; its subscriptions end when `stop` turns true.
    pub fn new(store: Arc<EventStore>, stop: watch::Receiver<bool>) -> DcbService {
        DcbService { store, stop }
    }
}

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// `events` in messages under the size limit, in order (one empty message for none).
fn chunks(events: Vec<pb::SequencedEvent>) -> Vec<Vec<pb::SequencedEvent>> {
    let mut out = vec![Vec::new()];
    let mut size = 0;
    for e in events {
        let n = e.encoded_len() + 8;
        if size + n > MAX_MESSAGE_BYTES && !out.last().is_some_and(Vec::is_empty) {
            out.push(Vec::new());
            size = 0;
        }
        size += n;
        out.last_mut().expect("one chunk at least").push(e);
    }
    out
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EventError> + Send + 'static,
) -> Result<T, Status> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| dcb_status(&e)),
        Err(e) => Err(Status::internal(format!("internal error: {e}"))),
    }
}

/// Runs a read to its end, sending its messages into `out` (see [`DcbService::read`]).
fn run_read(
    store: &EventStore,
    r: pb::ReadRequest,
    out: &mpsc::Sender<Result<pb::ReadResponse, Status>>,
) -> Result<(), EventError> {
    let query = r.query.unwrap_or_default();
    let backwards = r.backwards.unwrap_or(false);
    let batch = batch_size(r.batch_size);
    let mut remaining = r.limit.map(|l| l as usize);
    // The head of the first batch bounds the whole read.
    let view: View = store.view();
    let (mut lo, mut hi) = if backwards {
        (1, r.start.unwrap_or(view.head).min(view.head))
    } else {
        (r.start.unwrap_or(1).max(1), view.head)
    };
    let mut first = true;
    loop {
        let want = remaining.map_or(batch, |n| n.min(batch));
        let events = if lo <= hi {
            store.find(view, &query, lo, hi, backwards, want)?
        } else {
            Vec::new()
        };
        let n = events.len();
        if let Some(last) = events.last() {
            if backwards {
                hi = last.position.saturating_sub(1);
            } else {
                lo = last.position + 1;
            }
        }
        if let Some(r) = &mut remaining {
            *r -= n;
        }
        if n == 0 && !first {
            return Ok(());
        }
        first = false;
        let pieces = chunks(events);
        let count = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            // Only the last piece carries the head: the db head, or with a limit the last
            // position of the message (UmaDB's rule, which clients rely on).
            let head = if i + 1 < count {
                None
            } else if r.limit.is_some() {
                piece.last().map(|e| e.position)
            } else {
                Some(view.head).filter(|h| *h > 0)
            };
            if out
                .blocking_send(Ok(pb::ReadResponse {
                    events: piece,
                    head,
                }))
                .is_err()
            {
                return Ok(()); // the client went away
            }
        }
        if n < want || remaining == Some(0) || lo > hi || (backwards && hi == 0) {
            return Ok(());
        }
    }
}

#[tonic::async_trait]
impl dcb_server::Dcb for DcbService {
    type ReadStream = Stream<pb::ReadResponse>;

    async fn read(
        &self,
        req: Request<pb::ReadRequest>,
    ) -> Result<Response<Self::ReadStream>, Status> {
        let r = req.into_inner();
        // The field is deprecated in the protocol: a read that asks for it is refused.
        #[allow(deprecated)]
        let subscribe = r.subscribe == Some(true);
        if subscribe {
            return Err(dcb_status(&EventError::InvalidArgument(
                "subscribe in a read is not supported: use Subscribe".into(),
            )));
        }
        let (tx, rx) = mpsc::channel(4);
        if r.limit != Some(0) {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = run_read(&store, r, &tx) {
                    let _ =
                        tx.blocking_send(Err(dcb_status(&EventError::Corruption(e.to_string()))));
                }
            });
        }
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    type SubscribeStream = Stream<pb::SubscribeResponse>;

    async fn subscribe(
        &self,
        req: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let r = req.into_inner();
        let (tx, rx) = mpsc::channel(4);
        let mut after = r.after.unwrap_or(0);
        if after == u64::MAX {
            return Ok(Response::new(Box::pin(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            )));
        }
        let store = self.store.clone();
        let mut stop = self.stop.clone();
        let mut head = store.watch_head();
        let query = r.query.unwrap_or_default();
        let batch = batch_size(r.batch_size);
        tokio::spawn(async move {
            loop {
                let view = store.view();
                let (s, q) = (store.clone(), query.clone());
                let found =
                    blocking(move || s.find(view, &q, after + 1, view.head, false, batch)).await;
                let events = match found {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                let n = events.len();
                // A short batch holds every match up to the view's head.
                after = if n < batch {
                    view.head
                } else {
                    events.last().map_or(after, |e| e.position)
                };
                if n > 0 {
                    for piece in chunks(events) {
                        if tx
                            .send(Ok(pb::SubscribeResponse { events: piece }))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                if n == batch {
                    continue;
                }
                tokio::select! {
                    changed = head.wait_for(|h| *h > view.head) => if changed.is_err() { return },
                    _ = stop.wait_for(|s| *s) => return,
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn append(
        &self,
        req: Request<pb::AppendRequest>,
    ) -> Result<Response<pb::AppendResponse>, Status> {
        let answer = self
            .store
            .submit(req.into_inner())
            .map_err(|e| dcb_status(&e))?;
        let position = answer
            .await
            .map_err(|_| dcb_status(&EventError::ShuttingDown))?
            .map_err(|e| dcb_status(&e))?;
        Ok(Response::new(pb::AppendResponse { position }))
    }

    async fn head(
        &self,
        _req: Request<pb::HeadRequest>,
    ) -> Result<Response<pb::HeadResponse>, Status> {
        Ok(Response::new(pb::HeadResponse {
            position: self.store.head(),
        }))
    }

    async fn get_tracking_info(
        &self,
        req: Request<pb::TrackingRequest>,
    ) -> Result<Response<pb::TrackingResponse>, Status> {
        let source = req.into_inner().source;
        let store = self.store.clone();
        let position = blocking(move || store.tracking(&source)).await?;
        Ok(Response::new(pb::TrackingResponse { position }))
    }
}
