//! One scan over several processes on loopback (`--hosts`/`--process`, `--local`): the report
//! is the one-process report outside `run` (with the default `--verify recheck`, whose pairs
//! measured on the true sets have their texts on different processes), and a peer that dies or
//! never starts stops the others with its name.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A corpus of several files in a temporary folder: the 2,000 generated news articles (sources,
/// boilerplate, clusters) cut into five JSONL files, the boilerplate fixture (dates), the
/// syndication fixture as CSV, the copies on either side of each threshold (an excerpt that only
/// the true sets accept among them; the copies first, their originals last, so that the two
/// sides of a pair are read by different processes), an empty file and a file with a bad
/// record (read with `--on-error skip`, so that the counts of skipped records and files are
/// joined too).
struct Corpus {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
}

impl Corpus {
    fn new() -> Corpus {
        let dir = tempfile::tempdir().unwrap();
        let text = news2k();
        let lines: Vec<&str> = text.lines().collect();
        let mut files = Vec::new();
        for (i, part) in lines.chunks(lines.len().div_ceil(5)).enumerate() {
            let path = dir.path().join(format!("news-{i}.jsonl"));
            std::fs::write(&path, part.join("\n") + "\n").unwrap();
            files.push(path);
            if i == 1 {
                let empty = dir.path().join("empty.jsonl");
                std::fs::write(&empty, "").unwrap();
                files.push(empty);
            }
            if i == 2 {
                let bad = dir.path().join("bad.jsonl");
                std::fs::write(
                    &bad,
                    "{\"id\": \"ok-1\", \"text\": \"a short text of its own\"}\n{not json\n",
                )
                .unwrap();
                files.push(bad);
            }
        }
        files.insert(1, fixture("boilerplate/corpus.jsonl"));
        files.push(fixture("syndication/corpus.csv"));
        let near = std::fs::read_to_string(fixture("thresholds/corpus.jsonl")).unwrap();
        let (copies, originals): (Vec<&str>, Vec<&str>) =
            near.lines().partition(|l| l.contains("-copy\""));
        assert!(!copies.is_empty() && !originals.is_empty());
        for (name, part) in [("near-copies.jsonl", copies), ("near.jsonl", originals)] {
            let path = dir.path().join(name);
            std::fs::write(&path, part.join("\n") + "\n").unwrap();
            if name == "near.jsonl" {
                files.push(path);
            } else {
                files.insert(0, path);
            }
        }
        Corpus { dir, files }
    }

    fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = self.files.iter().map(|p| arg(p).to_string()).collect();
        a.extend(["--on-error", "skip", "-q"].map(String::from));
        a
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The one-process report.
    fn single(&self) -> String {
        self.single_with(&[])
    }

    /// The one-process report with `extra` options.
    fn single_with(&self, extra: &[&str]) -> String {
        let args = extra.iter().map(|s| s.to_string()).chain(self.args());
        one_process(&self.out("single.json"), args)
    }
}

/// The report (without `run`) of one process's scan of `args`, written to `out`.
fn one_process<S: AsRef<std::ffi::OsStr>>(out: &Path, args: impl IntoIterator<Item = S>) -> String {
    syndic()
        .arg("scan")
        .args(args)
        .args(["-o", arg(out)])
        .assert()
        .success();
    report_without_run(out)
}

/// The 2,000 generated news articles of `fixtures/bench`, as JSONL text.
fn news2k() -> String {
    let mut text = String::new();
    let gz = std::fs::File::open(fixture("bench/news2k.jsonl.gz")).unwrap();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(gz), &mut text).unwrap();
    text
}

/// A report as text without its `run` section (the order of the rest kept as written).
fn report_without_run(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    serde_json::to_string_pretty(&without_run(parse_json(&bytes, "the report"))).unwrap()
}

/// A hosts file of `n` free loopback ports.
fn hosts(dir: &Path, n: usize) -> (PathBuf, Vec<String>) {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let addrs: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect();
    let path = dir.join(format!("hosts{n}"));
    std::fs::write(&path, addrs.join("\n") + "\n").unwrap();
    (path, addrs)
}

