//! Real corpora as they come, through the `syndic` binary: empty texts and empty files, folders
//! of shards beside other files, CSV and TSV, nested and missing fields.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

/// Runs `syndic` with `args`; the exit code, stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = syndic().args(args).output().expect("syndic runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ids_of(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| str_of(r, "id").to_string()).collect()
}

// --- empty texts -------------------------------------------------------------------------------

/// The empty texts of `fixtures/empty` are documents under the default policy: counted, in no
/// cluster (not even with one another), kept by `dedup`, and annotated in their rows.
#[test]
fn empty_texts_are_documents_that_are_never_clustered() {
    let corpus = fixture("empty/corpus.jsonl");
    let report = scan(&[arg(&corpus)]);
    let stats = &report["stats"];
    assert_eq!(stats["documents"], 7, "{stats}");
    assert_eq!(stats["empty_documents"], 4, "{stats}");
    assert_eq!(stats["skipped"]["total"], 0, "{stats}");
    assert_eq!(stats["exact_duplicates"], 0, "{stats}");
    let want: std::collections::BTreeSet<_> =
        [["e1", "e3"].iter().map(|s| s.to_string()).collect()].into();
    assert_eq!(cluster_sets(&report), want);

    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl");
    let (code, _, err) = run(&["dedup", "-q", "-o", arg(&clean), arg(&corpus)]);
    assert_eq!(code, Some(0), "{err}");
    // The longer copy is kept (--keep longest); every empty row is kept.
    assert_eq!(
        ids_of(&read_jsonl(&clean)),
        ["e2", "e3", "e4", "e5", "e6", "e7"],
        "the empty rows are kept"
    );
    let annotated = dir.path().join("annotated.jsonl");
    let (code, _, err) = run(&[
        "dedup",
        "-q",
        "--annotate",
        "-o",
        arg(&annotated),
        arg(&corpus),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let rows = read_jsonl(&annotated);
    assert_eq!(
        ids_of(&rows),
        corpus_ids(&corpus),
        "one row per record, in order"
    );
    for r in &rows {
        let empty = r["text"].as_str().unwrap().trim().is_empty();
        if empty {
            assert_eq!(r["minhash_cluster_id"], -1, "{r}");
            assert_eq!(r["minhash_cluster_size"], 1, "{r}");
            assert_eq!(r["duplicate_of"], Value::Null, "{r}");
        }
    }
}

// --- fields ------------------------------------------------------------------------------------

/// The syndication corpus with each record's fields moved into nested objects.
fn nested_corpus(dir: &Path) -> std::path::PathBuf {
    let mut out = String::new();
    for r in read_jsonl(&fixture("syndication/corpus.jsonl")) {
        let nested = serde_json::json!({
            "doc": {"id": r["id"]},
            "body": {"text": r["text"], "title": "not read"},
            "meta": {"source": r["source"], "date": r.get("date")},
        });
        out += &format!("{nested}\n");
    }
    let p = dir.join("nested.jsonl");
    fs::write(&p, out).unwrap();
    p
}

/// Dotted names reach nested fields: the nested corpus gives the flat one's clusters, members
/// with the same ids, sources and dates.
#[test]
fn dotted_field_names_reach_nested_fields() {
    let dir = tempfile::tempdir().unwrap();
    let nested = nested_corpus(dir.path());
    let flat = scan(&[arg(&fixture("syndication/corpus.jsonl"))]);
    let got = scan(&[
        "--text-field",
        "body.text",
        "--id-field",
        "doc.id",
        "--source-field",
        "meta.source",
        "--date-field",
        "meta.date",
        arg(&nested),
    ]);
    assert!(!clusters(&flat).is_empty());
    assert_eq!(got["clusters"], flat["clusters"]);
    assert_eq!(got["stats"]["documents"], flat["stats"]["documents"]);
}

/// A field named that no record has stops the run (exit 2), naming the fields the records have
/// and the option to use; the date field too when --keep earliest needs it.
#[test]
fn a_field_that_no_record_has_is_an_error() {
    let corpus = fixture("syndication/corpus.jsonl");
    let cases: [(&[&str], &str); 4] = [
        (
            &["--id-field", "doc_id"],
            "none of the first 23 records has the id field \"doc_id\"; their fields: id, source, \
             date, text; name the id field with --id-field",
        ),
        (
            &["--source-field", "site"],
            "none of the first 23 records has the source field \"site\"",
        ),
        (
            &["--date-field", "published", "--keep", "earliest"],
            "none of the first 23 records has the date field \"published\"",
        ),
        (
            &["--text-field", "body", "--on-error", "skip"],
            "none of the first 23 records has the text field \"body\"",
        ),
    ];
    for (opts, want) in cases {
        let mut args = vec!["scan", "-q"];
        args.extend_from_slice(opts);
        args.push(arg(&corpus));
        let (code, out, err) = run(&args);
        assert_eq!(code, Some(2), "{opts:?}: {err}");
        assert!(out.is_empty());
        assert!(
            err.starts_with(&format!("syndic: error: {want}")),
            "{opts:?}:\n{err}"
        );
    }
    // --keep earliest needs dates even under the default name.
    let (code, _, err) = run(&[
        "scan",
        "-q",
        "--keep",
        "earliest",
        arg(&fixture("empty/corpus.jsonl")),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the date field \"date\"") && err.contains("--keep earliest"),
        "{err}"
    );
    // Nested fields are listed as paths.
    let dir = tempfile::tempdir().unwrap();
    let nested = nested_corpus(dir.path());
    let (code, _, err) = run(&["scan", "-q", "--text-field", "body.text", arg(&nested)]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["scan", "-q", "--text-field", "text", arg(&nested)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("no \"text\" field (the record has: doc.id, body.text, body.title, meta.source, meta.date)"),
        "{err}"
    );
}

/// The check is made after the first 1000 records: a field that only later records have is
/// still an error, and a field the early records have is not one when later records lack it.
#[test]
fn fields_are_checked_on_the_first_thousand_records() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("long.jsonl");
    let mut out = String::new();
    for i in 0..1500 {
        let extra = if i == 1200 {
            ",\"doc_id\":\"late\""
        } else {
            ""
        };
        out += &format!("{{\"text\":\"record {i} of the file\"{extra}}}\n");
    }
    fs::write(&p, out).unwrap();
    let (code, _, err) = run(&["scan", "-q", "--id-field", "doc_id", arg(&p)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(
            "syndic: error: none of the first 1000 records has the id field \"doc_id\"; their fields: text"
        ),
        "{err}"
    );
    // The first thousand have a "src": the records after them need not.
    let mut out = String::new();
    for i in 0..1500 {
        let extra = if i < 1000 { ",\"src\":\"s\"" } else { "" };
        out += &format!("{{\"text\":\"record {i} of the file\"{extra}}}\n");
    }
    fs::write(&p, out).unwrap();
    let (code, _, err) = run(&["scan", "-q", "--source-field", "src", arg(&p)]);
    assert_eq!(code, Some(0), "{err}");
}

// --- folders -----------------------------------------------------------------------------------

/// A folder as Spark leaves it: JSONL shards, their hidden .crc files, `_SUCCESS`, a
/// `_temporary/` folder, plus a README.md and a hidden folder.
fn shard_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Texts that share nothing: 30 pseudo-random words each.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut shard = |i: usize| -> String {
        (0..3)
            .map(|j| {
                let words = random_words(&mut state, 30);
                format!("{{\"id\":\"p{i}-{j}\",\"text\":\"{words}\"}}\n")
            })
            .collect()
    };
    fs::write(d.join("part-00000.jsonl"), shard(0)).unwrap();
    fs::create_dir(d.join("2015")).unwrap();
    fs::write(d.join("2015/part-00001.jsonl"), shard(1)).unwrap();
    fs::write(d.join(".part-00000.jsonl.crc"), b"\x00\x01crc").unwrap();
    fs::write(d.join("_SUCCESS"), "").unwrap();
    fs::create_dir(d.join("_temporary")).unwrap();
    fs::write(d.join("_temporary/part-00002.jsonl"), shard(2)).unwrap();
    fs::create_dir(d.join(".git")).unwrap();
    fs::write(d.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::write(d.join("README.md"), "# Shards\nWritten by a Spark job.\n").unwrap();
    dir
}

fn skipped_files(report: &Value) -> Vec<(String, String)> {
    report["stats"]["files_skipped"]["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                str_of(e, "path").to_string(),
                str_of(e, "reason").to_string(),
            )
        })
        .collect()
}

/// Only the shards' records are documents; the report says what was left out and why.
#[test]
fn folder_of_shards_reads_only_the_shards() {
    let dir = shard_folder();
    let d = dir.path();
    let report = scan(&[arg(d)]);
    let stats = &report["stats"];
    assert_eq!(stats["documents"], 6, "{stats}");
    assert_eq!(stats["files_read"], 2, "{stats}");
    assert_eq!(stats["files_skipped"]["total"], 5, "{stats}");
    let p = |rel: &str| d.join(rel).to_string_lossy().into_owned();
    let want: Vec<(String, String)> = [
        (".git", "hidden"),
        (".part-00000.jsonl.crc", "hidden"),
        ("README.md", "not_records"),
        ("_SUCCESS", "marker"),
        ("_temporary", "marker"),
    ]
    .iter()
    .map(|(f, r)| (p(f), r.to_string()))
    .collect();
    assert_eq!(skipped_files(&report), want);

    // dedup writes the shards' records only, and the note on stderr says what was left out.
    let out = tempfile::tempdir().unwrap();
    let clean = out.path().join("clean.jsonl");
    let (code, _, err) = run(&["dedup", "-o", arg(&clean), arg(d)]);
    assert_eq!(code, Some(0), "{err}");
    let ids = ids_of(&read_jsonl(&clean));
    assert_eq!(ids, ["p1-0", "p1-1", "p1-2", "p0-0", "p0-1", "p0-2"]);
    assert!(
        err.contains("syndic: note: 5 files not read (2 hidden, 2 marker, 1 not records), first "),
        "{err}"
    );
}

/// Globs include and exclude as ripgrep's do.
#[test]
fn globs_include_and_exclude_files_of_folders() {
    let dir = shard_folder();
    let d = dir.path();
    let docs = |globs: &[&str]| -> (u64, Vec<(String, String)>) {
        let mut args: Vec<&str> = Vec::new();
        for g in globs {
            args.extend(["-g", g]);
        }
        args.push(arg(d));
        let r = scan(&args);
        (r["stats"]["documents"].as_u64().unwrap(), skipped_files(&r))
    };
    // Excluding by name at any depth; the file left out is listed under "glob".
    let (n, skipped) = docs(&["!part-00001.jsonl"]);
    assert_eq!(n, 3);
    assert!(skipped.contains(&(
        d.join("2015/part-00001.jsonl")
            .to_string_lossy()
            .into_owned(),
        "glob".to_string()
    )));
    // Excluding a folder prunes it.
    assert_eq!(docs(&["!2015"]).0, 3);
    // Including: only what the globs match; a path glob is anchored at the folder.
    assert_eq!(docs(&["2015/*.jsonl"]).0, 3);
    assert_eq!(docs(&["*.jsonl"]).0, 6);
    // A glob that names the README makes it a document beside the shards; the last glob wins.
    assert_eq!(docs(&["*.jsonl", "README.md"]).0, 7);
    assert_eq!(docs(&["*.jsonl", "README.md", "!README.md"]).0, 6);
    // Any including glob makes the others' files left out (ripgrep's whitelist).
    assert_eq!(docs(&["!*.md", "README.md"]).0, 1);
    // A folder whose files the globs all leave out is an error, as an empty folder is.
    let (code, _, err) = run(&["scan", "-q", "-g", "*.csv", arg(d)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("the folder holds no files to read"), "{err}");
    let (code, _, err) = run(&["scan", "-q", "-g", "[", arg(d)]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("invalid glob \"[\""), "{err}");
}

// --- CSV and TSV -------------------------------------------------------------------------------

/// The syndication records as CSV and as TSV give the JSONL corpus's clusters, to the member.
#[test]
fn csv_and_tsv_give_the_clusters_of_the_same_records_in_jsonl() {
    let jsonl = scan(&[arg(&fixture("syndication/corpus.jsonl"))]);
    assert!(!clusters(&jsonl).is_empty());
    for name in ["syndication/corpus.csv", "syndication/corpus.tsv"] {
        let got = scan(&[arg(&fixture(name))]);
        assert_eq!(got["clusters"], jsonl["clusters"], "{name}");
        assert_eq!(got["stats"]["documents"], jsonl["stats"]["documents"]);
        assert_eq!(got["boilerplate"], jsonl["boilerplate"], "{name}");
    }
    // Compressed, and through dedup: the rows come out as JSONL objects of their columns.
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("corpus.csv.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut e,
        &fs::read(fixture("syndication/corpus.csv")).unwrap(),
    )
    .unwrap();
    fs::write(&gz, e.finish().unwrap()).unwrap();
    let got = scan(&[arg(&gz)]);
    assert_eq!(got["clusters"], jsonl["clusters"]);
    let from_csv = dir.path().join("from_csv.jsonl");
    let from_jsonl = dir.path().join("from_jsonl.jsonl");
    for (input, out) in [
        (gz.clone(), &from_csv),
        (fixture("syndication/corpus.jsonl"), &from_jsonl),
    ] {
        let (code, _, err) = run(&["dedup", "-q", "-o", arg(out), arg(&input)]);
        assert_eq!(code, Some(0), "{err}");
    }
    let (a, b) = (read_jsonl(&from_csv), read_jsonl(&from_jsonl));
    assert_eq!(ids_of(&a), ids_of(&b));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["text"], y["text"]);
    }
}

