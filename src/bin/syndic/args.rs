//! Options shared by the subcommands that run the pipeline.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use syndic::pipeline::Config;
use syndic::read::{Fields, OnError};
use syndic::Banding;
use syndic::BoilerplateOptions;
use syndic::Keep;

#[derive(Clone, Copy, ValueEnum)]
pub enum KeepArg {
    /// The first member in input order.
    First,
    /// The longest text (most complete copy); ties go to the first.
    Longest,
    /// The earliest date (needs a date field); undated documents last; ties go to the first.
    Earliest,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ClusterArg {
    /// Pivot clustering in keep-policy order.
    Pivot,
    /// Connected components of verified pairs.
    Components,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum VerifyArg {
    /// Estimate Jaccard and containment from the MinHash signatures.
    Estimate,
    /// Estimate them, and recompute them on the true shingle sets where the estimate rejects a
    /// pair of unequal sizes (an excerpt of a longer text) that the true sets could accept.
    Recheck,
    /// Estimate them, and recompute them on the true shingle sets where the estimate could fall
    /// on either side of a threshold (pairs near one, excerpts of much longer texts).
    Auto,
    /// Recompute them on the true shingle sets of both documents.
    Exact,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OnErrorArg {
    /// Stop at the first bad record with exit code 1.
    Fail,
    /// Skip bad records, counting each by reason in the report's stats.skipped.
    Skip,
}

#[derive(Args)]
pub struct Pipeline {
    /// Inputs: JSONL files (.jsonl, .json, .ndjson), CSV and TSV files (.csv, .tsv, with a
    /// header row), Parquet files (.parquet), text files, folders (walked recursively, sorted),
    /// any of them but Parquet .gz or .zst;
    /// `-` reads JSONL from stdin. In folders, hidden files and folders (.name) and Hadoop/Spark
    /// markers (_SUCCESS, _name) are left out, and so are other files beside record files (a
    /// README.md among .jsonl shards); the report's stats.files_skipped lists them.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Read only the files of folders that GLOB matches, or with `!GLOB` leave out those it
    /// matches (as ripgrep's --glob; repeatable, the last match wins). A glob without `/`
    /// matches names at any depth (`-g '*.jsonl.zst'`, `-g '!*.md'`); with `/`, paths from
    /// the folder named.
    #[arg(
        long = "glob",
        short = 'g',
        value_name = "GLOB",
        help_heading = "Input"
    )]
    pub globs: Vec<String>,

    /// Field (CSV/TSV/Parquet column) holding the text. Dots reach nested objects: `body.text`; a key
    /// that is the whole name, dots included, wins.
    #[arg(long, default_value = "text", help_heading = "Input")]
    pub text_field: String,
    /// Field holding the document id (default when absent: FILE:LINE). A field named here (or
    /// the date field, with --keep earliest or --max-days) that none of the first 1000 records
    /// has is an error.
    #[arg(long, default_value = "id", help_heading = "Input")]
    pub id_field: String,
    /// Field holding the source (site, paper, agency).
    #[arg(long, default_value = "source", help_heading = "Input")]
    pub source_field: String,
    /// Field holding the date (ISO 8601, RFC 2822 or Unix seconds).
    #[arg(long, default_value = "date", help_heading = "Input")]
    pub date_field: String,
    /// What to do with a record that cannot be read.
    #[arg(long, value_enum, default_value = "fail", help_heading = "Input")]
    pub on_error: OnErrorArg,

    /// Shingle length in characters.
    #[arg(long, default_value_t = 7, help_heading = "Matching")]
    pub shingle: usize,
    /// MinHash signature length.
    #[arg(long, default_value_t = 128, help_heading = "Matching")]
    pub num_perm: usize,
    /// Jaccard similarity at which two documents are copies. Also picks bands x rows: the LSH
    /// S-curve is placed at 0.6 x threshold so that pairs at the threshold are found (p >= 0.99).
    #[arg(long, default_value_t = 0.5, help_heading = "Matching")]
    pub threshold: f64,
    /// Number of LSH bands (overrides the choice made from --threshold; needs --rows).
    #[arg(long, requires = "rows", help_heading = "Matching")]
    pub bands: Option<usize>,
    /// Rows per LSH band (overrides the choice made from --threshold; needs --bands).
    #[arg(long, requires = "bands", help_heading = "Matching")]
    pub rows: Option<usize>,
    /// Containment (shared shingles over the smaller document) at which a shorter document is a
    /// truncated copy of a longer one.
    #[arg(long, default_value_t = 0.7, help_heading = "Matching")]
    pub containment: f64,
    /// Match on Jaccard similarity only.
    #[arg(long, help_heading = "Matching")]
    pub no_containment: bool,
    /// Shingles the smaller document needs for containment to count.
    #[arg(long, default_value_t = 100, help_heading = "Matching")]
    pub min_containment_shingles: u32,
    /// Second rule: containment at which two documents dated within a day of each other are
    /// copies (wire copies appear the same day or the next; items of a templated series do
    /// not). Such pairs are reported as links and do not merge clusters. Documents without a
    /// date are not matched by it.
    #[arg(
        long,
        value_name = "C",
        default_value_t = 0.6,
        help_heading = "Matching"
    )]
    pub dated_containment: f64,
    /// Turn the second rule (--dated-containment) off.
    #[arg(long, help_heading = "Matching")]
    pub no_dated_containment: bool,
    /// Copies must be dated within this many days of each other (documents without a date field
    /// are not constrained; a date that does not parse never matches and is counted).
    #[arg(long, value_name = "N", help_heading = "Matching")]
    pub max_days: Option<u32>,
    /// How candidate pairs are measured: from the signatures (estimate), also on the true
    /// shingle sets where the signatures reject an excerpt they cannot measure (recheck), where
    /// the estimate is uncertain (auto), or always on the true sets (slower; see README for the
    /// cost).
    #[arg(long, value_enum, default_value = "recheck", help_heading = "Matching")]
    pub verify: VerifyArg,
    /// How verified pairs become clusters: pivot (a member joins through a verified pair with
    /// any member and shares at least 40% of its text with every member; roundups and chains of
    /// templated items break) or components (every chain of verified pairs is one cluster).
    #[arg(long, value_enum, default_value = "pivot", help_heading = "Matching")]
    pub cluster: ClusterArg,
    /// Largest LSH bucket whose pairs are all compared; larger ones compare neighbours only.
    #[arg(long, default_value_t = 200, help_heading = "Matching")]
    pub max_bucket: usize,
    /// Seed of the MinHash hash functions.
    #[arg(long, default_value_t = 0, help_heading = "Matching")]
    pub seed: u64,

    /// Do not detect boilerplate (lines are all evidence).
    #[arg(long, help_heading = "Boilerplate")]
    pub no_boilerplate: bool,
    /// A boilerplate line stands in at least this many documents...
    #[arg(long, default_value_t = 5, help_heading = "Boilerplate")]
    pub boilerplate_min_docs: u32,
    /// ... of at least this many different stories...
    #[arg(long, default_value_t = 5, help_heading = "Boilerplate")]
    pub boilerplate_min_stories: u32,
    /// ... with at least this many stories per document holding it.
    #[arg(long, default_value_t = 0.5, help_heading = "Boilerplate")]
    pub boilerplate_story_ratio: f64,
    /// A passage (8-word sequence) printed in at least this many documents of one source is that
    /// source's template text (cables, bulletins) and is left out of signatures; 0: off.
    #[arg(long, default_value_t = 3, help_heading = "Boilerplate")]
    pub source_template_docs: u32,

    /// Which member of a cluster is kept and named its representative.
    #[arg(long, value_enum, default_value = "longest", help_heading = "Output")]
    pub keep: KeepArg,
    /// No progress bars and no summary on stderr.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
    /// Worker threads (default: all cores; also RAYON_NUM_THREADS).
    #[arg(long, short = 'j', help_heading = "Output")]
    pub threads: Option<usize>,
    /// Memory budget, e.g. 4G or 512M. Past their shares of it, the normalized texts, the band
    /// tables and the template n-grams go to scratch files in TMPDIR (by partition of key); the
    /// report is the same as without a budget. Default: no budget, everything in memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, help_heading = "Resources")]
    pub memory_limit: Option<u64>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    syndic::Budget::parse_size(s)
}

