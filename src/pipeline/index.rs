//! The NAME index: what `report.jsonl` says of each message — its NAME, the files and the place
//! of its latest line — kept in the registry (schema v5, [`crate::registry::IndexedMessage`])
//! rather than in memory, so that a run's memory does not grow with the folder's history (a
//! folder fed for years holds millions of lines) and opening a folder reads only the lines
//! appended since it was last indexed.
//!
//! The report stays the record; the index follows it:
//! * a group's lines are indexed in the registry transaction that records the group, with the
//!   report's length once they are appended (`report_state`); the lines are appended after that
//!   transaction commits (`output.rs`, step 4);
//! * opening the folder compares the report with what the index read of it: the same length and
//!   the same last line — nothing to read; longer — the lines after it are indexed; anything
//!   else (a crash between the registry's commit and the report's lines, a torn last line cut
//!   off, a report replaced or edited) — the index is rebuilt from the report's first line;
//! * a line's fingerprint ([`fingerprint`]: is a resent message's result the same?) is computed
//!   only when its message comes again, from the line itself, read at the place the index keeps.

use super::Error;
use super::report::fingerprint;
use crate::message_hash::{Algorithm, MessageHash};
use crate::registry::{IndexedMessage, Registry, RegistryRead, ReportState, Tx};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Lines indexed per registry transaction when the report is read (a folder upgraded from
/// schema v4 indexes its whole report once): a crash midway keeps what was indexed.
const LINES_PER_TRANSACTION: usize = 4096;

/// What opening the folder found.
#[derive(Debug)]
pub struct Opened {
    /// The report's length (complete lines only).
    pub report_len: u64,
    /// This run's number: lines it writes are indexed with it ([`IndexedMessage::run`]).
    pub run: u64,
    /// Files that an earlier line of a message named and its latest line does not (a crash
    /// came between the line and their removal): to remove now.
    pub superseded: Vec<(MessageHash, String)>,
    /// Lines read from the report into the index (0 when it was up to date).
    pub lines_indexed: u64,
}

/// The hash the report's lines name messages by (its first line that names one), for a
/// registry created beside an existing report. `None` for a report with none.
pub fn reported_algorithm(report: &mut File, path: &Path) -> Result<Option<Algorithm>, Error> {
    let io = |e| Error::io(path.display(), e);
    report.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = BufReader::new(&*report);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io)? == 0 || line.last() != Some(&b'\n') {
            return Ok(None);
        }
        if let Some(hash) = serde_json::from_slice::<serde_json::Value>(&line)
            .ok()
            .as_ref()
            .and_then(MessageHash::from_line)
        {
            return Ok(Some(hash.algorithm()));
        }
    }
}

/// Brings the index up to the report (cutting off a torn last line, which a crash mid-write
/// leaves: never fsynced, never ACKed, its message comes again) and begins a run.
pub fn open(report: &mut File, path: &Path, registry: &mut Registry) -> Result<Opened, Error> {
    let io = |e| Error::io(path.display(), e);
    let len = report.metadata().map_err(io)?.len();
    let state = registry.report_state()?.unwrap_or_default();
    let from = if state.indexed_bytes == len && ends_with(report, &state).map_err(io)? {
        len
    } else if state.indexed_bytes < len && ends_with(report, &state).map_err(io)? {
        state.indexed_bytes
    } else {
        if state.indexed_bytes > 0 {
            tracing::info!(
                "{}: differs from what the registry indexed of it (an interrupted run, or an \
                 edited report): indexing it again",
                path.display()
            );
        }
        // Forgotten with the index, so that a report now empty is not taken for the old one.
        registry.transaction(|tx| {
            tx.clear_report_index()?;
            tx.set_report_state(&ReportState {
                runs: state.runs,
                ..ReportState::default()
            })
        })?;
        0
    };
    let mut superseded = Vec::new();
    let (report_len, lines_indexed) =
        index_lines(report, path, registry, from, state.runs, &mut superseded)?;
    for (hash, file) in registry.superseded_files()? {
        if let Some(hash) = MessageHash::from_bytes(&hash) {
            superseded.push((hash, file));
        }
    }
    let run = state.runs + 1;
    registry.transaction(|tx| {
        let mut now = tx.report_state()?.unwrap_or_default();
        now.runs = run;
        tx.set_report_state(&now)
    })?;
    Ok(Opened {
        report_len,
        run,
        superseded,
        lines_indexed,
    })
}

