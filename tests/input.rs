//! Real corpora as they come, through the `syndic` binary: empty texts and empty files, folders
//! of shards beside other files, CSV and TSV, nested and missing fields.

mod common;

use common::*;
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

fn ids_of(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| str_of(r, "id").to_string()).collect()
}

// --- empty texts -------------------------------------------------------------------------------

/// The empty texts of `fixtures/empty` are documents under the default policy: counted, in no
/// cluster (not even with one another), kept by `dedup`, and annotated in their rows.
#[test]
fn empty_texts_are_documents_that_are_never_clustered() {
    let corpus = fixture("empty/corpus.jsonl");
    let report = scan(&[arg(&corpus)]);
    let stats = &report["stats"];
    assert_eq!(stats["documents"], 7, "{stats}");
    assert_eq!(stats["empty_documents"], 4, "{stats}");
    assert_eq!(stats["skipped"]["total"], 0, "{stats}");
    assert_eq!(stats["exact_duplicates"], 0, "{stats}");
    let want: std::collections::BTreeSet<_> =
        [["e1", "e3"].iter().map(|s| s.to_string()).collect()].into();
    assert_eq!(cluster_sets(&report), want);

    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl");
    let (code, _, err) = run(&["dedup", "-q", "-o", arg(&clean), arg(&corpus)]);
    assert_eq!(code, Some(0), "{err}");
    // The longer copy is kept (--keep longest); every empty row is kept.
    assert_eq!(
        ids_of(&read_jsonl(&clean)),
        ["e2", "e3", "e4", "e5", "e6", "e7"],
        "the empty rows are kept"
    );
    let annotated = dir.path().join("annotated.jsonl");
    let (code, _, err) = run(&[
        "dedup",
        "-q",
        "--annotate",
        "-o",
        arg(&annotated),
        arg(&corpus),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let rows = read_jsonl(&annotated);
    assert_eq!(
        ids_of(&rows),
        corpus_ids(&corpus),
        "one row per record, in order"
    );
    for r in &rows {
        let empty = r["text"].as_str().unwrap().trim().is_empty();
        if empty {
            assert_eq!(r["cluster_id"], Value::Null, "{r}");
            assert_eq!(r["duplicate_of"], Value::Null, "{r}");
        }
    }
}
