//! `syndic index`: the real binary over fixtures and temp dirs. An index filled batch by batch
//! exports the scan's clusters; check finds copies; every command; damaged files; a killed add
//! (at every file operation, and at random moments) leaves the old or the new commit.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use common::{arg, cluster_sets, fixture, parse_json, read_json, read_jsonl, syndic};
use serde_json::Value;

/// The lines of a gzip-compressed fixture.
fn gz_lines(rel: &str) -> Vec<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(fixture(rel)).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text.lines().map(str::to_string).collect()
}

fn write_lines(path: &Path, lines: &[String]) -> PathBuf {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    path.to_path_buf()
}

fn create(dir: &Path, opts: &[&str]) {
    syndic()
        .args(["index", "create", arg(dir), "-q"])
        .args(opts)
        .assert()
        .success();
}

fn add(dir: &Path, input: &Path) {
    syndic()
        .args(["index", "add", arg(dir), arg(input), "-q"])
        .assert()
        .success();
}

fn export(dir: &Path) -> Value {
    let out = syndic()
        .args(["index", "export", arg(dir), "-q"])
        .assert()
        .success();
    parse_json(&out.get_output().stdout, "the export")
}

fn stats(dir: &Path) -> Value {
    let out = syndic()
        .args(["index", "stats", arg(dir)])
        .assert()
        .success();
    parse_json(&out.get_output().stdout, "the stats")
}

fn check(dir: &Path, input: &Path) -> Vec<Value> {
    let out = syndic()
        .args(["index", "check", arg(dir), arg(input), "-q"])
        .assert()
        .success();
    String::from_utf8(out.get_output().stdout.clone())
        .unwrap()
        .lines()
        .map(|l| parse_json(l.as_bytes(), "an answer"))
        .collect()
}

/// gen_news 2k added in 4 batches exports the clusters, boilerplate and counts of a scan of the
/// whole corpus on the signatures (same members, same representatives); the line statistics
/// grow with each batch.
#[test]
fn batches_export_the_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = gz_lines("bench/news2k.jsonl.gz");
    let idx = tmp.path().join("idx");
    create(&idx, &[]);
    let mut furniture = Vec::new();
    for (b, part) in lines.chunks(lines.len().div_ceil(4)).enumerate() {
        let p = write_lines(&tmp.path().join(format!("part{b}.jsonl")), part);
        add(&idx, &p);
        furniture.push(stats(&idx)["furniture_lines"].as_u64().unwrap());
    }
    assert!(furniture[0] > 0, "furniture found: {furniture:?}");
    assert!(furniture.windows(2).all(|w| w[0] <= w[1]), "{furniture:?}");
    let all = write_lines(&tmp.path().join("all.jsonl"), &lines);
    // An index verifies on the signatures: the scan it matches is `--verify estimate`'s.
    let scan = common::scan(&["--verify", "estimate", arg(&all)]);
    let exported = export(&idx);
    assert_eq!(exported["clusters"], scan["clusters"]);
    assert_eq!(exported["boilerplate"], scan["boilerplate"]);
    for k in [
        "documents",
        "clusters",
        "kept",
        "exact_duplicates",
        "near_duplicates",
    ] {
        assert_eq!(exported["stats"][k], scan["stats"][k], "{k}");
    }
    assert_eq!(stats(&idx)["documents"], lines.len());
}

