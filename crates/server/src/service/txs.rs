//! Transactions by id and tx scans, with immudb's `EntriesSpec`: a tx's entries split by kind
//! (stored-key prefix 0x00 key/value, 0x01 sorted set, 0x02 SQL), each kind excluded, sent as
//! digests, sent with its raw stored value, or resolved.

use stele_ledger::kv::{ReadAt, SET_KEY_PREFIX, SORTED_SET_KEY_PREFIX, SQL_KEY_PREFIX};
use stele_ledger::Tx;
use stele_proto::immudb as pb;

use crate::convert;
use crate::error::{Result, ServerError};
use crate::registry::Database;
use crate::service::kv;
use stele_ledger::proof::TxId;
use stele_ledger::LedgerError;

const EXCLUDE: i32 = pb::EntryTypeAction::Exclude as i32;
const ONLY_DIGEST: i32 = pb::EntryTypeAction::OnlyDigest as i32;
const RAW_VALUE: i32 = pb::EntryTypeAction::RawValue as i32;
const RESOLVE: i32 = pb::EntryTypeAction::Resolve as i32;

/// A stored tx shaped by `spec` (`None`: every entry as its digest).
pub fn tx_with(db: &Database, stored: &Tx, spec: Option<&pb::EntriesSpec>) -> Result<pb::Tx> {
    let Some(spec) = spec else {
        return convert::tx(stored);
    };
    let id = stored.header.id;
    let action = |s: &Option<pb::EntryTypeSpec>| s.as_ref().map_or(EXCLUDE, |s| s.action);
    let mut out = pb::Tx {
        header: Some(convert::header(&stored.header)),
        ..Default::default()
    };
    for e in &stored.entries {
        let a = match e.key.first() {
            Some(&SET_KEY_PREFIX) => action(&spec.kv_entries_spec),
            Some(&SORTED_SET_KEY_PREFIX) => action(&spec.z_entries_spec),
            Some(&SQL_KEY_PREFIX) => action(&spec.sql_entries_spec),
            _ => EXCLUDE,
        };
        match a {
            EXCLUDE => {}
            ONLY_DIGEST => out.entries.push(convert::tx_entry(e, None)?),
            RAW_VALUE => {
                let value = db.ledger.tx_entry_value(&e.key, id)?;
                out.entries.push(convert::tx_entry(e, Some(value))?);
            }
            RESOLVE => match e.key.first() {
                Some(&SET_KEY_PREFIX) => {
                    let entry = db.ledger.kv().get(&e.key[1..], ReadAt::AtTx(id))?;
                    out.kv_entries.push(convert::entry(&entry));
                }
                Some(&SORTED_SET_KEY_PREFIX) => {
                    return Err(ServerError::invalid(
                        "illegal arguments: resolving sorted-set entries is not supported: use ONLY_DIGEST or RAW_VALUE",
                    ))
                }
                _ => {
                    return Err(ServerError::invalid(
                        "illegal arguments: SQL entries cannot be resolved",
                    ))
                }
            },
            other => {
                return Err(ServerError::invalid(format!(
                    "illegal arguments: unknown entry type action {other}"
                )))
            }
        }
    }
    Ok(out)
}

pub fn tx_by_id(db: &Database, r: pb::TxRequest) -> Result<pb::Tx> {
    kv::since(&db.ledger, r.since_tx)?;
    check_tx(db, r.tx)?;
    tx_with(db, &db.ledger.tx(r.tx)?, r.entries_spec.as_ref())
}

pub fn tx_scan(db: &Database, r: pb::TxScanRequest) -> Result<pb::TxList> {
    kv::since(&db.ledger, r.since_tx)?;
    if r.limit as u64 > kv::MAX_RESULT_SIZE {
        return Err(ServerError::invalid(format!(
            "illegal arguments: the limit {} exceeds the maximum of {}",
            r.limit,
            kv::MAX_RESULT_SIZE
        )));
    }
    check_tx(db, r.initial_tx)?;
    let limit = if r.limit == 0 {
        kv::MAX_RESULT_SIZE
    } else {
        r.limit as u64
    } as usize;
    let txs = db.ledger.tx_scan(r.initial_tx, limit, r.desc)?;
    Ok(pb::TxList {
        txs: txs
            .iter()
            .map(|t| tx_with(db, t, r.entries_spec.as_ref()))
            .collect::<Result<_>>()?,
    })
}

/// Fails with immudb's exact `tx not found` for a tx that is not committed.
pub fn check_tx(db: &Database, tx: TxId) -> Result<()> {
    if tx == 0 || tx > db.ledger.state().tx_id {
        return Err(LedgerError::TxNotFound.into());
    }
    Ok(())
}
