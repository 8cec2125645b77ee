//! Arbitrary bytes pushed through the streaming [`Framer`] in arbitrary chunk sizes give exactly
//! the frames [`framing::frames`] finds in the whole buffer (CONTRACT.md: the framing is detected,
//! and chunking never changes it).
//!
//! Input layout: byte 0 = number of chunk sizes k (mod 16), then k bytes of chunk sizes
//! (each 1..=256, cycled), then the stream.
#![no_main]

use dmpfeed::hl7::framing::{self, Framer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
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

    let expected: Vec<_> = framing::frames(data)
        .map(|f| (f.bytes.to_vec(), f.offset as u64, f.framing, f.defect))
        .collect();

    let mut framer = Framer::default();
    let mut got = Vec::new();
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + size).min(data.len());
        framer.push(&data[at..end]);
        at = end;
        while let Some(f) = framer.next_frame() {
            got.push(f);
        }
    }
    framer.finish();
    while let Some(f) = framer.next_frame() {
        got.push(f);
    }
    for (i, f) in got.iter().enumerate() {
        assert_eq!(f.index, i + 1, "frame indexes count from 1");
    }
    let got: Vec<_> = got
        .into_iter()
        .map(|f| (f.bytes, f.offset, f.framing, f.defect))
        .collect();
    assert_eq!(got, expected, "chunk sizes {sizes:?}");
});
