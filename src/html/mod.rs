//! The visual report: one self-contained HTML page to check a scan by eye.
//!
//! [`build`] re-reads the corpus once for the raw texts of the documents in clusters and of the
//! flagged boilerplate lines, and assembles a [`Page`]:
//!
//! - an overview (counts and inline SVG plots drawn here, in `svg`);
//! - the cluster table, drawn by the page's script from one short row per cluster (size, lowest
//!   similarity and containment, sources, family, suspect [`flags`], the representative's first
//!   line, the member ids);
//! - per cluster, the representative's raw text and each member as a word diff against it
//!   (`similar`'s Myers diff over Unicode word tokens compared in normalized form, encoded as
//!   compact operations), with every document's flagged lines. The script builds a cluster's
//!   view only when it is opened (`#c123`), so that a page of 200,000 documents stays fast;
//! - the boilerplate templates with their counts, sources, positions and a raw example.
//!
//! The data travel packed: in chunks of about 256 KiB of JSON lines, raw-deflated and
//! embedded as bytes in `<script>` elements of an unknown type (never run) of a windows-1252 page,
//! inflated by the browser's `DecompressionStream` when needed (gen_news 200k: under 60 MB).
//! Everything else in the page is ASCII.
//!
//! Nothing is fetched: data, script and style are inline, and the page's Content-Security-Policy
//! (`default-src 'none'`, the script and the style allowed by their SHA-256 hashes) forbids every
//! other source. Text from the corpus reaches the page only escaped: as HTML text,
//! in JSON with `<`, `>`, `&` as `\u` escapes, packed (where no `<` byte is
//! left), and in the browser through `textContent`.

mod svg;

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use similar::{Algorithm, DiffTag};
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64;

use crate::error::{Error, Result};
use crate::normalize::{line_key, normalize_line, normalize_line_into, NormalizeOptions};
use crate::pipeline::Scan;
use crate::read::{Corpus, Entry, OnError, Record};
use crate::report::Report;

const CSS: &str = include_str!("report.css");
const JS: &str = include_str!("report.js");

/// Uncompressed bytes of cluster details per compressed chunk.
pub(crate) const CHUNK_BYTES: usize = 256 << 10;

/// Kept runs of at most this many tokens between two changes are shown as changed.
const SHORT_KEEP: usize = 3;

/// Characters of the representative's first line shown in the table.
const FIRST_LINE_CHARS: usize = 160;

/// Suspect flags of a cluster (bits of the table rows' flag field).
pub mod flags {
    /// At least 20 members and at least 10 times the median cluster size.
    pub const LARGE: u32 = 1;
    /// With 3 or more members besides the representative, the lowest similarity is more than 0.3
    /// below the median of the others.
    pub const LOW_SIMILARITY: u32 = 2;
    /// At least 4 members, more than half of them from one source.
    pub const ONE_SOURCE: u32 = 4;
    /// Its family links 3 or more clusters.
    pub const FAMILY: u32 = 8;
}

/// The page, ready to be written: ASCII markup and, in `<script>` elements of an unknown type
/// (never run), the packed data.
pub struct Page {
    head: String,
    blobs: Vec<(String, Vec<u8>)>,
    tail: String,
}

impl Page {
    /// Writes the page.
    pub fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(self.head.as_bytes())?;
        for (id, bytes) in &self.blobs {
            write!(w, "<script type=\"application/x-syndic\" id=\"{id}\">")?;
            w.write_all(bytes)?;
            w.write_all(b"</script>\n")?;
        }
        w.write_all(self.tail.as_bytes())
    }

    /// The whole page.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v).expect("writing to memory");
        v
    }
}

