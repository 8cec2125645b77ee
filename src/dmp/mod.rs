//! DMP-ready output (`convert --emit mdm,oru,xdm`): what a hospital hands over as it is, besides
//! the CDA.
//!
//! * [`mdm`] — the message of the CI-SIS volet « Transmission de documents CDA en HL7v2 » 2.1 that
//!   the hospital's DMP platform (PFI) takes in: MDM^T02/T10/T04 (HL7 2.6) or ORU^R01 (2.5), the
//!   CDA in base64, the sender (PRT `SB`) and the ten MetaDMPMSS flag OBX ([`flags`]);
//! * [`metadata`] and [`xdm`] — an IHE XDM (ITI-32) package for MSSanté and media exchange: the
//!   XDS metadata of the CDA (ebRIM 3.0) and the CDA, zipped;
//! * [`datatypes`] (HL7 composite values) and [`uuid`] (name-based UUIDs) serve both.
//!
//! Every value that describes the document is read from the header of the CDA the artefact
//! carries (`cda::received`), whether dmpfeed wrote it or received it built; what the CDA does
//! not hold comes from the source message (PID, PV1, MSH, the flags, PRT `SB`) or the
//! configuration (`[dmp]` flag defaults, the establishment). A deletion gets the MDM/ORU
//! deletion message (T04, ORC-1 `CA`, OBX-11 `D`); it has no document to package.
//!
//! Pure: bytes in, bytes out, the same every time (no clock, no random), so that a message
//! converted again gives the same files. This module reads HL7 through the `hl7` views and
//! knows nothing of the pipeline.

pub mod datatypes;
pub mod flags;
pub mod mdm;
pub mod metadata;
pub mod uuid;
pub mod xdm;

use crate::cda::received::{InstanceId, ReceivedCda};
use crate::config::Config;
use crate::document::content::{EdType, ed_type};
use crate::document::event::Action;
use crate::document::ids::{self, Sender};
use crate::document::person::{OID_PS, PersonParts};
use crate::hl7::Message;
use crate::terminology::{self, DocumentType};
use datatypes::{PersonId, xon};
use flags::DecidedFlags;
use mdm::{DocType, Form, Payload, Transmission};
use std::fmt;
use std::str::FromStr;

/// The file name suffixes of the artefacts (CONTRACT.md: `NAME.mdm.hl7`, `NAME.xdm.zip`).
pub const MDM_SUFFIX: &str = ".mdm.hl7";
pub const ORU_SUFFIX: &str = ".oru.hl7";
pub const XDM_SUFFIX: &str = ".xdm.zip";

/// Which artefacts to write besides the CDA (`--emit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Emit {
    pub mdm: bool,
    pub oru: bool,
    pub xdm: bool,
}

impl Emit {
    /// Nothing but the CDA.
    pub const NONE: Emit = Emit {
        mdm: false,
        oru: false,
        xdm: false,
    };

    pub fn is_empty(&self) -> bool {
        *self == Emit::NONE
    }

    /// Reads a comma-separated list (`mdm,xdm`); see [`Emit::from_names`].
    pub fn parse(list: &str) -> Result<Emit, EmitError> {
        Emit::from_names(list.split(','))
    }

    /// Reads artefact names (`--emit mdm --emit xdm`, or clap's split list): case-insensitive,
    /// blanks and empty names ignored. Unknown names are an error that lists them all.
    pub fn from_names<I, S>(names: I) -> Result<Emit, EmitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut emit = Emit::NONE;
        let mut unknown = Vec::new();
        for name in names {
            let name = name.as_ref().trim();
            if name.is_empty() {
                continue;
            }
            match name.to_ascii_lowercase().as_str() {
                "mdm" => emit.mdm = true,
                "oru" => emit.oru = true,
                "xdm" => emit.xdm = true,
                _ => unknown.push(name.to_owned()),
            }
        }
        if unknown.is_empty() {
            Ok(emit)
        } else {
            Err(EmitError { unknown })
        }
    }
}

impl FromStr for Emit {
    type Err = EmitError;

    fn from_str(s: &str) -> Result<Emit, EmitError> {
        Emit::parse(s)
    }
}