fn process(args: &[String], hosts: &Path, i: usize, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_syndic"));
    c.current_dir(root())
        .env_remove("RAYON_NUM_THREADS")
        .arg("scan")
        .args(args)
        .args(["--hosts", arg(hosts), "--process", &i.to_string()])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Runs a scan of `args` as `n` processes on loopback (process `i` with `extra(i)` after),
/// started last to first (connection setup does not depend on the order); asserts that each
/// succeeds within [`DEADLINE`] and returns their stderr, in process order.
fn run_processes(
    dir: &Path,
    args: &[String],
    n: usize,
    extra: &dyn Fn(usize) -> Vec<String>,
) -> Vec<String> {
    let (hosts, _) = hosts(dir, n);
    let deadline = Instant::now() + DEADLINE;
    let children: Vec<Child> = (0..n)
        .rev()
        .map(|i| {
            let e = extra(i);
            let e: Vec<&str> = e.iter().map(String::as_str).collect();
            process(args, &hosts, i, &e).spawn().unwrap()
        })
        .collect();
    let mut errs: Vec<String> = children
        .into_iter()
        .map(|child| {
            let (status, err) = wait(child, deadline);
            assert!(status.success(), "{n} processes: {err}");
            err
        })
        .collect();
    errs.reverse();
    errs
}

/// Waits for `child` at most until `deadline` (killing it then, so that no test hangs); its
/// exit status and stderr.
fn wait(mut child: Child, deadline: Instant) -> (std::process::ExitStatus, String) {
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).unwrap();
        s
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("a process did not stop before the test's deadline");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, reader.join().unwrap())
}

/// A generous bound on any one test, so that a hang fails instead of blocking CI.
const DEADLINE: Duration = Duration::from_secs(240);

#[test]
fn reports_of_two_and_three_processes_are_the_one_process_report() {
    let c = Corpus::new();
    let single = c.single();
    assert!(single.contains("\"clusters\""), "{single}");
    // Some pairs are measured on the true sets: the report is not the estimate's.
    assert_ne!(
        c.single_with(&["--verify", "estimate"]),
        single,
        "no pair of the corpus is rechecked on its true sets"
    );
    // Thread counts differ between the processes and from the one-process run.
    for (n, threads) in [(2, ["1", "2", "1"]), (3, ["2", "1", "1"])] {
        let out = c.out(&format!("report{n}.json"));
        let extra = |i: usize| {
            ["-j", threads[i], "-o", arg(&out)]
                .map(String::from)
                .to_vec()
        };
        for err in run_processes(c.dir.path(), &c.args(), n, &extra) {
            assert!(err.contains("bytes sent"), "{err}");
        }
        assert_eq!(
            report_without_run(&out),
            single,
            "the report of {n} processes differs from one process's"
        );
        // Only process 0 writes; nothing else is left beside the report.
        let stray: Vec<_> = std::fs::read_dir(c.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.contains("report") && !n.ends_with(".json"))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
    }
}

/// The generated news articles with a date each (ten days in turn), in four JSONL files.
fn dated_corpus(dir: &Path) -> Vec<String> {
    let text = news2k();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(l).unwrap();
            v.insert("date".into(), format!("2015-01-{:02}", 1 + i % 10).into());
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    lines
        .chunks(lines.len().div_ceil(4))
        .enumerate()
        .map(|(i, part)| {
            let path = dir.join(format!("dated-{i}.jsonl"));
            std::fs::write(&path, part.join("\n") + "\n").unwrap();
            arg(&path).to_string()
        })
        .collect()
}

