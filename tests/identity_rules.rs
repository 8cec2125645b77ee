//! Every identity rule, one line per case: a PID built from a clean, qualified patient with one
//! thing changed, and the exact findings (code, path) expected, in order.
//!
//! The NIR vectors of the domain notes (§2.2) and their off-by-one variants go through the whole
//! gate, not only through `Nir`: 279035121518989 (ANS test patient PAT-TROIS), 253072A07300443
//! and 253072B07300470 (Corsica), 295109912611193 (born abroad).

use dmpfeed::config::IdentityPolicy;
use dmpfeed::hl7::{Charset, Message};
use dmpfeed::identity::{self, IdentityVerdict};

const NIR_OID: &str = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO";
const NIA_OID: &str = "ASIP-SANTE-INS-NIA&1.2.250.1.213.1.4.9&ISO";
const TEST_OID: &str = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO";
const DEMO_OID: &str = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.11&ISO";
const IPP: &str = "100001^^^CHU-DEMO&1.2.250.1.999.1.1&ISO^PI";

/// One message to assess: the PID pieces and the policy.
struct Case {
    msh11: String,
    pid3: String,
    pid5: String,
    pid7: String,
    pid8: String,
    pid11: String,
    pid32: String,
    accept_vali: bool,
    allow_test_ins: bool,
}

/// The traits a NIR implies: sex from digit 1, birth date 19YY-MM-15, birthplace = NIR place.
fn traits_of(nir: &str) -> (String, String, String) {
    let sex = if nir.starts_with('1') { "M" } else { "F" };
    let birth_date = format!("19{}{}15", &nir[1..3], &nir[3..5]);
    (sex.into(), birth_date, nir[5..10].into())
}

/// A clean, qualified patient whose traits agree with `nir` (under the production NIR OID).
fn patient(nir: &str) -> Case {
    let (sex, birth_date, place) = traits_of(nir);
    Case {
        msh11: "P".into(),
        pid3: format!("{IPP}~{nir}^^^{NIR_OID}^INS"),
        pid5: "PAT-TROIS^DOMINIQUE^DOMINIQUE MARIE^^^^L~MARTIN^DOMINIQUE^^^^^D".into(),
        pid7: birth_date,
        pid8: sex,
        pid11: format!("28 Av de Breteuil^^PARIS^^75007^FRA^H~^^REIMS^^^FRA^BDL^^{place}"),
        pid32: "QUAL".into(),
        accept_vali: false,
        allow_test_ins: false,
    }
}

/// The traits of `traits` with `ins` in PID-3(2): an INS variant against the original patient.
fn variant(ins: &str, traits: &str) -> Case {
    Case {
        pid3: format!("{IPP}~{ins}^^^{NIR_OID}^INS"),
        ..patient(traits)
    }
}

/// PAT-TROIS with these PID-3 repetitions.
fn pid3(pid3: String) -> Case {
    Case {
        pid3,
        ..patient(PAT_TROIS)
    }
}

const PAT_TROIS: &str = "279035121518989";
const CORSE_DU_SUD: &str = "253072A07300443";
const HAUTE_CORSE: &str = "253072B07300470";
const ABROAD: &str = "295109912611193";
/// PAT-TROIS's NIR with its month replaced by the pseudo-month 20 (key recomputed).
const PSEUDO_MONTH: &str = "279205121518970";

impl Case {
    fn message(&self) -> String {
        format!(
            "MSH|^~\\&|DPI-DEMO|CHU-DEMO|PFI-DEMO|CHU-DEMO|20240318143005||MDM^T02^MDM_T02|SMPL0001|{}|2.6|||||FRA|UNICODE UTF-8|||2.1^CISIS_CDA_HL7_V2\r\
             PID|1||{}||{}||{}|{}|||{}|||||||A100001^^^CHU-DEMO&1.2.250.1.999.1.4&ISO^AN|||||||||||||N|{}\r\
             PV1|1|I\r",
            self.msh11, self.pid3, self.pid5, self.pid7, self.pid8, self.pid11, self.pid32
        )
    }

