//! What the ANS validator cannot see (its README: a wrong INS OID passes; it does not look
//! inside the body): the INS OID, exactly three templateIds, the PDF copied byte for byte, text
//! that XML 1.0 forbids, markup in fields. Every CDA here is re-read with quick-xml.

mod cda_support;

use cda_support::*;
use dmpfeed::config::Config;
use dmpfeed::reason::Outcome;
use quick_xml::Reader;
use quick_xml::events::Event;

/// One element of a CDA re-read with quick-xml: its path from the root, attributes, text.
#[derive(Debug)]
struct Node {
    path: String,
    attrs: Vec<(String, String)>,
    text: String,
}

/// Parses the whole document (well-formedness checked, end names included).
fn nodes(xml: &[u8]) -> Vec<Node> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut out: Vec<Node> = Vec::new();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .unwrap_or_else(|e| panic!("not well-formed at {}: {e}", reader.error_position()));
        match event {
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let (empty, e) = match ev {
                    Event::Empty(e) => (true, e),
                    Event::Start(e) => (false, e),
                    _ => unreachable!(),
                };
                let name = e.local_name().as_ref().to_owned();
                let path = match stack.last() {
                    Some((parent, _)) => format!("{parent}/{name}"),
                    None => name,
                };
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        let v = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned();
                        (a.key.local_name().as_ref().to_owned(), v)
                    })
                    .collect();
                out.push(Node {
                    path: path.clone(),
                    attrs,
                    text: String::new(),
                });
                if !empty {
                    stack.push((path, out.len() - 1));
                }
            }
            Event::Text(t) => {
                if let Some((_, i)) = stack.last() {
                    let text = t.xml10_content().into_owned();
                    out[*i].text.push_str(&text);
                }
            }
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let ch = match name {
                    "lt" => "<".to_owned(),
                    "gt" => ">".to_owned(),
                    "amp" => "&".to_owned(),
                    "apos" => "'".to_owned(),
                    "quot" => "\"".to_owned(),
                    other => panic!("unexpected reference &{other};"),
                };
                if let Some((_, i)) = stack.last() {
                    out[*i].text.push_str(&ch);
                }
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    assert!(stack.is_empty());
    out
}

fn find<'n>(nodes: &'n [Node], path: &str) -> Vec<&'n Node> {
    nodes.iter().filter(|n| n.path == path).collect()
}

fn attr<'n>(n: &'n Node, key: &str) -> &'n str {
    n.attrs
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

fn convert_text(text: &str) -> (Vec<u8>, dmpfeed::convert::DocumentMetadata) {
    let c = convert_raw(text.as_bytes(), &Config::default());
    assert_eq!(c.outcome, Outcome::Converted, "{:?}", c.findings);
    let d = c.document.unwrap();
    (d.cda, d.metadata)
}

const PATIENT_ROLE: &str = "ClinicalDocument/recordTarget/patientRole";

#[test]
fn the_ins_id_uses_the_ins_oid_of_pid() {
    let base = sample_text("mdm-t02-operative-pdf.hl7");
    // (INS OID in PID-3) → the same root on the INS id, and the XDS patientId
    for oid in [
        "1.2.250.1.213.1.4.8",
        "1.2.250.1.213.1.4.9",
        "1.2.250.1.213.1.4.10",
        "1.2.250.1.213.1.4.11",
    ] {
        let text = replace_once(
            &base,
            "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO",
            &format!("ASIP-SANTE-INS-NIR&{oid}&ISO"),
        );
        // test and demo INS are accepted only in a training (T) or debugging (D) message
        let text = if oid.ends_with(".10") || oid.ends_with(".11") {
            replace_once(&text, "|SMPL0001|P|", "|SMPL0001|T|")
        } else {
            text
        };
        let (cda, metadata) = convert_text(&text);
        let doc = nodes(&cda);
        let ids = find(&doc, &format!("{PATIENT_ROLE}/id"));
        assert_eq!(ids.len(), 2, "INS and IPP");
        assert_eq!(
            (attr(ids[0], "root"), attr(ids[0], "extension")),
            (oid, "268046938104575")
        );
        assert_eq!(
            (attr(ids[1], "root"), attr(ids[1], "extension")),
            ("1.2.250.1.999.1.1", "100001"),
            "IPP under its CX-4.2 OID"
        );
        assert_eq!(metadata.patient_id, format!("268046938104575^^^&{oid}&ISO"));
    }
}

#[test]
fn an_ipp_without_oid_takes_the_configured_root() {
    let text = replace_once(
        &sample_text("mdm-t02-operative-pdf.hl7"),
        "100001^^^CHU-DEMO&1.2.250.1.999.1.1&ISO^PI",
        "100001^^^CHU-DEMO^PI",
    );
    let (cda, _) = convert_text(&text);
    let doc = nodes(&cda);
    let ids = find(&doc, &format!("{PATIENT_ROLE}/id"));
    assert_eq!(attr(ids[1], "root"), Config::default().oids.ipp_root);
}

