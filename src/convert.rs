//! One message in, one outcome out: the pure core of `convert` and `check` (no I/O).
//!
//! Frame → size limit → charset (MSH-18) → parse (at most `limits.max_segments` segments) →
//! field size limit → message type → document mapping and the identity gate → CDA; a
//! patient-administration message (ADT) is read by [`crate::adt`]. The pipeline writes what this
//! returns; `check` prints it. What a conversion must know of earlier messages (chains,
//! oppositions, recorded identities) it asks through [`Recall`] ([`convert_recalling`]); without
//! it ([`convert`]) each message stands alone.

use crate::adt;
use crate::cda::{self, received::ReceivedCda};
use crate::config::Config;
use crate::dmp;
use crate::dmp::flags::DecidedFlags;
use crate::document::event::Action;
use crate::document::{self, Content, DocumentRequest, ReceivedRequest, Request};
use crate::hl7::{self, Field, FrameDefect, Message};
use crate::identity;
use crate::reason::{Finding, Outcome, ReasonCode};
use crate::recall::{Facts, Recall};
use crate::terminology;
use std::borrow::Cow;

pub use crate::dmp::Emit;

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
    /// Reads the header fields of a parsed message (escapes decoded): the first repetition of
    /// MSH-3 to MSH-6 and MSH-10, component 1 of MSH-11 and MSH-12. MSH is split once, not
    /// walked from its start for each field through a parsed path (`Message::get`): −9 M
    /// instructions of the worker per 1,000 text messages.
    pub fn read(msg: &Message<'_>) -> MessageHeader {
        let mut msh: [Option<Field<'_>>; 12] = [None; 12];
        for (slot, field) in msh.iter_mut().zip(msg.msh().fields()) {
            *slot = Some(field);
        }
        let field = |n: usize| msh[n - 1];
        let value = |n: usize| field(n).map(|f| f.first().value().into_owned());
        let component1 = |n: usize| {
            field(n)
                .and_then(|f| f.component(1))
                .map(|c| c.value().into_owned())
        };
        MessageHeader {
            sending_application: value(3).unwrap_or_default(),
            sending_facility: value(4).unwrap_or_default(),
            receiving_application: value(5).unwrap_or_default(),
            receiving_facility: value(6).unwrap_or_default(),
            message_type: field(9)
                .map(|f| f.first().raw().to_owned())
                .unwrap_or_default(),
            control_id: value(10).unwrap_or_default(),
            processing_id: component1(11).unwrap_or_default(),
            version: component1(12).unwrap_or_default(),
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
    /// What the registry needs: the questions asked of it, the patient and document ids, an
    /// ADT message's update (issues 9 and 10).
    pub facts: Facts,
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

impl From<dmp::Artefact> for Artefact {
    fn from((suffix, bytes): dmp::Artefact) -> Artefact {
        Artefact {
            suffix: suffix.to_owned(),
            bytes,
        }
    }
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
            facts: Facts::default(),
        }
    }

    /// A patient-administration message kept (its findings say why its identity is not
    /// qualified, if it is not).
    pub fn recorded(header: MessageHeader, findings: Vec<Finding>) -> Conversion {
        Conversion::with(Outcome::Recorded, header, findings)
    }

    /// A conversion with this outcome and these findings, named after the control id.
    fn with(outcome: Outcome, header: MessageHeader, findings: Vec<Finding>) -> Conversion {
        let name_key = Some(header.control_id.clone()).filter(|s| !s.is_empty());
        Conversion {
            outcome,
            header: Some(header),
            findings,
            name_key,
            document: None,
            deletion: None,
            facts: Facts::default(),
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

/// Converts one framed message on its own (no memory of earlier messages: `check`, `--stdout`),
/// the CDA only.
pub fn convert(raw: &[u8], defect: Option<FrameDefect>, config: &Config) -> Conversion {
    convert_recalling(raw, defect, config, None, &Emit::NONE)
}

/// [`convert`] with the DMP artefacts `emit` asks for (`--emit`): a converted document's in
/// [`ConvertedDocument::artefacts`], a deletion's in [`Deletion::artefacts`] (suffixes
/// `.mdm.hl7`, `.oru.hl7`, `.xdm.zip`). Artefacts are made only for a message whose outcome is
/// `converted` or `deleted`; one that cannot be made rejects the message (the user asked for it:
/// nothing is silently left out).
pub fn convert_with(
    raw: &[u8],
    defect: Option<FrameDefect>,
    config: &Config,
    emit: &Emit,
) -> Conversion {
    convert_recalling(raw, defect, config, None, emit)
}

/// Converts one framed message, asking `memory` what earlier messages left: a chain's setId and
/// version, the patient's opposition, the identity recorded from ADT (see [`crate::recall`]).
pub fn convert_recalling(
    raw: &[u8],
    defect: Option<FrameDefect>,
    config: &Config,
    memory: Option<&dyn Recall>,
    emit: &Emit,
) -> Conversion {
    if let Some(defect) = defect {
        return Conversion::rejected(None, defect_finding(defect, raw.len(), config));
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
    let max_segments = usize::try_from(config.limits.max_segments).unwrap_or(usize::MAX);
    let msg = match decoded.parse_limited(max_segments) {
        Ok(m) => m,
        Err(e) => {
            return Conversion::rejected(
                None,
                Finding::new(e.code(), e.path.clone().unwrap_or_default(), e.to_string()),
            );
        }
    };
    let header = MessageHeader::read(&msg);
    if let Some(finding) = oversize_field(&msg, config.limits.max_field_bytes) {
        return Conversion::rejected(Some(header), finding);
    }
    let mut conversion = match document::message_kind(&msg) {
        Some((kind, _)) => convert_gated(&msg, kind, header, config, memory, emit),
        None if adt::is_adt(&msg) => adt::read(&msg, header, config),
        None => {
            let finding = Finding::new(
                ReasonCode::UnsupportedMessage,
                "MSH-9",
                format!(
                    "message type {:?} carries no document (accepted: MDM^T02, MDM^T10, MDM^T04, ORU^R01, ADT)",
                    header.message_type
                ),
            );
            Conversion::rejected(Some(header), finding)
        }
    };
    if decoded.assumed {
        conversion.findings.push(Finding::new(
            ReasonCode::CharsetAssumed,
            "MSH-18",
            "no MSH-18 and the bytes are not UTF-8: read as ISO 8859-1",
        ));
    }
    conversion
}

/// A document message through the identity gate, then the mapping.
///
/// Which outcome wins when several apply: `rejected` (the message cannot be processed as sent;
/// the identity findings are listed too, so that one resubmission fixes everything), then
/// `excluded` (not for the DMP whatever the identity), then `held` (the identity cannot be used:
/// nothing is written from it), then what the mapping decides (`deleted`, `converted`, or `held`
/// for a received CDA naming another patient), which carries the identity warnings.
///
/// With `memory` (the registry, issue 10): a patient opposed to DMP feeding, by IPP or by INS →
/// `excluded` (before the identity: an opposed patient's documents wait for nothing); a PID
/// that cannot be used only because it lacks something ([`REPLACEABLE_BY_REGISTRY`]) and
/// contradicts nothing ([`contradictions`]) while a qualified identity was recorded for the
/// patient's IPP from ADT → converted with that identity (`IDENTITY_FROM_REGISTRY`), as a
/// release would (a release converts the held message again through here); a document's setId
/// and version from its chain (issue 9).
fn convert_gated(
    msg: &Message<'_>,
    kind: document::event::MessageKind,
    header: MessageHeader,
    config: &Config,
    memory: Option<&dyn Recall>,
    emit: &Emit,
) -> Conversion {
    let verdict = identity::assess(msg, &config.identity);
    let mut request = match document::read(msg, config).map(|r| decide_destination(r, config)) {
        Ok(request) => request,
        Err(mut findings) => {
            findings.extend(verdict.findings);
            return Conversion::with(Outcome::Rejected, header, findings);
        }
    };
    let mut facts = Facts::about(&verdict.patient, &request);
    // The identity recorded from ADT, read again under the current policy, when PID's is not
    // usable. (Owned here: the CDA borrows its traits.)
    let recorded = match memory {
        Some(m) if !verdict.is_usable() && !matches!(request, Request::Excluded(_)) => {
            facts.recorded_identity(m)
        }
        _ => None,
    };
    let recorded_text = recorded.as_ref().and_then(|r| hl7::decode(&r.message).ok());
    let recorded_msg: Option<Message<'_>> = recorded_text.as_ref().and_then(|d| d.parse().ok());
    let recorded = recorded_msg
        .as_ref()
        .map(|m| identity::assess(m, &config.identity))
        .filter(|v| v.is_usable());
    // Opposition, by IPP and by the INS the document names (else the recorded one it would be
    // sent under): before the identity, an opposed patient's documents wait for nothing.
    if let Some(memory) = memory {
        let ins = facts.ins.clone().or_else(|| {
            let recorded = recorded.as_ref()?.patient.ins.as_ref()?;
            Some(recorded.value.trim().to_owned())
        });
        if let Some(opposed) = facts.opposition(memory, &request, ins) {
            let mut excluded = Conversion::with(Outcome::Excluded, header, vec![opposed]);
            excluded.name_key = facts.document_id.clone().or(excluded.name_key);
            excluded.facts = facts;
            return excluded;
        }
    }
    let mut findings = verdict.findings;
    let recorded = recorded.filter(|registered| {
        let conflicts = contradictions(&verdict.patient, &registered.patient);
        let replaceable = findings
            .iter()
            .all(|f| f.is_warning() || REPLACEABLE_BY_REGISTRY.contains(&f.code));
        let usable = replaceable && conflicts.is_empty();
        findings.extend(conflicts);
        usable
    });
    // The artefacts (`--emit`) carry the PID the CDA was written from.
    let identity_source = recorded.as_ref().and(recorded_msg.as_ref());
    let patient = match &recorded {
        Some(registered) => {
            let codes: Vec<&str> =
                dedup(findings.iter().filter(|f| !f.is_warning()).map(|f| f.code))
                    .into_iter()
                    .map(ReasonCode::as_str)
                    .collect();
            findings = vec![Finding::new(
                ReasonCode::IdentityFromRegistry,
                "PID",
                format!(
                    "the identity of PID cannot be used ({}): the patient's qualified identity \
                     recorded from the patient administration system (ADT) was written instead",
                    codes.join(", ")
                ),
            )];
            facts.ins = registered
                .patient
                .ins
                .as_ref()
                .map(|i| i.value.trim().to_owned());
            record_target(&registered.patient)
        }
        None if !findings.iter().all(Finding::is_warning)
            && !matches!(request, Request::Excluded(_)) =>
        {
            let name_key = request.document_id().map(str::to_owned);
            let mut held = Conversion::with(Outcome::Held, header, findings);
            held.name_key = name_key.or(held.name_key);
            held.facts = facts;
            return held;
        }
        None => record_target(&verdict.patient),
    };
    if let Some(memory) = memory
        && let Some(warning) = facts.place(memory, kind, &mut request)
    {
        findings.push(warning);
    }
    let mut conversion = complete(
        msg,
        identity_source,
        request,
        header,
        &patient,
        config,
        emit,
    );
    if conversion.outcome != Outcome::Excluded {
        conversion.findings.extend(findings);
    }
    conversion.facts = facts;
    conversion
}

/// The flags as the emitted artefacts carry them (issue 6): the source's where it sent them, the
/// `[dmp]` defaults elsewhere. Decided here once for the outcome and the metadata, with the same
/// rule as the MDM and XDM, so that a report never says `converted` for a document whose MDM says
/// `DESTDMP` = `N`.
fn decided_flags(flags: &document::flags::MetaDmpFlags, config: &Config) -> DecidedFlags {
    DecidedFlags::decide(flags, &config.dmp)
}

/// A document the sender left without `DESTDMP` while the configuration says `dmp.dest_dmp =
/// false` is `excluded` (`DMP_OPPOSITION`), as one sent with `DESTDMP` = `N` (which
/// [`document::read`] excludes itself).
fn decide_destination<'a>(request: Request<'a>, config: &Config) -> Request<'a> {
    let flags = match &request {
        Request::Document(d) => &d.flags,
        Request::Received(r) => &r.flags,
        Request::Deletion { .. } | Request::Excluded(_) => return request,
    };
    if decided_flags(flags, config).get("DESTDMP") == Some(false) {
        Request::Excluded(Finding::new(
            ReasonCode::DmpOpposition,
            flags.dest_dmp_path.clone().unwrap_or_default(),
            "no DESTDMP flag, and dmp.dest_dmp = false in the configuration: not for the DMP",
        ))
    } else {
        request
    }
}

/// The blocking codes that say only that PID's identity is not (yet) complete or qualified:
/// the only ones the identity recorded from ADT for the same IPP may stand in for. Every other
/// one is PID saying something *against* its INS (`IDENTITY_DOUBTFUL`: `DOUT`, `FICT` …;
/// `INS_CONFLICT`; `NIR_*_MISMATCH`; an invalid INS): issue 3, "attributes such as `DOUT`,
/// `FICT` forbid using the INS whatever the status" — no registry overrides that.
const REPLACEABLE_BY_REGISTRY: [ReasonCode; 3] = [
    ReasonCode::IdentityNotQualified,
    ReasonCode::TraitMissing,
    ReasonCode::InsMissing,
];

/// Where PID contradicts the identity recorded from ADT for its IPP (`IDENTITY_CONFLICT`): a
/// well-formed INS that is another one, another sex, another birth date. Such a document may be
/// another patient filed under the IPP: it waits for a human, whatever the registry says.
/// Traits PID leaves empty contradict nothing; names are not compared (spellings differ
/// legitimately: the recorded ones are written). Details never carry the values.
fn contradictions(pid: &identity::Patient<'_>, recorded: &identity::Patient<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let well_formed = |i: &&identity::Ins<'_>| i.nir().is_some_and(|n| n.has_valid_key());
    if let (Some(sent), Some(known)) = (pid.ins.as_ref().filter(well_formed), &recorded.ins)
        && sent.value.trim() != known.value.trim()
    {
        out.push(Finding::new(
            ReasonCode::IdentityConflict,
            format!("{}.1", sent.path()),
            "another INS than the one recorded for this IPP from the patient administration \
             system (ADT): the document may belong to another patient",
        ));
    }
    let given = |v: &Option<Cow<'_, str>>| {
        v.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty() && *t != "\"\"")
            .map(str::to_owned)
    };
    if let (Some(sent), Some(known)) = (given(&pid.sex), given(&recorded.sex))
        && !sent.eq_ignore_ascii_case(&known)
    {
        out.push(Finding::new(
            ReasonCode::IdentityConflict,
            "PID-8",
            "another sex than the one recorded for this IPP from the patient administration \
             system (ADT)",
        ));
    }
    // Dates of different precision are compared on the digits both give (at most the day).
    if let (Some(sent), Some(known)) = (given(&pid.birth_date), given(&recorded.birth_date)) {
        let n = sent.len().min(known.len()).min(8);
        if sent.get(..n) != known.get(..n) {
            out.push(Finding::new(
                ReasonCode::IdentityConflict,
                "PID-7",
                "another birth date than the one recorded for this IPP from the patient \
                 administration system (ADT)",
            ));
        }
    }
    out
}

/// The CDA `recordTarget` model from the patient read by the identity gate. Traits that are
/// missing are empty (only a usable identity is ever written into a document).
pub fn record_target<'a>(p: &identity::Patient<'a>) -> cda::Patient<'a> {
    let or_empty = |v: &Option<Cow<'a, str>>| v.clone().unwrap_or_default();
    cda::Patient {
        ins: p.ins.as_ref().map(|i| i.value.clone()).unwrap_or_default(),
        ins_oid: p
            .ins
            .as_ref()
            .map(|i| Cow::Borrowed(i.oid.oid()))
            .unwrap_or_default(),
        ipp: p.ipp.as_ref().map(|i| cda::model::Ipp {
            value: i.value.clone(),
            oid: i.root.clone(),
        }),
        birth_family: or_empty(&p.birth_name),
        birth_given_first: or_empty(&p.first_given_name),
        birth_given_names: or_empty(&p.given_names),
        used_family: p.used_name.clone(),
        used_given: p.used_given_name.clone(),
        birth_time: or_empty(&p.birth_date),
        sex: or_empty(&p.sex),
        birthplace_code: or_empty(&p.birthplace_code),
        birthplace_city: p.birthplace_city.clone(),
        address: p.address.as_ref().map(|a| cda::model::Address {
            street: or_empty(&a.street),
            street_name: or_empty(&a.street_name),
            house_number: or_empty(&a.house_number),
            other: or_empty(&a.other_designation),
            city: or_empty(&a.city),
            postal_code: or_empty(&a.postal_code),
            country: or_empty(&a.country),
        }),
    }
}

