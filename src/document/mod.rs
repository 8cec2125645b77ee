//! A document message (MDM^T02/T10/T04, ORU^R01 of the CI-SIS volet « Transmission de documents
//! CDA en HL7v2 » 2.1) read into a plain [`Request`]: what the sender asks (a new document, a
//! replacement, a deletion, or nothing for the DMP) and, for a document, everything its CDA needs
//! except the patient (the identity gate's business, `identity`).
//!
//! Each CDA item comes from the first of its HL7 sources that is present (issue 4, table):
//! `id` TXA-12 / OBR-3 / MSH-10 ([`ids`]); `code` TXA-2 / OBR-4 / OBX-3 (JDV_J07, else the
//! configured `document.type_map`); `effectiveTime` TXA-6 / TXA-4 / OBX-14 / MSH-7; author TXA-9 /
//! TXA-5 / OBR-32 / PRT `SB` / PV1-7 / the configured default; legal authenticator TXA-22, else
//! the author; service event TXA-4 / OBR-7 … OBR-8; encounter PV1-19, PV1-44 … PV1-45.
//!
//! Every problem is reported at once, each a [`Finding`] with its HL7 path. This module reads
//! HL7 only through the `hl7` views and knows nothing of CDA XML.

pub mod content;
pub mod event;
pub mod flags;
pub mod ids;
pub mod person;
pub mod time;

use crate::config::Config;
use crate::hl7::{Field, Message, Segment};
use crate::reason::{Finding, ReasonCode};
use crate::terminology::{self, Coded, DocumentType};
use content::{ContentError, EdType, MediaType};
use event::{Action, MessageKind};
use flags::MetaDmpFlags;
use ids::{EntityId, KnownParent, Sender};
use person::{Person, PersonParts};
use std::borrow::Cow;
use time::Ts;

pub use event::message_kind;

/// What a document message asks for.
#[derive(Debug, Clone)]
pub enum Request<'a> {
    /// A new document or a new version (T02, T10, ORC-1 `NW`/`RO`).
    Document(Box<DocumentRequest<'a>>),
    /// A CDA built by the DPI (`^text^XML^Base64^…`), to be checked and passed on as it is: the
    /// message's own type, times and author are not needed (the CDA has its own).
    Received(Box<ReceivedRequest>),
    /// A deletion (T04, ORC-1 `CA`): the id of the document deleted (TXA-12 for an MDM, as in
    /// the ANS example; OBR-3 for an ORU), resolved as [`ids::document_oid`] resolves ids;
    /// `sent_id` is that identifier as sent ([`EntityId::as_sent`]).
    Deletion {
        document_id: String,
        sent_id: String,
    },
    /// `DESTDMP` = `N`: the document must not reach the DMP (`DMP_OPPOSITION`).
    Excluded(Finding),
}

impl Request<'_> {
    /// The id of the document the request is about (the CDA id, or the deleted document's),
    /// when known before the CDA is written.
    pub fn document_id(&self) -> Option<&str> {
        match self {
            Request::Document(d) => Some(&d.id),
            Request::Received(r) => Some(&r.id),
            Request::Deletion { document_id, .. } => Some(document_id),
            Request::Excluded(_) => None,
        }
    }

    /// The document's own identifier as sent (TXA-12 / OBR-3, [`EntityId::as_sent`]); `None`
    /// when the message gave none (the id was derived from MSH-10) or for an excluded document.
    pub fn sent_id(&self) -> Option<&str> {
        match self {
            Request::Document(d) => d.sent_id.as_deref(),
            Request::Received(r) => r.sent_id.as_deref(),
            Request::Deletion { sent_id, .. } => Some(sent_id),
            Request::Excluded(_) => None,
        }
    }
}

/// Everything the CDA of one document needs, except the patient.
#[derive(Debug, Clone)]
pub struct DocumentRequest<'a> {
    pub kind: MessageKind,
    /// [`Action::New`] or [`Action::Replace`].
    pub action: Action,
    /// The CDA `id`: a pure OID.
    pub id: String,
    /// The identifier `id` was resolved from, as sent (see [`Request::sent_id`]).
    pub sent_id: Option<String>,
    /// The replaced document's id (`relatedDocument typeCode="RPLC"`), for a replacement.
    pub parent_id: Option<String>,
    pub set_id: String,
    pub version: u32,
    pub doc_type: &'static DocumentType,
    /// `title`: OBX-3.2 / TXA-2.2 when given, else the J07 displayName.
    pub title: Cow<'a, str>,
    pub effective_time: Ts,
    /// `confidentialityCode` from TXA-18: `V`, `R`, else `N` (JDV_HL7_Confidentiality_CISIS).
    pub confidentiality: &'static Coded,
    pub author: Person<'a>,
    /// `assignedAuthor/code` (JDV_J01) when known (the configured default author's).
    pub author_specialty: Option<&'static Coded>,
    pub legal_authenticator: Person<'a>,
    pub legal_time: Ts,
    pub service_start: Ts,
    pub service_end: Option<Ts>,
    pub encounter: Encounter<'a>,
    pub content: Content<'a>,
    pub flags: MetaDmpFlags,
    /// PRT with PRT-4 `SB` (send by): the sender the DMP platform's VIHF token needs.
    pub sender: Option<Person<'a>>,
}

