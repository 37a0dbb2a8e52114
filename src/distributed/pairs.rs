//! Banding and verification across the processes: the signatures stay where they were
//! sketched, and only the verified pairs (with the signatures of their documents) reach
//! process 0.
//!
//! For each round of bands (as many as every process's `--memory-limit` allows at once):
//!
//! ```text
//! every process: (band key, document) of its documents ─▶ the process that owns the key
//!     (key_process: each process owns the keys of one residue of a hash)
//! key owner: the band's buckets, capped as one process caps them ─▶ each pair (a, b, bands)
//!     to the process that read a or the one that read b (half the pairs each)
//! that process: asks the processes that read the others for their signatures (and dates) ◀─▶
//!     checks that the pair's rows agree in one of its bands (a key match by hash accident is
//!     no candidate), then verifies each pair once, the first round that yields it
//! ```
//!
//! then process 0's passage pairs (shared sentence lines, template passages) are routed and
//! verified the same way, and every process sends process 0 its verified pairs and the
//! signatures of their documents. The candidates are those of [`crate::band::filter_candidates`]
//! over all the signatures (the union over bands of each bucket's pairs, capped buckets alike),
//! each verified once by the same rule on the same signatures: the edges are the one-process
//! edges.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

use super::{encode, exchange, key_process, net::Net, place, Span};
use crate::band::{pairs_from_table, BandStats, Banding};
use crate::cluster;
use crate::error::Result;
use crate::pipeline::steps::{build_clusters, Clusters, Groups};
use crate::sketch::Signatures;
use crate::verify::{self, DateWindow, Edge, PairScore, Verifier, VerifyRule};

/// A process's documents as the verification reads them (local numbering).
pub(super) struct Held<'a> {
    pub sigs: &'a Signatures,
    /// The corpus's index of each document.
    pub global: &'a [u32],
    pub dates: &'a [Option<i64>],
    pub unparsed: &'a [bool],
    /// The true shingle set of each document (local numbering), where pairs are measured on
    /// them (`--verify recheck`, the final pass); `None`: on the signatures alone.
    pub sets: Option<verify::SetSource<'a>>,
}

/// What pairs are candidates and which are kept.
pub(super) struct Rule {
    pub banding: Banding,
    pub max_bucket: usize,
    pub rule: VerifyRule,
    /// [`verify::Mode::Recheck`] (with [`Held::sets`]) or [`verify::Mode::Estimate`].
    pub mode: verify::Mode,
    /// The date window, if any.
    pub days: Option<u32>,
    /// Band table bytes this process may hold (its share of `--memory-limit`).
    pub table_bytes: u64,
}

/// What process 0 gets back.
#[derive(Default)]
pub(super) struct Found {
    /// The verified pairs, sorted by `(a, b)`.
    pub edges: Vec<Edge>,
    /// The signature (set size, values) of every document of a verified pair.
    pub sigs: HashMap<u32, (u32, Vec<u32>)>,
    pub stats: BandStats,
}

/// The bands of a pair routed for its shared passage, not by a band.
const PASSAGE: u64 = 0;

/// Bands in one round at most: a pair's bands in a round are the bits of a `u64`.
const MAX_ROUND: usize = 64;

/// Pairs for the process that verifies them: `(a << 32 | b, bands)`, bit `i` of
/// `bands` set when the round's band `i` yields the pair at the key owner that sends it
/// ([`PASSAGE`]: none, a passage pair).
type Routed = Vec<(u64, u64)>;

/// A document's signature and date, sent to the process verifying a pair of it.
type SigWire = (u32, u32, Vec<u32>, Option<i64>, bool);

/// True shingle sets on the wire: `(document, sorted set)`.
type SetsWire = Vec<(u32, Vec<u64>)>;

/// A verified pair on the wire: `(a, b, jaccard, containment)`.
type EdgeWire = (u32, u32, f64, f64, bool);

/// What each process sends process 0 at the end: its edges, their documents' signatures, its
/// candidate count and capped bucket count.
type Gathered = (Vec<EdgeWire>, Vec<(u32, u32, Vec<u32>)>, u64, u64);

