//! Conformance of the HL7v2 reader: `dmpfeed inspect --json` against an independent reference reader
//! of HL7 v2.5 chapter 2 (`tests/reference/hl7_chapter2.py`, Python standard library only), on every
//! fixture: the ANS examples, third-party parsers' test messages (`tests/fixtures/third-party/`),
//! our edge cases (`tests/fixtures/conformance/`) and `samples/`.
//!
//! The two readers share no code; where they disagree, chapter 2 decides which one is fixed (see the
//! reference's docstring for the rules). Error messages are the readers' own words, so an error line
//! is compared as "an error" only.
//!
//! Reviewed golden outputs (`X.expected.jsonl` beside a fixture `X`) pin the behaviour without Python.
//! After a deliberate change, regenerate them with `DMPFEED_BLESS=1 cargo test --test reader_conformance`
//! and review the diff.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The fixture sets, each with the least number of files it must hold (so that a moved folder
/// cannot make the test pass on nothing).
const SETS: &[(&str, usize)] = &[
    ("tests/fixtures/ans-hl7v2-exemples", 12),
    ("tests/fixtures/third-party", 20),
    ("tests/fixtures/conformance", 6),
    ("samples", 20),
];

fn is_message_file(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // CDA documents and documentation travel beside the messages; they are not HL7v2.
    !(name.ends_with(".md")
        || name.ends_with(".jsonl")
        || name.to_ascii_lowercase().ends_with(".xml")
        || name.starts_with('.'))
}

/// Fixture paths relative to the crate root (as they appear in `source`), sorted.
fn fixtures(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(Path::new(ROOT).join(dir))
        .into_iter()
        .map(|e| e.expect("fixture directory is readable"))
        .filter(|e| e.file_type().is_file() && is_message_file(e.path()))
        .map(|e| {
            e.path()
                .strip_prefix(ROOT)
                .expect("under the crate root")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    out.sort();
    out
}

fn json_lines(stdout: &[u8], who: &str, file: &str) -> Vec<Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap_or_else(|e| panic!("{who} printed non-UTF-8 for {file}: {e}"))
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{who}: bad JSON for {file}: {e}: {l}"))
        })
        .collect()
}

/// `dmpfeed inspect --json FILE`: exit 0 or 1 (some message rejected), never a panic.
fn inspect(file: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_dmpfeed"))
        .args(["inspect", "--json", file])
        .current_dir(ROOT)
        .output()
        .expect("run dmpfeed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)) && !stderr.contains("panicked"),
        "dmpfeed inspect --json {file} failed ({:?}): {stderr}",
        out.status
    );
    json_lines(&out.stdout, "dmpfeed", file)
}

/// The reference reader on one file.
fn reference(file: &str) -> Vec<Value> {
    let out = Command::new("python3")
        .args(["tests/reference/hl7_chapter2.py", file])
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "python3 is needed by the conformance test (the reference reader): {e}; \
                 the golden test `golden_outputs_are_unchanged` runs without it"
            )
        });
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "reference reader failed on {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_lines(&out.stdout, "reference", file)
}

/// Error texts are each reader's own: keep only that there was one.
fn without_error_text(mut lines: Vec<Value>) -> Vec<Value> {
    for line in &mut lines {
        if let Some(e) = line.get_mut("error") {
            *e = Value::from("<error>");
        }
    }
    lines
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(240) {
        Some((i, _)) => format!("{}… ({} bytes)", &s[..i], s.len()),
        None => s,
    }
}

