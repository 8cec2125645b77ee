//! Hostile input: sample document messages with random pieces replaced by random HL7-ish text
//! (delimiters, escapes, control characters, digits) are converted without a panic, and every
//! CDA that comes out is well-formed XML.

mod cda_support;

use cda_support::*;
use dmpfeed::cda::model::Patient;
use dmpfeed::config::Config;
use dmpfeed::convert::{MessageHeader, convert_document};
use dmpfeed::hl7;
use proptest::prelude::*;

const SAMPLES: &[&str] = &[
    "mdm-t02-operative-pdf.hl7",
    "mdm-t02-consultation-text-latin1.hl7",
    "mdm-t10-replacement.hl7",
    "mdm-t04-deletion.hl7",
    "oru-r01-prescription-pdf.hl7",
    "mdm-t02-radiology-cda.hl7",
];

fn patient() -> Patient<'static> {
    Patient {
        ins: "268046938104575".into(),
        ins_oid: "1.2.250.1.213.1.4.8".into(),
        ipp: None,
        birth_family: "ŒUVRAY".into(),
        birth_given_first: "FRANÇOISE".into(),
        birth_given_names: "FRANÇOISE MARIE".into(),
        used_family: None,
        used_given: None,
        birth_time: "19680412".into(),
        sex: "F".into(),
        birthplace_code: "69381".into(),
        birthplace_city: None,
        address: None,
    }
}

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
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_messages_never_panic(
        which in 0..SAMPLES.len(),
        edits in proptest::collection::vec(
            (any::<proptest::sample::Index>(), 0usize..40, "[|^~&\\\\0-9A-Za-zéŒ\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\u{FFFE}+=/. \"<>]{0,24}"),
            1..4,
        ),
    ) {
        let raw = sample(SAMPLES[which]);
        let mut text = String::from_utf8(raw.clone())
            .unwrap_or_else(|_| encoding_rs::mem::decode_latin1(&raw).into_owned());
        for (at, len, insert) in &edits {
            let start = at.index(text.len().max(1));
            let start = (0..=start).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            let end = (start + len).min(text.len());
            let end = (end..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
            text.replace_range(start..end, insert);
        }
        let Ok(decoded) = hl7::decode(text.as_bytes()) else { return Ok(()); };
        let Ok(msg) = decoded.parse() else { return Ok(()); };
        let header = MessageHeader::read(&msg);
        let c = convert_document(&msg, header, &patient(), &Config::default());
        if let Some(d) = &c.document {
            prop_assert!(well_formed(&d.cda) || SAMPLES[which].contains("radiology"));
        }
    }
}