/// Bytes a document's entries take during a round, per band: its own `(key, doc)` entry
/// going out and, on average, one coming in, sorted (with the vectors' slack).
const ENTRY_BYTES: u64 = 32;

/// Runs the banding and verification of every process's `held` signatures (see the module's
/// notes); `passages` are process 0's extra pairs (`a < b`, sorted and distinct; empty
/// elsewhere). Every process calls it; process 0 gets the [`Found`], with the signatures of
/// the pairs' documents if `with_sigs`.
pub(super) fn near_pairs(
    net: &mut Net,
    held: &Held,
    spans: &[Span],
    rule: &Rule,
    passages: Vec<(u32, u32)>,
    with_sigs: bool,
) -> Result<Option<Found>> {
    let peers = net.peers();
    let bands = rule.banding.bands;
    // Bands per round: the most this process's budget allows, agreed on as the least of all.
    let mine = (rule.table_bytes / (ENTRY_BYTES * held.global.len().max(1) as u64))
        .clamp(1, bands.clamp(1, MAX_ROUND) as u64);
    let sends = (0..peers).map(|q| (q, encode(&mine))).collect();
    let got: Vec<(usize, u64)> = exchange(net, sends)?;
    let per_round = got.into_iter().map(|(_, x)| x).min().unwrap_or(mine) as usize;

    let mut state = Verifying {
        seen: Vec::new(),
        edges: Vec::new(),
        sigs: HashMap::new(),
        with_sigs,
        candidates: 0,
    };
    let mut capped = 0;
    let all: Vec<usize> = (0..bands).collect();
    for round in all.chunks(per_round.max(1)) {
        // 1. Band keys to their owners: a message per band and owner, packed as it is made
        // (see [`pack_entry`]).
        let sends: Vec<(usize, Vec<u8>)> = round
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, &band)| {
                let mut by: Vec<Vec<u8>> = (0..peers)
                    .map(|_| (i as u32).to_le_bytes().to_vec())
                    .collect();
                for d in (0..held.sigs.len()).filter(|&d| held.sigs.active(d)) {
                    let key = rule.banding.key(held.sigs.get(d), band);
                    pack_entry(&mut by[key_process(key, peers)], key, held.global[d]);
                }
                by.into_iter().enumerate()
            })
            .collect();
        let got = net.exchange(sends)?;
        // 2. The buckets of the keys this process owns; each pair to its verifier.
        let mut tables: Vec<Vec<(u64, u32)>> = vec![Vec::new(); round.len()];
        for (from, b) in got {
            let (i, entries) = unpack_entries(from, &b, round.len())?;
            tables[i].extend(entries);
        }
        let per_band: Vec<(Vec<(u32, u32)>, u64)> = tables
            .into_par_iter()
            .map(|mut t| {
                // Only the keys that may repeat are sorted, as one process sorts its band
                // tables: a key that comes once makes no pair.
                let t = crate::spill::sort_repeated(&mut t, |x| x.0, 2);
                let mut pairs = Vec::new();
                let c = pairs_from_table(t, rule.max_bucket, &mut pairs);
                (pairs, c)
            })
            .collect();
        // A near copy shares a bucket in most bands: each owner sends each pair once a round,
        // with the bands that yield it.
        let mut yielded: Vec<(u64, u8)> = Vec::new();
        for (i, (pairs, c)) in per_band.into_iter().enumerate() {
            capped += c;
            yielded.extend(pairs.into_iter().map(|(a, b)| (key(a, b), i as u8)));
        }
        // By pair alone: a pair's bands are or-ed together, in any order.
        yielded.par_sort_unstable_by_key(|x| x.0);
        let mut routed: Vec<Routed> = vec![Vec::new(); peers];
        for run in yielded.chunk_by(|x, y| x.0 == y.0) {
            let bands = run.iter().fold(0u64, |m, &(_, i)| m | 1 << i);
            routed[verifier_of(spans, run[0].0)].push((run[0].0, bands));
        }
        drop(yielded);
        let sends = routed
            .into_iter()
            .enumerate()
            .map(|(q, r)| (q, pack_routed(&r)))
            .collect();
        let got = net.exchange(sends)?;
        let mut pairs = Vec::new();
        for (from, b) in got {
            unpack_routed(from, &b, &mut pairs)?;
        }
        // 3. Signatures fetched, pairs verified.
        state.round(net, held, spans, rule, round[0], pairs)?;
    }
    // Process 0's passage pairs, routed and verified the same way.
    let mut routed: Vec<Routed> = vec![Vec::new(); peers];
    for (a, b) in passages {
        routed[verifier_of(spans, key(a, b))].push((key(a, b), PASSAGE));
    }
    let sends = routed
        .into_iter()
        .enumerate()
        .filter(|(_, r)| !r.is_empty())
        .map(|(q, r)| (q, pack_routed(&r)))
        .collect();
    let got = net.exchange(sends)?;
    let mut pairs = Vec::new();
    for (from, b) in got {
        unpack_routed(from, &b, &mut pairs)?;
    }
    state.round(net, held, spans, rule, 0, pairs)?;

    // 4. Verified pairs and their signatures to process 0.
    let Verifying {
        edges,
        sigs,
        candidates,
        ..
    } = state;
    let wire: Gathered = (
        edges
            .iter()
            .map(|e| (e.a, e.b, e.score.jaccard, e.score.containment, e.dated))
            .collect(),
        sigs.into_iter().map(|(d, (s, v))| (d, s, v)).collect(),
        candidates,
        capped,
    );
    let got: Vec<(usize, Gathered)> = exchange(net, vec![(0, encode(&wire))])?;
    if net.me() != 0 {
        return Ok(None);
    }
    let mut found = Found::default();
    for (_, (edges, sigs, candidates, capped)) in got {
        found.edges.extend(
            edges
                .into_iter()
                .map(|(a, b, jaccard, containment, dated)| Edge {
                    a,
                    b,
                    score: PairScore {
                        jaccard,
                        containment,
                    },
                    dated,
                }),
        );
        for (d, s, v) in sigs {
            found.sigs.insert(d, (s, v));
        }
        found.stats.candidate_pairs += candidates;
        found.stats.capped_buckets += capped;
    }
    found.edges.par_sort_unstable_by_key(|e| (e.a, e.b));
    Ok(Some(found))
}

