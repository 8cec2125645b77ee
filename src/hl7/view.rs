//! Zero-copy views over one decoded message: message → segment → field → repetition →
//! component → subcomponent (HL7 v2.5 ch. 2.5). Nothing is copied or allocated to navigate;
//! [`Subcomponent::value`] and friends decode escapes into a `Cow` that borrows when it can.
//!
//! Numbering follows the standard: fields, repetitions, components and subcomponents are
//! 1-based, and MSH-1 *is* the field separator, so MSH-2 is the encoding characters and MSH-3 the
//! first piece after them.

use super::charset::Charset;
use super::delimiters::Delimiters;
use super::error::Hl7Error;
use super::escape::{unescape, unescape_into};
use super::path::Path;
use memchr::{memchr, memchr2};
use std::borrow::Cow;

/// How to read the text of one message: its delimiters and its charset (for `\X..\`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Syntax {
    pub delims: Delimiters,
    pub charset: Charset,
}

/// One parsed message: the decoded text and the byte ranges of its segments.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    text: &'a str,
    syntax: Syntax,
    /// `(start, end)` of each segment in `text`, terminators excluded, blank lines skipped.
    segments: Vec<(usize, usize)>,
}

impl<'a> Message<'a> {
    /// Indexes the segments of a decoded message. Fails when the text does not start with a
    /// valid MSH or a segment does not start with a 3-character segment id.
    pub fn parse(text: &'a str, charset: Charset) -> Result<Message<'a>, Hl7Error> {
        Message::parse_limited(text, charset, usize::MAX)
    }

    /// [`Message::parse`], refusing a message of more than `max_segments` segments
    /// (`limits.max_segments`) before indexing them all: the index is the only memory a
    /// message takes beyond its bytes.
    pub fn parse_limited(
        text: &'a str,
        charset: Charset,
        max_segments: usize,
    ) -> Result<Message<'a>, Hl7Error> {
        let bytes = text.as_bytes();
        let (delims, _) = Delimiters::from_msh(bytes)?;
        let mut segments = Vec::with_capacity(16);
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr2(b'\r', b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            let line = &bytes[start..end];
            if !is_blank_line(&text[start..end]) {
                check_segment_id(line, delims.field, start, segments.len() + 1)?;
                if segments.len() == max_segments {
                    return Err(Hl7Error::too_large(
                        start,
                        format!("more than {max_segments} segments (limits.max_segments)"),
                    ));
                }
                segments.push((start, end));
            }
            start = end + 1;
        }
        Ok(Message {
            text,
            syntax: Syntax { delims, charset },
            segments,
        })
    }

    /// The whole decoded text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    pub fn delimiters(&self) -> Delimiters {
        self.syntax.delims
    }

    pub fn charset(&self) -> Charset {
        self.syntax.charset
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Never true: a message has at least its MSH.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// The segments in order.
    pub fn segments(&self) -> impl Iterator<Item = Segment<'a>> + '_ {
        self.segments.iter().map(|&(s, e)| self.segment_at(s, e))
    }

    /// The `n`-th segment (0-based), MSH being 0.
    pub fn segment_index(&self, n: usize) -> Option<Segment<'a>> {
        self.segments.get(n).map(|&(s, e)| self.segment_at(s, e))
    }

    /// The first segment with this id.
    pub fn segment(&self, id: &str) -> Option<Segment<'a>> {
        self.segments_named(id).next()
    }

    /// Every segment with this id, in order.
    pub fn segments_named<'s>(&'s self, id: &'s str) -> impl Iterator<Item = Segment<'a>> + 's {
        self.segments().filter(move |s| s.id() == id)
    }

    /// The MSH segment.
    pub fn msh(&self) -> Segment<'a> {
        self.segment_index(0)
            .expect("a parsed message starts with MSH")
    }

    /// The value at an HL7 path such as `PID-3(2).4.2` or `OBX[3]-5.5`, escapes decoded.
    /// `None` when the place is absent; `Some("")` when it is present but empty.
    pub fn get(&self, path: &str) -> Result<Option<Cow<'a, str>>, Hl7Error> {
        let path: Path = path.parse()?;
        Ok(self.at(&path))
    }

    /// The value at a parsed path (see [`Message::get`]).
    pub fn at(&self, path: &Path) -> Option<Cow<'a, str>> {
        let seg = self
            .segments_named(&path.segment)
            .nth(path.occurrence - 1)?;
        let field = seg.field(path.field)?;
        let rep = field.repetition(path.repetition)?;
        let Some(c) = path.component else {
            return Some(rep.value());
        };
        let comp = rep.component(c)?;
        let Some(s) = path.subcomponent else {
            return Some(comp.value());
        };
        Some(comp.subcomponent(s)?.value())
    }

    fn segment_at(&self, start: usize, end: usize) -> Segment<'a> {
        Segment {
            raw: &self.text[start..end],
            offset: start,
            syntax: self.syntax,
        }
    }
}

