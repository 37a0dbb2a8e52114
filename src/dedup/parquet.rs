//! Parquet output from Parquet input: the input's record batches read again with every column
//! (not only the projected ones the scan read), the rows chosen with arrow's filter kernel, the
//! text column rewritten where boilerplate is stripped, the annotation columns appended, and
//! the batches written row group by row group (memory bounded by a row group, not the file).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, LargeStringArray, RecordBatch, StringArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::{cluster_of, strip_lines, Options, Written, FIELDS};
use crate::error::{Error, Location, RecordError, Result};
use crate::output::Output;
use crate::pipeline::Scan;
use crate::read::parquet::BatchCells;
use crate::read::{Corpus, Fields, Format};

/// Rows decoded at a time.
const BATCH_ROWS: usize = 1024;

/// A row group is closed once its encoded columns reach this size (or the writer's row limit).
const ROW_GROUP_BYTES: usize = 128 << 20;

/// The input files, their footers, and the one schema they share.
pub(super) struct Plan {
    /// The first file's schema, each column nullable if it is in any file.
    schema: SchemaRef,
    metas: Vec<ArrowReaderMetadata>,
}

impl Plan {
    /// Reads the footers: every input must be a Parquet file, all of one schema (the same
    /// column names and types in the same order), without the annotation columns when
    /// annotating. `out` names the output in messages.
    pub(super) fn new(corpus: &Corpus, out: &Path, opts: &Options) -> Result<Plan> {
        let refuse = |why: String| Error::ParquetOutput {
            path: out.to_path_buf(),
            why,
        };
        if !corpus.documents().is_empty() {
            return Err(refuse(
                "documents given in memory have no Parquet columns to keep (write JSONL)".into(),
            ));
        }
        let mut metas: Vec<ArrowReaderMetadata> = Vec::with_capacity(corpus.files.len());
        let mut fields: Vec<Field> = Vec::new();
        for src in &corpus.files {
            if src.format != Format::Parquet {
                return Err(refuse(format!(
                    "{} is not Parquet; Parquet output keeps the columns of Parquet input (name \
                     the output .jsonl, or convert the input to Parquet first)",
                    src.shown
                )));
            }
            let at = Location {
                path: src.shown.clone(),
                line: 0,
            };
            if let Some(p) = &src.problem {
                return Err(Error::record(at, p.clone()));
            }
            let file = File::open(&src.path).map_err(|e| Error::Input {
                path: src.path.clone(),
                source: e,
            })?;
            let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
                .map_err(|e| Error::record(at.clone(), RecordError::Parquet(e.to_string())))?;
            let schema = meta.schema();
            if let Some(first) = metas.first() {
                if let Some(diff) = schema_difference(first.schema(), schema) {
                    return Err(refuse(format!(
                        "{} does not have the columns of {}: {diff} (the shards written to one \
                         Parquet file need one schema: cast them to one, or dedup them one by \
                         one)",
                        src.shown, corpus.files[0].shown
                    )));
                }
                for (f, g) in fields.iter_mut().zip(schema.fields()) {
                    if g.is_nullable() && !f.is_nullable() {
                        *f = f.clone().with_nullable(true);
                    }
                }
            } else {
                fields = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
                if opts.annotate {
                    for name in FIELDS.iter().map(|f| format!("{}{f}", opts.prefix)) {
                        if schema.field_with_name(&name).is_ok() {
                            return Err(Error::FieldExists { at, field: name });
                        }
                    }
                }
            }
            metas.push(meta);
        }
        let metadata = metas
            .first()
            .map(|m| m.schema().metadata().clone())
            .unwrap_or_default();
        Ok(Plan {
            schema: Arc::new(Schema::new_with_metadata(fields, metadata)),
            metas,
        })
    }
}

/// How schema `b` differs from `a` (column names and types, in order), if it does.
fn schema_difference(a: &Schema, b: &Schema) -> Option<String> {
    let show = |f: &Field| format!("{:?} ({})", f.name(), f.data_type());
    for (i, (x, y)) in a.fields().iter().zip(b.fields()).enumerate() {
        if x.name() != y.name() || x.data_type() != y.data_type() {
            return Some(format!(
                "column {} is {} there but {} in the first",
                i + 1,
                show(y),
                show(x)
            ));
        }
    }
    let (m, n) = (a.fields().len(), b.fields().len());
    (m != n).then(|| format!("{n} columns there but {m} in the first"))
}

