//! Issue 8 "Crash safety" in bulk mode: `kill -9` at random points of runs over a folder and
//! archives (zip, tar.gz), then the same command again, as an operator would, until one run
//! completes. Afterwards nothing is truncated (every file named in `report.jsonl` is complete:
//! the `.xml` well-formed, the `.hl7` the original message byte for byte, the `.json` JSON),
//! nothing is lost (every input message has its line) and nothing is duplicated (one line per
//! message across the runs: reruns dedupe by message hash and result, docs/pipeline.md), and
//! no temporary or orphan file is left.
//!
//! The kill points are random; the seed is printed and can be replayed with
//! `DMPFEED_CRASH_SEED=…`.

mod cli_support;

use cli_support::{bad_charset, bin, document, report, tree, unsupported};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// xorshift64*: reproducible kill points without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Message `i`, all distinct: documents (converted, each with its own document id), held ones,
/// unsupported types, bad charsets, bytes that are not HL7.
fn message(i: usize) -> Vec<u8> {
    let id = format!("BULK{i:04}");
    match i % 5 {
        0 | 1 => String::from_utf8(document(&id))
            .unwrap()
            .replace(
                "1.2.250.1.999.1.2.1001",
                &format!("1.2.250.1.999.1.2.{}", 50_000 + i),
            )
            .into_bytes(),
        2 => unsupported(&id),
        3 => bad_charset(&id),
        _ => format!("not hl7 {i}\r").into_bytes(),
    }
}

/// The inputs: a folder of files of 1 to 6 messages, a zip and a tar.gz. Returns them and every
/// message, as the reader frames them (a line that is not HL7 after a message is part of it).
fn inputs(root: &Path) -> (Vec<PathBuf>, Vec<Vec<u8>>) {
    let mut all = Vec::new();
    let mut next = 0;
    let mut take = |n: usize| -> Vec<Vec<u8>> {
        let out: Vec<Vec<u8>> = (next..next + n).map(message).collect();
        next += n;
        out
    };
    let folder = root.join("in");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    for f in 0..40 {
        let msgs = take(1 + f % 6);
        let dir = if f % 3 == 0 {
            folder.join("sub")
        } else {
            folder.clone()
        };
        std::fs::write(dir.join(format!("f{f:02}.hl7")), msgs.concat()).unwrap();
        all.extend(framed(&msgs.concat()));
    }
    let zip_path = root.join("batch.zip");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for e in 0..25 {
            let msgs = take(1 + e % 5);
            w.start_file(format!("e{e:02}.hl7"), opts).unwrap();
            w.write_all(&msgs.concat()).unwrap();
            all.extend(framed(&msgs.concat()));
        }
        w.finish().unwrap();
    }
    let tgz_path = root.join("batch.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&tgz_path).unwrap(),
            flate2::Compression::fast(),
        );
        let mut b = tar::Builder::new(gz);
        for e in 0..25 {
            let msgs = take(1 + e % 4);
            let bytes = msgs.concat();
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, format!("t/{e:02}.hl7"), &bytes[..])
                .unwrap();
            all.extend(framed(&bytes));
        }
        b.into_inner().unwrap().finish().unwrap();
    }
    (vec![folder, zip_path, tgz_path], all)
}

fn framed(bytes: &[u8]) -> Vec<Vec<u8>> {
    dmpfeed::hl7::framing::frames(bytes)
        .map(|f| f.bytes.to_vec())
        .collect()
}

fn lines_in(out: &Path) -> usize {
    std::fs::read(out.join("report.jsonl"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// One bulk run; with `kill_at`, `kill -9` once the report has that many lines (plus a random
/// delay), or whenever the run ends first. Returns true when the run completed on its own.
fn run(inputs: &[PathBuf], out: &Path, kill_at: Option<(usize, u64)>) -> bool {
    let mut child = bin()
        .arg("convert")
        .args(inputs)
        .args(["--jobs", "2", "-q", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    if let Some((lines, extra_micros)) = kill_at {
        loop {
            if child.try_wait().unwrap().is_some() {
                return true;
            }
            if lines_in(out) >= lines {
                std::thread::sleep(Duration::from_micros(extra_micros));
                child.kill().unwrap(); // SIGKILL
                let s = child.wait().unwrap();
                return s.code().is_some();
            }
            assert!(Instant::now() < deadline, "no progress");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let s = child.wait().unwrap();
    assert_eq!(
        s.code(),
        Some(1),
        "a completed run: some rejected, all read"
    );
    true
}

#[test]
fn kill_9_at_random_points_of_bulk_runs_then_rerun() {
    let seed = std::env::var("DMPFEED_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("DMPFEED_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let (inputs, all) = inputs(&root);
    let out = root.join("out");

    // Kill points spread over the run: early (often before the first commit), in the middle,
    // late; each after a random extra delay of up to 5 ms.
    let total = all.len();
    let mut kills = 0;
    for round in 0..6 {
        let target = match round {
            0 => 0,
            _ => 1 + rng.below(total as u64 - 1) as usize,
        };
        let completed = run(&inputs, &out, Some((target, rng.below(5_000))));
        kills += usize::from(!completed);
    }
    assert!(
        kills >= 3,
        "seed {seed}: the runs ended before the kills ({kills})"
    );
    run(&inputs, &out, None);

    let lines = report(&out);
    // Nothing duplicated.
    let mut by_hash: HashMap<String, &serde_json::Value> = HashMap::new();
    for line in &lines {
        let h = line["blake3"].as_str().unwrap().to_owned();
        assert!(
            by_hash.insert(h, line).is_none(),
            "seed {seed}: a message recorded twice: {line}"
        );
    }
    // Nothing lost.
    assert_eq!(lines.len(), total, "seed {seed}");
    let originals: HashMap<String, &Vec<u8>> = all
        .iter()
        .map(|m| (blake3::hash(m).to_hex().to_string(), m))
        .collect();
    assert_eq!(originals.len(), total, "the messages are distinct");
    // Nothing truncated.
    let mut named = 0;
    for (hash, line) in &by_hash {
        let original = originals
            .get(hash)
            .unwrap_or_else(|| panic!("seed {seed}: a line for no input message: {line}"));
        for f in line["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let bytes = std::fs::read(out.join(f))
                .unwrap_or_else(|e| panic!("seed {seed}: {f} named in the report: {e}"));
            named += 1;
            if f.ends_with(".hl7") {
                assert_eq!(
                    &&bytes, original,
                    "seed {seed}: {f}: the original, byte for byte"
                );
            } else if f.ends_with(".json") {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .unwrap_or_else(|e| panic!("seed {seed}: {f} truncated: {e}"));
            } else if f.ends_with(".xml") {
                dmpfeed::cda::wellformed::check(&bytes)
                    .unwrap_or_else(|e| panic!("seed {seed}: {f} is not complete XML: {e}"));
            } else {
                panic!("seed {seed}: unexpected file {f}");
            }
        }
    }
    assert!(
        lines.iter().any(|l| l["outcome"] == "converted"),
        "documents were written"
    );
    // No leftovers: exactly the files the report names, the report and the summary.
    let files: Vec<String> = tree(&out).into_iter().map(|(p, _)| p).collect();
    assert!(
        files.iter().all(|p| !p.contains(".dmpfeed-tmp-")),
        "seed {seed}: temporary files left: {files:?}"
    );
    assert_eq!(
        files.len(),
        named + 2,
        "seed {seed}: orphan files: {files:?}"
    );
}
