//! Parquet input through the `syndic` binary: files written here from the syndication fixture
//! (string, large string and string-view columns, no id column, several row groups, snappy and
//! zstd) give the JSONL corpus's report; folders of shards, missing columns, broken files, and
//! `dedup` writing the kept rows.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_schema::{DataType, Field, Schema};
use common::*;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::Value;

/// Runs `syndic` with `args`; the exit code, stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = syndic().args(args).output().expect("syndic runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn corpus() -> Vec<Value> {
    read_jsonl(&fixture("syndication/corpus.jsonl"))
}

/// One column of the records' `key`, as `kind` (null where a record lacks it).
fn column(rows: &[Value], key: &str, kind: &DataType) -> ArrayRef {
    let cells: Vec<Option<&str>> = rows.iter().map(|r| r[key].as_str()).collect();
    match kind {
        DataType::Utf8 => Arc::new(StringArray::from(cells)),
        DataType::LargeUtf8 => Arc::new(LargeStringArray::from(cells)),
        DataType::Utf8View => Arc::new(StringViewArray::from(cells)),
        _ => unreachable!("a string type"),
    }
}

/// Writes `rows` to `path` as Parquet, the columns `keys` as `kind`.
fn write_parquet(
    path: &Path,
    rows: &[Value],
    keys: &[&str],
    kind: DataType,
    props: Option<WriterProperties>,
) {
    let fields: Vec<Field> = keys
        .iter()
        .map(|k| Field::new(*k, kind.clone(), true))
        .collect();
    let cols = keys.iter().map(|k| column(rows, k, &kind)).collect();
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    write_batch(path, &batch, props);
}

fn write_batch(path: &Path, batch: &RecordBatch, props: Option<WriterProperties>) {
    let f = fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), props).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

const ALL: &[&str] = &["id", "source", "date", "text"];

/// The syndication records as Parquet, with string, large string and string-view columns, and
/// in several snappy or zstd row groups, give the JSONL corpus's report (all but `run`).
#[test]
fn parquet_gives_the_report_of_the_same_records_in_jsonl() {
    let jsonl = without_run(scan(&[arg(&fixture("syndication/corpus.jsonl"))]));
    assert!(!clusters(&jsonl).is_empty());
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let small = |c| {
        Some(
            WriterProperties::builder()
                .set_max_row_group_row_count(Some(4))
                .set_compression(c)
                .build(),
        )
    };
    let cases = [
        ("utf8.parquet", DataType::Utf8, None),
        ("large.parquet", DataType::LargeUtf8, None),
        ("view.parquet", DataType::Utf8View, None),
        ("snappy.parquet", DataType::Utf8, small(Compression::SNAPPY)),
        (
            "zstd.parquet",
            DataType::Utf8View,
            small(Compression::ZSTD(ZstdLevel::default())),
        ),
    ];
    for (name, kind, props) in cases {
        let p = dir.path().join(name);
        write_parquet(&p, &rows, ALL, kind, props);
        let got = without_run(scan(&[arg(&p)]));
        assert_eq!(got, jsonl, "{name}");
    }
    // Several row groups indeed.
    let f = fs::File::open(dir.path().join("snappy.parquet")).unwrap();
    let r = parquet::file::serialized_reader::SerializedFileReader::new(f).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(r.metadata().num_row_groups(), rows.len().div_ceil(4));
}

