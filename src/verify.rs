//! Verification: a candidate pair joins a cluster only if its signatures say the documents are
//! copies. Raw LSH candidates are never merged unchecked: union-find over them chains a news
//! corpus into a few giant clusters.
//!
//! The rule: the estimated Jaccard similarity reaches `threshold`, or, when containment is on,
//! the estimated containment of the smaller document in the larger reaches `containment` and the
//! smaller document has at least `min_shingles` shingles (a few words are contained anywhere).

use serde::{Deserialize, Serialize};

use crate::sketch::{self, Signatures};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyRule {
    pub threshold: f64,
    pub containment: Option<f64>,
    pub min_shingles: u32,
    /// Containment at which two documents dated within a day of each other are copies (the
    /// second rule); `None`: off.
    pub dated_containment: Option<f64>,
}

/// Similarity estimates of one pair.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairScore {
    pub jaccard: f64,
    pub containment: f64,
}

/// An accepted pair.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    pub a: u32,
    pub b: u32,
    pub score: PairScore,
    /// Accepted by the second rule alone (documents dated within a day, containment under the
    /// rule's): such a pair is reported as a link and does not join clusters.
    pub dated: bool,
}

/// Estimates of documents `a` and `b` from their signatures and shingle-set sizes.
pub fn score(sigs: &Signatures, a: usize, b: usize) -> PairScore {
    let j = sketch::jaccard(sigs.get(a), sigs.get(b));
    PairScore {
        jaccard: j,
        containment: sketch::containment(j, sigs.sizes[a], sigs.sizes[b]),
    }
}

/// The part of the rule that accepts a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Passed {
    /// The Jaccard similarity reaches the threshold.
    Jaccard,
    /// The Jaccard similarity does not, but the containment does (and the smaller document has
    /// enough shingles).
    Containment,
}

impl VerifyRule {
    pub fn accepts(&self, s: &PairScore, size_a: u32, size_b: u32) -> bool {
        self.passed_by(s, size_a, size_b).is_some()
    }

    /// Which part of the rule accepts the pair, if any: Jaccard when the similarity reaches the
    /// threshold (whatever the containment), else containment.
    pub fn passed_by(&self, s: &PairScore, size_a: u32, size_b: u32) -> Option<Passed> {
        if s.jaccard >= self.threshold {
            return Some(Passed::Jaccard);
        }
        match self.containment {
            Some(c) if s.containment >= c && size_a.min(size_b) >= self.min_shingles => {
                Some(Passed::Containment)
            }
            _ => None,
        }
    }

    /// Whether the second rule accepts the pair, given that both documents are dated within a
    /// day of each other: the containment reaches `dated_containment` (and the smaller document
    /// has enough shingles).
    pub fn dated_accepts(&self, s: &PairScore, size_a: u32, size_b: u32) -> bool {
        self.dated_containment
            .is_some_and(|c| s.containment >= c && size_a.min(size_b) >= self.min_shingles)
    }

    /// Whether `s` makes the pair copies: `Some(false)` by the rule, `Some(true)` by the second
    /// rule alone (the documents dated `near`, within a day), `None` when neither accepts it.
    pub fn decide(&self, s: &PairScore, size_a: u32, size_b: u32, near: bool) -> Option<bool> {
        if self.accepts(s, size_a, size_b) {
            Some(false)
        } else if near && self.dated_accepts(s, size_a, size_b) {
            Some(true)
        } else {
            None
        }
    }

    /// Checks one candidate pair.
    pub fn check(&self, sigs: &Signatures, a: u32, b: u32) -> Option<Edge> {
        let s = score(sigs, a as usize, b as usize);
        self.accepts(&s, sigs.sizes[a as usize], sigs.sizes[b as usize])
            .then_some(Edge {
                a,
                b,
                score: s,
                dated: false,
            })
    }
}

