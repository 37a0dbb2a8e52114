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
    /// Also write, per document with flagged lines, {"id", "boilerplate_lines": [indexes],
    /// "templates": [template id of each]} as JSONL (indexes into the text split on "\n", from
    /// 0; ids as in the report's boilerplate.templates).
    #[arg(long, value_name = "FILE.jsonl", help_heading = "Output")]
    pub annotations: Option<PathBuf>,
    /// Also write a self-contained HTML page to check the clusters by eye (open it in a
    /// browser; it works offline).
    #[arg(long, value_name = "FILE.html", help_heading = "Output")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub distributed: crate::distributed::DistArgs,
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
    scan_checked(p, |_| Ok(()))
}

/// [`scan_with`], running `check` on the corpus before the scan (so that what cannot be
/// written fails at once, not after a long scan).
pub fn scan_checked(
    p: &Pipeline,
    check: impl FnOnce(&Corpus) -> syndic::Result<()>,
) -> Result<(Corpus, pipeline::Scan, pipeline::Config, report::Report)> {
    p.init_threads()?;
    let cfg = p.config()?;
    let t0 = Instant::now();
    let corpus = Corpus::open_with(&p.inputs, &p.folder_filter()?)?;
    check(&corpus)?;
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
    if !p.quiet {
        if let Some(note) = files_note(&rep.stats.files_skipped) {
            eprintln!("{note}");
        }
    }
    Ok((corpus, scan, cfg, rep))
}

/// What was not read, in a line: `syndic: note: 3 files not read (1 empty, 2 hidden): ...`.
fn files_note(f: &syndic::read::FilesSkipped) -> Option<String> {
    let first = f.examples.first()?;
    let reasons: Vec<String> = f
        .by_reason
        .iter()
        .map(|(r, n)| format!("{n} {}", r.replace('_', " ")))
        .collect();
    Some(format!(
        "syndic: note: {} not read ({}), first {} ({}); all in stats.files_skipped",
        count(f.total, "file", "files"),
        reasons.join(", "),
        first.path,
        first.reason.replace('_', " ")
    ))
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn summary(rep: &report::Report) -> String {
    use report::count;
    let s = &rep.stats;
    let mut line = format!(
        "syndic: {}: {} and {} in {}; {} kept",
        count(s.documents, "document", "documents"),
        count(s.exact_duplicates, "exact duplicate", "exact duplicates"),
        count(s.near_duplicates, "near duplicate", "near duplicates"),
        count(s.clusters, "cluster", "clusters"),
        s.kept
    );
    if rep.boilerplate.lines_flagged > 0 {
        line += &format!(
            "; {} ({})",
            count(
                rep.boilerplate.lines_flagged,
                "boilerplate line",
                "boilerplate lines"
            ),
            count(
                rep.boilerplate.templates.len() as u64,
                "template",
                "templates"
            )
        );
    }
    if s.empty_documents > 0 {
        line += &format!(
            "; {} (kept, never clustered)",
            count(s.empty_documents, "empty document", "empty documents")
        );
    }
    if s.skipped.total > 0 {
        line += &format!(
            "; {} skipped (stats.skipped in the report; first: {})",
            count(s.skipped.total, "record", "records"),
            s.skipped.examples.first().map_or("", String::as_str)
        );
    }
    line += &format!("; {:.2} s", rep.run.seconds);
    line
}

pub fn run(a: Args) -> Result<()> {
    if let Some(n) = a.distributed.local {
        return crate::distributed::run_local(n, a.pipeline.quiet);
    }
    let cluster = a.distributed.cluster()?;
    let leader = cluster.as_ref().is_none_or(|c| c.process == 0);
    if leader {
        for path in a.output.iter().chain(&a.annotations).chain(&a.html) {
            output::check_target(path)?;
        }
    }
    let got = match &cluster {
        None => Some(scan_with(&a.pipeline)?),
        Some(c) => crate::distributed::scan(&a.pipeline, c)?,
    };
    // Only process 0 of a distributed run writes.
    let Some((corpus, scan, _cfg, rep)) = got else {
        return Ok(());
    };
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
