//! The validated configuration: an embedded default TOML, overlaid by the user's file.
//!
//! `config/default.toml` is the single source of the defaults; a user file is merged over it
//! table by table, then deserialised with unknown keys refused and validated, so that an error
//! names the key (`document.time_zone: unknown time zone "Europe/Pari"`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The embedded default configuration (a demonstration establishment).
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub organisation: Organisation,
    pub oids: Oids,
    pub document: DocumentConfig,
    pub identity: IdentityPolicy,
    pub limits: Limits,
    pub stream: StreamConfig,
    pub input: InputConfig,
    pub output: OutputConfig,
    pub dmp: DmpDefaults,
}

/// The establishment: custodian and the authors' organisation.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub finess: String,
    pub name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub telecom: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Oids {
    pub document_root: String,
    pub ipp_root: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DocumentConfig {
    pub time_zone: String,
    pub healthcare_facility_type: String,
    pub practice_setting: String,
    #[serde(default)]
    pub type_map: BTreeMap<String, String>,
    /// The author written when the message names none (TXA-9, TXA-5, OBR-32, PRT `SB`, PV1-7);
    /// absent: such a message is rejected with `AUTHOR_MISSING`.
    #[serde(default)]
    pub default_author: Option<DefaultAuthor>,
}

/// A configured document author (`[document.default_author]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DefaultAuthor {
    /// National health professional identifier (IDNPS: `8` + RPPS, `0` + ADELI), written under
    /// OID 1.2.250.1.71.4.2.1.
    pub id: String,
    pub family: String,
    #[serde(default)]
    pub given: String,
    /// Author specialty (JDV_J01-XdsAuthorSpecialty-CISIS), e.g. `G15_10` "Médecin"; may be empty.
    #[serde(default)]
    pub specialty: String,
}

/// The identity gate's policy (CONTRACT.md `IDENTITY_NOT_QUALIFIED`, `INS_OID_TEST_IN_PRODUCTION`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentityPolicy {
    pub accept_vali: bool,
    pub allow_test_ins: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_message_bytes: u64,
    pub max_segments: u64,
    pub max_field_bytes: u64,
    pub max_content_bytes: u64,
    pub max_archive_entries: u64,
    pub max_archive_bytes: u64,
    pub max_archive_depth: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    pub idle_flush_ms: u64,
}

/// `[output]`: how the output folder's files are made durable
/// ([`crate::pipeline::sync`]).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    pub sync: crate::pipeline::sync::SyncSetting,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    pub ignore: Vec<String>,
    pub follow_symlinks: bool,
}

/// `[dmp]`: the MetaDMPMSS flags written in the emitted MDM / ORU (`--emit`) when the source
/// message does not give them (CI-SIS volet « Transmission de documents CDA en HL7v2 » 2.1,
/// `meta-dmp-mss.md`; every flag OBX is required in the emitted message).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DmpDefaults {
    pub masque_ps: bool,
    pub invisible_patient: bool,
    pub invisible_rep_legaux: bool,
    pub connexion_secrete: bool,
    pub modif_conf_code: bool,
    pub dest_dmp: bool,
    pub dest_mssante_ps: bool,
    pub dest_mssante_pat: bool,
    pub ack_reception: bool,
    pub ack_lecture: bool,
}

/// A configuration error, naming the file and the key.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Default for Config {
    fn default() -> Self {
        Config::from_toml(DEFAULT_TOML, "default")
            .expect("the embedded default configuration is valid")
    }
}

