//! `syndic dedup --attributes DIR`: dolma-style attribute files beside the documents, one line
//! per record, whose spans (in code points, as Python slices strings) mark the duplicates and
//! the boilerplate lines.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

fn ok(args: &[&str]) {
    let out = syndic().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `text[a:b]` as Python slices it (code points).
fn slice(text: &str, a: u64, b: u64) -> String {
    text.chars()
        .skip(a as usize)
        .take((b - a) as usize)
        .collect()
}

/// The spans of one attribute: `[start, end, score]` each.
fn spans(v: &Value) -> Vec<(u64, u64, f64)> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list of spans: {v}"))
        .iter()
        .map(|s| {
            (
                s[0].as_u64().unwrap(),
                s[1].as_u64().unwrap(),
                s[2].as_f64().unwrap(),
            )
        })
        .collect()
}

/// Over Arabic text (and a multi-byte character put before a flagged line), the boilerplate
/// spans are the flagged lines in code points: deleting them from the text gives what
/// `--strip-boilerplate` writes. Folders give the same relative paths under DIR.
#[test]
fn boilerplate_spans_are_code_points_of_the_flagged_lines() {
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    fs::create_dir_all(docs.join("sub")).unwrap();
    let mut rows = read_jsonl(&fixture("boilerplate/corpus.jsonl"));
    // A character of 4 bytes (one code point; two UTF-16 units) at the head of every text.
    for r in &mut rows {
        let t = r["text"].as_str().unwrap();
        r["text"] = Value::from(format!("𝔸 {t}"));
    }
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    fs::write(docs.join("sub/b.jsonl"), &text).unwrap();
    let attrs = dir.path().join("attrs");
    let clean = dir.path().join("clean.jsonl");
    ok(&[
        "dedup",
        "-q",
        "--strip-boilerplate",
        "--annotate",
        "-o",
        arg(&clean),
        "--attributes",
        arg(&attrs),
        arg(&docs),
    ]);
    let got = read_jsonl(&attrs.join("sub/b.jsonl"));
    let stripped = read_jsonl(&clean);
    assert_eq!(got.len(), rows.len(), "one line per record");
    let mut flagged = 0;
    for ((a, r), s) in got.iter().zip(&rows).zip(&stripped) {
        assert_eq!(a["id"], r["id"]);
        let t = r["text"].as_str().unwrap();
        let bp = spans(&a["attributes"]["syndic__boilerplate"]);
        let lines: Vec<&str> = t.split('\n').collect();
        let mut kept = String::new();
        let mut at = 0u64;
        for &(x, y, score) in &bp {
            assert_eq!(score, 1.0);
            let line = slice(t, x, y);
            let bare = line.strip_suffix('\n').unwrap_or(&line);
            assert!(lines.contains(&bare), "{}: {line:?} is a line", r["id"]);
            kept.push_str(&slice(t, at, x));
            at = y;
            flagged += 1;
        }
        kept.push_str(&slice(t, at, t.chars().count() as u64));
        let want = s["text"].as_str().unwrap();
        assert!(
            kept == want || kept.strip_suffix('\n') == Some(want),
            "{}: deleting the spans gives the stripped text",
            r["id"]
        );
    }
    assert!(flagged > 0, "the fixture has boilerplate");
    // A flagged line after the 4-byte character starts at its code-point offset, not its byte
    // offset: some flagged span starts after a line end and the multi-byte head.
    assert!(got
        .iter()
        .any(|a| spans(&a["attributes"]["syndic__boilerplate"])
            .iter()
            .any(|&(x, _, _)| x > 0)));
}

/// `syndic__duplicate` spans the whole text (in code points) of each duplicate, score 1.0, and
/// is empty for the documents kept; Parquet input gives `NAME.parquet.jsonl` with the same lines
/// as its records in JSONL; a record that is no document has no attributes.
#[test]
fn duplicates_span_their_whole_text() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = fixture("syndication/corpus.jsonl");
    let attrs = dir.path().join("attrs");
    let annotated = dir.path().join("a.jsonl");
    ok(&[
        "dedup",
        "-q",
        "--annotate",
        "-o",
        arg(&annotated),
        "--attributes",
        arg(&attrs),
        arg(&corpus),
    ]);
    let got = read_jsonl(&attrs.join("corpus.jsonl"));
    let rows = read_jsonl(&annotated);
    let mut dups = 0;
    for (a, r) in got.iter().zip(&rows) {
        let d = spans(&a["attributes"]["syndic__duplicate"]);
        if r["duplicate_of"].is_null() {
            assert!(d.is_empty(), "{}: kept", r["id"]);
        } else {
            let n = r["text"].as_str().unwrap().chars().count() as u64;
            assert_eq!(d, vec![(0, n, 1.0)], "{}", r["id"]);
            dups += 1;
        }
    }
    assert!(dups > 0);

    // The same records as Parquet (through the conversion example's layout: id, source, date,
    // text) give the same lines.
    let lines: BTreeMap<String, Value> = got
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_string(), a.clone()))
        .collect();
    let pq = dir.path().join("c.parquet");
    to_parquet(&corpus, &pq);
    let attrs2 = dir.path().join("attrs2");
    ok(&[
        "dedup",
        "-q",
        "-o",
        arg(&dir.path().join("k.parquet")),
        "--attributes",
        arg(&attrs2),
        arg(&pq),
    ]);
    let got2 = read_jsonl(&attrs2.join("c.parquet.jsonl"));
    assert_eq!(got2.len(), got.len());
    for a in &got2 {
        assert_eq!(&lines[a["id"].as_str().unwrap()], a);
    }

    // A bad line: a record with no attributes, the lines still aligned.
    let mixed = dir.path().join("mixed.jsonl");
    let mut text = fs::read_to_string(&corpus).unwrap();
    text.insert_str(0, "{\"id\": \"broken\"\n");
    fs::write(&mixed, text).unwrap();
    let attrs3 = dir.path().join("attrs3");
    ok(&[
        "dedup",
        "-q",
        "--on-error",
        "skip",
        "-o",
        arg(&dir.path().join("m.jsonl")),
        "--attributes",
        arg(&attrs3),
        arg(&mixed),
    ]);
    let got3 = read_jsonl(&attrs3.join("mixed.jsonl"));
    assert_eq!(got3[0], serde_json::json!({"id": null, "attributes": {}}));
    assert_eq!(&got3[1..], &got[..]);
}

/// Two inputs that would share an attribute file are an error naming both, before the scan.
#[test]
fn colliding_attribute_files_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = fixture("syndication/corpus.jsonl");
    let other = dir.path().join("corpus.jsonl");
    fs::copy(&corpus, &other).unwrap();
    let out = syndic()
        .args(["dedup", "-q", "-o"])
        .arg(dir.path().join("o.jsonl"))
        .arg("--attributes")
        .arg(dir.path().join("attrs"))
        .arg(&corpus)
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&corpus.display().to_string())
            && err.contains(&other.display().to_string())
            && err.contains("one attribute file"),
        "{err}"
    );
}

/// The syndication records as Parquet (string columns id, source, date, text).
fn to_parquet(jsonl: &Path, out: &Path) {
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use std::sync::Arc;
    let rows = read_jsonl(jsonl);
    let cols: Vec<(&str, ArrayRef)> = ["id", "source", "date", "text"]
        .iter()
        .map(|k| {
            let a: ArrayRef = Arc::new(StringArray::from(
                rows.iter().map(|r| r[*k].as_str()).collect::<Vec<_>>(),
            ));
            (*k, a)
        })
        .collect();
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(fs::File::create(out).unwrap(), batch.schema(), None)
            .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}
