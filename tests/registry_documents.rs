//! Registry, documents (issue 9): chains, deletions, unknown parents, idempotent reruns, group
//! commits, schema handling and a reader alongside the writer.

mod registry_common;

use dmpfeed::message_hash::Algorithm;
use dmpfeed::registry::{
    Change, DocumentStatus, EventKind, Registry, RegistryError, RegistryRead, RegistryReader,
};
use registry_common::{
    Msg, check_invariants, convert, convert_in, delete, delete_sent, derived_set_id, fresh, states,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// One message of a sequence.
#[derive(Debug, Clone, Copy)]
enum Step {
    T02(&'static str),
    T10(&'static str, &'static str),
    T04(&'static str),
}

/// What a step must warn about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Warn {
    None,
    ReplacedUnknown,
    DeletedUnknown,
}

use DocumentStatus::{Current as C, Deleted as D, Replaced as R};
use Step::{T02, T04, T10};
use Warn::None as Ok_;

/// Runs `steps` on a fresh registry; checks each step's warning, then every document's
/// `(chain root, version, status)` (the chain is named by the id its setId was derived from),
/// the invariants, and that running the same messages again changes nothing.
fn run(name: &str, steps: &[(Step, Warn)], expected: &[(&str, &str, u32, DocumentStatus)]) {
    let (_dir, path, mut reg) = fresh();
    let clock = Arc::new(AtomicI64::new(1_700_000_000));
    let c = clock.clone();
    reg.set_clock(Arc::new(move || {
        jiff::Timestamp::from_second(c.fetch_add(1, Ordering::SeqCst)).unwrap()
    }));
    let play = |reg: &mut Registry, pass: usize| {
        for (i, (step, warn)) in steps.iter().enumerate() {
            let (change, got_warn) = match *step {
                T02(id) => {
                    let (_, r) = convert(reg, &Msg::t02(id, "IPP1"));
                    (r.change, Warn::None)
                }
                T10(id, parent) => {
                    let (pos, r) = convert(reg, &Msg::t10(id, parent, "IPP1"));
                    assert_eq!(
                        pos.parent.is_some(),
                        r.parent_known == Some(true),
                        "{name} step {i}: chain_position and record disagree on the parent"
                    );
                    let w = if r.parent_known == Some(false) {
                        Warn::ReplacedUnknown
                    } else {
                        Warn::None
                    };
                    (r.change, w)
                }
                T04(id) => {
                    let r = delete(reg, id, "IPP1", &format!("hash-del-{id}"));
                    (
                        r.change,
                        if r.known {
                            Warn::None
                        } else {
                            Warn::DeletedUnknown
                        },
                    )
                }
            };
            if pass == 1 {
                assert_eq!(got_warn, *warn, "{name} step {i} {step:?}");
            } else {
                // The warning may differ on a rerun (the parent arrived meanwhile); rows may not.
                assert_eq!(change, Change::Unchanged, "{name} step {i} {step:?} rerun");
            }
        }
    };
    play(&mut reg, 1);
    let want: std::collections::BTreeMap<String, (String, u32, DocumentStatus)> = expected
        .iter()
        .map(|(id, root, v, s)| (id.to_string(), (derived_set_id(root), *v, *s)))
        .collect();
    assert_eq!(states(&reg), want, "{name}");
    assert_eq!(check_invariants(&path), Vec::<String>::new(), "{name}");
    let before = dump(&path);
    play(&mut reg, 2);
    assert_eq!(dump(&path), before, "{name}: a rerun changed the registry");
}

/// Every row of every table, as text, for before/after comparisons.
fn dump(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut out = Vec::new();
    for table in [
        "documents",
        "document_events",
        "held",
        "patients",
        "oppositions",
        "merges",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| r.get_ref(i).map(|v| format!("{v:?}")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        for row in rows {
            out.push(format!("{table}: {}", row.unwrap().join(" | ")));
        }
    }
    out
}

macro_rules! sequences {
    ($( $name:ident: [$($step:expr => $warn:expr),* $(,)?] => [$($want:expr),* $(,)?]; )+) => {
        $( #[test] fn $name() {
            run(stringify!($name), &[$(($step, $warn)),*], &[$($want),*]);
        } )+
    };
}

sequences! {
    original_alone_is_version_1_current:
        [T02("A") => Ok_] => [("A", "A", 1, C)];
    chain_of_six_replacements_numbers_versions_in_order:
        [T02("A") => Ok_, T10("B", "A") => Ok_, T10("C", "B") => Ok_, T10("D", "C") => Ok_,
         T10("E", "D") => Ok_, T10("F", "E") => Ok_]
        => [("A", "A", 1, R), ("B", "A", 2, R), ("C", "A", 3, R), ("D", "A", 4, R),
            ("E", "A", 5, R), ("F", "A", 6, C)];
    replacement_of_unknown_parent_starts_at_version_2_with_a_warning:
        [T10("B", "X") => Warn::ReplacedUnknown] => [("B", "X", 2, C)];
    replacements_continue_a_chain_started_by_an_unknown_parent:
        [T10("B", "X") => Warn::ReplacedUnknown, T10("C", "B") => Ok_, T10("D", "C") => Ok_]
        => [("B", "X", 2, R), ("C", "X", 3, R), ("D", "X", 4, C)];
    second_replacement_of_same_unknown_parent_joins_its_chain:
        [T10("B", "X") => Warn::ReplacedUnknown, T10("C", "X") => Warn::ReplacedUnknown]
        => [("B", "X", 2, R), ("C", "X", 3, C)];
    parent_arriving_after_its_replacement_is_version_1_replaced:
        [T10("B", "A") => Warn::ReplacedUnknown, T02("A") => Ok_]
        => [("A", "A", 1, R), ("B", "A", 2, C)];
    fork_gets_a_fresh_version_and_becomes_current:
        [T02("A") => Ok_, T10("B", "A") => Ok_, T10("C", "A") => Ok_]
        => [("A", "A", 1, R), ("B", "A", 2, R), ("C", "A", 3, C)];
    deletion_of_current_leaves_no_current_version:
        [T02("A") => Ok_, T10("B", "A") => Ok_, T04("B") => Ok_]
        => [("A", "A", 1, R), ("B", "A", 2, D)];
    deletion_of_a_replaced_version_keeps_the_current_one:
        [T02("A") => Ok_, T10("B", "A") => Ok_, T04("A") => Ok_]
        => [("A", "A", 1, D), ("B", "A", 2, C)];
    deletion_of_unknown_document_warns_and_is_remembered:
        [T04("A") => Warn::DeletedUnknown, T02("A") => Ok_] => [("A", "A", 1, D)];
    replacement_of_a_deleted_document_is_chained_and_current:
        [T02("A") => Ok_, T04("A") => Ok_, T10("B", "A") => Ok_]
        => [("A", "A", 1, D), ("B", "A", 2, C)];
    deleting_twice_with_the_same_message_is_one_deletion:
        [T02("A") => Ok_, T04("A") => Ok_, T04("A") => Ok_] => [("A", "A", 1, D)];
    replacement_deleted_before_it_arrived_still_replaces_its_parent:
        [T02("A") => Ok_, T04("B") => Warn::DeletedUnknown, T10("B", "A") => Ok_]
        => [("A", "A", 1, R), ("B", "A", 2, D)];
    late_deleted_fork_supersedes_the_current_version:
        [T02("A") => Ok_, T10("B", "A") => Ok_, T04("C") => Warn::DeletedUnknown,
         T10("C", "A") => Ok_]
        => [("A", "A", 1, R), ("B", "A", 2, R), ("C", "A", 3, D)];
    document_naming_itself_as_parent_is_an_original:
        [T10("A", "A") => Ok_, T10("B", "A") => Ok_] => [("A", "A", 1, R), ("B", "A", 2, C)];
    two_chains_of_one_patient_stay_apart:
        [T02("A") => Ok_, T02("P") => Ok_, T10("B", "A") => Ok_, T10("Q", "P") => Ok_]
        => [("A", "A", 1, R), ("B", "A", 2, C), ("P", "P", 1, R), ("Q", "P", 2, C)];
}

#[test]
fn history_lists_each_message_of_a_chain_in_order() {
    let (_dir, _path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("A", "IPP1").with_ins("184127645108946"));
    convert(
        &mut reg,
        &Msg::t10("B", "A", "IPP1").with_ins("184127645108946"),
    );
    convert(
        &mut reg,
        &Msg::t10("C", "B", "IPP1").with_ins("184127645108946"),
    );
    delete(&mut reg, "C", "IPP1", "del-C");
    convert(&mut reg, &Msg::t02("OTHER", "IPP2"));
    delete(&mut reg, "NEVER-SEEN", "IPP1", "del-N");

    let by_ipp = reg.documents_for_patient("IPP1").unwrap();
    assert_eq!(
        by_ipp.len(),
        2,
        "one chain and one unknown deletion: {by_ipp:#?}"
    );
    let chain = &by_ipp[0];
    assert_eq!(chain.set_id.as_deref(), Some(derived_set_id("A").as_str()));
    let kinds: Vec<(EventKind, &str)> = chain
        .events
        .iter()
        .map(|e| (e.kind, e.source_id.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (EventKind::Original, "A"),
            (EventKind::Replacement, "B"),
            (EventKind::Replacement, "C"),
            (EventKind::Deletion, "C"),
        ]
    );
    assert_eq!(chain.current(), None, "the latest version was deleted");
    assert_eq!(chain.latest().map(|d| d.source_id.as_str()), Some("C"));
    let tomb = &by_ipp[1];
    assert_eq!(tomb.set_id, None);
    assert!(tomb.versions.is_empty());
    assert_eq!(tomb.events[0].source_id, "NEVER-SEEN");

    // The INS finds the same chain (documents only carry it, the tombstone was sent without).
    let by_ins = reg.documents_for_patient("184127645108946").unwrap();
    assert_eq!(by_ins.len(), 1);
    assert_eq!(by_ins[0], *chain);
    assert_eq!(reg.documents_for_patient("IPP2").unwrap().len(), 1);
    assert!(reg.documents_for_patient("NOBODY").unwrap().is_empty());
    assert_eq!(reg.all_documents().unwrap().len(), 3);
}

#[test]
fn resent_message_with_other_bytes_updates_the_row_in_place() {
    let (_dir, path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("A", "IPP1"));
    convert(&mut reg, &Msg::t10("B", "A", "IPP1"));
    // B sent again with different bytes (a new MSH-10, a corrected text): same place in the chain.
    let (pos, r) = convert(&mut reg, &Msg::t10("B", "A", "IPP1").with_hash("hash-B-2"));
    assert_eq!(pos.recorded.as_ref().map(|d| d.version), Some(2));
    assert_eq!(r.change, Change::Updated);
    assert_eq!(
        (r.document.version, r.document.status),
        (2, DocumentStatus::Current)
    );
    assert_eq!(r.document.message_hash, "hash-B-2");
    let events = &reg.documents_for_patient("IPP1").unwrap()[0].events;
    assert_eq!(events.last().map(|e| e.kind), Some(EventKind::Update));
    // A replaced version sent again stays replaced, at its version.
    let (_, r) = convert(&mut reg, &Msg::t02("A", "IPP1").with_hash("hash-A-2"));
    assert_eq!(
        (r.document.version, r.document.status),
        (1, DocumentStatus::Replaced)
    );
    assert_eq!(check_invariants(&path), Vec::<String>::new());
}

#[test]
fn rerun_of_a_replaced_replacement_keeps_its_version() {
    let (_dir, _path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("A", "IPP1"));
    convert(&mut reg, &Msg::t10("B", "A", "IPP1"));
    convert(&mut reg, &Msg::t10("C", "B", "IPP1"));
    // Converting B again must write the same CDA: same setId, same version 2 (not 4).
    let pos = reg.chain_position("B", Some("A")).unwrap();
    assert_eq!(
        (pos.set_id.as_deref(), pos.version),
        (Some(derived_set_id("A").as_str()), 2)
    );
    assert!(pos.parent.is_some() && pos.recorded.is_some());
}

#[test]
fn stale_chain_position_is_refused_and_leaves_nothing_behind() {
    let (_dir, path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("A", "IPP1"));
    let outcome = reg.transaction(|tx| -> Result<_, RegistryError> {
        // Two replacements of A looked up before either is recorded (parallel workers).
        let stale = tx.chain_position("C", Some("A"))?;
        convert_in(tx, &Msg::t10("B", "A", "IPP1"))?;
        let conflict = tx.record_converted(&dmpfeed::registry::NewDocument {
            source_id: "C",
            sent_id: None,
            parent_source_id: Some("A"),
            cda_id: "cda-C",
            set_id: stale.set_id.as_deref().unwrap(),
            version: stale.version,
            ipp: Some("IPP1"),
            ins: None,
            output_path: "documents/C.xml",
            source: "in#3",
            message_hash: "hash-C",
            event: "MDM^T10",
        });
        let Err(RegistryError::ChainConflict {
            taken_by, version, ..
        }) = conflict
        else {
            panic!("expected a chain conflict, got {conflict:?}");
        };
        assert_eq!((taken_by.as_str(), version), ("B", 2));
        assert_eq!(tx.find_document("C")?, None, "the refused write left a row");
        // Looked up again, C goes after B, in the same transaction.
        let (pos, r) = convert_in(tx, &Msg::t10("C", "A", "IPP1"))?;
        assert_eq!(pos.version, 3);
        Ok(r)
    });
    assert_eq!(outcome.unwrap().document.status, DocumentStatus::Current);
    assert_eq!(check_invariants(&path), Vec::<String>::new());
    let events: usize = reg.documents_for_patient("IPP1").unwrap()[0].events.len();
    assert_eq!(events, 3, "A, B, C: no event from the refused write");
}

#[test]
fn failed_batch_commits_nothing() {
    let (_dir, _path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("A", "IPP1"));
    let r: Result<(), Box<dyn std::error::Error>> = reg.transaction(|tx| {
        convert_in(tx, &Msg::t10("B", "A", "IPP1"))?;
        convert_in(tx, &Msg::t02("Z", "IPP1"))?;
        Err("the pipeline could not write its report".into())
    });
    assert!(r.is_err());
    let s = states(&reg);
    assert_eq!(s.len(), 1, "{s:?}");
    assert_eq!(s["A"].2, DocumentStatus::Current);
}

#[test]
fn batch_sees_its_own_uncommitted_writes_and_readers_do_not() {
    let (_dir, path, mut reg) = fresh();
    let reader = RegistryReader::open(&path).unwrap();
    reg.transaction(|tx| -> Result<(), RegistryError> {
        convert_in(tx, &Msg::t02("A", "IPP1"))?;
        // The T10 in the same batch builds on the T02 not yet committed.
        let (pos, _) = convert_in(tx, &Msg::t10("B", "A", "IPP1"))?;
        assert_eq!(pos.version, 2);
        assert!(pos.parent.is_some());
        assert_eq!(
            reader.find_document("A")?,
            None,
            "reader saw an uncommitted row"
        );
        Ok(())
    })
    .unwrap();
    assert!(reader.find_document("B").unwrap().is_some());
}

#[test]
fn registry_survives_reopening() {
    let (dir, path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("A", "IPP1"));
    drop(reg);
    let mut reg = Registry::open(&path).unwrap();
    let (pos, _) = convert(&mut reg, &Msg::t10("B", "A", "IPP1"));
    assert_eq!(pos.version, 2);
    drop(reg);
    // Nobody writing, WAL files gone: a reader still opens it.
    let reader = RegistryReader::open(&path).unwrap();
    assert_eq!(states(&reader).len(), 2);
    assert_eq!(reader.integrity_check().unwrap(), Vec::<String>::new());
    drop(dir);
}

#[test]
fn reader_refuses_a_missing_registry_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    let e = RegistryReader::open(&path).unwrap_err();
    assert!(matches!(e, RegistryError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("registry.sqlite"), "{e}");
    assert!(!path.exists());
}

#[test]
fn a_foreign_database_is_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE other (x INTEGER)")
            .unwrap();
    }
    let e = Registry::open(&path).unwrap_err();
    assert!(matches!(e, RegistryError::Foreign { .. }), "{e}");
    let e = RegistryReader::open(&path).unwrap_err();
    assert!(matches!(e, RegistryError::Foreign { .. }), "{e}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete", "the foreign database was switched to WAL");
}

