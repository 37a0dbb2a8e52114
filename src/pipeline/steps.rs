//! The steps of a scan, each over plain data: [`scan_within`](super::scan_within) calls them in
//! order, with a timing lap and a cancellation check between any two.
//!
//! Each step takes what earlier steps gave (owned when it is the last to need it, so that it
//! frees it as soon as it can) and gives a plain struct. The batch scan runs them all over one
//! corpus; an incremental index or a distributed driver calls the same steps over its share of
//! the work (the notes on each say what for) and joins their outputs in between.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use rayon::prelude::*;

use super::{
    add_edges, check_cancelled, clusters_via, components, exact_leaders_by_hash, ingest_with,
    joined_through, near_pairs, resketch, shared_sentence_pairs, sketch_all, sketch_doc,
    sketch_into, sketch_text, source_ids, Cluster, Config, Ingested, JoinedBy, Link, Mask, Member,
    Progress, Scan, Shingles, Stats, BAND_SHARE, EMPTY_HASH, FIRST_PASS_LENIENCY, SCRATCH,
    TEMPLATE_SHARE, TEXT_SHARE,
};
use crate::band::{BandStats, Banding};
use crate::boilerplate::{
    self, Boilerplate, BoilerplateOptions, DocFacts, LineFacts, LineMask, SourceTemplates,
};
use crate::cluster::{self, Keep, Method};
use crate::error::{Error, Result};
use crate::normalize::NormDoc;
use crate::read::Corpus;
use crate::sketch::{self, Signatures, Sketcher};
use crate::spill::{Budget, Docs, TextStore};
use crate::verify::{self, Edge, Verifier, VerifyRule};

/// The report's `run` section as a scan goes: seconds per stage and what went to scratch files.
pub(crate) struct RunLog<'a> {
    progress: &'a dyn Progress,
    start: Instant,
    /// Seconds per stage, in order.
    pub timings: Vec<(String, f64)>,
    /// What went to scratch files, in order.
    pub spilled: Vec<String>,
}

impl<'a> RunLog<'a> {
    pub fn new(progress: &'a dyn Progress) -> Self {
        RunLog {
            progress,
            start: Instant::now(),
            timings: Vec::new(),
            spilled: Vec::new(),
        }
    }

    /// Ends stage `name`: records its time, and stops the run (`Err(Error::Interrupted)`) when
    /// it is cancelled. Each stage's end is where a cancelled run stops.
    pub fn lap(&mut self, name: &str) -> Result<()> {
        self.timings
            .push((name.to_string(), self.start.elapsed().as_secs_f64()));
        self.start = Instant::now();
        check_cancelled(self.progress)
    }

    /// Notes that `what` went to scratch files `runs` times (nothing when it did not).
    pub fn spills(&mut self, what: &str, runs: u64) {
        if runs > 0 {
            let times = crate::report::count(runs, "spill", "spills");
            self.spilled.push(format!("{what} ({times})"));
        }
    }
}

/// What every step may need of the run it is part of: the parameters, the memory budget (steps
/// that hold large tables take their share of it) and progress reporting.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    pub cfg: &'a Config,
    pub budget: Budget,
    pub progress: &'a dyn Progress,
}

/// What reading gives: each document's metadata and normalized text, and what later steps need
/// of each document, taken while its text was in cache.
pub(crate) struct Ingest {
    /// The documents, their dates and the counts of reading.
    pub read: Ingested,
    /// The normalized texts (in scratch files past the budget's share).
    pub norm: TextStore,
    /// Each document's [`NormDoc::exact_hash`].
    pub hashes: Vec<u128>,
    /// Each document's length in characters.
    pub lens: Vec<u64>,
    /// Whether each document's text is empty or white space.
    pub empty: Vec<bool>,
    /// Each document's source as a small integer (see [`source_ids`]).
    pub source: Vec<u32>,
    /// The first pass's signatures (unmasked, anchored shingles); none without boilerplate
    /// detection.
    pub first_sigs: Signatures,
    /// Each line's letters and sentence keys; none without boilerplate detection.
    pub line_facts: LineFacts,
}

