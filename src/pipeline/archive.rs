//! Archives (CONTRACT.md "Commands"): `.zip`, `.tar`, `.tar.gz`/`.tgz`, read entry by entry and
//! streamed into the framer, never extracted to disk. Sources are `archive.zip!entry/path#N`.
//!
//! Entry names come from the archive and may be hostile (`../x`, `/etc/passwd`): they are only
//! ever shown in `source`, never used to build a path. Hidden entries and `input.ignore`
//! patterns are skipped as in a directory walk, so that a folder and the same files archived
//! give the same outcomes; directory, link and device entries carry no message and are skipped.
//!
//! Limits (`[limits]`, issue 8 "zip bombs"), per archive named on the command line or met in a
//! walk: `max_archive_entries` entries, `max_archive_bytes` decompressed bytes of entries read,
//! and archives inside archives up to `max_archive_depth` levels (the outer archive is level 1).
//! Going over one abandons the rest of that archive with an error (exit status 2); what was read
//! before is processed. A `.tar` inside an archive is streamed; a `.zip` inside an archive needs
//! random access, so it is read into memory, up to `max_message_bytes`.

use super::ignore::{self, Ignore};
use super::source::{Emit, frame_reader, max_message_bytes};
use crate::config::Config;
use std::cell::{Cell, RefCell};
use std::io::{self, Read, Seek};
use std::ops::ControlFlow;

/// An archive format, known by its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Zip,
    Tar,
    TarGz,
}

impl ArchiveKind {
    pub fn from_name(name: &str) -> Option<ArchiveKind> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".zip") {
            Some(ArchiveKind::Zip)
        } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(ArchiveKind::TarGz)
        } else if lower.ends_with(".tar") {
            Some(ArchiveKind::Tar)
        } else {
            None
        }
    }
}

/// The archive limits of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub entries: u64,
    pub bytes: u64,
    pub depth: u32,
    pub max_message_bytes: usize,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        let l = &config.limits;
        Limits {
            entries: l.max_archive_entries,
            bytes: l.max_archive_bytes,
            depth: l.max_archive_depth.max(1),
            max_message_bytes: max_message_bytes(config),
        }
    }
}

/// The rest of this archive is not read (a limit, or a corrupt archive); already reported.
#[derive(Debug)]
struct Abandon;

type Flow = Result<ControlFlow<()>, Abandon>;

/// Reads one archive named on the command line or met in a walk, with its budget.
pub struct ArchiveReader<'a> {
    limits: Limits,
    ignore: &'a Ignore,
    entries_left: Cell<u64>,
    bytes_left: Cell<u64>,
    problems: RefCell<Vec<String>>,
}

