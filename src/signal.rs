//! Interruption: a run stops when its [`Cancel`] token is set, and temporary files of outputs in
//! progress can be removed by a front end that is about to exit.
//!
//! Cancellation is per run: [`pipeline::scan`](crate::pipeline::scan) asks its
//! [`Progress`] whether to stop ([`Progress::cancelled`]) at each
//! stage boundary and every few thousand documents or bands within a stage, and returns
//! [`Error::Interrupted`](crate::Error::Interrupted) when told to, before writing anything. A
//! [`Cancel`] is a [`Progress`] that only answers that question; a front end that draws progress
//! holds one and answers with it.
//!
//! ```
//! use syndic::{pipeline, read::Corpus, signal::Cancel, Error};
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("a.jsonl");
//! # std::fs::write(&path, "{\"id\": \"1\", \"text\": \"a b c d e f g h\"}\n")?;
//! let cancel = Cancel::new();
//! let handle = cancel.clone(); // for another thread, a signal handler, a request timeout
//! handle.cancel();
//! let corpus = Corpus::open(&[&path])?;
//! let got = pipeline::scan(&corpus, &pipeline::Config::default(), &cancel);
//! assert!(matches!(got, Err(Error::Interrupted)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Temporary files (outputs being written by [`output`](crate::output), spools of standard input
//! and pipes) are recorded in a process-wide list, since they are files of the process, not of a
//! run: [`remove_temps`] removes them (a front end's panic hook), and [`remove_temps_and_hold`]
//! also keeps new ones from being recorded while the process exits.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::pipeline::Progress;

/// A cancellation token for one run: cheap to clone, every clone sets and sees the same flag.
/// Pass it (or a [`Progress`] that answers [`Progress::cancelled`] from it) to the run, and call
/// [`Cancel::cancel`] from anywhere (another thread, a signal handler) to stop that run.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A token that is not set.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Asks the run to stop: it returns [`Error::Interrupted`](crate::Error::Interrupted) at its
    /// next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`Cancel::cancel`] was called on this token or a clone of it.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// No progress drawn; cancelled when the token is.
impl Progress for Cancel {
    fn cancelled(&self) -> bool {
        self.is_cancelled()
    }
}

static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn temps() -> MutexGuard<'static, Vec<PathBuf>> {
    // The list stays valid whatever a panicking holder was doing: it only pushes and retains.
    TEMPS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes every registered temporary file (outputs in progress, spools of stdin and pipes).
pub fn remove_temps() {
    remove_all(&mut temps());
}

/// [`remove_temps`], then holds the list until the guard is dropped, so that no temporary file
/// made meanwhile by another thread is recorded (its maker waits): for a front end that removes
/// temporary files and then exits the process while a run is still going.
pub fn remove_temps_and_hold() -> TempsHeld {
    let mut t = temps();
    remove_all(&mut t);
    TempsHeld(t)
}

