//! Registry, crash safety (issue 9: "a kill -9 in the middle of a transaction: nothing lost,
//! nothing half-written").
//!
//! The test re-runs its own binary as a child writer (the same test, with `CHILD_ENV` set), which
//! commits batches in a loop and prints `committed K` after each commit returns. The parent kills
//! it with SIGKILL at random moments — before it opened the registry, mid-batch, mid-commit —
//! reopens the registry as the next run would, and checks: the file is sound, every batch
//! acknowledged before the kill is there in full, every other batch is either whole or absent,
//! and every chain is consistent. A first round kills a child that holds a transaction open on
//! purpose, so that at least one kill lands mid-transaction deterministically.

mod registry_common;

use dmpfeed::registry::{
    HeldDocument, NewDeletion, Opposition, PatientIdentity, Registry, RegistryError, RegistryRead,
};
use registry_common::{Msg, check_invariants, convert_in};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "DMPFEED_REGISTRY_CRASH_CHILD";
const TEST_NAME: &str = "kill_9_at_random_points_loses_no_commit_and_leaves_no_half_batch";
const CHAINS: usize = 4;
const VERSIONS: usize = 5;
const PATIENTS: usize = 7;

fn doc_id(batch: u64, chain: usize, version: usize) -> String {
    format!("k{batch}-c{chain}-v{version}")
}

/// Writes batch `k` (a pure function of `k`) in `tx`: CHAINS chains of VERSIONS versions, the
/// deletion of the previous batch's first chain's latest version, one held message, one identity
/// and one opposition.
fn write_batch(tx: &mut dmpfeed::registry::Tx<'_>, k: u64) -> Result<(), RegistryError> {
    let ipp = format!("P{}", k as usize % PATIENTS);
    for c in 0..CHAINS {
        for v in 1..=VERSIONS {
            let id = doc_id(k, c, v);
            let m = if v == 1 {
                Msg::t02(&id, &ipp)
            } else {
                Msg::t10(&id, &doc_id(k, c, v - 1), &ipp)
            };
            convert_in(tx, &m)?;
        }
    }
    if k > 0 {
        let deleted = doc_id(k - 1, 0, VERSIONS);
        let r = tx.record_deleted(&NewDeletion {
            source_id: &deleted,
            sent_id: None,
            ipp: Some(&ipp),
            ins: None,
            output_path: &format!("deleted/{deleted}.json"),
            source: "t04#1",
            message_hash: &format!("del-{k}"),
            event: "MDM^T04",
        })?;
        assert!(r.known, "batch {k} deletes a document of batch {}", k - 1);
    }
    tx.record_held(&HeldDocument {
        source: &format!("in#{k}"),
        document_id: None,
        ipp: Some(&ipp),
        ins: None,
        reasons: &["IDENTITY_NOT_QUALIFIED"],
        path: &format!("held/h{k}.hl7"),
        message_hash: &format!("held-{k}"),
    })?;
    tx.record_patient_identity(&PatientIdentity {
        ipp: &ipp,
        ins: None,
        qualified: k.is_multiple_of(2),
        adt_message: format!("MSH|^~\\&|ADT {k}\rPID|||{ipp}\r").as_bytes(),
        source: &format!("adt#{k}"),
        message_hash: &format!("adt-{k}"),
    })?;
    tx.set_opposition(&Opposition {
        ipp: &ipp,
        opposed: k.is_multiple_of(3),
        since: None,
        source: &format!("zfa#{k}"),
        message_hash: &format!("zfa-{k}"),
    })?;
    Ok(())
}

/// The child writer: `PATH START MODE`, MODE `loop` (commit batches forever, acknowledging each)
/// or `hold` (write one batch, say so, and wait inside the transaction to be killed).
fn child_main(spec: &str) {
    let mut parts = spec.splitn(3, '|');
    let (path, start, mode) = (
        parts.next().unwrap(),
        parts.next().unwrap().parse::<u64>().unwrap(),
        parts.next().unwrap(),
    );
    let mut reg = Registry::open(Path::new(path)).unwrap();
    let mut out = std::io::stdout().lock();
    for k in start.. {
        reg.transaction(|tx| -> Result<(), RegistryError> {
            write_batch(tx, k)?;
            if mode == "hold" {
                writeln!(out, "in-tx {k}").unwrap();
                out.flush().unwrap();
                std::thread::sleep(Duration::from_secs(600));
            }
            Ok(())
        })
        .unwrap();
        writeln!(out, "committed {k}").unwrap();
        out.flush().unwrap();
    }
}

fn spawn_child(path: &Path, start: u64, mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{}|{start}|{mode}", path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child writer")
}

/// The child's acknowledgements, read on a thread that drains its output to the end (a closed
/// pipe would make the child fail at its next write, on its own, instead of being killed).
fn acknowledgements(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The child's words start anywhere in a line (libtest prints `test NAME ... ` first).
            let said = line
                .find("committed ")
                .or(line.find("in-tx "))
                .map(|i| &line[i..]);
            if let Some(said) = said {
                let _ = tx.send(said.to_owned());
            }
        }
    });
    rx
}

/// Waits for the child's words until `stop` says so; returns the highest batch acknowledged.
fn read_until(
    child: &mut Child,
    acks: &std::sync::mpsc::Receiver<String>,
    mut stop: impl FnMut(&str) -> bool,
) -> Option<u64> {
    let mut last = None;
    while let Ok(said) = acks.recv_timeout(Duration::from_secs(60)) {
        if let Some(k) = said.strip_prefix("committed ") {
            last = Some(k.trim().parse().unwrap());
        }
        if stop(&said) {
            return last;
        }
    }
    let _ = child.kill();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut err).unwrap();
    }
    panic!("the child writer stopped by itself or hung:\n{err}");
}

