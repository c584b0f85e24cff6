//! Row reads: by key, over key ranges (at a snapshot, inside a transaction, or over a tx
//! range), decoded into Arrow batches in partitions, and `HISTORY OF`.

use super::catalog::Table;
use super::columnar::{BatchBuilder, BATCH_ROWS};
use super::encoding::{self};
use super::handle::SqlStore;
use super::helper::side_by_side;
use super::ranges::{KeyRange, TxRange};
use super::write_set::WriteSet;
use crate::error::Result;
use crate::types::{Rows, SqlType, Value};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::Arc;
use stele_ledger::proof::TxId;
use stele_ledger::{HistoryQuery, ScanQuery};

/// One row read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Values of the table's live columns, in column order.
    pub values: Vec<Value>,
    /// The tx that wrote this version.
    pub tx: TxId,
    /// 1-based version number of the row (set by history reads, else 0).
    pub revision: u64,
    /// Whether this version is a delete (history reads only).
    pub deleted: bool,
}

/// The scan of a table's stored rows with keys in `keys`, at `until`.
fn row_query(t: &Table, until: TxId, keys: &KeyRange) -> ScanQuery {
    let mut q = ScanQuery {
        prefix: encoding::row_prefix(t.id),
        snapshot: Some(until),
        ..Default::default()
    };
    keys.apply(&mut q);
    q
}

