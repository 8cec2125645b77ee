use dmpfeed::config::Config;
use dmpfeed::convert::{Emit, convert_with};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bytes = std::fs::read(&args[1]).unwrap();
    let cfg = Config::from_toml(
        "[identity]\naccept_vali = true\nallow_test_ins = true\n",
        "x",
    )
    .unwrap();
    let emit = Emit::parse(&args[2]).unwrap();
    let out = std::path::Path::new(&args[3]);
    for (i, f) in dmpfeed::hl7::framing::frames(&bytes).enumerate() {
        let c = convert_with(f.bytes, f.defect, &cfg, &emit);
        println!("#{} {:?} {:?}", i + 1, c.outcome, c.findings);
        let arts = c
            .document
            .as_ref()
            .map(|d| d.artefacts.clone())
            .or(c.deletion.as_ref().map(|d| d.artefacts.clone()))
            .unwrap_or_default();
        if let Some(d) = &c.document {
            std::fs::write(out.join(format!("{}.xml", i + 1)), &d.cda).unwrap();
        }
        for a in arts {
            std::fs::write(out.join(format!("{}{}", i + 1, a.suffix)), &a.bytes).unwrap();
        }
    }
}
