//! Every input a fuzz target ever crashed on (`fuzz/regressions/`), replayed through the very
//! checks of the target (`fuzz/src/checks.rs`, included here), so that a fixed crash stays fixed
//! without cargo-fuzz. Files are named after their target: `reader-…`, `framing_chunks-…`,
//! `convert-…`, `convert_structured-…`, `archive-…`; the failing ones are named.

#[path = "../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::path::{Path, PathBuf};

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

/// The fuzz targets, by name.
const TARGETS: [&str; 5] = [
    "reader",
    "framing_chunks",
    "convert",
    "convert_structured",
    "archive",
];

/// Runs `data` through the checks of `target`.
fn check(target: &str, data: &[u8]) {
    match target {
        "reader" => checks::reader(data),
        "framing_chunks" => checks::framing_chunks(data),
        "convert" => checks::convert(data),
        "convert_structured" => checks::convert_structured(data),
        "archive" => checks::archive(data),
        other => panic!("no fuzz target {other:?}"),
    }
}

/// Replays one regression file through the checks of the target it is named after.
fn replay(name: &str) {
    let data = std::fs::read(regressions().join(name)).expect("readable regression input");
    let (target, _) = name
        .split_once('-')
        .expect("a regression file is named TARGET-what");
    assert!(
        TARGETS.contains(&target),
        "{name}: no fuzz target {target:?}"
    );
    check(target, &data);
}

#[test]
fn every_fuzz_regression_input_is_handled() {
    let mut names: Vec<String> = std::fs::read_dir(regressions())
        .expect("fuzz/regressions exists")
        .map(|e| {
            e.expect("readable entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no regression inputs");
    let mut failed = Vec::new();
    for name in &names {
        if std::panic::catch_unwind(|| replay(name)).is_err() {
            failed.push(name.clone());
        }
    }
    assert!(failed.is_empty(), "regressions failing again: {failed:?}");
}

/// The seeds of every target go through its checks too: they are the inputs the fuzzer starts
/// from, and a seed that fails would make every run stop at once.
#[test]
fn every_seed_passes_its_target() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for target in TARGETS {
        let dir = seeds.join(target);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            check(target, &std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "{target}: no seeds");
    }
}
