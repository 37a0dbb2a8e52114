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
    Array, ArrayRef, Int64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
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

/// A damaged page on which parquet 59's decoder panics (a dictionary index bit width out of
/// range, apache/arrow-rs#10722; found by the property test above): the row group is one
/// skipped record naming the file, and no panic leaves the reader.
#[test]
fn a_page_that_panics_the_decoder_is_a_skipped_record() {
    use syndic::read::{read_bytes, Entry, Fields, OnError};
    let mut hit = small_file(7, true);
    let start = ((hit.len() - 1) as f64 * 0.12579562291626642) as usize;
    hit[start] = 1;
    hit[start + 1] = 33;
    let skip = read_bytes("p.parquet", &hit, &Fields::default(), OnError::Skip);
    let skipped: Vec<_> = skip
        .iter()
        .filter_map(|e| match e {
            Ok(Entry::Skipped { error, .. }) => Some(error.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        skipped.iter().any(|e| e.contains("damaged")),
        "a skipped record says the data is damaged: {skipped:?}"
    );
    let fail = read_bytes("p.parquet", &hit, &Fields::default(), OnError::Fail);
    assert!(fail.iter().any(|e| e.is_err()), "fail stops at the damage");

    // The command: the row group is counted as skipped, no "internal error", exit 0.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.parquet");
    std::fs::write(&path, &hit).unwrap();
    let out = syndic()
        .args(["scan", "-q", "--on-error", "skip"])
        .arg(&path)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(!stderr.contains("internal error"), "{stderr}");
    let report = parse_json(&out.get_output().stdout, "the report");
    assert!(
        report["stats"]["skipped"]["total"].as_u64().unwrap() >= 1,
        "{}",
        report["stats"]
    );
}

// ---- Parquet output ------------------------------------------------------------------------

/// The syndication records as Parquet with columns of many types besides the text: a row
/// number (Int64), a float, a list of strings, a timestamp with a time zone and a struct, in
/// row groups of 5 rows.
fn rich_batch(rows: &[Value]) -> RecordBatch {
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{Float64Array, Int32Array, StructArray, TimestampMicrosecondArray};
    let n = rows.len();
    let mut tags = ListBuilder::new(StringBuilder::new());
    for (i, r) in rows.iter().enumerate() {
        tags.values()
            .append_value(r["source"].as_str().unwrap_or("none"));
        if i % 3 == 0 {
            tags.values().append_value("third");
        }
        tags.append(i % 7 != 6);
    }
    let inner = StructArray::from(vec![
        (
            Arc::new(Field::new("a", DataType::Int32, false)),
            Arc::new(Int32Array::from_iter_values((0..n as i32).map(|i| i * 10))) as ArrayRef,
        ),
        (
            Arc::new(Field::new("b", DataType::Utf8, true)),
            Arc::new(StringArray::from_iter(
                (0..n).map(|i| (i % 2 == 0).then(|| format!("b{i}"))),
            )) as ArrayRef,
        ),
    ]);
    let ts = TimestampMicrosecondArray::from_iter_values(
        (0..n as i64).map(|i| 1_446_336_000_000_000 + i * 3_600_000_000),
    )
    .with_timezone("UTC");
    let cols: Vec<(&str, ArrayRef)> = vec![
        ("n", Arc::new(Int64Array::from_iter_values(0..n as i64))),
        ("id", column(rows, "id", &DataType::Utf8)),
        (
            "score",
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| i as f64 / 4.0),
            )),
        ),
        ("text", column(rows, "text", &DataType::LargeUtf8)),
        ("tags", Arc::new(tags.finish())),
        ("source", column(rows, "source", &DataType::Utf8View)),
        ("when", Arc::new(ts)),
        ("meta", Arc::new(inner)),
        ("date", column(rows, "date", &DataType::Utf8)),
    ];
    RecordBatch::try_from_iter(cols).unwrap()
}

fn groups_of(rows: usize) -> Option<WriterProperties> {
    Some(
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(rows))
            .build(),
    )
}

/// Every row of a Parquet file, as one batch.
fn read_parquet(path: &Path) -> RecordBatch {
    let f = fs::File::open(path).unwrap();
    let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap();
    let schema = arrow_array::RecordBatchReader::schema(&r);
    let batches: Vec<RecordBatch> = r.map(Result::unwrap).collect();
    arrow_select::concat::concat_batches(&schema, &batches).unwrap()
}

