//! CI-SIS CDA R2 documents: a [`DocumentRequest`](crate::document::DocumentRequest) and a
//! [`model::Patient`] in, a non-structured ("niveau 1") CDA out, written with quick-xml; and the
//! reading of a CDA received already built ([`received`]).
//!
//! * [`model`] — the patient as `recordTarget` needs it (filled by the identity gate);
//! * [`write`](mod@write) — the writer and the [`write::Site`] (the configured establishment);
//! * [`ts`] — HL7 timestamps as CDA TS, with the site's UTC offset;
//! * [`xml`] — text XML 1.0 can hold;
//! * [`received`] — the header of a received CDA (metadata, patient ids);
//! * [`wellformed`] — a strict XML 1.0 well-formedness check (received CDAs, tests).
//!
//! Sources: ANS TestContenuCDA 3.0 (`schemas/ans-testcontenucda`): the structuration minimale
//! schematron (template 1.2.250.1.213.1.1.1.1, 2017-12-13) and the example
//! `ExemplesCDA/DOC_NON_STRUCTURE_CDA-R2-N1.xml`; IHE ITI TF-3 §5.2 (XDS-SD). This module reads no
//! HL7 and knows nothing of the pipeline.

pub mod model;
pub mod received;
pub mod ts;
pub mod wellformed;
pub mod write;
pub mod xml;

pub use model::Patient;
pub use write::{Site, write_document};

/// The HL7 V3 namespace of CDA R2.
pub const HL7_V3_NAMESPACE: &str = "urn:hl7-org:v3";
/// `realmCode/@code` (structuration minimale: `count(hl7:realmCode[@code = 'FR'])` = 1).
pub const REALM_FR: &str = "FR";
/// `typeId` of CDA R2 (`root` and `extension`).
pub const CDA_TYPE_ID_ROOT: &str = "2.16.840.1.113883.1.3";
pub const CDA_TYPE_ID_EXTENSION: &str = "POCD_HD000040";
/// `languageCode` (pattern `ll-CC`).
pub const LANGUAGE_FR: &str = "fr-FR";

/// templateId: conformity to the HL7 France CDA specifications.
pub const TEMPLATE_HL7_FRANCE: &str = "2.16.840.1.113883.2.8.2.1";
/// templateId: conformity to the CI-SIS (structuration minimale).
pub const TEMPLATE_CI_SIS: &str = "1.2.250.1.213.1.1.1.1";
/// templateId: IHE XDS-SD, a scanned / non-structured document. It replaces the volet's
/// templateId (structuration minimale: « le templateId 1.3.6.1.4.1.19376.1.2.20 remplace le
/// templateId du volet »).
pub const TEMPLATE_XDS_SD: &str = crate::terminology::CDA_N1_TEMPLATE_ID;
/// Exactly these three templateIds for a `nonXMLBody` document (structuration minimale:
/// « seuls les trois templateId … sont admis »).
pub const NON_STRUCTURED_TEMPLATE_IDS: [&str; 3] =
    [TEMPLATE_HL7_FRANCE, TEMPLATE_CI_SIS, TEMPLATE_XDS_SD];

/// OID of health care structures' identifiers (FINESS with the prefix `1`, …): custodian and
/// organisations (structuration minimale: custodian id root 1.2.250.1.71.4.2.2).
pub const OID_STRUCTURES: &str = "1.2.250.1.71.4.2.2";

/// JDV_J245-Civilite-CISIS (1.2.250.1.213.1.1.5.718): the only `name/prefix` values the
/// structuration minimale accepts for an author.
pub const CIVILITES: [&str; 2] = ["M", "MME"];
/// JDV_J246-Titre-CISIS (1.2.250.1.213.1.1.5.719): the only `name/suffix` values.
pub const TITRES: [&str; 6] = ["DR", "MC", "MG", "PC", "PG", "PR"];

#[cfg(test)]
mod tests {
    use super::*;

    /// The two small value sets above, against the copies the validator uses.
    #[test]
    fn civilites_and_titres_match_the_ans_value_sets() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/ans-testcontenucda/schematrons/profils/structurationMinimale/include/"
        );
        for (file, codes) in [
            ("voc-1.2.250.1.213.1.1.5.718-DYNAMIC.xml", &CIVILITES[..]),
            ("voc-1.2.250.1.213.1.1.5.719-DYNAMIC.xml", &TITRES[..]),
        ] {
            let text = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
            let mut found: Vec<&str> = text
                .split("<concept code=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next())
                .collect();
            found.sort_unstable();
            let mut want = codes.to_vec();
            want.sort_unstable();
            assert_eq!(found, want, "{file}");
        }
    }
}