/// A process's verification across rounds.
struct Verifying {
    /// The pairs verified so far (`a << 32 | b`), sorted: each is verified once. (A sorted
    /// vector merged with each round's sorted pairs: a hash set cost a hashed insert and lookup
    /// per pair.)
    seen: Vec<u64>,
    edges: Vec<Edge>,
    /// The signatures of the documents of `edges` (if they are kept).
    sigs: HashMap<u32, (u32, Vec<u32>)>,
    with_sigs: bool,
    /// Band candidates verified.
    candidates: u64,
}

impl Verifying {
    /// Verifies `pairs` (see [`Routed`]: `a` or `b` read here; the round's bands from
    /// `first_band`)
    /// not verified in an earlier round: a band's pair is a candidate when the two signatures
    /// agree on every row of one of its bands. Two exchanges on every process (the signatures
    /// of the `b`s read elsewhere).
    fn round(
        &mut self,
        net: &mut Net,
        held: &Held,
        spans: &[Span],
        rule: &Rule,
        first_band: usize,
        mut pairs: Routed,
    ) -> Result<()> {
        let me = net.me();
        // By pair alone: a pair's bands are or-ed together, in any order.
        pairs.par_sort_unstable_by_key(|x| x.0);
        // One entry a pair, with the bands every owner saw, if not verified before.
        let mut merged: Routed = Vec::with_capacity(pairs.len());
        let mut s = 0;
        for run in pairs.chunk_by(|x, y| x.0 == y.0) {
            let ab = run[0].0;
            s += self.seen[s..].partition_point(|&x| x < ab);
            if self.seen.get(s) != Some(&ab) {
                merged.push((ab, run.iter().fold(0, |m, &(_, b)| m | b)));
            }
        }
        drop(pairs);
        let pairs = merged;
        // The documents of the pairs: those read here, and the others fetched.
        let mut docs: Vec<u32> = pairs
            .iter()
            .flat_map(|&(ab, _)| [(ab >> 32) as u32, ab as u32])
            .collect();
        docs.par_sort_unstable();
        docs.dedup();
        let remote = docs.iter().copied().filter(|&d| place(spans, d).0 != me);
        let got: Vec<SigWire> = ask(net, spans, remote, |d| {
            let l = place(spans, d).1 as usize;
            (
                d,
                held.sigs.sizes[l],
                held.sigs.get(l).to_vec(),
                held.dates[l],
                held.unparsed[l],
            )
        })?;
        let mut fetched: HashMap<u32, SigWire> = got.into_iter().map(|w| (w.0, w)).collect();
        // The pairs' documents in one table, numbered in the corpus's order (so that `a < b`
        // stays so).
        let k = held.sigs.num_perm;
        let mut table = Signatures::new(k, docs.len());
        let mut dates = Vec::with_capacity(docs.len());
        let mut unparsed = Vec::with_capacity(docs.len());
        for (i, &d) in docs.iter().enumerate() {
            let (p, l) = place(spans, d);
            let (size, values, date, un) = if p == me {
                let l = l as usize;
                (
                    held.sigs.sizes[l],
                    held.sigs.get(l),
                    held.dates[l],
                    held.unparsed[l],
                )
            } else {
                let w = fetched.get_mut(&d).ok_or_else(|| {
                    crate::error::Error::Distributed(format!(
                        "process {p} sent no signature for document {d}"
                    ))
                })?;
                (w.1, &w.2[..], w.3, w.4)
            };
            table.sizes[i] = size;
            table.values[i * k..(i + 1) * k].copy_from_slice(values);
            dates.push(date);
            unparsed.push(un);
        }
        drop(fetched);
        let index = |d: u32| docs.binary_search(&d).expect("a pair's document") as u32;
        let verifier = Verifier {
            rule: rule.rule,
            sigs: &table,
            window: rule.days.map(|days| DateWindow {
                dates: &dates,
                unparsed: &unparsed,
                days,
            }),
            exact: None,
            mode: rule.mode,
            dates: Some(&dates),
            cache: None,
        };
        let rows = rule.banding.rows;
        let checked: Vec<(bool, Option<Edge>)> = pairs
            .par_iter()
            .map(|&(ab, bands)| {
                let (a, b) = ((ab >> 32) as u32, ab as u32);
                let (ia, ib) = (index(a), index(b));
                let (sa, sb) = (table.get(ia as usize), table.get(ib as usize));
                let candidate = (0..MAX_ROUND).any(|i| {
                    bands >> i & 1 == 1 && {
                        let band = first_band + i;
                        let r = band * rows..(band + 1) * rows;
                        // Element by element: a band's few rows are compared faster inline
                        // than by a call to memcmp (a slice's `==`).
                        sa[r.clone()].iter().zip(&sb[r]).all(|(x, y)| x == y)
                    }
                });
                let passage = bands == PASSAGE;
                let edge = (candidate || passage)
                    .then(|| verifier.check(ia, ib))
                    .flatten()
                    .map(|e| Edge { a, b, ..e });
                (candidate, edge)
            })
            .collect();
        // `--verify recheck`: the pairs it measures on the true sets, checked again with those
        // of their documents (fetched from the processes that read them). Every process takes
        // part in the fetch, with or without pairs of its own.
        let mut checked = checked;
        if held.sets.is_some() {
            let rechecked: Vec<usize> = (pairs.par_iter().zip(&checked).enumerate())
                .filter(|(_, (pair, got))| {
                    let (ab, bands) = **pair;
                    (got.0 || bands == PASSAGE)
                        && got.1.is_none()
                        && verifier.check_reads_sets(index((ab >> 32) as u32), index(ab as u32))
                })
                .map(|(k, _)| k)
                .collect();
            let mut wanted: Vec<u32> = rechecked
                .iter()
                .flat_map(|&k| [(pairs[k].0 >> 32) as u32, pairs[k].0 as u32])
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            let sets = fetch_sets(net, held, spans, &wanted)?;
            let source = |i: u32, out: &mut Vec<u64>| {
                out.clear();
                out.extend_from_slice(&sets[&docs[i as usize]]);
            };
            let exact = Verifier {
                exact: Some(&source),
                ..verifier
            };
            let edges: Vec<(usize, Option<Edge>)> = rechecked
                .into_par_iter()
                .map(|k| {
                    let (a, b) = ((pairs[k].0 >> 32) as u32, pairs[k].0 as u32);
                    let edge = exact.check(index(a), index(b)).map(|e| Edge { a, b, ..e });
                    (k, edge)
                })
                .collect();
            for (k, edge) in edges {
                checked[k].1 = edge;
            }
        }
        let mut new = Vec::new();
        for (&(ab, bands), (candidate, edge)) in pairs.iter().zip(checked) {
            let (a, b) = ((ab >> 32) as u32, ab as u32);
            if candidate || bands == PASSAGE {
                new.push(ab);
            }
            self.candidates += candidate as u64;
            if let Some(e) = edge {
                for d in [a, b].into_iter().filter(|_| self.with_sigs) {
                    self.sigs.entry(d).or_insert_with(|| {
                        let i = index(d) as usize;
                        (table.sizes[i], table.get(i).to_vec())
                    });
                }
                self.edges.push(e);
            }
        }
        // Both sorted and apart: merged in one pass.
        let old = std::mem::take(&mut self.seen);
        self.seen = Vec::with_capacity(old.len() + new.len());
        let (mut i, mut j) = (0, 0);
        while i < old.len() && j < new.len() {
            if old[i] < new[j] {
                self.seen.push(old[i]);
                i += 1;
            } else {
                self.seen.push(new[j]);
                j += 1;
            }
        }
        self.seen.extend_from_slice(&old[i..]);
        self.seen.extend_from_slice(&new[j..]);
        Ok(())
    }
}