impl DocumentRequest<'_> {
    /// Applies what dmpfeed's registry knows of the replaced document (set id and version).
    pub fn set_known_parent(&mut self, known: &KnownParent) {
        let (set_id, version) =
            ids::set_id_and_version(&self.id, self.parent_id.as_deref(), Some(known));
        self.set_id = set_id;
        self.version = version;
    }
}

/// A CDA received already built, decoded, with what the message says about it.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub kind: MessageKind,
    pub action: Action,
    /// TXA-12 / OBR-3 / MSH-10 resolved as for a written CDA (the CDA's own `id` is reported).
    pub id: String,
    /// The identifier `id` was resolved from, as sent (see [`Request::sent_id`]).
    pub sent_id: Option<String>,
    pub parent_id: Option<String>,
    /// What the set id and version would be (used when the CDA has no `setId` / `versionNumber`).
    pub set_id: String,
    pub version: u32,
    /// TXA-18 (used when the CDA has no `confidentialityCode`).
    pub confidentiality: &'static Coded,
    pub flags: MetaDmpFlags,
    pub xml: Vec<u8>,
}

/// `componentOf/encompassingEncounter`.
#[derive(Debug, Clone, Default)]
pub struct Encounter<'a> {
    /// PV1-19 visit number as `(root, extension)`, when its assigning authority has an OID.
    pub id: Option<(Cow<'a, str>, Cow<'a, str>)>,
    /// PV1-44 admit date/time.
    pub start: Option<Ts>,
    /// PV1-45 discharge date/time.
    pub end: Option<Ts>,
}

/// The document content.
#[derive(Debug, Clone)]
pub enum Content<'a> {
    /// Base64 of a PDF, RTF, JPEG or TIFF, validated, borrowed from the message.
    Base64 {
        media_type: MediaType,
        data: Cow<'a, str>,
    },
    /// Narrative OBX lines joined (`text/plain`).
    Text(String),
}

impl Content<'_> {
    /// The `nonXMLBody/text/@mediaType`.
    pub fn media_type(&self) -> MediaType {
        match self {
            Content::Base64 { media_type, .. } => *media_type,
            Content::Text(_) => MediaType::PlainText,
        }
    }
}

/// What the document OBX holds.
enum Read<'a> {
    Content(Content<'a>),
    Cda(Vec<u8>),
}

/// The segments a document message is read from, found in one pass.
#[derive(Default)]
struct Parts<'a> {
    msh: Fields<'a>,
    orc: Option<Fields<'a>>,
    obr: Option<Fields<'a>>,
    txa: Option<Fields<'a>>,
    pv1: Option<Fields<'a>>,
    sender: Option<Segment<'a>>,
    /// The document OBX segments: one ED, or narrative lines.
    document: Vec<DocumentObx<'a>>,
    /// The first non-flag OBX, when its value type cannot carry a document.
    unusable: Option<(usize, Segment<'a>)>,
    flags: MetaDmpFlags,
}

impl<'a> Parts<'a> {
    fn collect(msg: &Message<'a>) -> Parts<'a> {
        let mut p = Parts {
            msh: Fields::of(&msg.msh()),
            // At most one per segment; narrative documents have dozens.
            document: Vec::with_capacity(msg.len()),
            ..Parts::default()
        };
        let mut obx_n = 0;
        // Once an ED document or a non-narrative OBX is seen, later non-flag OBX are not part
        // of the document (an ORU may carry the same document twice, N1 then N3).
        let mut closed = false;
        let mut flag_test = FlagTest::default();
        for seg in msg.segments() {
            match seg.id() {
                "ORC" if p.orc.is_none() => p.orc = Some(Fields::of(&seg)),
                "OBR" if p.obr.is_none() => p.obr = Some(Fields::of(&seg)),
                "TXA" if p.txa.is_none() => p.txa = Some(Fields::of(&seg)),
                "PV1" if p.pv1.is_none() => p.pv1 = Some(Fields::of(&seg)),
                "PRT" if p.sender.is_none() && text(seg.field(4), 1).eq_ignore_ascii_case("SB") => {
                    p.sender = Some(seg)
                }
                "OBX" => {
                    obx_n += 1;
                    let fields = ObxFields::of(&seg);
                    if flag_test.is_flag(fields.get(3)) {
                        p.flags.record_fields(fields.get(3), fields.get(5), obx_n);
                    } else if !closed {
                        let value_type = raw(fields.get(2), 1);
                        let obx = DocumentObx { n: obx_n, fields };
                        if content::is_narrative(value_type) {
                            p.document.push(obx);
                        } else if value_type.trim() == "ED" && p.document.is_empty() {
                            p.document.push(obx);
                            closed = true;
                        } else {
                            if p.document.is_empty() {
                                p.unusable = Some((obx_n, seg));
                            }
                            closed = true;
                        }
                    }
                }
                _ => {}
            }
        }
        p
    }

    fn is_ed(&self) -> bool {
        self.document
            .first()
            .is_some_and(|d| raw(d.fields.get(2), 1).trim() == "ED")
    }

    /// Field `n` of the document OBX (the first one, for narrative lines).
    fn document_field(&self, n: usize) -> Option<Field<'a>> {
        self.document.first().and_then(|d| d.fields.get(n))
    }
}

