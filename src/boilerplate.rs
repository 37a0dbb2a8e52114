//! Boilerplate: site furniture found from the corpus itself.
//!
//! Every line of every document has a key ([`crate::normalize::line_key`]: normalized, digits
//! masked). Per key the stage counts documents, distinct sources, positions (head, middle, tail)
//! and, given a story label per document (a first, Jaccard-only clustering of the unmasked
//! documents), distinct stories. The decision separates furniture from syndication:
//!
//! * a line that recurs across many *different* stories (at least `min_stories` of them, and in at
//!   least `min_story_ratio` stories per document that holds it) is furniture: footers,
//!   disclaimers, datelines, credits, share and navigation lines, section headers;
//! * a paragraph that recurs because one story was published on many sites recurs within one
//!   story (or a few fragments of it) and is never flagged.
//!
//! Flagged lines are masked out of the shingles of the final signatures, reported as templates
//! with their counts, written as per-document annotations and optionally stripped by `dedup`.

use std::collections::HashSet;

use bitvec::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::normalize::NormDoc;
use crate::spill::{Docs, Runs};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoilerplateOptions {
    /// A line must stand in at least this many documents to be considered.
    pub min_docs: u32,
    /// ... and in at least this many distinct stories.
    pub min_stories: u32,
    /// ... and in at least this many stories per document that holds it.
    pub min_story_ratio: f64,
    /// Lines among the first (last) this many non-empty lines of a document count as head (tail).
    pub edge_lines: usize,
    /// A word n-gram in at least this many documents of one source is template text (see
    /// [`SourceTemplates`]); 0 turns this off.
    pub source_template_docs: u32,
}

impl Default for BoilerplateOptions {
    fn default() -> Self {
        BoilerplateOptions {
            min_docs: 5,
            min_stories: 5,
            min_story_ratio: 0.5,
            edge_lines: 3,
            source_template_docs: 3,
        }
    }
}

/// Words in a template n-gram (see [`SourceTemplates`]).
pub const TEMPLATE_WORDS: usize = 8;

/// Template text within one source: word [`TEMPLATE_WORDS`]-grams that stand in at least
/// `min_docs` documents *of the same source*. A paper prints one copy of a story, so a passage
/// it prints in three different documents is its template: the fixed sentences of a series of
/// congratulation cables, bulletins or market reports, whose copies differ only in names. These
/// words are left out of the signatures (like furniture lines), so that items of one series meet
/// only when their names do, while syndicated copies (one per source) keep all their text.
#[derive(Clone, Debug, Default)]
pub struct SourceTemplates {
    /// Hashes of (source, n-gram) that are template text, sorted.
    keys: Vec<u64>,
    /// Each document's source id (`u32::MAX`: none).
    source: Vec<u32>,
    /// Whether any template key was counted in a document of each source: the documents of the
    /// other sources cannot match one (their keys would have been counted), so their lines are
    /// not hashed into n-grams again when sketched.
    has_templates: Vec<bool>,
    /// Sorted runs of keys written to scratch files while counting.
    pub spilled_runs: u64,
}

/// Keys of the sampled word n-grams of a line: each word hashed once, each n-gram keyed by the
/// hash of its words' hashes and the source; only keys divisible by [`TEMPLATE_SAMPLE`] are kept
/// (a deterministic sample: a template passage spans many n-grams, so the sample still covers its
/// words, with a fraction of the keys to sort). Calls `f(first word index, key)`.
fn sampled_grams(
    line: &str,
    source: u32,
    word_hashes: &mut Vec<u64>,
    mut f: impl FnMut(usize, u64),
) {
    word_hashes.clear();
    word_hashes.extend(
        line.split(' ')
            .map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes())),
    );
    let mut bytes = [0u8; 8 * TEMPLATE_WORDS];
    for (j, g) in word_hashes.windows(TEMPLATE_WORDS).enumerate() {
        for (k, h) in g.iter().enumerate() {
            bytes[k * 8..k * 8 + 8].copy_from_slice(&h.to_le_bytes());
        }
        let key = xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, source as u64);
        if key % TEMPLATE_SAMPLE == 0 {
            f(j, key);
        }
    }
}

/// One n-gram in this many is counted (a deterministic sample by key).
pub const TEMPLATE_SAMPLE: u64 = 2;

