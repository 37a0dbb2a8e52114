//! Banding (LSH): signatures are cut into `bands` bands of `rows` values; two documents whose
//! values agree on every row of some band become a candidate pair.
//!
//! A pair with Jaccard similarity `s` becomes a candidate with probability `1 - (1 - s^r)^b` (the
//! S-curve, [`Banding::probability`]). [`Banding::for_threshold`] picks `b` and `r` for a
//! threshold the way the LSH literature does: it minimises the area of false positives below the
//! threshold plus false negatives above it.
//!
//! Candidates come from grouping `(band key, document)` entries by key band by band, so a band
//! table is plain data that can be written to disk in partitions and read back. A bucket larger than
//! `max_bucket` (templated items, very short texts) does not yield all its pairs: each member is
//! paired with the next `max_bucket` members only, which keeps the count linear in the bucket size.
//! [`filter_candidates`] hands each candidate to a check (verification) once, at the first band
//! that yields it, so the candidates themselves are never collected.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::Result;
use crate::sketch::Signatures;
use crate::spill::{self, Runs};

/// See [`Banding::for_verification`].
pub const CANDIDATE_FACTOR: f64 = 0.6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Banding {
    pub bands: usize,
    pub rows: usize,
}

fn integrate(f: impl Fn(f64) -> f64, a: f64, b: f64) -> f64 {
    let n = 200;
    let h = (b - a) / n as f64;
    let mut s = 0.5 * (f(a) + f(b));
    for i in 1..n {
        s += f(a + i as f64 * h);
    }
    s * h
}

impl Banding {
    /// Where [`Banding::for_verification`] places the S-curve, as a fraction of the threshold.
    pub const CANDIDATE_FACTOR: f64 = CANDIDATE_FACTOR;

    /// Probability that a pair of Jaccard similarity `s` shares at least one band.
    pub fn probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }

    /// The similarity at which the S-curve is steepest, about `(1/b)^(1/r)`.
    pub fn knee(&self) -> f64 {
        (1.0 / self.bands as f64).powf(1.0 / self.rows as f64)
    }

    /// The banding with `bands * rows <= num_perm` that minimises the expected false positives
    /// (area under the S-curve below `threshold`) plus false negatives (area above the curve
    /// from `threshold` to 1), equally weighted.
    pub fn for_threshold(threshold: f64, num_perm: usize) -> Banding {
        let mut best = (f64::INFINITY, Banding { bands: 1, rows: 1 });
        for bands in 1..=num_perm {
            for rows in 1..=num_perm / bands {
                let b = Banding { bands, rows };
                let fp = integrate(|s| b.probability(s), 0.0, threshold);
                let fneg = integrate(|s| 1.0 - b.probability(s), threshold, 1.0);
                let err = fp + fneg;
                if err < best.0 - 1e-12 {
                    best = (err, b);
                }
            }
        }
        best.1
    }

    /// Where the S-curve goes for a verification threshold: at `CANDIDATE_FACTOR * threshold`.
    /// Banding exactly at the threshold finds only about half the pairs that sit at it; placing
    /// the curve lower finds pairs at the threshold with probability >= 0.99 (37 x 3 for 0.5 and
    /// 128 values: 0.993) and still reaches truncated copies that only containment accepts (a
    /// copy holding 80% of a text twice its length has Jaccard 0.36: found with probability 0.83).
    /// Verification removes the extra candidates.
    pub fn for_verification(threshold: f64, num_perm: usize) -> Banding {
        Banding::for_threshold(CANDIDATE_FACTOR * threshold, num_perm)
    }

    /// The key of one band of one signature.
    #[inline]
    pub fn key(&self, sig: &[u32], band: usize) -> u64 {
        let row = &sig[band * self.rows..(band + 1) * self.rows];
        // The key hashes the row's values as little-endian bytes, on every platform (so that
        // keys written to disk read back the same anywhere).
        #[cfg(target_endian = "little")]
        {
            // SAFETY: a `u32` slice is `4 * len` initialized bytes with no padding, and `u8` has
            // alignment 1; on a little-endian target those bytes are the values' LE bytes.
            let bytes =
                unsafe { std::slice::from_raw_parts(row.as_ptr().cast::<u8>(), 4 * row.len()) };
            xxh3_64_with_seed(bytes, band as u64)
        }
        #[cfg(not(target_endian = "little"))]
        {
            let v: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
            xxh3_64_with_seed(&v, band as u64)
        }
    }
}

