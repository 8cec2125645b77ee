//! The output folder (CONTRACT.md "Output folder"): `documents/`, `held/`, `excluded/`,
//! `deleted/`, `rejected/`, `report.jsonl`, `summary.json`.
//!
//! * Staging (worker threads, in parallel): each file of a message is written under a hidden
//!   temporary name in its final directory, and its fsync starts at once in the background
//!   ([`durable::Syncer`]: several at a time, so that the file system commits them together).
//! * Commit (one thread, in input order, a group at a time): the group's temporary files are
//!   waited for until durable (most already are), each message gets
//!   its NAME ([`super::name`]), its files are renamed, each directory touched is fsynced once,
//!   the group's report lines are appended in one write and `report.jsonl` is fsynced. Only then
//!   does the caller ACK. A crash at any point leaves complete files or hidden temporaries
//!   (removed at the next start), and a report line only for messages whose files are durable.
//! * Reruns: the NAME index is rebuilt from `report.jsonl`, so the same message gets the same
//!   name and its files are replaced. A line is not appended again when the report already held,
//!   when the run started, a line for the same message (same bytes) with the same result; so a
//!   message re-sent after a crash, or a whole input converted twice, leaves one line. When the
//!   result changed (a new configuration), a new line is appended and the files of the old result
//!   that the new one does not rewrite are removed, so a message is in one outcome folder.
//! * One run at a time: `DIR/.dmpfeed.lock` is locked (advisory) for the whole run.
//!
//! NAMEs are never built from paths and contain no `/`, and every file goes to one of the five
//! fixed folders: nothing is ever written outside the output folder, whatever the message says.

use super::durable::{self, Pending, Syncer, TempNames};
use super::name::{self, MessageHash, NameIndex};
use super::report::{ReportLine, Sidecar, fingerprint};
use super::{Done, Error, Record, Sink};
use crate::reason::Outcome;
use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The five outcome folders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Folder {
    Documents,
    Held,
    Excluded,
    Deleted,
    Rejected,
}

impl Folder {
    pub const ALL: [Folder; 5] = [
        Folder::Documents,
        Folder::Held,
        Folder::Excluded,
        Folder::Deleted,
        Folder::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Folder::Documents => "documents",
            Folder::Held => "held",
            Folder::Excluded => "excluded",
            Folder::Deleted => "deleted",
            Folder::Rejected => "rejected",
        }
    }

    /// Where an outcome's files go; `recorded` writes none.
    pub fn for_outcome(outcome: Outcome) -> Option<Folder> {
        match outcome {
            Outcome::Converted => Some(Folder::Documents),
            Outcome::Held => Some(Folder::Held),
            Outcome::Excluded => Some(Folder::Excluded),
            Outcome::Deleted => Some(Folder::Deleted),
            Outcome::Rejected => Some(Folder::Rejected),
            Outcome::Recorded => None,
        }
    }

    fn from_str(s: &str) -> Option<Folder> {
        Folder::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

pub const REPORT: &str = "report.jsonl";
pub const SUMMARY: &str = "summary.json";
const LOCK: &str = ".dmpfeed.lock";

/// One file of a message, written and fsynced under a temporary name.
#[derive(Debug)]
pub struct StagedFile {
    pub folder: Folder,
    /// Appended to NAME: `.xml`, `.hl7`, `.json`, or an artefact's suffix.
    pub suffix: String,
    pub temp: PathBuf,
    /// Its fsync, started once written; `None` until then.
    pub synced: Option<Pending>,
}

/// The files of one message, waiting for their NAME. Dropped before commit (a failed run),
/// they are removed.
#[derive(Debug, Default)]
pub struct Staged {
    pub files: Vec<StagedFile>,
    committed: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            for f in &self.files {
                let _ = std::fs::remove_file(&f.temp);
            }
        }
    }
}

/// What the report says of a message already seen.
#[derive(Debug)]
struct Known {
    fingerprint: u64,
    /// Files of its latest result, relative to the folder.
    files: Box<[Box<str>]>,
    /// Its latest line was in `report.jsonl` when the run started.
    before_run: bool,
}

#[derive(Debug)]
struct State {
    names: NameIndex,
    known: HashMap<MessageHash, Known>,
    report: File,
    already_recorded: u64,
}

