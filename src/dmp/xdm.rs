//! The IHE XDM package (ITI-32 « Distribute Document Set on Media », ZIP over e-mail, IHE ITI
//! TF-2b §3.32.4.1.2): `INDEX.HTM` and `README.TXT` at the root, the submission set in
//! `IHE_XDM/SUBSET01/` with its `METADATA.XML` and the document `DOC0001.XML` (the names the ANS
//! tooling uses too).
//!
//! Deterministic: the entries come in a fixed order, deflated, each stamped with the document's
//! creation time (its local digits, ZIP keeps no time zone; 1980-01-01 when it has none a ZIP
//! can hold), never the clock. The same document and metadata give the same bytes.

use super::metadata::DOCUMENT_FILE;
use crate::document::time::Ts;
use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The folder of the one submission set.
pub const SUBSET: &str = "IHE_XDM/SUBSET01";

/// `README.TXT`: who made the package (ITI-32: the creator's name and version).
fn readme() -> String {
    format!(
        "IHE XDM (ITI-32) package written by dmpfeed {}.\r\n\
         \r\n\
         {SUBSET}/METADATA.XML  XDS metadata (ebRIM 3.0 SubmitObjectsRequest)\r\n\
         {SUBSET}/{DOCUMENT_FILE}   the document, a CI-SIS CDA R2\r\n\
         \r\n\
         The document holds health data: handle it as such.\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// `INDEX.HTM`: the table of contents (ITI-32), without any patient data.
fn index() -> String {
    format!(
        "<!DOCTYPE html>\r\n\
         <html lang=\"fr\"><head><meta charset=\"UTF-8\"><title>IHE XDM</title></head><body>\r\n\
         <h1>Documents</h1>\r\n\
         <ul>\r\n\
         <li><a href=\"{SUBSET}/{DOCUMENT_FILE}\">{DOCUMENT_FILE}</a> (CDA R2)</li>\r\n\
         <li><a href=\"{SUBSET}/METADATA.XML\">METADATA.XML</a> (XDS metadata)</li>\r\n\
         </ul>\r\n\
         <p><a href=\"README.TXT\">README.TXT</a></p>\r\n\
         </body></html>\r\n"
    )
}

/// The ZIP timestamp of a CDA TS: its local date and time digits.
pub fn zip_time(cda_ts: &str) -> DateTime {
    let Ok(ts) = Ts::parse(cda_ts.trim()) else {
        return DateTime::DEFAULT;
    };
    let (Ok(year), Ok(month), Ok(day), Ok(hour), Ok(minute), Ok(second)) = (
        u16::try_from(ts.year),
        u8::try_from(ts.month),
        u8::try_from(ts.day),
        u8::try_from(ts.hour),
        u8::try_from(ts.minute),
        u8::try_from(ts.second),
    ) else {
        return DateTime::DEFAULT;
    };
    DateTime::from_date_and_time(year, month, day, hour, minute, second)
        .unwrap_or(DateTime::DEFAULT)
}

/// The package of one document and its metadata.
pub fn package(cda: &[u8], metadata: &[u8], time: DateTime) -> Result<Vec<u8>, String> {
    let options = SimpleFileOptions::DEFAULT
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(time)
        .unix_permissions(0o644);
    let capacity = cda.len() / 2 + metadata.len() + 4096;
    let mut zip = ZipWriter::new(Cursor::new(Vec::with_capacity(capacity)));
    let (index, readme) = (index(), readme());
    let entries: [(String, &[u8]); 4] = [
        ("INDEX.HTM".into(), index.as_bytes()),
        ("README.TXT".into(), readme.as_bytes()),
        (format!("{SUBSET}/METADATA.XML"), metadata),
        (format!("{SUBSET}/{DOCUMENT_FILE}"), cda),
    ];
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options)
            .and_then(|()| zip.write_all(bytes).map_err(Into::into))
            .map_err(|e| format!("XDM entry {name}: {e}"))?;
    }
    zip.finish()
        .map(Cursor::into_inner)
        .map_err(|e| format!("XDM package: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn entries_names_and_contents() {
        let zip = package(
            b"<ClinicalDocument/>",
            b"<meta/>",
            zip_time("20240319090000+0100"),
        )
        .unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(&zip)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "INDEX.HTM",
                "README.TXT",
                "IHE_XDM/SUBSET01/METADATA.XML",
                "IHE_XDM/SUBSET01/DOC0001.XML"
            ]
        );
        let mut doc = Vec::new();
        let mut entry = archive.by_name("IHE_XDM/SUBSET01/DOC0001.XML").unwrap();
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
        let t = entry.last_modified().unwrap();
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (2024, 3, 19, 9, 0)
        );
        entry.read_to_end(&mut doc).unwrap();
        assert_eq!(doc, b"<ClinicalDocument/>");
    }

    #[test]
    fn same_input_same_bytes() {
        let a = package(b"<a/>", b"<m/>", zip_time("20240319")).unwrap();
        let b = package(b"<a/>", b"<m/>", zip_time("20240319")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn zip_times() {
        let cases = [
            ("20240319090000+0100", (2024, 3, 19, 9, 0)),
            ("20240319", (2024, 3, 19, 0, 0)),
            ("19700101", (1980, 1, 1, 0, 0)), // before 1980: the ZIP epoch
            ("garbage", (1980, 1, 1, 0, 0)),
        ];
        for (ts, want) in cases {
            let t = zip_time(ts);
            assert_eq!(
                (t.year(), t.month(), t.day(), t.hour(), t.minute()),
                want,
                "{ts}"
            );
        }
    }
}
