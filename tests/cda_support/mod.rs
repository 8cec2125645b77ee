//! Shared by the `cda_*` integration tests: the samples, a test-only reading of PID into the
//! CDA patient model (the real one is the identity gate's), message editing, conversion.
#![allow(dead_code)]

use dmpfeed::cda::model::Patient;
use dmpfeed::config::Config;
use dmpfeed::convert::Conversion;
use dmpfeed::hl7::{self, Message};
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The messages of a sample file (`samples/NAME`), framed as the pipeline frames them.
pub fn sample_messages(name: &str) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(root().join("samples").join(name)).unwrap();
    hl7::framing::frames(&bytes)
        .map(|f| f.bytes.to_vec())
        .collect()
}

/// The one message of a sample file.
pub fn sample(name: &str) -> Vec<u8> {
    let mut all = sample_messages(name);
    assert_eq!(all.len(), 1, "{name} holds one message");
    all.remove(0)
}

/// A fixture file of the ANS examples.
pub fn ans_fixture(relative: &str) -> Vec<u8> {
    let path = root()
        .join("tests/fixtures/ans-hl7v2-exemples")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The CDA patient model as `convert` builds it: the identity gate's PID reading.
pub fn patient_from_pid<'a>(msg: &Message<'a>) -> Patient<'a> {
    dmpfeed::convert::record_target(&dmpfeed::identity::read_patient(msg))
}

/// Converts one raw message through the whole core (`convert`: charset, parse, identity gate,
/// mapping).
pub fn convert_raw(raw: &[u8], config: &Config) -> Conversion {
    dmpfeed::convert::convert(raw, None, config)
}

/// Replaces field `n` of the first segment `seg` of an HL7 text (segments end with `\r`). MSH
/// numbering follows HL7 (MSH-3 is the first field after the encoding characters).
pub fn set_field(text: &str, seg: &str, n: usize, value: &str) -> String {
    let mut done = false;
    let lines: Vec<String> = text
        .split('\r')
        .map(|line| {
            if done || !line.starts_with(seg) || line.as_bytes().get(3) != Some(&b'|') {
                return line.to_owned();
            }
            done = true;
            let mut fields: Vec<String> = line.split('|').map(str::to_owned).collect();
            let index = if seg == "MSH" { n - 1 } else { n };
            if fields.len() <= index {
                fields.resize(index + 1, String::new());
            }
            fields[index] = value.to_owned();
            fields.join("|")
        })
        .collect();
    assert!(done, "no {seg} segment");
    lines.join("\r")
}

/// The received radiology CDA (versionNumber 1, no setId, no relatedDocument) sent as a
/// replacement (T10 / ORC RO / OBX-11 C) of `…8000`.
pub fn received_replacement() -> String {
    let text = sample_text("mdm-t02-radiology-cda.hl7");
    let t10 = set_field(&text, "MSH", 9, "MDM^T10^MDM_T02");
    let t10 = set_field(&set_field(&t10, "ORC", 1, "RO"), "OBX", 11, "C");
    set_field(&t10, "TXA", 13, "1.2.250.1.999.1.2.8000")
}

/// Removes every segment whose line starts with `prefix`.
pub fn drop_segments(text: &str, prefix: &str) -> String {
    text.split('\r')
        .filter(|l| !l.starts_with(prefix))
        .collect::<Vec<_>>()
        .join("\r")
}

/// Replaces the first occurrence of `from` in the text (a test edit that must apply).
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not found");
    text.replacen(from, to, 1)
}

/// A sample as UTF-8 text (the UTF-8 samples only).
pub fn sample_text(name: &str) -> String {
    String::from_utf8(sample(name)).expect("a UTF-8 sample")
}

/// Every converted document of the samples, with a name for its file: the sample name, and
/// `.N` for the N-th message of a file that holds several.
pub fn converted_samples(config: &Config) -> Vec<(String, Conversion)> {
    conversions_of(CONVERTED_SAMPLES, config)
}

