//! The identity gate: only a qualified INS may feed the DMP.
//!
//! "L'établissement n'alimente le DMP que des patients dont l'INS est qualifiée": RNIV EXI SI 08,
//! quoted by FR Core — only the status *identité qualifiée* lets health data be referenced with
//! the INS matricule. [`assess`] reads the patient from PID (IHE PAM France 2.11) and applies
//! every rule; a document whose verdict is not [usable](IdentityVerdict::is_usable) is *held*
//! (kept byte for byte, not sent) with all its reasons, so that an identity-vigilance clerk can
//! fix the identity in one go.
//!
//! | module | job | reason codes |
//! |---|---|---|
//! | [`nir`] | NIR/NIA shape and key (`2A` → 19, `2B` → 18) | — |
//! | [`ins`] | the INS in PID-3, its OID, production vs test (MSH-11) | `INS_MISSING`, `INS_MALFORMED`, `INS_KEY_INVALID`, `INS_OID_UNKNOWN`, `INS_OID_TEST_IN_PRODUCTION`, `INS_CONFLICT` |
//! | [`reliability`] | PID-32 statuses and attributes | `IDENTITY_NOT_QUALIFIED`, `IDENTITY_DOUBTFUL` |
//! | [`patient`] | the traits read from PID | — |
//! | [`traits`] | the strict traits are present | `TRAIT_MISSING` |
//! | [`consistency`] | NIR ↔ sex, birth date, birthplace | `NIR_SEX_MISMATCH`, `NIR_BIRTHDATE_MISMATCH`, `NIR_BIRTHPLACE_MISMATCH` (warning) |
//!
//! Sources: `shared/domain/hl7v2-fr-ins.md` (facts and their sources), CONTRACT.md (codes).
//!
//! # Every reason at once
//!
//! No rule stops the others: without an INS, PID-32 and the traits are still checked; a wrong key
//! does not hide a sex mismatch (consistency runs on any well-formed matricule). Findings come in
//! a fixed order: INS, PID-32, traits, consistency. Their paths name the real repetition
//! (`PID-3(2).1`, `PID-32(2)`, `PID-11(2).9`, `PID-5(1).3`); a trait that is missing gets the
//! path where it should be (`PID-7`, `PID-5(1).2`, or `PID-11` when there is no BDL repetition
//! at all). At most [`MAX_REPORTED_PER_FIELD`] findings are made per repeating field. Details
//! never carry the INS, names, the birth date or the birthplace: a report may
//! be logged; a clerk reads the message itself at the path.
//!
//! # Decisions where the specifications are silent
//!
//! * **Several INS in PID-3.** The first valid one (known OID, well formed, right key) under a
//!   production OID is used, else the first valid test/demo one. Other repetitions that are
//!   broken, obsolete or the same matricule again are ignored when a valid INS exists; a
//!   *different* valid matricule is `INS_CONFLICT` (held: which one is the patient's is for a
//!   human to say). When no candidate is valid, every candidate's problems are reported.
//!   `INS_CONFLICT` is an addition to CONTRACT.md's list (a `held` code).
//! * **Which repetition is an INS.** CX-5 `INS` (or `INS-NIR`, `INS-NIA`, `INS-NIR-TEST`,
//!   `INS-NIR-DEMO`), or an empty CX-5 with an OID under `1.2.250.1.213.1.4.` in CX-4.2. `NH`
//!   under the NIR OID is the social-security number, not an INS; `INS-C` typed ids are the
//!   obsolete computed INS and are not candidates. An INS-typed id, or an empty-typed one under
//!   the INS arc, whose OID is not one of the four (e.g. `….4.2` INS-C) is `INS_OID_UNKNOWN`.
//! * **Test and demo INS** (`….4.10`, `….4.11`) are production unless MSH-11.1 is `D` or `T`
//!   (empty and unknown count as production); `identity.allow_test_ins` lets them through.
//! * **PID-32.** Exact, upper-case codes. `QUAL` is qualified; `VALI` too with
//!   `identity.accept_vali`; `PROV`, `RECUP`, `VIDE`, no status, an empty PID-32 and two
//!   contradictory statuses are `IDENTITY_NOT_QUALIFIED`. `DOUT`, `FICT`, `USUR`, `COLV`, `DESA`,
//!   `INVA`, `ANOM` are `IDENTITY_DOUBTFUL` whatever the status; a code in no table beside a
//!   status is `IDENTITY_DOUBTFUL` too (see [`reliability`]).
//! * **PID-7** of 4 or 6 digits (year, year-month) is a present trait; consistency compares what
//!   is there. A PID-7 that is not a date is `TRAIT_MISSING`.
//! * **PID-8 other than `M`/`F`** with a NIR sex digit 1/2 is `NIR_SEX_MISMATCH` (INSi returns
//!   only M or F for an INS identity); without a usable NIR only its presence is checked.
//!
//! This module reads HL7 only through the message views ([`crate::hl7`]) and knows nothing of
//! CDA or the pipeline. [`assess`] allocates nothing on a clean message (no finding, no escape
//! sequence in the values read): the findings list is the only allocation it may make.
//!
//! ```
//! use dmpfeed::{config::IdentityPolicy, hl7, identity};
//! let raw = "MSH|^~\\&|DPI|CHU|PFI|CHU|20240101||MDM^T02^MDM_T02|42|P|2.6\r\
//! PID|1||279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||\
//! PAT-TROIS^DOMINIQUE^DOMINIQUE^^^^L||19790328|F|||^^^^^^BDL^^51215|||||||||||||||||||||QUAL\r";
//! let decoded = hl7::decode(raw.as_bytes()).unwrap();
//! let msg = decoded.parse().unwrap();
//! let policy = IdentityPolicy { accept_vali: false, allow_test_ins: false };
//! let verdict = identity::assess(&msg, &policy);
//! assert!(verdict.is_usable(), "{:?}", verdict.findings);
//! assert_eq!(verdict.patient.ins.unwrap().oid, identity::InsOid::Nir);
//! ```