#[test]
fn exactly_the_three_non_structured_template_ids() {
    let config = Config::default();
    for (name, c) in converted_samples(&config) {
        let doc = nodes(&c.document.unwrap().cda);
        let roots: Vec<&str> = find(&doc, "ClinicalDocument/templateId")
            .into_iter()
            .map(|n| attr(n, "root"))
            .collect();
        assert_eq!(
            roots,
            [
                "2.16.840.1.113883.2.8.2.1",
                "1.2.250.1.213.1.1.1.1",
                "1.3.6.1.4.1.19376.1.2.20"
            ],
            "{name}"
        );
        assert!(find(&doc, "ClinicalDocument/component/structuredBody").is_empty());
        assert_eq!(
            find(&doc, "ClinicalDocument/component/nonXMLBody/text").len(),
            1,
            "{name}"
        );
    }
}

/// OBX-5.5 of the first ED OBX, as the message holds it.
fn obx_base64(text: &str) -> &str {
    let obx = text
        .split(['\r', '\n'])
        .find(|l| l.starts_with("OBX|1|ED|"))
        .unwrap();
    let start = obx.find("^Base64^").unwrap() + "^Base64^".len();
    let end = obx[start..].find('|').unwrap() + start;
    &obx[start..end]
}

#[test]
fn the_pdf_base64_is_copied_byte_for_byte() {
    for name in [
        "mdm-t02-operative-pdf.hl7",
        "mdm-t02-discharge-letter-pdf.hl7",
        "oru-r01-prescription-pdf.hl7",
    ] {
        let text = sample_text(name);
        let b64 = obx_base64(&text);
        assert!(b64.len() > 100, "{name}: a real PDF");
        let (cda, metadata) = convert_text(&text);
        let doc = nodes(&cda);
        let body = find(&doc, "ClinicalDocument/component/nonXMLBody/text")[0];
        assert_eq!(attr(body, "mediaType"), "application/pdf");
        assert_eq!(attr(body, "representation"), "B64");
        assert_eq!(body.text, b64, "{name}: identical to OBX-5.5");
        // and byte-identical inside the serialized CDA, not re-encoded
        let raw = String::from_utf8(cda.clone()).unwrap();
        assert!(raw.contains(&format!(">{b64}</text>")), "{name}");
        assert_eq!(metadata.format_code, "urn:ihe:iti:xds-sd:pdf:2008");
    }
}

#[test]
fn base64_wrapped_with_escaped_line_breaks_is_unwrapped() {
    let base = sample_text("mdm-t02-operative-pdf.hl7");
    let b64 = obx_base64(&base).to_owned();
    // wrap at 76 characters with \X0D0A\ and \.br\ alternately
    let mut wrapped = String::new();
    for (i, chunk) in b64.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            wrapped.push_str(if i % 2 == 0 { "\\X0D0A\\" } else { "\\.br\\" });
        }
        wrapped.push_str(std::str::from_utf8(chunk).unwrap());
    }
    let text = replace_once(&base, &b64, &wrapped);
    let (cda, _) = convert_text(&text);
    let doc = nodes(&cda);
    let body = find(&doc, "ClinicalDocument/component/nonXMLBody/text")[0];
    assert_eq!(body.text, b64);
}

#[test]
fn characters_xml_forbids_never_reach_the_cda() {
    let base = sample_text("mdm-t02-operative-pdf.hl7");
    // \X01\ escapes, a raw control byte, U+FFFE and U+FFFF in the title, the author and the
    // patient's names and the address.
    let text = replace_once(
        &base,
        "34874-8^CR opératoire^LN||^application",
        "34874-8^CR\\X01\\ opé\u{1}ratoire\u{FFFE}^LN||^application",
    );
    let text = text.replace("MARTIN^Claire^^^DR", "MAR\\X0B\\TIN^Cla\u{FFFF}ire^^^DR");
    let text = replace_once(&text, "ŒUVRAY^FRANÇOISE^", "ŒUV\u{7}RAY^FRANÇOISE^");
    let text = replace_once(&text, "12 rue de la Barre", "12 rue\\X1B\\ de la Barre");
    let (cda, _) = convert_text(&text);
    let doc = nodes(&cda);
    let raw = String::from_utf8(cda).unwrap();
    for bad in ['\u{1}', '\u{7}', '\u{B}', '\u{1B}', '\u{FFFE}', '\u{FFFF}'] {
        assert!(!raw.contains(bad), "{bad:?} in the CDA");
    }
    for reference in ["&#", "&#x"] {
        assert!(
            !raw.contains(reference),
            "no character reference: {reference}"
        );
    }
    assert_eq!(
        find(&doc, "ClinicalDocument/title")[0].text,
        "CR opératoire"
    );
    let author = "ClinicalDocument/author/assignedAuthor/assignedPerson/name";
    assert_eq!(find(&doc, &format!("{author}/family"))[0].text, "MARTIN");
    assert_eq!(find(&doc, &format!("{author}/given"))[0].text, "Claire");
    let name = format!("{PATIENT_ROLE}/patient/name/family");
    assert_eq!(find(&doc, &name)[0].text, "ŒUVRAY");
    let street = format!("{PATIENT_ROLE}/addr/streetName");
    assert_eq!(find(&doc, &street)[0].text, "12 rue de la Barre");
}

