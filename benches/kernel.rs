//! The per-document cost of the sketch stage's kernels, on the committed fixture
//! (`fixtures/bench/news2k.jsonl.gz`, normalized and joined as the pipeline's final pass does):
//!
//! * `shingle`: `windows` hashes every 7-character window (repeats kept); `set_unordered` adds the
//!   exact deduplication (the set and its size).
//! * `sketch`: from a ready set, the library's one-permutation MinHash (`oph`), and for
//!   comparison a classic 128-permutation multiply-shift MinHash (`h_i(x) = (a_i x + b_i) >> 32`,
//!   64-bit `x`: `ms64`; the high 32 bits of `x` only: `ms32`), compiled portable (`scalar`) and
//!   with AVX2 and AVX-512 enabled on the function (`#[target_feature]`, picked at run time).
//!   `distinct_<isa>`: the same hashing and deduplication, one pass, compiled for each instruction
//!   set this CPU runs (`portable`, `avx2`, `avx512`; the library picks the last at run time).
//! * `shingle_sketch`: text to signature and size: the set, then the sketch (`set_then_oph`), and
//!   the fused pass `Sketcher::sketch_text` for each instruction set (`fused_<isa>`;
//!   `fused_portable` is what `SYNDIC_NO_SIMD=1` runs).
//!
//! Throughput is in documents; the shingle and set counts are printed first, to convert to ns per
//! shingle. Under `cargo test --benches` each benchmark runs once on the first 200 documents.
//!
//!     cargo bench --bench kernel
//!     RUSTFLAGS="-C target-cpu=native" CARGO_TARGET_DIR=/tmp/native cargo bench --bench kernel

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use syndic::isa::Isa;
use syndic::normalize::normalize_doc;
use syndic::pipeline::{self, Config, Mask};
use syndic::shingle::Shingler;
use syndic::sketch::Sketcher;

const PERMS: usize = 128;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

/// Coefficients of a classic multiply-shift MinHash: odd multipliers, any offsets.
struct Classic {
    a: [u64; PERMS],
    b: [u64; PERMS],
}

impl Classic {
    fn new(seed: u64) -> Self {
        let mut state = seed;
        let mut a = [0; PERMS];
        let mut b = [0; PERMS];
        for i in 0..PERMS {
            a[i] = common::splitmix(&mut state) | 1;
            b[i] = common::splitmix(&mut state);
        }
        Classic { a, b }
    }
}

/// `num_perm` independent multiply-shift hashes of each (64-bit) shingle; the minimum of each.
#[inline(always)]
fn ms64_body(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
    let mut mins = [u32::MAX; PERMS];
    for &x in set {
        for ((m, &a), &b) in mins.iter_mut().zip(&c.a).zip(&c.b) {
            *m = (*m).min((a.wrapping_mul(x).wrapping_add(b) >> 32) as u32);
        }
    }
    *out = mins;
}

/// The same on the high 32 bits of each shingle (a 32 x 64-bit product: cheaper in SIMD lanes).
#[inline(always)]
fn ms32_body(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
    let mut mins = [u32::MAX; PERMS];
    for &x in set {
        let x = x >> 32;
        for ((m, &a), &b) in mins.iter_mut().zip(&c.a).zip(&c.b) {
            *m = (*m).min((a.wrapping_mul(x).wrapping_add(b) >> 32) as u32);
        }
    }
    *out = mins;
}

fn ms64_scalar(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
    ms64_body(c, set, out)
}
fn ms32_scalar(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
    ms32_body(c, set, out)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "avx2")]
    pub unsafe fn ms64_avx2(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
        ms64_body(c, set, out)
    }
    #[target_feature(enable = "avx2")]
    pub unsafe fn ms32_avx2(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
        ms32_body(c, set, out)
    }
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
    pub unsafe fn ms64_avx512(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
        ms64_body(c, set, out)
    }
    #[target_feature(enable = "avx512f,avx512dq,avx512bw,avx512vl")]
    pub unsafe fn ms32_avx512(c: &Classic, set: &[u64], out: &mut [u32; PERMS]) {
        ms32_body(c, set, out)
    }
}

type Kernel = fn(&Classic, &[u64], &mut [u32; PERMS]);

/// The classic kernels this CPU can run, by name.
fn classic_kernels() -> Vec<(&'static str, Kernel)> {
    let mut v: Vec<(&'static str, Kernel)> =
        vec![("ms64_scalar", ms64_scalar), ("ms32_scalar", ms32_scalar)];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2.
            v.push(("ms64_avx2", |c, s, o| unsafe { x86::ms64_avx2(c, s, o) }));
            v.push(("ms32_avx2", |c, s, o| unsafe { x86::ms32_avx2(c, s, o) }));
        }
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
        {
            // SAFETY: the CPU has these AVX-512 subsets.
            v.push(("ms64_avx512", |c, s, o| unsafe {
                x86::ms64_avx512(c, s, o)
            }));
            v.push(("ms32_avx512", |c, s, o| unsafe {
                x86::ms32_avx512(c, s, o)
            }));
        }
    }
    v
}

