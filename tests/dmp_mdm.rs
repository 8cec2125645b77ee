//! The MDM / ORU messages of `--emit mdm,oru`, read back with dmpfeed's own HL7 reader and
//! compared, field by field, with the ANS examples of the CI-SIS volet « Transmission de documents
//! CDA en HL7v2 » 2.1, on every sample and every ANS example dmpfeed converts.

mod dmp_support;

use dmp_support::*;
use dmpfeed::config::Config;
use dmpfeed::convert::{Conversion, Emit, convert, convert_with};
use dmpfeed::hl7::{Message, Segment};
use dmpfeed::reason::Outcome;

const MDM: &str = ".mdm.hl7";
const ORU: &str = ".oru.hl7";

/// The segments that make the volet's structure: the document OBX, PRT `SB`, the flag OBX by
/// code; the MSSanté PRT, the mail bodies (`CORPSMAIL_*`) and a second document OBX (ORU, N3 —
/// « non applicable au SEGUR vague 2 ») depend on the case and are left out.
fn shape(msg: &Message<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let mut document_seen = false;
    for seg in msg.segments() {
        let id = seg.id();
        let code = |n: usize| {
            seg.field(n)
                .map(|f| f.first().text(1).into_owned())
                .unwrap_or_default()
        };
        match id {
            "PRT" if code(4) == "SB" => out.push("PRT(SB)".to_owned()),
            "PRT" => {}
            "OBX" => {
                let meta = seg
                    .field(3)
                    .is_some_and(|f| f.first().text(3) == "MetaDMPMSS");
                if meta && !code(3).starts_with("CORPSMAIL") {
                    out.push(format!("OBX({})", code(3)));
                } else if !meta && !document_seen {
                    document_seen = true;
                    out.push("OBX(document)".to_owned());
                }
            }
            _ => out.push(id.to_owned()),
        }
    }
    out
}

/// The reference example for a form and an event.
fn reference(oru: bool, event: &str) -> Vec<u8> {
    match (oru, event) {
        (true, _) => read(ANS_ORU),
        (false, "T02") => ans_mdm(ANS_T02_BASE64),
        (false, "T10") => ans_mdm(ANS_T10),
        (false, "T04") => ans_mdm(ANS_T04),
        _ => panic!("no reference for {event}"),
    }
}

/// The first segment with this id whose field `n`, component 1, is `code` (or any, for "").
fn segment<'a>(msg: &Message<'a>, id: &str, n: usize, code: &str) -> Segment<'a> {
    msg.segments_named(id)
        .find(|s| code.is_empty() || s.field(n).is_some_and(|f| f.first().text(1) == code))
        .unwrap_or_else(|| panic!("no {id} with {code:?}"))
}

fn value(seg: &Segment<'_>, n: usize, c: usize, s: usize) -> String {
    seg.field(n)
        .and_then(|f| f.first().component(c))
        .map(|comp| comp.text(s).into_owned())
        .unwrap_or_default()
}

/// The document OBX (the first that is not a MetaDMPMSS flag).
fn document_obx<'a>(msg: &Message<'a>) -> Segment<'a> {
    msg.segments_named("OBX")
        .find(|o| value(o, 3, 3, 1) != "MetaDMPMSS")
        .expect("a document OBX")
}

fn emitted(emit: &Emit) -> Vec<(String, Vec<u8>, Conversion)> {
    let all = conversions(emit);
    let n = all
        .iter()
        .filter(|(_, _, c)| matches!(c.outcome, Outcome::Converted | Outcome::Deleted))
        .count();
    // 21 from the samples, 3 from the ANS examples
    assert!(n >= 24, "only {n} converted or deleted inputs");
    all
}

