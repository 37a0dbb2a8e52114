//! Normalization: the text transformation that makes copies of one story meet.
//!
//! Applied line by line (a document's lines are the unit the boilerplate stage reasons about), so
//! a normalized document has exactly as many `\n`-separated lines as the original.
//!
//! Steps, in order, each switchable through [`NormalizeOptions`]:
//! 1. Unicode NFKC (presentation forms, ligatures, full-width letters and compatibility digits meet
//!    their plain forms).
//! 2. Case folding: Unicode lowercase mapping, plus `ß → ss` and final sigma `ς → σ`, the two full
//!    case foldings that matter in practice.
//! 3. Format characters (general category Cf: bidi marks, zero-width joiners, BOM, soft hyphen) are
//!    removed.
//! 4. Arabic folding: harakat, Quranic annotation marks, superscript alef and tatweel removed;
//!    `أ إ آ ٱ → ا`; `ؤ ئ → ء`; `ى ی → ي`; `ک → ك`; `ة → ه`; Arabic-Indic and Persian digits → ASCII.
//! 5. Punctuation (P*), math and modifier symbols (Sm, Sk) and control characters become a space;
//!    letters, marks, numbers, other symbols (emoji) and currency signs stay.
//! 6. Whitespace collapsed to one space, trimmed.
//!
//! The folding is written by hand because it *is* the product: which variants of a letter count as
//! one is a decision about Arabic news text that no general-purpose crate makes.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use xxhash_rust::xxh3::xxh3_64;

use crate::isa::{Isa, Kind};

/// Which normalization steps run. All are on by default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizeOptions {
    pub nfkc: bool,
    pub case_fold: bool,
    pub arabic: bool,
    pub punctuation: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            nfkc: true,
            case_fold: true,
            arabic: true,
            punctuation: true,
        }
    }
}

/// Folds one character after NFKC and case folding. `None` drops it, `Some(' ')` is a separator.
#[inline]
fn fold_char(c: char, o: &NormalizeOptions) -> Option<char> {
    if o.arabic {
        match c {
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' | '\u{0640}' => {
                return None
            }
            'أ' | 'إ' | 'آ' | 'ٱ' => return Some('ا'),
            'ؤ' | 'ئ' => return Some('ء'),
            'ى' | '\u{06CC}' => return Some('ي'),
            '\u{06A9}' => return Some('ك'),
            'ة' => return Some('ه'),
            '\u{0660}'..='\u{0669}' => {
                return char::from_u32(c as u32 - 0x0660 + '0' as u32);
            }
            '\u{06F0}'..='\u{06F9}' => {
                return char::from_u32(c as u32 - 0x06F0 + '0' as u32);
            }
            _ => {}
        }
    }
    if c.is_whitespace() {
        return Some(' ');
    }
    if c.is_ascii() {
        return if c.is_ascii_alphanumeric() {
            Some(c)
        } else if c.is_ascii_control() || o.punctuation {
            Some(' ')
        } else {
            Some(c)
        };
    }
    match c.general_category() {
        GeneralCategory::Format => None,
        GeneralCategory::Control => Some(' '),
        GeneralCategory::ConnectorPunctuation
        | GeneralCategory::DashPunctuation
        | GeneralCategory::OpenPunctuation
        | GeneralCategory::ClosePunctuation
        | GeneralCategory::InitialPunctuation
        | GeneralCategory::FinalPunctuation
        | GeneralCategory::OtherPunctuation
        | GeneralCategory::MathSymbol
        | GeneralCategory::ModifierSymbol
            if o.punctuation =>
        {
            Some(' ')
        }
        _ => Some(c),
    }
}

#[inline]
fn push_folded(c: char, o: &NormalizeOptions, out: &mut String, space: &mut bool) {
    match fold_char(c, o) {
        None => {}
        Some(' ') => *space = true,
        Some(f) => push_out(f, out, space),
    }
}

#[inline]
fn push_out(f: char, out: &mut String, space: &mut bool) {
    if *space && !out.is_empty() && !out.ends_with('\n') {
        out.push(' ');
    }
    *space = false;
    out.push(f);
}

/// The slow path for one character: case folding, then [`fold_char`].
fn push_cased(c: char, o: &NormalizeOptions, out: &mut String, space: &mut bool) {
    if !o.case_fold || (c.is_ascii() && !c.is_ascii_uppercase()) {
        return push_folded(c, o, out, space);
    }
    match c {
        'ß' | 'ẞ' => {
            push_folded('s', o, out, space);
            push_folded('s', o, out, space);
        }
        'ς' => push_folded('σ', o, out, space),
        _ => {
            for l in c.to_lowercase() {
                let l = if l == 'ς' { 'σ' } else { l };
                push_folded(l, o, out, space);
            }
        }
    }
}

// Table entries: a mapped character (< 0x110000) or one of these, plus UNSTABLE.
const DROP: u32 = 0x7FFF_FFFF;
const SPACE: u32 = 0x7FFF_FFFE;
const SLOW: u32 = 0x7FFF_FFFD;
/// Set when a line holding this character may change under NFKC (quick check not Yes, or a
/// combining mark that reorders or composes): such a line goes through full NFKC.
const UNSTABLE: u32 = 0x8000_0000;

/// What [`push_cased`] does to every character of the Basic Multilingual Plane, precomputed once
/// per option set: the mapped character, or DROP, SPACE, or SLOW (several characters out), with
/// the UNSTABLE bit. Looking a character up here replaces a general-category search, a
/// case-mapping search and an NFKC quick-check lookup per character, which were most of the time
/// spent normalizing.
fn bmp_table(o: &NormalizeOptions) -> &'static [u32] {
    static TABLES: [std::sync::OnceLock<Vec<u32>>; 8] = [const { std::sync::OnceLock::new() }; 8];
    let idx = (o.case_fold as usize) | (o.arabic as usize) << 1 | (o.punctuation as usize) << 2;
    TABLES[idx].get_or_init(|| {
        (0u32..0x10000)
            .map(|u| match char::from_u32(u) {
                None => DROP,
                Some(c) => {
                    let mut tmp = String::new();
                    let mut space = false;
                    push_cased(c, o, &mut tmp, &mut space);
                    let mut it = tmp.chars();
                    let entry = match (it.next(), it.next(), space) {
                        (None, _, true) => SPACE,
                        (None, _, false) => DROP,
                        (Some(f), None, false) => f as u32,
                        _ => SLOW,
                    };
                    let quick = unicode_normalization::is_nfkc_quick(std::iter::once(c))
                        == unicode_normalization::IsNormalized::Yes;
                    let ccc = unicode_normalization::char::canonical_combining_class(c);
                    // A mark that is dropped and composes with nothing cannot change the result
                    // by reordering (the marks that stay are UNSTABLE themselves). The hamza and
                    // madda above and below compose with alef, waw and yeh: never stable.
                    let dropped_inert = entry == DROP && !('\u{0653}'..='\u{0655}').contains(&c);
                    if quick && (ccc == 0 || dropped_inert) {
                        entry
                    } else {
                        entry | UNSTABLE
                    }
                }
            })
            .collect()
    })
}

