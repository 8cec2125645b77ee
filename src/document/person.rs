//! Health professionals named in the message (authors, legal authenticator, sender): XCN
//! (TXA-5, TXA-9, TXA-22, PRT-5, PV1-7) and CNN (the first component of OBR-32, NDL).
//!
//! XCN (HL7 v2.5 ch. 2A.89): 1 id, 2 family name, 3 given name, 4 further given names,
//! 5 suffix, 6 prefix, 7 degree, 9 assigning authority (HD: namespace & OID & type), 13 identifier
//! type (`IDNPS`, `RPPS`, `ADELI`, …). CNN (ch. 2A.11): the same as subcomponents, with the
//! assigning authority split into 9 namespace, 10 OID, 11 type, and no identifier type.
//!
//! Person ids in the CDA are national health professional identifiers (IDNPS) under OID
//! 1.2.250.1.71.4.2.1 (CI-SIS: "identifiant national PS", PRT-5.9.2 in the volet). An RPPS
//! number (11 digits) becomes IDNPS with the prefix `8`, an ADELI number (9 characters) with the
//! prefix `0` (the national identifier types of the ANS "annuaire" / CPS: 0 = ADELI, 8 = RPPS;
//! the ADELI rule comes from that annuaire convention, not from the volet — see the report). An
//! `IDNPS` value already carries its prefix. An id under another OID is kept under that OID.

use std::borrow::Cow;

/// OID of the national identifiers of health professionals (RPPS/ADELI based IDNPS).
pub const OID_PS: &str = "1.2.250.1.71.4.2.1";

/// A person as the CDA needs it: an instance identifier and a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person<'a> {
    /// `II/@root`.
    pub id_root: Cow<'a, str>,
    /// `II/@extension`.
    pub id_extension: Cow<'a, str>,
    pub family: Cow<'a, str>,
    pub given: Cow<'a, str>,
    /// XCN-6 prefix and XCN-7 degree as sent (`DR`, `MME`, `PR`…); the CDA keeps the ones its
    /// value sets know (JDV_J245 civilité → `prefix`, JDV_J246 titre → `suffix`).
    pub titles: [Cow<'a, str>; 2],
}

/// The parts of an XCN / CNN, decoded.
#[derive(Debug, Default)]
pub struct PersonParts<'a> {
    pub id: Cow<'a, str>,
    pub family: Cow<'a, str>,
    pub given: Cow<'a, str>,
    pub prefix: Cow<'a, str>,
    pub degree: Cow<'a, str>,
    pub authority_oid: Cow<'a, str>,
    pub id_type: Cow<'a, str>,
}

impl<'a> PersonParts<'a> {
    /// Reads an XCN (one repetition).
    pub fn from_xcn(rep: &crate::hl7::Repetition<'a>) -> PersonParts<'a> {
        PersonParts {
            id: rep.text(1),
            family: rep.component(2).map_or(Cow::Borrowed(""), |c| c.text(1)),
            given: rep.text(3),
            prefix: rep.text(6),
            degree: rep.text(7),
            authority_oid: rep.component(9).map_or(Cow::Borrowed(""), |c| c.text(2)),
            id_type: rep.text(13),
        }
    }

    /// Reads a CNN (a component whose subcomponents are the parts).
    pub fn from_cnn(c: &crate::hl7::Component<'a>) -> PersonParts<'a> {
        PersonParts {
            id: c.text(1),
            family: c.text(2),
            given: c.text(3),
            prefix: c.text(6),
            degree: c.text(7),
            authority_oid: c.text(10),
            id_type: Cow::Borrowed(""),
        }
    }

    /// The person, when the parts hold a usable identifier (see the module doc). A person
    /// without an id, or with a local id whose assigning authority has no OID, cannot be a CDA
    /// author: `None`.
    pub fn into_person(self) -> Option<Person<'a>> {
        let (root, extension) = national_id(&self.id, &self.id_type, &self.authority_oid)?;
        Some(Person {
            id_root: root,
            id_extension: extension,
            family: trimmed(self.family),
            given: trimmed(self.given),
            titles: [trimmed(self.prefix), trimmed(self.degree)],
        })
    }
}

/// Trimmed, still borrowed when it was.
fn trimmed(s: Cow<'_, str>) -> Cow<'_, str> {
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// The `(root, extension)` of a person identifier, or `None` when it cannot be one.
pub fn national_id<'a>(
    id: &Cow<'a, str>,
    id_type: &str,
    authority_oid: &str,
) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    let value = id.trim();
    if value.is_empty() || value == "\"\"" {
        return None;
    }
    let authority = authority_oid.trim();
    let digits = value.bytes().all(|b| b.is_ascii_digit());
    let national = |ext: Cow<'a, str>| Some((Cow::Borrowed(OID_PS), ext));
    let keep = || trimmed(id.clone());
    match id_type.trim().to_ascii_uppercase().as_str() {
        "IDNPS" => national(keep()),
        "RPPS" if value.len() == 11 => national(Cow::Owned(format!("8{value}"))),
        "RPPS" => national(keep()),
        "ADELI" if value.len() == 9 => national(Cow::Owned(format!("0{value}"))),
        "ADELI" => national(keep()),
        _ if authority == OID_PS || authority.is_empty() => {
            if digits && value.len() == 11 {
                // a bare RPPS number
                national(Cow::Owned(format!("8{value}")))
            } else if authority == OID_PS
                || (value.len() == 12 && (value.starts_with('8') || value.starts_with('0')))
            {
                national(keep())
            } else {
                None
            }
        }
        _ if crate::config::is_oid(authority) => Some((Cow::Owned(authority.to_owned()), keep())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids() {
        // (id, XCN-13, XCN-9.2) → (root, extension)
        type Case = (
            &'static str,
            &'static str,
            &'static str,
            Option<(&'static str, &'static str)>,
        );
        let cases: &[Case] = &[
            (
                "810000100015",
                "IDNPS",
                OID_PS,
                Some((OID_PS, "810000100015")),
            ),
            (
                "10000100015",
                "RPPS",
                OID_PS,
                Some((OID_PS, "810000100015")),
            ),
            ("10000100015", "RPPS", "", Some((OID_PS, "810000100015"))),
            ("810000100015", "RPPS", "", Some((OID_PS, "810000100015"))),
            ("751234567", "ADELI", "", Some((OID_PS, "0751234567"))),
            ("10000100015", "", OID_PS, Some((OID_PS, "810000100015"))),
            ("10000100015", "", "", Some((OID_PS, "810000100015"))),
            ("801234564895", "", "", Some((OID_PS, "801234564895"))), // ANS example TXA-22
            ("810000100015", "", OID_PS, Some((OID_PS, "810000100015"))),
            ("MED042", "", "", None), // local id, no authority
            (
                "MED042",
                "EI",
                "1.2.250.1.999.1.7",
                Some(("1.2.250.1.999.1.7", "MED042")),
            ),
            ("MED042", "", "CHU-LOCAL", None),
            ("", "IDNPS", OID_PS, None),
            ("\"\"", "IDNPS", OID_PS, None),
            (
                " 810000100015 ",
                "IDNPS",
                OID_PS,
                Some((OID_PS, "810000100015")),
            ),
        ];
        for (id, ty, auth, want) in cases {
            let got = national_id(&Cow::Borrowed(*id), ty, auth);
            let got = got.as_ref().map(|(r, e)| (r.as_ref(), e.as_ref()));
            assert_eq!(got, *want, "{id:?} {ty:?} {auth:?}");
        }
    }
}