/// True when the report's bytes before `state.indexed_bytes` end with the line the index read
/// last (or the index read nothing).
fn ends_with(report: &File, state: &ReportState) -> std::io::Result<bool> {
    let Some(digest) = state.last_line_blake3 else {
        return Ok(state.indexed_bytes == 0);
    };
    let Some(at) = state.indexed_bytes.checked_sub(state.last_line_len) else {
        return Ok(false);
    };
    let Ok(n) = usize::try_from(state.last_line_len) else {
        return Ok(false);
    };
    let mut line = vec![0; n];
    match report.read_exact_at(&mut line, at) {
        Ok(()) => Ok(*blake3::hash(&line).as_bytes() == digest),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Indexes the lines from byte `from`, a few thousand per transaction; cuts off a torn last
/// line. Returns the report's length and the lines indexed.
fn index_lines(
    report: &mut File,
    path: &Path,
    registry: &mut Registry,
    from: u64,
    runs: u64,
    superseded: &mut Vec<(MessageHash, String)>,
) -> Result<(u64, u64), Error> {
    let io = |e| Error::io(path.display(), e);
    let algorithm = registry.message_hash_algorithm();
    report.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut reader = BufReader::new(&*report);
    let mut at = from;
    let mut indexed = 0u64;
    // The first algorithm among the lines read, for a report that mixes two.
    let mut first: Option<Algorithm> = None;
    let mut lines = Vec::new();
    // A last line without its newline: cut by a crash, never fsynced, never ACKed.
    let mut torn = 0usize;
    while torn == 0 {
        lines.clear();
        let mut chunk_at = at;
        while lines.len() < LINES_PER_TRANSACTION {
            let mut line = Vec::new();
            let n = reader.read_until(b'\n', &mut line).map_err(io)?;
            if line.last() != Some(&b'\n') {
                torn = n;
                break;
            }
            lines.push((chunk_at, line));
            chunk_at += n as u64;
        }
        if lines.is_empty() {
            break;
        }
        registry.transaction(|tx| -> Result<(), Error> {
            for (at, bytes) in &lines {
                let line = Line {
                    path,
                    at: *at,
                    bytes,
                };
                if let Some((hash, old)) = index_line(tx, line, algorithm, &mut first)? {
                    superseded.extend(old.into_iter().map(|f| (hash, f)));
                }
            }
            let (last_at, last) = lines.last().expect("not empty");
            tx.set_report_state(&ReportState {
                indexed_bytes: last_at + last.len() as u64,
                last_line_len: last.len() as u64,
                last_line_blake3: Some(*blake3::hash(last).as_bytes()),
                runs,
            })?;
            Ok(())
        })?;
        indexed += lines.len() as u64;
        at = chunk_at;
    }
    drop(reader);
    if torn > 0 {
        tracing::warn!(
            "{}: removing an incomplete last line ({torn} bytes) left by an interrupted run",
            path.display()
        );
        report.set_len(at).map_err(io)?;
        report.sync_data().map_err(io)?;
    }
    Ok((at, indexed))
}

/// A line of the report, with where it is.
struct Line<'a> {
    /// The report's path.
    path: &'a Path,
    at: u64,
    bytes: &'a [u8],
}

/// Indexes one line; returns its message and the files of the message's earlier line that this
/// one no longer names.
fn index_line(
    tx: &mut Tx<'_>,
    line: Line<'_>,
    algorithm: Algorithm,
    first: &mut Option<Algorithm>,
) -> Result<Option<(MessageHash, Vec<String>)>, Error> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(line.bytes) else {
        tracing::warn!(
            "{}: the line at byte {} is not JSON; ignored",
            line.path.display(),
            line.at
        );
        return Ok(None);
    };
    let Some(hash) = MessageHash::from_line(&value) else {
        return Ok(None);
    };
    match *first {
        Some(before) if before != hash.algorithm() => {
            return Err(Error::Output(format!(
                "{}: line {} names its message by {}, the lines before by {}: one folder keeps \
                 one message hash (docs/pipeline.md)",
                line.path.display(),
                line_number(line.path, line.at),
                hash.algorithm().name(),
                before.name()
            )));
        }
        Some(_) => {}
        None => *first = Some(hash.algorithm()),
    }
    if hash.algorithm() != algorithm {
        return Err(Error::Output(format!(
            "{}: names messages by {}, {} by {}: one folder keeps one message hash \
             (docs/pipeline.md)",
            line.path.display(),
            hash.algorithm().name(),
            line.path
                .with_file_name(crate::registry::FILE_NAME)
                .display(),
            algorithm.name()
        )));
    }
    let files: Vec<String> = value
        .get("files")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let before = tx.indexed_message(hash.as_bytes())?;
    // A message keeps its first NAME, and a NAME its first message (a hand-edited report may
    // give one to two): the index refuses to give one twice.
    let name = match (value.get("name").and_then(|v| v.as_str()), &before) {
        (_, Some(b)) if b.name.is_some() => None,
        (Some(n), _) if !n.is_empty() && tx.name_owner(n)?.is_none() => Some(n.to_owned()),
        _ => None,
    };
    let old = before
        .map(|b| {
            b.files
                .into_iter()
                .filter(|f| !files.contains(f))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    tx.index_message(
        hash.as_bytes(),
        &IndexedMessage {
            name,
            files,
            line_at: line.at,
            line_len: line.bytes.len() as u64,
            run: 0,
        },
    )?;
    Ok(Some((hash, old)))
}

/// The 1-based number of the line at byte `at` (for an error message: reads the report again).
fn line_number(path: &Path, at: u64) -> u64 {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let mut newlines = 0u64;
    let mut reader = BufReader::new(file.take(at));
    loop {
        let Ok(buf) = reader.fill_buf() else {
            return 0;
        };
        if buf.is_empty() {
            return newlines + 1;
        }
        newlines += memchr::memchr_iter(b'\n', buf).count() as u64;
        let n = buf.len();
        reader.consume(n);
    }
}

/// The [`fingerprint`] of a message's latest line, if a run before this one wrote it (a line of
/// this run never counts: the same message sent twice in one run gets two lines), read from the
/// report at the place the index keeps. `None` when the line cannot be read as that message's.
pub fn line_before_run(
    report: &File,
    hash: &MessageHash,
    m: &IndexedMessage,
    run: u64,
) -> Option<u64> {
    if m.run >= run {
        return None;
    }
    let mut line = vec![0; usize::try_from(m.line_len).ok()?];
    report.read_exact_at(&mut line, m.line_at).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&line).ok()?;
    (MessageHash::from_line(&value).as_ref() == Some(hash)).then(|| fingerprint(&value))
}

/// The registry's NAME index as the [`super::name::Owners`] of names.
pub struct Owners<'a, 't>(pub &'a Tx<'t>);

impl super::name::Owners for Owners<'_, '_> {
    type Error = Error;
    fn owner(&self, name: &str) -> Result<Option<MessageHash>, Error> {
        Ok(self
            .0
            .name_owner(name)?
            .as_deref()
            .and_then(MessageHash::from_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    /// A report line for the message of bytes `m`: its hash, `name`, `files`.
    fn line_of(m: &str, name: &str, files: &[&str]) -> String {
        let hash = Algorithm::NEW_FOLDERS.hash(m.as_bytes());
        let mut v = serde_json::to_value(hash).unwrap();
        v["name"] = name.into();
        v["files"] = serde_json::json!(files);
        format!("{v}\n")
    }

    /// A report line for message `m`, named `m`, held.
    fn line(m: &str) -> String {
        line_of(m, m, &[&format!("held/{m}.hl7")])
    }

    struct Folder {
        _tmp: tempfile::TempDir,
        report_path: std::path::PathBuf,
        registry: Registry,
    }

    impl Folder {
        fn new() -> Folder {
            let tmp = tempfile::tempdir().unwrap();
            let registry = Registry::open(&tmp.path().join("registry.sqlite")).unwrap();
            Folder {
                report_path: tmp.path().join("report.jsonl"),
                _tmp: tmp,
                registry,
            }
        }

        fn append(&self, text: &str) {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.report_path)
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
        }

        fn open(&mut self) -> Opened {
            let mut report = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&self.report_path)
                .unwrap();
            open(&mut report, &self.report_path, &mut self.registry).unwrap()
        }

        fn name_of(&self, m: &str) -> Option<String> {
            let hash = Algorithm::NEW_FOLDERS.hash(m.as_bytes());
            self.registry
                .indexed_message(hash.as_bytes())
                .unwrap()
                .and_then(|i| i.name)
        }
    }

    #[test]
    fn opening_again_reads_only_the_lines_appended_since() {
        let mut f = Folder::new();
        f.append(&(line("a") + &line("b")));
        let first = f.open();
        assert_eq!((first.lines_indexed, first.run), (2, 1));
        let again = f.open();
        assert_eq!(
            (again.lines_indexed, again.run),
            (0, 2),
            "nothing new to read"
        );
        f.append(&line("c"));
        assert_eq!(f.open().lines_indexed, 1);
        assert_eq!(f.name_of("c").as_deref(), Some("c"));
        assert_eq!(f.name_of("a").as_deref(), Some("a"));
    }

    #[test]
    fn a_report_that_is_not_the_one_indexed_is_indexed_again_from_its_start() {
        let mut f = Folder::new();
        f.append(&(line("a") + &line("b")));
        f.open();
        // Replaced by another of the same length (an edited or restored report).
        std::fs::write(&f.report_path, line("x") + &line("y")).unwrap();
        assert_eq!(f.open().lines_indexed, 2);
        assert_eq!(f.name_of("x").as_deref(), Some("x"));
        assert_eq!(f.name_of("a"), None, "no longer in the report");
        // Shorter than what was indexed (lines lost to a crash after the registry committed).
        std::fs::write(&f.report_path, line("x")).unwrap();
        assert_eq!(f.open().lines_indexed, 1);
        assert_eq!(f.name_of("y"), None);
        // Emptied: nothing indexed, and the next open finds the report as indexed.
        std::fs::write(&f.report_path, "").unwrap();
        assert_eq!(f.open().lines_indexed, 0);
        assert_eq!(f.name_of("x"), None);
        let state = f.registry.report_state().unwrap().unwrap();
        assert_eq!((state.indexed_bytes, state.last_line_blake3), (0, None));
    }

    #[test]
    fn a_torn_last_line_is_cut_off_and_the_rest_indexed() {
        let mut f = Folder::new();
        f.append(&(line("a") + "{\"blake3\":\"ab"));
        let opened = f.open();
        assert_eq!(opened.lines_indexed, 1);
        let len = std::fs::metadata(&f.report_path).unwrap().len();
        assert_eq!((opened.report_len, len), (line("a").len() as u64, len));
    }

    #[test]
    fn a_later_line_of_a_message_supersedes_the_files_of_its_earlier_one() {
        let mut f = Folder::new();
        let hash = Algorithm::NEW_FOLDERS.hash(b"a");
        f.append(&(line("a") + &line_of("a", "a", &["documents/a.xml"])));
        let opened = f.open();
        assert_eq!(opened.superseded, [(hash, "held/a.hl7".to_owned())]);
        let m = f
            .registry
            .indexed_message(hash.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(m.files, ["documents/a.xml"]);
        assert_eq!(m.line_at, line("a").len() as u64);
    }

    #[test]
    fn a_name_already_owned_is_not_given_to_a_second_message() {
        let mut f = Folder::new();
        let other = Algorithm::NEW_FOLDERS.hash(b"other");
        // A hand-edited report gives "a" (and "A": the same name without case) to two messages.
        f.append(&(line("a") + &line_of("other", "A", &[])));
        f.open();
        assert_eq!(f.name_of("a").as_deref(), Some("a"));
        let m = f
            .registry
            .indexed_message(other.as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(m.name, None);
    }

    #[test]
    fn the_line_of_an_earlier_run_is_fingerprinted_from_the_report_itself() {
        let mut f = Folder::new();
        f.append(&line("a"));
        let run = f.open().run;
        let hash = Algorithm::NEW_FOLDERS.hash(b"a");
        let m = f
            .registry
            .indexed_message(hash.as_bytes())
            .unwrap()
            .unwrap();
        let report = File::open(&f.report_path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&line("a")).unwrap();
        assert_eq!(
            line_before_run(&report, &hash, &m, run),
            Some(fingerprint(&value))
        );
        // A line written by this run is not "before the run".
        let this_run = IndexedMessage { run, ..m.clone() };
        assert_eq!(line_before_run(&report, &hash, &this_run, run), None);
        // Nor a line that is not this message's.
        let other = Algorithm::NEW_FOLDERS.hash(b"b");
        assert_eq!(line_before_run(&report, &other, &m, run), None);
    }
}