impl Ingest {
    /// What boilerplate detection knows of each document, with `story` as its story labels.
    pub fn doc_facts<'a>(&'a self, story: &'a [u32]) -> DocFacts<'a> {
        DocFacts {
            source: &self.source,
            story,
            date: &self.read.dates,
        }
    }
}

/// What the first pass needs of one document, taken right after it is normalized: its anchored
/// signature and shingle-set size, and which of its lines have letters and which are sentences
/// (all empty without boilerplate detection, which is the first pass's only use).
pub(crate) type FirstPassFacts = (Vec<u32>, u32, Vec<bool>, Vec<bool>);

/// [`FirstPassFacts`] of `doc`.
pub(crate) fn first_pass_facts(cfg: &Config, sketcher: &Sketcher, doc: &NormDoc) -> FirstPassFacts {
    if cfg.boilerplate.is_none() {
        return (Vec::new(), 0, Vec::new(), Vec::new());
    }
    let mut row = vec![sketch::EMPTY; cfg.num_perm];
    let size = sketch_doc(
        sketcher,
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
}

/// Appends what the read keeps of each document of `batch` besides its text: its exact-text
/// hash, its length, and its [`FirstPassFacts`] (none without boilerplate detection).
pub(crate) fn keep_first_pass_facts(
    (hashes, lens, first_sigs, line_facts): (
        &mut Vec<u128>,
        &mut Vec<u64>,
        &mut Signatures,
        &mut LineFacts,
    ),
    batch: &[NormDoc],
    extras: Vec<FirstPassFacts>,
) {
    hashes.extend(batch.iter().map(|d| d.exact_hash));
    lens.extend(batch.iter().map(|d| d.chars as u64));
    for (doc, (row, size, letters, sentences)) in batch.iter().zip(extras) {
        if row.is_empty() {
            continue; // no boilerplate detection: no first pass
        }
        first_sigs.values.extend_from_slice(&row);
        first_sigs.sizes.push(size);
        line_facts.push(doc, &letters, &sentences);
    }
}

/// Reads and normalizes the corpus, keeping the normalized texts within the budget's share;
/// with boilerplate detection, takes each document's first-pass signature and line facts on the
/// pool right after it is normalized (hashing overlaps reading, and a spilled store is not read
/// back for them).
///
/// A step because it is the only one that reads the input: a distributed driver runs it per
/// shard, an index per batch of new documents; everything after works from its output.
pub(crate) fn read_and_normalize(corpus: &Corpus, cx: Context) -> Result<Ingest> {
    let Context {
        cfg,
        budget,
        progress,
    } = cx;
    // Chunks read back are a sixteenth of the texts' share: two are in flight at a time.
    let mut norm = TextStore::new(budget.share(TEXT_SHARE), budget.share(TEXT_SHARE) / 16);
    let mut hashes: Vec<u128> = Vec::new();
    let mut lens: Vec<u64> = Vec::new();
    // Exact duplicates get their leader's signature (same text, same sketch) and are left out
    // of banding later.
    let mut first_sigs = Signatures::new(cfg.num_perm, 0);
    let mut line_facts = LineFacts::default();
    let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
    let per_doc = |doc: &NormDoc| first_pass_facts(cfg, &sketcher, doc);
    let read = ingest_with(corpus, cfg, progress, &per_doc, &mut |batch, extras| {
        let kept = (&mut hashes, &mut lens, &mut first_sigs, &mut line_facts);
        keep_first_pass_facts(kept, &batch, extras);
        check_cancelled(progress)?;
        norm.push(batch)
    })?;
    norm.seal()?;
    let empty = read.docs.iter().map(|d| d.empty).collect();
    let source = source_ids(&read.docs);
    Ok(Ingest {
        read,
        norm,
        hashes,
        lens,
        empty,
        source,
        first_sigs,
        line_facts,
    })
}

/// Exact-duplicate groups and the order of preference among documents.
pub(crate) struct Groups {
    /// Documents in the keep policy's order of preference.
    pub order: Vec<u32>,
    /// Each document's place in `order`.
    pub rank: Vec<u32>,
    /// Each document's exact leader: the most preferred document with its normalized text
    /// (itself when it is empty).
    pub leaders: Vec<u32>,
    /// The documents that are banded and compared: one per exact text, empty ones left out.
    pub active: Vec<bool>,
}

/// Orders the documents by the keep policy and groups exact duplicates (same hash of the
/// normalized text) under their most preferred member. Empty documents are never clustered:
/// none is the exact duplicate of another (nor of a text that normalizes to nothing), and none
/// is active.
///
/// A step because exact grouping needs only hashes, lengths, dates and ids: an index keeps them
/// to place a new document's exact copies without its text, and a distributed driver gathers
/// them from every shard to decide the leaders before any signature is compared.
pub(crate) fn exact_groups(
    read: &Ingested,
    mut hashes: Vec<u128>,
    lens: &[u64],
    empty: &[bool],
    keep: Keep,
) -> Groups {
    let n = read.docs.len();
    for (h, _) in hashes.iter_mut().zip(empty).filter(|(_, &e)| e) {
        *h = EMPTY_HASH;
    }
    // Pivots are taken in the keep policy's order, so each cluster's pivot is its representative
    // and every member shares enough text with the document that is kept.
    let id_rank = {
        let mut by_id: Vec<u32> = (0..n as u32).collect();
        by_id.sort_by(|&a, &b| read.docs[a as usize].id.cmp(&read.docs[b as usize].id));
        cluster::ranks(&by_id)
    };
    let order = cluster::preference_order(
        n,
        keep,
        |d| lens[d as usize],
        |d| read.dates[d as usize],
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
    let active = leaders
        .iter()
        .enumerate()
        .map(|(d, &l)| l as usize == d && !empty[d])
        .collect();
    Groups {
        order,
        rank,
        leaders,
        active,
    }
}

/// The first pass's story labels: documents of one lenient first-pass cluster share one.
pub(crate) struct Stories {
    /// Each document's label (the least document of its connected component).
    pub labels: Vec<u32>,
    /// Times the first pass's band tables went to scratch files.
    pub spilled_runs: u64,
}

/// Bands and verifies the first-pass signatures (consumed: they are not needed after) under a
/// lenient rule, and labels each document with its connected component of verified pairs.
///
/// A step because the boilerplate statistics need story labels, not final clusters: an index
/// labels new documents against the stories it holds, and a distributed driver bands the
/// shards' first-pass signatures together.
pub(crate) fn story_labels(mut sigs: Signatures, groups: &Groups, cx: Context) -> Result<Stories> {
    let Context {
        cfg,
        budget,
        progress,
    } = cx;
    for (d, &a) in groups.active.iter().enumerate() {
        if !a {
            sigs.sizes[d] = 0;
            sigs.values[d * cfg.num_perm..(d + 1) * cfg.num_perm].fill(sketch::EMPTY);
        }
    }
    // Story labels only decide which recurring lines are furniture: a lenient rule errs towards
    // merging (fewer lines flagged), and the final clusters refine the flags.
    let rule = cfg.verify_rule();
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
        dates: None,
        cache: None,
    };
    // Story labels need the copies of a story, not its most truncated excerpts: banding at the
    // threshold itself (25 x 5 for 0.5) yields far fewer chance candidates than the final pass's
    // wider curve (at 200k documents: first pass 1.8 s instead of 3.5 s).
    let first_cfg = Config {
        banding: Banding::for_threshold(cfg.threshold, cfg.num_perm),
        ..cfg.clone()
    };
    let (edges, stats) = near_pairs(&first, &first_cfg, budget.share(BAND_SHARE), progress)?;
    drop(sigs);
    Ok(Stories {
        labels: components(groups.leaders.len(), &groups.leaders, &edges),
        spilled_runs: stats.spilled_runs,
    })
}

/// Flags boilerplate lines from line statistics over sources, stories and dates.
///
/// A step because the flags (and the templates they form) are per source and change slowly:
/// an index detects them over a large sample and reuses the mask for new documents, a
/// distributed driver gathers each shard's line statistics first.
pub(crate) fn detect_boilerplate(
    input: &Ingest,
    story: &[u32],
    opts: &BoilerplateOptions,
    progress: &dyn Progress,
) -> Result<Boilerplate> {
    progress.stage("boilerplate", None);
    let b = boilerplate::detect_with(
        &input.line_facts,
        &input.norm,
        &input.doc_facts(story),
        opts,
    )?;
    progress.done();
    Ok(b)
}

/// The final signatures of the active documents, without the `lines` flagged. When templates
/// are looked for (see [`template_docs`]), the template n-grams of each source are found in the
/// same pass over the texts (a spilled corpus is read back once for both), and the documents
/// that turn out to hold one are then sketched again without its words. Ends its stages on
/// `log` (sketching; or finding templates, then sketching again).
///
/// A step because its output is what every later comparison reads: an index sketches new
/// documents with the mask and templates it holds, a distributed driver sketches each shard.
pub(crate) fn final_signatures(
    input: &Ingest,
    active: &[bool],
    lines: Option<&LineMask>,
    cx: Context,
    log: &mut RunLog,
) -> Result<(Option<SourceTemplates>, Signatures)> {
    let Context {
        cfg,
        budget,
        progress,
    } = cx;
    let norm = &input.norm;
    let lines_only = Mask {
        lines,
        templates: None,
    };
    let min_docs = template_docs(cfg);
    if min_docs == 0 {
        let sigs = sketch_all(norm, active, lines_only, Shingles::All, cfg, progress)?;
        log.lap("sketch")?;
        return Ok((None, sigs));
    }
    let n = norm.doc_count();
    progress.stage("source templates and sketching", Some(n as u64));
    let mut sigs = Signatures::new(cfg.num_perm, n);
    let found = SourceTemplates::find_with(
        norm,
        active,
        lines,
        &input.source,
        min_docs,
        budget.share(TEMPLATE_SHARE),
        &mut |first, docs| {
            sketch_into(
                docs,
                first,
                active,
                lines_only,
                Shingles::All,
                cfg,
                &mut sigs,
                progress,
            )
        },
    )?;
    progress.done();
    log.spills("template n-grams", found.spilled_runs);
    log.lap("source_templates_sketch")?;
    let both = Mask {
        lines,
        templates: Some(&found),
    };
    resketch(norm, found.documents(), both, cfg, &mut sigs, progress)?;
    log.lap("template_resketch")?;
    Ok((Some(found), sigs))
}

/// The true shingle sets of documents, from their normalized texts with the final mask: what
/// exact verification measures. A text that cannot be read back measures as empty, and the
/// first such error is kept for [`TrueSets::into_result`].
pub(crate) struct TrueSets<'a> {
    norm: &'a TextStore,
    mask: Mask<'a>,
    shingle: usize,
    error: Mutex<Option<Error>>,
}

