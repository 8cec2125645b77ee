//! Standard input as a stream (CONTRACT.md "Commands"): each message goes on as soon as it is
//! complete, never waiting for the next message or the end of input.
//!
//! A reader thread does the blocking reads and passes chunks over a small bounded channel; the
//! framing side waits on that channel with a timeout, which is how it notices that the input is
//! idle. An MLLP frame is complete at its `0x1C`; a plain message (no MLLP) has no end mark, so
//! it is complete when the next one starts or at the end of input. When an ACK is owed for it
//! (`convert --ack`), the sender may be waiting for that ACK before it sends anything more, so
//! the message is also taken as complete after `stream.idle_flush_ms` without a byte when it
//! ends with a segment terminator ([`Framer::flush_idle`]); a sender that pauses longer than
//! that inside a message has it cut in two, so a warning advises MLLP when an ACK stream turns
//! out to be plain. Without ACKs nobody waits, and a pause never cuts a message.
//!
//! The reader thread is detached: a blocking read cannot be cancelled, so when the run stops
//! early (signal, closed output) it stays parked in `read` until the process exits.

use super::source::{CHUNK, Emit, drain};
use crate::hl7::Framer;
use crossbeam_channel::{RecvTimeoutError, bounded};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// Longest wait between two looks at the stop flag.
const TICK: Duration = Duration::from_millis(100);
/// Chunks read ahead of the framer (memory: `READ_AHEAD × CHUNK`).
const READ_AHEAD: usize = 4;

