//! The seated sale (concerts, stadiums): every seat is sold once, holds take
//! one or more seats all-or-nothing and expire unless confirmed, a booker may
//! hold seats for friends, and "best available" finds adjacent seats.
//!
//! Owns its config, actions (hold seats, hold best, release or swap a seat),
//! outcomes, view and the seat map; the hold lifecycle (and the per-person
//! limit, counted per seat's holder) is [`crate::holds`]'s. Invariants,
//! checked by [`SeatBook::check_invariants`] and the property tests: each seat
//! belongs to at most one active hold or order (the `owner` vector is the only
//! place that says so, and every active hold's seats point back to it);
//! `free + held + sold == seats`, per section too; nobody's active seats (as
//! the seat's holder, whoever booked it) exceed the per-person limit.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Gate, Kind};
use crate::holds::{HoldId, HoldLedger, HoldStatus, Holding};
use crate::venue::{RowSpan, SeatId, SeatIndex, Venue};
use crate::{Event, HoldChange, HoldFact, Money, Outcome, Rejection, UserId};

/// Most seats named in one rejection (the rest are summarized by the count).
pub const TAKEN_LISTED_MAX: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatedConfig {
    pub venue: Venue,
    /// Most active seats one person may have (held or bought, by them or for them).
    pub per_person_limit: u32,
    /// Most seats in one hold.
    pub seats_per_hold_max: u32,
    pub hold_ttl_us: i64,
}

/// Where best-available looks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeatArea {
    Any,
    /// A section, by its position in the venue.
    Section(u16),
    /// Every section of a price tier.
    Tier(String),
}

/// One seat of a hold: who will sit there, at what price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldSeat {
    pub seat: SeatId,
    /// The person the seat is for: the booker or one of their friends.
    pub holder: UserId,
    /// In the currency's minor unit, fixed when the seat was taken.
    pub price: u64,
}

/// A hold of seats; confirmed, it is an order with the same id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatHold {
    pub id: HoldId,
    /// The booker: only they confirm, cancel or change it.
    pub by: UserId,
    /// The seats it holds now.
    pub seats: Vec<HeldSeat>,
    pub status: HoldStatus,
    pub created_at_us: i64,
    pub expires_at_us: i64,
    /// Seats given back one at a time (released, or swapped for another).
    pub released: Vec<HeldSeat>,
}

impl SeatHold {
    /// The seats' prices together; `None` if that does not fit (bounded
    /// prices over at most 100,000 seats always do).
    pub fn amount(&self) -> Option<Money> {
        Money::checked_sum(self.seats.iter().map(|s| Money::from_minor(s.price)))
    }
}

impl Holding for SeatHold {
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
        u32::try_from(self.seats.len()).unwrap_or(u32::MAX)
    }
    /// A seat counts against the person who will sit there.
    fn counted_against(&self) -> Vec<(UserId, u32)> {
        self.seats.iter().map(|s| (s.holder, 1)).collect()
    }
}

/// The terms of a seated sale an organizer may change before opening; the
/// venue is not among them: its seat map is published (and cached) as it was
/// created, and a different venue is a different sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatedTerms {
    pub per_person_limit: u32,
    pub seats_per_hold_max: u32,
    pub hold_ttl_us: i64,
}

/// What a person asks of a seated sale (besides the shared confirm, cancel, refund).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeatedAction {
    /// Hold these seats, all or none. `holders[i]` is who sits in `seats[i]`
    /// (the server checks they are the booker's friends); empty means the booker.
    HoldSeats { seats: Vec<SeatId>, holders: Vec<UserId> },
    /// Hold the best `count` adjacent seats in one row of `area`.
    HoldBest { area: SeatArea, count: u32, holders: Vec<UserId> },
    /// Give back one seat of a hold or order.
    ReleaseSeat { order: HoldId, seat: SeatId },
    /// Exchange one seat of a hold or order for a free one.
    SwapSeat { order: HoldId, from: SeatId, to: SeatId },
}

/// A seated sale's answers; each is the hold as it is after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeatedOutcome {
    Held(SeatHold),
    Confirmed(SeatHold),
    Cancelled(SeatHold),
    Refunded(SeatHold),
    SeatReleased(SeatHold),
    SeatSwapped(SeatHold),
}

