//! The pipeline: the stages run in order over a corpus, each taking and returning plain data.
//!
//! ```text
//! read ─▶ normalize ─▶ sketch (unmasked) ─▶ exact groups ─▶ band ─▶ verify (Jaccard) ─▶ stories
//!                                             │
//!             boilerplate (line statistics over stories) ─▶ mask
//!                                             │
//!          sketch (masked) ─▶ band ─▶ verify (Jaccard or containment) ─▶ cluster ─▶ [`Scan`]
//! ```
//!
//! [`scan`] is what the `scan` and `dedup` commands call; each stage is also a public function so
//! that tests, benchmarks and later front ends (an incremental index, a distributed run) can
//! drive them one by one. [`scan_within`] is a short sequence of named steps (reading, exact
//! groups, story labels, boilerplate, final signatures, verified pairs, clusters, refinement,
//! counts), each over plain data, with a timing lap and a cancellation check between any two.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::band::{self, BandStats, Banding};
use crate::boilerplate::{
    self, Boilerplate, BoilerplateOptions, LineFacts, LineMask, SourceTemplates, Status,
};
use crate::cluster::{self, Keep, Method, UnionFind};
use crate::error::{Error, Result};
#[doc(hidden)] // for the benches
pub use crate::ingest::ingest_all;
pub(crate) use crate::ingest::{ingest_with, Ingested};
pub use crate::ingest::{DocMeta, Skipped};
use crate::normalize::{NormDoc, NormalizeOptions};
use crate::read::{Corpus, Fields, FilesSkipped, OnError};
use crate::shingle::Shingler;
use crate::sketch::{Signatures, Sketcher};
use crate::spill::{Budget, Docs};
use crate::verify::{self, Edge, Verifier, VerifyRule};

/// Everything that decides the result of a run (the report's `params`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub fields: Fields,
    pub on_error: OnError,
    pub normalize: NormalizeOptions,
    /// Shingle length in characters.
    pub shingle: usize,
    pub num_perm: usize,
    pub seed: u64,
    /// Jaccard threshold of verification (and, unless bands/rows are set, of banding).
    pub threshold: f64,
    pub banding: Banding,
    /// Containment threshold of verification; `None` turns containment off.
    pub containment: Option<f64>,
    /// The smaller document needs this many shingles for containment to count.
    pub min_containment_shingles: u32,
    /// Containment at which two documents dated within a day of each other are copies (the
    /// second rule; its pairs are links, not cluster members); `None`: off.
    #[serde(default)]
    pub dated_containment: Option<f64>,
    /// Copies must be dated within this many days of each other (when both have a date).
    pub max_days: Option<u32>,
    /// How candidate pairs are measured.
    pub verify: verify::Mode,
    /// Buckets larger than this yield a linear number of pairs.
    pub max_bucket: usize,
    pub keep: Keep,
    /// How verified pairs become clusters.
    pub cluster: Method,
    /// `None` turns boilerplate detection off.
    pub boilerplate: Option<BoilerplateOptions>,
}

impl Default for Config {
    fn default() -> Self {
        let num_perm = 128;
        let threshold = 0.5;
        Config {
            fields: Fields::default(),
            on_error: OnError::Fail,
            normalize: NormalizeOptions::default(),
            shingle: 7,
            num_perm,
            seed: 0,
            threshold,
            banding: Banding::for_verification(threshold, num_perm),
            containment: Some(0.7),
            min_containment_shingles: 100,
            dated_containment: Some(0.6),
            max_days: None,
            verify: verify::Mode::Recheck,
            max_bucket: 200,
            keep: Keep::Longest,
            cluster: Method::Pivot,
            boilerplate: Some(BoilerplateOptions::default()),
        }
    }
}

impl Config {
    /// Checks ranges and consistency; the message names the offending parameter (as a
    /// [`crate::ConfigBuilder`] method; the command line's options have the same names).
    pub fn validate(&self) -> Result<()> {
        let p = |m: String| Err(Error::Param(m));
        if self.shingle == 0 || self.shingle > 64 {
            return p(format!("shingle must be 1..=64, got {}", self.shingle));
        }
        if self.num_perm < 8 || self.num_perm > 4096 {
            return p(format!("num_perm must be 8..=4096, got {}", self.num_perm));
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return p(format!(
                "threshold must be in (0, 1], got {}",
                self.threshold
            ));
        }
        if let Some(c) = self.containment {
            if !(c > 0.0 && c <= 1.0) {
                return p(format!("containment must be in (0, 1], got {c}"));
            }
        }
        if let Some(c) = self.dated_containment {
            if !(c > 0.0 && c <= 1.0) {
                return p(format!("dated_containment must be in (0, 1], got {c}"));
            }
        }
        let b = self.banding;
        if b.bands == 0 || b.rows == 0 || b.bands * b.rows > self.num_perm {
            return p(format!(
                "bands ({}) x rows ({}) must be at least 1 and at most num_perm ({})",
                b.bands, b.rows, self.num_perm
            ));
        }
        if self.max_bucket == 0 {
            return p("max_bucket must be at least 1".into());
        }
        Ok(())
    }

