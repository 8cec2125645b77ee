//! The XDS metadata of an XDM package (`IHE_XDM/SUBSET01/METADATA.XML`): an ebRIM 3.0
//! `lcm:SubmitObjectsRequest` holding one DocumentEntry, its SubmissionSet and the `HasMember`
//! association (IHE ITI TF-3 §4.2.3 and §4.2.5; ITI-32 §3.32.4.1.3).
//!
//! [`DocumentEntry::from_cda`] takes every value from the header of the CDA the package carries,
//! as the CI-SIS volet « Transmission de documents CDA en HL7v2 » maps it (`mapping.md`,
//! « Mapping XDS »; `shared/domain/cisis-cda.md` §3):
//!
//! | metadata | from |
//! |---|---|
//! | typeCode, classCode | `code` (JDV_J07), its class by ASS_X04 (JDV_J57) |
//! | formatCode | the templateId (ASS_A11) or the `nonXMLBody` media type (ASS_A12) |
//! | confidentialityCode | `confidentialityCode`, then MASQUE_PS / INVISIBLE_PATIENT / INVISIBLE_REPRESENTANTS_LEGAUX (MetaDMPMSS flags, JDV_J58) |
//! | healthcareFacilityTypeCode | `componentOf/…/healthCareFacility/code` |
//! | practiceSettingCode | `documentationOf/…/representedOrganization/standardIndustryClassCode` |
//! | patientId, sourcePatientId | `recordTarget/patientRole/id`: the INS; the other id (IPP), else the INS |
//! | creationTime, serviceStartTime, serviceStopTime | `effectiveTime`, `serviceEvent/effectiveTime/low`, `high`, in UTC (IHE: DTM in UTC) |
//! | author (person, institution, role, specialty) | every `author` |
//! | legalAuthenticator, title, languageCode, uniqueId | the header items of the same names (uniqueId = `id`, `root` or `root^extension`) |
//! | hash, size | SHA-1 (hex) and length of the CDA bytes |
//!
//! A received CDA without `healthCareFacility/code` or `standardIndustryClassCode` gets the
//! site's (`document.healthcare_facility_type`, `document.practice_setting`); one without an INS
//! gets the INS of PID (checked by the identity gate). The SubmissionSet's author is the sender
//! (PRT `SB`) and the establishment; its contentTypeCode comes from PV1-2 as the volet proposes
//! (I→03, O→07, R→19, N→97, E→07, TRE_R209); its uniqueId is the `2.25` OID of its UUID. Object
//! ids are name-based UUIDs ([`super::uuid`]), so the same document gives the same bytes. Slot
//! values are cut at 256 characters and names at 1024 (ebRIM `LongName`, `FreeFormText`).

use super::datatypes::{PersonId, cwe, cx, xcn, xon};
use super::flags::DecidedFlags;
use super::uuid::{NAMESPACE_OID, Uuid};
use crate::cda::received::{HeaderCode, INS_OIDS, ReceivedCda};
use crate::cda::xml::xml_safe;
use crate::document::time::{Precision, Ts};
use crate::terminology::{self, Coded};
use jiff::tz::{Offset, TimeZone};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};
use sha1::{Digest, Sha1};
use std::fmt::Write as _;

/// ebRIM 3.0 namespaces.
pub const LCM_NAMESPACE: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
pub const RIM_NAMESPACE: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";

/// IHE ITI TF-3 §4.2.5.1: the UUIDs of the XDS metadata.
pub mod scheme {
    pub const STABLE_DOCUMENT_ENTRY: &str = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
    pub const DOCUMENT_AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
    pub const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
    pub const CONFIDENTIALITY_CODE: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
    pub const FORMAT_CODE: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
    pub const HEALTHCARE_FACILITY_TYPE_CODE: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
    pub const PRACTICE_SETTING_CODE: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
    pub const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
    pub const DOCUMENT_PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
    pub const DOCUMENT_UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
    pub const SUBMISSION_SET: &str = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd";
    pub const SUBMISSION_AUTHOR: &str = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
    pub const CONTENT_TYPE_CODE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
    pub const SUBMISSION_PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
    pub const SUBMISSION_SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
    pub const SUBMISSION_UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";
    pub const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";
}

