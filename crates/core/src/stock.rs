//! The stock sale (time deal, general admission): a counted stock, holds that
//! expire unless confirmed, orders that can be refunded.
//!
//! Invariant, checked by [`StockBook::check_invariants`] and the property tests:
//! `available + held + sold == stock`, and nobody's active quantity (held +
//! sold) exceeds the per-person limit.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Event, HoldChange, HoldFact, Money, Outcome, Rejection, UserId};

/// A hold, numbered from 1 within its sale. A confirmed hold is an order with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HoldId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldStatus {
    /// Stock is set aside until `expires_at_us`.
    Held,
    /// Paid for: an order.
    Confirmed,
    Cancelled,
    Expired,
    /// A confirmed order given back; its stock returned.
    Refunded,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Held => "held",
            HoldStatus::Confirmed => "confirmed",
            HoldStatus::Cancelled => "cancelled",
            HoldStatus::Expired => "expired",
            HoldStatus::Refunded => "refunded",
        }
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockConfig {
    pub stock: u64,
    /// Unit price in the currency's minor unit.
    pub price: u64,
    pub per_person_limit: u32,
    pub order_quantity_max: u32,
    pub hold_ttl_us: i64,
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
    held: u64,
    sold: u64,
    next_hold: u64,
    holds: BTreeMap<HoldId, Hold>,
    /// Active holds by expiry time, so expiry is a range scan, not a full pass.
    expiry: BTreeSet<(i64, HoldId)>,
    /// Held + sold quantity per person.
    per_person: BTreeMap<UserId, u32>,
}

impl StockBook {
    pub fn new(config: StockConfig) -> Self {
        StockBook {
            available: config.stock,
            config,
            held: 0,
            sold: 0,
            next_hold: 1,
            holds: BTreeMap::new(),
            expiry: BTreeSet::new(),
            per_person: BTreeMap::new(),
        }
    }

    pub fn view(&self) -> StockView {
        StockView { total: self.config.stock, available: self.available, held: self.held, sold: self.sold }
    }

    pub fn hold(&self, id: HoldId) -> Option<&Hold> {
        self.holds.get(&id)
    }

    /// Holds in id order starting after `after`, at most `limit`.
    pub fn holds_after(&self, after: HoldId, limit: usize) -> impl Iterator<Item = &Hold> {
        use std::ops::Bound::{Excluded, Unbounded};
        self.holds.range((Excluded(after), Unbounded)).map(|(_, h)| h).take(limit)
    }

    pub fn holds_of(&self, by: UserId) -> impl Iterator<Item = &Hold> {
        self.holds.values().filter(move |h| h.by == by)
    }

    /// Active (held + sold) quantity of one person.
    pub fn quantity_of(&self, by: UserId) -> u32 {
        self.per_person.get(&by).copied().unwrap_or(0)
    }

    pub fn next_deadline_us(&self) -> Option<i64> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// Expires every hold whose lifetime ended at or before `now_us`.
    pub(crate) fn expire(&mut self, now_us: i64, events: &mut Vec<Event>) {
        while let Some(&(at, id)) = self.expiry.first() {
            if at > now_us {
                break;
            }
            self.expiry.pop_first();
            let Some(hold) = self.holds.get_mut(&id) else { continue };
            debug_assert_eq!(hold.status, HoldStatus::Held);
            hold.status = HoldStatus::Expired;
            let fact = HoldFact::Stock(hold.clone());
            let (by, q) = (hold.by, hold.quantity);
            self.release_held(by, q);
            events.push(Event::Hold { change: HoldChange::Expired, hold: fact });
        }
    }

    fn release_held(&mut self, by: UserId, quantity: u32) {
        self.held -= u64::from(quantity);
        self.available += u64::from(quantity);
        self.take_from_person(by, quantity);
    }

    fn take_from_person(&mut self, by: UserId, quantity: u32) {
        if let Some(n) = self.per_person.get_mut(&by) {
            *n -= quantity;
            if *n == 0 {
                self.per_person.remove(&by);
            }
        }
    }

    pub(crate) fn reserve(&mut self, by: UserId, quantity: u32, now_us: i64, events: &mut Vec<Event>) -> Outcome {
        if quantity == 0 || quantity > self.config.order_quantity_max {
            return Outcome::Rejected(Rejection::BadQuantity { max: self.config.order_quantity_max });
        }
        let mine = self.quantity_of(by);
        let remaining = self.config.per_person_limit.saturating_sub(mine);
        if quantity > remaining {
            return Outcome::Rejected(Rejection::LimitReached { remaining });
        }
        if u64::from(quantity) > self.available {
            return Outcome::Rejected(Rejection::SoldOut { available: self.available });
        }
        let id = HoldId(self.next_hold);
        self.next_hold += 1;
        let expires_at_us = now_us.saturating_add(self.config.hold_ttl_us);
        let hold = Hold {
            id,
            by,
            quantity,
            status: HoldStatus::Held,
            created_at_us: now_us,
            expires_at_us,
            price: self.config.price,
        };
        self.available -= u64::from(quantity);
        self.held += u64::from(quantity);
        *self.per_person.entry(by).or_insert(0) += quantity;
        self.expiry.insert((expires_at_us, id));
        self.holds.insert(id, hold.clone());
        events.push(Event::StockChanged(self.view()));
        Outcome::Held(hold)
    }