impl Config {
    /// Reads a configuration file laid over the default.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{}: cannot read: {e}", path.display())))?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// Parses TOML laid over the default; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let mut base: toml::Table = DEFAULT_TOML.parse().expect("embedded default is TOML");
        let user: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError(format!("{origin}: {e}")))?;
        merge(&mut base, user);
        let config: Config = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError(format!("{origin}: {e}")))?;
        config
            .validate()
            .map_err(|e| ConfigError(format!("{origin}: {e}")))?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let o = &self.organisation;
        if o.finess.len() != 9 || !o.finess.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!(
                "organisation.finess: {:?} is not 9 characters",
                o.finess
            ));
        }
        if o.name.trim().is_empty() {
            return Err("organisation.name: must not be empty".into());
        }
        if !is_cisis_telecom(&o.telecom) {
            return Err(format!(
                "organisation.telecom: {:?} is not a CI-SIS telecom address (prefix:value with \
                 prefix {}, e.g. \"tel:+33100000000\"; empty for none)",
                o.telecom,
                TELECOM_SCHEMES.join(", ")
            ));
        }
        for (key, oid) in [
            ("oids.document_root", &self.oids.document_root),
            ("oids.ipp_root", &self.oids.ipp_root),
        ] {
            if !is_oid(oid) {
                return Err(format!(
                    "{key}: {oid:?} is not an OID (digits separated by dots, first arc 0, 1 or 2)"
                ));
            }
        }
        // A derived document id is the root, a dot and up to 20 digits (a u64); an XDS uniqueId
        // holds at most 64 characters (IHE ITI TF-3 4.2.3.2.26).
        if self.oids.document_root.len() > MAX_DOCUMENT_ROOT_LEN {
            return Err(format!(
                "oids.document_root: {:?} is longer than {MAX_DOCUMENT_ROOT_LEN} characters \
                 (derived document ids must fit the 64 characters of an XDS uniqueId)",
                self.oids.document_root
            ));
        }
        let d = &self.document;
        if let Some(a) = &d.default_author {
            if !is_idnps(&a.id) {
                return Err(format!(
                    "document.default_author.id: {:?} is not a national health professional \
                     identifier (IDNPS: \"8\" + the 11-digit RPPS, or \"0\" + the 9-character \
                     ADELI)",
                    a.id
                ));
            }
            if a.family.trim().is_empty() {
                return Err("document.default_author.family: must not be empty".into());
            }
            if !a.specialty.is_empty()
                && crate::terminology::author_specialty(&a.specialty).is_none()
            {
                return Err(format!(
                    "document.default_author.specialty: {:?} is not in JDV_J01",
                    a.specialty
                ));
            }
        }
        if jiff::tz::TimeZone::get(&d.time_zone).is_err() {
            return Err(format!(
                "document.time_zone: unknown time zone {:?}",
                d.time_zone
            ));
        }
        if crate::terminology::healthcare_facility_type(&d.healthcare_facility_type).is_none() {
            return Err(format!(
                "document.healthcare_facility_type: {:?} is not in JDV_J02/J61",
                d.healthcare_facility_type
            ));
        }
        if crate::terminology::practice_setting(&d.practice_setting).is_none() {
            return Err(format!(
                "document.practice_setting: {:?} is not in JDV_J04",
                d.practice_setting
            ));
        }
        for (local, code) in &d.type_map {
            if crate::terminology::document_type(code).is_none() {
                return Err(format!(
                    "document.type_map.{local}: {code:?} is not a JDV_J07 document type"
                ));
            }
        }
        // « Un document clinique masqué au patient ne doit pas être envoyé au patient par
        // MSSanté » (volet, INVISIBLE_PATIENT).
        if self.dmp.invisible_patient && self.dmp.dest_mssante_pat {
            return Err("dmp.dest_mssante_pat: a document invisible to the patient \
                 (dmp.invisible_patient = true) must not be sent to the patient by MSSanté"
                .into());
        }
        let l = &self.limits;
        for (key, v) in [
            ("limits.max_message_bytes", l.max_message_bytes),
            ("limits.max_segments", l.max_segments),
            ("limits.max_field_bytes", l.max_field_bytes),
            ("limits.max_content_bytes", l.max_content_bytes),
            ("limits.max_archive_entries", l.max_archive_entries),
            ("limits.max_archive_bytes", l.max_archive_bytes),
        ] {
            if v == 0 {
                return Err(format!("{key}: must be greater than 0"));
            }
        }
        Ok(())
    }
}

/// The longest `oids.document_root`: root + `.` + 20 digits must fit 64 characters.
pub const MAX_DOCUMENT_ROOT_LEN: usize = 64 - 21;

/// True for a syntactically valid OID, as the CDA XSD `oid` type and the StrucMin rule dtr1-10-II
/// require (`[0-2](\.(0|[1-9][0-9]*))*`, schemas/ans-testcontenucda/infrastructure/cda/general/
/// datatypes-base.xsd), plus the ITU-T X.660 rule that under the roots `0` and `1` the second arc
/// is at most 39. At least two arcs, at most 64 characters (the DICOM / DMP bound).
pub fn is_oid(s: &str) -> bool {
    let number = |arc: &str| {
        !arc.is_empty()
            && arc.bytes().all(|b| b.is_ascii_digit())
            && (arc == "0" || !arc.starts_with('0'))
    };
    let mut arcs = s.split('.');
    let (Some(first), Some(second)) = (arcs.next(), arcs.next()) else {
        return false;
    };
    s.len() <= 64
        && number(first)
        && number(second)
        && arcs.all(number)
        && match first {
            "0" | "1" => second.len() <= 2 && second.parse::<u8>().is_ok_and(|a| a <= 39),
            "2" => true,
            _ => false,
        }
}