#[test]
fn a_file_that_is_not_a_database_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    std::fs::write(
        &path,
        b"MSH|^~\\&|not a database at all, just some bytes long enough",
    )
    .unwrap();
    let e = Registry::open(&path).unwrap_err();
    assert!(e.to_string().contains("registry.sqlite"), "{e}");
}

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, path, reg) = fresh();
    drop(reg);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (99, 'later')",
            [],
        )
        .unwrap();
    }
    for e in [
        Registry::open(&path).unwrap_err(),
        RegistryReader::open(&path).unwrap_err(),
    ] {
        assert!(
            matches!(e, RegistryError::SchemaTooNew { found: 99, .. }),
            "{e}"
        );
    }
}

#[test]
fn new_registry_is_wal_with_the_current_schema() {
    let (_dir, path, reg) = fresh();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let v = schema_version(&path);
    assert_eq!(v, i64::from(dmpfeed::registry::SCHEMA_VERSION));
    assert_eq!(
        reg.message_hash_algorithm(),
        Algorithm::Blake3,
        "a new folder's"
    );
    drop(reg);
}

/// The ids of the documents `id` names, by `for_each_history_of_document`: each history's
/// (first event's id, its id as sent).
fn named(reg: &impl RegistryRead, id: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    reg.for_each_history_of_document(id, &mut |h| {
        let e = &h.events[0];
        out.push((e.source_id.clone(), e.sent_id.clone()));
        Ok::<_, RegistryError>(())
    })
    .unwrap();
    out
}

