//! The answers a message's conversion got from the registry (schema v2), kept so that the same
//! message converted again gets the same ones. Stored as the pipeline gives them (JSON text).

use super::Db;
use super::error::RegistryError;
use rusqlite::{OptionalExtension, params};

impl Db<'_> {
    pub(crate) fn answers(&self, message_hash: &str) -> Result<Option<String>, RegistryError> {
        self.sql(
            self.conn
                .prepare_cached("SELECT answers FROM answers WHERE message_hash = ?1")
                .and_then(|mut s| s.query_row([message_hash], |r| r.get(0)).optional()),
        )
    }

    /// One statement: a message's answers inserted, or replaced when they differ (the same
    /// answers again write nothing). True when written.
    pub(crate) fn remember_answers(
        &self,
        message_hash: &str,
        answers: &str,
        now: &str,
    ) -> Result<bool, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT INTO answers (message_hash, answers, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (message_hash) DO UPDATE SET answers = excluded.answers,
               updated_at = excluded.updated_at
             WHERE answers IS NOT excluded.answers",
        ))?;
        Ok(self.sql(stmt.execute(params![message_hash, answers, now]))? > 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::{Registry, RegistryRead};

    #[test]
    fn answers_are_written_when_new_or_changed_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg = Registry::open(&dir.path().join("registry.sqlite")).unwrap();
        let mut remember = |a: &str| reg.transaction(|tx| tx.remember_answers("h1", a)).unwrap();
        assert!(remember("[1]"), "new");
        assert!(!remember("[1]"), "the same again");
        assert!(remember("[2]"), "changed");
        assert_eq!(reg.answers("h1").unwrap().as_deref(), Some("[2]"));
        assert_eq!(reg.answers("h2").unwrap(), None);
    }
}
