//! ANS terminologies: the value sets and correspondence tables that the CDA mapping and the XDS
//! metadata need, as static tables.
//!
//! This module owns:
//!
//! * document types (JDV_J07-XdsTypeCode-CISIS, with membership of JDV_J66-TypeCode-DMP) and their
//!   document class (ASS_X04-CorrespondanceType-Classe-CISIS, labels from JDV_J57-ClassCode-DMP);
//! * formatCodes: from the CDA templateId of a structured document (ASS_A11), from the
//!   `nonXMLBody/text@mediaType` of a non-structured one (ASS_A12), membership of JDV_J60-FormatCode-DMP;
//! * the XDS value sets: practiceSettingCode (J04), healthcareFacilityTypeCode (J02, with J61
//!   membership), authorSpecialty (J01), confidentialityCode (J58), contentTypeCode (J59);
//! * the CDA header value sets: encounter type (J142), administrative gender (J143),
//!   confidentialityCode (JDV_HL7_Confidentiality_CISIS);
//! * the OIDs of those value sets and of the code systems they use (`*_OID` constants).
//!
//! The tables live in `generated.rs`, written by `scripts/gen-terminology.py` from the ANS files
//! under `schemas/` (never edit it by hand; the test `generated_tables_are_up_to_date` fails when
//! it no longer matches its sources). This file is the hand-written API over them: lookups are
//! binary searches over sorted static slices, without allocation. It depends on nothing else in
//! the crate.
//!
//! Code systems are given as the OID that goes into CDA `@codeSystem` and XDS `codingScheme`.
//! Two are not OIDs but what ANS prescribes anyway: `"URN"` (TRE_A10, e.g. the class of the
//! signature document type E1762) and `"ASTM"` (TRE_A12, the code system of E1762 itself).

mod generated;

pub use generated::{
    ASS_X04_OID, CDA_N1_TEMPLATE_ID, HL7_CONFIDENTIALITY_OID, J01_OID, J02_OID, J04_OID, J07_OID,
    J08_OID, J57_OID, J58_OID, J59_OID, J60_OID, J61_OID, J66_OID, J142_OID, J143_OID, LOINC_OID,
    TRE_A00_OID, TRE_A01_OID, TRE_A03_OID, TRE_A05_OID, TRE_A06_OID, TRE_A07_OID, TRE_A08_OID,
    TRE_A09_OID, TRE_A10_OID, TRE_A11_OID, TRE_A12_OID, TRE_R02_OID, TRE_R209_OID, TRE_R276_OID,
};

/// A code with its code system (an OID, see the module doc) and its ANS label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Coded {
    pub code: &'static str,
    pub code_system: &'static str,
    pub display: &'static str,
}

/// A document type of JDV_J07-XdsTypeCode-CISIS (a LOINC code, or a TRE_A05 code such as
/// `PRESC-BIO`, or the ASTM code `E1762`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DocumentType {
    pub code: &'static str,
    pub code_system: &'static str,
    pub display: &'static str,
    /// Member of JDV_J66-TypeCode-DMP: the DMP accepts this type.
    pub in_dmp: bool,
    /// Document class (XDS classCode) given by ASS_X04, with its JDV_J57 label; `None` when the
    /// sources give no usable class: no ASS_X04 row (`101881-1`), or a class outside J57, hence
    /// without label (`FEUILLE-DE-STYLE` → 99). See the header of `generated.rs`.
    pub class: Option<&'static Coded>,
}

impl DocumentType {
    /// The type itself as a [`Coded`].
    pub const fn coded(&self) -> Coded {
        Coded {
            code: self.code,
            code_system: self.code_system,
            display: self.display,
        }
    }
}

