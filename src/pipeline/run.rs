//! The stages connected: one producer → N workers → one ordered committer.
//!
//! * The producer (a thread running the caller's closure) frames messages and hands them to
//!   [`Dispatch::send`], which first waits for room in the *window*: at most `WINDOW` (1,024)
//!   messages and `WINDOW_BYTES` (32 MiB) of messages between framing and commit (the committer
//!   tells the producer how many it committed), and the queue to the workers holds
//!   `2 × jobs + 2` batches: memory is a constant plus the messages in flight, however fast the
//!   input comes (backpressure reaches the reader, then the pipe or the disk).
//! * Messages travel in batches (up to [`BATCH_MESSAGES`] messages or [`BATCH_BYTES`] bytes, or
//!   one larger message): a hand-off between threads (a channel operation, often a futex
//!   wake-up and a context switch on each side) then serves several messages. The producer
//!   sends a batch when it is full, when it must wait for room, and when it calls
//!   [`Dispatch::flush`]: the stream reader does before each wait for input, so that a message
//!   never waits for the next one (a batch is then what one read brought).
//! * Workers convert ([`Sink::convert`]: pure, with the registry as memory for the output
//!   folder) and [`Sink::stage`] in parallel: plain
//!   threads over a crossbeam channel in stream mode ([`Workers::Threads`]); in bulk mode
//!   ([`Workers::Rayon`]) the same loop as one job on each thread of a rayon pool of `--jobs`
//!   threads.
//! * The committer (the calling thread) puts results back in sequence order and calls
//!   [`Sink::commit`] on each group of consecutive messages that are ready (group commit: the
//!   same few disk flushes for a group of any size), then `after` for each message in
//!   order (ACK, progress). Ordering is by construction: nothing is committed before every
//!   earlier message is.
//!
//! A failure (unwritable output, a closed standard output) stops the run at the first message
//! not committed: what came before is committed, what comes after is not (and not ACKed).

use super::ack::AckHeader;
use super::report::Tally;
use super::{Done, Error, Incoming, Record, Sink, is_undecodable};
use crate::config::Config;
use crate::convert::Conversion;
use crate::hl7::{Frame, FrameDefect};
use crate::message_hash::{Algorithm, MessageHash};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};

/// How the workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    /// `jobs` plain threads: stream mode, where each message must go through at once.
    Threads,
    /// A rayon pool of `jobs` threads: bulk mode.
    Rayon,
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub jobs: usize,
    pub workers: Workers,
}

/// Most messages committed together. A group costs the same few disk flushes whatever its
/// size (the `sync` of its files and of their renames, the registry's commit, the report's
/// fdatasync), so a backlog is best committed in large groups: 512 rather than 128 took 10,000
/// text-only messages to a disk from 1.04 to 0.86 s (docs/performance.md). A steady stream
/// still makes small groups: the committer takes what is ready and never waits to fill one.
const MAX_GROUP: usize = 512;
/// Most messages between framing and commit: wide enough for large group commits.
const WINDOW: usize = 2 * MAX_GROUP;
/// Most bytes of messages between framing and commit (a larger message goes alone). Waiting
/// for its turn, a message that asked the registry keeps its bytes (`output.rs`): without this
/// bound, 1,024 PDF messages of 150 KB would fill the 64 MiB keep budget and spill the rest to
/// temporary files.
const WINDOW_BYTES: usize = 32 << 20;

/// How much the producer may send ahead of the committer.
#[derive(Debug, Clone, Copy)]
struct Window {
    messages: usize,
    bytes: usize,
}

/// Most messages in a batch.
pub const BATCH_MESSAGES: usize = 16;
/// A batch is sent once it holds this many bytes of messages.
pub const BATCH_BYTES: usize = 1 << 20;

/// The producer's handle: sends frames to the workers, in order, with backpressure.
pub struct Dispatch<'a> {
    tx: Sender<Vec<Incoming>>,
    /// The committer's count of messages committed, one per group.
    committed: Receiver<usize>,
    window: Window,
    /// The size of each message sent and not yet committed, oldest first (commits follow the
    /// input order), and their sum.
    in_flight: RefCell<VecDeque<usize>>,
    in_flight_bytes: Cell<usize>,
    /// Messages taken in and not yet handed to the workers.
    batch: RefCell<Vec<Incoming>>,
    batch_bytes: Cell<usize>,
    next: Cell<u64>,
    /// The reading thread hashes the messages, with the folder's algorithm (one worker), else
    /// the workers do (`None`).
    hash_here: Option<Algorithm>,
    /// The first messages go one per batch, one for each worker, so that every worker starts
    /// at once rather than after a batch of 16 or 1 MiB was read for each one before it.
    ramp: u64,
    interrupt: &'a AtomicBool,
    abort: &'a AtomicBool,
}