#[test]
fn obx5_carries_the_cda_byte_for_byte() {
    let mut checked = 0;
    for (name, _, c) in emitted(&ALL) {
        let Some(doc) = &c.document else { continue };
        for (suffix, ed_type) in [(MDM, "text"), (ORU, "TEXT")] {
            let bytes = artefact(&c, suffix).unwrap_or_else(|| panic!("{name}: no {suffix}"));
            with_message(bytes, |msg| {
                let obx = document_obx(msg);
                assert_eq!(value(&obx, 2, 1, 1), "ED", "{name}{suffix}");
                let parts: Vec<String> = (2..=4).map(|c| value(&obx, 5, c, 1)).collect();
                assert_eq!(parts, [ed_type, "XML", "Base64"], "{name}{suffix}");
                let b64 = value(&obx, 5, 5, 1);
                let cda = base64_simd::STANDARD.decode_to_vec(b64.as_bytes()).unwrap();
                assert!(cda == doc.cda, "{name}{suffix}: OBX-5.5 is not the CDA");
            });
            checked += 1;
        }
    }
    // 20 documents, two forms
    assert!(checked >= 40, "{checked}");
}

#[test]
fn messages_have_the_structure_of_the_ans_examples() {
    for (name, _, c) in emitted(&ALL) {
        if !matches!(c.outcome, Outcome::Converted | Outcome::Deleted) {
            continue;
        }
        for (suffix, oru) in [(MDM, false), (ORU, true)] {
            let bytes = artefact(&c, suffix).unwrap_or_else(|| panic!("{name}: no {suffix}"));
            with_message(bytes, |msg| {
                let event = if oru {
                    "R01".to_owned()
                } else {
                    get(msg, "MSH-9.2")
                };
                let reference = reference(oru, &event);
                with_message(&reference, |r| {
                    let what = format!("{name}{suffix}");
                    assert_eq!(shape(msg), shape(r), "{what}: segments");
                    // The only ANS ORU example is an initial transmission: ORC-1 and OBX-11 are
                    // compared with it for that event (every event: `document_ids_and_events`).
                    let same_event = !oru || get(msg, "ORC-1") == get(r, "ORC-1");
                    for path in ["MSH-9", "MSH-12", "MSH-17", "MSH-18", "MSH-21"] {
                        assert_eq!(get(msg, path), get(r, path), "{what} {path}");
                    }
                    if same_event {
                        assert_eq!(get(msg, "ORC-1"), get(r, "ORC-1"), "{what} ORC-1");
                    }
                    for path in ["MSH-3", "MSH-4", "MSH-7", "MSH-10", "MSH-11"] {
                        assert!(!get(msg, path).is_empty(), "{what} {path}");
                    }
                    if !oru {
                        for path in ["TXA-1", "TXA-3", "TXA-17", "OBR-1"] {
                            assert_eq!(get(msg, path), get(r, path), "{what} {path}");
                        }
                        assert_eq!(get(msg, "TXA-2"), get(msg, "OBR-4.1"), "{what}");
                    }
                    let (d, rd) = (document_obx(msg), document_obx(r));
                    for (n, c) in [(2, 1), (3, 3), (5, 2), (5, 3), (5, 4), (11, 1)] {
                        let deletion = get(msg, "ORC-1") == "CA";
                        if (c > 1 && n == 5 && deletion) || (n == 11 && !same_event) {
                            continue; // a deletion carries a CDA only when the source did (below)
                        }
                        assert_eq!(
                            value(&d, n, c, 1),
                            value(&rd, n, c, 1),
                            "{what} OBX-{n}.{c}"
                        );
                    }
                    assert_eq!(
                        value(&d, 3, 1, 1),
                        get(msg, "OBR-4.1"),
                        "{what}: OBX-3 = OBR-4"
                    );
                    assert_eq!(
                        value(&d, 3, 2, 1),
                        get(msg, "OBR-4.2"),
                        "{what}: OBX-3 = OBR-4"
                    );
                });
            });
        }
    }
}

