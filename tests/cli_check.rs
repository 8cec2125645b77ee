//! `dmpfeed check` through the real binary: a verdict per message, every reason with its code
//! and HL7 path, nothing written (CONTRACT.md "Commands").

mod cli_support;

use cli_support::*;
use std::io::Write;
use std::process::Stdio;

#[test]
fn check_prints_a_verdict_per_message_and_writes_nothing() {
    let cwd = tempfile::tempdir().unwrap();
    let text = bin()
        .current_dir(cwd.path())
        .arg("check")
        .arg(samples())
        .output()
        .unwrap();
    let json = bin()
        .current_dir(cwd.path())
        .args(["check", "--json"])
        .arg(samples())
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "check writes nothing"
    );
    // The same verdicts as convert gives, in the same order.
    let out = tempfile::tempdir().unwrap();
    let converted = bin()
        .arg("convert")
        .arg(samples())
        .arg("--out")
        .arg(out.path())
        .arg("-q")
        .output()
        .unwrap();
    // One line per message: the release lines (a held document converted once its patient's
    // identity came from ADT) are not verdicts of a message.
    let lines: Vec<serde_json::Value> = report(out.path())
        .into_iter()
        .filter(|l| l.get("released_from").is_none())
        .collect();
    let verdicts: Vec<serde_json::Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), lines.len());
    // `check` judges each message alone; `convert` remembers earlier ones (its registry): a
    // replacement or deletion of a document it never saw is warned about, a held document whose
    // patient has a qualified identity from ADT is converted with it.
    let remembered = |l: &serde_json::Value| {
        l["warnings"].as_array().unwrap().iter().any(|w| {
            [
                "REPLACED_DOCUMENT_UNKNOWN",
                "DELETED_DOCUMENT_UNKNOWN",
                "IDENTITY_FROM_REGISTRY",
            ]
            .contains(&w.as_str().unwrap())
        })
    };
    let mut compared = 0;
    for (v, l) in verdicts.iter().zip(&lines) {
        for key in ["source", "control_id"] {
            assert_eq!(v[key], l[key], "{key}");
        }
        if remembered(l) {
            continue;
        }
        compared += 1;
        for key in ["outcome", "codes", "warnings"] {
            assert_eq!(v[key], l[key], "{key}");
        }
        let findings = v["findings"].as_array().unwrap();
        assert!(findings.len() >= l["codes"].as_array().unwrap().len());
        for f in findings {
            assert!(f["code"].is_string() && f["path"].is_string() && f["detail"].is_string());
        }
    }
    assert_eq!(status(&text), status(&converted));
    assert_eq!(status(&json), status(&converted));
    // Text: one block per message, starting with its source, each finding on its own line.
    let text = String::from_utf8(text.stdout).unwrap();
    let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
    assert_eq!(blocks.len(), lines.len());
    assert!(
        compared + 3 >= lines.len(),
        "most messages do not depend on the registry"
    );
    for (block, l) in blocks.iter().zip(&lines) {
        assert!(block.starts_with(l["source"].as_str().unwrap()), "{block}");
        if remembered(l) {
            continue;
        }
        for d in l["detail"].as_array().unwrap() {
            assert!(block.contains(d.as_str().unwrap()), "{block} lacks {d}");
        }
    }
}

#[test]
fn check_reads_a_stream_on_standard_input() {
    let mut c = bin()
        .args(["check", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(&[mllp(&unsupported("C1")), mllp(&bad_charset("C2"))].concat())
        .unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!(status(&o), 1);
    let v: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["source"], "-#1");
    assert_eq!(v[0]["codes"][0], "UNSUPPORTED_MESSAGE");
    assert_eq!(v[0]["findings"][0]["path"], "MSH-9");
    assert_eq!(v[1]["codes"][0], "HL7_CHARSET");
}

#[test]
fn check_output_closed_early_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let many = tmp.path().join("many.hl7");
    let input: Vec<u8> = (0..2000)
        .flat_map(|i| unsupported(&format!("Q{i}")))
        .collect();
    std::fs::write(&many, input).unwrap();
    let mut c = bin()
        .arg("check")
        .arg(&many)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(c.stdout.take());
    let o = c.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(
        !err.contains("panicked") && !err.to_lowercase().contains("broken pipe"),
        "{err}"
    );
    assert!(matches!(status(&o), 0 | 1));
}

/// A malformed segment is quoted only where its id should be: the bytes after it may be the
/// INS or a name (README "Reason codes": details never contain identity data).
#[test]
fn a_bad_segment_id_is_quoted_without_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leak.hl7");
    std::fs::write(
        &file,
        "MSH|^~\\&|A|B|C|D|20240101||MDM^T02^MDM_T02|1|P|2.6\rEVN|T02\r\
         PID-|1||279035121518989^^^X&1.2.250.1.213.1.4.8&ISO^INS||DUPONT^JEAN\r\
         ÉRIC|DUPONT\r",
    )
    .unwrap();
    let o = bin().args(["check", "--json"]).arg(&file).output().unwrap();
    assert_eq!(status(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["codes"], serde_json::json!(["HL7_SYNTAX"]));
    let detail = v["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.ends_with(": \"PID-\""), "{detail}");
    assert!(
        !detail.contains("2790") && !detail.contains("|1"),
        "{detail}"
    );
    // Not valid as an id, escaped rather than shown.
    std::fs::write(
        &file,
        "MSH|^~\\&|A|B|C|D|20240101||MDM^T02^MDM_T02|1|P|2.6\rEVN|T02\rÉRIC|DUPONT\r",
    )
    .unwrap();
    let o = bin().args(["check", "--json"]).arg(&file).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let detail = v["findings"][0]["detail"].as_str().unwrap();
    assert!(detail.ends_with(": \"\\xc3\\x89RI\""), "{detail}");
    assert!(!detail.contains("DUPONT"), "{detail}");
}

/// The clerk re-checks the held folder: its messages are read, its reason files are not
/// (`input.ignore` has `*.json` by default).
#[test]
fn check_of_the_held_folder_reads_only_the_held_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let convert = bin()
        .args(["convert", "-q", "--out"])
        .arg(&out)
        .arg(samples().join("held-not-qualified-prov.hl7"))
        .arg(samples().join("held-no-ins.hl7"))
        .output()
        .unwrap();
    assert_eq!(status(&convert), 0, "{}", stderr(&convert));
    let held = out.join("held");
    let names = |ext: &str| {
        std::fs::read_dir(&held)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == ext)
            .count()
    };
    assert_eq!((names("hl7"), names("json")), (2, 2));
    let o = bin().args(["check", "--json"]).arg(&held).output().unwrap();
    assert_eq!(status(&o), 0, "nothing rejected: {}", stderr(&o));
    let verdicts: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), 2, "{verdicts:?}");
    assert!(
        verdicts.iter().all(|v| v["outcome"] == "held"),
        "{verdicts:?}"
    );
    assert!(
        verdicts
            .iter()
            .all(|v| v["source"].as_str().unwrap().contains(".hl7#"))
    );
}