/// `--emit` named artefacts dmpfeed does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitError {
    pub unknown: Vec<String>,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.unknown.iter().map(|n| format!("{n:?}")).collect();
        write!(
            f,
            "--emit: unknown artefact {} (known: mdm, oru, xdm)",
            names.join(", ")
        )
    }
}

impl std::error::Error for EmitError {}

/// One artefact: its file name suffix and its bytes.
pub type Artefact = (&'static str, Vec<u8>);

/// The messages the artefacts are made from: the document message, and the message whose PID
/// the CDA's patient was read from when it is another one (an identity recorded from ADT, for a
/// document released or converted with it): the emitted PID must name the CDA's patient.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'m> {
    pub message: &'m Message<'m>,
    pub identity: Option<&'m Message<'m>>,
}

/// A converted document, as its artefacts need it.
#[derive(Debug, Clone, Copy)]
pub struct Converted<'a> {
    /// The CDA handed over (written or received).
    pub cda: &'a [u8],
    /// [`Action::New`] or [`Action::Replace`].
    pub action: Action,
    /// The replaced document's id as the message gave it, for a CDA without
    /// `relatedDocument` (a received one).
    pub parent_id: Option<&'a str>,
    /// The XDS patientId of PID's INS, for a CDA that names no INS.
    pub patient_id: &'a str,
}

/// The artefacts of a converted document.
pub fn document_artefacts(
    sources: &Sources<'_>,
    doc: &Converted<'_>,
    config: &Config,
    emit: &Emit,
) -> Result<Vec<Artefact>, String> {
    let msg = sources.message;
    if emit.is_empty() {
        return Ok(Vec::new());
    }
    let header =
        ReceivedCda::read(doc.cda).map_err(|e| format!("reading the CDA's header: {e}"))?;
    let flags = DecidedFlags::decide(&flags::source_flags(msg), &config.dmp);
    let sender = source_sender(msg).or_else(|| {
        header
            .authors
            .iter()
            .map(|a| PersonId::from(&a.person))
            .find(|p| !p.root.is_empty())
    });
    let mut out = Vec::new();
    if emit.mdm || emit.oru {
        let doc_type = terminology::document_type(header.code.trim())
            .map(DocType::of)
            .ok_or_else(|| format!("the CDA code {:?} is not a JDV_J07 type", header.code))?;
        let t = Transmission {
            action: doc.action,
            document_id: header.id.clone(),
            parent_id: header.parent_id.clone().or_else(|| {
                doc.parent_id.map(|p| InstanceId {
                    root: p.to_owned(),
                    extension: String::new(),
                })
            }),
            doc_type,
            payload: Payload::Cda(doc.cda),
            sender: sender.clone(),
            flags,
        };
        push_messages(sources, &t, config, emit, &mut out);
    }
    if emit.xdm {
        out.push((
            XDM_SUFFIX,
            xdm_package(msg, doc, &header, &flags, sender, config)?,
        ));
    }
    Ok(out)
}

/// The artefacts of a deletion (MDM^T04 / ORU with ORC-1 `CA`): the message only.
pub fn deletion_artefacts(
    sources: &Sources<'_>,
    document_id: &str,
    config: &Config,
    emit: &Emit,
) -> Vec<Artefact> {
    let msg = sources.message;
    let mut out = Vec::new();
    if !(emit.mdm || emit.oru) {
        return out;
    }
    let sender = source_sender(msg).or_else(|| {
        config.document.default_author.as_ref().map(|a| PersonId {
            root: OID_PS.to_owned(),
            extension: a.id.clone(),
            family: a.family.clone(),
            given: a.given.clone(),
        })
    });
    let cda = source_cda_base64(msg);
    let t = Transmission {
        action: Action::Delete,
        document_id: InstanceId {
            root: document_id.to_owned(),
            extension: String::new(),
        },
        parent_id: deleted_parent(msg, config),
        doc_type: deleted_type(msg, config),
        payload: cda.as_deref().map_or(Payload::None, Payload::Base64),
        sender,
        flags: DecidedFlags::decide(&flags::source_flags(msg), &config.dmp),
    };
    push_messages(sources, &t, config, emit, &mut out);
    out
}

