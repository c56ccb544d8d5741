//! The sandbox's payments as a pure state machine: every input carries its
//! time (`at_us`) and, for a confirm, whether the card company declines it
//! (decided outside, from the seed), so the rules can be tested against a
//! model without a server or a clock.
//!
//! A payment's life: `READY` (the buyer approved on the checkout page) →
//! `DONE` (confirmed) → `PARTIAL_CANCELED`* → `CANCELED`; or `READY` →
//! `ABORTED` (declined at confirmation) or `EXPIRED` (not confirmed within the
//! window). Every change bumps the payment's `version` and is returned as a
//! snapshot in [`Step::changed`], which the sandbox sends as a webhook.

use std::collections::{BTreeMap, BTreeSet};

use crate::payment::{Cancel, Failure, Payment, PaymentStatus};

/// The largest amount of one payment (won).
pub const AMOUNT_MAX: u64 = 1_000_000_000_000;
/// Most refunds of one payment.
pub const CANCELS_PER_PAYMENT_MAX: usize = 100;
/// Order ids are 6 to 64 of `[A-Za-z0-9_=.-]` (Toss Payments' rule).
pub const ORDER_ID_LEN: std::ops::RangeInclusive<usize> = 6..=64;
/// The longest order name or cancel reason kept.
pub const TEXT_LEN_MAX: usize = 200;

/// A refused request: the HTTP status and the gateway's error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { status, code, message: message.into() }
    }
}

/// What an input did: the answer for the caller, and the payments it changed
/// (their state after the change), for the webhooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub answer: Result<Payment, Refusal>,
    pub changed: Vec<Payment>,
}

/// The bounds of the book.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most payments kept; a checkout beyond it is refused.
    pub payments_max: usize,
    /// How long a `READY` payment waits for its confirmation.
    pub confirm_window_us: i64,
}

#[derive(Clone, Debug)]
struct Record {
    payment_key: String,
    order_id: String,
    order_name: String,
    status: PaymentStatus,
    total_amount: u64,
    balance_amount: u64,
    requested_at_us: i64,
    approved_at_us: Option<i64>,
    confirm_by_us: i64,
    version: u64,
    cancels: Vec<(u64, String, i64, String)>,
    failure: Option<Failure>,
}

/// Every payment of the sandbox.
#[derive(Clone, Debug)]
pub struct PaymentBook {
    limits: Limits,
    payments: BTreeMap<String, Record>,
    /// Every payment key of an order, oldest first.
    by_order: BTreeMap<String, Vec<String>>,
    /// `READY` payments by their confirmation deadline.
    deadlines: BTreeSet<(i64, String)>,
    /// Numbers the refunds' transaction keys.
    transactions: u64,
}

/// An RFC 3339 time of microseconds since the epoch.
pub fn iso(at_us: i64) -> String {
    jiff::Timestamp::from_microsecond(at_us).map(|t| t.to_string()).unwrap_or_default()
}

impl Record {
    fn to_wire(&self) -> Payment {
        Payment {
            payment_key: self.payment_key.clone(),
            order_id: self.order_id.clone(),
            order_name: self.order_name.clone(),
            status: self.status,
            total_amount: self.total_amount,
            balance_amount: self.balance_amount,
            currency: "KRW".into(),
            requested_at: iso(self.requested_at_us),
            approved_at: self.approved_at_us.map(iso),
            version: self.version,
            cancels: self
                .cancels
                .iter()
                .map(|(amount, reason, at_us, key)| Cancel {
                    cancel_amount: *amount,
                    cancel_reason: reason.clone(),
                    canceled_at: iso(*at_us),
                    transaction_key: key.clone(),
                })
                .collect(),
            failure: self.failure.clone(),
        }
    }
}

fn valid_order_id(order_id: &str) -> bool {
    ORDER_ID_LEN.contains(&order_id.len())
        && order_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.'))
}

fn not_found(payment_key: &str) -> Refusal {
    Refusal::new(404, "NOT_FOUND_PAYMENT", format!("no payment {payment_key}"))
}

impl PaymentBook {
    pub fn new(limits: Limits) -> PaymentBook {
        PaymentBook {
            limits,
            payments: BTreeMap::new(),
            by_order: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            transactions: 0,
        }
    }

