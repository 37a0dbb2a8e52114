//! Scoring a clustering against ground truth.
//!
//! A [`Prediction`] assigns documents to clusters: read from a syndic report (the members of
//! each cluster) or from `id<TAB>cluster` lines. Documents it does not name are singletons.
//!
//! The truth comes in one of two forms ([`Truth::read`] tells them apart by the keys of the
//! first line):
//!
//! * story labels, `{"id": .., "story": ..}` per line ([`Labels`]): every document of the
//!   corpus with the story it tells. [`score_labels`] gives pairwise precision, recall and F1 (a
//!   pair is predicted when both documents sit in one cluster, true when both tell one story)
//!   and the Adjusted Rand Index (Hubert & Arabie 1985) from the contingency table of clusters
//!   against stories:
//!
//!   ```text
//!   index    = sum_ij C(n_ij, 2)                correct pairs
//!   a        = sum_i C(a_i, 2)                  predicted pairs (cluster sizes a_i)
//!   b        = sum_j C(b_j, 2)                  true pairs (story sizes b_j)
//!   expected = a * b / C(n, 2)
//!   ARI      = (index - expected) / ((a + b) / 2 - expected)
//!   ```
//!
//!   with the conventions of the project's reference scorer (`score.py`) where a denominator is
//!   zero: precision 1 without predicted pairs, recall 1 without true pairs, F1 0 when both are
//!   0, `expected` 0 for fewer than two documents, ARI 1 when its denominator is 0. The numbers
//!   are those of `score.py` to the last bit: every quotient of counts is rounded once, as
//!   Python's integer division does.
//!
//! * labelled pairs, `{"a": .., "b": .., "label": "copy" | "rewrite" | "different"}` per line
//!   ([`LabelledPair`]): [`score_pairs`] counts per label the pairs found (put in one cluster,
//!   or in different clusters that a report's `links` join: a story printed inside a roundup of
//!   another cluster), and gives precision (found copy and rewrite pairs over all found pairs)
//!   and recall over the copies and over copies and rewrites.
//!
//! * labelled lines, `{"id": .., "line": .., "label": "furniture" | "content"}` per line
//!   ([`LabelledLine`]; `line` indexes the document's text split on `\n`, from 0): scored by
//!   [`score_lines`] against the boilerplate flags of an annotations file
//!   (`{"id", "boilerplate_lines": [..]}` per line, as `syndic scan --annotations` writes it):
//!   precision and recall of flagged furniture.
//!
//! Ids are strings; a number in a JSON field stands for its decimal text, as when syndic reads a
//! corpus. Errors are [`Error::Input`] naming the file, and the line where there is one.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::read::{decompress, Compression};

/// An error about the content of `path`.
fn invalid(path: &Path, msg: impl Into<String>) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, msg.into()),
    }
}

/// Opens a file, decompressing gzip and zstd by content.
fn open(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = File::open(path).map_err(|e| Error::Input {
        path: path.to_path_buf(),
        source: e,
    })?;
    let raw = Box::new(BufReader::with_capacity(1 << 16, file));
    decompress(raw, Compression::None)
        .map(|(r, _)| r)
        .map_err(|k| invalid(path, k.to_string()))
}

/// The lines of a stream, numbered from 1, without line ends; blank lines are left out.
fn lines<'a, R: BufRead + 'a>(
    path: &'a Path,
    reader: R,
) -> impl Iterator<Item = Result<(u64, String)>> + 'a {
    reader
        .lines()
        .enumerate()
        .map(move |(i, line)| {
            let n = i as u64 + 1;
            match line {
                Ok(l) => Ok((n, l.trim_end_matches('\r').to_string())),
                Err(e) if e.kind() == io::ErrorKind::InvalidData => Err(invalid(
                    path,
                    format!("line {n}: invalid UTF-8 (convert the file to UTF-8)"),
                )),
                Err(e) => Err(Error::Input {
                    path: path.to_path_buf(),
                    source: e,
                }),
            }
        })
        .filter(|r| !matches!(r, Ok((_, l)) if l.trim().is_empty()))
}

/// A JSON string or number as an id; `None` for any other value.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `C(x, 2)`.
/// The pair in increasing order.
fn ordered(a: String, b: String) -> (String, String) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn c2(x: u64) -> u64 {
    x * x.saturating_sub(1) / 2
}

/// `p / d` rounded once to the nearest `f64` (ties to even), as Python divides two integers.
/// `d` must be nonzero and below 2^64.
fn ratio(p: u128, d: u128) -> f64 {
    assert!(
        d > 0 && d <= u64::MAX as u128,
        "ratio: denominator out of range"
    );
    if p == 0 {
        return 0.0;
    }
    let bits = |x: u128| 128 - x.leading_zeros() as i32;
    // Scale so that the quotient has 56 or 57 bits: 3 or more below the 53 an f64 keeps, with a
    // sticky bit for a nonzero remainder, make the one rounding of the conversion exact.
    let k = 56 - (bits(p) - bits(d));
    let (num, den) = if k >= 0 { (p << k, d) } else { (p, d << -k) };
    let q = num / den;
    let sticky = u128::from(num % den != 0);
    (q | sticky) as f64 * 2f64.powi(-k)
}

/// Which cluster each document was put in.
#[derive(Clone, Debug, Default)]
pub struct Prediction {
    /// Document ids in order of first appearance, with their cluster (an index into `names`).
    assigned: Vec<(String, u32)>,
    index: HashMap<String, u32>,
    /// The clusters' names: `0`, `1`, ... (their position) for a report, the labels of a TSV.
    names: Vec<String>,
    /// A report's `links` (verified pairs in different clusters), each pair in id order.
    links: HashSet<(String, String)>,
    /// For a member of a report's cluster that repeats another's text (`joined_by: exact`), the
    /// member it follows: links name only the first of such a group.
    follows: HashMap<String, String>,
}

