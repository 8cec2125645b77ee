//! The HL7v2 reader: everything from bytes to a navigable message, and nothing else.
//!
//! * [`framing`] — a sans-I/O state machine that cuts a byte stream into messages (MLLP frames,
//!   `FHS/BHS … BTS/FTS` batches, or plain messages each starting at `MSH`).
//! * [`charset`] — MSH-18 and the decoding of the bytes to UTF-8 text.
//! * [`delimiters`], [`view`], [`escape`], [`path`] — the nom-based parse of MSH-1/MSH-2, the
//!   zero-copy views and the path accessor (`PID-3(2).4.2`).
//!
//! This module knows nothing of CDA, identity or the pipeline.
//!
//! ```
//! use dmpfeed::hl7;
//! let raw = b"MSH|^~\\&|DPI|CHU|||20240101||MDM^T02^MDM_T02|42|P|2.6\rPID|||IPP1^^^CHU^PI||DUPONT^Jean\r";
//! let decoded = hl7::decode(raw).unwrap();
//! let msg = decoded.parse().unwrap();
//! assert_eq!(msg.get("PID-5.2").unwrap().as_deref(), Some("Jean"));
//! assert_eq!(msg.get("MSH-9.2").unwrap().as_deref(), Some("T02"));
//! ```

pub mod charset;
pub mod delimiters;
pub mod error;
pub mod escape;
pub mod framing;
pub mod path;
pub mod view;

pub use charset::{Charset, Decoded, decode};
pub use delimiters::Delimiters;
pub use error::{Hl7Error, Hl7ErrorKind};
pub use framing::{Frame, FrameDefect, Framer, Framing};
pub use path::Path;
pub use view::{Component, Field, Message, Repetition, Segment, Subcomponent, Syntax};

impl Decoded<'_> {
    /// Parses the decoded text into a [`Message`] borrowing from it. Error offsets are in the
    /// original bytes ([`Decoded::input_offset`]), not in the decoded text.
    pub fn parse(&self) -> Result<Message<'_>, Hl7Error> {
        self.parse_limited(usize::MAX)
    }

    /// [`Decoded::parse`] with at most `max_segments` segments ([`Message::parse_limited`]).
    pub fn parse_limited(&self, max_segments: usize) -> Result<Message<'_>, Hl7Error> {
        Message::parse_limited(&self.text, self.charset, max_segments).map_err(|mut e| {
            e.offset = self.input_offset(e.offset);
            e
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn syntax_error_offset_is_in_the_original_latin1_bytes() {
        // Three 2-byte UTF-8 characters in the decoded text come from three Latin-1 bytes: the
        // offset of the bad segment must be the one in what the sender sent.
        let raw = b"MSH|^~\\&|A|B|C|D|20240101||MDM^T02|1|P|2.6|||||FRA|8859/1\rPID|||1||\xC9\xE9\xE8\rbad segment\r";
        let e = decode(raw).unwrap().parse().unwrap_err();
        assert_eq!(e.code(), crate::reason::ReasonCode::Hl7Syntax);
        assert!(
            raw[e.offset..].starts_with(b"bad segment"),
            "offset {}",
            e.offset
        );
    }

    #[test]
    fn a_50_mb_obx5_is_never_copied_from_frame_to_value() {
        // Issue 2: a 50 MB base64 PDF in OBX-5 is scanned, never copied. The value read through
        // framing, decoding, parsing and the path accessor points into the input buffer.
        let payload = vec![b'Q'; 50 << 20];
        let input = [
            &b"MSH|^~\\&|DPI|CHU|||20240101||MDM^T02|1|P|2.6|||||FRA|UNICODE UTF-8\rOBX|1|ED|||^application^pdf^Base64^"[..],
            &payload,
            b"||||||F\r",
        ]
        .concat();
        let frame = framing::frames(&input).next().unwrap();
        let decoded = decode(frame.bytes).unwrap();
        assert!(matches!(decoded.text, Cow::Borrowed(_)));
        let msg = decoded.parse().unwrap();
        let value = msg.get("OBX-5.5").unwrap().unwrap();
        assert!(matches!(value, Cow::Borrowed(_)));
        assert_eq!(value.len(), payload.len());
        let inside = input.as_ptr_range();
        assert!(inside.contains(&value.as_ptr()), "the value was copied");
    }
}
