//! The output folder (CONTRACT.md "Output folder"): `documents/`, `held/`, `excluded/`,
//! `deleted/`, `rejected/`, `report.jsonl`, `summary.json`, and the registry
//! `registry.sqlite` ([`crate::registry`]).
//!
//! * Conversion (worker threads): with a read-only view of the registry as memory
//!   ([`crate::recall`]): a chain's setId and version, the patient's opposition, the identity
//!   recorded from ADT.
//! * Staging (worker threads, in parallel): each file of a message is written under a hidden
//!   temporary name in its final directory and handed to the [`Syncer`] (`[output] sync`): its
//!   fsync starts at once in the background, several at a time so that the file system and the
//!   disk take them together, or one `syncfs` at the group's commit makes it durable with every
//!   other file written by then. A message whose conversion asked the registry keeps
//!   its bytes until its commit (in memory up to a budget, else in a temporary file), in case it
//!   must be converted again.
//! * Commit (one thread, in input order, a group at a time), in this order:
//!   1. one registry transaction is opened; for each message in turn: every question its
//!      conversion asked is asked again (earlier messages of the group may have changed the
//!      answer) and the message is converted and staged again if one changed; it gets its NAME
//!      ([`super::name`]); what it means is written in the transaction (document, deletion, held
//!      message, identity, opposition, merge); its report line is built (after the registry
//!      decided: the line names the warnings it gave) and indexed ([`super::index`]: its NAME,
//!      files and place in the report, the files it supersedes listed); an ADT whose identity is
//!      qualified releases the messages held for its patient, each converted, staged and given a
//!      line;
//!   2. the group's temporary files are waited for until durable (most already are), renamed to
//!      their NAMEs, and each folder touched is fsynced (or the file system synced once) — the
//!      files are durable;
//!   3. the registry transaction commits — the rows are durable, and name only durable files;
//!   4. the report lines are appended and `report.jsonl` is fsynced;
//!   5. the files of earlier results that the new ones replace (a released message's `held/`
//!      files) are removed.
//!
//!   Only then does the caller ACK. A kill -9 before 3 leaves at most files without rows and
//!   lines: the message, not ACKed, comes again and is converted under the same name. Between 3
//!   and 4, rows without lines (and an index ahead of the report, rebuilt from the report when
//!   the folder is next opened): the message comes again, the registry recognises it (same
//!   bytes, same answers) and the line is written. Between 4 and 5, superseded files, listed in
//!   the registry and removed when the folder is next opened. A release reads the held original
//!   from `held/` (from its temporary when it was held in the same group), which is removed only
//!   at step 5, after the released document and its row are durable: never lost, never doubled.
//! * Reruns: the NAME index ([`super::index`], in the registry, kept in step with
//!   `report.jsonl`) gives the same message the same name, and its files are replaced. A line is
//!   not appended again when the report already held, when the run started, a line for the same
//!   message (same bytes) with the same result; so a
//!   message re-sent after a crash, or a whole input converted twice, leaves one line. When the
//!   result changed (a new configuration), a new line is appended and the files of the old result
//!   that the new one does not rewrite are removed, so a message is in one outcome folder —
//!   except a converted document or a deletion record, which the registry names and which may
//!   have reached the DMP already: those stay.
//! * One run at a time: `DIR/.dmpfeed.lock` is locked (advisory) for the whole run.
//!
//! NAMEs are never built from paths and contain no `/`, and every file goes to one of the five
//! fixed folders: nothing is ever written outside the output folder, whatever the message says.

use super::ack::AckHeader;
use super::durable::{self, TempNames};
use super::index;
use super::memory::{MessageMemory, Readers};
use super::name;
use super::report::{ReportLine, Sidecar, fingerprint};
use super::sync::{self, Syncer};
use super::{Done, Error, Record, Sink};
use crate::config::Config;
use crate::convert::{Conversion, Emit, convert_recalling};
use crate::hl7::{FrameDefect, Framing};
use crate::message_hash::{Algorithm, MessageHash};
use crate::reason::{Finding, Outcome, ReasonCode};
use crate::registry::{
    self, HeldDocument, HeldEntry, HeldStatus, IndexedMessage, NewDeletion, NewDocument,
    Opposition, PatientIdentity, PatientMerge, Registry, RegistryError, RegistryRead, ReportState,
    Tx,
};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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

    /// A document or a deletion record: once written, the registry names it and the DMP may have
    /// it, so a later result of the same message never removes it.
    fn is_sent(self) -> bool {
        matches!(self, Folder::Documents | Folder::Deleted)
    }
}

pub const REPORT: &str = "report.jsonl";
pub const SUMMARY: &str = "summary.json";
/// The lock file: also what marks a folder as a dmpfeed output folder.
pub(crate) const LOCK: &str = ".dmpfeed.lock";

/// Message bytes kept in memory until their commit, for all messages waiting together; beyond,
/// they wait in temporary files (never fsynced: they only live until the commit).
const KEEP_IN_MEMORY: usize = 64 * 1024 * 1024;

/// `released_as` of a held message whose document another message converted, excluded or
/// deleted (then that message's file): it left the worklist without a line of its own, and is
/// never released.
const SETTLED: &str = "settled by ";

/// `released_as` of a held message released after a later version of its document was sent
/// (then that version's file): excluded with `DOCUMENT_SUPERSEDED`, never sent.
const SUPERSEDED: &str = "superseded by ";

/// The `source` of the lines written by `dmpfeed held release`.
pub const MANUAL_RELEASE: &str = "held release";

/// One file of a message, written and fsynced under a temporary name.
#[derive(Debug)]
pub struct StagedFile {
    pub folder: Folder,
    /// Appended to NAME: `.xml`, `.hl7`, `.json`, or an artefact's suffix.
    pub suffix: String,
    pub temp: PathBuf,
    /// Its fsync, started once written; `None` until then.
    pub synced: Option<sync::Pending>,
}

