//! Runs the pure conversion core ([`dmpfeed::convert::convert`]) over the generated corpus, for
//! a profiler: instruction counts from `valgrind --tool=callgrind` stay stable on a noisy shared
//! machine where wall-clock time does not (issue 7).
//!
//! ```text
//! cargo build --release --example core_profile
//! valgrind --tool=callgrind --toggle-collect='dmpfeed::convert::convert_recalling' \
//!     target/release/examples/core_profile --mix text --messages 100
//! callgrind_annotate --inclusive=yes callgrind.out.<pid> | head -60
//! ```
//!
//! Without a profiler it prints the time per message (one thread, no files written).

#[path = "../benches/common/corpus.rs"]
mod corpus;

use dmpfeed::config::Config;
use dmpfeed::reason::Outcome;
use std::time::Instant;

fn main() {
    let (mut mix, mut count, mut rounds) = (corpus::Mix::Mixed, 100usize, 1usize);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let v = it.next().unwrap_or_default();
        match a.as_str() {
            "--mix" => mix = corpus::Mix::parse(&v).expect("--mix mixed|text|pdf"),
            "--messages" => count = v.parse().expect("--messages N"),
            "--rounds" => rounds = v.parse().expect("--rounds N"),
            _ => panic!("unknown argument {a}"),
        }
    }
    let config = Config::default();
    let messages: Vec<Vec<u8>> = corpus::messages(7, mix, count).map(|m| m.bytes).collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut converted = 0;
    for _ in 0..rounds {
        for m in &messages {
            let c = dmpfeed::convert::convert(m, None, &config);
            converted += usize::from(c.outcome == Outcome::Converted);
        }
    }
    let s = start.elapsed().as_secs_f64();
    let n = (messages.len() * rounds) as f64;
    println!(
        "{converted} of {n} converted; {:.1} µs/message, {:.0} messages/s, {:.1} MB/s",
        s / n * 1e6,
        n / s,
        (bytes * rounds) as f64 / s / 1e6
    );
}
