//! The stock sale (time deal, general admission): a counted stock, holds that
//! expire unless confirmed, orders that can be refunded.
//!
//! Owns its config, its one action (reserve), its outcomes, its view and the
//! invariant `available + held + sold == stock`; the hold lifecycle (and the
//! per-person limit on held + sold units) is [`crate::holds`]'s.

use serde::{Deserialize, Serialize};

use super::{Gate, Kind};
use crate::holds::{HoldId, HoldLedger, HoldStatus, Holding};
use crate::{Action, Event, HoldChange, HoldFact, Money, Outcome, Rejection, UserId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockConfig {
    pub stock: u64,
    /// Unit price in the currency's minor unit.
    pub price: u64,
    pub per_person_limit: u32,
    pub order_quantity_max: u32,
    pub hold_ttl_us: i64,
}

/// What a person asks of a stock sale (besides the shared confirm, cancel, refund).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockAction {
    Reserve { quantity: u32 },
}

/// A stock sale's answers; each is the hold as it is after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockOutcome {
    Held(Hold),
    Confirmed(Hold),
    Cancelled(Hold),
    Refunded(Hold),
}

impl StockOutcome {
    fn wrap(change: HoldChange, hold: Hold) -> Outcome {
        Outcome::Stock(match change {
            HoldChange::Confirmed => StockOutcome::Confirmed(hold),
            HoldChange::Cancelled => StockOutcome::Cancelled(hold),
            HoldChange::Refunded => StockOutcome::Refunded(hold),
            _ => StockOutcome::Held(hold),
        })
    }

    /// The hold, whatever happened to it.
    pub fn hold(&self) -> &Hold {
        match self {
            StockOutcome::Held(h)
            | StockOutcome::Confirmed(h)
            | StockOutcome::Cancelled(h)
            | StockOutcome::Refunded(h) => h,
        }
    }

    pub fn change(&self) -> HoldChange {
        match self {
            StockOutcome::Held(_) => HoldChange::Held,
            StockOutcome::Confirmed(_) => HoldChange::Confirmed,
            StockOutcome::Cancelled(_) => HoldChange::Cancelled,
            StockOutcome::Refunded(_) => HoldChange::Refunded,
        }
    }

