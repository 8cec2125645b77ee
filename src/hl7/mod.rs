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
    /// Parses the decoded text into a [`Message`] borrowing from it.
    pub fn parse(&self) -> Result<Message<'_>, Hl7Error> {
        Message::parse(&self.text, self.charset)
    }
}