/// The files of one message, waiting for their NAME. Dropped before commit (a failed run),
/// they are removed.
#[derive(Debug, Default)]
pub struct Staged {
    pub files: Vec<StagedFile>,
    committed: bool,
    /// The message's bytes, when it may have to be converted again at commit.
    kept: Option<Kept>,
    /// The questions its conversion asked of the registry with their answers, as the registry
    /// keeps them (JSON); `None` when it asked none. Written by the worker, so that the one
    /// committer does not serialize them.
    answers: Option<String>,
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

/// A message's bytes kept until its commit.
#[derive(Debug)]
struct Kept {
    place: KeptIn,
    /// The bytes kept in memory by all messages together.
    budget: Arc<AtomicUsize>,
}

#[derive(Debug)]
enum KeptIn {
    Memory(Vec<u8>),
    File(PathBuf),
}

impl Kept {
    fn bytes(&self) -> std::io::Result<Cow<'_, [u8]>> {
        match &self.place {
            KeptIn::Memory(b) => Ok(Cow::Borrowed(b)),
            KeptIn::File(p) => std::fs::read(p).map(Cow::Owned),
        }
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        match &self.place {
            KeptIn::Memory(b) => {
                self.budget.fetch_sub(b.len(), Ordering::Relaxed);
            }
            KeptIn::File(p) => {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// The latest result of a message the report has a line for is `held`: its files are in
/// `held/`.
fn is_held(m: &IndexedMessage) -> bool {
    !m.files.is_empty() && m.files.iter().all(|f| f.starts_with("held/"))
}

#[derive(Debug)]
struct State {
    report: File,
    /// `report.jsonl`'s length: where the next line goes.
    report_len: u64,
    /// This run's number in the NAME index ([`index`]).
    run: u64,
    /// The last commit listed superseded files in the registry: the next one clears the list.
    superseded_listed: bool,
    registry: Registry,
    already_recorded: u64,
    released: u64,
}

/// The output folder, open for one run.
#[derive(Debug)]
pub struct OutputDir {
    root: PathBuf,
    config: Config,
    /// The artefacts (`--emit`) every conversion into this folder makes, releases included.
    emit: Emit,
    /// What names this folder's messages, as its registry records ([`crate::message_hash`]).
    message_hash: Algorithm,
    temps: TempNames,
    /// Makes the staged files durable (`[output] sync`).
    syncer: Syncer,
    /// The five folders, open (in [`Folder::ALL`] order): files are created and renamed
    /// relative to them.
    folders: Vec<File>,
    /// Before `state`: dropped first, so that the writer's connection closes last and folds the
    /// write-ahead log back into the registry file (a read-only connection cannot).
    readers: Readers,
    state: Mutex<State>,
    kept: Arc<AtomicUsize>,
    /// Held for the lifetime of the run (the lock is released when it is closed).
    _lock: File,
}

/// What a commit gathers while it files its messages, and does before and after the registry
/// commits.
#[derive(Debug, Default)]
struct Pending {
    /// Temporary files → their names, renamed in order once all are fsynced.
    moves: Vec<(Folder, PathBuf, PathBuf)>,
    /// The fsyncs of those temporaries (started when they were staged).
    synced: Vec<sync::Pending>,
    /// Report lines, in order.
    lines: Vec<u8>,
    /// Folders where files were renamed.
    touched: BTreeSet<Folder>,
    /// Files of earlier results of a message, removed once the new result is reported.
    superseded: Vec<(MessageHash, String)>,
    /// Release lines written.
    released: u64,
}

/// What `dmpfeed held release` did for one patient.
#[derive(Debug, Default)]
pub struct ReleaseReport {
    /// The IPP asked for, where merges led it (`None`: released by INS only).
    pub ipp: Option<String>,
    /// Lines written: the released message's `released_from` and its new outcome.
    pub released: Vec<(String, Outcome)>,
    /// Messages still held: their held line's `source` and why.
    pub still_held: Vec<(String, Vec<ReasonCode>)>,
}

impl OutputDir {
    /// Creates or opens `root`: the folders, the lock, stale temporaries removed, the registry
    /// opened (created, or upgraded), the NAME index brought up to `report.jsonl` (a torn last
    /// line, from a crash mid-write, is cut off), the files of superseded results removed.
    /// Makes every conversion into this folder (those of a run, re-conversions at commit time,
    /// releases) write the artefacts `emit` asks for besides the CDA.
    pub fn with_emit(mut self, emit: Emit) -> OutputDir {
        self.emit = emit;
        self
    }

    pub fn open(root: &Path, config: &Config) -> Result<OutputDir, Error> {
        let io = |what: &Path, e| Error::io(what.display(), e);
        std::fs::create_dir_all(root).map_err(|e| io(root, e))?;
        refuse_planted_links(root)?;
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
        let registry_path = registry::path_in(root);
        // A report begun before the registry existed names its messages by SHA-1: a registry
        // created now must keep to it ([`crate::message_hash`]).
        let reported = index::reported_algorithm(&mut report, &report_path)?;
        let mut registry =
            Registry::open_with(&registry_path, reported.unwrap_or(Algorithm::NEW_FOLDERS))?;
        let message_hash = registry.message_hash_algorithm();
        let opened = index::open(&mut report, &report_path, &mut registry)?;
        if opened.lines_indexed > 0 {
            tracing::debug!(
                "{}: {} line(s) indexed in the registry",
                report_path.display(),
                opened.lines_indexed
            );
        }
        let folders = Folder::ALL
            .iter()
            .map(|f| {
                let dir = root.join(f.as_str());
                File::open(&dir).map_err(|e| io(&dir, e))
            })
            .collect::<Result<Vec<File>, Error>>()?;
        let syncer = open_syncer(root, &folders, config)?;
        let dir = OutputDir {
            root: root.to_path_buf(),
            config: config.clone(),
            emit: Emit::NONE,
            message_hash,
            temps: TempNames::default(),
            syncer,
            folders,
            readers: Readers::new(&registry_path),
            kept: Arc::new(AtomicUsize::new(0)),
            state: Mutex::new(State {
                report,
                report_len: opened.report_len,
                run: opened.run,
                superseded_listed: false,
                registry,
                already_recorded: 0,
                released: 0,
            }),
            _lock: lock,
        };
        {
            let mut state = dir.lock()?;
            let removed = dir.remove_superseded(&state.registry, opened.superseded)?;
            state.registry.transaction(|tx| tx.clear_superseded())?;
            if removed > 0 {
                tracing::info!(
                    "{}: removed {removed} file(s) of results superseded before an interruption",
                    root.display()
                );
            }
        }
        durable::sync_dir(root).map_err(|e| io(root, e))?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Messages of this run whose same result was already in the report (no new line).
    pub fn already_recorded(&self) -> u64 {
        self.state.lock().map(|s| s.already_recorded).unwrap_or(0)
    }

    /// Release lines written in this run (held messages converted again).
    pub fn released(&self) -> u64 {
        self.state.lock().map(|s| s.released).unwrap_or(0)
    }

    /// Writes `summary.json` durably.
    pub fn write_summary(&self, bytes: &[u8]) -> Result<(), Error> {
        durable::replace_file(&self.root, SUMMARY, bytes, &self.temps)
            .map_err(|e| Error::io(self.root.join(SUMMARY).display(), e))
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, Error> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("output state poisoned".into()))
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
        let file = match self.folder_fd(folder) {
            Some(fd) => durable::write_new_in(fd, &temp, bytes),
            None => durable::write_new(&temp, bytes),
        }
        .map_err(|e| Error::io(dir.display(), e))?;
        if let Some(f) = files.files.last_mut() {
            f.synced = Some(self.syncer.submit(file, &f.temp));
        }
        Ok(())
    }

    /// The files of the message's outcome, staged.
    fn stage_outcome(&self, record: &Record, raw: &[u8], staged: &mut Staged) -> Result<(), Error> {
        let c = &record.conversion;
        let Some(folder) = Folder::for_outcome(c.outcome) else {
            return Ok(());
        };
        match c.outcome {
            Outcome::Converted => {
                let doc = c.document.as_ref().ok_or_else(|| {
                    Error::Internal(format!("{}: converted without a document", record.source))
                })?;
                self.stage_file(staged, folder, ".xml", &doc.cda)?;
                for a in &doc.artefacts {
                    check_suffix(&a.suffix, staged)?;
                    self.stage_file(staged, folder, &a.suffix, &a.bytes)?;
                }
            }
            Outcome::Deleted => {
                let sidecar = Sidecar::new(record).to_bytes();
                self.stage_file(staged, folder, ".json", &sidecar)?;
                for a in c.deletion.iter().flat_map(|d| &d.artefacts) {
                    check_suffix(&a.suffix, staged)?;
                    self.stage_file(staged, folder, &a.suffix, &a.bytes)?;
                }
            }
            Outcome::Recorded => {}
            Outcome::Held | Outcome::Excluded | Outcome::Rejected => {
                // The original bytes, byte for byte, and why.
                self.stage_file(staged, folder, ".hl7", raw)?;
                let sidecar = Sidecar::new(record).with_kept(raw.len()).to_bytes();
                self.stage_file(staged, folder, ".json", &sidecar)?;
            }
        }
        Ok(())
    }

    /// Keeps a message's bytes until its commit: in memory while the budget allows, else in a
    /// temporary file of the folder (removed at commit, or when the folder is next opened).
    fn keep(&self, raw: Vec<u8>) -> Result<Kept, Error> {
        let before = self.kept.fetch_add(raw.len(), Ordering::Relaxed);
        if before.saturating_add(raw.len()) <= KEEP_IN_MEMORY {
            return Ok(Kept {
                place: KeptIn::Memory(raw),
                budget: Arc::clone(&self.kept),
            });
        }
        self.kept.fetch_sub(raw.len(), Ordering::Relaxed);
        let temp = self.temps.next_in(&self.root);
        let kept = Kept {
            place: KeptIn::File(temp.clone()),
            budget: Arc::clone(&self.kept),
        };
        // Never fsynced: only this run reads it back.
        durable::write_new(&temp, &raw).map_err(|e| Error::io(self.root.display(), e))?;
        Ok(kept)
    }

    /// Converts with the registry transaction as memory; a panic is a bug, reported as such.
    fn convert_in(
        &self,
        memory: &MessageMemory<'_, Tx<'_>>,
        raw: &[u8],
        source: &str,
    ) -> Result<Conversion, Error> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            convert_recalling(raw, None, &self.config, Some(memory), &self.emit)
        }))
        .map_err(|_| Error::Internal(format!("{source}: the conversion of this message panicked")))
    }