fn pair(id: &str, sent: &str) -> (String, Option<String>) {
    (id.to_owned(), Some(sent.to_owned()))
}

#[test]
fn the_id_as_sent_is_kept_and_finds_the_document() {
    // Issue 9: "keep … source document id (TXA-12 / OBR-3)": `source_id` is the OID the CDA
    // takes, `sent_id` what the DPI sent.
    let (_dir, path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("1.9.1", "IPP1").with_sent("DOC-A^DPI"));
    convert(
        &mut reg,
        &Msg::t10("1.9.2", "1.9.1", "IPP1").with_sent("DOC-B"),
    );
    convert(&mut reg, &Msg::t02("1.9.3", "IPP2").with_sent("DOC-AB"));
    delete_sent(&mut reg, "1.9.4", Some("GHOST"), "IPP1", "del-G");
    delete_sent(&mut reg, "1.9.2", Some("DOC-B"), "IPP1", "del-B");

    let a = reg.find_document("1.9.1").unwrap().unwrap();
    assert_eq!(a.sent_id.as_deref(), Some("DOC-A^DPI"));
    // By the id as sent, whole or its first component; not by a mere prefix of it.
    for id in ["DOC-A^DPI", "DOC-A", "DOC-B", "1.9.1", "1.9.2"] {
        assert_eq!(named(&reg, id), [pair("1.9.1", "DOC-A^DPI")], "{id}");
    }
    assert_eq!(named(&reg, "DOC-AB"), [pair("1.9.3", "DOC-AB")]);
    assert!(named(&reg, "DOC").is_empty());
    assert!(named(&reg, "DOC-A^").is_empty());
    // A deletion of a document never converted here, by the id it was sent with.
    assert_eq!(named(&reg, "GHOST"), [pair("1.9.4", "GHOST")]);
    assert_eq!(named(&reg, "1.9.4"), [pair("1.9.4", "GHOST")]);
    // Every event says which id its message sent.
    let chain = &reg.documents_for_patient("IPP1").unwrap()[0];
    let sent: Vec<Option<&str>> = chain.events.iter().map(|e| e.sent_id.as_deref()).collect();
    assert_eq!(sent, [Some("DOC-A^DPI"), Some("DOC-B"), Some("DOC-B")]);
    drop(reg);
    // The same, read by a reader (what `dmpfeed documents` uses).
    let reader = RegistryReader::open(&path).unwrap();
    assert_eq!(named(&reader, "DOC-A"), [pair("1.9.1", "DOC-A^DPI")]);
}