/// Counts from candidate generation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BandStats {
    /// Distinct candidate pairs: pairs whose signatures agree on every row of some band (and,
    /// in a capped bucket, that the bucket yields).
    pub candidate_pairs: u64,
    /// Buckets larger than `max_bucket`, whose pairs were limited.
    pub capped_buckets: u64,
    /// Times a band table's buffer was written to a scratch file (0: every band table fitted in
    /// memory).
    pub spilled_runs: u64,
}

/// One band's table: `(key, document)` sorted by key, then document.
pub fn band_table(sigs: &Signatures, banding: &Banding, band: usize) -> Vec<(u64, u32)> {
    let mut t: Vec<(u64, u32)> = (0..sigs.len())
        .filter(|&d| sigs.active(d))
        .map(|d| (banding.key(sigs.get(d), band), d as u32))
        .collect();
    t.sort_unstable();
    t
}

/// The pairs `(a, b)`, `a < b`, that share a bucket of one sorted band table. Returns the number
/// of capped buckets.
pub fn pairs_from_table(table: &[(u64, u32)], max_bucket: usize, out: &mut Vec<(u32, u32)>) -> u64 {
    table
        .chunk_by(|x, y| x.0 == y.0)
        .map(|bucket| bucket_pairs(bucket, max_bucket, out) as u64)
        .sum()
}

/// The pairs of one bucket (entries of one key, sorted by document): each member with the next
/// `max_bucket` members. Returns whether the bucket is capped (it has more pairs than that).
fn bucket_pairs(bucket: &[(u64, u32)], max_bucket: usize, out: &mut Vec<(u32, u32)>) -> bool {
    for (i, &(_, a)) in bucket.iter().enumerate() {
        let stop = bucket.len().min(i + 1 + max_bucket);
        for &(_, b) in &bucket[i + 1..stop] {
            out.push((a, b));
        }
    }
    bucket.len() > max_bucket + 1
}

/// A member of a capped bucket of one band: the document, which capped bucket of the band it is
/// in, and its rank in that bucket (members in document order).
type CappedMember = (u32, u32, u32);

/// The pairs of a sorted slice of a band table made of whole buckets (see [`pairs_from_table`]);
/// the members of capped buckets are appended to `capped`, each bucket known by its first
/// document. Returns the number of capped buckets.
fn pairs_from_slice(
    table: &[(u64, u32)],
    max_bucket: usize,
    out: &mut Vec<(u32, u32)>,
    capped: &mut Vec<CappedMember>,
) -> u64 {
    let mut count = 0;
    for bucket in table.chunk_by(|a, b| a.0 == b.0) {
        if bucket_pairs(bucket, max_bucket, out) {
            let id = bucket[0].1;
            capped.extend(
                bucket
                    .iter()
                    .enumerate()
                    .map(|(rank, &(_, d))| (d, id, rank as u32)),
            );
            count += 1;
        }
    }
    count
}

/// One band's pairs, the members of its capped buckets (sorted by document), its capped bucket
/// count and the times it spilled.
type BandPairs = (Vec<(u32, u32)>, Vec<CappedMember>, u64, u64);

/// Whether band `band` yields the pair `(a, b)`, `a < b`, given that their keys agree in it: the
/// two signatures agree on every row of the band (keys that agree by a hash accident do not
/// count), and, when the bucket is capped, `b` is among the `max_bucket` members after `a`.
#[inline]
fn band_yields(
    (a, b): (u32, u32),
    (sa, sb): (&[u32], &[u32]),
    rows: usize,
    band: usize,
    capped: &[CappedMember],
    max_bucket: usize,
) -> bool {
    // Compared value by value: slice equality of a run-time length calls memcmp, which costs
    // more than the three to five values of a band.
    if !(band * rows..(band + 1) * rows).all(|i| sa[i] == sb[i]) {
        return false;
    }
    let rank = |d: u32| {
        capped
            .binary_search_by_key(&d, |m| m.0)
            .ok()
            .map(|i| (capped[i].1, capped[i].2))
    };
    match rank(a) {
        None => true,
        // Rows agree, so keys agree and `b` is in `a`'s bucket.
        Some((bucket, ra)) => {
            rank(b).is_some_and(|(bb, rb)| bb == bucket && (rb - ra) as usize <= max_bucket)
        }
    }
}

