//! HL7 acknowledgements for `convert --ack` (CONTRACT.md "ACKs"), built without I/O.
//!
//! One ACK per message, HL7 v2.5 original acknowledgment mode (ch. 2.9.2):
//!
//! ```text
//! MSH|^~\&|<MSH-5>|<MSH-6>|<MSH-3>|<MSH-4>|<now>||ACK^<MSH-9.2>^ACK|<new id>|<MSH-11>|<version>|||||FRA|UNICODE UTF-8
//! MSA|<AA|AE|AR>|<MSH-10>[|<codes>]
//! ERR||<location>|<HL7 table 0357 code>^<text>^HL70357|<W|E>|<reason code>^^99DMPFEED|||<detail>
//! ```
//!
//! * `converted`, `excluded`, `deleted`, `recorded` → `AA`; `held` → `AA` and one `ERR` of
//!   severity `W` per blocking reason (the message is kept, not lost); `rejected` → `AE` with
//!   `ERR` severity `E`; a frame that is not an HL7 message at all (bytes without `MSH`, an MLLP
//!   block cut by the end of input) → `AR`.
//! * MSA-2 echoes MSH-10. When the message cannot be parsed as a whole, MSH-10 is still read from
//!   its first segment when that one is sound; otherwise MSA-2 is empty.
//! * ERR (v2.5 ch. 2.15.5): ERR-1 empty (kept for v2.3 compatibility), ERR-2 the location (ERL:
//!   segment^sequence^field^repetition^component^subcomponent) when the finding has an HL7 path,
//!   ERR-3 the closest code of HL7 table 0357, ERR-4 the severity (table 0516), ERR-5 dmpfeed's
//!   stable reason code (coding system `99DMPFEED`, a local one as HL7 names them), ERR-8 the
//!   human-readable detail. MSA-3 (deprecated but shown by most engines) lists the codes.
//! * The ACK's MSH-12 echoes the message's version when it is 2.5 or later (the ERR layout above
//!   exists since 2.5), else `2.5`; MSH-11 echoes the processing id (P, D or T).
//!
//! The ACK is UTF-8 (MSH-18). Over MLLP it is framed `0x0B … 0x1C 0x0D`; on a plain stream its
//! segments end with `\r` and the ACK with `\r\n`, so that line-oriented readers see one per line.

use crate::hl7::{self, Delimiters, Framing, escape::escape};
use crate::reason::{Finding, Outcome, ReasonCode};
use memchr::memchr2;

/// What an ACK needs from the original MSH, read from its first segment only, with the values
/// re-escaped for the standard delimiters (`|^~\&`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckHeader {
    /// MSH-3, MSH-4, MSH-5, MSH-6 as HD values (components kept).
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    /// MSH-9.2 (`T02`).
    pub event: String,
    /// MSH-10, decoded (escape it before writing).
    pub control_id: String,
    /// MSH-11.1.
    pub processing_id: String,
    /// MSH-12.1.
    pub version: String,
}

/// Longest first segment read for an ACK (an MSH is a few hundred bytes).
const MAX_MSH_BYTES: usize = 64 * 1024;