    pub(crate) fn event(&self) -> Event {
        Event::Hold { change: self.change(), hold: HoldFact::Stock(self.hold().clone()) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: HoldId,
    pub by: UserId,
    pub quantity: u32,
    pub status: HoldStatus,
    pub created_at_us: i64,
    pub expires_at_us: i64,
    /// Unit price at the time of the hold, in the currency's minor unit.
    pub price: u64,
}

impl Hold {
    /// Unit price × quantity; `None` if it does not fit (a sale created with
    /// `stock × price` checked never gets there).
    pub fn amount(&self) -> Option<Money> {
        Money::from_minor(self.price).checked_mul(u64::from(self.quantity))
    }
}

impl Holding for Hold {
    fn id(&self) -> HoldId {
        self.id
    }
    fn by(&self) -> UserId {
        self.by
    }
    fn status(&self) -> HoldStatus {
        self.status
    }
    fn set_status(&mut self, status: HoldStatus) {
        self.status = status;
    }
    fn expires_at_us(&self) -> i64 {
        self.expires_at_us
    }
    fn units(&self) -> u32 {
        self.quantity
    }
    fn counted_against(&self) -> Vec<(UserId, u32)> {
        vec![(self.by, self.quantity)]
    }
}

/// The numbers anyone may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockView {
    pub total: u64,
    pub available: u64,
    pub held: u64,
    pub sold: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockBook {
    pub config: StockConfig,
    available: u64,
    holds: HoldLedger<Hold>,
}

impl StockBook {
    pub fn view(&self) -> StockView {
        StockView {
            total: self.config.stock,
            available: self.available,
            held: self.holds.held(),
            sold: self.holds.sold(),
        }
    }

    pub fn hold(&self, id: HoldId) -> Option<&Hold> {
        self.holds.get(id)
    }

    /// Holds in id order starting after `after`, at most `limit`.
    pub fn holds_after(&self, after: HoldId, limit: usize) -> impl Iterator<Item = &Hold> {
        self.holds.after(after, limit)
    }

    /// The command that took hold `id` and its first answer: the hold as it
    /// was taken. A stock hold changes nothing but its status afterwards, so
    /// the idempotency table keeps only the id ([`crate::idempotency`]).
    pub(crate) fn first_answer(&self, id: HoldId) -> Option<(Action, Outcome)> {
        let mut hold = self.holds.get(id)?.clone();
        hold.status = HoldStatus::Held;
        Some((
            Action::Stock(StockAction::Reserve { quantity: hold.quantity }),
            Outcome::Stock(StockOutcome::Held(hold)),
        ))
    }

    pub fn holds_of(&self, by: UserId) -> impl Iterator<Item = &Hold> {
        self.holds.iter().filter(move |h| h.by == by)
    }

    /// Active (held + sold) quantity of one person.
    pub fn quantity_of(&self, by: UserId) -> u32 {
        self.holds.count_of(by)
    }

    /// The accounting identity, asserted on every change in debug builds
    /// (`check_invariants` recounts it from the holds).
    fn debug_assert_balanced(&self) {
        debug_assert_eq!(
            self.available + self.holds.held() + self.holds.sold(),
            self.config.stock,
            "available + held + sold != stock"
        );
    }

    fn reserve(&mut self, by: UserId, quantity: u32, now_us: i64, events: &mut Vec<Event>) -> Outcome {
        if quantity == 0 || quantity > self.config.order_quantity_max {
            return Outcome::Rejected(Rejection::BadQuantity { max: self.config.order_quantity_max });
        }
        let remaining = self.holds.remaining(by, self.config.per_person_limit);
        if quantity > remaining {
            return Outcome::Rejected(Rejection::LimitReached { remaining });
        }
        if u64::from(quantity) > self.available {
            return Outcome::Rejected(Rejection::SoldOut { available: self.available });
        }
        let hold = Hold {
            id: self.holds.next_id(),
            by,
            quantity,
            status: HoldStatus::Held,
            created_at_us: now_us,
            expires_at_us: now_us.saturating_add(self.config.hold_ttl_us),
            price: self.config.price,
        };
        self.available -= u64::from(quantity);
        self.holds.open(hold.clone());
        self.debug_assert_balanced();
        events.push(Event::StockChanged(self.view()));
        Outcome::Stock(StockOutcome::Held(hold))
    }

    /// The stock a hold or order gave back is for sale again.
    fn restock(&mut self, change: HoldChange, result: Result<Hold, Rejection>, events: &mut Vec<Event>) -> Outcome {
        match result {
            Ok(hold) => {
                self.available += u64::from(hold.quantity);
                self.debug_assert_balanced();
                events.push(Event::StockChanged(self.view()));
                StockOutcome::wrap(change, hold)
            }
            Err(r) => Outcome::Rejected(r),
        }
    }
}

impl Kind for StockBook {
    const NAME: &'static str = "stock";
    type Config = StockConfig;
    type Terms = StockConfig;
    type Action = StockAction;

    fn new(config: StockConfig) -> Self {
        StockBook { available: config.stock, config, holds: HoldLedger::default() }
    }

    fn act(&mut self, by: UserId, action: &StockAction, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome {
        match action {
            StockAction::Reserve { quantity } => match gate.may_take(by) {
                Ok(()) => self.reserve(by, *quantity, gate.now, events),
                Err(r) => Outcome::Rejected(r),
            },
        }
    }

    fn confirm(&mut self, by: UserId, id: HoldId, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome {
        match self.holds.confirm(by, id) {
            Ok(hold) => {
                self.debug_assert_balanced();
                events.push(Event::StockChanged(self.view()));
                gate.record_purchase(by, hold.quantity, events);
                Outcome::Stock(StockOutcome::Confirmed(hold))
            }
            Err(r) => Outcome::Rejected(r),
        }
    }

    fn cancel(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        let result = self.holds.cancel(by, id);
        self.restock(HoldChange::Cancelled, result, events)
    }

    fn refund(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        let result = self.holds.refund(by, id);
        self.restock(HoldChange::Refunded, result, events)
    }

    /// An expiry announces the hold only: the stock count follows from it.
    fn expire(&mut self, now_us: i64, events: &mut Vec<Event>) {
        while let Some(hold) = self.holds.expire_next(now_us) {
            self.available += u64::from(hold.quantity);
            self.debug_assert_balanced();
            events.push(Event::Hold { change: HoldChange::Expired, hold: HoldFact::Stock(hold) });
        }
    }

    fn next_deadline_us(&self) -> Option<i64> {
        self.holds.next_deadline_us()
    }

    fn per_person_limit(&self) -> u32 {
        self.config.per_person_limit
    }

    fn available(&self) -> u64 {
        self.available
    }

    fn has_orders(&self) -> bool {
        self.holds.has_orders()
    }

    fn same_terms(&self, terms: &StockConfig) -> bool {
        *terms == self.config
    }

    fn config_with(&self, terms: &StockConfig) -> StockConfig {
        terms.clone()
    }

    fn announce(&self, events: &mut Vec<Event>) {
        events.push(Event::StockChanged(self.view()));
    }

    /// Recounts everything from the holds and compares with the running totals.
    /// Used by tests and by `stampede verify`; O(holds).
    fn check_invariants(&self) -> Result<(), String> {
        self.holds.check_invariants(self.config.per_person_limit)?;
        let (held, sold) = (self.holds.held(), self.holds.sold());
        if self.available + held + sold != self.config.stock {
            return Err(format!(
                "oversold: available {} + held {held} + sold {sold} != stock {}",
                self.available, self.config.stock
            ));
        }
        Ok(())
    }
}
