//! Reading corpora: JSONL, CSV, TSV and Parquet files, folders of text files, gzip/zstd streams, stdin.
//!
//! [`Corpus::open`] turns the user's input arguments into an ordered list of [`SourceFile`]s
//! (folders walked recursively in sorted order; stdin spooled to a temporary file so that a
//! second pass, such as `dedup` writing the kept records, can read it again). [`Corpus::records`]
//! then streams [`Entry`]s in input order: a document, or a record that could not be read and is
//! skipped under [`OnError::Skip`] (never silently: the caller counts it).

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Location, RecordError, Result};

mod batches;
pub(crate) mod parquet;

/// What to do with a record that cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop at the first bad record.
    #[default]
    Fail,
    /// Count it by reason and go on.
    Skip,
}

/// Field names of JSONL records (columns of CSV and TSV files).
///
/// A name with dots reaches into nested objects: `body.text` is the `text` field of the `body`
/// object. A key that is the whole name, dots included, wins over the nested path; when several
/// splits of the name exist, the longest key at each level wins.
///
/// A field other than the text that is named otherwise than by default (or the date field, when
/// the run needs dates: keeping the earliest, or a window of days) must be found: when none of
/// the first [`FIELD_CHECK_RECORDS`] records has it, the run stops with
/// [`Error::MissingField`], which lists the fields those records have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields {
    pub text: String,
    pub id: String,
    pub source: String,
    pub date: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            text: "text".into(),
            id: "id".into(),
            source: "source".into(),
            date: "date".into(),
        }
    }
}

/// Records read before checking that the named fields exist (or the whole input, if shorter).
pub const FIELD_CHECK_RECORDS: u64 = 1000;

/// What a named field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldRole {
    Text,
    Id,
    Source,
    Date,
}

impl std::fmt::Display for FieldRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FieldRole::Text => "text",
            FieldRole::Id => "id",
            FieldRole::Source => "source",
            FieldRole::Date => "date",
        })
    }
}

impl Fields {
    /// The name given to a field.
    pub fn name(&self, role: FieldRole) -> &str {
        match role {
            FieldRole::Text => &self.text,
            FieldRole::Id => &self.id,
            FieldRole::Source => &self.source,
            FieldRole::Date => &self.date,
        }
    }

    /// Whether `role` is named otherwise than by default (and so must be found in the input).
    pub fn renamed(&self, role: FieldRole) -> bool {
        self.name(role) != Fields::default().name(role)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row naming the columns.
    Csv,
    /// Tab-separated values with a header row naming the columns.
    Tsv,
    /// Apache Parquet: columns named as CSV's are, read by row group.
    Parquet,
    /// The whole file is one plain-text document.
    Text,
}

/// The longest record read, in bytes (a JSONL line, or a whole text file, after decompression).
/// A longer one is an error rather than an allocation: a file without line ends, or a binary file
/// named `.jsonl`, cannot exhaust memory.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// One file to read.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Where to open it.
    pub path: PathBuf,
    /// How it is named in ids: as given, or relative to the folder given.
    pub name: String,
    /// How it is named in messages: a path the user can open (`<stdin>` for stdin).
    pub shown: String,
    pub format: Format,
    /// As the file name says; the content decides (see `decompress`).
    pub compression: Compression,
    /// Why the file cannot be read at all, found while listing a folder (a broken link, a
    /// FIFO or socket): reported as a record of the file, under the error policy.
    pub problem: Option<RecordError>,
    /// Only this part of the file is read (a process of a distributed run reads a part of a
    /// large JSONL file); `None`: all of it.
    pub(crate) range: Option<ByteRange>,
}

/// A part of an uncompressed JSONL file: the lines that start at `start..end` (both line
/// starts, or the file's end), the first of them line `first_line + 1` of the file; or of a
/// Parquet file: the row groups that start at `start..end` (their rows numbered as in the whole
/// file, whatever `first_line`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ByteRange {
    pub start: u64,
    pub end: u64,
    /// Lines of the file before `start`.
    pub first_line: u64,
}

/// One input record that became a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub id: String,
    pub source: Option<String>,
    pub date: Option<String>,
    pub text: String,
    pub at: Location,
    /// Index into [`Corpus::files`].
    pub file: u32,
}

/// What the reader yields: a document, or a record skipped under [`OnError::Skip`].
#[derive(Debug)]
pub enum Entry {
    Doc(Record),
    Skipped { at: Location, error: RecordError },
}

/// A file that is not read as input, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub path: String,
    /// `hidden`, `marker` (a name that starts with `_`, as Hadoop and Spark mark their own
    /// files), `glob` (left out by the globs), `not_records` (not a record file, in a folder
    /// that holds record files) or `empty` (no records).
    pub reason: String,
}

/// Files not read as input, by reason (the report's `stats.files_skipped`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesSkipped {
    pub total: u64,
    pub by_reason: std::collections::BTreeMap<String, u64>,
    /// The first few.
    pub examples: Vec<SkippedFile>,
}

impl FilesSkipped {
    const EXAMPLES: usize = 10;

    pub fn add(&mut self, f: SkippedFile) {
        self.total += 1;
        *self.by_reason.entry(f.reason.clone()).or_default() += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push(f);
        }
    }
}

/// The ordered inputs of one run.
pub struct Corpus {
    pub files: Vec<SourceFile>,
    /// What was left out of the folders named (hidden files, markers, ...), in walk order.
    pub skipped: Vec<SkippedFile>,
    /// Spooled copies of stdin and of pipes, removed when the corpus drops.
    spools: Vec<tempfile::TempPath>,
    /// Documents given in memory ([`Corpus::from_documents`]) instead of files.
    memory: Vec<Document>,
    /// Arrow record batches given in memory ([`Corpus::from_arrow`]): their rows come after
    /// `memory`, numbered on from it.
    arrow: Option<batches::Batches>,
}

/// A document given in memory ([`Corpus::from_documents`]): the fields a record's options name
/// are these, whatever [`Fields`] says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    /// Without one, the id is its place: `<memory>:N`, N counted from 1.
    pub id: Option<String>,
    pub text: String,
    pub source: Option<String>,
    /// ISO 8601, RFC 2822 or Unix seconds.
    pub date: Option<String>,
}

impl Document {
    /// A document with a text and an id.
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Document {
        Document {
            id: Some(id.into()),
            text: text.into(),
            ..Document::default()
        }
    }
}

/// How documents given in memory are located in messages and default ids.
pub const MEMORY: &str = "<memory>";

impl Drop for Corpus {
    fn drop(&mut self) {
        for s in &self.spools {
            crate::signal::unregister_temp(s);
        }
    }
}

fn split_ext(name: &str) -> (Compression, &str) {
    if let Some(stem) = name.strip_suffix(".gz") {
        (Compression::Gzip, stem)
    } else if let Some(stem) = name.strip_suffix(".zst") {
        (Compression::Zstd, stem)
    } else {
        (Compression::None, name)
    }
}

fn classify(path: PathBuf, name: String) -> SourceFile {
    let lower = name.to_ascii_lowercase();
    let (compression, stem) = split_ext(&lower);
    let format = if stem.ends_with(".jsonl") || stem.ends_with(".json") || stem.ends_with(".ndjson")
    {
        Format::Jsonl
    } else if stem.ends_with(".csv") {
        Format::Csv
    } else if stem.ends_with(".tsv") {
        Format::Tsv
    } else if stem.ends_with(".parquet") {
        Format::Parquet
    } else {
        Format::Text
    };
    SourceFile {
        shown: path.to_string_lossy().into_owned(),
        path,
        name,
        format,
        compression,
        problem: None,
        range: None,
    }
}

/// Copies a stream that can be read only once (stdin, a pipe) to a temporary file.
fn spool(from: &mut dyn Read, shown: &Path) -> Result<tempfile::TempPath> {
    let mut tmp =
        crate::signal::new_temp(|| tempfile::Builder::new().prefix(".syndic-spool.").tempfile())
            .map_err(Error::Scratch)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                crate::signal::unregister_temp(tmp.path());
                return Err(Error::Input {
                    path: shown.to_path_buf(),
                    source: e,
                });
            }
        };
        // A full scratch disk is not the input's fault.
        if let Err(e) = tmp.write_all(&buf[..n]) {
            crate::signal::unregister_temp(tmp.path());
            return Err(Error::Scratch(e));
        }
    }
    Ok(tmp.into_temp_path())
}

/// Which files of a folder are read, as ripgrep chooses them: hidden files and folders (a name
/// that starts with `.`) and Hadoop or Spark markers (a name that starts with `_`: `_SUCCESS`,
/// `_committed_x`, `_temporary/`) are left out, and globs include or exclude.
///
/// Globs follow ripgrep's `--glob`: `!` before a glob excludes what it matches; when any glob
/// does not start with `!`, only the files that such a glob matches are read. A glob without
/// `/` matches a name at any depth (`*.md`); one with `/` matches the path relative to the
/// folder named (`2015/*.jsonl`, `**/part-*`). Of several globs that match, the last one
/// given decides. Excluding globs also prune folders (`!drafts`). Files named directly are
/// always read.
///
/// In a folder that holds record files (`.jsonl`, `.json`, `.ndjson`, `.csv`, `.tsv`, also
/// `.gz` or `.zst`, and `.parquet`), files other than those and `.txt` files (a README.md, logs) are left out
/// unless a glob names them; in a folder without any, every file is one plain-text document.
#[derive(Clone, Debug, Default)]
pub struct FolderFilter {
    globs: Vec<(globset::GlobMatcher, bool, bool)>,
    any_include: bool,
}

impl FolderFilter {
    /// A filter from ripgrep-style globs; an invalid glob is an [`Error::Param`].
    pub fn new<S: AsRef<str>>(globs: &[S]) -> Result<FolderFilter> {
        let mut out = FolderFilter::default();
        for g in globs {
            let g = g.as_ref();
            let (exclude, pat) = match g.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, g),
            };
            // With a slash: the path from the folder's root; without: a name at any depth.
            let by_path = pat.contains('/');
            let pat = pat.strip_prefix('/').unwrap_or(pat);
            let m = globset::GlobBuilder::new(pat)
                .literal_separator(true)
                .build()
                .map_err(|e| Error::Param(format!("invalid glob {g:?}: {e}")))?
                .compile_matcher();
            out.any_include |= !exclude;
            out.globs.push((m, exclude, by_path));
        }
        Ok(out)
    }

    /// The last glob that matches a path (relative to the folder, with `/`): whether it
    /// includes (`Some(true)`) or excludes (`Some(false)`).
    fn decide(&self, rel: &str) -> Option<bool> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        self.globs
            .iter()
            .rev()
            .find(|(m, _, by_path)| m.is_match(if *by_path { rel } else { name }))
            .map(|(_, exclude, _)| !exclude)
    }
}

/// Whether a file name says it holds records (rather than one plain text).
fn is_record_file(name: &str) -> bool {
    classify(PathBuf::new(), name.to_string()).format != Format::Text
}

/// Whether a file name says it is a document or holds some: a record file or a `.txt` file.
fn is_document_file(name: &str) -> bool {
    is_record_file(name) || split_ext(&name.to_ascii_lowercase()).1.ends_with(".txt")
}