#[inline]
fn push_char(c: char, table: &[u32], o: &NormalizeOptions, out: &mut String, space: &mut bool) {
    let u = c as u32;
    if u < 0x10000 {
        match table[u as usize] & !UNSTABLE {
            DROP => {}
            SPACE => *space = true,
            SLOW => push_cased(c, o, out, space),
            f => push_out(char::from_u32(f).expect("table holds chars"), out, space),
        }
    } else {
        push_cased(c, o, out, space);
    }
}

// Entries of `small_table`: a kind in the top bits; for EMIT the output character in the low 21
// bits, with IDENT when it is the input character itself.
const S_EMIT: u32 = 0;
const S_DROP: u32 = 1 << 24;
const S_SPACE: u32 = 2 << 24;
/// Several characters out, or a character of three or four bytes: [`long_char`].
const S_SLOW: u32 = 3 << 24;
/// NFKC may change a line holding this character: the line goes through full NFKC.
const S_UNSTABLE: u32 = 4 << 24;
const S_KIND: u32 = 0xFF << 24;
const S_IDENT: u32 = 1 << 21;
const S_CHAR: u32 = (1 << 21) - 1;

/// What the fast path does with each one- or two-byte UTF-8 character, per option set.
struct Tables {
    /// [`bmp_table`] for U+0000–U+07FF (ASCII, Latin, Greek, Cyrillic, Hebrew, Arabic) condensed
    /// into a table small enough to stay in the L1 cache, with the UNSTABLE bit applied (it is
    /// ignored without NFKC) and the characters that stay themselves marked IDENT.
    small: [u32; 0x800],
    /// The IDENT characters of `small` as nibble tables for the vector scan ([`plain_run_end`]).
    /// ASCII: for each low nibble, bit `h` set when the byte `h << 4 | low` stays itself.
    ascii: [u8; 16],
    /// Arabic (leads 0xD8–0xDB, U+0600–U+06FF): at index `(lead & 1) << 3 | (trail >> 3) & 7`,
    /// bit `trail & 7` set when the character stays itself; `arabic[0]` for the leads 0xD8 and
    /// 0xD9, `arabic[1]` for 0xDA and 0xDB.
    arabic: [[u8; 16]; 2],
}

/// The [`Tables`] of an option set, built once.
fn tables(o: &NormalizeOptions) -> &'static Tables {
    static TABLES: [std::sync::OnceLock<Box<Tables>>; 16] =
        [const { std::sync::OnceLock::new() }; 16];
    let idx = (o.case_fold as usize)
        | (o.arabic as usize) << 1
        | (o.punctuation as usize) << 2
        | (o.nfkc as usize) << 3;
    TABLES[idx].get_or_init(|| {
        let table = bmp_table(o);
        let mut t = Box::new(Tables {
            small: [0u32; 0x800],
            ascii: [0; 16],
            arabic: [[0; 16]; 2],
        });
        for (u, s) in t.small.iter_mut().enumerate() {
            let e = table[u];
            *s = if o.nfkc && e & UNSTABLE != 0 {
                S_UNSTABLE
            } else {
                match e & !UNSTABLE {
                    DROP => S_DROP,
                    SPACE => S_SPACE,
                    SLOW => S_SLOW,
                    f if f == u as u32 => S_EMIT | S_IDENT | f,
                    f => S_EMIT | f,
                }
            };
        }
        for u in 0..0x80 {
            if t.small[u] & S_IDENT != 0 {
                t.ascii[u & 15] |= 1 << (u >> 4);
            }
        }
        for u in 0x600..0x700 {
            if t.small[u] & S_IDENT != 0 {
                let (lead, trail) = (0xC0 | u >> 6, 0x80 | (u & 0x3F));
                t.arabic[lead >> 1 & 1][(lead & 1) << 3 | (trail >> 3 & 7)] |= 1 << (trail & 7);
            }
        }
        t
    })
}

/// The [`Tables::small`] entry of the character starting at `bytes[i]` and its length in bytes;
/// `(S_SLOW, 0)` for a character of three or four bytes.
#[inline(always)]
fn small_entry(bytes: &[u8], i: usize, small: &[u32; 0x800]) -> (u32, usize) {
    let b0 = bytes[i];
    if b0 < 0x80 {
        (small[b0 as usize], 1)
    } else if b0 < 0xE0 {
        // `110xxxxx 10yyyyyy` (0xC2..=0xDF then 0x80..=0xBF, `bytes` being valid UTF-8 cut at
        // a character boundary) is the code point `xxxxxyyyyyy`.
        let b1 = bytes[i + 1] as usize;
        let u = ((b0 as usize) << 6).wrapping_add(b1).wrapping_sub(0x3080) & 0x7FF;
        (small[u], 2)
    } else {
        (S_SLOW, 0)
    }
}