#[test]
fn an_older_registry_is_upgraded_and_keeps_its_documents() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    dmpfeed::registry::create_at_schema(&path, 2).unwrap();
    {
        // A document as the dmpfeed of schema v2 recorded it: no `sent_id`.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "INSERT INTO documents (source_id, cda_id, set_id, version, ipp, status, output_path,
                source, message_hash, event, created_at, updated_at)
             VALUES ('1.9.1', '1.9.1', '1.9.1', 1, 'IPP1', 'current', 'documents/a.xml',
                'in#1', 'h1', 'MDM^T02', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z');
             INSERT INTO document_events (source_id, kind, event, version, output_path, source,
                message_hash, at)
             VALUES ('1.9.1', 'original', 'MDM^T02', 1, 'documents/a.xml', 'in#1', 'h1',
                '2026-01-01T00:00:00Z');",
        )
        .unwrap();
    }
    // A reader does not upgrade: it asks for a writer first, as before.
    let e = RegistryReader::open(&path).unwrap_err();
    assert!(
        matches!(e, RegistryError::SchemaOutdated { found: 2, .. }),
        "{e}"
    );
    let mut reg = Registry::open(&path).unwrap();
    let v = schema_version(&path);
    assert_eq!(v, i64::from(dmpfeed::registry::SCHEMA_VERSION));
    // Its rows name their messages by SHA-1 (`h1` stands for one): the folder keeps SHA-1.
    assert_eq!(reg.message_hash_algorithm(), Algorithm::Sha1);
    let old = reg.find_document("1.9.1").unwrap().unwrap();
    assert_eq!((old.sent_id, old.version), (None, 1));
    // The old row chains as before; the new one keeps its id as sent.
    let (pos, _) = convert(
        &mut reg,
        &Msg::t10("1.9.2", "1.9.1", "IPP1").with_sent("DOC-B"),
    );
    assert_eq!((pos.set_id.as_deref(), pos.version), (Some("1.9.1"), 2));
    assert_eq!(named(&reg, "DOC-B"), [(String::from("1.9.1"), None)]);
    assert_eq!(states(&reg)["1.9.1"].2, DocumentStatus::Replaced);
    assert_eq!(check_invariants(&path), Vec::<String>::new());
    drop(reg);
    // Opening again changes nothing.
    Registry::open(&path).unwrap();
    assert_eq!(
        named(&RegistryReader::open(&path).unwrap(), "DOC-B").len(),
        1
    );
}