impl Corpus {
    /// The corpus of file `i` alone (a process of a distributed run reads its share file by
    /// file); `None` for stdin, pipes, documents and Arrow batches in memory, which only this
    /// process has.
    #[cfg(feature = "distributed")]
    pub(crate) fn one_file(&self, i: usize) -> Option<Corpus> {
        if !self.spools.is_empty() || !self.memory.is_empty() || self.arrow.is_some() {
            return None;
        }
        Some(Corpus {
            files: vec![self.files[i].clone()],
            skipped: Vec::new(),
            spools: Vec::new(),
            memory: Vec::new(),
            arrow: None,
        })
    }

    /// The corpus of part `range` of file `i` alone (see [`Corpus::one_file`]).
    #[cfg(feature = "distributed")]
    pub(crate) fn file_part(&self, i: usize, range: ByteRange) -> Option<Corpus> {
        let mut c = self.one_file(i)?;
        c.files[0].range = Some(range);
        Some(c)
    }

    /// [`Corpus::open_with`] with the default [`FolderFilter`].
    pub fn open<P: AsRef<Path>>(inputs: &[P]) -> Result<Corpus> {
        Corpus::open_with(inputs, &FolderFilter::default())
    }

    /// Resolves the input arguments: files, folders (recursively, sorted, filtered by `filter`)
    /// and `-` for stdin (read as JSONL). A path named here that does not exist is an error
    /// whatever the error policy; problems with the entries of a folder are reported by
    /// [`Corpus::records`]; what a folder's filter left out is in [`Corpus::skipped`].
    /// Pipes (`<(zcat a.gz)`) are read once into a temporary file, like stdin; they are read
    /// as JSONL unless their name ends in `.txt`.
    /// A corpus of documents held in memory, in the order given; read like the records of a
    /// file (the same id checks, empty texts, error policy).
    ///
    /// ```
    /// use syndic::read::{Corpus, Document};
    /// let corpus = Corpus::from_documents(vec![
    ///     Document::new("a", "The harbour opens on Monday after two years of work."),
    ///     Document::new("b", "The harbour opens on Monday after two years of works."),
    /// ]);
    /// let scan = syndic::pipeline::scan(&corpus, &syndic::Config::default(), &syndic::pipeline::Quiet)?;
    /// assert_eq!(scan.docs.len(), 2);
    /// # Ok::<(), syndic::Error>(())
    /// ```
    pub fn from_documents(docs: impl IntoIterator<Item = Document>) -> Corpus {
        Corpus {
            files: Vec::new(),
            skipped: Vec::new(),
            spools: Vec::new(),
            memory: docs.into_iter().collect(),
            arrow: None,
        }
    }

    /// A corpus of the rows of Arrow record batches held in memory (a table a binding was given
    /// through the Arrow C stream interface), in order. The text, id, source and date are the
    /// columns that `fields` names (pass the run's [`Config::fields`](crate::Config)): read as
    /// a Parquet file's columns are (string, large string or string view text, or binary
    /// holding UTF-8; the other columns cast to strings when they are not), the rows then as
    /// its rows (a null text is an empty document; without an id the id is `<memory>:N`, N
    /// the row from 1). The texts are read where they are, not copied.
    ///
    /// A schema without the text column, or with columns of the wrong type, is an
    /// [`Error::Record`] at `<memory>`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow_array::{RecordBatch, StringArray};
    /// use syndic::{pipeline, read::Corpus, Config};
    /// let text = StringArray::from(vec![
    ///     "The harbour opens on Monday after two years of work.",
    ///     "The harbour opens on Monday after two years of works.",
    /// ]);
    /// let batch = RecordBatch::try_from_iter([("text", Arc::new(text) as _)]).unwrap();
    /// let cfg = Config::default();
    /// let corpus = Corpus::from_arrow(&batch.schema(), vec![batch.clone()], &cfg.fields)?;
    /// let scan = pipeline::scan(&corpus, &cfg, &pipeline::Quiet)?;
    /// assert_eq!(scan.docs[1].id, "<memory>:2");
    /// # Ok::<(), syndic::Error>(())
    /// ```
    pub fn from_arrow(
        schema: &arrow_schema::Schema,
        batches: Vec<arrow_array::RecordBatch>,
        fields: &Fields,
    ) -> Result<Corpus> {
        let b = batches::Batches::new(schema, batches, fields).map_err(|kind| {
            let at = Location {
                path: MEMORY.into(),
                line: 0,
            };
            Error::record(at, kind)
        })?;
        Ok(Corpus {
            files: Vec::new(),
            skipped: Vec::new(),
            spools: Vec::new(),
            memory: Vec::new(),
            arrow: Some(b),
        })
    }

    /// The number of records held in memory: documents, then Arrow rows.
    fn memory_len(&self) -> usize {
        self.memory.len() + self.arrow.as_ref().map_or(0, |b| b.len())
    }