impl<'a> ArchiveReader<'a> {
    pub fn new(limits: Limits, ignore: &'a Ignore) -> ArchiveReader<'a> {
        ArchiveReader {
            limits,
            ignore,
            entries_left: Cell::new(limits.entries),
            bytes_left: Cell::new(limits.bytes),
            problems: RefCell::new(Vec::new()),
        }
    }

    /// What could not be read, one line each.
    pub fn into_problems(self) -> Vec<String> {
        self.problems.into_inner()
    }

    fn problem(&self, what: String) {
        self.problems.borrow_mut().push(what);
    }

    /// Reads the archive `file` (named `label`; a file, or bytes in memory for the `archive`
    /// fuzz target) entry by entry into `out`.
    pub fn read<R: Read + Seek>(
        &mut self,
        kind: ArchiveKind,
        file: R,
        label: &str,
        out: &mut dyn Emit,
    ) -> ControlFlow<()> {
        let mut buffered = io::BufReader::with_capacity(super::source::CHUNK, file);
        let flow = match kind {
            ArchiveKind::Zip => self.read_zip(buffered, label, 1, out),
            ArchiveKind::Tar | ArchiveKind::TarGz => {
                self.read_tar(kind, &mut buffered, label, 1, out)
            }
        };
        flow.unwrap_or(ControlFlow::Continue(()))
    }

    fn take_entry(&self, label: &str) -> Result<(), Abandon> {
        match self.entries_left.get().checked_sub(1) {
            Some(left) => {
                self.entries_left.set(left);
                Ok(())
            }
            None => {
                self.problem(format!(
                    "{label}: more than {} entries (limits.max_archive_entries); the rest is not read",
                    self.limits.entries
                ));
                Err(Abandon)
            }
        }
    }

    fn read_zip<R: Read + Seek>(
        &self,
        reader: R,
        label: &str,
        depth: u32,
        out: &mut dyn Emit,
    ) -> Flow {
        let mut zip = match zip::ZipArchive::new(reader) {
            Ok(z) => z,
            Err(e) => {
                self.problem(format!("{label}: not a readable zip archive: {e}"));
                return Err(Abandon);
            }
        };
        for i in 0..zip.len() {
            if out.stopping() {
                return Ok(ControlFlow::Break(()));
            }
            self.take_entry(label)?;
            let mut entry = match zip.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    // Unsupported compression, encryption: this entry only.
                    self.problem(format!("{label}: entry {}: {e}", i + 1));
                    continue;
                }
            };
            if !entry.is_file() {
                continue;
            }
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            if self
                .read_entry(&mut entry, label, &name, depth, out)?
                .is_break()
            {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn read_tar(
        &self,
        kind: ArchiveKind,
        reader: &mut dyn Read,
        label: &str,
        depth: u32,
        out: &mut dyn Emit,
    ) -> Flow {
        let mut gz;
        let reader: &mut dyn Read = if kind == ArchiveKind::TarGz {
            gz = flate2::read::MultiGzDecoder::new(reader);
            &mut gz
        } else {
            reader
        };
        let mut tar = tar::Archive::new(reader);
        let entries = match tar.entries() {
            Ok(e) => e,
            Err(e) => {
                self.problem(format!("{label}: not a readable tar archive: {e}"));
                return Err(Abandon);
            }
        };
        for entry in entries {
            if out.stopping() {
                return Ok(ControlFlow::Break(()));
            }
            self.take_entry(label)?;
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    // A tar stream cannot be resynchronised after a bad header.
                    self.problem(format!("{label}: {e}; the rest is not read"));
                    return Err(Abandon);
                }
            };
            let t = entry.header().entry_type();
            if !(t.is_file() || t.is_contiguous() || t.is_gnu_sparse()) {
                continue;
            }
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if self
                .read_entry(&mut entry, label, &name, depth, out)?
                .is_break()
            {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// One file entry: skipped, an archive inside, or messages.
    fn read_entry(
        &self,
        entry: &mut dyn Read,
        archive: &str,
        name: &str,
        depth: u32,
        out: &mut dyn Emit,
    ) -> Flow {
        // `tar -czf a.tgz .` names its entries `./b/m.hl7`: labelled `a.tgz!b/m.hl7`, as a zip's.
        let name = name.trim_start_matches("./");
        let label = format!("{archive}!{name}");
        if ignore::has_hidden_component(name) || self.ignore.skips(&name.replace('\\', "/")) {
            tracing::debug!("{label}: skipped (hidden or input.ignore)");
            return Ok(ControlFlow::Continue(()));
        }
        let mut counted = Counted {
            inner: entry,
            left: &self.bytes_left,
        };
        if let Some(kind) = ArchiveKind::from_name(name) {
            if depth >= self.limits.depth {
                self.problem(format!(
                    "{label}: an archive nested deeper than {} level(s) (limits.max_archive_depth); not read",
                    self.limits.depth
                ));
                return Ok(ControlFlow::Continue(()));
            }
            return match kind {
                ArchiveKind::Zip => {
                    let max = self.limits.max_message_bytes;
                    let mut bytes = Vec::new();
                    let read = (&mut counted).take(max as u64 + 1).read_to_end(&mut bytes);
                    match read {
                        Err(e) => self.entry_error(&label, e),
                        Ok(n) if n > max => {
                            self.problem(format!(
                                "{label}: a zip inside an archive over {max} bytes (limits.max_message_bytes); not read"
                            ));
                            Ok(ControlFlow::Continue(()))
                        }
                        Ok(_) => self.read_zip(io::Cursor::new(bytes), &label, depth + 1, out),
                    }
                }
                ArchiveKind::Tar | ArchiveKind::TarGz => {
                    self.read_tar(kind, &mut counted, &label, depth + 1, out)
                }
            };
        }
        match frame_reader(&mut counted, &label, self.limits.max_message_bytes, out) {
            Ok(flow) => Ok(flow),
            Err(e) => self.entry_error(&label, e),
        }
    }

    fn entry_error(&self, label: &str, e: io::Error) -> Flow {
        if e.get_ref().is_some_and(|inner| inner.is::<OverBudget>()) {
            self.problem(format!(
                "{label}: over {} decompressed bytes (limits.max_archive_bytes); the rest of the archive is not read",
                self.limits.bytes
            ));
            return Err(Abandon);
        }
        self.problem(format!("{label}: {e}"));
        Ok(ControlFlow::Continue(()))
    }
}

/// The decompressed-bytes budget ran out.
#[derive(Debug, thiserror::Error)]
#[error("over the archive's decompressed size limit")]
struct OverBudget;

/// Counts the bytes read against the archive's budget.
struct Counted<'a, R: ?Sized> {
    inner: &'a mut R,
    left: &'a Cell<u64>,
}

impl<R: Read + ?Sized> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        match self.left.get().checked_sub(n as u64) {
            Some(left) => {
                self.left.set(left);
                Ok(n)
            }
            None => {
                self.left.set(0);
                Err(io::Error::other(OverBudget))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Frame;
    use std::io::Write;

    const M1: &[u8] = b"MSH|^~\\&|A|B|||20240101||MDM^T02|1|P|2.6\rPID|||1\r";
    const M2: &[u8] = b"MSH|^~\\&|A|B|||20240101||MDM^T02|2|P|2.6\rPID|||2\r";

    fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn tar_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, bytes) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            // Written raw, so that hostile names (`../x`, `/abs`) reach the archive as is.
            let field = &mut h.as_old_mut().name;
            field[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *bytes).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn read(name: &str, bytes: &[u8], config: &Config) -> (Vec<String>, Vec<Frame>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let ignore = Ignore::new(&config.input.ignore);
        let mut reader = ArchiveReader::new(Limits::from_config(config), &ignore);
        let mut out: Vec<(String, Frame)> = Vec::new();
        let kind = ArchiveKind::from_name(name).unwrap();
        let _ = reader.read(kind, std::fs::File::open(&path).unwrap(), name, &mut out);
        let (sources, frames) = out.into_iter().unzip();
        (sources, frames, reader.into_problems())
    }

    #[test]
    fn kinds_by_name() {
        assert_eq!(ArchiveKind::from_name("a.ZIP"), Some(ArchiveKind::Zip));
        assert_eq!(ArchiveKind::from_name("a.tar.gz"), Some(ArchiveKind::TarGz));
        assert_eq!(ArchiveKind::from_name("a.tgz"), Some(ArchiveKind::TarGz));
        assert_eq!(ArchiveKind::from_name("a.tar"), Some(ArchiveKind::Tar));
        assert_eq!(ArchiveKind::from_name("a.hl7"), None);
    }

    #[test]
    fn zip_tar_and_tar_gz_give_the_same_frames() {
        let entries: &[(&str, &[u8])] = &[
            ("a.hl7", M1),
            ("dir/b.hl7", &[M1, M2].concat()),
            ("README.md", b"# ignored"),
            (".hidden.hl7", M1),
        ];
        let config = Config::default();
        let expected = ["x!a.hl7#1", "x!dir/b.hl7#1", "x!dir/b.hl7#2"];
        for (name, bytes) in [
            ("x.zip", zip_bytes(entries)),
            ("x.tar", tar_bytes(entries)),
            ("x.tar.gz", gz(&tar_bytes(entries))),
        ] {
            let (sources, frames, problems) = read(name, &bytes, &config);
            let sources: Vec<String> = sources.iter().map(|s| s.replacen(name, "x", 1)).collect();
            assert_eq!(sources, expected, "{name}");
            assert_eq!(frames[2].bytes, M2);
            assert!(problems.is_empty(), "{problems:?}");
        }
    }

    #[test]
    fn a_leading_dot_slash_is_not_part_of_the_label() {
        let entries: &[(&str, &[u8])] = &[("./b/m1.hl7", M1), ("././c.hl7", M2), ("../d.hl7", M1)];
        let (sources, _, problems) = read("t.tgz", &gz(&tar_bytes(entries)), &Config::default());
        assert_eq!(
            sources,
            ["t.tgz!b/m1.hl7#1", "t.tgz!c.hl7#1", "t.tgz!../d.hl7#1"]
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn hostile_entry_names_are_only_labels() {
        let entries: &[(&str, &[u8])] = &[("../../x.hl7", M1), ("/etc/y.hl7", M2)];
        for (name, bytes) in [("h.zip", zip_bytes(entries)), ("h.tar", tar_bytes(entries))] {
            let (sources, _, problems) = read(name, &bytes, &Config::default());
            assert_eq!(
                sources,
                [
                    format!("{name}!../../x.hl7#1"),
                    format!("{name}!/etc/y.hl7#1")
                ]
            );
            assert!(problems.is_empty());
        }
    }

    #[test]
    fn archives_inside_archives_up_to_the_depth_limit() {
        let inner_tar = gz(&tar_bytes(&[("m.hl7", M1)]));
        let inner_zip = zip_bytes(&[("n.hl7", M2)]);
        let outer = zip_bytes(&[("in.tgz", &inner_tar), ("in.zip", &inner_zip)]);
        let (sources, _, problems) = read("o.zip", &outer, &Config::default());
        assert_eq!(sources, ["o.zip!in.tgz!m.hl7#1", "o.zip!in.zip!n.hl7#1"]);
        assert!(problems.is_empty());
        let deeper = zip_bytes(&[("o.zip", &outer)]);
        let (sources, _, problems) = read("d.zip", &deeper, &Config::default());
        assert!(sources.is_empty());
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("max_archive_depth"));
    }

    #[test]
    fn a_zip_bomb_stops_at_the_byte_budget() {
        let big = vec![b'\r'; 2_000_000];
        let bomb = zip_bytes(&[("a.hl7", M1), ("bomb.hl7", &big), ("c.hl7", M2)]);
        assert!(bomb.len() < 20_000, "deflate makes it small");
        let config = Config::from_toml("[limits]\nmax_archive_bytes = 100000\n", "t").unwrap();
        let (sources, _, problems) = read("b.zip", &bomb, &config);
        assert_eq!(sources, ["b.zip!a.hl7#1"]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("max_archive_bytes"), "{problems:?}");
    }

    #[test]
    fn too_many_entries_abandons_the_archive() {
        let entries: Vec<(String, &[u8])> = (0..10).map(|i| (format!("{i}.hl7"), M1)).collect();
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        let config = Config::from_toml("[limits]\nmax_archive_entries = 4\n", "t").unwrap();
        let (sources, _, problems) = read("e.tar", &tar_bytes(&refs), &config);
        assert_eq!(sources.len(), 4);
        assert!(problems[0].contains("max_archive_entries"));
    }

    #[test]
    fn a_corrupt_archive_is_a_problem_not_a_panic() {
        let (sources, _, problems) = read("c.zip", b"PK\x03\x04 garbage", &Config::default());
        assert!(sources.is_empty());
        assert_eq!(problems.len(), 1);
        let (_, _, problems) = read("c.tar.gz", b"\x1f\x8b garbage", &Config::default());
        assert_eq!(problems.len(), 1);
    }
}
