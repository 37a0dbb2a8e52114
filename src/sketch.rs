//! Sketching: a shingle set becomes a fixed-length MinHash signature.
//!
//! The kernel is one-permutation hashing (OPH, Li, Owen & Zhang 2012) with optimal densification
//! (Shrivastava 2017): each shingle hash is routed to one of `num_perm` bins by its high 32 bits
//! and the bin keeps the least low-32-bit value it sees; empty bins then borrow the value of a
//! non-empty bin picked by a probe sequence that depends only on the bin number, so two documents
//! borrow alike. Position `i` of two signatures agrees with probability equal to the Jaccard
//! similarity of the sets, as with `num_perm` independent permutations, at the cost of one pass
//! over the set instead of `num_perm` passes.
//!
//! [`Sketcher::sketch_text`] goes from text to signature in one pass (each window hashed, checked
//! against the distinct ones so far, and folded into its bin when new), with that loop compiled
//! for AVX2 as well as for baseline x86-64 and picked at run time ([`crate::Isa`]); the classic
//! `num_perm`-hash MinHash is what needs wide vectors (about 3x from AVX2, 8x from AVX-512 in
//! `benches/kernel.rs`), but it stays several times slower than this kernel even so.
//!
//! Written by hand because the sketch is the product's core and its exact bits decide what a
//! signature written today means to an index read tomorrow: the layout is `num_perm` `u32`
//! values per document, stable across versions with the same `seed`.

use serde::{Deserialize, Serialize};

use crate::isa::{prefetch, Isa};
use crate::shingle::Shingler;

/// The value a bin holds when the whole set is empty.
pub const EMPTY: u32 = u32::MAX;

/// MinHash parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sketcher {
    pub num_perm: usize,
    pub seed: u64,
}

