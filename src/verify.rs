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
}

/// Estimates of documents `a` and `b` from their signatures and shingle-set sizes.
pub fn score(sigs: &Signatures, a: usize, b: usize) -> PairScore {
    let j = sketch::jaccard(sigs.get(a), sigs.get(b));
    PairScore {
        jaccard: j,
        containment: sketch::containment(j, sigs.sizes[a], sigs.sizes[b]),
    }
}

impl VerifyRule {
    pub fn accepts(&self, s: &PairScore, size_a: u32, size_b: u32) -> bool {
        if s.jaccard >= self.threshold {
            return true;
        }
        match self.containment {
            Some(c) => s.containment >= c && size_a.min(size_b) >= self.min_shingles,
            None => false,
        }
    }

    /// Checks one candidate pair.
    pub fn check(&self, sigs: &Signatures, a: u32, b: u32) -> Option<Edge> {
        let s = score(sigs, a as usize, b as usize);
        self.accepts(&s, sigs.sizes[a as usize], sigs.sizes[b as usize])
            .then_some(Edge { a, b, score: s })
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
    fn weak_pairs_are_rejected() {
        let s = PairScore {
            jaccard: 0.2,
            containment: 0.4,
        };
        assert!(!rule().accepts(&s, 1000, 1000));
    }
}
