//! CPU-feature dispatch: which instruction set the hot loops (normalization's vector scan, window
//! hashing and deduplication, the bin update) run with.
//!
//! Each hot loop is compiled more than once (baseline x86-64, and with `#[target_feature]` for
//! AVX2 and AVX-512) and the variant is picked at run time, so one binary runs on any x86-64 and
//! uses the wider instructions where the CPU has them; every variant gives the same bits.
//!
//! Running a `#[target_feature]` function on a CPU without the feature is undefined behaviour, so
//! the choice is an [`Isa`] token, as in `memchr`: its field is private and the only ways to get
//! one are detection at run time ([`Isa::detect`], [`Isa::available`], [`Isa::avx2`],
//! [`Isa::avx512`]) or [`Isa::portable`], which runs anywhere. A safe function that takes an
//! `Isa` can therefore call the variant it names.

use std::sync::OnceLock;

/// An instruction set that this CPU runs, as a token for the functions that take one
/// ([`crate::normalize::normalize_doc_isa`], [`crate::sketch::Sketcher::sketch_text_isa`],
/// [`crate::shingle::Shingler::for_each_distinct`]). It can only be obtained by asking the CPU
/// (or as [`Isa::portable`]), never named into existence:
///
/// ```
/// use syndic::isa::Isa;
/// let best = Isa::detect();
/// assert!(Isa::available().contains(&best));
/// assert_eq!(Isa::available()[0], Isa::portable());
/// if let Some(avx2) = Isa::avx2() {
///     assert_eq!(avx2.name(), "avx2"); // only on a CPU with AVX2 (and BMI1/2, LZCNT, POPCNT, FMA)
/// }
/// ```
///
/// There is no variant or constructor to pick AVX2 on a CPU without it:
///
/// ```compile_fail,E0599
/// let isa = syndic::isa::Isa::Avx2; // no such item: `Isa` is not an enum
/// ```
///
/// ```compile_fail,E0423
/// // The field is private: no `Isa` can be built, or its variant read, outside the crate.
/// fn relabel(isa: syndic::isa::Isa) -> syndic::isa::Isa {
///     syndic::isa::Isa(isa.0)
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Isa(Kind);

/// What an [`Isa`] holds; matched by the dispatching functions of the crate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// Whatever the build targets (x86-64 baseline: SSE2).
    Portable,
    /// AVX2 with BMI1/2, LZCNT, POPCNT, FMA (x86-64-v3).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// AVX-512 F/BW/DQ/VL on top of `Avx2` (x86-64-v4).
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The baseline of the build, which every CPU that runs the binary has.
    #[inline]
    pub const fn portable() -> Isa {
        Isa(Kind::Portable)
    }

    /// The variant to run, detected once: AVX2 where the CPU has it (measured the fastest: the
    /// AVX-512 build of the same loop is no faster, see `benches/kernel.rs`), else
    /// [`Isa::portable`]; `SYNDIC_NO_SIMD=1` (any value but `0` or empty) forces
    /// [`Isa::portable`].
    #[inline]
    pub fn detect() -> Isa {
        static CHOICE: OnceLock<Isa> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            let off = std::env::var_os("SYNDIC_NO_SIMD").is_some_and(|v| !v.is_empty() && v != "0");
            if off {
                return Isa::portable();
            }
            Isa::avx2().unwrap_or(Isa::portable())
        })
    }

    /// AVX2 (x86-64-v3: with BMI1/2, LZCNT, POPCNT and FMA) if this CPU has it.
    pub fn avx2() -> Option<Isa> {
        #[cfg(target_arch = "x86_64")]
        if has_v3() {
            return Some(Isa(Kind::Avx2));
        }
        None
    }

    /// AVX-512 (F, BW, DQ, VL, on top of [`Isa::avx2`]) if this CPU has it.
    pub fn avx512() -> Option<Isa> {
        #[cfg(target_arch = "x86_64")]
        if has_v3()
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl")
        {
            return Some(Isa(Kind::Avx512));
        }
        None
    }

    /// Every variant this CPU runs, portable first.
    pub fn available() -> Vec<Isa> {
        std::iter::once(Isa::portable())
            .chain(Isa::avx2())
            .chain(Isa::avx512())
            .collect()
    }

    /// A short name: `portable`, `avx2` or `avx512`.
    pub fn name(self) -> &'static str {
        match self.0 {
            Kind::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512 => "avx512",
        }
    }

    /// The variant, for dispatch. Any value other than [`Kind::Portable`] was made by detection,
    /// so the CPU has the features of the variant (and, for `Avx512`, those of `Avx2`).
    #[inline(always)]
    pub(crate) fn kind(self) -> Kind {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
fn has_v3() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("bmi1")
        && is_x86_feature_detected!("bmi2")
        && is_x86_feature_detected!("lzcnt")
        && is_x86_feature_detected!("popcnt")
        && is_x86_feature_detected!("fma")
}

/// Asks the CPU to start loading the cache line of `x` (a hint: it changes no result, and never
/// faults).
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints the cache and never faults; SSE is part of x86-64.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_what_the_cpu_reports() {
        let all = Isa::available();
        assert_eq!(all[0], Isa::portable());
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(
                Isa::avx2().is_some(),
                is_x86_feature_detected!("avx2") && has_v3()
            );
            if Isa::avx512().is_some() {
                assert!(is_x86_feature_detected!("avx512f") && Isa::avx2().is_some());
            }
            for isa in &all {
                match isa.kind() {
                    Kind::Portable => {}
                    Kind::Avx2 => assert!(is_x86_feature_detected!("avx2")),
                    Kind::Avx512 => assert!(is_x86_feature_detected!("avx512bw")),
                }
            }
        }
        assert!(all.contains(&Isa::detect()));
    }
}
