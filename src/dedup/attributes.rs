//! Dolma-style attribute files: instead of writing the corpus back, one file beside each input
//! file (the same relative path under another folder) with one JSON line per record, in order,
//! that marks spans of the text:
//!
//! ```text
//! {"id": "a7", "attributes": {"syndic__duplicate": [[0, 812, 1.0]], "syndic__boilerplate": [[0, 41, 1.0]]}}
//! ```
//!
//! `syndic__duplicate` spans the whole text of a duplicate (a document in a cluster that is not
//! the one kept) with score 1.0, and is empty for the others; `syndic__boilerplate` spans each
//! line flagged as boilerplate, with its line end, with score 1.0. Offsets count Unicode code
//! points (Python string indexes, as dolma slices texts), end excluded. A record that is no
//! document gets `"id": null` and no attributes.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::{changed, cluster_of};
use crate::error::{Error, Location, Result};
use crate::output::Output;
use crate::pipeline::Scan;
use crate::read::{lookup, Corpus, Fields, Format, Raw, SourceFile};

/// The attribute that marks duplicates.
pub const DUPLICATE: &str = "syndic__duplicate";
/// The attribute that marks boilerplate lines.
pub const BOILERPLATE: &str = "syndic__boilerplate";

/// Where the attributes of the input file `src` go under `dir`: its path relative to the folder
/// named as input (the file's own name for a file named directly), with `.jsonl` added before a
/// `.gz` or `.zst` for a file that is not JSONL (`a.parquet` gives `a.parquet.jsonl`).
pub fn attribute_path(dir: &Path, src: &SourceFile) -> Result<PathBuf> {
    let unnamed = || {
        Error::Param(format!(
            "{} has no file name to name its attribute file after (save it to a file first)",
            src.shown
        ))
    };
    if src.name.starts_with('<') {
        return Err(unnamed());
    }
    let name = Path::new(&src.name);
    let direct = src.name == src.path.to_string_lossy();
    let plain = name
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    let rel = if direct || !plain {
        PathBuf::from(name.file_name().ok_or_else(unnamed)?)
    } else {
        name.to_path_buf()
    };
    if src.format == Format::Jsonl {
        return Ok(dir.join(rel));
    }
    let file = rel.to_string_lossy().into_owned();
    let lower = file.to_ascii_lowercase();
    let cut = [".gz", ".zst"]
        .iter()
        .find(|e| lower.ends_with(*e))
        .map_or(file.len(), |e| file.len() - e.len());
    Ok(dir.join(format!("{}.jsonl{}", &file[..cut], &file[cut..])))
}

/// The attribute file of each input file of `corpus` under `dir` ([`attribute_path`]); an error
/// when there are none (documents in memory, stdin) or when two files would share one. Run it
/// before a scan to fail early; [`write_attributes`] checks the same.
pub fn attribute_paths(corpus: &Corpus, dir: &Path) -> Result<Vec<PathBuf>> {
    if !corpus.documents().is_empty() {
        return Err(Error::Param(
            "attribute files sit beside input files, and documents given in memory have none"
                .into(),
        ));
    }
    let paths = corpus
        .files
        .iter()
        .map(|src| attribute_path(dir, src))
        .collect::<Result<Vec<_>>>()?;
    let mut seen: HashMap<&Path, usize> = HashMap::new();
    for (i, p) in paths.iter().enumerate() {
        if let Some(j) = seen.insert(p, i) {
            return Err(Error::Param(format!(
                "{} and {} would have one attribute file, {} (name the folder that holds them \
                 instead)",
                corpus.files[j].shown,
                corpus.files[i].shown,
                p.display()
            )));
        }
    }
    Ok(paths)
}

