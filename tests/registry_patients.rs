//! Registry, patients (storage of issue 10): the held worklist, identities and their release,
//! oppositions and merges.

mod registry_common;

use dmpfeed::registry::{
    Change, HeldDocument, HeldStatus, Opposition, OppositionChange, PatientIdentity, PatientMerge,
    Registry, RegistryError, RegistryRead,
};
use registry_common::{Msg, check_invariants, convert, convert_in, fresh};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

const T0: i64 = 1_780_000_000;

/// A registry whose clock moves one hour per write, from `T0`.
fn fresh_with_clock() -> (tempfile::TempDir, std::path::PathBuf, Registry) {
    let (dir, path, mut reg) = fresh();
    let clock = Arc::new(AtomicI64::new(T0));
    reg.set_clock(Arc::new(move || {
        jiff::Timestamp::from_second(clock.fetch_add(3600, Ordering::SeqCst)).unwrap()
    }));
    (dir, path, reg)
}

fn hold(
    reg: &mut Registry,
    hash: &str,
    ipp: Option<&str>,
    ins: Option<&str>,
    reasons: &[&str],
) -> Change {
    let path = format!("held/{hash}.hl7");
    reg.record_held(&HeldDocument {
        source: &format!("in/{hash}.hl7#1"),
        document_id: Some(hash),
        ipp,
        ins,
        reasons,
        path: &path,
        message_hash: hash,
    })
    .unwrap()
    .0
}

fn identity(
    reg: &mut Registry,
    ipp: &str,
    qualified: bool,
    hash: &str,
) -> dmpfeed::registry::IdentityResult {
    let adt = format!("MSH|^~\\&|PAS|CHU|||20260101||ADT^A31|{hash}|P|2.5\rPID|||{ipp}^^^CHU^PI\r");
    reg.record_patient_identity(&PatientIdentity {
        ipp,
        ins: Some("255069999999934"),
        qualified,
        adt_message: adt.as_bytes(),
        source: "adt.hl7#1",
        message_hash: hash,
    })
    .unwrap()
}

fn oppose(
    reg: &mut Registry,
    ipp: &str,
    opposed: bool,
    since: Option<&str>,
    hash: &str,
) -> OppositionChange {
    reg.set_opposition(&Opposition {
        ipp,
        opposed,
        since: since.map(|s| s.parse().unwrap()),
        source: "adt.hl7#2",
        message_hash: hash,
    })
    .unwrap()
}

fn merge(
    reg: &mut Registry,
    old: &str,
    surviving: &str,
    hash: &str,
) -> Result<dmpfeed::registry::MergeResult, RegistryError> {
    reg.merge_patients(&PatientMerge {
        old_ipp: old,
        surviving_ipp: surviving,
        source: "adt.hl7#3",
        message_hash: hash,
    })
}

#[test]
fn worklist_groups_by_patient_with_reasons_count_and_oldest_first() {
    let (_dir, _path, mut reg) = fresh_with_clock();
    assert_eq!(
        hold(&mut reg, "h1", Some("IPP2"), None, &["INS_MISSING"]),
        Change::Inserted
    );
    hold(
        &mut reg,
        "h2",
        Some("IPP1"),
        Some("1111"),
        &["IDENTITY_NOT_QUALIFIED"],
    );
    hold(
        &mut reg,
        "h3",
        Some("IPP1"),
        None,
        &["TRAIT_MISSING", "INS_KEY_INVALID"],
    );
    hold(
        &mut reg,
        "h4",
        Some("IPP1"),
        Some("2222"),
        &["IDENTITY_NOT_QUALIFIED"],
    );
    hold(&mut reg, "h5", None, Some("3333"), &["IDENTITY_DOUBTFUL"]);
    hold(&mut reg, "h6", None, None, &["INS_MISSING"]);
    hold(&mut reg, "h7", None, None, &["TRAIT_MISSING"]);
    // The same message held again is one entry.
    assert_eq!(
        hold(
            &mut reg,
            "h2",
            Some("IPP1"),
            None,
            &["IDENTITY_NOT_QUALIFIED"]
        ),
        Change::Unchanged
    );

    let w = reg.held_worklist().unwrap();
    /// (IPP, INS, count, reasons)
    type Line<'a> = (Option<&'a str>, Option<&'a str>, usize, Vec<&'a str>);
    let lines: Vec<Line<'_>> = w
        .iter()
        .map(|l| {
            (
                l.ipp.as_deref(),
                l.ins.as_deref(),
                l.count,
                l.reasons.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (Some("IPP2"), None, 1, vec!["INS_MISSING"]),
            (
                Some("IPP1"),
                Some("2222"),
                3,
                vec!["IDENTITY_NOT_QUALIFIED", "INS_KEY_INVALID", "TRAIT_MISSING"]
            ),
            (None, Some("3333"), 1, vec!["IDENTITY_DOUBTFUL"]),
            (None, None, 2, vec!["INS_MISSING", "TRAIT_MISSING"]),
        ]
    );
    // Held one hour apart from T0: IPP1's oldest is h2, the second write.
    let ipp1 = &w[1];
    assert_eq!(
        ipp1.oldest,
        jiff::Timestamp::from_second(T0 + 3600).unwrap()
    );
    let now = jiff::Timestamp::from_second(T0 + 3600 + 86_400).unwrap();
    assert_eq!(ipp1.age(now), jiff::SignedDuration::from_hours(24));
    assert_eq!(ipp1.qualified, None, "no ADT recorded for IPP1");
}

