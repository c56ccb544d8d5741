//! The hold lifecycle, written once for every kind that holds: a hold is
//! taken, then confirmed (an order), cancelled or expired; an order may be
//! refunded. This module owns the holds themselves, their numbering, the
//! expiry index, the held and sold totals and the per-person counts; a kind
//! owns what a hold holds (units of stock, seats) and gives it back when the
//! lifecycle says so.
//!
//! Invariants, checked by [`HoldLedger::check_invariants`]: the totals and the
//! per-person counts equal a recount of the active holds, every held hold is in
//! the expiry index and nothing else is, and nobody counts more than the limit.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{Rejection, UserId};

/// A hold, numbered from 1 within its sale. A confirmed hold is an order with the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HoldId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldStatus {
    /// Set aside until the hold's expiry.
    Held,
    /// Paid for: an order.
    Confirmed,
    Cancelled,
    Expired,
    /// A confirmed order given back; what it held returned.
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

    /// Held or bought: what it holds is taken.
    pub fn is_active(self) -> bool {
        matches!(self, HoldStatus::Held | HoldStatus::Confirmed)
    }
}

/// What a kind's hold must say for the lifecycle to keep its books: who
/// booked it, its state, its expiry, and how many units it counts against whom.
pub trait Holding: Clone {
    fn id(&self) -> HoldId;
    /// The booker: only they confirm, cancel or change it.
    fn by(&self) -> UserId;
    fn status(&self) -> HoldStatus;
    fn set_status(&mut self, status: HoldStatus);
    fn expires_at_us(&self) -> i64;
    /// Units it takes from the kind's total (a quantity, a number of seats).
    fn units(&self) -> u32;
    /// Whom those units count against, and how many each (the booker, or
    /// each seat's holder).
    fn counted_against(&self) -> Vec<(UserId, u32)>;
}

/// Every hold of one sale, whatever it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldLedger<H> {
    /// Every hold ever taken, hold `n` at index `n - 1`: ids are dense and
    /// holds are never dropped (an order stays visible to its buyer), so a
    /// vector is the map, with no per-entry overhead.
    holds: Vec<H>,
    /// Held holds by expiry time, so expiry is a range scan, not a full pass.
    expiry: BTreeSet<(i64, HoldId)>,
    /// Active (held + sold) units per person.
    per_person: BTreeMap<UserId, u32>,
    held: u64,
    sold: u64,
}

impl<H> Default for HoldLedger<H> {
    fn default() -> Self {
        HoldLedger { holds: Vec::new(), expiry: BTreeSet::new(), per_person: BTreeMap::new(), held: 0, sold: 0 }
    }
}

impl<H: Holding> HoldLedger<H> {
    pub fn held(&self) -> u64 {
        self.held
    }

    pub fn sold(&self) -> u64 {
        self.sold
    }

    pub fn get(&self, id: HoldId) -> Option<&H> {
        self.holds.get(Self::index(id)?)
    }

    fn get_mut(&mut self, id: HoldId) -> Option<&mut H> {
        self.holds.get_mut(Self::index(id)?)
    }

