//! Key/value calls (spec wire §4.1): immudb's model over the ledger's [`Kv`] view.

use stele_ledger::kv::{KvOp, ReadAt, ZScanQuery};
use stele_ledger::{Commit, HistoryQuery, Ledger, LedgerError, NewEntry, Precondition, ScanQuery};
use stele_proto::immudb as pb;

use crate::convert;
use crate::error::{Result, ServerError};
use crate::registry::Database;

/// Most entries a scan, history or zscan returns (immudb's `MaxKeyScanLimit`); a limit of 0
/// means this many.
pub const MAX_RESULT_SIZE: u64 = 2500;

fn limit(l: u64) -> Result<usize> {
    if l > MAX_RESULT_SIZE {
        return Err(ServerError::invalid(format!(
            "illegal arguments: the limit {l} exceeds the maximum of {MAX_RESULT_SIZE}"
        )));
    }
    Ok(if l == 0 { MAX_RESULT_SIZE } else { l } as usize)
}

/// A read's `sinceTx` must be committed already: immudb answers at once instead of waiting for
/// a tx that may never come. Reads then see the latest state, which includes it.
pub fn since(ledger: &Ledger, since_tx: u64) -> Result<()> {
    let last = ledger.state().tx_id;
    if since_tx > last {
        return Err(ServerError::invalid(format!(
            "illegal arguments: sinceTx {since_tx} is beyond the last committed tx {last}"
        )));
    }
    Ok(())
}

fn preconditions(ps: &[pb::Precondition]) -> Result<Vec<Precondition>> {
    use pb::precondition::Precondition as P;
    ps.iter()
        .map(|p| match &p.precondition {
            Some(P::KeyMustExist(k)) => Ok(Precondition::KeyMustExist(stored(&k.key)?)),
            Some(P::KeyMustNotExist(k)) => Ok(Precondition::KeyMustNotExist(stored(&k.key)?)),
            Some(P::KeyNotModifiedAfterTx(k)) => {
                Ok(Precondition::KeyNotModifiedAfter(stored(&k.key)?, k.tx_id))
            }
            None => Err(ServerError::invalid(
                "illegal arguments: empty precondition",
            )),
        })
        .collect()
}

fn stored(key: &[u8]) -> Result<Vec<u8>> {
    if key.is_empty() {
        return Err(ServerError::invalid("illegal arguments: empty key"));
    }
    Ok(stele_ledger::kv::set_key(key))
}

/// `Set`: every key-value in one tx. A value whose metadata marks it deleted is accepted as
/// immudb accepts it (the client rejects it when it verifies).
pub fn set(db: &Database, r: pb::SetRequest) -> Result<pb::TxHeader> {
    let h = set_header(db, r)?;
    Ok(convert::header(&h))
}

pub fn set_header(db: &Database, r: pb::SetRequest) -> Result<stele_ledger::proof::TxHeader> {
    if r.k_vs.is_empty() {
        return Err(ServerError::invalid(
            "illegal arguments: no key-value pairs",
        ));
    }
    let mut entries = Vec::with_capacity(r.k_vs.len());
    for kv in &r.k_vs {
        let metadata = convert::metadata_from(kv.metadata.as_ref())?;
        let value = if metadata.deleted {
            Vec::new()
        } else {
            [&[stele_ledger::kv::PLAIN_VALUE_PREFIX][..], &kv.value].concat()
        };
        entries.push(NewEntry {
            key: stored(&kv.key)?,
            metadata,
            value,
        });
    }
    Ok(db.ledger.commit_with(Commit {
        entries,
        preconditions: preconditions(&r.preconditions)?,
        ..Default::default()
    })?)
}

pub fn read_at(r: &pb::KeyRequest) -> Result<ReadAt> {
    let given = [r.at_tx > 0, r.since_tx > 0, r.at_revision != 0];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(ServerError::invalid(
            "illegal arguments: atTx, sinceTx and atRevision cannot be combined",
        ));
    }
    Ok(if r.at_tx > 0 {
        ReadAt::AtTx(r.at_tx)
    } else if r.at_revision != 0 {
        ReadAt::AtRevision(r.at_revision)
    } else {
        ReadAt::Latest
    })
}

pub fn get_entry(db: &Database, r: &pb::KeyRequest) -> Result<stele_ledger::kv::KvEntry> {
    since(&db.ledger, r.since_tx)?;
    if r.key.is_empty() {
        return Err(ServerError::invalid("illegal arguments: empty key"));
    }
    let at = read_at(r)?;
    match db.ledger.kv().get(&r.key, at) {
        Err(LedgerError::KeyNotFound) if at == ReadAt::Latest && expired(db, &r.key)? => {
            Err(ServerError::NotFound("key not found: expired entry".into()))
        }
        other => Ok(other?),
    }
}

/// Whether the newest version of a key has expired: immudb says so (`...: expired entry`),
/// where a deleted or absent key is just `key not found`.
fn expired(db: &Database, key: &[u8]) -> Result<bool> {
    let newest = db.ledger.history(
        &stele_ledger::kv::set_key(key),
        &HistoryQuery {
            limit: 1,
            desc: true,
            ..Default::default()
        },
    )?;
    let now = crate::now_millis() / 1000;
    Ok(newest
        .first()
        .is_some_and(|e| !e.metadata.deleted && e.metadata.expired_at(now as u64)))
}

