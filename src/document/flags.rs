//! The DMP / MSSanté flag OBX segments (`MetaDMPMSS`) of the CI-SIS volet « Transmission de
//! documents CDA en HL7v2 » 2.1 (`meta-dmp-mss.md`): OBX-3 = `<CODE>^<label>^MetaDMPMSS`, OBX-5 =
//! `Y`/`N`^^expandedYes-NoIndicator, OBX-11 fixed `F` (even in a deletion).
//!
//! `MASQUE_PS`, `INVISIBLE_PATIENT`, `INVISIBLE_REP_LEGAUX` become XDS confidentiality codes of
//! JDV_J58 (`INVISIBLE_REP_LEGAUX` is spelt `INVISIBLE_REPRESENTANTS_LEGAUX` there);
//! `CONNEXION_SECRETE` is not a J58 code: it is kept here for the emitted MDM only, never in the
//! CDA nor in the XDS confidentiality. `DESTDMP` = `N` means the document must not reach the DMP.

use crate::hl7::{Field, Segment};

/// The coding system of the flag OBX-3 (OBX-3.3).
pub const META_DMP_MSS: &str = "MetaDMPMSS";

/// The flags of one document message. `None`: the flag OBX is absent or its value is neither
/// `Y` nor `N`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaDmpFlags {
    pub masque_ps: Option<bool>,
    pub invisible_patient: Option<bool>,
    pub invisible_rep_legaux: Option<bool>,
    pub connexion_secrete: Option<bool>,
    pub modif_conf_code: Option<bool>,
    pub dest_dmp: Option<bool>,
    pub dest_mssante_ps: Option<bool>,
    pub dest_mssante_pat: Option<bool>,
    pub ack_reception: Option<bool>,
    pub ack_lecture: Option<bool>,
    /// HL7 path of the `DESTDMP` OBX (`OBX[9]-5`), for the report.
    pub dest_dmp_path: Option<String>,
}

/// The JDV_J58 visibility codes (TRE_A07-StatutVisibiliteDocument) a document carries, in the
/// order of the volet's flags.
pub const MASQUE_PS: &str = "MASQUE_PS";
pub const INVISIBLE_PATIENT: &str = "INVISIBLE_PATIENT";
pub const INVISIBLE_REPRESENTANTS_LEGAUX: &str = "INVISIBLE_REPRESENTANTS_LEGAUX";

impl MetaDmpFlags {
    /// True when the sender said the document must not go to the DMP (`DESTDMP` = `N`).
    /// Absent `DESTDMP`: the document goes (the flag is required by the volet; its absence is
    /// not read as an opposition).
    pub fn excluded_from_dmp(&self) -> bool {
        self.dest_dmp == Some(false)
    }

    /// The XDS confidentiality codes the flags add after the CDA confidentialityCode (JDV_J58).
    /// `CONNEXION_SECRETE` is deliberately absent.
    pub fn visibility_codes(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.masque_ps, MASQUE_PS),
            (self.invisible_patient, INVISIBLE_PATIENT),
            (self.invisible_rep_legaux, INVISIBLE_REPRESENTANTS_LEGAUX),
        ]
        .into_iter()
        .filter_map(|(flag, code)| (flag == Some(true)).then_some(code))
    }

    /// Records one flag OBX (see [`is_flag`]); unknown flag codes (`CORPSMAIL_*`, future ones)
    /// are ignored. `occurrence` is the OBX's 1-based number in the message, for the path.
    pub fn record(&mut self, obx: &Segment<'_>, occurrence: usize) {
        self.record_fields(obx.field(3), obx.field(5), occurrence);
    }

    /// [`MetaDmpFlags::record`] from OBX-3 and OBX-5 already split out: the document reader
    /// has them, and `Segment::field(n)` walks the OBX from its start for each (−10 M
    /// instructions of the worker per 1,000 text messages of ten flags each).
    pub fn record_fields(
        &mut self,
        obx3: Option<Field<'_>>,
        obx5: Option<Field<'_>>,
        occurrence: usize,
    ) {
        let Some(code) = obx3.and_then(|f| f.component(1)) else {
            return;
        };
        let value = obx5.and_then(|f| f.component(1)).map(|c| c.raw().trim());
        let yes_no = match value {
            Some(v) if v.eq_ignore_ascii_case("Y") => Some(true),
            Some(v) if v.eq_ignore_ascii_case("N") => Some(false),
            _ => None,
        };
        let slot = match code.raw().trim() {
            "MASQUE_PS" => &mut self.masque_ps,
            "INVISIBLE_PATIENT" => &mut self.invisible_patient,
            "INVISIBLE_REP_LEGAUX" | "INVISIBLE_REPRESENTANTS_LEGAUX" => {
                &mut self.invisible_rep_legaux
            }
            "CONNEXION_SECRETE" => &mut self.connexion_secrete,
            "MODIF_CONF_CODE" => &mut self.modif_conf_code,
            "DESTDMP" => {
                self.dest_dmp_path = Some(format!("OBX[{occurrence}]-5"));
                &mut self.dest_dmp
            }
            "DESTMSSANTEPS" => &mut self.dest_mssante_ps,
            "DESTMSSANTEPAT" => &mut self.dest_mssante_pat,
            "ACK_RECEPTION" => &mut self.ack_reception,
            // Both spellings appear in the volet's examples.
            "ACK_LECTURE" | "ACK_LECTURE_MSS" => &mut self.ack_lecture,
            _ => return,
        };
        *slot = yes_no;
    }
}

