//! Hostile input for `--emit`: sample document messages with random pieces replaced by random
//! HL7-ish text are converted with every artefact without a panic, and whatever comes out is
//! readable: the MDM / ORU by dmpfeed's HL7 reader (with the volet's MSH), the XDM package as a
//! ZIP whose METADATA.XML is well-formed XML.

mod dmp_support;

use dmp_support::*;
use dmpfeed::convert::convert_with;
use dmpfeed::hl7;
use proptest::prelude::*;

const SAMPLES: &[&str] = &[
    "mdm-t02-operative-pdf",
    "mdm-t02-consultation-text-latin1",
    "mdm-t10-replacement",
    "mdm-t04-deletion",
    "oru-r01-prescription-pdf",
    "mdm-t02-radiology-cda",
    "message_MDM_CR_Radio_DEL_N1",
];

fn well_formed(xml: &[u8]) -> bool {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth = 0i32;
    loop {
        match reader.read_event_into(&mut buf) {
            Err(_) => return false,
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => return depth == 0,
            Ok(_) => {}
        }
        buf.clear();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mutated_messages_give_readable_artefacts(
        which in 0..SAMPLES.len(),
        edits in proptest::collection::vec(
            (any::<proptest::sample::Index>(), 0usize..40, "[|^~&\\\\0-9A-Za-zéŒ\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\u{FFFE}+=/. \"<>]{0,24}"),
            1..4,
        ),
    ) {
        let all = inputs();
        let raw = &all.iter().find(|(n, _)| n == SAMPLES[which]).unwrap().1;
        let mut text = String::from_utf8(raw.clone())
            .unwrap_or_else(|_| encoding_rs::mem::decode_latin1(raw).into_owned());
        for (at, len, insert) in &edits {
            let start = at.index(text.len().max(1));
            let start = (0..=start).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            let end = (start + len).min(text.len());
            let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            text.replace_range(start..end, insert);
        }
        let c = convert_with(text.as_bytes(), None, &config(), &ALL);
        let artefacts = match (&c.document, &c.deletion) {
            (Some(d), _) => d.artefacts.clone(),
            (None, Some(d)) => d.artefacts.clone(),
            _ => return Ok(()),
        };
        for a in artefacts {
            if a.suffix.ends_with(".hl7") {
                let decoded = hl7::decode(&a.bytes).expect("an emitted message decodes");
                let msg = decoded.parse().expect("an emitted message parses");
                prop_assert_eq!(get(&msg, "MSH-21"), "2.1^CISIS_CDA_HL7_V2");
                prop_assert_eq!(get(&msg, "MSH-18"), "UNICODE UTF-8");
                prop_assert!(msg.segment("PID").is_some());
                let flags = msg.segments_named("OBX")
                    .filter(|o| o.field(3).is_some_and(|f| f.first().text(3) == "MetaDMPMSS"))
                    .filter(|o| o.field(2).is_some_and(|f| f.raw() != "ED"))
                    .count();
                prop_assert_eq!(flags, 10);
            } else {
                let entries = unzip(&a.bytes);
                prop_assert_eq!(entries.len(), 4);
                prop_assert!(well_formed(&entries[2].1), "METADATA.XML");
            }
        }
    }
}
