//! What is written about each message: the `report.jsonl` line, the `.json` file beside a held,
//! excluded, deleted or rejected message, and the run's summary (CONTRACT.md "Output folder").
//!
//! The report line carries the contract's fields (`source`, `control_id`, `outcome`, `codes`,
//! `detail`, `warnings`, and for `converted` `document` + `metadata`) and, beyond the contract:
//! `name` (the NAME of its files), `files` (every file written, relative to the folder), `blake3`
//! (`sha1` in a folder begun before BLAKE3: [`crate::message_hash`]) — the hash of the message
//! bytes, what makes two messages "the same" —, `deleted_document` (for `deleted`) and
//! `time` (when the line was committed, RFC 3339 UTC). A message that had been held and now has
//! another result carries `released_from`: the held line's `source` (CONTRACT.md).

use super::Record;
use crate::convert::DocumentMetadata;
use crate::message_hash::MessageHash;
use crate::reason::{Finding, Outcome, ReasonCode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One line of `report.jsonl`.
#[derive(Debug, Serialize)]
pub struct ReportLine<'a> {
    pub source: &'a str,
    pub control_id: Option<&'a str>,
    pub outcome: Outcome,
    pub codes: Vec<ReasonCode>,
    /// Every finding, blocking or not, as `CODE at PATH: detail`.
    pub detail: Vec<String>,
    pub warnings: Vec<ReasonCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<&'a DocumentMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_document: Option<&'a str>,
    /// For a held message converted (or excluded, rejected) later: the held line's `source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released_from: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub files: &'a [String],
    /// `"blake3": "…"` (or `"sha1"`): the key names the algorithm.
    #[serde(flatten)]
    pub hash: MessageHash,
    pub time: String,
}

impl<'a> ReportLine<'a> {
    pub fn new(record: &'a Record, name: Option<&'a str>, files: &'a [String]) -> Self {
        let c = &record.conversion;
        ReportLine {
            source: &record.source,
            control_id: record.control_id(),
            outcome: c.outcome,
            codes: c.codes(),
            detail: c.findings.iter().map(Finding::to_string).collect(),
            warnings: c.warnings(),
            document: match c.outcome {
                Outcome::Converted => files.first().cloned(),
                _ => None,
            },
            metadata: c.document.as_ref().map(|d| &d.metadata),
            deleted_document: c.deletion.as_ref().map(|d| d.document_id.as_str()),
            released_from: c.facts.released_from.as_deref(),
            name,
            files,
            hash: record.hash,
            time: jiff::Timestamp::now().to_string(),
        }
    }
}

/// The fields of a report line that do not say *what* the result was: where the message came
/// from this time, and when. Two lines equal without them record the same result.
const CIRCUMSTANTIAL: [&str; 2] = ["source", "time"];

/// A digest of a report line without its circumstantial fields (`source`, `time`); keys
/// are sorted by `serde_json`'s map, so the digest does not depend on field order.
pub fn fingerprint(line: &serde_json::Value) -> u64 {
    use sha1::{Digest, Sha1};
    let mut v = line.clone();
    if let Some(map) = v.as_object_mut() {
        for key in CIRCUMSTANTIAL {
            map.remove(key);
        }
    }
    let digest = Sha1::digest(v.to_string().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The `.json` file beside a held, excluded, rejected or deleted message: why, with every
/// finding and its HL7 path, for the person who will fix the source.
#[derive(Debug, Serialize)]
pub struct Sidecar<'a> {
    pub source: &'a str,
    pub control_id: Option<&'a str>,
    pub message_type: Option<&'a str>,
    pub outcome: Outcome,
    pub codes: Vec<ReasonCode>,
    pub warnings: Vec<ReasonCode>,
    pub findings: &'a [Finding],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_document: Option<&'a str>,
    /// Size of the message; the `.hl7` beside holds only its first bytes when it was too large.
    pub bytes: u64,
    /// As on the report line.
    #[serde(flatten)]
    pub hash: MessageHash,
    /// Set when the `.hl7` beside is not the whole message (`MESSAGE_TOO_LARGE`: only its first
    /// `kept_bytes` bytes were kept, so that memory stays bounded; docs/security.md "Limits").
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub original_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_bytes: Option<u64>,
}

impl<'a> Sidecar<'a> {
    pub fn new(record: &'a Record) -> Self {
        let c = &record.conversion;
        Sidecar {
            source: &record.source,
            control_id: record.control_id(),
            message_type: c
                .header
                .as_ref()
                .map(|h| h.message_type.as_str())
                .filter(|t| !t.is_empty()),
            outcome: c.outcome,
            codes: c.codes(),
            warnings: c.warnings(),
            findings: &c.findings,
            deleted_document: c.deletion.as_ref().map(|d| d.document_id.as_str()),
            bytes: record.size,
            hash: record.hash,
            original_truncated: false,
            kept_bytes: None,
        }
    }

    /// Says how much of the message the `.hl7` beside holds, when that is not all of it.
    pub fn with_kept(mut self, kept: usize) -> Self {
        let kept = kept as u64;
        if kept < self.bytes {
            self.original_truncated = true;
            self.kept_bytes = Some(kept);
        }
        self
    }

    /// Pretty JSON with a final newline (a person reads it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// Counts of one run, by outcome and by code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub messages: u64,
    /// Bytes of the messages (as framed, MLLP bytes excluded).
    pub bytes: u64,
    pub outcomes: BTreeMap<Outcome, u64>,
    /// Blocking codes.
    pub codes: BTreeMap<ReasonCode, u64>,
    pub warnings: BTreeMap<ReasonCode, u64>,
}

impl Tally {
    pub fn add(&mut self, record: &Record) {
        let c = &record.conversion;
        self.messages += 1;
        self.bytes += record.size;
        *self.outcomes.entry(c.outcome).or_default() += 1;
        for code in c.codes() {
            *self.codes.entry(code).or_default() += 1;
        }
        for code in c.warnings() {
            *self.warnings.entry(code).or_default() += 1;
        }
    }

    pub fn count(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).copied().unwrap_or(0)
    }
}

