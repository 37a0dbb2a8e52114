//! One scan across several processes (on one host or many), with the report of a scan in one
//! process.
//!
//! Every process is started with the same inputs (as on a shared file system) and the same
//! hosts file; each reads its share of the bytes of the files, in order (`parts`: whole files,
//! and an uncompressed JSONL file across two shares in parts cut at line starts). The steps of
//! [`crate::pipeline`] run where their data is, and the data moves between the steps over
//! timely-dataflow (`net`):
//!
//! ```text
//! every process: line ends of its cut parts ─▶ every process: each part's first line
//! every process: read, normalize, first-pass sketch, line facts of its parts
//!     ─▶ gather to 0: metadata, hashes, line counts, per part
//! process 0: global order (parts in order), exact groups ─▶ to each process: where every
//!     part's documents are, which of its own are banded
//! every process: first pass banded and verified by key (see pairs) ─▶ 0: its pairs
//! process 0: story labels ─▶ to each process: its documents' labels and sources
//! every process: its lines to the owners of their keys; each owner decides its keys
//!     (see lines) ─▶ 0: the furniture keys' occurrences, the sentence pairs
//! process 0: boilerplate flags from those
//!     ◀─▶ the texts of the templates' sample lines fetched from their owners
//!     ─▶ to each process: its documents' active flags and flagged lines, the sources
//! every process: template n-gram keys of its documents + final sketch
//!     ─▶ keys exchanged by key; each process counts its keys ─▶ gather to 0: templates, pairs
//!     ◀─ to each process: the template keys and its documents holding one
//! every process: sketches those documents again
//! every process: final pass banded and verified by key (see pairs), with process 0's
//!     passage pairs ─▶ 0: verified pairs, their documents' signatures, every set size
//! process 0: cluster over the pairs' documents, refine the flags (sample lines fetched
//!     again), report
//!     ─▶ dedup: each process gets its documents' fates and writes its parts' records
//! ```
//!
//! Process 0 returns the [`Scan`]; the others return nothing once process 0 has it. The scan
//! equals [`crate::pipeline::scan_within`]'s over the same inputs outside its `run` section: the
//! global document order is the parts' order, boilerplate statistics are counted over every
//! document before any flag is decided, the template keys are counted by key over all
//! processes, and the band buckets are built by key over all processes, capped as one process
//! caps them, and the line statistics are counted by line key over all processes.
//! ARCHITECTURE.md says what still goes to process 0 (every document's metadata, the verified
//! pairs) and what would replace it past one machine's memory.

mod lines;
mod net;
mod pairs;
mod parts;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rayon::prelude::*;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::boilerplate::{self, Boilerplate, DocKey, LineFacts, LineMask, SourceTemplates, Status};
use crate::dedup;
use crate::error::{Error, Location, RecordError, Result};
use crate::ingest::{ingest_with, DocMeta, Ingested, Skipped};
use crate::normalize::NormDoc;
use crate::pipeline::steps::{
    exact_groups, finish, first_pass_facts, keep_first_pass_facts, template_docs, Context, Edges,
    Ingest, RunLog, TrueSets,
};
use crate::pipeline::{
    components, resketch, sketch_all, sketch_into, source_ids, template_examples, Config, Mask,
    Progress, Scan, Shingles, BAND_SHARE, FIRST_PASS_LENIENCY, TEMPLATE_SHARE, TEXT_SHARE,
};
use crate::read::{Corpus, SkippedFile};
use crate::sketch::{Signatures, Sketcher};
use crate::spill::{Budget, Docs, Runs, TextStore, MAX_CHUNK_BYTES};
use crate::verify;

/// The processes of a run and which one this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// `host:port` of each process, in order (process 0 first).
    pub hosts: Vec<String>,
    /// This process's index in `hosts`.
    pub process: usize,
    /// How long to wait for every peer to be up and connected.
    pub connect_timeout: Duration,
}

/// The default of [`Cluster::connect_timeout`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

impl Cluster {
    /// Reads a hosts file: one `host:port` per line, process 0 first; blank lines and lines
    /// starting with `#` are left out.
    pub fn from_hosts_file(path: &Path, process: usize) -> Result<Cluster> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Input {
            path: path.into(),
            source,
        })?;
        let hosts: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        for (i, h) in hosts.iter().enumerate() {
            if !h.contains(':') {
                return Err(Error::Param(format!(
                    "{}: line {} is {h:?}, not host:port",
                    path.display(),
                    i + 1
                )));
            }
        }
        if process >= hosts.len() {
            return Err(Error::Param(format!(
                "process {process} is not in {} ({} processes, numbered from 0)",
                path.display(),
                hosts.len()
            )));
        }
        Ok(Cluster {
            hosts,
            process,
            connect_timeout: CONNECT_TIMEOUT,
        })
    }
}

/// What a process of a distributed run gives back.
pub struct Outcome {
    /// The scan, on process 0.
    pub scan: Option<Scan>,
    /// Documents this process read.
    pub documents: u64,
    /// Bytes this process wrote to its peers' connections.
    pub bytes_sent: u64,
    /// Those bytes by step of the run, in order (`finish`: after the scan, `dedup`'s).
    pub sent_by_step: Vec<(String, u64)>,
    /// The final signatures process 0 received to cluster (those of the documents of verified
    /// pairs; 0 on the other processes): the others stay where they were sketched.
    pub signatures_gathered: u64,
}

/// Runs this process's part of a scan over several processes (see the module's notes); every
/// process calls it with the same corpus, config and cluster (but its own index). Fails on
/// every process when one of them fails or cannot be reached: the error names it.
pub fn scan_within(
    cluster: &Cluster,
    corpus: &Corpus,
    cfg: &Config,
    budget: Budget,
    progress: &dyn Progress,
) -> Result<Outcome> {
    drive(cluster, corpus, cfg, budget, progress, |_, _, _| Ok(()))
}

/// What [`dedup_within`] wrote.
pub struct Deduped {
    pub outcome: Outcome,
    /// The records this process wrote to its shard.
    pub written: dedup::Written,
}

/// [`scan_within`], then each process writes the records of its own parts of the corpus (in
/// order) to `out`, its shard of the output, each record as [`dedup::write`]
/// writes it for the whole corpus: together the shards hold the one-process output. Each
/// process commits its shard before the processes part, so that once any returns, every
/// shard is complete.
pub fn dedup_within(
    cluster: &Cluster,
    corpus: &Corpus,
    cfg: &Config,
    budget: Budget,
    progress: &dyn Progress,
    opts: &dedup::Options,
    mut out: crate::output::Output,
) -> Result<Deduped> {
    let mut written = dedup::Written::default();
    let outcome = drive(
        cluster,
        corpus,
        cfg,
        budget,
        progress,
        |run, scan, parts| {
            let fates = run.scatter_fates(scan, opts)?;
            let mut first = 0;
            for (part, read) in parts.iter().zip(&run.local.files) {
                let docs = &read.docs;
                let w = dedup::write_with(part, docs, &cfg.fields, opts, &mut out, &|d| {
                    let (c, size, rep, flagged) = fates[first + d].clone();
                    dedup::Fate {
                        cluster: (c, size as i64, rep),
                        flagged,
                    }
                })?;
                written.written += w.written;
                written.skipped += w.skipped;
                first += docs.len();
            }
            out.commit()
        },
    )?;
    Ok(Deduped { outcome, written })
}

