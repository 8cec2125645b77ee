//! `dmpfeed held [DIR] [--json]`: the identity worklist — the messages held because their
//! patient's identity cannot be used for the DMP, by patient, for an identity-vigilance clerk;
//! `dmpfeed held release --ipp IPP | --ins INS [DIR]`: converts one patient's held messages again
//! (filed under the IPP, or carrying the INS), with the identity the registry holds (see
//! `docs/worklist.md`).
//!
//! The list only reads (a read-only connection: it works while a `convert` writes into the
//! folder). It shows the IPP, the reasons, how long the messages have waited, where they are,
//! and what the patient administration system (ADT) last said of the identity — never the
//! patient's traits nor the INS (messages naming the patient by INS only make an `INS only`
//! line): the clerk looks the IPP up in the patient administration system, where fixing the
//! identity belongs. A release writes into the folder like a `convert` (it takes
//! the folder's lock) and appends one report line per message released.

use super::{Fatal, Status, load_config};
use crate::cli::{HeldArgs, HeldCommand, ReleaseArgs};
use crate::config::Config;
use crate::hl7;
use crate::identity;
use crate::pipeline::output::OutputDir;
use crate::reason::Finding;
use crate::registry::{self, HeldEntry, RegistryRead, RegistryReader};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn run(args: &HeldArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    match &args.command {
        Some(HeldCommand::Release(r)) => release(r, out),
        None => list(args, out),
    }
}

/// What the registry holds of a patient's identity, judged with the current configuration.
#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum RecordedIdentity {
    /// No ADT message was received for the patient.
    None,
    /// The latest ADT identity cannot be used: why (codes and HL7 paths, no traits).
    NotQualified { findings: Vec<Finding> },
    /// The latest ADT identity is qualified.
    Qualified,
}

fn recorded_identity(
    reader: &impl RegistryRead,
    ipp: &str,
    config: &Config,
) -> Result<RecordedIdentity, Fatal> {
    let Some(p) = reader.patient(ipp).map_err(|e| Fatal(e.to_string()))? else {
        return Ok(RecordedIdentity::None);
    };
    let unreadable = |e: hl7::Hl7Error| RecordedIdentity::NotQualified {
        findings: vec![Finding::new(
            e.code(),
            e.path.clone().unwrap_or_default(),
            e.to_string(),
        )],
    };
    let decoded = match hl7::decode(&p.adt_message) {
        Ok(d) => d,
        Err(e) => return Ok(unreadable(e)),
    };
    let msg = match decoded.parse() {
        Ok(m) => m,
        Err(e) => return Ok(unreadable(e)),
    };
    let verdict = identity::assess(&msg, &config.identity);
    Ok(if verdict.is_usable() {
        RecordedIdentity::Qualified
    } else {
        RecordedIdentity::NotQualified {
            findings: verdict.blocking().cloned().collect(),
        }
    })
}

/// The registry of an output folder (the registry file itself is accepted too).
fn registry_path(dir: &Path) -> PathBuf {
    if dir.is_file() {
        dir.to_owned()
    } else {
        registry::path_in(dir)
    }
}

/// One line of the worklist: a patient by IPP; or by INS, for messages that name no IPP (the INS
/// itself is not shown); or the messages that name neither.
#[derive(Debug, Serialize)]
struct Line<'a> {
    ipp: Option<&'a str>,
    /// Messages naming the patient by INS only (no IPP): an ADT carrying that INS releases them.
    ins_only: bool,
    count: usize,
    /// Every reason of the patient's held messages, sorted.
    reasons: Vec<&'a str>,
    /// When the oldest message was held (RFC 3339).
    oldest: String,
    waiting_seconds: i64,
    /// What the patient administration system last said of the identity (`null` without IPP or
    /// INS; for an INS-only line, the one patient record carrying that INS, if any).
    identity: Option<RecordedIdentity>,
    held: Vec<HeldItem<'a>>,
}

#[derive(Debug, Serialize)]
struct HeldItem<'a> {
    /// The held line's `source` in `report.jsonl`.
    source: &'a str,
    document_id: Option<&'a str>,
    /// `held/NAME.hl7` (beside it `held/NAME.json` says why, with HL7 paths).
    path: &'a str,
    reasons: &'a [String],
    held_at: String,
}

