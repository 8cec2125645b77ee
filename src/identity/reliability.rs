//! PID-32 Identity Reliability Code (HL7 table 0445 as extended for France: FR Core code systems
//! `v2-0445`, `fiabilite-identite`, `identity-status`; domain notes §1.5 and §2.4).
//!
//! PID-32 repeats: one RNIV *status* (`PROV`, `RECUP`, `VALI`, `QUAL`, or `VIDE` "not yet
//! qualified") plus *attributes* (`DOUT`, `FICT`, `HOMD`, …). Only `QUAL` lets health data be
//! referenced with the INS matricule (RNIV EXI SI 08, quoted by FR Core); the
//! `identity.accept_vali` switch accepts `VALI` for the DPIs that still send it for a qualified
//! identity, as every ANS PAM-FR example does.
//!
//! Decisions (the RNIV text on attributes was not readable; see the domain notes' open points):
//! * codes compare exactly: HL7 tables are upper case, `qual` is not `QUAL`;
//! * the status may be in any repetition; two different statuses are contradictory and the
//!   identity is then not qualified;
//! * attributes that say the identity is not this person's, or not a real one, forbid the INS
//!   whatever the status ([`IdentityAttribute::forbids_ins`]): `DOUT` douteuse, `FICT` fictive,
//!   `USUR` usurpée, `COLV` collision avérée (two people in one record), `DESA` désactivée,
//!   `INVA` invalidée, `ANOM` anonyme. The others (homonyms, potential or known duplicates,
//!   potential collision, filiation, hidden identity, verification flags) describe the record,
//!   not the identity's truth, and do not block;
//! * a code that is in no table is reported (`IDENTITY_DOUBTFUL` beside a status, or
//!   `IDENTITY_NOT_QUALIFIED` when there is no status): an identity-vigilance gate does not guess.

use super::MAX_REPORTED_PER_FIELD;
use crate::config::IdentityPolicy;
use crate::hl7::{Field, Segment};
use crate::reason::{Finding, ReasonCode};
use std::borrow::Cow;

/// PID-32 Identity Reliability Code.
pub const PID_32: usize = 32;

macro_rules! codes {
    ($(#[$doc:meta])* $name:ident { $( $(#[$vdoc:meta])* $variant:ident = $code:literal, )+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vdoc])* $variant, )+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$( $name::$variant, )+];

            /// The code as written in PID-32.
            pub fn code(self) -> &'static str {
                match self { $( $name::$variant => $code, )+ }
            }

            /// The code, compared exactly.
            pub fn from_code(code: &str) -> Option<$name> {
                match code { $( $code => Some($name::$variant), )+ _ => None }
            }
        }
    };
}

codes! {
    /// The four RNIV statuses of trust (EXI SI 07), and `VIDE` (not yet qualified).
    IdentityStatus {
        /// Identité provisoire: neither INSi-retrieved nor checked against an ID document.
        Prov = "PROV",
        /// Identité récupérée: retrieved from INSi, not checked against an ID document.
        Recup = "RECUP",
        /// Identité validée: checked against an ID document, not retrieved from INSi.
        Vali = "VALI",
        /// Identité qualifiée: both. The only status that lets the INS be used.
        Qual = "QUAL",
        /// Identité non encore qualifiée.
        Vide = "VIDE",
    }
}

codes! {
    /// Attributes of an identity (FR Core `v2-0445`).
    IdentityAttribute {
        /// Identité douteuse.
        Dout = "DOUT",
        /// Identité fictive.
        Fict = "FICT",
        /// Homonyme avéré.
        Homa = "HOMA",
        /// Homonyme détecté.
        Homd = "HOMD",
        /// Doublon.
        Doub = "DOUB",
        /// Désactivée.
        Desa = "DESA",
        /// Doublon potentiel.
        Dpot = "DPOT",
        /// Doublon avéré.
        Doua = "DOUA",
        /// Collision potentielle.
        Colp = "COLP",
        /// Collision avérée.
        Colv = "COLV",
        /// Filiation.
        Fili = "FILI",
        /// Identité cachée.
        Cach = "CACH",
        /// Identité anonyme.
        Anom = "ANOM",
        /// Vérifiée par le patient.
        Idver = "IDVER",
        /// Reçue d'un autre domaine.
        Recd = "RECD",
        /// Rapprochée dans un autre domaine.
        Idra = "IDRA",
        /// Usurpée.
        Usur = "USUR",
        /// Invalidée.
        Inva = "INVA",
    }
}

