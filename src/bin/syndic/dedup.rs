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
    #[command(flatten)]
    pub distributed: crate::distributed::DistArgs,
    /// In a run over several processes, process 0 writes the whole output (the other processes
    /// write nothing). Without it, each process writes the records of its own input files to
    /// a shard: OUT with the process index before the extension (clean.1.jsonl.zst).
    #[arg(long, help_heading = "Several processes")]
    pub single_output: bool,
}

pub fn run(a: Args) -> Result<()> {
    if let Some(n) = a.distributed.local {
        return crate::distributed::run_local(n, a.pipeline.quiet);
    }
    let cluster = a.distributed.cluster()?;
    if let Some(c) = cluster.as_ref().filter(|_| !a.single_output) {
        return run_shard(&a, c);
    }
    if cluster.as_ref().is_none_or(|c| c.process == 0) {
        for path in std::iter::once(&a.output).chain(&a.report).chain(&a.html) {
            syndic::output::check_target(path)?;
        }
    }
    let got = match &cluster {
        None => Some(scan_with(&a.pipeline)?),
        Some(c) => crate::distributed::scan(&a.pipeline, c)?,
    };
    // Only process 0 of a distributed run writes.
    let Some((corpus, scan, cfg, rep)) = got else {
        return Ok(());
    };
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

/// `OUT` with `process` before its extension: `clean.jsonl.zst` → `clean.1.jsonl.zst`.
pub fn shard_path(out: &std::path::Path, process: usize) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cut = name
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c == '.')
        .map(|(i, _)| i);
    let shard = match cut {
        Some(i) => format!("{}.{process}{}", &name[..i], &name[i..]),
        None => format!("{name}.{process}"),
    };
    out.with_file_name(shard)
}

/// One process of a distributed `dedup` writing its shard; process 0 also writes the report
/// and the page.
fn run_shard(a: &Args, c: &syndic::distributed::Cluster) -> Result<()> {
    let shard = shard_path(&a.output, c.process);
    let leader = c.process == 0;
    syndic::output::check_target(&shard)?;
    if leader {
        for path in a.report.iter().chain(&a.html) {
            syndic::output::check_target(path)?;
        }
    }
    let p = &a.pipeline;
    p.init_threads()?;
    let cfg = p.config()?;
    let t0 = std::time::Instant::now();
    let corpus = syndic::read::Corpus::open_with(&p.inputs, &p.folder_filter()?)?;
    let bars = crate::progress::Bars::new(p.quiet);
    let opts = dedup::Options {
        annotate: a.annotate,
        strip_boilerplate: a.strip_boilerplate,
        prefix: a.annotate_prefix.clone().unwrap_or_default(),
    };
    let out = Output::create(&shard)?;
    let done = syndic::distributed::dedup_within(c, &corpus, &cfg, p.budget(), &bars, &opts, out)?;
    crate::distributed::note_bytes(c, &done.outcome);
    if let Some(scan) = done.outcome.scan {
        let rep = crate::distributed::report_of(p, &cfg, &scan, t0);
        if let Some(path) = &a.html {
            write_html(path, &corpus, &scan, &rep)?;
        }
        if let Some(path) = &a.report {
            syndic::output::write_atomic(path, rep.to_json().as_bytes())?;
        }
        if !p.quiet {
            eprintln!("{}", summary(&rep));
        }
    }
    if !p.quiet {
        eprintln!(
            "syndic: process {} wrote {} to {}",
            c.process,
            syndic::report::count(done.written.written, "record", "records"),
            shard.display()
        );
    }
    Ok(())
}