    /// Record `index` of those held in memory, parsed (its text borrowed).
    fn memory_parsed(&self, index: usize) -> Result<Parsed<'_>, (Location, RecordError)> {
        match (self.memory.get(index), &self.arrow) {
            (Some(doc), _) => memory_record(doc, index),
            (None, Some(b)) => {
                let at = memory_at(index);
                let cells = b.cells(index - self.memory.len());
                if let Err(e) = batches::Batches::check(&cells) {
                    return Err((at, e));
                }
                // As `row_record`: empty id, source or date cells are none.
                let [text, id, source, date] = cells.map(|c| c.filter(|s| !s.is_empty()));
                Ok(Parsed {
                    has_id: id.is_some(),
                    id: id.map_or_else(|| at.to_string(), str::to_string),
                    source: source.map(str::to_string),
                    date: date.map(str::to_string),
                    text: Cow::Borrowed(text.unwrap_or("")),
                    at,
                    file: u32::MAX,
                })
            }
            (None, None) => unreachable!("index {index} past the records in memory"),
        }
    }

    /// The documents given in memory, if this corpus was made from them.
    pub fn documents(&self) -> &[Document] {
        &self.memory
    }

    pub fn open_with<P: AsRef<Path>>(inputs: &[P], filter: &FolderFilter) -> Result<Corpus> {
        let mut corpus = Corpus {
            files: Vec::new(),
            skipped: Vec::new(),
            spools: Vec::new(),
            memory: Vec::new(),
            arrow: None,
        };
        let mut stdin_seen = false;
        for input in inputs {
            let input = input.as_ref();
            if input == Path::new("-") {
                if stdin_seen {
                    return Err(Error::Param("stdin (-) can be named only once".into()));
                }
                stdin_seen = true;
                let path = spool(&mut io::stdin().lock(), Path::new("<stdin>"))?;
                corpus.files.push(SourceFile {
                    path: path.to_path_buf(),
                    name: "<stdin>".into(),
                    shown: "<stdin>".into(),
                    format: Format::Jsonl,
                    compression: Compression::None,
                    problem: None,
                    range: None,
                });
                corpus.spools.push(path);
                continue;
            }
            let input_err = |e| Error::Input {
                path: input.to_path_buf(),
                source: e,
            };
            let meta = std::fs::metadata(input).map_err(input_err)?;
            if meta.is_dir() {
                let before = corpus.files.len();
                let skipped_before = corpus.skipped.len();
                corpus.walk(input, filter);
                if corpus.files.len() == before {
                    let left_out = corpus.skipped.len() - skipped_before;
                    let why = if left_out == 0 {
                        "the folder holds no files".to_string()
                    } else {
                        format!(
                            "the folder holds no files to read ({left_out} left out: hidden, \
                             markers, or by the globs)"
                        )
                    };
                    return Err(input_err(io::Error::other(why)));
                }
            } else if meta.is_file() {
                corpus.files.push(classify(
                    input.to_path_buf(),
                    input.to_string_lossy().into_owned(),
                ));
            } else {
                // A pipe or a device: read it once, now.
                let mut f = File::open(input).map_err(input_err)?;
                let path = spool(&mut f, input)?;
                let mut src = classify(path.to_path_buf(), input.to_string_lossy().into_owned());
                src.shown = src.name.clone();
                if src.format == Format::Text
                    && !split_ext(&src.name.to_ascii_lowercase())
                        .1
                        .ends_with(".txt")
                {
                    src.format = Format::Jsonl;
                }
                corpus.files.push(src);
                corpus.spools.push(path);
            }
        }
        Ok(corpus)
    }

    /// Lists the files under a folder, sorted, as `filter` chooses them; entries that cannot be
    /// read are listed with their problem, entries left out in [`Corpus::skipped`] (sorted).
    fn walk(&mut self, dir: &Path, filter: &FolderFilter) {
        let rel = |p: &Path| {
            p.strip_prefix(dir)
                .unwrap_or(p)
                .to_string_lossy()
                .replace(std::path::MAIN_SEPARATOR, "/")
        };
        let skip = |p: &Path, reason: &str| SkippedFile {
            path: p.to_string_lossy().into_owned(),
            reason: reason.into(),
        };
        let mut left_out: Vec<SkippedFile> = Vec::new();
        // Each file found, and whether a glob names it.
        let mut found: Vec<(SourceFile, bool)> = Vec::new();
        let mut pruned: Vec<SkippedFile> = Vec::new();
        // Hidden entries, markers and folders excluded by a glob are pruned as the walk meets
        // them; files are judged by the globs below.
        let walker = walkdir::WalkDir::new(dir)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                if e.depth() == 0 {
                    return true;
                }
                let name = e.file_name().to_string_lossy();
                let reason = if name.starts_with('.') {
                    "hidden"
                } else if name.starts_with('_') {
                    "marker"
                } else if e.file_type().is_dir() && filter.decide(&rel(e.path())) == Some(false) {
                    "glob"
                } else {
                    return true;
                };
                pruned.push(skip(e.path(), reason));
                false
            });
        for entry in walker {
            match entry {
                Ok(entry) => {
                    let ft = entry.file_type();
                    if ft.is_dir() {
                        continue;
                    }
                    let name = rel(entry.path());
                    let chosen = filter.decide(&name);
                    if chosen == Some(false) || (chosen.is_none() && filter.any_include) {
                        left_out.push(skip(entry.path(), "glob"));
                        continue;
                    }
                    let mut src = classify(entry.path().to_path_buf(), name);
                    if !ft.is_file() {
                        src.problem = Some(RecordError::NotAFile);
                    }
                    found.push((src, chosen == Some(true)));
                }
                Err(e) => {
                    let path = e.path().unwrap_or(dir).to_path_buf();
                    let why = match (e.loop_ancestor(), e.io_error()) {
                        (Some(a), _) => format!("a link loops back to {}", a.display()),
                        (None, Some(io)) if io.kind() == io::ErrorKind::NotFound => {
                            "a broken link (its target does not exist)".to_string()
                        }
                        (None, Some(io)) => io.to_string(),
                        (None, None) => e.to_string(),
                    };
                    let mut src = classify(path.clone(), rel(&path));
                    src.problem = Some(RecordError::Unreadable(why));
                    found.push((src, false));
                }
            }
        }
        // Beside record files, other files are notes about them, not documents.
        let records = found.iter().any(|(f, _)| is_record_file(&f.name));
        for (src, named) in found {
            if records && !named && !is_document_file(&src.name) {
                left_out.push(skip(&src.path, "not_records"));
            } else {
                self.files.push(src);
            }
        }
        left_out.extend(pruned);
        left_out.sort_by(|a, b| a.path.cmp(&b.path));
        self.skipped.extend(left_out);
    }

    /// Total size in bytes of the files as stored (compressed where they are): for progress.
    pub fn stored_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| std::fs::metadata(&f.path).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Streams every record of every file, in order. Under [`OnError::Fail`] the first bad
    /// record ends the stream with an [`Error::Record`]; under [`OnError::Skip`] it is yielded as
    /// [`Entry::Skipped`] (a truncated stream or an unreadable file as one record at the point
    /// where reading stopped) and reading goes on.
    pub fn records<'a>(
        &'a self,
        fields: &'a Fields,
        on_error: OnError,
    ) -> impl Iterator<Item = Result<Entry>> + 'a {
        let mut raw = RawReader::new(self, fields);
        let mut buf = Vec::new();
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed {
                return None;
            }
            buf.clear();
            let mut item = raw.next_into(&mut buf)?;
            while let RawItem::EmptyFile { .. } = item {
                item = raw.next_into(&mut buf)?;
            }
            let got = match item {
                RawItem::EmptyFile { .. } => unreachable!("passed over above"),
                RawItem::Line {
                    file,
                    line,
                    start,
                    end,
                } => self
                    .parse_line(&buf[start..end], file, line, fields)
                    .map(Parsed::into_record),
                RawItem::Text { file, bytes } => {
                    let src = &self.files[file as usize];
                    text_record(bytes, src_at(src, 0, false), file)
                        .map_err(|k| (src_at(src, 0, true), k))
                }
                RawItem::Row { file, line, cells } => {
                    let src = &self.files[file as usize];
                    row_record(&buf, &cells, src_at(src, line, false), file)
                        .map(Parsed::into_record)
                        .map_err(|k| (src_at(src, line, true), k))
                }
                RawItem::Memory { index } => self.memory_parsed(index).map(Parsed::into_record),
                RawItem::Bad { at, error } => Err((at, error)),
            };
            match got {
                Ok(doc) => Some(Ok(Entry::Doc(doc))),
                Err((at, error)) => match on_error {
                    OnError::Skip => Some(Ok(Entry::Skipped { at, error })),
                    OnError::Fail => {
                        failed = true;
                        Some(Err(Error::record(at, error)))
                    }
                },
            }
        })
    }

    /// Reads every file in order, cutting records without parsing them, and hands them to
    /// `send` in batches of at most `max_items` records (fewer when the batch's line bytes
    /// reach `max_bytes`). Stops when `send` returns false, and under [`OnError::Fail`] after
    /// the first record that cannot be read at all. Parse the records with
    /// [`Corpus::parse_raw`]: reading (and decompression) on one thread, parsing on others.
    pub fn read_raw(
        &self,
        fields: &Fields,
        max_items: usize,
        max_bytes: usize,
        on_error: OnError,
        mut send: impl FnMut(RawBatch) -> bool,
    ) {
        let mut raw = RawReader::new(self, fields);
        let mut batch = RawBatch::default();
        while let Some(item) = raw.next_into(&mut batch.buf) {
            let stop = on_error == OnError::Fail && matches!(item, RawItem::Bad { .. });
            batch.items.push(item);
            if stop {
                break;
            }
            if batch.items.len() >= max_items || batch.buf.len() >= max_bytes {
                let cap = batch.buf.capacity();
                let full = std::mem::replace(
                    &mut batch,
                    RawBatch {
                        buf: Vec::with_capacity(cap),
                        items: Vec::with_capacity(max_items),
                    },
                );
                if !send(full) {
                    return;
                }
            }
        }
        if !batch.items.is_empty() {
            send(batch);
        }
    }

    /// Parses record `i` of a batch from [`Corpus::read_raw`]: a document (borrowing its text
    /// from the batch where it can), or the record's location (as messages show it) and why it
    /// is no document; `None` for [`RawItem::EmptyFile`], which is no record.
    pub fn parse_raw<'b>(
        &'b self,
        batch: &'b RawBatch,
        i: usize,
        fields: &Fields,
    ) -> Result<Option<Parsed<'b>>, (Location, RecordError)> {
        match &batch.items[i] {
            RawItem::Memory { index } => self.memory_parsed(*index).map(Some),
            RawItem::Line {
                file,
                line,
                start,
                end,
            } => self
                .parse_line(&batch.buf[*start..*end], *file, *line, fields)
                .map(Some),
            RawItem::EmptyFile { .. } => Ok(None),
            RawItem::Row { file, line, cells } => {
                let src = &self.files[*file as usize];
                row_record(&batch.buf, cells, src_at(src, *line, false), *file)
                    .map(Some)
                    .map_err(|k| (src_at(src, *line, true), k))
            }
            RawItem::Text { file, bytes } => {
                let src = &self.files[*file as usize];
                match text_str(bytes) {
                    Ok(text) => Ok(Some(Parsed {
                        id: src.name.clone(),
                        has_id: false,
                        source: None,
                        date: None,
                        text: Cow::Borrowed(text),
                        at: src_at(src, 0, false),
                        file: *file,
                    })),
                    Err(k) => Err((src_at(src, 0, true), k)),
                }
            }
            RawItem::Bad { at, error } => Err((at.clone(), error.clone())),
        }
    }

    /// Where a record cut by [`Corpus::read_raw`] stands, as messages show it (line 0 for a
    /// whole file).
    pub fn item_at(&self, item: &RawItem) -> Location {
        match item {
            RawItem::Memory { index } => memory_at(*index),
            RawItem::Line { file, line, .. } | RawItem::Row { file, line, .. } => {
                src_at(&self.files[*file as usize], *line, true)
            }
            RawItem::Text { file, .. } | RawItem::EmptyFile { file } => {
                src_at(&self.files[*file as usize], 0, true)
            }
            RawItem::Bad { at, .. } => at.clone(),
        }
    }

    /// The fields that the first `limit` records have (dotted paths into nested objects), in
    /// order of first appearance: to list in a message about a field that is not found.
    pub fn field_names(&self, fields: &Fields, limit: usize) -> Vec<String> {
        let mut raw = RawReader::new(self, fields);
        let mut buf = Vec::new();
        let mut values = Vec::new();
        let mut header_of = None;
        while values.len() < limit {
            buf.clear();
            match raw.next_into(&mut buf) {
                None => break,
                Some(RawItem::Line { start, end, .. }) => {
                    if let Ok(v) = serde_json::from_slice::<Value>(&buf[start..end]) {
                        values.push(v);
                    }
                }
                Some(RawItem::Memory { index }) if index >= self.memory.len() => {
                    // Arrow rows: the columns of the batches.
                    if let Some(b) = &self.arrow {
                        let cols = b.header.iter().map(|h| (h.clone(), Value::Null));
                        values.push(Value::Object(cols.collect()));
                    }
                    break;
                }
                Some(RawItem::Row { file, .. }) if header_of != Some(file) => {
                    // A table's columns are its header's.
                    header_of = Some(file);
                    if let Some(header) = raw.current.as_ref().and_then(|r| r.header()) {
                        let cols = header.iter().map(|h| (h.clone(), Value::Null));
                        values.push(Value::Object(cols.collect()));
                    }
                }
                Some(_) => {}
            }
        }
        value_keys(&values, MAX_KEYS_SHOWN)
    }

    fn parse_line<'b>(
        &self,
        b: &'b [u8],
        file: u32,
        line: u64,
        fields: &Fields,
    ) -> Result<Parsed<'b>, (Location, RecordError)> {
        let src = &self.files[file as usize];
        json_record(b, src_at(src, line, false), fields, file)
            .map_err(|k| (src_at(src, line, true), k))
    }
}

/// Where document `index` of a corpus in memory stands.
fn memory_at(index: usize) -> Location {
    Location {
        path: MEMORY.into(),
        line: index as u64 + 1,
    }
}

/// A document given in memory as a parsed record (its text borrowed). Only what a file's record
/// could not be either is an error: a NUL byte in the text.
/// A document given in memory as the record it is, its strings moved (see [`memory_record`]).
pub(crate) fn document_record(doc: Document, index: usize) -> Result<Record, Error> {
    let at = memory_at(index);
    if let Some(i) = memchr::memchr(0, doc.text.as_bytes()) {
        return Err(Error::record(at, RecordError::NulByte(i)));
    }
    Ok(Record {
        id: doc.id.unwrap_or_else(|| at.to_string()),
        source: doc.source,
        date: doc.date,
        text: doc.text,
        at,
        file: u32::MAX,
    })
}

fn memory_record(doc: &Document, index: usize) -> Result<Parsed<'_>, (Location, RecordError)> {
    let at = memory_at(index);
    if let Some(i) = memchr::memchr(0, doc.text.as_bytes()) {
        return Err((at, RecordError::NulByte(i)));
    }
    Ok(Parsed {
        id: doc.id.clone().unwrap_or_else(|| at.to_string()),
        // The fields are the document's own, whatever the options name: never reported missing.
        has_id: true,
        source: doc.source.clone(),
        date: doc.date.clone(),
        text: Cow::Borrowed(doc.text.as_str()),
        at,
        file: u32::MAX,
    })
}

/// A location in a file, as documents carry it (`shown` false) or as messages show it.
fn src_at(src: &SourceFile, line: u64, shown: bool) -> Location {
    Location {
        path: if shown { &src.shown } else { &src.name }.clone(),
        line,
    }
}

/// Records cut from their files by [`Corpus::read_raw`], not yet parsed.
#[derive(Debug, Default)]
pub struct RawBatch {
    /// The bytes of the batch's JSONL lines, one after the other.
    pub buf: Vec<u8>,
    pub items: Vec<RawItem>,
}

/// One record as cut from its file.
#[derive(Debug)]
pub enum RawItem {
    /// A non-blank JSONL line: `buf[start..end]` of its batch, without the line end.
    Line {
        file: u32,
        line: u64,
        start: usize,
        end: usize,
    },
    /// A whole text file.
    Text { file: u32, bytes: Vec<u8> },
    /// A record given in memory: its index among the documents ([`Corpus::documents`]), then
    /// the Arrow rows ([`Corpus::from_arrow`]) numbered on from them.
    Memory { index: usize },
    /// A CSV, TSV or Parquet row: its text, id, source and date cells in `buf` of its batch
    /// (`line` is a Parquet row's number, from 1).
    Row {
        file: u32,
        line: u64,
        cells: RowCells,
    },
    /// A file that holds no record (no bytes, or only blank lines): not an error, but the
    /// caller may want to say so.
    EmptyFile { file: u32 },
    /// A record that could not be read (located as messages show it).
    Bad { at: Location, error: RecordError },
}

/// A parsed record: a [`Record`] whose text may still be borrowed from the bytes it was read
/// from.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed<'a> {
    pub id: String,
    /// Whether the id is the record's own (not the default made of its location).
    pub has_id: bool,
    pub source: Option<String>,
    pub date: Option<String>,
    pub text: Cow<'a, str>,
    pub at: Location,
    pub file: u32,
}

impl Parsed<'_> {
    pub fn into_record(self) -> Record {
        Record {
            id: self.id,
            source: self.source,
            date: self.date,
            text: self.text.into_owned(),
            at: self.at,
            file: self.file,
        }
    }
}

/// Cuts the records of every file, in order, without parsing them.
struct RawReader<'a> {
    files: &'a [SourceFile],
    file_idx: usize,
    current: Option<FileReader>,
    fields: &'a Fields,
    /// Records in memory (documents, then Arrow rows), and the next one.
    memory: usize,
    next_memory: usize,
}

impl<'a> RawReader<'a> {
    fn new(corpus: &'a Corpus, fields: &'a Fields) -> Self {
        RawReader {
            files: &corpus.files,
            file_idx: 0,
            current: None,
            fields,
            memory: corpus.memory_len(),
            next_memory: 0,
        }
    }

