//! HL7 paths, as people write them in interface specs and as our reports print them:
//! `PID-3`, `PID-3(2).4.2`, `OBX[3]-5.5` — segment id, optional 1-based occurrence in brackets,
//! field, optional repetition in parentheses, then component and subcomponent.

use super::error::Hl7Error;
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
