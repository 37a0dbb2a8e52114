//! `syndic dedup`: write the corpus back with one document kept per cluster.

use std::path::PathBuf;

use anyhow::Result;
use syndic::dedup;
use syndic::output::Output;

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
    /// Keep every record and add "minhash_cluster_id" (the cluster's id in the report, -1 outside
    /// a cluster), "minhash_cluster_size" (1 outside a cluster) and "duplicate_of" (the id of the
    /// document kept for it; null for kept documents) instead of dropping duplicates. Records
    /// that are no document (skipped under --on-error skip) are kept too, with "skip_reason".
    /// A record that already has one of these fields is an error.
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
    /// Also write a self-contained HTML page to check the clusters by eye.
    #[arg(long, value_name = "FILE.html", help_heading = "Output")]
    pub html: Option<PathBuf>,
    /// Also write the JSON report here.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<()> {
    for path in std::iter::once(&a.output).chain(&a.report).chain(&a.html) {
        syndic::output::check_target(path)?;
    }
    let (corpus, scan, cfg, rep) = scan_with(&a.pipeline)?;
    let mut out = Output::create(&a.output)?;
    let opts = dedup::Options {
        annotate: a.annotate,
        strip_boilerplate: a.strip_boilerplate,
        prefix: a.annotate_prefix.unwrap_or_default(),
    };
    let done = dedup::write(&corpus, &scan, &cfg.fields, &opts, &mut out)?;
    out.commit()?;
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
    }
    Ok(())
}
