//! The [`CommandLog`] contract as executable checks, written once and run
//! against every backend: SQLite, memory and the fault-injecting wrapper here
//! (`tests/conformance.rs`), and any later backend (PostgreSQL, JetStream)
//! from its own crate with one [`conformance_tests!`](crate::conformance_tests)
//! line. Each check panics with what differs from the contract.
//!
//! A [`Backend`] opens one storage again and again: what a handle committed
//! must be there when the next handle opens it, as after a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use crate::chain::{ChainTip, Entry, GENESIS_HASH, SaleId, Snapshot};
use crate::command_log::{CommandLog, SNAPSHOTS_KEPT_PER_SALE};
use crate::error::{ChainFault, LogError};
use crate::faulty::{Fault, FaultyLog};

/// One storage that a log can be opened on, again and again.
pub trait Backend {
    /// The log handle this backend opens.
    type Log: CommandLog;
    /// Opens (or reopens) the storage: everything committed through an
    /// earlier handle is there; a handle may still be open (an audit reads
    /// beside the writer).
    fn open(&mut self) -> Self::Log;
}

impl Backend for crate::memory::MemoryDisk {
    type Log = crate::memory::MemoryLog;
    fn open(&mut self) -> Self::Log {
        crate::memory::MemoryLog::open(self)
    }
}

/// Runs a backend's logs through a [`FaultyLog`] that injects no fault, so
/// the wrapper itself is held to the whole contract.
#[derive(Debug)]
pub struct Unfaulted<B>(pub B);

impl<B: Backend> Backend for Unfaulted<B> {
    type Log = FaultyLog<B::Log>;
    fn open(&mut self) -> Self::Log {
        FaultyLog::new(self.0.open())
    }
}

/// Generates one `#[test]` per conformance check for a backend: `$fresh` is
/// an expression giving a new, empty [`Backend`] (evaluated once per test).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@cases $fresh;
            append_then_read_from_seq,
            a_refused_batch_writes_nothing,
            duplicates_are_refused,
            a_wrong_hash_is_refused,
            replay_stops_at_the_visitors_error,
            empty_chains_and_empty_appends,
            reopen_keeps_the_tip,
            a_second_handle_reads_what_the_writer_committed,
            snapshots_newest_first_and_bounded,
            snapshot_in_the_same_batch_as_its_entry,
            an_invalid_snapshot_is_refused_with_its_batch,
            the_snapshot_store_is_read_back,
            a_failed_append_writes_nothing_and_poisons,
            a_torn_append_leaves_a_valid_prefix,
            a_refusal_does_not_poison,
        );
    };
    (@cases $fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let mut backend = $fresh;
                $crate::conformance::$case(&mut backend);
            }
        )*
    };
}

/// Every entry of `sale` from `from_seq` on.
pub fn replay_all(log: &mut dyn CommandLog, sale: SaleId, from_seq: u64) -> Vec<Entry> {
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

#[track_caller]
fn assert_chain_broken(result: Result<(), LogError>, want_sale: SaleId, want_seq: u64, want: ChainFault) {
    match result {
        Err(LogError::ChainBroken { sale, seq, fault }) => assert_eq!((sale, seq, fault), (want_sale, want_seq, want)),
        other => panic!("expected ChainBroken at sale {want_sale} seq {want_seq}, got {other:?}"),
    }
}

/// `n` entries of sales 1 and 2, interleaved, appended in batches of `batch_len`.
struct Filled {
    one: Vec<Entry>,
    two: Vec<Entry>,
    tip_one: ChainTip,
    tip_two: ChainTip,
}

fn fill(log: &mut dyn CommandLog, n: u64, batch_len: usize) -> Filled {
    let (mut tip_one, mut tip_two) = (ChainTip::genesis(1), ChainTip::genesis(2));
    let (mut one, mut two, mut interleaved) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let a = tip_one.append(i as i64 * 10, format!("one {i}").into_bytes());
        let b = tip_two.append(i as i64 * 10 + 5, format!("two {i}").into_bytes());
        one.push(a.clone());
        two.push(b.clone());
        interleaved.push(a);
        interleaved.push(b);
    }
    for batch in interleaved.chunks(batch_len) {
        log.append(batch, &[]).unwrap();
    }
    Filled { one, two, tip_one, tip_two }
}

