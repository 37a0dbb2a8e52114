//! `syndic dedup` over `fixtures/syndication`: what is kept, byte for byte and in order; the
//! annotations of `--annotate`; the representative each `--keep` policy chooses.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use serde_json::Value;

/// Runs `dedup -q ARGS... -o OUT --report REPORT CORPUS`; returns the output lines and the report.
fn dedup(dir: &Path, name: &str, args: &[&str], corpus: &Path) -> (Vec<String>, Value) {
    let out = dir.join(format!("{name}.jsonl"));
    let rep = dir.join(format!("{name}.report.json"));
    syndic()
        .args(["dedup", "-q"])
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg("--report")
        .arg(&rep)
        .arg(corpus)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "every record ends with a newline"
    );
    (text.lines().map(str::to_string).collect(), read_json(&rep))
}

fn input_lines(corpus: &Path) -> Vec<String> {
    std::fs::read_to_string(corpus)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn id_of(line: &str) -> String {
    str_of(&parse_json(line.as_bytes(), "an output record"), "id").to_string()
}

#[test]
fn keeps_singletons_and_one_representative_per_cluster_unchanged_and_in_order() {
    let fx = Syndication::load();
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = dedup(dir.path(), "clean", &[], &fx.corpus);
    let input = input_lines(&fx.corpus);

    // Byte for byte, in input order: the output is a subsequence of the input lines.
    let mut rest = input.iter();
    for line in &out {
        assert!(
            rest.any(|l| l == line),
            "not an input line, or out of order: {line}"
        );
    }

    let kept: Vec<String> = out.iter().map(|l| id_of(l)).collect();
    let kept_set: BTreeSet<String> = kept.iter().cloned().collect();
    assert_eq!(kept_set.len(), kept.len(), "no record written twice");
    for id in fx.singletons() {
        assert!(kept_set.contains(&id), "the singleton {id} is kept");
    }
    for g in fx.groups() {
        let k: Vec<&String> = g.iter().filter(|id| kept_set.contains(*id)).collect();
        assert_eq!(k.len(), 1, "one document of {g:?} is kept, not {k:?}");
    }
    assert_eq!(kept.len(), fx.singletons().len() + fx.groups().len());
    // The kept copy is the one the report names.
    for c in clusters(&report) {
        assert!(kept_set.contains(str_of(c, "representative")));
    }
    assert_eq!(report["stats"]["kept"], kept.len());
    assert_eq!(report["stats"]["removed"], input.len() - kept.len());
}

#[test]
fn output_to_stdout_is_the_same() {
    let fx = Syndication::load();
    let dir = tempfile::tempdir().unwrap();
    let (to_file, _) = dedup(dir.path(), "file", &[], &fx.corpus);
    let out = syndic()
        .args(["dedup", "-q", "-o", "-"])
        .arg(&fx.corpus)
        .assert()
        .success();
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), to_file);
}

#[test]
fn annotate_keeps_every_record_and_adds_cluster_id_size_and_duplicate_of() {
    let fx = Syndication::load();
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = dedup(dir.path(), "annotated", &["--annotate"], &fx.corpus);
    let input = read_jsonl(&fx.corpus);
    assert_eq!(out.len(), input.len(), "every record is written");

    let cluster = cluster_of(&report);
    let reps: Vec<String> = clusters(&report)
        .iter()
        .map(|c| str_of(c, "representative").to_string())
        .collect();
    let mut ids_by_cluster: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (orig, line) in input.iter().zip(&out) {
        let mut got = parse_json(line.as_bytes(), "an annotated record");
        let id = str_of(orig, "id").to_string();
        let obj = got.as_object_mut().unwrap();
        let cid = obj
            .remove("minhash_cluster_id")
            .unwrap_or_else(|| panic!("{id}: no minhash_cluster_id"));
        let size = obj
            .remove("minhash_cluster_size")
            .unwrap_or_else(|| panic!("{id}: no minhash_cluster_size"));
        let dup_of = obj
            .remove("duplicate_of")
            .unwrap_or_else(|| panic!("{id}: no duplicate_of"));
        assert_eq!(&got, orig, "{id}: the record is otherwise unchanged");
        match cluster.get(&id) {
            None => {
                assert_eq!(cid, -1, "{id} is in no cluster");
                assert_eq!(size, 1, "{id} is in no cluster");
                assert_eq!(dup_of, Value::Null, "{id} is in no cluster");
            }
            Some(&c) => {
                let c_id = clusters(&report)[c]["id"].clone();
                assert_eq!(
                    size,
                    clusters(&report)[c]["size"],
                    "{id}: its cluster's size"
                );
                assert_eq!(cid, c_id, "{id}: cluster_id is the report's cluster id");
                if reps[c] == id {
                    assert_eq!(dup_of, Value::Null, "{id} is a representative");
                } else {
                    assert_eq!(dup_of, reps[c].as_str(), "{id}: duplicate_of");
                }
                ids_by_cluster
                    .entry(cid.as_u64().expect("cluster_id is a number"))
                    .or_default()
                    .insert(id);
            }
        }
    }
    let found: BTreeSet<BTreeSet<String>> = ids_by_cluster.into_values().collect();
    assert_eq!(found, fx.group_sets());
}