impl IdentityStatus {
    /// True when this status lets the INS be used under `policy`.
    pub fn is_qualified(self, policy: &IdentityPolicy) -> bool {
        match self {
            IdentityStatus::Qual => true,
            IdentityStatus::Vali => policy.accept_vali,
            IdentityStatus::Prov | IdentityStatus::Recup | IdentityStatus::Vide => false,
        }
    }

    fn label(self) -> &'static str {
        match self {
            IdentityStatus::Prov => "provisional",
            IdentityStatus::Recup => "retrieved, not checked against an identity document",
            IdentityStatus::Vali => "validated, not retrieved from INSi",
            IdentityStatus::Qual => "qualified",
            IdentityStatus::Vide => "not yet qualified",
        }
    }
}

impl IdentityAttribute {
    /// True for the attributes that forbid using the INS whatever the status (module doc).
    pub fn forbids_ins(self) -> bool {
        use IdentityAttribute::*;
        matches!(self, Dout | Fict | Usur | Colv | Desa | Inva | Anom)
    }

    fn label(self) -> &'static str {
        use IdentityAttribute::*;
        match self {
            Dout => "doubtful identity",
            Fict => "fictitious identity",
            Usur => "usurped identity",
            Colv => "proven collision: two people in one record",
            Desa => "deactivated identity",
            Inva => "invalidated identity",
            Anom => "anonymous identity",
            _ => "attribute",
        }
    }
}

/// One PID-32 value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReliabilityCode {
    Status(IdentityStatus),
    Attribute(IdentityAttribute),
}

impl ReliabilityCode {
    pub fn from_code(code: &str) -> Option<ReliabilityCode> {
        IdentityStatus::from_code(code)
            .map(ReliabilityCode::Status)
            .or_else(|| IdentityAttribute::from_code(code).map(ReliabilityCode::Attribute))
    }
}

/// A view of PID-32: borrowed, nothing decoded until asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reliability<'a> {
    field: Option<Field<'a>>,
}

