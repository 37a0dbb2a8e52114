//! `syndic eval` over `fixtures/eval` (see its README), whose numbers are worked out by hand:
//!
//! truth stories A = {d1 d2 d3}, B = {d4 d5}, C = {d6}, D = {d7}, E = {d8};
//! predicted clusters {d1 d2}, {d3 d4 d5}, {d6 d7}; d8 in none (a singleton).
//!
//! * predicted pairs a = 1 + 3 + 1 = 5; true pairs b = 3 + 1 = 4; correct pairs: d1-d2 and
//!   d4-d5 = 2. Precision 2/5, recall 2/4, F1 = 2 * 0.4 * 0.5 / 0.9 = 4/9.
//! * expected = a * b / C(8, 2) = 20/28; ARI = (2 - 20/28) / (9/2 - 20/28) = (9/7) / (53/14)
//!   = 18/53.
//! * predicted groups: 3 clusters + d8 = 4; true stories 5; d8 missing from the prediction.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

fn eval(args: &[&str]) -> assert_cmd::assert::Assert {
    syndic().arg("eval").args(args).assert()
}

/// Runs `syndic eval REPORT --truth TRUTH --json`, expects success and returns the object.
fn eval_json(report: &Path, truth: &Path) -> Value {
    let out = eval(&[arg(report), "--truth", arg(truth), "--json"]).success();
    parse_json(&out.get_output().stdout, "eval --json")
}

fn stdout(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(a.get_output().stdout.clone()).expect("UTF-8 output")
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a count in {v}"))
}

fn assert_hand_computed(v: &Value) {
    assert_eq!(v["mode"], "labels");
    let counts: Vec<u64> = [
        "docs",
        "pred_clusters",
        "true_stories",
        "pred_pairs",
        "true_pairs",
        "tp_pairs",
        "missing_from_pred",
    ]
    .iter()
    .map(|k| u(v, k))
    .collect();
    assert_eq!(counts, vec![8, 4, 5, 5, 4, 2, 1], "{v}");
    assert_eq!(f(v, "precision"), 0.4);
    assert_eq!(f(v, "recall"), 0.5);
    assert!((f(v, "f1") - 4.0 / 9.0).abs() < 1e-12, "{v}");
    assert!((f(v, "ari") - 18.0 / 53.0).abs() < 1e-12, "{v}");
}

#[test]
fn labels_against_a_report() {
    let v = eval_json(&fixture("eval/report.json"), &fixture("eval/truth.jsonl"));
    assert_hand_computed(&v);
    assert!(v["report"].as_str().unwrap().ends_with("report.json"));
}

#[test]
fn labels_against_tsv_lines() {
    let tsv = eval_json(&fixture("eval/report.tsv"), &fixture("eval/truth.jsonl"));
    assert_hand_computed(&tsv);
    let mut json = eval_json(&fixture("eval/report.json"), &fixture("eval/truth.jsonl"));
    json["report"] = tsv["report"].clone();
    assert_eq!(json, tsv);
}

#[test]
fn labels_table_is_aligned() {
    let a = eval(&[
        arg(&fixture("eval/report.json")),
        "--truth",
        arg(&fixture("eval/truth.jsonl")),
    ])
    .success();
    let out = stdout(&a);
    let value_of = |name: &str| -> String {
        let line = out
            .lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("no {name} line in\n{out}"));
        line[name.len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(value_of("documents"), "8");
    assert_eq!(value_of("correct pairs"), "2");
    assert_eq!(value_of("precision"), "0.4000");
    assert_eq!(value_of("recall"), "0.5000");
    assert_eq!(value_of("F1"), "0.4444");
    assert_eq!(value_of("ARI"), "0.3396");
    // The values end in one column.
    let ends: Vec<usize> = ["documents", "true pairs", "precision", "ARI"]
        .iter()
        .map(|name| {
            let line = out.lines().find(|l| l.starts_with(name)).unwrap();
            let v = value_of(name);
            line.find(&format!(" {v}")).unwrap() + 1 + v.len()
        })
        .collect();
    assert!(ends.windows(2).all(|w| w[0] == w[1]), "{ends:?}\n{out}");
}

#[test]
fn labelled_pairs() {
    // copy: d1-d2 clustered, d1-d3 not, d5-x99 missing; rewrite: d4-d5 clustered, d2-d8 missing;
    // different: d6-d7 and d3-d4 clustered, d1-d4 not.
    let v = eval_json(&fixture("eval/report.json"), &fixture("eval/pairs.jsonl"));
    assert_eq!(v["mode"], "pairs");
    let row = |label: &str| {
        let c = &v["labels"][label];
        (u(c, "pairs"), u(c, "clustered"), u(c, "missing"))
    };
    assert_eq!(row("copy"), (3, 1, 1));
    assert_eq!(row("rewrite"), (2, 1, 1));
    assert_eq!(row("different"), (3, 2, 0));
    assert_eq!(row("all"), (8, 4, 2));
    // 2 of the 4 clustered pairs are copies or rewrites; 1 of 3 copies, 2 of 5 copies and
    // rewrites are clustered.
    assert_eq!(f(&v, "precision"), 0.5);
    assert_eq!(f(&v, "recall_copy"), 1.0 / 3.0);
    assert_eq!(f(&v, "recall_copy_rewrite"), 0.4);
    assert!((f(&v, "f1") - 4.0 / 9.0).abs() < 1e-12);

    let tsv = eval_json(&fixture("eval/report.tsv"), &fixture("eval/pairs.jsonl"));
    assert_eq!(tsv["labels"], v["labels"]);

    let a = eval(&[
        arg(&fixture("eval/report.json")),
        "--truth",
        arg(&fixture("eval/pairs.jsonl")),
    ])
    .success();
    let out = stdout(&a);
    let cells = |label: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(label))
            .unwrap_or_else(|| panic!("no {label} row in\n{out}"))
            .split_whitespace()
            .skip(1)
            .map(String::from)
            .collect()
    };
    // pairs, clustered, linked, missing id
    assert_eq!(cells("copy"), ["3", "1", "0", "1"]);
    assert_eq!(cells("all"), ["8", "4", "0", "2"]);
    assert!(out.contains("0.5000") && out.contains("0.3333") && out.contains("0.4444"));
}

