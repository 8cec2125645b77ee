//! The registry's vocabulary: what the pipeline hands in (`New…`, borrowed, no allocation on the
//! hot path) and what it reads back (`…Row`, owned). Plain data: no HL7, no CDA.

use jiff::Timestamp;
use serde::Serialize;

/// Where a document stands in its chain (issue 9): the latest version of a set is `current`,
/// the versions it replaced are `replaced`, and a T04 makes a version `deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    Current,
    Replaced,
    Deleted,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Current => "current",
            DocumentStatus::Replaced => "replaced",
            DocumentStatus::Deleted => "deleted",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<DocumentStatus> {
        Some(match s {
            "current" => DocumentStatus::Current,
            "replaced" => DocumentStatus::Replaced,
            "deleted" => DocumentStatus::Deleted,
            _ => return None,
        })
    }
}

/// What a document event did, in a document's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The first version of a document (MDM^T02, ORU^R01 with OBX-11 `F`).
    Original,
    /// A new version replacing a parent (MDM^T10 with TXA-13, ORU with OBX-11 `C`).
    Replacement,
    /// A document already recorded, converted again from a different message (a resend whose
    /// bytes changed: the row now describes the latest message).
    Update,
    /// A deletion (MDM^T04, ORU with OBX-11 `D`), of a known document or not.
    Deletion,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Original => "original",
            EventKind::Replacement => "replacement",
            EventKind::Update => "update",
            EventKind::Deletion => "deletion",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<EventKind> {
        Some(match s {
            "original" => EventKind::Original,
            "replacement" => EventKind::Replacement,
            "update" => EventKind::Update,
            "deletion" => EventKind::Deletion,
            _ => return None,
        })
    }
}

/// What a write did. Writing the same message twice gives [`Change::Unchanged`] the second time
/// and leaves every row as it was (issue 9: "Converting the same source message again changes
/// nothing").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// A new row.
    Inserted,
    /// An existing row now says something else.
    Updated,
    /// The same message was already recorded: nothing was written.
    Unchanged,
}

/// A converted document, as the pipeline records it once its files are durably written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewDocument<'a> {
    /// The document id: TXA-12 (MDM) or OBR-3 (ORU) resolved to the OID the CDA takes
    /// (`src/document/ids.rs`). The registry's key.
    pub source_id: &'a str,
    /// The identifier `source_id` was resolved from, as sent (`EI-1^EI-2^EI-3`: `DOC-A`); `None`
    /// when the message gave none (the id was derived from MSH-10).
    pub sent_id: Option<&'a str>,
    /// The id of the document it replaces (TXA-13, resolved alike), for a replacement.
    pub parent_source_id: Option<&'a str>,
    /// `ClinicalDocument/id` of the CDA written (the XDS `uniqueId`).
    pub cda_id: &'a str,
    /// `ClinicalDocument/setId`, from [`RegistryRead::chain_position`](super::RegistryRead::chain_position).
    pub set_id: &'a str,
    /// `ClinicalDocument/versionNumber`, from `chain_position`.
    pub version: u32,
    /// The patient's IPP (the registry's patient key, as the pipeline builds it).
    pub ipp: Option<&'a str>,
    /// The patient's INS.
    pub ins: Option<&'a str>,
    /// The CDA's path relative to the output folder (`documents/NAME.xml`).
    pub output_path: &'a str,
    /// The report line's `source` (`input.hl7#3`).
    pub source: &'a str,
    /// A digest of the message bytes: the same message gives the same hash (idempotence).
    pub message_hash: &'a str,
    /// The message type as sent, for the history (`MDM^T10^MDM_T02`, `ORU^R01`).
    pub event: &'a str,
}

/// A deletion (T04), recorded once its `deleted/NAME.json` is durably written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewDeletion<'a> {
    /// The id of the deleted document (TXA-12 / OBR-3, resolved as for [`NewDocument::source_id`]).
    pub source_id: &'a str,
    /// That identifier as sent.
    pub sent_id: Option<&'a str>,
    pub ipp: Option<&'a str>,
    pub ins: Option<&'a str>,
    /// `deleted/NAME.json`, relative to the output folder.
    pub output_path: &'a str,
    pub source: &'a str,
    pub message_hash: &'a str,
    pub event: &'a str,
}

/// A document version as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentRow {
    pub source_id: String,
    /// TXA-12 / OBR-3 as sent (see [`NewDocument::sent_id`]); `None` when the message gave none,
    /// or for a version recorded before schema v3.
    pub sent_id: Option<String>,
    pub parent_source_id: Option<String>,
    pub cda_id: String,
    pub set_id: String,
    pub version: u32,
    pub ipp: Option<String>,
    pub ins: Option<String>,
    pub status: DocumentStatus,
    pub output_path: String,
    pub source: String,
    pub message_hash: String,
    pub event: String,
    #[serde(serialize_with = "display")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "display")]
    pub updated_at: Timestamp,
}