impl Prediction {
    /// Adds `id` to the cluster named `cluster`; an error names the cluster `id` was in before.
    fn assign(
        &mut self,
        id: String,
        cluster: &str,
        by_name: &mut HashMap<String, u32>,
    ) -> Result<(), String> {
        let next = self.names.len() as u32;
        let c = *by_name.entry(cluster.to_string()).or_insert_with(|| {
            self.names.push(cluster.to_string());
            next
        });
        match self.index.get(&id) {
            Some(&pos) => {
                let before = self.assigned[pos as usize].1;
                if before == c {
                    Ok(())
                } else {
                    Err(self.names[before as usize].clone())
                }
            }
            None => {
                self.index.insert(id.clone(), self.assigned.len() as u32);
                self.assigned.push((id, c));
                Ok(())
            }
        }
    }

    /// A prediction from `(id, cluster name)` pairs; `None` when an id is given two clusters.
    pub fn from_assignments<I, S, T>(items: I) -> Option<Prediction>
    where
        I: IntoIterator<Item = (S, T)>,
        S: Into<String>,
        T: AsRef<str>,
    {
        let mut p = Prediction::default();
        let mut by_name = HashMap::new();
        for (id, c) in items {
            p.assign(id.into(), c.as_ref(), &mut by_name).ok()?;
        }
        Some(p)
    }

    /// Reads a syndic report (a JSON object with a `clusters` list whose items have `members`:
    /// objects with an `id`, or ids) or `id<TAB>cluster` lines, whichever the content is; gzip
    /// and zstd are decompressed.
    pub fn read(path: &Path) -> Result<Prediction> {
        let mut bytes = Vec::new();
        open(path)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Input {
                path: path.to_path_buf(),
                source: e,
            })?;
        Prediction::parse(path, &bytes)
    }

    /// [`Prediction::read`] on bytes in memory; `path` names them in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Prediction> {
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            None => Err(invalid(
                path,
                "the file is empty (no report, no id<TAB>cluster lines)",
            )),
            Some(b'{') => Prediction::from_report(path, bytes),
            Some(_) => Prediction::from_tsv(path, bytes),
        }
    }

    fn from_report(path: &Path, bytes: &[u8]) -> Result<Prediction> {
        let report: Value = serde_json::from_slice(bytes).map_err(|e| {
            invalid(
                path,
                format!(
                    "line {}: not a JSON report: {}",
                    e.line(),
                    strip_position(&e)
                ),
            )
        })?;
        let clusters = report
            .get("clusters")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid(path, "not a syndic report: no \"clusters\" list"))?;
        let mut p = Prediction::default();
        let mut by_name = HashMap::new();
        for (n, c) in clusters.iter().enumerate() {
            let members = c.get("members").and_then(Value::as_array).ok_or_else(|| {
                invalid(
                    path,
                    format!("cluster {n} (from 0) has no \"members\" list"),
                )
            })?;
            for (m, member) in members.iter().enumerate() {
                let id = match member {
                    Value::Object(o) => o.get("id").and_then(scalar),
                    v => scalar(v),
                };
                let id = id.ok_or_else(|| {
                    invalid(
                        path,
                        format!(
                            "cluster {n} (from 0), member {m}: no id (members are objects with \
                             an \"id\", or ids)"
                        ),
                    )
                })?;
                if let Some(via) = member
                    .get("joined_via")
                    .and_then(scalar)
                    .filter(|_| member.get("joined_by").and_then(Value::as_str) == Some("exact"))
                {
                    p.follows.insert(id.clone(), via);
                }
                if let Err(before) = p.assign(id.clone(), &n.to_string(), &mut by_name) {
                    return Err(invalid(
                        path,
                        format!("document {id:?} is in clusters {before} and {n} (from 0)"),
                    ));
                }
            }
        }
        let links = report.get("links").and_then(Value::as_array);
        for (n, link) in links.into_iter().flatten().enumerate() {
            let id = |k| link.get(k).and_then(scalar);
            let (Some(a), Some(b)) = (id("part"), id("whole")) else {
                return Err(invalid(
                    path,
                    format!("link {n} (from 0) has no \"part\" and \"whole\" ids"),
                ));
            };
            p.links.insert(ordered(a, b));
        }
        Ok(p)
    }

    fn from_tsv(path: &Path, bytes: &[u8]) -> Result<Prediction> {
        let mut p = Prediction::default();
        let mut by_name = HashMap::new();
        let mut first_line = HashMap::new();
        for line in lines(path, bytes) {
            let (n, line) = line?;
            let mut fields = line.split('\t');
            let (Some(id), Some(cluster), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(invalid(
                    path,
                    format!(
                        "line {n}: expected id<TAB>cluster (two fields), or a syndic report \
                         (a JSON object)"
                    ),
                ));
            };
            if let Err(before) = p.assign(id.to_string(), cluster, &mut by_name) {
                return Err(invalid(
                    path,
                    format!(
                        "line {n}: document {id:?} was put in cluster {before:?} at line {}, \
                         and here in {cluster:?}",
                        first_line[id]
                    ),
                ));
            }
            first_line.entry(id.to_string()).or_insert(n);
        }
        Ok(p)
    }

    /// Whether a report links the two documents (see [`crate::report::LinkOut`]), directly or
    /// through the first document of their exact groups.
    pub fn linked(&self, a: &str, b: &str) -> bool {
        if self.links.is_empty() {
            return false;
        }
        let lead = |x: &str| {
            let mut x = x.to_string();
            // Exact members follow an earlier member, never in a cycle; bounded all the same.
            for _ in 0..self.follows.len() {
                match self.follows.get(&x) {
                    Some(v) => x = v.clone(),
                    None => break,
                }
            }
            x
        };
        self.links.contains(&ordered(lead(a), lead(b)))
    }

    /// The cluster of a document, `None` for a singleton.
    pub fn cluster_of(&self, id: &str) -> Option<u32> {
        self.index.get(id).map(|&pos| self.assigned[pos as usize].1)
    }

    /// The documents it names.
    pub fn len(&self) -> usize {
        self.assigned.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assigned.is_empty()
    }

    /// The clusters it names.
    pub fn clusters(&self) -> usize {
        self.names.len()
    }
}

/// A serde_json error without its " at line L column C" (which is given separately).
fn strip_position(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match full.strip_suffix(&suffix) {
        Some(s) => format!("{s} at column {}", e.column()),
        None => full,
    }
}