/// Runs the scan, then `after` on every process (with the scan on process 0, and this
/// process's files) before the processes part.
fn drive(
    cluster: &Cluster,
    corpus: &Corpus,
    cfg: &Config,
    budget: Budget,
    progress: &dyn Progress,
    after: impl FnOnce(&mut Run, Option<&Scan>, &[Corpus]) -> Result<()>,
) -> Result<Outcome> {
    cfg.validate()?;
    if !matches!(cfg.verify, verify::Mode::Estimate | verify::Mode::Recheck) {
        return Err(Error::Distributed(
            "a run over several processes verifies with --verify recheck (the default) or \
             estimate"
                .into(),
        ));
    }
    if !corpus.files.is_empty() && corpus.one_file(0).is_none() {
        return Err(Error::Distributed(
            "a run over several processes reads files (not stdin nor documents in memory)".into(),
        ));
    }
    let (sizes, splittable) = parts::sizes(corpus);
    let pieces = parts::plan(&sizes, &splittable, cluster.hosts.len());
    let own: Vec<usize> = (0..pieces.len())
        .filter(|&i| pieces[i].process == cluster.process)
        .collect();
    let mut net = net::Net::start(
        cluster.hosts.clone(),
        cluster.process,
        cluster.connect_timeout,
    )?;
    // The parts of files cut between processes start at line starts and number their lines
    // on from the line ends of the parts before them (counted by their processes).
    let aligned = parts::align(corpus, &pieces, &own)?;
    let counts: Vec<(u32, u64)> = aligned.iter().map(|&(i, _, n)| (i as u32, n)).collect();
    let sends = (0..net.peers()).map(|q| (q, encode(&counts))).collect();
    let got: Vec<(usize, Vec<(u32, u64)>)> = exchange(&mut net, sends)?;
    let all: Vec<(u32, u64)> = got.into_iter().flat_map(|(_, c)| c).collect();
    let first_lines = parts::number(&pieces, &all);
    let parts: Vec<Corpus> = own
        .iter()
        .map(|&i| match aligned.iter().find(|a| a.0 == i) {
            Some(&(_, range, _)) => corpus.file_part(
                pieces[i].file,
                crate::read::ByteRange {
                    first_line: first_lines[i],
                    ..range
                },
            ),
            None => corpus.one_file(pieces[i].file),
        })
        .collect::<Option<_>>()
        .expect("files, checked above");
    let cx = Context {
        cfg,
        budget,
        progress,
    };
    let mut log = RunLog::new(progress);
    let local = read_local(&parts, cx)?;
    net.mark("read_normalize_first_sketch");
    log.lap("read_normalize_first_sketch")?;
    let documents = local.norm.doc_count() as u64;
    let mut run = Run {
        net: &mut net,
        cfg,
        own,
        pieces,
        local,
        lines: Vec::new(),
        spans: Vec::new(),
        signatures_gathered: 0,
    };
    let scan = run.scan(corpus, cx, &mut log)?;
    after(&mut run, scan.as_ref(), &parts)?;
    let signatures_gathered = run.signatures_gathered;
    net.mark("finish");
    let bytes_sent = net.bytes_sent();
    let sent_by_step = net.marks().to_vec();
    net.finish()?;
    Ok(Outcome {
        scan: scan.map(|s| Scan {
            timings: log.timings,
            spilled: log.spilled,
            ..s
        }),
        documents,
        bytes_sent,
        sent_by_step,
        signatures_gathered,
    })
}

/// One document's facts as process 0 needs them (the text stays where it was read).
#[derive(Serialize, Deserialize)]
struct DocWire {
    id: String,
    source: Option<String>,
    date: Option<String>,
    path: String,
    line: u64,
    chars: u64,
    empty: bool,
    date_value: Option<i64>,
    date_unparsed: bool,
    hash: u128,
    len: u64,
    /// Lines of its text.
    lines: u32,
}

/// What a process sends process 0 of each part of the corpus it read: its documents in
/// pieces, then its counts.
#[derive(Serialize, Deserialize)]
enum FileWire {
    Docs(u32, Vec<DocWire>),
    End {
        part: u32,
        skipped: Skipped,
        files_skipped: Vec<SkippedFile>,
    },
}

/// A normalized text, fetched by process 0.
#[derive(Serialize, Deserialize)]
struct NormWire {
    doc: u32,
    text: String,
    line_starts: Vec<u32>,
    line_keys: Vec<u64>,
    line_forms: Vec<u8>,
    exact_hash: u128,
    chars: u32,
}

/// What process 0 tells each process before the final sketch.
#[derive(Serialize, Deserialize)]
struct Plan {
    /// The index in the corpus of the first document of each of the process's files.
    firsts: Vec<u32>,
    /// Whether each of its documents is sketched.
    active: Vec<bool>,
    /// Its flagged lines, as (document, line), when the flags are used.
    flagged: Option<Vec<(u32, u32)>>,
    /// Each document's source (all documents), when templates are looked for.
    source: Vec<u32>,
}

/// Where each file's documents are, and which of a process's documents are banded.
type Placement = (Vec<Span>, Vec<bool>);

/// A document's fate in `dedup` (see [`Run::scatter_fates`]).
type FateWire = (i64, u32, Option<String>, Vec<u32>);

/// Documents per message of a gather (a message is held whole in memory on both ends).
const PIECE: usize = 4096;

fn encode<T: Serialize>(x: &T) -> Vec<u8> {
    bincode::serialize(x).expect("plain data serializes")
}

fn decode<T: DeserializeOwned>(from: usize, b: &[u8]) -> Result<T> {
    bincode::deserialize(b).map_err(|e| {
        Error::Distributed(format!(
            "a message from process {from} cannot be read ({e}): are all processes the same \
             syndic version?"
        ))
    })
}

/// A process's final signatures, with the masks they were taken with.
struct Final {
    /// Process 0: the corpus's source templates.
    templates: Option<SourceTemplates>,
    sigs: Signatures,
    /// The flagged lines of this process's documents.
    lines: Option<LineMask>,
    /// The templates, with this process's documents that hold one (local numbering).
    local_templates: Option<SourceTemplates>,
}

/// What a process read of its files.
struct Local {
    /// Per file read (in order): the documents' metadata and the file's counts.
    files: Vec<Ingested>,
    norm: TextStore,
    hashes: Vec<u128>,
    lens: Vec<u64>,
    /// Lines of each document.
    lines: Vec<u32>,
    first_sigs: Signatures,
    line_facts: LineFacts,
}

