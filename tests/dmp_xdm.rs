//! The IHE XDM packages of `--emit xdm`: their layout, METADATA.XML valid against the ebRIM 3.0
//! schemas (`schemas/ebrim-3.0`, xmllint), and every metadata value checked against the header
//! of the CDA the package carries, both parsed here independently of dmpfeed's CDA reader.

mod dmp_support;

use dmp_support::*;
use dmpfeed::convert::{Conversion, Emit};
use dmpfeed::reason::Outcome;
use dmpfeed::terminology;
use sha1::{Digest, Sha1};
use std::collections::HashSet;
use std::path::PathBuf;

const XDM: &str = ".xdm.zip";
const XDM_ONLY: Emit = Emit {
    mdm: false,
    oru: false,
    xdm: true,
};

/// The entries of a ZIP, `(name, bytes)`.
type Entries = Vec<(String, Vec<u8>)>;

/// `(name, source message, conversion, entries of its package)` for every converted input.
fn packages() -> Vec<(String, Vec<u8>, Conversion, Entries)> {
    let out: Vec<_> = conversions(&XDM_ONLY)
        .into_iter()
        .filter(|(_, _, c)| c.outcome == Outcome::Converted)
        .map(|(name, raw, c)| {
            let zip = artefact(&c, XDM).unwrap_or_else(|| panic!("{name}: no package"));
            let entries = unzip(zip);
            (name, raw, c, entries)
        })
        .collect();
    assert!(out.len() >= 20, "{} packages", out.len());
    out
}

fn entry<'e>(entries: &'e [(String, Vec<u8>)], name: &str) -> &'e [u8] {
    &entries
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn package_layout() {
    for (name, _, c, entries) in packages() {
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "INDEX.HTM",
                "README.TXT",
                "IHE_XDM/SUBSET01/METADATA.XML",
                "IHE_XDM/SUBSET01/DOC0001.XML"
            ],
            "{name}"
        );
        let doc = entry(&entries, "IHE_XDM/SUBSET01/DOC0001.XML");
        assert!(
            doc == c.document.as_ref().unwrap().cda,
            "{name}: DOC0001.XML"
        );
        let index = String::from_utf8(entry(&entries, "INDEX.HTM").to_vec()).unwrap();
        assert!(
            index.contains("href=\"IHE_XDM/SUBSET01/DOC0001.XML\""),
            "{name}"
        );
        // the deflated entries are stamped with the document's time, not the clock
        let zip = artefact(&c, XDM).unwrap();
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let cda = parse_xml(doc);
        let effective = cda.child("effectiveTime").unwrap().attr("value").to_owned();
        for i in 0..archive.len() {
            let f = archive.by_index(i).unwrap();
            assert_eq!(f.compression(), zip::CompressionMethod::Deflated, "{name}");
            let t = f.last_modified().unwrap();
            let stamp = format!("{:04}{:02}{:02}", t.year(), t.month(), t.day());
            assert!(
                effective.starts_with(&stamp),
                "{name}: {stamp} vs {effective}"
            );
        }
    }
}

#[test]
fn every_metadata_is_valid_ebrim() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    for (name, _, _, entries) in packages() {
        let path = dir
            .path()
            .join(format!("{}.METADATA.XML", name.replace('#', "_")));
        std::fs::write(&path, entry(&entries, "IHE_XDM/SUBSET01/METADATA.XML")).unwrap();
        files.push(path);
    }
    let schema = root().join("schemas/ebrim-3.0/ebRS/lcm.xsd");
    xmllint(&schema, &files);
    // The check can fail: the same metadata without a required attribute does not validate.
    let broken = std::fs::read_to_string(&files[0]).unwrap().replacen(
        " registryObject=",
        " registryObjekt=",
        1,
    );
    let bad = dir.path().join("broken.xml");
    std::fs::write(&bad, broken).unwrap();
    let refused = std::panic::catch_unwind(|| xmllint(&schema, &[bad]));
    assert!(refused.is_err(), "xmllint accepted a broken METADATA.XML");
}