/// Converts a document message (MDM^T02/T10/T04, ORU^R01) whose patient has passed the identity
/// gate: deletion → `deleted`, `DESTDMP` = `N` → `excluded`, a CDA received already built →
/// passed on unchanged after its `recordTarget` is checked against the patient (another patient →
/// `held`, `DOCUMENT_IDENTITY_MISMATCH`), otherwise the CDA is written → `converted`. Every
/// problem of the message → `rejected` with all its findings. Pure: no I/O.
pub fn convert_document(
    msg: &Message<'_>,
    header: MessageHeader,
    patient: &cda::Patient<'_>,
    config: &Config,
) -> Conversion {
    match document::read(msg, config).map(|r| decide_destination(r, config)) {
        Ok(request) => complete(msg, None, request, header, patient, config, &Emit::NONE),
        Err(findings) => Conversion::with(Outcome::Rejected, header, findings),
    }
}

/// What becomes of a request read from a message whose patient may be used, with the artefacts
/// `emit` asks for. `identity_source` is the message whose PID the patient was read from when it
/// is not `msg` (an identity recorded from ADT): the artefacts carry that PID.
fn complete(
    msg: &Message<'_>,
    identity_source: Option<&Message<'_>>,
    request: Request<'_>,
    header: MessageHeader,
    patient: &cda::Patient<'_>,
    config: &Config,
    emit: &Emit,
) -> Conversion {
    // What a document's artefacts need of the request, before it is consumed (a deletion's
    // are made below from its id; an excluded document has none).
    let (action, parent_id) = match &request {
        Request::Document(d) => (d.action, d.parent_id.clone()),
        Request::Received(r) => (r.action, r.parent_id.clone()),
        Request::Deletion { .. } | Request::Excluded(_) => (Action::New, None),
    };
    let sources = dmp::Sources {
        message: msg,
        identity: identity_source,
    };
    let converted = match request {
        Request::Deletion { document_id, .. } => {
            let mut c = Conversion::with(Outcome::Deleted, header, Vec::new());
            c.name_key = Some(document_id.clone());
            let artefacts = dmp::deletion_artefacts(&sources, &document_id, config, emit);
            c.deletion = Some(Deletion {
                document_id,
                artefacts: artefacts.into_iter().map(Artefact::from).collect(),
            });
            return c;
        }
        Request::Excluded(finding) => {
            return Conversion::with(Outcome::Excluded, header, vec![finding]);
        }
        Request::Document(doc) => written_document(&doc, patient, config),
        Request::Received(received) => received_document(*received, patient, config),
    };
    let with_artefacts = converted.and_then(|(cda, metadata)| {
        let doc = dmp::Converted {
            cda: &cda,
            action,
            parent_id: parent_id.as_deref(),
            patient_id: &metadata.patient_id,
        };
        let artefacts = dmp::document_artefacts(&sources, &doc, config, emit).map_err(|e| {
            Finding::new(
                ReasonCode::ContentInvalid,
                "OBX-5.5",
                format!("the DMP artefacts (--emit) cannot be made: {e}"),
            )
        })?;
        Ok((cda, metadata, artefacts))
    });
    match with_artefacts {
        Ok((cda, metadata, artefacts)) => {
            let mut c = Conversion::with(Outcome::Converted, header, Vec::new());
            c.name_key = Some(metadata.unique_id.clone());
            c.document = Some(ConvertedDocument {
                cda,
                metadata,
                artefacts: artefacts.into_iter().map(Artefact::from).collect(),
            });
            c
        }
        Err(finding) => {
            let outcome = finding.code.outcome().unwrap_or(Outcome::Rejected);
            Conversion::with(outcome, header, vec![finding])
        }
    }
}