/// Every process: the true shingle sets (see [`Held::sets`]) of documents `wanted` (corpus
/// numbering), those read here and those fetched from the processes that read them. Two
/// exchanges on every process.
pub(super) fn fetch_sets(
    net: &mut Net,
    held: &Held,
    spans: &[Span],
    wanted: &[u32],
) -> Result<HashMap<u32, Vec<u64>>> {
    let Some(fill) = held.sets else {
        return Ok(HashMap::new());
    };
    let set = |d: u32| {
        let mut out = Vec::new();
        fill(place(spans, d).1, &mut out);
        (d, out)
    };
    let me = net.me();
    let (here, remote): (Vec<u32>, Vec<u32>) =
        wanted.iter().partition(|&&d| place(spans, d).0 == me);
    let got: SetsWire = ask(net, spans, remote, set)?;
    let mut sets: HashMap<u32, Vec<u64>> = here.into_par_iter().map(set).collect();
    sets.extend(got);
    Ok(sets)
}

/// Every process: asks the processes that read documents `wanted` (corpus numbering, none of
/// them read here) for `answer` of each, and gives `answer` of the documents the others ask it
/// for. Two exchanges on every process.
fn ask<T: Serialize + DeserializeOwned + Send>(
    net: &mut Net,
    spans: &[Span],
    wanted: impl IntoIterator<Item = u32>,
    answer: impl Fn(u32) -> T + Sync + Send,
) -> Result<Vec<T>> {
    let mut asks: Vec<Vec<u32>> = vec![Vec::new(); net.peers()];
    for d in wanted {
        asks[place(spans, d).0].push(d);
    }
    let sends = asks
        .into_iter()
        .enumerate()
        .filter(|(_, a)| !a.is_empty())
        .map(|(q, a)| (q, encode(&a)))
        .collect();
    let got: Vec<(usize, Vec<u32>)> = exchange(net, sends)?;
    let sends = got
        .into_iter()
        .map(|(from, asked)| {
            let replies: Vec<T> = asked.into_par_iter().map(&answer).collect();
            (from, encode(&replies))
        })
        .collect();
    let got: Vec<(usize, Vec<T>)> = exchange(net, sends)?;
    Ok(got.into_iter().flat_map(|(_, r)| r).collect())
}

