//! The document content of the document OBX: an ED in base64 (PDF, RTF, JPEG, TIFF, or a CDA
//! already built by the DPI), or narrative lines (TX, FT, ST) joined into plain text.
//!
//! ED (HL7 v2.5 ch. 2A.24): OBX-5.1 source application, .2 type of data (HL7 table 0191: `AP`,
//! `IM`, `TEXT`, or a MIME type such as `application`), .3 subtype (table 0291: `PDF`, `RTF`,
//! `JPEG`, `TIFF`, `XML`, or a MIME subtype), .4 encoding (table 0299: `Base64`), .5 the data.
//! The CI-SIS volet uses `^text^XML^Base64^…` (MDM) / `^TEXT^XML^Base64^…` (ORU) for a CDA.
//!
//! Base64 is checked strictly (RFC 4648 standard alphabet, padding required, canonical final
//! bits: `base64_simd::STANDARD.check`), never decoded to be re-encoded: the text that goes into
//! the CDA is the message's own, borrowed. Only its first bytes are decoded, to check the
//! signature of the announced media type (`%PDF-`, `{\rtf`, JPEG `FF D8 FF`, TIFF `II*\0` /
//! `MM\0*`). Line breaks: a literal CR or LF cannot occur inside an HL7 field (it ends the
//! segment), so a sender that wraps its base64 at 76 characters (RFC 2045) has to escape them
//! (`\.br\`, `\X0D0A\`); such escaped CR/LF are accepted and removed (one copy of the base64, the
//! only case that copies). Every other character, escaped or not, makes the content invalid.

use crate::hl7::{Component, Field, Segment};
use std::borrow::Cow;

/// The media types of a non-structured (level 1) body, as written in `nonXMLBody/text/@mediaType`
/// (their formatCodes come from ASS_A12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Pdf,
    Rtf,
    Jpeg,
    Tiff,
    /// Narrative OBX (TX, FT, ST) joined.
    PlainText,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Rtf => "text/rtf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Tiff => "image/tiff",
            MediaType::PlainText => "text/plain",
        }
    }

    /// Whether decoded content starts as this media type must.
    fn signature_ok(self, head: &[u8]) -> bool {
        match self {
            MediaType::Pdf => head.starts_with(b"%PDF-"),
            MediaType::Rtf => head.starts_with(b"{\\rtf"),
            MediaType::Jpeg => head.starts_with(&[0xFF, 0xD8, 0xFF]),
            MediaType::Tiff => head.starts_with(b"II*\0") || head.starts_with(b"MM\0*"),
            MediaType::PlainText => true,
        }
    }

    fn signature_name(self) -> &'static str {
        match self {
            MediaType::Pdf => "%PDF-",
            MediaType::Rtf => "{\\rtf",
            MediaType::Jpeg => "FF D8 FF",
            MediaType::Tiff => "II*\\0 or MM\\0*",
            MediaType::PlainText => "",
        }
    }
}

/// What an ED announces in OBX-5.2 / OBX-5.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdType {
    Body(MediaType),
    /// A CDA R2 document built by the DPI (`text/XML`).
    Cda,
}

/// Reads OBX-5.2 (type of data) and OBX-5.3 (subtype): HL7 tables 0191/0291 or MIME names.
pub fn ed_type(type_of_data: &str, subtype: &str) -> Option<EdType> {
    let t = type_of_data.trim().to_ascii_lowercase();
    let s = subtype.trim().to_ascii_lowercase();
    let body = |m| Some(EdType::Body(m));
    match (t.as_str(), s.as_str()) {
        ("ap" | "application", "pdf") => body(MediaType::Pdf),
        ("ap" | "application" | "text", "rtf") => body(MediaType::Rtf),
        ("im" | "image", "jpeg" | "jpg") => body(MediaType::Jpeg),
        ("im" | "image", "tiff" | "tif") => body(MediaType::Tiff),
        ("text" | "ap" | "application", "xml") => Some(EdType::Cda),
        _ => None,
    }
}

/// Why content was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentError {
    /// No data (`CONTENT_MISSING`).
    Missing(String),
    /// Undecodable or not what it claims to be (`CONTENT_INVALID`).
    Invalid(String),
    /// Over `limits.max_content_bytes` once decoded (`MESSAGE_TOO_LARGE`).
    TooLarge(String),
}