/// Appends the normalized form of one line (which must not contain `\n`) to `out`.
pub fn normalize_line_into(line: &str, o: &NormalizeOptions, out: &mut String) {
    match Isa::detect().kind() {
        Kind::Portable => line_into::<false>(line, 0, line.len(), o, out),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa` kinds other than `Portable` are only made by detection, when the CPU has
        // AVX2 (and BMI1/2, LZCNT, POPCNT).
        Kind::Avx2 | Kind::Avx512 => unsafe { line_into_avx2(line, 0, line.len(), o, out) },
    }
}

/// [`line_into`] compiled with AVX2 (the vector scan of [`plain_run_end`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn line_into_avx2(
    text: &str,
    from: usize,
    to: usize,
    o: &NormalizeOptions,
    out: &mut String,
) {
    line_into::<true>(text, from, to, o, out)
}

/// Appends the normalized form of the line `text[from..to]` (which must not contain `\n`) to
/// `out`. `SIMD` (the vector scan) only where compiled with AVX2: from [`line_into_avx2`] or
/// [`doc_avx2`].
#[inline(always)]
fn line_into<const SIMD: bool>(
    text: &str,
    from: usize,
    to: usize,
    o: &NormalizeOptions,
    out: &mut String,
) {
    let start = out.len();
    // Fast path: every character NFKC-stable (one table lookup each); otherwise start over
    // through full NFKC. Without NFKC the fast path never gives up.
    if stable_line_into::<SIMD>(text, from, to, o, out) {
        return;
    }
    out.truncate(start);
    let table = bmp_table(o);
    let mut space = false;
    for c in text[from..to].nfkc() {
        push_char(c, table, o, out, &mut space);
    }
}

/// [`push_char`] over the line `text[from..to]`, as long as every character is NFKC-stable (or
/// NFKC is off): false (with some output appended) at the first one that is not.
///
/// This loop is most of the time spent normalizing, and normalizing a large share of the whole
/// program's: it is written by hand, byte by byte and (with `SIMD`) 32 bytes at a time, rather
/// than as a chain of `chars()` adaptors. Its output is defined by `reference_line_into` in the
/// tests, which compare the two on random text for every option set.
///
/// Walks the bytes: a one- or two-byte character is decoded by hand and looked up in
/// [`Tables::small`]; longer ones go through [`long_char`]. A run of characters that stay
/// themselves, with single ASCII spaces between them, is its own output: it is copied whole
/// instead of character by character; with `SIMD` its end is found by [`plain_run_end`]. Such a
/// run (then starting with a space or not) is also looked for right after a character that
/// changes into another one. The "is there output on this line" test of [`push_out`] is kept
/// in a local.
#[inline(always)]
fn stable_line_into<const SIMD: bool>(
    text: &str,
    from: usize,
    to: usize,
    o: &NormalizeOptions,
    out: &mut String,
) -> bool {
    let t = tables(o);
    let small = &t.small;
    let bytes = &text.as_bytes()[..to];
    // As `push_out` decides whether a pending space is written.
    let mut any = !out.is_empty() && !out.ends_with('\n');
    let mut space = false;
    let mut i = from;
    while i < to {
        let (e, w) = small_entry(bytes, i, small);
        let kind = e & S_KIND;
        if kind == S_EMIT {
            if space && any {
                out.push(' ');
            }
            space = false;
            any = true;
            let run = if e & S_IDENT != 0 {
                i
            } else {
                out.push(char::from_u32(e & S_CHAR).expect("table holds chars"));
                i + w
            };
            // Then characters that stay themselves, with single spaces before them: copied
            // whole (a space here follows output, so it is written as it is).
            i += w;
            #[cfg(target_arch = "x86_64")]
            let scanned = SIMD && {
                i = plain_run_end(text.as_bytes(), i, to, t);
                true
            };
            #[cfg(not(target_arch = "x86_64"))]
            let scanned = false;
            if !scanned {
                while i < to {
                    let (e, w) = small_entry(bytes, i, small);
                    if e & S_IDENT != 0 {
                        i += w;
                    } else if bytes[i] == b' ' && i + 1 < to {
                        // One space then a character that stays itself: both copied as they are.
                        let (next, w) = small_entry(bytes, i + 1, small);
                        if next & S_IDENT == 0 {
                            break;
                        }
                        i += 1 + w;
                    } else {
                        break;
                    }
                }
            }
            if i > run {
                out.push_str(&text[run..i]);
            }
            continue;
        }
        match kind {
            S_SPACE => space = true,
            S_DROP => {}
            S_UNSTABLE => return false,
            _ => {
                let c = text[i..].chars().next().expect("a character starts here");
                if !long_char(c, o, out, &mut space) {
                    return false;
                }
                any = !out.is_empty() && !out.ends_with('\n');
                i += c.len_utf8();
                continue;
            }
        }
        i += w;
    }
    true
}

/// Bytes [`plain_window`] reads: 32 positions and the byte after them.
const WINDOW: usize = 33;

/// The end of the run of plain characters starting at `bytes[i]` (a character boundary) and
/// ending at most at `to`: the first position, from `i` on, that holds neither a character that
/// stays itself nor a space followed by one. Where the scalar loop of [`stable_line_into`]
/// stops, or earlier: two-byte characters other than Arabic ones (leads 0xD8–0xDB) and a space
/// at the end of a 32-byte window also end a run here. Ending early gives the same output: the
/// caller then takes a space as pending and starts a new run at the next character that stays
/// itself. Bytes of `bytes` past `to` are read but do not count.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn plain_run_end(bytes: &[u8], mut i: usize, to: usize, t: &Tables) -> usize {
    let mut pad = [0u8; WINDOW];
    loop {
        let window: &[u8; WINDOW] = match bytes.get(i..i + WINDOW) {
            Some(w) => w.try_into().expect("a window is WINDOW bytes"),
            None => {
                // The end of the text: zeros (a control character, never plain) after it.
                let rest = &bytes[i..];
                pad[..rest.len()].copy_from_slice(rest);
                pad[rest.len()..].fill(0);
                &pad
            }
        };
        // SAFETY: `SIMD` code (the only caller) is compiled only into `#[target_feature]`
        // functions for AVX2, called only when `Isa::detect` found AVX2.
        let (start, lead, space) = unsafe { plain_window(window, t) };
        let limit = to - i;
        let valid = if limit > 32 {
            u64::MAX
        } else {
            (1u64 << limit) - 1
        };
        // Plain bytes: a character that stays itself (one byte, or the lead of two and then its
        // trail, which may be byte 32), or a space before one. A space at 31 is not looked
        // past: the run ends there, and the caller sees a space then a new run (the same output).
        let plain =
            (u64::from(start) | u64::from(lead) << 1 | u64::from(space & start >> 1)) & valid;
        let end = (!plain).trailing_zeros() as usize;
        if end < 32 {
            return i + end;
        }
        // All 32 plain (33 when the last one leads a two-byte character): on to the next
        // character boundary.
        i += end;
    }
}

