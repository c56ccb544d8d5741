//! What only the SQLite backend has: its schema, WAL mode, raw-file tampering,
//! the range of SQLite's integers, the snapshots file beside the log, and how
//! its errors map to the log's neutral ones. What every backend must do is
//! checked by `tests/conformance.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use stampede_log::{
    ChainFault, ChainTip, CommandLog, Entry, LogError, SCHEMA_VERSION, SaleId, Snapshot, SnapshotStore, SqliteLog,
};

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("log.db")
}

fn replay_all(log: &mut SqliteLog, sale: SaleId, from_seq: u64) -> Vec<Entry> {
    let mut out = Vec::new();
    log.replay(sale, from_seq, &mut |entry| {
        out.push(entry);
        Ok(())
    })
    .unwrap();
    out
}

fn snapshot_of(entry: &Entry, state: &[u8]) -> Snapshot {
    Snapshot { sale: entry.sale, seq: entry.seq, hash: entry.hash, format: 3, state: state.to_vec() }
}

fn raw(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    conn
}

fn assert_chain_broken(err: LogError, want_sale: SaleId, want_seq: u64, want: ChainFault) {
    match err {
        LogError::ChainBroken { sale, seq, fault } => {
            assert_eq!((sale, seq, fault), (want_sale, want_seq, want));
        }
        other => panic!("expected ChainBroken, got {other:?}"),
    }
}

/// Appends `n` entries to each of sales 1 and 2, interleaved, in batches of `batch_len`.
fn fill(log: &mut SqliteLog, n: u64, batch_len: usize) -> (Vec<Entry>, Vec<Entry>, ChainTip, ChainTip) {
    let (mut tip1, mut tip2) = (ChainTip::genesis(1), ChainTip::genesis(2));
    let (mut all1, mut all2, mut interleaved) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let e1 = tip1.append(i as i64 * 10, format!("one {i}").into_bytes());
        let e2 = tip2.append(i as i64 * 10 + 5, format!("two {i}").into_bytes());
        all1.push(e1.clone());
        all2.push(e2.clone());
        interleaved.push(e1);
        interleaved.push(e2);
    }
    for batch in interleaved.chunks(batch_len) {
        log.append(batch, &[]).unwrap();
    }
    (all1, all2, tip1, tip2)
}

#[test]
fn sales_lists_only_sales_with_entries_ascending() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&db_path(&dir)).unwrap();
    assert!(log.sales().unwrap().is_empty());
    let batch: Vec<Entry> =
        [900u64, 3, i64::MAX as u64, 0, 42].iter().map(|&sale| ChainTip::genesis(sale).append(0, vec![])).collect();
    log.append(&batch, &[]).unwrap();
    assert_eq!(log.sales().unwrap(), vec![0, 3, 42, 900, i64::MAX as u64]);
    assert_eq!(replay_all(&mut log, 3, 0), vec![batch[1].clone()]);
    assert_eq!(replay_all(&mut log, 3, 0)[0].payload, Vec::<u8>::new());
}

#[test]
fn unstorable_sale_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&db_path(&dir)).unwrap();
    let entry = ChainTip::genesis(u64::MAX).append(0, vec![1]);
    let err = log.append(&[entry], &[]).unwrap_err();
    assert!(matches!(err, LogError::OutOfRange { what: "sale", value: u64::MAX }), "{err:?}");
    assert!(log.sales().unwrap().is_empty());
}

#[test]
fn snapshots_keep_the_two_newest_per_sale() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut log = SqliteLog::open(&path).unwrap();
    let (all1, all2, ..) = fill(&mut log, 10, 4);
    assert_eq!(log.latest_snapshot(1).unwrap(), None);

    log.append(&[], &[snapshot_of(&all1[2], b"s2")]).unwrap();
    log.append(&[], &[snapshot_of(&all2[1], b"other")]).unwrap();
    log.append(&[], &[snapshot_of(&all1[5], b"s5")]).unwrap();
    assert_eq!(log.latest_snapshot(1).unwrap(), Some(snapshot_of(&all1[5], b"s5")));
    log.append(&[], &[snapshot_of(&all1[8], b"s8"), snapshot_of(&all1[7], b"s7")]).unwrap();
    // Same seq again replaces the snapshot.
    log.append(&[], &[snapshot_of(&all1[8], b"s8 again")]).unwrap();
    drop(log);

    let mut log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.latest_snapshot(1).unwrap(), Some(snapshot_of(&all1[8], b"s8 again")));
    assert_eq!(log.latest_snapshot(2).unwrap(), Some(snapshot_of(&all2[1], b"other")));
    assert_eq!(log.latest_snapshot(3).unwrap(), None);
    assert_eq!(log.latest_snapshot(u64::MAX).unwrap(), None);

    let conn = raw(&path);
    let kept: Vec<(i64, i64)> = conn
        .prepare("SELECT sale, seq FROM snapshots ORDER BY sale, seq")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, vec![(1, 7), (1, 8), (2, 1)]);
}