/// Documents held out of the index are checked against it: their copies among the indexed
/// documents are found (pairwise F1 >= 0.98 against the generator's stories), one answer per
/// document in input order, nothing added.
#[test]
fn check_finds_the_copies_of_new_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = gz_lines("bench/news2k.jsonl.gz");
    let story: HashMap<String, String> = gz_lines("bench/news2k.truth.jsonl.gz")
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                common::str_of(&v, "id").into(),
                common::str_of(&v, "story").into(),
            )
        })
        .collect();
    // Every seventh document is new.
    let (held, rest): (Vec<_>, Vec<_>) = lines.iter().enumerate().partition(|(i, _)| i % 7 == 3);
    let held: Vec<String> = held.into_iter().map(|(_, l)| l.clone()).collect();
    let rest: Vec<String> = rest.into_iter().map(|(_, l)| l.clone()).collect();
    let idx = tmp.path().join("idx");
    create(&idx, &[]);
    add(&idx, &write_lines(&tmp.path().join("rest.jsonl"), &rest));
    let held_path = write_lines(&tmp.path().join("held.jsonl"), &held);
    let answers = check(&idx, &held_path);
    let ids: Vec<String> = held
        .iter()
        .map(|l| common::str_of(&serde_json::from_str(l).unwrap(), "id").to_string())
        .collect();
    let got: Vec<&str> = answers.iter().map(|a| common::str_of(a, "id")).collect();
    assert_eq!(got, ids, "one answer per document, in input order");
    let mut by_story: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for l in &rest {
        let v: Value = serde_json::from_str(l).unwrap();
        let id = common::str_of(&v, "id").to_string();
        by_story
            .entry(story[&id].as_str())
            .or_default()
            .insert(story.get_key_value(&id).unwrap().0.as_str());
    }
    let (mut tp, mut pred, mut truth) = (0, 0, 0);
    for a in &answers {
        let same = by_story
            .get(story[common::str_of(a, "id")].as_str())
            .cloned()
            .unwrap_or_default();
        let matches: BTreeSet<&str> = a["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| common::str_of(m, "id"))
            .collect();
        assert_eq!(a["duplicate"], !matches.is_empty());
        assert_eq!(a["cluster"].is_null(), matches.is_empty());
        tp += matches.intersection(&same).count();
        pred += matches.len();
        truth += same.len();
    }
    let (p, r) = (tp as f64 / pred as f64, tp as f64 / truth as f64);
    let f1 = 2.0 * p * r / (p + r);
    assert!(truth > 100 && f1 >= 0.98, "P {p} R {r} F1 {f1}");
    assert_eq!(stats(&idx)["documents"], rest.len(), "check adds nothing");
}

/// The syndication fixture, added, answers a check of its own documents with themselves and
/// their copies; the cluster named is a document of the index.
#[test]
fn check_names_matches_and_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    create(&idx, &[]);
    let corpus = fixture("syndication/corpus.jsonl");
    add(&idx, &corpus);
    let answers = check(&idx, &corpus);
    let ids = common::corpus_ids(&corpus);
    assert_eq!(answers.len(), ids.len());
    let scan = common::scan(&[arg(&corpus)]);
    let of = common::cluster_of(&scan);
    for a in &answers {
        let id = common::str_of(a, "id");
        let matches: Vec<&str> = a["matches"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| common::str_of(m, "id"))
            .collect();
        // A non-empty text finds itself, with similarity 1.
        if a["duplicate"] == true {
            assert!(matches.contains(&id), "{a}");
            assert!(ids.contains(&a["cluster"].as_str().unwrap().to_string()));
        }
        // Documents the scan clusters together find one another.
        if let Some(c) = of.get(id) {
            let others = of
                .iter()
                .filter(|(o, oc)| *oc == c && o.as_str() != id)
                .count();
            assert!(others == 0 || matches.len() >= 2, "{id}: {a}");
        }
    }
}

/// Any split of a corpus into batches exports the same clusters as the scan of the whole.
mod split {
    use super::*;
    use proptest::prelude::*;
    use syndic::index::Index;
    use syndic::{pipeline, report, Config, Corpus, Document, OnError};

    fn documents() -> Vec<Document> {
        ["syndication/corpus.jsonl", "boilerplate/corpus.jsonl"]
            .iter()
            .flat_map(|f| read_jsonl(&fixture(f)))
            .map(|v| Document {
                id: Some(v["id"].as_str().unwrap().to_string()),
                text: v["text"].as_str().unwrap().to_string(),
                source: v["source"].as_str().map(str::to_string),
                date: v["date"].as_str().map(str::to_string),
            })
            .collect()
    }

