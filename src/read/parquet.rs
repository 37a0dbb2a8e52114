//! Parquet files as record files: the text, id, source and date columns of each row, read row
//! group by row group and batch by batch (only those columns: a projection), so that memory is
//! bounded by a batch, not by the file.

use std::fs::File;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray};
use arrow_schema::DataType;
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::reader::ChunkReader;
use serde_json::{Map, Value};

use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};

use super::{ByteRange, Fields, RowCells, MAX_RECORD_BYTES};
use crate::error::RecordError;

/// Rows decoded at a time.
const BATCH_ROWS: usize = 1024;

/// Where a Parquet file's bytes are: a file, or bytes in memory (for tests and fuzzing).
pub(super) enum Input {
    File(File),
    Bytes(Bytes),
}

impl Input {
    fn metadata(&self) -> Result<ArrowReaderMetadata, ParquetError> {
        let opts = ArrowReaderOptions::new();
        match self {
            Input::File(f) => ArrowReaderMetadata::load(f, opts),
            Input::Bytes(b) => ArrowReaderMetadata::load(b, opts),
        }
    }

    /// A reader of the projected columns of one row group.
    fn group(
        &self,
        meta: &ArrowReaderMetadata,
        group: usize,
        mask: &ProjectionMask,
    ) -> Result<ParquetRecordBatchReader, ParquetError> {
        fn build<T: ChunkReader + 'static>(
            input: T,
            meta: &ArrowReaderMetadata,
            group: usize,
            mask: &ProjectionMask,
        ) -> Result<ParquetRecordBatchReader, ParquetError> {
            ParquetRecordBatchReaderBuilder::new_with_metadata(input, meta.clone())
                .with_row_groups(vec![group])
                .with_projection(mask.clone())
                .with_batch_size(BATCH_ROWS)
                .build()
        }
        match self {
            Input::File(f) => build(f.try_clone()?, meta, group, mask),
            Input::Bytes(b) => build(b.clone(), meta, group, mask),
        }
    }
}

/// The row groups of a file that a part of it reads: those whose first byte (the least start
/// of their column chunks) lies in `range` (all of them without one). Parts that cut a file
/// into byte ranges thus share out its row groups, each read by one part, in order.
pub(crate) fn groups_in(meta: &ParquetMetaData, range: Option<&ByteRange>) -> Vec<usize> {
    let groups = meta.row_groups();
    (0..groups.len())
        .filter(|&g| {
            range.is_none_or(|r| {
                let start = groups[g]
                    .columns()
                    .iter()
                    .map(|c| c.byte_range().0)
                    .min()
                    .unwrap_or(0);
                (r.start..r.end).contains(&start)
            })
        })
        .collect()
}

/// Rows of the file before row group `g`.
fn rows_before(groups: &[RowGroupMetaData], g: usize) -> u64 {
    groups[..g].iter().map(|r| r.num_rows().max(0) as u64).sum()
}

/// A column of the current batch, as strings.
pub(super) enum Col {
    Utf8(StringArray),
    Large(LargeStringArray),
    View(StringViewArray),
}

impl Col {
    /// String columns as they are; others (numbers, dates, binary holding UTF-8) cast to strings.
    pub(super) fn new(a: &ArrayRef) -> Result<Col, String> {
        Ok(match a.data_type() {
            DataType::Utf8 => Col::Utf8(a.as_string::<i32>().clone()),
            DataType::LargeUtf8 => Col::Large(a.as_string::<i64>().clone()),
            DataType::Utf8View => Col::View(a.as_string_view().clone()),
            _ => {
                let s = arrow_cast::cast(a, &DataType::Utf8).map_err(|e| e.to_string())?;
                Col::Utf8(s.as_string::<i32>().clone())
            }
        })
    }

