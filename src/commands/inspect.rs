//! `dmpfeed inspect`: the parsed message tree, readable by a person or, with `--json`, as JSON
//! Lines exactly as CONTRACT.md describes (`{"source", "charset", "segments"}`, each field a list
//! of repetitions → components → subcomponents, decoded strings).

use super::{Fatal, Status, load_config};
use crate::cli::InspectArgs;
use crate::hl7::{self, Field, Frame, FrameDefect, Message};
use crate::pipeline::source::{Emit, Inputs};
use crate::reason::ReasonCode;
use serde::Serialize;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// Reads its inputs exactly as `check` and `convert` do ([`Inputs`]: files, folders walked,
/// archives, standard input read to its end, each cut by the streaming framer with
/// `limits.max_message_bytes`), so memory stays bounded whatever the input and an oversize
/// message is reported `MESSAGE_TOO_LARGE` rather than held in memory.
pub fn run(args: &InspectArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    let config = load_config(args.config.as_deref())?;
    let inputs = if args.inputs.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.inputs.clone()
    };
    let mut printer = Printer {
        out,
        json: args.json,
        rejected: false,
        failed: None,
    };
    let produced = Inputs::new(&config, None).read_all(&inputs, &mut printer);
    if let Some(e) = printer.failed {
        return Err(e.into());
    }
    Ok(if produced.unreadable > 0 {
        Status::Failure
    } else if printer.rejected {
        Status::SomeRejected
    } else {
        Status::Ok
    })
}

/// Prints each frame as it is read.
struct Printer<'a> {
    out: &'a mut dyn Write,
    json: bool,
    /// Some frame could not be read as a message.
    rejected: bool,
    /// Standard output failed (a closed pipe): reading stops.
    failed: Option<std::io::Error>,
}

impl Emit for Printer<'_> {
    fn emit(&mut self, source: String, frame: Frame) -> ControlFlow<()> {
        let written = match self.message(&source, &frame) {
            Ok(written) => written,
            Err(reason) => {
                self.rejected = true;
                if self.json {
                    let line = serde_json::json!({ "source": source, "error": reason });
                    writeln!(self.out, "{line}")
                } else {
                    writeln!(self.out, "{source}: cannot be read: {reason}\n")
                }
            }
        };
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.failed = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn stopping(&self) -> bool {
        self.failed.is_some()
    }
}

impl Printer<'_> {
    /// Prints one message; `Err` is why it cannot be read (its reason code first, then where and
    /// what, in the words of `convert`'s details), `Ok(Err)` a failed write.
    fn message(&mut self, source: &str, frame: &Frame) -> Result<std::io::Result<()>, String> {
        if let Some(defect) = frame.defect {
            return Err(defect_text(defect, frame));
        }
        let at = |e: hl7::Hl7Error| {
            let code = e.code();
            let e = e.with_message_index(frame.index);
            format!(
                "{code}: {e} (the message starts at byte {} of the input)",
                frame.offset
            )
        };
        let decoded = hl7::decode(&frame.bytes).map_err(at)?;
        let assumed = decoded.assumed;
        if assumed {
            // The same warning as `check`/`convert` (README "Reason codes"); JSON keys are fixed
            // by CONTRACT.md, so JSON output says it on standard error only.
            tracing::warn!(
                "{source}: {}: no MSH-18 and the bytes are not UTF-8: read as ISO 8859-1",
                ReasonCode::CharsetAssumed
            );
        }
        let msg = decoded.parse().map_err(at)?;
        Ok(if self.json {
            write_json(self.out, source, &msg)
        } else {
            write_tree(self.out, source, &msg, assumed)
        })
    }
}

/// `HL7_SYNTAX: 397 bytes that are not an HL7 message (no MSH segment), at byte 120 of the input`.
fn defect_text(defect: FrameDefect, frame: &Frame) -> String {
    let code = match defect {
        FrameDefect::TooLarge { .. } => ReasonCode::MessageTooLarge,
        FrameDefect::NotHl7 | FrameDefect::UnterminatedMllp => ReasonCode::Hl7Syntax,
    };
    let what = defect.describe(frame.bytes.len());
    format!("{code}: {what}, at byte {} of the input", frame.offset)
}

#[derive(Serialize)]
struct JsonMessage<'a> {
    source: &'a str,
    charset: &'static str,
    segments: Vec<Vec<serde_json::Value>>,
}

/// One field as `[[[subcomponent, …], …], …]`: repetitions → components → subcomponents.
pub fn field_json(field: &Field<'_>) -> serde_json::Value {
    let reps: Vec<Vec<Vec<String>>> = field
        .repetitions()
        .map(|r| {
            r.components()
                .map(|c| c.subcomponents().map(|s| s.value().into_owned()).collect())
                .collect()
        })
        .collect();
    serde_json::json!(reps)
}

/// Writes one message as the JSON Lines object CONTRACT.md describes (also driven by the `reader`
/// fuzz target).
pub fn write_json(out: &mut dyn Write, source: &str, msg: &Message<'_>) -> std::io::Result<()> {
    let segments = msg
        .segments()
        .map(|seg| {
            std::iter::once(serde_json::Value::from(seg.id()))
                .chain(seg.fields().map(|f| field_json(&f)))
                .collect()
        })
        .collect();
    let line = JsonMessage {
        source,
        charset: msg.charset().hl7_name(),
        segments,
    };
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)
}

/// Longest value printed whole; longer ones are shortened with their size.
const SHOWN: usize = 72;

fn write_tree(
    out: &mut dyn Write,
    source: &str,
    msg: &Message<'_>,
    assumed: bool,
) -> std::io::Result<()> {
    let assumed = if assumed {
        ", assumed: no MSH-18 and not UTF-8"
    } else {
        ""
    };
    writeln!(
        out,
        "{source}  ({}{assumed}, {} segments)",
        msg.charset().hl7_name(),
        msg.len()
    )?;
    for seg in msg.segments() {
        writeln!(out, "{}", seg.id())?;
        for (i, field) in seg.fields().enumerate() {
            let n = i + 1;
            let reps: Vec<_> = field.repetitions().collect();
            for (r, rep) in reps.iter().enumerate() {
                let label = if reps.len() > 1 {
                    format!("{}-{n}({})", seg.id(), r + 1)
                } else {
                    format!("{}-{n}", seg.id())
                };
                writeln!(out, "  {label:<12} {}", shown(&rep.value()))?;
                let comps: Vec<_> = rep.components().collect();
                if comps.len() > 1 {
                    for (c, comp) in comps.iter().enumerate() {
                        if comp.is_empty() {
                            continue;
                        }
                        writeln!(out, "  {:<12}   .{} {}", "", c + 1, shown(&comp.value()))?;
                        let subs: Vec<_> = comp.subcomponents().collect();
                        if subs.len() > 1 {
                            for (s, sub) in subs.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
                                writeln!(
                                    out,
                                    "  {:<12}     .{}.{} {}",
                                    "",
                                    c + 1,
                                    s + 1,
                                    shown(&sub.value())
                                )?;
                            }
                        }
                    }
                }
            }
        }
    }
    writeln!(out)
}

/// A value on one line: control characters made visible, long values shortened.
fn shown(value: &str) -> String {
    let mut s: String = value
        .chars()
        .take(SHOWN)
        .map(|c| match c {
            '\n' => '⏎',
            '\r' => '␍',
            c if c.is_control() => '�',
            c => c,
        })
        .collect();
    let chars = value.chars().count();
    if chars > SHOWN {
        s.push_str(&format!("… ({} bytes)", value.len()));
    }
    s
}
