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
    /// Pivot clustering: documents are taken in pivot order; each unassigned one grows a cluster
    /// along verified pairs to the documents compatible with every member (40% of the smaller
    /// one's shingles in the larger), so chains and roundups break.
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

#[cfg(test)]
/// Pivot clustering (a deterministic form of KwikCluster, Ailon, Charikar & Newman 2008) over
/// `n` nodes and undirected verified `edges`, in which every two members of a cluster are
/// `compatible`. `order` lists the nodes in the order they may become pivots (nodes absent from
/// it are never pivots, and come last when neighbours are visited, which is also in this order).
/// Each unassigned pivot grows its cluster breadth-first along verified edges: its own
/// neighbours first (most `alike` first, see `prefer_supported`), then theirs (at most
/// `max_checks` candidates per pivot); an unassigned node joins when it is compatible with the
/// pivot and with every member claimed before it (the first [`MAX_COMPAT`] of them). `alike` is
/// a cheaper stand-in for `compatible` that only orders candidates. Returns each node's cluster
/// label: its pivot, or itself.
///
/// Compatibility (in syndic: 40% of the smaller document's shingles stand in the larger, see
/// [`COMPATIBLE`]) is what keeps clusters from chaining: the parts of a roundup are each
/// contained in it but share little with one another, and the ends of a templated series whose
/// wording drifts share less and less; neither ends up in one cluster. Copies of one story join
/// however they are cut or edited, through whichever member they were verified against: the
/// pivot (the document kept) is often a longer, combined version that a lightly edited copy
/// matches only through another copy.
pub(crate) fn pivot_labels(
    n: usize,
    edges: &[(u32, u32)],
    order: &[u32],
    compatible: impl Fn(u32, u32) -> bool,
    alike: impl Fn(u32, u32) -> bool,
    max_checks: usize,
) -> Vec<u32> {
    pivot_clusters(n, edges, order, compatible, alike, max_checks).labels
}

/// Cluster labels, and for each node the node through which it joined its cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clustering {
    /// Each node's cluster label (a node index).
    pub labels: Vec<u32>,
    /// For each node, the member of its cluster whose verified edge with it brought it in (in
    /// [`pivot_clusters`], the member that queued it; in [`spanning_via`], its parent in a
    /// breadth-first tree); itself for a pivot and for a node in no cluster.
    pub via: Vec<u32>,
}

/// [`pivot_labels`] that also says through which member each node joined.
pub fn pivot_clusters(
    n: usize,
    edges: &[(u32, u32)],
    order: &[u32],
    compatible: impl Fn(u32, u32) -> bool,
    alike: impl Fn(u32, u32) -> bool,
    max_checks: usize,
) -> Clustering {
    let mut rank = vec![u32::MAX; n];
    for (i, &d) in order.iter().enumerate() {
        rank[d as usize] = i as u32;
    }
    let g = Adjacency::new(n, edges, &rank);
    const NONE: u32 = u32::MAX;
    let mut label = vec![NONE; n];
    // The member that queued a node for the current pivot: when it joins, its verified edge with
    // that member is the one it joined through.
    let mut via: Vec<u32> = (0..n as u32).collect();
    // The pivot a node was last queued for: each candidate is weighed once per pivot (members
    // only accrue, so a node incompatible once stays so).
    let mut queued = vec![NONE; n];
    let mut members = Vec::new();
    let mut queue = Vec::new();
    for &p in order {
        if label[p as usize] != NONE {
            continue;
        }
        label[p as usize] = p;
        members.clear();
        members.push(p);
        queue.clear();
        queued[p as usize] = p;
        let mut push = |x: u32, queue: &mut Vec<u32>, label: &[u32]| {
            for &q in g.neighbours(x) {
                if label[q as usize] == NONE && queued[q as usize] != p {
                    queued[q as usize] = p;
                    via[q as usize] = x;
                    queue.push(q);
                }
            }
        };
        push(p, &mut queue, &label);
        prefer_supported(&mut queue, &alike);
        let mut head = 0;
        while head < queue.len() && head < max_checks {
            let q = queue[head];
            head += 1;
            if members.iter().take(MAX_COMPAT).all(|&w| compatible(q, w)) {
                label[q as usize] = p;
                members.push(q);
                push(q, &mut queue, &label);
            }
        }
    }
    for (i, l) in label.iter_mut().enumerate() {
        if *l == NONE {
            *l = i as u32;
        }
        if *l == i as u32 {
            via[i] = i as u32;
        }
    }
    Clustering { labels: label, via }
}

