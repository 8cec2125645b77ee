//! The registry: dmpfeed's memory across messages, a crash-safe store in the output folder
//! (`DIR/registry.sqlite`, issue 9 and the storage of issue 10).
//!
//! It keeps every converted, replaced and deleted document with its chain (source id TXA-12 /
//! OBR-3, CDA id, setId, version, patient, status, output path) and each document's history; the
//! patients' latest identity from ADT messages, the messages held for an identity, the patients'
//! oppositions to DMP feeding (PAM-FR ZFA) and patient merges (A40).
//!
//! It stores what it is given: plain Rust values in, no HL7 parsing, no CDA. It depends on
//! nothing else in the crate; the pipeline and the converter call it.
//!
//! # Shape
//!
//! * [`Registry`] — the one writer of an output folder. Every write is one SQLite transaction;
//!   [`Registry::transaction`] groups many writes in one (group commit: a bulk run commits a batch
//!   at a time). Inside a [`Tx`], a write refused for what it asks (a chain conflict, a merge
//!   cycle) is refused before it changes anything: nothing of it stays and the batch goes on. A
//!   write that fails after it changed rows (a bug, a failing disk) poisons the transaction,
//!   which then commits nothing.
//! * [`RegistryReader`] — a read-only connection (the `documents` command, workers looking up a
//!   parent). Readers never block the writer nor each other (WAL) and see only committed data.
//! * [`RegistryRead`] — the look-ups, the same on all three (`use dmpfeed::registry::RegistryRead`).
//!
//! # Durability
//!
//! WAL journal with `synchronous=FULL`: a transaction is on disk when its commit returns, and a
//! kill -9 or a power cut at any moment leaves the registry at the last commit, never between.
//! The pipeline writes a document's files first (temporary name, fsync, rename, fsync of the
//! folder), then records it: a crash in between leaves a file without a row, which the rerun
//! converts again under the same name, never a row without its file.
//!
//! ```
//! use dmpfeed::registry::{NewDocument, Registry, RegistryRead};
//! let dir = tempfile::tempdir().unwrap();
//! let mut reg = Registry::open(&dir.path().join("registry.sqlite")).unwrap();
//! let pos = reg.chain_position("DOC-1", None).unwrap();
//! assert_eq!((pos.set_id, pos.version), (None, 1)); // a new chain: setId from the document's id
//! let doc = NewDocument {
//!     source_id: "DOC-1", sent_id: Some("DOC-1"), parent_source_id: None, cda_id: "1.2.3.1", set_id: "1.2.3.1",
//!     version: 1, ipp: Some("IPP1"), ins: None, output_path: "documents/DOC-1.xml",
//!     source: "in.hl7#1", message_hash: "h1", event: "MDM^T02",
//! };
//! reg.record_converted(&doc).unwrap();
//! let pos = reg.chain_position("DOC-2", Some("DOC-1")).unwrap();
//! assert_eq!((pos.set_id.as_deref(), pos.version), (Some("1.2.3.1"), 2));
//! ```

mod answers;
mod documents;
mod error;
mod patients;
mod report_index;
mod schema;
mod types;

pub use error::RegistryError;
pub use report_index::{IndexedMessage, ReportState};
/// The schema this dmpfeed writes (`SELECT MAX(version) FROM schema_version`); an older registry
/// is upgraded to it by the first writer that opens it.
pub use schema::CURRENT as SCHEMA_VERSION;
pub use types::{
    ChainPosition, Change, DeleteResult, DocumentEvent, DocumentHistory, DocumentRow,
    DocumentStatus, EventKind, HeldDocument, HeldEntry, HeldStatus, IdentityResult, MergeResult,
    NewDeletion, NewDocument, Opposition, OppositionChange, OppositionRow, PatientIdentity,
    PatientMerge, PatientRow, RecordResult, WorklistEntry,
};

use crate::message_hash::Algorithm;
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The registry's file name in the output folder.
pub const FILE_NAME: &str = "registry.sqlite";

/// How long a connection waits for another writer's lock before failing (two `convert` runs
/// into the same folder at once take turns).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The registry of an output folder: `DIR/registry.sqlite`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The time source of writes (replaceable in tests).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The writer of an output folder's registry.
pub struct Registry {
    conn: Connection,
    path: PathBuf,
    clock: Clock,
    /// What names this folder's messages (schema v4).
    message_hash: Algorithm,
}

/// A read-only connection to a registry.
pub struct RegistryReader {
    conn: Connection,
    path: PathBuf,
}

