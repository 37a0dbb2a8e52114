//! Fixture loading shared by the criterion benches.
//!
//! The fixture is `fixtures/bench/news2k.jsonl.gz`: 2,000 synthetic syndicated news documents
//! (see `fixtures/bench/README.md`). Under `cargo test --all-targets` a bench binary runs in test
//! mode (no `--bench` argument, unoptimized build, each benchmark once), so only the first
//! [`TEST_MODE_DOCS`] documents are loaded there, to keep the test suite quick.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use syndic::cluster::{self, UnionFind};
use syndic::normalize::{normalize_doc, NormDoc};
use syndic::pipeline::{self, Config};
use syndic::read::{Corpus, Entry, Fields, OnError};
use syndic::shingle::Shingler;
use syndic::sketch::{Signatures, Sketcher};
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
    /// First document with the same normalized text.
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

/// For each document, the first document with the same normalized text (itself if none).
///
/// The benches compute their inputs from the stages' kernels (normalize, shingle, sketch, band,
/// verify, union-find) rather than from `pipeline`'s orchestration functions, whose signatures
/// change as the pipeline evolves.
pub fn exact_leaders(norm: &[NormDoc]) -> Vec<u32> {
    let mut first: HashMap<u128, u32> = HashMap::with_capacity(norm.len());
    norm.iter()
        .enumerate()
        .map(|(i, d)| *first.entry(d.exact_hash).or_insert(i as u32))
        .collect()
}

/// Signatures of the `active` documents, on the rayon pool: unmasked sketch text, every
/// `cfg.shingle`-character window, one-permutation MinHash.
pub fn sketch_parallel(norm: &[NormDoc], active: &[bool], cfg: &Config) -> Signatures {
    let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
    let mut sigs = Signatures::new(cfg.num_perm, norm.len());
    sigs.values
        .par_chunks_mut(cfg.num_perm)
        .zip(sigs.sizes.par_iter_mut())
        .enumerate()
        .for_each_init(
            || (Shingler::default(), String::new(), Vec::new()),
            |(shingler, text, set), (d, (row, size))| {
                if !active[d] {
                    return;
                }
                pipeline::sketch_text(&norm[d], d, None, text);
                shingler.shingle_set(text, cfg.shingle, set);
                if sketcher.sketch_into(set, row) {
                    *size = set.len() as u32;
                }
            },
        );
    sigs
}

/// Connected components over exact-copy links and edges; then the groups of two or more.
pub fn cluster(n: usize, leaders: &[u32], edges: &[Edge]) -> Vec<Vec<u32>> {
    let mut uf = UnionFind::new(n);
    for (d, &l) in leaders.iter().enumerate() {
        uf.union(d as u32, l);
    }
    for e in edges {
        uf.union(e.a, e.b);
    }
    cluster::groups(&uf.labels())
}

/// A fixed-seed pseudo-random sequence (splitmix64), for synthetic inputs.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
