//! `--help` keeps the examples of the subcommands one per line (clap rewraps doc comments
//! unless told otherwise).

mod cli_support;

use cli_support::bin;

#[test]
fn help_examples_stay_one_per_line() {
    for (command, example) in [
        (
            "convert",
            "  mllp-source | dmpfeed convert --out out/ --ack | mllp-sink",
        ),
        (
            "convert",
            "  dmpfeed convert --stdout < message.hl7 > document.xml",
        ),
        ("documents", "  dmpfeed documents out/ --patient 123456"),
        ("held", "  dmpfeed held release --ipp 100009 out/"),
    ] {
        let o = bin().args([command, "--help"]).output().unwrap();
        assert!(o.status.success());
        let help = String::from_utf8(o.stdout).unwrap();
        assert!(
            help.lines().any(|l| l == example),
            "`{command} --help` has no line {example:?}:\n{help}"
        );
    }
}