/// A write transaction: every write made through it commits together when the closure given to
/// [`Registry::transaction`] returns `Ok`, and none does otherwise.
pub struct Tx<'r> {
    tx: Open<'r>,
    path: &'r Path,
    clock: &'r Clock,
    /// A write failed after it changed rows: commit is refused.
    poisoned: bool,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("path", &self.path)
            .finish()
    }
}

impl std::fmt::Debug for RegistryReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryReader")
            .field("path", &self.path)
            .finish()
    }
}

impl Registry {
    /// Opens the registry at `path` for writing, creating it or migrating it to the current
    /// schema. The folder must exist. A registry created now names messages by
    /// [`Algorithm::NEW_FOLDERS`].
    pub fn open(path: &Path) -> Result<Registry, RegistryError> {
        Registry::open_with(path, Algorithm::NEW_FOLDERS)
    }

    /// [`Registry::open`], recording `if_new` as the folder's message hash if the registry is
    /// created now: SHA-1 for a folder whose report an earlier dmpfeed began without a registry.
    pub fn open_with(path: &Path, if_new: Algorithm) -> Result<Registry, RegistryError> {
        let sql = |source| RegistryError::Sqlite {
            path: path.to_owned(),
            source,
        };
        // No URI flag: a folder named `file:…` is a folder, not an SQLite URI.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        // Look before touching: a foreign database must not even be switched to WAL.
        check_found(path, schema::found(&conn).map_err(sql)?, false)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(RegistryError::Corrupt {
                path: path.to_owned(),
                table: "(journal)",
                what: format!("cannot switch to WAL (journal mode {mode})"),
            });
        }
        // FULL: the WAL is fsynced at each commit, so a commit that returned survives a power cut
        // (NORMAL would only protect against a process crash).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        // A statement journal (a statement that may fail after its first change) and the
        // ephemeral tables of some queries stay in memory, not in temporary files.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(sql)?;
        cache_statements(&conn).map_err(sql)?;
        let clock: Clock = Arc::new(Timestamp::now);
        let before = schema::migrate(&mut conn, &ts_to_sql(clock()), if_new).map_err(sql)?;
        check_found(path, before, false)?;
        let message_hash = schema::message_identity(&conn)
            .map_err(sql)?
            .ok_or_else(|| RegistryError::Corrupt {
                path: path.to_owned(),
                table: "message_identity",
                what: "no known message hash algorithm".into(),
            })?;
        tracing::debug!(path = %path.display(), schema = schema::CURRENT, "registry open");
        Ok(Registry {
            conn,
            path: path.to_owned(),
            clock,
            message_hash,
        })
    }

    /// Replaces the clock that dates the rows (tests).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The hash that names this folder's messages: the `message_hash` of its rows.
    pub fn message_hash_algorithm(&self) -> Algorithm {
        self.message_hash
    }

    /// Runs `f` in one write transaction: everything it wrote is committed together (one fsync)
    /// when it returns `Ok`, and rolled back when it returns `Err`. A write that fails inside
    /// (e.g. [`RegistryError::ChainConflict`]) leaves nothing behind, so `f` may report it and
    /// go on with the batch.
    pub fn transaction<R, E>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<R, E>) -> Result<R, E>
    where
        E: From<RegistryError>,
    {
        let path = &self.path;
        let sql = |source| RegistryError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = Open::begin(&self.conn).map_err(sql)?;
        let mut tx = Tx {
            tx,
            path,
            clock: &self.clock,
            poisoned: false,
        };
        let r = f(&mut tx)?;
        if tx.poisoned {
            return Err(tx.poisoned_error().into());
        }
        tx.tx.commit().map_err(sql)?;
        Ok(r)
    }

    /// [`Tx::record_converted`] in a transaction of its own.
    pub fn record_converted(
        &mut self,
        doc: &NewDocument<'_>,
    ) -> Result<RecordResult, RegistryError> {
        self.transaction(|tx| tx.record_converted(doc))
    }

    /// [`Tx::record_deleted`] in a transaction of its own.
    pub fn record_deleted(&mut self, del: &NewDeletion<'_>) -> Result<DeleteResult, RegistryError> {
        self.transaction(|tx| tx.record_deleted(del))
    }

    /// [`Tx::record_held`] in a transaction of its own.
    pub fn record_held(
        &mut self,
        held: &HeldDocument<'_>,
    ) -> Result<(Change, HeldEntry), RegistryError> {
        self.transaction(|tx| tx.record_held(held))
    }

    /// [`Tx::mark_released`] in a transaction of its own.
    pub fn mark_released(
        &mut self,
        message_hash: &str,
        released_as: &str,
    ) -> Result<bool, RegistryError> {
        self.transaction(|tx| tx.mark_released(message_hash, released_as))
    }

    /// [`Tx::record_patient_identity`] in a transaction of its own.
    pub fn record_patient_identity(
        &mut self,
        p: &PatientIdentity<'_>,
    ) -> Result<IdentityResult, RegistryError> {
        self.transaction(|tx| tx.record_patient_identity(p))
    }

    /// [`Tx::set_opposition`] in a transaction of its own.
    pub fn set_opposition(
        &mut self,
        o: &Opposition<'_>,
    ) -> Result<OppositionChange, RegistryError> {
        self.transaction(|tx| tx.set_opposition(o))
    }

    /// [`Tx::merge_patients`] in a transaction of its own.
    pub fn merge_patients(&mut self, m: &PatientMerge<'_>) -> Result<MergeResult, RegistryError> {
        self.transaction(|tx| tx.merge_patients(m))
    }
}