fn list(args: &HeldArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    let config = load_config(args.config.as_deref())?;
    let reader =
        RegistryReader::open(&registry_path(&args.dir)).map_err(|e| Fatal(e.to_string()))?;
    let waiting = reader.held_waiting().map_err(|e| Fatal(e.to_string()))?;
    // Grouped by IPP, else by INS, in order of the oldest message; those by INS only next, those
    // naming neither last.
    let mut groups: Vec<(Group<'_>, Vec<&HeldEntry>)> = Vec::new();
    for e in &waiting {
        let group = match (e.ipp.as_deref(), e.ins.as_deref()) {
            (Some(ipp), _) => Group::Ipp(ipp),
            (None, Some(ins)) => Group::Ins(ins),
            (None, None) => Group::Neither,
        };
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, entries)) => entries.push(e),
            None => groups.push((group, vec![e])),
        }
    }
    groups.sort_by_key(|(g, _)| match g {
        Group::Ipp(_) => 0,
        Group::Ins(_) => 1,
        Group::Neither => 2,
    });
    let now = jiff::Timestamp::now();
    let tz = jiff::tz::TimeZone::system();
    if !args.json {
        let patients = groups.iter().filter(|(g, _)| *g != Group::Neither).count();
        writeln!(
            out,
            "Identity worklist: {} held message(s), {patients} patient(s)",
            waiting.len()
        )?;
    }
    for (group, entries) in &groups {
        let mut reasons: Vec<&str> = entries
            .iter()
            .flat_map(|e| e.reasons.iter().map(String::as_str))
            .collect();
        reasons.sort_unstable();
        reasons.dedup();
        let oldest = entries.iter().map(|e| e.held_at).min().unwrap_or(now);
        let identity = match group {
            Group::Ipp(ipp) => Some(recorded_identity(&reader, ipp, &config)?),
            Group::Ins(ins) => match reader
                .patient_by_ins(ins)
                .map_err(|e| Fatal(e.to_string()))?
            {
                Some(p) => Some(recorded_identity(&reader, &p.ipp, &config)?),
                None => Some(RecordedIdentity::None),
            },
            Group::Neither => None,
        };
        let line = Line {
            ipp: match group {
                Group::Ipp(ipp) => Some(ipp),
                _ => None,
            },
            ins_only: matches!(group, Group::Ins(_)),
            count: entries.len(),
            reasons,
            oldest: oldest.to_string(),
            waiting_seconds: now.duration_since(oldest).as_secs(),
            identity,
            held: entries
                .iter()
                .map(|e| HeldItem {
                    source: &e.source,
                    document_id: e.document_id.as_deref(),
                    path: &e.path,
                    reasons: &e.reasons,
                    held_at: e.held_at.to_string(),
                })
                .collect(),
        };
        if args.json {
            serde_json::to_writer(&mut *out, &line).map_err(|e| Fatal(e.to_string()))?;
            writeln!(out)?;
        } else {
            write_text(out, &line, &args.dir, &tz)?;
        }
    }
    Ok(Status::Ok)
}

fn write_text(
    out: &mut dyn Write,
    line: &Line<'_>,
    dir: &Path,
    tz: &jiff::tz::TimeZone,
) -> std::io::Result<()> {
    writeln!(out)?;
    let who = match (line.ipp, line.ins_only) {
        (Some(ipp), _) => format!("IPP {ipp}"),
        (None, true) => "INS only (no IPP)".to_owned(),
        (None, false) => "No IPP".to_owned(),
    };
    writeln!(
        out,
        "{who} — {} held, waiting {} — {}",
        line.count,
        age(line.waiting_seconds),
        line.reasons.join(", ")
    )?;
    let advice = match (&line.identity, line.ipp) {
        (None, _) => "these messages name no IPP (PID-3 typed PI) and no INS: fix them in the DPI \
                      and send them again"
            .to_owned(),
        (Some(RecordedIdentity::None), None) => "these messages name the patient by INS only: \
            the next ADT message carrying that INS with a qualified identity releases them (look \
            the patient up in the patient administration system by the INS in held/NAME.hl7)"
            .to_owned(),
        (Some(RecordedIdentity::None), _) => "no identity received from the patient \
            administration system (ADT) yet: once the identity is qualified there (INS from the \
            INSi service, PID-32 QUAL), its next ADT message releases these documents"
            .to_owned(),
        (Some(RecordedIdentity::NotQualified { findings }), _) => {
            let why: Vec<String> = findings
                .iter()
                .map(|f| format!("{} at {}", f.code, f.path))
                .collect();
            format!(
                "the latest ADT identity is not qualified ({}): fix it in the patient \
                 administration system; its next ADT message releases these documents",
                why.join(", ")
            )
        }
        (Some(RecordedIdentity::Qualified), Some(ipp)) => format!(
            "the latest ADT identity is qualified: `dmpfeed held release --ipp {ipp} {}` \
             converts these documents again and says what still stops them",
            dir.display()
        ),
        (Some(RecordedIdentity::Qualified), None) => format!(
            "the latest ADT identity with that INS is qualified: `dmpfeed held release --ins INS \
             {}` converts these documents again and says what still stops them",
            dir.display()
        ),
    };
    writeln!(out, "  {advice}")?;
    for h in &line.held {
        let at = h
            .held_at
            .parse::<jiff::Timestamp>()
            .map(|t| {
                t.to_zoned_datetime(tz.clone())
                    .strftime("%Y-%m-%d %H:%M")
                    .to_string()
            })
            .unwrap_or_else(|_| h.held_at.clone());
        writeln!(
            out,
            "  {}  held {at}  (from {})  {}",
            h.path,
            h.source,
            h.reasons.join(", ")
        )?;
    }
    Ok(())
}