    /// Asks again every question the message's conversion asked of the registry; when an answer
    /// changed (an earlier message, committed meanwhile or earlier in this group, changed its
    /// chain or its patient), converts it again with the transaction as memory.
    fn settle(&self, tx: &Tx<'_>, done: &mut Done<Staged>) -> Result<(), Error> {
        let lookups = &done.record.conversion.facts.lookups;
        if lookups.is_empty() {
            return Ok(());
        }
        let memory = MessageMemory::new(tx, &done.record.hash.hex());
        for lookup in lookups {
            let holds = lookup
                .holds(&memory)
                .map_err(|u| Error::Output(format!("registry: {}", u.0)))?;
            if holds {
                continue;
            }
            let kept = done.staged.kept.as_ref().ok_or_else(|| {
                Error::Internal(format!("{}: message bytes not kept", done.record.source))
            })?;
            let raw = kept
                .bytes()
                .map_err(|e| Error::io(self.root.display(), e))?
                .into_owned();
            let mut record = done.record.clone();
            record.conversion = self.convert_in(&memory, &raw, &record.source)?;
            tracing::debug!(
                source = %record.source,
                outcome = %record.conversion.outcome,
                "converted again: an earlier message changed its chain or its patient"
            );
            let staged = self.stage(&record, raw)?;
            done.record = record;
            done.staged = staged;
            return Ok(());
        }
        Ok(())
    }

    /// Files one message inside the commit's transaction: registry, NAME and files, report line;
    /// an ADT's releases.
    fn file_one(
        &self,
        tx: &mut Tx<'_>,
        books: &mut Books<'_>,
        pending: &mut Pending,
        record: &mut Record,
        staged: &mut Staged,
    ) -> Result<(), Error> {
        if record.conversion.facts.update.is_some()
            && let Err(finding) = self.record_update(tx, record, staged)?
        {
            // The registry refused what the message asks (a merge undoing an earlier one).
            let raw = self.kept_bytes(staged, &record.source)?;
            record.conversion = Conversion::rejected(record.conversion.header.clone(), finding);
            *staged = self.stage(record, raw)?;
        }
        // Asked by both steps below for a converted message: once.
        let mut held = HeldOnce::default();
        self.exclude_if_superseded(tx, &mut held, record, staged)?;
        // What the report said of this message before (an earlier run, or this group).
        let indexed = tx.indexed_message(record.hash.as_bytes())?;
        let name = match indexed.as_ref().and_then(|m| m.name.clone()) {
            _ if staged.files.is_empty() => None,
            // A message keeps its name.
            Some(name) => Some(name),
            None => Some(name::new_name(
                &index::Owners(tx),
                record.name_key(),
                &record.hash,
            )?),
        };
        let files: Vec<String> = match &name {
            Some(name) => staged
                .files
                .iter()
                .map(|f| format!("{}/{name}{}", f.folder.as_str(), f.suffix))
                .collect(),
            None => Vec::new(),
        };
        self.remember(tx, &mut held, record, staged.answers.as_deref(), &files)?;
        let line = ReportLine::new(record, name.as_deref(), &files);
        let line_before_run = indexed
            .as_ref()
            .and_then(|m| index::line_before_run(books.report, &record.hash, m, books.run));
        let unchanged = match line_before_run {
            Some(before) => {
                let value = serde_json::to_value(&line)
                    .map_err(|e| Error::Internal(format!("report line: {e}")))?;
                fingerprint(&value) == before
            }
            None => false,
        };
        // The same result as the report's line already says: a `.json` already in place stays
        // as it is, so that it names the same source as that line, not this resend's (it holds
        // nothing else that could differ). The other files are written again: a changed
        // configuration may change a CDA without changing the line.
        for (f, rel) in staged.files.iter().zip(&files) {
            if unchanged && f.suffix == ".json" && self.root.join(rel).is_file() {
                // Its temporary goes now: the group owns only the files it renames.
                let _ = std::fs::remove_file(&f.temp);
                continue;
            }
            // Renamed at the end of the group, once every file of the group is fsynced.
            pending
                .moves
                .push((f.folder, f.temp.clone(), self.root.join(rel)));
            let synced = f.synced.clone().ok_or_else(|| {
                Error::Internal(format!(
                    "{}: a staged file was never written",
                    record.source
                ))
            })?;
            pending.synced.push(synced);
            pending.touched.insert(f.folder);
        }
        // From here on the group owns the temporaries (left for the next open to remove if the
        // group fails).
        staged.committed = !files.is_empty();
        if unchanged {
            // The line in the report stays its latest, and the index as it is.
            *books.already_recorded += 1;
        } else {
            let line_at = books.report_len + pending.lines.len() as u64;
            serde_json::to_writer(&mut pending.lines, &line)
                .map_err(|e| Error::Internal(format!("report line: {e}")))?;
            pending.lines.push(b'\n');
            // Files of an earlier result of the same message that this one did not rewrite:
            // listed in the registry until removed, in case a crash comes first.
            for old in indexed.iter().flat_map(|m| m.files.iter()) {
                if !files.contains(old) {
                    tx.list_superseded(record.hash.as_bytes(), old)?;
                    pending.superseded.push((record.hash, old.clone()));
                }
            }
            // At once, so that the next message sees the name taken.
            tx.index_message(
                record.hash.as_bytes(),
                &IndexedMessage {
                    name: name.clone(),
                    files,
                    line_at,
                    line_len: books.report_len + pending.lines.len() as u64 - line_at,
                    run: books.run,
                },
            )?;
        }
        if record.conversion.facts.released_from.is_some() && !unchanged {
            pending.released += 1;
        }
        if record.conversion.outcome == Outcome::Recorded
            && let Some(update) = &record.conversion.facts.update
            && update.qualified
        {
            let (ipp, ins) = (update.ipp.clone(), update.ins.clone());
            let patient = (Some(ipp.as_str()), ins.as_deref());
            self.release(tx, books, pending, patient, &record.source, record.seq)?;
        }
        Ok(())
    }