impl RegistryReader {
    /// Opens an existing registry read-only. Fails with [`RegistryError::Missing`] rather than
    /// creating one, and refuses a schema it does not know exactly.
    pub fn open(path: &Path) -> Result<RegistryReader, RegistryError> {
        if !path.is_file() {
            return Err(RegistryError::Missing {
                path: path.to_owned(),
            });
        }
        let sql = |source| RegistryError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        cache_statements(&conn).map_err(sql)?;
        check_found(path, schema::found(&conn).map_err(sql)?, true)?;
        Ok(RegistryReader {
            conn,
            path: path.to_owned(),
        })
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Begins one read transaction: every look-up made through the reader while the returned
    /// guard lives sees the same state (a worker asks everything about one message in one).
    /// Dropping the guard ends it; what was read stands even if ending it fails (the
    /// connection is then rolled back).
    pub fn snapshot(&self) -> Result<ReadSnapshot<'_>, RegistryError> {
        self.db().exec_cached("BEGIN")?;
        Ok(ReadSnapshot { reader: self })
    }

    fn db(&self) -> Db<'_> {
        Db {
            conn: &self.conn,
            path: &self.path,
        }
    }

    /// False if the connection is stuck in a transaction (not to be used again).
    pub fn is_idle(&self) -> bool {
        self.conn.is_autocommit()
    }
}

/// A read transaction of a [`RegistryReader`], ended when dropped ([`RegistryReader::snapshot`]).
pub struct ReadSnapshot<'r> {
    reader: &'r RegistryReader,
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        let db = self.reader.db();
        if let Err(e) = db.exec_cached("COMMIT") {
            tracing::debug!("registry: ending a read transaction: {e}");
            let _ = db.exec_cached("ROLLBACK");
        }
    }
}

/// Keeps the look-ups and writes prepared (`prepare_cached`), and keeps them valid from one use
/// to the next.
///
/// The query planner stability guarantee (QPSG) is what keeps them valid: without it SQLite
/// lets the value bound to a parameter steer the plan (e.g. `parent_source_id = ?1` weighed as
/// a filter in a candidate full scan) and marks the statement to be compiled again whenever
/// that parameter is bound anew — which rusqlite's cache does each time it hands the statement
/// out (`sqlite3_clear_bindings` expires such a statement). Two look-ups of every document were
/// parsed and planned again on each use: 13 % of a text run's instructions. The registry's
/// queries need no value-dependent plan (there are no `ANALYZE` statistics either).
fn cache_statements(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(64);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// An open write transaction, rolled back when dropped uncommitted (an error or a panic in the
/// closure given to [`Registry::transaction`]). Cached `BEGIN IMMEDIATE`/`COMMIT` statements:
/// rusqlite's `Transaction` parses them at every call, and a bulk run makes one per group.
struct Open<'r> {
    conn: &'r Connection,
    committed: bool,
}

impl<'r> Open<'r> {
    fn begin(conn: &'r Connection) -> rusqlite::Result<Open<'r>> {
        // IMMEDIATE takes the write lock now, so that a second writer waits here rather than
        // failing at its first write.
        conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(Open {
            conn,
            committed: false,
        })
    }

    fn commit(mut self) -> rusqlite::Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        self.committed = true;
        Ok(())
    }
}

impl std::ops::Deref for Open<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open too.
        if !self.committed && !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Creates a registry at `path` with schema `version` (at most the current one), empty, as the
/// dmpfeed of that schema made it: for the tests that an older registry is upgraded.
#[doc(hidden)]
pub fn create_at_schema(path: &Path, version: u32) -> Result<(), RegistryError> {
    let sql = |source| RegistryError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open(path).map_err(sql)?;
    schema::migrate_to(
        &mut conn,
        &ts_to_sql(Timestamp::now()),
        version as usize,
        Algorithm::NEW_FOLDERS,
    )
    .map_err(sql)?;
    Ok(())
}