impl<'a> TrueSets<'a> {
    pub fn new(norm: &'a TextStore, mask: Mask<'a>, shingle: usize) -> Self {
        TrueSets {
            norm,
            mask,
            shingle,
            error: Mutex::new(None),
        }
    }

    /// Writes document `d`'s shingle set to `out` (see [`verify::SetSource`]).
    pub fn fill(&self, d: u32, out: &mut Vec<u64>) {
        SCRATCH.with(|b| {
            let (shingler, text) = &mut *b.borrow_mut();
            let got = self.norm.with_doc(d as usize, |doc| {
                sketch_text(doc, d as usize, self.mask, text)
            });
            if let Err(e) = got {
                text.clear();
                self.error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
            }
            shingler.shingle_set(text, self.shingle, out);
        })
    }

    /// The first error of reading a text back, if any.
    pub fn into_result(self) -> Result<()> {
        match self.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The final pass's verifier: the configured rule, mode and date window over the final
/// signatures, with `sets` as its source of true shingle sets.
pub(crate) fn final_verifier<'a>(
    cfg: &Config,
    sigs: &'a Signatures,
    read: &'a Ingested,
    sets: verify::SetSource<'a>,
) -> Verifier<'a> {
    Verifier {
        rule: cfg.verify_rule(),
        sigs,
        window: cfg.max_days.map(|days| verify::DateWindow {
            dates: &read.dates,
            unparsed: &read.date_unparsed,
            days,
        }),
        exact: Some(sets),
        mode: cfg.verify,
        dates: Some(&read.dates),
        cache: None,
    }
}