    /// A held message converted after a later version of its document was sent (its T10 went
    /// out while it waited, or another replacement of its parent did) must not be sent: the DMP
    /// would get an outdated version after the current one. It is `excluded` with
    /// `DOCUMENT_SUPERSEDED` instead (its files go to `excluded/`, not `documents/`), and its held
    /// entry is marked superseded by that version's file. A message whose document was already
    /// recorded from these very bytes (sent before the newer version came: a rerun) keeps its
    /// result.
    fn exclude_if_superseded(
        &self,
        tx: &mut Tx<'_>,
        held: &mut HeldOnce,
        record: &mut Record,
        staged: &mut Staged,
    ) -> Result<(), Error> {
        let c = &record.conversion;
        let (Outcome::Converted, Some(doc), Some(id)) =
            (c.outcome, &c.document, &c.facts.document_id)
        else {
            return Ok(());
        };
        let hash = record.hash.hex();
        if held.entry(tx, &hash)?.is_none()
            || tx
                .find_document(id)?
                .is_some_and(|row| row.message_hash == hash)
        {
            return Ok(());
        }
        let Some(newer) = tx.superseding(id, c.facts.parent_id.as_deref(), &doc.metadata.set_id)?
        else {
            return Ok(());
        };
        let own_id = match c.header.as_ref() {
            Some(h) if h.message_type.starts_with("ORU") => "OBR-3",
            _ => "TXA-12",
        };
        let finding = Finding::new(
            ReasonCode::DocumentSuperseded,
            own_id,
            // The same words whatever version came since, so that a rerun gives the same line;
            // the registry names the version (`released_as`).
            "a later version of this document was sent while this message was held: sent now, \
             it would reach the DMP as an outdated version after the current one; not sent",
        );
        let raw = self.kept_bytes(staged, &record.source)?;
        let c = &mut record.conversion;
        c.outcome = Outcome::Excluded;
        c.document = None;
        c.findings = vec![finding];
        *staged = self.stage(record, raw)?;
        if tx.mark_released(&hash, &format!("{SUPERSEDED}{}", newer.output_path))? {
            tracing::info!(
                source = %record.source,
                newer = %newer.output_path,
                "held message not sent: a later version of its document was sent meanwhile"
            );
        }
        Ok(())
    }

    fn kept_bytes(&self, staged: &Staged, source: &str) -> Result<Vec<u8>, Error> {
        let kept = staged
            .kept
            .as_ref()
            .ok_or_else(|| Error::Internal(format!("{source}: message bytes not kept")))?;
        Ok(kept
            .bytes()
            .map_err(|e| Error::io(self.root.display(), e))?
            .into_owned())
    }