/// [`flags::is_flag_observation`] remembering its last answer: the narrative lines of a
/// document repeat the same OBX-3, and comparing it with the previous one costs a fraction of
/// splitting it into components to read OBX-3.3 (−29 M instructions of the worker per 1,000
/// text messages of 50 lines). The answer depends on OBX-3's raw text alone (the delimiters
/// are the message's).
#[derive(Default)]
struct FlagTest<'a> {
    last: Option<(&'a str, bool)>,
}

impl<'a> FlagTest<'a> {
    fn is_flag(&mut self, obx3: Option<Field<'a>>) -> bool {
        let raw = obx3.map(|f| f.raw());
        match (self.last, raw) {
            (Some((last, answer)), Some(raw)) if last == raw => answer,
            _ => {
                let answer = flags::is_flag_observation(obx3);
                self.last = raw.map(|raw| (raw, answer));
                answer
            }
        }
    }
}

/// A document OBX and its 1-based OBX occurrence, its fields split once: a narrative document
/// has one per line, each read for OBX-2, OBX-3, OBX-5 and OBX-11, and `Segment::field(n)`
/// would walk the line from its start for each.
struct DocumentObx<'a> {
    n: usize,
    fields: ObxFields<'a>,
}

/// OBX-1 to OBX-14 (what a document OBX is read for), split in one pass without allocating:
/// a narrative document has dozens of OBX.
struct ObxFields<'a>([Option<Field<'a>>; ObxFields::KEPT]);

impl<'a> ObxFields<'a> {
    const KEPT: usize = 14;

    fn of(seg: &Segment<'a>) -> ObxFields<'a> {
        let mut fields = [None; Self::KEPT];
        for (slot, field) in fields.iter_mut().zip(seg.fields()) {
            *slot = Some(field);
        }
        ObxFields(fields)
    }

    /// Field `n` (1-based, at most [`ObxFields::KEPT`]).
    fn get(&self, n: usize) -> Option<Field<'a>> {
        n.checked_sub(1)
            .and_then(|i| self.0.get(i))
            .copied()
            .flatten()
    }
}

/// The fields of one segment, split once: TXA, OBR, PV1 … are read field by field, and
/// `Segment::field(n)` walks the segment from its start each time.
#[derive(Debug, Clone, Default)]
struct Fields<'a>(Vec<Field<'a>>);

impl<'a> Fields<'a> {
    fn of(seg: &Segment<'a>) -> Fields<'a> {
        // One allocation for most segments (OBX has 11 to 14 fields); the iterator cannot
        // tell its length in advance.
        let mut fields = Vec::with_capacity(16);
        fields.extend(seg.fields());
        Fields(fields)
    }

    fn get(&self, n: usize) -> Option<Field<'a>> {
        n.checked_sub(1).and_then(|i| self.0.get(i)).copied()
    }
}

/// Field `n` of an optional segment.
fn at<'a>(seg: &Option<Fields<'a>>, n: usize) -> Option<Field<'a>> {
    seg.as_ref().and_then(|f| f.get(n))
}