/// The document's file name in the package (the `URI` slot, ITI-32).
pub const DOCUMENT_FILE: &str = "DOC0001.XML";
/// ebRIM `LongName` and `FreeFormText` lengths.
const LONG_NAME: usize = 256;
const FREE_FORM_TEXT: usize = 1024;

/// A coded value as XDS classifies it: nodeRepresentation, codingScheme slot, name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    pub scheme: String,
    pub display: String,
}

impl From<&Coded> for Code {
    fn from(c: &Coded) -> Code {
        Code {
            code: c.code.to_owned(),
            scheme: c.code_system.to_owned(),
            display: c.display.to_owned(),
        }
    }
}

impl From<&HeaderCode> for Code {
    fn from(c: &HeaderCode) -> Code {
        Code {
            code: c.code.clone(),
            scheme: c.code_system.clone(),
            display: c.display.clone(),
        }
    }
}

/// One author classification (every slot optional, at least one present).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Author {
    /// XCN.
    pub person: Option<String>,
    /// XON.
    pub institution: Option<String>,
    pub role: Option<String>,
    /// `code^display^scheme`.
    pub specialty: Option<String>,
}

impl Author {
    fn is_empty(&self) -> bool {
        self.person.is_none()
            && self.institution.is_none()
            && self.role.is_none()
            && self.specialty.is_none()
    }
}

/// The DocumentEntry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentEntry {
    pub entry_uuid: Uuid,
    pub unique_id: String,
    pub patient_id: String,
    pub source_patient_id: String,
    pub type_code: Code,
    pub class_code: Code,
    pub format_code: Code,
    pub confidentiality: Vec<Code>,
    pub healthcare_facility_type: Code,
    pub practice_setting: Code,
    pub creation_time: String,
    pub service_start: Option<String>,
    pub service_stop: Option<String>,
    pub language_code: String,
    pub title: String,
    pub hash: String,
    pub size: u64,
    pub legal_authenticator: Option<String>,
    pub authors: Vec<Author>,
}

/// What the DocumentEntry needs besides the CDA.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    pub time_zone: &'a TimeZone,
    /// `document.healthcare_facility_type`, `document.practice_setting`.
    pub facility_type: &'a Coded,
    pub practice_setting: &'a Coded,
}

