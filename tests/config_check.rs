//! `dmpfeed config --check FILE`: a value that would make every CDA fail the ANS validator is
//! refused up front, with exit status 2 and an error naming the key (CONTRACT "Invalid
//! configuration → a clear error naming the key").

mod cli_support;

use cli_support::bin;

/// Runs `config --check` on `toml`: (exit status, standard error).
fn check(toml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(&path, toml).unwrap();
    let out = bin()
        .arg("config")
        .arg("--check")
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn values_the_cda_validator_would_refuse_are_configuration_errors() {
    for (toml, key) in [
        // CI-SISTelecom: « préfixe:chaîne (avec préfixe = tel, fax, mailto, http, ftp ou mllp) »
        (
            "[organisation]\ntelecom = \"0102030405\"\n",
            "organisation.telecom",
        ),
        // an IDNPS is 8 + RPPS or 0 + ADELI
        (
            "[document.default_author]\nid = \"x\"\nfamily = \"MARTIN\"\n",
            "document.default_author.id",
        ),
        // the CDA `uid` type: the first arc of an OID is 0, 1 or 2
        ("[oids]\ndocument_root = \"3.1.2\"\n", "oids.document_root"),
    ] {
        let (status, stderr) = check(toml);
        assert_eq!(status, Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(key), "{toml}: {stderr} should name {key}");
    }
}

#[test]
fn accepted_forms_are_valid() {
    let (status, stderr) = check(
        "[organisation]\ntelecom = \"mailto:dim@chu.example\"\n\
         [document.default_author]\nid = \"810000100015\"\nfamily = \"MARTIN\"\n",
    );
    assert_eq!(status, Some(0), "{stderr}");
}