    fn policy(&self) -> IdentityPolicy {
        IdentityPolicy {
            accept_vali: self.accept_vali,
            allow_test_ins: self.allow_test_ins,
        }
    }
}

fn assess(case: &Case) -> Vec<(String, String)> {
    let text = case.message();
    let msg = Message::parse(&text, Charset::Utf8).unwrap();
    let verdict = identity::assess(&msg, &case.policy());
    check_no_identity_in_details(&verdict, case);
    let got: Vec<(String, String)> = verdict
        .findings
        .iter()
        .map(|f| (f.code.as_str().to_owned(), f.path.clone()))
        .collect();
    let blocking = got.iter().any(|(c, _)| c != "NIR_BIRTHPLACE_MISMATCH");
    assert_eq!(verdict.is_usable(), !blocking, "{got:?}");
    got
}

/// Details may be logged: no INS, name, birth date or birthplace code in them.
fn check_no_identity_in_details(verdict: &IdentityVerdict<'_>, case: &Case) {
    let mut secrets: Vec<&str> = case
        .pid3
        .split('~')
        .map(|cx| cx.split('^').next().unwrap_or(""))
        .collect();
    secrets.extend(["PAT-TROIS", "DOMINIQUE", "MARTIN", "REIMS", "PARIS"]);
    secrets.push(&case.pid7);
    let place = case.pid11.rsplit('^').next().unwrap_or("");
    secrets.push(place);
    for f in &verdict.findings {
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            assert!(
                !f.detail.contains(s),
                "{} detail {:?} shows {s:?}",
                f.code,
                f.detail
            );
        }
    }
}

macro_rules! gives {
    ($($name:ident: $case:expr => [$(($code:literal, $path:literal)),* $(,)?];)+) => {$(
        #[test]
        fn $name() {
            let expected: Vec<(String, String)> =
                vec![$(($code.to_owned(), $path.to_owned())),*];
            assert_eq!(assess(&$case), expected);
        }
    )+};
}