impl SeatedOutcome {
    /// The hold, whatever happened to it.
    pub fn hold(&self) -> &SeatHold {
        match self {
            SeatedOutcome::Held(h)
            | SeatedOutcome::Confirmed(h)
            | SeatedOutcome::Cancelled(h)
            | SeatedOutcome::Refunded(h)
            | SeatedOutcome::SeatReleased(h)
            | SeatedOutcome::SeatSwapped(h) => h,
        }
    }

    pub fn into_hold(self) -> SeatHold {
        match self {
            SeatedOutcome::Held(h)
            | SeatedOutcome::Confirmed(h)
            | SeatedOutcome::Cancelled(h)
            | SeatedOutcome::Refunded(h)
            | SeatedOutcome::SeatReleased(h)
            | SeatedOutcome::SeatSwapped(h) => h,
        }
    }

    pub fn change(&self) -> HoldChange {
        match self {
            SeatedOutcome::Held(_) => HoldChange::Held,
            SeatedOutcome::Confirmed(_) => HoldChange::Confirmed,
            SeatedOutcome::Cancelled(_) => HoldChange::Cancelled,
            SeatedOutcome::Refunded(_) => HoldChange::Refunded,
            SeatedOutcome::SeatReleased(_) => HoldChange::SeatReleased,
            SeatedOutcome::SeatSwapped(_) => HoldChange::SeatSwapped,
        }
    }

    pub(crate) fn event(&self) -> Event {
        Event::Hold { change: self.change(), hold: HoldFact::Seats(self.hold().clone()) }
    }
}

/// The numbers anyone may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatedView {
    pub total: u32,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
    /// Free seats per section, in venue order (the map colours sections by it).
    pub section_available: Vec<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatBook {
    pub config: SeatedConfig,
    index: SeatIndex,
    /// The active hold or order of each seat; 0 when free.
    owner: Vec<u64>,
    /// Bit `i` set when seat `i` is held or sold: the live map's snapshot.
    taken: Vec<u64>,
    section_free: Vec<u32>,
    /// Free seats per venue-order row, so best-available skips full rows.
    row_free: Vec<u32>,
    holds: HoldLedger<SeatHold>,
}

impl SeatBook {
    pub fn index(&self) -> &SeatIndex {
        &self.index
    }

    fn held(&self) -> u32 {
        u32::try_from(self.holds.held()).unwrap_or(u32::MAX)
    }

    fn sold(&self) -> u32 {
        u32::try_from(self.holds.sold()).unwrap_or(u32::MAX)
    }

    pub fn view(&self) -> SeatedView {
        SeatedView {
            total: self.index.seat_count(),
            available: self.index.seat_count() - self.held() - self.sold(),
            held: self.held(),
            sold: self.sold(),
            section_available: self.section_free.clone(),
        }
    }

    /// Held-or-sold bits, one per seat in seat order, 64 to a word.
    pub fn taken_bits(&self) -> &[u64] {
        &self.taken
    }

    pub fn is_free(&self, seat: SeatId) -> bool {
        self.owner.get(seat.0 as usize) == Some(&0)
    }

    /// The active hold or order a seat belongs to.
    pub fn owner_of(&self, seat: SeatId) -> Option<HoldId> {
        self.owner.get(seat.0 as usize).filter(|h| **h != 0).map(|h| HoldId(*h))
    }

    pub fn hold(&self, id: HoldId) -> Option<&SeatHold> {
        self.holds.get(id)
    }

    /// Holds in id order starting after `after`, at most `limit`.
    pub fn holds_after(&self, after: HoldId, limit: usize) -> impl Iterator<Item = &SeatHold> {
        self.holds.after(after, limit)
    }

    /// Holds someone booked or holds a seat in (a friend sees the seat booked for them).
    pub fn holds_of(&self, who: UserId) -> impl Iterator<Item = &SeatHold> {
        self.holds.iter().filter(move |h| h.by == who || h.seats.iter().any(|s| s.holder == who))
    }

    /// Active seats of one person, as holder.
    pub fn seats_of(&self, who: UserId) -> u32 {
        self.holds.count_of(who)
    }

