//! The read and normalize stages driven together: records stream from the reader thread and are
//! normalized on the rayon pool; metadata stays in memory, normalized texts go to a sink.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, RecordError, Result};
use crate::normalize::{normalize_doc, NormDoc};
use crate::pipeline::{Config, Progress};
use crate::read::Corpus;
use crate::read::{Entry, OnError};

/// A document's identity and metadata (its text lives in [`NormDoc`] while the run needs it).
#[derive(Clone, Debug, PartialEq)]
pub struct DocMeta {
    pub id: String,
    pub source: Option<String>,
    pub date: Option<String>,
    pub at: Location,
    /// Characters of the original text.
    pub chars: u64,
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
}

const BATCH: usize = 512;

/// Reads and normalizes every document, in input order. Reading and decompression run on their
/// own thread, normalization on the rayon pool. Duplicate ids are errors (or skipped records).
/// Normalized documents are handed to `sink` batch by batch, in input order, so a caller may keep
/// them in memory or write them out.
pub fn ingest(
    corpus: &Corpus,
    cfg: &Config,
    progress: &dyn Progress,
    sink: &mut dyn FnMut(Vec<NormDoc>) -> Result<()>,
) -> Result<Ingested> {
    progress.stage("reading", None);
    let mut out = Ingested {
        docs: Vec::new(),
        dates: Vec::new(),
        dates_unparsed: 0,
        date_unparsed: Vec::new(),
        skipped: Skipped::default(),
    };
    let mut seen: HashMap<String, Location> = HashMap::new();
    std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<Entry>>>(4);
        let fields = &cfg.fields;
        let on_error = cfg.on_error;
        s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for e in corpus.records(fields, on_error) {
                batch.push(e);
                if batch.len() == BATCH {
                    if tx.send(std::mem::take(&mut batch)).is_err() {
                        return;
                    }
                    batch.reserve(BATCH);
                }
            }
            let _ = tx.send(batch);
        });
        for batch in rx {
            let mut records = Vec::with_capacity(batch.len());
            for e in batch {
                match e? {
                    Entry::Skipped { at, error } => out.skipped.add(&at, &error),
                    Entry::Doc(r) => {
                        if let Some(first) = seen.get(&r.id) {
                            let kind = RecordError::DuplicateId {
                                id: r.id.clone(),
                                first: first.clone(),
                            };
                            match cfg.on_error {
                                OnError::Fail => return Err(Error::record(r.at, kind)),
                                OnError::Skip => {
                                    out.skipped.add(&r.at, &kind);
                                    continue;
                                }
                            }
                        }
                        seen.insert(r.id.clone(), r.at.clone());
                        records.push(r);
                    }
                }
            }
            let normed: Vec<(NormDoc, Option<i64>, bool, u64)> = records
                .par_iter()
                .map(|r| {
                    let date = r.date.as_deref().map(crate::date::parse);
                    (
                        normalize_doc(&r.text, &cfg.normalize),
                        date.flatten(),
                        matches!(date, Some(None)),
                        r.text.chars().count() as u64,
                    )
                })
                .collect();
            progress.advance(records.len() as u64);
            let mut norm = Vec::with_capacity(normed.len());
            for (r, (n, date, unparsed, chars)) in records.into_iter().zip(normed) {
                out.dates_unparsed += unparsed as u64;
                out.date_unparsed.push(unparsed);
                out.dates.push(date);
                norm.push(n);
                out.docs.push(DocMeta {
                    id: r.id,
                    source: r.source,
                    date: r.date,
                    at: r.at,
                    chars,
                });
            }
            sink(norm)?;
        }
        Ok(())
    })?;
    if out.docs.len() >= u32::MAX as usize {
        return Err(Error::Param(
            "more than 4 billion documents in one run: split the corpus".into(),
        ));
    }
    progress.done();
    Ok(out)
}

/// [`ingest`] keeping every normalized document in memory.
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
