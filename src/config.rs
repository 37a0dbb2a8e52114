//! Building a [`Config`]: every parameter by name, with the LSH banding kept consistent with the
//! threshold and signature length (as the command line does) unless it is set explicitly.

use crate::band::Banding;
use crate::boilerplate::BoilerplateOptions;
use crate::cluster::{Keep, Method};
use crate::error::Result;
use crate::pipeline::Config;
use crate::read::{Fields, OnError};
use crate::verify::Mode;

/// Builds a [`Config`] ([`Config::builder`]); [`ConfigBuilder::build`] validates it.
///
/// ```
/// use syndic::Config;
/// let cfg = Config::builder().threshold(0.8).max_days(Some(3)).build()?;
/// // The banding follows the threshold: 0.8 needs fewer candidates than the default 0.5.
/// assert_ne!(cfg.banding, Config::default().banding);
/// assert!(Config::builder().threshold(1.5).build().is_err());
/// # Ok::<(), syndic::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    cfg: Config,
    banding: Option<Banding>,
}

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            cfg: Config::default(),
            banding: None,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty),* $(,)?) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> Self {
                self.cfg.$name = value;
                self
            }
        )*
    };
}

impl ConfigBuilder {
    setters! {
        /// The fields holding text, id, source and date.
        fields: Fields,
        /// What to do with a record that cannot be read.
        on_error: OnError,
        /// Shingle length in characters.
        shingle: usize,
        /// MinHash values per document (the banding follows unless set).
        num_perm: usize,
        /// Seed of the MinHash hash functions.
        seed: u64,
        /// Jaccard similarity at which two documents are copies (the banding follows unless set).
        threshold: f64,
        /// Containment at which a shorter document is a copy of a longer one; `None`: off.
        containment: Option<f64>,
        /// Shingles the smaller document needs for containment to count.
        min_containment_shingles: u32,
        /// Containment at which two documents dated within a day of each other are copies
        /// (the second rule); `None`: off.
        dated_containment: Option<f64>,
        /// Near-duplicates must be dated within this many days of each other.
        max_days: Option<u32>,
        /// How candidate pairs are measured.
        verify: Mode,
        /// Documents in one LSH bucket past which a bucket yields a linear number of pairs.
        max_bucket: usize,
        /// Which member of a cluster is kept.
        keep: Keep,
        /// How verified pairs become clusters.
        cluster: Method,
        /// Boilerplate detection; `None`: off.
        boilerplate: Option<BoilerplateOptions>,
    }

    /// Sets the LSH banding explicitly instead of the one chosen for the threshold.
    pub fn banding(mut self, banding: Banding) -> Self {
        self.banding = Some(banding);
        self
    }

    /// The configuration, validated; without an explicit banding, the one chosen for its
    /// threshold and signature length ([`Banding::for_verification`]).
    pub fn build(self) -> Result<Config> {
        let mut cfg = self.cfg;
        cfg.validate()?;
        cfg.banding = self
            .banding
            .unwrap_or_else(|| Banding::for_verification(cfg.threshold, cfg.num_perm));
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banding_follows_threshold_and_num_perm_unless_set() {
        let cfg = Config::builder().threshold(0.8).build().unwrap();
        assert_eq!(cfg.banding, Banding::for_verification(0.8, 128));
        let cfg = Config::builder().num_perm(256).build().unwrap();
        assert_eq!(cfg.banding, Banding::for_verification(0.5, 256));
        let set = Banding { bands: 10, rows: 4 };
        let cfg = Config::builder()
            .banding(set)
            .threshold(0.9)
            .build()
            .unwrap();
        assert_eq!(cfg.banding, set);
        assert_eq!(Config::builder().build().unwrap(), Config::default());
    }

    #[test]
    fn build_validates() {
        let e = Config::builder().threshold(0.0).build().unwrap_err();
        assert!(e.to_string().contains("threshold"), "{e}");
        let e = Config::builder().num_perm(4).build().unwrap_err();
        assert!(e.to_string().contains("num_perm"), "{e}");
    }
}
