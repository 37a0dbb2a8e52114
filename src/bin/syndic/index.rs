//! `syndic index`: an incremental index on disk (create, add, check, export, expire, delete,
//! stats, verify).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use syndic::index::{self, Index};
use syndic::read::{Corpus, Fields, FolderFilter, OnError};
use syndic::{output, report};

use crate::args::{OnErrorArg, Pipeline};
use crate::progress::Bars;

pub const EXAMPLES: &str = "Examples:
  syndic index create news.idx --max-days 3
  syndic index add news.idx today.jsonl.gz
  syndic index check news.idx incoming.jsonl -o answers.jsonl
  syndic index export news.idx -o report.json
  syndic index expire news.idx --before 2024-01-01
  syndic index delete news.idx --ids removed.txt
  syndic index stats news.idx
  syndic index verify news.idx";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Make a new index in DIR with the scan's matching parameters (fixed for its life; a
    /// later create with others is an error naming those that differ).
    #[command(override_usage = "syndic index create DIR [OPTIONS]")]
    Create(Create),
    /// Add documents in one commit (ids already indexed are refused as repeated ids in a scan).
    Add(Add),
    /// Check documents against the index (nothing is added): one JSON line per document, in
    /// input order: {"id", "duplicate", "matches": [{"id", "similarity", "containment"}],
    /// "cluster"}.
    Check(Check),
    /// Write the report of everything indexed, in the scan report's schema (runs the scan's
    /// stages over the stored texts).
    Export(Export),
    /// Remove the documents dated before DATE (undated ones stay).
    Expire(Expire),
    /// Remove the documents whose ids FILE lists (one a line).
    Delete(Delete),
    /// Print the index's counts, size and parameters as JSON.
    Stats(Dir),
    /// Check every file of the index against its checksum; exit 1 naming the damaged ones.
    Verify(Dir),
}

#[derive(clap::Args)]
struct Create {
    /// The folder (DIR) and the matching options of `syndic scan`; input options are given to
    /// each add.
    #[command(flatten)]
    pipeline: Pipeline,
}

/// The options of reading documents.
#[derive(clap::Args)]
struct Input {
    /// The index folder.
    dir: PathBuf,
    /// Inputs, as `syndic scan` reads them.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Read only the files of folders that GLOB matches (as in `syndic scan`).
    #[arg(long = "glob", short = 'g', value_name = "GLOB")]
    globs: Vec<String>,
    /// Field holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Field holding the document id (default when absent: FILE:LINE).
    #[arg(long, default_value = "id")]
    id_field: String,
    /// Field holding the source.
    #[arg(long, default_value = "source")]
    source_field: String,
    /// Field holding the date.
    #[arg(long, default_value = "date")]
    date_field: String,
    /// What to do with a record that cannot be read (or, for add, whose id is indexed or
    /// repeated).
    #[arg(long, value_enum, default_value = "fail")]
    on_error: OnErrorArg,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
}

impl Input {
    fn fields(&self) -> Fields {
        Fields {
            text: self.text_field.clone(),
            id: self.id_field.clone(),
            source: self.source_field.clone(),
            date: self.date_field.clone(),
        }
    }

    fn on_error(&self) -> OnError {
        match self.on_error {
            OnErrorArg::Fail => OnError::Fail,
            OnErrorArg::Skip => OnError::Skip,
        }
    }

    fn corpus(&self) -> Result<Corpus> {
        init_threads(self.threads)?;
        Ok(Corpus::open_with(
            &self.inputs,
            &FolderFilter::new(&self.globs)?,
        )?)
    }
}

#[derive(clap::Args)]
struct Add {
    #[command(flatten)]
    input: Input,
    /// Also write the answer for each added document (as `index check` writes them, against
    /// the index and the batch's earlier documents) as JSONL.
    #[arg(long, value_name = "FILE.jsonl")]
    results: Option<PathBuf>,
}

#[derive(clap::Args)]
struct Check {
    #[command(flatten)]
    input: Input,
    /// Where to write the answers (JSONL; default: stdout).
    #[arg(short, long, value_name = "FILE.jsonl")]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct Export {
    /// The index folder.
    dir: PathBuf,
    /// Where to write the JSON report (default: stdout).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Memory budget of the scan, as `syndic scan --memory-limit`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,
    /// No progress bars and no summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    threads: Option<usize>,
}

#[derive(clap::Args)]
struct Expire {
    /// The index folder.
    dir: PathBuf,
    /// Documents dated before this (ISO 8601, RFC 2822 or Unix seconds) leave the index.
    #[arg(long, value_name = "DATE")]
    before: String,
}

#[derive(clap::Args)]
struct Delete {
    /// The index folder.
    dir: PathBuf,
    /// A file of document ids, one a line.
    #[arg(long, value_name = "FILE")]
    ids: PathBuf,
}

#[derive(clap::Args)]
struct Dir {
    /// The index folder.
    dir: PathBuf,
}

fn parse_size(s: &str) -> Result<u64, String> {
    syndic::Budget::parse_size(s)
}