#[test]
fn qualifying_identity_releases_what_is_held_for_the_patient() {
    let (_dir, path, mut reg) = fresh_with_clock();
    hold(
        &mut reg,
        "h1",
        Some("IPP1"),
        None,
        &["IDENTITY_NOT_QUALIFIED"],
    );
    hold(&mut reg, "h2", Some("IPP1"), None, &["INS_MISSING"]);
    hold(&mut reg, "h3", Some("IPP2"), None, &["INS_MISSING"]);

    let r = identity(&mut reg, "IPP1", false, "adt1");
    assert_eq!((r.change, r.became_qualified), (Change::Inserted, false));
    assert_eq!(reg.held_worklist().unwrap()[0].qualified, Some(false));

    let r = identity(&mut reg, "IPP1", true, "adt2");
    assert_eq!((r.change, r.became_qualified), (Change::Updated, true));
    let patient = reg.patient("IPP1").unwrap().unwrap();
    assert!(patient.qualified);
    assert!(patient.adt_message.starts_with(b"MSH|") && patient.adt_message.ends_with(b"PI\r"));

    // The pipeline converts each held message with that identity and records both in one batch.
    let held = reg.held_for_patient("IPP1").unwrap();
    assert_eq!(
        held.iter()
            .map(|h| h.message_hash.as_str())
            .collect::<Vec<_>>(),
        ["h1", "h2"]
    );
    reg.transaction(|tx| -> Result<(), RegistryError> {
        for h in &held {
            let id = h.document_id.as_deref().unwrap();
            convert_in(tx, &Msg::t02(id, "IPP1"))?;
            assert!(tx.mark_released(&h.message_hash, &format!("documents/{id}.xml"))?);
        }
        Ok(())
    })
    .unwrap();
    assert!(reg.held_for_patient("IPP1").unwrap().is_empty());
    let w = reg.held_worklist().unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].ipp.as_deref(), Some("IPP2"));
    let h1 = reg.held_entry("h1").unwrap().unwrap();
    assert_eq!(h1.status, HeldStatus::Released);
    assert_eq!(h1.released_as.as_deref(), Some("documents/h1.xml"));
    assert!(h1.released_at.is_some_and(|t| t > h1.held_at));

    // Releasing again, holding the released message again (a rerun), the same ADT again: no-ops.
    assert!(!reg.mark_released("h1", "x").unwrap());
    assert!(!reg.mark_released("unknown", "x").unwrap());
    assert_eq!(
        hold(
            &mut reg,
            "h1",
            Some("IPP1"),
            None,
            &["IDENTITY_NOT_QUALIFIED"]
        ),
        Change::Unchanged
    );
    assert_eq!(
        reg.held_entry("h1").unwrap().unwrap().status,
        HeldStatus::Released
    );
    let r = identity(&mut reg, "IPP1", true, "adt2");
    assert_eq!((r.change, r.became_qualified), (Change::Unchanged, false));
    // Another ADT keeping the identity qualified is recorded but releases nothing new.
    let r = identity(&mut reg, "IPP1", true, "adt3");
    assert_eq!((r.change, r.became_qualified), (Change::Updated, false));
    // And an identity that is no longer qualified is recorded as such.
    let r = identity(&mut reg, "IPP1", false, "adt4");
    assert_eq!((r.change, r.became_qualified), (Change::Updated, false));
    assert!(!reg.patient("IPP1").unwrap().unwrap().qualified);
    assert_eq!(check_invariants(&path), Vec::<String>::new());
}

