//! The projections against a fold of the events, and against the sale itself.
//!
//! Random command sequences of every kind (stock, drop, seated: holds,
//! confirms, cancels, refunds, clicks, seat releases and swaps, opens, closes
//! and ticks past hold lifetimes) are applied to a sale with the pure core,
//! which gives each logged entry's events exactly as the engine publishes
//! them and `events_since` re-derives them (`engine/tests/events.rs`). The
//! entries go into the SQL tables in random batches, some delivered twice
//! (a re-delivery after a crash or a lag), and into [`Model`], plain maps.
//! Then: the tables' dump equals the model's; the statistics equal the sale's
//! own held and sold counts; every hold has the sale's status, quantity and
//! seats; every click has its rank and result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use stampede_core::{
    Action, Command, DropAction, DropConfig, HoldId, HoldStatus, IdempotencyKey, Input, KindConfig, Row, Sale,
    SaleConfig, Seat, SeatArea, SeatId, SeatedAction, SeatedConfig, Section, StockAction, StockConfig, UserId, Venue,
    row_label,
};
use stampede_engine::events::EntryEvents;
use stampede_views::{Model, Views};

const T0: i64 = 1_000_000;
const SALE: u64 = 7;

#[derive(Clone, Debug)]
enum Op {
    Reserve {
        by: u64,
        quantity: u32,
    },
    Confirm {
        by: u64,
        hold: u64,
    },
    Cancel {
        by: u64,
        hold: u64,
    },
    Refund {
        by: u64,
        hold: u64,
    },
    Click {
        by: u64,
    },
    HoldSeats {
        by: u64,
        seats: Vec<u32>,
        friend: bool,
    },
    HoldBest {
        by: u64,
        count: u32,
    },
    Release {
        by: u64,
        hold: u64,
        seat: u32,
    },
    Swap {
        by: u64,
        hold: u64,
        from: u32,
        to: u32,
    },
    Open,
    Close,
    /// Time passes; the sale gets a tick (holds expire).
    Wait {
        us: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let by = 1..5u64;
    let hold = 1..10u64;
    prop_oneof![
        4 => (by.clone(), 1..4u32).prop_map(|(by, quantity)| Op::Reserve { by, quantity }),
        3 => (by.clone(), hold.clone()).prop_map(|(by, hold)| Op::Confirm { by, hold }),
        1 => (by.clone(), hold.clone()).prop_map(|(by, hold)| Op::Cancel { by, hold }),
        1 => (by.clone(), hold.clone()).prop_map(|(by, hold)| Op::Refund { by, hold }),
        3 => by.clone().prop_map(|by| Op::Click { by }),
        3 => (by.clone(), prop::collection::vec(0..14u32, 1..4), any::<bool>())
            .prop_map(|(by, seats, friend)| Op::HoldSeats { by, seats, friend }),
        2 => (by.clone(), 1..4u32).prop_map(|(by, count)| Op::HoldBest { by, count }),
        1 => (by.clone(), hold.clone(), 0..14u32).prop_map(|(by, hold, seat)| Op::Release { by, hold, seat }),
        1 => (by.clone(), hold, 0..14u32, 0..14u32).prop_map(|(by, hold, from, to)| Op::Swap { by, hold, from, to }),
        1 => Just(Op::Open),
        1 => Just(Op::Close),
        2 => (1..120i64).prop_map(|us| Op::Wait { us }),
    ]
}

fn venue() -> Venue {
    let section = |name: &str, price: u64, rows: &[u32]| Section {
        name: name.into(),
        tier: "A".into(),
        price,
        colour: "#aa0000".into(),
        rows: rows
            .iter()
            .enumerate()
            .map(|(r, len)| Row {
                label: row_label(r as u32),
                seats: (0..*len).map(|k| Seat { label: (k + 1).to_string(), x: k as i32, y: r as i32 }).collect(),
            })
            .collect(),
    };
    Venue { name: "hall".into(), sections: vec![section("Floor", 30, &[4, 4]), section("Balcony", 20, &[5])] }
}

fn config(kind: u8) -> SaleConfig {
    let kind = match kind {
        0 => KindConfig::Stock(StockConfig {
            stock: 12,
            price: 15,
            per_person_limit: 6,
            order_quantity_max: 3,
            hold_ttl_us: 100,
        }),
        1 => KindConfig::Drop(DropConfig { winners: 3 }),
        _ => KindConfig::Seated(SeatedConfig {
            venue: venue(),
            per_person_limit: 5,
            seats_per_hold_max: 3,
            hold_ttl_us: 100,
        }),
    };
    SaleConfig {
        title: "t".into(),
        description: String::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: Some(T0 + 5),
        closes_at_us: None,
        kind,
        queue: None,
        translations: Vec::new(),
    }
}

fn action(op: &Op) -> Option<(u64, Action)> {
    Some(match op.clone() {
        Op::Reserve { by, quantity } => (by, Action::Stock(StockAction::Reserve { quantity })),
        Op::Confirm { by, hold } => (by, Action::Confirm { hold: HoldId(hold) }),
        Op::Cancel { by, hold } => (by, Action::Cancel { hold: HoldId(hold) }),
        Op::Refund { by, hold } => (by, Action::Refund { order: HoldId(hold) }),
        Op::Click { by } => (by, Action::Drop(DropAction::Click)),
        Op::HoldSeats { by, seats, friend } => {
            let holders = if friend { seats.iter().map(|_| UserId(by % 4 + 1)).collect() } else { Vec::new() };
            (by, Action::Seated(SeatedAction::HoldSeats { seats: seats.into_iter().map(SeatId).collect(), holders }))
        }
        Op::HoldBest { by, count } => {
            (by, Action::Seated(SeatedAction::HoldBest { area: SeatArea::Any, count, holders: Vec::new() }))
        }
        Op::Release { by, hold, seat } => {
            (by, Action::Seated(SeatedAction::ReleaseSeat { order: HoldId(hold), seat: SeatId(seat) }))
        }
        Op::Swap { by, hold, from, to } => {
            (by, Action::Seated(SeatedAction::SwapSeat { order: HoldId(hold), from: SeatId(from), to: SeatId(to) }))
        }
        Op::Open => (1, Action::Open),
        Op::Close => (1, Action::Close),
        Op::Wait { .. } => return None,
    })
}

/// Runs the ops through the core as the sale task would and returns the sale
/// and its log entries' events (seq 0 is the `create` entry: no events).
fn run(kind: u8, ops: &[Op]) -> (Sale, Vec<EntryEvents>) {
    let mut sale = Sale::new(config(kind));
    let mut entries = vec![EntryEvents { seq: 0, at_us: T0, events: Vec::new() }];
    let mut now = T0;
    for (i, op) in ops.iter().enumerate() {
        now += 1;
        let input = match (op, action(op)) {
            (Op::Wait { us }, _) => {
                now += us;
                Input::Tick { at_us: now }
            }
            (_, Some((by, action))) => Input::Command(Command {
                at_us: now,
                by: UserId(by),
                key: IdempotencyKey::parse(&format!("k{i}")).unwrap(),
                action,
            }),
            (_, None) => unreachable!(),
        };
        let applied = sale.apply(&input);
        // The engine logs every command, and a tick only when it changed something.
        if matches!(input, Input::Command(_)) || applied.changed {
            let seq = entries.len() as u64;
            entries.push(EntryEvents { seq, at_us: input.at_us(), events: applied.events });
        }
    }
    (sale, entries)
}

/// Delivers `entries` in batches cut at `cuts`, each batch sent twice when its
/// flag says so (overlapping re-delivery), as a subscriber may see them.
fn deliver(views: &mut Views, entries: &[EntryEvents], cuts: &[(usize, bool)]) {
    let mut at = 0;
    let mut cut = cuts.iter().cycle();
    while at < entries.len() {
        let &(len, again) = cut.next().unwrap();
        let end = (at + len.max(1)).min(entries.len());
        views.apply(SALE, &entries[at..end]).unwrap();
        if again {
            // From before the batch: the part already applied is skipped.
            views.apply(SALE, &entries[at.saturating_sub(2)..end]).unwrap();
        }
        at = end;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn projections_equal_the_fold_of_the_events_and_agree_with_the_sale(
        kind in 0..3u8,
        ops in prop::collection::vec(op(), 1..70),
        cuts in prop::collection::vec((1..9usize, any::<bool>()), 1..6),
    ) {
        let (sale, entries) = run(kind, &ops);
        let mut views = Views::in_memory().unwrap();
        deliver(&mut views, &entries, &cuts);
        let mut model = Model::default();
        for e in &entries {
            model.apply(SALE, e);
        }
        prop_assert_eq!(views.dump().unwrap(), model.dump());
        prop_assert_eq!(views.next_seq(SALE).unwrap(), entries.len() as u64);

        // An entry after a gap is refused, not applied out of order.
        let mut gap = EntryEvents { seq: entries.len() as u64 + 1, at_us: 0, events: Vec::new() };
        gap.at_us = T0;
        prop_assert!(views.apply(SALE, &[gap]).is_err());

        let (stats, _) = views.stats(SALE).unwrap();
        if let Some(book) = sale.stock() {
            let v = book.view();
            prop_assert_eq!((stats.held, stats.sold), (v.held, v.sold));
            let mut n = 0;
            for h in book.holds_after(HoldId(0), usize::MAX) {
                let (row, _) = views.hold(SALE, h.id.0).unwrap().expect("every hold is projected");
                prop_assert_eq!(row.status, h.status);
                prop_assert_eq!(row.quantity, h.quantity);
                prop_assert_eq!(row.booker, h.by.0);
                prop_assert_eq!(row.expires_at_us, h.expires_at_us);
                n += 1;
            }
            prop_assert_eq!(views.holds_of_sale(SALE, 0, 1000, None).unwrap().len(), n);
            let of = |st: HoldStatus| book.holds_after(HoldId(0), usize::MAX).filter(move |h| h.status == st);
            let revenue: u64 = of(HoldStatus::Confirmed).map(|h| h.amount().unwrap().minor()).sum();
            let refunded: u64 = of(HoldStatus::Refunded).map(|h| h.amount().unwrap().minor()).sum();
            prop_assert_eq!((stats.revenue, stats.refunds, stats.refunded_amount),
                (revenue, of(HoldStatus::Refunded).count() as u64, refunded));
        }
        if let Some(book) = sale.seats() {
            let v = book.view();
            prop_assert_eq!((stats.held, stats.sold), (u64::from(v.held), u64::from(v.sold)));
            let revenue: u64 = book
                .holds_after(HoldId(0), usize::MAX)
                .filter(|h| h.status == HoldStatus::Confirmed)
                .map(|h| h.amount().unwrap().minor())
                .sum();
            prop_assert_eq!(stats.revenue, revenue);
            for h in book.holds_after(HoldId(0), usize::MAX) {
                let (row, seats) = views.hold(SALE, h.id.0).unwrap().expect("every hold is projected");
                prop_assert_eq!(row.status, h.status);
                let now: Vec<(u32, u64)> =
                    seats.iter().filter(|s| !s.released).map(|s| (s.seat, s.holder)).collect();
                let want: Vec<(u32, u64)> = h.seats.iter().map(|s| (s.seat.0, s.holder.0)).collect();
                prop_assert_eq!(now, want);
                prop_assert_eq!(seats.iter().filter(|s| s.released).count(), h.released.len());
                for s in &h.seats {
                    let mine = views.seat_holds_of(s.holder.0).unwrap();
                    prop_assert!(mine.iter().any(|(r, _)| r.id == h.id.0), "a seat's holder sees the hold");
                }
            }
        }
        if let Some(book) = sale.drop_book() {
            let clicks = views.clicks(SALE, 0, 1000, false).unwrap();
            prop_assert_eq!(clicks.len(), book.clicks().len());
            for (row, c) in clicks.iter().zip(book.clicks()) {
                prop_assert_eq!((row.rank, row.person, row.won, row.after_open_us), (c.rank, c.by.0, c.won, c.after_open_us));
            }
            let v = book.view();
            prop_assert_eq!((stats.clicks, stats.won), (u64::from(v.clicks), u64::from(v.won)));
            let histogram: u64 = views.histogram(SALE).unwrap().iter().map(|(_, n)| n).sum();
            prop_assert_eq!(histogram, u64::from(v.clicks));
        }
    }
}