    /// The next record; a JSONL line's bytes are appended to `buf`.
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Option<RawItem> {
        if self.next_memory < self.memory {
            self.next_memory += 1;
            return Some(RawItem::Memory {
                index: self.next_memory - 1,
            });
        }
        loop {
            if self.current.is_none() {
                let f = self.files.get(self.file_idx)?;
                let mut r = FileReader::open(f, self.file_idx as u32);
                r.fields = self.fields.clone();
                self.current = Some(r);
            }
            let r = self.current.as_mut().expect("opened above");
            let start = buf.len();
            return Some(match r.next_chunk_into(buf) {
                Ok(Chunk::End) => {
                    self.current = None;
                    self.file_idx += 1;
                    continue;
                }
                Ok(Chunk::Line(line)) => {
                    let end = start + trim_line(&buf[start..]).len();
                    RawItem::Line {
                        file: r.file,
                        line,
                        start,
                        end,
                    }
                }
                Ok(Chunk::Text) => RawItem::Text {
                    file: r.file,
                    bytes: std::mem::take(&mut r.buf),
                },
                Ok(Chunk::Row(line, cells)) => RawItem::Row {
                    file: r.file,
                    line,
                    cells,
                },
                Ok(Chunk::Empty) => RawItem::EmptyFile { file: r.file },
                Err((at, error)) => RawItem::Bad { at, error },
            });
        }
    }
}

