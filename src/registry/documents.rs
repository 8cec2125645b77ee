//! Documents and their chains (issue 9): positions, conversions, deletions, histories.
//!
//! Chain rules (CI-SIS "Transmission de documents CDA en HL7v2": a T10 replaces the document named
//! by TXA-13 with a new version of the same setId):
//!
//! * An original starts a chain at version 1.
//! * A replacement takes its parent's setId and the chain's highest version + 1. When the parent
//!   is the latest version (always, with a well-behaved sender) that is the parent's version + 1;
//!   a second replacement of the same parent (a fork) still gets a fresh version, so that
//!   `(setId, version)` stays unique as the DMP requires.
//! * A replacement of a parent never seen starts the chain at version 2; the caller derives the
//!   setId from the parent's id and reports `REPLACED_DOCUMENT_UNKNOWN`. Later replacements of that
//!   same unknown parent join that chain.
//! * In a chain, the highest version is `current` unless deleted; every other version is
//!   `replaced` (or `deleted`). A document that a recorded replacement names as its parent is
//!   `replaced` even when the messages came out of order. A replacement of a deleted or already
//!   replaced document is accepted and chained the same way (the DPI decided; the DMP will say no
//!   if it disagrees) — the deleted version stays deleted.
//! * A deletion marks the document `deleted`. A deletion of a document never seen is kept as a
//!   tombstone (an event without a document row): if the document arrives later, it is recorded
//!   as `deleted` straight away. A document once deleted stays deleted, even if its original
//!   message is sent again (a resend after a T04 is recorded as an update of a deleted row).
//! * A document naming itself as its parent (TXA-13 = TXA-12, hostile or broken input the
//!   converter should have rejected) is taken as an original. Nothing here walks the parent links,
//!   so a cycle of replacements cannot loop: it only leaves no version current.
//! * Messages of one chain must be recorded in input order: a replacement recorded before its
//!   parent's own replacement (C → B before B → A) starts a chain of its own, as a replacement of
//!   an unknown parent does. The pipeline's writer records in input order for that reason.

use super::Db;
use super::error::RegistryError;
use super::types::{
    ChainPosition, Change, DeleteResult, DocumentEvent, DocumentHistory, DocumentRow,
    DocumentStatus, EventKind, NewDeletion, NewDocument, RecordResult,
};
use rusqlite::{OptionalExtension, Row, params};

/// The columns of [`DocumentRow`], in the order [`Db::document_row`] reads them. (Macros, so that
/// `concat!` makes each statement a literal: no formatting on the hot path.)
macro_rules! document_columns {
    () => {
        "source_id, parent_source_id, cda_id, set_id, version, ipp, ins, status, output_path, \
         source, message_hash, event, created_at, updated_at, sent_id"
    };
}

/// The columns of [`DocumentEvent`], in the order [`Db::event_row`] reads them.
macro_rules! event_columns {
    () => {
        "e.at, e.kind, e.event, e.source_id, e.version, e.output_path, e.source, e.message_hash, \
         e.sent_id"
    };
}

