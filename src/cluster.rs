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

/// Groups of two or more elements, given each element's label (any element index); groups in
/// order of their least member, members in increasing order.
pub fn groups(labels: &[u32]) -> Vec<Vec<u32>> {
    let mut by_label: Vec<Vec<u32>> = vec![Vec::new(); labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        by_label[l as usize].push(i as u32);
    }
    by_label.retain(|g| g.len() > 1);
    by_label.sort_unstable_by_key(|g| g[0]);
    by_label
}

/// How verified pairs become clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Connected components: every chain of verified pairs is one cluster. Simple, but a chain of
    /// templated items (A~B, B~C, ...) becomes one cluster of different stories.
    Components,
    /// Pivot clustering: documents are taken in pivot order; each unassigned one starts a cluster
    /// with its unassigned verified neighbours. Every member is verified against its pivot, so
    /// chains break.
    #[default]
    Pivot,
}

/// Undirected edges as adjacency rows, each sorted by `rank` (deterministic whatever the edge
/// order).
pub struct Adjacency {
    start: Vec<usize>,
    adj: Vec<u32>,
}

impl Adjacency {
    pub fn new(n: usize, edges: &[(u32, u32)], rank: &[u32]) -> Self {
        let mut start = vec![0usize; n + 1];
        for &(a, b) in edges {
            start[a as usize + 1] += 1;
            start[b as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut adj = vec![0u32; start[n]];
        for &(a, b) in edges {
            adj[fill[a as usize]] = b;
            fill[a as usize] += 1;
            adj[fill[b as usize]] = a;
            fill[b as usize] += 1;
        }
        for i in 0..n {
            adj[start[i]..start[i + 1]].sort_unstable_by_key(|&x| rank[x as usize]);
        }
        Adjacency { start, adj }
    }

    pub fn neighbours(&self, x: u32) -> &[u32] {
        &self.adj[self.start[x as usize]..self.start[x as usize + 1]]
    }

    pub fn degree(&self, x: u32) -> usize {
        self.start[x as usize + 1] - self.start[x as usize]
    }
}

/// How a pair passed verification, as [`pivot_labels`] needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Similar as wholes (Jaccard at or above the threshold).
    Similar,
    /// Only one is contained in the other.
    Contained,
}

/// Pivot clustering (a deterministic form of KwikCluster, Ailon, Charikar & Newman 2008) over
/// `n` nodes and undirected `edges`. `order` lists the nodes in the order they may become pivots
/// (nodes absent from it are never pivots, and come last when neighbours are visited, which is
/// also in this order). Each unassigned pivot claims its unassigned
/// neighbours, then the unassigned neighbours of those that `check` accepts against the pivot
/// directly (which recovers pairs the candidate stage missed; at most `max_checks` such checks
/// per pivot). Returns each node's cluster label: its pivot, or itself.
///
/// A member that matches the pivot only by containment does not join when it is disjoint
/// (containment below [`DISJOINT`], by `overlap`) from every member claimed before it (the first
/// [`MAX_COMPAT`] of them): the parts of a roundup are each contained in it but share nothing
/// with one another (nor with copies of another part), and must not meet in its cluster;
/// truncated copies of one story, however differently cut, share their lead and do. (Requiring a full match with an
/// earlier member instead cost 6 points of recall on a 2,000-document corpus: the first copy of
/// a second cut never got in.)
pub fn pivot_labels(
    n: usize,
    edges: &[(u32, u32)],
    order: &[u32],
    check: impl Fn(u32, u32) -> Option<Match>,
    overlap: impl Fn(u32, u32) -> f64,
    max_checks: usize,
) -> Vec<u32> {
    let mut rank = vec![u32::MAX; n];
    for (i, &d) in order.iter().enumerate() {
        rank[d as usize] = i as u32;
    }
    let g = Adjacency::new(n, edges, &rank);
    const NONE: u32 = u32::MAX;
    let mut label = vec![NONE; n];
    let mut claimed = Vec::new();
    // Every member claimed so far (the pivot's cluster minus the pivot), for the roundup rule.
    let admit = |p: u32, q: u32, m: Match, label: &mut Vec<u32>, members: &mut Vec<u32>| {
        if m == Match::Contained
            && !members.is_empty()
            && members
                .iter()
                .take(MAX_COMPAT)
                .all(|&w| overlap(q, w) < DISJOINT)
        {
            return false;
        }
        members.push(q);
        label[q as usize] = p;
        true
    };
    for &p in order {
        if label[p as usize] != NONE {
            continue;
        }
        label[p as usize] = p;
        claimed.clear();
        for &q in g.neighbours(p) {
            if label[q as usize] != NONE {
                continue;
            }
            if let Some(m) = check(p, q) {
                admit(p, q, m, &mut label, &mut claimed);
            }
        }
        let direct = claimed.len();
        let mut checks = 0;
        'hop: for i in 0..direct {
            let q = claimed[i];
            for &r in g.neighbours(q) {
                if label[r as usize] != NONE {
                    continue;
                }
                if checks == max_checks {
                    break 'hop;
                }
                checks += 1;
                if let Some(m) = check(p, r) {
                    admit(p, r, m, &mut label, &mut claimed);
                }
            }
        }
    }
    for (i, l) in label.iter_mut().enumerate() {
        if *l == NONE {
            *l = i as u32;
        }
    }
    label
}