gives! {
    // --- the vectors, with traits that agree: usable -----------------------------------------
    pat_trois_is_usable: patient(PAT_TROIS) => [];
    corsica_2a_is_usable: patient(CORSE_DU_SUD) => [];
    corsica_2b_is_usable: patient(HAUTE_CORSE) => [];
    born_abroad_is_usable: patient(ABROAD) => [];
    nia_oid_is_an_ins: Case { pid3: format!("{ABROAD}^^^{NIA_OID}^INS"), ..patient(ABROAD) } => [];

    // --- INS_KEY_INVALID: key ± 1, a body digit changed, 2A ↔ 2B swapped ---------------------
    pat_trois_key_plus_one: variant("279035121518990", PAT_TROIS) => [("INS_KEY_INVALID", "PID-3(2).1")];
    pat_trois_key_minus_one: variant("279035121518988", PAT_TROIS) => [("INS_KEY_INVALID", "PID-3(2).1")];
    pat_trois_order_digit_changed: variant("279035121519989", PAT_TROIS) => [("INS_KEY_INVALID", "PID-3(2).1")];
    corsica_2a_key_plus_one: variant("253072A07300444", CORSE_DU_SUD) => [("INS_KEY_INVALID", "PID-3(2).1")];
    corsica_2a_key_minus_one: variant("253072A07300442", CORSE_DU_SUD) => [("INS_KEY_INVALID", "PID-3(2).1")];
    corsica_2a_commune_digit_changed: variant("253072A08300443", CORSE_DU_SUD) => [
        ("INS_KEY_INVALID", "PID-3(2).1"),
        ("NIR_BIRTHPLACE_MISMATCH", "PID-11(2).9"),
    ];
    corsica_2b_key_plus_one: variant("253072B07300471", HAUTE_CORSE) => [("INS_KEY_INVALID", "PID-3(2).1")];
    corsica_2b_key_minus_one: variant("253072B07300469", HAUTE_CORSE) => [("INS_KEY_INVALID", "PID-3(2).1")];
    corsica_2a_written_2b: variant("253072B07300443", CORSE_DU_SUD) => [
        ("INS_KEY_INVALID", "PID-3(2).1"),
        ("NIR_BIRTHPLACE_MISMATCH", "PID-11(2).9"),
    ];
    corsica_2b_written_2a: variant("253072A07300470", HAUTE_CORSE) => [
        ("INS_KEY_INVALID", "PID-3(2).1"),
        ("NIR_BIRTHPLACE_MISMATCH", "PID-11(2).9"),
    ];
    corsica_written_20_keeps_its_key_wrong: variant("253072007300443", CORSE_DU_SUD) => [("INS_KEY_INVALID", "PID-3(2).1")];
    abroad_key_plus_one: variant("295109912611194", ABROAD) => [("INS_KEY_INVALID", "PID-3(2).1")];
    abroad_key_minus_one: variant("295109912611192", ABROAD) => [("INS_KEY_INVALID", "PID-3(2).1")];
    abroad_order_digit_changed: variant("295109912612193", ABROAD) => [("INS_KEY_INVALID", "PID-3(2).1")];
    key_00_is_never_right: variant("279035121518900", PAT_TROIS) => [("INS_KEY_INVALID", "PID-3(2).1")];

    // --- INS_MALFORMED: 14/16 characters, letters --------------------------------------------
    fourteen_characters: variant("27903512151898", PAT_TROIS) => [("INS_MALFORMED", "PID-3(2).1")];
    sixteen_characters: variant("2790351215189890", PAT_TROIS) => [("INS_MALFORMED", "PID-3(2).1")];
    corsica_fourteen_characters: variant("253072A0730044", CORSE_DU_SUD) => [("INS_MALFORMED", "PID-3(2).1")];
    abroad_sixteen_characters: variant("2951099126111930", ABROAD) => [("INS_MALFORMED", "PID-3(2).1")];
    letter_in_body: variant("2790351215X8989", PAT_TROIS) => [("INS_MALFORMED", "PID-3(2).1")];
    letter_in_key: variant("2790351215189B9", PAT_TROIS) => [("INS_MALFORMED", "PID-3(2).1")];
    corsica_2c: variant("253072C07300443", CORSE_DU_SUD) => [("INS_MALFORMED", "PID-3(2).1")];
    corsica_lower_case: variant("253072a07300443", CORSE_DU_SUD) => [("INS_MALFORMED", "PID-3(2).1")];
    empty_ins_value: variant("", PAT_TROIS) => [("INS_MALFORMED", "PID-3(2).1")];
    escaped_separator_in_ins: variant("2790351215\\S\\8989", PAT_TROIS) => [("INS_MALFORMED", "PID-3(2).1")];

    // --- INS_MISSING and what is an INS ----------------------------------------------------------
    only_the_ipp: pid3(IPP.into()) => [("INS_MISSING", "PID-3")];
    empty_pid3: pid3(String::new()) => [("INS_MISSING", "PID-3")];
    nh_is_a_social_security_number: pid3(format!("{IPP}~{PAT_TROIS}^^^{NIR_OID}^NH")) => [("INS_MISSING", "PID-3")];
    ins_c_typed_is_not_an_ins: pid3(format!("{IPP}~1234567890123456789012^^^X&1.2.250.1.213.1.4.2&ISO^INS-C")) => [("INS_MISSING", "PID-3")];
    empty_type_with_ins_oid_is_an_ins: pid3(format!("{IPP}~{PAT_TROIS}^^^{NIR_OID}")) => [];
    ins_nir_type_code: pid3(format!("{IPP}~{PAT_TROIS}^^^{NIR_OID}^INS-NIR")) => [];
    ins_nia_type_code: pid3(format!("{IPP}~{PAT_TROIS}^^^{NIA_OID}^INS-NIA")) => [];
    ins_first_then_ipp: pid3(format!("{PAT_TROIS}^^^{NIR_OID}^INS~{IPP}")) => [];

    // --- INS_OID_UNKNOWN ----------------------------------------------------------------------
    ins_c_oid_typed_ins: pid3(format!("{IPP}~{PAT_TROIS}^^^ASIP-SANTE-INS-C&1.2.250.1.213.1.4.2&ISO^INS")) => [("INS_OID_UNKNOWN", "PID-3(2).4.2")];
    ins_c_oid_empty_type: pid3(format!("{IPP}~{PAT_TROIS}^^^ASIP-SANTE-INS-C&1.2.250.1.213.1.4.2&ISO")) => [("INS_OID_UNKNOWN", "PID-3(2).4.2")];
    local_oid_typed_ins: pid3(format!("{IPP}~{PAT_TROIS}^^^CHU&1.2.250.1.999.1.1&ISO^INS")) => [("INS_OID_UNKNOWN", "PID-3(2).4.2")];
    no_authority_typed_ins: pid3(format!("{IPP}~{PAT_TROIS}^^^^INS")) => [("INS_OID_UNKNOWN", "PID-3(2).4.2")];
    oid_in_cx_4_1: pid3(format!("{IPP}~{PAT_TROIS}^^^1.2.250.1.213.1.4.8^INS")) => [("INS_OID_UNKNOWN", "PID-3(2).4.2")];
    oid_with_trailing_dot: pid3(format!("{IPP}~{PAT_TROIS}^^^X&1.2.250.1.213.1.4.8.&ISO^INS")) => [("INS_OID_UNKNOWN", "PID-3(2).4.2")];
    unknown_oid_and_bad_key_together: pid3(format!("{IPP}~279035121518988^^^^INS")) => [
        ("INS_OID_UNKNOWN", "PID-3(2).4.2"),
        ("INS_KEY_INVALID", "PID-3(2).1"),
    ];

    // --- INS_OID_TEST_IN_PRODUCTION -----------------------------------------------------------
    test_oid_in_production: pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS")) => [("INS_OID_TEST_IN_PRODUCTION", "PID-3(2).4.2")];
    demo_oid_in_production: pid3(format!("{IPP}~{PAT_TROIS}^^^{DEMO_OID}^INS")) => [("INS_OID_TEST_IN_PRODUCTION", "PID-3(2).4.2")];
    test_oid_in_debugging_message: Case { msh11: "D".into(), ..pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS")) } => [];
    test_oid_in_training_message: Case { msh11: "T".into(), ..pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS")) } => [];
    test_oid_with_processing_mode: Case { msh11: "T^I".into(), ..pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS")) } => [];
    test_oid_with_empty_msh11_is_production: Case { msh11: String::new(), ..pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS")) } => [("INS_OID_TEST_IN_PRODUCTION", "PID-3(2).4.2")];
    test_oid_with_lower_case_t_is_production: Case { msh11: "t".into(), ..pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS")) } => [("INS_OID_TEST_IN_PRODUCTION", "PID-3(2).4.2")];
    test_oid_allowed_by_policy: Case { allow_test_ins: true, ..pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS")) } => [];
    production_oid_in_test_message: Case { msh11: "T".into(), ..patient(PAT_TROIS) } => [];
    test_oid_with_bad_key_gives_both: pid3(format!("{IPP}~279035121518988^^^{TEST_OID}^INS")) => [
        ("INS_OID_TEST_IN_PRODUCTION", "PID-3(2).4.2"),
        ("INS_KEY_INVALID", "PID-3(2).1"),
    ];

    // --- several INS ------------------------------------------------------------------------------
    same_ins_twice_is_fine: pid3(format!("{IPP}~{PAT_TROIS}^^^{NIR_OID}^INS~{PAT_TROIS}^^^{NIR_OID}^INS-NIR")) => [];
    valid_ins_beside_a_broken_one: pid3(format!("{IPP}~279035121518988^^^{NIR_OID}^INS~{PAT_TROIS}^^^{NIR_OID}^INS")) => [];
    valid_ins_beside_an_ins_c: pid3(format!("{IPP}~{PAT_TROIS}^^^{NIR_OID}^INS~{PAT_TROIS}^^^X&1.2.250.1.213.1.4.2&ISO^INS")) => [];
    production_preferred_over_test_same_value: pid3(format!("{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS~{PAT_TROIS}^^^{NIR_OID}^INS")) => [];
    two_different_valid_ins_conflict: pid3(format!("{IPP}~{PAT_TROIS}^^^{NIR_OID}^INS~{ABROAD}^^^{NIR_OID}^INS")) => [("INS_CONFLICT", "PID-3(3).1")];
    test_and_production_values_conflict: pid3(format!("{IPP}~{ABROAD}^^^{TEST_OID}^INS~{PAT_TROIS}^^^{NIR_OID}^INS")) => [("INS_CONFLICT", "PID-3(2).1")];
    two_broken_ins_give_every_reason: pid3(format!("{IPP}~27903512151898^^^{NIR_OID}^INS~279035121518988^^^X&1.2.3&ISO^INS")) => [
        ("INS_MALFORMED", "PID-3(2).1"),
        ("INS_OID_UNKNOWN", "PID-3(3).4.2"),
        ("INS_KEY_INVALID", "PID-3(3).1"),
    ];

    // --- PID-32 -----------------------------------------------------------------------------------
    vali_refused_by_default: Case { pid32: "VALI".into(), ..patient(PAT_TROIS) } => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
    vali_accepted_by_policy: Case { pid32: "VALI".into(), accept_vali: true, ..patient(PAT_TROIS) } => [];
    prov_not_qualified: Case { pid32: "PROV".into(), accept_vali: true, ..patient(PAT_TROIS) } => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
    recup_not_qualified: Case { pid32: "RECUP".into(), ..patient(PAT_TROIS) } => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
    vide_not_qualified: Case { pid32: "VIDE".into(), ..patient(PAT_TROIS) } => [("IDENTITY_NOT_QUALIFIED", "PID-32(1)")];
    empty_pid32_not_qualified: Case { pid32: String::new(), ..patient(PAT_TROIS) } => [("IDENTITY_NOT_QUALIFIED", "PID-32")];
    lower_case_qual_not_qualified: Case { pid32: "qual".into(), ..patient(PAT_TROIS) } => [("IDENTITY_NOT_QUALIFIED", "PID-32")];
    qual_dout_doubtful: Case { pid32: "QUAL~DOUT".into(), ..patient(PAT_TROIS) } => [("IDENTITY_DOUBTFUL", "PID-32(2)")];
    qual_fict_doubtful: Case { pid32: "QUAL~FICT".into(), ..patient(PAT_TROIS) } => [("IDENTITY_DOUBTFUL", "PID-32(2)")];
    vali_fict_doubtful_even_when_vali_accepted: Case { pid32: "VALI~FICT".into(), accept_vali: true, ..patient(PAT_TROIS) } => [("IDENTITY_DOUBTFUL", "PID-32(2)")];
    prov_dout_both: Case { pid32: "PROV~DOUT".into(), ..patient(PAT_TROIS) } => [
        ("IDENTITY_DOUBTFUL", "PID-32(2)"),
        ("IDENTITY_NOT_QUALIFIED", "PID-32(1)"),
    ];
    qual_homonym_usable: Case { pid32: "QUAL~HOMD".into(), ..patient(PAT_TROIS) } => [];

    // --- TRAIT_MISSING -----------------------------------------------------------------------------
    no_birth_name_repetition: Case { pid5: "MARTIN^DOMINIQUE^^^^^D".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-5")];
    untyped_name_is_not_a_birth_name: Case { pid5: "PAT-TROIS^DOMINIQUE^DOMINIQUE".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-5")];
    birth_name_empty: Case { pid5: "^DOMINIQUE^DOMINIQUE^^^^L".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-5(1).1")];
    first_given_name_empty: Case { pid5: "MARTIN^DOMINIQUE^^^^^D~PAT-TROIS^^DOMINIQUE^^^^L".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-5(2).2")];
    given_names_empty: Case { pid5: "PAT-TROIS^DOMINIQUE^^^^^L".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-5(1).3")];
    given_names_explicit_null: Case { pid5: "PAT-TROIS^DOMINIQUE^\"\"^^^^L".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-5(1).3")];
    all_names_empty: Case { pid5: "^^^^^^L".into(), ..patient(PAT_TROIS) } => [
        ("TRAIT_MISSING", "PID-5(1).1"),
        ("TRAIT_MISSING", "PID-5(1).2"),
        ("TRAIT_MISSING", "PID-5(1).3"),
    ];
    birth_date_empty: Case { pid7: String::new(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-7")];
    birth_date_not_a_date: Case { pid7: "15/03/1979".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-7")];
    birth_date_year_only_is_present: Case { pid7: "1979".into(), ..patient(PAT_TROIS) } => [];
    birth_date_year_month_is_present: Case { pid7: "197903".into(), ..patient(PAT_TROIS) } => [];
    birth_date_with_time: Case { pid7: "197903150830".into(), ..patient(PAT_TROIS) } => [];
    sex_empty: Case { pid8: String::new(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-8")];
    no_bdl_repetition: Case { pid11: "28 Av de Breteuil^^PARIS^^75007^FRA^H".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-11")];
    bdl_without_code: Case { pid11: "28 Av de Breteuil^^PARIS^^75007^FRA^H~^^REIMS^^^FRA^BDL".into(), ..patient(PAT_TROIS) } => [("TRAIT_MISSING", "PID-11(2).9")];
    bdl_first: Case { pid11: "^^REIMS^^^FRA^BDL^^51215~28 Av de Breteuil^^PARIS^^75007^FRA^H".into(), ..patient(PAT_TROIS) } => [];
    every_trait_missing_at_once: Case { pid5: "^^^^^^L".into(), pid7: String::new(), pid8: String::new(), pid11: String::new(), ..patient(PAT_TROIS) } => [
        ("TRAIT_MISSING", "PID-5(1).1"),
        ("TRAIT_MISSING", "PID-5(1).2"),
        ("TRAIT_MISSING", "PID-5(1).3"),
        ("TRAIT_MISSING", "PID-7"),
        ("TRAIT_MISSING", "PID-8"),
        ("TRAIT_MISSING", "PID-11"),
    ];

    // --- NIR ↔ traits -------------------------------------------------------------------------------
    sex_m_with_female_digit: Case { pid8: "M".into(), ..patient(PAT_TROIS) } => [("NIR_SEX_MISMATCH", "PID-8")];
    sex_f_with_male_digit: Case { pid8: "F".into(), ..patient("170093523851196") } => [("NIR_SEX_MISMATCH", "PID-8")];
    sex_unknown_with_an_ins: Case { pid8: "U".into(), ..patient(PAT_TROIS) } => [("NIR_SEX_MISMATCH", "PID-8")];
    sex_lower_case: Case { pid8: "f".into(), ..patient(PAT_TROIS) } => [("NIR_SEX_MISMATCH", "PID-8")];
    year_differs: Case { pid7: "19780315".into(), ..patient(PAT_TROIS) } => [("NIR_BIRTHDATE_MISMATCH", "PID-7")];
    century_is_not_in_the_nir: Case { pid7: "18790315".into(), ..patient(PAT_TROIS) } => [];
    month_differs: Case { pid7: "19790415".into(), ..patient(PAT_TROIS) } => [("NIR_BIRTHDATE_MISMATCH", "PID-7")];
    year_and_month_differ: Case { pid7: "19800415".into(), ..patient(PAT_TROIS) } => [
        ("NIR_BIRTHDATE_MISMATCH", "PID-7"),
        ("NIR_BIRTHDATE_MISMATCH", "PID-7"),
    ];
    year_only_checks_the_year: Case { pid7: "1980".into(), ..patient(PAT_TROIS) } => [("NIR_BIRTHDATE_MISMATCH", "PID-7")];
    year_only_same_year: Case { pid7: "1979".into(), ..patient(PAT_TROIS) } => [];
    nir_pseudo_month_skips_the_month: Case { pid7: "19790315".into(), ..patient(PSEUDO_MONTH) } => [];
    nir_pseudo_month_still_checks_the_year: Case { pid7: "19800315".into(), ..patient(PSEUDO_MONTH) } => [("NIR_BIRTHDATE_MISMATCH", "PID-7")];
    birthplace_differs_is_a_warning: Case { pid11: "^^REIMS^^^FRA^BDL^^63220".into(), ..patient(PAT_TROIS) } => [("NIR_BIRTHPLACE_MISMATCH", "PID-11(1).9")];
    corsica_before_1976_matches: Case { pid3: format!("{IPP}~153072007300466^^^{NIR_OID}^INS"), pid11: "^^AJACCIO^^^FRA^BDL^^2A073".into(), pid8: "M".into(), pid7: "19530715".into(), ..patient(CORSE_DU_SUD) } => [];
    abroad_country_differs: Case { pid11: "^^DAKAR^^^SEN^BDL^^99341".into(), ..patient(ABROAD) } => [("NIR_BIRTHPLACE_MISMATCH", "PID-11(1).9")];
    consistency_runs_despite_a_bad_key: Case { pid8: "M".into(), ..variant("279035121518988", PAT_TROIS) } => [
        ("INS_KEY_INVALID", "PID-3(2).1"),
        ("NIR_SEX_MISMATCH", "PID-8"),
    ];

    // --- every reason at once ------------------------------------------------------------------------
    no_ins_still_checks_status_and_traits: Case { pid3: IPP.into(), pid32: "PROV".into(), pid7: String::new(), ..patient(PAT_TROIS) } => [
        ("INS_MISSING", "PID-3"),
        ("IDENTITY_NOT_QUALIFIED", "PID-32(1)"),
        ("TRAIT_MISSING", "PID-7"),
    ];
    everything_wrong: Case {
        msh11: "P".into(),
        pid3: format!("{IPP}~279035121518988^^^{TEST_OID}^INS"),
        pid5: "^DOMINIQUE^^^^^L".into(),
        pid7: "19800415".into(),
        pid8: "M".into(),
        pid11: "^^REIMS^^^FRA^BDL^^63220".into(),
        pid32: "PROV~DOUT".into(),
        accept_vali: false,
        allow_test_ins: false,
    } => [
        ("INS_OID_TEST_IN_PRODUCTION", "PID-3(2).4.2"),
        ("INS_KEY_INVALID", "PID-3(2).1"),
        ("IDENTITY_DOUBTFUL", "PID-32(2)"),
        ("IDENTITY_NOT_QUALIFIED", "PID-32(1)"),
        ("TRAIT_MISSING", "PID-5(1).1"),
        ("TRAIT_MISSING", "PID-5(1).3"),
        ("NIR_SEX_MISMATCH", "PID-8"),
        ("NIR_BIRTHDATE_MISMATCH", "PID-7"),
        ("NIR_BIRTHDATE_MISMATCH", "PID-7"),
        ("NIR_BIRTHPLACE_MISMATCH", "PID-11(1).9"),
    ];
}

#[test]
fn the_vectors_have_the_keys_of_the_domain_notes() {
    for (nir, key) in [
        (PAT_TROIS, 89),
        (CORSE_DU_SUD, 43),
        (HAUTE_CORSE, 70),
        (ABROAD, 93),
        (PSEUDO_MONTH, 70),
        ("153072007300466", 66),
    ] {
        let n = identity::Nir::parse(nir).unwrap();
        assert_eq!(n.given_key(), key, "{nir}");
        assert_eq!(n.key(), key, "{nir}");
    }
}

#[test]
fn no_pid_segment_gives_every_identity_reason() {
    let text = "MSH|^~\\&|DPI|CHU|PFI|CHU|20240101||MDM^T02^MDM_T02|1|P|2.6\rPV1|1|I\r";
    let msg = Message::parse(text, Charset::Utf8).unwrap();
    let policy = IdentityPolicy {
        accept_vali: false,
        allow_test_ins: false,
    };
    let v = identity::assess(&msg, &policy);
    let codes: Vec<_> = v.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        codes,
        ["INS_MISSING", "IDENTITY_NOT_QUALIFIED", "TRAIT_MISSING"]
    );
    assert!(!v.is_usable());
}

#[test]
fn the_chosen_ins_is_exposed_for_the_cda() {
    let case = pid3(format!(
        "{IPP}~{PAT_TROIS}^^^{TEST_OID}^INS~{PAT_TROIS}^^^{NIR_OID}^INS"
    ));
    let text = case.message();
    let msg = Message::parse(&text, Charset::Utf8).unwrap();
    let v = identity::assess(&msg, &case.policy());
    assert!(v.is_usable());
    let ins = v.patient.ins.as_ref().unwrap();
    assert_eq!(ins.value, PAT_TROIS);
    assert_eq!(ins.oid, identity::InsOid::Nir);
    assert_eq!(ins.oid.oid(), "1.2.250.1.213.1.4.8");
    assert_eq!(ins.path(), "PID-3(3)");
    assert_eq!(v.warnings().count(), 0);
    assert_eq!(v.blocking().count(), 0);
}

#[test]
fn a_flood_of_repetitions_gives_a_bounded_report() {
    let n = 100_000;
    let case = Case {
        pid3: "27903512151898^^^^INS~".repeat(n),
        pid32: "XYZ~".repeat(n) + "QUAL~" + &"DOUT~".repeat(n),
        ..patient(PAT_TROIS)
    };
    let text = case.message();
    let msg = Message::parse(&text, Charset::Utf8).unwrap();
    let v = identity::assess(&msg, &case.policy());
    let count = |code: &str| {
        v.findings
            .iter()
            .filter(|f| f.code.as_str() == code)
            .count()
    };
    let cap = identity::MAX_REPORTED_PER_FIELD;
    assert_eq!(count("INS_OID_UNKNOWN"), cap);
    assert_eq!(count("INS_MALFORMED"), cap);
    assert_eq!(count("IDENTITY_DOUBTFUL"), 2 * cap);
    assert!(v.findings.len() <= 4 * cap + 8, "{}", v.findings.len());
}

mod hostile {
    use super::*;
    use proptest::prelude::*;

    /// Field content built from delimiters, escapes, digits, letters and non-ASCII.
    fn field() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("^"),
                Just("~"),
                Just("&"),
                Just("\\"),
                Just("\\E\\"),
                Just("\\X41\\"),
                Just("INS"),
                Just("PI"),
                Just("L"),
                Just("D"),
                Just("BDL"),
                Just("QUAL"),
                Just("DOUT"),
                Just("VALI"),
                Just("1.2.250.1.213.1.4.8"),
                Just("1.2.250.1.213.1.4.10"),
                Just("2A"),
                Just("2B"),
                Just("0"),
                Just("9"),
                Just("279035121518989"),
                Just("é"),
                Just("Œ"),
                Just("\"\""),
                Just(" "),
                Just("1979"),
                Just("03"),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn assess_never_panics_and_stays_consistent(
            msh11 in field(), pid3 in field(), pid5 in field(), pid7 in field(),
            pid8 in field(), pid11 in field(), pid32 in field(),
            accept_vali in any::<bool>(), allow_test_ins in any::<bool>(),
        ) {
            let case = Case { msh11, pid3, pid5, pid7, pid8, pid11, pid32, accept_vali, allow_test_ins };
            let text = case.message();
            let msg = Message::parse(&text, Charset::Utf8).unwrap();
            let v = identity::assess(&msg, &case.policy());
            prop_assert_eq!(v.is_usable(), v.findings.iter().all(|f| f.is_warning()));
            if v.is_usable() {
                // Usable means an INS and every strict trait were there.
                prop_assert!(v.patient.ins.is_some());
                prop_assert!(v.patient.birth_name.is_some() && v.patient.first_given_name.is_some());
                prop_assert!(v.patient.given_names.is_some() && v.patient.birth_date.is_some());
                prop_assert!(v.patient.sex.is_some() && v.patient.birthplace_code.is_some());
                prop_assert!(v.patient.ins.as_ref().unwrap().nir().is_some_and(|n| n.has_valid_key()));
            }
            for f in &v.findings {
                prop_assert!(f.path.parse::<dmpfeed::hl7::Path>().is_ok(), "bad path {}", f.path);
            }
        }
    }
}