    /// Finds `by`'s hold in one of the `wanted` states, or says why not.
    fn own_hold(&self, by: UserId, id: HoldId) -> Result<&Hold, Rejection> {
        let hold = self.holds.get(&id).ok_or(Rejection::UnknownHold)?;
        if hold.by != by {
            return Err(Rejection::NotYourHold);
        }
        Ok(hold)
    }

    fn active_hold(&self, by: UserId, id: HoldId) -> Result<&Hold, Rejection> {
        let hold = self.own_hold(by, id)?;
        match hold.status {
            HoldStatus::Held => Ok(hold),
            HoldStatus::Expired => Err(Rejection::HoldExpired),
            _ => Err(Rejection::HoldNotActive),
        }
    }

    pub(crate) fn confirm(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        let (expires, q) = match self.active_hold(by, id) {
            Ok(h) => (h.expires_at_us, h.quantity),
            Err(r) => return Outcome::Rejected(r),
        };
        self.expiry.remove(&(expires, id));
        self.held -= u64::from(q);
        self.sold += u64::from(q);
        let Some(hold) = self.holds.get_mut(&id) else { return Outcome::Rejected(Rejection::UnknownHold) };
        hold.status = HoldStatus::Confirmed;
        let hold = hold.clone();
        events.push(Event::StockChanged(self.view()));
        Outcome::Confirmed(hold)
    }

    pub(crate) fn cancel(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        let (expires, q) = match self.active_hold(by, id) {
            Ok(h) => (h.expires_at_us, h.quantity),
            Err(r) => return Outcome::Rejected(r),
        };
        self.expiry.remove(&(expires, id));
        self.release_held(by, q);
        let Some(hold) = self.holds.get_mut(&id) else { return Outcome::Rejected(Rejection::UnknownHold) };
        hold.status = HoldStatus::Cancelled;
        let hold = hold.clone();
        events.push(Event::StockChanged(self.view()));
        Outcome::Cancelled(hold)
    }

    pub(crate) fn refund(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        let q = match self.own_hold(by, id) {
            Ok(h) if h.status == HoldStatus::Confirmed => h.quantity,
            Ok(h) if h.status == HoldStatus::Refunded => return Outcome::Rejected(Rejection::AlreadyRefunded),
            Ok(_) => return Outcome::Rejected(Rejection::UnknownOrder),
            Err(Rejection::UnknownHold) => return Outcome::Rejected(Rejection::UnknownOrder),
            Err(r) => return Outcome::Rejected(r),
        };
        self.sold -= u64::from(q);
        self.available += u64::from(q);
        self.take_from_person(by, q);
        let Some(hold) = self.holds.get_mut(&id) else { return Outcome::Rejected(Rejection::UnknownOrder) };
        hold.status = HoldStatus::Refunded;
        let hold = hold.clone();
        events.push(Event::StockChanged(self.view()));
        Outcome::Refunded(hold)
    }

    /// Recounts everything from the holds and compares with the running totals.
    /// Used by tests and by `stampede verify`; O(holds).
    pub fn check_invariants(&self) -> Result<(), String> {
        let (mut held, mut sold) = (0u64, 0u64);
        let mut per_person: BTreeMap<UserId, u32> = BTreeMap::new();
        for h in self.holds.values() {
            match h.status {
                HoldStatus::Held => {
                    held += u64::from(h.quantity);
                    if !self.expiry.contains(&(h.expires_at_us, h.id)) {
                        return Err(format!("active hold {:?} missing from the expiry index", h.id));
                    }
                }
                HoldStatus::Confirmed => sold += u64::from(h.quantity),
                _ => continue,
            }
            *per_person.entry(h.by).or_insert(0) += h.quantity;
        }
        if held != self.held || sold != self.sold {
            return Err(format!("totals drifted: held {held}/{} sold {sold}/{}", self.held, self.sold));
        }
        if self.available + self.held + self.sold != self.config.stock {
            return Err(format!(
                "oversold: available {} + held {} + sold {} != stock {}",
                self.available, self.held, self.sold, self.config.stock
            ));
        }
        if per_person != self.per_person {
            return Err("per-person quantities drifted".into());
        }
        if let Some((who, n)) = per_person.iter().find(|(_, n)| **n > self.config.per_person_limit) {
            return Err(format!("{who:?} holds {n}, over the limit {}", self.config.per_person_limit));
        }
        if self.expiry.len() != self.holds.values().filter(|h| h.status == HoldStatus::Held).count() {
            return Err("expiry index has stale entries".into());
        }
        Ok(())
    }
}
