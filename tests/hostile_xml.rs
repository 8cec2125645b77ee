//! Issue 8 "XML": no field can inject markup, characters XML 1.0 forbids never reach a document
//! (not even as a character reference such as `&#x1;`), and every document re-reads as
//! well-formed — checked with dmpfeed's strict check ([`wellformed::check`]) and, independently,
//! with libxml2 (`xmllint`, installed by scripts/setup.sh).
//!
//! Values are generated (proptest) and put, HL7-escaped, into the places of the operative report
//! sample that the CDA shows as text or attributes; the message goes through the whole conversion
//! (charset, parse, identity gate, mapping, writer). A CDA received already built is passed on
//! as it is, so one that is not well-formed is rejected (`CONTENT_INVALID`).

mod cda_support;

use dmpfeed::cda::wellformed;
use dmpfeed::config::Config;
use dmpfeed::convert::convert;
use dmpfeed::hl7::{Delimiters, escape::escape};
use dmpfeed::reason::{Outcome, ReasonCode};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use std::cell::RefCell;
use std::path::Path;

/// Marks injected markup: never an element or attribute name of a document.
const INJECTED: &str = "dmpfeedInjected";

/// Places of the sample whose value the CDA shows: `(what, from, to)` where `{v}` in `to` is
/// the generated value, every occurrence of `from` replaced.
const PLACES: &[(&str, &str, &str)] = &[
    ("PID-11.1 street", "12 rue de la Barre", "{v}"),
    ("PID-11.3 city", "LYON^^69002", "{v}^^69002"),
    ("PID-11.5 postal code", "^^69002^", "^^{v}^"),
    ("PID-5(2).1 used name", "DUPRÉ", "{v}"),
    ("PID-5.3 given names", "FRANÇOISE MARIE", "{v}"),
    (
        "PID-3 IPP (an attribute)",
        "100001^^^CHU-DEMO",
        "{v}^^^CHU-DEMO",
    ),
    ("PID-18 account", "A100001", "{v}"),
    ("PV1-19 visit number", "V240318001", "{v}"),
    ("author family", "MARTIN^Claire", "{v}^Claire"),
    ("author given", "^Claire^", "^{v}^"),
    ("document title", "CR opératoire", "{v}"),
    ("PRT organisation", "CHU de Démo", "{v}"),
    ("MSH-4 facility", "|CHU-DEMO|PFI-DEMO", "|{v}|PFI-DEMO"),
];

fn placed(place: usize, value: &str) -> Vec<u8> {
    let (_, from, to) = PLACES[place];
    let v = escape(value, &Delimiters::default());
    let text = cda_support::sample_text("mdm-t02-operative-pdf.hl7");
    assert!(text.contains(from), "{from}");
    text.replace(from, &to.replace("{v}", &v)).into_bytes()
}

/// Values that try everything: markup, references, what XML forbids, what HL7 escapes.
fn hostile_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<dmpfeedInjected/>".to_owned()),
        Just("</name><dmpfeedInjected>".to_owned()),
        Just("\" dmpfeedInjected=\"1".to_owned()),
        Just("' dmpfeedInjected='1".to_owned()),
        Just("&".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#x1;".to_owned()),
        Just("&#0;".to_owned()),
        Just("&nbsp;".to_owned()),
        Just("]]>".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("<!--".to_owned()),
        Just("<?xml version=\"1.0\"?>".to_owned()),
        Just("\\X01\\".to_owned()),
        "[\u{0}-\u{1F}\u{7F}\u{FFFE}\u{FFFF}\u{D7FF}\u{E000}\u{10FFFF}]".prop_map(|s| s),
        "[a-zA-Zé Œ.'-]{1,6}".prop_map(|s| s),
        any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|p| p.concat())
}

/// Element and attribute names of a well-formed document.
fn names(xml: &[u8]) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(std::str::from_utf8(xml).unwrap());
    let mut out = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                out.push(e.name().into_inner().to_owned());
                for a in e.attributes() {
                    out.push(a.unwrap().key.into_inner().to_owned());
                }
            }
            _ => {}
        }
    }
    out
}

