//! Issue 8 "Paths": nothing is ever written outside the output folder, whatever the message ids
//! (TXA-12, MSH-10 with `../`, `/`, NUL, Windows device names, thousands of characters), the
//! archive entry names (`../`, absolute, nested archives) or the symbolic links of an input
//! folder (not followed by default; followed when asked, a loop included, without hanging).
//!
//! Each test lists every file under its temporary root after the run and checks that the only
//! new ones are inside DIR, flat in its outcome folders, with safe names.

mod cda_support;
mod cli_support;

use cli_support::{bin, report, status, stderr, unsupported};
use dmpfeed::hl7::{Delimiters, escape::escape};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Hostile ids, as decoded values (written into the message HL7-escaped).
fn hostile_ids() -> Vec<String> {
    [
        "../../escape",
        "../../../../../../tmp/dmpfeed-escape",
        "/etc/passwd",
        "..",
        ".",
        "a/../../b",
        "..\\..\\windows",
        "C:\\Windows\\System32\\x",
        "\\\\server\\share\\x",
        "NUL",
        "con",
        "COM1.xml",
        "LPT9",
        "aux.hl7",
        "x\0y",
        "nul\0",
        "\u{202E}lmx.exe",
        "é/../é",
        ".hidden",
        "-rf",
        "name.",
        "x\ry\nz",
        "%2e%2e%2fescape",
        "~root",
        "$(touch pwned)",
        "*?<>|:\"",
        " ",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        "A".repeat(5000),
        "/".repeat(300),
        "../".repeat(2000),
        "é".repeat(3000),
    ])
    .collect()
}

/// A document message (the operative report) with this MSH-10 and TXA-12, and a message of an
/// unsupported type with this MSH-10: names come from the document id, else the control id.
fn messages(id: &str, n: usize) -> Vec<Vec<u8>> {
    let v = escape(id, &Delimiters::default()).into_owned();
    let doc = cda_support::sample_text("mdm-t02-operative-pdf.hl7");
    let doc = cda_support::set_field(&doc, "MSH", 10, &format!("{v}{n}"));
    let doc = cda_support::set_field(&doc, "TXA", 12, &v);
    vec![doc.into_bytes(), unsupported(&format!("{n}{v}"))]
}

/// Every file and directory under `root`, relative, as raw bytes of the path.
fn listing(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect();
    out.sort();
    out
}

/// What a run may leave: the new entries under `root` are all inside `out`, and inside `out`
/// every file is `report.jsonl`, `summary.json`, the lock, or `FOLDER/NAME` with a safe NAME.
fn assert_only_inside(root: &Path, before: &[PathBuf], out: &Path) {
    let out_rel = out.strip_prefix(root).unwrap();
    for p in listing(root) {
        if before.contains(&p) || p.as_os_str().is_empty() {
            continue;
        }
        if out_rel.starts_with(&p) {
            // DIR's parents, made with it.
            assert!(root.join(&p).is_dir(), "{}", p.display());
            continue;
        }
        assert!(
            p.starts_with(out_rel),
            "written outside the output folder: {}",
            p.display()
        );
    }
    for entry in walkdir::WalkDir::new(out).min_depth(1) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(out).unwrap();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_str().expect("UTF-8 names").to_owned())
            .collect();
        match parts.as_slice() {
            [f] if ["report.jsonl", "summary.json", ".dmpfeed.lock"].contains(&f.as_str()) => {}
            [f] if entry.file_type().is_dir() => assert!(
                ["documents", "held", "excluded", "deleted", "rejected"].contains(&f.as_str()),
                "{f}"
            ),
            // The registry, when this build has one, keeps its files at the top.
            [f] if f.starts_with("registry") || f.ends_with(".sqlite") => {}
            [folder, name] => {
                assert!(
                    ["documents", "held", "excluded", "deleted", "rejected"]
                        .contains(&folder.as_str()),
                    "{}",
                    rel.display()
                );
                assert!(!name.starts_with('.'), "hidden: {}", rel.display());
                assert!(name.len() <= 200, "{} characters: {name}", name.len());
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                    "{name}"
                );
                let stem = name.split('.').next().unwrap().to_ascii_uppercase();
                assert!(
                    !["CON", "PRN", "AUX", "NUL", "COM1", "LPT9"].contains(&stem.as_str()),
                    "{name}"
                );
                assert!(entry.file_type().is_file(), "{}", rel.display());
            }
            _ => panic!("unexpected path in the output folder: {}", rel.display()),
        }
    }
    assert!(!Path::new("/tmp/dmpfeed-escape").exists());
}

