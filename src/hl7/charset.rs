//! Character sets (MSH-18): bytes are decoded to UTF-8 text at the edge, once per message.
//!
//! HL7 table 0211 values accepted: `UNICODE UTF-8`, `8859/1` (Latin-1), `8859/15` (Latin-9, which
//! the CI-SIS volet allows beside UTF-8), `ASCII`. Latin-9 differs from Latin-1 at eight code points
//! (€ Š š Ž ž Œ œ Ÿ). Without MSH-18 the text is UTF-8 when valid, else Latin-1 with a warning.
//!
//! Mind `encoding_rs`: its `ISO-8859-1` label is windows-1252 (WHATWG). True Latin-1 is
//! [`encoding_rs::mem::decode_latin1`]; Latin-9 is [`encoding_rs::ISO_8859_15`].

use super::delimiters::Delimiters;
use super::error::Hl7Error;
use super::path::Path;
use memchr::memchr2;
use std::borrow::Cow;

/// The character set a message was read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Charset {
    #[serde(rename = "UNICODE UTF-8")]
    Utf8,
    #[serde(rename = "8859/1")]
    Latin1,
    #[serde(rename = "8859/15")]
    Latin9,
    #[serde(rename = "ASCII")]
    Ascii,
}

impl Charset {
    /// The HL7 table 0211 name.
    pub fn hl7_name(self) -> &'static str {
        match self {
            Charset::Utf8 => "UNICODE UTF-8",
            Charset::Latin1 => "8859/1",
            Charset::Latin9 => "8859/15",
            Charset::Ascii => "ASCII",
        }
    }

    /// Reads an MSH-18 value. Besides the table 0211 spellings, the IANA names senders often
    /// use are accepted (`UTF-8`, `ISO-8859-1`, `ISO-8859-15`); comparison ignores case.
    pub fn from_msh18(value: &str) -> Option<Charset> {
        let v = value.trim().to_ascii_uppercase();
        match v.as_str() {
            "UNICODE UTF-8" | "UTF-8" | "UTF8" => Some(Charset::Utf8),
            "8859/1" | "ISO-8859-1" | "ISO8859-1" | "ISO_8859-1" | "LATIN1" => {
                Some(Charset::Latin1)
            }
            "8859/15" | "ISO-8859-15" | "ISO8859-15" | "ISO_8859-15" | "LATIN9" => {
                Some(Charset::Latin9)
            }
            "ASCII" | "US-ASCII" => Some(Charset::Ascii),
            _ => None,
        }
    }

    /// Decodes one character's worth of raw bytes (from a `\X..\` escape) in this charset.
    /// Bytes that are not valid UTF-8 in a UTF-8 message are read as Latin-1, so that nothing
    /// is lost.
    pub fn decode_bytes(self, bytes: &[u8]) -> String {
        match self {
            Charset::Utf8 | Charset::Ascii => match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => encoding_rs::mem::decode_latin1(bytes).into_owned(),
            },
            Charset::Latin1 => encoding_rs::mem::decode_latin1(bytes).into_owned(),
            Charset::Latin9 => encoding_rs::ISO_8859_15
                .decode_without_bom_handling(bytes)
                .0
                .into_owned(),
        }
    }

    /// Encodes text for writing in this charset; `None` when a character cannot be represented.
    pub fn encode<'a>(self, text: &'a str) -> Option<Cow<'a, [u8]>> {
        match self {
            Charset::Utf8 => Some(Cow::Borrowed(text.as_bytes())),
            Charset::Ascii => text.is_ascii().then_some(Cow::Borrowed(text.as_bytes())),
            Charset::Latin1 => {
                if text.is_ascii() {
                    return Some(Cow::Borrowed(text.as_bytes()));
                }
                text.chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect::<Option<Vec<u8>>>()
                    .map(Cow::Owned)
            }
            Charset::Latin9 => {
                let (bytes, _, unmappable) = encoding_rs::ISO_8859_15.encode(text);
                (!unmappable).then_some(bytes)
            }
        }
    }
}

/// A message's text, decoded to UTF-8, borrowed when the bytes already were.
#[derive(Debug, Clone)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub charset: Charset,
    /// True when MSH-18 was empty and the bytes were not UTF-8, so Latin-1 was assumed.
    pub assumed: bool,
    /// Bytes of the input before `text` (a UTF-8 byte order mark), for [`Decoded::input_offset`].
    pub skipped: usize,
}

impl Decoded<'_> {
    /// The offset in the original bytes of byte `text_offset` of the decoded text: errors found
    /// in the text say where they are in what the sender sent. Latin-1 and Latin-9 take one byte
    /// per character, which is how a transcoded (owned) text maps back.
    pub fn input_offset(&self, text_offset: usize) -> usize {
        let in_body = match &self.text {
            Cow::Borrowed(_) => text_offset,
            Cow::Owned(t) => t
                .get(..text_offset)
                .map_or(text_offset, |prefix| prefix.chars().count()),
        };
        self.skipped + in_body
    }
}