/// The registry's schema version, as `dmpfeed` reads it.
fn schema_version(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap()
}

/// What `EXPLAIN` says SQLite does for `sql` (its one parameter bound): its opcodes.
fn opcodes(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
    let rows = stmt
        .query_map(["current"], |r| r.get::<_, String>(1))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

const INSERT_DOCUMENT: &str = "INSERT INTO documents (source_id, cda_id, set_id, version, status,
    output_path, source, message_hash, event, created_at, updated_at)
    VALUES ('1.9.2', '1.9.2', '1.9.2', 1, ?1, 'documents/b.xml', 'in#2', 'h2', 'MDM^T02',
    '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')";
const INSERT_EVENT: &str = "INSERT INTO document_events (source_id, kind, event, version,
    output_path, source, message_hash, at)
    VALUES ('1.9.2', ?1, 'MDM^T02', 1, 'documents/b.xml', 'in#2', 'h2', '2026-01-01T00:00:00Z')";

#[test]
fn v6_checks_status_and_kind_without_an_ephemeral_table_and_keeps_the_rows() {
    assert_eq!(dmpfeed::registry::SCHEMA_VERSION, 6);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    dmpfeed::registry::create_at_schema(&path, 5).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        // v1's `status IN (…)`: SQLite builds a table to check it at every insert.
        assert!(opcodes(&conn, INSERT_DOCUMENT).contains(&"OpenEphemeral".to_owned()));
        conn.execute(INSERT_DOCUMENT, ["current"]).unwrap();
        conn.execute(INSERT_EVENT, ["original"]).unwrap();
    }
    drop(Registry::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    for sql in [INSERT_DOCUMENT, INSERT_EVENT] {
        let ops = opcodes(&conn, sql);
        assert!(!ops.contains(&"OpenEphemeral".to_owned()), "{sql}: {ops:?}");
    }
    // The same values refused as before, the rows kept, the file whole.
    for (sql, bad) in [(INSERT_DOCUMENT, "sent"), (INSERT_EVENT, "created")] {
        let e = conn.execute(sql, [bad]).unwrap_err();
        assert!(e.to_string().contains("CHECK constraint failed"), "{e}");
    }
    let kept: (String, String) = conn
        .query_row(
            "SELECT d.status, e.kind FROM documents d JOIN document_events e USING (source_id)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kept, ("current".to_owned(), "original".to_owned()));
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // Each status and kind the registry writes still goes in.
    for (status, kind) in [
        ("current", "original"),
        ("replaced", "replacement"),
        ("deleted", "update"),
    ] {
        conn.execute("DELETE FROM documents", []).unwrap();
        conn.execute("DELETE FROM document_events", []).unwrap();
        conn.execute(INSERT_DOCUMENT, [status]).unwrap();
        conn.execute(INSERT_EVENT, [kind]).unwrap();
    }
}

#[test]
fn a_table_not_as_dmpfeed_made_it_is_not_upgraded_to_v6() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    dmpfeed::registry::create_at_schema(&path, 5).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE document_events;
             CREATE TABLE document_events (id INTEGER PRIMARY KEY, kind TEXT) STRICT;",
        )
        .unwrap();
    let e = Registry::open(&path).unwrap_err();
    assert!(e.to_string().contains("document_events"), "{e}");
    let v = schema_version(&path);
    assert_eq!(v, 5, "left at its version");
}