impl Pipeline {
    /// Which files of the folders named are read.
    pub fn folder_filter(&self) -> syndic::Result<syndic::read::FolderFilter> {
        syndic::read::FolderFilter::new(&self.globs)
    }

    pub fn budget(&self) -> syndic::Budget {
        syndic::Budget {
            limit: self.memory_limit,
        }
    }

    pub fn config(&self) -> syndic::Result<Config> {
        let builder = Config::builder()
            .fields(Fields {
                text: self.text_field.clone(),
                id: self.id_field.clone(),
                source: self.source_field.clone(),
                date: self.date_field.clone(),
            })
            .on_error(match self.on_error {
                OnErrorArg::Fail => OnError::Fail,
                OnErrorArg::Skip => OnError::Skip,
            })
            .shingle(self.shingle)
            .num_perm(self.num_perm)
            .seed(self.seed)
            .threshold(self.threshold)
            .containment((!self.no_containment).then_some(self.containment))
            .min_containment_shingles(self.min_containment_shingles)
            .dated_containment((!self.no_dated_containment).then_some(self.dated_containment))
            .max_bucket(self.max_bucket)
            .max_days(self.max_days)
            .cluster(match self.cluster {
                ClusterArg::Pivot => syndic::Method::Pivot,
                ClusterArg::Components => syndic::Method::Components,
            })
            .verify(match self.verify {
                VerifyArg::Estimate => syndic::VerifyMode::Estimate,
                VerifyArg::Recheck => syndic::VerifyMode::Recheck,
                VerifyArg::Auto => syndic::VerifyMode::Auto,
                VerifyArg::Exact => syndic::VerifyMode::Exact,
            })
            .keep(match self.keep {
                KeepArg::First => Keep::First,
                KeepArg::Longest => Keep::Longest,
                KeepArg::Earliest => Keep::Earliest,
            })
            .boilerplate((!self.no_boilerplate).then(|| BoilerplateOptions {
                min_docs: self.boilerplate_min_docs,
                min_stories: self.boilerplate_min_stories,
                min_story_ratio: self.boilerplate_story_ratio,
                source_template_docs: self.source_template_docs,
                ..BoilerplateOptions::default()
            }));
        match (self.bands, self.rows) {
            (Some(bands), Some(rows)) => builder.banding(Banding { bands, rows }),
            _ => builder,
        }
        .build()
    }

    /// Sets up the thread pool.
    pub fn init_threads(&self) -> anyhow::Result<()> {
        if let Some(n) = self.threads {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()?;
        }
        Ok(())
    }
}