/// Escapes text for HTML text and attribute values of the page (which is ASCII outside its
/// packed data: other characters become character references).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if !c.is_ascii() => out.push_str(&format!("&#x{:X};", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// JSON to embed in a `<script>` block, in ASCII: `<`, `>`, `&` (which JSON has only inside
/// strings) and every non-ASCII character become `\u` escapes, so that no `</script>` or `<!--`
/// can appear.
pub(crate) fn script_json(v: &impl serde::Serialize) -> String {
    let s = serde_json::to_string(v).expect("serializes");
    let mut out = String::with_capacity(s.len());
    let mut units = [0u16; 2];
    for c in s.chars() {
        match c {
            '<' | '>' | '&' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if !c.is_ascii() => {
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04x}", u));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The escape byte of [`pack`]'s output.
const ESC: u8 = 0x01;

/// Packs text for the page: encoded as windows-1256 where that is shorter (Arabic letters take
/// one byte instead of two; `&` becomes `&amp;` and characters it lacks become `&#N;`, which the
/// script undoes), raw-deflated, and made safe as raw text of a `<script>` element of a
/// windows-1252 page, where every byte stands for one character: NUL (read as U+FFFD), CR (read
/// as LF), `<` (could end the element) and the escape byte itself become the escape byte and the
/// byte plus 0x40. The first byte says the text encoding: `w` (windows-1256) or `u` (UTF-8).
pub(crate) fn pack(text: &str) -> Vec<u8> {
    let amp = text.replace('&', "&amp;");
    let (wide, _, _) = encoding_rs::WINDOWS_1256.encode(&amp);
    let (tag, bytes) = if wide.len() < text.len() {
        (b'w', &wide[..])
    } else {
        (b'u', text.as_bytes())
    };
    let z = {
        use flate2::{write::DeflateEncoder, Compression};
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
        enc.write_all(bytes).expect("writing to memory");
        enc.finish().expect("writing to memory")
    };
    let mut out = Vec::with_capacity(z.len() + z.len() / 50 + 1);
    out.push(tag);
    for b in z {
        if matches!(b, 0 | ESC | b'\r' | b'<') {
            out.push(ESC);
            out.push(b + 0x40);
        } else {
            out.push(b);
        }
    }
    out
}

fn sha256_b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
}

/// The Content-Security-Policy of the page: nothing but its own inline script and style.
pub(crate) fn csp() -> String {
    format!(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; base-uri 'none'; form-action 'none'",
        sha256_b64(JS),
        sha256_b64(CSS)
    )
}

/// One diff operation against the representative.
#[derive(Debug, PartialEq)]
enum Op {
    /// This many UTF-16 code units of the representative, unchanged.
    Keep(usize),
    /// This many UTF-16 code units of the representative, not in the member.
    Delete(usize),
    /// Text of the member, not in the representative.
    Insert(String),
}

fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// The word tokens of a text (Unicode word boundaries, as `similar`'s word diff cuts them) and
/// their comparison keys: a word by its normalized form (so that spelling variants the scan
/// folds, such as hamza forms, diacritics or letter case, do not count as edits), punctuation
/// (which normalization drops) as one, a line end by itself (so that both texts keep their own
/// line numbering) and other white space as one.
fn tokens<'a>(
    text: &'a str,
    norm: &NormalizeOptions,
    buf: &mut String,
) -> (Vec<&'a str>, Vec<u64>) {
    let space = xxh3_64(b" ");
    let mut toks = Vec::new();
    let mut keys = Vec::new();
    for t in text.split_word_bounds() {
        let key = if t.contains('\n') {
            xxh3_64(b"\n")
        } else if t.chars().all(char::is_whitespace) {
            space
        } else {
            buf.clear();
            normalize_line_into(t, norm, buf);
            let k = buf.trim();
            if k.is_empty() {
                // Punctuation, which normalization drops: one quotation mark is as good as another.
                xxh3_64(b"")
            } else {
                xxh3_64(k.as_bytes()) ^ 1
            }
        };
        toks.push(t);
        keys.push(key);
    }
    (toks, keys)
}

/// The member `new` as word-level operations on the representative `old`: runs of kept and
/// deleted representative text (counted in UTF-16 code units, as the page's script indexes
/// strings) and inserted text, adjacent runs of one kind merged. Words equal after normalization
/// are kept (shown as the representative has them). A pair that takes more than two seconds gets
/// a correct but coarser diff.
#[cfg(test)]
fn diff_ops(old: &str, new: &str, norm: &NormalizeOptions) -> Vec<Op> {
    let mut buf = String::new();
    let old_tokens = tokens(old, norm, &mut buf);
    diff_tokens(&old_tokens, new, norm, &mut buf)
}

/// [`diff_ops`] with the representative already cut into tokens.
fn diff_tokens(
    (old_toks, old_keys): &(Vec<&str>, Vec<u64>),
    new: &str,
    norm: &NormalizeOptions,
    buf: &mut String,
) -> Vec<Op> {
    let (new_toks, new_keys) = tokens(new, norm, buf);
    let deadline = Instant::now() + Duration::from_secs(2);
    let diff = similar::capture_diff_slices_deadline(
        Algorithm::Myers,
        old_keys,
        &new_keys,
        Some(deadline),
    );
    // Prefix sums over the tokens: UTF-16 offsets in old, byte offsets in new.
    let mut old_at = vec![0usize];
    for t in old_toks {
        old_at.push(old_at.last().unwrap() + utf16_len(t));
    }
    let mut new_at = vec![0usize];
    for t in &new_toks {
        new_at.push(new_at.last().unwrap() + t.len());
    }
    let mut ops: Vec<Op> = Vec::new();
    // Within a changed passage, deletions gather before insertions.
    let mut push = |op: Op| {
        let k = ops.len();
        match (op, k) {
            (Op::Keep(0) | Op::Delete(0), _) => {}
            (Op::Insert(t), _) if t.is_empty() => {}
            (Op::Keep(m), _) => match ops.last_mut() {
                Some(Op::Keep(n)) => *n += m,
                _ => ops.push(Op::Keep(m)),
            },
            (Op::Insert(t), _) => match ops.last_mut() {
                Some(Op::Insert(s)) => s.push_str(&t),
                _ => ops.push(Op::Insert(t)),
            },
            (Op::Delete(m), k) => match (k.checked_sub(2).map(|j| &ops[j]), ops.last()) {
                (Some(Op::Delete(_)), Some(Op::Insert(_))) => {
                    if let Op::Delete(n) = &mut ops[k - 2] {
                        *n += m;
                    }
                }
                (_, Some(Op::Delete(_))) => {
                    if let Some(Op::Delete(n)) = ops.last_mut() {
                        *n += m;
                    }
                }
                (_, Some(Op::Insert(_))) => {
                    let ins = ops.pop().expect("an insertion");
                    ops.push(Op::Delete(m));
                    ops.push(ins);
                }
                _ => ops.push(Op::Delete(m)),
            },
        }
    };
    for (i, op) in diff.iter().enumerate() {
        let (mut tag, o, n) = op.as_tag_tuple();
        // A short run of kept tokens (white space, or a word and its spaces) between two
        // changes is shown as changed: an edited passage reads as what was there and what is
        // there now, not as words alternating with kept spaces.
        let between = i > 0
            && i + 1 < diff.len()
            && diff[i - 1].tag() != DiffTag::Equal
            && diff[i + 1].tag() != DiffTag::Equal;
        if tag == DiffTag::Equal && between && o.len() <= SHORT_KEEP {
            tag = DiffTag::Replace;
        }
        let old_len = old_at[o.end] - old_at[o.start];
        let inserted = || new[new_at[n.start]..new_at[n.end]].to_string();
        match tag {
            DiffTag::Equal => push(Op::Keep(old_len)),
            DiffTag::Delete => push(Op::Delete(old_len)),
            DiffTag::Insert => push(Op::Insert(inserted())),
            DiffTag::Replace => {
                push(Op::Delete(old_len));
                push(Op::Insert(inserted()));
            }
        }
    }
    ops
}

fn ops_json(ops: &[Op]) -> Value {
    Value::Array(
        ops.iter()
            .map(|op| match op {
                Op::Keep(n) => json!(n),
                Op::Delete(n) => json!(-(*n as i64)),
                Op::Insert(s) => json!(s),
            })
            .collect(),
    )
}

/// Calls `f` with every document of the scan and its record, in input order.
fn each_doc(
    corpus: &Corpus,
    scan: &Scan,
    report: &Report,
    mut f: impl FnMut(usize, Record) -> Result<()>,
) -> Result<()> {
    let mut next = 0usize;
    let changed = |at: &str| Error::Input {
        path: at.into(),
        source: io::Error::other("the input changed since it was scanned"),
    };
    for entry in corpus.records(&report.params.fields, OnError::Skip) {
        let rec = match entry? {
            Entry::Doc(r) => r,
            Entry::Skipped { .. } => continue,
        };
        let Some(doc) = scan.docs.get(next) else {
            break;
        };
        // Records the scan skipped (a repeated id) have no document.
        if doc.at != rec.at {
            continue;
        }
        if doc.id != rec.id {
            return Err(changed(&rec.at.to_string()));
        }
        f(next, rec)?;
        next += 1;
    }
    match scan.docs.get(next) {
        None => Ok(()),
        Some(doc) => Err(changed(&doc.at.to_string())),
    }
}

/// Where each document stands: its cluster and its index among the members.
fn roles(scan: &Scan) -> Vec<Option<(u32, u32)>> {
    let mut role = vec![None; scan.docs.len()];
    for (c, cl) in scan.clusters.iter().enumerate() {
        for (m, mem) in cl.members.iter().enumerate() {
            role[mem.doc as usize] = Some((c as u32, m as u32));
        }
    }
    role
}

/// What the corpus re-read gives: every representative's text, each member's diff, and a raw
/// example and the sources of every boilerplate template.
struct Texts {
    reps: Vec<String>,
    /// Per cluster, per member (the representative's entry empty).
    ops: Vec<Vec<Vec<Op>>>,
    examples: Vec<Option<(String, String)>>,
    template_sources: Vec<BTreeMap<String, u32>>,
}

fn read_texts(corpus: &Corpus, scan: &Scan, report: &Report) -> Result<Texts> {
    let role = roles(scan);
    let n = scan.clusters.len();
    let mut t = Texts {
        reps: vec![String::new(); n],
        ops: scan
            .clusters
            .iter()
            .map(|c| c.members.iter().map(|_| Vec::new()).collect())
            .collect(),
        examples: vec![None; report.boilerplate.templates.len()],
        template_sources: vec![BTreeMap::new(); report.boilerplate.templates.len()],
    };
    let by_key: HashMap<u64, usize> = scan
        .boilerplate
        .templates
        .iter()
        .enumerate()
        .map(|(i, tp)| (tp.key, i))
        .collect();
    let norm = &report.params.normalize;
    let mut rep_seen = vec![false; n];
    // Members read before their representative wait here.
    let mut pending: Vec<Vec<(u32, String)>> = vec![Vec::new(); n];
    let mut jobs: Vec<(u32, u32, String)> = Vec::new();
    // Diffs in parallel, the representative of each cluster cut into tokens once.
    let flush = |jobs: &mut Vec<(u32, u32, String)>, t: &mut Texts| {
        jobs.sort_by_key(|j| j.0);
        let done: Vec<(u32, u32, Vec<Op>)> = jobs
            .par_chunk_by(|a, b| a.0 == b.0)
            .flat_map_iter(|group| {
                let mut buf = String::new();
                let rep = tokens(&t.reps[group[0].0 as usize], norm, &mut buf);
                group
                    .iter()
                    .map(|(c, m, text)| (*c, *m, diff_tokens(&rep, text, norm, &mut buf)))
                    .collect::<Vec<_>>()
            })
            .collect();
        jobs.clear();
        for (c, m, ops) in done {
            t.ops[c as usize][m as usize] = ops;
        }
    };
    each_doc(corpus, scan, report, |d, rec| {
        if scan.boilerplate.mask.any(d) && !by_key.is_empty() {
            let flagged = scan.boilerplate.mask.flagged(d);
            for (i, line) in rec.text.split('\n').enumerate() {
                if flagged.binary_search(&(i as u32)).is_err() {
                    continue;
                }
                let key = line_key(&normalize_line(line, norm));
                if let Some(&k) = by_key.get(&key) {
                    if t.examples[k].is_none() {
                        t.examples[k] = Some((line.to_string(), rec.id.clone()));
                    }
                    let src = rec.source.clone().unwrap_or_default();
                    *t.template_sources[k].entry(src).or_default() += 1;
                }
            }
        }
        let Some((c, m)) = role[d] else {
            return Ok(());
        };
        let cu = c as usize;
        if scan.clusters[cu].representative as usize == d {
            t.reps[cu] = rec.text;
            rep_seen[cu] = true;
            jobs.extend(pending[cu].drain(..).map(|(m, text)| (c, m, text)));
        } else if rep_seen[cu] {
            jobs.push((c, m, rec.text));
        } else {
            pending[cu].push((m, rec.text));
        }
        if jobs.len() >= 4096 {
            flush(&mut jobs, &mut t);
        }
        Ok(())
    })?;
    flush(&mut jobs, &mut t);
    Ok(t)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let h = v.len() / 2;
    if v.len() % 2 == 1 {
        v[h]
    } else {
        (v[h - 1] + v[h]) / 2.0
    }
}

/// The first line of a text that has a letter or digit and is not flagged, cut short.
fn first_line(text: &str, flagged: &[u32]) -> String {
    let pick = text
        .split('\n')
        .enumerate()
        .find(|(i, l)| {
            flagged.binary_search(&(*i as u32)).is_err() && l.chars().any(char::is_alphanumeric)
        })
        .or_else(|| {
            text.split('\n')
                .enumerate()
                .find(|(_, l)| !l.trim().is_empty())
        })
        .map_or("", |(_, l)| l.trim());
    let mut out: String = pick.chars().take(FIRST_LINE_CHARS).collect();
    if pick.chars().nth(FIRST_LINE_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// Why a member joined: the report's `joined_by` where it has one; otherwise what its scores
/// against the representative show.
fn joined_by(member: &crate::report::MemberOut, report: &Report) -> Value {
    if let Ok(Value::Object(o)) = serde_json::to_value(member) {
        if let Some(v) = o.get("joined_by") {
            return v.clone();
        }
    }
    let why = if member.exact {
        "exact"
    } else if member.similarity >= report.params.threshold {
        "jaccard"
    } else if report
        .params
        .containment
        .is_some_and(|c| member.containment >= c)
    {
        "containment"
    } else {
        "through another member"
    };
    json!(why)
}

/// The suspect flags of every cluster.
fn suspect_flags(report: &Report) -> Vec<u32> {
    let mut sizes: Vec<f64> = report.clusters.iter().map(|c| c.size as f64).collect();
    let median_size = median(&mut sizes);
    let mut family_clusters: HashMap<u32, u32> = HashMap::new();
    for c in &report.clusters {
        *family_clusters.entry(c.family).or_default() += 1;
    }
    report
        .clusters
        .iter()
        .map(|c| {
            let mut f = 0;
            if c.size >= 20 && c.size as f64 >= 10.0 * median_size {
                f |= flags::LARGE;
            }
            let mut sims: Vec<f64> = c.members.iter().skip(1).map(|m| m.similarity).collect();
            if sims.len() >= 3 {
                sims.sort_by(f64::total_cmp);
                let lowest = sims[0];
                if lowest < median(&mut sims[1..]) - 0.3 {
                    f |= flags::LOW_SIMILARITY;
                }
            }
            let mut by_source: HashMap<&str, u32> = HashMap::new();
            for m in &c.members {
                if let Some(s) = &m.source {
                    *by_source.entry(s).or_default() += 1;
                }
            }
            let top = by_source.values().copied().max().unwrap_or(0);
            if c.size >= 4 && top * 2 > c.size {
                f |= flags::ONE_SOURCE;
            }
            if family_clusters[&c.family] >= 3 {
                f |= flags::FAMILY;
            }
            f
        })
        .collect()
}

/// Builds the page of a finished scan: `report` is [`crate::report::build`]'s report of `scan`,
/// and `corpus` the inputs the scan read (read again here for the raw texts).
pub fn build(corpus: &Corpus, scan: &Scan, report: &Report) -> Result<Page> {
    let texts = read_texts(corpus, scan, report)?;
    let flags = suspect_flags(report);
    let mut family_clusters: HashMap<u32, u32> = HashMap::new();
    for c in &report.clusters {
        *family_clusters.entry(c.family).or_default() += 1;
    }

    // Details, one JSON line per cluster, packed in chunks; and one table row per cluster.
    let mut chunks: Vec<String> = Vec::new();
    let mut chunk_first: Vec<u32> = Vec::new();
    let mut buf = String::new();
    let mut rows = Vec::with_capacity(report.clusters.len());
    for (c, (cl, out)) in scan.clusters.iter().zip(&report.clusters).enumerate() {
        if buf.is_empty() {
            chunk_first.push(c as u32);
        }
        let rep_flagged = scan.boilerplate.mask.flagged(cl.representative as usize);
        let mut sources: Vec<&str> = out
            .members
            .iter()
            .map(|m| m.source.as_deref().unwrap_or(""))
            .collect();
        sources.sort_unstable();
        sources.dedup();
        let members: Vec<Value> = cl
            .members
            .iter()
            .zip(&out.members)
            .enumerate()
            .map(|(m, (mem, mo))| {
                let is_rep = mem.doc == cl.representative;
                // [source (index in the row's sources), date, similarity, containment,
                // exact (0/1), joined by, flagged lines, diff ops]; the representative's last
                // two fields are null. The ids are the row's.
                let src = sources
                    .binary_search(&mo.source.as_deref().unwrap_or(""))
                    .unwrap_or(0);
                json!([
                    src,
                    mo.date,
                    mo.similarity,
                    mo.containment,
                    u8::from(mo.exact),
                    if is_rep {
                        Value::Null
                    } else {
                        joined_by(mo, report)
                    },
                    scan.boilerplate.mask.flagged(mem.doc as usize),
                    if is_rep {
                        Value::Null
                    } else {
                        ops_json(&texts.ops[c][m])
                    },
                ])
            })
            .collect();
        let detail = json!({ "text": texts.reps[c], "members": members });
        buf.push_str(&serde_json::to_string(&detail).expect("serializes"));
        buf.push('\n');
        if buf.len() >= CHUNK_BYTES {
            chunks.push(std::mem::take(&mut buf));
        }

        let min_of = |f: fn(&crate::report::MemberOut) -> f64| {
            out.members
                .iter()
                .skip(1)
                .map(f)
                .fold(f64::INFINITY, f64::min)
        };
        let ids: Vec<&str> = out.members.iter().map(|m| m.id.as_str()).collect();
        rows.push(json!([
            out.id,
            out.size,
            sources.len(),
            min_of(|m| m.similarity),
            min_of(|m| m.containment),
            out.family,
            family_clusters[&out.family],
            flags[c],
            first_line(&texts.reps[c], &rep_flagged),
            ids,
            sources,
            chunk_first.len() - 1,
        ]));
    }
    if !buf.is_empty() {
        chunks.push(buf);
    }
    drop(texts.reps);
    let rows = serde_json::to_string(&rows).expect("serializes");
    let mut blobs: Vec<(String, Vec<u8>)> = std::iter::once(&rows)
        .chain(&chunks)
        .collect::<Vec<_>>()
        .par_iter()
        .map(|text| pack(text))
        .collect::<Vec<_>>()
        .into_iter()
        .enumerate()
        .map(|(k, bytes)| match k {
            0 => ("zr".to_string(), bytes),
            k => (format!("z{}", k - 1), bytes),
        })
        .collect();
    blobs.shrink_to_fit();
    let meta = json!({
        "chunks": chunk_first,
        "threshold": report.params.threshold,
        "containment": report.params.containment,
    });

    let mut head = String::with_capacity(1 << 20);
    // windows-1252: every byte is one character, so that the packed data needs no base64.
    head.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"windows-1252\">\n");
    head.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n",
        csp()
    ));
    head.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    head.push_str("<meta name=\"generator\" content=\"syndic\">\n<title>syndic report</title>\n");
    head.push_str(&format!("<style>{CSS}</style>\n</head>\n"));
    head.push_str("<body data-ready=\"0\" data-errors=\"0\">\n");
    head.push_str(&overview(scan, report));
    head.push_str(&cluster_section(report.clusters.len()));
    head.push_str(&boilerplate_section(
        report,
        &texts.examples,
        &texts.template_sources,
    ));
    head.push_str(&format!(
        "<script type=\"application/json\" id=\"syndic-meta\">{}</script>\n",
        script_json(&meta)
    ));
    let tail = format!("<script>{JS}</script>\n</body>\n</html>\n");
    debug_assert!(head.is_ascii() && tail.is_ascii());
    Ok(Page { head, blobs, tail })
}

fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn overview(scan: &Scan, report: &Report) -> String {
    let s = &report.stats;
    let mut h = String::new();
    h.push_str("<header><h1>syndic report</h1><nav><a href=\"#overview\">Overview</a> <a href=\"#clusters\">Clusters</a> <a href=\"#boilerplate\">Boilerplate</a></nav></header>\n");
    h.push_str("<section id=\"overview\"><h2>Overview</h2><dl class=\"counts\">");
    let items = [
        ("documents", s.documents),
        ("clusters", s.clusters),
        ("documents in clusters", s.documents_in_clusters),
        ("exact duplicates", s.exact_duplicates),
        ("near duplicates", s.near_duplicates),
        ("duplicates removed", s.removed),
        ("documents kept", s.kept),
        ("boilerplate lines", report.boilerplate.lines_flagged),
        (
            "documents with boilerplate",
            report.boilerplate.documents_with_flags,
        ),
        (
            "boilerplate templates",
            report.boilerplate.templates.len() as u64,
        ),
        ("records skipped", s.skipped.total),
    ];
    for (k, v) in items {
        h.push_str(&format!("<div><dt>{k}</dt><dd>{}</dd></div>", num(v)));
    }
    h.push_str("</dl>\n<div class=\"plots\">\n");
    h.push_str(&svg::plots(scan, report));
    h.push_str("</div></section>\n");
    h
}