/// Columns are named by the same options; ids default to FILE:LINE (the line a row starts
/// on); a row that does not fit the header is an error naming file and line, or a skipped
/// record; a table without the text column names the columns it has.
#[test]
fn csv_columns_ids_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.csv");
    fs::write(
        &p,
        "body,site\n\"first, with a comma\",a\n\"second\nover two lines\",b\nthird,c,extra\nfourth,d\n",
    )
    .unwrap();
    let rep = scan(&["--text-field", "body", "--on-error", "skip", arg(&p)]);
    assert_eq!(rep["stats"]["documents"], 3, "{rep}");
    let s = &rep["stats"]["skipped"];
    assert_eq!(s["by_reason"]["malformed_row"], 1, "{s}");
    assert_eq!(
        s["examples"][0],
        format!(
            "{}:5: malformed row: 3 fields where the header has 2",
            p.display()
        )
    );
    let (code, _, err) = run(&["scan", "-q", "--text-field", "body", arg(&p)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "syndic: error: {}:5: malformed row: 3 fields where the header has 2; to skip bad records and go on, use --on-error skip",
            p.display()
        )),
        "{err}"
    );
    // Ids: FILE:LINE of each row; the source column by name.
    let out = dir.path().join("out.jsonl");
    let (code, _, err) = run(&[
        "dedup",
        "-q",
        "--annotate",
        "--text-field",
        "body",
        "--source-field",
        "site",
        "--on-error",
        "skip",
        "-o",
        arg(&out),
        arg(&p),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let rows = read_jsonl(&out);
    assert_eq!(rows.len(), 4, "annotated: the malformed row too");
    assert_eq!(rows[2]["skip_reason"], "malformed_row", "{:?}", rows[2]);
    assert_eq!(rows[3]["body"], "fourth");
    assert_eq!(rows[1]["body"], "second\nover two lines");
    assert_eq!(rows[1]["site"], "b");
    let (code, _, err) = run(&["scan", "-q", arg(&p)]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "syndic: error: {}:1: no \"text\" field (the record has: body, site)",
            p.display()
        )),
        "{err}"
    );
    let (code, _, err) = run(&[
        "scan",
        "-q",
        "--text-field",
        "body",
        "--id-field",
        "key",
        arg(&p),
    ]);
    assert_eq!(code, Some(1), "the bad row comes first: {err}");
    let good = dir.path().join("good.tsv");
    fs::write(&good, "body\tsite\nfirst\ta\nsecond\tb\n").unwrap();
    let (code, _, err) = run(&[
        "scan",
        "-q",
        "--text-field",
        "body",
        "--id-field",
        "key",
        arg(&good),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "none of the first 2 records has the id field \"key\"; their fields: body, site"
        ),
        "{err}"
    );
}
