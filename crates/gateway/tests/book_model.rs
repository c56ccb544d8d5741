//! Model-based tests of the sandbox's payment book.
//!
//! `PaymentBook` is driven with random checkouts, confirmations (declined or
//! not, with right or wrong amounts and orders), refunds and the passing of
//! time, and compared after every input with [`Model`]: a deliberately naive
//! re-statement of the rules (a `Vec` of payments, each a list of facts; the
//! status and the balance recomputed from the facts on every question). The
//! model shares only data types with the book, never its logic. A second
//! property drives `Freshness` with shuffled, duplicated webhook versions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_gateway::PaymentStatus;
use stampede_gateway::sandbox::{Limits, PaymentBook, Step};

const WINDOW_US: i64 = 1_000_000;
const PAYMENTS_MAX: usize = 8;
const ORDERS: u8 = 4;

#[derive(Clone, Debug)]
enum Op {
    Checkout { order: u8, amount: u64 },
    Confirm { payment: prop::sample::Index, right_order: bool, right_amount: bool, declined: bool },
    Cancel { payment: prop::sample::Index, amount: Option<u64>, no_reason: bool },
    ConfirmUnknown,
    Wait { us: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..ORDERS, 0u64..20_000).prop_map(|(order, amount)| Op::Checkout { order, amount }),
        4 => (any::<prop::sample::Index>(), prop::bool::weighted(0.9), prop::bool::weighted(0.9), prop::bool::weighted(0.3))
            .prop_map(|(payment, right_order, right_amount, declined)| Op::Confirm { payment, right_order, right_amount, declined }),
        4 => (any::<prop::sample::Index>(), prop::option::of(0u64..25_000), prop::bool::weighted(0.05))
            .prop_map(|(payment, amount, no_reason)| Op::Cancel { payment, amount, no_reason }),
        1 => Just(Op::ConfirmUnknown),
        2 => (0i64..1_500_000).prop_map(|us| Op::Wait { us }),
    ]
}

/// One payment as a list of facts.
#[derive(Clone, Debug)]
struct MPayment {
    key: String,
    order: String,
    amount: u64,
    created_us: i64,
    /// `Some(true)`: the confirmation was declined.
    confirmed: Option<bool>,
    expired: bool,
    refunds: Vec<u64>,
    changes: u64,
}

impl MPayment {
    fn status(&self) -> PaymentStatus {
        let refunded: u64 = self.refunds.iter().sum();
        match (self.expired, self.confirmed) {
            (true, _) => PaymentStatus::Expired,
            (false, None) => PaymentStatus::Ready,
            (false, Some(true)) => PaymentStatus::Aborted,
            (false, Some(false)) if refunded == self.amount => PaymentStatus::Canceled,
            (false, Some(false)) if refunded > 0 => PaymentStatus::PartialCanceled,
            (false, Some(false)) => PaymentStatus::Done,
        }
    }

    fn balance(&self) -> u64 {
        match self.status() {
            PaymentStatus::Aborted | PaymentStatus::Expired => 0,
            _ => self.amount - self.refunds.iter().sum::<u64>(),
        }
    }

    fn version(&self) -> u64 {
        1 + self.changes
    }
}

#[derive(Default)]
struct Model {
    payments: Vec<MPayment>,
}

/// What an input should answer: a status, balance and version, or an error code.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Payment(PaymentStatus, u64, u64),
    Code(&'static str),
}

impl Model {
    /// Every payment past its window without a confirmation, in no order.
    fn expire(&mut self, now_us: i64) -> Vec<(String, u64)> {
        let mut changed = Vec::new();
        for p in &mut self.payments {
            if p.status() == PaymentStatus::Ready && p.created_us + WINDOW_US < now_us {
                p.expired = true;
                p.changes += 1;
                changed.push((p.key.clone(), p.version()));
            }
        }
        changed
    }

    fn latest_of(&self, order: &str) -> Option<&MPayment> {
        self.payments.iter().rev().find(|p| p.order == order)
    }

    fn expect(p: &MPayment) -> Expect {
        Expect::Payment(p.status(), p.balance(), p.version())
    }
}

