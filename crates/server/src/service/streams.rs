//! The stream calls (spec wire §4.3): key/value reads and writes whose keys and values travel
//! as framed messages in chunks, and the export and replication of whole transactions.
//!
//! Export format (ours; clients only pipe it from `exportTx` into `replicateTx`): one message,
//! a `Tx` protobuf whose header is the exported tx's and whose entries carry their stored keys,
//! metadata and stored values, in hashed order.

use futures::Stream;
use prost::Message;
use stele_ledger::{Commit, NewEntry};
use stele_proto::immudb as pb;
use tonic::Status;

use crate::convert;
use crate::error::{Result, ServerError};
use crate::registry::Database;
use crate::service::{kv, txs, verified, Shared};
use crate::stream::{frame, MessageReader};

fn reader<S: Stream<Item = std::result::Result<pb::Chunk, Status>> + Unpin>(
    chunks: S,
    db: &Database,
) -> MessageReader<S> {
    // A key or value message is at most the database's limit (plus a little for a header).
    let max = db.settings.max_value_len.max(db.settings.max_key_len) as usize + 64;
    MessageReader::new(chunks, max)
}

pub fn get(db: &Database, r: pb::KeyRequest) -> Result<Vec<pb::Chunk>> {
    let e = kv::get_entry(db, &r)?;
    Ok(frame([&e.key[..], &e.value[..]]))
}

pub fn verifiable_get(
    shared: &Shared,
    db: &Database,
    r: pb::VerifiableGetRequest,
) -> Result<Vec<pb::Chunk>> {
    let mut v = verified::verifiable_get(shared, db, r)?;
    let mut entry = v.entry.take().unwrap_or_default();
    let value = std::mem::take(&mut entry.value);
    let head = pb::Entry {
        tx: entry.tx,
        key: entry.key,
        referenced_by: entry.referenced_by,
        ..Default::default()
    };
    let vtx = v.verifiable_tx.unwrap_or_default().encode_to_vec();
    let proof = v.inclusion_proof.unwrap_or_default().encode_to_vec();
    Ok(frame([
        &head.encode_to_vec()[..],
        &vtx[..],
        &proof[..],
        &value[..],
    ]))
}

/// Key and value messages of each entry (scan, history).
pub fn entries(e: pb::Entries) -> Result<Vec<pb::Chunk>> {
    Ok(frame(
        e.entries.iter().flat_map(|e| [&e.key[..], &e.value[..]]),
    ))
}

/// `[set][key][score][atTx][value]` per member.
pub fn zentries(z: pb::ZEntries) -> Result<Vec<pb::Chunk>> {
    let mut messages: Vec<Vec<u8>> = Vec::with_capacity(z.entries.len() * 5);
    for e in z.entries {
        let value = e.entry.map(|e| e.value).unwrap_or_default();
        messages.push(e.set);
        messages.push(e.key);
        messages.push(e.score.to_be_bytes().to_vec());
        messages.push(e.at_tx.to_be_bytes().to_vec());
        messages.push(value);
    }
    Ok(frame(messages.iter().map(Vec::as_slice)))
}

async fn read_pairs<S: Stream<Item = std::result::Result<pb::Chunk, Status>> + Unpin>(
    r: &mut MessageReader<S>,
) -> Result<Vec<pb::KeyValue>> {
    let mut kvs = Vec::new();
    while let Some(key) = r.next().await? {
        let value = r.expect("value").await?;
        kvs.push(pb::KeyValue {
            key,
            value,
            metadata: None,
        });
    }
    Ok(kvs)
}

/// `streamSet`: `[key][value]` pairs, one tx.
pub async fn read_set(
    chunks: tonic::Streaming<pb::Chunk>,
    db: &Database,
) -> Result<pb::SetRequest> {
    let mut r = reader(chunks, db);
    Ok(pb::SetRequest {
        k_vs: read_pairs(&mut r).await?,
        ..Default::default()
    })
}

