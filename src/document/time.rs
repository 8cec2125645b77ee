//! HL7 v2 timestamps (DTM/TS, HL7 v2.5 ch. 2A.22 and 2A.77): `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
//!
//! A [`Ts`] keeps the precision it was sent with, so that a date stays a date in the CDA (a
//! birth date `19790328` must not become a midnight). The UTC offset is kept when the sender
//! gave one; otherwise it is computed later, from the site's time zone, when the timestamp has
//! a time (see `cda::ts`). Parsing never panics: a malformed value is an error that names what
//! is wrong, and the caller turns it into a finding with the HL7 path.

use std::fmt;

/// How much of a timestamp was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

/// A parsed HL7 timestamp, validated (a real calendar date, hours 0–23, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts {
    pub year: i16,
    pub month: i8,
    pub day: i8,
    pub hour: i8,
    pub minute: i8,
    pub second: i8,
    /// Fraction of a second as sent: its digits (1 to 4) and their count.
    pub fraction: Option<(u16, u8)>,
    pub precision: Precision,
    /// UTC offset in minutes, when the value carried one (`+0100` → 60).
    pub offset: Option<i16>,
}

/// Why a timestamp was refused: the value and the reason. The reason alone never quotes the
/// value (for a birth date, an identity trait that reports must not carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsError {
    pub value: String,
    pub reason: String,
}

impl fmt::Display for TsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not an HL7 timestamp: {}",
            self.value, self.reason
        )
    }
}

impl Ts {
    /// True when the value has at least an hour (then the CDA writes a UTC offset).
    pub fn has_time(&self) -> bool {
        self.precision >= Precision::Hour
    }