/// Refuses what the schema check found, if it is not a registry this dmpfeed may use.
fn check_found(path: &Path, found: schema::Found, read_only: bool) -> Result<(), RegistryError> {
    let supported = schema::CURRENT;
    match found {
        schema::Found::Foreign => Err(RegistryError::Foreign {
            path: path.to_owned(),
        }),
        schema::Found::Empty if read_only => Err(RegistryError::Missing {
            path: path.to_owned(),
        }),
        schema::Found::Empty => Ok(()),
        schema::Found::Version(found) if found > supported => Err(RegistryError::SchemaTooNew {
            path: path.to_owned(),
            found,
            supported,
        }),
        schema::Found::Version(found) if read_only && found < supported => {
            Err(RegistryError::SchemaOutdated {
                path: path.to_owned(),
                found,
                supported,
            })
        }
        schema::Found::Version(_) => Ok(()),
    }
}

impl Tx<'_> {
    /// Runs one write. A write that fails before it changed anything leaves nothing behind
    /// (SQLite undoes a statement that fails; the refusals a caller may go on after —
    /// [`RegistryError::ChainConflict`], [`RegistryError::MergeCycle`] — are decided before the
    /// first change), so the batch goes on. One that fails after some of its statements changed
    /// rows, or an error that ended the whole transaction (SQLite rolls back on some I/O errors),
    /// poisons the transaction: it must not commit half a write.
    ///
    /// No savepoint per write: each one made SQLite copy every page the write touched into the
    /// statement journal and free it again (15 % of the committer's instructions for a text
    /// message, docs/performance.md), to undo what only a bug or a failing disk could leave.
    fn write<R>(
        &mut self,
        f: impl FnOnce(&Db<'_>, &str) -> Result<R, RegistryError>,
    ) -> Result<R, RegistryError> {
        let (db, now) = self.writer()?;
        let changes = self.tx.total_changes();
        let r = f(&db, &now);
        if r.is_err() && (self.tx.is_autocommit() || self.tx.total_changes() != changes) {
            self.poisoned = true;
        }
        r
    }

    /// The connection and the time of a write, unless a failed write poisoned the transaction.
    fn writer(&self) -> Result<(Db<'_>, String), RegistryError> {
        if self.poisoned {
            return Err(self.poisoned_error());
        }
        let db = Db {
            conn: &self.tx,
            path: self.path,
        };
        Ok((db, ts_to_sql((self.clock)())))
    }

    fn poisoned_error(&self) -> RegistryError {
        RegistryError::Corrupt {
            path: self.path.to_owned(),
            table: "(transaction)",
            what: "a write failed after it changed rows; the transaction is abandoned".to_owned(),
        }
    }

    /// Records a converted document, once its files are durably written: inserts its row and
    /// its history event, makes it the current version of its chain and marks its parent (and
    /// the previous current version) replaced — all or nothing. The same message again (same
    /// source id and hash) changes nothing; a different message for a recorded source id updates
    /// its row ([`EventKind::Update`]). The setId and version must come from
    /// [`RegistryRead::chain_position`]; if another document took that place meanwhile, nothing is
    /// written and [`RegistryError::ChainConflict`] says so.
    pub fn record_converted(
        &mut self,
        doc: &NewDocument<'_>,
    ) -> Result<RecordResult, RegistryError> {
        self.write(|db, now| db.record_converted(doc, now))
    }

    /// Records a deletion (T04), once its `deleted/NAME.json` is durably written. An unknown
    /// document is reported (`known: false`) and remembered as a tombstone.
    pub fn record_deleted(&mut self, del: &NewDeletion<'_>) -> Result<DeleteResult, RegistryError> {
        self.write(|db, now| db.record_deleted(del, now))
    }

    /// Records a held message in the worklist, once `held/NAME.hl7` is durably written. The same
    /// message again (same hash) changes nothing, even once released.
    pub fn record_held(
        &mut self,
        held: &HeldDocument<'_>,
    ) -> Result<(Change, HeldEntry), RegistryError> {
        self.write(|db, now| db.record_held(held, now))
    }

    /// Marks a held message released (`released_as`: what the release produced, e.g. the report
    /// source or the document path). `false` if it was not held. Call it in the transaction that
    /// records the released document.
    pub fn mark_released(
        &mut self,
        message_hash: &str,
        released_as: &str,
    ) -> Result<bool, RegistryError> {
        self.write(|db, now| db.mark_released(message_hash, released_as, now))
    }

    /// Keeps the answers a message's conversion got (opaque JSON from the pipeline), replacing
    /// those of an earlier conversion of the same message; true when written (new, or changed).
    pub fn remember_answers(
        &mut self,
        message_hash: &str,
        answers: &str,
    ) -> Result<bool, RegistryError> {
        self.write(|db, now| db.remember_answers(message_hash, answers, now))
    }

    /// Records a message's latest report line in the NAME index (schema v5). A message keeps
    /// the NAME it has; a NAME another message owns is refused (the caller asks
    /// [`RegistryRead::name_owner`] first).
    pub fn index_message(
        &mut self,
        message_hash: &[u8],
        m: &IndexedMessage,
    ) -> Result<(), RegistryError> {
        self.write(|db, _| db.index_message(message_hash, m))
    }

    /// Records how far the index has read `report.jsonl`.
    pub fn set_report_state(&mut self, state: &ReportState) -> Result<(), RegistryError> {
        self.write(|db, _| db.set_report_state(state))
    }

    /// Empties the NAME index, before the report is indexed again from its start.
    pub fn clear_report_index(&mut self) -> Result<(), RegistryError> {
        self.write(|db, _| db.clear_report_index())
    }

    /// Lists a file of an earlier result of a message, to remove once the newer line is in the
    /// report.
    pub fn list_superseded(
        &mut self,
        message_hash: &[u8],
        path: &str,
    ) -> Result<(), RegistryError> {
        self.write(|db, _| db.list_superseded(message_hash, path))
    }

    /// Empties the list of superseded files (all removed).
    pub fn clear_superseded(&mut self) -> Result<(), RegistryError> {
        self.write(|db, _| db.clear_superseded())
    }

    /// Records a patient's identity from an ADT message (the latest message wins).
    pub fn record_patient_identity(
        &mut self,
        p: &PatientIdentity<'_>,
    ) -> Result<IdentityResult, RegistryError> {
        self.write(|db, now| db.record_patient_identity(p, now))
    }

    /// Records a patient's choice about DMP feeding (PAM-FR ZFA).
    pub fn set_opposition(
        &mut self,
        o: &Opposition<'_>,
    ) -> Result<OppositionChange, RegistryError> {
        self.write(|db, now| db.set_opposition(o, now))
    }

    /// Merges two patient records (A40): held messages, documents, identity and opposition of
    /// `old_ipp` are filed under the surviving patient, and later messages naming `old_ipp` too.
    pub fn merge_patients(&mut self, m: &PatientMerge<'_>) -> Result<MergeResult, RegistryError> {
        self.write(|db, now| db.merge_patients(m, now))
    }
}

