//! Bulk mode through the real binary: folders, archives, exit statuses, reruns, hostile inputs
//! (CONTRACT.md "Commands", "Output folder", "Exit status").

mod cli_support;

use cli_support::*;
use std::io::Write;
use std::path::{Path, PathBuf};

fn convert(inputs: &[&Path], out: &Path) -> std::process::Output {
    bin()
        .arg("convert")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .arg("-q")
        .output()
        .unwrap()
}

/// A copy of samples/ with a sub-folder, a hidden file and a hidden folder.
fn corpus(root: &Path) -> PathBuf {
    let dir = root.join("in");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::create_dir_all(dir.join(".cache")).unwrap();
    for entry in std::fs::read_dir(samples()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    std::fs::write(dir.join("sub/z-unsupported.hl7"), unsupported("SUB1")).unwrap();
    std::fs::write(dir.join("sub/.hidden.hl7"), unsupported("HIDDEN")).unwrap();
    std::fs::write(dir.join(".cache/x.hl7"), unsupported("HIDDEN2")).unwrap();
    dir
}

/// The files of a folder, relative, in walk order (sorted), hidden ones included.
fn files_of(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (rel, e.path().to_path_buf())
        })
        .collect();
    out.sort();
    out
}

fn zip_of(dir: &Path, to: &Path) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (rel, path) in files_of(dir) {
        w.start_file(rel, opts).unwrap();
        w.write_all(&std::fs::read(path).unwrap()).unwrap();
    }
    w.finish().unwrap();
}

fn tar_gz_of(dir: &Path, to: &Path) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::default(),
    );
    let mut b = tar::Builder::new(gz);
    for (rel, path) in files_of(dir) {
        b.append_path_with_name(path, rel).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap();
}

/// What must not depend on where the messages came from.
fn outcomes(out: &Path, prefix: &str) -> Vec<String> {
    report(out)
        .iter()
        .map(|l| {
            let source = l["source"].as_str().unwrap();
            let rel = source
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{source} does not start with {prefix}"));
            format!(
                "{rel} {} {} {} {} {}",
                l["control_id"], l["outcome"], l["codes"], l["name"], l["files"]
            )
        })
        .collect()
}

#[test]
fn a_folder_a_zip_and_a_tar_gz_give_the_same_outcomes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = corpus(tmp.path());
    let zip = tmp.path().join("corpus.zip");
    let tgz = tmp.path().join("corpus.tar.gz");
    zip_of(&dir, &zip);
    tar_gz_of(&dir, &tgz);
    let runs = [
        (dir.clone(), format!("{}/", dir.display())),
        (zip.clone(), format!("{}!", zip.display())),
        (tgz.clone(), format!("{}!", tgz.display())),
    ];
    let mut results = Vec::new();
    for (i, (input, prefix)) in runs.iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let o = convert(&[input], &out);
        let names: Vec<String> = tree(&out)
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| {
                p.starts_with("rejected/") || p.starts_with("documents/") || p.starts_with("held/")
            })
            .collect();
        results.push((status(&o), outcomes(&out, prefix), names));
    }
    assert!(!results[0].1.is_empty());
    assert!(
        results[0]
            .1
            .iter()
            .all(|l| !l.contains("hidden") && !l.contains("README")),
        "hidden and ignored files skipped: {:?}",
        results[0].1
    );
    assert!(
        results[0]
            .1
            .iter()
            .any(|l| l.starts_with("sub/z-unsupported.hl7#1"))
    );
    assert_eq!(results[0], results[1], "folder vs zip");
    assert_eq!(results[0], results[2], "folder vs tar.gz");
}

