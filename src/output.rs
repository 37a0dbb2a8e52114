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
        let prefix = format!(".{name}.");
        let tmp = crate::signal::new_temp(|| {
            let mut builder = tempfile::Builder::new();
            builder.prefix(&prefix).suffix(".partial");
            // Created with 0666 like any file a program writes, so that the umask decides
            // (tempfile's default is 0600, which would make every output private whatever the
            // user's settings).
            #[cfg(unix)]
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
            builder.tempfile_in(&dir)
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

/// How an output is compressed: by the extension of its name, as inputs are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// `.gz`
    Gzip,
    /// `.zst`
    Zstd,
}

impl Compression {
    /// The compression that `path`'s extension names (`-`, stdout, is never compressed).
    pub fn of(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// An output file compressed as its name says, written atomically ([`AtomicFile`]);
/// [`Output::commit`] ends the compressed stream and renames the file into place, dropping it
/// removes it. `-` is stdout, written as it comes and never compressed.
pub struct Output {
    shown: PathBuf,
    inner: Encoded,
}

enum Encoded {
    Stdout(BufWriter<io::StdoutLock<'static>>),
    Plain(AtomicFile),
    Gzip(flate2::write::GzEncoder<AtomicFile>),
    Zstd(zstd::Encoder<'static, AtomicFile>),
}

impl Output {
    /// Starts writing `path`, or stdout for `-`.
    pub fn create(path: &Path) -> Result<Output> {
        if path == Path::new("-") {
            return Ok(Output {
                shown: STDOUT.into(),
                inner: Encoded::Stdout(BufWriter::new(io::stdout().lock())),
            });
        }
        let file = AtomicFile::create(path)?;
        let inner = match Compression::of(path) {
            Compression::None => Encoded::Plain(file),
            Compression::Gzip => Encoded::Gzip(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::default(),
            )),
            Compression::Zstd => Encoded::Zstd(
                zstd::Encoder::new(file, zstd::DEFAULT_COMPRESSION_LEVEL).map_err(|e| {
                    Error::Output {
                        path: path.to_path_buf(),
                        source: e,
                    }
                })?,
            ),
        };
        Ok(Output {
            shown: path.to_path_buf(),
            inner,
        })
    }

    /// How the output is named in messages (`<stdout>` for `-`).
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// An error writing this output.
    pub fn error(&self, e: io::Error) -> Error {
        Error::Output {
            path: self.shown.clone(),
            source: e,
        }
    }

    /// Ends the compressed stream and renames the file into place (flushes stdout).
    pub fn commit(self) -> Result<()> {
        let err = |e| Error::Output {
            path: self.shown.clone(),
            source: e,
        };
        match self.inner {
            Encoded::Stdout(mut w) => w.flush().map_err(err),
            Encoded::Plain(f) => f.commit(),
            Encoded::Gzip(g) => g.finish().map_err(err)?.commit(),
            Encoded::Zstd(z) => z.finish().map_err(err)?.commit(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Encoded::Stdout(w) => w.write(buf),
            Encoded::Plain(f) => f.write(buf),
            Encoded::Gzip(g) => g.write(buf),
            Encoded::Zstd(z) => z.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.inner {
            Encoded::Stdout(w) => w.write_all(buf),
            Encoded::Plain(f) => f.write_all(buf),
            Encoded::Gzip(g) => g.write_all(buf),
            Encoded::Zstd(z) => z.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Encoded::Stdout(w) => w.flush(),
            Encoded::Plain(f) => f.flush(),
            Encoded::Gzip(g) => g.flush(),
            Encoded::Zstd(z) => z.flush(),
        }
    }
}

/// Writes `bytes` to `path` atomically (compressed as its name says), or to stdout when `path`
/// is `-`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = Output::create(path)?;
    f.write_all(bytes).map_err(|e| f.error(e))?;
    f.commit()
}

/// Removes a file if it exists (used to clean a stale temporary file).
pub fn remove_quietly(path: &Path) {
    let _ = fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test at a time: `interrupt_removes_files_in_progress` removes every registered
    /// temporary file of the process, those of other tests too.
    static TEMPS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        TEMPS.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[test]
    fn commit_renames_and_drop_removes() {
        let _one = one_at_a_time();
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
        let _one = one_at_a_time();
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
    fn outputs_are_compressed_as_their_names_say() {
        let _one = one_at_a_time();
        let dir = tempfile::tempdir().unwrap();
        let body = "{\"id\":\"a\"}\n".repeat(1000);
        for name in ["out.jsonl", "out.jsonl.gz", "out.jsonl.zst"] {
            let p = dir.path().join(name);
            write_atomic(&p, body.as_bytes()).unwrap();
            let raw = fs::read(&p).unwrap();
            let back = match Compression::of(&p) {
                Compression::None => raw.clone(),
                Compression::Gzip => {
                    assert_eq!(&raw[..2], &[0x1f, 0x8b], "gzip magic");
                    let mut out = Vec::new();
                    io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
                        .unwrap();
                    out
                }
                Compression::Zstd => {
                    assert_eq!(&raw[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
                    zstd::decode_all(&raw[..]).unwrap()
                }
            };
            assert_eq!(back, body.as_bytes(), "{name}");
        }
    }

    #[test]
    fn dropped_compressed_output_leaves_nothing() {
        let _one = one_at_a_time();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.jsonl.zst");
        let mut f = Output::create(&p).unwrap();
        f.write_all(b"half a record").unwrap();
        drop(f);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn files_get_the_mode_the_umask_allows() {
        let _one = one_at_a_time();
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.json");
        write_atomic(&p, b"{}").unwrap();
        // The process umask, read without changing it for long (set and restored at once).
        // SAFETY: umask has no memory-safety preconditions.
        let mask = unsafe {
            let m = libc::umask(0o022);
            libc::umask(m);
            m
        } as u32;
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !mask, "mode {mode:o} under umask {mask:o}");
    }

    #[test]
    fn missing_folder_is_named() {
        let _one = one_at_a_time();
        let err = AtomicFile::create(Path::new("/no/such/dir/out.json"))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/no/such/dir"), "{err}");
    }
}
