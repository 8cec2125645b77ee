//! A CDA received already built by the DPI (`^text^XML^Base64^…`, the CI-SIS volet's own way):
//! it is passed on unchanged, so dmpfeed only reads what it must check and report — the header
//! items of the XDS metadata and the patient ids of `recordTarget/patientRole` — with quick-xml,
//! without building a tree and without expanding any entity.

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
    /// Where a missing `setId` / `versionNumber` goes (CDA R2 header order: after
    /// `languageCode`, else `confidentialityCode`; a `versionNumber` after `setId`), with the
    /// namespace prefix the header's elements use.
    anchor: Option<Anchor>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Anchor {
    /// Byte offset just after the element that precedes `setId`.
    before_set_id: Option<usize>,
    /// Byte offset just after `setId`.
    after_set_id: Option<usize>,
    /// `""` or `"hl7:"`.
    prefix: String,
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
        loop {
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
                    path.push(e.local_name().as_ref().to_owned());
                }
                Event::Empty(e) => {
                    if path.is_empty() {
                        return Err("the root element is not ClinicalDocument".into());
                    }
                    out.element(&path, &e)?;
                    if path.len() == 1 {
                        out.mark(e.name().as_ref(), reader.buffer_position() as usize);
                    }
                }
                Event::End(e) => {
                    path.pop();
                    if path.len() == 1 {
                        out.mark(e.name().as_ref(), reader.buffer_position() as usize);
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
            _ => return,
        }
        anchor.prefix = prefix.to_owned();
    }

    /// The document with the `setId` and `versionNumber` it lacks added at their place in the
    /// header (CI-SIS structuration minimale makes both mandatory; some DPIs omit them, as the
    /// ANS example CR_Radio_CDAN1_v1 does). Nothing else is touched; a document that has both
    /// is returned as it is.
    pub fn with_set_id_and_version(
        &self,
        xml: Vec<u8>,
        set_id: &InstanceId,
        version: u32,
    ) -> Vec<u8> {
        let Some(anchor) = &self.anchor else {
            return xml;
        };
        let p = &anchor.prefix;
        let version_el = format!("<{p}versionNumber value=\"{version}\"/>");
        let (at, insert) = match (&self.set_id, self.version, anchor.after_set_id) {
            (None, _, _) => match anchor.before_set_id {
                Some(at) => {
                    let attr = |v: &str| {
                        quick_xml::escape::escape(crate::cda::xml::xml_safe(v)).into_owned()
                    };
                    let mut el = format!("<{p}setId root=\"{}\"", attr(&set_id.root));
                    if !set_id.extension.is_empty() {
                        el.push_str(&format!(" extension=\"{}\"", attr(&set_id.extension)));
                    }
                    el.push_str("/>");
                    if self.version.is_none() {
                        el.push_str(&version_el);
                    }
                    (at, el)
                }
                None => return xml,
            },
            (Some(_), None, Some(at)) => (at, version_el),
            _ => return xml,
        };
        let mut out = Vec::with_capacity(xml.len() + insert.len());
        out.extend_from_slice(&xml[..at]);
        out.extend_from_slice(insert.as_bytes());
        out.extend_from_slice(&xml[at..]);
        out
    }

    /// One element, `parents` being the local names of its ancestors from ClinicalDocument.
    fn element(&mut self, parents: &[String], e: &BytesStart<'_>) -> Result<(), String> {
        let name = e.local_name();
        let name = name.as_ref();
        let under =
            |p: &[&str]| parents.len() == p.len() && parents.iter().zip(p).all(|(a, b)| a == b);
        if under(&["ClinicalDocument"]) {
            match name {
                "id" => self.id = instance_id(e)?,
                "code" => self.code = attr(e, "code")?,
                "confidentialityCode" => self.confidentiality = attr(e, "code")?,
                "setId" => self.set_id = Some(instance_id(e)?),
                "versionNumber" => self.version = attr(e, "value")?.trim().parse().ok(),
                "templateId" => self.template_ids.push(attr(e, "root")?),
                _ => {}
            }
        } else if name == "id" && under(&["ClinicalDocument", "recordTarget", "patientRole"]) {
            self.patient_ids.push(instance_id(e)?);
        } else if name == "text" && under(&["ClinicalDocument", "component", "nonXMLBody"]) {
            self.non_xml_media_type = Some(attr(e, "mediaType")?);
        }
        Ok(())
    }
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
        let r = ReceivedCda::read(xml.as_bytes()).unwrap();
        let out = r.with_set_id_and_version(xml.as_bytes().to_vec(), set_id, version);
        let again = ReceivedCda::read(&out).expect("still well-formed");
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
        assert_eq!(
            r.with_set_id_and_version(CDA.as_bytes().to_vec(), &set, 7),
            CDA.as_bytes()
        );
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

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = ReceivedCda::read(&bytes);
        }
    }
}
