//! The normalizer on arbitrary text with every combination of options: never panics, keeps one
//! normalized line per original line, trimmed, the same line by line as whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syndic::normalize::{normalize_doc, normalize_line, NormalizeOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let o = NormalizeOptions {
        nfkc: flags & 1 != 0,
        case_fold: flags & 2 != 0,
        arabic: flags & 4 != 0,
        punctuation: flags & 8 != 0,
    };
    let doc = normalize_doc(&text, &o);
    assert_eq!(doc.lines(), text.split('\n').count());
    assert_eq!(doc.line_keys.len(), doc.lines());
    assert_eq!(doc.line_forms.len(), doc.lines());
    for i in 0..doc.lines() {
        let line = doc.line(i);
        assert!(!line.contains('\n'));
        // A key is 0 only for a line with nothing visible (a separator has a key of its own).
        let separator = doc.line_forms[i] & syndic::normalize::FORM_SEPARATOR != 0;
        assert_eq!(line.is_empty() && !separator, doc.line_keys[i] == 0);
        assert!(!separator || line.is_empty());
        assert!(!line.starts_with(' ') && !line.ends_with(' '), "{line:?}");
    }
    if let Some(first) = text.split('\n').next() {
        assert_eq!(normalize_line(first, &o), doc.line(0));
    }
});
