//! Working within a memory budget: what does not fit goes to scratch files and comes back in
//! order.
//!
//! - [`Budget`]: the byte budget of a run (`--memory-limit`) and how it is shared between the
//!   structures that can spill.
//! - [`TextStore`]: the normalized documents, in memory or (past their share of the budget) in
//!   one scratch file read back chunk by chunk, or one document at a time by offset.
//! - [`Runs`]: items grouped into 256 partitions by a key's top byte, for consumers that need
//!   equal keys together but not in order (band tables, the source-template n-grams): items are
//!   buffered; when the buffer is full it is grouped by partition in place and appended to a
//!   scratch file, each partition's segment noted; at the end each partition is read back from
//!   its segments and handed out, in parallel.
//!
//! Scratch files are unnamed temporary files (`tempfile::tempfile`, in `TMPDIR`): the system
//! removes them when the run ends, however it ends. The texts' file bypasses the page cache
//! where the system allows (`O_DIRECT` on Linux; `SYNDIC_NO_DIRECT_IO=1` turns it off): it is
//! written in aligned 4 KiB blocks through a staging buffer and read back by
//! whole blocks; documents read one at a time go through a second, buffered handle.
//!
//! Written by hand rather than with an external-sort crate because no sort is needed: the records
//! are fixed-size plain integers, and each consumer counts or pairs the equal keys of a partition
//! (sorting only those that repeat, [`sort_repeated`]), whatever order they come in, so a spilled
//! run gives the same report as an in-memory run. The whole thing is a buffer, a one-byte radix
//! pass, and appends to one file.

use std::fs::File;
use std::io::{BufWriter, Write};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::normalize::NormDoc;

/// The memory budget of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Bytes; `None`: everything stays in memory.
    pub limit: Option<u64>,
}

impl Budget {
    pub const UNLIMITED: Budget = Budget { limit: None };

    /// The share, in bytes, of one structure: `percent` of the limit (`u64::MAX` when unlimited).
    pub fn share(&self, percent: u64) -> u64 {
        self.limit.map_or(u64::MAX, |l| l / 100 * percent)
    }

    /// Parses sizes such as `4G`, `512M`, `300k`, `1000000` (bytes; binary multiples).
    pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
        let t = s.trim();
        let (num, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
            None => (t, 1u64),
            Some((i, _)) => {
                let unit = t[i..].to_ascii_lowercase();
                let m = match unit.trim_end_matches("ib").trim_end_matches('b') {
                    "" => 1,
                    "k" => 1 << 10,
                    "m" => 1 << 20,
                    "g" => 1 << 30,
                    "t" => 1 << 40,
                    _ => {
                        return Err(format!(
                            "unknown unit {:?} in {s:?} (use K, M, G or T)",
                            &t[i..]
                        ))
                    }
                };
                (t[..i].trim(), m)
            }
        };
        let v: f64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a size (write e.g. 4G, 512M or 1000000)"))?;
        if !(v.is_finite() && v > 0.0) {
            return Err(format!("{s:?}: the size must be positive"));
        }
        Ok((v * mult as f64) as u64)
    }
}

fn scratch() -> Result<File> {
    tempfile::tempfile().map_err(Error::Scratch)
}

/// Direct I/O (`O_DIRECT`) reads and writes whole blocks of this many bytes, at offsets and
/// from buffer addresses that are multiples of it.
const ALIGN: usize = 4096;

/// A scratch file for [`Appender`]: on Linux it bypasses the page cache (`O_DIRECT`) unless
/// `SYNDIC_NO_DIRECT_IO` is set or the file system refuses. Texts spilled to stay within a
/// memory budget would otherwise be copied into the page cache (a gigabyte of it per gigabyte
/// spilled, written back by the system's threads on the same cores): at 200k documents under
/// 800M that copy was 6% of the run's CPU samples. (`Runs` keeps the page cache: its
/// partitions are read back by the workers themselves, and a direct read makes them wait for
/// the disk; at 1M documents under 4G the template pass took 1.3-1.6 s longer.)
fn scratch_direct() -> Result<File> {
    let file = scratch()?;
    if std::env::var_os("SYNDIC_NO_DIRECT_IO").is_none() {
        set_direct(&file, true);
    }
    Ok(file)
}

/// Another handle to the scratch file `f` that reads through the page cache even when `f`
/// bypasses it (a handle cloned from `f` shares its flags; on Linux, opening the file anew
/// through `/proc/self/fd` does not).
fn buffered_handle(f: &File) -> Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(g) = File::open(format!("/proc/self/fd/{}", f.as_raw_fd())) {
            return Ok(g);
        }
    }
    f.try_clone().map_err(Error::Scratch)
}

/// Turns direct I/O on or off for `f` (and every handle cloned from it); whether it worked.
#[cfg(target_os = "linux")]
fn set_direct(f: &File, on: bool) -> bool {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: `fcntl` with `F_GETFL`/`F_SETFL` on a descriptor that `f` keeps open; the
    // arguments are plain integers.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return false;
        }
        let want = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        libc::fcntl(fd, libc::F_SETFL, want) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn set_direct(_: &File, _: bool) -> bool {
    false
}

/// Bytes at an address that is a multiple of [`ALIGN`], as direct I/O needs.
#[derive(Default)]
struct Aligned {
    raw: Vec<u8>,
    /// Where the aligned part starts in `raw`.
    off: usize,
    len: usize,
}