/// Appended entries read back in seq order from any seq, per sale, after a reopen.
pub fn append_then_read_from_seq<B: Backend>(backend: &mut B) {
    let filled = fill(&mut backend.open(), 10, 3);
    let mut log = backend.open();
    assert_eq!(log.sales().unwrap(), vec![1, 2]);
    assert_eq!(replay_all(&mut log, 1, 0), filled.one);
    assert_eq!(replay_all(&mut log, 2, 0), filled.two);
    assert_eq!(replay_all(&mut log, 1, 4), filled.one[4..].to_vec());
    assert_eq!(replay_all(&mut log, 2, 9), filled.two[9..].to_vec());
    assert!(replay_all(&mut log, 2, 10).is_empty());
    assert!(replay_all(&mut log, 3, 0).is_empty());
    assert!(replay_all(&mut log, 1, u64::MAX).is_empty());
    assert_eq!(log.entry_hash(1, 3).unwrap(), Some(filled.one[3].hash));
    assert_eq!(log.entry_hash(2, 10).unwrap(), None);
    assert_eq!(log.entry_hash(3, 0).unwrap(), None);
    let report = log.verify_chain(1).unwrap();
    assert_eq!((report.sale, report.entries, report.tip), (1, 10, filled.tip_one));
    let report = log.verify_chain(2).unwrap();
    assert_eq!((report.sale, report.entries, report.tip), (2, 10, filled.tip_two));
    // Several sales, listed ascending whatever order they were first written in.
    let batch: Vec<Entry> = [900u64, 3, 42].iter().map(|&sale| ChainTip::genesis(sale).append(0, vec![])).collect();
    log.append(&batch, &[]).unwrap();
    assert_eq!(log.sales().unwrap(), vec![1, 2, 3, 42, 900]);
    assert_eq!(replay_all(&mut log, 3, 0), vec![batch[1].clone()]);
}

/// A batch with one bad link (a gap) is refused whole, other sales' entries
/// included; its valid part goes in afterwards.
pub fn a_refused_batch_writes_nothing<B: Backend>(backend: &mut B) {
    let (mut tip1, mut tip2) = (ChainTip::genesis(1), ChainTip::genesis(2));
    let first = tip1.append(1, b"a".to_vec());
    let mut log = backend.open();
    log.append(std::slice::from_ref(&first), &[]).unwrap();
    let valid_other = tip2.append(2, b"other sale".to_vec());
    let valid = tip1.append(3, b"b".to_vec());
    let _skipped = tip1.append(4, b"c".to_vec());
    let gap = tip1.append(5, b"d".to_vec());
    let result = log.append(&[valid_other.clone(), valid.clone(), gap], &[]);
    assert_chain_broken(result, 1, 3, ChainFault::SeqMismatch { expected: 2 });
    drop(log);

    let mut log = backend.open();
    assert_eq!(log.sales().unwrap(), vec![1]);
    assert_eq!(replay_all(&mut log, 1, 0), vec![first.clone()]);
    assert!(replay_all(&mut log, 2, 0).is_empty());
    log.append(&[valid_other.clone(), valid.clone()], &[]).unwrap();
    assert_eq!(replay_all(&mut log, 1, 0), vec![first, valid]);
    assert_eq!(replay_all(&mut log, 2, 0), vec![valid_other]);
}

/// A duplicate inside a batch, of a committed entry after a reopen, and a
/// forged one (same seq, other content) are all refused.
pub fn duplicates_are_refused<B: Backend>(backend: &mut B) {
    let mut tip = ChainTip::genesis(7);
    let e0 = tip.append(1, b"zero".to_vec());
    let e1 = tip.append(2, b"one".to_vec());
    let e2 = tip.append(3, b"two".to_vec());
    {
        let mut log = backend.open();
        log.append(&[e0.clone(), e1.clone()], &[]).unwrap();
        let result = log.append(&[e2.clone(), e2.clone()], &[]);
        assert_chain_broken(result, 7, 2, ChainFault::SeqMismatch { expected: 3 });
    }
    let mut log = backend.open();
    let other = ChainTip::genesis(8).append(0, b"other".to_vec());
    let result = log.append(&[other, e1.clone()], &[]);
    assert_chain_broken(result, 7, 1, ChainFault::SeqMismatch { expected: 2 });
    let mut forged = e1.clone();
    forged.payload = b"forged".to_vec();
    assert!(log.append(&[forged], &[]).is_err());
    drop(log);

    let mut log = backend.open();
    assert_eq!(log.sales().unwrap(), vec![7]);
    assert_eq!(replay_all(&mut log, 7, 0), vec![e0, e1]);
    assert_eq!(log.verify_chain(7).unwrap().entries, 2);
}

