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
//! Each line also carries its form (see [`crate::normalize::LineForm`]), what its raw text shows
//! that normalizing loses: separators are counted (by their symbols) and masked anywhere,
//! addresses are furniture in a few different stories wherever they stand, and labels (a line
//! ending with a colon, an item number) go with the line they head.
//!
//! Flagged lines are masked out of the shingles of the final signatures, reported as templates
//! with their counts, written as per-document annotations and optionally stripped by `dedup`.

use std::collections::HashSet;

use bitvec::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::normalize::{LineForm, NormDoc, FORM_ADDRESS, FORM_LABEL, FORM_SEPARATOR};
use crate::spill::{self, Docs, Runs};

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
    /// A word n-gram (8 words) in at least this many documents of one source is template text,
    /// left out of signatures; 0 turns this off.
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

/// A line of one source standing at the head or tail of at least this many of its documents,
/// each of a different story, is furniture however few they are (a byline, a dateline, a
/// columnist's signature); elsewhere a line needs `min_docs` documents.
pub const RARE_MIN_DOCS: u32 = 3;

/// A recurring line is a site's furniture when at least this share of its documents are of one
/// source ...
pub const DOMINANT_SOURCE_SHARE: f64 = 0.8;
/// ... or when it stands at a head or tail of its documents in at least [`DOMINANT_SOURCE_SHARE`]
/// of its occurrences and either in at least this many sources (a footer that syndication
/// carries to many sites) or as a sentence (a disclaimer several sites print). A short line that
/// a few sources print, or any line several sources print in the body, is the language's, not a
/// site's: a greeting opening letters, a heading word, a formula of official statements.
pub const SHARED_FURNITURE_SOURCES: usize = 5;

/// One line of one document in the line statistics: its key, document, line index, position,
/// whether it may be masked, whether it has a letter, and its form.
pub(crate) type Occurrence = (u64, u32, u32, Position, bool, bool, LineForm);

/// Whether the occurrences `run` of a line with letters (in `docs`, of `sources` distinct
/// sources, `edges` of them at a head or tail; `sentence`: the line has
/// [`SENTENCE_WORDS`] words or more) look like a site's furniture rather than a common phrase
/// (see [`DOMINANT_SOURCE_SHARE`]). Lines without a letter (datelines, counters) are the
/// language of no one and are left to the other rules.
fn site_furniture(
    run: &[Occurrence],
    docs: &[u32],
    source: &[u32],
    sources: usize,
    edges: usize,
    sentence: bool,
) -> bool {
    let mut by_source: Vec<u32> = docs.iter().map(|&d| source[d as usize]).collect();
    by_source.sort_unstable();
    let dominant = by_source
        .chunk_by(|a, b| a == b)
        .filter(|s| s[0] != u32::MAX)
        .map(<[u32]>::len)
        .max()
        .unwrap_or(0);
    dominant as f64 >= DOMINANT_SOURCE_SHARE * docs.len() as f64
        || ((sources >= SHARED_FURNITURE_SOURCES || sentence)
            && edges as f64 >= DOMINANT_SOURCE_SHARE * run.len() as f64)
}

/// Words in a template n-gram (see [`SourceTemplates`]).
pub const TEMPLATE_WORDS: usize = 8;

/// Template text of a source: word [`TEMPLATE_WORDS`]-grams that stand in at least `min_docs`
/// documents *of one source*. A paper prints one copy of a story, so a passage it prints in
/// three different documents is its template: the fixed sentences of a series of congratulation
/// cables, bulletins or market reports, whose items differ only in names and figures. These words
/// are left out of the signatures (like furniture lines) of every document that holds them,
/// whatever its source: a series an agency issues is reprinted by papers that print only some of
/// its items, and the copies of one item must lose the same words to stay copies. Items of one
/// series then meet only when their names and figures do, while syndicated stories (one copy per
/// source) keep all their text.
#[derive(Clone, Debug, Default)]
pub struct SourceTemplates {
    /// Hashes of (source, n-gram) that are template text, sorted.
    keys: Vec<u64>,
    /// A bit filter of `keys` (see [`prefilter`]), tested before they are searched.
    filter: Vec<u64>,
    /// The filter's bit of a key is `key >> filter_shift`.
    filter_shift: u32,
    /// The documents holding a template n-gram, sorted: the only ones whose text
    /// [`SourceTemplates::push_untemplated`] changes (the lines of the others are not hashed
    /// into n-grams again when sketched).
    docs: Vec<u32>,
    /// Pairs `(a, b)`, `a < b`, sorted, of documents that share a passage (see
    /// [`PASSAGE_SAMPLE`]).
    pub shared_passages: Vec<(u32, u32)>,
    /// Times the keys' buffer was written to a scratch file while counting.
    pub spilled_runs: u64,
}

/// Hashes the words of `line` (split at every `' '`, as `str::split(' ')` does: empty words
/// included) into `bytes`: each word's xxh3 hash as 8 little-endian bytes, in order (the buffer is
/// cleared first). Calls `word(start)` with each word's byte offset. The bytes of the
/// [`TEMPLATE_WORDS`] hashes of the n-gram starting at word `j` are then `bytes[8 * j..][..64]`,
/// hashed in place by [`gram_key`].
#[inline]
fn hash_words(line: &str, bytes: &mut Vec<u8>, mut word: impl FnMut(usize)) {
    let line = line.as_bytes();
    bytes.clear();
    // At most one word per byte, plus one.
    bytes.reserve(8 * (line.len() + 1));
    let mut start = 0;
    let mut end_word = |end: usize, start: &mut usize| {
        word(*start);
        let h = xxhash_rust::xxh3::xxh3_64(&line[*start..end]);
        bytes.extend_from_slice(&h.to_le_bytes());
        *start = end + 1;
    };
    // Spaces are found 8 bytes at a time (words are short: a call to memchr per word costs more
    // than this): `zero` has the top bit of each byte of `x` that is 0, exactly (no carries
    // cross bytes).
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let chunks = line.chunks_exact(8);
    let tail = chunks.remainder();
    for (c, chunk) in chunks.enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ 0x2020_2020_2020_2020;
        let mut zero = !(((x & LOW7) + LOW7) | x | LOW7);
        while zero != 0 {
            end_word(c * 8 + zero.trailing_zeros() as usize / 8, &mut start);
            zero &= zero - 1;
        }
    }
    let base = line.len() - tail.len();
    for (i, &b) in tail.iter().enumerate() {
        if b == b' ' {
            end_word(base + i, &mut start);
        }
    }
    end_word(line.len(), &mut start);
}

/// Number of word n-grams of a line whose word hashes [`hash_words`] wrote to `bytes`.
#[inline]
fn grams(bytes: &[u8]) -> usize {
    (bytes.len() / 8).saturating_sub(TEMPLATE_WORDS - 1)
}

/// Key of the word n-gram starting at word `j`: the hash of its words' hashes (as written by
/// [`hash_words`]).
#[inline]
fn gram_key(bytes: &[u8], j: usize) -> u64 {
    let window: &[u8; 8 * TEMPLATE_WORDS] = bytes[8 * j..8 * j + 8 * TEMPLATE_WORDS]
        .try_into()
        .expect("a window of n-gram hashes");
    xxhash_rust::xxh3::xxh3_64(window)
}