/// A small xorshift: the test needs varied kill points, not good randomness.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// How much of batch `k` is in the registry: `Some(true)` whole, `Some(false)` absent, `None`
/// partly there (the failure this test exists to catch).
fn batch_state(conn: &rusqlite::Connection, k: u64) -> Option<bool> {
    let docs: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM documents WHERE source_id LIKE ?1",
            [format!("k{k}-%")],
            |r| r.get(0),
        )
        .unwrap();
    let events: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM document_events WHERE source_id LIKE ?1 AND kind <> 'deletion'",
            [format!("k{k}-%")],
            |r| r.get(0),
        )
        .unwrap();
    let held: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM held WHERE message_hash = ?1",
            [format!("held-{k}")],
            |r| r.get(0),
        )
        .unwrap();
    let deletion: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM document_events WHERE message_hash = ?1",
            [format!("del-{k}")],
            |r| r.get(0),
        )
        .unwrap();
    let full = (CHAINS * VERSIONS) as i64;
    let want_deletion = i64::from(k > 0);
    match (docs, events, held, deletion) {
        (0, 0, 0, 0) => Some(false),
        (d, e, 1, del) if d == full && e == full && del == want_deletion => Some(true),
        _ => None,
    }
}

/// Reopens the registry as the next run would, then checks it; returns the first absent batch.
fn verify(path: &Path, acknowledged: Option<u64>, round: usize, seed: u64) -> u64 {
    let reg =
        Registry::open(path).unwrap_or_else(|e| panic!("round {round} (seed {seed}): reopen: {e}"));
    assert_eq!(
        reg.integrity_check().unwrap(),
        Vec::<String>::new(),
        "round {round} seed {seed}"
    );
    drop(reg);
    assert_eq!(
        check_invariants(path),
        Vec::<String>::new(),
        "round {round} seed {seed}"
    );
    let conn = rusqlite::Connection::open(path).unwrap();
    // Versions of each chain are 1..=n, no gap (every parent here is known).
    let gaps: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM (SELECT set_id FROM documents GROUP BY set_id
               HAVING MIN(version) <> 1 OR MAX(version) <> COUNT(*))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(gaps, 0, "round {round} seed {seed}: a chain with gaps");
    let mut k = 0;
    let mut first_absent = None;
    loop {
        match batch_state(&conn, k) {
            Some(true) => {
                assert!(
                    first_absent.is_none(),
                    "round {round} seed {seed}: batch {k} after a gap"
                );
            }
            Some(false) => {
                first_absent.get_or_insert(k);
                // Look a little further for strays, then stop.
                if k > first_absent.unwrap_or(k) + 3 {
                    break;
                }
            }
            None => panic!("round {round} (seed {seed}): batch {k} is half-written"),
        }
        k += 1;
    }
    let first_absent = first_absent.unwrap_or(k);
    if let Some(acked) = acknowledged {
        assert!(
            first_absent > acked,
            "round {round} (seed {seed}): batch {acked} was acknowledged but is missing"
        );
    }
    first_absent
}

#[test]
fn kill_9_at_random_points_loses_no_commit_and_leaves_no_half_batch() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        child_main(&spec);
        return;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");

    // Round 0: killed while holding a transaction open with a whole batch written in it.
    let mut child = spawn_child(&path, 0, "hold");
    let acks = acknowledgements(&mut child);
    read_until(&mut child, &acks, |l| l.starts_with("in-tx 0"));
    child.kill().unwrap();
    child.wait().unwrap();
    let mut next = verify(&path, None, 0, seed);
    assert_eq!(next, 0, "the batch of a killed transaction is there");

    let deadline = Instant::now() + Duration::from_secs(300);
    let mut committed_total = 0;
    for round in 1..=12 {
        let mut child = spawn_child(&path, next, "loop");
        let acks = acknowledgements(&mut child);
        let acknowledged = if round == 1 {
            // Killed early: maybe while creating the registry, maybe in its first batches.
            std::thread::sleep(Duration::from_micros(rng.below(30_000)));
            None
        } else {
            let target = 1 + rng.below(12);
            let mut seen = 0;
            let acked = read_until(&mut child, &acks, |l| {
                seen += u64::from(l.starts_with("committed "));
                seen >= target
            });
            // Then let it run on for a random moment (a batch takes some milliseconds to tens of
            // milliseconds): the kill lands anywhere in a batch or its commit.
            std::thread::sleep(Duration::from_micros(rng.below(40_000)));
            // Acknowledgements that arrived meanwhile count too.
            acked.max(
                acks.try_iter()
                    .filter_map(|s| s.strip_prefix("committed ")?.parse().ok())
                    .max(),
            )
        };
        child.kill().unwrap();
        child.wait().unwrap();
        let before = next;
        next = verify(&path, acknowledged, round, seed);
        committed_total += next - before;
        eprintln!(
            "round {round}: acknowledged up to {acknowledged:?}, batches whole up to {next} (excl.)"
        );
        assert!(Instant::now() < deadline, "crash rounds took too long");
    }
    assert!(
        committed_total >= 11,
        "too few batches committed to mean anything: {committed_total}"
    );
}