/// Reads and normalizes each of `parts` in turn, as [`crate::pipeline::steps`]'
/// `read_and_normalize` does the whole corpus (the same values per document), keeping what
/// each file read apart: process 0 joins the files of every process in the corpus's order.
fn read_local(parts: &[Corpus], cx: Context) -> Result<Local> {
    let Context {
        cfg,
        budget,
        progress,
    } = cx;
    let mut norm = TextStore::new(budget.share(TEXT_SHARE), budget.share(TEXT_SHARE) / 16);
    let mut hashes = Vec::new();
    let mut lens = Vec::new();
    let mut first_sigs = Signatures::new(cfg.num_perm, 0);
    let mut line_facts = LineFacts::default();
    let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
    let per_doc = |doc: &NormDoc| first_pass_facts(cfg, &sketcher, doc);
    let mut files = Vec::with_capacity(parts.len());
    for part in parts {
        let read = ingest_with(part, cfg, progress, &per_doc, &mut |batch, extras| {
            let kept = (&mut hashes, &mut lens, &mut first_sigs, &mut line_facts);
            keep_first_pass_facts(kept, &batch, extras);
            norm.push(batch)
        })?;
        files.push(read);
    }
    norm.seal()?;
    let lines = norm.line_counts();
    Ok(Local {
        files,
        norm,
        hashes,
        lens,
        lines,
        first_sigs,
        line_facts,
    })
}

/// A file of the corpus as process 0 sees it: where its documents are in the corpus and on
/// the process that read it.
#[derive(Clone, Copy, Serialize, Deserialize)]
struct Span {
    first: u32,
    count: u32,
    process: usize,
    /// Index of its first document on that process.
    local: u32,
}

/// The state of one process's part of a run.
struct Run<'a> {
    net: &'a mut net::Net,
    cfg: &'a Config,
    /// The parts of the corpus this process read (indices into `pieces`), in order.
    own: Vec<usize>,
    /// Every process's parts of the corpus, in the corpus's order.
    pieces: Vec<parts::Part>,
    local: Local,
    /// Process 0: lines of each document of the corpus.
    lines: Vec<u32>,
    /// Where each file's documents are.
    spans: Vec<Span>,
    /// Process 0: the final signatures it received (those of the verified pairs' documents).
    signatures_gathered: u64,
}

