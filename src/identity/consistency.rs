//! NIR ↔ strict traits (domain notes §2.3): what the matricule says about the patient must agree
//! with PID.
//!
//! * sex digit `1` ↔ PID-8 `M`, `2` ↔ `F` (`NIR_SEX_MISMATCH`). Any other PID-8 value with a
//!   1/2 digit — `U`, `O`, lower case — disagrees: INSi only returns `M` or `F` (FR Core). Other
//!   sex digits are not interpreted (their meaning is only in non-authoritative sources).
//! * year (positions 2–3) ↔ the last two digits of the PID-7 year; month (positions 4–5) ↔ the
//!   PID-7 month only when the NIR month is 01–12 and PID-7 has a month
//!   (`NIR_BIRTHDATE_MISMATCH`, one finding per part that disagrees). A PID-7 that is not a date
//!   is a missing trait ([`super::traits`]), not a mismatch.
//! * place (positions 6–10) ↔ the BDL INSEE code: a warning only (`NIR_BIRTHPLACE_MISMATCH`),
//!   never blocking: communes merge and change codes, the ANS's own test patient disagrees
//!   (51215 vs 63220). Department `20` (Corsica before 1976) matches `2A`/`2B` with the same
//!   commune number, either way round.
//!
//! Details name the NIR positions and the HL7 field, never the values (health data), except the
//! sex code and digit, which carry no identity on their own.

use super::nir::Nir;
use super::patient::{PID_7, PID_8, PID_11, Patient};
use super::traits::BirthDate;
use crate::reason::{Finding, ReasonCode};

/// The consistency rule, for a well-formed NIR (its key need not be right: the clerk gets
/// every reason at once).
pub fn check(nir: &Nir<'_>, p: &Patient<'_>, out: &mut Vec<Finding>) {
    if let Some(sex) = p.sex.as_deref() {
        let expected = match nir.sex_digit() {
            b'1' => Some(("M", "male")),
            b'2' => Some(("F", "female")),
            _ => None,
        };
        if let Some((code, label)) = expected.filter(|(code, _)| sex != *code) {
            let shown = if sex.len() <= 2 && sex.bytes().all(|b| b.is_ascii_alphanumeric()) {
                format!("PID-8 is {sex}")
            } else {
                format!("PID-8 is not {code}")
            };
            out.push(Finding::new(
                ReasonCode::NirSexMismatch,
                format!("PID-{PID_8}"),
                format!(
                    "NIR sex digit {} ({label}) but {shown}",
                    char::from(nir.sex_digit())
                ),
            ));
        }
    }
    if let Some(date) = p.birth_date.as_deref().and_then(BirthDate::parse) {
        if &date.year[2..] != nir.year() {
            out.push(Finding::new(
                ReasonCode::NirBirthdateMismatch,
                format!("PID-{PID_7}"),
                "the NIR year of birth (positions 2-3) differs from the PID-7 year",
            ));
        }
        if let (Some(nir_month), Some(month)) = (nir.known_month(), date.month)
            && nir_month != month
        {
            out.push(Finding::new(
                ReasonCode::NirBirthdateMismatch,
                format!("PID-{PID_7}"),
                "the NIR month of birth (positions 4-5) differs from the PID-7 month",
            ));
        }
    }
    if let (Some(code), Some(r)) = (p.birthplace_code.as_deref(), p.places.birthplace)
        && !same_place(nir.place(), code)
    {
        out.push(Finding::new(
            ReasonCode::NirBirthplaceMismatch,
            format!("PID-{PID_11}({r}).9"),
            "the NIR place of birth (positions 6-10) differs from the BDL INSEE code \
             (communes merge and change codes: check, not blocking)",
        ));
    }
}

/// True when the NIR place and the birthplace code name the same place.
fn same_place(nir_place: &str, code: &str) -> bool {
    if nir_place == code {
        return true;
    }
    // Corsica was department 20 until 1976: a NIR from before keeps 20 + the commune number.
    match (nir_place.split_at_checked(2), code.split_at_checked(2)) {
        (Some(("20", a)), Some(("2A" | "2B", b))) | (Some(("2A" | "2B", a)), Some(("20", b))) => {
            a == b
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places() {
        assert!(same_place("75101", "75101"));
        assert!(same_place("20004", "2A004"));
        assert!(same_place("20033", "2B033"));
        assert!(!same_place("20004", "2A005"));
        assert!(same_place("2A004", "20004"));
        assert!(!same_place("2A004", "2B004"));
        assert!(!same_place("51215", "63220"));
        assert!(!same_place("20004", "2É004"));
        assert!(!same_place("20004", ""));
    }
}