    fn index(id: HoldId) -> Option<usize> {
        usize::try_from(id.0.checked_sub(1)?).ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = &H> {
        self.holds.iter()
    }

    /// Holds in id order starting after `after`, at most `limit`.
    pub fn after(&self, after: HoldId, limit: usize) -> impl Iterator<Item = &H> {
        // Hold `after` is at index `after - 1`, so the next one is at `after`.
        let from = usize::try_from(after.0).unwrap_or(usize::MAX).min(self.holds.len());
        self.holds[from..].iter().take(limit)
    }

    /// Active units counted against one person.
    pub fn count_of(&self, who: UserId) -> u32 {
        self.per_person.get(&who).copied().unwrap_or(0)
    }

    /// How many more units `who` may have under `limit`.
    pub fn remaining(&self, who: UserId, limit: u32) -> u32 {
        limit.saturating_sub(self.count_of(who))
    }

    pub fn next_deadline_us(&self) -> Option<i64> {
        self.expiry.first().map(|(at, _)| *at)
    }

    /// Whether anyone holds, bought or had refunded anything: such a sale
    /// keeps its buyers' orders where they can see them.
    pub fn has_orders(&self) -> bool {
        self.holds.iter().any(|h| matches!(h.status(), HoldStatus::Held | HoldStatus::Confirmed | HoldStatus::Refunded))
    }

    /// The id the next hold gets.
    pub(crate) fn next_id(&self) -> HoldId {
        HoldId(self.holds.len() as u64 + 1)
    }

    /// Records a new held hold (its id from [`Self::next_id`]); the kind has
    /// already checked the limits and taken what it holds.
    pub(crate) fn open(&mut self, hold: H) {
        debug_assert_eq!(hold.id(), self.next_id());
        debug_assert_eq!(hold.status(), HoldStatus::Held);
        self.held += u64::from(hold.units());
        for (who, n) in hold.counted_against() {
            *self.per_person.entry(who).or_insert(0) += n;
        }
        self.expiry.insert((hold.expires_at_us(), hold.id()));
        self.holds.push(hold);
    }

    /// Expires the next hold whose lifetime ended at or before `now_us`, and
    /// returns it (expired) for the kind to free what it held.
    pub(crate) fn expire_next(&mut self, now_us: i64) -> Option<H> {
        loop {
            let &(at, id) = self.expiry.first()?;
            if at > now_us {
                return None;
            }
            self.expiry.pop_first();
            let Some(hold) = self.get_mut(id) else { continue };
            if hold.status() != HoldStatus::Held {
                continue;
            }
            hold.set_status(HoldStatus::Expired);
            let hold = hold.clone();
            self.release(&hold, false);
            return Some(hold);
        }
    }

    /// `by`'s own hold, or why not.
    pub(crate) fn own(&self, by: UserId, id: HoldId) -> Result<&H, Rejection> {
        let hold = self.get(id).ok_or(Rejection::UnknownHold)?;
        if hold.by() != by {
            return Err(Rejection::NotYourHold);
        }
        Ok(hold)
    }

    /// `by`'s hold still held (to confirm or cancel), or why not.
    fn held_by(&self, by: UserId, id: HoldId) -> Result<&H, Rejection> {
        let hold = self.own(by, id)?;
        match hold.status() {
            HoldStatus::Held => Ok(hold),
            HoldStatus::Expired => Err(Rejection::HoldExpired),
            _ => Err(Rejection::HoldNotActive),
        }
    }

    /// `by`'s hold or order still active (to change its contents), or why not.
    pub(crate) fn active_by(&self, by: UserId, id: HoldId) -> Result<&H, Rejection> {
        let hold = self.own(by, id)?;
        match hold.status() {
            HoldStatus::Held | HoldStatus::Confirmed => Ok(hold),
            HoldStatus::Expired => Err(Rejection::HoldExpired),
            _ => Err(Rejection::HoldNotActive),
        }
    }

    /// Held → confirmed (an order). Returns the order.
    pub(crate) fn confirm(&mut self, by: UserId, id: HoldId) -> Result<H, Rejection> {
        let (expires, units) = self.held_by(by, id).map(|h| (h.expires_at_us(), h.units()))?;
        self.expiry.remove(&(expires, id));
        self.held -= u64::from(units);
        self.sold += u64::from(units);
        self.settle(id, HoldStatus::Confirmed).ok_or(Rejection::UnknownHold)
    }

    /// Held → cancelled. Returns it for the kind to free what it held.
    pub(crate) fn cancel(&mut self, by: UserId, id: HoldId) -> Result<H, Rejection> {
        let expires = self.held_by(by, id).map(|h| h.expires_at_us())?;
        self.expiry.remove(&(expires, id));
        let hold = self.settle(id, HoldStatus::Cancelled).ok_or(Rejection::UnknownHold)?;
        self.release(&hold, false);
        Ok(hold)
    }

    /// Confirmed → refunded. Returns it for the kind to free what it held.
    pub(crate) fn refund(&mut self, by: UserId, id: HoldId) -> Result<H, Rejection> {
        match self.own(by, id).map(|h| h.status()) {
            Ok(HoldStatus::Confirmed) => {}
            Ok(HoldStatus::Refunded) => return Err(Rejection::AlreadyRefunded),
            Ok(_) | Err(Rejection::UnknownHold) => return Err(Rejection::UnknownOrder),
            Err(r) => return Err(r),
        }
        let hold = self.settle(id, HoldStatus::Refunded).ok_or(Rejection::UnknownOrder)?;
        self.release(&hold, true);
        Ok(hold)
    }

    /// Changes an active hold's contents in place (a seat given back or
    /// exchanged). `change` returns what it gave back: `(who, units)` pairs,
    /// which stop counting. A hold left with nothing ends (cancelled if held,
    /// refunded if bought). Returns the hold as it is after.
    pub(crate) fn change(&mut self, id: HoldId, change: impl FnOnce(&mut H) -> Vec<(UserId, u32)>) -> Option<H> {
        let hold = self.get_mut(id)?;
        let status = hold.status();
        let sold = status == HoldStatus::Confirmed;
        let given_back = change(hold);
        let emptied = hold.units() == 0;
        let expires = hold.expires_at_us();
        if emptied {
            hold.set_status(if sold { HoldStatus::Refunded } else { HoldStatus::Cancelled });
        }
        let hold = hold.clone();
        if emptied && !sold {
            self.expiry.remove(&(expires, id));
        }
        for (who, n) in given_back {
            self.uncount(who, n);
            if sold {
                self.sold -= u64::from(n);
            } else {
                self.held -= u64::from(n);
            }
        }
        Some(hold)
    }

    /// Callers found the hold just before, so `None` does not happen.
    fn settle(&mut self, id: HoldId, status: HoldStatus) -> Option<H> {
        let hold = self.get_mut(id)?;
        hold.set_status(status);
        Some(hold.clone())
    }

    /// What an active hold counted stops counting.
    fn release(&mut self, hold: &H, was_sold: bool) {
        if was_sold {
            self.sold -= u64::from(hold.units());
        } else {
            self.held -= u64::from(hold.units());
        }
        for (who, n) in hold.counted_against() {
            self.uncount(who, n);
        }
    }

    fn uncount(&mut self, who: UserId, n: u32) {
        if let Some(c) = self.per_person.get_mut(&who) {
            *c -= n;
            if *c == 0 {
                self.per_person.remove(&who);
            }
        }
    }

    /// Recounts the totals, the per-person counts and the expiry index from
    /// the holds. O(holds).
    pub fn check_invariants(&self, per_person_limit: u32) -> Result<(), String> {
        let (mut held, mut sold) = (0u64, 0u64);
        let mut per_person: BTreeMap<UserId, u32> = BTreeMap::new();
        let mut expiring = 0usize;
        for (i, h) in self.holds.iter().enumerate() {
            if Self::index(h.id()) != Some(i) {
                return Err(format!("hold {:?} is at index {i}", h.id()));
            }
            match h.status() {
                HoldStatus::Held => {
                    held += u64::from(h.units());
                    expiring += 1;
                    if !self.expiry.contains(&(h.expires_at_us(), h.id())) {
                        return Err(format!("active hold {:?} missing from the expiry index", h.id()));
                    }
                }
                HoldStatus::Confirmed => sold += u64::from(h.units()),
                _ => continue,
            }
            for (who, n) in h.counted_against() {
                *per_person.entry(who).or_insert(0) += n;
            }
        }
        if held != self.held || sold != self.sold {
            return Err(format!("totals drifted: held {held}/{} sold {sold}/{}", self.held, self.sold));
        }
        if per_person != self.per_person {
            return Err("per-person counts drifted".into());
        }
        if let Some((who, n)) = per_person.iter().find(|(_, n)| **n > per_person_limit) {
            return Err(format!("{who:?} has {n}, over the limit {per_person_limit}"));
        }
        if self.expiry.len() != expiring {
            return Err("expiry index has stale entries".into());
        }
        Ok(())
    }
}
