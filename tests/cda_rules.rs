//! The conversion rules of issue 4 at message level, one table per rule: sample outcomes, the
//! event ↔ ORC-1 ↔ OBX-11 consistency, replacements, content, document types, authors, the
//! MetaDMPMSS flags, timestamps, and the ANS example messages.

mod cda_support;

use cda_support::*;
use dmpfeed::config::Config;
use dmpfeed::convert::Conversion;
use dmpfeed::reason::{Outcome, ReasonCode};

fn convert(text: &str) -> Conversion {
    convert_raw(text.as_bytes(), &Config::default())
}

fn codes(c: &Conversion) -> Vec<&'static str> {
    c.codes().iter().map(|c| c.as_str()).collect()
}

fn paths(c: &Conversion) -> Vec<&str> {
    c.findings.iter().map(|f| f.path.as_str()).collect()
}

#[track_caller]
fn assert_outcome(c: &Conversion, outcome: Outcome, want_codes: &[&str], what: &str) {
    assert_eq!(
        (c.outcome, codes(c)),
        (outcome, want_codes.to_vec()),
        "{what}: {:?}",
        c.findings
    );
}

const OPERATIVE: &str = "mdm-t02-operative-pdf.hl7";
const ORU: &str = "oru-r01-prescription-pdf.hl7";

