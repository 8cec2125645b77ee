//! Issues 9 and 10 through the real binary, in stream mode (MLLP on standard input with `--ack`)
//! and bulk mode (one file per message in a folder, read in file-name order, in parallel):
//! replacement chains and deletions from the registry, the identity worklist and its release by
//! an ADT that qualifies the identity, merges, patient-level opposition and its lifting, reruns
//! that change nothing, parallel runs that agree with one job, and `dmpfeed held`.

mod cli_support;

use cli_support::*;
use sha1::Digest;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Stream,
    Bulk,
}

const MODES: [Mode; 2] = [Mode::Stream, Mode::Bulk];

fn sample(name: &str) -> String {
    String::from_utf8(std::fs::read(samples().join(name)).unwrap()).unwrap()
}

/// The first PID segment of a sample.
fn pid_of(name: &str) -> String {
    sample(name)
        .split(['\r', '\n'])
        .find(|s| s.starts_with("PID|"))
        .unwrap()
        .to_owned()
}

/// LE GOFF, IPP 100002, qualified.
fn le_goff() -> String {
    pid_of("concatenated-crlf.hl7")
}

/// GARNIER, IPP 100009, provisional identity (PID-32 `PROV`).
fn garnier_prov() -> String {
    pid_of("held-not-qualified-prov.hl7")
}

/// LE GOFF under the duplicate IPP 100099 that `adt-a40-merge.hl7` merges into 100002, with a
/// provisional identity (PID-32 `PROV`).
fn le_goff_prov_duplicate() -> String {
    let pid = le_goff();
    assert!(pid.ends_with("|N|QUAL"), "{pid}");
    pid.replacen("100002^^^", "100099^^^", 1)
        .replacen("|N|QUAL", "|N|PROV", 1)
}

/// ROUSSEAU, IPP 100007, qualified.
fn rousseau() -> String {
    pid_of("adt-a28-opposition.hl7")
}

const AUTHOR: &str =
    "810000100023^GUÉRIN^Benoît^^^DR^^^ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS";

/// A document message: `event` T02 (new), T10 (replacing `parent`) or T04 (deleting `id`).
fn doc(control: &str, event: &str, id: &str, parent: Option<&str>, pid: &str) -> Vec<u8> {
    let (orc, status) = match event {
        "T02" => ("NW", "F"),
        "T10" => ("RO", "C"),
        "T04" => ("CA", "D"),
        other => panic!("event {other}"),
    };
    let parent = parent.unwrap_or("");
    format!(
        "MSH|^~\\&|DPI-DEMO|CHU-DEMO|PFI-DEMO|CHU-DEMO|20240402120000||MDM^{event}^MDM_T02|{control}|P|2.6|||||FRA|UNICODE UTF-8|||2.1^CISIS_CDA_HL7_V2\r\
EVN||20240402120000\r\
{pid}\r\
PV1|1|O|CARDIO^^^CHU-DEMO||||{AUTHOR}\r\
ORC|{orc}\r\
OBR|1|||11488-4^CR ou fiche de consultation ou de visite^LN|||20240402110000\r\
TXA|1|11488-4^CR ou fiche de consultation ou de visite^LN|TEXT|20240402110000|{AUTHOR}|20240402120000|||{AUTHOR}|||{id}|{parent}||||AU\r\
OBX|1|TX|11488-4^CR ou fiche de consultation ou de visite^LN||Compte rendu {control}||||||{status}\r"
    )
    .into_bytes()
}

/// A sample ADT with its control id (MSH-10) replaced and other edits.
fn adt(name: &str, control: &str, edits: &[(&str, &str)]) -> Vec<u8> {
    let mut text = sample(name);
    let old = text.split('|').nth(9).unwrap().to_owned();
    text = text.replacen(&format!("|{old}|"), &format!("|{control}|"), 1);
    for (from, to) in edits {
        assert!(text.contains(from), "{name} has no {from:?}");
        text = text.replacen(from, to, 1);
    }
    text.into_bytes()
}

/// Converts `msgs` (in this order) into `dir`: stream mode, MLLP on standard input with `--ack`
/// (every ACK checked against its line); bulk mode, one file per message in a new folder.
fn run(mode: Mode, dir: &Path, msgs: &[Vec<u8>], extra: &[&str]) -> Output {
    let before = report(dir).len();
    let out = match mode {
        Mode::Stream => {
            let mut child = bin()
                .args(["convert", "--ack", "-q", "--out"])
                .arg(dir)
                .args(extra)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let input: Vec<u8> = msgs.iter().flat_map(|m| mllp(m)).collect();
            let mut stdin = child.stdin.take().unwrap();
            let writer = std::thread::spawn(move || stdin.write_all(&input));
            let out = child.wait_with_output().unwrap();
            writer.join().unwrap().unwrap();
            out
        }
        Mode::Bulk => {
            // The same messages, the same input folder: a rerun reads the same sources.
            let digest = sha1::Sha1::digest(msgs.concat());
            let input = dir.with_extension(format!(
                "in-{:x}",
                u64::from_be_bytes(digest[..8].try_into().unwrap())
            ));
            let _ = std::fs::remove_dir_all(&input);
            std::fs::create_dir_all(&input).unwrap();
            for (i, m) in msgs.iter().enumerate() {
                std::fs::write(input.join(format!("{i:04}.hl7")), m).unwrap();
            }
            bin()
                .arg("convert")
                .arg(&input)
                .args(["-q", "--jobs", "4", "--out"])
                .arg(dir)
                .args(extra)
                .output()
                .unwrap()
        }
    };
    assert!(
        matches!(status(&out), 0 | 1),
        "{mode:?}: status {:?}: {}",
        out.status,
        stderr(&out)
    );
    if mode == Mode::Stream {
        let acks = acks(&out.stdout);
        assert_eq!(acks.len(), msgs.len(), "one ACK per message");
        // Each message's ACK matches its own line (release lines have none).
        let lines: Vec<_> = report(dir)
            .into_iter()
            .skip(before)
            .filter(|l| !is_release(l))
            .collect();
        if lines.len() == acks.len() {
            for (ack, line) in acks.iter().zip(&lines) {
                assert_ack_matches(ack, line);
            }
        }
    }
    out
}

/// A line added for a held message converted when its patient's identity was recorded: its
/// source is not its own (the ADT's, or `held release`).
fn is_release(line: &serde_json::Value) -> bool {
    line.get("released_from").is_some() && line["source"] != line["released_from"]
}

/// The lines added since `before`.
fn new_lines(dir: &Path, before: usize) -> Vec<serde_json::Value> {
    report(dir).into_iter().skip(before).collect()
}