/// Appends the keys of the sampled word n-grams of a line to `keys`: each word hashed once, each
/// n-gram keyed by the hash of its words' hashes; only keys divisible by
/// [`TEMPLATE_SAMPLE`] are kept (a deterministic sample: a template passage spans many n-grams, so
/// the sample still covers its words, with a fraction of the keys to sort). In order of the
/// n-grams' first words.
#[inline]
fn sampled_keys(line: &str, bytes: &mut Vec<u8>, keys: &mut Vec<u64>) {
    hash_words(line, bytes, |_| {});
    let grams = grams(bytes);
    // Every key is written and the length advanced only past kept ones: whether a key is kept is
    // a coin toss, and a branch on it would be mispredicted half the time.
    let start = keys.len();
    keys.resize(start + grams, 0);
    let out = &mut keys[start..];
    let mut n = 0;
    for j in 0..grams {
        let key = gram_key(bytes, j);
        out[n] = key;
        n += (key % TEMPLATE_SAMPLE == 0) as usize;
    }
    keys.truncate(start + n);
}

/// One n-gram in this many is counted (a deterministic sample by key).
pub const TEMPLATE_SAMPLE: u64 = 2;

/// One word n-gram in this many (by key, among the counted ones) marks a shared passage: two
/// documents that hold [`PASSAGE_MIN_SHARED`] or more of the same such n-grams share a passage
/// (an 80-word excerpt holds about nine of its 73 n-grams' marks; a 40-word item, or a lightly
/// edited one, may keep only one). These pairs are verified
/// beside the LSH candidates: an excerpt of a wire story printed inside a roundup or a long
/// article has a Jaccard similarity with the whole far too low for banding to find it, and the
/// keys are already counted here, grouped by partition.
pub const PASSAGE_SAMPLE: u64 = 8;
/// See [`PASSAGE_SAMPLE`]. One shared n-gram may be a quote or a formula, but the pair is only
/// a candidate: verification decides, and short items that keep one mark are found.
pub const PASSAGE_MIN_SHARED: usize = 1;
/// An n-gram held by more documents than this marks no pairs: it is a formula, or a passage of a
/// story printed so widely that its pairs would be many. A wire story a few dozen papers print
/// still marks its pairs, among them the roundups that print it among other stories, which
/// banding does not find.
pub const PASSAGE_MAX_DOCS: usize = 64;

/// The pairs of documents holding one marked n-gram (see [`PASSAGE_SAMPLE`]), one entry per
/// n-gram they share.
fn passage_pairs(keys: &[DocKey]) -> Vec<(u32, u32)> {
    let mut marked: Vec<(u64, u32)> = keys
        .iter()
        .filter(|k| k.key() % PASSAGE_SAMPLE == 0)
        .map(|k| (k.key(), k.doc()))
        .collect();
    marked.sort_unstable();
    marked.dedup();
    let mut out = Vec::new();
    for g in marked.chunk_by(|a, b| a.0 == b.0) {
        if g.len() < 2 || g.len() > PASSAGE_MAX_DOCS {
            continue;
        }
        for (i, &(_, a)) in g.iter().enumerate() {
            out.extend(g[i + 1..].iter().map(|&(_, b)| (a, b)));
        }
    }
    out
}

/// Bits of the template-key prefilter per template key (one hash: about 1 in 16 of the keys that
/// are not templates pass it and are looked up).
const FILTER_BITS_PER_KEY: usize = 16;

/// A sampled source-template key with the document it came from, ordered (and equal) by key
/// alone: counting needs the keys grouped, not the documents in order, and comparing one integer
/// sorts faster than comparing a pair. Packed to 12 bytes (4-byte alignment) instead of 16: the
/// keys of a corpus are its largest temporary (about 150 a document), and a quarter less of them
/// is a quarter fewer fresh pages to fault in and bytes to move while sorting.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, packed(4))]
pub struct DocKey {
    key: u64,
    doc: u32,
}

impl DocKey {
    pub fn new(key: u64, doc: u32) -> Self {
        DocKey { key, doc }
    }

    #[inline]
    pub fn key(&self) -> u64 {
        self.key
    }

    #[inline]
    pub fn doc(&self) -> u32 {
        self.doc
    }
}

impl PartialEq for DocKey {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for DocKey {}

impl PartialOrd for DocKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DocKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl spill::Item for DocKey {
    const SIZE: usize = 12;
    fn put(&self, out: &mut Vec<u8>) {
        spill::Item::put(&(self.key(), self.doc()), out)
    }
    fn get(b: &[u8]) -> Self {
        let (key, doc) = <(u64, u32) as spill::Item>::get(b);
        DocKey { key, doc }
    }
}

/// Appends the sampled keys of the unmasked lines of document `d`, with the document, to `out`.
/// A key may come twice (a passage the document repeats): the count below counts distinct
/// documents.
fn doc_keys(
    doc: &NormDoc,
    d: usize,
    mask: Option<&LineMask>,
    bytes: &mut Vec<u8>,
    keys: &mut Vec<u64>,
    out: &mut Vec<DocKey>,
) {
    keys.clear();
    for i in 0..doc.lines() {
        if mask.is_some_and(|m| m.is_flagged(d, i)) {
            continue;
        }
        sampled_keys(doc.line(i), bytes, keys);
    }
    out.extend(keys.iter().map(|&key| DocKey::new(key, d as u32)));
}

/// The template keys of one partition of the keys (a run of equal keys is one n-gram: a template
/// when at least `min_docs` distinct documents of one source hold it), and the documents holding
/// them, of any source (sorted, distinct). Only the keys that may come `min_docs` times are
/// sorted: most n-grams stand once.
fn count_templates(keys: &mut [DocKey], min_docs: u32, source: &[u32]) -> (Vec<u64>, Vec<u32>) {
    let keys = spill::sort_repeated(keys, DocKey::key, min_docs);
    let mut templates = Vec::new();
    let mut holders = Vec::new();
    let mut docs: Vec<(u32, u32)> = Vec::new();
    for group in keys.chunk_by(|a, b| a.key() == b.key()) {
        // Most n-grams stand once: too few entries to reach `min_docs` is decided without
        // looking at the documents.
        if (group.len() as u32) < min_docs {
            continue;
        }
        docs.clear();
        docs.extend(group.iter().map(|k| (source[k.doc() as usize], k.doc())));
        docs.sort_unstable();
        docs.dedup();
        let in_one_source = docs
            .chunk_by(|a, b| a.0 == b.0)
            .any(|s| s[0].0 != u32::MAX && s.len() as u32 >= min_docs);
        if in_one_source {
            templates.push(group[0].key());
            holders.extend(docs.iter().map(|&(_, d)| d));
        }
    }
    holders.sort_unstable();
    holders.dedup();
    (templates, holders)
}

impl SourceTemplates {
    /// Finds the template n-grams of the unmasked lines of the active documents.
    ///
    /// The sampled keys of every document are counted partition by partition, holding at most
    /// `key_bytes` of them in memory (past it, they go to a scratch file by partition and each
    /// partition is read back to be counted).
    pub fn find<D: Docs + ?Sized>(
        norm: &D,
        active: &[bool],
        mask: Option<&LineMask>,
        source: &[u32],
        min_docs: u32,
        key_bytes: u64,
    ) -> Result<Self> {
        Self::find_with(
            norm,
            active,
            mask,
            source,
            min_docs,
            key_bytes,
            &mut |_, _| {},
        )
    }

