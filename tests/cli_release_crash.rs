//! Issue 10: a kill -9 in the middle of a release loses no held original and doubles no
//! document. Many documents are held for one patient; the ADT that qualifies the identity is
//! sent and the process killed at points spread over the release (measured first); then the ADT
//! is sent again, as an interface engine re-sends a message that got no ACK. After each kill:
//! every held original is still in `held/` or its release is reported with its document written,
//! and every document the registry names exists. After the resend: each held message released
//! exactly once, all documents written, `held/` empty, the worklist empty.

mod cli_support;

use cli_support::*;
use dmpfeed::registry::{RegistryRead, RegistryReader};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const HELD: usize = 120;

fn sample(name: &str) -> String {
    String::from_utf8(std::fs::read(samples().join(name)).unwrap()).unwrap()
}

/// The held sample (patient GARNIER, PID-32 PROV) with its ids made unique.
fn held(i: usize) -> Vec<u8> {
    sample("held-not-qualified-prov.hl7")
        .replacen("|SMPL0012|", &format!("|HELD{i:04}|"), 1)
        .replacen(
            "|1.2.250.1.999.1.2.4002|",
            &format!("|1.2.250.1.999.1.2.9{i:04}|"),
            1,
        )
        .into_bytes()
}

fn qualify() -> Vec<u8> {
    sample("adt-a31-qualify.hl7").into_bytes()
}

struct Running {
    child: Child,
    out: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
}

