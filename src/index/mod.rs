//! An incremental index on disk: add documents batch by batch, ask whether new ones are copies
//! of indexed ones, export the report a scan of everything indexed would give.
//!
//! An index is a folder of immutable segment files (one per add, merged in tiers; see
//! `segment`) and a `MANIFEST` naming them with their checksums, the parameters that decide
//! results, the furniture lines found so far and the deleted documents. Writing the manifest
//! (to a temporary file, synced, renamed, the folder synced) is the only commit: a process
//! killed at any moment leaves the index at its last commit or at the new one. Readers map the
//! files of one commit and never see a later one half written.
//!
//! Each add runs the scan's stages over its own documents only: normalize, sketch without the
//! furniture lines known so far, band, verify against the indexed documents found through the
//! stored band postings, cluster each document with its best match; then the line statistics
//! of the batch's lines are counted over the index (stored line postings and each document's
//! cluster as its story), and a line that now passes the boilerplate rule becomes furniture.
//! [`Index::export`] runs the whole scan again over the stored texts, in the order they were
//! added, so its report is the scan's.
//!
//! ```no_run
//! use syndic::index::Index;
//! use syndic::{Config, Corpus, Document, OnError};
//! let index = Index::create("news.idx".as_ref(), &Config::default())?;
//! let docs = Corpus::from_documents(vec![Document::new("a1", "Some story ...")]);
//! let (index, added) = index.add(&docs, &Default::default(), OnError::Fail)?;
//! let answers = index.check(&Corpus::from_documents(vec![Document::new("q", "Some story ...")]),
//!     &Default::default(), OnError::Fail)?;
//! println!("{} added; duplicate: {}", added.added, answers.results[0].duplicate);
//! # Ok::<(), syndic::Error>(())
//! ```

mod segment;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::boilerplate::LineMask;
use crate::error::{Error, Location, RecordError, Result};
use crate::ingest::Skipped;
use crate::normalize::{normalize_doc, NormDoc};
use crate::pipeline::{self, sketch_doc, Config, Mask, Progress, Scan, Shingles};
use crate::read::{Corpus, Document, Entry, Fields, OnError, Record};
use crate::sketch::{self, Sketcher};
use crate::spill::Budget;
use crate::verify::{within_a_day, PairScore, VerifyRule};
use segment::{DocData, Segment};

/// The manifest's `format`.
pub const FORMAT: &str = "syndic-index";
/// The version of the on-disk format this build reads and writes.
pub const VERSION: u32 = 2;
const MANIFEST: &str = "MANIFEST";
const LOCK: &str = "LOCK";
/// How long a writer waits for another to release the index.
const LOCK_WAIT_MS: u64 = 10_000;
/// Segments of one size tier (a power of this many documents) merge when this many gather.
const MERGE_FACTOR: usize = 8;
/// zstd level of the stored texts.
const TEXT_LEVEL: i32 = 1;

/// A file the manifest names, with what it must hold.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct FileEntry {
    file: String,
    bytes: u64,
    /// xxh3-64 of the whole file, hex.
    xxh3: String,
    /// Documents (segments only).
    #[serde(default)]
    docs: u64,
}

/// The commit point: everything a reader needs to know about one state of the index.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    format: String,
    version: u32,
    /// Counts commits.
    generation: u64,
    /// The parameters that decide results (input options left at their defaults).
    params: Config,
    /// The next document's place in the order of addition.
    next_seq: u64,
    /// The next file number.
    next_file: u64,
    /// Counts changes to the furniture lines.
    furniture_gen: u32,
    segments: Vec<FileEntry>,
    /// Sorted (line key u64, generation u32) of every furniture line.
    furniture: Option<FileEntry>,
    /// Sorted `seq` (u64) of deleted documents that segments still hold.
    tombstones: Option<FileEntry>,
}

/// Counts file operations for the crash tests: with `SYNDIC_INDEX_FAILPOINT=N` in the
/// environment, the process aborts (as `kill -9` would stop it) at the Nth write, sync, rename
/// or removal of an index file.
pub(crate) fn fail_point(_what: &str) -> Result<()> {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    if let Some(n) = *AT.get_or_init(|| {
        std::env::var("SYNDIC_INDEX_FAILPOINT")
            .ok()
            .and_then(|v| v.parse().ok())
    }) {
        if COUNT.fetch_add(1, Ordering::SeqCst) + 1 == n {
            std::process::abort();
        }
    }
    Ok(())
}

fn hex(v: u64) -> String {
    format!("{v:016x}")
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Output {
        path: path.to_path_buf(),
        source: e,
    }
}

fn index_err(dir: &Path, msg: impl Into<String>) -> Error {
    Error::Index {
        path: dir.to_path_buf(),
        msg: msg.into(),
    }
}

/// Syncs a folder, so that the renames in it are durable.
fn sync_dir(dir: &Path) -> Result<()> {
    fail_point("fsync dir")?;
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_err(dir))
}

/// The parameters as the manifest keeps them: those that decide results (the input's field
/// names and error policy are a matter of each add).
fn stored_params(cfg: &Config) -> Config {
    Config {
        fields: Fields::default(),
        on_error: OnError::Fail,
        // An index verifies on the signatures whatever the mode (a scan's default rechecks
        // some pairs on their texts; an index does not).
        verify: crate::verify::Mode::Estimate,
        ..cfg.clone()
    }
}

/// The parameters that differ between an index's and others, as `name: index X, given Y`.
pub fn param_differences(index: &Config, given: &Config) -> Vec<String> {
    let a = serde_json::to_value(stored_params(index)).unwrap_or_default();
    let b = serde_json::to_value(stored_params(given)).unwrap_or_default();
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return vec!["params".into()];
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, v)| {
            let given = b.get(k).cloned().unwrap_or_default();
            format!("{k}: index {v}, given {given}")
        })
        .collect()
}

impl Manifest {
    fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(index_err(
                    dir,
                    "not an index (no MANIFEST; make one with `syndic index create`)",
                ))
            }
            Err(e) => return Err(index_err(dir, format!("cannot read MANIFEST: {e}"))),
        };
        let damaged = || index_err(dir, "MANIFEST is damaged (its checksum does not match)");
        let (body, sum) = text.rsplit_once("\nxxh3:").ok_or_else(damaged)?;
        if sum.trim() != hex(xxhash_rust::xxh3::xxh3_64(body.as_bytes())) {
            return Err(damaged());
        }
        let m: Manifest = serde_json::from_str(body)
            .map_err(|e| index_err(dir, format!("MANIFEST cannot be read: {e}")))?;
        if m.format != FORMAT || m.version != VERSION {
            return Err(index_err(
                dir,
                format!(
                    "made by another version of syndic (format {} version {}; this one reads {FORMAT} version {VERSION})",
                    m.format, m.version
                ),
            ));
        }
        Ok(m)
    }

    /// Commits: writes the manifest beside the old one, syncs it, renames it over, syncs the
    /// folder.
    fn write(&self, dir: &Path) -> Result<()> {
        let body = serde_json::to_string_pretty(self).expect("manifest serializes");
        let text = format!(
            "{body}\nxxh3:{}\n",
            hex(xxhash_rust::xxh3::xxh3_64(body.as_bytes()))
        );
        segment::write_file(&dir.join(MANIFEST), text.as_bytes())?;
        sync_dir(dir)
    }

    fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.segments
            .iter()
            .chain(&self.furniture)
            .chain(&self.tombstones)
    }
}

