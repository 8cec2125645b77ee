//! Text that can go into XML 1.0.
//!
//! XML 1.0 (§2.2, production `Char`) allows only `#x9 | #xA | #xD | [#x20-#xD7FF] |
//! [#xE000-#xFFFD] | [#x10000-#x10FFFF]`; a character reference to anything else (`&#x1;`) is
//! just as illegal (§4.1, "Well-formedness constraint: Legal Character"). HL7 text can hold such
//! characters (`\X01\` escapes, Latin-1 control bytes, U+FFFE from a bad converter): they are
//! dropped. Escaping of markup (`<`, `&`, `>`, quotes) is quick-xml's job when the text is
//! written; this module only removes what no escaping can make legal.

use std::borrow::Cow;

/// True for a character XML 1.0 allows.
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// `s` without the characters XML 1.0 forbids; borrowed when there are none (the common case,
/// found with one pass over the bytes).
pub fn xml_safe(s: &str) -> Cow<'_, str> {
    if !has_forbidden(s.as_bytes()) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().filter(|&c| is_xml_char(c)).collect())
}

/// Byte-level test: a C0 control other than TAB, LF, CR, or the UTF-8 encodings of U+FFFE
/// (`EF BF BE`) and U+FFFF (`EF BF BF`). Surrogates cannot occur in a `str`.
///
/// The whole text of a narrative document goes through here: chunks are first tested without
/// branches (which the compiler turns into SIMD), and only a chunk holding a suspect byte (a
/// forbidden control, or `EF`, the lead byte of U+F000–U+FFFF) is looked at byte by byte.
fn has_forbidden(b: &[u8]) -> bool {
    const CHUNK: usize = 64;
    let suspect = |c: u8| ((c < 0x20) & (c != 0x09) & (c != 0x0A) & (c != 0x0D)) | (c == 0xEF);
    let mut at = 0;
    for chunk in b.chunks(CHUNK) {
        if chunk.iter().fold(false, |any, &c| any | suspect(c))
            && (at..at + chunk.len()).any(|i| forbidden_at(b, i))
        {
            return true;
        }
        at += chunk.len();
    }
    false
}

/// The precise test at `b[i]` (it may look at the two bytes after `i`).
fn forbidden_at(b: &[u8], i: usize) -> bool {
    let c = b[i];
    (c < 0x20 && !matches!(c, 0x09 | 0x0A | 0x0D))
        || (c == 0xEF && b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_characters_are_dropped() {
        let cases = [
            ("Hélène Œuvray", "Hélène Œuvray"),
            ("a\u{1}b", "ab"),
            ("tab\tLF\nCR\r", "tab\tLF\nCR\r"),
            ("\u{0}\u{8}\u{B}\u{C}\u{1F}", ""),
            ("x\u{FFFE}y\u{FFFF}z", "xyz"),
            ("\u{FFFD}\u{E000}\u{10FFFF}", "\u{FFFD}\u{E000}\u{10FFFF}"),
            ("\u{7F}\u{85}", "\u{7F}\u{85}"), // allowed (discouraged) in XML 1.0
            ("\u{EFBF}", "\u{EFBF}"),         // not U+FFFE despite the digits
        ];
        for (input, want) in cases {
            assert_eq!(xml_safe(input), want, "{input:?}");
        }
        assert!(matches!(xml_safe("plain"), Cow::Borrowed(_)));
        // U+FFFE split across the 64-byte chunks of the fast test, at every position.
        for pad in 58..=66 {
            let s = format!("{}\u{FFFE}é", "a".repeat(pad));
            assert_eq!(xml_safe(&s), format!("{}é", "a".repeat(pad)), "{pad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn output_is_always_xml_text(s in proptest::prelude::any::<String>()) {
            let safe = xml_safe(&s);
            proptest::prop_assert!(safe.chars().all(is_xml_char));
            let kept: String = s.chars().filter(|&c| is_xml_char(c)).collect();
            proptest::prop_assert_eq!(safe.as_ref(), kept.as_str());
        }
    }
}
