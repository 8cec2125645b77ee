//! Stream-mode latency (issue 7): an interface engine's side of `dmpfeed convert --out DIR --ack`.
//! Writes MLLP messages to dmpfeed's standard input at a steady rate, reads the ACKs from its
//! standard output, and times each message from the moment it was written to the moment its
//! ACK arrived (the ACK comes only once the message's files and report line are durable).
//!
//! ```text
//! cargo run --release --example stream_latency -- --dmpfeed target/release/dmpfeed \
//!     --input bench-corpus/mixed-2000/stream.mllp --out /tmp/out --rate 100 [--messages N]
//! ```
//!
//! `--rate 0` writes as fast as dmpfeed takes them (throughput; latencies then include the time
//! spent queued). Prints one line of JSON: the rates, p50/p90/p99/max latency in milliseconds,
//! the ACK codes, and dmpfeed's peak RSS (VmHWM, read from /proc before its input is closed).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Args {
    dmpfeed: String,
    input: String,
    out: String,
    rate: f64,
    messages: Option<usize>,
}

fn usage(why: &str) -> ! {
    eprintln!(
        "stream_latency: {why}\nusage: stream_latency --dmpfeed BIN --input FILE.mllp --out DIR \
         --rate MSGS_PER_S [--messages N]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let (mut dmpfeed, mut input, mut out, mut rate, mut messages) = (None, None, None, 100.0, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--dmpfeed" => dmpfeed = Some(value()),
            "--input" => input = Some(value()),
            "--out" => out = Some(value()),
            "--rate" => rate = value().parse().unwrap_or_else(|_| usage("--rate R")),
            "--messages" => {
                messages = Some(value().parse().unwrap_or_else(|_| usage("--messages N")))
            }
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    Args {
        dmpfeed: dmpfeed.unwrap_or_else(|| usage("--dmpfeed is required")),
        input: input.unwrap_or_else(|| usage("--input is required")),
        out: out.unwrap_or_else(|| usage("--out is required")),
        rate,
        messages,
    }
}

/// The MLLP blocks of a stream, each with its framing bytes.
fn blocks(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = memchr::memchr(0x0B, &bytes[at..]).map(|i| at + i) {
        let Some(end) = memchr::memmem::find(&bytes[start..], &[0x1C, 0x0D]).map(|i| start + i + 2)
        else {
            break;
        };
        out.push(&bytes[start..end]);
        at = end;
    }
    out
}

/// VmHWM of a process, in kB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> std::io::Result<()> {
    let a = args();
    let data = std::fs::read(&a.input)?;
    let mut messages = blocks(&data);
    if let Some(n) = a.messages {
        messages.truncate(n);
    }
    let n = messages.len();
    let bytes: usize = messages.iter().map(|m| m.len()).sum();
    let mut child = Command::new(&a.dmpfeed)
        .args(["convert", "--out", &a.out, "--ack", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");

    // The ACK reader: the instant each ACK ends, and its MSA-1.
    let reader = std::thread::spawn(move || {
        let mut acks: Vec<(Instant, String)> = Vec::with_capacity(n);
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        while acks.len() < n {
            let got = match stdout.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(k) => k,
            };
            let now = Instant::now();
            buf.extend_from_slice(&chunk[..got]);
            while let Some(end) = memchr::memmem::find(&buf, &[0x1C, 0x0D]) {
                let ack = String::from_utf8_lossy(&buf[..end]).into_owned();
                let code = ack
                    .split(['\r', '\n'])
                    .find(|s| s.starts_with("MSA|"))
                    .and_then(|s| s.split('|').nth(1))
                    .unwrap_or("?")
                    .to_owned();
                acks.push((now, code));
                buf.drain(..end + 2);
            }
        }
        acks
    });

    let mut sent = Vec::with_capacity(n);
    let start = Instant::now();
    for (k, m) in messages.iter().enumerate() {
        if a.rate > 0.0 {
            let due = start + Duration::from_secs_f64(k as f64 / a.rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        stdin.write_all(m)?;
        stdin.flush()?;
        sent.push(Instant::now());
    }
    let written = start.elapsed();
    let acks = reader.join().expect("the ACK reader does not panic");
    let peak = peak_rss_kb(pid);
    drop(stdin);
    let status = child.wait()?;
    let last_ack = acks.last().map(|(t, _)| t.duration_since(start));

    let mut latencies: Vec<f64> = sent
        .iter()
        .zip(&acks)
        .map(|(s, (a, _))| a.saturating_duration_since(*s).as_secs_f64() * 1e3)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let count = |code: &str| acks.iter().filter(|(_, c)| c == code).count();
    let elapsed = last_ack.unwrap_or(written).as_secs_f64();
    println!(
        "{{\"messages\": {n}, \"acks\": {}, \"aa\": {}, \"ae\": {}, \"ar\": {}, \"bytes\": {bytes}, \
         \"target_rate\": {}, \"input_rate\": {:.1}, \"messages_per_second\": {:.1}, \
         \"mb_per_second\": {:.1}, \"p50_ms\": {:.2}, \"p90_ms\": {:.2}, \"p99_ms\": {:.2}, \
         \"max_ms\": {:.2}, \"peak_rss_kb\": {}, \"exit\": {}}}",
        acks.len(),
        count("AA"),
        count("AE"),
        count("AR"),
        a.rate,
        n as f64 / written.as_secs_f64(),
        acks.len() as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN),
        peak.map_or("null".to_owned(), |k| k.to_string()),
        status.code().unwrap_or(-1)
    );
    if acks.len() != n {
        eprintln!("stream_latency: {} ACKs for {n} messages", acks.len());
        std::process::exit(1);
    }
    Ok(())
}
