//! A table's column-cache batches kept on disk: the column copy.
//!
//! When the column cache fills a table from the ledger, it also writes the batches here, so
//! that after a restart a scan reads columns from this file instead of decoding every row out
//! of RocksDB again. The copy is derived data, like the `idx` family: not hashed, never the
//! only place a row lives, and used only where it is proved to be the table's rows at the
//! query's snapshot (see `cache.rs`).
//!
//! Layout (docs/format.md "SQL column copies"): one chunk per column of each batch, each an
//! Arrow IPC stream of a one-column batch, then a footer that names the table, the snapshot
//! the rows were read at, the columns' ids and types, and per batch its row count, its first
//! and last INTEGER key, and each chunk's offset, length and XXH3-64 hash; then the footer's
//! length and XXH3-64 and the magic. A scan reads the footer, then only the chunks of the
//! columns it projects in the batches its key ranges overlap.
//!
//! Invariants:
//! - a file is written whole under a temporary name, synced, then renamed: a reader sees a
//!   complete file or none;
//! - every byte read is checked against its XXH3-64 hash before it is decoded; a file that fails
//!   any check is not used (the caller reads the ledger and rewrites the copy).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use stele_ledger::proof::TxId;
use twox_hash::XxHash3_64;

use crate::error::{Result, SqlError};
use crate::store::catalog::Table;
use crate::store::helper::{side_by_side, Helper};
use crate::types::SqlType;

const MAGIC: &[u8; 8] = b"STELECOL";
const VERSION: u32 = 1;

/// Where one column of one batch lies in the file.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    offset: u64,
    len: u32,
    hash: u64,
}

/// One batch's place in the file.
#[derive(Debug)]
struct BatchEntry {
    rows: u32,
    /// First and last key when the primary key is one INTEGER column (else 0, 0).
    first_key: i64,
    last_key: i64,
    /// One chunk per column, in table column order.
    chunks: Vec<Chunk>,
}

/// Rows `rows` of batch `batch` to read; `key`: its key column, when already read.
#[derive(Debug)]
pub(crate) struct Piece {
    batch: usize,
    rows: std::ops::Range<usize>,
    key: Option<(usize, ArrayRef)>,
}

/// An open column copy of one table.
#[derive(Debug)]
pub(crate) struct ColumnFile {
    file: File,
    /// The table's id.
    pub table: u32,
    /// The snapshot its rows were read at.
    pub snapshot: TxId,
    /// `(column id, type)` of every column, in table order.
    pub columns: Vec<(u32, SqlType)>,
    batches: Vec<BatchEntry>,
}

fn corrupt(path: &Path, what: &str) -> SqlError {
    SqlError::Corrupted(format!("column copy {}: {what}", path.display()))
}

fn io(path: &Path, e: std::io::Error) -> SqlError {
    corrupt(path, &e.to_string())
}

/// The copy's file name for table `table` in `dir`.
pub(crate) fn path_of(dir: &Path, table: u32) -> PathBuf {
    dir.join(format!("table-{table}.cols"))
}

/// The table whose copy (or copy being written) a file of the copies' folder is, by its name.
pub(crate) fn table_of_file(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("table-")?;
    let id = rest
        .strip_suffix(".cols")
        .or_else(|| rest.strip_suffix(".cols.tmp"))?;
    match id.bytes().all(|b| b.is_ascii_digit()) {
        true => id.parse().ok(),
        false => None,
    }
}

/// Where `table`'s copy is written before it is renamed into place.
pub(crate) fn tmp_path_of(dir: &Path, table: u32) -> PathBuf {
    dir.join(format!("table-{table}.cols.tmp"))
}

/// The INTEGER key column's position when `t`'s primary key is one INTEGER column.
pub(crate) fn integer_key(t: &Table) -> Option<usize> {
    let [pk] = t.pk_columns()[..] else {
        return None;
    };
    (pk.ty == SqlType::Integer)
        .then(|| t.columns.iter().position(|c| c.id == pk.id))
        .flatten()
}

