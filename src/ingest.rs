//! The read and normalize stages driven together: records stream from the reader thread and are
//! normalized on the rayon pool; metadata stays in memory, normalized texts go to a sink.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::cluster::Keep;
use crate::error::{Error, Location, RecordError, Result};
use crate::normalize::{normalize_doc, NormDoc};
use crate::pipeline::{Config, Progress};
use crate::read::{
    Corpus, FieldRole, Fields, FilesSkipped, OnError, RawBatch, SkippedFile, FIELD_CHECK_RECORDS,
};

/// A document's identity and metadata (its normalized text is kept only while the run needs it).
#[derive(Clone, Debug, PartialEq)]
pub struct DocMeta {
    pub id: String,
    pub source: Option<String>,
    pub date: Option<String>,
    pub at: Location,
    /// Characters of the original text.
    pub chars: u64,
    /// The text is empty or white space: a document that is never clustered.
    pub empty: bool,
}

/// Records that did not become documents, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub total: u64,
    pub by_reason: BTreeMap<String, u64>,
    /// The first few, as messages naming file and line.
    pub examples: Vec<String>,
}

impl Skipped {
    const EXAMPLES: usize = 5;

    pub fn add(&mut self, at: &Location, e: &RecordError) {
        self.total += 1;
        *self.by_reason.entry(e.reason().to_string()).or_default() += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(format!("{at}: {e}"));
        }
    }
}

/// The read and normalize stages' output, apart from the normalized texts (which go to the sink
/// given to [`ingest`], in input order).
pub struct Ingested {
    pub docs: Vec<DocMeta>,
    pub dates: Vec<Option<i64>>,
    /// Documents with a date field that no accepted format parses.
    pub dates_unparsed: u64,
    /// Whether each document's date field failed to parse.
    pub date_unparsed: Vec<bool>,
    pub skipped: Skipped,
    /// Input files whose records were read.
    pub files_read: u64,
    /// Files not read as input (left out of a folder, or empty), with why.
    pub files_skipped: FilesSkipped,
}

impl Ingested {
    /// Nothing read yet from `corpus`: only the files it left out, with why.
    pub(crate) fn new(corpus: &Corpus) -> Self {
        let mut files_skipped = FilesSkipped::default();
        for f in &corpus.skipped {
            files_skipped.add(f.clone());
        }
        Ingested {
            docs: Vec::new(),
            dates: Vec::new(),
            dates_unparsed: 0,
            date_unparsed: Vec::new(),
            skipped: Skipped::default(),
            files_read: 0,
            files_skipped,
        }
    }
}

/// Counts, over the first [`FIELD_CHECK_RECORDS`] records, of those that have each field that
/// must be found (see [`Fields`]).
struct FieldCheck {
    /// The fields to check, with how many records had each.
    roles: Vec<(FieldRole, u64)>,
    records: u64,
    done: bool,
}

impl FieldCheck {
    fn new(fields: &Fields, cfg: &Config) -> Self {
        let need_date = cfg.keep == Keep::Earliest || cfg.max_days.is_some();
        let roles = [
            FieldRole::Text,
            FieldRole::Id,
            FieldRole::Source,
            FieldRole::Date,
        ]
        .into_iter()
        .filter(|&r| {
            r == FieldRole::Text || fields.renamed(r) || (r == FieldRole::Date && need_date)
        })
        .map(|r| (r, 0))
        .collect();
        FieldCheck {
            roles,
            records: 0,
            done: false,
        }
    }

    /// Counts one record: whether it has the text, the id, the source and the date.
    #[inline]
    fn record(&mut self, has: [bool; 4]) {
        if self.done {
            return;
        }
        self.records += 1;
        for (r, n) in &mut self.roles {
            *n += has[*r as usize] as u64;
        }
    }

    /// The first field no record had, once enough records are counted (or at the end: `last`).
    fn missing(&mut self, last: bool) -> Option<FieldRole> {
        if self.done || (self.records < FIELD_CHECK_RECORDS && !last) {
            return None;
        }
        self.done = true;
        if self.records == 0 {
            return None;
        }
        self.roles.iter().find(|(_, n)| *n == 0).map(|(r, _)| *r)
    }
}

/// Records per batch, and line bytes after which a batch is sent with fewer.
const BATCH: usize = 512;
const BATCH_BYTES: usize = 8 << 20;

/// Reads and normalizes every document, in input order. Reading and decompression run on their
/// own thread, normalization on the rayon pool. Duplicate ids are errors (or skipped records).
/// Normalized documents are handed to `sink` batch by batch, in input order, so a caller may keep
/// them in memory or write them out.
pub fn ingest(
    corpus: &Corpus,
    cfg: &Config,
    progress: &dyn Progress,
    sink: &mut (dyn FnMut(Vec<NormDoc>) -> Result<()> + Send),
) -> Result<Ingested> {
    ingest_with(corpus, cfg, progress, &|_| (), &mut |docs, _| sink(docs))
}