/// An XDS formatCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FormatCode {
    pub code: &'static str,
    /// TRE_A06 (`urn:asip:…`/`urn:ans:…` codes) or TRE_A11 (IHE `urn:ihe:…` codes), as the ASS_A11
    /// and ASS_A12 groups and JDV_J60 say; also TRE_A09/TRE_A10 for two J60 members.
    pub code_system: &'static str,
    /// Label from JDV_J60, the only source that gives labels; `None` when not in J60.
    pub display: Option<&'static str>,
    /// Member of JDV_J60-FormatCode-DMP. ASS_A11 maps some templates to formatCodes outside J60
    /// (IHE APSR `urn:ihe:pat:apsr:*`, `urn:asip:ci-sis:export-dui:2023`, and
    /// `urn:asip:ci-cis:ft-su:2024` / `urn:asip:ci-cis:fr-su:2024` — spelt "ci-cis" in ASS_A11 5.0.0
    /// whereas J60 lists `urn:asip:ci-sis:ft-su:2024` / `…fr-su:2024`; kept as ASS_A11 writes them).
    pub in_dmp: bool,
}

/// A healthcare facility type (XDS healthcareFacilityTypeCode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FacilityType {
    pub code: &'static str,
    pub code_system: &'static str,
    pub display: &'static str,
    /// Member of JDV_J61-HealthcareFacilityTypeCode-DMP.
    pub in_dmp: bool,
}

impl FacilityType {
    /// The facility type as a [`Coded`].
    pub const fn coded(&self) -> Coded {
        Coded {
            code: self.code,
            code_system: self.code_system,
            display: self.display,
        }
    }
}

/// Binary search of a table sorted by `key`.
fn find<'t, T>(table: &'t [T], code: &str, key: impl Fn(&T) -> &str) -> Option<&'t T> {
    table
        .binary_search_by(|row| key(row).cmp(code))
        .ok()
        .map(|i| &table[i])
}

/// Document type by code (JDV_J07-XdsTypeCode-CISIS: LOINC, TRE_A05 or ASTM code; codes are
/// unique across the three code systems).
pub fn document_type(code: &str) -> Option<&'static DocumentType> {
    find(&generated::DOCUMENT_TYPES, code, |t| t.code)
}

/// All document types of JDV_J07, sorted by code.
pub fn document_types() -> &'static [DocumentType] {
    &generated::DOCUMENT_TYPES
}

/// Document class by code (JDV_J57-ClassCode-DMP).
pub fn document_class(code: &str) -> Option<&'static Coded> {
    find(&generated::DOCUMENT_CLASSES, code, |c| c.code)
}

/// formatCode of a non-structured CDA (template [`CDA_N1_TEMPLATE_ID`]) from the mediaType of its
/// `nonXMLBody/text` (ASS_A12): `application/pdf` → `urn:ihe:iti:xds-sd:pdf:2008`, … The media type
/// is compared ASCII case-insensitively and must have no parameters.
pub fn format_code_for_media_type(media_type: &str) -> Option<&'static FormatCode> {
    generated::MEDIA_TYPE_FORMAT_CODES
        .iter()
        .find(|(mt, _)| mt.eq_ignore_ascii_case(media_type))
        .map(|&(_, f)| f)
}

/// formatCode of a structured CDA document from its CI-SIS model templateId (ASS_A11, group
/// TRE_R220). `None` for [`CDA_N1_TEMPLATE_ID`], whose formatCode depends on the media type: use
/// [`format_code_for_media_type`].
pub fn format_code_for_template(template_id: &str) -> Option<&'static FormatCode> {
    find(&generated::TEMPLATE_FORMAT_CODES, template_id, |(t, _)| t).map(|&(_, f)| f)
}

/// formatCode by code: JDV_J60 members and every formatCode of ASS_A11 / ASS_A12.
pub fn format_code(code: &str) -> Option<&'static FormatCode> {
    find(&generated::FORMAT_CODES, code, |f| f.code)
}