impl SqlStore {
    /// Rows by row key as a transaction sees them (absent keys are skipped).
    pub fn rows_by_keys_in(&self, t: &Table, keys: &[Vec<u8>], ws: &WriteSet) -> Result<Vec<Row>> {
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(e) = self.entry_in(key, ws)? {
                rows.push(self.live_row(t, &e.value, e.tx)?);
            }
        }
        Ok(rows)
    }

    /// Committed rows by row key over a tx range (absent keys are skipped).
    pub fn rows_by_keys(&self, t: &Table, keys: &[Vec<u8>], range: TxRange) -> Result<Vec<Row>> {
        let mut rows = Vec::with_capacity(keys.len());
        if range.from == 0 || range.from > range.until {
            return Ok(rows);
        }
        for key in keys {
            if let Some(e) = self.ledger.get_latest(key, range.until)? {
                if e.tx >= range.from {
                    rows.push(self.live_row(t, &e.value, e.tx)?);
                }
            }
        }
        Ok(rows)
    }

    /// A live row version: its stored value decoded, written by `tx` (0: the transaction's own).
    fn live_row(&self, t: &Table, value: &[u8], tx: TxId) -> Result<Row> {
        Ok(Row {
            values: self.decode(t, value)?,
            tx,
            revision: 0,
            deleted: false,
        })
    }

    pub(crate) fn decode(&self, t: &Table, value: &[u8]) -> Result<Vec<Value>> {
        let mut values = vec![Value::Null; t.columns.len()];
        for (id, bytes) in encoding::decode_row(value)? {
            // Columns dropped since keep their ids reserved: skip them.
            if let Some(pos) = t.columns.iter().position(|c| c.id == id) {
                values[pos] = encoding::decode_raw_value(t.columns[pos].ty, bytes)?;
            }
        }
        Ok(values)
    }

    /// The row with primary key `pk` as a transaction sees it (its own writes included).
    pub fn get_in(&self, t: &Table, pk: &[Value], ws: Option<&WriteSet>) -> Result<Option<Row>> {
        let Some(ws) = ws else {
            return self.get(t, pk, self.ledger.state().tx_id);
        };
        let key = self.row_key(t, pk)?;
        self.row_in(t, &key, ws)
    }

    /// [`SqlStore::get_in`] inside a transaction, the row's key guarded as read (unless the
    /// transaction only reads): its commit fails if another tx changed the row meanwhile.
    pub fn get_in_guarded(
        &self,
        t: &Table,
        pk: &[Value],
        ws: &mut WriteSet,
    ) -> Result<Option<Row>> {
        let key = self.row_key(t, pk)?;
        let row = self.row_in(t, &key, ws)?;
        ws.guard_read(key);
        Ok(row)
    }

    pub(crate) fn row_in(&self, t: &Table, key: &[u8], ws: &WriteSet) -> Result<Option<Row>> {
        Ok(match self.entry_in(key, ws)? {
            Some(e) => Some(self.live_row(t, &e.value, e.tx)?),
            None => None,
        })
    }

    /// The row with primary key `pk` as of `snapshot`, if it exists.
    pub fn get(&self, t: &Table, pk: &[Value], snapshot: TxId) -> Result<Option<Row>> {
        let key = self.row_key(t, pk)?;
        match self.ledger.get_latest(&key, snapshot)? {
            Some(e) => Ok(Some(self.live_row(t, &e.value, e.tx)?)),
            None => Ok(None),
        }
    }

    /// The table's rows in primary-key order over a tx range (at most `limit`, 0: all).
    /// The table as a transaction sees it: its snapshot plus its own writes, in key order.
    pub fn scan_in(&self, t: &Table, limit: usize, ws: Option<&WriteSet>) -> Result<Vec<Row>> {
        self.scan_keys_in(t, &KeyRange::default(), limit, ws)
    }

    /// [`SqlStore::scan_in`] restricted to row keys in `keys`.
    pub fn scan_keys_in(
        &self,
        t: &Table,
        keys: &KeyRange,
        limit: usize,
        ws: Option<&WriteSet>,
    ) -> Result<Vec<Row>> {
        let Some(ws) = ws.filter(|w| !w.is_empty()) else {
            let until = ws
                .map(|w| w.snapshot)
                .unwrap_or_else(|| self.ledger.state().tx_id);
            return self.scan_keys(t, TxRange { from: 1, until }, keys, limit);
        };
        let mut rows: BTreeMap<Vec<u8>, Row> = BTreeMap::new();
        let q = row_query(t, ws.snapshot, keys);
        for e in self.ledger.scan(&q)? {
            rows.insert(e.key, self.live_row(t, &e.value, e.tx)?);
        }
        for (key, w) in ws
            .pending_under(&q.prefix)
            .filter(|(k, _)| keys.contains(k))
        {
            match w.live() {
                None => {
                    rows.remove(key);
                }
                Some(value) => {
                    rows.insert(key.to_vec(), self.live_row(t, value, 0)?);
                }
            }
        }
        let limit = if limit == 0 { usize::MAX } else { limit };
        Ok(rows.into_values().take(limit).collect())
    }

    /// Committed rows over a tx range (time travel); a transaction's own writes are not seen.
    pub fn scan(&self, t: &Table, range: TxRange, limit: usize) -> Result<Vec<Row>> {
        self.scan_keys(t, range, &KeyRange::default(), limit)
    }

    /// [`SqlStore::scan`] restricted to row keys in `keys`.
    pub fn scan_keys(
        &self,
        t: &Table,
        range: TxRange,
        keys: &KeyRange,
        limit: usize,
    ) -> Result<Vec<Row>> {
        if range.from == 0 || range.from > range.until {
            return Ok(Vec::new());
        }
        let q = row_query(t, range.until, keys);
        let entries = self.ledger.scan(&q)?;
        let mut rows = Vec::new();
        for e in entries.into_iter().filter(|e| e.tx >= range.from) {
            rows.push(self.live_row(t, &e.value, e.tx)?);
            if rows.len() == limit {
                break;
            }
        }
        Ok(rows)
    }

    /// Committed rows over a tx range and a key range, in key order, as values of the
    /// projected columns (`projection`: positions among the live columns, repeats allowed),
    /// decoded straight from the stored bytes: for answers that leave as values, never as
    /// Arrow. A JSON value reads as its text (a VARCHAR), as it does through DataFusion. At most
    /// `max_rows`, appended to `rows` (as wide as the projection); returns the key to resume
    /// after (`None`: the range holds no more rows).
    pub fn scan_values(
        &self,
        t: &Table,
        range: TxRange,
        keys: &KeyRange,
        projection: &[usize],
        max_rows: usize,
        rows: &mut Rows,
    ) -> Result<Option<Vec<u8>>> {
        if range.from == 0 || range.from > range.until || max_rows == 0 {
            return Ok(None);
        }
        debug_assert_eq!(rows.width(), projection.len());
        let q = row_query(t, range.until, keys);
        // Column id → the first output position it fills; later repeats copy that one.
        let mut first = vec![None; t.max_column_id as usize + 1];
        let mut repeats = Vec::new();
        for (i, &pos) in projection.iter().enumerate() {
            let c = &t.columns[pos];
            match first[c.id as usize] {
                None => first[c.id as usize] = Some((i, c.ty)),
                Some((j, _)) => repeats.push((i, j)),
            }
        }
        let (mut read, mut err, mut resume) = (0, None, None);
        self.ledger.visit(&q, true, |key, tx, value| {
            if tx < range.from {
                return true;
            }
            // Each slot written once, as a tag (no clones of a NULL).
            let row = rows.push_nulls();
            let decoded = encoding::for_each_cell(value, |id, bytes| {
                if let Some(Some((i, ty))) = first.get(id as usize) {
                    // The 8-byte types built in place: a `Value` handed back by
                    // `decode_raw_value` is read back through memory, which made the read ~45%
                    // dearer in CPU (`--only range`: 2.5 against 1.7-1.9 ms a run).
                    row[*i] = match ty {
                        SqlType::Integer => Value::Integer(encoding::decode_i64(*ty, bytes)?),
                        SqlType::Timestamp => Value::Timestamp(encoding::decode_i64(*ty, bytes)?),
                        SqlType::Float => {
                            Value::Float(f64::from_bits(encoding::decode_i64(*ty, bytes)? as u64))
                        }
                        SqlType::Json => match encoding::decode_raw_value(*ty, bytes)? {
                            Value::Json(j) => Value::Varchar(j),
                            v => v,
                        },
                        _ => encoding::decode_raw_value(*ty, bytes)?,
                    };
                }
                Ok(())
            });
            if let Err(e) = decoded {
                err = Some(e);
                return false;
            }
            for &(i, j) in &repeats {
                row[i] = row[j].clone();
            }
            read += 1;
            if read == max_rows {
                resume = Some(key.to_vec());
                return false;
            }
            true
        })?;
        match err {
            Some(e) => Err(e),
            None => Ok(resume),
        }
    }

    /// One batch of a streamed scan: up to `max_rows` committed rows of `keys` over a tx range,
    /// starting after the row key `after` (from the range's start when `None`), decoded into
    /// Arrow (the projected columns). Also returns the key to resume after: `None` when the
    /// range holds no more rows.
    #[allow(clippy::too_many_arguments)]
    pub fn read_chunk(
        &self,
        t: &Table,
        range: TxRange,
        keys: &KeyRange,
        after: Option<&[u8]>,
        max_rows: usize,
        projection: &[usize],
        schema: &SchemaRef,
    ) -> Result<(Option<RecordBatch>, Option<Vec<u8>>)> {
        if range.from == 0 || range.from > range.until || max_rows == 0 {
            return Ok((None, None));
        }
        let mut q = row_query(t, range.until, keys);
        if let Some(after) = after {
            q.seek_key = Some(after.to_vec());
            q.inclusive_seek = false;
        }
        // At most one batch's rows: one batch.
        let max_rows = max_rows.min(BATCH_ROWS);
        let (mut batches, resume) =
            self.batches_of(t, &q, range.from, true, max_rows, projection, schema)?;
        Ok((batches.pop(), resume))
    }

    /// The committed rows of `q` written from tx `from` on, decoded into Arrow batches of the
    /// projected columns, at most `max_rows`; then also the key to resume after (`None`: `q`
    /// holds no more rows). `fill_cache`: as [`Ledger::visit`](stele_ledger::Ledger::visit).
    #[allow(clippy::too_many_arguments)]
    fn batches_of(
        &self,
        t: &Table,
        q: &ScanQuery,
        from: TxId,
        fill_cache: bool,
        max_rows: usize,
        projection: &[usize],
        schema: &SchemaRef,
    ) -> Result<(Vec<RecordBatch>, Option<Vec<u8>>)> {
        let mut b = BatchBuilder::new(t, projection, schema);
        let (mut err, mut resume) = (None, None);
        self.ledger.visit(q, fill_cache, |key, tx, value| {
            if tx < from {
                return true;
            }
            if let Err(e) = b.push(value) {
                err = Some(e);
                return false;
            }
            if b.len() == max_rows {
                resume = Some(key.to_vec());
                return false;
            }
            true
        })?;
        match err {
            Some(e) => Err(e),
            None => Ok((b.finish()?, resume)),
        }
    }

    /// `keys` cut in `n` parts (or fewer) at keys evenly spaced between the first and the last
    /// stored row key in it (of any version, at `until`), so that parts can be read side by
    /// side; `keys` whole when it holds too few keys to cut.
    pub fn split_keys(
        &self,
        t: &Table,
        until: TxId,
        keys: &KeyRange,
        n: usize,
    ) -> Result<Vec<KeyRange>> {
        let q = ScanQuery {
            limit: 1,
            ..row_query(t, until, keys)
        };
        let first = self.ledger.scan(&q)?;
        let last = self.ledger.scan(&ScanQuery {
            desc: true,
            seek_key: q.end_key.clone(),
            inclusive_seek: q.inclusive_end,
            end_key: q.seek_key.clone(),
            inclusive_end: q.inclusive_seek,
            ..q
        })?;
        let (Some(first), Some(last)) = (first.first(), last.first()) else {
            return Ok(vec![keys.clone()]);
        };
        let mut parts = Vec::with_capacity(n);
        let mut lo = keys.lo.clone();
        for cut in cuts(&first.key, &last.key, n) {
            parts.push(KeyRange {
                lo,
                hi: Some((cut.clone(), false)),
            });
            lo = Some((cut, true));
        }
        parts.push(KeyRange {
            lo,
            hi: keys.hi.clone(),
        });
        Ok(parts)
    }

    /// The whole table's committed rows at `until` (every live column) as Arrow batches in key
    /// order, for the column cache: cut in two halves ([`SqlStore::split_keys`]) read side by
    /// side, without filling RocksDB's block cache (which a whole table would only flush).
    pub fn table_batches(
        self: &Arc<Self>,
        t: &Table,
        until: TxId,
        schema: &SchemaRef,
    ) -> Result<Vec<RecordBatch>> {
        let halves = self.split_keys(t, until, &KeyRange::default(), 2)?;
        let mut batches = Vec::new();
        let (store, t, schema) = (self.clone(), t.clone(), schema.clone());
        side_by_side(&self.reader, halves, &mut batches, move |keys, out| {
            let all: Vec<usize> = (0..t.columns.len()).collect();
            let q = row_query(&t, until, keys);
            out.extend(
                store
                    .batches_of(&t, &q, 1, false, usize::MAX, &all, &schema)?
                    .0,
            );
            Ok(())
        })?;
        Ok(batches)
    }

    /// `HISTORY OF t`: every version of every row, by primary key then revision; a delete is a
    /// revision carrying the last values.
    pub fn history(&self, t: &Table, snapshot: TxId) -> Result<Vec<Row>> {
        let keys = self.ledger.scan(&ScanQuery {
            prefix: encoding::row_prefix(t.id),
            snapshot: Some(snapshot),
            include_deleted: true,
            ..Default::default()
        })?;
        let mut rows = Vec::new();
        for k in keys {
            for v in self.ledger.history(
                &k.key,
                &HistoryQuery {
                    snapshot: Some(snapshot),
                    ..Default::default()
                },
            )? {
                rows.push(Row {
                    values: self.decode(t, &v.value)?,
                    tx: v.tx,
                    revision: v.revision,
                    deleted: v.metadata.deleted,
                });
            }
        }
        Ok(rows)
    }
}

