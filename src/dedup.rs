//! Writing the corpus back after a scan: one document kept per cluster (the cleaned corpus), or
//! every record with its cluster (annotated), with flagged boilerplate lines removed on request;
//! the records dropped to a second output on request ([`write_split`]); and dolma-style
//! attribute files that mark duplicates and boilerplate lines instead ([`write_attributes`]).
//!
//! The output's name chooses its format ([`Format::of`]). As JSONL, records are written as they
//! stand in the input, in input order: a JSONL line byte for byte when nothing in it changes, a
//! CSV/TSV row, a Parquet row (the columns read) or a plain-text file as a JSON object. As
//! Parquet (a name ending in `.parquet`, from Parquet input), every column of the input is kept
//! with its type, in its order, and the annotations are appended as columns. The input is read
//! a second time ([`Corpus::for_each_raw`]); a record that is not where the scan found it means
//! the input changed in between, and nothing is committed.
//!
//! ```no_run
//! use syndic::{dedup, output::Output, pipeline, read::Corpus};
//! let corpus = Corpus::open(&["news.jsonl"])?;
//! let cfg = pipeline::Config::default();
//! let scan = pipeline::scan(&corpus, &cfg, &pipeline::Quiet)?;
//! let mut out = Output::create("clean.jsonl.zst".as_ref())?;
//! let done = dedup::write(&corpus, &scan, &cfg.fields, &dedup::Options::default(), &mut out)?;
//! out.commit()?;
//! println!("{} records kept", done.written);
//! # Ok::<(), syndic::Error>(())
//! ```

mod attributes;
mod parquet;

pub use attributes::{attribute_path, attribute_paths, write_attributes, BOILERPLATE, DUPLICATE};

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Error, Location, Result};
use crate::output::Output;
use crate::pipeline::Scan;
use crate::read::{lookup_mut, Corpus, Document, Fields, Raw};

/// What [`write()`] writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Keep every record (skipped ones too) and add the annotation fields, instead of dropping
    /// the duplicates.
    pub annotate: bool,
    /// Remove the lines flagged as boilerplate from the text of the records written.
    pub strip_boilerplate: bool,
    /// Put before the names of the annotation fields ([`FIELDS`]), for records that already
    /// have a field of that name.
    pub prefix: String,
}

/// The fields an annotated record gets (the names datatrove's MinHash filter uses for the
/// first two): the index of its cluster in the report (-1 outside a cluster), the cluster's
/// size (1 outside a cluster), the id of the document kept for it (null for kept documents) and,
/// only on records that are no document, why ([`crate::error::RecordError::reason`]).
pub const FIELDS: [&str; 4] = [
    "minhash_cluster_id",
    "minhash_cluster_size",
    "duplicate_of",
    "skip_reason",
];

/// What [`write()`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Records written.
    pub written: u64,
    /// Of those, records that are no document (skipped by the scan; only when annotating).
    pub skipped: u64,
    /// Records written to the output of removed records ([`write_split`]): duplicates, and
    /// records that are no document.
    pub removed: u64,
    /// Records that are no document and cannot be read at all (a corrupt stream), so that
    /// they are in neither output: counted in the report's `stats.skipped`.
    pub unreadable: u64,
}

/// The format of an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (compressed as the name says: `.gz`, `.zst`).
    Jsonl,
    /// Apache Parquet (snappy pages): from Parquet input only, every column kept.
    Parquet,
}

impl Format {
    /// The format a file name asks for: Parquet for a name ending in `.parquet`, JSONL for any
    /// other (and for `-`, stdout). `.parquet.gz` and `.parquet.zst` are errors: Parquet
    /// compresses its own pages.
    pub fn of(path: &Path) -> Result<Format> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".parquet") {
            return Ok(Format::Parquet);
        }
        if [".parquet.gz", ".parquet.zst"]
            .iter()
            .any(|e| name.ends_with(e))
        {
            return Err(Error::ParquetOutput {
                path: path.to_path_buf(),
                why: "Parquet compresses its own pages (name the file .parquet)".into(),
            });
        }
        Ok(Format::Jsonl)
    }
}

