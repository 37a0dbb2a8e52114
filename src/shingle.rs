//! Shingling: a text becomes the set of hashes of its character k-grams.
//!
//! Shingles are windows of `k` Unicode scalar values (not bytes, so that every script gets the same
//! window length), hashed with xxh3 over their UTF-8 bytes. A text shorter than `k` characters is
//! one shingle. The output is sorted and deduplicated: a set, whose size is what the containment
//! estimate needs.

use xxhash_rust::xxh3::xxh3_64;

use crate::isa::{prefetch, Isa, Kind};

/// Above this many characters a text is deduplicated by sorting in place (see
/// [`Shingler::shingle_set_unordered`]).
const LARGE: usize = 1 << 20;

/// Reusable scratch space for shingling (one per worker thread).
#[derive(Default)]
pub struct Shingler {
    all: Vec<u64>,
    table: Vec<u64>,
}

/// The byte length of the UTF-8 sequence that starts with `lead` (branch-free: texts that mix
/// scripts alternate between widths).
#[inline(always)]
fn utf8_width(lead: u8) -> usize {
    let ones = (!lead).leading_zeros() as usize;
    ones + (ones == 0) as usize
}

/// Calls `f` with the hash of every k-character window of `text`, in order, with repeats (only
/// the windows that start a word when `anchored`); a non-empty text of at most `k` characters is
/// one shingle.
#[inline(always)]
fn for_each_window(text: &str, k: usize, anchored: bool, mut f: impl FnMut(u64)) {
    debug_assert!(k > 0);
    let bytes = text.as_bytes();
    let len = bytes.len();
    if len == 0 {
        return;
    }
    if !anchored && len > k && text.is_ascii() {
        for w in bytes.windows(k) {
            f(xxh3_64(w));
        }
        return;
    }
    if anchored {
        // Word starts: the text's start and every byte after a space.
        if text.chars().nth(k).is_none() {
            f(xxh3_64(bytes));
            return;
        }
        if k <= MASKED_K {
            anchored_by_masks(bytes, k, &mut f);
            return;
        }
        let mut a = 0;
        loop {
            let mut end = a;
            let mut chars = 0;
            while chars < k && end < len {
                end += utf8_width(bytes[end]);
                chars += 1;
            }
            if chars < k {
                // Fewer than k characters left: no later window either.
                return;
            }
            f(xxh3_64(&bytes[a..end]));
            match memchr::memchr(b' ', &bytes[a..]) {
                Some(p) => a += p + 1,
                None => return,
            }
        }
    }
    // Window i spans from character start i to character start i + k (or the text's end).
    let mut starts = Starts::new(bytes);
    let mut ends = Starts::new(bytes);
    for _ in 0..k {
        ends.next();
    }
    let mut b = ends.next();
    if b == len {
        f(xxh3_64(bytes));
        return;
    }
    let mut a = starts.next();
    loop {
        f(xxh3_64(&bytes[a..b]));
        if b == len {
            return;
        }
        a = starts.next();
        b = ends.next();
    }
}

/// Largest k for which [`anchored_by_masks`] finds every window end within 64 bytes of its start
/// (k + 1 characters of at most 4 bytes).
const MASKED_K: usize = 15;