/// A worklist line's patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group<'a> {
    Ipp(&'a str),
    /// No IPP; never printed.
    Ins(&'a str),
    Neither,
}

/// A waiting time for a person: the two largest units.
fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    }
}

fn release(args: &ReleaseArgs, out: &mut dyn Write) -> Result<Status, Fatal> {
    let config = load_config(args.config.as_deref())?;
    let (ipp, ins) = (given(&args.ipp), given(&args.ins));
    // What the output names the patient by: the IPP, never the INS (it is health data; the
    // clerk typed it).
    let who = match (ipp, ins) {
        (Some(ipp), _) => format!("IPP {ipp}"),
        (None, Some(_)) => "the INS given".to_owned(),
        (None, None) => return Err(Fatal("--ipp or --ins: a patient is required".into())),
    };
    let path = registry::path_in(&args.dir);
    if !path.is_file() {
        return Err(Fatal(format!(
            "{}: no registry (no `dmpfeed convert --out` into this folder yet)",
            path.display()
        )));
    }
    let emit = crate::convert::Emit::from_names(&args.emit).map_err(|e| Fatal(e.to_string()))?;
    let output = OutputDir::open(&args.dir, &config)
        .map_err(|e| Fatal(e.to_string()))?
        .with_emit(emit);
    let report = output
        .release_patient(ipp, ins)
        .map_err(|e| Fatal(e.to_string()))?;
    drop(output);
    if report.released.is_empty() && report.still_held.is_empty() {
        // A typo must not read as a patient with nothing left to do.
        writeln!(out, "no held message for {who} (not on the worklist)")?;
        return Ok(Status::SomeRejected);
    }
    let who = match &report.ipp {
        Some(canonical) => format!("IPP {canonical}"),
        None => who,
    };
    writeln!(
        out,
        "{who}: {} released, {} still held",
        report.released.len(),
        report.still_held.len()
    )?;
    for (from, outcome) in &report.released {
        writeln!(out, "  {from} → {outcome}")?;
    }
    if !report.still_held.is_empty() {
        let reader = RegistryReader::open(&path).map_err(|e| Fatal(e.to_string()))?;
        let recorded = match (&report.ipp, ins) {
            (Some(ipp), _) => Some(recorded_identity(&reader, ipp, &config)?),
            (None, Some(ins)) => match reader
                .patient_by_ins(ins)
                .map_err(|e| Fatal(e.to_string()))?
            {
                Some(p) => Some(recorded_identity(&reader, &p.ipp, &config)?),
                None => None,
            },
            (None, None) => None,
        };
        match recorded {
            Some(RecordedIdentity::None) => writeln!(
                out,
                "  no identity was received from the patient administration system (ADT) for \
                 this patient"
            )?,
            None => writeln!(
                out,
                "  no identity was received from the patient administration system (ADT) with \
                 this INS (or several patient records carry it)"
            )?,
            Some(RecordedIdentity::NotQualified { findings }) => {
                writeln!(out, "  the latest ADT identity is not qualified:")?;
                for f in findings {
                    writeln!(out, "    {f}")?;
                }
            }
            Some(RecordedIdentity::Qualified) => writeln!(
                out,
                "  the latest ADT identity is qualified, but these messages are held for \
                 another reason:"
            )?,
        }
        for (from, codes) in &report.still_held {
            let codes: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
            writeln!(out, "  still held: {from}: {}", codes.join(", "))?;
        }
    }
    Ok(Status::Ok)
}

/// An option's value, trimmed, when not empty.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}
