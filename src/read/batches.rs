//! Arrow record batches held in memory as a corpus ([`Corpus::from_arrow`](super::Corpus::from_arrow)):
//! a binding hands over the batches of a table it was given (through the Arrow C stream
//! interface, without a copy) and each row's text is read in place, borrowed from its array.
//! The columns are found and read as a Parquet file's are (the same [`Col`]), so the same rows
//! give the same documents either way.

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use serde_json::{Map, Value};

use super::parquet::Col;
use super::{Fields, MAX_RECORD_BYTES};
use crate::error::RecordError;

/// The text, id, source and date columns of every batch, and where each batch starts.
pub(super) struct Batches {
    /// The columns of the schema, for messages.
    pub header: Vec<String>,
    /// The names of the text, id, source and date columns, where the schema has them.
    names: [Option<String>; 4],
    /// Per batch: its four columns (as `names`) and the index of its first row.
    batches: Vec<([Option<Col>; 4], usize)>,
    rows: usize,
}

impl Batches {
    /// Finds the named columns of `schema` in every batch. The text column must be there, as a
    /// string (or binary) column; the others may be missing, and are cast to strings when they
    /// are not (numbers, dates).
    pub(super) fn new(
        schema: &Schema,
        batches: Vec<RecordBatch>,
        fields: &Fields,
    ) -> Result<Batches, RecordError> {
        let (header, found) = super::parquet::find_columns(schema, fields)?;
        let names = found.map(|c| c.map(|c| header[c].clone()));
        let mut rows = 0;
        let mut out = Vec::with_capacity(batches.len());
        for b in batches {
            let mut cols: [Option<Col>; 4] = Default::default();
            for (col, name) in cols.iter_mut().zip(&names) {
                if let Some(name) = name {
                    let a = b.column_by_name(name).ok_or_else(|| {
                        RecordError::Unreadable(format!("column {name:?} is missing from a batch"))
                    })?;
                    *col =
                        Some(Col::new(a).map_err(|e| {
                            RecordError::Unreadable(format!("column {name:?}: {e}"))
                        })?);
                }
            }
            out.push((cols, rows));
            rows += b.num_rows();
        }
        Ok(Batches {
            header,
            names,
            batches: out,
            rows,
        })
    }

    /// The number of rows.
    pub(super) fn len(&self) -> usize {
        self.rows
    }

    /// Row `row`'s text, id, source and date cells (`None` for a null cell or a missing column).
    pub(super) fn cells(&self, row: usize) -> [Option<&str>; 4] {
        let b = self.batches.partition_point(|(_, start)| *start <= row) - 1;
        let (cols, start) = &self.batches[b];
        let mut out = [None; 4];
        for (cell, col) in out.iter_mut().zip(cols) {
            *cell = col.as_ref().and_then(|c| c.get(row - start));
        }
        out
    }

    /// Why row `row`'s cells cannot make a document, as a Parquet row's: a text longer than a
    /// record may be, or a NUL byte in a cell.
    pub(super) fn check(cells: &[Option<&str>; 4]) -> Result<(), RecordError> {
        if cells[0].is_some_and(|t| t.len() > MAX_RECORD_BYTES) {
            return Err(RecordError::TooLarge(MAX_RECORD_BYTES));
        }
        for s in cells.iter().flatten() {
            if let Some(pos) = memchr::memchr(0, s.as_bytes()) {
                return Err(RecordError::NulByte(pos));
            }
        }
        Ok(())
    }

    /// Row `row` as an object of the columns read (null cells as null), as a Parquet row is
    /// written back.
    pub(super) fn row_object(&self, row: usize) -> Map<String, Value> {
        let cells = self.cells(row);
        let mut obj = Map::new();
        for (name, cell) in self.names.iter().zip(cells) {
            if let Some(name) = name {
                let v = cell.map_or(Value::Null, |s| Value::String(s.into()));
                obj.insert(name.clone(), v);
            }
        }
        obj
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray};

    use crate::error::Error;
    use crate::pipeline::{self, Config, Quiet};
    use crate::read::{Corpus, Entry, Fields, OnError};

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(cols).unwrap()
    }

    fn ids_and_texts(c: &Corpus, fields: &Fields) -> Vec<(String, String)> {
        c.records(fields, OnError::Fail)
            .map(|e| match e.unwrap() {
                Entry::Doc(r) => (r.id, r.text),
                Entry::Skipped { at, error } => panic!("{at}: {error}"),
            })
            .collect()
    }

    #[test]
    fn rows_of_every_batch_in_order_with_ids_cast_and_defaults() {
        let fields = Fields::default();
        let a = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![Some(7), None])) as _),
            ("text", Arc::new(StringArray::from(vec!["one", "two"])) as _),
        ]);
        let b = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![9])) as _),
            ("text", Arc::new(StringArray::from(vec![None::<&str>])) as _),
        ]);
        let c = Corpus::from_arrow(&a.schema(), vec![a.clone(), b], &fields).unwrap();
        let got = ids_and_texts(&c, &fields);
        let want = [("7", "one"), ("<memory>:2", "two"), ("9", "")];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(i, t)| (i.to_string(), t.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn large_strings_and_renamed_columns() {
        let fields = Fields {
            text: "body".into(),
            id: "key".into(),
            ..Fields::default()
        };
        let a = batch(vec![
            ("key", Arc::new(StringArray::from(vec!["x"])) as _),
            ("body", Arc::new(LargeStringArray::from(vec!["hello"])) as _),
        ]);
        let c = Corpus::from_arrow(&a.schema(), vec![a.clone()], &fields).unwrap();
        assert_eq!(ids_and_texts(&c, &fields), [("x".into(), "hello".into())]);
    }

    #[test]
    fn a_missing_or_numeric_text_column_is_an_error_naming_the_columns() {
        let fields = Fields::default();
        let a = batch(vec![("body", Arc::new(StringArray::from(vec!["x"])) as _)]);
        let e = Corpus::from_arrow(&a.schema(), vec![a.clone()], &fields)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "<memory>: no \"text\" field (the record has: body)"
        );
        let a = batch(vec![("text", Arc::new(Int64Array::from(vec![1])) as _)]);
        let e = Corpus::from_arrow(&a.schema(), vec![a.clone()], &fields)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "<memory>: field \"text\" is not a string");
    }

    #[test]
    fn nul_bytes_are_located_and_a_renamed_id_must_exist() {
        let a = batch(vec![(
            "text",
            Arc::new(StringArray::from(vec!["fine", "bad\0"])) as _,
        )]);
        let cfg = Config::default();
        let c = Corpus::from_arrow(&a.schema(), vec![a.clone()], &cfg.fields).unwrap();
        let e = pipeline::scan(&c, &cfg, &Quiet).err().unwrap();
        assert_eq!(
            e.to_string(),
            "<memory>:2: NUL byte at byte 4 (is this a binary file?)"
        );

        let a = batch(vec![(
            "text",
            Arc::new(StringArray::from(vec!["fine"])) as _,
        )]);
        let cfg = Config::builder()
            .fields(Fields {
                id: "doc_id".into(),
                ..Fields::default()
            })
            .build()
            .unwrap();
        let c = Corpus::from_arrow(&a.schema(), vec![a.clone()], &cfg.fields).unwrap();
        let e = pipeline::scan(&c, &cfg, &Quiet).err().unwrap();
        assert!(matches!(e, Error::MissingField { .. }), "{e}");
        assert!(e.to_string().contains("their fields: text"), "{e}");
    }
}