/// The rows `rows` (indexes) of `batch`, in that order.
fn take_rows(batch: &RecordBatch, rows: &[usize]) -> RecordBatch {
    let idx = arrow_array::UInt32Array::from_iter_values(rows.iter().map(|&i| i as u32));
    arrow_select::take::take_record_batch(batch, &idx).unwrap()
}

/// The strings of a column (null as None).
fn strings_of(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = arrow_cast::cast(batch.column_by_name(name).unwrap(), &DataType::Utf8).unwrap();
    let s = c.as_any().downcast_ref::<StringArray>().unwrap();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
        .collect()
}

fn ok(args: &[&str]) {
    let (code, _, err) = run(args);
    assert_eq!(code, Some(0), "{args:?}: {err}");
}

/// `dedup in.parquet -o out.parquet` keeps every column with its type and in its order, and the
/// rows that the JSONL corpus's dedup keeps, in input order; a folder of shards gives the same
/// single file.
#[test]
fn parquet_output_keeps_every_column_and_the_kept_rows() {
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let input = rich_batch(&rows);
    let p = dir.path().join("rich.parquet");
    write_batch(&p, &input, groups_of(5));
    let out = dir.path().join("out.parquet");
    ok(&["dedup", "-q", "-o", arg(&out), arg(&p)]);
    let from_jsonl = dir.path().join("kept.jsonl");
    ok(&[
        "dedup",
        "-q",
        "-o",
        arg(&from_jsonl),
        arg(&fixture("syndication/corpus.jsonl")),
    ]);
    let kept_ids: Vec<String> = read_jsonl(&from_jsonl)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(kept_ids.len() < rows.len());
    let kept_rows: Vec<usize> = kept_ids
        .iter()
        .map(|id| rows.iter().position(|r| r["id"] == id.as_str()).unwrap())
        .collect();
    assert!(kept_rows.windows(2).all(|w| w[0] < w[1]), "in input order");
    let got = read_parquet(&out);
    assert_eq!(
        got.schema().fields(),
        input.schema().fields(),
        "names, types, order"
    );
    let want = take_rows(&input, &kept_rows);
    assert_eq!(got.columns(), want.columns());

    // Shards in a folder: one file with the same rows.
    let shards = dir.path().join("shards");
    fs::create_dir(&shards).unwrap();
    let half = rows.len() / 2;
    write_batch(&shards.join("part-0.parquet"), &input.slice(0, half), None);
    write_batch(
        &shards.join("part-1.parquet"),
        &input.slice(half, rows.len() - half),
        None,
    );
    let joined = dir.path().join("joined.parquet");
    ok(&["dedup", "-q", "-o", arg(&joined), arg(&shards)]);
    let got = read_parquet(&joined);
    let want: Vec<usize> = kept_rows.clone();
    // The ids of rows in the second shard default to nothing different: the id column is there.
    assert_eq!(got.columns(), take_rows(&input, &want).columns());
}

/// `--annotate` keeps every row and appends minhash_cluster_id, minhash_cluster_size (Int64)
/// and duplicate_of (Utf8), with the values that annotated JSONL has for the same records.
#[test]
fn parquet_annotations_equal_the_jsonl_ones() {
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let input = rich_batch(&rows);
    let p = dir.path().join("rich.parquet");
    write_batch(&p, &input, groups_of(4));
    let out = dir.path().join("annotated.parquet");
    ok(&["dedup", "-q", "--annotate", "-o", arg(&out), arg(&p)]);
    let jsonl = dir.path().join("annotated.jsonl");
    ok(&[
        "dedup",
        "-q",
        "--annotate",
        "-o",
        arg(&jsonl),
        arg(&fixture("syndication/corpus.jsonl")),
    ]);
    let want = read_jsonl(&jsonl);
    let got = read_parquet(&out);
    let schema = got.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut expect: Vec<&str> = input
        .schema_ref()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    expect.extend(["minhash_cluster_id", "minhash_cluster_size", "duplicate_of"]);
    assert_eq!(names, expect);
    assert_eq!(schema.field(names.len() - 3).data_type(), &DataType::Int64);
    assert_eq!(schema.field(names.len() - 2).data_type(), &DataType::Int64);
    assert_eq!(schema.field(names.len() - 1).data_type(), &DataType::Utf8);
    let n = input.num_columns();
    assert_eq!(&got.columns()[..n], input.columns(), "every row, unchanged");
    let int = |c: usize| -> Vec<i64> {
        let a = got.column(c).as_any().downcast_ref::<Int64Array>().unwrap();
        a.values().to_vec()
    };
    let (cid, size, dup) = (int(n), int(n + 1), strings_of(&got, "duplicate_of"));
    assert!(cid.iter().any(|&c| c >= 0) && dup.iter().any(Option::is_some));
    for (i, w) in want.iter().enumerate() {
        assert_eq!(Some(cid[i]), w["minhash_cluster_id"].as_i64(), "row {i}");
        assert_eq!(Some(size[i]), w["minhash_cluster_size"].as_i64(), "row {i}");
        assert_eq!(dup[i].as_deref(), w["duplicate_of"].as_str(), "row {i}");
    }
}

