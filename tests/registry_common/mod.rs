//! Shared by the `registry_*` tests: a stand-in for the converter that asks the registry where a
//! document goes, "writes" it, and records it, as the pipeline does.
#![allow(dead_code)]

use dmpfeed::registry::{
    ChainPosition, DeleteResult, DocumentStatus, NewDeletion, NewDocument, RecordResult, Registry,
    RegistryError, RegistryRead, Tx,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A fresh registry in a temporary folder (kept alive by the returned guard).
pub fn fresh() -> (tempfile::TempDir, PathBuf, Registry) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("registry.sqlite");
    let reg = Registry::open(&path).expect("open registry");
    (dir, path, reg)
}

/// The setId a converter derives for a chain starting at `id`: the same derivation for an
/// original and for the unknown parent of a replacement (see `ChainPosition::set_id`).
pub fn derived_set_id(id: &str) -> String {
    format!("1.2.250.1.999.{id}")
}

/// One document message, as the tests send them.
#[derive(Debug, Clone)]
pub struct Msg {
    pub source_id: String,
    pub parent: Option<String>,
    pub ipp: String,
    pub ins: Option<String>,
    /// Stands for the message bytes' digest.
    pub hash: String,
    /// TXA-12 as sent (the registry's `sent_id`).
    pub sent: Option<String>,
}

impl Msg {
    pub fn t02(id: &str, ipp: &str) -> Msg {
        Msg {
            source_id: id.into(),
            parent: None,
            ipp: ipp.into(),
            ins: None,
            hash: format!("hash-{id}"),
            sent: None,
        }
    }

    pub fn t10(id: &str, parent: &str, ipp: &str) -> Msg {
        Msg {
            parent: Some(parent.into()),
            ..Msg::t02(id, ipp)
        }
    }

    pub fn with_hash(mut self, hash: &str) -> Msg {
        self.hash = hash.into();
        self
    }

    pub fn with_sent(mut self, sent: &str) -> Msg {
        self.sent = Some(sent.into());
        self
    }

    pub fn with_ins(mut self, ins: &str) -> Msg {
        self.ins = Some(ins.into());
        self
    }
}

/// Looks the chain up and records the document, in `tx`, as the pipeline's writer does.
pub fn convert_in(
    tx: &mut Tx<'_>,
    m: &Msg,
) -> Result<(ChainPosition, RecordResult), RegistryError> {
    let pos = tx.chain_position(&m.source_id, m.parent.as_deref())?;
    let r = record_at(tx, m, &pos)?;
    Ok((pos, r))
}

/// Records the document "converted" at `pos`.
pub fn record_at(
    tx: &mut Tx<'_>,
    m: &Msg,
    pos: &ChainPosition,
) -> Result<RecordResult, RegistryError> {
    let set_id = pos
        .set_id
        .clone()
        .unwrap_or_else(|| derived_set_id(m.parent.as_deref().unwrap_or(&m.source_id)));
    let cda_id = format!("1.2.250.1.999.cda.{}.{}", m.source_id, m.hash);
    let output_path = format!("documents/{}.xml", m.source_id);
    let source = format!("in/{}.hl7#1", m.source_id);
    let event = if m.parent.is_some() {
        "MDM^T10"
    } else {
        "MDM^T02"
    };
    tx.record_converted(&NewDocument {
        source_id: &m.source_id,
        sent_id: m.sent.as_deref(),
        parent_source_id: m.parent.as_deref(),
        cda_id: &cda_id,
        set_id: &set_id,
        version: pos.version,
        ipp: Some(&m.ipp),
        ins: m.ins.as_deref(),
        output_path: &output_path,
        source: &source,
        message_hash: &m.hash,
        event,
    })
}

/// [`convert_in`] in a transaction of its own.
pub fn convert(reg: &mut Registry, m: &Msg) -> (ChainPosition, RecordResult) {
    reg.transaction(|tx| convert_in(tx, m))
        .unwrap_or_else(|e| panic!("recording {m:?}: {e}"))
}

/// Records a deletion of `id`.
pub fn delete(reg: &mut Registry, id: &str, ipp: &str, hash: &str) -> DeleteResult {
    delete_sent(reg, id, None, ipp, hash)
}

/// Records a deletion of `id`, sent as `sent`.
pub fn delete_sent(
    reg: &mut Registry,
    id: &str,
    sent: Option<&str>,
    ipp: &str,
    hash: &str,
) -> DeleteResult {
    let output_path = format!("deleted/{id}.json");
    reg.record_deleted(&NewDeletion {
        source_id: id,
        sent_id: sent,
        ipp: Some(ipp),
        ins: None,
        output_path: &output_path,
        source: "in/t04.hl7#1",
        message_hash: hash,
        event: "MDM^T04",
    })
    .unwrap_or_else(|e| panic!("deleting {id}: {e}"))
}

/// Every document as `source_id → (set_id, version, status)`.
pub fn states(reg: &impl RegistryRead) -> BTreeMap<String, (String, u32, DocumentStatus)> {
    reg.all_documents()
        .expect("all documents")
        .into_iter()
        .flat_map(|h| h.versions)
        .map(|d| (d.source_id, (d.set_id, d.version, d.status)))
        .collect()
}

/// The registry's invariants, checked from outside through raw SQL (independent of the
/// registry's own queries): sound file; complete rows; in each chain, distinct versions, at most
/// one current version, which is the highest; every replacement's parent (when recorded) is not
/// current.
pub fn check_invariants(path: &std::path::Path) -> Vec<String> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open for checking");
    let mut problems = Vec::new();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    if integrity != "ok" {
        problems.push(format!("integrity_check: {integrity}"));
    }
    let q = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).expect(sql);
        stmt.query_map([], |r| r.get::<_, String>(0))
            .expect(sql)
            .map(|r| r.expect(sql))
            .collect()
    };
    for (what, sql) in [
        (
            "incomplete document row",
            "SELECT source_id FROM documents WHERE cda_id = '' OR set_id = '' OR output_path = ''
               OR message_hash = '' OR created_at = '' OR updated_at = '' OR version < 1",
        ),
        (
            "document without its event",
            "SELECT source_id FROM documents d WHERE NOT EXISTS
               (SELECT 1 FROM document_events e WHERE e.source_id = d.source_id
                  AND e.kind IN ('original', 'replacement', 'update'))",
        ),
        (
            "several current versions",
            "SELECT set_id FROM documents WHERE status = 'current' GROUP BY set_id HAVING COUNT(*) > 1",
        ),
        (
            "current version is not the highest",
            "SELECT d.source_id FROM documents d WHERE d.status = 'current' AND EXISTS
               (SELECT 1 FROM documents o WHERE o.set_id = d.set_id AND o.version > d.version)",
        ),
        (
            "replaced parent still current",
            "SELECT p.source_id FROM documents p JOIN documents c ON c.parent_source_id = p.source_id
             WHERE p.status = 'current'",
        ),
        (
            "deleted document not deleted",
            "SELECT d.source_id FROM documents d WHERE d.status <> 'deleted' AND EXISTS
               (SELECT 1 FROM document_events e WHERE e.source_id = d.source_id AND e.kind = 'deletion')",
        ),
    ] {
        for id in q(sql) {
            problems.push(format!("{what}: {id}"));
        }
    }
    problems
}
