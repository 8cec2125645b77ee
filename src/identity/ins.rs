//! The INS in PID-3: which repetition carries it, under which OID, and whether it may be used in
//! this message (domain notes §1.1; CONTRACT.md `INS_*` codes).
//!
//! A PID-3 repetition (CX) is an INS *candidate* when
//! * CX-5 (identifier type code) is `INS` — what every ANS HL7v2 example sends — or one of the
//!   FR Core type codes `INS-NIR`, `INS-NIA`, `INS-NIR-TEST`, `INS-NIR-DEMO` that some
//!   interfaces copy into CX-5; or
//! * CX-5 is empty and CX-4.2 (assigning authority, universal id) is under the INS arc
//!   `1.2.250.1.213.1.4.` — the four INS OIDs, and also obsolete ones such as INS-C (`….4.2`),
//!   which are then reported as `INS_OID_UNKNOWN` rather than silently ignored.
//!
//! A NIR typed `NH` under `….4.8` is the social-security number (FR Core slice NSS), not an INS,
//! and an `INS-C` typed identifier is the obsolete computed INS: neither is a candidate.
//!
//! The OID comes from CX-4.2 only, as PAM-FR writes it (`ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO`).
//!
//! Choosing among several candidates (see the decisions in [`super`]): the first *valid* one
//! (known OID, well-formed, right key) under a production OID (INS-NIR, INS-NIA), else the first
//! valid one under a test/demo OID, else the first one with a known OID (so that the findings can
//! name it). The others only matter when they are a *different* valid INS (`INS_CONFLICT`).
//!
//! This module reads HL7 through the message views only; it never allocates unless it reports.

use super::MAX_REPORTED_PER_FIELD;
use super::nir::Nir;
use crate::config::IdentityPolicy;
use crate::hl7::{Field, Message, Repetition, Segment};
use crate::reason::{Finding, ReasonCode};
use std::borrow::Cow;

/// PID-3 Patient Identifier List.
pub const PID_3: usize = 3;
/// MSH-11 Processing ID.
pub const MSH_11: usize = 11;
/// The ANS arc under which the INS OIDs live.
pub const INS_ARC: &str = "1.2.250.1.213.1.4.";

/// The assigning authorities of an INS (FR Core `FRCorePatientINSProfile`, its four slices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsOid {
    /// `1.2.250.1.213.1.4.8` — INS-NIR, production.
    Nir,
    /// `1.2.250.1.213.1.4.9` — INS-NIA (temporary number), production.
    Nia,
    /// `1.2.250.1.213.1.4.10` — INS-NIR of a fictitious *test* patient.
    Test,
    /// `1.2.250.1.213.1.4.11` — INS-NIR of a fictitious *demonstration* patient.
    Demo,
}

impl InsOid {
    pub const ALL: [InsOid; 4] = [InsOid::Nir, InsOid::Nia, InsOid::Test, InsOid::Demo];

    /// The OID, as written in CX-4.2 and in the CDA `id/@root`.
    pub fn oid(self) -> &'static str {
        match self {
            InsOid::Nir => "1.2.250.1.213.1.4.8",
            InsOid::Nia => "1.2.250.1.213.1.4.9",
            InsOid::Test => "1.2.250.1.213.1.4.10",
            InsOid::Demo => "1.2.250.1.213.1.4.11",
        }
    }

    /// The INS OID this is, compared exactly.
    pub fn from_oid(oid: &str) -> Option<InsOid> {
        InsOid::ALL.into_iter().find(|o| o.oid() == oid)
    }

    /// True for the OIDs of fictitious patients (test, demo), which only belong in messages
    /// that are not production ([`is_production`]).
    pub fn is_fictitious(self) -> bool {
        matches!(self, InsOid::Test | InsOid::Demo)
    }

    /// A short label for details and logs.
    pub fn label(self) -> &'static str {
        match self {
            InsOid::Nir => "INS-NIR",
            InsOid::Nia => "INS-NIA",
            InsOid::Test => "INS-NIR test",
            InsOid::Demo => "INS-NIR demo",
        }
    }
}

