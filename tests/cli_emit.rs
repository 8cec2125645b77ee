//! `convert --emit` through the real binary: the artefacts land beside the CDA (documents/) or the
//! deletion record (deleted/), and the MDM carries the very CDA that was written.

mod cli_support;

use cli_support::{bin, report, samples};
use std::io::Read;

fn obx5_cda(mdm: &[u8]) -> Vec<u8> {
    let decoded = dmpfeed::hl7::decode(mdm).unwrap();
    let msg = decoded.parse().unwrap();
    let obx = msg
        .segments_named("OBX")
        .find(|s| s.field(2).is_some_and(|f| f.raw() == "ED"))
        .expect("the document OBX");
    let b64 = obx.field(5).unwrap().first().text(5).into_owned();
    base64_simd::STANDARD.decode_to_vec(b64.as_bytes()).unwrap()
}

#[test]
fn emitted_artefacts_sit_beside_their_document_and_carry_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let status = bin()
        .args(["convert", "--quiet", "--emit", "mdm,oru,xdm", "--out"])
        .arg(&out)
        .arg(samples().join("mdm-t02-operative-pdf.hl7"))
        .arg(samples().join("mdm-t04-deletion.hl7"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let lines = report(&out);
    assert_eq!(lines.len(), 2);

    let converted = &lines[0];
    assert_eq!(converted["outcome"], "converted");
    let xml_path = out.join(converted["document"].as_str().unwrap());
    let cda = std::fs::read(&xml_path).unwrap();
    let stem = xml_path.to_str().unwrap().strip_suffix(".xml").unwrap();
    for suffix in [".mdm.hl7", ".oru.hl7"] {
        let msg = std::fs::read(format!("{stem}{suffix}")).unwrap();
        assert_eq!(
            obx5_cda(&msg),
            cda,
            "{suffix} carries the written CDA byte for byte"
        );
    }
    let zip = std::fs::File::open(format!("{stem}.xdm.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(zip).unwrap();
    let mut doc = Vec::new();
    zip.by_name("IHE_XDM/SUBSET01/DOC0001.XML")
        .unwrap()
        .read_to_end(&mut doc)
        .unwrap();
    assert_eq!(doc, cda, "the XDM package carries the written CDA");
    assert!(zip.by_name("IHE_XDM/SUBSET01/METADATA.XML").is_ok());
    let files: Vec<&str> = converted["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        files.len(),
        4,
        "CDA + 3 artefacts listed in the report: {files:?}"
    );

    let deleted = &lines[1];
    assert_eq!(deleted["outcome"], "deleted");
    let name = deleted["name"].as_str().unwrap();
    let t04 = std::fs::read(out.join("deleted").join(format!("{name}.mdm.hl7"))).unwrap();
    let decoded = dmpfeed::hl7::decode(&t04).unwrap();
    let msg = decoded.parse().unwrap();
    assert_eq!(msg.get("MSH-9.2").unwrap().as_deref(), Some("T04"));
    assert!(
        !out.join("deleted").join(format!("{name}.xdm.zip")).exists(),
        "no package for a deletion"
    );
}

#[test]
fn an_unknown_artefact_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = bin()
        .args(["convert", "--emit", "mdm,pdf", "--out"])
        .arg(dir.path().join("out"))
        .arg(samples().join("mdm-t02-operative-pdf.hl7"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"pdf\""));
}

/// A document released by an ADT is written from the ADT's qualified identity: its MDM carries
/// that PID (PID-32 `QUAL`), not the held message's (`PROV`), so PID and the CDA name the same
/// patient the same way.
#[test]
fn a_released_document_s_mdm_carries_the_qualified_pid() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let status = bin()
        .args(["convert", "--quiet", "--emit", "mdm", "--out"])
        .arg(&out)
        .arg(samples().join("held-not-qualified-prov.hl7"))
        .arg(samples().join("adt-a31-qualify.hl7"))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let lines = report(&out);
    let outcomes: Vec<_> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["held", "recorded", "converted"]);
    let released = &lines[2];
    assert!(released["released_from"].is_string());
    let xml = out.join(released["document"].as_str().unwrap());
    let mdm = std::fs::read(xml.to_str().unwrap().replace(".xml", ".mdm.hl7")).unwrap();
    let decoded = dmpfeed::hl7::decode(&mdm).unwrap();
    let msg = decoded.parse().unwrap();
    assert_eq!(msg.get("PID-32").unwrap().as_deref(), Some("QUAL"));
    assert_eq!(obx5_cda(&mdm), std::fs::read(&xml).unwrap());
}

