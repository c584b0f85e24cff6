//! Between the ledger's and SQL engine's types and the wire's messages.
//!
//! Invariant: every digest goes out as exactly 32 bytes (zeros included): clients hash what
//! they receive, so an empty `blRoot` would change the Alh they compute.

use stele_ledger::format::TxEntryRecord;
use stele_ledger::kv::{KvEntry, ZEntry};
use stele_ledger::proof::{DualProof, InclusionProof, KvMetadata, TxHeader};
use stele_ledger::Tx;
use stele_proto::immudb as pb;
use stele_sql::{ColumnDesc, SqlType, Value};

use crate::error::{Result, ServerError};

pub fn header(h: &TxHeader) -> pb::TxHeader {
    pb::TxHeader {
        id: h.id,
        prev_alh: h.prev_alh.to_vec(),
        ts: h.ts,
        nentries: h.nentries as i32,
        e_h: h.eh.to_vec(),
        bl_tx_id: h.bl_tx_id,
        bl_root: h.bl_root.to_vec(),
        version: h.version as i32,
        metadata: Some(pb::TxMetadata::default()),
    }
}

/// `None` for empty metadata, as immudb sends it.
pub fn metadata(m: &KvMetadata) -> Option<pb::KvMetadata> {
    (!m.is_empty()).then(|| pb::KvMetadata {
        deleted: m.deleted,
        expiration: m.expires_at.map(|t| pb::Expiration {
            expires_at: t as i64,
        }),
        non_indexable: m.non_indexable,
    })
}

pub fn metadata_from(m: Option<&pb::KvMetadata>) -> Result<KvMetadata> {
    let Some(m) = m else {
        return Ok(KvMetadata::default());
    };
    let expires_at = match &m.expiration {
        None => None,
        Some(e) if e.expires_at < 0 => {
            return Err(ServerError::invalid(
                "illegal arguments: expiration time must not be negative",
            ))
        }
        Some(e) => Some(e.expires_at as u64),
    };
    Ok(KvMetadata {
        deleted: m.deleted,
        expires_at,
        non_indexable: m.non_indexable,
    })
}

pub fn entry(e: &KvEntry) -> pb::Entry {
    pb::Entry {
        tx: e.tx,
        key: e.key.clone(),
        value: e.value.clone(),
        referenced_by: e.referenced_by.as_ref().map(|r| pb::Reference {
            tx: r.tx,
            key: r.key.clone(),
            at_tx: r.at_tx,
            metadata: metadata(&r.metadata),
            revision: r.revision,
        }),
        metadata: metadata(&e.metadata),
        expired: false,
        revision: e.revision,
    }
}

pub fn zentry(z: &ZEntry) -> pb::ZEntry {
    pb::ZEntry {
        set: z.set.clone(),
        key: z.key.clone(),
        entry: Some(entry(&z.entry)),
        score: z.score,
        at_tx: z.at_tx,
    }
}

pub fn tx_entry(e: &TxEntryRecord, value: Option<Vec<u8>>) -> Result<pb::TxEntry> {
    let md = KvMetadata::from_bytes(&e.metadata)
        .map_err(|err| ServerError::Internal(format!("stored metadata: {err}")))?;
    Ok(pb::TxEntry {
        key: e.key.clone(),
        h_value: e.h_value.to_vec(),
        v_len: e.v_len as i32,
        metadata: metadata(&md),
        value: value.unwrap_or_default(),
    })
}

/// A tx with every entry as its digest inputs (key, metadata, value hash), in hashed order.
pub fn tx(t: &Tx) -> Result<pb::Tx> {
    Ok(pb::Tx {
        header: Some(header(&t.header)),
        entries: t
            .entries
            .iter()
            .map(|e| tx_entry(e, None))
            .collect::<Result<_>>()?,
        kv_entries: Vec::new(),
        z_entries: Vec::new(),
    })
}

pub fn inclusion(p: &InclusionProof) -> pb::InclusionProof {
    pb::InclusionProof {
        leaf: p.leaf as i32,
        width: p.width as i32,
        terms: p.terms.iter().map(|t| t.to_vec()).collect(),
    }
}

pub fn dual_proof(p: &DualProof) -> pb::DualProof {
    let digests = |v: &[[u8; 32]]| v.iter().map(|d| d.to_vec()).collect::<Vec<_>>();
    pb::DualProof {
        source_tx_header: Some(header(&p.source_tx_header)),
        target_tx_header: Some(header(&p.target_tx_header)),
        inclusion_proof: digests(&p.inclusion_proof),
        consistency_proof: digests(&p.consistency_proof),
        target_bl_tx_alh: p.target_bl_tx_alh.to_vec(),
        last_inclusion_proof: digests(&p.last_inclusion_proof),
        linear_proof: Some(pb::LinearProof {
            source_tx_id: p.linear_proof.source_tx_id,
            target_tx_id: p.linear_proof.target_tx_id,
            terms: digests(&p.linear_proof.terms),
        }),
        linear_advance_proof: None,
    }
}

// --- SQL values ---

pub fn sql_value_from(v: Option<&pb::SqlValue>) -> Result<Value> {
    use pb::sql_value::Value as V;
    Ok(match v.and_then(|v| v.value.as_ref()) {
        None | Some(V::Null(_)) => Value::Null,
        Some(V::N(n)) => Value::Integer(*n),
        Some(V::S(s)) => Value::Varchar(s.clone()),
        Some(V::B(b)) => Value::Boolean(*b),
        Some(V::Bs(b)) => Value::Blob(b.clone()),
        Some(V::Ts(t)) => Value::Timestamp(*t),
        Some(V::F(f)) => Value::Float(*f),
    })
}

pub fn sql_value(v: &Value) -> pb::SqlValue {
    use pb::sql_value::Value as V;
    let value = match v {
        Value::Null => V::Null(0),
        Value::Integer(n) => V::N(*n),
        Value::Boolean(b) => V::B(*b),
        Value::Varchar(s) | Value::Json(s) => V::S(s.clone()),
        Value::Blob(b) => V::Bs(b.clone()),
        Value::Float(f) => V::F(*f),
        Value::Timestamp(t) => V::Ts(*t),
        Value::Uuid(u) => V::S(stele_sql::types::uuid_string(u)),
    };
    pb::SqlValue { value: Some(value) }
}

pub fn params(ps: &[pb::NamedParam]) -> Result<std::collections::HashMap<String, Value>> {
    ps.iter()
        .map(|p| Ok((p.name.to_lowercase(), sql_value_from(p.value.as_ref())?)))
        .collect()
}

pub fn column(c: &ColumnDesc) -> pb::Column {
    pb::Column {
        name: c.selector.clone(),
        r#type: c.ty.map_or("ANY", SqlType::name).to_string(),
    }
}

pub fn row(values: &[Value]) -> pb::Row {
    pb::Row {
        columns: Vec::new(),
        values: values.iter().map(sql_value).collect(),
    }
}