/// Reads a document message. `Err` holds every blocking finding (rejected, or for a message
/// that is not a document message, `UNSUPPORTED_MESSAGE`).
pub fn read<'a>(msg: &Message<'a>, config: &Config) -> Result<Request<'a>, Vec<Finding>> {
    let Some((kind, mdm_action)) = message_kind(msg) else {
        return Err(vec![Finding::new(
            ReasonCode::UnsupportedMessage,
            "MSH-9",
            "not a document message of the CI-SIS volet (MDM^T02, MDM^T10, MDM^T04, ORU^R01)",
        )]);
    };
    let parts = Parts::collect(msg);
    let mut findings = Vec::new();

    let action = settle(kind, mdm_action, &parts, &mut findings);

    let msh3 = parts.msh.get(3).map(|f| f.value()).unwrap_or_default();
    let msh4 = parts.msh.get(4).map(|f| f.value()).unwrap_or_default();
    let sender = Sender {
        application: &msh3,
        facility: &msh4,
    };
    let root = config.oids.document_root.as_str();
    if action == Some(Action::Delete) {
        return match own_identifier(kind, &parts) {
            Some((_, ei)) if findings.is_empty() => Ok(Request::Deletion {
                document_id: ids::document_oid(&ei, sender, root),
                sent_id: ei.as_sent(),
            }),
            Some(_) => Err(findings),
            None => {
                let path = if kind == MessageKind::Mdm {
                    "TXA-12"
                } else {
                    "OBR-3"
                };
                findings.push(Finding::new(
                    ReasonCode::Hl7Syntax,
                    path,
                    "a deletion must name the document it deletes",
                ));
                Err(findings)
            }
        };
    }

    // `rejected` wins over `excluded` (README, "Reason codes"): an event that disagrees with
    // ORC-1 or OBX-11 is reported even for a document not for the DMP.
    if parts.flags.excluded_from_dmp() {
        if !findings.is_empty() {
            return Err(findings);
        }
        let path = parts.flags.dest_dmp_path.clone().unwrap_or_default();
        return Ok(Request::Excluded(Finding::new(
            ReasonCode::DmpOpposition,
            path,
            "DESTDMP = N: the sender marked the document as not for the DMP",
        )));
    }

    // From here on, read as a new document or a replacement, reporting every problem.
    // An MDM T10 is read as a replacement even when ORC-1 or OBX-11 disagree, so that a
    // missing TXA-13 is reported too.
    let replacing = action == Some(Action::Replace)
        || (action.is_none() && mdm_action == Some(Action::Replace));
    let (id, parent_id) = identifiers(kind, replacing, &parts, sender, root, &mut findings);
    let sent_id = sent_identifier(kind, replacing, &parts);
    let (set_id, version) = ids::set_id_and_version(&id, parent_id.as_deref(), None);
    let content = match read_content(&parts, config, &mut findings) {
        Some(Read::Cda(xml)) => {
            return match action {
                Some(action) if findings.is_empty() => {
                    Ok(Request::Received(Box::new(ReceivedRequest {
                        kind,
                        action,
                        id,
                        sent_id,
                        parent_id,
                        set_id,
                        version,
                        confidentiality: confidentiality(at(&parts.txa, 18)),
                        flags: parts.flags,
                        xml,
                    })))
                }
                _ => Err(findings),
            };
        }
        Some(Read::Content(c)) => Some(c),
        None => None,
    };

    let doc_type = document_type(&parts, config, &mut findings);
    let title = title(&parts, doc_type);

    let before = findings.len();
    let mut times = Times {
        findings: &mut findings,
    };
    let effective_time = times.first(&[
        (at(&parts.txa, 6), "TXA-6"),
        (at(&parts.txa, 4), "TXA-4"),
        (parts.document_field(14), "OBX-14"),
        (parts.msh.get(7), "MSH-7"),
    ]);
    if effective_time.is_none() && times.findings.len() == before {
        times.findings.push(Finding::new(
            ReasonCode::Hl7Syntax,
            "MSH-7",
            "no creation time (TXA-6, TXA-4, OBX-14, MSH-7)",
        ));
    }
    let service_start = times.first(&[(at(&parts.txa, 4), "TXA-4"), (at(&parts.obr, 7), "OBR-7")]);
    let service_end = times.first(&[(at(&parts.obr, 8), "OBR-8")]);
    let encounter_start = times.first(&[(at(&parts.pv1, 44), "PV1-44")]);
    let encounter_end = times.first(&[(at(&parts.pv1, 45), "PV1-45")]);
    let legal_time_sent = at(&parts.txa, 22).and_then(|f| {
        let v = f.first().component(15)?.value();
        times.parse(&v, "TXA-22.15")
    });

    let author = author(&parts, config);
    if author.is_none() {
        findings.push(Finding::new(
            ReasonCode::AuthorMissing,
            "TXA-9",
            "no author with an identifier (TXA-9, TXA-5, OBR-32, PRT SB, PV1-7) and no \
             document.default_author configured",
        ));
    }

    let (
        Some(action),
        Some(doc_type),
        Some(effective_time),
        Some((author, author_specialty)),
        Some(content),
    ) = (action, doc_type, effective_time, author, content)
    else {
        return Err(findings);
    };
    if !findings.is_empty() {
        return Err(findings);
    }
    let legal_authenticator = legal_authenticator(&parts, &author);
    let confidentiality = confidentiality(at(&parts.txa, 18));
    let encounter = Encounter {
        id: visit_number(at(&parts.pv1, 19)),
        start: encounter_start,
        end: encounter_end,
    };
    let sender_person = parts
        .sender
        .as_ref()
        .and_then(|s| s.field(5))
        .and_then(|f| PersonParts::from_xcn(&f.first()).into_person());
    Ok(Request::Document(Box::new(DocumentRequest {
        kind,
        action,
        id,
        sent_id,
        parent_id,
        set_id,
        version,
        doc_type,
        title,
        effective_time,
        confidentiality,
        author,
        author_specialty,
        legal_authenticator,
        legal_time: legal_time_sent.unwrap_or(effective_time),
        service_start: service_start.unwrap_or(effective_time),
        service_end,
        encounter,
        content,
        flags: parts.flags,
        sender: sender_person,
    })))
}

