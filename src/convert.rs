//! One message in, one outcome out: the pure core of `convert` and `check` (no I/O).
//!
//! Frame → size limits → charset (MSH-18) → parse → message type → document mapping and the
//! identity gate → CDA. The pipeline writes what this returns; `check` prints it.

use crate::config::Config;
use crate::hl7::{self, FrameDefect, Message};
use crate::reason::{Finding, Outcome, ReasonCode};

/// What the pipeline needs from MSH to answer with an ACK and to name the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MessageHeader {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// MSH-9 as sent (`MDM^T02^MDM_T02`).
    pub message_type: String,
    /// MSH-10.
    pub control_id: String,
    /// MSH-11.
    pub processing_id: String,
    /// MSH-12.
    pub version: String,
}

impl MessageHeader {
    /// Reads the header fields of a parsed message (escapes decoded).
    pub fn read(msg: &Message<'_>) -> MessageHeader {
        let get = |path: &str| {
            msg.get(path)
                .ok()
                .flatten()
                .unwrap_or_default()
                .into_owned()
        };
        MessageHeader {
            sending_application: get("MSH-3"),
            sending_facility: get("MSH-4"),
            receiving_application: get("MSH-5"),
            receiving_facility: get("MSH-6"),
            message_type: msg
                .msh()
                .field(9)
                .map(|f| f.first().raw().to_owned())
                .unwrap_or_default(),
            control_id: get("MSH-10"),
            processing_id: get("MSH-11.1"),
            version: get("MSH-12.1"),
        }
    }
}

/// The result of converting one message. Pure data; the pipeline decides where it goes.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub outcome: Outcome,
    /// MSH header when the message could be parsed that far.
    pub header: Option<MessageHeader>,
    /// Every reason, blocking ones and warnings (see [`Finding::is_warning`]).
    pub findings: Vec<Finding>,
    /// What the output NAME is derived from: the document id, else the control id.
    pub name_key: Option<String>,
    /// For [`Outcome::Converted`]: the document and its artefacts.
    pub document: Option<ConvertedDocument>,
    /// For [`Outcome::Deleted`]: the id of the document deleted, and the artefacts (`--emit`).
    pub deletion: Option<Deletion>,
}

/// A converted document: the CDA, the metadata reported in `report.jsonl`, and the artefacts
/// asked for with `--emit`.
#[derive(Debug, Clone)]
pub struct ConvertedDocument {
    /// The CDA R2 XML (UTF-8).
    pub cda: Vec<u8>,
    pub metadata: DocumentMetadata,
    /// Other files, written beside the CDA as `NAME` + suffix (e.g. `.mdm.hl7`, `.xdm.zip`).
    pub artefacts: Vec<Artefact>,
}

/// The XDS metadata of a converted document, as `report.jsonl` carries it (CONTRACT.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentMetadata {
    pub type_code: String,
    pub class_code: String,
    pub format_code: String,
    pub confidentiality: Vec<String>,
    pub patient_id: String,
    pub unique_id: String,
    pub set_id: String,
    pub version: u32,
}

/// A deletion (MDM^T04, ORU with OBX-11 `D`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletion {
    /// The id of the deleted document (TXA-12 for MDM, OBR-3 for ORU).
    pub document_id: String,
    pub artefacts: Vec<Artefact>,
}

/// One extra output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// Appended to NAME: `.mdm.hl7`, `.oru.hl7`, `.xdm.zip`.
    pub suffix: String,
    pub bytes: Vec<u8>,
}

impl Conversion {
    /// A message that cannot be processed.
    pub fn rejected(header: Option<MessageHeader>, finding: Finding) -> Conversion {
        let name_key = header
            .as_ref()
            .map(|h| h.control_id.clone())
            .filter(|s| !s.is_empty());
        Conversion {
            outcome: Outcome::Rejected,
            header,
            findings: vec![finding],
            name_key,
            document: None,
            deletion: None,
        }
    }

    /// MSH-10, when known and not empty.
    pub fn control_id(&self) -> Option<&str> {
        self.header
            .as_ref()
            .map(|h| h.control_id.as_str())
            .filter(|s| !s.is_empty())
    }

    /// The blocking codes, deduplicated, in order of first appearance.
    pub fn codes(&self) -> Vec<ReasonCode> {
        dedup(
            self.findings
                .iter()
                .filter(|f| !f.is_warning())
                .map(|f| f.code),
        )
    }

    /// The warning codes, deduplicated.
    pub fn warnings(&self) -> Vec<ReasonCode> {
        dedup(
            self.findings
                .iter()
                .filter(|f| f.is_warning())
                .map(|f| f.code),
        )
    }
}

fn dedup(codes: impl Iterator<Item = ReasonCode>) -> Vec<ReasonCode> {
    let mut out = Vec::new();
    for c in codes {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Converts one framed message.
pub fn convert(raw: &[u8], defect: Option<FrameDefect>, config: &Config) -> Conversion {
    if let Some(defect) = defect {
        return Conversion::rejected(None, defect_finding(defect, raw.len()));
    }
    if raw.len() as u64 > config.limits.max_message_bytes {
        return Conversion::rejected(
            None,
            too_large(raw.len() as u64, config.limits.max_message_bytes),
        );
    }
    let decoded = match hl7::decode(raw) {
        Ok(d) => d,
        Err(e) => {
            return Conversion::rejected(
                None,
                Finding::new(e.code(), e.path.clone().unwrap_or_default(), e.to_string()),
            );
        }
    };
    let msg = match decoded.parse() {
        Ok(m) => m,
        Err(e) => {
            return Conversion::rejected(
                None,
                Finding::new(e.code(), e.path.clone().unwrap_or_default(), e.to_string()),
            );
        }
    };
    let header = MessageHeader::read(&msg);
    let mut conversion = Conversion::rejected(
        Some(header.clone()),
        Finding::new(
            ReasonCode::UnsupportedMessage,
            "MSH-9",
            format!(
                "message type {:?} carries no document dmpfeed can convert yet",
                header.message_type
            ),
        ),
    );
    if decoded.assumed {
        conversion.findings.push(Finding::new(
            ReasonCode::CharsetAssumed,
            "MSH-18",
            "no MSH-18 and the bytes are not UTF-8: read as ISO 8859-1",
        ));
    }
    conversion
}

fn defect_finding(defect: FrameDefect, len: usize) -> Finding {
    match defect {
        FrameDefect::NotHl7 => Finding::new(
            ReasonCode::Hl7Syntax,
            "",
            format!("{len} bytes that are not an HL7 message (no MSH segment)"),
        ),
        FrameDefect::UnterminatedMllp => Finding::new(
            ReasonCode::Hl7Syntax,
            "",
            "the input ended inside an MLLP block (no 0x1C end byte)",
        ),
        FrameDefect::TooLarge { size } => too_large(size, 0),
    }
}

fn too_large(size: u64, limit: u64) -> Finding {
    let limit = if limit > 0 {
        format!(" (limit {limit})")
    } else {
        String::new()
    };
    Finding::new(
        ReasonCode::MessageTooLarge,
        "",
        format!("message of {size} bytes{limit}"),
    )
}