/// Runs `xmllint --noout` on every document at once; panics with its report when one is not
/// well-formed.
fn xmllint(docs: &[(String, Vec<u8>)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, (_, xml)) in docs.iter().enumerate() {
        let p = dir.path().join(format!("{i}.xml"));
        std::fs::write(&p, xml).unwrap();
        paths.push(p);
    }
    for chunk in paths.chunks(200) {
        let o = std::process::Command::new("xmllint")
            .arg("--noout")
            .args(chunk)
            .output()
            .unwrap_or_else(|e| panic!("xmllint is needed (scripts/setup.sh installs it): {e}"));
        assert!(
            o.status.success(),
            "xmllint: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn generated_field_values_never_make_markup_or_forbidden_characters() {
    let config = Config::default();
    let baseline = convert(&placed(0, "12 rue de la Barre"), None, &config);
    let known: Vec<String> = names(&baseline.document.expect("the sample converts").cda);
    let docs: RefCell<Vec<(String, Vec<u8>)>> = RefCell::new(Vec::new());
    let tried = RefCell::new(0usize);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 384,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&(0..PLACES.len(), hostile_value()), |(place, value)| {
            *tried.borrow_mut() += 1;
            let c = convert(&placed(place, &value), None, &config);
            let Some(doc) = &c.document else {
                return Ok(());
            };
            let what = format!("{} = {value:?}", PLACES[place].0);
            if let Err(e) = wellformed::check(&doc.cda) {
                return Err(TestCaseError::fail(format!("{what}: {e}")));
            }
            for name in names(&doc.cda) {
                prop_assert!(!name.contains(INJECTED), "{}: <{}> injected", what, name);
                prop_assert!(known.contains(&name), "{}: a new name {}", what, name);
            }
            docs.borrow_mut().push((what, doc.cda.clone()));
            Ok(())
        })
        .unwrap();
    let docs = docs.into_inner();
    let tried = tried.into_inner();
    // The values must reach the writer, not stop at the identity gate or the mapping.
    assert!(
        docs.len() * 3 >= tried * 2,
        "only {} of {tried} cases converted",
        docs.len()
    );
    xmllint(&docs);
}

#[test]
fn every_place_shows_markup_as_text() {
    let config = Config::default();
    let value = "<dmpfeedInjected a=\"1\">&amp;&#x1;\u{1}\u{FFFE}]]></x>";
    let mut docs = Vec::new();
    for (i, (what, _, _)) in PLACES.iter().enumerate() {
        let c = convert(&placed(i, value), None, &config);
        let Some(doc) = c.document else {
            // An id that must be an OID or a code may refuse such a value: then not converted.
            assert_ne!(c.outcome, Outcome::Converted, "{what}");
            continue;
        };
        wellformed::check(&doc.cda).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            names(&doc.cda).iter().all(|n| !n.contains(INJECTED)),
            "{what}"
        );
        let text = String::from_utf8(doc.cda.clone()).unwrap();
        assert!(
            !text.contains('\u{1}') && !text.contains('\u{FFFE}'),
            "{what}"
        );
        docs.push((what.to_string(), doc.cda));
    }
    assert!(docs.len() >= PLACES.len() / 2, "{} converted", docs.len());
    xmllint(&docs);
}

// ---------------------------------------------------------------------------------------------
// A CDA received already built (`^text^XML^Base64^`): passed on unchanged, so it must be
// well-formed as received.

/// The radiology sample with its embedded CDA edited by `edit`.
fn with_received_cda(edit: impl Fn(&str) -> String) -> Vec<u8> {
    let text = cda_support::sample_text("mdm-t02-radiology-cda.hl7");
    let obx = text
        .split('\r')
        .find(|l| l.starts_with("OBX|1|"))
        .unwrap()
        .to_owned();
    let mut fields: Vec<String> = obx.split('|').map(str::to_owned).collect();
    let mut comps: Vec<String> = fields[5].split('^').map(str::to_owned).collect();
    let xml = base64_simd::STANDARD.decode_to_vec(&comps[4]).unwrap();
    let xml = edit(std::str::from_utf8(&xml).unwrap());
    comps[4] = base64_simd::STANDARD.encode_to_string(xml.as_bytes());
    fields[5] = comps.join("^");
    text.replace(&obx, &fields.join("|")).into_bytes()
}

#[test]
fn a_received_cda_that_is_not_well_formed_is_rejected() {
    let config = Config::default();
    let title = "<title>Radio de hanche</title>";
    let unchanged = convert(&with_received_cda(|x| x.to_owned()), None, &config);
    assert_eq!(
        unchanged.outcome,
        Outcome::Converted,
        "{:?}",
        unchanged.findings
    );
    let cases: &[(&str, &str)] = &[
        (
            "a control character reference",
            "<title>Radio &#x1; de hanche</title>",
        ),
        ("a NUL reference", "<title>Radio &#0;</title>"),
        (
            "a raw control character",
            "<title>Radio \u{1} de hanche</title>",
        ),
        ("U+FFFE", "<title>Radio \u{FFFE}</title>"),
        ("an undefined entity", "<title>Radio&nbsp;de hanche</title>"),
        ("`<` in an attribute", "<title a=\"<\">Radio</title>"),
        ("`]]>` in text", "<title>Radio ]]> hanche</title>"),
        ("a second root after the document", "<title>Radio</title>"),
        ("a name that is not a name", "<title>Radio</title><1x/>"),
    ];
    for (what, replacement) in cases {
        let raw = with_received_cda(|x| {
            let x = x.replace(title, replacement);
            if *what == "a second root after the document" {
                format!("{x}<ClinicalDocument/>")
            } else {
                x
            }
        });
        let c = convert(&raw, None, &config);
        assert_eq!(c.outcome, Outcome::Rejected, "{what}: {:?}", c.findings);
        assert_eq!(c.codes(), [ReasonCode::ContentInvalid], "{what}");
        assert!(
            c.findings[0].detail.contains("not well-formed"),
            "{what}: {}",
            c.findings[0]
        );
    }
    // A document type declaration: its entities would be expanded by the DMP's reader.
    let doctype = with_received_cda(|x| {
        format!(
            "<!DOCTYPE ClinicalDocument [<!ENTITY e \"x\">]>\n{}",
            x.replace(title, "<title>&e;</title>")
        )
    });
    assert_eq!(
        convert(&doctype, None, &config).codes(),
        [ReasonCode::ContentInvalid]
    );
}

/// The golden CDAs (what dmpfeed writes for the samples) pass both checks too: the strict check
/// agrees with libxml2 on real documents.
#[test]
fn golden_documents_pass_the_strict_check_and_xmllint() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/expected");
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let xml = std::fs::read(&path).unwrap();
        wellformed::check(&xml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        docs.push((path.display().to_string(), xml));
    }
    assert!(docs.len() >= 10);
    xmllint(&docs);
}