/// One message in a document's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentEvent {
    #[serde(serialize_with = "display")]
    pub at: Timestamp,
    pub kind: EventKind,
    /// The message type as sent (`MDM^T04`).
    pub event: String,
    /// The document the message is about.
    pub source_id: String,
    /// Its identifier as the message sent it (see [`NewDocument::sent_id`]).
    pub sent_id: Option<String>,
    /// The version it created, for an original, a replacement or an update.
    pub version: Option<u32>,
    pub output_path: Option<String>,
    pub source: String,
    pub message_hash: String,
}

/// A document in the user's sense: every version of one setId, and every message about them, in
/// the order they were recorded. A deletion of a document never converted here has no versions
/// and no setId.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentHistory {
    pub set_id: Option<String>,
    /// Oldest first.
    pub versions: Vec<DocumentRow>,
    /// Oldest first.
    pub events: Vec<DocumentEvent>,
}

impl DocumentHistory {
    /// The version the DMP should hold, if any (none once the latest version was deleted).
    pub fn current(&self) -> Option<&DocumentRow> {
        self.versions
            .iter()
            .find(|v| v.status == DocumentStatus::Current)
    }

    /// The version with the highest number.
    pub fn latest(&self) -> Option<&DocumentRow> {
        self.versions.iter().max_by_key(|v| v.version)
    }
}

/// Where a document goes in its chain: ask before converting it, so that its CDA carries the
/// right `setId` and `versionNumber`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainPosition {
    /// The chain's setId when the registry knows it. `None`: the document starts a chain, whose
    /// setId the converter derives from the document's own id (an original) or from the parent's
    /// id (a replacement of a parent never seen, issue 9) — the same derivation for both, so that
    /// a parent arriving after its replacement lands in the same chain.
    pub set_id: Option<String>,
    /// The version to write: 1 for an original, the chain's highest version + 1 for a
    /// replacement (its parent's version + 1 when the parent is the latest, the normal case), 2
    /// for a replacement of a parent never seen.
    pub version: u32,
    /// The parent as recorded. `None` for a replacement means the parent is unknown: warning
    /// `REPLACED_DOCUMENT_UNKNOWN`.
    pub parent: Option<DocumentRow>,
    /// The document itself when it was already recorded with the same parent (a rerun): its
    /// position is kept, so that converting it again writes the same file.
    pub recorded: Option<DocumentRow>,
}

impl ChainPosition {
    /// Whether two look-ups put the document at the same place (setId, version, parent known or
    /// not). A bulk worker's look-up, made on a read-only connection before earlier messages were
    /// committed, is still good if the writer's look-up inside its transaction gives the same
    /// place; otherwise the document must be converted again with the writer's answer.
    pub fn same_place(&self, other: &ChainPosition) -> bool {
        self.set_id == other.set_id
            && self.version == other.version
            && self.parent.is_some() == other.parent.is_some()
    }
}

/// What [`Tx::record_converted`](super::Tx::record_converted) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordResult {
    pub change: Change,
    /// The row as it now stands (its status may be `replaced` or `deleted` already when the
    /// messages arrived out of order).
    pub document: DocumentRow,
    /// For a replacement: whether its parent is a recorded document (`false` → warning
    /// `REPLACED_DOCUMENT_UNKNOWN`). `None` for an original.
    pub parent_known: Option<bool>,
}

/// What [`Tx::record_deleted`](super::Tx::record_deleted) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteResult {
    /// The deleted document had been recorded; `false` → warning `DELETED_DOCUMENT_UNKNOWN`. The
    /// deletion is kept anyway: if the document arrives later it is recorded as deleted.
    pub known: bool,
    pub change: Change,
    /// The document row after the deletion, when known.
    pub document: Option<DocumentRow>,
}

/// A message held because its patient's identity cannot be used for the DMP (issue 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldDocument<'a> {
    /// The report line's `source`, which a release line names in `released_from`.
    pub source: &'a str,
    /// TXA-12 / OBR-3 when the message has one.
    pub document_id: Option<&'a str>,
    pub ipp: Option<&'a str>,
    pub ins: Option<&'a str>,
    /// The reason codes of the held line (`IDENTITY_NOT_QUALIFIED`, …).
    pub reasons: &'a [&'a str],
    /// `held/NAME.hl7`, relative to the output folder.
    pub path: &'a str,
    /// The key of a held message: the same message held twice is one entry.
    pub message_hash: &'a str,
}