impl DocumentEntry {
    /// The DocumentEntry of `cda`, whose header is `header`. `patient_id` (the XDS patientId of
    /// PID's INS) is used when the CDA names no INS.
    pub fn from_cda(
        header: &ReceivedCda,
        cda: &[u8],
        flags: &DecidedFlags,
        patient_id: &str,
        site: Site<'_>,
    ) -> Result<DocumentEntry, String> {
        let doc_type = terminology::document_type(header.code.trim())
            .ok_or_else(|| format!("the CDA code {:?} is not a JDV_J07 type", header.code))?;
        let class = doc_type
            .class
            .ok_or_else(|| format!("the type {} has no class in ASS_X04", doc_type.code))?;
        let format = header
            .format_code()
            .ok_or("the CDA has a body of unknown media type (no formatCode)")?;
        let cda_code: &str = header.confidentiality.trim();
        let confidentiality = std::iter::once(cda_code)
            .chain(flags.visibility_codes().map(|c| -> &str { c }))
            .map(|code| {
                terminology::confidentiality(code)
                    .or_else(|| terminology::cda_confidentiality(code))
                    .map(Code::from)
                    .ok_or_else(|| format!("confidentialityCode {code:?} is in no value set"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ins = header
            .patient_ids
            .iter()
            .find(|i| INS_OIDS.contains(&i.root.as_str()) && !i.extension.is_empty());
        let patient_id = ins.map_or_else(|| patient_id.to_owned(), |i| cx(&i.extension, &i.root));
        let source_patient_id = header
            .patient_ids
            .iter()
            .find(|i| !INS_OIDS.contains(&i.root.as_str()) && !i.extension.is_empty())
            .map_or_else(|| patient_id.clone(), |i| cx(&i.extension, &i.root));
        let tz = site.time_zone;
        let creation_time = utc(&header.effective_time, tz).ok_or_else(|| {
            format!(
                "the CDA effectiveTime {:?} is not a TS",
                header.effective_time
            )
        })?;
        let authors: Vec<Author> = header
            .authors
            .iter()
            .map(|a| Author {
                person: person(&(&a.person).into()),
                institution: a
                    .organisation
                    .as_ref()
                    .filter(|o| !o.name.is_empty() || !o.id.root.is_empty())
                    .map(|o| xon(&o.name, &o.id.root, "IDNST", &o.id.extension)),
                role: a.function.as_ref().and_then(|f| {
                    let label = if f.display.is_empty() {
                        &f.code
                    } else {
                        &f.display
                    };
                    (!label.is_empty()).then(|| label.clone())
                }),
                specialty: a
                    .specialty
                    .as_ref()
                    .filter(|s| !s.code.is_empty())
                    .map(|s| cwe(&s.code, &s.display, &s.code_system)),
            })
            .filter(|a| !a.is_empty())
            .collect();
        let title = if header.title.is_empty() {
            doc_type.display.to_owned()
        } else {
            header.title.clone()
        };
        let unique_id = header.id.unique_id();
        Ok(DocumentEntry {
            entry_uuid: Uuid::v5(&NAMESPACE_OID, &unique_id),
            unique_id,
            patient_id,
            source_patient_id,
            type_code: Code::from(&doc_type.coded()),
            class_code: Code::from(class),
            format_code: Code {
                code: format.code.to_owned(),
                scheme: format.code_system.to_owned(),
                display: format.display.unwrap_or_default().to_owned(),
            },
            confidentiality,
            healthcare_facility_type: header
                .facility_type
                .as_ref()
                .filter(|c| !c.code.is_empty())
                .map_or_else(|| site.facility_type.into(), Code::from),
            practice_setting: header
                .practice_setting
                .as_ref()
                .filter(|c| !c.code.is_empty())
                .map_or_else(|| site.practice_setting.into(), Code::from),
            creation_time,
            service_start: header.service_start.as_deref().and_then(|t| utc(t, tz)),
            service_stop: header.service_stop.as_deref().and_then(|t| utc(t, tz)),
            language_code: header.language_code.clone(),
            title,
            hash: sha1_hex(cda),
            size: cda.len() as u64,
            legal_authenticator: header
                .legal_authenticator
                .as_ref()
                .and_then(|p| person(&p.into())),
            authors,
        })
    }
}

/// An XCN, when the person has an identifier.
fn person(p: &PersonId) -> Option<String> {
    (!p.root.is_empty()).then(|| xcn(p))
}

/// The SubmissionSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionSet {
    pub id: Uuid,
    pub unique_id: String,
    pub source_id: String,
    pub patient_id: String,
    pub submission_time: String,
    pub author: Author,
    pub content_type: Code,
}

impl SubmissionSet {
    /// The submission set of `entry`, sent by `sender` of `institution` (an XON), from the
    /// source `source_id`, with PV1-2 `patient_class`, at `submission_time` (UTC).
    pub fn of(
        entry: &DocumentEntry,
        sender: Option<&PersonId>,
        institution: String,
        source_id: &str,
        patient_class: &str,
        submission_time: String,
    ) -> SubmissionSet {
        let id = entry.entry_uuid.child("SubmissionSet");
        SubmissionSet {
            id,
            unique_id: id.oid(),
            source_id: source_id.to_owned(),
            patient_id: entry.patient_id.clone(),
            submission_time,
            author: Author {
                person: sender.and_then(person),
                institution: Some(institution),
                role: None,
                specialty: None,
            },
            content_type: content_type(patient_class).into(),
        }
    }
}

/// JDV_J59 contentTypeCode from PV1-2 (patient class, HL7 table 0004), as the volet proposes
/// (`mapping.md`: I→03, O→07, R→19, N→97, E→07); anything else is 97 « Type d'activité
/// indifférencié ».
pub fn content_type(patient_class: &str) -> &'static Coded {
    let code = match patient_class.trim().to_ascii_uppercase().as_str() {
        "I" => "03",
        "O" | "E" => "07",
        "R" => "19",
        _ => "97",
    };
    terminology::content_type(terminology::TRE_R209_OID, code)
        .expect("03, 07, 19 and 97 are TRE_R209 codes of JDV_J59")
}

/// A CDA or HL7 timestamp as an XDS DTM: in UTC (IHE ITI TF-3 Table 4.2.3.1.7-2), with the
/// precision it was given; a date stays a date. A value without an offset is the site's local
/// time. `None` when it is not a timestamp.
pub fn utc(value: &str, tz: &TimeZone) -> Option<String> {
    let ts = Ts::parse(value.trim()).ok()?;
    utc_of(&ts, tz)
}

/// [`utc`] of a parsed timestamp.
pub fn utc_of(ts: &Ts, tz: &TimeZone) -> Option<String> {
    let mut out = String::with_capacity(14);
    if !ts.has_time() {
        let _ = write!(out, "{:04}", ts.year);
        for (p, v) in [(Precision::Month, ts.month), (Precision::Day, ts.day)] {
            if ts.precision >= p {
                let _ = write!(out, "{v:02}");
            }
        }
        return Some(out);
    }
    let civil = ts.civil()?;
    let instant = match ts.offset {
        Some(minutes) => Offset::from_seconds(i32::from(minutes) * 60)
            .ok()?
            .to_timestamp(civil)
            .ok()?,
        None => tz.to_ambiguous_timestamp(civil).compatible().ok()?,
    };
    let u = TimeZone::UTC.to_datetime(instant);
    let _ = write!(
        out,
        "{:04}{:02}{:02}{:02}",
        u.year(),
        u.month(),
        u.day(),
        u.hour()
    );
    if ts.precision >= Precision::Minute {
        let _ = write!(out, "{:02}", u.minute());
    }
    if ts.precision >= Precision::Second {
        let _ = write!(out, "{:02}", u.second());
    }
    Some(out)
}

/// SHA-1 of the document, lower-case hexadecimal (IHE: the `hash` slot).
pub fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    let mut s = String::with_capacity(40);
    for b in digest.iter() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Writes METADATA.XML.
pub fn write(entry: &DocumentEntry, set: &SubmissionSet) -> Vec<u8> {
    let mut w = RimWriter {
        w: Writer::new_with_indent(Vec::with_capacity(8 * 1024), b' ', 2),
    };
    w.document(entry, set);
    let mut out = w.w.into_inner();
    out.push(b'\n');
    out
}

struct RimWriter {
    w: Writer<Vec<u8>>,
}

impl RimWriter {
    // Writing into a Vec cannot fail: the results of write_event are io::Result<()> over a Vec.
    fn event(&mut self, e: Event<'_>) {
        let _ = self.w.write_event(e);
    }

    fn tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
        let mut t = BytesStart::new(name);
        for (k, v) in attrs {
            t.push_attribute((*k, xml_safe(v).as_ref()));
        }
        t
    }

    fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.event(Event::Start(Self::tag(name, attrs)));
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.event(Event::Empty(Self::tag(name, attrs)));
    }