/// How candidate pairs are measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// From the signatures: 128 comparisons a pair.
    Estimate,
    /// From the signatures, and on the true shingle sets where the signatures reject a pair
    /// whose containment they cannot measure (sizes so unequal that the containment estimate's
    /// standard error at the threshold reaches [`UNRELIABLE_SE`]) and the true sets could
    /// accept it (within 3 standard errors): a short excerpt of a long text. The true sets only
    /// add pairs; a pair the estimate accepts is kept as it is.
    #[default]
    Recheck,
    /// From the signatures, and on the true shingle sets where the estimate could fall on
    /// either side of a decision (within 3 standard errors of a threshold).
    Auto,
    /// On the true shingle sets, recomputed from the text of both documents.
    Exact,
}

/// Whether two documents are dated within a day of each other (both dated): the second rule's
/// condition.
pub fn within_a_day(a: Option<i64>, b: Option<i64>) -> bool {
    matches!((a, b), (Some(x), Some(y)) if (x - y).unsigned_abs() <= 86_400)
}

/// Standard errors of the Jaccard estimate within which a decision is left to the true sets
/// ([`Mode::Auto`]). At 3, a decision taken on the estimate is wrong for about one pair in 700
/// of those that sit just past the margin.
pub const UNCERTAIN_Z: f64 = 3.0;

/// Standard error of the containment estimate at a threshold from which [`Mode::Recheck`] takes
/// a rejection to the true sets. Two documents of one length have 0.037 at containment 0.7
/// with 128 values (their estimate decides well); the error grows with the size ratio (0.05 at
/// a ratio of about 1.35, 0.1 at 3, 0.21 at 10, where the estimate rests on a dozen matching
/// values: an excerpt at a true containment of 0.85 is then rejected one time in four).
pub const UNRELIABLE_SE: f64 = 0.05;

/// Standard error of the containment estimated from a `k`-value MinHash Jaccard estimate, for
/// documents of `size_a` and `size_b` shingles whose true containment is `c`: by the delta
/// method, `C(J) = J (1 + r) / (1 + J)` with `r` the size ratio (larger over smaller) and
/// `J = c / (1 + r - c)`, so `se(C) = (1 + r) / (1 + J)^2 * sqrt(J (1 - J) / k)`.
pub fn containment_se(c: f64, size_a: u32, size_b: u32, k: usize) -> f64 {
    let (small, large) = (size_a.min(size_b) as f64, size_a.max(size_b) as f64);
    if small == 0.0 || k == 0 {
        return 0.0;
    }
    let r = large / small;
    let j = (c / (1.0 + r - c)).clamp(0.0, 1.0);
    (1.0 + r) / (1.0 + j).powi(2) * (j * (1.0 - j) / k as f64).sqrt()
}

/// Writes the sorted shingle set of a document (for [`Mode::Exact`]).
pub type SetSource<'a> = &'a (dyn Fn(u32, &mut Vec<u64>) + Sync);

/// Copies must be dated within `days` of each other.
#[derive(Clone, Copy, Debug)]
pub struct DateWindow<'a> {
    /// Parsed date of each document.
    pub dates: &'a [Option<i64>],
    /// Whether each document's date field failed to parse.
    pub unparsed: &'a [bool],
    pub days: u32,
}

/// A rule with what it needs to check a pair: the signatures, the dates (for a date window) and,
/// in [`Mode::Exact`] and [`Mode::Auto`], a source of true shingle sets (without one, every
/// measure is an estimate).
pub struct Verifier<'a> {
    pub rule: VerifyRule,
    pub sigs: &'a Signatures,
    pub window: Option<DateWindow<'a>>,
    pub exact: Option<SetSource<'a>>,
    pub mode: Mode,
    /// Each document's date, for the second rule (`None`: the rule is off).
    pub dates: Option<&'a [Option<i64>]>,
    /// Recent documents' true shingle sets, for a caller that measures one document against
    /// many in turn (clustering: each candidate against every member); `None` where pairs come
    /// in no order worth caching (verification on many threads).
    pub cache: Option<&'a std::sync::Mutex<SetCache>>,
}

/// The true shingle sets of the last few documents measured (first in, first out).
#[derive(Debug, Default)]
pub struct SetCache {
    sets: Vec<(u32, Vec<u64>)>,
    next: usize,
}

