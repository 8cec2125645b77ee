//! Helpers for the integration tests that drive the real `dmpfeed` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dmpfeed"));
    c.env_remove("RUST_LOG");
    c
}

pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// A message of a type that carries no document: rejected (`UNSUPPORTED_MESSAGE`) whatever the
/// mapping and identity stages become.
pub fn unsupported(id: &str) -> Vec<u8> {
    format!("MSH|^~\\&|DPI|CHU|PFI|CHU|20240101120000||ZZZ^Z99^ZZZ_Z99|{id}|P|2.5\rEVN||20240101\r")
        .into_bytes()
}

/// A message whose bytes are not what MSH-18 declares: rejected (`HL7_CHARSET`).
pub fn bad_charset(id: &str) -> Vec<u8> {
    let mut m = format!(
        "MSH|^~\\&|DPI|CHU|PFI|CHU|20240101120000||MDM^T02^MDM_T02|{id}|P|2.6|||||FRA|UNICODE UTF-8\rPID|||1||DUPR"
    )
    .into_bytes();
    m.extend_from_slice(b"\xC9\r"); // Latin-1 É: not UTF-8
    m
}

/// A real document message (from samples/) with its MSH-10 replaced: its outcome depends on the
/// stages, the properties tested on it must not.
pub fn document(id: &str) -> Vec<u8> {
    let bytes = std::fs::read(samples().join("mdm-t02-operative-pdf.hl7")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    text.replacen("|SMPL0001|", &format!("|{id}|"), 1)
        .into_bytes()
}

pub fn mllp(m: &[u8]) -> Vec<u8> {
    [&[0x0B][..], m, &[0x1C, 0x0D]].concat()
}

/// The lines of `DIR/report.jsonl`.
pub fn report(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("report.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every report line is JSON"))
        .collect()
}

/// One ACK read back with dmpfeed's own reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub mllp: bool,
    /// MSA-1.
    pub code: String,
    /// MSA-2.
    pub control_id: String,
    /// ERR-4 of each ERR.
    pub severities: Vec<String>,
    /// ERR-5.1 of each ERR (the reason codes).
    pub codes: Vec<String>,
}

/// Splits standard output into ACKs; an incomplete last one (a kill mid-write) is left out.
pub fn acks(stdout: &[u8]) -> Vec<Ack> {
    dmpfeed::hl7::framing::frames(stdout)
        .filter(|f| f.defect.is_none())
        .map(|f| {
            let decoded = dmpfeed::hl7::decode(f.bytes).expect("ACK charset");
            let msg = decoded.parse().expect("ACK parses");
            let get = |p: &str| msg.get(p).unwrap().unwrap_or_default().into_owned();
            assert_eq!(get("MSH-9.1"), "ACK");
            let errs: Vec<_> = msg.segments_named("ERR").collect();
            Ack {
                mllp: f.framing == dmpfeed::hl7::Framing::Mllp,
                code: get("MSA-1"),
                control_id: get("MSA-2"),
                severities: errs
                    .iter()
                    .map(|e| {
                        e.field(4)
                            .map(|f| f.value().into_owned())
                            .unwrap_or_default()
                    })
                    .collect(),
                codes: errs
                    .iter()
                    .map(|e| {
                        e.field(5)
                            .and_then(|f| f.component(1))
                            .map(|c| c.value().into_owned())
                            .unwrap_or_default()
                    })
                    .collect(),
            }
        })
        .collect()
}

/// The ACK code CONTRACT.md gives an outcome ("undecodable" frames are `AR`).
pub fn expected_ack(line: &serde_json::Value) -> &'static [&'static str] {
    match line["outcome"].as_str().unwrap() {
        "converted" | "excluded" | "deleted" | "recorded" | "held" => &["AA"],
        "rejected" => &["AE", "AR"],
        other => panic!("unknown outcome {other}"),
    }
}

/// Checks one ACK against its report line: code, MSA-2, ERR severities and codes.
pub fn assert_ack_matches(ack: &Ack, line: &serde_json::Value) {
    let outcome = line["outcome"].as_str().unwrap();
    assert!(
        expected_ack(line).contains(&ack.code.as_str()),
        "{outcome} answered {ack:?}"
    );
    assert_eq!(
        ack.control_id,
        line["control_id"].as_str().unwrap_or(""),
        "MSA-2 echoes MSH-10"
    );
    let codes: Vec<String> = line["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    // One ERR per finding: several findings may share a code.
    let mut ack_codes: Vec<String> = Vec::new();
    for c in &ack.codes {
        if !ack_codes.contains(c) {
            ack_codes.push(c.clone());
        }
    }
    match outcome {
        "held" => {
            assert!(ack.severities.iter().all(|s| s == "W"), "{ack:?}");
            assert_eq!(ack_codes, codes);
        }
        "rejected" => {
            assert!(ack.severities.iter().all(|s| s == "E"), "{ack:?}");
            assert_eq!(ack_codes, codes);
        }
        _ => assert!(ack.severities.is_empty(), "{ack:?}"),
    }
}

/// Every file under `root`, relative, sorted, with its bytes (the lock file and the registry,
/// `registry.sqlite` and its side files, excepted: they are not outputs).
pub fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .filter(|(p, _)| p != ".dmpfeed.lock" && !p.starts_with("registry.sqlite"))
        .collect();
    out.sort();
    out
}

pub fn status(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed by a signal")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