/// An entry whose hash is not its link's is refused with its batch.
pub fn a_wrong_hash_is_refused<B: Backend>(backend: &mut B) {
    let mut log = backend.open();
    let mut tip = ChainTip::genesis(1);
    let e0 = tip.append(1, b"zero".to_vec());
    let mut e1 = tip.append(2, b"one".to_vec());
    e1.payload[0] ^= 1;
    assert_chain_broken(log.append(&[e0.clone(), e1], &[]), 1, 1, ChainFault::HashMismatch);
    let mut zeroed = e0.clone();
    zeroed.hash = GENESIS_HASH;
    assert_chain_broken(log.append(&[zeroed], &[]), 1, 0, ChainFault::HashMismatch);
    assert!(replay_all(&mut log, 1, 0).is_empty());
    log.append(&[e0], &[]).unwrap();
}

/// A replay ends at the visitor's first error and returns it.
pub fn replay_stops_at_the_visitors_error<B: Backend>(backend: &mut B) {
    let mut log = backend.open();
    fill(&mut log, 10, 7);
    let mut seen = Vec::new();
    let err = log
        .replay(1, 2, &mut |entry| {
            seen.push(entry.seq);
            if entry.seq == 4 { Err(LogError::Visitor("stop here".into())) } else { Ok(()) }
        })
        .unwrap_err();
    assert!(matches!(err, LogError::Visitor(ref e) if e.to_string() == "stop here"), "{err:?}");
    assert_eq!(seen, vec![2, 3, 4]);
}

/// A sale without entries verifies as genesis; an empty append writes nothing.
pub fn empty_chains_and_empty_appends<B: Backend>(backend: &mut B) {
    let mut log = backend.open();
    let report = log.verify_chain(5).unwrap();
    assert_eq!((report.sale, report.entries, report.tip), (5, 0, ChainTip::genesis(5)));
    log.append(&[], &[]).unwrap();
    assert!(log.sales().unwrap().is_empty());
    assert_eq!(log.latest_snapshot(5).unwrap(), None);
    assert!(log.snapshot_marks(5).unwrap().is_empty());
}

/// After a reopen the next link appends and a stale one is refused: the
/// backend knows each sale's committed tip without being told.
pub fn reopen_keeps_the_tip<B: Backend>(backend: &mut B) {
    let filled = fill(&mut backend.open(), 10, 4);
    let mut log = backend.open();
    let mut next = filled.tip_two.clone();
    let e = next.append(1_000, b"after reopen".to_vec());
    log.append(std::slice::from_ref(&e), &[]).unwrap();
    let result = log.append(&[filled.two[9].clone()], &[]);
    assert_chain_broken(result, 2, 9, ChainFault::SeqMismatch { expected: 11 });
    assert_eq!(log.verify_chain(2).unwrap().tip, next);
    drop(log);
    assert_eq!(backend.open().verify_chain(2).unwrap().tip, next);
}

/// A second handle opened beside the writer (the background audit's) reads
/// every commit the writer made before and after it opened.
pub fn a_second_handle_reads_what_the_writer_committed<B: Backend>(backend: &mut B) {
    let mut writer = backend.open();
    let mut tip = ChainTip::genesis(1);
    let e0 = tip.append(1, b"zero".to_vec());
    writer.append(std::slice::from_ref(&e0), &[]).unwrap();
    let mut reader = backend.open();
    let e1 = tip.append(2, b"one".to_vec());
    writer.append(std::slice::from_ref(&e1), &[]).unwrap();
    assert_eq!(replay_all(&mut reader, 1, 0), vec![e0, e1]);
    assert_eq!(reader.verify_chain(1).unwrap().tip, tip);
}