    pub fn verify_rule(&self) -> VerifyRule {
        VerifyRule {
            threshold: self.threshold,
            containment: self.containment,
            min_shingles: self.min_containment_shingles,
            dated_containment: self.dated_containment,
        }
    }
}

/// Progress reporting and cancellation, implemented by front ends (the CLI draws bars and stops
/// on Ctrl-C); the library only calls it.
pub trait Progress: Sync {
    /// A stage begins; `total` is its number of steps when known.
    fn stage(&self, _name: &str, _total: Option<u64>) {}
    fn advance(&self, _n: u64) {}
    fn done(&self) {}
    /// Whether the run should stop. Asked at each stage boundary and every few thousand
    /// documents or bands within a stage (from any thread of the pool); once it says yes, the
    /// run returns [`Error::Interrupted`]. A [`crate::signal::Cancel`] token answers it.
    fn cancelled(&self) -> bool {
        false
    }
}

/// `Err(Error::Interrupted)` once `progress` says the run is cancelled.
pub(crate) fn check_cancelled(progress: &dyn Progress) -> Result<()> {
    if progress.cancelled() {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// No progress reporting.
pub struct Quiet;
impl Progress for Quiet {}

/// For each document, the leader of its exact-duplicate group (documents with the same normalized
/// text): the member of least `rank` (itself if it has no duplicate). Only leaders are sketched.
#[doc(hidden)] // for the benches: not part of the library's interface
pub fn exact_leaders(norm: &[NormDoc], rank: &[u32]) -> Vec<u32> {
    let hashes: Vec<u128> = norm.iter().map(|d| d.exact_hash).collect();
    exact_leaders_by_hash(&hashes, rank)
}

/// The hash given to empty documents before [`exact_leaders_by_hash`] (their leaders are then
/// reset to themselves).
const EMPTY_HASH: u128 = 0;

/// [`exact_leaders`] from each document's [`NormDoc::exact_hash`].
pub(crate) fn exact_leaders_by_hash(hashes: &[u128], rank: &[u32]) -> Vec<u32> {
    // Sorted by (hash, rank), each group of equal hashes starts with its leader (a sort runs in
    // parallel; a hash map of a million 128-bit keys took most of a second).
    let mut by_hash: Vec<u32> = (0..hashes.len() as u32).collect();
    by_hash.par_sort_unstable_by_key(|&d| (hashes[d as usize], rank[d as usize]));
    let mut leaders = vec![0u32; hashes.len()];
    for group in by_hash.chunk_by(|&a, &b| hashes[a as usize] == hashes[b as usize]) {
        for &d in group {
            leaders[d as usize] = group[0];
        }
    }
    leaders
}

/// What is left out of the text a signature is computed from.
#[derive(Clone, Copy, Default)]
#[doc(hidden)] // for the benches: not part of the library's interface
pub struct Mask<'a> {
    /// Flagged boilerplate lines.
    pub lines: Option<&'a LineMask>,
    /// Template n-grams of each source.
    pub templates: Option<&'a SourceTemplates>,
}

/// The text a signature is computed from: the document's non-empty, unmasked lines joined by a
/// space, without the words of template n-grams.
#[doc(hidden)] // for the benches: not part of the library's interface
pub fn sketch_text(doc: &NormDoc, d: usize, mask: Mask, buf: &mut String) {
    buf.clear();
    for i in 0..doc.lines() {
        let line = doc.line(i);
        if line.is_empty() || mask.lines.is_some_and(|m| m.is_flagged(d, i)) {
            continue;
        }
        match mask.templates {
            Some(t) => {
                t.push_untemplated(d, line, buf);
            }
            None => {
                if !buf.is_empty() {
                    buf.push(' ');
                }
                buf.push_str(line);
            }
        }
    }
}

/// The first pass accepts pairs at this fraction of the verification thresholds.
pub(crate) const FIRST_PASS_LENIENCY: f64 = 0.8;

/// Which windows of the text are shingles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)] // for the benches: not part of the library's interface
pub enum Shingles {
    /// Every k-character window.
    All,
    /// Only windows that start a word: about one per word. The first pass (story labels for the
    /// boilerplate statistics) uses these: on gen_news 20k it gives the same flags and clusters
    /// as all windows, with a fraction of the hashing. The final pass uses all windows.
    Anchored,
}

/// Signatures of the documents where `active[d]`, with what `mask` says left out.
#[doc(hidden)] // for the benches: not part of the library's interface
pub fn sketch_all<D: Docs + ?Sized>(
    norm: &D,
    active: &[bool],
    mask: Mask,
    shingles: Shingles,
    cfg: &Config,
    progress: &dyn Progress,
) -> Result<Signatures> {
    let n = norm.doc_count();
    progress.stage("sketching", Some(n as u64));
    let mut sigs = Signatures::new(cfg.num_perm, n);
    norm.each_chunk(&mut |first, docs| {
        sketch_into(
            docs, first, active, mask, shingles, cfg, &mut sigs, progress,
        );
        check_cancelled(progress)
    })?;
    progress.done();
    Ok(sigs)
}

/// Writes the signatures of `docs` (documents `first..first + docs.len()`; only those where
/// `active` says so) into rows `first..` of `sigs`. Stops early, leaving rows unwritten, when
/// `progress` says the run is cancelled: the caller checks [`check_cancelled`] after it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sketch_into(
    docs: &[NormDoc],
    first: usize,
    active: &[bool],
    mask: Mask,
    shingles: Shingles,
    cfg: &Config,
    sigs: &mut Signatures,
    progress: &dyn Progress,
) {
    let k = cfg.num_perm;
    let sketcher = Sketcher::new(k, cfg.seed);
    let end = first + docs.len();
    // `Err` only stops the loop: the caller learns of the cancellation from `progress`.
    let _stopped = sigs.values[first * k..end * k]
        .par_chunks_mut(k)
        .zip(sigs.sizes[first..end].par_iter_mut())
        .enumerate()
        .try_for_each(|(i, (row, size))| {
            let d = first + i;
            if i % 4096 == 4095 {
                progress.advance(4096);
                if progress.cancelled() {
                    return Err(());
                }
            }
            if active[d] {
                *size = sketch_doc(&sketcher, &docs[i], d, mask, shingles, cfg.shingle, row);
            }
            Ok(())
        });
}

