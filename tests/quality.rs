//! Tests that guard the quality of the clusters and the boilerplate flags, scored by `syndic eval`
//! against ground truth, with floors a regression would break:
//!
//! - the synthetic 2,000-document corpus of `fixtures/bench/` against its generator's story
//!   labels;
//! - the labelled pairs and lines of `devset/` on the real corpus (SaudiNewsNet), read from
//!   `../shared/corpus/saudinewsnet.jsonl.gz` beside the crate or from `$SYNDIC_REAL_CORPUS`;
//!   without it the test says so and passes.
//!
//! The floors sit a little under the figures of the defaults (README "Accuracy" gives those and
//! the commands behind them), so that a change that loses copies or merges different stories
//! fails here.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// `syndic eval --json --truth TRUTH REPORT`.
fn eval(report: &Path, truth: &Path) -> Value {
    let out = syndic()
        .args(["eval", "--json", "--truth"])
        .arg(truth)
        .arg(report)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "syndic eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json(&out.stdout, "syndic eval --json")
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

#[test]
fn synthetic_news_clusters_score_above_floors() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    syndic()
        .args(["scan", "-q", "-o"])
        .arg(&report)
        .arg(fixture("bench/news2k.jsonl.gz"))
        .assert()
        .success();
    let s = eval(&report, &fixture("bench/news2k.truth.jsonl.gz"));
    assert!(num(&s, "precision") >= 0.99, "{s}");
    assert!(num(&s, "f1") >= 0.99, "{s}");
    assert!(num(&s, "ari") >= 0.99, "{s}");
}

#[test]
fn development_set_scores_above_floors() {
    let Some(corpus) = real_corpus() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let annotations = dir.path().join("annotations.jsonl");
    syndic()
        .args(["scan", "-q", "--on-error", "skip", "-o"])
        .arg(&report)
        .arg("--annotations")
        .arg(&annotations)
        .arg(&corpus)
        .assert()
        .success();
    let pairs = eval(&report, &root().join("devset/pairs.jsonl"));
    assert!(num(&pairs, "precision") >= 0.97, "{pairs}");
    assert!(num(&pairs, "recall_copy_rewrite") >= 0.94, "{pairs}");
    assert!(num(&pairs, "f1") >= 0.958, "{pairs}");
    let lines = eval(&annotations, &root().join("devset/lines.jsonl"));
    assert!(num(&lines, "precision") >= 0.94, "{lines}");
    assert!(num(&lines, "recall") >= 0.97, "{lines}");
}
