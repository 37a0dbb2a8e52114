//! Progress bars on stderr (only when it is a terminal and --quiet is not given).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use syndic::pipeline::Progress;

pub struct Bars {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Self {
        Bars {
            enabled: !quiet && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &str, total: Option<u64>) {
        pause_for_tests(name);
        if !self.enabled {
            return;
        }
        // Clear the previous stage's bar before the next one draws, or its line stays behind.
        let mut slot = self.bar.lock().unwrap();
        if let Some(old) = slot.take() {
            old.finish_and_clear();
        }
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template(
                    "{prefix:>12} [{bar:40}] {human_pos}/{human_len} (eta {eta})",
                )
                .expect("valid template")
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{prefix:>12} {spinner} {msg}")
                    .expect("valid template"),
            ),
        };
        bar.set_prefix(name.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        *slot = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().unwrap().as_ref() {
            b.inc(n);
            if b.length().is_none() {
                b.set_message(syndic::report::count(b.position(), "document", "documents"));
            }
        }
    }

    fn done(&self) {
        if let Some(b) = self.bar.lock().unwrap().take() {
            b.finish_and_clear();
        }
    }

    fn cancelled(&self) -> bool {
        crate::cancel().is_cancelled()
    }
}

/// For the tests of runs over several processes (tests/distributed.rs): with
/// `SYNDIC_TEST_PAUSE_AT=STAGE` in its environment, the process stops for good when stage STAGE
/// begins (saying so on stderr), so that a test can kill it at a known point of the run.
fn pause_for_tests(stage: &str) {
    if std::env::var_os("SYNDIC_TEST_PAUSE_AT").is_some_and(|s| s == stage) {
        eprintln!("syndic: paused at {stage} (SYNDIC_TEST_PAUSE_AT)");
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
}
