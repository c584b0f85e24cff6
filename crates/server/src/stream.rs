//! The chunk framing of immudb's `stream*` calls (spec wire §4.3).
//!
//! The `content` of a stream's chunks, concatenated, is one byte stream of messages, each
//! `u64be(len) ‖ payload`. Sending, every message starts a new chunk and a chunk carries at most
//! [`CHUNK_SIZE`] bytes, header included (clients expect a message's header whole in its first
//! chunk). Receiving, chunk and message boundaries are independent: a chunk may hold several
//! messages or part of one.

use futures::{Stream, StreamExt};
use stele_proto::immudb::Chunk;
use tonic::Status;

use crate::error::ServerError;

/// Largest chunk sent, in bytes, the 8-byte message header included.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Largest message accepted in a `replicateTx` stream, in bytes (256 MiB): one exported
/// transaction.
pub const EXPORT_MAX: usize = 256 << 20;

/// Frames `messages` into chunks.
pub fn frame<'a>(messages: impl IntoIterator<Item = &'a [u8]>) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for m in messages {
        let mut framed = Vec::with_capacity(8 + m.len());
        framed.extend_from_slice(&(m.len() as u64).to_be_bytes());
        framed.extend_from_slice(m);
        for part in framed.chunks(CHUNK_SIZE) {
            chunks.push(Chunk {
                content: part.to_vec(),
                metadata: Default::default(),
            });
        }
    }
    chunks
}

/// Reads framed messages from a client's chunks.
pub struct MessageReader<S> {
    chunks: S,
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out.
    at: usize,
    /// Largest message accepted.
    max_len: usize,
}

impl<S: Stream<Item = Result<Chunk, Status>> + Unpin> MessageReader<S> {
    pub fn new(chunks: S, max_len: usize) -> Self {
        MessageReader {
            chunks,
            buf: Vec::new(),
            at: 0,
            max_len,
        }
    }

    /// Fills the buffer to at least `n` unread bytes; `false` at the end of the stream.
    async fn fill(&mut self, n: usize) -> Result<bool, ServerError> {
        while self.buf.len() - self.at < n {
            match self.chunks.next().await {
                None => return Ok(false),
                Some(Err(s)) => {
                    return Err(ServerError::invalid(format!(
                        "stream broken: {}",
                        s.message()
                    )))
                }
                Some(Ok(c)) => {
                    if self.at > 0 {
                        self.buf.drain(..self.at);
                        self.at = 0;
                    }
                    self.buf.extend_from_slice(&c.content);
                }
            }
        }
        Ok(true)
    }

    /// The next message; `None` when the stream ends between messages.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, ServerError> {
        if !self.fill(8).await? {
            if self.buf.len() > self.at {
                return Err(ServerError::invalid("stream ended inside a message header"));
            }
            return Ok(None);
        }
        let len = u64::from_be_bytes(self.buf[self.at..self.at + 8].try_into().unwrap());
        if len > self.max_len as u64 {
            return Err(ServerError::invalid(format!(
                "stream message of {len} bytes exceeds the limit of {} bytes",
                self.max_len
            )));
        }
        let len = len as usize;
        if !self.fill(8 + len).await? {
            return Err(ServerError::invalid("stream ended inside a message"));
        }
        let m = self.buf[self.at + 8..self.at + 8 + len].to_vec();
        self.at += 8 + len;
        Ok(Some(m))
    }

    /// The next message, which must be there.
    pub async fn expect(&mut self, what: &str) -> Result<Vec<u8>, ServerError> {
        self.next()
            .await?
            .ok_or_else(|| ServerError::invalid(format!("stream ended before its {what}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages framed and re-read through chunks cut at every offset come back whole.
    #[tokio::test]
    async fn framing_round_trips_across_any_chunk_boundaries() {
        let messages: Vec<Vec<u8>> = vec![b"key".to_vec(), vec![], vec![7u8; CHUNK_SIZE + 10]];
        let chunks = frame(messages.iter().map(Vec::as_slice));
        assert_eq!(
            chunks.len(),
            4,
            "a message starts a chunk; the big one takes two"
        );
        assert!(chunks.iter().all(|c| c.content.len() <= CHUNK_SIZE));
        let bytes: Vec<u8> = chunks.iter().flat_map(|c| c.content.clone()).collect();
        for cut in [1, 5, 8, 9, 13, 4096, bytes.len()] {
            let rechunked: Vec<Result<Chunk, Status>> = bytes
                .chunks(cut)
                .map(|p| {
                    Ok(Chunk {
                        content: p.to_vec(),
                        metadata: Default::default(),
                    })
                })
                .collect();
            let mut r = MessageReader::new(futures::stream::iter(rechunked), 1 << 20);
            for m in &messages {
                assert_eq!(&r.next().await.unwrap().unwrap(), m, "cut {cut}");
            }
            assert!(r.next().await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn a_truncated_stream_is_an_error() {
        let chunks = frame([&b"hello"[..]]);
        let mut bytes = chunks[0].content.clone();
        bytes.pop();
        let s = futures::stream::iter(vec![Ok(Chunk {
            content: bytes,
            metadata: Default::default(),
        })]);
        let mut r = MessageReader::new(s, 1 << 20);
        assert!(r.next().await.is_err());
    }
}