/// The look-ups, on the writer ([`Registry`]), inside a transaction ([`Tx`], which sees its own
/// uncommitted writes) and on a read-only connection ([`RegistryReader`]). Each runs in one read
/// transaction: it sees one consistent state even while the writer commits.
pub trait RegistryRead: sealed::Sealed {
    /// The document recorded under this id (TXA-12 / OBR-3 resolved, see
    /// [`NewDocument::source_id`]).
    fn find_document(&self, source_id: &str) -> Result<Option<DocumentRow>, RegistryError> {
        snapshot(self.parts(), |db| db.find_document(source_id))
    }

    /// The version of the chain that a document placed at `set_id` would be outdated by at
    /// once (a replacement of it, or a version at or above the one it takes in the normal
    /// order), if any: see `Db::superseding`.
    fn superseding(
        &self,
        source_id: &str,
        parent_source_id: Option<&str>,
        set_id: &str,
    ) -> Result<Option<DocumentRow>, RegistryError> {
        snapshot(self.parts(), |db| {
            db.superseding(source_id, parent_source_id, set_id)
        })
    }

    /// Where a document goes in its chain: ask before converting an original (`parent_source_id`
    /// `None`) or a replacement (TXA-13), and write the answer's setId and version in the CDA.
    fn chain_position(
        &self,
        source_id: &str,
        parent_source_id: Option<&str>,
    ) -> Result<ChainPosition, RegistryError> {
        snapshot(self.parts(), |db| {
            db.chain_position(source_id, parent_source_id)
        })
    }

    /// The documents of a patient, by IPP (merges followed) or INS, each with every version and
    /// its history, oldest first.
    fn documents_for_patient(
        &self,
        ipp_or_ins: &str,
    ) -> Result<Vec<DocumentHistory>, RegistryError> {
        let mut out = Vec::new();
        self.for_each_history(Some(ipp_or_ins), &mut |h| {
            out.push(h);
            Ok::<_, RegistryError>(())
        })?;
        Ok(out)
    }

