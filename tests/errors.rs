//! Bad input through the `syndic` binary: each case asserts the exit code, the message (file,
//! line, cause) under `--on-error fail`, and the counts under `--on-error skip`
//! (`stats.skipped.total`, `by_reason`, `examples`). The inputs are in `fixtures/bad/` or made
//! in a temporary folder when they cannot be files in git (compressed streams cut short, broken
//! links, FIFOs).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/bad")
        .join(name)
}

fn syndic() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_syndic"));
    c.stdin(Stdio::null());
    c
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("syndic runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn scan(args: &[&str], inputs: &[&Path]) -> Run {
    run(syndic().arg("scan").arg("-q").args(args).args(inputs))
}

fn report(r: &Run) -> Value {
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    serde_json::from_str(&r.stdout).expect("the report is JSON")
}

/// `--on-error fail`: exit 1 and one line `syndic: error: <where>: <cause...>`.
fn assert_fails(input: &Path, at: &str, cause: &str) {
    let r = scan(&[], &[input]);
    assert_eq!(r.code, Some(1), "stderr: {}", r.stderr);
    assert!(r.stdout.is_empty(), "no report on failure: {}", r.stdout);
    let want = format!("syndic: error: {at}: {cause}");
    assert!(
        r.stderr.starts_with(&want),
        "want {want:?}\ngot  {:?}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

/// `--on-error skip`: exit 0, `docs` documents, and `skipped` records all under `reason`, the
/// first example naming `at`.
fn assert_skips(inputs: &[&Path], docs: u64, reason: &str, skipped: u64, at: &str) -> Value {
    let r = scan(&["--on-error", "skip"], inputs);
    let rep = report(&r);
    let stats = &rep["stats"];
    assert_eq!(stats["documents"], docs, "{stats}");
    let s = &stats["skipped"];
    assert_eq!(s["total"], skipped, "{s}");
    assert_eq!(s["by_reason"][reason], skipped, "{s}");
    assert_eq!(s["by_reason"].as_object().unwrap().len(), 1, "{s}");
    let first = s["examples"][0].as_str().expect("an example");
    assert!(
        first.starts_with(&format!("{at}: ")),
        "{first} does not name {at}"
    );
    rep
}

fn shown(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

// --- one test per bad record ------------------------------------------------------------------

#[test]
fn malformed_json_line() {
    let p = bad("malformed_json.jsonl");
    let at = format!("{}:2", shown(&p));
    assert_fails(
        &p,
        &at,
        "malformed JSON: EOF while parsing a string at column",
    );
    assert_skips(&[&p], 2, "malformed_json", 1, &at);
}

#[test]
fn record_without_the_text_field() {
    let p = bad("missing_text.jsonl");
    let at = format!("{}:2", shown(&p));
    assert_fails(
        &p,
        &at,
        "no \"text\" field (the record has: id, body); name the text field with --text-field, \
         or skip bad records and go on with --on-error skip",
    );
    assert_skips(&[&p], 2, "missing_text", 1, &at);
    // Naming the field that record uses makes the two others the bad ones.
    let r = scan(&["--text-field", "body", "--on-error", "skip"], &[&p]);
    let rep = report(&r);
    assert_eq!(rep["stats"]["documents"], 1);
    assert_eq!(rep["stats"]["skipped"]["by_reason"]["missing_text"], 2);
}

#[test]
fn text_field_that_is_not_a_string() {
    let p = bad("text_not_string.jsonl");
    let at = format!("{}:2", shown(&p));
    assert_fails(&p, &at, "field \"text\" is not a string");
    assert_skips(&[&p], 2, "text_not_string", 1, &at);
}

#[test]
fn line_that_is_json_but_not_an_object() {
    let p = bad("not_an_object.jsonl");
    let at = format!("{}:2", shown(&p));
    assert_fails(&p, &at, "the line is JSON but not an object");
    assert_skips(&[&p], 2, "not_an_object", 1, &at);
}

#[test]
fn invalid_utf8() {
    let p = bad("invalid_utf8.jsonl");
    let at = format!("{}:2", shown(&p));
    // Byte 23 of line 2 is the Latin-1 é.
    assert_fails(
        &p,
        &at,
        "invalid UTF-8 at byte 23 (convert the file to UTF-8",
    );
    assert_skips(&[&p], 2, "invalid_utf8", 1, &at);
}

#[test]
fn utf16_file() {
    let p = bad("utf16.jsonl");
    let at = format!("{}:1", shown(&p));
    assert_fails(&p, &at, "the file is UTF-16 (convert it to UTF-8");
    assert_skips(&[&p], 0, "invalid_utf8", 1, &at);
}

#[test]
fn nul_byte() {
    let p = bad("nul_byte.jsonl");
    let at = format!("{}:2", shown(&p));
    assert_fails(&p, &at, "NUL byte at byte 26 (is this a binary file?)");
    assert_skips(&[&p], 2, "nul_byte", 1, &at);
}

#[test]
fn nul_byte_in_a_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("image.txt");
    fs::write(&p, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    assert_fails(
        &p,
        &shown(&p),
        "NUL byte at byte 9 (is this a binary file?)",
    );
    assert_skips(&[&p], 0, "nul_byte", 1, &shown(&p));
}

/// An empty file is no error but zero records: the run goes on under the default policy, the
/// report lists the file in `stats.files_skipped` and a note on stderr says so.
#[test]
fn empty_file_is_zero_records() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("empty.txt");
    fs::write(&txt, "").unwrap();
    let blank_lines = dir.path().join("blank_lines.jsonl");
    fs::write(&blank_lines, "\n \n\n").unwrap();
    let gz = dir.path().join("empty.jsonl.gz");
    fs::write(&gz, gzip(b"")).unwrap();
    let p = bad("empty.jsonl");
    let good = bad("empty_document.jsonl");
    let inputs = [&p, &good, &txt, &blank_lines, &gz];
    let r = run(syndic()
        .args(["scan", "-o"])
        .arg(dir.path().join("r.json"))
        .args(inputs));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "syndic: note: 4 files not read (4 empty), first {} (empty)",
            shown(&p)
        )),
        "{}",
        r.stderr
    );
    let rep: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let stats = &rep["stats"];
    assert_eq!(stats["documents"], 3, "{stats}");
    assert_eq!(stats["skipped"]["total"], 0, "{stats}");
    assert_eq!(stats["files_read"], 1, "{stats}");
    let f = &stats["files_skipped"];
    assert_eq!(f["total"], 4, "{f}");
    assert_eq!(f["by_reason"]["empty"], 4, "{f}");
    let paths: Vec<&str> = f["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    let want: Vec<String> = [&p, &txt, &blank_lines, &gz]
        .iter()
        .map(|p| shown(p))
        .collect();
    assert_eq!(paths, want);
    // Alone, an empty file is a run over no documents.
    let rep = report(&scan(&[], &[&p]));
    assert_eq!(rep["stats"]["documents"], 0);
}