/// The banding and verification run where the signatures are: band keys go to the process
/// that owns them, candidates to the process that read their first document, and process 0
/// receives only the signatures of the verified pairs' documents. With a tiny memory budget
/// (the bands in many rounds, texts on disk), a date window and hot buckets capped hard, the
/// report is still the one-process report.
#[test]
fn banding_across_processes_within_each_budget_gives_the_one_process_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = dated_corpus(dir.path());
    args.extend(
        [
            "-q",
            "--max-days",
            "3",
            "--max-bucket",
            "3",
            "--memory-limit",
            "200k",
        ]
        .map(String::from),
    );
    let single = one_process(&dir.path().join("single.json"), &args);
    let report: serde_json::Value = serde_json::from_str(&single).unwrap();
    let stats = &report["stats"];
    assert!(stats["capped_buckets"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["verified_pairs"].as_u64().unwrap() > 0, "{stats}");
    for n in [2, 3] {
        let out = dir.path().join(format!("report{n}.json"));
        let extra = |_| ["-j", "1", "-o", arg(&out)].map(String::from).to_vec();
        let errs = run_processes(dir.path(), &args, n, &extra);
        assert_eq!(
            report_without_run(&out),
            single,
            "the report of {n} processes differs from one process's"
        );
        // Process 0 clustered with the signatures of the verified pairs' documents, not all.
        let read: u64 = errs
            .iter()
            .map(|e| count_in(e, &format!("of {n}:"), "documents read"))
            .sum();
        assert_eq!(read, stats["documents"].as_u64().unwrap());
        let gathered = count_in(&errs[0], "per document read);", "final signatures gathered");
        assert!(gathered > 0 && gathered < read, "{gathered} of {read}");
    }
}