fn cluster_section(n: usize) -> String {
    let head = [
        ("0", "id", "cluster id"),
        ("1", "size", "members"),
        ("2", "sources", "distinct sources"),
        (
            "3",
            "lowest sim.",
            "lowest similarity of a member with the representative",
        ),
        ("4", "lowest cont.", "lowest containment of a member"),
        ("5", "family", "family id (clusters in the family)"),
        ("7", "flags", "suspect flags"),
        ("8", "representative", "first line of the representative"),
    ];
    let mut h = format!(
        "<section id=\"clusters\"><h2>Clusters <small id=\"shown\">{n}</small></h2>\n\
<form id=\"filters\" autocomplete=\"off\">\
<label>search <input type=\"search\" id=\"q\" placeholder=\"id, source or text\"></label> \
<label><input type=\"checkbox\" id=\"qtext\"> in full texts</label> \
<label>size &ge; <input type=\"number\" id=\"fsize\" min=\"0\" step=\"1\"></label> \
<label>lowest sim. &le; <input type=\"number\" id=\"fsim\" min=\"0\" max=\"1\" step=\"0.05\"></label> \
<label>sources &ge; <input type=\"number\" id=\"fsrc\" min=\"0\" step=\"1\"></label> \
<label>family <input type=\"number\" id=\"ffam\" min=\"0\" step=\"1\"></label> \
<label><input type=\"checkbox\" id=\"fflag\"> suspects only</label>\
</form>\n<div id=\"table\" role=\"table\"><div class=\"thead\" role=\"row\">"
    );
    for (k, label, title) in head {
        h.push_str(&format!(
            "<button type=\"button\" data-sort=\"{k}\" title=\"{title}\">{label}</button>"
        ));
    }
    h.push_str("</div><div id=\"rows\" role=\"rowgroup\"></div></div>\n");
    h.push_str("<p class=\"legend\">Flags: <span class=\"flag\">large</span> at least 20 members and 10 times the median size; <span class=\"flag\">low</span> the lowest similarity is more than 0.3 below the median of the others; <span class=\"flag\">one source</span> more than half the members from one source; <span class=\"flag\">family</span> the family links 3 or more clusters.</p>\n");
    h.push_str("</section>\n<section id=\"view\" hidden></section>\n");
    h
}

