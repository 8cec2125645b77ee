//! What converting one message needs to know of earlier ones (issues 9 and 10), asked through
//! [`Recall`], and what the conversion leaves for the registry ([`Facts`]).
//!
//! The conversion stays a pure function of the message, the configuration and the answers to
//! these questions:
//!
//! | question | asked for | changes |
//! |---|---|---|
//! | where does this document go in its chain? | a new document or a replacement | `setId`, `versionNumber`; `REPLACED_DOCUMENT_UNKNOWN` |
//! | was this document converted here? | a deletion | `DELETED_DOCUMENT_UNKNOWN` |
//! | is the patient opposed to DMP feeding? | a document naming an IPP or an INS | `excluded`, `DMP_OPPOSITION` |
//! | what identity was recorded for the patient? | a document whose own PID cannot be used | converted with the recorded identity (`IDENTITY_FROM_REGISTRY`), or `held` |
//! | … and, without one for its IPP, for its INS? | the same, naming no IPP or one without a recorded identity | the same |
//!
//! Every question asked is kept with its answer ([`Facts::lookups`]). In bulk mode the workers
//! ask a read-only view of the registry, which does not yet hold the messages still in flight
//! before theirs; the one writer asks each question again, in input order, inside its
//! transaction ([`Lookup::holds`]) and converts the message again when an answer changed
//! (optimistic: the answers rarely change, a chain's messages in flight together or an ADT just
//! before a document being the exceptions). A question that could not be answered (the registry
//! unreadable for a moment) counts as changed.
//!
//! This module knows nothing of the registry's storage: the pipeline answers the questions.

use crate::adt::PatientUpdate;
use crate::document::Request;
use crate::document::event::MessageKind;
use crate::reason::{Finding, ReasonCode};

/// A question could not be answered (the reason, for the logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// The answers dmpfeed's memory gives a conversion.
pub trait Recall {
    /// Where a document goes in its chain (ids as resolved for the CDA: TXA-12 / OBR-3, and the
    /// replaced document's TXA-13).
    fn place(&self, document_id: &str, parent_id: Option<&str>) -> Result<Place, Unavailable>;

    /// Whether a document with this id was converted here.
    fn known(&self, document_id: &str) -> Result<bool, Unavailable>;

    /// Whether the patient is opposed to DMP feeding now: the one filed under this IPP (merges
    /// followed), or one whose recorded identity carries this INS (the DMP is keyed by INS: the
    /// same patient under no IPP or another one is still opposed).
    fn opposed(&self, ipp: Option<&str>, ins: Option<&str>) -> Result<bool, Unavailable>;

    /// The latest identity recorded for the patient from an ADT message.
    fn identity(&self, ipp: &str) -> Result<Option<RecordedIdentity>, Unavailable>;

    /// The latest identity recorded from ADT for the one patient record whose INS this is
    /// (none when several records carry it).
    fn identity_by_ins(&self, ins: &str) -> Result<Option<RecordedIdentity>, Unavailable>;
}

/// A document's place in its chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Place {
    /// The chain's setId when known; `None`: a new chain, whose setId is the document's own id
    /// (an original) or its parent's id (a replacement of a parent never seen).
    pub set_id: Option<String>,
    pub version: u32,
    /// For a replacement: whether the replaced document was converted here.
    pub parent_known: bool,
}

/// A patient's identity as an ADT message sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedIdentity {
    /// The ADT message, whose PID is read again with the current configuration.
    pub message: Vec<u8>,
    /// Its digest: what tells one recorded identity from another.
    pub hash: String,
}

/// One question asked, with the answer the conversion used (`None`: unavailable). Serialized
/// (JSON) so that the registry keeps the answers a message got: the same message converted again
/// (a rerun, a resend) is given them again and gives the same result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "q", rename_all = "snake_case")]
pub enum Lookup {
    Place {
        document_id: String,
        parent_id: Option<String>,
        answer: Option<Place>,
    },
    Known {
        document_id: String,
        answer: Option<bool>,
    },
    Opposed {
        /// Absent for a document naming no IPP.
        #[serde(default)]
        ipp: Option<String>,
        /// Absent in answers recorded before the INS was asked too.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ins: Option<String>,
        answer: Option<bool>,
    },
    Identity {
        ipp: String,
        answer: Option<IdentityAnswer>,
    },
    IdentityByIns {
        ins: String,
        answer: Option<IdentityAnswer>,
    },
}

/// What the identity question found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityAnswer {
    /// No ADT message was recorded for the patient.
    NoneRecorded,
    /// The recorded identity's hash.
    Recorded(String),
}