    /// Every document with its history (all in memory: prefer [`RegistryRead::for_each_history`]
    /// on a big registry).
    fn all_documents(&self) -> Result<Vec<DocumentHistory>, RegistryError> {
        let mut out = Vec::new();
        self.for_each_history(None, &mut |h| {
            out.push(h);
            Ok::<_, RegistryError>(())
        })?;
        Ok(out)
    }

    /// Calls `f` with each document's history in turn, of one patient (IPP or INS) or of all,
    /// oldest first; deletions of documents never seen come last. An error from `f` stops it.
    fn for_each_history<E: From<RegistryError>>(
        &self,
        patient: Option<&str>,
        f: &mut dyn FnMut(DocumentHistory) -> Result<(), E>,
    ) -> Result<(), E> {
        snapshot(self.parts(), |db| db.for_each_history(patient, f))
    }

    /// Calls `f` with the history of each document named `id`: its id, its CDA id, or its
    /// identifier as sent (TXA-12 / OBR-3, whole or EI-1 alone: `DOC-A`); usually one.
    fn for_each_history_of_document<E: From<RegistryError>>(
        &self,
        id: &str,
        f: &mut dyn FnMut(DocumentHistory) -> Result<(), E>,
    ) -> Result<(), E> {
        snapshot(self.parts(), |db| db.for_each_history_of_document(id, f))
    }

    /// The IPP a patient's data is filed under (itself, or where merges led it).
    fn canonical_ipp(&self, ipp: &str) -> Result<String, RegistryError> {
        snapshot(self.parts(), |db| db.canonical_ipp(ipp))
    }

    /// The identity recorded for a patient from ADT messages.
    fn patient(&self, ipp: &str) -> Result<Option<PatientRow>, RegistryError> {
        snapshot(self.parts(), |db| db.patient(ipp))
    }

    /// The identity recorded for the one patient whose latest ADT identity carries this INS
    /// (`None` when no patient record or several carry it).
    fn patient_by_ins(&self, ins: &str) -> Result<Option<PatientRow>, RegistryError> {
        snapshot(self.parts(), |db| db.patient_by_ins(ins))
    }

    /// Whether the patient is opposed to DMP feeding now (no recorded choice: not opposed).
    fn is_opposed(&self, ipp: &str) -> Result<bool, RegistryError> {
        Ok(self.opposition(ipp)?.is_some_and(|o| o.opposed))
    }

    /// Whether a patient whose latest ADT identity carries this INS is opposed to DMP feeding
    /// now (whatever the IPP the asking document names).
    fn is_opposed_by_ins(&self, ins: &str) -> Result<bool, RegistryError> {
        snapshot(self.parts(), |db| db.opposed_by_ins(ins))
    }

    /// The patient's latest recorded choice about DMP feeding.
    fn opposition(&self, ipp: &str) -> Result<Option<OppositionRow>, RegistryError> {
        snapshot(self.parts(), |db| db.opposition(ipp))
    }

    /// The messages still held for a patient (by IPP, merges followed), oldest first.
    fn held_for_patient(&self, ipp: &str) -> Result<Vec<HeldEntry>, RegistryError> {
        snapshot(self.parts(), |db| db.held_for_patient(ipp))
    }

    /// The messages still held for a document (by its id as recorded), oldest first.
    fn held_for_document(&self, document_id: &str) -> Result<Vec<HeldEntry>, RegistryError> {
        snapshot(self.parts(), |db| db.held_for_document(document_id))
    }

    /// Every message still held, oldest first (the worklist's detail).
    fn held_waiting(&self) -> Result<Vec<HeldEntry>, RegistryError> {
        snapshot(self.parts(), |db| db.held_waiting())
    }

    /// Every message held for a patient — filed under the IPP (merges followed) or carrying the
    /// INS —, released ones included, oldest first: a release that was recorded but whose
    /// report line was lost (a crash between the two) is found again this way.
    fn held_ever_for_patient(
        &self,
        ipp: Option<&str>,
        ins: Option<&str>,
    ) -> Result<Vec<HeldEntry>, RegistryError> {
        snapshot(self.parts(), |db| db.held_ever_for_patient(ipp, ins))
    }

    /// The answers the message's last conversion got ([`Tx::remember_answers`]).
    fn answers(&self, message_hash: &str) -> Result<Option<String>, RegistryError> {
        snapshot(self.parts(), |db| db.answers(message_hash))
    }

