//! A run under a tiny `--memory-limit` spills the normalized texts, the band tables and the
//! template n-grams to scratch files, and reports exactly what an in-memory run reports.

mod common;

use common::{fixture, parse_json, syndic};
use serde_json::Value;

fn scan(extra: &[&str]) -> Value {
    let mut args = vec!["-q"];
    if !extra.contains(&"-j") {
        args.extend(["-j", "2"]);
    }
    let out = syndic()
        .arg("scan")
        .arg(fixture("bench/news2k.jsonl.gz"))
        .args(args)
        .args(extra)
        .output()
        .expect("run syndic");
    assert!(
        out.status.success(),
        "syndic failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_json(&out.stdout, "the report")
}

fn without_run(mut v: Value) -> Value {
    v.as_object_mut().expect("report object").remove("run");
    v
}

fn spilled(v: &Value) -> Vec<String> {
    v["run"]["spilled"]
        .as_array()
        .expect("run.spilled")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn spilled_run_reports_what_an_in_memory_run_reports() {
    let mem = scan(&[]);
    assert!(spilled(&mem).is_empty(), "nothing spills without a limit");
    assert!(mem["stats"]["clusters"].as_u64().unwrap() > 10);
    let tiny = scan(&["--memory-limit", "1K"]);
    let what = spilled(&tiny);
    assert!(what.iter().any(|s| s == "texts"), "{what:?}");
    assert!(
        what.iter().any(|s| s.starts_with("band tables")),
        "{what:?}"
    );
    assert!(
        what.iter().any(|s| s.starts_with("template n-grams")),
        "{what:?}"
    );
    assert_eq!(tiny["run"]["memory_limit"], 1024);
    assert_eq!(without_run(mem), without_run(tiny));
}

#[test]
fn spilled_exact_verification_and_one_thread_agree() {
    let mem = scan(&["--verify", "exact"]);
    let tiny = scan(&["--verify", "exact", "--memory-limit", "1K", "-j", "1"]);
    assert!(spilled(&tiny).iter().any(|s| s == "texts"));
    assert_eq!(without_run(mem), without_run(tiny));
}

#[test]
fn a_budget_that_fits_spills_nothing() {
    let big = scan(&["--memory-limit", "4G"]);
    assert!(spilled(&big).is_empty());
}

#[test]
fn bad_memory_limit_is_a_clear_error() {
    let out = syndic()
        .args(["scan", "seeds", "--memory-limit", "4X"])
        .output()
        .expect("run syndic");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--memory-limit") && err.contains("unknown unit"),
        "{err}"
    );
}