/// The action, from the event, ORC-1 and the OBX-11 of the document OBX (only the first, an
/// ED; every narrative line); `None` with the disagreements recorded.
fn settle(
    kind: MessageKind,
    mdm_action: Option<Action>,
    parts: &Parts<'_>,
    findings: &mut Vec<Finding>,
) -> Option<Action> {
    let orc1 = raw(at(&parts.orc, 1), 1);
    let obx11: Vec<(usize, &str)> = parts
        .document
        .iter()
        .take(if parts.is_ed() { 1 } else { usize::MAX })
        .map(|d| (d.n, raw(d.fields.get(11), 1)))
        .collect();
    match event::settle(kind, mdm_action, orc1, &obx11) {
        Ok(a) => Some(a),
        Err(problems) => {
            findings.extend(
                problems
                    .into_iter()
                    .map(|p| Finding::new(ReasonCode::EventInconsistent, p.path, p.detail)),
            );
            None
        }
    }
}

/// The document's id and, for a replacement, the replaced document's id (`REPLACED_DOCUMENT_MISSING`
/// when there is none, or when it is the document itself).
fn identifiers(
    kind: MessageKind,
    replacing: bool,
    parts: &Parts<'_>,
    sender: Sender<'_>,
    root: &str,
    findings: &mut Vec<Finding>,
) -> (String, Option<String>) {
    let control_id = parts.msh.get(10).map(|f| f.value()).unwrap_or_default();
    let own = own_identifier(kind, parts).map(|(_, ei)| ids::document_oid(&ei, sender, root));
    let (id, parent) = match (kind, replacing) {
        // An ORU names the replaced result by OBR-3 (the id its NW got); the new version is
        // identified by this message (see ids.rs; the registry issue will refine it).
        (MessageKind::Oru, true) => (ids::control_id_oid(&control_id, sender, root), own),
        _ => {
            let id = own.unwrap_or_else(|| ids::control_id_oid(&control_id, sender, root));
            let parent = replacing
                .then(|| entity_id(at(&parts.txa, 13)))
                .filter(|ei| !ei.is_empty())
                .map(|ei| ids::document_oid(&ei, sender, root));
            (id, parent)
        }
    };
    if replacing {
        let path = match kind {
            MessageKind::Mdm => "TXA-13",
            MessageKind::Oru => "OBR-3",
        };
        match &parent {
            None => findings.push(Finding::new(
                ReasonCode::ReplacedDocumentMissing,
                path,
                "a replacement must name the document it replaces (parent document number)",
            )),
            Some(p) if *p == id => findings.push(Finding::new(
                ReasonCode::ReplacedDocumentMissing,
                path,
                "the replaced document is the document itself",
            )),
            Some(_) => {}
        }
    }
    (id, parent)
}

/// The identifier [`identifiers`] resolved the document's id from, as sent: its own TXA-12 /
/// OBR-3, except for an ORU correction, identified by MSH-10 (its OBR-3 names the corrected
/// result).
fn sent_identifier(kind: MessageKind, replacing: bool, parts: &Parts<'_>) -> Option<String> {
    if kind == MessageKind::Oru && replacing {
        return None;
    }
    own_identifier(kind, parts).map(|(_, ei)| ei.as_sent())
}

/// The legal authenticator: TXA-22, else the author. A bare TXA-22 id (the ANS examples send
/// `801234564895`) takes the author's name when it is the author's id.
fn legal_authenticator<'a>(parts: &Parts<'a>, author: &Person<'a>) -> Person<'a> {
    let legal = at(&parts.txa, 22).and_then(|f| PersonParts::from_xcn(&f.first()).into_person());
    match legal {
        Some(mut p) if p.family.is_empty() => {
            if p.id_root == author.id_root && p.id_extension == author.id_extension {
                p.family = author.family.clone();
                p.given = author.given.clone();
                p.titles = author.titles.clone();
            }
            p
        }
        Some(p) => p,
        None => author.clone(),
    }
}

