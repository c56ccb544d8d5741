//! How many decisions one core makes per second, the sale's own work with no
//! log, HTTP or runtime around it: stock holds, seat holds on a 50,000-seat
//! venue, drop clicks and waiting-room joins. Each sample applies a prepared
//! batch of commands from different people to a sale already open, so the
//! state grows as it does in a rush (idempotency memory included).
//!
//! `cargo bench -p stampede-core --bench decisions`

use divan::Bencher;
use divan::counter::ItemsCount;
use stampede_core::{
    Action, AdmissionPolicy, Command, DropAction, DropConfig, IdempotencyKey, Input, KindConfig, QueueConfig, Row,
    Sale, SaleConfig, Seat, SeatId, SeatedAction, SeatedConfig, Section, StockAction, StockConfig, UserId, Venue,
};

fn main() {
    divan::main();
}

const OWNER: UserId = UserId(1);
const T0: i64 = 1_800_000_000_000_000;
/// Commands per sample.
const BATCH: usize = 20_000;

fn config(kind: KindConfig, queue: Option<QueueConfig>) -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "bench".into(),
        description: String::new(),
        owner: OWNER,
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind,
        queue,
    }
}

fn key(i: usize) -> IdempotencyKey {
    // The shape real clients send: a UUID.
    match IdempotencyKey::parse(&format!("0192f3a4-5b6c-7d8e-9f00-{i:012x}")) {
        Ok(k) => k,
        Err(e) => panic!("key {i}: {e:?}"),
    }
}

fn command(i: usize, by: u64, action: Action) -> Input {
    Input::Command(Command { at_us: T0 + 1_000 + i as i64, by: UserId(by), key: key(i), action })
}

fn opened(config: SaleConfig) -> Sale {
    let mut sale = Sale::new(config);
    let open = Input::Command(Command { at_us: T0, by: OWNER, key: key(usize::MAX >> 16), action: Action::Open });
    sale.apply(&open);
    sale
}

fn run(bencher: Bencher, make: impl Fn() -> (Sale, Vec<Input>) + Sync) {
    bencher.counter(ItemsCount::new(BATCH)).with_inputs(&make).bench_local_values(|(mut sale, inputs)| {
        for input in &inputs {
            divan::black_box(sale.apply(input));
        }
        sale
    });
}

/// Stock holds of one unit by 20,000 different people.
#[divan::bench]
fn stock_holds(bencher: Bencher) {
    let kind = KindConfig::Stock(StockConfig {
        stock: 100_000_000,
        price: 1_000,
        per_person_limit: 1_000,
        order_quantity_max: 1,
        hold_ttl_us: 3_600_000_000,
    });
    run(bencher, || {
        let sale = opened(config(kind.clone(), None));
        let reserve = Action::Stock(StockAction::Reserve { quantity: 1 });
        (sale, (0..BATCH).map(|i| command(i, 10 + i as u64, reserve.clone())).collect())
    });
}

fn venue_50k() -> Venue {
    let sections = (0..10)
        .map(|s| Section {
            name: format!("S{s}"),
            tier: if s < 2 { "VIP".into() } else { "R".into() },
            price: 100_000,
            colour: "#aa0000".into(),
            rows: (0..50)
                .map(|r| Row {
                    label: format!("R{r}"),
                    seats: (0..100).map(|k| Seat { label: (k + 1).to_string(), x: k, y: r }).collect(),
                })
                .collect(),
        })
        .collect();
    Venue { name: "Hall".into(), sections }
}

/// Holds of one named seat each, on a 50,000-seat venue.
#[divan::bench]
fn seat_holds(bencher: Bencher) {
    let kind = KindConfig::Seated(SeatedConfig {
        venue: venue_50k(),
        per_person_limit: 4,
        seats_per_hold_max: 4,
        hold_ttl_us: 3_600_000_000,
    });
    run(bencher, || {
        let sale = opened(config(kind.clone(), None));
        // Seats spread over the hall, as people pick them.
        let inputs = (0..BATCH)
            .map(|i| {
                let seat = SeatId(((i * 7_919) % 50_000) as u32);
                command(
                    i,
                    10 + i as u64,
                    Action::Seated(SeatedAction::HoldSeats { seats: vec![seat], holders: vec![] }),
                )
            })
            .collect();
        (sale, inputs)
    });
}

/// Drop clicks by 20,000 different people, 100 winners.
#[divan::bench]
fn drop_clicks(bencher: Bencher) {
    let kind = KindConfig::Drop(DropConfig { winners: 100 });
    run(bencher, || {
        let sale = opened(config(kind.clone(), None));
        (sale, (0..BATCH).map(|i| command(i, 10 + i as u64, Action::Drop(DropAction::Click))).collect())
    });
}

/// Joins of a waiting room before the sale opens (no proof of work asked).
#[divan::bench]
fn queue_joins(bencher: Bencher) {
    let kind = KindConfig::Stock(StockConfig {
        stock: 1_000,
        price: 1_000,
        per_person_limit: 1,
        order_quantity_max: 1,
        hold_ttl_us: 600_000_000,
    });
    let queue = QueueConfig {
        policy: AdmissionPolicy::Chunk { size: 1_000, every_us: 1_000_000 },
        pass_ttl_us: 600_000_000,
        prequeue_opens_at_us: None,
        pow_bits: 0,
        places_per_address: 1_000_000,
        seed: [7; 32],
        pass_up_to_limit: true,
    };
    run(bencher, || {
        let mut cfg = config(kind.clone(), Some(queue.clone()));
        cfg.opens_at_us = Some(T0 + 3_600_000_000);
        let sale = Sale::new(cfg);
        let inputs = (0..BATCH)
            .map(|i| command(i, 10 + i as u64, Action::Join { nonce: 0, address: (i % 5_000) as u64 }))
            .collect();
        (sale, inputs)
    });
}