impl Running {
    fn start(dir: &Path) -> Running {
        let mut child = bin()
            .args(["convert", "--ack", "-q", "--out"])
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            out: rx,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, m: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(&mllp(m)).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for `n` ACKs in all; `false` if they did not come before `deadline`.
    fn acks_by(&mut self, n: usize, deadline: Instant) -> bool {
        loop {
            if acks(&self.buf).len() >= n {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.out.recv_timeout(left.min(Duration::from_millis(5))) {
                Ok(chunk) => self.buf.extend_from_slice(&chunk),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return acks(&self.buf).len() >= n,
            }
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }

    fn finish(mut self) {
        drop(self.child.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

/// A folder with the HELD documents held, made once and copied for each round.
fn template(root: &Path) -> std::path::PathBuf {
    let dir = root.join("template");
    let mut run = Running::start(&dir);
    for i in 0..HELD {
        run.send(&held(i));
    }
    assert!(run.acks_by(HELD, Instant::now() + Duration::from_secs(120)));
    run.finish();
    assert_eq!(report(&dir).len(), HELD);
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Sends the ADT into a copy of the template; kills the process `after` the send (or lets it
/// finish). Returns how long the ADT took to be ACKed when not killed.
fn release(dir: &Path, after: Option<Duration>) -> Duration {
    let mut run = Running::start(dir);
    let started = Instant::now();
    run.send(&qualify());
    match after {
        Some(d) => {
            let acked = run.acks_by(1, started + d);
            run.kill();
            if acked { Duration::ZERO } else { d }
        }
        None => {
            assert!(run.acks_by(1, Instant::now() + Duration::from_secs(120)));
            let took = started.elapsed();
            run.finish();
            took
        }
    }
}

/// Where the kill landed, read from what it left.
fn phase(dir: &Path, held_hashes: &HashMap<String, String>) -> &'static str {
    let lines = report(dir);
    let reported = lines
        .iter()
        .filter(|l| l.get("released_from").is_some())
        .count();
    let reader = RegistryReader::open(&dmpfeed::registry::path_in(dir)).unwrap();
    let released = held_hashes
        .keys()
        .filter(|h| {
            reader
                .held_entry(h)
                .unwrap()
                .is_some_and(|e| e.released_as.is_some())
        })
        .count();
    let held_files = std::fs::read_dir(dir.join("held")).unwrap().count();
    match (released, reported, held_files) {
        (0, 0, _) => "before the registry commit",
        (_, 0, _) => "between the registry commit and the report",
        (_, _, n) if n > 0 => "between the report and the removal of the held originals",
        _ => "after the release",
    }
}

/// What must hold whatever the moment of the kill.
fn check_after_kill(dir: &Path, held_hashes: &HashMap<String, String>) {
    let lines = report(dir);
    let released: HashMap<&str, &serde_json::Value> = lines
        .iter()
        .filter(|l| l.get("released_from").is_some())
        .map(|l| (l["blake3"].as_str().unwrap(), l))
        .collect();
    for (hash, name) in held_hashes {
        let original = dir.join(format!("held/{name}.hl7"));
        match released.get(hash.as_str()) {
            Some(line) => {
                let doc = line["document"].as_str().unwrap();
                assert!(dir.join(doc).is_file(), "{doc}: reported, not written");
            }
            None => assert!(original.is_file(), "{name}: held original lost"),
        }
    }
    // No registry row names a missing file.
    let reader = RegistryReader::open(&dmpfeed::registry::path_in(dir)).unwrap();
    for h in reader.all_documents().unwrap() {
        for v in &h.versions {
            assert!(
                dir.join(&v.output_path).is_file(),
                "row without its file: {v:?}"
            );
        }
    }
    assert!(reader.integrity_check().unwrap().is_empty());
}

fn check_converged(dir: &Path, held_hashes: &HashMap<String, String>) {
    let lines = report(dir);
    let mut released: HashMap<&str, usize> = HashMap::new();
    for l in lines.iter().filter(|l| l.get("released_from").is_some()) {
        assert_eq!(l["outcome"], "converted");
        *released.entry(l["blake3"].as_str().unwrap()).or_default() += 1;
    }
    for hash in held_hashes.keys() {
        assert_eq!(
            released.get(hash.as_str()),
            Some(&1),
            "released once: {hash}"
        );
    }
    assert_eq!(
        lines.iter().filter(|l| l["outcome"] == "recorded").count(),
        1,
        "the ADT once"
    );
    assert_eq!(lines.len(), 2 * HELD + 1);
    let files: Vec<String> = tree(dir).into_iter().map(|(p, _)| p).collect();
    assert!(
        !files.iter().any(|f| f.contains(".dmpfeed-tmp-")),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|f| f.starts_with("held/")),
        "held/ emptied"
    );
    assert_eq!(
        files.iter().filter(|f| f.starts_with("documents/")).count(),
        HELD,
        "one document each, none doubled"
    );
    let reader = RegistryReader::open(&dmpfeed::registry::path_in(dir)).unwrap();
    assert!(reader.held_waiting().unwrap().is_empty());
    assert_eq!(reader.all_documents().unwrap().len(), HELD);
}

#[test]
fn kill_9_during_a_release_then_resend_the_adt() {
    let tmp = tempfile::tempdir().unwrap();
    let template = template(tmp.path());
    let held_hashes: HashMap<String, String> = report(&template)
        .iter()
        .map(|l| {
            (
                l["blake3"].as_str().unwrap().to_owned(),
                l["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // How long a whole release takes here.
    let whole = tmp.path().join("whole");
    copy_dir(&template, &whole);
    let mut took = release(&whole, None);
    check_converged(&whole, &held_hashes);

    let mut phases = Vec::new();
    let mut mid_release = 0;
    for (round, percent) in [5u32, 20, 40, 60, 75, 85, 92, 96, 98, 99, 100, 102]
        .iter()
        .enumerate()
    {
        let dir = tmp.path().join(format!("round-{round}"));
        copy_dir(&template, &dir);
        let delay = took * *percent / 100;
        let killed_at = release(&dir, Some(delay));
        if killed_at.is_zero() {
            // The release was done before the kill: on a shared machine the measured release
            // may have been a slow one. It takes at most `delay` now: aim the later kills there.
            took = took.min(delay.max(Duration::from_millis(1)));
        } else {
            mid_release += 1;
        }
        check_after_kill(&dir, &held_hashes);
        phases.push((*percent, phase(&dir, &held_hashes)));
        // The engine re-sends the ADT, which got no ACK.
        release(&dir, None);
        check_converged(&dir, &held_hashes);
    }
    eprintln!("release of {HELD} documents: {took:?}; kills landed: {phases:#?}");
    assert!(
        mid_release >= 3,
        "the kills must land during the release: {phases:?}"
    );

    // The two later windows last one fsync each, too short to hit by timing: their states are
    // made from a finished release, exactly as the order of the durable steps leaves them.
    let restore_held = |dir: &Path| {
        for name in held_hashes.values() {
            for ext in ["hl7", "json"] {
                let rel = format!("held/{name}.{ext}");
                std::fs::copy(template.join(&rel), dir.join(&rel)).unwrap();
            }
        }
    };
    // Killed between the registry commit and the report: rows and documents, no lines, the
    // held originals still there.
    let dir = tmp.path().join("after-registry");
    copy_dir(&whole, &dir);
    restore_held(&dir);
    let report_path = dir.join("report.jsonl");
    let text = std::fs::read_to_string(&report_path).unwrap();
    let kept: String = text.split_inclusive('\n').take(HELD).collect();
    std::fs::write(&report_path, kept).unwrap();
    assert_eq!(
        phase(&dir, &held_hashes),
        "between the registry commit and the report"
    );
    check_after_kill(&dir, &held_hashes);
    release(&dir, None);
    check_converged(&dir, &held_hashes);
    // Killed between the report and the removal of the held originals.
    let dir = tmp.path().join("after-report");
    copy_dir(&whole, &dir);
    restore_held(&dir);
    assert_eq!(
        phase(&dir, &held_hashes),
        "between the report and the removal of the held originals"
    );
    check_after_kill(&dir, &held_hashes);
    release(&dir, None);
    check_converged(&dir, &held_hashes);
}
