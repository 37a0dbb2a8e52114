//! Boilerplate line statistics by key: each process owns the line keys of one residue of a
//! hash (as for band keys), gets every occurrence of them from every process, and decides them
//! with the one-process rule ([`boilerplate::furniture_runs`]); process 0 gets only the
//! occurrences of the keys decided furniture (what the line mask and the templates' counts are
//! made of) and the pairs of documents sharing a sentence line.
//!
//! ```text
//! process 0     ── to each process: the story label and source of each of its documents
//! every process ── to the owner of each line key: per document (story, source, date, banded),
//!                  its non-empty lines of the keys that owner owns (key, line, facts of the line)
//! every owner   decides its keys (the same stories, sources and dates as one process sees:
//!               every occurrence of a key is there), finds the documents sharing its unmasked
//!               sentence lines ── to 0: the furniture keys' occurrences, the sentence pairs
//! process 0     the boilerplate from those occurrences (`boilerplate::detect_gathered`): the
//!               same templates, counts, mask and order as one process
//! ```
//!
//! A line without a letter in a document's body, or the decision's other facts of a line (its
//! position among the document's non-empty lines, whether it has a letter, whether it is a
//! sentence), are worked out where the document was read: the owner sees them as one process
//! does. The refinement with the final clusters runs on process 0 over the occurrences it
//! gathered: it only ever unflags keys flagged here.

use serde::{Deserialize, Serialize};

use crate::boilerplate::{self, BoilerplateOptions, DocFacts, LineFacts, Occurrence, Position};
use crate::error::Result;
use crate::normalize::FORM_LABEL;

use super::net::Net;
use super::{encode, exchange, key_process};

/// A line's facts as one byte: its position (2 bits), whether it may be masked, whether it has
/// a letter, whether it is a sentence, and its form (the top 3 bits).
type Bits = u8;
const MASKABLE: Bits = 1 << 2;
const LETTER: Bits = 1 << 3;
const SENTENCE: Bits = 1 << 4;
const FORM_SHIFT: u32 = 5;

fn bits(x: &Occurrence, sentence: bool) -> Bits {
    let position = match x.3 {
        Position::Head => 0,
        Position::Middle => 1,
        Position::Tail => 2,
    };
    position
        | if x.4 { MASKABLE } else { 0 }
        | if x.5 { LETTER } else { 0 }
        | if sentence { SENTENCE } else { 0 }
        | x.6 << FORM_SHIFT
}

fn occurrence(key: u64, doc: u32, line: u32, b: Bits) -> Occurrence {
    let position = match b & 3 {
        0 => Position::Head,
        1 => Position::Middle,
        _ => Position::Tail,
    };
    let form = b >> FORM_SHIFT;
    (
        key,
        doc,
        line,
        position,
        b & MASKABLE != 0,
        b & LETTER != 0,
        form,
    )
}

/// One document's lines as the owner of their keys gets them.
#[derive(Serialize, Deserialize)]
struct DocLines {
    /// The document's index in the corpus.
    doc: u32,
    story: u32,
    source: u32,
    date: Option<i64>,
    /// Whether it is banded (the leader of its exact group): only those share sentences.
    active: bool,
    /// `(key, line, bits)` of its non-empty lines whose keys the owner owns, in line order.
    lines: Vec<(u64, u32, Bits)>,
    /// For each label among `lines` (in line order): its line, and the key of the next line
    /// with text and whether that holds an address (`None`: there is none), for the label rule.
    labels: Vec<(u32, Option<(u64, bool)>)>,
}

/// An occurrence of a furniture key as process 0 gets it: key, document in the corpus, line,
/// bits.
pub(super) type Gathered = (u64, u32, u32, Bits);

/// Story label and source of each document of a process, in its order (`None`: nothing is
/// flagged).
type Labels = Option<Vec<(u32, u32)>>;

/// A label among the furniture's occurrences: document in the corpus, line, and what follows it
/// (see [`DocLines::labels`]).
type Label = (u32, u32, Option<(u64, bool)>);

/// An owner's reply to process 0: the furniture keys' occurrences, their labels, the sentence
/// pairs.
type Reply = (Vec<Gathered>, Vec<Label>, Vec<(u32, u32)>);