    /// Records an ADT message: merge (A40, A47), identity, opposition. `Err(finding)` when the
    /// registry refuses the merge (the message is then rejected).
    fn record_update(
        &self,
        tx: &mut Tx<'_>,
        record: &Record,
        staged: &Staged,
    ) -> Result<Result<(), Finding>, Error> {
        let Some(u) = &record.conversion.facts.update else {
            return Ok(Ok(()));
        };
        let hash = record.hash.hex();
        if let Some(old) = &u.merged_from {
            let merge = PatientMerge {
                old_ipp: old,
                surviving_ipp: &u.ipp,
                source: &record.source,
                message_hash: &hash,
            };
            match tx.merge_patients(&merge) {
                Ok(_) => {}
                Err(RegistryError::MergeCycle { .. }) => {
                    return Ok(Err(Finding::new(
                        ReasonCode::UnsupportedMessage,
                        "MRG-1",
                        "this merge would undo an earlier one (the patient of PID was merged \
                         into the patient of MRG-1): unmerging records is not supported",
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let adt = self.kept_bytes(staged, &record.source)?;
        tx.record_patient_identity(&PatientIdentity {
            ipp: &u.ipp,
            ins: u.ins.as_deref(),
            qualified: u.qualified,
            adt_message: &adt,
            source: &record.source,
            message_hash: &hash,
        })?;
        if let Some(o) = &u.opposition {
            tx.set_opposition(&Opposition {
                ipp: &u.ipp,
                opposed: o.opposed,
                since: o.since,
                source: &record.source,
                message_hash: &hash,
            })?;
        }
        Ok(Ok(()))
    }

    /// Writes in the registry what a message's result means: a document, a deletion, a held
    /// message; and, when the message had been held, that it no longer is (`released_from`).
    fn remember(
        &self,
        tx: &mut Tx<'_>,
        held: &mut HeldOnce,
        record: &mut Record,
        answers: Option<&str>,
        files: &[String],
    ) -> Result<(), Error> {
        let hash = record.hash.hex();
        // Staged with the conversion: every change of the conversion is staged again.
        debug_assert_eq!(
            answers,
            answers_json(&record.conversion.facts.lookups)
                .ok()
                .flatten()
                .as_deref()
        );
        if let Some(answers) = answers {
            tx.remember_answers(&hash, answers)?;
        }
        let c = &record.conversion;
        let facts = &c.facts;
        let event = c.header.as_ref().map_or("", |h| h.message_type.as_str());
        let first = files.first().map(String::as_str);
        match c.outcome {
            Outcome::Converted => {
                if let (Some(doc), Some(id), Some(path)) = (&c.document, &facts.document_id, first)
                {
                    let m = &doc.metadata;
                    let new = NewDocument {
                        source_id: id,
                        sent_id: facts.sent_id.as_deref(),
                        parent_source_id: facts.parent_id.as_deref(),
                        cda_id: &m.unique_id,
                        set_id: &m.set_id,
                        version: m.version,
                        ipp: facts.ipp.as_deref(),
                        ins: facts.ins.as_deref(),
                        output_path: path,
                        source: &record.source,
                        message_hash: &hash,
                        event,
                    };
                    match tx.record_converted(&new) {
                        Ok(_) => {}
                        // Only a CDA received with its own setId and version can land on a
                        // place another document holds: it is passed on as the DPI built it.
                        Err(e @ RegistryError::ChainConflict { .. }) => {
                            tracing::warn!("{}: not recorded in the registry: {e}", record.source);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Outcome::Deleted => {
                if let (Some(d), Some(path)) = (&c.deletion, first) {
                    tx.record_deleted(&NewDeletion {
                        source_id: &d.document_id,
                        sent_id: facts.sent_id.as_deref(),
                        ipp: facts.ipp.as_deref(),
                        ins: facts.ins.as_deref(),
                        output_path: path,
                        source: &record.source,
                        message_hash: &hash,
                        event,
                    })?;
                }
            }
            Outcome::Held => {
                let path = files.iter().find(|f| f.ends_with(".hl7"));
                if let Some(path) = path {
                    let codes = c.codes();
                    let reasons: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
                    tx.record_held(&HeldDocument {
                        source: &record.source,
                        document_id: facts.document_id.as_deref(),
                        ipp: facts.ipp.as_deref(),
                        ins: facts.ins.as_deref(),
                        reasons: &reasons,
                        path,
                        message_hash: &hash,
                    })?;
                }
                return Ok(());
            }
            Outcome::Recorded => return Ok(()),
            Outcome::Excluded | Outcome::Rejected => {}
        }
        // A message that was held and now has another result: released.
        if let Some(source) = held.entry(tx, &hash)?.map(|e| e.source.clone()) {
            tx.mark_released(&hash, first.unwrap_or(""))?;
            record.conversion.facts.released_from = Some(source);
        }
        // Another message converted, excluded or deleted the document: the messages still held
        // for it are settled, never to be released (a deleted document must not reach the DMP,
        // nor a version already sent be sent twice).
        let settles = matches!(
            record.conversion.outcome,
            Outcome::Converted | Outcome::Deleted | Outcome::Excluded
        );
        if let (true, Some(id), Some(path)) = (settles, &record.conversion.facts.document_id, first)
        {
            for held in tx.held_for_document(id)? {
                if held.message_hash != hash {
                    tx.mark_released(&held.message_hash, &format!("{SETTLED}{path}"))?;
                }
            }
        }
        Ok(())
    }

    /// Converts again every message held for the patient — filed under the IPP (merges
    /// followed) or carrying the INS —, with what the registry now holds (the identity just
    /// recorded): each one that is no longer held gets a new line naming the held line in
    /// `released_from`, and leaves `held/`. A message released in the registry whose release
    /// line never reached the report (a crash in between) is released again.
    fn release(
        &self,
        tx: &mut Tx<'_>,
        books: &mut Books<'_>,
        pending: &mut Pending,
        (ipp, ins): (Option<&str>, Option<&str>),
        source: &str,
        seq: u64,
    ) -> Result<ReleaseReport, Error> {
        let mut report = ReleaseReport {
            ipp: ipp.map(|i| tx.canonical_ipp(i)).transpose()?,
            ..ReleaseReport::default()
        };
        let mut waiting: Vec<(HeldEntry, MessageHash)> = Vec::new();
        for e in tx.held_ever_for_patient(ipp, ins)? {
            waiting.extend(still_waiting(tx, e)?);
        }
        let mut documents_done = HashSet::new();
        for (i, (first, _)) in waiting.iter().enumerate() {
            // Several messages held for one document (the DPI sent it again): only its latest
            // is released, in the place of the first, and the earlier ones are settled by it
            // (docs/worklist.md) — one CDA per document, with the DPI's latest content.
            let mut earlier = Vec::new();
            let latest = match first.document_id.as_deref() {
                Some(id) if !documents_done.insert(id) => continue,
                Some(id) => {
                    let mut same = waiting[i..]
                        .iter()
                        .filter(|(e, _)| e.document_id.as_deref() == Some(id));
                    let latest = same.next_back().map_or(first, |(e, _)| e);
                    earlier.extend(same.map(|(e, _)| e.source.clone()));
                    latest
                }
                None => first,
            };
            // Read again: what this release did so far may have settled it.
            let entry = tx.held_entry(&latest.message_hash)?;
            let Some((entry, hash)) = entry.map(|e| still_waiting(tx, e)).transpose()?.flatten()
            else {
                continue;
            };
            let path = self.root.join(&entry.path);
            // Held earlier in this group, its original is still under its temporary name.
            let at = pending
                .moves
                .iter()
                .rev()
                .find(|(_, _, target)| *target == path)
                .map_or(path.as_path(), |(_, temp, _)| temp.as_path());
            let raw = match std::fs::read(at) {
                Ok(raw) if hash.algorithm().hash(&raw) == hash => raw,
                Ok(_) => {
                    tracing::error!(
                        "{}: changed since it was held; not released",
                        path.display()
                    );
                    continue;
                }
                Err(e) => {
                    tracing::error!("{}: cannot be released: {e}", path.display());
                    continue;
                }
            };
            let conversion = self.convert_in(&MessageMemory::fresh(&*tx), &raw, &entry.source)?;
            if conversion.outcome == Outcome::Held {
                let codes = conversion.codes();
                // The earlier messages for the document wait behind it.
                for source in earlier.into_iter().chain([entry.source.clone()]) {
                    report.still_held.push((source, codes.clone()));
                }
                continue;
            }
            let mut record = Record {
                seq,
                source: source.to_owned(),
                framing: Framing::Plain,
                size: raw.len() as u64,
                hash,
                header: AckHeader::read(&raw),
                undecodable: false,
                conversion,
            };
            let mut staged = self.stage(&record, raw)?;
            self.file_one(tx, books, pending, &mut record, &mut staged)?;
            tracing::debug!(
                released_from = %entry.source,
                outcome = %record.conversion.outcome,
                "held message released"
            );
            report
                .released
                .push((entry.source.clone(), record.conversion.outcome));
        }
        Ok(report)
    }

    /// Removes files of earlier results that the latest result of their message does not name,
    /// except documents and deletion records ([`Folder::is_sent`]); fsyncs their folders.
    fn remove_superseded(
        &self,
        registry: &impl RegistryRead,
        superseded: Vec<(MessageHash, String)>,
    ) -> Result<usize, Error> {
        let mut touched = BTreeSet::new();
        let mut removed = 0;
        for (hash, rel) in superseded {
            let Some(folder) = rel.split('/').next().and_then(Folder::from_str) else {
                continue;
            };
            if folder.is_sent() || rel.contains("..") {
                continue;
            }
            let current = registry
                .indexed_message(hash.as_bytes())?
                .is_some_and(|m| m.files.contains(&rel));
            if current {
                continue;
            }
            let path = self.root.join(&rel);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    removed += 1;
                    touched.insert(folder);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path.display(), e)),
            }
        }
        self.sync_folders(&touched)?;
        Ok(removed)
    }

    /// The folder, open.
    fn folder_fd(&self, folder: Folder) -> Option<&File> {
        Folder::ALL
            .iter()
            .position(|f| *f == folder)
            .and_then(|i| self.folders.get(i))
    }

    /// Renames `temp` to `target`, both in `folder`: through the folder's open descriptor, so
    /// that the kernel does not walk the two paths from the root for each of thousands of files.
    fn rename_in(&self, folder: Folder, temp: &Path, target: &Path) -> std::io::Result<()> {
        match (self.folder_fd(folder), temp.file_name(), target.file_name()) {
            (Some(dir), Some(from), Some(to)) => {
                rustix::fs::renameat(dir, from, dir, to).map_err(std::io::Error::from)
            }
            _ => std::fs::rename(temp, target),
        }
    }

    /// Makes the names created, renamed or removed in `folders` durable.
    fn sync_folders(&self, folders: &BTreeSet<Folder>) -> Result<(), Error> {
        let dirs: Vec<PathBuf> = folders.iter().map(|f| self.root.join(f.as_str())).collect();
        self.syncer
            .sync_folders(&dirs)
            .map_err(|(dir, e)| Error::io(dir.display(), e))
    }

    /// Runs `f` in one registry transaction, then makes everything durable in order: the folders
    /// touched, the transaction, the report lines; then removes superseded files.
    fn commit_with<R>(
        &self,
        f: impl FnOnce(&mut Tx<'_>, &mut Books<'_>, &mut Pending) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let mut guard = self.lock()?;
        let State {
            report,
            report_len,
            run,
            superseded_listed,
            registry,
            already_recorded,
            released,
        } = &mut *guard;
        let mut pending = Pending::default();
        let mut books = Books {
            report,
            report_len: *report_len,
            run: *run,
            already_recorded,
        };
        let r = registry.transaction(|tx| -> Result<R, Error> {
            if *superseded_listed {
                // The last commit removed them after its lines were in the report.
                tx.clear_superseded()?;
            }
            let r = f(tx, &mut books, &mut pending)?;
            if let Some(last) = last_line(&pending.lines) {
                // The report once this group's lines are appended (step 4): what a run that
                // opens the folder next will check.
                tx.set_report_state(&ReportState {
                    indexed_bytes: books.report_len + pending.lines.len() as u64,
                    last_line_len: last.len() as u64,
                    last_line_blake3: Some(*blake3::hash(last).as_bytes()),
                    runs: books.run,
                })?;
            }
            // The group's files are on disk (their fsyncs started when they were staged, several
            // at a time), then take their names.
            for (synced, (_, temp, _)) in pending.synced.iter().zip(&pending.moves) {
                synced.wait().map_err(|e| Error::io(temp.display(), e))?;
            }
            for (folder, temp, target) in &pending.moves {
                self.rename_in(*folder, temp, target)
                    .map_err(|e| Error::io(target.display(), e))?;
            }
            self.sync_folders(&pending.touched)?;
            Ok(r)
        })?;
        *superseded_listed = !pending.superseded.is_empty();
        if !pending.lines.is_empty() {
            let path = self.root.join(REPORT);
            report
                .write_all(&pending.lines)
                .and_then(|()| report.sync_data())
                .map_err(|e| Error::io(path.display(), e))?;
            *report_len += pending.lines.len() as u64;
        }
        *released += pending.released;
        self.remove_superseded(&*registry, pending.superseded)?;
        Ok(r)
    }

    /// `dmpfeed held release --ipp | --ins`: converts again every message held for the patient
    /// (filed under the IPP, or carrying the INS), with the identity the registry holds and the
    /// current configuration.
    pub fn release_patient(
        &self,
        ipp: Option<&str>,
        ins: Option<&str>,
    ) -> Result<ReleaseReport, Error> {
        self.commit_with(|tx, books, pending| {
            self.release(tx, books, pending, (ipp, ins), MANUAL_RELEASE, 0)
        })
    }
}

/// The registry's copy of a conversion's questions and answers (`None`: it asked none).
fn answers_json(lookups: &[crate::recall::Lookup]) -> Result<Option<String>, Error> {
    if lookups.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(lookups)
        .map(Some)
        .map_err(|e| Error::Internal(format!("answers: {e}")))
}

/// A message's entry in the worklist, looked up at most once while it is filed: a message is
/// never added to nor removed from the worklist while it is filed as converted, deleted,
/// excluded or rejected (only marked released), so what is read first stays true.
#[derive(Default)]
struct HeldOnce(Option<Option<HeldEntry>>);

impl HeldOnce {
    fn entry(&mut self, tx: &Tx<'_>, hash: &str) -> Result<Option<&HeldEntry>, Error> {
        if self.0.is_none() {
            self.0 = Some(tx.held_entry(hash)?);
        }
        Ok(self.0.as_ref().and_then(Option::as_ref))
    }
}

/// A held message (by its registry entry) that a release must convert, with its hash: still
/// held, or released in the registry while the report still says held (a crash between the
/// registry's commit and the report line) unless another message settled it.
fn still_waiting(tx: &Tx<'_>, entry: HeldEntry) -> Result<Option<(HeldEntry, MessageHash)>, Error> {
    let Some(hash) = MessageHash::parse_hex(&entry.message_hash) else {
        return Ok(None);
    };
    let reported_held = tx.indexed_message(hash.as_bytes())?.as_ref().map(is_held);
    let settled = entry
        .released_as
        .as_deref()
        .is_some_and(|r| r.starts_with(SETTLED));
    let waiting = match entry.status {
        HeldStatus::Held => reported_held != Some(false),
        HeldStatus::Released => reported_held == Some(true) && !settled,
    };
    Ok(waiting.then_some((entry, hash)))
}

/// The last line of `lines` (each ends with a newline), newline included.
fn last_line(lines: &[u8]) -> Option<&[u8]> {
    let (_, before) = lines.split_last()?;
    Some(&lines[memchr::memrchr(b'\n', before).map_or(0, |i| i + 1)..])
}

/// The commit's view of the report (the NAME index is in the registry transaction).
struct Books<'a> {
    report: &'a File,
    /// The report's length when the group began: its lines go after.
    report_len: u64,
    run: u64,
    already_recorded: &'a mut u64,
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

    fn message_hash_algorithm(&self) -> Algorithm {
        self.message_hash
    }

    fn warm(&self) {
        self.readers.warm();
    }

    fn convert(
        &self,
        raw: &[u8],
        defect: Option<FrameDefect>,
        hash: &MessageHash,
        config: &Config,
    ) -> Conversion {
        if defect.is_some() {
            return crate::convert::convert(raw, defect, config);
        }
        self.readers.with(&hash.hex(), |memory| {
            convert_recalling(raw, defect, config, Some(memory), &self.emit)
        })
    }

    fn stage(&self, record: &Record, raw: Vec<u8>) -> Result<Staged, Error> {
        let c = &record.conversion;
        let mut staged = Staged::default();
        staged.answers = answers_json(&c.facts.lookups)?;
        self.stage_outcome(record, &raw, &mut staged)?;
        if c.facts.needs_message() {
            // The bytes themselves, not a copy (a PDF message is hundreds of KB).
            staged.kept = Some(self.keep(raw)?);
        }
        Ok(staged)
    }

    fn commit(&self, group: &mut [Done<Staged>]) -> Result<(), Error> {
        self.commit_with(|tx, books, pending| {
            for done in group.iter_mut() {
                self.settle(tx, done)?;
                let Done { record, staged } = done;
                self.file_one(tx, books, pending, record, staged)?;
                // The bytes are no longer needed.
                staged.kept = None;
            }
            Ok(())
        })
    }
}

/// The files dmpfeed opens in place inside the output folder (the report is appended to, the
/// registry and the lock opened, the outcome folders written into) must not be symbolic links:
/// one planted there would make dmpfeed write outside the folder. Files written under a
/// temporary name and renamed need no check (`create_new` and `rename` do not follow links).
/// The [`Syncer`] `[output] sync` asks for, on this output folder's file system; the choice is
/// logged (at debug level: `-v`).
fn open_syncer(root: &Path, folders: &[File], config: &Config) -> Result<Syncer, Error> {
    let dir = File::open(root).map_err(|e| Error::io(root.display(), e))?;
    let facts = sync::Facts::of(&dir, folders).map_err(|e| Error::io(root.display(), e))?;
    let (way, why) = sync::choose(config.output.sync, &facts).map_err(Error::Output)?;
    tracing::debug!(
        "{}: files made durable by {} ({why})",
        root.display(),
        match way {
            sync::Way::File => "an fsync of each file",
            sync::Way::FileSystem => "one syncfs per group",
        }
    );
    Syncer::new(way, &dir, root)
        .map_err(|e| Error::Internal(format!("cannot start the syncer: {e}")))
}

fn refuse_planted_links(root: &Path) -> Result<(), Error> {
    let fixed = [REPORT, LOCK, SUMMARY]
        .into_iter()
        .map(str::to_owned)
        .chain(
            ["", "-wal", "-shm", "-journal"]
                .iter()
                .map(|s| format!("{}{s}", registry::FILE_NAME)),
        )
        .chain(Folder::ALL.iter().map(|f| f.as_str().to_owned()));
    for name in fixed {
        let path = root.join(&name);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::Output(format!(
                "{}: is a symbolic link; dmpfeed writes only inside the output folder and does \
                 not follow links there",
                path.display()
            )));
        }
    }
    Ok(())
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
            facts: Default::default(),
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
                hash: dir.message_hash_algorithm().hash(raw),
                header: None,
                undecodable: false,
                conversion,
            };
            let staged = dir.stage(&record, raw.to_vec()).unwrap();
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

    /// Every file under root, relative, sorted (the lock file and the registry excepted).
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
            .filter(|p| p != LOCK && !p.starts_with(registry::FILE_NAME))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn each_outcome_writes_its_files_and_one_report_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
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
        let reject_name =
            crate::pipeline::name::fallback(&Algorithm::NEW_FOLDERS.hash(b"not hl7 at all"));
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
            let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
            put(&dir, items());
            assert_eq!(dir.already_recorded(), 0);
        }
        let first = tree(tmp.path());
        let first_report = std::fs::read(tmp.path().join(REPORT)).unwrap();
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
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
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
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
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
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
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
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
            let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
            put(&dir, vec![("a#1", &b"m"[..], held())]);
        }
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
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
            let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
            put(&dir, vec![("a#1", &b"m"[..], held())]);
        }
        let report_path = tmp.path().join(REPORT);
        let mut f = OpenOptions::new().append(true).open(&report_path).unwrap();
        f.write_all(b"{\"source\":\"a#2\",\"outc").unwrap();
        std::fs::write(tmp.path().join("held/.dmpfeed-tmp-1-1"), b"half").unwrap();
        let _dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
        assert_eq!(report(tmp.path()).len(), 1);
        assert!(!tmp.path().join("held/.dmpfeed-tmp-1-1").exists());
    }

    /// A crash after the registry committed a group and before its lines reached the report:
    /// the index says more than the report, is built again from the report, and the message,
    /// never ACKed, gets its line when it comes again — under the same name.
    #[test]
    fn lines_lost_after_the_registry_committed_are_written_when_the_message_comes_again() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
            put(&dir, vec![("a#1", &b"m"[..], held())]);
        }
        std::fs::write(tmp.path().join(REPORT), b"").unwrap();
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
        put(&dir, vec![("a#1", &b"m"[..], held())]);
        let lines = report(tmp.path());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0]["name"], "DOC-H");
        assert_eq!(dir.already_recorded(), 0);
    }

    /// A crash after a group's lines and before the removal of the files they superseded: the
    /// registry listed them, and the next open removes those that are no longer current.
    #[test]
    fn superseded_files_listed_before_a_crash_are_removed_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        let hash = {
            let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
            put(&dir, vec![("a#1", &b"m"[..], held())])[0].hash
        };
        std::fs::write(tmp.path().join("held/OLD.hl7"), b"m").unwrap();
        {
            let mut reg = Registry::open(&registry::path_in(tmp.path())).unwrap();
            reg.transaction(|tx| {
                tx.list_superseded(hash.as_bytes(), "held/OLD.hl7")?;
                tx.list_superseded(hash.as_bytes(), "held/DOC-H.hl7")
            })
            .unwrap();
        }
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
        assert!(!tmp.path().join("held/OLD.hl7").exists());
        assert!(
            tmp.path().join("held/DOC-H.hl7").exists(),
            "the message's current file stays"
        );
        let state = dir.lock().unwrap();
        assert!(state.registry.superseded_files().unwrap().is_empty());
    }

    /// The NAME index is the registry's: a run keeps nothing per message in memory, and opening
    /// a folder does not read again the lines the registry indexed.
    #[test]
    fn a_folder_opened_again_does_not_read_its_report_again() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
            put(
                &dir,
                vec![("a#1", &b"m1"[..], held()), ("a#2", &b"m2"[..], held())],
            );
        }
        // The first line edited by hand (its last line, which the registry checks, intact): a
        // run that read the report again would take the edited name.
        let text = std::fs::read_to_string(tmp.path().join(REPORT)).unwrap();
        let (first, rest) = text.split_once('\n').unwrap();
        assert!(first.contains("\"name\":\"DOC-H\""), "{first}");
        let edited = first.replacen("\"name\":\"DOC-H\"", "\"name\":\"XOC-H\"", 1);
        std::fs::write(tmp.path().join(REPORT), format!("{edited}\n{rest}")).unwrap();
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
        put(&dir, vec![("b#1", &b"m1"[..], held())]);
        let lines = report(tmp.path());
        assert_eq!(lines.len(), 3, "the edited line differs: a new line");
        assert_eq!(lines[2]["name"], "DOC-H", "the name from the index");
    }

    #[test]
    fn a_new_folder_names_its_messages_by_blake3() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
        assert_eq!(dir.message_hash_algorithm(), Algorithm::Blake3);
        put(&dir, vec![("a#1", &b"m"[..], held())]);
        let line = &report(tmp.path())[0];
        assert_eq!(line["blake3"], blake3::hash(b"m").to_hex().as_str());
        assert!(line.get("sha1").is_none(), "{line}");
        let sidecar: serde_json::Value =
            serde_json::from_slice(&std::fs::read(tmp.path().join("held/DOC-H.json")).unwrap())
                .unwrap();
        assert_eq!(sidecar["blake3"], line["blake3"]);
    }

    /// Writes `report.jsonl` as an earlier run left it: per line, a name (or none) and the
    /// message's hash under its algorithm's key.
    fn write_report(root: &Path, lines: &[(Option<&str>, MessageHash)]) {
        let mut text = String::new();
        for (name, hash) in lines {
            let mut line = serde_json::to_value(hash).unwrap();
            line["files"] = serde_json::json!([]);
            if let Some(name) = name {
                line["name"] = (*name).into();
            }
            text.push_str(&format!("{line}\n"));
        }
        std::fs::write(root.join(REPORT), text).unwrap();
    }

    /// A folder an earlier dmpfeed began without a registry: its report names messages by
    /// SHA-1, so the registry created now keeps to SHA-1, and a message sent again keeps its name.
    #[test]
    fn a_report_begun_by_sha1_keeps_its_messages_and_their_names() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let sha1 = Algorithm::Sha1.hash(b"m");
        write_report(
            root,
            &[
                (Some("OLD"), sha1),
                (Some("DOC-H"), Algorithm::Sha1.hash(b"other")),
            ],
        );
        let dir = OutputDir::open(root, &Config::default()).unwrap();
        assert_eq!(dir.message_hash_algorithm(), Algorithm::Sha1);
        let records = put(&dir, vec![("a#1", &b"m"[..], held())]);
        assert_eq!(records[0].hash, sha1);
        let line = &report(root)[2];
        assert_eq!(line["sha1"], sha1.hex(), "{line}");
        assert_eq!(line["name"], "OLD", "the name the message had");
        drop(dir);
        // The registry remembers: opened again, still SHA-1.
        let dir = OutputDir::open(root, &Config::default()).unwrap();
        assert_eq!(dir.message_hash_algorithm(), Algorithm::Sha1);
    }

    #[test]
    fn a_report_that_mixes_two_hashes_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write_report(
            root,
            &[
                (None, Algorithm::Sha1.hash(b"a")),
                (None, Algorithm::Blake3.hash(b"b")),
            ],
        );
        let e = OutputDir::open(root, &Config::default()).unwrap_err();
        assert!(
            e.to_string().contains("line 2 names its message by blake3"),
            "{e}"
        );
    }

    #[test]
    fn a_report_that_disagrees_with_its_registry_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        drop(OutputDir::open(root, &Config::default()).unwrap());
        write_report(root, &[(None, Algorithm::Sha1.hash(b"a"))]);
        let e = OutputDir::open(root, &Config::default()).unwrap_err();
        assert!(e.to_string().contains("registry.sqlite by blake3"), "{e}");
    }

    #[test]
    fn files_of_a_superseded_result_are_removed_at_open_but_never_a_document() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        drop(OutputDir::open(root, &Config::default()).unwrap());
        // As a crash between a release's report line and the removal of the held files leaves
        // it; and a message converted, then held (a document once written stays).
        let h1 = Algorithm::NEW_FOLDERS.hash(b"m1").hex();
        let h2 = Algorithm::NEW_FOLDERS.hash(b"m2").hex();
        let lines = [
            (h1.as_str(), r#"["held/A.hl7","held/A.json"]"#),
            (h1.as_str(), r#"["documents/A.xml"]"#),
            (h2.as_str(), r#"["documents/B.xml"]"#),
            (h2.as_str(), r#"["held/B.hl7","held/B.json"]"#),
        ];
        let mut report = String::new();
        for (hash, files) in lines {
            report.push_str(&format!("{{\"blake3\":\"{hash}\",\"files\":{files}}}\n"));
        }
        std::fs::write(root.join(REPORT), report).unwrap();
        for f in [
            "held/A.hl7",
            "held/A.json",
            "documents/A.xml",
            "documents/B.xml",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        for f in ["held/B.hl7", "held/B.json"] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        drop(OutputDir::open(root, &Config::default()).unwrap());
        assert_eq!(
            tree(root),
            [
                "documents/A.xml",
                "documents/B.xml",
                "held/B.hl7",
                "held/B.json",
                REPORT
            ]
        );
    }

    #[test]
    fn a_second_run_on_the_same_folder_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = OutputDir::open(tmp.path(), &Config::default()).unwrap();
        let second = OutputDir::open(tmp.path(), &Config::default()).unwrap_err();
        assert!(second.to_string().contains("another dmpfeed"), "{second}");
    }

    #[test]
    fn staged_files_not_committed_are_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
        let record = Record {
            seq: 0,
            source: "a#1".into(),
            framing: Framing::Plain,
            size: 1,
            hash: Algorithm::NEW_FOLDERS.hash(b"m"),
            header: None,
            undecodable: false,
            conversion: held(),
        };
        let staged = dir.stage(&record, b"m".to_vec()).unwrap();
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
            let dir = OutputDir::open(tmp.path(), &Config::default()).unwrap();
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
            hash: Algorithm::NEW_FOLDERS.hash(b"m"),
            header: None,
            undecodable: false,
            conversion: c,
        };
        assert!(matches!(
            dir.stage(&record, b"m".to_vec()),
            Err(Error::Internal(_))
        ));
        assert_eq!(tree(root), [REPORT.to_owned()]);
    }
}