/// Story labels: every document of a corpus with the story it tells.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    /// Document ids in order, with their story (an index).
    docs: Vec<(String, u32)>,
    index: HashMap<String, u32>,
    stories: usize,
}

impl Labels {
    /// Labels from `(id, story)` pairs; `None` when an id is given two stories.
    pub fn from_assignments<I, S, T>(items: I) -> Option<Labels>
    where
        I: IntoIterator<Item = (S, T)>,
        S: Into<String>,
        T: AsRef<str>,
    {
        let mut l = Labels::default();
        let mut by_story = HashMap::new();
        for (id, s) in items {
            l.add(id.into(), s.as_ref().to_string(), &mut by_story)
                .ok()?;
        }
        Some(l)
    }

    /// Adds a document; an error gives the position of the document with the same id and
    /// another story.
    fn add(
        &mut self,
        id: String,
        story: String,
        by_story: &mut HashMap<String, u32>,
    ) -> Result<(), usize> {
        let next = by_story.len() as u32;
        let s = *by_story.entry(story).or_insert(next);
        self.stories = by_story.len();
        match self.index.get(&id) {
            Some(&pos) if self.docs[pos as usize].1 == s => Ok(()),
            Some(&pos) => Err(pos as usize),
            None => {
                self.index.insert(id.clone(), self.docs.len() as u32);
                self.docs.push((id, s));
                Ok(())
            }
        }
    }

    /// The labelled documents.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The distinct stories.
    pub fn stories(&self) -> usize {
        self.stories
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }
}

/// How two documents of a labelled pair relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PairLabel {
    /// One is a copy of the other (retitled, truncated, reformatted).
    Copy,
    /// One is a rewrite of the other: the same story in other words.
    Rewrite,
    /// Different documents.
    Different,
}

impl PairLabel {
    pub const ALL: [PairLabel; 3] = [PairLabel::Copy, PairLabel::Rewrite, PairLabel::Different];

    pub fn name(self) -> &'static str {
        match self {
            PairLabel::Copy => "copy",
            PairLabel::Rewrite => "rewrite",
            PairLabel::Different => "different",
        }
    }

    fn parse(s: &str) -> Option<PairLabel> {
        PairLabel::ALL.into_iter().find(|l| l.name() == s)
    }
}

/// One line of a labelled-pairs file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledPair {
    pub a: String,
    pub b: String,
    pub label: PairLabel,
}

/// One line of a labelled-lines file: a line of a document and whether it is furniture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelledLine {
    pub id: String,
    /// Index into the document's text split on `\n`, from 0.
    pub line: u64,
    /// `true` for `"furniture"`, `false` for `"content"`.
    pub furniture: bool,
}

/// Ground truth as read from a file.
#[derive(Clone, Debug)]
pub enum Truth {
    Labels(Labels),
    Pairs(Vec<LabelledPair>),
    Lines(Vec<LabelledLine>),
}

/// What the first line of a truth file says the file holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Labels,
    Pairs,
    Lines,
}

impl Truth {
    /// Reads a JSONL truth file (gzip and zstd decompressed): labelled pairs when the first line
    /// has `a` and `b`, labelled lines when it has `id` and `line`, story labels when it has an
    /// `id` only. Other fields are ignored; blank lines are skipped.
    pub fn read(path: &Path) -> Result<Truth> {
        Truth::parse(path, open(path)?)
    }

    /// [`Truth::read`] on an open stream; `path` names it in errors.
    pub fn parse(path: &Path, reader: impl BufRead) -> Result<Truth> {
        let mut kind = None;
        let mut labels = Labels::default();
        let mut by_story = HashMap::new();
        let mut label_lines = Vec::new();
        let mut pairs = Vec::new();
        let mut labelled_lines = Vec::new();
        for line in lines(path, reader) {
            let (n, line) = line?;
            let bad = |msg: String| invalid(path, format!("line {n}: {msg}"));
            let v: Value = serde_json::from_str(&line)
                .map_err(|e| bad(format!("malformed JSON: {}", strip_position(&e))))?;
            let Value::Object(obj) = v else {
                return Err(bad(
                    "not a JSON object (one object per line is expected)".into()
                ));
            };
            let this = *kind.get_or_insert_with(|| {
                if obj.contains_key("a") && obj.contains_key("b") {
                    Some(Kind::Pairs)
                } else if obj.contains_key("id") && obj.contains_key("line") {
                    Some(Kind::Lines)
                } else if obj.contains_key("id") {
                    Some(Kind::Labels)
                } else {
                    None
                }
            });
            let field = |key: &str| -> Result<String> {
                let v = obj
                    .get(key)
                    .ok_or_else(|| bad(format!("no {key:?} field")))?;
                scalar(v).ok_or_else(|| bad(format!("field {key:?} must be a string or a number")))
            };
            match this {
                None => {
                    return Err(bad(
                        "neither story labels ({\"id\", \"story\"}), labelled pairs \
                         ({\"a\", \"b\", \"label\"}) nor labelled lines ({\"id\", \"line\", \
                         \"label\"}): the first line decides which"
                            .into(),
                    ))
                }
                Some(Kind::Lines) => {
                    let id = field("id")?;
                    let line = obj.get("line").and_then(Value::as_u64).ok_or_else(|| {
                        bad("field \"line\" must be a line index (0 or more)".into())
                    })?;
                    let furniture = match obj.get("label").and_then(Value::as_str) {
                        Some("furniture") => true,
                        Some("content") => false,
                        _ => {
                            return Err(bad(format!(
                                "unknown label {} (expected \"furniture\" or \"content\")",
                                obj.get("label").unwrap_or(&Value::Null)
                            )))
                        }
                    };
                    labelled_lines.push(LabelledLine {
                        id,
                        line,
                        furniture,
                    });
                }
                Some(Kind::Labels) => {
                    let id = field("id")?;
                    // A number and a string that read alike are different stories.
                    let story = match obj.get("story") {
                        Some(Value::String(s)) => format!("s{s}"),
                        Some(v @ Value::Number(_)) => format!("n{v}"),
                        Some(_) => {
                            return Err(bad("field \"story\" must be a string or a number".into()))
                        }
                        None => return Err(bad("no \"story\" field".into())),
                    };
                    if let Err(pos) = labels.add(id.clone(), story, &mut by_story) {
                        return Err(bad(format!(
                            "document {id:?} was given another story at line {}",
                            label_lines[pos]
                        )));
                    }
                    if label_lines.len() < labels.len() {
                        label_lines.push(n);
                    }
                }
                Some(Kind::Pairs) => {
                    let (a, b) = (field("a")?, field("b")?);
                    let name = obj
                        .get("label")
                        .ok_or_else(|| bad("no \"label\" field".into()))?;
                    let label = name.as_str().and_then(PairLabel::parse).ok_or_else(|| {
                        bad(format!(
                            "unknown label {name} (expected \"copy\", \"rewrite\" or \"different\")"
                        ))
                    })?;
                    if a == b {
                        return Err(bad(format!("a pair of a document with itself ({a:?})")));
                    }
                    pairs.push(LabelledPair { a, b, label });
                }
            }
        }
        match kind.flatten() {
            None => Err(invalid(path, "the file is empty (no truth lines)")),
            Some(Kind::Pairs) => Ok(Truth::Pairs(pairs)),
            Some(Kind::Lines) => Ok(Truth::Lines(labelled_lines)),
            Some(Kind::Labels) => Ok(Truth::Labels(labels)),
        }
    }
}

