//! Issue 8 "Limits": every limit of `[limits]` is configurable, has a sane default, and turns
//! an input over it into `MESSAGE_TOO_LARGE` for that message (or, for an archive, a clear
//! error naming the limit) while the run goes on — never an out-of-memory, never a hang.
//!
//! Small limits are set in a configuration written by each test; the archives (a zip bomb
//! expanding to 3 GiB, too many entries, archives nested too deep) are generated here.

mod cda_support;
mod cli_support;

use cda_support::{sample_text, set_field};
use cli_support::{bin, report, status, stderr};
use dmpfeed::config::Config;
use dmpfeed::convert::convert;
use dmpfeed::reason::{Outcome, ReasonCode};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The operative report sample (19 segments, longest field 1744 bytes, a 1.3 kB PDF): converted.
fn operative() -> String {
    sample_text("mdm-t02-operative-pdf.hl7")
}

/// The operative report with `n` NTE segments of `len` bytes each appended.
fn with_notes(n: usize, len: usize) -> String {
    let mut text = operative();
    if !text.ends_with('\r') {
        text.push('\r');
    }
    for i in 0..n {
        text.push_str(&format!("NTE|{}||{}\r", i + 1, "n".repeat(len)));
    }
    text
}

/// The Latin-1 narrative consultation (10 OBX TX lines) with every text line `len` bytes long.
fn long_narrative(len: usize) -> Vec<u8> {
    let raw = cda_support::sample("mdm-t02-consultation-text-latin1.hl7");
    let text = encoding_rs::mem::decode_latin1(&raw).into_owned();
    let lines: Vec<String> = text
        .split('\r')
        .map(|l| {
            if l.starts_with("OBX|") && l.split('|').nth(2) == Some("TX") {
                let mut f: Vec<String> = l.split('|').map(str::to_owned).collect();
                f[5] = "t".repeat(len);
                f.join("|")
            } else {
                l.to_owned()
            }
        })
        .collect();
    encoding_rs::mem::encode_latin1_lossy(&lines.join("\r")).into_owned()
}

fn limits(toml: &str) -> Config {
    Config::from_toml(&format!("[limits]\n{toml}\n"), "test").unwrap()
}

/// `(name, limit, message, over)`: the message must be rejected `MESSAGE_TOO_LARGE` naming
/// the limit when `over`, and not for its size otherwise (each limit is tested at its boundary).
fn cases() -> Vec<(&'static str, &'static str, Vec<u8>, bool)> {
    let op = operative();
    vec![
        (
            "message at the limit",
            "max_message_bytes = LEN",
            op.clone().into_bytes(),
            false,
        ),
        (
            "message over",
            "max_message_bytes = LEN-1",
            op.clone().into_bytes(),
            true,
        ),
        (
            "30 segments at 30",
            "max_segments = 30",
            with_notes(11, 3).into_bytes(),
            false,
        ),
        (
            "31 segments over 30",
            "max_segments = 30",
            with_notes(12, 3).into_bytes(),
            true,
        ),
        (
            "field at the limit",
            "max_field_bytes = 3000",
            with_notes(1, 3000).into_bytes(),
            false,
        ),
        (
            "field over",
            "max_field_bytes = 3000",
            with_notes(1, 3001).into_bytes(),
            true,
        ),
        (
            "a field of a segment after many",
            "max_field_bytes = 3000",
            with_notes(5, 3001).into_bytes(),
            true,
        ),
        (
            "narrative text under",
            "max_content_bytes = 5000",
            long_narrative(400),
            false,
        ),
        (
            "narrative text over",
            "max_content_bytes = 5000",
            long_narrative(600),
            true,
        ),
        (
            "base64 PDF over",
            "max_content_bytes = 500",
            op.clone().into_bytes(),
            true,
        ),
        (
            "received CDA over",
            "max_content_bytes = 5000",
            cda_support::sample("mdm-t02-radiology-cda.hl7"),
            true,
        ),
    ]
}

