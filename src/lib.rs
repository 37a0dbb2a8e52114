//! syndic finds exact and near-duplicate documents — syndicated copies of one story — in large
//! text corpora, flags the boilerplate lines that wrap them, and reports clusters as JSON.
//!
//! The data flows through one module per stage:
//!
//! | stage | module | main types |
//! |---|---|---|
//! | read | [`read`] | [`read::Corpus`], [`read::Record`], [`read::Entry`] |
//! | read + normalize, streamed | [`ingest`] | [`ingest::DocMeta`], [`ingest::Ingested`] |
//! | normalize | [`normalize`] | [`normalize::NormDoc`], [`normalize::NormalizeOptions`] |
//! | boilerplate | [`boilerplate`] | [`boilerplate::Boilerplate`], [`boilerplate::Template`], [`boilerplate::LineMask`] |
//! | shingle | [`shingle`] | [`shingle::Shingler`] |
//! | sketch | [`sketch`] | [`sketch::Sketcher`], [`sketch::Signatures`], [`sketch::Isa`] |
//! | band | [`band`] | [`band::Banding`] |
//! | verify | [`verify`] | [`verify::VerifyRule`], [`verify::Edge`] |
//! | cluster | [`cluster`] | [`cluster::UnionFind`], [`cluster::Keep`] |
//! | report | [`report`] | [`report::Report`] |
//! | visual report | [`html`] | [`html::Page`] |
//!
//! [`pipeline`] runs them in order ([`pipeline::scan`] with a [`pipeline::Config`] gives a
//! [`pipeline::Scan`]; [`pipeline::scan_within`] does the same within a [`spill::Budget`], with
//! [`spill::TextStore`] and [`spill::Runs`] holding on disk what does not fit); [`output`] writes
//! files atomically; [`error::Error`] is the one error type.
//!
//! ```no_run
//! use syndic::{pipeline, read::Corpus, report};
//! let corpus = Corpus::open(&["seeds"])?;
//! let cfg = pipeline::Config::default();
//! let scan = pipeline::scan(&corpus, &cfg, &pipeline::Quiet)?;
//! let report = report::build(&scan, &cfg, Default::default());
//! println!("{}", report.to_json());
//! # Ok::<(), syndic::error::Error>(())
//! ```

pub mod band;
pub mod boilerplate;
pub mod cluster;
pub mod date;
pub mod error;
pub mod eval;
pub mod html;
pub mod ingest;
pub mod normalize;
pub mod output;
pub mod pipeline;
pub mod read;
pub mod report;
pub mod shingle;
pub mod signal;
pub mod sketch;
pub mod spill;
pub mod verify;

pub use error::{Error, Result};