    fn end(&mut self, name: &str) {
        self.event(Event::End(BytesEnd::new(name)));
    }

    fn slot(&mut self, name: &str, values: &[&str]) {
        self.start("rim:Slot", &[("name", name)]);
        self.start("rim:ValueList", &[]);
        for v in values {
            self.start("rim:Value", &[]);
            let text = cut(&xml_safe(v), LONG_NAME).to_owned();
            self.event(Event::Text(quick_xml::events::BytesText::new(&text)));
            self.end("rim:Value");
        }
        self.end("rim:ValueList");
        self.end("rim:Slot");
    }

    fn name(&mut self, text: &str) {
        self.start("rim:Name", &[]);
        let value = cut(&xml_safe(text), FREE_FORM_TEXT).to_owned();
        self.empty(
            "rim:LocalizedString",
            &[
                ("xml:lang", "fr-FR"),
                ("charset", "UTF-8"),
                ("value", &value),
            ],
        );
        self.end("rim:Name");
    }

    fn classification(&mut self, id: Uuid, scheme: &str, object: &str, code: &Code) {
        let node = cut(&code.code, LONG_NAME).to_owned();
        self.start(
            "rim:Classification",
            &[
                ("id", &id.urn()),
                ("classificationScheme", scheme),
                ("classifiedObject", object),
                ("nodeRepresentation", &node),
            ],
        );
        self.slot("codingScheme", &[&code.scheme]);
        self.name(&code.display);
        self.end("rim:Classification");
    }