/// Writes `batches` (every column of `t`, in key order, read at `snapshot`) as `t`'s copy in
/// `dir`, replacing any older one.
pub(crate) fn write(dir: &Path, t: &Table, snapshot: TxId, batches: &[RecordBatch]) -> Result<()> {
    let path = path_of(dir, t.id);
    let tmp = tmp_path_of(dir, t.id);
    let key = integer_key(t);
    let mut out = std::io::BufWriter::new(File::create(&tmp).map_err(|e| io(&tmp, e))?);
    let mut offset = 0u64;
    let mut entries = Vec::with_capacity(batches.len());
    for b in batches {
        let (first_key, last_key) = match key {
            Some(k) if b.num_rows() > 0 => {
                let ids = b
                    .column(k)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .ok_or_else(|| corrupt(&path, "key column is not INTEGER"))?;
                (ids.value(0), ids.value(ids.len() - 1))
            }
            _ => (0, 0),
        };
        let mut chunks = Vec::with_capacity(b.num_columns());
        for (i, col) in b.columns().iter().enumerate() {
            let bytes = encode_chunk(b.schema().field(i), col)?;
            out.write_all(&bytes).map_err(|e| io(&tmp, e))?;
            chunks.push(Chunk {
                offset,
                len: u32::try_from(bytes.len()).map_err(|_| corrupt(&path, "chunk over 4 GiB"))?,
                hash: XxHash3_64::oneshot(&bytes),
            });
            offset += bytes.len() as u64;
        }
        entries.push(BatchEntry {
            rows: b.num_rows() as u32,
            first_key,
            last_key,
            chunks,
        });
    }
    let footer = encode_footer(t, snapshot, &entries);
    out.write_all(&footer).map_err(|e| io(&tmp, e))?;
    out.write_all(&(footer.len() as u32).to_be_bytes())
        .map_err(|e| io(&tmp, e))?;
    out.write_all(&XxHash3_64::oneshot(&footer).to_be_bytes())
        .map_err(|e| io(&tmp, e))?;
    out.write_all(MAGIC).map_err(|e| io(&tmp, e))?;
    let file = out.into_inner().map_err(|e| io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

fn encode_chunk(field: &Field, col: &ArrayRef) -> Result<Vec<u8>> {
    let schema = Arc::new(Schema::new(vec![field.clone()]));
    let batch = RecordBatch::try_new(schema.clone(), vec![col.clone()])
        .map_err(|e| SqlError::Query(e.to_string()))?;
    let mut w =
        StreamWriter::try_new(Vec::new(), &schema).map_err(|e| SqlError::Query(e.to_string()))?;
    w.write(&batch)
        .map_err(|e| SqlError::Query(e.to_string()))?;
    w.into_inner().map_err(|e| SqlError::Query(e.to_string()))
}

fn encode_footer(t: &Table, snapshot: TxId, entries: &[BatchEntry]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&VERSION.to_be_bytes());
    f.extend_from_slice(&t.id.to_be_bytes());
    f.extend_from_slice(&snapshot.to_be_bytes());
    f.extend_from_slice(&(t.columns.len() as u32).to_be_bytes());
    for c in &t.columns {
        f.extend_from_slice(&c.id.to_be_bytes());
        let name = c.ty.name().as_bytes();
        f.push(name.len() as u8);
        f.extend_from_slice(name);
    }
    f.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for e in entries {
        f.extend_from_slice(&e.rows.to_be_bytes());
        f.extend_from_slice(&e.first_key.to_be_bytes());
        f.extend_from_slice(&e.last_key.to_be_bytes());
        for c in &e.chunks {
            f.extend_from_slice(&c.offset.to_be_bytes());
            f.extend_from_slice(&c.len.to_be_bytes());
            f.extend_from_slice(&c.hash.to_be_bytes());
        }
    }
    f
}

/// Reads a footer's fields in order; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
}

