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
        if a.removed.is_some() || a.attributes.is_some() {
            anyhow::bail!(
                "--removed and --attributes are written from one process: add --single-output"
            );
        }
        if dedup::Format::of(&a.output)? == dedup::Format::Parquet {
            anyhow::bail!("Parquet output is written from one process: add --single-output");
        }
        return run_shard(&a, c);
    }
    if cluster.as_ref().is_none_or(|c| c.process == 0) {
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
    }
    let opts = dedup::Options {
        annotate: a.annotate,
        strip_boilerplate: a.strip_boilerplate,
        prefix: a.annotate_prefix.unwrap_or_default(),
    };
    let check = |corpus: &syndic::Corpus| {
        if let Some(dir) = &a.attributes {
            dedup::attribute_paths(corpus, dir)?;
        }
        dedup::check(corpus, &opts, &a.output, a.removed.as_deref())
    };
    let got = match &cluster {
        None => Some(scan_checked(&a.pipeline, check)?),
        Some(c) => {
            let corpus =
                syndic::Corpus::open_with(&a.pipeline.inputs, &a.pipeline.folder_filter()?)?;
            check(&corpus)?;
            crate::distributed::scan(&a.pipeline, c)?
        }
    };
    // Only process 0 of a distributed run writes.
    let Some((corpus, scan, cfg, rep)) = got else {
        return Ok(());
    };
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
