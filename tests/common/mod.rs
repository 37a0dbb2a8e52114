//! Helpers shared by the integration tests: running the binary, reading fixtures and reports.
//!
//! The fixtures are written by `fixtures/make_fixtures.py` (see its header).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `fixtures/`.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// The `syndic` binary, run from the crate root, with no thread setting inherited.
pub fn syndic() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_syndic"));
    c.current_dir(root()).env_remove("RAYON_NUM_THREADS");
    c
}

/// Parses a JSON document, saying what it was on failure.
pub fn parse_json(bytes: &[u8], what: &str) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "{what} is not JSON ({e}):\n{}",
            String::from_utf8_lossy(bytes)
        )
    })
}

/// Runs `syndic scan -q ARGS...`, expects exit 0 and returns the report printed on stdout.
pub fn scan(args: &[&str]) -> Value {
    scan_with(syndic(), args)
}

/// Like [`scan`], with a prepared command (environment, stdin).
pub fn scan_with(mut cmd: Command, args: &[&str]) -> Value {
    let out = cmd.arg("scan").arg("-q").args(args).assert().success();
    parse_json(&out.get_output().stdout, "the report on stdout")
}

/// Path as a `&str` argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// The report without its `run` section (which holds timings and may differ between runs).
pub fn without_run(mut report: Value) -> Value {
    let obj = report.as_object_mut().expect("the report is an object");
    assert!(obj.remove("run").is_some(), "the report has a run section");
    report
}

/// Every line of a JSONL file, parsed.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_json(l.as_bytes(), &format!("a line of {}", path.display())))
        .collect()
}

pub fn read_json(path: &Path) -> Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_json(&bytes, &path.display().to_string())
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

pub fn clusters(report: &Value) -> &Vec<Value> {
    report["clusters"].as_array().expect("clusters is an array")
}

/// The member ids of a reported cluster, in report order.
pub fn member_ids(cluster: &Value) -> Vec<String> {
    cluster["members"]
        .as_array()
        .expect("members is an array")
        .iter()
        .map(|m| str_of(m, "id").to_string())
        .collect()
}

/// The clusters of a report as a set of sets of ids: what must not depend on input order.
pub fn cluster_sets(report: &Value) -> BTreeSet<BTreeSet<String>> {
    clusters(report)
        .iter()
        .map(|c| member_ids(c).into_iter().collect())
        .collect()
}

/// For each clustered id, the index of its cluster in the report.
pub fn cluster_of(report: &Value) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (i, c) in clusters(report).iter().enumerate() {
        for id in member_ids(c) {
            assert!(m.insert(id.clone(), i).is_none(), "{id} is in two clusters");
        }
    }
    m
}

/// The member object of `id` in a report.
pub fn member<'a>(report: &'a Value, id: &str) -> &'a Value {
    clusters(report)
        .iter()
        .flat_map(|c| c["members"].as_array().unwrap())
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("{id} is in no cluster"))
}

/// The ids of a JSONL corpus, in file order.
pub fn corpus_ids(path: &Path) -> Vec<String> {
    read_jsonl(path)
        .iter()
        .map(|r| str_of(r, "id").to_string())
        .collect()
}

/// The syndication fixture: its corpus and what `expected.json` says about it.
pub struct Syndication {
    pub corpus: PathBuf,
    pub expected: Value,
}

impl Syndication {
    pub fn load() -> Self {
        Syndication {
            corpus: fixture("syndication/corpus.jsonl"),
            expected: read_json(&fixture("syndication/expected.json")),
        }
    }

    /// Groups of ids that must be exactly the clusters found.
    pub fn groups(&self) -> Vec<Vec<String>> {
        self.expected["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(strings)
            .collect()
    }

    pub fn group_sets(&self) -> BTreeSet<BTreeSet<String>> {
        self.groups()
            .into_iter()
            .map(|g| g.into_iter().collect())
            .collect()
    }

    /// Ids that must be in no cluster.
    pub fn singletons(&self) -> Vec<String> {
        strings(&self.expected["singletons"])
    }

    /// The representative that `--keep policy` must choose in the group whose ids start with
    /// `key`.
    pub fn keep(&self, policy: &str) -> BTreeMap<String, String> {
        self.expected["keep"][policy]
            .as_object()
            .unwrap_or_else(|| panic!("no keep.{policy} in expected.json"))
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect()
    }
}

/// The real corpus (SaudiNewsNet), from `$SYNDIC_REAL_CORPUS` or `../shared/corpus/` beside the
/// crate; `None` (after a note on stderr) when it is absent: tests that read it then pass.
pub fn real_corpus() -> Option<PathBuf> {
    let path = match std::env::var_os("SYNDIC_REAL_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => root().join("../shared/corpus/saudinewsnet.jsonl.gz"),
    };
    if !path.is_file() {
        eprintln!(
            "note: real corpus not found (set SYNDIC_REAL_CORPUS or put it in \
             ../shared/corpus/): skipped"
        );
        return None;
    }
    Some(path)
}

/// `n` pseudo-random words (`w` and hex digits) from a linear congruential generator whose
/// `state` the caller keeps: texts that share no passage by chance.
#[allow(dead_code)]
pub fn random_words(state: &mut u64, n: usize) -> String {
    (0..n)
        .map(|_| {
            *state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            format!("w{:x}", *state >> 44)
        })
        .collect::<Vec<_>>()
        .join(" ")
}
