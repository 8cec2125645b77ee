//! The deletion message emitted with `--emit mdm` (docs/emit.md « The CDA in a deletion
//! message »): it carries the CDA the source deletion carries, and only that. A document dmpfeed
//! converted earlier into the same folder does not change it.

mod cli_support;

use cli_support::{bin, samples};
use std::path::Path;

/// Converts the samples `names`, in this order, into `out` with `--emit mdm`.
fn convert(out: &Path, names: &[&str]) {
    for name in names {
        let status = bin()
            .args(["convert", "--quiet", "--emit", "mdm", "--out"])
            .arg(out)
            .arg(samples().join(name))
            .status()
            .unwrap();
        assert!(status.success(), "{name}");
    }
}

/// The bytes of the one deletion message of `out`.
fn deletion_message(out: &Path) -> Vec<u8> {
    let mut found: Vec<_> = std::fs::read_dir(out.join("deleted"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".mdm.hl7"))
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    std::fs::read(found.remove(0)).unwrap()
}

#[test]
fn a_deletion_message_does_not_depend_on_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (with_history, fresh) = (dir.path().join("a"), dir.path().join("b"));
    // the deleted document (…1002, a T10 of …1001) is converted first in one folder only
    convert(
        &with_history,
        &[
            "mdm-t02-operative-pdf.hl7",
            "mdm-t10-replacement.hl7",
            "mdm-t04-deletion.hl7",
        ],
    );
    convert(&fresh, &["mdm-t04-deletion.hl7"]);
    assert!(
        std::fs::read_dir(with_history.join("documents"))
            .unwrap()
            .any(|e| e
                .unwrap()
                .path()
                .to_string_lossy()
                .contains("1.2.250.1.999.1.2.1002"))
    );
    let t04 = deletion_message(&with_history);
    assert_eq!(t04, deletion_message(&fresh));
    // the source deletion carries a PDF, not a CDA: the document OBX has no OBX-5
    let text = String::from_utf8(t04).unwrap();
    let obx = text.split('\r').find(|s| s.starts_with("OBX|1|")).unwrap();
    let fields: Vec<&str> = obx.split('|').collect();
    assert_eq!((fields[2], fields[5], fields[11]), ("ED", "", "D"), "{obx}");
    assert!(
        text.contains("|1.2.250.1.999.1.2.1002|"),
        "TXA-12 names the deleted document"
    );
}