#[test]
fn sample_outcomes() {
    let cases: &[(&str, Outcome, &[&str])] = &[
        (OPERATIVE, Outcome::Converted, &[]),
        (
            "mdm-t02-consultation-text-latin1.hl7",
            Outcome::Converted,
            &[],
        ),
        (
            "mdm-t02-hospitalisation-text-latin9.hl7",
            Outcome::Converted,
            &[],
        ),
        ("mdm-t02-discharge-letter-pdf.hl7", Outcome::Converted, &[]),
        ("mdm-t02-masked.hl7", Outcome::Converted, &[]),
        ("mdm-t02-radiology-cda.hl7", Outcome::Converted, &[]),
        ("mdm-t10-replacement.hl7", Outcome::Converted, &[]),
        (ORU, Outcome::Converted, &[]),
        (
            "mdm-t02-destdmp-n.hl7",
            Outcome::Excluded,
            &["DMP_OPPOSITION"],
        ),
        ("mdm-t04-deletion.hl7", Outcome::Deleted, &[]),
        ("oru-r01-deletion.hl7", Outcome::Deleted, &[]),
        (
            "held-cda-identity-mismatch.hl7",
            Outcome::Held,
            &["DOCUMENT_IDENTITY_MISMATCH"],
        ),
        (
            "rejected-t10-without-txa13.hl7",
            Outcome::Rejected,
            &["REPLACED_DOCUMENT_MISSING"],
        ),
        (
            "rejected-unknown-type.hl7",
            Outcome::Rejected,
            &["DOCUMENT_TYPE_UNKNOWN"],
        ),
    ];
    for (name, outcome, want) in cases {
        let c = convert_raw(&sample(name), &Config::default());
        assert_outcome(&c, *outcome, want, name);
    }
    // files of several messages
    let multi: &[(&str, &[Outcome])] = &[
        ("batch.hl7", &[Outcome::Converted; 3]),
        ("stream-mllp.hl7", &[Outcome::Converted; 5]),
        (
            "concatenated-crlf.hl7",
            &[Outcome::Converted, Outcome::Converted, Outcome::Deleted],
        ),
    ];
    for (name, want) in multi {
        let got: Vec<Outcome> = sample_messages(name)
            .iter()
            .map(|m| convert_raw(m, &Config::default()).outcome)
            .collect();
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn ids_versions_and_deletions() {
    let config = Config::default();
    let c = convert_raw(&sample(OPERATIVE), &config);
    let m = c.document.as_ref().unwrap().metadata.clone();
    assert_eq!(
        (m.unique_id.as_str(), m.set_id.as_str(), m.version),
        ("1.2.250.1.999.1.2.1001", "1.2.250.1.999.1.2.1001", 1)
    );
    assert_eq!(c.name_key.as_deref(), Some("1.2.250.1.999.1.2.1001"));
    // T10: TXA-12 is the new version, TXA-13 the replaced one (setId, version 2)
    let c = convert_raw(&sample("mdm-t10-replacement.hl7"), &config);
    let m = &c.document.as_ref().unwrap().metadata;
    assert_eq!(
        (m.unique_id.as_str(), m.set_id.as_str(), m.version),
        ("1.2.250.1.999.1.2.1002", "1.2.250.1.999.1.2.1001", 2)
    );
    // T04 names TXA-12; an ORU deletion names OBR-3, the id its NW got
    let deleted = |name: &str| {
        let c = convert_raw(&sample(name), &config);
        c.deletion.unwrap().document_id
    };
    assert_eq!(deleted("mdm-t04-deletion.hl7"), "1.2.250.1.999.1.2.1002");
    let oru = convert_raw(&sample(ORU), &config);
    assert_eq!(
        deleted("oru-r01-deletion.hl7"),
        oru.document.unwrap().metadata.unique_id
    );
    // a local TXA-12 gives a derived OID under oids.document_root, the same every time
    let local = set_field(&sample_text(OPERATIVE), "TXA", 12, "CR-2024-42^DPI-DEMO");
    let a = convert(&local).document.unwrap().metadata.unique_id;
    let b = convert(&local).document.unwrap().metadata.unique_id;
    assert_eq!(a, b);
    assert!(a.starts_with("1.2.250.1.999.1.2.99."), "{a}");
    // a TXA-12 that looks like an OID but is not one (X.660: first arc 0, 1 or 2; the CDA XSD
    // `uid` pattern) is a local id too: derived, never written as the root
    for not_oid in ["3.1.2.5", "1.40.2", "1.2.03"] {
        let t = set_field(&sample_text(OPERATIVE), "TXA", 12, not_oid);
        let id = convert(&t).document.unwrap().metadata.unique_id;
        assert!(
            id.starts_with("1.2.250.1.999.1.2.99."),
            "{not_oid} gave {id}"
        );
    }
    // no TXA-12 and no OBR-3: derived from MSH-10
    let none = set_field(&sample_text(OPERATIVE), "TXA", 12, "");
    let c = convert(&none).document.unwrap().metadata.unique_id;
    assert!(c.starts_with("1.2.250.1.999.1.2.99.") && c != a, "{c}");
}

#[test]
fn event_consistency() {
    let t02 = sample_text(OPERATIVE);
    let t10 = sample_text("mdm-t10-replacement.hl7");
    let t04 = sample_text("mdm-t04-deletion.hl7");
    let oru = sample_text(ORU);
    let doc_obx11 = |text: &str, v: &str| {
        let obx = text.split('\r').find(|l| l.starts_with("OBX|1|")).unwrap();
        let mut fields: Vec<&str> = obx.split('|').collect();
        fields[11] = v;
        replace_once(text, obx, &fields.join("|"))
    };
    // (message, expected outcome, codes, paths)
    type Case = (
        &'static str,
        String,
        Outcome,
        &'static [&'static str],
        &'static [&'static str],
    );
    let cases: Vec<Case> = vec![
        ("T02 NW F", t02.clone(), Outcome::Converted, &[], &[]),
        (
            "T02 with ORC RO",
            set_field(&t02, "ORC", 1, "RO"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["ORC-1"],
        ),
        (
            "T02 with OBX-11 C",
            doc_obx11(&t02, "C"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["OBX[1]-11"],
        ),
        (
            "T02 with OBX-11 D",
            doc_obx11(&t02, "D"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["OBX[1]-11"],
        ),
        (
            "T10 with ORC NW",
            set_field(&t10, "ORC", 1, "NW"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["ORC-1"],
        ),
        (
            "T10 with OBX-11 F",
            doc_obx11(&t10, "F"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["OBX[1]-11"],
        ),
        (
            "T04 with ORC NW",
            set_field(&t04, "ORC", 1, "NW"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["ORC-1"],
        ),
        (
            "T04 with OBX-11 F",
            doc_obx11(&t04, "F"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["OBX[1]-11"],
        ),
        (
            "T02 without ORC",
            drop_segments(&t02, "ORC|"),
            Outcome::Converted,
            &[],
            &[],
        ),
        (
            "ORU NW with OBX-11 D",
            doc_obx11(&oru, "D"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["OBX[1]-11"],
        ),
        (
            "ORU CA with OBX-11 F",
            set_field(&oru, "ORC", 1, "CA"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["OBX[1]-11"],
        ),
        (
            "ORU XO",
            set_field(&oru, "ORC", 1, "XO"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT"],
            &["ORC-1"],
        ),
        (
            "ORU CA D",
            doc_obx11(&set_field(&oru, "ORC", 1, "CA"), "D"),
            Outcome::Deleted,
            &[],
            &[],
        ),
        // the flag OBX keep F in a deletion: only the document OBX is compared
        ("T04 flags F", t04.clone(), Outcome::Deleted, &[], &[]),
    ];
    for (what, text, outcome, want_codes, want_paths) in cases {
        let c = convert(&text);
        assert_outcome(&c, outcome, want_codes, what);
        assert_eq!(paths(&c), want_paths.to_vec(), "{what}");
    }
}

#[test]
fn replacements_need_their_parent() {
    let t10 = sample_text("mdm-t10-replacement.hl7");
    let cases: Vec<(&str, String, Outcome, &[&str])> = vec![
        ("T10", t10.clone(), Outcome::Converted, &[]),
        (
            "T10 without TXA-13",
            set_field(&t10, "TXA", 13, ""),
            Outcome::Rejected,
            &["REPLACED_DOCUMENT_MISSING"],
        ),
        (
            "T10 replacing itself",
            set_field(&t10, "TXA", 13, "1.2.250.1.999.1.2.1002"),
            Outcome::Rejected,
            &["REPLACED_DOCUMENT_MISSING"],
        ),
        (
            "T10 without TXA-13 and with ORC NW: both reported",
            set_field(&set_field(&t10, "TXA", 13, ""), "ORC", 1, "NW"),
            Outcome::Rejected,
            &["EVENT_INCONSISTENT", "REPLACED_DOCUMENT_MISSING"],
        ),
    ];
    for (what, text, outcome, want) in cases {
        assert_outcome(&convert(&text), outcome, want, what);
    }
    // an ORU replacement (ORC RO, OBX-11 C) replaces the document of its OBR-3
    let oru = sample_text(ORU);
    let ro = set_field(&oru, "ORC", 1, "RO")
        .replace("||||||F|||20240314120000", "||||||C|||20240314120000");
    let c = convert(&ro);
    assert_outcome(&c, Outcome::Converted, &[], "ORU RO");
    let cda = String::from_utf8(c.document.unwrap().cda).unwrap();
    assert!(cda.contains("<relatedDocument typeCode=\"RPLC\">"));
    assert!(cda.contains("<id root=\"1.2.250.1.999.1.2.3001\"/>"));
}

#[test]
fn content_rules() {
    let base = sample_text(OPERATIVE);
    let obx = base
        .split('\r')
        .find(|l| l.starts_with("OBX|1|"))
        .unwrap()
        .to_owned();
    let with_obx5 = |obx5: &str| {
        let mut fields: Vec<&str> = obx.split('|').collect();
        fields[5] = obx5;
        replace_once(&base, &obx, &fields.join("|"))
    };
    let cases: Vec<(&str, String, Outcome, &[&str])> = vec![
        (
            "no document OBX",
            drop_segments(&base, "OBX|1|"),
            Outcome::Rejected,
            &["CONTENT_MISSING"],
        ),
        (
            "empty OBX-5",
            with_obx5(""),
            Outcome::Rejected,
            &["CONTENT_MISSING"],
        ),
        (
            "empty data",
            with_obx5("^application^pdf^Base64^"),
            Outcome::Rejected,
            &["CONTENT_MISSING"],
        ),
        (
            "no data component",
            with_obx5("^application^pdf^Base64"),
            Outcome::Rejected,
            &["CONTENT_MISSING"],
        ),
        (
            "bad base64",
            with_obx5("^application^pdf^Base64^JVBER!i0xLjQK"),
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "truncated base64",
            with_obx5("^application^pdf^Base64^JVBERi0xLjQ"),
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "not a PDF",
            with_obx5("^application^pdf^Base64^SGVsbG8gd29ybGQ="),
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "not base64 encoding",
            with_obx5("^application^pdf^A^%PDF-1.4"),
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "unknown media type",
            with_obx5("^image^png^Base64^iVBORw0KGgo="),
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "XML that is not XML",
            with_obx5("^text^XML^Base64^SGVsbG8gd29ybGQ="),
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "a PDF as AP/PDF",
            with_obx5(
                &obx.split('|')
                    .nth(5)
                    .unwrap()
                    .replace("^application^pdf^", "^AP^PDF^"),
            ),
            Outcome::Converted,
            &[],
        ),
        (
            "value type NM",
            replace_once(&base, "OBX|1|ED|", "OBX|1|NM|"),
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "empty TX",
            replace_once(&with_obx5(""), "OBX|1|ED|", "OBX|1|TX|"),
            Outcome::Rejected,
            &["CONTENT_MISSING"],
        ),
    ];
    for (what, text, outcome, want) in cases {
        let c = convert(&text);
        assert_outcome(&c, outcome, want, what);
    }
    // the decoded-size limit
    let config = Config::from_toml("[limits]\nmax_content_bytes = 100\n", "test").unwrap();
    let c = convert_raw(base.as_bytes(), &config);
    assert_outcome(
        &c,
        Outcome::Rejected,
        &["MESSAGE_TOO_LARGE"],
        "content over the limit",
    );
}

#[test]
fn the_document_is_the_first_obx_that_is_not_a_flag() {
    let base = sample_text(OPERATIVE);
    let obx1 = base
        .split('\r')
        .find(|l| l.starts_with("OBX|1|"))
        .unwrap()
        .to_owned();
    let corpsmail = "OBX|1|ED|CORPSMAIL_PS^Corps du mail pour un PS^MetaDMPMSS||^text^^Base64^Q2hlciBjb25mcsOocmU=||||||F";
    // a CORPSMAIL_PS flag (base64 ED too) before the document: still the PDF
    let before = replace_once(&base, &obx1, &format!("{corpsmail}\r{obx1}"));
    let c = convert(&before);
    assert_outcome(&c, Outcome::Converted, &[], "CORPSMAIL first");
    assert_eq!(
        c.document.unwrap().metadata.format_code,
        "urn:ihe:iti:xds-sd:pdf:2008"
    );
    // only flags: no document
    let only_flags = replace_once(&base, &obx1, corpsmail);
    assert_outcome(
        &convert(&only_flags),
        Outcome::Rejected,
        &["CONTENT_MISSING"],
        "only flags",
    );
    // an ORU carrying the document twice (N1 then N3): the first; the second's OBX-11 is not
    // the document's
    let oru = sample_text(ORU);
    let doc = oru
        .split('\r')
        .find(|l| l.starts_with("OBX|1|"))
        .unwrap()
        .to_owned();
    let second =
        "OBX|2|ED|57833-6^Prescription^LN||^TEXT^XML^Base64^PENsaW5pY2FsRG9jdW1lbnQvPg==||||||D";
    let twice = replace_once(&oru, &doc, &format!("{doc}\r{second}"));
    let c = convert(&twice);
    assert_outcome(&c, Outcome::Converted, &[], "ORU twice");
    assert_eq!(
        c.document.unwrap().metadata.format_code,
        "urn:ihe:iti:xds-sd:pdf:2008"
    );
}

#[test]
fn document_types() {
    let base = sample_text(OPERATIVE);
    let local = |code: &str| {
        let t = set_field(&base, "TXA", 2, &format!("{code}^Local^L"));
        let t = set_field(&t, "OBR", 4, &format!("{code}^Local^L"));
        replace_once(
            &t,
            "OBX|1|ED|34874-8^CR opératoire^LN",
            &format!("OBX|1|ED|{code}^Local^L"),
        )
    };
    let default = Config::default();
    let mapped = Config::from_toml("[document.type_map]\nCR-OPE = \"34874-8\"\n", "test").unwrap();
    let cases: Vec<(&str, String, &Config, Result<&str, &str>)> = vec![
        ("LOINC in TXA-2", base.clone(), &default, Ok("34874-8")),
        (
            "local code, not mapped",
            local("CR-OPE"),
            &default,
            Err("TXA-2"),
        ),
        (
            "local code, mapped",
            local("CR-OPE"),
            &mapped,
            Ok("34874-8"),
        ),
        (
            "TRE_A05 code",
            replace_once(
                &base,
                "TXA|1|34874-8^CR opératoire^LN",
                "TXA|1|PRESC-BIO^^TRE_A05",
            ),
            &default,
            Ok("PRESC-BIO"),
        ),
        (
            "code without system (ANS example TXA-2)",
            set_field(&base, "TXA", 2, "11488-4"),
            &default,
            Ok("11488-4"),
        ),
        // a J07-looking code in a local system is local
        (
            "J07 code in a local system",
            local("34874-8"),
            &default,
            Err("TXA-2"),
        ),
        (
            "TXA-2 empty: OBR-4",
            set_field(&base, "TXA", 2, ""),
            &default,
            Ok("34874-8"),
        ),
        // in J07 and J66 but without an ASS_X04 class: no XDS classCode, refused
        (
            "a J07 type without class (101881-1)",
            set_field(&base, "TXA", 2, "101881-1^Carte d'implant^LN"),
            &default,
            Err("TXA-2"),
        ),
    ];
    for (what, text, config, want) in cases {
        let c = convert_raw(text.as_bytes(), config);
        match want {
            Ok(code) => {
                assert_outcome(&c, Outcome::Converted, &[], what);
                assert_eq!(c.document.unwrap().metadata.type_code, code, "{what}");
            }
            Err(path) => {
                assert_outcome(&c, Outcome::Rejected, &["DOCUMENT_TYPE_UNKNOWN"], what);
                assert_eq!(paths(&c), [path], "{what}");
            }
        }
    }
    // classCode from ASS_X04: 10 for reports and letters, 42 for prescriptions
    for (name, class) in [
        (OPERATIVE, "10"),
        ("mdm-t02-discharge-letter-pdf.hl7", "10"),
        (ORU, "42"),
    ] {
        let c = convert_raw(&sample(name), &Config::default());
        assert_eq!(c.document.unwrap().metadata.class_code, class, "{name}");
    }
    // title: OBX-3.2, else TXA-2.2, else the J07 displayName
    let titled = replace_once(
        &base,
        "OBX|1|ED|34874-8^CR opératoire^LN",
        "OBX|1|ED|34874-8^Cholécystectomie^LN",
    );
    let cda = String::from_utf8(convert(&titled).document.unwrap().cda).unwrap();
    assert!(cda.contains("<title>Cholécystectomie</title>"));
    let untitled = replace_once(
        &base,
        "OBX|1|ED|34874-8^CR opératoire^LN",
        "OBX|1|ED|34874-8^^LN",
    );
    let untitled = set_field(&untitled, "TXA", 2, "34874-8");
    let cda = String::from_utf8(convert(&untitled).document.unwrap().cda).unwrap();
    assert!(cda.contains("<title>CR opératoire</title>"));
}

#[test]
fn authors() {
    let base = sample_text(OPERATIVE);
    // no TXA-9, TXA-5, PRT SB, PV1-7 (the sample has no OBR-32), nor TXA-22
    let no_author = {
        let t = set_field(&base, "TXA", 9, "");
        let t = set_field(&t, "TXA", 5, "");
        let t = set_field(&t, "TXA", 22, "");
        let t = set_field(&t, "PV1", 7, "");
        drop_segments(&t, "PRT|")
    };
    let default = Config::default();
    let with_default = Config::from_toml(
        "[document.default_author]\nid = \"899900000001\"\nfamily = \"SECRÉTARIAT\"\nspecialty = \"G15_10\"\n",
        "test",
    )
    .unwrap();
    let author_id = |c: Conversion| {
        let cda = String::from_utf8(c.document.unwrap().cda).unwrap();
        let a = cda.find("<assignedAuthor>").unwrap();
        let ext = cda[a..].find("extension=\"").unwrap() + a + "extension=\"".len();
        cda[ext..ext + 12].to_owned()
    };
    // (what, text, config, Some(author id) or AUTHOR_MISSING)
    let cases: Vec<(&str, String, &Config, Option<&str>)> = vec![
        ("TXA-9", base.clone(), &default, Some("810000100015")),
        (
            "TXA-5 when TXA-9 is empty",
            set_field(
                &set_field(&base, "TXA", 9, ""),
                "TXA",
                5,
                "10000100099^AUTRE^Paul^^^DR^^^^^^^RPPS",
            ),
            &default,
            Some("810000100099"),
        ),
        (
            "PV1-7 last",
            set_field(
                &no_author,
                "PV1",
                7,
                "810000100072^ATTENDING^Max^^^DR^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS",
            ),
            &default,
            Some("810000100072"),
        ),
        (
            "PRT SB before PV1-7",
            set_field(
                &set_field(&set_field(&base, "TXA", 9, ""), "TXA", 5, ""),
                "PV1",
                7,
                "",
            ),
            &default,
            Some("810000100015"),
        ),
        ("none", no_author.clone(), &default, None),
        (
            "the configured default",
            no_author.clone(),
            &with_default,
            Some("899900000001"),
        ),
        (
            "an author without id is no author",
            set_field(&no_author, "PV1", 7, "^SANSID^Jean"),
            &default,
            None,
        ),
    ];
    for (what, text, config, want) in cases {
        let c = convert_raw(text.as_bytes(), config);
        match want {
            Some(id) => {
                assert_outcome(&c, Outcome::Converted, &[], what);
                assert_eq!(author_id(c), id, "{what}");
            }
            None => assert_outcome(&c, Outcome::Rejected, &["AUTHOR_MISSING"], what),
        }
    }
    // OBR-32 (an ORU): the ORU sample has no TXA, its author comes from OBR-32
    let oru = sample_text(ORU);
    let oru = set_field(&set_field(&oru, "PV1", 7, ""), "ORC", 12, "");
    let oru = drop_segments(&oru, "PRT|");
    assert_eq!(author_id(convert(&oru)), "810000100049");
    // the default author's specialty is written
    let cda = String::from_utf8(
        convert_raw(no_author.as_bytes(), &with_default)
            .document
            .unwrap()
            .cda,
    )
    .unwrap();
    assert!(
        cda.contains("<code code=\"G15_10\" displayName=\"Médecin\""),
        "{cda}"
    );
}

#[test]
fn flags_and_confidentiality() {
    let base = sample_text(OPERATIVE);
    let flag = |text: &str, code: &str, v: &str| {
        let line = text
            .split('\r')
            .find(|l| l.contains(&format!("|{code}^")))
            .unwrap()
            .to_owned();
        let new = line
            .replace(
                "||N^^expandedYes-NoIndicator",
                &format!("||{v}^^expandedYes-NoIndicator"),
            )
            .replace(
                "||Y^^expandedYes-NoIndicator",
                &format!("||{v}^^expandedYes-NoIndicator"),
            );
        replace_once(text, &line, &new)
    };
    let confidentiality = |text: &str| convert(text).document.unwrap().metadata.confidentiality;
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("none", base.clone(), &["N"]),
        (
            "MASQUE_PS",
            flag(&base, "MASQUE_PS", "Y"),
            &["N", "MASQUE_PS"],
        ),
        (
            "INVISIBLE_PATIENT",
            flag(&base, "INVISIBLE_PATIENT", "Y"),
            &["N", "INVISIBLE_PATIENT"],
        ),
        (
            "INVISIBLE_REP_LEGAUX",
            flag(&base, "INVISIBLE_REP_LEGAUX", "Y"),
            &["N", "INVISIBLE_REPRESENTANTS_LEGAUX"],
        ),
        (
            "CONNEXION_SECRETE is not J58",
            flag(&base, "CONNEXION_SECRETE", "Y"),
            &["N"],
        ),
        ("TXA-18 V", set_field(&base, "TXA", 18, "V"), &["V"]),
        ("TXA-18 R", set_field(&base, "TXA", 18, "R"), &["R"]),
        ("TXA-18 U", set_field(&base, "TXA", 18, "U"), &["N"]),
        (
            "all",
            flag(
                &flag(
                    &flag(&set_field(&base, "TXA", 18, "R"), "MASQUE_PS", "Y"),
                    "INVISIBLE_PATIENT",
                    "Y",
                ),
                "INVISIBLE_REP_LEGAUX",
                "Y",
            ),
            &[
                "R",
                "MASQUE_PS",
                "INVISIBLE_PATIENT",
                "INVISIBLE_REPRESENTANTS_LEGAUX",
            ],
        ),
    ];
    for (what, text, want) in cases {
        assert_eq!(confidentiality(&text), want.to_vec(), "{what}");
    }
    let masked = convert_raw(&sample("mdm-t02-masked.hl7"), &Config::default());
    assert_eq!(
        masked.document.unwrap().metadata.confidentiality,
        ["N", "MASQUE_PS", "INVISIBLE_PATIENT"]
    );
    // the CDA confidentialityCode is the TXA-18 one; no flag and no CONNEXION_SECRETE in the CDA
    let secret = flag(
        &flag(&set_field(&base, "TXA", 18, "V"), "CONNEXION_SECRETE", "Y"),
        "MASQUE_PS",
        "Y",
    );
    let cda = String::from_utf8(convert(&secret).document.unwrap().cda).unwrap();
    assert!(cda.contains("<confidentialityCode code=\"V\" displayName=\"Très restreint\""));
    for absent in ["CONNEXION_SECRETE", "MASQUE_PS", "MetaDMPMSS"] {
        assert!(!cda.contains(absent), "{absent}");
    }
    // DESTDMP = N: excluded, with the flag's path; a deletion is a deletion even so
    let destdmp_n = flag(&base, "DESTDMP", "N");
    let c = convert(&destdmp_n);
    assert_outcome(&c, Outcome::Excluded, &["DMP_OPPOSITION"], "DESTDMP N");
    assert_eq!(paths(&c), ["OBX[7]-5"]);
    assert!(c.document.is_none());
    let t04 = flag(&sample_text("mdm-t04-deletion.hl7"), "DESTDMP", "N");
    assert_outcome(&convert(&t04), Outcome::Deleted, &[], "T04 with DESTDMP N");
    // excluded even when the document has problems of its own
    let broken = set_field(&destdmp_n, "TXA", 2, "XYZ^x^L");
    assert_outcome(
        &convert(&broken),
        Outcome::Excluded,
        &["DMP_OPPOSITION"],
        "excluded first",
    );
    // but an event that disagrees with ORC-1 is rejected: `rejected` wins (README)
    let inconsistent = set_field(&destdmp_n, "ORC", 1, "RO");
    assert_outcome(
        &convert(&inconsistent),
        Outcome::Rejected,
        &["EVENT_INCONSISTENT"],
        "DESTDMP N with ORC-1 RO on a T02",
    );
}

#[test]
fn timestamps() {
    let base = sample_text(OPERATIVE);
    let cda = |text: &str| String::from_utf8(convert(text).document.unwrap().cda).unwrap();
    // effectiveTime: TXA-6, TXA-4, OBX-14, MSH-7, with the site's offset in summer too
    let cases: Vec<(&str, String, &str)> = vec![
        ("TXA-6", base.clone(), "20240318143005+0100"),
        (
            "TXA-4",
            set_field(&base, "TXA", 6, ""),
            "20240318103000+0100",
        ),
        (
            "MSH-7",
            set_field(&set_field(&base, "TXA", 6, ""), "TXA", 4, ""),
            "20240318143005+0100",
        ),
        (
            "summer",
            set_field(&base, "TXA", 6, "20240718103000"),
            "20240718103000+0200",
        ),
        (
            "minutes",
            set_field(&base, "TXA", 6, "202407181030"),
            "202407181030+0200",
        ),
        (
            "sent offset",
            set_field(&base, "TXA", 6, "20240718103000+0000"),
            "20240718103000+0000",
        ),
        (
            "a date",
            set_field(&base, "TXA", 6, "20240718"),
            "20240718\"",
        ),
    ];
    for (what, text, want) in cases {
        let doc = cda(&text);
        assert!(
            doc.contains(&format!("<effectiveTime value=\"{want}")),
            "{what}: {doc}"
        );
    }
    // malformed timestamps are findings with their path, never a panic
    for (field, path) in [(6, "TXA-6"), (4, "TXA-4"), (22, "TXA-22.15")] {
        for bad in [
            "20241332",
            "2024031810300",
            "yesterday",
            "20240318103000+99",
        ] {
            let text = if field == 22 {
                set_field(
                    &base,
                    "TXA",
                    22,
                    &format!(
                        "810000100015^MARTIN^Claire^^^DR^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS^^{bad}"
                    ),
                )
            } else {
                set_field(&base, "TXA", field, bad)
            };
            let c = convert(&text);
            assert_outcome(&c, Outcome::Rejected, &["HL7_SYNTAX"], bad);
            assert!(paths(&c).contains(&path), "{bad}: {:?}", c.findings);
        }
    }
    let c = convert(&set_field(&base, "PV1", 44, "2024"));
    assert_outcome(&c, Outcome::Converted, &[], "a year is a TS");
    let c = convert(&set_field(&base, "PV1", 45, "20240231"));
    assert_eq!(paths(&c), ["PV1-45"]);
    // an impossible birth date is the identity gate's: the strict trait is missing (held)
    let c = convert(&set_field(&base, "PID", 7, "19681312"));
    assert_outcome(&c, Outcome::Held, &["TRAIT_MISSING"], "PID-7");
    assert_eq!(paths(&c), ["PID-7"]);
    assert!(
        !c.findings[0].detail.contains("1968"),
        "no identity trait in reports"
    );
}

#[test]
fn received_cda_is_passed_on_after_its_patient_is_checked() {
    let raw = sample("mdm-t02-radiology-cda.hl7");
    let text = String::from_utf8(raw.clone()).unwrap();
    let c = convert_raw(&raw, &Config::default());
    assert_outcome(&c, Outcome::Converted, &[], "radiology CDA");
    let d = c.document.unwrap();
    let obx = text.split('\r').find(|l| l.starts_with("OBX|1|")).unwrap();
    let b64 = obx.split('|').nth(5).unwrap().split('^').nth(4).unwrap();
    // as received, but for the setId it lacked (mandatory in CI-SIS), written in right after
    // languageCode
    let received = String::from_utf8(base64_simd::STANDARD.decode_to_vec(b64).unwrap()).unwrap();
    assert!(!received.contains("<setId"), "the sample lacks a setId");
    let expected = received.replacen(
        "</languageCode>",
        "</languageCode><setId root=\"1.2.250.1.999.1.2.8001\"/>",
        1,
    );
    assert_eq!(String::from_utf8(d.cda.clone()).unwrap(), expected);
    assert_eq!(d.metadata.type_code, "18748-4");
    assert_eq!(d.metadata.format_code, "urn:ihe:iti:xds-sd:pdf:2008");
    assert_eq!(d.metadata.unique_id, "1.2.250.1.999.1.2.8001");
    // the CDA carries its own author, type and times: the message need not
    let bare = set_field(
        &set_field(&set_field(&text, "TXA", 9, ""), "TXA", 5, ""),
        "PV1",
        7,
        "",
    );
    let bare = set_field(&set_field(&bare, "TXA", 2, "RADIO^Local^L"), "OBR", 4, "");
    let bare = set_field(&drop_segments(&bare, "PRT|"), "TXA", 22, "");
    let c = convert(&bare);
    assert_outcome(&c, Outcome::Converted, &[], "received CDA, bare message");
    assert_eq!(
        c.document.unwrap().metadata.type_code,
        "18748-4",
        "the CDA's own code"
    );
    // but the message must still be consistent
    let t10_nw = set_field(&text, "ORC", 1, "RO");
    assert_outcome(
        &convert(&t10_nw),
        Outcome::Rejected,
        &["EVENT_INCONSISTENT"],
        "received, ORC RO",
    );
    // the patient's INS changed in PID (another valid INS): the CDA names another patient
    let other = text.replace("279035145418997^^^ASIP", "279035145418801^^^ASIP");
    assert_outcome(
        &convert(&other),
        Outcome::Held,
        &["DOCUMENT_IDENTITY_MISMATCH"],
        "other INS",
    );
    // same INS, but another IPP in PID under the same root
    let other_ipp = text.replace(
        "100013^^^CHU-DEMO&1.2.250.1.999.1.1&ISO^PI",
        "100099^^^CHU-DEMO&1.2.250.1.999.1.1&ISO^PI",
    );
    assert_outcome(
        &convert(&other_ipp),
        Outcome::Held,
        &["DOCUMENT_IDENTITY_MISMATCH"],
        "other IPP",
    );
}

/// A replacement received without setId gets the set header dmpfeed writes in its own CDAs, and
/// the report says what the CDA says (audit 4-6, gap 5).
#[test]
fn a_received_replacement_without_set_id_is_completed_consistently() {
    let c = convert(&received_replacement());
    assert_outcome(&c, Outcome::Converted, &[], "received T10");
    let d = c.document.unwrap();
    let m = &d.metadata;
    assert_eq!(
        (m.unique_id.as_str(), m.set_id.as_str(), m.version),
        ("1.2.250.1.999.1.2.8001", "1.2.250.1.999.1.2.8000", 2)
    );
    let cda = String::from_utf8(d.cda).unwrap();
    assert!(
        cda.contains("<setId root=\"1.2.250.1.999.1.2.8000\"/>"),
        "{cda}"
    );
    assert_eq!(cda.matches("<versionNumber").count(), 1);
    assert!(cda.contains("<versionNumber value=\"2\"/>"), "{cda}");
    let rplc = "<relatedDocument typeCode=\"RPLC\"><parentDocument>\
                <id root=\"1.2.250.1.999.1.2.8000\"/></parentDocument></relatedDocument>";
    let at = cda
        .find(rplc)
        .expect("an RPLC naming the replaced document");
    let next = ["<authorization", "<componentOf", "<component>"]
        .iter()
        .filter_map(|e| cda.find(e))
        .min()
        .unwrap();
    assert!(
        at < next && cda[..at].contains("</documentationOf>"),
        "in header order"
    );
    // through the binary, with its registry: the parent is unknown there, and the warning, the
    // report and the CDA written say the same version
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("t10.hl7");
    std::fs::write(&input, received_replacement()).unwrap();
    let out = dir.path().join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_dmpfeed"))
        .args(["convert", "--quiet", "--out"])
        .arg(&out)
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    let report = std::fs::read_to_string(out.join("report.jsonl")).unwrap();
    let line: serde_json::Value = serde_json::from_str(report.lines().next().unwrap()).unwrap();
    assert_eq!(
        line["warnings"],
        serde_json::json!(["REPLACED_DOCUMENT_UNKNOWN"])
    );
    assert!(
        line["detail"][0]
            .as_str()
            .unwrap()
            .ends_with("gets the replaced document's id as setId and version 2"),
        "{line}"
    );
    assert_eq!(line["metadata"]["version"], 2);
    assert_eq!(line["metadata"]["setId"], "1.2.250.1.999.1.2.8000");
    let written = std::fs::read_to_string(out.join(line["document"].as_str().unwrap())).unwrap();
    assert!(written.contains("<versionNumber value=\"2\"/>") && written.contains(rplc));
    // the same CDA in a new document (T02) keeps its version 1 and gets no RPLC
    let t02 = convert(&sample_text("mdm-t02-radiology-cda.hl7"));
    let cda = String::from_utf8(t02.document.unwrap().cda).unwrap();
    assert!(cda.contains("<versionNumber value=\"1\"/>") && !cda.contains("RPLC"));
}

const ANS: &str = "Vague 2/Trans_Doc-CDA-HL7V2/TRANSMISSION_DOCS_CDA_EN_HL7V2_V2.1/MDM/";

/// The ANS examples carry a test INS (OID …4.10) in messages marked production and PID-32
/// `VALI`: with the default policy they are rightly held; converting them needs a site that
/// accepts both (issue 4's note).
#[test]
fn ans_example_messages_are_held_by_the_default_policy() {
    let config = Config::default();
    let identity = ["INS_OID_TEST_IN_PRODUCTION", "IDENTITY_NOT_QUALIFIED"];
    for file in [
        "Transmission initiale MDM/message_MDM_CR_Radio_INIT_N1_Base64.er7",
        "Remplacement MDM/message_MDM_CR_Radio_RPLC_N1.er7",
        "Suppression MDM/message_MDM_CR_Radio_DEL_N1.er7",
    ] {
        let c = convert_raw(&ans_fixture(&format!("{ANS}{file}")), &config);
        assert_outcome(&c, Outcome::Held, &identity, file);
        assert!(c.document.is_none() && c.deletion.is_none(), "{file}");
    }
}

#[test]
fn ans_example_messages() {
    let config = Config::from_toml(
        "[identity]\naccept_vali = true\nallow_test_ins = true\n",
        "ans-examples",
    )
    .unwrap();
    let cases: &[(&str, Outcome, &[&str])] = &[
        // OBX-5 holds "Document medcial au format CDA niveau 1" in base64, announced as XML
        (
            "Transmission initiale MDM/message_MDM_CR_Radio_INIT_N1.er7",
            Outcome::Rejected,
            &["CONTENT_INVALID"],
        ),
        (
            "Transmission initiale MDM/message_MDM_CR_Radio_INIT_N1_Base64.er7",
            Outcome::Converted,
            &[],
        ),
        (
            "Remplacement MDM/message_MDM_CR_Radio_RPLC_N1.er7",
            Outcome::Converted,
            &[],
        ),
        (
            "Suppression MDM/message_MDM_CR_Radio_DEL_N1.er7",
            Outcome::Deleted,
            &[],
        ),
    ];
    for (file, outcome, want) in cases {
        let c = convert_raw(&ans_fixture(&format!("{ANS}{file}")), &config);
        assert_outcome(&c, *outcome, want, file);
    }
    let del = convert_raw(
        &ans_fixture(&format!(
            "{ANS}Suppression MDM/message_MDM_CR_Radio_DEL_N1.er7"
        )),
        &config,
    );
    assert_eq!(
        del.deletion.unwrap().document_id,
        "1.2.250.1.71.4.2.2.120456789.71024000082"
    );
    let rplc = convert_raw(
        &ans_fixture(&format!(
            "{ANS}Remplacement MDM/message_MDM_CR_Radio_RPLC_N1.er7"
        )),
        &config,
    );
    let m = rplc.document.unwrap().metadata;
    assert_eq!(
        (m.unique_id.as_str(), m.set_id.as_str(), m.version),
        (
            "1.2.250.1.71.4.2.2.120456789.71024000082",
            "1.2.250.1.71.4.2.2.120456789.71024000081",
            2
        )
    );
    assert_eq!(
        m.confidentiality,
        ["N"],
        "CONNEXION_SECRETE=Y is not a J58 code"
    );
    assert_eq!(m.patient_id, "279035121518989^^^&1.2.250.1.213.1.4.10&ISO");
    // ORU with the document twice; both are the same placeholder, not XML
    let oru = ans_fixture(
        "Volets/TRANS_DOC_CDA_HL7V2/V2.1/ORU/Transmission initiale ORU/message_ORU_CR_Bio_INIT_N1_N3.hl7",
    );
    let c = convert_raw(&oru, &config);
    assert_outcome(&c, Outcome::Rejected, &["CONTENT_INVALID"], "ANS ORU");
    // and the identity gate's warning (PAT-TROIS: NIR place 51215, BDL 63220)
    assert_eq!(paths(&c), ["OBX[1]-5.5", "PID-11(2).9"]);
}

#[test]
fn messages_that_are_not_document_messages() {
    // (An ADT message carries no document either, but it is recorded: see src/adt.rs.)
    for (msh9, _) in [
        ("QRY^A19^QRY_A19", 0),
        ("MDM^T01^MDM_T01", 0),
        ("ORU^R30", 0),
    ] {
        let text = set_field(&sample_text(OPERATIVE), "MSH", 9, msh9);
        let c = convert(&text);
        assert_outcome(
            &c,
            Outcome::Rejected,
            &[ReasonCode::UnsupportedMessage.as_str()],
            msh9,
        );
    }
}

#[test]
fn the_organisation_follows_each_documents_configuration() {
    // The organisation's CDA parts are rendered once and reused (cda::write's
    // OrganisationCache): a second configuration in the same thread must not get the first's.
    let other = Config::from_toml(
        "[organisation]\nfiness = \"990000020\"\nname = \"Clinique <Autre> & Cie\"\n\
         street = \"2 rue Neuve\"\npostal_code = \"99100\"\ncity = \"AILLEURS\"\n\
         telecom = \"tel:+33100000000\"\n",
        "test",
    )
    .unwrap();
    let cda = |config: &Config| {
        let c = convert_raw(&sample(OPERATIVE), config);
        String::from_utf8(c.document.unwrap().cda).unwrap()
    };
    let first = cda(&Config::default());
    let second = cda(&other);
    let again = cda(&Config::default());
    assert_eq!(first, again);
    for (cda, name, finess, not_name) in [
        (&first, "CHU de Démo", "1990000010", "Clinique"),
        (
            &second,
            "Clinique &lt;Autre&gt; &amp; Cie",
            "1990000020",
            "CHU de Démo",
        ),
    ] {
        // author, custodian, performer
        assert_eq!(cda.matches(&format!("<name>{name}</name>")).count(), 3);
        assert_eq!(cda.matches(&format!("extension=\"{finess}\"")).count(), 3);
        assert!(!cda.contains(not_name));
    }
}
