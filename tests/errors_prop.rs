//! The properties the fuzz targets in `fuzz/` check, run by proptest on the stable toolchain so
//! that every `cargo test` tries a few hundred arbitrary inputs: the JSONL reader, the
//! decompressing reader and the normalizer never panic, and account for every record.

use std::io::Write;

use proptest::prelude::*;
use syndic::normalize::{normalize_doc, NormalizeOptions};
use syndic::read::{read_bytes, Entry, Fields, OnError};

/// Bytes that look like JSONL often enough to get past the parser.
fn jsonl_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"{\"text\":\"".to_vec()),
        Just(b"\"}\n".to_vec()),
        Just(b"{\"id\":1,\"text\":\"a b\"}\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\\u0000".to_vec()),
        Just("مرحبا 😀".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn check_reader(name: &str, data: &[u8]) {
    let fields = Fields::default();
    let skip = read_bytes(name, data, &fields, OnError::Skip);
    let fail = read_bytes(name, data, &fields, OnError::Fail);
    let first_bad = skip
        .iter()
        .position(|e| !matches!(e, Ok(Entry::Doc(_))))
        .unwrap_or(skip.len());
    assert_eq!(fail.len(), (first_bad + 1).min(skip.len()), "{name}");
    for e in &skip {
        match e {
            Ok(Entry::Doc(r)) => assert!(r.at.path == name),
            Ok(Entry::Skipped { at, .. }) => assert_eq!(at.path, name),
            Err(e) => panic!("skip mode gave an error: {e}"),
        }
    }
}

proptest! {
    #[test]
    fn jsonl_reader_accounts_for_every_line(data in jsonl_bytes()) {
        check_reader("p.jsonl", &data);
        // Every non-blank line is a document or a skipped record.
        let fields = Fields::default();
        let got = read_bytes("p.jsonl", &data, &fields, OnError::Skip);
        let broken = got.iter().any(|e| matches!(
            e,
            Ok(Entry::Skipped { error, .. })
                if matches!(error.reason(), "corrupt_stream" | "unsupported_compression")
        ));
        if !broken && !data.starts_with(b"\x1f\x8b") && !data.starts_with(b"\x28\xb5\x2f\xfd") {
            let nonblank = data
                .split(|&b| b == b'\n')
                .filter(|l| !l.iter().all(|b| b.is_ascii_whitespace()))
                .count();
            prop_assert_eq!(got.len(), nonblank);
        }
    }

    #[test]
    fn compressed_streams_cut_anywhere(data in jsonl_bytes(), cut in 0.0f64..1.0) {
        let gz = gzip(&data);
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        for (name, full) in [("p.jsonl.gz", gz), ("p.jsonl.zst", zst)] {
            let n = (full.len() as f64 * cut) as usize;
            check_reader(name, &full[..n]);
            check_reader(name, &full);
            check_reader("p.txt.gz", &full[..n]);
        }
    }

    #[test]
    fn arbitrary_bytes_under_any_name(data in prop::collection::vec(any::<u8>(), 0..256)) {
        for name in ["p.jsonl", "p.txt", "p.jsonl.gz", "p.txt.zst", "p.csv", "p.tsv.gz"] {
            check_reader(name, &data);
        }
    }

    #[test]
    fn normalizer_keeps_lines(text in "\\PC{0,40}(\n\\PC{0,40}){0,4}", flags in 0u8..16) {
        let o = NormalizeOptions {
            nfkc: flags & 1 != 0,
            case_fold: flags & 2 != 0,
            arabic: flags & 4 != 0,
            punctuation: flags & 8 != 0,
        };
        let doc = normalize_doc(&text, &o);
        prop_assert_eq!(doc.lines(), text.split('\n').count());
        for i in 0..doc.lines() {
            let line = doc.line(i);
            prop_assert!(!line.starts_with(' ') && !line.ends_with(' '));
        }
    }
}