/// The shingle set and sketch as they were before the fused pass (character starts collected,
/// every window hashed into a buffer, then deduplicated, then sketched with a filled flag per
/// bin), kept to compare against in one binary.
mod legacy {
    use xxhash_rust::xxh3::xxh3_64;

    #[derive(Default)]
    pub struct Shingler {
        starts: Vec<u32>,
        all: Vec<u64>,
        table: Vec<u64>,
    }

    impl Shingler {
        pub fn set_unordered(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
            let mut all = std::mem::take(&mut self.all);
            all.clear();
            self.shingles(text, k, &mut all);
            out.clear();
            let cap = (all.len() * 2).next_power_of_two().max(16);
            let mask = cap - 1;
            self.table.clear();
            self.table.resize(cap, 0);
            let mut zero = false;
            for &h in &all {
                if h == 0 {
                    zero = true;
                    continue;
                }
                let mut i = (h as usize) & mask;
                loop {
                    let slot = self.table[i];
                    if slot == 0 {
                        self.table[i] = h;
                        out.push(h);
                        break;
                    }
                    if slot == h {
                        break;
                    }
                    i = (i + 1) & mask;
                }
            }
            if zero {
                out.push(0);
            }
            self.all = all;
        }

        pub fn shingles(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
            let bytes = text.as_bytes();
            if text.is_ascii() && bytes.len() > k {
                out.extend(bytes.windows(k).map(xxh3_64));
                return;
            }
            if bytes.is_empty() {
                return;
            }
            self.starts.clear();
            self.starts
                .extend(text.char_indices().map(|(i, _)| i as u32));
            let n = self.starts.len();
            if n <= k {
                out.push(xxh3_64(bytes));
                return;
            }
            self.starts.push(bytes.len() as u32);
            out.reserve(n - k + 1);
            for i in 0..=n - k {
                let a = self.starts[i] as usize;
                let b = self.starts[i + k] as usize;
                out.push(xxh3_64(&bytes[a..b]));
            }
        }
    }

    fn splitmix64(mut x: u64) -> u64 {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    }

    pub fn sketch_into(seed: u64, shingles: &[u64], out: &mut [u32]) -> bool {
        let k = out.len();
        out.fill(u32::MAX);
        if shingles.is_empty() {
            return false;
        }
        let mut filled = vec![false; k];
        for &h in shingles {
            let h = h ^ seed;
            let h = if seed == 0 { h } else { splitmix64(h) };
            let bin = (((h >> 32) * k as u64) >> 32) as usize;
            let v = (h as u32).min(u32::MAX - 1);
            if v < out[bin] {
                out[bin] = v;
            }
            filled[bin] = true;
        }
        if filled.iter().all(|&f| f) {
            return true;
        }
        let original: Vec<u32> = out.to_vec();
        for i in 0..k {
            if filled[i] {
                continue;
            }
            let mut attempt = 1u64;
            loop {
                let r = splitmix64(seed ^ ((i as u64) << 32) ^ attempt);
                let j = (((r >> 32) * k as u64) >> 32) as usize;
                if filled[j] {
                    out[i] = original[j];
                    break;
                }
                attempt += 1;
            }
        }
        true
    }
}

/// `KERNEL_REPS=N`: instead of criterion, time each variant N times over the fixture, the
/// variants interleaved, and print the least time per document of each (on a shared machine the
/// minimum is steadier than the median).
fn interleaved(reps: usize, texts: &[String], cfg: &Config) {
    let k = cfg.shingle;
    let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
    type Variant = (String, Box<dyn FnMut(&str)>);
    let mut variants: Vec<Variant> = Vec::new();
    let seed = cfg.seed;
    variants.push(("legacy set_then_oph".into(), {
        let mut old = legacy::Shingler::default();
        let mut set = Vec::new();
        let mut row = vec![0u32; cfg.num_perm];
        Box::new(move |t: &str| {
            old.set_unordered(t, k, &mut set);
            black_box(legacy::sketch_into(seed, &set, &mut row));
        })
    }));
    variants.push(("set_then_oph".into(), {
        let mut sh = Shingler::default();
        let mut set = Vec::new();
        let mut row = vec![0u32; cfg.num_perm];
        Box::new(move |t: &str| {
            sh.shingle_set_unordered(t, k, &mut set);
            black_box(sketcher.sketch_into(&set, &mut row));
        })
    }));
    for isa in Isa::available() {
        variants.push((format!("fused_{}", isa.name()), {
            let mut sh = Shingler::default();
            let mut row = vec![0u32; cfg.num_perm];
            Box::new(move |t: &str| {
                black_box(sketcher.sketch_text_isa(isa, &mut sh, t, k, false, &mut row));
            })
        }));
    }
    let mut best = vec![f64::INFINITY; variants.len()];
    for _ in 0..reps {
        for (i, (_, f)) in variants.iter_mut().enumerate() {
            let t0 = std::time::Instant::now();
            for t in texts {
                f(black_box(t));
            }
            best[i] = best[i].min(t0.elapsed().as_secs_f64());
        }
    }
    for ((name, _), b) in variants.iter().zip(&best) {
        println!("{name}\t{:.0} ns/doc", b * 1e9 / texts.len() as f64);
    }
}