/// A record as it stands in its file, for writing it back unchanged.
pub enum Raw<'a> {
    /// One JSONL line, without its line ending.
    Line(&'a [u8]),
    /// A CSV or TSV row: each column of the header with its cell, as strings; a Parquet row:
    /// the columns read (text, id, source, date), strings or null.
    Row(serde_json::Map<String, Value>),
    /// A whole plain-text file.
    Text(&'a str),
    /// A record that cannot be read at all (no document), and why.
    Bad(&'a RecordError),
    /// A document given in memory.
    Memory(&'a Document),
}

impl Raw<'_> {
    /// Why this record is no document, for a record that [`Corpus::records`] skipped: parsed
    /// again the way the scan parsed it. A record that parses was skipped as a duplicate id
    /// (the only reason the scan finds beyond the record itself).
    pub fn skip_reason(&self, at: &Location, fields: &Fields) -> &'static str {
        match self {
            Raw::Bad(e) => e.reason(),
            Raw::Line(b) => match json_record(b, at.clone(), fields, 0) {
                Ok(_) => "duplicate_id",
                Err(e) => e.reason(),
            },
            Raw::Memory(d) if d.text.contains('\0') => "nul_byte",
            Raw::Row(_) | Raw::Text(_) | Raw::Memory(_) => "duplicate_id",
        }
    }
}

impl Corpus {
    /// Calls `f` with every record of every file as raw bytes, in input order, with its
    /// [`Location`] (the same one [`Corpus::records`] gives its documents). Records that cannot
    /// be read at all come as [`Raw::Bad`], located as messages show them.
    pub fn for_each_raw(
        &self,
        fields: &Fields,
        mut f: impl FnMut(&Location, Raw) -> Result<()>,
    ) -> Result<()> {
        for (i, doc) in self.memory.iter().enumerate() {
            f(&memory_at(i), Raw::Memory(doc))?;
        }
        if let Some(b) = &self.arrow {
            for row in 0..b.len() {
                let i = self.memory.len() + row;
                f(&memory_at(i), Raw::Row(b.row_object(row)))?;
            }
        }
        for (i, src) in self.files.iter().enumerate() {
            let mut r = FileReader::open(src, i as u32);
            r.fields = fields.clone();
            loop {
                match r.next_chunk() {
                    Ok(Chunk::End) => break,
                    Ok(Chunk::Empty) => continue,
                    Ok(Chunk::Line(n)) => f(&r.at(n), Raw::Line(trim_line(&r.buf)))?,
                    Ok(Chunk::Row(n, _)) => {
                        if let Some(p) = &r.parquet {
                            f(&r.at(n), Raw::Row(p.row_object()))?;
                            continue;
                        }
                        let t = r.table.as_ref().expect("a row comes from a table");
                        let obj = t
                            .header
                            .iter()
                            .zip(t.row.iter())
                            .map(|(h, v)| {
                                let v = String::from_utf8_lossy(v).into_owned();
                                (h.clone(), Value::String(v))
                            })
                            .collect();
                        f(&r.at(n), Raw::Row(obj))?
                    }
                    Ok(Chunk::Text) => match text_str(&r.buf) {
                        Ok(s) => f(&r.at(0), Raw::Text(s))?,
                        Err(e) => f(&r.at(0), Raw::Bad(&e))?,
                    },
                    Err((at, e)) => {
                        f(&at, Raw::Bad(&e))?;
                        if r.done {
                            break;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Reads the records of one stream held in memory, as [`Corpus::records`] reads a file named
/// `name` (compression found from the content). For fuzzing and tests.
pub fn read_bytes(
    name: &str,
    data: &[u8],
    fields: &Fields,
    on_error: OnError,
) -> Vec<Result<Entry>> {
    let mut src = classify(PathBuf::from(name), name.to_string());
    src.shown = name.to_string();
    let reader: Box<dyn BufRead + Send> = Box::new(io::Cursor::new(data.to_vec()));
    let mut r = FileReader::from_reader(&src, 0, reader);
    r.fields = fields.clone();
    let mut out = Vec::new();
    loop {
        let got = match r.next_chunk() {
            Ok(Chunk::End) => return out,
            Ok(Chunk::Empty) => continue,
            Ok(Chunk::Line(n)) => json_record(trim_line(&r.buf), r.at(n), fields, 0)
                .map(Parsed::into_record)
                .map_err(|k| (r.shown_at(n), k)),
            Ok(Chunk::Row(n, cells)) => row_record(&r.buf, &cells, r.at(n), 0)
                .map(Parsed::into_record)
                .map_err(|k| (r.shown_at(n), k)),
            Ok(Chunk::Text) => {
                text_record(std::mem::take(&mut r.buf), r.at(0), 0).map_err(|k| (r.shown_at(0), k))
            }
            Err(e) => Err(e),
        };
        match (got, on_error) {
            (Ok(doc), _) => out.push(Ok(Entry::Doc(doc))),
            (Err((at, error)), OnError::Skip) => out.push(Ok(Entry::Skipped { at, error })),
            (Err((at, error)), OnError::Fail) => {
                out.push(Err(Error::record(at, error)));
                return out;
            }
        }
    }
}

/// Bytes asked of a decompressor at a time: what a read that meets a broken stream loses of
/// the data decoded before the break.
const DECODED_BUF: usize = 1 << 16;

/// Magic numbers of compressed formats.
const GZIP_MAGIC: &[u8] = b"\x1f\x8b";
const ZSTD_MAGIC: &[u8] = b"\x28\xb5\x2f\xfd";
const UNSUPPORTED: &[(&[u8], &str)] = &[
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"PK\x03\x04", "zip"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
];

/// Wraps a stream in the decompressor its first bytes call for: gzip and zstd streams are
/// decompressed whatever the file is named; a file named `.gz` or `.zst` that is neither is an
/// error, and so are the compressed formats syndic does not read (xz, bzip2, zip, lz4, 7z).
pub(crate) fn decompress(
    mut raw: Box<dyn BufRead + Send>,
    named: Compression,
) -> std::result::Result<(Box<dyn BufRead + Send>, Compression), RecordError> {
    let head = match peek(&mut raw, 6) {
        Ok(h) => h,
        Err(e) => return Err(RecordError::Unreadable(e.to_string())),
    };
    let actual = if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else if let Some((_, fmt)) = UNSUPPORTED.iter().find(|(m, _)| head.starts_with(m)) {
        return Err(RecordError::UnsupportedCompression(fmt));
    } else {
        Compression::None
    };
    if !head.is_empty() && named != Compression::None && actual != named {
        let name = |c| match c {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "compressed",
        };
        return Err(RecordError::Corrupt(format!(
            "the file name says {} but the content is not a {} stream",
            name(named),
            name(named)
        )));
    }
    Ok(match actual {
        Compression::None => (raw, actual),
        Compression::Gzip => (
            Box::new(BufReader::with_capacity(
                DECODED_BUF,
                flate2::bufread::MultiGzDecoder::new(raw),
            )),
            actual,
        ),
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::with_buffer(raw)
                .map_err(|e| RecordError::Corrupt(format!("zstd: {e}")))?;
            (Box::new(BufReader::with_capacity(DECODED_BUF, d)), actual)
        }
    })
}

/// The first `n` bytes of a stream (fewer if it is shorter), left unread.
fn peek(r: &mut Box<dyn BufRead + Send>, n: usize) -> io::Result<Vec<u8>> {
    loop {
        match r.fill_buf() {
            Ok(b) => return Ok(b[..b.len().min(n)].to_vec()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What [`FileReader::next_chunk`] found; the bytes are in the reader's `buf`.
enum Chunk {
    /// A non-blank JSONL line, with its 1-based number.
    Line(u64),
    /// A whole text file.
    Text,
    /// A CSV or TSV row, with the line it starts on: its text, id, source and date cells were
    /// appended to the buffer, at these ranges (`None` for a column the header lacks).
    Row(u64, RowCells),
    /// The file holds no record (no bytes, or only blank lines); the next chunk is the end.
    Empty,
    End,
}

/// Where a row's text, id, source and date cells stand in a buffer.
pub type RowCells = [Option<(usize, usize)>; 4];

struct FileReader {
    src: SourceFile,
    file: u32,
    reader: Option<Box<dyn BufRead + Send>>,
    compression: Compression,
    pending: Option<RecordError>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
    any: bool,
    /// A CSV or TSV file once its header is read.
    table: Option<Table>,
    /// The columns to find in a CSV or TSV header (or a Parquet schema).
    fields: Fields,
    /// A Parquet file not yet opened, then being read.
    parquet_input: Option<parquet::Input>,
    parquet: Option<Box<parquet::Table>>,
}

/// A CSV or TSV file being read: its reader, its header, where the named columns are, and the
/// last row read.
struct Table {
    reader: csv::Reader<Box<dyn BufRead + Send>>,
    header: Vec<String>,
    /// Columns of the text, id, source and date.
    cols: [Option<usize>; 4],
    row: csv::ByteRecord,
}

impl FileReader {
    /// Opens a file; a failure to open it is reported by the first [`FileReader::next_chunk`].
    fn open(src: &SourceFile, file: u32) -> FileReader {
        if let Some(p) = &src.problem {
            let mut r = FileReader::empty(src, file);
            r.pending = Some(p.clone());
            return r;
        }
        match File::open(&src.path) {
            Ok(f) if src.format == Format::Parquet => {
                let mut r = FileReader::empty(src, file);
                r.parquet_input = Some(parquet::Input::File(f));
                r
            }
            Ok(f) if src.range.is_some() => FileReader::part(src, file, f),
            Ok(f) => {
                FileReader::from_reader(src, file, Box::new(BufReader::with_capacity(1 << 16, f)))
            }
            Err(e) => {
                let mut r = FileReader::empty(src, file);
                r.pending = Some(unreadable(&e));
                r
            }
        }
    }

    /// A reader of `src.range` of an uncompressed JSONL file (the planner of the parts checked
    /// that it is one), numbering its lines on from the lines before it.
    fn part(src: &SourceFile, file: u32, mut f: File) -> FileReader {
        let range = src.range.expect("a part");
        let mut r = FileReader::empty(src, file);
        r.line = range.first_line;
        match io::Seek::seek(&mut f, io::SeekFrom::Start(range.start)) {
            Ok(_) => {
                let part = f.take(range.end.saturating_sub(range.start));
                r.reader = Some(Box::new(BufReader::with_capacity(1 << 16, part)));
            }
            Err(e) => r.pending = Some(unreadable(&e)),
        }
        r
    }

    fn empty(src: &SourceFile, file: u32) -> FileReader {
        FileReader {
            src: src.clone(),
            file,
            reader: None,
            compression: Compression::None,
            pending: None,
            line: 0,
            buf: Vec::new(),
            done: false,
            any: false,
            table: None,
            fields: Fields::default(),
            parquet_input: None,
            parquet: None,
        }
    }

    fn from_reader(src: &SourceFile, file: u32, mut raw: Box<dyn BufRead + Send>) -> FileReader {
        let mut r = FileReader::empty(src, file);
        if src.format == Format::Parquet {
            let mut data = Vec::new();
            match raw.read_to_end(&mut data) {
                Ok(_) => r.parquet_input = Some(parquet::Input::Bytes(data.into())),
                Err(e) => r.pending = Some(unreadable(&e)),
            }
            return r;
        }
        match decompress(raw, src.compression) {
            Ok((reader, c)) => {
                r.reader = Some(reader);
                r.compression = c;
            }
            Err(k) => r.pending = Some(k),
        }
        r
    }

    /// The location of a record, as documents carry it (and as ids are made of).
    fn at(&self, line: u64) -> Location {
        Location {
            path: self.src.name.clone(),
            line,
        }
    }

    /// The location of a record, as messages show it.
    fn shown_at(&self, line: u64) -> Location {
        Location {
            path: self.src.shown.clone(),
            line,
        }
    }

    /// An I/O error while reading: the stream is corrupt (inside a decompressor) or the file
    /// cannot be read. Either way nothing more is read from this file.
    fn io_failure(&mut self, e: io::Error, line: u64) -> (Location, RecordError) {
        self.done = true;
        let kind = if self.compression != Compression::None
            && matches!(
                e.kind(),
                io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof
                    | io::ErrorKind::Other
            ) {
            let name = if self.compression == Compression::Gzip {
                "gzip"
            } else {
                "zstd"
            };
            RecordError::Corrupt(format!("{name}: {e}"))
        } else {
            unreadable(&e)
        };
        (self.shown_at(line), kind)
    }

    /// The next record, in `self.buf`.
    fn next_chunk(&mut self) -> Result<Chunk, (Location, RecordError)> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let got = self.next_chunk_into(&mut buf);
        if !matches!(got, Ok(Chunk::Text)) {
            self.buf = buf;
        }
        got
    }

    /// The next record: a JSONL line is appended to `buf` (with its line end), a whole text file
    /// is read into `self.buf`. Nothing is appended for an error.
    fn next_chunk_into(&mut self, buf: &mut Vec<u8>) -> Result<Chunk, (Location, RecordError)> {
        if self.done {
            return Ok(Chunk::End);
        }
        if let Some(p) = self.pending.take() {
            self.done = true;
            return Err((self.shown_at(0), p));
        }
        if self.table.is_some() {
            return self.next_row(buf);
        }
        if self.src.format == Format::Parquet {
            return self.next_parquet_row(buf);
        }
        let Some(reader) = self.reader.as_mut() else {
            self.done = true;
            return Ok(Chunk::End);
        };
        match self.src.format {
            Format::Csv | Format::Tsv => self.next_row(buf),
            Format::Parquet => unreachable!("read above"),
            Format::Text => {
                self.done = true;
                self.buf.clear();
                let limit = MAX_RECORD_BYTES as u64 + 1;
                if let Err(e) = reader.take(limit).read_to_end(&mut self.buf) {
                    return Err(self.io_failure(e, 0));
                }
                if self.buf.len() > MAX_RECORD_BYTES {
                    return Err((self.shown_at(0), RecordError::TooLarge(MAX_RECORD_BYTES)));
                }
                if self.buf.is_empty() {
                    return Ok(Chunk::Empty);
                }
                Ok(Chunk::Text)
            }
            Format::Jsonl => loop {
                let reader = self.reader.as_mut().expect("checked above");
                let start = buf.len();
                match append_line_limited(reader, buf, MAX_RECORD_BYTES) {
                    Err(e) => {
                        buf.truncate(start);
                        let line = self.line + 1;
                        return Err(self.io_failure(e, line));
                    }
                    Ok(None) => {
                        self.done = true;
                        return Ok(if self.any { Chunk::End } else { Chunk::Empty });
                    }
                    Ok(Some(too_long)) => {
                        self.line += 1;
                        if too_long {
                            self.any = true;
                            let at = self.shown_at(self.line);
                            return Err((at, RecordError::TooLarge(MAX_RECORD_BYTES)));
                        }
                        if buf[start..].iter().all(|b| b.is_ascii_whitespace()) {
                            buf.truncate(start);
                            continue; // a blank line is no record
                        }
                        self.any = true;
                        return Ok(Chunk::Line(self.line));
                    }
                }
            },
        }
    }
}

impl FileReader {
    /// The columns of a CSV, TSV or Parquet file once it is open.
    fn header(&self) -> Option<&[String]> {
        match (&self.table, &self.parquet) {
            (Some(t), _) => Some(&t.header),
            (None, Some(p)) => Some(&p.header),
            (None, None) => None,
        }
    }

    /// The next row of a Parquet file (its footer read first): its text, id, source and date
    /// cells are appended to `buf`.
    fn next_parquet_row(&mut self, buf: &mut Vec<u8>) -> Result<Chunk, (Location, RecordError)> {
        if self.parquet.is_none() {
            let Some(input) = self.parquet_input.take() else {
                self.done = true;
                return Ok(Chunk::End);
            };
            match parquet::Table::open(input, &self.fields, self.src.range.as_ref()) {
                Ok(t) => self.parquet = Some(Box::new(t)),
                Err(k) => {
                    self.done = true;
                    return Err((self.shown_at(0), k));
                }
            }
        }
        let t = self.parquet.as_mut().expect("opened above");
        match t.next_row(buf) {
            None => {
                self.done = true;
                Ok(if self.any { Chunk::End } else { Chunk::Empty })
            }
            Some(Ok((row, cells))) => {
                self.any = true;
                Ok(Chunk::Row(row, cells))
            }
            Some(Err((row, k))) => {
                self.any = true;
                Err((self.shown_at(row), k))
            }
        }
    }

    /// The next row of a CSV or TSV file (its header read first): its text, id, source and
    /// date cells are appended to `buf`.
    fn next_row(&mut self, buf: &mut Vec<u8>) -> Result<Chunk, (Location, RecordError)> {
        if self.table.is_none() {
            let reader = self.reader.take().expect("checked by the caller");
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(if self.src.format == Format::Tsv {
                    b'\t'
                } else {
                    b','
                })
                .has_headers(true)
                .from_reader(reader);
            let header = match reader.byte_headers() {
                Ok(h) => h.clone(),
                Err(e) => return Err(self.csv_failure(e, 1)),
            };
            if header.is_empty() {
                self.done = true;
                return Ok(Chunk::Empty);
            }
            let mut names = Vec::with_capacity(header.len());
            for cell in header.iter() {
                match check_bytes(cell) {
                    Ok(name) => names.push(name.to_string()),
                    Err(k) => {
                        self.done = true;
                        return Err((self.shown_at(1), k));
                    }
                }
            }
            let col = |name: &str| names.iter().position(|h| h == name);
            let f = &self.fields;
            let cols = [col(&f.text), col(&f.id), col(&f.source), col(&f.date)];
            if cols[0].is_none() {
                self.done = true;
                let k = RecordError::MissingText {
                    field: f.text.clone(),
                    keys: names,
                };
                return Err((self.shown_at(1), k));
            }
            self.table = Some(Table {
                reader,
                header: names,
                cols,
                row: csv::ByteRecord::new(),
            });
        }
        let t = self.table.as_mut().expect("made above");
        match t.reader.read_byte_record(&mut t.row) {
            Ok(false) => {
                self.done = true;
                Ok(if self.any { Chunk::End } else { Chunk::Empty })
            }
            Ok(true) => {
                self.any = true;
                let line = t.row.position().map_or(0, |p| p.line());
                if t.row.as_slice().len() > MAX_RECORD_BYTES {
                    return Err((self.shown_at(line), RecordError::TooLarge(MAX_RECORD_BYTES)));
                }
                let mut cells: RowCells = [None; 4];
                for (cell, col) in cells.iter_mut().zip(t.cols) {
                    if let Some(v) = col.and_then(|c| t.row.get(c)) {
                        let start = buf.len();
                        buf.extend_from_slice(v);
                        *cell = Some((start, buf.len()));
                    }
                }
                Ok(Chunk::Row(line, cells))
            }
            Err(e) => {
                self.any = true;
                let line = e.position().map_or(self.line + 1, |p| p.line());
                Err(self.csv_failure(e, line))
            }
        }
    }

    /// A CSV error: a row that does not fit the header (reading goes on), or a stream that
    /// cannot be read further.
    fn csv_failure(&mut self, e: csv::Error, line: u64) -> (Location, RecordError) {
        let msg = e.to_string();
        match e.into_kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => (
                self.shown_at(line),
                RecordError::MalformedRow(format!(
                    "{len} {} where the header has {expected_len}",
                    if len == 1 { "field" } else { "fields" }
                )),
            ),
            csv::ErrorKind::Io(io) => self.io_failure(io, line),
            _ => {
                self.done = true;
                (self.shown_at(line), RecordError::MalformedRow(msg))
            }
        }
    }
}

/// A CSV or TSV row as a document: cells `[text, id, source, date]` of `buf`; an empty id,
/// source or date cell is none.
fn row_record<'b>(
    buf: &'b [u8],
    cells: &RowCells,
    at: Location,
    file: u32,
) -> Result<Parsed<'b>, RecordError> {
    let cell = |i: usize| -> Result<Option<&'b str>, RecordError> {
        match cells[i] {
            None => Ok(None),
            Some((a, b)) => {
                check_bytes(&buf[a..b]).map(|s| Some(s).filter(|s| i == 0 || !s.is_empty()))
            }
        }
    };
    let text = cell(0)?.unwrap_or("");
    let id = cell(1)?.map(str::to_string);
    Ok(Parsed {
        has_id: id.is_some(),
        id: id.unwrap_or_else(|| at.to_string()),
        source: cell(2)?.map(str::to_string),
        date: cell(3)?.map(str::to_string),
        text: Cow::Borrowed(text),
        at,
        file,
    })
}

fn unreadable(e: &io::Error) -> RecordError {
    RecordError::Unreadable(e.to_string())
}

/// Reads one line (with its `\n`, if any) into `buf`, keeping at most `limit` bytes: `None` at
/// the end of the stream, `Some(true)` when the line was longer (the rest of it is read and
/// dropped, so the next call starts on the next line).
#[cfg(test)]
fn read_line_limited(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    append_line_limited(r, buf, limit)
}

/// [`read_line_limited`], appending the line to what `buf` holds (on a line too long, nothing).
fn append_line_limited(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<bool>> {
    let start = buf.len();
    let mut read_any = false;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(read_any.then_some(too_long));
        }
        read_any = true;
        let (chunk, found) = match memchr::memchr(b'\n', avail) {
            Some(i) => (&avail[..=i], true),
            None => (avail, false),
        };
        let n = chunk.len();
        if !too_long {
            if buf.len() - start + n > limit + 1 {
                // One byte of slack for the line end.
                too_long = true;
                buf.truncate(start);
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        r.consume(n);
        if found {
            return Ok(Some(too_long));
        }
    }
}

fn trim_line(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn check_bytes(b: &[u8]) -> std::result::Result<&str, RecordError> {
    if b.starts_with(b"\xff\xfe") || b.starts_with(b"\xfe\xff") {
        return Err(RecordError::Utf16);
    }
    if let Some(pos) = memchr::memchr(0, b) {
        return Err(RecordError::NulByte(pos));
    }
    // simdutf8 validates Arabic (multi-byte) text several times faster than the standard
    // library; its `compat` flavour reports the same error position.
    simdutf8::compat::from_utf8(b).map_err(|e| RecordError::InvalidUtf8(e.valid_up_to()))
}

/// A whole file as one document; takes the bytes so that a large file is not copied.
fn text_record(b: Vec<u8>, at: Location, file: u32) -> Result<Record, RecordError> {
    let bom = text_str(&b)?.len() != b.len();
    let mut s =
        String::from_utf8(b).map_err(|e| RecordError::InvalidUtf8(e.utf8_error().valid_up_to()))?;
    if bom {
        s.drain(..'\u{FEFF}'.len_utf8());
    }
    Ok(Record {
        id: at.path.clone(),
        source: None,
        date: None,
        text: s,
        at,
        file,
    })
}

/// The text of a whole file as one document, without its byte order mark (white space only is
/// an empty document; a file of no bytes at all is no record, see [`RawItem::EmptyFile`]).
fn text_str(b: &[u8]) -> Result<&str, RecordError> {
    let s = check_bytes(b)?;
    Ok(s.strip_prefix('\u{FEFF}').unwrap_or(s))
}

fn scalar_field(v: Option<&Value>, name: &str) -> std::result::Result<Option<String>, RecordError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(RecordError::BadField(name.to_string())),
    }
}

/// A serde_json error, placed by column (the line is the file's), with a hint for the usual
/// causes: a pretty-printed object or a JSON array where JSON Lines are expected.
fn json_error(e: &serde_json::Error, line: &str) -> RecordError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let what = full.strip_suffix(&suffix).unwrap_or(&full);
    let mut msg = format!("{what} at column {}", e.column());
    let start = line.trim_start();
    if e.is_eof() && start.starts_with('[') {
        msg.push_str(
            " (is the file one JSON array? JSON Lines needs one object per line: \
             convert it with `jq -c '.[]'`)",
        );
    } else if e.is_eof() && start.starts_with('{') {
        msg.push_str(
            " (the object does not end on this line: JSON Lines needs one object per line; \
             compact a pretty-printed file with `jq -c .`)",
        );
    }
    RecordError::MalformedJson(msg)
}

fn json_record<'a>(
    b: &'a [u8],
    at: Location,
    fields: &Fields,
    file: u32,
) -> Result<Parsed<'a>, RecordError> {
    let s = check_bytes(b)?;
    let s = s.strip_prefix('\u{FEFF}').unwrap_or(s);
    // What `serde_json::from_str::<Value>` does, keeping only the fields named (the text
    // borrowed from the line when it holds no escape): the same parser runs over the same
    // tokens, so syntax errors are the same, and so are the duplicate keys (the last wins).
    // The text is first taken raw and unescaped here (`unescape`), into one string of the right
    // size; serde_json would unescape it into a scratch buffer grown from empty for every
    // record, then copy it. Anything but a string that `unescape` handles (an error, a text
    // that is not a string, a surrogate escape) is parsed again the usual way, so results and
    // messages are the same.
    let fast = || {
        let mut de = serde_json::Deserializer::from_str(s);
        let mut found = TopSeed(fields, true).deserialize(&mut de).ok()??;
        de.end().ok()?;
        if !found.nested.is_empty() {
            found.resolve_nested(fields).ok()?;
        }
        if let Some(TextValue::Raw(lit)) = found.text {
            let body = lit.strip_prefix('"')?.strip_suffix('"')?;
            found.text = Some(TextValue::Str(if body.contains('\\') {
                Cow::Owned(unescape(body)?)
            } else {
                Cow::Borrowed(body)
            }));
        }
        Some(found)
    };
    let found = match fast() {
        Some(found) => found,
        None => {
            let mut de = serde_json::Deserializer::from_str(s);
            let top = TopSeed(fields, false)
                .deserialize(&mut de)
                .and_then(|top| de.end().map(|()| top))
                .map_err(|e| json_error(&e, s))?;
            let mut found = top.ok_or(RecordError::NotAnObject)?;
            if !found.nested.is_empty() {
                if let Err(e) = found.resolve_nested(fields) {
                    // Placed in the line, as a whole record read would place it.
                    return Err(match serde_json::from_str::<Value>(s) {
                        Err(e) => json_error(&e, s),
                        Ok(_) => e,
                    });
                }
            }
            found
        }
    };
    let text = match found.text {
        None => {
            // Cold: the record's keys, to help name the right field.
            let keys = serde_json::from_str::<Value>(s)
                .map(|v| value_keys(std::slice::from_ref(&v), MAX_KEYS_SHOWN))
                .unwrap_or_default();
            return Err(RecordError::MissingText {
                field: fields.text.clone(),
                keys,
            });
        }
        Some(TextValue::Null) => {
            return Err(RecordError::MissingText {
                field: fields.text.clone(),
                keys: Vec::new(),
            })
        }
        Some(TextValue::Str(t)) => t,
        Some(TextValue::Other | TextValue::Raw(_)) => {
            return Err(RecordError::TextNotString(fields.text.clone()))
        }
    };
    let own_id = scalar_field(found.id.as_ref(), &fields.id)?;
    let has_id = own_id.is_some();
    let id = own_id.unwrap_or_else(|| at.to_string());
    let source = scalar_field(found.source.as_ref(), &fields.source)?;
    let date = scalar_field(found.date.as_ref(), &fields.date)?;
    Ok(Parsed {
        id,
        has_id,
        source,
        date,
        text,
        at,
        file,
    })
}

/// The fields of a JSONL object that [`json_record`] reads; `None` where absent.
#[derive(Default)]
struct Found<'a> {
    text: Option<TextValue<'a>>,
    id: Option<Value>,
    source: Option<Value>,
    date: Option<Value>,
    /// Keys that begin a dotted field name (`body` for `body.text`), with their values as they
    /// stand in the line: looked into once the whole object is read, for the fields that no key
    /// names whole.
    nested: Vec<(Cow<'a, str>, &'a serde_json::value::RawValue)>,
}

impl Found<'_> {
    /// Fills the fields that no key named whole from the nested values, the longest key first.
    fn resolve_nested(&mut self, fields: &Fields) -> Result<(), RecordError> {
        // The last of repeated keys wins, as in a JSON object read whole.
        // Every value is parsed (as a record read whole would be), even a repeated key's.
        let mut parsed: Vec<(&str, Value)> = Vec::new();
        for (k, raw) in self.nested.iter().rev() {
            let v = serde_json::from_str(raw.get()).map_err(|e| json_error(&e, raw.get()))?;
            if parsed.iter().all(|(p, _)| p != k) {
                parsed.push((k, v));
            }
        }
        // A key that is a field's whole name and also begins a dotted name is among them.
        let get = |name: &str| -> Option<Value> {
            if let Some((_, v)) = parsed.iter().find(|(k, _)| *k == name) {
                return Some(v.clone());
            }
            parsed
                .iter()
                .filter(|(k, _)| is_prefix_key(k, name))
                .max_by_key(|(k, _)| k.len())
                .and_then(|(k, v)| lookup(v, &name[k.len() + 1..]).cloned())
        };
        if self.text.is_none() && fields.text.contains('.') {
            self.text = get(&fields.text).map(|v| match v {
                Value::Null => TextValue::Null,
                Value::String(t) => TextValue::Str(Cow::Owned(t)),
                _ => TextValue::Other,
            });
        }
        for (slot, name) in [
            (&mut self.id, &fields.id),
            (&mut self.source, &fields.source),
            (&mut self.date, &fields.date),
        ] {
            if slot.is_none() {
                *slot = get(name);
            }
        }
        Ok(())
    }
}

/// Whether `key` is a proper dotted prefix of `name` (`body` of `body.text`).
#[inline]
fn is_prefix_key(key: &str, name: &str) -> bool {
    name.len() > key.len() && name.as_bytes()[key.len()] == b'.' && name.starts_with(key)
}

/// The value at a dotted `path` in `v`: the key that is the whole path, or else the longest key
/// that begins it, looked into for the rest.
pub(crate) fn lookup<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(path) {
        return Some(x);
    }
    obj.iter()
        .filter(|(k, _)| is_prefix_key(k, path))
        .max_by_key(|(k, _)| k.len())
        .and_then(|(k, x)| lookup(x, &path[k.len() + 1..]))
}

