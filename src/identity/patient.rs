//! The patient as PID describes it (IHE PAM France 2.11; domain notes §1.1–1.5): identifiers,
//! the strict traits and the address, borrowed from the message.
//!
//! | what | where |
//! |---|---|
//! | INS | PID-3, see [`super::ins`] |
//! | IPP | PID-3 repetition with CX-5 `PI`: CX-1, CX-4.1 namespace, CX-4.2 root |
//! | birth name, first birth given name, birth given names | PID-5 repetition with XPN-7 `L`: XPN-1 (FN.1), XPN-2, XPN-3 |
//! | used name and given name | PID-5 repetition with XPN-7 `D`: XPN-1 (FN.1), XPN-2 |
//! | birth date | PID-7.1 as sent (`YYYY[MM[DD[HHMM…]]]`) |
//! | administrative sex | PID-8 |
//! | birthplace | PID-11 repetition with XAD-7 `BDL`: XAD-9 INSEE code, XAD-3 city |
//! | address | first other non-empty PID-11 repetition |
//! | identity reliability | PID-32, see [`super::reliability`] |
//!
//! A value that is empty, blank or the HL7 explicit null `""` is absent (`None`). Values are
//! kept as sent — never trimmed, re-cased or transliterated: the INS traits are compared and
//! transmitted as INSi returned them (domain notes §2.5). Escapes are decoded; nothing is
//! allocated unless a value holds an escape sequence.

use super::ins::{self, Ins};
use super::reliability::Reliability;
use crate::hl7::{Component, Message, Repetition, Segment};
use std::borrow::Cow;

/// PID-5 Patient Name.
pub const PID_5: usize = 5;
/// PID-7 Date/Time of Birth.
pub const PID_7: usize = 7;
/// PID-8 Administrative Sex.
pub const PID_8: usize = 8;
/// PID-11 Patient Address.
pub const PID_11: usize = 11;

/// XPN-7 name type code: nom de naissance (legal/birth name).
pub const NAME_TYPE_BIRTH: &str = "L";
/// XPN-7 name type code: nom utilisé (display/used name).
pub const NAME_TYPE_USED: &str = "D";
/// XAD-7 address type: birth delivery location, the birthplace.
pub const ADDRESS_TYPE_BIRTHPLACE: &str = "BDL";
/// CX-5 identifier type of the IPP (patient internal identifier).
pub const IDENTIFIER_TYPE_IPP: &str = "PI";

/// A CX identifier other than the INS (the IPP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier<'a> {
    /// CX-1.
    pub value: Cow<'a, str>,
    /// CX-4.1 (assigning authority namespace), when given.
    pub namespace: Option<Cow<'a, str>>,
    /// CX-4.2 (assigning authority universal id, an OID for `ISO`), when given.
    pub root: Option<Cow<'a, str>>,
    /// 1-based repetition of PID-3.
    pub repetition: usize,
}

/// A postal address (XAD), for the CDA `recordTarget/patientRole/addr`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address<'a> {
    /// XAD-1.1 street or mailing address.
    pub street: Option<Cow<'a, str>>,
    /// XAD-1.2 street name, when the sender splits the street line.
    pub street_name: Option<Cow<'a, str>>,
    /// XAD-1.3 dwelling number, when the sender splits the street line.
    pub house_number: Option<Cow<'a, str>>,
    /// XAD-2 other designation (building, lieu-dit).
    pub other_designation: Option<Cow<'a, str>>,
    /// XAD-3.
    pub city: Option<Cow<'a, str>>,
    /// XAD-5.
    pub postal_code: Option<Cow<'a, str>>,
    /// XAD-6 (ISO 3166 alpha-3, `FRA`).
    pub country: Option<Cow<'a, str>>,
    /// XAD-7 address type (`H` home, …).
    pub kind: Option<Cow<'a, str>>,
    /// 1-based repetition of PID-11.
    pub repetition: usize,
}

/// Where the repeating traits were found (1-based repetitions), for the paths of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraitPlaces {
    /// The PID-5 repetition of type `L`.
    pub birth_name: Option<usize>,
    /// The PID-5 repetition of type `D`.
    pub used_name: Option<usize>,
    /// The PID-11 repetition of type `BDL`.
    pub birthplace: Option<usize>,
}