/// Verified pairs of the final pass, and how they were found.
pub(crate) struct Edges {
    /// Verified pairs, sorted by `(a, b)`.
    pub edges: Vec<Edge>,
    /// Counts of banding.
    pub band: BandStats,
    /// Pairs checked beside the banding candidates (shared sentence lines and passages).
    pub passage_candidates: u64,
}

/// Bands the final signatures and verifies the candidates, then verifies the pairs that share
/// a sentence line (outside `mask`'s lines) or a template pass's passage.
///
/// A step because it is where pairs are found: an index runs it with a new batch's signatures
/// against its band tables, a distributed driver per band (every band's table is independent).
pub(crate) fn verified_edges(
    verifier: &Verifier,
    line_facts: &LineFacts,
    mask: Mask,
    active: &[bool],
    cx: Context,
) -> Result<Edges> {
    let Context {
        cfg,
        budget,
        progress,
    } = cx;
    let (edges, band) = near_pairs(verifier, cfg, budget.share(BAND_SHARE), progress)?;
    let (edges, passage_candidates) = if line_facts.is_empty() {
        (edges, 0)
    } else {
        let mut pairs = shared_sentence_pairs(line_facts, mask.lines, active, cfg.max_bucket);
        if let Some(t) = mask.templates {
            pairs.extend_from_slice(&t.shared_passages);
            pairs.par_sort_unstable();
            pairs.dedup();
        }
        let count = pairs.len() as u64;
        (add_edges(edges, &pairs, verifier), count)
    };
    Ok(Edges {
        edges,
        band,
        passage_candidates,
    })
}