/// Documents whose band keys are computed at a time.
const KEY_CHUNK: usize = 1 << 16;

/// All distinct candidate pairs of a corpus's signatures, sorted, with every band table in
/// memory.
pub fn candidate_pairs(
    sigs: &Signatures,
    banding: &Banding,
    max_bucket: usize,
) -> (Vec<(u32, u32)>, BandStats) {
    candidate_pairs_within(sigs, banding, max_bucket, u64::MAX)
        .expect("band tables held in memory need no scratch file")
}

/// [`candidate_pairs`] within a memory budget for the band tables (see [`filter_candidates`]).
pub fn candidate_pairs_within(
    sigs: &Signatures,
    banding: &Banding,
    max_bucket: usize,
    table_bytes: u64,
) -> Result<(Vec<(u32, u32)>, BandStats)> {
    filter_candidates(
        sigs,
        banding,
        max_bucket,
        table_bytes,
        &|a, b| Some((a, b)),
        &|| Ok(()),
    )
}

/// `f(a, b)` for every distinct candidate pair `(a, b)`, `a < b`, keeping the results that are
/// `Some`, in the order of the pairs; `f` runs in parallel, once per pair. `band_done` is called
/// as each band is finished; an error from it (a cancelled run) stops the work and is returned.
///
/// A pair is a candidate when its signatures agree on every row of some band (and, if that
/// band's bucket is capped, it is among the pairs the bucket yields). Each pair is handed to `f`
/// at the first band that yields it: the others leave it out after comparing the earlier bands'
/// rows of the two signatures, which `f` then reads while they are in cache. So a pair that
/// collides in many bands (a near copy: most of them) is checked once, the candidates are never
/// sorted nor deduplicated (only what `f` keeps is sorted), and signatures are read at random
/// once per pair. The band tables being built at once hold at most `table_bytes` together; past
/// that, they are written to a scratch file by partition and read back (the result is the same).
pub fn filter_candidates<T: Send>(
    sigs: &Signatures,
    banding: &Banding,
    max_bucket: usize,
    table_bytes: u64,
    f: &(dyn Fn(u32, u32) -> Option<T> + Sync),
    band_done: &dyn Fn() -> Result<()>,
) -> Result<(Vec<T>, BandStats)> {
    let at_once = rayon::current_num_threads().clamp(1, banding.bands.max(1));
    let per_table = table_bytes / at_once as u64;
    let mut kept: Vec<(u64, T)> = Vec::new();
    let mut candidates = 0u64;
    let mut capped = 0;
    let mut spilled_runs = 0;
    // The members of each band's capped buckets, sorted by document, for `band_yields`.
    let mut capped_members: Vec<Vec<CappedMember>> = Vec::with_capacity(banding.bands);
    let bands: Vec<usize> = (0..banding.bands).collect();
    let rows = banding.rows;
    for group in bands.chunks(at_once) {
        let per_band: Vec<Result<BandPairs>> = group
            .par_iter()
            .map(|&band| {
                let mut runs: Runs<(u64, u32)> =
                    Runs::new(per_table, |&(key, _)| (key >> 56) as u8);
                for start in (0..sigs.len()).step_by(KEY_CHUNK) {
                    let end = (start + KEY_CHUNK).min(sigs.len());
                    let keys: Vec<(u64, u32)> = (start..end)
                        .filter(|&d| sigs.active(d))
                        .map(|d| (banding.key(sigs.get(d), band), d as u32))
                        .collect();
                    runs.extend_parts(vec![keys])?;
                }
                let spilled = runs.spilled_runs() as u64;
                // A bucket's entries share their key's top byte: partitions by it are turned
                // into pairs on their own, in parallel. A bucket of one yields nothing: only
                // the keys that repeat are sorted.
                let parts = runs.partitions(|part| {
                    let (mut out, mut members) = (Vec::new(), Vec::new());
                    let part = spill::sort_repeated(part, |&(key, _)| key, 2);
                    let count = pairs_from_slice(part, max_bucket, &mut out, &mut members);
                    (out, members, count)
                })?;
                let mut out = Vec::with_capacity(parts.iter().map(|p| p.0.len()).sum());
                let (mut members, mut count) = (Vec::new(), 0);
                for (o, m, c) in parts {
                    out.extend_from_slice(&o);
                    members.extend_from_slice(&m);
                    count += c;
                }
                members.sort_unstable();
                Ok((out, members, count, spilled))
            })
            .collect();
        let per_band = per_band.into_iter().collect::<Result<Vec<BandPairs>>>()?;
        for (&band, (p, members, c, r)) in group.iter().zip(per_band) {
            debug_assert_eq!(capped_members.len(), band);
            capped += c;
            spilled_runs += r;
            capped_members.push(members);
            let earlier = &capped_members;
            // Pairs in chunks, in parallel. Most pairs a band yields were yielded by an earlier
            // band (near copies collide in most bands), so only the rows up to this band's are
            // prefetched, for the pair 8 places ahead (signatures are read at random); `f` reads
            // the rest for the few pairs that get to it.
            const AHEAD: usize = 8;
            let prefix = (band + 1) * rows;
            let (n, results) = p
                .par_chunks(4096)
                .map(|chunk| {
                    let mut n = 0u64;
                    let mut out = Vec::new();
                    for (i, &(a, b)) in chunk.iter().enumerate() {
                        if let Some(&(na, nb)) = chunk.get(i + AHEAD) {
                            sigs.prefetch_values(na as usize, prefix);
                            sigs.prefetch_values(nb as usize, prefix);
                        }
                        let (sa, sb) = (sigs.get(a as usize), sigs.get(b as usize));
                        let yields = |j: usize| {
                            band_yields((a, b), (sa, sb), rows, j, &earlier[j], max_bucket)
                        };
                        if !yields(band) || (0..band).any(yields) {
                            continue;
                        }
                        n += 1;
                        if let Some(t) = f(a, b) {
                            out.push(((a as u64) << 32 | b as u64, t));
                        }
                    }
                    (n, out)
                })
                .reduce(
                    || (0, Vec::new()),
                    |(n1, mut v1), (n2, v2)| {
                        v1.extend(v2);
                        (n1 + n2, v1)
                    },
                );
            candidates += n;
            kept.extend(results);
            band_done()?;
        }
    }
    kept.par_sort_unstable_by_key(|&(pair, _)| pair);
    debug_assert!(kept.windows(2).all(|w| w[0].0 < w[1].0));
    Ok((
        kept.into_iter().map(|(_, t)| t).collect(),
        BandStats {
            candidate_pairs: candidates,
            capped_buckets: capped,
            spilled_runs,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::Sketcher;

    #[test]
    fn threshold_half_matches_the_usual_choice() {
        // The choice datasketch makes for threshold 0.5 and 128 permutations.
        assert_eq!(
            Banding::for_threshold(0.5, 128),
            Banding { bands: 25, rows: 5 }
        );
    }

    #[test]
    fn default_banding_finds_pairs_at_the_threshold() {
        let b = Banding::for_verification(0.5, 128);
        assert_eq!(b, Banding { bands: 37, rows: 3 });
        assert!(b.probability(0.5) > 0.99);
        assert!(b.probability(0.36) > 0.8);
        assert!(b.probability(0.1) < 0.05);
    }

    #[test]
    fn s_curve_is_monotone_and_steep_at_the_knee() {
        let b = Banding { bands: 25, rows: 5 };
        let mut last = 0.0;
        for i in 0..=20 {
            let p = b.probability(i as f64 / 20.0);
            assert!(p >= last);
            last = p;
        }
        assert!(b.probability(0.2) < 0.01);
        assert!(b.probability(0.8) > 0.999);
        assert!((b.knee() - 0.525).abs() < 0.01);
    }

    #[test]
    fn lower_thresholds_band_wider() {
        let lo = Banding::for_threshold(0.3, 128);
        let hi = Banding::for_threshold(0.8, 128);
        assert!(lo.rows < hi.rows);
        assert!(lo.probability(0.4) > hi.probability(0.4));
    }

    #[test]
    fn similar_documents_become_candidates() {
        let s = Sketcher::new(128, 0);
        let mut sigs = Signatures::new(128, 3);
        let a: Vec<u64> = (0..1000).collect();
        let b: Vec<u64> = (50..1050).collect();
        let c: Vec<u64> = (5000..6000).collect();
        for (i, set) in [a, b, c].iter().enumerate() {
            let set: Vec<u64> = set
                .iter()
                .map(|x| xxhash_rust::xxh3::xxh3_64(&x.to_le_bytes()))
                .collect();
            s.sketch_into(&set, &mut sigs.values[i * 128..(i + 1) * 128]);
            sigs.sizes[i] = set.len() as u32;
        }
        let (pairs, stats) = candidate_pairs(&sigs, &Banding { bands: 25, rows: 5 }, 100);
        assert_eq!(pairs, vec![(0, 1)]);
        assert_eq!(stats.candidate_pairs, 1);
    }

    #[test]
    fn huge_buckets_are_capped_linearly() {
        let table: Vec<(u64, u32)> = (0..1000).map(|d| (7, d)).collect();
        let mut out = Vec::new();
        let capped = pairs_from_table(&table, 10, &mut out);
        assert_eq!(capped, 1);
        assert!(out.len() <= 1000 * 10);
        assert!(out.contains(&(0, 10)) && !out.contains(&(0, 11)));
        let mut small = Vec::new();
        assert_eq!(pairs_from_table(&table[..5], 10, &mut small), 0);
        assert_eq!(small.len(), 10);
    }

    #[test]
    fn spilled_band_tables_give_the_same_pairs() {
        let s = Sketcher::new(64, 0);
        let n = 3000;
        let mut sigs = Signatures::new(64, n);
        for d in 0..n {
            // Documents in families of five with overlapping shingle ranges.
            let base = (d / 5) as u64 * 10_000 + (d % 5) as u64 * 40;
            let set: Vec<u64> = (base..base + 400)
                .map(|x| xxhash_rust::xxh3::xxh3_64(&x.to_le_bytes()))
                .collect();
            s.sketch_into(&set, &mut sigs.values[d * 64..(d + 1) * 64]);
            sigs.sizes[d] = set.len() as u32;
        }
        let b = Banding { bands: 16, rows: 4 };
        let mem = candidate_pairs(&sigs, &b, 3);
        let spilled = candidate_pairs_within(&sigs, &b, 3, 4096).unwrap();
        assert!(mem.1.candidate_pairs > 1000);
        assert_eq!(mem.0, spilled.0);
        assert_eq!(mem.1.candidate_pairs, spilled.1.candidate_pairs);
        assert_eq!(mem.1.capped_buckets, spilled.1.capped_buckets);
        assert_eq!(mem.1.spilled_runs, 0);
        assert!(spilled.1.spilled_runs >= 16 * 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Each pair is handed to the check at the first band that yields it: the candidates are
        /// the distinct union of every band's pairs (capped buckets included), in memory or
        /// spilled, each checked once.
        #[test]
        fn candidates_are_the_union_of_every_bands_pairs(
            values in proptest::collection::vec(0u32..3, 12..1200),
            max_bucket in 1usize..6,
            spill in proptest::bool::ANY,
        ) {
            let banding = Banding { bands: 4, rows: 3 };
            let n = values.len() / 12;
            let sigs = Signatures {
                num_perm: 12,
                values: values[..n * 12].to_vec(),
                sizes: (0..n as u32).map(|d| 1 + d % 7).collect(),
            };
            let mut naive = Vec::new();
            let mut capped = 0;
            for band in 0..banding.bands {
                capped += pairs_from_table(&band_table(&sigs, &banding, band), max_bucket, &mut naive);
            }
            naive.sort_unstable();
            naive.dedup();
            let bytes = if spill { 1 } else { u64::MAX };
            let (pairs, stats) = candidate_pairs_within(&sigs, &banding, max_bucket, bytes).unwrap();
            proptest::prop_assert_eq!(stats.candidate_pairs, naive.len() as u64);
            proptest::prop_assert_eq!(pairs, naive.clone());
            proptest::prop_assert_eq!(stats.capped_buckets, capped);
            // The check runs once per candidate, and what it keeps comes back in pair order.
            let calls = std::sync::atomic::AtomicU64::new(0);
            let bands_done = std::sync::atomic::AtomicU64::new(0);
            let (kept, _) = filter_candidates(
                &sigs,
                &banding,
                max_bucket,
                bytes,
                &|a, b| {
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    ((a + b) % 3 != 0).then_some((b, a))
                },
                &|| {
                    bands_done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    Ok(())
                },
            )
            .unwrap();
            let expected: Vec<(u32, u32)> =
                naive.iter().filter(|(a, b)| (a + b) % 3 != 0).map(|&(a, b)| (b, a)).collect();
            proptest::prop_assert_eq!(kept, expected);
            proptest::prop_assert_eq!(calls.into_inner(), naive.len() as u64);
            proptest::prop_assert_eq!(bands_done.into_inner(), banding.bands as u64);
        }
    }
}
