//! Boilerplate over `fixtures/boilerplate`: the first seed's legal disclaimer stands under many
//! unrelated articles (furniture: flagged), while the paragraphs of one story recur in its
//! syndicated copies (syndication: never flagged).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use serde_json::Value;

struct Fixture {
    corpus: std::path::PathBuf,
    expected: Value,
    records: Vec<Value>,
}

impl Fixture {
    fn load() -> Self {
        let corpus = fixture("boilerplate/corpus.jsonl");
        Fixture {
            records: read_jsonl(&corpus),
            expected: read_json(&fixture("boilerplate/expected.json")),
            corpus,
        }
    }

    fn disclaimer(&self) -> &str {
        str_of(&self.expected, "disclaimer")
    }

    fn record(&self, id: &str) -> &Value {
        self.records
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no record {id}"))
    }

    /// Line indexes (of the text split on "\n") holding the disclaimer, by document id.
    fn disclaimer_lines(&self) -> BTreeMap<String, Vec<u64>> {
        let mut m = BTreeMap::new();
        for r in &self.records {
            let at: Vec<u64> = str_of(r, "text")
                .split('\n')
                .enumerate()
                .filter(|(_, l)| *l == self.disclaimer())
                .map(|(i, _)| i as u64)
                .collect();
            if !at.is_empty() {
                m.insert(str_of(r, "id").to_string(), at);
            }
        }
        m
    }

    /// Lines that belong to one story only: the syndicated story's paragraphs (and title), and
    /// every line of the articles but the disclaimer.
    fn story_content(&self) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = strings(&self.expected["story_paragraphs"])
            .into_iter()
            .collect();
        for id in strings(&self.expected["articles"]) {
            for l in str_of(self.record(&id), "text").split('\n') {
                if l != self.disclaimer()
                    && !l.trim().is_empty()
                    && !self.furniture().contains_key(l)
                {
                    s.insert(l.to_string());
                }
            }
        }
        s
    }
}

impl Fixture {
    /// The other furniture lines of the articles (a separator, an address, a label and the
    /// headline it heads) with the documents that hold each.
    fn furniture(&self) -> BTreeMap<String, Vec<String>> {
        self.expected["furniture"]
            .as_array()
            .expect("furniture")
            .iter()
            .map(|f| (str_of(f, "line").to_string(), strings(&f["documents"])))
            .collect()
    }
}

/// Runs scan with `--annotations`; returns the report and the flagged lines by document id.
fn scan_annotated(inputs: &[&Path], extra: &[&str]) -> (Value, BTreeMap<String, Vec<u64>>) {
    let dir = tempfile::tempdir().unwrap();
    let ann = dir.path().join("annotations.jsonl");
    let out = syndic()
        .args(["scan", "-q", "--annotations", arg(&ann)])
        .args(extra)
        .args(inputs)
        .assert()
        .success();
    let report = parse_json(&out.get_output().stdout, "the report");
    let mut flagged = BTreeMap::new();
    for a in read_jsonl(&ann) {
        let lines: Vec<u64> = a["boilerplate_lines"]
            .as_array()
            .expect("boilerplate_lines is an array")
            .iter()
            .map(|i| i.as_u64().expect("a line index"))
            .collect();
        assert!(!lines.is_empty(), "annotation with no lines: {a}");
        let id = str_of(&a, "id").to_string();
        assert!(flagged.insert(id.clone(), lines).is_none(), "{id} twice");
    }
    (report, flagged)
}

#[test]
fn disclaimer_is_flagged_and_story_paragraphs_are_not() {
    let fx = Fixture::load();
    let (report, flagged) = scan_annotated(&[&fx.corpus], &[]);
    let b = &report["boilerplate"];
    assert_eq!(b["status"], "ok", "{b}");

    // Every document that carries the disclaimer has it flagged, at the right line.
    let carriers = fx.disclaimer_lines();
    assert_eq!(
        carriers.keys().cloned().collect::<Vec<_>>(),
        strings(&fx.expected["carriers"])
    );
    assert!(carriers.len() >= 6);
    for (id, lines) in &carriers {
        let got = flagged.get(id).cloned().unwrap_or_default();
        for l in lines {
            assert!(
                got.contains(l),
                "{id}: the disclaimer (line {l}) is not flagged; flagged: {got:?}"
            );
        }
    }

    // No line that belongs to a single story is flagged, in any document.
    let content = fx.story_content();
    for (id, lines) in &flagged {
        let text: Vec<&str> = str_of(fx.record(id), "text").split('\n').collect();
        for &l in lines {
            let line = text
                .get(l as usize)
                .unwrap_or_else(|| panic!("{id}: flagged line {l} does not exist"));
            assert!(
                !content.contains(*line),
                "{id}: line {l} is story text, yet flagged: {line}"
            );
        }
    }
    for id in strings(&fx.expected["story_copies"]) {
        let paragraphs: BTreeSet<String> = strings(&fx.expected["story_paragraphs"])
            .into_iter()
            .collect();
        let text = str_of(fx.record(&id), "text");
        assert!(text.split('\n').filter(|l| paragraphs.contains(*l)).count() >= 10);
    }

    // The report names the template, with the number of documents that hold it.
    let templates = b["templates"].as_array().expect("templates");
    let t = templates
        .iter()
        .find(|t| str_of(t, "sample").contains("الموقع غير"))
        .unwrap_or_else(|| panic!("no template for the disclaimer in {b}"));
    assert_eq!(t["documents"], carriers.len(), "{t}");
    let lines: usize = carriers.values().map(|v| v.len()).sum();
    assert!(b["lines_flagged"].as_u64().unwrap() >= lines as u64);
    assert_eq!(
        b["documents_with_flags"].as_u64().unwrap(),
        flagged.len() as u64
    );

    // Sharing a disclaimer does not make articles copies: the story's copies are the only
    // cluster.
    let copies: BTreeSet<String> = strings(&fx.expected["story_copies"]).into_iter().collect();
    assert!(copies.len() >= 4);
    assert_eq!(cluster_sets(&report), BTreeSet::from([copies]));
}

