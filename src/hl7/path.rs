//! HL7 paths, as people write them in interface specs and as our reports print them:
//! `PID-3`, `PID-3(2).4.2`, `OBX[3]-5.5` — segment id, optional 1-based occurrence in brackets,
//! field, optional repetition in parentheses, then component and subcomponent.

use super::delimiters::Delimiters;
use super::error::Hl7Error;
use memchr::{memchr2, memrchr2};
use nom::{
    IResult, Parser,
    bytes::complete::take_while_m_n,
    character::complete::{char, u32 as dec},
    combinator::{all_consuming, opt},
    sequence::{delimited, preceded},
};
use std::fmt;
use std::str::FromStr;

/// A parsed HL7 path. All numbers are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Path {
    pub segment: String,
    pub occurrence: usize,
    pub field: usize,
    pub repetition: usize,
    pub component: Option<usize>,
    pub subcomponent: Option<usize>,
}

impl Path {
    /// `SEG-field`, first occurrence and repetition.
    pub fn field(segment: &str, field: usize) -> Path {
        Path {
            segment: segment.to_owned(),
            occurrence: 1,
            field,
            repetition: 1,
            component: None,
            subcomponent: None,
        }
    }
}

impl Path {
    /// The place of byte `offset` of a raw message (where a charset error was found, say), read
    /// with its delimiters: `PID-5.2`, `OBX[2]-5`, `MSH-3`. `None` inside a segment id or outside
    /// the message. Works on bytes, so that it can name a place in bytes that do not decode.
    pub fn locate(raw: &[u8], delims: &Delimiters, offset: usize) -> Option<Path> {
        if offset >= raw.len() {
            return None;
        }
        let line_start = memrchr2(b'\r', b'\n', &raw[..offset]).map_or(0, |i| i + 1);
        let line_end = memchr2(b'\r', b'\n', &raw[offset..]).map_or(raw.len(), |i| offset + i);
        let line = &raw[line_start..line_end];
        let at = offset - line_start;
        let id = line.get(..3)?;
        if at < 3
            || !id
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return None;
        }
        let segment = std::str::from_utf8(id).ok()?.to_owned();
        let occurrence = 1 + raw[..line_start]
            .split(|&b| b == b'\r' || b == b'\n')
            .filter(|l| l.get(..3) == Some(id) && l.get(3).is_none_or(|&b| b == delims.field))
            .count();
        // Field separators before the byte; for MSH the first one *is* MSH-1.
        let seps = line[3..at].iter().filter(|&&b| b == delims.field).count();
        let msh = id == b"MSH";
        let field = if msh { seps + 1 } else { seps };
        if field == 0 {
            return None; // the separator after the id
        }
        if msh && field <= 2 {
            return Some(Path {
                segment,
                occurrence,
                ..Path::field("", field)
            });
        }
        let field_start = line[..at]
            .iter()
            .rposition(|&b| b == delims.field)
            .map_or(3, |i| i + 1);
        let field_end = line[at..]
            .iter()
            .position(|&b| b == delims.field)
            .map_or(line.len(), |i| at + i);
        let (repetition, rep) = nth_part(
            &line[field_start..field_end],
            at - field_start,
            delims.repetition,
        );
        let (component, comp) = nth_part(rep.0, rep.1, Some(delims.component));
        let (subcomponent, _) = nth_part(comp.0, comp.1, delims.subcomponent);
        // Components and subcomponents are named only where there are several.
        let split = |b: &[u8], sep: Option<u8>| sep.is_some_and(|s| b.contains(&s));
        let has_components = split(rep.0, Some(delims.component));
        Some(Path {
            segment,
            occurrence,
            field,
            repetition,
            component: has_components.then_some(component),
            subcomponent: (has_components && split(comp.0, delims.subcomponent))
                .then_some(subcomponent),
        })
    }
}

/// Which part (1-based) of `text`, split on `sep`, holds byte `at`; and that part with the
/// position of `at` inside it.
fn nth_part(text: &[u8], at: usize, sep: Option<u8>) -> (usize, (&[u8], usize)) {
    let Some(sep) = sep else {
        return (1, (text, at));
    };
    let start = text[..at]
        .iter()
        .rposition(|&b| b == sep)
        .map_or(0, |i| i + 1);
    let end = text[at..]
        .iter()
        .position(|&b| b == sep)
        .map_or(text.len(), |i| at + i);
    let n = 1 + text[..at].iter().filter(|&&b| b == sep).count();
    (n, (&text[start..end], at - start))
}