/// Writes the CDA of a document request.
fn written_document(
    doc: &DocumentRequest<'_>,
    patient: &cda::Patient<'_>,
    config: &Config,
) -> Result<(Vec<u8>, DocumentMetadata), Finding> {
    let site = cda::Site::new(config).map_err(|e| {
        Finding::new(
            ReasonCode::UnsupportedMessage,
            "",
            format!("configuration {e}"),
        )
    })?;
    let content_len = match &doc.content {
        Content::Base64 { data, .. } => data.len(),
        Content::Text(t) => t.len() / 3 * 4 + 4,
    };
    let mut out = Vec::with_capacity(content_len + 8 * 1024);
    cda::write_document(doc, patient, &site, &mut out)?;
    let media_type = doc.content.media_type().as_str();
    let metadata = DocumentMetadata {
        type_code: doc.doc_type.code.to_owned(),
        class_code: doc.doc_type.class.map_or("", |c| c.code).to_owned(),
        format_code: terminology::format_code_for_media_type(media_type)
            .map_or("", |f| f.code)
            .to_owned(),
        confidentiality: std::iter::once(doc.confidentiality.code)
            .chain(decided_flags(&doc.flags, config).visibility_codes())
            .map(str::to_owned)
            .collect(),
        patient_id: patient.xds_patient_id(),
        unique_id: doc.id.clone(),
        set_id: doc.set_id.clone(),
        version: doc.version,
    };
    Ok((out, metadata))
}