/// The newest snapshot is the latest; the same seq again replaces it; only
/// the newest [`SNAPSHOTS_KEPT_PER_SALE`] are kept, listed newest first.
pub fn snapshots_newest_first_and_bounded<B: Backend>(backend: &mut B) {
    let mut log = backend.open();
    let filled = fill(&mut log, 10, 4);
    let (one, two) = (&filled.one, &filled.two);
    assert_eq!(log.latest_snapshot(1).unwrap(), None);
    log.append(&[], &[snapshot_of(&one[2], b"s2")]).unwrap();
    log.append(&[], &[snapshot_of(&two[1], b"other")]).unwrap();
    log.append(&[], &[snapshot_of(&one[5], b"s5")]).unwrap();
    assert_eq!(log.latest_snapshot(1).unwrap(), Some(snapshot_of(&one[5], b"s5")));
    log.append(&[], &[snapshot_of(&one[8], b"s8"), snapshot_of(&one[7], b"s7")]).unwrap();
    log.append(&[], &[snapshot_of(&one[8], b"s8 again")]).unwrap();
    drop(log);

    let mut log = backend.open();
    assert_eq!(log.latest_snapshot(1).unwrap(), Some(snapshot_of(&one[8], b"s8 again")));
    assert_eq!(log.latest_snapshot(2).unwrap(), Some(snapshot_of(&two[1], b"other")));
    assert_eq!(log.latest_snapshot(3).unwrap(), None);
    assert_eq!(log.latest_snapshot(u64::MAX).unwrap(), None);
    let marks = log.snapshot_marks(1).unwrap();
    assert_eq!(SNAPSHOTS_KEPT_PER_SALE, 2, "the expectation below keeps two");
    assert_eq!(marks, vec![(8, one[8].hash), (7, one[7].hash)]);
    assert_eq!(log.snapshot_marks(2).unwrap(), vec![(1, two[1].hash)]);
}

/// A batch may snapshot its own last entry.
pub fn snapshot_in_the_same_batch_as_its_entry<B: Backend>(backend: &mut B) {
    let mut log = backend.open();
    let mut tip = ChainTip::genesis(4);
    let e0 = tip.append(1, b"zero".to_vec());
    let e1 = tip.append(2, b"one".to_vec());
    log.append(&[e0, e1.clone()], &[snapshot_of(&e1, b"state")]).unwrap();
    drop(log);
    let snap = backend.open().latest_snapshot(4).unwrap().unwrap();
    assert_eq!(snap, snapshot_of(&e1, b"state"));
    assert_eq!(snap.tip(), tip);
}

/// A snapshot of no entry, or with another hash, is refused with its whole batch.
pub fn an_invalid_snapshot_is_refused_with_its_batch<B: Backend>(backend: &mut B) {
    let mut log = backend.open();
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

    let mut log = backend.open();
    assert_eq!(replay_all(&mut log, 4, 0), vec![e0]);
    assert_eq!(log.latest_snapshot(4).unwrap(), None);
    log.append(&[e1], &[]).unwrap();
}

/// Snapshots written through the log's snapshot store (when it has one) are
/// read back by the log, beside those written with appends, newest first.
pub fn the_snapshot_store_is_read_back<B: Backend>(backend: &mut B) {
    let mut log = backend.open();
    let mut tip = ChainTip::genesis(1);
    let entries: Vec<Entry> = (0..6).map(|i| tip.append(i, vec![b'e'])).collect();
    log.append(&entries[..3], &[snapshot_of(&entries[2], b"appended")]).unwrap();
    log.append(&entries[3..], &[]).unwrap();
    let Some(mut store) = log.snapshot_store().unwrap() else {
        return;
    };
    store.put(&snapshot_of(&entries[4], b"stored")).unwrap();
    drop(log);
    let mut log = backend.open();
    assert_eq!(log.latest_snapshot(1).unwrap(), Some(snapshot_of(&entries[4], b"stored")));
    assert_eq!(log.snapshot_marks(1).unwrap(), vec![(4, entries[4].hash), (2, entries[2].hash)]);
    store.put(&snapshot_of(&entries[5], b"newer")).unwrap();
    assert_eq!(log.latest_snapshot(1).unwrap().map(|s| s.seq), Some(5));
}