impl IdentityAnswer {
    fn of(identity: Option<&RecordedIdentity>) -> IdentityAnswer {
        match identity {
            None => IdentityAnswer::NoneRecorded,
            Some(i) => IdentityAnswer::Recorded(i.hash.clone()),
        }
    }
}

impl Lookup {
    /// The recorded answer to the same question, if this lookup asked it and got one.
    pub fn place_answer(&self, id: &str, parent: Option<&str>) -> Option<&Place> {
        match self {
            Lookup::Place {
                document_id,
                parent_id,
                answer: Some(a),
            } if document_id == id && parent_id.as_deref() == parent => Some(a),
            _ => None,
        }
    }

    pub fn known_answer(&self, id: &str) -> Option<bool> {
        match self {
            Lookup::Known {
                document_id,
                answer,
            } if document_id == id => *answer,
            _ => None,
        }
    }

    pub fn opposed_answer(&self, by_ipp: Option<&str>, by_ins: Option<&str>) -> Option<bool> {
        match self {
            Lookup::Opposed { ipp, ins, answer }
                if ipp.as_deref() == by_ipp && ins.as_deref() == by_ins =>
            {
                *answer
            }
            _ => None,
        }
    }

    /// Whether this lookup found no identity recorded for the patient.
    pub fn found_no_identity(&self, patient: &str) -> bool {
        matches!(
            self,
            Lookup::Identity { ipp, answer: Some(IdentityAnswer::NoneRecorded) } if ipp == patient
        )
    }

    /// Whether this lookup found no identity recorded for the INS.
    pub fn found_no_identity_by_ins(&self, by_ins: &str) -> bool {
        matches!(
            self,
            Lookup::IdentityByIns { ins, answer: Some(IdentityAnswer::NoneRecorded) } if ins == by_ins
        )
    }

    /// Asks the question again: `true` when the answer is still the one the conversion used.
    /// `Err` when `memory` cannot answer now.
    pub fn holds(&self, memory: &dyn Recall) -> Result<bool, Unavailable> {
        Ok(match self {
            Lookup::Place {
                document_id,
                parent_id,
                answer,
            } => answer.as_ref() == Some(&memory.place(document_id, parent_id.as_deref())?),
            Lookup::Known {
                document_id,
                answer,
            } => *answer == Some(memory.known(document_id)?),
            Lookup::Opposed { ipp, ins, answer } => {
                *answer == Some(memory.opposed(ipp.as_deref(), ins.as_deref())?)
            }
            Lookup::Identity { ipp, answer } => {
                *answer == Some(IdentityAnswer::of(memory.identity(ipp)?.as_ref()))
            }
            Lookup::IdentityByIns { ins, answer } => {
                *answer == Some(IdentityAnswer::of(memory.identity_by_ins(ins)?.as_ref()))
            }
        })
    }
}

/// What a conversion leaves for the registry: the questions it asked, and what the message says
/// about its patient and document. Empty for a conversion made without memory (`check`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Every question asked, in order, with its answer.
    pub lookups: Vec<Lookup>,
    /// The patient's IPP (CX-1 of PID-3 typed `PI`).
    pub ipp: Option<String>,
    /// The patient's INS as written (the recorded identity's when that one was used), or as sent
    /// for a held message.
    pub ins: Option<String>,
    /// The document's id (TXA-12 / OBR-3 as resolved for the CDA), or the deleted document's.
    pub document_id: Option<String>,
    /// That identifier as sent (`EI-1^EI-2^EI-3`, e.g. `DOC-A`): `None` when the id was derived
    /// from MSH-10.
    pub sent_id: Option<String>,
    /// The replaced document's id, for a replacement.
    pub parent_id: Option<String>,
    /// For an ADT message: what to record.
    pub update: Option<PatientUpdate>,
    /// Set by the pipeline when this message had been held: the held line's `source`.
    pub released_from: Option<String>,
}

impl Facts {
    /// The keys of a document message: its patient as PID names them, its document's ids.
    pub fn about(patient: &crate::identity::Patient<'_>, request: &Request<'_>) -> Facts {
        Facts {
            ipp: patient.ipp.as_ref().map(|i| i.value.trim().to_owned()),
            ins: patient.ins.as_ref().map(|i| i.value.trim().to_owned()),
            document_id: request.document_id().map(str::to_owned),
            sent_id: request.sent_id().map(str::to_owned),
            parent_id: match request {
                Request::Document(d) => d.parent_id.clone(),
                Request::Received(r) => r.parent_id.clone(),
                Request::Deletion { .. } | Request::Excluded(_) => None,
            },
            ..Facts::default()
        }
    }