    fn clusters(scan: &pipeline::Scan, cfg: &Config) -> Value {
        serde_json::to_value(report::build(scan, cfg, Default::default()).clusters).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
        #[test]
        fn any_batch_split_exports_the_same(cuts in proptest::collection::btree_set(1usize..39, 0..6)) {
            let docs = documents();
            let cfg = Config::default();
            let whole = pipeline::scan(&Corpus::from_documents(docs.clone()), &cfg, &pipeline::Quiet).unwrap();
            let tmp = tempfile::tempdir().unwrap();
            let mut index = Index::create(tmp.path(), &cfg).unwrap();
            let mut from = 0;
            for to in cuts.into_iter().chain([docs.len()]) {
                let to = to.min(docs.len());
                if to <= from { continue; }
                let batch = Corpus::from_documents(docs[from..to].to_vec());
                index = index.add(&batch, &Default::default(), OnError::Fail).unwrap().0;
                from = to;
            }
            prop_assert_eq!(index.len(), docs.len() as u64);
            let exported = index.export(syndic::Budget::UNLIMITED, &pipeline::Quiet).unwrap();
            prop_assert_eq!(clusters(&exported, &cfg), clusters(&whole, &cfg));
        }
    }
}

/// create fixes the parameters: the same again is fine, others are an error naming them.
#[test]
fn create_refuses_other_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    create(&idx, &["--threshold", "0.6"]);
    create(&idx, &["--threshold", "0.6"]);
    syndic()
        .args([
            "index",
            "create",
            arg(&idx),
            "--threshold",
            "0.7",
            "--shingle",
            "5",
        ])
        .assert()
        .failure()
        .stderr(predicates::str::contains("threshold: index 0.6, given 0.7"))
        .stderr(predicates::str::contains("shingle: index 7, given 5"));
    syndic()
        .args([
            "index",
            "add",
            arg(&tmp.path().join("none")),
            arg(&fixture("syndication/corpus.jsonl")),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("not an index"));
}

/// Ids already indexed, or repeated within a batch, are refused as a scan refuses repeated
/// ids; with --on-error skip they are counted and the rest is added.
#[test]
fn add_refuses_known_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    create(&idx, &[]);
    let corpus = fixture("syndication/corpus.jsonl");
    add(&idx, &corpus);
    let n = common::corpus_ids(&corpus).len();
    syndic()
        .args(["index", "add", arg(&idx), arg(&corpus)])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("duplicate document id"))
        .stderr(predicates::str::contains("corpus.jsonl:1"));
    assert_eq!(stats(&idx)["documents"], n, "nothing added by a failed add");
    let extra = write_lines(
        &tmp.path().join("extra.jsonl"),
        &[
            r#"{"id": "new1", "text": "a new story about the harbour"}"#.to_string(),
            r#"{"id": "new1", "text": "the same id again"}"#.to_string(),
        ],
    );
    syndic()
        .args([
            "index",
            "add",
            arg(&idx),
            arg(&corpus),
            arg(&extra),
            "--on-error",
            "skip",
        ])
        .assert()
        .success()
        .stderr(predicates::str::contains("1 document added"))
        .stderr(predicates::str::contains(format!(
            "{} records skipped",
            n + 1
        )));
    assert_eq!(stats(&idx)["documents"], n + 1);
}

