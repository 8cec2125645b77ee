//! Outcomes and reason codes: the stable vocabulary of `report.jsonl`, `check` and the ACKs.
//!
//! The strings are a public contract (`CONTRACT.md`, "Reason codes (stable; add new ones, never
//! rename)"). This module depends on nothing else in the crate.

use serde::{Serialize, Serializer};
use std::fmt;

/// What became of one input message. Exactly one per message (CONTRACT.md, "Output folder").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A CDA R2 document ready for the DMP.
    Converted,
    /// Not sent: the patient's identity cannot be used for the DMP; resubmittable.
    Held,
    /// Not sent on purpose (`DESTDMP=N`, patient opposition).
    Excluded,
    /// A deletion of an earlier document (MDM^T04 / OBX-11 `D`).
    Deleted,
    /// A patient-administration message whose identity or opposition data was kept.
    Recorded,
    /// The message cannot be processed.
    Rejected,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Converted,
        Outcome::Held,
        Outcome::Excluded,
        Outcome::Deleted,
        Outcome::Recorded,
        Outcome::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Converted => "converted",
            Outcome::Held => "held",
            Outcome::Excluded => "excluded",
            Outcome::Deleted => "deleted",
            Outcome::Recorded => "recorded",
            Outcome::Rejected => "rejected",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal => $outcome:expr ),+ $(,)?) => {
        /// A stable reason code (CONTRACT.md "Reason codes"). Each code belongs to one outcome,
        /// or is a warning that never blocks ([`ReasonCode::outcome`] returns `None`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ReasonCode {
            $( $(#[$doc])* $variant, )+
        }

        impl ReasonCode {
            /// Every code, in the order of CONTRACT.md.
            pub const ALL: &'static [ReasonCode] = &[ $( ReasonCode::$variant, )+ ];

            /// The stable string written to reports.
            pub fn as_str(self) -> &'static str {
                match self { $( ReasonCode::$variant => $text, )+ }
            }

            /// The outcome this code leads to, or `None` for a warning.
            pub fn outcome(self) -> Option<Outcome> {
                match self { $( ReasonCode::$variant => $outcome, )+ }
            }

            /// Parses the stable string back (for tools reading reports).
            pub fn from_code(s: &str) -> Option<ReasonCode> {
                match s { $( $text => Some(ReasonCode::$variant), )+ _ => None }
            }
        }
    };
}