/// The patient's INS as read from PID-3: the matricule (15 characters as sent) and its OID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ins<'a> {
    /// CX-1 as sent, escapes decoded. Not necessarily valid: see the verdict's findings.
    pub value: Cow<'a, str>,
    pub oid: InsOid,
    /// 1-based repetition of PID-3 that carries it.
    pub repetition: usize,
}

impl<'a> Ins<'a> {
    /// Where it is, e.g. `PID-3(2)`.
    pub fn path(&self) -> String {
        format!("PID-3({})", self.repetition)
    }

    /// The matricule's structure, when well formed.
    pub fn nir(&self) -> Option<Nir<'_>> {
        Nir::parse(&self.value).ok()
    }
}

/// True when the message is production traffic: MSH-11.1 (processing ID, HL7 table 0103) is
/// anything but `D` (debugging) or `T` (training) — `P`, empty, absent and unknown values
/// included, so that a missing MSH-11 never lets a test identity through.
pub fn is_production(msg: &Message<'_>) -> bool {
    let processing_id = msg
        .msh()
        .field(MSH_11)
        .map(|f| f.first().text(1))
        .unwrap_or_default();
    !matches!(processing_id.as_ref(), "D" | "T")
}

/// One PID-3 repetition that claims to be an INS.
#[derive(Debug, Clone)]
struct Candidate<'a> {
    repetition: usize,
    value: Cow<'a, str>,
    /// CX-4.2 as sent.
    authority: Cow<'a, str>,
    /// CX-4.1, for the hint when the OID was put there instead of CX-4.2.
    namespace: Cow<'a, str>,
    oid: Option<InsOid>,
}

impl<'a> Candidate<'a> {
    fn read(repetition: usize, cx: Repetition<'a>) -> Option<Candidate<'a>> {
        let type_code = cx.text(5);
        let hd = cx.component(4);
        let authority = hd.map_or(Cow::Borrowed(""), |c| c.text(2));
        let is_candidate = match type_code.as_ref() {
            "INS" | "INS-NIR" | "INS-NIA" | "INS-NIR-TEST" | "INS-NIR-DEMO" => true,
            "" => authority.starts_with(INS_ARC),
            _ => false,
        };
        is_candidate.then(|| Candidate {
            repetition,
            value: cx.text(1),
            namespace: hd.map_or(Cow::Borrowed(""), |c| c.text(1)),
            oid: InsOid::from_oid(&authority),
            authority,
        })
    }

    fn nir(&self) -> Option<Nir<'_>> {
        Nir::parse(&self.value).ok()
    }

    /// Known OID, well formed, right key. The policy (test INS in production) is not part of it.
    fn is_valid(&self) -> bool {
        self.oid.is_some() && self.nir().is_some_and(|n| n.has_valid_key())
    }

    /// Preference order (higher first): valid production, valid fictitious, known OID.
    fn rank(&self) -> u8 {
        match (self.oid, self.is_valid()) {
            (Some(oid), true) if !oid.is_fictitious() => 3,
            (Some(_), true) => 2,
            (Some(_), false) => 1,
            (None, _) => 0,
        }
    }