    /// True when the pipeline must keep the message's bytes until its commit: to convert it
    /// again if an answer changed, or to record an ADT message.
    pub fn needs_message(&self) -> bool {
        !self.lookups.is_empty() || self.update.is_some()
    }

    /// Asks whether the patient — the IPP of PID, or `ins` (the INS the document would be sent
    /// under) — is opposed; a `DMP_OPPOSITION` finding when they are. Not asked for a deletion
    /// (withdrawing a document is always allowed) nor for a document the sender already marked
    /// not for the DMP.
    pub fn opposition(
        &mut self,
        memory: &dyn Recall,
        request: &Request<'_>,
        ins: Option<String>,
    ) -> Option<Finding> {
        if matches!(request, Request::Deletion { .. } | Request::Excluded(_)) {
            return None;
        }
        let ipp = self.ipp.clone();
        if ipp.is_none() && ins.is_none() {
            return None;
        }
        let answer = memory.opposed(ipp.as_deref(), ins.as_deref()).ok();
        self.lookups.push(Lookup::Opposed { ipp, ins, answer });
        answer.unwrap_or(false).then(|| {
            Finding::new(
                ReasonCode::DmpOpposition,
                "PID-3",
                "the patient opposed DMP feeding (PAM-FR ZFA-9 IO, recorded from an ADT message \
                 for this IPP or this INS)",
            )
        })
    }

    /// Asks for the identity recorded for the patient: by the IPP of PID; when PID names none,
    /// or none was recorded for it, by the INS of PID (held documents are indexed by IPP and
    /// INS, issue 10: a document naming the patient by INS only, or under another IPP, is
    /// released by the ADT that qualifies that INS). Whether that identity may stand in for
    /// PID's is the identity gate's decision, not this one's.
    pub fn recorded_identity(&mut self, memory: &dyn Recall) -> Option<RecordedIdentity> {
        if let Some(ipp) = self.ipp.clone() {
            let answer = memory.identity(&ipp).ok();
            self.lookups.push(Lookup::Identity {
                ipp,
                answer: answer.as_ref().map(|a| IdentityAnswer::of(a.as_ref())),
            });
            if let Some(found) = answer.flatten() {
                return Some(found);
            }
        }
        let ins = self.ins.clone()?;
        let answer = memory.identity_by_ins(&ins).ok();
        self.lookups.push(Lookup::IdentityByIns {
            ins,
            answer: answer.as_ref().map(|a| IdentityAnswer::of(a.as_ref())),
        });
        answer.flatten()
    }

    /// Asks where the document goes and writes the answer into the request (setId, version);
    /// for a deletion, asks whether the document is known. The warning, if any.
    pub fn place(
        &mut self,
        memory: &dyn Recall,
        kind: MessageKind,
        request: &mut Request<'_>,
    ) -> Option<Finding> {
        // A CDA received with its own setId keeps it (convert.rs `received_document`).
        let received = matches!(request, Request::Received(_));
        let (id, parent, set_id, version) = match request {
            Request::Document(d) => {
                let d = &mut **d;
                (&d.id, &d.parent_id, &mut d.set_id, &mut d.version)
            }
            Request::Received(r) => {
                let r = &mut **r;
                (&r.id, &r.parent_id, &mut r.set_id, &mut r.version)
            }
            Request::Deletion { document_id, .. } => {
                let answer = memory.known(document_id).ok();
                self.lookups.push(Lookup::Known {
                    document_id: document_id.clone(),
                    answer,
                });
                return (answer == Some(false)).then(|| {
                    Finding::new(
                        ReasonCode::DeletedDocumentUnknown,
                        own_id_path(kind),
                        "the deleted document was never converted here (the deletion is kept)",
                    )
                });
            }
            Request::Excluded(_) => return None,
        };
        let answer = memory.place(id, parent.as_deref()).ok();
        self.lookups.push(Lookup::Place {
            document_id: id.clone(),
            parent_id: parent.clone(),
            answer: answer.clone(),
        });
        let place = answer?;
        if let Some(s) = place.set_id {
            *set_id = s;
        }
        *version = place.version;
        (parent.is_some() && !place.parent_known).then(|| {
            Finding::new(
                ReasonCode::ReplacedDocumentUnknown,
                parent_path(kind),
                if received {
                    format!(
                        "the replaced document was never converted here: the CDA received keeps \
                         its own setId and versionNumber, or, without a setId, gets the replaced \
                         document's id as setId and version {}",
                        place.version
                    )
                } else {
                    format!(
                        "the replaced document was never converted here: setId from its id, version {}",
                        place.version
                    )
                },
            )
        })
    }
}

