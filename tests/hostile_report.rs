//! Issue 8 "Property": for any input bytes without ADT messages, `report.jsonl` has exactly one
//! line per framed message (as `hl7::framing::frames` frames the same bytes), in order, and the
//! exit status is 0 or 1 (2 is for usage and I/O errors only). Byte soups mix real messages,
//! MLLP bytes, batch envelopes, truncated messages, padding and junk; each goes through the
//! real binary, as a file (bulk mode) or on standard input (stream mode).

mod cli_support;

use cli_support::{bin, report, samples, status, stderr};
use dmpfeed::hl7::{self, framing};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::io::Write;
use std::process::Stdio;

/// The sample messages (ADT excepted), framed.
fn sample_messages() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(samples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            p.is_file() && !name.starts_with("adt-") && name != "README.md"
        })
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        out.extend(framing::frames(&bytes).map(|fr| fr.bytes.to_vec()));
    }
    out
}

fn soup(messages: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = messages.len();
    let part = prop_oneof![
        4 => (0..n).prop_map({ let m = messages.clone(); move |i| m[i].clone() }),
        2 => (0..n).prop_map({ let m = messages.clone(); move |i| [&[0x0B][..], &m[i], &[0x1C, 0x0D]].concat() }),
        2 => (0..n, any::<proptest::sample::Index>())
            .prop_map({ let m = messages.clone(); move |(i, at)| m[i][..at.index(m[i].len())].to_vec() }),
        1 => Just(vec![0x0B]),
        1 => Just(vec![0x1C, 0x0D]),
        1 => Just(vec![0x1C]),
        1 => Just(b"FHS|^~\\&|DPI\rBHS|^~\\&|DPI\r".to_vec()),
        1 => Just(b"BTS|3\rFTS|1\r".to_vec()),
        1 => Just(b"\r\n\r\n  \t\0\0".to_vec()),
        1 => Just(b"\xEF\xBB\xBF".to_vec()),
        1 => Just(b"MSH|".to_vec()),
        1 => Just(b"MSH|^~\\&|A|B|||20240101||ZZZ^Z01|J1|P|2.5\r".to_vec()),
        2 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => "[A-Z|^~&\\\\\r\n]{0,40}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(part, 0..10).prop_map(|p| p.concat())
}

/// True when one of the frames is an ADT message (outcome `recorded` or `rejected` depending
/// on the registry, and possibly a release line): not what this property is about.
fn has_adt(bytes: &[u8]) -> bool {
    framing::frames(bytes).any(|f| {
        hl7::decode(f.bytes)
            .ok()
            .and_then(|d| {
                d.parse()
                    .ok()
                    .map(|m| m.get("MSH-9.1").ok().flatten().is_some_and(|t| t == "ADT"))
            })
            .unwrap_or(false)
    })
}

#[test]
fn one_report_line_per_framed_message_and_exit_0_or_1() {
    let messages = sample_messages();
    let tmp = tempfile::tempdir().unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::cell::Cell::new(0);
    runner
        .run(&(soup(messages), any::<bool>()), |(bytes, on_stdin)| {
            prop_assume!(!has_adt(&bytes));
            case.set(case.get() + 1);
            let dir = tmp.path().join(format!("case{}", case.get()));
            std::fs::create_dir_all(&dir).unwrap();
            let out = dir.join("out");
            let expected = framing::frames(&bytes).count();
            let (o, label) = if on_stdin {
                let mut child = bin()
                    .args(["convert", "-q", "--out"])
                    .arg(&out)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                let mut stdin = child.stdin.take().unwrap();
                let input = bytes.clone();
                let writer = std::thread::spawn(move || stdin.write_all(&input));
                let o = child.wait_with_output().unwrap();
                writer.join().unwrap().unwrap();
                (o, "-".to_owned())
            } else {
                let input = dir.join("soup.hl7");
                std::fs::write(&input, &bytes).unwrap();
                let o = bin()
                    .arg("convert")
                    .arg(&input)
                    .args(["-q", "--out"])
                    .arg(&out)
                    .output()
                    .unwrap();
                (o, input.display().to_string())
            };
            let code = status(&o);
            prop_assert!(code == 0 || code == 1, "exit {}: {}", code, stderr(&o));
            let lines = report(&out);
            prop_assert_eq!(lines.len(), expected, "stdin: {}", on_stdin);
            for (i, line) in lines.iter().enumerate() {
                prop_assert_eq!(
                    line["source"].as_str().unwrap(),
                    format!("{label}#{}", i + 1)
                );
            }
            let rejected = lines.iter().any(|l| l["outcome"] == "rejected");
            prop_assert_eq!(
                code,
                i32::from(rejected),
                "exit status follows the outcomes"
            );
            Ok(())
        })
        .unwrap();
    assert!(case.get() >= 50, "only {} cases without ADT", case.get());
}

/// CONTRACT.md "Logs": at the default level, standard error never shows identity traits, INS or
/// document content — for the samples (every outcome) and for inputs that fail (a corrupt
/// archive, a missing file), in bulk and stream mode.
#[test]
fn default_logs_never_show_identity_or_content() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_zip = tmp.path().join("corrupt.zip");
    std::fs::write(&bad_zip, b"PK\x03\x04 ROCHE 279035145418997").unwrap();
    let bulk = bin()
        .arg("convert")
        .arg(samples())
        .arg(&bad_zip)
        .arg(tmp.path().join("missing.hl7"))
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(status(&bulk), 2);
    let mut child = bin()
        .args(["convert", "--ack", "--out"])
        .arg(tmp.path().join("out-stream"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = std::fs::read(samples().join("stream-mllp.hl7")).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let stream = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    // Every patient of samples/README.md: INS, birth names, first given names, birth dates.
    let readme = std::fs::read_to_string(samples().join("README.md")).unwrap();
    let mut secrets: Vec<String> = Vec::new();
    for line in readme.lines().filter(|l| l.starts_with("- IPP ")) {
        let after = line.split_once(": ").unwrap().1;
        if let Some(ins) = after.strip_prefix('`') {
            secrets.push(ins[..15].to_owned());
        }
        let traits = after.rsplit_once("` ").map_or(after, |(_, t)| t);
        let traits = traits.trim_start_matches("(no INS) ");
        let (names, rest) = traits.split_once(", ").unwrap();
        secrets.extend(names.split(' ').filter(|w| w.len() > 3).map(str::to_owned));
        secrets.push(rest.split(", ").nth(1).unwrap().to_owned()); // birth date
    }
    assert!(secrets.len() > 40, "{secrets:?}");
    secrets.push("JVBERi0".into()); // the start of every base64 PDF
    for (mode, o) in [("bulk", &bulk), ("stream", &stream)] {
        let err = stderr(o);
        assert!(!err.is_empty(), "{mode}: the summary at least");
        for s in &secrets {
            assert!(
                !err.contains(s.as_str()),
                "{mode}: {s:?} in the logs:\n{err}"
            );
        }
    }
}

/// Logs captured by a file, a pipe or an engine's log carry no terminal colour codes (the error
/// of a failing convert, the warnings and the summary alike).
#[test]
fn captured_logs_hold_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .args(["convert", "-v", "--out"])
        .arg(dir.path().join("out"))
        .arg(dir.path().join("nonexistent.hl7"))
        .arg(samples().join("rejected-not-hl7.txt"))
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert_eq!(status(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("nonexistent.hl7"), "{err}");
    assert!(!err.contains("\x1b["), "{err:?}");
}