/// Whether a held message is still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HeldStatus {
    Held,
    Released,
}

/// A held message as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldEntry {
    pub message_hash: String,
    pub source: String,
    pub document_id: Option<String>,
    pub ipp: Option<String>,
    pub ins: Option<String>,
    pub reasons: Vec<String>,
    pub path: String,
    pub status: HeldStatus,
    #[serde(serialize_with = "display")]
    pub held_at: Timestamp,
    #[serde(serialize_with = "display_opt")]
    pub released_at: Option<Timestamp>,
    /// What the release produced (the pipeline's choice: the document path or the report source).
    pub released_as: Option<String>,
}

/// One line of the identity worklist: a patient and what is held for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorklistEntry {
    /// `None` when the held messages carry no IPP (they are grouped by INS, or all together).
    pub ipp: Option<String>,
    /// The INS the registry knows for the patient, else the one of the latest held message.
    pub ins: Option<String>,
    /// Every distinct reason code of the held messages, sorted.
    pub reasons: Vec<String>,
    pub count: usize,
    /// When the oldest held message was held.
    #[serde(serialize_with = "display")]
    pub oldest: Timestamp,
    /// The identity the registry holds for the patient: `None` if no ADT was recorded.
    pub qualified: Option<bool>,
}

impl WorklistEntry {
    /// How long the oldest message has waited.
    pub fn age(&self, now: Timestamp) -> jiff::SignedDuration {
        now.duration_since(self.oldest)
    }
}

/// A patient's identity from the patient administration system (ADT A28/A31/A08/A01/A04).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientIdentity<'a> {
    pub ipp: &'a str,
    pub ins: Option<&'a str>,
    /// The identity gate's verdict on this identity.
    pub qualified: bool,
    /// The ADT message's bytes as received. A release parses its PID with the same HL7 reader
    /// (its own delimiters and MSH-18 charset) and converts the held message with it; storing
    /// the whole message rather than PID alone keeps those and costs a few hundred bytes.
    pub adt_message: &'a [u8],
    pub source: &'a str,
    pub message_hash: &'a str,
}

/// A patient's identity as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatientRow {
    pub ipp: String,
    pub ins: Option<String>,
    pub qualified: bool,
    #[serde(skip)]
    pub adt_message: Vec<u8>,
    pub source: String,
    pub message_hash: String,
    #[serde(serialize_with = "display")]
    pub updated_at: Timestamp,
}

/// What [`Tx::record_patient_identity`](super::Tx::record_patient_identity) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdentityResult {
    pub change: Change,
    /// The identity is now qualified while it was not, or not known, before: time to release
    /// what is held for the patient.
    pub became_qualified: bool,
}

/// A patient's choice about DMP feeding (PAM-FR ZFA: `IO` opposed, `INO` not opposed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opposition<'a> {
    pub ipp: &'a str,
    pub opposed: bool,
    /// When the choice was expressed (ZFA, local time as sent). An older choice never overrides a
    /// newer one recorded before it (archives replayed out of order); `None` always applies.
    pub since: Option<jiff::civil::DateTime>,
    pub source: &'a str,
    pub message_hash: &'a str,
}

/// A patient's choice as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OppositionRow {
    pub ipp: String,
    pub opposed: bool,
    #[serde(serialize_with = "display_opt")]
    pub since: Option<jiff::civil::DateTime>,
    pub source: String,
    pub message_hash: String,
    #[serde(serialize_with = "display")]
    pub updated_at: Timestamp,
}

/// What [`Tx::set_opposition`](super::Tx::set_opposition) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OppositionChange {
    /// Recorded (new, or a different choice or date than before).
    Applied,
    /// The same message or the same choice again: nothing written.
    Unchanged,
    /// Older than the choice already recorded: ignored.
    Stale,
}

/// A merge of two patient records (ADT A40): `old_ipp` is absorbed into `surviving_ipp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientMerge<'a> {
    pub old_ipp: &'a str,
    pub surviving_ipp: &'a str,
    pub source: &'a str,
    pub message_hash: &'a str,
}

/// What [`Tx::merge_patients`](super::Tx::merge_patients) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergeResult {
    pub change: Change,
    /// The patient the old one now resolves to (the end of the merge chain).
    pub surviving_ipp: String,
    pub held_moved: usize,
    pub documents_moved: usize,
}

/// Times in JSON as their RFC 3339 / ISO 8601 text (jiff's `Display`).
fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn display_opt<T: std::fmt::Display, S: serde::Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}
