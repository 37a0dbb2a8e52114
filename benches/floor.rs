//! The floor: the least work any near-duplicate finder with 5-character shingles must do, timed
//! on a JSONL corpus, so that `syndic scan`'s wall time can be stated as a multiple of it.
//!
//! * `hash`: read the JSONL (a reader thread streams newline-aligned chunks, gunzipping `.gz`),
//!   parse each line's `text` field with serde_json, and hash every window of 5 Unicode scalar
//!   values with xxh3, in parallel on the rayon pool.
//! * `minhash`: the same, and fold each document's window hashes into a 128-value one-permutation
//!   MinHash with the library's `Sketcher` (windows not deduplicated: a minimum ignores repeats).
//!
//! No normalization, no sets, no banding: a lower bound, not a competitor. The window hashing is
//! written here, not taken from the library, so that the floor stays put while the library's
//! shingler is optimized.
//!
//!     cargo bench --bench floor -- CORPUS.jsonl[.gz] [--runs 5] [--mode both|hash|minhash]
//!                                 [--threads N] [--num-perm 128] [--shingle 5] [--tsv]
//!
//! The corpus may also be named by `SYNDIC_FLOOR_CORPUS`; with neither (a plain `cargo bench`),
//! the committed fixture `fixtures/bench/news2k.jsonl.gz` is timed. One untimed warm-up run (which also
//! fills the page cache) precedes the timed runs; the median, min and max wall seconds are
//! printed. `--tsv` prints `mode, median_s, min_s, max_s, docs, bytes, threads` rows instead.
//! Under `cargo test --all-targets` (no `--bench` argument) it runs once over the first part of
//! the committed fixture as a smoke test and ignores other arguments.

use std::borrow::Cow;
use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use serde::Deserialize;
use syndic::sketch::Sketcher;
use xxhash_rust::xxh3::xxh3_64;

/// Bytes per chunk handed from the reader thread to the workers.
const CHUNK: usize = 8 << 20;

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Hash,
    MinHash,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Hash => "hash",
            Mode::MinHash => "minhash",
        }
    }
}

struct Opts {
    path: PathBuf,
    runs: usize,
    modes: Vec<Mode>,
    threads: Option<usize>,
    num_perm: usize,
    shingle: usize,
    tsv: bool,
    /// Test mode: stop after this many input bytes.
    limit: Option<usize>,
}

fn usage() -> ! {
    eprintln!(
        "usage: cargo bench --bench floor -- CORPUS.jsonl[.gz] [--runs N] \
         [--mode both|hash|minhash] [--threads N] [--num-perm K] [--shingle K] [--tsv]\n\
         (or set SYNDIC_FLOOR_CORPUS; default: the committed fixture)"
    );
    std::process::exit(2)
}

fn parse_args() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench_mode = args.iter().any(|a| a == "--bench");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bench/news2k.jsonl.gz");
    let mut o = Opts {
        path: fixture,
        runs: 5,
        modes: vec![Mode::Hash, Mode::MinHash],
        threads: None,
        num_perm: 128,
        shingle: 5,
        tsv: false,
        limit: None,
    };
    if !bench_mode {
        o.runs = 1;
        o.limit = Some(1 << 20);
        return o;
    }
    let mut path = std::env::var_os("SYNDIC_FLOOR_CORPUS").map(PathBuf::from);
    let mut it = args.into_iter();
    let num = |v: Option<String>| -> usize {
        v.and_then(|s| s.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or_else(|| usage())
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bench" => {}
            "--runs" => o.runs = num(it.next()),
            "--threads" | "-j" => o.threads = Some(num(it.next())),
            "--num-perm" => o.num_perm = num(it.next()),
            "--shingle" => o.shingle = num(it.next()),
            "--tsv" => o.tsv = true,
            "--mode" => {
                o.modes = match it.next().as_deref() {
                    Some("both") => vec![Mode::Hash, Mode::MinHash],
                    Some("hash") => vec![Mode::Hash],
                    Some("minhash") => vec![Mode::MinHash],
                    _ => usage(),
                }
            }
            "-h" | "--help" => usage(),
            s if s.starts_with('-') => {
                eprintln!("floor: ignoring unknown option {s}");
            }
            _ => path = Some(PathBuf::from(a)),
        }
    }
    // A plain `cargo bench` names no corpus: time the committed fixture.
    if let Some(p) = path {
        o.path = p;
    }
    o
}