    fn price_of(&self, seat: SeatId) -> u64 {
        self.index.section_of(seat).and_then(|s| self.config.venue.sections.get(s)).map_or(0, |s| s.price)
    }

    fn take(&mut self, seat: SeatId, hold: HoldId) {
        let i = seat.0 as usize;
        self.owner[i] = hold.0;
        self.taken[i / 64] |= 1 << (i % 64);
        if let Some(r) = self.index.row_number(seat) {
            self.row_free[r] -= 1;
        }
        if let Some(s) = self.index.section_of(seat) {
            self.section_free[s] -= 1;
        }
    }

    fn free(&mut self, seat: SeatId) {
        let i = seat.0 as usize;
        self.owner[i] = 0;
        self.taken[i / 64] &= !(1 << (i % 64));
        if let Some(r) = self.index.row_number(seat) {
            self.row_free[r] += 1;
        }
        if let Some(s) = self.index.section_of(seat) {
            self.section_free[s] += 1;
        }
    }

    /// The accounting identity, asserted on every change in debug builds
    /// (`check_invariants` recounts it seat by seat).
    fn debug_assert_balanced(&self) {
        debug_assert_eq!(
            self.section_free.iter().map(|n| u64::from(*n)).sum::<u64>() + self.holds.held() + self.holds.sold(),
            u64::from(self.index.seat_count()),
            "free + held + sold != seats"
        );
    }

    /// Frees every seat of a hold the lifecycle just ended (expiry, cancel, refund).
    fn free_all(&mut self, hold: &SeatHold, events: &mut Vec<Event>) {
        for s in &hold.seats {
            self.free(s.seat);
        }
        self.debug_assert_balanced();
        events.push(Event::SeatsFreed { seats: hold.seats.iter().map(|s| s.seat).collect() });
    }

    /// Holds exactly these seats, for these holders (empty: all for `by`), or nothing.
    fn hold_seats(
        &mut self,
        by: UserId,
        seats: &[SeatId],
        holders: &[UserId],
        now_us: i64,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let max = self.config.seats_per_hold_max;
        if seats.is_empty() || seats.len() > max as usize {
            return Outcome::Rejected(Rejection::TooManySeats { max });
        }
        if !holders.is_empty() && holders.len() != seats.len() {
            return Outcome::Rejected(Rejection::BadHolders);
        }
        let count = self.index.seat_count();
        if let Some(s) = seats.iter().find(|s| s.0 >= count) {
            return Outcome::Rejected(Rejection::UnknownSeat { seat: *s });
        }
        let unique: BTreeSet<SeatId> = seats.iter().copied().collect();
        if unique.len() != seats.len() {
            return Outcome::Rejected(Rejection::DuplicateSeat);
        }
        let taken: Vec<SeatId> = seats.iter().copied().filter(|s| !self.is_free(*s)).collect();
        if !taken.is_empty() {
            let count = taken.len() as u32;
            return Outcome::Rejected(Rejection::SeatsTaken {
                count,
                seats: taken.into_iter().take(TAKEN_LISTED_MAX).collect(),
            });
        }
        let holder_of = |i: usize| holders.get(i).copied().unwrap_or(by);
        let mut wanted: BTreeMap<UserId, u32> = BTreeMap::new();
        for i in 0..seats.len() {
            *wanted.entry(holder_of(i)).or_insert(0) += 1;
        }
        for (&who, &n) in &wanted {
            let remaining = self.holds.remaining(who, self.config.per_person_limit);
            if n > remaining {
                return Outcome::Rejected(if who == by {
                    Rejection::LimitReached { remaining }
                } else {
                    Rejection::FriendLimitReached { friend: who, remaining }
                });
            }
        }
        let id = self.holds.next_id();
        let held: Vec<HeldSeat> = seats
            .iter()
            .enumerate()
            .map(|(i, &seat)| HeldSeat { seat, holder: holder_of(i), price: self.price_of(seat) })
            .collect();
        for s in &held {
            self.take(s.seat, id);
        }
        let hold = SeatHold {
            id,
            by,
            seats: held,
            status: HoldStatus::Held,
            created_at_us: now_us,
            expires_at_us: now_us.saturating_add(self.config.hold_ttl_us),
            released: Vec::new(),
        };
        events.push(Event::SeatsTaken { seats: seats.to_vec() });
        self.holds.open(hold.clone());
        self.debug_assert_balanced();
        Outcome::Seated(SeatedOutcome::Held(hold))
    }