/// What process 0 gets: the furniture keys' occurrences and the sentence pairs.
pub(super) struct ByKey {
    pub occ: Vec<Occurrence>,
    /// The `(document, line)` of the sentences among `occ`, sorted.
    sentences: Vec<(u32, u32)>,
    /// Pairs of banded documents sharing an unmasked sentence line (sorted, distinct).
    pub sentence_pairs: Vec<(u32, u32)>,
    /// What follows each label among `occ`, by `(document, line)`, sorted.
    labels: Vec<Label>,
}

impl ByKey {
    /// Whether line `i` of document `d` (one of `occ`) is a sentence.
    pub fn sentence(&self, d: usize, i: usize) -> bool {
        self.sentences.binary_search(&(d as u32, i as u32)).is_ok()
    }

    /// The next line with text after label `i` of document `d` (one of `occ`), as
    /// [`LineFacts::next_text`] gives it.
    pub fn next(&self, d: usize, i: usize) -> Option<(u64, bool)> {
        let at = self
            .labels
            .binary_search_by_key(&(d as u32, i as u32), |l| (l.0, l.1))
            .ok()?;
        self.labels[at].2
    }
}

/// What a process holds of its own documents for the exchange.
pub(super) struct Local<'a> {
    pub facts: &'a LineFacts,
    /// The corpus's index of each document.
    pub global: &'a [u32],
    pub active: &'a [bool],
    pub dates: &'a [Option<i64>],
}

/// Every process: the line statistics by key (see the module's notes). `labels` is process 0's
/// story label and source of every document of each process (in its order), or `None` on
/// every process when there are too few stories to flag anything (then only the sentence
/// pairs are found). Process 0 gets the [`ByKey`]. Three exchanges on every process.
pub(super) fn by_key(
    net: &mut Net,
    local: &Local,
    labels: Option<Vec<Vec<(u32, u32)>>>,
    o: &BoilerplateOptions,
    max_bucket: usize,
) -> Result<Option<ByKey>> {
    let peers = net.peers();
    let me = net.me();
    // 1. Each process learns its documents' stories and sources (or that nothing is flagged).
    let sends = match labels {
        Some(l) => l
            .into_iter()
            .enumerate()
            .map(|(q, x)| (q, encode(&Some(x))))
            .collect(),
        None if me == 0 => (0..peers)
            .map(|q| (q, encode(&None::<Vec<(u32, u32)>>)))
            .collect(),
        None => Vec::new(),
    };
    let mut got: Vec<(usize, Labels)> = exchange(net, sends)?;
    let labels = got.pop().expect("labels from process 0").1;
    let flags = labels.is_some();

    // 2. Every non-empty line to the owner of its key, with its document's facts.
    let mut out: Vec<Vec<DocLines>> = (0..peers).map(|_| Vec::new()).collect();
    let mut occ = Vec::new();
    for d in 0..local.facts.len() {
        let (keys, letters) = local.facts.doc(d);
        let (_, sentences) = local.facts.doc_sentences(d);
        occ.clear();
        let forms = local.facts.doc_forms(d);
        boilerplate::doc_occurrences(d as u32, keys, letters, forms, o, None, &mut occ);
        let (story, source) = labels.as_ref().map_or((0, 0), |l| l[d]);
        let start = out.iter().map(Vec::len).collect::<Vec<_>>();
        for x in &occ {
            let q = key_process(x.0, peers);
            if out[q].len() == start[q] {
                out[q].push(DocLines {
                    doc: local.global[d],
                    story,
                    source,
                    date: local.dates[d],
                    active: local.active[d],
                    lines: Vec::new(),
                    labels: Vec::new(),
                });
            }
            let b = bits(x, sentences[x.2 as usize]);
            let to = out[q].last_mut().expect("pushed");
            to.lines.push((x.0, x.2, b));
            if x.6 & FORM_LABEL != 0 {
                to.labels
                    .push((x.2, local.facts.next_text(d, x.2 as usize)));
            }
        }
    }
    let sends = out
        .into_iter()
        .enumerate()
        .map(|(q, o)| (q, encode(&o)))
        .collect();
    let got: Vec<(usize, Vec<DocLines>)> = exchange(net, sends)?;

    // 3. The owner's keys decided; the furniture's occurrences and the sentence pairs to 0.
    let mut docs: Vec<DocLines> = got.into_iter().flat_map(|(_, d)| d).collect();
    docs.sort_unstable_by_key(|d| d.doc);
    let reply = decide(&docs, flags, o, max_bucket);
    drop(docs);
    let got: Vec<(usize, Reply)> = exchange(net, vec![(0, encode(&reply))])?;
    if me != 0 {
        return Ok(None);
    }
    let (mut occ, mut sentences, mut pairs) = (Vec::new(), Vec::new(), Vec::new());
    let mut labels = Vec::new();
    for (_, (g, l, p)) in got {
        labels.extend(l);
        for (key, doc, line, b) in g {
            occ.push(occurrence(key, doc, line, b));
            if b & SENTENCE != 0 {
                sentences.push((doc, line));
            }
        }
        pairs.extend(p);
    }
    sentences.sort_unstable();
    labels.sort_unstable_by_key(|l: &Label| (l.0, l.1));
    pairs.sort_unstable();
    pairs.dedup();
    Ok(Some(ByKey {
        occ,
        sentences,
        sentence_pairs: pairs,
        labels,
    }))
}

