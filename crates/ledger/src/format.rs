//! Every byte the ledger writes to RocksDB. `docs/format.md` describes the same layout.
//!
//! Column families:
//! - `tx`:   `u64be(id)` → tx record (header, then the entry list in hashed order).
//! - `kv`:   `esc(key) ‖ 0x00 0x00 ‖ u64be(!id)` → kv record
//!   (`u8 0x80|len md ‖ md ‖ u64be revision ‖ value`). Every version of every key,
//!   newest first; this is both the value store and the versioned index
//!   (non-indexable entries are kept but flagged by their metadata, revision 0).
//! - `rev`:  `esc(key)` → `u64be` revision of the key's newest indexable version (how many
//!   indexable versions it has): what a commit reads to number the next one.
//! - `aht`:  `u8 level ‖ u64be(index)` → 32-byte perfect-subtree hash of the AHT.
//! - `idx`:  `esc(key) ‖ 0x00 0x00 ‖ u64be(!id)` → kv record with an empty value: derived
//!   index entries (SQL secondary indexes). Versioned like `kv`, written in the same
//!   batch as the tx that caused them (or back-filled with older ids), but not part of
//!   any tx record and not hashed: they can be rebuilt from the hashed entries.
//! - `default`: `"format"` → `u32be(FORMAT_VERSION)`. Version 1 had no revisions (no
//!   `rev` family, kv records without the 0x80 flag); opening it migrates it.
//!
//! `esc` doubles every 0x00 byte as `0x00 0xFF`, so that the encoding is order-preserving and
//! prefix-free: all versions of a key are contiguous and keys keep their byte order.

use stele_proof::{digest_from, Digest, KvMetadata, TxHeader, TxId};

use crate::{LedgerError, Result};

/// Column family of tx records, keyed by tx id.
pub const CF_TX: &str = "tx";
/// Column family of every version of every key: the value store and the versioned index.
pub const CF_KV: &str = "kv";
/// Column family of the AHT's perfect-subtree nodes.
pub const CF_AHT: &str = "aht";
/// Column family of derived index entries: versioned, not hashed.
pub const CF_IDX: &str = "idx";
/// Column family of each key's newest revision.
pub const CF_REV: &str = "rev";
/// Key, in the default column family, of the data directory's format version.
pub const FORMAT_KEY: &[u8] = b"format";
/// The format version this code writes; version 1 is migrated at open.
pub const FORMAT_VERSION: u32 = 2;
/// Tx record layout version, the first byte of every tx record.
pub const TX_RECORD_VERSION: u8 = 1;

// ---------- kv keys ----------

/// The smallest byte string greater than every string starting with `p`, if any: the end of
/// a prefix's key range.
pub fn successor(p: &[u8]) -> Option<Vec<u8>> {
    let mut s = p.to_vec();
    while let Some(last) = s.pop() {
        if last != 0xFF {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// Appends the escaped key, without its terminator.
pub fn escape_into(out: &mut Vec<u8>, key: &[u8]) {
    // Branch-free: every byte is written with a 0xFF after it, and the cursor moves past the
    // 0xFF only when the byte was 0x00 (otherwise the next byte overwrites it).
    let start = out.len();
    out.resize(start + 2 * key.len(), 0);
    let buf = &mut out[start..];
    let mut n = 0;
    for &b in key {
        buf[n] = b;
        buf[n + 1] = 0xFF;
        n += 1 + (b == 0) as usize;
    }
    out.truncate(start + n);
}

/// Replaces `out` with the key whose escaped form (terminator excluded) is `escaped`.
pub fn unescape_into(out: &mut Vec<u8>, escaped: &[u8]) {
    out.clear();
    // `0x00` is always followed by its `0xFF` escape, which is dropped. One pass without a
    // capacity check per byte (scans unescape every key they meet).
    let mut escape_next = false;
    out.extend(escaped.iter().copied().filter(|&b| {
        let keep = !escape_next;
        escape_next = keep && b == 0;
        keep
    }));
}

/// `esc(key) ‖ 0x00 0x00`: the part of a kv key shared by all versions of `key`.
pub fn kv_key_prefix(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 10);
    escape_into(&mut out, key);
    out.extend_from_slice(&[0, 0]);
    out
}

/// The kv key of `key`'s version written by tx `id`.
pub fn kv_key(key: &[u8], id: TxId) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 10);
    kv_key_into(&mut out, key, id);
    out
}