reason_codes! {
    /// No INS in PID-3.
    InsMissing = "INS_MISSING" => Some(Outcome::Held),
    /// Not 15 characters of the NIR alphabet.
    InsMalformed = "INS_MALFORMED" => Some(Outcome::Held),
    /// The 2-digit key does not match.
    InsKeyInvalid = "INS_KEY_INVALID" => Some(Outcome::Held),
    /// Assigning authority is not an INS OID.
    InsOidUnknown = "INS_OID_UNKNOWN" => Some(Outcome::Held),
    /// Test or demo INS in a production message.
    InsOidTestInProduction = "INS_OID_TEST_IN_PRODUCTION" => Some(Outcome::Held),
    /// PID-32 is not `QUAL` (or `VALI` when the policy accepts it).
    IdentityNotQualified = "IDENTITY_NOT_QUALIFIED" => Some(Outcome::Held),
    /// PID-32 carries an attribute that forbids using the INS (`DOUT`, `FICT`, …).
    IdentityDoubtful = "IDENTITY_DOUBTFUL" => Some(Outcome::Held),
    /// A strict trait is absent.
    TraitMissing = "TRAIT_MISSING" => Some(Outcome::Held),
    /// NIR sex digit disagrees with PID-8.
    NirSexMismatch = "NIR_SEX_MISMATCH" => Some(Outcome::Held),
    /// NIR year (or month when 01–12) disagrees with PID-7.
    NirBirthdateMismatch = "NIR_BIRTHDATE_MISMATCH" => Some(Outcome::Held),
    /// NIR place disagrees with the BDL code (never blocks).
    NirBirthplaceMismatch = "NIR_BIRTHPLACE_MISMATCH" => None,
    /// A CDA received already built names another patient than PID.
    DocumentIdentityMismatch = "DOCUMENT_IDENTITY_MISMATCH" => Some(Outcome::Held),
    /// Not for the DMP (`DESTDMP=N`, or patient opposition in PAM-FR ZFA).
    DmpOpposition = "DMP_OPPOSITION" => Some(Outcome::Excluded),
    /// Not parseable as HL7v2.
    Hl7Syntax = "HL7_SYNTAX" => Some(Outcome::Rejected),
    /// Bytes not valid in the declared MSH-18 character set.
    Hl7Charset = "HL7_CHARSET" => Some(Outcome::Rejected),
    /// Message type or event that carries no document.
    UnsupportedMessage = "UNSUPPORTED_MESSAGE" => Some(Outcome::Rejected),
    /// ORC-1 / OBX-11 / event disagree.
    EventInconsistent = "EVENT_INCONSISTENT" => Some(Outcome::Rejected),
    /// No document content.
    ContentMissing = "CONTENT_MISSING" => Some(Outcome::Rejected),
    /// Undecodable content.
    ContentInvalid = "CONTENT_INVALID" => Some(Outcome::Rejected),
    /// Document type neither a known code nor mapped in the configuration.
    DocumentTypeUnknown = "DOCUMENT_TYPE_UNKNOWN" => Some(Outcome::Rejected),
    /// T10 without a parent document id (TXA-13).
    ReplacedDocumentMissing = "REPLACED_DOCUMENT_MISSING" => Some(Outcome::Rejected),
    /// No author in the message and none configured.
    AuthorMissing = "AUTHOR_MISSING" => Some(Outcome::Rejected),
    /// A replacement whose parent dmpfeed has never seen (converted anyway).
    ReplacedDocumentUnknown = "REPLACED_DOCUMENT_UNKNOWN" => None,
    /// A deletion of a document dmpfeed has never seen.
    DeletedDocumentUnknown = "DELETED_DOCUMENT_UNKNOWN" => None,
    /// Over the configured size limit.
    MessageTooLarge = "MESSAGE_TOO_LARGE" => Some(Outcome::Rejected),
    /// No MSH-18 and the bytes are not valid UTF-8: read as ISO 8859-1 (never blocks).
    /// An addition to CONTRACT.md's list, documented in the README.
    CharsetAssumed = "CHARSET_ASSUMED" => None,
    /// PID-3 carries two different valid INS: which one is the patient's cannot be decided.
    /// An addition to CONTRACT.md's list.
    InsConflict = "INS_CONFLICT" => Some(Outcome::Held),
    /// The message's own PID could not be used, and the patient's qualified identity recorded
    /// from a patient-administration (ADT) message was written instead (issue 10; never blocks).
    /// An addition to CONTRACT.md's list.
    IdentityFromRegistry = "IDENTITY_FROM_REGISTRY" => None,
    /// PID contradicts the qualified identity recorded from ADT for the same IPP (another INS,
    /// sex or birth date): the recorded identity is not used, the document is held (issue 3).
    /// An addition to CONTRACT.md's list.
    IdentityConflict = "IDENTITY_CONFLICT" => Some(Outcome::Held),
    /// A held message released after a later version of its document was sent: sending it
    /// would put an outdated version in the DMP after the current one, so it is not sent.
    /// An addition to CONTRACT.md's list.
    DocumentSuperseded = "DOCUMENT_SUPERSEDED" => Some(Outcome::Excluded),
}

impl ReasonCode {
    /// True when the code never blocks a message.
    pub fn is_warning(self) -> bool {
        self.outcome().is_none()
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReasonCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One reason, with where it was found: what a clerk needs to fix the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: ReasonCode,
    /// HL7 path such as `PID-3(2).1`, empty when the finding is about the whole message.
    pub path: String,
    /// Human-readable explanation. Never carries identity traits or the INS itself.
    pub detail: String,
}

impl Finding {
    pub fn new(code: ReasonCode, path: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding {
            code,
            path: path.into(),
            detail: detail.into(),
        }
    }

    /// True when the finding does not block the message.
    pub fn is_warning(&self) -> bool {
        self.code.is_warning()
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.code, self.detail)
        } else {
            write!(f, "{} at {}: {}", self.code, self.path, self.detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_string() {
        for &code in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_code(code.as_str()), Some(code));
        }
    }

    #[test]
    fn warnings_are_exactly_the_non_blocking_codes() {
        let warnings: Vec<_> = ReasonCode::ALL
            .iter()
            .filter(|c| c.is_warning())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            warnings,
            [
                "NIR_BIRTHPLACE_MISMATCH",
                "REPLACED_DOCUMENT_UNKNOWN",
                "DELETED_DOCUMENT_UNKNOWN",
                "CHARSET_ASSUMED",
                "IDENTITY_FROM_REGISTRY"
            ]
        );
    }

    #[test]
    fn codes_serialize_as_their_stable_string() {
        let f = Finding::new(
            ReasonCode::InsKeyInvalid,
            "PID-3(2).1",
            "key 12, expected 89",
        );
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"code":"INS_KEY_INVALID","path":"PID-3(2).1","detail":"key 12, expected 89"}"#
        );
    }
}
