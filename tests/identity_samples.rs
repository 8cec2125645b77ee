//! The identity gate on the sample corpus and on the ANS example messages.
//!
//! `samples/README.md` lists the expected outcome of each sample; the identity part of it is
//! checked here: the `held-` samples give their codes, every other message has no blocking
//! identity finding (`held-cda-identity-mismatch.hl7` included: its `DOCUMENT_IDENTITY_MISMATCH`
//! belongs to the CDA mapping, its PID is clean).

use dmpfeed::config::IdentityPolicy;
use dmpfeed::hl7::{self, framing};
use dmpfeed::identity;
use std::path::{Path, PathBuf};

const DEFAULT: IdentityPolicy = IdentityPolicy {
    accept_vali: false,
    allow_test_ins: false,
};
const LENIENT: IdentityPolicy = IdentityPolicy {
    accept_vali: true,
    allow_test_ins: true,
};

/// (message number in the file, code, path) for every finding of every message of a file.
fn findings(path: &Path, policy: &IdentityPolicy) -> Vec<(usize, String, String)> {
    let bytes = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    for (i, frame) in framing::frames(&bytes).enumerate() {
        assert!(
            frame.defect.is_none(),
            "{}: frame {}",
            path.display(),
            i + 1
        );
        let decoded = hl7::decode(frame.bytes).unwrap();
        let msg = decoded.parse().unwrap();
        let verdict = identity::assess(&msg, policy);
        assert_eq!(
            verdict.is_usable(),
            verdict.findings.iter().all(|f| f.is_warning())
        );
        out.extend(
            verdict
                .findings
                .into_iter()
                .map(|f| (i + 1, f.code.as_str().to_owned(), f.path)),
        );
    }
    out
}

fn dir(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The files under `rel` with one of these extensions, sorted.
fn files(rel: &str, ext: &[&str]) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&dir(rel), &mut v);
    v.retain(|p| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ext.contains(&e))
    });
    v.sort();
    v
}

/// The identity findings expected for a sample (all messages of the file), default policy.
fn expected_sample(name: &str) -> Vec<(usize, &'static str, &'static str)> {
    match name {
        "held-doubtful.hl7" => vec![(1, "IDENTITY_DOUBTFUL", "PID-32(2)")],
        "held-ins-key-invalid.hl7" => vec![(1, "INS_KEY_INVALID", "PID-3(2).1")],
        "held-missing-traits.hl7" => vec![
            (1, "TRAIT_MISSING", "PID-7"),
            (1, "TRAIT_MISSING", "PID-11"),
        ],
        "held-no-ins.hl7" => vec![
            (1, "INS_MISSING", "PID-3"),
            (1, "IDENTITY_NOT_QUALIFIED", "PID-32(1)"),
        ],
        "held-not-qualified-prov.hl7" => vec![(1, "IDENTITY_NOT_QUALIFIED", "PID-32(1)")],
        "batch.hl7" => vec![(2, "NIR_BIRTHPLACE_MISMATCH", "PID-11(2).9")],
        _ => vec![],
    }
}

#[test]
fn samples_give_the_identity_codes_of_the_readme() {
    let samples = files("samples", &["hl7"]);
    assert!(samples.len() >= 20, "samples/ not found");
    let mut held = 0;
    for path in &samples {
        let name = path.file_name().unwrap().to_str().unwrap();
        let got = findings(path, &DEFAULT);
        let got: Vec<_> = got
            .iter()
            .map(|(i, c, p)| (*i, c.as_str(), p.as_str()))
            .collect();
        assert_eq!(got, expected_sample(name), "{name}");
        if name.starts_with("held-") && name != "held-cda-identity-mismatch.hl7" {
            held += 1;
            assert!(
                got.iter().any(|(_, c, _)| *c != "NIR_BIRTHPLACE_MISMATCH"),
                "{name}"
            );
        }
    }
    assert_eq!(held, 5);
}

#[test]
fn the_readme_names_the_codes_the_gate_gives() {
    // The README line of each held- sample names the codes: keep them in step.
    let readme = std::fs::read_to_string(dir("samples/README.md")).unwrap();
    for path in files("samples", &["hl7"]) {
        let name = path.file_name().unwrap().to_str().unwrap();
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("- `{name}`")))
            .unwrap_or_else(|| panic!("{name} not in samples/README.md"));
        for (_, code, _) in expected_sample(name) {
            assert!(line.contains(code), "README line of {name} lacks {code}");
        }
    }
}

#[test]
fn held_no_ins_only_lacks_the_ins_when_vali_is_accepted() {
    let got = findings(&dir("samples/held-no-ins.hl7"), &LENIENT);
    let codes: Vec<_> = got.iter().map(|(_, c, _)| c.as_str()).collect();
    assert_eq!(codes, ["INS_MISSING"]);
}

#[test]
fn ans_examples_are_held_by_default_and_pass_when_the_site_allows_vali_and_test_ins() {
    let examples = files("tests/fixtures/ans-hl7v2-exemples", &["er7", "hl7"]);
    let mut with_pid = 0;
    for path in &examples {
        let bytes = std::fs::read(path).unwrap();
        let frame = framing::frames(&bytes).next().unwrap();
        let decoded = hl7::decode(frame.bytes).unwrap();
        let msg = decoded.parse().unwrap();
        if msg.segment("PID").is_none() {
            continue; // the ACKs
        }
        with_pid += 1;
        let codes = |policy| -> Vec<String> {
            findings(path, policy)
                .into_iter()
                .map(|(_, c, p)| format!("{c} {p}"))
                .collect()
        };
        // PAT-TROIS: test INS (….4.10), PID-32 VALI, NIR place 51215 vs BDL 63220. The MDM/ORU
        // examples are MSH-11 P (test INS in production); the PAM-FR consent ones are D.
        let ins_rep = if msg.get("PID-3.5").unwrap().as_deref() == Some("PI") {
            2
        } else {
            1
        };
        let mut expected = vec![];
        if identity::is_production(&msg) {
            expected.push(format!("INS_OID_TEST_IN_PRODUCTION PID-3({ins_rep}).4.2"));
        }
        expected.push("IDENTITY_NOT_QUALIFIED PID-32(1)".to_owned());
        expected.push("NIR_BIRTHPLACE_MISMATCH PID-11(2).9".to_owned());
        assert_eq!(codes(&DEFAULT), expected, "{}", path.display());
        assert_eq!(
            codes(&LENIENT),
            ["NIR_BIRTHPLACE_MISMATCH PID-11(2).9"],
            "{}",
            path.display()
        );
    }
    assert_eq!(with_pid, 10);
}

#[test]
fn ans_mdm_examples_are_production_messages() {
    // The brief's premise: the CI-SIS MDM/ORU examples are MSH-11 P, so their test INS is held.
    let held: Vec<_> = files("tests/fixtures/ans-hl7v2-exemples", &["er7", "hl7"])
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("message_"))
        .map(|p| findings(&p, &DEFAULT))
        .collect();
    assert_eq!(held.len(), 5);
    for f in held {
        assert!(f.iter().any(|(_, c, _)| c == "INS_OID_TEST_IN_PRODUCTION"));
    }
}