/// [`lookup`], for changing the value.
pub(crate) fn lookup_mut<'v>(v: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    let obj = v.as_object_mut()?;
    if obj.contains_key(path) {
        return obj.get_mut(path);
    }
    let key = obj
        .keys()
        .filter(|k| is_prefix_key(k, path))
        .max_by_key(|k| k.len())?
        .clone();
    lookup_mut(obj.get_mut(&key)?, &path[key.len() + 1..])
}

/// How many keys a message lists at most.
const MAX_KEYS_SHOWN: usize = 30;

/// The keys of some JSON objects, in order of first appearance, with the keys of nested objects
/// as dotted paths (`body.text`), at most `max`.
pub(crate) fn value_keys(values: &[Value], max: usize) -> Vec<String> {
    fn walk(prefix: &str, v: &Value, depth: usize, out: &mut Vec<String>, max: usize) {
        let Some(obj) = v.as_object() else { return };
        for (k, x) in obj {
            if out.len() >= max {
                return;
            }
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match x {
                Value::Object(o) if depth < 3 && !o.is_empty() => {
                    walk(&path, x, depth + 1, out, max)
                }
                _ => {
                    if !out.contains(&path) {
                        out.push(path);
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for v in values {
        walk("", v, 0, &mut out, max);
    }
    out
}

enum TextValue<'a> {
    Null,
    Str(Cow<'a, str>),
    /// The value as it stands in the line (a string literal with its quotes), not yet decoded.
    Raw(&'a str),
    Other,
}

/// The text of a JSON string literal's body (between its quotes, already checked by serde_json),
/// with its escapes decoded; `None` for a surrogate escape (`\uD800`-`\uDFFF`, pairs included),
/// left to serde_json with the rest of the record. Written by hand because serde_json decodes a
/// string only into its own scratch buffer (grown from empty for each record, then copied).
fn unescape(body: &str) -> Option<String> {
    let b = body.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'\\', &b[i..]) {
        out.push_str(&body[i..i + p]);
        i += p;
        let c = match b.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hex = body.get(i + 2..i + 6)?;
                if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                    return None;
                }
                let v = u32::from_str_radix(hex, 16).ok()?;
                i += 6;
                out.push(char::from_u32(v)?);
                continue;
            }
            _ => return None,
        };
        out.push(c);
        i += 2;
    }
    out.push_str(&body[i..]);
    Some(out)
}

/// Reads one JSON value: the named fields if it is an object (`Some`), nothing otherwise.
/// The second field: take the text raw (see [`json_record`]).
struct TopSeed<'f>(&'f Fields, bool);

impl<'de> de::DeserializeSeed<'de> for TopSeed<'_> {
    type Value = Option<Found<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for TopSeed<'_> {
    type Value = Option<Found<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let fields = self.0;
        let mut found = Found::default();
        while let Some(key) = map.next_key_seed(KeySeed(fields))? {
            // A key that names the text is only the text (as `remove` took it from the map
            // before the other fields were looked up).
            if key.text {
                found.text = Some(if self.1 {
                    TextValue::Raw(map.next_value::<&'de serde_json::value::RawValue>()?.get())
                } else {
                    map.next_value_seed(TextSeed)?
                });
            } else if let Some(k) = key.nested {
                // Also a field's whole name, maybe: see `resolve_nested`.
                found.nested.push((k, map.next_value()?));
            } else if key.id || key.source || key.date {
                let v: Value = map.next_value()?;
                if key.id {
                    found.id = Some(v.clone());
                }
                if key.source {
                    found.source = Some(v.clone());
                }
                if key.date {
                    found.date = Some(v);
                }
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(Some(found))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Which of the named fields a key is; `nested` holds the key when it begins a dotted name.
struct Key<'de> {
    text: bool,
    id: bool,
    source: bool,
    date: bool,
    nested: Option<Cow<'de, str>>,
}

struct KeySeed<'f>(&'f Fields);

impl<'de> de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl KeySeed<'_> {
    /// The roles of key `k`, and whether it begins a dotted name (then `key` makes its copy).
    #[inline]
    fn key<'de>(&self, k: &str, key: impl FnOnce() -> Cow<'de, str>) -> Key<'de> {
        let f = self.0;
        let text = k == f.text;
        let nested = !text
            && (is_prefix_key(k, &f.text)
                || is_prefix_key(k, &f.id)
                || is_prefix_key(k, &f.source)
                || is_prefix_key(k, &f.date));
        Key {
            text,
            id: !text && k == f.id,
            source: !text && k == f.source,
            date: !text && k == f.date,
            nested: nested.then(key),
        }
    }
}