fn push_messages(
    sources: &Sources<'_>,
    t: &Transmission<'_>,
    config: &Config,
    emit: &Emit,
    out: &mut Vec<Artefact>,
) {
    if emit.mdm {
        out.push((
            MDM_SUFFIX,
            mdm::write(Form::Mdm, sources, t, &config.organisation),
        ));
    }
    if emit.oru {
        out.push((
            ORU_SUFFIX,
            mdm::write(Form::Oru, sources, t, &config.organisation),
        ));
    }
}

fn xdm_package(
    msg: &Message<'_>,
    doc: &Converted<'_>,
    header: &ReceivedCda,
    flags: &DecidedFlags,
    sender: Option<PersonId>,
    config: &Config,
) -> Result<Vec<u8>, String> {
    let d = &config.document;
    let time_zone = jiff::tz::TimeZone::get(&d.time_zone)
        .map_err(|e| format!("configuration document.time_zone: {e}"))?;
    let facility_type = terminology::healthcare_facility_type(&d.healthcare_facility_type)
        .ok_or("configuration document.healthcare_facility_type: not in JDV_J02/J61")?
        .coded();
    let practice_setting = terminology::practice_setting(&d.practice_setting)
        .ok_or("configuration document.practice_setting: not in JDV_J04")?;
    let site = metadata::Site {
        time_zone: &time_zone,
        facility_type: &facility_type,
        practice_setting,
    };
    let entry = metadata::DocumentEntry::from_cda(header, doc.cda, flags, doc.patient_id, site)?;
    // The sender's establishment: the author's organisation in the CDA, else the configured
    // one under its national structure identifier (`1` + FINESS, as the CDA writes it).
    let institution = header
        .authors
        .iter()
        .filter_map(|a| a.organisation.as_ref())
        .find(|o| !o.id.root.is_empty())
        .map(|o| xon(&o.name, &o.id.root, "IDNST", &o.id.extension))
        .unwrap_or_else(|| {
            let o = &config.organisation;
            xon(
                &o.name,
                crate::cda::OID_STRUCTURES,
                "IDNST",
                &format!("1{}", o.finess),
            )
        });
    let submission_time = msg
        .get("MSH-7.1")
        .ok()
        .flatten()
        .and_then(|t| metadata::utc(&t, &time_zone))
        .unwrap_or_else(|| entry.creation_time.clone());
    let patient_class = msg.get("PV1-2.1").ok().flatten().unwrap_or_default();
    let set = metadata::SubmissionSet::of(
        &entry,
        sender.as_ref(),
        institution,
        &config.oids.document_root,
        &patient_class,
        submission_time,
    );
    let xml = metadata::write(&entry, &set);
    xdm::package(doc.cda, &xml, xdm::zip_time(&header.effective_time))
}

impl DocType {
    /// A JDV_J07 type as OBR-4 / OBX-3 write it: `LN` for LOINC, `TRE_A05` for the ANS codes
    /// (volet: « LN ou TRE_A05 en fonction de l'appartenance du code »), else its code system.
    pub fn of(t: &DocumentType) -> DocType {
        let system = match t.code_system {
            terminology::LOINC_OID => "LN",
            terminology::TRE_A05_OID => "TRE_A05",
            other => other,
        };
        DocType {
            code: t.code.to_owned(),
            label: t.display.to_owned(),
            system: system.to_owned(),
        }
    }
}

/// PRT-5 of the source's PRT `SB`, when it names a person with an identifier.
fn source_sender(msg: &Message<'_>) -> Option<PersonId> {
    let prt = msg.segments_named("PRT").find(mdm::is_sender)?;
    let person = PersonParts::from_xcn(&prt.field(5)?.first()).into_person()?;
    Some(PersonId::from(&person))
}

/// The source's document OBX (the first OBX that is not a MetaDMPMSS flag).
fn document_obx<'a>(msg: &Message<'a>) -> Option<crate::hl7::Segment<'a>> {
    msg.segments_named("OBX")
        .find(|o| !crate::document::flags::is_flag(o))
}

