//! Property test: random interleavings of appends across a few sales, split into random
//! batches (with occasional snapshots and reopens), replay exactly to a model after reopen.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use stampede_log::{ChainTip, CommandLog, Entry, SaleId, Snapshot, SqliteLog};

/// One call to `append`: the commands of the batch, whether to snapshot the last entry
/// of the batch, and whether to close and reopen the log afterwards.
#[derive(Clone, Debug)]
struct Batch {
    commands: Vec<(SaleId, i64, Vec<u8>)>,
    snapshot_last: bool,
    reopen_after: bool,
}

fn batch() -> impl Strategy<Value = Batch> {
    (
        prop::collection::vec((0..4u64, any::<i64>(), prop::collection::vec(any::<u8>(), 0..24)), 0..12),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(commands, snapshot_last, reopen_after)| Batch { commands, snapshot_last, reopen_after })
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn replay_matches_model(batches in prop::collection::vec(batch(), 1..10), cut in any::<prop::sample::Index>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let mut log = SqliteLog::open(&path).unwrap();
        let mut tips: BTreeMap<SaleId, ChainTip> = BTreeMap::new();
        let mut model: BTreeMap<SaleId, Vec<Entry>> = BTreeMap::new();
        let mut snapshots: BTreeMap<SaleId, Snapshot> = BTreeMap::new();

        for batch in batches {
            let entries: Vec<Entry> = batch
                .commands
                .into_iter()
                .map(|(sale, at_us, payload)| {
                    tips.entry(sale)
                        .or_insert_with(|| ChainTip::genesis(sale))
                        .append(at_us, payload)
                })
                .collect();
            let snaps: Vec<Snapshot> = match entries.last() {
                Some(last) if batch.snapshot_last => vec![Snapshot {
                    sale: last.sale,
                    seq: last.seq,
                    hash: last.hash,
                    format: 1,
                    state: last.seq.to_le_bytes().to_vec(),
                }],
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
                log = SqliteLog::open(&path).unwrap();
            }
        }
        drop(log);

        let mut log = SqliteLog::open(&path).unwrap();
        prop_assert_eq!(log.sales().unwrap(), model.keys().copied().collect::<Vec<_>>());
        for (&sale, want) in &model {
            prop_assert_eq!(&replay_all(&mut log, sale, 0), want);
            let from = cut.index(want.len() + 1);
            prop_assert_eq!(&replay_all(&mut log, sale, from as u64), &want[from..].to_vec());
            let report = log.verify_chain(sale).unwrap();
            prop_assert_eq!(report.entries, want.len() as u64);
            prop_assert_eq!(&report.tip, &tips[&sale]);
            prop_assert_eq!(log.latest_snapshot(sale).unwrap(), snapshots.get(&sale).cloned());
        }
    }
}