impl AckHeader {
    /// Reads the first segment of a framed message, when it is a sound MSH.
    pub fn read(raw: &[u8]) -> Option<AckHeader> {
        let end = memchr2(b'\r', b'\n', raw).unwrap_or(raw.len());
        if end > MAX_MSH_BYTES {
            return None;
        }
        let decoded = hl7::decode(&raw[..end]).ok()?;
        let msg = decoded.parse().ok()?;
        let msh = msg.msh();
        let std = Delimiters::default();
        // An HD field: components and subcomponents re-joined with the standard delimiters.
        let standard = msg.delimiters() == std;
        let hd = |n: usize| -> String {
            let Some(field) = msh.field(n) else {
                return String::new();
            };
            let first = field.first();
            if standard && !needs_rewriting(first.raw()) {
                return first.raw().to_owned();
            }
            first
                .components()
                .map(|c| {
                    c.subcomponents()
                        .map(|s| escape(&s.value(), &std).into_owned())
                        .collect::<Vec<_>>()
                        .join("&")
                })
                .collect::<Vec<_>>()
                .join("^")
        };
        let component = |n: usize, c: usize| -> String {
            msh.field(n)
                .and_then(|f| f.component(c))
                .map(|c| c.value().into_owned())
                .unwrap_or_default()
        };
        Some(AckHeader {
            sending_application: hd(3),
            sending_facility: hd(4),
            receiving_application: hd(5),
            receiving_facility: hd(6),
            event: component(9, 2),
            control_id: component(10, 1),
            processing_id: component(11, 1),
            version: component(12, 1),
        })
    }
}

/// Whether an HD field of a message with the standard delimiters can differ from its raw text
/// once decoded and escaped again: only through an escape sequence or a control character (its
/// separators are the standard ones, put back as they were). Most senders' MSH-3 to MSH-6 are
/// plain, and copying them saves the split, decode, escape and joins of each part (−9 M
/// instructions in `AckHeader::read` per 1,000 text messages).
fn needs_rewriting(raw: &str) -> bool {
    raw.bytes().any(|b| b == b'\\' || (b < 0x20 && b != b'\t'))
}

/// MSA-1 (HL7 table 0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept.
    Aa,
    /// Application error.
    Ae,
    /// Application reject.
    Ar,
}

impl AckCode {
    /// The code for an outcome; `undecodable` when the frame is not an HL7 message at all.
    pub fn for_outcome(outcome: Outcome, undecodable: bool) -> AckCode {
        match outcome {
            Outcome::Rejected if undecodable => AckCode::Ar,
            Outcome::Rejected => AckCode::Ae,
            Outcome::Converted
            | Outcome::Held
            | Outcome::Excluded
            | Outcome::Deleted
            | Outcome::Recorded => AckCode::Aa,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Aa => "AA",
            AckCode::Ae => "AE",
            AckCode::Ar => "AR",
        }
    }
}

/// HL7 table 0357 (message error condition codes): the closest to each reason.
fn table_0357(code: ReasonCode) -> (&'static str, &'static str) {
    use ReasonCode::*;
    const REQUIRED: (&str, &str) = ("101", "Required field missing");
    const DATA_TYPE: (&str, &str) = ("102", "Data type error");
    const TABLE_VALUE: (&str, &str) = ("103", "Table value not found");
    match code {
        InsMissing | TraitMissing | ContentMissing | ReplacedDocumentMissing | AuthorMissing => {
            REQUIRED
        }
        InsMalformed
        | InsKeyInvalid
        | NirSexMismatch
        | NirBirthdateMismatch
        | DocumentIdentityMismatch
        | Hl7Syntax
        | Hl7Charset
        | ContentInvalid => DATA_TYPE,
        InsOidUnknown
        | InsOidTestInProduction
        | IdentityNotQualified
        | IdentityDoubtful
        | DocumentTypeUnknown => TABLE_VALUE,
        UnsupportedMessage => ("200", "Unsupported message type"),
        EventInconsistent => ("201", "Unsupported event code"),
        _ => ("207", "Application internal error"),
    }
}

/// ERR-2 from an HL7 path (`PID-3(2).1` → `PID^1^3^2^1`); empty when there is none.
fn error_location(path: &str) -> String {
    let Ok(p) = path.parse::<hl7::Path>() else {
        return String::new();
    };
    let mut s = format!(
        "{}^{}^{}^{}",
        p.segment, p.occurrence, p.field, p.repetition
    );
    if let Some(c) = p.component {
        s.push_str(&format!("^{c}"));
        if let Some(sc) = p.subcomponent {
            s.push_str(&format!("^{sc}"));
        }
    }
    s
}