/// A text of white space is a document, not a bad record: counted in `stats.empty_documents`.
#[test]
fn empty_document_is_a_document() {
    let p = bad("empty_document.jsonl");
    let rep = report(&scan(&[], &[&p]));
    assert_eq!(rep["stats"]["documents"], 3);
    assert_eq!(rep["stats"]["empty_documents"], 1);
    assert_eq!(rep["stats"]["skipped"]["total"], 0);
    let blank = bad("blank.txt");
    let rep = report(&scan(&[], &[&blank]));
    assert_eq!(rep["stats"]["documents"], 1);
    assert_eq!(rep["stats"]["empty_documents"], 1);
}

/// The default policy's message says how to go on past a bad record.
#[test]
fn fail_message_says_how_to_skip() {
    for name in [
        "malformed_json.jsonl",
        "invalid_utf8.jsonl",
        "nul_byte.jsonl",
    ] {
        let r = scan(&[], &[&bad(name)]);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(
            r.stderr
                .trim_end()
                .ends_with("; to skip bad records and go on, use --on-error skip"),
            "{name}: {}",
            r.stderr
        );
    }
}

#[test]
fn duplicate_id() {
    let p = bad("duplicate_id.jsonl");
    let at = format!("{}:2", shown(&p));
    let first = format!("{}:1", shown(&p));
    assert_fails(
        &p,
        &at,
        &format!("duplicate document id \"g1\", first seen at {first}"),
    );
    assert_skips(&[&p], 2, "duplicate_id", 1, &at);
}