fn convert(inputs: &[&Path], out: &Path, config: Option<&Path>) -> std::process::Output {
    let mut c = bin();
    c.arg("convert")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .arg("-q");
    if let Some(config) = config {
        c.arg("--config").arg(config);
    }
    c.output().unwrap()
}

#[test]
fn hostile_ids_never_name_a_path_outside_the_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // Not under a hidden folder (tempfile's `.tmpXXXX`), so that the walk reads it.
    let root = tmp.path().join("root");
    let input = root.join("in/deeper");
    std::fs::create_dir_all(&input).unwrap();
    let ids = hostile_ids();
    let mut all = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        for m in messages(id, n) {
            all.extend_from_slice(&m);
        }
    }
    std::fs::write(input.join("hostile.hl7"), &all).unwrap();
    let out = root.join("work/out");
    let before = listing(&root);
    let o = convert(&[&input], &out, None);
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    assert_eq!(report(&out).len(), ids.len() * 2, "one line per message");
    assert_only_inside(&root, &before, &out);
    // Names are distinct: no message's files replaced another's.
    let lines = report(&out);
    let mut names: Vec<&str> = lines.iter().map(|l| l["name"].as_str().unwrap()).collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    let before_dedup = names.len();
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    assert_eq!(names.len(), before_dedup, "two messages share a name");
}

#[test]
fn hostile_ids_on_a_stream_stay_inside_too() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let out = root.join("out");
    let before = listing(&root);
    let mut child = bin()
        .args(["convert", "--ack", "-q", "--out"])
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let ids = hostile_ids();
    let input: Vec<u8> = ids
        .iter()
        .enumerate()
        .flat_map(|(n, id)| messages(id, n))
        .flat_map(|m| cli_support::mllp(&m))
        .collect();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    assert_eq!(cli_support::acks(&o.stdout).len(), ids.len() * 2);
    assert_only_inside(&root, &before, &out);
}

fn tar_raw(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Raw names: the tar crate's safe setters refuse `..`, a hostile archive does not.
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *bytes).unwrap();
    }
    b.into_inner().unwrap()
}

fn zip_raw(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn hostile_entry_names_in_nested_archives_are_only_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let m = |id: &str| messages(id, 0).concat();
    let inner_tar = gz(&tar_raw(&[
        ("../../inner-escape.hl7", &m("../../x")),
        ("/tmp/dmpfeed-escape", &m("/etc/shadow")),
    ]));
    let inner_zip = zip_raw(&[("..\\..\\win.hl7", &m("CON")), ("C:/abs.hl7", &m("x\0y"))]);
    let outer = zip_raw(&[
        ("../nested.tgz", &inner_tar),
        ("/abs/nested.zip", &inner_zip),
        ("../../../top.hl7", &m("..")),
    ]);
    let input = root.join("hostile.zip");
    std::fs::write(&input, outer).unwrap();
    let out = root.join("work/out");
    let before = listing(&root);
    let o = convert(&[&input], &out, None);
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    let sources: Vec<String> = report(&out)
        .iter()
        .map(|l| l["source"].as_str().unwrap().to_owned())
        .collect();
    let label = input.display().to_string();
    assert_eq!(sources.len(), 10, "{sources:?}");
    assert!(sources.contains(&format!("{label}!../nested.tgz!../../inner-escape.hl7#1")));
    assert!(sources.contains(&format!("{label}!/abs/nested.zip!C:/abs.hl7#2")));
    assert_only_inside(&root, &before, &out);
}