    /// Best available: `count` adjacent seats in one row of `area`.
    fn hold_best(
        &mut self,
        by: UserId,
        area: &SeatArea,
        count: u32,
        holders: &[UserId],
        now_us: i64,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let max = self.config.seats_per_hold_max;
        if count == 0 || count > max {
            return Outcome::Rejected(Rejection::TooManySeats { max });
        }
        let sections = match self.sections_in(area) {
            Ok(s) => s,
            Err(r) => return Outcome::Rejected(r),
        };
        match self.best_available(&sections, count) {
            Some(seats) => self.hold_seats(by, &seats, holders, now_us, events),
            None => Outcome::Rejected(Rejection::NoAdjacentSeats),
        }
    }

    fn sections_in(&self, area: &SeatArea) -> Result<Vec<usize>, Rejection> {
        let all = 0..self.index.section_count();
        let found: Vec<usize> = match area {
            SeatArea::Any => all.collect(),
            SeatArea::Section(s) => all.filter(|i| *i == usize::from(*s)).collect(),
            SeatArea::Tier(t) => {
                all.filter(|i| self.config.venue.sections.get(*i).is_some_and(|s| &s.tier == t)).collect()
            }
        };
        if found.is_empty() { Err(Rejection::UnknownSection) } else { Ok(found) }
    }

    /// The best `count` adjacent free seats in one row of `sections`, or none.
    ///
    /// Preference, in order: not leaving a single free seat stranded beside
    /// the group (nobody buys it), a row nearer the front, the group's middle
    /// nearer the row's middle, the earlier section. Rows without `count`
    /// free seats are skipped by their counter, so a nearly full stadium
    /// costs little to search.
    pub fn best_available(&self, sections: &[usize], count: u32) -> Option<Vec<SeatId>> {
        // (orphan, row depth, distance from the middle ×2, section, first seat)
        let mut best: Option<(bool, u16, u32, usize, u32)> = None;
        let depth = sections.iter().map(|&s| self.index.section_rows(s).len()).max().unwrap_or(0);
        for d in 0..depth {
            for &s in sections {
                let Some(row) = self.index.section_rows(s).get(d) else { continue };
                if self.row_free.get(self.index.first_row_number(s) + d).copied().unwrap_or(0) < count {
                    continue;
                }
                if let Some((orphan, dist, start)) = self.best_in_row(row, count) {
                    let key = (orphan, row.row, dist, s, start);
                    if best.is_none_or(|b| key < b) {
                        best = Some(key);
                    }
                }
            }
            // A group without an orphan in this row beats anything further back.
            if best.is_some_and(|b| !b.0) {
                break;
            }
        }
        best.map(|(_, _, _, _, start)| (start..start + count).map(SeatId).collect())
    }

    /// The best placement of `count` seats among the free runs of one row:
    /// (leaves an orphan, twice the distance of the group's middle from the row's, first seat).
    fn best_in_row(&self, row: &RowSpan, count: u32) -> Option<(bool, u32, u32)> {
        let mut best: Option<(bool, u32, u32)> = None;
        let mid2 = 2 * row.start + row.len - 1;
        let mut i = row.start;
        let end = row.start + row.len;
        while i < end {
            if !self.is_free(SeatId(i)) {
                i += 1;
                continue;
            }
            let run_start = i;
            while i < end && self.is_free(SeatId(i)) {
                i += 1;
            }
            let len = i - run_start;
            if len < count {
                continue;
            }
            let spare = len - count;
            for left in 0..=spare {
                let right = spare - left;
                let orphan = left == 1 || right == 1;
                let first = run_start + left;
                let group_mid2 = 2 * first + count - 1;
                let dist = group_mid2.abs_diff(mid2);
                let key = (orphan, dist, first);
                if best.is_none_or(|b| key < b) {
                    best = Some(key);
                }
            }
        }
        best
    }