/// The document's own identifier: TXA-12 (MDM), else OBR-3; with its path.
fn own_identifier(kind: MessageKind, parts: &Parts<'_>) -> Option<(&'static str, EntityId)> {
    let txa12 = match kind {
        MessageKind::Mdm => parts.txa.as_ref().map(|t| ("TXA-12", entity_id(t.get(12)))),
        MessageKind::Oru => None,
    };
    let obr3 = parts.obr.as_ref().map(|o| ("OBR-3", entity_id(o.get(3))));
    txa12.into_iter().chain(obr3).find(|(_, ei)| !ei.is_empty())
}

/// An EI field (TXA-12, TXA-13, OBR-3) read as an [`EntityId`], decoded and trimmed; the HL7
/// explicit null `""` is empty.
pub fn entity_id(field: Option<Field<'_>>) -> EntityId {
    let Some(rep) = field.map(|f| f.first()) else {
        return EntityId::default();
    };
    let t = |n| rep.text(n).trim().to_owned();
    let ei = EntityId {
        id: t(1),
        namespace: t(2),
        universal_id: t(3),
    };
    if ei.id == "\"\"" {
        EntityId::default()
    } else {
        ei
    }
}

/// The J07 type: the first of TXA-2, OBR-4, OBX-3 that is a J07 code (its coding system, when
/// given, must be LOINC or TRE_A05), else the first mapped by `document.type_map`.
fn document_type(
    parts: &Parts<'_>,
    config: &Config,
    findings: &mut Vec<Finding>,
) -> Option<&'static DocumentType> {
    let candidates: Vec<(&str, Cow<'_, str>, Cow<'_, str>)> = [
        (at(&parts.txa, 2), "TXA-2"),
        (at(&parts.obr, 4), "OBR-4"),
        (parts.document_field(3), "OBX-3"),
    ]
    .into_iter()
    .filter_map(|(field, path)| {
        let rep = field?.first();
        let code = rep.text(1);
        (!code.trim().is_empty()).then(|| (path, code, rep.text(3)))
    })
    .collect();
    let j07 = candidates.iter().find_map(|(_, code, system)| {
        let t = terminology::document_type(code.trim())?;
        system_matches(system.trim(), t).then_some(t)
    });
    let mapped = || {
        candidates.iter().find_map(|(_, code, _)| {
            let target = config.document.type_map.get(code.trim())?;
            terminology::document_type(target)
        })
    };
    let Some(t) = j07.or_else(mapped) else {
        let (path, detail) = match candidates.first() {
            Some((path, code, _)) => (
                *path,
                format!(
                    "document type {:?} is neither a JDV_J07 code nor mapped in document.type_map",
                    code.trim()
                ),
            ),
            None => ("TXA-2", "no document type (TXA-2, OBR-4, OBX-3)".to_owned()),
        };
        findings.push(Finding::new(ReasonCode::DocumentTypeUnknown, path, detail));
        return None;
    };
    if t.class.is_none() {
        findings.push(Finding::new(
            ReasonCode::DocumentTypeUnknown,
            candidates.first().map_or("TXA-2", |c| c.0),
            format!(
                "document type {} has no document class in ASS_X04 (XDS classCode)",
                t.code
            ),
        ));
        return None;
    }
    Some(t)
}

/// Whether an HL7 coding system (CWE-3) names the code system of a J07 type. Empty: yes.
fn system_matches(system: &str, t: &DocumentType) -> bool {
    if system.is_empty() || system == t.code_system {
        return true;
    }
    let s = system.to_ascii_uppercase();
    match t.code_system {
        terminology::LOINC_OID => matches!(s.as_str(), "LN" | "LOINC"),
        terminology::TRE_A05_OID => s.starts_with("TRE_A05") || s.starts_with("TRE-A05"),
        _ => false,
    }
}

fn title<'a>(parts: &Parts<'a>, doc_type: Option<&'static DocumentType>) -> Cow<'a, str> {
    let given = [parts.document_field(3), at(&parts.txa, 2)]
        .into_iter()
        .find_map(|field| {
            let t = field?.first().text(2);
            (!t.trim().is_empty()).then_some(t)
        });
    given.unwrap_or(Cow::Borrowed(doc_type.map_or("", |t| t.display)))
}

/// Reads timestamps, recording malformed ones as findings.
struct Times<'f> {
    findings: &'f mut Vec<Finding>,
}