/// An XDS DTM in UTC from a CDA TS, computed here with jiff alone: a value without an offset
/// is Paris time (the default `document.time_zone`); a date stays a date.
fn utc(ts: &str) -> String {
    let (main, offset) = match ts.find(['+', '-']) {
        Some(i) => (&ts[..i], Some(&ts[i..])),
        None => (ts, None),
    };
    let digits = main.split('.').next().unwrap();
    if digits.len() <= 8 {
        return digits.to_owned();
    }
    let n = |from: usize| -> i8 { digits.get(from..from + 2).map_or(0, |s| s.parse().unwrap()) };
    let year: i16 = digits[..4].parse().unwrap();
    let civil = jiff::civil::date(year, n(4), n(6)).at(n(8), n(10), n(12), 0);
    let instant = match offset {
        Some(o) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let h: i32 = o[1..3].parse().unwrap();
            let m: i32 = o[3..5].parse().unwrap();
            jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60))
                .unwrap()
                .to_timestamp(civil)
                .unwrap()
        }
        None => jiff::tz::TimeZone::get("Europe/Paris")
            .unwrap()
            .to_ambiguous_timestamp(civil)
            .compatible()
            .unwrap(),
    };
    let u = jiff::tz::TimeZone::UTC.to_datetime(instant);
    let full = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        u.year(),
        u.month(),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    );
    full[..digits.len()].to_owned()
}

/// What METADATA.XML says about one registry object.
struct Object<'e> {
    element: &'e Element,
}

impl<'e> Object<'e> {
    fn id(&self) -> &'e str {
        self.element.attr("id")
    }

    fn slot(&self, name: &str) -> Vec<String> {
        slot_values(self.element, name)
    }

    /// `(nodeRepresentation, codingScheme, name)` of the classifications of this scheme.
    fn codes(&self, scheme: &str) -> Vec<(String, String, String)> {
        self.classifications(scheme)
            .map(|c| {
                (
                    c.attr("nodeRepresentation").to_owned(),
                    slot_values(c, "codingScheme").join(","),
                    c.at(&["Name", "LocalizedString"])
                        .map_or(String::new(), |l| l.attr("value").to_owned()),
                )
            })
            .collect()
    }

    fn classifications(&self, scheme: &'e str) -> impl Iterator<Item = &'e Element> + 'e {
        let id = self.id();
        self.element.all("Classification").filter(move |c| {
            c.attr("classificationScheme") == scheme && c.attr("classifiedObject") == id
        })
    }

    fn external(&self, scheme: &str) -> String {
        let e: Vec<&Element> = self
            .element
            .all("ExternalIdentifier")
            .filter(|e| e.attr("identificationScheme") == scheme)
            .collect();
        assert_eq!(e.len(), 1, "{scheme}");
        assert_eq!(e[0].attr("registryObject"), self.id());
        e[0].attr("value").to_owned()
    }
}

fn slot_values(e: &Element, name: &str) -> Vec<String> {
    e.all("Slot")
        .filter(|s| s.attr("name") == name)
        .flat_map(|s| s.child("ValueList").unwrap().all("Value"))
        .map(|v| v.text.clone())
        .collect()
}

fn one(values: Vec<String>, what: &str) -> String {
    assert_eq!(values.len(), 1, "{what}: {values:?}");
    values.into_iter().next().unwrap()
}

fn text(e: Option<&Element>) -> String {
    e.map_or(String::new(), |e| e.text.trim().to_owned())
}

fn cx(id: &Element) -> String {
    format!("{}^^^&{}&ISO", id.attr("extension"), id.attr("root"))
}