impl Aligned {
    /// Makes the buffer `len` bytes long (contents unspecified), allocating only to grow.
    fn set_len(&mut self, len: usize) {
        if self.raw.len() < self.off + len || self.raw.is_empty() {
            self.raw = vec![0u8; len + ALIGN];
            self.off = (ALIGN - self.raw.as_ptr() as usize % ALIGN) % ALIGN;
        }
        self.len = len;
    }

    fn bytes(&self) -> &[u8] {
        &self.raw[self.off..self.off + self.len]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.off..self.off + self.len]
    }
}

/// Writes a scratch file front to back in whole aligned blocks (see [`scratch_direct`]): bytes
/// are staged in an aligned buffer, and the end is padded with zeros to a block, so the offsets
/// of what was appended are those of a plain file and every block can be read back directly
/// ([`read_range`]).
struct Appender {
    file: File,
    stage: Aligned,
    filled: usize,
}

/// Bytes an [`Appender`] stages between writes.
const STAGE: usize = 4 << 20;

impl Appender {
    fn new(file: File) -> Self {
        Appender::with_stage(file, STAGE)
    }

    /// Stages `stage` bytes (a multiple of [`ALIGN`]) between writes.
    fn with_stage(file: File, stage: usize) -> Self {
        debug_assert!(stage > 0 && stage % ALIGN == 0);
        let mut buf = Aligned::default();
        buf.set_len(stage);
        Appender {
            file,
            stage: buf,
            filled: 0,
        }
    }

    fn write(&mut self, mut b: &[u8]) -> std::io::Result<()> {
        while !b.is_empty() {
            let n = (self.stage.len - self.filled).min(b.len());
            self.stage.bytes_mut()[self.filled..self.filled + n].copy_from_slice(&b[..n]);
            self.filled += n;
            b = &b[n..];
            if self.filled == self.stage.len {
                self.write_stage()?;
            }
        }
        Ok(())
    }

    /// Writes what is staged, padded to a block.
    fn write_stage(&mut self) -> std::io::Result<()> {
        let len = self.filled.next_multiple_of(ALIGN);
        let stage = self.stage.bytes_mut();
        stage[self.filled..len].fill(0);
        if let Err(e) = self.file.write_all(&stage[..len]) {
            // A file system that accepted the flag but not the writes: written the usual way.
            if e.kind() != std::io::ErrorKind::InvalidInput || !set_direct(&self.file, false) {
                return Err(e);
            }
            self.file.write_all(&stage[..len])?;
        }
        self.filled = 0;
        Ok(())
    }

    /// Writes the rest; the file is then read with [`read_range`].
    fn finish(mut self) -> std::io::Result<File> {
        if self.filled > 0 {
            self.write_stage()?;
        }
        Ok(self.file)
    }
}

/// Reads bytes `start..end` of a file written by an [`Appender`] into `buf`, as whole aligned
/// blocks; returns where byte `start` is in `buf.bytes()`.
fn read_range(f: &File, start: u64, end: u64, buf: &mut Aligned) -> Result<usize> {
    let a = start / ALIGN as u64 * ALIGN as u64;
    let b = end.next_multiple_of(ALIGN as u64);
    buf.set_len((b - a) as usize);
    read_at(f, buf.bytes_mut(), a)?;
    Ok((start - a) as usize)
}

/// A fixed-size plain record that can be written to a scratch file and read back.
pub trait Item: Copy + Ord + Send + Sync {
    const SIZE: usize;
    fn put(&self, out: &mut Vec<u8>);
    fn get(b: &[u8]) -> Self;
}

impl Item for u64 {
    const SIZE: usize = 8;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
    }
}

impl Item for (u64, u32) {
    const SIZE: usize = 12;
    fn put(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
        out.extend_from_slice(&self.1.to_le_bytes());
    }
    fn get(b: &[u8]) -> Self {
        (
            u64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")),
        )
    }
}

/// Moves to the front of `items` every item whose `key` comes at least `min` times among them
/// (and some others: keys that share a counter), and returns that front, sorted; the order of
/// the rest is unspecified. Nothing that repeats `min` times is left out: a key's counter is at
/// least its own count. Counting the keys into a small table costs a fraction of sorting them
/// all, and most keys come once: 98% of the template n-grams' keys at 200k gen_news documents,
/// half of a band table's. `benches/stages.rs` `partition`: 3.1 ms against 0.36 ms for a
/// partition of 117k template keys, 8.6 µs against 6.1 µs for one of 736 band keys.
pub fn sort_repeated<T: Ord>(items: &mut [T], key: impl Fn(&T) -> u64, min: u32) -> &mut [T] {
    // A few hundred items sort in the time it takes to set up the counters.
    const SMALL: usize = 256;
    if min <= 1 || items.len() < SMALL {
        items.sort_unstable();
        return items;
    }
    let need = min.min(u8::MAX as u32) as u8;
    // Byte counters, saturating, four per item (a key that comes once shares its counter with
    // another about one time in four; two-bit counters, sixteen per item in the same bytes,
    // sorted fewer keys but took longer to count). Indexed by bits 24 and up of the key: the top
    // byte may be a partition's, the lowest bits a sample's.
    let slots = (items.len() * 4).next_power_of_two();
    let mask = slots - 1;
    let slot = |x: &T| (key(x) >> 24) as usize & mask;
    let mut count = vec![0u8; slots];
    for x in items.iter() {
        let c = &mut count[slot(x)];
        *c = c.saturating_add(1);
    }
    let mut n = 0;
    for i in 0..items.len() {
        if count[slot(&items[i])] >= need {
            items.swap(n, i);
            n += 1;
        }
    }
    let front = &mut items[..n];
    front.sort_unstable();
    front
}