/// The schemes of a telecom address the CI-SIS accepts: « préfixe:chaîne (avec préfixe = tel, fax,
/// mailto, http, ftp ou mllp) » (StrucMin rule CI-SISTelecom, template 1.2.250.1.213.1.1.1.1.10.19,
/// schemas/ans-testcontenucda/schematrons/profils/structurationMinimale/include/). `https` is
/// not among them.
pub const TELECOM_SCHEMES: [&str; 6] = ["tel", "fax", "mailto", "http", "ftp", "mllp"];

/// True for a telecom the CDA can carry as `telecom/@value`: empty (no telecom written), or one
/// of [`TELECOM_SCHEMES`], a colon and a non-empty value, with no white space or control
/// character (the value must also be an `xs:anyURI`).
pub fn is_cisis_telecom(s: &str) -> bool {
    s.is_empty()
        || s.split_once(':').is_some_and(|(scheme, value)| {
            TELECOM_SCHEMES.contains(&scheme)
                && !value.is_empty()
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        })
}

/// True for a national health professional identifier (IDNPS) in one of the two forms dmpfeed
/// writes under OID 1.2.250.1.71.4.2.1 (see `document::person`): `8` + the 11-digit RPPS number
/// (CI-SIS example `801234567897`), or `0` + the 9-character ADELI number (the ANS annuaire's
/// identifier types: 8 = RPPS, 0 = ADELI).
pub fn is_idnps(s: &str) -> bool {
    match s.as_bytes() {
        [b'8', rpps @ ..] => rpps.len() == 11 && rpps.iter().all(u8::is_ascii_digit),
        [b'0', adeli @ ..] => adeli.len() == 9 && adeli.iter().all(u8::is_ascii_alphanumeric),
        _ => false,
    }
}

