//! The registry's schema and its migrations.
//!
//! `schema_version` holds one row per migration applied; the schema is the highest. Migration
//! `MIGRATIONS[i]` takes the schema from v`i` to v`i + 1`, in one transaction with the version
//! row, so a crash mid-migration leaves the previous version intact. A new schema is a new entry
//! at the end, never an edit of an old one (registries in the field were made by it).
//!
//! Tables are `STRICT` (SQLite ≥ 3.37, bundled): a value of the wrong type is refused rather than
//! stored, and `CHECK`s refuse incomplete rows, so that a bug cannot write a half-row either.

use crate::message_hash::Algorithm;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// `PRAGMA application_id` of a dmpfeed registry (ASCII "DMPf"), so that `file(1)` and dmpfeed
/// itself recognise the file.
pub const APPLICATION_ID: i32 = 0x444d_5066;

/// The schema this dmpfeed writes.
pub const CURRENT: u32 = MIGRATIONS.len() as u32;

const MIGRATIONS: &[Migration] = &[
    Migration::Sql(V1),
    Migration::Sql(V2),
    Migration::Sql(V3),
    Migration::Sql(V4),
    Migration::Sql(V5),
    Migration::Code(v6_checks_without_ephemeral_tables),
];

/// One step of the schema: SQL, or what SQL alone cannot say.
enum Migration {
    Sql(&'static str),
    Code(fn(&Connection) -> rusqlite::Result<()>),
}

/// v1: documents and their history (issue 9), patients, held messages, oppositions and merges
/// (issue 10).
///
/// What `source_id` and `parent_source_id` hold (the SQL comments below, kept as the registries
/// in the field have them, say "as sent"): TXA-12 / OBR-3 (TXA-13 for the parent) resolved to
/// the OID the CDA takes as its `id` (`src/document/ids.rs`) — the sent id itself if it is an
/// OID, else an OID derived from it. The identifier as sent is `sent_id` (v3).
const V1: &str = r#"
-- One row per document version (one converted message's document), in its current state.
CREATE TABLE documents (
    source_id        TEXT PRIMARY KEY CHECK (source_id <> ''),   -- TXA-12 / OBR-3 as sent
    parent_source_id TEXT CHECK (parent_source_id <> ''),        -- TXA-13 for a replacement
    cda_id           TEXT NOT NULL CHECK (cda_id <> ''),
    set_id           TEXT NOT NULL CHECK (set_id <> ''),
    version          INTEGER NOT NULL CHECK (version >= 1),
    ipp              TEXT,
    ins              TEXT,
    status           TEXT NOT NULL CHECK (status IN ('current', 'replaced', 'deleted')),
    output_path      TEXT NOT NULL CHECK (output_path <> ''),
    source           TEXT NOT NULL,
    message_hash     TEXT NOT NULL CHECK (message_hash <> ''),
    event            TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (set_id, version)
) STRICT;
CREATE INDEX documents_parent ON documents (parent_source_id) WHERE parent_source_id IS NOT NULL;
CREATE INDEX documents_ipp ON documents (ipp) WHERE ipp IS NOT NULL;
CREATE INDEX documents_ins ON documents (ins) WHERE ins IS NOT NULL;

-- Every message that changed a document, in the order recorded: T02 → T10 → T10 → T04.
-- A deletion of a document never seen is kept here only (no documents row): a tombstone. Only
-- deletions name the patient (ipp, ins): a version's patient is on its documents row.
CREATE TABLE document_events (
    id           INTEGER PRIMARY KEY,
    source_id    TEXT NOT NULL CHECK (source_id <> ''),
    kind         TEXT NOT NULL CHECK (kind IN ('original', 'replacement', 'update', 'deletion')),
    event        TEXT NOT NULL,
    version      INTEGER CHECK (version >= 1),
    ipp          TEXT,
    ins          TEXT,
    output_path  TEXT,
    source       TEXT NOT NULL,
    message_hash TEXT NOT NULL CHECK (message_hash <> ''),
    at           TEXT NOT NULL,
    UNIQUE (source_id, kind, message_hash),
    CHECK (kind = 'deletion' OR (ipp IS NULL AND ins IS NULL))
) STRICT;
CREATE INDEX document_events_ipp ON document_events (ipp) WHERE ipp IS NOT NULL;
CREATE INDEX document_events_ins ON document_events (ins) WHERE ins IS NOT NULL;

-- The latest identity of each patient from ADT messages, with the message it came from.
CREATE TABLE patients (
    ipp          TEXT PRIMARY KEY CHECK (ipp <> ''),
    ins          TEXT,
    qualified    INTEGER NOT NULL CHECK (qualified IN (0, 1)),
    adt_message  BLOB NOT NULL,
    source       TEXT NOT NULL,
    message_hash TEXT NOT NULL CHECK (message_hash <> ''),
    updated_at   TEXT NOT NULL
) STRICT;
CREATE INDEX patients_ins ON patients (ins) WHERE ins IS NOT NULL;

-- Messages held for an identity that cannot be used; the identity worklist.
CREATE TABLE held (
    message_hash TEXT PRIMARY KEY CHECK (message_hash <> ''),
    source       TEXT NOT NULL,
    document_id  TEXT,
    ipp          TEXT,
    ins          TEXT,
    reasons      TEXT NOT NULL CHECK (json_valid(reasons) AND json_type(reasons) = 'array'),
    path         TEXT NOT NULL CHECK (path <> ''),
    status       TEXT NOT NULL CHECK (status IN ('held', 'released')),
    held_at      TEXT NOT NULL,
    released_at  TEXT,
    released_as  TEXT,
    CHECK ((status = 'released') = (released_at IS NOT NULL))
) STRICT;
CREATE INDEX held_ipp ON held (ipp, status);
CREATE INDEX held_ins ON held (ins) WHERE ins IS NOT NULL;
CREATE INDEX held_status ON held (status, held_at);

-- Each patient's latest choice about DMP feeding (PAM-FR ZFA).
CREATE TABLE oppositions (
    ipp          TEXT PRIMARY KEY CHECK (ipp <> ''),
    opposed      INTEGER NOT NULL CHECK (opposed IN (0, 1)),
    since        TEXT,
    source       TEXT NOT NULL,
    message_hash TEXT NOT NULL CHECK (message_hash <> ''),
    updated_at   TEXT NOT NULL
) STRICT;

-- Patient merges (ADT A40): messages naming old_ipp are filed under surviving_ipp.
CREATE TABLE merges (
    old_ipp       TEXT PRIMARY KEY CHECK (old_ipp <> ''),
    surviving_ipp TEXT NOT NULL CHECK (surviving_ipp <> '' AND surviving_ipp <> old_ipp),
    source        TEXT NOT NULL,
    message_hash  TEXT NOT NULL CHECK (message_hash <> ''),
    merged_at     TEXT NOT NULL
) STRICT;
"#;

/// v2: the answers each message's conversion got from the registry (issue 10), so that the
/// same message converted again gets them again: a rerun changes nothing even when later
/// messages changed the registry (a parent that arrived after its replacement, an opposition
/// lifted after a document was excluded).
const V2: &str = r#"
-- One row per message whose conversion asked the registry: its questions and answers (JSON, as
-- the pipeline wrote them; the registry does not read them).
CREATE TABLE answers (
    message_hash TEXT PRIMARY KEY CHECK (message_hash <> ''),
    answers      TEXT NOT NULL CHECK (json_valid(answers)),
    updated_at   TEXT NOT NULL
) STRICT;
-- A deletion withdraws the messages held for the document it deletes.
CREATE INDEX held_document ON held (document_id) WHERE document_id IS NOT NULL;
"#;

/// v3: the document's identifier as sent (issue 9: "keep … source document id (TXA-12 /
/// OBR-3)"), beside `source_id`, the OID it resolves to: `DOC-A` is not an OID, so the CDA and
/// `source_id` carry one derived from it, and the DPI's own id was kept nowhere. On each version
/// and on each event (a deletion of a document never converted here has no version row).
const V3: &str = r#"
-- TXA-12 / OBR-3 as sent: EI-1^EI-2^EI-3, decoded, without trailing empty components (`DOC-A`,
-- `58132^^1.2.250.2345.3245.13`). NULL when the message gave none (the id was derived from
-- MSH-10, or the document's OBR-3 names the result an ORU corrects) and on rows recorded before v3.
ALTER TABLE documents ADD COLUMN sent_id TEXT CHECK (sent_id <> '');
ALTER TABLE document_events ADD COLUMN sent_id TEXT CHECK (sent_id <> '');
-- `dmpfeed documents --document ID` finds a document by it.
CREATE INDEX documents_sent ON documents (sent_id) WHERE sent_id IS NOT NULL;
CREATE INDEX document_events_sent ON document_events (sent_id) WHERE sent_id IS NOT NULL;
"#;

/// v4: which hash names the messages of this folder ([`crate::message_hash`]): BLAKE3 for a
/// registry created by this version, SHA-1 for one made before, whose `message_hash` columns (and
/// the folder's report lines) hold SHA-1s. Set when the registry is created, never changed.
const V4: &str = r#"
CREATE TABLE message_identity (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    algorithm TEXT NOT NULL CHECK (algorithm IN ('sha1', 'blake3'))
) STRICT;
-- A registry being upgraded named its messages by SHA-1; a new one is set by `migrate_to`.
INSERT INTO message_identity (id, algorithm) VALUES (1, 'sha1');
"#;

/// v5: the NAME index (docs/pipeline.md, "NAME"): what `report.jsonl` says of each message,
/// looked up here rather than held in memory, so that a run's memory does not grow with the
/// folder's history and opening a folder reads only the lines appended since it was indexed.
/// The report stays the record: the index is rebuilt from it whenever the two disagree.
const V5: &str = r#"
-- One row per message the report has a line for: its NAME and the files and place of its latest
-- line. `message_hash` is the hash of the report's lines as bytes (BLAKE3 32, SHA-1 20).
CREATE TABLE report_index (
    message_hash BLOB PRIMARY KEY CHECK (length(message_hash) IN (20, 32)),
    name         TEXT CHECK (name <> ''),                  -- NULL: its lines name no file
    files        TEXT NOT NULL,                            -- JSON array, as its latest line
    line_at      INTEGER NOT NULL CHECK (line_at >= 0),    -- byte offset of that line
    line_len     INTEGER NOT NULL CHECK (line_len > 0),    -- its length, newline included
    run          INTEGER NOT NULL CHECK (run >= 0)         -- the run that wrote it; 0: before
) STRICT, WITHOUT ROWID;
-- Two messages never share a NAME, whatever its case (case-insensitive file systems).
CREATE UNIQUE INDEX report_index_name ON report_index (lower(name)) WHERE name IS NOT NULL;

-- How far the index has read report.jsonl: its length then, and the last line read (its length
-- and BLAKE3), to recognise the same report; runs begun in this folder.
CREATE TABLE report_state (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_bytes    INTEGER NOT NULL CHECK (indexed_bytes >= 0),
    last_line_len    INTEGER NOT NULL CHECK (last_line_len >= 0),
    last_line_blake3 BLOB,
    runs             INTEGER NOT NULL CHECK (runs >= 0)
) STRICT;

-- Files of an earlier result that a newer line of their message no longer names, listed in the
-- transaction of that line and removed after it is in the report: a crash in between leaves them
-- listed, and the next run removes them.
CREATE TABLE superseded_files (
    message_hash BLOB NOT NULL,
    path         TEXT NOT NULL CHECK (path <> ''),
    PRIMARY KEY (message_hash, path)
) STRICT, WITHOUT ROWID;
"#;

/// v6: the two `IN` checks of v1 said as comparisons. SQLite evaluates `x IN (a, b, c)` of three
/// constants or more by building an ephemeral table at each execution (`sqlite3FindInIndex`: a
/// list of two or fewer is compared in line), so every insert into `documents` and
/// `document_events` created, filled and dropped a temporary B-tree to check `status` and
/// `kind`: 13 % of the committer's instructions for a text message (docs/performance.md).
/// The same values are accepted and refused: `status` and `kind` are `NOT NULL` and `TEXT`.
///
/// A table's definition cannot be altered in SQL; this is SQLite's procedure for a changed
/// `CHECK` (<https://www.sqlite.org/lang_altertable.html#otheralter>): the table's text edited
/// in `sqlite_schema`, the schema cookie incremented, in the migration's transaction, and
/// every row checked against the new text — instant whatever the registry's size, where
/// copying the tables would take minutes for years of documents.
const V6_CHECKS: &[(&str, &str, &str)] = &[
    (
        "documents",
        "CHECK (status IN ('current', 'replaced', 'deleted'))",
        "CHECK (status = 'current' OR status = 'replaced' OR status = 'deleted')",
    ),
    (
        "document_events",
        "CHECK (kind IN ('original', 'replacement', 'update', 'deletion'))",
        "CHECK (kind = 'original' OR kind = 'replacement' OR kind = 'update' OR kind = 'deletion')",
    ),
];

fn v6_checks_without_ephemeral_tables(conn: &Connection) -> rusqlite::Result<()> {
    let cookie: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    conn.pragma_update(None, "writable_schema", true)?;
    for (table, old, new) in V6_CHECKS {
        let edited = conn.execute(
            "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3)
             WHERE type = 'table' AND name = ?1 AND instr(sql, ?2) > 0",
            [table, old, new],
        )?;
        if edited != 1 {
            return Err(schema_error(format!(
                "table {table}: its definition is not the one dmpfeed made (no {old})"
            )));
        }
    }
    conn.pragma_update(None, "schema_version", cookie + 1)?;
    // RESET: writable_schema off, and this connection reads the edited schema again.
    conn.pragma_update(None, "writable_schema", "RESET")?;
    for (table, _, new) in V6_CHECKS {
        let check = new.trim_start_matches("CHECK ");
        let refused: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM {table} WHERE NOT {check}"),
            [],
            |r| r.get(0),
        )?;
        if refused != 0 {
            return Err(schema_error(format!(
                "table {table}: {refused} rows do not pass {new}"
            )));
        }
    }
    Ok(())
}

/// A registry whose schema this dmpfeed cannot upgrade (SQLite's "corrupt": not as made).
fn schema_error(what: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        Some(what),
    )
}

/// What the schema check found.
pub(crate) enum Found {
    /// An empty database (a new file).
    Empty,
    /// A dmpfeed registry at this version.
    Version(u32),
    /// Tables, but not ours.
    Foreign,
}

/// Reads the schema version of an open database without changing it.
pub(crate) fn found(conn: &Connection) -> rusqlite::Result<Found> {
    let has_version_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version')",
        [],
        |r| r.get(0),
    )?;
    if has_version_table {
        let v: Option<i64> =
            conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?;
        return Ok(Found::Version(
            v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0),
        ));
    }
    let tables: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )?;
    let app_id: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    Ok(
        if tables == 0 && (app_id == 0 || app_id == APPLICATION_ID) {
            Found::Empty
        } else {
            Found::Foreign
        },
    )
}

