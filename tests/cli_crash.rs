//! The crash test of issue 5: kill -9 in the middle of a stream, restart with the messages that
//! got no ACK, as an interface engine does; every message ends up exactly once, nothing is
//! truncated, and no temporary file is left that looks like an output.

mod cli_support;

use cli_support::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Messages of every kind: documents (whatever their outcome), unsupported types, bad charsets,
/// bytes that are not HL7 (no control id: told apart by their hash).
fn messages(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let id = format!("CRASH{i:04}");
            match i % 4 {
                0 => document(&id),
                1 => unsupported(&id),
                2 => bad_charset(&id),
                _ => format!("not hl7 {i}\r").into_bytes(),
            }
        })
        .collect()
}

/// Runs `dmpfeed convert --ack` on the MLLP-framed `input`; when `kill_after` ACKs have come,
/// kill -9 it. Returns the number of complete ACKs received.
fn run(dir: &std::path::Path, input: Vec<Vec<u8>>, kill_after: Option<usize>) -> usize {
    let mut child = bin()
        .args(["convert", "--ack", "-q", "--jobs", "2", "--out"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written in small bursts, as an engine would; past the message whose ACK triggers the
    // kill, one message every 20 ms, so that the kill lands mid-stream however fast the
    // machine (a fast one would otherwise answer everything before the kill).
    let writer = std::thread::spawn(move || {
        for (i, message) in input.iter().enumerate() {
            let framed = mllp(message);
            for chunk in framed.chunks(2048) {
                if stdin.write_all(chunk).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            if kill_after.is_some_and(|k| i >= k) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    });
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
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(chunk) => buf.extend_from_slice(&chunk),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(k) = kill_after
            && acks(&buf).len() >= k
        {
            child.kill().unwrap(); // SIGKILL
            break;
        }
        assert!(Instant::now() < deadline, "no progress");
    }
    let _ = child.wait();
    let _ = writer.join();
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
        buf.extend_from_slice(&chunk);
    }
    acks(&buf).len()
}

#[test]
fn kill_9_mid_stream_then_resend_what_got_no_ack() {
    let dir = tempfile::tempdir().unwrap();
    let all = messages(240);
    let mut next = 0; // first message without an ACK
    for kill_after in [40, 25, 60] {
        let acked = run(dir.path(), all[next..].to_vec(), Some(kill_after));
        assert!(
            acked >= kill_after && next + acked < all.len(),
            "killed mid-stream"
        );
        next += acked;
    }
    assert_eq!(
        run(dir.path(), all[next..].to_vec(), None),
        all.len() - next,
        "the rest, all ACKed"
    );

    // Every message exactly once in the report, with complete files.
    let lines = report(dir.path());
    let mut by_hash: HashMap<String, &serde_json::Value> = HashMap::new();
    for line in &lines {
        let h = line["blake3"].as_str().unwrap().to_owned();
        assert!(
            by_hash.insert(h, line).is_none(),
            "a message recorded twice: {line}"
        );
    }
    assert_eq!(lines.len(), all.len());
    let mut expected_files = 0;
    for m in &all {
        let line = by_hash
            .get(blake3::hash(m).to_hex().as_str())
            .unwrap_or_else(|| panic!("message lost: {:?}", String::from_utf8_lossy(&m[..40])));
        for f in line["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let bytes = std::fs::read(dir.path().join(f)).unwrap();
            expected_files += 1;
            if f.ends_with(".hl7") {
                assert_eq!(&bytes, m, "{f}: the original, byte for byte");
            } else if f.ends_with(".json") {
                serde_json::from_slice::<serde_json::Value>(&bytes)
                    .unwrap_or_else(|e| panic!("{f} truncated: {e}"));
            } else if f.ends_with(".xml") {
                let mut reader = quick_xml::Reader::from_reader(&bytes[..]);
                let mut buf = Vec::new();
                loop {
                    match reader.read_event_into(&mut buf) {
                        Ok(quick_xml::events::Event::Eof) => break,
                        Ok(_) => buf.clear(),
                        Err(e) => panic!("{f} is not complete XML: {e}"),
                    }
                }
            }
        }
    }
    // No duplicates, no leftovers: exactly the files the report names (+ report, summary).
    let files: Vec<String> = tree(dir.path()).into_iter().map(|(p, _)| p).collect();
    assert!(
        files.iter().all(|p| !p.contains(".dmpfeed-tmp-")),
        "temporary files left: {files:?}"
    );
    assert_eq!(files.len(), expected_files + 2, "{files:?}");
}