#[test]
fn keep_policies_choose_the_documented_representative() {
    let fx = Syndication::load();
    let dir = tempfile::tempdir().unwrap();
    let mut chosen = BTreeMap::new();
    for policy in ["first", "longest", "earliest"] {
        let (out, report) = dedup(dir.path(), policy, &["--keep", policy], &fx.corpus);
        let kept: BTreeSet<String> = out.iter().map(|l| id_of(l)).collect();
        let want = fx.keep(policy);
        for (story, id) in &want {
            let group = fx
                .groups()
                .into_iter()
                .find(|g| g[0].starts_with(story.as_str()))
                .unwrap();
            let k: Vec<&String> = group.iter().filter(|g| kept.contains(*g)).collect();
            assert_eq!(k, vec![id], "--keep {policy} keeps {id} of {group:?}");
            let c = &clusters(&report)[cluster_of(&report)[id]];
            assert_eq!(
                str_of(c, "representative"),
                id,
                "--keep {policy}: representative"
            );
        }
        assert_eq!(report["params"]["keep"], policy);
        chosen.insert(policy, out);
    }
    // The policies differ on this fixture (else the test would prove little), and the default
    // is `longest`.
    assert_ne!(chosen["first"], chosen["longest"]);
    assert_ne!(chosen["first"], chosen["earliest"]);
    assert_ne!(chosen["longest"], chosen["earliest"]);
    let (default, _) = dedup(dir.path(), "default", &[], &fx.corpus);
    assert_eq!(default, chosen["longest"]);
}

/// `-o clean.jsonl.gz` and `.zst` write compressed JSONL: the same records as `-o clean.jsonl`,
/// and a scan of the compressed output finds what a scan of the plain one finds.
#[test]
fn outputs_are_compressed_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = fixture("syndication/corpus.jsonl");
    let (plain, _) = dedup(dir.path(), "plain", &[], &corpus);
    for (name, magic) in [
        ("clean.jsonl.gz", &[0x1f, 0x8b][..]),
        ("clean.jsonl.zst", &[0x28, 0xb5, 0x2f, 0xfd][..]),
    ] {
        let out = dir.path().join(name);
        let rep = dir.path().join(format!("{name}.report.json.gz"));
        syndic()
            .args(["dedup", "-q", "-o"])
            .arg(&out)
            .arg("--report")
            .arg(&rep)
            .arg(&corpus)
            .assert()
            .success();
        let raw = std::fs::read(&out).unwrap();
        assert!(raw.starts_with(magic), "{name} is compressed");
        let back = if name.ends_with(".gz") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&raw[..]), &mut s)
                .unwrap();
            s
        } else {
            String::from_utf8(zstd::decode_all(&raw[..]).unwrap()).unwrap()
        };
        assert_eq!(back.lines().collect::<Vec<_>>(), plain, "{name}");
        // The report is compressed too, and syndic reads its own outputs back.
        let rep_raw = std::fs::read(&rep).unwrap();
        assert!(rep_raw.starts_with(&[0x1f, 0x8b]), "report.json.gz is gzip");
        let again = syndic().args(["scan", "-q"]).arg(&out).output().unwrap();
        assert!(again.status.success());
        let r: Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(r["stats"]["documents"], plain.len(), "{name} read back");
    }
}

