//! The floor of issue 7: read the same files as `dmpfeed convert` and make one `memchr` pass
//! over their bytes (what finding the segment ends costs at least), on one thread. Anything
//! dmpfeed does costs at least this; `scripts/bench.sh` prints every figure as a ratio to it.
//!
//! ```text
//! cargo run --release --example floor -- INPUT...    # files or folders (walked)
//! cargo run --release --example floor -- --fsync DIR COUNT SIZE
//! cargo run --release --example floor -- --syncfs DIR COUNT SIZE
//! cargo run --release --example floor -- --passthrough DIR INPUT...
//! ```
//!
//! Prints one line of JSON: files, messages (files of a folder; MLLP blocks of a file that
//! starts with 0x0B), bytes, seconds, messages/s, MB/s (10^6 bytes).
//!
//! `--fsync` is the disk's floor for durable small files: COUNT new files of SIZE bytes written
//! in DIR and each fsynced, by 16 threads (as dmpfeed's output folder does with
//! `output.sync = "file"`), without dmpfeed. `--syncfs` is the same files written by one thread,
//! then made durable by one `syncfs(2)` (the floor of `output.sync = "filesystem"`).
//!
//! `--passthrough` is the least a conversion of PDF messages does with one job, whatever the
//! conversion: one thread reads each file and computes its hash (BLAKE3, the identity a new
//! output folder gives a message: `dmpfeed::message_hash`), the other writes the same bytes to a
//! new file in DIR (not synced: on tmpfs, as dmpfeed's tmpfs rows). No parsing, no CDA, no
//! registry, no report.

use std::io::Read;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, dir, count, size] = inputs.as_slice()
        && (flag == "--fsync" || flag == "--syncfs")
    {
        return durable_floor(
            std::path::Path::new(dir),
            count.parse().expect("COUNT"),
            size.parse().expect("SIZE"),
            flag == "--syncfs",
        );
    }
    if let [flag, dir, rest @ ..] = inputs.as_slice()
        && flag == "--passthrough"
        && !rest.is_empty()
    {
        return passthrough(std::path::Path::new(dir), rest);
    }
    if inputs.is_empty() {
        eprintln!("usage: floor INPUT...");
        std::process::exit(2);
    }
    let start = Instant::now();
    let (mut files, mut messages, mut bytes, mut found) = (0u64, 0u64, 0u64, 0usize);
    let mut buf = Vec::new();
    for input in &inputs {
        for path in messages_in(input) {
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

/// The `.hl7` and `.mllp` files of a file or folder, in name order.
fn messages_in(input: &str) -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = walkdir::WalkDir::new(input)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .filter(|p| p.extension().is_some_and(|e| e == "hl7" || e == "mllp"))
        .collect();
    paths.sort();
    paths
}

/// Each file read and hashed by this thread, written again under `dir` by another.
fn passthrough(dir: &std::path::Path, inputs: &[String]) -> std::io::Result<()> {
    use dmpfeed::message_hash::Algorithm;
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let paths: Vec<_> = inputs.iter().flat_map(|i| messages_in(i)).collect();
    let start = Instant::now();
    let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(16);
    let (bytes, digest) = std::thread::scope(|s| {
        let writer = s.spawn(move || -> std::io::Result<()> {
            for (i, message) in rx.into_iter().enumerate() {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(dir.join(format!("m{i}")))?
                    .write_all(&message)?;
            }
            Ok(())
        });
        let (mut bytes, mut digest) = (0u64, 0u8);
        for path in &paths {
            let mut message = Vec::new();
            std::fs::File::open(path)?.read_to_end(&mut message)?;
            bytes += message.len() as u64;
            // Kept, so that the hash is not optimised away.
            digest ^= Algorithm::NEW_FOLDERS.hash(&message).as_bytes()[0];
            if tx.send(message).is_err() {
                break;
            }
        }
        drop(tx);
        writer.join().expect("no panic")?;
        Ok::<_, std::io::Error>((bytes, digest))
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let files = paths.len();
    println!(
        "{{\"files\": {files}, \"bytes\": {bytes}, \"seconds\": {seconds:.4}, \"messages_per_second\": {:.1}, \
         \"mb_per_second\": {:.1}, \"digest\": {digest}}}",
        files as f64 / seconds,
        bytes as f64 / seconds / 1e6
    );
    Ok(())
}

/// COUNT files of SIZE bytes written in `dir` and made durable: each fsynced, by 16 threads,
/// or all by one `syncfs` once written by one thread.
fn durable_floor(
    dir: &std::path::Path,
    count: usize,
    size: usize,
    one_syncfs: bool,
) -> std::io::Result<()> {
    use std::io::Write;
    const THREADS: usize = 16;
    std::fs::create_dir_all(dir)?;
    // Bytes that do not compress (a virtual disk may compress zeros).
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let write = |i: usize, sync: bool| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(format!("f{i}")))?;
        f.write_all(&data)?;
        if sync { f.sync_all() } else { Ok(()) }
    };
    let start = Instant::now();
    let folder = std::fs::File::open(dir)?;
    if one_syncfs {
        (0..count).try_for_each(|i| write(i, false))?;
        rustix::fs::syncfs(&folder)?;
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let write = &write;
                    s.spawn(move || (t..count).step_by(THREADS).try_for_each(|i| write(i, true)))
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("no panic"))
        })?;
        folder.sync_all()?;
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"files\": {count}, \"bytes\": {}, \"seconds\": {seconds:.4}, \"files_per_second\": {:.1}, \
         \"mb_per_second\": {:.1}}}",
        count * size,
        count as f64 / seconds,
        (count * size) as f64 / seconds / 1e6
    );
    Ok(())
}