/// The clusters of a run, and the label they give each document.
pub(crate) struct Clusters {
    /// Clusters, in order of their least member.
    pub clusters: Vec<Cluster>,
    /// Each document's cluster label (a document index; the document itself when alone).
    pub labels: Vec<u32>,
}

/// Clusters the verified pairs by `method` (members compatible with each other, measured by
/// `verifier`), and describes each member: its similarity to the representative and why it
/// joined.
///
/// A step because it needs only the pairs and the groups: an index reclusters the components a
/// new batch's pairs touch, a distributed driver runs it once over the gathered pairs.
pub(crate) fn build_clusters(
    verifier: &Verifier,
    groups: &Groups,
    edges: &[Edge],
    method: Method,
) -> Clusters {
    let Groups {
        order,
        rank,
        leaders,
        ..
    } = groups;
    // Clustering measures each candidate against every member in turn, on one thread: the true
    // sets of the last documents measured are kept.
    let set_cache = Mutex::new(verify::SetCache::default());
    // Pairs of the second rule alone are links: they do not grow clusters.
    let strong: Vec<Edge> = edges.iter().filter(|e| !e.dated).copied().collect();
    let edges = &strong[..];
    let cluster_verifier = Verifier {
        cache: Some(&set_cache),
        ..*verifier
    };
    let cluster::Clustering { labels, via } = clusters_via(
        leaders,
        edges,
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
        method,
        order,
    );
    let family = components(leaders.len(), leaders, edges);
    let clusters = cluster::groups(&labels)
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
                        (joined_through(verifier, edges, d, x), Some(x))
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
    Clusters { clusters, labels }
}