/// The CDA a deletion message carries (`^text^XML^Base64^…`, as the ANS T04 example does), in
/// base64 without line breaks and with its padding (the ANS T04 example omits it); `None` when
/// it carries another content, none, or no valid base64.
fn source_cda_base64(msg: &Message<'_>) -> Option<String> {
    let ed = document_obx(msg)?.field(5)?.first();
    if ed_type(&ed.text(2), &ed.text(3)) != Some(EdType::Cda)
        || !ed.text(4).trim().eq_ignore_ascii_case("Base64")
    {
        return None;
    }
    let mut data: String = ed
        .text(5)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    match data.len() % 4 {
        2 => data.push_str("=="),
        3 => data.push('='),
        _ => {}
    }
    let ok = !data.is_empty() && base64_simd::STANDARD.check(data.as_bytes()).is_ok();
    ok.then_some(data)
}

/// TXA-13 of a deletion (the parent of the deleted version, as the ANS T04 example sends it),
/// resolved as `document::read` resolves document ids.
fn deleted_parent(msg: &Message<'_>, config: &Config) -> Option<InstanceId> {
    let txa = msg.segment("TXA")?;
    let ei = crate::document::entity_id(txa.field(13));
    if ei.is_empty() {
        return None;
    }
    let application = msg.get("MSH-3").ok().flatten().unwrap_or_default();
    let facility = msg.get("MSH-4").ok().flatten().unwrap_or_default();
    let sender = Sender {
        application: &application,
        facility: &facility,
    };
    Some(InstanceId {
        root: ids::document_oid(&ei, sender, &config.oids.document_root),
        extension: String::new(),
    })
}

/// The deleted document's type: the first of TXA-2, OBR-4, OBX-3 that is a JDV_J07 code (or
/// mapped by `document.type_map`), else the first given as sent.
fn deleted_type(msg: &Message<'_>, config: &Config) -> DocType {
    let sent: Vec<DocType> = [
        msg.segment("TXA").and_then(|s| s.field(2)),
        msg.segment("OBR").and_then(|s| s.field(4)),
        document_obx(msg).and_then(|s| s.field(3)),
    ]
    .into_iter()
    .flatten()
    .map(|f| {
        let r = f.first();
        DocType {
            code: r.text(1).trim().to_owned(),
            label: r.text(2).trim().to_owned(),
            system: r.text(3).trim().to_owned(),
        }
    })
    .filter(|t| !t.code.is_empty())
    .collect();
    let known = sent.iter().find_map(|t| {
        terminology::document_type(&t.code).or_else(|| {
            config
                .document
                .type_map
                .get(&t.code)
                .and_then(|c| terminology::document_type(c))
        })
    });
    match (known, sent.into_iter().next()) {
        (Some(t), _) => DocType::of(t),
        (None, Some(first)) => first,
        (None, None) => DocType {
            code: String::new(),
            label: String::new(),
            system: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_lists() {
        let all = Emit {
            mdm: true,
            oru: true,
            xdm: true,
        };
        let cases = [
            ("", Ok(Emit::NONE)),
            (
                "mdm",
                Ok(Emit {
                    mdm: true,
                    ..Emit::NONE
                }),
            ),
            (
                " xdm , MDM ,",
                Ok(Emit {
                    mdm: true,
                    xdm: true,
                    ..Emit::NONE
                }),
            ),
            ("mdm,oru,xdm", Ok(all)),
            (
                "mdm,mdm",
                Ok(Emit {
                    mdm: true,
                    ..Emit::NONE
                }),
            ),
            ("mdm,pdf,zip", Err(vec!["pdf".to_owned(), "zip".to_owned()])),
        ];
        for (list, want) in cases {
            let got = Emit::parse(list).map_err(|e| e.unknown);
            assert_eq!(got, want, "{list:?}");
        }
        let cli = ["mdm".to_owned(), "XDM".to_owned()];
        assert_eq!(
            Emit::from_names(&cli),
            Ok(Emit {
                mdm: true,
                xdm: true,
                ..Emit::NONE
            })
        );
        let e = "fhir".parse::<Emit>().unwrap_err().to_string();
        assert!(e.contains("\"fhir\"") && e.contains("mdm, oru, xdm"), "{e}");
    }
}
