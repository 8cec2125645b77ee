//! Every input a fuzz target ever crashed on (`fuzz/regressions/`), replayed through the same
//! checks as the target, so that a fixed crash stays fixed without cargo-fuzz. Files are named
//! after their target: `reader-…` (decode, parse, every leaf, paths, `inspect --json`) and
//! `framing_chunks-…` (streamed in chunks = framed whole).

use dmpfeed::hl7::{self, framing};
use std::path::Path;

fn read_everything(data: &[u8]) {
    for frame in framing::frames(data) {
        let Ok(decoded) = hl7::decode(frame.bytes) else {
            continue;
        };
        let Ok(msg) = decoded.parse() else {
            continue;
        };
        for seg in msg.segments() {
            for field in seg.fields() {
                for rep in field.repetitions() {
                    for comp in rep.components() {
                        for sub in comp.subcomponents() {
                            let _ = sub.value();
                        }
                    }
                }
            }
        }
        for p in ["MSH-1", "MSH-2", "MSH-9.2", "PID-3(2).4.2", "OBX[3]-5.5"] {
            let _ = msg.get(p);
        }
        let mut out = Vec::new();
        dmpfeed::commands::inspect::write_json(&mut out, "regression#1", &msg).unwrap();
        assert!(std::str::from_utf8(&out).is_ok());
    }
}

/// The `framing_chunks` target's input layout: byte 0 = k, k chunk sizes (+1), then the stream.
fn chunked_equals_whole(input: &[u8]) {
    let Some((&k, rest)) = input.split_first() else {
        return;
    };
    let k = usize::from(k % 16).min(rest.len());
    let (sizes, data) = rest.split_at(k);
    let sizes: Vec<usize> = if sizes.is_empty() {
        vec![data.len().max(1)]
    } else {
        sizes.iter().map(|&s| usize::from(s) + 1).collect()
    };
    let whole: Vec<_> = framing::frames(data)
        .map(|f| (f.bytes.to_vec(), f.offset as u64))
        .collect();
    let mut framer = framing::Framer::default();
    let mut got = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        framer.push(&data[at..end]);
        at = end;
        got.extend(std::iter::from_fn(|| framer.next_frame()));
    }
    framer.finish();
    got.extend(std::iter::from_fn(|| framer.next_frame()));
    let got: Vec<_> = got.into_iter().map(|f| (f.bytes, f.offset)).collect();
    assert_eq!(got, whole);
}

#[test]
fn every_fuzz_regression_input_is_handled() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions exists") {
        let path = entry.expect("readable entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).expect("readable regression input");
        if name.starts_with("reader-") {
            read_everything(&data);
        } else if name.starts_with("framing_chunks-") {
            chunked_equals_whole(&data);
        } else {
            panic!("{name}: a regression file is named after its fuzz target");
        }
        seen += 1;
    }
    assert!(seen >= 1, "no regression inputs in {}", dir.display());
}
