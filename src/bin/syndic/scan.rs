//! `syndic scan`: run the pipeline and write the report.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use syndic::{output, pipeline, read::Corpus, report};

use crate::args::Pipeline;
use crate::progress::Bars;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub pipeline: Pipeline,
    /// Where to write the JSON report (default: stdout).
    #[arg(short, long, value_name = "FILE", help_heading = "Output")]
    pub output: Option<PathBuf>,
    /// Also write, per document with flagged lines, {"id", "boilerplate_lines": [indexes]} as
    /// JSONL (indexes into the text split on "\n", from 0).
    #[arg(long, value_name = "FILE.jsonl", help_heading = "Output")]
    pub annotations: Option<PathBuf>,
    /// Also write a self-contained HTML page to check the clusters by eye (open it in a
    /// browser; it works offline).
    #[arg(long, value_name = "FILE.html", help_heading = "Output")]
    pub html: Option<PathBuf>,
}

/// Writes the visual report (re-reading the corpus for the raw texts).
pub fn write_html(
    path: &std::path::Path,
    corpus: &Corpus,
    scan: &pipeline::Scan,
    rep: &report::Report,
) -> Result<()> {
    let page = syndic::html::build(corpus, scan, rep)?;
    let mut out = output::Output::create(path)?;
    page.write_to(&mut out).map_err(|e| out.error(e))?;
    out.commit()?;
    Ok(())
}

/// Runs the pipeline with the CLI's progress bars; returns the scan, the config and the report.
pub fn scan_with(
    p: &Pipeline,
) -> Result<(Corpus, pipeline::Scan, pipeline::Config, report::Report)> {
    p.init_threads()?;
    let cfg = p.config()?;
    let t0 = Instant::now();
    let corpus = Corpus::open(&p.inputs)?;
    let bars = Bars::new(p.quiet);
    let scan = pipeline::scan_within(&corpus, &cfg, p.budget(), &bars)?;
    let run = report::RunInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        threads: rayon::current_num_threads(),
        seconds: t0.elapsed().as_secs_f64(),
        stages: scan.timings.clone(),
        memory_limit: p.memory_limit,
        spilled: scan.spilled.clone(),
    };
    let rep = report::build(&scan, &cfg, run);
    Ok((corpus, scan, cfg, rep))
}

pub fn summary(rep: &report::Report) -> String {
    let s = &rep.stats;
    let mut line = format!(
        "syndic: {} documents: {} exact and {} near duplicates in {} clusters; {} kept",
        s.documents, s.exact_duplicates, s.near_duplicates, s.clusters, s.kept
    );
    if rep.boilerplate.lines_flagged > 0 {
        line += &format!(
            "; {} boilerplate lines ({} templates)",
            rep.boilerplate.lines_flagged,
            rep.boilerplate.templates.len()
        );
    }
    if s.skipped.total > 0 {
        line += &format!(
            "; {} records skipped (stats.skipped in the report; first: {})",
            s.skipped.total,
            s.skipped.examples.first().map_or("", String::as_str)
        );
    }
    line += &format!("; {:.2} s", rep.run.seconds);
    line
}

pub fn run(a: Args) -> Result<()> {
    for path in a.output.iter().chain(&a.annotations).chain(&a.html) {
        output::check_target(path)?;
    }
    let (corpus, scan, _cfg, rep) = scan_with(&a.pipeline)?;
    if let Some(path) = &a.annotations {
        output::write_atomic(path, report::annotations_jsonl(&scan).as_bytes())?;
    }
    if let Some(path) = &a.html {
        write_html(path, &corpus, &scan, &rep)?;
    }
    let json = rep.to_json();
    match &a.output {
        Some(path) => output::write_atomic(path, json.as_bytes())?,
        None => output::write_atomic(std::path::Path::new("-"), json.as_bytes())?,
    }
    if !a.pipeline.quiet {
        eprintln!("{}", summary(&rep));
    }
    // The process ends here: the system reclaims the scan's many small allocations at exit in
    // bulk, faster than freeing them one by one.
    std::mem::forget(scan);
    std::mem::forget(rep);
    Ok(())
}
