//! The MetaDMPMSS flags an emitted message carries: every one of the ten required flag OBX, in
//! the volet's order, with a value for each (CI-SIS volet « Transmission de documents CDA en
//! HL7v2 » 2.1, `meta-dmp-mss.md` and `profils-messages.md`: « Les tableaux suivants listent
//! l'ensemble des segments et des champs à renseigner obligatoirement, dans l'ordre indiqué »).
//!
//! A value comes from the source message when it sent the flag (Y or N), otherwise from the
//! configuration (`[dmp]`). One rule ties two defaults: « un document clinique masqué au
//! patient ne doit pas être envoyé au patient par MSSanté », so a `DESTMSSANTEPAT` the source did
//! not give is `N` when the document is invisible to the patient.

use crate::config::DmpDefaults;
use crate::document::flags::{self, MetaDmpFlags};
use crate::hl7::Message;

/// One flag of the table « MetaDMP/MSS »: OBX-3.1 and OBX-3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub code: &'static str,
    pub label: &'static str,
}

/// The required flags, in the order of the volet and of the ANS examples.
pub const FLAGS: [Flag; 10] = [
    Flag {
        code: "MASQUE_PS",
        label: "Masqué aux professionnels de Santé",
    },
    Flag {
        code: "INVISIBLE_PATIENT",
        label: "Document Non Visible par le patient",
    },
    Flag {
        code: "INVISIBLE_REP_LEGAUX",
        label: "Non visible par les représentants Légaux du patient",
    },
    Flag {
        code: "CONNEXION_SECRETE",
        label: "Connexion Secrete",
    },
    Flag {
        code: "MODIF_CONF_CODE",
        label: "Modification Confidentiality Code",
    },
    Flag {
        code: "DESTDMP",
        label: "Destinataire DMP",
    },
    Flag {
        code: "DESTMSSANTEPS",
        label: "Destinataire (Professionnel de Santé, organisation ou BAL applicative)",
    },
    Flag {
        code: "DESTMSSANTEPAT",
        label: "Destinataire Patient",
    },
    Flag {
        code: "ACK_RECEPTION",
        label: "Accusé de réception",
    },
    Flag {
        code: "ACK_LECTURE_MSS",
        label: "Accusé de lecture",
    },
];

/// The value of every flag of [`FLAGS`], in the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecidedFlags(pub [bool; 10]);

impl DecidedFlags {
    /// The source's flags where it gave them, the configured defaults elsewhere.
    pub fn decide(source: &MetaDmpFlags, defaults: &DmpDefaults) -> DecidedFlags {
        let d = defaults;
        let pick = |sent: Option<bool>, default: bool| sent.unwrap_or(default);
        let invisible_patient = pick(source.invisible_patient, d.invisible_patient);
        DecidedFlags([
            pick(source.masque_ps, d.masque_ps),
            invisible_patient,
            pick(source.invisible_rep_legaux, d.invisible_rep_legaux),
            pick(source.connexion_secrete, d.connexion_secrete),
            pick(source.modif_conf_code, d.modif_conf_code),
            pick(source.dest_dmp, d.dest_dmp),
            pick(source.dest_mssante_ps, d.dest_mssante_ps),
            pick(
                source.dest_mssante_pat,
                d.dest_mssante_pat && !invisible_patient,
            ),
            pick(source.ack_reception, d.ack_reception),
            pick(source.ack_lecture, d.ack_lecture),
        ])
    }

    /// `(flag, value)` in the volet's order.
    pub fn iter(&self) -> impl Iterator<Item = (Flag, bool)> + '_ {
        FLAGS.into_iter().zip(self.0)
    }

    /// The value of the flag with this code.
    pub fn get(&self, code: &str) -> Option<bool> {
        self.iter().find(|(f, _)| f.code == code).map(|(_, v)| v)
    }

    /// The XDS confidentiality codes of JDV_J58 the flags add after the CDA's own
    /// confidentialityCode (`INVISIBLE_REP_LEGAUX` is `INVISIBLE_REPRESENTANTS_LEGAUX` there;
    /// `CONNEXION_SECRETE` is no J58 code).
    pub fn visibility_codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        [
            (self.0[0], flags::MASQUE_PS),
            (self.0[1], flags::INVISIBLE_PATIENT),
            (self.0[2], flags::INVISIBLE_REPRESENTANTS_LEGAUX),
        ]
        .into_iter()
        .filter_map(|(on, code)| on.then_some(code))
    }
}