/// For the 32 bytes at `w[0..32]` (and the one after them): the positions where a character
/// that stays itself starts (ASCII from [`Tables::ascii`], two-byte Arabic from
/// [`Tables::arabic`]), those of them that lead a two-byte character, and the spaces.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn plain_window(w: &[u8; WINDOW], t: &Tables) -> (u32, u32, u32) {
    use std::arch::x86_64::*;
    // SAFETY: `w` holds WINDOW = 33 bytes, so 32-byte loads at offsets 0 and 1 stay inside it.
    let a = _mm256_loadu_si256(w.as_ptr() as *const __m256i);
    let b = _mm256_loadu_si256(w.as_ptr().add(1) as *const __m256i);
    let nib = _mm256_set1_epi8(0x0F);
    let zero = _mm256_setzero_si256();
    let bits = _mm256_setr_epi8(
        1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128,
        1, 2, 4, 8, 16, 32, 64, -128,
    );
    let table = |x: &[u8; 16]| {
        // SAFETY: a 16-byte load from a 16-byte array.
        let x = _mm_loadu_si128(x.as_ptr() as *const __m128i);
        _mm256_broadcastsi128_si256(x)
    };
    // ASCII: the low nibble picks the table byte, the high nibble its bit; bytes from 0x80 on
    // (negative) are not ASCII.
    let lo = _mm256_and_si256(a, nib);
    let hi = _mm256_and_si256(_mm256_srli_epi16(a, 4), nib);
    let ascii = _mm256_and_si256(
        _mm256_shuffle_epi8(table(&t.ascii), lo),
        _mm256_shuffle_epi8(bits, hi),
    );
    let ascii = _mm256_andnot_si256(
        _mm256_cmpeq_epi8(ascii, zero),
        _mm256_cmpgt_epi8(a, _mm256_set1_epi8(-1)),
    );
    // Arabic: lead bit 0 and trail bits 3-5 pick the table byte, trail bits 0-2 its bit, lead
    // bit 1 the table.
    let idx = _mm256_or_si256(
        _mm256_slli_epi16(_mm256_and_si256(a, _mm256_set1_epi8(1)), 3),
        _mm256_and_si256(_mm256_srli_epi16(b, 3), _mm256_set1_epi8(7)),
    );
    let second = _mm256_cmpeq_epi8(
        _mm256_and_si256(a, _mm256_set1_epi8(2)),
        _mm256_set1_epi8(2),
    );
    let byte = _mm256_blendv_epi8(
        _mm256_shuffle_epi8(table(&t.arabic[0]), idx),
        _mm256_shuffle_epi8(table(&t.arabic[1]), idx),
        second,
    );
    let bit = _mm256_shuffle_epi8(bits, _mm256_and_si256(b, _mm256_set1_epi8(7)));
    let arabic_lead = _mm256_cmpeq_epi8(
        _mm256_and_si256(a, _mm256_set1_epi8(0xFCu8 as i8)),
        _mm256_set1_epi8(0xD8u8 as i8),
    );
    let lead = _mm256_andnot_si256(
        _mm256_cmpeq_epi8(_mm256_and_si256(byte, bit), zero),
        arabic_lead,
    );
    let start = _mm256_or_si256(ascii, lead);
    let space = _mm256_cmpeq_epi8(a, _mm256_set1_epi8(b' ' as i8));
    (
        _mm256_movemask_epi8(start) as u32,
        _mm256_movemask_epi8(lead) as u32,
        _mm256_movemask_epi8(space) as u32,
    )
}

/// A character the small table does not settle (three or four UTF-8 bytes, or several
/// characters out), through [`bmp_table`] and [`push_char`]: false when the line must go
/// through full NFKC.
#[inline(never)]
fn long_char(c: char, o: &NormalizeOptions, out: &mut String, space: &mut bool) -> bool {
    let u = c as u32;
    if o.nfkc && (u >= 0x10000 || bmp_table(o)[u as usize] & UNSTABLE != 0) {
        return false;
    }
    push_char(c, bmp_table(o), o, out, space);
    true
}

/// Normalizes one line into a new string.
pub fn normalize_line(line: &str, o: &NormalizeOptions) -> String {
    let mut s = String::with_capacity(line.len());
    normalize_line_into(line, o, &mut s);
    s
}

/// A document after normalization: its lines (as many as `text.split('\n')` of the original),
/// the boilerplate key of each line, and a hash of the whole normalized text for exact duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NormDoc {
    /// Normalized lines joined by `\n`; line `i` here is line `i` of the original text.
    pub text: String,
    /// Byte offset in `text` where each line starts (one entry per line).
    pub line_starts: Vec<u32>,
    /// [`line_key`] of each line; 0 for an empty line. A line of punctuation and symbols only
    /// (empty once normalized) gets its [`separator_key`] instead (see [`FORM_SEPARATOR`]).
    pub line_keys: Vec<u64>,
    /// [`line_form`] of each line: what its raw text shows that the normalized text loses.
    pub line_forms: Vec<LineForm>,
    /// Hash of the non-empty normalized lines: equal for exact duplicates.
    pub exact_hash: u128,
    /// Number of characters in the non-empty normalized lines joined by single spaces.
    pub chars: u32,
}

impl NormDoc {
    pub fn lines(&self) -> usize {
        self.line_starts.len()
    }

    /// The normalized text of line `i`.
    pub fn line(&self, i: usize) -> &str {
        let start = self.line_starts[i] as usize;
        let end = match self.line_starts.get(i + 1) {
            Some(&next) => next as usize - 1,
            None => self.text.len(),
        };
        &self.text[start..end]
    }
}

/// Normalizes a whole document.
pub fn normalize_doc(text: &str, o: &NormalizeOptions) -> NormDoc {
    normalize_doc_isa(Isa::detect(), text, o)
}