/// [`kv_key`], appended to `out`.
pub fn kv_key_into(out: &mut Vec<u8>, key: &[u8], id: TxId) {
    escape_into(out, key);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(!id).to_be_bytes());
}

/// Splits a kv key into the user key and the tx id.
pub fn decode_kv_key(raw: &[u8]) -> Result<(Vec<u8>, TxId)> {
    let bad = || LedgerError::corrupted(0, format!("malformed kv key {:02x?}", raw));
    if raw.len() < 10 {
        return Err(bad());
    }
    let (enc, id) = raw.split_at(raw.len() - 8);
    let id = !u64::from_be_bytes(id.try_into().unwrap());
    let mut key = Vec::with_capacity(enc.len());
    let mut i = 0;
    while i < enc.len() {
        match (enc[i], enc.get(i + 1)) {
            (0, Some(0xFF)) => {
                key.push(0);
                i += 2;
            }
            (0, Some(0)) if i + 2 == enc.len() => return Ok((key, id)),
            (0, _) => return Err(bad()),
            (b, _) => {
                key.push(b);
                i += 1;
            }
        }
    }
    Err(bad())
}

// ---------- kv records ----------

/// Set in a kv record's first byte when the record carries its revision (every kv record
/// since format version 2; idx records never do).
const REVISION_FLAG: u8 = 0x80;

/// A kv record without a revision (the `idx` family's records).
pub fn encode_kv_record(md: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + md.len() + value.len());
    out.push(md.len() as u8);
    out.extend_from_slice(md);
    out.extend_from_slice(value);
    out
}

/// A kv record carrying `revision`, appended to `out`; returns the offset of the revision
/// within the appended bytes (a committer stamps it in place, see [`set_kv_revision`]).
pub fn kv_record_into(out: &mut Vec<u8>, md: &[u8], revision: u64, value: &[u8]) -> usize {
    debug_assert!(md.len() < REVISION_FLAG as usize);
    out.push(REVISION_FLAG | md.len() as u8);
    out.extend_from_slice(md);
    out.extend_from_slice(&revision.to_be_bytes());
    out.extend_from_slice(value);
    1 + md.len()
}

/// Overwrites the revision of a record laid out by [`kv_record_into`] (at `at`).
pub fn set_kv_revision(record: &mut [u8], at: usize, revision: u64) {
    record[at..at + 8].copy_from_slice(&revision.to_be_bytes());
}

/// A decoded kv record.
#[derive(Debug, Clone, Copy)]
pub struct KvRecord<'a> {
    /// The version's KV metadata (in an idx record, only `deleted`).
    pub metadata: KvMetadata,
    /// 0 for a non-indexable entry, an idx record, or a record from before format 2.
    pub revision: u64,
    /// The stored value, prefix included (empty in an idx record).
    pub value: &'a [u8],
}

/// Splits a kv record into metadata, revision and value.
#[inline]
pub fn decode_kv_record(raw: &[u8], tx: TxId) -> Result<KvRecord<'_>> {
    let first = *raw
        .first()
        .ok_or_else(|| LedgerError::corrupted(tx, "empty kv record"))?;
    let mdlen = (first & !REVISION_FLAG) as usize;
    let revlen = if first & REVISION_FLAG != 0 { 8 } else { 0 };
    if raw.len() < 1 + mdlen + revlen {
        return Err(LedgerError::corrupted(tx, "truncated kv record"));
    }
    // Most versions carry no metadata: no attributes to parse.
    let metadata = match mdlen {
        0 => KvMetadata::default(),
        _ => KvMetadata::from_bytes(&raw[1..1 + mdlen])
            .map_err(|e| LedgerError::corrupted(tx, e.to_string()))?,
    };
    let revision = match revlen {
        0 => 0,
        _ => u64::from_be_bytes(raw[1 + mdlen..1 + mdlen + 8].try_into().unwrap()),
    };
    Ok(KvRecord {
        metadata,
        revision,
        value: &raw[1 + mdlen + revlen..],
    })
}

