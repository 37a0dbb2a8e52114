//! The report's schema (`syndic-report/2`) as a reader relies on it:
//!
//! - each member says why it joined (`joined_by`) and through which member (`joined_via`), and
//!   what it says agrees with the measures printed beside it and with the verification rule;
//! - each template has an id that does not depend on the thread count, and a raw example found
//!   word for word in the document it names; `--annotations` names the template of each flagged
//!   line;
//! - `run.stages` is an object; absent values are null, never left out;
//! - the summary on stderr counts in English ("1 cluster").

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn news() -> PathBuf {
    fixture("bench/news2k.jsonl.gz")
}

/// The records of a JSONL file (gzip-compressed when its name ends in `.gz`) by id.
fn records_by_id(path: &Path) -> BTreeMap<String, Value> {
    let bytes = std::fs::read(path).unwrap();
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = String::from_utf8(bytes).unwrap();
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_string(), v)
        })
        .collect()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number in {v}"))
}

/// Checks what every member's `joined_by` and `joined_via` say against the rest of the report;
/// returns how many members joined by each reason.
fn check_joins(report: &Value) -> BTreeMap<String, usize> {
    let threshold = num(&report["params"], "threshold");
    let containment = report["params"]["containment"].as_f64();
    // Measures are rounded to 4 decimals.
    let eps = 5e-5;
    let mut count = BTreeMap::new();
    for c in clusters(report) {
        let members = c["members"].as_array().unwrap();
        let ids: BTreeSet<&str> = members.iter().map(|m| str_of(m, "id")).collect();
        let by_id: BTreeMap<&str, &Value> = members.iter().map(|m| (str_of(m, "id"), m)).collect();
        let rep = str_of(c, "representative");
        for (i, m) in members.iter().enumerate() {
            let id = str_of(m, "id");
            let by = str_of(m, "joined_by");
            *count.entry(by.to_string()).or_default() += 1;
            if i == 0 {
                assert_eq!(id, rep, "the representative comes first");
                assert_eq!(by, "representative", "{m}");
                assert!(m["joined_via"].is_null(), "{m}");
                continue;
            }
            let via = str_of(m, "joined_via");
            assert!(ids.contains(via) && via != id, "{id} joined via {via}: {c}");
            let sim = num(m, "similarity");
            let cont = num(m, "containment");
            match by {
                "exact" => {
                    assert_eq!(m["exact"], true, "{m}");
                    assert_eq!(by_id[via]["exact"], true, "{id} repeats {via}");
                }
                "jaccard" if via == rep => {
                    assert!(sim >= threshold, "{id}: jaccard join at {sim}")
                }
                "containment" if via == rep => {
                    assert!(
                        sim < threshold + eps,
                        "{id}: Jaccard {sim} decided, not containment"
                    );
                    let c = containment.expect("containment is on");
                    assert!(cont >= c, "{id}: containment join at {cont}");
                }
                "jaccard" | "containment" => {} // measured against another member
                other => panic!("{id}: joined_by {other:?}"),
            }
        }
    }
    count
}

#[test]
fn members_say_why_they_joined() {
    // The syndication fixture: a-repost repeats a-orig word for word (after normalization);
    // a-retitled is a whole copy of the representative a-wrapped.
    let report = scan(&[arg(&fixture("syndication/corpus.jsonl"))]);
    check_joins(&report);
    let repost = member(&report, "a-repost");
    assert_eq!(repost["joined_by"], "exact");
    assert_eq!(repost["joined_via"], "a-orig");
    let retitled = member(&report, "a-retitled");
    assert_eq!(retitled["joined_by"], "jaccard");
    assert_eq!(retitled["joined_via"], "a-wrapped");
    let wrapped = member(&report, "a-wrapped");
    assert_eq!(wrapped["joined_by"], "representative");
    assert!(wrapped["joined_via"].is_null());

    // An excerpt of a longer text: Jaccard under the threshold, joined by containment.
    let report = scan(&[arg(&fixture("syndication4/corpus.jsonl"))]);
    check_joins(&report);
    let excerpt = member(&report, "trunc-excerpt");
    assert_eq!(excerpt["joined_by"], "containment", "{excerpt}");
    assert_eq!(excerpt["joined_via"], "trunc-full");
    assert!(num(excerpt, "similarity") < 0.5 && num(excerpt, "containment") >= 0.7);
    let thresholds = scan(&[
        "--verify",
        "exact",
        arg(&fixture("thresholds/corpus.jsonl")),
    ]);
    check_joins(&thresholds);
    assert_eq!(
        member(&thresholds, "cont-above-copy")["joined_by"],
        "containment"
    );
    assert_eq!(
        member(&thresholds, "jacc-above-copy")["joined_by"],
        "jaccard"
    );
}

