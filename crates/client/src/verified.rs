//! Verified calls: every answer is checked with stele-proof against the trusted state of this
//! server and database ([`TrustStore`]), which moves forward only after the check passed.
//!
//! - `verified_set` / `verified_set_reference` / `verified_zadd` / `verified_get` /
//!   `verified_tx`: immudb's verified calls, checked as its clients check them (wire spec 3.9).
//! - With a server key ([`Client::require_signatures`]), every answer must also carry the
//!   server's signature of the state it proved (wire spec 3.10).
//! - `audit`: walks a range of txs with every value, checks that each value hashes to its
//!   digest, each tx's entries to its `eH`, each header to the one before (`prevAlh`), the AHT
//!   root in each header (when the walk starts at tx 1) and each tx's dual proof against the
//!   trusted state. The first inconsistency ends the walk with its tx and what failed.
//!
//! Before the first verified call the trusted state is the empty one; like immudb's clients,
//! the first answer is then taken on trust, except by an audit from tx 1, which recomputes the
//! chain from the empty state.

use stele_proof::aht::Frontier;
use stele_proof::verify::{verify_read, verify_tx, verify_write};
use stele_proof::{sha256, EntrySpec, KvMetadata, ProofError, State, TxId, GENESIS_ALH};
use stele_proto::immudb as pb;

use crate::connection::Client;
use crate::convert;
use crate::error::{ClientError, Result};
use crate::kv::Version;
use crate::trust::TrustStore;

/// Stored key and value prefixes of plain key/value entries (wire spec 3.1).
const SET_KEY_PREFIX: u8 = 0x00;
const PLAIN_VALUE_PREFIX: u8 = 0x00;
const REFERENCE_VALUE_PREFIX: u8 = 0x01;
const ZSET_KEY_PREFIX: u8 = 0x01;

fn prefixed(prefix: u8, b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len() + 1);
    v.push(prefix);
    v.extend_from_slice(b);
    v
}

fn failed(tx: TxId, what: impl Into<String>) -> ClientError {
    ClientError::Verification {
        tx,
        what: what.into(),
    }
}

/// A proof that did not check out, named with the trusted state it was checked against.
fn proof_failed(tx: TxId, trusted: &State, e: ProofError) -> ClientError {
    let what = match e {
        ProofError::VerificationFailed(w) => w.to_string(),
        other => other.to_string(),
    };
    failed(
        tx,
        format!(
            "{what} (trusted state: tx {} {})",
            trusted.tx_id,
            hex::encode(trusted.tx_hash)
        ),
    )
}

/// What an audit walked and where it left the trusted state.
#[derive(Debug, Clone)]
pub struct AuditReport {
    /// First tx walked (at least 1).
    pub from: TxId,
    /// Last tx walked (the server's current tx unless a bound was given).
    pub to: TxId,
    /// Entries in the txs walked, all of them.
    pub entries: u64,
    /// The trusted state the audit started from.
    pub trusted_before: State,
    /// The trusted state after it: at `to` if that is later, else unchanged.
    pub trusted_after: State,
    /// Whether the walk was anchored (to a trusted state, or to the empty state from tx 1);
    /// otherwise the state it saved is taken on trust.
    pub anchored: bool,
}