/// A Parquet file being written to an [`Output`]: the writer encodes into a buffer that is
/// moved to the output after every batch (the writer needs a `Send` sink; stdout's lock is not
/// one), so that it holds at most the row group in progress.
struct Sink<'o> {
    writer: ArrowWriter<Vec<u8>>,
    out: &'o mut Output,
    rows: u64,
}

impl<'o> Sink<'o> {
    fn new(schema: SchemaRef, out: &'o mut Output) -> Result<Sink<'o>> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer = ArrowWriter::try_new(Vec::new(), schema, Some(props))
            .map_err(|e| out.error(std::io::Error::other(e)))?;
        Ok(Sink {
            writer,
            out,
            rows: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        let mut r = self.writer.write(batch);
        if r.is_ok() && self.writer.in_progress_size() >= ROW_GROUP_BYTES {
            r = self.writer.flush();
        }
        r.map_err(|e| self.out.error(std::io::Error::other(e)))?;
        self.drain()
    }

    fn drain(&mut self) -> Result<()> {
        let buf = self.writer.inner_mut();
        if !buf.is_empty() {
            self.out.write_all(buf).map_err(|e| self.out.error(e))?;
            buf.clear();
        }
        Ok(())
    }

    /// Writes the last row group and the footer.
    fn finish(mut self) -> Result<u64> {
        self.writer
            .finish()
            .map_err(|e| self.out.error(std::io::Error::other(e)))?;
        self.drain()?;
        Ok(self.rows)
    }
}

/// The annotation columns of the rows of one batch.
#[derive(Default)]
struct Annotations {
    cluster: Vec<i64>,
    size: Vec<i64>,
    dup_of: Vec<Option<String>>,
    reason: Vec<Option<&'static str>>,
}

/// Writes the chosen rows of every input file (see [`super::write_split`]).
pub(super) fn write(
    corpus: &Corpus,
    scan: &Scan,
    fields: &Fields,
    opts: &Options,
    out: &mut Output,
    removed: Option<&mut Output>,
) -> Result<Written> {
    let plan = Plan::new(corpus, out.shown(), opts)?;
    let target = out.shown().to_path_buf();
    let arrow_err = |e: arrow_schema::ArrowError| Error::ParquetOutput {
        path: target.clone(),
        why: e.to_string(),
    };
    let names: Vec<String> = FIELDS
        .iter()
        .map(|f| format!("{}{f}", opts.prefix))
        .collect();
    // The skip reason only when some rows are no document (under --on-error skip).
    let with_reason = opts.annotate && scan.stats.skipped.total > 0;
    let mut out_fields: Vec<Arc<Field>> = plan.schema.fields().iter().cloned().collect();
    if opts.annotate {
        out_fields.push(Arc::new(Field::new(&names[0], DataType::Int64, false)));
        out_fields.push(Arc::new(Field::new(&names[1], DataType::Int64, false)));
        out_fields.push(Arc::new(Field::new(&names[2], DataType::Utf8, true)));
        if with_reason {
            out_fields.push(Arc::new(Field::new(&names[3], DataType::Utf8, true)));
        }
    }
    let out_schema = Arc::new(Schema::new_with_metadata(
        out_fields,
        plan.schema.metadata().clone(),
    ));
    let text_col = plan.schema.index_of(&fields.text).ok();
    let assign = scan.assignment();
    let mut kept = Sink::new(out_schema.clone(), out)?;
    let mut gone = match removed {
        Some(r) => Some(Sink::new(plan.schema.clone(), r)?),
        None => None,
    };
    let mut next = 0usize;
    let mut done = Written::default();
    for (src, meta) in corpus.files.iter().zip(&plan.metas) {
        let shown = |line: u64, e: String| {
            Error::record(
                Location {
                    path: src.shown.clone(),
                    line,
                },
                RecordError::Parquet(e),
            )
        };
        let file = File::open(&src.path).map_err(|e| Error::Input {
            path: src.path.clone(),
            source: e,
        })?;
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| shown(0, e.to_string()))?;
        let mut row = 0u64;
        let mut reader = reader;
        loop {
            let batch = match crate::signal::catch_decoder_panic(|| reader.next()) {
                Ok(None) => break,
                Ok(Some(b)) => b.map_err(|e| shown(row + 1, e.to_string()))?,
                Err(e) => return Err(shown(row + 1, e)),
            };
            let cells = BatchCells::new(&batch, fields).map_err(|e| shown(row + 1, e))?;
            let n = batch.num_rows();
            let mut keep = Vec::with_capacity(n);
            let mut ann = Annotations::default();
            // Rewritten texts of kept rows, by row of the batch.
            let mut texts: Vec<(usize, String)> = Vec::new();
            for i in 0..n {
                row += 1;
                let is_next = scan
                    .docs
                    .get(next)
                    .is_some_and(|d| d.at.line == row && d.at.path == src.name);
                if !is_next {
                    // No document: kept only when annotating, so that rows stay aligned with
                    // the input.
                    keep.push(opts.annotate);
                    if opts.annotate {
                        let at = Location {
                            path: src.name.clone(),
                            line: row,
                        };
                        ann.cluster.push(-1);
                        ann.size.push(1);
                        ann.dup_of.push(None);
                        ann.reason.push(Some(cells.skip_reason(i, at)));
                        done.skipped += 1;
                    }
                    continue;
                }
                let d = next;
                next += 1;
                let (cluster, size, dup_of) = cluster_of(scan, &assign, d);
                keep.push(dup_of.is_none() || opts.annotate);
                if opts.annotate {
                    ann.cluster.push(cluster);
                    ann.size.push(size);
                    ann.dup_of.push(dup_of.map(str::to_string));
                    ann.reason.push(None);
                }
                if opts.strip_boilerplate && keep[i] {
                    let flagged = scan.boilerplate.mask.flagged(d);
                    if let (false, Some(t)) = (flagged.is_empty(), cells.text(i)) {
                        texts.push((i, strip_lines(t, &flagged)));
                    }
                }
            }
            let all = keep.iter().all(|&k| k);
            let mask = BooleanArray::from(keep);
            let mut cols: Vec<ArrayRef> = if all {
                batch.columns().to_vec()
            } else {
                filter_columns(&batch, &mask).map_err(arrow_err)?
            };
            if let (Some(c), false) = (text_col, texts.is_empty()) {
                cols[c] = rewrite_text(&batch, c, &mask, &texts).map_err(arrow_err)?;
            }
            if opts.annotate {
                cols.push(Arc::new(Int64Array::from(ann.cluster)));
                cols.push(Arc::new(Int64Array::from(ann.size)));
                cols.push(Arc::new(StringArray::from(ann.dup_of)));
                if with_reason {
                    cols.push(Arc::new(StringArray::from(ann.reason)));
                }
            }
            kept.write(&RecordBatch::try_new(out_schema.clone(), cols).map_err(arrow_err)?)?;
            if let (Some(g), false) = (gone.as_mut(), all) {
                let cols = filter_columns(&batch, &inverted(&mask)).map_err(arrow_err)?;
                g.write(&RecordBatch::try_new(plan.schema.clone(), cols).map_err(arrow_err)?)?;
            }
        }
    }
    if next != scan.docs.len() {
        // Nothing is committed: the caller drops the outputs, which removes the partial files.
        return Err(super::changed(next, &scan.docs));
    }
    done.written = kept.finish()?;
    if let Some(g) = gone {
        done.removed = g.finish()?;
    }
    Ok(done)
}

/// The rows of `batch` that `mask` keeps, column by column (the batch's own schema may differ
/// from the output's in nullability and metadata).
fn filter_columns(batch: &RecordBatch, mask: &BooleanArray) -> Result<Vec<ArrayRef>, ArrowError> {
    batch
        .columns()
        .iter()
        .map(|c| arrow_select::filter::filter(c.as_ref(), mask))
        .collect()
}

/// `!mask` (a mask without nulls).
fn inverted(mask: &BooleanArray) -> BooleanArray {
    mask.iter().map(|k| Some(k != Some(true))).collect()
}

/// Column `c` of `batch` (the text), the rows `mask` keeps, with the rows of `texts` replaced,
/// in the column's own type.
fn rewrite_text(
    batch: &RecordBatch,
    c: usize,
    mask: &BooleanArray,
    texts: &[(usize, String)],
) -> Result<ArrayRef, ArrowError> {
    let col = batch.column(c);
    let wide = arrow_cast::cast(col, &DataType::LargeUtf8)?;
    let wide = wide
        .as_any()
        .downcast_ref::<LargeStringArray>()
        .expect("cast to LargeUtf8");
    let mut it = texts.iter().peekable();
    let mut values: Vec<Option<&str>> = Vec::with_capacity(wide.len());
    for i in 0..wide.len() {
        let new = it.next_if(|(j, _)| *j == i).map(|(_, t)| t.as_str());
        if mask.value(i) {
            values.push(new.or_else(|| wide.is_valid(i).then(|| wide.value(i))));
        }
    }
    let rewritten = LargeStringArray::from(values);
    arrow_cast::cast(&rewritten, col.data_type())
}