#[test]
fn a_member_reached_through_another_names_it() {
    // With --verify exact, cable-6 shares too little with the representative cable-3 for either
    // rule (Jaccard 0.35, containment 0.65): it joined through cable-5, whose verified pair with
    // it reaches the Jaccard threshold.
    let report = scan(&[
        "--verify",
        "exact",
        arg(&fixture("syndication4/corpus.jsonl")),
    ]);
    check_joins(&report);
    let m = member(&report, "cable-6");
    assert!(
        num(m, "similarity") < 0.5 && num(m, "containment") < 0.7,
        "{m}"
    );
    assert_eq!(m["joined_via"], "cable-5", "{m}");
    assert_eq!(m["joined_by"], "jaccard", "{m}");
    // The same with connected components: the breadth-first tree from the representative.
    let report = scan(&[
        "--verify",
        "exact",
        "--cluster",
        "components",
        arg(&fixture("syndication4/corpus.jsonl")),
    ]);
    check_joins(&report);
    assert_ne!(member(&report, "cable-6")["joined_via"], "cable-3");
}

#[test]
fn every_reason_occurs_on_a_larger_corpus_and_agrees_with_the_measures() {
    let report = scan(&[arg(&news())]);
    let count = check_joins(&report);
    for by in ["representative", "exact", "jaccard", "containment"] {
        assert!(count.get(by).is_some_and(|&n| n > 0), "{by}: {count:?}");
    }
}