/// Number of partitions of [`Runs`]: one per value of a key's top byte.
const P: usize = 256;

/// Items grouped by partition (see the module documentation).
pub struct Runs<T: Item> {
    /// The partition of an item: items that a consumer must see together share one.
    radix: fn(&T) -> u8,
    /// Vectors taken whole while nothing has spilled and they fit together (no copy).
    parts: Vec<Vec<T>>,
    /// Items of `parts`.
    held: usize,
    /// The buffer of the next spill, once something has spilled.
    buf: Vec<T>,
    cap: usize,
    /// The scratch file spills are appended to, and its length.
    file: Option<(BufWriter<File>, u64)>,
    /// Where each partition's items are in the file: (byte offset, items), one per spill.
    segments: Vec<Vec<(u64, u64)>>,
    spills: usize,
}

/// Groups `v` by `radix` in place (one pass of an American-flag sort: each item is swapped
/// straight into its partition's region) and returns where each partition starts.
fn group_by_radix<T>(v: &mut [T], radix: impl Fn(&T) -> u8) -> [usize; P + 1] {
    let mut start = [0usize; P + 1];
    for x in v.iter() {
        start[radix(x) as usize + 1] += 1;
    }
    for p in 0..P {
        start[p + 1] += start[p];
    }
    let mut next = start;
    for p in 0..P {
        while next[p] < start[p + 1] {
            let r = radix(&v[next[p]]) as usize;
            if r == p {
                next[p] += 1;
            } else {
                v.swap(next[p], next[r]);
                next[r] += 1;
            }
        }
    }
    start
}

impl<T: Item> Runs<T> {
    /// Holds at most `bytes` of items in memory (at least 1024 items); `radix` gives an item's
    /// partition (see [`Runs::partitions`]).
    pub fn new(bytes: u64, radix: fn(&T) -> u8) -> Self {
        let cap = (bytes / std::mem::size_of::<T>() as u64).clamp(1024, usize::MAX as u64) as usize;
        Runs {
            radix,
            parts: Vec::new(),
            held: 0,
            buf: Vec::new(),
            cap,
            file: None,
            segments: vec![Vec::new(); P],
            spills: 0,
        }
    }

    /// Number of times the buffer was written to disk so far.
    pub fn spilled_runs(&self) -> usize {
        self.spills
    }

    /// Adds the items of a vector, taking the vector itself as the buffer when nothing is held
    /// and it fits (no copy, and no second copy of the items held meanwhile); otherwise they are
    /// copied in slices, the buffer written out each time it fills.
    pub fn extend_vec(&mut self, items: Vec<T>) -> Result<()> {
        self.join_parts()?;
        self.copy_in(items)
    }

    /// Adds the items of several vectors. When nothing else is held and they fit together, they
    /// are kept as they are (no copy) until [`Runs::partitions`], which hands them out partition
    /// by partition in parallel without joining them; otherwise, as [`Runs::extend_vec`] one
    /// after the other.
    pub fn extend_parts(&mut self, parts: Vec<Vec<T>>) -> Result<()> {
        let len: usize = parts.iter().map(Vec::len).sum();
        if self.spills == 0 && self.buf.is_empty() && self.held + len <= self.cap {
            self.held += len;
            self.parts.extend(parts);
            return Ok(());
        }
        for p in parts {
            self.extend_vec(p)?;
        }
        Ok(())
    }

    /// Moves the parts kept by [`Runs::extend_parts`] into the buffer.
    fn join_parts(&mut self) -> Result<()> {
        for part in std::mem::take(&mut self.parts) {
            self.copy_in(part)?;
        }
        self.held = 0;
        Ok(())
    }

    /// Adds items to the buffer, taking the vector itself when the buffer is empty and it fits.
    fn copy_in(&mut self, items: Vec<T>) -> Result<()> {
        if self.buf.is_empty() && items.len() <= self.cap {
            self.buf = items;
            return Ok(());
        }
        let mut rest = &items[..];
        while !rest.is_empty() {
            if self.buf.len() >= self.cap {
                self.flush()?;
            }
            let (now, later) = rest.split_at((self.cap - self.buf.len()).min(rest.len()));
            self.buf.extend_from_slice(now);
            rest = later;
        }
        Ok(())
    }

    /// Appends the buffer to the scratch file, partition after partition.
    fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let start = group_by_radix(&mut self.buf, self.radix);
        if self.file.is_none() {
            self.file = Some((BufWriter::with_capacity(1 << 20, scratch()?), 0));
        }
        let (w, len) = self.file.as_mut().expect("opened above");
        let mut bytes = Vec::with_capacity(T::SIZE * 4096);
        for p in 0..P {
            let items = &self.buf[start[p]..start[p + 1]];
            if items.is_empty() {
                continue;
            }
            self.segments[p].push((*len, items.len() as u64));
            for chunk in items.chunks(4096) {
                bytes.clear();
                for x in chunk {
                    x.put(&mut bytes);
                }
                w.write_all(&bytes).map_err(Error::Scratch)?;
            }
            *len += (items.len() * T::SIZE) as u64;
        }
        self.spills += 1;
        self.buf.clear();
        Ok(())
    }
}

