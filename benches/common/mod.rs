//! Fixture loading shared by the criterion benches.
//!
//! The fixture is `fixtures/bench/news2k.jsonl.gz`: 2,000 synthetic syndicated news documents
//! (see `fixtures/bench/README.md`). Under `cargo test --all-targets` a bench binary runs in test
//! mode (no `--bench` argument, unoptimized build, each benchmark once), so only the first
//! [`TEST_MODE_DOCS`] documents are loaded there, to keep the test suite quick.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use syndic::cluster;
use syndic::normalize::{normalize_doc, NormDoc};
use syndic::pipeline::{self, Config, Mask, Quiet, Shingles};
use syndic::read::{Corpus, Entry, Fields, OnError};
use syndic::sketch::Signatures;
use syndic::verify::Edge;

/// Documents loaded when the bench binary runs as a test.
pub const TEST_MODE_DOCS: usize = 200;

/// The committed benchmark corpus.
pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bench/news2k.jsonl.gz")
}

/// True when run by `cargo bench` (criterion's full measurement), false under `cargo test`.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// At most this many documents are loaded.
pub fn doc_limit() -> usize {
    if bench_mode() {
        usize::MAX
    } else {
        TEST_MODE_DOCS
    }
}

/// The raw texts of the fixture, in input order.
pub fn texts() -> Vec<String> {
    let corpus = Corpus::open(&[fixture_path()]).expect("open the bench fixture");
    let fields = Fields::default();
    corpus
        .records(&fields, OnError::Fail)
        .take(doc_limit())
        .filter_map(|e| match e.expect("read the bench fixture") {
            Entry::Doc(r) => Some(r.text),
            Entry::Skipped { .. } => None,
        })
        .collect()
}

/// Everything the stage benches start from, computed once with the default configuration.
pub struct Prepared {
    pub cfg: Config,
    pub texts: Vec<String>,
    pub norm: Vec<NormDoc>,
    /// Leader of each document's exact-duplicate group.
    pub leaders: Vec<u32>,
    /// Documents that are not exact copies of an earlier one (the ones that get sketched).
    pub active: Vec<bool>,
    pub sigs: Signatures,
    pub pairs: Vec<(u32, u32)>,
    pub edges: Vec<Edge>,
}

pub fn prepare() -> Prepared {
    let cfg = Config::default();
    let texts = texts();
    let norm: Vec<NormDoc> = texts
        .iter()
        .map(|t| normalize_doc(t, &cfg.normalize))
        .collect();
    let leaders = exact_leaders(&norm);
    let active: Vec<bool> = leaders
        .iter()
        .enumerate()
        .map(|(d, &l)| l as usize == d)
        .collect();
    let sigs = sketch_parallel(&norm, &active, &cfg);
    let (pairs, _) = syndic::band::candidate_pairs(&sigs, &cfg.banding, cfg.max_bucket);
    let rule = cfg.verify_rule();
    let edges: Vec<Edge> = pairs
        .iter()
        .filter_map(|&(a, b)| rule.check(&sigs, a, b))
        .collect();
    Prepared {
        cfg,
        texts,
        norm,
        leaders,
        active,
        sigs,
        pairs,
        edges,
    }
}

/// For each document, the leader of its exact-duplicate group, the pipeline's way (preference
/// order: input order here).
pub fn exact_leaders(norm: &[NormDoc]) -> Vec<u32> {
    let rank: Vec<u32> = (0..norm.len() as u32).collect();
    pipeline::exact_leaders(norm, &rank)
}

/// Signatures of the `active` documents, on the rayon pool, as the pipeline's final pass
/// computes them (every window, no mask).
pub fn sketch_parallel(norm: &[NormDoc], active: &[bool], cfg: &Config) -> Signatures {
    pipeline::sketch_all(norm, active, Mask::default(), Shingles::All, cfg, &Quiet)
        .expect("in-memory sketching needs no scratch file")
}

/// Connected components over exact-copy links and edges; then the groups of two or more.
pub fn cluster(n: usize, leaders: &[u32], edges: &[Edge]) -> Vec<Vec<u32>> {
    cluster::groups(&pipeline::components(n, leaders, edges))
}

/// A fixed-seed pseudo-random sequence (splitmix64), for synthetic inputs.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