/// `streamVerifiableSet`: an 8-byte `proveSinceTx`, then `[key][value]` pairs.
pub async fn read_verifiable_set(
    chunks: tonic::Streaming<pb::Chunk>,
    db: &Database,
) -> Result<pb::VerifiableSetRequest> {
    let mut r = reader(chunks, db);
    let since = r.expect("proveSinceTx").await?;
    let since: [u8; 8] = since.as_slice().try_into().map_err(|_| {
        ServerError::invalid("illegal arguments: proveSinceTx must be an 8-byte message")
    })?;
    Ok(pb::VerifiableSetRequest {
        set_request: Some(pb::SetRequest {
            k_vs: read_pairs(&mut r).await?,
            ..Default::default()
        }),
        prove_since_tx: u64::from_be_bytes(since),
    })
}

/// `streamExecAll`: ops, each a 1-byte type message then its body: 1 `[key][value]`,
/// 2 `[ZAddRequest]`.
pub async fn read_exec_all(
    chunks: tonic::Streaming<pb::Chunk>,
    db: &Database,
) -> Result<pb::ExecAllRequest> {
    use pb::op::Operation;
    let mut r = reader(chunks, db);
    let mut ops = Vec::new();
    while let Some(kind) = r.next().await? {
        let operation = match kind.as_slice() {
            [1] => Operation::Kv(pb::KeyValue {
                key: r.expect("key").await?,
                value: r.expect("value").await?,
                metadata: None,
            }),
            [2] => Operation::ZAdd(
                pb::ZAddRequest::decode(r.expect("ZAdd request").await?.as_slice()).map_err(
                    |e| ServerError::invalid(format!("illegal arguments: bad ZAdd request: {e}")),
                )?,
            ),
            other => {
                return Err(ServerError::invalid(format!(
                    "illegal arguments: unsupported stream operation type {other:?}"
                )))
            }
        };
        ops.push(pb::Op {
            operation: Some(operation),
        });
    }
    Ok(pb::ExecAllRequest {
        operations: ops,
        ..Default::default()
    })
}

pub fn export_tx(db: &Database, r: pb::ExportTxRequest) -> Result<Vec<pb::Chunk>> {
    txs::check_tx(db, r.tx)?;
    let stored = db.ledger.tx(r.tx)?;
    let mut tx = convert::tx(&stored)?;
    for e in &mut tx.entries {
        e.value = db.ledger.tx_entry_value(&e.key, r.tx)?;
    }
    Ok(frame([&tx.encode_to_vec()[..]]))
}

pub async fn read_export(chunks: tonic::Streaming<pb::Chunk>) -> Result<pb::Tx> {
    let mut r = MessageReader::new(chunks, crate::stream::EXPORT_MAX);
    let m = r.expect("exported tx").await?;
    if r.next().await?.is_some() {
        return Err(ServerError::invalid(
            "illegal arguments: an export holds one transaction",
        ));
    }
    pb::Tx::decode(m.as_slice())
        .map_err(|e| ServerError::invalid(format!("illegal arguments: bad exported tx: {e}")))
}

/// Appends an exported tx to a replica: same id, entries, timestamp and hashes, so the
/// replica's chain is the primary's; refused unless its Alh comes out equal.
pub fn replicate(db: &Database, tx: pb::Tx) -> Result<pb::TxHeader> {
    if !db.settings.replica {
        return Err(ServerError::FailedPrecondition(format!(
            "database {} is not a replica: replicateTx needs a database created with replica=true",
            db.name
        )));
    }
    let h = tx
        .header
        .ok_or_else(|| ServerError::invalid("illegal arguments: exported tx without header"))?;
    let digest = |b: &[u8]| {
        stele_ledger::proof::digest_from(b)
            .map_err(|_| ServerError::invalid("illegal arguments: bad digest in exported tx"))
    };
    let expected = stele_ledger::proof::TxHeader {
        id: h.id,
        prev_alh: digest(&h.prev_alh)?,
        ts: h.ts,
        version: h.version as u16,
        metadata: Vec::new(),
        nentries: h.nentries as u32,
        eh: digest(&h.e_h)?,
        bl_tx_id: h.bl_tx_id,
        bl_root: digest(&h.bl_root)?,
    };
    let entries = tx
        .entries
        .into_iter()
        .map(|e| {
            Ok(NewEntry {
                metadata: convert::metadata_from(e.metadata.as_ref())?,
                key: e.key,
                value: e.value,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let header = db.ledger.commit_replicated(
        Commit {
            entries,
            ..Default::default()
        },
        &expected,
    )?;
    Ok(convert::header(&header))
}
