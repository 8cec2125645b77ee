//! Patient-administration messages (IHE PAM France 2.11, ADT): what dmpfeed keeps of them — the
//! patient's identity, their choice about DMP feeding, merges of patient records (issue 10).
//!
//! An ADT message never carries a document: it ends `recorded` (CONTRACT.md) and the pipeline
//! files what [`read`] found in the registry. What is read:
//!
//! | what | where | kept as |
//! |---|---|---|
//! | the patient (IPP) | PID-3 repetition typed `PI`, CX-1 | the registry's patient key |
//! | their identity | PID, through the identity gate ([`identity::assess`]) | qualified or not, and the message itself |
//! | information and opposition to DMP feeding | ZFA-9 `IO` (informed, opposed) / `INO` (informed, not opposed), ZFA-10 its date | opposed or not, since |
//! | merge (A40) | MRG-1, the prior (absorbed) IPP → the IPP of PID | the old IPP filed under the surviving one |
//!
//! # Decisions where the specifications leave room
//!
//! * **Which events.** PAM-FR puts the patient's current identity in the PID of *every* ADT
//!   message (PID is required in each of them). A28, A31, A08, A01, A04 are the identity events;
//!   the others (A02 transfer, A03 discharge, A11 cancel admit, …) carry the same PID and may carry
//!   ZFA, so they are read the same way: dmpfeed keeps the latest identity it was sent, whatever
//!   the event. A40 (merge) and A47 (change of the patient's identifier) are merges: MRG-1 names
//!   the IPP whose records now belong to the patient of PID.
//! * **Which IPP.** CX-1 of the PID-3 repetition typed `PI`, without its assigning authority: the
//!   document messages of the DPI and the ADT of the patient administration system name the same
//!   IPP domain, but not always with the same CX-4 spelling (namespace only, OID only).
//! * **A malformed ADT** — no PID, no IPP, a merge without MRG-1 or merging a patient into itself
//!   — is `rejected` with `HL7_SYNTAX` at the missing field: the message type is supported, the
//!   message is not well formed.
//! * **ZFA-9** values other than `IO` and `INO` (`NA` not asked, empty) say nothing: the patient's
//!   recorded choice is kept. A ZFA-10 that is not a date is ignored (the choice still applies).
//! * **Identity findings** of an ADT whose identity is not qualified are kept on its `recorded`
//!   report line (`codes` say why the identity cannot be used yet; the ACK is `AA` all the same).
//!
//! Pure: reads the message views only; no registry, no I/O.

use crate::config::Config;
use crate::convert::{Conversion, MessageHeader};
use crate::document::time::Ts;
use crate::hl7::{Message, Segment};
use crate::identity;
use crate::reason::{Finding, ReasonCode};

/// MSH-9.1 of a patient-administration message.
pub const MESSAGE_TYPE: &str = "ADT";

/// ZFA-9 "information et opposition à l'alimentation du DMP": informed, opposed.
pub const ZFA_9_OPPOSED: &str = "IO";
/// ZFA-9: informed, not opposed.
pub const ZFA_9_NOT_OPPOSED: &str = "INO";

/// What an ADT message asks dmpfeed to remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientUpdate {
    /// MSH-9.2 (`A31`).
    pub event: String,
    /// The patient: CX-1 of PID-3 typed `PI`.
    pub ipp: String,
    /// The INS as sent in PID-3 (valid or not: see `qualified`).
    pub ins: Option<String>,
    /// The identity gate's verdict on PID: usable for the DMP.
    pub qualified: bool,
    /// ZFA-9 / ZFA-10, when ZFA states a choice.
    pub opposition: Option<OppositionChoice>,
    /// For a merge (A40, A47): the prior IPP (MRG-1), now filed under [`PatientUpdate::ipp`].
    pub merged_from: Option<String>,
}

/// A patient's choice about DMP feeding (PAM-FR ZFA).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OppositionChoice {
    pub opposed: bool,
    /// ZFA-10, when it is a date.
    pub since: Option<jiff::civil::DateTime>,
}

/// True for a patient-administration message (MSH-9.1 `ADT`).
pub fn is_adt(msg: &Message<'_>) -> bool {
    msg.msh()
        .field(9)
        .and_then(|f| f.component(1))
        .is_some_and(|c| c.raw().trim() == MESSAGE_TYPE)
}

/// Whether the event is a merge of patient records: A40 (merge patient identifier list) or A47
/// (change patient identifier list).
fn is_merge(event: &str) -> bool {
    matches!(event, "A40" | "A47")
}