thread_local! {
    /// Each worker's shingle table and text buffer, reused from document to document.
    static SCRATCH: std::cell::RefCell<(Shingler, String)> =
        std::cell::RefCell::new((Shingler::default(), String::new()));
}

/// The signature of document `d` (`doc`), with what `mask` says left out, written to `row`;
/// returns its shingle-set size. Uses this thread's scratch buffers.
pub(crate) fn sketch_doc(
    sketcher: &Sketcher,
    doc: &NormDoc,
    d: usize,
    mask: Mask,
    shingles: Shingles,
    k: usize,
    row: &mut [u32],
) -> u32 {
    SCRATCH.with(|b| {
        let (shingler, text) = &mut *b.borrow_mut();
        sketch_text(doc, d, mask, text);
        sketcher.sketch_text(shingler, text, k, shingles == Shingles::Anchored, row)
    })
}

/// Sketches documents `docs` (sorted) again into their rows of `sigs`, with what `mask` says
/// left out: the documents whose text the template words change, after the pass that sketched
/// every document without them. Each is read on its own (from disk when spilled).
pub(crate) fn resketch<D: Docs + ?Sized>(
    norm: &D,
    docs: &[u32],
    mask: Mask,
    cfg: &Config,
    sigs: &mut Signatures,
    progress: &dyn Progress,
) -> Result<()> {
    let k = cfg.num_perm;
    let sketcher = Sketcher::new(k, cfg.seed);
    // A bounded number of rows at a time (a corpus of templates could have many such documents).
    for docs in docs.chunks(1 << 16) {
        check_cancelled(progress)?;
        let rows: Vec<(Vec<u32>, u32)> = docs
            .par_iter()
            .map(|&d| {
                let mut row = vec![0u32; k];
                let mut size = 0;
                norm.visit_doc(d as usize, &mut |doc| {
                    size = sketch_doc(
                        &sketcher,
                        doc,
                        d as usize,
                        mask,
                        Shingles::All,
                        cfg.shingle,
                        &mut row,
                    );
                })?;
                Ok((row, size))
            })
            .collect::<Result<_>>()?;
        for (&d, (row, size)) in docs.iter().zip(rows) {
            let d = d as usize;
            sigs.values[d * k..(d + 1) * k].copy_from_slice(&row);
            sigs.sizes[d] = size;
        }
    }
    Ok(())
}

