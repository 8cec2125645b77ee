//! The pipeline: inputs → framed messages → [`crate::convert::convert`] → a [`Sink`], in input
//! order. The only module that touches files, standard input, threads and channels (STYLE.md:
//! the core is sans-I/O; this is the shell).
//!
//! ```text
//!  producer thread            workers (N)                      the calling thread
//!  ─────────────────          ───────────────────────          ───────────────────────────
//!  read + frame ──bounded──▶  convert + Sink::stage   ──▶      reorder by sequence number,
//!  (+ SHA-1     channel of    (+ SHA-1 when N > 1;             Sink::commit a group in order
//!  when N = 1;  batches       temp files written and           (rename, sync dirs, report,
//!  files, archives,           made durable)                    fsync), then ACK / progress
//!  stdin with idle flush)
//!        ▲                                                           │
//!        └──── counts committed (window: 1,024 messages, 32 MiB) ────┘
//! ```
//!
//! * [`source`] and [`archive`] read files, directories (walked, hidden entries and
//!   `input.ignore` patterns skipped) and `.zip`/`.tar`/`.tar.gz` archives entry by entry,
//!   never extracted to disk; [`stream`] reads standard input as it comes, with an idle flush for
//!   plain (non-MLLP) framing.
//! * [`run`] connects the stages: stream mode with N worker threads, bulk mode with a rayon pool;
//!   both commit in input order, so that reports, names and ACKs are deterministic.
//! * [`output`] is the output folder sink (durable writes, names, `report.jsonl`, the registry);
//!   [`name`], [`report`], [`ack`], [`durable`], [`memory`] are its pieces.

pub mod ack;
pub mod archive;
pub mod durable;
pub mod ignore;
pub mod index;
pub mod memory;
pub mod name;
pub mod output;
pub mod report;
pub mod run;
pub mod source;
pub mod stream;
pub mod sync;

use crate::convert::Conversion;
use crate::hl7::{FrameDefect, Framing};
use crate::message_hash::{Algorithm, MessageHash};
use ack::AckHeader;

/// A framed message on its way to the workers.
#[derive(Debug)]
pub struct Incoming {
    /// Position in the run (0-based): the order of commits, reports and ACKs.
    pub seq: u64,
    /// `path#N`, `archive.zip!entry#N`, `-#N` for standard input.
    pub source: String,
    pub frame: crate::hl7::Frame,
    /// The message's size and hash ([`run::frame_identity`]). With one worker the reading
    /// thread hashes, while the bytes are fresh in its cache, and the worker keeps its time for
    /// converting; with several, the reading thread would be the one stage that does not
    /// scale, so it leaves the hash to the workers (`None`).
    pub size: u64,
    pub hash: Option<MessageHash>,
}

/// What the pipeline keeps of a converted message (its bytes are gone once staged).
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: u64,
    pub source: String,
    pub framing: Framing,
    /// Size of the message in bytes (the whole size for one too large to keep).
    pub size: u64,
    pub hash: MessageHash,
    /// The MSH as an ACK needs it, read from the first segment even when the rest is broken.
    pub header: Option<AckHeader>,
    /// The frame is not an HL7 message at all (no MSH, or an MLLP block cut by the end of input).
    pub undecodable: bool,
    pub conversion: Conversion,
}

impl Record {
    /// MSH-10: from the conversion, else from the first segment when it is a sound MSH.
    pub fn control_id(&self) -> Option<&str> {
        self.conversion.control_id().or_else(|| {
            self.header
                .as_ref()
                .map(|h| h.control_id.as_str())
                .filter(|s| !s.is_empty())
        })
    }

    /// What the NAME is derived from: the conversion's key, else the control id.
    pub fn name_key(&self) -> Option<&str> {
        self.conversion
            .name_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
            .or_else(|| self.control_id())
    }
}

/// A message converted and staged, waiting for its turn to be committed.
#[derive(Debug)]
pub struct Done<S> {
    pub record: Record,
    pub staged: S,
}

/// Where outcomes go: the output folder, `check`'s printer, or a test's memory.
///
/// [`Sink::stage`] runs on the worker threads, in parallel and in any order: everything that can
/// be done before the message's turn (for the output folder: writing and fsyncing temporary
/// files). [`Sink::commit`] runs on one thread, for groups of consecutive messages in input
/// order, and returns once they are durable.
pub trait Sink: Sync {
    type Staged: Send;

