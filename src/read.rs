//! Reading corpora: JSONL files, folders of text files, gzip/zstd streams and stdin.
//!
//! [`Corpus::open`] turns the user's input arguments into an ordered list of [`SourceFile`]s
//! (folders walked recursively in sorted order; stdin spooled to a temporary file so that a
//! second pass, such as `dedup` writing the kept records, can read it again). [`Corpus::records`]
//! then streams [`Entry`]s in input order: a document, or a record that could not be read and is
//! skipped under [`OnError::Skip`] (never silently: the caller counts it).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Location, RecordError, Result};

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

/// Field names of JSONL records.
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
    /// The whole file is one plain-text document.
    Text,
}

/// One file to read.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Where to open it.
    pub path: PathBuf,
    /// How it is named in ids and messages: as given, or relative to the folder given.
    pub name: String,
    pub format: Format,
    pub compression: Compression,
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

/// The ordered inputs of one run.
pub struct Corpus {
    pub files: Vec<SourceFile>,
    _spool: Option<tempfile::TempPath>,
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
    } else {
        Format::Text
    };
    SourceFile {
        path,
        name,
        format,
        compression,
    }
}

impl Corpus {
    /// Resolves the input arguments: files, folders (recursively, sorted) and `-` for stdin
    /// (read as JSONL).
    pub fn open<P: AsRef<Path>>(inputs: &[P]) -> Result<Corpus> {
        let mut files = Vec::new();
        let mut spool = None;
        for input in inputs {
            let input = input.as_ref();
            if input == Path::new("-") {
                if spool.is_some() {
                    return Err(Error::Param("stdin (-) can be named only once".into()));
                }
                let mut tmp = tempfile::NamedTempFile::new().map_err(Error::Scratch)?;
                io::copy(&mut io::stdin().lock(), &mut tmp).map_err(|e| Error::Input {
                    path: "-".into(),
                    source: e,
                })?;
                let path = tmp.into_temp_path();
                files.push(SourceFile {
                    path: path.to_path_buf(),
                    name: "<stdin>".into(),
                    format: Format::Jsonl,
                    compression: Compression::None,
                });
                spool = Some(path);
                continue;
            }
            let meta = std::fs::metadata(input).map_err(|e| Error::Input {
                path: input.to_path_buf(),
                source: e,
            })?;
            if meta.is_dir() {
                let walker = walkdir::WalkDir::new(input)
                    .follow_links(true)
                    .sort_by_file_name();
                for entry in walker {
                    let entry = entry.map_err(|e| {
                        let path = e.path().unwrap_or(input).to_path_buf();
                        let source = e
                            .into_io_error()
                            .unwrap_or_else(|| io::Error::other("filesystem loop"));
                        Error::Input { path, source }
                    })?;
                    if !entry.file_type().is_file() {
                        continue;
                    }
                    let rel = entry
                        .path()
                        .strip_prefix(input)
                        .unwrap_or(entry.path())
                        .to_string_lossy()
                        .replace(std::path::MAIN_SEPARATOR, "/");
                    files.push(classify(entry.path().to_path_buf(), rel));
                }
            } else {
                files.push(classify(
                    input.to_path_buf(),
                    input.to_string_lossy().into_owned(),
                ));
            }
        }
        Ok(Corpus {
            files,
            _spool: spool,
        })
    }

    /// Total size in bytes of the files as stored (compressed where they are): for progress.
    pub fn stored_bytes(&self) -> u64 {
        self.files
            .iter()
            .filter_map(|f| std::fs::metadata(&f.path).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Streams every record of every file, in order.
    pub fn records<'a>(
        &'a self,
        fields: &'a Fields,
        on_error: OnError,
    ) -> impl Iterator<Item = Result<Entry>> + 'a {
        let mut file_idx = 0usize;
        let mut current: Option<FileReader> = None;
        let mut failed = false;
        std::iter::from_fn(move || loop {
            if failed {
                return None;
            }
            if current.is_none() {
                let f = self.files.get(file_idx)?;
                match FileReader::open(f, file_idx as u32) {
                    Ok(r) => current = Some(r),
                    Err(e) => {
                        failed = true;
                        return Some(Err(e));
                    }
                }
            }
            let r = current.as_mut().expect("opened above");
            match r.next_entry(fields) {
                None => {
                    current = None;
                    file_idx += 1;
                }
                Some(Ok(entry)) => return Some(Ok(entry)),
                Some(Err(ReadFailure::Record(at, kind))) => match on_error {
                    OnError::Skip => {
                        if matches!(kind, RecordError::Corrupt(_)) {
                            // Nothing more can be read from a broken stream.
                            current = None;
                            file_idx += 1;
                        }
                        return Some(Ok(Entry::Skipped { at, error: kind }));
                    }
                    OnError::Fail => {
                        failed = true;
                        return Some(Err(Error::record(at, kind)));
                    }
                },
                Some(Err(ReadFailure::Io(e))) => {
                    failed = true;
                    return Some(Err(e));
                }
            }
        })
    }
}