/// [`ingest`] that also computes `extra(doc)` for every normalized document, on the pool right
/// after normalizing it (while its text is in cache), and hands the values to `sink` beside the
/// documents. Three things run at once: the reader thread, the pool parsing and normalizing one
/// batch, and a consumer thread checking ids and calling `sink` with the batch before.
pub fn ingest_with<X: Send>(
    corpus: &Corpus,
    cfg: &Config,
    progress: &dyn Progress,
    extra: &(dyn Fn(&NormDoc) -> X + Sync),
    sink: &mut (dyn FnMut(Vec<NormDoc>, Vec<X>) -> Result<()> + Send),
) -> Result<Ingested> {
    progress.stage("reading", None);
    let on_error = cfg.on_error;
    let out = std::thread::scope(|s| -> Result<Ingested> {
        // The reader thread only reads, decompresses and cuts lines; parsing and normalizing
        // run on the rayon pool, batch by batch, and the results are taken in input order.
        let (tx, rx) = std::sync::mpsc::sync_channel::<RawBatch>(4);
        let fields = &cfg.fields;
        s.spawn(move || {
            corpus.read_raw(fields, BATCH, BATCH_BYTES, on_error, |b| tx.send(b).is_ok())
        });
        let (ptx, prx) = std::sync::mpsc::sync_channel::<Vec<Item<X>>>(2);
        let consumer = s.spawn(move || -> Result<Ingested> {
            let mut out = Ingested::new(corpus);
            let mut check = FieldCheck::new(fields, cfg);
            let missing = |role: FieldRole, check: &FieldCheck| Error::MissingField {
                role,
                name: fields.name(role).to_string(),
                records: check.records,
                keys: corpus.field_names(fields, FIELD_CHECK_RECORDS as usize),
            };
            // Each id with the index of its document in `out.docs` (whose location a duplicate's
            // error names). xxh3 rather than the default SipHash: ids are not chosen by an
            // adversary who could flood one bucket, and hashing them is the consumer's main work.
            let mut seen: HashMap<String, u32, Xxh3DefaultBuilder> = HashMap::default();
            for parsed in prx {
                let mut norm = Vec::with_capacity(parsed.len());
                let mut extras = Vec::with_capacity(parsed.len());
                let mut accepted = 0u64;
                for p in parsed {
                    if let Some(role) = check.missing(false) {
                        return Err(missing(role, &check));
                    }
                    let (meta, n, x, date, unparsed, has) = match p {
                        Item::Doc(p) => p,
                        Item::EmptyFile(at) => {
                            out.files_skipped.add(SkippedFile {
                                path: at.path,
                                reason: "empty".into(),
                            });
                            continue;
                        }
                        Item::Bad(at, error) => {
                            if let RecordError::MissingText { .. } = error {
                                check.record([false; 4]);
                            }
                            match on_error {
                                OnError::Fail => return Err(Error::record(at, error)),
                                OnError::Skip => {
                                    out.skipped.add(&at, &error);
                                    continue;
                                }
                            }
                        }
                    };
                    check.record(has);
                    if let Some(&first) = seen.get(&meta.id) {
                        let kind = RecordError::DuplicateId {
                            id: meta.id.clone(),
                            first: out.docs[first as usize].at.clone(),
                        };
                        match on_error {
                            OnError::Fail => return Err(Error::record(meta.at, kind)),
                            OnError::Skip => {
                                out.skipped.add(&meta.at, &kind);
                                continue;
                            }
                        }
                    }
                    seen.insert(meta.id.clone(), out.docs.len() as u32);
                    accepted += 1;
                    out.dates_unparsed += unparsed as u64;
                    out.date_unparsed.push(unparsed);
                    out.dates.push(date);
                    norm.push(n);
                    extras.push(x);
                    out.docs.push(meta);
                }
                progress.advance(accepted);
                sink(norm, extras)?;
            }
            if let Some(role) = check.missing(true) {
                return Err(missing(role, &check));
            }
            out.files_read = corpus.files.len() as u64
                - out
                    .files_skipped
                    .by_reason
                    .get("empty")
                    .copied()
                    .unwrap_or(0);
            Ok(out)
        });
        for batch in rx {
            let parsed: Vec<Item<X>> = (0..batch.items.len())
                .into_par_iter()
                .map(|i| {
                    let p = match corpus.parse_raw(&batch, i, fields) {
                        Ok(Some(p)) => p,
                        Ok(None) => return Item::EmptyFile(corpus.item_at(&batch.items[i])),
                        Err((at, e)) => return Item::Bad(at, e),
                    };
                    let date = p.date.as_deref().map(crate::date::parse);
                    let norm = normalize_doc(&p.text, &cfg.normalize);
                    let x = extra(&norm);
                    let chars = p.text.chars().count() as u64;
                    let has = [true, p.has_id, p.source.is_some(), p.date.is_some()];
                    let meta = DocMeta {
                        empty: p.text.trim().is_empty(),
                        id: p.id,
                        source: p.source,
                        date: p.date,
                        at: p.at,
                        chars,
                    };
                    Item::Doc((
                        meta,
                        norm,
                        x,
                        date.flatten(),
                        matches!(date, Some(None)),
                        has,
                    ))
                })
                .collect();
            if ptx.send(parsed).is_err() {
                // The consumer stopped on an error: its result says which.
                break;
            }
        }
        drop(ptx);
        consumer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })?;
    if out.docs.len() >= u32::MAX as usize {
        return Err(Error::Param(
            "more than 4 billion documents in one run: split the corpus".into(),
        ));
    }
    progress.done();
    Ok(out)
}

/// One record after parsing on the pool: the document, its extra value, its date, whether its
/// date failed to parse and which fields it has (text, id, source, date); or why it is not a
/// document; or a file without records.
enum Item<X> {
    Doc((DocMeta, NormDoc, X, Option<i64>, bool, [bool; 4])),
    Bad(Location, RecordError),
    EmptyFile(Location),
}

/// `ingest` keeping every normalized document in memory.
pub fn ingest_all(
    corpus: &Corpus,
    cfg: &Config,
    progress: &dyn Progress,
) -> Result<(Ingested, Vec<NormDoc>)> {
    let mut norm = Vec::new();
    let ing = ingest(corpus, cfg, progress, &mut |batch| {
        norm.extend(batch);
        Ok(())
    })?;
    Ok((ing, norm))
}
