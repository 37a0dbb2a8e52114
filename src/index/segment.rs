//! One immutable segment file: the documents of one add (or of one merge), everything the index
//! needs of each in fixed-width tables and sorted postings, read through a memory map.
//!
//! Layout (all integers little-endian; every section starts at a multiple of 8):
//!
//! ```text
//! header (256 bytes): magic "SYNDSEG1", num_perm u32, pad u32, docs u64,
//!                     then (offset u64, length u64) of each section below
//! recs   docs x 72 bytes: seq u64, cluster u64, exact hash u128, date i64 (i64::MIN: none),
//!        heap offset u64, text offset u64, text length u32, flags u32, set size u32, gen u32
//! heap   per document: id, source, raw date, each as u32 length (u32::MAX: none) + UTF-8
//! text   per document: the raw text, one zstd frame
//! sigs   docs x num_perm u32: the final signature (furniture lines left out)
//! bands  sorted (band key u64, document u32) of every active document and band
//! ids    sorted (xxh3 of the id u64, document u32)
//! lines  sorted (line key u64, document u32), each distinct non-empty line key of a document
//! low    docs x (4 + num_perm) bytes: set size u32, then the low byte of each signature value
//! fence  the band key u64 of every FENCE-th entry of `bands` (0, FENCE, 2 FENCE, ...)
//! ```
//!
//! A check reads the sections it needs for every candidate (`fence`, band postings, `low`,
//! records) and the ids of its matches through the map, and the signatures of the candidates
//! `low` leaves open by positioned reads: the kernel maps a touched page with its page-cache
//! folio, so a map's touched pages soon count in the process's resident memory as whole
//! sections, and the signatures are the largest. `low` bounds a candidate's similarity from
//! above (two equal values have equal low bytes), so most candidates are rejected from 132
//! bytes.
//!
//! The format is hand-written because it is the product: fixed-width tables and sorted postings
//! are what lets a check touch a few pages of a large index, and an add write only its own.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use memmap2::Mmap;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use super::fail_point;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"SYNDSEG2";
const HEADER: usize = 256;
const REC: usize = 72;
const ENTRY: usize = 12;
const SECTIONS: usize = 9;
/// One band key of this many entries is kept in the `fence` section.
const FENCE: usize = 64;
/// A string absent (no source, no date).
const NONE: u32 = u32::MAX;
/// A date absent.
const NO_DATE: i64 = i64::MIN;

#[derive(Clone, Copy)]
enum Sec {
    Recs = 0,
    Heap,
    Text,
    Sigs,
    Bands,
    Ids,
    Lines,
    Low,
    Fence,
}

const FLAG_EMPTY: u32 = 1;
const FLAG_DATE_UNPARSED: u32 = 2;

/// One document as a segment holds it, in memory (to write a segment, or as read back for a
/// merge).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DocData<'a> {
    /// Place in the index's order of addition (the export's document order).
    pub seq: u64,
    /// The `seq` of the representative of its cluster when it was added (itself when alone).
    pub cluster: u64,
    pub hash: u128,
    pub date: Option<i64>,
    pub date_unparsed: bool,
    pub empty: bool,
    pub id: String,
    pub source: Option<String>,
    pub date_raw: Option<String>,
    /// The raw text, zstd-compressed (borrowed from a segment in a merge).
    pub text_z: Cow<'a, [u8]>,
    /// The final signature (all `sketch::EMPTY` when inactive).
    pub sig: Cow<'a, [u32]>,
    /// Shingle-set size of the signed text; 0: the document is never matched.
    pub size: u32,
    /// The furniture generation the signature was taken with.
    pub gen: u32,
    /// One key per band (none when inactive).
    pub band_keys: Vec<u64>,
    /// Distinct non-empty line keys.
    pub line_keys: Vec<u64>,
}

/// The fixed-width part of one document.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    pub seq: u64,
    pub cluster: u64,
    pub hash: u128,
    pub date: Option<i64>,
    pub date_unparsed: bool,
    pub empty: bool,
    pub size: u32,
    pub gen: u32,
    heap: u64,
    text: u64,
    text_len: u32,
}

fn put_str(v: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => v.extend_from_slice(&NONE.to_le_bytes()),
        Some(s) => {
            v.extend_from_slice(&(s.len() as u32).to_le_bytes());
            v.extend_from_slice(s.as_bytes());
        }
    }
}

fn put_entries(v: &mut Vec<u8>, mut e: Vec<(u64, u32)>) {
    e.sort_unstable();
    for (k, d) in e {
        v.extend_from_slice(&k.to_le_bytes());
        v.extend_from_slice(&d.to_le_bytes());
    }
}

/// A segment ready to write: its sections in order, the texts left where the documents hold
/// them (a segment is written from these parts, never gathered into one buffer: the texts are
/// most of its bytes).
pub(crate) struct Encoded<'a> {
    /// Header, records and strings, padded.
    head: Vec<u8>,
    /// Each document's compressed text, in order.
    texts: Vec<&'a [u8]>,
    /// Padding after the texts, then signatures and postings.
    tail: Vec<u8>,
}