/// Validates base64 document data and returns it ready for the CDA: borrowed from the message
/// when it had no escaped line breaks. `max_decoded` is the configured limit on decoded bytes.
pub fn checked_base64<'a>(
    data: &Component<'a>,
    media_type: MediaType,
    max_decoded: u64,
) -> Result<Cow<'a, str>, ContentError> {
    let value = unwrapped_base64(data, max_decoded)?;
    let bytes = value.as_bytes();
    base64_simd::STANDARD
        .check(bytes)
        .map_err(|_| invalid_base64(bytes))?;
    let head = decode_head(bytes);
    if !media_type.signature_ok(&head) {
        return Err(ContentError::Invalid(format!(
            "the content is announced as {} but does not start with {}",
            media_type.as_str(),
            media_type.signature_name()
        )));
    }
    Ok(value)
}

/// Decodes a whole base64 value (a CDA built by the DPI, which has to be read).
pub fn decode_base64(data: &Component<'_>, max_decoded: u64) -> Result<Vec<u8>, ContentError> {
    let value = unwrapped_base64(data, max_decoded)?;
    base64_simd::STANDARD
        .decode_to_vec(value.as_bytes())
        .map_err(|_| invalid_base64(value.as_bytes()))
}

/// OBX-5.5 with escaped line breaks removed, not empty, and whose decoded length (computed
/// from the length and the padding, without decoding) is within the limit.
fn unwrapped_base64<'a>(
    data: &Component<'a>,
    max_decoded: u64,
) -> Result<Cow<'a, str>, ContentError> {
    let value = data.value();
    // A raw field holds no CR or LF (either ends the segment): only escapes (`\.br\`,
    // `\X0D0A\`), decoded into an owned value, can bring them. A borrowed value needs no look.
    let escaped = matches!(value, Cow::Owned(_));
    let value = if escaped && memchr::memchr2(b'\r', b'\n', value.as_bytes()).is_some() {
        Cow::Owned(
            value
                .chars()
                .filter(|c| !matches!(c, '\r' | '\n'))
                .collect(),
        )
    } else {
        value
    };
    if value.is_empty() {
        return Err(ContentError::Missing(
            "the ED data (OBX-5.5) is empty".into(),
        ));
    }
    let decoded_len = base64_simd::STANDARD
        .decoded_length(value.as_bytes())
        .map_err(|_| invalid_base64(value.as_bytes()))?;
    if decoded_len as u64 > max_decoded {
        return Err(ContentError::TooLarge(format!(
            "{decoded_len} bytes of content once decoded (limit {max_decoded}, \
             limits.max_content_bytes)"
        )));
    }
    Ok(value)
}

/// The first decoded bytes of valid base64 (up to 6, from the first 8 characters).
fn decode_head(b64: &[u8]) -> Vec<u8> {
    // A prefix whose length is a multiple of 4 is itself valid base64 when the whole is.
    let n = b64.len().min(8) & !3;
    base64_simd::STANDARD
        .decode_to_vec(&b64[..n])
        .unwrap_or_default()
}