#[inline]
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Sketcher {
    pub fn new(num_perm: usize, seed: u64) -> Self {
        assert!(num_perm > 0 && num_perm <= u32::MAX as usize);
        Sketcher { num_perm, seed }
    }

    /// Folds one shingle hash into `out` (bins start at [`EMPTY`]; filled bins hold less).
    #[inline(always)]
    fn update(&self, h: u64, out: &mut [u32]) {
        let h = h ^ self.seed;
        let h = if self.seed == 0 { h } else { splitmix64(h) };
        let bin = (((h >> 32) * out.len() as u64) >> 32) as usize;
        // `EMPTY` is reserved for empty bins.
        let v = (h as u32).min(EMPTY - 1);
        // Branch-free: a new least value comes often enough early in a bin (one shingle in five
        // or so) for a branch on it to be mispredicted.
        out[bin] = out[bin].min(v);
    }

    /// Fills the empty bins of a non-empty sketch from the probe sequence of each.
    fn densify(&self, out: &mut [u32]) {
        let k = out.len();
        if !out.contains(&EMPTY) {
            return;
        }
        // Which bins were filled before densification (bins filled by it must not lend).
        let words = k.div_ceil(64);
        let mut small = [0u64; 16];
        let mut big = Vec::new();
        let filled: &mut [u64] = if words <= small.len() {
            &mut small[..words]
        } else {
            big.resize(words, 0);
            &mut big
        };
        for (i, &v) in out.iter().enumerate() {
            filled[i / 64] |= ((v != EMPTY) as u64) << (i % 64);
        }
        for i in 0..k {
            if out[i] != EMPTY {
                continue;
            }
            let mut attempt = 1u64;
            loop {
                let r = splitmix64(self.seed ^ ((i as u64) << 32) ^ attempt);
                let j = (((r >> 32) * k as u64) >> 32) as usize;
                if filled[j / 64] >> (j % 64) & 1 == 1 {
                    // A bin filled by the shingles keeps its value: `out[j]` is the original.
                    out[i] = out[j];
                    break;
                }
                attempt += 1;
            }
        }
    }

    /// Writes the signature of a shingle set (distinct hashes, any order) into `out`
    /// (`num_perm` long). Returns false when the set is empty (every value [`EMPTY`]).
    pub fn sketch_into(&self, shingles: &[u64], out: &mut [u32]) -> bool {
        assert_eq!(out.len(), self.num_perm);
        out.fill(EMPTY);
        if shingles.is_empty() {
            return false;
        }
        for &h in shingles {
            self.update(h, out);
        }
        self.densify(out);
        true
    }

    /// The signature of `text`'s shingle set (every `k`-character window, or only those that start
    /// a word when `anchored`) into `out`, without materializing the set: each window is hashed,
    /// checked against the distinct ones seen so far and, when new, folded into its bin. Returns
    /// the set's size (0 for an empty text, whose values are all [`EMPTY`]). Gives the bits of
    /// [`Shingler::shingle_set_unordered`] (or `anchored_set_unordered`) then
    /// [`Sketcher::sketch_into`], with the loop compiled for [`Isa::detect`].
    pub fn sketch_text(
        &self,
        shingler: &mut Shingler,
        text: &str,
        k: usize,
        anchored: bool,
        out: &mut [u32],
    ) -> u32 {
        self.sketch_text_isa(Isa::detect(), shingler, text, k, anchored, out)
    }

    /// [`Sketcher::sketch_text`] with the loop compiled for `isa` (any of [`Isa::available`]:
    /// the token is only made for what this CPU runs, so every choice is safe and gives the same
    /// bits).
    pub fn sketch_text_isa(
        &self,
        isa: Isa,
        shingler: &mut Shingler,
        text: &str,
        k: usize,
        anchored: bool,
        out: &mut [u32],
    ) -> u32 {
        assert_eq!(out.len(), self.num_perm);
        out.fill(EMPTY);
        let n = shingler.for_each_distinct(isa, text, k, anchored, |h| self.update(h, out));
        if n == 0 {
            return 0;
        }
        self.densify(out);
        n as u32
    }

    pub fn sketch(&self, shingles: &[u64]) -> Vec<u32> {
        let mut out = vec![EMPTY; self.num_perm];
        self.sketch_into(shingles, &mut out);
        out
    }
}

/// The estimated Jaccard similarity of two signatures: the share of positions that agree.
#[inline]
pub fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
    same as f64 / a.len() as f64
}

/// Estimated containment of the smaller set in the larger, from the Jaccard estimate and the two
/// set sizes: |A∩B| = J(|A|+|B|)/(1+J), divided by min(|A|,|B|), capped at 1.
#[inline]
pub fn containment(j: f64, size_a: u32, size_b: u32) -> f64 {
    let small = size_a.min(size_b);
    if small == 0 {
        return 0.0;
    }
    let inter = j * (size_a as f64 + size_b as f64) / (1.0 + j);
    (inter / small as f64).min(1.0)
}

/// The signatures of a corpus, one row of `num_perm` values per document, with the size of each
/// document's shingle set (0 for a document that was not sketched or whose set is empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signatures {
    pub num_perm: usize,
    pub values: Vec<u32>,
    pub sizes: Vec<u32>,
}

impl Signatures {
    pub fn new(num_perm: usize, docs: usize) -> Self {
        Signatures {
            num_perm,
            values: vec![EMPTY; num_perm * docs],
            sizes: vec![0; docs],
        }
    }

    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    #[inline]
    pub fn get(&self, doc: usize) -> &[u32] {
        &self.values[doc * self.num_perm..(doc + 1) * self.num_perm]
    }

    /// Asks the CPU to start loading document `doc`'s signature into cache (a hint: it changes
    /// no result). Verification reads the signatures of candidate pairs at random, so on a large
    /// corpus it waits on memory; prefetching the pairs a few steps ahead overlaps those waits.
    #[inline]
    pub fn prefetch(&self, doc: usize) {
        self.prefetch_values(doc, self.num_perm);
    }

