//! Hostile input for `--emit`: sample document messages with random pieces replaced by random
//! HL7-ish text are converted with every artefact without a panic, and whatever comes out is
//! readable: the MDM / ORU by dmpfeed's HL7 reader (with the volet's MSH), the XDM package as a
//! ZIP whose METADATA.XML is well-formed XML.

mod dmp_support;
mod mutation;

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn mutated_messages_give_readable_artefacts(
        which in 0..SAMPLES.len(),
        edits in mutation::edits(),
    ) {
        let all = inputs();
        let raw = &all.iter().find(|(n, _)| n == SAMPLES[which]).unwrap().1;
        let text = mutation::mutate(raw, &edits);
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
                prop_assert!(mutation::well_formed(&entries[2].1), "METADATA.XML");
            }
        }
    }
}