/// Where two outputs for one file first differ, said the HL7 way.
fn first_difference(file: &str, ours: &[Value], theirs: &[Value]) -> String {
    if ours.len() != theirs.len() {
        let sources = |v: &[Value]| -> Vec<String> {
            v.iter()
                .map(|m| {
                    let kind = if m.get("error").is_some() {
                        "error"
                    } else {
                        "message"
                    };
                    format!("{} ({kind})", m["source"].as_str().unwrap_or("?"))
                })
                .collect()
        };
        return format!(
            "{file}: {} frames from dmpfeed, {} from the reference\n  dmpfeed:   {:?}\n  reference: {:?}",
            ours.len(),
            theirs.len(),
            sources(ours),
            sources(theirs)
        );
    }
    for (a, b) in ours.iter().zip(theirs) {
        if a == b {
            continue;
        }
        let source = a["source"].as_str().unwrap_or(file);
        let (Some(sa), Some(sb)) = (a["segments"].as_array(), b["segments"].as_array()) else {
            return format!(
                "{source}:\n  dmpfeed:   {}\n  reference: {}",
                short(a),
                short(b)
            );
        };
        if a["charset"] != b["charset"] {
            return format!(
                "{source}: charset {} (dmpfeed) vs {} (reference)",
                a["charset"], b["charset"]
            );
        }
        for (n, (x, y)) in sa.iter().zip(sb).enumerate() {
            if x == y {
                continue;
            }
            let id = x[0].as_str().unwrap_or("?");
            let (fx, fy) = (x.as_array(), y.as_array());
            if let (Some(fx), Some(fy)) = (fx, fy) {
                for f in 1..fx.len().max(fy.len()) {
                    if fx.get(f) != fy.get(f) {
                        return format!(
                            "{source}: segment {} ({id}), {id}-{f}:\n  dmpfeed:   {}\n  reference: {}",
                            n + 1,
                            fx.get(f).map_or("(absent)".into(), short),
                            fy.get(f).map_or("(absent)".into(), short)
                        );
                    }
                }
            }
            return format!(
                "{source}: segment {}:\n  dmpfeed:   {}\n  reference: {}",
                n + 1,
                short(x),
                short(y)
            );
        }
        return format!(
            "{source}: {} segments (dmpfeed) vs {} (reference)",
            sa.len(),
            sb.len()
        );
    }
    unreachable!("outputs differ somewhere")
}

#[test]
fn inspect_json_agrees_with_the_chapter_2_reference_reader() {
    let mut failures = Vec::new();
    let mut messages = 0;
    for &(dir, least) in SETS {
        let files = fixtures(dir);
        assert!(
            files.len() >= least,
            "{dir}: {} fixture files, expected at least {least}",
            files.len()
        );
        for file in &files {
            let ours = without_error_text(inspect(file));
            let theirs = without_error_text(reference(file));
            messages += ours.iter().filter(|m| m.get("segments").is_some()).count();
            if ours != theirs {
                failures.push(first_difference(file, &ours, &theirs));
            }
        }
    }
    assert!(messages >= 80, "only {messages} messages read");
    assert!(
        failures.is_empty(),
        "{} fixture files read differently by dmpfeed and the chapter 2 reference:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn goldens() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(Path::new(ROOT).join("tests/fixtures"))
        .into_iter()
        .map(|e| e.expect("fixture directory is readable"))
        .filter(|e| {
            e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".expected.jsonl")
        })
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

#[test]
fn golden_outputs_are_unchanged() {
    let goldens = goldens();
    assert!(goldens.len() >= 10, "only {} golden files", goldens.len());
    let bless = std::env::var_os("DMPFEED_BLESS").is_some();
    let mut failures = Vec::new();
    for golden in &goldens {
        let name = golden.to_string_lossy();
        let fixture = name
            .strip_suffix(".expected.jsonl")
            .expect("golden name")
            .to_owned();
        let rel = Path::new(&fixture)
            .strip_prefix(ROOT)
            .expect("under the crate root")
            .to_string_lossy()
            .into_owned();
        let got = inspect(&rel);
        if bless {
            let text: String = got.iter().map(|v| format!("{v}\n")).collect();
            std::fs::write(golden, text).expect("write golden");
            continue;
        }
        let want = json_lines(&std::fs::read(golden).expect("read golden"), "golden", &rel);
        if got != want {
            failures.push(first_difference(&rel, &got, &want).replace("reference", "golden"));
        }
    }
    assert!(
        failures.is_empty(),
        "inspect --json output changed (review, then DMPFEED_BLESS=1 to accept):\n\n{}",
        failures.join("\n\n")
    );
}
