//! The per-person bound on remembered idempotency keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stampede_core::StockAction;
use stampede_core::{
    Action, Command, IDEMPOTENCY_KEYS_PER_PERSON_MAX, IdempotencyKey, Input, KindConfig, Outcome, Sale, SaleConfig,
    StockConfig, UserId,
};

fn reserve(sale: &mut Sale, by: u64, key: &str, at_us: i64) -> Outcome {
    let cmd = Command {
        at_us,
        by: UserId(by),
        key: IdempotencyKey::parse(key).unwrap(),
        action: Action::Stock(StockAction::Reserve { quantity: 1 }),
    };
    sale.apply(&Input::Command(cmd)).outcome
}

#[test]
fn a_person_beyond_the_cap_forgets_their_oldest_key_only() {
    let mut sale = Sale::new(SaleConfig {
        translations: Vec::new(),
        title: "t".into(),
        description: String::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: Some(0),
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: 1_000_000,
            price: 1,
            per_person_limit: 1_000_000,
            order_quantity_max: 1,
            hold_ttl_us: i64::MAX / 4,
        }),
        queue: None,
    });
    let n = IDEMPOTENCY_KEYS_PER_PERSON_MAX;
    let mut first = Vec::new();
    for i in 0..=n {
        first.push(reserve(&mut sale, 7, &format!("k{i}"), 1 + i as i64));
    }
    reserve(&mut sale, 8, "k0", 5_000); // another person's keys are separate
    assert_eq!(sale.idempotency_len(), n + 1, "person 7 keeps {n}, person 8 keeps 1");
    let held_before = sale.stock().unwrap().view().held;
    // k1 is still remembered: a repeat has no effect.
    assert_eq!(reserve(&mut sale, 7, "k1", 10_000), first[1]);
    assert_eq!(sale.stock().unwrap().view().held, held_before);
    // k0 was the oldest and is forgotten: it is a new command now.
    let again = reserve(&mut sale, 7, "k0", 10_001);
    assert_ne!(again, first[0]);
    assert_eq!(sale.stock().unwrap().view().held, held_before + 1);
}