    /// The hash that names messages here ([`crate::message_hash`]): the output folder's own.
    fn message_hash_algorithm(&self) -> Algorithm {
        Algorithm::NEW_FOLDERS
    }

    /// Readies a worker thread before its first message (the output folder opens its registry
    /// connection): called on each worker as the run starts, while the reader reads the first
    /// messages, so that the first conversions do not wait for it.
    fn warm(&self) {}

    /// Converts one message (its bytes' hash beside), on a worker thread. The output folder
    /// converts with its registry as memory ([`crate::convert::convert_recalling`]); others
    /// convert each message alone.
    fn convert(
        &self,
        raw: &[u8],
        defect: Option<FrameDefect>,
        _hash: &MessageHash,
        config: &crate::config::Config,
    ) -> Conversion {
        crate::convert::convert(raw, defect, config)
    }

    /// Stages the message's files; `raw` is given, not lent, so that a sink that keeps the
    /// bytes (the output folder, until the commit) need not copy them.
    fn stage(&self, record: &Record, raw: Vec<u8>) -> Result<Self::Staged, Error>;

    fn commit(&self, group: &mut [Done<Self::Staged>]) -> Result<(), Error>;
}

/// Why a run stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The output cannot be written (exit status 2).
    #[error("{0}")]
    Output(String),
    /// Standard output was closed by its reader: a normal end, quietly.
    #[error("standard output closed")]
    OutputClosed,
    /// A bug: something that must not happen did (exit status 2).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::registry::RegistryError> for Error {
    fn from(e: crate::registry::RegistryError) -> Error {
        Error::Output(e.to_string())
    }
}

impl Error {
    /// An I/O error on `what`, or [`Error::OutputClosed`] for a broken pipe.
    pub fn io(what: impl std::fmt::Display, e: std::io::Error) -> Error {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            Error::OutputClosed
        } else {
            Error::Output(format!("{what}: {e}"))
        }
    }
}

/// True for frames that are not an HL7 message at all (answered `AR`).
pub fn is_undecodable(defect: Option<FrameDefect>) -> bool {
    matches!(
        defect,
        Some(FrameDefect::NotHl7 | FrameDefect::UnterminatedMllp)
    )
}

/// Stream mode: no input, or only `-` (CONTRACT.md: standard input is processed as a stream).
pub fn is_stream(inputs: &[std::path::PathBuf]) -> bool {
    match inputs {
        [] => true,
        [only] => only.as_os_str() == "-",
        _ => false,
    }
}

/// Reads the run's inputs into `out`: standard input as a stream ([`stream`]), or files,
/// folders and archives ([`source`]). `out_dir` is skipped if a walk meets it. `acks`: an ACK is
/// owed for each message of a stream, so a plain message is ended by `stream.idle_flush_ms` of
/// silence too (see [`stream`]).
pub fn read_inputs(
    inputs: &[std::path::PathBuf],
    config: &crate::config::Config,
    out_dir: Option<&std::path::Path>,
    acks: bool,
    out: &mut dyn source::Emit,
) -> source::Produced {
    if !is_stream(inputs) {
        return source::Inputs::new(config, out_dir).read_all(inputs, out);
    }
    let idle = acks.then(|| std::time::Duration::from_millis(config.stream.idle_flush_ms));
    let max = source::max_message_bytes(config);
    match stream::read_stream(std::io::stdin(), "-", max, idle, out) {
        Ok(flow) => source::Produced {
            stopped: flow.is_break(),
            ..Default::default()
        },
        Err(e) => {
            tracing::error!("standard input: {e}");
            source::Produced {
                unreadable: 1,
                ..Default::default()
            }
        }
    }
}

/// SIGINT and SIGTERM set the returned flag: the run finishes the messages in hand and stops.
/// A second signal ends the process at once (exit status 2), in case stopping hangs.
pub fn stop_on_signals() -> std::io::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // The shutdown must be registered first: it fires only once the flag is already set.
        signal_hook::flag::register_conditional_shutdown(signal, 2, std::sync::Arc::clone(&flag))?;
        signal_hook::flag::register(signal, std::sync::Arc::clone(&flag))?;
    }
    Ok(flag)
}
