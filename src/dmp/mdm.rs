//! The message a hospital's DMP platform (PFI) takes in: CI-SIS volet « Transmission de
//! documents CDA en HL7v2 » 2.1 (`profils-messages.md`), in its MDM form (HL7 2.6) or its ORU
//! form (HL7 2.5), written from a [`Transmission`] and the source message.
//!
//! | | MDM | ORU |
//! |---|---|---|
//! | MSH-9 | `MDM^T02^MDM_T02`, `MDM^T10^MDM_T02`, `MDM^T04^MDM_T02` | `ORU^R01^ORU_R01` |
//! | MSH-12 | `2.6` | `2.5` |
//! | segments | MSH EVN PID PV1 ORC OBR TXA OBX PRT… OBX×10 | MSH PID PV1 ORC OBR OBX PRT… OBX×10 |
//! | ORC-1 / document OBX-11 | `NW`/`F`, `RO`/`C`, `CA`/`D` | same |
//! | document OBX-5 | `^text^XML^Base64^<CDA>` | `^TEXT^XML^Base64^<CDA>` |
//! | flag OBX-2 | `CWE` | `CE` |
//!
//! MSH-18 is `UNICODE UTF-8`, MSH-21 `2.1^CISIS_CDA_HL7_V2`; MSH-3 to MSH-7, MSH-10, MSH-11 are the
//! source's. PID and PV1 (and EVN, the PRT of MSSanté recipients, the `CORPSMAIL_*` OBX) are
//! copied from the source, re-encoded for `|^~\&` and UTF-8: byte for byte when the source used
//! the standard delimiters and nothing in the segment depends on its character set, else rebuilt
//! from the decoded values. The document's own fields follow the volet's tables, and only them
//! (« seuls les segments et les champs indiqués dans les tableaux suivants sont à renseigner »):
//! OBR-4, TXA-1/2/3/12/13/17, the document OBX, PRT `SB` (PRT-2 `UC`, PRT-4
//! `SB^Send by^participation`, PRT-5 the sender, PRT-8 the establishment, `FINEG`), then the ten
//! flag OBX (OBX-11 `F` always, a deletion too). The ORU form names the document in ORC-3 and
//! OBR-3 (filler order number; for a replacement, the replaced document, as `document::read`
//! reads an ORU) and gives OBR-25 `F`/`C`/`X`.

use super::datatypes::{PersonId, cwe, ei, esc, xcn, xon};
use super::flags::DecidedFlags;
use crate::cda::received::InstanceId;
use crate::config::Organisation;
use crate::document::event::Action;
use crate::hl7::{Charset, Delimiters, Field, Message, Segment};
use std::borrow::Cow;

/// MSH-21: the volet's version and profile name.
pub const PROFILE: &str = "2.1^CISIS_CDA_HL7_V2";
/// MSH-18 of every emitted message.
pub const CHARSET: &str = "UNICODE UTF-8";

/// The two forms of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Mdm,
    Oru,
}

impl Form {
    /// MSH-12.
    pub fn version(self) -> &'static str {
        match self {
            Form::Mdm => "2.6",
            Form::Oru => "2.5",
        }
    }

    /// MSH-9.
    pub fn message_type(self, action: Action) -> String {
        match self {
            Form::Mdm => format!("MDM^{}^MDM_T02", action.mdm_event()),
            Form::Oru => "ORU^R01^ORU_R01".to_owned(),
        }
    }

    /// OBX-2 of a flag: CWE in 2.6, CE in 2.5.
    fn flag_type(self) -> &'static str {
        match self {
            Form::Mdm => "CWE",
            Form::Oru => "CE",
        }
    }

    /// OBX-5.2 of the document: the volet writes `text` in the MDM, `TEXT` in the ORU.
    fn ed_type(self) -> &'static str {
        match self {
            Form::Mdm => "text",
            Form::Oru => "TEXT",
        }
    }
}

/// The document type as OBR-4 and OBX-3 carry it (code, label, `LN` or `TRE_A05`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocType {
    pub code: String,
    pub label: String,
    pub system: String,
}

/// What the document OBX-5.5 carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The CDA, base64-encoded here.
    Cda(&'a [u8]),
    /// A CDA already in base64 (the source's, for a deletion).
    Base64(&'a str),
    /// Nothing: a deletion whose source carried no CDA.
    None,
}

/// Everything the message says about the document, besides the copied source segments.
#[derive(Debug, Clone)]
pub struct Transmission<'a> {
    pub action: Action,
    /// The document (TXA-12); for a deletion, the document deleted.
    pub document_id: InstanceId,
    /// The replaced document (TXA-13; for a deletion, the deleted document's parent if known).
    pub parent_id: Option<InstanceId>,
    pub doc_type: DocType,
    pub payload: Payload<'a>,
    /// PRT-5 of PRT `SB`.
    pub sender: Option<PersonId>,
    pub flags: DecidedFlags,
}

