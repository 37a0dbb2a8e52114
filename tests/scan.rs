//! `syndic scan` over the fixtures: which documents end up together, the report's shape and order,
//! the ways to give inputs, and determinism across thread counts and input orders.
//!
//! The assertions hold for any sensible tuning: the copies in `fixtures/syndication` are close
//! (retitled, truncated, wrapped, respelled) and the unrelated texts share nothing but topic.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use serde_json::Value;

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn show(sets: &BTreeSet<BTreeSet<String>>) -> String {
    sets.iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join("\n  ")
}

#[test]
fn copies_cluster_with_their_original_and_unrelated_texts_stay_apart() {
    let fx = Syndication::load();
    let report = scan(&[arg(&fx.corpus)]);
    let found = cluster_sets(&report);
    let want = fx.group_sets();
    assert_eq!(
        found,
        want,
        "clusters found:\n  {}\nexpected (fixtures/syndication/expected.json):\n  {}",
        show(&found),
        show(&want)
    );
    let clustered = cluster_of(&report);
    for id in fx.singletons() {
        assert!(!clustered.contains_key(&id), "{id} must be in no cluster");
    }
    let documents = corpus_ids(&fx.corpus).len();
    assert_eq!(report["stats"]["documents"], documents);
    assert_eq!(report["stats"]["clusters"], want.len());
    let in_clusters: usize = want.iter().map(|g| g.len()).sum();
    assert_eq!(report["stats"]["documents_in_clusters"], in_clusters);
    assert_eq!(
        report["stats"]["kept"],
        documents - in_clusters + want.len()
    );
}