    /// A message of the NAME index by its hash (raw bytes), if the report has a line for it.
    fn indexed_message(
        &self,
        message_hash: &[u8],
    ) -> Result<Option<IndexedMessage>, RegistryError> {
        snapshot(self.parts(), |db| db.indexed_message(message_hash))
    }

    /// The message of the NAME index that owns `name`, compared without case.
    fn name_owner(&self, name: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        snapshot(self.parts(), |db| db.name_owner(name))
    }

    /// How far the NAME index has read `report.jsonl`; `None` before it ever did.
    fn report_state(&self) -> Result<Option<ReportState>, RegistryError> {
        snapshot(self.parts(), |db| db.report_state())
    }

    /// Files listed by [`Tx::list_superseded`] and not yet removed.
    fn superseded_files(&self) -> Result<Vec<(Vec<u8>, String)>, RegistryError> {
        snapshot(self.parts(), |db| db.superseded_files())
    }

    /// A held message by its hash, held or released.
    fn held_entry(&self, message_hash: &str) -> Result<Option<HeldEntry>, RegistryError> {
        snapshot(self.parts(), |db| db.held_entry_by_hash(message_hash))
    }

    /// The identity worklist: one line per patient with held messages (reasons, count, oldest),
    /// the longest wait first.
    fn held_worklist(&self) -> Result<Vec<WorklistEntry>, RegistryError> {
        snapshot(self.parts(), |db| db.held_worklist())
    }

    /// SQLite's `PRAGMA integrity_check`: empty when the file is sound, else its complaints.
    fn integrity_check(&self) -> Result<Vec<String>, RegistryError> {
        snapshot(self.parts(), |db| {
            let mut stmt = db.sql(db.conn.prepare("PRAGMA integrity_check"))?;
            let rows = db.sql(stmt.query_map([], |r| r.get::<_, String>(0)))?;
            let mut out = Vec::new();
            for r in rows {
                let line = db.sql(r)?;
                if line != "ok" {
                    out.push(line);
                }
            }
            Ok(out)
        })
    }
}

mod sealed {
    /// Only the registry's own types implement [`super::RegistryRead`].
    pub trait Sealed {
        fn parts(&self) -> (&rusqlite::Connection, &std::path::Path);
    }
}

impl sealed::Sealed for Registry {
    fn parts(&self) -> (&Connection, &Path) {
        (&self.conn, &self.path)
    }
}
impl RegistryRead for Registry {}

impl sealed::Sealed for RegistryReader {
    fn parts(&self) -> (&Connection, &Path) {
        (&self.conn, &self.path)
    }
}
impl RegistryRead for RegistryReader {}

impl sealed::Sealed for Tx<'_> {
    fn parts(&self) -> (&Connection, &Path) {
        (&self.tx, self.path)
    }
}
impl RegistryRead for Tx<'_> {}

/// Runs a look-up in one read transaction (or in the caller's transaction, inside a [`Tx`]).
fn snapshot<R, E: From<RegistryError>>(
    (conn, path): (&Connection, &Path),
    f: impl FnOnce(&Db<'_>) -> Result<R, E>,
) -> Result<R, E> {
    let db = Db { conn, path };
    if !conn.is_autocommit() {
        return f(&db);
    }
    db.read_transaction(|db| f(db))
}

/// A connection with the registry's path, for errors that say where. The queries are methods on
/// it, in `documents.rs` and `patients.rs`.
pub(crate) struct Db<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl Db<'_> {
    fn sql<T>(&self, r: rusqlite::Result<T>) -> Result<T, RegistryError> {
        r.map_err(|source| RegistryError::Sqlite {
            path: self.path.to_owned(),
            source,
        })
    }

    /// Runs `f` in one read transaction: one consistent state, even while the writer commits.
    /// (Cached `BEGIN`/`COMMIT` statements: rusqlite's `transaction()` parses its SQL at every
    /// call, and the workers make one per message.)
    fn read_transaction<R, E: From<RegistryError>>(
        &self,
        f: impl FnOnce(&Db<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        self.exec_cached("BEGIN")?;
        match f(self) {
            Ok(r) => {
                self.exec_cached("COMMIT")?;
                Ok(r)
            }
            Err(e) => {
                // A read changed nothing: rolling back only ends the transaction.
                let _ = self.exec_cached("ROLLBACK");
                Err(e)
            }
        }
    }

    fn exec_cached(&self, sql: &str) -> Result<(), RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(sql))?;
        self.sql(stmt.execute([]))?;
        Ok(())
    }

    fn time_text(&self, text: &str, table: &'static str) -> Result<Timestamp, RegistryError> {
        ts_from_sql(text).ok_or_else(|| self.corrupt(table, format!("time {text:?}")))
    }

    fn corrupt(&self, table: &'static str, what: String) -> RegistryError {
        RegistryError::Corrupt {
            path: self.path.to_owned(),
            table,
            what,
        }
    }
}