/// Reads a server's public key: a PEM `PUBLIC KEY` block (`openssl ec -pubout` writes one).
pub fn load_server_key(path: &std::path::Path) -> Result<p256::ecdsa::VerifyingKey> {
    use p256::pkcs8::DecodePublicKey as _;
    let bad = |m: String| ClientError::Input(format!("server key {}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    p256::PublicKey::from_public_key_pem(&text)
        .map(p256::ecdsa::VerifyingKey::from)
        .map_err(|_| bad("not a PEM P-256 public key (PUBLIC KEY block)".into()))
}

impl Client {
    /// With a server key: `signature` must be the server's over (db, `header`'s id and Alh),
    /// the target of what was proved.
    fn check_signature(
        &self,
        signature: Option<&pb::Signature>,
        target: (TxId, stele_proof::Digest),
    ) -> Result<()> {
        let Some(key) = &self.server_key else {
            return Ok(());
        };
        let state = State {
            db: self.database().to_string(),
            tx_id: target.0,
            tx_hash: target.1,
        };
        let sig = signature
            .filter(|s| !s.signature.is_empty())
            .ok_or_else(|| {
                failed(
                    target.0,
                    "the answer is not signed, and a server key was given",
                )
            })?;
        state.verify_signature(&sig.signature, key).map_err(|e| {
            failed(
                target.0,
                format!("{e} (the server's signature of tx {})", target.0),
            )
        })
    }

    fn check_proof_signature(
        &self,
        signature: Option<&pb::Signature>,
        proof: &stele_proof::DualProof,
    ) -> Result<()> {
        if self.server_key.is_none() {
            return Ok(());
        }
        let t = &proof.target_tx_header;
        let alh = t.alh().map_err(|e| failed(t.id, e.to_string()))?;
        self.check_signature(signature, (t.id, alh))
    }

    /// The server's current state, its signature checked when a server key was given (the
    /// state itself is what the server claims: the trusted state is not changed).
    pub fn signed_state(&self) -> Result<pb::ImmutableState> {
        let s = self.current_state()?;
        if self.server_key.is_some() {
            let hash = stele_proof::digest_from(&s.tx_hash)
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            self.check_signature(s.signature.as_ref(), (s.tx_id, hash))?;
        }
        Ok(s)
    }

    /// The trusted state of this session's database (the empty state before the first).
    pub fn trusted_state(&self, store: &TrustStore) -> Result<State> {
        Ok(store
            .load(&self.address().addr, self.database())?
            .unwrap_or_else(|| State::genesis(self.database())))
    }

    fn trust(&self, store: &TrustStore, old: &State, new: &State) -> Result<()> {
        if new != old {
            store.save(&self.address().addr, new)?;
        }
        Ok(())
    }

    /// Writes `key` = `value` and proves the write: the tx holds exactly that entry and
    /// extends the trusted state.
    pub fn verified_set(
        &self,
        store: &TrustStore,
        key: &[u8],
        value: &[u8],
    ) -> Result<(pb::TxHeader, State)> {
        let expected = EntrySpec {
            key: prefixed(SET_KEY_PREFIX, key),
            metadata: KvMetadata::default(),
            value: prefixed(PLAIN_VALUE_PREFIX, value),
        };
        let set = pb::SetRequest {
            k_vs: vec![pb::KeyValue {
                key: key.to_vec(),
                value: value.to_vec(),
                metadata: None,
            }],
            ..Default::default()
        };
        self.verified_write(store, expected, |prove_since_tx| async move {
            let mut s = self.service();
            s.verifiable_set(pb::VerifiableSetRequest {
                set_request: Some(set),
                prove_since_tx,
            })
            .await
        })
    }

    /// Makes `key` refer to `referenced` (at `at_tx` when given) and proves the write.
    pub fn verified_set_reference(
        &self,
        store: &TrustStore,
        key: &[u8],
        referenced: &[u8],
        at_tx: Option<u64>,
    ) -> Result<(pb::TxHeader, State)> {
        let mut value = vec![REFERENCE_VALUE_PREFIX];
        value.extend_from_slice(&at_tx.unwrap_or(0).to_be_bytes());
        value.extend_from_slice(&prefixed(SET_KEY_PREFIX, referenced));
        let expected = EntrySpec {
            key: prefixed(SET_KEY_PREFIX, key),
            metadata: KvMetadata::default(),
            value,
        };
        let r = crate::kv::reference_request(key, referenced, at_tx);
        self.verified_write(store, expected, |prove_since_tx| async move {
            let mut s = self.service();
            s.verifiable_set_reference(pb::VerifiableReferenceRequest {
                reference_request: Some(r),
                prove_since_tx,
            })
            .await
        })
    }

    /// Adds `key` to the sorted set `set` with `score` and proves the write.
    pub fn verified_zadd(
        &self,
        store: &TrustStore,
        set: &[u8],
        score: f64,
        key: &[u8],
    ) -> Result<(pb::TxHeader, State)> {
        // 0x01 ‖ u64(len set) ‖ set ‖ u64(score bits) ‖ u64(len ek) ‖ ek ‖ u64(atTx), ek = 0x00 ‖ key.
        let ek = prefixed(SET_KEY_PREFIX, key);
        let mut stored = vec![ZSET_KEY_PREFIX];
        stored.extend_from_slice(&(set.len() as u64).to_be_bytes());
        stored.extend_from_slice(set);
        stored.extend_from_slice(&score.to_bits().to_be_bytes());
        stored.extend_from_slice(&(ek.len() as u64).to_be_bytes());
        stored.extend_from_slice(&ek);
        stored.extend_from_slice(&0u64.to_be_bytes());
        let expected = EntrySpec {
            key: stored,
            metadata: KvMetadata::default(),
            value: Vec::new(),
        };
        let r = crate::kv::zadd_request(set, score, key, None);
        self.verified_write(store, expected, |prove_since_tx| async move {
            let mut s = self.service();
            s.verifiable_z_add(pb::VerifiableZAddRequest {
                z_add_request: Some(r),
                prove_since_tx,
            })
            .await
        })
    }

    /// A verified single-entry write: `call(proveSinceTx)` makes it; the tx must hold exactly
    /// `expected` and extend the trusted state.
    fn verified_write<F>(
        &self,
        store: &TrustStore,
        expected: EntrySpec,
        call: impl FnOnce(TxId) -> F,
    ) -> Result<(pb::TxHeader, State)>
    where
        F: std::future::Future<Output = Result<tonic::Response<pb::VerifiableTx>, tonic::Status>>,
    {
        let state = self.trusted_state(store)?;
        let v = self.call(|_| call(state.tx_id))?;
        let (tx, proof) = convert::verifiable_tx(&v)?;
        let new = verify_write(&state, &tx, &expected, &proof)
            .map_err(|e| proof_failed(tx.header.id, &state, e))?;
        self.check_proof_signature(v.signature.as_ref(), &proof)?;
        self.trust(store, &state, &new)?;
        let header = convert::required(&v.tx, "tx")?
            .header
            .clone()
            .unwrap_or_default();
        Ok((header, new))
    }

    /// Reads `key` and proves the entry is in its tx and that tx in the trusted history.
    pub fn verified_get(
        &self,
        store: &TrustStore,
        key: &[u8],
        version: Version,
    ) -> Result<(pb::Entry, State)> {
        let state = self.trusted_state(store)?;
        let r = pb::VerifiableGetRequest {
            key_request: Some(version.key_request(key)),
            prove_since_tx: state.tx_id,
        };
        let v = self.call(|mut s| async move { s.verifiable_get(r).await })?;
        let entry = convert::required(&v.entry, "entry")?.clone();
        let vtx = convert::required(&v.verifiable_tx, "verifiable tx")?;
        let proof = convert::dual_proof(convert::required(&vtx.dual_proof, "dual proof")?)?;
        let inclusion =
            convert::inclusion(convert::required(&v.inclusion_proof, "inclusion proof")?)?;
        let (spec, at) = match &entry.referenced_by {
            None => {
                let metadata = convert::metadata(entry.metadata.as_ref())?;
                let value = if metadata.deleted {
                    entry.value.clone()
                } else {
                    prefixed(PLAIN_VALUE_PREFIX, &entry.value)
                };
                let spec = EntrySpec {
                    key: prefixed(SET_KEY_PREFIX, key),
                    metadata,
                    value,
                };
                (spec, entry.tx)
            }
            Some(r) => {
                let mut value = vec![REFERENCE_VALUE_PREFIX];
                value.extend_from_slice(&r.at_tx.to_be_bytes());
                value.push(SET_KEY_PREFIX);
                value.extend_from_slice(&entry.key);
                let spec = EntrySpec {
                    key: prefixed(SET_KEY_PREFIX, &r.key),
                    metadata: convert::metadata(r.metadata.as_ref())?,
                    value,
                };
                (spec, r.tx)
            }
        };
        let new = verify_read(&state, &spec, at, &inclusion, &proof)
            .map_err(|e| proof_failed(at, &state, e))?;
        self.check_proof_signature(vtx.signature.as_ref(), &proof)?;
        self.trust(store, &state, &new)?;
        Ok((entry, new))
    }

    /// Reads tx `id` and proves it is part of the trusted history (or extends it).
    pub fn verified_tx(&self, store: &TrustStore, id: TxId) -> Result<(pb::Tx, State)> {
        let state = self.trusted_state(store)?;
        let r = pb::VerifiableTxRequest {
            tx: id,
            prove_since_tx: state.tx_id,
            ..Default::default()
        };
        let v = self.call(|mut s| async move { s.verifiable_tx_by_id(r).await })?;
        let (tx, proof) = convert::verifiable_tx(&v)?;
        if tx.header.id != id {
            return Err(failed(
                id,
                format!("the server answered with tx {}", tx.header.id),
            ));
        }
        let new = verify_tx(&state, &tx, &proof).map_err(|e| proof_failed(id, &state, e))?;
        self.check_proof_signature(v.signature.as_ref(), &proof)?;
        self.trust(store, &state, &new)?;
        Ok((convert::required(&v.tx, "tx")?.clone(), new))
    }

    /// Walks txs `from..=to` (`to` defaults to the server's current tx), checking everything
    /// (see the module notes); `progress(done, total)` is called after each tx. The trusted
    /// state moves to `to` when that is later than it.
    pub fn audit(
        &self,
        store: &TrustStore,
        from: TxId,
        to: Option<TxId>,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<AuditReport> {
        let state = self.trusted_state(store)?;
        let current = self.signed_state()?;
        if current.tx_id < state.tx_id {
            return Err(failed(
                current.tx_id,
                format!(
                    "the server is at tx {} but this client trusted tx {}: history was lost or rolled back",
                    current.tx_id, state.tx_id
                ),
            ));
        }
        let from = from.max(1);
        let to = to.unwrap_or(current.tx_id);
        if to > current.tx_id {
            return Err(ClientError::Input(format!(
                "--to {to} is beyond the server's last tx ({})",
                current.tx_id
            )));
        }
        let raw = Some(pb::EntryTypeSpec {
            action: pb::EntryTypeAction::RawValue as i32,
        });
        let spec = pb::EntriesSpec {
            kv_entries_spec: raw,
            z_entries_spec: raw,
            sql_entries_spec: raw,
        };
        // From tx 1 the chain and the AHT are recomputed from the empty state.
        let mut previous = (from == 1).then_some((0, GENESIS_ALH));
        let mut aht = (from == 1).then(Frontier::default);
        let mut entries = 0u64;
        let mut last = None;
        let total = (to + 1).saturating_sub(from);
        for id in from..=to {
            let r = pb::VerifiableTxRequest {
                tx: id,
                prove_since_tx: if state.tx_id > 0 { state.tx_id } else { id },
                entries_spec: Some(spec),
                ..Default::default()
            };
            let v = self.call(|mut s| async move { s.verifiable_tx_by_id(r).await })?;
            let wire = convert::required(&v.tx, "tx")?;
            let (tx, proof) = convert::verifiable_tx(&v)?;
            if tx.header.id != id {
                return Err(failed(
                    id,
                    format!("the server answered with tx {}", tx.header.id),
                ));
            }
            for (i, e) in wire.entries.iter().enumerate() {
                if sha256(&e.value) != tx.entries[i].h_value
                    || e.value.len() != tx.entries[i].v_len as usize
                {
                    return Err(failed(
                        id,
                        format!(
                            "entry {i} (key {}): its value does not hash to its digest",
                            hex::encode(&e.key)
                        ),
                    ));
                }
            }
            if let Some((pid, palh)) = previous {
                if tx.header.prev_alh != palh {
                    return Err(failed(id, format!("prevAlh is not tx {pid}'s Alh")));
                }
            }
            if let Some(aht) = &mut aht {
                if tx.header.bl_tx_id == aht.size()
                    && tx.header.bl_root != aht.root().unwrap_or([0; 32])
                {
                    return Err(failed(id, "blRoot is not the root of the txs before it"));
                }
            }
            verify_tx(&state, &tx, &proof).map_err(|e| proof_failed(id, &state, e))?;
            self.check_proof_signature(v.signature.as_ref(), &proof)?;
            let alh = tx.header.alh().map_err(|e| proof_failed(id, &state, e))?;
            if let Some(aht) = &mut aht {
                aht.append(&alh);
            }
            previous = Some((id, alh));
            entries += tx.entries.len() as u64;
            last = Some((id, alh));
            progress(id - from + 1, total);
        }
        let anchored = state.tx_id > 0 || from == 1;
        let mut after = state.clone();
        if let Some((id, alh)) = last {
            if id > state.tx_id {
                after = State {
                    db: state.db.clone(),
                    tx_id: id,
                    tx_hash: alh,
                };
                self.trust(store, &state, &after)?;
            }
        }
        Ok(AuditReport {
            from,
            to,
            entries,
            trusted_before: state,
            trusted_after: after,
            anchored,
        })
    }
}