/// A line of nothing but blanks is not a segment: spaces and tabs (trailing spaces between
/// messages are common), NUL and 0x1C padding left by MLLP senders, and a byte order mark.
/// The framing skips the same bytes between messages ([`super::framing`]).
fn is_blank_line(line: &str) -> bool {
    line.chars()
        .all(|c| matches!(c, ' ' | '\t' | '\0' | '\u{1c}' | '\u{feff}'))
}

fn check_segment_id(line: &[u8], field: u8, offset: usize, n: usize) -> Result<(), Hl7Error> {
    let id_ok = line.len() >= 3
        && line[..3]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && (line.len() == 3 || line[3] == field || line[3..].iter().all(|b| *b == b' '));
    // MSH-1 *is* the byte after the id: an MSH without it has no MSH-1 or MSH-2 to read (a bare
    // `MSH` line inside a message; found by the `reader` fuzz target, which it made panic).
    let msh_without_separator = line.starts_with(b"MSH") && line.get(3) != Some(&field);
    if msh_without_separator {
        Err(Hl7Error::syntax(
            offset,
            Some(&format!("segment {n}")),
            format!("segment {n} is an MSH without its field separator (MSH-1)"),
        ))
    } else if id_ok {
        Ok(())
    } else {
        // Only where a segment id and its separator should be: any further byte may be part of
        // an identity trait or the INS (README "Reason codes": details never contain them).
        let shown = line[..line.len().min(4)].escape_ascii();
        Err(Hl7Error::syntax(
            offset,
            Some(&format!("segment {n}")),
            format!(
                "segment {n} does not start with a segment id and a field separator: \"{shown}\""
            ),
        ))
    }
}

/// One segment: `PID|…`.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    raw: &'a str,
    offset: usize,
    syntax: Syntax,
}

impl<'a> Segment<'a> {
    /// The segment id (`MSH`, `PID`, `ZBE`, …).
    pub fn id(&self) -> &'a str {
        &self.raw[..3]
    }

    /// The raw text of the segment, escapes included, terminator excluded.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Byte offset of the segment in the message text.
    pub fn offset(&self) -> usize {
        self.offset
    }

    fn is_msh(&self) -> bool {
        self.id() == "MSH"
    }

    /// The text holding the split fields: after `PID|`, or after `MSH|^~\\&|`. `None` when the
    /// segment ends before it (no such field at all).
    fn split_text(&self) -> Option<&'a str> {
        let skip = if self.is_msh() {
            4 + self.encoding_characters().len() + 1
        } else {
            // `ZZZ   `: a segment id followed by trailing spaces only has no field at all.
            if self.raw.as_bytes().get(3) != Some(&self.syntax.delims.field) {
                return None;
            }
            4
        };
        self.raw.get(skip..)
    }

    /// Field `n` (1-based), `None` when the segment has fewer fields. An empty field (`||`) is
    /// `Some` with an empty value.
    pub fn field(&self, n: usize) -> Option<Field<'a>> {
        match (n, self.is_msh()) {
            (0, _) => None,
            (1, true) => self.raw.get(3..4).map(|sep| self.opaque(sep)),
            (2, true) => Some(self.opaque(self.encoding_characters())),
            (n, true) => self.split_fields().nth(n - 3),
            (n, false) => self.split_fields().nth(n - 1),
        }
    }

    /// The fields from 1 on (for MSH: MSH-1, MSH-2, MSH-3, …).
    pub fn fields(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        let head = if let (true, Some(sep)) = (self.is_msh(), self.raw.get(3..4)) {
            vec![self.opaque(sep), self.opaque(self.encoding_characters())]
        } else {
            Vec::new()
        };
        head.into_iter().chain(self.split_fields())
    }

    /// Number of fields present (the last non-absent one's number).
    pub fn field_count(&self) -> usize {
        self.fields().count()
    }

    fn encoding_characters(&self) -> &'a str {
        // `get`: never panics, even on a view built around `Message::parse`'s checks.
        let after = self.raw.get(4..).unwrap_or("");
        let len = memchr(self.syntax.delims.field, after.as_bytes()).unwrap_or(after.len());
        &after[..len]
    }

    fn opaque(&self, raw: &'a str) -> Field<'a> {
        Field {
            raw,
            syntax: self.syntax,
            opaque: true,
        }
    }

    fn split_fields(&self) -> impl Iterator<Item = Field<'a>> + 'a {
        let syntax = self.syntax;
        let text = self.split_text();
        Split::new(
            text.unwrap_or(""),
            Some(syntax.delims.field),
            text.is_some(),
        )
        .map(move |raw| Field {
            raw,
            syntax,
            opaque: false,
        })
    }
}