/// Deleted and expired documents leave every later answer: check, export and stats.
#[test]
fn delete_and_expire_remove_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    create(&idx, &[]);
    let corpus = fixture("syndication/corpus.jsonl");
    add(&idx, &corpus);
    let before = export(&idx);
    let victim = common::member_ids(&common::clusters(&before)[0])[0].clone();
    let ids = write_lines(
        &tmp.path().join("ids.txt"),
        &[victim.clone(), "no-such-id".into()],
    );
    syndic()
        .args(["index", "delete", arg(&idx), "--ids", arg(&ids)])
        .assert()
        .success()
        .stderr(predicates::str::contains(
            "1 document deleted (1 of the 2 ids not in the index)",
        ));
    let answers = check(&idx, &corpus);
    let text = serde_json::to_string(&answers).unwrap();
    let mentions = answers
        .iter()
        .flat_map(|a| a["matches"].as_array().unwrap())
        .any(|m| m["id"] == victim.as_str())
        || answers.iter().any(|a| a["cluster"] == victim.as_str());
    assert!(!mentions, "{victim} in {text}");
    let after = export(&idx);
    assert!(!serde_json::to_string(&after)
        .unwrap()
        .contains(&format!("\"{victim}\"")));
    assert_eq!(
        after["stats"]["documents"].as_u64().unwrap() + 1,
        before["stats"]["documents"].as_u64().unwrap()
    );
    // The id is free again.
    let again = write_lines(
        &tmp.path().join("again.jsonl"),
        &[format!(
            r#"{{"id": "{victim}", "text": "back with another text"}}"#
        )],
    );
    add(&idx, &again);

    // Expiry by date.
    let dated = write_lines(
        &tmp.path().join("dated.jsonl"),
        &[
            r#"{"id": "old", "date": "2020-01-01", "text": "an old story about rain in the valley and the river"}"#.to_string(),
            r#"{"id": "new", "date": "2024-01-01", "text": "a recent story about the dry summer and the harvest"}"#.to_string(),
        ],
    );
    let idx2 = tmp.path().join("idx2");
    create(&idx2, &[]);
    add(&idx2, &dated);
    syndic()
        .args(["index", "expire", arg(&idx2), "--before", "2023-01-01"])
        .assert()
        .success()
        .stderr(predicates::str::contains("1 document expired; 1 left"));
    let answers = check(&idx2, &dated);
    assert_eq!(answers[0]["duplicate"], false, "{:?}", answers);
    assert_eq!(answers[1]["matches"][0]["id"], "new");
    syndic()
        .args(["index", "expire", arg(&idx2), "--before", "not a date"])
        .assert()
        .code(2);
}

/// verify passes a sound index and names the damaged file of a broken one (exit 1); a damaged
/// index is not opened for an add, and nothing is overwritten.
#[test]
fn verify_names_damaged_files() {
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    create(&idx, &[]);
    add(&idx, &fixture("syndication/corpus.jsonl"));
    syndic()
        .args(["index", "verify", arg(&idx)])
        .assert()
        .success()
        .stderr(predicates::str::contains("sound"));
    let seg = std::fs::read_dir(&idx)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "syx"))
        .unwrap();
    let name = seg.file_name().unwrap().to_str().unwrap().to_string();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x55;
    std::fs::write(&seg, &bytes).unwrap();
    syndic()
        .args(["index", "verify", arg(&idx)])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(format!("damaged: {name}")));
    std::fs::remove_file(&seg).unwrap();
    syndic()
        .args(["index", "verify", arg(&idx)])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(&name));
    syndic()
        .args([
            "index",
            "add",
            arg(&idx),
            arg(&fixture("boilerplate/corpus.jsonl")),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(&name));
    let manifest = idx.join("MANIFEST");
    let mut m = std::fs::read(&manifest).unwrap();
    m[10] ^= 1;
    std::fs::write(&manifest, &m).unwrap();
    syndic()
        .args(["index", "verify", arg(&idx)])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("MANIFEST"));
    assert_eq!(std::fs::read(&manifest).unwrap(), m, "nothing overwritten");
}