fn observed(step: &Step) -> (Expect, Vec<(String, u64)>) {
    let answer = match &step.answer {
        Ok(p) => Expect::Payment(p.status, p.balance_amount, p.version),
        Err(r) => Expect::Code(r.code),
    };
    let mut changed: Vec<(String, u64)> = step.changed.iter().map(|p| (p.payment_key.clone(), p.version)).collect();
    changed.sort();
    (answer, changed)
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut book = PaymentBook::new(Limits { payments_max: PAYMENTS_MAX, confirm_window_us: WINDOW_US });
    let mut model = Model::default();
    let mut now_us = 1_000_000_000_000i64;
    let mut next_key = 0u32;
    for op in ops {
        let (step, (want, mut want_changed)) = match op {
            Op::Wait { us } => {
                now_us += us;
                let mut got: Vec<(String, u64)> =
                    book.expire_due(now_us).iter().map(|p| (p.payment_key.clone(), p.version)).collect();
                got.sort();
                let mut want = model.expire(now_us);
                want.sort();
                prop_assert_eq!(got, want);
                continue;
            }
            Op::Checkout { order, amount } => {
                next_key += 1;
                let key = format!("pk_{next_key}");
                let order = format!("order-{order}");
                let step = book.checkout(key.clone(), &order, "name", *amount, now_us);
                let changed = model.expire(now_us);
                let blocked = model
                    .latest_of(&order)
                    .is_some_and(|p| !matches!(p.status(), PaymentStatus::Aborted | PaymentStatus::Expired));
                let want = if *amount == 0 {
                    Expect::Code("INVALID_AMOUNT")
                } else if model.payments.len() >= PAYMENTS_MAX {
                    Expect::Code("SANDBOX_FULL")
                } else if blocked {
                    Expect::Code("DUPLICATED_ORDER_ID")
                } else {
                    model.payments.push(MPayment {
                        key,
                        order,
                        amount: *amount,
                        created_us: now_us,
                        confirmed: None,
                        expired: false,
                        refunds: Vec::new(),
                        changes: 0,
                    });
                    Model::expect(model.payments.last().unwrap())
                };
                (step, (want, changed))
            }
            Op::ConfirmUnknown => {
                let step = book.confirm("pk_unknown", "order-0", 1, false, now_us);
                (step, (Expect::Code("NOT_FOUND_PAYMENT"), model.expire(now_us)))
            }
            Op::Confirm { payment, right_order, right_amount, declined } => {
                if model.payments.is_empty() {
                    continue;
                }
                let i = payment.index(model.payments.len());
                let (key, order, amount) = {
                    let p = &model.payments[i];
                    let order = if *right_order { p.order.clone() } else { "order-other".to_owned() };
                    (p.key.clone(), order, if *right_amount { p.amount } else { p.amount + 1 })
                };
                let step = book.confirm(&key, &order, amount, *declined, now_us);
                let mut changed = model.expire(now_us);
                let p = &mut model.payments[i];
                let want = if !*right_order || !*right_amount {
                    Expect::Code("INVALID_REQUEST")
                } else {
                    match p.status() {
                        PaymentStatus::Ready => {
                            p.confirmed = Some(*declined);
                            p.changes += 1;
                            changed.push((p.key.clone(), p.version()));
                            if *declined { Expect::Code("REJECT_CARD_PAYMENT") } else { Model::expect(p) }
                        }
                        PaymentStatus::Aborted => Expect::Code("REJECT_CARD_PAYMENT"),
                        PaymentStatus::Expired => Expect::Code("NOT_FOUND_PAYMENT_SESSION"),
                        _ => Expect::Code("ALREADY_PROCESSED_PAYMENT"),
                    }
                };
                (step, (want, changed))
            }
            Op::Cancel { payment, amount, no_reason } => {
                if model.payments.is_empty() {
                    continue;
                }
                let i = payment.index(model.payments.len());
                let key = model.payments[i].key.clone();
                let step = book.cancel(&key, if *no_reason { " " } else { "refund" }, *amount, now_us);
                let mut changed = model.expire(now_us);
                let p = &mut model.payments[i];
                let want = if *no_reason {
                    Expect::Code("INVALID_REQUEST")
                } else {
                    match p.status() {
                        PaymentStatus::Done | PaymentStatus::PartialCanceled => {
                            let left = p.balance();
                            let refund = amount.unwrap_or(left);
                            if refund == 0 || refund > left {
                                Expect::Code("NOT_CANCELABLE_AMOUNT")
                            } else {
                                p.refunds.push(refund);
                                p.changes += 1;
                                changed.push((p.key.clone(), p.version()));
                                Model::expect(p)
                            }
                        }
                        PaymentStatus::Canceled => Expect::Code("ALREADY_CANCELED_PAYMENT"),
                        _ => Expect::Code("NOT_CANCELABLE_PAYMENT"),
                    }
                };
                (step, (want, changed))
            }
        };
        want_changed.sort();
        let (got, got_changed) = observed(&step);
        prop_assert_eq!(got, want, "after {:?}", op);
        prop_assert_eq!(got_changed, want_changed, "changes after {:?}", op);
        check_state(&book, &model)?;
    }
    Ok(())
}