/// Times are stored as RFC 3339 UTC text with microseconds (`2026-05-01T10:00:00.000000Z`):
/// readable in `sqlite3`, and sorting as text sorts them in time.
fn ts_to_sql(t: Timestamp) -> String {
    format!("{t:.6}")
}

fn ts_from_sql(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many times the statement behind `sql` was compiled again, after `uses` look-ups
    /// through the statement cache with a new value each time.
    fn reprepared(conn: &Connection, sql: &str, uses: usize) -> i32 {
        for i in 0..uses {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let mut rows = stmt.query([format!("doc-{i}")]).unwrap();
            while rows.next().unwrap().is_some() {}
        }
        conn.prepare_cached(sql)
            .unwrap()
            .get_status(rusqlite::StatementStatus::RePrepare)
    }

    #[test]
    fn cached_look_ups_are_not_compiled_again_at_each_use() {
        // A look-up on a non-unique index (as `set_of_children`): without the QPSG, SQLite marks
        // `?1` as steering the plan and every use through the cache compiles it again.
        let sql = "SELECT set_id FROM documents WHERE parent_source_id = ?1 ORDER BY rowid LIMIT 1";
        let setup = |conn: &Connection| {
            conn.execute_batch(
                "CREATE TABLE documents (source_id TEXT PRIMARY KEY, parent_source_id TEXT,
                   set_id TEXT);
                 CREATE INDEX documents_parent ON documents (parent_source_id)
                   WHERE parent_source_id IS NOT NULL;",
            )
            .unwrap();
        };
        let plain = Connection::open_in_memory().unwrap();
        setup(&plain);
        assert!(
            reprepared(&plain, sql, 5) >= 4,
            "SQLite's behaviour changed: this test no longer shows what the setting prevents"
        );
        let registry = Connection::open_in_memory().unwrap();
        cache_statements(&registry).unwrap();
        setup(&registry);
        assert_eq!(reprepared(&registry, sql, 5), 0);
    }

    fn choice(ipp: &str) -> Opposition<'_> {
        Opposition {
            ipp,
            opposed: true,
            since: None,
            source: "in#1",
            message_hash: "h1",
        }
    }

    #[test]
    fn a_write_that_fails_after_a_change_is_never_committed() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::open(&dir.path().join("registry.sqlite")).unwrap();
        let r = reg.transaction(|tx| -> Result<(), RegistryError> {
            tx.set_opposition(&choice("IPP-KEPT"))?;
            // A write whose second statement fails, as a bug or a failing disk would make it.
            let failed = tx.write(|db, now| {
                db.set_opposition(&choice("IPP-HALF"), now)?;
                db.exec_cached("INSERT INTO oppositions (ipp) VALUES ('')")
            });
            assert!(failed.is_err());
            // Whatever the caller does next, the transaction is refused.
            assert!(tx.set_opposition(&choice("IPP-AFTER")).is_err());
            Ok(())
        });
        let e = r.unwrap_err();
        assert!(e.to_string().contains("abandoned"), "{e}");
        for ipp in ["IPP-KEPT", "IPP-HALF", "IPP-AFTER"] {
            assert_eq!(reg.opposition(ipp).unwrap(), None, "{ipp} was committed");
        }
    }

    #[test]
    fn a_write_refused_before_any_change_lets_the_batch_go_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::open(&dir.path().join("registry.sqlite")).unwrap();
        reg.transaction(|tx| -> Result<(), RegistryError> {
            let refused =
                tx.write(|db, _| db.exec_cached("INSERT INTO oppositions (ipp) VALUES ('')"));
            assert!(refused.is_err());
            tx.set_opposition(&choice("IPP-1"))?;
            Ok(())
        })
        .unwrap();
        assert!(reg.opposition("IPP-1").unwrap().is_some());
    }

    #[test]
    fn stored_times_sort_as_text_in_time_order() {
        let a: Timestamp = "2026-05-01T10:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-05-01T10:00:00.5Z".parse().unwrap();
        let c: Timestamp = "2026-05-01T10:00:01Z".parse().unwrap();
        let (sa, sb, sc) = (ts_to_sql(a), ts_to_sql(b), ts_to_sql(c));
        assert_eq!(sa, "2026-05-01T10:00:00.000000Z");
        assert!(sa < sb && sb < sc);
        assert_eq!(ts_from_sql(&sb), Some(b));
    }
}