/// Decides the boilerplate flags again with the final clusters as story labels (see
/// [`boilerplate::refine_with`]).
///
/// A step because better labels come later than the first flags: an index refines its mask
/// as its clusters grow.
pub(crate) fn refine_boilerplate(
    prev: &Boilerplate,
    input: &Ingest,
    story: &[u32],
    opts: &BoilerplateOptions,
) -> Result<Boilerplate> {
    boilerplate::refine_with(
        prev,
        &input.line_facts,
        &input.norm,
        &input.doc_facts(story),
        opts,
    )
}

/// The [`Scan`] of a run from what the steps gave, with its counts; its `run` section (timings,
/// spills) is left empty for the caller's [`RunLog`].
///
/// A step because the counts are the one place that sees every step's output: an index or a
/// distributed driver that joins partial outputs counts here once.
pub(crate) fn finish(
    input: Ingest,
    groups: &Groups,
    clusters: Vec<Cluster>,
    edges: &Edges,
    sizes: &[u32],
    boiler: Boilerplate,
    templates: Option<&SourceTemplates>,
) -> Scan {
    let n = input.read.docs.len();
    let Groups {
        leaders, active, ..
    } = groups;
    let in_clusters: u64 = clusters.iter().map(|c| c.members.len() as u64).sum();
    let exact_dups = leaders
        .iter()
        .enumerate()
        .filter(|(d, &l)| l as usize != *d)
        .count() as u64;
    let removed = in_clusters - clusters.len() as u64;
    let links = links(n, &clusters, &edges.edges, sizes);
    let read = input.read;
    let stats = Stats {
        documents: n as u64,
        empty_documents: input.empty.iter().filter(|&&e| e).count() as u64,
        files_read: read.files_read,
        files_skipped: read.files_skipped,
        skipped: read.skipped,
        exact_duplicates: exact_dups,
        near_duplicates: removed.saturating_sub(exact_dups),
        clusters: clusters.len() as u64,
        documents_in_clusters: in_clusters,
        kept: n as u64 - removed,
        removed,
        candidate_pairs: edges.band.candidate_pairs,
        passage_candidates: edges.passage_candidates,
        verified_pairs: edges.edges.len() as u64,
        links: links.len() as u64,
        capped_buckets: edges.band.capped_buckets,
        empty_after_masking: (0..n).filter(|&d| active[d] && sizes[d] == 0).count() as u64,
        dates_unparsed: read.dates_unparsed,
        boilerplate_templates: boiler.templates.len() as u64,
        boilerplate_lines: boiler.mask.count() as u64,
        documents_with_boilerplate: (0..n).filter(|&d| boiler.mask.any(d)).count() as u64,
        source_template_ngrams: templates.map_or(0, |t| t.len() as u64),
    };
    Scan {
        docs: read.docs,
        dates: read.dates,
        clusters,
        links,
        boilerplate: boiler,
        stats,
        timings: Vec::new(),
        spilled: Vec::new(),
    }
}

/// The verified `edges` whose documents the `clusters` leave apart, each with the smaller
/// document (fewer shingles by `sizes`, the final signatures' set sizes) as its part, in order
/// of `(part, whole)`.
fn links(n: usize, clusters: &[Cluster], edges: &[Edge], sizes: &[u32]) -> Vec<Link> {
    const NONE: u32 = u32::MAX;
    let mut cluster_of = vec![NONE; n];
    for (c, cl) in clusters.iter().enumerate() {
        for m in &cl.members {
            cluster_of[m.doc as usize] = c as u32;
        }
    }
    let mut links: Vec<Link> = edges
        .iter()
        .filter(|e| {
            let (x, y) = (cluster_of[e.a as usize], cluster_of[e.b as usize]);
            x == NONE || x != y
        })
        .map(|e| {
            let (part, whole) = if sizes[e.b as usize] < sizes[e.a as usize] {
                (e.b, e.a)
            } else {
                (e.a, e.b)
            };
            Link {
                part,
                whole,
                similarity: e.score.jaccard,
                containment: e.score.containment,
            }
        })
        .collect();
    links.sort_unstable_by_key(|l| (l.part, l.whole));
    links
}

