//! `dmpfeed check`: the verdict for each message with every reason, its code and its HL7 path;
//! writes nothing (CONTRACT.md "Commands"). The identity-vigilance clerk's tool: a held message
//! lists all its reasons at once, so the identity is fixed in one go.
//!
//! The same inputs, reader and conversion as `convert` ([`crate::pipeline`]), in input order.
//! Text for a person (one block per message), or `--json`: one object per message (JSON Lines)
//! `{"source", "control_id", "message_type", "outcome", "codes", "warnings", "findings": [{"code",
//! "path", "detail"}]}`. Exit status as for `convert`: 1 when a message would be rejected.

use super::convert::jobs;
use super::{Fatal, Status, load_config};
use crate::cli::CheckArgs;
use crate::pipeline::run::{self, Settings, Workers};
use crate::pipeline::{self, Done, Error, Record, Sink};
use crate::reason::{Finding, Outcome, ReasonCode};
use serde::Serialize;
use std::io::Write;

/// Writes nothing: `check` only looks.
struct Nothing;

impl Sink for Nothing {
    type Staged = ();

    fn stage(&self, _: &Record, _: Vec<u8>) -> Result<(), Error> {
        Ok(())
    }

    fn commit(&self, _: &mut [Done<()>]) -> Result<(), Error> {
        Ok(())
    }
}

#[derive(Serialize)]
struct Verdict<'a> {
    source: &'a str,
    control_id: Option<&'a str>,
    message_type: Option<&'a str>,
    outcome: Outcome,
    codes: Vec<ReasonCode>,
    warnings: Vec<ReasonCode>,
    findings: &'a [Finding],
}

impl<'a> Verdict<'a> {
    fn new(r: &'a Record) -> Self {
        let c = &r.conversion;
        Verdict {
            source: &r.source,
            control_id: r.control_id(),
            message_type: c
                .header
                .as_ref()
                .map(|h| h.message_type.as_str())
                .filter(|t| !t.is_empty()),
            outcome: c.outcome,
            codes: c.codes(),
            warnings: c.warnings(),
            findings: &c.findings,
        }
    }
}

pub fn run(args: &CheckArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    let config = load_config(args.config.as_deref())?;
    let interrupt = pipeline::stop_on_signals()?;
    let stream = pipeline::is_stream(&args.inputs);
    let settings = Settings {
        jobs: jobs(None)?,
        workers: if stream {
            Workers::Threads
        } else {
            Workers::Rayon
        },
    };
    let end = run::run(
        &config,
        settings,
        &Nothing,
        &interrupt,
        |dispatch| {
            let mut emit: &run::Dispatch<'_> = dispatch;
            let produced = pipeline::read_inputs(&args.inputs, &config, None, false, &mut emit);
            (produced, dispatch.interrupted())
        },
        |done| {
            let verdict = Verdict::new(&done.record);
            let written = if args.json {
                serde_json::to_writer(&mut *out, &verdict)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(out))
            } else {
                write_text(out, &verdict)
            };
            // A person or a tool may be waiting for each verdict of a stream.
            let written = written.and_then(|()| if stream { out.flush() } else { Ok(()) });
            written.map_err(|e| Error::io("standard output", e))
        },
    );
    let (produced, interrupted) = end.produced.unwrap_or_default();
    match &end.error {
        None | Some(Error::OutputClosed) => {}
        Some(e) => {
            tracing::error!("{e}");
            return Ok(Status::Failure);
        }
    }
    // A closed output (`check DIR | head`) is a normal end; a signal in bulk mode left inputs
    // unread.
    Ok(if produced.unreadable > 0 || (interrupted && !stream) {
        Status::Failure
    } else if end.tally.count(Outcome::Rejected) > 0 {
        Status::SomeRejected
    } else {
        Status::Ok
    })
}

/// One block per message:
///
/// ```text
/// samples/held-no-ins.hl7#1  MDM^T02^MDM_T02  control id SMPL0015
///   held: INS_MISSING, IDENTITY_NOT_QUALIFIED
///   INS_MISSING at PID-3: …
///   IDENTITY_NOT_QUALIFIED at PID-32: …
///   warning NIR_BIRTHPLACE_MISMATCH at PID-11(2).9: …
/// ```
fn write_text(out: &mut dyn Write, v: &Verdict<'_>) -> std::io::Result<()> {
    write!(out, "{}", v.source)?;
    if let Some(t) = v.message_type {
        write!(out, "  {t}")?;
    }
    match v.control_id {
        Some(id) => writeln!(out, "  control id {id}")?,
        None => writeln!(out, "  no control id")?,
    }
    let codes: Vec<&str> = v.codes.iter().map(|c| c.as_str()).collect();
    if codes.is_empty() {
        writeln!(out, "  {}", v.outcome)?;
    } else {
        writeln!(out, "  {}: {}", v.outcome, codes.join(", "))?;
    }
    for f in v.findings.iter().filter(|f| !f.is_warning()) {
        writeln!(out, "  {f}")?;
    }
    for f in v.findings.iter().filter(|f| f.is_warning()) {
        writeln!(out, "  warning {f}")?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::Conversion;
    use crate::hl7::Framing;

    #[test]
    fn text_block_lists_every_reason_with_its_path() {
        let mut c = Conversion::rejected(
            None,
            Finding::new(ReasonCode::InsMissing, "PID-3", "no INS in PID-3"),
        );
        c.outcome = Outcome::Held;
        c.findings.push(Finding::new(
            ReasonCode::IdentityNotQualified,
            "PID-32",
            "status PROV",
        ));
        c.findings.push(Finding::new(
            ReasonCode::NirBirthplaceMismatch,
            "PID-11(2).9",
            "35238 vs 29019",
        ));
        let r = Record {
            seq: 0,
            source: "in.hl7#1".into(),
            framing: Framing::Plain,
            size: 1,
            hash: crate::message_hash::Algorithm::NEW_FOLDERS.hash(b"x"),
            header: None,
            undecodable: false,
            conversion: c,
        };
        let mut out = Vec::new();
        write_text(&mut out, &Verdict::new(&r)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "in.hl7#1  no control id\n  held: INS_MISSING, IDENTITY_NOT_QUALIFIED\n  \
             INS_MISSING at PID-3: no INS in PID-3\n  IDENTITY_NOT_QUALIFIED at PID-32: status PROV\n  \
             warning NIR_BIRTHPLACE_MISMATCH at PID-11(2).9: 35238 vs 29019\n\n"
        );
    }
}