    /// How many payments the order already has (a new checkout's number).
    pub fn checkouts_of(&self, order_id: &str) -> usize {
        self.by_order.get(order_id).map_or(0, Vec::len)
    }

    /// The buyer approved on the checkout page: a `READY` payment. An order
    /// may be paid again only after its last payment was aborted or expired.
    pub fn checkout(&mut self, payment_key: String, order_id: &str, order_name: &str, amount: u64, at_us: i64) -> Step {
        // An overdue payment of the same order must not block a new one.
        let changed = self.expire_due(at_us);
        let refused = |refusal| Step { answer: Err(refusal), changed: changed.clone() };
        if !valid_order_id(order_id) {
            return refused(Refusal::new(400, "INVALID_ORDER_ID", "orderId is 6 to 64 of A-Z a-z 0-9 - _ = ."));
        }
        if amount == 0 || amount > AMOUNT_MAX {
            return refused(Refusal::new(400, "INVALID_AMOUNT", format!("amount is 1 to {AMOUNT_MAX}")));
        }
        if self.payments.len() >= self.limits.payments_max {
            return refused(Refusal::new(503, "SANDBOX_FULL", "the sandbox keeps no more payments"));
        }
        if self.payments.contains_key(&payment_key) {
            return refused(Refusal::new(409, "DUPLICATED_PAYMENT_KEY", "payment key in use"));
        }
        if let Some(last) = self.by_order.get(order_id).and_then(|keys| keys.last()).and_then(|k| self.payments.get(k))
            && !matches!(last.status, PaymentStatus::Aborted | PaymentStatus::Expired)
        {
            return refused(Refusal::new(400, "DUPLICATED_ORDER_ID", "this order already has a payment"));
        }
        let record = Record {
            payment_key: payment_key.clone(),
            order_id: order_id.to_owned(),
            order_name: order_name.chars().take(TEXT_LEN_MAX).collect(),
            status: PaymentStatus::Ready,
            total_amount: amount,
            balance_amount: amount,
            requested_at_us: at_us,
            approved_at_us: None,
            confirm_by_us: at_us.saturating_add(self.limits.confirm_window_us),
            version: 1,
            cancels: Vec::new(),
            failure: None,
        };
        let wire = record.to_wire();
        self.deadlines.insert((record.confirm_by_us, payment_key.clone()));
        self.by_order.entry(order_id.to_owned()).or_default().push(payment_key.clone());
        self.payments.insert(payment_key, record);
        Step { answer: Ok(wire), changed }
    }

    /// The merchant confirms: captures the amount, unless `declined`.
    pub fn confirm(&mut self, payment_key: &str, order_id: &str, amount: u64, declined: bool, at_us: i64) -> Step {
        let mut changed = self.expire_due(at_us);
        let Some(record) = self.payments.get_mut(payment_key) else {
            return Step { answer: Err(not_found(payment_key)), changed };
        };
        if record.order_id != order_id {
            return Step {
                answer: Err(Refusal::new(400, "INVALID_REQUEST", "orderId does not match the payment")),
                changed,
            };
        }
        if record.total_amount != amount {
            return Step {
                answer: Err(Refusal::new(400, "INVALID_REQUEST", "amount does not match the payment")),
                changed,
            };
        }
        let answer = match record.status {
            PaymentStatus::Ready if declined => {
                let failure = Failure {
                    code: "REJECT_CARD_PAYMENT".into(),
                    message: "한도초과 혹은 잔액부족으로 결제에 실패했습니다. (declined: limit exceeded or insufficient funds)"
                        .into(),
                };
                record.status = PaymentStatus::Aborted;
                record.balance_amount = 0;
                record.failure = Some(failure.clone());
                record.version += 1;
                self.deadlines.remove(&(record.confirm_by_us, payment_key.to_owned()));
                changed.push(record.to_wire());
                Err(Refusal::new(403, "REJECT_CARD_PAYMENT", failure.message))
            }
            PaymentStatus::Ready => {
                record.status = PaymentStatus::Done;
                record.approved_at_us = Some(at_us);
                record.version += 1;
                self.deadlines.remove(&(record.confirm_by_us, payment_key.to_owned()));
                let wire = record.to_wire();
                changed.push(wire.clone());
                Ok(wire)
            }
            // A decline is final: asking again gets the same answer.
            PaymentStatus::Aborted => {
                let failure = record.failure.clone().unwrap_or(Failure { code: String::new(), message: String::new() });
                Err(Refusal::new(403, "REJECT_CARD_PAYMENT", failure.message))
            }
            PaymentStatus::Expired => {
                Err(Refusal::new(404, "NOT_FOUND_PAYMENT_SESSION", "the confirmation window has passed"))
            }
            _ => Err(Refusal::new(400, "ALREADY_PROCESSED_PAYMENT", "this payment is already confirmed")),
        };
        Step { answer, changed }
    }