impl<T: Item + Default> Runs<T> {
    /// Every item pushed, handed to `f` one partition at a time, in parallel: a partition is the
    /// items of one value of `radix`, so that items that must be seen together (those equal in
    /// a key whose top byte is the radix) are. Within a partition the items come in no
    /// particular order: `f` sorts what it needs, often only the repeated keys
    /// ([`sort_repeated`]). Returns `f`'s results in partition order (empty partitions give
    /// none).
    ///
    /// In memory, the items are scattered into their partitions (one copy, part by part in
    /// parallel). Spilled, each partition is read back from its segments of the scratch file
    /// (one per spill) and joined with its share of the buffer: as many partitions in memory at
    /// a time as there are threads, each about a 256th of the items. Nothing is sorted and
    /// nothing merged: every consumer needs its keys grouped, not ordered, and most keys come
    /// once. Written by hand because the partitions are the point: a sorting crate sorts, it
    /// does not hand out independent groups to count in parallel.
    pub fn partitions<R: Send>(mut self, f: impl Fn(&mut [T]) -> R + Sync) -> Result<Vec<R>> {
        let radix = self.radix;
        if self.spills > 0 {
            self.join_parts()?;
            let start = group_by_radix(&mut self.buf, radix);
            let file = match self.file.take() {
                Some((w, _)) => w.into_inner().map_err(|e| Error::Scratch(e.into_error()))?,
                None => return Err(Error::Scratch(std::io::Error::other("no scratch file"))),
            };
            let (buf, segments, file) = (&self.buf, &self.segments, &file);
            let results: Result<Vec<Option<R>>> = (0..P)
                .into_par_iter()
                .with_max_len(1)
                .map(|p| {
                    let mine = &buf[start[p]..start[p + 1]];
                    let len = mine.len() + segments[p].iter().map(|s| s.1 as usize).sum::<usize>();
                    if len == 0 {
                        return Ok(None);
                    }
                    let mut items = Vec::with_capacity(len);
                    let mut bytes = Vec::new();
                    for &(at, n) in &segments[p] {
                        bytes.resize(n as usize * T::SIZE, 0);
                        read_at(file, &mut bytes, at)?;
                        items.extend(bytes.chunks_exact(T::SIZE).map(T::get));
                    }
                    items.extend_from_slice(mine);
                    debug_assert!(items.iter().all(|x| radix(x) as usize == p));
                    Ok(Some(f(&mut items)))
                })
                .collect();
            return Ok(results?.into_iter().flatten().collect());
        }
        // Each part scattered by partition, with where each partition starts in it.
        let mut parts = self.parts;
        if !self.buf.is_empty() {
            parts.push(self.buf);
        }
        let scattered: Vec<(Vec<T>, [usize; P + 1])> = parts
            .into_par_iter()
            .map(|part| {
                let mut start = [0usize; P + 1];
                for x in &part {
                    start[radix(x) as usize + 1] += 1;
                }
                for p in 0..P {
                    start[p + 1] += start[p];
                }
                let mut next = start;
                let mut out = vec![T::default(); part.len()];
                for x in part {
                    let r = radix(&x) as usize;
                    out[next[r]] = x;
                    next[r] += 1;
                }
                (out, start)
            })
            .collect();
        let results: Vec<Option<R>> = (0..P)
            .into_par_iter()
            .map(|p| {
                let len: usize = scattered.iter().map(|(_, s)| s[p + 1] - s[p]).sum();
                if len == 0 {
                    return None;
                }
                let mut items = Vec::with_capacity(len);
                for (part, s) in &scattered {
                    items.extend_from_slice(&part[s[p]..s[p + 1]]);
                }
                Some(f(&mut items))
            })
            .collect();
        Ok(results.into_iter().flatten().collect())
    }
}

/// The normalized documents of a run (see the module documentation).
pub struct TextStore {
    mem: Vec<NormDoc>,
    /// Heap bytes of `mem`.
    mem_bytes: u64,
    /// Past this many bytes in memory, every document goes to disk.
    cap: u64,
    /// Documents read back from disk at a time hold about this many bytes.
    chunk: u64,
    disk: Option<DiskTexts>,
}

/// Writes buffers to a file on its own thread, so that the run goes on while the system copies
/// them (and throttles a fast writer to the disk's speed).
struct Writer {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    handle: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Writer {
    fn new(file: File) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let handle = std::thread::spawn(move || {
            let mut out = Appender::new(file);
            for b in rx {
                out.write(&b)?;
            }
            out.finish().map(drop)
        });
        Writer {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    fn send(&mut self, b: Vec<u8>) -> Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(b).is_ok());
        if sent {
            Ok(())
        } else {
            // The thread stopped: its error says why.
            self.finish()?;
            Err(Error::Scratch(std::io::Error::other(
                "the scratch file writer stopped",
            )))
        }
    }

    /// Waits until everything sent is written.
    fn finish(&mut self) -> Result<()> {
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(Error::Scratch(e)),
            Some(Err(_)) => Err(Error::Scratch(std::io::Error::other(
                "the scratch file writer failed",
            ))),
        }
    }
}