impl ColumnFile {
    /// Opens the copy at `path` and checks its footer; `Ok(None)` when there is no file.
    pub(crate) fn open(path: &Path) -> Result<Option<ColumnFile>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(path, e)),
        };
        let size = file.metadata().map_err(|e| io(path, e))?.len();
        const TAIL: u64 = 20;
        let mut tail = [0u8; TAIL as usize];
        if size < TAIL {
            return Err(corrupt(path, "too short"));
        }
        file.read_exact_at(&mut tail, size - TAIL)
            .map_err(|e| io(path, e))?;
        if &tail[12..] != MAGIC {
            return Err(corrupt(path, "no magic at its end"));
        }
        let len = u32::from_be_bytes(tail[..4].try_into().unwrap()) as u64;
        let hash = u64::from_be_bytes(tail[4..12].try_into().unwrap());
        if len > size - TAIL {
            return Err(corrupt(path, "footer longer than the file"));
        }
        let data_end = size - TAIL - len;
        let mut footer = vec![0u8; len as usize];
        file.read_exact_at(&mut footer, data_end)
            .map_err(|e| io(path, e))?;
        if XxHash3_64::oneshot(&footer) != hash {
            return Err(corrupt(path, "footer checksum mismatch"));
        }
        Self::decode_footer(file, &footer, data_end)
            .ok_or_else(|| corrupt(path, "footer does not decode"))
            .map(Some)
    }

    fn decode_footer(file: File, footer: &[u8], data_end: u64) -> Option<ColumnFile> {
        let mut r = Reader(footer);
        if r.u32()? != VERSION {
            return None;
        }
        let table = r.u32()?;
        let snapshot = r.u64()?;
        let ncols = r.u32()? as usize;
        let mut columns = Vec::with_capacity(ncols.min(4096));
        for _ in 0..ncols {
            let id = r.u32()?;
            let n = r.take::<1>()?[0] as usize;
            let name = std::str::from_utf8(r.bytes(n)?).ok()?;
            columns.push((id, SqlType::from_name(name).ok()?));
        }
        let nbatches = r.u32()? as usize;
        let mut batches = Vec::with_capacity(nbatches.min(1 << 20));
        for _ in 0..nbatches {
            let rows = r.u32()?;
            let (first_key, last_key) = (r.i64()?, r.i64()?);
            let mut chunks = Vec::with_capacity(ncols);
            for _ in 0..ncols {
                let c = Chunk {
                    offset: r.u64()?,
                    len: r.u32()?,
                    hash: r.u64()?,
                };
                (c.offset.checked_add(c.len as u64)? <= data_end).then_some(())?;
                chunks.push(c);
            }
            batches.push(BatchEntry {
                rows,
                first_key,
                last_key,
                chunks,
            });
        }
        r.0.is_empty().then_some(ColumnFile {
            file,
            table,
            snapshot,
            columns,
            batches,
        })
    }

    /// Column `col` (a position in table order) of batch `batch`, checked and decoded.
    fn chunk(&self, batch: usize, col: usize) -> Result<ArrayRef> {
        let fail = |what: &str| {
            SqlError::Corrupted(format!(
                "column copy of table {}: batch {batch}, column {col}: {what}",
                self.table
            ))
        };
        let c = self.batches[batch].chunks[col];
        let mut bytes = vec![0u8; c.len as usize];
        self.file
            .read_exact_at(&mut bytes, c.offset)
            .map_err(|e| fail(&e.to_string()))?;
        if XxHash3_64::oneshot(&bytes) != c.hash {
            return Err(fail("checksum mismatch"));
        }
        // Decoded in place: the arrays point into the bytes read.
        let mut buffer = Buffer::from_vec(bytes);
        let mut decoder = StreamDecoder::new();
        let b = decoder
            .decode(&mut buffer)
            .map_err(|e| fail(&e.to_string()))?
            .ok_or_else(|| fail("no batch"))?;
        if b.num_columns() != 1 || b.num_rows() != self.batches[batch].rows as usize {
            return Err(fail("wrong shape"));
        }
        Ok(b.column(0).clone())
    }

    /// Every row, all columns, as batches of `schema` (the table's).
    pub(crate) fn read_all(
        self: &Arc<Self>,
        reader: &Helper,
        schema: &Arc<Schema>,
    ) -> Result<Vec<RecordBatch>> {
        let pieces = (self.batches.iter().enumerate())
            .map(|(batch, b)| Piece {
                batch,
                rows: 0..b.rows as usize,
                key: None,
            })
            .collect::<Vec<_>>();
        let all: Vec<usize> = (0..self.columns.len()).collect();
        self.read_pieces(reader, pieces, &all, schema)
    }

    /// The pieces holding the rows whose INTEGER key `k` (column `key`) lies in `lo <= k < hi`,
    /// in key order: whole batches, and the cut ones at the ends (their key column read).
    pub(crate) fn range_pieces(
        &self,
        key: usize,
        (lo, hi): (i64, Option<i64>),
    ) -> Result<Vec<Piece>> {
        let mut pieces = Vec::new();
        for (batch, b) in self.batches.iter().enumerate() {
            if b.rows == 0 || b.last_key < lo || hi.is_some_and(|h| b.first_key >= h) {
                continue;
            }
            // The key column is read only for a batch the range cuts.
            if b.first_key >= lo && hi.is_none_or(|h| b.last_key < h) {
                pieces.push(Piece {
                    batch,
                    rows: 0..b.rows as usize,
                    key: None,
                });
                continue;
            }
            let ids = self.chunk(batch, key)?;
            let values = ids
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(|| SqlError::Corrupted("key column is not INTEGER".into()))?
                .values();
            let start = values.partition_point(|v| *v < lo);
            let end = hi.map_or(values.len(), |h| values.partition_point(|v| *v < h));
            if start < end {
                pieces.push(Piece {
                    batch,
                    rows: start..end,
                    key: Some((key, ids)),
                });
            }
        }
        Ok(pieces)
    }

    /// Where the chunk of column `column` (its position) of batch `batch` lies: offset, length.
    #[cfg(test)]
    pub(crate) fn chunk_place(&self, batch: usize, column: usize) -> (u64, u32) {
        let c = self.batches[batch].chunks[column];
        (c.offset, c.len)
    }

    /// The first key of a piece of [`ColumnFile::range_pieces`].
    pub(crate) fn first_key(&self, piece: &Piece) -> Result<i64> {
        match &piece.key {
            None => Ok(self.batches[piece.batch].first_key),
            Some((_, ids)) => ids
                .as_any()
                .downcast_ref::<Int64Array>()
                .map(|a| a.value(piece.rows.start))
                .ok_or_else(|| SqlError::Corrupted("key column is not INTEGER".into())),
        }
    }

    /// `pieces` as batches of columns `projection`, a long list read in two halves side by
    /// side (with the store's reader thread: [`side_by_side`]).
    fn read_pieces(
        self: &Arc<Self>,
        reader: &Helper,
        mut pieces: Vec<Piece>,
        projection: &[usize],
        schema: &Arc<Schema>,
    ) -> Result<Vec<RecordBatch>> {
        if pieces.len() < 4 {
            return self.read_list(&pieces, projection, schema);
        }
        let second = pieces.split_off(pieces.len() / 2);
        let (file, projection, schema) = (self.clone(), projection.to_vec(), schema.clone());
        let mut out = Vec::new();
        side_by_side(reader, vec![pieces, second], &mut out, move |part, out| {
            out.extend(file.read_list(part, &projection, &schema)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// `pieces` as batches of columns `projection`, on this thread.
    pub(crate) fn read_list(
        &self,
        pieces: &[Piece],
        projection: &[usize],
        schema: &Arc<Schema>,
    ) -> Result<Vec<RecordBatch>> {
        let read = |p: &Piece| -> Result<RecordBatch> {
            let cols = projection
                .iter()
                .map(|&c| {
                    let col = match &p.key {
                        Some((k, ids)) if *k == c => ids.clone(),
                        _ => self.chunk(p.batch, c)?,
                    };
                    Ok(col.slice(p.rows.start, p.rows.len()))
                })
                .collect::<Result<Vec<_>>>()?;
            self.batch(schema.clone(), cols, p.rows.len())
        };
        pieces.iter().map(read).collect()
    }

    /// A batch of `rows` rows (a projection may have no column: `COUNT(*)`).
    fn batch(&self, schema: Arc<Schema>, cols: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(schema, cols, &options)
            .map_err(|e| SqlError::Corrupted(format!("column copy of table {}: {e}", self.table)))
    }
}