fn invalid_base64(bytes: &[u8]) -> ContentError {
    let what = match bytes.iter().position(|&b| !is_base64_byte(b)) {
        Some(at) => format!(
            "a character that is not base64 at offset {at} (0x{:02X})",
            bytes[at]
        ),
        None if !bytes.len().is_multiple_of(4) => format!(
            "{} characters, not a multiple of 4 (padding missing or truncated data)",
            bytes.len()
        ),
        None => "misplaced padding or non-canonical final characters".into(),
    };
    ContentError::Invalid(format!("the ED data (OBX-5.5) is not valid base64: {what}"))
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// True for OBX-2 value types whose OBX-5 is narrative text (HL7 table 0125).
pub fn is_narrative(value_type: &str) -> bool {
    matches!(value_type.trim(), "TX" | "FT" | "ST")
}

/// Appends the text of one narrative OBX to `out`: each repetition of OBX-5 is a line, escapes
/// decoded (`\.br\` is a line break). Lines are separated by `\n`.
pub fn push_narrative(obx: &Segment<'_>, out: &mut String) {
    push_narrative_field(obx.field(5), out);
}

/// [`push_narrative`] from OBX-5 already split out.
pub fn push_narrative_field(obx5: Option<Field<'_>>, out: &mut String) {
    let Some(field) = obx5 else {
        return;
    };
    for rep in field.repetitions() {
        if !out.is_empty() {
            out.push('\n');
        }
        rep.push_value(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::{Charset, Message};

    fn with_obx5<T>(obx5: &str, f: impl FnOnce(&Component<'_>) -> T) -> T {
        let text = format!("MSH|^~\\&|A\rOBX|1|ED|X||{obx5}||||||F\r");
        let msg = Message::parse(&text, Charset::Utf8).unwrap();
        let obx = msg.segment("OBX").unwrap();
        let data = obx.field(5).unwrap().component(5).unwrap();
        f(&data)
    }

    fn check(obx5: &str, media: MediaType) -> Result<String, ContentError> {
        let text = format!("MSH|^~\\&|A\rOBX|1|ED|X||{obx5}||||||F\r");
        let msg = Message::parse(&text, Charset::Utf8).unwrap();
        let obx = msg.segment("OBX").unwrap();
        // No OBX-5.5 at all: the reader reports CONTENT_MISSING itself.
        let Some(data) = obx.field(5).unwrap().component(5) else {
            return Err(ContentError::Missing(String::new()));
        };
        checked_base64(&data, media, 1 << 20).map(|v| v.into_owned())
    }

    const PDF: &str = "JVBERi0xLjQK"; // "%PDF-1.4\n"

    #[test]
    fn base64_content_cases() {
        use ContentError::*;
        use MediaType::*;
        // (OBX-5, media type, Ok(expected data) or the error kind)
        type Case = (
            &'static str,
            MediaType,
            Result<&'static str, fn(String) -> ContentError>,
        );
        let cases: &[Case] = &[
            ("^application^pdf^Base64^JVBERi0xLjQK", Pdf, Ok(PDF)),
            ("^application^pdf^Base64^JVBERi0=", Pdf, Ok("JVBERi0=")),
            // escaped line breaks (wrapped at 76 by some senders) are removed
            ("^AP^PDF^Base64^JVBE\\.br\\Ri0xLjQK", Pdf, Ok(PDF)),
            ("^AP^PDF^Base64^JVBE\\X0D0A\\Ri0xLjQK", Pdf, Ok(PDF)),
            ("^AP^PDF^Base64^", Pdf, Err(Missing)),
            ("^AP^PDF^Base64", Pdf, Err(Missing)),
            // not base64
            ("^AP^PDF^Base64^JVBERi0xLjQK!", Pdf, Err(Invalid)),
            ("^AP^PDF^Base64^JVBE Ri0xLjQK", Pdf, Err(Invalid)),
            ("^AP^PDF^Base64^JVBERi0xLjQ", Pdf, Err(Invalid)), // length 11
            ("^AP^PDF^Base64^JVBERi0xLjR=", Pdf, Err(Invalid)), // non-canonical final bits
            ("^AP^PDF^Base64^JVBERi0xLjQ=", Pdf, Ok("JVBERi0xLjQ=")), // "%PDF-1.4"
            ("^AP^PDF^Base64^JV=ERi0xLjQK", Pdf, Err(Invalid)), // padding in the middle
            ("^AP^PDF^Base64^JVBERi0xLjQK\\F\\", Pdf, Err(Invalid)), // escaped delimiter
            ("^AP^PDF^Base64^JVBERi0xLjQK\\H\\", Pdf, Err(Invalid)),
            ("^AP^PDF^Base64^JVBERi0xLjQK&x", Pdf, Err(Invalid)), // a subcomponent
            ("^AP^PDF^Base64^SGVsbG8gd29ybGQ=", Pdf, Err(Invalid)), // "Hello world"
            // signatures
            ("^text^rtf^Base64^e1xydGYxIA==", Rtf, Ok("e1xydGYxIA==")), // "{\rtf1 "
            ("^text^rtf^Base64^JVBERi0xLjQK", Rtf, Err(Invalid)),
            ("^IM^JPEG^Base64^/9j/4AAQ", Jpeg, Ok("/9j/4AAQ")),
            ("^IM^JPEG^Base64^iVBORw0K", Jpeg, Err(Invalid)), // PNG
            ("^IM^TIFF^Base64^SUkqAAgA", Tiff, Ok("SUkqAAgA")), // II*\0
            ("^IM^TIFF^Base64^TU0AKgAA", Tiff, Ok("TU0AKgAA")), // MM\0*
            ("^IM^TIFF^Base64^TU0qAAAA", Tiff, Err(Invalid)),
            ("^AP^PDF^Base64^JVA=", Pdf, Err(Invalid)), // too short to hold %PDF-
        ];
        for (obx5, media, want) in cases {
            let got = check(obx5, *media);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(&g, w, "{obx5}"),
                (Err(kind), Err(e)) => {
                    let same =
                        std::mem::discriminant(&kind(String::new())) == std::mem::discriminant(&e);
                    assert!(same, "{obx5}: got {e:?}");
                }
                (w, g) => panic!(
                    "{obx5}: want {:?}, got {g:?}",
                    w.map_err(|k| k(String::new()))
                ),
            }
        }
    }

    #[test]
    fn valid_base64_is_borrowed_from_the_message() {
        let text = format!("MSH|^~\\&|A\rOBX|1|ED|X||^AP^PDF^Base64^{PDF}||||||F\r");
        let msg = Message::parse(&text, Charset::Utf8).unwrap();
        let data = msg
            .segment("OBX")
            .unwrap()
            .field(5)
            .unwrap()
            .component(5)
            .unwrap();
        let v = checked_base64(&data, MediaType::Pdf, 100).unwrap();
        assert!(matches!(v, Cow::Borrowed(_)));
        let start = text.find(PDF).unwrap();
        assert_eq!(
            v.as_ptr(),
            text[start..].as_ptr(),
            "the very bytes of the message"
        );
    }

    #[test]
    fn decoded_size_is_limited_before_decoding() {
        let err = with_obx5(&format!("^AP^PDF^Base64^{PDF}"), |c| {
            checked_base64(c, MediaType::Pdf, 8).map(|v| v.into_owned())
        })
        .unwrap_err();
        assert!(matches!(err, ContentError::TooLarge(_)), "{err:?}");
        let ok = with_obx5(&format!("^AP^PDF^Base64^{PDF}"), |c| {
            checked_base64(c, MediaType::Pdf, 9).map(|v| v.into_owned())
        });
        assert!(ok.is_ok());
    }

    #[test]
    fn ed_types() {
        let cases = [
            ("application", "pdf", Some(EdType::Body(MediaType::Pdf))),
            ("AP", "PDF", Some(EdType::Body(MediaType::Pdf))),
            ("text", "XML", Some(EdType::Cda)),
            ("TEXT", "XML", Some(EdType::Cda)),
            ("text", "rtf", Some(EdType::Body(MediaType::Rtf))),
            ("IM", "JPEG", Some(EdType::Body(MediaType::Jpeg))),
            ("image", "tiff", Some(EdType::Body(MediaType::Tiff))),
            ("text", "", None),
            ("image", "png", None),
            ("", "", None),
        ];
        for (t, s, want) in cases {
            assert_eq!(ed_type(t, s), want, "{t}/{s}");
        }
    }

    #[test]
    fn narrative_lines_are_joined_with_escapes_decoded() {
        let text = "MSH|^~\\&|A\r\
            OBX|1|TX|X||Ligne \\T\\ un||||||F\r\
            OBX|2|TX|X||deux\\.br\\trois~quatre||||||F\r\
            OBX|3|FT|X||cinq \\F\\ six \\S\\ sept||||||F\r";
        let msg = Message::parse(text, Charset::Utf8).unwrap();
        let mut out = String::new();
        for obx in msg.segments_named("OBX") {
            push_narrative(&obx, &mut out);
        }
        assert_eq!(out, "Ligne & un\ndeux\ntrois\nquatre\ncinq | six ^ sept");
    }

    proptest::proptest! {
        #[test]
        fn checking_never_panics(s in "[A-Za-z0-9+/=\\\\.&^ -]{0,40}") {
            let text = format!("MSH|^~\\&|A\rOBX|1|ED|X||^AP^PDF^Base64^{s}||||||F\r");
            let msg = Message::parse(&text, Charset::Utf8).unwrap();
            let obx = msg.segment("OBX").unwrap();
            if let Some(c) = obx.field(5).and_then(|f| f.component(5)) {
                let _ = checked_base64(&c, MediaType::Pdf, 1 << 20);
                let _ = decode_base64(&c, 1 << 20);
            }
        }
    }
}
