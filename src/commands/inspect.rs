//! `dmpfeed inspect`: the parsed message tree, readable by a person or, with `--json`, as JSON
//! Lines exactly as CONTRACT.md describes (`{"source", "charset", "segments"}`, each field a list
//! of repetitions → components → subcomponents, decoded strings).

use super::{Fatal, Status};
use crate::cli::InspectArgs;
use crate::hl7::{self, Field, Message, framing};
use serde::Serialize;
use std::io::{Read, Write};

pub fn run(args: &InspectArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    let (source, bytes) = match args.file.as_deref() {
        None => ("-".to_owned(), read_stdin()?),
        Some(p) if p.as_os_str() == "-" => ("-".to_owned(), read_stdin()?),
        Some(p) => (
            p.display().to_string(),
            std::fs::read(p).map_err(|e| Fatal(format!("{}: {e}", p.display())))?,
        ),
    };
    let mut status = Status::Ok;
    for (i, frame) in framing::frames(&bytes).enumerate() {
        let source = format!("{source}#{}", i + 1);
        let result = match frame.defect {
            Some(d) => Err(format!("not a message: {d:?}")),
            None => hl7::decode(frame.bytes)
                .map_err(|e| e.with_message_index(i + 1).to_string())
                .and_then(|decoded| {
                    let msg = decoded
                        .parse()
                        .map_err(|e| e.with_message_index(i + 1).to_string())?;
                    if args.json {
                        write_json(out, &source, &msg).map_err(|e| e.to_string())
                    } else {
                        write_tree(out, &source, &msg).map_err(|e| e.to_string())
                    }
                }),
        };
        if let Err(reason) = result {
            status = Status::SomeRejected;
            if args.json {
                let line = serde_json::json!({ "source": source, "error": reason });
                writeln!(out, "{line}")?;
            } else {
                writeln!(out, "{source}: cannot be read: {reason}\n")?;
            }
        }
    }
    Ok(status)
}

fn read_stdin() -> Result<Vec<u8>, Fatal> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(|e| Fatal(format!("standard input: {e}")))?;
    Ok(buf)
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

fn write_tree(out: &mut dyn Write, source: &str, msg: &Message<'_>) -> std::io::Result<()> {
    writeln!(
        out,
        "{source}  ({}, {} segments)",
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
