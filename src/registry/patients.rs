//! Patients (issue 10): identities from ADT, the held worklist, oppositions and merges.
//!
//! The patient key is the IPP as the pipeline builds it (the registry does not parse it). After a
//! merge (ADT A40, PAM-FR), every look-up and every write naming the old IPP is filed under the
//! surviving one ([`Db::canonical_ipp`]), so that a message still naming the old IPP joins the
//! right worklist line.
//!
//! Held messages are indexed by patient: by IPP and, when they carry one, by INS (issue 10). An
//! ADT message releases those filed under its IPP and those carrying its INS (no IPP, or another
//! IPP: another domain, a duplicate record). That INS is not trusted by itself — it is why the
//! message is held: a release only converts the message again, and the identity gate decides,
//! with the identity recorded from ADT for the message's IPP, else for its INS
//! ([`Db::patient_by_ins`]: only when one patient record carries it).

use super::Db;
use super::error::RegistryError;
use super::types::{
    Change, HeldDocument, HeldEntry, HeldStatus, IdentityResult, MergeResult, Opposition,
    OppositionChange, OppositionRow, PatientIdentity, PatientMerge, PatientRow, WorklistEntry,
};
use rusqlite::{OptionalExtension, Row, params};
use std::collections::{BTreeSet, HashMap};

/// Merge chains longer than this are treated as a cycle (they cannot come from real A40s).
const MAX_MERGE_CHAIN: usize = 64;

const HELD_COLUMNS: &str = "message_hash, source, document_id, ipp, ins, reasons, path, status, \
     held_at, released_at, released_as";