    /// Refunds `amount` (all that is left when `None`) of a captured payment.
    pub fn cancel(&mut self, payment_key: &str, reason: &str, amount: Option<u64>, at_us: i64) -> Step {
        let mut changed = self.expire_due(at_us);
        if reason.trim().is_empty() || reason.chars().count() > TEXT_LEN_MAX {
            return Step {
                answer: Err(Refusal::new(400, "INVALID_REQUEST", "cancelReason is 1 to 200 characters")),
                changed,
            };
        }
        let Some(record) = self.payments.get_mut(payment_key) else {
            return Step { answer: Err(not_found(payment_key)), changed };
        };
        let answer = match record.status {
            PaymentStatus::Done | PaymentStatus::PartialCanceled => {
                let amount = amount.unwrap_or(record.balance_amount);
                if amount == 0 || amount > record.balance_amount {
                    Err(Refusal::new(
                        400,
                        "NOT_CANCELABLE_AMOUNT",
                        format!("a refund is 1 to the balance of {}", record.balance_amount),
                    ))
                } else if record.cancels.len() >= CANCELS_PER_PAYMENT_MAX {
                    Err(Refusal::new(400, "EXCEED_CANCEL_COUNT", "too many refunds of one payment"))
                } else {
                    self.transactions += 1;
                    record.balance_amount -= amount;
                    record.status = if record.balance_amount == 0 {
                        PaymentStatus::Canceled
                    } else {
                        PaymentStatus::PartialCanceled
                    };
                    record.cancels.push((amount, reason.to_owned(), at_us, format!("txn_{}", self.transactions)));
                    record.version += 1;
                    let wire = record.to_wire();
                    changed.push(wire.clone());
                    Ok(wire)
                }
            }
            PaymentStatus::Canceled => Err(Refusal::new(400, "ALREADY_CANCELED_PAYMENT", "already refunded in full")),
            _ => Err(Refusal::new(400, "NOT_CANCELABLE_PAYMENT", "only a confirmed payment can be refunded")),
        };
        Step { answer, changed }
    }

    /// Expires every `READY` payment whose confirmation window ended before `at_us`.
    pub fn expire_due(&mut self, at_us: i64) -> Vec<Payment> {
        let mut changed = Vec::new();
        while let Some((deadline, key)) = self.deadlines.first().cloned() {
            if deadline >= at_us {
                break;
            }
            self.deadlines.pop_first();
            if let Some(record) = self.payments.get_mut(&key)
                && record.status == PaymentStatus::Ready
            {
                record.status = PaymentStatus::Expired;
                record.balance_amount = 0;
                record.version += 1;
                changed.push(record.to_wire());
            }
        }
        changed
    }

    pub fn get(&self, payment_key: &str) -> Result<Payment, Refusal> {
        self.payments.get(payment_key).map(Record::to_wire).ok_or_else(|| not_found(payment_key))
    }

    /// The order's latest payment.
    pub fn get_by_order(&self, order_id: &str) -> Result<Payment, Refusal> {
        self.by_order
            .get(order_id)
            .and_then(|keys| keys.last())
            .and_then(|key| self.payments.get(key))
            .map(Record::to_wire)
            .ok_or_else(|| Refusal::new(404, "NOT_FOUND_PAYMENT", format!("no payment for order {order_id}")))
    }

    /// Every payment, by payment key.
    pub fn all(&self) -> Vec<Payment> {
        self.payments.values().map(Record::to_wire).collect()
    }
}