    fn into_ins(self) -> Option<Ins<'a>> {
        Some(Ins {
            value: self.value,
            oid: self.oid?,
            repetition: self.repetition,
        })
    }

    /// Every finding about this candidate: OID, shape or key, fictitious OID in production.
    fn report(&self, production: bool, policy: &IdentityPolicy, out: &mut Vec<Finding>) {
        let r = self.repetition;
        match self.oid {
            None => out.push(Finding::new(
                ReasonCode::InsOidUnknown,
                format!("PID-3({r}).4.2"),
                self.unknown_oid_detail(),
            )),
            Some(oid) => {
                if oid.is_fictitious() && production && !policy.allow_test_ins {
                    out.push(Finding::new(
                        ReasonCode::InsOidTestInProduction,
                        format!("PID-3({r}).4.2"),
                        format!(
                            "{} OID {} in a production message (MSH-11 is not D or T); \
                             identity.allow_test_ins accepts it",
                            oid.label(),
                            oid.oid()
                        ),
                    ))
                }
            }
        }
        match Nir::parse(&self.value) {
            Err(e) => out.push(Finding::new(
                ReasonCode::InsMalformed,
                format!("PID-3({r}).1"),
                e.to_string(),
            )),
            Ok(nir) if !nir.has_valid_key() => out.push(Finding::new(
                ReasonCode::InsKeyInvalid,
                format!("PID-3({r}).1"),
                format!(
                    "key {:02} does not match the body (expected {:02})",
                    nir.given_key(),
                    nir.key()
                ),
            )),
            Ok(_) => {}
        }
    }

    fn unknown_oid_detail(&self) -> String {
        const INS_OIDS: &str = "1.2.250.1.213.1.4.8 INS-NIR, .9 INS-NIA, .10 test, .11 demo";
        if self.authority.is_empty() {
            let hint = if InsOid::from_oid(&self.namespace).is_some() {
                " (the OID is in CX-4.1; it belongs in CX-4.2)"
            } else {
                ""
            };
            format!("no assigning authority OID in CX-4.2{hint}; expected {INS_OIDS}")
        } else if self.authority == "1.2.250.1.213.1.4.2" {
            format!("1.2.250.1.213.1.4.2 is the obsolete INS-C, not an INS; expected {INS_OIDS}")
        } else if crate::config::is_oid(&self.authority) {
            format!("{} is not an INS OID; expected {INS_OIDS}", self.authority)
        } else {
            format!("CX-4.2 is not an INS OID; expected {INS_OIDS}")
        }
    }
}

/// PID-3 of this PID segment.
fn pid_3<'a>(pid: Option<Segment<'a>>) -> Option<Field<'a>> {
    pid.and_then(|s| s.field(PID_3))
}

/// The INS candidates of PID-3, in order.
fn candidates<'f, 'a>(pid3: Option<&'f Field<'a>>) -> impl Iterator<Item = Candidate<'a>> + 'f
where
    'a: 'f,
{
    pid3.into_iter()
        .flat_map(|f| f.repetitions().enumerate())
        .filter_map(|(i, cx)| Candidate::read(i + 1, cx))
}

/// The candidate to use (see the module doc), reading PID-3 without allocating.
fn choose<'a>(pid3: Option<&Field<'a>>) -> Option<Candidate<'a>> {
    // `max_by_key` keeps the last of equals; the first is wanted, so compare on (rank, -index).
    candidates(pid3)
        .filter(|c| c.oid.is_some())
        .max_by_key(|c| (c.rank(), std::cmp::Reverse(c.repetition)))
}

/// The patient's INS (see the module doc for which one), or `None` when PID-3 has no candidate
/// under a known INS OID.
pub fn find<'a>(pid: Option<Segment<'a>>) -> Option<Ins<'a>> {
    choose(pid_3(pid).as_ref()).and_then(Candidate::into_ins)
}