    /// An active hold or order of `by` that has `seat`: the seat's position in it.
    fn changeable(&self, by: UserId, id: HoldId, seat: SeatId) -> Result<usize, Rejection> {
        let hold = self.holds.active_by(by, id)?;
        hold.seats.iter().position(|s| s.seat == seat).ok_or(Rejection::SeatNotInOrder)
    }

    /// Gives back one seat of a hold or order; the rest stay. Giving back the
    /// last seat ends it (cancelled or refunded).
    fn release_seat(&mut self, by: UserId, id: HoldId, seat: SeatId, events: &mut Vec<Event>) -> Outcome {
        let at = match self.changeable(by, id, seat) {
            Ok(at) => at,
            Err(r) => return Outcome::Rejected(r),
        };
        let changed = self.holds.change(id, |hold| {
            let gone = hold.seats.remove(at);
            hold.released.push(gone);
            vec![(gone.holder, 1)]
        });
        let Some(hold) = changed else { return Outcome::Rejected(Rejection::UnknownHold) };
        self.free(seat);
        self.debug_assert_balanced();
        events.push(Event::SeatsFreed { seats: vec![seat] });
        Outcome::Seated(SeatedOutcome::SeatReleased(hold))
    }

    /// Exchanges one seat of a hold or order for a free one, in one step: the
    /// person never ends up with neither. The new seat keeps the old one's
    /// holder and takes its own section's price.
    fn swap_seat(&mut self, by: UserId, id: HoldId, from: SeatId, to: SeatId, events: &mut Vec<Event>) -> Outcome {
        let at = match self.changeable(by, id, from) {
            Ok(at) => at,
            Err(r) => return Outcome::Rejected(r),
        };
        if to.0 >= self.index.seat_count() {
            return Outcome::Rejected(Rejection::UnknownSeat { seat: to });
        }
        if !self.is_free(to) {
            return Outcome::Rejected(Rejection::SeatsTaken { count: 1, seats: vec![to] });
        }
        let price = self.price_of(to);
        let changed = self.holds.change(id, |hold| {
            let old = hold.seats[at];
            hold.seats[at] = HeldSeat { seat: to, holder: old.holder, price };
            hold.released.push(old);
            Vec::new()
        });
        let Some(hold) = changed else { return Outcome::Rejected(Rejection::UnknownHold) };
        self.free(from);
        self.take(to, id);
        self.debug_assert_balanced();
        events.push(Event::SeatsFreed { seats: vec![from] });
        events.push(Event::SeatsTaken { seats: vec![to] });
        Outcome::Seated(SeatedOutcome::SeatSwapped(hold))
    }

    /// Recounts everything from the holds and compares with the running state.
    /// Used by tests and by `stampede verify`; O(seats + holds).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.holds.check_invariants(self.config.per_person_limit)?;
        let seats = self.index.seat_count() as usize;
        let mut owner = vec![0u64; seats];
        for h in self.holds.iter().filter(|h| h.status.is_active()) {
            if h.seats.is_empty() {
                return Err(format!("active hold {:?} has no seats", h.id));
            }
            for s in &h.seats {
                let slot = owner.get_mut(s.seat.0 as usize).ok_or_else(|| format!("seat {:?} out of range", s.seat))?;
                if *slot != 0 {
                    return Err(format!("seat {:?} in holds {} and {}", s.seat, slot, h.id.0));
                }
                *slot = h.id.0;
            }
        }
        if owner != self.owner {
            return Err("seat owners drifted from the holds".into());
        }
        for (i, o) in owner.iter().enumerate() {
            let bit = self.taken.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0);
            if bit != (*o != 0) {
                return Err(format!("taken bit of seat {i} is wrong"));
            }
        }
        for s in 0..self.index.section_count() {
            let free = self.index.section_seats(s).filter(|i| owner[*i as usize] == 0).count() as u32;
            if self.section_free.get(s) != Some(&free) {
                return Err(format!("free count of section {s} drifted"));
            }
        }
        let mut r = 0usize;
        for s in 0..self.index.section_count() {
            for row in self.index.section_rows(s) {
                let free = (row.start..row.start + row.len).filter(|i| owner[*i as usize] == 0).count() as u32;
                if self.row_free.get(r) != Some(&free) {
                    return Err(format!("free count of row {r} drifted"));
                }
                r += 1;
            }
        }
        Ok(())
    }
}