#[test]
fn flag_obx_have_the_order_labels_and_types_of_the_ans_examples() {
    for (name, _, c) in emitted(&ALL) {
        if !matches!(c.outcome, Outcome::Converted | Outcome::Deleted) {
            continue;
        }
        for (suffix, oru) in [(MDM, false), (ORU, true)] {
            let reference = reference(oru, "T02");
            with_message(artefact(&c, suffix).unwrap(), |msg| {
                with_message(&reference, |r| {
                    let flags = |m: &Message<'_>| -> Vec<Vec<String>> {
                        m.segments_named("OBX")
                            .filter(|o| value(o, 3, 3, 1) == "MetaDMPMSS")
                            .filter(|o| !value(o, 3, 1, 1).starts_with("CORPSMAIL"))
                            .map(|o| {
                                vec![
                                    value(&o, 2, 1, 1),
                                    value(&o, 3, 1, 1),
                                    value(&o, 3, 2, 1),
                                    value(&o, 5, 3, 1),
                                    value(&o, 11, 1, 1),
                                ]
                            })
                            .collect()
                    };
                    assert_eq!(flags(msg), flags(r), "{name}{suffix}");
                    // values: Y or N; OBX-1 numbers the OBX in order
                    for (i, o) in msg.segments_named("OBX").enumerate() {
                        assert_eq!(value(&o, 1, 1, 1), (i + 1).to_string(), "{name}{suffix}");
                        if value(&o, 3, 3, 1) == "MetaDMPMSS" && value(&o, 2, 1, 1) != "ED" {
                            let v = value(&o, 5, 1, 1);
                            assert!(v == "Y" || v == "N", "{name}{suffix}: {v:?}");
                        }
                    }
                });
            });
        }
    }
}

#[test]
fn prt_sb_has_the_shape_of_the_ans_examples() {
    let config = config();
    for (name, _, c) in emitted(&ALL) {
        if !matches!(c.outcome, Outcome::Converted | Outcome::Deleted) {
            continue;
        }
        let reference = reference(false, "T02");
        with_message(artefact(&c, MDM).unwrap(), |msg| {
            with_message(&reference, |r| {
                let (p, rp) = (segment(msg, "PRT", 4, "SB"), segment(r, "PRT", 4, "SB"));
                let places = [
                    (2, 1, 1),
                    (4, 1, 1),
                    (4, 3, 1),
                    (5, 9, 2),
                    (5, 9, 3),
                    (5, 10, 1),
                    (5, 13, 1),
                    (8, 6, 2),
                    (8, 6, 3),
                    (8, 7, 1),
                ];
                for (n, comp, sub) in places {
                    assert_eq!(
                        value(&p, n, comp, sub),
                        value(&rp, n, comp, sub),
                        "{name}: PRT-{n}.{comp}.{sub}"
                    );
                }
                assert_eq!(value(&p, 8, 10, 1), config.organisation.finess, "{name}");
                assert_eq!(value(&p, 8, 1, 1), config.organisation.name, "{name}");
                assert!(!value(&p, 5, 1, 1).is_empty(), "{name}: PRT-5.1");
            });
        });
    }
}

/// TXA-12 / TXA-13 from the CDA's id and relatedDocument (volet: the full OID in TXA-12.1 when
/// the id has no extension), ORC-1 / OBX-11 by event, ORU order numbers.
#[test]
fn document_ids_and_events() {
    for (name, _, c) in emitted(&ALL) {
        let (event, order, status, id, parent) = match (&c.document, &c.deletion) {
            (Some(d), _) => {
                let cda = parse_xml(&d.cda);
                let id = cda.child("id").unwrap();
                let ei = if id.attr("extension").is_empty() {
                    id.attr("root").to_owned()
                } else {
                    format!("{}^^{}^ISO", id.attr("extension"), id.attr("root"))
                };
                let parent = cda
                    .at(&["relatedDocument", "parentDocument", "id"])
                    .map(|p| p.attr("root").to_owned());
                match parent {
                    Some(p) => ("T10", "RO", "C", ei, Some(p)),
                    None => ("T02", "NW", "F", ei, None),
                }
            }
            (None, Some(d)) => ("T04", "CA", "D", d.document_id.clone(), None),
            _ => continue,
        };
        with_message(artefact(&c, MDM).unwrap(), |msg| {
            assert_eq!(get(msg, "MSH-9"), format!("MDM^{event}^MDM_T02"), "{name}");
            assert_eq!(get(msg, "ORC-1"), order, "{name}");
            assert_eq!(value(&document_obx(msg), 11, 1, 1), status, "{name}");
            let txa12 = msg
                .segment("TXA")
                .unwrap()
                .field(12)
                .unwrap()
                .raw()
                .to_owned();
            assert_eq!(txa12, id, "{name}: TXA-12");
            if let Some(p) = &parent {
                assert_eq!(get(msg, "TXA-13"), *p, "{name}: TXA-13");
            } else if event == "T02" {
                assert_eq!(get(msg, "TXA-13"), "", "{name}: TXA-13");
            }
        });
        with_message(artefact(&c, ORU).unwrap(), |msg| {
            assert_eq!(get(msg, "MSH-9"), "ORU^R01^ORU_R01", "{name}");
            assert_eq!(get(msg, "ORC-1"), order, "{name}");
            assert_eq!(value(&document_obx(msg), 11, 1, 1), status, "{name}");
            let obr3 = msg
                .segment("OBR")
                .unwrap()
                .field(3)
                .unwrap()
                .raw()
                .to_owned();
            assert_eq!(obr3, parent.clone().unwrap_or(id.clone()), "{name}: OBR-3");
            assert_eq!(get(msg, "ORC-3"), get(msg, "OBR-3"), "{name}");
            let obr25 = match event {
                "T02" => "F",
                "T10" => "C",
                _ => "X",
            };
            assert_eq!(get(msg, "OBR-25"), obr25, "{name}");
        });
    }
}

