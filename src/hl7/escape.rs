//! HL7 escape sequences (HL7 v2.5 ch. 2.7): decoded on read, produced on write.
//!
//! Decoded: `\F\ \S\ \T\ \R\ \E\` (the delimiters), `\Xhh…\` (raw bytes, read in the message's
//! charset) and `\.br\` (a line break). Kept verbatim, as the standard allows a receiver that does
//! not interpret them: `\H\ \N\` (highlighting), `\Z…\`, `\C…\`, `\M…\`, the other formatting
//! commands, malformed and unterminated sequences. Nothing here can panic on any input: all
//! indices are found by search, and the delimiters are ASCII, so slicing stays on char boundaries.

use super::charset::Charset;
use super::delimiters::Delimiters;
use memchr::memchr;
use std::borrow::Cow;

/// Decodes the escape sequences of one value. Borrows when there is nothing to decode.
pub fn unescape<'a>(value: &'a str, delims: &Delimiters, charset: Charset) -> Cow<'a, str> {
    let Some(first) = first_escape(value, delims) else {
        return Cow::Borrowed(value);
    };
    let mut out = String::with_capacity(value.len());
    push_decoded(value, first, delims, charset, &mut out);
    Cow::Owned(out)
}

/// [`unescape`] appending to `out`: a narrative line with an escape is decoded straight into
/// the document text, not into a `String` of its own that is then copied and freed
/// (−2 M instructions of the worker per 1,000 text messages).
pub fn unescape_into(value: &str, delims: &Delimiters, charset: Charset, out: &mut String) {
    match first_escape(value, delims) {
        Some(first) => push_decoded(value, first, delims, charset, out),
        None => out.push_str(value),
    }
}

/// The escape character and the offset of its first occurrence, `None` when there is
/// nothing to decode.
fn first_escape(value: &str, delims: &Delimiters) -> Option<(u8, usize)> {
    let esc = delims.escape?;
    memchr(esc, value.as_bytes()).map(|first| (esc, first))
}

/// Appends `value` decoded, `first` being the escape character and its first offset.
fn push_decoded(
    value: &str,
    (esc, first): (u8, usize),
    delims: &Delimiters,
    charset: Charset,
    out: &mut String,
) {
    let bytes = value.as_bytes();
    out.push_str(&value[..first]);
    let mut i = first;
    while i < bytes.len() {
        // `i` is at an escape character.
        let Some(len) = memchr(esc, &bytes[i + 1..]) else {
            // Unterminated: the rest is data.
            out.push_str(&value[i..]);
            return;
        };
        let end = i + 1 + len; // the closing escape character
        let seq = &value[i + 1..end];
        if !push_sequence(seq, delims, charset, out) {
            out.push_str(&value[i..=end]);
        }
        i = end + 1;
        match memchr(esc, &bytes[i..]) {
            Some(next) => {
                out.push_str(&value[i..i + next]);
                i += next;
            }
            None => {
                out.push_str(&value[i..]);
                break;
            }
        }
    }
}