/// [`normalize_doc`] compiled for `isa` (any of [`Isa::available`]: the token is only made for
/// what this CPU runs): the same result on each.
pub fn normalize_doc_isa(isa: Isa, text: &str, o: &NormalizeOptions) -> NormDoc {
    match isa.kind() {
        Kind::Portable => doc_body::<false>(text, o),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa` kinds other than `Portable` are only made by detection, when the CPU has
        // AVX2 (and BMI1/2, LZCNT, POPCNT).
        Kind::Avx2 | Kind::Avx512 => unsafe { doc_avx2(text, o) },
    }
}

/// [`doc_body`] compiled with AVX2 (the vector scan of [`plain_run_end`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,popcnt")]
unsafe fn doc_avx2(text: &str, o: &NormalizeOptions) -> NormDoc {
    doc_body::<true>(text, o)
}

#[inline(always)]
fn doc_body<const SIMD: bool>(text: &str, o: &NormalizeOptions) -> NormDoc {
    let mut out = String::with_capacity(text.len());
    let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
    let mut line_starts = Vec::with_capacity(lines);
    let mut line_keys = Vec::with_capacity(lines);
    let mut line_forms = Vec::with_capacity(lines);
    let mut key_buf = Vec::new();
    let mut exact = xxhash_rust::xxh3::Xxh3::new();
    let mut nonempty = 0u32;
    let mut from = 0;
    loop {
        let to = memchr::memchr(b'\n', &text.as_bytes()[from..]).map_or(text.len(), |p| from + p);
        let start = out.len();
        line_starts.push(start as u32);
        line_into::<SIMD>(text, from, to, o, &mut out);
        let line = &out[start..];
        let raw = &text[from..to];
        if line.is_empty() {
            let key = separator_key(raw);
            line_keys.push(key);
            line_forms.push(if key == 0 { 0 } else { FORM_SEPARATOR });
        } else {
            line_keys.push(line_key_into(line, &mut key_buf));
            line_forms.push(text_form(raw, line));
            if nonempty > 0 {
                exact.update(b" ");
            }
            exact.update(line.as_bytes());
            nonempty += 1;
        }
        if to == text.len() {
            break;
        }
        out.push('\n');
        from = to + 1;
    }
    // The characters of the non-empty lines joined by single spaces: those of the whole text but
    // its newlines, plus the joining spaces, counted in one pass.
    let chars = if out.len() < u32::MAX as usize {
        // No sum below can reach `u32::MAX`: the same as adding line by line.
        let total = out.chars().count() - (line_starts.len() - 1);
        (total + nonempty.saturating_sub(1) as usize) as u32
    } else {
        // As first written (saturating per line, wrapping for the spaces).
        let mut chars = 0u32;
        let mut seen = false;
        for (i, &s) in line_starts.iter().enumerate() {
            let end = line_starts
                .get(i + 1)
                .map_or(out.len(), |&e| e as usize - 1);
            let line = &out[s as usize..end];
            if !line.is_empty() {
                if seen {
                    chars = chars.wrapping_add(1);
                }
                chars = chars.saturating_add(line.chars().count() as u32);
                seen = true;
            }
        }
        chars
    };
    NormDoc {
        text: out,
        line_starts,
        line_keys,
        line_forms,
        exact_hash: exact.digest128(),
        chars,
    }
}

/// What a line's raw text shows that its normalized text loses, as bits ([`FORM_SEPARATOR`],
/// [`FORM_ADDRESS`], [`FORM_LABEL`]): normalization turns punctuation into spaces, so that
/// `***`, `name@site.com` and `Ingredients:` lose what makes them a separator, an address and a
/// heading. Boilerplate detection reads these bits beside each line's key.
pub type LineForm = u8;

/// Only punctuation and symbols (`***`, `- - -`): empty once normalized, a separator.
pub const FORM_SEPARATOR: LineForm = 1;
/// Holds an e-mail address, a handle (`@name`) or a web address.
pub const FORM_ADDRESS: LineForm = 2;
/// Ends with a colon, or is only an item's number of one or two digits with punctuation
/// (`(1)`, `2 -`, `«3»`): a heading or label that introduces the lines after it.
pub const FORM_LABEL: LineForm = 4;

/// Seed of [`separator_key`]s, so that they never meet a [`line_key`] of the same bytes.
const SEPARATOR_SEED: u64 = 0x5e9a_7a70_72ee_11e5;

/// Whether `c` shows on the page: not white space, a format or a control character.
fn visible(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c.general_category(),
            GeneralCategory::Format | GeneralCategory::Control
        )
}

/// The key of a raw line whose normalized text is empty: 0 if nothing on it is [`visible`];
/// otherwise (a separator of punctuation and symbols) a hash of its visible characters, runs of
/// white space between them as one space. Never 0 for a separator.
pub fn separator_key(raw: &str) -> u64 {
    if !raw.chars().any(visible) {
        return 0;
    }
    let mut buf = String::with_capacity(raw.len());
    for word in raw.split(|c: char| !visible(c)).filter(|w| !w.is_empty()) {
        if !buf.is_empty() {
            buf.push(' ');
        }
        buf.push_str(word);
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(buf.as_bytes(), SEPARATOR_SEED).max(1)
}

/// [`FORM_ADDRESS`] and [`FORM_LABEL`] of a raw line whose normalized text `normalized` is not
/// empty.
fn text_form(raw: &str, normalized: &str) -> LineForm {
    let mut form = 0;
    if has_address(raw.as_bytes()) {
        form |= FORM_ADDRESS;
    }
    let item = normalized.len() <= 2
        && normalized.bytes().all(|b| b.is_ascii_digit())
        && raw.chars().any(|c| visible(c) && !c.is_numeric());
    if item || ends_with_colon(raw) {
        form |= FORM_LABEL;
    }
    form
}

/// An `@` next to a letter, digit or `_` of ASCII (`name@site.com`, `@name`), `://`, or `www.`
/// in any case: one pass over the line for the three marks, then a look around each.
fn has_address(b: &[u8]) -> bool {
    let word = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
    memchr::memchr3_iter(b'@', b':', b'.', b).any(|i| match b[i] {
        b'@' => (i > 0 && word(i - 1)) || word(i + 1),
        b':' => b[i + 1..].starts_with(b"//"),
        _ => i >= 3 && b[i - 3..i].eq_ignore_ascii_case(b"www"),
    })
}

/// Whether the last [`visible`] character of `raw` is a colon. ASCII characters, letters and
/// digits are decided without looking up their category (a table search, as slow as the rest
/// of the line's form).
fn ends_with_colon(raw: &str) -> bool {
    for c in raw.chars().rev() {
        if c == ':' {
            return true;
        }
        let blank = if c.is_ascii() {
            c.is_ascii_whitespace() || c.is_ascii_control()
        } else {
            !c.is_alphanumeric() && !visible(c)
        };
        if !blank {
            return false;
        }
    }
    false
}

/// The [`LineForm`] of the raw line `raw` whose normalized text is `normalized`.
pub fn line_form(raw: &str, normalized: &str) -> LineForm {
    if !normalized.is_empty() {
        text_form(raw, normalized)
    } else if separator_key(raw) != 0 {
        FORM_SEPARATOR
    } else {
        0
    }
}

/// The boilerplate key of an already normalized line: every run of digits becomes `0`, so that
/// dated or numbered variants of one footer or dateline share a key. Never 0 for a non-empty line.
pub fn line_key(normalized: &str) -> u64 {
    let mut buf = Vec::new();
    line_key_into(normalized, &mut buf)
}

#[inline(always)]
fn line_key_into(normalized: &str, buf: &mut Vec<u8>) -> u64 {
    let bytes = normalized.as_bytes();
    // Digits are ASCII, so masking them byte by byte keeps the other characters whole.
    let Some(mut at) = find_digit(bytes, 0) else {
        return xxh3_64(bytes).max(1);
    };
    buf.clear();
    let mut from = 0;
    loop {
        // A run of digits at `at`, after the text `bytes[from..at]`.
        buf.extend_from_slice(&bytes[from..at]);
        buf.push(b'0');
        from = at
            + bytes[at..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        match find_digit(bytes, from) {
            Some(next) => at = next,
            None => break,
        }
    }
    buf.extend_from_slice(&bytes[from..]);
    xxh3_64(buf).max(1)
}

/// The position of the first ASCII digit in `bytes[from..]`. Looks at 16 bytes at a time
/// (a test without an early exit, which the compiler turns into a few vector instructions).
#[inline(always)]
fn find_digit(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    for chunk in bytes[from..].chunks_exact(16) {
        if chunk
            .iter()
            .fold(0u8, |acc, &b| acc | (b.wrapping_sub(b'0') < 10) as u8)
            != 0
        {
            break;
        }
        i += 16;
    }
    bytes[i..]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize_line(s, &NormalizeOptions::default())
    }

    /// The definition the fast paths must match: full NFKC (when on), then [`push_cased`] on
    /// every character.
    fn reference_line_into(line: &str, o: &NormalizeOptions, out: &mut String) {
        let mut space = false;
        if o.nfkc {
            for c in line.nfkc() {
                push_cased(c, o, out, &mut space);
            }
        } else {
            for c in line.chars() {
                push_cased(c, o, out, &mut space);
            }
        }
    }

    /// [`line_key`] as first written: the digit mask built byte by byte.
    fn reference_line_key(normalized: &str) -> u64 {
        let mut buf = Vec::new();
        let mut in_digits = false;
        for &b in normalized.as_bytes() {
            if b.is_ascii_digit() {
                if !in_digits {
                    buf.push(b'0');
                }
                in_digits = true;
            } else {
                in_digits = false;
                buf.push(b);
            }
        }
        xxh3_64(&buf).max(1)
    }

    /// [`normalize_doc`] written plainly over [`reference_line_into`].
    fn reference_doc(text: &str, o: &NormalizeOptions) -> NormDoc {
        let mut d = NormDoc::default();
        let mut exact = xxhash_rust::xxh3::Xxh3::new();
        let mut nonempty = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            if i > 0 {
                d.text.push('\n');
            }
            let start = d.text.len();
            d.line_starts.push(start as u32);
            reference_line_into(raw, o, &mut d.text);
            let line = &d.text[start..];
            d.line_keys.push(if line.is_empty() {
                separator_key(raw)
            } else {
                reference_line_key(line)
            });
            d.line_forms.push(line_form(raw, line));
            if !line.is_empty() {
                nonempty.push(line.to_string());
            }
        }
        let joined = nonempty.join(" ");
        exact.update(joined.as_bytes());
        d.exact_hash = exact.digest128();
        d.chars = joined.chars().count() as u32;
        d
    }

    /// All 16 option sets.
    fn all_options() -> Vec<NormalizeOptions> {
        (0..16u8)
            .map(|m| NormalizeOptions {
                nfkc: m & 1 != 0,
                case_fold: m & 2 != 0,
                arabic: m & 4 != 0,
                punctuation: m & 8 != 0,
            })
            .collect()
    }

    /// Characters the fast paths treat differently: ASCII (letters, digits, punctuation,
    /// controls, newline), Latin-1 and other two-byte letters (ß, İ, final sigma, Cyrillic),
    /// Arabic letters, harakat, composing hamza and madda, tatweel, Arabic-Indic and Persian
    /// digits, combining marks, three-byte characters (presentation forms, CJK, Hangul jamo,
    /// format characters, U+2028, quotes, full-width letters, Kelvin sign), emoji and other
    /// supplementary characters.
    fn tricky_char() -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        prop_oneof![
            4 => proptest::sample::select(vec![
                'ا', 'و', 'ي', 'ب', 'ل', 'ة', 'ى', 'أ', 'إ', 'آ', 'ٱ', 'ؤ', 'ئ', 'ک', '\u{06CC}',
                '\u{064B}', '\u{064E}', '\u{0651}', '\u{0650}', '\u{0653}', '\u{0654}',
                '\u{0655}', '\u{0670}', '\u{0640}', '\u{06D6}', '٠', '٣', '٩', '۱', '۴', '،',
                '؟', '\u{061C}', '\u{0600}',
            ]),
            3 => proptest::sample::select(vec![
                'a', 'Z', 'e', 'E', '0', '7', '9', ' ', ' ', '\t', '\n', '\r', ',', '.', '-', '_',
                '$', '^', '`', '+', '<', '\u{0}', '\u{7F}',
            ]),
            2 => proptest::sample::select(vec![
                'ß', 'é', 'É', 'İ', 'ı', 'ς', 'Σ', 'σ', 'Ω', 'Д', 'ё', '\u{00A0}', '\u{00AD}',
                '«', '»', '¹', '½', 'µ', 'ŉ', 'ǅ', 'Ⱥ', '\u{0301}', '\u{0308}', '\u{0327}',
                '\u{0323}', '\u{0345}', 'א', '\u{05B4}', '\u{0085}',
            ]),
            2 => proptest::sample::select(vec![
                '\u{FE8D}', '\u{FE8E}', '\u{FEDF}', '\u{FEE0}', '\u{FEFB}', '\u{FDF2}',
                '\u{FEFF}', '\u{200C}', '\u{200D}', '\u{200F}', '\u{2028}', '\u{2029}',
                '\u{201C}', '\u{201D}', '\u{2026}', 'ﬁ', 'Ａ', '１', '\u{212A}', '\u{2126}', 'ẞ',
                '中', '文', '\u{1100}', '\u{1161}', '\u{11A8}', '가', 'ह', '\u{093F}',
                '\u{094D}', '\u{3000}',
            ]),
            1 => proptest::sample::select(vec![
                '🎉', '😀', '\u{1F3FB}', '𝐀', '\u{1D165}', '\u{10400}', '\u{E0001}',
            ]),
            1 => proptest::prelude::any::<char>(),
        ]
    }

    #[test]
    fn ta_marbuta_and_hamza_seats_meet() {
        // Both spellings stand in the first seed's disclaimer and in other sites' copies.
        assert_eq!(n("تنوية هام"), n("تنويه هام"));
        assert_eq!(n("الموقع غير مسئول"), n("الموقع غير مسؤول"));
    }

    #[test]
    fn alef_forms_and_alef_maqsura_meet() {
        assert_eq!(n("أعلن إعلان آسيا ٱلله"), "اعلن اعلان اسيا الله");
        assert_eq!(n("على مستوى"), n("علي مستوي"));
    }

    #[test]
    fn harakat_and_tatweel_are_removed() {
        assert_eq!(n("وَزِيرُ الخـــارجيّة"), n("وزير الخارجية"));
        assert_eq!(n("كـيـري"), "كيري");
    }

    #[test]
    fn arabic_indic_and_persian_digits_become_ascii() {
        assert_eq!(n("٢٠١٥/٩/١٩"), "2015 9 19");
        assert_eq!(n("۱۴۳۶ هـ"), "1436 ه");
    }

    #[test]
    fn punctuation_becomes_space_and_whitespace_collapses() {
        assert_eq!(
            n("  قال كيري: «لقاؤنا المقبل»،  وتابع… "),
            "قال كيري لقاءنا المقبل وتابع"
        );
        assert_eq!(n("Hello,   World!\t(Again)"), "hello world again");
        assert_eq!(n("مشاركة :"), "مشاركه");
    }

    #[test]
    fn nfkc_and_case_folding() {
        // Arabic presentation forms (as pasted from PDFs) meet the plain letters.
        assert_eq!(n("\u{FEDF}\u{FEE0}\u{FE8E}"), n("\u{0644}\u{0644}\u{0627}"));
        assert_eq!(n("ＡＢＣ ﬁ"), "abc fi");
        assert_eq!(n("STRASSE Straße"), "strasse strasse");
        assert_eq!(n("ΟΔΟΣ οδος"), "οδοσ οδοσ");
    }

    #[test]
    fn format_characters_are_removed() {
        assert_eq!(n("كي\u{200C}ري\u{200F}"), "كيري");
        assert_eq!(n("\u{FEFF}text\u{00AD}book"), "textbook");
    }

    #[test]
    fn other_scripts_keep_their_marks() {
        // Devanagari vowel signs are combining marks that carry meaning: kept.
        assert_eq!(n("हिन्दी"), "हिन्दी");
        assert_eq!(n("Café CAFÉ"), "café café");
        assert_eq!(n("emoji 🎉 stays"), "emoji 🎉 stays");
    }

    #[test]
    fn table_agrees_with_the_slow_path_on_every_bmp_character() {
        for o in [
            NormalizeOptions::default(),
            NormalizeOptions {
                case_fold: false,
                arabic: false,
                punctuation: false,
                nfkc: true,
            },
        ] {
            for u in 0u32..0x10000 {
                let Some(c) = char::from_u32(u) else { continue };
                let line = format!("a{c}b");
                let mut fast = String::new();
                let mut space = false;
                for ch in line.chars() {
                    push_char(ch, bmp_table(&o), &o, &mut fast, &mut space);
                }
                let mut slow = String::new();
                let mut space = false;
                for ch in line.chars() {
                    push_cased(ch, &o, &mut slow, &mut space);
                }
                assert_eq!(fast, slow, "U+{u:04X}");
            }
        }
    }

    proptest::proptest! {
        /// The fast path gives what full NFKC then folding gives, on strings mixing Arabic
        /// letters, harakat, composing hamza and madda, presentation forms, Latin with combining
        /// accents, Hangul jamo, emoji and punctuation.
        #[test]
        fn fast_path_equals_full_nfkc(chars in proptest::collection::vec(proptest::sample::select(vec![
            'ا', 'و', 'ي', 'ب', 'ة', 'ى', 'أ', '\u{064E}', '\u{0651}', '\u{0650}', '\u{0653}',
            '\u{0654}', '\u{0655}', '\u{0670}', '\u{0640}', '\u{FEDF}', '\u{FE8E}', 'e', 'E',
            '\u{0301}', '\u{0327}', '\u{0323}', 'ﬁ', '\u{1100}', '\u{1161}', '\u{11A8}', '٣',
            '🎉', ' ', ',', '«', 'ß', 'İ', '\u{200F}',
        ]), 0..24)) {
            let line: String = chars.into_iter().collect();
            let o = NormalizeOptions::default();
            let mut fast = String::new();
            normalize_line_into(&line, &o, &mut fast);
            let mut slow = String::new();
            let mut space = false;
            for c in line.nfkc() {
                push_cased(c, &o, &mut slow, &mut space);
            }
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(512))]

        /// The fast paths give exactly what the plain definition gives, for every option set,
        /// also when appending after text that does or does not end a line.
        #[test]
        fn line_equals_reference(
            chars in proptest::collection::vec(tricky_char(), 0..40),
            prefix in proptest::sample::select(vec!["", "x", "x\n"]),
        ) {
            let line: String = chars.into_iter().collect();
            for o in all_options() {
                let mut fast = prefix.to_string();
                normalize_line_into(&line, &o, &mut fast);
                let mut slow = prefix.to_string();
                reference_line_into(&line, &o, &mut slow);
                proptest::prop_assert_eq!(&fast, &slow, "{:?} {:?}", line, o);
            }
        }

        /// Whole documents: text, line starts, line keys, exact hash and character count.
        #[test]
        fn doc_equals_reference(chars in proptest::collection::vec(tricky_char(), 0..80)) {
            let text: String = chars.into_iter().collect();
            for o in all_options() {
                proptest::prop_assert_eq!(normalize_doc(&text, &o), reference_doc(&text, &o), "{:?} {:?}", text, o);
            }
        }
    }

    /// Text for the vector scan: mostly long runs of characters that stay themselves (Arabic
    /// letters, ASCII lowercase and digits) with single spaces, broken now and then by
    /// characters that change (ة, ى, أ, Arabic-Indic digits, uppercase), are dropped (harakat,
    /// tatweel), become a space (punctuation, double spaces, tabs), compose under NFKC, or take
    /// two, three or four UTF-8 bytes outside the Arabic block, and by line breaks.
    fn scan_char() -> impl proptest::strategy::Strategy<Value = char> {
        use proptest::prelude::*;
        prop_oneof![
            24 => proptest::sample::select(vec![
                'ا', 'ل', 'ي', 'و', 'م', 'ت', 'ن', 'ب', 'ر', 'ه', 'ء', 'غ', 'ف', 'ك', 'ڤ', 'ۀ',
                'ڭ', 'ە', 'ۓ',
            ]),
            8 => Just(' '),
            6 => proptest::sample::select(vec!['a', 'q', 'z', '0', '5', '9']),
            3 => proptest::sample::select(vec![
                'ة', 'ى', 'أ', 'إ', '٣', '۴', '\u{064E}', '\u{0640}', '\u{0654}', '،', '.', '"',
                'E', '\t', '\u{06CC}', '\u{06A9}', '\u{06D6}',
            ]),
            1 => proptest::sample::select(vec![
                'é', 'Ω', 'Д', 'א', '\u{00A0}', '中', '\u{2026}', '\u{FEDF}', '\u{200F}', '🎉',
                '\u{10400}', '\n',
            ]),
            1 => tricky_char(),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(512))]

        /// The vector scan (and the scalar loop) against the plain definition, on long lines
        /// and documents, at every offset from the start of the text (the scan reads 32-byte
        /// windows that may reach past the line and the text): lines, whole documents, every
        /// option set, every instruction set.
        #[test]
        fn scan_equals_reference(
            chars in proptest::collection::vec(scan_char(), 0..400),
            shift in 0usize..40,
        ) {
            let text: String = "x".repeat(shift) + &chars.into_iter().collect::<String>();
            let line = text.replace('\n', " ");
            for o in all_options() {
                let want = reference_doc(&text, &o);
                for isa in Isa::available() {
                    proptest::prop_assert_eq!(
                        &normalize_doc_isa(isa, &text, &o), &want, "{:?} {:?} {:?}", text, o, isa
                    );
                    let mut fast = String::new();
                    let to = line.len();
                    match isa.kind() {
                        Kind::Portable => line_into::<false>(&line, 0, to, &o, &mut fast),
                        #[cfg(target_arch = "x86_64")]
                        // SAFETY: `Isa::available` lists only what this CPU has.
                        _ => unsafe { line_into_avx2(&line, 0, to, &o, &mut fast) },
                    }
                    let mut slow = String::new();
                    reference_line_into(&line, &o, &mut slow);
                    proptest::prop_assert_eq!(&fast, &slow, "{:?} {:?} {:?}", line, o, isa);
                }
            }
        }
    }

    proptest::proptest! {
        /// Line keys over long lines (the digit search looks at 16 bytes at a time).
        #[test]
        fn line_key_equals_reference(chars in proptest::collection::vec(
            proptest::sample::select(vec!['a', ' ', '0', '5', '9', 'ب', '/', ':', '€']),
            0..200,
        )) {
            let line: String = chars.into_iter().collect();
            proptest::prop_assert_eq!(line_key(&line), reference_line_key(&line));
        }
    }

    #[test]
    fn tricky_characters_match_reference() {
        let cases = [
            // Hamza above after alef composes under NFKC into U+0623, which folds to alef.
            ("\u{0627}\u{0654}", "ا"),
            ("\u{0648}\u{0654}\u{0627}", "ءا"),
            // Presentation form of alef.
            ("\u{FE8D}\u{FEDF}", "ال"),
            ("Straße ẞ", "strasse ss"),
            ("ΟΔΟΣ ΟΔΟς", "οδοσ οδοσ"),
            ("٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹", "0123456789 0123456789"),
            ("كـــتاب", "كتاب"),
            ("\u{FEFF}بسم", "بسم"),
            ("سطر\u{2028}ثان", "سطر ثان"),
            ("a\u{2029}b\u{0085}c", "a b c"),
            ("e\u{0301}", "é"),
            ("K\u{212A}", "kk"),
            ("🎉 ok", "🎉 ok"),
        ];
        for (input, want) in cases {
            assert_eq!(n(input), want, "{input:?}");
            for o in all_options() {
                let mut fast = String::new();
                normalize_line_into(input, &o, &mut fast);
                let mut slow = String::new();
                reference_line_into(input, &o, &mut slow);
                assert_eq!(fast, slow, "{input:?} {o:?}");
            }
        }
    }

    #[test]
    fn small_table_agrees_with_the_slow_path_on_every_two_byte_character() {
        for o in all_options() {
            for u in 0u32..0x800 {
                let c = char::from_u32(u).expect("no surrogates below U+0800");
                for line in [format!("a{c}b"), format!("{c} {c}1"), format!(" {c}")] {
                    let mut fast = String::new();
                    normalize_line_into(&line, &o, &mut fast);
                    let mut slow = String::new();
                    reference_line_into(&line, &o, &mut slow);
                    assert_eq!(fast, slow, "U+{u:04X} {o:?}");
                }
            }
        }
    }

    #[test]
    fn options_switch_steps_off() {
        let o = NormalizeOptions {
            arabic: false,
            ..Default::default()
        };
        assert_eq!(normalize_line("تنوية", &o), "تنوية");
        let o = NormalizeOptions {
            case_fold: false,
            punctuation: false,
            ..Default::default()
        };
        assert_eq!(normalize_line("Hi, there", &o), "Hi, there");
    }

    #[test]
    fn doc_keeps_line_count_and_keys_mask_digits() {
        let d = normalize_doc(
            "Title\n\nالرياض 26 شوال 1436 هـ واس\nEnd",
            &NormalizeOptions::default(),
        );
        assert_eq!(d.lines(), 4);
        assert_eq!(d.line(0), "title");
        assert_eq!(d.line(1), "");
        assert_eq!(d.line(3), "end");
        assert_eq!(d.line_keys[1], 0);
        let other = normalize_doc(
            "الرياض ٣ ذو القعدة ١٤٣٦ هـ واس",
            &NormalizeOptions::default(),
        );
        assert_ne!(d.line_keys[2], other.line_keys[0]);
        let same = normalize_doc("الرياض 2 شوال 1437 هـ (واس)", &NormalizeOptions::default());
        assert_eq!(d.line_keys[2], same.line_keys[0]);
    }

    #[test]
    fn line_forms_keep_what_normalization_loses() {
        let o = NormalizeOptions::default();
        let d = normalize_doc(
            "***\n \u{200f} \n* * *\nname.x@site.com\nتويتر: @handle_1\nsee www.site.com.\n\
             المقادير:\u{202c} \nالسلام: عليكم\nmail @ home\nWWW.site.org\nhttps://x\n(١)\n 12 - \n37\n19:05\n(123)",
            &o,
        );
        let forms = [
            FORM_SEPARATOR,
            0,
            FORM_SEPARATOR,
            FORM_ADDRESS,
            FORM_ADDRESS,
            FORM_ADDRESS,
            FORM_LABEL,
            0,
            0,
            FORM_ADDRESS,
            FORM_ADDRESS,
            FORM_LABEL,
            FORM_LABEL,
            0,
            0,
            0,
        ];
        assert_eq!(d.line_forms, forms);
        // A separator has a key of its own (spacing inside it as one space); a blank line has 0.
        assert_ne!(d.line_keys[0], 0);
        assert_eq!(d.line_keys[1], 0);
        assert_ne!(d.line_keys[0], d.line_keys[2]);
        assert_eq!(d.line_keys[2], separator_key("  *   *  * "));
        assert_eq!(d.line(0), "");
        // Separators change neither the text nor its exact hash.
        assert_eq!(d.exact_hash, normalize_doc(&d.text, &o).exact_hash);
    }

    #[test]
    fn exact_hash_ignores_blank_lines_and_spacing() {
        let o = NormalizeOptions::default();
        let a = normalize_doc("وزير الخارجية\n\nجون كيري", &o);
        let b = normalize_doc("وزير  الخارجيّة\nجون كيري\n", &o);
        assert_eq!(a.exact_hash, b.exact_hash);
        assert_eq!(a.chars, b.chars);
        assert_ne!(a.exact_hash, normalize_doc("وزير الخارجية", &o).exact_hash);
    }
}
