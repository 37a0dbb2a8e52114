//! Which process reads what: the corpus's files, in order, as one run of bytes cut into equal
//! shares, one per process. A file within one share is read whole by its process; an
//! uncompressed JSONL file across a cut is read in parts, cut at line starts (the lines that
//! start in a part are its records), and a Parquet file by row groups (those that start in a
//! part are its rows); any other file goes whole to the share it starts in.
//!
//! Every process plans the same parts from the files' sizes (the inputs are on a shared file
//! system). A part's lines are numbered as in the whole file: each process counts the line ends
//! of its parts and the counts are exchanged before any record is read ([`number`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, Result};
use crate::read::{ByteRange, Compression, Corpus, Format};

/// A part of the corpus: file `file`, all of it or the bytes `cut` (before they are moved to
/// line starts), read by process `process`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Part {
    pub file: usize,
    pub cut: Option<(u64, u64)>,
    pub process: usize,
}

/// The parts of `corpus` for `peers` processes, in the corpus's order; `sizes` are the files'
/// sizes and `splittable` says which files may be read in parts.
pub(super) fn plan(sizes: &[u64], splittable: &[bool], peers: usize) -> Vec<Part> {
    let total: u64 = sizes.iter().sum();
    let peers = peers as u64;
    // Share p is the bytes [total * p / peers, total * (p + 1) / peers) of the run of files.
    let share_of = |at: u64| -> u64 {
        if total == 0 {
            return 0;
        }
        // The largest p with total * p / peers <= at.
        let mut p = ((at as u128 * peers as u128) / total as u128) as u64;
        while p + 1 < peers && bound(total, peers, p + 1) <= at {
            p += 1;
        }
        while p > 0 && bound(total, peers, p) > at {
            p -= 1;
        }
        p.min(peers - 1)
    };
    let mut parts = Vec::new();
    let mut at = 0u64;
    for (file, (&size, &split)) in sizes.iter().zip(splittable).enumerate() {
        let first = share_of(at);
        let last = if size == 0 {
            first
        } else {
            share_of(at + size - 1)
        };
        if !split || first == last {
            parts.push(Part {
                file,
                cut: None,
                process: first as usize,
            });
        } else {
            for p in first..=last {
                let start = bound(total, peers, p).max(at) - at;
                let end = bound(total, peers, p + 1).min(at + size) - at;
                if start < end {
                    parts.push(Part {
                        file,
                        cut: Some((start, end)),
                        process: p as usize,
                    });
                }
            }
        }
        at += size;
    }
    parts
}

fn bound(total: u64, peers: u64, p: u64) -> u64 {
    (total as u128 * p as u128 / peers as u128) as u64
}

/// Each file's size, and whether it may be read in parts: an uncompressed JSONL file (by its
/// name and its first bytes) of more than one byte, or a Parquet file (by its name and its
/// first bytes). A file that cannot be looked at is read whole (its reader reports why).
pub(super) fn sizes(corpus: &Corpus) -> (Vec<u64>, Vec<bool>) {
    corpus
        .files
        .iter()
        .map(|f| {
            let size = std::fs::metadata(&f.path).map_or(0, |m| m.len());
            let ok = f.compression == Compression::None && f.problem.is_none() && size > 1;
            let split = ok
                && match f.format {
                    Format::Jsonl => first_bytes(&f.path).is_ok_and(|b| {
                        !b.starts_with(b"\x1f\x8b") && !b.starts_with(b"\x28\xb5\x2f\xfd")
                    }),
                    Format::Parquet => first_bytes(&f.path).is_ok_and(|b| b.starts_with(b"PAR1")),
                    _ => false,
                };
            (size, split)
        })
        .unzip()
}

fn first_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let mut b = Vec::with_capacity(8);
    File::open(path)?.take(8).read_to_end(&mut b)?;
    Ok(b)
}

/// The line start at or after byte `at` of a file: `at` itself if it is 0 or follows a line
/// end, else the byte after the next line end (the file's size if there is none).
pub(super) fn line_start(path: &Path, at: u64) -> io::Result<u64> {
    if at == 0 {
        return Ok(0);
    }
    let mut f = BufReader::with_capacity(1 << 16, File::open(path)?);
    f.seek(SeekFrom::Start(at - 1))?;
    let mut skipped = 0u64;
    loop {
        let buf = f.fill_buf()?;
        if buf.is_empty() {
            return Ok(at - 1 + skipped);
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => return Ok(at - 1 + skipped + i as u64 + 1),
            None => {
                let n = buf.len();
                skipped += n as u64;
                f.consume(n);
            }
        }
    }
}