/// Candidate pairs from banding (the band tables being built hold at most `table_bytes`), each
/// verified by `verifier`, sorted by `(a, b)`.
pub(crate) fn near_pairs(
    verifier: &Verifier,
    cfg: &Config,
    table_bytes: u64,
    progress: &dyn Progress,
) -> Result<(Vec<Edge>, BandStats)> {
    progress.stage("banding and verifying", Some(cfg.banding.bands as u64));
    let (edges, stats) = band::filter_candidates(
        verifier.sigs,
        &cfg.banding,
        cfg.max_bucket,
        table_bytes,
        &|a, b| verifier.check(a, b),
        &|| {
            progress.advance(1);
            check_cancelled(progress)
        },
    )?;
    progress.done();
    Ok((edges, stats))
}

/// Pairs `(a, b)`, `a < b`, of active documents that hold one sentence line alike (a line of
/// [`boilerplate::SENTENCE_WORDS`] words or more, not flagged as boilerplate, with the same
/// [`crate::normalize::line_key`]), sorted and distinct. A line held by more than `max_bucket`
/// documents yields no pairs (it is furniture the statistics did not flag, or a formula).
///
/// This is the candidate channel for excerpts: a wire story printed inside a roundup or a long
/// article keeps its paragraphs word for word, but its Jaccard similarity with the whole is far
/// too low for banding to find it. One key per sentence line is far cheaper than banding more
/// windows of each text.
pub(crate) fn shared_sentence_pairs(
    facts: &LineFacts,
    mask: Option<&LineMask>,
    active: &[bool],
    max_bucket: usize,
) -> Vec<(u32, u32)> {
    let entries: Vec<(u64, u32)> = (0..facts.len())
        .into_par_iter()
        .filter(|&d| active[d])
        .flat_map_iter(|d| {
            let (keys, sentences) = facts.doc_sentences(d);
            let forms = facts.doc_forms(d);
            // A label (a line ending with a colon) introduces what follows it: it says little
            // of a copy, and it may be left unmasked only once every key is decided.
            keys.iter()
                .enumerate()
                .filter(move |&(i, _)| {
                    sentences[i]
                        && forms[i] & crate::normalize::FORM_LABEL == 0
                        && !mask.is_some_and(|m| m.is_flagged(d, i))
                })
                .map(move |(_, &k)| (k, d as u32))
        })
        .collect();
    sentence_pairs_of(entries, max_bucket)
}