impl Run<'_> {
    fn leader(&self) -> bool {
        self.net.me() == 0
    }

    /// Ends step `name` in the log and in the bytes sent per step.
    fn lap(&mut self, log: &mut RunLog, name: &str) -> Result<()> {
        self.net.mark(name);
        log.lap(name)
    }

    /// See [`exchange`].
    fn exchange<T: DeserializeOwned>(
        &mut self,
        sends: Vec<(usize, Vec<u8>)>,
    ) -> Result<Vec<(usize, T)>> {
        exchange(self.net, sends)
    }

    fn scan(&mut self, corpus: &Corpus, cx: Context, log: &mut RunLog) -> Result<Option<Scan>> {
        let cfg = self.cfg;
        // 1. Gather each file's documents to process 0, which puts them in the corpus's order.
        let sends = self.file_facts();
        let got: Vec<(usize, FileWire)> = self.exchange(sends)?;
        let gathered = if self.leader() {
            let (input, spans, lines) = self.join_files(corpus, got)?;
            self.lines = lines;
            self.spans = spans.clone();
            Some((input, spans))
        } else {
            None
        };
        self.lap(log, "gather_documents")?;

        // 2. Process 0: exact groups, story labels and the boilerplate flags (the texts of
        // the templates' sample lines fetched from the processes that hold them).
        let mut state = None;
        if let Some((input, spans)) = gathered {
            let mut input = input;
            let hashes = std::mem::take(&mut input.hashes);
            let groups = exact_groups(&input.read, hashes, &input.lens, &input.empty, cfg.keep);
            log.lap("exact")?;
            state = Some((input, spans, groups));
        }
        // Every process learns where each file's documents are, and which of its own are
        // banded (one per exact text).
        let sends = match &state {
            Some((_, spans, groups)) => {
                let mut active: Vec<Vec<bool>> = vec![Vec::new(); self.net.peers()];
                for s in spans {
                    let range = s.first as usize..(s.first + s.count) as usize;
                    active[s.process].extend_from_slice(&groups.active[range]);
                }
                active
                    .iter()
                    .enumerate()
                    .map(|(q, a)| (q, encode(&(spans, a))))
                    .collect()
            }
            None => Vec::new(),
        };
        let mut got: Vec<(usize, Placement)> = self.exchange(sends)?;
        let (spans, active) = got.pop().expect("the spans from process 0").1;
        self.spans = spans;
        let mut boiler = None;
        // Process 0: the occurrences of the furniture keys and the sentence pairs.
        let mut by_key = None;
        if let Some(opts) = &cfg.boilerplate {
            let first = self.first_pass(&active, state.as_ref().map(|s| &s.2), cx)?;
            self.lap(log, "first_pass")?;
            // Each process's documents' story labels and sources, unless too few stories
            // leave nothing to flag.
            let labels = match (&state, &first) {
                (Some((input, spans, _)), Some(story))
                    if !boilerplate::too_few_stories(story, opts) =>
                {
                    let mut l: Vec<Vec<(u32, u32)>> = vec![Vec::new(); self.net.peers()];
                    for s in spans {
                        let range = s.first as usize..(s.first + s.count) as usize;
                        let both = story[range.clone()].iter().zip(&input.source[range]);
                        l[s.process].extend(both.map(|(&st, &so)| (st, so)));
                    }
                    Some(l)
                }
                _ => None,
            };
            let global = self.globals();
            let dates: Vec<Option<i64>> = (self.local.files.iter())
                .flat_map(|r| r.dates.iter().copied())
                .collect();
            let here = lines::Local {
                facts: &self.local.line_facts,
                global: &global,
                active: &active,
                dates: &dates,
            };
            by_key = lines::by_key(self.net, &here, labels, opts, cfg.max_bucket)?;
            self.lap(log, "line_statistics")?;
            let mut wanted = Vec::new();
            if let (Some((input, _, _)), Some(story), Some(f)) = (&state, &first, &by_key) {
                let probe = Fetched::new(&self.lines, HashMap::new());
                detect(f, &probe, &input.doc_facts(story), opts, None)?;
                wanted = probe.missing();
            }
            let spans = state.as_ref().map(|s| s.1.clone()).unwrap_or_default();
            let texts = self.fetch(&spans, &wanted)?;
            if let (Some((input, _, _)), Some(story), Some(f)) = (&state, &first, &by_key) {
                let docs = Fetched::new(&self.lines, texts);
                boiler = Some(detect(f, &docs, &input.doc_facts(story), opts, None)?);
                docs.check()?;
            }
            self.lap(log, "boilerplate")?;
        } else if state.is_some() {
            boiler = Some(Boilerplate::none(
                &BlankDocs(self.lines.clone()),
                Status::Disabled,
            ));
        }

        // 3. The final signatures, sketched where the texts are, with the template n-grams
        // counted by key across the processes.
        let plans = match (&state, &boiler) {
            (Some((input, spans, groups)), Some(b)) => Some(self.plans(input, spans, groups, b)),
            _ => None,
        };
        let plan: Plan = {
            let sends = plans
                .map(|p| {
                    p.into_iter()
                        .enumerate()
                        .map(|(q, p)| (q, encode(&p)))
                        .collect()
                })
                .unwrap_or_default();
            let mut got: Vec<(usize, Plan)> = self.exchange(sends)?;
            got.pop().expect("a plan from process 0").1
        };
        let Final {
            templates,
            sigs,
            lines: line_mask,
            local_templates,
        } = self.final_signatures(&plan, cx, log)?;

        // 4. Band and verify across the processes (see [`pairs`]): process 0 gets the
        // verified pairs and their documents' signatures, clusters them, then gets every
        // document's set size. Each process makes the true shingle sets of its own documents
        // for the pairs that `--verify recheck` measures on them: the process that verifies
        // such a pair fetches both, and so does process 0 for a member's similarity to its
        // representative.
        let passages = match &by_key {
            Some(f) => {
                let mut pairs = f.sentence_pairs.clone();
                if let Some(t) = &templates {
                    pairs.extend_from_slice(&t.shared_passages);
                    pairs.sort_unstable();
                    pairs.dedup();
                }
                pairs
            }
            _ => Vec::new(),
        };
        let passage_candidates = passages.len() as u64;
        let global = self.globals();
        let (mut dates, mut unparsed) = (Vec::new(), Vec::new());
        for read in &self.local.files {
            dates.extend_from_slice(&read.dates);
            unparsed.extend_from_slice(&read.date_unparsed);
        }
        let true_sets = TrueSets::new(
            &self.local.norm,
            Mask {
                lines: line_mask.as_ref(),
                templates: local_templates.as_ref(),
            },
            cfg.shingle,
        );
        let fill = |l: u32, out: &mut Vec<u64>| true_sets.fill(l, out);
        let recheck = cfg.verify == verify::Mode::Recheck;
        let held = pairs::Held {
            sigs: &sigs,
            global: &global,
            dates: &dates,
            unparsed: &unparsed,
            sets: recheck.then_some(&fill as verify::SetSource),
        };
        let rule = pairs::Rule {
            banding: cfg.banding,
            max_bucket: cfg.max_bucket,
            rule: cfg.verify_rule(),
            mode: cfg.verify,
            days: cfg.max_days,
            table_bytes: cx.budget.share(BAND_SHARE),
        };
        let found = pairs::near_pairs(self.net, &held, &self.spans, &rule, passages, true)?;
        self.net.mark("band_verify");
        log.lap("band_verify")?;
        let mut gathered = None;
        let mut rescore = Vec::new();
        if let (Some((_, _, groups)), Some(found)) = (&state, found) {
            let (clusters, members) = pairs::cluster_gathered(
                &found,
                groups,
                cfg.num_perm,
                cfg.verify_rule(),
                cfg.verify,
                cfg.cluster,
            );
            rescore = members;
            gathered = Some((found, clusters));
        }
        if recheck {
            let mut wanted: Vec<u32> = rescore.iter().flat_map(|r| [r.2, r.3]).collect();
            wanted.sort_unstable();
            wanted.dedup();
            let sets = pairs::fetch_sets(self.net, &held, &self.spans, &wanted)?;
            if let Some((_, clusters)) = &mut gathered {
                for &(c, m, l, rl) in &rescore {
                    let (jaccard, containment) =
                        crate::shingle::exact_similarity(&sets[&l], &sets[&rl]);
                    let member = &mut clusters.clusters[c].members[m];
                    member.similarity = jaccard;
                    member.containment = containment;
                }
            }
        }
        true_sets.into_result()?;
        self.net.mark("cluster");
        log.lap("cluster")?;
        let sizes = self.gather_sizes(&plan, &sigs)?;
        drop(sigs);
        self.lap(log, "gather_sizes")?;
        let mut result = None;
        let mut refine = None;
        if let (Some((_, spans, _)), Some((found, clusters)), Some(sizes)) =
            (&state, gathered, sizes)
        {
            self.signatures_gathered = found.sigs.len() as u64;
            let edges = Edges {
                edges: found.edges,
                band: found.stats,
                passage_candidates,
            };
            refine = Some((spans.clone(), clusters, edges, sizes));
        }
        let mut boiler = boiler;
        if let Some(opts) = &cfg.boilerplate {
            let mut wanted = Vec::new();
            if let (Some((input, _, _)), Some((_, clusters, _, _)), Some(b), Some(f)) =
                (&state, &refine, &boiler, &by_key)
            {
                let probe = Fetched::new(&self.lines, HashMap::new());
                detect(f, &probe, &input.doc_facts(&clusters.labels), opts, Some(b))?;
                wanted = probe.missing();
            }
            let spans = refine.as_ref().map(|r| r.0.clone()).unwrap_or_default();
            let texts = self.fetch(&spans, &wanted)?;
            if let (Some((input, _, _)), Some((_, clusters, _, _)), Some(b), Some(f)) =
                (&state, &refine, &boiler, &by_key)
            {
                let docs = Fetched::new(&self.lines, texts);
                let refined = detect(f, &docs, &input.doc_facts(&clusters.labels), opts, Some(b))?;
                docs.check()?;
                boiler = Some(refined);
            }
            self.lap(log, "boilerplate_refine")?;
        }
        if let (Some((input, _, groups)), Some((_, clusters, edges, sizes)), Some(mut b)) =
            (state, refine, boiler)
        {
            if !b.templates.is_empty() {
                template_examples(corpus, cfg, &input.read.docs, &mut b.templates)?;
                log.lap("template_examples")?;
            }
            result = Some(finish(
                input,
                &groups,
                clusters.clusters,
                &edges,
                &sizes,
                b,
                templates.as_ref(),
            ));
        }
        Ok(result)
    }

    /// The corpus's index of each document this process read.
    fn globals(&self) -> Vec<u32> {
        let me = self.net.me();
        self.spans
            .iter()
            .filter(|s| s.process == me)
            .flat_map(|s| s.first..s.first + s.count)
            .collect()
    }

    /// Every process: the first pass's story labels, as
    /// [`crate::pipeline::steps::story_labels`] gives them, with the first-pass signatures
    /// banded and verified where they were sketched (see [`pairs`]); `active` says which of this
    /// process's documents are banded. Process 0 (which passes the `groups`) gets the labels.
    fn first_pass(
        &mut self,
        active: &[bool],
        groups: Option<&crate::pipeline::steps::Groups>,
        cx: Context,
    ) -> Result<Option<Vec<u32>>> {
        let cfg = self.cfg;
        let k = cfg.num_perm;
        let mut sigs = std::mem::take(&mut self.local.first_sigs);
        for (d, &a) in active.iter().enumerate() {
            if !a {
                sigs.sizes[d] = 0;
                sigs.values[d * k..(d + 1) * k].fill(crate::sketch::EMPTY);
            }
        }
        let global = self.globals();
        let (dates, unparsed) = (vec![None; global.len()], vec![false; global.len()]);
        let held = pairs::Held {
            sigs: &sigs,
            global: &global,
            dates: &dates,
            unparsed: &unparsed,
            sets: None,
        };
        let strict = cfg.verify_rule();
        let rule = pairs::Rule {
            banding: crate::band::Banding::for_threshold(cfg.threshold, k),
            max_bucket: cfg.max_bucket,
            rule: crate::verify::VerifyRule {
                threshold: strict.threshold * FIRST_PASS_LENIENCY,
                containment: strict.containment.map(|c| c * FIRST_PASS_LENIENCY),
                ..strict
            },
            mode: verify::Mode::Estimate,
            days: None,
            table_bytes: cx.budget.share(BAND_SHARE),
        };
        let found = pairs::near_pairs(self.net, &held, &self.spans, &rule, Vec::new(), false)?;
        Ok(match (found, groups) {
            (Some(f), Some(g)) => Some(components(g.leaders.len(), &g.leaders, &f.edges)),
            _ => None,
        })
    }

    /// Every process: the fate of each of its documents (cluster index or -1, cluster size,
    /// the id of the document kept for it unless it is that one, flagged lines to strip), from
    /// process 0's scan.
    fn scatter_fates(
        &mut self,
        scan: Option<&Scan>,
        opts: &dedup::Options,
    ) -> Result<Vec<FateWire>> {
        let sends = match scan {
            Some(scan) => {
                let assign = scan.assignment();
                let sizes: Vec<u32> = scan
                    .clusters
                    .iter()
                    .map(|c| c.members.len() as u32)
                    .collect();
                let mut fates: Vec<Vec<FateWire>> = vec![Vec::new(); self.net.peers()];
                for s in &self.spans {
                    let range = s.first as usize..(s.first + s.count) as usize;
                    for (d, &a) in assign.iter().enumerate().take(range.end).skip(range.start) {
                        let (c, size, rep) = match a {
                            Some((c, rep)) => (
                                c as i64,
                                sizes[c as usize],
                                (rep as usize != d).then(|| scan.docs[rep as usize].id.clone()),
                            ),
                            None => (-1, 1, None),
                        };
                        let flagged = if opts.strip_boilerplate {
                            scan.boilerplate.mask.flagged(d)
                        } else {
                            Vec::new()
                        };
                        fates[s.process].push((c, size, rep, flagged));
                    }
                }
                fates
                    .iter()
                    .enumerate()
                    .map(|(q, f)| (q, encode(f)))
                    .collect()
            }
            None => Vec::new(),
        };
        let mut got: Vec<(usize, Vec<FateWire>)> = self.exchange(sends)?;
        Ok(got.pop().map(|g| g.1).unwrap_or_default())
    }

    /// This process's messages to process 0 with what it read, part by part.
    fn file_facts(&mut self) -> Vec<(usize, Vec<u8>)> {
        let l = &self.local;
        let mut sends = Vec::new();
        let mut d = 0usize;
        for (f, read) in self.own.iter().zip(&l.files) {
            let n = read.docs.len();
            let mut docs = Vec::with_capacity(n.min(PIECE));
            for (i, meta) in read.docs.iter().enumerate() {
                docs.push(DocWire {
                    id: meta.id.clone(),
                    source: meta.source.clone(),
                    date: meta.date.clone(),
                    path: meta.at.path.clone(),
                    line: meta.at.line,
                    chars: meta.chars,
                    empty: meta.empty,
                    date_value: read.dates[i],
                    date_unparsed: read.date_unparsed[i],
                    hash: l.hashes[d],
                    lines: l.lines[d],
                    len: l.lens[d],
                });
                d += 1;
                if docs.len() == PIECE {
                    sends.push((
                        0,
                        encode(&FileWire::Docs(*f as u32, std::mem::take(&mut docs))),
                    ));
                }
            }
            if !docs.is_empty() {
                sends.push((0, encode(&FileWire::Docs(*f as u32, docs))));
            }
            sends.push((
                0,
                encode(&FileWire::End {
                    part: *f as u32,
                    skipped: read.skipped.clone(),
                    files_skipped: read.files_skipped.examples.clone(),
                }),
            ));
        }
        sends
    }

    /// Process 0: the corpus's documents in order from every process's files (see
    /// [`Run::file_facts`]), as reading the whole corpus in one process gives them.
    fn join_files(
        &self,
        corpus: &Corpus,
        got: Vec<(usize, FileWire)>,
    ) -> Result<(Ingest, Vec<Span>, Vec<u32>)> {
        let cfg = self.cfg;
        let k = cfg.num_perm;
        let nfiles = corpus.files.len();
        let npieces = self.pieces.len();
        let mut docs: Vec<Vec<DocWire>> = (0..npieces).map(|_| Vec::new()).collect();
        let mut ends: Vec<Option<(usize, Skipped, Vec<SkippedFile>)>> =
            (0..npieces).map(|_| None).collect();
        for (from, w) in got {
            match w {
                FileWire::Docs(f, mut d) => docs[f as usize].append(&mut d),
                FileWire::End {
                    part,
                    skipped,
                    files_skipped,
                } => ends[part as usize] = Some((from, skipped, files_skipped)),
            }
        }
        let mut read = Ingested::new(corpus);
        let mut hashes = Vec::new();
        let mut lens = Vec::new();
        let mut empty = Vec::new();
        let mut lines = Vec::new();
        let first_sigs = Signatures::new(k, 0);
        let line_facts = LineFacts::default();
        let mut spans = Vec::with_capacity(npieces);
        let mut local_next = vec![0u32; self.net.peers()];
        let mut seen: HashMap<String, Location> = HashMap::new();
        // A file read in parts is empty when every part is (a part inside one long line has
        // no record of its own): the parts' notes are held until its last part.
        let mut parts_empty: Option<(bool, Option<SkippedFile>)> = None;
        for (f, file_docs) in docs.into_iter().enumerate() {
            let piece = self.pieces[f];
            let (from, skipped, mut files_skipped) = ends[f].take().ok_or_else(|| {
                Error::Distributed(format!(
                    "process {} sent no end for part {f} of the corpus (file {})",
                    piece.process, piece.file
                ))
            })?;
            if piece.cut.is_some() {
                let e = files_skipped.iter().position(|s| s.reason == "empty");
                let note = e.map(|i| files_skipped.remove(i));
                let (all, first) = parts_empty.get_or_insert((true, None));
                *all &= note.is_some();
                if first.is_none() {
                    *first = note;
                }
                let last = self.pieces.get(f + 1).is_none_or(|p| p.file != piece.file);
                if last {
                    if let Some((true, Some(note))) = parts_empty.take() {
                        files_skipped.push(note);
                    }
                    parts_empty = None;
                }
            }
            spans.push(Span {
                first: read.docs.len() as u32,
                count: file_docs.len() as u32,
                process: from,
                local: local_next[from],
            });
            local_next[from] += file_docs.len() as u32;
            // The counts of reading, as one process adds them in the files' order.
            read.skipped.total += skipped.total;
            for (r, n) in skipped.by_reason {
                *read.skipped.by_reason.entry(r).or_default() += n;
            }
            for e in skipped.examples {
                if read.skipped.examples.len() < 5 {
                    read.skipped.examples.push(e);
                }
            }
            for s in files_skipped {
                read.files_skipped.add(s);
            }
            for w in file_docs {
                let at = Location {
                    path: w.path,
                    line: w.line,
                };
                // Each process checked the ids within each file; ids across files are checked
                // here. A duplicate is an error whatever --on-error says: skipping it would
                // renumber the documents every process has numbered already.
                if let Some(first) = seen.get(&w.id) {
                    return Err(Error::record(
                        at,
                        RecordError::DuplicateId {
                            id: w.id,
                            first: first.clone(),
                        },
                    ));
                }
                seen.insert(w.id.clone(), at.clone());
                read.dates_unparsed += w.date_unparsed as u64;
                read.date_unparsed.push(w.date_unparsed);
                read.dates.push(w.date_value);
                hashes.push(w.hash);
                lens.push(w.len);
                empty.push(w.empty);
                lines.push(w.lines);
                read.docs.push(DocMeta {
                    id: w.id,
                    source: w.source,
                    date: w.date,
                    at,
                    chars: w.chars,
                    empty: w.empty,
                });
            }
        }
        read.files_read = nfiles as u64
            - read
                .files_skipped
                .by_reason
                .get("empty")
                .copied()
                .unwrap_or(0);
        if read.docs.len() >= u32::MAX as usize {
            return Err(Error::Param(
                "more than 4 billion documents in one run: split the corpus".into(),
            ));
        }
        let source = source_ids(&read.docs);
        let mut norm = TextStore::new(u64::MAX, MAX_CHUNK_BYTES);
        norm.seal()?;
        Ok((
            Ingest {
                read,
                norm,
                hashes,
                lens,
                empty,
                source,
                first_sigs,
                line_facts,
            },
            spans,
            lines,
        ))
    }

    /// Every process: fetches the normalized texts of documents `wanted` (process 0's list;
    /// empty elsewhere) from the processes that read them. Two exchanges on every process.
    fn fetch(&mut self, spans: &[Span], wanted: &[u32]) -> Result<HashMap<u32, NormDoc>> {
        // Requests: (document in the corpus, document on its process).
        let mut asks: Vec<Vec<(u32, u32)>> = vec![Vec::new(); self.net.peers()];
        for &d in wanted {
            let s = spans[spans.partition_point(|s| s.first + s.count <= d)];
            asks[s.process].push((d, s.local + (d - s.first)));
        }
        let sends = if self.leader() {
            asks.iter()
                .enumerate()
                .map(|(q, a)| (q, encode(a)))
                .collect()
        } else {
            Vec::new()
        };
        let got: Vec<(usize, Vec<(u32, u32)>)> = self.exchange(sends)?;
        let mut replies = Vec::new();
        for (_, asked) in got {
            for (d, local) in asked {
                self.local.norm.visit_doc(local as usize, &mut |doc| {
                    replies.push(NormWire {
                        doc: d,
                        text: doc.text.clone(),
                        line_starts: doc.line_starts.clone(),
                        line_keys: doc.line_keys.clone(),
                        line_forms: doc.line_forms.clone(),
                        exact_hash: doc.exact_hash,
                        chars: doc.chars,
                    })
                })?;
            }
        }
        let sends = if replies.is_empty() {
            Vec::new()
        } else {
            vec![(0, encode(&replies))]
        };
        let got: Vec<(usize, Vec<NormWire>)> = self.exchange(sends)?;
        Ok(got
            .into_iter()
            .flat_map(|(_, r)| r)
            .map(|w| {
                (
                    w.doc,
                    NormDoc {
                        text: w.text,
                        line_starts: w.line_starts,
                        line_keys: w.line_keys,
                        line_forms: w.line_forms,
                        exact_hash: w.exact_hash,
                        chars: w.chars,
                    },
                )
            })
            .collect())
    }

    /// Process 0: what each process needs to sketch its documents.
    fn plans(
        &self,
        input: &Ingest,
        spans: &[Span],
        groups: &crate::pipeline::steps::Groups,
        b: &Boilerplate,
    ) -> Vec<Plan> {
        let with_templates = template_docs(self.cfg) > 0;
        let flags = b.status == Status::Ok;
        let mut plans: Vec<Plan> = (0..self.net.peers())
            .map(|_| Plan {
                firsts: Vec::new(),
                active: Vec::new(),
                flagged: flags.then(Vec::new),
                source: if with_templates {
                    input.source.clone()
                } else {
                    Vec::new()
                },
            })
            .collect();
        for s in spans {
            let p = &mut plans[s.process];
            let base = p.active.len() as u32;
            p.firsts.push(s.first);
            for d in s.first..s.first + s.count {
                p.active.push(groups.active[d as usize]);
                if let Some(f) = &mut p.flagged {
                    for line in b.mask.flagged(d as usize) {
                        f.push((base + d - s.first, line));
                    }
                }
            }
        }
        plans
    }

    /// Every process: the final signatures of its documents, with the templates counted over
    /// all of them; process 0 gets the templates.
    #[allow(clippy::type_complexity)]
    fn final_signatures(&mut self, plan: &Plan, cx: Context, log: &mut RunLog) -> Result<Final> {
        let cfg = self.cfg;
        let norm = &self.local.norm;
        let n = norm.doc_count();
        let mask = plan.flagged.as_ref().map(|flagged| {
            let mut m = LineMask::new(norm.line_counts().into_iter().map(|c| c as usize));
            for &(d, line) in flagged {
                m.set(d as usize, line as usize);
            }
            m
        });
        let lines_only = Mask {
            lines: mask.as_ref(),
            templates: None,
        };
        let min_docs = template_docs(cfg);
        let mut templates = None;
        let mut local_templates = None;
        let sigs = if min_docs == 0 {
            sketch_all(
                norm,
                &plan.active,
                lines_only,
                Shingles::All,
                cfg,
                cx.progress,
            )?
        } else {
            // The corpus's index of each local document.
            let mut global = Vec::with_capacity(n);
            for (read, &first) in self.local.files.iter().zip(&plan.firsts) {
                global.extend(first..first + read.docs.len() as u32);
            }
            let peers = self.net.peers();
            let me = self.net.me();
            let mut sigs = Signatures::new(cfg.num_perm, n);
            // The keys this process counts, as the pieces of the pool made them, and those of
            // the others, packed (12 bytes each) by piece: each piece's vector goes as it is, as
            // a message of its own (joining them, and keys held 16 bytes each before packing,
            // cost a copy of every key and fresh pages each time).
            let mut mine: Vec<Vec<DocKey>> = Vec::new();
            let mut sends: Vec<(usize, Vec<u8>)> = Vec::new();
            norm.each_chunk(&mut |first, docs| {
                // On the pool, as one process takes them (vectors per piece).
                let parts: Vec<(Vec<DocKey>, Vec<Vec<u8>>)> = docs
                    .par_iter()
                    .enumerate()
                    .with_min_len(16)
                    .fold(
                        || (Vec::new(), vec![Vec::new(); peers], Vec::new()),
                        |(mut here, mut packed, mut out), (i, doc)| {
                            let d = first + i;
                            if plan.active[d] {
                                out.clear();
                                SourceTemplates::doc_keys_tagged(
                                    doc,
                                    d,
                                    global[d],
                                    mask.as_ref(),
                                    &mut out,
                                );
                                for k in &out {
                                    match key_process(k.key(), peers) {
                                        q if q == me => here.push(*k),
                                        q => pack_key(&mut packed[q], k),
                                    }
                                }
                            }
                            (here, packed, out)
                        },
                    )
                    .map(|(here, packed, _)| (here, packed))
                    .collect();
                for (here, packed) in parts {
                    if !here.is_empty() {
                        mine.push(here);
                    }
                    sends.extend(
                        packed
                            .into_iter()
                            .enumerate()
                            .filter(|(_, b)| !b.is_empty()),
                    );
                }
                sketch_into(
                    docs,
                    first,
                    &plan.active,
                    lines_only,
                    Shingles::All,
                    cfg,
                    &mut sigs,
                    cx.progress,
                );
                crate::pipeline::check_cancelled(cx.progress)
            })?;
            self.net.mark("source_templates_sketch");
            log.lap("source_templates_sketch")?;
            let got = self.net.exchange(sends)?;
            // Counted by partition of the keys' top byte, as one process counts them: a
            // partition's counters stay in cache (counting all the keys at once took most of
            // this step), and the keys spill past the budget's share.
            let mut runs: Runs<DocKey> =
                Runs::new(cx.budget.share(TEMPLATE_SHARE), |k| (k.key() >> 56) as u8);
            for (from, ks) in got {
                mine.push(unpack_keys(from, &ks)?);
            }
            runs.extend_parts(mine)?;
            let counted =
                runs.partitions(|part| SourceTemplates::count_part(part, min_docs, &plan.source))?;
            let mut joined = (Vec::new(), Vec::new(), Vec::new());
            let mut pairs = Vec::new();
            for (k, h, p) in counted {
                joined.0.extend(k);
                joined.1.extend(h);
                pairs.extend(p);
            }
            // A pair comes once per passage mark its documents share: process 0 counts its
            // entries from every process against PASSAGE_MIN_SHARED, so no more than that many
            // need to go (most of this step's bytes went to repeats).
            pairs.par_sort_unstable();
            for run in pairs.chunk_by(|a, b| a == b) {
                joined
                    .2
                    .extend_from_slice(&run[..run.len().min(boilerplate::PASSAGE_MIN_SHARED)]);
            }
            drop(pairs);
            let got: Vec<(usize, (Vec<u64>, Vec<u32>, Vec<(u32, u32)>))> =
                exchange(self.net, vec![(0, encode(&joined))])?;
            self.net.mark("template_count");
            log.lap("template_count")?;
            // Process 0: the templates, and each process's documents that hold one.
            let sends = match self.leader() {
                true => {
                    let spans = &self.spans;
                    let (mut keys, mut holders, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
                    for (_, (k, h, p)) in got {
                        keys.extend(k);
                        holders.extend(h);
                        pairs.extend(p);
                    }
                    keys.sort_unstable();
                    holders.sort_unstable();
                    holders.dedup();
                    let mut by_process: Vec<Vec<u32>> = vec![Vec::new(); peers];
                    for &d in &holders {
                        let s = spans[spans.partition_point(|s| s.first + s.count <= d)];
                        by_process[s.process].push(s.local + (d - s.first));
                    }
                    let sends = by_process
                        .iter()
                        .enumerate()
                        .map(|(q, h)| (q, encode(&(keys.clone(), h.clone()))))
                        .collect();
                    templates = Some(SourceTemplates::from_parts(
                        keys,
                        holders,
                        boilerplate::shared_passages(pairs),
                    ));
                    sends
                }
                false => Vec::new(),
            };
            let mut got: Vec<(usize, (Vec<u64>, Vec<u32>))> = exchange(self.net, sends)?;
            let (keys, holders) = got.pop().expect("templates from process 0").1;
            let here = SourceTemplates::from_parts(keys, holders, Vec::new());
            let both = Mask {
                lines: mask.as_ref(),
                templates: Some(&here),
            };
            resketch(norm, here.documents(), both, cfg, &mut sigs, cx.progress)?;
            self.net.mark("template_resketch");
            log.lap("template_resketch")?;
            local_templates = Some(here);
            sigs
        };
        if min_docs == 0 {
            self.net.mark("sketch");
            log.lap("sketch")?;
        }
        Ok(Final {
            templates,
            sigs,
            lines: mask,
            local_templates,
        })
    }

    /// Process 0: every document's final set size (0: not sketched), in the corpus's order.
    fn gather_sizes(&mut self, plan: &Plan, sigs: &Signatures) -> Result<Option<Vec<u32>>> {
        let mut sends = Vec::new();
        let mut d = 0;
        for (read, &first) in self.local.files.iter().zip(&plan.firsts) {
            let count = read.docs.len();
            sends.push((0, encode(&(first, sigs.sizes[d..d + count].to_vec()))));
            d += count;
        }
        let got: Vec<(usize, (u32, Vec<u32>))> = exchange(self.net, sends)?;
        Ok(self.leader().then(|| {
            let total = self
                .spans
                .last()
                .map_or(0, |s| (s.first + s.count) as usize);
            let mut all = vec![0; total];
            for (_, (first, sizes)) in got {
                let f = first as usize;
                all[f..f + sizes.len()].copy_from_slice(&sizes);
            }
            all
        }))
    }
}

