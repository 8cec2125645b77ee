//! The conversion core stage by stage, on the generated corpus of issue 7 (`common/corpus.rs`),
//! in bytes per second of input messages, with the floor (one `memchr` pass over the same
//! bytes) measured in the same run: the ratio holds on a noisy machine, an absolute time does
//! not (STYLE.md "Benchmarks").
//!
//! For each sub-corpus (mixed, text-only, PDF-only), each stage is measured alone on the output
//! of the previous ones, prepared outside the timed loop:
//!
//! * `frame` — [`framing::frames`] over the MLLP stream of the messages;
//! * `parse` — charset decoding (MSH-18) and parse, every leaf visited and unescaped;
//! * `identity` — [`identity::assess`] on the parsed messages;
//! * `map` — [`document::read`] (base64 validated, narrative lines joined);
//! * `render` — [`cda::write_document`] into a reused buffer;
//! * `convert` — [`convert::convert`] end to end (what the pipeline runs per message, before
//!   the files are written).
//!
//! `cargo bench --bench stages` (quick look: `-- --quick`, or a filter such as `-- text/`).
//! `STAGES_MESSAGES` sets the corpus size (default 200, about 15 MB mixed).

#[path = "common/corpus.rs"]
mod corpus;

use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use dmpfeed::config::Config;
use dmpfeed::convert::{convert, record_target};
use dmpfeed::document::{self, Request};
use dmpfeed::hl7::{self, Message, framing};
use dmpfeed::{cda, identity};
use std::hint::black_box;
use std::time::Duration;

fn leaves(msg: &Message<'_>) -> usize {
    let mut total = 0;
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
    total
}

fn bench_mix(c: &mut Criterion, name: &str, mix: corpus::Mix, count: usize) {
    let config = Config::default();
    let site = cda::Site::new(&config).expect("the default configuration is valid");
    let messages: Vec<Vec<u8>> = corpus::messages(7, mix, count).map(|m| m.bytes).collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let mut stream = Vec::with_capacity(bytes + 3 * messages.len());
    for m in &messages {
        corpus::mllp(m, &mut stream);
    }
    let decoded: Vec<_> = messages
        .iter()
        .map(|m| hl7::decode(m).expect("the corpus decodes"))
        .collect();
    let parsed: Vec<Message<'_>> = decoded
        .iter()
        .map(|d| d.parse().expect("the corpus parses"))
        .collect();
    let verdicts: Vec<_> = parsed
        .iter()
        .map(|m| identity::assess(m, &config.identity))
        .collect();
    assert!(
        verdicts.iter().all(|v| v.is_usable()),
        "every identity is usable"
    );
    let patients: Vec<_> = verdicts.iter().map(|v| record_target(&v.patient)).collect();
    let requests: Vec<_> = parsed
        .iter()
        .map(|m| match document::read(m, &config) {
            Ok(Request::Document(d)) => d,
            other => panic!("the corpus maps to documents: {other:?}"),
        })
        .collect();

    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    fn run<F: FnMut() -> usize>(
        g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
        id: &str,
        mut f: F,
    ) {
        g.bench_function(id, |b| b.iter(|| black_box(f())));
    }
    run(&mut g, "floor_memchr", || {
        messages
            .iter()
            .map(|m| memchr::memchr_iter(b'\r', black_box(m)).count())
            .sum()
    });
    run(&mut g, "frame", || {
        framing::frames(black_box(&stream))
            .map(|f| f.bytes.len())
            .sum()
    });
    run(&mut g, "parse", || {
        messages
            .iter()
            .map(|m| {
                let d = hl7::decode(black_box(m)).expect("decodes");
                let msg = d.parse().expect("parses");
                leaves(&msg)
            })
            .sum()
    });
    run(&mut g, "identity", || {
        parsed
            .iter()
            .map(|m| {
                identity::assess(black_box(m), &config.identity)
                    .findings
                    .len()
            })
            .sum()
    });
    run(&mut g, "map", || {
        parsed
            .iter()
            .map(|m| match document::read(black_box(m), &config) {
                Ok(Request::Document(d)) => d.id.len(),
                _ => 0,
            })
            .sum()
    });
    let mut out = Vec::new();
    run(&mut g, "render", || {
        requests
            .iter()
            .zip(&patients)
            .map(|(d, p)| {
                out.clear();
                cda::write_document(black_box(d), p, &site, &mut out).expect("renders");
                out.len()
            })
            .sum()
    });
    run(&mut g, "convert", || {
        messages
            .iter()
            .map(|m| {
                convert(black_box(m), None, &config)
                    .document
                    .map_or(0, |d| d.cda.len())
            })
            .sum()
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let count: usize = std::env::var("STAGES_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    bench_mix(c, "mixed", corpus::Mix::Mixed, count);
    bench_mix(c, "text", corpus::Mix::Text, count);
    bench_mix(c, "pdf", corpus::Mix::Pdf, count / 2);
}

criterion_group!(benches, bench);
criterion_main!(benches);