/// The pairs of documents of `entries` (`(sentence line key, document)`, any order) that share
/// a key held by at most `max_bucket` documents, sorted and distinct: a process that holds every
/// entry of some keys finds their pairs as [`shared_sentence_pairs`] does.
pub(crate) fn sentence_pairs_of(
    mut entries: Vec<(u64, u32)>,
    max_bucket: usize,
) -> Vec<(u32, u32)> {
    entries.par_sort_unstable();
    entries.dedup();
    let mut pairs: Vec<(u32, u32)> = entries
        .par_chunk_by(|x, y| x.0 == y.0)
        .filter(|b| b.len() > 1 && b.len() <= max_bucket)
        .flat_map_iter(|b| {
            (0..b.len()).flat_map(move |i| (i + 1..b.len()).map(move |j| (b[i].1, b[j].1)))
        })
        .collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// `edges` (sorted by `(a, b)`) with the pairs of `pairs` that are not among them and that
/// `verifier` accepts, sorted by `(a, b)`.
pub(crate) fn add_edges(edges: Vec<Edge>, pairs: &[(u32, u32)], verifier: &Verifier) -> Vec<Edge> {
    let known = |a: u32, b: u32| edges.binary_search_by(|e| (e.a, e.b).cmp(&(a, b))).is_ok();
    let new: Vec<Edge> = pairs
        .par_iter()
        .filter(|&&(a, b)| !known(a, b))
        .filter_map(|&(a, b)| verifier.check(a, b))
        .collect();
    if new.is_empty() {
        return edges;
    }
    let mut all = edges;
    all.extend(new);
    all.par_sort_unstable_by_key(|e| (e.a, e.b));
    all
}

/// Connected components over verified edges and exact-duplicate links; each document's label is
/// the least document of its component.
#[doc(hidden)] // for the benches: not part of the library's interface
pub fn components(n: usize, leaders: &[u32], edges: &[Edge]) -> Vec<u32> {
    let mut uf = UnionFind::new(n);
    for (d, &l) in leaders.iter().enumerate() {
        uf.union(d as u32, l);
    }
    for e in edges {
        uf.union(e.a, e.b);
    }
    uf.labels()
}

/// Cluster labels (each document's label is a document index) from verified edges between exact
/// leaders (exact duplicates follow their leader), and for each document the member of its cluster through which it joined
/// ([`cluster::Clustering::via`]): an exact duplicate through its leader; with
/// [`Method::Pivot`], a leader through the member whose verified edge queued it; with
/// [`Method::Components`], a leader through its parent in a breadth-first tree of verified edges
/// from the representative (see [`cluster::spanning_via`]).
pub(crate) fn clusters_via(
    leaders: &[u32],
    edges: &[Edge],
    compatible: &(dyn Fn(u32, u32) -> bool + Sync),
    alike: &(dyn Fn(u32, u32) -> bool + Sync),
    method: Method,
    order: &[u32],
) -> cluster::Clustering {
    let n = leaders.len();
    let pairs: Vec<(u32, u32)> = edges.iter().map(|e| (e.a, e.b)).collect();
    let (labels, lead_via) = match method {
        Method::Components => {
            let labels = components(n, leaders, edges);
            let via = cluster::spanning_via(&labels, &pairs, &cluster::ranks(order));
            (labels, via)
        }
        Method::Pivot => {
            let leader_order: Vec<u32> = order
                .iter()
                .copied()
                .filter(|&d| leaders[d as usize] == d)
                .collect();
            let lead =
                cluster::pivot_clusters(n, &pairs, &leader_order, compatible, alike, MAX_GROWTH);
            let labels = leaders.iter().map(|&l| lead.labels[l as usize]).collect();
            (labels, lead.via)
        }
    };
    let via = leaders
        .iter()
        .enumerate()
        .map(|(d, &l)| if l as usize == d { lead_via[d] } else { l })
        .collect();
    cluster::Clustering { labels, via }
}

/// The part of the rule that accepted the verified edge between `d` and `x` (sorted by `(a, b)`
/// in `edges`), as [`VerifyRule::passed_by`] decides on the edge's score.
fn joined_through(verifier: &Verifier, edges: &[Edge], d: u32, x: u32) -> JoinedBy {
    let find = |a: u32, b: u32| edges.binary_search_by(|e| (e.a, e.b).cmp(&(a, b))).ok();
    let score = match find(d.min(x), d.max(x)).or_else(|| find(d.max(x), d.min(x))) {
        Some(i) => edges[i].score,
        // Every member but the representative joins through a verified edge; should that ever
        // fail, the pair is measured again as verification measured it.
        None => {
            debug_assert!(false, "{d} joined through {x} without an edge");
            verifier.score(d, x)
        }
    };
    let sizes = &verifier.sigs.sizes;
    let passed = verifier
        .rule
        .passed_by(&score, sizes[d as usize], sizes[x as usize]);
    debug_assert!(passed.is_some(), "the edge {d}-{x} passed verification");
    passed.map_or(JoinedBy::Jaccard, JoinedBy::from)
}

/// Candidates a pivot may weigh as it grows its cluster.
pub(crate) const MAX_GROWTH: usize = 10_000;

/// One member of a reported cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub doc: u32,
    /// Estimated Jaccard similarity with the representative (1 for the representative).
    pub similarity: f64,
    /// Estimated containment with the representative.
    pub containment: f64,
    /// Same normalized text as another member of the cluster.
    pub exact: bool,
    /// Why it is in the cluster.
    pub joined_by: JoinedBy,
    /// The member it joined through (`None` for the representative): for [`JoinedBy::Exact`],
    /// the member whose text it repeats; otherwise the member whose verified pair with it passed
    /// the rule `joined_by` names (the representative itself when their pair did).
    pub via: Option<u32>,
}

/// Why a member is in its cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JoinedBy {
    /// It is the document kept.
    Representative,
    /// Its normalized text is that of another member (the representative or the first of its
    /// exact group in preference order), which it follows.
    Exact,
    /// Its verified pair with the member it joined through reaches the Jaccard threshold.
    Jaccard,
    /// Its verified pair with the member it joined through is under the Jaccard threshold, and
    /// passed by containment.
    Containment,
}

impl From<verify::Passed> for JoinedBy {
    fn from(p: verify::Passed) -> Self {
        match p {
            verify::Passed::Jaccard => JoinedBy::Jaccard,
            verify::Passed::Containment => JoinedBy::Containment,
        }
    }
}