#[test]
fn duplicate_id_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    fs::write(&a, "{\"id\":\"x\",\"text\":\"first\"}\n").unwrap();
    fs::write(
        &b,
        "{\"id\":\"y\",\"text\":\"other\"}\n{\"id\":\"x\",\"text\":\"second\"}\n",
    )
    .unwrap();
    let r = scan(&[], &[&a, &b]);
    assert_eq!(r.code, Some(1));
    let want = format!(
        "{}:2: duplicate document id \"x\", first seen at {}:1",
        shown(&b),
        shown(&a)
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);
}

// --- paths --------------------------------------------------------------------------------

#[test]
fn missing_path_fails_whatever_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("no-such-file.jsonl");
    for policy in ["fail", "skip"] {
        let r = scan(&["--on-error", policy], &[&p]);
        assert_eq!(r.code, Some(1), "{policy}: {}", r.stderr);
        let want = format!(
            "syndic: error: cannot read {}: No such file or directory",
            shown(&p)
        );
        assert!(r.stderr.starts_with(&want), "{}", r.stderr);
        // The OS message is said once, not once per error layer.
        assert_eq!(r.stderr.matches("No such file").count(), 1, "{}", r.stderr);
    }
}

#[test]
fn empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    let r = scan(&["--on-error", "skip"], &[dir.path()]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let want = format!(
        "syndic: error: cannot read {}: the folder holds no files",
        shown(dir.path())
    );
    assert!(r.stderr.starts_with(&want), "{}", r.stderr);
}

fn seed_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("a.txt"),
        "The first document of the folder.\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("c.txt"),
        "The last document of the folder.\n",
    )
    .unwrap();
    dir
}

#[cfg(unix)]
#[test]
fn broken_link_in_a_folder() {
    let dir = seed_folder();
    let link = dir.path().join("b.txt");
    std::os::unix::fs::symlink(dir.path().join("gone.txt"), &link).unwrap();
    let at = shown(&link);
    assert_fails(dir.path(), &at, "cannot read: a broken link");
    assert_skips(&[dir.path()], 2, "unreadable", 1, &at);
}

#[cfg(unix)]
#[test]
fn fifo_in_a_folder() {
    let dir = seed_folder();
    let fifo = dir.path().join("b.txt");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let at = shown(&fifo);
    assert_fails(dir.path(), &at, "not a regular file");
    assert_skips(&[dir.path()], 2, "not_a_file", 1, &at);
}

/// A file that opens but cannot be read: `/proc/self/mem` fails with EIO at offset 0, even for
/// root (for whom `chmod 000` changes nothing).
#[cfg(target_os = "linux")]
#[test]
fn file_that_cannot_be_read() {
    let dir = seed_folder();
    let link = dir.path().join("b.txt");
    std::os::unix::fs::symlink("/proc/self/mem", &link).unwrap();
    let at = shown(&link);
    assert_fails(dir.path(), &at, "cannot read: Input/output error");
    assert_skips(&[dir.path()], 2, "unreadable", 1, &at);
}

/// Without permission to read (only when the tests do not run as root, who may read anything).
#[cfg(unix)]
#[test]
fn file_without_read_permission() {
    use std::os::unix::fs::PermissionsExt;
    let dir = seed_folder();
    let p = dir.path().join("b.txt");
    fs::write(&p, "secret").unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::File::open(&p).is_ok() {
        eprintln!("skipped: running as root, permissions are not enforced");
        return;
    }
    let at = shown(&p);
    assert_fails(dir.path(), &at, "cannot read: Permission denied");
    assert_skips(&[dir.path()], 2, "unreadable", 1, &at);
}

// --- compressed streams -------------------------------------------------------------------