impl<'a> Dispatch<'a> {
    fn new(
        tx: Sender<Vec<Incoming>>,
        committed: Receiver<usize>,
        window: Window,
        hash_here: Option<Algorithm>,
        ramp: u64,
        interrupt: &'a AtomicBool,
        abort: &'a AtomicBool,
    ) -> Dispatch<'a> {
        Dispatch {
            tx,
            committed,
            window,
            in_flight: RefCell::new(VecDeque::new()),
            in_flight_bytes: Cell::new(0),
            hash_here,
            ramp,
            batch: RefCell::new(Vec::new()),
            batch_bytes: Cell::new(0),
            next: Cell::new(0),
            interrupt,
            abort,
        }
    }

    /// Hands one frame to the workers, with the next ones (see [`Dispatch::flush`]), waiting
    /// while too many messages or bytes are in flight. `Break` when the run is stopping (signal,
    /// failure downstream): read no further. A frame taken (`Continue`) is committed, even if
    /// the run is interrupted afterwards.
    pub fn send(&self, source: String, frame: Frame) -> ControlFlow<()> {
        if self.stopping() || self.make_room(frame.bytes.len()).is_break() {
            return ControlFlow::Break(());
        }
        let seq = self.next.get();
        self.next.set(seq + 1);
        let (size, hash) = match self.hash_here {
            Some(algorithm) => {
                let (size, hash) = frame_identity(&frame, algorithm);
                (size, Some(hash))
            }
            None => (frame_size(&frame), None),
        };
        let bytes = self.batch_bytes.get() + frame.bytes.len();
        let len = {
            let mut batch = self.batch.borrow_mut();
            batch.push(Incoming {
                seq,
                source,
                frame,
                size,
                hash,
            });
            batch.len()
        };
        self.batch_bytes.set(bytes);
        if len >= BATCH_MESSAGES || bytes >= BATCH_BYTES || seq < self.ramp {
            return self.flush();
        }
        ControlFlow::Continue(())
    }

    /// Hands the messages taken so far to the workers. A producer that may wait for its input
    /// (a pipe, a socket) calls it before waiting.
    pub fn flush(&self) -> ControlFlow<()> {
        let batch = self.batch.take();
        self.batch_bytes.set(0);
        if batch.is_empty() || self.tx.send(batch).is_ok() {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }

    /// Counts a message of `len` bytes in flight, waiting for the committer while the window
    /// has no room for it.
    fn make_room(&self, len: usize) -> ControlFlow<()> {
        while let Ok(n) = self.committed.try_recv() {
            self.forget(n);
        }
        while !self.has_room(len) {
            // The messages waiting in the batch go first: the commits that make room may be
            // waiting for them.
            self.flush()?;
            match self.committed.recv() {
                Ok(n) => self.forget(n),
                Err(_) => return ControlFlow::Break(()),
            }
        }
        self.in_flight.borrow_mut().push_back(len);
        self.in_flight_bytes.set(self.in_flight_bytes.get() + len);
        ControlFlow::Continue(())
    }

    /// Room for one more message of `len` bytes; a message larger than the window goes when
    /// nothing else is in flight.
    fn has_room(&self, len: usize) -> bool {
        let in_flight = self.in_flight.borrow();
        in_flight.is_empty()
            || (in_flight.len() < self.window.messages
                && self.in_flight_bytes.get() + len <= self.window.bytes)
    }

    /// The `n` oldest messages in flight were committed.
    fn forget(&self, n: usize) {
        let mut in_flight = self.in_flight.borrow_mut();
        let n = n.min(in_flight.len());
        let bytes: usize = in_flight.drain(..n).sum();
        self.in_flight_bytes.set(self.in_flight_bytes.get() - bytes);
    }

    /// True once SIGINT/SIGTERM arrived or the run failed downstream.
    pub fn stopping(&self) -> bool {
        self.interrupt.load(Ordering::SeqCst) || self.abort.load(Ordering::SeqCst)
    }

    /// True when a signal asked to stop (as opposed to a failure downstream).
    pub fn interrupted(&self) -> bool {
        self.interrupt.load(Ordering::SeqCst)
    }
}

impl Drop for Dispatch<'_> {
    /// The messages taken and not yet sent (the end of the input, a signal, a reader's panic)
    /// are still converted and committed: taken means committed. A failure downstream is the
    /// committer's to report.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct RunEnd<R> {
    /// The messages committed.
    pub tally: Tally,
    /// What the producer returned (`None` if it panicked).
    pub produced: Option<R>,
    /// Why the run stopped early, if it did.
    pub error: Option<Error>,
}

