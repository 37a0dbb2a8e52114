//! syndic finds exact and near-duplicate documents (syndicated copies of one story) in large
//! text corpora, flags the boilerplate lines that wrap them, and reports clusters as JSON.
//!
//! A run takes a [`Corpus`] (files and folders with [`Corpus::open`], or documents in memory with
//! [`Corpus::from_documents`]) and a [`Config`] (from [`Config::builder`]), and gives a [`Scan`]:
//! the documents, the clusters of copies and the boilerplate found. [`report::build`] turns it
//! into the JSON [`Report`]; [`dedup::write`] writes the corpus back with one document kept per
//! cluster, or every record annotated with its cluster; [`html`] writes a page to check the
//! clusters by eye.
//!
//! ```no_run
//! use syndic::{dedup, output::Output, pipeline, report, Config, Corpus};
//! let corpus = Corpus::open(&["news.jsonl.gz"])?;
//! let cfg = Config::builder().threshold(0.5).max_days(Some(3)).build()?;
//! let scan = pipeline::scan(&corpus, &cfg, &pipeline::Quiet)?;
//! println!("{}", report::build(&scan, &cfg, Default::default()).to_json());
//! let mut out = Output::create("clean.jsonl.zst".as_ref())?;
//! dedup::write(&corpus, &scan, &cfg.fields, &dedup::Options::default(), &mut out)?;
//! out.commit()?;
//! # Ok::<(), syndic::Error>(())
//! ```
//!
//! The stages the data flows through (read, normalize, boilerplate, shingle, sketch, band,
//! verify, cluster) are internal modules; ARCHITECTURE.md describes them. [`pipeline`] runs
//! them in order, within a memory [`Budget`] when one is given ([`pipeline::scan_within`]), and
//! polls the [`pipeline::Progress`] it is given for cancellation ([`Cancel`]). [`Error`] is the
//! one error type. With the `distributed` feature, `distributed` runs the same scan over several
//! processes and hosts (on timely-dataflow), with the same report.

/// Declares the stage modules: crate-private, or public (and hidden from the docs) with the
/// `internals` feature, which the crate's own tests, benches and fuzz targets turn on to measure
/// and test the stages one by one. Items only those use are dead code without it.
macro_rules! internal {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        #[allow(dead_code)]
        pub(crate) mod $name;
    )*};
}

internal!(
    band,
    boilerplate,
    cluster,
    date,
    ingest,
    normalize,
    shingle,
    sketch,
    spill,
    verify
);

mod config;
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod isa;
#[cfg(not(feature = "internals"))]
#[allow(dead_code)]
mod isa;

pub mod dedup;
#[cfg(feature = "distributed")]
pub mod distributed;
pub mod error;
pub mod eval;
pub mod html;
pub mod index;
pub mod output;
pub mod pipeline;
pub mod read;
pub mod report;
pub mod signal;

pub use band::Banding;
pub use boilerplate::{Boilerplate, BoilerplateOptions, Template};
pub use cluster::{Keep, Method};
pub use config::ConfigBuilder;
pub use error::{Error, Location, RecordError, Result};
pub use ingest::DocMeta;
pub use normalize::NormalizeOptions;
pub use pipeline::{Config, Scan, Stats};
pub use read::{Corpus, Document, Fields, OnError};
pub use report::Report;
pub use signal::Cancel;
pub use spill::Budget;
pub use verify::Mode as VerifyMode;