impl<'de> de::Visitor<'de> for KeySeed<'_> {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, k: &'de str) -> Result<Key<'de>, E> {
        Ok(self.key(k, || Cow::Borrowed(k)))
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Key<'de>, E> {
        Ok(self.key(k, || Cow::Owned(k.to_owned())))
    }
}

/// The text field's value: a string, borrowed when the line holds it without escapes.
struct TextSeed;

impl<'de> de::DeserializeSeed<'de> for TextSeed {
    type Value = TextValue<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for TextSeed {
    type Value = TextValue<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(TextValue::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(TextValue::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(TextValue::Str(Cow::Owned(s)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(TextValue::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(TextValue::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(TextValue::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(TextValue::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(TextValue::Other)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| TextValue::Other)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        SkipVisitor.visit_map(map).map(|_| TextValue::Other)
    }
}

/// Any JSON value, parsed and dropped without building it. Read through `deserialize_any`
/// rather than `IgnoredAny` so that the parser checks what it checks for a [`Value`] (the
/// nesting limit, the range of numbers).
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> de::Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// The first version of [`json_record`], through a whole [`Value`]: what the typed reading
/// must agree with.
#[cfg(test)]
fn json_record_value(
    b: &[u8],
    at: Location,
    fields: &Fields,
    file: u32,
) -> Result<Parsed<'static>, RecordError> {
    let s = check_bytes(b)?;
    let s = s.strip_prefix('\u{FEFF}').unwrap_or(s);
    let mut value: Value = serde_json::from_str(s).map_err(|e| json_error(&e, s))?;
    let keys = value_keys(std::slice::from_ref(&value), MAX_KEYS_SHOWN);
    let obj = value.as_object_mut().ok_or(RecordError::NotAnObject)?;
    let text = match obj.remove(&fields.text) {
        Some(t) => Some(t),
        None => lookup(&Value::Object(obj.clone()), &fields.text).cloned(),
    };
    let text = match text {
        None => {
            return Err(RecordError::MissingText {
                field: fields.text.clone(),
                keys,
            })
        }
        Some(Value::Null) => {
            return Err(RecordError::MissingText {
                field: fields.text.clone(),
                keys: Vec::new(),
            })
        }
        Some(Value::String(t)) => t,
        Some(_) => return Err(RecordError::TextNotString(fields.text.clone())),
    };
    let obj = Value::Object(obj.clone());
    let own_id = scalar_field(lookup(&obj, &fields.id), &fields.id)?;
    let has_id = own_id.is_some();
    let id = own_id.unwrap_or_else(|| at.to_string());
    let source = scalar_field(lookup(&obj, &fields.source), &fields.source)?;
    let date = scalar_field(lookup(&obj, &fields.date), &fields.date)?;
    Ok(Parsed {
        id,
        has_id,
        source,
        date,
        text: Cow::Owned(text),
        at,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(dir: &Path, inputs: &[PathBuf], on_error: OnError) -> Vec<Result<Entry>> {
        let _ = dir;
        let c = Corpus::open(inputs).unwrap();
        let fields = Fields::default();
        c.records(&fields, on_error).collect()
    }

    proptest::proptest! {
        /// A text written by serde_json, or with every character of the basic plane as a `\u`
        /// escape, decodes to what serde_json decodes.
        #[test]
        fn unescape_decodes_what_serde_json_decodes(
            chars in proptest::collection::vec(
                proptest::sample::select(vec![
                    'a', ' ', '"', '\\', '/', '\n', '\r', '\t', '\u{1}', '\u{8}', '\u{c}', '\u{7f}',
                    'é', 'ب', 'ـ', '\u{fffd}', '😀', '𝔸',
                ]),
                0..40,
            ),
            all_escaped in proptest::bool::ANY,
        ) {
            let text: String = chars.iter().collect();
            let literal = if all_escaped {
                let mut l = String::from("\"");
                for c in text.chars() {
                    if (c as u32) < 0x10000 {
                        l += &format!("\\u{:04X}", c as u32);
                    } else {
                        l.push(c);
                    }
                }
                l + "\""
            } else {
                serde_json::to_string(&text).unwrap()
            };
            let decoded: String = serde_json::from_str(&literal).unwrap();
            proptest::prop_assert_eq!(&decoded, &text);
            let body = &literal[1..literal.len() - 1];
            proptest::prop_assert_eq!(unescape(body), Some(text));
        }
    }

    #[test]
    fn surrogate_escapes_are_left_to_serde_json() {
        assert_eq!(unescape(r"a\ud83d\ude00"), None);
        assert_eq!(unescape(r"\udc00"), None);
        assert_eq!(unescape(r"x\u00e9\n"), Some("xé\n".to_string()));
        // Through the fallback: a pair decodes, a lone surrogate is serde_json's error.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.jsonl");
        std::fs::write(
            &p,
            "{\"text\":\"a\\ud83d\\ude00b\\n\"}\n{\"text\":\"\\ud800 x\"}\n{\"text\":\"c\\/d\"}\n",
        )
        .unwrap();
        let got = read_all(dir.path(), &[p], OnError::Skip);
        let texts: Vec<String> = got
            .iter()
            .map(|e| match e.as_ref().unwrap() {
                Entry::Doc(r) => r.text.clone(),
                Entry::Skipped { error, .. } => format!("skipped: {error}"),
            })
            .collect();
        assert_eq!(texts[0], "a😀b\n");
        // serde_json's own message and column for the lone surrogate.
        let e = serde_json::from_str::<Value>("{\"text\":\"\\ud800 x\"}").unwrap_err();
        let code = e.to_string();
        let code = code.split(" at line").next().unwrap();
        assert!(texts[1].starts_with("skipped: "), "{}", texts[1]);
        assert!(texts[1].contains(code), "{} / {code}", texts[1]);
        assert!(
            texts[1].contains(&format!("column {}", e.column())),
            "{}",
            texts[1]
        );
        assert_eq!(texts[2], "c/d");
    }

    #[test]
    fn jsonl_fields_and_default_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl");
        std::fs::write(
            &p,
            "{\"id\":\"x\",\"text\":\"hello\",\"source\":\"s\",\"date\":\"2015-07-21\"}\n\n{\"text\":\"world\",\"id\":7}\r\n{\"text\":\"no id\"}",
        )
        .unwrap();
        let got: Vec<Record> = read_all(dir.path(), std::slice::from_ref(&p), OnError::Fail)
            .into_iter()
            .map(|e| match e.unwrap() {
                Entry::Doc(r) => r,
                Entry::Skipped { .. } => panic!(),
            })
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].id, "x");
        assert_eq!(got[0].source.as_deref(), Some("s"));
        assert_eq!(got[0].date.as_deref(), Some("2015-07-21"));
        assert_eq!(got[1].id, "7");
        assert_eq!(got[1].at.line, 3);
        assert_eq!(got[2].id, format!("{}:4", p.display()));
    }

    #[test]
    fn folder_is_walked_in_sorted_order_with_relative_ids() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("b.txt"), "second").unwrap();
        std::fs::write(dir.path().join("a.txt"), "first").unwrap();
        std::fs::write(
            dir.path().join("sub/c.jsonl"),
            "{\"id\":\"c1\",\"text\":\"third\"}\n",
        )
        .unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            File::create(dir.path().join("sub/d.txt.gz")).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all("fourth".as_bytes()).unwrap();
        gz.finish().unwrap();
        let z = zstd::encode_all("{\"id\":\"e1\",\"text\":\"fifth\"}\n".as_bytes(), 3).unwrap();
        std::fs::write(dir.path().join("sub/e.jsonl.zst"), z).unwrap();
        let got: Vec<(String, String)> =
            read_all(dir.path(), &[dir.path().to_path_buf()], OnError::Fail)
                .into_iter()
                .map(|e| match e.unwrap() {
                    Entry::Doc(r) => (r.id, r.text),
                    Entry::Skipped { .. } => panic!(),
                })
                .collect();
        assert_eq!(
            got,
            vec![
                ("a.txt".into(), "first".into()),
                ("b.txt".into(), "second".into()),
                ("c1".into(), "third".into()),
                ("sub/d.txt.gz".into(), "fourth".into()),
                ("e1".into(), "fifth".into()),
            ]
        );
    }

    #[test]
    fn bad_records_fail_or_skip_with_location() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jsonl");
        std::fs::write(
            &p,
            "{\"text\":\"ok\"}\n{oops\n{\"body\":\"x\"}\n{\"text\":5}\n[1]\n{\"text\":\"  \"}\n",
        )
        .unwrap();
        let got = read_all(dir.path(), std::slice::from_ref(&p), OnError::Skip);
        let reasons: Vec<String> = got
            .iter()
            .map(|e| match e.as_ref().unwrap() {
                Entry::Doc(_) => "doc".to_string(),
                Entry::Skipped { at, error } => format!("{}@{}", error.reason(), at.line),
            })
            .collect();
        assert_eq!(
            reasons,
            vec![
                "doc",
                "malformed_json@2",
                "missing_text@3",
                "text_not_string@4",
                "not_an_object@5",
                "doc"
            ]
        );
        let got = read_all(dir.path(), std::slice::from_ref(&p), OnError::Fail);
        assert_eq!(got.len(), 2);
        let msg = got[1].as_ref().unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!("{}:2: malformed JSON", p.display())),
            "{msg}"
        );
    }

    #[test]
    fn invalid_utf8_and_nul_are_reported_with_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.jsonl");
        std::fs::write(&p, b"{\"text\":\"a\xff\"}\n{\"text\":\"a\0\"}\n").unwrap();
        let got = read_all(dir.path(), &[p], OnError::Skip);
        let kinds: Vec<RecordError> = got
            .into_iter()
            .map(|e| match e.unwrap() {
                Entry::Skipped { error, .. } => error,
                Entry::Doc(_) => panic!(),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![RecordError::InvalidUtf8(10), RecordError::NulByte(10)]
        );
    }

