//! `dmpfeed convert`: messages → the output folder (CONTRACT.md "Commands", "Output folder",
//! "Exit status", "ACKs"), or one message → its CDA on standard output (`--stdout`).
//!
//! Standard input alone is a stream (worker threads, each message committed and ACKed as soon
//! as it is complete); files, folders and archives are a bulk run (a rayon pool, a progress bar
//! on a terminal). Both commit in input order; see [`crate::pipeline`].

use super::{Fatal, Status, load_config};
use crate::cli::ConvertArgs;
use crate::config::Config;
use crate::convert::convert;
use crate::hl7::Frame;
use crate::pipeline::ack::{self, AckIds, AckInput};
use crate::pipeline::output::OutputDir;
use crate::pipeline::report::Summary;
use crate::pipeline::run::{self, Settings, Workers};
use crate::pipeline::source::{Emit, frame_reader, max_message_bytes};
use crate::pipeline::{self, Error};
use crate::reason::Outcome;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::time::Instant;

pub fn run(args: &ConvertArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    let jobs = jobs(args.jobs)?;
    let emit = crate::convert::Emit::from_names(&args.emit).map_err(|e| Fatal(e.to_string()))?;
    let config = load_config(args.config.as_deref())?;
    if args.stdout {
        if !args.inputs.iter().all(|i| i.as_os_str() == "-") {
            return Err(Fatal(
                "--stdout converts the one message on standard input; give no INPUT".into(),
            ));
        }
        return to_stdout(&config, out);
    }
    let Some(dir) = args.out.as_deref() else {
        return Err(Fatal("--out DIR is required (or --stdout)".into()));
    };
    let started = Instant::now();
    let output = OutputDir::open(dir, &config)
        .map_err(|e| Fatal(e.to_string()))?
        .with_emit(emit);
    let interrupt = pipeline::stop_on_signals()?;
    let stream = pipeline::is_stream(&args.inputs);
    if stream && std::io::stdin().is_terminal() {
        tracing::info!("reading messages from standard input (end with Ctrl-D)");
    }
    let bar = (!stream && !args.quiet && std::io::stderr().is_terminal()).then(progress_bar);
    let settings = Settings {
        jobs,
        workers: if stream {
            Workers::Threads
        } else {
            Workers::Rayon
        },
    };
    let ack_ids = AckIds::starting_now();
    let tz = ack::ack_time_zone(&config.document.time_zone);
    let end = run::run(
        &config,
        settings,
        &output,
        &interrupt,
        |dispatch| {
            let mut emit: &run::Dispatch<'_> = dispatch;
            let produced =
                pipeline::read_inputs(&args.inputs, &config, Some(dir), args.ack, &mut emit);
            (produced, dispatch.interrupted())
        },
        |done| {
            if let Some(bar) = &bar {
                bar.inc(1);
            }
            if !args.ack {
                return Ok(());
            }
            let r = &done.record;
            let bytes = ack::build(&AckInput {
                header: r.header.as_ref(),
                control_id: r.control_id(),
                outcome: r.conversion.outcome,
                undecodable: r.undecodable,
                findings: &r.conversion.findings,
                ack_id: &ack_ids.id(r.seq + 1),
                time: &ack::now_hl7(&tz),
                framing: r.framing,
            });
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Error::io("standard output", e))
        },
    );
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let (produced, interrupted) = end.produced.unwrap_or_default();
    let closed = matches!(end.error, Some(Error::OutputClosed));
    let failed = end
        .error
        .as_ref()
        .filter(|e| !matches!(e, Error::OutputClosed));
    if let Some(e) = failed {
        tracing::error!("{e}");
    }
    if interrupted {
        tracing::warn!("interrupted: stopped after the messages in hand");
    }
    let mut summary = Summary::new(
        &end.tally,
        started.elapsed(),
        output.already_recorded(),
        output.released(),
        produced.unreadable,
        interrupted || closed || failed.is_some(),
    );
    summary.skipped_files = produced.skipped;
    let summary_written = output.write_summary(&summary.to_bytes());
    if let Err(e) = &summary_written {
        tracing::error!("{e}");
    }
    if !args.quiet {
        eprint!("{}", summary.text());
    }
    Ok(
        if failed.is_some()
            || summary_written.is_err()
            || produced.unreadable > 0
            || (interrupted && !stream)
        {
            Status::Failure
        } else if end.tally.count(Outcome::Rejected) > 0 {
            Status::SomeRejected
        } else {
            Status::Ok
        },
    )
}

/// `--jobs`: at least 1; all cores by default.
pub(crate) fn jobs(asked: Option<usize>) -> Result<usize, Fatal> {
    match asked {
        Some(0) => Err(Fatal("--jobs: must be at least 1".into())),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos} messages ({rate}/s, {elapsed})")
            .map(|style| style.with_key("rate", rate))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// Messages per second as a whole number (`4,315/s`; indicatif's `{per_sec}` shows
/// `4,315.1017/s`).
fn rate(state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = write!(w, "{}", indicatif::HumanCount(state.per_sec() as u64));
}

/// Keeps the first two frames: enough to tell one message from several.
struct FirstTwo(Vec<(String, Frame)>);

impl Emit for FirstTwo {
    fn emit(&mut self, source: String, frame: Frame) -> ControlFlow<()> {
        self.0.push((source, frame));
        if self.0.len() >= 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn stopping(&self) -> bool {
        false
    }
}

/// `convert --stdout`: the one message on standard input → its CDA on standard output. Anything
/// but `converted` writes nothing there and says why on standard error (exit status 1 when
/// rejected, as everywhere).
fn to_stdout(config: &Config, out: &mut dyn Write) -> Result<Status, Fatal> {
    let mut frames = FirstTwo(Vec::new());
    let stdin = std::io::stdin();
    // A `Break` only means a second message was seen: reading stops there.
    let _ = frame_reader(
        &mut stdin.lock(),
        "-",
        max_message_bytes(config),
        &mut frames,
    )
    .map_err(|e| Fatal(format!("standard input: {e}")))?;
    let (source, frame) = match frames.0.len() {
        0 => return Err(Fatal("standard input holds no message".into())),
        1 => frames.0.remove(0),
        _ => {
            return Err(Fatal(
                "--stdout converts one message, and standard input holds several (use --out DIR)"
                    .into(),
            ));
        }
    };
    let c = convert(&frame.bytes, frame.defect, config);
    tracing::debug!(source, outcome = %c.outcome, codes = ?c.codes(), "message converted");
    if let (Outcome::Converted, Some(doc)) = (c.outcome, &c.document) {
        out.write_all(&doc.cda)?;
        for f in c.findings.iter() {
            eprintln!("dmpfeed: {source}: warning {f}");
        }
        return Ok(Status::Ok);
    }
    let codes: Vec<&str> = c.codes().iter().map(|c| c.as_str()).collect();
    eprintln!("dmpfeed: {source}: {} ({})", c.outcome, codes.join(", "));
    for f in &c.findings {
        eprintln!("  {f}");
    }
    Ok(if c.outcome == Outcome::Rejected {
        Status::SomeRejected
    } else {
        Status::Ok
    })
}