    /// [`SourceTemplates::find`], calling `also(first, docs)` with each chunk of documents once
    /// its keys are taken: another stage that reads every text (the final sketch) shares the
    /// pass, and a spilled corpus is read back once instead of twice.
    pub fn find_with<D: Docs + ?Sized>(
        norm: &D,
        active: &[bool],
        mask: Option<&LineMask>,
        source: &[u32],
        min_docs: u32,
        key_bytes: u64,
        also: &mut dyn FnMut(usize, &[NormDoc]),
    ) -> Result<Self> {
        // Each key travels with its document, so that the sources holding templates are known
        // at the end; keys are counted whatever the source.
        let mut runs: Runs<DocKey> = Runs::new(key_bytes, |k| (k.key() >> 56) as u8);
        norm.each_chunk(&mut |first, docs| {
            // Each piece of the chunk appends its documents' keys to one vector (no vector per
            // document); with the whole corpus in one chunk, the pieces go to the sort as they
            // are.
            let parts: Vec<Vec<DocKey>> = docs
                .par_iter()
                .enumerate()
                .with_min_len(16)
                .fold(
                    || (Vec::new(), Vec::new(), Vec::new()),
                    |(mut out, mut bytes, mut keys), (d, doc)| {
                        let d = first + d;
                        if active[d] {
                            doc_keys(doc, d, mask, &mut bytes, &mut keys, &mut out);
                        }
                        (out, bytes, keys)
                    },
                )
                .map(|(out, _, _)| out)
                .filter(|out| !out.is_empty())
                .collect();
            also(first, docs);
            if docs.len() == norm.doc_count() {
                return runs.extend_parts(parts);
            }
            // A chunk of a spilled store: each piece is copied into the sort's buffer and freed
            // at once. (Pieces held from chunk to chunk, many small buffers freed together when
            // the keys spill, stay in the allocator's heap: a budget's worth more resident.
            // Joining the pieces into one vector first cost a copy of every key and fresh pages
            // for each chunk, on the calling thread with the pool idle: at 200k documents under
            // `--memory-limit 800M`, three alternating pairs of runs took this pass 4.75, 4.73
            // and 4.56 s with the join, 4.56, 4.35 and 4.66 s without.)
            for p in parts {
                runs.extend_vec(p)?;
            }
            Ok(())
        })?;
        let spilled_runs = runs.spilled_runs() as u64;
        let mut templates = Vec::new();
        let mut docs = Vec::new();
        // Partitions by the keys' top byte: a key's entries are in one partition, and the
        // partitions' templates come in key order.
        let counted = runs.partitions(|part| {
            // The passage pairs first: counting sorts the keys that may be templates in place.
            let pairs = passage_pairs(part);
            (count_templates(part, min_docs, source), pairs)
        })?;
        let mut pairs = Vec::new();
        for ((keys, part_docs), part_pairs) in counted {
            templates.extend_from_slice(&keys);
            docs.extend_from_slice(&part_docs);
            pairs.extend(part_pairs);
        }
        pairs.par_sort_unstable();
        let shared_passages = pairs
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() >= PASSAGE_MIN_SHARED)
            .map(|run| run[0])
            .collect();
        docs.sort_unstable();
        docs.dedup();
        let (filter, filter_shift) = prefilter(&templates);
        Ok(SourceTemplates {
            keys: templates,
            filter,
            filter_shift,
            docs,
            shared_passages,
            spilled_runs,
        })
    }

    /// The documents holding a template n-gram (sorted): the only ones whose text
    /// [`SourceTemplates::push_untemplated`] changes.
    pub fn documents(&self) -> &[u32] {
        &self.docs
    }

    /// Number of template n-grams (over all sources).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `key` is a template n-gram: the prefilter first, then the sorted keys.
    #[inline]
    fn is_template(&self, key: u64) -> bool {
        let bit = (key >> self.filter_shift) as usize;
        self.filter
            .get(bit / 64)
            .is_none_or(|w| (w >> (bit % 64)) & 1 == 1)
            && self.keys.binary_search(&key).is_ok()
    }

    /// Appends the words of `line` (a line of document `d`) that no template n-gram covers,
    /// separated by spaces, to `out`; a line with no such n-gram is appended as it is (as when
    /// there are no templates), so only the documents in [`SourceTemplates::documents`] change.
    /// Returns how many words were left out.
    pub fn push_untemplated(&self, d: usize, line: &str, out: &mut String) -> usize {
        let push_whole = |out: &mut String| {
            if !line.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
            0
        };
        if self.docs.binary_search(&(d as u32)).is_err() {
            return push_whole(out);
        }
        thread_local! {
            static SCRATCH: std::cell::RefCell<(Vec<u8>, Vec<u32>, Vec<u32>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
        }
        SCRATCH.with(|scratch| {
            let (bytes, starts, templates) = &mut *scratch.borrow_mut();
            starts.clear();
            hash_words(line, bytes, |s| starts.push(s as u32));
            let words = starts.len();
            templates.clear();
            for j in 0..grams(bytes) {
                let key = gram_key(bytes, j);
                if key % TEMPLATE_SAMPLE == 0 && self.is_template(key) {
                    templates.push(j as u32);
                }
            }
            if templates.is_empty() {
                return push_whole(out);
            }
            // Word `w` is covered when a template n-gram starts at one of the words
            // `w + 1 - TEMPLATE_WORDS..=w`; the template n-grams are in order of their first
            // words, so the words covered so far end at `covered_to`.
            let mut next = templates.iter().peekable();
            let mut covered_to = 0;
            let mut dropped = 0;
            for w in 0..words {
                if next.next_if(|&&j| j as usize == w).is_some() {
                    covered_to = w + TEMPLATE_WORDS;
                }
                if w < covered_to {
                    dropped += 1;
                    continue;
                }
                let start = starts[w] as usize;
                let end = starts.get(w + 1).map_or(line.len(), |&s| s as usize - 1);
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(&line[start..end]);
            }
            dropped
        })
    }
}

/// For a run over several processes (`crate::distributed`): the pieces of
/// [`SourceTemplates::find_with`] that run where the data is.
#[cfg(feature = "distributed")]
impl SourceTemplates {
    /// Appends the sampled keys of document `doc` (`d` in `mask`), tagged with `tag` (its index
    /// in the whole corpus), to `out`.
    pub(crate) fn doc_keys_tagged(
        doc: &NormDoc,
        d: usize,
        tag: u32,
        mask: Option<&LineMask>,
        out: &mut Vec<DocKey>,
    ) {
        let (mut bytes, mut keys) = (Vec::new(), Vec::new());
        let start = out.len();
        doc_keys(doc, d, mask, &mut bytes, &mut keys, out);
        for k in &mut out[start..] {
            *k = DocKey::new(k.key(), tag);
        }
    }

    /// The template keys and their holders (as `count_templates`), and the passage pairs (as
    /// `passage_pairs`) of keys that hold every entry of each of their keys.
    pub(crate) fn count_part(
        keys: &mut [DocKey],
        min_docs: u32,
        source: &[u32],
    ) -> (Vec<u64>, Vec<u32>, Vec<(u32, u32)>) {
        let pairs = passage_pairs(keys);
        let (templates, holders) = count_templates(keys, min_docs, source);
        (templates, holders, pairs)
    }

