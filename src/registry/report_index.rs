//! The NAME index (schema v5): what the output folder's `report.jsonl` says of each message —
//! its NAME, the files and the place of its latest line — and how far the report was read into
//! it. The pipeline (`src/pipeline/index.rs`) keeps it in step with the report; here it is only
//! stored. Message hashes are the raw bytes of the report's hex.

use super::Db;
use super::error::RegistryError;
use rusqlite::{OptionalExtension, params};

/// A message as the index holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedMessage {
    /// Its NAME; `None` when its lines name no file (a recorded ADT).
    pub name: Option<String>,
    /// The files of its latest line, relative to the folder.
    pub files: Vec<String>,
    /// Where its latest line is in `report.jsonl`: byte offset and length (newline included).
    pub line_at: u64,
    pub line_len: u64,
    /// The run that wrote that line (0: read from the report when a run opened the folder).
    pub run: u64,
}

/// How far the index has read `report.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportState {
    /// The report's length when it was last indexed (or last appended to by a run).
    pub indexed_bytes: u64,
    /// The last line indexed: its length and BLAKE3, to recognise the same report.
    pub last_line_len: u64,
    pub last_line_blake3: Option<[u8; 32]>,
    /// Runs begun in this folder.
    pub runs: u64,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Db<'_> {
    pub(crate) fn indexed_message(
        &self,
        message_hash: &[u8],
    ) -> Result<Option<IndexedMessage>, RegistryError> {
        let row = self.sql(
            self.conn
                .prepare_cached(
                    "SELECT name, files, line_at, line_len, run FROM report_index
                     WHERE message_hash = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([message_hash], |r| {
                        Ok((
                            r.get::<_, Option<String>>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    })
                    .optional()
                }),
        )?;
        let Some((name, files, line_at, line_len, run)) = row else {
            return Ok(None);
        };
        let files: Vec<String> = serde_json::from_str(&files)
            .map_err(|e| self.corrupt("report_index", format!("files {files:?}: {e}")))?;
        Ok(Some(IndexedMessage {
            name,
            files,
            line_at: to_u64(line_at),
            line_len: to_u64(line_len),
            run: to_u64(run),
        }))
    }

    /// The message that owns `name`, compared without case.
    pub(crate) fn name_owner(&self, name: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached(
                    "SELECT message_hash FROM report_index
                     WHERE lower(name) = lower(?1) AND name IS NOT NULL",
                )
                .and_then(|mut s| s.query_row([name], |r| r.get(0)).optional()),
        )
    }

    /// Records a message's latest line. A message keeps the NAME it has.
    pub(crate) fn index_message(
        &self,
        message_hash: &[u8],
        m: &IndexedMessage,
    ) -> Result<(), RegistryError> {
        let files = serde_json::to_string(&m.files)
            .map_err(|e| self.corrupt("report_index", format!("files: {e}")))?;
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT INTO report_index (message_hash, name, files, line_at, line_len, run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (message_hash) DO UPDATE SET name = coalesce(name, excluded.name),
               files = excluded.files, line_at = excluded.line_at,
               line_len = excluded.line_len, run = excluded.run",
        ))?;
        self.sql(stmt.execute(params![
            message_hash,
            m.name,
            files,
            to_i64(m.line_at),
            to_i64(m.line_len),
            to_i64(m.run)
        ]))?;
        Ok(())
    }

    pub(crate) fn report_state(&self) -> Result<Option<ReportState>, RegistryError> {
        let row = self.sql(
            self.conn
                .prepare_cached(
                    "SELECT indexed_bytes, last_line_len, last_line_blake3, runs
                     FROM report_state WHERE id = 1",
                )
                .and_then(|mut s| {
                    s.query_row([], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<Vec<u8>>>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    })
                    .optional()
                }),
        )?;
        let Some((indexed_bytes, last_line_len, digest, runs)) = row else {
            return Ok(None);
        };
        let last_line_blake3 = match digest {
            None => None,
            Some(d) => Some(<[u8; 32]>::try_from(d.as_slice()).map_err(|_| {
                self.corrupt("report_state", format!("{} bytes of BLAKE3", d.len()))
            })?),
        };
        Ok(Some(ReportState {
            indexed_bytes: to_u64(indexed_bytes),
            last_line_len: to_u64(last_line_len),
            last_line_blake3,
            runs: to_u64(runs),
        }))
    }

    pub(crate) fn set_report_state(&self, s: &ReportState) -> Result<(), RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT INTO report_state (id, indexed_bytes, last_line_len, last_line_blake3, runs)
             VALUES (1, ?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET indexed_bytes = excluded.indexed_bytes,
               last_line_len = excluded.last_line_len,
               last_line_blake3 = excluded.last_line_blake3, runs = excluded.runs",
        ))?;
        self.sql(stmt.execute(params![
            to_i64(s.indexed_bytes),
            to_i64(s.last_line_len),
            s.last_line_blake3.as_ref().map(<[u8; 32]>::as_slice),
            to_i64(s.runs)
        ]))?;
        Ok(())
    }

    /// Forgets every indexed message (the report is indexed again from its start).
    pub(crate) fn clear_report_index(&self) -> Result<(), RegistryError> {
        self.exec_cached("DELETE FROM report_index")
    }

    pub(crate) fn list_superseded(
        &self,
        message_hash: &[u8],
        path: &str,
    ) -> Result<(), RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT OR IGNORE INTO superseded_files (message_hash, path) VALUES (?1, ?2)",
        ))?;
        self.sql(stmt.execute(params![message_hash, path]))?;
        Ok(())
    }

    pub(crate) fn superseded_files(&self) -> Result<Vec<(Vec<u8>, String)>, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached("SELECT message_hash, path FROM superseded_files")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()
                }),
        )
    }

    pub(crate) fn clear_superseded(&self) -> Result<(), RegistryError> {
        self.exec_cached("DELETE FROM superseded_files")
    }
}
