//! One criterion benchmark group per pipeline stage, over the committed 2,000-document fixture
//! (`fixtures/bench/news2k.jsonl.gz`).
//!
//!     cargo bench --bench stages              # every stage
//!     cargo bench --bench stages -- band      # one group (criterion filter)
//!
//! The per-document kernels (normalize, shingle, sketch, verify) run on one thread, so their
//! figures are per-core throughput and do not depend on how busy the machine's other cores are;
//! `shingle_then_sketch_parallel` and `band` use the rayon pool as the pipeline does. Inputs of each stage are
//! computed once, outside the measurement, with `Config::default()`.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use syndic::boilerplate::SourceTemplates;
use syndic::cluster::UnionFind;
use syndic::normalize::normalize_doc;
use syndic::pipeline;
use syndic::read::{Corpus, Entry, Fields, OnError};
use syndic::shingle::Shingler;
use syndic::sketch::{Signatures, Sketcher};

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

fn stages(c: &mut Criterion) {
    let p = common::prepare();
    let cfg = &p.cfg;
    let n = p.texts.len();
    let text_bytes: u64 = p.texts.iter().map(|t| t.len() as u64).sum();
    let active: Vec<usize> = (0..n).filter(|&d| p.active[d]).collect();
    eprintln!(
        "fixture: {n} docs, {:.1} MB, {} to sketch, {} candidate pairs, {} verified edges",
        text_bytes as f64 / 1e6,
        active.len(),
        p.pairs.len(),
        p.edges.len()
    );

    // normalize: raw text -> NormDoc (NFKC, case and Arabic folding, punctuation, line keys).
    // Whole-corpus iterations take tens to hundreds of milliseconds: flat sampling keeps each
    // group within its measurement time.
    let mut g = c.benchmark_group("normalize");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(text_bytes));
    g.bench_function("normalize_doc", |b| {
        b.iter(|| {
            for t in &p.texts {
                black_box(normalize_doc(black_box(t), &cfg.normalize));
            }
        })
    });
    g.finish();

    // The texts the sketch stage hashes (unmasked, as in the pipeline's first pass).
    let sketch_texts: Vec<String> = active
        .iter()
        .map(|&d| {
            let mut s = String::new();
            pipeline::sketch_text(&p.norm[d], d, pipeline::Mask::default(), &mut s);
            s
        })
        .collect();
    let sketch_bytes: u64 = sketch_texts.iter().map(|t| t.len() as u64).sum();
    let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);

    // shingle + sketch: normalized text -> shingle set -> one-permutation MinHash.
    let mut g = c.benchmark_group("shingle_sketch");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(sketch_bytes));
    g.bench_function("shingle_set", |b| {
        let mut sh = Shingler::default();
        let mut set = Vec::new();
        b.iter(|| {
            for t in &sketch_texts {
                sh.shingle_set(black_box(t), cfg.shingle, &mut set);
                black_box(set.len());
            }
        })
    });
    let sets: Vec<Vec<u64>> = sketch_texts
        .iter()
        .map(|t| syndic::shingle::shingle_set(t, cfg.shingle))
        .collect();
    g.bench_function("sketch_into", |b| {
        let mut row = vec![0u32; cfg.num_perm];
        b.iter(|| {
            for s in &sets {
                black_box(sketcher.sketch_into(black_box(s), &mut row));
            }
        })
    });
    g.bench_function("shingle_then_sketch", |b| {
        let mut sh = Shingler::default();
        let mut set = Vec::new();
        let mut row = vec![0u32; cfg.num_perm];
        b.iter(|| {
            for t in &sketch_texts {
                sh.shingle_set(black_box(t), cfg.shingle, &mut set);
                black_box(sketcher.sketch_into(&set, &mut row));
            }
        })
    });
    g.bench_function("shingle_then_sketch_parallel", |b| {
        b.iter(|| black_box(common::sketch_parallel(&p.norm, &p.active, cfg)))
    });
    g.finish();

    // band: signatures -> candidate pairs (sorted band tables, bucket cap).
    let mut g = c.benchmark_group("band");
    g.throughput(Throughput::Elements(active.len() as u64));
    g.bench_function("candidate_pairs", |b| {
        b.iter(|| {
            black_box(syndic::band::candidate_pairs(
                black_box(&p.sigs),
                &cfg.banding,
                cfg.max_bucket,
            ))
        })
    });
    g.finish();

    // verify: candidate pairs -> accepted edges (Jaccard or containment from signatures).
    let rule = cfg.verify_rule();
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(p.pairs.len().max(1) as u64));
    g.bench_function("check_candidates", |b| {
        b.iter(|| {
            let mut accepted = 0usize;
            for &(a, bb) in &p.pairs {
                accepted += rule.check(black_box(&p.sigs), a, bb).is_some() as usize;
            }
            black_box(accepted)
        })
    });
    // A fixed number of signature comparisons, independent of how many candidates banding finds.
    let random_pairs = synthetic_pairs(&p.sigs, 100_000);
    g.throughput(Throughput::Elements(random_pairs.len() as u64));
    g.bench_function("check_100k_random_pairs", |b| {
        b.iter(|| {
            let mut accepted = 0usize;
            for &(a, bb) in &random_pairs {
                accepted += rule.check(black_box(&p.sigs), a, bb).is_some() as usize;
            }
            black_box(accepted)
        })
    });
    g.finish();

    // cluster: union-find over exact-copy links and verified edges, then the groups.
    let mut g = c.benchmark_group("cluster");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements((n + p.edges.len()) as u64));
    g.bench_function("components_and_groups", |b| {
        b.iter(|| {
            black_box(common::cluster(
                n,
                black_box(&p.leaders),
                black_box(&p.edges),
            ))
        })
    });
    // A larger graph than the fixture gives: 1M nodes, 1M random edges.
    let (nodes, edges) = synthetic_graph(1_000_000, 1_000_000);
    g.throughput(Throughput::Elements(edges.len() as u64));
    g.bench_function("union_find_1m_nodes_1m_edges", |b| {
        b.iter_batched(
            || UnionFind::new(nodes),
            |mut uf| {
                for &(a, bb) in &edges {
                    uf.union(a, bb);
                }
                black_box(uf.labels())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // source templates: the word 8-grams a source prints in 3 or more of its documents (counted
    // over the unmasked texts here, so the sites' headers and footers count as well; on the rayon
    // pool, as in the pipeline), then the final pass's sketch texts without their words (one
    // thread).
    let source = fixture_sources(n);
    let find = || SourceTemplates::find(&p.norm, &p.active, None, &source, 3, u64::MAX);
    let mut g = c.benchmark_group("source_templates");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(active.len() as u64));
    g.bench_function("find", |b| {
        b.iter(|| black_box(find().expect("in memory").len()))
    });
    let templates = find().expect("in memory");
    let mask = pipeline::Mask {
        lines: None,
        templates: Some(&templates),
    };
    g.throughput(Throughput::Bytes(sketch_bytes));
    g.bench_function("sketch_texts", |b| {
        let mut s = String::new();
        b.iter(|| {
            for &d in &active {
                pipeline::sketch_text(&p.norm[d], d, mask, &mut s);
                black_box(s.len());
            }
        })
    });
    g.finish();

    // One partition of the template n-grams or of a band table, as the pipeline's in-memory
    // partitions are at 200k gen_news documents: 117k template keys, 2% of them in n-grams that
    // come more than once; 736 band keys, half of them in buckets of more than one. Synthetic
    // keys: sorting them all against sorting only those that `sort_repeated` finds may come
    // three times (templates) or twice (band).
    let mut g = c.benchmark_group("partition");
    g.sampling_mode(SamplingMode::Flat);
    for (name, len, repeated, min) in [("templates", 117_000, 0.007, 3), ("band", 736, 0.3, 2)] {
        let part = synthetic_partition(len, repeated);
        g.throughput(Throughput::Elements(part.len() as u64));
        g.bench_function(format!("sort_all/{name}"), |b| {
            b.iter_batched_ref(
                || part.clone(),
                |v| {
                    v.sort_unstable();
                    black_box(v.len())
                },
                BatchSize::LargeInput,
            )
        });
        g.bench_function(format!("sort_repeated/{name}"), |b| {
            b.iter_batched_ref(
                || part.clone(),
                |v| black_box(syndic::spill::sort_repeated(v, |&(k, _)| k, min).len()),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// `len` (key, document) entries in random order, about `repeated` of them with a key that
/// comes in two to four documents, the rest with a key of their own.
fn synthetic_partition(len: usize, repeated: f64) -> Vec<(u64, u32)> {
    let mut state = 11;
    let mut out = Vec::with_capacity(len);
    let mut d = 0u32;
    while out.len() < len {
        let key = common::splitmix(&mut state);
        let copies = if (common::splitmix(&mut state) % 1000) as f64 / 1000.0 < repeated {
            2 + common::splitmix(&mut state) % 3
        } else {
            1
        };
        for _ in 0..copies {
            out.push((key, d));
            d += 1;
        }
    }
    out.truncate(len);
    // Shuffled (Fisher-Yates), as the partition's entries come from documents in any order.
    for i in (1..out.len()).rev() {
        let j = (common::splitmix(&mut state) % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

/// The source of each fixture document, as a small integer in order of first appearance.
fn fixture_sources(n: usize) -> Vec<u32> {
    let corpus = Corpus::open(&[common::fixture_path()]).expect("open the bench fixture");
    let fields = Fields::default();
    let mut ids = std::collections::HashMap::new();
    corpus
        .records(&fields, OnError::Fail)
        .filter_map(|e| match e.expect("read the bench fixture") {
            Entry::Doc(r) => Some(r.source),
            Entry::Skipped { .. } => None,
        })
        .take(n)
        .map(|s| {
            s.map_or(u32::MAX, |s| {
                let next = ids.len() as u32;
                *ids.entry(s).or_insert(next)
            })
        })
        .collect()
}

/// Pseudo-random pairs of sketched documents.
fn synthetic_pairs(sigs: &Signatures, count: usize) -> Vec<(u32, u32)> {
    let docs: Vec<u32> = (0..sigs.len())
        .filter(|&d| sigs.active(d))
        .map(|d| d as u32)
        .collect();
    if docs.len() < 2 {
        return Vec::new();
    }
    let mut state = 42;
    (0..count)
        .map(|_| {
            let a = docs[(common::splitmix(&mut state) % docs.len() as u64) as usize];
            let b = docs[(common::splitmix(&mut state) % docs.len() as u64) as usize];
            (a.min(b), a.max(b))
        })
        .collect()
}

/// A random graph; fewer nodes and edges in test mode.
fn synthetic_graph(nodes: usize, edges: usize) -> (usize, Vec<(u32, u32)>) {
    let (nodes, edges) = if common::bench_mode() {
        (nodes, edges)
    } else {
        (nodes / 100, edges / 100)
    };
    let mut state = 7;
    let e = (0..edges)
        .map(|_| {
            let a = (common::splitmix(&mut state) % nodes as u64) as u32;
            let b = (common::splitmix(&mut state) % nodes as u64) as u32;
            (a, b)
        })
        .collect();
    (nodes, e)
}

criterion_group! {
    name = benches;
    config = config();
    targets = stages
}
criterion_main!(benches);