/// Checks, before a scan, that the records of `corpus` can be written to `out` (and the removed
/// ones to `removed`) as `opts` asks: Parquet output needs Parquet input files of one schema
/// that has none of the annotation columns; both outputs have one format; annotating removes
/// nothing. [`write_split`] checks the same.
pub fn check(corpus: &Corpus, opts: &Options, out: &Path, removed: Option<&Path>) -> Result<()> {
    let format = Format::of(out)?;
    if let Some(r) = removed {
        if opts.annotate {
            return Err(Error::Param(
                "annotating keeps every record, so there are no removed records to write".into(),
            ));
        }
        if Format::of(r)? != format {
            return Err(Error::Param(format!(
                "the removed records are written in the format of the output: name {} and {} \
                 both .parquet, or neither",
                out.display(),
                r.display()
            )));
        }
    }
    if format == Format::Parquet {
        parquet::Plan::new(corpus, out, opts)?;
    }
    Ok(())
}

/// Writes the records of `corpus` that `opts` asks for to `out` ([`Format::of`] its name: one
/// JSON line each, or Parquet rows), using the clusters and boilerplate of `scan` (a scan of
/// the same corpus with the same `fields`).
pub fn write(
    corpus: &Corpus,
    scan: &Scan,
    fields: &Fields,
    opts: &Options,
    out: &mut Output,
) -> Result<Written> {
    write_split(corpus, scan, fields, opts, out, None)
}

/// [`write()`], and the records it does not write (duplicates, and records that are no
/// document) to `removed`, as they stand (without stripping boilerplate; the exclusion writer of
/// datatrove): the two outputs together hold every record of the input. `removed` has the
/// format of `out`; it needs `opts.annotate` off.
pub fn write_split(
    corpus: &Corpus,
    scan: &Scan,
    fields: &Fields,
    opts: &Options,
    out: &mut Output,
    removed: Option<&mut Output>,
) -> Result<Written> {
    check(
        corpus,
        opts,
        out.shown(),
        removed.as_ref().map(|r| r.shown()),
    )?;
    match Format::of(out.shown())? {
        Format::Parquet => parquet::write(corpus, scan, fields, opts, out, removed),
        Format::Jsonl => {
            let assign = scan.assignment();
            let fate = |d: usize| {
                let (c, size, dup_of) = cluster_of(scan, &assign, d);
                Fate {
                    cluster: (c, size, dup_of.map(str::to_string)),
                    flagged: if opts.strip_boilerplate {
                        scan.boilerplate.mask.flagged(d)
                    } else {
                        Vec::new()
                    },
                }
            };
            write_jsonl(corpus, &scan.docs, fields, opts, out, removed, &fate)
        }
    }
}

/// What becomes of one document: its cluster (index in the report, -1 outside a cluster), the
/// cluster's size (1 outside a cluster) and the id of the document kept for it (`None` when it
/// is the one kept), and its flagged lines when they are stripped.
pub(crate) struct Fate {
    pub cluster: (i64, i64, Option<String>),
    pub flagged: Vec<u32>,
}

/// [`write()`] (JSONL) over documents `docs` (those `corpus` holds, in order), each document's
/// fate from `fate`: a process of a distributed run writes its own files' records this way.
#[cfg(feature = "distributed")]
pub(crate) fn write_with(
    corpus: &Corpus,
    docs: &[crate::ingest::DocMeta],
    fields: &Fields,
    opts: &Options,
    out: &mut Output,
    fate: &dyn Fn(usize) -> Fate,
) -> Result<Written> {
    write_jsonl(corpus, docs, fields, opts, out, None, fate)
}

/// A document's cluster (its index in the report, -1 outside a cluster), the cluster's size (1
/// outside a cluster) and the id of the document kept for it (`None` when it is the one kept).
fn cluster_of<'s>(
    scan: &'s Scan,
    assign: &[Option<(u32, u32)>],
    d: usize,
) -> (i64, i64, Option<&'s str>) {
    match assign[d] {
        Some((c, rep)) => (
            c as i64,
            scan.clusters[c as usize].members.len() as i64,
            (rep as usize != d).then(|| scan.docs[rep as usize].id.as_str()),
        ),
        None => (-1, 1, None),
    }
}

