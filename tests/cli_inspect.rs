//! `dmpfeed inspect` reads its inputs as `check` and `convert` do: archives, folders, the
//! configured limits; it reports frame defects in words with their byte offset and warns when a
//! charset was assumed.

mod cli_support;

use cli_support::{bin, samples, status, stderr};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Output;

const M1: &[u8] = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|M1|P|2.5\rPID|1||1\r";
const M2: &[u8] = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|M2|P|2.5\rPID|1||2\r";

fn inspect_json(args: &[&str]) -> (Output, Vec<Value>) {
    let out = bin()
        .arg("inspect")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    (out, lines)
}

fn sources(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l["source"].as_str().unwrap().to_owned())
        .collect()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn inspect_reads_the_entries_of_a_zip() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("in.zip");
    let mut w = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
    for (name, m) in [("a/m1.hl7", M1), ("a/m2.hl7", M2)] {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(m).unwrap();
    }
    w.finish().unwrap();
    let (out, lines) = inspect_json(&[arg(&zip)]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let label = zip.display().to_string();
    assert_eq!(
        sources(&lines),
        [format!("{label}!a/m1.hl7#1"), format!("{label}!a/m2.hl7#1")]
    );
    assert_eq!(lines[1]["segments"][0][10], serde_json::json!([[["M2"]]]));
}

#[test]
fn inspect_walks_a_folder_like_check() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/b.hl7"), M2).unwrap();
    std::fs::write(dir.path().join("a.hl7"), M1).unwrap();
    std::fs::write(dir.path().join("notes.md"), b"# ignored").unwrap();
    let (out, lines) = inspect_json(&[arg(dir.path())]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    let root = dir.path().display().to_string();
    assert_eq!(
        sources(&lines),
        [format!("{root}/a.hl7#1"), format!("{root}/sub/b.hl7#1")]
    );
    // The same walk as check's.
    let check = bin()
        .args(["check", "--json", arg(dir.path())])
        .output()
        .unwrap();
    let checked: Vec<String> = String::from_utf8(check.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["source"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(checked, sources(&lines));
}

#[test]
fn an_over_limit_message_is_message_too_large_and_the_next_one_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("small.toml");
    std::fs::write(&config, "[limits]\nmax_message_bytes = 1000\n").unwrap();
    let big = [
        &b"MSH|^~\\&|A|B|C|D|20240101||MDM^T02|BIG|P|2.6\rOBX|1|ED|x||"[..],
        &vec![b'A'; 5000],
        b"\r",
    ]
    .concat();
    let file = dir.path().join("big.hl7");
    std::fs::write(&file, [&big[..], M1].concat()).unwrap();
    let (out, lines) = inspect_json(&["--config", arg(&config), arg(&file)]);
    assert_eq!(status(&out), 1, "{}", stderr(&out));
    assert_eq!(lines.len(), 2);
    let error = lines[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "MESSAGE_TOO_LARGE: message of {} bytes",
            big.len()
        )),
        "{error}"
    );
    assert!(error.ends_with("at byte 0 of the input"), "{error}");
    assert_eq!(lines[1]["segments"][0][10], serde_json::json!([[["M1"]]]));
    // The same file under the default limit is read whole.
    let (out, lines) = inspect_json(&[arg(&file)]);
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(lines.iter().all(|l| l.get("error").is_none()));
}

#[test]
fn frame_defects_are_told_in_words_with_their_offset() {
    let not_hl7 = samples().join("rejected-not-hl7.txt");
    let len = std::fs::metadata(&not_hl7).unwrap().len();
    let (out, lines) = inspect_json(&[arg(&not_hl7)]);
    assert_eq!(status(&out), 1);
    assert_eq!(
        lines[0]["error"],
        format!(
            "HL7_SYNTAX: {len} bytes that are not an HL7 message (no MSH segment), at byte 0 of the input"
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.hl7");
    std::fs::write(&file, [M1, &b"\x0bMSH|^~\\&|A"[..]].concat()).unwrap();
    let (_, lines) = inspect_json(&[arg(&file)]);
    let error = lines[1]["error"].as_str().unwrap();
    assert_eq!(
        error,
        format!(
            "HL7_SYNTAX: the input ended inside an MLLP block (no 0x1C end byte), at byte {} of the input",
            M1.len() + 1
        )
    );
    assert!(!error.contains("Unterminated"), "no Rust names: {error}");
}

#[test]
fn an_assumed_charset_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("latin1.hl7");
    std::fs::write(
        &file,
        b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||\xe9t\xe9\r",
    )
    .unwrap();
    let (out, lines) = inspect_json(&[arg(&file)]);
    assert_eq!(status(&out), 0);
    assert_eq!(lines[0]["charset"], "8859/1");
    let err = stderr(&out);
    assert!(err.contains("CHARSET_ASSUMED"), "{err}");
    let text = bin().args(["inspect", arg(&file)]).output().unwrap();
    let stdout = String::from_utf8(text.stdout.clone()).unwrap();
    assert!(
        stdout.lines().next().unwrap().contains("8859/1, assumed"),
        "{stdout}"
    );
    assert!(stderr(&text).contains("CHARSET_ASSUMED"));
    // A declared 8859/1 is not assumed.
    std::fs::write(
        &file,
        b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5|||||FRA|8859/1\rPID|1||\xe9t\xe9\r",
    )
    .unwrap();
    let declared = bin().args(["inspect", arg(&file)]).output().unwrap();
    assert!(!stderr(&declared).contains("CHARSET_ASSUMED"));
    assert!(
        !String::from_utf8(declared.stdout)
            .unwrap()
            .contains("assumed")
    );
}

#[test]
fn a_syntax_error_says_where_in_the_message_and_where_the_message_starts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two.hl7");
    let bad = b"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|M2|P|2.5\rPID-|1||2\r";
    let input = [M1, &bad[..]].concat();
    std::fs::write(&file, &input).unwrap();
    let (out, lines) = inspect_json(&[arg(&file)]);
    assert_eq!(status(&out), 1);
    let in_message = bad.windows(4).position(|w| w == b"PID-").unwrap();
    assert_eq!(
        M1.len() + in_message,
        97,
        "the bad segment's byte in the file"
    );
    let error = lines[1]["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "HL7_SYNTAX: byte {in_message} of message 2, segment 2: "
        )),
        "{error}"
    );
    assert!(
        error.ends_with(&format!(
            "(the message starts at byte {} of the input)",
            M1.len()
        )),
        "{error}"
    );
}