struct DiskTexts {
    /// Written by the writer thread and read back chunk by chunk (directly where possible).
    file: File,
    /// The same file through the page cache, for documents read one at a time (by
    /// `--verify exact`, by the template resketch): a direct read would go to the disk for
    /// every one.
    random: File,
    w: Option<Writer>,
    /// Byte offset of each document, and the end.
    offsets: Vec<u64>,
    /// Per document: number of lines (for masks, without reading the document back).
    lines: Vec<u32>,
}

/// Heap bytes a document holds.
pub fn doc_bytes(d: &NormDoc) -> u64 {
    (d.text.capacity()
        + d.line_starts.capacity() * 4
        + d.line_keys.capacity() * 8
        + d.line_forms.capacity()) as u64
        + std::mem::size_of::<NormDoc>() as u64
}

// The on-disk form of a document: text length (u32), line count (u32), chars (u32), exact hash
// (u128), the text's bytes, the line starts (u32 each), the line keys (u64 each), the line forms
// (a byte each); little-endian.
fn encode(d: &NormDoc, out: &mut Vec<u8>) {
    out.extend_from_slice(&(d.text.len() as u32).to_le_bytes());
    out.extend_from_slice(&(d.line_starts.len() as u32).to_le_bytes());
    out.extend_from_slice(&d.chars.to_le_bytes());
    out.extend_from_slice(&d.exact_hash.to_le_bytes());
    out.extend_from_slice(d.text.as_bytes());
    for s in &d.line_starts {
        out.extend_from_slice(&s.to_le_bytes());
    }
    for k in &d.line_keys {
        out.extend_from_slice(&k.to_le_bytes());
    }
    out.extend_from_slice(&d.line_forms);
}

fn decode(b: &[u8]) -> NormDoc {
    let mut doc = NormDoc::default();
    decode_into(b, &mut doc);
    doc
}

/// [`decode`] into `doc`, reusing its buffers (a buffer much larger than needed is shrunk, so
/// that reused documents do not hold on to the largest text each has seen).
fn decode_into(b: &[u8], doc: &mut NormDoc) {
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    let tlen = u32_at(0) as usize;
    let lines = u32_at(4) as usize;
    doc.chars = u32_at(8);
    doc.exact_hash = u128::from_le_bytes(b[12..28].try_into().expect("16 bytes"));
    let mut at = 28;
    // The text was a String when written: valid UTF-8 unless the scratch file was corrupted
    // underneath the run, in which case the lossy copy keeps the run going.
    doc.text.clear();
    match simdutf8::basic::from_utf8(&b[at..at + tlen]) {
        Ok(s) => doc.text.push_str(s),
        Err(_) => doc
            .text
            .push_str(&String::from_utf8_lossy(&b[at..at + tlen])),
    }
    at += tlen;
    doc.line_starts.clear();
    doc.line_starts
        .extend((0..lines).map(|i| u32_at(at + 4 * i)));
    at += 4 * lines;
    doc.line_keys.clear();
    doc.line_keys.extend(
        (0..lines).map(|i| {
            u64::from_le_bytes(b[at + 8 * i..at + 8 * i + 8].try_into().expect("8 bytes"))
        }),
    );
    at += 8 * lines;
    doc.line_forms.clear();
    doc.line_forms.extend_from_slice(&b[at..at + lines]);
    if doc.text.capacity() > 4 * tlen.max(64) {
        doc.text.shrink_to(tlen);
    }
    if doc.line_starts.capacity() > 4 * lines.max(16) {
        doc.line_starts.shrink_to(lines);
        doc.line_keys.shrink_to(lines);
        doc.line_forms.shrink_to(lines);
    }
}

/// Documents read back from disk at a time hold at most this many bytes (or one document).
pub const MAX_CHUNK_BYTES: u64 = 64 << 20;

impl TextStore {
    /// Keeps documents in memory up to `cap` bytes; past it, all of them go to a scratch file,
    /// and are read back `chunk` bytes at a time.
    pub fn new(cap: u64, chunk: u64) -> Self {
        TextStore {
            mem: Vec::new(),
            mem_bytes: 0,
            cap,
            chunk: chunk.clamp(1, MAX_CHUNK_BYTES),
            disk: None,
        }
    }

