//! The delimiters of one message, read from MSH-1 and MSH-2 (HL7 v2.5 ch. 2.5.4), never assumed.
//!
//! `MSH|^~\&|…`: the byte after `MSH` *is* MSH-1 (the field separator); MSH-2 holds, in order,
//! the component, repetition, escape and subcomponent separators, and since v2.7 the truncation
//! character. Custom delimiters occur in the wild, so every one of them is read here.

use super::error::Hl7Error;
use nom::{
    IResult, Parser, bytes::complete::tag, bytes::complete::take_till, number::complete::u8,
};

/// The separators of one message. Only the field and component separators are mandatory; a
/// missing one (short MSH-2) is simply never split on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// MSH-1, usually `|`.
    pub field: u8,
    /// MSH-2 position 1, usually `^`.
    pub component: u8,
    /// MSH-2 position 2, usually `~`.
    pub repetition: Option<u8>,
    /// MSH-2 position 3, usually `\`.
    pub escape: Option<u8>,
    /// MSH-2 position 4, usually `&`.
    pub subcomponent: Option<u8>,
    /// MSH-2 position 5 (v2.7+), usually `#`. Read so that it is not taken for data in MSH-2;
    /// HL7 gives it no meaning inside field values.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    /// `|^~\&`, the HL7 recommended set (used when *writing* messages).
    fn default() -> Self {
        Delimiters {
            field: b'|',
            component: b'^',
            repetition: Some(b'~'),
            escape: Some(b'\\'),
            subcomponent: Some(b'&'),
            truncation: None,
        }
    }
}

impl Delimiters {
    /// Parses `MSH` + MSH-1 + MSH-2 at the start of `header`, returning the delimiters and the
    /// length of MSH-2 (the encoding characters).
    pub fn from_msh(header: &[u8]) -> Result<(Delimiters, usize), Hl7Error> {
        let (_, (field, encoding)) =
            msh_prefix(header).map_err(|_: nom::Err<nom::error::Error<&[u8]>>| {
                Hl7Error::syntax(
                    0,
                    Some("MSH"),
                    "a message must start with MSH followed by its field separator",
                )
            })?;
        if !is_delimiter_byte(field) {
            return Err(Hl7Error::syntax(
                3,
                Some("MSH-1"),
                format!(
                    "field separator {} is not a printable ASCII punctuation character",
                    show(field)
                ),
            ));
        }
        if encoding.is_empty() || encoding.len() > 5 {
            return Err(Hl7Error::syntax(
                4,
                Some("MSH-2"),
                format!(
                    "expected 1 to 5 encoding characters, found {}",
                    encoding.len()
                ),
            ));
        }
        for (i, &b) in encoding.iter().enumerate() {
            if !is_delimiter_byte(b) {
                return Err(Hl7Error::syntax(
                    4 + i,
                    Some("MSH-2"),
                    format!(
                        "encoding character {} is not a printable ASCII punctuation character",
                        show(b)
                    ),
                ));
            }
            if b == field || encoding[..i].contains(&b) {
                return Err(Hl7Error::syntax(
                    4 + i,
                    Some("MSH-2"),
                    format!("encoding character {} is used twice", show(b)),
                ));
            }
        }
        let at = |i: usize| encoding.get(i).copied();
        Ok((
            Delimiters {
                field,
                component: encoding[0],
                repetition: at(1),
                escape: at(2),
                subcomponent: at(3),
                truncation: at(4),
            },
            encoding.len(),
        ))
    }

    /// MSH-2 as it should be written for these delimiters.
    pub fn encoding_characters(&self) -> String {
        let mut s = String::with_capacity(5);
        s.push(self.component as char);
        for c in [
            self.repetition,
            self.escape,
            self.subcomponent,
            self.truncation,
        ]
        .into_iter()
        .map_while(|c| c)
        {
            s.push(c as char);
        }
        s
    }

    /// True when `b` is one of these separators (or the escape character).
    pub fn is_special(&self, b: u8) -> bool {
        b == self.field
            || b == self.component
            || Some(b) == self.repetition
            || Some(b) == self.escape
            || Some(b) == self.subcomponent
    }
}

/// `MSH`, one byte (MSH-1), then MSH-2 up to the next field separator or the end of the segment.
fn msh_prefix(input: &[u8]) -> IResult<&[u8], (u8, &[u8])> {
    let (rest, (_, field)) = (tag(&b"MSH"[..]), u8).parse(input)?;
    let (rest, encoding) = take_till(|c| c == field || c == b'\r' || c == b'\n').parse(rest)?;
    Ok((rest, (field, encoding)))
}

/// Printable ASCII, neither a letter, a digit nor a space: what HL7 separators are in practice.
fn is_delimiter_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b.is_ascii_alphanumeric()
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! delimiters_are {
        ($($name:ident: $input:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let got = Delimiters::from_msh($input).map(|(d, _)| d.encoding_characters()).map_err(|e| e.path);
                assert_eq!(got, $expected);
            }
        )+};
    }

    delimiters_are! {
        standard_set: b"MSH|^~\\&|APP" => Ok("^~\\&".to_owned());
        custom_set: b"MSH#$%!@#APP" => Ok("$%!@".to_owned());
        truncation_character_v27: b"MSH|^~\\&#|APP" => Ok("^~\\&#".to_owned());
        short_msh2_only_component: b"MSH|^|APP" => Ok("^".to_owned());
        msh2_at_end_of_segment: b"MSH|^~\\&\r" => Ok("^~\\&".to_owned());
        not_msh: b"PID|^~\\&|" => Err(Some("MSH".to_owned()));
        too_short: b"MS" => Err(Some("MSH".to_owned()));
        letter_as_separator: b"MSHA^~\\&A" => Err(Some("MSH-1".to_owned()));
        empty_msh2: b"MSH||APP" => Err(Some("MSH-2".to_owned()));
        duplicated_encoding_character: b"MSH|^^\\&|" => Err(Some("MSH-2".to_owned()));
        six_encoding_characters: b"MSH|^~\\&#$|" => Err(Some("MSH-2".to_owned()));
        non_ascii_encoding_character: b"MSH|^\xC3\xA9|" => Err(Some("MSH-2".to_owned()));
    }

    #[test]
    fn msh2_length_is_returned() {
        let (_, len) = Delimiters::from_msh(b"MSH|^~\\&|X").unwrap();
        assert_eq!(len, 4);
    }
}