#[test]
fn each_limit_gives_message_too_large_just_over_it_and_not_at_it() {
    for (name, limit, message, over) in cases() {
        let limit = limit
            .replace("LEN-1", &(message.len() - 1).to_string())
            .replace("LEN", &message.len().to_string());
        let key = limit.split(' ').next().unwrap();
        let c = convert(&message, None, &limits(&limit));
        let too_large = c.codes().contains(&ReasonCode::MessageTooLarge);
        assert_eq!(too_large, over, "{name} ({limit}): {:?}", c.findings);
        if over {
            assert_eq!(c.outcome, Outcome::Rejected, "{name}");
            let f = c
                .findings
                .iter()
                .find(|f| f.code == ReasonCode::MessageTooLarge)
                .unwrap();
            assert!(
                f.detail.contains(key),
                "{name}: the detail names {key}: {f}"
            );
        }
    }
}

#[test]
fn the_field_over_the_limit_is_named_by_its_path() {
    let c = convert(
        with_notes(3, 10)
            .replace("NTE|2||nnnnnnnnnn", &format!("NTE|2||{}", "x".repeat(3000)))
            .as_bytes(),
        None,
        &limits("max_field_bytes = 2000"),
    );
    assert_eq!(c.codes(), [ReasonCode::MessageTooLarge]);
    assert_eq!(c.findings[0].path, "NTE[2]-3");
    assert_eq!(c.control_id(), Some("SMPL0001"), "the header is still read");
}

#[test]
fn defaults_let_every_sample_through_and_keep_memory_bounded() {
    let l = Config::default().limits;
    // Big enough for real documents (a scanned report of tens of MB)…
    assert!(l.max_message_bytes >= 32 << 20 && l.max_content_bytes >= 16 << 20);
    assert!(l.max_segments >= 10_000 && l.max_field_bytes >= l.max_content_bytes);
    // … consistent (the base64 of the largest content fits a message)…
    assert!(l.max_content_bytes / 3 * 4 <= l.max_message_bytes);
    assert!(l.max_field_bytes <= l.max_message_bytes);
    // … and bounded: one message never takes more than a few hundred MB.
    assert!(l.max_message_bytes <= 256 << 20);
    assert!(l.max_archive_depth >= 1 && l.max_archive_depth <= 4);
    assert!(l.max_archive_entries >= 10_000 && l.max_archive_bytes <= 64 << 30);
    let config = Config::default();
    for entry in std::fs::read_dir(cda_support::root().join("samples")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".hl7") {
            continue;
        }
        for raw in cda_support::sample_messages(&name) {
            let c = convert(&raw, None, &config);
            assert!(!c.codes().contains(&ReasonCode::MessageTooLarge), "{name}");
        }
    }
}