/// The state of an index as answers show it: its documents and export.
fn state(dir: &Path) -> (u64, BTreeSet<BTreeSet<String>>) {
    syndic()
        .args(["index", "verify", arg(dir)])
        .assert()
        .success();
    (
        stats(dir)["documents"].as_u64().unwrap(),
        cluster_sets(&export(dir)),
    )
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// An add aborted at each of its file operations in turn (a fail point that stops the process
/// as kill -9 does; this add also merges eight segments) leaves an index that opens, verifies
/// and holds either the old commit or the new one; the next add goes through.
#[test]
fn killed_add_leaves_old_or_new_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let lines: Vec<String> = std::fs::read_to_string(fixture("syndication/corpus.jsonl"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let base = tmp.path().join("base");
    create(&base, &[]);
    // Seven small segments: the next add makes the eighth and merges them.
    for (b, part) in lines[..18].chunks(3).enumerate() {
        add(
            &base,
            &write_lines(&tmp.path().join(format!("p{b}.jsonl")), part),
        );
    }
    let next = write_lines(&tmp.path().join("next.jsonl"), &lines[18..]);
    let old = state(&base);
    let full = tmp.path().join("full");
    copy_dir(&base, &full);
    add(&full, &next);
    let new = state(&full);
    assert_ne!(old.0, new.0);
    let work = tmp.path().join("work");
    let mut aborted = 0;
    for n in 1.. {
        copy_dir(&base, &work);
        let out = syndic()
            .args(["index", "add", arg(&work), arg(&next), "-q"])
            .env("SYNDIC_INDEX_FAILPOINT", n.to_string())
            .output()
            .unwrap();
        let got = state(&work);
        assert!(got == old || got == new, "fail point {n}: {got:?}");
        if out.status.success() {
            assert_eq!(got, new);
            break;
        }
        aborted += 1;
        // The next add (with no fail point) commits, cleaning what the killed one left.
        if got == old {
            add(&work, &next);
        } else {
            add(&work, &write_lines(&tmp.path().join("empty.jsonl"), &[]));
        }
        assert_eq!(state(&work), new, "after fail point {n}");
        let names: Vec<String> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }
    assert!(aborted >= 10, "{aborted} fail points");
}

/// A real add killed with SIGKILL at moments spread over its run leaves the old or the new
/// commit.
#[cfg(unix)]
#[test]
fn sigkilled_add_leaves_old_or_new_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = gz_lines("bench/news2k.jsonl.gz");
    let base = tmp.path().join("base");
    create(&base, &[]);
    add(
        &base,
        &write_lines(&tmp.path().join("a.jsonl"), &lines[..500]),
    );
    let next = write_lines(&tmp.path().join("b.jsonl"), &lines[500..1000]);
    let old = state(&base);
    let full = tmp.path().join("full");
    copy_dir(&base, &full);
    add(&full, &next);
    let new = state(&full);
    let work = tmp.path().join("work");
    let mut seed = 0x9e37_79b9_u64;
    for _ in 0..6 {
        copy_dir(&base, &work);
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = std::time::Duration::from_millis((seed >> 33) % 1500);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_syndic"))
            .args(["index", "add", arg(&work), arg(&next), "-q"])
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        let got = state(&work);
        assert!(
            got == old || got == new,
            "killed after {delay:?}: {} documents",
            got.0
        );
    }
}

/// The second rule: a copy at containment 0.65 (the thresholds fixture's pair under 0.7) is a
/// match when both documents are dated within a day, answered without a cluster (in a scan such
/// a pair is a link), and no match when they are three days apart.
#[test]
fn check_answers_copies_dated_within_a_day_without_a_cluster() {
    let e = read_json(&fixture("thresholds/expected.json"));
    let (a, b) = (
        e["containment"]["below"][0].as_str().unwrap(),
        e["containment"]["below"][1].as_str().unwrap(),
    );
    let dated = |id: &str, day: u32| -> String {
        let mut r = read_jsonl(&fixture("thresholds/corpus.jsonl"))
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap();
        r["date"] = format!("2015-07-{day:02}").into();
        r.to_string()
    };
    let tmp = tempfile::tempdir().unwrap();
    let idx = tmp.path().join("idx");
    // Wide banding makes the pair (Jaccard 0.23) a candidate, and long signatures bring its
    // estimated containment near the true one (0.654 at 1,024 values; 0.79 at 128): the rule is
    // what is tested here.
    create(
        &idx,
        &["--num-perm", "1024", "--bands", "512", "--rows", "2"],
    );
    add(
        &idx,
        &write_lines(&tmp.path().join("a.jsonl"), &[dated(a, 1)]),
    );
    let answer = |day: u32| {
        let q = write_lines(&tmp.path().join("q.jsonl"), &[dated(b, day)]);
        check(&idx, &q).remove(0)
    };
    let next_day = answer(2);
    assert_eq!(next_day["duplicate"], true, "{next_day}");
    assert_eq!(next_day["matches"][0]["id"], a, "{next_day}");
    assert!(next_day["cluster"].is_null(), "{next_day}");
    let later = answer(4);
    assert_eq!(later["duplicate"], false, "{later}");
}