impl SourceTemplates {
    /// Finds the template n-grams of the unmasked lines of the active documents.
    ///
    /// The sampled keys of every document are counted through an external sort holding at most
    /// `key_bytes` in memory (past it, sorted runs go to scratch files and are merged).
    pub fn find<D: Docs + ?Sized>(
        norm: &D,
        active: &[bool],
        mask: Option<&LineMask>,
        source: &[u32],
        min_docs: u32,
        key_bytes: u64,
    ) -> Result<Self> {
        // Each key travels with its document's source, so that the sources holding templates are
        // known at the end; keys are counted whatever the source, as before.
        let mut runs: Runs<(u64, u32)> = Runs::new(key_bytes);
        norm.each_chunk(&mut |first, docs| {
            let keys: Vec<(u64, u32)> = docs
                .par_iter()
                .enumerate()
                .flat_map_iter(|(d, doc)| {
                    let d = first + d;
                    let mut v = Vec::new();
                    let mut hashes = Vec::new();
                    if active[d] && source[d] != u32::MAX {
                        for i in 0..doc.lines() {
                            if mask.is_some_and(|m| m.is_flagged(d, i)) {
                                continue;
                            }
                            sampled_grams(doc.line(i), source[d], &mut hashes, |_, k| {
                                v.push((k, source[d]))
                            });
                        }
                        v.sort_unstable();
                        v.dedup();
                    }
                    v
                })
                .collect();
            runs.extend_vec(keys)
        })?;
        let spilled_runs = runs.spilled_runs() as u64;
        let sources = source
            .iter()
            .filter(|&&s| s != u32::MAX)
            .max()
            .map_or(0, |&m| m as usize + 1);
        let mut has_templates = vec![false; sources];
        let mut templates = Vec::new();
        // The documents (and their sources) of the key being counted.
        let mut group: Vec<u32> = Vec::new();
        let mut current: Option<u64> = None;
        let mut close = |key: u64, group: &mut Vec<u32>| {
            if group.len() as u32 >= min_docs {
                templates.push(key);
                for &s in group.iter() {
                    has_templates[s as usize] = true;
                }
            }
            group.clear();
        };
        for item in runs.finish()? {
            let (k, s) = item?;
            if current.is_some_and(|c| c != k) {
                close(current.expect("checked"), &mut group);
            }
            current = Some(k);
            group.push(s);
        }
        if let Some(key) = current {
            close(key, &mut group);
        }
        Ok(SourceTemplates {
            keys: templates,
            source: source.to_vec(),
            has_templates,
            spilled_runs,
        })
    }

    /// Number of template n-grams (over all sources).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Appends the words of `line` (a line of document `d`) that no template n-gram covers,
    /// separated by spaces, to `out`. Returns how many words were left out.
    pub fn push_untemplated(&self, d: usize, line: &str, out: &mut String) -> usize {
        let src = self.source[d];
        if src == u32::MAX
            || !self
                .has_templates
                .get(src as usize)
                .copied()
                .unwrap_or(false)
        {
            if !line.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
            return 0;
        }
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Vec<u64>, Vec<bool>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        SCRATCH.with(|scratch| {
            let (hashes, covered) = &mut *scratch.borrow_mut();
            covered.clear();
            covered.resize(line.split(' ').count(), false);
            sampled_grams(line, src, hashes, |j, key| {
                if self.keys.binary_search(&key).is_ok() {
                    covered[j..j + TEMPLATE_WORDS].fill(true);
                }
            });
            for (w, &c) in line.split(' ').zip(covered.iter()) {
                if !c {
                    if !out.is_empty() {
                        out.push(' ');
                    }
                    out.push_str(w);
                }
            }
            covered.iter().filter(|&&c| c).count()
        })
    }
}

/// Lines without a letter are flagged only among this many non-empty lines at either edge.
pub const LETTERLESS_EDGE: usize = 5;

/// Where a line stands in its documents, mostly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    Head,
    Middle,
    Tail,
}

/// One flagged line (all lines sharing its key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// The normalized text of the first occurrence.
    pub sample: String,
    pub documents: u32,
    pub sources: u32,
    pub stories: u32,
    pub position: Position,
    /// Share of occurrences at `position`.
    pub position_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_date: Option<String>,
    pub reasons: Vec<String>,
    #[serde(skip)]
    pub key: u64,
}