/// Everything one ACK says.
#[derive(Debug, Clone, Copy)]
pub struct AckInput<'a> {
    pub header: Option<&'a AckHeader>,
    /// MSH-10 of the message (from the conversion, else from its first segment).
    pub control_id: Option<&'a str>,
    pub outcome: Outcome,
    /// The frame is not an HL7 message at all (→ `AR`).
    pub undecodable: bool,
    pub findings: &'a [Finding],
    /// The ACK's own MSH-10.
    pub ack_id: &'a str,
    /// MSH-7, `YYYYMMDDHHMMSS±ZZZZ`.
    pub time: &'a str,
    /// How the message arrived (MLLP → the ACK is MLLP-framed).
    pub framing: Framing,
}

/// Builds the ACK bytes, framed for the input's framing.
pub fn build(input: &AckInput<'_>) -> Vec<u8> {
    let std = Delimiters::default();
    let empty = AckHeader::default();
    let h = input.header.unwrap_or(&empty);
    let code = AckCode::for_outcome(input.outcome, input.undecodable);
    let version = if ["2.5", "2.6", "2.7", "2.8"]
        .iter()
        .any(|v| h.version.starts_with(v))
    {
        h.version.as_str()
    } else {
        "2.5"
    };
    let processing = match h.processing_id.as_str() {
        p @ ("P" | "D" | "T") => p,
        _ => "P",
    };
    let message_type = if h.event.is_empty() {
        "ACK".to_owned()
    } else {
        format!("ACK^{}^ACK", escape(&h.event, &std))
    };
    let sender = if h.receiving_application.is_empty() {
        "DMPFEED"
    } else {
        h.receiving_application.as_str()
    };
    let mut segments = vec![format!(
        "MSH|^~\\&|{sender}|{}|{}|{}|{}||{message_type}|{}|{processing}|{version}|||||FRA|UNICODE UTF-8",
        h.receiving_facility,
        h.sending_application,
        h.sending_facility,
        input.time,
        escape(input.ack_id, &std),
    )];
    let control_id = escape(input.control_id.unwrap_or(""), &std);
    let severity = match (input.outcome, code) {
        (Outcome::Held, _) => Some("W"),
        (_, AckCode::Ae | AckCode::Ar) => Some("E"),
        _ => None,
    };
    let reported: Vec<&Finding> = match severity {
        Some(_) => input.findings.iter().filter(|f| !f.is_warning()).collect(),
        None => Vec::new(),
    };
    let mut codes: Vec<&str> = Vec::new();
    for f in &reported {
        if !codes.contains(&f.code.as_str()) {
            codes.push(f.code.as_str());
        }
    }
    if codes.is_empty() {
        segments.push(format!("MSA|{}|{control_id}", code.as_str()));
    } else {
        segments.push(format!(
            "MSA|{}|{control_id}|{}",
            code.as_str(),
            escape(&codes.join(", "), &std)
        ));
    }
    if let Some(severity) = severity {
        for f in reported {
            let (hl7_code, hl7_text) = table_0357(f.code);
            segments.push(format!(
                "ERR||{}|{hl7_code}^{hl7_text}^HL70357|{severity}|{}^^99DMPFEED|||{}",
                error_location(&f.path),
                f.code.as_str(),
                escape(&f.detail, &std),
            ));
        }
    }
    let mut text = segments.join("\r");
    text.push('\r');
    match input.framing {
        Framing::Mllp => {
            let mut out = Vec::with_capacity(text.len() + 3);
            out.push(0x0B);
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(&[0x1C, 0x0D]);
            out
        }
        Framing::Batch | Framing::Plain => {
            text.push('\n');
            text.into_bytes()
        }
    }
}

/// The ACKs' own control ids: unique per run (the run's start time) and per message.
#[derive(Debug, Clone)]
pub struct AckIds {
    prefix: String,
}