impl Times<'_> {
    /// The first present timestamp among `(segment, field, path)`: a present but malformed one
    /// is a finding (and stops the search: the sender must fix it, not see it skipped).
    fn first(&mut self, sources: &[(Option<Field<'_>>, &str)]) -> Option<Ts> {
        for (field, path) in sources {
            let Some(f) = field else {
                continue;
            };
            let v = f
                .first()
                .component(1)
                .map(|c| c.value())
                .unwrap_or_default();
            if v.trim().is_empty() || v == "\"\"" {
                continue;
            }
            return self.parse(&v, path);
        }
        None
    }

    fn parse(&mut self, value: &str, path: &str) -> Option<Ts> {
        if value.trim().is_empty() {
            return None;
        }
        match Ts::parse(value) {
            Ok(ts) => Some(ts),
            Err(e) => {
                self.findings
                    .push(Finding::new(ReasonCode::Hl7Syntax, path, e.to_string()));
                None
            }
        }
    }
}

/// The author: the first source naming a person with an identifier, else the configured
/// default author.
fn author<'a>(parts: &Parts<'a>, config: &Config) -> Option<(Person<'a>, Option<&'static Coded>)> {
    let xcn = |field: Option<Field<'a>>| {
        field?
            .repetitions()
            .find_map(|r| PersonParts::from_xcn(&r).into_person())
    };
    let cnn = || {
        let c = at(&parts.obr, 32)?.first().component(1)?;
        PersonParts::from_cnn(&c).into_person()
    };
    let found = xcn(at(&parts.txa, 9))
        .or_else(|| xcn(at(&parts.txa, 5)))
        .or_else(cnn)
        .or_else(|| xcn(parts.sender.as_ref().and_then(|s| s.field(5))))
        .or_else(|| xcn(at(&parts.pv1, 7)));
    if let Some(p) = found {
        return Some((p, None));
    }
    let d = config.document.default_author.as_ref()?;
    let person = Person {
        id_root: Cow::Borrowed(person::OID_PS),
        id_extension: Cow::Owned(d.id.clone()),
        family: Cow::Owned(d.family.clone()),
        given: Cow::Owned(d.given.clone()),
        titles: [Cow::Borrowed(""), Cow::Borrowed("")],
    };
    Some((person, terminology::author_specialty(&d.specialty)))
}

fn confidentiality(txa18: Option<Field<'_>>) -> &'static Coded {
    let v = raw(txa18, 1).trim();
    let code = if v.eq_ignore_ascii_case("V") {
        "V"
    } else if v.eq_ignore_ascii_case("R") {
        "R"
    } else {
        "N"
    };
    terminology::cda_confidentiality(code).expect("N, R and V are in JDV_HL7_Confidentiality_CISIS")
}

fn visit_number<'a>(pv1_19: Option<Field<'a>>) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    let rep = pv1_19?.first();
    let id = rep.text(1);
    let root = rep.component(4)?.text(2);
    (!id.trim().is_empty() && crate::config::is_oid(root.trim())).then_some((root, id))
}

