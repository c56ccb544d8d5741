//! What a stock hold costs the sale in memory (issue 12: the server's RSS may
//! grow at most 200 bytes per acknowledged hold, remembered idempotency
//! answers included). A rush of 200,000 one-unit holds by 20,000 people,
//! each with a fresh key shaped as a sealed sale stores it (32 hex digits),
//! applied to one sale while a counting allocator measures the heap it keeps.
//! Allocation is deterministic, so this asserts no timing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

use stampede_core::{
    Action, Command, IdempotencyKey, Input, KindConfig, Sale, SaleConfig, StockAction, StockConfig, US_PER_S, UserId,
};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const T0: i64 = 1_800_000_000 * US_PER_S;
const HOLDS: u64 = 200_000;
const PEOPLE: u64 = 20_000;
/// The budget for the whole server; the sale's own state must leave
/// room under it for the rest.
const BYTES_PER_HOLD_MAX: f64 = 200.0;
/// What paying may add per one-unit order: its ticket record (with the
/// ticket vector's spare capacity), the order's entry in the ticket index and
/// the confirm's remembered answer (a boxed action and outcome, about half of
/// it). Measured at 310 on 2026-12-04.
const BYTES_PER_PAID_ORDER_MAX: f64 = 320.0;

#[test]
fn a_stock_hold_costs_the_sale_less_than_the_budget_in_memory() {
    let mut sale = Sale::new(SaleConfig {
        title: "rush".into(),
        description: String::new(),
        translations: Vec::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: Some(T0),
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: HOLDS,
            price: 10_000,
            per_person_limit: 100,
            order_quantity_max: 10,
            hold_ttl_us: 3600 * US_PER_S,
        }),
        queue: None,
    });
    // The inputs are made before counting: they are the requests, not the sale.
    let inputs: Vec<Input> = (0..HOLDS)
        .map(|i| {
            let key = IdempotencyKey::parse(&format!("{:032x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))).unwrap();
            let action = Action::Stock(StockAction::Reserve { quantity: 1 });
            Input::Command(Command { at_us: T0 + 1 + i as i64, by: UserId(100 + i % PEOPLE), key, action })
        })
        .collect();
    let region = Region::new(GLOBAL);
    let mut held = 0u64;
    for input in &inputs {
        let applied = sale.apply(input);
        held += u64::from(matches!(applied.outcome, stampede_core::Outcome::Stock(_)));
    }
    let change = region.change();
    assert_eq!(held, HOLDS, "every hold was taken");
    // (A reallocation's growth is already in `bytes_allocated`.)
    let kept = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
    let per_hold = kept as f64 / HOLDS as f64;
    println!("the sale keeps {per_hold:.1} bytes per hold ({kept} bytes for {HOLDS} holds)");
    assert!(per_hold <= BYTES_PER_HOLD_MAX, "{per_hold:.1} bytes per hold, over {BYTES_PER_HOLD_MAX}");
    drop(inputs);

    // Paying for each hold issues its ticket (issue 13): what a paid one-unit
    // order adds on top of its hold, its confirm's remembered answer included.
    // Measured here, in the same test, because the counting allocator is
    // global and another test running beside it would be counted too.
    let confirms: Vec<Input> = (0..HOLDS)
        .map(|i| {
            let key = IdempotencyKey::parse(&format!("{:032x}", !i.wrapping_mul(0x9E37_79B9_7F4A_7C15))).unwrap();
            let action = Action::Confirm { hold: stampede_core::HoldId(i + 1) };
            Input::Command(Command { at_us: T0 + 1_000_000 + i as i64, by: UserId(100 + i % PEOPLE), key, action })
        })
        .collect();
    let region = Region::new(GLOBAL);
    for input in &confirms {
        sale.apply(input);
    }
    let change = region.change();
    assert_eq!(sale.tickets().tickets().count() as u64, HOLDS, "one ticket per paid unit");
    let kept = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
    let per_order = kept as f64 / HOLDS as f64;
    println!("paying adds {per_order:.1} bytes per one-unit order (its ticket and the confirm's answer)");
    assert!(
        per_order <= BYTES_PER_PAID_ORDER_MAX,
        "{per_order:.1} bytes per paid order, over {BYTES_PER_PAID_ORDER_MAX}"
    );
    drop(confirms);
    drop(sale);
}