/// Appends a band entry `(key, document)` to a message for the key's owner, 12 bytes
/// (little-endian), after the band's index in the round (4 bytes): the band keys are the most
/// entries of the step, which bincode writes and reads one field at a time.
fn pack_entry(b: &mut Vec<u8>, key: u64, d: u32) {
    b.extend_from_slice(&key.to_le_bytes());
    b.extend_from_slice(&d.to_le_bytes());
}

/// The band's index in the round and the entries of a message of [`pack_entry`]s.
fn unpack_entries(from: usize, b: &[u8], bands: usize) -> Result<(usize, Vec<(u64, u32)>)> {
    let bad = || {
        crate::error::Error::Distributed(format!(
            "a message from process {from} cannot be read (band keys of {} bytes): are all \
             processes the same syndic version?",
            b.len()
        ))
    };
    let (head, rest) = b.split_first_chunk::<4>().ok_or_else(bad)?;
    let i = u32::from_le_bytes(*head) as usize;
    if i >= bands || rest.len() % 12 != 0 {
        return Err(bad());
    }
    let entries = rest
        .chunks_exact(12)
        .map(|c| {
            let key = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
            let d = u32::from_le_bytes(c[8..].try_into().expect("4 bytes"));
            (key, d)
        })
        .collect();
    Ok((i, entries))
}