    pub fn len(&self) -> usize {
        match &self.disk {
            None => self.mem.len(),
            Some(d) => d.lines.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the documents are on disk.
    pub fn spilled(&self) -> bool {
        self.disk.is_some()
    }

    /// Adds documents at the end.
    pub fn push(&mut self, docs: Vec<NormDoc>) -> Result<()> {
        if self.disk.is_none() {
            self.mem_bytes += docs.iter().map(doc_bytes).sum::<u64>();
            self.mem.extend(docs);
            if self.mem_bytes <= self.cap {
                return Ok(());
            }
            let file = scratch_direct()?;
            let w = Writer::new(file.try_clone().map_err(Error::Scratch)?);
            let random = buffered_handle(&file)?;
            self.disk = Some(DiskTexts {
                file,
                random,
                w: Some(w),
                offsets: vec![0],
                lines: Vec::new(),
            });
            let docs = std::mem::take(&mut self.mem);
            self.mem_bytes = 0;
            return self.write(docs);
        }
        self.write(docs)
    }

    fn write(&mut self, docs: Vec<NormDoc>) -> Result<()> {
        let d = self.disk.as_mut().expect("spilled");
        let w = d.w.as_mut().expect("the store is still being written");
        // Buffers of a few MB go to the writer thread; each document is freed once encoded (when
        // the store first spills, every document held so far passes through here).
        const PIECE: usize = 8 << 20;
        let mut buf = Vec::with_capacity(PIECE);
        for doc in docs {
            let before = buf.len();
            encode(&doc, &mut buf);
            let end = d.offsets.last().copied().unwrap_or(0) + (buf.len() - before) as u64;
            d.offsets.push(end);
            d.lines.push(doc.line_starts.len() as u32);
            if buf.len() >= PIECE {
                w.send(std::mem::replace(&mut buf, Vec::with_capacity(PIECE)))?;
            }
        }
        if buf.is_empty() {
            Ok(())
        } else {
            w.send(buf)
        }
    }

    /// Ends writing; the store is read only from now on.
    pub fn seal(&mut self) -> Result<()> {
        if let Some(d) = self.disk.as_mut() {
            if let Some(mut w) = d.w.take() {
                w.finish()?;
            }
        }
        Ok(())
    }

    /// Number of lines of each document.
    pub fn line_counts(&self) -> Vec<u32> {
        match &self.disk {
            None => self.mem.iter().map(|d| d.lines() as u32).collect(),
            Some(d) => d.lines.clone(),
        }
    }

    /// Calls `f(first, docs)` over consecutive runs of documents covering the whole store, in
    /// order (`docs[i]` is document `first + i`). In memory: one call with every document.
    pub fn for_chunks(&self, mut f: impl FnMut(usize, &[NormDoc]) -> Result<()>) -> Result<()> {
        let Some(d) = &self.disk else {
            return f(0, &self.mem);
        };
        let n = d.lines.len();
        let mut chunks = Vec::new();
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && d.offsets[end + 1] - d.offsets[start] <= self.chunk {
                end += 1;
            }
            chunks.push((start, end));
            start = end;
        }
        let file = &d.file;
        std::thread::scope(|s| {
            // A reader thread reads the next chunk while this one is decoded and processed.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Aligned, usize)>>(1);
            // Buffers come back once decoded and are read into again: a fresh buffer of this
            // size is a fresh mapping, every page of it faulted in again for each chunk.
            let (back_tx, back_rx) = std::sync::mpsc::channel::<Aligned>();
            let offsets = &d.offsets;
            let chunks_ref = &chunks;
            s.spawn(move || {
                for &(start, end) in chunks_ref {
                    let mut buf = back_rx.try_recv().unwrap_or_default();
                    let got = read_range(file, offsets[start], offsets[end], &mut buf)
                        .map(|at| (buf, at));
                    let failed = got.is_err();
                    if tx.send(got).is_err() || failed {
                        return;
                    }
                }
            });
            let mut docs: Vec<NormDoc> = Vec::new();
            for &(start, end) in &chunks {
                let (buf, at) = rx.recv().map_err(|_| {
                    Error::Scratch(std::io::Error::other("the scratch file reader stopped"))
                })??;
                let bytes = &buf.bytes()[at..];
                let base = d.offsets[start];
                // The documents of the previous chunk are decoded into (their allocations freed
                // and made again for every chunk cost page faults past the allocator's trim).
                docs.resize_with(end - start, NormDoc::default);
                docs.par_iter_mut().enumerate().for_each(|(j, doc)| {
                    let i = start + j;
                    let s = (d.offsets[i] - base) as usize;
                    let e = (d.offsets[i + 1] - base) as usize;
                    decode_into(&bytes[s..e], doc);
                });
                let _ = back_tx.send(buf);
                f(start, &docs)?;
            }
            Ok(())
        })
    }

    /// Calls `f(doc)` with document `d` (read from disk when spilled).
    pub fn with_doc<R>(&self, d: usize, f: impl FnOnce(&NormDoc) -> R) -> Result<R> {
        match &self.disk {
            None => Ok(f(&self.mem[d])),
            Some(t) => {
                let (s, e) = (t.offsets[d], t.offsets[d + 1]);
                let mut buf = Aligned::default();
                let at = read_range(&t.random, s, e, &mut buf)?;
                Ok(f(&decode(&buf.bytes()[at..at + (e - s) as usize])))
            }
        }
    }
}

/// Documents as the stages read them: all at once from memory, or streamed from a
/// [`TextStore`]. Implemented by slices and vectors of [`NormDoc`] and by [`TextStore`].
pub trait Docs: Sync {
    fn doc_count(&self) -> usize;
    /// See [`TextStore::for_chunks`].
    fn each_chunk(&self, f: &mut dyn FnMut(usize, &[NormDoc]) -> Result<()>) -> Result<()>;
    /// Calls `f` with document `d`.
    fn visit_doc(&self, d: usize, f: &mut dyn FnMut(&NormDoc)) -> Result<()>;
    /// Number of lines of each document.
    fn lines_per_doc(&self) -> Vec<u32>;
}

impl Docs for [NormDoc] {
    fn doc_count(&self) -> usize {
        self.len()
    }
    fn each_chunk(&self, f: &mut dyn FnMut(usize, &[NormDoc]) -> Result<()>) -> Result<()> {
        f(0, self)
    }
    fn visit_doc(&self, d: usize, f: &mut dyn FnMut(&NormDoc)) -> Result<()> {
        f(&self[d]);
        Ok(())
    }
    fn lines_per_doc(&self) -> Vec<u32> {
        self.iter().map(|d| d.lines() as u32).collect()
    }
}

/// A vector reads as its slice.
impl Docs for Vec<NormDoc> {
    fn doc_count(&self) -> usize {
        self.as_slice().doc_count()
    }
    fn each_chunk(&self, f: &mut dyn FnMut(usize, &[NormDoc]) -> Result<()>) -> Result<()> {
        self.as_slice().each_chunk(f)
    }
    fn visit_doc(&self, d: usize, f: &mut dyn FnMut(&NormDoc)) -> Result<()> {
        self.as_slice().visit_doc(d, f)
    }
    fn lines_per_doc(&self) -> Vec<u32> {
        self.as_slice().lines_per_doc()
    }
}

impl Docs for TextStore {
    fn doc_count(&self) -> usize {
        self.len()
    }
    fn each_chunk(&self, f: &mut dyn FnMut(usize, &[NormDoc]) -> Result<()>) -> Result<()> {
        self.for_chunks(f)
    }
    fn visit_doc(&self, d: usize, f: &mut dyn FnMut(&NormDoc)) -> Result<()> {
        self.with_doc(d, f)
    }
    fn lines_per_doc(&self) -> Vec<u32> {
        self.line_counts()
    }
}

fn read_at(f: &File, buf: &mut [u8], at: u64) -> Result<()> {
    read_exact_at(f, buf, at).map_err(Error::Scratch)
}

/// Fills `buf` from `f` at offset `at`, without moving the file's cursor (so threads can share
/// the file).
#[cfg(unix)]
pub(crate) fn read_exact_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, at)
}

