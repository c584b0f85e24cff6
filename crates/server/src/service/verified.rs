//! Verified calls (spec wire §3.8-§3.10): each answer carries the tx, a dual proof linking it
//! with the client's trusted state, and, with a signing key, a signature of the proof's target.
//!
//! The dual proof's direction follows immudb: from the client's state (`proveSinceTx`) to the
//! tx when the state is not newer, else from the tx to the state; `proveSinceTx = 0` proves the
//! tx against itself. Its target is what the signature covers.

use stele_ledger::proof::{TxHeader, TxId};
use stele_proto::immudb as pb;

use crate::convert;
use crate::error::{Result, ServerError};
use crate::registry::Database;
use crate::service::{kv, Shared};

/// The dual proof of tx `tx` for a client whose state is at `prove_since`, and its target.
fn prove(db: &Database, tx: TxId, prove_since: TxId) -> Result<(pb::DualProof, TxHeader)> {
    check_prove_since(db, prove_since)?;
    let (source, target) = if prove_since <= tx {
        (if prove_since == 0 { tx } else { prove_since }, tx)
    } else {
        (tx, prove_since)
    };
    let proof = db.ledger.dual_proof(source, target)?;
    let target = proof.target_tx_header.clone();
    Ok((convert::dual_proof(&proof), target))
}

/// `VerifiableTx` for tx `tx`: the whole tx (entries as digests), its proof, the signature.
pub fn verifiable_tx(
    shared: &Shared,
    db: &Database,
    tx: TxId,
    prove_since: TxId,
) -> Result<pb::VerifiableTx> {
    let stored = db.ledger.tx(tx)?;
    let (dual_proof, target) = prove(db, tx, prove_since)?;
    Ok(pb::VerifiableTx {
        tx: Some(convert::tx(&stored)?),
        dual_proof: Some(dual_proof),
        signature: shared.sign(&db.name, &target)?,
    })
}

pub fn verifiable_set(
    shared: &Shared,
    db: &Database,
    r: pb::VerifiableSetRequest,
) -> Result<pb::VerifiableTx> {
    let set = r
        .set_request
        .ok_or_else(|| ServerError::invalid("illegal arguments: no set request"))?;
    check_prove_since(db, r.prove_since_tx)?;
    let h = kv::set_header(db, set)?;
    verifiable_tx(shared, db, h.id, r.prove_since_tx)
}

/// A client's state must not be ahead of the server's: checked before writing, so a bad
/// request leaves nothing written.
fn check_prove_since(db: &Database, prove_since: TxId) -> Result<()> {
    let last = db.ledger.state().tx_id;
    if prove_since > last {
        return Err(ServerError::invalid(format!(
            "illegal arguments: proveSinceTx {prove_since} is beyond the last committed tx {last}"
        )));
    }
    Ok(())
}

pub fn verifiable_get(
    shared: &Shared,
    db: &Database,
    r: pb::VerifiableGetRequest,
) -> Result<pb::VerifiableEntry> {
    let kr = r
        .key_request
        .ok_or_else(|| ServerError::invalid("illegal arguments: no key request"))?;
    check_prove_since(db, r.prove_since_tx)?;
    let entry = kv::get_entry(db, &kr)?;
    // What is proven is the stored entry that was read: the reference itself when there is one.
    let (v_tx, key) = match &entry.referenced_by {
        Some(reference) => (reference.tx, stele_ledger::kv::set_key(&reference.key)),
        None => (entry.tx, stele_ledger::kv::set_key(&entry.key)),
    };
    let inclusion = db.ledger.entry_proof(v_tx, &key)?;
    Ok(pb::VerifiableEntry {
        entry: Some(convert::entry(&entry)),
        verifiable_tx: Some(verifiable_tx(shared, db, v_tx, r.prove_since_tx)?),
        inclusion_proof: Some(convert::inclusion(&inclusion.inclusion)),
    })
}

