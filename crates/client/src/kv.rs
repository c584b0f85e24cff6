//! Key/value calls as immudb's API has them: keys and values are bytes, answers are the wire's
//! own messages (entries, tx headers, states), printed by the caller.

use stele_proto::immudb as pb;

use crate::connection::Client;
use crate::error::Result;

/// Which version of a key a read wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Version {
    /// The current value.
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

    /// The entry of `key` at `version`, unverified.
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
    pub fn history(
        &self,
        key: &[u8],
        offset: u64,
        limit: u32,
        desc: bool,
    ) -> Result<Vec<pb::Entry>> {
        let r = pb::HistoryRequest {
            key: key.to_vec(),
            offset,
            limit: limit.min(i32::MAX as u32) as i32,
            desc,
            since_tx: 0,
        };
        Ok(self
            .call(|mut s| async move { s.history(r).await })?
            .entries)
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

    /// Makes `key` refer to `referenced` (to its version at `at_tx` when given, else its latest).
    pub fn set_reference(
        &self,
        key: &[u8],
        referenced: &[u8],
        at_tx: Option<u64>,
    ) -> Result<pb::TxHeader> {
        let r = reference_request(key, referenced, at_tx);
        self.call(|mut s| async move { s.set_reference(r).await })
    }

    /// Adds `key` to the sorted set `set` with `score` (its version at `at_tx` when given).
    pub fn zadd(
        &self,
        set: &[u8],
        score: f64,
        key: &[u8],
        at_tx: Option<u64>,
    ) -> Result<pb::TxHeader> {
        let r = zadd_request(set, score, key, at_tx);
        self.call(|mut s| async move { s.z_add(r).await })
    }

    /// Members of `set` by score (ascending unless `desc`) within `min..=max`; `limit` 0 is
    /// the server's default.
    pub fn zscan(
        &self,
        set: &[u8],
        min: Option<f64>,
        max: Option<f64>,
        desc: bool,
        limit: u64,
    ) -> Result<Vec<pb::ZEntry>> {
        let r = pb::ZScanRequest {
            set: set.to_vec(),
            min_score: min.map(|score| pb::Score { score }),
            max_score: max.map(|score| pb::Score { score }),
            desc,
            limit,
            ..Default::default()
        };
        Ok(self.call(|mut s| async move { s.z_scan(r).await })?.entries)
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

pub(crate) fn reference_request(
    key: &[u8],
    referenced: &[u8],
    at_tx: Option<u64>,
) -> pb::ReferenceRequest {
    pb::ReferenceRequest {
        key: key.to_vec(),
        referenced_key: referenced.to_vec(),
        at_tx: at_tx.unwrap_or(0),
        bound_ref: at_tx.is_some(),
        ..Default::default()
    }
}

pub(crate) fn zadd_request(
    set: &[u8],
    score: f64,
    key: &[u8],
    at_tx: Option<u64>,
) -> pb::ZAddRequest {
    pb::ZAddRequest {
        set: set.to_vec(),
        score,
        key: key.to_vec(),
        at_tx: at_tx.unwrap_or(0),
        bound_ref: at_tx.is_some(),
        no_wait: false,
    }
}