/// Checks a CDA received already built and reads its metadata; the CDA is passed on as received
/// (moved, not copied).
fn received_document(
    doc: ReceivedRequest,
    patient: &cda::Patient<'_>,
    config: &Config,
) -> Result<(Vec<u8>, DocumentMetadata), Finding> {
    let xml = &doc.xml;
    let invalid = |detail: String| Finding::new(ReasonCode::ContentInvalid, "OBX-5.5", detail);
    let received = ReceivedCda::read(xml).map_err(|e| invalid(format!("the CDA received: {e}")))?;
    if !received.names_patient(patient, &config.oids.ipp_root) {
        return Err(Finding::new(
            ReasonCode::DocumentIdentityMismatch,
            "OBX-5.5",
            "the recordTarget of the CDA received names another patient than PID",
        ));
    }
    let doc_type = terminology::document_type(received.code.trim())
        .filter(|t| t.class.is_some())
        .ok_or_else(|| {
            Finding::new(
                ReasonCode::DocumentTypeUnknown,
                "OBX-5.5",
                format!(
                    "the CDA received has the type {:?}, not a JDV_J07 code with a class",
                    received.code
                ),
            )
        })?;
    let format = received
        .format_code()
        .ok_or_else(|| invalid("the CDA received has a body of unknown media type".into()))?;
    let confidentiality = if received.confidentiality.trim().is_empty() {
        doc.confidentiality.code
    } else {
        received.confidentiality.trim()
    };
    let unique_id = received.id.unique_id();
    // The set header (README « The CDA documents »): a CDA that carries its
    // setId keeps it, and its versionNumber (dmpfeed's version when it has none). Without a
    // setId, dmpfeed writes the set header it writes in its own CDAs (CI-SIS makes setId and
    // versionNumber mandatory): a new document's set is its own id, version 1 unless the CDA
    // says another; a replacement's is the replaced document's (TXA-13 / OBR-3, from the
    // registry), at dmpfeed's version of the chain (a versionNumber received is replaced), with
    // a relatedDocument RPLC naming the replaced document when the CDA has none. The report's
    // metadata is what the CDA then says.
    let (set_id, version, replaces) = match (&received.set_id, &doc.parent_id) {
        (Some(s), _) => (s.clone(), received.version.unwrap_or(doc.version), None),
        (None, Some(parent)) => {
            let set_id = cda::received::InstanceId {
                root: doc.set_id.clone(),
                extension: String::new(),
            };
            (set_id, doc.version, Some(parent.as_str()))
        }
        (None, None) => (
            received.id.clone(),
            received.version.unwrap_or(doc.version),
            None,
        ),
    };
    let xml = received.with_set_header(
        doc.xml,
        cda::received::SetHeader {
            set_id: &set_id,
            version,
            replaces,
        },
    );
    let set_id = set_id.unique_id();
    let metadata = DocumentMetadata {
        type_code: doc_type.code.to_owned(),
        class_code: doc_type.class.map_or("", |c| c.code).to_owned(),
        format_code: format.code.to_owned(),
        confidentiality: std::iter::once(confidentiality.to_owned())
            .chain(
                decided_flags(&doc.flags, config)
                    .visibility_codes()
                    .map(str::to_owned),
            )
            .collect(),
        patient_id: patient.xds_patient_id(),
        set_id,
        unique_id,
        version,
    };
    Ok((xml, metadata))
}