#[test]
fn report_and_summary_account_for_every_message() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = convert(&[&samples()], &out);
    assert!(matches!(status(&o), 0 | 1), "{}", stderr(&o));
    // Frames counted with the reader itself, README.md and expected/*.xml ignored
    // (input.ignore = ["*.md", "*.xml"]) and counted as skipped.
    let mut expected = Vec::new();
    let mut skipped = 0;
    for (rel, path) in files_of(&samples()) {
        if rel.ends_with(".md") || rel.ends_with(".xml") {
            skipped += 1;
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for i in 1..=dmpfeed::hl7::framing::frames(&bytes).count() {
            expected.push(format!("{}#{i}", path.display()));
        }
    }
    let lines = report(&out);
    let sources: Vec<&str> = lines
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, expected, "one line per message, in input order");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["messages"], lines.len());
    assert_eq!(summary["skipped_files"], skipped);
    let by_outcome: u64 = summary["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(by_outcome, lines.len() as u64);
    let rejected = lines.iter().filter(|l| l["outcome"] == "rejected").count();
    assert_eq!(summary["outcomes"]["rejected"], rejected);
    assert_eq!(status(&o), if rejected > 0 { 1 } else { 0 });
    // Every file a line names exists, and nothing else was written.
    let mut named: Vec<String> = lines
        .iter()
        .flat_map(|l| l["files"].as_array().unwrap().iter())
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    named.extend(["report.jsonl".to_owned(), "summary.json".to_owned()]);
    named.sort();
    named.dedup();
    let written: Vec<String> = tree(&out).into_iter().map(|(p, _)| p).collect();
    assert_eq!(written, named);
}

#[test]
fn a_rerun_gives_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let without_summary = |out: &Path| {
        tree(out)
            .into_iter()
            .filter(|(p, _)| p != "summary.json")
            .collect::<Vec<_>>()
    };
    convert(&[&samples()], &out);
    let first = without_summary(&out);
    let o = convert(&[&samples()], &out);
    assert!(matches!(status(&o), 0 | 1));
    let second = without_summary(&out);
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&second), names(&first), "no duplicates");
    for ((p, a), (_, b)) in first.iter().zip(&second) {
        // A CDA may carry the time it was made; every other file is the same.
        if !p.ends_with(".xml") {
            assert_eq!(a, b, "{p} changed");
        }
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["already_recorded"], summary["messages"]);
}

#[test]
fn a_resend_from_another_source_leaves_the_reason_files_naming_the_first() {
    // The same messages from another place (a copy of the folder): no new report line, and the
    // `.json` beside each held, rejected, excluded or deleted message still names the source
    // the report's line names.
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let copy = tmp.path().join("elsewhere");
    std::fs::create_dir(&copy).unwrap();
    for (rel, bytes) in tree(&samples()) {
        let to = copy.join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, bytes).unwrap();
    }
    let sidecars = |out: &Path| {
        tree(out)
            .into_iter()
            .filter(|(p, _)| p.ends_with(".json") && p != "summary.json")
            .collect::<Vec<_>>()
    };
    convert(&[&samples()], &out);
    let first = sidecars(&out);
    assert!(first.len() > 5, "{} reason files", first.len());
    let lines = std::fs::read(out.join("report.jsonl")).unwrap();
    convert(&[&copy], &out);
    assert_eq!(
        sidecars(&out),
        first,
        "reason files rewritten by the resend"
    );
    assert_eq!(std::fs::read(out.join("report.jsonl")).unwrap(), lines);
    let temporaries: Vec<String> = tree(&out)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.contains(".dmpfeed-tmp-"))
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
}

