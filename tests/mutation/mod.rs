//! Shared by the `*_robust` property tests: a message with random pieces replaced by random
//! HL7-ish text (delimiters, escapes, control characters, markup, non-characters).
#![allow(dead_code)]

use proptest::prelude::*;

/// One edit: where (an index into the text), how many bytes to replace, and by what.
pub type Edit = (proptest::sample::Index, usize, String);

/// 1 to 3 edits of up to 40 bytes each.
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(
        (
            any::<proptest::sample::Index>(),
            0usize..40,
            "[|^~&\\\\0-9A-Za-zéŒ\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\u{FFFE}+=/. \"<>]{0,24}",
        ),
        1..4,
    )
}

/// The message (read as UTF-8, else Latin-1) with the edits applied on char boundaries.
pub fn mutate(raw: &[u8], edits: &[Edit]) -> String {
    let mut text = String::from_utf8(raw.to_vec())
        .unwrap_or_else(|_| encoding_rs::mem::decode_latin1(raw).into_owned());
    for (at, len, insert) in edits {
        let start = at.index(text.len().max(1));
        let start = (0..=start)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        let end = (start + len).min(text.len());
        let end = (end..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text.replace_range(start..end, insert);
    }
    text
}

/// Well-formed by dmpfeed's strict XML 1.0 check (the one received CDAs pass).
pub fn well_formed(xml: &[u8]) -> bool {
    dmpfeed::cda::wellformed::check(xml).is_ok()
}