impl AckIds {
    /// Ids `<start time in base 36><sequence>`, at most 20 characters (MSH-10 is ST 20 in 2.5).
    pub fn starting_now() -> AckIds {
        let ms = jiff::Timestamp::now().as_millisecond().unsigned_abs();
        AckIds { prefix: base36(ms) }
    }

    pub fn id(&self, seq: u64) -> String {
        let mut id = format!("{}{seq}", self.prefix);
        id.truncate(20);
        id
    }
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The time zone of ACK timestamps: the configured one (`document.time_zone`), else UTC.
pub fn ack_time_zone(name: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(name).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// MSH-7 for an ACK: now, `YYYYMMDDHHMMSS±ZZZZ`.
pub fn now_hl7(tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::now()
        .to_zoned_datetime(tz.clone())
        .strftime("%Y%m%d%H%M%S%z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MSH|^~\\&|DPI^1.2.3^ISO|CHU|PFI|CHU|20240101||MDM^T02^MDM_T02|CTRL\\F\\42|P|2.6\rPID|||1\r";

    fn parse(ack: &[u8]) -> Vec<Vec<String>> {
        let body = ack
            .strip_prefix(&[0x0B])
            .and_then(|b| b.strip_suffix(&[0x1C, 0x0D]))
            .unwrap_or(ack);
        let decoded = hl7::decode(body).unwrap();
        let msg = decoded.parse().unwrap();
        msg.segments()
            .map(|s| {
                std::iter::once(s.id().to_owned())
                    .chain(s.fields().map(|f| f.raw().to_owned()))
                    .collect()
            })
            .collect()
    }

    fn ack(outcome: Outcome, findings: &[Finding], framing: Framing) -> Vec<u8> {
        let header = AckHeader::read(MSG).unwrap();
        build(&AckInput {
            header: Some(&header),
            control_id: Some(&header.control_id),
            outcome,
            undecodable: false,
            findings,
            ack_id: "ACK1",
            time: "20240101120000+0100",
            framing,
        })
    }

    #[test]
    fn header_is_read_from_the_first_segment_and_reescaped() {
        let h = AckHeader::read(MSG).unwrap();
        assert_eq!(h.sending_application, "DPI^1.2.3^ISO");
        assert_eq!(h.event, "T02");
        assert_eq!(h.control_id, "CTRL|42");
        assert_eq!(h.version, "2.6");
    }

    #[test]
    fn plain_hd_fields_are_copied_and_escaped_ones_rewritten() {
        let h = AckHeader::read(
            b"MSH|^~\\&|APP^1.2&3^ISO~REP2|A\\X42\\C|\\H\\B\\N\\|S\\T\\T^^|20240101||MDM^T02|1|P|2.6\r",
        )
        .unwrap();
        assert_eq!(h.sending_application, "APP^1.2&3^ISO");
        assert_eq!(h.sending_facility, "ABC");
        assert_eq!(h.receiving_application, "\\E\\H\\E\\B\\E\\N\\E\\");
        assert_eq!(h.receiving_facility, "S\\T\\T^^");
    }

    #[test]
    fn header_with_custom_delimiters_is_rewritten_with_standard_ones() {
        let h = AckHeader::read(b"MSH#$%!@#A$B#F##R#20240101##ORU$R01#3#T#2.5\r").unwrap();
        assert_eq!(h.sending_application, "A^B");
        assert_eq!(h.event, "R01");
        assert_eq!(h.processing_id, "T");
    }

    #[test]
    fn no_header_in_bytes_that_are_not_hl7() {
        assert_eq!(AckHeader::read(b"name;birthdate\n"), None);
        assert_eq!(AckHeader::read(b""), None);
    }

    #[test]
    fn converted_is_aa_with_sender_and_receiver_swapped() {
        let segs = parse(&ack(Outcome::Converted, &[], Framing::Mllp));
        assert_eq!(segs.len(), 2);
        // Index n is field n (MSH-1 being the separator).
        let msh = &segs[0];
        assert_eq!(msh[3], "PFI");
        assert_eq!(msh[5], "DPI^1.2.3^ISO");
        assert_eq!(msh[9], "ACK^T02^ACK");
        assert_eq!(msh[11], "P");
        assert_eq!(msh[12], "2.6");
        assert_eq!(msh[18], "UNICODE UTF-8");
        assert_eq!(segs[1], ["MSA", "AA", "CTRL\\F\\42"]);
    }

    #[test]
    fn held_is_aa_with_a_warning_err_per_code() {
        let findings = [
            Finding::new(ReasonCode::InsMissing, "PID-3", "no INS"),
            Finding::new(ReasonCode::IdentityNotQualified, "PID-32", "PROV"),
            Finding::new(ReasonCode::NirBirthplaceMismatch, "PID-11", "warning only"),
        ];
        let segs = parse(&ack(Outcome::Held, &findings, Framing::Plain));
        assert_eq!(segs[1][1], "AA");
        assert_eq!(segs[1][3], "INS_MISSING, IDENTITY_NOT_QUALIFIED");
        let errs: Vec<_> = segs.iter().filter(|s| s[0] == "ERR").collect();
        assert_eq!(errs.len(), 2, "warnings are not errors");
        assert_eq!(errs[0][2], "PID^1^3^1");
        assert_eq!(errs[0][3], "101^Required field missing^HL70357");
        assert_eq!(errs[0][4], "W");
        assert_eq!(errs[0][5], "INS_MISSING^^99DMPFEED");
        assert_eq!(errs[0][8], "no INS");
        assert_eq!(errs[1][2], "PID^1^32^1");
    }

    #[test]
    fn rejected_is_ae_with_error_severity() {
        let findings = [Finding::new(
            ReasonCode::UnsupportedMessage,
            "MSH-9",
            "ADT^A28 carries no document",
        )];
        let segs = parse(&ack(Outcome::Rejected, &findings, Framing::Mllp));
        assert_eq!(segs[1][1], "AE");
        assert_eq!(segs[2][3], "200^Unsupported message type^HL70357");
        assert_eq!(segs[2][4], "E");
        assert_eq!(segs[2][8], "ADT\\S\\A28 carries no document");
    }

    #[test]
    fn undecodable_frame_is_ar_with_empty_msa_2() {
        let findings = [Finding::new(ReasonCode::Hl7Syntax, "", "not HL7")];
        let bytes = build(&AckInput {
            header: None,
            control_id: None,
            outcome: Outcome::Rejected,
            undecodable: true,
            findings: &findings,
            ack_id: "X1",
            time: "20240101120000+0100",
            framing: Framing::Plain,
        });
        let segs = parse(&bytes);
        assert_eq!(segs[0][9], "ACK");
        assert_eq!(segs[0][12], "2.5");
        assert_eq!(segs[1][1], "AR");
        assert_eq!(segs[1][2], "");
        assert_eq!(segs[2][2], "", "no location without a path");
    }

    #[test]
    fn mllp_and_plain_framing() {
        let m = ack(Outcome::Converted, &[], Framing::Mllp);
        assert_eq!(m.first(), Some(&0x0B));
        assert!(m.ends_with(&[0x1C, 0x0D]));
        let p = ack(Outcome::Converted, &[], Framing::Plain);
        assert!(p.starts_with(b"MSH|"));
        assert!(p.ends_with(b"\r\n"));
    }

    #[test]
    fn ack_time_has_an_offset() {
        let t = now_hl7(&ack_time_zone("Europe/Paris"));
        assert_eq!(t.len(), 19, "{t}");
        assert!(t[14..].starts_with('+'), "{t}");
    }

    #[test]
    fn ack_ids_are_short_and_distinct() {
        let ids = AckIds::starting_now();
        assert_ne!(ids.id(1), ids.id(2));
        assert!(ids.id(u64::MAX).len() <= 20);
    }
}