/// The ANS examples converted: the ids are theirs, and the ANS deletion's CDA travels on.
#[test]
fn ans_examples_keep_their_ids_and_the_deleted_cda() {
    let config = config();
    for (file, txa12, txa13) in [
        (
            ANS_T02_BASE64,
            "1.2.250.1.71.4.2.2.120456789.71024000081",
            "",
        ),
        (
            ANS_T10,
            "1.2.250.1.71.4.2.2.120456789.71024000082",
            "1.2.250.1.71.4.2.2.120456789.71024000081",
        ),
        (
            ANS_T04,
            "1.2.250.1.71.4.2.2.120456789.71024000082",
            "1.2.250.1.71.4.2.2.120456789.71024000081",
        ),
    ] {
        let c = convert_with(&ans_mdm(file), None, &config, &ALL);
        with_message(artefact(&c, MDM).unwrap(), |msg| {
            assert_eq!(get(msg, "TXA-12"), txa12, "{file}");
            assert_eq!(get(msg, "TXA-13"), txa13, "{file}");
            // the patient and the visit are the source's, unchanged
            with_message(&ans_mdm(file), |source| {
                for id in ["PID", "PV1"] {
                    assert_eq!(
                        msg.segment(id).unwrap().raw(),
                        source.segment(id).unwrap().raw(),
                        "{file} {id}"
                    );
                }
            });
        });
    }
    // T04: the CDA the ANS example deletes travels on (its base64 lacks its padding: the
    // emitted one has it), the same bytes once decoded.
    let c = convert_with(&ans_mdm(ANS_T04), None, &config, &ALL);
    assert_eq!(c.outcome, Outcome::Deleted);
    let decode = |b64: String| {
        let mut b64 = b64;
        while !b64.len().is_multiple_of(4) {
            b64.push('=');
        }
        base64_simd::STANDARD.decode_to_vec(b64.as_bytes()).unwrap()
    };
    let sent = with_message(&ans_mdm(ANS_T04), |m| {
        decode(value(&document_obx(m), 5, 5, 1))
    });
    assert!(sent.starts_with(b"<ClinicalDocument"));
    with_message(artefact(&c, MDM).unwrap(), |msg| {
        let b64 = value(&document_obx(msg), 5, 5, 1);
        assert!(b64.len().is_multiple_of(4));
        assert!(decode(b64) == sent);
    });
    // A deletion whose source carried a PDF: no document in the emitted OBX-5, never the PDF.
    let t04 = &inputs()
        .into_iter()
        .find(|(n, _)| n == "mdm-t04-deletion")
        .unwrap()
        .1;
    let c = convert_with(t04, None, &config, &ALL);
    with_message(artefact(&c, MDM).unwrap(), |msg| {
        assert_eq!(value(&document_obx(msg), 5, 1, 1), "");
        assert!(document_obx(msg).field(5).is_none_or(|f| f.is_empty()));
        assert_eq!(get(msg, "TXA-12"), "1.2.250.1.999.1.2.1002");
        assert_eq!(get(msg, "TXA-13"), "1.2.250.1.999.1.2.1001");
    });
}

