//! Where events live in the ledger (docs/format.md, "DCB events").
//!
//! Events and tracking positions are plain key/value entries of immudb's model (stored key
//! `0x00 ‖ key`, stored value `0x00 ‖ value`), so immudb's own `VerifiableGet` proves any of
//! them. The type and tag indexes are derived index entries (not hashed, versioned by tx).
//!
//! ```text
//! event     key  "dcb/e/" ‖ u64be(position)   value  SequencedEvent (umadb.v1, prost-encoded)
//! tracking  key  "dcb/t/" ‖ source            value  u64be(position)
//! type idx       "dcb/y/" ‖ u32be(len) ‖ type ‖ u64be(position)
//! tag idx        "dcb/g/" ‖ u32be(len) ‖ tag  ‖ u64be(position)
//! ```

/// The user key of the event at `position` (what `VerifiableGet` takes).
pub fn event_key(position: u64) -> Vec<u8> {
    let mut k = b"dcb/e/".to_vec();
    k.extend_from_slice(&position.to_be_bytes());
    k
}

/// The stored form of a user key or value: immudb's plain prefix byte first.
pub fn stored(user: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(user.len() + 1);
    k.push(0x00);
    k.extend_from_slice(user);
    k
}

/// The stored prefix of every event key.
pub fn stored_event_prefix() -> Vec<u8> {
    stored(b"dcb/e/")
}

/// The position in a stored event key.
pub fn position_of_stored(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

/// The user key of a tracking source's position.
pub fn tracking_key(source: &str) -> Vec<u8> {
    let mut k = b"dcb/t/".to_vec();
    k.extend_from_slice(source.as_bytes());
    k
}

fn index_prefix(kind: &[u8], name: &str) -> Vec<u8> {
    let mut k = kind.to_vec();
    k.extend_from_slice(&(name.len() as u32).to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k
}

/// The index prefix of events of type `ty`; each entry appends the position.
pub fn type_prefix(ty: &str) -> Vec<u8> {
    index_prefix(b"dcb/y/", ty)
}

/// The index prefix of events tagged `tag`; each entry appends the position.
pub fn tag_prefix(tag: &str) -> Vec<u8> {
    index_prefix(b"dcb/g/", tag)
}

/// An index prefix with a position appended.
pub fn at(prefix: &[u8], position: u64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&position.to_be_bytes());
    k
}