impl SetCache {
    /// Documents kept.
    pub const CAPACITY: usize = 64;

    /// The index of document `d`'s set, read through `source` if it is not kept; the slot
    /// `keep` is never the one evicted.
    fn index(&mut self, d: u32, source: SetSource, keep: Option<usize>) -> usize {
        if let Some(i) = self.sets.iter().position(|(x, _)| *x == d) {
            return i;
        }
        let mut set = Vec::new();
        source(d, &mut set);
        if self.sets.len() < Self::CAPACITY {
            self.sets.push((d, set));
            return self.sets.len() - 1;
        }
        if Some(self.next) == keep {
            self.next = (self.next + 1) % Self::CAPACITY;
        }
        let i = self.next;
        self.sets[i] = (d, set);
        self.next = (i + 1) % Self::CAPACITY;
        i
    }
}

thread_local! {
    static SETS: std::cell::RefCell<(Vec<u64>, Vec<u64>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

impl Verifier<'_> {
    /// Whether the dates allow the pair: both dated and within the window, or at least one
    /// without a date field. A date field that does not parse never passes.
    pub fn dates_allow(&self, a: u32, b: u32) -> bool {
        let Some(DateWindow {
            dates,
            unparsed,
            days,
        }) = self.window
        else {
            return true;
        };
        if unparsed[a as usize] || unparsed[b as usize] {
            return false;
        }
        match (dates[a as usize], dates[b as usize]) {
            (Some(x), Some(y)) => (x - y).unsigned_abs() <= days as u64 * 86_400,
            _ => true,
        }
    }

    /// The pair's similarity on the true shingle sets (the estimate without a source of them).
    pub fn exact_score(&self, a: u32, b: u32) -> PairScore {
        match self.exact {
            None => score(self.sigs, a as usize, b as usize),
            Some(source) if self.cache.is_some() => {
                let mut c = self
                    .cache
                    .expect("a cache")
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let i = c.index(a, source, None);
                let j = c.index(b, source, Some(i));
                let (jaccard, containment) =
                    crate::shingle::exact_similarity(&c.sets[i].1, &c.sets[j].1);
                PairScore {
                    jaccard,
                    containment,
                }
            }
            Some(source) => SETS.with(|s| {
                let (x, y) = &mut *s.borrow_mut();
                source(a, x);
                source(b, y);
                let (jaccard, containment) = crate::shingle::exact_similarity(x, y);
                PairScore {
                    jaccard,
                    containment,
                }
            }),
        }
    }

    /// Whether the estimate `s` of pair `(a, b)` could lie on the other side of a decision: a
    /// Jaccard similarity of `jaccard_at`, or a containment of `containment_at`, within
    /// [`UNCERTAIN_Z`] standard errors of the Jaccard estimate (`sqrt(J (1 - J) / k)`, at least
    /// that of one value in `k`). Containment is derived from the Jaccard estimate and the set
    /// sizes, so its error grows with their ratio: a short excerpt of a long text is measured
    /// on the true sets far more often than two copies of one length.
    pub fn uncertain(
        &self,
        s: &PairScore,
        a: u32,
        b: u32,
        jaccard_at: Option<f64>,
        containment_at: Option<f64>,
    ) -> bool {
        let k = self.sigs.num_perm as f64;
        let j = s.jaccard;
        let margin = UNCERTAIN_Z * (j * (1.0 - j)).max(1.0 / k).sqrt() / k.sqrt();
        let (lo, hi) = ((j - margin).max(0.0), (j + margin).min(1.0));
        let crosses = |at: f64, lo: f64, hi: f64| lo < at && at <= hi;
        if jaccard_at.is_some_and(|t| crosses(t, lo, hi)) {
            return true;
        }
        let (sa, sb) = (self.sigs.sizes[a as usize], self.sigs.sizes[b as usize]);
        containment_at.is_some_and(|c| {
            crosses(
                c,
                sketch::containment(lo, sa, sb),
                sketch::containment(hi, sa, sb),
            )
        })
    }

    /// Whether [`Mode::Recheck`] takes a containment estimate `s` of pair `(a, b)` that falls
    /// under `at` to the true sets: the documents have enough shingles for containment to
    /// count, their sizes make the estimate unreliable (its standard error at `at` reaches
    /// [`UNRELIABLE_SE`]) and the true containment could reach `at`
    /// ([`Verifier::uncertain`]).
    fn recheck(&self, s: &PairScore, a: u32, b: u32, at: f64) -> bool {
        let (sa, sb) = (self.sigs.sizes[a as usize], self.sigs.sizes[b as usize]);
        s.containment < at
            && sa.min(sb) >= self.rule.min_shingles
            && containment_se(at, sa, sb, self.sigs.num_perm) >= UNRELIABLE_SE
            && self.uncertain(s, a, b, None, Some(at))
    }

    /// The threshold under which [`Mode::Recheck`] takes estimate `s` of pair `(a, b)` to the
    /// true sets, if it does: the estimate rejects the pair under the rule's containment (or,
    /// `near`, the second rule's) and cannot measure it ([`Verifier::recheck`]).
    fn recheck_at(&self, s: &PairScore, a: u32, b: u32, near: bool) -> Option<f64> {
        let (sa, sb) = (self.sigs.sizes[a as usize], self.sigs.sizes[b as usize]);
        if self.rule.decide(s, sa, sb, near).is_some() {
            return None;
        }
        let at = if near {
            self.rule.dated_containment.or(self.rule.containment)
        } else {
            self.rule.containment
        }?;
        self.recheck(s, a, b, at).then_some(at)
    }

    /// The estimate of pair `(a, b)`, or in [`Mode::Recheck`] its true measures where the
    /// estimate rejects it and is unreliable: under the rule's containment (or, `near`, the
    /// second rule's) with a pair of unequal sizes.
    fn rechecked(&self, a: u32, b: u32, near: bool) -> PairScore {
        let s = score(self.sigs, a as usize, b as usize);
        if self.exact.is_some() && self.recheck_at(&s, a, b, near).is_some() {
            self.exact_score(a, b)
        } else {
            s
        }
    }

    /// Whether [`Verifier::check`] of pair `(a, b)` reads the true sets (in [`Mode::Recheck`]):
    /// a caller that holds them elsewhere (several processes) fetches them for these pairs
    /// alone, then checks them with a source of true sets.
    pub(crate) fn check_reads_sets(&self, a: u32, b: u32) -> bool {
        self.mode == Mode::Recheck && self.dates_allow(a, b) && {
            let s = score(self.sigs, a as usize, b as usize);
            self.recheck_at(&s, a, b, self.dated_near(a, b)).is_some()
        }
    }

    /// Whether [`Verifier::score`] of pair `(a, b)` reads the true sets (in [`Mode::Recheck`];
    /// see [`Verifier::check_reads_sets`]).
    pub(crate) fn score_reads_sets(&self, a: u32, b: u32) -> bool {
        self.mode == Mode::Recheck && {
            let s = score(self.sigs, a as usize, b as usize);
            self.recheck_at(&s, a, b, false).is_some()
        }
    }

    /// The pair's similarity as the mode says: estimated, exact, or ([`Mode::Auto`]) exact
    /// where the estimate is uncertain about the rule's thresholds, or ([`Mode::Recheck`])
    /// where it rejects an excerpt it cannot measure.
    pub fn score(&self, a: u32, b: u32) -> PairScore {
        let s = score(self.sigs, a as usize, b as usize);
        match self.mode {
            Mode::Estimate => s,
            Mode::Recheck => self.rechecked(a, b, false),
            Mode::Exact => self.exact_score(a, b),
            Mode::Auto => {
                if self.uncertain(&s, a, b, Some(self.rule.threshold), self.rule.containment) {
                    self.exact_score(a, b)
                } else {
                    s
                }
            }
        }
    }

    /// The containment of the smaller document of a pair in the larger, measured as the mode
    /// says; in [`Mode::Auto`] exact where the estimate is uncertain about `at`. Estimated in
    /// [`Mode::Recheck`]: clustering asks it of every member to keep clusters from chaining, a
    /// guard that a second look taken only where the estimate says no would weaken.
    pub fn overlap(&self, a: u32, b: u32, at: f64) -> f64 {
        let s = score(self.sigs, a as usize, b as usize);
        match self.mode {
            Mode::Estimate | Mode::Recheck => s.containment,
            Mode::Exact => self.exact_score(a, b).containment,
            Mode::Auto => {
                if self.uncertain(&s, a, b, None, Some(at)) {
                    self.exact_score(a, b).containment
                } else {
                    s.containment
                }
            }
        }
    }

    /// Whether both documents are dated within a day of each other (the second rule applies).
    pub fn dated_near(&self, a: u32, b: u32) -> bool {
        self.rule.dated_containment.is_some()
            && self
                .dates
                .is_some_and(|d| within_a_day(d[a as usize], d[b as usize]))
    }

    /// Checks one pair: the rule, or the second rule when both documents are dated within a day
    /// of each other. In [`Mode::Auto`] the second rule's threshold is one of those the estimate
    /// must be certain about.
    pub fn check(&self, a: u32, b: u32) -> Option<Edge> {
        if !self.dates_allow(a, b) {
            return None;
        }
        let near = self.dated_near(a, b);
        let s = match (self.mode, self.rule.dated_containment) {
            (Mode::Auto, Some(dated)) if near => {
                let s = score(self.sigs, a as usize, b as usize);
                let rule = &self.rule;
                if self.uncertain(&s, a, b, Some(rule.threshold), rule.containment)
                    || self.uncertain(&s, a, b, None, Some(dated))
                {
                    self.exact_score(a, b)
                } else {
                    s
                }
            }
            (Mode::Recheck, _) => self.rechecked(a, b, near),
            _ => self.score(a, b),
        };
        let (sa, sb) = (self.sigs.sizes[a as usize], self.sigs.sizes[b as usize]);
        let dated = self.rule.decide(&s, sa, sb, near)?;
        Some(Edge {
            a,
            b,
            score: s,
            dated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> VerifyRule {
        VerifyRule {
            threshold: 0.5,
            containment: Some(0.8),
            min_shingles: 100,
            dated_containment: Some(0.6),
        }
    }

    #[test]
    fn jaccard_alone_accepts() {
        let s = PairScore {
            jaccard: 0.6,
            containment: 0.7,
        };
        assert!(rule().accepts(&s, 10, 10));
    }

    #[test]
    fn containment_accepts_truncated_copies_of_enough_size() {
        let s = PairScore {
            jaccard: 0.3,
            containment: 0.95,
        };
        assert!(rule().accepts(&s, 300, 1000));
        assert_eq!(rule().passed_by(&s, 300, 1000), Some(Passed::Containment));
        assert_eq!(rule().passed_by(&s, 50, 1000), None);
        let both = PairScore {
            jaccard: 0.6,
            containment: 0.95,
        };
        assert_eq!(rule().passed_by(&both, 300, 1000), Some(Passed::Jaccard));
        assert!(
            !rule().accepts(&s, 50, 1000),
            "too short to trust containment"
        );
        let off = VerifyRule {
            containment: None,
            ..rule()
        };
        assert!(!off.accepts(&s, 300, 1000));
    }

    #[test]
    fn date_window_and_unparsed_dates() {
        let mut sigs = Signatures::new(8, 4);
        for d in 0..4 {
            sigs.values[d * 8..d * 8 + 8].fill(7);
            sigs.sizes[d] = 500;
        }
        let day = 86_400;
        let dates = [Some(0), Some(3 * day), None, None];
        let unparsed = [false, false, false, true];
        let v = Verifier {
            rule: rule(),
            sigs: &sigs,
            window: Some(DateWindow {
                dates: &dates,
                unparsed: &unparsed,
                days: 2,
            }),
            exact: None,
            mode: Mode::Estimate,
            dates: None,
            cache: None,
        };
        assert!(v.check(0, 1).is_none(), "3 days apart, window 2");
        assert!(v.check(0, 2).is_some(), "no date field: no constraint");
        assert!(v.check(0, 3).is_none(), "an unparsable date never matches");
        let wide = Verifier {
            window: Some(DateWindow {
                dates: &dates,
                unparsed: &unparsed,
                days: 3,
            }),
            ..v
        };
        assert!(wide.check(0, 1).is_some());
        let none = Verifier {
            window: None,
            ..wide
        };
        assert!(none.check(0, 3).is_some());
    }

    /// A verifier of the default rule in [`Mode::Exact`], without a cache.
    fn exact_verifier<'a>(sigs: &'a Signatures, source: SetSource<'a>) -> Verifier<'a> {
        Verifier {
            rule: rule(),
            sigs,
            window: None,
            exact: Some(source),
            mode: Mode::Exact,
            dates: None,
            cache: None,
        }
    }

    /// [`rule`] with a Jaccard threshold out of reach: containment decides.
    fn containment_rule() -> VerifyRule {
        VerifyRule {
            threshold: 0.95,
            ..rule()
        }
    }

    /// Documents 0 and 1 share 65 of 100 shingles (containment 0.65); document 2 shares 85 of
    /// its 100 with document 0; the signatures put every pair at 0.75 (Jaccard 0.60).
    fn sets_and_sigs() -> (Vec<Vec<u64>>, Signatures) {
        let a: Vec<u64> = (0..100).collect();
        let b: Vec<u64> = (35..135).collect();
        let c: Vec<u64> = (15..115).collect();
        let mut sigs = Signatures::new(128, 3);
        sigs.sizes = vec![100, 100, 100];
        // Signatures that agree on 77 of 128 values: an estimated Jaccard of 0.60, containment 0.75.
        for d in 0..3 {
            for i in 0..128 {
                sigs.values[d * 128 + i] = if i % 5 < 3 { i as u32 } else { (d * 1000 + i) as u32 };
            }
        }
        (vec![a, b, c], sigs)
    }

    #[test]
    fn the_second_rule_needs_dates_within_a_day() {
        let (sets, sigs) = sets_and_sigs();
        let source = |d: u32, out: &mut Vec<u64>| out.clone_from(&sets[d as usize]);
        let day = 86_400;
        let dates = [Some(0), Some(day), Some(2 * day)];
        let v = Verifier {
            rule: containment_rule(),
            sigs: &sigs,
            window: None,
            exact: Some(&source),
            mode: Mode::Estimate,
            dates: Some(&dates),
            cache: None,
        };
        let e = v.check(0, 1).expect("a day apart, estimated containment 0.75 >= 0.6");
        assert!(e.dated, "accepted by the second rule alone");
        assert!(v.check(1, 2).is_some_and(|e| e.dated));
        assert!(v.check(0, 2).is_none(), "two days apart, 0.75 < 0.8");
        let undated = Verifier { dates: None, ..v };
        assert!(undated.check(0, 1).is_none(), "no dates: the second rule is off");
        let half = [Some(0), None, None];
        let one_date = Verifier {
            dates: Some(&half),
            ..v
        };
        assert!(one_date.check(0, 1).is_none(), "both documents need a date");
        let off = Verifier {
            rule: VerifyRule {
                dated_containment: None,
                ..containment_rule()
            },
            ..v
        };
        assert!(off.check(0, 1).is_none());
        // Measured on the true sets, where the estimate is uncertain about a threshold.
        let auto = Verifier {
            mode: Mode::Auto,
            ..v
        };
        let e = auto.check(0, 1).expect("true containment 0.65 >= 0.6");
        assert!(e.dated && (e.score.containment - 0.65).abs() < 1e-9);
        let later = [Some(0), Some(day), Some(day)];
        let auto_near = Verifier {
            dates: Some(&later),
            ..auto
        };
        let e = auto_near.check(0, 2).expect("true containment 0.85 >= 0.8");
        assert!(!e.dated, "the rule itself accepts it");
    }

    #[test]
    fn exact_mode_measures_true_sets() {
        let texts = [
            "alpha beta gamma delta epsilon",
            "alpha beta gamma delta zeta",
        ];
        let source = |d: u32, out: &mut Vec<u64>| {
            *out = crate::shingle::shingle_set(texts[d as usize], 5);
        };
        let mut sigs = Signatures::new(8, 2);
        sigs.sizes = vec![10, 10];
        let v = exact_verifier(&sigs, &source);
        let (j, c) = crate::shingle::exact_similarity(
            &crate::shingle::shingle_set(texts[0], 5),
            &crate::shingle::shingle_set(texts[1], 5),
        );
        let s = v.score(0, 1);
        assert_eq!((s.jaccard, s.containment), (j, c));
        assert!(j > 0.5 && j < 1.0);
    }

    #[test]
    fn cached_sets_measure_what_fresh_ones_do() {
        let texts: Vec<String> = (0..100)
            .map(|i| format!("story {} about the harbour opening {}", i % 7, i))
            .collect();
        let source = |d: u32, out: &mut Vec<u64>| {
            *out = crate::shingle::shingle_set(&texts[d as usize], 5);
        };
        let sigs = Signatures::new(8, texts.len());
        let cache = std::sync::Mutex::new(SetCache::default());
        let fresh = exact_verifier(&sigs, &source);
        let cached = Verifier {
            cache: Some(&cache),
            ..fresh
        };
        // More documents than the cache keeps, each measured against many others.
        for a in 0..100u32 {
            for b in [(a * 7) % 100, (a + 1) % 100, 0, 99] {
                assert_eq!(fresh.exact_score(a, b), cached.exact_score(a, b), "{a} {b}");
            }
        }
    }

    #[test]
    fn the_containment_estimate_grows_noisy_with_the_size_ratio() {
        // One length: 0.037 at 0.7 with 128 values, under the bar; a ratio of 10: 0.21.
        let even = containment_se(0.7, 1000, 1000, 128);
        assert!((even - 0.037).abs() < 0.002 && even < UNRELIABLE_SE, "{even}");
        let uneven = containment_se(0.7, 100, 1000, 128);
        assert!((uneven - 0.214).abs() < 0.003, "{uneven}");
        assert!(containment_se(0.7, 1000, 1400, 128) >= UNRELIABLE_SE);
        // Symmetric in the sizes, falling with the signature length, growing with the ratio.
        assert_eq!(containment_se(0.7, 1000, 300, 128), containment_se(0.7, 300, 1000, 128));
        assert!(containment_se(0.7, 100, 1000, 512) < uneven / 1.9);
        let mut last = 0.0;
        for large in (100..3000).step_by(50) {
            let se = containment_se(0.7, 100, large, 128);
            assert!(se > last, "{large}: {se} after {last}");
            last = se;
        }
        assert_eq!(containment_se(0.7, 0, 1000, 128), 0.0);
    }

    /// Signatures of two documents of `sizes` that agree on `agree` of 128 values.
    fn pair_sigs(sizes: [u32; 2], agree: usize) -> Signatures {
        let mut sigs = Signatures::new(128, 2);
        sigs.sizes = sizes.to_vec();
        for d in 0..2 {
            for i in 0..128 {
                sigs.values[d * 128 + i] = if i < agree { i as u32 } else { (d * 1000 + i) as u32 };
            }
        }
        sigs
    }

    /// [`Mode::Recheck`] over `sigs` and true `sets`, with the rule at containment 0.7; also
    /// returns how many sets it read.
    fn recheck_of(sigs: &Signatures, sets: &[Vec<u64>], near: bool) -> (Option<Edge>, usize) {
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let source = |d: u32, out: &mut Vec<u64>| {
            reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            out.clone_from(&sets[d as usize]);
        };
        let dates = [Some(0), Some(if near { 3_600 } else { 9 * 86_400 })];
        let v = Verifier {
            rule: VerifyRule {
                threshold: 0.5,
                containment: Some(0.7),
                min_shingles: 100,
                dated_containment: Some(0.6),
            },
            sigs,
            window: None,
            exact: Some(&source),
            mode: Mode::Recheck,
            dates: Some(&dates),
            cache: None,
        };
        let e = v.check(0, 1);
        (e, reads.load(std::sync::atomic::Ordering::Relaxed))
    }

    #[test]
    fn recheck_measures_rejected_excerpts_of_long_texts_on_their_true_sets() {
        // A 120-shingle excerpt, 100 of its shingles inside a 1,200-shingle text (true
        // containment 0.83); 6 of 128 values agree: estimated containment 0.49, rejected.
        let excerpt: Vec<u64> = (0..120).collect();
        let long: Vec<u64> = (20..120).chain(1000..2100).collect();
        let sets = [excerpt, long];
        let sigs = pair_sigs([120, 1200], 6);
        let est = score(&sigs, 0, 1);
        assert!(est.containment < 0.6, "{est:?}");
        let (e, reads) = recheck_of(&sigs, &sets, false);
        let e = e.expect("true containment 0.83 >= 0.7");
        assert!((e.score.containment - 100.0 / 120.0).abs() < 1e-9 && !e.dated);
        assert_eq!(reads, 2);
        // The estimate alone rejects it.
        let (sa, sb) = (sigs.sizes[0], sigs.sizes[1]);
        assert!(!VerifyRule::accepts(&recheck_rule(), &est, sa, sb));
        // Too few shingles for containment to count: nothing to recheck.
        let small = pair_sigs([60, 1200], 6);
        assert_eq!(recheck_of(&small, &sets, false), (None, 0));
        // The true sets only add: an estimate that accepts is kept without reading them.
        let accepted = pair_sigs([120, 1200], 12);
        let (e, reads) = recheck_of(&accepted, &sets, false);
        assert!(e.is_some_and(|e| e.score == score(&accepted, 0, 1)));
        assert_eq!(reads, 0);
        // Far under the threshold, even for a ratio of 10: not uncertain, not read.
        let far = pair_sigs([120, 1200], 0);
        assert_eq!(recheck_of(&far, &sets, false), (None, 0));
    }

    #[test]
    fn recheck_trusts_the_estimate_of_documents_of_one_length() {
        // 1,000 shingles each, true containment 0.75, estimated 0.60 (55 of 128 agree): a
        // rejection 4 standard errors under the threshold, but the sizes are even: kept.
        let a: Vec<u64> = (0..1000).collect();
        let b: Vec<u64> = (250..1250).collect();
        let sigs = pair_sigs([1000, 1000], 55);
        assert!(score(&sigs, 0, 1).containment < 0.62);
        assert_eq!(recheck_of(&sigs, &[a.clone(), b.clone()], false), (None, 0));
        // Dated within a day, the second rule (0.6) decides on the estimate alike.
        let sigs = pair_sigs([1000, 1000], 50);
        assert_eq!(recheck_of(&sigs, &[a, b], true), (None, 0));
    }

    #[test]
    fn recheck_applies_the_second_rule_to_documents_dated_within_a_day() {
        // An excerpt at true containment 0.65: under the rule, over the second rule's 0.6.
        let excerpt: Vec<u64> = (0..200).collect();
        let long: Vec<u64> = (70..200).chain(1000..2870).collect();
        let sets = [excerpt, long];
        let sigs = pair_sigs([200, 2000], 6);
        let (e, reads) = recheck_of(&sigs, &sets, true);
        let e = e.expect("true containment 0.65 >= 0.6, dated within a day");
        assert!(e.dated && (e.score.containment - 0.65).abs() < 1e-9);
        assert_eq!(reads, 2);
        let (e, _) = recheck_of(&sigs, &sets, false);
        assert!(e.is_none(), "nine days apart: 0.65 < 0.7");
    }

    fn recheck_rule() -> VerifyRule {
        VerifyRule {
            threshold: 0.5,
            containment: Some(0.7),
            min_shingles: 100,
            dated_containment: Some(0.6),
        }
    }

    #[test]
    fn weak_pairs_are_rejected() {
        let s = PairScore {
            jaccard: 0.2,
            containment: 0.4,
        };
        assert!(!rule().accepts(&s, 1000, 1000));
    }
}
