//! What the projector pays per event during a rush: published batches of new
//! stock holds by many people, applied in groups as the projector does, to a
//! file that grows as it would (the tables are not reset between samples).
//!
//! `cargo bench -p stampede-views --bench apply`

// A benchmark that cannot set up has nothing to measure: failing loudly is right.
#![allow(clippy::expect_used)]

use std::cell::Cell;
use std::sync::Arc;

use divan::counter::ItemsCount;
use stampede_core::{Event, Hold, HoldChange, HoldFact, HoldId, HoldStatus, UserId};
use stampede_engine::events::{EntryEvents, SaleEvents};
use stampede_views::Views;

fn main() {
    divan::main();
}

/// Holds per published batch: about what one sale commits per ~0.4 ms at
/// 20,000 holds/s.
const HOLDS_PER_BATCH: usize = 8;
/// Holds already in the tables before measuring: a rush some way in.
const PREFILL: usize = 300_000;
/// People in the rush; holds are spread over them as a hash would.
const PEOPLE: u64 = 20_000;

fn group(next: &Cell<u64>, batches: usize) -> Vec<Arc<SaleEvents>> {
    (0..batches)
        .map(|b| {
            let entries = (0..HOLDS_PER_BATCH)
                .map(|_| {
                    let seq = next.get();
                    next.set(seq + 1);
                    let hold = Hold {
                        id: HoldId(seq + 1),
                        by: UserId(seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) % PEOPLE + 1),
                        quantity: 1,
                        status: HoldStatus::Held,
                        created_at_us: seq as i64,
                        expires_at_us: seq as i64 + 300_000_000,
                        price: 10_000,
                    };
                    EntryEvents {
                        seq,
                        at_us: seq as i64,
                        events: vec![Event::Hold { change: HoldChange::Held, hold: HoldFact::Stock(hold) }],
                    }
                })
                .collect();
            Arc::new(SaleEvents { sale: 1, entries, number: b as u64 })
        })
        .collect()
}

/// Holds per transaction: 512 is what the projector groups at 20,000 holds/s
/// when it applies whatever is waiting; the larger ones are what a time
/// window of 100 ms and 400 ms would gather (the projector's is 250 ms).
#[divan::bench(args = [512, 2048, 8192], sample_count = 40, sample_size = 1)]
fn stock_holds(bencher: divan::Bencher, holds: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut views = Views::open(&dir.path().join("views.sqlite")).expect("views");
    let next = Cell::new(0u64);
    for _ in 0..PREFILL / 4096 {
        views.apply_group(&group(&next, 4096 / HOLDS_PER_BATCH)).expect("prefill");
    }
    bencher
        .counter(ItemsCount::new(holds))
        .with_inputs(|| group(&next, holds / HOLDS_PER_BATCH))
        .bench_local_values(|g| views.apply_group(&g).expect("apply"));
}
