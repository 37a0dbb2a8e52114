//! Interruption: Ctrl-C (SIGINT) or SIGTERM sets a flag that long stages poll, and removes the
//! temporary files of outputs in progress before the process exits.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Whether the run was asked to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// Marks the run as interrupted and removes every registered temporary file. Called by the
/// front end's signal handler.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::Relaxed);
    remove_temps();
}

/// Removes every registered temporary file (outputs in progress, spools of stdin and pipes).
pub fn remove_temps() {
    if let Ok(t) = TEMPS.lock() {
        for p in t.iter() {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub(crate) fn register_temp(p: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.push(p.to_path_buf());
    }
}

pub(crate) fn unregister_temp(p: &Path) {
    if let Ok(mut t) = TEMPS.lock() {
        t.retain(|x| x != p);
    }
}
