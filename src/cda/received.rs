//! A CDA received already built by the DPI (`^text^XML^Base64^…`, the CI-SIS volet's own way):
//! it is passed on unchanged but for the set header it lacks ([`ReceivedCda::with_set_header`]),
//! so dmpfeed only reads what it must check and report — the header
//! items of the XDS metadata and the patient ids of `recordTarget/patientRole` — with quick-xml,
//! without building a tree and without expanding any entity.
//!
//! The same reading serves every CDA dmpfeed hands over (written or received): the DMP artefacts
//! (`dmp`) take their XDS metadata from the header of the CDA they carry, as the CI-SIS volet
//! « Transmission de documents CDA en HL7v2 » maps them (`mapping.md`, « Mapping XDS »):
//! `title`, `effectiveTime` (creationTime), `languageCode`, `author` (authorPerson,
//! authorInstitution, authorSpecialty, authorRole), `legalAuthenticator`,
//! `documentationOf/serviceEvent` (serviceStart/StopTime, practiceSettingCode),
//! `componentOf/…/healthCareFacility/code` (healthcareFacilityTypeCode) and
//! `relatedDocument/parentDocument/id` (the replaced document). Only the first `documentationOf`
//! is read; every `author` is.

use super::model::Patient;
use crate::terminology::{self, FormatCode};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

/// The INS OIDs (NIR, NIA, test NIR, demo NIR): an `id` under one of them names the patient
/// by INS (CI-SIS structuration minimale, CI-SISRecordTarget).
pub const INS_OIDS: [&str; 4] = [
    "1.2.250.1.213.1.4.8",
    "1.2.250.1.213.1.4.9",
    "1.2.250.1.213.1.4.10",
    "1.2.250.1.213.1.4.11",
];

/// XDS formatCode of a structured CDA with no CI-SIS model (JDV_J60 « Document non référencé
/// IHE ou CI-SIS »).
pub const FORMAT_CODE_NOT_REFERENCED: &str = "urn:asipSante:modelesHorsProfils:2011";

/// An instance identifier (`II`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceId {
    pub root: String,
    pub extension: String,
}

impl InstanceId {
    /// The XDS uniqueId form: `root`, or `root^extension` (IHE ITI TF-3 4.2.3.2.26).
    pub fn unique_id(&self) -> String {
        if self.extension.is_empty() {
            self.root.clone()
        } else {
            format!("{}^{}", self.root, self.extension)
        }
    }
}

/// A coded value of the header (`CE`/`CV`): code, code system, display name, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderCode {
    pub code: String,
    pub code_system: String,
    pub display: String,
}

/// A person of the header: the first `id` and the first `family` / `given` of the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderPerson {
    pub id: InstanceId,
    pub family: String,
    pub given: String,
}

/// An organisation of the header (`representedOrganization`): its first `id` and `name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOrganisation {
    pub id: InstanceId,
    pub name: String,
}

/// One `author`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderAuthor {
    /// `assignedAuthor/id` and `assignedAuthor/assignedPerson/name`.
    pub person: HeaderPerson,
    /// `assignedAuthor/code` (JDV_J01, XDS authorSpecialty).
    pub specialty: Option<HeaderCode>,
    /// `functionCode` (JDV_J47, XDS authorRole).
    pub function: Option<HeaderCode>,
    /// `assignedAuthor/representedOrganization` (XDS authorInstitution).
    pub organisation: Option<HeaderOrganisation>,
}

/// What dmpfeed reads of a received CDA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedCda {
    pub id: InstanceId,
    pub code: String,
    pub confidentiality: String,
    pub set_id: Option<InstanceId>,
    pub version: Option<u32>,
    pub template_ids: Vec<String>,
    /// `component/nonXMLBody/text/@mediaType`, for a non-structured body.
    pub non_xml_media_type: Option<String>,
    /// `recordTarget/patientRole/id`.
    pub patient_ids: Vec<InstanceId>,
    /// `code/@codeSystem` and `code/@displayName`.
    pub code_system: String,
    pub code_display: String,
    /// `title`, its text trimmed.
    pub title: String,
    /// `effectiveTime/@value` (a CDA TS).
    pub effective_time: String,
    /// `languageCode/@code`.
    pub language_code: String,
    pub authors: Vec<HeaderAuthor>,
    pub legal_authenticator: Option<HeaderPerson>,
    /// `documentationOf/serviceEvent/effectiveTime/low/@value` and `high/@value`.
    pub service_start: Option<String>,
    pub service_stop: Option<String>,
    /// `documentationOf/serviceEvent/performer/assignedEntity/representedOrganization/
    /// standardIndustryClassCode` (JDV_J04, XDS practiceSettingCode).
    pub practice_setting: Option<HeaderCode>,
    /// `componentOf/encompassingEncounter/location/healthCareFacility/code` (JDV_J02,
    /// XDS healthcareFacilityTypeCode).
    pub facility_type: Option<HeaderCode>,
    /// `relatedDocument/parentDocument/id`: the document this one replaces.
    pub parent_id: Option<InstanceId>,
    /// Where a missing `setId` / `versionNumber` / `relatedDocument` goes (CDA R2 header order:
    /// after `languageCode`, else `confidentialityCode`; a `versionNumber` after `setId`; a
    /// `relatedDocument` before `authorization`, `componentOf` and `component`), with the
    /// namespace prefix the header's elements use.
    anchor: Option<Anchor>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Anchor {
    /// Byte offset just after the element that precedes `setId`.
    before_set_id: Option<usize>,
    /// Byte offset just after `setId`.
    after_set_id: Option<usize>,
    /// Byte range of `versionNumber`.
    version: Option<(usize, usize)>,
    /// Byte offset of the first `authorization`, `componentOf` or `component`.
    before_related: Option<usize>,
    /// `""` or `"hl7:"`.
    prefix: String,
}