/// The first field longer than `limits.max_field_bytes` (decoded UTF-8 bytes, escapes
/// included), named by its path (`OBX[2]-5`). Only segments longer than the limit are split
/// into fields: a field is never longer than its segment.
fn oversize_field(msg: &Message<'_>, max: u64) -> Option<Finding> {
    for (i, seg) in msg.segments().enumerate() {
        if seg.raw().len() as u64 <= max {
            continue;
        }
        let Some((n, len)) = seg
            .fields()
            .map(|f| f.raw().len())
            .enumerate()
            .find(|&(_, len)| len as u64 > max)
        else {
            continue;
        };
        let id = seg.id();
        let occurrence = msg.segments().take(i).filter(|s| s.id() == id).count() + 1;
        let path = if occurrence > 1 {
            format!("{id}[{occurrence}]-{}", n + 1)
        } else {
            format!("{id}-{}", n + 1)
        };
        return Some(Finding::new(
            ReasonCode::MessageTooLarge,
            path.clone(),
            format!("{path} is {len} bytes long (limit {max}, limits.max_field_bytes)"),
        ));
    }
    None
}

fn defect_finding(defect: FrameDefect, len: usize, config: &Config) -> Finding {
    match defect {
        FrameDefect::NotHl7 | FrameDefect::UnterminatedMllp => {
            Finding::new(ReasonCode::Hl7Syntax, "", defect.describe(len))
        }
        FrameDefect::TooLarge { size } => too_large(size, config.limits.max_message_bytes),
    }
}