/// Brings a writable database to [`CURRENT`], one migration per transaction, and returns what it
/// found before. A foreign database or a newer schema is left untouched. A registry created now
/// records `if_new` as its folder's message hash.
pub(crate) fn migrate(
    conn: &mut Connection,
    now: &str,
    if_new: Algorithm,
) -> rusqlite::Result<Found> {
    migrate_to(conn, now, MIGRATIONS.len(), if_new)
}

/// [`migrate`], stopping at schema `target` (≤ [`CURRENT`]): a registry as an older dmpfeed made
/// it, for the migration tests.
pub(crate) fn migrate_to(
    conn: &mut Connection,
    now: &str,
    target: usize,
    if_new: Algorithm,
) -> rusqlite::Result<Found> {
    // IMMEDIATE: two writers opening the same new folder at once must not both create tables.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let before = found(&tx)?;
    let from = match before {
        Found::Foreign => return Ok(before),
        Found::Version(v) if v as usize >= target.min(MIGRATIONS.len()) => return Ok(before),
        Found::Version(v) => v as usize,
        Found::Empty => {
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID};
                 CREATE TABLE schema_version (
                     version    INTEGER PRIMARY KEY,
                     applied_at TEXT NOT NULL
                 ) STRICT;"
            ))?;
            0
        }
    };
    // In the same transaction, under the same write lock: a registry is at its old version or
    // at the new one, never in between, and a new one is created with one commit (one fsync,
    // where a transaction per migration took four).
    for (i, migration) in MIGRATIONS.iter().enumerate().take(target).skip(from) {
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Code(f) => f(&tx)?,
        }
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
            rusqlite::params![i as i64 + 1, now],
        )?;
    }
    if matches!(before, Found::Empty) && target >= 4 {
        tx.execute(
            "UPDATE message_identity SET algorithm = ?1",
            [if_new.name()],
        )?;
    }
    tx.commit()?;
    Ok(before)
}

/// The message hash of the registry's folder (schema v4 on); `None` when the row says something
/// this dmpfeed does not know (the `CHECK` refuses it, so only a foreign hand could).
pub(crate) fn message_identity(conn: &Connection) -> rusqlite::Result<Option<Algorithm>> {
    let name: Option<String> = conn
        .query_row(
            "SELECT algorithm FROM message_identity WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(name.as_deref().and_then(Algorithm::from_name))
}