/// The scores of a clustering against story labels. The field names are those of `score.py
/// --json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterScores {
    /// Labelled documents.
    pub docs: u64,
    /// Predicted groups among them: clusters, and each document in none as its own.
    pub pred_clusters: u64,
    /// Distinct stories.
    pub true_stories: u64,
    /// Pairs of documents in one predicted cluster.
    pub pred_pairs: u64,
    /// Pairs of documents of one story.
    pub true_pairs: u64,
    /// Pairs both predicted and true.
    pub tp_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Adjusted Rand Index.
    pub ari: f64,
    /// Labelled documents the prediction does not name (singletons).
    pub missing_from_pred: u64,
}

/// Documents of a prediction that the labels do not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownIds {
    pub count: usize,
    /// The first few, in the prediction's order.
    pub examples: Vec<String>,
}

impl std::fmt::Display for UnknownIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} predicted ids are not in the truth, e.g. ",
            self.count
        )?;
        for (i, id) in self.examples.iter().enumerate() {
            write!(f, "{}{id:?}", if i > 0 { ", " } else { "" })?;
        }
        Ok(())
    }
}

/// Scores a prediction against story labels (see the module's documentation). Every document
/// the prediction names must be labelled.
pub fn score_labels(truth: &Labels, pred: &Prediction) -> Result<ClusterScores, UnknownIds> {
    let unknown: Vec<&str> = pred
        .assigned
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| !truth.contains(id))
        .collect();
    if !unknown.is_empty() {
        return Err(UnknownIds {
            count: unknown.len(),
            examples: unknown.iter().take(3).map(|s| s.to_string()).collect(),
        });
    }
    // Groups: predicted clusters first, then one per document in none.
    let singleton = pred.clusters() as u64;
    let mut cells: HashMap<(u64, u32), u64> = HashMap::new();
    let mut group_size: HashMap<u64, u64> = HashMap::new();
    let mut story_size = vec![0u64; truth.stories()];
    let mut missing = 0;
    for (i, (id, story)) in truth.docs.iter().enumerate() {
        let group = match pred.cluster_of(id) {
            Some(c) => u64::from(c),
            None => {
                missing += 1;
                singleton + i as u64
            }
        };
        *cells.entry((group, *story)).or_default() += 1;
        *group_size.entry(group).or_default() += 1;
        story_size[*story as usize] += 1;
    }
    let n = truth.len() as u64;
    let index: u64 = cells.values().map(|&v| c2(v)).sum();
    let a: u64 = group_size.values().map(|&v| c2(v)).sum();
    let b: u64 = story_size.iter().map(|&v| c2(v)).sum();
    let precision = if a > 0 {
        ratio(index.into(), a.into())
    } else {
        1.0
    };
    let recall = if b > 0 {
        ratio(index.into(), b.into())
    } else {
        1.0
    };
    let f1 = f1(precision, recall);
    let expected = if n > 1 {
        ratio(u128::from(a) * u128::from(b), c2(n).into())
    } else {
        0.0
    };
    let denom = ratio(u128::from(a) + u128::from(b), 2) - expected;
    let ari = if denom != 0.0 {
        (index as f64 - expected) / denom
    } else {
        1.0
    };
    Ok(ClusterScores {
        docs: n,
        pred_clusters: group_size.len() as u64,
        true_stories: story_size.iter().filter(|&&s| s > 0).count() as u64,
        pred_pairs: a,
        true_pairs: b,
        tp_pairs: index,
        precision,
        recall,
        f1,
        ari,
        missing_from_pred: missing,
    })
}

/// The harmonic mean, 0 when both are 0 (as `score.py`).
fn f1(precision: f64, recall: f64) -> f64 {
    if precision + recall != 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    }
}

/// The counts of one label of a labelled-pairs file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LabelCounts {
    /// Pairs with the label.
    pub pairs: u64,
    /// Of those, pairs in one predicted cluster.
    pub clustered: u64,
    /// Of those, pairs in different clusters that the report links (`links`): found all the
    /// same.
    pub linked: u64,
    /// Of those, pairs not found of which the prediction does not name one document or both.
    pub missing: u64,
}

/// The scores of a clustering against labelled pairs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairScores {
    pub copy: LabelCounts,
    pub rewrite: LabelCounts,
    pub different: LabelCounts,
    /// Found (clustered or linked) copy and rewrite pairs over all found pairs (1 when none is
    /// found).
    pub precision: f64,
    /// Clustered copy pairs over copy pairs (1 without copy pairs).
    pub recall_copy: f64,
    /// Clustered copy and rewrite pairs over copy and rewrite pairs (1 without any).
    pub recall_copy_rewrite: f64,
    /// The harmonic mean of `precision` and `recall_copy_rewrite`.
    pub f1: f64,
}

impl PairScores {
    pub fn counts(&self, label: PairLabel) -> &LabelCounts {
        match label {
            PairLabel::Copy => &self.copy,
            PairLabel::Rewrite => &self.rewrite,
            PairLabel::Different => &self.different,
        }
    }