/// The list of temporary files, held by [`remove_temps_and_hold`] until dropped.
#[must_use = "the list is released at once when this is dropped"]
pub struct TempsHeld(#[allow(dead_code)] MutexGuard<'static, Vec<PathBuf>>);

fn remove_all(t: &mut Vec<PathBuf>) {
    for p in t.drain(..) {
        let _ = std::fs::remove_file(p);
    }
}

/// A temporary file made by `make` and recorded, both while the list is held: a file is either
/// made before [`remove_temps_and_hold`] takes the list (and removed by it) or not at all before
/// the process exits.
pub(crate) fn new_temp(
    make: impl FnOnce() -> std::io::Result<tempfile::NamedTempFile>,
) -> std::io::Result<tempfile::NamedTempFile> {
    let mut t = temps();
    let tmp = make()?;
    t.push(tmp.path().to_path_buf());
    Ok(tmp)
}

pub(crate) fn unregister_temp(p: &Path) {
    temps().retain(|x| x != p);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{self, Config};
    use crate::read::Corpus;
    use crate::Error;
    use std::sync::atomic::AtomicU64;

    /// A JSONL corpus of `n` records: pairs of copies (one word changed) from several sources,
    /// so that every stage has work (clusters, boilerplate lines, source templates).
    fn corpus(n: usize) -> (tempfile::TempDir, Corpus) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let mut out = String::new();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..n {
            if i % 2 == 0 {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
            }
            let mut s = state;
            let words: Vec<String> = (0..60)
                .map(|_| {
                    s = s
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    format!("w{:x}", s >> 52)
                })
                .collect();
            out.push_str(&format!(
                "{{\"id\":\"{i}\",\"source\":\"s{}\",\"text\":\"{} {i}\\nshare this story on social media\"}}\n",
                i % 3,
                words.join(" ")
            ));
        }
        std::fs::write(&path, out).unwrap();
        let corpus = Corpus::open(&[&path]).unwrap();
        (dir, corpus)
    }

    /// Records the stages a run begins and the documents it reports, and cancels itself at the
    /// `at`-th stage or once `after_docs` documents were reported.
    struct Recorder {
        cancel: Cancel,
        at: usize,
        after_docs: u64,
        stages: Mutex<Vec<String>>,
        docs: AtomicU64,
    }

    /// The error of a run that should have failed.
    fn error(got: crate::Result<pipeline::Scan>) -> Error {
        match got {
            Ok(scan) => panic!("the run finished: {} documents", scan.docs.len()),
            Err(e) => e,
        }
    }

    impl Recorder {
        fn new(at: usize, after_docs: u64) -> Self {
            Recorder {
                cancel: Cancel::new(),
                at,
                after_docs,
                stages: Mutex::new(Vec::new()),
                docs: AtomicU64::new(0),
            }
        }
    }

    impl Progress for Recorder {
        fn stage(&self, name: &str, _total: Option<u64>) {
            let mut s = self.stages.lock().unwrap();
            s.push(name.to_string());
            if s.len() == self.at.saturating_add(1) {
                self.cancel.cancel();
            }
        }
        fn advance(&self, n: u64) {
            let sum = self.docs.fetch_add(n, Ordering::Relaxed) + n;
            if sum >= self.after_docs {
                self.cancel.cancel();
            }
        }
        fn cancelled(&self) -> bool {
            self.cancel.is_cancelled()
        }
    }

    #[test]
    fn a_run_cancelled_before_it_starts_reads_nothing() {
        let (_dir, corpus) = corpus(50);
        let rec = Recorder::new(usize::MAX, u64::MAX);
        rec.cancel.cancel();
        let got = error(pipeline::scan(&corpus, &Config::default(), &rec));
        assert!(matches!(got, Error::Interrupted), "{got}");
        assert!(rec.stages.lock().unwrap().is_empty());
    }

    /// Cancelled as each stage begins, the run returns `Interrupted` and begins no later stage;
    /// the same corpus and token type, never cancelled, runs to the end.
    #[test]
    fn a_run_cancelled_at_any_stage_stops_there() {
        let (_dir, corpus) = corpus(200);
        let cfg = Config::default();
        let full = Recorder::new(usize::MAX, u64::MAX);
        let scan = pipeline::scan(&corpus, &cfg, &full).unwrap();
        assert_eq!(scan.docs.len(), 200);
        assert!(!scan.clusters.is_empty());
        let all = full.stages.into_inner().unwrap();
        assert!(all.len() >= 4, "{all:?}");
        for at in 0..all.len() {
            let rec = Recorder::new(at, u64::MAX);
            let got = error(pipeline::scan(&corpus, &cfg, &rec));
            assert!(matches!(got, Error::Interrupted), "at {}: {got}", all[at]);
            assert_eq!(
                rec.stages.into_inner().unwrap(),
                all[..=at],
                "at {}",
                all[at]
            );
        }
    }

    /// Cancelled while reading (after the first batch of documents), the run stops reading
    /// before the end of the corpus.
    #[test]
    fn a_run_cancelled_while_reading_stops_reading() {
        let (_dir, corpus) = corpus(5000);
        let rec = Recorder::new(usize::MAX, 1);
        let got = error(pipeline::scan(&corpus, &Config::default(), &rec));
        assert!(matches!(got, Error::Interrupted), "{got}");
        assert_eq!(*rec.stages.lock().unwrap(), ["reading"]);
        let read = rec.docs.load(Ordering::Relaxed);
        assert!(read > 0 && read < 5000, "{read} documents read");
    }

    #[test]
    fn clones_share_the_flag_and_new_tokens_start_clear() {
        let a = Cancel::new();
        let b = a.clone();
        assert!(!a.is_cancelled() && !Progress::cancelled(&b));
        b.cancel();
        assert!(a.is_cancelled() && Progress::cancelled(&a));
        // Per run: a fresh token is not touched by another run's cancellation.
        assert!(!Cancel::new().is_cancelled());
    }
}

thread_local! {
    /// How many [`catch_decoder_panic`] calls the current thread is inside.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, a call into a third-party decoder, and turns a panic inside it into an error
/// message. parquet 59 panics on some damaged pages instead of returning an error
/// (apache/arrow-rs#10722, fixed in parquet 60, which the Python binding's Arrow bridge does not
/// take yet): a damaged file is bad input, to be named like any other, not a bug of syndic.
pub(crate) fn catch_decoder_panic<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let got = std::panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    got.map_err(|p| {
        let why = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        format!("the decoder failed on damaged data ({why})")
    })
}

/// Whether a panic on the current thread is about to be caught and reported as an error (it is
/// inside a decoder call the library guards): a front end's panic hook then stays silent and
/// removes nothing.
pub fn panic_is_caught() -> bool {
    CATCHING.with(|c| c.get() > 0)
}
