//! The strict traits ("traits stricts") an INS must travel with: birth name, first birth given
//! name, list of birth given names, birth date, sex and the INSEE code of the birthplace
//! (ARS Occitanie quoting the RNIV for the five traits; FR Core `FRCorePatientINSProfile` for the
//! given-name list; domain notes §2.5). A missing one is `TRAIT_MISSING`, each at the path where
//! it should be, all at once.
//!
//! Presence is what is checked, and the birth date's shape (digits `YYYY`, `YYYYMM` or
//! `YYYYMMDD…`, HL7 DTM): a PID-7 that is not a date cannot carry the trait. Nothing else about
//! the values is judged (no case, accent or character rules: the ANS guide that would define
//! them was not readable, domain notes §5.5).

use super::patient::{PID_5, PID_7, PID_8, PID_11, Patient};
use crate::reason::{Finding, ReasonCode};

/// PID-7.1 split into its calendar parts, when it is an HL7 date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BirthDate<'a> {
    /// Four digits.
    pub year: &'a str,
    /// Two digits when PID-7 has a month. An incomplete date leaves the digits out (HL7 DTM
    /// precision); `00` placeholders are not dates (the RNIV rules for incomplete dates were
    /// not readable, so nothing else is guessed).
    pub month: Option<&'a str>,
    pub day: Option<&'a str>,
}

impl<'a> BirthDate<'a> {
    /// `YYYY`, `YYYYMM`, or `YYYYMMDD` followed by anything (time, time zone): HL7 DTM.
    pub fn parse(value: &'a str) -> Option<BirthDate<'a>> {
        let digits = value.bytes().take_while(u8::is_ascii_digit).count();
        let whole = digits == value.len();
        match digits {
            4 | 6 if whole => {}
            8.. => {}
            _ => return None,
        }
        // Only ASCII digits up to `digits`: slicing on those bytes stays on char boundaries.
        let date = BirthDate {
            year: &value[..4],
            month: value.get(4..6).filter(|_| digits >= 6),
            day: value.get(6..8).filter(|_| digits >= 8),
        };
        date.is_on_the_calendar().then_some(date)
    }

    /// A real month (01–12) and, when given, a real day of that month (29 February only in a
    /// leap year): what the CDA `birthTime` will need too.
    fn is_on_the_calendar(&self) -> bool {
        let num = |s: &str| s.parse::<i16>().ok();
        let (Some(year), month) = (num(self.year), self.month.map(num)) else {
            return false;
        };
        match (month, self.day.map(num)) {
            (None, _) => true,
            (Some(Some(m)), None) => (1..=12).contains(&m),
            (Some(Some(m)), Some(Some(d))) => {
                jiff::civil::Date::new(year, m as i8, d as i8).is_ok() && (1..=12).contains(&m)
            }
            _ => false,
        }
    }
}

/// The strict-traits rule.
pub fn check(p: &Patient<'_>, out: &mut Vec<Finding>) {
    let mut missing =
        |path: String, detail: &str| out.push(Finding::new(ReasonCode::TraitMissing, path, detail));
    if !p.has_pid {
        missing("PID".into(), "no PID segment: no strict trait");
        return;
    }
    match p.places.birth_name {
        None => missing(
            format!("PID-{PID_5}"),
            "no birth name: no PID-5 repetition of name type L (XPN-7) carrying the birth name, \
             first birth given name and birth given names",
        ),
        Some(r) => {
            if p.birth_name.is_none() {
                missing(format!("PID-{PID_5}({r}).1"), "birth name (XPN-1) is empty");
            }
            if p.first_given_name.is_none() {
                missing(
                    format!("PID-{PID_5}({r}).2"),
                    "first birth given name (XPN-2) is empty",
                );
            }
            if p.given_names.is_none() {
                missing(
                    format!("PID-{PID_5}({r}).3"),
                    "list of birth given names (XPN-3) is empty",
                );
            }
        }
    }
    match p.birth_date.as_deref() {
        None => missing(format!("PID-{PID_7}"), "birth date is empty"),
        Some(d) if BirthDate::parse(d).is_none() => missing(
            format!("PID-{PID_7}"),
            "birth date is not an HL7 date (YYYYMMDD, or YYYY / YYYYMM when partly unknown)",
        ),
        Some(_) => {}
    }
    if p.sex.is_none() {
        missing(format!("PID-{PID_8}"), "administrative sex is empty");
    }
    match p.places.birthplace {
        None => missing(
            format!("PID-{PID_11}"),
            "no birthplace: no PID-11 repetition of address type BDL (XAD-7) with the INSEE code in XAD-9",
        ),
        Some(r) if p.birthplace_code.is_none() => missing(
            format!("PID-{PID_11}({r}).9"),
            "birthplace INSEE code (XAD-9) is empty",
        ),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! birth_date {
        ($($name:ident: $input:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let got = BirthDate::parse($input).map(|d| (d.year, d.month, d.day));
                assert_eq!(got, $expected);
            }
        )+};
    }

    birth_date! {
        full_date: "19790328" => Some(("1979", Some("03"), Some("28")));
        date_and_time: "197903281230" => Some(("1979", Some("03"), Some("28")));
        with_time_zone: "19790328+0100" => Some(("1979", Some("03"), Some("28")));
        year_only: "1979" => Some(("1979", None, None));
        year_month: "197903" => Some(("1979", Some("03"), None));
        five_digits: "19790" => None;
        seven_digits: "1979032" => None;
        year_then_letters: "1979AB" => None;
        month_13: "19791301" => None;
        month_00: "19790001" => None;
        day_00: "19790300" => None;
        february_30: "19790230" => None;
        february_29_leap_year: "19800229" => Some(("1980", Some("02"), Some("29")));
        february_29_common_year: "19790229" => None;
        year_month_13: "197913" => None;
        french_format: "28/03/1979" => None;
        iso_dashes: "1979-03-28" => None;
        non_ascii_after_digits: "1979é" => None;
        empty: "" => None;
    }
}