#[test]
fn a_hostile_archive_writes_nothing_outside_the_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // Not under the temporary folder, whose name is hidden (`.tmpXXXX`) and would be skipped.
    let abs = PathBuf::from("/dmpfeed-hostile-test/abs-target.hl7");
    let abs_name = abs.display().to_string();
    let entries: Vec<(String, Vec<u8>)> = vec![
        ("../escape.hl7".into(), unsupported("../../escape")),
        ("../../escape2.hl7".into(), unsupported("/etc/passwd")),
        (abs_name.clone(), unsupported("..")),
        ("ok/../../x.hl7".into(), b"not hl7\r".to_vec()),
    ];
    let zip = tmp.path().join("hostile.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
        for (name, bytes) in &entries {
            w.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap();
    }
    let tar = tmp.path().join("hostile.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&tar).unwrap());
        for (name, bytes) in &entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Raw names: the tar crate's safe setters refuse `..`, a hostile archive does not.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, &bytes[..]).unwrap();
        }
        b.finish().unwrap();
    }
    let work = tmp.path().join("work");
    let out = work.join("out");
    let o = convert(&[&zip, &tar], &out);
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    let lines = report(&out);
    assert_eq!(lines.len(), 8, "every entry read, as a message");
    assert!(
        lines
            .iter()
            .any(|l| l["source"] == format!("{}!../escape.hl7#1", zip.display()))
    );
    assert!(
        lines
            .iter()
            .any(|l| l["source"] == format!("{}!{abs_name}#1", tar.display()))
    );
    // Outside `out`: only what the test made.
    let mut outside: Vec<String> = walkdir::WalkDir::new(tmp.path())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| !e.path().starts_with(&out) && e.file_type().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    outside.sort();
    assert_eq!(outside, ["hostile.tar", "hostile.zip"]);
    assert!(!abs.exists());
    // Inside: only the five folders, flat, with safe names.
    for (p, _) in tree(&out) {
        let parts: Vec<&str> = p.split('/').collect();
        match parts.as_slice() {
            ["report.jsonl" | "summary.json"] => {}
            [folder, name] => {
                assert!(["documents", "held", "excluded", "deleted", "rejected"].contains(folder));
                assert!(!name.starts_with('.'), "{p}");
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                    "{p}"
                );
            }
            _ => panic!("unexpected path {p}"),
        }
    }
}