/// Writes the message (segments ending with `\r`, UTF-8).
pub fn write(
    form: Form,
    sources: &super::Sources<'_>,
    t: &Transmission<'_>,
    organisation: &Organisation,
) -> Vec<u8> {
    let source = sources.message;
    let payload_len = match t.payload {
        Payload::Cda(b) => b.len() / 3 * 4 + 4,
        Payload::Base64(s) => s.len(),
        Payload::None => 0,
    };
    let mut w = Writer {
        out: String::with_capacity(payload_len + 4096),
        source,
    };
    w.msh(form, t.action);
    if form == Form::Mdm {
        match source.segment("EVN") {
            Some(evn) => w.copy(&evn, &[]),
            None => {
                let time = w.source_field("MSH", 7);
                w.segment("EVN", &[(2, time)]);
            }
        }
    }
    // The PID of the identity the CDA was written from (see `Sources`).
    let identity = sources.identity.unwrap_or(source);
    match identity.segment("PID") {
        Some(pid) => w.copy_from(identity, &pid, &[]),
        None => w.segment("PID", &[]),
    }
    match source.segment("PV1") {
        Some(pv1) => w.copy(&pv1, &[]),
        // PV1-2 is required; `N`: not applicable.
        None => w.segment("PV1", &[(1, "1".into()), (2, "N".into())]),
    }
    let doc_type = cwe(&t.doc_type.code, &t.doc_type.label, &t.doc_type.system);
    let order_control = t.action.order_control().to_owned();
    match form {
        Form::Mdm => {
            w.segment("ORC", &[(1, order_control)]);
            w.segment("OBR", &[(1, "1".into()), (4, doc_type.clone())]);
            w.segment(
                "TXA",
                &[
                    (1, "1".into()),
                    (2, esc(&t.doc_type.code).into_owned()),
                    (3, "TEXT".into()),
                    (12, ei(&t.document_id)),
                    (13, t.parent_id.as_ref().map(ei).unwrap_or_default()),
                    (17, "AU".into()),
                ],
            );
        }
        Form::Oru => {
            // The order a replacement corrects is the replaced document's.
            let order = match (t.action, &t.parent_id) {
                (Action::Replace, Some(parent)) => ei(parent),
                _ => ei(&t.document_id),
            };
            let result_status = match t.action {
                Action::New => "F",
                Action::Replace => "C",
                Action::Delete => "X",
            };
            w.segment("ORC", &[(1, order_control), (3, order.clone())]);
            w.segment(
                "OBR",
                &[
                    (1, "1".into()),
                    (3, order),
                    (4, doc_type.clone()),
                    (25, result_status.into()),
                ],
            );
        }
    }
    let ed = match t.payload {
        Payload::Cda(bytes) => format!(
            "^{}^XML^Base64^{}",
            form.ed_type(),
            base64_simd::STANDARD.encode_to_string(bytes)
        ),
        // Base64 has no delimiter to escape.
        Payload::Base64(b64) => format!("^{}^XML^Base64^{}", form.ed_type(), b64),
        Payload::None => String::new(),
    };
    w.segment(
        "OBX",
        &[
            (1, "1".into()),
            (2, "ED".into()),
            (3, doc_type),
            (5, ed),
            (11, t.action.result_status().into()),
        ],
    );
    let organisation_xon = xon(
        &organisation.name,
        crate::cda::OID_STRUCTURES,
        "FINEG",
        &organisation.finess,
    );
    w.segment(
        "PRT",
        &[
            (2, "UC".into()),
            (4, "SB^Send by^participation".into()),
            (5, t.sender.as_ref().map(xcn).unwrap_or_default()),
            (8, organisation_xon),
        ],
    );
    // The source's other participations (MSSanté recipients RCT, reply-to), in its order.
    for prt in source.segments_named("PRT") {
        if !is_sender(&prt) {
            w.copy(&prt, &[]);
        }
    }
    let mut set_id = 1;
    for (flag, on) in t.flags.iter() {
        set_id += 1;
        w.segment(
            "OBX",
            &[
                (1, set_id.to_string()),
                (2, form.flag_type().into()),
                (
                    3,
                    cwe(flag.code, flag.label, crate::document::flags::META_DMP_MSS),
                ),
                (
                    5,
                    format!("{}^^expandedYes-NoIndicator", if on { "Y" } else { "N" }),
                ),
                (11, "F".into()),
            ],
        );
    }
    // The optional mail bodies (CORPSMAIL_PS, CORPSMAIL_PATIENT) travel on, renumbered.
    for obx in source.segments_named("OBX") {
        if crate::document::flags::is_flag(&obx) && is_mail_body(&obx) {
            set_id += 1;
            w.copy(&obx, &[(1, set_id.to_string())]);
        }
    }
    w.out.into_bytes()
}