/// `n` JSONL records of 40 pseudo-random words each: distinct documents that match nothing, so
/// that the scan stays quick.
fn lines(n: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::new();
    for i in 0..n {
        let words = common::random_words(&mut state, 40);
        writeln!(out, "{{\"id\":\"r{i}\",\"text\":\"{words}\"}}").unwrap();
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A stream cut at half its length: the records before the cut are documents, the cut is one
/// record that names the line where reading stopped.
fn check_truncated(name: &str, compressed: Vec<u8>, cause: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    fs::write(&p, &compressed[..compressed.len() / 2]).unwrap();
    let r = scan(&[], &[&p]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    let prefix = format!("syndic: error: {}:", shown(&p));
    assert!(r.stderr.starts_with(&prefix), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            ": truncated or corrupt compressed stream ({cause}); nothing after this point can be read"
        )),
        "{}",
        r.stderr
    );
    let line: u64 = r.stderr[prefix.len()..]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a line number");
    assert!(line > 1, "{}", r.stderr);
    let rep = report(&scan(&["--on-error", "skip"], &[&p]));
    let stats = &rep["stats"];
    assert_eq!(
        stats["documents"],
        line - 1,
        "every line before the cut is read"
    );
    assert_eq!(stats["skipped"]["by_reason"]["corrupt_stream"], 1);
    assert_eq!(
        stats["skipped"]["examples"][0].as_str().unwrap(),
        format!(
            "{}:{line}: truncated or corrupt compressed stream ({cause}); nothing after this point can be read",
            shown(&p)
        )
    );
}

#[test]
fn truncated_gzip() {
    check_truncated(
        "cut.jsonl.gz",
        gzip(&lines(3000)),
        "gzip: incomplete deflate stream",
    );
}

#[test]
fn truncated_zstd() {
    // zstd decodes whole blocks (128 KiB): enough of them that the cut falls after the first.
    let z = zstd::encode_all(&lines(3000)[..], 3).unwrap();
    check_truncated("cut.jsonl.zst", z, "zstd: incomplete frame");
}

#[test]
fn truncated_gzip_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("story.txt.gz");
    let g = gzip(&lines(500));
    fs::write(&p, &g[..g.len() / 2]).unwrap();
    assert_fails(
        &p,
        &shown(&p),
        "truncated or corrupt compressed stream (gzip:",
    );
    assert_skips(&[&p], 0, "corrupt_stream", 1, &shown(&p));
}

#[test]
fn gz_name_without_gzip_content() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("plain.jsonl.gz");
    fs::write(&p, lines(3)).unwrap();
    assert_fails(
        &p,
        &shown(&p),
        "truncated or corrupt compressed stream (the file name says gzip but the content is not a gzip stream)",
    );
}

#[test]
fn compressed_content_is_found_whatever_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("packed.jsonl");
    fs::write(&p, gzip(&lines(3))).unwrap();
    let rep = report(&scan(&[], &[&p]));
    assert_eq!(rep["stats"]["documents"], 3);
}

#[test]
fn unsupported_compression_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("corpus.jsonl");
    fs::write(&p, b"\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4F").unwrap();
    assert_fails(
        &p,
        &shown(&p),
        "compressed with xz, which syndic does not read",
    );
}

#[test]
fn json_array_file_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("corpus.json");
    fs::write(&p, "[\n  {\"text\": \"a\"},\n  {\"text\": \"b\"}\n]\n").unwrap();
    assert_fails(
        &p,
        &format!("{}:1", shown(&p)),
        "malformed JSON: EOF while parsing a list at column 1 (is the file one JSON array?",
    );
}

// --- outputs ------------------------------------------------------------------------------

#[test]
fn output_in_a_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("no-such-folder/report.json");
    let r = run(syndic()
        .args(["scan", "-q", "-o"])
        .arg(&out)
        .arg(bad("duplicate_id.jsonl")));
    // Checked before the scan: the message is about the output, not the input's duplicate.
    assert_eq!(r.code, Some(1));
    let want = format!(
        "syndic: error: cannot write {}: the folder {} does not exist",
        shown(&out),
        shown(&dir.path().join("no-such-folder"))
    );
    assert!(r.stderr.starts_with(&want), "{}", r.stderr);

    let r = run(syndic()
        .args(["dedup", "-q", "-o"])
        .arg(dir.path().join("clean.jsonl"))
        .arg("--report")
        .arg(&out)
        .arg(bad("malformed_json.jsonl")));
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.starts_with(&want), "{}", r.stderr);
    assert!(!dir.path().join("clean.jsonl").exists());
}