/// One field: its repetitions separated by `~`.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    raw: &'a str,
    syntax: Syntax,
    /// MSH-1 and MSH-2 are never split.
    opaque: bool,
}

impl<'a> Field<'a> {
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True for `||`.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// True for the HL7 explicit null `""`.
    pub fn is_null(&self) -> bool {
        self.raw == "\"\""
    }

    /// The repetitions; an empty field has none.
    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'a>> + 'a {
        let syntax = self.syntax;
        let opaque = self.opaque;
        let sep = if opaque {
            None
        } else {
            syntax.delims.repetition
        };
        Split::new(self.raw, sep, !self.raw.is_empty()).map(move |raw| Repetition {
            raw,
            syntax,
            opaque,
        })
    }

    /// Repetition `n` (1-based).
    pub fn repetition(&self, n: usize) -> Option<Repetition<'a>> {
        if n == 0 {
            return None;
        }
        if n == 1 {
            return Some(self.first());
        }
        self.repetitions().nth(n - 1)
    }

    /// The first repetition, even when the field is empty (then it is empty too).
    pub fn first(&self) -> Repetition<'a> {
        self.repetitions().next().unwrap_or(Repetition {
            raw: "",
            syntax: self.syntax,
            opaque: self.opaque,
        })
    }

    /// Component `n` of the first repetition.
    pub fn component(&self, n: usize) -> Option<Component<'a>> {
        self.first().component(n)
    }

    /// The raw text of component 1 of the first repetition (`""` for an empty field): what
    /// `component(1)` gives, found in one pass up to the first repetition or component
    /// separator instead of two splits. Value types and statuses (OBX-2, OBX-11) are read so
    /// for every narrative line (−26 M instructions of the worker per 1,000 text messages).
    pub fn first_component_raw(&self) -> &'a str {
        if self.opaque {
            return self.raw;
        }
        let d = self.syntax.delims;
        let end = self
            .raw
            .bytes()
            .position(|b| b == d.component || Some(b) == d.repetition)
            .unwrap_or(self.raw.len());
        // The separators are ASCII: `end` is on a char boundary.
        &self.raw[..end]
    }

    /// The whole field's text, escapes decoded (delimiters inside stay as they are).
    pub fn value(&self) -> Cow<'a, str> {
        decode(self.raw, self.syntax, self.opaque)
    }
}

/// One repetition: its components separated by `^`.
#[derive(Debug, Clone, Copy)]
pub struct Repetition<'a> {
    raw: &'a str,
    syntax: Syntax,
    opaque: bool,
}

impl<'a> Repetition<'a> {
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The components; an empty repetition has none.
    pub fn components(&self) -> impl Iterator<Item = Component<'a>> + 'a {
        let syntax = self.syntax;
        let opaque = self.opaque;
        let sep = if opaque {
            None
        } else {
            Some(syntax.delims.component)
        };
        Split::new(self.raw, sep, !self.raw.is_empty()).map(move |raw| Component {
            raw,
            syntax,
            opaque,
        })
    }