#[test]
fn a_migration_that_fails_leaves_the_registry_at_its_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    dmpfeed::registry::create_at_schema(&path, 1).unwrap();
    // Something of v3's name already there (hand-made): v3 cannot be applied, and v2, applied
    // before it, must not stay half-way.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE documents_sent (x INTEGER) STRICT;")
        .unwrap();
    assert!(Registry::open(&path).is_err());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let v = schema_version(&path);
    assert_eq!(v, 1);
    let answers: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'answers'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(answers, 0, "v2's table was not kept");
}

#[test]
fn reader_sees_whole_batches_while_the_writer_commits() {
    let (_dir, path, mut reg) = fresh();
    const BATCHES: usize = 60;
    const PER_BATCH: usize = 25;
    let writer = std::thread::spawn(move || {
        for b in 0..BATCHES {
            reg.transaction(|tx| -> Result<(), RegistryError> {
                for i in 0..PER_BATCH {
                    // Each batch: one chain A → B → C … of PER_BATCH versions.
                    let id = format!("b{b}-{i}");
                    let m = if i == 0 {
                        Msg::t02(&id, "IPP1")
                    } else {
                        Msg::t10(&id, &format!("b{b}-{}", i - 1), "IPP1")
                    };
                    convert_in(tx, &m)?;
                }
                Ok(())
            })
            .unwrap();
        }
    });
    let reader = RegistryReader::open(&path).unwrap();
    let mut last = 0;
    let mut observations = 0;
    while !writer.is_finished() || observations == 0 {
        let histories = reader.all_documents().unwrap();
        let rows: usize = histories.iter().map(|h| h.versions.len()).sum();
        assert_eq!(rows % PER_BATCH, 0, "reader saw half a batch: {rows} rows");
        assert!(rows >= last, "rows went backwards");
        for h in &histories {
            let current = h
                .versions
                .iter()
                .filter(|v| v.status == DocumentStatus::Current);
            assert_eq!(current.count(), 1, "{h:#?}");
        }
        last = rows;
        observations += 1;
    }
    writer.join().unwrap();
    assert_eq!(states(&reader).len(), BATCHES * PER_BATCH);
    assert_eq!(check_invariants(&path), Vec::<String>::new());
}