/// Sends every `(process, message)` and returns the messages sent to this one, decoded.
fn exchange<T: DeserializeOwned>(
    net: &mut net::Net,
    sends: Vec<(usize, Vec<u8>)>,
) -> Result<Vec<(usize, T)>> {
    let got = net.exchange(sends)?;
    got.into_iter()
        .map(|(from, b)| Ok((from, decode(from, &b)?)))
        .collect()
}

/// Appends template key `k` for its owner, 12 bytes (key, document; little-endian): the
/// largest message of a run, written and read in one pass (bincode goes through serde element
/// by element).
fn pack_key(b: &mut Vec<u8>, k: &DocKey) {
    b.extend_from_slice(&k.key().to_le_bytes());
    b.extend_from_slice(&k.doc().to_le_bytes());
}

/// The keys [`pack_key`] wrote.
fn unpack_keys(from: usize, b: &[u8]) -> Result<Vec<DocKey>> {
    if b.len() % 12 != 0 {
        return Err(Error::Distributed(format!(
            "a message from process {from} cannot be read (template keys of {} bytes): are all \
             processes the same syndic version?",
            b.len()
        )));
    }
    Ok(b.chunks_exact(12)
        .map(|c| {
            let k = u64::from_le_bytes(c[..8].try_into().expect("8 bytes"));
            let d = u32::from_le_bytes(c[8..].try_into().expect("4 bytes"));
            DocKey::new(k, d)
        })
        .collect())
}