/// Message shapes that would be slow with anything quadratic: at the default limits, each
/// converts in seconds (a debug build), whatever its outcome.
#[test]
fn pathological_shapes_convert_in_bounded_time() {
    let config = Config::default();
    let max_segments = usize::try_from(config.limits.max_segments).unwrap();
    let op = operative();
    let head: String = op.split('\r').take(7).collect::<Vec<_>>().join("\r");
    let many_obx: String = (0..max_segments - 10)
        .map(|i| format!("OBX|{i}|TX|11488-4^^LN||ligne {i}||||||F\r"))
        .collect();
    let shapes: Vec<(&str, String)> = vec![
        ("max_segments OBX TX lines", format!("{head}\r{many_obx}")),
        (
            "max_segments ZZZ segments",
            format!("{op}\r{}", "ZZZ|1\r".repeat(max_segments - 20)),
        ),
        (
            "a PID-3 of 200 000 repetitions",
            set_field(&op, "PID", 3, &"1^^^X&1.2.3&ISO^PI~".repeat(200_000)),
        ),
        (
            "a PID-5 of 500 000 components",
            set_field(&op, "PID", 5, &"^".repeat(500_000)),
        ),
        (
            "a TXA-9 of 300 000 subcomponents",
            set_field(&op, "TXA", 9, &"&".repeat(300_000)),
        ),
        (
            "a street of 1 MB of escapes",
            set_field(&op, "PID", 11, &"\\X01\\\\F\\\\.br\\".repeat(70_000)),
        ),
        (
            "2 MB of segment terminators",
            format!("{op}{}", "\r\n".repeat(1 << 20)),
        ),
        (
            "20 000 OBX flags",
            format!(
                "{op}\r{}",
                "OBX|1|CWE|MASQUE_PS^^MetaDMPMSS||Y||||||F\r".repeat(20_000)
            ),
        ),
    ];
    for (name, message) in shapes {
        let started = Instant::now();
        let c = convert(message.as_bytes(), None, &config);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(20),
            "{name}: {took:?} ({} bytes, {})",
            message.len(),
            c.outcome
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Through the binary: the run goes on.

fn config_file(dir: &Path, toml: &str) -> std::path::PathBuf {
    let p = dir.join("limits.toml");
    std::fs::write(&p, format!("[limits]\n{toml}\n")).unwrap();
    p
}

fn convert_with(config: &Path, inputs: &[&Path], out: &Path) -> std::process::Output {
    bin()
        .arg("convert")
        .args(inputs)
        .arg("--out")
        .arg(out)
        .arg("--config")
        .arg(config)
        .arg("-q")
        .output()
        .unwrap()
}

#[test]
fn oversize_messages_are_rejected_one_by_one_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config_file(
        tmp.path(),
        "max_message_bytes = 20000\nmax_segments = 40\nmax_field_bytes = 8000\nmax_content_bytes = 5000",
    );
    let ok = |id: &str| operative().replacen("|SMPL0001|", &format!("|{id}|"), 1);
    let messages: Vec<(String, bool)> = vec![
        (ok("OK1"), false),
        (
            with_notes(1, 30_000).replacen("|SMPL0001|", "|BIG|", 1),
            true,
        ),
        (ok("OK2"), false),
        (with_notes(30, 3).replacen("|SMPL0001|", "|SEGS|", 1), true),
        (
            with_notes(1, 9_000).replacen("|SMPL0001|", "|FIELD|", 1),
            true,
        ),
        (
            encoding_rs::mem::decode_latin1(&long_narrative(600)).replacen(
                "|SMPL0002|",
                "|TEXT|",
                1,
            ),
            true,
        ),
        (ok("OK3"), false),
    ];
    // One file per message, so that the outcome of each is known by its file name (the
    // narrative sample is Latin-1: written back as such).
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for (i, (m, _)) in messages.iter().enumerate() {
        let bytes = if m.contains("8859/1") {
            encoding_rs::mem::encode_latin1_lossy(m).into_owned()
        } else {
            m.clone().into_bytes()
        };
        std::fs::write(input.join(format!("{i}.hl7")), bytes).unwrap();
    }
    let out = tmp.path().join("out");
    let o = convert_with(&config, &[&input], &out);
    assert_eq!(
        status(&o),
        1,
        "some rejected, none unreadable: {}",
        stderr(&o)
    );
    let lines = report(&out);
    assert_eq!(lines.len(), messages.len(), "one line per message");
    for (i, (_, over)) in messages.iter().enumerate() {
        let line = lines
            .iter()
            .find(|l| {
                l["source"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{i}.hl7#1"))
            })
            .unwrap_or_else(|| panic!("message {i} has no line"));
        let too_large = line["codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "MESSAGE_TOO_LARGE");
        assert_eq!(too_large, *over, "message {i}: {line}");
        if *over {
            assert_eq!(line["outcome"], "rejected");
        } else {
            assert_eq!(line["outcome"], "converted", "{line}");
        }
    }
}

/// A raw deflate stream of `chunks` × 4 MiB of zeros, made without compressing GiBs: each chunk
/// is compressed by a fresh compressor and ends with a sync flush (byte-aligned, not final), so
/// the chunks can be repeated; an empty final block closes the stream.
fn deflated_zeros(chunks: usize) -> Vec<u8> {
    let compress = |input: &[u8], flush| {
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        let mut out = Vec::with_capacity(64 * 1024);
        c.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!(c.total_in(), input.len() as u64);
        out
    };
    let chunk = compress(&vec![0u8; 4 << 20], flate2::FlushCompress::Sync);
    let end = compress(&[], flate2::FlushCompress::Finish);
    let mut stream = Vec::with_capacity(chunk.len() * chunks + end.len());
    for _ in 0..chunks {
        stream.extend_from_slice(&chunk);
    }
    stream.extend_from_slice(&end);
    // One chunk really holds 4 MiB of zeros.
    let mut one = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::DeflateDecoder::new(&[&chunk[..], &end[..]].concat()[..]),
        &mut one,
    )
    .unwrap();
    assert!(one.len() == 4 << 20 && one.iter().all(|&b| b == 0));
    stream
}

/// A zip written by hand: `(name, stored bytes | deflated stream with its size)`. The bomb's
/// CRC is left 0: a reader that stops at its budget never gets to check it.
enum Entry {
    Stored(Vec<u8>),
    Deflated { data: Vec<u8>, size: u32 },
}

fn zip_by_hand(entries: &[(&str, Entry)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, entry) in entries {
        let (method, crc, data, size): (u16, u32, &[u8], u32) = match entry {
            Entry::Stored(b) => {
                let mut crc = flate2::Crc::new();
                crc.update(b);
                (0, crc.sum(), b, b.len() as u32)
            }
            Entry::Deflated { data, size } => (8, 0, data, *size),
        };
        let offset = out.len() as u32;
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes()); // version made by
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend(0u16.to_le_bytes()); // flags
            h.extend(method.to_le_bytes());
            h.extend(0u16.to_le_bytes()); // time
            h.extend(0x21u16.to_le_bytes()); // date: 1980-01-01
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend(size.to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central {
                h.extend(0u16.to_le_bytes()); // comment
                h.extend(0u16.to_le_bytes()); // disk
                h.extend(0u16.to_le_bytes()); // internal attributes
                h.extend(0u32.to_le_bytes()); // external attributes
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend_from_slice(data);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]); // disk numbers
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn message(id: &str) -> Vec<u8> {
    cli_support::unsupported(id)
}

#[test]
fn a_zip_bomb_of_3_gib_stops_at_the_byte_budget() {
    let tmp = tempfile::tempdir().unwrap();
    let chunks = 768; // × 4 MiB = 3 GiB
    let bomb = zip_by_hand(&[
        ("a.hl7", Entry::Stored(message("BEFORE"))),
        (
            "bomb.hl7",
            Entry::Deflated {
                data: deflated_zeros(chunks),
                size: (chunks as u32) << 22,
            },
        ),
        ("c.hl7", Entry::Stored(message("AFTER"))),
    ]);
    assert!(bomb.len() < 8 << 20, "a small zip: {} bytes", bomb.len());
    let zip = tmp.path().join("bomb.zip");
    std::fs::write(&zip, &bomb).unwrap();
    // The zip crate reads it as the 3 GiB entry it claims to be.
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    assert_eq!(archive.by_index(1).unwrap().size(), 3 << 30);

    let config = config_file(tmp.path(), "max_archive_bytes = 33554432");
    let out = tmp.path().join("out");
    let started = Instant::now();
    let o = convert_with(&config, &[&zip], &out);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        status(&o),
        2,
        "the rest of the archive is not read: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("limits.max_archive_bytes"),
        "{}",
        stderr(&o)
    );
    let lines = report(&out);
    assert_eq!(
        lines.len(),
        1,
        "what was read before is processed: {lines:?}"
    );
    assert_eq!(lines[0]["control_id"], "BEFORE");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["unreadable_inputs"], 1);
}

#[test]
fn too_many_entries_stop_that_archive_and_the_other_inputs_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("{i:02}.hl7")).collect();
    let entries: Vec<(&str, Entry)> = names
        .iter()
        .map(|n| (n.as_str(), Entry::Stored(message(n))))
        .collect();
    let zip = tmp.path().join("many.zip");
    std::fs::write(&zip, zip_by_hand(&entries)).unwrap();
    let other = tmp.path().join("other.hl7");
    std::fs::write(&other, message("OTHER")).unwrap();
    let config = config_file(tmp.path(), "max_archive_entries = 5");
    let out = tmp.path().join("out");
    let o = convert_with(&config, &[&zip, &other], &out);
    assert_eq!(status(&o), 2);
    assert!(
        stderr(&o).contains("limits.max_archive_entries"),
        "{}",
        stderr(&o)
    );
    let ids: Vec<String> = report(&out)
        .iter()
        .map(|l| l["control_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        ["00.hl7", "01.hl7", "02.hl7", "03.hl7", "04.hl7", "OTHER"]
    );
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn archives_nested_deeper_than_the_limit_are_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let level3 = zip_of(&[("c.hl7", &message("LEVEL3"))]);
    let level2 = zip_of(&[("b.hl7", &message("LEVEL2")), ("c.zip", &level3)]);
    let level1 = zip_of(&[
        ("a.hl7", &message("LEVEL1")),
        ("b.zip", &level2),
        ("z.hl7", &message("LEVEL1-LAST")),
    ]);
    let zip = tmp.path().join("nested.zip");
    std::fs::write(&zip, level1).unwrap();
    let config = config_file(tmp.path(), "max_archive_depth = 2");
    let out = tmp.path().join("out");
    let o = convert_with(&config, &[&zip], &out);
    assert_eq!(status(&o), 2);
    assert!(
        stderr(&o).contains("limits.max_archive_depth"),
        "{}",
        stderr(&o)
    );
    let ids: Vec<String> = report(&out)
        .iter()
        .map(|l| l["control_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["LEVEL1", "LEVEL2", "LEVEL1-LAST"]);
}

/// An oversize message's original is kept only in part (bounded memory): its `.json` says so.
#[test]
fn a_truncated_original_is_marked_in_its_json() {
    let tmp = tempfile::tempdir().unwrap();
    let config = config_file(tmp.path(), "max_message_bytes = 100000\nmax_segments = 40");
    let big = with_notes(1, 300_000).replacen("|SMPL0001|", "|BIG|", 1);
    let segs = with_notes(30, 3).replacen("|SMPL0001|", "|SEGS|", 1);
    let input = tmp.path().join("in.hl7");
    std::fs::write(&input, [big.as_bytes(), segs.as_bytes()].concat()).unwrap();
    let out = tmp.path().join("out");
    let o = convert_with(&config, &[&input], &out);
    assert_eq!(status(&o), 1, "{}", stderr(&o));
    let lines = report(&out);
    assert_eq!(lines.len(), 2);
    let sidecar = |line: &serde_json::Value| -> (Vec<u8>, serde_json::Value) {
        let files: Vec<&str> = line["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        let hl7 = files.iter().find(|f| f.ends_with(".hl7")).unwrap();
        let json = files.iter().find(|f| f.ends_with(".json")).unwrap();
        (
            std::fs::read(out.join(hl7)).unwrap(),
            serde_json::from_slice(&std::fs::read(out.join(json)).unwrap()).unwrap(),
        )
    };
    let (kept, why) = sidecar(&lines[0]);
    assert_eq!(why["codes"], serde_json::json!(["MESSAGE_TOO_LARGE"]));
    assert_eq!(why["bytes"], big.len());
    assert_eq!(why["original_truncated"], true);
    assert_eq!(why["kept_bytes"], kept.len());
    assert!(kept.len() < big.len());
    assert_eq!(kept, big.as_bytes()[..kept.len()]);
    // Too many segments but under the byte limit: kept whole, nothing to say.
    let (kept, why) = sidecar(&lines[1]);
    assert_eq!(why["codes"], serde_json::json!(["MESSAGE_TOO_LARGE"]));
    assert_eq!(kept, segs.as_bytes());
    assert!(why.get("original_truncated").is_none(), "{why}");
    assert!(why.get("kept_bytes").is_none(), "{why}");
}