/// Why nothing (or something) was flagged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Too few documents or stories for line statistics: nothing flagged.
    TooSmall,
    Disabled,
}

/// What the line statistics read of every line, kept in memory apart from the texts (8 bytes and
/// a bit a line, 8 bytes a document), so that detecting and refining boilerplate does not read
/// spilled texts back: each line's [`NormDoc::line_keys`] entry and whether it has a letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    offsets: Vec<u64>,
    keys: Vec<u64>,
    letters: BitVec,
}

impl Default for LineFacts {
    fn default() -> Self {
        LineFacts {
            offsets: vec![0],
            keys: Vec::new(),
            letters: BitVec::new(),
        }
    }
}

impl LineFacts {
    /// Adds documents at the end.
    pub fn extend(&mut self, docs: &[NormDoc]) {
        let letters: Vec<Vec<bool>> = docs.par_iter().map(LineFacts::letters).collect();
        for (doc, l) in docs.iter().zip(letters) {
            self.push(doc, &l);
        }
    }

    /// Whether each line of `doc` has a letter.
    pub fn letters(doc: &NormDoc) -> Vec<bool> {
        (0..doc.lines())
            .map(|i| doc.line(i).chars().any(char::is_alphabetic))
            .collect()
    }

    /// Adds one document at the end, with [`LineFacts::letters`] of it.
    pub fn push(&mut self, doc: &NormDoc, letters: &[bool]) {
        self.keys.extend_from_slice(&doc.line_keys);
        self.letters.extend(letters.iter().copied());
        self.offsets.push(self.keys.len() as u64);
    }

    /// The facts of every document of `norm`.
    pub fn of<D: Docs + ?Sized>(norm: &D) -> Result<Self> {
        let mut f = LineFacts::default();
        norm.each_chunk(&mut |_, docs| {
            f.extend(docs);
            Ok(())
        })?;
        Ok(f)
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Line keys of document `d`, and whether each line has a letter.
    pub fn doc(&self, d: usize) -> (&[u64], &BitSlice) {
        let (s, e) = (self.offsets[d] as usize, self.offsets[d + 1] as usize);
        (&self.keys[s..e], &self.letters[s..e])
    }

    fn line_counts(&self) -> impl Iterator<Item = usize> + '_ {
        self.offsets.windows(2).map(|w| (w[1] - w[0]) as usize)
    }
}

/// Flagged lines of every document, as one bit per line of the corpus.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineMask {
    offsets: Vec<usize>,
    bits: BitVec,
}

impl LineMask {
    /// An all-clear mask for documents with these line counts.
    pub fn new(line_counts: impl Iterator<Item = usize>) -> Self {
        let mut offsets = vec![0];
        for n in line_counts {
            offsets.push(offsets.last().unwrap() + n);
        }
        let bits = bitvec![0; *offsets.last().unwrap()];
        LineMask { offsets, bits }
    }

    pub fn is_flagged(&self, doc: usize, line: usize) -> bool {
        self.bits[self.offsets[doc] + line]
    }

    pub fn set(&mut self, doc: usize, line: usize) {
        let i = self.offsets[doc] + line;
        self.bits.set(i, true);
    }

    /// The flagged line indexes of one document.
    pub fn flagged(&self, doc: usize) -> Vec<u32> {
        let s = &self.bits[self.offsets[doc]..self.offsets[doc + 1]];
        s.iter_ones().map(|i| i as u32).collect()
    }

    pub fn any(&self, doc: usize) -> bool {
        self.bits[self.offsets[doc]..self.offsets[doc + 1]].any()
    }

    pub fn count(&self) -> usize {
        self.bits.count_ones()
    }
}

/// What the stage found.
#[derive(Clone, Debug, PartialEq)]
pub struct Boilerplate {
    pub status: Status,
    pub templates: Vec<Template>,
    pub mask: LineMask,
}

impl Boilerplate {
    pub fn none<D: Docs + ?Sized>(norm: &D, status: Status) -> Self {
        Boilerplate {
            status,
            templates: Vec::new(),
            mask: LineMask::new(norm.lines_per_doc().into_iter().map(|n| n as usize)),
        }
    }
}

/// Per-document facts the statistics need.
pub struct DocFacts<'a> {
    /// Source of each document, as a small integer (`u32::MAX` for none).
    pub source: &'a [u32],
    /// Story label of each document (documents of one first-pass cluster share it).
    pub story: &'a [u32],
    /// Parsed date of each document.
    pub date: &'a [Option<i64>],
}