/// Frames `input` as it arrives, each frame sent as `label#N`. `idle_flush`: end a plain
/// message after that much silence (only when an ACK is owed for it); `None`: wait for the next
/// message or the end of input. `Err` when the input cannot be read (what was framed before is
/// sent).
pub fn read_stream(
    input: impl Read + Send + 'static,
    label: &str,
    max_message_bytes: usize,
    idle_flush: Option<Duration>,
    out: &mut dyn Emit,
) -> io::Result<ControlFlow<()>> {
    let (tx, rx) = bounded::<io::Result<Vec<u8>>>(READ_AHEAD);
    std::thread::Builder::new()
        .name("dmpfeed-stdin".into())
        .spawn(move || {
            let mut input = input;
            loop {
                let mut buf = vec![0u8; CHUNK];
                let sent = match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        tx.send(Ok(buf))
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        break;
                    }
                };
                if sent.is_err() {
                    break;
                }
            }
        })?;
    let mut framer = Framer::new(max_message_bytes);
    let mut last_bytes = Instant::now();
    let tick = idle_flush.map_or(TICK, |idle| idle.clamp(Duration::from_millis(1), TICK));
    // Until the first byte that is not blank tells the framing.
    let mut framing_seen = false;
    loop {
        // Whatever was framed goes on before the wait: the sender may be waiting for its ACK.
        if out.stopping() || out.flush().is_break() {
            return Ok(ControlFlow::Break(()));
        }
        match rx.recv_timeout(tick) {
            Ok(Ok(chunk)) => {
                if let (Some(idle), false) = (idle_flush, framing_seen)
                    && let Some(&first) = chunk.iter().find(|b| !b.is_ascii_whitespace())
                {
                    framing_seen = true;
                    if first != MLLP_START {
                        warn_plain_with_acks(idle);
                    }
                }
                framer.push(&chunk);
                last_bytes = Instant::now();
                if drain(&mut framer, label, out).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(Err(e)) => {
                // What was framed stays sent; a partial message is not a message.
                return Err(e);
            }
            Err(RecvTimeoutError::Timeout) => {
                if idle_flush.is_some_and(|idle| last_bytes.elapsed() >= idle) {
                    while let Some(frame) = framer.flush_idle() {
                        if out
                            .emit(format!("{label}#{}", frame.index), frame)
                            .is_break()
                        {
                            return Ok(ControlFlow::Break(()));
                        }
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    framer.finish();
    Ok(drain(&mut framer, label, out))
}

/// MLLP's start-of-block byte.
const MLLP_START: u8 = 0x0B;

/// Once per run, when ACKs are owed on a stream that is not MLLP (README "Stream mode").
fn warn_plain_with_acks(idle: Duration) {
    tracing::warn!(
        "standard input is not MLLP-framed: with --ack a plain message is taken as complete after \
         {} ms without a byte (stream.idle_flush_ms), so a sender that pauses longer inside a \
         message gets two ACKs for it; MLLP framing (0x0B … 0x1C 0x0D) is advised",
        idle.as_millis()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::{Frame, Framing};
    use std::sync::mpsc;

    const M1: &[u8] = b"MSH|^~\\&|A|B|||20240101||MDM^T02|1|P|2.6\rPID|||1\r";

    /// A reader fed by a channel: bytes arrive when the test says so.
    struct Pipe(mpsc::Receiver<Vec<u8>>, Vec<u8>);

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1.is_empty() {
                match self.0.recv() {
                    Ok(b) => self.1 = b,
                    Err(_) => return Ok(0),
                }
            }
            let n = buf.len().min(self.1.len());
            buf[..n].copy_from_slice(&self.1[..n]);
            self.1.drain(..n);
            Ok(n)
        }
    }

    /// Records when each frame came out.
    struct Timed(Vec<(String, Frame, Instant)>);

    impl Emit for Timed {
        fn emit(&mut self, source: String, frame: Frame) -> ControlFlow<()> {
            self.0.push((source, frame, Instant::now()));
            ControlFlow::Continue(())
        }
        fn stopping(&self) -> bool {
            false
        }
    }

    #[test]
    fn a_plain_message_goes_on_after_the_idle_delay_without_end_of_input() {
        let (tx, rx) = mpsc::channel();
        let feeder = std::thread::spawn(move || {
            tx.send(M1.to_vec()).unwrap();
            let sent = Instant::now();
            std::thread::sleep(Duration::from_millis(600));
            drop(tx);
            sent
        });
        let mut out = Timed(Vec::new());
        let flow = read_stream(
            Pipe(rx, Vec::new()),
            "-",
            1 << 20,
            Some(Duration::from_millis(50)),
            &mut out,
        )
        .unwrap();
        assert!(flow.is_continue());
        let sent = feeder.join().unwrap();
        assert_eq!(out.0.len(), 1);
        assert_eq!(out.0[0].0, "-#1");
        let waited = out.0[0].2.duration_since(sent);
        assert!(
            waited < Duration::from_millis(400),
            "flushed after {waited:?}, before the end of input"
        );
    }

    #[test]
    fn an_mllp_frame_goes_on_at_its_end_byte() {
        let (tx, rx) = mpsc::channel();
        let feeder = std::thread::spawn(move || {
            tx.send([&[0x0B][..], M1, &[0x1C]].concat()).unwrap();
            let sent = Instant::now();
            std::thread::sleep(Duration::from_millis(500));
            tx.send(vec![0x0D]).unwrap();
            drop(tx);
            sent
        });
        let mut out = Timed(Vec::new());
        let flow = read_stream(
            Pipe(rx, Vec::new()),
            "-",
            1 << 20,
            Some(Duration::from_secs(60)),
            &mut out,
        )
        .unwrap();
        assert!(flow.is_continue());
        let sent = feeder.join().unwrap();
        assert_eq!(out.0.len(), 1);
        assert_eq!(out.0[0].1.framing, Framing::Mllp);
        assert!(out.0[0].2.duration_since(sent) < Duration::from_millis(300));
    }

    #[test]
    fn a_read_error_ends_the_stream_with_an_error() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("device gone"))
            }
        }
        let mut out: Vec<(String, Frame)> = Vec::new();
        let r = read_stream(Broken, "-", 1 << 20, None, &mut out);
        assert!(r.is_err());
    }
}