fn positive(input: &str) -> IResult<&str, usize> {
    dec.map_res(|n| if n == 0 { Err("0") } else { Ok(n as usize) })
        .parse(input)
}

fn path(input: &str) -> IResult<&str, Path> {
    let seg_id = take_while_m_n(3, 3, |c: char| c.is_ascii_uppercase() || c.is_ascii_digit());
    let (rest, (segment, occurrence, field, repetition, component, subcomponent)) = (
        seg_id,
        opt(delimited(char('['), positive, char(']'))),
        preceded(char('-'), positive),
        opt(delimited(char('('), positive, char(')'))),
        opt(preceded(char('.'), positive)),
        opt(preceded(char('.'), positive)),
    )
        .parse(input)?;
    Ok((
        rest,
        Path {
            segment: segment.to_owned(),
            occurrence: occurrence.unwrap_or(1),
            field,
            repetition: repetition.unwrap_or(1),
            component,
            subcomponent,
        },
    ))
}

impl FromStr for Path {
    type Err = Hl7Error;

    fn from_str(s: &str) -> Result<Path, Hl7Error> {
        all_consuming(path).parse(s).map(|(_, p)| p).map_err(|_| {
            Hl7Error::syntax(
                0,
                None,
                format!("{s:?} is not an HL7 path such as PID-3(2).4.2 or OBX[3]-5.5"),
            )
        })
    }
}

impl fmt::Display for Path {
    /// The canonical form: occurrence and repetition only when not 1.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segment)?;
        if self.occurrence != 1 {
            write!(f, "[{}]", self.occurrence)?;
        }
        write!(f, "-{}", self.field)?;
        if self.repetition != 1 {
            write!(f, "({})", self.repetition)?;
        }
        if let Some(c) = self.component {
            write!(f, ".{c}")?;
            if let Some(s) = self.subcomponent {
                write!(f, ".{s}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! parses_to {
        ($($name:ident: $input:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let got = $input.parse::<Path>().ok().map(|p| p.to_string());
                assert_eq!(got.as_deref(), $expected);
            }
        )+};
    }

    macro_rules! locates {
        ($($name:ident: $text:expr, $needle:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let raw: &[u8] = $text;
                let (d, _) = Delimiters::from_msh(raw).unwrap();
                let at = raw.windows($needle.len()).position(|w| w == $needle).unwrap();
                let got = Path::locate(raw, &d, at).map(|p| p.to_string());
                assert_eq!(got.as_deref(), $expected);
            }
        )+};
    }

    const MSG: &[u8] = b"MSH|^~\\&|APP|FAC\rPID|1||IPP^^^CHU&1.2&ISO~NIR\\T\\X||NOM^Pr\xE9nom\rOBX|1\rOBX|2|TX|||l\xE0\r";

    locates! {
        locate_component: MSG, b"\xE9" => Some("PID-5.2");
        locate_subcomponent: MSG, b"1.2" => Some("PID-3.4.2");
        locate_repetition_without_components: MSG, b"NIR" => Some("PID-3(2)");
        locate_segment_occurrence: MSG, b"\xE0" => Some("OBX[2]-5");
        locate_msh_field: MSG, b"FAC" => Some("MSH-4");
        locate_msh_1: MSG, b"|^~" => Some("MSH-1");
        locate_msh_2: MSG, b"^~" => Some("MSH-2");
        locate_segment_id_is_nowhere: MSG, b"PID" => None;
    }

    parses_to! {
        field_only: "PID-3" => Some("PID-3");
        repetition_component_subcomponent: "PID-3(2).4.2" => Some("PID-3(2).4.2");
        occurrence: "OBX[3]-5.5" => Some("OBX[3]-5.5");
        defaults_are_dropped: "OBX[1]-5(1).5" => Some("OBX-5.5");
        z_segment: "ZFA-9" => Some("ZFA-9");
        lower_case_segment: "pid-3" => None;
        zero_field: "PID-0" => None;
        missing_field: "PID" => None;
        trailing_garbage: "PID-3x" => None;
        subcomponent_without_component_is_impossible: "PID-3..2" => None;
        huge_number: "PID-99999999999999999999" => None;
    }
}