/// The line ends in bytes `start..end` of a file.
pub(super) fn line_ends(path: &Path, start: u64, end: u64) -> io::Result<u64> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    let mut f = f.take(end.saturating_sub(start));
    let mut buf = vec![0u8; 1 << 20];
    let mut count = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => return Ok(count),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// This process's parts moved to line starts: each part's range and its count of line ends,
/// for the parts `mine` (indices into `parts`) that are cut. A Parquet file's parts stay as
/// cut (a part reads the row groups that start in it, numbered from the file's metadata).
pub(super) fn align(
    corpus: &Corpus,
    parts: &[Part],
    mine: &[usize],
) -> Result<Vec<(usize, ByteRange, u64)>> {
    let mut out = Vec::new();
    for &i in mine {
        let part = parts[i];
        let Some((start, end)) = part.cut else {
            continue;
        };
        let path = &corpus.files[part.file].path;
        if corpus.files[part.file].format == Format::Parquet {
            let range = ByteRange {
                start,
                end,
                first_line: 0,
            };
            out.push((i, range, 0));
            continue;
        }
        let failed = |e: io::Error| Error::Input {
            path: path.clone(),
            source: e,
        };
        let start = line_start(path, start).map_err(failed)?;
        let end = line_start(path, end).map_err(failed)?.max(start);
        let ends = line_ends(path, start, end).map_err(failed)?;
        out.push((
            i,
            ByteRange {
                start,
                end,
                first_line: 0,
            },
            ends,
        ));
    }
    Ok(out)
}

/// The first line of each cut part: the line ends of the parts of its file before it, from
/// every process's counts (`(part, line ends)`).
pub(super) fn number(parts: &[Part], counts: &[(u32, u64)]) -> Vec<u64> {
    let mut ends = vec![0u64; parts.len()];
    for &(i, n) in counts {
        ends[i as usize] = n;
    }
    let mut first = vec![0u64; parts.len()];
    for i in 1..parts.len() {
        if parts[i].file == parts[i - 1].file {
            first[i] = first[i - 1] + ends[i - 1];
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts cover every file once, each share gets about its bytes, and only the files
    /// that may be split are.
    #[test]
    fn parts_cover_the_files_in_order_in_equal_shares() {
        let sizes = [100u64, 0, 1000, 50, 7];
        let split = [true, true, true, false, true];
        for peers in 1..6 {
            let parts = plan(&sizes, &split, peers);
            for (f, &size) in sizes.iter().enumerate() {
                let mine: Vec<&Part> = parts.iter().filter(|p| p.file == f).collect();
                assert!(!mine.is_empty());
                if mine.len() > 1 {
                    assert!(split[f]);
                    let mut at = 0;
                    for p in &mine {
                        let (s, e) = p.cut.unwrap();
                        assert_eq!(s, at);
                        at = e;
                    }
                    assert_eq!(at, size);
                } else {
                    assert_eq!(mine[0].cut, None, "{peers}: {mine:?}");
                }
            }
            // Processes in order along the files.
            assert!(parts.windows(2).all(|w| w[0].process <= w[1].process));
            assert!(parts.iter().all(|p| p.process < peers));
            let total: u64 = sizes.iter().sum();
            let mut per = vec![0u64; peers];
            for p in &parts {
                per[p.process] += match p.cut {
                    Some((s, e)) => e - s,
                    None => sizes[p.file],
                };
            }
            // Only the unsplittable file of 50 bytes can tip a share.
            assert!(
                per.iter().all(|&b| b <= total / peers as u64 + 51),
                "{per:?}"
            );
        }
        // One large file over 3 processes: three parts.
        let parts = plan(&[900], &[true], 3);
        assert_eq!(
            parts.iter().map(|p| (p.cut, p.process)).collect::<Vec<_>>(),
            [
                (Some((0, 300)), 0),
                (Some((300, 600)), 1),
                (Some((600, 900)), 2)
            ]
        );
    }

    #[test]
    fn cuts_move_to_line_starts_and_parts_are_numbered_by_line_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        std::fs::write(&path, "ab\ncd\n\nefg").unwrap();
        let starts: Vec<u64> = (0..=10).map(|at| line_start(&path, at).unwrap()).collect();
        assert_eq!(starts, [0, 3, 3, 3, 6, 6, 6, 7, 10, 10, 10]);
        assert_eq!(line_ends(&path, 0, 10).unwrap(), 3);
        assert_eq!(line_ends(&path, 3, 7).unwrap(), 2);
        let parts = [
            Part {
                file: 0,
                cut: Some((0, 4)),
                process: 0,
            },
            Part {
                file: 0,
                cut: Some((4, 10)),
                process: 1,
            },
            Part {
                file: 1,
                cut: None,
                process: 1,
            },
        ];
        assert_eq!(number(&parts, &[(0, 2), (1, 1)]), [0, 2, 0]);
    }
}