/// Appends the text one sequence stands for; `false` (nothing appended) to keep it verbatim.
fn push_sequence(seq: &str, d: &Delimiters, charset: Charset, out: &mut String) -> bool {
    let mut one = |b: Option<u8>| match b {
        Some(b) => {
            out.push(b as char);
            true
        }
        None => false,
    };
    match seq {
        "F" => one(Some(d.field)),
        "S" => one(Some(d.component)),
        "T" => one(d.subcomponent),
        "R" => one(d.repetition),
        "E" => one(d.escape),
        ".br" => one(Some(b'\n')),
        _ => match seq.strip_prefix('X').and_then(decode_hex) {
            Some(bytes) => {
                out.push_str(&charset.decode_bytes(&bytes));
                true
            }
            None => false,
        },
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let h = hex.as_bytes();
    if h.is_empty() || !h.len().is_multiple_of(2) {
        return None;
    }
    h.chunks_exact(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

/// Escapes a value for writing between these delimiters: the separators, the escape character,
/// the segment terminators (`\n` → `\.br\`, `\r` → `\X0D\`) and the other C0 controls as
/// `\Xhh\` — among them the MLLP block bytes 0x0B and 0x1C, which would cut an MLLP frame (a
/// control id `\X1C\` echoed raw ended the ACK early; found by the `convert` fuzz target) — so
/// that `unescape(escape(s)) == s` for every string.
pub fn escape<'a>(value: &'a str, d: &Delimiters) -> Cow<'a, str> {
    // C0 controls would end a segment (\r, \n) or an MLLP block (0x0B, 0x1C), or are illegal in
    // XML: written as `\Xhh\`. A tab is ordinary text.
    let needs = |b: u8| d.is_special(b) || (b < 0x20 && b != b'\t');
    if !value.bytes().any(needs) {
        return Cow::Borrowed(value);
    }
    let esc = d.escape.unwrap_or(b'\\') as char;
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        let code = match c {
            _ if !c.is_ascii() => None,
            '\n' => Some(".br"),
            '\r' => Some("X0D"),
            _ if c as u8 == d.field => Some("F"),
            _ if c as u8 == d.component => Some("S"),
            _ if Some(c as u8) == d.subcomponent => Some("T"),
            _ if Some(c as u8) == d.repetition => Some("R"),
            _ if Some(c as u8) == d.escape => Some("E"),
            _ => None,
        };
        match code {
            Some(code) => {
                out.push(esc);
                out.push_str(code);
                out.push(esc);
            }
            None if c < ' ' && c != '\t' => {
                out.push(esc);
                out.push_str(&format!("X{:02X}", c as u32));
                out.push(esc);
            }
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    macro_rules! unescapes_to {
        ($($name:ident: $input:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let d = Delimiters::default();
                assert_eq!(unescape($input, &d, Charset::Utf8), $expected);
                // The appending form gives the same text after what `out` already holds.
                let mut out = String::from("before|");
                unescape_into($input, &d, Charset::Utf8, &mut out);
                assert_eq!(out, format!("before|{}", $expected));
            }
        )+};
    }

    unescapes_to! {
        plain_text_is_borrowed_unchanged: "Hélène Œuvray" => "Hélène Œuvray";
        field_separator: r"a\F\b" => "a|b";
        component_separator: r"a\S\b" => "a^b";
        subcomponent_separator: r"a\T\b" => "a&b";
        repetition_separator: r"a\R\b" => "a~b";
        escape_character: r"a\E\b" => r"a\b";
        line_break: r"ligne 1\.br\ligne 2" => "ligne 1\nligne 2";
        hex_crlf: r"a\X0D0A\b" => "a\r\nb";
        hex_utf8_bytes: r"\XC3A9\t\XC3A9\" => "été";
        hex_invalid_utf8_read_as_latin1: r"\XE9\" => "é";
        highlight_kept_verbatim: r"\H\gras\N\" => r"\H\gras\N\";
        unknown_sequence_kept_verbatim: r"\Zfoo\ et \.sp\" => r"\Zfoo\ et \.sp\";
        unterminated_kept_verbatim: r"tension \F" => r"tension \F";
        lone_escape_at_end: "fin\\" => "fin\\";
        empty_sequence_kept: r"a\\b" => r"a\\b";
        odd_hex_kept: r"\X0D0\" => r"\X0D0\";
        non_hex_kept: r"\XZZ\" => r"\XZZ\";
        accents_around_escapes: r"Réf\S\é\T\è\F\à\.br\Ça" => "Réf^é&è|à\nÇa";
        multibyte_right_after_escape: "\\F\\€\\S\\œ" => "|€^œ";
        consecutive_sequences: r"\F\\S\\T\" => "|^&";
    }

    #[test]
    fn latin1_hex_in_latin9_message_uses_latin9() {
        let d = Delimiters::default();
        assert_eq!(unescape(r"\XA4\", &d, Charset::Latin9), "€");
        assert_eq!(unescape(r"\XA4\", &d, Charset::Latin1), "¤");
    }

    #[test]
    fn custom_delimiters_are_honoured() {
        let (d, _) = Delimiters::from_msh(b"MSH#$%!@#").unwrap();
        assert_eq!(unescape("a!F!b!S!c", &d, Charset::Utf8), "a#b$c");
        assert_eq!(escape("a#b$c!", &d), "a!F!b!S!c!E!");
    }

    #[test]
    fn mllp_block_bytes_and_other_controls_are_hex_escaped() {
        let d = Delimiters::default();
        assert_eq!(
            escape("A\u{1C}B\u{0B}\u{0}\t", &d),
            "A\\X1C\\B\\X0B\\\\X00\\\t"
        );
        assert_eq!(
            unescape(&escape("A\u{1C}B", &d), &d, Charset::Utf8),
            "A\u{1C}B"
        );
    }

    #[test]
    fn unescape_allocates_only_when_an_escape_is_there() {
        let d = Delimiters::default();
        assert!(matches!(
            unescape("Hélène Œuvray", &d, Charset::Utf8),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            unescape(r"a\F\b", &d, Charset::Utf8),
            Cow::Owned(_)
        ));
        let (none, _) = Delimiters::from_msh(b"MSH|^~|").unwrap();
        assert!(matches!(
            unescape(r"a\F\b", &none, Charset::Utf8),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escape_borrows_plain_text() {
        assert!(matches!(
            escape("Hélène", &Delimiters::default()),
            Cow::Borrowed(_)
        ));
    }

    proptest! {
        #[test]
        fn escape_then_unescape_is_identity(s in any::<String>()) {
            let d = Delimiters::default();
            let escaped = escape(&s, &d);
            prop_assert!(!escaped.contains(['|', '^', '~', '&']));
            prop_assert!(!escaped.contains(|c: char| c < ' '), "no control character");
            let back = unescape(&escaped, &d, Charset::Utf8).into_owned();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn escape_round_trip_with_delimiter_heavy_text(s in r"[|^~\\&\r\néœ€a-z0-9 .XFSTRE]{0,64}") {
            let d = Delimiters::default();
            let escaped = escape(&s, &d);
            let back = unescape(&escaped, &d, Charset::Utf8).into_owned();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn unescape_never_panics(s in any::<String>()) {
            let _ = unescape(&s, &Delimiters::default(), Charset::Latin9);
        }
    }
}