    /// The counts over all labels.
    pub fn total(&self) -> LabelCounts {
        let mut t = LabelCounts::default();
        for l in PairLabel::ALL {
            let c = self.counts(l);
            t.pairs += c.pairs;
            t.clustered += c.clustered;
            t.linked += c.linked;
            t.missing += c.missing;
        }
        t
    }
}

/// Scores a prediction against labelled pairs. Documents the prediction does not name are
/// singletons: their pairs are not clustered, and counted as missing.
pub fn score_pairs(pairs: &[LabelledPair], pred: &Prediction) -> PairScores {
    let mut counts: HashMap<PairLabel, LabelCounts> = HashMap::new();
    for p in pairs {
        let c = counts.entry(p.label).or_default();
        c.pairs += 1;
        let (x, y) = (pred.cluster_of(&p.a), pred.cluster_of(&p.b));
        if x.is_some() && x == y {
            c.clustered += 1;
        } else if pred.linked(&p.a, &p.b) {
            c.linked += 1;
        } else if x.is_none() || y.is_none() {
            c.missing += 1;
        }
    }
    let mut take = |l| counts.remove(&l).unwrap_or_default();
    let (copy, rewrite, different) = (
        take(PairLabel::Copy),
        take(PairLabel::Rewrite),
        take(PairLabel::Different),
    );
    let frac = |num: u64, den: u64| {
        if den > 0 {
            ratio(num.into(), den.into())
        } else {
            1.0
        }
    };
    let found = |c: &LabelCounts| c.clustered + c.linked;
    let positive = found(&copy) + found(&rewrite);
    let precision = frac(positive, positive + found(&different));
    let recall_copy = frac(found(&copy), copy.pairs);
    let recall_copy_rewrite = frac(positive, copy.pairs + rewrite.pairs);
    PairScores {
        f1: f1(precision, recall_copy_rewrite),
        copy,
        rewrite,
        different,
        precision,
        recall_copy,
        recall_copy_rewrite,
    }
}

/// Flagged lines: `(document id, line index)`, as read from an annotations file.
pub type Flags = std::collections::HashSet<(String, u64)>;

/// Reads an annotations file (`{"id", "boilerplate_lines": [indexes]}` per line, gzip and zstd
/// decompressed).
pub fn read_flags(path: &Path) -> Result<Flags> {
    let mut flags = Flags::new();
    for line in lines(path, open(path)?) {
        let (n, line) = line?;
        let bad = |msg: &str| invalid(path, format!("line {n}: {msg}"));
        let v: Value = serde_json::from_str(&line).map_err(|e| {
            bad(&format!(
                "malformed JSON: {} (an annotations file of `syndic scan --annotations` is \
                 expected)",
                strip_position(&e)
            ))
        })?;
        let id = v
            .get("id")
            .and_then(scalar)
            .ok_or_else(|| bad("no \"id\" string or number"))?;
        let idx = v
            .get("boilerplate_lines")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no \"boilerplate_lines\" array"))?;
        for i in idx {
            let i = i
                .as_u64()
                .ok_or_else(|| bad("a line index that is not a number"))?;
            flags.insert((id.clone(), i));
        }
    }
    Ok(flags)
}

/// The scores of boilerplate flags against labelled lines.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LineScores {
    /// Lines labelled furniture, and how many of them are flagged.
    pub furniture: u64,
    pub furniture_flagged: u64,
    /// Lines labelled content, and how many of them are flagged.
    pub content: u64,
    pub content_flagged: u64,
    /// Flagged furniture over flagged labelled lines (1 when none is flagged).
    pub precision: f64,
    /// Flagged furniture over furniture (1 without furniture).
    pub recall: f64,
    pub f1: f64,
}

/// Scores boilerplate flags against labelled lines.
pub fn score_lines(truth: &[LabelledLine], flags: &Flags) -> LineScores {
    let mut s = LineScores::default();
    for l in truth {
        let flagged = u64::from(flags.contains(&(l.id.clone(), l.line)));
        if l.furniture {
            s.furniture += 1;
            s.furniture_flagged += flagged;
        } else {
            s.content += 1;
            s.content_flagged += flagged;
        }
    }
    let frac = |num: u64, den: u64| {
        if den > 0 {
            ratio(num.into(), den.into())
        } else {
            1.0
        }
    };
    s.precision = frac(s.furniture_flagged, s.furniture_flagged + s.content_flagged);
    s.recall = frac(s.furniture_flagged, s.furniture);
    s.f1 = f1(s.precision, s.recall);
    s
}

/// A file of any truth, scored.
#[derive(Clone, Debug, PartialEq)]
pub enum Scores {
    Labels(ClusterScores),
    Pairs(PairScores),
    Lines(LineScores),
}