/// Routed pairs as a message, 16 bytes each (pair, bands; little-endian).
fn pack_routed(r: &[(u64, u64)]) -> Vec<u8> {
    let mut b = Vec::with_capacity(r.len() * 16);
    for &(ab, bands) in r {
        b.extend_from_slice(&ab.to_le_bytes());
        b.extend_from_slice(&bands.to_le_bytes());
    }
    b
}

/// Appends the pairs of a message of [`pack_routed`] to `out`.
fn unpack_routed(from: usize, b: &[u8], out: &mut Routed) -> Result<()> {
    if b.len() % 16 != 0 {
        return Err(crate::error::Error::Distributed(format!(
            "a message from process {from} cannot be read (pairs of {} bytes): are all \
             processes the same syndic version?",
            b.len()
        )));
    }
    out.extend(b.chunks_exact(16).map(|c| {
        let ab = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
        let bands = u64::from_le_bytes(c[8..].try_into().expect("8 bytes"));
        (ab, bands)
    }));
    Ok(())
}

fn key(a: u32, b: u32) -> u64 {
    (a as u64) << 32 | b as u64
}

/// The process that verifies pair `ab` (see [`key`]): the one that read `a` or the one that
/// read `b`, by a bit of the pair's hash. The earlier documents are on the earlier processes,
/// so taking `a`'s always would leave most pairs across processes to the first.
fn verifier_of(spans: &[Span], ab: u64) -> usize {
    let d = if xxhash_rust::xxh3::xxh3_64(&ab.to_le_bytes()) & 1 == 0 {
        (ab >> 32) as u32
    } else {
        ab as u32
    };
    place(spans, d).0
}

