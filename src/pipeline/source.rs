//! Bulk inputs (CONTRACT.md "Commands"): files, directories walked recursively, archives, and
//! `-` (standard input read to its end), each cut into frames by the reader's
//! [`Framer`] in chunks, so that memory stays bounded by the largest message
//! allowed whatever the size of a file.
//!
//! * Directories: walked in file-name order (the same order on every run), hidden entries and
//!   `input.ignore` patterns skipped ([`super::ignore`]), symbolic links not followed unless
//!   `input.follow_symlinks`, the output folder skipped if it lies inside an input, and so is
//!   any other dmpfeed output folder met on the way (warned: given as an input, it is read).
//! * `.zip`, `.tar`, `.tar.gz`/`.tgz` (by name, case-insensitive): see [`super::archive`].
//! * Sources: `path#N`, `archive.zip!entry/path#N` (CONTRACT.md "Output folder").
//!
//! An input that cannot be read is reported on standard error and counted (exit status 2); the
//! other inputs are still read.

use super::archive::{self, ArchiveKind};
use super::ignore::{self, Ignore};
use super::run::Dispatch;
use crate::config::Config;
use crate::hl7::{Frame, Framer};
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Bytes read at a time.
pub const CHUNK: usize = 64 * 1024;

/// Where frames go: the pipeline's [`Dispatch`], or a test's vector.
pub trait Emit {
    /// Takes one frame; `source` is `label#N`. `Break` to read no further.
    fn emit(&mut self, source: String, frame: Frame) -> ControlFlow<()>;
    /// True when the run is stopping (checked between inputs too).
    fn stopping(&self) -> bool;
    /// Passes on the frames taken so far: called before waiting for more input, so that no
    /// complete message waits for the next one (stream mode).
    fn flush(&mut self) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

impl Emit for &Dispatch<'_> {
    fn emit(&mut self, source: String, frame: Frame) -> ControlFlow<()> {
        self.send(source, frame)
    }

    fn flush(&mut self) -> ControlFlow<()> {
        Dispatch::flush(self)
    }

    fn stopping(&self) -> bool {
        Dispatch::stopping(self)
    }
}

/// Collects frames (tests, and anything that wants them all).
impl Emit for Vec<(String, Frame)> {
    fn emit(&mut self, source: String, frame: Frame) -> ControlFlow<()> {
        self.push((source, frame));
        ControlFlow::Continue(())
    }

    fn stopping(&self) -> bool {
        false
    }
}

/// What reading the inputs came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Produced {
    /// Inputs, or parts of archives, that could not be read.
    pub unreadable: u64,
    /// Files of walked folders skipped on purpose: `input.ignore` patterns, symbolic links not
    /// followed (hidden entries are skipped without being counted, as the contract says).
    pub skipped: u64,
    /// Reading stopped before the end (signal, or the run failed downstream).
    pub stopped: bool,
}

/// The configuration's limit on one message, as a buffer size.
pub fn max_message_bytes(config: &Config) -> usize {
    usize::try_from(config.limits.max_message_bytes).unwrap_or(usize::MAX)
}

/// Frames everything `reader` yields, each frame sent as `label#N`.
pub fn frame_reader(
    reader: &mut dyn Read,
    label: &str,
    max_message_bytes: usize,
    out: &mut dyn Emit,
) -> io::Result<ControlFlow<()>> {
    read_on(reader, Framer::new(max_message_bytes), label, out)
}

/// Frames what `reader` yields after what `framer` already holds.
fn read_on(
    reader: &mut dyn Read,
    mut framer: Framer,
    label: &str,
    out: &mut dyn Emit,
) -> io::Result<ControlFlow<()>> {
    let mut buf = READ_BUF.take();
    buf.resize(CHUNK, 0);
    let flow = read_frames(reader, &mut buf, &mut framer, label, out);
    READ_BUF.set(buf);
    flow
}

/// Files up to this size are read in one piece: most hold one message, which then goes on in
/// the buffer it was read into (no copy: [`Framer::push_owned`]). Larger files are read in
/// chunks, so that memory stays bounded whatever their size.
const WHOLE_FILE: u64 = 8 << 20;