/// One indexed document's match.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub id: String,
    /// Estimated Jaccard similarity of the signed texts.
    pub similarity: f64,
    /// Estimated share of the smaller text's shingles in the larger.
    pub containment: f64,
}

/// The answer for one document: `index check`'s line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    /// Whether any indexed document is a copy (the matches are not empty).
    pub duplicate: bool,
    /// Copies among the indexed documents, most similar first.
    pub matches: Vec<Match>,
    /// The id of the representative of the best match's cluster (the best match itself when
    /// that representative has left the index); none without a match.
    pub cluster: Option<String>,
}

/// What a check gave.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// One per document read, in input order.
    pub results: Vec<CheckResult>,
    /// Records that were not read (with [`OnError::Skip`]).
    pub skipped: Skipped,
}

/// Documents a [`Checker`] hands to the pool at a time.
const CHECK_CHUNK: usize = 32;

/// Documents few enough to sign on the calling thread.
const FEW: usize = 4;

/// A chunk of a check, signed: its number, its documents' ids and what lookups need (or the
/// message of a panic).
type SignedChunk = (usize, std::result::Result<(Vec<String>, Vec<Prep>), String>);

/// A check fed one document at a time ([`Index::checker`]).
pub struct Checker {
    index: Index,
    pending: Vec<Record>,
    chunks: usize,
    count: usize,
    skipped: Skipped,
    tx: std::sync::mpsc::Sender<SignedChunk>,
    rx: std::sync::mpsc::Receiver<SignedChunk>,
}

impl Checker {
    /// Adds a document to the check (its place in the answers: the order of the calls). A text
    /// holding a NUL byte is an [`Error::Record`] at `<memory>:N`, N its place from 1.
    pub fn push(&mut self, doc: Document) -> Result<()> {
        let r = crate::read::document_record(doc, self.count)?;
        self.push_record(r);
        Ok(())
    }

    fn push_record(&mut self, r: Record) {
        self.count += 1;
        self.pending.push(r);
        if self.pending.len() == CHECK_CHUNK {
            self.send();
        }
    }

    /// Hands the pending documents to the pool.
    fn send(&mut self) {
        let recs = std::mem::replace(&mut self.pending, Vec::with_capacity(CHECK_CHUNK));
        let (index, tx, n) = (self.index.clone(), self.tx.clone(), self.chunks);
        self.chunks += 1;
        rayon::spawn(move || {
            // A panic in a spawned job would abort the process: it is sent as an error.
            let signed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let preps = index.prepare(&recs);
                (recs.into_iter().map(|r| r.id).collect(), preps)
            }))
            .map_err(|p| {
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            });
            // The receiver is gone only when the check was dropped unfinished.
            let _ = tx.send((n, signed));
        });
    }

    /// The answers, one per document pushed, in order.
    pub fn finish(mut self) -> Result<Checked> {
        if self.chunks == 0 && self.pending.len() <= FEW {
            // A check of a few documents: signed here (see `Index::prepare`).
            let preps = self.index.prepare(&self.pending);
            let ids = self.pending.drain(..).map(|r| r.id).collect();
            return Ok(Checked {
                results: self.index.answers(ids, preps)?,
                skipped: self.skipped,
            });
        }
        if !self.pending.is_empty() {
            self.send();
        }
        let Checker {
            index,
            chunks,
            count,
            skipped,
            tx,
            rx,
            ..
        } = self;
        drop(tx);
        let mut parts: Vec<Option<(Vec<String>, Vec<Prep>)>> = (0..chunks).map(|_| None).collect();
        for (n, signed) in rx {
            let part = signed.map_err(|msg| Error::Index {
                path: index.dir.clone(),
                msg: format!("signing the documents failed (internal error: {msg})"),
            })?;
            parts[n] = Some(part);
        }
        let mut ids = Vec::with_capacity(count);
        let mut preps = Vec::with_capacity(count);
        for part in parts {
            let (i, p) = part.expect("every chunk sent its part or an error");
            ids.extend(i);
            preps.extend(p);
        }
        Ok(Checked {
            results: index.answers(ids, preps)?,
            skipped,
        })
    }
}

/// What an add did.
#[derive(Clone, Debug, Default)]
pub struct Added {
    /// Documents added.
    pub added: u64,
    /// Records not added (unreadable, or an id already indexed or repeated), by reason.
    pub skipped: Skipped,
    /// Each added document checked against the index and the batch's earlier documents.
    pub results: Vec<CheckResult>,
    /// Lines that became furniture with this batch.
    pub new_furniture: u64,
    /// Segments merged into larger ones by this commit.
    pub merged_segments: u64,
}

/// Counts of an index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexStats {
    pub documents: u64,
    /// Deleted documents that segment files still hold (until their next merge).
    pub deleted_pending: u64,
    pub segments: u64,
    /// Bytes of every file of the commit, the manifest included.
    pub bytes: u64,
    /// Bytes of the compressed texts among them.
    pub text_bytes: u64,
    pub furniture_lines: u64,
    pub generation: u64,
    pub params: Config,
}

/// One state (commit) of an index, opened for reading. Cheap to clone: every clone shares the
/// mapped files. A change ([`Index::add`], [`Index::delete`], [`Index::expire`]) commits and
/// returns the new state; states opened before keep answering from their own files.
#[derive(Clone)]
pub struct Index {
    dir: PathBuf,
    m: Arc<Manifest>,
    segs: Vec<Arc<Segment>>,
    /// Line key → the furniture generation that flagged it.
    furniture: Arc<HashMap<u64, u32>>,
    /// `seq` of deleted documents.
    tombs: Arc<HashSet<u64>>,
}

