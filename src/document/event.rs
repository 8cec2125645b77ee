//! Which document messages exist and what they ask for (CI-SIS volet « Transmission de documents
//! CDA en HL7v2 » 2.1, `evenements-declenchants.md`):
//!
//! | request | MDM (HL7 2.6) | ORU (HL7 2.5) | ORC-1 | OBX-11 of the document OBX |
//! |---|---|---|---|---|
//! | initial transmission | `MDM^T02` | `ORU^R01` | `NW` | `F` |
//! | replacement | `MDM^T10` | `ORU^R01` | `RO` | `C` |
//! | deletion | `MDM^T04` | `ORU^R01` | `CA` | `D` |
//!
//! « La valeur du champ ORC-1 doit être cohérente avec la valeur du champ OBX-11 et dans le cas du
//! message MDM avec l'évènement déclenchant (T02, T04 ou T10). En cas d'incohérence … le message
//! HL7 sera rejeté. » An MDM's event gives the request; an ORU's comes from ORC-1 (or, without
//! ORC-1, from OBX-11). An empty ORC-1 or OBX-11 states nothing and so cannot disagree; a value
//! outside the table (`XO`, `P`, …) disagrees.

use crate::hl7::Message;

/// The two message structures of the volet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `MDM^T02` / `MDM^T10` / `MDM^T04` (HL7 2.6).
    Mdm,
    /// `ORU^R01` (HL7 2.5).
    Oru,
}

/// What the message asks for the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Initial transmission (T02, ORC-1 `NW`, OBX-11 `F`).
    New,
    /// A new version replacing an earlier one (T10, `RO`, `C`).
    Replace,
    /// Deletion of an earlier document (T04, `CA`, `D`).
    Delete,
}

impl Action {
    /// ORC-1 (order control, HL7 table 0119) of this action in the volet.
    pub fn order_control(self) -> &'static str {
        match self {
            Action::New => "NW",
            Action::Replace => "RO",
            Action::Delete => "CA",
        }
    }

    /// OBX-11 (observation result status, HL7 table 0085) of the document OBX.
    pub fn result_status(self) -> &'static str {
        match self {
            Action::New => "F",
            Action::Replace => "C",
            Action::Delete => "D",
        }
    }

    /// The MDM event (MSH-9.2).
    pub fn mdm_event(self) -> &'static str {
        match self {
            Action::New => "T02",
            Action::Replace => "T10",
            Action::Delete => "T04",
        }
    }

    fn from_order_control(orc1: &str) -> Option<Action> {
        [Action::New, Action::Replace, Action::Delete]
            .into_iter()
            .find(|a| orc1.eq_ignore_ascii_case(a.order_control()))
    }

    fn from_result_status(obx11: &str) -> Option<Action> {
        [Action::New, Action::Replace, Action::Delete]
            .into_iter()
            .find(|a| obx11.eq_ignore_ascii_case(a.result_status()))
    }

    fn from_mdm_event(event: &str) -> Option<Action> {
        [Action::New, Action::Replace, Action::Delete]
            .into_iter()
            .find(|a| event.eq_ignore_ascii_case(a.mdm_event()))
    }
}

/// The document message type of MSH-9, or `None` when the message carries no document this
/// volet knows (ADT, `MDM^T01`, `MDM^T11`, `ORU^R30`, …).
pub fn message_kind(msg: &Message<'_>) -> Option<(MessageKind, Option<Action>)> {
    let msh9 = msg.msh().field(9)?;
    let first = msh9.first();
    let code = first.component(1)?.raw().trim();
    let event = first.component(2).map_or("", |c| c.raw().trim());
    if code.eq_ignore_ascii_case("MDM") {
        Action::from_mdm_event(event).map(|a| (MessageKind::Mdm, Some(a)))
    } else if code.eq_ignore_ascii_case("ORU") && event.eq_ignore_ascii_case("R01") {
        Some((MessageKind::Oru, None))
    } else {
        None
    }
}

/// A disagreement between the event, ORC-1 and OBX-11, with the HL7 path at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inconsistency {
    pub path: String,
    pub detail: String,
}