impl<'a> Reliability<'a> {
    /// PID-32 of this PID segment.
    pub fn read(pid: Option<Segment<'a>>) -> Reliability<'a> {
        Reliability {
            field: pid.and_then(|s| s.field(PID_32)),
        }
    }

    /// The non-empty values with their 1-based repetition, as sent (component 1: PID-32 is IS in
    /// HL7 2.5 and CWE in 2.6+, whose first component is the code).
    pub fn codes(&self) -> impl Iterator<Item = (usize, Cow<'a, str>)> + '_ {
        self.field
            .iter()
            .flat_map(|f| f.repetitions().enumerate())
            .map(|(i, rep)| (i + 1, rep.text(1)))
            .filter(|(_, code)| !code.is_empty() && code != "\"\"")
    }

    /// True when PID-32 has no value.
    pub fn is_empty(&self) -> bool {
        self.codes().next().is_none()
    }

    /// The first status, wherever it is.
    pub fn status(&self) -> Option<IdentityStatus> {
        self.codes()
            .find_map(|(_, c)| IdentityStatus::from_code(&c))
    }

    /// The known attributes, in order.
    pub fn attributes(&self) -> impl Iterator<Item = IdentityAttribute> + '_ {
        self.codes()
            .filter_map(|(_, c)| IdentityAttribute::from_code(&c))
    }

    /// True when the identity is qualified under `policy` and nothing forbids its INS.
    pub fn is_qualified(&self, policy: &IdentityPolicy) -> bool {
        let mut findings = Vec::new();
        check(self, policy, &mut findings);
        findings.is_empty()
    }
}

/// The PID-32 rules: `IDENTITY_NOT_QUALIFIED` and `IDENTITY_DOUBTFUL`, all at once.
pub fn check(reliability: &Reliability<'_>, policy: &IdentityPolicy, out: &mut Vec<Finding>) {
    if reliability.is_empty() {
        out.push(Finding::new(
            ReasonCode::IdentityNotQualified,
            "PID-32",
            "PID-32 is empty: the identity status must be QUAL",
        ));
        return;
    }
    let mut status: Option<(usize, IdentityStatus)> = None;
    // Findings about single repetitions, at most MAX_REPORTED_PER_FIELD of each kind.
    let mut flagged: Vec<Finding> = Vec::new();
    let mut unknown: Vec<Finding> = Vec::new();
    for (r, code) in reliability.codes() {
        let finding = match ReliabilityCode::from_code(&code) {
            Some(ReliabilityCode::Status(s)) => match status {
                Some((first, s0)) if s0 != s => Finding::new(
                    ReasonCode::IdentityNotQualified,
                    format!("PID-32({r})"),
                    format!(
                        "a second identity status {} contradicts {} in PID-32({first})",
                        s.code(),
                        s0.code()
                    ),
                ),
                Some(_) => continue,
                None => {
                    status = Some((r, s));
                    continue;
                }
            },
            Some(ReliabilityCode::Attribute(a)) if a.forbids_ins() => Finding::new(
                ReasonCode::IdentityDoubtful,
                format!("PID-32({r})"),
                format!("{} ({}) forbids using the INS", a.code(), a.label()),
            ),
            Some(ReliabilityCode::Attribute(_)) => continue,
            None if unknown.len() < MAX_REPORTED_PER_FIELD => {
                unknown.push(Finding::new(
                    ReasonCode::IdentityDoubtful,
                    format!("PID-32({r})"),
                    format!(
                        "{} is not a code of table 0445 (PROV, RECUP, VALI, QUAL, VIDE and the \
                         attributes, upper case)",
                        shown(&code)
                    ),
                ));
                continue;
            }
            None => continue,
        };
        if flagged.len() < MAX_REPORTED_PER_FIELD {
            flagged.push(finding);
        }
    }
    out.append(&mut flagged);
    match status {
        None => {
            // Without a status an unknown code is most likely a misspelt one: say "not qualified".
            let what = if unknown.is_empty() {
                "no identity status in PID-32: it must be QUAL".to_owned()
            } else {
                let codes: Vec<_> = unknown.iter().map(|f| f.path.as_str()).collect();
                format!(
                    "no identity status in PID-32 ({} not a code of table 0445): it must be QUAL",
                    codes.join(", ")
                )
            };
            out.push(Finding::new(
                ReasonCode::IdentityNotQualified,
                "PID-32",
                what,
            ));
            return;
        }
        Some((r, s)) if !s.is_qualified(policy) => {
            let hint = if s == IdentityStatus::Vali {
                "; a site whose DPI sends VALI for a qualified identity sets identity.accept_vali"
            } else {
                ""
            };
            out.push(Finding::new(
                ReasonCode::IdentityNotQualified,
                format!("PID-32({r})"),
                format!("{} ({}) is not QUAL{hint}", s.code(), s.label()),
            ));
        }
        Some(_) => {}
    }
    out.append(&mut unknown);
}

/// A PID-32 code fit for a detail: short codes as they are, anything else summarised (hostile
/// input must not flood a report).
fn shown(code: &str) -> String {
    if code.len() <= 8 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        format!("`{code}`")
    } else {
        format!("a {}-character value", code.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::{Charset, Message};

    fn codes_for(pid32: &str, accept_vali: bool) -> Vec<(String, String)> {
        let text = format!("MSH|^~\\&|A\rPID|1{}|{pid32}\r", "|".repeat(30));
        let msg = Message::parse(&text, Charset::Utf8).unwrap();
        let rel = Reliability::read(msg.segment("PID"));
        let policy = IdentityPolicy {
            accept_vali,
            allow_test_ins: false,
        };
        let mut out = Vec::new();
        check(&rel, &policy, &mut out);
        assert_eq!(rel.is_qualified(&policy), out.is_empty());
        out.into_iter()
            .map(|f| (f.code.as_str().to_owned(), f.path))
            .collect()
    }

    macro_rules! pid32_gives {
        ($($name:ident: $pid32:expr, vali = $vali:expr => [$(($code:expr, $path:expr)),*];)+) => {$(
            #[test]
            fn $name() {
                let expected: Vec<(String, String)> =
                    vec![$(($code.to_owned(), $path.to_owned())),*];
                assert_eq!(codes_for($pid32, $vali), expected);
            }
        )+};
    }

    pid32_gives! {
        qual_is_qualified: "QUAL", vali = false => [];
        vali_refused_by_default: "VALI", vali = false => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
        vali_accepted_when_configured: "VALI", vali = true => [];
        prov_not_qualified: "PROV", vali = true => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
        recup_not_qualified: "RECUP", vali = true => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
        vide_not_qualified: "VIDE", vali = true => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
        empty_not_qualified: "", vali = true => [("IDENTITY_NOT_QUALIFIED", "PID-32")];
        explicit_null_not_qualified: "\"\"", vali = true => [("IDENTITY_NOT_QUALIFIED", "PID-32")];
        lower_case_is_not_a_code: "qual", vali = false => [("IDENTITY_NOT_QUALIFIED", "PID-32")];
        attribute_alone_has_no_status: "HOMD", vali = false => [("IDENTITY_NOT_QUALIFIED", "PID-32")];
        qual_dout_is_doubtful: "QUAL~DOUT", vali = false => [("IDENTITY_DOUBTFUL", "PID-32(2)")];
        fict_first_then_qual: "FICT~QUAL", vali = false => [("IDENTITY_DOUBTFUL", "PID-32(1)")];
        prov_fict_gives_both: "PROV~FICT", vali = false => [("IDENTITY_DOUBTFUL", "PID-32(2)"), ("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
        usurped_is_doubtful: "QUAL~USUR", vali = false => [("IDENTITY_DOUBTFUL", "PID-32(2)")];
        proven_collision_is_doubtful: "QUAL~COLV", vali = false => [("IDENTITY_DOUBTFUL", "PID-32(2)")];
        homonym_does_not_block: "QUAL~HOMD~HOMA", vali = false => [];
        duplicate_does_not_block: "QUAL~DPOT", vali = false => [];
        unknown_attribute_beside_qual: "QUAL~XYZ", vali = false => [("IDENTITY_DOUBTFUL", "PID-32(2)")];
        two_statuses_contradict: "QUAL~PROV", vali = false => [("IDENTITY_NOT_QUALIFIED", "PID-32(2)")];
        same_status_twice_is_fine: "QUAL~QUAL", vali = false => [];
        empty_repetitions_skipped: "~QUAL~", vali = false => [];
        cwe_component_one_is_the_code: "QUAL^Identité qualifiée^HL70445", vali = false => [];
    }

    #[test]
    fn every_code_round_trips() {
        for &s in IdentityStatus::ALL {
            assert_eq!(
                ReliabilityCode::from_code(s.code()),
                Some(ReliabilityCode::Status(s))
            );
        }
        for &a in IdentityAttribute::ALL {
            assert_eq!(
                ReliabilityCode::from_code(a.code()),
                Some(ReliabilityCode::Attribute(a))
            );
        }
    }

    #[test]
    fn a_flood_is_not_echoed() {
        assert_eq!(shown("ABCDEFGHIJKLMNOP"), "a 16-character value");
        assert_eq!(shown("XYZ"), "`XYZ`");
    }
}