#[test]
fn furniture_known_by_its_raw_form_is_flagged() {
    // A separator (empty once normalized) amid the articles, an address amid three articles of
    // one site, a label above a related headline: each flagged in every document holding it.
    let fx = Fixture::load();
    let (report, flagged) = scan_annotated(&[&fx.corpus], &[]);
    let furniture = fx.furniture();
    assert_eq!(furniture.len(), 4);
    for (line, ids) in &furniture {
        assert!(ids.len() >= 3, "{line}: {ids:?}");
        for id in ids {
            let at = str_of(fx.record(id), "text")
                .split('\n')
                .position(|l| l == line)
                .unwrap_or_else(|| panic!("{id} does not hold {line}"));
            let got = flagged.get(id).cloned().unwrap_or_default();
            assert!(
                got.contains(&(at as u64)),
                "{id}: {line} (line {at}) is not flagged; flagged: {got:?}"
            );
        }
    }
    let templates = report["boilerplate"]["templates"].as_array().unwrap();
    let address = templates
        .iter()
        .find(|t| t["example"]["text"] == "columnist.name@site-2.example")
        .expect("a template for the address");
    assert!(
        address["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("an address in 3"),
        "{address}"
    );
    let separator = templates
        .iter()
        .find(|t| t["example"]["text"] == "* * *")
        .expect("a template for the separator");
    assert_eq!(separator["sample"], "", "{separator}");
}

fn lines_without(text: &str, drop: &str) -> String {
    text.split('\n')
        .filter(|l| *l != drop)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn strip_boilerplate_removes_the_furniture_and_keeps_the_rest() {
    let fx = Fixture::load();
    let dir = tempfile::tempdir().unwrap();

    // Every record, annotated and stripped.
    let all = dir.path().join("all.jsonl");
    syndic()
        .args(["dedup", "-q", "--annotate", "--strip-boilerplate", "-o"])
        .arg(&all)
        .arg(&fx.corpus)
        .assert()
        .success();
    let out = read_jsonl(&all);
    assert_eq!(out.len(), fx.records.len());
    for (orig, got) in fx.records.iter().zip(&out) {
        let id = str_of(orig, "id");
        assert_eq!(got["id"], orig["id"], "records stay in input order");
        let mut want = lines_without(str_of(orig, "text"), fx.disclaimer());
        for line in fx.furniture().keys() {
            want = lines_without(&want, line);
        }
        assert_eq!(str_of(got, "text"), want, "{id}: stripped text");
        for (k, v) in orig.as_object().unwrap() {
            if k != "text" {
                assert_eq!(&got[k], v, "{id}: field {k} is unchanged");
            }
        }
    }

    // The kept records only, stripped.
    let kept = dir.path().join("kept.jsonl");
    syndic()
        .args(["dedup", "-q", "--strip-boilerplate", "-o"])
        .arg(&kept)
        .arg(&fx.corpus)
        .assert()
        .success();
    let kept = read_jsonl(&kept);
    let articles = strings(&fx.expected["articles"]);
    assert_eq!(kept.len(), articles.len() + 1, "the articles and one copy");
    for r in &kept {
        let text = str_of(r, "text");
        assert!(
            !text.split('\n').any(|l| l == fx.disclaimer()),
            "{}: the disclaimer is still there",
            r["id"]
        );
        let orig = fx.record(str_of(r, "id"));
        let mut want = lines_without(str_of(orig, "text"), fx.disclaimer());
        for line in fx.furniture().keys() {
            want = lines_without(&want, line);
        }
        assert_eq!(text, want);
    }
}

#[test]
fn a_single_document_flags_nothing_and_says_too_small() {
    // The first seed carries the disclaimer, but one document gives no line statistics.
    let seed = std::fs::read_dir(root().join("seeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("000_"))
        .expect("seed 000");
    let (report, flagged) = scan_annotated(&[&seed], &[]);
    let b = &report["boilerplate"];
    assert_eq!(b["status"], "too_small", "{b}");
    assert_eq!(b["lines_flagged"], 0);
    assert_eq!(b["templates"].as_array().unwrap().len(), 0);
    assert!(flagged.is_empty(), "{flagged:?}");
    assert_eq!(report["stats"]["documents"], 1);
}

#[test]
fn no_boilerplate_flags_nothing_and_says_disabled() {
    let fx = Fixture::load();
    let (report, flagged) = scan_annotated(&[&fx.corpus], &["--no-boilerplate"]);
    let b = &report["boilerplate"];
    assert_eq!(b["status"], "disabled", "{b}");
    assert_eq!(b["lines_flagged"], 0);
    assert!(flagged.is_empty(), "{flagged:?}");
}
