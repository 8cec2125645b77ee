//! Hostile input: sample document messages with random pieces replaced by random HL7-ish text
//! (delimiters, escapes, control characters, digits) are converted without a panic, and every
//! CDA that comes out is well-formed XML.

mod cda_support;
mod mutation;

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_messages_never_panic(
        which in 0..SAMPLES.len(),
        edits in mutation::edits(),
    ) {
        let raw = sample(SAMPLES[which]);
        let text = mutation::mutate(&raw, &edits);
        let Ok(decoded) = hl7::decode(text.as_bytes()) else { return Ok(()); };
        let Ok(msg) = decoded.parse() else { return Ok(()); };
        let header = MessageHeader::read(&msg);
        let c = convert_document(&msg, header, &patient(), &Config::default());
        if let Some(d) = &c.document {
            prop_assert!(mutation::well_formed(&d.cda) || SAMPLES[which].contains("radiology"));
        }
    }
}