#[test]
fn parallel_workers_and_one_writer_end_as_a_sequential_run() {
    // 30 chains of 6 versions, interleaved in input order (every T02, then every first T10, …).
    let messages: Vec<Msg> = (1..=6)
        .flat_map(|v| {
            (0..30).map(move |c| {
                let id = format!("c{c}-v{v}");
                let ipp = format!("IPP{}", c % 4);
                if v == 1 {
                    Msg::t02(&id, &ipp)
                } else {
                    Msg::t10(&id, &format!("c{c}-v{}", v - 1), &ipp)
                }
            })
        })
        .collect();

    let (_d1, _p1, mut sequential) = fresh();
    for m in &messages {
        convert(&mut sequential, m);
    }

    // Bulk: workers look the chain up on read-only connections (possibly before the parent is
    // committed) and "convert"; one writer records in input order, in batches, checking each
    // worker's look-up against its own inside the transaction.
    let (_d2, path, mut reg) = fresh();
    let (work_tx, work_rx) = crossbeam_channel::unbounded::<(usize, Msg)>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    for (i, m) in messages.iter().enumerate() {
        work_tx.send((i, m.clone())).unwrap();
    }
    drop(work_tx);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (rx, tx, path) = (work_rx.clone(), done_tx.clone(), path.clone());
            std::thread::spawn(move || {
                let reader = RegistryReader::open(&path).unwrap();
                for (i, m) in rx {
                    let pos = reader
                        .chain_position(&m.source_id, m.parent.as_deref())
                        .unwrap();
                    // Uneven conversion times, so that messages finish out of order.
                    let micros = ((i * 7 + w) % 5) as u64 * 200;
                    std::thread::sleep(std::time::Duration::from_micros(micros));
                    tx.send((i, m, pos)).unwrap();
                }
            })
        })
        .collect();
    drop(done_tx);
    let mut pending = std::collections::BTreeMap::new();
    let mut next = 0;
    let mut reconverted = 0;
    for (i, m, pos) in done_rx {
        pending.insert(i, (m, pos));
        let mut ready = Vec::new();
        while let Some(item) = pending.remove(&next) {
            ready.push(item);
            next += 1;
        }
        if ready.is_empty() {
            continue;
        }
        reg.transaction(|tx| -> Result<(), RegistryError> {
            for (m, worker_pos) in &ready {
                let pos = tx.chain_position(&m.source_id, m.parent.as_deref())?;
                if !pos.same_place(worker_pos) {
                    reconverted += 1; // the pipeline converts the message again at `pos`
                }
                registry_common::record_at(tx, m, &pos)?;
            }
            Ok(())
        })
        .unwrap();
    }
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(next, messages.len());
    assert_eq!(states(&reg), states(&sequential));
    assert_eq!(check_invariants(&path), Vec::<String>::new());
    eprintln!(
        "{reconverted} of {} messages converted again after a stale look-up",
        messages.len()
    );
}

/// The README's backup command, `sqlite3 DIR/registry.sqlite "VACUUM INTO 'COPY'"`, on our
/// schema (STRICT tables, partial indexes) while the writer is open with its commits in the
/// write-ahead log: the copy is one file, sound, and a registry dmpfeed reads.
#[test]
fn vacuum_into_copies_a_registry_in_use() {
    let (dir, path, mut reg) = fresh();
    convert(&mut reg, &Msg::t02("DOC-A", "100"));
    convert(&mut reg, &Msg::t10("DOC-B", "DOC-A", "100"));
    assert!(
        dir.path().join("registry.sqlite-wal").exists(),
        "the writer is open: its commits are in the write-ahead log"
    );
    let copy = dir.path().join("backup.sqlite");
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    assert!(
        !dir.path().join("backup.sqlite-wal").exists(),
        "a single file"
    );
    let check: String = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let read = RegistryReader::open(&copy).unwrap();
    assert_eq!(states(&read), states(&reg));
    assert_eq!(states(&read).len(), 2);
}