/// Frames a plain file: [`frame_reader`], with a small file read in one piece.
fn frame_file(
    mut file: std::fs::File,
    label: &str,
    max_message_bytes: usize,
    out: &mut dyn Emit,
) -> io::Result<ControlFlow<()>> {
    let len = file.metadata()?.len();
    if len > WHOLE_FILE {
        return frame_reader(&mut file, label, max_message_bytes, out);
    }
    let mut framer = Framer::new(max_message_bytes);
    // The size is a hint: a file that grew meanwhile is read on in chunks below.
    let mut head = Vec::with_capacity(len as usize);
    (&mut file).take(WHOLE_FILE).read_to_end(&mut head)?;
    let complete = (head.len() as u64) < WHOLE_FILE;
    framer.push_owned(head);
    if drain(&mut framer, label, out).is_break() {
        return Ok(ControlFlow::Break(()));
    }
    if complete {
        framer.finish();
        return Ok(drain(&mut framer, label, out));
    }
    read_on(&mut file, framer, label, out)
}

thread_local! {
    /// [`frame_reader`]'s buffer, kept from one file to the next by the thread that reads them:
    /// allocating and zeroing 64 KiB for every file of a bulk run cost 5 % of its instructions
    /// (callgrind, 1,000 text messages). Taken out while in use, so a nested call would simply
    /// allocate its own.
    static READ_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

fn read_frames(
    reader: &mut dyn Read,
    buf: &mut [u8],
    framer: &mut Framer,
    label: &str,
    out: &mut dyn Emit,
) -> io::Result<ControlFlow<()>> {
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        framer.push(&buf[..n]);
        if drain(framer, label, out).is_break() {
            return Ok(ControlFlow::Break(()));
        }
    }
    framer.finish();
    Ok(drain(framer, label, out))
}

/// Sends the frames that are complete.
pub fn drain(framer: &mut Framer, label: &str, out: &mut dyn Emit) -> ControlFlow<()> {
    while let Some(frame) = framer.next_frame() {
        out.emit(format!("{label}#{}", frame.index), frame)?;
    }
    ControlFlow::Continue(())
}

/// Reads the inputs of a bulk run.
pub struct Inputs<'a> {
    config: &'a Config,
    ignore: Ignore,
    /// The output folder, canonical, skipped when a walk meets it.
    out_dir: Option<PathBuf>,
    produced: Produced,
}

/// A folder holding dmpfeed's lock file: the output folder of some run.
fn is_output_folder(dir: &Path) -> bool {
    dir.join(super::output::LOCK).is_file()
}