/// The process that read document `d` of the corpus, and its index there.
fn place(spans: &[Span], d: u32) -> (usize, u32) {
    let s = spans[spans.partition_point(|s| s.first + s.count <= d)];
    (s.process, s.local + (d - s.first))
}

/// The process that owns key `key` (a template n-gram's, a line's or a band's): its bits from 8
/// up, modulo the processes (the sampled template keys are even and the passage marks a multiple
/// of 8; the counters that find repeated keys read bits 24 and up, the partitions and the
/// template filter the top ones: with 2 processes, bit 24 taken for the owner left half of each
/// owner's counters unused).
fn key_process(key: u64, peers: usize) -> usize {
    ((key >> 8) % peers as u64) as usize
}

/// Process 0: the boilerplate from the occurrences gathered by key (see [`lines`]), or its
/// refinement of `prev`.
fn detect(
    found: &lines::ByKey,
    docs: &Fetched,
    facts: &boilerplate::DocFacts,
    opts: &boilerplate::BoilerplateOptions,
    prev: Option<&Boilerplate>,
) -> Result<Boilerplate> {
    let sentence = |d: usize, i: usize| found.sentence(d, i);
    let next = |d: usize, i: usize| found.next(d, i);
    boilerplate::detect_gathered(&found.occ, &sentence, &next, docs, facts, opts, prev)
}