/// Without an id column the ids are FILE:ROW (rows counted from 1): the clusters are the JSONL
/// corpus's, named by row. Numbers in the id column are read as strings, as in JSONL.
#[test]
fn ids_default_to_file_and_row_and_may_be_numbers() {
    let jsonl = without_run(scan(&[arg(&fixture("syndication/corpus.jsonl"))]));
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("noid.parquet");
    write_parquet(&p, &rows, &["source", "date", "text"], DataType::Utf8, None);
    let got = scan(&[arg(&p)]);
    // The same clusters, the ids FILE:ROW standing for the JSONL ids (the representative of
    // exact copies, chosen by id among equals, may differ).
    let row_of = |id: &str| rows.iter().position(|r| r["id"] == id).unwrap() + 1;
    let by_row = |name: &dyn Fn(usize) -> String| -> BTreeSet<BTreeSet<String>> {
        cluster_sets(&jsonl)
            .into_iter()
            .map(|c| c.iter().map(|id| name(row_of(id))).collect())
            .collect()
    };
    assert_eq!(
        cluster_sets(&got),
        by_row(&|n| format!("{}:{n}", p.display()))
    );
    assert_eq!(got["stats"], jsonl["stats"]);

    // Numeric ids: the same clusters as ids "1", "2", ...
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(1..=rows.len() as i64));
    let mut fields = vec![Field::new("id", DataType::Int64, false)];
    let mut cols = vec![ids];
    for k in ["source", "date", "text"] {
        fields.push(Field::new(k, DataType::Utf8, true));
        cols.push(column(&rows, k, &DataType::Utf8));
    }
    let num = dir.path().join("num.parquet");
    write_batch(
        &num,
        &RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap(),
        None,
    );
    let got = scan(&[arg(&num)]);
    assert_eq!(cluster_sets(&got), by_row(&|n| n.to_string()));
    assert_eq!(got["stats"], jsonl["stats"]);
}

/// A null text is an empty document; a missing text column is an error naming the file and
/// listing its columns; another column named by an option must exist.
#[test]
fn null_texts_and_missing_columns() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = corpus();
    rows[0]["text"] = Value::Null;
    let p = dir.path().join("nulls.parquet");
    write_parquet(&p, &rows, ALL, DataType::Utf8, None);
    let rep = scan(&[arg(&p)]);
    assert_eq!(rep["stats"]["documents"], rows.len(), "{}", rep["stats"]);
    assert_eq!(rep["stats"]["empty_documents"], 1, "{}", rep["stats"]);

    let (code, _, err) = run(&["scan", "-q", "--text-field", "body", arg(&p)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "syndic: error: {}: no \"body\" field (the record has: id, source, date, text)",
            p.display()
        )),
        "{err}"
    );
    let (code, _, err) = run(&["scan", "-q", "--id-field", "key", arg(&p)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("id field \"key\""), "{err}");
    assert!(err.contains("id, source, date, text"), "{err}");
}

/// A folder of Parquet shards beside a README reads the shards only, in order: the report of
/// the whole corpus.
#[test]
fn a_folder_of_shards_reads_the_shards() {
    let jsonl = without_run(scan(&[arg(&fixture("syndication/corpus.jsonl"))]));
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let half = rows.len() / 2;
    write_parquet(
        &dir.path().join("part-0.parquet"),
        &rows[..half],
        ALL,
        DataType::Utf8,
        None,
    );
    write_parquet(
        &dir.path().join("part-1.parquet"),
        &rows[half..],
        ALL,
        DataType::LargeUtf8,
        None,
    );
    fs::write(dir.path().join("README.md"), "About these shards.\n").unwrap();
    let mut got = without_run(scan(&[arg(dir.path())]));
    let stats = got["stats"].as_object_mut().unwrap();
    assert_eq!(stats.remove("files_read"), Some(2.into()));
    let skipped = stats.remove("files_skipped").unwrap();
    assert_eq!(skipped["by_reason"]["not_records"], 1, "{skipped}");
    let mut want = jsonl;
    let stats = want["stats"].as_object_mut().unwrap();
    stats.remove("files_read");
    stats.remove("files_skipped");
    assert_eq!(got, want);
}