/// The output folder, open for one run.
#[derive(Debug)]
pub struct OutputDir {
    root: PathBuf,
    temps: TempNames,
    /// Fsyncs the staged files in the background.
    syncer: Syncer,
    state: Mutex<State>,
    /// Held for the lifetime of the run (the lock is released when it is closed).
    _lock: File,
}

impl OutputDir {
    /// Creates or opens `root`: the folders, the lock, stale temporaries removed, the NAME index
    /// rebuilt from `report.jsonl` (a torn last line, from a crash mid-write, is cut off).
    pub fn open(root: &Path) -> Result<OutputDir, Error> {
        let io = |what: &Path, e| Error::io(what.display(), e);
        std::fs::create_dir_all(root).map_err(|e| io(root, e))?;
        let lock_path = root.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io(&lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Output(format!(
                    "{}: another dmpfeed is writing to this folder",
                    root.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path, e)),
        }
        for folder in Folder::ALL {
            let dir = root.join(folder.as_str());
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        }
        // `summary.json` is written through a temporary in the folder itself.
        let dirs = std::iter::once(root.to_path_buf())
            .chain(Folder::ALL.iter().map(|f| root.join(f.as_str())));
        for dir in dirs {
            let removed = durable::remove_stale_temps(&dir).map_err(|e| io(&dir, e))?;
            if removed > 0 {
                tracing::info!(
                    "{}: removed {removed} temporary file(s) left by an interrupted run",
                    dir.display()
                );
            }
        }
        let report_path = root.join(REPORT);
        let mut report = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&report_path)
            .map_err(|e| io(&report_path, e))?;
        let (names, known) = load_report(&mut report, &report_path)?;
        durable::sync_dir(root).map_err(|e| io(root, e))?;
        let syncer = Syncer::new(durable::SYNC_THREADS)
            .map_err(|e| Error::Internal(format!("cannot start the fsync threads: {e}")))?;
        Ok(OutputDir {
            root: root.to_path_buf(),
            temps: TempNames::default(),
            syncer,
            state: Mutex::new(State {
                names,
                known,
                report,
                already_recorded: 0,
            }),
            _lock: lock,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Messages of this run whose same result was already in the report (no new line).
    pub fn already_recorded(&self) -> u64 {
        self.state.lock().map(|s| s.already_recorded).unwrap_or(0)
    }

    /// Writes `summary.json` durably.
    pub fn write_summary(&self, bytes: &[u8]) -> Result<(), Error> {
        durable::replace_file(&self.root, SUMMARY, bytes, &self.temps)
            .map_err(|e| Error::io(self.root.join(SUMMARY).display(), e))
    }

    fn stage_file(
        &self,
        files: &mut Staged,
        folder: Folder,
        suffix: &str,
        bytes: &[u8],
    ) -> Result<(), Error> {
        let dir = self.root.join(folder.as_str());
        let temp = self.temps.next_in(&dir);
        // Recorded first, so that a half-written temporary is removed on failure too.
        files.files.push(StagedFile {
            folder,
            suffix: suffix.to_owned(),
            temp: temp.clone(),
            synced: None,
        });
        durable::write_new(&temp, bytes).map_err(|e| Error::io(dir.display(), e))?;
        if let Some(f) = files.files.last_mut() {
            f.synced = Some(self.syncer.submit(temp));
        }
        Ok(())
    }
}

/// The suffixes of the files dmpfeed itself writes beside NAME: no artefact may take one.
const OWN_SUFFIXES: [&str; 3] = [".xml", ".hl7", ".json"];

/// An artefact suffix from the core must be a plain extension (it becomes part of a file name),
/// not one of dmpfeed's own, and not twice the same for one message.
fn check_suffix(suffix: &str, staged: &Staged) -> Result<(), Error> {
    let plain = suffix.len() >= 2
        && suffix.len() <= 32
        && suffix.starts_with('.')
        && suffix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let taken = OWN_SUFFIXES.contains(&suffix) || staged.files.iter().any(|f| f.suffix == suffix);
    if plain && !taken {
        Ok(())
    } else {
        Err(Error::Internal(format!(
            "artefact suffix {suffix:?} is not a free file extension"
        )))
    }
}

impl Sink for OutputDir {
    type Staged = Staged;

    fn stage(&self, record: &Record, raw: &[u8]) -> Result<Staged, Error> {
        let c = &record.conversion;
        let mut staged = Staged::default();
        let Some(folder) = Folder::for_outcome(c.outcome) else {
            return Ok(staged);
        };
        match c.outcome {
            Outcome::Converted => {
                let doc = c.document.as_ref().ok_or_else(|| {
                    Error::Internal(format!("{}: converted without a document", record.source))
                })?;
                self.stage_file(&mut staged, folder, ".xml", &doc.cda)?;
                for a in &doc.artefacts {
                    check_suffix(&a.suffix, &staged)?;
                    self.stage_file(&mut staged, folder, &a.suffix, &a.bytes)?;
                }
            }
            Outcome::Deleted => {
                let sidecar = Sidecar::new(record).to_bytes();
                self.stage_file(&mut staged, folder, ".json", &sidecar)?;
                for a in c.deletion.iter().flat_map(|d| &d.artefacts) {
                    check_suffix(&a.suffix, &staged)?;
                    self.stage_file(&mut staged, folder, &a.suffix, &a.bytes)?;
                }
            }
            Outcome::Recorded => {}
            Outcome::Held | Outcome::Excluded | Outcome::Rejected => {
                // The original bytes, byte for byte, and why.
                self.stage_file(&mut staged, folder, ".hl7", raw)?;
                let sidecar = Sidecar::new(record).to_bytes();
                self.stage_file(&mut staged, folder, ".json", &sidecar)?;
            }
        }
        Ok(staged)
    }

    fn commit(&self, group: &mut [Done<Staged>]) -> Result<(), Error> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| Error::Internal("output state poisoned".into()))?;
        let state = &mut *state;
        // The group's files are on disk before any takes its name (their fsyncs started when
        // they were staged).
        for f in group.iter().flat_map(|d| &d.staged.files) {
            let synced = f
                .synced
                .as_ref()
                .ok_or_else(|| Error::Internal("a staged file was never written".into()))?;
            synced.wait().map_err(|e| Error::io(f.temp.display(), e))?;
        }
        let mut lines = Vec::new();
        let mut touched = BTreeSet::new();
        for done in group.iter_mut() {
            let record = &done.record;
            let name = if done.staged.files.is_empty() {
                None
            } else {
                let name = state.names.name_for(record.name_key(), &record.hash);
                // At once, so that the next message of the group sees the name taken.
                state.names.record(&name, record.hash);
                Some(name)
            };
            let mut files = Vec::with_capacity(done.staged.files.len());
            if let Some(name) = &name {
                for f in &done.staged.files {
                    let rel = format!("{}/{name}{}", f.folder.as_str(), f.suffix);
                    let target = self.root.join(&rel);
                    std::fs::rename(&f.temp, &target)
                        .map_err(|e| Error::io(target.display(), e))?;
                    touched.insert(f.folder);
                    files.push(rel);
                }
                done.staged.committed = true;
            }
            let known = state.known.get(&record.hash);
            // Files of an earlier result of the same message that this one did not rewrite.
            for old in known.iter().flat_map(|k| k.files.iter()) {
                if files.iter().any(|f| f.as_str() == &**old) {
                    continue;
                }
                let path = self.root.join(&**old);
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(path.display(), e)),
                }
                if let Some(folder) = old.split('/').next().and_then(Folder::from_str) {
                    touched.insert(folder);
                }
            }
            let line = ReportLine::new(record, name.as_deref(), &files);
            let value = serde_json::to_value(&line)
                .map_err(|e| Error::Internal(format!("report line: {e}")))?;
            let fp = fingerprint(&value);
            let unchanged = known.is_some_and(|k| k.before_run && k.fingerprint == fp);
            if unchanged {
                state.already_recorded += 1;
            } else {
                serde_json::to_writer(&mut lines, &line)
                    .map_err(|e| Error::Internal(format!("report line: {e}")))?;
                lines.push(b'\n');
            }
            state.known.insert(
                record.hash,
                Known {
                    fingerprint: fp,
                    files: files.into_iter().map(String::into_boxed_str).collect(),
                    before_run: unchanged,
                },
            );
        }
        for folder in touched {
            let dir = self.root.join(folder.as_str());
            durable::sync_dir(&dir).map_err(|e| Error::io(dir.display(), e))?;
        }
        if !lines.is_empty() {
            let path = self.root.join(REPORT);
            state
                .report
                .write_all(&lines)
                .and_then(|()| state.report.sync_data())
                .map_err(|e| Error::io(path.display(), e))?;
        }
        Ok(())
    }
}

