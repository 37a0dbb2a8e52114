//! Clustering: union-find over verified pairs, then a representative per cluster.
//!
//! The union-find is written by hand: it is twenty lines, and the crates that offer one bring a
//! graph library with them.

use serde::{Deserialize, Serialize};

/// Disjoint sets over `0..n` with path halving and union by smaller index (so the root of a set
/// is always its least member: deterministic whatever the order of unions).
#[derive(Clone, Debug)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi as usize] = lo;
        true
    }

    /// The least member of each element's set.
    pub fn labels(&mut self) -> Vec<u32> {
        (0..self.parent.len() as u32)
            .map(|x| self.find(x))
            .collect()
    }
}

/// Groups of two or more elements, given each element's label; groups in order of their least
/// member, members in increasing order.
pub fn groups(labels: &[u32]) -> Vec<Vec<u32>> {
    let mut by_label: Vec<Vec<u32>> = vec![Vec::new(); labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        by_label[l as usize].push(i as u32);
    }
    by_label.retain(|g| g.len() > 1);
    by_label.sort_unstable_by_key(|g| g[0]);
    by_label
}

/// Which member of a cluster is kept (and reported as its representative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The first in input order.
    First,
    /// The longest text (most characters after normalization); ties go to the first.
    #[default]
    Longest,
    /// The earliest date; undated documents come after dated ones; ties go to the first.
    Earliest,
}

/// Picks the representative of a group. `len` and `date` are looked up by document index.
pub fn representative(
    members: &[u32],
    keep: Keep,
    len: impl Fn(u32) -> u64,
    date: impl Fn(u32) -> Option<i64>,
) -> u32 {
    match keep {
        Keep::First => *members.iter().min().expect("non-empty cluster"),
        Keep::Longest => *members
            .iter()
            .max_by(|&&a, &&b| len(a).cmp(&len(b)).then(b.cmp(&a)))
            .expect("non-empty cluster"),
        Keep::Earliest => *members
            .iter()
            .min_by_key(|&&m| (date(m).is_none(), date(m).unwrap_or(0), m))
            .expect("non-empty cluster"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_find_groups_transitively_and_deterministically() {
        let mut a = UnionFind::new(6);
        a.union(4, 1);
        a.union(1, 3);
        a.union(5, 2);
        let mut b = UnionFind::new(6);
        b.union(3, 1);
        b.union(2, 5);
        b.union(1, 4);
        assert_eq!(a.labels(), b.labels());
        assert_eq!(groups(&a.labels()), vec![vec![1, 3, 4], vec![2, 5]]);
    }

    #[test]
    fn representative_policies() {
        let m = [3, 5, 8];
        let len = |d: u32| [0, 0, 0, 10, 0, 30, 0, 0, 30][d as usize];
        let date = |d: u32| match d {
            3 => None,
            5 => Some(200),
            _ => Some(100),
        };
        assert_eq!(representative(&m, Keep::First, len, date), 3);
        assert_eq!(representative(&m, Keep::Longest, len, date), 5);
        assert_eq!(representative(&m, Keep::Earliest, len, date), 8);
        assert_eq!(representative(&[3], Keep::Earliest, len, date), 3);
    }
}
