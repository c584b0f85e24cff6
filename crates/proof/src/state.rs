//! The client's trusted state and its signature (immudb `ImmutableState`).
//!
//! A state is `(db, txId, txHash = Alh(txId))`; the empty database is `(db, 0, H(""))`.
//! A server with a signing key signs `u32be(len db) ‖ db ‖ u64be(txId) ‖ txHash` with
//! ECDSA P-256 over SHA-256, DER-encoded; the public key travels as the 65-byte SEC1 point.

use p256::ecdsa::signature::{Signer, Verifier};
pub use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

use crate::{Digest, ProofError, TxId, GENESIS_ALH};

/// A client's trusted state: the latest transaction of a database it has verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// Name of the database the state belongs to; the signature covers it.
    pub db: String,
    /// The latest verified transaction, 0 for the empty database.
    pub tx_id: TxId,
    /// `Alh(tx_id)`, or `H("")` when `tx_id` is 0.
    pub tx_hash: Digest,
}

impl State {
    /// The state of a database with no transactions.
    pub fn genesis(db: &str) -> State {
        State {
            db: db.to_string(),
            tx_id: 0,
            tx_hash: GENESIS_ALH,
        }
    }

    /// The bytes a signature covers.
    pub fn signing_payload(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(4 + self.db.len() + 8 + 32);
        b.extend_from_slice(&(self.db.len() as u32).to_be_bytes());
        b.extend_from_slice(self.db.as_bytes());
        b.extend_from_slice(&self.tx_id.to_be_bytes());
        b.extend_from_slice(&self.tx_hash);
        b
    }

    /// A DER-encoded ECDSA P-256 signature of this state (RFC 6979 deterministic).
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        let sig: Signature = key.sign(&self.signing_payload());
        sig.to_der().as_bytes().to_vec()
    }

    /// Checks a DER-encoded signature of this state.
    pub fn verify_signature(&self, der: &[u8], key: &VerifyingKey) -> Result<(), ProofError> {
        let sig = Signature::from_der(der).map_err(|_| ProofError::BadSignature("not DER"))?;
        key.verify(&self.signing_payload(), &sig)
            .map_err(|_| ProofError::BadSignature("does not match the state"))
    }
}

/// The 65-byte uncompressed SEC1 encoding of a public key (`04 ‖ X ‖ Y`).
pub fn public_key_bytes(key: &VerifyingKey) -> Vec<u8> {
    key.to_encoded_point(false).as_bytes().to_vec()
}

/// Reads a public key from its SEC1 encoding.
pub fn public_key_from_bytes(b: &[u8]) -> Result<VerifyingKey, ProofError> {
    VerifyingKey::from_sec1_bytes(b).map_err(|_| ProofError::BadSignature("bad public key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let vk = *key.verifying_key();
        let st = State {
            db: "defaultdb".into(),
            tx_id: 42,
            tx_hash: [9; 32],
        };
        let sig = st.sign(&key);
        st.verify_signature(&sig, &vk).unwrap();
        let vk2 = public_key_from_bytes(&public_key_bytes(&vk)).unwrap();
        st.verify_signature(&sig, &vk2).unwrap();
        let mut other = st.clone();
        other.tx_id = 43;
        assert!(other.verify_signature(&sig, &vk).is_err());
        assert!(st.verify_signature(b"junk", &vk).is_err());
        assert_eq!(&st.signing_payload()[..13], b"\0\0\0\x09defaultdb");
    }
}
