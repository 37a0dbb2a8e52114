//! Atomic outputs: every file syndic writes goes to a temporary file in the target folder first
//! and is renamed to its final name only when complete, so an interrupted run never leaves a
//! file under the final name that looks complete.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file being written; [`AtomicFile::commit`] renames it into place, dropping it removes it.
///
/// A target that exists and is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written
/// in place: renaming over it would replace the device or pipe with a file.
pub struct AtomicFile {
    path: PathBuf,
    inner: Option<Target>,
}

enum Target {
    Temp(BufWriter<tempfile::NamedTempFile>),
    Direct(BufWriter<fs::File>),
}

impl Target {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Target::Temp(w) => w,
            Target::Direct(w) => w,
        }
    }
}

/// Checks that `path` can be an output (`-`, an existing non-folder, or a name in an existing
/// folder) without creating anything: run before a long scan so that a typo fails at once.
pub fn check_target(path: &Path) -> Result<()> {
    if path == Path::new("-") {
        return Ok(());
    }
    let err = |e| Error::Output {
        path: path.to_path_buf(),
        source: e,
    };
    if let Ok(meta) = fs::metadata(path) {
        if meta.is_dir() {
            return Err(err(io::Error::other(
                "it is a folder (name a file inside it)",
            )));
        }
        return Ok(());
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        let why = if dir.exists() {
            format!("{} is not a folder", dir.display())
        } else {
            format!("the folder {} does not exist", dir.display())
        };
        return Err(err(io::Error::new(io::ErrorKind::NotFound, why)));
    }
    Ok(())
}

impl AtomicFile {
    /// Starts writing `path` (its folder must exist).
    pub fn create(path: &Path) -> Result<Self> {
        let err = |e| Error::Output {
            path: path.to_path_buf(),
            source: e,
        };
        check_target(path)?;
        if let Ok(meta) = fs::metadata(path) {
            if !meta.is_file() {
                let f = fs::OpenOptions::new().write(true).open(path).map_err(err)?;
                return Ok(AtomicFile {
                    path: path.to_path_buf(),
                    inner: Some(Target::Direct(BufWriter::with_capacity(1 << 16, f))),
                });
            }
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = crate::signal::new_temp(|| {
            tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(".partial")
                .tempfile_in(&dir)
        })
        .map_err(err)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            inner: Some(Target::Temp(BufWriter::with_capacity(1 << 20, tmp))),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: io::Error) -> Error {
        Error::Output {
            path: self.path.clone(),
            source: e,
        }
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        match self.inner.take() {
            None => Ok(()),
            Some(Target::Direct(w)) => {
                w.into_inner().map_err(|e| self.err(e.into_error()))?;
                Ok(())
            }
            Some(Target::Temp(w)) => {
                let tmp = match w.into_inner() {
                    Ok(tmp) => tmp,
                    Err(e) => {
                        let (e, w) = e.into_parts();
                        // Remove the partial file now: `w` is dropped without a retry.
                        let (tmp, _) = w.into_parts();
                        crate::signal::unregister_temp(tmp.path());
                        let _ = tmp.close();
                        return Err(self.err(e));
                    }
                };
                let tmp_path = tmp.path().to_path_buf();
                let done = tmp
                    .as_file()
                    .sync_all()
                    .map_err(|e| self.err(e))
                    .and_then(|_| tmp.persist(&self.path).map_err(|e| self.err(e.error)));
                crate::signal::unregister_temp(&tmp_path);
                // On failure `persist` hands the temporary file back inside the error, and
                // dropping it removes it.
                done.map(|_| ())
            }
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.as_mut().expect("open").writer().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.as_mut().expect("open").writer().write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.as_mut().expect("open").writer().flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(Target::Temp(w)) = self.inner.take() {
            // Whatever is still buffered is thrown away with the file.
            let (tmp, _) = w.into_parts();
            crate::signal::unregister_temp(tmp.path());
            let _ = tmp.close();
        }
    }
}

/// How stdout is named in messages.
pub const STDOUT: &str = "<stdout>";

/// Writes `bytes` to `path` atomically, or to stdout when `path` is `-`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path == Path::new("-") {
        let mut out = io::stdout().lock();
        return out
            .write_all(bytes)
            .and_then(|_| out.flush())
            .map_err(|e| Error::Output {
                path: STDOUT.into(),
                source: e,
            });
    }
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(|e| f.err(e))?;
    f.commit()
}

/// Removes a file if it exists (used to clean a stale temporary file).
pub fn remove_quietly(path: &Path) {
    let _ = fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_removes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"{}").unwrap();
        assert!(!p.exists(), "nothing under the final name before commit");
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"{}");

        let q = dir.path().join("half.json");
        let mut g = AtomicFile::create(&q).unwrap();
        g.write_all(b"{\"half\":").unwrap();
        drop(g);
        assert!(!q.exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file removed"
        );
    }

    #[test]
    fn interrupt_removes_files_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"{\"half\":").unwrap();
        f.flush().unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        crate::signal::remove_temps();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(!p.exists());
        drop(f);
    }

    #[test]
    fn missing_folder_is_named() {
        let err = AtomicFile::create(Path::new("/no/such/dir/out.json"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/no/such/dir"), "{err}");
    }
}