/// Writes one attribute file per input file under `dir` (see the module's documentation), each
/// atomically (a temporary file renamed into place when complete), from the clusters and
/// boilerplate of `scan` (a scan of `corpus` with the same `fields`); the files written.
pub fn write_attributes(corpus: &Corpus, scan: &Scan, fields: &Fields, dir: &Path) -> Result<u64> {
    let paths = attribute_paths(corpus, dir)?;
    let assign = scan.assignment();
    let open = |k: usize| -> Result<Output> {
        let p = &paths[k];
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::Output {
                path: parent.to_path_buf(),
                source: e,
            })?;
        }
        Output::create(p)
    };
    // The file being written (its index in the corpus) and the next file to start.
    let mut cur: Option<Output> = None;
    let mut file = 0usize;
    let mut next = 0usize;
    let mut line = Vec::new();
    // Ends the files before file `k`: the one being written, and empty ones for files that gave
    // no record.
    let advance = |cur: &mut Option<Output>, file: &mut usize, k: usize| -> Result<()> {
        while *file < k {
            let out = match cur.take() {
                Some(o) => o,
                None => open(*file)?,
            };
            out.commit()?;
            *file += 1;
        }
        Ok(())
    };
    corpus.for_each_raw(fields, |at: &Location, raw: Raw| {
        let k = (file..corpus.files.len())
            .find(|&k| corpus.files[k].name == at.path)
            .ok_or_else(|| changed(next, &scan.docs))?;
        if k > file || cur.is_none() {
            if k > file {
                advance(&mut cur, &mut file, k)?;
            }
            cur = Some(open(k)?);
        }
        let out = cur.as_mut().expect("opened above");
        let is_doc = scan.docs.get(next).is_some_and(|d| &d.at == at);
        let record = if is_doc {
            let d = next;
            next += 1;
            let doc = &scan.docs[d];
            let dup = match cluster_of(scan, &assign, d).2 {
                Some(_) => json!([[0, doc.chars, 1.0]]),
                None => json!([]),
            };
            let flagged = scan.boilerplate.mask.flagged(d);
            let lines = if flagged.is_empty() {
                Vec::new()
            } else {
                let text = raw_text(&raw, fields).ok_or_else(|| changed(next, &scan.docs))?;
                line_spans(&text, &flagged)
                    .into_iter()
                    .map(|(a, b)| json!([a, b, 1.0]))
                    .collect()
            };
            json!({"id": doc.id, "attributes": {DUPLICATE: dup, BOILERPLATE: lines}})
        } else {
            json!({"id": Value::Null, "attributes": {}})
        };
        line.clear();
        serde_json::to_writer(&mut line, &record).expect("serializes");
        line.push(b'\n');
        out.write_all(&line).map_err(|e| out.error(e))
    })?;
    if next != scan.docs.len() {
        return Err(changed(next, &scan.docs));
    }
    advance(&mut cur, &mut file, corpus.files.len())?;
    Ok(paths.len() as u64)
}

/// The text of a record as the scan read it.
fn raw_text(raw: &Raw, fields: &Fields) -> Option<String> {
    match raw {
        Raw::Line(b) => {
            let b = b.strip_prefix("\u{FEFF}".as_bytes()).unwrap_or(b);
            let v: Value = serde_json::from_slice(b).ok()?;
            lookup(&v, &fields.text)?.as_str().map(str::to_string)
        }
        Raw::Row(o) => o.get(&fields.text)?.as_str().map(str::to_string),
        Raw::Text(t) => Some(t.to_string()),
        Raw::Memory(d) => Some(d.text.clone()),
        Raw::Bad(_) => None,
    }
}

/// The spans, in code points, of the lines (split at `\n`, counted from 0; `flagged` sorted) of
/// `text`, each with its line end when it has one: deleting them leaves the text that
/// `--strip-boilerplate` writes (but for a line end before a flagged last line).
fn line_spans(text: &str, flagged: &[u32]) -> Vec<(u64, u64)> {
    let mut spans = Vec::with_capacity(flagged.len());
    let mut start = 0u64;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, l)) = lines.next() {
        let end = start + l.chars().count() as u64 + u64::from(lines.peek().is_some());
        if flagged.binary_search(&(i as u32)).is_ok() {
            spans.push((start, end));
        }
        start = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_code_points_and_take_the_line_end() {
        // "é" is 2 bytes, one code point; the flagged line 1 starts after "é\n".
        let t = "é\nحقوق النشر\nbody";
        assert_eq!(line_spans(t, &[1]), vec![(2, 13)]);
        let chars: Vec<char> = t.chars().collect();
        let s: String = chars[2..13].iter().collect();
        assert_eq!(s, "حقوق النشر\n");
        assert_eq!(line_spans(t, &[0, 2]), vec![(0, 2), (13, 17)]);
        assert_eq!(line_spans("", &[0]), vec![(0, 0)]);
    }

    #[test]
    fn attribute_paths_mirror_the_input() {
        let src = |path: &str, name: &str, format| SourceFile {
            path: path.into(),
            name: name.into(),
            shown: path.into(),
            format,
            compression: crate::read::Compression::None,
            problem: None,
            range: None,
        };
        let dir = Path::new("attrs");
        let p = |s| attribute_path(dir, &s).unwrap();
        assert_eq!(
            p(src("docs/a/x.jsonl.gz", "a/x.jsonl.gz", Format::Jsonl)),
            Path::new("attrs/a/x.jsonl.gz")
        );
        assert_eq!(
            p(src("/data/x.jsonl", "/data/x.jsonl", Format::Jsonl)),
            Path::new("attrs/x.jsonl")
        );
        assert_eq!(
            p(src("d/x.parquet", "x.parquet", Format::Parquet)),
            Path::new("attrs/x.parquet.jsonl")
        );
        assert_eq!(
            p(src("d/x.CSV.gz", "x.CSV.gz", Format::Csv)),
            Path::new("attrs/x.CSV.jsonl.gz")
        );
        let stdin = src("/tmp/spool", "<stdin>", Format::Jsonl);
        assert!(attribute_path(dir, &stdin).is_err());
    }
}