/// The `rev` family's key of `key`.
pub fn rev_key(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    escape_into(&mut out, key);
    out
}

// ---------- tx records ----------

/// One entry of a tx record: what the entry digest needs, without the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxEntryRecord {
    /// The stored key, prefix included.
    pub key: Vec<u8>,
    /// The entry's KV metadata bytes (empty when it has none).
    pub metadata: Vec<u8>,
    /// Length of the stored value, in bytes.
    pub v_len: u32,
    /// `H(stored value)`.
    pub h_value: Digest,
}

/// `u8 record version ‖ header ‖ entries`, where the header is
/// `u64 id ‖ prevAlh ‖ i64 ts ‖ u16 version ‖ u16 len md ‖ md ‖ u32 nentries ‖ eH ‖ u64 blTxID ‖ blRoot`
/// and each entry is `u16 len key ‖ key ‖ u8 len md ‖ md ‖ u32 vLen ‖ hValue` (all big-endian).
pub fn encode_tx_record(h: &TxHeader, entries: &[TxEntryRecord]) -> Vec<u8> {
    let mut b = encode_tx_header(h);
    b.extend_from_slice(&encode_tx_entries(entries));
    b
}

/// The header part of a tx record, record version byte first.
pub fn encode_tx_header(h: &TxHeader) -> Vec<u8> {
    let mut b = Vec::with_capacity(1 + 8 + 32 + 8 + 2 + 2 + h.metadata.len() + 4 + 32 + 8 + 32);
    b.push(TX_RECORD_VERSION);
    b.extend_from_slice(&h.id.to_be_bytes());
    b.extend_from_slice(&h.prev_alh);
    b.extend_from_slice(&h.ts.to_be_bytes());
    b.extend_from_slice(&h.version.to_be_bytes());
    b.extend_from_slice(&(h.metadata.len() as u16).to_be_bytes());
    b.extend_from_slice(&h.metadata);
    b.extend_from_slice(&h.nentries.to_be_bytes());
    b.extend_from_slice(&h.eh);
    b.extend_from_slice(&h.bl_tx_id.to_be_bytes());
    b.extend_from_slice(&h.bl_root);
    b
}

/// The entry part of a tx record.
pub fn encode_tx_entries(entries: &[TxEntryRecord]) -> Vec<u8> {
    let size = entries
        .iter()
        .map(|e| 2 + e.key.len() + 1 + e.metadata.len() + 4 + 32)
        .sum::<usize>();
    let mut b = Vec::with_capacity(size);
    for e in entries {
        tx_entry_into(&mut b, &e.key, &e.metadata, e.v_len, &e.h_value);
    }
    b
}

/// One entry of a tx record, appended to `b`.
pub fn tx_entry_into(b: &mut Vec<u8>, key: &[u8], md: &[u8], v_len: u32, h_value: &Digest) {
    b.extend_from_slice(&(key.len() as u16).to_be_bytes());
    b.extend_from_slice(key);
    b.push(md.len() as u8);
    b.extend_from_slice(md);
    b.extend_from_slice(&v_len.to_be_bytes());
    b.extend_from_slice(h_value);
}