/// The texts process 0 has of the documents held elsewhere: those fetched, and blank ones (as
/// many empty lines) for the others, whose numbers it notes. Boilerplate detection reads only
/// the sample line of each template: it runs once with none fetched to learn which documents
/// those are, and again with them (the same flags: the samples only order the templates).
struct Fetched<'a> {
    lines: &'a [u32],
    docs: HashMap<u32, NormDoc>,
    missing: Mutex<Vec<u32>>,
}

impl<'a> Fetched<'a> {
    fn new(lines: &'a [u32], docs: HashMap<u32, NormDoc>) -> Self {
        Fetched {
            lines,
            docs,
            missing: Mutex::new(Vec::new()),
        }
    }

    /// The documents asked for and not here, sorted and distinct.
    fn missing(&self) -> Vec<u32> {
        let mut m = self
            .missing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        m.sort_unstable();
        m.dedup();
        m
    }

    /// An error if a document was asked for and not here.
    fn check(&self) -> Result<()> {
        match self.missing().first() {
            None => Ok(()),
            Some(d) => Err(Error::Distributed(format!(
                "the text of document {d} was not fetched from its process"
            ))),
        }
    }
}

fn blank(lines: u32) -> NormDoc {
    let n = lines.max(1) as usize;
    NormDoc {
        text: "\n".repeat(n - 1),
        line_starts: (0..n as u32).collect(),
        line_keys: vec![0; n],
        line_forms: vec![0; n],
        exact_hash: 0,
        chars: 0,
    }
}