/// Read back by dmpfeed itself, an emitted message gives the same document: the CDA passes
/// through unchanged (a CDA received already built), with the same metadata; a deletion deletes
/// the same document.
#[test]
fn emitted_messages_convert_back_to_the_same_document() {
    let config = config();
    for (name, _, c) in emitted(&ALL) {
        for suffix in [MDM, ORU] {
            let Some(bytes) = artefact(&c, suffix) else {
                continue;
            };
            let again = convert(bytes, None, &config);
            let what = format!("{name}{suffix}");
            match (&c.document, &c.deletion) {
                (Some(d), _) => {
                    assert_eq!(
                        again.outcome,
                        Outcome::Converted,
                        "{what}: {:?}",
                        again.findings
                    );
                    let d2 = again.document.as_ref().unwrap();
                    assert!(d2.cda == d.cda, "{what}: CDA changed");
                    assert_eq!(d2.metadata, d.metadata, "{what}");
                }
                (None, Some(d)) => {
                    assert_eq!(
                        again.outcome,
                        Outcome::Deleted,
                        "{what}: {:?}",
                        again.findings
                    );
                    assert_eq!(again.deletion.unwrap().document_id, d.document_id, "{what}");
                }
                _ => {}
            }
        }
    }
}

#[test]
fn same_message_same_bytes() {
    let a = conversions(&ALL);
    let b = conversions(&ALL);
    for ((name, _, x), (_, _, y)) in a.iter().zip(&b) {
        for suffix in [MDM, ORU, ".xdm.zip"] {
            assert_eq!(artefact(x, suffix), artefact(y, suffix), "{name}{suffix}");
        }
    }
}

#[test]
fn only_what_is_asked_and_only_for_converted_or_deleted() {
    let cases = [
        (Emit::NONE, vec![]),
        (
            Emit {
                mdm: true,
                ..Emit::NONE
            },
            vec![MDM],
        ),
        (
            Emit {
                oru: true,
                xdm: true,
                ..Emit::NONE
            },
            vec![ORU, ".xdm.zip"],
        ),
        (ALL, vec![MDM, ORU, ".xdm.zip"]),
    ];
    for (emit, want) in cases {
        for (name, raw, c) in conversions(&emit) {
            let suffixes: Vec<&str> = match (&c.document, &c.deletion) {
                (Some(d), _) => d.artefacts.iter().map(|a| a.suffix.as_str()).collect(),
                (None, Some(d)) => d.artefacts.iter().map(|a| a.suffix.as_str()).collect(),
                _ => vec![],
            };
            let expected: Vec<&str> = match c.outcome {
                Outcome::Converted => want.clone(),
                // a deletion has no document to package
                Outcome::Deleted => want.iter().copied().filter(|s| *s != ".xdm.zip").collect(),
                _ => vec![],
            };
            assert_eq!(suffixes, expected, "{name} {:?}", c.outcome);
            // the outcome and the CDA do not depend on --emit
            let plain = convert(&raw, None, &config());
            assert_eq!(plain.outcome, c.outcome, "{name}");
            assert_eq!(
                plain.document.map(|d| d.cda),
                c.document.as_ref().map(|d| d.cda.clone()),
                "{name}"
            );
        }
    }
}

fn flags_of(bytes: &[u8]) -> Vec<(String, String)> {
    with_message(bytes, |msg| {
        msg.segments_named("OBX")
            .filter(|o| value(o, 3, 3, 1) == "MetaDMPMSS" && value(o, 2, 1, 1) != "ED")
            .map(|o| (value(&o, 3, 1, 1), value(&o, 5, 1, 1)))
            .collect()
    })
}