#[test]
fn markup_in_fields_is_text_not_markup() {
    let base = sample_text("mdm-t02-operative-pdf.hl7");
    let title = "CR <b>x</b> & \"y\" 'z' ]]> <!-- c --> <?pi?> &amp;";
    let text = replace_once(
        &base,
        "34874-8^CR opératoire^LN||^application",
        &format!("34874-8^{title}^LN||^application"),
    );
    let family = "MARTIN</family><family>EVIL";
    // every occurrence: PV1-7, TXA-5, TXA-9, TXA-22, PRT-5
    let text = text.replace("MARTIN^Claire", &format!("{family}^Claire"));
    let given = "\" injected=\"1";
    let text = replace_once(&text, "ŒUVRAY^FRANÇOISE^", &format!("ŒUVRAY^{given}^"));
    let (cda, _) = convert_text(&text);
    let plain = convert_text(&base).0;
    let (doc, plain_doc) = (nodes(&cda), nodes(&plain));
    let shape = |d: &[Node]| d.iter().map(|n| n.path.clone()).collect::<Vec<_>>();
    assert_eq!(
        shape(&doc),
        shape(&plain_doc),
        "no element added or removed"
    );
    assert_eq!(find(&doc, "ClinicalDocument/title")[0].text, title);
    let author = "ClinicalDocument/author/assignedAuthor/assignedPerson/name/family";
    assert_eq!(find(&doc, author)[0].text, family);
    let given_path = format!("{PATIENT_ROLE}/patient/name/given");
    let birth_first = find(&doc, &given_path)
        .into_iter()
        .find(|n| attr(n, "qualifier") == "BR")
        .unwrap();
    assert_eq!(birth_first.text, given);
    assert!(birth_first.attrs.iter().all(|(k, _)| k != "injected"));
}

#[test]
fn narrative_text_becomes_a_base64_text_plain_body() {
    let raw = sample("mdm-t02-consultation-text-latin1.hl7");
    let c = convert_raw(&raw, &Config::default());
    assert_eq!(c.outcome, Outcome::Converted, "{:?}", c.findings);
    let d = c.document.unwrap();
    assert_eq!(d.metadata.format_code, "urn:ihe:iti:xds-sd:text:2008");
    let doc = nodes(&d.cda);
    let body = find(&doc, "ClinicalDocument/component/nonXMLBody/text")[0];
    assert_eq!(attr(body, "mediaType"), "text/plain");
    assert_eq!(attr(body, "representation"), "B64");
    let bytes = base64_simd::STANDARD
        .decode_to_vec(body.text.as_bytes())
        .unwrap();
    let text = String::from_utf8(bytes).expect("UTF-8 text");
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[0], "COMPTE RENDU DE CONSULTATION DE CARDIOLOGIE");
    assert_eq!(
        lines[1],
        "Patient : M. LE GOFF Loïc, né le 03/11/1975 à Brest (29)."
    );
    assert_eq!(
        lines[2],
        "Motif : bilan d'une dyspnée d'effort & palpitations récentes."
    );
    assert!(
        text.contains("ramipril 5 mg/j | bisoprolol"),
        "\\F\\ decoded"
    );
    assert!(text.contains("C:\\ECHO\\2024\\legoff.dcm"), "\\E\\ decoded");
    assert!(
        text.contains("auscultation cardiaque normale.\nPas de souffle"),
        "\\.br\\"
    );
    assert!(text.contains("déconditionnement.\r\nÉpreuve"), "\\X0D0A\\");
    assert!(text.ends_with("Dr Benoît GUÉRIN, cardiologue."));
}

#[test]
fn latin9_text_keeps_the_latin9_characters() {
    let raw = sample("mdm-t02-hospitalisation-text-latin9.hl7");
    let c = convert_raw(&raw, &Config::default());
    let d = c.document.unwrap();
    let doc = nodes(&d.cda);
    let body = find(&doc, "ClinicalDocument/component/nonXMLBody/text")[0];
    let text = String::from_utf8(
        base64_simd::STANDARD
            .decode_to_vec(body.text.as_bytes())
            .unwrap(),
    )
    .unwrap();
    for s in [
        "DESCŒUR",
        "œdèmes",
        "L'HAŸ-LES-ROSES",
        "20 € x 7 jours = 140 €",
        "cœur",
    ] {
        assert!(text.contains(s), "{s}");
    }
    let family = format!("{PATIENT_ROLE}/patient/name/family");
    assert_eq!(find(&doc, &family)[0].text, "DESCŒUR");
}
