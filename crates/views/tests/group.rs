//! Applying many published batches in one transaction (the projector under a
//! rush): what follows each sale's cursor is applied, and a sale whose batch
//! skips ahead keeps what came before the gap and is handed back for catch-up.

use std::sync::Arc;

use stampede_core::{Event, SaleStatus};
use stampede_engine::events::{EntryEvents, SaleEvents};
use stampede_views::Views;

fn batch(sale: u64, seqs: &[u64], number: u64) -> Arc<SaleEvents> {
    let entries = seqs
        .iter()
        .map(|&seq| EntryEvents {
            seq,
            at_us: 1_000 + seq as i64,
            events: vec![Event::StatusChanged(SaleStatus::Open)],
        })
        .collect();
    Arc::new(SaleEvents { sale, entries, number })
}

#[test]
fn a_group_applies_what_follows_each_cursor_and_returns_the_sales_with_a_gap() {
    let mut views = Views::in_memory().expect("views");
    let group =
        [batch(1, &[0, 1], 1), batch(2, &[0], 2), batch(1, &[3, 4], 3), batch(2, &[1, 2], 4), batch(1, &[5], 5)];
    let gaps = views.apply_group(&group).expect("apply_group");
    assert_eq!(gaps, vec![1u64], "sale 1 skipped seq 2");
    assert_eq!(views.next_seq(1).expect("cursor"), 2, "what came before the gap stays applied");
    assert_eq!(views.next_seq(2).expect("cursor"), 3);

    // A repeat of what is applied changes nothing; the missing entry lets the rest follow.
    let gaps = views.apply_group(&[batch(2, &[1, 2], 6), batch(1, &[2, 3, 4, 5], 7)]).expect("apply_group");
    assert!(gaps.is_empty());
    assert_eq!(views.next_seq(1).expect("cursor"), 6);
    assert_eq!(views.next_seq(2).expect("cursor"), 3);
}