fn strs(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn outcome(l: &serde_json::Value) -> (&str, Vec<&str>, Vec<&str>) {
    (
        l["outcome"].as_str().unwrap(),
        strs(&l["codes"]),
        strs(&l["warnings"]),
    )
}

fn files_in(dir: &Path, folder: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(folder))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `dmpfeed held DIR --json`: one object per patient.
fn worklist(dir: &Path, extra: &[&str]) -> Vec<serde_json::Value> {
    let o = bin()
        .args(["held", "--json"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `dmpfeed documents DIR --json`, without the times (which differ between runs).
fn documents(dir: &Path) -> Vec<serde_json::Value> {
    let o = bin()
        .args(["documents", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(status(&o), 0, "{}", stderr(&o));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            strip_times(&mut v);
            v
        })
        .collect()
}

fn strip_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for k in ["at", "created_at", "updated_at", "time"] {
                m.remove(k);
            }
            m.values_mut().for_each(strip_times);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

fn cda(dir: &Path, line: &serde_json::Value) -> String {
    std::fs::read_to_string(dir.join(line["document"].as_str().unwrap())).unwrap()
}

#[test]
fn an_adt_that_qualifies_the_identity_releases_the_held_documents() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        // The DPI's PID misspells the birth name; the ADT carries the qualified identity.
        let held_pid = garnier_prov().replace("GARNIER^", "GARNIERR^");
        run(
            mode,
            &dir,
            &[doc("H1", "T02", "1.2.250.1.999.1.2.4101", None, &held_pid)],
            &[],
        );
        let held = report(&dir);
        assert_eq!(outcome(&held[0]).0, "held", "{mode:?}");
        assert_eq!(
            files_in(&dir, "held"),
            ["1.2.250.1.999.1.2.4101.hl7", "1.2.250.1.999.1.2.4101.json"]
        );
        let w = worklist(&dir, &[]);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0]["ipp"], "100009");
        assert_eq!(w[0]["count"], 1);
        assert_eq!(strs(&w[0]["reasons"]), ["IDENTITY_NOT_QUALIFIED"]);
        assert_eq!(w[0]["identity"]["state"], "none");
        assert_eq!(w[0]["held"][0]["path"], "held/1.2.250.1.999.1.2.4101.hl7");
        let text = bin().arg("held").arg(&dir).output().unwrap();
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains("IPP 100009"), "{text}");
        assert!(!text.contains("GARNIER"), "no identity traits: {text}");
        assert!(!text.contains("299123523830147"), "no INS: {text}");

        // The ADT qualifies the identity: the held document is released; a document arriving
        // afterwards with the same stale PID is converted with the recorded identity.
        run(
            mode,
            &dir,
            &[
                adt("adt-a31-qualify.hl7", "Q1", &[]),
                doc("H2", "T02", "1.2.250.1.999.1.2.4102", None, &held_pid),
            ],
            &[],
        );
        let lines = new_lines(&dir, 1);
        assert_eq!(lines.len(), 3, "{mode:?}: {lines:#?}");
        assert_eq!(outcome(&lines[0]), ("recorded", vec![], vec![]));
        let release = &lines[1];
        assert_eq!(
            outcome(release),
            ("converted", vec![], vec!["IDENTITY_FROM_REGISTRY"])
        );
        assert_eq!(release["released_from"], held[0]["source"]);
        assert_eq!(release["source"], lines[0]["source"], "caused by the ADT");
        assert!(release["blake3"].is_string(), "{release:#}");
        assert_eq!(
            release["blake3"], held[0]["blake3"],
            "the held message itself"
        );
        assert_eq!(release["metadata"]["version"], 1);
        let xml = cda(&dir, release);
        assert!(
            xml.contains(">GARNIER<") && !xml.contains("GARNIERR"),
            "{xml}"
        );
        assert_eq!(
            outcome(&lines[2]),
            ("converted", vec![], vec!["IDENTITY_FROM_REGISTRY"])
        );
        assert!(lines[2].get("released_from").is_none());
        assert!(!cda(&dir, &lines[2]).contains("GARNIERR"));
        // Out of held/ (both files), off the worklist, in the registry.
        assert!(files_in(&dir, "held").is_empty(), "{mode:?}");
        assert!(worklist(&dir, &[]).is_empty());
        let docs = documents(&dir);
        assert_eq!(docs.len(), 2);
        assert!(
            docs.iter()
                .all(|d| d["ipp"] == "100009" && d["status"] == "current")
        );
    }
}

#[test]
fn a_held_document_and_its_adt_in_one_input_in_either_order() {
    for mode in MODES {
        for adt_first in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("out");
            let held = doc("H1", "T02", "1.2.250.1.999.1.2.4101", None, &garnier_prov());
            let qualify = adt("adt-a31-qualify.hl7", "Q1", &[]);
            let msgs = if adt_first {
                vec![qualify, held]
            } else {
                vec![held, qualify]
            };
            run(mode, &dir, &msgs, &[]);
            let got: Vec<_> = report(&dir)
                .iter()
                .map(|l| outcome(l).0.to_owned())
                .collect();
            let want: &[&str] = if adt_first {
                &["recorded", "converted"]
            } else {
                &["held", "recorded", "converted"]
            };
            assert_eq!(got, want, "{mode:?} adt first: {adt_first}");
            assert!(files_in(&dir, "held").is_empty());
            assert_eq!(files_in(&dir, "documents"), ["1.2.250.1.999.1.2.4101.xml"]);
        }
    }
}

#[test]
fn a_merge_moves_held_documents_to_the_surviving_patient() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        // A document held under the duplicate IPP 100099, then a merge into 100002 whose
        // identity is not qualified yet: the document waits under 100002.
        // (LE GOFF's own PID, provisional: a duplicate record of the same patient; another
        // patient's PID would stay held, IDENTITY_CONFLICT.)
        let dup = le_goff_prov_duplicate();
        let merge_prov = adt("adt-a40-merge.hl7", "M1", &[("N||QUAL", "N||PROV")]);
        run(
            mode,
            &dir,
            &[
                doc("D1", "T02", "1.2.250.1.999.1.2.4201", None, &dup),
                merge_prov,
            ],
            &[],
        );
        let lines = report(&dir);
        assert_eq!(outcome(&lines[0]).0, "held");
        assert_eq!(
            outcome(&lines[1]),
            ("recorded", vec!["IDENTITY_NOT_QUALIFIED"], vec![])
        );
        assert_eq!(
            lines.len(),
            2,
            "not released: the surviving identity is provisional"
        );
        let w = worklist(&dir, &[]);
        assert_eq!(w.len(), 1, "{w:#?}");
        assert_eq!(w[0]["ipp"], "100002", "filed under the surviving patient");
        assert_eq!(w[0]["identity"]["state"], "not_qualified");
        // The surviving patient's identity is qualified: released, with that identity.
        run(mode, &dir, &[adt("adt-a40-merge.hl7", "M2", &[])], &[]);
        let lines = new_lines(&dir, 2);
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert_eq!(outcome(&lines[0]).0, "recorded");
        assert_eq!(outcome(&lines[1]).0, "converted");
        assert_eq!(lines[1]["released_from"], report(&dir)[0]["source"]);
        assert_eq!(
            lines[1]["metadata"]["patientId"], "175112901912319^^^&1.2.250.1.213.1.4.8&ISO",
            "the surviving patient's INS"
        );
        assert!(cda(&dir, &lines[1]).contains("LE GOFF"));
        assert!(worklist(&dir, &[]).is_empty());
        // Later messages naming the old IPP are filed under the surviving patient.
        let o = bin()
            .args(["documents", "--json", "--patient", "100099"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 1);
    }
}