    /// Templates from their keys (sorted), the documents holding them (sorted) and the shared
    /// passages.
    pub(crate) fn from_parts(
        keys: Vec<u64>,
        docs: Vec<u32>,
        shared_passages: Vec<(u32, u32)>,
    ) -> Self {
        let (filter, filter_shift) = prefilter(&keys);
        SourceTemplates {
            keys,
            filter,
            filter_shift,
            docs,
            shared_passages,
            spilled_runs: 0,
        }
    }
}

/// The shared passages of `pairs` (one entry per marked n-gram two documents share, any
/// order): as [`SourceTemplates::find_with`] keeps them.
#[cfg(feature = "distributed")]
pub(crate) fn shared_passages(mut pairs: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    pairs.par_sort_unstable();
    pairs
        .chunk_by(|a, b| a == b)
        .filter(|run| run.len() >= PASSAGE_MIN_SHARED)
        .map(|run| run[0])
        .collect()
}

/// A one-hash bit filter of the template keys: key `k` sets bit `k >> shift` (its top bits; the
/// sampled keys are even). Empty when there are no keys.
fn prefilter(keys: &[u64]) -> (Vec<u64>, u32) {
    if keys.is_empty() {
        return (Vec::new(), 63);
    }
    let bits = (keys.len() * FILTER_BITS_PER_KEY)
        .next_power_of_two()
        .max(4096);
    let shift = 64 - bits.trailing_zeros();
    let mut filter = vec![0u64; bits / 64];
    for &k in keys {
        let bit = (k >> shift) as usize;
        filter[bit / 64] |= 1 << (bit % 64);
    }
    (filter, shift)
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
    /// `t` and the 16 hex digits of the line's key (its normalized text, digits masked): the same
    /// line gets the same id in every run, at any thread count, and on any corpus.
    pub id: String,
    /// The normalized text of the first flagged occurrence (documents in input order).
    pub sample: String,
    /// That occurrence as it stands in its document's raw text (`None` until
    /// [`Template::example`] is filled by reading the document again: the stage itself sees
    /// only normalized text).
    pub example: Option<Example>,
    pub documents: u32,
    pub sources: u32,
    pub stories: u32,
    pub position: Position,
    /// Share of occurrences at `position`.
    pub position_share: f64,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    pub reasons: Vec<String>,
    #[serde(skip)]
    pub key: u64,
    /// Document and line index of the first flagged occurrence.
    #[serde(skip)]
    pub first: (u32, u32),
}

/// A template's line as it stands in one document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The document's id.
    pub document: String,
    /// Index of the line in the document's text split on `\n`, from 0.
    pub line: u32,
    /// The line's raw text, without the white space at its ends.
    pub text: String,
}

/// A template's id: `t` and the 16 hex digits of its line key.
pub fn template_id(key: u64) -> String {
    format!("t{key:016x}")
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

/// What the line statistics read of every line, kept in memory apart from the texts (9 bytes and
/// two bits a line, 8 bytes a document), so that detecting and refining boilerplate, and finding
/// documents that share a paragraph, do not read spilled texts back: each line's
/// [`NormDoc::line_keys`] entry, whether it has a letter, whether it is a sentence, and its
/// [`NormDoc::line_forms`] entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    offsets: Vec<u64>,
    keys: Vec<u64>,
    letters: BitVec,
    sentences: BitVec,
    forms: Vec<LineForm>,
}

impl Default for LineFacts {
    fn default() -> Self {
        LineFacts {
            offsets: vec![0],
            keys: Vec::new(),
            letters: BitVec::new(),
            sentences: BitVec::new(),
            forms: Vec::new(),
        }
    }
}

/// A line of at least this many words is a sentence (see [`LineFacts::sentences`]).
pub const SENTENCE_WORDS: usize = 8;

impl LineFacts {
    /// Adds documents at the end.
    pub fn extend(&mut self, docs: &[NormDoc]) {
        let letters: Vec<Vec<bool>> = docs.par_iter().map(LineFacts::letters).collect();
        for (doc, l) in docs.iter().zip(letters) {
            self.push(doc, &l, &LineFacts::sentences(doc));
        }
    }

    /// Whether each line of `doc` is a sentence: [`SENTENCE_WORDS`] words or more, too long to
    /// recur in two documents by chance.
    pub fn sentences(doc: &NormDoc) -> Vec<bool> {
        // A normalized line is trimmed, its words one space apart: a sentence has
        // SENTENCE_WORDS - 1 spaces (counted up to there).
        (0..doc.lines())
            .map(|i| {
                memchr::memchr_iter(b' ', doc.line(i).as_bytes())
                    .take(SENTENCE_WORDS - 1)
                    .count()
                    == SENTENCE_WORDS - 1
            })
            .collect()
    }

    /// Whether each line of `doc` has a letter.
    pub fn letters(doc: &NormDoc) -> Vec<bool> {
        (0..doc.lines())
            .map(|i| doc.line(i).chars().any(char::is_alphabetic))
            .collect()
    }