#[test]
fn templates_have_stable_ids_and_raw_examples_found_in_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    let mut annotations = Vec::new();
    for threads in ["1", "2"] {
        let ann = dir.path().join(format!("ann{threads}.jsonl"));
        reports.push(scan(&[
            "-j",
            threads,
            "--annotations",
            arg(&ann),
            arg(&news()),
        ]));
        annotations.push(read_jsonl(&ann));
    }
    let templates = reports[0]["boilerplate"]["templates"].as_array().unwrap();
    assert!(templates.len() > 10, "news2k has many templates");
    assert_eq!(
        templates,
        reports[1]["boilerplate"]["templates"].as_array().unwrap(),
        "templates at -j 1 and -j 2"
    );
    assert_eq!(annotations[0], annotations[1]);

    let records = records_by_id(&news());
    let mut ids = BTreeSet::new();
    for t in templates {
        let id = str_of(t, "id");
        assert!(
            id.len() == 17 && id.starts_with('t') && id[1..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(ids.insert(id), "{id} twice");
        let ex = &t["example"];
        let doc = str_of(ex, "document");
        let line = ex["line"].as_u64().unwrap() as usize;
        let text = str_of(ex, "text");
        assert!(!text.is_empty(), "{t}");
        let raw = str_of(&records[doc], "text");
        assert!(raw.contains(text), "{id}: {text:?} is not in {doc}");
        assert_eq!(raw.split('\n').nth(line).map(str::trim), Some(text), "{t}");
        // The annotations name this template at that line of that document.
        let a = annotations[0]
            .iter()
            .find(|a| a["id"] == doc)
            .unwrap_or_else(|| panic!("{doc} has no annotation"));
        let lines = a["boilerplate_lines"].as_array().unwrap();
        let at = lines.iter().position(|l| l == line).expect("line flagged");
        assert_eq!(a["templates"][at], id, "{a}");
    }
    // Every annotated line names a template of the report.
    let mut flagged = 0;
    for a in &annotations[0] {
        let lines = a["boilerplate_lines"].as_array().unwrap();
        let names = strings(&a["templates"]);
        assert_eq!(lines.len(), names.len(), "{a}");
        assert!(names.iter().all(|n| ids.contains(n.as_str())), "{a}");
        flagged += lines.len() as u64;
    }
    assert_eq!(flagged, reports[0]["boilerplate"]["lines_flagged"]);
}

#[test]
fn stages_are_an_object_in_stage_order() {
    let report = scan(&[arg(&fixture("boilerplate/corpus.jsonl"))]);
    let stages = report["run"]["stages"]
        .as_object()
        .unwrap_or_else(|| panic!("run.stages is not an object: {}", report["run"]));
    let names: Vec<&str> = stages.keys().map(String::as_str).collect();
    assert_eq!(names.first(), Some(&"read_normalize_first_sketch"));
    assert!(names.contains(&"cluster"), "{names:?}");
    assert!(stages
        .values()
        .all(|s| s.as_f64().is_some_and(|s| s >= 0.0)));
    assert_eq!(str_of(&report, "format"), "syndic-report/2");
}

#[test]
fn absent_values_are_null() {
    // c-repost has no date; templates of a corpus without dates have none either.
    let report = scan(&[arg(&fixture("syndication/corpus.jsonl"))]);
    let m = member(&report, "c-repost");
    assert!(
        m.as_object().unwrap().get("date") == Some(&Value::Null),
        "date must be present and null: {m}"
    );
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let first = keys(&clusters(&report)[0]["members"][0]);
    for c in clusters(&report) {
        for m in c["members"].as_array().unwrap() {
            assert_eq!(keys(m), first, "every member has every key");
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let undated = dir.path().join("undated.jsonl");
    let mut out = String::new();
    for mut r in read_jsonl(&fixture("boilerplate/corpus.jsonl")) {
        r.as_object_mut().unwrap().remove("date");
        out.push_str(&serde_json::to_string(&r).unwrap());
        out.push('\n');
    }
    std::fs::write(&undated, out).unwrap();
    let report = scan(&[arg(&undated)]);
    let templates = report["boilerplate"]["templates"].as_array().unwrap();
    assert!(!templates.is_empty());
    for t in templates {
        let o = t.as_object().unwrap();
        assert_eq!(o.get("first_date"), Some(&Value::Null), "{t}");
        assert_eq!(o.get("last_date"), Some(&Value::Null), "{t}");
    }
    for c in clusters(&report) {
        for m in c["members"].as_array().unwrap() {
            assert_eq!(m.as_object().unwrap().get("date"), Some(&Value::Null));
        }
    }
}

/// The summary line `syndic scan` prints on stderr.
fn summary(input: &Path, extra: &[&str]) -> String {
    let out = syndic()
        .arg("scan")
        .args(extra)
        .arg(input)
        .arg("-o")
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn the_summary_counts_in_english() {
    // One cluster; several templates, then (the fixture without its other furniture lines) one.
    let s = summary(&fixture("boilerplate/corpus.jsonl"), &[]);
    assert!(
        s.contains("17 documents: 0 exact duplicates and 4 near duplicates in 1 cluster;"),
        "{s}"
    );
    assert!(s.contains("35 boilerplate lines (5 templates)"), "{s}");
    let expected = read_json(&fixture("boilerplate/expected.json"));
    let other: BTreeSet<String> = expected["furniture"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| str_of(f, "line").to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let only_disclaimer = dir.path().join("corpus.jsonl");
    let records: Vec<String> = read_jsonl(&fixture("boilerplate/corpus.jsonl"))
        .into_iter()
        .map(|mut r| {
            let text: Vec<&str> = str_of(&r, "text")
                .split('\n')
                .filter(|l| !other.contains(*l))
                .collect();
            r["text"] = Value::from(text.join("\n"));
            r.to_string()
        })
        .collect();
    std::fs::write(&only_disclaimer, records.join("\n") + "\n").unwrap();
    let s = summary(&only_disclaimer, &[]);
    assert!(s.contains("14 boilerplate lines (1 template)"), "{s}");
    let s = summary(&fixture("syndication/corpus.jsonl"), &[]);
    assert!(s.contains("in 3 clusters;"), "{s}");

    // One record skipped, and dedup's count of records written.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"id\": \"a\", \"text\": \"one lone document\"}\nnot json\n",
    )
    .unwrap();
    let s = summary(&input, &["--on-error", "skip"]);
    assert!(s.contains("1 document: 0 exact duplicates"), "{s}");
    assert!(s.contains("in 0 clusters;"), "{s}");
    assert!(s.contains("; 1 record skipped ("), "{s}");
    let twice = dir.path().join("twice.jsonl");
    std::fs::write(
        &twice,
        "{\"id\": \"a\", \"text\": \"one story\"}\n{\"id\": \"b\", \"text\": \"One story.\"}\n",
    )
    .unwrap();
    let s = summary(&twice, &[]);
    assert!(
        s.contains("2 documents: 1 exact duplicate and 0 near duplicates in 1 cluster;"),
        "{s}"
    );
    let out = syndic()
        .args(["dedup", "--on-error", "skip", "-o"])
        .arg(dir.path().join("out.jsonl"))
        .arg(&input)
        .output()
        .unwrap();
    let s = String::from_utf8(out.stderr).unwrap();
    assert!(s.contains("syndic: wrote 1 record to"), "{s}");
}