#[test]
fn opposition_excludes_documents_until_lifted_and_reruns_keep_it() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let msgs = vec![
            adt("adt-a28-opposition.hl7", "O1", &[]),
            doc("D1", "T02", "1.2.250.1.999.1.2.4301", None, &rousseau()),
            // INO, a week later: lifts the opposition for later documents.
            adt(
                "adt-a28-opposition.hl7",
                "O2",
                &[
                    ("ADT^A28^ADT_A05", "ADT^A31^ADT_A05"),
                    ("|IO|20240316090000|", "|INO|20240323090000|"),
                ],
            ),
            doc("D2", "T02", "1.2.250.1.999.1.2.4302", None, &rousseau()),
        ];
        run(mode, &dir, &msgs, &[]);
        let lines = report(&dir);
        let got: Vec<_> = lines.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                ("recorded", vec![], vec![]),
                ("excluded", vec!["DMP_OPPOSITION"], vec![]),
                ("recorded", vec![], vec![]),
                ("converted", vec![], vec![]),
            ],
            "{mode:?}"
        );
        assert_eq!(
            files_in(&dir, "excluded"),
            ["1.2.250.1.999.1.2.4301.hl7", "1.2.250.1.999.1.2.4301.json"]
        );
        assert_eq!(files_in(&dir, "documents"), ["1.2.250.1.999.1.2.4302.xml"]);
        // The same input again: the excluded document stays excluded, nothing is added.
        let before = std::fs::read(dir.join("report.jsonl")).unwrap();
        run(mode, &dir, &msgs, &[]);
        assert_eq!(std::fs::read(dir.join("report.jsonl")).unwrap(), before);
        // A new document while opposed again (IO after INO) is excluded.
        let again = adt(
            "adt-a28-opposition.hl7",
            "O3",
            &[("|IO|20240316090000|", "|IO|20240330090000|")],
        );
        run(
            mode,
            &dir,
            &[
                again,
                doc("D3", "T02", "1.2.250.1.999.1.2.4303", None, &rousseau()),
            ],
            &[],
        );
        assert_eq!(outcome(&report(&dir)[5]).1, ["DMP_OPPOSITION"]);
    }
}

/// T02 → T10 → T10 → T04 of one document, then a replacement and a deletion of documents never
/// seen.
fn chain() -> Vec<Vec<u8>> {
    let p = le_goff();
    vec![
        doc("C1", "T02", "1.2.250.1.999.1.2.4401", None, &p),
        doc(
            "C2",
            "T10",
            "1.2.250.1.999.1.2.4402",
            Some("1.2.250.1.999.1.2.4401"),
            &p,
        ),
        doc(
            "C3",
            "T10",
            "1.2.250.1.999.1.2.4403",
            Some("1.2.250.1.999.1.2.4402"),
            &p,
        ),
        doc("C4", "T04", "1.2.250.1.999.1.2.4403", None, &p),
        doc(
            "C5",
            "T10",
            "1.2.250.1.999.1.2.4412",
            Some("1.2.250.1.999.1.2.4411"),
            &p,
        ),
        doc("C6", "T04", "1.2.250.1.999.1.2.4499", None, &p),
    ]
}

#[test]
fn replacement_chains_take_setid_and_version_from_the_registry() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        run(mode, &dir, &chain(), &[]);
        let lines = report(&dir);
        let got: Vec<_> = lines.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                ("converted", vec![], vec![]),
                ("converted", vec![], vec![]),
                ("converted", vec![], vec![]),
                ("deleted", vec![], vec![]),
                ("converted", vec![], vec!["REPLACED_DOCUMENT_UNKNOWN"]),
                ("deleted", vec![], vec!["DELETED_DOCUMENT_UNKNOWN"]),
            ],
            "{mode:?}"
        );
        for (i, version) in [(0, 1), (1, 2), (2, 3)] {
            let m = &lines[i]["metadata"];
            assert_eq!(m["setId"], "1.2.250.1.999.1.2.4401");
            assert_eq!(m["version"], version);
            let xml = cda(&dir, &lines[i]);
            assert!(
                xml.contains("<setId root=\"1.2.250.1.999.1.2.4401\""),
                "{xml}"
            );
            assert!(xml.contains(&format!("<versionNumber value=\"{version}\"/>")));
        }
        assert_eq!(lines[4]["metadata"]["setId"], "1.2.250.1.999.1.2.4411");
        assert_eq!(lines[4]["metadata"]["version"], 2);
        let docs = documents(&dir);
        let chain = docs
            .iter()
            .find(|d| d["set_id"] == "1.2.250.1.999.1.2.4401")
            .unwrap();
        assert_eq!(chain["status"], "deleted");
        assert_eq!(chain["versions"].as_array().unwrap().len(), 3);
        let kinds: Vec<_> = chain["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["original", "replacement", "replacement", "deletion"]
        );
        assert!(
            docs.iter()
                .any(|d| d["set_id"].is_null() && d["status"] == "deleted"),
            "the deletion of a document never seen is kept"
        );
    }
}

/// `dmpfeed documents DIR ARGS…`: its status and standard output.
fn documents_cmd(dir: &Path, args: &[&str]) -> (i32, String) {
    let o = bin().arg("documents").arg(dir).args(args).output().unwrap();
    (status(&o), String::from_utf8(o.stdout).unwrap())
}