/// For each node, its parent in a breadth-first tree of its cluster (nodes sharing a label) over
/// the verified `edges` inside it, grown from the member of least `rank`, neighbours visited in
/// `rank` order; the root and nodes in no cluster are their own. A node the tree does not reach
/// (no edge inside the cluster leads to it) is its own too.
pub fn spanning_via(labels: &[u32], edges: &[(u32, u32)], rank: &[u32]) -> Vec<u32> {
    let n = labels.len();
    let inside: Vec<(u32, u32)> = edges
        .iter()
        .copied()
        .filter(|&(a, b)| labels[a as usize] == labels[b as usize])
        .collect();
    let g = Adjacency::new(n, &inside, rank);
    let mut via: Vec<u32> = (0..n as u32).collect();
    let mut seen = vec![false; n];
    let mut queue = Vec::new();
    for group in groups(labels) {
        let root = *group
            .iter()
            .min_by_key(|&&d| rank[d as usize])
            .expect("groups are not empty");
        queue.clear();
        queue.push(root);
        seen[root as usize] = true;
        let mut head = 0;
        while head < queue.len() {
            let x = queue[head];
            head += 1;
            for &q in g.neighbours(x) {
                if !seen[q as usize] {
                    seen[q as usize] = true;
                    via[q as usize] = x;
                    queue.push(q);
                }
            }
        }
    }
    via
}

/// Orders a pivot's neighbours (in rank order) by how many of the others each is compatible
/// with, most first, ties kept in rank order. A roundup taken as pivot holds several stories;
/// its neighbours are copies of one story or another, and the first admitted decides which story
/// the cluster holds: the one with the most copies keeps the most verified pairs together. Left
/// as it is past [`MAX_SUPPORT`] neighbours (a cost quadratic in their number).
fn prefer_supported(neighbours: &mut [u32], compatible: &impl Fn(u32, u32) -> bool) {
    if neighbours.len() < 3 || neighbours.len() > MAX_SUPPORT {
        return;
    }
    // Compatibility is symmetric: each pair is weighed once.
    let mut support = vec![0usize; neighbours.len()];
    for i in 0..neighbours.len() {
        for j in i + 1..neighbours.len() {
            if compatible(neighbours[i], neighbours[j]) {
                support[i] += 1;
                support[j] += 1;
            }
        }
    }
    let mut order: Vec<usize> = (0..neighbours.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(support[i]));
    let sorted: Vec<u32> = order.iter().map(|&i| neighbours[i]).collect();
    neighbours.copy_from_slice(&sorted);
}

/// Most neighbours of a pivot `prefer_supported` orders.
pub const MAX_SUPPORT: usize = 64;

/// Members (the pivot first) a new member must be compatible with.
pub const MAX_COMPAT: usize = 32;

