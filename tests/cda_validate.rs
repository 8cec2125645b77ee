//! Every CDA dmpfeed writes for the samples — and for variants covering the other media types
//! and a TRE_A05 document type — passes the ANS validator (`tools/validate-cda`:
//! CDA_extended.xsd, structuration minimale and the CI-SIS profiles), in one call, without a
//! warning; the CDA received already built, as dmpfeed passes it on, without an error.

mod cda_support;

use cda_support::*;
use dmpfeed::config::Config;
use dmpfeed::reason::Outcome;

/// Variants of the operative report sample: `(name, edits)`.
fn variants() -> Vec<(String, String)> {
    let base = sample_text("mdm-t02-operative-pdf.hl7");
    let ed = |media: &str, b64: &str| {
        let obx = base
            .split('\r')
            .find(|l| l.starts_with("OBX|1|"))
            .unwrap()
            .to_owned();
        let start = obx.find("||^").unwrap() + 2;
        let end = obx[start..].find('|').unwrap() + start;
        let new_obx = format!("{}{media}^Base64^{b64}{}", &obx[..start], &obx[end..]);
        replace_once(&base, &obx, &new_obx)
    };
    let tre_a05 = ["TXA", "OBR"].iter().fold(base.clone(), |t, seg| {
        let n = if *seg == "TXA" { 2 } else { 4 };
        set_field(&t, seg, n, "SYNTH^Synthèse^TRE_A05")
    });
    let tre_a05 = replace_once(
        &tre_a05,
        "OBX|1|ED|34874-8^CR opératoire^LN",
        "OBX|1|ED|SYNTH^^TRE_A05",
    );
    vec![
        // "{\rtf1 Compte rendu}"
        (
            "variant-rtf".into(),
            ed("^text^rtf", "e1xydGYxIENvbXB0ZSByZW5kdX0="),
        ),
        // JPEG and TIFF signatures (the validator does not look inside the body)
        (
            "variant-jpeg".into(),
            ed("^IM^JPEG", "/9j/4AAQSkZJRgABAQAAAQABAAD/2w=="),
        ),
        ("variant-tiff".into(), ed("^image^tiff", "SUkqAAgAAAAAAA==")),
        ("variant-tre-a05-synthese".into(), tre_a05),
        // no TXA-22, no PV1-44, an ORU-like minimal header: the author is the legal authenticator
        (
            "variant-minimal".into(),
            set_field(&set_field(&base, "TXA", 22, ""), "PV1", 44, ""),
        ),
        // names and title with markup and forbidden characters
        (
            "variant-hostile-text".into(),
            replace_once(
                &set_field(
                    &base,
                    "TXA",
                    9,
                    "810000100015^O'HARA <b>&amp;\\X01\\^Zoé ]]>^^^DR^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS",
                ),
                "34874-8^CR opératoire^LN||",
                "34874-8^CR <script>\\X02\\\u{FFFE} & opératoire^LN||",
            ),
        ),
    ]
}

#[test]
fn every_written_cda_passes_the_ans_validator() {
    let config = Config::default();
    let mut docs: Vec<(String, Vec<u8>)> = converted_samples(&config)
        .into_iter()
        .map(|(name, c)| (name, c.document.unwrap().cda))
        .collect();
    // batch 3 + concatenated 2 + stream 5 + 7 single samples
    assert_eq!(docs.len(), 17, "converted sample documents");
    // the CDA the DPI built, passed on (with the setId it lacked written in): what dmpfeed
    // outputs must pass too
    let received = convert_raw(&sample("mdm-t02-radiology-cda.hl7"), &config);
    assert_eq!(
        received.outcome,
        Outcome::Converted,
        "{:?}",
        received.findings
    );
    docs.push((
        "received-radiology-cda".into(),
        received.document.unwrap().cda,
    ));
    // the same CDA as a replacement: setId, versionNumber and relatedDocument written in
    let replacement = convert_raw(received_replacement().as_bytes(), &config);
    assert_eq!(replacement.outcome, Outcome::Converted);
    docs.push((
        "received-replacement-cda".into(),
        replacement.document.unwrap().cda,
    ));
    for (name, text) in variants() {
        let c = convert_raw(text.as_bytes(), &config);
        assert_eq!(c.outcome, Outcome::Converted, "{name}: {:?}", c.findings);
        docs.push((name, c.document.unwrap().cda));
    }
    // CDA_OUT=DIR keeps the documents for a look.
    if let Some(keep) = std::env::var_os("CDA_OUT") {
        std::fs::create_dir_all(&keep).unwrap();
        write_all(std::path::Path::new(&keep), &docs);
    }
    let dir = tempfile::tempdir().unwrap();
    let files = write_all(dir.path(), &docs);
    // the received CDA's own content (the ANS example's) may draw closed-template warnings
    let received: Vec<_> = files
        .iter()
        .filter(|f| {
            f.ends_with("received-radiology-cda.xml") || f.ends_with("received-replacement-cda.xml")
        })
        .cloned()
        .collect();
    assert_eq!(received.len(), 2);
    validate_cda_with_warnings_allowed(&files, &received);
}