pub fn verifiable_tx_by_id(
    shared: &Shared,
    db: &Database,
    r: pb::VerifiableTxRequest,
) -> Result<pb::VerifiableTx> {
    kv::since(&db.ledger, r.since_tx)?;
    check_prove_since(db, r.prove_since_tx)?;
    super::txs::check_tx(db, r.tx)?;
    let stored = db.ledger.tx(r.tx)?;
    let (dual_proof, target) = prove(db, r.tx, r.prove_since_tx)?;
    Ok(pb::VerifiableTx {
        tx: Some(super::txs::tx_with(db, &stored, r.entries_spec.as_ref())?),
        dual_proof: Some(dual_proof),
        signature: shared.sign(&db.name, &target)?,
    })
}

pub fn verifiable_set_reference(
    shared: &Shared,
    db: &Database,
    r: pb::VerifiableReferenceRequest,
) -> Result<pb::VerifiableTx> {
    let req = r
        .reference_request
        .ok_or_else(|| ServerError::invalid("illegal arguments: no reference request"))?;
    check_prove_since(db, r.prove_since_tx)?;
    let h = kv::set_reference(db, req)?;
    verifiable_tx(shared, db, h.id, r.prove_since_tx)
}

pub fn verifiable_zadd(
    shared: &Shared,
    db: &Database,
    r: pb::VerifiableZAddRequest,
) -> Result<pb::VerifiableTx> {
    let req = r
        .z_add_request
        .ok_or_else(|| ServerError::invalid("illegal arguments: no zadd request"))?;
    check_prove_since(db, r.prove_since_tx)?;
    let h = kv::zadd(db, req)?;
    verifiable_tx(shared, db, h.id, r.prove_since_tx)
}

/// `VerifiableSQLGet`: a row by primary key, with the proof of its `R.` entry and the catalog
/// facts the client needs to rebuild the row key.
pub fn verifiable_sql_get(
    shared: &Shared,
    db: &Database,
    r: pb::VerifiableSqlGetRequest,
) -> Result<pb::VerifiableSqlEntry> {
    let req = r
        .sql_get_request
        .ok_or_else(|| ServerError::invalid("illegal arguments: no sql get request"))?;
    check_prove_since(db, r.prove_since_tx)?;
    kv::since(&db.ledger, req.since_tx)?;
    let store = db.engine.store();
    let catalog = store.catalog(None)?;
    let table = catalog.table(&req.table.to_lowercase())?;
    let pk = req
        .pk_values
        .iter()
        .map(|v| convert::sql_value_from(Some(v)))
        .collect::<Result<Vec<_>>>()?;
    let key = store.row_key(table, &pk)?;
    let row = if req.at_tx > 0 {
        db.ledger.get_at_tx(&key, req.at_tx)?
    } else {
        db.ledger.get(&key, None)?
    };
    let inclusion = db.ledger.entry_proof(row.tx, &key)?;
    let mut col_names_by_id = std::collections::HashMap::new();
    let mut col_ids_by_name = std::collections::HashMap::new();
    let mut col_types_by_id = std::collections::HashMap::new();
    let mut col_len_by_id = std::collections::HashMap::new();
    for c in &table.columns {
        col_names_by_id.insert(c.id, c.name.clone());
        col_ids_by_name.insert(c.name.clone(), c.id);
        col_types_by_id.insert(c.id, c.ty.name().to_string());
        col_len_by_id.insert(c.id, c.max_len as i32);
    }
    Ok(pb::VerifiableSqlEntry {
        sql_entry: Some(pb::SqlEntry {
            tx: row.tx,
            key: key.clone(),
            value: row.value,
            metadata: convert::metadata(&row.metadata),
        }),
        verifiable_tx: Some(verifiable_tx(shared, db, row.tx, r.prove_since_tx)?),
        inclusion_proof: Some(convert::inclusion(&inclusion.inclusion)),
        database_id: 1,
        table_id: table.id,
        pki_ds: table.primary_key().columns.clone(),
        col_names_by_id,
        col_ids_by_name,
        col_types_by_id,
        col_len_by_id,
        max_col_id: table.max_column_id,
    })
}