/// The content of the document OBX.
fn read_content<'a>(
    parts: &Parts<'a>,
    config: &Config,
    findings: &mut Vec<Finding>,
) -> Option<Read<'a>> {
    let max = config.limits.max_content_bytes;
    let mut fail = |code, path: String, detail: String| {
        findings.push(Finding::new(code, path, detail));
        None
    };
    if let Some((n, obx)) = &parts.unusable {
        return fail(
            ReasonCode::ContentInvalid,
            format!("OBX[{n}]-2"),
            format!(
                "value type {:?} cannot carry a document (ED, TX, FT or ST)",
                raw(obx.field(2), 1)
            ),
        );
    }
    let Some(DocumentObx { n, fields: first }) = parts.document.first() else {
        return fail(
            ReasonCode::ContentMissing,
            "OBX-5".into(),
            "no document OBX (every OBX is a MetaDMPMSS flag, or there is none)".into(),
        );
    };
    if !parts.is_ed() {
        // The text is about as long as the lines' raw OBX-5 (escapes only shorten it).
        let raw_len: usize = parts
            .document
            .iter()
            .filter_map(|d| d.fields.get(5))
            .map(|f| f.raw().len() + 1)
            .sum();
        let mut text =
            String::with_capacity(raw_len.min(usize::try_from(max).unwrap_or(usize::MAX)));
        for d in &parts.document {
            content::push_narrative_field(d.fields.get(5), &mut text);
            if text.len() as u64 > max {
                return fail(
                    ReasonCode::MessageTooLarge,
                    format!("OBX[{n}]-5"),
                    format!("narrative text over {max} bytes (limits.max_content_bytes)"),
                );
            }
        }
        if text.trim().is_empty() {
            return fail(
                ReasonCode::ContentMissing,
                format!("OBX[{n}]-5"),
                "the narrative document OBX hold no text".into(),
            );
        }
        return Some(Read::Content(Content::Text(text)));
    }
    let path = format!("OBX[{n}]-5");
    let Some(ed) = first.get(5).map(|f| f.first()) else {
        return fail(ReasonCode::ContentMissing, path, "OBX-5 is absent".into());
    };
    if ed.is_empty() {
        return fail(ReasonCode::ContentMissing, path, "OBX-5 is empty".into());
    }
    let encoding = ed.text(4);
    if !encoding.trim().eq_ignore_ascii_case("Base64") {
        return fail(
            ReasonCode::ContentInvalid,
            format!("OBX[{n}]-5.4"),
            format!(
                "encoding {:?} is not supported (Base64 expected)",
                encoding.trim()
            ),
        );
    }
    let (t, s) = (ed.text(2), ed.text(3));
    let Some(ed_type) = content::ed_type(&t, &s) else {
        return fail(
            ReasonCode::ContentInvalid,
            format!("OBX[{n}]-5.2"),
            format!(
                "media type {:?}/{:?} is not one of PDF, RTF, JPEG, TIFF or a CDA (text/XML)",
                t.trim(),
                s.trim()
            ),
        );
    };
    let data_path = format!("OBX[{n}]-5.5");
    let Some(data) = ed.component(5) else {
        return fail(
            ReasonCode::ContentMissing,
            data_path,
            "no ED data (OBX-5.5)".into(),
        );
    };
    let result = match ed_type {
        EdType::Body(media_type) => content::checked_base64(&data, media_type, max)
            .map(|data| Read::Content(Content::Base64 { media_type, data })),
        EdType::Cda => content::decode_base64(&data, max).and_then(|xml| {
            if looks_like_xml(&xml) {
                Ok(Read::Cda(xml))
            } else {
                Err(ContentError::Invalid(
                    "the content is announced as XML (a CDA) but is not XML".into(),
                ))
            }
        }),
    };
    match result {
        Ok(c) => Some(c),
        Err(ContentError::Missing(d)) => fail(ReasonCode::ContentMissing, data_path, d),
        Err(ContentError::Invalid(d)) => fail(ReasonCode::ContentInvalid, data_path, d),
        Err(ContentError::TooLarge(d)) => fail(ReasonCode::MessageTooLarge, data_path, d),
    }
}

/// An XML document starts with `<`, after an optional UTF-8 byte order mark and white space.
fn looks_like_xml(bytes: &[u8]) -> bool {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    b.iter()
        .find(|c| !c.is_ascii_whitespace())
        .is_some_and(|&c| c == b'<')
}

/// The raw (undecoded) text of component `c` of the first repetition; `""` when absent.
fn raw<'a>(field: Option<Field<'a>>, c: usize) -> &'a str {
    match (field, c) {
        (Some(f), 1) => f.first_component_raw(),
        _ => field.and_then(|f| f.component(c)).map_or("", |c| c.raw()),
    }
}

/// The decoded text of component `c` of the first repetition; `""` when absent.
fn text<'a>(field: Option<Field<'a>>, c: usize) -> Cow<'a, str> {
    field
        .and_then(|f| f.component(c))
        .map_or(Cow::Borrowed(""), |c| c.value())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Charset;

    fn sample(name: &str) -> String {
        let path = format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    fn sent_id(text: &str) -> Option<String> {
        let msg = Message::parse(text, Charset::Utf8).unwrap();
        let request = read(&msg, &Config::default()).unwrap();
        request.sent_id().map(str::to_owned)
    }

    #[test]
    fn the_id_as_sent_is_the_documents_own_identifier() {
        // ORU: OBR-3 (its EI-1 an OID, kept as the CDA id; EI-2 kept in the id as sent).
        let oru = sample("oru-r01-prescription-pdf.hl7");
        let whole = "1.2.250.1.999.1.2.3001^DPI-DEMO";
        assert_eq!(sent_id(&oru).as_deref(), Some(whole));
        // An ORU correction is identified by MSH-10; its OBR-3 names the corrected result.
        let correction = oru
            .replacen("ORC|NW|", "ORC|RO|", 1)
            .replace("||F|", "||C|");
        let msg = Message::parse(&correction, Charset::Utf8).unwrap();
        let request = read(&msg, &Config::default()).unwrap();
        assert!(matches!(&request, Request::Document(d) if d.parent_id.is_some()));
        assert_eq!(request.sent_id(), None);
        // A deletion: the deleted document's.
        let deletion = sample("oru-r01-deletion.hl7");
        assert!(sent_id(&deletion).is_some_and(|s| s.contains('^')));
        // MDM: TXA-12, a local id.
        let mdm = sample("mdm-t02-operative-pdf.hl7").replacen(
            "|1.2.250.1.999.1.2.1001|",
            "|DOC-A^DPI|",
            1,
        );
        assert_eq!(sent_id(&mdm).as_deref(), Some("DOC-A^DPI"));
    }
}