/// Settles the action from the event (MDM), ORC-1 and the OBX-11 values of the document OBX
/// segments (`(n, value)`: the value of `OBX[n]-11`), and reports every disagreement.
pub fn settle(
    kind: MessageKind,
    mdm_action: Option<Action>,
    orc1: &str,
    obx11: &[(usize, &str)],
) -> Result<Action, Vec<Inconsistency>> {
    let mut problems = Vec::new();
    let orc1 = orc1.trim();
    let orc_action = if orc1.is_empty() {
        None
    } else {
        let a = Action::from_order_control(orc1);
        if a.is_none() {
            problems.push(Inconsistency {
                path: "ORC-1".into(),
                detail: format!(
                    "order control {orc1:?} is not one of the volet's NW (new), RO (replacement), \
                     CA (deletion)"
                ),
            });
        }
        a
    };
    let first_status = obx11
        .iter()
        .map(|(_, v)| v.trim())
        .find(|v| !v.is_empty())
        .and_then(Action::from_result_status);
    let action = match kind {
        MessageKind::Mdm => mdm_action,
        MessageKind::Oru => orc_action.or(first_status),
    };
    let Some(action) = action else {
        if problems.is_empty() {
            problems.push(Inconsistency {
                path: "ORC-1".into(),
                detail: "neither ORC-1 nor the document OBX-11 says whether the document is new \
                         (NW/F), a replacement (RO/C) or a deletion (CA/D)"
                    .into(),
            });
        }
        return Err(problems);
    };
    if let (MessageKind::Mdm, Some(orc)) = (kind, orc_action)
        && orc != action
    {
        problems.push(Inconsistency {
            path: "ORC-1".into(),
            detail: format!(
                "order control {orc1:?} disagrees with the event {}: expected {}",
                action.mdm_event(),
                action.order_control()
            ),
        });
    }
    for (n, value) in obx11 {
        let value = value.trim();
        if !value.is_empty() && !value.eq_ignore_ascii_case(action.result_status()) {
            let by = match kind {
                MessageKind::Mdm => format!("the event {}", action.mdm_event()),
                MessageKind::Oru => format!("ORC-1 {}", action.order_control()),
            };
            problems.push(Inconsistency {
                path: format!("OBX[{n}]-11"),
                detail: format!(
                    "document OBX-11 {value:?} disagrees with {by}: expected {}",
                    action.result_status()
                ),
            });
        }
    }
    if problems.is_empty() {
        Ok(action)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Charset;

    #[test]
    fn message_kinds() {
        let cases = [
            (
                "MDM^T02^MDM_T02",
                Some((MessageKind::Mdm, Some(Action::New))),
            ),
            (
                "MDM^T10^MDM_T02",
                Some((MessageKind::Mdm, Some(Action::Replace))),
            ),
            (
                "MDM^T04^MDM_T02",
                Some((MessageKind::Mdm, Some(Action::Delete))),
            ),
            ("MDM^T02", Some((MessageKind::Mdm, Some(Action::New)))),
            ("ORU^R01^ORU_R01", Some((MessageKind::Oru, None))),
            ("MDM^T01^MDM_T01", None),
            ("MDM^T11^MDM_T01", None),
            ("ORU^R30", None),
            ("ADT^A31^ADT_A05", None),
            ("", None),
        ];
        for (msh9, want) in cases {
            let text = format!("MSH|^~\\&|A|B|C|D|20240101||{msh9}|1|P|2.6\r");
            let msg = Message::parse(&text, Charset::Utf8).unwrap();
            assert_eq!(message_kind(&msg), want, "{msh9}");
        }
    }

    /// (kind, MDM event, ORC-1, OBX-11) → the action, or the paths of the inconsistencies.
    #[test]
    fn event_consistency() {
        use Action::*;
        use MessageKind::*;
        type Case = (
            MessageKind,
            Option<Action>,
            &'static str,
            &'static [&'static str],
            Result<Action, &'static [&'static str]>,
        );
        let cases: &[Case] = &[
            // MDM: the event decides; ORC-1 and OBX-11 must agree with it.
            (Mdm, Some(New), "NW", &["F"], Ok(New)),
            (Mdm, Some(Replace), "RO", &["C"], Ok(Replace)),
            (Mdm, Some(Delete), "CA", &["D"], Ok(Delete)),
            (Mdm, Some(New), "", &["F"], Ok(New)),
            (Mdm, Some(New), "NW", &[""], Ok(New)),
            (Mdm, Some(New), "nw", &["f"], Ok(New)),
            (Mdm, Some(New), "RO", &["F"], Err(&["ORC-1"])),
            (Mdm, Some(New), "NW", &["C"], Err(&["OBX[1]-11"])),
            (Mdm, Some(New), "NW", &["D"], Err(&["OBX[1]-11"])),
            (Mdm, Some(Replace), "NW", &["C"], Err(&["ORC-1"])),
            (Mdm, Some(Replace), "RO", &["F"], Err(&["OBX[1]-11"])),
            (Mdm, Some(Delete), "CA", &["F"], Err(&["OBX[1]-11"])),
            (Mdm, Some(Delete), "NW", &["D"], Err(&["ORC-1"])),
            (
                Mdm,
                Some(Delete),
                "RO",
                &["C"],
                Err(&["ORC-1", "OBX[1]-11"]),
            ),
            (Mdm, Some(New), "XO", &["F"], Err(&["ORC-1"])),
            (Mdm, Some(New), "NW", &["P"], Err(&["OBX[1]-11"])),
            // narrative: every document OBX is checked
            (Mdm, Some(New), "NW", &["F", "F", "C"], Err(&["OBX[3]-11"])),
            (Mdm, Some(New), "NW", &["F", "F", "F"], Ok(New)),
            // ORU: ORC-1 decides, OBX-11 must agree
            (Oru, None, "NW", &["F"], Ok(New)),
            (Oru, None, "RO", &["C"], Ok(Replace)),
            (Oru, None, "CA", &["D"], Ok(Delete)),
            (Oru, None, "NW", &["D"], Err(&["OBX[1]-11"])),
            (Oru, None, "CA", &["F"], Err(&["OBX[1]-11"])),
            (Oru, None, "RO", &["F"], Err(&["OBX[1]-11"])),
            (Oru, None, "SC", &["F"], Err(&["ORC-1"])),
            // ORU without ORC-1: OBX-11 decides
            (Oru, None, "", &["C"], Ok(Replace)),
            (Oru, None, "", &["D"], Ok(Delete)),
            (Oru, None, "", &[""], Err(&["ORC-1"])),
            (Oru, None, "", &[], Err(&["ORC-1"])),
            (Oru, None, "", &["X"], Err(&["ORC-1"])),
        ];
        for (kind, event, orc1, statuses, want) in cases {
            let obx11: Vec<(usize, &str)> = statuses
                .iter()
                .enumerate()
                .map(|(i, s)| (i + 1, *s))
                .collect();
            let got = settle(*kind, *event, orc1, &obx11)
                .map_err(|problems| problems.into_iter().map(|p| p.path).collect::<Vec<_>>());
            let want = want.map_err(|paths| paths.iter().map(|p| p.to_string()).collect());
            assert_eq!(
                got, want,
                "{kind:?} {event:?} ORC-1 {orc1:?} OBX-11 {statuses:?}"
            );
        }
    }
}