/// [`converted_samples`] and the received CDAs as dmpfeed passes them on
/// ([`PASSED_ON_SAMPLES`]): every sample with an expected CDA in `samples/expected/`.
pub fn golden_samples(config: &Config) -> Vec<(String, Conversion)> {
    let mut out = converted_samples(config);
    out.extend(conversions_of(PASSED_ON_SAMPLES, config));
    out
}

fn conversions_of(files: &[&str], config: &Config) -> Vec<(String, Conversion)> {
    let mut out = Vec::new();
    for file in files {
        let messages = sample_messages(file);
        let several = messages.len() > 1;
        for (i, raw) in messages.iter().enumerate() {
            let conversion = convert_raw(raw, config);
            if conversion.document.is_none() {
                continue;
            }
            let stem = file.trim_end_matches(".hl7");
            let name = if several {
                format!("{stem}.{}", i + 1)
            } else {
                stem.to_owned()
            };
            out.push((name, conversion));
        }
    }
    out
}

/// The samples whose document messages are converted (samples/README.md), the received CDA
/// (`mdm-t02-radiology-cda.hl7`) excepted: it is passed on, not written by dmpfeed.
pub const CONVERTED_SAMPLES: &[&str] = &[
    "mdm-t02-operative-pdf.hl7",
    "mdm-t02-consultation-text-latin1.hl7",
    "mdm-t02-hospitalisation-text-latin9.hl7",
    "mdm-t02-discharge-letter-pdf.hl7",
    "mdm-t02-masked.hl7",
    "mdm-t10-replacement.hl7",
    "oru-r01-prescription-pdf.hl7",
    "batch.hl7",
    "concatenated-crlf.hl7",
    "stream-mllp.hl7",
];

/// The samples carrying a CDA the DPI built: dmpfeed passes it on, with the set header it lacks
/// written in (README « The CDA documents »), so it has an expected CDA too.
pub const PASSED_ON_SAMPLES: &[&str] = &["mdm-t02-radiology-cda.hl7"];

/// Where the expected CDA of each converted sample is committed.
pub fn golden_dir() -> PathBuf {
    root().join("samples/expected")
}

pub fn golden_path(name: &str) -> PathBuf {
    golden_dir().join(format!("{name}.xml"))
}

/// Runs `tools/validate-cda -w` once on all these files; panics with its output when a file
/// fails or draws a warning (the closed-template warnings flag elements the CI-SIS does not
/// expect).
pub fn validate_cda(files: &[PathBuf]) {
    validate_cda_with_warnings_allowed(files, &[]);
}

/// [`validate_cda`], where the files in `warnings_allowed` (documents dmpfeed passes on but did
/// not write) may draw warnings — never errors.
pub fn validate_cda_with_warnings_allowed(files: &[PathBuf], warnings_allowed: &[PathBuf]) {
    let tool = root().join("tools/validate-cda");
    let out = std::process::Command::new(&tool)
        .arg("-w")
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "tools/validate-cda failed ({}); run `tools/validate-cda --setup` once if it is not \
         installed.\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let oks = stdout.lines().filter(|l| l.starts_with("OK ")).count();
    assert_eq!(oks, files.len(), "every file reported OK:\n{stdout}");
    // Each file's block is its OK/FAIL line and the lines under it.
    let mut current = String::new();
    for line in stdout.lines() {
        if let Some(rest) = line
            .strip_prefix("OK ")
            .or_else(|| line.strip_prefix("FAIL "))
        {
            current = rest.split("  (").next().unwrap_or(rest).to_owned();
        } else if line.contains("WARN") {
            // The validator may print paths relative to the working directory: compare names.
            let allowed = warnings_allowed.iter().any(|p| {
                p.file_name()
                    .is_some_and(|n| Path::new(&current).file_name() == Some(n))
            });
            assert!(
                allowed,
                "tools/validate-cda warnings for {current}:\n{stdout}"
            );
        }
    }
}

pub fn write_all(dir: &Path, docs: &[(String, Vec<u8>)]) -> Vec<PathBuf> {
    docs.iter()
        .map(|(name, bytes)| {
            let p = dir.join(format!("{name}.xml"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}
