//! `syndic dedup`: write the corpus back with one document kept per cluster.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use serde_json::{Map, Value};
use syndic::error::Location;
use syndic::output::Output;
use syndic::read::Raw;

use crate::args::Pipeline;
use crate::scan::{scan_with, summary, write_html};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pipeline: Pipeline,
    /// Where to write the cleaned corpus (JSONL, compressed when the name ends in .gz or .zst;
    /// `-` for stdout).
    #[arg(short, long, value_name = "FILE.jsonl", help_heading = "Output")]
    pub output: PathBuf,
    /// Keep every record and add "cluster_id" and "duplicate_of" (the representative's id; null
    /// for representatives and documents in no cluster) instead of dropping duplicates.
    #[arg(long, help_heading = "Output")]
    pub annotate: bool,
    /// Remove the lines flagged as boilerplate from the text field of the records written.
    #[arg(long, help_heading = "Output")]
    pub strip_boilerplate: bool,
    /// Also write the JSON report here.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,
    /// Also write a self-contained HTML page to check the clusters by eye.
    #[arg(long, value_name = "FILE.html", help_heading = "Output")]
    pub html: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    for path in std::iter::once(&a.output).chain(&a.report).chain(&a.html) {
        syndic::output::check_target(path)?;
    }
    let (corpus, scan, cfg, rep) = scan_with(&a.pipeline)?;
    let mut sink = Output::create(&a.output)?;
    let assign = scan.assignment();
    let text_field = &cfg.fields.text;
    let mut next = 0usize;
    let mut written = 0u64;
    let shown = sink.shown().to_path_buf();
    let werr = |e: io::Error| syndic::Error::Output {
        path: shown.clone(),
        source: e,
    };
    corpus.for_each_raw(|at: &Location, raw: Raw| {
        // Records the scan skipped have no document: they are counted in the report.
        if next >= scan.docs.len() || &scan.docs[next].at != at {
            return Ok(());
        }
        let d = next;
        next += 1;
        let cluster = assign[d];
        let is_dup = matches!(cluster, Some((_, rep)) if rep as usize != d);
        if is_dup && !a.annotate {
            return Ok(());
        }
        let flagged = if a.strip_boilerplate {
            scan.boilerplate.mask.flagged(d)
        } else {
            Vec::new()
        };
        let line: Vec<u8> = match raw {
            Raw::Line(bytes) if !a.annotate && flagged.is_empty() => bytes.to_vec(),
            raw => {
                let mut obj: Map<String, Value> = match raw {
                    Raw::Line(bytes) => match serde_json::from_slice(bytes) {
                        Ok(Value::Object(o)) => o,
                        _ => return Ok(()), // unreachable: the scan parsed it
                    },
                    Raw::Text(t) => {
                        let mut o = Map::new();
                        o.insert("id".into(), Value::String(scan.docs[d].id.clone()));
                        o.insert("text".into(), Value::String(t.to_string()));
                        o
                    }
                };
                let field = if matches!(raw, Raw::Text(_)) {
                    "text"
                } else {
                    text_field.as_str()
                };
                if !flagged.is_empty() {
                    if let Some(Value::String(t)) = obj.get(field) {
                        let kept: Vec<&str> = t
                            .split('\n')
                            .enumerate()
                            .filter(|(i, _)| flagged.binary_search(&(*i as u32)).is_err())
                            .map(|(_, l)| l)
                            .collect();
                        let t = kept.join("\n");
                        obj.insert(field.to_string(), Value::String(t));
                    }
                }
                if a.annotate {
                    let (cid, dup_of) = match cluster {
                        Some((c, rep)) => (
                            Value::from(c),
                            if rep as usize == d {
                                Value::Null
                            } else {
                                Value::String(scan.docs[rep as usize].id.clone())
                            },
                        ),
                        None => (Value::Null, Value::Null),
                    };
                    obj.insert("cluster_id".into(), cid);
                    obj.insert("duplicate_of".into(), dup_of);
                }
                serde_json::to_vec(&Value::Object(obj)).expect("serializes")
            }
        };
        sink.write_all(&line).map_err(werr)?;
        sink.write_all(b"\n").map_err(werr)?;
        written += 1;
        Ok(())
    })?;
    if next != scan.docs.len() {
        // Nothing is committed: the partial output is removed when `sink` drops.
        anyhow::bail!(
            "the input changed between the two reads: {} of {} documents found again",
            next,
            scan.docs.len()
        );
    }
    sink.commit()?;
    if let Some(path) = &a.html {
        write_html(path, &corpus, &scan, &rep)?;
    }
    // The report last: when it exists, the run is complete.
    if let Some(path) = &a.report {
        syndic::output::write_atomic(path, rep.to_json().as_bytes())?;
    }
    if !a.pipeline.quiet {
        eprintln!("{}", summary(&rep));
        eprintln!("syndic: wrote {written} records to {}", a.output.display());
    }
    Ok(())
}