impl Db<'_> {
    fn document_row(&self, r: &Row<'_>) -> Result<DocumentRow, RegistryError> {
        let status: String = self.sql(r.get(7))?;
        Ok(DocumentRow {
            source_id: self.sql(r.get(0))?,
            parent_source_id: self.sql(r.get(1))?,
            cda_id: self.sql(r.get(2))?,
            set_id: self.sql(r.get(3))?,
            version: self.version(self.sql(r.get(4))?, "documents")?,
            ipp: self.sql(r.get(5))?,
            ins: self.sql(r.get(6))?,
            status: DocumentStatus::parse(&status)
                .ok_or_else(|| self.corrupt("documents", format!("status {status:?}")))?,
            output_path: self.sql(r.get(8))?,
            source: self.sql(r.get(9))?,
            message_hash: self.sql(r.get(10))?,
            event: self.sql(r.get(11))?,
            created_at: self.timestamp(r.get_ref(12), "documents")?,
            updated_at: self.timestamp(r.get_ref(13), "documents")?,
            sent_id: self.sql(r.get(14))?,
        })
    }

    fn event_row(&self, r: &Row<'_>) -> Result<DocumentEvent, RegistryError> {
        let kind: String = self.sql(r.get(1))?;
        let version: Option<i64> = self.sql(r.get(4))?;
        Ok(DocumentEvent {
            at: self.timestamp(r.get_ref(0), "document_events")?,
            kind: EventKind::parse(&kind)
                .ok_or_else(|| self.corrupt("document_events", format!("kind {kind:?}")))?,
            event: self.sql(r.get(2))?,
            source_id: self.sql(r.get(3))?,
            version: version
                .map(|v| self.version(v, "document_events"))
                .transpose()?,
            output_path: self.sql(r.get(5))?,
            source: self.sql(r.get(6))?,
            message_hash: self.sql(r.get(7))?,
            sent_id: self.sql(r.get(8))?,
        })
    }

    fn version(&self, v: i64, table: &'static str) -> Result<u32, RegistryError> {
        u32::try_from(v).map_err(|_| self.corrupt(table, format!("version {v}")))
    }

    fn timestamp(
        &self,
        v: rusqlite::Result<rusqlite::types::ValueRef<'_>>,
        table: &'static str,
    ) -> Result<jiff::Timestamp, RegistryError> {
        let text = self
            .sql(v)?
            .as_str()
            .map_err(|e| self.corrupt(table, e.to_string()))?;
        self.time_text(text, table)
    }

    /// The document recorded under this id (TXA-12 / OBR-3 resolved, see `NewDocument::source_id`).
    pub(crate) fn find_document(
        &self,
        source_id: &str,
    ) -> Result<Option<DocumentRow>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE source_id = ?1"
        )))?;
        let mut rows = self.sql(stmt.query([source_id]))?;
        match self.sql(rows.next())? {
            Some(r) => Ok(Some(self.document_row(r)?)),
            None => Ok(None),
        }
    }

    fn versions_of_set(&self, set_id: &str) -> Result<Vec<DocumentRow>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE set_id = ?1 ORDER BY version"
        )))?;
        let mut rows = self.sql(stmt.query([set_id]))?;
        let mut out = Vec::new();
        while let Some(r) = self.sql(rows.next())? {
            out.push(self.document_row(r)?);
        }
        Ok(out)
    }

    fn max_version(&self, set_id: &str) -> Result<Option<u32>, RegistryError> {
        let v: Option<i64> = self.sql(
            self.conn
                .prepare_cached("SELECT MAX(version) FROM documents WHERE set_id = ?1")
                .and_then(|mut s| s.query_row([set_id], |r| r.get(0))),
        )?;
        v.map(|v| self.version(v, "documents")).transpose()
    }

    /// The setId of documents already recorded as replacements of `parent_source_id`.
    fn set_of_children(&self, parent_source_id: &str) -> Result<Option<String>, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached(
                    "SELECT set_id FROM documents WHERE parent_source_id = ?1 ORDER BY rowid LIMIT 1",
                )
                .and_then(|mut s| s.query_row([parent_source_id], |r| r.get(0)).optional()),
        )
    }

    /// See [`ChainPosition`] and the module's chain rules.
    pub(crate) fn chain_position(
        &self,
        source_id: &str,
        parent_source_id: Option<&str>,
    ) -> Result<ChainPosition, RegistryError> {
        let parent_source_id = parent_source_id.filter(|p| *p != source_id);
        let recorded = self.find_document(source_id)?;
        let parent = match parent_source_id {
            Some(p) => self.find_document(p)?,
            None => None,
        };
        if let Some(row) = &recorded
            && row.parent_source_id.as_deref() == parent_source_id
        {
            return Ok(ChainPosition {
                set_id: Some(row.set_id.clone()),
                version: row.version,
                parent,
                recorded,
            });
        }
        let (set_id, version) = match (parent_source_id, &parent) {
            (Some(_), Some(p)) => {
                let max = self.max_version(&p.set_id)?.unwrap_or(p.version);
                (Some(p.set_id.clone()), max.saturating_add(1))
            }
            (Some(p), None) => match self.set_of_children(p)? {
                Some(set) => {
                    let max = self.max_version(&set)?.unwrap_or(1);
                    (Some(set), max.saturating_add(1))
                }
                None => (None, 2),
            },
            // An original whose replacements came first: it is version 1 of their chain.
            (None, _) => (self.set_of_children(source_id)?, 1),
        };
        Ok(ChainPosition {
            set_id,
            version,
            parent,
            recorded,
        })
    }

    fn has_event(
        &self,
        source_id: &str,
        kind: EventKind,
        hash: &str,
    ) -> Result<bool, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM document_events
                     WHERE source_id = ?1 AND kind = ?2 AND message_hash = ?3)",
                )
                .and_then(|mut s| {
                    s.query_row(params![source_id, kind.as_str(), hash], |r| r.get(0))
                }),
        )
    }

    fn is_tombstoned(&self, source_id: &str) -> Result<bool, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM document_events WHERE source_id = ?1 AND kind = 'deletion')",
                )
                .and_then(|mut s| s.query_row([source_id], |r| r.get(0))),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_event(
        &self,
        source_id: &str,
        sent_id: Option<&str>,
        kind: EventKind,
        event: &str,
        version: Option<u32>,
        ipp: Option<&str>,
        ins: Option<&str>,
        output_path: Option<&str>,
        source: &str,
        hash: &str,
        now: &str,
    ) -> Result<(), RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT INTO document_events
               (source_id, kind, event, version, ipp, ins, output_path, source, message_hash, at,
                sent_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (source_id, kind, message_hash) DO NOTHING",
        ))?;
        self.sql(stmt.execute(params![
            source_id,
            kind.as_str(),
            event,
            version,
            ipp,
            ins,
            output_path,
            source,
            hash,
            now,
            sent_id
        ]))?;
        Ok(())
    }

    fn set_status(
        &self,
        source_id: &str,
        status: DocumentStatus,
        now: &str,
    ) -> Result<(), RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "UPDATE documents SET status = ?2, updated_at = ?3 WHERE source_id = ?1 AND status <> ?2",
        ))?;
        self.sql(stmt.execute(params![source_id, status.as_str(), now]))?;
        Ok(())
    }

    /// Whether a later version of the chain, or a replacement naming this document, is recorded.
    fn superseded(&self, doc: &NewDocument<'_>) -> Result<bool, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM documents WHERE set_id = ?1 AND version > ?2)
                         OR EXISTS (SELECT 1 FROM documents WHERE parent_source_id = ?3)",
                )
                .and_then(|mut s| {
                    s.query_row(params![doc.set_id, doc.version, doc.source_id], |r| {
                        r.get(0)
                    })
                }),
        )
    }

    /// The version of the chain that a document placed at `set_id` would be outdated by the
    /// moment it is recorded, if any: a replacement of it recorded from another document, or a
    /// version of its chain at or above the one it takes in the normal order — 1 for an
    /// original, its parent's version + 1 for a replacement (2 when the parent is unknown), so a
    /// replacement whose parent was already replaced by another document counts. The highest
    /// such version. (A held message released late must not be sent after a newer version:
    /// the DMP would get an outdated one; see `docs/worklist.md`.)
    pub(crate) fn superseding(
        &self,
        source_id: &str,
        parent_source_id: Option<&str>,
        set_id: &str,
    ) -> Result<Option<DocumentRow>, RegistryError> {
        let parent_source_id = parent_source_id.filter(|p| *p != source_id);
        let normal_version = match parent_source_id {
            None => 1,
            Some(p) => self
                .find_document(p)?
                .map_or(2, |row| row.version.saturating_add(1)),
        };
        let mut stmt = self.sql(self.conn.prepare_cached(concat!(
            "SELECT ",
            document_columns!(),
            " FROM documents WHERE source_id <> ?1
               AND (parent_source_id = ?1
                    OR (set_id = ?2 AND version >= ?3)
                    OR parent_source_id = ?4)
             ORDER BY version DESC, rowid DESC LIMIT 1"
        )))?;
        let mut rows =
            self.sql(stmt.query(params![source_id, set_id, normal_version, parent_source_id]))?;
        match self.sql(rows.next())? {
            Some(r) => Ok(Some(self.document_row(r)?)),
            None => Ok(None),
        }
    }

    /// Records a converted document (see [`crate::registry::Tx::record_converted`]). A chain
    /// conflict is found before the first change, so that the refusal leaves nothing behind.
    pub(crate) fn record_converted(
        &self,
        doc: &NewDocument<'_>,
        now: &str,
    ) -> Result<RecordResult, RegistryError> {
        let doc = &NewDocument {
            parent_source_id: doc.parent_source_id.filter(|p| *p != doc.source_id),
            ..*doc
        };
        let existing = self.find_document(doc.source_id)?;
        let parent = match doc.parent_source_id {
            Some(p) => self.find_document(p)?,
            None => None,
        };
        let parent_known = doc.parent_source_id.map(|_| parent.is_some());
        if let Some(row) = &existing
            && row.message_hash == doc.message_hash
        {
            return Ok(RecordResult {
                change: Change::Unchanged,
                document: row.clone(),
                parent_known,
            });
        }
        // (setId, version) belongs to one document: a fork converted from a stale look-up must be
        // converted again rather than overwrite another version's place.
        let taken_by: Option<String> = self.sql(
            self.conn
                .prepare_cached(
                    "SELECT source_id FROM documents WHERE set_id = ?1 AND version = ?2 AND source_id <> ?3",
                )
                .and_then(|mut s| {
                    s.query_row(params![doc.set_id, doc.version, doc.source_id], |r| r.get(0))
                        .optional()
                }),
        )?;
        if let Some(taken_by) = taken_by {
            return Err(RegistryError::ChainConflict {
                path: self.path.to_owned(),
                source_id: doc.source_id.to_owned(),
                set_id: doc.set_id.to_owned(),
                version: doc.version,
                taken_by,
            });
        }
        let was_deleted = existing
            .as_ref()
            .is_some_and(|r| r.status == DocumentStatus::Deleted);
        // The status the module's rules give it, whatever the order the messages came in.
        let superseded = self.superseded(doc)?;
        let status = if was_deleted || self.is_tombstoned(doc.source_id)? {
            DocumentStatus::Deleted
        } else if superseded {
            DocumentStatus::Replaced
        } else {
            DocumentStatus::Current
        };
        let ipp = doc.ipp.map(|i| self.canonical_ipp(i)).transpose()?;
        let ipp = ipp.as_deref();
        // The same parameters for both: a source id seen before updates its row.
        let sql = if existing.is_some() {
            "UPDATE documents SET parent_source_id = ?2, cda_id = ?3, set_id = ?4, version = ?5,
               ipp = ?6, ins = ?7, status = ?8, output_path = ?9, source = ?10,
               message_hash = ?11, event = ?12, updated_at = ?13, sent_id = ?14
             WHERE source_id = ?1"
        } else {
            concat!(
                "INSERT INTO documents (",
                document_columns!(),
                ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)"
            )
        };
        let mut stmt = self.sql(self.conn.prepare_cached(sql))?;
        self.sql(stmt.execute(params![
            doc.source_id,
            doc.parent_source_id,
            doc.cda_id,
            doc.set_id,
            doc.version,
            ipp,
            doc.ins,
            status.as_str(),
            doc.output_path,
            doc.source,
            doc.message_hash,
            doc.event,
            now,
            doc.sent_id
        ]))?;
        let (change, kind) = match (existing.is_some(), doc.parent_source_id.is_some()) {
            (true, _) => (Change::Updated, EventKind::Update),
            (false, true) => (Change::Inserted, EventKind::Replacement),
            (false, false) => (Change::Inserted, EventKind::Original),
        };
        // The patient of a version is on its row; an event names it only for a deletion, which
        // may have no row (a tombstone).
        self.insert_event(
            doc.source_id,
            doc.sent_id,
            kind,
            doc.event,
            Some(doc.version),
            None,
            None,
            Some(doc.output_path),
            doc.source,
            doc.message_hash,
            now,
        )?;
        if !superseded {
            // The latest version of the chain (current, or deleted already): no other is current.
            let mut stmt = self.sql(self.conn.prepare_cached(
                "UPDATE documents SET status = 'replaced', updated_at = ?3
                 WHERE set_id = ?1 AND status = 'current' AND source_id <> ?2",
            ))?;
            self.sql(stmt.execute(params![doc.set_id, doc.source_id, now]))?;
        }
        if let Some(p) = &parent
            && p.status == DocumentStatus::Current
            && (superseded || p.set_id != doc.set_id)
        {
            // Replaced, whatever became of its replacement; the statement above did it unless the
            // replacement is itself superseded or in another chain (the caller chose its setId).
            self.set_status(&p.source_id, DocumentStatus::Replaced, now)?;
        }
        // The row as written (read back only after an update, whose creation time is older).
        let document = match existing {
            None => DocumentRow {
                source_id: doc.source_id.to_owned(),
                parent_source_id: doc.parent_source_id.map(str::to_owned),
                cda_id: doc.cda_id.to_owned(),
                set_id: doc.set_id.to_owned(),
                version: doc.version,
                ipp: ipp.map(str::to_owned),
                ins: doc.ins.map(str::to_owned),
                status,
                output_path: doc.output_path.to_owned(),
                source: doc.source.to_owned(),
                message_hash: doc.message_hash.to_owned(),
                event: doc.event.to_owned(),
                created_at: self.time_text(now, "documents")?,
                updated_at: self.time_text(now, "documents")?,
                sent_id: doc.sent_id.map(str::to_owned),
            },
            Some(_) => self.find_document(doc.source_id)?.ok_or_else(|| {
                self.corrupt("documents", format!("row {:?} vanished", doc.source_id))
            })?,
        };
        Ok(RecordResult {
            change,
            document,
            parent_known,
        })
    }

    /// Records a deletion (see [`crate::registry::Tx::record_deleted`]).
    pub(crate) fn record_deleted(
        &self,
        del: &NewDeletion<'_>,
        now: &str,
    ) -> Result<DeleteResult, RegistryError> {
        let existing = self.find_document(del.source_id)?;
        let known = existing.is_some();
        if self.has_event(del.source_id, EventKind::Deletion, del.message_hash)? {
            return Ok(DeleteResult {
                known,
                change: Change::Unchanged,
                document: existing,
            });
        }
        let ipp = del.ipp.map(|i| self.canonical_ipp(i)).transpose()?;
        self.insert_event(
            del.source_id,
            del.sent_id,
            EventKind::Deletion,
            del.event,
            None,
            ipp.as_deref(),
            del.ins,
            Some(del.output_path),
            del.source,
            del.message_hash,
            now,
        )?;
        let change = match &existing {
            Some(row) if row.status != DocumentStatus::Deleted => {
                self.set_status(del.source_id, DocumentStatus::Deleted, now)?;
                Change::Updated
            }
            // Already deleted by another message: the new message is in the history only.
            Some(_) => Change::Unchanged,
            None => Change::Inserted,
        };
        Ok(DeleteResult {
            known,
            change,
            document: self.find_document(del.source_id)?,
        })
    }

    fn chain_events(&self, set_id: &str) -> Result<Vec<DocumentEvent>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(concat!(
            "SELECT ",
            event_columns!(),
            " FROM document_events e
             WHERE e.source_id IN (SELECT source_id FROM documents WHERE set_id = ?1)
             ORDER BY e.id"
        )))?;
        let mut rows = self.sql(stmt.query([set_id]))?;
        let mut out = Vec::new();
        while let Some(r) = self.sql(rows.next())? {
            out.push(self.event_row(r)?);
        }
        Ok(out)
    }

    fn events_of(&self, source_id: &str) -> Result<Vec<DocumentEvent>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(concat!(
            "SELECT ",
            event_columns!(),
            " FROM document_events e WHERE e.source_id = ?1 ORDER BY e.id"
        )))?;
        let mut rows = self.sql(stmt.query([source_id]))?;
        let mut out = Vec::new();
        while let Some(r) = self.sql(rows.next())? {
            out.push(self.event_row(r)?);
        }
        Ok(out)
    }

    fn history_of_set(&self, set_id: &str) -> Result<DocumentHistory, RegistryError> {
        Ok(DocumentHistory {
            set_id: Some(set_id.to_owned()),
            versions: self.versions_of_set(set_id)?,
            events: self.chain_events(set_id)?,
        })
    }

    /// A deleted id with no version here (a deletion of a document never converted here): its
    /// events only.
    fn history_of_tombstone(&self, source_id: &str) -> Result<DocumentHistory, RegistryError> {
        Ok(DocumentHistory {
            set_id: None,
            versions: Vec::new(),
            events: self.events_of(source_id)?,
        })
    }

    /// `f` with `history` of each id `rows` yields (column 0): a setId ([`Db::history_of_set`])
    /// or a deleted id ([`Db::history_of_tombstone`]).
    fn histories_of<E: From<RegistryError>>(
        &self,
        mut rows: rusqlite::Rows<'_>,
        history: fn(&Self, &str) -> Result<DocumentHistory, RegistryError>,
        f: &mut dyn FnMut(DocumentHistory) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(r) = self.sql(rows.next())? {
            let id: String = self.sql(r.get(0))?;
            f(history(self, &id)?)?;
        }
        Ok(())
    }

    /// Calls `f` with each document's history, oldest document first: every document when
    /// `patient` is `None`, else those whose version names the patient by IPP (merges followed)
    /// or INS. Deletions of documents never seen come last, one history each.
    pub(crate) fn for_each_history<E: From<RegistryError>>(
        &self,
        patient: Option<&str>,
        f: &mut dyn FnMut(DocumentHistory) -> Result<(), E>,
    ) -> Result<(), E> {
        let canonical = patient.map(|p| self.canonical_ipp(p)).transpose()?;
        let (key, ipp) = (patient.unwrap_or(""), canonical.as_deref().unwrap_or(""));
        let all = patient.is_none();
        // Two statements rather than `?1 OR …`, so that a patient's look-up uses the indexes.
        let mut sets = self.sql(self.conn.prepare_cached(if all {
            "SELECT set_id FROM documents GROUP BY set_id ORDER BY MIN(rowid)"
        } else {
            "SELECT set_id FROM documents WHERE ipp = ?1 OR ins = ?2
             GROUP BY set_id ORDER BY MIN(rowid)"
        }))?;
        let rows = if all {
            self.sql(sets.query([]))?
        } else {
            self.sql(sets.query(params![ipp, key]))?
        };
        self.histories_of(rows, Self::history_of_set, f)?;
        // Deletions of documents never converted here: one history per deleted id.
        let mut tombstones = self.sql(self.conn.prepare_cached(
            "SELECT e.source_id FROM document_events e
             WHERE e.kind = 'deletion' AND (?1 OR e.ipp = ?2 OR e.ins = ?3)
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.source_id = e.source_id)
             GROUP BY e.source_id ORDER BY MIN(e.id)",
        ))?;
        let rows = self.sql(tombstones.query(params![all, ipp, key]))?;
        self.histories_of(rows, Self::history_of_tombstone, f)
    }

    /// Calls `f` with the history of each document `id` names, oldest first: by its id
    /// (`source_id`), its CDA id, or its identifier as sent — whole (`DOC-A^DPI`) or its first
    /// component (`DOC-A`). Deletions of documents never converted here, named so, come last.
    /// Usually one history; two when the same local number came from two senders.
    pub(crate) fn for_each_history_of_document<E: From<RegistryError>>(
        &self,
        id: &str,
        f: &mut dyn FnMut(DocumentHistory) -> Result<(), E>,
    ) -> Result<(), E> {
        // `sent_id` starting with `id^`: the range [`id^`, `id_`) ('^' is 0x5E, '_' 0x5F), which
        // the index serves, and no LIKE wildcard in `id` to escape. (`cda_id` has no index:
        // it differs from `source_id` only for a CDA received built; a scan, for one command.)
        let (from, to) = (format!("{id}^"), format!("{id}_"));
        let mut sets = self.sql(self.conn.prepare_cached(
            "SELECT set_id FROM documents
             WHERE source_id = ?1 OR cda_id = ?1 OR sent_id = ?1 OR (sent_id >= ?2 AND sent_id < ?3)
             GROUP BY set_id ORDER BY MIN(rowid)",
        ))?;
        let rows = self.sql(sets.query(params![id, from, to]))?;
        self.histories_of(rows, Self::history_of_set, f)?;
        let mut tombstones = self.sql(self.conn.prepare_cached(
            "SELECT e.source_id FROM document_events e
             WHERE e.kind = 'deletion'
               AND (e.source_id = ?1 OR e.sent_id = ?1 OR (e.sent_id >= ?2 AND e.sent_id < ?3))
               AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.source_id = e.source_id)
             GROUP BY e.source_id ORDER BY MIN(e.id)",
        ))?;
        let rows = self.sql(tombstones.query(params![id, from, to]))?;
        self.histories_of(rows, Self::history_of_tombstone, f)
    }
}
