//! The JSONL reader on arbitrary bytes: never panics; under `skip` every non-blank line is
//! accounted for (a document or a skipped record), under `fail` it stops at the first bad one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syndic::read::{read_bytes, Entry, Fields, OnError};

fuzz_target!(|data: &[u8]| {
    let fields = Fields::default();
    let skip = read_bytes("f.jsonl", data, &fields, OnError::Skip);
    assert!(skip.iter().all(|e| e.is_ok()), "skip mode yields no errors");
    let fail = read_bytes("f.jsonl", data, &fields, OnError::Fail);
    // Fail mode reads the same records up to the first bad one, which it reports instead.
    let first_bad = skip
        .iter()
        .position(|e| matches!(e, Ok(Entry::Skipped { .. })));
    match first_bad {
        None => assert_eq!(fail.len(), skip.len()),
        Some(i) => {
            assert_eq!(fail.len(), i + 1);
            assert!(fail[i].is_err());
        }
    }
    for e in skip.iter().flatten() {
        match e {
            Entry::Doc(r) => {
                assert!(r.at.line >= 1);
            }
            Entry::Skipped { at, error } => {
                let msg = format!("{at}: {error}");
                assert!(msg.starts_with("f.jsonl"), "{msg}");
                assert!(!error.reason().is_empty());
            }
        }
    }
});