/// Lays `over` onto `base`: tables merge recursively, other values replace.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::default();
        assert_eq!(c.document.time_zone, "Europe/Paris");
        assert!(!c.identity.accept_vali);
    }

    #[test]
    fn a_user_file_only_needs_the_keys_it_changes() {
        let c = Config::from_toml("[identity]\naccept_vali = true\n", "test").unwrap();
        assert!(c.identity.accept_vali);
        assert!(!c.identity.allow_test_ins);
        assert_eq!(c.organisation.finess, "990000010");
    }

    macro_rules! config_error_names {
        ($($name:ident: $toml:expr => $key:expr;)+) => {$(
            #[test]
            fn $name() {
                let e = Config::from_toml($toml, "site.toml").unwrap_err().to_string();
                assert!(e.starts_with("site.toml: "), "{e}");
                assert!(e.contains($key), "{e} should name {}", $key);
            }
        )+};
    }

    config_error_names! {
        unknown_key: "[identity]\naccept_valli = true\n" => "accept_valli";
        wrong_type: "[identity]\naccept_vali = \"yes\"\n" => "accept_vali";
        bad_time_zone: "[document]\ntime_zone = \"Europe/Pari\"\n" => "document.time_zone";
        bad_oid: "[oids]\ndocument_root = \"1.2.x\"\n" => "oids.document_root";
        bad_finess: "[organisation]\nfiness = \"12\"\n" => "organisation.finess";
        bad_facility: "[document]\nhealthcare_facility_type = \"SA99X\"\n" => "document.healthcare_facility_type";
        bad_type_map: "[document.type_map]\nCR-OPE = \"99999-9\"\n" => "document.type_map.CR-OPE";
        long_document_root: "[oids]\ndocument_root = \"1.2.250.1.999.1.2.99.1.2.3.4.5.6.7.8.9.10.11.12\"\n" => "oids.document_root";
        default_author_without_family: "[document.default_author]\nid = \"810000100015\"\nfamily = \" \"\n" => "document.default_author.family";
        default_author_bad_id: "[document.default_author]\nid = \"8 1\"\nfamily = \"MARTIN\"\n" => "document.default_author.id";
        default_author_id_not_idnps: "[document.default_author]\nid = \"x\"\nfamily = \"MARTIN\"\n" => "document.default_author.id";
        default_author_bare_rpps: "[document.default_author]\nid = \"10000100015\"\nfamily = \"MARTIN\"\n" => "document.default_author.id";
        telecom_without_scheme: "[organisation]\ntelecom = \"0102030405\"\n" => "organisation.telecom";
        telecom_https: "[organisation]\ntelecom = \"https://chu.example\"\n" => "organisation.telecom";
        telecom_empty_value: "[organisation]\ntelecom = \"tel:\"\n" => "organisation.telecom";
        telecom_with_spaces: "[organisation]\ntelecom = \"tel:01 02 03 04 05\"\n" => "organisation.telecom";
        default_author_bad_specialty: "[document.default_author]\nid = \"810000100015\"\nfamily = \"MARTIN\"\nspecialty = \"XX\"\n" => "document.default_author.specialty";
        default_author_unknown_key: "[document.default_author]\nid = \"810000100015\"\nfamily = \"MARTIN\"\nrpps = \"1\"\n" => "rpps";
        zero_limit: "[limits]\nmax_message_bytes = 0\n" => "limits.max_message_bytes";
        dmp_unknown_flag: "[dmp]\nmasque = true\n" => "masque";
        dmp_not_a_boolean: "[dmp]\ndest_dmp = \"Y\"\n" => "dest_dmp";
        dmp_invisible_patient_sent_to_patient: "[dmp]\ninvisible_patient = true\ndest_mssante_pat = true\n" => "dmp.dest_mssante_pat";
        not_toml: "[identity\n" => "TOML";
    }

    #[test]
    fn default_author_is_optional_and_read_when_given() {
        assert_eq!(Config::default().document.default_author, None);
        let c = Config::from_toml(
            "[document.default_author]\nid = \"810000100015\"\nfamily = \"MARTIN\"\n",
            "test",
        )
        .unwrap();
        let a = c.document.default_author.unwrap();
        assert_eq!(
            (a.id.as_str(), a.family.as_str()),
            ("810000100015", "MARTIN")
        );
        assert_eq!((a.given.as_str(), a.specialty.as_str()), ("", ""));
    }

    #[test]
    fn dmp_defaults_send_to_the_dmp_only() {
        let d = Config::default().dmp;
        assert!(d.dest_dmp);
        assert!(!(d.masque_ps || d.invisible_patient || d.invisible_rep_legaux));
        assert!(!(d.dest_mssante_ps || d.dest_mssante_pat));
        let c = Config::from_toml("[dmp]\ndest_mssante_ps = true\n", "test").unwrap();
        assert!(c.dmp.dest_mssante_ps && c.dmp.dest_dmp);
    }

    #[test]
    fn telecoms_and_idnps() {
        for ok in [
            "",
            "tel:+33100000000",
            "fax:+33100000001",
            "mailto:secretariat@chu.example",
            "http://chu.example",
            "ftp://chu.example/x",
            "mllp://10.0.0.1:2575",
        ] {
            assert!(is_cisis_telecom(ok), "{ok}");
            Config::from_toml(&format!("[organisation]\ntelecom = {ok:?}\n"), "t").unwrap();
        }
        for bad in [
            "0102030405",
            "TEL:+33",
            "https://x",
            "tel:",
            ":x",
            "tel:1\n2",
        ] {
            assert!(!is_cisis_telecom(bad), "{bad}");
        }
        for ok in ["810000100015", "801234567897", "0691234567", "02A1234567"] {
            assert!(is_idnps(ok), "{ok}");
        }
        for bad in [
            "",
            "x",
            "8",
            "81000010001",
            "8100001000155",
            "8A0000100015",
            "3990000010/1",
        ] {
            assert!(!is_idnps(bad), "{bad}");
        }
    }

    #[test]
    fn oids() {
        assert!(is_oid("1.2.250.1.213.1.4.8"));
        assert!(!is_oid("1.2.250.01"));
        assert!(!is_oid("1"));
        assert!(!is_oid("1..2"));
        assert!(!is_oid(""));
        // X.660: the first arc is 0, 1 or 2; under 0 and 1 the second arc is at most 39
        assert!(is_oid("2.16.840.1.113883"));
        assert!(is_oid("2.999.1"));
        assert!(is_oid("0.39"));
        assert!(!is_oid("3.1.2.5"));
        assert!(!is_oid("10.1"));
        assert!(!is_oid("1.40.2"));
        assert!(!is_oid("0.400"));
        assert!(!is_oid("01.2"));
    }
}
