//! Is this XML 1.0 well-formed? A strict check over quick-xml's reader, which is lenient by
//! design: it lets through characters XML forbids (raw or as `&#x1;`), undefined entity
//! references, `<` in attribute values, several root elements, text outside the root, `]]>` in
//! text and names that are not XML names. Readers downstream (the DMP, the ANS validator) are
//! not lenient: a document that fails here would be refused there.
//!
//! What is checked (XML 1.0 fifth edition): UTF-8 (CI-SIS CDA documents are UTF-8), every
//! character a `Char` (§2.2) and every character reference to one (§4.1 WFC: Legal Character),
//! only the five predefined entities (§4.6; a document type declaration is refused: its
//! entities would be expanded by whoever reads the document after us, and a CDA never has one),
//! element and attribute names are `Name`s (§2.3), unique attributes, no `<` in attribute
//! values (§3.1 WFC: No < in Attribute Values), matching end tags, exactly one root element with
//! only white space, comments and processing instructions around it (§2.1), the XML declaration
//! first if present (§2.8), no `]]>` in text (§2.4), no `--` inside a comment (§2.5), no
//! processing instruction named `xml` (§2.6).
//!
//! Not checked: namespace well-formedness (prefixes bound), white space between attributes.
//! Used on every CDA received already built ([`super::received`]) and, in tests and fuzz
//! targets, on every CDA dmpfeed writes.

use super::xml::is_xml_char;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use std::fmt;

/// Why a document is not well-formed, and where (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotWellFormed {
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for NotWellFormed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for NotWellFormed {}

fn at(offset: usize, reason: impl Into<String>) -> NotWellFormed {
    NotWellFormed {
        offset,
        reason: reason.into(),
    }
}

/// Checks that `xml` is a well-formed XML 1.0 document (see the module documentation).
pub fn check(xml: &[u8]) -> Result<(), NotWellFormed> {
    let text = std::str::from_utf8(xml).map_err(|e| at(e.valid_up_to(), "not UTF-8"))?;
    if let Some((i, c)) = text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        return Err(at(
            i,
            format!("character U+{:04X} is not allowed in XML 1.0", c as u32),
        ));
    }
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut first = true;
    loop {
        let start = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| at(reader.error_position() as usize, e.to_string()))?;
        match event {
            Event::Eof => break,
            Event::Decl(_) if !first => {
                return Err(at(start, "an XML declaration that is not at the start"));
            }
            Event::Decl(_) => {}
            Event::PI(pi) => {
                let target = pi.target();
                if target.eq_ignore_ascii_case("xml") || !is_name(target) {
                    return Err(at(
                        start,
                        format!("a processing instruction named {target:?}"),
                    ));
                }
            }
            Event::DocType(_) => {
                return Err(at(
                    start,
                    "a document type declaration (DOCTYPE): refused, its entities would be expanded",
                ));
            }
            Event::Start(e) | Event::Empty(e) if depth == 0 && roots > 0 => {
                return Err(at(
                    start,
                    format!("a second root element <{}>", e.name().as_ref()),
                ));
            }
            Event::Start(e) => {
                element(&e, start)?;
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Event::Empty(e) => {
                element(&e, start)?;
                roots += usize::from(depth == 0);
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                if depth == 0 && !t.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')) {
                    return Err(at(start, "text outside the root element"));
                }
                if t.contains("]]>") {
                    return Err(at(start, "`]]>` in text"));
                }
            }
            Event::GeneralRef(r) => {
                if depth == 0 {
                    return Err(at(start, "a reference outside the root element"));
                }
                reference(&r, start)?;
            }
            Event::CData(_) if depth == 0 => {
                return Err(at(start, "a CDATA section outside the root element"));
            }
            Event::CData(_) | Event::Comment(_) => {}
        }
        first = false;
    }
    if depth > 0 {
        return Err(at(text.len(), "the document ends inside an element"));
    }
    if roots == 0 {
        return Err(at(text.len(), "no root element"));
    }
    Ok(())
}