/// Outputs get the mode the umask allows (0640 under umask 027), not the temporary file's 0600.
#[cfg(unix)]
#[test]
fn outputs_get_the_usual_mode_under_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clean.jsonl");
    let rep = dir.path().join("report.json");
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"umask 027 && exec "$0" dedup -q -o "$1" --report "$2" "$3""#)
        .arg(assert_cmd::cargo::cargo_bin("syndic"))
        .arg(&out)
        .arg(&rep)
        .arg(fixture("syndication/corpus.jsonl"))
        .status()
        .unwrap();
    assert!(status.success());
    for p in [&out, &rep] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{}: {mode:o}", p.display());
    }
}

/// `--annotate` keeps the records that are no document too (row for row with the input), each
/// with why it was skipped; without `--annotate` they are left out.
#[test]
fn annotate_keeps_skipped_records_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("mixed.jsonl");
    let syn = std::fs::read_to_string(fixture("syndication/corpus.jsonl")).unwrap();
    let mut lines: Vec<String> = syn.lines().take(6).map(str::to_string).collect();
    lines.insert(2, "{\"id\": \"broken\", \"text\": ".into());
    lines.insert(4, "[1, 2]".into());
    lines.push(lines[0].clone()); // a duplicate id
    lines.push("{\"id\": \"no-text\"}".into());
    std::fs::write(&corpus, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("annotated.jsonl");
    syndic()
        .args(["dedup", "-q", "--on-error", "skip", "--annotate", "-o"])
        .arg(&out)
        .arg(&corpus)
        .assert()
        .success();
    let rows = read_jsonl(&out);
    assert_eq!(rows.len(), lines.len(), "one row per input line");
    let reasons: Vec<Option<&str>> = rows.iter().map(|r| r["skip_reason"].as_str()).collect();
    let mut want = vec![None; lines.len()];
    want[2] = Some("malformed_json");
    want[4] = Some("not_an_object");
    want[lines.len() - 2] = Some("duplicate_id");
    want[lines.len() - 1] = Some("missing_text");
    assert_eq!(reasons, want);
    assert_eq!(
        rows[2]["raw"],
        lines[2].as_str(),
        "the unreadable line, as a string"
    );
    assert_eq!(
        rows[lines.len() - 1]["id"],
        "no-text",
        "a skipped object keeps its fields"
    );
    for r in &rows {
        assert!(r["minhash_cluster_id"].is_i64(), "{r}");
    }
    // Without --annotate the skipped records are not written.
    let clean = dir.path().join("clean.jsonl");
    syndic()
        .args(["dedup", "-q", "--on-error", "skip", "-o"])
        .arg(&clean)
        .arg(&corpus)
        .assert()
        .success();
    assert!(read_jsonl(&clean)
        .iter()
        .all(|r| r.get("skip_reason").is_none()));
}

/// A record that already has a field `--annotate` writes is an error naming the record and the
/// field (nothing is overwritten, no output is left); `--annotate-prefix` names other fields.
#[test]
fn annotate_refuses_to_overwrite_a_field() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("has.jsonl");
    let syn = std::fs::read_to_string(fixture("syndication/corpus.jsonl")).unwrap();
    let mut recs: Vec<Value> = syn
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    recs[3]["duplicate_of"] = Value::from("theirs");
    let text: String = recs.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&corpus, text).unwrap();
    let out = dir.path().join("annotated.jsonl");
    let got = syndic()
        .args(["dedup", "-q", "--annotate", "-o"])
        .arg(&out)
        .arg(&corpus)
        .output()
        .unwrap();
    assert_eq!(got.status.code(), Some(1));
    let err = String::from_utf8_lossy(&got.stderr);
    assert!(
        err.contains("has.jsonl:4")
            && err.contains("\"duplicate_of\"")
            && err.contains("--annotate-prefix"),
        "{err}"
    );
    assert!(!out.exists(), "no output");
    syndic()
        .args([
            "dedup",
            "-q",
            "--annotate",
            "--annotate-prefix",
            "syndic_",
            "-o",
        ])
        .arg(&out)
        .arg(&corpus)
        .assert()
        .success();
    let rows = read_jsonl(&out);
    assert_eq!(rows[3]["duplicate_of"], "theirs", "left as it was");
    assert!(rows
        .iter()
        .all(|r| r["syndic_minhash_cluster_size"].is_u64()));
}