/// Head: among the first `edge` non-empty lines and in the first half; tail: likewise at the end.
fn position_of(rank: usize, nonempty: usize, edge: usize) -> Position {
    let head = edge.min(nonempty / 2);
    let tail = edge.min(nonempty - nonempty / 2);
    if rank < head {
        Position::Head
    } else if rank + tail >= nonempty {
        Position::Tail
    } else {
        Position::Middle
    }
}

/// Finds the furniture of a corpus.
pub fn detect<D: Docs + ?Sized>(
    norm: &D,
    facts: &DocFacts,
    o: &BoilerplateOptions,
) -> Result<Boilerplate> {
    detect_among(&LineFacts::of(norm)?, norm, facts, o, None)
}

/// [`detect`] from line facts gathered beforehand; `norm` is read only for each template's
/// sample line.
pub fn detect_with<D: Docs + ?Sized>(
    lines: &LineFacts,
    norm: &D,
    facts: &DocFacts,
    o: &BoilerplateOptions,
) -> Result<Boilerplate> {
    detect_among(lines, norm, facts, o, None)
}

/// Decides again with better story labels (the final clusters), among the lines flagged before:
/// a line flagged because a story's copies were split in the first pass, and that turns out to
/// recur within one story, is unflagged. Never flags a line `prev` did not flag.
pub fn refine<D: Docs + ?Sized>(
    prev: &Boilerplate,
    norm: &D,
    facts: &DocFacts,
    o: &BoilerplateOptions,
) -> Result<Boilerplate> {
    if prev.status != Status::Ok {
        return Ok(prev.clone());
    }
    refine_with(prev, &LineFacts::of(norm)?, norm, facts, o)
}

/// [`refine`] from line facts gathered beforehand.
pub fn refine_with<D: Docs + ?Sized>(
    prev: &Boilerplate,
    lines: &LineFacts,
    norm: &D,
    facts: &DocFacts,
    o: &BoilerplateOptions,
) -> Result<Boilerplate> {
    if prev.status != Status::Ok {
        return Ok(prev.clone());
    }
    let keys: HashSet<u64> = prev.templates.iter().map(|t| t.key).collect();
    detect_among(lines, norm, facts, o, Some(&keys))
}