/// Fills `buf` from `f` at offset `at` (Windows moves the cursor; no caller relies on it).
#[cfg(windows)]
pub(crate) fn read_exact_at(f: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{normalize_doc, NormalizeOptions};
    use proptest::collection::vec;
    use proptest::prelude::any;
    use proptest::sample::Index;

    #[test]
    fn sizes_parse() {
        assert_eq!(Budget::parse_size("4G"), Ok(4 << 30));
        assert_eq!(Budget::parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(Budget::parse_size("300k"), Ok(300 << 10));
        assert_eq!(Budget::parse_size("1000"), Ok(1000));
        assert_eq!(Budget::parse_size("1.5G"), Ok(3 << 29));
        assert!(Budget::parse_size("4X").is_err());
        assert!(Budget::parse_size("-1G").is_err());
        assert!(Budget::parse_size("lots").is_err());
    }

    /// Top byte of a `(key, doc)` item's key: the partitions of these tests.
    fn top(x: &(u64, u32)) -> u8 {
        (x.0 >> 56) as u8
    }

    /// Each partition of `runs`, sorted.
    fn sorted_partitions(runs: Runs<(u64, u32)>) -> Vec<Vec<(u64, u32)>> {
        runs.partitions(|p| {
            p.sort_unstable();
            p.to_vec()
        })
        .unwrap()
    }

    #[test]
    fn spilled_partitions_hold_the_in_memory_items() {
        let items: Vec<(u64, u32)> = (0..50_000u64)
            .map(|i| {
                (
                    xxhash_rust::xxh3::xxh3_64(&(i % 977).to_le_bytes()),
                    (i % 13) as u32,
                )
            })
            .collect();
        let mut small = Runs::new(8 << 10, top);
        small.extend_vec(items.clone()).unwrap();
        assert!(small.spilled_runs() > 5);
        let spilled = sorted_partitions(small);
        let mut big = Runs::new(u64::MAX, top);
        big.extend_vec(items.clone()).unwrap();
        assert_eq!(big.spilled_runs(), 0);
        let mem = sorted_partitions(big);
        assert_eq!(spilled, mem);
        for p in &mem {
            assert!(p.iter().all(|x| top(x) == top(&p[0])));
        }
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(mem.concat(), sorted);
    }

    proptest::proptest! {
        /// The sorted front holds every item whose key comes `min` times (and others only when
        /// they share a counter); it is sorted, and the items are only moved.
        #[test]
        fn sort_repeated_keeps_every_repeated_key(
            // Keys differ in their counter bits (24 and up) and below them, so that distinct keys
            // share counters.
            keys in proptest::collection::vec((0u64..600, 0u64..3), 0..3000),
            min in 0u32..5,
        ) {
            let items: Vec<(u64, u32)> = keys
                .iter()
                .enumerate()
                .map(|(d, &(hi, lo))| ((hi << 24) | lo, d as u32))
                .collect();
            let mut count = std::collections::HashMap::new();
            for &(k, _) in &items {
                *count.entry(k).or_insert(0u32) += 1;
            }
            let mut want: Vec<(u64, u32)> =
                items.iter().copied().filter(|(k, _)| count[k] >= min).collect();
            want.sort_unstable();
            let mut got = items.clone();
            let front = sort_repeated(&mut got, |&(k, _)| k, min).to_vec();
            proptest::prop_assert!(front.is_sorted());
            let kept: Vec<(u64, u32)> =
                front.iter().copied().filter(|(k, _)| count[k] >= min).collect();
            proptest::prop_assert_eq!(kept, want);
            got.sort_unstable();
            let mut all = items;
            all.sort_unstable();
            proptest::prop_assert_eq!(got, all);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// However skewed the values (one value filling whole spills, every item in one
        /// partition, few distinct values), the partitions hold every item.
        #[test]
        fn skewed_spills_give_back_every_item(
            values in proptest::collection::vec((0u64..40, 0u32..3), 0..6000),
            heavy in 0usize..5000,
            cap_items in 1024u64..3000,
        ) {
            let mut items = values;
            items.extend(std::iter::repeat_n((17, 1), heavy));
            let mut runs: Runs<(u64, u32)> = Runs::new(cap_items * 16, top);
            runs.extend_vec(items.clone()).unwrap();
            let got = sorted_partitions(runs).concat();
            items.sort_unstable();
            proptest::prop_assert_eq!(got, items);
        }

        /// Pushed as several vectors (one by one, or together as parts), in memory or spilled,
        /// the items come back as partitions of one top byte each, in order, all of them.
        #[test]
        fn partitions_are_the_sorted_input_cut_by_radix(
            parts in proptest::collection::vec(
                proptest::collection::vec((0u64..12, 0u64..50, 0u32..3), 0..1500),
                0..6,
            ),
            spill in proptest::bool::ANY,
        ) {
            // Top bytes from a few values, so partitions hold several keys and a key repeats.
            let parts: Vec<Vec<(u64, u32)>> = parts
                .into_iter()
                .map(|p| p.into_iter().map(|(top, low, d)| ((top * 21) << 56 | low, d)).collect())
                .collect();
            let mut sorted: Vec<(u64, u32)> = parts.concat();
            sorted.sort_unstable();
            let cap = if spill { 1024 * 16 } else { u64::MAX };
            let (mut a, mut b) = (Runs::new(cap, top), Runs::new(cap, top));
            for p in &parts {
                a.extend_vec(p.clone()).unwrap();
            }
            b.extend_parts(parts.clone()).unwrap();
            proptest::prop_assert_eq!(a.spilled_runs() > 0, spill && sorted.len() > 1024);
            proptest::prop_assert_eq!(b.spilled_runs() > 0, spill && sorted.len() > 1024);
            let one_by_one = sorted_partitions(a);
            let cut = sorted_partitions(b);
            proptest::prop_assert_eq!(&one_by_one, &cut);
            for p in &cut {
                proptest::prop_assert!(!p.is_empty());
                proptest::prop_assert!(p.iter().all(|x| top(x) == top(&p[0])));
            }
            proptest::prop_assert_eq!(cut.concat(), sorted);
        }
    }

    proptest::proptest! {
        /// Whatever the pieces appended, any byte range reads back as written, with direct I/O
        /// and without (the stage is small so that it fills many times).
        #[test]
        fn appended_bytes_read_back_at_any_range(
            pieces in vec(vec(any::<u8>(), 0..9000), 1..12),
            ranges in vec((any::<Index>(), any::<Index>()), 1..8),
            direct in any::<bool>(),
        ) {
            let file = scratch().unwrap();
            set_direct(&file, direct);
            let mut w = Appender::with_stage(file, 2 * ALIGN);
            for p in &pieces {
                w.write(p).unwrap();
            }
            let file = w.finish().unwrap();
            let all = pieces.concat();
            proptest::prop_assert_eq!(
                file.metadata().unwrap().len(),
                all.len().next_multiple_of(ALIGN) as u64
            );
            let mut buf = Aligned::default();
            for (a, b) in ranges {
                let (a, b) = (a.index(all.len() + 1), b.index(all.len() + 1));
                let (s, e) = (a.min(b), a.max(b));
                let at = read_range(&file, s as u64, e as u64, &mut buf).unwrap();
                proptest::prop_assert_eq!(buf.bytes().as_ptr() as usize % ALIGN, 0);
                proptest::prop_assert_eq!(&buf.bytes()[at..at + e - s], &all[s..e]);
            }
        }
    }

    #[test]
    fn spilled_store_gives_back_every_document() {
        let o = NormalizeOptions::default();
        let docs: Vec<NormDoc> = (0..300)
            .map(|i| normalize_doc(&format!("Line {i}\n\nالسطر الثاني {i}\nend"), &o))
            .collect();
        let mut disk = TextStore::new(1000, 500);
        for c in docs.chunks(7) {
            disk.push(c.to_vec()).unwrap();
        }
        disk.seal().unwrap();
        assert!(disk.spilled());
        assert_eq!(disk.len(), 300);
        let mut back = Vec::new();
        disk.for_chunks(|first, chunk| {
            assert_eq!(first, back.len());
            back.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
        assert_eq!(back, docs);
        assert_eq!(disk.with_doc(123, |d| d.clone()).unwrap(), docs[123]);
        assert_eq!(
            disk.line_counts(),
            docs.iter().map(|d| d.lines() as u32).collect::<Vec<_>>()
        );
        let mut mem = TextStore::new(u64::MAX, MAX_CHUNK_BYTES);
        mem.push(docs.clone()).unwrap();
        mem.seal().unwrap();
        assert!(!mem.spilled());
        assert_eq!(
            mem.with_doc(5, |d| d.line(2).to_string()).unwrap(),
            docs[5].line(2)
        );
    }
}