/// A start tag: its name, and its attributes (unique, named, values without `<` and with legal
/// references only).
fn element(e: &BytesStart<'_>, offset: usize) -> Result<(), NotWellFormed> {
    let name = e.name().into_inner();
    if !is_name(name) {
        return Err(at(offset, format!("{name:?} is not an XML name")));
    }
    for a in e.attributes() {
        let a = a.map_err(|err| at(offset, format!("<{name}>: {err}")))?;
        let key = a.key.into_inner();
        if !is_name(key) {
            return Err(at(offset, format!("<{name}>: {key:?} is not an XML name")));
        }
        let value: &str = &a.value;
        if value.contains('<') {
            return Err(at(
                offset,
                format!("<{name} {key}>: `<` in an attribute value"),
            ));
        }
        let mut rest = value;
        while let Some(amp) = rest.find('&') {
            let after = &rest[amp + 1..];
            let Some(semi) = after.find(';') else {
                return Err(at(
                    offset,
                    format!("<{name} {key}>: `&` that starts no reference"),
                ));
            };
            reference(&after[..semi], offset)?;
            rest = &after[semi + 1..];
        }
    }
    Ok(())
}

/// The text between `&` and `;`: a predefined entity or a reference to a legal character.
fn reference(name: &str, offset: usize) -> Result<(), NotWellFormed> {
    let code = if let Some(hex) = name.strip_prefix("#x") {
        u32::from_str_radix(hex, 16).ok()
    } else if let Some(dec) = name.strip_prefix('#') {
        dec.parse::<u32>().ok()
    } else if matches!(name, "lt" | "gt" | "amp" | "apos" | "quot") {
        return Ok(());
    } else {
        return Err(at(
            offset,
            format!("&{name}; is not a predefined entity (and no DTD is allowed)"),
        ));
    };
    // `from_str_radix` accepts a sign; XML does not.
    let digits_only = name.bytes().skip(1).all(|b| b.is_ascii_alphanumeric());
    match code.and_then(char::from_u32) {
        Some(c) if digits_only && is_xml_char(c) => Ok(()),
        _ => Err(at(
            offset,
            format!("&{name}; refers to no character XML 1.0 allows"),
        )),
    }
}

/// `Name` (XML 1.0 §2.3 production [5]).
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// `NameStartChar` (production [4]).
fn is_name_start_char(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

/// `NameChar` (production [4a]).
fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! well_formed {
        ($($name:ident: $xml:expr => $ok:expr;)+) => {$(
            #[test]
            fn $name() {
                let r = check($xml.as_bytes());
                assert_eq!(r.is_ok(), $ok, "{:?}: {r:?}", $xml);
            }
        )+};
    }

    well_formed! {
        a_plain_document: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"1\"><b/>t&amp;&lt;&#233;&#x10FFFF;</a>\n" => true;
        prefixed_names_and_comments: "<!-- c --><hl7:a xmlns:hl7=\"urn:x\" xsi:type=\"x\"><![CDATA[<&]]></hl7:a><?pi x?>" => true;
        a_byte_order_mark: "\u{FEFF}<a/>" => true;
        raw_control_character: "<a>\u{1}</a>" => false;
        control_character_reference: "<a>&#x1;</a>" => false;
        nul_reference: "<a>&#0;</a>" => false;
        surrogate_reference: "<a>&#xD800;</a>" => false;
        fffe_reference: "<a>&#xFFFE;</a>" => false;
        signed_reference: "<a>&#x+41;</a>" => false;
        control_reference_in_attribute: "<a x=\"&#x1F;\"/>" => false;
        undefined_entity: "<a>&nbsp;</a>" => false;
        undefined_entity_in_attribute: "<a x=\"&foo;\"/>" => false;
        lone_ampersand: "<a>a & b</a>" => false;
        lone_ampersand_in_attribute: "<a x=\"a & b\"/>" => false;
        lt_in_attribute: "<a x=\"<\"/>" => false;
        duplicate_attribute: "<a x=\"1\" x=\"2\"/>" => false;
        unquoted_attribute: "<a x=1/>" => false;
        two_roots: "<a/><b/>" => false;
        text_before_root: "text<a/>" => false;
        text_after_root: "<a/>text" => false;
        cdata_end_in_text: "<a>]]></a>" => false;
        digit_name: "<1a/>" => false;
        mismatched_end: "<a></b>" => false;
        unclosed: "<a><b></b>" => false;
        empty: "" => false;
        doctype: "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>" => false;
        double_dash_comment: "<a><!-- a -- b --></a>" => false;
        late_declaration: "<a/><?xml version=\"1.0\"?>" => false;
        xml_pi: "<a><?XML x?></a>" => false;
        accented_text: "<a>\u{E9}</a>" => true;
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        assert!(check(b"<a>\xE9</a>").is_err());
    }

    #[test]
    fn the_error_says_where() {
        let e = check(b"<a>ok\x01</a>").unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.to_string().starts_with("byte 5: character U+0001"), "{e}");
    }
}