fn boilerplate_section(
    report: &Report,
    examples: &[Option<(String, String)>],
    template_sources: &[BTreeMap<String, u32>],
) -> String {
    let b = &report.boilerplate;
    let mut h = format!(
        "<section id=\"boilerplate\"><h2>Boilerplate</h2><p>Status: {}; {} lines flagged in {} documents; {} templates.</p>\n",
        escape(&serde_json::to_value(b.status).map_or(String::new(), |v| v.as_str().unwrap_or("").to_string())),
        num(b.lines_flagged),
        num(b.documents_with_flags),
        b.templates.len()
    );
    if b.templates.is_empty() {
        h.push_str("</section>\n");
        return h;
    }
    h.push_str("<table class=\"templates\"><thead><tr><th>template (normalized)</th><th>raw example</th><th>documents</th><th>sources</th><th>stories</th><th>position</th><th>dates</th><th>reasons</th></tr></thead><tbody>\n");
    for (i, t) in b.templates.iter().enumerate() {
        let tv = serde_json::to_value(t).unwrap_or(Value::Null);
        let example = match (tv.get("example").and_then(Value::as_str), &examples[i]) {
            (Some(e), _) => format!("<bdi dir=\"auto\">{}</bdi>", escape(e)),
            (None, Some((line, id))) => format!(
                "<bdi dir=\"auto\">{}</bdi><br><small>in <bdi>{}</bdi></small>",
                escape(line),
                escape(id)
            ),
            (None, None) => String::new(),
        };
        let mut top: Vec<(&String, &u32)> = template_sources[i].iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = top
            .iter()
            .take(3)
            .map(|(s, n)| format!("<bdi>{}</bdi> ({n})", escape(s)))
            .collect();
        let dates = match (&t.first_date, &t.last_date) {
            (Some(a), Some(z)) => format!("{} &ndash; {}", escape(a), escape(z)),
            _ => String::new(),
        };
        let id_attr = tv
            .get("id")
            .map(|v| format!(" id=\"t{}\"", escape(&v.to_string())))
            .unwrap_or_default();
        h.push_str(&format!(
            "<tr{id_attr}><td dir=\"auto\"><bdi>{}</bdi></td><td dir=\"auto\">{example}</td><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td><td>{} ({:.0}%)</td><td>{dates}</td><td>{}</td></tr>\n",
            escape(&t.sample),
            num(t.documents as u64),
            t.sources,
            top.join(", "),
            t.stories,
            escape(&serde_json::to_value(t.position).map_or(String::new(), |v| v.as_str().unwrap_or("").to_string())),
            t.position_share * 100.0,
            escape(&t.reasons.join(", ")),
        ));
    }
    h.push_str("</tbody></table></section>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(old: &str, ops: &[Op]) -> (String, String) {
        // Returns (the new text rebuilt, the old text rebuilt) from the ops.
        let units: Vec<u16> = old.encode_utf16().collect();
        let (mut pos, mut new, mut back) = (0usize, Vec::new(), Vec::new());
        for op in ops {
            match op {
                Op::Keep(n) => {
                    new.extend_from_slice(&units[pos..pos + n]);
                    back.extend_from_slice(&units[pos..pos + n]);
                    pos += n;
                }
                Op::Delete(n) => {
                    back.extend_from_slice(&units[pos..pos + n]);
                    pos += n;
                }
                Op::Insert(s) => new.extend(s.encode_utf16()),
            }
        }
        assert_eq!(pos, units.len());
        (
            String::from_utf16(&new).unwrap(),
            String::from_utf16(&back).unwrap(),
        )
    }

    #[test]
    fn diff_ops_rebuild_both_texts() {
        let old = "قال وزير الخارجية 😀 إن المحادثات\nمستمرة في فيينا";
        let new = "قال وزير الخارجية الأمريكي 😀 إن المفاوضات\nمستمرة";
        let ops = diff_ops(old, new, &NormalizeOptions::default());
        assert_eq!(apply(old, &ops), (new.to_string(), old.to_string()));
    }

    #[test]
    fn diff_marks_whole_words() {
        let n = NormalizeOptions::default();
        let ops = diff_ops("the talks went on", "the meetings went on", &n);
        assert_eq!(
            ops,
            vec![
                Op::Keep(4),
                Op::Delete(5),
                Op::Insert("meetings".into()),
                Op::Keep(8)
            ]
        );
        // An Arabic word changed in one letter is replaced whole.
        let ops = diff_ops("قال الوزير اليوم", "قال الوزيز اليوم", &n);
        assert!(ops.contains(&Op::Insert("الوزيز".into())), "{ops:?}");
    }

    #[test]
    fn a_rewritten_passage_is_one_deletion_and_one_insertion() {
        let n = NormalizeOptions::default();
        let (old, new) = ("a b c d e f g", "x b y d z f g");
        let ops = diff_ops(old, new, &n);
        assert_eq!(
            ops,
            vec![Op::Delete(9), Op::Insert("x b y d z".into()), Op::Keep(4)]
        );
        assert_eq!(apply(old, &ops), (new.to_string(), old.to_string()));
    }

    #[test]
    fn spelling_variants_the_scan_folds_are_not_edits() {
        let n = NormalizeOptions::default();
        // Hamza forms, case and tatweel fold; a line end stays a line end.
        assert_eq!(
            diff_ops("أن Kerry قال", "ان kerry قـال", &n),
            vec![Op::Keep(12)]
        );
        assert_eq!(
            diff_ops("a b", "a\nb", &n),
            vec![
                Op::Keep(1),
                Op::Delete(1),
                Op::Insert("\n".into()),
                Op::Keep(1)
            ]
        );
    }

    #[test]
    fn equal_texts_are_one_keep() {
        let n = NormalizeOptions::default();
        assert_eq!(diff_ops("a b\nc", "a b\nc", &n), vec![Op::Keep(5)]);
        assert_eq!(diff_ops("", "", &n), vec![]);
    }

    #[test]
    fn json_in_script_cannot_end_it() {
        let s = script_json(&json!([
            "</script><script>alert(1)</script>",
            "<!--",
            "a&b"
        ]));
        assert!(
            !s.contains('<') && !s.contains('>') && !s.contains('&'),
            "{s}"
        );
        assert!(s.is_ascii());
        let back: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back[0], "</script><script>alert(1)</script>");
        assert_eq!(back[1], "<!--");
    }

    /// What the page's script does with packed data, with the browser's decoders.
    fn unpack(packed: &[u8]) -> String {
        use std::io::Read;
        // The HTML parser's reading of the bytes, then the script's mapping back.
        let (chars, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(packed);
        let chars: String = chars
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\0', "\u{FFFD}");
        let mut back = HashMap::new();
        for b in 0..=255u8 {
            let one = [b];
            let (c, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&one);
            back.insert(c.chars().next().unwrap(), b);
        }
        let mut bytes = Vec::new();
        let mut it = chars.chars().skip(1);
        while let Some(c) = it.next() {
            let b = back[&c];
            bytes.push(if b == ESC {
                back[&it.next().unwrap()] - 0x40
            } else {
                b
            });
        }
        let mut raw = Vec::new();
        flate2::read::DeflateDecoder::new(&bytes[..])
            .read_to_end(&mut raw)
            .unwrap();
        if packed[0] == b'w' {
            let (t, _) = encoding_rs::WINDOWS_1256.decode_without_bom_handling(&raw);
            let mut out = String::new();
            let mut rest = &t[..];
            while let Some(i) = rest.find('&') {
                out.push_str(&rest[..i]);
                let end = rest[i..].find(';').unwrap() + i;
                let e = &rest[i + 1..end];
                if e == "amp" {
                    out.push('&');
                } else {
                    out.push(char::from_u32(e[1..].parse().unwrap()).unwrap());
                }
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            out
        } else {
            String::from_utf8(raw).unwrap()
        }
    }

    #[test]
    fn packed_text_survives_the_page() {
        let arabic = "قال وزير الخارجية الأمريكي جون كيري ١٢٣ إن «المحادثات» مستمرة &#65; &amp; </script>\r\n\0 😀 ";
        let packed = pack(&arabic.repeat(50));
        assert_eq!(packed[0], b'w');
        assert!(!packed.contains(&b'<') && !packed.contains(&0) && !packed.contains(&b'\r'));
        assert_eq!(unpack(&packed), arabic.repeat(50));
        let cjk = "東京 </script> &amp; 😀".repeat(40);
        let packed = pack(&cjk);
        assert_eq!(packed[0], b'u');
        assert_eq!(unpack(&packed), cjk);
        // Every byte value, through the escapes.
        let all: String = (0..2000u32).filter_map(char::from_u32).collect();
        assert_eq!(unpack(&pack(&all)), all);
    }

    #[test]
    fn page_code_is_ascii() {
        assert!(JS.is_ascii() && CSS.is_ascii());
        assert_eq!(escape("قال"), "&#x642;&#x627;&#x644;");
        assert_eq!(script_json(&json!("ق😀")), "\"\\u0642\\ud83d\\ude00\"");
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\" title='y'>&</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn csp_forbids_other_sources_and_hashes_the_inline_code() {
        let c = csp();
        assert!(c.starts_with("default-src 'none';"));
        assert!(c.contains(&format!("'sha256-{}'", sha256_b64(JS))));
        assert!(!c.contains("unsafe"));
    }

    #[test]
    fn first_line_skips_flagged_and_letterless_lines() {
        assert_eq!(
            first_line("MENU\n---\nKerry said\nmore", &[0]),
            "Kerry said"
        );
        let long = "x".repeat(200);
        assert_eq!(first_line(&long, &[]).chars().count(), FIRST_LINE_CHARS + 1);
    }

    #[test]
    fn thousands() {
        assert_eq!(num(0), "0");
        assert_eq!(num(1234567), "1,234,567");
    }
}