/// `summary.json`: the tally, the rates, and what else happened in the run.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub messages: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub bytes_per_second: f64,
    /// Every outcome, zeros included.
    pub outcomes: BTreeMap<&'static str, u64>,
    pub codes: BTreeMap<&'static str, u64>,
    pub warnings: BTreeMap<&'static str, u64>,
    /// Messages whose same result was already in `report.jsonl` (no new line).
    pub already_recorded: u64,
    /// Release lines: held messages converted again once their patient's identity was recorded
    /// qualified (not counted in `messages` nor `outcomes`, which count the input).
    pub released: u64,
    /// Inputs (or parts of archives) that could not be read: exit status 2.
    pub unreadable_inputs: u64,
    /// Files of walked folders skipped on purpose (`input.ignore`, symbolic links not followed).
    pub skipped_files: u64,
    /// Stopped by SIGINT/SIGTERM or a closed output before the end of the input.
    pub interrupted: bool,
}

impl Summary {
    pub fn new(
        tally: &Tally,
        elapsed: Duration,
        already_recorded: u64,
        released: u64,
        unreadable_inputs: u64,
        interrupted: bool,
    ) -> Summary {
        let seconds = elapsed.as_secs_f64();
        let rate = |n: u64| {
            if seconds > 0.0 {
                (n as f64 / seconds * 10.0).round() / 10.0
            } else {
                0.0
            }
        };
        Summary {
            messages: tally.messages,
            bytes: tally.bytes,
            seconds: (seconds * 1000.0).round() / 1000.0,
            messages_per_second: rate(tally.messages),
            bytes_per_second: rate(tally.bytes),
            outcomes: Outcome::ALL
                .iter()
                .map(|&o| (o.as_str(), tally.count(o)))
                .collect(),
            codes: tally.codes.iter().map(|(c, n)| (c.as_str(), *n)).collect(),
            warnings: tally
                .warnings
                .iter()
                .map(|(c, n)| (c.as_str(), *n))
                .collect(),
            already_recorded,
            released,
            unreadable_inputs,
            skipped_files: 0,
            interrupted,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// The few lines printed on standard error at the end of a run.
    pub fn text(&self) -> String {
        let mut s = format!(
            "{} messages, {} bytes in {:.2} s ({} messages/s, {:.1} MB/s)\n",
            self.messages,
            self.bytes,
            self.seconds,
            self.messages_per_second,
            self.bytes_per_second / 1e6
        );
        let outcomes: Vec<String> = self
            .outcomes
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(o, n)| format!("{n} {o}"))
            .collect();
        if !outcomes.is_empty() {
            s.push_str(&format!("  {}\n", outcomes.join(", ")));
        }
        for (title, map) in [("codes", &self.codes), ("warnings", &self.warnings)] {
            if !map.is_empty() {
                let list: Vec<String> = map.iter().map(|(c, n)| format!("{c} {n}")).collect();
                s.push_str(&format!("  {title}: {}\n", list.join(", ")));
            }
        }
        if self.already_recorded > 0 {
            s.push_str(&format!(
                "  {} already in report.jsonl with the same result (files rewritten, no new line)\n",
                self.already_recorded
            ));
        }
        if self.released > 0 {
            s.push_str(&format!(
                "  {} held message(s) released (new lines with released_from)\n",
                self.released
            ));
        }
        if self.unreadable_inputs > 0 {
            s.push_str(&format!(
                "  {} input(s) could not be read (see the errors above)\n",
                self.unreadable_inputs
            ));
        }
        if self.skipped_files > 0 {
            s.push_str(&format!(
                "  {} file(s) skipped (input.ignore patterns, symbolic links not followed; -v names them)\n",
                self.skipped_files
            ));
        }
        if self.interrupted {
            s.push_str("  interrupted before the end of the input\n");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprint_ignores_source_time_and_key_order() {
        let a = json!({"source": "a#1", "outcome": "held", "codes": ["INS_MISSING"], "time": "t1"});
        let b = json!({"codes": ["INS_MISSING"], "time": "t2", "outcome": "held", "source": "b#9"});
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c =
            json!({"source": "a#1", "outcome": "held", "codes": ["TRAIT_MISSING"], "time": "t1"});
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn summary_lists_every_outcome_and_rates() {
        let mut t = Tally {
            messages: 4,
            bytes: 4000,
            ..Tally::default()
        };
        t.outcomes.insert(Outcome::Rejected, 4);
        t.codes.insert(ReasonCode::Hl7Syntax, 4);
        let s = Summary::new(&t, Duration::from_secs(2), 1, 0, 0, false);
        assert_eq!(s.outcomes.len(), Outcome::ALL.len());
        assert_eq!(s.outcomes["converted"], 0);
        assert_eq!(s.outcomes["rejected"], 4);
        assert_eq!(s.messages_per_second, 2.0);
        assert_eq!(s.bytes_per_second, 2000.0);
        assert!(s.text().contains("HL7_SYNTAX 4"), "{}", s.text());
        assert!(s.text().contains("1 already in report.jsonl"));
    }
}