#[test]
fn a_bad_truth_line_is_named() {
    let a = eval(&[
        arg(&fixture("eval/report.json")),
        "--truth",
        arg(&fixture("eval/bad_truth.jsonl")),
    ])
    .code(1);
    let err = stderr(&a);
    assert!(
        err.contains("bad_truth.jsonl") && err.contains("line 3") && err.contains("\"story\""),
        "{err}"
    );
    assert!(a.get_output().stdout.is_empty());
}

#[test]
fn input_errors_exit_1_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let report = fixture("eval/report.json");
    let cases = [
        (
            write(
                "label.jsonl",
                "{\"a\": \"d1\", \"b\": \"d2\", \"label\": \"copy\"}\n\
                 {\"a\": \"d1\", \"b\": \"d3\", \"label\": \"same\"}\n",
            ),
            "label.jsonl: line 2: unknown label \"same\"",
        ),
        (
            write(
                "json.jsonl",
                "{\"id\": \"d1\", \"story\": \"A\"}\n{\"id\": \"d2\", \n",
            ),
            "json.jsonl: line 2: malformed JSON",
        ),
        (
            write("keys.jsonl", "{\"doc\": \"d1\", \"story\": \"A\"}\n"),
            "keys.jsonl: line 1: neither story labels",
        ),
    ];
    for (truth, want) in &cases {
        let a = eval(&[arg(&report), "--truth", arg(truth)]).code(1);
        assert!(stderr(&a).contains(want), "{want}: {}", stderr(&a));
    }

    // A predicted id that the labels do not know: the report is named, with an example.
    let partial = write(
        "partial.jsonl",
        "{\"id\": \"d1\", \"story\": \"A\"}\n{\"id\": \"d2\", \"story\": \"A\"}\n",
    );
    let a = eval(&[arg(&report), "--truth", arg(&partial)]).code(1);
    let err = stderr(&a);
    assert!(
        err.contains("report.json") && err.contains("5 predicted ids") && err.contains("\"d4\""),
        "{err}"
    );

    // A bad TSV line.
    let tsv = write("r.tsv", "d1\tx\nd2 x\n");
    let a = eval(&[arg(&tsv), "--truth", arg(&fixture("eval/truth.jsonl"))]).code(1);
    assert!(stderr(&a).contains("r.tsv: line 2"), "{}", stderr(&a));

    // No such file.
    let a = eval(&[
        arg(&dir.path().join("none.json")),
        "--truth",
        arg(&fixture("eval/truth.jsonl")),
    ])
    .code(1);
    assert!(stderr(&a).contains("none.json"), "{}", stderr(&a));
}

#[test]
fn a_real_report_against_its_own_clusters_is_perfect() {
    // The golden report of the syndication fixture, and labels that say exactly its clusters
    // (every other document its own story).
    let report = read_json(&fixture("golden/syndication.report.json"));
    let of = cluster_of(&report);
    assert!(!of.is_empty());
    let ids = corpus_ids(&fixture("syndication/corpus.jsonl"));
    let mut truth = String::new();
    for id in &ids {
        let story = of.get(id).map_or(format!("own-{id}"), |c| format!("c{c}"));
        truth += &serde_json::json!({"id": id, "story": story}).to_string();
        truth.push('\n');
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truth.jsonl");
    std::fs::write(&path, truth).unwrap();
    let v = eval_json(&fixture("golden/syndication.report.json"), &path);
    assert_eq!(u(&v, "docs"), ids.len() as u64);
    assert_eq!(u(&v, "tp_pairs"), u(&v, "true_pairs"));
    assert!(u(&v, "true_pairs") > 0);
    assert_eq!(u(&v, "missing_from_pred"), (ids.len() - of.len()) as u64);
    for k in ["precision", "recall", "f1", "ari"] {
        assert_eq!(f(&v, k), 1.0, "{k}: {v}");
    }
}

#[test]
fn help_documents_the_json_keys() {
    let a = eval(&["--help"]).success();
    let out = stdout(&a);
    for key in [
        "tp_pairs",
        "missing_from_pred",
        "ari",
        "recall_copy_rewrite",
        "clustered",
    ] {
        assert!(out.contains(key), "{key} is not in --help:\n{out}");
    }
}

/// The reference scorer `score.py` beside the repository, with a Python to run it.
fn score_py() -> Option<std::path::PathBuf> {
    let script = root().join("../shared/bench/score.py");
    let python = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    (script.is_file() && python).then_some(script)
}

#[test]
fn same_numbers_as_score_py() {
    let Some(script) = score_py() else {
        eprintln!("note: ../shared/bench/score.py or python3 not found: skipped");
        return;
    };
    let truth = fixture("eval/truth.jsonl");
    for report in [fixture("eval/report.json"), fixture("eval/report.tsv")] {
        let out = std::process::Command::new("python3")
            .arg(&script)
            .args([&truth, &report])
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = parse_json(&out.stdout, "score.py --json");
        let ours = eval_json(&report, &truth);
        for (k, v) in theirs.as_object().unwrap() {
            assert_eq!(&ours[k], v, "{k} differs on {}", report.display());
        }
    }
}