/// A column that annotating would write is an error naming the file and the column (no output
/// is left); `--annotate-prefix` names other columns. Rows that are no document (a NUL byte in
/// the text, a duplicate id) are kept with a skip_reason column under --on-error skip.
#[test]
fn parquet_annotations_refuse_existing_columns_and_give_skip_reasons() {
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let mut with_dup = rows.clone();
    for r in &mut with_dup {
        r["duplicate_of"] = Value::from("theirs");
    }
    let p = dir.path().join("has.parquet");
    write_parquet(
        &p,
        &with_dup,
        &["id", "text", "duplicate_of"],
        DataType::Utf8,
        None,
    );
    let out = dir.path().join("a.parquet");
    let (code, _, err) = run(&["dedup", "-q", "--annotate", "-o", arg(&out), arg(&p)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("{}: ", p.display()))
            && err.contains("\"duplicate_of\"")
            && err.contains("--annotate-prefix"),
        "{err}"
    );
    assert!(!out.exists());
    ok(&[
        "dedup",
        "-q",
        "--annotate",
        "--annotate-prefix",
        "syndic_",
        "-o",
        arg(&out),
        arg(&p),
    ]);
    let got = read_parquet(&out);
    assert_eq!(got.num_columns(), 6);
    assert_eq!(
        strings_of(&got, "duplicate_of")[0].as_deref(),
        Some("theirs")
    );
    assert!(got.column_by_name("syndic_minhash_cluster_id").is_some());

    // Skipped rows, with their reasons.
    let mut bad = rows[..6].to_vec();
    bad[2]["text"] = Value::from("a NUL \0 byte");
    bad.push(rows[0].clone());
    let p = dir.path().join("bad.parquet");
    write_parquet(&p, &bad, ALL, DataType::Utf8, None);
    let out = dir.path().join("bad-annotated.parquet");
    ok(&[
        "dedup",
        "-q",
        "--on-error",
        "skip",
        "--annotate",
        "-o",
        arg(&out),
        arg(&p),
    ]);
    let got = read_parquet(&out);
    assert_eq!(got.num_rows(), bad.len());
    let reasons = strings_of(&got, "skip_reason");
    let mut want = vec![None; bad.len()];
    want[2] = Some("nul_byte".to_string());
    want[6] = Some("duplicate_id".to_string());
    assert_eq!(reasons, want);
    // Without --annotate they are left out (and written with --removed).
    let kept = dir.path().join("bad-kept.parquet");
    let gone = dir.path().join("bad-gone.parquet");
    ok(&[
        "dedup",
        "-q",
        "--on-error",
        "skip",
        "-o",
        arg(&kept),
        "--removed",
        arg(&gone),
        arg(&p),
    ]);
    assert_eq!(
        read_parquet(&kept).num_rows() + read_parquet(&gone).num_rows(),
        bad.len()
    );
    assert_eq!(
        strings_of(&read_parquet(&gone), "text")[0].as_deref(),
        Some("a NUL \0 byte")
    );
}