/// `dmpfeed documents DIR --document ID --json`, one JSON object per document.
fn documents_named(dir: &Path, id: &str) -> Vec<serde_json::Value> {
    let (code, out) = documents_cmd(dir, &["--json", "--document", id]);
    assert_eq!(code, 0, "{out}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `(source_id, sent_id, cda_id)` of a version in the registry.
type VersionIds = (String, Option<String>, String);

/// The ids of each version in the registry, and `sent_id` of each event.
fn ids_in_registry(dir: &Path) -> (Vec<VersionIds>, Vec<Option<String>>) {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("registry.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT source_id, sent_id, cda_id FROM documents ORDER BY rowid")
        .unwrap();
    let docs = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut stmt = conn
        .prepare("SELECT sent_id FROM document_events ORDER BY id")
        .unwrap();
    let events = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (docs, events)
}

#[test]
fn the_registry_keeps_the_id_the_dpi_sent_and_finds_the_document_by_it() {
    // Issue 9: "keep … source document id (TXA-12 / OBR-3)". `DOC-A` is not an OID: the CDA
    // takes one derived from it, and the DPI's id is kept beside it.
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let p = le_goff();
        let msgs = [
            doc("S1", "T02", "DOC-A", None, &p),
            doc("S2", "T10", "DOC-B^DPI", Some("DOC-A"), &p),
            doc("S3", "T04", "GHOST", None, &p),
        ];
        run(mode, &dir, &msgs, &[]);
        let (docs, events) = ids_in_registry(&dir);
        assert_eq!(docs.len(), 2, "{mode:?}: {docs:?}");
        let (a_id, a_sent, a_cda) = &docs[0];
        assert_eq!(a_sent.as_deref(), Some("DOC-A"), "{mode:?}");
        assert!(a_id.starts_with("1.2.250.") && a_cda == a_id, "{docs:?}");
        assert_eq!(docs[1].1.as_deref(), Some("DOC-B^DPI"));
        assert_eq!(
            events,
            [
                Some("DOC-A".into()),
                Some("DOC-B^DPI".into()),
                Some("GHOST".into())
            ]
        );

        // Found by the id as sent (whole, or EI-1), or by the CDA id: the whole chain.
        for id in ["DOC-A", "DOC-B", "DOC-B^DPI", a_cda.as_str()] {
            let found = documents_named(&dir, id);
            assert_eq!(found.len(), 1, "{mode:?} {id}: {found:?}");
            assert_eq!(found[0]["set_id"], a_cda.as_str());
            let sent: Vec<_> = found[0]["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["sent_id"].as_str().unwrap())
                .collect();
            assert_eq!(sent, ["DOC-A", "DOC-B^DPI"], "{id}");
            assert_eq!(found[0]["current"]["sent_id"], "DOC-B^DPI");
        }
        let ghost = documents_named(&dir, "GHOST");
        assert_eq!(ghost.len(), 1, "{ghost:?}");
        assert!(ghost[0]["set_id"].is_null());
        assert_eq!(ghost[0]["history"][0]["sent_id"], "GHOST");
        assert!(documents_named(&dir, "DOC").is_empty());

        let (code, text) = documents_cmd(&dir, &["--document", "DOC-A"]);
        assert_eq!(code, 0);
        assert!(
            text.contains(&format!("{a_id} (sent as DOC-A)"))
                && text.contains("(sent as DOC-B^DPI)")
                && !text.contains("GHOST"),
            "{text}"
        );
        let (_, text) = documents_cmd(&dir, &["--document", "GHOST"]);
        assert!(
            text.contains("(sent as GHOST), a document never converted here"),
            "{text}"
        );
        let (code, text) = documents_cmd(&dir, &["--document", "NOPE"]);
        assert_eq!(
            (code, text.as_str()),
            (0, "No document recorded with id NOPE.\n")
        );
        let (code, _) = documents_cmd(&dir, &["--document", "DOC-A", "--patient", "100002"]);
        assert_eq!(code, 2, "--document and --patient are one or the other");
    }
}

#[test]
fn convert_upgrades_a_registry_of_an_older_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("registry.sqlite");
    dmpfeed::registry::create_at_schema(&path, 2).unwrap();
    let (code, _) = documents_cmd(&dir, &[]);
    assert_ne!(code, 0, "a reader does not upgrade a registry");
    run(
        Mode::Stream,
        &dir,
        &[doc("U1", "T02", "DOC-A", None, &le_goff())],
        &[],
    );
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, i64::from(dmpfeed::registry::SCHEMA_VERSION));
    assert_eq!(ids_in_registry(&dir).0[0].1.as_deref(), Some("DOC-A"));
    assert_eq!(documents_named(&dir, "DOC-A").len(), 1);
    // A folder begun before BLAKE3 keeps naming its messages by SHA-1 (what `sha1sum` prints).
    let msg = doc("U1", "T02", "DOC-A", None, &le_goff());
    let line = &report(&dir)[0];
    let sha1 = dmpfeed::message_hash::hex(&sha1::Sha1::digest(&msg));
    assert_eq!(line["sha1"], sha1, "{line:#}");
    assert!(line.get("blake3").is_none());
    // Sent again: the same message (no second line for the same result), the same document.
    run(Mode::Bulk, &dir, &[msg], &[]);
    assert_eq!(report(&dir).len(), 1);
    assert_eq!(documents_named(&dir, "DOC-A").len(), 1);
    assert_eq!(files_in(&dir, "documents").len(), 1);
}

/// Everything at once: chains, held and released documents, a merge, oppositions, ADT events
/// without identity news, malformed messages.
fn everything() -> Vec<Vec<u8>> {
    let mut msgs = chain();
    msgs.extend([
        doc("E1", "T02", "1.2.250.1.999.1.2.4501", None, &garnier_prov()),
        adt("adt-a28-opposition.hl7", "E2", &[]),
        doc("E3", "T02", "1.2.250.1.999.1.2.4503", None, &rousseau()),
        doc(
            "E4",
            "T02",
            "1.2.250.1.999.1.2.4504",
            None,
            &le_goff_prov_duplicate(),
        ),
        adt("adt-a31-qualify.hl7", "E5", &[]),
        adt("adt-a40-merge.hl7", "E6", &[]),
        adt(
            "adt-a31-qualify.hl7",
            "E7",
            &[("ADT^A31^ADT_A05", "ADT^A02^ADT_A02")],
        ),
        adt("adt-a31-qualify.hl7", "E8", &[("\rPID|", "\rXXX|")]),
        doc(
            "E9",
            "T10",
            "1.2.250.1.999.1.2.4509",
            Some("1.2.250.1.999.1.2.4501"),
            &le_goff(),
        ),
    ]);
    msgs
}

