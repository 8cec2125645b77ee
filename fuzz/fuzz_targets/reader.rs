//! Any byte string through the whole reader: framing, charset decoding, parsing, every leaf
//! decoded, path lookups, and the `inspect --json` serialisation. Nothing may panic.
#![no_main]

use dmpfeed::hl7::{self, Path, framing};
use libfuzzer_sys::fuzz_target;

/// Paths every message is asked for: MSH quirks, repetitions, subcomponents, occurrences.
const PATHS: &[&str] = &[
    "MSH-1",
    "MSH-2",
    "MSH-9.2",
    "MSH-18",
    "PID-3(2).4.2",
    "PID-5.1.1",
    "OBX[3]-5.5",
    "ZZZ[2]-1(3).2.1",
];

fuzz_target!(|data: &[u8]| {
    for frame in framing::frames(data) {
        let Ok(decoded) = hl7::decode(frame.bytes) else {
            continue;
        };
        let Ok(msg) = decoded.parse() else {
            continue;
        };
        let mut leaves = 0usize;
        for seg in msg.segments() {
            let _ = seg.id();
            for field in seg.fields() {
                let _ = field.value();
                for rep in field.repetitions() {
                    let _ = rep.value();
                    for comp in rep.components() {
                        let _ = comp.value();
                        for sub in comp.subcomponents() {
                            leaves += sub.value().len();
                        }
                    }
                }
            }
        }
        std::hint::black_box(leaves);
        for p in PATHS {
            let _ = msg.get(p);
        }
        // A path made of the input itself: the path parser must refuse garbage, not panic.
        if let Ok(p) = String::from_utf8_lossy(&data[..data.len().min(24)]).parse::<Path>() {
            let _ = msg.at(&p);
        }
        let mut out = Vec::new();
        dmpfeed::commands::inspect::write_json(&mut out, "fuzz#1", &msg)
            .expect("writing to a Vec cannot fail");
        serde_json_check(&out);
    }
});

/// The JSON line must be valid UTF-8 ending with one newline.
fn serde_json_check(out: &[u8]) {
    let text = std::str::from_utf8(out).expect("inspect JSON is UTF-8");
    assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
}
