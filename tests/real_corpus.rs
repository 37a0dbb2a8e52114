//! A run over the real corpus (SaudiNewsNet, 31,030 Arabic articles), read from
//! `../shared/corpus/saudinewsnet.jsonl.gz` beside the crate or from `$SYNDIC_REAL_CORPUS`. The
//! corpus is never part of the repository: without it the test says so and passes.
//!
//! About a minute in a debug build, hence ignored by default:
//!
//!     cargo test --release --test real_corpus -- --ignored
//!
//! It asserts only facts that hold whatever the tuning: the run succeeds with default options
//! (the corpus's empty texts are documents, not errors), every record is a document, and no
//! cluster is a giant chain of unrelated articles.

mod common;

use common::*;

const RECORDS: u64 = 31_030;
const GIANT: u64 = 500;

#[test]
#[ignore = "reads the 31k-article real corpus: about a minute in a debug build"]
fn real_corpus_runs_and_has_no_giant_cluster() {
    let Some(path) = real_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    // Some articles of the corpus have no text: they are empty documents, under the default
    // policy.
    syndic()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(&path)
        .assert()
        .success();
    let report = read_json(&out);
    let stats = &report["stats"];
    assert_eq!(stats["documents"], RECORDS, "{stats}");
    assert_eq!(stats["skipped"]["total"], 0, "{stats}");
    let empty = stats["empty_documents"].as_u64().unwrap();
    assert!(empty > 0 && empty < RECORDS / 10, "{stats}");
    let largest = clusters(&report)
        .iter()
        .map(|c| c["size"].as_u64().unwrap())
        .max()
        .unwrap_or(0);
    assert!(largest <= GIANT, "a cluster of {largest} documents");
    // Papers reprint wire copy: a real corpus has copies.
    assert!(!clusters(&report).is_empty());
}
