//! The decompressing reader on arbitrary streams: the first byte picks the file name (and so the
//! expected compression and format), the rest is the stream. Never panics; a broken stream is a
//! skipped record that names the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syndic::read::{read_bytes, Entry, Fields, OnError};

const NAMES: [&str; 6] = [
    "f.jsonl.gz",
    "f.jsonl.zst",
    "f.txt.gz",
    "f.txt.zst",
    "f.jsonl",
    "f.txt",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let name = NAMES[pick as usize % NAMES.len()];
    let fields = Fields::default();
    for e in read_bytes(name, stream, &fields, OnError::Skip) {
        match e.expect("skip mode yields no errors") {
            Entry::Doc(r) => assert!(!r.text.trim().is_empty()),
            Entry::Skipped { at, .. } => assert_eq!(at.path, name),
        }
    }
    if let Some(Err(e)) = read_bytes(name, stream, &fields, OnError::Fail).last() {
        assert!(e.to_string().starts_with(name));
    }
});