fn init_threads(n: Option<usize>) -> Result<()> {
    if let Some(n) = n {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    Ok(())
}

/// Writes `text` to `path`, or to stdout without one (atomically either way).
fn write_out(path: Option<&Path>, text: &str) -> Result<()> {
    output::write_atomic(path.unwrap_or(Path::new("-")), text.as_bytes())?;
    Ok(())
}

fn jsonl<T: serde::Serialize>(rows: &[T]) -> String {
    let mut s = String::new();
    for r in rows {
        s.push_str(&serde_json::to_string(r).expect("answers serialize"));
        s.push('\n');
    }
    s
}

fn skipped_note(s: &syndic::pipeline::Skipped) -> String {
    if s.total == 0 {
        return String::new();
    }
    format!(
        "; {} skipped (first: {})",
        report::count(s.total, "record", "records"),
        s.examples.first().map_or("", String::as_str)
    )
}

pub fn run(a: Args) -> Result<()> {
    match a.cmd {
        Cmd::Create(c) => {
            let p = &c.pipeline;
            let [dir] = p.inputs.as_slice() else {
                bail!("index create takes one folder (DIR), not inputs: add documents with `syndic index add DIR INPUT...`");
            };
            let cfg = p.config()?;
            let index = Index::create(dir, &cfg)?;
            if !p.quiet {
                eprintln!(
                    "syndic: index {}: {} (generation {})",
                    dir.display(),
                    report::count(index.len(), "document", "documents"),
                    index.generation()
                );
            }
            Ok(())
        }
        Cmd::Add(a) => {
            if let Some(p) = &a.results {
                output::check_target(p)?;
            }
            let t0 = Instant::now();
            let index = Index::open(&a.input.dir)?;
            let corpus = a.input.corpus()?;
            let (index, added) = index.add(&corpus, &a.input.fields(), a.input.on_error())?;
            if let Some(p) = &a.results {
                write_out(Some(p), &jsonl(&added.results))?;
            }
            if !a.input.quiet {
                eprintln!(
                    "syndic: index {}: {} added ({} with a copy indexed){}; {} new furniture lines; {} in the index; {:.2} s",
                    a.input.dir.display(),
                    report::count(added.added, "document", "documents"),
                    added.results.iter().filter(|r| r.duplicate).count(),
                    skipped_note(&added.skipped),
                    added.new_furniture,
                    index.len(),
                    t0.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Cmd::Check(c) => {
            if let Some(p) = &c.output {
                output::check_target(p)?;
            }
            let index = Index::open(&c.input.dir)?;
            let corpus = c.input.corpus()?;
            let checked = index.check(&corpus, &c.input.fields(), c.input.on_error())?;
            write_out(c.output.as_deref(), &jsonl(&checked.results))?;
            if !c.input.quiet {
                eprintln!(
                    "syndic: index {}: {} checked, {} with a copy indexed{}",
                    c.input.dir.display(),
                    report::count(checked.results.len() as u64, "document", "documents"),
                    checked.results.iter().filter(|r| r.duplicate).count(),
                    skipped_note(&checked.skipped)
                );
            }
            Ok(())
        }
        Cmd::Export(e) => {
            if let Some(p) = &e.output {
                output::check_target(p)?;
            }
            init_threads(e.threads)?;
            let t0 = Instant::now();
            let index = Index::open(&e.dir)?;
            let bars = Bars::new(e.quiet);
            let scan = index.export(
                syndic::Budget {
                    limit: e.memory_limit,
                },
                &bars,
            )?;
            let run = report::RunInfo {
                version: env!("CARGO_PKG_VERSION").to_string(),
                threads: rayon::current_num_threads(),
                seconds: t0.elapsed().as_secs_f64(),
                stages: scan.timings.clone(),
                memory_limit: e.memory_limit,
                spilled: scan.spilled.clone(),
            };
            let rep = report::build(&scan, index.params(), run);
            write_out(e.output.as_deref(), &rep.to_json())?;
            if !e.quiet {
                eprintln!("{}", crate::scan::summary(&rep));
            }
            Ok(())
        }
        Cmd::Expire(x) => {
            let index = Index::open(&x.dir)?;
            let (index, n) = index.expire(&x.before)?;
            eprintln!(
                "syndic: index {}: {} expired; {} left",
                x.dir.display(),
                report::count(n, "document", "documents"),
                index.len()
            );
            Ok(())
        }
        Cmd::Delete(d) => {
            let text = std::fs::read_to_string(&d.ids)
                .with_context(|| format!("cannot read {}", d.ids.display()))?;
            let ids: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let index = Index::open(&d.dir)?;
            let (index, n) = index.delete(&ids)?;
            eprintln!(
                "syndic: index {}: {} deleted ({} of the {} ids not in the index); {} left",
                d.dir.display(),
                report::count(n, "document", "documents"),
                ids.len() as u64 - n,
                ids.len(),
                index.len()
            );
            Ok(())
        }
        Cmd::Stats(d) => {
            let index = Index::open(&d.dir)?;
            let json = serde_json::to_string_pretty(&index.stats())?;
            crate::print_stdout(&(json + "\n"))
        }
        Cmd::Verify(d) => {
            let damaged = index::verify(&d.dir)?;
            if damaged.is_empty() {
                // Opening reads the furniture and deletions and each segment's header.
                let index = Index::open(&d.dir)?;
                eprintln!(
                    "syndic: index {}: sound ({} in {} segments)",
                    d.dir.display(),
                    report::count(index.len(), "document", "documents"),
                    index.stats().segments
                );
                return Ok(());
            }
            for x in &damaged {
                eprintln!("syndic: damaged: {}: {}", x.file, x.problem);
            }
            bail!(
                "index {} is damaged: {}",
                d.dir.display(),
                damaged
                    .iter()
                    .map(|x| x.file.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    }
}