    /// Component `n` (1-based). Component 1 of an empty repetition is `Some("")`, so that a
    /// simple value can be read as `field.component(1)`.
    pub fn component(&self, n: usize) -> Option<Component<'a>> {
        match n {
            0 => None,
            1 => Some(self.components().next().unwrap_or(Component {
                raw: "",
                syntax: self.syntax,
                opaque: self.opaque,
            })),
            _ => self.components().nth(n - 1),
        }
    }

    /// Text of component `n`, decoded; `""` when absent. The common accessor.
    pub fn text(&self, n: usize) -> Cow<'a, str> {
        self.component(n).map_or(Cow::Borrowed(""), |c| c.value())
    }

    pub fn value(&self) -> Cow<'a, str> {
        decode(self.raw, self.syntax, self.opaque)
    }

    /// Appends [`Repetition::value`] to `out` without building it apart.
    pub fn push_value(&self, out: &mut String) {
        if self.opaque {
            out.push_str(self.raw);
        } else {
            unescape_into(self.raw, &self.syntax.delims, self.syntax.charset, out);
        }
    }
}

/// One component: its subcomponents separated by `&`.
#[derive(Debug, Clone, Copy)]
pub struct Component<'a> {
    raw: &'a str,
    syntax: Syntax,
    opaque: bool,
}

impl<'a> Component<'a> {
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The subcomponents; an empty component has none.
    pub fn subcomponents(&self) -> impl Iterator<Item = Subcomponent<'a>> + 'a {
        let syntax = self.syntax;
        let opaque = self.opaque;
        let sep = if opaque {
            None
        } else {
            syntax.delims.subcomponent
        };
        Split::new(self.raw, sep, !self.raw.is_empty()).map(move |raw| Subcomponent {
            raw,
            syntax,
            opaque,
        })
    }

    /// Subcomponent `n` (1-based); subcomponent 1 of an empty component is `Some("")`.
    pub fn subcomponent(&self, n: usize) -> Option<Subcomponent<'a>> {
        match n {
            0 => None,
            1 => Some(self.subcomponents().next().unwrap_or(Subcomponent {
                raw: "",
                syntax: self.syntax,
                opaque: self.opaque,
            })),
            _ => self.subcomponents().nth(n - 1),
        }
    }

    /// Text of subcomponent `n`, decoded; `""` when absent.
    pub fn text(&self, n: usize) -> Cow<'a, str> {
        self.subcomponent(n)
            .map_or(Cow::Borrowed(""), |s| s.value())
    }

    /// The component's text, escapes decoded.
    pub fn value(&self) -> Cow<'a, str> {
        decode(self.raw, self.syntax, self.opaque)
    }
}

/// A leaf: a subcomponent's text.
#[derive(Debug, Clone, Copy)]
pub struct Subcomponent<'a> {
    raw: &'a str,
    syntax: Syntax,
    opaque: bool,
}

impl<'a> Subcomponent<'a> {
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The text, escapes decoded; borrowed when there is no escape.
    pub fn value(&self) -> Cow<'a, str> {
        decode(self.raw, self.syntax, self.opaque)
    }
}

fn decode(raw: &str, syntax: Syntax, opaque: bool) -> Cow<'_, str> {
    if opaque {
        Cow::Borrowed(raw)
    } else {
        unescape(raw, &syntax.delims, syntax.charset)
    }
}

/// The first `sep` in `hay`. Most HL7 values are a few bytes long, where setting up a SIMD
/// search costs more than the search: the first 32 bytes are looked at 8 at a time in a `u64`
/// (the classic "has a zero byte" test on `word ^ sep…sep`, exact for the lowest match), the
/// rest of a long value (a base64 document, a narrative line) goes to memchr.
#[inline]
fn find_separator(sep: u8, hay: &[u8]) -> Option<usize> {
    const HEAD: usize = 32;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES.wrapping_mul(u64::from(sep));
    let head = &hay[..hay.len().min(HEAD)];
    let mut words = head.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes) ^ pattern;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if let Some(i) = words.remainder().iter().position(|&b| b == sep) {
        return Some(at + i);
    }
    memchr(sep, &hay[head.len()..]).map(|i| i + head.len())
}

/// Splits on one separator with memchr. `present == false` yields nothing (an absent or empty
/// element has no parts); otherwise `a||b` yields `a`, ``, `b`.
struct Split<'a> {
    rest: Option<&'a str>,
    sep: Option<u8>,
}