impl Encoded<'_> {
    /// The file's bytes, part by part.
    pub fn parts(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.head.as_slice())
            .chain(self.texts.iter().copied())
            .chain(std::iter::once(self.tail.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.parts().map(<[u8]>::len).sum()
    }
}

fn pad8(len: usize) -> usize {
    len.next_multiple_of(8) - len
}

/// The segment holding `docs` (in `seq` order).
pub(crate) fn encode<'a>(num_perm: usize, docs: &'a [DocData]) -> Encoded<'a> {
    let n = docs.len();
    let mut heap = Vec::new();
    let mut text_len = 0u64;
    let mut recs = Vec::with_capacity(n * REC);
    for d in docs {
        let heap_off = heap.len() as u64;
        put_str(&mut heap, Some(&d.id));
        put_str(&mut heap, d.source.as_deref());
        put_str(&mut heap, d.date_raw.as_deref());
        let text_off = text_len;
        text_len += d.text_z.len() as u64;
        let flags = (d.empty as u32 * FLAG_EMPTY) | (d.date_unparsed as u32 * FLAG_DATE_UNPARSED);
        recs.extend_from_slice(&d.seq.to_le_bytes());
        recs.extend_from_slice(&d.cluster.to_le_bytes());
        recs.extend_from_slice(&d.hash.to_le_bytes());
        recs.extend_from_slice(&d.date.unwrap_or(NO_DATE).to_le_bytes());
        recs.extend_from_slice(&heap_off.to_le_bytes());
        recs.extend_from_slice(&text_off.to_le_bytes());
        recs.extend_from_slice(&(d.text_z.len() as u32).to_le_bytes());
        recs.extend_from_slice(&flags.to_le_bytes());
        recs.extend_from_slice(&d.size.to_le_bytes());
        recs.extend_from_slice(&d.gen.to_le_bytes());
    }
    let mut sigs = Vec::with_capacity(n * num_perm * 4);
    for d in docs {
        debug_assert_eq!(d.sig.len(), num_perm);
        for v in d.sig.iter() {
            sigs.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut low = Vec::with_capacity(n * (4 + num_perm));
    for d in docs {
        low.extend_from_slice(&d.size.to_le_bytes());
        low.extend(d.sig.iter().map(|&v| v as u8));
    }
    let mut bands = Vec::new();
    let mut ids = Vec::new();
    let mut lines = Vec::new();
    let mut be = Vec::new();
    let mut ie = Vec::with_capacity(n);
    let mut le = Vec::new();
    for (i, d) in docs.iter().enumerate() {
        be.extend(d.band_keys.iter().map(|&k| (k, i as u32)));
        ie.push((xxh3_64(d.id.as_bytes()), i as u32));
        le.extend(d.line_keys.iter().map(|&k| (k, i as u32)));
    }
    put_entries(&mut bands, be);
    let fence: Vec<u8> = bands
        .chunks(ENTRY * FENCE)
        .flat_map(|c| c[..8].iter().copied())
        .collect();
    put_entries(&mut ids, ie);
    put_entries(&mut lines, le);

    // Section offsets: each at a multiple of 8 after the header.
    let lens = [
        recs.len(),
        heap.len(),
        text_len as usize,
        sigs.len(),
        bands.len(),
        ids.len(),
        lines.len(),
        low.len(),
        fence.len(),
    ];
    let mut head = vec![0u8; HEADER];
    head[..8].copy_from_slice(MAGIC);
    head[8..12].copy_from_slice(&(num_perm as u32).to_le_bytes());
    head[16..24].copy_from_slice(&(n as u64).to_le_bytes());
    let mut off = HEADER;
    for (s, len) in lens.iter().enumerate() {
        let at = 24 + s * 16;
        head[at..at + 8].copy_from_slice(&(off as u64).to_le_bytes());
        head[at + 8..at + 16].copy_from_slice(&(*len as u64).to_le_bytes());
        off += len + pad8(*len);
    }
    let mut tail = Vec::new();
    for body in [recs, heap] {
        let pad = pad8(body.len());
        head.extend_from_slice(&body);
        head.resize(head.len() + pad, 0);
    }
    tail.resize(pad8(text_len as usize), 0);
    for body in [sigs, bands, ids, lines, low, fence] {
        let pad = pad8(body.len());
        tail.extend_from_slice(&body);
        tail.resize(tail.len() + pad, 0);
    }
    Encoded {
        head,
        texts: docs.iter().map(|d| &d.text_z[..]).collect(),
        tail,
    }
}

/// Writes `bytes` to `path` durably: to a temporary file beside it, synced, then renamed (the
/// folder is synced by the commit that names the file). Returns the xxh3 checksum.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<u64> {
    write_parts(path, std::iter::once(bytes), bytes.len())
}

/// Writes the segment `e` to `path` as [`write_file`] does.
pub(crate) fn write_segment(path: &Path, e: &Encoded) -> Result<u64> {
    write_parts(path, e.parts(), e.len())
}