/// A cluster of copies: its representative first, then the others in input order.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub representative: u32,
    /// The connected component of verified pairs the cluster belongs to (several clusters of one
    /// family are related stories: follow-ups, templated items, a roundup and what it quotes).
    pub family: u32,
    pub members: Vec<Member>,
}

/// A verified pair of documents that are not in one cluster. A document is in one cluster only,
/// and clusters do not chain: a roundup that prints several stories joins the cluster of one of
/// them at most, and a long article that quotes a wire story may be in the cluster of its own
/// copies. The pair that says it holds another cluster's story (or a document of no cluster) is
/// kept here, so that no verified copy is lost from the report. Only pairs between the leaders of
/// exact groups are listed; the other members of a group share their leader's links.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The document with fewer shingles: the one printed inside the other (ties: the first).
    pub part: u32,
    /// The other document.
    pub whole: u32,
    /// Estimated Jaccard similarity of the pair.
    pub similarity: f64,
    /// Estimated containment of `part` in `whole`.
    pub containment: f64,
}

/// Counts of a run (the report's `stats`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub documents: u64,
    /// Documents whose text is empty or white space: kept, never clustered.
    pub empty_documents: u64,
    /// Input files whose records were read.
    pub files_read: u64,
    /// Files not read as input: left out of a folder (hidden, markers, globs, other files beside
    /// record files) or empty.
    pub files_skipped: FilesSkipped,
    pub skipped: Skipped,
    /// Documents identical, after normalization, to an earlier document.
    pub exact_duplicates: u64,
    /// Documents in clusters that are not exact duplicates nor kept.
    pub near_duplicates: u64,
    pub clusters: u64,
    pub documents_in_clusters: u64,
    /// Documents `dedup` keeps: singletons and representatives.
    pub kept: u64,
    /// Documents `dedup` drops.
    pub removed: u64,
    pub candidate_pairs: u64,
    /// Pairs of documents that print one sentence line alike or share a passage, checked beside
    /// the LSH candidates.
    pub passage_candidates: u64,
    pub verified_pairs: u64,
    /// Verified pairs left in different clusters (the report's `links`).
    pub links: u64,
    pub capped_buckets: u64,
    /// Documents with no text left to sketch once boilerplate lines are masked.
    pub empty_after_masking: u64,
    pub dates_unparsed: u64,
    pub boilerplate_templates: u64,
    pub boilerplate_lines: u64,
    pub documents_with_boilerplate: u64,
    /// Template word n-grams found within sources (their words are left out of signatures).
    pub source_template_ngrams: u64,
}

/// Everything a run found.
pub struct Scan {
    pub docs: Vec<DocMeta>,
    pub dates: Vec<Option<i64>>,
    pub clusters: Vec<Cluster>,
    /// Verified pairs that the clusters leave apart, in order of `(part, whole)`.
    pub links: Vec<Link>,
    pub boilerplate: Boilerplate,
    pub stats: Stats,
    /// Seconds per stage, in order (not deterministic: the report's `run` section).
    pub timings: Vec<(String, f64)>,
    /// What went to scratch files to stay within the memory budget (the report's `run` section).
    pub spilled: Vec<String>,
}

impl Scan {
    /// For each document: `Some((cluster index, representative))` if it is in a cluster.
    pub fn assignment(&self) -> Vec<Option<(u32, u32)>> {
        let mut a = vec![None; self.docs.len()];
        for (c, cl) in self.clusters.iter().enumerate() {
            for m in &cl.members {
                a[m.doc as usize] = Some((c as u32, cl.representative));
            }
        }
        a
    }
}

/// Each document's source as a small integer, in order of first appearance (`u32::MAX`: none).
pub(crate) fn source_ids(docs: &[DocMeta]) -> Vec<u32> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    docs.iter()
        .map(|d| match &d.source {
            None => u32::MAX,
            Some(s) => {
                let next = ids.len() as u32;
                *ids.entry(s.as_str()).or_insert(next)
            }
        })
        .collect()
}

