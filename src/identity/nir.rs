//! The NIR / NIA matricule: its structure and its key (INSEE decree 82-103 art. 4, as quoted by
//! xml.insee.fr/schema/nir.html; key algorithm as in python-stdnum `stdnum/fr/nir.py`; see
//! `shared/domain/hl7v2-fr-ins.md` §2.1–2.2).
//!
//! ```text
//! position  1    2–3   4–5    6–10            11–13   14–15
//!           sex  year  month  place of birth  order   key
//! ```
//!
//! The 13 characters before the key are digits, except positions 6–7 which are `2A` (Corse-du-Sud)
//! or `2B` (Haute-Corse) for people born in Corsica since 1976. The key is `97 − (body mod 97)`
//! with `2A` read as `19` and `2B` as `18`, written on two digits (01–97).
//!
//! An NIA (numéro identifiant d'attente) has the same shape and the same key; INS-NIR and INS-NIA
//! are told apart by their OID, not by their digits (see [`super::ins`]).
//!
//! Deliberately *not* checked here, because the only sources for them are not authoritative
//! (domain notes §2.1): the meaning of sex digits other than 1/2, of "pseudo-months" outside
//! 01–12, or of department numbers. A matricule returned by the INSi teleservice is authoritative
//! as returned; this module only says whether it is well formed and whether its key matches.
//! Lower-case `2a`/`2b` are refused: INSi returns upper case and a DMP identifier is compared
//! byte for byte.
//!
//! This module depends on nothing else in the crate and never allocates.

use std::fmt;

/// A well-formed 15-character NIR or NIA (13-character body + 2-digit key), borrowed.
///
/// Well formed does not mean valid: check [`Nir::has_valid_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nir<'a> {
    /// 15 ASCII characters, checked by [`Nir::parse`].
    text: &'a str,
}

/// Why a value is not a well-formed NIR. Never carries the value itself (health data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NirError {
    /// Not 15 characters long; `found` counts characters, not bytes.
    Length { found: usize },
    /// The character at this 1-based position is not allowed there.
    Character { position: usize },
}

impl fmt::Display for NirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NirError::Length { found } => write!(
                f,
                "{found} characters where an INS has 15 (13-character NIR/NIA + 2-digit key)"
            ),
            NirError::Character {
                position: p @ (6 | 7),
            } => write!(
                f,
                "character {p} is not allowed: positions 6-7 are digits, or 2A/2B for Corsica"
            ),
            NirError::Character { position } => {
                write!(f, "character {position} is not a digit")
            }
        }
    }
}

impl std::error::Error for NirError {}

/// Corsican departments in positions 6–7 of the NIR, and the number each stands for in the key.
const CORSICA: [(&[u8; 2], u64); 2] = [(b"2A", 19), (b"2B", 18)];

impl<'a> Nir<'a> {
    /// Number of characters of a NIR with its key.
    pub const LEN: usize = 15;

    /// Checks the shape: 15 characters, digits everywhere except `2A`/`2B` in positions 6–7.
    /// The key is not checked here (see [`Nir::has_valid_key`]).
    pub fn parse(text: &'a str) -> Result<Nir<'a>, NirError> {
        let found = text.chars().count();
        if found != Self::LEN {
            return Err(NirError::Length { found });
        }
        // 15 chars of which any non-ASCII one is refused below; until then index chars, not bytes.
        if let Some(i) = text.chars().position(|c| !c.is_ascii()) {
            return Err(NirError::Character { position: i + 1 });
        }
        let b = text.as_bytes();
        let corsica = corsica_value(&b[5..7]).is_some();
        for (i, &c) in b.iter().enumerate() {
            let in_department = i == 5 || i == 6;
            if !(c.is_ascii_digit() || (in_department && corsica)) {
                return Err(NirError::Character { position: i + 1 });
            }
        }
        Ok(Nir { text })
    }

    /// The 15 characters.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The 13-character body (everything but the key).
    pub fn body(&self) -> &'a str {
        &self.text[..13]
    }

    /// The key as written in positions 14–15 (0–99).
    pub fn given_key(&self) -> u8 {
        let b = self.text.as_bytes();
        (b[13] - b'0') * 10 + (b[14] - b'0')
    }

    /// The key the body calls for: `97 − (body mod 97)`, `2A` → 19, `2B` → 18. Always 1–97.
    pub fn key(&self) -> u8 {
        let b = self.text.as_bytes();
        // `parse` left only digits outside positions 6–7, and digits or 2A/2B there.
        let number = |s: &[u8]| s.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        let department = corsica_value(&b[5..7]).unwrap_or_else(|| number(&b[5..7]));
        // 13 digits < 10^13 < 2^64: no overflow.
        let body = number(&b[..5]) * 100_000_000 + department * 1_000_000 + number(&b[7..13]);
        (97 - body % 97) as u8
    }