#[test]
fn reruns_change_nothing() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        run(mode, &dir, &everything(), &[]);
        let lines = report(&dir);
        assert_eq!(
            lines.len(),
            everything().len() + 2,
            "two releases: {lines:#?}"
        );
        assert_eq!(
            outcome(&lines[14]),
            ("recorded", vec![], vec![]),
            "A02: identity kept"
        );
        assert_eq!(
            outcome(&lines[15]),
            ("rejected", vec!["HL7_SYNTAX"], vec![])
        );
        assert_eq!(
            lines[15]["detail"][0].as_str().unwrap().split(' ').nth(2),
            Some("PID:")
        );
        let tree1: Vec<_> = tree(&dir)
            .into_iter()
            .filter(|(p, _)| p != "summary.json")
            .collect();
        let docs1 = documents(&dir);
        let held1 = worklist(&dir, &[]);
        for _ in 0..2 {
            run(mode, &dir, &everything(), &[]);
            assert_eq!(report(&dir), lines, "{mode:?}: no new line");
            let tree2: Vec<_> = tree(&dir)
                .into_iter()
                .filter(|(p, _)| p != "summary.json")
                .collect();
            assert_eq!(
                tree2.iter().map(|t| &t.0).collect::<Vec<_>>(),
                tree1.iter().map(|t| &t.0).collect::<Vec<_>>()
            );
            for ((p, a), (_, b)) in tree1.iter().zip(&tree2) {
                assert!(a == b, "{mode:?}: {p} changed");
            }
            assert_eq!(documents(&dir), docs1, "{mode:?}: same registry rows");
            assert_eq!(worklist(&dir, &[]).len(), held1.len());
            let summary: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
            assert_eq!(summary["already_recorded"], everything().len());
            assert_eq!(summary["released"], 0);
        }
    }
}

/// Many chains whose messages are converted together by parallel workers (their look-ups go
/// stale: the committer must convert them again), interleaved with held documents and ADT.
fn busy_corpus() -> Vec<Vec<u8>> {
    let p = le_goff();
    let mut msgs = Vec::new();
    for c in 0..40 {
        let id = |v: usize| format!("1.2.250.1.999.1.3.{c}.{v}");
        msgs.push(doc(&format!("B{c}-1"), "T02", &id(1), None, &p));
        for v in 2..=4 {
            msgs.push(doc(
                &format!("B{c}-{v}"),
                "T10",
                &id(v),
                Some(&id(v - 1)),
                &p,
            ));
        }
        if c % 3 == 0 {
            msgs.push(doc(&format!("B{c}-d"), "T04", &id(4), None, &p));
        }
        if c % 10 == 5 {
            msgs.push(doc(
                &format!("B{c}-h"),
                "T02",
                &format!("1.2.250.1.999.1.4.{c}"),
                None,
                &garnier_prov(),
            ));
        }
        if c == 25 {
            msgs.push(adt("adt-a31-qualify.hl7", "BQ", &[]));
            msgs.push(adt("adt-a28-opposition.hl7", "BO", &[]));
        }
        if c > 25 && c % 5 == 0 {
            msgs.push(doc(
                &format!("B{c}-o"),
                "T02",
                &format!("1.2.250.1.999.1.5.{c}"),
                None,
                &rousseau(),
            ));
        }
    }
    msgs
}

#[test]
fn parallel_bulk_runs_agree_with_one_job_and_with_the_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let msgs = busy_corpus();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    // Several messages per file: a chain's messages are framed and converted together.
    for (i, chunk) in msgs.chunks(7).enumerate() {
        std::fs::write(input.join(format!("{i:03}.hl7")), chunk.concat()).unwrap();
    }
    let mut results = Vec::new();
    for jobs in ["1", "4", "4"] {
        let dir = tmp.path().join(format!("out-{}", results.len()));
        let o = bin()
            .arg("convert")
            .arg(&input)
            .args(["-q", "--jobs", jobs, "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(status(&o), 0, "{}", stderr(&o));
        let mut lines = report(&dir);
        lines.iter_mut().for_each(strip_times);
        results.push((lines, documents(&dir), files_in(&dir, "documents")));
    }
    let (lines, docs, files) = &results[0];
    assert_eq!(lines.len(), msgs.len() + 3, "three held documents released");
    assert_eq!(
        lines.iter().filter(|l| l["outcome"] == "excluded").count(),
        2
    );
    assert!(
        docs.iter()
            .filter(|d| d["versions"].as_array().unwrap().len() == 4)
            .count()
            >= 40
    );
    for (l, d, f) in &results[1..] {
        assert_eq!(l, lines, "--jobs 4 gives the same report");
        assert_eq!(d, docs, "and the same registry");
        assert_eq!(f, files);
    }
    // The stream gives the same results (sources differ: `-#N`).
    let dir = tmp.path().join("out-stream");
    run(Mode::Stream, &dir, &msgs, &[]);
    let mut stream = report(&dir);
    stream.iter_mut().for_each(strip_times);
    let without_source = |v: &[serde_json::Value]| {
        v.iter()
            .map(|l| {
                let mut l = l.clone();
                l.as_object_mut().unwrap().remove("source");
                l.as_object_mut().unwrap().remove("released_from");
                l
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(without_source(&stream), without_source(lines));
}

#[test]
fn held_release_retries_one_patient() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    // The ADT identity is VALI: not qualified under the default policy.
    let vali = adt("adt-a31-qualify.hl7", "V1", &[("N||QUAL", "N||VALI")]);
    run(
        Mode::Bulk,
        &dir,
        &[
            vali,
            doc("H1", "T02", "1.2.250.1.999.1.2.4601", None, &garnier_prov()),
        ],
        &[],
    );
    assert_eq!(report(&dir).len(), 2);
    let w = worklist(&dir, &[]);
    assert_eq!(w[0]["identity"]["state"], "not_qualified");
    assert_eq!(
        w[0]["identity"]["findings"][0]["code"],
        "IDENTITY_NOT_QUALIFIED"
    );
    let release = |extra: &[&str]| {
        let o = bin()
            .args(["held", "release", "--ipp", "100009"])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(status(&o), 0, "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let text = release(&[]);
    assert!(text.contains("0 released, 1 still held"), "{text}");
    assert!(text.contains("IDENTITY_NOT_QUALIFIED"), "{text}");
    assert_eq!(report(&dir).len(), 2, "nothing written");
    // A site that accepts VALI identities: the recorded identity is now usable.
    let config = tmp.path().join("vali.toml");
    std::fs::write(&config, "[identity]\naccept_vali = true\n").unwrap();
    let config = config.to_string_lossy().into_owned();
    let w = worklist(&dir, &["--config", &config]);
    assert_eq!(w[0]["identity"]["state"], "qualified");
    let text = release(&["--config", &config]);
    assert!(text.contains("1 released, 0 still held"), "{text}");
    let lines = report(&dir);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["source"], "held release");
    assert_eq!(lines[2]["released_from"], lines[1]["source"]);
    assert_eq!(outcome(&lines[2]).0, "converted");
    assert!(files_in(&dir, "held").is_empty());
    assert!(worklist(&dir, &[]).is_empty());
    // Nothing left to release: said so, with status 1, as for an IPP never held (a typo).
    for ipp in ["100009", "999"] {
        let o = bin()
            .args(["held", "release", "--ipp", ipp])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(status(&o), 1, "{}", stderr(&o));
        assert_eq!(
            String::from_utf8(o.stdout).unwrap(),
            format!("no held message for IPP {ipp} (not on the worklist)\n")
        );
    }
    assert_eq!(report(&dir).len(), 3, "nothing written");
}

#[test]
fn a_deletion_withdraws_a_held_document_for_good() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let msgs = vec![
        doc("W1", "T02", "1.2.250.1.999.1.2.4701", None, &garnier_prov()),
        doc("W2", "T04", "1.2.250.1.999.1.2.4701", None, &le_goff()),
        adt("adt-a31-qualify.hl7", "W3", &[]),
    ];
    run(Mode::Bulk, &dir, &msgs, &[]);
    let got: Vec<_> = report(&dir)
        .iter()
        .map(|l| outcome(l).0.to_owned())
        .collect();
    assert_eq!(got, ["held", "deleted", "recorded"], "not released");
    assert!(files_in(&dir, "documents").is_empty());
    assert!(worklist(&dir, &[]).is_empty(), "off the worklist");
    run(Mode::Bulk, &dir, &msgs, &[]);
    assert_eq!(
        report(&dir).len(),
        3,
        "a rerun does not release it either: {:#?}",
        report(&dir)
    );
    assert!(files_in(&dir, "documents").is_empty());
}

#[test]
fn a_release_for_a_patient_opposed_meanwhile_is_excluded() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let opposed =
            "PV1|1|N\rZFA|ACTIF|20240317120000|||||||IO|20240317120000|INC|20240317120000";
        let msgs = vec![
            doc("X1", "T02", "1.2.250.1.999.1.2.4801", None, &garnier_prov()),
            // The patient opposes DMP feeding; the identity is still provisional.
            adt(
                "adt-a31-qualify.hl7",
                "X2",
                &[("N||QUAL", "N||PROV"), ("PV1|1|N", opposed)],
            ),
            adt("adt-a31-qualify.hl7", "X3", &[]),
        ];
        run(mode, &dir, &msgs, &[]);
        let lines = report(&dir);
        let got: Vec<_> = lines.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                ("held", vec!["IDENTITY_NOT_QUALIFIED"], vec![]),
                ("recorded", vec!["IDENTITY_NOT_QUALIFIED"], vec![]),
                ("recorded", vec![], vec![]),
                ("excluded", vec!["DMP_OPPOSITION"], vec![]),
            ],
            "{mode:?}"
        );
        assert_eq!(lines[3]["released_from"], lines[0]["source"]);
        assert!(files_in(&dir, "held").is_empty());
        assert_eq!(
            files_in(&dir, "excluded"),
            ["1.2.250.1.999.1.2.4801.hl7", "1.2.250.1.999.1.2.4801.json"]
        );
        assert!(worklist(&dir, &[]).is_empty());
    }
}

