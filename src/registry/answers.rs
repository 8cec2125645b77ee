//! The answers a message's conversion got from the registry (schema v2), kept so that the same
//! message converted again gets the same ones. Stored as the pipeline gives them (JSON text).

use super::Db;
use super::error::RegistryError;
use super::types::Change;
use rusqlite::{OptionalExtension, params};

impl Db<'_> {
    pub(crate) fn answers(&self, message_hash: &str) -> Result<Option<String>, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached("SELECT answers FROM answers WHERE message_hash = ?1")
                .and_then(|mut s| s.query_row([message_hash], |r| r.get(0)).optional()),
        )
    }

    pub(crate) fn remember_answers(
        &self,
        message_hash: &str,
        answers: &str,
        now: &str,
    ) -> Result<Change, RegistryError> {
        let before = self.answers(message_hash)?;
        if before.as_deref() == Some(answers) {
            return Ok(Change::Unchanged);
        }
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT INTO answers (message_hash, answers, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (message_hash) DO UPDATE SET answers = excluded.answers,
               updated_at = excluded.updated_at",
        ))?;
        self.sql(stmt.execute(params![message_hash, answers, now]))?;
        Ok(if before.is_some() {
            Change::Updated
        } else {
            Change::Inserted
        })
    }
}