/// Holds the index's write lock until dropped.
struct WriteLock(#[allow(dead_code)] File);

/// A document prepared for matching and storing.
struct Prep {
    norm: NormDoc,
    sig: Vec<u32>,
    size: u32,
    band_keys: Vec<u64>,
    line_keys: Vec<u64>,
    date: Option<i64>,
    date_unparsed: bool,
    empty: bool,
}

/// The buffers of one thread's lookups ([`Index::lookup_one`]), kept from one query to the next.
#[derive(Default)]
struct Scratch {
    keys: Vec<(u64, u32)>,
    join: Vec<(u32, u32)>,
    cands: Vec<(u32, u32)>,
    low: Vec<u8>,
    buf: Vec<u8>,
    sig: Vec<u32>,
}

/// A match among the indexed documents (or a batch's earlier ones).
#[derive(Clone, Copy)]
struct Hit {
    /// Where: `(segment, document)`, or `(u32::MAX, batch index)`.
    at: (u32, u32),
    seq: u64,
    cluster: u64,
    score: PairScore,
    /// A copy by the second rule alone (dated within a day): it is answered as a match but
    /// decides no cluster, as such a pair is a link in a scan.
    dated: bool,
}

impl Index {
    /// Makes a new, empty index in `dir` (created if needed) with the parameters of `cfg`. An
    /// index already there with the same parameters is opened; with others, it is an error
    /// that names the parameters that differ.
    pub fn create(dir: &Path, cfg: &Config) -> Result<Index> {
        cfg.validate()?;
        if dir.join(MANIFEST).exists() {
            let index = Index::open(dir)?;
            let diff = param_differences(index.params(), cfg);
            if !diff.is_empty() {
                return Err(index_err(
                    dir,
                    format!(
                        "already an index with other parameters ({}); use another folder",
                        diff.join("; ")
                    ),
                ));
            }
            return Ok(index);
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let _lock = lock(dir)?;
        let m = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            generation: 1,
            params: stored_params(cfg),
            next_seq: 0,
            next_file: 1,
            furniture_gen: 0,
            segments: Vec::new(),
            furniture: None,
            tombstones: None,
        };
        m.write(dir)?;
        Index::open(dir)
    }

    /// Opens the last commit of the index in `dir`. Maps its files; reads whole only the
    /// manifest, the furniture lines and the deletions.
    pub fn open(dir: &Path) -> Result<Index> {
        // A writer in another process may remove a file of the commit just read, once its own
        // is made: read the manifest again then.
        let mut tries = 0;
        loop {
            match Index::open_once(dir) {
                Err(Error::Index { .. })
                    if tries < 3 && {
                        tries += 1;
                        Manifest::read(dir)
                            .map(|m| m.files().any(|f| !dir.join(&f.file).exists()))
                            .unwrap_or(false)
                    } =>
                {
                    continue
                }
                r => return r,
            }
        }
    }

    fn open_once(dir: &Path) -> Result<Index> {
        let m = Manifest::read(dir)?;
        m.params.validate()?;
        let segs = m
            .segments
            .iter()
            .map(|f| Segment::open(&dir.join(&f.file), m.params.num_perm).map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        let mut furniture = HashMap::new();
        if let Some(f) = &m.furniture {
            let bytes = read_small(dir, f)?;
            for c in bytes.chunks_exact(12) {
                furniture.insert(
                    u64::from_le_bytes(c[..8].try_into().unwrap()),
                    u32::from_le_bytes(c[8..].try_into().unwrap()),
                );
            }
        }
        let mut tombs = HashSet::new();
        if let Some(f) = &m.tombstones {
            let bytes = read_small(dir, f)?;
            tombs.extend(
                bytes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap())),
            );
        }
        Ok(Index {
            dir: dir.to_path_buf(),
            m: Arc::new(m),
            segs,
            furniture: Arc::new(furniture),
            tombs: Arc::new(tombs),
        })
    }

    /// Hands back the pages of the index's files that reads through their memory maps have
    /// mapped: adds (their merges and id lookups) and exports read whole sections that way, and
    /// the kernel counts the pages a process has touched in its resident memory. The pages stay
    /// in the page cache, so the next reads find them there. A long-running process, such as
    /// `syndic serve`, calls this after each change.
    pub fn release_pages(&self) {
        for s in &self.segs {
            s.release();
        }
    }

    /// The parameters the index was made with.
    pub fn params(&self) -> &Config {
        &self.m.params
    }

    /// The folder of the index.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The commit this state is.
    pub fn generation(&self) -> u64 {
        self.m.generation
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.segs.iter().map(|s| s.len() as u64).sum::<u64>() - self.tombs.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counts, sizes and parameters.
    pub fn stats(&self) -> IndexStats {
        let manifest = std::fs::metadata(self.dir.join(MANIFEST)).map_or(0, |m| m.len());
        IndexStats {
            documents: self.len(),
            deleted_pending: self.tombs.len() as u64,
            segments: self.segs.len() as u64,
            bytes: manifest + self.m.files().map(|f| f.bytes).sum::<u64>(),
            text_bytes: self.segs.iter().map(|s| s.text_bytes() as u64).sum(),
            furniture_lines: self.furniture.len() as u64,
            generation: self.m.generation,
            params: self.m.params.clone(),
        }
    }

    fn cfg(&self) -> &Config {
        &self.m.params
    }

    /// Reads the records of `corpus` (under `on_error`, as a scan does).
    fn records(
        &self,
        corpus: &Corpus,
        fields: &Fields,
        on_error: OnError,
    ) -> Result<(Vec<Record>, Skipped)> {
        let mut out = Vec::new();
        let mut skipped = Skipped::default();
        for e in corpus.records(fields, on_error) {
            match e? {
                Entry::Doc(r) => out.push(r),
                Entry::Skipped { at, error } => skipped.add(&at, &error),
            }
        }
        Ok((out, skipped))
    }

    /// Normalizes and sketches `recs` with the furniture lines of this state left out.
    fn prepare(&self, recs: &[Record]) -> Vec<Prep> {
        let cfg = self.cfg();
        let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
        let prep = |r: &Record| {
            let norm = normalize_doc(&r.text, &cfg.normalize);
            let date = r.date.as_deref().map(crate::date::parse);
            let mut line_keys: Vec<u64> =
                norm.line_keys.iter().copied().filter(|&k| k != 0).collect();
            line_keys.sort_unstable();
            line_keys.dedup();
            let empty = r.text.trim().is_empty();
            let mut p = Prep {
                norm,
                sig: vec![sketch::EMPTY; cfg.num_perm],
                size: 0,
                band_keys: Vec::new(),
                line_keys,
                date: date.flatten(),
                date_unparsed: matches!(date, Some(None)),
                empty,
            };
            if !empty {
                self.sketch(&sketcher, &mut p);
            }
            p
        };
        // A few documents are signed on this thread: handing them to the pool and back costs
        // a single-document check more than signing it.
        if recs.len() <= FEW {
            recs.iter().map(prep).collect()
        } else {
            recs.par_iter().map(prep).collect()
        }
    }

    /// Signs `p` without its furniture lines, and takes its band keys.
    fn sketch(&self, sketcher: &Sketcher, p: &mut Prep) {
        let cfg = self.cfg();
        let mut mask = LineMask::new(std::iter::once(p.norm.lines()));
        let mut masked = false;
        for (i, k) in p.norm.line_keys.iter().enumerate() {
            if *k != 0 && self.furniture.contains_key(k) {
                mask.set(0, i);
                masked = true;
            }
        }
        let mask = Mask {
            lines: masked.then_some(&mask),
            templates: None,
        };
        p.sig.fill(sketch::EMPTY);
        p.size = sketch_doc(
            sketcher,
            &p.norm,
            0,
            mask,
            Shingles::All,
            cfg.shingle,
            &mut p.sig,
        );
        p.band_keys = if p.size == 0 {
            Vec::new()
        } else {
            (0..cfg.banding.bands)
                .map(|b| cfg.banding.key(&p.sig, b))
                .collect()
        };
    }

    /// Whether the configured date window lets two documents match.
    fn dates_allow(&self, a: (Option<i64>, bool), b: (Option<i64>, bool)) -> bool {
        let Some(days) = self.cfg().max_days else {
            return true;
        };
        if a.1 || b.1 {
            return false;
        }
        match (a.0, b.0) {
            (Some(x), Some(y)) => (x - y).unsigned_abs() <= days as u64 * 86_400,
            _ => true,
        }
    }

    /// For each of `preps`, the indexed documents (deleted ones left out) it is a copy of, each
    /// query looked up on its own ([`Index::lookup_one`]) over the pool: no step of a batch's
    /// lookup waits for the whole batch or runs on one thread.
    fn lookup(&self, preps: &[Prep]) -> Result<Vec<Vec<Hit>>> {
        let rule = self.cfg().verify_rule();
        // A few documents are looked up on this thread (see `Index::prepare`).
        if preps.len() <= FEW {
            let mut scratch = Scratch::default();
            return preps
                .iter()
                .map(|p| self.lookup_one(&rule, p, &mut scratch))
                .collect();
        }
        preps
            .par_iter()
            .map_init(Scratch::default, |scratch, p| {
                self.lookup_one(&rule, p, scratch)
            })
            .collect()
    }

    /// The indexed documents (deleted ones left out) that `p` is a copy of, in no order.
    ///
    /// 1. Candidates: the documents under each of its band keys in each segment
    ///    ([`Segment::band_join`], at most `max_bucket` a key, as a scan compares), each once.
    /// 2. Bound: two equal signature values have equal low bytes, so the count of equal low
    ///    bytes bounds the count of equal values from above, and the rule, which accepts more
    ///    as the similarity grows, rejects the pair if it rejects the bound (taken as if the
    ///    pair were dated within a day): the same decisions as comparing every signature, from
    ///    a quarter of the bytes, which stay mapped. Each candidate's row is asked for a few
    ///    candidates ahead, so that the cache misses of rows overlap instead of coming one at a
    ///    time.
    /// 3. The few left open (not deleted, within the date window) are verified on their
    ///    signatures, read by positioned reads, which keep them out of the service's resident
    ///    memory.
    fn lookup_one(&self, rule: &VerifyRule, p: &Prep, s: &mut Scratch) -> Result<Vec<Hit>> {
        let mut hits = Vec::new();
        if p.size == 0 {
            return Ok(hits);
        }
        let max_bucket = self.cfg().max_bucket;
        s.keys.clear();
        s.keys.extend(p.band_keys.iter().map(|&k| (k, 0)));
        s.keys.sort_unstable();
        s.cands.clear();
        for (si, seg) in self.segs.iter().enumerate() {
            s.join.clear();
            seg.band_join(&s.keys, max_bucket, &mut s.join);
            s.cands.extend(s.join.iter().map(|&(_, d)| (si as u32, d)));
        }
        s.cands.sort_unstable();
        s.cands.dedup();
        s.low.clear();
        s.low.extend(p.sig.iter().map(|&v| v as u8));
        const AHEAD: usize = 8;
        for k in 0..s.cands.len() {
            if let Some(&(si, d)) = s.cands.get(k + AHEAD) {
                let row = self.segs[si as usize].low_row(d as usize);
                crate::isa::prefetch(&row[0]);
                crate::isa::prefetch(&row[row.len() / 2]);
                crate::isa::prefetch(&row[row.len() - 1]);
            }
            let (si, d) = s.cands[k];
            let seg = &self.segs[si as usize];
            let (size, theirs) = seg.low(d as usize);
            if size == 0 || !may_accept(rule, &s.low, theirs, p.size, size) {
                continue;
            }
            let r = seg.rec(d as usize);
            if self.tombs.contains(&r.seq)
                || !self.dates_allow((p.date, p.date_unparsed), (r.date, r.date_unparsed))
            {
                continue;
            }
            seg.read_sig(d as usize, &mut s.buf, &mut s.sig)?;
            let theirs = (&s.sig[..], r.size, r.date);
            if let Some((score, dated)) = judge(rule, (&p.sig, p.size, p.date), theirs) {
                hits.push(Hit {
                    at: (si, d),
                    seq: r.seq,
                    cluster: r.cluster,
                    score,
                    dated,
                });
            }
        }
        Ok(hits)
    }

    /// Where the document `seq` is, if it is in the index.
    fn locate(&self, seq: u64) -> Option<(usize, usize)> {
        if self.tombs.contains(&seq) {
            return None;
        }
        self.segs
            .iter()
            .enumerate()
            .find_map(|(si, s)| s.find_seq(seq).map(|d| (si, d)))
    }

    /// The answer for a document with matches `hits` (sorted best first); `batch` names the
    /// documents of the batch being added by their `seq`.
    fn answer(
        &self,
        id: String,
        hits: &[Hit],
        batch: &dyn Fn(u64) -> Option<String>,
    ) -> Result<CheckResult> {
        let name = |h: &Hit| -> Result<String> {
            match batch(h.seq) {
                Some(id) => Ok(id),
                None => self.segs[h.at.0 as usize]
                    .id_ref(h.at.1 as usize)
                    .map(str::to_string),
            }
        };
        let matches = hits
            .iter()
            .map(|h| {
                Ok(Match {
                    id: name(h)?,
                    similarity: round(h.score.jaccard),
                    containment: round(h.score.containment),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cluster = match hits.iter().find(|h| !h.dated) {
            None => None,
            Some(best) if best.cluster == best.seq => Some(name(best)?),
            Some(best) => match (batch(best.cluster), self.locate(best.cluster)) {
                (Some(id), _) => Some(id),
                (None, Some((si, d))) => Some(self.segs[si].id_ref(d)?.to_string()),
                (None, None) => Some(name(best)?),
            },
        };
        Ok(CheckResult {
            id,
            duplicate: !matches.is_empty(),
            matches,
            cluster,
        })
    }

    /// Checks the documents of `corpus` against the index; adds nothing. Documents are signed
    /// on the pool while the next are read (a [`Checker`] fed from the corpus).
    pub fn check(&self, corpus: &Corpus, fields: &Fields, on_error: OnError) -> Result<Checked> {
        let mut c = self.checker();
        for e in corpus.records(fields, on_error) {
            match e? {
                Entry::Doc(r) => c.push_record(r),
                Entry::Skipped { at, error } => c.skipped.add(&at, &error),
            }
        }
        c.finish()
    }

    /// A check fed one document at a time, as a request body is parsed: what
    /// [`Index::check`] does for a corpus, with each document normalized and signed on the
    /// thread pool while the next arrive.
    pub fn checker(&self) -> Checker {
        let (tx, rx) = std::sync::mpsc::channel();
        Checker {
            index: self.clone(),
            pending: Vec::with_capacity(CHECK_CHUNK),
            chunks: 0,
            count: 0,
            skipped: Skipped::default(),
            tx,
            rx,
        }
    }

    /// The answers to the documents of `preps` (named `ids`), in their order.
    fn answers(&self, ids: Vec<String>, preps: Vec<Prep>) -> Result<Vec<CheckResult>> {
        let hits = self.lookup(&preps)?;
        drop(preps);
        ids.into_par_iter()
            .zip(hits)
            .map(|(id, mut hits)| {
                sort_hits(&mut hits);
                self.answer(id, &hits, &|_| None)
            })
            .collect()
    }

    /// Adds the documents of `corpus` in one commit, and returns the new state. Ids already in
    /// the index, or repeated in the batch, are refused as a scan refuses repeated ids: an
    /// error naming the record, or (with [`OnError::Skip`]) counted and left out.
    pub fn add(
        &self,
        corpus: &Corpus,
        fields: &Fields,
        on_error: OnError,
    ) -> Result<(Index, Added)> {
        let _lock = lock(&self.dir)?;
        let base = self.latest()?;
        base.add_locked(corpus, fields, on_error)
    }

    /// This index at its last commit (another process may have committed since it was opened).
    fn latest(&self) -> Result<Index> {
        let m = Manifest::read(&self.dir)?;
        if m.generation == self.m.generation {
            Ok(self.clone())
        } else {
            Index::open(&self.dir)
        }
    }

    fn add_locked(
        &self,
        corpus: &Corpus,
        fields: &Fields,
        on_error: OnError,
    ) -> Result<(Index, Added)> {
        let cfg = self.cfg().clone();
        let (recs, mut skipped) = self.records(corpus, fields, on_error)?;
        // Ids: unique in the batch and new to the index.
        let mut seen: HashMap<&str, &Location> = HashMap::new();
        let mut keep = vec![true; recs.len()];
        let known: Vec<bool> = recs
            .par_iter()
            .map(|r| self.find_id(&r.id).map(|f| f.is_some()))
            .collect::<Result<_>>()?;
        for (i, r) in recs.iter().enumerate() {
            let first = if known[i] {
                Some(Location {
                    path: format!("the index {}", self.dir.display()),
                    line: 0,
                })
            } else {
                seen.get(r.id.as_str()).map(|&l| l.clone())
            };
            match first {
                None => {
                    seen.insert(&r.id, &r.at);
                }
                Some(first) => {
                    let kind = RecordError::DuplicateId {
                        id: r.id.clone(),
                        first,
                    };
                    match on_error {
                        OnError::Fail => return Err(Error::record(r.at.clone(), kind)),
                        OnError::Skip => {
                            skipped.add(&r.at, &kind);
                            keep[i] = false;
                        }
                    }
                }
            }
        }
        drop(seen);
        let recs: Vec<Record> = recs
            .into_iter()
            .zip(&keep)
            .filter_map(|(r, &k)| k.then_some(r))
            .collect();
        let mut preps = self.prepare(&recs);
        let first_seq = self.m.next_seq;

        // Matches among the indexed documents (in parallel), then among the batch's earlier
        // documents (in order: each joins the cluster of its best match).
        let index_hits = self.lookup(&preps)?;
        let rule = cfg.verify_rule();
        let mut buckets: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut clusters: Vec<u64> = Vec::with_capacity(preps.len());
        let mut results = Vec::with_capacity(preps.len());
        for (i, p) in preps.iter().enumerate() {
            let mut hits = index_hits[i].clone();
            let mut cands: Vec<u32> = p
                .band_keys
                .iter()
                .filter_map(|k| buckets.get(k))
                .flat_map(|b| b.iter().take(cfg.max_bucket).copied())
                .collect();
            cands.sort_unstable();
            cands.dedup();
            for j in cands {
                let q = &preps[j as usize];
                if !self.dates_allow((p.date, p.date_unparsed), (q.date, q.date_unparsed)) {
                    continue;
                }
                let theirs = (&q.sig[..], q.size, q.date);
                if let Some((score, dated)) = judge(&rule, (&p.sig, p.size, p.date), theirs) {
                    hits.push(Hit {
                        at: (u32::MAX, j),
                        seq: first_seq + j as u64,
                        cluster: clusters[j as usize],
                        score,
                        dated,
                    });
                }
            }
            sort_hits(&mut hits);
            // A cluster whose representative has left the index continues under the match.
            let cluster = match hits.iter().find(|h| !h.dated) {
                None => first_seq + i as u64,
                Some(h) if h.cluster >= first_seq || self.locate(h.cluster).is_some() => h.cluster,
                Some(h) => h.seq,
            };
            clusters.push(cluster);
            for &k in &p.band_keys {
                buckets.entry(k).or_default().push(i as u32);
            }
            let batch = |seq: u64| {
                (seq >= first_seq && seq < first_seq + i as u64 + 1)
                    .then(|| recs[(seq - first_seq) as usize].id.clone())
            };
            results.push(self.answer(recs[i].id.clone(), &hits, &batch)?);
        }

        // Boilerplate: the batch's lines counted over the index and the batch.
        let mut furniture = (*self.furniture).clone();
        let mut furniture_gen = self.m.furniture_gen;
        let mut new_keys: Vec<u64> = Vec::new();
        if let Some(opts) = &cfg.boilerplate {
            let mut batch_lines: Vec<(u64, u32)> = preps
                .iter()
                .enumerate()
                .flat_map(|(i, p)| p.line_keys.iter().map(move |&k| (k, i as u32)))
                .filter(|(k, _)| !furniture.contains_key(k))
                .collect();
            batch_lines.sort_unstable();
            let mut keys: Vec<u64> = batch_lines.iter().map(|e| e.0).collect();
            keys.dedup();
            new_keys = keys
                .par_iter()
                .filter(|&&k| {
                    let mut docs = 0u64;
                    let mut stories: Vec<u64> = Vec::new();
                    for seg in &self.segs {
                        for d in seg.line(k) {
                            let r = seg.rec(d as usize);
                            if !self.tombs.contains(&r.seq) {
                                docs += 1;
                                stories.push(r.cluster);
                            }
                        }
                    }
                    let at = batch_lines.partition_point(|e| e.0 < k);
                    for &(_, i) in batch_lines[at..].iter().take_while(|e| e.0 == k) {
                        docs += 1;
                        stories.push(clusters[i as usize]);
                    }
                    stories.sort_unstable();
                    stories.dedup();
                    let n = stories.len() as u64;
                    docs >= opts.min_docs as u64
                        && n >= opts.min_stories as u64
                        && n as f64 >= opts.min_story_ratio * docs as f64
                })
                .copied()
                .collect();
            if !new_keys.is_empty() {
                furniture_gen += 1;
                for &k in &new_keys {
                    furniture.insert(k, furniture_gen);
                }
            }
        }
        let with_furniture = Index {
            furniture: Arc::new(furniture),
            ..self.clone()
        };
        // The batch's documents that hold a new furniture line are signed again without it.
        if !new_keys.is_empty() {
            let new: HashSet<u64> = new_keys.iter().copied().collect();
            let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
            preps
                .par_iter_mut()
                .filter(|p| !p.empty && p.line_keys.iter().any(|k| new.contains(k)))
                .for_each(|p| with_furniture.sketch(&sketcher, p));
        }

        let docs: Vec<DocData> = recs
            .into_par_iter()
            .zip(preps)
            .enumerate()
            .map(|(i, (r, p))| DocData {
                seq: first_seq + i as u64,
                cluster: clusters[i],
                hash: p.norm.exact_hash,
                date: p.date,
                date_unparsed: p.date_unparsed,
                empty: p.empty,
                text_z: compress(r.text.as_bytes()).into(),
                id: r.id,
                source: r.source,
                date_raw: r.date,
                sig: p.sig.into(),
                size: p.size,
                gen: furniture_gen,
                band_keys: p.band_keys,
                line_keys: p.line_keys,
            })
            .collect();
        let added = docs.len() as u64;
        let mut m = (*self.m).clone();
        m.furniture_gen = furniture_gen;
        m.next_seq += added;
        if !docs.is_empty() {
            let entry = write_segment(&self.dir, &mut m, &docs)?;
            m.segments.push(entry);
        }
        drop(docs);
        let new_furniture = new_keys.len() as u64;
        let (next, merged) = with_furniture.commit(m, new_furniture > 0, None)?;
        Ok((
            next,
            Added {
                added,
                skipped,
                results,
                new_furniture,
                merged_segments: merged,
            },
        ))
    }

    /// The indexed document with id `id`, if any (deleted ones left out).
    fn find_id(&self, id: &str) -> Result<Option<(usize, usize)>> {
        for (si, seg) in self.segs.iter().enumerate() {
            if let Some(d) = seg.find_id(id)? {
                if !self.tombs.contains(&seg.rec(d as usize).seq) {
                    return Ok(Some((si, d as usize)));
                }
            }
        }
        Ok(None)
    }

    /// Merges segments by tier, writes the furniture (when `furniture_changed`) and the
    /// deletions (`tombs`, when given), commits `m`, removes the files no commit needs, and
    /// opens the new state. Returns it with the number of segments merged.
    fn commit(
        &self,
        mut m: Manifest,
        furniture_changed: bool,
        tombs: Option<HashSet<u64>>,
    ) -> Result<(Index, u64)> {
        let dir = &self.dir;
        let num_perm = m.params.num_perm;
        let mut tombs = tombs.unwrap_or_else(|| (*self.tombs).clone());
        let mut tombs_changed = false;
        // Segments are opened as the new commit will name them.
        let mut segs: Vec<(FileEntry, Arc<Segment>)> = Vec::new();
        for f in &m.segments {
            let s = match self.segs.iter().find(|s| s.name == f.file) {
                Some(s) => s.clone(),
                None => Arc::new(Segment::open(&dir.join(&f.file), num_perm)?),
            };
            segs.push((f.clone(), s));
        }
        // Segments whose documents are all deleted go; those more than half deleted are
        // rewritten alone; then tiers of MERGE_FACTOR segments of one size merge.
        let mut merged = 0u64;
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut keep: Vec<usize> = Vec::new();
        for (i, (_, s)) in segs.iter().enumerate() {
            // Deleted documents of the segment (found by seq: no pass over its records).
            let dd = tombs.iter().filter(|&&t| s.find_seq(t).is_some()).count();
            if dd == s.len() {
                for d in 0..s.len() {
                    tombs.remove(&s.rec(d).seq);
                }
                tombs_changed = true;
                merged += 1;
            } else if dd * 2 > s.len() {
                groups.push(vec![i]);
            } else {
                keep.push(i);
            }
        }
        let tier = |docs: u64| (docs.max(1) as f64).log(MERGE_FACTOR as f64).floor() as u32;
        let mut by_tier: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
        for &i in &keep {
            by_tier.entry(tier(segs[i].0.docs)).or_default().push(i);
        }
        let mut kept: Vec<usize> = Vec::new();
        for (_, v) in by_tier {
            let full = v.len() / MERGE_FACTOR * MERGE_FACTOR;
            for chunk in v[..full].chunks(MERGE_FACTOR) {
                groups.push(chunk.to_vec());
            }
            kept.extend_from_slice(&v[full..]);
        }
        kept.sort_unstable();
        let mut entries: Vec<FileEntry> = kept.iter().map(|&i| segs[i].0.clone()).collect();
        for g in groups {
            merged += g.len() as u64;
            let parts: Vec<&Segment> = g.iter().map(|&i| &*segs[i].1).collect();
            let (docs, dropped) = self.merge_docs(&parts, &tombs, m.furniture_gen)?;
            for s in dropped {
                tombs.remove(&s);
                tombs_changed = true;
            }
            if !docs.is_empty() {
                entries.push(write_segment(dir, &mut m, &docs)?);
            }
        }
        m.segments = entries;
        if furniture_changed {
            let mut v: Vec<(u64, u32)> = self.furniture.iter().map(|(&k, &g)| (k, g)).collect();
            v.sort_unstable();
            let bytes: Vec<u8> = v
                .iter()
                .flat_map(|(k, g)| k.to_le_bytes().into_iter().chain(g.to_le_bytes()))
                .collect();
            m.furniture = Some(write_small(dir, &mut m.next_file, "furniture", &bytes)?);
        }
        if tombs_changed || tombs != *self.tombs {
            m.tombstones = if tombs.is_empty() {
                None
            } else {
                let mut v: Vec<u64> = tombs.iter().copied().collect();
                v.sort_unstable();
                let bytes: Vec<u8> = v.iter().flat_map(|s| s.to_le_bytes()).collect();
                Some(write_small(dir, &mut m.next_file, "deleted", &bytes)?)
            };
        }
        sync_dir(dir)?;
        m.generation += 1;
        m.write(dir)?;
        remove_unused(dir, &m)?;
        Ok((Index::open(dir)?, merged))
    }

    /// The live documents of `parts`, in `seq` order, each signed again when a line of it has
    /// become furniture since it was signed; and the `seq` of the deleted ones left out.
    fn merge_docs<'s>(
        &self,
        parts: &[&'s Segment],
        tombs: &HashSet<u64>,
        gen: u32,
    ) -> Result<(Vec<DocData<'s>>, Vec<u64>)> {
        let cfg = self.cfg();
        let sketcher = Sketcher::new(cfg.num_perm, cfg.seed);
        let mut out = Vec::new();
        let mut dropped = Vec::new();
        for seg in parts {
            let n = seg.len();
            let mut bands: Vec<Vec<u64>> = vec![Vec::new(); n];
            for (k, d) in seg.band_entries() {
                bands[d as usize].push(k);
            }
            let mut lines: Vec<Vec<u64>> = vec![Vec::new(); n];
            for (k, d) in seg.line_entries() {
                lines[d as usize].push(k);
            }
            let docs: Vec<Option<DocData>> = bands
                .into_par_iter()
                .zip(lines)
                .enumerate()
                .map(|(d, (b, l))| {
                    let r = seg.rec(d);
                    if tombs.contains(&r.seq) {
                        return Ok(None);
                    }
                    let stale = l
                        .iter()
                        .any(|k| self.furniture.get(k).is_some_and(|&g| g > r.gen));
                    let mut doc = seg.doc(d, b, l)?;
                    if stale && !doc.empty {
                        let text = seg.text(d)?;
                        let mut p = Prep {
                            norm: normalize_doc(&text, &cfg.normalize),
                            sig: Vec::new(),
                            size: 0,
                            band_keys: Vec::new(),
                            line_keys: Vec::new(),
                            date: None,
                            date_unparsed: false,
                            empty: false,
                        };
                        p.sig = vec![sketch::EMPTY; cfg.num_perm];
                        self.sketch(&sketcher, &mut p);
                        doc.sig = p.sig.into();
                        doc.size = p.size;
                        doc.band_keys = p.band_keys;
                    }
                    doc.gen = gen;
                    Ok(Some(doc))
                })
                .collect::<Result<_>>()?;
            for (d, doc) in docs.into_iter().enumerate() {
                match doc {
                    Some(doc) => out.push(doc),
                    None => dropped.push(seg.rec(d).seq),
                }
            }
        }
        out.sort_by_key(|d| d.seq);
        Ok((out, dropped))
    }

    /// Every indexed document, in the order they were added.
    pub fn documents(&self) -> Result<Vec<Document>> {
        let mut docs: Vec<(u64, Document)> = Vec::with_capacity(self.len() as usize);
        for seg in &self.segs {
            let part: Vec<Option<(u64, Document)>> = (0..seg.len())
                .into_par_iter()
                .map(|d| {
                    let r = seg.rec(d);
                    if self.tombs.contains(&r.seq) {
                        return Ok(None);
                    }
                    let (id, source, date) = seg.strings(d)?;
                    Ok(Some((
                        r.seq,
                        Document {
                            id: Some(id),
                            text: seg.text(d)?,
                            source,
                            date,
                        },
                    )))
                })
                .collect::<Result<_>>()?;
            docs.extend(part.into_iter().flatten());
        }
        docs.par_sort_unstable_by_key(|d| d.0);
        Ok(docs.into_iter().map(|d| d.1).collect())
    }

    /// The scan of everything indexed: the scan's stages run again over the stored texts in
    /// the order they were added, so the result is what [`pipeline::scan`] gives over the same
    /// documents. Costs a scan of the whole index.
    pub fn export(&self, budget: Budget, progress: &dyn Progress) -> Result<Scan> {
        let corpus = Corpus::from_documents(self.documents()?);
        pipeline::scan_within(&corpus, self.cfg(), budget, progress)
    }

    /// Deletes the documents with the given ids in one commit; returns the new state and how
    /// many of the ids were found.
    pub fn delete<S: AsRef<str> + Sync>(&self, ids: &[S]) -> Result<(Index, u64)> {
        let _lock = lock(&self.dir)?;
        let base = self.latest()?;
        let mut tombs = (*base.tombs).clone();
        let found: Vec<u64> = ids
            .par_iter()
            .map(|id| {
                Ok(base
                    .find_id(id.as_ref())?
                    .map(|(si, d)| base.segs[si].rec(d).seq))
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        let before = tombs.len();
        tombs.extend(found);
        let n = (tombs.len() - before) as u64;
        let m = (*base.m).clone();
        let (next, _) = base.commit(m, false, Some(tombs))?;
        Ok((next, n))
    }

    /// Deletes the documents dated before `before` (ISO 8601, RFC 2822 or Unix seconds) in one
    /// commit; undated documents stay. Returns the new state and how many left.
    pub fn expire(&self, before: &str) -> Result<(Index, u64)> {
        let t = crate::date::parse(before)
            .ok_or_else(|| Error::Param(format!("before: {before:?} is not a date")))?;
        let _lock = lock(&self.dir)?;
        let base = self.latest()?;
        let mut tombs = (*base.tombs).clone();
        let before_n = tombs.len();
        for seg in &base.segs {
            for d in 0..seg.len() {
                let r = seg.rec(d);
                if r.date.is_some_and(|x| x < t) {
                    tombs.insert(r.seq);
                }
            }
        }
        let n = (tombs.len() - before_n) as u64;
        let m = (*base.m).clone();
        let (next, _) = base.commit(m, false, Some(tombs))?;
        Ok((next, n))
    }
}

/// `text` compressed for storing, with this thread's reused zstd context.
fn compress(text: &[u8]) -> Vec<u8> {
    thread_local! {
        static CCTX: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    CCTX.with(|c| {
        let mut c = c.borrow_mut();
        let cctx = c.get_or_insert_with(|| {
            zstd::bulk::Compressor::new(TEXT_LEVEL).expect("a zstd context")
        });
        cctx.compress(text).expect("zstd compresses in memory")
    })
}

/// Best match first: matches of the rule before those of the second rule alone, then higher
/// similarity, then containment, then earlier added.
/// The estimates of a pair of documents, each given as (signature, set size, date), and whether
/// `rule` takes them as copies: `Some((score, false))` by the rule, `Some((score, true))` by the
/// second rule alone (dated within a day), `None` when it does not.
fn judge(
    rule: &VerifyRule,
    a: (&[u32], u32, Option<i64>),
    b: (&[u32], u32, Option<i64>),
) -> Option<(PairScore, bool)> {
    let j = sketch::jaccard(a.0, b.0);
    let score = PairScore {
        jaccard: j,
        containment: sketch::containment(j, a.1, b.1),
    };
    let near = rule.dated_containment.is_some() && within_a_day(a.2, b.2);
    rule.decide(&score, a.1, b.1, near)
        .map(|dated| (score, dated))
}

/// Whether `rule` may accept a pair whose signatures have the low bytes `a` and `b` (sets of
/// `size_a` and `size_b` shingles), dated within a day or not: equal values have equal low
/// bytes, so the equal low bytes bound the estimated similarity from above, and the rule
/// accepts more as the similarity grows.
fn may_accept(rule: &VerifyRule, a: &[u8], b: &[u8], size_a: u32, size_b: u32) -> bool {
    let bound = same_bytes(a, b) as f64 / a.len() as f64;
    let most = PairScore {
        jaccard: bound,
        containment: sketch::containment(bound, size_a, size_b),
    };
    rule.decide(&most, size_a, size_b, true).is_some()
}

/// How many bytes of `a` and `b` are equal, eight at a time (this runs for every candidate).
fn same_bytes(a: &[u8], b: &[u8]) -> usize {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .filter(|(x, y)| x == y)
        .count();
    let word = |c: &[u8]| u64::from_le_bytes(c.try_into().unwrap());
    ca.zip(cb)
        .map(|(x, y)| {
            let d = word(x) ^ word(y);
            // The high bit of each byte of `d` that is not zero (adding 0x7f to the low seven
            // bits carries into the high bit unless they are all zero, and never further).
            let differ = (((d & LOW7) + LOW7) | d) & !LOW7;
            8 - differ.count_ones() as usize
        })
        .sum::<usize>()
        + rest
}

fn sort_hits(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        a.dated
            .cmp(&b.dated)
            .then(b.score.jaccard.total_cmp(&a.score.jaccard))
            .then(b.score.containment.total_cmp(&a.score.containment))
            .then(a.seq.cmp(&b.seq))
    });
}

/// Four decimals, as the report's similarities.
fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Writes the segment of `docs` under the next file number.
fn write_segment(dir: &Path, m: &mut Manifest, docs: &[DocData]) -> Result<FileEntry> {
    let seg = segment::encode(m.params.num_perm, docs);
    let file = format!("seg-{:06}.syx", m.next_file);
    m.next_file += 1;
    let sum = segment::write_segment(&dir.join(&file), &seg)?;
    Ok(FileEntry {
        file,
        bytes: seg.len() as u64,
        xxh3: hex(sum),
        docs: docs.len() as u64,
    })
}

/// Writes a small table (furniture, deletions) under the next file number.
fn write_small(dir: &Path, next: &mut u64, what: &str, bytes: &[u8]) -> Result<FileEntry> {
    let file = format!("{what}-{next:06}.bin");
    *next += 1;
    let sum = segment::write_file(&dir.join(&file), bytes)?;
    Ok(FileEntry {
        file,
        bytes: bytes.len() as u64,
        xxh3: hex(sum),
        docs: 0,
    })
}

/// Reads a small file the manifest names, checking its checksum.
fn read_small(dir: &Path, f: &FileEntry) -> Result<Vec<u8>> {
    let path = dir.join(&f.file);
    let bytes = std::fs::read(&path).map_err(|e| Error::Index {
        path: path.clone(),
        msg: format!("cannot read a file the manifest names: {e}"),
    })?;
    if hex(xxhash_rust::xxh3::xxh3_64(&bytes)) != f.xxh3 {
        return Err(Error::Index {
            path,
            msg: "damaged (its checksum does not match the manifest's; run `syndic index verify`)"
                .into(),
        });
    }
    Ok(bytes)
}

/// Removes the files of the folder that the commit `m` does not name (those of earlier
/// commits, and those a killed add left behind).
fn remove_unused(dir: &Path, m: &Manifest) -> Result<()> {
    let named: HashSet<&str> = m.files().map(|f| f.file.as_str()).collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with("seg-")
            || name.starts_with("furniture-")
            || name.starts_with("deleted-")
            || name.ends_with(".tmp");
        if ours && !named.contains(name.as_str()) {
            fail_point("remove")?;
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// Takes the index's write lock (one writer at a time, across processes).
fn lock(dir: &Path) -> Result<WriteLock> {
    let path = dir.join(LOCK);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // Another writer may be finishing (or a process forked a moment ago, not yet exec'ed,
        // may still share a descriptor of a lock just released): wait for it a while.
        let mut waited = 0;
        let locked = loop {
            // SAFETY: flock on a file descriptor this function owns; released when it is closed.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break true;
            }
            if waited >= LOCK_WAIT_MS {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            waited += 20;
        };
        if !locked {
            return Err(index_err(
                dir,
                "another process is changing the index (its LOCK is held after 10 s); try again when it is done",
            ));
        }
    }
    Ok(WriteLock(f))
}

/// One file's problem found by [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Damage {
    pub file: String,
    pub problem: String,
}

/// Checks every file of the last commit against the manifest's sizes and checksums, and that
/// each segment reads. Returns the damaged files (none when the index is sound).
pub fn verify(dir: &Path) -> Result<Vec<Damage>> {
    let m = match Manifest::read(dir) {
        Ok(m) => m,
        Err(Error::Index { msg, .. }) if dir.join(MANIFEST).exists() => {
            return Ok(vec![Damage {
                file: MANIFEST.into(),
                problem: msg,
            }])
        }
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for f in m.files() {
        let path = dir.join(&f.file);
        let problem = match File::open(&path) {
            Err(e) => Some(format!("cannot be read: {e}")),
            Ok(mut file) => {
                let mut h = Xxh3::new();
                let mut buf = vec![0u8; 1 << 20];
                let mut len = 0u64;
                let mut problem = None;
                loop {
                    match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            h.update(&buf[..n]);
                            len += n as u64;
                        }
                        Err(e) => {
                            problem = Some(format!("cannot be read: {e}"));
                            break;
                        }
                    }
                }
                problem.or_else(|| {
                    if len != f.bytes {
                        Some(format!("{len} bytes, the manifest says {}", f.bytes))
                    } else if hex(h.digest()) != f.xxh3 {
                        Some("its checksum does not match the manifest's".into())
                    } else {
                        None
                    }
                })
            }
        };
        let problem = problem.or_else(|| {
            if m.segments.contains(f) {
                Segment::open(&path, m.params.num_perm)
                    .err()
                    .map(|e| e.to_string())
            } else {
                None
            }
        });
        if let Some(problem) = problem {
            out.push(Damage {
                file: f.file.clone(),
                problem,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The low-byte bound never rejects a pair the signatures accept: pairs whose values
        /// agree at a random share of places (and collide in their low bytes elsewhere at
        /// random), of random sizes, under random thresholds.
        #[test]
        fn low_bytes_never_reject_what_signatures_accept(
            seed in any::<u64>(),
            share in 0.0f64..1.0,
            size_a in 1u32..3000,
            size_b in 1u32..3000,
            threshold in 0.05f64..1.0,
            containment in proptest::option::of(0.05f64..1.0),
            dated in proptest::option::of(0.05f64..1.0),
            near in any::<bool>(),
        ) {
            let rule = VerifyRule { threshold, containment, min_shingles: 50, dated_containment: dated };
            let mut x = seed | 1;
            let mut next = || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
            let a: Vec<u32> = (0..128).map(|_| next() as u32).collect();
            let b: Vec<u32> = a.iter().map(|&v| {
                let r = next();
                if (r % 1000) as f64 / 1000.0 < share { v }
                else if r % 7 == 0 { (v & !0xff) ^ 0x100 | (v & 0xff) }
                else { r as u32 }
            }).collect();
            let j = sketch::jaccard(&a, &b);
            let exact = PairScore { jaccard: j, containment: sketch::containment(j, size_a, size_b) };
            let low = |s: &[u32]| s.iter().map(|&v| v as u8).collect::<Vec<u8>>();
            if rule.decide(&exact, size_a, size_b, near).is_some() {
                prop_assert!(may_accept(&rule, &low(&a), &low(&b), size_a, size_b));
            }
        }
    }

    proptest! {
        #[test]
        fn same_bytes_counts_equal_bytes(
            pairs in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<bool>()), 0..70)
        ) {
            let a: Vec<u8> = pairs.iter().map(|p| p.0).collect();
            let b: Vec<u8> = pairs.iter().map(|p| if p.2 { p.0 } else { p.1 }).collect();
            let want = a.iter().zip(&b).filter(|(x, y)| x == y).count();
            prop_assert_eq!(same_bytes(&a, &b), want);
        }
    }

    /// A lookup (band join, bound on the low bytes, signatures) finds the matches, with their
    /// scores, that judging every document under one of the query's band keys finds: over
    /// news2k, 1,500 documents indexed and 1,000 checked, half of them indexed (which find
    /// themselves and their copies).
    #[test]
    fn lookup_finds_what_a_search_per_key_finds() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bench/news2k.jsonl.gz");
        let all: Vec<Record> = Corpus::open(&[fixture])
            .unwrap()
            .records(&Fields::default(), OnError::Fail)
            .map(|e| match e.unwrap() {
                Entry::Doc(r) => r,
                Entry::Skipped { .. } => unreachable!("the fixture reads whole"),
            })
            .collect();
        let (indexed, checked) = (&all[..1500], &all[1000..]);
        let docs = indexed.iter().map(|r| Document {
            id: Some(r.id.clone()),
            text: r.text.clone(),
            source: r.source.clone(),
            date: r.date.clone(),
        });
        let idx = Index::create(&dir.path().join("idx"), &Config::default()).unwrap();
        let (idx, _) = idx
            .add(
                &Corpus::from_documents(docs),
                &Fields::default(),
                OnError::Fail,
            )
            .unwrap();
        let preps = idx.prepare(checked);
        let rule = idx.cfg().verify_rule();
        let got: Vec<Vec<(u64, u64, u64)>> = idx
            .lookup(&preps)
            .unwrap()
            .iter()
            .map(|hits| {
                let mut h: Vec<_> = hits
                    .iter()
                    .map(|h| {
                        (
                            h.seq,
                            h.score.jaccard.to_bits(),
                            h.score.containment.to_bits(),
                        )
                    })
                    .collect();
                h.sort_unstable();
                h
            })
            .collect();
        // The reference: every indexed document under one of the query's band keys (a search
        // of the postings per key; no bucket here reaches `max_bucket`), judged on its whole
        // signature.
        let mut sig = Vec::new();
        let mut buf = Vec::new();
        let mut want = Vec::new();
        let mut candidates = 0;
        for p in &preps {
            let mut docs: Vec<(usize, u32)> = Vec::new();
            for (si, seg) in idx.segs.iter().enumerate() {
                for &k in &p.band_keys {
                    let under: Vec<u32> = seg.band(k).collect();
                    assert!(under.len() < idx.cfg().max_bucket);
                    docs.extend(under.into_iter().map(|d| (si, d)));
                }
            }
            docs.sort_unstable();
            docs.dedup();
            candidates += docs.len();
            let mut hits = Vec::new();
            for (si, d) in docs {
                let seg = &idx.segs[si];
                let r = seg.rec(d as usize);
                seg.read_sig(d as usize, &mut buf, &mut sig).unwrap();
                if let Some((score, _)) =
                    judge(&rule, (&p.sig, p.size, p.date), (&sig, r.size, r.date))
                {
                    hits.push((r.seq, score.jaccard.to_bits(), score.containment.to_bits()));
                }
            }
            hits.sort_unstable();
            want.push(hits);
        }
        let found: usize = want.iter().map(Vec::len).sum();
        assert!(
            found >= 500 && found < candidates,
            "{found} of {candidates}"
        );
        assert_eq!(got, want);
    }

    #[test]
    fn low_bytes_reject_unrelated_signatures() {
        let rule = Config::default().verify_rule();
        let a: Vec<u8> = (0..128u32).map(|i| (i * 7) as u8).collect();
        let b: Vec<u8> = (0..128u32).map(|i| (i * 7 + 1) as u8).collect();
        assert!(!may_accept(&rule, &a, &b, 300, 300));
        assert!(may_accept(&rule, &a, &a, 300, 300));
    }
}