/// Where a message names its own document.
fn own_id_path(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Mdm => "TXA-12",
        MessageKind::Oru => "OBR-3",
    }
}

/// Where a message names the document it replaces.
fn parent_path(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Mdm => "TXA-13",
        MessageKind::Oru => "OBR-3",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A memory with fixed answers, counting questions.
    #[derive(Default)]
    struct Fixed {
        place: Option<Place>,
        known: bool,
        opposed: bool,
        asked: Cell<usize>,
    }

    impl Recall for Fixed {
        fn place(&self, _: &str, _: Option<&str>) -> Result<Place, Unavailable> {
            self.asked.set(self.asked.get() + 1);
            self.place.clone().ok_or_else(|| Unavailable("down".into()))
        }
        fn known(&self, _: &str) -> Result<bool, Unavailable> {
            Ok(self.known)
        }
        fn opposed(&self, _: Option<&str>, _: Option<&str>) -> Result<bool, Unavailable> {
            Ok(self.opposed)
        }
        fn identity_by_ins(&self, _: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
            Ok(None)
        }
        fn identity(&self, _: &str) -> Result<Option<RecordedIdentity>, Unavailable> {
            Ok(None)
        }
    }

    #[test]
    fn a_lookup_holds_while_the_answer_is_the_same() {
        let place = Place {
            set_id: Some("1.2.3".into()),
            version: 3,
            parent_known: true,
        };
        let memory = Fixed {
            place: Some(place.clone()),
            ..Fixed::default()
        };
        let asked = |answer| Lookup::Place {
            document_id: "1.2.4".into(),
            parent_id: Some("1.2.3".into()),
            answer,
        };
        assert_eq!(asked(Some(place.clone())).holds(&memory), Ok(true));
        let moved = Place {
            version: 4,
            ..place.clone()
        };
        assert_eq!(asked(Some(moved)).holds(&memory), Ok(false));
        assert_eq!(
            asked(None).holds(&memory),
            Ok(false),
            "unanswered: ask again"
        );
        let down = Fixed::default();
        assert!(asked(Some(place)).holds(&down).is_err());
        let opposed = Lookup::Opposed {
            ipp: Some("1".into()),
            ins: Some("2".into()),
            answer: Some(false),
        };
        assert_eq!(opposed.holds(&memory), Ok(true));
        let now_opposed = Fixed {
            opposed: true,
            ..Fixed::default()
        };
        assert_eq!(opposed.holds(&now_opposed), Ok(false));
    }

    #[test]
    fn answers_survive_their_json_round_trip() {
        let lookups = vec![
            Lookup::Identity {
                ipp: "1".into(),
                answer: Some(IdentityAnswer::NoneRecorded),
            },
            Lookup::Identity {
                ipp: "2".into(),
                answer: None,
            },
            Lookup::Identity {
                ipp: "3".into(),
                answer: Some(IdentityAnswer::Recorded("ab".into())),
            },
            Lookup::Place {
                document_id: "1.2".into(),
                parent_id: None,
                answer: Some(Place {
                    set_id: None,
                    version: 1,
                    parent_known: false,
                }),
            },
            Lookup::Known {
                document_id: "1.3".into(),
                answer: Some(false),
            },
            Lookup::Opposed {
                ipp: Some("1".into()),
                ins: None,
                answer: None,
            },
            Lookup::Opposed {
                ipp: None,
                ins: Some("2".into()),
                answer: Some(true),
            },
        ];
        let json = serde_json::to_string(&lookups).unwrap();
        let back: Vec<Lookup> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, lookups, "{json}");
        assert!(back[0].found_no_identity("1") && !back[1].found_no_identity("2"));
        // An answer recorded before the INS was asked too still reads, as an IPP-only question.
        let old: Lookup =
            serde_json::from_str(r#"{"q":"opposed","ipp":"1","answer":true}"#).unwrap();
        assert_eq!(old.opposed_answer(Some("1"), None), Some(true));
        assert_eq!(old.opposed_answer(Some("1"), Some("2")), None);
    }

    #[test]
    fn a_deletion_asks_no_opposition_question() {
        let memory = Fixed {
            opposed: true,
            ..Fixed::default()
        };
        let mut facts = Facts::default();
        let request = Request::Deletion {
            document_id: "1.2.3".into(),
            sent_id: "3^^1.2".into(),
        };
        assert_eq!(facts.opposition(&memory, &request, Some("2".into())), None);
        assert!(facts.lookups.is_empty());
        assert!(!facts.needs_message());
    }
}