    #[test]
    fn missing_path_is_an_input_error() {
        let err = Corpus::open(&["/no/such/file.jsonl"]).err().unwrap();
        assert!(err.to_string().contains("/no/such/file.jsonl"), "{err}");
    }
    #[test]
    fn long_lines_are_cut_off_and_the_next_line_is_read() {
        let data = b"short\nthis line is far too long\nok\nlast line without end is long";
        let mut r: &[u8] = data;
        let mut buf = Vec::new();
        let mut got = Vec::new();
        while let Some(too_long) = read_line_limited(&mut r, &mut buf, 8).unwrap() {
            got.push((too_long, String::from_utf8(buf.clone()).unwrap()));
        }
        assert_eq!(
            got,
            vec![
                (false, "short\n".to_string()),
                (true, String::new()),
                (false, "ok\n".to_string()),
                (true, String::new()),
            ]
        );
        // A line of exactly the limit, with its line end, is kept.
        let mut r: &[u8] = b"12345678\r\n";
        assert_eq!(read_line_limited(&mut r, &mut buf, 9).unwrap(), Some(false));
    }

    #[test]
    fn compression_is_found_by_content() {
        let fields = Fields::default();
        let line = b"{\"text\":\"hello\"}\n";
        let z = zstd::encode_all(&line[..], 3).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(line).unwrap();
        let gz = gz.finish().unwrap();
        for (name, data) in [("a.jsonl", &z), ("a.jsonl", &gz), ("a.jsonl.gz", &gz)] {
            let got = read_bytes(name, data, &fields, OnError::Fail);
            assert!(
                matches!(&got[..], [Ok(Entry::Doc(r))] if r.text == "hello"),
                "{name}: {got:?}"
            );
        }
        let got = read_bytes("a.jsonl.zst", &gz, &fields, OnError::Skip);
        assert!(
            matches!(
                &got[..],
                [Ok(Entry::Skipped {
                    error: RecordError::Corrupt(_),
                    ..
                })]
            ),
            "{got:?}"
        );
        let got = read_bytes("a.jsonl", b"BZh91AY&SY", &fields, OnError::Skip);
        assert!(matches!(
            &got[..],
            [Ok(Entry::Skipped {
                error: RecordError::UnsupportedCompression("bzip2"),
                ..
            })]
        ));
    }

    #[test]
    fn typed_json_reading_agrees_with_value() {
        let deep = format!(
            "{{\"text\":\"x\",\"y\":{}{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let lines: Vec<String> = [
            r#"{"text":"a","id":"x","source":"s","date":"2015-07-21"}"#,
            r#"{"text":"a\nb \u0628","id":7,"source":-1.5e3,"date":null}"#,
            r#"{"text":"a","text":"b"}"#,
            r#"{"text":"a","text":5}"#,
            r#"{"text":5,"text":"a"}"#,
            r#"{"text":null}"#,
            r#"{"id":"x"}"#,
            r#"{"text":"  \t "}"#,
            r#"{"text":"a","id":[1]}"#,
            r#"{"text":"a","source":{"x":1}}"#,
            r#"{"text":"a","date":true}"#,
            r#"{"text":"a","id":1e400}"#,
            r#"{"text":"a","other":1e400}"#,
            r#"{"text":"a","other":[1,{"b":[null,"\q"]}]}"#,
            r#"{"body":{"text":"nested","id":3},"meta":{"src":{"name":"s"}},"id":"top"}"#,
            r#"{"body.text":"exact","body":{"text":"nested"}}"#,
            r#"{"body":{"text":"nested"},"body.text":"exact"}"#,
            r#"{"body":{"text":5}}"#,
            r#"{"body":{"text":null},"text":"flat"}"#,
            r#"{"body":"not an object","text":"t"}"#,
            r#"{"body":{"text":"escaped"},"meta":{"src":{"name":1e400}}}"#,
            r#"{"meta":{"src":{"name":"first"}},"meta":{"src":{"name":"last"}},"text":"t"}"#,
            r#"{"meta.src":{"name":"longest"},"meta":{"src":{"name":"shorter"}},"text":"t"}"#,
            r#"{"te\u0078t":"escaped key","i\u0064":18446744073709551616}"#,
            r#"{"text":"a"} x"#,
            r#"{"text":"a",}"#,
            r#"{"text":"a""#,
            r#"{"text":"a\ud800"}"#,
            r#"[{"text":"a"}]"#,
            r#"[1,2"#,
            r#""text""#,
            r#"12"#,
            r#"null"#,
            r#"{1:2}"#,
            "\u{FEFF}{\"text\":\"bom\"}",
            "{\"text\":\"a\u{1}\"}",
            "{\"text\":{\"a\":[[[",
            &deep,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let field_sets = [
            Fields::default(),
            Fields {
                id: "text".into(),
                ..Fields::default()
            },
            Fields {
                source: "id".into(),
                date: "id".into(),
                ..Fields::default()
            },
            Fields {
                text: "id".into(),
                ..Fields::default()
            },
            Fields {
                text: "body.text".into(),
                id: "body.id".into(),
                source: "meta.src.name".into(),
                date: "meta".into(),
            },
            Fields {
                source: "meta.src.name".into(),
                id: "body".into(),
                ..Fields::default()
            },
        ];
        for fields in &field_sets {
            for line in &lines {
                let at = Location {
                    path: "f.jsonl".into(),
                    line: 3,
                };
                let typed = json_record(line.as_bytes(), at.clone(), fields, 0);
                let value = json_record_value(line.as_bytes(), at, fields, 0);
                assert_eq!(typed, value, "{line} with {fields:?}");
            }
        }
    }

    #[test]
    fn dotted_names_reach_nested_fields_and_exact_keys_win() {
        let fields = Fields {
            text: "body.text".into(),
            id: "meta.id".into(),
            source: "meta.src.name".into(),
            date: "meta.when".into(),
        };
        let at = Location {
            path: "f.jsonl".into(),
            line: 1,
        };
        let read = |line: &'static str| json_record(line.as_bytes(), at.clone(), &fields, 0);
        let p = read(
            r#"{"body":{"text":"nested"},"meta":{"id":7,"src":{"name":"s"},"when":"2015-07-21"}}"#,
        )
        .unwrap();
        assert_eq!(
            (
                &*p.text,
                &*p.id,
                p.has_id,
                p.source.as_deref(),
                p.date.as_deref()
            ),
            ("nested", "7", true, Some("s"), Some("2015-07-21"))
        );
        // A key that is the whole name wins, before or after the nested object.
        for line in [
            r#"{"body.text":"exact","body":{"text":"nested"}}"#,
            r#"{"body":{"text":"nested"},"body.text":"exact"}"#,
        ] {
            assert_eq!(read(line).unwrap().text, "exact", "{line}");
        }
        // The longest key that begins the name wins over a shorter one.
        let p = read(
            r#"{"body":{"text":"t"},"meta":{"src":{"name":"short"}},"meta.src":{"name":"long"}}"#,
        )
        .unwrap();
        assert_eq!(p.source.as_deref(), Some("long"));
        assert!(!p.has_id);
        // A missing text names the record's keys, nested ones as paths.
        let e = read(r#"{"body":{"title":"t","lead":"l"},"id":1}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no \"body.text\" field (the record has: body.title, body.lead, id)"
        );
        assert_eq!(
            read(r#"{"body":{"text":["x"]}}"#).unwrap_err(),
            RecordError::TextNotString("body.text".into())
        );
    }

    #[test]
    fn folder_globs_decide_as_ripgrep_does() {
        let f =
            FolderFilter::new(&["*.jsonl", "!drafts/*.jsonl", "/top.md", "**/keep/*.md"]).unwrap();
        assert_eq!(f.decide("a.jsonl"), Some(true));
        assert_eq!(f.decide("x/y/a.jsonl"), Some(true), "a name at any depth");
        assert_eq!(
            f.decide("drafts/a.jsonl"),
            Some(false),
            "the last match wins"
        );
        assert_eq!(
            f.decide("x/drafts/a.jsonl"),
            Some(true),
            "a path glob is anchored"
        );
        assert_eq!(f.decide("top.md"), Some(true));
        assert_eq!(f.decide("x/top.md"), None);
        assert_eq!(f.decide("x/keep/b.md"), Some(true));
        assert_eq!(f.decide("b.md"), None);
        assert!(f.any_include);
        let f = FolderFilter::new(&["!*.md"]).unwrap();
        assert_eq!(f.decide("README.md"), Some(false));
        assert!(!f.any_include);
        assert!(FolderFilter::new(&["a[b"]).is_err());
    }

    #[test]
    fn raw_batches_parse_to_the_records() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.jsonl"),
            "{\"text\":\"a\",\"id\":1}\n{bad\n\n{\"text\":\"b\\nc\"}\r\n{\"text\":\"\"}\n{\"text\":\"d\"}",
        )
        .unwrap();
        std::fs::write(dir.path().join("b.txt"), "\u{FEFF}whole file").unwrap();
        std::fs::write(dir.path().join("c.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("d.txt"), " \n").unwrap();
        let c = Corpus::open(&[dir.path()]).unwrap();
        let fields = Fields::default();
        for on_error in [OnError::Skip, OnError::Fail] {
            let want: Vec<String> = c
                .records(&fields, on_error)
                .map(|e| match e {
                    Ok(e) => format!("{e:?}"),
                    Err(e) => e.to_string(),
                })
                .collect();
            for batch in [1, 2, 100] {
                let mut got = Vec::new();
                c.read_raw(&fields, batch, 1 << 20, on_error, |b| {
                    for i in 0..b.items.len() {
                        got.push(match c.parse_raw(&b, i, &fields) {
                            Ok(Some(p)) => format!("{:?}", Entry::Doc(p.into_record())),
                            Ok(None) => continue,
                            Err((at, error)) if on_error == OnError::Skip => {
                                format!("{:?}", Entry::Skipped { at, error })
                            }
                            Err((at, error)) => {
                                got.push(Error::record(at, error).to_string());
                                return false;
                            }
                        });
                    }
                    true
                });
                assert_eq!(got, want, "{on_error:?} in batches of {batch}");
            }
        }
    }

    #[test]
    fn raw_pass_meets_the_same_documents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.jsonl");
        std::fs::write(
            &p,
            "{\"text\":\"a\"}\n{bad\n\n{\"text\":\"b\"}\n{\"text\":\"\"}\n{\"text\":\"c\"}\n",
        )
        .unwrap();
        let link = dir.path().join("z.txt");
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.path().join("gone"), &link).unwrap();
        let c = Corpus::open(&[dir.path()]).unwrap();
        let fields = Fields::default();
        let docs: Vec<Location> = c
            .records(&fields, OnError::Skip)
            .filter_map(|e| match e.unwrap() {
                Entry::Doc(r) => Some(r.at),
                Entry::Skipped { .. } => None,
            })
            .collect();
        let mut raw = Vec::new();
        c.for_each_raw(&fields, |at, _| {
            raw.push(at.clone());
            Ok(())
        })
        .unwrap();
        // Every document is met by the raw pass, in order; the raw pass also meets bad lines.
        let mut it = raw.iter();
        for d in &docs {
            assert!(it.any(|r| r == d), "{d} not met");
        }
        assert_eq!(docs.len(), 4, "the empty text is a document");
    }
}