#[test]
fn opposition_is_set_lifted_and_not_overridden_by_an_older_choice() {
    let (_dir, _path, mut reg) = fresh_with_clock();
    assert!(
        !reg.is_opposed("IPP1").unwrap(),
        "no choice recorded: not opposed"
    );
    assert_eq!(
        oppose(&mut reg, "IPP1", true, Some("2026-03-06T11:11:54"), "zfa1"),
        OppositionChange::Applied
    );
    assert!(reg.is_opposed("IPP1").unwrap());
    assert!(!reg.is_opposed("IPP2").unwrap());
    // Same message again.
    assert_eq!(
        oppose(&mut reg, "IPP1", true, Some("2026-03-06T11:11:54"), "zfa1"),
        OppositionChange::Unchanged
    );
    // INO lifts it.
    assert_eq!(
        oppose(&mut reg, "IPP1", false, Some("2026-04-01T09:00:00"), "zfa2"),
        OppositionChange::Applied
    );
    assert!(!reg.is_opposed("IPP1").unwrap());
    // An archive replayed late: the older IO does not come back.
    assert_eq!(
        oppose(
            &mut reg,
            "IPP1",
            true,
            Some("2026-03-06T11:11:54"),
            "zfa1-replayed"
        ),
        OppositionChange::Stale
    );
    assert!(!reg.is_opposed("IPP1").unwrap());
    // A choice without a date always applies.
    assert_eq!(
        oppose(&mut reg, "IPP1", true, None, "zfa3"),
        OppositionChange::Applied
    );
    let row = reg.opposition("IPP1").unwrap().unwrap();
    assert!(row.opposed);
    assert_eq!((row.since, row.message_hash.as_str()), (None, "zfa3"));
}

#[test]
fn merge_moves_held_messages_documents_and_opposition_to_the_surviving_patient() {
    let (_dir, path, mut reg) = fresh_with_clock();
    hold(
        &mut reg,
        "h1",
        Some("OLD"),
        None,
        &["IDENTITY_NOT_QUALIFIED"],
    );
    hold(&mut reg, "h2", Some("OLD"), None, &["INS_MISSING"]);
    hold(&mut reg, "h3", Some("SURV"), None, &["INS_MISSING"]);
    convert(&mut reg, &Msg::t02("DOC-OLD", "OLD"));
    convert(&mut reg, &Msg::t02("DOC-SURV", "SURV"));
    oppose(
        &mut reg,
        "OLD",
        true,
        Some("2026-01-01T00:00:00"),
        "zfa-old",
    );
    oppose(
        &mut reg,
        "SURV",
        false,
        Some("2026-02-01T00:00:00"),
        "zfa-surv",
    );
    identity(&mut reg, "SURV", true, "adt-surv");

    let r = merge(&mut reg, "OLD", "SURV", "a40").unwrap();
    assert_eq!(
        (r.change, r.held_moved, r.documents_moved),
        (Change::Inserted, 2, 1)
    );
    assert_eq!(r.surviving_ipp, "SURV");

    let held: Vec<String> = reg
        .held_for_patient("SURV")
        .unwrap()
        .into_iter()
        .map(|h| h.message_hash)
        .collect();
    assert_eq!(held, ["h1", "h2", "h3"]);
    // Later messages still naming OLD are filed under SURV.
    assert_eq!(reg.held_for_patient("OLD").unwrap().len(), 3);
    hold(&mut reg, "h4", Some("OLD"), None, &["INS_MISSING"]);
    assert_eq!(
        reg.held_entry("h4").unwrap().unwrap().ipp.as_deref(),
        Some("SURV")
    );
    let w = reg.held_worklist().unwrap();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(
        (w[0].ipp.as_deref(), w[0].count, w[0].qualified),
        (Some("SURV"), 4, Some(true))
    );
    // The opposition of either record survives the merge.
    assert!(reg.is_opposed("SURV").unwrap());
    assert!(reg.is_opposed("OLD").unwrap());
    // Both documents are now the surviving patient's.
    assert_eq!(reg.documents_for_patient("SURV").unwrap().len(), 2);
    assert_eq!(reg.documents_for_patient("OLD").unwrap().len(), 2);
    let (_, r) = convert(&mut reg, &Msg::t02("DOC-LATE", "OLD"));
    assert_eq!(r.document.ipp.as_deref(), Some("SURV"));
    // The surviving identity is kept.
    assert_eq!(
        reg.patient("OLD").unwrap().unwrap().message_hash,
        "adt-surv"
    );

    let again = merge(&mut reg, "OLD", "SURV", "a40").unwrap();
    assert_eq!(again.change, Change::Unchanged);
    assert_eq!(check_invariants(&path), Vec::<String>::new());
}

