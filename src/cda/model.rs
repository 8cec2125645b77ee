//! The patient as the CDA `recordTarget` needs it: a plain model filled by the identity gate
//! (which owns the reading and the checking of PID), so that this module never reads PID itself.
//!
//! CI-SIS structuration minimale (template 1.2.250.1.213.1.1.1.1, "CI-SISRecordTarget"): when a
//! `patientRole/id` has an INS root (1.2.250.1.213.1.4.8/.9/.10/.11), the INS traits are
//! mandatory: `family@qualifier="BR"` (birth name), `given@qualifier="BR"` (first birth given
//! name), a `given` without qualifier (the birth given names list), `birthTime`,
//! `administrativeGenderCode`, `birthplace/place/addr/county` (COG code of the birth place).
//! Only the qualifiers `BR` (birth) and `CL` (used) are allowed.

use std::borrow::Cow;

/// The patient of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient<'a> {
    /// The INS (matricule NIR or NIA, 15 characters), PID-3 with CX-5 `INS`.
    pub ins: Cow<'a, str>,
    /// Its OID (CX-4.2): 1.2.250.1.213.1.4.8 (NIR), .9 (NIA), .10 (test), .11 (demo).
    pub ins_oid: Cow<'a, str>,
    /// The IPP (PID-3 with CX-5 `PI`), when present.
    pub ipp: Option<Ipp<'a>>,
    /// Birth name (PID-5, XPN-7 `L`, XPN-1).
    pub birth_family: Cow<'a, str>,
    /// First birth given name (XPN-2 of the `L` name).
    pub birth_given_first: Cow<'a, str>,
    /// The birth given names, space-separated (XPN-3 of the `L` name).
    pub birth_given_names: Cow<'a, str>,
    /// Used name (PID-5 with XPN-7 `D`), when given.
    pub used_family: Option<Cow<'a, str>>,
    /// Used given name (XPN-2 of the `D` name), when given.
    pub used_given: Option<Cow<'a, str>>,
    /// PID-7 as sent (an HL7 DTM, usually `YYYYMMDD`).
    pub birth_time: Cow<'a, str>,
    /// PID-8 administrative sex (HL7 table 0001: `F`, `M`, `U`, …).
    pub sex: Cow<'a, str>,
    /// COG code of the birth place (PID-11 with XAD-7 `BDL`, XAD-9).
    pub birthplace_code: Cow<'a, str>,
    /// City of the birth place (XAD-3 of the `BDL` address), when given.
    pub birthplace_city: Option<Cow<'a, str>>,
    /// Home address (PID-11 with XAD-7 `H`), when given.
    pub address: Option<Address<'a>>,
}

/// The IPP: value and assigning authority OID (CX-4.2) when it has one; without one the CDA
/// uses `oids.ipp_root` from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipp<'a> {
    pub value: Cow<'a, str>,
    pub oid: Option<Cow<'a, str>>,
}

/// A postal address (XAD: 1 street address (SAD: 1 street line, 2 street name, 3 dwelling
/// number), 2 other designation, 3 city, 5 postal code, 6 country). Empty parts are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address<'a> {
    /// XAD-1.1, the whole street line (`12 rue de la Barre`).
    pub street: Cow<'a, str>,
    /// XAD-1.2 street name, when the sender splits the street line.
    pub street_name: Cow<'a, str>,
    /// XAD-1.3 dwelling number, when the sender splits the street line.
    pub house_number: Cow<'a, str>,
    /// XAD-2 other designation (building, staircase).
    pub other: Cow<'a, str>,
    pub city: Cow<'a, str>,
    pub postal_code: Cow<'a, str>,
    pub country: Cow<'a, str>,
}

impl Patient<'_> {
    /// The XDS patientId: the INS as a CX, `<INS>^^^&<OID>&ISO` (IHE ITI TF-3 4.2.3.2.16,
    /// CI-SIS: patientId = INS-NIR).
    pub fn xds_patient_id(&self) -> String {
        format!("{}^^^&{}&ISO", self.ins.trim(), self.ins_oid.trim())
    }

    /// `administrativeGenderCode` (JDV_J143: `F`, `M`, `UN`) from PID-8.
    pub fn gender_code(&self) -> &'static str {
        match self.sex.trim() {
            s if s.eq_ignore_ascii_case("F") => "F",
            s if s.eq_ignore_ascii_case("M") => "M",
            _ => "UN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient(sex: &str) -> Patient<'static> {
        Patient {
            ins: "279035121518989".into(),
            ins_oid: "1.2.250.1.213.1.4.10".into(),
            ipp: None,
            birth_family: "PAT-TROIS".into(),
            birth_given_first: "DOMINIQUE".into(),
            birth_given_names: "DOMINIQUE MARIE-LOUISE".into(),
            used_family: None,
            used_given: None,
            birth_time: "19790328".into(),
            sex: Cow::Owned(sex.to_owned()),
            birthplace_code: "51215".into(),
            birthplace_city: None,
            address: None,
        }
    }

    #[test]
    fn xds_patient_id_is_a_cx_with_the_ins_oid() {
        assert_eq!(
            patient("F").xds_patient_id(),
            "279035121518989^^^&1.2.250.1.213.1.4.10&ISO"
        );
    }

    #[test]
    fn genders() {
        for (sex, code) in [
            ("F", "F"),
            ("M", "M"),
            ("m", "M"),
            ("U", "UN"),
            ("", "UN"),
            ("O", "UN"),
        ] {
            let code_got = patient(sex).gender_code();
            assert_eq!(code_got, code, "{sex:?}");
            assert!(crate::terminology::administrative_gender(code_got).is_some());
        }
    }
}