/// Two documents are compatible members of one cluster when at least this share of the smaller
/// one's shingles stand in the larger. A reader calls one text a copy of another when most of the
/// shorter one comes from it; each edited word breaks up to a shingle length of character
/// shingles, so a text half of whose words are shared, lightly edited, keeps well under half its
/// shingles. Parts of a roundup, items of a templated series that report other facts, and stories
/// that share one background paragraph stay below it.
pub const COMPATIBLE: f64 = 0.4;

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

    /// Compatibility from a list of compatible pairs.
    fn pairs_of(list: &[(u32, u32)]) -> impl Fn(u32, u32) -> bool + '_ {
        move |a, b| {
            list.iter()
                .any(|&(x, y)| (x, y) == (a, b) || (y, x) == (a, b))
        }
    }

    #[test]
    fn roundup_parts_do_not_meet_in_its_cluster() {
        // 0 is a roundup holding stories 1 and 2 (unrelated to each other); 3 is a copy of 1.
        // Pivot 0 claims 1, not 2 (incompatible with 1), and 3, compatible with 0 and 1.
        let edges = [(0, 1), (0, 2), (0, 3), (1, 3)];
        let ok = [(0, 1), (0, 2), (0, 3), (1, 3)];
        let l = pivot_labels(4, &edges, &[0, 1, 2, 3], pairs_of(&ok), pairs_of(&ok), 10);
        assert_eq!(groups(&l), vec![vec![0, 1, 3]]);
        assert_eq!(l[2], 2, "story 2 is left to its own pivot");
    }

    #[test]
    fn a_roundup_keeps_the_story_with_the_most_copies() {
        // Pivot 0 is a roundup of stories Y (document 1, ranked first) and X (documents 2, 3, 4,
        // copies of one another); Y and X are incompatible. The cluster takes X's three copies,
        // not Y's one.
        let edges = [(0, 1), (0, 2), (0, 3), (0, 4), (2, 3), (3, 4), (2, 4)];
        let story = |d: u32| if d == 1 { 'y' } else { 'x' };
        let compatible = |a: u32, b: u32| a == 0 || b == 0 || story(a) == story(b);
        let l = pivot_labels(5, &edges, &[0, 1, 2, 3, 4], compatible, compatible, 10);
        assert_eq!(groups(&l), vec![vec![0, 2, 3, 4]]);
        assert_eq!(l[1], 1);
    }

    #[test]
    fn a_copy_joins_through_the_copy_it_matches() {
        // Pivot 0 is a longer version of a statement; 1 and 2 are copies of the statement. 2 was
        // not verified against 0 (its containment in 0 fell under the threshold) but against 1,
        // and is compatible with both: it joins through 1.
        let edges = [(0, 1), (1, 2)];
        let l = pivot_labels(3, &edges, &[0, 1, 2], |_, _| true, |_, _| true, 10);
        assert_eq!(groups(&l), vec![vec![0, 1, 2]]);
        // Neighbours three steps out join too.
        let edges = [(0, 1), (1, 2), (2, 3)];
        let l = pivot_labels(4, &edges, &[0, 1, 2, 3], |_, _| true, |_, _| true, 10);
        assert_eq!(groups(&l), vec![vec![0, 1, 2, 3]]);
    }

    #[test]
    fn members_join_through_the_member_that_reached_them() {
        // 2 is verified against 1 only, 3 against 2 only: each joins through the one before.
        let edges = [(0, 1), (1, 2), (2, 3), (0, 4)];
        let c = pivot_clusters(6, &edges, &[0, 1, 2, 3, 4, 5], |_, _| true, |_, _| true, 10);
        assert_eq!(groups(&c.labels), vec![vec![0, 1, 2, 3, 4]]);
        assert_eq!(c.via, vec![0, 0, 1, 2, 0, 5]);
        // A node verified against the pivot joins through the pivot even when it is also
        // verified against another member; a node queued for an earlier pivot but left out
        // joins its own cluster through its own pivot's member.
        let edges = [(0, 1), (0, 2), (1, 2), (2, 3), (3, 4)];
        let ok = [(0, 1), (0, 2), (1, 2), (3, 4), (2, 3)];
        let compatible = |a: u32, b: u32| a == b || pairs_of(&ok)(a, b);
        let c = pivot_clusters(5, &edges, &[0, 1, 2, 3, 4], compatible, compatible, 10);
        // 0 takes 1 and 2; 3 (queued by 2) is incompatible with 0 and starts its own cluster,
        // which 4 joins through 3.
        assert_eq!(groups(&c.labels), vec![vec![0, 1, 2], vec![3, 4]]);
        assert_eq!(c.via, vec![0, 0, 0, 3, 3]);
    }

    #[test]
    fn spanning_via_is_a_breadth_first_tree_from_the_first_ranked() {
        // One cluster {0..4} in rank order 4, 3, 2, 1, 0; edges 4-2, 2-0, 4-1, 1-0, 3-0.
        let labels = [0, 0, 0, 0, 0, 5];
        let edges = [(4, 2), (2, 0), (4, 1), (1, 0), (3, 0)];
        let rank = [4, 3, 2, 1, 0, 5];
        let via = spanning_via(&labels, &edges, &rank);
        // From 4: 2 and 1; from 2 (ranked before 1): 0; from 0: 3.
        assert_eq!(via, vec![2, 4, 4, 0, 4, 5]);
    }

    #[test]
    fn pivots_break_chains() {
        // A chain 0-1-2-3-4 in which only neighbours and second neighbours are compatible:
        // components make one cluster; pivots taken in order 2, ... make {1, 2, 3} (0 and 4 are
        // incompatible with the far side), then {0} and {4} alone.
        let edges = [(0, 1), (1, 2), (2, 3), (3, 4)];
        let mut uf = UnionFind::new(5);
        for &(a, b) in &edges {
            uf.union(a, b);
        }
        assert_eq!(groups(&uf.labels()), vec![vec![0, 1, 2, 3, 4]]);
        let near = |a: u32, b: u32| a.abs_diff(b) <= 2;
        let l = pivot_labels(5, &edges, &[2, 1, 3, 0, 4], near, near, 100);
        assert_eq!(groups(&l), vec![vec![1, 2, 3]]);
    }

    #[test]
    fn the_check_budget_bounds_a_pivot() {
        // A star around 0 with four leaves: a budget of 2 candidates admits two of them.
        let edges = [(0, 1), (0, 2), (0, 3), (0, 4)];
        let l = pivot_labels(5, &edges, &[0, 1, 2, 3, 4], |_, _| true, |_, _| true, 2);
        assert_eq!(groups(&l), vec![vec![0, 1, 2]]);
    }

    proptest::proptest! {
        /// Every two members of a cluster are compatible, each member is reached from its pivot
        /// by verified edges, and the clusters do not depend on the order of the edges.
        #[test]
        fn clusters_are_compatible_and_do_not_depend_on_edge_order(
            raw in proptest::collection::vec((0u32..12, 0u32..12), 0..40),
            seed in 0u64..1000,
        ) {
            let n = 12;
            let edges: Vec<(u32, u32)> = raw.into_iter().filter(|(a, b)| a != b).collect();
            let compatible = |a: u32, b: u32| {
                a == b || xxhash_rust::xxh3::xxh3_64_with_seed(&[a.min(b) as u8, a.max(b) as u8], seed) % 3 != 0
            };
            let order: Vec<u32> = (0..n as u32).rev().collect();
            let l = pivot_labels(n, &edges, &order, compatible, compatible, 1000);
            let mut rev = edges.clone();
            rev.reverse();
            proptest::prop_assert_eq!(&l, &pivot_labels(n, &rev, &order, compatible, compatible, 1000));
            let mut uf = UnionFind::new(n);
            for &(a, b) in &edges {
                if l[a as usize] == l[b as usize] {
                    uf.union(a, b);
                }
            }
            let reach = uf.labels();
            for g in groups(&l) {
                for &x in &g {
                    proptest::prop_assert_eq!(reach[x as usize], reach[g[0] as usize]);
                    for &y in &g {
                        proptest::prop_assert!(compatible(x, y), "{} and {} in one cluster", x, y);
                    }
                }
            }
        }
    }

    #[test]
    fn pivot_clusters_do_not_depend_on_edge_order() {
        let e1 = [(0, 1), (0, 2), (2, 3), (4, 5)];
        let e2 = [(4, 5), (2, 3), (0, 2), (0, 1)];
        let order = [3, 0, 1, 2, 4, 5];
        let ok = [(0, 1), (0, 2), (2, 3), (4, 5)];
        assert_eq!(
            pivot_labels(6, &e1, &order, pairs_of(&ok), pairs_of(&ok), 9),
            pivot_labels(6, &e2, &order, pairs_of(&ok), pairs_of(&ok), 9)
        );
        assert_eq!(
            groups(&pivot_labels(
                6,
                &e1,
                &order,
                pairs_of(&ok),
                pairs_of(&ok),
                9
            )),
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