/// A member is exact when another member of its cluster has the same text.
fn check_exact_flags(report: &Value, exact_groups: &[BTreeSet<String>]) {
    for c in clusters(report) {
        let rep = str_of(c, "representative");
        let ids: BTreeSet<&str> = c["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| str_of(m, "id"))
            .collect();
        for m in c["members"].as_array().unwrap() {
            let id = str_of(m, "id");
            let twin = exact_groups
                .iter()
                .any(|g| g.contains(id) && g.iter().any(|o| o != id && ids.contains(o.as_str())));
            assert_eq!(
                m["exact"],
                Value::Bool(twin),
                "member {id} of the cluster represented by {rep}"
            );
        }
    }
}

#[test]
fn exact_reposts_are_marked_exact() {
    let fx = Syndication::load();
    let exact_groups: Vec<BTreeSet<String>> = fx.expected["exact"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| strings(g).into_iter().collect())
        .collect();
    // With --keep first the original (first in the file) represents its cluster, so its repost
    // is an exact copy of the representative.
    let report = scan(&["--keep", "first", arg(&fx.corpus)]);
    for g in &exact_groups {
        for id in g {
            assert_eq!(member(&report, id)["exact"], true, "{id} in {g:?}");
            assert_eq!(member(&report, id)["similarity"], 1.0, "{id}");
        }
    }
    check_exact_flags(&report, &exact_groups);
    check_exact_flags(&scan(&[arg(&fx.corpus)]), &exact_groups);
    assert_eq!(report["stats"]["exact_duplicates"], exact_groups.len());
}

#[test]
fn truncated_copy_joins_its_full_version() {
    let fx = Syndication::load();
    let report = scan(&[arg(&fx.corpus)]);
    let clustered = cluster_of(&report);
    let truncated = fx.expected["truncated"].as_object().unwrap();
    assert!(!truncated.is_empty());
    for (short, full) in truncated {
        let full = full.as_str().unwrap();
        assert!(
            clustered.contains_key(short) && clustered.get(short) == clustered.get(full),
            "the truncated copy {short} must be in the cluster of {full}"
        );
        // It is a part of the longer representative: more contained than similar.
        let m = member(&report, short);
        let (sim, cont) = (
            m["similarity"].as_f64().unwrap(),
            m["containment"].as_f64().unwrap(),
        );
        assert!(
            cont > sim,
            "{short}: containment {cont} <= similarity {sim}"
        );
    }
}

fn unit_interval(v: &Value, what: &str) -> f64 {
    let x = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!((0.0..=1.0).contains(&x), "{what} = {x} is not in [0, 1]");
    x
}

#[test]
fn report_has_the_documented_shape() {
    let fx = Syndication::load();
    let report = scan(&[arg(&fx.corpus)]);
    let top = report.as_object().expect("the report is an object");
    for key in [
        "format",
        "clusters",
        "boilerplate",
        "stats",
        "params",
        "run",
    ] {
        assert!(top.contains_key(key), "the report has no {key}: {report}");
    }
    assert!(
        str_of(&report, "format").starts_with("syndic-report/"),
        "{}",
        report["format"]
    );
    assert!(!clusters(&report).is_empty());
    for c in clusters(&report) {
        assert!(c["id"].is_u64(), "cluster id: {c}");
        let rep = str_of(c, "representative");
        let members = c["members"].as_array().expect("members");
        assert_eq!(c["size"], members.len(), "size of cluster {rep}");
        assert!(members.len() >= 2, "a cluster has two members or more");
        for m in members {
            let id = str_of(m, "id");
            assert!(
                m["source"].is_string() || m["source"].is_null(),
                "{id}: source"
            );
            unit_interval(&m["similarity"], &format!("{id}: similarity"));
            unit_interval(&m["containment"], &format!("{id}: containment"));
            assert!(m["exact"].is_boolean(), "{id}: exact");
        }
        let first = &members[0];
        assert_eq!(str_of(first, "id"), rep, "the representative comes first");
        assert_eq!(first["similarity"], 1.0);
        assert_eq!(first["containment"], 1.0);
    }
    let b = &report["boilerplate"];
    assert!(b["status"].is_string(), "boilerplate.status: {b}");
    assert!(b["templates"].is_array(), "boilerplate.templates: {b}");
    assert!(
        b["lines_flagged"].is_u64(),
        "boilerplate.lines_flagged: {b}"
    );
    assert!(report["stats"]["documents"].is_u64());
    assert!(report["params"].is_object());
    assert!(report["run"].is_object());
    // The source field of the input is carried to the members.
    assert_eq!(member(&report, "a-orig")["source"], "site-a.example");
}

#[test]
fn clusters_and_members_are_sorted_deterministically() {
    let fx = Syndication::load();
    let position: BTreeMap<String, usize> = corpus_ids(&fx.corpus)
        .into_iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    for keep in ["first", "longest", "earliest"] {
        let report = scan(&["--keep", keep, arg(&fx.corpus)]);
        let mut last_first = None;
        for (i, c) in clusters(&report).iter().enumerate() {
            assert_eq!(c["id"], i, "cluster ids count from 0 in report order");
            let ids = member_ids(c);
            let pos: Vec<usize> = ids.iter().map(|id| position[id]).collect();
            // Members: the representative, then the others in input order.
            assert!(
                pos[1..].windows(2).all(|w| w[0] < w[1]),
                "--keep {keep}: members after the representative are not in input order: {ids:?}"
            );
            // Clusters: by the input position of their first member.
            let first = *pos.iter().min().unwrap();
            if let Some(l) = last_first {
                assert!(
                    l < first,
                    "--keep {keep}: clusters are not in input order of their first member"
                );
            }
            last_first = Some(first);
        }
    }
}

#[test]
fn scan_of_the_seeds_folder_prints_json_to_stdout() {
    let out = syndic().args(["scan", "seeds"]).assert().success();
    let report = parse_json(&out.get_output().stdout, "stdout of `syndic scan seeds`");
    assert_eq!(report["stats"]["documents"], 5);
    // Five different articles about one topic: no copies among them.
    assert_eq!(clusters(&report).len(), 0, "{}", report["clusters"]);
    // The summary goes to stderr, never into the report.
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(stderr.contains("documents"), "stderr: {stderr}");
}

#[test]
fn output_option_writes_the_report_to_a_file() {
    let fx = Syndication::load();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let out = syndic()
        .args(["scan", "-q", "-o", arg(&path), arg(&fx.corpus)])
        .assert()
        .success();
    assert!(
        out.get_output().stdout.is_empty(),
        "nothing on stdout with -o"
    );
    let from_file = without_run(read_json(&path));
    let from_stdout = without_run(scan(&[arg(&fx.corpus)]));
    assert_eq!(from_file, from_stdout);
}

#[test]
fn stdin_is_read_as_jsonl() {
    let fx = Syndication::load();
    let mut cmd = syndic();
    cmd.write_stdin(std::fs::read(&fx.corpus).unwrap());
    let from_stdin = scan_with(cmd, &["-"]);
    let from_file = scan(&[arg(&fx.corpus)]);
    assert_eq!(
        from_stdin["stats"]["documents"],
        from_file["stats"]["documents"]
    );
    assert_eq!(cluster_sets(&from_stdin), fx.group_sets());
    assert_eq!(
        without_run(from_stdin)["clusters"],
        without_run(from_file)["clusters"]
    );
}

/// The ids `dedup --annotate` writes, in order: every document of the input.
fn all_ids(cmd_dir: &Path, inputs: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("all.jsonl");
    syndic()
        .current_dir(cmd_dir)
        .args(["dedup", "-q", "--annotate", "-o", arg(&out)])
        .args(inputs)
        .assert()
        .success();
    read_jsonl(&out)
        .iter()
        .map(|r| str_of(r, "id").to_string())
        .collect()
}

#[test]
fn folder_input_reads_nested_compressed_files_with_relative_path_ids() {
    let folder = fixture("folder");
    let report = scan(&[arg(&folder)]);
    assert_eq!(report["stats"]["documents"], 5);
    // nested/deeper/c.txt.gz is a retitled copy of a.txt.
    assert_eq!(
        cluster_sets(&report),
        BTreeSet::from([set(&["a.txt", "nested/deeper/c.txt.gz"])])
    );
    // Ids are paths relative to the folder given, whatever the working directory; records of
    // JSONL files keep their own ids. Folders are walked in sorted order.
    let want = [
        "a.txt",
        "nested/b.txt",
        "nested/deeper/c.txt.gz",
        "zst-1",
        "zst-2",
    ];
    assert_eq!(all_ids(&fixture(""), &["folder"]), want);
    assert_eq!(all_ids(&folder, &["."]), want);
}

#[test]
fn several_inputs_at_once() {
    let fx = Syndication::load();
    // The corpus cut in two files gives what the whole file gives.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&fx.corpus).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let (pa, pb) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    std::fs::write(&pa, a.join("\n") + "\n").unwrap();
    std::fs::write(&pb, b.join("\n") + "\n").unwrap();
    let split = scan(&[arg(&pa), arg(&pb)]);
    assert_eq!(split["stats"]["documents"], lines.len());
    assert_eq!(cluster_sets(&split), fx.group_sets());

    // A folder and a JSONL file together: each seed joins the copies of its own story.
    let both = scan(&["seeds", arg(&fx.corpus)]);
    assert_eq!(both["stats"]["documents"], lines.len() + 5);
    let seed_file = |n: usize| -> String {
        let mut names: Vec<String> = std::fs::read_dir(root().join("seeds"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.starts_with(&format!("{n:03}_")))
            .collect();
        assert_eq!(names.len(), 1);
        names.pop().unwrap()
    };
    let mut want = BTreeSet::new();
    // Seed 0 is story a, seed 1 story c, seed 2 story b (see fixtures/make_fixtures.py).
    for (seed, story) in [(0, 'a'), (1, 'c'), (2, 'b')] {
        let mut g: BTreeSet<String> = fx
            .groups()
            .into_iter()
            .find(|g| g[0].starts_with(story))
            .unwrap()
            .into_iter()
            .collect();
        g.insert(seed_file(seed));
        want.insert(g);
    }
    want.insert(BTreeSet::from([seed_file(3), "u-seed3".to_string()]));
    want.insert(BTreeSet::from([seed_file(4), "u-seed4".to_string()]));
    let found = cluster_sets(&both);
    assert_eq!(
        found,
        want,
        "found:\n  {}\nexpected:\n  {}",
        show(&found),
        show(&want)
    );
}

// --- determinism ---------------------------------------------------------------------------------

fn scan_env(threads_env: Option<&str>, args: &[&str]) -> Value {
    let mut cmd = syndic();
    if let Some(n) = threads_env {
        cmd.env("RAYON_NUM_THREADS", n);
    }
    without_run(scan_with(cmd, args))
}

#[test]
fn thread_count_does_not_change_the_report() {
    for corpus in [
        fixture("syndication/corpus.jsonl"),
        fixture("boilerplate/corpus.jsonl"),
    ] {
        let c = arg(&corpus);
        let one = scan_env(Some("1"), &[c]);
        assert_eq!(
            one,
            scan_env(Some("2"), &[c]),
            "{c}: RAYON_NUM_THREADS=1 vs 2"
        );
        assert_eq!(one, scan_env(Some("3"), &[c]), "{c}: RAYON_NUM_THREADS=3");
        assert_eq!(
            one,
            scan_env(None, &["--threads", "1", c]),
            "{c}: --threads 1"
        );
        assert_eq!(one, scan_env(None, &["-j", "2", c]), "{c}: -j 2");
    }
}

/// A sort key for the line at index `i` of `n` lines.
type Order = fn(usize, usize) -> usize;

/// The same records in another order (the lines sorted by `key`, ties in file order).
fn reorder(src: &Path, dir: &Path, name: &str, key: Order) -> std::path::PathBuf {
    let text = std::fs::read_to_string(src).unwrap();
    let n = text.lines().count();
    let mut lines: Vec<(usize, &str)> = text.lines().enumerate().collect();
    lines.sort_by_key(|&(i, _)| (key(i, n), i));
    let out = dir.join(name);
    let body: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    std::fs::write(&out, body).unwrap();
    out
}

/// Flagged lines by document id, from `--annotations`.
fn annotations(corpus: &Path, dir: &Path) -> BTreeMap<String, Value> {
    let path = dir.join(format!(
        "{}.annotations.jsonl",
        corpus.file_name().unwrap().to_string_lossy()
    ));
    syndic()
        .args([
            "scan",
            "-q",
            "-o",
            arg(&dir.join("r.json")),
            "--annotations",
            arg(&path),
        ])
        .arg(corpus)
        .assert()
        .success();
    read_jsonl(&path)
        .into_iter()
        .map(|a| (str_of(&a, "id").to_string(), a["boilerplate_lines"].clone()))
        .collect()
}

#[test]
fn input_order_does_not_change_the_clusters() {
    let dir = tempfile::tempdir().unwrap();
    for corpus in [
        fixture("syndication/corpus.jsonl"),
        fixture("boilerplate/corpus.jsonl"),
    ] {
        let base = scan(&[arg(&corpus)]);
        let base_flags = annotations(&corpus, dir.path());
        let orders: [(&str, Order); 2] = [
            ("reversed.jsonl", |i, n| n - i),
            ("strided.jsonl", |i, _| (i * 7) % 11),
        ];
        for (name, key) in orders {
            let other = reorder(&corpus, dir.path(), name, key);
            assert_ne!(
                corpus_ids(&other),
                corpus_ids(&corpus),
                "{name} is another order"
            );
            let report = scan(&[arg(&other)]);
            assert_eq!(
                cluster_sets(&report),
                cluster_sets(&base),
                "{}: clusters of {name}",
                corpus.display()
            );
            assert_eq!(report["stats"]["documents"], base["stats"]["documents"]);
            assert_eq!(
                annotations(&other, dir.path()),
                base_flags,
                "{}: flagged lines of {name}",
                corpus.display()
            );
        }
    }
}
