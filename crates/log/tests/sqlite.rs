//! Integration tests of the SQLite backend through the public API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use stampede_log::{
    ChainFault, ChainTip, CommandLog, Entry, GENESIS_HASH, LogError, SCHEMA_VERSION, SaleId, Snapshot, SnapshotStore,
    SqliteLog,
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
fn interleaved_sales_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (all1, all2, tip1, tip2) = {
        let mut log = SqliteLog::open(&path).unwrap();
        fill(&mut log, 10, 3)
    };
    let mut log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.sales().unwrap(), vec![1, 2]);
    assert_eq!(replay_all(&mut log, 1, 0), all1);
    assert_eq!(replay_all(&mut log, 2, 0), all2);
    assert_eq!(replay_all(&mut log, 1, 4), all1[4..].to_vec());
    assert_eq!(replay_all(&mut log, 2, 9), all2[9..].to_vec());
    assert!(replay_all(&mut log, 2, 10).is_empty());
    assert!(replay_all(&mut log, 3, 0).is_empty());
    assert!(replay_all(&mut log, u64::MAX, u64::MAX).is_empty());

    let report = log.verify_chain(1).unwrap();
    assert_eq!((report.sale, report.entries, report.tip), (1, 10, tip1));
    let report = log.verify_chain(2).unwrap();
    assert_eq!((report.sale, report.entries, report.tip.clone()), (2, 10, tip2.clone()));

    // The tip is lazily reloaded from disk: the next link appends, a stale one does not.
    let mut next = tip2.clone();
    let e = next.append(1_000, b"after reopen".to_vec());
    log.append(std::slice::from_ref(&e), &[]).unwrap();
    let err = log.append(&[all2[9].clone()], &[]).unwrap_err();
    assert_chain_broken(err, 2, 9, ChainFault::SeqMismatch { expected: 11 });
    assert_eq!(log.verify_chain(2).unwrap().tip, next);
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
fn gap_is_refused_and_the_whole_batch_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut tip1 = ChainTip::genesis(1);
    let mut tip2 = ChainTip::genesis(2);
    let first = tip1.append(1, b"a".to_vec());
    let mut log = SqliteLog::open(&path).unwrap();
    log.append(std::slice::from_ref(&first), &[]).unwrap();

    let valid_other = tip2.append(2, b"other sale".to_vec());
    let valid = tip1.append(3, b"b".to_vec());
    let _skipped = tip1.append(4, b"c".to_vec());
    let gap = tip1.append(5, b"d".to_vec());
    let err = log.append(&[valid_other.clone(), valid.clone(), gap], &[]).unwrap_err();
    assert_chain_broken(err, 1, 3, ChainFault::SeqMismatch { expected: 2 });
    drop(log);

    let mut log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.sales().unwrap(), vec![1]);
    assert_eq!(replay_all(&mut log, 1, 0), vec![first.clone()]);
    assert!(replay_all(&mut log, 2, 0).is_empty());
    // The refused batch left nothing behind: its valid part can be appended again.
    log.append(&[valid_other.clone(), valid.clone()], &[]).unwrap();
    assert_eq!(replay_all(&mut log, 1, 0), vec![first, valid]);
    assert_eq!(replay_all(&mut log, 2, 0), vec![valid_other]);
}

#[test]
fn duplicates_are_refused_and_the_whole_batch_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut tip = ChainTip::genesis(7);
    let e0 = tip.append(1, b"zero".to_vec());
    let e1 = tip.append(2, b"one".to_vec());
    let e2 = tip.append(3, b"two".to_vec());
    {
        let mut log = SqliteLog::open(&path).unwrap();
        log.append(&[e0.clone(), e1.clone()], &[]).unwrap();
        // Duplicate inside one batch (tip cached in memory).
        let err = log.append(&[e2.clone(), e2.clone()], &[]).unwrap_err();
        assert_chain_broken(err, 7, 2, ChainFault::SeqMismatch { expected: 3 });
    }
    // Duplicate of a committed entry right after reopening (tip loaded from disk).
    let mut log = SqliteLog::open(&path).unwrap();
    let other = ChainTip::genesis(8).append(0, b"other".to_vec());
    let err = log.append(&[other, e1.clone()], &[]).unwrap_err();
    assert_chain_broken(err, 7, 1, ChainFault::SeqMismatch { expected: 2 });
    // A same-seq entry with different content (a forged duplicate) is refused too.
    let mut forged = e1.clone();
    forged.payload = b"forged".to_vec();
    assert!(log.append(&[forged], &[]).is_err());
    drop(log);

    let mut log = SqliteLog::open(&path).unwrap();
    assert_eq!(log.sales().unwrap(), vec![7]);
    assert_eq!(replay_all(&mut log, 7, 0), vec![e0, e1]);
    assert_eq!(log.verify_chain(7).unwrap().entries, 2);
}

