//! Writes a JSONL corpus as Parquet (snappy), its `id`, `source`, `date` and `text` fields as
//! string columns: to compare `syndic scan` on the same records in both formats.
//!
//! `cargo run --release --example jsonl_to_parquet -- corpus.jsonl corpus.parquet`

use std::io::BufRead;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

const KEYS: [&str; 4] = ["id", "source", "date", "text"];
const BATCH: usize = 8192;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: jsonl_to_parquet IN.jsonl OUT.parquet".into());
    };
    let schema = Arc::new(Schema::new(
        KEYS.iter()
            .map(|k| Field::new(*k, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let out = std::fs::File::create(output)?;
    let mut w = ArrowWriter::try_new(out, schema.clone(), Some(props))?;
    let mut cols: Vec<StringBuilder> = KEYS.iter().map(|_| StringBuilder::new()).collect();
    let mut rows = 0usize;
    let flush = |cols: &mut Vec<StringBuilder>, w: &mut ArrowWriter<std::fs::File>| {
        let arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as _).collect();
        w.write(&RecordBatch::try_new(schema.clone(), arrays)?)
    };
    for line in std::io::BufReader::new(std::fs::File::open(input)?).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        for (b, k) in cols.iter_mut().zip(KEYS) {
            match &v[k] {
                serde_json::Value::String(s) => b.append_value(s),
                serde_json::Value::Null => b.append_null(),
                other => b.append_value(other.to_string()),
            }
        }
        rows += 1;
        if rows % BATCH == 0 {
            flush(&mut cols, &mut w)?;
        }
    }
    flush(&mut cols, &mut w)?;
    w.close()?;
    eprintln!("{rows} rows written to {output}");
    Ok(())
}
