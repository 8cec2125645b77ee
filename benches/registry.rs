//! The registry's throughput (issue 9: "the store is not the bottleneck — measure").
//!
//! * `record/batch=N` — the writer's work per converted document (chain look-up + record, T02
//!   followed by four T10s per chain), N documents per transaction (group commit), on a registry
//!   that grows as the bench runs. Throughput in documents/s.
//! * `floor/plain-insert` — the same number of rows inserted with one prepared `INSERT` in one
//!   transaction, same journal and sync settings: what SQLite itself costs. The ratio to it is the
//!   registry's overhead, and holds on a noisy machine where absolute numbers do not.
//! * `lookup/chain_position` — a worker's parent look-up on a read-only connection.
//!
//! `cargo bench --bench registry`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dmpfeed::registry::{NewDocument, Registry, RegistryRead, RegistryReader, Tx};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Documents per chain: a T02 then T10s.
const CHAIN: u64 = 5;

/// Converts document number `n` in `tx` (ids unique across the whole run).
fn record(tx: &mut Tx<'_>, n: u64) {
    let (chain, v) = (n / CHAIN, n % CHAIN);
    let id = format!("DOC-{chain}-{v}");
    let parent = (v > 0).then(|| format!("DOC-{chain}-{}", v - 1));
    let pos = tx.chain_position(&id, parent.as_deref()).unwrap();
    let set_id = pos
        .set_id
        .unwrap_or_else(|| format!("1.2.250.1.999.{chain}"));
    let cda_id = format!("1.2.250.1.999.{chain}.{v}");
    let path = format!("documents/{id}.xml");
    let hash = format!("{n:040x}");
    tx.record_converted(&NewDocument {
        source_id: &id,
        sent_id: Some(&id),
        parent_source_id: parent.as_deref(),
        cda_id: &cda_id,
        set_id: &set_id,
        version: pos.version,
        ipp: Some("IPP-BENCH"),
        ins: Some("184127645108946"),
        output_path: &path,
        source: "bench.tar.gz!a/b.hl7#1",
        message_hash: &hash,
        event: if v == 0 {
            "MDM^T02^MDM_T02"
        } else {
            "MDM^T10^MDM_T02"
        },
    })
    .unwrap();
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    let mut reg = Registry::open(&path).unwrap();
    let mut next: u64 = 0;

    let mut group = c.benchmark_group("registry");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for (batch, docs) in [(1u64, 50u64), (10, 500), (100, 2000), (1000, 5000)] {
        group.throughput(Throughput::Elements(docs));
        group.bench_function(format!("record/batch={batch}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    for _ in 0..docs / batch {
                        reg.transaction(|tx| -> Result<(), dmpfeed::registry::RegistryError> {
                            for _ in 0..batch {
                                record(tx, next);
                                next += 1;
                            }
                            Ok(())
                        })
                        .unwrap();
                    }
                }
                start.elapsed()
            })
        });
    }

    // The floor: the same rows, one prepared INSERT, one transaction, same pragmas.
    let floor_path = dir.path().join("floor.sqlite");
    let mut floor = rusqlite::Connection::open(&floor_path).unwrap();
    floor
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE documents (source_id TEXT PRIMARY KEY, parent_source_id TEXT,
               cda_id TEXT, set_id TEXT, version INTEGER, ipp TEXT, ins TEXT, status TEXT,
               output_path TEXT, source TEXT, message_hash TEXT, event TEXT, created_at TEXT,
               updated_at TEXT, UNIQUE (set_id, version)) STRICT;",
        )
        .unwrap();
    let mut floor_next: u64 = 0;
    let docs = 5000u64;
    group.throughput(Throughput::Elements(docs));
    group.bench_function("floor/plain-insert/batch=1000", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..docs / 1000 {
                    let tx = floor.transaction().unwrap();
                    {
                        let mut stmt = tx
                            .prepare_cached(
                                "INSERT INTO documents VALUES
                                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'current', ?8, ?9, ?10, ?11, ?12, ?12)",
                            )
                            .unwrap();
                        for _ in 0..1000 {
                            let n = floor_next;
                            floor_next += 1;
                            let (chain, v) = (n / CHAIN, n % CHAIN);
                            stmt.execute(rusqlite::params![
                                format!("DOC-{chain}-{v}"),
                                (v > 0).then(|| format!("DOC-{chain}-{}", v - 1)),
                                format!("1.2.250.1.999.{chain}.{v}"),
                                format!("1.2.250.1.999.{chain}"),
                                (v + 1) as i64,
                                "IPP-BENCH",
                                "184127645108946",
                                format!("documents/DOC-{chain}-{v}.xml"),
                                "bench.tar.gz!a/b.hl7#1",
                                format!("{n:040x}"),
                                "MDM^T02^MDM_T02",
                                "2026-05-01T10:00:00.000000Z",
                            ])
                            .unwrap();
                        }
                    }
                    tx.commit().unwrap();
                }
            }
            start.elapsed()
        })
    });

    // A worker's look-up of a parent, on a read-only connection, while nobody writes.
    let reader = RegistryReader::open(&path).unwrap();
    let known = next.max(1);
    let mut i: u64 = 0;
    group.throughput(Throughput::Elements(1));
    group.bench_function("lookup/chain_position", |b| {
        b.iter(|| {
            i = (i + 7919) % known;
            let (chain, v) = (i / CHAIN, i % CHAIN);
            let id = format!("DOC-{chain}-{v}-next");
            black_box(
                reader
                    .chain_position(&id, Some(&format!("DOC-{chain}-{v}")))
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