#[test]
fn metadata_values_are_those_of_the_cda_header() {
    let config = config();
    let ins_roots = [
        "1.2.250.1.213.1.4.8",
        "1.2.250.1.213.1.4.9",
        "1.2.250.1.213.1.4.10",
        "1.2.250.1.213.1.4.11",
    ];
    for (name, raw, c, entries) in packages() {
        let what = name.as_str();
        let doc = entry(&entries, "IHE_XDM/SUBSET01/DOC0001.XML");
        let cda = parse_xml(doc);
        let metadata = parse_xml(entry(&entries, "IHE_XDM/SUBSET01/METADATA.XML"));
        assert_eq!(metadata.name, "SubmitObjectsRequest");
        let list = metadata.child("RegistryObjectList").unwrap();
        let extrinsic: Vec<&Element> = list.all("ExtrinsicObject").collect();
        assert_eq!(extrinsic.len(), 1, "{what}");
        let e = Object {
            element: extrinsic[0],
        };
        assert_eq!(e.element.attr("mimeType"), "text/xml", "{what}");
        assert_eq!(
            e.element.attr("objectType"),
            "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1",
            "{what}"
        );
        assert!(e.id().starts_with("urn:uuid:"), "{what}");

        // uniqueId, patient ids
        let id = cda.child("id").unwrap();
        let unique_id = if id.attr("extension").is_empty() {
            id.attr("root").to_owned()
        } else {
            format!("{}^{}", id.attr("root"), id.attr("extension"))
        };
        let uid = e.external("urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab");
        assert_eq!(uid, unique_id, "{what}: uniqueId");
        let patient_ids: Vec<&Element> = cda
            .at(&["recordTarget", "patientRole"])
            .unwrap()
            .all("id")
            .collect();
        let ins = patient_ids
            .iter()
            .find(|i| ins_roots.contains(&i.attr("root")))
            .unwrap_or_else(|| panic!("{what}: no INS in the CDA"));
        let pid = e.external("urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427");
        assert_eq!(pid, cx(ins), "{what}: patientId");
        let metadata_report = &c.document.as_ref().unwrap().metadata;
        assert_eq!(
            pid, metadata_report.patient_id,
            "{what}: the report's patientId"
        );
        let source_pid = patient_ids
            .iter()
            .find(|i| !ins_roots.contains(&i.attr("root")))
            .map_or(pid.clone(), |i| cx(i));
        assert_eq!(one(e.slot("sourcePatientId"), what), source_pid, "{what}");

        // hash, size, URI
        let hash: String = Sha1::digest(doc)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(one(e.slot("hash"), what), hash, "{what}: hash");
        assert_eq!(
            one(e.slot("size"), what),
            doc.len().to_string(),
            "{what}: size"
        );
        assert_eq!(one(e.slot("URI"), what), "DOC0001.XML", "{what}");

        // times
        let effective = cda.child("effectiveTime").unwrap().attr("value");
        assert_eq!(
            one(e.slot("creationTime"), what),
            utc(effective),
            "{what}: creationTime"
        );
        let service = cda.at(&["documentationOf", "serviceEvent", "effectiveTime"]);
        for (slot, bound) in [("serviceStartTime", "low"), ("serviceStopTime", "high")] {
            let want: Vec<String> = service
                .and_then(|s| s.child(bound))
                .map(|b| utc(b.attr("value")))
                .into_iter()
                .collect();
            assert_eq!(e.slot(slot), want, "{what}: {slot}");
        }

        // title, language
        let title = e
            .element
            .at(&["Name", "LocalizedString"])
            .unwrap()
            .attr("value");
        assert_eq!(title, text(cda.child("title")), "{what}: title");
        let language = cda.child("languageCode").unwrap().attr("code");
        assert_eq!(one(e.slot("languageCode"), what), language, "{what}");

        // typeCode, classCode, formatCode
        let code = cda.child("code").unwrap();
        let doc_type = terminology::document_type(code.attr("code")).unwrap();
        assert_eq!(
            e.codes("urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"),
            [(
                code.attr("code").to_owned(),
                code.attr("codeSystem").to_owned(),
                doc_type.display.to_owned()
            )],
            "{what}: typeCode"
        );
        let class = doc_type.class.unwrap();
        assert_eq!(
            e.codes("urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"),
            [(
                class.code.to_owned(),
                class.code_system.to_owned(),
                class.display.to_owned()
            )],
            "{what}: classCode"
        );
        let media = cda
            .at(&["component", "nonXMLBody", "text"])
            .expect("the inputs are non-structured documents")
            .attr("mediaType");
        let format = terminology::format_code_for_media_type(media).unwrap();
        let formats = e.codes("urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d");
        assert_eq!(formats.len(), 1, "{what}");
        assert_eq!(
            (formats[0].0.as_str(), formats[0].1.as_str()),
            (format.code, format.code_system),
            "{what}: formatCode"
        );
        assert_eq!(formats[0].0, metadata_report.format_code, "{what}");

        // confidentiality: the CDA's code, then the visibility flags (as the report has them)
        let confidentiality = e.codes("urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f");
        let codes: Vec<&str> = confidentiality.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(
            codes[0],
            cda.child("confidentialityCode").unwrap().attr("code"),
            "{what}"
        );
        assert_eq!(
            codes, metadata_report.confidentiality,
            "{what}: confidentialityCode"
        );
        assert_eq!(confidentiality[0].1, "2.16.840.1.113883.5.25", "{what}");
        for c in &confidentiality[1..] {
            assert_eq!(c.1, "1.2.250.1.213.1.1.4.13", "{what}: TRE_A07");
        }

        // facility and practice setting
        let facility = cda
            .at(&[
                "componentOf",
                "encompassingEncounter",
                "location",
                "healthCareFacility",
                "code",
            ])
            .map(|c| (c.attr("code").to_owned(), c.attr("codeSystem").to_owned()))
            .unwrap_or(("SA01".into(), "1.2.250.1.71.4.2.4".into()));
        let got = e.codes("urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1");
        assert_eq!((got[0].0.clone(), got[0].1.clone()), facility, "{what}");
        let practice = cda
            .at(&[
                "documentationOf",
                "serviceEvent",
                "performer",
                "assignedEntity",
                "representedOrganization",
                "standardIndustryClassCode",
            ])
            .unwrap();
        let got = e.codes("urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead");
        assert_eq!(
            (got[0].0.as_str(), got[0].1.as_str()),
            (practice.attr("code"), practice.attr("codeSystem")),
            "{what}: practiceSettingCode"
        );

        // authors and legal authenticator
        let authors: Vec<&Element> = e
            .classifications("urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d")
            .collect();
        let cda_authors: Vec<&Element> = cda.all("author").collect();
        assert_eq!(authors.len(), cda_authors.len(), "{what}: authors");
        for (a, ca) in authors.iter().zip(&cda_authors) {
            assert_eq!(a.attr("nodeRepresentation"), "", "{what}");
            let assigned = ca.child("assignedAuthor").unwrap();
            let aid = assigned.child("id").unwrap();
            let person = one(slot_values(a, "authorPerson"), what);
            let parts: Vec<&str> = person.split('^').collect();
            assert_eq!(parts[0], aid.attr("extension"), "{what}: authorPerson");
            assert_eq!(parts[8], format!("&{}&ISO", aid.attr("root")), "{what}");
            let family = text(assigned.at(&["assignedPerson", "name", "family"]));
            assert_eq!(parts[1], family, "{what}: author family name");
            if let Some(org) = assigned.child("representedOrganization") {
                let inst = one(slot_values(a, "authorInstitution"), what);
                let parts: Vec<&str> = inst.split('^').collect();
                assert_eq!(
                    parts[0],
                    text(org.child("name")),
                    "{what}: authorInstitution"
                );
                let oid = org.child("id").unwrap();
                assert_eq!(parts[5], format!("&{}&ISO", oid.attr("root")), "{what}");
                assert_eq!(parts[9], oid.attr("extension"), "{what}");
            }
            match assigned.child("code") {
                Some(s) => assert_eq!(
                    one(slot_values(a, "authorSpecialty"), what),
                    format!(
                        "{}^{}^{}",
                        s.attr("code"),
                        s.attr("displayName"),
                        s.attr("codeSystem")
                    ),
                    "{what}"
                ),
                None => assert!(slot_values(a, "authorSpecialty").is_empty(), "{what}"),
            }
        }
        let legal = cda
            .at(&["legalAuthenticator", "assignedEntity", "id"])
            .unwrap();
        let l = one(e.slot("legalAuthenticator"), what);
        assert_eq!(l.split('^').next(), Some(legal.attr("extension")), "{what}");

        // the submission set, its member, its classification
        let packages: Vec<&Element> = list.all("RegistryPackage").collect();
        assert_eq!(packages.len(), 1, "{what}");
        let s = Object {
            element: packages[0],
        };
        assert_eq!(
            s.external("urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"),
            pid,
            "{what}: submission set patientId"
        );
        assert_eq!(
            s.external("urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"),
            config.oids.document_root,
            "{what}: sourceId"
        );
        let set_uid = s.external("urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8");
        assert!(dmpfeed::config::is_oid(&set_uid), "{what}: {set_uid}");
        let pv1_2 = with_message(&raw, |m| get(m, "PV1-2"));
        let content_type = match pv1_2.as_str() {
            "I" => "03",
            "O" | "E" => "07",
            "R" => "19",
            _ => "97",
        };
        let ct = s.codes("urn:uuid:aa543740-bdda-424e-8c96-df4873be8500");
        assert_eq!(
            (ct[0].0.as_str(), ct[0].1.as_str()),
            (content_type, "1.2.250.1.213.2.2"),
            "{what}: contentTypeCode"
        );
        let msh7 = with_message(&raw, |m| get(m, "MSH-7"));
        assert_eq!(
            one(s.slot("submissionTime"), what),
            utc(&msh7),
            "{what}: submissionTime"
        );
        let set_author = s
            .classifications("urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d")
            .next()
            .unwrap();
        assert!(
            !slot_values(set_author, "authorInstitution").is_empty(),
            "{what}"
        );
        let classification: Vec<&Element> = list
            .all("Classification")
            .filter(|c| {
                c.attr("classificationNode") == "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
            })
            .collect();
        assert_eq!(classification.len(), 1, "{what}");
        assert_eq!(classification[0].attr("classifiedObject"), s.id(), "{what}");
        let association: Vec<&Element> = list.all("Association").collect();
        assert_eq!(association.len(), 1, "{what}");
        let a = association[0];
        assert_eq!(
            a.attr("associationType"),
            "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
        );
        assert_eq!(
            (a.attr("sourceObject"), a.attr("targetObject")),
            (s.id(), e.id()),
            "{what}"
        );
        assert_eq!(
            slot_values(a, "SubmissionSetStatus"),
            ["Original"],
            "{what}"
        );

        // every object id is unique
        let mut ids = HashSet::new();
        collect_ids(&metadata, &mut ids, what);
    }
}

