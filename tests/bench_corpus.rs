//! The benchmark corpus (`benches/common/corpus.rs`, issue 7) is what the speed figures claim it
//! is: the issue's mix, both charsets for real, valid NIR keys and usable identities, and every
//! message converted without a finding (a corpus of rejected messages would measure the
//! wrong path).

#[path = "../benches/common/corpus.rs"]
mod corpus;

use corpus::{Kind, Mix};
use dmpfeed::config::Config;
use dmpfeed::convert::convert;
use dmpfeed::hl7;
use dmpfeed::identity::Nir;
use dmpfeed::reason::Outcome;

#[test]
fn nir_keys_match_published_vectors() {
    // ANS test patient PAT-TROIS, python-stdnum examples for both Corsicas and a birth abroad.
    for nir in [
        "279035121518989",
        "253072A07300443",
        "253072B07300470",
        "295109912611193",
    ] {
        assert_eq!(
            corpus::nir_key(&nir[..13]),
            nir[13..].parse::<u64>().unwrap(),
            "{nir}"
        );
    }
}

#[test]
fn patients_have_valid_keys_corsicans_included() {
    let mut corsica = [false; 3]; // 2A, 2B, 20
    for p in 0..2000 {
        let patient = corpus::patient(7, p);
        let nir = Nir::parse(&patient.nir).expect("a well-formed NIR");
        assert!(nir.has_valid_key(), "patient {p}: {}", patient.nir);
        match &patient.nir[5..7] {
            "2A" => corsica[0] = true,
            "2B" => corsica[1] = true,
            "20" => corsica[2] = true,
            _ => {}
        }
    }
    assert_eq!(corsica, [true; 3], "2A, 2B and pre-1976 20 all occur");
}

#[test]
fn the_first_50_messages_are_the_issue_mix_and_all_convert() {
    let config = Config::default();
    let (mut pdf, mut text, mut latin1) = (0, 0, 0);
    let mut types = std::collections::BTreeSet::new();
    for m in corpus::messages(7, Mix::Mixed, 50) {
        let decoded = hl7::decode(&m.bytes).expect("decodes");
        let msg = decoded.parse().expect("parses");
        let msh18 = msg.get("MSH-18").unwrap().unwrap_or_default();
        if m.latin1 {
            latin1 += 1;
            assert_eq!(msh18, "8859/1");
            assert!(
                std::str::from_utf8(&m.bytes).is_err(),
                "message {}: Latin-1 bytes, not UTF-8",
                m.index
            );
        } else {
            assert_eq!(msh18, "UNICODE UTF-8");
            assert!(std::str::from_utf8(&m.bytes).is_ok());
        }
        let obx: Vec<_> = msg
            .segments_named("OBX")
            .filter(|s| s.field(2).is_some_and(|f| f.raw() != "CWE"))
            .collect();
        match m.kind {
            Kind::Pdf => {
                pdf += 1;
                assert_eq!(obx.len(), 1);
                let data = obx[0].field(5).unwrap().component(5).unwrap();
                let bytes = base64_simd::STANDARD
                    .decode_to_vec(data.raw())
                    .expect("valid base64");
                assert!(
                    (20 * 1024..=200 * 1024).contains(&bytes.len()),
                    "{}",
                    bytes.len()
                );
                assert!(bytes.starts_with(b"%PDF-1.4\n") && bytes.ends_with(b"%%EOF\n"));
            }
            Kind::Text => {
                text += 1;
                assert!((20..=80).contains(&obx.len()), "{} lines", obx.len());
                let raw: String = obx.iter().map(|s| s.raw()).collect();
                assert!(raw.contains('\\'), "escapes in the narrative");
            }
        }
        types.insert(msg.get("TXA-2.1").unwrap().unwrap_or_default().into_owned());
        let c = convert(&m.bytes, None, &config);
        assert_eq!(
            c.outcome,
            Outcome::Converted,
            "message {}: {:?}",
            m.index,
            c.findings
        );
        assert!(
            c.findings.is_empty(),
            "message {}: {:?}",
            m.index,
            c.findings
        );
    }
    assert_eq!((pdf, text, latin1), (20, 30, 25));
    assert_eq!(types.len(), 5, "{types:?}");
}

#[test]
fn a_message_depends_only_on_its_seed_and_index() {
    let last = corpus::messages(7, Mix::Mixed, 13).last().unwrap();
    assert_eq!(last.bytes, corpus::message(7, 12).bytes);
    let texts: Vec<_> = corpus::messages(7, Mix::Text, 4).map(|m| m.index).collect();
    assert_eq!(texts, [0, 2, 4, 5]);
    assert_ne!(corpus::message(7, 12).bytes, corpus::message(8, 12).bytes);
}