    /// Adds one document at the end, with [`LineFacts::letters`] and [`LineFacts::sentences`]
    /// of it.
    pub fn push(&mut self, doc: &NormDoc, letters: &[bool], sentences: &[bool]) {
        self.keys.extend_from_slice(&doc.line_keys);
        self.letters.extend(letters.iter().copied());
        self.sentences.extend(sentences.iter().copied());
        self.forms.extend_from_slice(&doc.line_forms);
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

    /// Line keys of document `d` and whether each line is a sentence.
    pub fn doc_sentences(&self, d: usize) -> (&[u64], &BitSlice) {
        let (s, e) = (self.offsets[d] as usize, self.offsets[d + 1] as usize);
        (&self.keys[s..e], &self.sentences[s..e])
    }

    /// The [`LineForm`] of each line of document `d`.
    pub fn doc_forms(&self, d: usize) -> &[LineForm] {
        &self.forms[self.offsets[d] as usize..self.offsets[d + 1] as usize]
    }

    /// The key of the first line with text after line `i` of document `d` and whether it holds
    /// an address (`None`: there is none), for the label rule (see [`unmask_labels`]).
    pub(crate) fn next_text(&self, d: usize, i: usize) -> Option<(u64, bool)> {
        let (k, _) = self.doc(d);
        let forms = self.doc_forms(d);
        (i + 1..k.len())
            .find(|&j| k[j] != 0 && forms[j] & FORM_SEPARATOR == 0)
            .map(|j| (k[j], forms[j] & FORM_ADDRESS != 0))
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

    /// Number of documents.
    pub fn doc_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The position of line `line` of document `doc` among all lines.
    fn bit(&self, doc: usize, line: usize) -> usize {
        self.offsets[doc] + line
    }
}

/// What the stage found.
#[derive(Clone, Debug, PartialEq)]
pub struct Boilerplate {
    pub status: Status,
    pub templates: Vec<Template>,
    pub mask: LineMask,
    /// For each flagged line, in the mask's order (documents in input order, then lines), the
    /// index in `templates` of the template that flagged it.
    pub line_templates: Vec<u32>,
}

impl Boilerplate {
    pub fn none<D: Docs + ?Sized>(norm: &D, status: Status) -> Self {
        Boilerplate {
            status,
            templates: Vec::new(),
            mask: LineMask::new(norm.lines_per_doc().into_iter().map(|n| n as usize)),
            line_templates: Vec::new(),
        }
    }

    /// The flagged lines of each document with the template of each, in input order, for the
    /// documents with at least one: `(document, [(line, index in templates)])`.
    pub fn flagged_by_doc(&self) -> impl Iterator<Item = (usize, Vec<(u32, u32)>)> + '_ {
        let mut next = 0;
        (0..self.mask.doc_count()).filter_map(move |d| {
            if !self.mask.any(d) {
                return None;
            }
            let lines = self.mask.flagged(d);
            let t = &self.line_templates[next..next + lines.len()];
            next += lines.len();
            Some((d, lines.into_iter().zip(t.iter().copied()).collect()))
        })
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
    if too_few_stories(facts.story, o) {
        return Ok(Boilerplate::none(norm, Status::TooSmall));
    }
    let occ: Vec<Occurrence> = (0..lines.len())
        .into_par_iter()
        .flat_map_iter(|d| {
            let (keys, letters) = lines.doc(d);
            let mut v = Vec::new();
            doc_occurrences(d as u32, keys, letters, lines.doc_forms(d), o, only, &mut v);
            v
        })
        .collect();
    let sentence = |d: usize, i: usize| lines.doc_sentences(d).1[i];
    let next = |d: usize, i: usize| lines.next_text(d, i);
    decide(occ, &sentence, &next, lines.line_counts(), norm, facts, o)
}

/// Whether `story` has too few stories for line statistics (nothing is flagged).
pub(crate) fn too_few_stories(story: &[u32], o: &BoilerplateOptions) -> bool {
    let mut stories: Vec<u32> = story.to_vec();
    stories.sort_unstable();
    stories.dedup();
    stories.len() < 2 * o.min_stories.max(1) as usize
}

/// Appends the [`Occurrence`]s of the non-empty lines of document `d` (its line keys, whether
/// each line has a letter, as [`LineFacts::doc`] gives them, and each line's form) whose keys
/// are in `only`, to `v`.
pub(crate) fn doc_occurrences(
    d: u32,
    keys: &[u64],
    letters: &BitSlice,
    forms: &[LineForm],
    o: &BoilerplateOptions,
    only: Option<&HashSet<u64>>,
    v: &mut Vec<Occurrence>,
) {
    // (key, doc, line, position, maskable, letter, form) of every non-empty line. A line without
    // a letter is furniture near the edges of a document (a dateline, a view counter) but content
    // in its body (a list of numbers, a table): it is masked only within LETTERLESS_EDGE lines of
    // an edge. A separator holds no text: it is masked wherever it stands, and not counted among
    // the lines that place the others (their positions are those they have without it).
    let text = |i: usize| keys[i] != 0 && forms[i] & FORM_SEPARATOR == 0;
    let nonempty = (0..keys.len()).filter(|&i| text(i)).count();
    let mut rank = 0;
    for (i, &k) in keys.iter().enumerate() {
        if k == 0 {
            continue;
        }
        let position = position_of(rank, nonempty, o.edge_lines);
        let in_body = rank >= LETTERLESS_EDGE && rank + LETTERLESS_EDGE < nonempty;
        let separator = !text(i);
        rank += usize::from(!separator);
        if only.is_none_or(|keys| keys.contains(&k)) {
            let maskable = !in_body || letters[i] || separator;
            v.push((k, d, i as u32, position, maskable, letters[i], forms[i]));
        }
    }
}

/// The runs of `occ` (sorted by key, document and line: see [`sort_occurrences`]) with enough
/// occurrences to be decided, as `(start, end)`.
fn candidate_runs(occ: &[Occurrence], o: &BoilerplateOptions) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut s = 0;
    while s < occ.len() {
        let mut e = s + 1;
        while e < occ.len() && occ[e].0 == occ[s].0 {
            e += 1;
        }
        if e - s >= RARE_MIN_DOCS.min(o.min_docs) as usize {
            runs.push((s, e));
        }
        s = e;
    }
    runs
}

/// Sorts occurrences by key, document and line: the runs of one key, in the corpus's order.
pub(crate) fn sort_occurrences(occ: &mut [Occurrence]) {
    occ.par_sort_unstable_by_key(|x| (x.0, x.1, x.2));
}

/// The template a run of occurrences of one key makes (`None`: not furniture); `sentence(d, i)`
/// says whether line `i` of document `d` is a sentence.
fn decide_run(
    run: &[Occurrence],
    facts: &DocFacts,
    o: &BoilerplateOptions,
    sentence: &(dyn Fn(usize, usize) -> bool + Sync),
) -> Option<Template> {
    if !run.iter().any(|x| x.4) {
        return None; // numbers only in document bodies: nothing to flag
    }
    let mut docs: Vec<u32> = run.iter().map(|x| x.1).collect();
    docs.dedup();
    let mut st: Vec<u32> = docs.iter().map(|&d| facts.story[d as usize]).collect();
    st.sort_unstable();
    st.dedup();
    let ratio = st.len() as f64 / docs.len() as f64;
    let mut src: Vec<u32> = docs.iter().map(|&d| facts.source[d as usize]).collect();
    src.sort_unstable();
    src.dedup();
    let count = |p| run.iter().filter(|x| x.3 == p).count();
    let (head, mid, tail) = (
        count(Position::Head),
        count(Position::Middle),
        count(Position::Tail),
    );
    let rare = docs.len() < o.min_docs as usize;
    let address = run.iter().any(|x| x.6 & FORM_ADDRESS != 0);
    if address {
        // An address names its owner (a columnist, a site, an agency): wherever it stands and
        // whoever prints it, it is a signature or a credit, never a phrase of the language;
        // recurring in different stories tells it from a story's own contact line that
        // travels with the story's copies.
        if st.len() < RARE_MIN_DOCS as usize || ratio < o.min_story_ratio {
            return None;
        }
    } else if rare {
        // Rare furniture: a byline, a dateline or a signature one source puts at the
        // edge of a few of its documents, each of another story (a story's own lines
        // recur only in its copies).
        let one_source = src.len() == 1 && src[0] != u32::MAX;
        let at_edges = mid == 0;
        if docs.len() < RARE_MIN_DOCS as usize
            || !one_source
            || !at_edges
            || st.len() < docs.len()
        {
            return None;
        }
    } else if st.len() < o.min_stories as usize || ratio < o.min_story_ratio {
        return None;
    } else if run[0].5 {
        let (d, i) = (run[0].1 as usize, run[0].2 as usize);
        let sentence = sentence(d, i);
        if !site_furniture(run, &docs, facts.source, src.len(), head + tail, sentence) {
            return None;
        }
    }
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
    let first = *run.iter().find(|x| x.4).expect("checked above");
    let reasons = if address {
        vec![format!(
            "an address in {} of {}",
            crate::report::count(docs.len() as u64, "document", "documents"),
            crate::report::count(st.len() as u64, "story", "different stories")
        )]
    } else if rare {
        vec![format!(
            "stands at the head or tail of {} of one source, each of another story",
            crate::report::count(docs.len() as u64, "document", "documents")
        )]
    } else {
        vec![
            format!(
                "recurs in {} of {}",
                crate::report::count(docs.len() as u64, "document", "documents"),
                crate::report::count(st.len() as u64, "story", "different stories")
            ),
            format!(
                "{:.0}% of its documents belong to different stories (threshold {:.0}%)",
                ratio * 100.0,
                o.min_story_ratio * 100.0
            ),
        ]
    };
    Some(Template {
        id: template_id(first.0),
        sample: String::new(), // read below: the documents may be on disk
        example: None,
        documents: docs.len() as u32,
        sources: src.len() as u32,
        stories: st.len() as u32,
        position,
        position_share: n as f64 / run.len() as f64,
        first_date: dates.iter().min().map(|&t| crate::date::iso_day(t)),
        last_date: dates.iter().max().map(|&t| crate::date::iso_day(t)),
        reasons,
        key: first.0,
        first: (first.1, first.2),
    })
}

/// The runs of `occ` (sorted: [`sort_occurrences`]) that are furniture, as `(start, end)`: a
/// process that holds every occurrence of some keys decides them as [`decide`] does.
pub(crate) fn furniture_runs(
    occ: &[Occurrence],
    facts: &DocFacts,
    o: &BoilerplateOptions,
    sentence: &(dyn Fn(usize, usize) -> bool + Sync),
) -> Vec<(usize, usize)> {
    candidate_runs(occ, o)
        .into_par_iter()
        .filter(|&(s, e)| decide_run(&occ[s..e], facts, o, sentence).is_some())
        .collect()
}

/// Unmasks the labels among the flagged lines (`flagged`: spans of `occ`) that head content. A
/// line that ends with a colon (`Ingredients:`, `Answer:`, `Read also:`) or only numbers an item
/// (`(1)`, `2 -`) introduces the lines after it and belongs to what it introduces: it stays
/// masked where the next line with text (`next(d, i)`: its key and whether it holds an address)
/// is flagged too, is an address, or there is none (a `Read also:` above related headlines, a
/// `Twitter:` above a handle, a `Share:` at the end), and is kept where it heads content (a
/// heading a column repeats over its own text in every issue, however many stories print it).
/// Decided line by line: the same words without the colon, or above furniture, are left to the
/// other rules. Returns how many lines it unmasked per span.
fn unmask_labels(
    flagged: &[(usize, usize, Template)],
    occ: &mut [Occurrence],
    next: &(dyn Fn(usize, usize) -> Option<(u64, bool)> + Sync),
) -> Vec<usize> {
    let keys: HashSet<u64> = flagged.iter().map(|f| f.2.key).collect();
    let heads_furniture = |d: usize, i: usize| {
        next(d, i).is_none_or(|(k, address)| address || keys.contains(&k))
    };
    let unmask: Vec<Vec<usize>> = flagged
        .par_iter()
        .map(|&(s, e, _)| {
            (s..e)
                .filter(|&x| {
                    let o = &occ[x];
                    o.4 && o.6 & FORM_LABEL != 0 && !heads_furniture(o.1 as usize, o.2 as usize)
                })
                .collect()
        })
        .collect();
    for &x in unmask.iter().flatten() {
        occ[x].4 = false;
    }
    unmask.iter().map(Vec::len).collect()
}

/// The boilerplate of a corpus from the occurrences of its lines (any order) that hold every
/// occurrence of each key that can be flagged (the other keys' may be left out); `line_counts`
/// are the lines of every document, `norm` is read only for each template's sample line.
pub(crate) fn decide<D: Docs + ?Sized>(
    mut occ: Vec<Occurrence>,
    sentence: &(dyn Fn(usize, usize) -> bool + Sync),
    next: &(dyn Fn(usize, usize) -> Option<(u64, bool)> + Sync),
    line_counts: impl Iterator<Item = usize>,
    norm: &D,
    facts: &DocFacts,
    o: &BoilerplateOptions,
) -> Result<Boilerplate> {
    sort_occurrences(&mut occ);
    let runs = candidate_runs(&occ, o);
    let flagged: Vec<(usize, usize, Template)> = runs
        .par_iter()
        .filter_map(|&(s, e)| decide_run(&occ[s..e], facts, o, sentence).map(|t| (s, e, t)))
        .collect();
    let unmasked = unmask_labels(&flagged, &mut occ, next);
    let flagged: Vec<(usize, usize, Template)> = flagged
        .into_iter()
        .zip(unmasked)
        .filter_map(|((s, e, mut t), n)| {
            if n > 0 {
                let first = occ[s..e].iter().find(|x| x.4)?;
                t.first = (first.1, first.2);
                t.reasons.push(format!(
                    "{} heading content left unmasked (a label or an item number)",
                    crate::report::count(n as u64, "line", "lines")
                ));
            }
            Some((s, e, t))
        })
        .collect();
    let mut mask = LineMask::new(line_counts);
    let mut templates = Vec::with_capacity(flagged.len());
    let spans: Vec<(usize, usize)> = flagged.iter().map(|&(s, e, _)| (s, e)).collect();
    for (_, _, mut t) in flagged {
        let (d, i) = t.first;
        norm.visit_doc(d as usize, &mut |doc| {
            t.sample = doc.line(i as usize).to_string()
        })?;
        templates.push(t);
    }
    let mut by_order: Vec<usize> = (0..templates.len()).collect();
    by_order.sort_by(|&a, &b| {
        let (a, b) = (&templates[a], &templates[b]);
        b.documents
            .cmp(&a.documents)
            .then_with(|| a.sample.cmp(&b.sample))
            .then_with(|| a.key.cmp(&b.key))
    });
    // Each flagged line with the index of its template in the sorted order, in mask order.
    let mut marks: Vec<(usize, u32)> = Vec::new();
    for (pos, &t) in by_order.iter().enumerate() {
        let (s, e) = spans[t];
        for x in occ[s..e].iter().filter(|x| x.4) {
            mask.set(x.1 as usize, x.2 as usize);
            marks.push((mask.bit(x.1 as usize, x.2 as usize), pos as u32));
        }
    }
    marks.par_sort_unstable();
    let mut slots: Vec<Option<Template>> = templates.into_iter().map(Some).collect();
    let templates = by_order
        .iter()
        .map(|&t| slots[t].take().expect("each once"))
        .collect();
    Ok(Boilerplate {
        status: Status::Ok,
        templates,
        mask,
        line_templates: marks.into_iter().map(|(_, t)| t).collect(),
    })
}

/// For a run over several processes (`crate::distributed`): [`detect_with`] (`prev`: `None`)
/// or [`refine_with`] (`prev`: the flags to refine) from the occurrences of the lines of the
/// keys that can be flagged (every occurrence of each; the other keys' left out), gathered from
/// the processes that decided them (see [`furniture_runs`]).
#[cfg(feature = "distributed")]
pub(crate) fn detect_gathered<D: Docs + ?Sized>(
    occ: &[Occurrence],
    sentence: &(dyn Fn(usize, usize) -> bool + Sync),
    next: &(dyn Fn(usize, usize) -> Option<(u64, bool)> + Sync),
    norm: &D,
    facts: &DocFacts,
    o: &BoilerplateOptions,
    prev: Option<&Boilerplate>,
) -> Result<Boilerplate> {
    if prev.is_some_and(|p| p.status != Status::Ok) {
        return Ok(prev.expect("checked").clone());
    }
    if too_few_stories(facts.story, o) {
        return Ok(Boilerplate::none(norm, Status::TooSmall));
    }
    let only: Option<HashSet<u64>> = prev.map(|p| p.templates.iter().map(|t| t.key).collect());
    let occ: Vec<Occurrence> = occ
        .iter()
        .filter(|x| only.as_ref().is_none_or(|keys| keys.contains(&x.0)))
        .copied()
        .collect();
    let lines = norm.lines_per_doc();
    decide(occ, sentence, next, lines.iter().map(|&n| n as usize), norm, facts, o)
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

    /// [`detect`] with default options over `texts`, of these stories and sources.
    fn run_sources(texts: &[String], story: &[u32], source: &[u32]) -> Boilerplate {
        let norm: Vec<NormDoc> = texts
            .iter()
            .map(|t| normalize_doc(t, &NormalizeOptions::default()))
            .collect();
        let date = vec![None; texts.len()];
        let facts = DocFacts {
            source,
            story,
            date: &date,
        };
        detect(&norm, &facts, &BoilerplateOptions::default()).expect("in memory")
    }

    /// Ten lines of text of story `i`, one word of each unique to it.
    fn story_lines(i: usize) -> Vec<String> {
        (0..10)
            .map(|l| format!("paragraph {l} of the story numbered w{i}x{l} here"))
            .collect()
    }

    /// Twelve documents of twelve stories (enough for line statistics), from `source`, none
    /// sharing a line.
    fn fillers(texts: &mut Vec<String>, story: &mut Vec<u32>, source: &mut Vec<u32>) {
        for i in 0..12 {
            texts.push(story_lines(1000 + i).join("\n"));
            story.push(1000 + i as u32);
            source.push(9);
        }
    }

    #[test]
    fn separators_are_flagged_anywhere_and_do_not_place_other_lines() {
        let (mut texts, mut story, mut source) = (Vec::new(), Vec::new(), Vec::new());
        // Six stories of one source: separators around a byline (which, with three documents,
        // is flagged only at the edge of each), a separator and a number amid the body.
        for i in 0..6 {
            let mut lines = vec!["***".to_string(); 4];
            if i < 3 {
                lines.push("by a staff writer".into());
            }
            let body = story_lines(i);
            lines.extend_from_slice(&body[..5]);
            lines.push("  * * *  ".into());
            lines.push("12345".into());
            lines.extend_from_slice(&body[5..]);
            texts.push(lines.join("\n"));
            story.push(i as u32);
            source.push(0);
        }
        fillers(&mut texts, &mut story, &mut source);
        let b = run_sources(&texts, &story, &source);
        assert_eq!(b.status, Status::Ok);
        for d in 0..6 {
            let body = if d < 3 { 10 } else { 9 };
            let mut want: Vec<u32> = (0..4).collect();
            if d < 3 {
                want.push(4);
            }
            want.push(body);
            // The number in the body (line body + 1) is content: not masked.
            assert_eq!(b.mask.flagged(d), want, "document {d}");
        }
        let samples: Vec<(&str, u32)> = b
            .templates
            .iter()
            .map(|t| (t.sample.as_str(), t.documents))
            .collect();
        assert_eq!(samples, [("", 6), ("", 6), ("by a staff writer", 3)]);
        assert!(b.templates[..2].iter().all(|t| t.reasons[0].starts_with("recurs")));
    }

    #[test]
    fn an_address_is_furniture_in_a_few_stories_wherever_it_stands() {
        let (mut texts, mut story, mut source) = (Vec::new(), Vec::new(), Vec::new());
        // A columnist's address and a plain line, each amid four documents of three stories
        // printed by two sources (a column in two papers): below the five documents of the
        // usual rule, not at an edge, not of one source. A press contact travels with the five
        // copies of one story.
        for (d, (st, src)) in [(0, 0), (1, 1), (1, 0), (2, 1)].into_iter().enumerate() {
            let mut lines = story_lines(st);
            lines.insert(5, "Writer.Name@example.com".into());
            lines.insert(6, "a plain closing line".into());
            texts.push(lines.join("\n"));
            story.push(st as u32);
            source.push(src);
            let mut copy = story_lines(50);
            copy.insert(4, "contact: press@company.example".into());
            texts.push(copy.join("\n"));
            story.push(50);
            source.push(d as u32);
        }
        fillers(&mut texts, &mut story, &mut source);
        let b = run_sources(&texts, &story, &source);
        assert_eq!(b.status, Status::Ok);
        assert_eq!(b.templates.len(), 1);
        assert_eq!(b.templates[0].sample, "writer name example com");
        assert_eq!(b.templates[0].stories, 3);
        assert!(b.templates[0].reasons[0].starts_with("an address in 4 documents"));
        for d in [0, 2, 4, 6] {
            assert_eq!(b.mask.flagged(d), vec![5], "document {d}");
        }
    }

    #[test]
    fn labels_stay_with_what_they_head() {
        let (mut texts, mut story, mut source) = (Vec::new(), Vec::new(), Vec::new());
        // In six stories of one source: a label over each story's own text, a label over a
        // related headline the site prints under each, a label over a handle that differs, an
        // item number over text, and the first label's words without the colon.
        for i in 0..6 {
            let body = story_lines(i);
            let lines = [
                "(1)".to_string(),
                body[0].clone(),
                "Ingredients:".into(),
                body[1].clone(),
                body[2].clone(),
                "ingredients".into(),
                body[3].clone(),
                "Read also:".into(),
                "the related headline of the site".into(),
                body[4].clone(),
                body[5].clone(),
                "Twitter:".into(),
                format!("@handle_{}", ["a", "b", "c", "d", "e", "f"][i]),
                body[6].clone(),
            ];
            texts.push(lines.join("\n"));
            story.push(i as u32);
            source.push(0);
        }
        fillers(&mut texts, &mut story, &mut source);
        let b = run_sources(&texts, &story, &source);
        for d in 0..6 {
            assert_eq!(b.mask.flagged(d), vec![5, 7, 8, 11], "document {d}");
        }
        let heading = b.templates.iter().find(|t| t.sample == "ingredients").unwrap();
        assert_eq!(heading.first, (0, 5));
        assert!(heading.reasons.iter().any(|r| r.starts_with("6 lines heading")));
        assert!(!b.templates.iter().any(|t| t.sample == "1"));
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
    fn each_flagged_line_names_its_template() {
        // A header in documents 0..8 and a footer in documents 2..8 (fewer: sorted second); the
        // header's first occurrence is document 0's, the footer's document 2's.
        let topics = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        let texts: Vec<String> = topics
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let footer = if i >= 2 { "\nAll rights reserved." } else { "" };
                format!("Breaking News\nunrelated story about {w}{footer}")
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
        let story: Vec<u32> = (0..8).collect();
        let b = run(&refs, &story);
        let samples: Vec<&str> = b.templates.iter().map(|t| t.sample.as_str()).collect();
        assert_eq!(samples, ["breaking news", "all rights reserved"]);
        assert_eq!(b.templates[0].first, (0, 0));
        assert_eq!(b.templates[1].first, (2, 2));
        for t in &b.templates {
            assert_eq!(t.id, template_id(crate::normalize::line_key(&t.sample)));
            assert_eq!(t.id.len(), 17);
        }
        let flagged: Vec<(usize, Vec<(u32, u32)>)> = b.flagged_by_doc().collect();
        assert_eq!(flagged.len(), 8);
        assert_eq!(flagged[0], (0, vec![(0, 0)]));
        assert_eq!(flagged[1], (1, vec![(0, 0)]));
        for (d, lines) in &flagged[2..] {
            assert_eq!(lines, &vec![(0, 0), (2, 1)], "document {d}");
        }
        assert_eq!(b.line_templates.len(), b.mask.count());
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
        // Counting through partitions spilled to disk finds the same n-grams.
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

    /// The sampled keys of a line, `(first word, key)`, by their definition.
    fn reference_grams(line: &str) -> Vec<(usize, u64)> {
        let hashes: Vec<u64> = line
            .split(' ')
            .map(|w| xxhash_rust::xxh3::xxh3_64(w.as_bytes()))
            .collect();
        hashes
            .windows(TEMPLATE_WORDS)
            .enumerate()
            .filter_map(|(j, g)| {
                let bytes: Vec<u8> = g.iter().flat_map(|h| h.to_le_bytes()).collect();
                let key = xxhash_rust::xxh3::xxh3_64(&bytes);
                (key % TEMPLATE_SAMPLE == 0).then_some((j, key))
            })
            .collect()
    }

    /// Template keys (sorted) and the documents holding one, counted the simple way: a key is
    /// a template when at least `min_docs` documents of one source hold it.
    fn reference_find(
        norm: &[NormDoc],
        active: &[bool],
        mask: &LineMask,
        source: &[u32],
        min_docs: u32,
    ) -> (Vec<u64>, Vec<u32>) {
        let mut holders: std::collections::BTreeMap<u64, Vec<u32>> = Default::default();
        for (d, doc) in norm.iter().enumerate() {
            if !active[d] {
                continue;
            }
            let keys: std::collections::BTreeSet<u64> = (0..doc.lines())
                .filter(|&i| !mask.is_flagged(d, i))
                .flat_map(|i| reference_grams(doc.line(i)))
                .map(|(_, k)| k)
                .collect();
            for k in keys {
                holders.entry(k).or_default().push(d as u32);
            }
        }
        let mut keys = Vec::new();
        let mut docs = std::collections::BTreeSet::new();
        for (k, ds) in holders {
            let most = ds
                .iter()
                .filter(|&&d| source[d as usize] != u32::MAX)
                .map(|&d| {
                    ds.iter()
                        .filter(|&&e| source[e as usize] == source[d as usize])
                        .count()
                })
                .max()
                .unwrap_or(0);
            if most as u32 >= min_docs {
                keys.push(k);
                docs.extend(ds);
            }
        }
        (keys, docs.into_iter().collect())
    }

    /// `push_untemplated` as first written (two splits, a flag per word, a binary search).
    fn reference_untemplated(t: &SourceTemplates, d: usize, line: &str, out: &mut String) -> usize {
        if t.docs.binary_search(&(d as u32)).is_err() {
            if !line.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
            return 0;
        }
        let mut covered = vec![false; line.split(' ').count()];
        for (j, key) in reference_grams(line) {
            if t.keys.binary_search(&key).is_ok() {
                covered[j..j + TEMPLATE_WORDS].fill(true);
            }
        }
        if !covered.contains(&true) {
            if !line.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(line);
            }
            return 0;
        }
        for (w, &c) in line.split(' ').zip(covered.iter()) {
            if !c {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(w);
            }
        }
        covered.iter().filter(|&&c| c).count()
    }

    /// A document of these lines as they are (no normalization: odd spaces stay).
    fn raw_doc(lines: &[String]) -> NormDoc {
        let mut doc = NormDoc::default();
        for l in lines {
            if !doc.line_starts.is_empty() {
                doc.text.push('\n');
            }
            doc.line_starts.push(doc.text.len() as u32);
            doc.text.push_str(l);
        }
        doc
    }

    /// A line: phrases (shared word sequences, so that n-grams recur across documents) and
    /// single words of a small vocabulary, joined by one space, sometimes by two or more, with
    /// spaces at the ends at times.
    fn line_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        const VOCAB: [&str; 7] = ["a", "bb", "ccc", "وزير", "الرياض", "x1", "é"];
        let piece = prop_oneof![
            3 => (0..4usize).prop_map(|p| {
                // Four fixed phrases of 9..12 words.
                (0..9 + p)
                    .map(|i| VOCAB[(i * (p + 2) + p) % VOCAB.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            2 => (0..VOCAB.len()).prop_map(|w| VOCAB[w].to_string()),
        ];
        let sep = prop_oneof![6 => Just(" "), 1 => Just("  "), 1 => Just("   ")];
        (
            prop::collection::vec((piece, sep), 0..6),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(pieces, lead, trail)| {
                let mut s = String::new();
                if lead {
                    s.push(' ');
                }
                for (i, (p, sep)) in pieces.iter().enumerate() {
                    if i > 0 {
                        s.push_str(sep);
                    }
                    s.push_str(p);
                }
                if trail {
                    s.push(' ');
                }
                s
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

        #[test]
        fn sampled_keys_match_their_definition(line in line_strategy()) {
            let mut bytes = Vec::new();
            let mut got = Vec::new();
            sampled_keys(&line, &mut bytes, &mut got);
            let want: Vec<u64> = reference_grams(&line).into_iter().map(|(_, k)| k).collect();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn templates_and_untemplated_text_match_the_simple_definitions(
            docs in proptest::collection::vec(
                (
                    0..5u32,
                    proptest::collection::vec((line_strategy(), 0..8u8), 1..5),
                    0..10u8,
                ),
                1..14,
            ),
            min_docs in 1..4u32,
            prefix in proptest::prelude::any::<bool>(),
        ) {
            // Source 4 stands for none; one line in eight is masked, one document in ten is
            // inactive.
            let source: Vec<u32> = docs
                .iter()
                .map(|(s, _, _)| if *s == 4 { u32::MAX } else { *s })
                .collect();
            let active: Vec<bool> = docs.iter().map(|(_, _, a)| *a != 0).collect();
            let norm: Vec<NormDoc> = docs
                .iter()
                .map(|(_, lines, _)| {
                    raw_doc(&lines.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>())
                })
                .collect();
            let mut mask = LineMask::new(norm.iter().map(NormDoc::lines));
            for (d, (_, lines, _)) in docs.iter().enumerate() {
                for (i, (_, m)) in lines.iter().enumerate() {
                    if *m == 0 {
                        mask.set(d, i);
                    }
                }
            }
            let (keys, holders) = reference_find(&norm, &active, &mask, &source, min_docs);
            let t = SourceTemplates::find(&norm, &active, Some(&mask), &source, min_docs, u64::MAX)
                .unwrap();
            proptest::prop_assert_eq!(&t.keys, &keys);
            proptest::prop_assert_eq!(t.documents(), &holders[..]);
            let spilled =
                SourceTemplates::find(&norm, &active, Some(&mask), &source, min_docs, 64).unwrap();
            proptest::prop_assert_eq!(&spilled.keys, &keys);
            proptest::prop_assert_eq!(spilled.documents(), &holders[..]);
            for &k in &keys {
                proptest::prop_assert!(t.is_template(k));
            }
            // The documents said to hold a template are those whose text loses words: every
            // other one is sketched from its unmasked lines as they are.
            proptest::prop_assert_eq!(t.documents(), spilled.documents());
            for (d, doc) in norm.iter().enumerate() {
                let mut whole = String::new();
                let mut untemplated = String::new();
                let lines = crate::pipeline::Mask { lines: Some(&mask), templates: None };
                crate::pipeline::sketch_text(doc, d, lines, &mut whole);
                let both = crate::pipeline::Mask { lines: Some(&mask), templates: Some(&t) };
                crate::pipeline::sketch_text(doc, d, both, &mut untemplated);
                let holds = t.documents().binary_search(&(d as u32)).is_ok();
                proptest::prop_assert_eq!(
                    holds,
                    active[d] && whole != untemplated,
                    "document {}: {:?} / {:?}", d, whole, untemplated
                );
            }
            // Every line of every document (masked or not), and every line under every
            // document, so that each line is also read as another source's.
            let lines: Vec<&str> = norm.iter().flat_map(|doc| (0..doc.lines()).map(|i| doc.line(i))).collect();
            for d in 0..norm.len() {
                for line in &lines {
                    let start = if prefix { "p" } else { "" };
                    let (mut got, mut want) = (start.to_string(), start.to_string());
                    let n = t.push_untemplated(d, line, &mut got);
                    let m = reference_untemplated(&t, d, line, &mut want);
                    proptest::prop_assert_eq!((n, &got), (m, &want), "document {}, line {:?}", d, line);
                }
            }
        }
    }

    #[test]
    fn tiny_corpus_flags_nothing_and_says_so() {
        let b = run(&["a\nfooter", "b\nfooter"], &[0, 1]);
        assert_eq!(b.status, Status::TooSmall);
        assert!(b.templates.is_empty());
        assert_eq!(b.mask.count(), 0);
    }
}