    /// [`Signatures::prefetch`] for the first `values` values of document `doc`'s signature.
    #[inline]
    pub fn prefetch_values(&self, doc: usize, values: usize) {
        let row = &self.get(doc)[..values.min(self.num_perm)];
        for line in row.chunks(16) {
            prefetch(&line[0]);
        }
    }

    /// Whether document `doc` has a signature to band and compare.
    #[inline]
    pub fn active(&self, doc: usize) -> bool {
        self.sizes[doc] > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(range: std::ops::Range<u64>) -> Vec<u64> {
        range.map(|x| splitmix64(x.wrapping_mul(7919))).collect()
    }

    #[test]
    fn identical_sets_give_identical_signatures() {
        let s = Sketcher::new(128, 0);
        let a = set(0..500);
        let mut b = a.clone();
        b.reverse();
        assert_eq!(s.sketch(&a), s.sketch(&b));
        assert_eq!(jaccard(&s.sketch(&a), &s.sketch(&b)), 1.0);
    }

    #[test]
    fn empty_set_is_reported_and_tiny_sets_densify() {
        let s = Sketcher::new(64, 0);
        let mut out = vec![0; 64];
        assert!(!s.sketch_into(&[], &mut out));
        assert!(out.iter().all(|&v| v == EMPTY));
        let one = s.sketch(&[42]);
        assert!(one.iter().all(|&v| v == one[0] && v != EMPTY));
    }

    #[test]
    fn containment_from_sizes() {
        // B holds A (100 of 400): J = 0.25, containment 1.
        assert!((containment(0.25, 100, 400) - 1.0).abs() < 1e-9);
        assert!((containment(0.0, 100, 400)).abs() < 1e-9);
        assert_eq!(containment(0.5, 0, 10), 0.0);
    }

    #[test]
    fn seeds_give_independent_sketches() {
        let a = set(0..300);
        let b = set(100..400);
        let j0 = jaccard(
            &Sketcher::new(128, 0).sketch(&a),
            &Sketcher::new(128, 0).sketch(&b),
        );
        let j1 = jaccard(
            &Sketcher::new(128, 9).sketch(&a),
            &Sketcher::new(128, 9).sketch(&b),
        );
        assert_ne!(
            Sketcher::new(128, 0).sketch(&a),
            Sketcher::new(128, 9).sketch(&a)
        );
        assert!((j0 - 0.5).abs() < 0.2 && (j1 - 0.5).abs() < 0.2);
    }

    /// Texts of 0 to 400 characters (Arabic letters, Latin letters, spaces), some with many
    /// repeated windows.
    fn random_texts(count: usize) -> Vec<String> {
        const ALPHABET: [char; 12] = ['a', 'b', 'c', ' ', ' ', 'و', 'ز', 'ي', 'ر', 'ا', 'ل', 'م'];
        let mut state = 5u64;
        (0..count)
            .map(|i| {
                state = splitmix64(state);
                let len = (state % 401) as usize;
                let span = [2, 5, ALPHABET.len()][i % 3];
                (0..len)
                    .map(|_| {
                        state = splitmix64(state);
                        ALPHABET[(state % span as u64) as usize]
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_isa_gives_the_same_signature() {
        let mut sh = Shingler::default();
        let mut set = Vec::new();
        for (t, text) in random_texts(600).iter().enumerate() {
            let s = Sketcher::new([128, 64, 200][t % 3], [0, 7][t % 2]);
            for anchored in [false, true] {
                if anchored {
                    sh.anchored_set_unordered(text, 7, &mut set);
                } else {
                    sh.shingle_set_unordered(text, 7, &mut set);
                }
                let mut want = vec![0; s.num_perm];
                let nonempty = s.sketch_into(&set, &mut want);
                for isa in Isa::available() {
                    let mut got = vec![0; s.num_perm];
                    let n = s.sketch_text_isa(isa, &mut sh, text, 7, anchored, &mut got);
                    assert_eq!(got, want, "{isa:?} {text:?} anchored={anchored}");
                    assert_eq!(n as usize, if nonempty { set.len() } else { 0 });
                }
            }
        }
    }

    /// The kernel as first written (a filled flag per bin, densification from a copy).
    fn reference_sketch(s: &Sketcher, shingles: &[u64]) -> Vec<u32> {
        let k = s.num_perm;
        let mut out = vec![EMPTY; k];
        if shingles.is_empty() {
            return out;
        }
        let mut filled = vec![false; k];
        for &h in shingles {
            let h = h ^ s.seed;
            let h = if s.seed == 0 { h } else { splitmix64(h) };
            let bin = (((h >> 32) * k as u64) >> 32) as usize;
            out[bin] = out[bin].min((h as u32).min(EMPTY - 1));
            filled[bin] = true;
        }
        let original = out.clone();
        for i in (0..k).filter(|&i| !filled[i]) {
            let mut attempt = 1u64;
            loop {
                let r = splitmix64(s.seed ^ ((i as u64) << 32) ^ attempt);
                let j = (((r >> 32) * k as u64) >> 32) as usize;
                if filled[j] {
                    out[i] = original[j];
                    break;
                }
                attempt += 1;
            }
        }
        out
    }

    #[test]
    fn sketch_matches_the_reference_kernel() {
        for (n, &k) in (0..400u64).zip([128usize, 64, 256, 1500, 7].iter().cycle()) {
            let s = Sketcher::new(k, n % 3);
            // Tiny sets (most bins densified) to a few thousand shingles.
            let set = set(n * 10_000..n * 10_000 + (n * n) % 3000);
            assert_eq!(s.sketch(&set), reference_sketch(&s, &set), "k={k} n={n}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// The estimate of two sets with a known overlap stays within 4.5 standard errors
        /// (sqrt(J(1-J)/k)) of the true Jaccard, for sets from 1 to 5000 elements.
        #[test]
        fn estimate_tracks_true_jaccard(
            shared in 0u64..3000, only_a in 0u64..1500, only_b in 0u64..1500,
            salt in any::<u64>(), seed in 0u64..4,
        ) {
            prop_assume!(shared + only_a > 0 && shared + only_b > 0);
            let mk = |lo: u64, hi: u64| -> Vec<u64> {
                (lo..hi).map(|x| splitmix64(x ^ salt.rotate_left(17))).collect()
            };
            let a: Vec<u64> = mk(0, shared).into_iter().chain(mk(10_000, 10_000 + only_a)).collect();
            let b: Vec<u64> = mk(0, shared).into_iter().chain(mk(20_000, 20_000 + only_b)).collect();
            let truth = shared as f64 / (shared + only_a + only_b) as f64;
            let k = 128;
            let s = Sketcher::new(k, seed);
            let est = jaccard(&s.sketch(&a), &s.sketch(&b));
            let sd = (truth * (1.0 - truth) / k as f64).sqrt();
            // Densification adds variance when most bins are empty (tiny sets): allow for it.
            let tol = 4.5 * sd + if a.len().min(b.len()) < k { 0.12 } else { 0.01 };
            prop_assert!((est - truth).abs() <= tol,
                "estimate {} truth {} tol {} (|A|={} |B|={})", est, truth, tol, a.len(), b.len());
        }
    }

    #[test]
    fn estimate_is_unbiased_on_average() {
        // Over many independent sketches, the mean estimate converges to the truth.
        let a = set(0..1000);
        let b = set(400..1600); // J = 600/1600
        let truth = 600.0 / 1600.0;
        let mean: f64 = (0..200)
            .map(|seed| {
                let s = Sketcher::new(128, seed + 1);
                jaccard(&s.sketch(&a), &s.sketch(&b))
            })
            .sum::<f64>()
            / 200.0;
        assert!((mean - truth).abs() < 0.01, "mean {mean} truth {truth}");
    }
}
