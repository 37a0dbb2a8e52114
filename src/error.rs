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

/// Why one record could not become a document. With `--on-error skip` each is counted under its
/// [`RecordError::reason`] in the report's `stats.skipped`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("the line is JSON but not an object")]
    NotAnObject,
    #[error("no {0:?} field (set the text field with --text-field)")]
    MissingText(String),
    #[error("field {0:?} is not a string")]
    TextNotString(String),
    #[error("field {0:?} must be a string or a number")]
    BadField(String),
    #[error("invalid UTF-8 at byte {0} of the line")]
    InvalidUtf8(usize),
    #[error("NUL byte at byte {0} (is this a binary file?)")]
    NulByte(usize),
    #[error("the document is empty")]
    EmptyDocument,
    #[error("duplicate document id {id:?}, first seen at {first}")]
    DuplicateId { id: String, first: Location },
    #[error("the compressed stream is truncated or corrupt: {0}")]
    Corrupt(String),
    #[error("the file is empty")]
    EmptyFile,
}

impl RecordError {
    /// A short stable name for counting skipped records by cause.
    pub fn reason(&self) -> &'static str {
        match self {
            RecordError::MalformedJson(_) => "malformed_json",
            RecordError::NotAnObject => "not_an_object",
            RecordError::MissingText(_) => "missing_text",
            RecordError::TextNotString(_) => "text_not_string",
            RecordError::BadField(_) => "bad_field",
            RecordError::InvalidUtf8(_) => "invalid_utf8",
            RecordError::NulByte(_) => "nul_byte",
            RecordError::EmptyDocument => "empty_document",
            RecordError::DuplicateId { .. } => "duplicate_id",
            RecordError::Corrupt(_) => "corrupt_stream",
            RecordError::EmptyFile => "empty_file",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record (a JSONL line or a text file) that cannot be read as a document.
    #[error("{at}: {kind}")]
    Record { at: Location, kind: RecordError },
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
    #[error("scratch space: {0}")]
    Scratch(io::Error),
    /// The run was interrupted (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    pub fn record(at: Location, kind: RecordError) -> Self {
        Error::Record { at, kind }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