#[test]
fn wrong_hash_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&db_path(&dir)).unwrap();
    let mut tip = ChainTip::genesis(1);
    let e0 = tip.append(1, b"zero".to_vec());
    let mut e1 = tip.append(2, b"one".to_vec());
    e1.payload[0] ^= 1;
    let err = log.append(&[e0.clone(), e1], &[]).unwrap_err();
    assert_chain_broken(err, 1, 1, ChainFault::HashMismatch);
    assert!(replay_all(&mut log, 1, 0).is_empty());
    log.append(&[e0], &[]).unwrap();
}

#[test]
fn replay_stops_at_the_visitors_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&db_path(&dir)).unwrap();
    fill(&mut log, 10, 7);
    let mut seen = Vec::new();
    let err = log
        .replay(1, 2, &mut |entry| {
            seen.push(entry.seq);
            if entry.seq == 4 { Err(LogError::Visitor("stop here".into())) } else { Ok(()) }
        })
        .unwrap_err();
    assert!(matches!(err, LogError::Visitor(ref e) if e.to_string() == "stop here"));
    assert_eq!(seen, vec![2, 3, 4]);
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
fn snapshot_in_the_same_batch_as_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut log = SqliteLog::open(&path).unwrap();
    let mut tip = ChainTip::genesis(4);
    let e0 = tip.append(1, b"zero".to_vec());
    let e1 = tip.append(2, b"one".to_vec());
    log.append(&[e0, e1.clone()], &[snapshot_of(&e1, b"state")]).unwrap();
    drop(log);
    let mut log = SqliteLog::open(&path).unwrap();
    let snap = log.latest_snapshot(4).unwrap().unwrap();
    assert_eq!(snap, snapshot_of(&e1, b"state"));
    assert_eq!(snap.tip(), tip);
}

#[test]
fn invalid_snapshot_is_refused_with_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut log = SqliteLog::open(&path).unwrap();
    let mut tip = ChainTip::genesis(4);
    let e0 = tip.append(1, b"zero".to_vec());
    let e1 = tip.append(2, b"one".to_vec());
    log.append(std::slice::from_ref(&e0), &[]).unwrap();

    let mut wrong_hash = snapshot_of(&e0, b"x");
    wrong_hash.hash = GENESIS_HASH;
    let err = log.append(std::slice::from_ref(&e1), &[wrong_hash]).unwrap_err();
    assert!(matches!(err, LogError::InvalidSnapshot { sale: 4, seq: 0, .. }), "{err:?}");

    let mut future = snapshot_of(&e1, b"x");
    future.seq = 5;
    let err = log.append(std::slice::from_ref(&e1), &[future]).unwrap_err();
    assert!(matches!(err, LogError::InvalidSnapshot { sale: 4, seq: 5, .. }), "{err:?}");
    drop(log);

    let mut log = SqliteLog::open(&path).unwrap();
    assert_eq!(replay_all(&mut log, 4, 0), vec![e0]);
    assert_eq!(log.latest_snapshot(4).unwrap(), None);
    log.append(&[e1], &[]).unwrap();
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
fn empty_chain_verifies_as_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&db_path(&dir)).unwrap();
    let report = log.verify_chain(5).unwrap();
    assert_eq!((report.sale, report.entries, report.tip), (5, 0, ChainTip::genesis(5)));
    log.append(&[], &[]).unwrap();
    assert!(log.sales().unwrap().is_empty());
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
