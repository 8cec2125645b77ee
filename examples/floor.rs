//! The floor of issue 7: read the same files as `dmpfeed convert` and make one `memchr` pass
//! over their bytes (what finding the segment ends costs at least), on one thread. Anything
//! dmpfeed does costs at least this; `scripts/bench.sh` prints every figure as a ratio to it.
//!
//! ```text
//! cargo run --release --example floor -- INPUT...    # files or folders (walked)
//! ```
//!
//! Prints one line of JSON: files, messages (files of a folder; MLLP blocks of a file that
//! starts with 0x0B), bytes, seconds, messages/s, MB/s (10^6 bytes).

use std::io::Read;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    if inputs.is_empty() {
        eprintln!("usage: floor INPUT...");
        std::process::exit(2);
    }
    let start = Instant::now();
    let (mut files, mut messages, mut bytes, mut found) = (0u64, 0u64, 0u64, 0usize);
    let mut buf = Vec::new();
    for input in &inputs {
        let mut paths: Vec<_> = walkdir::WalkDir::new(input)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(walkdir::DirEntry::into_path)
            .filter(|p| p.extension().is_some_and(|e| e == "hl7" || e == "mllp"))
            .collect();
        paths.sort();
        for path in paths {
            buf.clear();
            std::fs::File::open(&path)?.read_to_end(&mut buf)?;
            files += 1;
            bytes += buf.len() as u64;
            // The one pass: segment ends, or MLLP block starts for a stream.
            if buf.first() == Some(&0x0B) {
                let blocks = memchr::memchr_iter(0x0B, &buf).count();
                messages += blocks as u64;
                found += blocks;
            } else {
                found += memchr::memchr_iter(b'\r', &buf).count();
                messages += 1;
            }
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"files\": {files}, \"messages\": {messages}, \"bytes\": {bytes}, \"seconds\": {seconds:.4}, \
         \"messages_per_second\": {:.1}, \"mb_per_second\": {:.1}, \"found\": {found}}}",
        messages as f64 / seconds,
        bytes as f64 / seconds / 1e6
    );
    Ok(())
}