impl<'a> Split<'a> {
    fn new(text: &'a str, sep: Option<u8>, present: bool) -> Self {
        Split {
            rest: present.then_some(text),
            sep,
        }
    }
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match self.sep.and_then(|s| find_separator(s, rest.as_bytes())) {
            Some(i) => {
                // The separator is ASCII, so both slices stay on char boundaries.
                self.rest = Some(&rest[i + 1..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_separator_agrees_with_a_plain_search_at_every_length_and_place() {
        for len in 0..80 {
            for at in (0..len).chain([usize::MAX]) {
                // Bytes around the separator that differ from it by one bit (the SWAR test's
                // borrow must not make them match), and 0x80 / 0xFF.
                let mut hay: Vec<u8> = (0..len)
                    .map(|i| [b'}', b'~' ^ 1, 0x80, 0xFF, b'a'][i % 5])
                    .collect();
                if at < len {
                    hay[at] = b'|';
                    if at + 1 < len {
                        hay[at + 1] = b'|';
                    }
                }
                let want = hay.iter().position(|&b| b == b'|');
                assert_eq!(find_separator(b'|', &hay), want, "len {len} at {at}");
            }
        }
    }

    const MDM: &str = "MSH|^~\\&|DPI|CHU|PFI|CHU|20240101120000||MDM^T02^MDM_T02|MSG1|P|2.6|||||FRA|UNICODE UTF-8\r\
PID|||IPP1^^^CHU&1.2.3&ISO^PI~279035121518989^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||DUPONT^Hélène^Hélène Marie^^^^L||19790328|F|||\"\"\r\
OBX|1|TX|34874-8^CR opératoire^LN||ligne \\S\\ un||||||F\r\
OBX|2|TX|||ligne deux\r\
OBX|3|ED|||^application^pdf^Base64^JVBERi0=||||||F\n";

    fn parse(text: &str) -> Message<'_> {
        Message::parse(text, Charset::Utf8).unwrap()
    }

    macro_rules! path_gives {
        ($($name:ident: $path:expr => $expected:expr;)+) => {$(
            #[test]
            fn $name() {
                let m = parse(MDM);
                assert_eq!(m.get($path).unwrap().as_deref(), $expected);
            }
        )+};
    }

    path_gives! {
        msh_1_is_the_field_separator: "MSH-1" => Some("|");
        msh_2_is_the_encoding_characters_unsplit: "MSH-2" => Some("^~\\&");
        msh_3_is_the_first_piece_after_msh_2: "MSH-3" => Some("DPI");
        msh_9_component_2: "MSH-9.2" => Some("T02");
        msh_18: "MSH-18" => Some("UNICODE UTF-8");
        second_repetition: "PID-3(2).1" => Some("279035121518989");
        subcomponent: "PID-3(2).4.2" => Some("1.2.250.1.213.1.4.8");
        first_repetition_by_default: "PID-3.5" => Some("PI");
        accented_component: "PID-5.2" => Some("Hélène");
        explicit_null_is_two_quotes: "PID-11" => Some("\"\"");
        empty_field_is_empty: "PID-2" => Some("");
        absent_field: "PID-40" => None;
        absent_repetition: "PID-3(3)" => None;
        absent_component: "PID-8.3" => None;
        segment_occurrence: "OBX[3]-5.5" => Some("JVBERi0=");
        escape_decoded: "OBX-5" => Some("ligne ^ un");
        absent_segment: "ZBE-1" => None;
        absent_occurrence: "OBX[4]-1" => None;
    }

    #[test]
    fn first_component_raw_is_component_1_of_the_first_repetition() {
        let m = parse(MDM);
        for seg in m.segments() {
            for field in seg.fields() {
                let want = field.component(1).map_or("", |c| c.raw());
                assert_eq!(field.first_component_raw(), want, "{}", field.raw());
            }
        }
        let m = parse("MSH#$%!@#A$B!C#D!E$F##X%Y$Z\r");
        for field in m.msh().fields() {
            let want = field.component(1).map_or("", |c| c.raw());
            assert_eq!(field.first_component_raw(), want, "{}", field.raw());
        }
    }

    #[test]
    fn segments_split_on_cr_and_lf() {
        let m = parse(MDM);
        let ids: Vec<_> = m.segments().map(|s| s.id()).collect();
        assert_eq!(ids, ["MSH", "PID", "OBX", "OBX", "OBX"]);
    }

    #[test]
    fn crlf_and_blank_lines_and_trailing_spaces_are_tolerated() {
        let m = parse("MSH|^~\\&|A\r\n\r\nPID|1\r\n   \r\nPV1|1\r\n");
        let ids: Vec<_> = m.segments().map(|s| s.id()).collect();
        assert_eq!(ids, ["MSH", "PID", "PV1"]);
    }

    #[test]
    fn msh_fields_numbering() {
        let m = parse(MDM);
        let msh = m.msh();
        let raws: Vec<_> = msh.fields().take(4).map(|f| f.raw()).collect();
        assert_eq!(raws, ["|", "^~\\&", "DPI", "CHU"]);
        assert_eq!(msh.field(2).unwrap().repetitions().count(), 1);
        assert_eq!(msh.field(2).unwrap().first().components().count(), 1);
    }

    #[test]
    fn empty_versus_absent() {
        let m = parse(MDM);
        let pid = m.segment("PID").unwrap();
        assert!(pid.field(2).unwrap().is_empty());
        assert_eq!(pid.field(2).unwrap().repetitions().count(), 0);
        assert!(pid.field(12).is_none());
        assert_eq!(pid.field_count(), 11);
        assert!(pid.field(11).unwrap().is_null());
    }

    #[test]
    fn custom_delimiters() {
        let text = "MSH#$%!@#APP#FAC\rPID###A$B%C@D!F!E";
        let m = parse(text);
        assert_eq!(m.get("MSH-3").unwrap().as_deref(), Some("APP"));
        assert_eq!(m.get("PID-3.2").unwrap().as_deref(), Some("B"));
        assert_eq!(m.get("PID-3(2).1.2").unwrap().as_deref(), Some("D#E"));
    }

    #[test]
    fn segment_without_fields() {
        let m = parse("MSH|^~\\&\rZZZ\rPID|");
        let z = m.segment("ZZZ").unwrap();
        assert_eq!(z.field_count(), 0);
        assert!(z.field(1).is_none());
        let pid = m.segment("PID").unwrap();
        assert_eq!(pid.field_count(), 1);
        assert!(pid.field(1).unwrap().is_empty());
        assert_eq!(m.msh().field_count(), 2);
    }

    #[test]
    fn nul_fs_and_bom_lines_are_blank_not_segments() {
        let m = parse("MSH|^~\\&|A\r\0\0\r\u{1c}\r\u{feff}\rPID|1\r");
        let ids: Vec<_> = m.segments().map(|s| s.id()).collect();
        assert_eq!(ids, ["MSH", "PID"]);
    }

    #[test]
    fn segment_id_then_trailing_spaces_has_no_field() {
        // Found by the differential test against tests/reference/hl7_chapter2.py: the byte after
        // the id was taken for the field separator, so `ZZZ   ` had a field 1 of two spaces.
        let m = parse("MSH|^~\\&|A\rZZZ   \rPID|1");
        let z = m.segment("ZZZ").unwrap();
        assert_eq!(z.field_count(), 0);
        assert!(z.field(1).is_none());
    }

    #[test]
    fn bare_msh_line_inside_a_message_is_a_syntax_error_not_a_panic() {
        // fuzz/regressions/reader-bare-msh-segment: `MSH` alone on a line is not a message start
        // (no MSH-1), so the framing keeps it inside the message, where reading MSH-1 panicked.
        for text in ["MSH|^~\\&|A\rPID|1\rMSH\rPID|2", "MSH|^~\\&|A\rMSH   \r"] {
            let e = Message::parse(text, Charset::Utf8).unwrap_err();
            assert_eq!(
                e.path.as_deref(),
                Some(if text.contains("PID|2") {
                    "segment 3"
                } else {
                    "segment 2"
                })
            );
        }
    }

    #[test]
    fn bad_segment_id_is_a_syntax_error_with_offset() {
        let e = Message::parse("MSH|^~\\&|A\rPID|1\rhello world", Charset::Utf8).unwrap_err();
        assert_eq!(e.offset, 17);
        assert_eq!(e.path.as_deref(), Some("segment 3"));
    }

    #[test]
    fn long_field_is_borrowed_not_copied() {
        let big = "A".repeat(1 << 20);
        let text = format!("MSH|^~\\&\rOBX|1|ED|||^application^pdf^Base64^{big}|");
        let m = parse(&text);
        let v = m.get("OBX-5.5").unwrap().unwrap();
        assert!(matches!(v, Cow::Borrowed(_)));
        assert_eq!(v.len(), big.len());
    }
}
