//! The expected CDA of every converted sample (written by dmpfeed, or received already built and
//! passed on with the setId it lacked) is committed under `samples/expected/`; this test
//! regenerates them and diffs. After an intended change: `UPDATE_GOLDEN=1 cargo test --test
//! cda_golden`, then review the diff (`tests/cda_validate.rs` runs the ANS validator on them).

mod cda_support;

use cda_support::*;
use dmpfeed::config::Config;

#[test]
fn sample_cdas_match_their_golden_files() {
    let config = Config::default();
    let docs = golden_samples(&config);
    assert!(!docs.is_empty());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    if update {
        std::fs::create_dir_all(golden_dir()).unwrap();
    }
    let mut mismatches = Vec::new();
    for (name, conversion) in &docs {
        let got = &conversion.document.as_ref().unwrap().cda;
        let path = golden_path(name);
        if update {
            std::fs::write(&path, got).unwrap();
            continue;
        }
        let want = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run UPDATE_GOLDEN=1 cargo test --test cda_golden)",
                path.display()
            )
        });
        if &want != got {
            let (w, g) = (String::from_utf8_lossy(&want), String::from_utf8_lossy(got));
            let line = w
                .lines()
                .zip(g.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| w.lines().count().min(g.lines().count()));
            mismatches.push(format!(
                "{name}: first difference at line {}\n  expected: {:?}\n  got:      {:?}",
                line + 1,
                w.lines().nth(line),
                g.lines().nth(line)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // No stale golden file: each one belongs to a converted sample.
    let names: Vec<String> = docs.iter().map(|(n, _)| format!("{n}.xml")).collect();
    for entry in std::fs::read_dir(golden_dir()).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(names.contains(&file), "stale golden file {file}");
    }
}
