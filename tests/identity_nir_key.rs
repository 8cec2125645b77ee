//! The NIR key against a naive reference: the body as a decimal big integer divided by 97 with
//! schoolbook long division on its digit string (no machine integer holds the body), and the
//! Corsica rule applied as text (`2A` → `19`, `2B` → `18`), as python-stdnum does.

use dmpfeed::identity::{Nir, NirError};
use proptest::prelude::*;

/// Schoolbook long division of a decimal digit string by a small divisor: (quotient digits,
/// remainder). Every step works on one digit and a remainder < divisor.
fn long_division(digits: &str, divisor: u32) -> (String, u32) {
    let mut quotient = String::new();
    let mut remainder = 0u32;
    for c in digits.chars() {
        let partial = remainder * 10 + c.to_digit(10).expect("a decimal digit");
        let q = partial / divisor;
        if !(quotient.is_empty() && q == 0) {
            quotient.push(char::from_digit(q, 10).unwrap());
        }
        remainder = partial % divisor;
    }
    (quotient, remainder)
}

/// The reference key of a 13-character body, from the domain notes' Python snippet.
fn reference_key(body: &str) -> u32 {
    let number = match &body[5..7] {
        "2A" => format!("{}19{}", &body[..5], &body[7..]),
        "2B" => format!("{}18{}", &body[..5], &body[7..]),
        _ => body.to_owned(),
    };
    let (_, remainder) = long_division(&number, 97);
    97 - remainder
}

/// A 13-character body: digits, with 2A/2B in positions 6–7 now and then.
fn body() -> impl Strategy<Value = String> {
    (
        "[0-9]{5}",
        prop_oneof![3 => "[0-9]{2}", 1 => Just("2A".to_owned()), 1 => Just("2B".to_owned())],
        "[0-9]{6}",
    )
        .prop_map(|(a, dept, b)| format!("{a}{dept}{b}"))
}

#[test]
fn long_division_is_right_on_known_values() {
    assert_eq!(
        long_division("2790351215189", 97),
        ("28766507373".into(), 8)
    );
    assert_eq!(long_division("0000000000000", 97), (String::new(), 0));
    assert_eq!(reference_key("2790351215189"), 89);
    assert_eq!(reference_key("253072A073004"), 43);
    assert_eq!(reference_key("253072B073004"), 70);
    assert_eq!(reference_key("2951099126111"), 93);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn key_matches_the_naive_reference(body in body()) {
        let expected = reference_key(&body);
        let text = format!("{body}{expected:02}");
        let nir = Nir::parse(&text).unwrap();
        prop_assert_eq!(u32::from(nir.key()), expected);
        prop_assert!(nir.has_valid_key());
        prop_assert!((1..=97).contains(&expected));
    }

    #[test]
    fn every_other_key_is_refused(body in body(), key in 0u32..100) {
        let text = format!("{body}{key:02}");
        let nir = Nir::parse(&text).unwrap();
        prop_assert_eq!(nir.has_valid_key(), key == reference_key(&body));
    }

    #[test]
    fn one_changed_body_digit_is_always_caught(body in body(), pos in 0usize..13, delta in 1u8..10) {
        // 97 is prime and 10^k is never a multiple of it: changing one digit by 1–9 changes
        // the remainder, so the key of the original body no longer fits.
        let mut bytes = body.clone().into_bytes();
        let corsican = !body[5..7].bytes().all(|b| b.is_ascii_digit());
        if corsican && (pos == 5 || pos == 6) {
            return Ok(()); // 2A/2B are not digits to change
        }
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        let text = format!("{changed}{:02}", reference_key(&body));
        let nir = Nir::parse(&text).unwrap();
        prop_assert!(!nir.has_valid_key());
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,20}") {
        match Nir::parse(&s) {
            Ok(n) => { let _ = (n.key(), n.place(), n.known_month()); }
            Err(NirError::Length { found }) => prop_assert_ne!(found, 15),
            Err(NirError::Character { position }) => prop_assert!((1..=15).contains(&position)),
        }
    }
}