/// A record as it stands in its file, for writing it back unchanged.
pub enum Raw<'a> {
    /// One JSONL line, without its line ending.
    Line(&'a [u8]),
    /// A whole plain-text file.
    Text(&'a str),
}

impl Corpus {
    /// Calls `f` with every record of every file as raw bytes, in input order, with its
    /// [`Location`] (the same one [`Corpus::records`] gives its documents).
    pub fn for_each_raw(&self, mut f: impl FnMut(&Location, Raw) -> Result<()>) -> Result<()> {
        let mut buf = Vec::new();
        for src in &self.files {
            let mut r = open_decompressed(src)?;
            let err = |e| Error::Input {
                path: src.path.clone(),
                source: e,
            };
            match src.format {
                Format::Text => {
                    buf.clear();
                    r.read_to_end(&mut buf).map_err(err)?;
                    let s = String::from_utf8_lossy(&buf);
                    let s = s.strip_prefix('\u{FEFF}').unwrap_or(&s);
                    let at = Location {
                        path: src.name.clone(),
                        line: 0,
                    };
                    f(&at, Raw::Text(s))?;
                }
                Format::Jsonl => {
                    let mut line = 0;
                    loop {
                        buf.clear();
                        if r.read_until(b'\n', &mut buf).map_err(err)? == 0 {
                            break;
                        }
                        line += 1;
                        let at = Location {
                            path: src.name.clone(),
                            line,
                        };
                        f(&at, Raw::Line(trim_line(&buf)))?;
                    }
                }
            }
        }
        Ok(())
    }
}

enum ReadFailure {
    Record(Location, RecordError),
    Io(Error),
}

/// Opens a file for reading, decompressing by extension.
pub fn open_decompressed(f: &SourceFile) -> Result<Box<dyn BufRead + Send>> {
    let err = |e| Error::Input {
        path: f.path.clone(),
        source: e,
    };
    let file = File::open(&f.path).map_err(err)?;
    Ok(match f.compression {
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, file)),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
        )),
        Compression::Zstd => Box::new(BufReader::with_capacity(
            1 << 20,
            zstd::stream::read::Decoder::new(file).map_err(err)?,
        )),
    })
}

/// Reading through a decompressor, an I/O error means a corrupt or truncated stream: a problem
/// of the record's content, not of the file system.
fn is_stream_error(f: &SourceFile, e: &io::Error) -> bool {
    f.compression != Compression::None
        && matches!(
            e.kind(),
            io::ErrorKind::InvalidData
                | io::ErrorKind::InvalidInput
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::Other
        )
}

struct FileReader {
    src: SourceFile,
    file: u32,
    reader: Box<dyn BufRead + Send>,
    line: u64,
    buf: Vec<u8>,
    done: bool,
    any: bool,
}

impl FileReader {
    fn open(src: &SourceFile, file: u32) -> Result<FileReader> {
        Ok(FileReader {
            reader: open_decompressed(src)?,
            src: src.clone(),
            file,
            line: 0,
            buf: Vec::new(),
            done: false,
            any: false,
        })
    }

    fn at(&self, line: u64) -> Location {
        Location {
            path: self.src.name.clone(),
            line,
        }
    }

    fn io_failure(&self, e: io::Error, line: u64) -> ReadFailure {
        if is_stream_error(&self.src, &e) {
            ReadFailure::Record(self.at(line), RecordError::Corrupt(e.to_string()))
        } else {
            ReadFailure::Io(Error::Input {
                path: self.src.path.clone(),
                source: e,
            })
        }
    }

