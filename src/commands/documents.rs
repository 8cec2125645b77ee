//! `dmpfeed documents [DIR] [--patient IPP_OR_INS | --document ID] [--json]`: what was sent for a
//! patient, or one document, and each document's history (T02 → T10 → T04), read from the output
//! folder's registry.
//!
//! Reads only: a read-only connection, which works while a `convert` writes into the same folder
//! (it sees the last commit). Text for a person; `--json` gives one object per document (JSON
//! Lines) for tools.

use super::{Fatal, Status};
use crate::cli::DocumentsArgs;
use crate::registry::{self, DocumentHistory, DocumentRow, RegistryRead, RegistryReader};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

pub fn run(args: &DocumentsArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    // DIR is the output folder; the registry file itself is accepted too.
    let path: PathBuf = if args.dir.is_file() {
        args.dir.clone()
    } else {
        registry::path_in(&args.dir)
    };
    let reader = RegistryReader::open(&path).map_err(|e| Fatal(e.to_string()))?;
    let time_zone = jiff::tz::TimeZone::system();
    let mut shown = 0usize;
    let mut show = |h: DocumentHistory| -> Result<(), Stop> {
        shown += 1;
        if args.json {
            write_json(out, &h)?;
        } else {
            write_text(out, &h, &time_zone)?;
        }
        Ok(())
    };
    match &args.document {
        Some(id) => reader.for_each_history_of_document(id, &mut show)?,
        None => reader.for_each_history(args.patient.as_deref(), &mut show)?,
    }
    if shown == 0 && !args.json {
        match (&args.patient, &args.document) {
            (Some(p), _) => writeln!(out, "No document recorded for patient {p}.")?,
            (_, Some(id)) => writeln!(out, "No document recorded with id {id}.")?,
            (None, None) => writeln!(out, "No document recorded.")?,
        }
    }
    Ok(Status::Ok)
}

/// Why the listing stopped: the registry, or standard output (a closed pipe).
enum Stop {
    Registry(registry::RegistryError),
    Output(std::io::Error),
}

impl From<registry::RegistryError> for Stop {
    fn from(e: registry::RegistryError) -> Self {
        Stop::Registry(e)
    }
}

impl From<std::io::Error> for Stop {
    fn from(e: std::io::Error) -> Self {
        Stop::Output(e)
    }
}

impl From<Stop> for Fatal {
    fn from(s: Stop) -> Self {
        match s {
            Stop::Registry(e) => Fatal(e.to_string()),
            Stop::Output(e) => e.into(),
        }
    }
}

/// Where a document stands as a whole.
fn chain_status(h: &DocumentHistory) -> &'static str {
    if h.current().is_some() {
        "current"
    } else if h.versions.is_empty()
        || h.latest()
            .is_some_and(|v| v.status == registry::DocumentStatus::Deleted)
    {
        "deleted"
    } else {
        "replaced"
    }
}

#[derive(Serialize)]
struct JsonDocument<'a> {
    /// `ClinicalDocument/setId`; null for the deletion of a document never converted here.
    set_id: Option<&'a str>,
    /// `current` (a version is in force), `deleted` or `replaced`.
    status: &'static str,
    ipp: Option<&'a str>,
    ins: Option<&'a str>,
    /// The version in force, if any.
    current: Option<&'a DocumentRow>,
    versions: &'a [DocumentRow],
    history: &'a [registry::DocumentEvent],
}

fn write_json(out: &mut dyn Write, h: &DocumentHistory) -> std::io::Result<()> {
    let latest = h.latest();
    let line = JsonDocument {
        set_id: h.set_id.as_deref(),
        status: chain_status(h),
        ipp: latest.and_then(|v| v.ipp.as_deref()),
        ins: latest.and_then(|v| v.ins.as_deref()),
        current: h.current(),
        versions: &h.versions,
        history: &h.events,
    };
    serde_json::to_writer(&mut *out, &line)?;
    writeln!(out)
}

fn write_text(
    out: &mut dyn Write,
    h: &DocumentHistory,
    tz: &jiff::tz::TimeZone,
) -> std::io::Result<()> {
    match (&h.set_id, h.latest()) {
        (Some(set_id), Some(latest)) => {
            write!(out, "Document {set_id}")?;
            if let Some(ipp) = &latest.ipp {
                write!(out, "  IPP {ipp}")?;
            }
            if let Some(ins) = &latest.ins {
                write!(out, "  INS {ins}")?;
            }
            match h.current() {
                Some(c) => writeln!(
                    out,
                    "  — current: version {} ({:#})",
                    c.version,
                    Ids(&c.source_id, c.sent_id.as_deref())
                )?,
                None => writeln!(out, "  — {}: no version in force", chain_status(h))?,
            }
        }
        _ => {
            let id = h
                .events
                .first()
                .map_or(Ids("?", None), |e| Ids(&e.source_id, e.sent_id.as_deref()));
            writeln!(
                out,
                "Deletion of {id}, a document never converted here (DELETED_DOCUMENT_UNKNOWN)"
            )?;
        }
    }
    for e in &h.events {
        let at =
            e.at.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M:%S%:z");
        let version = e.version.map(|v| format!("v{v}")).unwrap_or_default();
        writeln!(
            out,
            "  {at}  {:<11}  {version:<4} {}  {}  {}  (from {})",
            e.kind.as_str(),
            Ids(&e.source_id, e.sent_id.as_deref()),
            e.event,
            e.output_path.as_deref().unwrap_or("-"),
            e.source,
        )?;
    }
    writeln!(out)
}

/// A document's id, with the identifier it was resolved from as sent when that says more:
/// `1.2.250.1.999.1.2.99.1188… (sent as DOC-A)`; `{:#}`, inside parentheses already:
/// `1.2.250.1.999.1.2.99.1188…, sent as DOC-A`.
struct Ids<'a>(&'a str, Option<&'a str>);

impl std::fmt::Display for Ids<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(sent) if sent != self.0 && f.alternate() => {
                write!(f, "{}, sent as {sent}", self.0)
            }
            Some(sent) if sent != self.0 => write!(f, "{} (sent as {sent})", self.0),
            _ => f.write_str(self.0),
        }
    }
}
