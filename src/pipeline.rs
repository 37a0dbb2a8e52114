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
//! drive them one by one.

use std::collections::HashMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::band::{self, BandStats, Banding};
use crate::boilerplate::{
    self, Boilerplate, BoilerplateOptions, DocFacts, LineFacts, LineMask, SourceTemplates, Status,
};
use crate::cluster::{self, Keep, Method, UnionFind};
use crate::error::{Error, Result};
pub use crate::ingest::{ingest, ingest_all, ingest_with, DocMeta, Ingested, Skipped};
use crate::normalize::{NormDoc, NormalizeOptions};
use crate::read::{Corpus, Fields, FilesSkipped, OnError};
use crate::shingle::Shingler;
use crate::sketch::{Signatures, Sketcher};
use crate::spill::{Budget, Docs, TextStore};
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
            max_days: None,
            verify: verify::Mode::Estimate,
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
pub fn check_cancelled(progress: &dyn Progress) -> Result<()> {
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
pub fn exact_leaders(norm: &[NormDoc], rank: &[u32]) -> Vec<u32> {
    let hashes: Vec<u128> = norm.iter().map(|d| d.exact_hash).collect();
    exact_leaders_by_hash(&hashes, rank)
}

/// The hash given to empty documents before [`exact_leaders_by_hash`] (their leaders are then
/// reset to themselves).
const EMPTY_HASH: u128 = 0;

/// [`exact_leaders`] from each document's [`NormDoc::exact_hash`].
pub fn exact_leaders_by_hash(hashes: &[u128], rank: &[u32]) -> Vec<u32> {
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
pub struct Mask<'a> {
    /// Flagged boilerplate lines.
    pub lines: Option<&'a LineMask>,
    /// Template n-grams of each source.
    pub templates: Option<&'a SourceTemplates>,
}

/// The text a signature is computed from: the document's non-empty, unmasked lines joined by a
/// space, without the words of template n-grams.
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
pub const FIRST_PASS_LENIENCY: f64 = 0.8;

/// Which windows of the text are shingles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shingles {
    /// Every k-character window.
    All,
    /// Only windows that start a word: about one per word. The first pass (story labels for the
    /// boilerplate statistics) uses these: on gen_news 20k it gives the same flags and clusters
    /// as all windows, with a fraction of the hashing. The final pass uses all windows.
    Anchored,
}