struct Reader<'a> {
    b: &'a [u8],
    tx: TxId,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(LedgerError::corrupted(self.tx, "truncated tx record"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn digest(&mut self) -> Result<Digest> {
        Ok(digest_from(self.take(32)?).unwrap())
    }
}

/// Decodes the header of a tx record, and the entries when `with_entries`.
pub fn decode_tx_record(
    raw: &[u8],
    tx: TxId,
    with_entries: bool,
) -> Result<(TxHeader, Vec<TxEntryRecord>)> {
    let mut entries = Vec::new();
    let header = visit_tx_record(raw, tx, with_entries, |key, metadata, v_len, h_value| {
        entries.push(TxEntryRecord {
            key: key.to_vec(),
            metadata: metadata.to_vec(),
            v_len,
            h_value: *h_value,
        });
        true
    })?;
    Ok((header, entries))
}

/// Decodes a tx record's header and, `with_entries`, hands `visit` each entry's key,
/// metadata, value length and value hash, borrowed from `raw`, in hashed order, until it
/// returns false.
pub fn visit_tx_record(
    raw: &[u8],
    tx: TxId,
    with_entries: bool,
    mut visit: impl FnMut(&[u8], &[u8], u32, &Digest) -> bool,
) -> Result<TxHeader> {
    let mut r = Reader { b: raw, tx };
    let v = r.u8()?;
    if v != TX_RECORD_VERSION {
        return Err(LedgerError::corrupted(
            tx,
            format!("unknown tx record version {v}"),
        ));
    }
    let id = r.u64()?;
    let prev_alh = r.digest()?;
    let ts = r.u64()? as i64;
    let version = r.u16()?;
    let mdlen = r.u16()? as usize;
    let metadata = r.take(mdlen)?.to_vec();
    let nentries = r.u32()?;
    let eh = r.digest()?;
    let bl_tx_id = r.u64()?;
    let bl_root = r.digest()?;
    let header = TxHeader {
        id,
        prev_alh,
        ts,
        version,
        metadata,
        nentries,
        eh,
        bl_tx_id,
        bl_root,
    };
    if with_entries {
        for _ in 0..nentries {
            let klen = r.u16()? as usize;
            let key = r.take(klen)?;
            let mdlen = r.u8()? as usize;
            let metadata = r.take(mdlen)?;
            let v_len = r.u32()?;
            let h_value = r.digest()?;
            if !visit(key, metadata, v_len, &h_value) {
                return Ok(header);
            }
        }
        if !r.b.is_empty() {
            return Err(LedgerError::corrupted(tx, "trailing bytes in tx record"));
        }
    }
    Ok(header)
}

// ---------- aht keys ----------

/// The `aht` family's key of the node at `level` with position `index` at that level.
pub fn aht_key(level: u32, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level as u8;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_keys_round_trip_and_order() {
        let keys: Vec<&[u8]> = vec![
            b"", b"\0", b"\0\0", b"\0\x01", b"a", b"a\0", b"a\0b", b"ab", b"\xff",
        ];
        let mut encoded = Vec::new();
        for k in &keys {
            for id in [1u64, 7, u64::MAX - 1] {
                let e = kv_key(k, id);
                assert_eq!(decode_kv_key(&e).unwrap(), (k.to_vec(), id));
                encoded.push((k.to_vec(), std::cmp::Reverse(id), e));
            }
        }
        let mut by_logic = encoded.clone();
        by_logic.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        encoded.sort_by(|a, b| a.2.cmp(&b.2));
        assert_eq!(by_logic, encoded, "kv keys sort by (key asc, tx desc)");
        assert!(decode_kv_key(b"abc").is_err());
    }

    #[test]
    fn tx_record_round_trip() {
        let h = TxHeader::new_v1(3, [1; 32], 1_700_000_000, 2, [2; 32], Some([3; 32]));
        let entries = vec![
            TxEntryRecord {
                key: b"\0a".to_vec(),
                metadata: vec![0],
                v_len: 0,
                h_value: [4; 32],
            },
            TxEntryRecord {
                key: b"\0b".to_vec(),
                metadata: vec![],
                v_len: 5,
                h_value: [5; 32],
            },
        ];
        let raw = encode_tx_record(&h, &entries);
        assert_eq!(
            decode_tx_record(&raw, 3, true).unwrap(),
            (h.clone(), entries)
        );
        assert!(decode_tx_record(&raw[..raw.len() - 1], 3, true).is_err());
        assert_eq!(decode_tx_record(&raw, 3, false).unwrap().0, h);
    }
}
