//! Shared by the `dmp_*` integration tests: every input dmpfeed is tried on (the samples and the
//! ANS examples, each message framed as the pipeline frames it), the conversions with `--emit`,
//! the ANS reference messages, and a small XML tree to read the emitted XML independently of
//! dmpfeed's own CDA reader.
#![allow(dead_code)]

use dmpfeed::config::Config;
use dmpfeed::convert::{Conversion, Emit, convert_with};
use dmpfeed::hl7::{self, Message};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The ANS examples folder of the CI-SIS volet.
pub const ANS_MDM: &str = "tests/fixtures/ans-hl7v2-exemples/Vague 2/Trans_Doc-CDA-HL7V2/TRANSMISSION_DOCS_CDA_EN_HL7V2_V2.1/MDM";
pub const ANS_ORU: &str = "tests/fixtures/ans-hl7v2-exemples/Volets/TRANS_DOC_CDA_HL7V2/V2.1/ORU/Transmission initiale ORU/message_ORU_CR_Bio_INIT_N1_N3.hl7";
pub const ANS_T02: &str = "Transmission initiale MDM/message_MDM_CR_Radio_INIT_N1.er7";
pub const ANS_T02_BASE64: &str =
    "Transmission initiale MDM/message_MDM_CR_Radio_INIT_N1_Base64.er7";
pub const ANS_T10: &str = "Remplacement MDM/message_MDM_CR_Radio_RPLC_N1.er7";
pub const ANS_T04: &str = "Suppression MDM/message_MDM_CR_Radio_DEL_N1.er7";

pub fn read(relative: &str) -> Vec<u8> {
    let path = root().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn ans_mdm(name: &str) -> Vec<u8> {
    read(&format!("{ANS_MDM}/{name}"))
}

/// The default configuration, accepting `VALI` and the test INS of the ANS examples.
pub fn config() -> Config {
    Config::from_toml(
        "[identity]\naccept_vali = true\nallow_test_ins = true\n",
        "test",
    )
    .unwrap()
}

pub const ALL: Emit = Emit {
    mdm: true,
    oru: true,
    xdm: true,
};

/// Every message of every sample file and of the ANS MDM / ORU examples: `(name, bytes)`.
pub fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    for dir in [
        "Transmission initiale MDM",
        "Remplacement MDM",
        "Suppression MDM",
    ] {
        for e in std::fs::read_dir(root().join(ANS_MDM).join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("message_") {
                files.push(p);
            }
        }
    }
    files.push(root().join(ANS_ORU));
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let frames: Vec<_> = hl7::framing::frames(&bytes).collect();
        let many = frames.len() > 1;
        for (i, f) in frames.iter().enumerate() {
            let name = if many {
                format!("{stem}#{}", i + 1)
            } else {
                stem.clone()
            };
            out.push((name, f.bytes.to_vec()));
        }
    }
    out
}

/// Every input converted with these artefacts.
pub fn conversions(emit: &Emit) -> Vec<(String, Vec<u8>, Conversion)> {
    let config = config();
    inputs()
        .into_iter()
        .map(|(name, raw)| {
            let c = convert_with(&raw, None, &config, emit);
            (name, raw, c)
        })
        .collect()
}

/// The artefact with this suffix.
pub fn artefact<'c>(c: &'c Conversion, suffix: &str) -> Option<&'c [u8]> {
    let list = match (&c.document, &c.deletion) {
        (Some(d), _) => &d.artefacts,
        (None, Some(d)) => &d.artefacts,
        _ => return None,
    };
    list.iter()
        .find(|a| a.suffix == suffix)
        .map(|a| a.bytes.as_slice())
}

/// Runs `f` on the message these bytes hold, parsed with dmpfeed's own reader.
pub fn with_message<T>(bytes: &[u8], f: impl FnOnce(&Message<'_>) -> T) -> T {
    let decoded = hl7::decode(bytes).unwrap();
    let msg = decoded.parse().unwrap();
    f(&msg)
}

/// `msg.get(path)`, `""` when absent.
pub fn get(msg: &Message<'_>, path: &str) -> String {
    msg.get(path).unwrap().unwrap_or_default().into_owned()
}

/// A parsed XML element: local name, attributes (local names), children, text.
#[derive(Debug, Clone, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    pub fn attr(&self, name: &str) -> &str {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn all<'e>(&'e self, name: &'e str) -> impl Iterator<Item = &'e Element> + 'e {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first element along this path of local names.
    pub fn at(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, name| e.child(name))
    }
}

/// Parses a whole XML document into a tree (a test helper: no limits).
pub fn parse_xml(bytes: &[u8]) -> Element {
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<Element> = vec![Element::default()];
    let mut buf = Vec::new();
    loop {
        let event = reader.read_event_into(&mut buf).unwrap();
        match event {
            Event::Start(e) => stack.push(element(&e)),
            Event::Empty(e) => {
                let el = element(&e);
                stack.last_mut().unwrap().children.push(el);
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(done);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::CData(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&r)
                        .unwrap()
                        .to_owned(),
                };
                stack.last_mut().unwrap().text.push_str(&s);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    stack.pop().unwrap().children.into_iter().next().unwrap()
}

fn element(e: &quick_xml::events::BytesStart<'_>) -> Element {
    Element {
        name: e.local_name().as_ref().to_owned(),
        attrs: e
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (
                    a.key.local_name().as_ref().to_owned(),
                    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned(),
                )
            })
            .collect(),
        ..Element::default()
    }
}

/// The entries of a ZIP: `(name, bytes)`, in order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().into_owned(), data)
        })
        .collect()
}

/// `xmllint --noout --schema SCHEMA files…` in one call; panics with its output on failure
/// (and when xmllint is not installed: `tools/validate-cda --setup` installs it).
pub fn xmllint(schema: &Path, files: &[PathBuf]) {
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(schema)
        .args(files)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint cannot be run ({e}): install it with tools/validate-cda --setup")
        });
    assert!(
        out.status.success(),
        "xmllint failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
