//! The golden reports: `syndic scan` of `fixtures/syndication/corpus.jsonl` and of
//! `fixtures/boilerplate/corpus.jsonl` (which holds boilerplate templates) with default
//! parameters must give `fixtures/golden/syndication.report.json` and
//! `fixtures/golden/boilerplate.report.json`, once the `run` section (timings, version, threads)
//! is removed.
//!
//! When a change of the output is intended (new defaults, a new report field), regenerate the
//! golden file and review its diff before committing it:
//!
//!     UPDATE_GOLDEN=1 cargo test --test golden
//!
//! With `UPDATE_GOLDEN=1` the test rewrites the golden file instead of comparing; under CI
//! (`CI` set, as `.ci/run` runs) it refuses to, so that CI always compares.

mod common;

use common::*;
use serde_json::Value;

const GOLDEN: &str = "golden/syndication.report.json";

/// Where two JSON values differ, as JSON-pointer-like paths (at most `limit` of them).
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>, limit: usize) {
    if out.len() >= limit || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => differences(v, w, &format!("{path}/{k}"), out, limit),
                    None => out.push(format!("{path}/{k}: only in the golden file")),
                }
            }
            for k in y.keys().filter(|k| !x.contains_key(*k)) {
                out.push(format!("{path}/{k}: only in the new report"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                differences(v, w, &format!("{path}/{i}"), out, limit);
            }
        }
        _ => out.push(format!("{path}: golden {a}, now {b}")),
    }
}

/// Compares `syndic scan INPUT` (without `run`) with the golden file `golden` (under
/// `fixtures/`), or rewrites it under `UPDATE_GOLDEN=1`.
fn check_golden(input: &str, golden: &str) {
    // A relative input path, so that nothing in the report depends on where the crate lives.
    let report = without_run(scan(&[input]));
    let path = fixture(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        assert!(
            std::env::var_os("CI").is_none(),
            "UPDATE_GOLDEN=1 is refused under CI: the golden report is updated by hand, reviewed \
             and committed"
        );
        let mut text = serde_json::to_string_pretty(&report).unwrap();
        text.push('\n');
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        eprintln!("rewrote {}", path.display());
        return;
    }
    assert!(
        path.exists(),
        "{} is missing: create it with UPDATE_GOLDEN=1 cargo test --test golden",
        path.display()
    );
    let expected = read_json(&path);
    let mut diffs = Vec::new();
    differences(&expected, &report, "", &mut diffs, 20);
    assert!(
        diffs.is_empty(),
        "the report differs from fixtures/{golden}:\n  {}\nIf the change is intended, run \
         UPDATE_GOLDEN=1 cargo test --test golden and review the diff.",
        diffs.join("\n  ")
    );
}

#[test]
fn syndication_report_matches_the_golden_file() {
    check_golden("fixtures/syndication/corpus.jsonl", GOLDEN);
}

/// A report that holds boilerplate templates (a disclaimer under unrelated articles) and the
/// clusters of one story syndicated on several sites.
#[test]
fn boilerplate_report_matches_the_golden_file() {
    let golden = "golden/boilerplate.report.json";
    check_golden("fixtures/boilerplate/corpus.jsonl", golden);
    if std::env::var_os("UPDATE_GOLDEN").is_none() {
        let report = read_json(&fixture(golden));
        assert!(
            !report["boilerplate"]["templates"]
                .as_array()
                .unwrap()
                .is_empty(),
            "the golden report holds templates"
        );
    }
}