/// Appends one entry to each of sales 1 and 2 per call, `calls` times,
/// through `log`; returns each call's batch.
fn append_pairs(
    log: &mut dyn CommandLog,
    tips: &mut [ChainTip; 2],
    calls: usize,
) -> Vec<(Vec<Entry>, Result<(), LogError>)> {
    (0..calls)
        .map(|i| {
            let batch: Vec<Entry> = tips.iter_mut().map(|tip| tip.append(i as i64, vec![b'p'; i + 1])).collect();
            let result = log.append(&batch, &[]);
            (batch, result)
        })
        .collect()
}

/// The failing append stores nothing; the handle then refuses every append
/// (valid ones too) but still reads; a reopened log holds exactly the
/// batches before the failure and goes on from there.
pub fn a_failed_append_writes_nothing_and_poisons<B: Backend>(backend: &mut B) {
    let mut log = FaultyLog::failing(backend.open(), 3);
    let mut tips = [ChainTip::genesis(1), ChainTip::genesis(2)];
    let results = append_pairs(&mut log, &mut tips, 2);
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    let committed: Vec<Entry> = results.into_iter().flat_map(|(batch, _)| batch).collect();
    let mut lost_tips = tips.clone();
    let failed = append_pairs(&mut log, &mut lost_tips, 1);
    assert!(matches!(failed[0].1, Err(LogError::Io(_))), "{:?}", failed[0].1);
    assert!(log.is_poisoned());
    // Even the batch that would be valid now is refused: the writer cannot
    // know what the failed one left.
    let again = log.append(&failed[0].0, &[]);
    assert!(matches!(again, Err(LogError::Poisoned)), "{again:?}");
    assert_eq!(replay_all(&mut log, 1, 0).len(), 2, "reads go on");
    drop(log);

    let mut log = backend.open();
    let mut durable = replay_all(&mut log, 1, 0);
    durable.extend(replay_all(&mut log, 2, 0));
    durable.sort_by_key(|e| (e.seq, e.sale));
    assert_eq!(durable, committed);
    for (sale, tip) in [1, 2].into_iter().zip(&tips) {
        assert_eq!(&log.verify_chain(sale).unwrap().tip, tip);
    }
    // The lost batch was never durable: it is the next link again.
    log.append(&failed[0].0, &[]).unwrap();
    assert_eq!(log.verify_chain(1).unwrap().tip, lost_tips[0]);
}

/// A torn append leaves, after a reopen, each sale's chain valid and equal
/// to what was committed plus a prefix of the torn batch, nothing past it;
/// the chain goes on from that prefix.
pub fn a_torn_append_leaves_a_valid_prefix<B: Backend>(backend: &mut B) {
    for keep in [0usize, 1, 3, 5, 9] {
        let mut backend_log = backend.open();
        let start: Vec<ChainTip> = [1u64, 2].iter().map(|&sale| backend_log.verify_chain(sale).unwrap().tip).collect();
        let mut log = FaultyLog::tearing(backend_log, 2, keep);
        let mut tips = [start[0].clone(), start[1].clone()];
        assert!(append_pairs(&mut log, &mut tips, 1)[0].1.is_ok());
        // A batch of five links per sale, interleaved.
        let torn: Vec<Entry> =
            (0..10).map(|i| tips[i % 2].append(100 + i as i64, format!("torn {i}").into_bytes())).collect();
        let result = log.append(&torn, &[]);
        assert!(result.is_err() && log.is_poisoned(), "{result:?}");
        drop(log);

        let mut log = backend.open();
        let kept = &torn[..keep.min(torn.len())];
        for (index, sale) in [1u64, 2].into_iter().enumerate() {
            let report = log.verify_chain(sale).unwrap();
            let from = start[index].next_seq;
            let chain = replay_all(&mut log, sale, from);
            let want: Vec<Entry> = kept.iter().filter(|e| e.sale == sale).cloned().collect();
            // The one good batch's entry, then the kept prefix of this sale.
            assert_eq!(chain.len(), 1 + want.len(), "keep {keep}, sale {sale}");
            assert_eq!(chain[1..].to_vec(), want, "keep {keep}, sale {sale}");
            assert_eq!(report.entries, from + chain.len() as u64);
        }
        // The next link after the prefix appends; the rest of the torn batch
        // is still each sale's next links, so it goes in too.
        let rest: Vec<Entry> = torn[keep.min(torn.len())..].to_vec();
        log.append(&rest, &[]).unwrap();
        assert_eq!(log.verify_chain(1).unwrap().tip, tips[0]);
        assert_eq!(log.verify_chain(2).unwrap().tip, tips[1]);
    }
}

