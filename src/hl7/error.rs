//! Errors of the HL7 reader: each says where (message index, byte offset, HL7 path) and maps to a
//! stable reason code of CONTRACT.md (`HL7_SYNTAX`, `HL7_CHARSET`).

use crate::reason::ReasonCode;
use std::fmt;

/// Which contract code an [`Hl7Error`] maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hl7ErrorKind {
    /// Not parseable as HL7v2 → `HL7_SYNTAX`.
    Syntax,
    /// Bytes not valid in the declared MSH-18 character set → `HL7_CHARSET`.
    Charset,
    /// Over a configured limit (`limits.max_segments`) → `MESSAGE_TOO_LARGE`.
    TooLarge,
}

/// A reader error: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hl7Error {
    pub kind: Hl7ErrorKind,
    /// 1-based index of the message in its file or stream, when known.
    pub message_index: Option<usize>,
    /// Byte offset in the message (in the original bytes for charset errors).
    pub offset: usize,
    /// HL7 path such as `MSH-2` or `PID`, when the error is inside a known place.
    pub path: Option<String>,
    pub reason: String,
}

impl Hl7Error {
    pub fn syntax(offset: usize, path: Option<&str>, reason: impl Into<String>) -> Self {
        Hl7Error {
            kind: Hl7ErrorKind::Syntax,
            message_index: None,
            offset,
            path: path.map(str::to_owned),
            reason: reason.into(),
        }
    }

    pub fn charset(offset: usize, reason: impl Into<String>) -> Self {
        Hl7Error {
            kind: Hl7ErrorKind::Charset,
            message_index: None,
            offset,
            path: Some("MSH-18".to_owned()),
            reason: reason.into(),
        }
    }

    pub fn too_large(offset: usize, reason: impl Into<String>) -> Self {
        Hl7Error {
            kind: Hl7ErrorKind::TooLarge,
            message_index: None,
            offset,
            path: None,
            reason: reason.into(),
        }
    }

    /// Attaches the message's position in its file or stream.
    pub fn with_message_index(mut self, index: usize) -> Self {
        self.message_index = Some(index);
        self
    }

    /// The stable reason code this error is reported with.
    pub fn code(&self) -> ReasonCode {
        match self.kind {
            Hl7ErrorKind::Syntax => ReasonCode::Hl7Syntax,
            Hl7ErrorKind::Charset => ReasonCode::Hl7Charset,
            Hl7ErrorKind::TooLarge => ReasonCode::MessageTooLarge,
        }
    }
}

impl fmt::Display for Hl7Error {
    /// Location first, as csv does: `byte 120 of message 3, MSH-2: …`. The offset counts from
    /// the start of the message, not of its file (`inspect` adds where the message starts).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message_index {
            Some(i) => write!(f, "byte {} of message {i}", self.offset)?,
            None => write!(f, "byte {} of the message", self.offset)?,
        }
        if let Some(p) = &self.path {
            write!(f, ", {p}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for Hl7Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_says_it_counts_from_the_message() {
        let e = Hl7Error::syntax(72, Some("PID-3"), "bad");
        assert_eq!(e.to_string(), "byte 72 of the message, PID-3: bad");
        assert_eq!(
            e.with_message_index(2).to_string(),
            "byte 72 of message 2, PID-3: bad"
        );
    }
}
