//! The one error type of the library.
//!
//! Every error names what the user must look at: the file and line of a bad record, the path of a
//! file that cannot be read or written, the parameter that is out of range.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a record came from: an input file (as the user named it, or relative to the folder the
/// user named) and its 1-based line number; line 0 stands for a whole-file document.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub path: String,
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.path)
        } else {
            write!(f, "{}:{}", self.path, self.line)
        }
    }
}

/// Why one record could not become a document. Byte offsets are stored from 0 and shown from 1,
/// as editors count columns. With `--on-error skip` each is counted under its
/// [`RecordError::reason`] in the report's `stats.skipped`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// A CSV or TSV row that cannot be read (a row with more or fewer fields than the header).
    #[error("malformed row: {0}")]
    MalformedRow(String),
    #[error("the line is JSON but not an object (JSON Lines needs one object per line)")]
    NotAnObject,
    /// No text field (or a null one); `keys` are the record's own (dotted paths into nested
    /// objects), to help name the right one.
    #[error("no {field:?} field{}", keys_note(keys))]
    MissingText { field: String, keys: Vec<String> },
    #[error("field {0:?} is not a string")]
    TextNotString(String),
    #[error("field {0:?} must be a string or a number")]
    BadField(String),
    #[error("invalid UTF-8 at byte {} (convert the file to UTF-8, e.g. from Windows-1256 with `iconv -f cp1256 -t utf-8`)", .0 + 1)]
    InvalidUtf8(usize),
    #[error("the file is UTF-16 (convert it to UTF-8 with `iconv -f utf-16 -t utf-8`)")]
    Utf16,
    #[error("NUL byte at byte {} (is this a binary file?)", .0 + 1)]
    NulByte(usize),
    #[error("duplicate document id {id:?}, first seen at {first} (ids must be unique)")]
    DuplicateId { id: String, first: Location },
    #[error("truncated or corrupt compressed stream ({0}); nothing after this point can be read")]
    Corrupt(String),
    #[error("compressed with {0}, which syndic does not read (decompress it, or recompress it with gzip or zstd)")]
    UnsupportedCompression(&'static str),
    #[error("cannot read: {0}")]
    Unreadable(String),
    /// A Parquet file, or one of its row groups, that cannot be read.
    #[error("cannot read as Parquet: {0}")]
    Parquet(String),
    #[error("not a regular file (a FIFO, socket or device inside a folder is not read; remove it or name the files to read)")]
    NotAFile,
    #[error("the record is longer than {} MiB (is a line end missing?)", .0 >> 20)]
    TooLarge(usize),
}

impl RecordError {
    /// A short stable name for counting skipped records by cause.
    pub fn reason(&self) -> &'static str {
        match self {
            RecordError::MalformedJson(_) => "malformed_json",
            RecordError::NotAnObject => "not_an_object",
            RecordError::MalformedRow(_) => "malformed_row",
            RecordError::MissingText { .. } => "missing_text",
            RecordError::TextNotString(_) => "text_not_string",
            RecordError::BadField(_) => "bad_field",
            RecordError::InvalidUtf8(_) | RecordError::Utf16 => "invalid_utf8",
            RecordError::NulByte(_) => "nul_byte",
            RecordError::DuplicateId { .. } => "duplicate_id",
            RecordError::Corrupt(_) => "corrupt_stream",
            RecordError::UnsupportedCompression(_) => "unsupported_compression",
            RecordError::Unreadable(_) => "unreadable",
            RecordError::Parquet(_) => "bad_parquet",
            RecordError::NotAFile => "not_a_file",
            RecordError::TooLarge(_) => "too_large",
        }
    }
}

/// ` (the record has: a, b, c)`, or nothing when there are no keys to show.
fn keys_note(keys: &[String]) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        format!(" (the record has: {})", keys.join(", "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record (a JSONL line or a text file) that cannot be read as a document.
    #[error("{at}: {kind}")]
    Record { at: Location, kind: RecordError },
    /// A field named in the configuration (other than the text, whose absence is a
    /// [`RecordError::MissingText`]) that none of the first records has: the name is likely
    /// wrong. `keys` are the fields those records do have.
    #[error(
        "none of the first {records} records has the {role} field {name:?}{}",
        if keys.is_empty() { String::new() } else { format!("; their fields: {}", keys.join(", ")) }
    )]
    MissingField {
        role: crate::read::FieldRole,
        name: String,
        records: u64,
        keys: Vec<String>,
    },
    /// An input path that cannot be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Input { path: PathBuf, source: io::Error },
    /// An output that cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Output { path: PathBuf, source: io::Error },
    /// A parameter outside its range, or parameters that contradict each other.
    #[error("invalid parameter: {0}")]
    Param(String),
    /// A spill file or other scratch space that could not be used.
    #[error(
        "scratch space in {}: {} (set TMPDIR to a folder with room)",
        std::env::temp_dir().display(),
        .0
    )]
    Scratch(io::Error),
    /// A record that already has a field that annotating it would write.
    #[error("{at}: the record already has a field {field:?}, which annotating it would overwrite")]
    FieldExists { at: Location, field: String },
    /// The input read a second time (to write records back) is not what the scan read.
    #[error(
        "the input changed between the two reads: {found} of {documents} documents found again"
    )]
    InputChanged { found: u64, documents: u64 },
    /// An output that the input cannot be written as: Parquet output keeps the columns of
    /// Parquet input, so it needs Parquet files of one schema.
    #[error("cannot write {} as Parquet: {why}", path.display())]
    ParquetOutput { path: PathBuf, why: String },
    /// An index folder that cannot be used as asked: not an index, another version, other
    /// parameters, a missing or damaged file, a writer already at work.
    #[error("index {}: {msg}", path.display())]
    Index { path: PathBuf, msg: String },
    /// The run was cancelled through its [`crate::signal::Cancel`] token (in the CLI: Ctrl-C or
    /// SIGTERM) and stopped before writing anything.
    #[error("interrupted")]
    Interrupted,
    /// A run over several processes whose peer stopped, could not be reached, or was started
    /// with another hosts file (`process` is its line in the hosts file, from 0).
    #[error("process {process} ({address}): {message}")]
    Peer {
        process: usize,
        address: String,
        message: String,
    },
    /// A run over several processes that cannot be split this way (its message says why).
    #[error("{0}")]
    Distributed(String),
}

impl Error {
    pub fn record(at: Location, kind: RecordError) -> Self {
        Error::Record { at, kind }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
