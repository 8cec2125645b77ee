//! CDA timestamps (HL7 V3 data type TS, `YYYYMMDDHHMMSS.UUUU[+|-ZZzz]`), written from HL7 v2
//! ones.
//!
//! A value with a time of day gets a UTC offset: the sender's when it gave one, otherwise the
//! site's (`document.time_zone`, Europe/Paris: `+0100` in winter, `+0200` in summer), as the
//! CI-SIS examples write them (`20210401134745+0100`). A date (or a month, a year) stays what it
//! is: no offset, no invented midnight. A local time that does not exist (the spring-forward
//! gap) or exists twice (the autumn fold) keeps its digits and takes the offset in force just
//! before the transition; both denote a real instant.

use crate::document::time::{Precision, Ts};
use jiff::tz::{AmbiguousOffset, TimeZone};
use std::fmt;

/// A formatted TS, on the stack (at most `YYYYMMDDHHMMSS.UUUU+ZZZZ`, 24 bytes).
#[derive(Clone, Copy)]
pub struct TsText {
    buf: [u8; 32],
    len: usize,
}

impl TsText {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, '.', '+' and '-' are ever written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    fn push_num(&mut self, n: i64, width: usize) {
        let mut digits = [b'0'; 8];
        let mut v = n.unsigned_abs();
        for d in digits[..width].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.push(&digits[..width]);
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(self.buf.len());
        let n = end - self.len;
        self.buf[self.len..end].copy_from_slice(&bytes[..n]);
        self.len = end;
    }
}

impl fmt::Debug for TsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for TsText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The CDA form of `ts`, with the offset of `tz` when `ts` has a time and no offset of its own.
pub fn format(ts: &Ts, tz: &TimeZone) -> TsText {
    let mut out = TsText {
        buf: [0; 32],
        len: 0,
    };
    out.push_num(i64::from(ts.year), 4);
    let parts = [
        (Precision::Month, ts.month),
        (Precision::Day, ts.day),
        (Precision::Hour, ts.hour),
        (Precision::Minute, ts.minute),
        (Precision::Second, ts.second),
    ];
    for (p, v) in parts {
        if ts.precision >= p {
            out.push_num(i64::from(v), 2);
        }
    }
    if let Some((digits, count)) = ts.fraction {
        out.push(b".");
        out.push_num(i64::from(digits), usize::from(count));
    }
    if ts.has_time() {
        let minutes = ts.offset.map_or_else(|| site_offset(ts, tz), i32::from);
        out.push(if minutes < 0 { b"-" } else { b"+" });
        out.push_num(i64::from(minutes.abs() / 60), 2);
        out.push_num(i64::from(minutes.abs() % 60), 2);
    }
    out
}

/// The offset in minutes of the civil time `ts` in `tz` (0 for an impossible hand-built `Ts`).
fn site_offset(ts: &Ts, tz: &TimeZone) -> i32 {
    let Some(civil) = ts.civil() else {
        return 0;
    };
    let offset = match tz.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset,
        AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
    };
    offset.seconds() / 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cda(value: &str) -> String {
        let tz = TimeZone::get("Europe/Paris").unwrap();
        format(&Ts::parse(value).unwrap(), &tz).to_string()
    }

    #[test]
    fn site_offsets_follow_summer_time() {
        let cases = [
            ("20240318103000", "20240318103000+0100"), // winter
            ("20240718103000", "20240718103000+0200"), // summer
            ("202403181030", "202403181030+0100"),
            ("2024031810", "2024031810+0100"),
            ("20240331015959", "20240331015959+0100"), // last second of winter time
            ("20240331030000", "20240331030000+0200"), // first hour of summer time
            ("20240331023000", "20240331023000+0100"), // in the gap: offset before
            ("20241027023000", "20241027023000+0200"), // in the fold: first occurrence
            ("20241027033000", "20241027033000+0100"),
            ("20240318103000.25", "20240318103000.25+0100"),
            ("20240318103000.0005", "20240318103000.0005+0100"),
        ];
        for (hl7, want) in cases {
            assert_eq!(cda(hl7), want, "{hl7}");
        }
    }

    #[test]
    fn dates_stay_dates_and_sent_offsets_are_kept() {
        let cases = [
            ("19790328", "19790328"),
            ("197903", "197903"),
            ("1979", "1979"),
            ("20240718103000+0100", "20240718103000+0100"),
            ("20240318103000-0500", "20240318103000-0500"),
            ("20240318103000+0000", "20240318103000+0000"),
            ("202403181030-0930", "202403181030-0930"),
        ];
        for (hl7, want) in cases {
            assert_eq!(cda(hl7), want, "{hl7}");
        }
    }

    #[test]
    fn another_site_time_zone() {
        let tz = TimeZone::get("America/Cayenne").unwrap();
        let ts = Ts::parse("20240718103000").unwrap();
        assert_eq!(format(&ts, &tz).as_str(), "20240718103000-0300");
    }
}