/// The patient of a message, borrowed from it.
#[derive(Debug, Clone, Default)]
pub struct Patient<'a> {
    /// True when the message has a PID segment at all.
    pub has_pid: bool,
    /// The INS candidate chosen in PID-3 ([`super::ins`]), valid or not: check the verdict.
    pub ins: Option<Ins<'a>>,
    pub ipp: Option<Identifier<'a>>,
    /// Nom de naissance.
    pub birth_name: Option<Cow<'a, str>>,
    /// Premier prénom de naissance.
    pub first_given_name: Option<Cow<'a, str>>,
    /// Liste des prénoms de naissance, space-separated, the first included.
    pub given_names: Option<Cow<'a, str>>,
    /// Nom utilisé (e.g. married name), when defined.
    pub used_name: Option<Cow<'a, str>>,
    /// Prénom utilisé, when defined.
    pub used_given_name: Option<Cow<'a, str>>,
    /// PID-7.1 as sent.
    pub birth_date: Option<Cow<'a, str>>,
    /// PID-8 as sent.
    pub sex: Option<Cow<'a, str>>,
    /// INSEE (COG) code of the birthplace: commune, or `99` + country for a birth abroad.
    pub birthplace_code: Option<Cow<'a, str>>,
    pub birthplace_city: Option<Cow<'a, str>>,
    pub address: Option<Address<'a>>,
    pub reliability: Reliability<'a>,
    pub places: TraitPlaces,
}

/// Reads the patient from the first PID segment. Never fails: what is missing is `None`, and the
/// identity rules ([`super::assess`]) say what that means.
pub fn read_patient<'a>(msg: &Message<'a>) -> Patient<'a> {
    let pid = msg.segment("PID");
    let Some(seg) = pid else {
        return Patient::default();
    };
    let birth = typed_repetition(seg, PID_5, 7, NAME_TYPE_BIRTH);
    let used = typed_repetition(seg, PID_5, 7, NAME_TYPE_USED);
    let place = typed_repetition(seg, PID_11, 7, ADDRESS_TYPE_BIRTHPLACE);
    let first_component = |field: usize| seg.field(field).and_then(|f| present(f.first().text(1)));
    Patient {
        has_pid: true,
        ins: ins::find(pid),
        ipp: read_ipp(seg),
        birth_name: birth.and_then(|(_, r)| family_name(r)),
        first_given_name: birth.and_then(|(_, r)| text(r, 2)),
        given_names: birth.and_then(|(_, r)| text(r, 3)),
        used_name: used.and_then(|(_, r)| family_name(r)),
        used_given_name: used.and_then(|(_, r)| text(r, 2)),
        birth_date: first_component(PID_7),
        sex: first_component(PID_8),
        birthplace_code: place.and_then(|(_, r)| text(r, 9)),
        birthplace_city: place.and_then(|(_, r)| text(r, 3)),
        address: read_address(seg),
        reliability: Reliability::read(pid),
        places: TraitPlaces {
            birth_name: birth.map(|(i, _)| i),
            used_name: used.map(|(i, _)| i),
            birthplace: place.map(|(i, _)| i),
        },
    }
}

/// The first repetition of `field` whose component `type_component` is `code` (exactly).
fn typed_repetition<'a>(
    seg: Segment<'a>,
    field: usize,
    type_component: usize,
    code: &str,
) -> Option<(usize, Repetition<'a>)> {
    seg.field(field)?
        .repetitions()
        .enumerate()
        .find(|(_, r)| r.text(type_component) == code)
        .map(|(i, r)| (i + 1, r))
}

/// The first PID-3 repetition typed `PI`.
fn read_ipp<'a>(seg: Segment<'a>) -> Option<Identifier<'a>> {
    let (repetition, cx) = typed_repetition(seg, ins::PID_3, 5, IDENTIFIER_TYPE_IPP)?;
    let hd = cx.component(4);
    Some(Identifier {
        value: text(cx, 1)?,
        namespace: hd.and_then(|c| sub(c, 1)),
        root: hd.and_then(|c| sub(c, 2)),
        repetition,
    })
}

/// The first PID-11 repetition that is not the birthplace and holds an address.
fn read_address<'a>(seg: Segment<'a>) -> Option<Address<'a>> {
    seg.field(PID_11)?
        .repetitions()
        .enumerate()
        .filter(|(_, r)| r.text(7) != ADDRESS_TYPE_BIRTHPLACE)
        .map(|(i, r)| Address {
            street: r.component(1).and_then(|c| sub(c, 1)),
            street_name: r.component(1).and_then(|c| sub(c, 2)),
            house_number: r.component(1).and_then(|c| sub(c, 3)),
            other_designation: text(r, 2),
            city: text(r, 3),
            postal_code: text(r, 5),
            country: text(r, 6),
            kind: text(r, 7),
            repetition: i + 1,
        })
        .find(|a| {
            a.street.is_some()
                || a.city.is_some()
                || a.postal_code.is_some()
                || a.other_designation.is_some()
        })
}

/// XPN-1 is FN: its first subcomponent is the surname.
fn family_name<'a>(xpn: Repetition<'a>) -> Option<Cow<'a, str>> {
    xpn.component(1).and_then(|c| sub(c, 1))
}

fn text<'a>(rep: Repetition<'a>, component: usize) -> Option<Cow<'a, str>> {
    rep.component(component).and_then(|c| present(c.value()))
}

fn sub<'a>(c: Component<'a>, n: usize) -> Option<Cow<'a, str>> {
    c.subcomponent(n).and_then(|s| present(s.value()))
}