#[test]
fn tampering_is_detected_by_verify_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut log = SqliteLog::open(&path).unwrap();
    fill(&mut log, 6, 5);
    assert_eq!(log.verify_chain(1).unwrap().entries, 6);
    let conn = raw(&path);

    // One payload byte of sale 1, seq 3.
    let payload: Vec<u8> =
        conn.query_row("SELECT payload FROM entries WHERE sale = 1 AND seq = 3", [], |r| r.get(0)).unwrap();
    let mut tampered = payload.clone();
    tampered[0] ^= 1;
    conn.execute("UPDATE entries SET payload = ?1 WHERE sale = 1 AND seq = 3", [&tampered]).unwrap();
    assert_chain_broken(log.verify_chain(1).unwrap_err(), 1, 3, ChainFault::HashMismatch);
    assert_eq!(log.verify_chain(2).unwrap().entries, 6);
    conn.execute("UPDATE entries SET payload = ?1 WHERE sale = 1 AND seq = 3", [&payload]).unwrap();
    assert_eq!(log.verify_chain(1).unwrap().entries, 6);

    // The stored hash of the last entry.
    conn.execute("UPDATE entries SET hash = zeroblob(32) WHERE sale = 2 AND seq = 5", []).unwrap();
    assert_chain_broken(log.verify_chain(2).unwrap_err(), 2, 5, ChainFault::HashMismatch);

    // at_us.
    conn.execute("UPDATE entries SET at_us = at_us + 1 WHERE sale = 1 AND seq = 0", []).unwrap();
    assert_chain_broken(log.verify_chain(1).unwrap_err(), 1, 0, ChainFault::HashMismatch);
    conn.execute("UPDATE entries SET at_us = at_us - 1 WHERE sale = 1 AND seq = 0", []).unwrap();

    // A seq: renumbering the last entry leaves a gap.
    conn.execute("UPDATE entries SET seq = 9 WHERE sale = 1 AND seq = 5", []).unwrap();
    assert_chain_broken(log.verify_chain(1).unwrap_err(), 1, 9, ChainFault::SeqMismatch { expected: 5 });
    conn.execute("UPDATE entries SET seq = 5 WHERE sale = 1 AND seq = 9", []).unwrap();
    assert_eq!(log.verify_chain(1).unwrap().entries, 6);

    // A deleted middle entry, and a deleted first entry.
    conn.execute("DELETE FROM entries WHERE sale = 1 AND seq = 2", []).unwrap();
    assert_chain_broken(log.verify_chain(1).unwrap_err(), 1, 3, ChainFault::SeqMismatch { expected: 2 });
    conn.execute("DELETE FROM entries WHERE sale = 1 AND seq = 0", []).unwrap();
    assert_chain_broken(log.verify_chain(1).unwrap_err(), 1, 1, ChainFault::SeqMismatch { expected: 0 });
}

#[test]
fn schema_is_versioned_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(SqliteLog::open(&path).unwrap());
    let conn = raw(&path);
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    // Reopening a current file works; a newer one is refused.
    drop(SqliteLog::open(&path).unwrap());
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    let err = SqliteLog::open(&path).unwrap_err();
    assert!(
        matches!(err, LogError::UnsupportedSchema { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err:?}"
    );
}

#[test]
fn snapshots_from_the_store_live_beside_the_log_and_older_ones_in_the_log_still_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut log = SqliteLog::open(&path).unwrap();
    let mut tip = ChainTip::genesis(1);
    let entries: Vec<Entry> = (0..6).map(|i| tip.append(i, vec![b'e'])).collect();
    // A log written before the snapshots database: its snapshot is in the log's file.
    log.append(&entries[..3], &[snapshot_of(&entries[2], b"old")]).unwrap();
    log.append(&entries[3..], &[]).unwrap();
    let mut store = log.snapshot_store().unwrap();
    // The log's write lock held by a commit in progress does not stop the store.
    let writer = raw(&path);
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    store.put(&snapshot_of(&entries[4], b"new")).unwrap();
    writer.execute_batch("ROLLBACK").unwrap();
    drop(log);

    let mut log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.latest_snapshot(1).unwrap().unwrap().state, b"new");
    assert_eq!(log.snapshot_marks(1).unwrap(), vec![(4, entries[4].hash), (2, entries[2].hash)]);
    let in_log: i64 = raw(&path).query_row("SELECT count(*) FROM snapshots", [], |row| row.get(0)).unwrap();
    assert_eq!(in_log, 1, "only the old snapshot is in the log's file");
    let beside = stampede_log::snapshots_path(&path);
    assert_eq!(beside, dir.path().join("log.snapshots.sqlite"));
    let n: i64 = raw(&beside).query_row("SELECT count(*) FROM snapshots", [], |row| row.get(0)).unwrap();
    assert_eq!(n, 1);
    // The newest few per sale are kept.
    for seq in [5, 5] {
        store.put(&snapshot_of(&entries[seq], b"newer")).unwrap();
    }
    store.put(&snapshot_of(&entries[3], b"x")).unwrap();
    let n: i64 = raw(&beside).query_row("SELECT count(*) FROM snapshots", [], |row| row.get(0)).unwrap();
    assert!(n <= 2, "{n} snapshots kept");
}

#[test]
fn sqlite_errors_arrive_as_neutral_log_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    std::fs::write(&path, vec![b'x'; 8192]).unwrap();
    let err = SqliteLog::open(&path).unwrap_err();
    assert!(matches!(err, LogError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().starts_with("log storage is corrupt: "), "{err}");

    let missing = dir.path().join("no such directory").join("log.db");
    let err = SqliteLog::open(&missing).unwrap_err();
    assert!(matches!(err, LogError::Io(_)), "{err:?}");

    assert!(!err.is_refusal());
}