/// Reads a prediction and a truth file and scores one against the other. With story labels, a
/// predicted id the labels do not know is an error naming the prediction's file. With labelled
/// lines the prediction is an annotations file.
pub fn evaluate(prediction: &Path, truth: &Path) -> Result<Scores> {
    let truth_data = Truth::read(truth)?;
    if let Truth::Lines(lines) = &truth_data {
        return Ok(Scores::Lines(score_lines(lines, &read_flags(prediction)?)));
    }
    let pred = Prediction::read(prediction)?;
    match truth_data {
        Truth::Lines(_) => unreachable!("scored above"),
        Truth::Labels(labels) => score_labels(&labels, &pred)
            .map(Scores::Labels)
            .map_err(|u| {
                invalid(
                    prediction,
                    format!(
                        "{u} ({} holds the labels; are both from the same corpus?)",
                        truth.display()
                    ),
                )
            }),
        Truth::Pairs(pairs) => Ok(Scores::Pairs(score_pairs(&pairs, &pred))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_lines_score_flags() {
        let truth = Truth::parse(
            Path::new("t.jsonl"),
            &br#"{"id": "d1", "line": 0, "label": "furniture"}
{"id": "d1", "line": 3, "label": "content"}
{"id": 7, "line": 1, "label": "furniture"}
{"id": "d2", "line": 2, "label": "furniture"}
"#[..],
        )
        .unwrap();
        let Truth::Lines(lines) = truth else {
            panic!("labelled lines expected")
        };
        let mut flags = Flags::new();
        flags.insert(("d1".into(), 0));
        flags.insert(("d1".into(), 3));
        flags.insert(("7".into(), 1));
        flags.insert(("d9".into(), 0));
        let s = score_lines(&lines, &flags);
        assert_eq!((s.furniture, s.furniture_flagged), (3, 2));
        assert_eq!((s.content, s.content_flagged), (1, 1));
        assert_eq!(s.precision, 2.0 / 3.0);
        assert_eq!(s.recall, 2.0 / 3.0);
        let bad = Truth::parse(
            Path::new("t.jsonl"),
            &br#"{"id": "d1", "line": 0, "label": "footer"}"#[..],
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("line 1") && bad.contains("furniture"), "{bad}");
    }

    fn labels(items: &[(&str, &str)]) -> Labels {
        Labels::from_assignments(items.iter().copied()).unwrap()
    }

    fn pred(items: &[(&str, &str)]) -> Prediction {
        Prediction::from_assignments(items.iter().copied()).unwrap()
    }

    fn score(t: &[(&str, &str)], p: &[(&str, &str)]) -> ClusterScores {
        score_labels(&labels(t), &pred(p)).unwrap()
    }

    const TRUTH: &[(&str, &str)] = &[
        ("d1", "A"),
        ("d2", "A"),
        ("d3", "A"),
        ("d4", "B"),
        ("d5", "B"),
        ("d6", "C"),
        ("d7", "D"),
        ("d8", "E"),
    ];

    #[test]
    fn hand_computed_scores() {
        // Clusters {d1 d2} {d3 d4 d5} {d6 d7}; d8 in none.
        let s = score(
            TRUTH,
            &[
                ("d1", "x"),
                ("d2", "x"),
                ("d3", "y"),
                ("d4", "y"),
                ("d5", "y"),
                ("d6", "z"),
                ("d7", "z"),
            ],
        );
        assert_eq!(
            (s.docs, s.pred_clusters, s.true_stories),
            (8, 4, 5),
            "{s:?}"
        );
        assert_eq!((s.pred_pairs, s.true_pairs, s.tp_pairs), (5, 4, 2));
        assert_eq!(s.missing_from_pred, 1);
        assert_eq!(s.precision, 0.4);
        assert_eq!(s.recall, 0.5);
        assert!((s.f1 - 4.0 / 9.0).abs() < 1e-15);
        // expected = 5 * 4 / 28; ARI = (2 - 20/28) / (4.5 - 20/28) = 18/53.
        assert!((s.ari - 18.0 / 53.0).abs() < 1e-15, "{}", s.ari);
    }

    #[test]
    fn perfect_prediction_scores_one() {
        let p: Vec<(&str, &str)> = TRUTH.to_vec();
        let s = score(TRUTH, &p);
        assert_eq!((s.precision, s.recall, s.f1, s.ari), (1.0, 1.0, 1.0, 1.0));
        assert_eq!(s.pred_pairs, 4);
        // Singleton stories left out of the prediction change nothing.
        let s2 = score(TRUTH, &p[..5]);
        assert_eq!(s2.ari, 1.0);
        assert_eq!(s2.missing_from_pred, 3);
        assert_eq!(s2.pred_clusters, s.pred_clusters);
    }

    #[test]
    fn all_singletons_against_all_singletons_is_perfect() {
        // No pair anywhere: every denominator is 0; score.py says 1, 1, F1 1, ARI 1.
        let t = [("a", "1"), ("b", "2"), ("c", "3")];
        let s = score(&t, &[]);
        assert_eq!((s.pred_pairs, s.true_pairs, s.tp_pairs), (0, 0, 0));
        assert_eq!((s.precision, s.recall, s.f1, s.ari), (1.0, 1.0, 1.0, 1.0));
        assert_eq!(s.pred_clusters, 3);
    }

    #[test]
    fn degenerate_cases_follow_score_py() {
        // Nothing predicted against real stories: precision 1 (no predicted pair), recall 0,
        // F1 0, ARI 0.
        let s = score(TRUTH, &[]);
        assert_eq!((s.precision, s.recall, s.f1), (1.0, 0.0, 0.0));
        assert_eq!(s.ari, 0.0);
        // One document: expected is 0, the ARI denominator 0: ARI 1.
        let s = score(&[("a", "s")], &[("a", "c")]);
        assert_eq!((s.docs, s.ari), (1, 1.0));
        // Everything in one cluster against all singletons: precision 0, ARI 0.
        let t = [("a", "1"), ("b", "2"), ("c", "3")];
        let s = score(&t, &[("a", "k"), ("b", "k"), ("c", "k")]);
        assert_eq!((s.precision, s.recall, s.f1, s.ari), (0.0, 1.0, 0.0, 0.0));
    }

    #[test]
    fn names_of_clusters_and_stories_do_not_matter() {
        let p = [
            ("d1", "x"),
            ("d2", "x"),
            ("d3", "y"),
            ("d4", "y"),
            ("d6", "z"),
            ("d8", "z"),
        ];
        let base = score(TRUTH, &p);
        let renamed: Vec<(&str, &str)> = p
            .iter()
            .map(|&(d, c)| {
                (
                    d,
                    if c == "x" {
                        "z"
                    } else if c == "z" {
                        "x"
                    } else {
                        "q"
                    },
                )
            })
            .collect();
        assert_eq!(score(TRUTH, &renamed), base);
        let t2: Vec<(&str, &str)> = TRUTH
            .iter()
            .map(|&(d, s)| {
                (
                    d,
                    if s == "A" {
                        "B"
                    } else if s == "B" {
                        "A"
                    } else {
                        s
                    },
                )
            })
            .collect();
        assert_eq!(score(&t2, &p), base);
        // Order of the prediction does not matter either.
        let mut rev = p.to_vec();
        rev.reverse();
        assert_eq!(score(TRUTH, &rev), base);
    }

    #[test]
    fn swapping_prediction_and_truth_swaps_precision_and_recall() {
        let p = [
            ("d1", "x"),
            ("d2", "x"),
            ("d3", "y"),
            ("d4", "y"),
            ("d5", "y"),
        ];
        let t: Vec<(&str, &str)> = TRUTH.to_vec();
        let fwd = score(&t, &p);
        // The prediction as truth (every document, singletons named), the truth as prediction.
        let p_full: Vec<(&str, &str)> = TRUTH
            .iter()
            .map(|&(d, _)| p.iter().find(|x| x.0 == d).copied().unwrap_or((d, d)))
            .collect();
        let back = score(&p_full, &t);
        assert_eq!(fwd.precision, back.recall);
        assert_eq!(fwd.recall, back.precision);
        assert_eq!(fwd.ari, back.ari);
        assert_eq!(fwd.tp_pairs, back.tp_pairs);
    }

    #[test]
    fn unknown_predicted_ids_are_an_error() {
        let e = score_labels(
            &labels(TRUTH),
            &pred(&[("d1", "x"), ("zz", "x"), ("yy", "y")]),
        )
        .unwrap_err();
        assert_eq!(e.count, 2);
        assert_eq!(e.examples, vec!["zz".to_string(), "yy".to_string()]);
        assert!(e.to_string().contains("2 predicted ids"), "{e}");
    }

    #[test]
    fn conflicting_assignments_are_refused() {
        assert!(Prediction::from_assignments([("a", "1"), ("a", "2")]).is_none());
        assert!(Prediction::from_assignments([("a", "1"), ("a", "1")]).is_some());
        assert!(Labels::from_assignments([("a", "s"), ("a", "t")]).is_none());
    }

    #[test]
    fn ratio_rounds_once() {
        assert_eq!(ratio(1, 3), 1.0 / 3.0);
        assert_eq!(ratio(2, 5), 0.4);
        assert_eq!(ratio(7, 7), 1.0);
        assert_eq!(ratio(0, 9), 0.0);
        assert_eq!(ratio(9, 2), 4.5);
        // Above 2^53 a conversion then a division would round twice: 2^54 + 1 (not an f64)
        // over 3 is 6004799503160661.666..., whose nearest f64 is 6004799503160662.
        assert_eq!(ratio((1 << 54) + 1, 3), 6004799503160662.0);
        assert_eq!(((((1u64 << 54) + 1) as f64) / 3.0), 6004799503160661.0);
        // Quotients of large integers as Python 3 divides them (`p / d`).
        let python: [(u128, u128, f64); 6] = [
            (627453578704277650, 387927, 1617452713279.2449),
            (
                1313670444071681476583883510430,
                8382370225779046949,
                156718256136.1504,
            ),
            (290087678292212463220098628, 1044009, 2.778593654769379e+20),
            (
                11158214055868407795404712915060,
                719524691876995,
                1.550775697045285e+16,
            ),
            (731944509354491270, 910211, 804148169330.5083),
            (
                13549215838073990383530679657616,
                167143,
                8.106361521615617e+25,
            ),
        ];
        for (p, d, q) in python {
            assert_eq!(ratio(p, d), q, "{p} / {d}");
        }
    }

    #[test]
    fn pairs_are_counted_per_label() {
        let p = pred(&[
            ("d1", "x"),
            ("d2", "x"),
            ("d3", "y"),
            ("d4", "y"),
            ("d5", "y"),
            ("d6", "z"),
            ("d7", "z"),
        ]);
        use PairLabel::*;
        let pairs = [
            lp("d1", "d2", Copy),
            lp("d1", "d3", Copy),
            lp("d5", "x99", Copy),
            lp("d4", "d5", Rewrite),
            lp("d2", "d8", Rewrite),
            lp("d6", "d7", Different),
            lp("d1", "d4", Different),
            lp("d3", "d4", Different),
        ];
        let s = score_pairs(&pairs, &p);
        let c = |pairs, clustered, missing| LabelCounts {
            pairs,
            clustered,
            linked: 0,
            missing,
        };
        assert_eq!(s.copy, c(3, 1, 1));
        assert_eq!(s.rewrite, c(2, 1, 1));
        assert_eq!(s.different, c(3, 2, 0));
        assert_eq!(s.total(), c(8, 4, 2));
        assert_eq!(s.precision, 0.5);
        assert_eq!(s.recall_copy, 1.0 / 3.0);
        assert_eq!(s.recall_copy_rewrite, 0.4);
        assert!((s.f1 - 4.0 / 9.0).abs() < 1e-15);
        // The order within a pair does not matter.
        let flipped: Vec<LabelledPair> = pairs.iter().map(|p| lp(&p.b, &p.a, p.label)).collect();
        assert_eq!(score_pairs(&flipped, &p), s);
    }

    fn lp(a: &str, b: &str, label: PairLabel) -> LabelledPair {
        LabelledPair {
            a: a.into(),
            b: b.into(),
            label,
        }
    }

    #[test]
    fn linked_pairs_are_found_through_exact_groups() {
        // d1 and d2 are one cluster, d3 and its exact copy d4 another; the report links d2 (a
        // story) into d3 (a roundup), and d5 (in no cluster) into d1.
        let report = r#"{"clusters": [
            {"members": [{"id": "d1", "joined_by": "representative", "joined_via": null},
                         {"id": "d2", "joined_by": "jaccard", "joined_via": "d1"}]},
            {"members": [{"id": "d3", "joined_by": "representative", "joined_via": null},
                         {"id": "d4", "joined_by": "exact", "joined_via": "d3"}]}],
            "links": [{"part": "d2", "whole": "d3"}, {"part": "d5", "whole": "d1"}]}"#;
        let p = Prediction::parse(Path::new("r.json"), report.as_bytes()).unwrap();
        assert!(p.linked("d2", "d3") && p.linked("d3", "d2"));
        assert!(p.linked("d4", "d2"), "d4 repeats d3's text");
        assert!(p.linked("d1", "d5"));
        assert!(!p.linked("d1", "d3") && !p.linked("d5", "d2") && !p.linked("d1", "d4"));
        let s = score_pairs(
            &[
                lp("d1", "d2", PairLabel::Copy),
                lp("d2", "d4", PairLabel::Copy),
                lp("d5", "d1", PairLabel::Copy),
                lp("d1", "d3", PairLabel::Different),
                lp("d5", "d3", PairLabel::Copy),
            ],
            &p,
        );
        let c = |pairs, clustered, linked, missing| LabelCounts {
            pairs,
            clustered,
            linked,
            missing,
        };
        assert_eq!(s.copy, c(4, 1, 2, 1));
        assert_eq!(s.different, c(1, 0, 0, 0));
        assert_eq!((s.precision, s.recall_copy), (1.0, 0.75));
        let bad = r#"{"clusters": [], "links": [{"part": "d2"}]}"#;
        let e = Prediction::parse(Path::new("r.json"), bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("link 0 (from 0)"), "{e}");
    }

    #[test]
    fn pairs_with_nothing_clustered() {
        let s = score_pairs(
            &[LabelledPair {
                a: "a".into(),
                b: "b".into(),
                label: PairLabel::Different,
            }],
            &Prediction::default(),
        );
        assert_eq!(
            (s.precision, s.recall_copy, s.recall_copy_rewrite),
            (1.0, 1.0, 1.0)
        );
        assert_eq!(s.different.missing, 1);
    }

    fn truth_of(text: &str) -> Result<Truth> {
        Truth::parse(Path::new("t.jsonl"), text.as_bytes())
    }

    #[test]
    fn truth_kind_is_told_by_the_first_line() {
        let t = truth_of(
            "{\"id\": \"a\", \"story\": 1, \"site\": \"x\"}\n\n{\"id\": 7, \"story\": \"1\"}\n",
        )
        .unwrap();
        let Truth::Labels(l) = t else {
            panic!("labels expected")
        };
        assert_eq!(l.len(), 2);
        assert!(l.contains("7"));
        // The number 1 and the string "1" are two stories.
        assert_eq!(l.stories(), 2);
        let t = truth_of("{\"a\": \"x\", \"b\": 2, \"label\": \"rewrite\"}\n").unwrap();
        let Truth::Pairs(p) = t else {
            panic!("pairs expected")
        };
        assert_eq!(
            p,
            vec![LabelledPair {
                a: "x".into(),
                b: "2".into(),
                label: PairLabel::Rewrite
            }]
        );
    }

    #[test]
    fn bad_truth_lines_name_the_line() {
        let cases = [
            ("{\"id\": \"a\", \"story\": 1}\n{\"id\": \"b\"}\n", "line 2: no \"story\" field"),
            ("{\"id\": \"a\", \"story\": 1}\n\n{\"id\": \"b\", \"story\n", "line 3: malformed JSON"),
            ("{\"id\": \"a\", \"story\": 1}\n[1]\n", "line 2: not a JSON object"),
            ("{\"id\": \"a\", \"story\": 1}\n{\"id\": null, \"story\": 1}\n", "line 2: field \"id\" must be"),
            ("{\"id\": \"a\", \"story\": 1}\n{\"id\": \"a\", \"story\": 2}\n", "line 2: document \"a\" was given another story at line 1"),
            ("{\"a\": \"x\", \"b\": \"y\", \"label\": \"dupe\"}\n", "line 1: unknown label \"dupe\""),
            ("{\"a\": \"x\", \"b\": \"y\", \"label\": \"copy\"}\n{\"a\": \"x\", \"label\": \"copy\"}\n", "line 2: no \"b\" field"),
            ("{\"a\": \"x\", \"b\": \"x\", \"label\": \"copy\"}\n", "line 1: a pair of a document with itself"),
            ("{\"text\": \"x\"}\n", "line 1: neither story labels"),
            ("\n\n", "the file is empty"),
        ];
        for (text, want) in cases {
            let e = truth_of(text).unwrap_err().to_string();
            assert!(e.contains("t.jsonl") && e.contains(want), "{text:?}: {e}");
        }
        // The same document twice with the same story is harmless.
        assert!(truth_of("{\"id\": \"a\", \"story\": 1}\n{\"id\": \"a\", \"story\": 1}\n").is_ok());
    }

    fn pred_of(text: &str) -> Result<Prediction> {
        Prediction::parse(Path::new("r"), text.as_bytes())
    }

    #[test]
    fn predictions_from_reports_and_tsv() {
        let r = pred_of(
            r#"{"clusters": [{"members": [{"id": "a"}, {"id": "b"}]}, {"members": ["c", 4]}]}"#,
        )
        .unwrap();
        assert_eq!((r.len(), r.clusters()), (4, 2));
        assert_eq!(r.cluster_of("a"), r.cluster_of("b"));
        assert_eq!(r.cluster_of("c"), r.cluster_of("4"));
        assert_ne!(r.cluster_of("a"), r.cluster_of("c"));
        assert_eq!(r.cluster_of("z"), None);
        let t = pred_of("a\tk1\r\nb\tk1\n\nc\tk2\n4\tk2\n").unwrap();
        assert_eq!((t.len(), t.clusters()), (4, 2));
        assert_eq!(t.cluster_of("b"), t.cluster_of("a"));
        assert_eq!(t.cluster_of("4"), t.cluster_of("c"));
    }

    #[test]
    fn bad_predictions_are_explained() {
        let cases = [
            ("a\tk\nb k\n", "line 2: expected id<TAB>cluster"),
            ("a\tk\nb\tk\tx\n", "line 2: expected id<TAB>cluster"),
            (
                "a\tk1\nb\tk2\na\tk2\n",
                "line 3: document \"a\" was put in cluster \"k1\" at line 1",
            ),
            ("{\"clusters\": 3}", "no \"clusters\" list"),
            (
                "{\"clusters\": [{\"size\": 2}]}",
                "cluster 0 (from 0) has no \"members\"",
            ),
            (
                "{\"clusters\": [{\"members\": [{\"name\": 1}]}]}",
                "member 0: no id",
            ),
            (
                "{\"clusters\": [{\"members\": [\"a\"]}, {\"members\": [\"a\"]}]}",
                "document \"a\" is in clusters 0 and 1",
            ),
            (
                "{\"clusters\": [\n{\"members\": [}",
                "line 2: not a JSON report",
            ),
            ("  \n", "the file is empty"),
        ];
        for (text, want) in cases {
            let e = pred_of(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