/// A truncated file is an error naming it; under --on-error skip it is counted, and the other
/// inputs are read.
#[test]
fn a_truncated_file_is_an_error_or_a_skipped_record() {
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.parquet");
    write_parquet(&good, &rows, ALL, DataType::Utf8, None);
    let bytes = fs::read(&good).unwrap();
    let bad = dir.path().join("bad.parquet");
    fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let (code, _, err) = run(&["scan", "-q", arg(&bad)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "syndic: error: {}: cannot read as Parquet",
            bad.display()
        )),
        "{err}"
    );
    let rep = scan(&["--on-error", "skip", arg(&bad), arg(&good)]);
    let s = &rep["stats"];
    assert_eq!(s["skipped"]["by_reason"]["bad_parquet"], 1, "{s}");
    assert_eq!(s["documents"], rows.len(), "{s}");

    // A corrupt page inside a row group: one error naming the row group, then the next groups.
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(8))
        .set_compression(Compression::SNAPPY)
        .build();
    let p = dir.path().join("groups.parquet");
    write_parquet(&p, &rows, ALL, DataType::Utf8, Some(props));
    let mut data = fs::read(&p).unwrap();
    // Overwrite the middle of the first row group's data (after the "PAR1" magic).
    for b in &mut data[40..400] {
        *b = 0xAB;
    }
    let broken = dir.path().join("broken.parquet");
    fs::write(&broken, &data).unwrap();
    let (code, _, err) = run(&["scan", "-q", arg(&broken)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "syndic: error: {}:1: cannot read as Parquet: row group 1 of 3",
            broken.display()
        )),
        "{err}"
    );
    let rep = scan(&["--on-error", "skip", arg(&broken)]);
    let s = &rep["stats"];
    assert_eq!(s["skipped"]["total"], 1, "{s}");
    assert_eq!(s["documents"], rows.len() - 8, "{s}");
}

/// `dedup` of a Parquet file writes the kept rows as JSONL objects of the columns read: the
/// rows and texts that the JSONL corpus's dedup keeps.
#[test]
fn dedup_writes_the_kept_rows() {
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.parquet");
    write_parquet(&p, &rows, ALL, DataType::Utf8View, None);
    let from_pq = dir.path().join("from_pq.jsonl");
    let from_jsonl = dir.path().join("from_jsonl.jsonl");
    for (input, out) in [
        (p.clone(), &from_pq),
        (fixture("syndication/corpus.jsonl"), &from_jsonl),
    ] {
        let (code, _, err) = run(&["dedup", "-q", "-o", arg(out), arg(&input)]);
        assert_eq!(code, Some(0), "{err}");
    }
    let (a, b) = (read_jsonl(&from_pq), read_jsonl(&from_jsonl));
    assert!(a.len() < rows.len());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        for k in ALL {
            assert_eq!(x[k], y[k], "{k}");
        }
    }
}

/// A small Parquet file of `n` rows in groups of 3, snappy or not, in memory.
fn small_file(n: usize, snappy: bool) -> Vec<u8> {
    let rows: Vec<Value> = (0..n)
        .map(|i| serde_json::json!({"id": format!("d{i}"), "text": format!("text {i} مرحبا")}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.parquet");
    let c = if snappy {
        Compression::SNAPPY
    } else {
        Compression::UNCOMPRESSED
    };
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(3))
        .set_compression(c)
        .build();
    write_parquet(&p, &rows, &["id", "text"], DataType::Utf8, Some(props));
    fs::read(&p).unwrap()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// A Parquet file cut anywhere or with bytes overwritten never panics the reader: each row
    /// is a document or accounted for by a skipped record, under either error policy.
    #[test]
    fn damaged_files_are_errors_never_panics(
        n in 1usize..10,
        snappy in proptest::prelude::any::<bool>(),
        cut in 0.0f64..1.0,
        at in 0.0f64..1.0,
        junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..16),
    ) {
        use syndic::read::{read_bytes, Entry, Fields, OnError};
        let full = small_file(n, snappy);
        let mut hit = full.clone();
        let start = ((hit.len() - 1) as f64 * at) as usize;
        for (b, j) in hit[start..].iter_mut().zip(&junk) {
            *b = *j;
        }
        let cut_at = (full.len() as f64 * cut) as usize;
        for data in [&full[..cut_at], &hit[..], &full[..]] {
            let fields = Fields::default();
            let skip = read_bytes("p.parquet", data, &fields, OnError::Skip);
            let fail = read_bytes("p.parquet", data, &fields, OnError::Fail);
            let first_bad = skip
                .iter()
                .position(|e| !matches!(e, Ok(Entry::Doc(_))))
                .unwrap_or(skip.len());
            proptest::prop_assert_eq!(fail.len(), (first_bad + 1).min(skip.len()));
            for e in &skip {
                proptest::prop_assert!(e.is_ok());
            }
            if data.len() == full.len() && data == &full[..] {
                proptest::prop_assert_eq!(skip.len(), n);
            }
        }
    }
}