/// Every payment, and every order's latest payment, as the model has them;
/// money adds up in each.
fn check_state(book: &PaymentBook, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(book.all().len(), model.payments.len());
    for p in &model.payments {
        let got = book.get(&p.key).unwrap();
        prop_assert_eq!((got.status, got.balance_amount, got.version), (p.status(), p.balance(), p.version()));
        prop_assert_eq!(got.total_amount, p.amount);
        let refunded: u64 = got.cancels.iter().map(|c| c.cancel_amount).sum();
        prop_assert_eq!(got.cancels.len(), p.refunds.len());
        if got.status.is_captured() || got.status == PaymentStatus::Canceled {
            prop_assert_eq!(got.balance_amount + refunded, got.total_amount);
            prop_assert!(got.approved_at.is_some());
        }
        let latest = model.latest_of(&p.order).unwrap();
        prop_assert_eq!(book.get_by_order(&p.order).unwrap().payment_key, latest.key.clone());
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The book agrees with the model after every input.
    #[test]
    fn payment_book_matches_the_model(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops)?;
    }
}

/// The boundary of the confirmation window, exactly.
#[test]
fn a_payment_is_confirmable_until_its_window_ends() {
    let mut book = PaymentBook::new(Limits { payments_max: 4, confirm_window_us: WINDOW_US });
    book.checkout("pk_a".into(), "order-a1", "", 100, 0).answer.unwrap();
    book.checkout("pk_b".into(), "order-b1", "", 100, 0).answer.unwrap();
    assert_eq!(book.confirm("pk_a", "order-a1", 100, false, WINDOW_US).answer.unwrap().status, PaymentStatus::Done);
    let late = book.confirm("pk_b", "order-b1", 100, false, WINDOW_US + 1);
    assert_eq!(late.answer.unwrap_err().code, "NOT_FOUND_PAYMENT_SESSION");
    assert_eq!(late.changed.len(), 1, "the expiry is a change, sent as a webhook");
    assert_eq!(late.changed[0].status, PaymentStatus::Expired);
}

proptest! {
    #![proptest_config(config())]

    /// A receiver that applies only `Freshness::New` events ends with the
    /// newest version whatever the order and duplication of deliveries, and
    /// applies no version twice.
    #[test]
    fn freshness_keeps_the_newest_of_any_delivery_order(
        versions in 1u64..12,
        extra in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        order in any::<prop::sample::Index>(),
    ) {
        use stampede_gateway::Freshness;
        let mut deliveries: Vec<u64> = (1..=versions).collect();
        deliveries.extend(extra.iter().map(|i| 1 + i.index(versions as usize) as u64));
        // A deterministic shuffle picked by `order`.
        let n = deliveries.len();
        let mut shuffled = Vec::with_capacity(n);
        let mut seed = order.index(usize::MAX);
        while !deliveries.is_empty() {
            let i = seed % deliveries.len();
            seed = seed / deliveries.len().max(1) + 7 * i + 1;
            shuffled.push(deliveries.swap_remove(i));
        }
        let mut applied: Option<u64> = None;
        let mut seen = std::collections::BTreeSet::new();
        for v in shuffled {
            if Freshness::of(applied, v) == Freshness::New {
                prop_assert!(seen.insert(v), "version {} applied twice", v);
                prop_assert!(applied.is_none_or(|a| v > a));
                applied = Some(v);
            }
        }
        prop_assert_eq!(applied, Some(versions));
    }
}
