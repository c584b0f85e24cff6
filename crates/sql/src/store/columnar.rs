//! Rows decoded straight from their stored bytes into Arrow columns, only the projected ones.
//!
//! A stored row is `{n:4}` then n × `{col:4}{len:4}{bytes}` (NULL by omission, `docs/format.md`
//! section 4); this module never builds an intermediate `Value` per cell. Column ids of dropped
//! columns are skipped; a projected column a row lacks reads NULL (columns added later).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, BooleanBuilder, FixedSizeBinaryBuilder, Float64Builder,
    Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{Result, SqlError};
use crate::store::catalog::Table;
use crate::store::encoding;
use crate::types::SqlType;

/// Rows per batch handed to DataFusion.
pub const BATCH_ROWS: usize = 8192;

enum Col {
    Int(Int64Builder),
    Bool(BooleanBuilder),
    Str(StringBuilder),
    Bin(BinaryBuilder),
    Float(Float64Builder),
    Ts(TimestampMicrosecondBuilder),
    Uuid(FixedSizeBinaryBuilder),
}

impl Col {
    fn new(ty: SqlType) -> Col {
        match ty {
            SqlType::Integer => Col::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            SqlType::Boolean => Col::Bool(BooleanBuilder::with_capacity(BATCH_ROWS)),
            SqlType::Varchar | SqlType::Json => Col::Str(StringBuilder::new()),
            SqlType::Blob => Col::Bin(BinaryBuilder::new()),
            SqlType::Float => Col::Float(Float64Builder::with_capacity(BATCH_ROWS)),
            SqlType::Timestamp => Col::Ts(TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS)),
            SqlType::Uuid => Col::Uuid(FixedSizeBinaryBuilder::with_capacity(BATCH_ROWS, 16)),
        }
    }

    fn push(&mut self, b: &[u8]) -> Result<()> {
        let bad = || SqlError::Corrupted(format!("stored value of {} bytes", b.len()));
        let be8 = || -> Result<[u8; 8]> { b.try_into().map_err(|_| bad()) };
        match self {
            Col::Int(x) => x.append_value(i64::from_be_bytes(be8()?)),
            Col::Bool(x) => match b {
                [v] => x.append_value(*v != 0),
                _ => return Err(bad()),
            },
            Col::Str(x) => x.append_value(std::str::from_utf8(b).map_err(|_| bad())?),
            Col::Bin(x) => x.append_value(b),
            Col::Float(x) => x.append_value(f64::from_bits(u64::from_be_bytes(be8()?))),
            Col::Ts(x) => x.append_value(i64::from_be_bytes(be8()?)),
            Col::Uuid(x) => x.append_value(b).map_err(|_| bad())?,
        }
        Ok(())
    }

    fn push_null(&mut self) {
        match self {
            Col::Int(x) => x.append_null(),
            Col::Bool(x) => x.append_null(),
            Col::Str(x) => x.append_null(),
            Col::Bin(x) => x.append_null(),
            Col::Float(x) => x.append_null(),
            Col::Ts(x) => x.append_null(),
            Col::Uuid(x) => x.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Int(x) => Arc::new(x.finish()),
            Col::Bool(x) => Arc::new(x.finish()),
            Col::Str(x) => Arc::new(x.finish()),
            Col::Bin(x) => Arc::new(x.finish()),
            Col::Float(x) => Arc::new(x.finish()),
            Col::Ts(x) => Arc::new(x.finish()),
            Col::Uuid(x) => ArrayBuilder::finish(x),
        }
    }
}

/// Builds record batches of a table's projected columns from stored row values.
pub struct BatchBuilder {
    /// Column id → position among the projected columns.
    slot: Vec<Option<usize>>,
    cols: Vec<Col>,
    filled: Vec<bool>,
    rows: usize,
    /// Rows in the finished batches.
    flushed: usize,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl BatchBuilder {
    /// `projection`: positions in the table's live columns; `schema`: the table's full schema.
    pub fn new(t: &Table, projection: &[usize], schema: &SchemaRef) -> BatchBuilder {
        let mut slot = vec![None; t.max_column_id as usize + 1];
        let mut cols = Vec::with_capacity(projection.len());
        for (i, &pos) in projection.iter().enumerate() {
            let c = &t.columns[pos];
            slot[c.id as usize] = Some(i);
            cols.push(Col::new(c.ty));
        }
        BatchBuilder {
            slot,
            filled: vec![false; cols.len()],
            cols,
            rows: 0,
            flushed: 0,
            schema: Arc::new(
                schema
                    .project(projection)
                    .unwrap_or_else(|_| Schema::empty()),
            ),
            batches: Vec::new(),
        }
    }

    /// Appends one stored row value.
    pub fn push(&mut self, row: &[u8]) -> Result<()> {
        self.filled.iter_mut().for_each(|f| *f = false);
        let (slot, cols, filled) = (&self.slot, &mut self.cols, &mut self.filled);
        encoding::for_each_cell(row, |id, bytes| {
            if let Some(Some(i)) = slot.get(id as usize) {
                if !filled[*i] {
                    cols[*i].push(bytes)?;
                    filled[*i] = true;
                }
            }
            Ok(())
        })?;
        for (i, f) in self.filled.iter().enumerate() {
            if !f {
                self.cols[i].push_null();
            }
        }
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
            .map_err(|e| SqlError::Corrupted(e.to_string()))?;
        self.batches.push(batch);
        self.flushed += self.rows;
        self.rows = 0;
        Ok(())
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.flushed + self.rows
    }

    /// The batches of every row pushed.
    pub fn finish(mut self) -> Result<Vec<RecordBatch>> {
        self.flush()?;
        Ok(self.batches)
    }
}