fn write_jsonl(
    corpus: &Corpus,
    docs: &[crate::ingest::DocMeta],
    fields: &Fields,
    opts: &Options,
    out: &mut Output,
    mut removed: Option<&mut Output>,
    fate: &dyn Fn(usize) -> Fate,
) -> Result<Written> {
    let names: Vec<String> = FIELDS
        .iter()
        .map(|f| format!("{}{f}", opts.prefix))
        .collect();
    let mut next = 0usize;
    let mut done = Written::default();
    let mut line = Vec::new();
    corpus.for_each_raw(fields, |at: &Location, raw: Raw| {
        line.clear();
        let doc = (next < docs.len() && &docs[next].at == at).then(|| {
            next += 1;
            next - 1
        });
        let Some(d) = doc else {
            // No document: counted in the report's stats.skipped; kept only when annotating, so
            // that rows stay aligned with the input.
            if !opts.annotate {
                return match removed.as_deref_mut() {
                    Some(r) => write_removed(r, &mut line, &raw, &at.path, &mut done),
                    None => Ok(()),
                };
            }
            let reason = raw.skip_reason(at, fields);
            let mut obj = match &raw {
                Raw::Line(b) => match serde_json::from_slice(b) {
                    Ok(Value::Object(o)) => o,
                    // Not an object: the line itself, as a string.
                    _ => {
                        let mut o = Map::new();
                        o.insert(
                            "raw".into(),
                            Value::String(String::from_utf8_lossy(b).into_owned()),
                        );
                        o
                    }
                },
                Raw::Row(o) => o.clone(),
                Raw::Text(t) => text_object(&at.path, t),
                Raw::Memory(doc) => memory_object(doc),
                Raw::Bad(_) => Map::new(),
            };
            annotate(&mut obj, &names, at, (-1, 1, Value::Null))?;
            obj.insert(names[3].clone(), Value::String(reason.into()));
            serde_json::to_writer(&mut line, &Value::Object(obj)).expect("serializes");
            done.skipped += 1;
            return emit(out, &mut line, &mut done);
        };
        let Fate {
            cluster: (cluster, size, dup_of),
            flagged,
        } = fate(d);
        if dup_of.is_some() && !opts.annotate {
            return match removed.as_deref_mut() {
                Some(r) => write_removed(r, &mut line, &raw, &docs[d].id, &mut done),
                None => Ok(()),
            };
        }
        if let Raw::Line(b) = raw {
            if !opts.annotate && flagged.is_empty() {
                line.extend_from_slice(b);
                return emit(out, &mut line, &mut done);
            }
        }
        let (mut obj, field) = match raw {
            Raw::Line(b) => match serde_json::from_slice(b) {
                Ok(Value::Object(o)) => (o, fields.text.as_str()),
                _ => return Err(changed(next, docs)),
            },
            Raw::Row(o) => (o, fields.text.as_str()),
            Raw::Text(t) => (text_object(&docs[d].id, t), "text"),
            Raw::Memory(doc) => (memory_object(doc), "text"),
            Raw::Bad(_) => return Err(changed(next, docs)),
        };
        if !flagged.is_empty() {
            let mut value = Value::Object(obj);
            if let Some(Value::String(t)) = lookup_mut(&mut value, field) {
                *t = strip_lines(t, &flagged);
            }
            let Value::Object(o) = value else {
                unreachable!("an object stays one")
            };
            obj = o;
        }
        if opts.annotate {
            let dup_of = dup_of.map_or(Value::Null, Value::String);
            annotate(&mut obj, &names, at, (cluster, size, dup_of))?;
        }
        serde_json::to_writer(&mut line, &Value::Object(obj)).expect("serializes");
        emit(out, &mut line, &mut done)
    })?;
    if next != docs.len() {
        // Nothing is committed: the caller drops `out`, which removes the partial file.
        return Err(changed(next, docs));
    }
    Ok(done)
}

/// `text` without the lines (0-based, sorted) in `flagged`, the others joined by `\n`.
pub fn strip_lines(text: &str, flagged: &[u32]) -> String {
    text.split('\n')
        .enumerate()
        .filter(|(i, _)| flagged.binary_search(&(*i as u32)).is_err())
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A plain-text document as a record.
fn text_object(id: &str, text: &str) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("id".into(), Value::String(id.to_string()));
    o.insert("text".into(), Value::String(text.to_string()));
    o
}