#[test]
fn output_that_is_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(syndic()
        .args(["scan", "-q", "-o"])
        .arg(dir.path())
        .arg(bad("malformed_json.jsonl")));
    assert_eq!(r.code, Some(1));
    let want = format!(
        "syndic: error: cannot write {}: it is a folder",
        shown(dir.path())
    );
    assert!(r.stderr.starts_with(&want), "{}", r.stderr);
}

#[cfg(target_os = "linux")]
#[test]
fn full_disk() {
    let input = bad("malformed_json.jsonl");
    let r = run(syndic()
        .args(["scan", "-q", "--on-error", "skip", "-o", "/dev/full"])
        .arg(&input));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("syndic: error: cannot write /dev/full: No space left on device"),
        "{}",
        r.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let r = run(syndic()
        .args([
            "dedup",
            "-q",
            "--on-error",
            "skip",
            "-o",
            "/dev/full",
            "--report",
        ])
        .arg(dir.path().join("report.json"))
        .arg(&input));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r
        .stderr
        .contains("cannot write /dev/full: No space left on device"));
    assert!(
        !dir.path().join("report.json").exists(),
        "the report is written last, only after a complete output"
    );
    // Written in place, not renamed over: /dev/full is still the device.
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata("/dev/full")
        .unwrap()
        .file_type()
        .is_char_device());
}

#[cfg(target_os = "linux")]
#[test]
fn device_outputs_are_written_in_place() {
    let r = run(syndic()
        .args(["scan", "-q", "-o", "/dev/null"])
        .arg(bad("../../seeds")));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}

// --- the policy ---------------------------------------------------------------------------

/// Every non-blank line is a document or a counted skipped record; the report names the first
/// few; `dedup` writes only documents.
#[test]
fn skip_counts_every_record_by_reason() {
    let p = bad("mixed.jsonl");
    let r = scan(&["--on-error", "skip"], &[&p]);
    let rep = report(&r);
    let stats = &rep["stats"];
    let s = &stats["skipped"];
    let by: Vec<(String, u64)> = s["by_reason"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(
        by,
        [
            ("duplicate_id", 1),
            ("invalid_utf8", 1),
            ("malformed_json", 1),
            ("missing_text", 1),
            ("text_not_string", 1),
        ]
        .map(|(k, v)| (k.to_string(), v))
    );
    assert_eq!(s["total"], 5);
    let nonblank = fs::read(&p)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    assert_eq!(stats["documents"].as_u64().unwrap() + 5, nonblank);
    assert_eq!(stats["empty_documents"], 1);
    let at = shown(&p);
    let examples: Vec<&str> = s["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(examples.len(), 5, "the first five");
    for (e, line) in examples.iter().zip([2, 3, 4, 5, 8]) {
        assert!(e.starts_with(&format!("{at}:{line}: ")), "{e}");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clean.jsonl");
    let r = run(syndic()
        .args(["dedup", "-q", "--on-error", "skip", "-o"])
        .arg(&out)
        .arg(&p));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let ids: Vec<String> = fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    // The empty document is kept.
    assert_eq!(ids, ["s1", "s6", "s8"]);
}

#[test]
fn fail_is_the_default_and_stops_at_the_first_bad_record() {
    let p = bad("mixed.jsonl");
    let r = scan(&[], &[&p]);
    assert_eq!(r.code, Some(1));
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r
        .stderr
        .starts_with(&format!("syndic: error: {}:2: malformed JSON", shown(&p))));
    let explicit = scan(&["--on-error", "fail"], &[&p]);
    assert_eq!((explicit.code, explicit.stderr), (r.code, r.stderr));
}

#[test]
fn the_summary_points_to_skipped_records() {
    let p = bad("mixed.jsonl");
    let r = run(syndic()
        .args(["scan", "--on-error", "skip", "-o"])
        .arg(tempfile::tempdir().unwrap().path().join("r.json"))
        .arg(&p));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("5 records skipped"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("first: {}:2: malformed JSON", shown(&p))),
        "{}",
        r.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let input = bad("malformed_json.jsonl");
    for args in [
        &["--threshold", "1.5"][..],
        &["--on-error", "ignore"],
        &["--no-such-option"],
        &["--shingle", "0"],
    ] {
        let r = scan(args, &[&input]);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.is_empty());
    }
    let r = run(syndic().arg("scan"));
    assert_eq!(r.code, Some(2), "no input: {}", r.stderr);
}

#[test]
fn stdin_errors_name_stdin() {
    let mut child = syndic()
        .args(["scan", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"text\":\"fine\"}\n{\"text\":\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("syndic: error: <stdin>:2: malformed JSON"),
        "{err}"
    );
}

// --- interruption -------------------------------------------------------------------------

/// Files in `dir` whose names say they are temporary outputs or spools.
fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial") || n.starts_with(".syndic-spool"))
        .collect()
}

#[cfg(unix)]
fn send_signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// Waits (polling, up to a minute) until `f` holds; false if it never did.
fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..6000 {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// Ctrl-C while stdin is being read (the process is blocked, so the signal surely lands mid-run):
/// exit 130, no report under the final name, and the spool of stdin removed.
#[cfg(unix)]
#[test]
fn sigint_while_reading_stdin_leaves_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("report.json");
    let mut child = syndic()
        .env("TMPDIR", scratch.path())
        .args(["scan", "-q", "-", "-o"])
        .arg(&report)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&lines(100)).unwrap();
    stdin.flush().unwrap();
    let spooling = wait_for(|| !leftovers(scratch.path()).is_empty());
    assert!(spooling, "the spool of stdin appears");
    send_signal(child.id(), "-INT");
    let status = child.wait().unwrap();
    drop(stdin);
    assert_eq!(status.code(), Some(130));
    assert!(!report.exists());
    assert_eq!(leftovers(scratch.path()), Vec::<String>::new());
    assert_eq!(leftovers(out.path()), Vec::<String>::new());
}

