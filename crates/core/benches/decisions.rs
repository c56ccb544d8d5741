//! How many decisions one core makes per second, the sale's own work with no
//! log, HTTP or runtime around it: stock holds, seat holds on a 50,000-seat
//! venue, drop clicks, waiting-room joins and wallet payments in the ledger. Each sample applies a prepared
//! batch of commands from different people to a sale already open, so the
//! state grows as it does in a rush (idempotency memory included).
//!
//! `cargo bench -p stampede-core --bench decisions`

use divan::Bencher;
use divan::counter::ItemsCount;
use stampede_core::{
    AccountId, Action, AdmissionPolicy, Command, DropAction, DropConfig, IdempotencyKey, Input, KindConfig, Ledger,
    LedgerInput, Money, Movement, OrderRef, QueueConfig, Row, Sale, SaleConfig, Seat, SeatId, SeatedAction,
    SeatedConfig, Section, StockAction, StockConfig, Transfer, TransferBody, TransferCode, TransferId, TransferRefs,
    UserId, Venue,
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

fn transfer(at_us: i64, id: String, body: TransferBody) -> LedgerInput {
    match TransferId::parse(&id) {
        Ok(id) => LedgerInput::Transfer { at_us, transfer: Transfer { id, body } },
        Err(e) => panic!("transfer id {id}: {e}"),
    }
}

/// Wallet payments as a checkout makes them: a two-phase pair, reserve the
/// price on the buyer's wallet then post it to clearing, by 20,000 buyers
/// whose wallets were topped up beforehand. One item is one pair.
#[divan::bench]
fn ledger_hold_and_post(bencher: Bencher) {
    let wallet = |i: usize| AccountId::Wallet(UserId(10 + i as u64));
    let prepared = || {
        let mut ledger = Ledger::new();
        for i in 0..BATCH {
            let top_up = Movement {
                debit: AccountId::World,
                credit: wallet(i),
                amount: Money::from_minor(100_000),
                code: TransferCode::TopUp,
                refs: TransferRefs::default(),
            };
            ledger.apply(&transfer(T0, format!("topup-{i}"), TransferBody::Single(top_up)));
        }
        let inputs: Vec<[LedgerInput; 2]> = (0..BATCH)
            .map(|i| {
                let at_us = T0 + 1_000 + i as i64;
                let hold = Movement {
                    debit: wallet(i),
                    credit: AccountId::Clearing,
                    amount: Money::from_minor(55_000),
                    code: TransferCode::WalletPayment,
                    refs: TransferRefs { order: Some(OrderRef::new(1, i as u64 + 1)), payment: None, actor: None },
                };
                let pending = format!("hold-{i}");
                let post = TransferBody::Post {
                    pending: match TransferId::parse(&pending) {
                        Ok(id) => id,
                        Err(e) => panic!("{pending}: {e}"),
                    },
                    amount: None,
                };
                [
                    transfer(at_us, pending, TransferBody::Pending { movement: hold, timeout_us: 600_000_000 }),
                    transfer(at_us, format!("pay-{i}"), post),
                ]
            })
            .collect();
        (ledger, inputs)
    };
    bencher.counter(ItemsCount::new(BATCH)).with_inputs(prepared).bench_local_values(|(mut ledger, inputs)| {
        for pair in &inputs {
            for input in pair {
                divan::black_box(ledger.apply(input));
            }
        }
        ledger
    });
}