/// Fills each template's [`Template::example`](boilerplate::Template::example) with its first
/// flagged line as it stands in the raw text, read again from the corpus (only as far as the
/// last document needed). The normalized texts cannot give it: normalization folds case,
/// letters and punctuation, so the sample is not found by a search of the input.
pub(crate) fn template_examples(
    corpus: &Corpus,
    cfg: &Config,
    docs: &[DocMeta],
    templates: &mut [boilerplate::Template],
) -> Result<()> {
    let mut wanted: Vec<(u32, u32, usize)> = templates
        .iter()
        .enumerate()
        .map(|(t, x)| (x.first.0, x.first.1, t))
        .collect();
    wanted.sort_unstable();
    let mut next = 0;
    for entry in corpus.records(&cfg.fields, OnError::Skip) {
        if next == wanted.len() {
            break;
        }
        let crate::read::Entry::Doc(rec) = entry? else {
            continue;
        };
        let d = wanted[next].0;
        if rec.at != docs[d as usize].at {
            continue;
        }
        let lines: Vec<&str> = rec.text.split('\n').collect();
        while next < wanted.len() && wanted[next].0 == d {
            let (_, line, t) = wanted[next];
            let text = lines.get(line as usize).ok_or_else(|| changed(&rec.at))?;
            templates[t].example = Some(boilerplate::Example {
                document: docs[d as usize].id.clone(),
                line,
                text: text.trim().to_string(),
            });
            next += 1;
        }
    }
    match wanted.get(next) {
        None => Ok(()),
        Some(&(d, _, _)) => Err(changed(&docs[d as usize].at)),
    }
}

/// The error of an input that no longer holds a document the run read.
fn changed(at: &crate::error::Location) -> Error {
    Error::Input {
        path: at.path.clone().into(),
        source: std::io::Error::other(format!(
            "the input changed during the run (the document at {at} is not as it was read)"
        )),
    }
}

/// Shares of the memory budget, in percent: normalized texts, source-template n-gram keys, band
/// tables. The rest is for what stays in memory (signatures, metadata, line statistics, pairs).
pub(crate) const TEXT_SHARE: u64 = 40;
pub(crate) const TEMPLATE_SHARE: u64 = 15;
pub(crate) const BAND_SHARE: u64 = 10;

pub(crate) mod steps;
use steps::{
    build_clusters, detect_boilerplate, exact_groups, final_signatures, final_verifier, finish,
    read_and_normalize, refine_boilerplate, story_labels, verified_edges, Context, RunLog,
    TrueSets,
};

/// Runs every stage over a corpus, in memory.
pub fn scan(corpus: &Corpus, cfg: &Config, progress: &dyn Progress) -> Result<Scan> {
    scan_within(corpus, cfg, Budget::UNLIMITED, progress)
}