/// The flags the source message sent (every `MetaDMPMSS` OBX, as `document::read` reads them).
pub fn source_flags(msg: &Message<'_>) -> MetaDmpFlags {
    let mut f = MetaDmpFlags::default();
    for (i, obx) in msg.segments_named("OBX").enumerate() {
        if flags::is_flag(&obx) {
            f.record(&obx, i + 1);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn decided(source: MetaDmpFlags, defaults: DmpDefaults) -> Vec<(&'static str, bool)> {
        DecidedFlags::decide(&source, &defaults)
            .iter()
            .map(|(f, v)| (f.code, v))
            .collect()
    }

    #[test]
    fn source_values_win_over_defaults() {
        let defaults = Config::default().dmp;
        let source = MetaDmpFlags {
            masque_ps: Some(true),
            dest_dmp: Some(false),
            ack_lecture: Some(true),
            ..MetaDmpFlags::default()
        };
        let got = decided(source, defaults);
        let want = [
            ("MASQUE_PS", true),
            ("INVISIBLE_PATIENT", false),
            ("INVISIBLE_REP_LEGAUX", false),
            ("CONNEXION_SECRETE", false),
            ("MODIF_CONF_CODE", false),
            ("DESTDMP", false),
            ("DESTMSSANTEPS", false),
            ("DESTMSSANTEPAT", false),
            ("ACK_RECEPTION", false),
            ("ACK_LECTURE_MSS", true),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn defaults_fill_what_the_source_did_not_send() {
        let defaults = DmpDefaults {
            dest_mssante_ps: true,
            dest_mssante_pat: true,
            ack_reception: true,
            ..Config::default().dmp
        };
        let cases = [
            // (source INVISIBLE_PATIENT, source DESTMSSANTEPAT) → DESTMSSANTEPAT
            (None, None, true),
            (Some(true), None, false), // not sent to a patient who must not see it
            (Some(true), Some(true), true), // the sender said so: kept
            (Some(false), None, true),
        ];
        for (invisible, dest_pat, want) in cases {
            let source = MetaDmpFlags {
                invisible_patient: invisible,
                dest_mssante_pat: dest_pat,
                ..MetaDmpFlags::default()
            };
            let f = DecidedFlags::decide(&source, &defaults);
            assert_eq!(
                f.get("DESTMSSANTEPAT"),
                Some(want),
                "{invisible:?} {dest_pat:?}"
            );
            assert_eq!(f.get("DESTMSSANTEPS"), Some(true));
            assert_eq!(f.get("ACK_RECEPTION"), Some(true));
            assert_eq!(f.get("DESTDMP"), Some(true));
        }
        assert_eq!(DecidedFlags([false; 10]).get("NOT_A_FLAG"), None);
    }

    #[test]
    fn visibility_codes_are_j58_codes() {
        let mut all = [false; 10];
        all[..4].copy_from_slice(&[true; 4]);
        let codes: Vec<_> = DecidedFlags(all).visibility_codes().collect();
        assert_eq!(
            codes,
            [
                "MASQUE_PS",
                "INVISIBLE_PATIENT",
                "INVISIBLE_REPRESENTANTS_LEGAUX"
            ]
        );
        for c in codes {
            assert!(crate::terminology::confidentiality(c).is_some(), "{c}");
        }
        assert_eq!(DecidedFlags([false; 10]).visibility_codes().count(), 0);
    }

    /// The labels are the volet's (`meta-dmp-mss.md`), as the ANS MDM example writes them.
    #[test]
    fn labels_are_those_of_the_ans_example() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ans-hl7v2-exemples/Vague 2/Trans_Doc-CDA-HL7V2/",
            "TRANSMISSION_DOCS_CDA_EN_HL7V2_V2.1/MDM/Transmission initiale MDM/",
            "message_MDM_CR_Radio_INIT_N1.er7"
        );
        let raw = std::fs::read(path).unwrap();
        let decoded = crate::hl7::decode(&raw).unwrap();
        let msg = decoded.parse().unwrap();
        let sent: Vec<(String, String)> = msg
            .segments_named("OBX")
            .filter(|o| flags::is_flag(o))
            .filter_map(|o| {
                let id = o.field(3)?.first();
                Some((id.text(1).into_owned(), id.text(2).into_owned()))
            })
            .filter(|(code, _)| !code.starts_with("CORPSMAIL"))
            .collect();
        let ours: Vec<(String, String)> = FLAGS
            .iter()
            .map(|f| (f.code.to_owned(), f.label.to_owned()))
            .collect();
        assert_eq!(sent, ours);
        // and the source reading sees what the example sends
        let f = source_flags(&msg);
        assert_eq!(f.invisible_patient, Some(true));
        assert_eq!(f.dest_dmp, Some(true));
        assert_eq!(f.ack_lecture, Some(false));
    }
}