/// PRT-4.1 `SB`: the sender.
pub fn is_sender(prt: &Segment<'_>) -> bool {
    prt.field(4)
        .and_then(|f| f.component(1))
        .is_some_and(|c| c.raw().trim().eq_ignore_ascii_case("SB"))
}

fn is_mail_body(obx: &Segment<'_>) -> bool {
    obx.field(3)
        .and_then(|f| f.component(1))
        .is_some_and(|c| c.raw().trim().starts_with("CORPSMAIL"))
}

struct Writer<'s, 'a> {
    out: String,
    source: &'s Message<'a>,
}

impl Writer<'_, '_> {
    fn msh(&mut self, form: Form, action: Action) {
        let f = |w: &Self, n| w.source_field("MSH", n);
        let fields = [
            (3, f(self, 3)),
            (4, f(self, 4)),
            (5, f(self, 5)),
            (6, f(self, 6)),
            (7, f(self, 7)),
            (9, form.message_type(action)),
            (10, f(self, 10)),
            (11, f(self, 11)),
            (12, form.version().to_owned()),
            (17, "FRA".to_owned()),
            (18, CHARSET.to_owned()),
            (21, PROFILE.to_owned()),
        ];
        // MSH-1 is the field separator itself and MSH-2 the encoding characters: MSH-3 is the
        // third value after `MSH`.
        self.out.push_str("MSH|^~\\&");
        let mut at = 2;
        for (n, value) in fields {
            while at < n {
                self.out.push('|');
                at += 1;
            }
            self.out.push_str(&value);
        }
        self.out.push('\r');
    }

    /// A segment from `(field number, encoded value)` pairs in increasing order; the fields in
    /// between are empty and trailing empty fields are left out.
    fn segment(&mut self, id: &str, fields: &[(usize, String)]) {
        self.out.push_str(id);
        let last = fields
            .iter()
            .rposition(|(_, v)| !v.is_empty())
            .map_or(0, |i| fields[i].0);
        let mut at = 0;
        for (n, value) in fields.iter().take_while(|(n, _)| *n <= last) {
            while at < *n {
                self.out.push('|');
                at += 1;
            }
            self.out.push_str(value);
        }
        self.out.push('\r');
    }

    /// Field `n` of the first `id` segment of the source, re-encoded.
    fn source_field(&self, id: &str, n: usize) -> String {
        let syntax = Reencoding::of(self.source);
        self.source
            .segment(id)
            .and_then(|s| s.field(n))
            .map(|f| syntax.field(&f).into_owned())
            .unwrap_or_default()
    }

    /// A source segment, with some fields replaced (`(n, encoded value)`).
    fn copy(&mut self, seg: &Segment<'_>, replaced: &[(usize, String)]) {
        self.copy_from(self.source, seg, replaced);
    }

    /// Copies a segment of `from` (the source message, or another one with its own delimiters
    /// and charset).
    fn copy_from(&mut self, from: &Message<'_>, seg: &Segment<'_>, replaced: &[(usize, String)]) {
        let syntax = Reencoding::of(from);
        if replaced.is_empty() && syntax.raw_ok(seg.raw()) {
            self.out.push_str(seg.raw());
        } else {
            self.out.push_str(seg.id());
            for (i, field) in seg.fields().enumerate() {
                self.out.push('|');
                match replaced.iter().find(|(n, _)| *n == i + 1) {
                    Some((_, v)) => self.out.push_str(v),
                    None => self.out.push_str(&syntax.field(&field)),
                }
            }
        }
        self.out.push('\r');
    }
}

/// How source text is carried into the emitted message.
#[derive(Clone, Copy)]
struct Reencoding {
    /// The source's delimiters are the standard ones.
    standard: bool,
    charset: Charset,
}

impl Reencoding {
    fn of(msg: &Message<'_>) -> Reencoding {
        Reencoding {
            standard: msg.delimiters() == Delimiters::default(),
            charset: msg.charset(),
        }
    }

    /// Raw source text means the same in the emitted message: same delimiters, and no `\X..\`
    /// escape whose bytes are read in the source's character set.
    fn raw_ok(&self, raw: &str) -> bool {
        self.standard
            && (matches!(self.charset, Charset::Utf8 | Charset::Ascii) || !raw.contains("\\X"))
    }

    /// A source field for the emitted message.
    fn field<'f>(&self, field: &Field<'f>) -> Cow<'f, str> {
        if self.raw_ok(field.raw()) {
            return Cow::Borrowed(field.raw());
        }
        let mut out = String::with_capacity(field.raw().len() + 8);
        for (r, rep) in field.repetitions().enumerate() {
            if r > 0 {
                out.push('~');
            }
            for (c, comp) in rep.components().enumerate() {
                if c > 0 {
                    out.push('^');
                }
                for (s, sub) in comp.subcomponents().enumerate() {
                    if s > 0 {
                        out.push('&');
                    }
                    out.push_str(&esc(&sub.value()));
                }
            }
        }
        Cow::Owned(out)
    }
}