/// The word-anchored windows of `bytes` (at least k + 1 characters, `k <= MASKED_K`), as
/// [`for_each_window`] with `anchored`: from the lead-byte and space masks of the two 64-byte
/// blocks around each word start, computed once per block. A window's end is the (k+1)-th lead
/// bit from its start (the text's end counts as one), the next word starts after the first space
/// bit; so there is no stepping character by character and no search per word.
#[inline(always)]
fn anchored_by_masks(bytes: &[u8], k: usize, f: &mut impl FnMut(u64)) {
    debug_assert!(k <= MASKED_K);
    let len = bytes.len();
    // Lead and space bits of the 64 bytes at `at`; past the text no bits, except the lead bit of
    // the text's end.
    let block = |at: usize| -> (u64, u64) {
        if at > len {
            return (0, 0);
        }
        let (mut lead, space) = lead_and_space_masks(&bytes[at..]);
        if len - at < 64 {
            lead |= 1 << (len - at);
        }
        (lead, space)
    };
    let mut base = 0;
    let (mut l0, mut s0) = block(0);
    let (mut l1, mut s1) = block(64);
    let mut a = 0;
    while a < len {
        while a >= base + 64 {
            base += 64;
            (l0, s0) = (l1, s1);
            (l1, s1) = block(base + 64);
        }
        let o = a - base;
        let mut lead = ((l0 as u128 | (l1 as u128) << 64) >> o) as u64;
        if lead.count_ones() as usize <= k {
            // Fewer than k characters left: no later window either.
            return;
        }
        for _ in 0..k {
            lead &= lead - 1;
        }
        f(xxh3_64(&bytes[a..a + lead.trailing_zeros() as usize]));
        let space = ((s0 as u128 | (s1 as u128) << 64) >> o) as u64;
        if space != 0 {
            a += space.trailing_zeros() as usize + 1;
        } else if a + 64 < len {
            match memchr::memchr(b' ', &bytes[a + 64..]) {
                Some(p) => a += 64 + p + 1,
                None => return,
            }
        } else {
            return;
        }
    }
}

/// The byte offsets where the characters of a text start, then the text's length (forever):
/// from a bit mask of the bytes that are not UTF-8 continuation bytes, 64 bytes at a time, so
/// that one offset does not wait on decoding the character before it.
struct Starts<'a> {
    bytes: &'a [u8],
    base: usize,
    mask: u64,
}

impl<'a> Starts<'a> {
    #[inline(always)]
    fn new(bytes: &'a [u8]) -> Self {
        Starts {
            bytes,
            base: 0,
            mask: lead_and_space_masks(bytes).0,
        }
    }

    #[inline(always)]
    fn next(&mut self) -> usize {
        while self.mask == 0 {
            if self.base + 64 >= self.bytes.len() {
                self.base = self.bytes.len();
                return self.base;
            }
            self.base += 64;
            self.mask = lead_and_space_masks(&self.bytes[self.base..]).0;
        }
        let at = self.base + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        at
    }
}

/// For the first 64 bytes of `bytes` (fewer at its end: no bits past it), the bits of the bytes
/// that start a character (all but the UTF-8 continuation bytes `0b10xxxxxx`) and of the spaces.
/// A caller that uses only the first mask pays nothing for the second: the compiler drops it.
#[inline(always)]
fn lead_and_space_masks(bytes: &[u8]) -> (u64, u64) {
    let mut lead = 0u64;
    let mut space = 0u64;
    #[cfg(target_arch = "x86_64")]
    if let Some(chunk) = bytes.first_chunk::<64>() {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        for i in 0..4 {
            // SAFETY: the 16 bytes at `16 * i` are inside `chunk` (64 bytes); SSE2 is always
            // available on x86-64. A byte starts a character when, as a signed byte, it
            // exceeds -65.
            let (l, sp) = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().add(16 * i).cast());
                (
                    _mm_movemask_epi8(_mm_cmpgt_epi8(v, _mm_set1_epi8(-65))),
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8))),
                )
            };
            lead |= (l as u16 as u64) << (16 * i);
            space |= (sp as u16 as u64) << (16 * i);
        }
        return (lead, space);
    }
    for (j, &c) in bytes.iter().take(64).enumerate() {
        lead |= (((c as i8) >= -64) as u64) << j;
        space |= ((c == b' ') as u64) << j;
    }
    (lead, space)
}

/// At least as many as the windows [`for_each_window`] yields.
#[inline]
fn window_bound(text: &str, anchored: bool) -> usize {
    if anchored {
        memchr::memchr_iter(b' ', text.as_bytes()).count() + 1
    } else {
        text.chars().count()
    }
}

impl Shingler {
    /// Writes the distinct shingle hashes of `text` to `out` (cleared first), sorted.
    pub fn shingle_set(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        out.clear();
        self.shingles(text, k, out);
        out.sort_unstable();
        out.dedup();
    }