/// The `[dmp]` defaults decide a flag the source did not send for the outcome and the report's
/// metadata as for the artefacts (issues 4 and 6): a flagless document under `dest_dmp = false`
/// is `excluded` (its MDM would say `DESTDMP` = `N`), and `masque_ps`/`invisible_patient`
/// defaults are in `report.jsonl`'s confidentiality as in the MDM and METADATA.XML.
#[test]
fn the_dmp_flag_defaults_decide_the_outcome_and_the_metadata_as_the_artefacts() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(samples().join("mdm-t02-operative-pdf.hl7")).unwrap();
    let flagless: String = sample
        .split_inclusive('\r')
        .filter(|seg| !seg.contains("^MetaDMPMSS|"))
        .collect();
    assert_ne!(flagless, sample);
    let input = dir.path().join("flagless.hl7");
    std::fs::write(&input, &flagless).unwrap();
    let run = |name: &str, config: &str, file: &std::path::Path| {
        let path = dir.path().join(format!("{name}.toml"));
        std::fs::write(&path, config).unwrap();
        let out = dir.path().join(name);
        let status = bin()
            .args(["convert", "--quiet", "--emit", "mdm,xdm", "--config"])
            .arg(&path)
            .arg("--out")
            .arg(&out)
            .arg(file)
            .status()
            .unwrap();
        assert!(matches!(status.code(), Some(0 | 1)), "{status:?}");
        let line = report(&out).remove(0);
        (out, line)
    };

    // No DESTDMP sent, dest_dmp = false: not for the DMP, nothing emitted.
    let (out, line) = run("nodest", "[dmp]\ndest_dmp = false\n", &input);
    assert_eq!(line["outcome"], "excluded", "{line}");
    assert_eq!(line["codes"], serde_json::json!(["DMP_OPPOSITION"]));
    assert!(
        !out.join("documents").exists()
            || std::fs::read_dir(out.join("documents"))
                .unwrap()
                .next()
                .is_none()
    );
    // The sender's DESTDMP = Y wins over the default.
    let (_, line) = run(
        "sentdest",
        "[dmp]\ndest_dmp = false\n",
        &samples().join("mdm-t02-operative-pdf.hl7"),
    );
    assert_eq!(line["outcome"], "converted", "{line}");

    // Visibility defaults: the report, the MDM and the XDM metadata agree.
    let (out, line) = run(
        "masked",
        "[dmp]\nmasque_ps = true\ninvisible_patient = true\n",
        &input,
    );
    assert_eq!(line["outcome"], "converted", "{line}");
    assert_eq!(
        line["metadata"]["confidentiality"],
        serde_json::json!(["N", "MASQUE_PS", "INVISIBLE_PATIENT"])
    );
    let stem = out
        .join(line["document"].as_str().unwrap())
        .to_str()
        .unwrap()
        .strip_suffix(".xml")
        .unwrap()
        .to_owned();
    let mdm = std::fs::read_to_string(format!("{stem}.mdm.hl7")).unwrap();
    for (flag, value) in [
        ("MASQUE_PS", "Y"),
        ("INVISIBLE_PATIENT", "Y"),
        ("DESTDMP", "Y"),
    ] {
        let seg = mdm
            .split('\r')
            .find(|s| s.contains(&format!("|{flag}^")))
            .unwrap_or_else(|| panic!("{flag} in the MDM"));
        assert!(seg.contains(&format!("||{value}^")), "{seg}");
    }
    let zip = std::fs::File::open(format!("{stem}.xdm.zip")).unwrap();
    let mut zip = zip::ZipArchive::new(zip).unwrap();
    let mut metadata = String::new();
    zip.by_name("IHE_XDM/SUBSET01/METADATA.XML")
        .unwrap()
        .read_to_string(&mut metadata)
        .unwrap();
    for code in ["MASQUE_PS", "INVISIBLE_PATIENT"] {
        assert!(
            metadata.contains(&format!("\"{code}\"")),
            "{code} in METADATA.XML"
        );
    }
}
