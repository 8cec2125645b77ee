//! `dmpfeed documents`: the listing of what was sent, read from an output folder's registry.

mod registry_common;

use registry_common::{Msg, convert, delete, fresh};
use std::process::Command;

fn dmpfeed(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dmpfeed"))
        .args(args)
        .output()
        .expect("run dmpfeed");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// A folder with: IPP1's chain A → B → C (C deleted), IPP1's deletion of a document never seen,
/// IPP2's document D.
fn folder() -> (tempfile::TempDir, String) {
    let (dir, _path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("A", "IPP1").with_ins("184127645108946"));
    convert(
        &mut reg,
        &Msg::t10("B", "A", "IPP1").with_ins("184127645108946"),
    );
    convert(
        &mut reg,
        &Msg::t10("C", "B", "IPP1").with_ins("184127645108946"),
    );
    delete(&mut reg, "C", "IPP1", "del-C");
    delete(&mut reg, "GHOST", "IPP1", "del-G");
    convert(&mut reg, &Msg::t02("D", "IPP2"));
    let d = dir.path().display().to_string();
    (dir, d)
}

#[test]
fn json_lists_a_patients_documents_with_versions_and_history() {
    let (_dir, d) = folder();
    let (code, stdout, stderr) = dmpfeed(&["documents", &d, "--patient", "IPP1", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let chain = &lines[0];
    assert_eq!(chain["status"], "deleted");
    assert_eq!(chain["ipp"], "IPP1");
    assert_eq!(chain["ins"], "184127645108946");
    assert_eq!(chain["current"], serde_json::Value::Null);
    let versions: Vec<(&str, u64, &str)> = chain["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["source_id"].as_str().unwrap(),
                v["version"].as_u64().unwrap(),
                v["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("A", 1, "replaced"),
            ("B", 2, "replaced"),
            ("C", 3, "deleted")
        ]
    );
    let history: Vec<(&str, &str)> = chain["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["event"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [
            ("original", "MDM^T02"),
            ("replacement", "MDM^T10"),
            ("replacement", "MDM^T10"),
            ("deletion", "MDM^T04")
        ]
    );
    // Times are RFC 3339.
    let at = chain["history"][0]["at"].as_str().unwrap();
    assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");
    let ghost = &lines[1];
    assert_eq!(ghost["set_id"], serde_json::Value::Null);
    assert_eq!(ghost["status"], "deleted");
    assert_eq!(ghost["history"][0]["source_id"], "GHOST");

    // By INS: the chain only (the unknown deletion was sent without INS); all: three documents.
    let (_, stdout, _) = dmpfeed(&["documents", &d, "--patient", "184127645108946", "--json"]);
    assert_eq!(stdout.lines().count(), 1);
    let (_, stdout, _) = dmpfeed(&["documents", &d, "--json"]);
    assert_eq!(stdout.lines().count(), 3);
}

#[test]
fn text_shows_each_document_and_its_messages() {
    let (_dir, d) = folder();
    let (code, stdout, stderr) = dmpfeed(&["documents", &d, "--patient", "IPP2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("Document 1.2.250.1.999.D  IPP IPP2  — current: version 1 (D)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("original     v1   D  MDM^T02  documents/D.xml  (from in/D.hl7#1)"),
        "{stdout}"
    );
    let (_, stdout, _) = dmpfeed(&["documents", &d, "--patient", "IPP1"]);
    assert!(
        stdout.contains("— deleted: no version in force"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Deletion of GHOST, a document never converted here"),
        "{stdout}"
    );
    let (code, stdout, _) = dmpfeed(&["documents", &d, "--patient", "NOBODY"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "No document recorded for patient NOBODY.\n")
    );
}

#[test]
fn a_folder_without_registry_is_an_error_and_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let (code, stdout, stderr) = dmpfeed(&["documents", &d]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("no registry here"), "{stderr}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "something was created"
    );
}