#[test]
fn flags_come_from_the_source_else_from_the_configuration() {
    let sample = |name: &str| {
        inputs()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name}"))
            .1
    };
    let on = |flags: &[(String, String)]| -> Vec<String> {
        flags
            .iter()
            .filter(|(_, v)| v == "Y")
            .map(|(c, _)| c.clone())
            .collect()
    };
    // the masked sample sends MASQUE_PS = Y and INVISIBLE_PATIENT = Y
    let c = convert_with(&sample("mdm-t02-masked"), None, &config(), &ALL);
    let flags = flags_of(artefact(&c, MDM).unwrap());
    assert_eq!(flags.len(), 10);
    assert_eq!(on(&flags), ["MASQUE_PS", "INVISIBLE_PATIENT", "DESTDMP"]);
    // without any flag OBX, the configured defaults
    let text = String::from_utf8(sample("mdm-t02-operative-pdf")).unwrap();
    let no_flags: String = text
        .split('\r')
        .filter(|s| !s.contains("^MetaDMPMSS|"))
        .collect::<Vec<_>>()
        .join("\r");
    assert!(no_flags.len() < text.len());
    let config = Config::from_toml(
        "[dmp]\ndest_mssante_ps = true\nack_reception = true\nconnexion_secrete = true\n",
        "test",
    )
    .unwrap();
    let c = convert_with(no_flags.as_bytes(), None, &config, &ALL);
    assert_eq!(c.outcome, Outcome::Converted, "{:?}", c.findings);
    assert_eq!(
        on(&flags_of(artefact(&c, MDM).unwrap())),
        [
            "CONNEXION_SECRETE",
            "DESTDMP",
            "DESTMSSANTEPS",
            "ACK_RECEPTION"
        ]
    );
    // the sample's own flags (all N but DESTDMP) win over those defaults
    let c = convert_with(text.as_bytes(), None, &config, &ALL);
    assert_eq!(on(&flags_of(artefact(&c, ORU).unwrap())), ["DESTDMP"]);
}

/// PID and PV1 are copied: their decoded values are the source's, whatever the source's
/// character set (Latin-1, Latin-9) or delimiters, and the emitted message is UTF-8.
#[test]
fn pid_and_pv1_are_the_sources_in_any_charset_or_delimiters() {
    let samples = [
        "mdm-t02-consultation-text-latin1",
        "mdm-t02-hospitalisation-text-latin9",
        "mdm-t02-operative-pdf",
    ];
    let config = config();
    let values = |msg: &Message<'_>, id: &str| -> Vec<Vec<Vec<Vec<String>>>> {
        let seg = msg.segment(id).unwrap();
        seg.fields()
            .map(|f| {
                f.repetitions()
                    .map(|r| {
                        r.components()
                            .map(|c| c.subcomponents().map(|s| s.value().into_owned()).collect())
                            .collect()
                    })
                    .collect()
            })
            .collect()
    };
    for name in samples {
        let raw = inputs().into_iter().find(|(n, _)| n == name).unwrap().1;
        // the same message with custom delimiters `#$*!@` (none of them occurs in the sample)
        let custom = with_message(&raw, |msg| {
            let text = msg.text();
            assert!(!text.contains(['#', '$', '*', '!', '@']), "{name}");
            let swapped: String = text
                .chars()
                .map(|c| match c {
                    '|' => '#',
                    '^' => '$',
                    '~' => '*',
                    '\\' => '!',
                    '&' => '@',
                    other => other,
                })
                .collect();
            // MSH-18: the swapped text is UTF-8 now
            swapped.replacen("#8859/1#", "#UNICODE UTF-8#", 1).replacen(
                "#8859/15#",
                "#UNICODE UTF-8#",
                1,
            )
        });
        for source in [raw.clone(), custom.into_bytes()] {
            let c = convert_with(&source, None, &config, &ALL);
            assert_eq!(c.outcome, Outcome::Converted, "{name}: {:?}", c.findings);
            for suffix in [MDM, ORU] {
                let bytes = artefact(&c, suffix).unwrap();
                assert!(std::str::from_utf8(bytes).is_ok(), "{name}{suffix}");
                with_message(bytes, |msg| {
                    assert_eq!(get(msg, "MSH-18"), "UNICODE UTF-8");
                    assert_eq!(get(msg, "MSH-2"), "^~\\&");
                    with_message(&source, |src| {
                        for id in ["PID", "PV1"] {
                            assert_eq!(values(msg, id), values(src, id), "{name}{suffix} {id}");
                        }
                    });
                });
            }
        }
    }
}

#[test]
fn held_excluded_and_rejected_messages_get_nothing() {
    let mut seen = [0; 3];
    for (name, _, c) in conversions(&ALL) {
        let i = match c.outcome {
            Outcome::Held => 0,
            Outcome::Excluded => 1,
            Outcome::Rejected => 2,
            _ => continue,
        };
        seen[i] += 1;
        assert!(c.document.is_none() && c.deletion.is_none(), "{name}");
    }
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
}