/// One JSONL file read by 2 and 3 processes, each reading its part of the bytes (cut at line
/// starts, lines numbered as in the whole file): the one-process report, and the one-process
/// `dedup` output. Some records have no id (their id is their line), blank lines and a bad
/// record fall in the parts.
#[test]
fn one_large_jsonl_file_is_read_in_parts_with_the_one_process_report() {
    let dir = tempfile::tempdir().unwrap();
    let text = news2k();
    let mut out = String::new();
    for (i, l) in text.lines().enumerate() {
        let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(l).unwrap();
        if i % 7 == 3 {
            v.remove("id");
        }
        out += &serde_json::to_string(&v).unwrap();
        out += "\n";
        if i % 50 == 10 {
            out += "\n   \n";
        }
        if i == 1234 {
            out += "{not json\n";
        }
    }
    let big = dir.path().join("big.jsonl");
    std::fs::write(&big, out).unwrap();
    let (args, _) = scan_one_file_in_parts(dir.path(), &big);
    let one = dir.path().join("one.jsonl");
    syndic()
        .arg("dedup")
        .args(&args)
        .args(["--annotate", "-o", arg(&one)])
        .assert()
        .success();
    let two = dir.path().join("two.jsonl");
    syndic()
        .arg("dedup")
        .args(&args)
        .args([
            "--local",
            "2",
            "--annotate",
            "--single-output",
            "-o",
            arg(&two),
        ])
        .timeout(DEADLINE)
        .assert()
        .success();
    let (one, two) = (std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
    assert!(!one.is_empty());
    assert!(one == two, "the dedup outputs differ");
}

/// A Parquet file is read in parts by row groups (those that start in a process's share of
/// the bytes), its rows numbered as in the whole file (ids made from row numbers, a row
/// without text): the report of 2 and 3 processes is the one-process report.
#[test]
fn one_large_parquet_file_is_read_by_row_groups_with_the_one_process_report() {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    let dir = tempfile::tempdir().unwrap();
    let text = news2k();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let column = |key: &str, keep: &dyn Fn(usize) -> bool| -> ArrayRef {
        Arc::new(StringArray::from(
            rows.iter()
                .enumerate()
                .map(|(i, r)| r[key].as_str().filter(|_| keep(i)).map(String::from))
                .collect::<Vec<_>>(),
        ))
    };
    let schema = Arc::new(Schema::new(
        ["id", "source", "text"]
            .map(|k| Field::new(k, DataType::Utf8, true))
            .to_vec(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            column("id", &|i| i % 7 != 3),
            column("source", &|_| true),
            column("text", &|i| i != 1234),
        ],
    )
    .unwrap();
    let big = dir.path().join("big.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(150))
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&big).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let (_, single) = scan_one_file_in_parts(dir.path(), &big);
    assert!(single.contains("\"empty_documents\": 1"), "{single}");
}

/// Scans `big`, one file of the 2,000 generated articles (some without an id), in one process
/// and as 2 and 3 processes, each of which must read a share of it: the reports are one, with
/// ids made from the file's line or row numbers. Returns the scan's arguments and the report
/// (without `run`).
fn scan_one_file_in_parts(dir: &Path, big: &Path) -> (Vec<String>, String) {
    let args: Vec<String> = [arg(big), "--on-error", "skip", "-q"]
        .map(String::from)
        .to_vec();
    let single = one_process(&dir.join("single.json"), &args);
    let name = big.file_name().unwrap().to_str().unwrap();
    assert!(
        single.contains(&format!("{name}:")),
        "ids from line or row numbers"
    );
    for n in [2, 3] {
        let report = dir.join(format!("report{n}.json"));
        let extra = |_| ["-o", arg(&report)].map(String::from).to_vec();
        for e in run_processes(dir, &args, n, &extra) {
            assert!(count_in(&e, &format!("of {n}:"), "documents read") > 2000 / n as u64 / 2);
        }
        assert_eq!(
            report_without_run(&report),
            single,
            "the report of {n} processes differs from one process's"
        );
    }
    (args, single)
}

/// The number after `before` and before `after` in a process's stderr.
fn count_in(err: &str, before: &str, after: &str) -> u64 {
    let start = err
        .find(before)
        .unwrap_or_else(|| panic!("{before:?} in {err}"))
        + before.len();
    let rest = &err[start..];
    rest[..rest
        .find(after)
        .unwrap_or_else(|| panic!("{after:?} in {err}"))]
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn local_runs_the_processes_itself() {
    let c = Corpus::new();
    let single = c.single();
    let out = c.out("local.json");
    syndic()
        .arg("scan")
        .args(c.args())
        .args(["--local", "3", "-j", "1", "-o", arg(&out)])
        .timeout(DEADLINE)
        .assert()
        .success();
    assert_eq!(report_without_run(&out), single);
}

/// Boilerplate decided by line key over the processes: the flags, templates, their counts and
/// order, and the sentence pairs found beside them, are one process's: on the boilerplate and
/// syndication fixtures alone (three processes for two files), on the corpus with looser
/// thresholds (more keys flagged, and more for the final clusters to unflag), and with too
/// many stories asked for to flag any (the sentence pairs are still found).
#[test]
fn boilerplate_decided_by_line_key_is_the_one_process_boilerplate() {
    let c = Corpus::new();
    let fixtures = [
        arg(&fixture("boilerplate/corpus.jsonl")).to_string(),
        arg(&fixture("syndication/corpus.csv")).to_string(),
        "-q".to_string(),
    ];
    let loose = [
        "--boilerplate-min-docs",
        "3",
        "--boilerplate-min-stories",
        "3",
        "--boilerplate-story-ratio",
        "0.3",
    ];
    let none = ["--boilerplate-min-stories", "100000"];
    let cases: [(Vec<String>, &[&str], usize, &str); 3] = [
        (fixtures.to_vec(), &[], 3, "ok"),
        (c.args(), &loose, 3, "ok"),
        (c.args(), &none, 2, "too_small"),
    ];
    for (i, (args, opts, n, status)) in cases.iter().enumerate() {
        let one = c.out(&format!("boilerplate{i}-one.json"));
        let single = one_process(
            &one,
            args.iter().map(String::as_str).chain(opts.iter().copied()),
        );
        let r: serde_json::Value = serde_json::from_str(&single).unwrap();
        assert_eq!(r["boilerplate"]["status"], *status, "case {i}");
        let templates = r["boilerplate"]["templates"].as_array().unwrap().len();
        assert_eq!(templates > 0, *status == "ok", "case {i}");
        assert!(
            r["stats"]["passage_candidates"].as_u64().unwrap() > 0,
            "case {i}"
        );
        let out = c.out(&format!("boilerplate{i}-{n}.json"));
        syndic()
            .arg("scan")
            .args(args)
            .args(*opts)
            .args(["--local", &n.to_string(), "-j", "1", "-o", arg(&out)])
            .timeout(DEADLINE)
            .assert()
            .success();
        assert_eq!(
            report_without_run(&out),
            single,
            "case {i}: the report of {n} processes differs from one process's"
        );
    }
}

#[test]
fn a_killed_peer_stops_the_others_with_its_name_and_no_report() {
    let c = Corpus::new();
    let (hosts, addrs) = hosts(c.dir.path(), 3);
    let out = c.out("killed.json");
    let deadline = Instant::now() + DEADLINE;
    let others: Vec<Child> = [0, 2]
        .iter()
        .map(|&i| {
            process(&c.args(), &hosts, i, &["-o", arg(&out)])
                .spawn()
                .unwrap()
        })
        .collect();
    // Process 1 connects, then stops at the start of reading until it is killed.
    let mut victim = process(&c.args(), &hosts, 1, &["-o", arg(&out)])
        .env("SYNDIC_TEST_PAUSE_AT", "reading")
        .spawn()
        .unwrap();
    let mut err = BufReader::new(victim.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("paused at reading") {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "process 1 ended before pausing"
        );
    }
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    for (child, i) in others.into_iter().zip([0, 2]) {
        let (status, err) = wait(child, deadline);
        assert!(!status.success(), "process {i} succeeded without its peer");
        let named = format!("process 1 ({})", addrs[1]);
        assert!(
            err.contains(&named),
            "process {i} does not name its dead peer ({named}):\n{err}"
        );
        assert!(!err.contains("internal error"), "{err}");
    }
    assert!(!out.exists(), "a report was written without process 1");
}

#[test]
fn a_peer_that_never_starts_is_named_once_the_connect_timeout_passes() {
    let c = Corpus::new();
    let (hosts, addrs) = hosts(c.dir.path(), 2);
    let out = c.out("alone.json");
    let child = process(
        &c.args(),
        &hosts,
        0,
        &["--connect-timeout", "2", "-o", arg(&out)],
    )
    .spawn()
    .unwrap();
    let (status, err) = wait(child, Instant::now() + DEADLINE);
    assert!(!status.success());
    assert!(
        err.contains(&format!("process 1 ({})", addrs[1])) && err.contains("within 2 s"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_process_outside_the_hosts_file_is_a_usage_error() {
    let c = Corpus::new();
    let (hosts, _) = hosts(c.dir.path(), 2);
    let out = process(&c.args(), &hosts, 5, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("process 5 is not in"));
}

#[test]
fn dedup_over_several_processes_writes_the_one_process_output_whole_or_in_shards() {
    let c = Corpus::new();
    let one = c.out("one.jsonl");
    syndic()
        .arg("dedup")
        .args(c.args())
        .args(["-o", arg(&one)])
        .assert()
        .success();
    let two = c.out("two.jsonl");
    syndic()
        .arg("dedup")
        .args(c.args())
        .args(["--local", "2", "--single-output", "-o", arg(&two)])
        .timeout(DEADLINE)
        .assert()
        .success();
    let (one, two) = (std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
    assert!(!one.is_empty());
    assert!(one == two, "the outputs differ");
    // Without --single-output, each process writes its own files' records to OUT.I.jsonl:
    // together the one-process output, each shard in the one-process order.
    let shards = c.out("shards.jsonl");
    syndic()
        .arg("dedup")
        .args(c.args())
        .args(["--local", "3", "--annotate", "-o", arg(&shards)])
        .timeout(DEADLINE)
        .assert()
        .success();
    let annotated = c.out("annotated.jsonl");
    syndic()
        .arg("dedup")
        .args(c.args())
        .args(["--annotate", "-o", arg(&annotated)])
        .assert()
        .success();
    let one = std::fs::read_to_string(&annotated).unwrap();
    let one: Vec<&str> = one.lines().collect();
    let mut all = Vec::new();
    for i in 0..3 {
        let shard = std::fs::read_to_string(c.out(&format!("shards.{i}.jsonl"))).unwrap();
        let lines: Vec<String> = shard.lines().map(String::from).collect();
        let mut rest = one.iter();
        assert!(
            lines.iter().all(|l| rest.any(|o| o == l)),
            "shard {i} is not in the one-process order"
        );
        all.extend(lines);
    }
    assert!(!c.out("shards.jsonl").exists());
    let mut one_sorted: Vec<String> = one.iter().map(|l| l.to_string()).collect();
    one_sorted.sort();
    all.sort();
    assert!(
        all == one_sorted,
        "the shards are not the one-process output"
    );
}

/// The label rule needs what follows each label (the next line's key, decided by whichever
/// process owns it): labels over each story's own text are left unmasked, a label over a
/// related headline and one over a handle stay masked, over 2 and 3 processes as in one.
#[test]
fn labels_over_content_are_left_unmasked_as_in_one_process() {
    let dir = tempfile::tempdir().unwrap();
    // Each story's own lines: ten words made up from its number and the line's.
    let story = |i: usize| -> Vec<String> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (i as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d);
        (0..10)
            .map(|_| {
                let words: Vec<String> = (0..10)
                    .map(|_| {
                        (0..6)
                            .map(|_| {
                                x ^= x << 13;
                                x ^= x >> 7;
                                x ^= x << 17;
                                (b'a' + (x % 26) as u8) as char
                            })
                            .collect()
                    })
                    .collect();
                words.join(" ")
            })
            .collect()
    };
    let mut files = Vec::new();
    for f in 0..2 {
        let mut out = String::new();
        for i in (f * 9)..(f * 9 + 9) {
            let body = story(i);
            let text = if i < 6 {
                [
                    "(1)".to_string(),
                    body[0].clone(),
                    "Ingredients:".into(),
                    body[1].clone(),
                    body[2].clone(),
                    "Read also:".into(),
                    "the related headline of the site".into(),
                    body[3].clone(),
                    "Twitter:".into(),
                    format!("@handle_{i}"),
                    body[4].clone(),
                ]
                .join("\n")
            } else {
                body.join("\n")
            };
            let source = if i < 6 { "site" } else { "other" };
            let doc = serde_json::json!({"id": format!("d{i}"), "text": text, "source": source});
            out.push_str(&format!("{doc}\n"));
        }
        let path = dir.path().join(format!("labels-{f}.jsonl"));
        std::fs::write(&path, out).unwrap();
        files.push(path);
    }
    let single = one_process(
        &dir.path().join("one.json"),
        files.iter().map(|f| f.as_os_str()).chain(["-q".as_ref()]),
    );
    let r: serde_json::Value = serde_json::from_str(&single).unwrap();
    let samples: Vec<&str> = r["boilerplate"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["sample"].as_str().unwrap())
        .collect();
    // Every occurrence of the heading and of the item number heads content: both are left
    // unmasked, so neither is a template; the labels over furniture are.
    for s in ["read also", "twitter", "the related headline of the site"] {
        assert!(samples.contains(&s), "{s} in {samples:?}");
    }
    for s in ["ingredients", "1"] {
        assert!(!samples.contains(&s), "{s} in {samples:?}");
    }
    for n in [2, 3] {
        let out = dir.path().join(format!("labels-{n}.json"));
        syndic()
            .arg("scan")
            .args(&files)
            .args(["-q", "--local", &n.to_string(), "-j", "1", "-o", arg(&out)])
            .timeout(DEADLINE)
            .assert()
            .success();
        assert_eq!(
            report_without_run(&out),
            single,
            "the report of {n} processes differs from one process's"
        );
    }
}