/// Reads an ADT message: `recorded` with its [`PatientUpdate`] in
/// [`Facts::update`](crate::recall::Facts::update), or `rejected` when it names no patient.
pub fn read(msg: &Message<'_>, header: MessageHeader, config: &Config) -> Conversion {
    let syntax = |path: &str, detail: &str| {
        Conversion::rejected(
            Some(header.clone()),
            Finding::new(ReasonCode::Hl7Syntax, path, detail),
        )
    };
    let event = msg
        .msh()
        .field(9)
        .and_then(|f| f.component(2))
        .map(|c| c.value().trim().to_owned())
        .unwrap_or_default();
    if msg.segment("PID").is_none() {
        return syntax("PID", "an ADT message must carry the patient (PID)");
    }
    let verdict = identity::assess(msg, &config.identity);
    let Some(ipp) = verdict
        .patient
        .ipp
        .as_ref()
        .map(|i| i.value.trim().to_owned())
    else {
        return syntax(
            "PID-3",
            "an ADT message must name the patient's IPP (PID-3 repetition typed PI)",
        );
    };
    let merged_from = if is_merge(&event) {
        match msg.segment("MRG").and_then(prior_ipp) {
            None => {
                return syntax(
                    "MRG-1",
                    "a merge must name the prior patient identifier (MRG-1)",
                );
            }
            Some(old) if old == ipp => {
                return syntax(
                    "MRG-1",
                    "a merge must name another patient than PID (MRG-1 is the IPP of PID-3)",
                );
            }
            Some(old) => Some(old),
        }
    } else {
        None
    };
    let update = PatientUpdate {
        event,
        ins: verdict
            .patient
            .ins
            .as_ref()
            .map(|i| i.value.trim().to_owned()),
        qualified: verdict.is_usable(),
        opposition: msg.segment("ZFA").and_then(opposition),
        merged_from,
        ipp,
    };
    let mut recorded = Conversion::recorded(header, verdict.findings);
    recorded.facts.ipp = Some(update.ipp.clone());
    recorded.facts.ins = update.ins.clone();
    recorded.facts.update = Some(update);
    recorded
}

/// MRG-1 (prior patient identifier list): CX-1 of the repetition typed `PI`, else of the first.
fn prior_ipp(mrg: Segment<'_>) -> Option<String> {
    let field = mrg.field(1)?;
    let typed = field
        .repetitions()
        .find(|r| r.text(5).trim() == identity::patient::IDENTIFIER_TYPE_IPP);
    let rep = typed.unwrap_or_else(|| field.first());
    let id = rep.text(1).trim().to_owned();
    (!id.is_empty() && id != "\"\"").then_some(id)
}