/// Another valid INS of a woman born in December 1999 (GARNIER's, order number 302).
const OTHER_INS: &str = "299123523830246";

/// GARNIER's provisional PID with edits, under IPP 100009 whose qualified identity the ADT
/// `adt-a31-qualify.hl7` records.
fn garnier_with(edits: &[(&str, &str)]) -> String {
    let mut pid = garnier_prov();
    for (from, to) in edits {
        assert!(pid.contains(from), "no {from:?} in {pid}");
        pid = pid.replacen(from, to, 1);
    }
    pid
}

/// The registry's identity stands in for PID's only where PID merely lacks something (not
/// qualified yet, a trait or the INS missing) and contradicts nothing: never where PID says the
/// INS must not be used (DOUT, FICT), nor for another INS, sex or birth date (issue 3). The
/// same rule whether the document was held before the ADT (release) or arrives after it.
#[test]
fn the_recorded_identity_never_overrides_what_pid_says_against_it() {
    const INS_REP: &str = "~299123523830147^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS";
    // (document id suffix, PID edits, codes it keeps when it stays held; empty: released)
    type Case = (
        &'static str,
        Vec<(&'static str, &'static str)>,
        Vec<&'static str>,
    );
    let table: [Case; 8] = [
        ("01", vec![], vec![]),
        ("02", vec![(INS_REP, "")], vec![]),
        ("03", vec![("^OCÉANE LÉA^", "^^")], vec![]),
        (
            "04",
            vec![("|N|PROV", "|N|QUAL~DOUT")],
            vec!["IDENTITY_DOUBTFUL"],
        ),
        (
            "05",
            vec![("|N|PROV", "|N|PROV~FICT")],
            vec!["IDENTITY_DOUBTFUL"],
        ),
        (
            "06",
            vec![("299123523830147", OTHER_INS)],
            vec!["IDENTITY_CONFLICT"],
        ),
        (
            "07",
            vec![("|F|", "|M|")],
            vec!["NIR_SEX_MISMATCH", "IDENTITY_CONFLICT"],
        ),
        (
            "08",
            vec![(INS_REP, ""), ("|F|", "|M|")],
            vec!["IDENTITY_CONFLICT"],
        ),
    ];
    let docs = |prefix: &str| -> Vec<Vec<u8>> {
        table
            .iter()
            .map(|(n, edits, _)| {
                doc(
                    &format!("{prefix}{n}"),
                    "T02",
                    &format!("1.2.250.1.999.1.2.49{prefix}{n}"),
                    None,
                    &garnier_with(edits),
                )
            })
            .collect()
    };
    let check = |mode: Mode, dir: &Path, lines: &[serde_json::Value]| {
        for ((n, _, held), line) in table.iter().zip(lines) {
            let (outcome, codes, warnings) = outcome(line);
            if held.is_empty() {
                assert_eq!(outcome, "converted", "{mode:?} {n}: {line}");
                assert_eq!(warnings, ["IDENTITY_FROM_REGISTRY"], "{mode:?} {n}");
                let xml = cda(dir, line);
                assert!(xml.contains("299123523830147"), "the recorded INS: {n}");
            } else {
                assert_eq!(outcome, "held", "{mode:?} {n}: {line}");
                for code in held {
                    assert!(codes.contains(code), "{mode:?} {n}: {code} in {codes:?}");
                }
            }
        }
    };
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        // Held first (no identity recorded yet), then the qualifying ADT releases only those
        // whose PID merely lacked something.
        run(mode, &dir, &docs("1"), &[]);
        assert!(report(&dir).iter().all(|l| l["outcome"] == "held"));
        run(mode, &dir, &[adt("adt-a31-qualify.hl7", "Q1", &[])], &[]);
        let lines = new_lines(&dir, table.len());
        assert_eq!(outcome(&lines[0]).0, "recorded", "{mode:?}");
        let releases = &lines[1..];
        let releasable: Vec<_> = table.iter().filter(|(_, _, h)| h.is_empty()).collect();
        assert_eq!(releases.len(), releasable.len(), "{mode:?}: {releases:#?}");
        for (line, (n, _, _)) in releases.iter().zip(&releasable) {
            assert_eq!(outcome(line).0, "converted", "{mode:?} {n}");
            assert!(
                line["document"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("491{n}.xml"))
            );
        }
        let w = worklist(&dir, &[]);
        assert_eq!(w[0]["count"], table.len() - releasable.len(), "{w:#?}");
        // The same PIDs arriving after the ADT: the same decisions, at once.
        let before = report(&dir).len();
        run(mode, &dir, &docs("2"), &[]);
        check(mode, &dir, &new_lines(&dir, before));
    }
}