#[test]
fn merge_keeps_an_opposed_survivor_and_moves_an_identity_the_survivor_lacks() {
    let (_dir, _path, mut reg) = fresh_with_clock();
    oppose(&mut reg, "SURV", true, None, "zfa-surv");
    oppose(&mut reg, "OLD", false, None, "zfa-old");
    identity(&mut reg, "OLD", true, "adt-old");
    merge(&mut reg, "OLD", "SURV", "a40").unwrap();
    assert!(reg.is_opposed("SURV").unwrap());
    let p = reg.patient("SURV").unwrap().unwrap();
    assert_eq!(
        (p.ipp.as_str(), p.message_hash.as_str()),
        ("SURV", "adt-old")
    );
}

#[test]
fn merges_chain_and_refuse_cycles() {
    let (_dir, _path, mut reg) = fresh_with_clock();
    hold(&mut reg, "h1", Some("A"), None, &["INS_MISSING"]);
    merge(&mut reg, "A", "B", "m1").unwrap();
    let r = merge(&mut reg, "B", "C", "m2").unwrap();
    assert_eq!(r.held_moved, 1);
    assert_eq!(reg.canonical_ipp("A").unwrap(), "C");
    assert_eq!(reg.held_for_patient("A").unwrap().len(), 1);
    // A merge into the surviving end of a chain naming the old one refers to itself.
    for (old, surviving) in [("C", "A"), ("C", "C")] {
        let e = merge(&mut reg, old, surviving, "m3").unwrap_err();
        assert!(
            matches!(e, RegistryError::MergeCycle { .. }),
            "{old} → {surviving}: {e}"
        );
    }
    // Merging into a patient that was itself merged files everything at the chain's end.
    hold(&mut reg, "h2", Some("D"), None, &["INS_MISSING"]);
    let r = merge(&mut reg, "D", "A", "m4").unwrap();
    assert_eq!(r.surviving_ipp, "C");
    assert_eq!(reg.held_for_patient("C").unwrap().len(), 2);
}

#[test]
fn an_opposition_is_found_by_the_ins_recorded_for_its_ipp() {
    let (_dir, path, mut reg) = fresh_with_clock();
    const INS: &str = "255069999999934"; // what `identity` records
    assert!(!reg.is_opposed_by_ins(INS).unwrap(), "nothing recorded");
    oppose(&mut reg, "IPP1", true, None, "zfa1");
    assert!(
        !reg.is_opposed_by_ins(INS).unwrap(),
        "no identity recorded for IPP1: its INS is unknown"
    );
    identity(&mut reg, "IPP1", true, "adt1");
    assert!(reg.is_opposed_by_ins(INS).unwrap());
    assert!(!reg.is_opposed_by_ins("175112901912319").unwrap());
    // Merged into another record: still found (both tables follow the merge).
    merge(&mut reg, "IPP1", "IPP2", "a40").unwrap();
    assert!(reg.is_opposed_by_ins(INS).unwrap());
    // INO for the (surviving) IPP lifts it by INS too.
    oppose(&mut reg, "IPP2", false, None, "zfa2");
    assert!(!reg.is_opposed_by_ins(INS).unwrap());
    assert_eq!(check_invariants(&path), Vec::<String>::new());
}

#[test]
fn held_messages_are_found_by_ipp_or_ins_and_an_ins_names_one_patient_at_most() {
    let (_dir, path, mut reg) = fresh_with_clock();
    let ins = "255069999999934";
    hold(&mut reg, "a1", Some("100"), None, &["INS_MISSING"]);
    hold(&mut reg, "b2", None, Some(ins), &["IDENTITY_NOT_QUALIFIED"]);
    hold(
        &mut reg,
        "c3",
        Some("200"),
        Some(ins),
        &["IDENTITY_NOT_QUALIFIED"],
    );
    hold(&mut reg, "d4", Some("300"), None, &["INS_MISSING"]);
    let hashes = |ipp: Option<&str>, ins: Option<&str>| -> Vec<String> {
        reg.held_ever_for_patient(ipp, ins)
            .unwrap()
            .into_iter()
            .map(|e| e.message_hash)
            .collect()
    };
    assert_eq!(
        hashes(Some("100"), Some(ins)),
        ["a1", "b2", "c3"],
        "oldest first"
    );
    assert_eq!(hashes(None, Some(ins)), ["b2", "c3"]);
    assert_eq!(hashes(Some("300"), None), ["d4"]);
    assert!(hashes(None, None).is_empty());
    // The identity of the one patient record carrying the INS; none when two records carry it.
    assert!(reg.patient_by_ins(ins).unwrap().is_none());
    identity(&mut reg, "100", true, "adt-1");
    assert_eq!(reg.patient_by_ins(ins).unwrap().unwrap().ipp, "100");
    identity(&mut reg, "400", true, "adt-2");
    assert!(
        reg.patient_by_ins(ins).unwrap().is_none(),
        "two records with one INS: for a human to say"
    );
    check_invariants(&path);
}