pub fn get(db: &Database, r: pb::KeyRequest) -> Result<pb::Entry> {
    Ok(convert::entry(&get_entry(db, &r)?))
}

pub fn get_all(db: &Database, r: pb::KeyListRequest) -> Result<pb::Entries> {
    since(&db.ledger, r.since_tx)?;
    let entries = db.ledger.kv().get_all(&r.keys)?;
    Ok(pb::Entries {
        entries: entries.iter().map(convert::entry).collect(),
    })
}

pub fn delete(db: &Database, r: pb::DeleteKeysRequest) -> Result<pb::TxHeader> {
    since(&db.ledger, r.since_tx)?;
    Ok(convert::header(&db.ledger.kv().delete(r.keys)?))
}

pub fn ops(operations: Vec<pb::Op>) -> Result<Vec<KvOp>> {
    use pb::op::Operation;
    operations
        .into_iter()
        .map(|op| match op.operation {
            Some(Operation::Kv(kv)) => Ok(KvOp::Set {
                metadata: convert::metadata_from(kv.metadata.as_ref())?,
                key: kv.key,
                value: kv.value,
            }),
            Some(Operation::ZAdd(z)) => Ok(zadd_op(z)),
            Some(Operation::Ref(r)) => Ok(ref_op(r)),
            None => Err(ServerError::invalid("illegal arguments: empty operation")),
        })
        .collect()
}

fn zadd_op(z: pb::ZAddRequest) -> KvOp {
    KvOp::ZAdd {
        set: z.set,
        score: z.score,
        key: z.key,
        at_tx: z.at_tx,
        bound: z.bound_ref,
    }
}

fn ref_op(r: pb::ReferenceRequest) -> KvOp {
    KvOp::Ref {
        key: r.key,
        referenced_key: r.referenced_key,
        at_tx: r.at_tx,
        bound: r.bound_ref,
    }
}

pub fn exec_all(db: &Database, r: pb::ExecAllRequest) -> Result<stele_ledger::proof::TxHeader> {
    let preconditions = preconditions(&r.preconditions)?;
    let ops = ops(r.operations)?;
    Ok(db.ledger.kv().exec_all_with(ops, preconditions, false)?)
}

pub fn set_reference(
    db: &Database,
    r: pb::ReferenceRequest,
) -> Result<stele_ledger::proof::TxHeader> {
    let preconditions = preconditions(&r.preconditions)?;
    Ok(db
        .ledger
        .kv()
        .exec_all_with(vec![ref_op(r)], preconditions, false)?)
}

pub fn zadd(db: &Database, r: pb::ZAddRequest) -> Result<stele_ledger::proof::TxHeader> {
    Ok(db
        .ledger
        .kv()
        .exec_all_with(vec![zadd_op(r)], Vec::new(), false)?)
}

pub fn scan(db: &Database, r: pb::ScanRequest) -> Result<pb::Entries> {
    since(&db.ledger, r.since_tx)?;
    let q = ScanQuery {
        prefix: r.prefix,
        seek_key: (!r.seek_key.is_empty()).then_some(r.seek_key),
        inclusive_seek: r.inclusive_seek,
        end_key: (!r.end_key.is_empty()).then_some(r.end_key),
        inclusive_end: r.inclusive_end,
        desc: r.desc,
        offset: r.offset as usize,
        limit: limit(r.limit)?,
        snapshot: None,
        include_deleted: false,
    };
    let entries = db.ledger.kv().scan(&q)?;
    Ok(pb::Entries {
        entries: entries.iter().map(convert::entry).collect(),
    })
}

pub fn history(db: &Database, r: pb::HistoryRequest) -> Result<pb::Entries> {
    since(&db.ledger, r.since_tx)?;
    if r.limit < 0 {
        return Err(ServerError::invalid("illegal arguments: negative limit"));
    }
    let q = HistoryQuery {
        offset: r.offset as usize,
        limit: limit(r.limit as u64)?,
        desc: r.desc,
        snapshot: None,
    };
    let entries = db.ledger.kv().history(&r.key, &q)?;
    Ok(pb::Entries {
        entries: entries.iter().map(convert::entry).collect(),
    })
}

pub fn zscan(db: &Database, r: pb::ZScanRequest) -> Result<pb::ZEntries> {
    since(&db.ledger, r.since_tx)?;
    let q = ZScanQuery {
        set: r.set,
        seek_key: (!r.seek_key.is_empty()).then_some(r.seek_key),
        seek_score: r.seek_score,
        seek_at_tx: r.seek_at_tx,
        inclusive_seek: r.inclusive_seek,
        min_score: r.min_score.map(|s| s.score),
        max_score: r.max_score.map(|s| s.score),
        desc: r.desc,
        offset: r.offset as usize,
        limit: limit(r.limit)?,
        snapshot: None,
    };
    let entries = db.ledger.kv().zscan(&q)?;
    Ok(pb::ZEntries {
        entries: entries.iter().map(convert::zentry).collect(),
    })
}