fn too_large(size: u64, limit: u64) -> Finding {
    Finding::new(
        ReasonCode::MessageTooLarge,
        "",
        format!("message of {size} bytes (limit {limit}, limits.max_message_bytes)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Charset;

    #[test]
    fn message_header_reads_what_the_hl7_paths_name() {
        // Escapes decoded, first repetition only, component 1 of MSH-11/12; absent fields empty.
        for text in [
            "MSH|^~\\&|DPI\\T\\X^1.2.3^ISO~OTHER|CHU|PFI|CHU|20240101||MDM^T02^MDM_T02|C\\F\\1|P^T|2.6^FRA\r",
            "MSH|^~\\&|A||||20240101||ORU^R01|\r",
            "MSH#$%!@#A$B#F##R#20240101##ORU$R01#3#T#2.5\r",
        ] {
            let msg = Message::parse(text, Charset::Utf8).unwrap();
            let get = |path: &str| msg.get(path).unwrap().unwrap_or_default().into_owned();
            let h = MessageHeader::read(&msg);
            assert_eq!(
                [
                    &h.sending_application,
                    &h.sending_facility,
                    &h.receiving_application,
                    &h.receiving_facility,
                    &h.control_id,
                    &h.processing_id,
                    &h.version,
                ],
                [
                    &get("MSH-3"),
                    &get("MSH-4"),
                    &get("MSH-5"),
                    &get("MSH-6"),
                    &get("MSH-10"),
                    &get("MSH-11.1"),
                    &get("MSH-12.1"),
                ],
                "{text}"
            );
        }
    }
}