/// Process 0: the clusters of the gathered pairs, as [`build_clusters`] makes them over the
/// whole corpus. Only the documents of a pair or of an exact group can be in a cluster, so the
/// clustering runs over those alone, numbered in the corpus's order (every order and tie-break
/// is kept), with the signatures of the pairs' documents: process 0 never holds the others'.
pub(super) fn cluster_gathered(
    found: &Found,
    groups: &Groups,
    num_perm: usize,
    rule: VerifyRule,
    mode: verify::Mode,
    method: cluster::Method,
) -> (Clusters, Vec<Rescore>) {
    let n = groups.leaders.len();
    let mut members: Vec<u32> = found.edges.iter().flat_map(|e| [e.a, e.b]).collect();
    for (d, &l) in groups.leaders.iter().enumerate() {
        if l as usize != d {
            members.extend([d as u32, l]);
        }
    }
    members.par_sort_unstable();
    members.dedup();
    let index = |d: u32| members.binary_search(&d).expect("a member") as u32;
    let order: Vec<u32> = groups
        .order
        .iter()
        .filter(|&&d| members.binary_search(&d).is_ok())
        .map(|&d| index(d))
        .collect();
    let sub = Groups {
        rank: cluster::ranks(&order),
        order,
        leaders: members
            .iter()
            .map(|&d| index(groups.leaders[d as usize]))
            .collect(),
        active: members.iter().map(|&d| groups.active[d as usize]).collect(),
    };
    let mut sigs = Signatures::new(num_perm, members.len());
    for (i, d) in members.iter().enumerate() {
        if let Some((size, values)) = found.sigs.get(d) {
            sigs.sizes[i] = *size;
            sigs.values[i * num_perm..(i + 1) * num_perm].copy_from_slice(values);
        }
    }
    let edges: Vec<Edge> = found
        .edges
        .iter()
        .map(|e| Edge {
            a: index(e.a),
            b: index(e.b),
            ..*e
        })
        .collect();
    // Clustering measures only pairs within a component (its edges' documents): their
    // signatures are all here. The date window played its part in verification.
    // In `--verify recheck`, without true sets here: the pairs it would measure on them are
    // returned, for the caller to fetch their sets.
    let verifier = Verifier {
        rule,
        sigs: &sigs,
        window: None,
        exact: None,
        mode,
        dates: None,
        cache: None,
    };
    let Clusters {
        mut clusters,
        labels: sub_labels,
    } = build_clusters(&verifier, &sub, &edges, method);
    let global = |i: u32| members[i as usize];
    // A member's similarity to its representative is that of their exact groups' leaders
    // (see `build_clusters`).
    let mut rescore = Vec::new();
    for (c, cluster) in clusters.iter().enumerate() {
        let rl = sub.leaders[cluster.representative as usize];
        for (m, member) in cluster.members.iter().enumerate() {
            let l = sub.leaders[member.doc as usize];
            if l != rl && verifier.score_reads_sets(l, rl) {
                rescore.push((c, m, global(l), global(rl)));
            }
        }
    }
    for c in &mut clusters {
        c.representative = global(c.representative);
        c.family = global(c.family);
        for m in &mut c.members {
            m.doc = global(m.doc);
            m.via = m.via.map(global);
        }
    }
    let mut labels: Vec<u32> = (0..n as u32).collect();
    for (i, &l) in sub_labels.iter().enumerate() {
        labels[members[i] as usize] = global(l);
    }
    (Clusters { clusters, labels }, rescore)
}

/// A member whose similarity to its representative `--verify recheck` measures on the true
/// sets: `(cluster, member, leader of the member's exact group, the representative's)`, the
/// cluster and member as indices into [`Clusters::clusters`] and its members, the documents in
/// the corpus's numbering.
pub(super) type Rescore = (usize, usize, u32, u32);

#[cfg(test)]
mod tests {
    use super::*;

    /// Band entries and routed pairs come back as they were packed; a message of another
    /// length, or of a band outside the round, is an error naming the sender.
    #[test]
    fn band_entries_and_routed_pairs_are_unpacked_as_packed() {
        let entries = [
            (0u64, 0u32),
            (u64::MAX, 7),
            (0x0123_4567_89ab_cdef, u32::MAX),
        ];
        let mut b = 2u32.to_le_bytes().to_vec();
        for &(k, d) in &entries {
            pack_entry(&mut b, k, d);
        }
        let (i, got) = unpack_entries(1, &b, 3).unwrap();
        assert_eq!((i, &got[..]), (2, &entries[..]));
        let e = unpack_entries(1, &b, 2).unwrap_err().to_string();
        assert!(e.contains("process 1"), "{e}");
        assert!(unpack_entries(1, &b[..b.len() - 1], 3).is_err());
        assert!(unpack_entries(1, &[0; 3], 3).is_err());

        let routed = vec![(key(1, 2), 0b101), (key(u32::MAX, 0), PASSAGE)];
        let mut got = vec![(9, 9)];
        unpack_routed(0, &pack_routed(&routed), &mut got).unwrap();
        assert_eq!(got[1..], routed[..]);
        let e = unpack_routed(0, &[0; 17], &mut got)
            .unwrap_err()
            .to_string();
        assert!(e.contains("process 0"), "{e}");
    }
}