    /// Writes the distinct shingle hashes of `text` to `out` (cleared first), in no particular
    /// order. Faster than [`Shingler::shingle_set`]: duplicates are dropped with an open-addressing
    /// table instead of a sort (MinHash needs the set, not its order).
    pub fn shingle_set_unordered(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        self.set_unordered(text, k, false, out);
    }

    fn set_unordered(&mut self, text: &str, k: usize, anchored: bool, out: &mut Vec<u64>) {
        out.clear();
        if window_bound(text, anchored) > LARGE {
            // A huge document: sort in place rather than build a table twice its size, and hand
            // the buffer over, so that memory stays about 8 bytes a character.
            for_each_window(text, k, anchored, |h| out.push(h));
            out.sort_unstable();
            out.dedup();
            self.all = Vec::new();
            self.table = Vec::new();
            return;
        }
        self.for_each_distinct(Isa::detect(), text, k, anchored, |h| out.push(h));
    }

    /// Calls `f` once with each distinct shingle hash of `text` (every window, or only those that
    /// start a word when `anchored`), in order of first appearance except that a hash of 0 comes
    /// last; returns how many there were. Windows are hashed and deduplicated in one pass, with
    /// an open-addressing table; the loop is compiled once per instruction set in `isa`
    /// ([`Isa::detect`] gives the best this CPU runs), with the same results on every one.
    #[inline]
    pub fn for_each_distinct(
        &mut self,
        isa: Isa,
        text: &str,
        k: usize,
        anchored: bool,
        f: impl FnMut(u64),
    ) -> usize {
        let bound = window_bound(text, anchored);
        if bound > LARGE {
            let mut all = std::mem::take(&mut self.all);
            all.clear();
            for_each_window(text, k, anchored, |h| all.push(h));
            all.sort_unstable();
            all.dedup();
            all.iter().copied().for_each(f);
            let n = all.len();
            self.table = Vec::new();
            return n;
        }
        // At most one slot in four taken: a probe that meets another hash is a mispredicted
        // branch, and at half this size `benches/kernel.rs` `shingle/distinct_*` is about 12%
        // slower; the table (64-128 KB for a news article) stays in L2.
        let cap = (bound * 4).next_power_of_two().max(16);
        // 0 marks an empty slot; the (rare) shingle hashing to 0 is kept apart.
        self.table.clear();
        self.table.resize(cap, 0);
        let table = &mut self.table[..];
        let all = &mut self.all;
        match isa.kind() {
            Kind::Portable => distinct_body(table, all, text, k, anchored, f),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: an `Isa` of kind `Avx2` is only made by detection, when the CPU has AVX2
            // and the rest of x86-64-v3.
            Kind::Avx2 => unsafe { distinct_avx2(table, all, text, k, anchored, f) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX-512 (which implies x86-64-v3 in `Isa::avx512`).
            Kind::Avx512 => unsafe { distinct_avx512(table, all, text, k, anchored, f) },
        }
    }

    /// Appends the hash of every k-character window of `text` to `out`, in order, with repeats.
    pub fn shingles(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        for_each_window(text, k, false, |h| out.push(h));
    }
}

/// The body of [`Shingler::for_each_distinct`] for a table of a power-of-two size at least twice
/// the number of windows, all zero.
#[inline(always)]
fn distinct_body(
    table: &mut [u64],
    all: &mut Vec<u64>,
    text: &str,
    k: usize,
    anchored: bool,
    mut f: impl FnMut(u64),
) -> usize {
    debug_assert!(table.len().is_power_of_two());
    let mask = table.len() - 1;
    let mut zero = false;
    let mut count = 0;
    // Two phases: every window hashed into `all` first (no branch on the table in the way of the
    // hashing), then the table probed with each slot prefetched a few hashes ahead.
    all.clear();
    for_each_window(text, k, anchored, |h| all.push(h));
    const AHEAD: usize = 16;
    for (n, &h) in all.iter().enumerate() {
        if let Some(&next) = all.get(n + AHEAD) {
            prefetch(&table[(next as usize) & mask]);
        }
        if h == 0 {
            zero = true;
            continue;
        }
        let mut i = (h as usize) & mask;
        loop {
            let slot = table[i];
            if slot == 0 {
                table[i] = h;
                count += 1;
                f(h);
                break;
            }
            if slot == h {
                break;
            }
            i = (i + 1) & mask;
        }
    }
    if zero {
        count += 1;
        f(0);
    }
    count
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt,fma")]
unsafe fn distinct_avx2(
    table: &mut [u64],
    all: &mut Vec<u64>,
    text: &str,
    k: usize,
    anchored: bool,
    f: impl FnMut(u64),
) -> usize {
    distinct_body(table, all, text, k, anchored, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,bmi1,bmi2,lzcnt,popcnt,fma")]
unsafe fn distinct_avx512(
    table: &mut [u64],
    all: &mut Vec<u64>,
    text: &str,
    k: usize,
    anchored: bool,
    f: impl FnMut(u64),
) -> usize {
    distinct_body(table, all, text, k, anchored, f)
}

impl Shingler {
    /// Appends the hash of every k-character window that starts a word (at the start of the
    /// text or after a space): about one window per word instead of one per character, for a
    /// cheap first estimate of similarity.
    pub fn anchored_shingles(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        for_each_window(text, k, true, |h| out.push(h));
    }

    /// [`Shingler::anchored_shingles`], deduplicated, in no particular order.
    pub fn anchored_set_unordered(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        self.set_unordered(text, k, true, out);
    }
}

/// The distinct shingle hashes of `text` (convenience wrapper).
pub fn shingle_set(text: &str, k: usize) -> Vec<u64> {
    let mut out = Vec::new();
    Shingler::default().shingle_set(text, k, &mut out);
    out
}

/// Exact Jaccard similarity and containment (intersection over the smaller set) of two sorted,
/// deduplicated shingle sets.
pub fn exact_similarity(a: &[u64], b: &[u64]) -> (f64, f64) {
    if a.is_empty() || b.is_empty() {
        return (0.0, 0.0);
    }
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    (
        inter as f64 / union as f64,
        inter as f64 / a.len().min(b.len()) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_characters_not_bytes() {
        // 6 Arabic letters (12 bytes) give 2 windows of 5 characters.
        assert_eq!(shingle_set("كيريكي", 5).len(), 2);
        assert_eq!(shingle_set("abcdef", 5).len(), 2);
        assert_eq!(shingle_set("كيري", 5).len(), 1); // shorter than k: one shingle
        assert!(shingle_set("", 5).is_empty());
    }

    #[test]
    fn same_window_same_hash_across_texts() {
        let a = shingle_set("وزير الخارجية", 5);
        let b = shingle_set("قال وزير الخارجية", 5);
        let (j, c) = exact_similarity(&a, &b);
        assert!((c - 1.0).abs() < 1e-12, "a is contained in b");
        assert!(j > 0.6 && j < 1.0);
    }

    #[test]
    fn unordered_set_equals_sorted_set() {
        let mut s = Shingler::default();
        for text in [
            "",
            "a",
            "aaaaaaaaaa",
            "وزير الخارجية الأمريكي جون كيري وزير الخارجية",
        ] {
            let mut a = Vec::new();
            s.shingle_set_unordered(text, 5, &mut a);
            a.sort_unstable();
            assert_eq!(a, shingle_set(text, 5), "{text}");
        }
    }

    #[test]
    fn anchored_windows_start_words() {
        let mut s = Shingler::default();
        let mut out = Vec::new();
        s.anchored_shingles("abc defg hij", 3, &mut out);
        let want: Vec<u64> = ["abc", "def", "hij"]
            .iter()
            .map(|w| xxh3_64(w.as_bytes()))
            .collect();
        assert_eq!(out, want);
        let mut set = Vec::new();
        s.anchored_set_unordered("abc abc abc", 3, &mut set);
        assert_eq!(set, vec![xxh3_64(b"abc")]);
    }

    #[test]
    fn huge_texts_give_the_same_set() {
        let text: String = (0..(LARGE / 8 + 10))
            .map(|i| format!("w{} ", i % 5000))
            .collect();
        let mut s = Shingler::default();
        let mut a = Vec::new();
        s.shingle_set_unordered(&text, 5, &mut a);
        a.sort_unstable();
        assert_eq!(a, shingle_set(&text, 5));
    }

    /// The windows the way they were first computed: every character boundary collected, then
    /// each window sliced out of the text.
    fn reference_windows(text: &str, k: usize, anchored: bool) -> Vec<u64> {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return Vec::new();
        }
        let mut starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let n = starts.len();
        if n <= k {
            return vec![xxh3_64(bytes)];
        }
        starts.push(bytes.len());
        (0..=n - k)
            .filter(|&i| !anchored || starts[i] == 0 || bytes[starts[i] - 1] == b' ')
            .map(|i| xxh3_64(&bytes[starts[i]..starts[i + k]]))
            .collect()
    }

    /// Texts of 0 to 60 characters (every third text: up to 400, so that the 64-byte steps of
    /// the anchored scan run) from a small alphabet of 1- to 4-byte characters and spaces; every
    /// fourth text is ASCII, every fourth (other) one has spaces only rarely (words longer than
    /// 64 bytes).
    fn random_texts(count: usize) -> Vec<String> {
        const ALPHABET: [char; 10] = ['a', 'b', ' ', ' ', 'و', 'ز', 'ي', 'ر', '€', '😀'];
        const RARE_SPACES: [char; 40] = [
            'a', 'b', 'و', 'ز', 'ي', 'ر', '€', '😀', 'a', 'b', 'و', 'ز', 'ي', 'ر', '€', '😀', 'a',
            'b', 'و', 'ز', 'ي', 'ر', '€', '😀', 'a', 'b', 'و', 'ز', 'ي', 'ر', '€', '😀', 'a', 'b',
            'و', 'ز', 'ي', 'ر', '€', ' ',
        ];
        let mut state = 11u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        (0..count)
            .map(|i| {
                let len = next() as usize % if i % 3 == 0 { 401 } else { 61 };
                if i % 4 == 1 {
                    return (0..len)
                        .map(|_| RARE_SPACES[next() as usize % RARE_SPACES.len()])
                        .collect();
                }
                // Every fourth text is ASCII only (the fast path).
                let span = if i % 4 == 0 { 4 } else { ALPHABET.len() };
                (0..len).map(|_| ALPHABET[next() as usize % span]).collect()
            })
            .collect()
    }

    #[test]
    fn windows_match_the_reference_on_random_texts() {
        let mut s = Shingler::default();
        for text in random_texts(3000) {
            for k in [1, 3, 5, 7, 20] {
                let mut got = Vec::new();
                s.shingles(&text, k, &mut got);
                assert_eq!(got, reference_windows(&text, k, false), "{text:?} k={k}");
                got.clear();
                s.anchored_shingles(&text, k, &mut got);
                assert_eq!(
                    got,
                    reference_windows(&text, k, true),
                    "{text:?} k={k} anchored"
                );
            }
        }
    }

    #[test]
    fn every_isa_gives_the_same_set() {
        let mut s = Shingler::default();
        for text in random_texts(1000) {
            for anchored in [false, true] {
                let mut want = reference_windows(&text, 5, anchored);
                want.sort_unstable();
                want.dedup();
                for isa in Isa::available() {
                    let mut got = Vec::new();
                    let n = s.for_each_distinct(isa, &text, 5, anchored, |h| got.push(h));
                    assert_eq!(n, got.len());
                    got.sort_unstable();
                    assert_eq!(got, want, "{text:?} {isa:?} anchored={anchored}");
                }
            }
        }
    }

    #[test]
    fn repeats_are_one_shingle() {
        assert_eq!(shingle_set("aaaaaaaaaa", 5).len(), 1);
        let mut all = Vec::new();
        Shingler::default().shingles("aaaaaaaaaa", 5, &mut all);
        assert_eq!(all.len(), 6);
    }
}