    /// True when the written key is the one the body calls for.
    pub fn has_valid_key(&self) -> bool {
        self.given_key() == self.key()
    }

    /// Position 1: `1` male, `2` female (other digits are not interpreted, see the module doc).
    pub fn sex_digit(&self) -> u8 {
        self.text.as_bytes()[0]
    }

    /// Positions 2–3: the last two digits of the year of birth.
    pub fn year(&self) -> &'a str {
        &self.text[1..3]
    }

    /// Positions 4–5: the month of birth, `01`–`12` when known (other values exist for
    /// incomplete civil-status records: then [`Nir::known_month`] is `None`).
    pub fn month(&self) -> &'a str {
        &self.text[3..5]
    }

    /// The month when it is a calendar month (01–12).
    pub fn known_month(&self) -> Option<&'a str> {
        let m = self.month();
        matches!(m.parse::<u8>(), Ok(1..=12)).then_some(m)
    }

    /// Positions 6–10: the INSEE (COG) code of the place of birth: department + commune, or
    /// `99` + country code for a birth abroad.
    pub fn place(&self) -> &'a str {
        &self.text[5..10]
    }
}

/// The number `2A`/`2B` (positions 6–7) stands for in the key.
fn corsica_value(department: &[u8]) -> Option<u64> {
    CORSICA
        .iter()
        .find(|(code, _)| department == *code)
        .map(|&(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! parses_to {
        ($($name:ident: $input:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let got = Nir::parse($input).map(|n| (n.given_key(), n.key()));
                assert_eq!(got, $expected);
            }
        )+};
    }

    // (key written, key computed)
    parses_to! {
        ans_test_patient_pat_trois: "279035121518989" => Ok((89, 89));
        born_abroad_99126: "295109912611193" => Ok((93, 93));
        nir_key_with_corsica_2a_uses_19: "253072A07300443" => Ok((43, 43));
        nir_key_with_corsica_2b_uses_18: "253072B07300470" => Ok((70, 70));
        key_plus_one: "279035121518990" => Ok((90, 89));
        key_minus_one: "279035121518988" => Ok((88, 89));
        body_digit_changed: "279035121518889" => Ok((89, 90));
        corsica_2a_with_2b_key: "253072A07300470" => Ok((70, 43));
        corsica_2b_with_2a_key: "253072B07300443" => Ok((43, 70));
        key_zero_never_matches: "279035121518900" => Ok((0, 89));
        fourteen_characters: "27903512151898" => Err(NirError::Length { found: 14 });
        sixteen_characters: "2790351215189890" => Err(NirError::Length { found: 16 });
        empty: "" => Err(NirError::Length { found: 0 });
        letter_in_body: "27903512X518989" => Err(NirError::Character { position: 9 });
        letter_in_key: "27903512151898A" => Err(NirError::Character { position: 15 });
        corsica_letter_elsewhere: "2A3072107300443" => Err(NirError::Character { position: 2 });
        corsica_2c_is_not_a_department: "253072C07300443" => Err(NirError::Character { position: 7 });
        corsica_a2_reversed: "25307A207300443" => Err(NirError::Character { position: 6 });
        corsica_lower_case_refused: "253072a07300443" => Err(NirError::Character { position: 7 });
        space_padded: " 79035121518989" => Err(NirError::Character { position: 1 });
        non_ascii_counts_characters: "2790351215189é9" => Err(NirError::Character { position: 14 });
        non_ascii_length_in_characters: "2790351215189éé9" => Err(NirError::Length { found: 16 });
    }

    #[test]
    fn fields_of_the_nir() {
        let n = Nir::parse("253072B07300470").unwrap();
        assert_eq!(n.sex_digit(), b'2');
        assert_eq!(n.year(), "53");
        assert_eq!(n.month(), "07");
        assert_eq!(n.known_month(), Some("07"));
        assert_eq!(n.place(), "2B073");
        assert_eq!(n.body(), "253072B073004");
        assert!(n.has_valid_key());
    }

    #[test]
    fn pseudo_month_is_not_a_known_month() {
        for m in ["00", "13", "20", "42", "99"] {
            let text = format!("1{}{m}75101123", "80");
            let key = Nir::parse(&format!("{text}00")).unwrap().key();
            let n = format!("{text}{key:02}");
            let nir = Nir::parse(&n).unwrap();
            assert!(nir.has_valid_key());
            assert_eq!(nir.known_month(), None, "month {m}");
        }
    }

    #[test]
    fn errors_never_show_the_value() {
        let e = Nir::parse("27903512X518989").unwrap_err().to_string();
        assert_eq!(e, "character 9 is not a digit");
        let e = Nir::parse("253072C07300443").unwrap_err().to_string();
        assert!(e.contains("2A/2B"), "{e}");
    }
}