/// `--removed` writes the rows dedup drops: with the kept rows, the input (as Parquet, and as
/// JSONL line for line).
#[test]
fn kept_and_removed_rows_are_the_input() {
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let input = rich_batch(&rows);
    let p = dir.path().join("rich.parquet");
    write_batch(&p, &input, groups_of(5));
    let (kept, gone) = (dir.path().join("k.parquet"), dir.path().join("r.parquet"));
    ok(&[
        "dedup",
        "-q",
        "-o",
        arg(&kept),
        "--removed",
        arg(&gone),
        arg(&p),
    ]);
    let (k, r) = (read_parquet(&kept), read_parquet(&gone));
    assert!(k.num_rows() > 0 && r.num_rows() > 0);
    assert_eq!(r.schema().fields(), input.schema().fields());
    let both = arrow_select::concat::concat_batches(&input.schema(), [&k, &r]).unwrap();
    // Back in input order by the row number column.
    let n = both
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let mut order: Vec<usize> = (0..both.num_rows()).collect();
    order.sort_by_key(|&i| n.value(i));
    assert_eq!(take_rows(&both, &order).columns(), input.columns());

    let corpus = fixture("syndication/corpus.jsonl");
    let (kept, gone) = (dir.path().join("k.jsonl"), dir.path().join("r.jsonl"));
    ok(&[
        "dedup",
        "-q",
        "-o",
        arg(&kept),
        "--removed",
        arg(&gone),
        arg(&corpus),
    ]);
    let lines = |p: &Path| -> Vec<String> {
        fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let mut all = lines(&kept);
    all.extend(lines(&gone));
    all.sort();
    let mut want = lines(&corpus);
    want.sort();
    assert_eq!(all, want, "byte for byte");
}

/// `--strip-boilerplate` rewrites the text column of Parquet output as it rewrites JSONL texts.
#[test]
fn parquet_output_strips_boilerplate_like_jsonl() {
    let rows = read_jsonl(&fixture("boilerplate/corpus.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.parquet");
    write_parquet(&p, &rows, ALL, DataType::Utf8View, groups_of(3));
    let out = dir.path().join("b-clean.parquet");
    ok(&[
        "dedup",
        "-q",
        "--strip-boilerplate",
        "-o",
        arg(&out),
        arg(&p),
    ]);
    let jsonl = dir.path().join("b-clean.jsonl");
    ok(&[
        "dedup",
        "-q",
        "--strip-boilerplate",
        "-o",
        arg(&jsonl),
        arg(&fixture("boilerplate/corpus.jsonl")),
    ]);
    let want = read_jsonl(&jsonl);
    let got = read_parquet(&out);
    assert_eq!(got.schema().field(3).data_type(), &DataType::Utf8View);
    let texts = strings_of(&got, "text");
    assert_eq!(texts.len(), want.len());
    let mut changed = 0;
    for (t, w) in texts.iter().zip(&want) {
        assert_eq!(t.as_deref(), w["text"].as_str(), "{}", w["id"]);
        let orig = rows.iter().find(|r| r["id"] == w["id"]).unwrap();
        changed += usize::from(orig["text"] != w["text"]);
    }
    assert!(changed > 0, "some lines were stripped");
}

/// Output formats that the input cannot be written in are errors that say what to do, before
/// the scan, and leave no output.
#[test]
fn parquet_output_mismatches_are_clear_errors() {
    let rows = corpus();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.parquet");
    let jsonl = fixture("syndication/corpus.jsonl");
    let (code, _, err) = run(&["dedup", "-q", "-o", arg(&out), arg(&jsonl)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "cannot write {} as Parquet: {} is not Parquet",
            out.display(),
            jsonl.display()
        )) && err.contains("name the output .jsonl"),
        "{err}"
    );
    // Shards of two schemas.
    let shards = dir.path().join("shards");
    fs::create_dir(&shards).unwrap();
    write_parquet(
        &shards.join("a.parquet"),
        &rows[..5],
        ALL,
        DataType::Utf8,
        None,
    );
    write_parquet(
        &shards.join("b.parquet"),
        &rows[5..],
        ALL,
        DataType::LargeUtf8,
        None,
    );
    let (code, _, err) = run(&["dedup", "-q", "-o", arg(&out), arg(&shards)]);
    assert_eq!(code, Some(1), "{err}");
    let b = shards.join("b.parquet");
    assert!(
        err.contains(&format!("{} does not have the columns of", b.display()))
            && err.contains("column 1 is \"id\" (LargeUtf8) there but \"id\" (Utf8)"),
        "{err}"
    );
    // Compressed Parquet, a removed file of another format, --removed with --annotate.
    let a = shards.join("a.parquet");
    let gz = dir.path().join("out.parquet.gz");
    let (code, _, err) = run(&["dedup", "-q", "-o", arg(&gz), arg(&a)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("Parquet compresses its own pages"), "{err}");
    let r = dir.path().join("removed.jsonl");
    let (code, _, err) = run(&[
        "dedup",
        "-q",
        "-o",
        arg(&out),
        "--removed",
        arg(&r),
        arg(&a),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("both .parquet, or neither"), "{err}");
    let (code, _, err) = run(&[
        "dedup",
        "-q",
        "--annotate",
        "-o",
        arg(&out),
        "--removed",
        arg(&r),
        arg(&a),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--removed"), "{err}");
    assert!(!out.exists() && !r.exists() && !gz.exists());
}