/// Streams the file as chunks that end on a line boundary.
fn read_chunks(path: &Path, limit: Option<usize>, tx: std::sync::mpsc::SyncSender<Vec<u8>>) {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut r: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    let chunk = limit.map_or(CHUNK, |l| l.min(CHUNK));
    let mut carry: Vec<u8> = Vec::new();
    let mut total = 0usize;
    loop {
        let mut buf = std::mem::take(&mut carry);
        let start = buf.len();
        buf.resize(start + chunk, 0);
        let mut filled = start;
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read {}: {e}", path.display()),
            }
        }
        buf.truncate(filled);
        let eof = filled < start + chunk;
        total += filled - start;
        let stop = limit.is_some_and(|l| total >= l);
        if !eof && !stop {
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => carry = buf.split_off(i + 1),
                None => {
                    carry = buf;
                    continue;
                }
            }
        } else if stop {
            // Test mode: drop the partial last line.
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => buf.truncate(i + 1),
                None => buf.clear(),
            }
        }
        if !buf.is_empty() && tx.send(buf).is_err() {
            return;
        }
        if eof || stop {
            return;
        }
    }
}

/// Hashes every `k`-scalar window of `text` with xxh3, calling `f` on each hash (the whole text
/// once when it is shorter than `k`). `starts` is scratch space.
#[inline]
fn windows(text: &str, k: usize, starts: &mut Vec<u32>, mut f: impl FnMut(u64)) {
    let bytes = text.as_bytes();
    if bytes.is_empty() {
        return;
    }
    if text.is_ascii() {
        if bytes.len() <= k {
            f(xxh3_64(bytes));
        } else {
            bytes.windows(k).for_each(|w| f(xxh3_64(w)));
        }
        return;
    }
    starts.clear();
    starts.extend(text.char_indices().map(|(i, _)| i as u32));
    let n = starts.len();
    if n <= k {
        f(xxh3_64(bytes));
        return;
    }
    starts.push(bytes.len() as u32);
    for i in 0..=n - k {
        f(xxh3_64(&bytes[starts[i] as usize..starts[i + k] as usize]));
    }
}

struct RunResult {
    seconds: f64,
    docs: u64,
    bytes: u64,
    check: u64,
}

fn run_once(o: &Opts, mode: Mode) -> RunResult {
    let t = Instant::now();
    let docs = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let check = AtomicU64::new(0);
    let sketcher = Sketcher::new(o.num_perm, 0);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        s.spawn(|| read_chunks(&o.path, o.limit, tx));
        for chunk in rx {
            bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            let lines: Vec<&[u8]> = chunk
                .split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .collect();
            let (n, sum) = lines
                .par_iter()
                .map_init(
                    || (Vec::<u32>::new(), Vec::<u64>::new(), vec![0u32; o.num_perm]),
                    |(starts, hashes, row), line| {
                        let doc: Doc = serde_json::from_slice(line).expect("a JSONL line");
                        match mode {
                            Mode::Hash => {
                                let mut acc = 0u64;
                                windows(&doc.text, o.shingle, starts, |h| {
                                    acc = acc.wrapping_add(h)
                                });
                                acc
                            }
                            Mode::MinHash => {
                                hashes.clear();
                                windows(&doc.text, o.shingle, starts, |h| hashes.push(h));
                                sketcher.sketch_into(hashes, row);
                                row[0] as u64
                            }
                        }
                    },
                )
                .fold(|| (0u64, 0u64), |(n, s), h| (n + 1, s.wrapping_add(h)))
                .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1.wrapping_add(b.1)));
            docs.fetch_add(n, Ordering::Relaxed);
            check.fetch_add(sum, Ordering::Relaxed);
        }
    });
    RunResult {
        seconds: t.elapsed().as_secs_f64(),
        docs: docs.into_inner(),
        bytes: bytes.into_inner(),
        check: black_box(check.into_inner()),
    }
}

fn main() {
    let o = parse_args();
    let pool = {
        let mut b = rayon::ThreadPoolBuilder::new();
        if let Some(t) = o.threads {
            b = b.num_threads(t);
        }
        b.build().expect("a rayon pool")
    };
    let threads = pool.current_num_threads();
    pool.install(|| {
        let warm = run_once(&o, o.modes[0]);
        if !o.tsv {
            println!(
                "floor: {} — {} docs, {:.1} MB of JSONL, {} threads, median of {} runs",
                o.path.display(),
                warm.docs,
                warm.bytes as f64 / 1e6,
                threads,
                o.runs
            );
        }
        for &mode in &o.modes {
            let mut res: Vec<RunResult> = (0..o.runs).map(|_| run_once(&o, mode)).collect();
            res.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            let med = res[res.len() / 2].seconds;
            let (min, max) = (res[0].seconds, res[res.len() - 1].seconds);
            let r = &res[0];
            if o.tsv {
                println!(
                    "{}\t{med:.4}\t{min:.4}\t{max:.4}\t{}\t{}\t{threads}",
                    mode.name(),
                    r.docs,
                    r.bytes
                );
            } else {
                println!(
                    "{:<8} median {med:.3} s (min {min:.3}, max {max:.3})  {:.0} docs/s  \
                     {:.1} MB/s  [check {:x}]",
                    mode.name(),
                    r.docs as f64 / med,
                    r.bytes as f64 / 1e6 / med,
                    r.check
                );
            }
        }
    });
}