/// Ctrl-C or a kill at some point of a longer run: whenever it lands, there is either a complete
/// output (the run had finished) or nothing under the final name; after Ctrl-C, no temporary file.
#[cfg(unix)]
#[test]
fn interrupted_run_leaves_no_file_that_looks_complete() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.jsonl");
    fs::write(&corpus, lines(20_000)).unwrap();
    for (sig, delay_ms) in [
        ("-INT", 300),
        ("-INT", 1500),
        ("-TERM", 800),
        ("-KILL", 800),
    ] {
        let out = tempfile::tempdir().unwrap();
        let clean = out.path().join("clean.jsonl");
        let report = out.path().join("report.json");
        let mut child = syndic()
            .env("TMPDIR", out.path())
            .args(["dedup", "-q", "-o"])
            .arg(&clean)
            .arg("--report")
            .arg(&report)
            .arg(&corpus)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        send_signal(child.id(), sig);
        let status = child.wait().unwrap();
        // Each output is complete or absent, wherever the signal landed: a kill may land after
        // the last rename and before the process is gone (a status of failure with complete
        // outputs), and Ctrl-C just after the last rename lets the run finish (success).
        let complete_clean = || fs::read_to_string(&clean).unwrap().lines().count() == 20_000;
        let complete_report = || {
            let rep: Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
            rep["stats"]["documents"] == 20_000
        };
        if status.success() {
            assert!(clean.exists() && complete_clean(), "{sig}");
            assert!(report.exists() && complete_report(), "{sig}");
        } else {
            if sig != "-KILL" {
                assert_eq!(status.code(), Some(130), "{sig}");
            }
            assert!(
                !clean.exists() || complete_clean(),
                "{sig}: a partial clean corpus"
            );
            assert!(
                !report.exists() || complete_report(),
                "{sig}: a partial report"
            );
            // The report is written after the clean corpus: one without the other is not left.
            assert!(!report.exists() || clean.exists(), "{sig}");
        }
        if sig != "-KILL" {
            assert_eq!(leftovers(out.path()), Vec::<String>::new(), "{sig}");
        }
    }
}
