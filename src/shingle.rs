//! Shingling: a text becomes the set of hashes of its character k-grams.
//!
//! Shingles are windows of `k` Unicode scalar values (not bytes, so that every script gets the same
//! window length), hashed with xxh3 over their UTF-8 bytes. A text shorter than `k` characters is
//! one shingle. The output is sorted and deduplicated: a set, whose size is what the containment
//! estimate needs.

use xxhash_rust::xxh3::xxh3_64;

/// Above this many windows a text is deduplicated by sorting in place (see
/// [`Shingler::shingle_set_unordered`]).
const LARGE: usize = 1 << 20;

/// Reusable scratch space for shingling (one per worker thread).
#[derive(Default)]
pub struct Shingler {
    starts: Vec<u32>,
    all: Vec<u64>,
    table: Vec<u64>,
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
        let mut all = std::mem::take(&mut self.all);
        all.clear();
        self.shingles(text, k, &mut all);
        if all.len() > LARGE {
            // A huge document: sort in place rather than build a table twice its size, and hand
            // the buffer over, so that memory stays about 8 bytes a character.
            all.sort_unstable();
            all.dedup();
            std::mem::swap(out, &mut all);
            all = Vec::new();
            self.starts = Vec::new();
            self.table = Vec::new();
        } else {
            self.distinct(&all, out);
        }
        self.all = all;
    }

    /// The distinct values of `all`, in order of first appearance, into `out` (cleared first).
    fn distinct(&mut self, all: &[u64], out: &mut Vec<u64>) {
        out.clear();
        let cap = (all.len() * 2).next_power_of_two().max(16);
        let mask = cap - 1;
        // 0 marks an empty slot; the (rare) shingle hashing to 0 is kept apart.
        self.table.clear();
        self.table.resize(cap, 0);
        let mut zero = false;
        for &h in all {
            if h == 0 {
                zero = true;
                continue;
            }
            let mut i = (h as usize) & mask;
            loop {
                let slot = self.table[i];
                if slot == 0 {
                    self.table[i] = h;
                    out.push(h);
                    break;
                }
                if slot == h {
                    break;
                }
                i = (i + 1) & mask;
            }
        }
        if zero {
            out.push(0);
        }
    }

    /// Appends the hash of every k-character window of `text` to `out`, in order, with repeats.
    pub fn shingles(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        debug_assert!(k > 0);
        let bytes = text.as_bytes();
        if text.is_ascii() && bytes.len() > k {
            out.extend(bytes.windows(k).map(xxh3_64));
            return;
        }
        self.windows(text, k, false, out);
    }

    /// Hashes the k-character windows of `text` (only those that start a word when `anchored`);
    /// a non-empty text shorter than `k` characters is one shingle.
    fn windows(&mut self, text: &str, k: usize, anchored: bool, out: &mut Vec<u64>) {
        let bytes = text.as_bytes();
        if bytes.is_empty() {
            return;
        }
        self.starts.clear();
        self.starts
            .extend(text.char_indices().map(|(i, _)| i as u32));
        let n = self.starts.len();
        if n <= k {
            out.push(xxh3_64(bytes));
            return;
        }
        self.starts.push(bytes.len() as u32);
        out.reserve(n - k + 1);
        for i in 0..=n - k {
            let a = self.starts[i] as usize;
            if anchored && a != 0 && bytes[a - 1] != b' ' {
                continue;
            }
            let b = self.starts[i + k] as usize;
            out.push(xxh3_64(&bytes[a..b]));
        }
    }
}

impl Shingler {
    /// Appends the hash of every k-character window that starts a word (at the start of the
    /// text or after a space): about one window per word instead of one per character, for a
    /// cheap first estimate of similarity.
    pub fn anchored_shingles(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        self.windows(text, k, true, out);
    }

    /// [`Shingler::anchored_shingles`], deduplicated, in no particular order.
    pub fn anchored_set_unordered(&mut self, text: &str, k: usize, out: &mut Vec<u64>) {
        let mut all = std::mem::take(&mut self.all);
        all.clear();
        self.anchored_shingles(text, k, &mut all);
        self.distinct(&all, out);
        self.all = all;
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

    #[test]
    fn repeats_are_one_shingle() {
        assert_eq!(shingle_set("aaaaaaaaaa", 5).len(), 1);
        let mut all = Vec::new();
        Shingler::default().shingles("aaaaaaaaaa", 5, &mut all);
        assert_eq!(all.len(), 6);
    }
}