/// `None` for empty, blank and the explicit null `""`.
pub(crate) fn present(value: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let v = value.trim();
    (!v.is_empty() && v != "\"\"").then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Charset;

    const OPERATIVE: &str = "MSH|^~\\&|DPI|CHU|PFI|CHU|20240318143005||MDM^T02^MDM_T02|1|P|2.6\r\
PID|1||100001^^^CHU-DEMO&1.2.250.1.999.1.1&ISO^PI~268046938104575^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||\
ŒUVRAY^FRANÇOISE^FRANÇOISE MARIE^^^^L~DUPR\\E\\É^FRANÇOISE^^^^^D||19680412|F|||12 rue de la Barre^^LYON^^69002^FRA^H~\
^^LYON 1ER ARRONDISSEMENT^^^FRA^BDL^^69381|||||||A1^^^CHU&1.2&ISO^AN|||||||||||||N|QUAL\r";

    #[test]
    fn reads_every_trait() {
        let msg = Message::parse(OPERATIVE, Charset::Utf8).unwrap();
        let p = read_patient(&msg);
        assert!(p.has_pid);
        let ins = p.ins.as_ref().unwrap();
        assert_eq!(ins.value, "268046938104575");
        assert_eq!(ins.oid, ins::InsOid::Nir);
        assert_eq!(ins.path(), "PID-3(2)");
        let ipp = p.ipp.as_ref().unwrap();
        assert_eq!(ipp.value, "100001");
        assert_eq!(ipp.namespace.as_deref(), Some("CHU-DEMO"));
        assert_eq!(ipp.root.as_deref(), Some("1.2.250.1.999.1.1"));
        assert_eq!(p.birth_name.as_deref(), Some("ŒUVRAY"));
        assert!(matches!(p.birth_name, Some(Cow::Borrowed(_))));
        assert_eq!(p.first_given_name.as_deref(), Some("FRANÇOISE"));
        assert_eq!(p.given_names.as_deref(), Some("FRANÇOISE MARIE"));
        assert_eq!(p.used_name.as_deref(), Some("DUPR\\É"));
        assert_eq!(p.used_given_name.as_deref(), Some("FRANÇOISE"));
        assert_eq!(p.birth_date.as_deref(), Some("19680412"));
        assert_eq!(p.sex.as_deref(), Some("F"));
        assert_eq!(p.birthplace_code.as_deref(), Some("69381"));
        assert_eq!(
            p.birthplace_city.as_deref(),
            Some("LYON 1ER ARRONDISSEMENT")
        );
        let a = p.address.as_ref().unwrap();
        assert_eq!(a.street.as_deref(), Some("12 rue de la Barre"));
        assert_eq!(a.city.as_deref(), Some("LYON"));
        assert_eq!(a.postal_code.as_deref(), Some("69002"));
        assert_eq!(a.country.as_deref(), Some("FRA"));
        assert_eq!(a.kind.as_deref(), Some("H"));
        assert_eq!(a.repetition, 1);
        assert_eq!(
            p.reliability.status(),
            Some(super::super::IdentityStatus::Qual)
        );
        assert_eq!(
            p.places,
            TraitPlaces {
                birth_name: Some(1),
                used_name: Some(2),
                birthplace: Some(2)
            }
        );
    }

    #[test]
    fn no_pid_reads_nothing() {
        let msg = Message::parse("MSH|^~\\&|A\r", Charset::Utf8).unwrap();
        let p = read_patient(&msg);
        assert!(!p.has_pid && p.ins.is_none() && p.birth_name.is_none());
        assert!(p.reliability.is_empty());
    }

    #[test]
    fn address_skips_birthplace_and_empty_repetitions() {
        let text = "MSH|^~\\&|A\rPID|1||||X^Y^Y^^^^L||||||~^^^^^^BDL^^75101~\"\"~^^^^^^H~^^PARIS^^75001^FRA^H\r";
        let msg = Message::parse(text, Charset::Utf8).unwrap();
        let p = read_patient(&msg);
        let a = p.address.unwrap();
        assert_eq!(a.repetition, 5);
        assert_eq!(a.city.as_deref(), Some("PARIS"));
        assert_eq!(p.places.birthplace, Some(2));
    }

    #[test]
    fn null_and_blank_are_absent() {
        let text = "MSH|^~\\&|A\rPID|1||||\"\"^  ^^^^^L||\"\"| \r";
        let msg = Message::parse(text, Charset::Utf8).unwrap();
        let p = read_patient(&msg);
        assert_eq!(p.places.birth_name, Some(1));
        assert!(p.birth_name.is_none() && p.first_given_name.is_none());
        assert!(p.birth_date.is_none() && p.sex.is_none());
    }

    #[test]
    fn name_types_compare_exactly() {
        let text = "MSH|^~\\&|A\rPID|1||||X^Y^Y^^^^l\r";
        let msg = Message::parse(text, Charset::Utf8).unwrap();
        assert_eq!(read_patient(&msg).places.birth_name, None);
    }
}