    /// Row `i`, `None` when null.
    pub(super) fn get(&self, i: usize) -> Option<&str> {
        match self {
            Col::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Col::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Col::View(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// A Parquet file being read.
pub(super) struct Table {
    input: Input,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// Every column of the file (its top-level fields), for messages.
    pub header: Vec<String>,
    /// The columns read, in the file's order.
    names: Vec<String>,
    /// Where the text, id, source and date columns are in `names`.
    roles: [Option<usize>; 4],
    /// The row groups read (all, or those of a part: see [`groups_in`]), and the next of them.
    groups: Vec<usize>,
    next_group: usize,
    /// The row group being read.
    group: usize,
    reader: Option<ParquetRecordBatchReader>,
    /// The current batch's columns (as `names`), its length, and the next row in it.
    cols: Vec<Col>,
    len: usize,
    next: usize,
    /// The number (from 1) of the last row handed out.
    row: u64,
    /// The number of the last row of the current row group.
    group_end: u64,
}

/// The column names of `schema`, and the positions of the text, id, source and date columns
/// `fields` names (the text column must be there as a string or binary column; the others may
/// be missing, and must be castable to strings). Parquet files and Arrow batches in memory find
/// their columns alike.
pub(super) fn find_columns(
    schema: &arrow_schema::Schema,
    fields: &Fields,
) -> Result<(Vec<String>, [Option<usize>; 4]), RecordError> {
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let find = |name: &str| header.iter().position(|h| h == name);
    let found = [
        find(&fields.text),
        find(&fields.id),
        find(&fields.source),
        find(&fields.date),
    ];
    let Some(text) = found[0] else {
        return Err(RecordError::MissingText {
            field: fields.text.clone(),
            keys: header,
        });
    };
    if !matches!(
        schema.field(text).data_type(),
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    ) {
        return Err(RecordError::TextNotString(fields.text.clone()));
    }
    for (i, name) in [(1, &fields.id), (2, &fields.source), (3, &fields.date)] {
        if let Some(c) = found[i] {
            if !arrow_cast::can_cast_types(schema.field(c).data_type(), &DataType::Utf8) {
                return Err(RecordError::BadField(name.clone()));
            }
        }
    }
    Ok((header, found))
}

impl Table {
    /// Reads a file's footer and finds the named columns. The text column must be there, as a
    /// string (or binary) column; the others may be missing. With a `range`, only the row
    /// groups that start in it are read (their rows numbered as in the whole file).
    pub(super) fn open(
        input: Input,
        fields: &Fields,
        range: Option<&ByteRange>,
    ) -> Result<Table, RecordError> {
        let meta = crate::signal::catch_decoder_panic(|| input.metadata())
            .map_err(RecordError::Parquet)?
            .map_err(|e| RecordError::Parquet(e.to_string()))?;
        let schema = meta.schema().clone();
        let (header, found) = find_columns(&schema, fields)?;
        let mut read: Vec<usize> = found.iter().flatten().copied().collect();
        read.sort_unstable();
        read.dedup();
        let roles = found.map(|c| c.and_then(|c| read.iter().position(|&r| r == c)));
        let names = read.iter().map(|&c| header[c].clone()).collect();
        let mask = ProjectionMask::roots(meta.parquet_schema(), read);
        let groups = groups_in(meta.metadata(), range);
        Ok(Table {
            input,
            meta,
            mask,
            header,
            names,
            roles,
            groups,
            next_group: 0,
            group: 0,
            reader: None,
            cols: Vec::new(),
            len: 0,
            next: 0,
            row: 0,
            group_end: 0,
        })
    }

    /// The next row: its number (from 1) and its text, id, source and date cells, appended to
    /// `buf` (`None` for a null cell or a missing column). An error is located at a row: a row
    /// group that cannot be read is one error, and reading goes on with the next one.
    pub(super) fn next_row(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> Option<Result<(u64, RowCells), (u64, RecordError)>> {
        loop {
            if self.next < self.len {
                let i = self.next;
                self.next += 1;
                self.row += 1;
                let mut cells: RowCells = [None; 4];
                for (k, (cell, role)) in cells.iter_mut().zip(self.roles).enumerate() {
                    if let Some(s) = role.and_then(|c| self.cols[c].get(i)) {
                        if k == 0 && s.len() > MAX_RECORD_BYTES {
                            return Some(Err((self.row, RecordError::TooLarge(MAX_RECORD_BYTES))));
                        }
                        let start = buf.len();
                        buf.extend_from_slice(s.as_bytes());
                        *cell = Some((start, buf.len()));
                    }
                }
                return Some(Ok((self.row, cells)));
            }
            if let Some(r) = self.reader.as_mut() {
                let got = match crate::signal::catch_decoder_panic(|| r.next()) {
                    Ok(None) => {
                        self.reader = None;
                        continue;
                    }
                    Ok(Some(Ok(batch))) => self.take(&batch),
                    Ok(Some(Err(e))) => Err(e.to_string()),
                    Err(e) => Err(e),
                };
                match got {
                    Ok(()) => continue,
                    Err(e) => return Some(Err(self.group_failed(e))),
                }
            }
            let g = *self.groups.get(self.next_group)?;
            self.next_group += 1;
            self.group = g;
            let groups = self.meta.metadata().row_groups();
            self.row = rows_before(groups, g);
            self.group_end = self.row + groups[g].num_rows().max(0) as u64;
            let (input, meta, mask) = (&self.input, &self.meta, &self.mask);
            match crate::signal::catch_decoder_panic(|| input.group(meta, g, mask)) {
                Ok(Ok(r)) => self.reader = Some(r),
                Ok(Err(e)) => return Some(Err(self.group_failed(e.to_string()))),
                Err(e) => return Some(Err(self.group_failed(e))),
            }
        }
    }

    /// The rest of the current row group is lost: one error, at its first row not read; the
    /// rows after it keep their numbers.
    fn group_failed(&mut self, e: String) -> (u64, RecordError) {
        let at = self.row + 1;
        self.reader = None;
        self.len = 0;
        self.next = 0;
        self.row = self.group_end;
        let n = self.meta.metadata().num_row_groups();
        let g = self.group + 1;
        (
            at,
            RecordError::Parquet(format!("row group {g} of {n}: {e}")),
        )
    }

    fn take(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let mut cols = Vec::with_capacity(self.names.len());
        for name in &self.names {
            let a = batch
                .column_by_name(name)
                .ok_or_else(|| format!("column {name:?} is missing from a batch"))?;
            cols.push(Col::new(a).map_err(|e| format!("column {name:?}: {e}"))?);
        }
        self.cols = cols;
        self.len = batch.num_rows();
        self.next = 0;
        Ok(())
    }

    /// The last row handed out, as an object of the columns read (null cells as null).
    pub(super) fn row_object(&self) -> Map<String, Value> {
        let i = self.next.saturating_sub(1);
        self.names
            .iter()
            .zip(&self.cols)
            .map(|(name, c)| {
                let v = c.get(i).map_or(Value::Null, |s| Value::String(s.into()));
                (name.clone(), v)
            })
            .collect()
    }
}

/// The text, id, source and date cells of a whole batch (all columns read), for writing a
/// Parquet file back: the text of a row, and why a row is no document.
pub(crate) struct BatchCells {
    cols: [Option<Col>; 4],
}

impl BatchCells {
    /// The columns of `batch` that `fields` name (a missing one is none; the text column was
    /// checked by the scan).
    pub(crate) fn new(batch: &RecordBatch, fields: &Fields) -> Result<BatchCells, String> {
        let mut cols: [Option<Col>; 4] = [None, None, None, None];
        for (c, name) in
            cols.iter_mut()
                .zip([&fields.text, &fields.id, &fields.source, &fields.date])
        {
            if let Some(a) = batch.column_by_name(name) {
                *c = Some(Col::new(a).map_err(|e| format!("column {name:?}: {e}"))?);
            }
        }
        Ok(BatchCells { cols })
    }

    /// The text of row `i` (`None` when null).
    pub(crate) fn text(&self, i: usize) -> Option<&str> {
        self.cols[0].as_ref().and_then(|c| c.get(i))
    }

    /// Why row `i`, which the scan found at `at` and did not make a document, is none: read
    /// again as the scan read it ([`Table::next_row`], then `row_record`). A row that reads is a
    /// duplicate id, the only reason found beyond the row itself.
    pub(crate) fn skip_reason(&self, i: usize, at: super::Location) -> &'static str {
        let mut buf = Vec::new();
        let mut cells: RowCells = [None; 4];
        for (k, (cell, col)) in cells.iter_mut().zip(&self.cols).enumerate() {
            if let Some(s) = col.as_ref().and_then(|c| c.get(i)) {
                if k == 0 && s.len() > MAX_RECORD_BYTES {
                    return RecordError::TooLarge(MAX_RECORD_BYTES).reason();
                }
                let start = buf.len();
                buf.extend_from_slice(s.as_bytes());
                *cell = Some((start, buf.len()));
            }
        }
        match super::row_record(&buf, &cells, at, 0) {
            Ok(_) => "duplicate_id",
            Err(e) => e.reason(),
        }
    }
}