/// A refused batch (a broken link) leaves the handle usable: refusals are
/// answers about the batch, not failures of the storage.
pub fn a_refusal_does_not_poison<B: Backend>(backend: &mut B) {
    let mut log = FaultyLog::new(backend.open());
    let mut tip = ChainTip::genesis(1);
    let e0 = tip.append(1, b"zero".to_vec());
    let e1 = tip.append(2, b"one".to_vec());
    assert_chain_broken(log.append(std::slice::from_ref(&e1), &[]), 1, 1, ChainFault::SeqMismatch { expected: 0 });
    assert!(!log.is_poisoned());
    log.append(&[e0, e1], &[]).unwrap();
    let planned = FaultyLog::with_fault(backend.open(), 1, Fault::Fail);
    assert!(!planned.is_poisoned(), "nothing is poisoned before its fault");
}

/// One call of `append` in a model run: commands `(sale, at_us, payload)`,
/// whether to snapshot the batch's last entry, whether to reopen after.
#[derive(Clone, Debug)]
pub struct ModelBatch {
    /// The batch's commands, in order.
    pub commands: Vec<(SaleId, i64, Vec<u8>)>,
    /// Snapshot the batch's last entry with the batch.
    pub snapshot_last: bool,
    /// Drop the handle and reopen the storage after this batch.
    pub reopen_after: bool,
}

/// Random interleavings of appends over a few sales, in random batches with
/// snapshots and reopens, replay exactly as a plain map of vectors says,
/// from seq 0 and from `cut` (an index into each sale's entries, wrapped).
pub fn replay_matches_model<B: Backend>(backend: &mut B, batches: &[ModelBatch], cut: usize) {
    let mut log = backend.open();
    let mut tips: BTreeMap<SaleId, ChainTip> = BTreeMap::new();
    let mut model: BTreeMap<SaleId, Vec<Entry>> = BTreeMap::new();
    let mut snapshots: BTreeMap<SaleId, Snapshot> = BTreeMap::new();
    for batch in batches {
        let entries: Vec<Entry> = batch
            .commands
            .iter()
            .map(|(sale, at_us, payload)| {
                tips.entry(*sale).or_insert_with(|| ChainTip::genesis(*sale)).append(*at_us, payload.clone())
            })
            .collect();
        let snaps: Vec<Snapshot> = match entries.last() {
            Some(last) if batch.snapshot_last => vec![snapshot_of(last, &last.seq.to_le_bytes())],
            _ => vec![],
        };
        log.append(&entries, &snaps).unwrap();
        for entry in entries {
            model.entry(entry.sale).or_default().push(entry);
        }
        for snap in snaps {
            snapshots.insert(snap.sale, snap);
        }
        if batch.reopen_after {
            drop(log);
            log = backend.open();
        }
    }
    drop(log);

    let mut log = backend.open();
    assert_eq!(log.sales().unwrap(), model.keys().copied().collect::<Vec<_>>());
    for (&sale, want) in &model {
        assert_eq!(&replay_all(&mut log, sale, 0), want);
        let from = cut % (want.len() + 1);
        assert_eq!(replay_all(&mut log, sale, from as u64), want[from..].to_vec());
        let report = log.verify_chain(sale).unwrap();
        assert_eq!(report.entries, want.len() as u64);
        assert_eq!(&report.tip, &tips[&sale]);
        assert_eq!(log.latest_snapshot(sale).unwrap(), snapshots.get(&sale).cloned());
    }
}