impl Kind for SeatBook {
    const NAME: &'static str = "seated";
    type Config = SeatedConfig;
    type Terms = SeatedTerms;
    type Action = SeatedAction;

    fn new(config: SeatedConfig) -> Self {
        let index = SeatIndex::new(&config.venue);
        let seats = index.seat_count() as usize;
        let section_free = (0..index.section_count()).map(|s| index.section_seats(s).len() as u32).collect();
        let row_free = (0..index.section_count()).flat_map(|s| index.section_rows(s)).map(|r| r.len).collect();
        SeatBook {
            config,
            owner: vec![0; seats],
            taken: vec![0; seats.div_ceil(64)],
            section_free,
            row_free,
            index,
            holds: HoldLedger::default(),
        }
    }

    fn act(&mut self, by: UserId, action: &SeatedAction, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome {
        let now = gate.now;
        match action {
            SeatedAction::HoldSeats { seats, holders } => match gate.may_take(by) {
                Ok(()) => self.hold_seats(by, seats, holders, now, events),
                Err(r) => Outcome::Rejected(r),
            },
            SeatedAction::HoldBest { area, count, holders } => match gate.may_take(by) {
                Ok(()) => self.hold_best(by, area, *count, holders, now, events),
                Err(r) => Outcome::Rejected(r),
            },
            SeatedAction::ReleaseSeat { order, seat } => self.release_seat(by, *order, *seat, events),
            // Taking a new seat needs the sale open, but not a pass: the
            // person already went through the waiting room for this order.
            SeatedAction::SwapSeat { order, from, to } => match gate.is_open() {
                Ok(()) => self.swap_seat(by, *order, *from, *to, events),
                Err(r) => Outcome::Rejected(r),
            },
        }
    }

    fn confirm(&mut self, by: UserId, id: HoldId, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome {
        match self.holds.confirm(by, id) {
            Ok(hold) => {
                gate.record_purchase(by, hold.units(), events);
                Outcome::Seated(SeatedOutcome::Confirmed(hold))
            }
            Err(r) => Outcome::Rejected(r),
        }
    }

    fn cancel(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        match self.holds.cancel(by, id) {
            Ok(hold) => {
                self.free_all(&hold, events);
                Outcome::Seated(SeatedOutcome::Cancelled(hold))
            }
            Err(r) => Outcome::Rejected(r),
        }
    }

    fn refund(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        match self.holds.refund(by, id) {
            Ok(hold) => {
                self.free_all(&hold, events);
                Outcome::Seated(SeatedOutcome::Refunded(hold))
            }
            Err(r) => Outcome::Rejected(r),
        }
    }

    fn expire(&mut self, now_us: i64, events: &mut Vec<Event>) {
        while let Some(hold) = self.holds.expire_next(now_us) {
            self.free_all(&hold, events);
            events.push(Event::Hold { change: HoldChange::Expired, hold: HoldFact::Seats(hold) });
        }
    }

    fn next_deadline_us(&self) -> Option<i64> {
        self.holds.next_deadline_us()
    }

    fn per_person_limit(&self) -> u32 {
        self.config.per_person_limit
    }

    fn available(&self) -> u64 {
        u64::from(self.view().available)
    }

    fn has_orders(&self) -> bool {
        self.holds.has_orders()
    }

    fn same_terms(&self, t: &SeatedTerms) -> bool {
        t.per_person_limit == self.config.per_person_limit
            && t.seats_per_hold_max == self.config.seats_per_hold_max
            && t.hold_ttl_us == self.config.hold_ttl_us
    }

    fn config_with(&self, t: &SeatedTerms) -> SeatedConfig {
        SeatedConfig {
            venue: self.config.venue.clone(),
            per_person_limit: t.per_person_limit,
            seats_per_hold_max: t.seats_per_hold_max,
            hold_ttl_us: t.hold_ttl_us,
        }
    }

    fn check_invariants(&self) -> Result<(), String> {
        SeatBook::check_invariants(self)
    }
}