/// An owner's decisions over the lines of its keys (`docs` sorted by document): the
/// occurrences of its furniture keys (when `flags`) and the pairs of banded documents sharing
/// an unmasked sentence line.
fn decide(docs: &[DocLines], flags: bool, o: &BoilerplateOptions, max_bucket: usize) -> Reply {
    // The documents numbered by their place here (in the corpus's order, as their indexes).
    let mut occ: Vec<Occurrence> = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        occ.extend(
            d.lines
                .iter()
                .map(|&(k, line, b)| occurrence(k, i as u32, line, b)),
        );
    }
    let bits_of = |d: usize, line: u32| {
        let lines = &docs[d].lines;
        let at = lines.partition_point(|l| l.1 < line);
        lines[at].2
    };
    let mut gathered = Vec::new();
    let mut labels = Vec::new();
    // (document here, line) of the masked lines, sorted.
    let mut masked: Vec<(u32, u32)> = Vec::new();
    if flags {
        let story: Vec<u32> = docs.iter().map(|d| d.story).collect();
        let source: Vec<u32> = docs.iter().map(|d| d.source).collect();
        let date: Vec<Option<i64>> = docs.iter().map(|d| d.date).collect();
        let facts = DocFacts {
            source: &source,
            story: &story,
            date: &date,
        };
        boilerplate::sort_occurrences(&mut occ);
        let sentence = |d: usize, i: usize| bits_of(d, i as u32) & SENTENCE != 0;
        for (s, e) in boilerplate::furniture_runs(&occ, &facts, o, &sentence) {
            for x in &occ[s..e] {
                let b = bits_of(x.1 as usize, x.2);
                let doc = &docs[x.1 as usize];
                gathered.push((x.0, doc.doc, x.2, b));
                if x.6 & FORM_LABEL != 0 {
                    let at = doc.labels.partition_point(|l| l.0 < x.2);
                    labels.push((doc.doc, x.2, doc.labels[at].1));
                }
                if x.4 {
                    masked.push((x.1, x.2));
                }
            }
        }
        masked.sort_unstable();
    }
    drop(occ);
    // The unmasked sentence lines of the banded documents, walked in document and line order
    // beside `masked` (sorted the same way): looking each occurrence's line and mask up took
    // this process longer than deciding the keys.
    let mut entries: Vec<(u64, u32)> = Vec::new();
    let mut m = 0;
    for (i, d) in docs.iter().enumerate() {
        let i = i as u32;
        for &(k, line, b) in &d.lines {
            while masked.get(m).is_some_and(|&x| x < (i, line)) {
                m += 1;
            }
            if d.active
                && b & SENTENCE != 0
                && (b >> FORM_SHIFT) & FORM_LABEL == 0
                && masked.get(m) != Some(&(i, line))
            {
                entries.push((k, d.doc));
            }
        }
    }
    let pairs = crate::pipeline::sentence_pairs_of(entries, max_bucket);
    (gathered, labels, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line's facts survive the one byte they travel in.
    #[test]
    fn a_lines_facts_travel_in_one_byte() {
        for position in [Position::Head, Position::Middle, Position::Tail] {
            for (maskable, letter, sentence, form) in
                [(false, false, true, 0), (true, true, false, 7)]
            {
                let x: Occurrence = (7, 3, 9, position, maskable, letter, form);
                let b = bits(&x, sentence);
                assert_eq!(occurrence(7, 3, 9, b), x);
                assert_eq!(b & SENTENCE != 0, sentence);
            }
        }
    }
}