/// XDS practiceSettingCode (JDV_J04-XdsPracticeSettingCode-CISIS), e.g. `ETABLISSEMENT`.
pub fn practice_setting(code: &str) -> Option<&'static Coded> {
    find(&generated::PRACTICE_SETTINGS, code, |c| c.code)
}

/// XDS healthcareFacilityTypeCode: JDV_J02-XdsHealthcareFacilityTypeCode-CISIS, plus the
/// JDV_J61 (DMP) codes that J02 lacks (SA11); `in_dmp` tells J61 membership.
pub fn healthcare_facility_type(code: &str) -> Option<&'static FacilityType> {
    find(&generated::HEALTHCARE_FACILITY_TYPES, code, |c| c.code)
}

/// XDS authorSpecialty (JDV_J01-XdsAuthorSpecialty-CISIS): profession / savoir-faire codes (e.g.
/// `G15_10`), role codes, non-PS producer codes.
pub fn author_specialty(code: &str) -> Option<&'static Coded> {
    find(&generated::AUTHOR_SPECIALTIES, code, |c| c.code)
}

/// XDS confidentialityCode for the DMP (JDV_J58-ConfidentialityCode-DMP): `N`, `R`, `V` (HL7
/// Confidentiality) and `MASQUE_PS`, `INVISIBLE_PATIENT`, `INVISIBLE_REPRESENTANTS_LEGAUX`
/// (TRE_A07 visibility statuses).
pub fn confidentiality(code: &str) -> Option<&'static Coded> {
    find(&generated::CONFIDENTIALITY_CODES, code, |c| c.code)
}

/// XDS submission set contentTypeCode for the DMP (JDV_J59-ContentTypeCode-DMP). Looked up by code
/// system and code because J59 has codes present in two code systems (`11` is both TRE_R276
/// "Centre postcure" and TRE_R209 "Hébergement complet ou internat…").
pub fn content_type(code_system: &str, code: &str) -> Option<&'static Coded> {
    let table = &generated::CONTENT_TYPES;
    table
        .binary_search_by(|c| (c.code, c.code_system).cmp(&(code, code_system)))
        .ok()
        .map(|i| &table[i])
}

/// CDA `encompassingEncounter/code` (JDV_J142-TypeRencontre-CISIS): `IMP`, `EMER`, `AMB`, …
/// (HL7 ActCode) and `EXTERNE`, `SEANCE` (TRE_R305).
pub fn encounter_type(code: &str) -> Option<&'static Coded> {
    find(&generated::ENCOUNTER_TYPES, code, |c| c.code)
}

/// CDA `administrativeGenderCode` (JDV_J143-AdministrativeGender-CISIS): `F`, `M`, `UN`.
pub fn administrative_gender(code: &str) -> Option<&'static Coded> {
    find(&generated::ADMINISTRATIVE_GENDERS, code, |c| c.code)
}