pub mod consistency;
pub mod ins;
pub mod nir;
pub mod patient;
pub mod reliability;
pub mod traits;

pub use ins::{Ins, InsOid, is_production};
pub use nir::{Nir, NirError};
pub use patient::{Address, Identifier, Patient, TraitPlaces, read_patient};
pub use reliability::{IdentityAttribute, IdentityStatus, Reliability, ReliabilityCode};

use crate::config::IdentityPolicy;
use crate::hl7::Message;
use crate::reason::Finding;

/// At most this many repetitions of one field are reported (INS candidates, PID-32 codes): a
/// hostile field of a million repetitions must not become a million findings. A clerk who fixes
/// those sees the next ones on resubmission.
pub const MAX_REPORTED_PER_FIELD: usize = 16;

/// The patient of a message and what stands between their identity and the DMP.
#[derive(Debug, Clone)]
pub struct IdentityVerdict<'a> {
    pub patient: Patient<'a>,
    /// Every finding, blocking ones and warnings, in rule order.
    pub findings: Vec<Finding>,
}

impl IdentityVerdict<'_> {
    /// True when no finding blocks: the INS and the traits may be sent to the DMP.
    pub fn is_usable(&self) -> bool {
        self.findings.iter().all(Finding::is_warning)
    }

    /// The findings that hold the document.
    pub fn blocking(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.is_warning())
    }

    /// The findings that do not block.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_warning())
    }
}

/// Reads the patient of `msg` and applies every identity rule under `policy`.
pub fn assess<'a>(msg: &Message<'a>, policy: &IdentityPolicy) -> IdentityVerdict<'a> {
    let patient = read_patient(msg);
    let pid = msg.segment("PID");
    let mut findings = Vec::new();
    ins::check(pid, is_production(msg), policy, &mut findings);
    reliability::check(&patient.reliability, policy, &mut findings);
    traits::check(&patient, &mut findings);
    if let Some(nir) = patient.ins.as_ref().and_then(Ins::nir) {
        consistency::check(&nir, &patient, &mut findings);
    }
    IdentityVerdict { patient, findings }
}