/// The least number of documents of a source for its template n-grams to be looked for (0:
/// they are not).
pub(crate) fn template_docs(cfg: &Config) -> u32 {
    cfg.boilerplate
        .as_ref()
        .map_or(0, |o| o.source_template_docs)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::pipeline::Quiet;

    /// A corpus of one JSONL file holding `texts` (ids `d0`, `d1`, ...).
    fn corpus(dir: &tempfile::TempDir, texts: &[&str]) -> Corpus {
        let path = dir.path().join("docs.jsonl");
        let lines: Vec<String> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| serde_json::json!({"id": format!("d{i}"), "text": t}).to_string())
            .collect();
        std::fs::write(&path, lines.join("\n")).unwrap();
        Corpus::open(&[path]).unwrap()
    }

    /// Reading and exact grouping run on their own: copies share the most preferred member as
    /// leader and only it is active; empty documents (whatever their white space) are their own
    /// leaders and never active.
    #[test]
    fn exact_groups_lead_copies_by_preference_and_leave_empty_documents_alone() {
        let dir = tempfile::tempdir().unwrap();
        let harbour = "a story about the harbour and the ships that came in";
        let longer = "a longer story about the harbour and the ships that came in at dawn";
        let texts = [harbour, "", longer, "  \n ", harbour, longer];
        let cfg = Config {
            keep: Keep::First,
            ..Config::default()
        };
        let cx = Context {
            cfg: &cfg,
            budget: Budget::UNLIMITED,
            progress: &Quiet,
        };
        let input = read_and_normalize(&corpus(&dir, &texts), cx).unwrap();
        assert_eq!(input.empty, [false, true, false, true, false, false]);
        assert_eq!(input.source, [u32::MAX; 6]);
        assert_eq!(input.first_sigs.sizes.len(), 6);
        let hashes = input.hashes.clone();
        let groups = exact_groups(&input.read, hashes, &input.lens, &input.empty, cfg.keep);
        assert_eq!(groups.leaders, [0, 1, 2, 3, 0, 2]);
        assert_eq!(groups.active, [true, false, true, false, false, false]);
        assert_eq!(groups.order, [0, 1, 2, 3, 4, 5]);

        // With the longest kept, the longer copies lead theirs (ties go to the first).
        let groups = exact_groups(
            &input.read,
            input.hashes.clone(),
            &input.lens,
            &input.empty,
            Keep::Longest,
        );
        assert_eq!(groups.order[..2], [2, 5]);
        assert_eq!(groups.leaders, [0, 1, 2, 3, 0, 2]);
    }

    struct CancelAfter(AtomicBool);
    impl Progress for CancelAfter {
        fn cancelled(&self) -> bool {
            self.0.load(Ordering::Relaxed)
        }
    }

    /// Each lap records its stage in order and is where a cancelled run stops; spills are
    /// noted only when there were some, counted in English.
    #[test]
    fn run_log_records_stages_and_stops_a_cancelled_run() {
        let progress = CancelAfter(AtomicBool::new(false));
        let mut log = RunLog::new(&progress);
        log.lap("read").unwrap();
        log.spills("band tables", 0);
        log.spills("texts", 1);
        log.spills("template n-grams", 3);
        progress.0.store(true, Ordering::Relaxed);
        assert!(matches!(log.lap("exact"), Err(Error::Interrupted)));
        let names: Vec<&str> = log.timings.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["read", "exact"]);
        assert_eq!(
            log.spilled,
            ["texts (1 spill)", "template n-grams (3 spills)"]
        );
    }
}