/// An opposition follows the patient's INS, not only the IPP it was recorded under: the DMP is
/// keyed by INS (issue 10). A document naming only the INS, or the INS under another IPP, is
/// excluded while the patient is opposed; `INO` lifts it for both.
#[test]
fn an_opposition_applies_to_the_patients_ins_under_any_ipp() {
    const IPP_REP: &str = "100007^^^CHU-DEMO&1.2.250.1.999.1.1&ISO^PI~";
    let ins_only = rousseau().replacen(IPP_REP, "", 1);
    let other_ipp = rousseau().replacen("100007^^^", "555555^^^", 1);
    assert_ne!(ins_only, rousseau());
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let msgs = vec![
            adt("adt-a28-opposition.hl7", "O1", &[]),
            doc("P1", "T02", "1.2.250.1.999.1.2.4401", None, &ins_only),
            doc("P2", "T02", "1.2.250.1.999.1.2.4402", None, &other_ipp),
            adt(
                "adt-a28-opposition.hl7",
                "O2",
                &[
                    ("ADT^A28^ADT_A05", "ADT^A31^ADT_A05"),
                    ("|IO|20240316090000|", "|INO|20240323090000|"),
                ],
            ),
            doc("P3", "T02", "1.2.250.1.999.1.2.4403", None, &ins_only),
            doc("P4", "T02", "1.2.250.1.999.1.2.4404", None, &other_ipp),
        ];
        run(mode, &dir, &msgs, &[]);
        let lines = report(&dir);
        let got: Vec<_> = lines.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                ("recorded", vec![], vec![]),
                ("excluded", vec!["DMP_OPPOSITION"], vec![]),
                ("excluded", vec!["DMP_OPPOSITION"], vec![]),
                ("recorded", vec![], vec![]),
                ("converted", vec![], vec![]),
                ("converted", vec![], vec![]),
            ],
            "{mode:?}"
        );
        assert_eq!(
            files_in(&dir, "documents"),
            ["1.2.250.1.999.1.2.4403.xml", "1.2.250.1.999.1.2.4404.xml"]
        );
    }
}

/// GARNIER, IPP 100009, qualified (the identity the ADT qualifies).
fn garnier_qual() -> String {
    pid_of("adt-a31-qualify.hl7")
}

/// `status|released_as` of each row of the registry's `held` table, in held order.
fn held_rows(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("registry.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = db
        .prepare("SELECT status, released_as FROM held ORDER BY held_at, rowid")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{}|{}",
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?.unwrap_or_default()
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn a_held_version_released_after_a_newer_one_was_sent_is_not_sent() {
    let r = |n: u32| format!("1.2.250.1.999.1.2.49{n:02}");
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let msgs = vec![
            // An original held, then its replacement converted (parent unknown: version 2).
            doc("S1", "T02", &r(1), None, &garnier_prov()),
            doc("S2", "T10", &r(2), Some(&r(1)), &garnier_qual()),
            // A replacement held, then another replacement of the same parent converted.
            doc("S3", "T02", &r(3), None, &garnier_qual()),
            doc("S4", "T10", &r(4), Some(&r(3)), &garnier_prov()),
            doc("S5", "T10", &r(5), Some(&r(3)), &garnier_qual()),
            adt("adt-a31-qualify.hl7", "S6", &[]),
        ];
        run(mode, &dir, &msgs, &[]);
        let lines = report(&dir);
        let got: Vec<_> = lines.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                ("held", vec!["IDENTITY_NOT_QUALIFIED"], vec![]),
                ("converted", vec![], vec!["REPLACED_DOCUMENT_UNKNOWN"]),
                ("converted", vec![], vec![]),
                ("held", vec!["IDENTITY_NOT_QUALIFIED"], vec![]),
                ("converted", vec![], vec![]),
                ("recorded", vec![], vec![]),
                ("excluded", vec!["DOCUMENT_SUPERSEDED"], vec![]),
                ("excluded", vec!["DOCUMENT_SUPERSEDED"], vec![]),
            ],
            "{mode:?}: {lines:#?}"
        );
        assert_eq!(lines[6]["released_from"], lines[0]["source"]);
        assert_eq!(lines[7]["released_from"], lines[3]["source"]);
        // Only the versions sent in order are in documents/; the outdated ones wait nowhere.
        assert_eq!(
            files_in(&dir, "documents"),
            [r(2), r(3), r(5)].map(|id| format!("{id}.xml"))
        );
        assert_eq!(
            files_in(&dir, "excluded"),
            [
                format!("{}.hl7", r(1)),
                format!("{}.json", r(1)),
                format!("{}.hl7", r(4)),
                format!("{}.json", r(4)),
            ]
        );
        assert!(files_in(&dir, "held").is_empty());
        assert!(worklist(&dir, &[]).is_empty());
        assert_eq!(
            held_rows(&dir),
            [
                format!("released|superseded by documents/{}.xml", r(2)),
                format!("released|superseded by documents/{}.xml", r(5)),
            ]
        );
        // The chains: nothing recorded for the outdated versions; the latest ones current.
        let docs = documents(&dir);
        assert_eq!(docs.len(), 2, "{docs:#?}");
        for d in &docs {
            assert_eq!(d["status"], "current");
        }
        // The same input again changes nothing.
        let before = std::fs::read(dir.join("report.jsonl")).unwrap();
        run(mode, &dir, &msgs, &[]);
        assert_eq!(
            std::fs::read(dir.join("report.jsonl")).unwrap(),
            before,
            "{mode:?}: {:#?}",
            report(&dir)
        );
        assert_eq!(files_in(&dir, "documents").len(), 3);
    }
}

