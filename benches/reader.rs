//! The HL7v2 reader's speed: framing + charset decoding + parsing with every leaf decoded, in bytes
//! per second, against a floor measured in the same run (one `memchr` pass over the same bytes):
//! the ratio holds on a noisy machine, an absolute time does not (STYLE.md "Benchmarks").
//!
//! Inputs: every file of `samples/`, and one synthetic message carrying a 20 MB base64 PDF in
//! OBX-5, which must be scanned at memchr speed and never copied (issue 2).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmpfeed::hl7::{self, framing};
use std::hint::black_box;

/// Frames, decodes and parses every message of `bytes`, and decodes every leaf.
fn read_all(bytes: &[u8]) -> usize {
    let mut total = 0;
    for frame in framing::frames(bytes) {
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
                            total += sub.value().len();
                        }
                    }
                }
            }
        }
    }
    total
}

/// The floor: one pass of memchr over the bytes (what finding the segment ends costs at least).
fn floor(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\r', bytes).count()
}

fn samples() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("samples/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("readable sample"))
        .collect()
}

/// An MDM^T02 whose OBX-5 holds `size` bytes of base64 (a PDF, as French DPIs send them).
fn big_message(size: usize) -> Vec<u8> {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut m = b"MSH|^~\\&|DPI|CHU|PFI|CHU|20240101120000||MDM^T02^MDM_T02|BIG1|P|2.6|||||FRA|UNICODE UTF-8\r\
PID|||100001^^^CHU&1.2.250.1.999.1.1&ISO^PI||DUPONT^Jean\r\
TXA|1|11490-0^Lettre de sortie^LN|AP|20240101120000\r\
OBX|1|ED|11490-0^Lettre de sortie^LN||^application^pdf^Base64^"
        .to_vec();
    let mut x: u32 = 0x1234_5678;
    m.extend((0..size).map(|_| {
        // xorshift: not compressible into a pattern the CPU could predict.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        B64[(x % 64) as usize]
    }));
    m.extend_from_slice(b"||||||F\r");
    m
}

fn bench(c: &mut Criterion) {
    let samples = samples();
    let sample_bytes: usize = samples.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("samples");
    g.throughput(Throughput::Bytes(sample_bytes as u64));
    g.bench_function("frame+parse+leaves", |b| {
        b.iter(|| {
            samples
                .iter()
                .map(|s| read_all(black_box(s)))
                .sum::<usize>()
        })
    });
    g.bench_function("floor_memchr", |b| {
        b.iter(|| samples.iter().map(|s| floor(black_box(s))).sum::<usize>())
    });
    g.finish();

    let big = big_message(20 << 20);
    let mut g = c.benchmark_group("obx5_base64_20MB");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("frame+parse+leaves", |b| {
        b.iter(|| read_all(black_box(&big)))
    });
    g.bench_function("streaming_framer_64KiB_chunks+parse", |b| {
        b.iter(|| {
            let mut framer = framing::Framer::default();
            let mut n = 0;
            for chunk in big.chunks(64 << 10) {
                framer.push(chunk);
                while let Some(f) = framer.next_frame() {
                    n += read_all(&f.bytes);
                }
            }
            framer.finish();
            while let Some(f) = framer.next_frame() {
                n += read_all(&f.bytes);
            }
            n
        })
    });
    g.bench_function("floor_memchr", |b| b.iter(|| floor(black_box(&big))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