/// Runs the pipeline: `produce` frames messages into its [`Dispatch`]; each message is
/// converted, staged and committed to `sink` in order; `after` sees each committed message.
pub fn run<S, R, P, A>(
    config: &Config,
    settings: Settings,
    sink: &S,
    interrupt: &AtomicBool,
    produce: P,
    mut after: A,
) -> RunEnd<R>
where
    S: Sink,
    R: Send,
    P: FnOnce(&Dispatch<'_>) -> R + Send,
    A: FnMut(&Done<S::Staged>) -> Result<(), Error>,
{
    let jobs = settings.jobs.max(1);
    // Messages with their bytes: queued for a worker, or in one.
    let queued = 2 * jobs + 2;
    let pool = match settings.workers {
        Workers::Threads => None,
        Workers::Rayon => match rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .thread_name(|i| format!("dmpfeed-worker-{i}"))
            .build()
        {
            Ok(pool) => Some(pool),
            Err(e) => {
                return RunEnd {
                    tally: Tally::default(),
                    produced: None,
                    error: Some(Error::Internal(format!("cannot start the workers: {e}"))),
                };
            }
        },
    };
    let (job_tx, job_rx) = bounded::<Vec<Incoming>>(queued);
    let (done_tx, done_rx) = bounded::<Vec<Result_<S::Staged>>>(WINDOW);
    // One count per group committed: never more than the messages in flight.
    let (committed_tx, committed_rx) = bounded::<usize>(WINDOW);
    let abort = AtomicBool::new(false);

    std::thread::scope(|s| {
        let abort = &abort;
        // Named, so that `top -H`, `perf` and a stack dump tell the stages apart.
        let reader = std::thread::Builder::new()
            .name("dmpfeed-reader".into())
            .spawn_scoped(s, move || {
                let window = Window {
                    messages: WINDOW,
                    bytes: WINDOW_BYTES,
                };
                let hash_here = (jobs == 1).then(|| sink.message_hash_algorithm());
                let dispatch = Dispatch::new(
                    job_tx,
                    committed_rx,
                    window,
                    hash_here,
                    jobs as u64,
                    interrupt,
                    abort,
                );
                // The last batch goes when `dispatch` is dropped, even if `produce` panicked.
                produce(&dispatch)
            });
        let producer = match reader {
            Ok(handle) => handle,
            Err(e) => {
                return RunEnd {
                    tally: Tally::default(),
                    produced: None,
                    error: Some(Error::Internal(format!("cannot start the reader: {e}"))),
                };
            }
        };
        // One worker: readies itself, then converts batch after batch until the reader is done
        // (the channel closes) or the committer stopped (its channel closed).
        let worker = |rx: Receiver<Vec<Incoming>>, tx: Sender<Vec<Result_<S::Staged>>>| {
            sink.warm();
            for batch in rx {
                if tx.send(work_batch(sink, config, abort, batch)).is_err() {
                    break;
                }
            }
        };
        let commit = || {
            let ended = commit_in_order(sink, done_rx, committed_tx, &mut after);
            if ended.1.is_some() {
                abort.store(true, Ordering::SeqCst);
            }
            ended
        };
        let (tally, error) = match &pool {
            None => {
                for i in 0..jobs {
                    let (rx, tx) = (job_rx.clone(), done_tx.clone());
                    let spawned = std::thread::Builder::new()
                        .name(format!("dmpfeed-worker-{i}"))
                        .spawn_scoped(s, move || worker(rx, tx));
                    if let Err(e) = spawned {
                        // The others still work; with none, the committer sees no result and
                        // the run ends with the error below.
                        tracing::error!("cannot start a worker thread: {e}");
                    }
                }
                drop((job_rx, done_tx));
                commit()
            }
            // One long job per pool thread, each taking batches from the channel as it comes
            // free: the first worker the kernel runs starts on the first message without
            // waiting for the others (`par_bridge` made them take turns on one lock, and a
            // `broadcast` to ready them made the first messages wait for the last worker to be
            // scheduled: 1.6–3.6 ms of a 100 ms run in the traces, see docs/performance.md).
            Some(pool) => pool.in_place_scope(|scope| {
                for _ in 0..jobs {
                    let (rx, tx) = (job_rx.clone(), done_tx.clone());
                    scope.spawn(move |_| worker(rx, tx));
                }
                drop((job_rx, done_tx));
                commit()
            }),
        };
        let produced = producer.join().ok();
        // A panic while reading the inputs (a bug: the reader must not panic on any input) must
        // not pass for the end of the input: the messages after it were never read.
        let error = match (error, &produced) {
            (None, None) => Some(Error::Internal(
                "reading the inputs panicked: the rest of the input was not read".into(),
            )),
            (error, _) => error,
        };
        RunEnd {
            tally,
            produced,
            error,
        }
    })
}

/// A message's size and the hash that makes it "the same message" ([`crate::message_hash`]).
pub fn frame_identity(frame: &Frame, algorithm: Algorithm) -> (u64, MessageHash) {
    let size = frame_size(frame);
    match frame.defect {
        // Only a prefix is kept: the size tells apart two large messages that start alike.
        Some(FrameDefect::TooLarge { .. }) => (
            size,
            algorithm.hash_parts(&[&frame.bytes, &size.to_le_bytes()]),
        ),
        _ => (size, algorithm.hash(&frame.bytes)),
    }
}

/// A message's size: the whole size of one too large to keep.
fn frame_size(frame: &Frame) -> u64 {
    match frame.defect {
        Some(FrameDefect::TooLarge { size }) => size,
        _ => frame.bytes.len() as u64,
    }
}

/// A batch through a worker, message by message.
fn work_batch<S: Sink>(
    sink: &S,
    config: &Config,
    abort: &AtomicBool,
    batch: Vec<Incoming>,
) -> Vec<Result_<S::Staged>> {
    batch
        .into_iter()
        .map(|incoming| work(sink, config, abort, incoming))
        .collect()
}

/// One message through a worker: convert, stage, keep what the commit needs.
fn work<S: Sink>(
    sink: &S,
    config: &Config,
    abort: &AtomicBool,
    incoming: Incoming,
) -> Result<Done<S::Staged>, (u64, Error)> {
    let Incoming {
        seq,
        source,
        frame,
        size,
        hash,
    } = incoming;
    if abort.load(Ordering::SeqCst) {
        return Err((seq, Error::Internal("stopped".into())));
    }
    let hash = hash.unwrap_or_else(|| frame_identity(&frame, sink.message_hash_algorithm()).1);
    // A panic is a bug (the core must not panic on any input): stop loudly, not silently lose
    // the message or hang the committer waiting for it.
    let conversion = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sink.convert(&frame.bytes, frame.defect, &hash, config)
    }))
    .map_err(|_| {
        (
            seq,
            Error::Internal(format!("{source}: the conversion of this message panicked")),
        )
    })?;
    let record = Record {
        seq,
        source,
        framing: frame.framing,
        size,
        hash,
        header: AckHeader::read(&frame.bytes),
        undecodable: is_undecodable(frame.defect),
        conversion,
    };
    tracing::debug!(
        source = %record.source,
        outcome = %record.conversion.outcome,
        codes = ?record.conversion.codes(),
        "message converted"
    );
    // Details may quote the message: trace level only (never at the default level).
    tracing::trace!(source = %record.source, findings = ?record.conversion.findings);
    let staged = sink.stage(&record, frame.bytes).map_err(|e| (seq, e))?;
    let mut record = record;
    drop_payloads(&mut record.conversion);
    Ok(Done { record, staged })
}