/// CDA header `confidentialityCode` (JDV_HL7_Confidentiality_CISIS): `L`, `M`, `N`, `R`, `U`, `V`.
pub fn cda_confidentiality(code: &str) -> Option<&'static Coded> {
    find(&generated::CDA_CONFIDENTIALITY_CODES, code, |c| c.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// J57 labels of the classes used below.
    fn class_label(code: &str) -> &'static str {
        match code {
            "10" => "Compte rendu",
            "11" => "Synthèse",
            "42" => "Prescription",
            "45" => "Traitement administré",
            "95" => "Document de gestion",
            _ => panic!("no label for class {code} in this test"),
        }
    }

    #[test]
    fn document_types_and_their_class() {
        // (typeCode, code system, in J66, class code per ASS_X04)
        let cases = [
            ("34874-8", LOINC_OID, true, "10"),
            ("57833-6", LOINC_OID, true, "42"),
            ("11490-0", LOINC_OID, true, "10"),
            ("11488-4", LOINC_OID, true, "10"),
            ("34112-3", LOINC_OID, true, "10"),
            ("60591-5", LOINC_OID, true, "11"),
            ("80565-5", LOINC_OID, true, "45"),
            ("51851-4", LOINC_OID, false, "95"),
            ("PRESC-BIO", TRE_A05_OID, true, "42"),
            ("SYNTH", TRE_A05_OID, true, "11"),
            ("PIECE-IDENTITE", TRE_A05_OID, false, "95"),
        ];
        for (code, system, in_dmp, class_code) in cases {
            let t = document_type(code).unwrap_or_else(|| panic!("{code} not in J07"));
            assert_eq!((t.code, t.code_system, t.in_dmp), (code, system, in_dmp));
            let class = t.class.unwrap_or_else(|| panic!("{code} has no class"));
            let want = Coded {
                code: class_code,
                code_system: TRE_A03_OID,
                display: class_label(class_code),
            };
            assert_eq!(*class, want, "{code}");
        }
        // labels (J07 displayName)
        let displays = [
            ("34874-8", "CR opératoire"),
            ("57833-6", "Prescription de produits de santé"),
            (
                "11490-0",
                "Lettre de liaison à la sortie d'un établissement de soins",
            ),
            ("11488-4", "CR ou fiche de consultation ou de visite"),
            ("34112-3", "CR hospitalier (séjour)"),
            ("PRESC-BIO", "Prescription d'actes de biologie médicale"),
        ];
        for (code, display) in displays {
            let t = document_type(code).unwrap();
            assert_eq!(t.display, display, "{code}");
            assert_eq!(
                t.coded(),
                Coded {
                    code,
                    code_system: t.code_system,
                    display
                }
            );
        }
        assert_eq!(LOINC_OID, "2.16.840.1.113883.6.1");
        assert_eq!(TRE_A03_OID, "1.2.250.1.213.1.1.4.1");
        assert_eq!(TRE_A05_OID, "1.2.250.1.213.1.1.4.12");
    }

    #[test]
    fn signature_document_type_uses_the_urn_and_astm_schemes() {
        let t = document_type("E1762").unwrap();
        assert_eq!(
            (t.code_system, t.display, t.in_dmp),
            ("ASTM", "Full Document", true)
        );
        let class = Coded {
            code: "urn:oid:1.3.6.1.4.1.19376.1.2.1.1.1",
            code_system: "URN",
            display: "Digital Signature",
        };
        assert_eq!(t.class, Some(&class));
    }

    /// Every J07 code has a class, except those listed here (reported in the generated header).
    #[test]
    fn every_document_type_has_a_class_except_the_known_ones() {
        const WITHOUT_CLASS: &[&str] = &[
            "101881-1",         // "Carte d'implant": in J07 and J66 but no ASS_X04 row
            "FEUILLE-DE-STYLE", // ASS_X04 -> 99, not in J57 (no label); not in J66 either
        ];
        let missing: Vec<&str> = document_types()
            .iter()
            .filter(|t| t.class.is_none())
            .map(|t| t.code)
            .collect();
        assert_eq!(missing, WITHOUT_CLASS);
        assert_eq!(document_types().len(), 114);
        assert_eq!(document_types().iter().filter(|t| t.in_dmp).count(), 108);
        for t in document_types() {
            if let Some(c) = t.class {
                assert_eq!(document_class(c.code), Some(c), "{}", t.code);
            }
        }
    }

    #[test]
    fn format_codes_for_media_types() {
        let cases = [
            (
                "application/pdf",
                "urn:ihe:iti:xds-sd:pdf:2008",
                "en Pdf/A-1",
            ),
            (
                "text/plain",
                "urn:ihe:iti:xds-sd:text:2008",
                "en texte brut",
            ),
            (
                "text/rtf",
                "urn:ihe:iti-fr:xds-sd:rtf:2010",
                "en format rtf",
            ),
            (
                "image/jpeg",
                "urn:ihe:iti-fr:xds-sd:jpeg:2010",
                "en format jpeg",
            ),
            (
                "image/tiff",
                "urn:ihe:iti-fr:xds-sd:tiff:2010",
                "en format tiff",
            ),
            (
                "Application/PDF",
                "urn:ihe:iti:xds-sd:pdf:2008",
                "en Pdf/A-1",
            ),
        ];
        for (media_type, code, display_end) in cases {
            let f =
                format_code_for_media_type(media_type).unwrap_or_else(|| panic!("{media_type}"));
            assert_eq!((f.code, f.code_system, f.in_dmp), (code, TRE_A11_OID, true));
            let display = f.display.unwrap();
            assert!(
                display.starts_with("Document à corps non structuré "),
                "{display}"
            );
            assert!(display.ends_with(display_end), "{display}");
        }
        assert_eq!(TRE_A11_OID, "1.3.6.1.4.1.19376.1.2.3");
        for unknown in [
            "application/xml",
            "text/html",
            "image/png",
            "application/pdf; x=y",
            "",
        ] {
            assert_eq!(format_code_for_media_type(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn format_codes_for_templates() {
        // (templateId, formatCode, code system, in J60)
        let cases = [
            (
                "1.2.250.1.213.1.1.1.29",
                "urn:asip:ci-sis:ldl-ses:2017",
                TRE_A06_OID,
                true,
            ),
            (
                "1.2.250.1.213.1.1.1.21",
                "urn:asip:ci-sis:ldl-ees:2017",
                TRE_A06_OID,
                true,
            ),
            (
                "1.2.250.1.213.1.1.1.55",
                "urn:ihe:lab:xd-lab:2008",
                TRE_A11_OID,
                true,
            ),
            (
                "1.3.6.1.4.1.19376.1.3.3",
                "urn:ihe:lab:xd-lab:2008",
                TRE_A11_OID,
                true,
            ),
            (
                "1.2.250.1.213.1.1.1.39",
                "urn:ihe:pharm:pre:2010",
                TRE_A11_OID,
                true,
            ),
            (
                "1.2.250.1.213.1.1.1.61",
                "urn:asip:ci-cis:ft-su:2024",
                TRE_A06_OID,
                false,
            ),
            (
                "1.2.250.1.213.1.1.1.58",
                "urn:asip:ci-sis:export-dui:2023",
                TRE_A06_OID,
                false,
            ),
            (
                "1.3.6.1.4.1.19376.1.8.1.1.1",
                "urn:ihe:pat:apsr:all:2010",
                TRE_A11_OID,
                false,
            ),
        ];
        for (template, code, system, in_dmp) in cases {
            let f = format_code_for_template(template).unwrap_or_else(|| panic!("{template}"));
            assert_eq!((f.code, f.code_system, f.in_dmp), (code, system, in_dmp));
            assert_eq!(f.display.is_some(), in_dmp, "{template}");
            assert_eq!(format_code(code), Some(f));
        }
        assert_eq!(TRE_A06_OID, "1.2.250.1.213.1.1.4.2.282");
        let ldl_ses = format_code_for_template("1.2.250.1.213.1.1.1.29").unwrap();
        let label = "Lettre de Liaison à la sortie de l'établissement de santé";
        assert_eq!(ldl_ses.display, Some(label));
        assert_eq!(CDA_N1_TEMPLATE_ID, "1.3.6.1.4.1.19376.1.2.20");
        assert_eq!(format_code_for_template(CDA_N1_TEMPLATE_ID), None);
        assert_eq!(format_code_for_template("1.2.250.1.213.1.1"), None);
        assert_eq!(format_code_for_template(""), None);
        // a J60 member that no mapping produces is still known
        let fr_su = format_code("urn:asip:ci-sis:fr-su:2024").unwrap();
        assert!(fr_su.in_dmp);
        assert_eq!(
            fr_su.display,
            Some("Fiche de retour du service des urgences")
        );
    }

    #[test]
    fn format_code_display_present_exactly_for_j60_members() {
        for f in &generated::FORMAT_CODES {
            assert_eq!(f.display.is_some(), f.in_dmp, "{}", f.code);
        }
    }

    #[test]
    fn coded_value_sets() {
        type Lookup = fn(&str) -> Option<&'static Coded>;
        const HL7_CONF: &str = "2.16.840.1.113883.5.25";
        const ACT_CODE: &str = "2.16.840.1.113883.5.4";
        const GENDER: &str = "2.16.840.1.113883.5.1";
        // (lookup, code, code system, display)
        let cases: &[(Lookup, &str, &str, &str)] = &[
            (
                practice_setting,
                "ETABLISSEMENT",
                TRE_A01_OID,
                "Etablissement de santé",
            ),
            (practice_setting, "SAMU_SMUR", TRE_A01_OID, "SAMU/SMUR"),
            (
                practice_setting,
                "SNR",
                TRE_A00_OID,
                "Service numérique référencé",
            ),
            (
                author_specialty,
                "G15_10",
                "1.2.250.1.213.1.1.4.5",
                "Médecin",
            ),
            (
                author_specialty,
                "SNR",
                TRE_A00_OID,
                "Service numérique référencé",
            ),
            (confidentiality, "N", HL7_CONF, "Normal"),
            (confidentiality, "R", HL7_CONF, "Restreint"),
            (confidentiality, "V", HL7_CONF, "Très restreint"),
            (
                confidentiality,
                "MASQUE_PS",
                TRE_A07_OID,
                "Masqué aux professionnels de santé",
            ),
            (
                confidentiality,
                "INVISIBLE_PATIENT",
                TRE_A07_OID,
                "Non visible par le patient",
            ),
            (
                encounter_type,
                "EMER",
                ACT_CODE,
                "Passage aux urgences (établissement)",
            ),
            (
                encounter_type,
                "SEANCE",
                "1.2.250.1.213.1.1.4.2.291",
                "Séance (établissement ou libéral)",
            ),
            (administrative_gender, "F", GENDER, "Féminin"),
            (administrative_gender, "UN", GENDER, "Inconnu"),
            (cda_confidentiality, "N", HL7_CONF, "Normal"),
            (cda_confidentiality, "U", HL7_CONF, "Non restreint"),
            (document_class, "10", TRE_A03_OID, "Compte rendu"),
        ];
        for &(lookup, code, code_system, display) in cases {
            let want = Coded {
                code,
                code_system,
                display,
            };
            assert_eq!(lookup(code), Some(&want), "{code}");
        }
        let legal = confidentiality("INVISIBLE_REPRESENTANTS_LEGAUX").unwrap();
        assert_eq!(legal.code_system, TRE_A07_OID);
        assert_eq!(
            legal.display,
            "Non visible par les représentants légaux du patient"
        );
        assert_eq!(generated::CONFIDENTIALITY_CODES.len(), 6);
        assert_eq!(TRE_A01_OID, "1.2.250.1.213.1.1.4.9");
        assert_eq!(TRE_A07_OID, "1.2.250.1.213.1.1.4.13");
    }

    #[test]
    fn healthcare_facility_types() {
        // (code, code system, display, in J61)
        let cases = [
            ("SA01", TRE_R02_OID, "Etablissement public de santé", true),
            ("SA07", TRE_R02_OID, "Cabinet individuel", true),
            (
                "EXP_PATIENT",
                TRE_A00_OID,
                "Expression personnelle du patient",
                true,
            ),
            ("SA11", TRE_R02_OID, "Entreprise d'intérim", true), // in J61 only
            (
                "SA66",
                TRE_R02_OID,
                "Services de Prévention et de Santé au Travail (SPST)",
                false,
            ),
        ];
        for (code, code_system, display, in_dmp) in cases {
            let f = healthcare_facility_type(code).unwrap_or_else(|| panic!("{code}"));
            assert_eq!(
                *f,
                FacilityType {
                    code,
                    code_system,
                    display,
                    in_dmp
                }
            );
            assert_eq!(
                f.coded(),
                Coded {
                    code,
                    code_system,
                    display
                }
            );
        }
        assert!(!healthcare_facility_type("SA67").unwrap().in_dmp);
        assert_eq!(TRE_R02_OID, "1.2.250.1.71.4.2.4");
        assert_eq!(TRE_A00_OID, "1.2.250.1.213.1.1.4.6");
    }

    #[test]
    fn content_types_are_keyed_by_code_system_and_code() {
        let cases = [
            (TRE_R276_OID, "11", "Centre postcure"),
            (
                TRE_R209_OID,
                "11",
                "Hébergement complet ou internat (non compris internat de semaine)",
            ),
            (TRE_R209_OID, "04", "Hospitalisation de jour"),
            (TRE_R02_OID, "SA05", "Centre de santé"),
            (
                TRE_A00_OID,
                "EXP_PATIENT",
                "Expression personnelle du patient",
            ),
        ];
        for (code_system, code, display) in cases {
            let want = Coded {
                code,
                code_system,
                display,
            };
            assert_eq!(content_type(code_system, code), Some(&want), "{code}");
        }
        assert_eq!(content_type(TRE_R209_OID, "SA05"), None);
        assert_eq!(
            content_type(TRE_R02_OID, "SA01"),
            None,
            "SA01 is not in J59"
        );
        assert_eq!(content_type("", "11"), None);
    }

    #[test]
    fn unknown_codes_are_none() {
        for code in ["", "unknown", "34874", "34874-8 ", "presc-bio", "10"] {
            assert_eq!(document_type(code), None, "{code:?}");
        }
        assert_eq!(practice_setting("etablissement"), None);
        assert_eq!(practice_setting("SA01"), None);
        assert_eq!(healthcare_facility_type("SA99"), None);
        assert_eq!(healthcare_facility_type("ETABLISSEMENT"), None);
        assert_eq!(author_specialty("ZZZ"), None);
        assert_eq!(confidentiality("L"), None, "L is HL7 but not in J58");
        assert_eq!(confidentiality("n"), None);
        assert_eq!(encounter_type("SS"), None);
        assert_eq!(administrative_gender("U"), None);
        assert_eq!(cda_confidentiality("MASQUE_PS"), None);
        assert_eq!(document_class("99"), None);
        assert_eq!(format_code("urn:ihe:iti:xds-sd:pdf"), None);
    }

    #[test]
    fn value_set_oids() {
        let cases = [
            (J01_OID, "1.2.250.1.213.1.1.5.461"),
            (J02_OID, "1.2.250.1.213.1.1.5.466"),
            (J04_OID, "1.2.250.1.213.1.1.5.467"),
            (J07_OID, "1.2.250.1.213.1.1.5.471"),
            (J08_OID, "1.2.250.1.213.1.1.5.463"),
            (J57_OID, "1.2.250.1.213.1.1.5.6"),
            (J58_OID, "1.2.250.1.213.1.1.5.9"),
            (J59_OID, "1.2.250.1.213.1.1.5.2"),
            (J60_OID, "1.2.250.1.213.1.1.5.8"),
            (J61_OID, "1.2.250.1.213.1.1.5.3"),
            (J66_OID, "1.2.250.1.213.1.1.5.7"),
            (J142_OID, "1.2.250.1.213.1.1.5.589"),
            (J143_OID, "1.2.250.1.213.1.1.5.590"),
            (HL7_CONFIDENTIALITY_OID, "2.16.840.1.113883.1.11.10228"),
            (ASS_X04_OID, "1.2.250.1.213.1.1.4.249"),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    /// Binary search needs every table sorted by its key, without duplicates; every row must be
    /// reachable through its lookup.
    #[test]
    fn tables_are_sorted_and_unique() {
        fn strictly_sorted<T, K: Ord>(name: &str, rows: &[T], key: impl Fn(&T) -> K) {
            for w in rows.windows(2) {
                assert!(key(&w[0]) < key(&w[1]), "{name} not strictly sorted");
            }
        }
        use generated as g;
        strictly_sorted("DOCUMENT_TYPES", &g::DOCUMENT_TYPES, |t| t.code);
        strictly_sorted("DOCUMENT_CLASSES", &g::DOCUMENT_CLASSES, |c| c.code);
        strictly_sorted("FORMAT_CODES", &g::FORMAT_CODES, |f| f.code);
        strictly_sorted("TEMPLATE_FORMAT_CODES", &g::TEMPLATE_FORMAT_CODES, |t| t.0);
        strictly_sorted("PRACTICE_SETTINGS", &g::PRACTICE_SETTINGS, |c| c.code);
        strictly_sorted("FACILITY_TYPES", &g::HEALTHCARE_FACILITY_TYPES, |c| c.code);
        strictly_sorted("AUTHOR_SPECIALTIES", &g::AUTHOR_SPECIALTIES, |c| c.code);
        strictly_sorted("CONFIDENTIALITY_CODES", &g::CONFIDENTIALITY_CODES, |c| {
            c.code
        });
        strictly_sorted("CONTENT_TYPES", &g::CONTENT_TYPES, |c| {
            (c.code, c.code_system)
        });
        strictly_sorted("ENCOUNTER_TYPES", &g::ENCOUNTER_TYPES, |c| c.code);
        strictly_sorted("ADMINISTRATIVE_GENDERS", &g::ADMINISTRATIVE_GENDERS, |c| {
            c.code
        });
        strictly_sorted("CDA_CONFIDENTIALITY", &g::CDA_CONFIDENTIALITY_CODES, |c| {
            c.code
        });
        for t in document_types() {
            assert_eq!(document_type(t.code), Some(t));
        }
        for f in &g::FORMAT_CODES {
            assert_eq!(format_code(f.code), Some(f));
        }
        for c in &g::AUTHOR_SPECIALTIES {
            assert_eq!(author_specialty(c.code), Some(c));
        }
        for c in &g::HEALTHCARE_FACILITY_TYPES {
            assert_eq!(healthcare_facility_type(c.code), Some(c));
        }
        for c in &g::CONTENT_TYPES {
            assert_eq!(content_type(c.code_system, c.code), Some(c));
        }
    }

    /// `generated.rs` must be what `scripts/gen-terminology.py` produces from the files under
    /// `schemas/` today, so that a changed source cannot be forgotten.
    #[test]
    fn generated_tables_are_up_to_date() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().join("generated.rs");
        let run = std::process::Command::new("python3")
            .arg(root.join("scripts/gen-terminology.py"))
            .arg("--output")
            .arg(&out)
            .current_dir(root)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `python3 scripts/gen-terminology.py` ({e}): python3 (standard library \
                     only) is required to check that src/terminology/generated.rs is up to date"
                )
            });
        assert!(
            run.status.success(),
            "scripts/gen-terminology.py failed ({}):\n{}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        );
        let fresh = std::fs::read_to_string(&out).expect("generator output");
        let committed = std::fs::read_to_string(root.join("src/terminology/generated.rs"))
            .expect("src/terminology/generated.rs");
        let committed = committed.replace("\r\n", "\n");
        if fresh != committed {
            let first_diff = fresh
                .lines()
                .zip(committed.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| fresh.lines().count().min(committed.lines().count()));
            panic!(
                "src/terminology/generated.rs is stale: run `python3 scripts/gen-terminology.py` \
                 and commit the result.\nFirst difference at line {}:\n  generated: {:?}\n  committed: {:?}",
                first_diff + 1,
                fresh.lines().nth(first_diff),
                committed.lines().nth(first_diff)
            );
        }
    }
}
