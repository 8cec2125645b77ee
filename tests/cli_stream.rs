//! Stream mode through the real binary: `dmpfeed convert --out DIR --ack` as an interface engine
//! runs it (CONTRACT.md "Commands", "ACKs").

mod cli_support;

use cli_support::*;
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `dmpfeed convert --ack` whose standard output is read as it comes.
struct Running {
    child: Child,
    out: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
}

impl Running {
    fn start(dir: &std::path::Path, extra: &[&str]) -> Running {
        let mut child = bin()
            .args(["convert", "--out"])
            .arg(dir)
            .args(["--ack", "-q"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until `n` complete ACKs have been written.
    fn wait_acks(&mut self, n: usize, within: Duration) -> Vec<Ack> {
        let deadline = Instant::now() + within;
        loop {
            let got = acks(&self.buf);
            if got.len() >= n {
                return got;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(chunk) => self.buf.extend_from_slice(&chunk),
                Err(_) => panic!("{} ACK(s) after {within:?}, expected {n}", got.len()),
            }
        }
    }
}

#[test]
fn an_mllp_stream_gets_one_ack_per_message_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = [
        mllp(&document("S1")),
        mllp(&unsupported("S2")),
        mllp(b"name;birthdate\r\nnot hl7\r\n"),
        mllp(&bad_charset("S4")),
        mllp(&document("S5")),
        // Cut by the end of input: no 0x1C.
        [&[0x0B][..], &unsupported("S6")].concat(),
    ]
    .concat();
    let o = bin()
        .args(["convert", "--ack", "-q", "--out"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&input)?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    let acks = acks(&o.stdout);
    let lines = report(dir.path());
    assert_eq!(acks.len(), 6);
    assert_eq!(lines.len(), 6);
    for (i, (ack, line)) in acks.iter().zip(&lines).enumerate() {
        assert!(ack.mllp, "ACK {i} is MLLP-framed like its message");
        assert_eq!(line["source"], format!("-#{}", i + 1));
        assert_ack_matches(ack, line);
    }
    let ids: Vec<&str> = acks.iter().map(|a| a.control_id.as_str()).collect();
    assert_eq!(ids, ["S1", "S2", "", "S4", "S5", "S6"]);
    let codes: Vec<&str> = acks.iter().map(|a| a.code.as_str()).collect();
    assert_eq!(&codes[1..4], ["AE", "AR", "AE"]);
    assert_eq!(codes[5], "AR", "undecodable framing");
    assert_eq!(lines[3]["codes"][0], "HL7_CHARSET");
    // The originals of rejected messages, byte for byte.
    let file = lines[1]["files"][0].as_str().unwrap();
    assert_eq!(
        std::fs::read(dir.path().join(file)).unwrap(),
        unsupported("S2")
    );
}

#[test]
fn plain_concatenated_messages_get_plain_acks() {
    let dir = tempfile::tempdir().unwrap();
    let input = [
        unsupported("P1"),
        b"\r\n".to_vec(),
        document("P2"),
        unsupported("P3"),
    ]
    .concat();
    let mut c = bin()
        .args(["convert", "--ack", "-q", "--out"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(&input).unwrap();
    let o = c.wait_with_output().unwrap();
    let acks = acks(&o.stdout);
    let lines = report(dir.path());
    assert_eq!(acks.len(), 3);
    assert!(acks.iter().all(|a| !a.mllp));
    assert!(o.stdout.ends_with(b"\r\n"));
    for (ack, line) in acks.iter().zip(&lines) {
        assert_ack_matches(ack, line);
    }
    let ids: Vec<&str> = acks.iter().map(|a| a.control_id.as_str()).collect();
    assert_eq!(ids, ["P1", "P2", "P3"]);
}

/// Each ACK comes without waiting for the next message or the end of input, and only once the
/// message's report line and files are there.
fn answered_one_at_a_time(frame: fn(&[u8]) -> Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::start(dir.path(), &[]);
    let messages = [unsupported("T1"), document("T2"), bad_charset("T3")];
    for (i, m) in messages.iter().enumerate() {
        run.send(&frame(m));
        let acks = run.wait_acks(i + 1, Duration::from_secs(20));
        assert_eq!(acks.len(), i + 1, "one ACK per message, no more");
        let lines = report(dir.path());
        assert_eq!(
            lines.len(),
            i + 1,
            "the report line is written before the ACK"
        );
        assert_ack_matches(&acks[i], &lines[i]);
        for f in lines[i]["files"].as_array().unwrap() {
            let path = dir.path().join(f.as_str().unwrap());
            assert!(path.exists(), "{path:?} exists before the ACK");
        }
    }
    drop(run.child.stdin.take());
    let status = run.child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn mllp_messages_are_answered_one_at_a_time() {
    answered_one_at_a_time(mllp);
}

#[test]
fn plain_messages_are_answered_after_the_idle_delay() {
    answered_one_at_a_time(|m| m.to_vec());
}

#[test]
fn a_closed_standard_output_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin()
        .args(["convert", "--ack", "-q", "--out"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(c.stdout.take());
    let mut stdin = c.stdin.take().unwrap();
    for i in 0..50 {
        // The process may be gone already: a write error is expected then.
        if stdin
            .write_all(&mllp(&unsupported(&format!("B{i}"))))
            .is_err()
        {
            break;
        }
    }
    drop(stdin);
    let o = c.wait_with_output().unwrap();
    let err = stderr(&o);
    assert_eq!(status(&o), 1, "the status of what was committed: {err}");
    assert!(
        !err.contains("panicked") && !err.to_lowercase().contains("broken pipe"),
        "{err}"
    );
    assert!(
        !report(dir.path()).is_empty(),
        "the first message was committed"
    );
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_the_message_in_hand_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::start(dir.path(), &[]);
    run.send(&mllp(&unsupported("K1")));
    run.wait_acks(1, Duration::from_secs(20));
    run.send(&mllp(&unsupported("K2")));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &run.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = run.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1), "a clean exit, not death by signal");
    // K2 may or may not have been read before the signal; whatever was committed was ACKed.
    while let Ok(chunk) = run.out.recv_timeout(Duration::from_millis(200)) {
        run.buf.extend_from_slice(&chunk);
    }
    let lines = report(dir.path());
    assert_eq!(acks(&run.buf).len(), lines.len());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true);
}

#[test]
fn a_stream_without_ack_writes_nothing_on_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin()
        .args(["convert", "-q", "--out"])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(&[mllp(&unsupported("N1")), mllp(&unsupported("N2"))].concat())
        .unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.stdout.is_empty());
    assert_eq!(report(dir.path()).len(), 2);
}

/// A plain message written in two parts, with a pause at a segment end in between.
fn send_in_two_parts(stdin: &mut impl Write, message: &[u8], pause: Duration) {
    let cut = message.iter().position(|&b| b == b'\r').unwrap() + 1;
    stdin.write_all(&message[..cut]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(pause);
    stdin.write_all(&message[cut..]).unwrap();
    stdin.flush().unwrap();
}

#[test]
fn a_plain_ack_stream_survives_a_short_pause_and_warns_once_about_framing() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::start(dir.path(), &[]);
    let stdin = run.child.stdin.as_mut().unwrap();
    // Longer than the old 100 ms default, well under the 1000 ms one.
    send_in_two_parts(stdin, &unsupported("S1"), Duration::from_millis(400));
    send_in_two_parts(stdin, &unsupported("S2"), Duration::from_millis(400));
    let acks = run.wait_acks(2, Duration::from_secs(20));
    drop(run.child.stdin.take());
    let o = run.child.wait_with_output().unwrap();
    while let Ok(chunk) = run.out.recv_timeout(Duration::from_millis(200)) {
        run.buf.extend_from_slice(&chunk);
    }
    assert_eq!(cli_support::acks(&run.buf).len(), 2, "one ACK per message");
    let ids: Vec<&str> = acks.iter().map(|a| a.control_id.as_str()).collect();
    assert_eq!(ids, ["S1", "S2"]);
    let lines = report(dir.path());
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["codes"][0] == "UNSUPPORTED_MESSAGE"));
    let err = stderr(&o);
    assert_eq!(err.matches("not MLLP-framed").count(), 1, "{err}");
    assert!(err.contains("stream.idle_flush_ms"), "{err}");
}

#[test]
fn an_mllp_ack_stream_gets_no_framing_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::start(dir.path(), &[]);
    run.send(&[&b"\r\n"[..], &mllp(&unsupported("W1"))].concat());
    run.wait_acks(1, Duration::from_secs(20));
    drop(run.child.stdin.take());
    let o = run.child.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("MLLP"), "{}", stderr(&o));
}

#[test]
fn without_acks_a_pause_never_cuts_a_plain_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("quick.toml");
    std::fs::write(&config, "[stream]\nidle_flush_ms = 20\n").unwrap();
    let mut c = bin()
        .args(["check", "--json", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    send_in_two_parts(&mut stdin, &unsupported("C1"), Duration::from_millis(300));
    drop(stdin);
    let o = c.wait_with_output().unwrap();
    let verdicts: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), 1, "{verdicts:?}");
    assert_eq!(verdicts[0]["control_id"], "C1");
    assert_eq!(
        verdicts[0]["codes"],
        serde_json::json!(["UNSUPPORTED_MESSAGE"])
    );
}