/// A document given in memory as a record: `id` (null when it had none), `text`, `source`,
/// `date`.
fn memory_object(doc: &Document) -> Map<String, Value> {
    let mut o = Map::new();
    let opt = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    o.insert("id".into(), opt(&doc.id));
    o.insert("text".into(), Value::String(doc.text.clone()));
    o.insert("source".into(), opt(&doc.source));
    o.insert("date".into(), opt(&doc.date));
    o
}

/// Adds the cluster id, size and representative to a record that has none of those fields.
fn annotate(
    obj: &mut Map<String, Value>,
    names: &[String],
    at: &Location,
    (cluster, size, dup_of): (i64, i64, Value),
) -> Result<()> {
    if let Some(name) = names.iter().find(|n| obj.contains_key(n.as_str())) {
        return Err(Error::FieldExists {
            at: at.clone(),
            field: name.clone(),
        });
    }
    obj.insert(names[0].clone(), Value::from(cluster));
    obj.insert(names[1].clone(), Value::from(size));
    obj.insert(names[2].clone(), dup_of);
    Ok(())
}

/// Writes a record that is not kept to the output of removed records, as it stands (`id`
/// names a plain-text document); one that cannot be read at all is only counted.
fn write_removed(
    out: &mut Output,
    line: &mut Vec<u8>,
    raw: &Raw,
    id: &str,
    done: &mut Written,
) -> Result<()> {
    match raw {
        Raw::Line(b) => line.extend_from_slice(b),
        Raw::Row(o) => serde_json::to_writer(&mut *line, o).expect("serializes"),
        Raw::Text(t) => serde_json::to_writer(&mut *line, &text_object(id, t)).expect("serializes"),
        Raw::Memory(doc) => {
            serde_json::to_writer(&mut *line, &memory_object(doc)).expect("serializes")
        }
        Raw::Bad(_) => {
            done.unreadable += 1;
            return Ok(());
        }
    }
    line.push(b'\n');
    out.write_all(line).map_err(|e| out.error(e))?;
    done.removed += 1;
    Ok(())
}

fn emit(out: &mut Output, line: &mut Vec<u8>, done: &mut Written) -> Result<()> {
    line.push(b'\n');
    out.write_all(line).map_err(|e| out.error(e))?;
    done.written += 1;
    Ok(())
}

fn changed(found: usize, docs: &[crate::ingest::DocMeta]) -> Error {
    Error::InputChanged {
        found: found as u64,
        documents: docs.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_chooses_the_format() {
        let f = |p: &str| Format::of(Path::new(p));
        assert_eq!(f("out.parquet").unwrap(), Format::Parquet);
        assert_eq!(f("OUT.PARQUET").unwrap(), Format::Parquet);
        assert_eq!(f("out.jsonl.zst").unwrap(), Format::Jsonl);
        assert_eq!(f("-").unwrap(), Format::Jsonl);
        let e = f("out.parquet.gz").unwrap_err().to_string();
        assert!(e.contains("name the file .parquet"), "{e}");
    }

    #[test]
    fn strip_lines_keeps_the_others_in_order() {
        assert_eq!(strip_lines("a\nb\nc\nd", &[1, 3]), "a\nc");
        assert_eq!(strip_lines("a\nb", &[]), "a\nb");
        assert_eq!(strip_lines("a\n\nb", &[0]), "\nb");
    }

    #[test]
    fn an_existing_field_is_not_overwritten() {
        let names: Vec<String> = FIELDS.iter().map(|f| f.to_string()).collect();
        let at = Location {
            path: "a.jsonl".into(),
            line: 3,
        };
        let mut obj = Map::new();
        obj.insert("duplicate_of".into(), Value::from("x"));
        let e = annotate(&mut obj, &names, &at, (0, 2, Value::Null)).unwrap_err();
        assert!(
            e.to_string().contains("a.jsonl:3") && e.to_string().contains("\"duplicate_of\""),
            "{e}"
        );
        assert_eq!(obj["duplicate_of"], "x", "left as it was");
        let prefixed: Vec<String> = FIELDS.iter().map(|f| format!("syndic_{f}")).collect();
        annotate(&mut obj, &prefixed, &at, (0, 2, Value::Null)).unwrap();
        assert_eq!(obj["syndic_minhash_cluster_size"], 2);
    }
}