impl Docs for Fetched<'_> {
    fn doc_count(&self) -> usize {
        self.lines.len()
    }
    fn each_chunk(&self, _: &mut dyn FnMut(usize, &[NormDoc]) -> Result<()>) -> Result<()> {
        Err(Error::Distributed(
            "process 0 does not hold the texts of the corpus".into(),
        ))
    }
    fn visit_doc(&self, d: usize, f: &mut dyn FnMut(&NormDoc)) -> Result<()> {
        match self.docs.get(&(d as u32)) {
            Some(doc) => f(doc),
            None => {
                self.missing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(d as u32);
                f(&blank(self.lines[d]))
            }
        }
        Ok(())
    }
    fn lines_per_doc(&self) -> Vec<u32> {
        self.lines.to_vec()
    }
}

/// Line counts standing for documents whose texts are not needed.
struct BlankDocs(Vec<u32>);

impl Docs for BlankDocs {
    fn doc_count(&self) -> usize {
        self.0.len()
    }
    fn each_chunk(&self, _: &mut dyn FnMut(usize, &[NormDoc]) -> Result<()>) -> Result<()> {
        Err(Error::Distributed(
            "process 0 does not hold the texts of the corpus".into(),
        ))
    }
    fn visit_doc(&self, d: usize, f: &mut dyn FnMut(&NormDoc)) -> Result<()> {
        f(&blank(self.0[d]));
        Ok(())
    }
    fn lines_per_doc(&self) -> Vec<u32> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hosts file: blank lines and comments left out, every other line `host:port`; the
    /// process must be one of its lines.
    #[test]
    fn hosts_files_list_host_port_lines_and_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "# the run\n10.0.0.1:7000\n\n  10.0.0.2:7000 \n").unwrap();
        let c = Cluster::from_hosts_file(&path, 1).unwrap();
        assert_eq!(c.hosts, ["10.0.0.1:7000", "10.0.0.2:7000"]);
        assert_eq!(c.process, 1);
        assert_eq!(c.connect_timeout, CONNECT_TIMEOUT);
        let e = Cluster::from_hosts_file(&path, 2).unwrap_err().to_string();
        assert!(
            e.contains("process 2 is not in") && e.contains("2 processes"),
            "{e}"
        );
        std::fs::write(&path, "10.0.0.1:7000\nhost-without-port\n").unwrap();
        let e = Cluster::from_hosts_file(&path, 0).unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("host-without-port"),
            "{e}"
        );
    }

    /// The sampled template keys are even: the process that counts a key is taken from other
    /// bits, so that every process counts a share.
    #[test]
    fn template_keys_spread_over_every_process() {
        for peers in [2usize, 3, 4] {
            let mut counts = vec![0u32; peers];
            for i in 0..30_000u64 {
                let key = xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()) & !1;
                counts[key_process(key, peers)] += 1;
            }
            let least = *counts.iter().min().unwrap() as f64;
            assert!(least > 0.9 * 30_000.0 / peers as f64, "{peers}: {counts:?}");
        }
    }

    /// Template keys come back as they were sent; a message of another length is an error.
    #[test]
    fn template_keys_are_unpacked_as_packed() {
        let keys = [
            (0u64, 0u32),
            (u64::MAX, 7),
            (0x0123_4567_89ab_cdef, u32::MAX),
        ];
        let mut packed = Vec::new();
        for &(k, d) in &keys {
            pack_key(&mut packed, &DocKey::new(k, d));
        }
        let got = unpack_keys(1, &packed).unwrap();
        let back: Vec<(u64, u32)> = got.iter().map(|k| (k.key(), k.doc())).collect();
        assert_eq!(back, keys);
        let e = unpack_keys(1, &[0; 13]).unwrap_err().to_string();
        assert!(e.contains("process 1"), "{e}");
    }

    /// A blank stand-in has the document's number of lines, all empty.
    #[test]
    fn blank_documents_have_the_lines_of_the_document_all_empty() {
        for n in [0u32, 1, 4] {
            let d = blank(n);
            assert_eq!(d.lines(), n.max(1) as usize);
            assert!((0..d.lines()).all(|i| d.line(i).is_empty()));
        }
    }
}