/// Runs every stage over a corpus within a memory budget: the normalized texts, the band tables
/// and the source-template n-grams go to scratch files past their shares of it. The result is
/// the same as [`scan`]'s.
pub fn scan_within(
    corpus: &Corpus,
    cfg: &Config,
    budget: Budget,
    progress: &dyn Progress,
) -> Result<Scan> {
    cfg.validate()?;
    check_cancelled(progress)?;
    let cx = Context {
        cfg,
        budget,
        progress,
    };
    let mut log = RunLog::new(progress);
    let mut input = read_and_normalize(corpus, cx)?;
    if input.norm.spilled() {
        log.spilled.push("texts".to_string());
    }
    log.lap("read_normalize_first_sketch")?;
    let hashes = std::mem::take(&mut input.hashes);
    let groups = exact_groups(&input.read, hashes, &input.lens, &input.empty, cfg.keep);
    log.lap("exact")?;

    let mut boiler = match &cfg.boilerplate {
        None => Boilerplate::none(&input.norm, Status::Disabled),
        Some(opts) => {
            let stories = story_labels(std::mem::take(&mut input.first_sigs), &groups, cx)?;
            log.spills("first-pass band tables", stories.spilled_runs);
            log.lap("first_pass")?;
            let b = detect_boilerplate(&input, &stories.labels, opts, progress)?;
            log.lap("boilerplate")?;
            b
        }
    };
    let lines = (boiler.status == Status::Ok).then_some(&boiler.mask);
    let (templates, sigs) = final_signatures(&input, &groups.active, lines, cx, &mut log)?;

    let mask = Mask {
        lines,
        templates: templates.as_ref(),
    };
    let sets = TrueSets::new(&input.norm, mask, cfg.shingle);
    let exact = |d: u32, out: &mut Vec<u64>| sets.fill(d, out);
    let verifier = final_verifier(cfg, &sigs, &input.read, &exact);
    let edges = verified_edges(&verifier, &input.line_facts, mask, &groups.active, cx)?;
    log.spills("band tables", edges.band.spilled_runs);
    log.lap("band_verify")?;
    let clusters = build_clusters(&verifier, &groups, &edges.edges, cfg.cluster);
    log.lap("cluster")?;
    let read_back = sets.into_result();
    if let Some(opts) = &cfg.boilerplate {
        boiler = refine_boilerplate(&boiler, &input, &clusters.labels, opts)?;
        log.lap("boilerplate_refine")?;
    }

    read_back?;
    if !boiler.templates.is_empty() {
        template_examples(corpus, cfg, &input.read.docs, &mut boiler.templates)?;
        log.lap("template_examples")?;
    }
    let scan = finish(
        input,
        &groups,
        clusters.clusters,
        &edges,
        &sigs.sizes,
        boiler,
        templates.as_ref(),
    );
    Ok(Scan {
        timings: log.timings,
        spilled: log.spilled,
        ..scan
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize_doc;
    use crate::spill::{TextStore, MAX_CHUNK_BYTES};

    /// The final signatures taken during the template pass (lines masked, no template words
    /// left out) and then taken again for the documents holding a template are those of
    /// sketching every document with both masks; in memory and read back from disk.
    #[test]
    fn signatures_of_the_template_pass_and_resketch_equal_a_full_sketch() {
        let template = "the king sent a cable of congratulation on the national day wishing \
            health and happiness to the government and the people and lasting progress";
        let mut texts = Vec::new();
        let mut source = Vec::new();
        for (i, country) in ["colombia", "maldives", "niger", "chad"].iter().enumerate() {
            texts.push(format!(
                "to the president of {country} {template}\nline {i} of its own"
            ));
            source.push(0);
        }
        for s in 1..4 {
            texts.push(format!(
                "a syndicated story about the harbour\nprinted by paper {s}"
            ));
            source.push(s);
        }
        texts.push(format!("a paper without a source prints {template}"));
        source.push(u32::MAX);
        let norm: Vec<NormDoc> = texts
            .iter()
            .map(|t| normalize_doc(t, &NormalizeOptions::default()))
            .collect();
        let active = vec![true; norm.len()];
        let mut mask = LineMask::new(norm.iter().map(NormDoc::lines));
        mask.set(4, 1);
        let cfg = Config::default();
        let mut spilled = TextStore::new(0, 64);
        spilled.push(norm.clone()).unwrap();
        spilled.seal().unwrap();
        assert!(spilled.spilled());
        let mut memory = TextStore::new(u64::MAX, MAX_CHUNK_BYTES);
        memory.push(norm.clone()).unwrap();
        memory.seal().unwrap();
        for store in [&memory, &spilled] {
            let mut sigs = Signatures::new(cfg.num_perm, norm.len());
            let lines = Mask {
                lines: Some(&mask),
                templates: None,
            };
            let t = SourceTemplates::find_with(
                store,
                &active,
                Some(&mask),
                &source,
                3,
                u64::MAX,
                &mut |first, docs| {
                    sketch_into(
                        docs,
                        first,
                        &active,
                        lines,
                        Shingles::All,
                        &cfg,
                        &mut sigs,
                        &Quiet,
                    )
                },
            )
            .unwrap();
            // The template is the first source's; the paper without a source that prints it
            // loses its words too.
            assert_eq!(t.documents(), &[0, 1, 2, 3, 7]);
            let both = Mask {
                lines: Some(&mask),
                templates: Some(&t),
            };
            let before = sigs.clone();
            resketch(store, t.documents(), both, &cfg, &mut sigs, &Quiet).unwrap();
            assert_ne!(before.values[..cfg.num_perm], sigs.values[..cfg.num_perm]);
            let full = sketch_all(store, &active, both, Shingles::All, &cfg, &Quiet).unwrap();
            assert_eq!(sigs, full);
        }
    }

    proptest::proptest! {
        /// Each document's leader is the member of least rank among the documents with its hash.
        #[test]
        fn exact_leader_is_the_least_ranked_document_with_the_same_hash(
            hashes in proptest::collection::vec(0u128..6, 0..200),
            seed in 0u64..1000,
        ) {
            let n = hashes.len();
            // A permutation of 0..n as ranks.
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_by_key(|&d| xxhash_rust::xxh3::xxh3_64_with_seed(&d.to_le_bytes(), seed));
            let rank = cluster::ranks(&order);
            let leaders = exact_leaders_by_hash(&hashes, &rank);
            for d in 0..n {
                let best = (0..n)
                    .filter(|&e| hashes[e] == hashes[d])
                    .min_by_key(|&e| rank[e])
                    .unwrap();
                proptest::prop_assert_eq!(leaders[d] as usize, best);
            }
        }
    }
}