/// True when the OBX is a `MetaDMPMSS` flag (OBX-3.3), whatever its value type: the
/// `CORPSMAIL_*` flags are base64 ED and must not be taken for the document.
pub fn is_flag(obx: &Segment<'_>) -> bool {
    is_flag_observation(obx.field(3))
}

/// [`is_flag`] from OBX-3 (observation identifier) already split out.
pub fn is_flag_observation(obx3: Option<Field<'_>>) -> bool {
    obx3.and_then(|f| f.component(3))
        .is_some_and(|c| c.raw().trim().eq_ignore_ascii_case(META_DMP_MSS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::{Charset, Message};

    fn flags(obx_lines: &str) -> MetaDmpFlags {
        let text = format!("MSH|^~\\&|A|B\r{obx_lines}");
        let msg = Message::parse(&text, Charset::Utf8).unwrap();
        let mut f = MetaDmpFlags::default();
        for (i, obx) in msg.segments_named("OBX").enumerate() {
            if is_flag(&obx) {
                f.record(&obx, i + 1);
            }
        }
        f
    }

    fn obx(code: &str, value: &str) -> String {
        format!("OBX|1|CWE|{code}^label^MetaDMPMSS||{value}^^expandedYes-NoIndicator||||||F\r")
    }

    #[test]
    fn flags_to_confidentiality_codes() {
        // (MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REP_LEGAUX, CONNEXION_SECRETE) → J58 codes
        let cases: [(&str, &str, &str, &str, &[&str]); 6] = [
            ("N", "N", "N", "N", &[]),
            ("Y", "N", "N", "N", &[MASQUE_PS]),
            ("N", "Y", "N", "N", &[INVISIBLE_PATIENT]),
            ("N", "N", "Y", "N", &[INVISIBLE_REPRESENTANTS_LEGAUX]),
            (
                "Y",
                "Y",
                "Y",
                "Y",
                &[MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX],
            ),
            ("N", "N", "N", "Y", &[]), // CONNEXION_SECRETE is not a J58 code
        ];
        for (masque, inv_pat, inv_rep, secret, want) in cases {
            let f = flags(&format!(
                "{}{}{}{}",
                obx("MASQUE_PS", masque),
                obx("INVISIBLE_PATIENT", inv_pat),
                obx("INVISIBLE_REP_LEGAUX", inv_rep),
                obx("CONNEXION_SECRETE", secret)
            ));
            let got: Vec<_> = f.visibility_codes().collect();
            assert_eq!(got, want, "{masque} {inv_pat} {inv_rep} {secret}");
            assert_eq!(f.connexion_secrete, Some(secret == "Y"));
            for code in got {
                assert!(
                    crate::terminology::confidentiality(code).is_some(),
                    "{code} in J58"
                );
            }
        }
        assert_eq!(
            crate::terminology::confidentiality("CONNEXION_SECRETE"),
            None
        );
    }

    #[test]
    fn destdmp() {
        let cases = [
            ("Y", Some(true), false),
            ("N", Some(false), true),
            ("n", Some(false), true),
            ("", None, false),
            ("X", None, false),
        ];
        for (value, dest, excluded) in cases {
            let f = flags(&format!(
                "{}{}",
                obx("MASQUE_PS", "N"),
                obx("DESTDMP", value)
            ));
            assert_eq!(f.dest_dmp, dest, "{value:?}");
            assert_eq!(f.excluded_from_dmp(), excluded, "{value:?}");
            assert_eq!(f.dest_dmp_path.as_deref(), Some("OBX[2]-5"));
        }
        assert!(!flags(&obx("MASQUE_PS", "Y")).excluded_from_dmp());
    }

    #[test]
    fn which_obx_are_flags() {
        let text = "MSH|^~\\&|A\r\
            OBX|1|ED|34874-8^CR opératoire^LN||^application^pdf^Base64^JVBERi0=||||||F\r\
            OBX|2|ED|CORPSMAIL_PS^Corps du mail^MetaDMPMSS||^text^^Base64^Q2hlcg==||||||F\r\
            OBX|3|CWE|DESTDMP^Destinataire DMP^metadmpmss||Y||||||F\r\
            OBX|4|TX|||texte\r\
            OBX|5|TX|MetaDMPMSS^x^LN||texte\r";
        let msg = Message::parse(text, Charset::Utf8).unwrap();
        let got: Vec<bool> = msg.segments_named("OBX").map(|o| is_flag(&o)).collect();
        assert_eq!(got, [false, true, true, false, false]);
    }
}