impl Db<'_> {
    /// The IPP a patient is filed under: `ipp` itself, or the end of its chain of merges.
    pub(crate) fn canonical_ipp(&self, ipp: &str) -> Result<String, RegistryError> {
        let mut stmt = self.sql(
            self.conn
                .prepare_cached("SELECT surviving_ipp FROM merges WHERE old_ipp = ?1"),
        )?;
        let mut current = ipp.to_owned();
        for _ in 0..MAX_MERGE_CHAIN {
            let next: Option<String> =
                self.sql(stmt.query_row([&current], |r| r.get(0)).optional())?;
            match next {
                Some(n) => current = n,
                None => return Ok(current),
            }
        }
        Err(self.corrupt(
            "merges",
            format!("merge chain longer than {MAX_MERGE_CHAIN}"),
        ))
    }

    fn held_entry(&self, r: &Row<'_>) -> Result<HeldEntry, RegistryError> {
        let reasons: String = self.sql(r.get(5))?;
        let status: String = self.sql(r.get(7))?;
        let released_at: Option<String> = self.sql(r.get(9))?;
        Ok(HeldEntry {
            message_hash: self.sql(r.get(0))?,
            source: self.sql(r.get(1))?,
            document_id: self.sql(r.get(2))?,
            ipp: self.sql(r.get(3))?,
            ins: self.sql(r.get(4))?,
            reasons: serde_json::from_str(&reasons)
                .map_err(|e| self.corrupt("held", format!("reasons: {e}")))?,
            path: self.sql(r.get(6))?,
            status: match status.as_str() {
                "held" => HeldStatus::Held,
                "released" => HeldStatus::Released,
                _ => return Err(self.corrupt("held", format!("status {status:?}"))),
            },
            held_at: self.time_text(&self.sql(r.get::<_, String>(8))?, "held")?,
            released_at: released_at
                .map(|t| self.time_text(&t, "held"))
                .transpose()?,
            released_as: self.sql(r.get(10))?,
        })
    }

    /// The held message with this hash, whatever its status.
    pub(crate) fn held_entry_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<HeldEntry>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE message_hash = ?1"
        )))?;
        let mut rows = self.sql(stmt.query([hash]))?;
        match self.sql(rows.next())? {
            Some(r) => Ok(Some(self.held_entry(r)?)),
            None => Ok(None),
        }
    }

    /// Records a held message; the same message again changes nothing, even once released (a
    /// rerun over the same input must not hold again what was released).
    pub(crate) fn record_held(
        &self,
        held: &HeldDocument<'_>,
        now: &str,
    ) -> Result<(Change, HeldEntry), RegistryError> {
        if let Some(entry) = self.held_entry_by_hash(held.message_hash)? {
            return Ok((Change::Unchanged, entry));
        }
        let ipp = held.ipp.map(|i| self.canonical_ipp(i)).transpose()?;
        let reasons = serde_json::to_string(held.reasons)
            .map_err(|e| self.corrupt("held", format!("reasons: {e}")))?;
        let mut stmt = self.sql(self.conn.prepare_cached(&format!(
            "INSERT INTO held ({HELD_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'held', ?8, NULL, NULL)"
        )))?;
        self.sql(stmt.execute(params![
            held.message_hash,
            held.source,
            held.document_id,
            ipp,
            held.ins,
            reasons,
            held.path,
            now
        ]))?;
        let entry = self
            .held_entry_by_hash(held.message_hash)?
            .ok_or_else(|| self.corrupt("held", "row vanished".to_owned()))?;
        Ok((Change::Inserted, entry))
    }

    /// Marks a held message released; `false` if it was not held (unknown or released already).
    pub(crate) fn mark_released(
        &self,
        message_hash: &str,
        released_as: &str,
        now: &str,
    ) -> Result<bool, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "UPDATE held SET status = 'released', released_at = ?3, released_as = ?2
             WHERE message_hash = ?1 AND status = 'held'",
        ))?;
        Ok(self.sql(stmt.execute(params![message_hash, released_as, now]))? > 0)
    }

    /// The messages still held for a patient (by IPP, merges followed), oldest first.
    pub(crate) fn held_for_patient(&self, ipp: &str) -> Result<Vec<HeldEntry>, RegistryError> {
        let ipp = self.canonical_ipp(ipp)?;
        let mut stmt = self.sql(self.conn.prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE ipp = ?1 AND status = 'held' ORDER BY held_at, rowid"
        )))?;
        let mut rows = self.sql(stmt.query([ipp]))?;
        let mut out = Vec::new();
        while let Some(r) = self.sql(rows.next())? {
            out.push(self.held_entry(r)?);
        }
        Ok(out)
    }

    /// The messages still held for a document (TXA-12 / OBR-3 as resolved), oldest first.
    pub(crate) fn held_for_document(
        &self,
        document_id: &str,
    ) -> Result<Vec<HeldEntry>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE document_id = ?1 AND status = 'held'
             ORDER BY held_at, rowid"
        )))?;
        let mut rows = self.sql(stmt.query([document_id]))?;
        let mut out = Vec::new();
        while let Some(r) = self.sql(rows.next())? {
            out.push(self.held_entry(r)?);
        }
        Ok(out)
    }

    /// Every message still held, oldest first.
    pub(crate) fn held_waiting(&self) -> Result<Vec<HeldEntry>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE status = 'held' ORDER BY held_at, rowid"
        )))?;
        let mut rows = self.sql(stmt.query([]))?;
        let mut out = Vec::new();
        while let Some(r) = self.sql(rows.next())? {
            out.push(self.held_entry(r)?);
        }
        Ok(out)
    }

    /// Every message held for a patient — filed under the IPP (merges followed), or carrying
    /// the INS —, released ones included, oldest first.
    pub(crate) fn held_ever_for_patient(
        &self,
        ipp: Option<&str>,
        ins: Option<&str>,
    ) -> Result<Vec<HeldEntry>, RegistryError> {
        let ipp = ipp.map(|i| self.canonical_ipp(i)).transpose()?;
        let mut stmt = self.sql(self.conn.prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE ipp = ?1 OR ins = ?2 ORDER BY held_at, rowid"
        )))?;
        let mut rows = self.sql(stmt.query(params![ipp, ins]))?;
        let mut out = Vec::new();
        while let Some(r) = self.sql(rows.next())? {
            out.push(self.held_entry(r)?);
        }
        Ok(out)
    }

    /// The identity worklist: one line per patient with held messages, oldest wait first.
    pub(crate) fn held_worklist(&self) -> Result<Vec<WorklistEntry>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(&format!(
            "SELECT {HELD_COLUMNS} FROM held WHERE status = 'held' ORDER BY held_at, rowid"
        )))?;
        let mut rows = self.sql(stmt.query([]))?;
        // Messages without IPP are grouped by INS, and those without either all together.
        let mut lines: Vec<(WorklistEntry, BTreeSet<String>)> = Vec::new();
        let mut index: HashMap<(Option<String>, Option<String>), usize> = HashMap::new();
        while let Some(r) = self.sql(rows.next())? {
            let e = self.held_entry(r)?;
            let key = match &e.ipp {
                Some(ipp) => (Some(ipp.clone()), None),
                None => (None, e.ins.clone()),
            };
            let i = *index.entry(key).or_insert_with(|| {
                lines.push((
                    WorklistEntry {
                        ipp: e.ipp.clone(),
                        ins: None,
                        reasons: Vec::new(),
                        count: 0,
                        oldest: e.held_at,
                        qualified: None,
                    },
                    BTreeSet::new(),
                ));
                lines.len() - 1
            });
            let Some((line, reasons)) = lines.get_mut(i) else {
                continue;
            };
            line.count += 1;
            // Rows come oldest first: the latest held message's INS wins.
            if e.ins.is_some() {
                line.ins = e.ins.clone();
            }
            reasons.extend(e.reasons);
        }
        let mut out = Vec::with_capacity(lines.len());
        for (mut line, reasons) in lines {
            line.reasons = reasons.into_iter().collect();
            if let Some(ipp) = &line.ipp
                && let Some(p) = self.patient(ipp)?
            {
                line.qualified = Some(p.qualified);
                if p.ins.is_some() {
                    line.ins = p.ins;
                }
            }
            out.push(line);
        }
        Ok(out)
    }

    /// The identity recorded for a patient (merges followed).
    pub(crate) fn patient(&self, ipp: &str) -> Result<Option<PatientRow>, RegistryError> {
        let ipp = self.canonical_ipp(ipp)?;
        let mut stmt = self.sql(self.conn.prepare_cached(
            "SELECT ipp, ins, qualified, adt_message, source, message_hash, updated_at
             FROM patients WHERE ipp = ?1",
        ))?;
        let mut rows = self.sql(stmt.query([ipp]))?;
        let Some(r) = self.sql(rows.next())? else {
            return Ok(None);
        };
        Ok(Some(PatientRow {
            ipp: self.sql(r.get(0))?,
            ins: self.sql(r.get(1))?,
            qualified: self.sql(r.get(2))?,
            adt_message: self.sql(r.get(3))?,
            source: self.sql(r.get(4))?,
            message_hash: self.sql(r.get(5))?,
            updated_at: self.time_text(&self.sql(r.get::<_, String>(6))?, "patients")?,
        }))
    }

    /// The identity recorded for the one patient whose latest ADT identity carries this INS;
    /// `None` when none does, or when several patient records do (which one the message is
    /// about is then for a human to say).
    pub(crate) fn patient_by_ins(&self, ins: &str) -> Result<Option<PatientRow>, RegistryError> {
        let mut stmt = self.sql(
            self.conn
                .prepare_cached("SELECT ipp FROM patients WHERE ins = ?1 LIMIT 2"),
        )?;
        let ipps: Vec<String> = self.sql(
            stmt.query_map([ins], |r| r.get(0))
                .and_then(|rows| rows.collect()),
        )?;
        match ipps.as_slice() {
            [ipp] => self.patient(ipp),
            _ => Ok(None),
        }
    }

    /// Records the latest identity of a patient (last message wins: input order is authoritative).
    pub(crate) fn record_patient_identity(
        &self,
        p: &PatientIdentity<'_>,
        now: &str,
    ) -> Result<IdentityResult, RegistryError> {
        let before = self.patient(p.ipp)?;
        if before
            .as_ref()
            .is_some_and(|b| b.message_hash == p.message_hash)
        {
            return Ok(IdentityResult {
                change: Change::Unchanged,
                became_qualified: false,
            });
        }
        let ipp = self.canonical_ipp(p.ipp)?;
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT INTO patients (ipp, ins, qualified, adt_message, source, message_hash, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (ipp) DO UPDATE SET ins = excluded.ins, qualified = excluded.qualified,
               adt_message = excluded.adt_message, source = excluded.source,
               message_hash = excluded.message_hash, updated_at = excluded.updated_at",
        ))?;
        self.sql(stmt.execute(params![
            ipp,
            p.ins,
            p.qualified,
            p.adt_message,
            p.source,
            p.message_hash,
            now
        ]))?;
        Ok(IdentityResult {
            change: if before.is_some() {
                Change::Updated
            } else {
                Change::Inserted
            },
            became_qualified: p.qualified && !before.is_some_and(|b| b.qualified),
        })
    }

    /// The patient's recorded choice about DMP feeding (merges followed).
    pub(crate) fn opposition(&self, ipp: &str) -> Result<Option<OppositionRow>, RegistryError> {
        let ipp = self.canonical_ipp(ipp)?;
        self.opposition_exact(&ipp)
    }

    /// Whether a patient whose latest ADT identity carries this INS is opposed to DMP feeding
    /// (issue 10): the DMP is keyed by INS, so a document naming the INS under no IPP, or under
    /// another IPP (another domain, a duplicate record), is the same patient's. The INS as the
    /// patient administration system last sent it for the IPP (`patients.ins`, merges already
    /// followed by both tables); an `INO` for that IPP lifts it.
    pub(crate) fn opposed_by_ins(&self, ins: &str) -> Result<bool, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM patients p JOIN oppositions o ON o.ipp = p.ipp
                            WHERE p.ins = ?1 AND o.opposed = 1)",
        ))?;
        self.sql(stmt.query_row([ins], |r| r.get(0)))
    }

    fn opposition_exact(&self, ipp: &str) -> Result<Option<OppositionRow>, RegistryError> {
        let mut stmt = self.sql(self.conn.prepare_cached(
            "SELECT ipp, opposed, since, source, message_hash, updated_at
             FROM oppositions WHERE ipp = ?1",
        ))?;
        let mut rows = self.sql(stmt.query([ipp]))?;
        let Some(r) = self.sql(rows.next())? else {
            return Ok(None);
        };
        let since: Option<String> = self.sql(r.get(2))?;
        Ok(Some(OppositionRow {
            ipp: self.sql(r.get(0))?,
            opposed: self.sql(r.get(1))?,
            since: since
                .map(|s| {
                    s.parse::<jiff::civil::DateTime>()
                        .map_err(|e| self.corrupt("oppositions", format!("since {s:?}: {e}")))
                })
                .transpose()?,
            source: self.sql(r.get(3))?,
            message_hash: self.sql(r.get(4))?,
            updated_at: self.time_text(&self.sql(r.get::<_, String>(5))?, "oppositions")?,
        }))
    }

    /// Records a patient's choice (see [`Opposition`] for the ordering rule).
    pub(crate) fn set_opposition(
        &self,
        o: &Opposition<'_>,
        now: &str,
    ) -> Result<OppositionChange, RegistryError> {
        let ipp = self.canonical_ipp(o.ipp)?;
        if let Some(before) = self.opposition_exact(&ipp)? {
            if before.message_hash == o.message_hash
                || (before.opposed == o.opposed && before.since == o.since)
            {
                return Ok(OppositionChange::Unchanged);
            }
            if let (Some(old), Some(new)) = (before.since, o.since)
                && new < old
            {
                return Ok(OppositionChange::Stale);
            }
        }
        let mut stmt = self.sql(self.conn.prepare_cached(
            "INSERT INTO oppositions (ipp, opposed, since, source, message_hash, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (ipp) DO UPDATE SET opposed = excluded.opposed, since = excluded.since,
               source = excluded.source, message_hash = excluded.message_hash,
               updated_at = excluded.updated_at",
        ))?;
        self.sql(stmt.execute(params![
            ipp,
            o.opposed,
            o.since.map(|s| s.to_string()),
            o.source,
            o.message_hash,
            now
        ]))?;
        Ok(OppositionChange::Applied)
    }

    /// Files everything of `old_ipp` under the surviving patient (ADT A40).
    ///
    /// Oppositions: if either record is opposed, the merged patient is opposed — a patient's
    /// opposition is never lost by a merge of records (excluding is reversible by an `INO`,
    /// sending is not). Identity: the surviving patient's is kept, the old one's moves only if the
    /// surviving patient has none (the A40 carries the surviving identity anyway).
    pub(crate) fn merge_patients(
        &self,
        m: &PatientMerge<'_>,
        now: &str,
    ) -> Result<MergeResult, RegistryError> {
        let surviving = self.canonical_ipp(m.surviving_ipp)?;
        if surviving == m.old_ipp {
            return Err(RegistryError::MergeCycle {
                path: self.path.to_owned(),
                old_ipp: m.old_ipp.to_owned(),
                surviving_ipp: m.surviving_ipp.to_owned(),
            });
        }
        let recorded: Option<String> = self.sql(
            self.conn
                .prepare_cached("SELECT surviving_ipp FROM merges WHERE old_ipp = ?1")
                .and_then(|mut s| s.query_row([m.old_ipp], |r| r.get(0)).optional()),
        )?;
        let mut changed = false;
        if recorded.as_deref() != Some(m.surviving_ipp) {
            let mut stmt = self.sql(self.conn.prepare_cached(
                "INSERT INTO merges (old_ipp, surviving_ipp, source, message_hash, merged_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (old_ipp) DO UPDATE SET surviving_ipp = excluded.surviving_ipp,
                   source = excluded.source, message_hash = excluded.message_hash,
                   merged_at = excluded.merged_at",
            ))?;
            self.sql(stmt.execute(params![
                m.old_ipp,
                m.surviving_ipp,
                m.source,
                m.message_hash,
                now
            ]))?;
            changed = true;
        }
        let exec = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<usize, RegistryError> {
            let mut stmt = self.sql(self.conn.prepare_cached(sql))?;
            self.sql(stmt.execute(args))
        };
        let (old, new) = (m.old_ipp, surviving.as_str());
        let held_moved = exec("UPDATE held SET ipp = ?2 WHERE ipp = ?1", params![old, new])?;
        let documents_moved = exec(
            "UPDATE documents SET ipp = ?2 WHERE ipp = ?1",
            params![old, new],
        )?;
        exec(
            "UPDATE document_events SET ipp = ?2 WHERE ipp = ?1",
            params![old, new],
        )?;
        exec(
            "UPDATE patients SET ipp = ?2 WHERE ipp = ?1
               AND NOT EXISTS (SELECT 1 FROM patients WHERE ipp = ?2)",
            params![old, new],
        )?;
        exec("DELETE FROM patients WHERE ipp = ?1", params![old])?;
        if let Some(old_choice) = self.opposition_exact(old)? {
            let keep_old = match self.opposition_exact(new)? {
                None => true,
                Some(s) => old_choice.opposed && !s.opposed,
            };
            if keep_old {
                exec("DELETE FROM oppositions WHERE ipp = ?1", params![new])?;
                exec(
                    "UPDATE oppositions SET ipp = ?2 WHERE ipp = ?1",
                    params![old, new],
                )?;
            } else {
                exec("DELETE FROM oppositions WHERE ipp = ?1", params![old])?;
            }
            changed = true;
        }
        Ok(MergeResult {
            change: match (recorded, changed || held_moved > 0 || documents_moved > 0) {
                (None, _) => Change::Inserted,
                (Some(_), true) => Change::Updated,
                (Some(_), false) => Change::Unchanged,
            },
            surviving_ipp: surviving,
            held_moved,
            documents_moved,
        })
    }
}