// ---------------------------------------------------------------------------------------------
// Symbolic links in input folders.

/// An input folder with a regular file, links to a file and a folder outside it, a link loop
/// and a dangling link; `outside` holds the two messages the links lead to.
#[cfg(unix)]
fn linked_folder(root: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::symlink;
    let input = root.join("in");
    let outside = root.join("outside");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(input.join("a.hl7"), unsupported("INSIDE")).unwrap();
    std::fs::write(input.join("sub/b.hl7"), unsupported("INSIDE-SUB")).unwrap();
    std::fs::write(outside.join("secret.hl7"), unsupported("OUTSIDE-FILE")).unwrap();
    std::fs::create_dir_all(outside.join("dir")).unwrap();
    std::fs::write(outside.join("dir/c.hl7"), unsupported("OUTSIDE-DIR")).unwrap();
    symlink(outside.join("secret.hl7"), input.join("file-link.hl7")).unwrap();
    symlink(outside.join("dir"), input.join("dir-link")).unwrap();
    symlink(&input, input.join("sub/loop")).unwrap(); // to an ancestor
    symlink(input.join("self-loop"), input.join("self-loop")).unwrap();
    symlink(root.join("nowhere"), input.join("dangling.hl7")).unwrap();
    (input, outside)
}

fn control_ids(out: &Path) -> Vec<String> {
    let mut ids: Vec<String> = report(out)
        .iter()
        .map(|l| l["control_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[cfg(unix)]
#[test]
fn symbolic_links_are_not_followed_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let (input, _) = linked_folder(&root);
    let out = root.join("out");
    let before = listing(&root);
    let started = Instant::now();
    let o = convert(&[&input], &out, None);
    assert!(started.elapsed() < Duration::from_secs(60));
    // Links are skipped, not errors: the run reads what is really in the folder.
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    assert_eq!(control_ids(&out), ["INSIDE", "INSIDE-SUB"]);
    assert_only_inside(&root, &before, &out);
}

#[cfg(unix)]
#[test]
fn follow_symlinks_follows_them_once_and_a_loop_does_not_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let (input, _) = linked_folder(&root);
    let config = root.join("follow.toml");
    std::fs::write(&config, "[input]\nfollow_symlinks = true\n").unwrap();
    let out = root.join("out");
    let before = listing(&root);
    let started = Instant::now();
    let o = convert(&[&input], &out, Some(&config));
    assert!(started.elapsed() < Duration::from_secs(60), "the loop hung");
    // The loops and the dangling link cannot be read: reported, and the rest is processed.
    assert_eq!(status(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("loop"), "{err}");
    assert!(err.contains("dangling.hl7"), "{err}");
    assert_eq!(
        control_ids(&out),
        ["INSIDE", "INSIDE-SUB", "OUTSIDE-DIR", "OUTSIDE-FILE"],
        "each file once"
    );
    assert_only_inside(&root, &before, &out);
}

/// A symbolic link planted in the output folder where dmpfeed appends or opens in place
/// (report.jsonl, the registry, an outcome folder) is refused: nothing is written through it.
#[test]
fn a_link_planted_in_the_output_folder_is_refused() {
    for planted in ["report.jsonl", "registry.sqlite", "documents"] {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let target = outside.join("target");
        if planted == "documents" {
            std::fs::create_dir(&target).unwrap();
        } else {
            std::fs::write(&target, b"").unwrap();
        }
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&target, out.join(planted)).unwrap();
        let input = root.path().join("in.hl7");
        std::fs::write(&input, unsupported("LINK1")).unwrap();
        let output = bin()
            .args(["convert", "--quiet", "--out"])
            .arg(&out)
            .arg(&input)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{planted}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("symbolic link"),
            "{planted}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if planted == "documents" {
            assert_eq!(std::fs::read_dir(&target).unwrap().count(), 0, "{planted}");
        } else {
            assert_eq!(std::fs::read(&target).unwrap(), b"", "{planted}");
        }
    }
}
