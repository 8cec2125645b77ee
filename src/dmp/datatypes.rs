//! The HL7 v2 composite values the artefacts write, in the message and in the XDS metadata
//! (whose person, organisation and identifier slots are HL7 v2 values too, IHE ITI TF-3
//! §4.2.3.1.7): XCN, XON, CX, EI, CWE. Every part that comes from a document or a message is
//! escaped for the standard delimiters `|^~\&` (HL7 v2.5 §2.7), so that a name holding `^` or
//! `&` cannot shift the components.
//!
//! Shapes follow the CI-SIS volet « Transmission de documents CDA en HL7v2 » 2.1 (PRT-5,
//! PRT-8) and the French XDS practice: a health professional
//! `801234567897^NOM^Prénom^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS`, an organisation
//! `Nom^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1750803447`.

use crate::cda::received::{HeaderPerson, InstanceId};
use crate::document::person::OID_PS;
use crate::hl7::{Delimiters, escape::escape};
use std::borrow::Cow;

/// A value escaped for the standard delimiters.
pub fn esc(value: &str) -> Cow<'_, str> {
    escape(value, &Delimiters::default())
}

/// A person: an instance identifier and a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonId {
    pub root: String,
    pub extension: String,
    pub family: String,
    pub given: String,
}

impl From<&HeaderPerson> for PersonId {
    fn from(p: &HeaderPerson) -> PersonId {
        PersonId {
            root: p.id.root.clone(),
            extension: p.id.extension.clone(),
            family: p.family.clone(),
            given: p.given.clone(),
        }
    }
}

impl From<&crate::document::person::Person<'_>> for PersonId {
    fn from(p: &crate::document::person::Person<'_>) -> PersonId {
        PersonId {
            root: p.id_root.trim().to_owned(),
            extension: p.id_extension.trim().to_owned(),
            family: p.family.trim().to_owned(),
            given: p.given.trim().to_owned(),
        }
    }
}

/// Components joined by `^`, the empty trailing ones left out. The parts must already be
/// escaped (or be delimiter-free constants).
fn components(parts: &[&str]) -> String {
    let last = parts
        .iter()
        .rposition(|p| !p.is_empty())
        .map_or(0, |i| i + 1);
    parts[..last].join("^")
}

/// An assigning authority (HD) `&<OID>&ISO`, empty without an OID.
fn authority(root: &str) -> String {
    if root.is_empty() {
        String::new()
    } else {
        format!("&{}&ISO", esc(root))
    }
}

/// XCN: 1 id, 2 family name, 3 given name, 9 assigning authority, 10 name type `D`,
/// 13 identifier type (`IDNPS` under the national health professional OID).
pub fn xcn(p: &PersonId) -> String {
    let (id, family, given) = (esc(&p.extension), esc(&p.family), esc(&p.given));
    let aa = authority(&p.root);
    let id_type = if p.root == OID_PS { "IDNPS" } else { "" };
    components(&[
        &id, &family, &given, "", "", "", "", "", &aa, "D", "", "", id_type,
    ])
}

/// XON: 1 organisation name, 6 assigning authority, 7 identifier type, 10 identifier.
pub fn xon(name: &str, root: &str, id_type: &str, id: &str) -> String {
    let (name, aa, id) = (esc(name), authority(root), esc(id));
    components(&[&name, "", "", "", "", &aa, id_type, "", "", &id])
}

/// CX: 1 value, 4 assigning authority (`&<OID>&ISO`), as IHE XDS restricts it (TF-3
/// Table 4.2.3.1.7-2: only CX.1 and CX.4).
pub fn cx(value: &str, root: &str) -> String {
    format!("{}^^^{}", esc(value), authority(root))
}

/// EI as TXA-12 / TXA-13 take a CDA id (volet, « Les métadonnées du document »): with an
/// extension `ext^^root^ISO`, otherwise the OID alone in EI-1.
pub fn ei(id: &InstanceId) -> String {
    if id.extension.is_empty() {
        esc(&id.root).into_owned()
    } else {
        format!("{}^^{}^ISO", esc(&id.extension), esc(&id.root))
    }
}

/// CWE / CE: code, label, coding system.
pub fn cwe(code: &str, label: &str, system: &str) -> String {
    components(&[&esc(code), &esc(label), &esc(system)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(root: &str, ext: &str, family: &str, given: &str) -> PersonId {
        PersonId {
            root: root.into(),
            extension: ext.into(),
            family: family.into(),
            given: given.into(),
        }
    }

    #[test]
    fn values_are_shaped_and_escaped() {
        let cases = [
            (
                xcn(&person(OID_PS, "801234564895", "Eric", "Thomas")),
                "801234564895^Eric^Thomas^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS",
            ),
            (
                xcn(&person("1.2.3", "X1", "D'AR^C|Y", "")),
                "X1^D'AR\\S\\C\\F\\Y^^^^^^^&1.2.3&ISO^D",
            ),
            (xcn(&person("", "", "", "")), "^^^^^^^^^D"),
            (
                xon("Organisation-Y", "1.2.250.1.71.4.2.2", "FINEG", "300017985"),
                "Organisation-Y^^^^^&1.2.250.1.71.4.2.2&ISO^FINEG^^^300017985",
            ),
            (
                xon("A & B", "1.2.250.1.71.4.2.2", "IDNST", "1990000010"),
                "A \\T\\ B^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^1990000010",
            ),
            (
                cx("268046938104575", "1.2.250.1.213.1.4.8"),
                "268046938104575^^^&1.2.250.1.213.1.4.8&ISO",
            ),
            (
                ei(&InstanceId {
                    root: "1.2.250.2345.3245.13".into(),
                    extension: "58132".into(),
                }),
                "58132^^1.2.250.2345.3245.13^ISO",
            ),
            (
                ei(&InstanceId {
                    root: "1.2.250.2345.3245.13.58132".into(),
                    extension: String::new(),
                }),
                "1.2.250.2345.3245.13.58132",
            ),
            (
                cwe("18748-4", "CR d'imagerie médicale", "LN"),
                "18748-4^CR d'imagerie médicale^LN",
            ),
            (cwe("X", "", ""), "X"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