/// Reads MSH-18 from the raw bytes and decodes the whole message.
///
/// The MSH segment is read as ASCII, which every accepted charset is a superset of. Error
/// offsets are in `input`; a byte that does not decode is named by its HL7 path (`PID-5.2`).
pub fn decode(input: &[u8]) -> Result<Decoded<'_>, Hl7Error> {
    let skipped = if input.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let raw = &input[skipped..];
    let shift = |mut e: Hl7Error| {
        e.offset += skipped;
        e
    };
    let declared = declared_charset(raw).map_err(shift)?;
    let decoded = |text, charset, assumed| Decoded {
        text,
        charset,
        assumed,
        skipped,
    };
    Ok(match declared {
        Some(Charset::Utf8) => decoded(
            Cow::Borrowed(utf8(raw).map_err(shift)?),
            Charset::Utf8,
            false,
        ),
        Some(Charset::Ascii) => {
            if let Some(at) = raw.iter().position(|b| !b.is_ascii()) {
                return Err(shift(invalid_byte(raw, at, "ASCII")));
            }
            // ASCII is UTF-8: this cannot fail, and is not unwrapped.
            let text = std::str::from_utf8(raw)
                .map_err(|e| shift(invalid_byte(raw, e.valid_up_to(), "ASCII")))?;
            decoded(Cow::Borrowed(text), Charset::Ascii, false)
        }
        Some(Charset::Latin1) => {
            decoded(encoding_rs::mem::decode_latin1(raw), Charset::Latin1, false)
        }
        Some(Charset::Latin9) => decoded(
            encoding_rs::ISO_8859_15.decode_without_bom_handling(raw).0,
            Charset::Latin9,
            false,
        ),
        None => match validate_utf8(raw) {
            Ok(s) => decoded(Cow::Borrowed(s), Charset::Utf8, false),
            Err(_) => decoded(encoding_rs::mem::decode_latin1(raw), Charset::Latin1, true),
        },
    })
}

fn utf8(raw: &[u8]) -> Result<&str, Hl7Error> {
    validate_utf8(raw).map_err(|e| invalid_byte(raw, e.valid_up_to(), "UTF-8"))
}

/// A message's bytes as UTF-8, validated with SIMD (simdutf8): std's validator leaves its
/// ASCII fast path at every accented letter, and French text has many (−38 M instructions of
/// the worker per 1,000 text messages, half of them UTF-8). When the bytes are not UTF-8,
/// std's validator says where.
fn validate_utf8(raw: &[u8]) -> Result<&str, std::str::Utf8Error> {
    simdutf8::basic::from_utf8(raw).or_else(|_| std::str::from_utf8(raw))
}

/// A byte not valid in the declared charset, named by where it is (`PID-5.2`) when that can be
/// read, else by the declaration (`MSH-18`).
fn invalid_byte(raw: &[u8], at: usize, charset: &str) -> Hl7Error {
    let byte = raw.get(at).copied().unwrap_or(0);
    let mut e = Hl7Error::charset(
        at,
        format!("byte 0x{byte:02X} is not valid {charset}, as MSH-18 declares"),
    );
    let place = Delimiters::from_msh(raw)
        .ok()
        .and_then(|(d, _)| Path::locate(raw, &d, at));
    if let Some(place) = place {
        e.path = Some(place.to_string());
    }
    e
}