    fn author(&mut self, id: Uuid, scheme: &str, object: &str, a: &Author) {
        self.start(
            "rim:Classification",
            &[
                ("id", &id.urn()),
                ("classificationScheme", scheme),
                ("classifiedObject", object),
                ("nodeRepresentation", ""),
            ],
        );
        for (name, value) in [
            ("authorPerson", &a.person),
            ("authorInstitution", &a.institution),
            ("authorRole", &a.role),
            ("authorSpecialty", &a.specialty),
        ] {
            if let Some(v) = value {
                self.slot(name, &[v]);
            }
        }
        self.end("rim:Classification");
    }

    fn external_id(&mut self, id: Uuid, scheme: &str, object: &str, value: &str, name: &str) {
        let value = cut(&xml_safe(value), LONG_NAME).to_owned();
        self.start(
            "rim:ExternalIdentifier",
            &[
                ("id", &id.urn()),
                ("registryObject", object),
                ("identificationScheme", scheme),
                ("value", &value),
            ],
        );
        self.start("rim:Name", &[]);
        self.empty("rim:LocalizedString", &[("value", name)]);
        self.end("rim:Name");
        self.end("rim:ExternalIdentifier");
    }

    fn document(&mut self, e: &DocumentEntry, s: &SubmissionSet) {
        self.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        self.start(
            "lcm:SubmitObjectsRequest",
            &[("xmlns:lcm", LCM_NAMESPACE), ("xmlns:rim", RIM_NAMESPACE)],
        );
        self.start("rim:RegistryObjectList", &[]);
        self.document_entry(e);
        self.submission_set(s);
        let set = s.id.urn();
        self.empty(
            "rim:Classification",
            &[
                ("id", &s.id.child("SubmissionSetClassification").urn()),
                ("classifiedObject", &set),
                ("classificationNode", scheme::SUBMISSION_SET),
            ],
        );
        self.start(
            "rim:Association",
            &[
                ("id", &s.id.child("HasMember").urn()),
                ("associationType", scheme::HAS_MEMBER),
                ("sourceObject", &set),
                ("targetObject", &e.entry_uuid.urn()),
            ],
        );
        self.slot("SubmissionSetStatus", &["Original"]);
        self.end("rim:Association");
        self.end("rim:RegistryObjectList");
        self.end("lcm:SubmitObjectsRequest");
    }