    /// Parses an HL7 DTM. Surrounding spaces are not accepted: HL7 has none.
    pub fn parse(value: &str) -> Result<Ts, TsError> {
        let bad = |why: &str| TsError {
            value: value.to_owned(),
            reason: why.to_owned(),
        };
        let b = value.as_bytes();
        // Split off the offset: the first '+' or '-' (a DTM has no other sign).
        let (main, offset) = match b.iter().position(|&c| c == b'+' || c == b'-') {
            Some(i) => (&b[..i], Some(&b[i..])),
            None => (b, None),
        };
        let (digits, fraction) = match main.iter().position(|&c| c == b'.') {
            Some(i) => (&main[..i], Some(&main[i + 1..])),
            None => (main, None),
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad(
                "only digits are allowed before the fraction and the offset",
            ));
        }
        let precision = match digits.len() {
            4 => Precision::Year,
            6 => Precision::Month,
            8 => Precision::Day,
            10 => Precision::Hour,
            12 => Precision::Minute,
            14 => Precision::Second,
            0 => return Err(bad("empty")),
            n => return Err(bad(&format!("{n} digits (expected 4, 6, 8, 10, 12 or 14)"))),
        };
        let num = |from: usize, len: usize| -> i32 {
            digits[from..from + len]
                .iter()
                .fold(0, |n, d| n * 10 + i32::from(d - b'0'))
        };
        let at = |from: usize, len: usize, default: i32| {
            if digits.len() >= from + len {
                num(from, len)
            } else {
                default
            }
        };
        let (year, month, day) = (num(0, 4), at(4, 2, 1), at(6, 2, 1));
        let (hour, minute, second) = (at(8, 2, 0), at(10, 2, 0), at(12, 2, 0));
        if jiff::civil::Date::new(year as i16, month as i8, day as i8).is_err() || year == 0 {
            return Err(bad("no such date"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(bad("no such time of day"));
        }
        let fraction = match fraction {
            None => None,
            Some(f) => {
                if precision != Precision::Second {
                    return Err(bad("a fraction of a second needs the seconds"));
                }
                if f.is_empty() || f.len() > 4 || !f.iter().all(u8::is_ascii_digit) {
                    return Err(bad("the fraction of a second must be 1 to 4 digits"));
                }
                let n = f.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
                Some((n, f.len() as u8))
            }
        };
        let offset = match offset {
            None => None,
            Some(o) => {
                if o.len() != 5 || !o[1..].iter().all(u8::is_ascii_digit) {
                    return Err(bad("the UTC offset must be +HHMM or -HHMM"));
                }
                let hh = i16::from(o[1] - b'0') * 10 + i16::from(o[2] - b'0');
                let mm = i16::from(o[3] - b'0') * 10 + i16::from(o[4] - b'0');
                if hh > 14 || mm > 59 {
                    return Err(bad("no such UTC offset"));
                }
                if precision < Precision::Hour {
                    return Err(bad("a UTC offset needs a time of day"));
                }
                let minutes = hh * 60 + mm;
                Some(if o[0] == b'-' { -minutes } else { minutes })
            }
        };
        Ok(Ts {
            year: year as i16,
            month: month as i8,
            day: day as i8,
            hour: hour as i8,
            minute: minute as i8,
            second: second as i8,
            fraction,
            precision,
            offset,
        })
    }

    /// The civil date and time (missing parts are the start of the period); `None` only for a
    /// `Ts` built by hand with impossible fields (a parsed one is always valid).
    pub fn civil(&self) -> Option<jiff::civil::DateTime> {
        jiff::civil::DateTime::new(
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            0,
        )
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! parses {
        ($($name:ident: $input:expr => $precision:expr, $offset:expr;)+) => {$(
            #[test]
            fn $name() {
                let ts = Ts::parse($input).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((ts.precision, ts.offset), ($precision, $offset));
            }
        )+};
    }

    parses! {
        year_only: "2024" => Precision::Year, None;
        year_month: "202403" => Precision::Month, None;
        date: "20240318" => Precision::Day, None;
        hour: "2024031810" => Precision::Hour, None;
        minutes: "202403181030" => Precision::Minute, None;
        seconds: "20240318103000" => Precision::Second, None;
        seconds_with_offset: "20240318103000+0100" => Precision::Second, Some(60);
        negative_offset: "20240318103000-0330" => Precision::Second, Some(-210);
        minutes_with_offset: "202403181030+0200" => Precision::Minute, Some(120);
        fraction: "20240318103000.1234" => Precision::Second, None;
        fraction_and_offset: "20240318103000.5+0100" => Precision::Second, Some(60);
        leap_day: "20240229" => Precision::Day, None;
    }

    macro_rules! refuses {
        ($($name:ident: $input:expr;)+) => {$(
            #[test]
            fn $name() {
                assert!(Ts::parse($input).is_err(), "{:?} should be refused", $input);
            }
        )+};
    }

    refuses! {
        empty: "";
        letters: "2024031a";
        odd_length: "2024031";
        too_long: "202403181030001";
        month_13: "20241318";
        day_32: "20240132";
        not_a_leap_year: "20230229";
        hour_24: "2024031824";
        minute_60: "202403181060";
        second_60: "20240318103060";
        year_zero: "0000";
        offset_too_short: "20240318103000+01";
        offset_letters: "20240318103000+01a0";
        offset_on_a_date: "20240318+0100";
        offset_15_hours: "20240318103000+1500";
        fraction_without_seconds: "202403181030.5";
        fraction_too_long: "20240318103000.12345";
        empty_fraction: "20240318103000.";
        spaces: " 20240318";
        multibyte: "2024é318";
        two_offsets: "20240318103000+0100+0100";
    }

    #[test]
    fn the_reason_does_not_quote_the_value() {
        let e = Ts::parse("19681312").unwrap_err();
        assert!(!e.reason.contains("1968"), "{}", e.reason);
        assert!(e.to_string().contains("19681312"));
    }

    #[test]
    fn fields_are_read() {
        let ts = Ts::parse("20240318103005.25-0130").unwrap();
        assert_eq!(
            (ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second),
            (2024, 3, 18, 10, 30, 5)
        );
        assert_eq!(ts.fraction, Some((25, 2)));
        assert!(ts.has_time());
        assert!(!Ts::parse("20240318").unwrap().has_time());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,30}") {
            let _ = Ts::parse(&s);
        }

        #[test]
        fn digit_strings_never_panic(s in "[0-9.+-]{0,24}") {
            let _ = Ts::parse(&s);
        }
    }
}