#[test]
fn exit_statuses() {
    let tmp = tempfile::tempdir().unwrap();
    let out = |n: &str| tmp.path().join(n);
    // 0: everything accounted for, nothing rejected (here: no message at all).
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("blank.hl7"), b"\r\n\r\n").unwrap();
    assert_eq!(status(&convert(&[&empty], &out("o0"))), 0);
    assert!(report(&out("o0")).is_empty());
    // 1: some rejected, the others still processed.
    let some = tmp.path().join("some.hl7");
    std::fs::write(&some, [unsupported("E1"), document("E2")].concat()).unwrap();
    assert_eq!(status(&convert(&[&some], &out("o1"))), 1);
    assert_eq!(report(&out("o1")).len(), 2);
    // 2: an unreadable input; the readable ones are still processed.
    let o = convert(&[&tmp.path().join("missing.hl7"), &some], &out("o2"));
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).contains("missing.hl7"), "{}", stderr(&o));
    assert_eq!(report(&out("o2")).len(), 2);
    // 2: a corrupt archive.
    let bad = tmp.path().join("bad.zip");
    std::fs::write(&bad, b"PK\x03\x04 not really").unwrap();
    assert_eq!(status(&convert(&[&bad], &out("o3"))), 2);
    // 2: an output folder that cannot be made.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    assert_eq!(status(&convert(&[&some], &file.join("out"))), 2);
    // 2: usage errors.
    for args in [
        vec!["convert", "--jobs", "0", "--out", "x"],
        vec!["convert"],
        vec!["convert", "--out", "x", "--emit", "pdf"],
        vec!["convert", "--stdout", "--out", "x"],
        vec!["check", "--config", "/nonexistent/dmpfeed.toml"],
    ] {
        let o = bin().current_dir(tmp.path()).args(&args).output().unwrap();
        assert_eq!(status(&o), 2, "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn two_runs_at_once_on_one_folder_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut first = bin()
        .args(["convert", "-q", "--out"])
        .arg(&out)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first run holds the folder while its standard input is open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !out.join("report.jsonl").exists() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let some = tmp.path().join("m.hl7");
    std::fs::write(&some, unsupported("L1")).unwrap();
    let o = convert(&[&some], &out);
    assert_eq!(status(&o), 2);
    assert!(stderr(&o).contains("another dmpfeed"), "{}", stderr(&o));
    drop(first.stdin.take());
    assert_eq!(first.wait().unwrap().code(), Some(0));
}

#[test]
fn convert_stdout_takes_one_message() {
    let run = |input: &[u8]| {
        let mut c = bin()
            .args(["convert", "--stdout"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input).unwrap();
        c.wait_with_output().unwrap()
    };
    let o = run(&unsupported("O1"));
    assert_eq!(status(&o), 1);
    assert!(o.stdout.is_empty());
    assert!(stderr(&o).contains("UNSUPPORTED_MESSAGE"), "{}", stderr(&o));
    // A document: its CDA on stdout when converted, nothing otherwise.
    let o = run(&document("O2"));
    match status(&o) {
        0 if !o.stdout.is_empty() => {
            assert!(String::from_utf8_lossy(&o.stdout).contains("ClinicalDocument"));
        }
        0 | 1 => assert!(o.stdout.is_empty()),
        s => panic!("status {s}: {}", stderr(&o)),
    }
    assert_eq!(
        status(&run(&[unsupported("O3"), unsupported("O4")].concat())),
        2
    );
    assert_eq!(status(&run(b"")), 2);
}

#[test]
fn the_same_stream_twice_gives_one_line_per_message_and_every_ack() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let input: Vec<u8> = (0..5)
        .flat_map(|i| mllp(&unsupported(&format!("R{i}"))))
        .collect();
    for _ in 0..2 {
        let mut c = bin()
            .args(["convert", "--ack", "-q", "--out"])
            .arg(&out)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(&input).unwrap();
        let o = c.wait_with_output().unwrap();
        assert_eq!(acks(&o.stdout).len(), 5);
    }
    assert_eq!(report(&out).len(), 5);
}

/// `[output] sync`: both ways of making files durable give the same folder; `-v` says which way
/// was taken and why; `filesystem` is refused where `syncfs` does not report write errors.
#[test]
fn both_ways_of_making_files_durable_give_the_same_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |way: &str| {
        let config = tmp.path().join(format!("{way}.toml"));
        std::fs::write(&config, format!("[output]\nsync = \"{way}\"\n")).unwrap();
        let out = tmp.path().join(way);
        let o = bin()
            .arg("convert")
            .arg(samples())
            .arg("--out")
            .arg(&out)
            .arg("--config")
            .arg(&config)
            .arg("-v")
            .output()
            .unwrap();
        (o, out)
    };
    let without_time = |out: &Path| -> Vec<serde_json::Value> {
        report(out)
            .into_iter()
            .map(|mut l| {
                l.as_object_mut().unwrap().remove("time");
                l
            })
            .collect()
    };
    let (by_file, file_out) = run("file");
    assert!(stderr(&by_file).contains("an fsync of each file (output.sync = \"file\")"));
    assert!(!report(&file_out).is_empty());
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut version = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap());
    let kernel = (version.next().unwrap(), version.next().unwrap());
    let (by_fs, fs_out) = run("filesystem");
    if kernel >= (5, 8) {
        assert!(stderr(&by_fs).contains("one syncfs per group (output.sync = \"filesystem\")"));
        assert_eq!(status(&by_fs), status(&by_file));
        assert_eq!(
            tree(&fs_out.join("documents")),
            tree(&file_out.join("documents"))
        );
        assert_eq!(tree(&fs_out.join("held")), tree(&file_out.join("held")));
        assert_eq!(without_time(&fs_out), without_time(&file_out));
    } else {
        assert_eq!(status(&by_fs), 2);
        assert!(stderr(&by_fs).contains("needs Linux 5.8 or later"));
    }
    let (auto, _) = run("auto");
    assert!(stderr(&auto).contains("(output.sync = \"auto\""));
    let (bad, _) = run("fsync");
    assert_eq!(status(&bad), 2);
    assert!(stderr(&bad).contains("sync"));
}