impl<'a> Inputs<'a> {
    pub fn new(config: &'a Config, out_dir: Option<&Path>) -> Inputs<'a> {
        Inputs {
            config,
            ignore: Ignore::new(&config.input.ignore),
            out_dir: out_dir.and_then(|d| std::fs::canonicalize(d).ok()),
            produced: Produced::default(),
        }
    }

    /// Reads every input in order.
    pub fn read_all(mut self, inputs: &[PathBuf], out: &mut dyn Emit) -> Produced {
        for input in inputs {
            if out.stopping() || self.read_input(input, out).is_break() {
                self.produced.stopped = true;
                break;
            }
        }
        self.produced
    }

    fn problem(&mut self, what: impl std::fmt::Display) {
        tracing::error!("{what}");
        self.produced.unreadable += 1;
    }

    fn read_input(&mut self, input: &Path, out: &mut dyn Emit) -> ControlFlow<()> {
        if input.as_os_str() == "-" {
            let stdin = io::stdin();
            let mut lock = stdin.lock();
            return match frame_reader(&mut lock, "-", max_message_bytes(self.config), out) {
                Ok(flow) => flow,
                Err(e) => {
                    self.problem(format_args!("standard input: {e}"));
                    ControlFlow::Continue(())
                }
            };
        }
        match std::fs::metadata(input) {
            Ok(m) if m.is_dir() => self.walk(input, out),
            Ok(_) => self.read_file(input, out),
            Err(e) => {
                self.problem(format_args!("{}: {e}", input.display()));
                ControlFlow::Continue(())
            }
        }
    }

    fn walk(&mut self, root: &Path, out: &mut dyn Emit) -> ControlFlow<()> {
        let mut walker = walkdir::WalkDir::new(root)
            .follow_links(self.config.input.follow_symlinks)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0 || !ignore::is_hidden(&e.file_name().to_string_lossy())
            });
        while let Some(entry) = walker.next() {
            if out.stopping() {
                return ControlFlow::Break(());
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.problem(format_args!("{}: {e}", root.display()));
                    continue;
                }
            };
            let kind = entry.file_type();
            if kind.is_dir() {
                if entry.depth() > 0 && self.is_out_dir(entry.path()) {
                    tracing::debug!("{}: the output folder, skipped", entry.path().display());
                    walker.skip_current_dir();
                } else if entry.depth() > 0 && is_output_folder(entry.path()) {
                    // Another run's output: its registry and report are not messages, and its
                    // held/rejected originals were already read once. Given as an input itself
                    // (`check out/held/`), a folder is read as any other.
                    self.produced.skipped += 1;
                    tracing::warn!(
                        "{}: a dmpfeed output folder, skipped (give it as an input to read it)",
                        entry.path().display()
                    );
                    walker.skip_current_dir();
                }
                continue;
            }
            if kind.is_symlink() {
                self.produced.skipped += 1;
                tracing::debug!(
                    "{}: symbolic link not followed (input.follow_symlinks)",
                    entry.path().display()
                );
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let relative = entry
                .path()
                .strip_prefix(root)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .replace('\\', "/");
            if self.ignore.skips(&relative) {
                self.produced.skipped += 1;
                tracing::debug!("{}: ignored (input.ignore)", entry.path().display());
                continue;
            }
            self.read_file(entry.path(), out)?;
        }
        ControlFlow::Continue(())
    }

    fn is_out_dir(&self, dir: &Path) -> bool {
        self.out_dir
            .as_deref()
            .is_some_and(|out| std::fs::canonicalize(dir).is_ok_and(|d| d == out))
    }

    /// A plain file or an archive.
    fn read_file(&mut self, path: &Path, out: &mut dyn Emit) -> ControlFlow<()> {
        let label = path.display().to_string();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                self.problem(format_args!("{label}: {e}"));
                return ControlFlow::Continue(());
            }
        };
        if let Some(kind) = ArchiveKind::from_name(&label) {
            let limits = archive::Limits::from_config(self.config);
            let mut reader = archive::ArchiveReader::new(limits, &self.ignore);
            let flow = reader.read(kind, file, &label, out);
            for problem in reader.into_problems() {
                self.problem(problem);
            }
            return flow;
        }
        match frame_file(file, &label, max_message_bytes(self.config), out) {
            Ok(flow) => flow,
            Err(e) => {
                self.problem(format_args!("{label}: {e}"));
                ControlFlow::Continue(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::FrameDefect;

    const M1: &[u8] = b"MSH|^~\\&|A|B|||20240101||MDM^T02|1|P|2.6\rPID|||1\r";
    const M2: &[u8] = b"MSH|^~\\&|A|B|||20240101||MDM^T02|2|P|2.6\rPID|||2\r";

    fn read(inputs: &[PathBuf], config: &Config) -> (Vec<(String, Frame)>, Produced) {
        let mut frames = Vec::new();
        let produced = Inputs::new(config, None).read_all(inputs, &mut frames);
        (frames, produced)
    }

    fn sources(frames: &[(String, Frame)]) -> Vec<String> {
        frames.iter().map(|(s, _)| s.clone()).collect()
    }

    #[test]
    fn a_file_of_concatenated_messages_gives_numbered_sources() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.hl7");
        std::fs::write(&p, [M1, M2].concat()).unwrap();
        let (frames, produced) = read(std::slice::from_ref(&p), &Config::default());
        let label = p.display().to_string();
        assert_eq!(
            sources(&frames),
            [format!("{label}#1"), format!("{label}#2")]
        );
        assert_eq!(frames[1].1.bytes, M2);
        assert_eq!(produced, Produced::default());
    }

    #[test]
    fn a_walk_is_sorted_and_skips_hidden_and_ignored_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("b.hl7"), M2).unwrap();
        std::fs::write(root.join("a.hl7"), M1).unwrap();
        std::fs::write(root.join("sub/c.hl7"), M1).unwrap();
        std::fs::write(root.join(".hidden.hl7"), M1).unwrap();
        std::fs::write(root.join(".git/x.hl7"), M1).unwrap();
        std::fs::write(root.join("README.md"), b"# notes").unwrap();
        let (frames, produced) = read(&[root.to_path_buf()], &Config::default());
        let rel: Vec<String> = sources(&frames)
            .iter()
            .map(|s| {
                s.strip_prefix(&root.display().to_string())
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(rel, ["/a.hl7#1", "/b.hl7#1", "/sub/c.hl7#1"]);
        assert_eq!(produced.unreadable, 0);
        assert_eq!(produced.skipped, 1, "README.md, counted for the summary");
    }

    #[test]
    fn a_named_file_is_read_even_if_hidden_or_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".notes.md");
        std::fs::write(&p, M1).unwrap();
        let (frames, _) = read(&[p], &Config::default());
        assert_eq!(frames.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_not_followed_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.hl7"), M1).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret.hl7"),
            dir.path().join("file-link.hl7"),
        )
        .unwrap();
        let (frames, _) = read(&[dir.path().to_path_buf()], &Config::default());
        assert!(frames.is_empty(), "{:?}", sources(&frames));
    }

    #[test]
    fn the_output_folder_inside_an_input_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("out/rejected")).unwrap();
        std::fs::write(dir.path().join("out/rejected/x.hl7"), M1).unwrap();
        std::fs::write(dir.path().join("a.hl7"), M1).unwrap();
        let config = Config::default();
        let mut frames = Vec::new();
        Inputs::new(&config, Some(&dir.path().join("out")))
            .read_all(&[dir.path().to_path_buf()], &mut frames);
        assert_eq!(frames.len(), 1);
    }

    #[test]
    fn another_output_folder_met_in_a_walk_is_skipped_but_read_when_given() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old-run");
        std::fs::create_dir_all(old.join("held")).unwrap();
        std::fs::write(old.join(crate::pipeline::output::LOCK), b"").unwrap();
        std::fs::write(old.join("report.jsonl"), b"{}\n").unwrap();
        std::fs::write(old.join("held/x.hl7"), M1).unwrap();
        std::fs::write(dir.path().join("a.hl7"), M1).unwrap();
        let (frames, produced) = read(&[dir.path().to_path_buf()], &Config::default());
        assert_eq!(sources(&frames).len(), 1, "{:?}", sources(&frames));
        assert_eq!(produced.skipped, 1);
        let (frames, _) = read(&[old.join("held")], &Config::default());
        assert_eq!(frames.len(), 1, "a folder given is read");
    }

    #[test]
    fn a_missing_input_is_counted_and_the_others_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.hl7");
        std::fs::write(&p, M1).unwrap();
        let (frames, produced) = read(&[dir.path().join("nope.hl7"), p], &Config::default());
        assert_eq!(frames.len(), 1);
        assert_eq!(produced.unreadable, 1);
    }

    #[test]
    fn an_oversize_message_is_one_frame_whatever_the_file_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.hl7");
        let big = [M1, &vec![b'A'; 300_000], b"\r", M2].concat();
        std::fs::write(&p, &big).unwrap();
        let config = Config::from_toml("[limits]\nmax_message_bytes = 100000\n", "t").unwrap();
        let (frames, _) = read(&[p], &config);
        assert_eq!(frames.len(), 2);
        assert!(matches!(
            frames[0].1.defect,
            Some(FrameDefect::TooLarge { .. })
        ));
        assert_eq!(frames[1].1.bytes, M2);
    }

    #[test]
    fn a_file_gives_the_same_frames_read_whole_or_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let max = max_message_bytes(&Config::default());
        // Around the size read in one piece: under it, exactly it (read whole, then on in
        // chunks), over it (in chunks only); a message cut by the end of the file included.
        for size in [100_000, WHOLE_FILE as usize, WHOLE_FILE as usize + 1_000] {
            let bytes: Vec<u8> = [M1, M2].concat().into_iter().cycle().take(size).collect();
            let p = dir.path().join(format!("{size}.hl7"));
            std::fs::write(&p, &bytes).unwrap();
            let label = p.display().to_string();
            let mut whole = Vec::new();
            let file = std::fs::File::open(&p).unwrap();
            assert!(
                frame_file(file, &label, max, &mut whole)
                    .unwrap()
                    .is_continue()
            );
            let mut chunked = Vec::new();
            let flow = frame_reader(&mut &bytes[..], &label, max, &mut chunked).unwrap();
            assert!(flow.is_continue());
            assert_eq!(whole.len(), chunked.len(), "{size}");
            assert!(whole.len() > 1000, "{size}");
            for ((s1, f1), (s2, f2)) in whole.iter().zip(&chunked) {
                assert_eq!((s1, &f1.bytes, f1.offset), (s2, &f2.bytes, f2.offset));
            }
        }
    }
}