fn detect_among<D: Docs + ?Sized>(
    lines: &LineFacts,
    norm: &D,
    facts: &DocFacts,
    o: &BoilerplateOptions,
    only: Option<&HashSet<u64>>,
) -> Result<Boilerplate> {
    let mut stories: Vec<u32> = facts.story.to_vec();
    stories.sort_unstable();
    stories.dedup();
    if stories.len() < 2 * o.min_stories.max(1) as usize {
        return Ok(Boilerplate::none(norm, Status::TooSmall));
    }
    // (key, doc, line, position) of every non-empty line.
    // (key, doc, line, position, maskable) of every non-empty line. A line without a letter is
    // furniture near the edges of a document (a dateline, a view counter) but content in its body
    // (a list of numbers, a table): it is masked only within LETTERLESS_EDGE lines of an edge.
    let mut occ: Vec<(u64, u32, u32, Position, bool)> = (0..lines.len())
        .into_par_iter()
        .flat_map_iter(|d| {
            let (keys, letters) = lines.doc(d);
            let nonempty = keys.iter().filter(|&&k| k != 0).count();
            let mut rank = 0;
            let mut v = Vec::new();
            for (i, &k) in keys.iter().enumerate() {
                if k == 0 {
                    continue;
                }
                let position = position_of(rank, nonempty, o.edge_lines);
                let in_body = rank >= LETTERLESS_EDGE && rank + LETTERLESS_EDGE < nonempty;
                rank += 1;
                if only.is_none_or(|keys| keys.contains(&k)) {
                    let maskable = !in_body || letters[i];
                    v.push((k, d as u32, i as u32, position, maskable));
                }
            }
            v
        })
        .collect();
    occ.par_sort_unstable_by_key(|x| (x.0, x.1, x.2));

    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut s = 0;
        while s < occ.len() {
            let mut e = s + 1;
            while e < occ.len() && occ[e].0 == occ[s].0 {
                e += 1;
            }
            if e - s >= o.min_docs as usize {
                runs.push((s, e));
            }
            s = e;
        }
        runs
    };
    let flagged: Vec<(usize, usize, Template)> = runs
        .par_iter()
        .filter_map(|&(s, e)| {
            let run = &occ[s..e];
            if !run.iter().any(|x| x.4) {
                return None; // numbers only in document bodies: nothing to flag
            }
            let mut docs: Vec<u32> = run.iter().map(|x| x.1).collect();
            docs.dedup();
            if docs.len() < o.min_docs as usize {
                return None;
            }
            let mut st: Vec<u32> = docs.iter().map(|&d| facts.story[d as usize]).collect();
            st.sort_unstable();
            st.dedup();
            let ratio = st.len() as f64 / docs.len() as f64;
            if st.len() < o.min_stories as usize || ratio < o.min_story_ratio {
                return None;
            }
            let mut src: Vec<u32> = docs.iter().map(|&d| facts.source[d as usize]).collect();
            src.sort_unstable();
            src.dedup();
            let count = |p| run.iter().filter(|x| x.3 == p).count();
            let (head, mid, tail) = (
                count(Position::Head),
                count(Position::Middle),
                count(Position::Tail),
            );
            let (position, n) = if head >= tail && head >= mid {
                (Position::Head, head)
            } else if tail >= mid {
                (Position::Tail, tail)
            } else {
                (Position::Middle, mid)
            };
            let dates: Vec<i64> = docs
                .iter()
                .filter_map(|&d| facts.date[d as usize])
                .collect();
            let first = run[0];
            let reasons = vec![
                format!(
                    "recurs in {} documents of {} different stories",
                    docs.len(),
                    st.len()
                ),
                format!(
                    "{:.0}% of its documents belong to different stories (threshold {:.0}%)",
                    ratio * 100.0,
                    o.min_story_ratio * 100.0
                ),
            ];
            Some((
                s,
                e,
                Template {
                    sample: String::new(), // read below: the documents may be on disk
                    documents: docs.len() as u32,
                    sources: src.len() as u32,
                    stories: st.len() as u32,
                    position,
                    position_share: n as f64 / run.len() as f64,
                    first_date: dates.iter().min().map(|&t| crate::date::iso_day(t)),
                    last_date: dates.iter().max().map(|&t| crate::date::iso_day(t)),
                    reasons,
                    key: first.0,
                },
            ))
        })
        .collect();
    let mut mask = LineMask::new(lines.line_counts());
    let mut templates = Vec::with_capacity(flagged.len());
    for (s, e, mut t) in flagged {
        let first = occ[s];
        norm.visit_doc(first.1 as usize, &mut |doc| {
            t.sample = doc.line(first.2 as usize).to_string()
        })?;
        for x in occ[s..e].iter().filter(|x| x.4) {
            mask.set(x.1 as usize, x.2 as usize);
        }
        templates.push(t);
    }
    templates.sort_by(|a, b| {
        b.documents
            .cmp(&a.documents)
            .then_with(|| a.sample.cmp(&b.sample))
    });
    Ok(Boilerplate {
        status: Status::Ok,
        templates,
        mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{normalize_doc, NormalizeOptions};

    fn run(texts: &[&str], story: &[u32]) -> Boilerplate {
        let norm: Vec<NormDoc> = texts
            .iter()
            .map(|t| normalize_doc(t, &NormalizeOptions::default()))
            .collect();
        let source = vec![0; texts.len()];
        let date = vec![None; texts.len()];
        detect(
            &norm,
            &DocFacts {
                source: &source,
                story,
                date: &date,
            },
            &BoilerplateOptions {
                min_docs: 3,
                min_stories: 3,
                ..BoilerplateOptions::default()
            },
        )
        .expect("in memory")
    }

    #[test]
    fn footer_across_stories_is_flagged_story_paragraph_is_not() {
        let mut texts = Vec::new();
        let mut story = Vec::new();
        for i in 0..6 {
            let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"][i as usize];
            texts.push(format!("unrelated story about {words}\nالمصدر: وكالات"));
            story.push(i);
        }
        for _ in 0..5 {
            texts.push("the syndicated paragraph of one story\nsecond paragraph".to_string());
            story.push(100);
        }
        let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
        let b = run(&refs, &story);
        assert_eq!(b.status, Status::Ok);
        assert_eq!(b.templates.len(), 1);
        assert_eq!(b.templates[0].sample, "المصدر وكالات");
        assert_eq!(b.templates[0].documents, 6);
        assert_eq!(b.templates[0].position, Position::Tail);
        for d in 0..6 {
            assert_eq!(b.mask.flagged(d), vec![1]);
        }
        for d in 6..11 {
            assert!(!b.mask.any(d));
        }
    }

    #[test]
    fn dated_variants_share_a_template() {
        let texts: Vec<String> = (0..8)
            .map(|i| {
                format!(
                    "الرياض {} شوال 1436 هـ واس\nstory {} text",
                    i + 1,
                    "abcdefgh".as_bytes()[i] as char
                )
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
        let story: Vec<u32> = (0..8).collect();
        let b = run(&refs, &story);
        assert_eq!(b.templates.len(), 1);
        assert_eq!(b.templates[0].documents, 8);
        assert_eq!(b.templates[0].position, Position::Head);
    }

    #[test]
    fn numbers_are_flagged_at_the_edges_not_in_the_body() {
        // Every document opens with a bare date line; one document is a list of numbers.
        let mut texts: Vec<String> = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{}/{}/2015\nstory about {w}\nmore on {w}", i + 1, i + 3))
            .collect();
        let list: Vec<String> = (0..20).map(|i| format!("{}", 1000 + i * 7)).collect();
        texts.push(format!(
            "1/1/2015\na list\nof ids\nbelow\nhere\nnow\n{}",
            list.join("\n")
        ));
        let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
        let story: Vec<u32> = (0..7).collect();
        let b = run(&refs, &story);
        for d in 0..6 {
            assert_eq!(b.mask.flagged(d), vec![0], "the dateline of {d}");
        }
        let flagged = b.mask.flagged(6);
        assert!(flagged.contains(&0), "the dateline of the list");
        // The numbers deep in the body stay; only those within 5 lines of the end may go.
        assert!(
            !flagged.contains(&10) && !flagged.contains(&15),
            "{flagged:?}"
        );
    }

    #[test]
    fn template_text_of_one_source_is_found_syndicated_text_is_not() {
        let o = NormalizeOptions::default();
        let template =
            "the king sent a cable of congratulation on the national day wishing health \
            and happiness to the government and the people and lasting progress and prosperity \
            while praising the close relations between the two countries and their peoples";
        let mut texts = Vec::new();
        let mut source = Vec::new();
        // One paper prints the template for three countries.
        for country in ["colombia", "maldives", "niger"] {
            texts.push(format!("to the president of {country} {template}"));
            source.push(0);
        }
        // Three other papers print the same syndicated story once each.
        let story = "a long syndicated story about the harbour opening in the north of the country";
        for s in 1..4 {
            texts.push(story.to_string());
            source.push(s);
        }
        let norm: Vec<NormDoc> = texts.iter().map(|t| normalize_doc(t, &o)).collect();
        let active = vec![true; norm.len()];
        let t = SourceTemplates::find(&norm, &active, None, &source, 3, u64::MAX).unwrap();
        // Counting through sorted runs on disk finds the same n-grams.
        let spilled = SourceTemplates::find(&norm, &active, None, &source, 3, 64).unwrap();
        assert_eq!(spilled.keys, t.keys);
        assert!(!t.is_empty());
        let mut out = String::new();
        let dropped = t.push_untemplated(0, norm[0].line(0), &mut out);
        // Everything but the country is printed by that paper three times: the name stays, and
        // (n-grams are sampled) most of the template goes.
        assert!(out.contains("colombia"), "the names stay: {out}");
        let words = template.split_whitespace().count();
        assert!(
            dropped * 10 >= words * 8,
            "{dropped} of {words} template words dropped"
        );
        let mut out = String::new();
        assert_eq!(t.push_untemplated(3, norm[3].line(0), &mut out), 0);
        assert_eq!(out, norm[3].line(0), "syndicated text is kept whole");
    }

    #[test]
    fn tiny_corpus_flags_nothing_and_says_so() {
        let b = run(&["a\nfooter", "b\nfooter"], &[0, 1]);
        assert_eq!(b.status, Status::TooSmall);
        assert!(b.templates.is_empty());
        assert_eq!(b.mask.count(), 0);
    }
}