/// ZFA-9 and ZFA-10, when ZFA-9 states a choice.
fn opposition(zfa: Segment<'_>) -> Option<OppositionChoice> {
    let code = zfa.field(9)?.first().text(1);
    let opposed = match code.trim() {
        ZFA_9_OPPOSED => true,
        ZFA_9_NOT_OPPOSED => false,
        _ => return None,
    };
    let since = zfa
        .field(10)
        .map(|f| f.first().text(1))
        .and_then(|t| Ts::parse(t.trim()).ok())
        .and_then(|ts| ts.civil());
    Some(OppositionChoice { opposed, since })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7;

    use crate::reason::Outcome;

    fn read_text(text: &str) -> (Conversion, Option<PatientUpdate>) {
        let decoded = hl7::decode(text.as_bytes()).unwrap();
        let msg = decoded.parse().unwrap();
        assert!(is_adt(&msg));
        let c = read(&msg, MessageHeader::read(&msg), &Config::default());
        let update = c.facts.update.clone();
        (c, update)
    }

    const MSH: &str =
        "MSH|^~\\&|GAM|CHU|DPI|CHU|20240318091000||ADT^{EV}|C1|P|2.5|||||FRA|UNICODE UTF-8\r";
    const PID_QUAL: &str = "PID|1||100009^^^CHU&1.2.250.1.999.1.1&ISO^PI~299123523830147^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||GARNIER^OCÉANE^OCÉANE LÉA^^^^L||19991224|F|||^^RENNES^^^FRA^BDL^^35238|||||||||||||||||||N||QUAL\r";

    fn msg(event: &str, rest: &str) -> String {
        MSH.replace("{EV}", event) + rest
    }

    #[test]
    fn identity_events_record_the_ipp_ins_and_verdict() {
        for event in [
            "A28^ADT_A05",
            "A31^ADT_A05",
            "A08^ADT_A01",
            "A01^ADT_A01",
            "A03^ADT_A03",
        ] {
            let (c, u) = read_text(&msg(event, PID_QUAL));
            assert_eq!(c.outcome, Outcome::Recorded, "{event}");
            assert!(c.codes().is_empty(), "{event}: {:?}", c.findings);
            let u = u.unwrap();
            assert_eq!(u.ipp, "100009");
            assert_eq!(u.ins.as_deref(), Some("299123523830147"));
            assert!(u.qualified);
            assert_eq!(u.opposition, None);
            assert_eq!(u.merged_from, None);
        }
    }

    #[test]
    fn a_provisional_identity_is_recorded_with_its_reasons() {
        let text = msg("A31^ADT_A05", &PID_QUAL.replace("|QUAL\r", "|PROV\r"));
        let (c, u) = read_text(&text);
        assert_eq!(c.outcome, Outcome::Recorded);
        assert_eq!(c.codes(), [ReasonCode::IdentityNotQualified]);
        assert!(!u.unwrap().qualified);
    }

    #[test]
    fn zfa_9_states_the_choice_and_zfa_10_its_date() {
        let cases = [
            (
                "ZFA|ACTIF|20240316090000|||||||IO|20240316090000|INC|20240316090000\r",
                Some((true, true)),
            ),
            (
                "ZFA|ACTIF|20240306111154|||||||INO|20240306111154|IC|20240306111154\r",
                Some((false, true)),
            ),
            (
                "ZFA|ACTIF|20240306111154|||||||IO|pas une date\r",
                Some((true, false)),
            ),
            ("ZFA|ACTIF|20240311111154|||||||NA||NA|\r", None),
            ("ZFA|ACTIF\r", None),
        ];
        for (zfa, want) in cases {
            let (_, u) = read_text(&msg("A28^ADT_A05", &format!("{PID_QUAL}{zfa}")));
            let got = u
                .unwrap()
                .opposition
                .map(|o| (o.opposed, o.since.is_some()));
            assert_eq!(got, want, "{zfa}");
        }
    }

    #[test]
    fn a_merge_names_the_prior_ipp() {
        let text = msg(
            "A40^ADT_A39",
            &format!("{PID_QUAL}MRG|100099^^^CHU&1.2.250.1.999.1.1&ISO^PI\r"),
        );
        let (c, u) = read_text(&text);
        assert_eq!(c.outcome, Outcome::Recorded);
        assert_eq!(u.unwrap().merged_from.as_deref(), Some("100099"));
    }

    #[test]
    fn malformed_adt_messages_are_rejected_where_they_fail() {
        let cases = [
            (msg("A31^ADT_A05", "EVN||20240318\r"), "PID"),
            (
                msg(
                    "A31^ADT_A05",
                    "PID|1||299123523830147^^^X&1.2.250.1.213.1.4.8&ISO^INS\r",
                ),
                "PID-3",
            ),
            (msg("A40^ADT_A39", PID_QUAL), "MRG-1"),
            (msg("A40^ADT_A39", &format!("{PID_QUAL}MRG|\r")), "MRG-1"),
            (
                msg("A40^ADT_A39", &format!("{PID_QUAL}MRG|100009^^^CHU^PI\r")),
                "MRG-1",
            ),
        ];
        for (text, path) in cases {
            let (c, u) = read_text(&text);
            assert_eq!(c.outcome, Outcome::Rejected, "{path}");
            assert_eq!(c.codes(), [ReasonCode::Hl7Syntax]);
            assert_eq!(c.findings[0].path, path);
            assert!(u.is_none());
        }
    }

    #[test]
    fn the_ans_consent_examples_are_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/ans-hl7v2-exemples/Vague 2/Consentement_DMP_PAMFR");
        let cases = [
            (
                "ConsentementConsultation_NonOppositionAlimentation.er7",
                Some(false),
            ),
            (
                "NonConsentementConsultation_NonOppositionAlimentation.er7",
                Some(false),
            ),
            (
                "NonConsentementConsultation_OppositionAlimentation.er7",
                Some(true),
            ),
            (
                "NonRecueillieConsentementConsultation_NonOppositionAlimentation.er7",
                Some(false),
            ),
            (
                "NonRecueillieConsentementConsultation_NonRecueillieOppositionAlimentation.er7",
                None,
            ),
        ];
        for (file, opposed) in cases {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let frame = hl7::framing::frames(&bytes).next().unwrap();
            let decoded = hl7::decode(frame.bytes).unwrap();
            let msg = decoded.parse().unwrap();
            let c = read(&msg, MessageHeader::read(&msg), &Config::default());
            assert_eq!(c.outcome, Outcome::Recorded, "{file}");
            let u = c.facts.update.unwrap();
            assert_eq!(u.ipp, "000003");
            assert_eq!(u.opposition.map(|o| o.opposed), opposed, "{file}");
            // VALI with the default policy, and a test INS in a message marked D: not qualified.
            assert!(!u.qualified, "{file}");
        }
    }
}