/// Up to `n - 1` increasing keys strictly between `a` and `b` (`a < b`), cutting the keys
/// between them into `n` parts of about the same number when they are spread evenly; fewer
/// (none) when `a` and `b` are too close to cut.
pub(crate) fn cuts(a: &[u8], b: &[u8], n: usize) -> Vec<Vec<u8>> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let word = |k: &[u8]| {
        let mut w = [0u8; 8];
        let tail = k.get(common..).unwrap_or(&[]);
        let n = tail.len().min(8);
        w[..n].copy_from_slice(&tail[..n]);
        u64::from_be_bytes(w)
    };
    let (x, y) = (word(a), word(b));
    if y <= x || n < 2 {
        return Vec::new();
    }
    let step = (y - x) / n as u64;
    (1..n as u64)
        .filter(|_| step > 0)
        .map(|i| {
            let mut cut = a[..common].to_vec();
            cut.extend_from_slice(&(x + i * step).to_be_bytes());
            cut
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::cuts;

    #[test]
    fn cuts_fall_strictly_between_their_ends_in_order() {
        let (a, b) = (b"t\x00\x00\x10".to_vec(), b"t\x00\x00\x90".to_vec());
        let got = cuts(&a, &b, 4);
        assert_eq!(got.len(), 3);
        let mut all = vec![a.clone()];
        all.extend(got);
        all.push(b.clone());
        assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:02x?}");
        // Keys of different lengths: cut within the first eight bytes past their common prefix.
        let cut = cuts(b"k\x01", b"k\x02\x05", 2);
        assert!(cut.len() == 1 && b"k\x01"[..] < cut[0][..] && cut[0][..] < b"k\x02\x05"[..]);
        // Too close to cut into parts of a key or more each, or not in order: no cut.
        assert!(cuts(b"k\x01", b"k\x01\x00\x00\x00\x00\x00\x00\x00\x03", 4).is_empty());
        assert!(cuts(&b, &a, 4).is_empty());
    }
}