    fn next_entry(&mut self, fields: &Fields) -> Option<Result<Entry, ReadFailure>> {
        if self.done {
            return None;
        }
        match self.src.format {
            Format::Text => {
                self.done = true;
                self.buf.clear();
                if let Err(e) = self.reader.read_to_end(&mut self.buf) {
                    return Some(Err(self.io_failure(e, 0)));
                }
                Some(text_record(&self.buf, self.at(0), self.file).map(Entry::Doc))
            }
            Format::Jsonl => loop {
                self.buf.clear();
                match self.reader.read_until(b'\n', &mut self.buf) {
                    Err(e) => {
                        self.done = true;
                        let line = self.line + 1;
                        return Some(Err(self.io_failure(e, line)));
                    }
                    Ok(0) => {
                        self.done = true;
                        if !self.any {
                            return Some(Err(ReadFailure::Record(
                                self.at(0),
                                RecordError::EmptyFile,
                            )));
                        }
                        return None;
                    }
                    Ok(_) => {
                        self.line += 1;
                        let line = trim_line(&self.buf);
                        if line.iter().all(|b| b.is_ascii_whitespace()) {
                            continue; // a blank line is no record
                        }
                        self.any = true;
                        let at = self.at(self.line);
                        return Some(json_record(line, at, fields, self.file).map(Entry::Doc));
                    }
                }
            },
        }
    }
}

fn trim_line(b: &[u8]) -> &[u8] {
    let b = b.strip_suffix(b"\n").unwrap_or(b);
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn check_bytes(b: &[u8]) -> std::result::Result<&str, RecordError> {
    if let Some(pos) = memchr::memchr(0, b) {
        return Err(RecordError::NulByte(pos));
    }
    std::str::from_utf8(b).map_err(|e| RecordError::InvalidUtf8(e.valid_up_to()))
}

fn text_record(b: &[u8], at: Location, file: u32) -> Result<Record, ReadFailure> {
    let fail = |k| ReadFailure::Record(at.clone(), k);
    if b.is_empty() {
        return Err(fail(RecordError::EmptyFile));
    }
    let s = check_bytes(b).map_err(fail)?;
    let s = s.strip_prefix('\u{FEFF}').unwrap_or(s);
    if s.trim().is_empty() {
        return Err(fail(RecordError::EmptyDocument));
    }
    Ok(Record {
        id: at.path.clone(),
        source: None,
        date: None,
        text: s.to_string(),
        at,
        file,
    })
}

fn scalar_field(v: Option<&Value>, name: &str) -> std::result::Result<Option<String>, RecordError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(RecordError::BadField(name.to_string())),
    }
}

fn json_record(b: &[u8], at: Location, fields: &Fields, file: u32) -> Result<Record, ReadFailure> {
    let fail = |k| ReadFailure::Record(at.clone(), k);
    let s = check_bytes(b).map_err(fail)?;
    let s = s.strip_prefix('\u{FEFF}').unwrap_or(s);
    let mut value: Value =
        serde_json::from_str(s).map_err(|e| fail(RecordError::MalformedJson(e.to_string())))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| fail(RecordError::NotAnObject))?;
    let text = match obj.remove(&fields.text) {
        None | Some(Value::Null) => {
            return Err(fail(RecordError::MissingText(fields.text.clone())))
        }
        Some(Value::String(t)) => t,
        Some(_) => return Err(fail(RecordError::TextNotString(fields.text.clone()))),
    };
    if text.trim().is_empty() {
        return Err(fail(RecordError::EmptyDocument));
    }
    let id = scalar_field(obj.get(&fields.id), &fields.id)
        .map_err(fail)?
        .unwrap_or_else(|| at.to_string());
    let source = scalar_field(obj.get(&fields.source), &fields.source).map_err(fail)?;
    let date = scalar_field(obj.get(&fields.date), &fields.date).map_err(fail)?;
    Ok(Record {
        id,
        source,
        date,
        text,
        at,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(dir: &Path, inputs: &[PathBuf], on_error: OnError) -> Vec<Result<Entry>> {
        let _ = dir;
        let c = Corpus::open(inputs).unwrap();
        let fields = Fields::default();
        c.records(&fields, on_error).collect()
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
        let got: Vec<Record> = read_all(dir.path(), &[p.clone()], OnError::Fail)
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
        let got = read_all(dir.path(), &[p.clone()], OnError::Skip);
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
                "empty_document@6"
            ]
        );
        let got = read_all(dir.path(), &[p.clone()], OnError::Fail);
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
}