/// The document and artefact bytes are on disk once staged: free them before the message waits
/// for its turn.
fn drop_payloads(c: &mut Conversion) {
    if let Some(d) = c.document.as_mut() {
        d.cda = Vec::new();
        for a in &mut d.artefacts {
            a.bytes = Vec::new();
        }
    }
    if let Some(d) = c.deletion.as_mut() {
        for a in &mut d.artefacts {
            a.bytes = Vec::new();
        }
    }
}

type Result_<S> = Result<Done<S>, (u64, Error)>;

/// Files a worker's result under its sequence number.
fn insert<S>(r: Result_<S>, pending: &mut BTreeMap<u64, Result<Done<S>, Error>>) {
    match r {
        Ok(done) => {
            pending.insert(done.record.seq, Ok(done));
        }
        Err((seq, e)) => {
            pending.insert(seq, Err(e));
        }
    }
}

/// The committer: results back in sequence order, committed in groups, then `after`.
fn commit_in_order<S: Sink, A>(
    sink: &S,
    results: Receiver<Vec<Result_<S::Staged>>>,
    committed: Sender<usize>,
    after: &mut A,
) -> (Tally, Option<Error>)
where
    A: FnMut(&Done<S::Staged>) -> Result<(), Error>,
{
    let mut tally = Tally::default();
    let mut pending: BTreeMap<u64, Result<Done<S::Staged>, Error>> = BTreeMap::new();
    let mut next = 0u64;
    loop {
        if !pending.contains_key(&next) {
            match results.recv() {
                Ok(batch) => batch.into_iter().for_each(|r| insert(r, &mut pending)),
                Err(_) => break,
            }
        }
        while let Ok(batch) = results.try_recv() {
            batch.into_iter().for_each(|r| insert(r, &mut pending));
        }
        let mut group = Vec::new();
        let mut failure = None;
        while group.len() < MAX_GROUP {
            match pending.remove(&next) {
                Some(Ok(done)) => {
                    group.push(done);
                    next += 1;
                }
                Some(Err(e)) => {
                    failure = Some(e);
                    break;
                }
                None => break,
            }
        }
        if !group.is_empty() {
            if let Err(e) = sink.commit(&mut group) {
                return (tally, Some(e));
            }
            for done in &group {
                tally.add(&done.record);
            }
            for done in &group {
                if let Err(e) = after(done) {
                    return (tally, Some(e));
                }
            }
            // The producer may be gone (end of input): then nobody needs the count.
            let _ = committed.send(group.len());
        }
        if let Some(e) = failure {
            return (tally, Some(e));
        }
    }
    if pending.is_empty() {
        (tally, None)
    } else {
        let e = Error::Internal(format!(
            "{} message(s) converted but never committed (message {next} is missing)",
            pending.len()
        ));
        (tally, Some(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Framing;
    use crate::reason::Outcome;
    use std::sync::Mutex;

    /// Records the order of commits; fails staging for one chosen message.
    #[derive(Default)]
    struct Memory {
        committed: Mutex<Vec<(u64, String, Outcome)>>,
        /// Each committed message's size and hash, in order.
        identities: Mutex<Vec<(u64, MessageHash)>>,
        groups: Mutex<Vec<usize>>,
        fail_at: Option<u64>,
    }

    impl Sink for Memory {
        type Staged = ();
        fn stage(&self, record: &Record, _raw: Vec<u8>) -> Result<(), Error> {
            if Some(record.seq) == self.fail_at {
                return Err(Error::Output("disk full".into()));
            }
            // Make later messages finish first now and then.
            if record.seq.is_multiple_of(3) {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Ok(())
        }
        fn commit(&self, group: &mut [Done<()>]) -> Result<(), Error> {
            self.groups.lock().unwrap().push(group.len());
            let mut c = self.committed.lock().unwrap();
            let mut ids = self.identities.lock().unwrap();
            for d in group.iter() {
                ids.push((d.record.size, d.record.hash));
                c.push((
                    d.record.seq,
                    d.record.source.clone(),
                    d.record.conversion.outcome,
                ));
            }
            Ok(())
        }
    }

    fn frame(i: usize) -> Frame {
        Frame {
            bytes: format!("not hl7 {i}").into_bytes(),
            index: i,
            offset: 0,
            framing: Framing::Plain,
            defect: Some(FrameDefect::NotHl7),
        }
    }

    fn run_with(sink: &Memory, workers: Workers, n: usize) -> RunEnd<usize> {
        let config = Config::default();
        let interrupt = AtomicBool::new(false);
        let mut acks = Vec::new();
        let end = run(
            &config,
            Settings { jobs: 3, workers },
            sink,
            &interrupt,
            |d| {
                let mut sent = 0;
                for i in 1..=n {
                    if d.send(format!("t#{i}"), frame(i)).is_break() {
                        break;
                    }
                    sent += 1;
                }
                sent
            },
            |done| {
                acks.push(done.record.seq);
                Ok(())
            },
        );
        assert!(
            acks.windows(2).all(|w| w[0] + 1 == w[1]),
            "after() in order"
        );
        end
    }

    #[test]
    fn commits_follow_input_order_with_threads_and_with_rayon() {
        for workers in [Workers::Threads, Workers::Rayon] {
            let sink = Memory::default();
            let end = run_with(&sink, workers, 200);
            assert!(end.error.is_none(), "{:?}", end.error);
            assert_eq!(end.produced, Some(200));
            assert_eq!(end.tally.messages, 200);
            assert_eq!(end.tally.count(Outcome::Rejected), 200);
            let committed = sink.committed.lock().unwrap();
            let seqs: Vec<u64> = committed.iter().map(|c| c.0).collect();
            assert_eq!(seqs, (0..200).collect::<Vec<_>>(), "{workers:?}");
            assert_eq!(committed[4].1, "t#5");
        }
    }

    /// One worker: the reading thread hashes; several: the workers do. The identity of every
    /// message is the same either way, a too-large message's included (its whole size).
    #[test]
    fn messages_have_the_same_identity_whoever_hashes_them() {
        let frames: Vec<Frame> = (1..=40)
            .map(|i| {
                let mut f = frame(i);
                if i % 7 == 0 {
                    f.defect = Some(FrameDefect::TooLarge {
                        size: 1_000_000 + i as u64,
                    });
                }
                f
            })
            .collect();
        let expected: Vec<(u64, MessageHash)> = frames
            .iter()
            .map(|f| frame_identity(f, Algorithm::NEW_FOLDERS))
            .collect();
        assert_eq!(expected[6].0, 1_000_007);
        for (jobs, workers) in [
            (1, Workers::Threads),
            (1, Workers::Rayon),
            (3, Workers::Threads),
            (3, Workers::Rayon),
        ] {
            let sink = Memory::default();
            let end = run(
                &Config::default(),
                Settings { jobs, workers },
                &sink,
                &AtomicBool::new(false),
                |d| {
                    for (i, f) in frames.iter().enumerate() {
                        let _ = d.send(format!("t#{i}"), f.clone());
                    }
                },
                |_| Ok(()),
            );
            assert!(end.error.is_none(), "{:?}", end.error);
            assert_eq!(
                *sink.identities.lock().unwrap(),
                expected,
                "{jobs} {workers:?}"
            );
        }
    }

    #[test]
    fn a_panic_while_reading_the_inputs_is_an_error_not_the_end_of_input() {
        let sink = Memory::default();
        let interrupt = AtomicBool::new(false);
        let end: RunEnd<()> = run(
            &Config::default(),
            Settings {
                jobs: 2,
                workers: Workers::Rayon,
            },
            &sink,
            &interrupt,
            |d| {
                for i in 1..=3 {
                    let _ = d.send(format!("t#{i}"), frame(i));
                }
                panic!("a reader bug");
            },
            |_| Ok(()),
        );
        assert!(
            matches!(end.error, Some(Error::Internal(_))),
            "{:?}",
            end.error
        );
        assert_eq!(end.tally.messages, 3, "what was read before is committed");
    }

    #[test]
    fn a_staging_failure_commits_everything_before_it_and_nothing_after() {
        for workers in [Workers::Threads, Workers::Rayon] {
            let sink = Memory {
                fail_at: Some(50),
                ..Memory::default()
            };
            let end = run_with(&sink, workers, 1000);
            assert!(matches!(end.error, Some(Error::Output(_))), "{workers:?}");
            let seqs: Vec<u64> = sink.committed.lock().unwrap().iter().map(|c| c.0).collect();
            assert_eq!(seqs, (0..50).collect::<Vec<_>>());
            assert!(end.produced.unwrap() < 1000, "the producer stopped early");
        }
    }

    #[test]
    fn an_interrupt_stops_the_producer_and_finishes_what_was_sent() {
        let sink = Memory::default();
        let config = Config::default();
        let interrupt = AtomicBool::new(false);
        let end = run(
            &config,
            Settings {
                jobs: 2,
                workers: Workers::Threads,
            },
            &sink,
            &interrupt,
            |d| {
                let mut sent = 0u64;
                for i in 1..=1000 {
                    if i == 10 {
                        interrupt.store(true, Ordering::SeqCst);
                    }
                    if d.send(format!("t#{i}"), frame(i)).is_break() {
                        break;
                    }
                    sent += 1;
                }
                sent
            },
            |_| Ok(()),
        );
        assert!(end.error.is_none());
        assert_eq!(end.produced, Some(9));
        assert_eq!(end.tally.messages, 9, "every message sent is committed");
    }

    /// A slow sink: the producer must not run ahead of it by more than the window.
    struct Slow {
        sent: std::sync::atomic::AtomicU64,
        committed: std::sync::atomic::AtomicU64,
        worst_lead: std::sync::atomic::AtomicU64,
    }

    impl Sink for Slow {
        type Staged = ();
        fn stage(&self, _: &Record, _: Vec<u8>) -> Result<(), Error> {
            Ok(())
        }
        fn commit(&self, group: &mut [Done<()>]) -> Result<(), Error> {
            std::thread::sleep(std::time::Duration::from_millis(1));
            let done = self
                .committed
                .fetch_add(group.len() as u64, Ordering::SeqCst);
            let lead = self.sent.load(Ordering::SeqCst) - done;
            self.worst_lead.fetch_max(lead, Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn a_fast_producer_waits_for_a_slow_sink() {
        let sink = Slow {
            sent: 0.into(),
            committed: 0.into(),
            worst_lead: 0.into(),
        };
        let config = Config::default();
        let interrupt = AtomicBool::new(false);
        let end = run(
            &config,
            Settings {
                jobs: 2,
                workers: Workers::Threads,
            },
            &sink,
            &interrupt,
            |d| {
                for i in 1..=3000 {
                    if d.send(format!("t#{i}"), frame(i)).is_break() {
                        break;
                    }
                    sink.sent.fetch_add(1, Ordering::SeqCst);
                }
            },
            |_| Ok(()),
        );
        assert_eq!(end.tally.messages, 3000);
        let lead = sink.worst_lead.load(Ordering::SeqCst);
        assert!(
            lead <= WINDOW as u64,
            "the producer ran {lead} messages ahead"
        );
    }

    /// A producer's handle over channels the test holds (no ramp unless asked).
    fn dispatch<'a>(
        window: Window,
        interrupt: &'a AtomicBool,
        abort: &'a AtomicBool,
    ) -> (Dispatch<'a>, Receiver<Vec<Incoming>>, Sender<usize>) {
        dispatch_ramp(window, 0, interrupt, abort)
    }

    fn dispatch_ramp<'a>(
        window: Window,
        ramp: u64,
        interrupt: &'a AtomicBool,
        abort: &'a AtomicBool,
    ) -> (Dispatch<'a>, Receiver<Vec<Incoming>>, Sender<usize>) {
        let (tx, rx) = bounded::<Vec<Incoming>>(64);
        let (committed_tx, committed_rx) = bounded::<usize>(4);
        (
            Dispatch::new(
                tx,
                committed_rx,
                window,
                Some(Algorithm::NEW_FOLDERS),
                ramp,
                interrupt,
                abort,
            ),
            rx,
            committed_tx,
        )
    }

    fn window(messages: usize) -> Window {
        Window {
            messages,
            bytes: WINDOW_BYTES,
        }
    }

    #[test]
    fn messages_travel_in_batches_sent_when_full_or_flushed() {
        let (interrupt, abort) = (AtomicBool::new(false), AtomicBool::new(false));
        let (dispatch, rx, _committed) = dispatch(window(WINDOW), &interrupt, &abort);
        for i in 1..=BATCH_MESSAGES + 3 {
            assert!(dispatch.send(format!("t#{i}"), frame(i)).is_continue());
        }
        assert_eq!(
            rx.try_iter().map(|b| b.len()).collect::<Vec<_>>(),
            [BATCH_MESSAGES]
        );
        // A message as large as a batch goes at once, with what waits before it.
        let big = Frame {
            bytes: vec![b'x'; BATCH_BYTES],
            ..frame(0)
        };
        assert!(dispatch.send("big#1".into(), big).is_continue());
        assert_eq!(rx.try_iter().map(|b| b.len()).collect::<Vec<_>>(), [4]);
        // A flush (the stream reader's, before it waits for input) sends what waits.
        assert!(dispatch.send("t#20".into(), frame(20)).is_continue());
        assert!(rx.is_empty());
        assert!(dispatch.flush().is_continue());
        assert_eq!(rx.try_iter().map(|b| b.len()).collect::<Vec<_>>(), [1]);
        assert!(
            dispatch.flush().is_continue(),
            "nothing to send: no empty batch"
        );
        assert!(rx.is_empty());
        // Dropped (end of input, a panic): the rest goes.
        assert!(dispatch.send("t#21".into(), frame(21)).is_continue());
        drop(dispatch);
        assert_eq!(rx.try_iter().map(|b| b.len()).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn the_first_messages_go_one_per_worker_then_in_batches() {
        let (interrupt, abort) = (AtomicBool::new(false), AtomicBool::new(false));
        let (dispatch, rx, _committed) = dispatch_ramp(window(WINDOW), 3, &interrupt, &abort);
        for i in 1..=3 + BATCH_MESSAGES {
            assert!(dispatch.send(format!("t#{i}"), frame(i)).is_continue());
        }
        assert_eq!(
            rx.try_iter().map(|b| b.len()).collect::<Vec<_>>(),
            [1, 1, 1, BATCH_MESSAGES]
        );
    }

    /// Counts the workers readied.
    #[derive(Default)]
    struct Warmed(std::sync::atomic::AtomicUsize);

    impl Sink for Warmed {
        type Staged = ();
        fn warm(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn stage(&self, _: &Record, _: Vec<u8>) -> Result<(), Error> {
            Ok(())
        }
        fn commit(&self, _: &mut [Done<()>]) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn every_worker_is_readied_before_its_first_message() {
        for workers in [Workers::Threads, Workers::Rayon] {
            let sink = Warmed::default();
            let config = Config::default();
            let interrupt = AtomicBool::new(false);
            let end = run(
                &config,
                Settings { jobs: 3, workers },
                &sink,
                &interrupt,
                |d| {
                    for i in 1..=10 {
                        let _ = d.send(format!("t#{i}"), frame(i));
                    }
                },
                |_| Ok(()),
            );
            assert_eq!(end.tally.messages, 10);
            assert_eq!(sink.0.load(Ordering::SeqCst), 3, "{workers:?}");
        }
    }

    /// The first worker to ready itself stays stuck there until every message is committed
    /// (a worker the kernel has not scheduled yet): the others must do the work meanwhile.
    #[derive(Default)]
    struct SlowStart {
        stuck: AtomicBool,
        committed: std::sync::Mutex<bool>,
        all_committed: std::sync::Condvar,
        gave_up: AtomicBool,
    }

    impl Sink for SlowStart {
        type Staged = ();
        fn warm(&self) {
            if self.stuck.swap(true, Ordering::SeqCst) {
                return;
            }
            let committed = self.committed.lock().unwrap();
            let waited = self
                .all_committed
                .wait_timeout_while(committed, std::time::Duration::from_secs(20), |c| !*c)
                .unwrap()
                .1;
            self.gave_up.store(waited.timed_out(), Ordering::SeqCst);
        }
        fn stage(&self, _: &Record, _: Vec<u8>) -> Result<(), Error> {
            Ok(())
        }
        fn commit(&self, _: &mut [Done<()>]) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn a_worker_slow_to_start_does_not_hold_back_the_others() {
        for workers in [Workers::Threads, Workers::Rayon] {
            let sink = SlowStart::default();
            let config = Config::default();
            let interrupt = AtomicBool::new(false);
            let mut seen = 0;
            let end = run(
                &config,
                Settings { jobs: 2, workers },
                &sink,
                &interrupt,
                |d| {
                    for i in 1..=40 {
                        let _ = d.send(format!("t#{i}"), frame(i));
                    }
                },
                |_| {
                    seen += 1;
                    if seen == 40 {
                        *sink.committed.lock().unwrap() = true;
                        sink.all_committed.notify_all();
                    }
                    Ok(())
                },
            );
            assert_eq!(end.tally.messages, 40, "{workers:?}");
            assert!(
                !sink.gave_up.load(Ordering::SeqCst),
                "{workers:?}: the messages waited"
            );
        }
    }

    #[test]
    fn messages_waiting_in_a_batch_are_sent_before_waiting_for_room() {
        let (interrupt, abort) = (AtomicBool::new(false), AtomicBool::new(false));
        let (dispatch, rx, committed_tx) = dispatch(window(3), &interrupt, &abort);
        for i in 1..=3 {
            assert!(dispatch.send(format!("t#{i}"), frame(i)).is_continue());
        }
        assert!(rx.is_empty(), "three messages wait for a batch");
        // No room left: the fourth message flushes the three, then waits for a commit (here
        // the committer is gone, so the producer is told to stop).
        drop(committed_tx);
        assert!(dispatch.send("t#4".into(), frame(4)).is_break());
        assert_eq!(rx.try_iter().map(|b| b.len()).collect::<Vec<_>>(), [3]);
    }

    /// The window counts bytes too: large messages wait for earlier ones to be committed,
    /// oldest first; one larger than the window goes alone.
    #[test]
    fn the_bytes_in_flight_are_bounded() {
        let (interrupt, abort) = (AtomicBool::new(false), AtomicBool::new(false));
        let window = Window {
            messages: WINDOW,
            bytes: 300,
        };
        let sized = |n: usize| Frame {
            bytes: vec![b'x'; n],
            ..frame(0)
        };
        {
            let (producer, rx, committed_tx) = dispatch(window, &interrupt, &abort);
            for n in [100, 150] {
                assert!(producer.send(format!("{n}#1"), sized(n)).is_continue());
            }
            // 100 + 150 + 100 > 300: the third goes once the first is committed.
            committed_tx.send(1).unwrap();
            assert!(producer.send("100#2".into(), sized(100)).is_continue());
            assert_eq!(producer.in_flight_bytes.get(), 250);
            // 150 + 100 + 60 > 300, and no commit comes (the committer is gone): the
            // producer is told to stop, after sending what it had.
            drop(committed_tx);
            assert!(producer.send("60#1".into(), sized(60)).is_break());
            assert_eq!(rx.try_iter().map(|b| b.len()).sum::<usize>(), 3);
        }
        // A message larger than the window goes when nothing else is in flight, and the next
        // waits for it.
        let (producer, _rx, committed_tx) = dispatch(window, &interrupt, &abort);
        assert!(producer.send("big#1".into(), sized(1000)).is_continue());
        drop(committed_tx);
        assert!(producer.send("small#1".into(), sized(10)).is_break());
    }

    /// A backlog (every result ready when the committer looks) goes in groups of MAX_GROUP,
    /// in order: on a disk a group costs the same few flushes whatever its size.
    #[test]
    fn a_backlog_is_committed_in_groups_of_512() {
        let sink = Memory::default();
        let abort = AtomicBool::new(false);
        let (results_tx, results_rx) = crossbeam_channel::unbounded();
        let mut batch = Vec::new();
        for i in 0..1200u64 {
            let frame = frame(i as usize + 1);
            let (size, hash) = frame_identity(&frame, Algorithm::NEW_FOLDERS);
            batch.push(Incoming {
                seq: i,
                source: format!("t#{}", i + 1),
                frame,
                size,
                hash: Some(hash),
            });
            if batch.len() == BATCH_MESSAGES {
                let work = std::mem::take(&mut batch);
                results_tx
                    .send(work_batch(&sink, &Config::default(), &abort, work))
                    .unwrap();
            }
        }
        drop(results_tx);
        let (committed, _counts) = crossbeam_channel::unbounded();
        let (tally, error) = commit_in_order(&sink, results_rx, committed, &mut |_| Ok(()));
        assert!(error.is_none(), "{error:?}");
        assert_eq!(tally.messages, 1200);
        assert_eq!(*sink.groups.lock().unwrap(), [512, 512, 176]);
    }

    #[test]
    fn groups_are_bounded() {
        let sink = Memory::default();
        run_with(&sink, Workers::Rayon, 600);
        assert!(sink.groups.lock().unwrap().iter().all(|&g| g <= MAX_GROUP));
    }
}