    fn document_entry(&mut self, e: &DocumentEntry) {
        let object = e.entry_uuid.urn();
        let child = |name: &str| e.entry_uuid.child(name);
        self.start(
            "rim:ExtrinsicObject",
            &[
                ("id", &object),
                ("mimeType", "text/xml"),
                ("objectType", scheme::STABLE_DOCUMENT_ENTRY),
            ],
        );
        // Slots in alphabetical order, as IHE's examples list them.
        self.slot("creationTime", &[&e.creation_time]);
        self.slot("hash", &[&e.hash]);
        if !e.language_code.is_empty() {
            self.slot("languageCode", &[&e.language_code]);
        }
        if let Some(l) = &e.legal_authenticator {
            self.slot("legalAuthenticator", &[l]);
        }
        if let Some(t) = &e.service_start {
            self.slot("serviceStartTime", &[t]);
        }
        if let Some(t) = &e.service_stop {
            self.slot("serviceStopTime", &[t]);
        }
        self.slot("size", &[&e.size.to_string()]);
        self.slot("sourcePatientId", &[&e.source_patient_id]);
        self.slot("URI", &[DOCUMENT_FILE]);
        self.name(&e.title);
        for (i, a) in e.authors.iter().enumerate() {
            self.author(
                child(&format!("author#{i}")),
                scheme::DOCUMENT_AUTHOR,
                &object,
                a,
            );
        }
        self.classification(
            child("classCode"),
            scheme::CLASS_CODE,
            &object,
            &e.class_code,
        );
        for (i, c) in e.confidentiality.iter().enumerate() {
            self.classification(
                child(&format!("confidentialityCode#{i}")),
                scheme::CONFIDENTIALITY_CODE,
                &object,
                c,
            );
        }
        self.classification(
            child("formatCode"),
            scheme::FORMAT_CODE,
            &object,
            &e.format_code,
        );
        self.classification(
            child("healthcareFacilityTypeCode"),
            scheme::HEALTHCARE_FACILITY_TYPE_CODE,
            &object,
            &e.healthcare_facility_type,
        );
        self.classification(
            child("practiceSettingCode"),
            scheme::PRACTICE_SETTING_CODE,
            &object,
            &e.practice_setting,
        );
        self.classification(child("typeCode"), scheme::TYPE_CODE, &object, &e.type_code);
        self.external_id(
            child("patientId"),
            scheme::DOCUMENT_PATIENT_ID,
            &object,
            &e.patient_id,
            "XDSDocumentEntry.patientId",
        );
        self.external_id(
            child("uniqueId"),
            scheme::DOCUMENT_UNIQUE_ID,
            &object,
            &e.unique_id,
            "XDSDocumentEntry.uniqueId",
        );
        self.end("rim:ExtrinsicObject");
    }

    fn submission_set(&mut self, s: &SubmissionSet) {
        let object = s.id.urn();
        let child = |name: &str| s.id.child(name);
        self.start("rim:RegistryPackage", &[("id", &object)]);
        self.slot("submissionTime", &[&s.submission_time]);
        self.author(
            child("author"),
            scheme::SUBMISSION_AUTHOR,
            &object,
            &s.author,
        );
        self.classification(
            child("contentTypeCode"),
            scheme::CONTENT_TYPE_CODE,
            &object,
            &s.content_type,
        );
        self.external_id(
            child("patientId"),
            scheme::SUBMISSION_PATIENT_ID,
            &object,
            &s.patient_id,
            "XDSSubmissionSet.patientId",
        );
        self.external_id(
            child("sourceId"),
            scheme::SUBMISSION_SOURCE_ID,
            &object,
            &s.source_id,
            "XDSSubmissionSet.sourceId",
        );
        self.external_id(
            child("uniqueId"),
            scheme::SUBMISSION_UNIQUE_ID,
            &object,
            &s.unique_id,
            "XDSSubmissionSet.uniqueId",
        );
        self.end("rim:RegistryPackage");
    }
}

/// At most `max` characters of `s`.
fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_utc_with_their_precision() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let cases = [
            ("20240319090000+0100", Some("20240319080000")),
            ("20240719090000+0200", Some("20240719070000")),
            ("20240101003000+0100", Some("20231231233000")), // the day before in UTC
            ("202403190900+0100", Some("202403190800")),
            ("2024031909-0300", Some("2024031912")),
            ("20240719090000", Some("20240719070000")), // no offset: the site's summer time
            ("20240319090000.25+0100", Some("20240319080000")),
            ("20240319", Some("20240319")), // a date stays a date
            ("202403", Some("202403")),
            ("", None),
            ("2024-03-19", None),
            ("20241319", None),
        ];
        for (value, want) in cases {
            assert_eq!(utc(value, &paris).as_deref(), want, "{value:?}");
        }
    }

    #[test]
    fn sha1_is_hex() {
        // SHA-1("abc"), FIPS 180-2 appendix A.1
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn content_types_follow_the_volet_proposal() {
        for (pv1_2, code) in [
            ("I", "03"),
            ("O", "07"),
            ("E", "07"),
            ("R", "19"),
            ("N", "97"),
            ("", "97"),
            ("x", "97"),
        ] {
            let c = content_type(pv1_2);
            assert_eq!((c.code, c.code_system), (code, terminology::TRE_R209_OID));
        }
    }

    #[test]
    fn cut_respects_characters() {
        assert_eq!(cut("éééé", 2), "éé");
        assert_eq!(cut("ab", 5), "ab");
    }
}