/// Containment-only members a new containment-only member is checked against.
pub const MAX_COMPAT: usize = 32;

/// Below this containment two documents share next to nothing: two parts of a roundup.
pub const DISJOINT: f64 = 0.3;

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

/// Documents in the order the keep policy prefers them: the first of a cluster in this order is
/// its representative (and, in pivot clustering, its pivot). `len`, `date` and `id_rank` are
/// looked up by document index; `id_rank` (the position of the document's id in sorted order)
/// breaks ties, so that the choice does not depend on the order of the input files (except for
/// [`Keep::First`], which is input order by definition).
pub fn preference_order(
    n: usize,
    keep: Keep,
    len: impl Fn(u32) -> u64,
    date: impl Fn(u32) -> Option<i64>,
    id_rank: impl Fn(u32) -> u32,
) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    match keep {
        Keep::First => {}
        Keep::Longest => order.sort_by_key(|&d| (std::cmp::Reverse(len(d)), id_rank(d))),
        Keep::Earliest => order.sort_by_key(|&d| {
            let t = date(d);
            (t.is_none(), t.unwrap_or(0), id_rank(d))
        }),
    }
    order
}

/// The inverse of an order: each element's position in it.
pub fn ranks(order: &[u32]) -> Vec<u32> {
    let mut r = vec![0u32; order.len()];
    for (i, &d) in order.iter().enumerate() {
        r[d as usize] = i as u32;
    }
    r
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

    fn no_overlap(_: u32, _: u32) -> f64 {
        0.0
    }

    /// A check that accepts exactly the given edges as whole-text matches.
    fn adjacent(edges: &[(u32, u32)]) -> impl Fn(u32, u32) -> Option<Match> + '_ {
        move |a, b| {
            edges
                .iter()
                .any(|&(x, y)| (x, y) == (a, b) || (y, x) == (a, b))
                .then_some(Match::Similar)
        }
    }

    #[test]
    fn roundup_parts_do_not_meet_in_its_cluster() {
        // 0 is a roundup holding stories 1 and 2 (unrelated to each other); 3 is a copy of 1.
        // Pivot 0 claims 1 (contained), not 2 (contained but incompatible with 1), and 3 only
        // because 3 matches 1 too.
        let edges = [(0, 1), (0, 2), (0, 3), (1, 3)];
        let check = |a: u32, b: u32| match (a.min(b), a.max(b)) {
            (0, 1) | (0, 2) | (0, 3) => Some(Match::Contained),
            (1, 3) => Some(Match::Similar),
            _ => None,
        };
        let overlap = |a: u32, b: u32| match (a.min(b), a.max(b)) {
            (1, 3) => 0.9,
            _ => 0.05,
        };
        let l = pivot_labels(4, &edges, &[0, 1, 2, 3], check, overlap, 10);
        assert_eq!(groups(&l), vec![vec![0, 1, 3]]);
        assert_eq!(l[2], 2, "story 2 is left to its own pivot");
    }

    #[test]
    fn roundup_dominated_by_one_story_still_keeps_the_other_out() {
        // 0 is a roundup mostly made of story 1 (a whole-text match) plus story 2 (contained).
        let edges = [(0, 1), (0, 2)];
        let check = |a: u32, b: u32| match (a.min(b), a.max(b)) {
            (0, 1) => Some(Match::Similar),
            (0, 2) => Some(Match::Contained),
            _ => None,
        };
        let l = pivot_labels(3, &edges, &[0, 1, 2], check, |_, _| 0.05, 10);
        assert_eq!(groups(&l), vec![vec![0, 1]]);
        assert_eq!(l[2], 2);
    }

    #[test]
    fn differently_cut_copies_join_however_they_are_cut() {
        // Pivot 0 is a full story; 1 and 2 are copies cut differently (each contained in 0, each
        // overlapping the other partly); neither matches the other fully.
        let edges = [(0, 1), (0, 2)];
        let check = |a: u32, b: u32| {
            matches!((a.min(b), a.max(b)), (0, 1) | (0, 2)).then_some(Match::Contained)
        };
        let overlap = |_: u32, _: u32| 0.5;
        let l = pivot_labels(3, &edges, &[0, 1, 2], check, overlap, 10);
        assert_eq!(groups(&l), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn pivots_break_chains() {
        // A chain 0-1-2-3-4: components make one cluster; pivots taken in order 1, 3 make
        // {0,1,2} and {3,4}: 0 and 4 (and 0 and 3) are never together.
        let edges = [(0, 1), (1, 2), (2, 3), (3, 4)];
        let mut uf = UnionFind::new(5);
        for &(a, b) in &edges {
            uf.union(a, b);
        }
        assert_eq!(groups(&uf.labels()), vec![vec![0, 1, 2, 3, 4]]);
        let l = pivot_labels(
            5,
            &edges,
            &[1, 3, 0, 2, 4],
            adjacent(&edges),
            no_overlap,
            100,
        );
        assert_eq!(groups(&l), vec![vec![0, 1, 2], vec![3, 4]]);
    }

    #[test]
    fn second_hop_members_are_checked_against_the_pivot() {
        // 0-1-2-3: pivot 1 claims 0 and 2; 3 is two hops away and joins only if it passes the
        // direct check against 1.
        let edges = [(0, 1), (1, 2), (2, 3)];
        let also_1_3 = |a: u32, b: u32| {
            (adjacent(&edges)(a, b).is_some() || (a.min(b), a.max(b)) == (1, 3))
                .then_some(Match::Similar)
        };
        let yes = pivot_labels(4, &edges, &[1, 0, 2, 3], also_1_3, no_overlap, 10);
        assert_eq!(groups(&yes), vec![vec![0, 1, 2, 3]]);
        let no = pivot_labels(4, &edges, &[1, 0, 2, 3], adjacent(&edges), no_overlap, 10);
        assert_eq!(groups(&no), vec![vec![0, 1, 2]]);
    }

    #[test]
    fn pivot_clusters_do_not_depend_on_edge_order() {
        let e1 = [(0, 1), (0, 2), (2, 3), (4, 5)];
        let e2 = [(4, 5), (2, 3), (0, 2), (0, 1)];
        let order = [3, 0, 1, 2, 4, 5];
        assert_eq!(
            pivot_labels(6, &e1, &order, adjacent(&e1), no_overlap, 9),
            pivot_labels(6, &e2, &order, adjacent(&e2), no_overlap, 9)
        );
        assert_eq!(
            groups(&pivot_labels(6, &e1, &order, adjacent(&e1), no_overlap, 9)),
            vec![vec![0, 1], vec![2, 3], vec![4, 5]]
        );
    }

    #[test]
    fn keep_policies_order_documents() {
        // Documents 0..4: lengths, dates; ids sort as 2 < 0 < 3 < 1.
        let len = |d: u32| [30, 10, 30, 5][d as usize];
        let date = |d: u32| [Some(200), None, Some(100), Some(100)][d as usize];
        let id_rank = |d: u32| [1, 3, 0, 2][d as usize];
        let first = preference_order(4, Keep::First, len, date, id_rank);
        assert_eq!(first, vec![0, 1, 2, 3]);
        // Longest: 0 and 2 tie at 30; the id of 2 sorts first.
        let longest = preference_order(4, Keep::Longest, len, date, id_rank);
        assert_eq!(longest, vec![2, 0, 1, 3]);
        // Earliest: 2 and 3 tie on date; undated 1 comes last.
        let earliest = preference_order(4, Keep::Earliest, len, date, id_rank);
        assert_eq!(earliest, vec![2, 3, 0, 1]);
        assert_eq!(ranks(&earliest), vec![2, 3, 0, 1]);
    }
}
