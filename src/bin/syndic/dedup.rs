//! `syndic dedup`: write the corpus back with one document kept per cluster.

use std::path::PathBuf;

use anyhow::Result;
use syndic::dedup;
use syndic::output::Output;

use crate::args::Pipeline;
use crate::scan::{scan_checked, summary, write_html};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pipeline: Pipeline,
    /// Where to write the cleaned corpus: JSONL, compressed when the name ends in .gz or .zst
    /// (`-` for stdout); or Parquet when it ends in .parquet, from Parquet input only, with
    /// every column of the input kept (Parquet input written as JSONL keeps the text, id,
    /// source and date columns only).
    #[arg(short, long, value_name = "FILE.jsonl", help_heading = "Output")]
    pub output: PathBuf,
    /// Keep every record and add "minhash_cluster_id" (the cluster's id in the report, -1 outside
    /// a cluster), "minhash_cluster_size" (1 outside a cluster) and "duplicate_of" (the id of the
    /// document kept for it; null for kept documents) instead of dropping duplicates. Records
    /// that are no document (skipped under --on-error skip) are kept too, with "skip_reason".
    /// A record that already has one of these fields is an error. In Parquet output they are
    /// columns appended to the input's (Int64, Int64, Utf8; "skip_reason" only when rows were
    /// skipped).
    #[arg(long, help_heading = "Output")]
    pub annotate: bool,
    /// Put PREFIX before the names of the fields --annotate writes (for records that already
    /// have fields of those names).
    #[arg(
        long,
        value_name = "PREFIX",
        requires = "annotate",
        help_heading = "Output"
    )]
    pub annotate_prefix: Option<String>,
    /// Remove the lines flagged as boilerplate from the text field of the records written.
    #[arg(long, help_heading = "Output")]
    pub strip_boilerplate: bool,
    /// Also write the records that are not kept (duplicates, and records that are no document)
    /// here, as they stand and in input order, in the format of the output: the two files
    /// together hold the input.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "annotate",
        help_heading = "Output"
    )]
    pub removed: Option<PathBuf>,
    /// Also write dolma-style attribute files under DIR, one per input file at the same
    /// relative path (".jsonl" added to other formats' names), one JSON line per record:
    /// {"id", "attributes": {"syndic__duplicate": [[0, length, 1.0]] for a duplicate,
    /// "syndic__boilerplate": [[start, end, 1.0], ...] for flagged lines}}, offsets in code
    /// points.
    #[arg(long, value_name = "DIR", help_heading = "Output")]
    pub attributes: Option<PathBuf>,
    /// Also write a self-contained HTML page to check the clusters by eye.
    #[arg(long, value_name = "FILE.html", help_heading = "Output")]
    pub html: Option<PathBuf>,
    /// Also write the JSON report here.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    for path in std::iter::once(&a.output)
        .chain(&a.removed)
        .chain(&a.report)
        .chain(&a.html)
    {
        syndic::output::check_target(path)?;
    }
    if let Some(dir) = &a.attributes {
        std::fs::create_dir_all(dir).map_err(|e| syndic::Error::Output {
            path: dir.clone(),
            source: e,
        })?;
    }
    let opts = dedup::Options {
        annotate: a.annotate,
        strip_boilerplate: a.strip_boilerplate,
        prefix: a.annotate_prefix.unwrap_or_default(),
    };
    let (corpus, scan, cfg, rep) = scan_checked(&a.pipeline, |corpus| {
        if let Some(dir) = &a.attributes {
            dedup::attribute_paths(corpus, dir)?;
        }
        dedup::check(corpus, &opts, &a.output, a.removed.as_deref())
    })?;
    let mut out = Output::create(&a.output)?;
    let mut removed = a.removed.as_deref().map(Output::create).transpose()?;
    let done = dedup::write_split(
        &corpus,
        &scan,
        &cfg.fields,
        &opts,
        &mut out,
        removed.as_mut(),
    )?;
    out.commit()?;
    if let Some(r) = removed {
        r.commit()?;
    }
    let attributes = match &a.attributes {
        Some(dir) => Some(dedup::write_attributes(&corpus, &scan, &cfg.fields, dir)?),
        None => None,
    };
    if let Some(path) = &a.html {
        write_html(path, &corpus, &scan, &rep)?;
    }
    // The report last: when it exists, the run is complete.
    if let Some(path) = &a.report {
        syndic::output::write_atomic(path, rep.to_json().as_bytes())?;
    }
    if !a.pipeline.quiet {
        eprintln!("{}", summary(&rep));
        let skipped = if done.skipped > 0 {
            format!(
                " ({} no document, with its skip_reason)",
                syndic::report::count(done.skipped, "record is", "records are")
            )
        } else {
            String::new()
        };
        eprintln!(
            "syndic: wrote {} to {}{skipped}",
            syndic::report::count(done.written, "record", "records"),
            a.output.display()
        );
        if let Some(path) = &a.removed {
            eprintln!(
                "syndic: wrote {} to {}",
                syndic::report::count(done.removed, "removed record", "removed records"),
                path.display()
            );
        }
        if done.unreadable > 0 {
            eprintln!(
                "syndic: note: {} cannot be read, so in neither file (see the report's \
                 stats.skipped)",
                syndic::report::count(done.unreadable, "record", "records")
            );
        }
        if let (Some(dir), Some(n)) = (&a.attributes, attributes) {
            eprintln!(
                "syndic: wrote {} under {}",
                syndic::report::count(n, "attribute file", "attribute files"),
                dir.display()
            );
        }
    }
    Ok(())
}