/// The charset MSH-18 declares (first repetition), `None` when the field is absent or empty.
fn declared_charset(raw: &[u8]) -> Result<Option<Charset>, Hl7Error> {
    let (delims, _) = Delimiters::from_msh(raw)?;
    let msh_end = memchr2(b'\r', b'\n', raw).unwrap_or(raw.len());
    let msh = &raw[..msh_end];
    // MSH-1 is the separator itself, so MSH-n is the (n-1)-th piece after "MSH".
    let Some(field) = msh[3..].split(|&b| b == delims.field).nth(17) else {
        return Ok(None);
    };
    let first_rep = match delims.repetition {
        Some(r) => field.split(|&b| b == r).next().unwrap_or(field),
        None => field,
    };
    let value = first_rep
        .split(|&b| b == delims.component)
        .next()
        .unwrap_or(first_rep);
    if value.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let offset = value.as_ptr() as usize - raw.as_ptr() as usize;
    let text = String::from_utf8_lossy(value);
    Charset::from_msh18(&text).map(Some).ok_or_else(|| {
        Hl7Error::charset(
            offset,
            format!("unsupported character set {text:?} (accepted: UNICODE UTF-8, 8859/1, 8859/15, ASCII)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msh(charset: &str) -> Vec<u8> {
        format!("MSH|^~\\&|A|B|C|D|20240101||MDM^T02|1|P|2.6|||||FRA|{charset}\rPID|||")
            .into_bytes()
    }

    fn with_text(charset: &str, text: &[u8]) -> Vec<u8> {
        let mut m = msh(charset);
        m.extend_from_slice(text);
        m
    }

    #[test]
    fn utf8_declared_is_borrowed() {
        let raw = with_text("UNICODE UTF-8", "Hélène".as_bytes());
        let d = decode(&raw).unwrap();
        assert!(matches!(d.text, Cow::Borrowed(_)));
        assert!(d.text.ends_with("Hélène"));
        assert_eq!(d.charset, Charset::Utf8);
    }

    #[test]
    fn invalid_utf8_is_a_charset_error_with_the_byte_offset() {
        let raw = with_text("UNICODE UTF-8", b"H\xE9l\xE8ne");
        let e = decode(&raw).unwrap_err();
        assert_eq!(e.code(), crate::reason::ReasonCode::Hl7Charset);
        assert_eq!(e.offset, msh("UNICODE UTF-8").len() + 1);
    }

    #[test]
    fn simd_utf8_validation_agrees_with_std_at_every_place() {
        // Long texts go through simdutf8's SIMD blocks; the offset of a bad byte still comes
        // from std, and valid text (accents, 4-byte characters) is accepted.
        let line = "é à ü 𝄞 Œuvre ".repeat(20);
        let good = with_text("UNICODE UTF-8", line.as_bytes());
        assert_eq!(decode(&good).unwrap().text.as_bytes(), &good[..]);
        for at in [0, 1, 63, 64, 65, 200, line.len() - 1] {
            let mut bad = line.clone().into_bytes();
            bad[at] = 0xFF;
            let raw = with_text("UNICODE UTF-8", &bad);
            let want = std::str::from_utf8(&raw).unwrap_err().valid_up_to();
            assert_eq!(decode(&raw).unwrap_err().offset, want, "bad byte at {at}");
        }
    }

    #[test]
    fn invalid_byte_is_named_by_its_hl7_path() {
        let raw = b"MSH|^~\\&|A|B|C|D|20240101||MDM^T02|1|P|2.6|||||FRA|UNICODE UTF-8\rPID|||1||NOM^H\xE9l\xE8ne\r";
        let e = decode(raw).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("PID-5.2"));
        assert_eq!(raw[e.offset], 0xE9);
        assert!(e.reason.contains("MSH-18"), "{}", e.reason);
    }

    #[test]
    fn offsets_count_a_byte_order_mark() {
        let raw =
            b"\xEF\xBB\xBFMSH|^~\\&|A|B|C|D|20240101||MDM^T02|1|P|2.6|||||FRA|ASCII\rPID|\xE9";
        let e = decode(raw).unwrap_err();
        assert_eq!(raw[e.offset], 0xE9);
        assert_eq!(e.path.as_deref(), Some("PID-1"));
    }

    #[test]
    fn latin1_is_true_latin1_not_windows_1252() {
        // 0x80 is a C1 control in ISO 8859-1, the euro sign only in windows-1252.
        let raw = with_text("8859/1", b"\xE9\x80\xA4");
        let d = decode(&raw).unwrap();
        assert!(d.text.ends_with("é\u{80}¤"), "{:?}", d.text);
    }

    #[test]
    fn latin9_differs_from_latin1_at_its_eight_code_points() {
        let bytes = b"\xA4\xA6\xA8\xB4\xB8\xBC\xBD\xBE";
        let l9 = decode(&with_text("8859/15", bytes))
            .unwrap()
            .text
            .into_owned();
        let l1 = decode(&with_text("8859/1", bytes))
            .unwrap()
            .text
            .into_owned();
        assert!(l9.ends_with("€ŠšŽžŒœŸ"), "{l9}");
        assert!(l1.ends_with("¤¦¨´¸¼½¾"), "{l1}");
    }

    #[test]
    fn no_msh18_valid_utf8_stays_utf8() {
        let raw = b"MSH|^~\\&|A\rPID|||||\xC3\xA9".to_vec();
        let d = decode(&raw).unwrap();
        assert_eq!(d.charset, Charset::Utf8);
        assert!(!d.assumed);
    }

    #[test]
    fn no_msh18_invalid_utf8_falls_back_to_latin1_with_a_warning() {
        let raw = b"MSH|^~\\&|A\rPID|||||\xE9".to_vec();
        let d = decode(&raw).unwrap();
        assert_eq!(d.charset, Charset::Latin1);
        assert!(d.assumed);
        assert!(d.text.ends_with('é'));
    }

    #[test]
    fn unknown_charset_is_rejected() {
        let e = decode(&msh("UNICODE UTF-16")).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("MSH-18"));
    }

    #[test]
    fn ascii_declared_with_high_bytes_is_rejected() {
        assert!(decode(&with_text("ASCII", b"\xE9")).is_err());
    }

    #[test]
    fn msh18_repetition_and_iana_spelling() {
        assert_eq!(
            decode(&msh("8859/15~UNICODE UTF-8")).unwrap().charset,
            Charset::Latin9
        );
        assert_eq!(decode(&msh("iso-8859-1")).unwrap().charset, Charset::Latin1);
    }

    #[test]
    fn encode_round_trips_latin9() {
        let s = "€ œ Œ Ÿ é";
        let bytes = Charset::Latin9.encode(s).unwrap();
        assert_eq!(Charset::Latin9.decode_bytes(&bytes), s);
        assert!(Charset::Latin1.encode("€").is_none());
    }
}