/// Rebuilds the NAME index from `report.jsonl`, cutting off a torn last line.
fn load_report(
    report: &mut File,
    path: &Path,
) -> Result<(NameIndex, HashMap<MessageHash, Known>), Error> {
    let io = |e| Error::io(path.display(), e);
    let mut names = NameIndex::default();
    let mut known = HashMap::new();
    report.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = BufReader::new(&*report);
    let mut line = Vec::new();
    let mut complete_len = 0u64;
    let mut number = 0u64;
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            // A line cut by a crash: never fsynced, never ACKed; its message will come again.
            tracing::warn!(
                "{}: removing an incomplete last line ({n} bytes) left by an interrupted run",
                path.display()
            );
            break;
        }
        complete_len += n as u64;
        number += 1;
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line) else {
            tracing::warn!("{}: line {number} is not JSON; ignored", path.display());
            continue;
        };
        let Some(hash) = value
            .get("sha1")
            .and_then(|v| v.as_str())
            .and_then(name::parse_hash)
        else {
            continue;
        };
        if let Some(n) = value.get("name").and_then(|v| v.as_str()) {
            names.record(n, hash);
        }
        let files = value
            .get("files")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|f| f.as_str()).map(Box::from).collect())
            .unwrap_or_default();
        known.insert(
            hash,
            Known {
                fingerprint: fingerprint(&value),
                files,
                before_run: true,
            },
        );
    }
    drop(reader);
    let len = report.metadata().map_err(io)?.len();
    if len > complete_len {
        report.set_len(complete_len).map_err(io)?;
        report.sync_data().map_err(io)?;
    }
    Ok((names, known))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{
        Artefact, Conversion, ConvertedDocument, Deletion, DocumentMetadata, MessageHeader,
    };
    use crate::hl7::Framing;
    use crate::reason::{Finding, ReasonCode};

    fn header(control_id: &str) -> MessageHeader {
        MessageHeader {
            control_id: control_id.into(),
            message_type: "MDM^T02^MDM_T02".into(),
            ..MessageHeader::default()
        }
    }

    fn conversion(outcome: Outcome, key: &str, findings: Vec<Finding>) -> Conversion {
        Conversion {
            outcome,
            header: Some(header("CTRL1")),
            findings,
            name_key: Some(key.into()),
            document: None,
            deletion: None,
        }
    }

    fn converted(key: &str) -> Conversion {
        let mut c = conversion(Outcome::Converted, key, vec![]);
        c.document = Some(ConvertedDocument {
            cda: b"<ClinicalDocument/>".to_vec(),
            metadata: DocumentMetadata {
                type_code: "11488-4".into(),
                unique_id: key.into(),
                version: 1,
                ..DocumentMetadata::default()
            },
            artefacts: vec![Artefact {
                suffix: ".mdm.hl7".into(),
                bytes: b"MSH|...".to_vec(),
            }],
        });
        c
    }

    fn held() -> Conversion {
        conversion(
            Outcome::Held,
            "DOC-H",
            vec![
                Finding::new(ReasonCode::InsMissing, "PID-3", "no INS"),
                Finding::new(ReasonCode::IdentityNotQualified, "PID-32", "VALI"),
            ],
        )
    }

    /// Stages and commits messages as the pipeline would.
    fn put(dir: &OutputDir, items: Vec<(&str, &[u8], Conversion)>) -> Vec<Record> {
        let mut group = Vec::new();
        let mut records = Vec::new();
        for (i, (source, raw, conversion)) in items.into_iter().enumerate() {
            let record = Record {
                seq: i as u64,
                source: source.into(),
                framing: Framing::Plain,
                size: raw.len() as u64,
                hash: name::message_hash(raw),
                header: None,
                undecodable: false,
                conversion,
            };
            let staged = dir.stage(&record, raw).unwrap();
            records.push(record.clone());
            group.push(Done { record, staged });
        }
        dir.commit(&mut group).unwrap();
        records
    }

    fn report(root: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(root.join(REPORT))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Every file under root, relative, sorted (the lock file excepted).
    fn tree(root: &Path) -> Vec<String> {
        let mut out: Vec<String> = walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|p| p != LOCK)
            .collect();
        out.sort();
        out
    }

    #[test]
    fn each_outcome_writes_its_files_and_one_report_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = OutputDir::open(tmp.path()).unwrap();
        let mut excluded = conversion(
            Outcome::Excluded,
            "DOC-E",
            vec![Finding::new(ReasonCode::DmpOpposition, "OBX[9]-5", "N")],
        );
        excluded.header = Some(header("CTRL-E"));
        let mut deleted = conversion(Outcome::Deleted, "DOC-D", vec![]);
        deleted.deletion = Some(Deletion {
            document_id: "1.2.3.4".into(),
            artefacts: vec![],
        });
        let rejected =
            Conversion::rejected(None, Finding::new(ReasonCode::Hl7Syntax, "", "not HL7"));
        let recorded = conversion(Outcome::Recorded, "ADT1", vec![]);
        put(
            &dir,
            vec![
                ("a#1", b"converted bytes", converted("1.2.250.9")),
                ("a#2", b"held bytes", held()),
                ("a#3", b"excluded bytes", excluded),
                ("a#4", b"deleted bytes", deleted),
                ("a#5", b"not hl7 at all", rejected),
                ("a#6", b"adt bytes", recorded),
            ],
        );
        let reject_name = name::fallback(&name::message_hash(b"not hl7 at all"));
        let mut expected = vec![
            "deleted/DOC-D.json".to_owned(),
            "documents/1.2.250.9.mdm.hl7".into(),
            "documents/1.2.250.9.xml".into(),
            "excluded/DOC-E.hl7".into(),
            "excluded/DOC-E.json".into(),
            "held/DOC-H.hl7".into(),
            "held/DOC-H.json".into(),
            format!("rejected/{reject_name}.hl7"),
            format!("rejected/{reject_name}.json"),
            REPORT.into(),
        ];
        expected.sort();
        assert_eq!(tree(tmp.path()), expected);
        assert_eq!(
            std::fs::read(tmp.path().join("held/DOC-H.hl7")).unwrap(),
            b"held bytes"
        );
        let lines = report(tmp.path());
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0]["outcome"], "converted");
        assert_eq!(lines[0]["document"], "documents/1.2.250.9.xml");
        assert_eq!(lines[0]["metadata"]["typeCode"], "11488-4");
        assert_eq!(lines[1]["codes"][0], "INS_MISSING");
        assert_eq!(
            lines[1]["detail"][1],
            "IDENTITY_NOT_QUALIFIED at PID-32: VALI"
        );
        assert_eq!(lines[3]["deleted_document"], "1.2.3.4");
        assert_eq!(lines[4]["control_id"], serde_json::Value::Null);
        assert_eq!(lines[5]["outcome"], "recorded");
        assert!(lines[5].get("name").is_none());
        let why: serde_json::Value =
            serde_json::from_slice(&std::fs::read(tmp.path().join("held/DOC-H.json")).unwrap())
                .unwrap();
        assert_eq!(why["findings"][0]["path"], "PID-3");
        assert_eq!(why["message_type"], "MDM^T02^MDM_T02");
    }

    #[test]
    fn a_rerun_gives_the_same_files_and_no_new_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let items = || {
            vec![
                ("a#1", &b"m1"[..], converted("DOC1")),
                ("a#2", &b"m2"[..], held()),
            ]
        };
        {
            let dir = OutputDir::open(tmp.path()).unwrap();
            put(&dir, items());
            assert_eq!(dir.already_recorded(), 0);
        }
        let first = tree(tmp.path());
        let first_report = std::fs::read(tmp.path().join(REPORT)).unwrap();
        let dir = OutputDir::open(tmp.path()).unwrap();
        put(&dir, items());
        assert_eq!(dir.already_recorded(), 2);
        assert_eq!(tree(tmp.path()), first);
        assert_eq!(
            std::fs::read(tmp.path().join(REPORT)).unwrap(),
            first_report
        );
    }

    #[test]
    fn within_one_run_every_message_gets_a_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = OutputDir::open(tmp.path()).unwrap();
        put(
            &dir,
            vec![("a#1", &b"m1"[..], held()), ("a#2", &b"m1"[..], held())],
        );
        assert_eq!(report(tmp.path()).len(), 2);
        assert_eq!(tree(tmp.path()).len(), 3, "same message, same files");
    }

    #[test]
    fn two_messages_with_the_same_key_get_two_names() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = OutputDir::open(tmp.path()).unwrap();
        put(
            &dir,
            vec![
                ("a#1", &b"first"[..], converted("DOC1")),
                ("a#2", &b"second"[..], converted("DOC1")),
            ],
        );
        let lines = report(tmp.path());
        assert_eq!(lines[0]["name"], "DOC1");
        let second = lines[1]["name"].as_str().unwrap();
        assert!(second.starts_with("DOC1-"), "{second}");
        // Across runs too: the first message keeps its name, a third gets its own.
        drop(dir);
        let dir = OutputDir::open(tmp.path()).unwrap();
        put(
            &dir,
            vec![
                ("b#1", &b"second"[..], converted("DOC1")),
                ("b#2", &b"third"[..], converted("DOC1")),
            ],
        );
        let lines = report(tmp.path());
        assert_eq!(lines.len(), 3, "second unchanged, third new");
        let third = lines[2]["name"].as_str().unwrap();
        assert!(third != "DOC1" && third != second, "{third}");
    }

    #[test]
    fn a_changed_result_moves_the_message_to_its_new_folder() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let dir = OutputDir::open(tmp.path()).unwrap();
            put(&dir, vec![("a#1", &b"m"[..], held())]);
        }
        let dir = OutputDir::open(tmp.path()).unwrap();
        put(&dir, vec![("a#1", &b"m"[..], converted("DOC-H"))]);
        let files = tree(tmp.path());
        assert!(
            files.contains(&"documents/DOC-H.xml".to_owned()),
            "{files:?}"
        );
        assert!(!files.iter().any(|f| f.starts_with("held/")), "{files:?}");
        assert_eq!(report(tmp.path()).len(), 2);
    }

    #[test]
    fn a_torn_last_line_and_stale_temporaries_are_cleaned_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let dir = OutputDir::open(tmp.path()).unwrap();
            put(&dir, vec![("a#1", &b"m"[..], held())]);
        }
        let report_path = tmp.path().join(REPORT);
        let mut f = OpenOptions::new().append(true).open(&report_path).unwrap();
        f.write_all(b"{\"source\":\"a#2\",\"outc").unwrap();
        std::fs::write(tmp.path().join("held/.dmpfeed-tmp-1-1"), b"half").unwrap();
        let _dir = OutputDir::open(tmp.path()).unwrap();
        assert_eq!(report(tmp.path()).len(), 1);
        assert!(!tmp.path().join("held/.dmpfeed-tmp-1-1").exists());
    }

    #[test]
    fn a_second_run_on_the_same_folder_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = OutputDir::open(tmp.path()).unwrap();
        let second = OutputDir::open(tmp.path()).unwrap_err();
        assert!(second.to_string().contains("another dmpfeed"), "{second}");
    }

    #[test]
    fn staged_files_not_committed_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = OutputDir::open(tmp.path()).unwrap();
        let record = Record {
            seq: 0,
            source: "a#1".into(),
            framing: Framing::Plain,
            size: 1,
            hash: name::message_hash(b"m"),
            header: None,
            undecodable: false,
            conversion: held(),
        };
        let staged = dir.stage(&record, b"m").unwrap();
        assert_eq!(staged.files.len(), 2);
        assert!(staged.files.iter().all(|f| f.temp.exists()));
        let temps: Vec<_> = staged.files.iter().map(|f| f.temp.clone()).collect();
        drop(staged);
        assert!(temps.iter().all(|t| !t.exists()));
    }

    #[test]
    fn hostile_or_clashing_artefact_suffixes_are_refused() {
        for suffix in ["/../../x", ".xml", ".mdm.hl7"] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = OutputDir::open(tmp.path()).unwrap();
            let mut c = converted("DOC1");
            if let Some(d) = c.document.as_mut() {
                d.artefacts[0].suffix = suffix.into();
                // A second artefact with the same suffix as the first.
                d.artefacts.push(Artefact {
                    suffix: ".mdm.hl7".into(),
                    bytes: vec![],
                });
            }
            refuse(&dir, tmp.path(), c);
        }
    }

    fn refuse(dir: &OutputDir, root: &Path, c: Conversion) {
        let record = Record {
            seq: 0,
            source: "a#1".into(),
            framing: Framing::Plain,
            size: 1,
            hash: name::message_hash(b"m"),
            header: None,
            undecodable: false,
            conversion: c,
        };
        assert!(matches!(dir.stage(&record, b"m"), Err(Error::Internal(_))));
        assert_eq!(tree(root), [REPORT.to_owned()]);
    }
}