/// Signatures of the documents where `active[d]`, with what `mask` says left out.
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
pub fn sketch_into(
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
pub fn sketch_doc(
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
pub fn resketch<D: Docs + ?Sized>(
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
pub fn near_pairs(
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
pub fn shared_sentence_pairs(
    facts: &LineFacts,
    mask: Option<&LineMask>,
    active: &[bool],
    max_bucket: usize,
) -> Vec<(u32, u32)> {
    let mut entries: Vec<(u64, u32)> = (0..facts.len())
        .into_par_iter()
        .filter(|&d| active[d])
        .flat_map_iter(|d| {
            let (keys, sentences) = facts.doc_sentences(d);
            keys.iter()
                .enumerate()
                .filter(move |&(i, _)| sentences[i] && !mask.is_some_and(|m| m.is_flagged(d, i)))
                .map(move |(_, &k)| (k, d as u32))
        })
        .collect();
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
pub fn add_edges(edges: Vec<Edge>, pairs: &[(u32, u32)], verifier: &Verifier) -> Vec<Edge> {
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
/// leaders; exact duplicates follow their leader. With [`Method::Pivot`], documents are taken as
/// pivots in `order` (see [`cluster::preference_order`]) and clusters grow along verified edges
/// to documents `compatible` with every member, the neighbours most `alike` (a cheaper estimate
/// of compatibility) first (see [`cluster::pivot_labels`]).
pub fn cluster_labels(
    leaders: &[u32],
    edges: &[Edge],
    compatible: &(dyn Fn(u32, u32) -> bool + Sync),
    alike: &(dyn Fn(u32, u32) -> bool + Sync),
    method: Method,
    order: &[u32],
) -> Vec<u32> {
    clusters_via(leaders, edges, compatible, alike, method, order).labels
}

/// [`cluster_labels`], and for each document the member of its cluster through which it joined
/// ([`cluster::Clustering::via`]): an exact duplicate through its leader; with
/// [`Method::Pivot`], a leader through the member whose verified edge queued it; with
/// [`Method::Components`], a leader through its parent in a breadth-first tree of verified edges
/// from the representative (see [`cluster::spanning_via`]).
pub fn clusters_via(
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
pub const MAX_GROWTH: usize = 10_000;

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
    /// Pairs of documents that print one sentence line alike (see [`shared_sentence_pairs`]) or
    /// share a passage (see [`boilerplate::PASSAGE_SAMPLE`]), checked beside the LSH candidates.
    pub passage_candidates: u64,
    pub verified_pairs: u64,
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
pub fn source_ids(docs: &[DocMeta]) -> Vec<u32> {
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
pub fn template_examples(
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
pub const TEXT_SHARE: u64 = 40;
pub const TEMPLATE_SHARE: u64 = 15;
pub const BAND_SHARE: u64 = 10;

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
    let mut timings = Vec::new();
    let mut t = Instant::now();
    // Each stage's end is also where the run stops when cancelled.
    let mut lap = |name: &str, t: &mut Instant| {
        timings.push((name.to_string(), t.elapsed().as_secs_f64()));
        *t = Instant::now();
        check_cancelled(progress)
    };
    // Chunks read back are a sixteenth of the texts' share: two are in flight at a time.
    let mut norm = TextStore::new(budget.share(TEXT_SHARE), budget.share(TEXT_SHARE) / 16);
    let mut hashes: Vec<u128> = Vec::new();
    let mut lens: Vec<u64> = Vec::new();
    // The first pass's signatures (unmasked, anchored shingles) and the lines' letter bits are
    // computed on the pool right after each document is normalized, while its text is in cache:
    // hashing overlaps reading, and a spilled store is not read back for them. Exact duplicates
    // get their leader's signature (same text, same sketch) and are left out of banding below.
    let mut first_sigs = Signatures::new(cfg.num_perm, 0);
    let mut line_facts = LineFacts::default();
    let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
    let per_doc = |doc: &NormDoc| {
        // Without boilerplate detection there is no first pass and no line statistics.
        if cfg.boilerplate.is_none() {
            return (Vec::new(), 0, Vec::new(), Vec::new());
        }
        let mut row = vec![crate::sketch::EMPTY; cfg.num_perm];
        let size = sketch_doc(
            &sketcher,
            doc,
            0,
            Mask::default(),
            Shingles::Anchored,
            cfg.shingle,
            &mut row,
        );
        (
            row,
            size,
            LineFacts::letters(doc),
            LineFacts::sentences(doc),
        )
    };
    let ing = ingest_with(corpus, cfg, progress, &per_doc, &mut |batch, extras| {
        hashes.extend(batch.iter().map(|d| d.exact_hash));
        lens.extend(batch.iter().map(|d| d.chars as u64));
        if cfg.boilerplate.is_some() {
            for (doc, (row, size, letters, sentences)) in batch.iter().zip(extras) {
                first_sigs.values.extend_from_slice(&row);
                first_sigs.sizes.push(size);
                line_facts.push(doc, &letters, &sentences);
            }
        }
        check_cancelled(progress)?;
        norm.push(batch)
    })?;
    norm.seal()?;
    lap("read_normalize_first_sketch", &mut t)?;
    let n = ing.docs.len();
    let empty: Vec<bool> = ing.docs.iter().map(|d| d.empty).collect();
    // Empty documents are never clustered: none is the exact duplicate of another (nor of a
    // text that normalizes to nothing), and none has a signature (see `active` below).
    for (h, _) in hashes.iter_mut().zip(&empty).filter(|(_, &e)| e) {
        *h = EMPTY_HASH;
    }
    let mut spilled = Vec::new();
    if norm.spilled() {
        spilled.push("texts".to_string());
    }
    // Pivots are taken in the keep policy's order, so each cluster's pivot is its representative
    // and every member shares enough text with the document that is kept.
    let id_rank = {
        let mut by_id: Vec<u32> = (0..n as u32).collect();
        by_id.sort_by(|&a, &b| ing.docs[a as usize].id.cmp(&ing.docs[b as usize].id));
        cluster::ranks(&by_id)
    };
    let order = cluster::preference_order(
        n,
        cfg.keep,
        |d| lens[d as usize],
        |d| ing.dates[d as usize],
        |d| id_rank[d as usize],
    );
    let rank = cluster::ranks(&order);
    let mut leaders = exact_leaders_by_hash(&hashes, &rank);
    drop(hashes);
    for (d, l) in leaders.iter_mut().enumerate() {
        if empty[d] {
            *l = d as u32;
        }
    }
    // Documents that are banded and compared: one per exact text, empty ones left out.
    let active: Vec<bool> = leaders
        .iter()
        .enumerate()
        .map(|(d, &l)| l as usize == d && !empty[d])
        .collect();
    lap("exact", &mut t)?;

    let rule = cfg.verify_rule();
    let source = source_ids(&ing.docs);
    let mut boiler = match &cfg.boilerplate {
        None => Boilerplate::none(&norm, Status::Disabled),
        Some(opts) => {
            let mut sigs = std::mem::take(&mut first_sigs);
            for (d, &a) in active.iter().enumerate() {
                if !a {
                    sigs.sizes[d] = 0;
                    sigs.values[d * cfg.num_perm..(d + 1) * cfg.num_perm]
                        .fill(crate::sketch::EMPTY);
                }
            }
            // Story labels only decide which recurring lines are furniture: a lenient rule errs
            // towards merging (fewer lines flagged), and the final clusters refine the flags.
            let lenient = VerifyRule {
                threshold: rule.threshold * FIRST_PASS_LENIENCY,
                containment: rule.containment.map(|c| c * FIRST_PASS_LENIENCY),
                ..rule
            };
            let first = Verifier {
                rule: lenient,
                sigs: &sigs,
                window: None,
                exact: None,
                mode: verify::Mode::Estimate,
                cache: None,
            };
            // Story labels need the copies of a story, not its most truncated excerpts: banding at
            // the threshold itself (25 x 5 for 0.5) yields far fewer chance candidates than the
            // final pass's wider curve (at 200k documents: first pass 1.8 s instead of 3.5 s).
            let first_cfg = Config {
                banding: Banding::for_threshold(cfg.threshold, cfg.num_perm),
                ..cfg.clone()
            };
            let (edges, first_stats) =
                near_pairs(&first, &first_cfg, budget.share(BAND_SHARE), progress)?;
            if first_stats.spilled_runs > 0 {
                spilled.push(format!(
                    "first-pass band tables ({})",
                    crate::report::count(first_stats.spilled_runs, "spill", "spills")
                ));
            }
            drop(sigs);
            let story = components(n, &leaders, &edges);
            lap("first_pass", &mut t)?;
            progress.stage("boilerplate", None);
            let b = boilerplate::detect_with(
                &line_facts,
                &norm,
                &DocFacts {
                    source: &source,
                    story: &story,
                    date: &ing.dates,
                },
                opts,
            )?;
            progress.done();
            lap("boilerplate", &mut t)?;
            b
        }
    };
    let line_mask = (boiler.status == Status::Ok).then_some(&boiler.mask);
    let template_docs = cfg
        .boilerplate
        .as_ref()
        .map_or(0, |o| o.source_template_docs);
    // The final signatures are taken in the template pass, from the text without its flagged
    // lines (a spilled corpus is read back once for both); only the documents that turn out to
    // hold a template n-gram are sketched again without its words.
    let lines_only = Mask {
        lines: line_mask,
        templates: None,
    };
    let (templates, sigs) = if template_docs > 0 {
        let n = norm.doc_count();
        progress.stage("source templates and sketching", Some(n as u64));
        let mut sigs = Signatures::new(cfg.num_perm, n);
        let found = SourceTemplates::find_with(
            &norm,
            &active,
            line_mask,
            &source,
            template_docs,
            budget.share(TEMPLATE_SHARE),
            &mut |first, docs| {
                sketch_into(
                    docs,
                    first,
                    &active,
                    lines_only,
                    Shingles::All,
                    cfg,
                    &mut sigs,
                    progress,
                )
            },
        )?;
        progress.done();
        if found.spilled_runs > 0 {
            spilled.push(format!(
                "template n-grams ({})",
                crate::report::count(found.spilled_runs, "spill", "spills")
            ));
        }
        lap("source_templates_sketch", &mut t)?;
        resketch(
            &norm,
            found.documents(),
            Mask {
                lines: line_mask,
                templates: Some(&found),
            },
            cfg,
            &mut sigs,
            progress,
        )?;
        lap("template_resketch", &mut t)?;
        (Some(found), sigs)
    } else {
        let sigs = sketch_all(&norm, &active, lines_only, Shingles::All, cfg, progress)?;
        lap("sketch", &mut t)?;
        (None, sigs)
    };
    let mask = Mask {
        lines: line_mask,
        templates: templates.as_ref(),
    };
    let window = cfg.max_days.map(|days| verify::DateWindow {
        dates: &ing.dates,
        unparsed: &ing.date_unparsed,
        days,
    });
    let read_error: std::sync::Mutex<Option<Error>> = std::sync::Mutex::new(None);
    let exact_sets = |d: u32, out: &mut Vec<u64>| {
        SCRATCH.with(|b| {
            let (shingler, text) = &mut *b.borrow_mut();
            let got = norm.with_doc(d as usize, |doc| sketch_text(doc, d as usize, mask, text));
            if let Err(e) = got {
                text.clear();
                read_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
            }
            shingler.shingle_set(text, cfg.shingle, out);
        })
    };
    let verifier = Verifier {
        rule,
        sigs: &sigs,
        window,
        exact: Some(&exact_sets as verify::SetSource),
        mode: cfg.verify,
        cache: None,
    };
    let (edges, band_stats) = near_pairs(&verifier, cfg, budget.share(BAND_SHARE), progress)?;
    if band_stats.spilled_runs > 0 {
        spilled.push(format!(
            "band tables ({})",
            crate::report::count(band_stats.spilled_runs, "spill", "spills")
        ));
    }
    let (edges, passage_candidates) = if line_facts.is_empty() {
        (edges, 0)
    } else {
        let mut pairs = shared_sentence_pairs(&line_facts, line_mask, &active, cfg.max_bucket);
        if let Some(t) = &templates {
            pairs.extend_from_slice(&t.shared_passages);
            pairs.par_sort_unstable();
            pairs.dedup();
        }
        let count = pairs.len() as u64;
        (add_edges(edges, &pairs, &verifier), count)
    };
    lap("band_verify", &mut t)?;
    // Clustering measures each candidate against every member in turn, on one thread: the true
    // sets of the last documents measured are kept.
    let set_cache = std::sync::Mutex::new(verify::SetCache::default());
    let cluster_verifier = Verifier {
        cache: Some(&set_cache),
        ..verifier
    };
    let cluster::Clustering { labels, via } = clusters_via(
        &leaders,
        &edges,
        &|a, b| {
            a == b || cluster_verifier.overlap(a, b, cluster::COMPATIBLE) >= cluster::COMPATIBLE
        },
        // Only orders a pivot's neighbours (quadratic in their number): the estimate whatever
        // the mode, so that --verify exact does not read each pair's texts for it.
        &|a, b| {
            a == b
                || verify::score(verifier.sigs, a as usize, b as usize).containment
                    >= cluster::COMPATIBLE
        },
        cfg.cluster,
        &order,
    );
    let family = components(n, &leaders, &edges);
    let clusters: Vec<Cluster> = cluster::groups(&labels)
        .into_par_iter()
        .map(|g| {
            let rep = *g
                .iter()
                .min_by_key(|&&d| rank[d as usize])
                .expect("non-empty cluster");
            let rl = leaders[rep as usize];
            let mut group_sizes: HashMap<u32, u32> = HashMap::new();
            for &d in &g {
                *group_sizes.entry(leaders[d as usize]).or_default() += 1;
            }
            let mut members: Vec<Member> = g
                .iter()
                .map(|&d| {
                    let l = leaders[d as usize];
                    let same = l == rl;
                    let s = verifier.score(l, rl);
                    let (joined_by, via) = if d == rep {
                        (JoinedBy::Representative, None)
                    } else if l != d {
                        (JoinedBy::Exact, Some(l))
                    } else {
                        let x = via[d as usize];
                        (joined_through(&verifier, &edges, d, x), Some(x))
                    };
                    Member {
                        doc: d,
                        similarity: if same { 1.0 } else { s.jaccard },
                        containment: if same { 1.0 } else { s.containment },
                        exact: group_sizes[&l] > 1,
                        joined_by,
                        via,
                    }
                })
                .collect();
            members.sort_by_key(|m| (m.doc != rep, m.doc));
            Cluster {
                representative: rep,
                family: family[g[0] as usize],
                members,
            }
        })
        .collect();
    lap("cluster", &mut t)?;
    if let Some(opts) = &cfg.boilerplate {
        boiler = boilerplate::refine_with(
            &boiler,
            &line_facts,
            &norm,
            &DocFacts {
                source: &source,
                story: &labels,
                date: &ing.dates,
            },
            opts,
        )?;
        lap("boilerplate_refine", &mut t)?;
    }

    if let Some(e) = read_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    if !boiler.templates.is_empty() {
        template_examples(corpus, cfg, &ing.docs, &mut boiler.templates)?;
        lap("template_examples", &mut t)?;
    }
    let in_clusters: u64 = clusters.iter().map(|c| c.members.len() as u64).sum();
    let exact_dups = leaders
        .iter()
        .enumerate()
        .filter(|(d, &l)| l as usize != *d)
        .count() as u64;
    let removed = in_clusters - clusters.len() as u64;
    let stats = Stats {
        documents: n as u64,
        empty_documents: empty.iter().filter(|&&e| e).count() as u64,
        files_read: ing.files_read,
        files_skipped: ing.files_skipped,
        skipped: ing.skipped,
        exact_duplicates: exact_dups,
        near_duplicates: removed.saturating_sub(exact_dups),
        clusters: clusters.len() as u64,
        documents_in_clusters: in_clusters,
        kept: n as u64 - removed,
        removed,
        candidate_pairs: band_stats.candidate_pairs,
        passage_candidates,
        verified_pairs: edges.len() as u64,
        capped_buckets: band_stats.capped_buckets,
        empty_after_masking: (0..n).filter(|&d| active[d] && !sigs.active(d)).count() as u64,
        dates_unparsed: ing.dates_unparsed,
        boilerplate_templates: boiler.templates.len() as u64,
        boilerplate_lines: boiler.mask.count() as u64,
        documents_with_boilerplate: (0..n).filter(|&d| boiler.mask.any(d)).count() as u64,
        source_template_ngrams: templates.as_ref().map_or(0, |t| t.len() as u64),
    };
    Ok(Scan {
        docs: ing.docs,
        dates: ing.dates,
        clusters,
        boilerplate: boiler,
        stats,
        timings,
        spilled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize_doc;
    use crate::spill::MAX_CHUNK_BYTES;

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