fn kernel(c: &mut Criterion) {
    let cfg = Config::default();
    let texts: Vec<String> = common::texts()
        .iter()
        .map(|t| {
            let norm = normalize_doc(t, &cfg.normalize);
            let mut s = String::new();
            pipeline::sketch_text(&norm, 0, Mask::default(), &mut s);
            s
        })
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(reps) = std::env::var("KERNEL_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        interleaved(reps, &texts, &cfg);
        return;
    }
    let docs = texts.len() as u64;
    let k = cfg.shingle;
    let mut sh = Shingler::default();
    let sets: Vec<Vec<u64>> = texts
        .iter()
        .map(|t| {
            let mut s = Vec::new();
            sh.shingle_set_unordered(t, k, &mut s);
            s
        })
        .collect();
    let windows: usize = texts
        .iter()
        .map(|t| {
            let mut all = Vec::new();
            sh.shingles(t, k, &mut all);
            all.len()
        })
        .sum();
    let distinct: usize = sets.iter().map(Vec::len).sum();
    eprintln!(
        "kernel: {docs} docs, {} bytes, {windows} windows ({:.0}/doc), {distinct} distinct ({:.0}/doc), k={k}, num_perm={}",
        texts.iter().map(String::len).sum::<usize>(),
        windows as f64 / docs as f64,
        distinct as f64 / docs as f64,
        cfg.num_perm
    );

    let mut g = c.benchmark_group("shingle");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(docs));
    g.bench_function("windows", |b| {
        let mut all = Vec::new();
        b.iter(|| {
            for t in &texts {
                all.clear();
                sh.shingles(black_box(t), k, &mut all);
                black_box(all.len());
            }
        })
    });
    g.bench_function("set_unordered", |b| {
        let mut set = Vec::new();
        b.iter(|| {
            for t in &texts {
                sh.shingle_set_unordered(black_box(t), k, &mut set);
                black_box(set.len());
            }
        })
    });
    for isa in Isa::available() {
        g.bench_function(format!("distinct_{}", isa.name()), |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(sh.for_each_distinct(isa, black_box(t), k, false, |h| {
                        black_box(h);
                    }));
                }
            })
        });
        // The first pass's windows: one per word.
        g.bench_function(format!("anchored_distinct_{}", isa.name()), |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(sh.for_each_distinct(isa, black_box(t), k, true, |h| {
                        black_box(h);
                    }));
                }
            })
        });
    }
    g.finish();

    let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
    let mut g = c.benchmark_group("sketch");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(docs));
    g.bench_function("oph", |b| {
        let mut row = vec![0u32; cfg.num_perm];
        b.iter(|| {
            for s in &sets {
                black_box(sketcher.sketch_into(black_box(s), &mut row));
            }
        })
    });
    let classic = Classic::new(cfg.seed ^ 0x5EED);
    for (name, f) in classic_kernels() {
        g.bench_function(name, |b| {
            let mut row = [0u32; PERMS];
            b.iter(|| {
                for s in &sets {
                    f(&classic, black_box(s), &mut row);
                    black_box(&row);
                }
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("shingle_sketch");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(docs));
    g.bench_function("legacy_set_then_oph", |b| {
        let mut old = legacy::Shingler::default();
        let mut set = Vec::new();
        let mut row = vec![0u32; cfg.num_perm];
        b.iter(|| {
            for t in &texts {
                old.set_unordered(black_box(t), k, &mut set);
                black_box(legacy::sketch_into(cfg.seed, &set, &mut row));
            }
        })
    });
    g.bench_function("set_then_oph", |b| {
        let mut set = Vec::new();
        let mut row = vec![0u32; cfg.num_perm];
        b.iter(|| {
            for t in &texts {
                sh.shingle_set_unordered(black_box(t), k, &mut set);
                black_box(sketcher.sketch_into(&set, &mut row));
            }
        })
    });
    for isa in Isa::available() {
        g.bench_function(format!("fused_{}", isa.name()), |b| {
            let mut row = vec![0u32; cfg.num_perm];
            b.iter(|| {
                for t in &texts {
                    black_box(sketcher.sketch_text_isa(
                        isa,
                        &mut sh,
                        black_box(t),
                        k,
                        false,
                        &mut row,
                    ));
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = kernel
}
criterion_main!(benches);