/// The set header a received CDA is to carry (see [`ReceivedCda::with_set_header`]).
#[derive(Debug, Clone, Copy)]
pub struct SetHeader<'a> {
    /// Written when the CDA has no `setId`.
    pub set_id: &'a InstanceId,
    /// The `versionNumber` value: written when missing, replacing a different one.
    pub version: u32,
    /// The document this one replaces: a `relatedDocument` RPLC naming it is written when the
    /// CDA has none.
    pub replaces: Option<&'a str>,
}

/// Where the text being read goes (the element whose text it is was opened at `depth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    Title,
    AuthorFamily,
    AuthorGiven,
    AuthorOrganisationName,
    LegalFamily,
    LegalGiven,
}

impl ReceivedCda {
    /// Reads the header of a CDA. `Err` when it is not well-formed XML or not a
    /// `ClinicalDocument`.
    pub fn read(xml: &[u8]) -> Result<ReceivedCda, String> {
        // quick-xml's reader is lenient (`&#x1;`, undefined entities, text outside the root…):
        // the document is passed on as it is, so it must be well-formed for whoever reads it next.
        super::wellformed::check(xml).map_err(|e| format!("not well-formed XML at {e}"))?;
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().check_end_names = true;
        let mut out = ReceivedCda::default();
        // Local names of the open elements, from ClinicalDocument down.
        let mut path: Vec<String> = Vec::new();
        let mut buf = Vec::new();
        let mut seen_root = false;
        // The text being collected, and the depth of the element that holds it.
        let mut capture: Option<(Capture, usize)> = None;
        loop {
            let start = reader.buffer_position() as usize;
            let event = reader.read_event_into(&mut buf).map_err(|e| {
                format!(
                    "not well-formed XML at byte {}: {e}",
                    reader.error_position()
                )
            })?;
            match event {
                Event::Start(e) => {
                    if path.is_empty() {
                        if seen_root || e.local_name().as_ref() != "ClinicalDocument" {
                            return Err("the root element is not ClinicalDocument".into());
                        }
                        seen_root = true;
                    }
                    out.element(&path, &e)?;
                    if capture.is_none() {
                        capture = out.capture(&path, &e).map(|c| (c, path.len()));
                    }
                    if path.len() == 1 {
                        out.mark_start(e.name().as_ref(), start);
                    }
                    path.push(e.local_name().as_ref().to_owned());
                }
                Event::Empty(e) => {
                    if path.is_empty() {
                        return Err("the root element is not ClinicalDocument".into());
                    }
                    out.element(&path, &e)?;
                    if path.len() == 1 {
                        out.mark_start(e.name().as_ref(), start);
                        out.mark(e.name().as_ref(), reader.buffer_position() as usize);
                    }
                }
                Event::End(e) => {
                    path.pop();
                    if path.len() == 1 {
                        out.mark(e.name().as_ref(), reader.buffer_position() as usize);
                    }
                    if capture.is_some_and(|(_, depth)| depth == path.len()) {
                        capture = None;
                    }
                }
                Event::Text(t) => {
                    if let Some(s) = capture.and_then(|(c, _)| out.text_of(c)) {
                        s.push_str(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(s) = capture.and_then(|(c, _)| out.text_of(c)) {
                        s.push_str(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some((c, _)) = capture {
                        let resolved = match r.resolve_char_ref() {
                            Ok(Some(ch)) => ch.to_string(),
                            _ => quick_xml::escape::resolve_predefined_entity(&r)
                                .ok_or_else(|| format!("unknown entity &{};", &*r))?
                                .to_owned(),
                        };
                        if let Some(s) = out.text_of(c) {
                            s.push_str(&resolved);
                        }
                    }
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        if !seen_root {
            return Err("no ClinicalDocument element".into());
        }
        if !path.is_empty() {
            return Err("the document ends inside an element".into());
        }
        if out.id.root.is_empty() {
            return Err("ClinicalDocument/id has no root".into());
        }
        out.title = out.title.trim().to_owned();
        for a in &mut out.authors {
            a.person.trim();
            if let Some(o) = &mut a.organisation {
                o.name = o.name.trim().to_owned();
            }
        }
        if let Some(p) = &mut out.legal_authenticator {
            p.trim();
        }
        Ok(out)
    }

    /// The XDS formatCode: from the `nonXMLBody` media type (ASS_A12), else from the first
    /// templateId of ASS_A11, else « Document non référencé IHE ou CI-SIS » (JDV_J60).
    pub fn format_code(&self) -> Option<&'static FormatCode> {
        match &self.non_xml_media_type {
            Some(m) => terminology::format_code_for_media_type(m.trim()),
            None => self
                .template_ids
                .iter()
                .find_map(|t| terminology::format_code_for_template(t.trim()))
                .or_else(|| terminology::format_code(FORMAT_CODE_NOT_REFERENCED)),
        }
    }

    /// Whether the CDA names this patient: every INS id it carries must be the patient's INS,
    /// every id under the patient's IPP root must be the IPP, and one of its ids must be the INS
    /// or the IPP (CI-SIS volet: « Le PID-3 doit être identique aux identifiants de patient
    /// portés par le document CDA »). `ipp_root` is the configured root of an IPP without OID.
    pub fn names_patient(&self, patient: &Patient<'_>, ipp_root: &str) -> bool {
        let ins = (patient.ins_oid.trim(), patient.ins.trim());
        let ipp = patient.ipp.as_ref().map(|i| {
            let root = i
                .oid
                .as_deref()
                .map(str::trim)
                .filter(|o| crate::config::is_oid(o))
                .unwrap_or(ipp_root);
            (root, i.value.trim())
        });
        let ids = &self.patient_ids;
        let ins_ok = ids
            .iter()
            .filter(|i| INS_OIDS.contains(&i.root.as_str()))
            .all(|i| (i.root.as_str(), i.extension.as_str()) == ins);
        let ipp_ok = ipp.is_none_or(|(root, value)| {
            ids.iter()
                .filter(|i| i.root == root)
                .all(|i| i.extension == value)
        });
        let named = ids.iter().any(|i| {
            let id = (i.root.as_str(), i.extension.as_str());
            id == ins || Some(id) == ipp
        });
        ins_ok && ipp_ok && named
    }

    /// Notes where a header element of ClinicalDocument starts (`qname` with its prefix).
    fn mark_start(&mut self, qname: &str, start: usize) {
        let local = qname.rsplit(':').next().unwrap_or(qname);
        let anchor = self.anchor.get_or_insert_with(Anchor::default);
        match local {
            "versionNumber" => anchor.version = Some((start, start)),
            "authorization" | "componentOf" | "component" if anchor.before_related.is_none() => {
                anchor.before_related = Some(start)
            }
            _ => {}
        }
    }

    /// Notes where a header element of ClinicalDocument ends (`qname` with its prefix).
    fn mark(&mut self, qname: &str, end: usize) {
        let (prefix, local) = match qname.find(':') {
            Some(i) => (&qname[..=i], &qname[i + 1..]),
            None => ("", qname),
        };
        let anchor = self.anchor.get_or_insert_with(Anchor::default);
        match local {
            "languageCode" => anchor.before_set_id = Some(end),
            "confidentialityCode" if anchor.before_set_id.is_none() => {
                anchor.before_set_id = Some(end)
            }
            "setId" => anchor.after_set_id = Some(end),
            "versionNumber" => {
                if let Some(v) = &mut anchor.version {
                    v.1 = end;
                }
                return;
            }
            _ => return,
        }
        anchor.prefix = prefix.to_owned();
    }

    /// The document with the set header `want` asks for: the `setId` it lacks, its
    /// `versionNumber` (added, or replaced when it says another version) and, for a replacement,
    /// the `relatedDocument` RPLC it lacks, each at its place in the header (CI-SIS structuration
    /// minimale makes `setId` and `versionNumber` mandatory; some DPIs omit them, as the ANS
    /// example CR_Radio_CDAN1_v1 does). Nothing else is touched; a document that already says
    /// all of it is returned as it is.
    pub fn with_set_header(&self, xml: Vec<u8>, want: SetHeader<'_>) -> Vec<u8> {
        let Some(anchor) = &self.anchor else {
            return xml;
        };
        let p = &anchor.prefix;
        let attr = |v: &str| quick_xml::escape::escape(crate::cda::xml::xml_safe(v)).into_owned();
        // (start, end, replacement), in document order.
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        let version_el = format!("<{p}versionNumber value=\"{}\"/>", want.version);
        let mut set_id_at = anchor.after_set_id;
        if self.set_id.is_none() {
            let Some(at) = anchor.before_set_id else {
                return xml;
            };
            let id = &want.set_id;
            let mut el = format!("<{p}setId root=\"{}\"", attr(&id.root));
            if !id.extension.is_empty() {
                el.push_str(&format!(" extension=\"{}\"", attr(&id.extension)));
            }
            el.push_str("/>");
            edits.push((at, at, el));
            set_id_at = Some(at);
        }
        match (self.version, anchor.version, set_id_at) {
            (Some(v), _, _) if v == want.version => {}
            (_, Some((start, end)), _) if start < end => edits.push((start, end, version_el)),
            (_, None, Some(at)) => edits.push((at, at, version_el)),
            _ => {}
        }
        if let (Some(parent), None, Some(at)) =
            (want.replaces, &self.parent_id, anchor.before_related)
        {
            edits.push((
                at,
                at,
                format!(
                    "<{p}relatedDocument typeCode=\"RPLC\"><{p}parentDocument><{p}id root=\"{}\"/>\
                     </{p}parentDocument></{p}relatedDocument>",
                    attr(parent)
                ),
            ));
        }
        if edits.is_empty() {
            return xml;
        }
        // Stable: at one offset, setId goes before versionNumber.
        edits.sort_by_key(|e| e.0);
        let mut out =
            Vec::with_capacity(xml.len() + edits.iter().map(|e| e.2.len()).sum::<usize>());
        let mut from = 0;
        for (start, end, insert) in edits {
            // The edits never overlap (each is at the edge of a different header element).
            let Some(kept) = xml.get(from..start) else {
                return xml;
            };
            out.extend_from_slice(kept);
            out.extend_from_slice(insert.as_bytes());
            from = end;
        }
        out.extend_from_slice(&xml[from..]);
        out
    }

    /// One element, `parents` being the local names of its ancestors from ClinicalDocument.
    fn element(&mut self, parents: &[String], e: &BytesStart<'_>) -> Result<(), String> {
        let name = e.local_name();
        let name = name.as_ref();
        let at = |p: &[&str]| under(parents, p);
        if at(&[DOC]) {
            match name {
                "id" => self.id = instance_id(e)?,
                "code" => {
                    let c = header_code(e)?;
                    (self.code, self.code_system, self.code_display) =
                        (c.code, c.code_system, c.display);
                }
                "confidentialityCode" => self.confidentiality = attr(e, "code")?,
                "setId" => self.set_id = Some(instance_id(e)?),
                "versionNumber" => self.version = attr(e, "value")?.trim().parse().ok(),
                "templateId" => self.template_ids.push(attr(e, "root")?),
                "effectiveTime" => self.effective_time = attr(e, "value")?.trim().to_owned(),
                "languageCode" => self.language_code = attr(e, "code")?.trim().to_owned(),
                "author" => self.authors.push(HeaderAuthor::default()),
                "legalAuthenticator" => {
                    self.legal_authenticator
                        .get_or_insert_with(Default::default);
                }
                _ => {}
            }
            return Ok(());
        }
        match name {
            "id" if at(&[DOC, "recordTarget", "patientRole"]) => {
                self.patient_ids.push(instance_id(e)?);
            }
            "text" if at(&[DOC, "component", "nonXMLBody"]) => {
                self.non_xml_media_type = Some(attr(e, "mediaType")?);
            }
            "functionCode" if at(&[DOC, "author"]) => {
                if let Some(a) = self.authors.last_mut() {
                    a.function = Some(header_code(e)?);
                }
            }
            "id" if at(&AUTHOR) => {
                if let Some(a) = self
                    .authors
                    .last_mut()
                    .filter(|a| a.person.id.root.is_empty())
                {
                    a.person.id = instance_id(e)?;
                }
            }
            "code" if at(&AUTHOR) => {
                if let Some(a) = self.authors.last_mut() {
                    a.specialty = Some(header_code(e)?);
                }
            }
            "id" if at(&AUTHOR_ORGANISATION) => {
                if let Some(a) = self.authors.last_mut() {
                    let org = a.organisation.get_or_insert_with(Default::default);
                    if org.id.root.is_empty() {
                        org.id = instance_id(e)?;
                    }
                }
            }
            "id" if at(&[DOC, "legalAuthenticator", "assignedEntity"]) => {
                if let Some(p) = self
                    .legal_authenticator
                    .as_mut()
                    .filter(|p| p.id.root.is_empty())
                {
                    p.id = instance_id(e)?;
                }
            }
            // The first documentationOf only: a value already read is kept.
            "low" | "high" if at(&[DOC, "documentationOf", "serviceEvent", "effectiveTime"]) => {
                let slot = if name == "low" {
                    &mut self.service_start
                } else {
                    &mut self.service_stop
                };
                if slot.is_none() {
                    *slot = Some(attr(e, "value")?.trim().to_owned()).filter(|v| !v.is_empty());
                }
            }
            "standardIndustryClassCode"
                if at(&PERFORMER_ORGANISATION) && self.practice_setting.is_none() =>
            {
                self.practice_setting = Some(header_code(e)?);
            }
            "code" if at(&FACILITY) => self.facility_type = Some(header_code(e)?),
            "id" if at(&[DOC, "relatedDocument", "parentDocument"]) => {
                self.parent_id = Some(instance_id(e)?);
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether the text of this element, opened under `parents`, is collected: the title, the
    /// first `family` and `given` of the author's and the legal authenticator's name, the first
    /// `name` of the author's organisation.
    fn capture(&self, parents: &[String], e: &BytesStart<'_>) -> Option<Capture> {
        let name = e.local_name();
        let at = |p: &[&str]| under(parents, p);
        let author = self.authors.last();
        let legal = self.legal_authenticator.as_ref();
        let empty = |s: Option<&String>| s.is_some_and(|s| s.is_empty());
        match name.as_ref() {
            "title" if at(&[DOC]) && self.title.is_empty() => Some(Capture::Title),
            "family" if at(&AUTHOR_NAME) && empty(author.map(|a| &a.person.family)) => {
                Some(Capture::AuthorFamily)
            }
            "given" if at(&AUTHOR_NAME) && empty(author.map(|a| &a.person.given)) => {
                Some(Capture::AuthorGiven)
            }
            "name"
                if at(&AUTHOR_ORGANISATION)
                    && author.is_some_and(|a| {
                        a.organisation.as_ref().is_none_or(|o| o.name.is_empty())
                    }) =>
            {
                Some(Capture::AuthorOrganisationName)
            }
            "family" if at(&LEGAL_NAME) && empty(legal.map(|p| &p.family)) => {
                Some(Capture::LegalFamily)
            }
            "given" if at(&LEGAL_NAME) && empty(legal.map(|p| &p.given)) => {
                Some(Capture::LegalGiven)
            }
            _ => None,
        }
    }

    /// The string a captured text goes to (`None` cannot happen: a capture only starts inside
    /// its element).
    fn text_of(&mut self, c: Capture) -> Option<&mut String> {
        match c {
            Capture::Title => Some(&mut self.title),
            Capture::AuthorFamily => self.authors.last_mut().map(|a| &mut a.person.family),
            Capture::AuthorGiven => self.authors.last_mut().map(|a| &mut a.person.given),
            Capture::AuthorOrganisationName => self
                .authors
                .last_mut()
                .map(|a| &mut a.organisation.get_or_insert_with(Default::default).name),
            Capture::LegalFamily => self.legal_authenticator.as_mut().map(|p| &mut p.family),
            Capture::LegalGiven => self.legal_authenticator.as_mut().map(|p| &mut p.given),
        }
    }
}

const DOC: &str = "ClinicalDocument";
const AUTHOR: [&str; 3] = [DOC, "author", "assignedAuthor"];
const AUTHOR_NAME: [&str; 5] = [DOC, "author", "assignedAuthor", "assignedPerson", "name"];
const AUTHOR_ORGANISATION: [&str; 4] = [DOC, "author", "assignedAuthor", "representedOrganization"];
const LEGAL_NAME: [&str; 5] = [
    DOC,
    "legalAuthenticator",
    "assignedEntity",
    "assignedPerson",
    "name",
];
const PERFORMER_ORGANISATION: [&str; 6] = [
    DOC,
    "documentationOf",
    "serviceEvent",
    "performer",
    "assignedEntity",
    "representedOrganization",
];
const FACILITY: [&str; 5] = [
    DOC,
    "componentOf",
    "encompassingEncounter",
    "location",
    "healthCareFacility",
];

/// True when the open elements are exactly `path`.
fn under(parents: &[String], path: &[&str]) -> bool {
    parents.len() == path.len() && parents.iter().zip(path).all(|(a, b)| a == b)
}

impl HeaderPerson {
    fn trim(&mut self) {
        self.family = self.family.trim().to_owned();
        self.given = self.given.trim().to_owned();
    }
}

fn header_code(e: &BytesStart<'_>) -> Result<HeaderCode, String> {
    Ok(HeaderCode {
        code: attr(e, "code")?.trim().to_owned(),
        code_system: attr(e, "codeSystem")?.trim().to_owned(),
        display: attr(e, "displayName")?.trim().to_owned(),
    })
}

fn instance_id(e: &BytesStart<'_>) -> Result<InstanceId, String> {
    Ok(InstanceId {
        root: attr(e, "root")?.trim().to_owned(),
        extension: attr(e, "extension")?.trim().to_owned(),
    })
}

/// An attribute's unescaped value, `""` when absent.
fn attr(e: &BytesStart<'_>, key: &str) -> Result<String, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute: {err}"))?;
        if a.key.local_name().as_ref() == key {
            return a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .map_err(|err| format!("bad attribute value: {err}"));
        }
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDA: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <templateId root="2.16.840.1.113883.2.8.2.1"/>
  <templateId root="1.3.6.1.4.1.19376.1.2.20"/>
  <id root="1.2.3.4" extension="X1"/>
  <code code="18748-4" codeSystem="2.16.840.1.113883.6.1"/>
  <confidentialityCode code="N"/>
  <setId root="1.2.3.3"/>
  <versionNumber value="2"/>
  <recordTarget><patientRole>
    <id root="1.2.250.1.213.1.4.8" extension="279035145418997"/>
    <id root="1.2.250.1.999.1.1" extension="100013"/>
    <patient><name><family>ROCHE</family></name></patient>
  </patientRole></recordTarget>
  <author><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="8"/></assignedAuthor></author>
  <component><nonXMLBody><text mediaType="application/pdf" representation="B64">JVBERi0=</text></nonXMLBody></component>
</ClinicalDocument>"#;

    #[test]
    fn header_and_patient_ids_are_read() {
        let r = ReceivedCda::read(CDA.as_bytes()).unwrap();
        assert_eq!(r.id.unique_id(), "1.2.3.4^X1");
        assert_eq!(r.code, "18748-4");
        assert_eq!(r.confidentiality, "N");
        assert_eq!(r.set_id.as_ref().map(|s| s.root.as_str()), Some("1.2.3.3"));
        assert_eq!(r.version, Some(2));
        assert_eq!(r.template_ids.len(), 2);
        assert_eq!(r.non_xml_media_type.as_deref(), Some("application/pdf"));
        let ids: Vec<_> = r.patient_ids.iter().map(|i| i.extension.as_str()).collect();
        assert_eq!(
            ids,
            ["279035145418997", "100013"],
            "author ids are not patient ids"
        );
    }

    fn completed(xml: &str, set_id: &InstanceId, version: u32) -> String {
        completed_replacing(xml, set_id, version, None)
    }

    fn completed_replacing(
        xml: &str,
        set_id: &InstanceId,
        version: u32,
        replaces: Option<&str>,
    ) -> String {
        let r = ReceivedCda::read(xml.as_bytes()).unwrap();
        let want = SetHeader {
            set_id,
            version,
            replaces,
        };
        let out = r.with_set_header(xml.as_bytes().to_vec(), want);
        let again = ReceivedCda::read(&out).expect("still well-formed");
        assert_eq!(again.version, Some(version));
        assert_eq!(
            again.set_id.as_ref(),
            Some(set_id)
                .filter(|_| r.set_id.is_none())
                .or(r.set_id.as_ref())
        );
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_missing_set_id_and_version_are_written_after_language_code() {
        let xml = CDA
            .replace(
                "  <setId root=\"1.2.3.3\"/>\n  <versionNumber value=\"2\"/>\n",
                "",
            )
            .replace(
                "<confidentialityCode code=\"N\"/>",
                "<confidentialityCode code=\"N\"/><languageCode code=\"fr-FR\"/>",
            );
        let set = InstanceId {
            root: "1.2.3.4".into(),
            extension: "X\"<&1".into(),
        };
        let out = completed(&xml, &set, 1);
        assert!(
            out.contains("<languageCode code=\"fr-FR\"/><setId root=\"1.2.3.4\" extension=\"X&quot;&lt;&amp;1\"/><versionNumber value=\"1\"/>"),
            "{out}"
        );
    }

    #[test]
    fn a_missing_version_alone_goes_after_set_id_with_the_header_prefix() {
        let xml = CDA
            .replace("  <versionNumber value=\"2\"/>\n", "")
            .replace(
                "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">",
                "<hl7:ClinicalDocument xmlns:hl7=\"urn:hl7-org:v3\">",
            )
            .replace("</ClinicalDocument>", "</hl7:ClinicalDocument>")
            .replace("<setId ", "<hl7:setId ")
            .replace("<id root=\"1.2.3.4\"", "<hl7:id root=\"1.2.3.4\"");
        let set = InstanceId {
            root: "1.2.3.3".into(),
            extension: String::new(),
        };
        let out = completed(&xml, &set, 3);
        assert!(
            out.contains("<hl7:setId root=\"1.2.3.3\"/><hl7:versionNumber value=\"3\"/>"),
            "{out}"
        );
    }

    #[test]
    fn a_complete_header_is_returned_unchanged() {
        let set = InstanceId {
            root: "9.9".into(),
            extension: String::new(),
        };
        let r = ReceivedCda::read(CDA.as_bytes()).unwrap();
        let want = SetHeader {
            set_id: &set,
            version: 2,
            replaces: None,
        };
        assert_eq!(
            r.with_set_header(CDA.as_bytes().to_vec(), want),
            CDA.as_bytes()
        );
    }

    /// A replacement received without a setId gets dmpfeed's set header: the replaced
    /// document's set, dmpfeed's version (replacing the one received) and an RPLC, in the CDA R2
    /// header order.
    #[test]
    fn a_replacement_without_set_id_gets_the_whole_set_header() {
        let xml = CDA
            .replace("  <setId root=\"1.2.3.3\"/>\n", "")
            .replace(
                "<versionNumber value=\"2\"/>",
                "<versionNumber value=\"1\"></versionNumber>",
            )
            .replace("  <component>", "  <componentOf/>\n  <component>");
        let set = InstanceId {
            root: "1.2.3.2".into(),
            extension: String::new(),
        };
        let out = completed_replacing(&xml, &set, 3, Some("1.2.3.2"));
        assert!(
            out.contains(
                "<confidentialityCode code=\"N\"/><setId root=\"1.2.3.2\"/>\n  \
                 <versionNumber value=\"3\"/>\n"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "<relatedDocument typeCode=\"RPLC\"><parentDocument><id root=\"1.2.3.2\"/>\
                 </parentDocument></relatedDocument><componentOf/>"
            ),
            "{out}"
        );
        let r = ReceivedCda::read(out.as_bytes()).unwrap();
        assert_eq!(r.parent_id.map(|p| p.root), Some("1.2.3.2".to_owned()));
        // a relatedDocument received is kept as it is, and an unreadable version replaced
        let own = xml
            .replace("value=\"1\"></versionNumber>", "nullFlavor=\"UNK\"/>")
            .replace(
                "<componentOf/>",
                "<relatedDocument typeCode=\"RPLC\"><parentDocument><id root=\"1.2.3.1\"/></parentDocument></relatedDocument><componentOf/>",
            );
        let out = completed_replacing(&own, &set, 2, Some("1.2.3.2"));
        assert_eq!(out.matches("relatedDocument typeCode").count(), 1, "{out}");
        assert_eq!(out.matches("versionNumber").count(), 1, "{out}");
        assert!(out.contains("<versionNumber value=\"2\"/>"), "{out}");
    }

    fn patient(ins: &str, ipp: Option<(&str, Option<&str>)>) -> Patient<'static> {
        use std::borrow::Cow;
        Patient {
            ins: Cow::Owned(ins.to_owned()),
            ins_oid: "1.2.250.1.213.1.4.8".into(),
            ipp: ipp.map(|(v, oid)| super::super::model::Ipp {
                value: Cow::Owned(v.to_owned()),
                oid: oid.map(|o| Cow::Owned(o.to_owned())),
            }),
            birth_family: "ROCHE".into(),
            birth_given_first: "MATHILDE".into(),
            birth_given_names: "MATHILDE".into(),
            used_family: None,
            used_given: None,
            birth_time: "19790328".into(),
            sex: "F".into(),
            birthplace_code: "51454".into(),
            birthplace_city: None,
            address: None,
        }
    }

    #[test]
    fn recordtarget_against_the_patient() {
        let r = ReceivedCda::read(CDA.as_bytes()).unwrap();
        let root = "1.2.250.1.999.1.1";
        let cases = [
            (
                patient("279035145418997", Some(("100013", Some(root)))),
                true,
            ),
            (patient("279035145418997", None), true),
            (patient("279035145418997", Some(("100013", None))), true), // configured root
            (
                patient("279035145418996", Some(("100013", Some(root)))),
                false,
            ), // other INS
            (
                patient("279035145418997", Some(("100014", Some(root)))),
                false,
            ), // other IPP
            (
                patient("279035145418997", Some(("100014", Some("1.2.3")))),
                true,
            ), // other domain
        ];
        for (p, want) in cases {
            assert_eq!(r.names_patient(&p, root), want, "{:?} {:?}", p.ins, p.ipp);
        }
        // without an INS in the CDA, the IPP must be there
        let no_ins = CDA.replace(
            r#"<id root="1.2.250.1.213.1.4.8" extension="279035145418997"/>"#,
            "",
        );
        let r = ReceivedCda::read(no_ins.as_bytes()).unwrap();
        assert!(r.names_patient(
            &patient("279035145418997", Some(("100013", Some(root)))),
            root
        ));
        assert!(!r.names_patient(&patient("279035145418997", None), root));
    }

    #[test]
    fn format_codes() {
        let r = ReceivedCda::read(CDA.as_bytes()).unwrap();
        assert_eq!(r.format_code().unwrap().code, "urn:ihe:iti:xds-sd:pdf:2008");
        let structured = CDA.replace(r#"<nonXMLBody><text mediaType="application/pdf" representation="B64">JVBERi0=</text></nonXMLBody>"#, "<structuredBody/>");
        let r = ReceivedCda::read(structured.as_bytes()).unwrap();
        assert_eq!(r.format_code().unwrap().code, FORMAT_CODE_NOT_REFERENCED);
        let ldl = structured.replace("1.3.6.1.4.1.19376.1.2.20", "1.2.250.1.213.1.1.1.29");
        let r = ReceivedCda::read(ldl.as_bytes()).unwrap();
        assert_eq!(
            r.format_code().unwrap().code,
            "urn:asip:ci-sis:ldl-ses:2017"
        );
    }

    #[test]
    fn malformed_documents_are_refused() {
        let cases = [
            "",
            "not xml",
            "<Other/>",
            "<ClinicalDocument><id root=\"1.2\"/>",
            "<ClinicalDocument><id root=\"1.2\"/></Other>",
            "<ClinicalDocument><code code=\"x\"/></ClinicalDocument>",
            "<ClinicalDocument><id root=\"1.2\"/></ClinicalDocument><ClinicalDocument/>",
        ];
        for xml in cases {
            assert!(ReceivedCda::read(xml.as_bytes()).is_err(), "{xml:?}");
        }
    }

    #[test]
    fn the_ans_example_reads() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ans-hl7v2-exemples/Vague 2/Trans_Doc-CDA-HL7V2/",
            "TRANSMISSION_DOCS_CDA_EN_HL7V2_V2.1/MDM/Transmission initiale MDM/CR_Radio_CDAN1_v1.XML"
        );
        let xml = std::fs::read(path).unwrap();
        let r = ReceivedCda::read(&xml).unwrap();
        assert!(
            r.patient_ids
                .iter()
                .any(|i| i.root == "1.2.250.1.213.1.4.10" && i.extension == "279035121518989")
        );
    }

    /// The header items of the XDS metadata (CI-SIS volet, « Mapping XDS »).
    #[test]
    fn xds_header_items_are_read() {
        let xml = r#"<ClinicalDocument xmlns="urn:hl7-org:v3">
  <id root="1.2.3.4"/>
  <code code="34874-8" displayName="CR op&#233;ratoire" codeSystem="2.16.840.1.113883.6.1"/>
  <title> CR &amp; <![CDATA[suite <1>]]> </title>
  <effectiveTime value="20240319090000+0100"/>
  <languageCode code="fr-FR"/>
  <recordTarget><patientRole><id root="1.2.250.1.213.1.4.8" extension="268046938104575"/>
    <patient><name><family>NOT-AN-AUTHOR</family><given>X</given></name></patient></patientRole></recordTarget>
  <author><functionCode code="ATTPHYS" displayName="Médecin" codeSystem="2.16.840.1.113883.5.88"/>
    <assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810000100015"/><id root="9.9" extension="other"/>
      <code code="G15_10" displayName="Médecin" codeSystem="1.2.250.1.213.1.1.4.5"/>
      <assignedPerson><name><prefix>M</prefix><given>Claire</given><given>Second</given><family>MARTIN</family></name></assignedPerson>
      <representedOrganization><id root="1.2.250.1.71.4.2.2" extension="1990000010"/><name>CHU de Démo</name></representedOrganization>
    </assignedAuthor></author>
  <author><assignedAuthor><id root="1.2.250.1.71.4.2.1" extension="810000100023"/></assignedAuthor></author>
  <legalAuthenticator><assignedEntity><id root="1.2.250.1.71.4.2.1" extension="810000100015"/>
    <assignedPerson><name><given>Claire</given><family>MARTIN</family></name></assignedPerson></assignedEntity></legalAuthenticator>
  <documentationOf><serviceEvent><effectiveTime><low value="20240318103000+0100"/><high value="20240318113000+0100"/></effectiveTime>
    <performer><assignedEntity><representedOrganization>
      <standardIndustryClassCode code="ETABLISSEMENT" displayName="Etablissement de santé" codeSystem="1.2.250.1.213.1.1.4.9"/>
    </representedOrganization></assignedEntity></performer></serviceEvent></documentationOf>
  <documentationOf><serviceEvent><effectiveTime><low value="19990101"/></effectiveTime></serviceEvent></documentationOf>
  <relatedDocument typeCode="RPLC"><parentDocument><id root="1.2.3.3"/></parentDocument></relatedDocument>
  <componentOf><encompassingEncounter><location><healthCareFacility>
    <code code="SA01" displayName="Etablissement public de santé" codeSystem="1.2.250.1.71.4.2.4"/>
  </healthCareFacility></location></encompassingEncounter></componentOf>
</ClinicalDocument>"#;
        let r = ReceivedCda::read(xml.as_bytes()).unwrap();
        assert_eq!(
            (
                r.code.as_str(),
                r.code_display.as_str(),
                r.code_system.as_str()
            ),
            ("34874-8", "CR opératoire", "2.16.840.1.113883.6.1")
        );
        assert_eq!(r.title, "CR & suite <1>");
        assert_eq!(r.effective_time, "20240319090000+0100");
        assert_eq!(r.language_code, "fr-FR");
        assert_eq!(r.authors.len(), 2);
        let a = &r.authors[0];
        assert_eq!(a.person.id.extension, "810000100015", "the first id");
        assert_eq!(
            (a.person.family.as_str(), a.person.given.as_str()),
            ("MARTIN", "Claire")
        );
        assert_eq!(a.specialty.as_ref().unwrap().code, "G15_10");
        assert_eq!(a.function.as_ref().unwrap().display, "Médecin");
        let org = a.organisation.as_ref().unwrap();
        assert_eq!(
            (org.id.extension.as_str(), org.name.as_str()),
            ("1990000010", "CHU de Démo")
        );
        let b = &r.authors[1];
        assert_eq!(b.person.id.extension, "810000100023");
        assert_eq!(
            (b.person.family.as_str(), b.organisation.is_none()),
            ("", true)
        );
        let l = r.legal_authenticator.as_ref().unwrap();
        assert_eq!(
            (l.id.extension.as_str(), l.family.as_str()),
            ("810000100015", "MARTIN")
        );
        assert_eq!(r.service_start.as_deref(), Some("20240318103000+0100"));
        assert_eq!(
            r.service_stop.as_deref(),
            Some("20240318113000+0100"),
            "first documentationOf"
        );
        assert_eq!(r.practice_setting.as_ref().unwrap().code, "ETABLISSEMENT");
        assert_eq!(
            r.facility_type.as_ref().unwrap().code_system,
            "1.2.250.1.71.4.2.4"
        );
        assert_eq!(r.parent_id.as_ref().unwrap().root, "1.2.3.3");
        // an unknown entity is refused, not skipped
        let bad = xml.replace("CR &amp;", "CR &nbsp;");
        assert!(ReceivedCda::read(bad.as_bytes()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = ReceivedCda::read(&bytes);
        }
    }
}