fn collect_ids(e: &Element, seen: &mut HashSet<String>, what: &str) {
    let id = e.attr("id");
    if !id.is_empty() {
        assert!(seen.insert(id.to_owned()), "{what}: id {id} twice");
    }
    for c in &e.children {
        collect_ids(c, seen, what);
    }
}

#[test]
fn masked_documents_carry_the_visibility_codes() {
    let (_, _, _, entries) = packages()
        .into_iter()
        .find(|(n, ..)| n == "mdm-t02-masked")
        .unwrap();
    let metadata = parse_xml(entry(&entries, "IHE_XDM/SUBSET01/METADATA.XML"));
    let list = metadata.child("RegistryObjectList").unwrap();
    let e = Object {
        element: list.child("ExtrinsicObject").unwrap(),
    };
    let codes: Vec<String> = e
        .codes("urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f")
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(codes, ["N", "MASQUE_PS", "INVISIBLE_PATIENT"]);
}

/// The document entry's UUID is named by the document's uniqueId: the same document gives the
/// same ids, another document other ids.
#[test]
fn ids_are_stable_and_distinct() {
    let mut entry_ids = HashSet::new();
    for (name, _, _, entries) in packages() {
        let metadata = parse_xml(entry(&entries, "IHE_XDM/SUBSET01/METADATA.XML"));
        let list = metadata.child("RegistryObjectList").unwrap();
        let id = list.child("ExtrinsicObject").unwrap().attr("id").to_owned();
        assert!(
            entry_ids.insert(id),
            "{name}: an entryUUID shared with another document"
        );
    }
}
