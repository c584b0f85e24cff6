//! Key/value calls as immudb's API has them: keys and values are bytes, answers are the wire's
//! own messages (entries, tx headers, states), printed by the caller.

use stele_proto::immudb as pb;

use crate::connection::Client;
use crate::error::Result;

/// Which version of a key a read wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Version {
    #[default]
    Latest,
    /// The value the key had at this tx.
    AtTx(u64),
    /// The n-th version (1 = first; 0 = latest; negative counts back from the latest).
    AtRevision(i64),
}

impl Version {
    pub(crate) fn key_request(self, key: &[u8]) -> pb::KeyRequest {
        let mut r = pb::KeyRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        match self {
            Version::Latest => {}
            Version::AtTx(t) => r.at_tx = t,
            Version::AtRevision(n) => r.at_revision = n,
        }
        r
    }
}

/// The Alh of a header as the server sent it (an error if it is malformed).
pub fn alh(h: &pb::TxHeader) -> Result<stele_proof::Digest> {
    crate::convert::header(h)?
        .alh()
        .map_err(|e| crate::ClientError::Protocol(e.to_string()))
}

impl Client {
    /// Writes `key` = `value` in one tx.
    pub fn set(&self, key: &[u8], value: &[u8]) -> Result<pb::TxHeader> {
        let r = pb::SetRequest {
            k_vs: vec![pb::KeyValue {
                key: key.to_vec(),
                value: value.to_vec(),
                metadata: None,
            }],
            ..Default::default()
        };
        self.call(|mut s| async move { s.set(r).await })
    }

    pub fn get(&self, key: &[u8], version: Version) -> Result<pb::Entry> {
        let r = version.key_request(key);
        self.call(|mut s| async move { s.get(r).await })
    }

    /// Deletes `key` (a new version marked deleted: its history stays).
    pub fn delete(&self, key: &[u8]) -> Result<pb::TxHeader> {
        let r = pb::DeleteKeysRequest {
            keys: vec![key.to_vec()],
            ..Default::default()
        };
        self.call(|mut s| async move { s.delete(r).await })
    }

    /// Versions of `key`, oldest first unless `desc`; `limit` 0 is the server's default.
    pub fn history(&self, key: &[u8], offset: u64, limit: u32, desc: bool) -> Result<Vec<pb::Entry>> {
        let r = pb::HistoryRequest {
            key: key.to_vec(),
            offset,
            limit: limit.min(i32::MAX as u32) as i32,
            desc,
            since_tx: 0,
        };
        Ok(self.call(|mut s| async move { s.history(r).await })?.entries)
    }

    /// Live keys under `prefix`, in key order unless `desc`; `limit` 0 is the server's default.
    pub fn scan(&self, prefix: &[u8], limit: u64, desc: bool) -> Result<Vec<pb::Entry>> {
        let r = pb::ScanRequest {
            prefix: prefix.to_vec(),
            limit,
            desc,
            ..Default::default()
        };
        Ok(self.call(|mut s| async move { s.scan(r).await })?.entries)
    }

    /// A tx's header and its entries' digests (keys as stored, with their prefix byte).
    pub fn tx(&self, id: u64) -> Result<pb::Tx> {
        let r = pb::TxRequest {
            tx: id,
            ..Default::default()
        };
        self.call(|mut s| async move { s.tx_by_id(r).await })
    }

    /// The server's current state of this database, as it claims it (not verified).
    pub fn current_state(&self) -> Result<pb::ImmutableState> {
        self.call(|mut s| async move { s.current_state(()).await })
    }
}