/// The INS rules: `INS_MISSING`, `INS_OID_UNKNOWN`, `INS_MALFORMED`, `INS_KEY_INVALID`,
/// `INS_OID_TEST_IN_PRODUCTION`, `INS_CONFLICT`, all at once.
pub fn check(
    pid: Option<Segment<'_>>,
    production: bool,
    policy: &IdentityPolicy,
    out: &mut Vec<Finding>,
) {
    let pid3 = pid_3(pid);
    let pid3 = pid3.as_ref();
    if candidates(pid3).next().is_none() {
        let detail = if pid.is_none() {
            "no PID segment"
        } else {
            "no INS in PID-3 (CX-5 INS, or an empty CX-5 with an INS OID in CX-4.2; NH is not an INS)"
        };
        out.push(Finding::new(ReasonCode::InsMissing, "PID-3", detail));
        return;
    }
    match choose(pid3).filter(Candidate::is_valid) {
        Some(chosen) => {
            chosen.report(production, policy, out);
            let conflicting = candidates(pid3).filter(|c| c.is_valid() && c.value != chosen.value);
            for other in conflicting.take(MAX_REPORTED_PER_FIELD) {
                out.push(Finding::new(
                    ReasonCode::InsConflict,
                    format!("PID-3({}).1", other.repetition),
                    format!(
                        "a second, different INS; PID-3({}) would be used: \
                         keep only the patient's INS",
                        chosen.repetition
                    ),
                ));
            }
        }
        // Nothing usable: every candidate's problems, so that one correction fixes them all.
        None => candidates(pid3)
            .take(MAX_REPORTED_PER_FIELD)
            .for_each(|c| c.report(production, policy, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::{Charset, Message};

    fn pid(pid3: &str) -> String {
        format!("MSH|^~\\&|A|B|C|D|20240101||MDM^T02^MDM_T02|1|P|2.6\rPID|1||{pid3}\r")
    }

    fn chosen(pid3: &str) -> Option<(usize, InsOid)> {
        let text = pid(pid3);
        let msg = Message::parse(&text, Charset::Utf8).unwrap();
        find(msg.segment("PID")).map(|i| (i.repetition, i.oid))
    }

    const NIR8: &str = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO";
    const NIR10: &str = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO";

    macro_rules! chooses {
        ($($name:ident: $pid3:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                assert_eq!(chosen(&$pid3), $expected);
            }
        )+};
    }

    chooses! {
        ins_in_second_repetition: format!("1^^^CHU&1.2.3&ISO^PI~279035121518989^^^{NIR8}^INS") => Some((2, InsOid::Nir));
        ins_nir_type_code_accepted: format!("279035121518989^^^{NIR8}^INS-NIR") => Some((1, InsOid::Nir));
        empty_type_with_ins_oid_is_an_ins: format!("279035121518989^^^{NIR8}") => Some((1, InsOid::Nir));
        nh_under_the_nir_oid_is_not_an_ins: format!("279035121518989^^^{NIR8}^NH") => None;
        unknown_oid_is_not_chosen: "279035121518989^^^X&1.2.250.1.213.1.4.2&ISO^INS" => None;
        valid_production_preferred_over_test: format!("279035121518989^^^{NIR10}^INS~295109912611193^^^{NIR8}^INS") => Some((2, InsOid::Nir));
        valid_preferred_over_bad_key: format!("279035121518988^^^{NIR8}^INS~295109912611193^^^{NIR10}^INS") => Some((2, InsOid::Test));
        first_of_equals: format!("279035121518989^^^{NIR8}^INS~295109912611193^^^{NIR8}^INS") => Some((1, InsOid::Nir));
        invalid_still_named: format!("27903512151898^^^{NIR8}^INS") => Some((1, InsOid::Nir));
        no_pid3: "" => None;
    }

    #[test]
    fn processing_id() {
        for (msh11, production) in [
            ("P", true),
            ("D", false),
            ("T", false),
            ("T^A", false),
            ("", true),
            ("d", true),
            ("X", true),
        ] {
            let text = format!("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|{msh11}|2.5\r");
            let msg = Message::parse(&text, Charset::Utf8).unwrap();
            assert_eq!(is_production(&msg), production, "MSH-11 {msh11:?}");
        }
        let msg = Message::parse("MSH|^~\\&|A", Charset::Utf8).unwrap();
        assert!(is_production(&msg), "absent MSH-11");
    }

    #[test]
    fn oids_round_trip() {
        for oid in InsOid::ALL {
            assert_eq!(InsOid::from_oid(oid.oid()), Some(oid));
            assert!(oid.oid().starts_with(INS_ARC));
        }
        assert_eq!(InsOid::from_oid("1.2.250.1.213.1.4.8 "), None);
        assert_eq!(InsOid::from_oid("1.2.250.1.213.1.4.80"), None);
    }
}