/// Writes the `len` bytes of `parts` to `path` as [`write_file`] does.
fn write_parts<'b>(path: &Path, parts: impl Iterator<Item = &'b [u8]>, len: usize) -> Result<u64> {
    let err = |e| Error::Output {
        path: path.to_path_buf(),
        source: e,
    };
    let tmp = path.with_extension("tmp");
    fail_point("create")?;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(err)?);
    let mut h = Xxh3::new();
    // A fail point half way, so that a crash test can stop the write there.
    let half = len / 2;
    let mut done = 0;
    for p in parts {
        h.update(p);
        if done <= half && half < done + p.len() {
            let (a, b) = p.split_at(half - done);
            f.write_all(a).map_err(err)?;
            f.flush().map_err(err)?;
            fail_point("write")?;
            f.write_all(b).map_err(err)?;
        } else {
            f.write_all(p).map_err(err)?;
        }
        done += p.len();
    }
    if len == 0 {
        fail_point("write")?;
    }
    let f = f.into_inner().map_err(|e| err(e.into_error()))?;
    fail_point("fsync")?;
    f.sync_all().map_err(err)?;
    drop(f);
    fail_point("rename")?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(h.digest())
}

/// The first of `n` sorted keys (`key_at`) that is not less than `key`. Keys are hashes, spread
/// evenly: interpolation finds the place in a few probes where bisection takes log2(n) (each a
/// likely cache miss in a large map); bisection finishes when the range is small or the guesses
/// stop closing in.
fn lower_bound(n: usize, key: u64, key_at: impl Fn(usize) -> u64) -> usize {
    // Invariant: keys before `lo` are less than `key`, keys from `hi` on are not.
    let (mut lo, mut hi) = (0usize, n);
    let mut guesses = 0;
    while hi - lo > 16 && guesses < 8 {
        guesses += 1;
        let (a, b) = (key_at(lo), key_at(hi - 1));
        if key <= a {
            return lo;
        }
        if key > b {
            return hi;
        }
        // a < key <= b: somewhere in (lo, hi - 1].
        let span = (b - a) as u128;
        let at = lo + (((key - a) as u128 * (hi - 1 - lo) as u128) / span) as usize;
        let at = at.clamp(lo + 1, hi - 1);
        if key_at(at) < key {
            lo = at + 1;
        } else {
            // key_at(at) >= key: the answer is at `at` or before; look just before it.
            if at > lo && key_at(at - 1) < key {
                return at;
            }
            hi = at;
        }
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if key_at(mid) < key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A segment file, mapped.
pub(crate) struct Segment {
    /// The file's name in the index folder.
    pub name: String,
    map: Mmap,
    /// For positioned reads (see the module's notes).
    file: File,
    docs: usize,
    num_perm: usize,
    secs: [(usize, usize); SECTIONS],
    /// Where each prefix of the band keys starts in the fence (see [`Radix`]).
    radix: Radix,
}

/// A table over the fence: for each value `p` of a key's top `bits` bits, the first fence entry
/// whose key's prefix is at least `p` (and one more slot, the fence's length). The fence of a
/// large segment is megabytes; a search of it waits for one cache miss after another, where
/// this table (about four fence entries a slot, a quarter of the fence's size) names the few
/// entries, one cache line, that hold the key's place. Built when the segment is opened, from
/// the fence alone.
struct Radix {
    bits: u32,
    first: Vec<u32>,
}

impl Radix {
    fn new(fence: &[u8]) -> Radix {
        let m = fence.len() / 8;
        let bits = (m / 4).max(2).ilog2().min(24);
        let slots = 1usize << bits;
        let mut first = Vec::with_capacity(slots + 1);
        let mut f = 0;
        // Monotone by construction, whatever the fence holds (a damaged file gives wrong
        // answers, which `index verify` finds, never an index out of bounds).
        for p in 0..slots as u64 {
            while f < m && Self::prefix(bits, Self::key(fence, f)) < p {
                f += 1;
            }
            first.push(f as u32);
        }
        first.push(m as u32);
        Radix { bits, first }
    }

    #[inline]
    fn key(fence: &[u8], k: usize) -> u64 {
        u64::from_le_bytes(fence[k * 8..k * 8 + 8].try_into().unwrap())
    }

    #[inline]
    fn prefix(bits: u32, key: u64) -> u64 {
        key >> (64 - bits)
    }

    /// The fence entries `[a, b]` among which the first key not less than `key` is (`b` the
    /// fence's length when it may be none).
    #[inline]
    fn range(&self, key: u64) -> (usize, usize) {
        let p = Self::prefix(self.bits, key) as usize;
        (self.first[p] as usize, self.first[p + 1] as usize)
    }

    /// The slot of `key`, for a prefetch.
    #[inline]
    fn slot(&self, key: u64) -> &u32 {
        &self.first[Self::prefix(self.bits, key) as usize]
    }
}

fn damaged(path: &Path, what: &str) -> Error {
    Error::Index {
        path: path.to_path_buf(),
        msg: format!("damaged segment: {what} (run `syndic index verify`)"),
    }
}

impl Segment {
    /// Maps the segment at `path` and checks its header (not its checksum: `verify` does).
    pub fn open(path: &Path, num_perm: usize) -> Result<Segment> {
        let file = File::open(path).map_err(|e| Error::Index {
            path: path.to_path_buf(),
            msg: format!("cannot open a segment the manifest names: {e}"),
        })?;
        // SAFETY: segment files are never written after their rename; the index's writer only
        // makes new files and removes old ones (a removed file stays mapped until unmapped).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::Index {
            path: path.to_path_buf(),
            msg: format!("cannot map: {e}"),
        })?;
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(damaged(path, "not a syndic segment"));
        }
        let u64_at = |at: usize| u64::from_le_bytes(map[at..at + 8].try_into().unwrap());
        let np = u32::from_le_bytes(map[8..12].try_into().unwrap()) as usize;
        if np != num_perm {
            return Err(damaged(
                path,
                "signature length differs from the manifest's",
            ));
        }
        let docs = u64_at(16) as usize;
        let mut secs = [(0, 0); SECTIONS];
        for (s, sec) in secs.iter_mut().enumerate() {
            let off = u64_at(24 + s * 16) as usize;
            let len = u64_at(24 + s * 16 + 8) as usize;
            if off % 8 != 0 || off.checked_add(len).is_none_or(|end| end > map.len()) {
                return Err(damaged(path, "a section lies outside the file"));
            }
            *sec = (off, len);
        }
        let want = [
            (Sec::Recs, docs * REC),
            (Sec::Sigs, docs * num_perm * 4),
            (Sec::Ids, docs * ENTRY),
            (Sec::Low, docs * (4 + num_perm)),
        ];
        let bands = secs[Sec::Bands as usize].1 / ENTRY;
        if want.iter().any(|&(s, len)| secs[s as usize].1 != len)
            || secs[Sec::Fence as usize].1 != bands.div_ceil(FENCE) * 8
            || secs[Sec::Bands as usize].1 % ENTRY != 0
            || secs[Sec::Lines as usize].1 % ENTRY != 0
        {
            return Err(damaged(
                path,
                "section sizes do not match the document count",
            ));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (off, len) = secs[Sec::Fence as usize];
        let radix = Radix::new(&map[off..off + len]);
        Ok(Segment {
            name,
            map,
            file,
            docs,
            num_perm,
            secs,
            radix,
        })
    }

    pub fn len(&self) -> usize {
        self.docs
    }

    fn sec(&self, s: Sec) -> &[u8] {
        let (off, len) = self.secs[s as usize];
        &self.map[off..off + len]
    }

    pub fn rec(&self, i: usize) -> Rec {
        let r = &self.sec(Sec::Recs)[i * REC..(i + 1) * REC];
        let u64_at = |at: usize| u64::from_le_bytes(r[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(r[at..at + 4].try_into().unwrap());
        let date = u64_at(32) as i64;
        let flags = u32_at(60);
        Rec {
            seq: u64_at(0),
            cluster: u64_at(8),
            hash: u128::from_le_bytes(r[16..32].try_into().unwrap()),
            date: (date != NO_DATE).then_some(date),
            heap: u64_at(40),
            text: u64_at(48),
            text_len: u32_at(56),
            date_unparsed: flags & FLAG_DATE_UNPARSED != 0,
            empty: flags & FLAG_EMPTY != 0,
            size: u32_at(64),
            gen: u32_at(68),
        }
    }

    /// The id, source and raw date of document `i`.
    pub fn strings(&self, i: usize) -> Result<(String, Option<String>, Option<String>)> {
        let heap = self.sec(Sec::Heap);
        let mut at = self.rec(i).heap as usize;
        let mut next = || -> Option<Option<String>> {
            let len = u32::from_le_bytes(heap.get(at..at + 4)?.try_into().ok()?);
            at += 4;
            if len == NONE {
                return Some(None);
            }
            let s = std::str::from_utf8(heap.get(at..at + len as usize)?).ok()?;
            at += len as usize;
            Some(Some(s.to_string()))
        };
        match (next(), next(), next()) {
            (Some(Some(id)), Some(source), Some(date)) => Ok((id, source, date)),
            _ => Err(self.damaged("a document's id, source or date")),
        }
    }

    /// The id of document `i`.
    pub fn id(&self, i: usize) -> Result<String> {
        Ok(self.strings(i)?.0)
    }

    /// `buf.len()` bytes of section `s` from `at` (within the section), by a positioned read.
    fn read(&self, s: Sec, at: usize, buf: &mut [u8]) -> Result<()> {
        let (off, len) = self.secs[s as usize];
        if at.checked_add(buf.len()).is_none_or(|end| end > len) {
            return Err(self.damaged("a read past the end of a section"));
        }
        crate::spill::read_exact_at(&self.file, buf, (off + at) as u64)
            .map_err(|e| self.damaged(&format!("cannot read: {e}")))
    }

    /// The id of document `i`, read in place (ids, sources and dates are a few tens of bytes a
    /// document: a check may map them all).
    pub fn id_ref(&self, i: usize) -> Result<&str> {
        let heap = self.sec(Sec::Heap);
        let at = self.rec(i).heap as usize;
        let id = heap
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .filter(|&len| len != NONE)
            .and_then(|len| heap.get(at + 4..at + 4 + len as usize))
            .and_then(|b| std::str::from_utf8(b).ok());
        id.ok_or_else(|| self.damaged("a document's id"))
    }

    /// The signature of document `i` into `out`, by a positioned read into `b` (the check
    /// path).
    pub fn read_sig(&self, i: usize, b: &mut Vec<u8>, out: &mut Vec<u32>) -> Result<()> {
        b.resize(self.num_perm * 4, 0);
        self.read(Sec::Sigs, i * self.num_perm * 4, b)?;
        out.clear();
        out.extend(
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap())),
        );
        Ok(())
    }

    /// The set size of document `i` and the low byte of each value of its signature.
    pub fn low(&self, i: usize) -> (u32, &[u8]) {
        let row = self.low_row(i);
        (u32::from_le_bytes(row[..4].try_into().unwrap()), &row[4..])
    }

    /// The bytes of document `i`'s row of [`Segment::low`] (for a prefetch).
    pub fn low_row(&self, i: usize) -> &[u8] {
        let w = 4 + self.num_perm;
        &self.sec(Sec::Low)[i * w..(i + 1) * w]
    }

    /// Unmaps the pages of this segment that reads through the map have mapped (merges and
    /// exports read whole sections), so that they stop counting in the process's resident
    /// memory; they stay in the kernel's page cache, and the next read maps them again.
    pub fn release(&self) {
        #[cfg(unix)]
        {
            // SAFETY: the map is read-only, of a file never written after its rename, so
            // dropping its pages loses nothing: they read back as the same bytes. A failure
            // only leaves the pages mapped.
            let _ = unsafe {
                self.map
                    .unchecked_advise(memmap2::UncheckedAdvice::DontNeed)
            };
        }
    }

    /// The raw text of document `i`, compressed.
    pub fn text_z(&self, i: usize) -> Result<&[u8]> {
        let r = self.rec(i);
        self.sec(Sec::Text)
            .get(r.text as usize..r.text as usize + r.text_len as usize)
            .ok_or_else(|| self.damaged("a document's text lies outside the file"))
    }

    /// The raw text of document `i`.
    pub fn text(&self, i: usize) -> Result<String> {
        let raw = zstd::decode_all(self.text_z(i)?)
            .map_err(|_| self.damaged("a document's text does not decompress"))?;
        String::from_utf8(raw).map_err(|_| self.damaged("a document's text is not UTF-8"))
    }

    /// The signature of document `i`.
    pub fn sig(&self, i: usize) -> &[u32] {
        let bytes = &self.sec(Sec::Sigs)[i * self.num_perm * 4..(i + 1) * self.num_perm * 4];
        #[cfg(target_endian = "little")]
        {
            // SAFETY: the map starts at a page boundary and the section at a multiple of 8
            // (checked on open), so the bytes are aligned for u32; any bit pattern is a u32, and
            // on a little-endian target the stored LE values read as themselves.
            unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u32>(), self.num_perm) }
        }
        #[cfg(not(target_endian = "little"))]
        compile_error!("the index's segment files are read in place on little-endian targets only")
    }

    /// The document added as `seq`, if this segment holds it (documents are in `seq` order).
    pub fn find_seq(&self, seq: u64) -> Option<usize> {
        // Outside the segment's range of seqs, without a search (an index of several
        // segments asks each in turn).
        if self.docs == 0 || seq < self.rec(0).seq || seq > self.rec(self.docs - 1).seq {
            return None;
        }
        let (mut lo, mut hi) = (0, self.docs);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let s = self.rec(mid).seq;
            if s == seq {
                return Some(mid);
            }
            if s < seq {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        None
    }

    /// Bytes of the compressed texts.
    pub fn text_bytes(&self) -> usize {
        self.secs[Sec::Text as usize].1
    }

    fn entries(&self, s: Sec) -> &[u8] {
        self.sec(s)
    }

    /// The documents under `key` in a postings section, in order.
    fn postings(&self, s: Sec, key: u64) -> impl Iterator<Item = u32> + '_ {
        let e = self.entries(s);
        let n = e.len() / ENTRY;
        let key_at = |i: usize| u64::from_le_bytes(e[i * ENTRY..i * ENTRY + 8].try_into().unwrap());
        let lo = lower_bound(n, key, key_at);
        (lo..n).map_while(move |i| {
            (key_at(i) == key)
                .then(|| u32::from_le_bytes(e[i * ENTRY + 8..i * ENTRY + 12].try_into().unwrap()))
        })
    }

    /// The documents with band key `key` (the batch path is [`Segment::band_join`]).
    #[cfg(test)]
    pub fn band(&self, key: u64) -> impl Iterator<Item = u32> + '_ {
        self.postings(Sec::Bands, key)
    }

    /// For sorted `(key, query)` pairs, writes `(query, document)` for the documents under each
    /// key in the band postings (at most `cap` a key). The `fence` section (one key in
    /// [`FENCE`], found through the segment's [`Radix`] table) names the block of entries that
    /// holds a key's place; the keys are hashes, spread evenly, so the place is
    /// guessed within the block by interpolation between the two fence keys around it and found
    /// from the guess by a short walk: one or two cache lines of the large postings a key, where
    /// a search of the whole section waits for one miss after another.
    pub fn band_join(&self, keys: &[(u64, u32)], cap: usize, out: &mut Vec<(u32, u32)>) {
        let e = self.entries(Sec::Bands);
        let n = e.len() / ENTRY;
        if n == 0 || keys.is_empty() {
            return;
        }
        let fence = self.sec(Sec::Fence);
        let m = fence.len() / 8;
        let fence_at = |k: usize| Radix::key(fence, k);
        let key_at = |i: usize| u64::from_le_bytes(e[i * ENTRY..i * ENTRY + 8].try_into().unwrap());
        let doc_at =
            |i: usize| u32::from_le_bytes(e[i * ENTRY + 8..i * ENTRY + 12].try_into().unwrap());
        // Keys go in groups, each step for every key of the group before the next step (their
        // reads are independent of one another, so that their cache misses overlap): the key's
        // radix slot, then its few fence entries, then its block and first guess, then the
        // guesses' reads, then each key's walk from its guess. A group holds a document's keys
        // (37 with the default banding) at once.
        const GROUP: usize = 64;
        // Entries a guess within a block of `FENCE` is typically off by.
        const WALK: usize = 5;
        let mut runs = [(0usize, 0usize); GROUP];
        let mut place = [(0usize, 0usize, 0usize); GROUP];
        let mut i = 0;
        while i < keys.len() {
            let mut g = 0;
            while i < keys.len() && g < GROUP {
                let (s, key) = (i, keys[i].0);
                while i < keys.len() && keys[i].0 == key {
                    i += 1;
                }
                runs[g] = (s, i);
                crate::isa::prefetch(self.radix.slot(key));
                g += 1;
            }
            let mut ranges = [(0usize, 0usize); GROUP];
            for j in 0..g {
                let (a, b) = self.radix.range(keys[runs[j].0].0);
                ranges[j] = (a, b);
                if a < m {
                    crate::isa::prefetch(&fence[a * 8]);
                }
            }
            for j in 0..g {
                let key = keys[runs[j].0].0;
                // The first fence key not less than `key`: the place is after the fence
                // before it (whose key is less) and at most at this one.
                let (a, b) = ranges[j];
                let f = a + lower_bound(b - a, key, |x| fence_at(a + x));
                place[j] = if f == 0 {
                    (0, 0, 0)
                } else if f == m {
                    ((m - 1) * FENCE + 1, n, n)
                } else {
                    // Entries lo - 1 and hi hold the fence keys a < key <= b; the guess is by
                    // interpolation between them (a float is enough for a guess: the walk
                    // finds the place).
                    let (lo, hi) = ((f - 1) * FENCE + 1, f * FENCE);
                    let (a, b) = (fence_at(f - 1), fence_at(f));
                    let t = ((key - a) as f64 / (b - a) as f64 * (hi - lo + 1) as f64) as usize;
                    (lo, hi, (lo - 1 + t).clamp(lo, hi))
                };
            }
            // Every guess of the group is asked for before any is read, so that their cache
            // misses overlap (a read in this loop would wait for its line before the next
            // key's were asked for).
            for &(lo, hi, at) in &place[..g] {
                if lo < hi && at < n {
                    // The walk from the guess goes a few entries either way: their cache lines
                    // are asked for with the guess's, not one after another.
                    crate::isa::prefetch(&e[at.saturating_sub(WALK).max(lo) * ENTRY]);
                    crate::isa::prefetch(&e[at * ENTRY]);
                    crate::isa::prefetch(&e[(at + WALK).min(hi).min(n - 1) * ENTRY]);
                }
            }
            for j in 0..g {
                let (s, end) = runs[j];
                let key = keys[s].0;
                let (lo, hi, mut at) = place[j];
                let pos = if hi == n {
                    // Past the last fence: no key bounds the block from above.
                    lo + lower_bound(n - lo, key, |x| key_at(lo + x))
                } else if lo == hi {
                    lo
                } else {
                    if key_at(at) < key {
                        while at < hi && key_at(at) < key {
                            at += 1;
                        }
                    } else {
                        while at > lo && key_at(at - 1) >= key {
                            at -= 1;
                        }
                    }
                    at
                };
                let mut stop = pos;
                while stop < n && stop - pos < cap && key_at(stop) == key {
                    stop += 1;
                }
                for &(_, q) in &keys[s..end] {
                    out.extend((pos..stop).map(|d| (q, doc_at(d))));
                }
            }
        }
    }

    /// The documents holding a line with key `key`.
    pub fn line(&self, key: u64) -> impl Iterator<Item = u32> + '_ {
        self.postings(Sec::Lines, key)
    }

    /// The document with id `id`, if this segment holds it.
    pub fn find_id(&self, id: &str) -> Result<Option<u32>> {
        for d in self.postings(Sec::Ids, xxh3_64(id.as_bytes())) {
            if self.id(d as usize)? == id {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    /// The distinct line keys of document `i`... are not stored per document; merges read
    /// every line posting once instead.
    pub fn line_entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.entries(Sec::Lines).chunks_exact(ENTRY).map(|c| {
            (
                u64::from_le_bytes(c[..8].try_into().unwrap()),
                u32::from_le_bytes(c[8..].try_into().unwrap()),
            )
        })
    }

    /// The band keys of every document, from the postings.
    pub fn band_entries(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.entries(Sec::Bands).chunks_exact(ENTRY).map(|c| {
            (
                u64::from_le_bytes(c[..8].try_into().unwrap()),
                u32::from_le_bytes(c[8..].try_into().unwrap()),
            )
        })
    }

    fn damaged(&self, what: &str) -> Error {
        damaged(Path::new(&self.name), what)
    }

    /// Document `i` whole, as written (its band and line keys from `bands` and `lines`, as
    /// gathered by the caller from the postings).
    pub fn doc(&self, i: usize, band_keys: Vec<u64>, line_keys: Vec<u64>) -> Result<DocData<'_>> {
        let r = self.rec(i);
        let (id, source, date_raw) = self.strings(i)?;
        Ok(DocData {
            seq: r.seq,
            cluster: r.cluster,
            hash: r.hash,
            date: r.date,
            date_unparsed: r.date_unparsed,
            empty: r.empty,
            id,
            source,
            date_raw,
            text_z: Cow::Borrowed(self.text_z(i)?),
            sig: Cow::Borrowed(self.sig(i)),
            size: r.size,
            gen: r.gen,
            band_keys,
            line_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(seq: u64, id: &str) -> DocData<'static> {
        DocData {
            seq,
            cluster: seq,
            hash: seq as u128 * 77,
            date: (seq % 2 == 0).then_some(seq as i64 * 1000),
            date_unparsed: seq == 3,
            empty: false,
            id: id.to_string(),
            source: (seq % 3 == 0).then(|| format!("src{seq}")),
            date_raw: Some("2024-01-01".into()),
            text_z: zstd::encode_all(format!("text of {id}").as_bytes(), 3)
                .unwrap()
                .into(),
            sig: (0..8).map(|v| v * seq as u32).collect(),
            size: 10 + seq as u32,
            gen: 1,
            band_keys: vec![seq % 2, 100 + seq],
            line_keys: vec![7, seq],
        }
    }

    /// The radix table's range holds the fence's lower bound of any key: on keys spread as
    /// hashes are, clumped at either end, and repeated.
    #[test]
    fn radix_range_holds_the_lower_bound() {
        let mut x = 3u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for m in [0usize, 1, 2, 7, 64, 1000, 5000] {
            let spreads: [&dyn Fn(u64) -> u64; 4] =
                [&|r| r, &|r| r % 100, &|r| u64::MAX - r % 100, &|r| {
                    (r % 4) << 62
                }];
            for spread in spreads {
                let mut keys: Vec<u64> = (0..m).map(|_| spread(rnd())).collect();
                keys.sort_unstable();
                let fence: Vec<u8> = keys.iter().flat_map(|k| k.to_le_bytes()).collect();
                let radix = Radix::new(&fence);
                let mut probes: Vec<u64> = (0..200).map(|_| rnd()).collect();
                probes.extend(
                    keys.iter()
                        .flat_map(|&k| [k, k.wrapping_add(1), k.wrapping_sub(1)]),
                );
                probes.extend([0, u64::MAX]);
                for p in probes {
                    let want = keys.partition_point(|&k| k < p);
                    let (a, b) = radix.range(p);
                    assert!(
                        a <= want && want <= b && b <= m,
                        "m {m} key {p}: {a}..{b}, {want}"
                    );
                }
            }
        }
    }

    /// Interpolation search finds the lower bound bisection finds, on even and on clumped keys.
    #[test]
    fn lower_bound_matches_bisection() {
        let mut x = 1u64;
        for n in [0usize, 1, 2, 17, 100, 1000] {
            for clumped in [false, true] {
                let mut keys: Vec<u64> = (0..n)
                    .map(|i| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        if clumped {
                            (i as u64 / 7) * 3
                        } else {
                            x
                        }
                    })
                    .collect();
                keys.sort_unstable();
                let mut probes: Vec<u64> = keys.clone();
                probes.extend([0, 1, u64::MAX, u64::MAX - 1, 5, 6]);
                probes.extend(keys.iter().map(|k| k.wrapping_add(1)));
                for p in probes {
                    let want = keys.partition_point(|&k| k < p);
                    assert_eq!(lower_bound(n, p, |i| keys[i]), want, "n {n} key {p}");
                }
            }
        }
    }

    /// The batch join finds, per key, the first `cap` documents a search per key finds.
    #[test]
    fn band_join_matches_search_per_key() {
        let dir = tempfile::tempdir().unwrap();
        let docs: Vec<DocData> = (0..40)
            .map(|s| DocData {
                band_keys: vec![s % 5, 1000 + s, u64::MAX - (s % 3)],
                ..doc(s, &format!("d{s}"))
            })
            .collect();
        let path = dir.path().join("s.syx");
        write_segment(&path, &encode(8, &docs)).unwrap();
        let seg = Segment::open(&path, 8).unwrap();
        let mut keys: Vec<(u64, u32)> = vec![
            (0, 0),
            (3, 1),
            (3, 2),
            (7, 3),
            (1010, 4),
            (u64::MAX, 5),
            (u64::MAX - 2, 6),
            (2000, 7),
        ];
        keys.sort_unstable();
        for cap in [1, 3, 100] {
            assert_join_is_search(&seg, &keys, cap, "");
        }
    }

    /// Asserts that `band_join` of the sorted `keys` finds what a search per key finds, at most
    /// `cap` documents a key; returns how many pairs.
    fn assert_join_is_search(seg: &Segment, keys: &[(u64, u32)], cap: usize, what: &str) -> usize {
        let mut got = Vec::new();
        seg.band_join(keys, cap, &mut got);
        let mut want: Vec<(u32, u32)> = keys
            .iter()
            .flat_map(|&(k, q)| seg.band(k).take(cap).map(move |d| (q, d)))
            .collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "cap {cap} {what}");
        want.len()
    }

    /// The same over many keys (over several fence blocks), spread evenly as hashes are and
    /// clumped as they are not, present, repeated and absent.
    #[test]
    fn band_join_matches_search_per_key_at_scale() {
        let dir = tempfile::tempdir().unwrap();
        let mut x = 7u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for clumped in [false, true] {
            let docs: Vec<DocData> = (0..300)
                .map(|s| DocData {
                    band_keys: (0..4)
                        .map(|_| if clumped { rnd() % 50 } else { rnd() })
                        .collect(),
                    ..doc(s, &format!("d{s}"))
                })
                .collect();
            let path = dir.path().join(format!("s{clumped}.syx"));
            write_segment(&path, &encode(8, &docs)).unwrap();
            let seg = Segment::open(&path, 8).unwrap();
            let mut keys: Vec<(u64, u32)> = Vec::new();
            for q in 0..200u32 {
                let k = match q % 4 {
                    0 | 1 => docs[rnd() as usize % 300].band_keys[q as usize % 4],
                    2 if clumped => rnd() % 60,
                    _ => rnd(),
                };
                keys.push((k, q));
                if q % 9 == 0 {
                    keys.push((k, q + 1000));
                }
            }
            keys.extend([(0, 5000), (u64::MAX, 5001)]);
            keys.sort_unstable();
            for cap in [1, 2, 1000] {
                let found = assert_join_is_search(&seg, &keys, cap, &format!("clumped {clumped}"));
                assert!(found > 0);
            }
        }
    }

    /// A segment reads back what was written: records, strings, texts, signatures and every
    /// posting list, with ids found by value.
    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let docs: Vec<DocData> = (0..5).map(|s| doc(s, &format!("d{s}"))).collect();
        let path = dir.path().join("s.syx");
        let enc = encode(8, &docs);
        let sum = write_segment(&path, &enc).unwrap();
        // The checksum and length are those of the file as written, part by part.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!((sum, bytes.len()), (xxh3_64(&bytes), enc.len()));
        let seg = Segment::open(&path, 8).unwrap();
        assert_eq!(seg.len(), 5);
        for (i, d) in docs.iter().enumerate() {
            let mut bands: Vec<u64> = seg
                .band_entries()
                .filter(|e| e.1 == i as u32)
                .map(|e| e.0)
                .collect();
            bands.sort_unstable();
            let mut lines: Vec<u64> = seg
                .line_entries()
                .filter(|e| e.1 == i as u32)
                .map(|e| e.0)
                .collect();
            lines.sort_unstable();
            let mut want = d.clone();
            want.band_keys.sort_unstable();
            want.line_keys.sort_unstable();
            assert_eq!(seg.doc(i, bands, lines).unwrap(), want);
            assert_eq!(seg.text(i).unwrap(), format!("text of d{i}"));
            assert_eq!(seg.find_id(&d.id).unwrap(), Some(i as u32));
        }
        assert_eq!(seg.band(0).collect::<Vec<_>>(), [0, 2, 4]);
        assert_eq!(seg.line(7).count(), 5);
        assert_eq!(seg.find_id("nope").unwrap(), None);
        assert!(Segment::open(&path, 16).is_err());
        std::fs::write(&path, b"garbage").unwrap();
        assert!(Segment::open(&path, 8).is_err());
    }
}