#[test]
fn two_held_messages_for_one_document_release_only_the_latest() {
    let id = "1.2.250.1.999.1.2.4951";
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        // The DPI sends the document again (other bytes) while the first message waits.
        let msgs = vec![
            doc("R1", "T02", id, None, &garnier_prov()),
            doc("R2", "T02", id, None, &garnier_prov()),
            adt("adt-a31-qualify.hl7", "R3", &[]),
        ];
        run(mode, &dir, &msgs, &[]);
        let lines = report(&dir);
        let got: Vec<_> = lines.iter().map(|l| outcome(l).0).collect();
        assert_eq!(
            got,
            ["held", "held", "recorded", "converted"],
            "{mode:?}: {lines:#?}"
        );
        assert_eq!(lines[3]["released_from"], lines[1]["source"], "the latest");
        assert!(lines[3]["blake3"].is_string(), "{:#}", lines[3]);
        assert_eq!(lines[3]["blake3"], lines[1]["blake3"]);
        let docs = files_in(&dir, "documents");
        assert_eq!(docs.len(), 1, "one CDA for the document: {docs:?}");
        assert_eq!(
            Some(docs[0].as_str()),
            lines[3]["document"]
                .as_str()
                .unwrap()
                .strip_prefix("documents/")
        );
        let sent = format!("documents/{}", docs[0]);
        assert_eq!(
            held_rows(&dir),
            [
                format!("released|settled by {sent}"),
                format!("released|{sent}")
            ]
        );
        assert!(worklist(&dir, &[]).is_empty());
        let history = documents(&dir);
        assert_eq!(history.len(), 1);
        assert_eq!(
            history[0]["history"].as_array().unwrap().len(),
            1,
            "{history:#?}"
        );
        // The same input again changes nothing.
        let before = std::fs::read(dir.join("report.jsonl")).unwrap();
        run(mode, &dir, &msgs, &[]);
        assert_eq!(
            std::fs::read(dir.join("report.jsonl")).unwrap(),
            before,
            "{mode:?}"
        );
        assert_eq!(files_in(&dir, "documents").len(), 1);
    }
}

/// GARNIER's provisional PID naming her by INS only (no IPP repetition in PID-3).
fn garnier_prov_ins_only() -> String {
    garnier_prov().replace("100009^^^CHU-DEMO&1.2.250.1.999.1.1&ISO^PI~", "")
}

#[test]
fn documents_held_under_the_ins_only_or_another_ipp_are_released_by_that_ins() {
    for mode in MODES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        run(
            mode,
            &dir,
            &[
                doc(
                    "I1",
                    "T02",
                    "1.2.250.1.999.1.2.4961",
                    None,
                    &garnier_prov_ins_only(),
                ),
                doc(
                    "I2",
                    "T02",
                    "1.2.250.1.999.1.2.4962",
                    None,
                    &garnier_prov().replace("100009^^^", "555555^^^"),
                ),
            ],
            &[],
        );
        let w = worklist(&dir, &[]);
        assert_eq!(w.len(), 2, "{w:#?}");
        assert_eq!(w[0]["ipp"], "555555");
        assert_eq!(w[0]["ins_only"], false);
        assert!(w[1]["ipp"].is_null());
        assert_eq!(w[1]["ins_only"], true, "{w:#?}");
        assert_eq!(w[1]["identity"]["state"], "none");
        let text = bin().arg("held").arg(&dir).output().unwrap();
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains("INS only (no IPP) — 1 held"), "{text}");
        assert!(!text.contains("No IPP"), "{text}");
        assert!(!text.contains("299123523830147"), "no INS: {text}");
        // The ADT qualifies IPP 100009 with that INS: both are released, with its identity.
        run(mode, &dir, &[adt("adt-a31-qualify.hl7", "I3", &[])], &[]);
        let lines = report(&dir);
        let got: Vec<_> = lines.iter().map(outcome).collect();
        assert_eq!(
            got,
            [
                ("held", vec!["IDENTITY_NOT_QUALIFIED"], vec![]),
                ("held", vec!["IDENTITY_NOT_QUALIFIED"], vec![]),
                ("recorded", vec![], vec![]),
                ("converted", vec![], vec!["IDENTITY_FROM_REGISTRY"]),
                ("converted", vec![], vec!["IDENTITY_FROM_REGISTRY"]),
            ],
            "{mode:?}: {lines:#?}"
        );
        assert_eq!(lines[3]["released_from"], lines[0]["source"]);
        assert_eq!(lines[4]["released_from"], lines[1]["source"]);
        for l in &lines[3..] {
            assert_eq!(
                l["metadata"]["patientId"],
                "299123523830147^^^&1.2.250.1.213.1.4.8&ISO"
            );
        }
        assert!(files_in(&dir, "held").is_empty(), "{mode:?}");
        assert!(worklist(&dir, &[]).is_empty());
        // The same input again changes nothing.
        let before = std::fs::read(dir.join("report.jsonl")).unwrap();
        run(mode, &dir, &[adt("adt-a31-qualify.hl7", "I3", &[])], &[]);
        assert_eq!(std::fs::read(dir.join("report.jsonl")).unwrap(), before);
    }
}

#[test]
fn held_release_by_ins_retries_the_messages_carrying_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let vali = adt("adt-a31-qualify.hl7", "V1", &[("N||QUAL", "N||VALI")]);
    run(
        Mode::Bulk,
        &dir,
        &[
            vali,
            doc(
                "V2",
                "T02",
                "1.2.250.1.999.1.2.4971",
                None,
                &garnier_prov_ins_only(),
            ),
        ],
        &[],
    );
    assert_eq!(outcome(&report(&dir)[1]).0, "held");
    let config = tmp.path().join("vali.toml");
    std::fs::write(&config, "[identity]\naccept_vali = true\n").unwrap();
    let w = worklist(&dir, &["--config", &config.to_string_lossy()]);
    assert_eq!(w[0]["ins_only"], true);
    assert_eq!(w[0]["identity"]["state"], "qualified", "{w:#?}");
    let o = bin()
        .args(["held", "release", "--ins", "299123523830147"])
        .arg(&dir)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(status(&o), 0, "{text} {}", stderr(&o));
    assert!(text.contains("1 released, 0 still held"), "{text}");
    assert!(
        !text.contains("299123523830147"),
        "the INS is not echoed: {text}"
    );
    let lines = report(&dir);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["source"], "held release");
    assert_eq!(outcome(&lines[2]).0, "converted");
    assert!(files_in(&dir, "held").is_empty());
    // --ipp and --ins together: a usage error.
    let o = bin()
        .args([
            "held",
            "release",
            "--ipp",
            "100009",
            "--ins",
            "299123523830147",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(status(&o), 2);
}
