//! Model-based tests of the seated sale.
//!
//! `Sale::apply` is driven with random seat holds (named seats, including
//! duplicates and seats that do not exist, and best-available in any area),
//! confirms, cancels, refunds, single-seat releases and swaps, opens, closes
//! and ticks past hold lifetimes, on small hand-built venues, and compared
//! after every input with [`Model`]: a plain list of holds with their seats,
//! searched by loops, with best-available restated as a brute-force minimum
//! over every placement. The model shares only data types with the core,
//! never its logic.
//!
//! On top of the comparison, the acceptance properties are stated on the
//! core's own answers: a seat is never held or sold twice; a hold is all or
//! nothing (a refused command changes no seat); expiry frees exactly the
//! seats of the expired hold, once, and a later confirm says it expired;
//! best-available gives adjacent free seats of one row of the area, or says
//! none only when no row of the area has that many free seats side by side;
//! nobody's active seats exceed the per-person limit, and the limit refuses
//! exactly when it would be exceeded; and the same inputs give the same sale.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kit;

use stampede_core::{DropAction, SeatedAction, SeatedOutcome, StockAction};
use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    Action, Applied, Command, Event, HeldSeat, HoldChange, HoldFact, HoldId, HoldStatus, IdempotencyKey, Input,
    KindConfig, Outcome, Rejection, Row, Sale, SaleConfig, SaleStatus, Seat, SeatArea, SeatBook, SeatHold, SeatId,
    SeatedConfig, Section, SectionSpec, TAKEN_LISTED_MAX, UserId, Venue, generate, row_label,
};

/// Roughly where every generated run starts, in microseconds.
const T0: i64 = 1_000;
const USERS: u64 = 5;
const SEATS_PER_HOLD_MAX: u32 = 4;
/// Tier names of the generated sections; "C" is never used, so asking for it finds no section.
const TIERS: [&str; 2] = ["A", "B"];

// ---------------------------------------------------------------------------
// Helpers shared by the properties and the examples
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct SectionSetup {
    tier: usize,
    price: u64,
    /// Seats per row, front row first.
    rows: Vec<u32>,
}

#[derive(Clone, Debug)]
struct Setup {
    sections: Vec<SectionSetup>,
    per_person_limit: u32,
    hold_ttl_us: i64,
    opens_at_us: Option<i64>,
    closes_at_us: Option<i64>,
}

fn venue(s: &Setup) -> Venue {
    let sections = s
        .sections
        .iter()
        .enumerate()
        .map(|(i, sec)| Section {
            name: format!("S{i}"),
            tier: TIERS[sec.tier].into(),
            price: sec.price,
            colour: "#aa0000".into(),
            rows: sec
                .rows
                .iter()
                .enumerate()
                .map(|(r, len)| Row {
                    label: row_label(r as u32),
                    seats: (0..*len).map(|k| Seat { label: (k + 1).to_string(), x: k as i32, y: r as i32 }).collect(),
                })
                .collect(),
        })
        .collect();
    let v = Venue { name: "Hall".into(), sections };
    v.validate().expect("generated venues are valid");
    v
}

fn seated_config(venue: Venue, per_person_limit: u32, hold_ttl_us: i64) -> SeatedConfig {
    SeatedConfig { venue, per_person_limit, seats_per_hold_max: SEATS_PER_HOLD_MAX, hold_ttl_us }
}

fn sale_config(s: &Setup) -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "Stampede test".into(),
        description: String::new(),
        owner: UserId(99),
        currency: "KRW".into(),
        opens_at_us: s.opens_at_us,
        closes_at_us: s.closes_at_us,
        kind: KindConfig::Seated(seated_config(venue(s), s.per_person_limit, s.hold_ttl_us)),
        queue: None,
    }
}

fn key(name: &str) -> IdempotencyKey {
    match IdempotencyKey::parse(name) {
        Ok(k) => k,
        Err(e) => panic!("{name:?} is a valid key: {e:?}"),
    }
}

fn book(sale: &Sale) -> &SeatBook {
    match sale.seats() {
        Some(b) => b,
        None => panic!("a seated sale has a seat book"),
    }
}

fn cmd(at_us: i64, by: u64, key_name: &str, action: Action) -> Input {
    Input::Command(Command { at_us, by: UserId(by), key: key(key_name), action })
}

fn all_holds(b: &SeatBook) -> Vec<SeatHold> {
    b.holds_after(HoldId(0), usize::MAX).cloned().collect()
}

fn bit(bits: &[u64], seat: u32) -> bool {
    bits.get(seat as usize / 64).is_some_and(|w| w & (1 << (seat % 64)) != 0)
}

/// Every seat an event says was freed / taken, sorted.
fn event_seats(events: &[Event]) -> (Vec<SeatId>, Vec<SeatId>) {
    let (mut freed, mut taken) = (Vec::new(), Vec::new());
    for e in events {
        match e {
            Event::SeatsFreed { seats } => freed.extend(seats.iter().copied()),
            Event::SeatsTaken { seats } => taken.extend(seats.iter().copied()),
            _ => {}
        }
    }
    freed.sort_unstable();
    taken.sort_unstable();
    (freed, taken)
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct MRow {
    section: usize,
    /// Row within its section, 0 at the front.
    row: u16,
    start: u32,
    len: u32,
}

#[derive(Clone, Debug)]
struct MHold {
    id: u64,
    by: u64,
    seats: Vec<HeldSeat>,
    status: HoldStatus,
    created_at_us: i64,
    expires_at_us: i64,
    released: Vec<HeldSeat>,
}

impl MHold {
    fn active(&self) -> bool {
        self.status == HoldStatus::Held || self.status == HoldStatus::Confirmed
    }
}

/// What the model says one input does.
#[derive(Debug)]
struct MStep {
    outcome: Outcome,
    /// (hold, its seats) of every hold that expired during this input.
    expired: Vec<(u64, Vec<SeatId>)>,
    /// Seats the command itself freed / took (expiry not included), sorted.
    freed: Vec<SeatId>,
    taken: Vec<SeatId>,
    status_before: SaleStatus,
    status_after: SaleStatus,
    /// A command that was carried out (not a tick, not a remembered key).
    acted: bool,
    /// For a hold command that got past every check before the limit: whether
    /// some holder would have gone over it.
    over_limit: Option<bool>,
    /// For a best-available command that got past its own checks: whether
    /// some row of the area had `count` adjacent free seats (by brute force).
    any_run: Option<bool>,
}

struct Model {
    setup: Setup,
    rows: Vec<MRow>,
    seat_count: u32,
    status: SaleStatus,
    now: i64,
    /// Hold `i + 1` is `holds[i]`.
    holds: Vec<MHold>,
    /// (person, key, action, first outcome), in arrival order.
    remembered: Vec<(u64, String, Action, Outcome)>,
}

impl Model {
    fn new(setup: Setup) -> Self {
        let mut rows = Vec::new();
        let mut next = 0u32;
        for (s, sec) in setup.sections.iter().enumerate() {
            for (r, len) in sec.rows.iter().enumerate() {
                rows.push(MRow { section: s, row: r as u16, start: next, len: *len });
                next += len;
            }
        }
        Model {
            setup,
            rows,
            seat_count: next,
            status: SaleStatus::Scheduled,
            now: i64::MIN,
            holds: Vec::new(),
            remembered: Vec::new(),
        }
    }

    fn row_of(&self, seat: u32) -> Option<&MRow> {
        self.rows.iter().find(|r| r.start <= seat && seat < r.start + r.len)
    }

    fn price(&self, seat: u32) -> u64 {
        match self.row_of(seat) {
            Some(r) => self.setup.sections[r.section].price,
            None => 0,
        }
    }

    /// The active hold of every seat, and whether it is sold; Err if a seat
    /// is in two active holds (the model itself would then be wrong).
    fn owners(&self) -> Result<Vec<Option<(u64, bool)>>, String> {
        let mut owners = vec![None; self.seat_count as usize];
        for h in &self.holds {
            if !h.active() {
                continue;
            }
            for s in &h.seats {
                let slot = &mut owners[s.seat.0 as usize];
                if let Some((other, _)) = slot {
                    return Err(format!("model: seat {} in holds {other} and {}", s.seat.0, h.id));
                }
                *slot = Some((h.id, h.status == HoldStatus::Confirmed));
            }
        }
        Ok(owners)
    }

    fn is_free(&self, seat: u32) -> bool {
        !self.holds.iter().any(|h| h.active() && h.seats.iter().any(|s| s.seat.0 == seat))
    }

    fn active_of(&self, who: u64) -> u32 {
        let mut n = 0;
        for h in &self.holds {
            if h.active() {
                for s in &h.seats {
                    if s.holder.0 == who {
                        n += 1;
                    }
                }
            }
        }
        n
    }

    fn earliest_expiry(&self) -> Option<i64> {
        self.holds.iter().filter(|h| h.status == HoldStatus::Held).map(|h| h.expires_at_us).min()
    }

    fn deadline(&self) -> Option<i64> {
        let mut candidates = Vec::new();
        if self.status == SaleStatus::Scheduled {
            candidates.extend(self.setup.opens_at_us);
        }
        if self.status != SaleStatus::Closed {
            candidates.extend(self.setup.closes_at_us);
        }
        candidates.extend(self.earliest_expiry());
        candidates.into_iter().min()
    }

    fn as_hold(h: &MHold) -> SeatHold {
        SeatHold {
            id: HoldId(h.id),
            by: UserId(h.by),
            seats: h.seats.clone(),
            status: h.status,
            created_at_us: h.created_at_us,
            expires_at_us: h.expires_at_us,
            released: h.released.clone(),
        }
    }

    /// The sections an area names, in venue order.
    fn area_sections(&self, area: &SeatArea) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, sec) in self.setup.sections.iter().enumerate() {
            let inside = match area {
                SeatArea::Any => true,
                SeatArea::Section(s) => usize::from(*s) == i,
                SeatArea::Tier(t) => TIERS[sec.tier] == t.as_str(),
            };
            if inside {
                out.push(i);
            }
        }
        out
    }

    /// Whether any row of `sections` has `count` adjacent free seats.
    fn any_run(&self, sections: &[usize], count: u32) -> bool {
        for r in &self.rows {
            if !sections.contains(&r.section) {
                continue;
            }
            let mut run = 0;
            for seat in r.start..r.start + r.len {
                run = if self.is_free(seat) { run + 1 } else { 0 };
                if run >= count {
                    return true;
                }
            }
        }
        false
    }

    /// Best available by brute force: of every placement of `count` adjacent
    /// free seats in a row of `sections`, the least by (leaves a single free
    /// seat stranded beside the group, row from the front, twice the distance
    /// of the group's middle from the row's middle, section, first seat).
    fn best(&self, sections: &[usize], count: u32) -> Option<Vec<SeatId>> {
        let free = |seat: i64, r: &MRow| -> bool {
            seat >= i64::from(r.start) && seat < i64::from(r.start + r.len) && self.is_free(seat as u32)
        };
        let mut best: Option<(bool, u16, u32, usize, u32)> = None;
        for r in &self.rows {
            if !sections.contains(&r.section) || r.len < count {
                continue;
            }
            for first in r.start..=r.start + r.len - count {
                if !(first..first + count).all(|s| self.is_free(s)) {
                    continue;
                }
                let (lo, hi) = (i64::from(first), i64::from(first + count));
                // A stranded seat: free, with a taken seat or the row's end right behind it.
                let left = free(lo - 1, r) && !free(lo - 2, r);
                let right = free(hi, r) && !free(hi + 1, r);
                let mid2 = 2 * r.start + r.len - 1;
                let dist = (2 * first + count - 1).abs_diff(mid2);
                let candidate = (left || right, r.row, dist, r.section, first);
                if best.is_none_or(|b| candidate < b) {
                    best = Some(candidate);
                }
            }
        }
        best.map(|(_, _, _, _, first)| (first..first + count).map(SeatId).collect())
    }

    fn apply(&mut self, input: &Input) -> MStep {
        let status_before = self.status;
        let at = input.at_us();
        if at > self.now {
            self.now = at;
        }
        let now = self.now;

        // Time passes: the schedule, then hold lifetimes.
        if self.status == SaleStatus::Scheduled && self.setup.opens_at_us.is_some_and(|o| o <= now) {
            self.status = SaleStatus::Open;
        }
        if self.status != SaleStatus::Closed && self.setup.closes_at_us.is_some_and(|c| c <= now) {
            self.status = SaleStatus::Closed;
        }
        let mut expired = Vec::new();
        for h in &mut self.holds {
            if h.status == HoldStatus::Held && h.expires_at_us <= now {
                h.status = HoldStatus::Expired;
                expired.push((h.id, h.seats.iter().map(|s| s.seat).collect()));
            }
        }

        let owners_before = self.owners().unwrap_or_default();
        let mut step = MStep {
            outcome: Outcome::Ticked,
            expired,
            freed: Vec::new(),
            taken: Vec::new(),
            status_before,
            status_after: status_before,
            acted: false,
            over_limit: None,
            any_run: None,
        };
        if let Input::Command(c) = input {
            let by = c.by.0;
            let k = c.key.as_str().to_owned();
            let mut recalled = None;
            for (who, kk, action, outcome) in &self.remembered {
                if *who == by && *kk == k {
                    recalled = Some(if *action == c.action {
                        outcome.clone()
                    } else {
                        Outcome::Rejected(Rejection::IdempotencyKeyReused)
                    });
                }
            }
            match recalled {
                Some(o) => step.outcome = o,
                None => {
                    step.outcome = self.act(by, &c.action, &mut step);
                    step.acted = true;
                    self.remembered.push((by, k, c.action.clone(), step.outcome.clone()));
                }
            }
        }
        let owners_after = self.owners().unwrap_or_default();
        for (i, (b, a)) in owners_before.iter().zip(&owners_after).enumerate() {
            match (b, a) {
                (Some(_), None) => step.freed.push(SeatId(i as u32)),
                (None, Some(_)) => step.taken.push(SeatId(i as u32)),
                _ => {}
            }
        }
        step.status_after = self.status;
        step
    }

    fn open_for_taking(&self) -> Result<(), Rejection> {
        match self.status {
            SaleStatus::Scheduled => Err(Rejection::NotOpenYet),
            SaleStatus::Closed => Err(Rejection::Closed),
            SaleStatus::Open => Ok(()),
        }
    }

    /// The checks every hold goes through, in the core's order (size, holders,
    /// unknown seat, duplicate, taken, then the limit per holder from the
    /// lowest id; the booker's own is `LimitReached`), then the hold.
    fn hold(&mut self, by: u64, seats: &[SeatId], holders: &[UserId], step: &mut MStep) -> Outcome {
        let reject = Outcome::Rejected;
        let max = SEATS_PER_HOLD_MAX;
        if seats.is_empty() || seats.len() > max as usize {
            return reject(Rejection::TooManySeats { max });
        }
        if !holders.is_empty() && holders.len() != seats.len() {
            return reject(Rejection::BadHolders);
        }
        for s in seats {
            if s.0 >= self.seat_count {
                return reject(Rejection::UnknownSeat { seat: *s });
            }
        }
        for (i, s) in seats.iter().enumerate() {
            if seats[..i].contains(s) {
                return reject(Rejection::DuplicateSeat);
            }
        }
        let taken: Vec<SeatId> = seats.iter().copied().filter(|s| !self.is_free(s.0)).collect();
        if !taken.is_empty() {
            return reject(Rejection::SeatsTaken {
                count: taken.len() as u32,
                seats: taken[..taken.len().min(TAKEN_LISTED_MAX)].to_vec(),
            });
        }
        let holder = |i: usize| if holders.is_empty() { by } else { holders[i].0 };
        let people: BTreeSet<u64> = (0..seats.len()).map(holder).collect();
        let limit = self.setup.per_person_limit;
        let mut refusal = None;
        for who in people {
            let wanted = (0..seats.len()).filter(|i| holder(*i) == who).count() as u32;
            let remaining = limit.saturating_sub(self.active_of(who));
            if wanted > remaining && refusal.is_none() {
                refusal = Some(if who == by {
                    Rejection::LimitReached { remaining }
                } else {
                    Rejection::FriendLimitReached { friend: UserId(who), remaining }
                });
            }
        }
        step.over_limit = Some(refusal.is_some());
        if let Some(r) = refusal {
            return reject(r);
        }
        let h = MHold {
            id: self.holds.len() as u64 + 1,
            by,
            seats: seats
                .iter()
                .enumerate()
                .map(|(i, s)| HeldSeat { seat: *s, holder: UserId(holder(i)), price: self.price(s.0) })
                .collect(),
            status: HoldStatus::Held,
            created_at_us: self.now,
            expires_at_us: self.now + self.setup.hold_ttl_us,
            released: Vec::new(),
        };
        let out = Outcome::Seated(SeatedOutcome::Held(Self::as_hold(&h)));
        self.holds.push(h);
        out
    }

    /// Index of a hold of `by`, or the rejection for someone else's or an unknown one.
    fn own(&self, by: u64, id: HoldId) -> Result<usize, Rejection> {
        let i = self.holds.iter().position(|h| h.id == id.0).ok_or(Rejection::UnknownHold)?;
        if self.holds[i].by != by {
            return Err(Rejection::NotYourHold);
        }
        Ok(i)
    }

    /// Index of an active hold or order of `by` and the position of `seat` in it.
    fn changeable(&self, by: u64, id: HoldId, seat: SeatId) -> Result<(usize, usize), Rejection> {
        let i = self.own(by, id)?;
        match self.holds[i].status {
            HoldStatus::Held | HoldStatus::Confirmed => {}
            HoldStatus::Expired => return Err(Rejection::HoldExpired),
            _ => return Err(Rejection::HoldNotActive),
        }
        let at = self.holds[i].seats.iter().position(|s| s.seat == seat).ok_or(Rejection::SeatNotInOrder)?;
        Ok((i, at))
    }

    fn act(&mut self, by: u64, action: &Action, step: &mut MStep) -> Outcome {
        let reject = Outcome::Rejected;
        match action {
            Action::Open => match self.status {
                SaleStatus::Scheduled => {
                    self.status = SaleStatus::Open;
                    Outcome::Opened
                }
                SaleStatus::Open => reject(Rejection::AlreadyOpen),
                SaleStatus::Closed => reject(Rejection::AlreadyClosed),
            },
            Action::Close => {
                if self.status == SaleStatus::Closed {
                    reject(Rejection::AlreadyClosed)
                } else {
                    self.status = SaleStatus::Closed;
                    Outcome::Closed
                }
            }
            Action::Stock(StockAction::Reserve { .. }) | Action::Drop(DropAction::Click) => {
                reject(Rejection::WrongSaleKind)
            }
            Action::Join { .. } | Action::SetPowBits { .. } => reject(Rejection::NoWaitingRoom),
            // Editing and archiving have their own model (edit_model.rs); these runs never send them.
            Action::Edit(_) | Action::Archive | Action::Ticket(_) => {
                panic!("model: the seated runs do not edit, archive or scan")
            }
            Action::Seated(SeatedAction::HoldSeats { seats, holders }) => {
                if let Err(r) = self.open_for_taking() {
                    return reject(r);
                }
                self.hold(by, seats, holders, step)
            }
            Action::Seated(SeatedAction::HoldBest { area, count, holders }) => {
                if let Err(r) = self.open_for_taking() {
                    return reject(r);
                }
                let max = SEATS_PER_HOLD_MAX;
                if *count == 0 || *count > max {
                    return reject(Rejection::TooManySeats { max });
                }
                let sections = self.area_sections(area);
                if sections.is_empty() {
                    return reject(Rejection::UnknownSection);
                }
                step.any_run = Some(self.any_run(&sections, *count));
                match self.best(&sections, *count) {
                    Some(seats) => self.hold(by, &seats, holders, step),
                    None => reject(Rejection::NoAdjacentSeats),
                }
            }
            Action::Confirm { hold } | Action::Cancel { hold } => {
                let i = match self.own(by, *hold) {
                    Ok(i) => i,
                    Err(r) => return reject(r),
                };
                match self.holds[i].status {
                    HoldStatus::Held => {}
                    HoldStatus::Expired => return reject(Rejection::HoldExpired),
                    _ => return reject(Rejection::HoldNotActive),
                }
                if matches!(action, Action::Confirm { .. }) {
                    self.holds[i].status = HoldStatus::Confirmed;
                    Outcome::Seated(SeatedOutcome::Confirmed(Self::as_hold(&self.holds[i])))
                } else {
                    self.holds[i].status = HoldStatus::Cancelled;
                    Outcome::Seated(SeatedOutcome::Cancelled(Self::as_hold(&self.holds[i])))
                }
            }
            Action::Refund { order } => {
                let i = match self.own(by, *order) {
                    Ok(i) => i,
                    Err(Rejection::UnknownHold) => return reject(Rejection::UnknownOrder),
                    Err(r) => return reject(r),
                };
                match self.holds[i].status {
                    HoldStatus::Confirmed => {
                        self.holds[i].status = HoldStatus::Refunded;
                        Outcome::Seated(SeatedOutcome::Refunded(Self::as_hold(&self.holds[i])))
                    }
                    HoldStatus::Refunded => reject(Rejection::AlreadyRefunded),
                    _ => reject(Rejection::UnknownOrder),
                }
            }
            Action::Seated(SeatedAction::ReleaseSeat { order, seat }) => {
                let (i, at) = match self.changeable(by, *order, *seat) {
                    Ok(found) => found,
                    Err(r) => return reject(r),
                };
                let h = &mut self.holds[i];
                let gone = h.seats.remove(at);
                h.released.push(gone);
                if h.seats.is_empty() {
                    h.status = if h.status == HoldStatus::Held { HoldStatus::Cancelled } else { HoldStatus::Refunded };
                }
                Outcome::Seated(SeatedOutcome::SeatReleased(Self::as_hold(h)))
            }
            Action::Seated(SeatedAction::SwapSeat { order, from, to }) => {
                if let Err(r) = self.open_for_taking() {
                    return reject(r);
                }
                let (i, at) = match self.changeable(by, *order, *from) {
                    Ok(found) => found,
                    Err(r) => return reject(r),
                };
                if to.0 >= self.seat_count {
                    return reject(Rejection::UnknownSeat { seat: *to });
                }
                if !self.is_free(to.0) {
                    return reject(Rejection::SeatsTaken { count: 1, seats: vec![*to] });
                }
                let price = self.price(to.0);
                let h = &mut self.holds[i];
                let old = h.seats[at];
                h.seats[at] = HeldSeat { seat: *to, holder: old.holder, price };
                h.released.push(old);
                Outcome::Seated(SeatedOutcome::SeatSwapped(Self::as_hold(h)))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The checked run: core and model side by side
// ---------------------------------------------------------------------------

struct Run {
    sale: Sale,
    model: Model,
    /// Holds the core has expired, over the whole run.
    expired_seen: BTreeSet<u64>,
    /// Keys for probes, never used by generated inputs.
    probes: u64,
}

impl Run {
    fn new(setup: &Setup) -> Self {
        Run {
            sale: Sale::new(sale_config(setup)),
            model: Model::new(setup.clone()),
            expired_seen: BTreeSet::new(),
            probes: 0,
        }
    }

    fn step(&mut self, input: &Input) -> Result<Applied, TestCaseError> {
        let ctx = format!("input {input:?}");
        let limit = self.model.setup.per_person_limit;
        let now = input.at_us().max(self.sale.last_at_us());

        // Before: the core's own view of what must expire now, and the sale
        // once time has passed but before the command (a tick to the same instant).
        let bits_before = book(&self.sale).taken_bits().to_vec();
        let due: Vec<SeatHold> = all_holds(book(&self.sale))
            .into_iter()
            .filter(|h| h.status == HoldStatus::Held && h.expires_at_us <= now)
            .collect();
        let mut settled = self.sale.clone();
        settled.apply(&Input::Tick { at_us: now });
        let mid = book(&settled).clone();

        let applied = self.sale.apply(input);
        let m = self.model.apply(input);
        let after = book(&self.sale);
        let seats = after.index().seat_count();

        // The answer.
        prop_assert_eq!(&applied.outcome, &m.outcome, "{}", ctx);
        prop_assert_eq!(self.sale.check_invariants(), Ok(()), "{}", ctx);
        prop_assert_eq!(self.sale.view().status, self.model.status, "{}", ctx);

        // 1. A seat is never held or sold twice: the model's seat map (which
        // refuses a seat in two active holds) equals the core's, and the
        // core's own active holds are disjoint and agree with `owner_of`.
        let owners = self.model.owners().map_err(TestCaseError::fail)?;
        prop_assert_eq!(seats, self.model.seat_count);
        for s in 0..seats {
            let core = after.owner_of(SeatId(s));
            prop_assert_eq!(core.map(|h| h.0), owners[s as usize].map(|o| o.0), "owner of seat {}; {}", s, ctx);
            prop_assert_eq!(bit(after.taken_bits(), s), core.is_some(), "taken bit of seat {}; {}", s, ctx);
            if let (Some(h), Some((_, sold))) = (core, owners[s as usize]) {
                let status = after.hold(h).map(|h| h.status);
                let want = if sold { HoldStatus::Confirmed } else { HoldStatus::Held };
                prop_assert_eq!(status, Some(want), "seat {} held vs sold; {}", s, ctx);
            }
        }
        for s in seats..after.taken_bits().len() as u32 * 64 {
            prop_assert!(!bit(after.taken_bits(), s), "bit {s} past the last seat; {ctx}");
        }
        let mut seen: BTreeMap<SeatId, HoldId> = BTreeMap::new();
        for h in all_holds(after).iter().filter(|h| matches!(h.status, HoldStatus::Held | HoldStatus::Confirmed)) {
            for s in &h.seats {
                if let Some(other) = seen.insert(s.seat, h.id) {
                    prop_assert!(false, "seat {:?} in active holds {:?} and {:?}; {}", s.seat, other, h.id, ctx);
                }
                prop_assert_eq!(after.owner_of(s.seat), Some(h.id), "{}", ctx);
            }
        }
        let view = after.view();
        let (held, sold) =
            owners.iter().flatten().fold((0, 0), |(h, s), (_, sold)| if *sold { (h, s + 1) } else { (h + 1, s) });
        prop_assert_eq!((view.held, view.sold, view.available), (held, sold, seats - held - sold), "{}", ctx);

        // 5. Per person: never over the limit, and equal to the model's count.
        for u in 1..=USERS {
            let mine = self.model.active_of(u);
            prop_assert!(mine <= limit, "user {u} has {mine} > limit {limit}; {ctx}");
            prop_assert_eq!(after.seats_of(UserId(u)), mine, "seats of user {}; {}", u, ctx);
        }

        // Every hold, and no extra one.
        for h in &self.model.holds {
            prop_assert_eq!(after.hold(HoldId(h.id)), Some(&Model::as_hold(h)), "{}", ctx);
        }
        prop_assert_eq!(after.hold(HoldId(self.model.holds.len() as u64 + 1)), None, "{}", ctx);
        prop_assert_eq!(after.holds_after(HoldId(0), usize::MAX).count(), self.model.holds.len());

        // 3. Expiry frees exactly the seats of the holds due, once.
        let due_ids: Vec<u64> = due.iter().map(|h| h.id.0).collect();
        let model_ids: Vec<u64> = m.expired.iter().map(|(id, _)| *id).collect();
        prop_assert_eq!(&due_ids, &model_ids, "holds due to expire; {}", ctx);
        let mut expect = bits_before.clone();
        for h in &due {
            prop_assert_eq!(after.hold(h.id).map(|h| h.status), Some(HoldStatus::Expired), "{}", ctx);
            prop_assert!(self.expired_seen.insert(h.id.0), "hold {:?} expired twice; {ctx}", h.id);
            for s in &h.seats {
                prop_assert!(bit(&expect, s.seat.0), "an expiring seat was not taken; {ctx}");
                expect[s.seat.0 as usize / 64] &= !(1 << (s.seat.0 % 64));
            }
        }
        prop_assert_eq!(mid.taken_bits(), &expect[..], "time passing freed other seats than the expired; {}", ctx);

        // Events: seats freed by expiry and the command, seats taken by the command.
        let (freed, taken) = event_seats(&applied.events);
        let mut want_freed: Vec<SeatId> = m.expired.iter().flat_map(|(_, s)| s.iter().copied()).collect();
        want_freed.extend(m.freed.iter().copied());
        want_freed.sort_unstable();
        prop_assert_eq!(&freed, &want_freed, "freed seats in events; {}", ctx);
        prop_assert_eq!(&taken, &m.taken, "taken seats in events; {}", ctx);
        match input {
            Input::Tick { .. } => {
                let something = !m.expired.is_empty() || m.status_before != m.status_after;
                prop_assert_eq!(applied.changed, something, "tick changed flag; {}", ctx);
            }
            Input::Command(_) => prop_assert!(applied.changed, "a command always counts as a change"),
        }

        // The command's own effect, judged against `mid`: the sale once time
        // had passed (expiry happens first, in the same input).
        let rejected = matches!(applied.outcome, Outcome::Rejected(_));
        if rejected || !m.acted {
            // 2. All or nothing: a refused (or remembered) command changes no
            // seat (the taken bitset), nor anything else in the seat book.
            prop_assert_eq!(after.taken_bits(), mid.taken_bits(), "a refused command moved seats; {}", ctx);
            prop_assert!(*after == mid, "a command without effect changed the seat book; {ctx}");
        }
        if let Input::Command(c) = input
            && m.acted
        {
            self.command_checks(c, &applied.outcome, &m, &mid, &ctx)?;
        }

        // Deadlines.
        prop_assert_eq!(self.sale.next_deadline_us(), self.model.deadline(), "{}", ctx);

        // 3, continued: a second tick frees nothing again, and the expired
        // holds can no longer be confirmed.
        if !due.is_empty() {
            let mut again = self.sale.clone();
            let tick = again.apply(&Input::Tick { at_us: now });
            prop_assert!(!tick.changed && tick.events.is_empty(), "a second tick did something: {:?}", tick.events);
            prop_assert!(book(&again) == book(&self.sale), "a second tick changed seats");
            for h in &due {
                self.probes += 1;
                let probe = cmd(now, h.by.0, &format!("probe{}", self.probes), Action::Confirm { hold: h.id });
                let late = again.apply(&probe);
                prop_assert_eq!(&late.outcome, &Outcome::Rejected(Rejection::HoldExpired), "confirm after expiry");
                prop_assert!(book(&again) == book(&self.sale), "a late confirm changed seats");
            }
        }
        Ok(applied)
    }

    /// The acceptance lines about one carried-out command, stated on the core's answer.
    fn command_checks(
        &self,
        c: &Command,
        outcome: &Outcome,
        m: &MStep,
        mid: &SeatBook,
        ctx: &str,
    ) -> Result<(), TestCaseError> {
        let after = book(&self.sale);
        let with = |bits: &[u64], add: &[SeatId], remove: &[SeatId]| {
            let mut out = bits.to_vec();
            for s in remove {
                out[s.0 as usize / 64] &= !(1 << (s.0 % 64));
            }
            for s in add {
                out[s.0 as usize / 64] |= 1 << (s.0 % 64);
            }
            out
        };
        // 5. The limit refuses exactly when a holder would go over it. This is
        // the exact check, not just "never exceeds": `over_limit` is the
        // model's count for every hold that passed the checks before the limit
        // (size, holders, seats), which is where the core asks too; which
        // holder is named is settled by the outcome comparison.
        let limit_refusal =
            matches!(outcome, Outcome::Rejected(Rejection::LimitReached { .. } | Rejection::FriendLimitReached { .. }));
        if let Some(over) = m.over_limit {
            prop_assert_eq!(limit_refusal, over, "limit refusal vs the model's count; {}", ctx);
        } else {
            prop_assert!(!limit_refusal, "a limit refusal before the seats were even checked; {ctx}");
        }
        match (&c.action, outcome) {
            // 2. An accepted hold takes exactly the seats asked for.
            (Action::Seated(SeatedAction::HoldSeats { seats, holders }), Outcome::Seated(SeatedOutcome::Held(h))) => {
                let got: Vec<SeatId> = h.seats.iter().map(|s| s.seat).collect();
                prop_assert_eq!(&got, seats, "{}", ctx);
                for (i, s) in h.seats.iter().enumerate() {
                    prop_assert!(mid.is_free(s.seat), "held a seat that was taken; {ctx}");
                    prop_assert_eq!(s.holder, holders.get(i).copied().unwrap_or(c.by), "{}", ctx);
                }
                prop_assert_eq!(after.taken_bits(), &with(mid.taken_bits(), seats, &[])[..], "{}", ctx);
            }
            // 4. Best available: adjacent, one row, in the area, free before.
            (Action::Seated(SeatedAction::HoldBest { area, count, .. }), Outcome::Seated(SeatedOutcome::Held(h))) => {
                let got: Vec<SeatId> = h.seats.iter().map(|s| s.seat).collect();
                prop_assert_eq!(got.len(), *count as usize, "{}", ctx);
                prop_assert!(got.windows(2).all(|w| w[1].0 == w[0].0 + 1), "not adjacent: {got:?}; {ctx}");
                let row = after.index().row_of(got[0]).copied();
                let sections = self.model.area_sections(area);
                for s in &got {
                    prop_assert!(mid.is_free(*s), "best-available took a taken seat; {ctx}");
                    let r = after.index().row_of(*s).copied();
                    prop_assert_eq!(r, row, "seats in two rows: {:?}; {}", got, ctx);
                    let section = r.map(|r| usize::from(r.section));
                    prop_assert!(section.is_some_and(|s| sections.contains(&s)), "seat {s:?} outside {area:?}; {ctx}");
                }
                prop_assert_eq!(m.any_run, Some(true), "{}", ctx);
                prop_assert_eq!(after.taken_bits(), &with(mid.taken_bits(), &got, &[])[..], "{}", ctx);
            }
            // 4. "None" only when, by brute force, no row of the area has the room.
            (Action::Seated(SeatedAction::HoldBest { .. }), Outcome::Rejected(Rejection::NoAdjacentSeats)) => {
                prop_assert_eq!(m.any_run, Some(false), "said no adjacent seats, but a row has them; {}", ctx);
            }
            // Swap: same holder, exactly one seat moved.
            (
                Action::Seated(SeatedAction::SwapSeat { order, from, to }),
                Outcome::Seated(SeatedOutcome::SeatSwapped(h)),
            ) => {
                let before = mid.hold(*order).cloned();
                prop_assert!(before.is_some(), "{ctx}");
                let before = before.unwrap();
                prop_assert_eq!(before.status, h.status, "{}", ctx);
                prop_assert_eq!(before.seats.len(), h.seats.len(), "{}", ctx);
                let moved: Vec<usize> = (0..h.seats.len()).filter(|i| before.seats[*i] != h.seats[*i]).collect();
                prop_assert_eq!(moved.len(), 1, "{}", ctx);
                let (old, new) = (before.seats[moved[0]], h.seats[moved[0]]);
                prop_assert_eq!((old.seat, new.seat, new.holder), (*from, *to, old.holder), "{}", ctx);
                prop_assert_eq!(after.taken_bits(), &with(mid.taken_bits(), &[*to], &[*from])[..], "{}", ctx);
            }
            // Release: exactly one seat back; the last one ends the hold or order.
            (
                Action::Seated(SeatedAction::ReleaseSeat { order, seat }),
                Outcome::Seated(SeatedOutcome::SeatReleased(h)),
            ) => {
                let before = mid.hold(*order).cloned();
                prop_assert!(before.is_some(), "{ctx}");
                let before = before.unwrap();
                prop_assert_eq!(h.seats.len() + 1, before.seats.len(), "{}", ctx);
                prop_assert!(!h.seats.iter().any(|s| s.seat == *seat), "{ctx}");
                let want = match (h.seats.is_empty(), before.status) {
                    (false, s) => s,
                    (true, HoldStatus::Held) => HoldStatus::Cancelled,
                    (true, _) => HoldStatus::Refunded,
                };
                prop_assert_eq!(h.status, want, "{}", ctx);
                prop_assert_eq!(after.taken_bits(), &with(mid.taken_bits(), &[], &[*seat])[..], "{}", ctx);
            }
            (
                Action::Cancel { hold } | Action::Refund { order: hold },
                Outcome::Seated(SeatedOutcome::Cancelled(h)) | Outcome::Seated(SeatedOutcome::Refunded(h)),
            ) => {
                prop_assert_eq!(h.id, *hold);
                let gone: Vec<SeatId> = h.seats.iter().map(|s| s.seat).collect();
                prop_assert_eq!(after.taken_bits(), &with(mid.taken_bits(), &[], &gone)[..], "{}", ctx);
            }
            (Action::Confirm { .. }, Outcome::Seated(SeatedOutcome::Confirmed(_))) => {
                prop_assert_eq!(after.taken_bits(), mid.taken_bits(), "confirming moved seats; {}", ctx);
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), TestCaseError> {
        let expired: BTreeSet<u64> =
            self.model.holds.iter().filter(|h| h.status == HoldStatus::Expired).map(|h| h.id).collect();
        prop_assert_eq!(&self.expired_seen, &expired, "expired holds seen vs expired");
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// A seat named by a hold: mostly one that exists, sometimes one past the end.
#[derive(Clone, Debug)]
enum SeatPick {
    In(prop::sample::Index),
    Out(u32),
}

#[derive(Clone, Debug)]
enum SeatsPick {
    /// `len` seats from `start` on (they may run into the next row or past the end).
    Run(prop::sample::Index, u32),
    /// Independent picks, so duplicates and scattered seats.
    List(Vec<SeatPick>),
    /// A run with its first seat named again.
    Dup(prop::sample::Index, u32),
}

#[derive(Clone, Debug)]
enum HoldersPick {
    Booker,
    /// One holder per seat (taken from the front of the list).
    Each(Vec<u64>),
    /// A list of its own length, usually the wrong one.
    Any(Vec<u64>),
}

#[derive(Clone, Copy, Debug)]
enum OnHold {
    Confirm,
    Cancel,
    Refund,
    Release,
    Swap,
}

#[derive(Clone, Debug)]
enum Act {
    Plain(Action),
    Hold(SeatsPick, HoldersPick),
    Best(SeatArea, u32, HoldersPick),
    /// Aimed at one of the author's holds, picked when the inputs are stamped.
    /// The indexes pick the hold and the seat in it; a swap goes to the seat
    /// picked (a free one when `to_any` is false and there is one).
    Own {
        op: OnHold,
        hold: prop::sample::Index,
        seat: prop::sample::Index,
        to: SeatPick,
        to_any: bool,
    },
}

#[derive(Clone, Debug)]
enum Step {
    Tick {
        dt: i64,
    },
    Cmd {
        dt: i64,
        /// 0: the previous command's author again (hold, then confirm or swap...).
        by: u64,
        key: u16,
        act: Act,
    },
    /// The previous command again, at the previous input's time.
    RepeatLast,
}

fn section_strategy() -> impl Strategy<Value = SectionSetup> {
    (0..TIERS.len(), 1u64..=3, prop::collection::vec(1u32..=8, 1..=4)).prop_map(|(tier, price, rows)| SectionSetup {
        tier,
        price: price * 100,
        rows,
    })
}

fn setup_strategy() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec(section_strategy(), 1..=3),
        3u32..=6,
        6i64..=16,
        prop_oneof![1 => Just(None), 3 => (T0 - 10..T0 + 10).prop_map(Some)],
        prop_oneof![5 => Just(None), 1 => (T0 + 100..T0 + 400).prop_map(Some)],
    )
        .prop_map(|(sections, per_person_limit, hold_ttl_us, opens_at_us, closes_at_us)| Setup {
            sections,
            per_person_limit,
            hold_ttl_us,
            opens_at_us,
            closes_at_us,
        })
}

/// Time steps: mostly 0-6 (a hold lives 6-16), sometimes a longer wait, sometimes a late input.
fn dt_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![6 => 0i64..=2, 6 => 0i64..=6, 1 => 7i64..=15, 1 => -5i64..0]
}

fn seat_pick() -> impl Strategy<Value = SeatPick> {
    prop_oneof![8 => any::<prop::sample::Index>().prop_map(SeatPick::In), 1 => (0u32..3).prop_map(SeatPick::Out)]
}

fn seats_pick() -> impl Strategy<Value = SeatsPick> {
    prop_oneof![
        5 => (any::<prop::sample::Index>(), 1u32..=5).prop_map(|(s, n)| SeatsPick::Run(s, n)),
        4 => prop::collection::vec(seat_pick(), 0..=5).prop_map(SeatsPick::List),
        1 => (any::<prop::sample::Index>(), 1u32..=3).prop_map(|(s, n)| SeatsPick::Dup(s, n)),
    ]
}

fn holders_pick() -> impl Strategy<Value = HoldersPick> {
    prop_oneof![
        4 => Just(HoldersPick::Booker),
        4 => prop::collection::vec(1..=USERS, 5).prop_map(HoldersPick::Each),
        1 => prop::collection::vec(1..=USERS, 0..=5).prop_map(HoldersPick::Any),
    ]
}

fn area_strategy() -> impl Strategy<Value = SeatArea> {
    prop_oneof![
        3 => Just(SeatArea::Any),
        3 => prop_oneof![6 => 0u16..3, 1 => 3u16..5].prop_map(SeatArea::Section),
        2 => prop::sample::select(vec!["A", "A", "B", "B", "C"]).prop_map(|t| SeatArea::Tier(t.into())),
    ]
}

fn hold_id() -> impl Strategy<Value = HoldId> {
    (1u64..=8).prop_map(HoldId)
}

fn act_strategy() -> impl Strategy<Value = Act> {
    let on_hold = prop_oneof![
        4 => Just(OnHold::Confirm),
        2 => Just(OnHold::Cancel),
        2 => Just(OnHold::Refund),
        3 => Just(OnHold::Release),
        3 => Just(OnHold::Swap),
    ];
    let seat = || (0u32..40).prop_map(SeatId);
    // Close is rare: once closed, a sale only winds down.
    prop_oneof![
        20 => Just(Act::Plain(Action::Open)),
        1 => Just(Act::Plain(Action::Close)),
        50 => (seats_pick(), holders_pick()).prop_map(|(s, h)| Act::Hold(s, h)),
        50 => (area_strategy(), prop_oneof![8 => 1u32..=4, 1 => 0u32..=5], holders_pick())
            .prop_map(|(a, n, h)| Act::Best(a, n, h)),
        60 => (on_hold, any::<prop::sample::Index>(), any::<prop::sample::Index>(), seat_pick(), prop::bool::weighted(0.3))
            .prop_map(|(op, hold, seat, to, to_any)| Act::Own { op, hold, seat, to, to_any }),
        4 => hold_id().prop_map(|hold| Act::Plain(Action::Confirm { hold })),
        4 => hold_id().prop_map(|hold| Act::Plain(Action::Cancel { hold })),
        4 => hold_id().prop_map(|order| Act::Plain(Action::Refund { order })),
        4 => (hold_id(), seat()).prop_map(|(order, seat)| Act::Plain(Action::Seated(SeatedAction::ReleaseSeat { order, seat }))),
        4 => (hold_id(), seat(), seat()).prop_map(|(order, from, to)| Act::Plain(Action::Seated(SeatedAction::SwapSeat { order, from, to }))),
    ]
}

/// Keys: mostly fresh, sometimes from a tiny pool (so a key comes back with another command).
fn key_strategy() -> impl Strategy<Value = u16> {
    prop_oneof![1 => 0u16..3, 6 => 100u16..30_000]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => dt_strategy().prop_map(|dt| Step::Tick { dt }),
        14 => (dt_strategy(), prop_oneof![3 => 1..=USERS, 2 => Just(0)], key_strategy(), act_strategy())
            .prop_map(|(dt, by, key, act)| Step::Cmd { dt, by, key, act }),
        1 => Just(Step::RepeatLast),
    ]
}

fn steps_strategy() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step_strategy(), 1..100)
}

fn resolve_seat(p: &SeatPick, total: u32) -> SeatId {
    match p {
        SeatPick::In(i) => SeatId(i.index(total as usize) as u32),
        SeatPick::Out(k) => SeatId(total + k),
    }
}

fn resolve_holders(p: &HoldersPick, n: usize) -> Vec<UserId> {
    match p {
        HoldersPick::Booker => Vec::new(),
        HoldersPick::Each(users) => users.iter().take(n).map(|u| UserId(*u)).collect(),
        HoldersPick::Any(users) => users.iter().map(|u| UserId(*u)).collect(),
    }
}

/// Turns steps into stamped inputs. A scratch sale fed the same inputs is
/// consulted only to aim [`Act::Own`] at one of the author's holds.
fn inputs(setup: &Setup, steps: &[Step]) -> Vec<Input> {
    let mut scratch = Sale::new(sale_config(setup));
    let total = book(&scratch).index().seat_count();
    let mut clock = T0 - 10;
    let mut last_at = clock;
    let mut last_cmd: Option<Command> = None;
    let mut out = Vec::new();
    let resolve = |scratch: &Sale, by: u64, act: &Act| -> Action {
        match act {
            Act::Plain(a) => a.clone(),
            Act::Hold(seats, holders) => {
                let seats: Vec<SeatId> = match seats {
                    SeatsPick::Run(start, n) => {
                        let s = start.index(total as usize) as u32;
                        (s..s + n).map(SeatId).collect()
                    }
                    SeatsPick::List(picks) => picks.iter().map(|p| resolve_seat(p, total)).collect(),
                    SeatsPick::Dup(start, n) => {
                        let s = start.index(total as usize) as u32;
                        let mut v: Vec<SeatId> = (s..s + n).map(SeatId).collect();
                        v.push(SeatId(s));
                        v
                    }
                };
                let holders = resolve_holders(holders, seats.len());
                Action::Seated(SeatedAction::HoldSeats { seats, holders })
            }
            Act::Best(area, count, holders) => Action::Seated(SeatedAction::HoldBest {
                area: area.clone(),
                count: *count,
                holders: resolve_holders(holders, *count as usize),
            }),
            Act::Own { op, hold: pick, seat: seat_pick, to, to_any } => {
                let b = book(scratch);
                let mine: Vec<&SeatHold> = b.holds_after(HoldId(0), usize::MAX).filter(|h| h.by.0 == by).collect();
                // Usually the newest one the operation suits (held to confirm or
                // cancel, paid for to refund, either to change), sometimes any.
                let suits = |h: &SeatHold| match op {
                    OnHold::Confirm | OnHold::Cancel => h.status == HoldStatus::Held,
                    OnHold::Refund => h.status == HoldStatus::Confirmed,
                    OnHold::Release | OnHold::Swap => matches!(h.status, HoldStatus::Held | HoldStatus::Confirmed),
                };
                let active = mine.iter().rev().find(|h| suits(h));
                let hold = match (mine.last(), active, pick.index(4)) {
                    (None, _, _) => {
                        return Action::Seated(SeatedAction::HoldBest {
                            area: SeatArea::Any,
                            count: 2,
                            holders: Vec::new(),
                        });
                    }
                    (Some(_), Some(active), 0..=2) => *active,
                    (Some(_), _, _) => mine[pick.index(mine.len())],
                };
                let id = hold.id;
                // A seat of the hold (or one it gave back, or any seat if it has none).
                let own_seat = match (hold.seats.is_empty(), seat_pick.index(6)) {
                    (false, 0..=4) => hold.seats[seat_pick.index(hold.seats.len())].seat,
                    _ => match hold.released.first() {
                        Some(s) => s.seat,
                        None => SeatId(seat_pick.index(total as usize) as u32),
                    },
                };
                match op {
                    OnHold::Confirm => Action::Confirm { hold: id },
                    OnHold::Cancel => Action::Cancel { hold: id },
                    OnHold::Refund => Action::Refund { order: id },
                    OnHold::Release => Action::Seated(SeatedAction::ReleaseSeat { order: id, seat: own_seat }),
                    OnHold::Swap => {
                        let free: Vec<u32> = (0..total).filter(|s| b.is_free(SeatId(*s))).collect();
                        let to = match (to, free.is_empty() || *to_any) {
                            (SeatPick::In(i), false) => SeatId(free[i.index(free.len())]),
                            (p, _) => resolve_seat(p, total),
                        };
                        Action::Seated(SeatedAction::SwapSeat { order: id, from: own_seat, to })
                    }
                }
            }
        }
    };
    for s in steps {
        let input = match s {
            Step::Tick { dt } => {
                clock += dt;
                Input::Tick { at_us: clock }
            }
            Step::Cmd { dt, by, key: k, act } => {
                clock += dt;
                let by = match (by, &last_cmd) {
                    (0, Some(c)) => c.by.0,
                    (0, None) => 1,
                    (by, _) => *by,
                };
                let action = resolve(&scratch, by, act);
                let c = Command { at_us: clock, by: UserId(by), key: key(&format!("k{k}")), action };
                last_cmd = Some(c.clone());
                Input::Command(c)
            }
            Step::RepeatLast => match &last_cmd {
                Some(c) => Input::Command(Command { at_us: last_at, ..c.clone() }),
                None => continue,
            },
        };
        scratch.apply(&input);
        last_at = input.at_us();
        out.push(input);
    }
    out
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The core agrees with the model after every input, and every
    /// acceptance property (1-5) holds along the way.
    #[test]
    fn seated_sale_matches_the_model(setup in setup_strategy(), steps in steps_strategy()) {
        let mut run = Run::new(&setup);
        for input in inputs(&setup, &steps) {
            run.step(&input)?;
        }
        run.finish()?;
    }

    /// The properties every kind has (`kit/mod.rs`): determinism, replay
    /// without unchanged ticks, remembered keys doing nothing, invariants.
    #[test]
    fn seated_sale_has_the_generic_properties(
        setup in setup_strategy(),
        steps in steps_strategy(),
        split in any::<prop::sample::Index>(),
    ) {
        kit::properties(&sale_config(&setup), &inputs(&setup, &steps), split)?;
    }
}

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

/// An open sale over one straight block of `rows` × `seats_per_row`, tier "R".
fn open_sale(rows: u32, seats_per_row: u32, per_person_limit: u32, hold_ttl_us: i64) -> Sale {
    let spec = SectionSpec {
        name: "Floor".into(),
        tier: "R".into(),
        price: 100,
        colour: "#aa0000".into(),
        rows,
        seats_per_row,
        x: 0,
        y: 0,
        curve_degrees: 0.0,
        spacing: 10,
    };
    let venue = generate("Hall", &[spec]).expect("a valid block");
    Sale::new(SaleConfig {
        translations: Vec::new(),
        title: "Stampede test".into(),
        description: String::new(),
        owner: UserId(99),
        currency: "KRW".into(),
        opens_at_us: Some(0),
        closes_at_us: None,
        kind: KindConfig::Seated(seated_config(venue, per_person_limit, hold_ttl_us)),
        queue: None,
    })
}

fn held(outcome: &Outcome) -> SeatHold {
    match outcome {
        Outcome::Seated(SeatedOutcome::Held(h)) => h.clone(),
        other => panic!("expected a hold, got {other:?}"),
    }
}

fn seat_ids(h: &SeatHold) -> Vec<u32> {
    h.seats.iter().map(|s| s.seat.0).collect()
}

fn hold_seats(seats: &[u32]) -> Action {
    Action::Seated(SeatedAction::HoldSeats { seats: seats.iter().map(|s| SeatId(*s)).collect(), holders: Vec::new() })
}

fn best(count: u32) -> Action {
    Action::Seated(SeatedAction::HoldBest { area: SeatArea::Any, count, holders: Vec::new() })
}

#[test]
fn best_available_prefers_the_front_row() {
    // Three rows of six: seats 0-5 at the front, 6-11, 12-17.
    let mut sale = open_sale(3, 6, 20, 1_000);
    let h = held(&sale.apply(&cmd(10, 1, "a", best(2))).outcome);
    assert_eq!(seat_ids(&h), vec![2, 3], "the middle of the front row");
    // The front row still has room for two beside each other (0-1 and 4-5).
    let h = held(&sale.apply(&cmd(11, 2, "a", best(2))).outcome);
    assert_eq!(book(&sale).index().row_of(h.seats[0].seat).map(|r| r.row), Some(0));
    // No room for three in the front row any more: the next row (6-11). Its
    // middle three (7-9 or 8-10) would strand seat 6 or 11, so an end.
    let h = held(&sale.apply(&cmd(12, 3, "a", best(3))).outcome);
    assert_eq!(seat_ids(&h), vec![6, 7, 8]);
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn best_available_does_not_strand_a_single_seat() {
    // One row of five, all free: the middle three would leave seats 0 and 4
    // alone, so the group sits at one end instead.
    let mut sale = open_sale(1, 5, 20, 1_000);
    let h = held(&sale.apply(&cmd(10, 1, "a", best(3))).outcome);
    assert_eq!(seat_ids(&h), vec![0, 1, 2]);

    // Two rows of five; seat 1 of the front row is taken, leaving 0 | 2 3 4.
    // Two in the front row would strand seat 2 or seat 4, so the pair goes to
    // the second row (5-9), at the end nearest the middle that strands nobody.
    let mut sale = open_sale(2, 5, 20, 1_000);
    held(&sale.apply(&cmd(10, 1, "a", hold_seats(&[1]))).outcome);
    let h = held(&sale.apply(&cmd(11, 2, "a", best(2))).outcome);
    assert_eq!(seat_ids(&h), vec![5, 6]);

    // When every placement strands a seat, the front row still wins.
    let mut sale = open_sale(2, 3, 20, 1_000);
    let h = held(&sale.apply(&cmd(10, 1, "a", best(2))).outcome);
    assert_eq!(seat_ids(&h), vec![0, 1]);
    assert_eq!(sale.check_invariants(), Ok(()));
}

/// An open sale with a dearer front section (one row of four, tier "VIP",
/// seats 0-3) and a back section (two rows of four, tier "R", seats 4-11).
fn two_section_sale(per_person_limit: u32) -> Sale {
    let spec = |name: &str, tier: &str, price: u64, rows: u32, y: i32| SectionSpec {
        name: name.into(),
        tier: tier.into(),
        price,
        colour: "#00aa00".into(),
        rows,
        seats_per_row: 4,
        x: 0,
        y,
        curve_degrees: 0.0,
        spacing: 10,
    };
    let venue = generate("Hall", &[spec("Front", "VIP", 300, 1, 0), spec("Back", "R", 100, 2, 50)]).expect("valid");
    Sale::new(SaleConfig {
        translations: Vec::new(),
        title: "Stampede test".into(),
        description: String::new(),
        owner: UserId(99),
        currency: "KRW".into(),
        opens_at_us: Some(0),
        closes_at_us: None,
        kind: KindConfig::Seated(seated_config(venue, per_person_limit, 1_000)),
        queue: None,
    })
}

#[test]
fn best_available_says_none_without_adjacent_seats() {
    // One row of four with seats 1 and 3 taken: two free seats, not side by side.
    let mut sale = open_sale(1, 4, 20, 1_000);
    held(&sale.apply(&cmd(10, 1, "a", hold_seats(&[1, 3]))).outcome);
    let before = book(&sale).clone();
    assert_eq!(sale.apply(&cmd(11, 2, "a", best(2))).outcome, Outcome::Rejected(Rejection::NoAdjacentSeats));
    assert!(*book(&sale) == before);
    // One seat still fits: seat 2, nearer the middle than seat 0.
    assert_eq!(seat_ids(&held(&sale.apply(&cmd(12, 2, "b", best(1))).outcome)), vec![2]);
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn best_available_stays_in_its_area() {
    let mut sale = two_section_sale(20);
    let area = |area: SeatArea, count: u32| Action::Seated(SeatedAction::HoldBest { area, count, holders: Vec::new() });
    let h = held(&sale.apply(&cmd(10, 1, "a", area(SeatArea::Tier("R".into()), 2))).outcome);
    // The front row of the back section (4-7), at an end: 5-6 would strand 4 and 7.
    assert_eq!(seat_ids(&h), vec![4, 5]);
    assert!(h.seats.iter().all(|s| s.price == 100));
    let h = held(&sale.apply(&cmd(11, 1, "b", area(SeatArea::Section(0), 2))).outcome);
    assert_eq!(seat_ids(&h), vec![0, 1]);
    assert!(h.seats.iter().all(|s| s.price == 300));
    held(&sale.apply(&cmd(12, 2, "a", hold_seats(&[3]))).outcome);
    assert_eq!(
        sale.apply(&cmd(13, 1, "c", area(SeatArea::Section(0), 2))).outcome,
        Outcome::Rejected(Rejection::NoAdjacentSeats),
        "only seat 2 is left in the front section, though the back has room"
    );
    assert_eq!(
        sale.apply(&cmd(13, 1, "d", area(SeatArea::Section(2), 1))).outcome,
        Outcome::Rejected(Rejection::UnknownSection)
    );
    assert_eq!(
        sale.apply(&cmd(14, 1, "e", area(SeatArea::Tier("S".into()), 1))).outcome,
        Outcome::Rejected(Rejection::UnknownSection)
    );
}

#[test]
fn a_refused_hold_takes_no_seat() {
    let mut sale = open_sale(1, 6, 3, 1_000);
    held(&sale.apply(&cmd(10, 1, "a", hold_seats(&[2]))).outcome);
    let before = book(&sale).clone();
    let two_for = |who: u64| {
        Action::Seated(SeatedAction::HoldSeats { seats: vec![SeatId(3), SeatId(4)], holders: vec![UserId(who); 1] })
    };
    let refusals = [
        (hold_seats(&[0, 1, 2]), Rejection::SeatsTaken { count: 1, seats: vec![SeatId(2)] }),
        (hold_seats(&[0, 0]), Rejection::DuplicateSeat),
        (hold_seats(&[0, 6]), Rejection::UnknownSeat { seat: SeatId(6) }),
        (hold_seats(&[0, 1, 3, 4, 5]), Rejection::TooManySeats { max: SEATS_PER_HOLD_MAX }),
        (hold_seats(&[]), Rejection::TooManySeats { max: SEATS_PER_HOLD_MAX }),
        (two_for(1), Rejection::BadHolders),
        (hold_seats(&[3, 4, 5]), Rejection::LimitReached { remaining: 2 }),
    ];
    for (i, (action, rejection)) in refusals.into_iter().enumerate() {
        let got = sale.apply(&cmd(11 + i as i64, 1, &format!("r{i}"), action.clone())).outcome;
        assert_eq!(got, Outcome::Rejected(rejection), "{action:?}");
        assert!(*book(&sale) == before, "{action:?} changed seats");
    }
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn friends_count_against_their_own_limit() {
    let mut sale = open_sale(1, 8, 2, 1_000);
    let for_ = |seats: &[u32], who: &[u64]| {
        Action::Seated(SeatedAction::HoldSeats {
            seats: seats.iter().map(|s| SeatId(*s)).collect(),
            holders: who.iter().map(|u| UserId(*u)).collect(),
        })
    };
    held(&sale.apply(&cmd(10, 1, "a", for_(&[0, 1], &[2, 2]))).outcome);
    assert_eq!((book(&sale).seats_of(UserId(1)), book(&sale).seats_of(UserId(2))), (0, 2));
    assert_eq!(
        sale.apply(&cmd(11, 1, "b", for_(&[2], &[2]))).outcome,
        Outcome::Rejected(Rejection::FriendLimitReached { friend: UserId(2), remaining: 0 })
    );
    assert_eq!(
        sale.apply(&cmd(12, 2, "a", hold_seats(&[2]))).outcome,
        Outcome::Rejected(Rejection::LimitReached { remaining: 0 }),
        "seats booked for someone count against them"
    );
    held(&sale.apply(&cmd(13, 1, "c", hold_seats(&[2, 3]))).outcome);
    assert_eq!(book(&sale).seats_of(UserId(1)), 2);
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn expiry_frees_exactly_the_held_seats_once() {
    let mut sale = open_sale(1, 6, 6, 10);
    let a = held(&sale.apply(&cmd(100, 1, "a", hold_seats(&[0, 1]))).outcome);
    let b = held(&sale.apply(&cmd(105, 2, "a", hold_seats(&[3]))).outcome);
    assert_eq!((a.expires_at_us, b.expires_at_us), (110, 115));
    assert_eq!(sale.next_deadline_us(), Some(110));

    let early = sale.apply(&Input::Tick { at_us: 109 });
    assert!(!early.changed);
    assert_eq!(book(&sale).view().held, 3);

    let at = sale.apply(&Input::Tick { at_us: 110 });
    assert!(at.changed);
    assert_eq!(at.events.first(), Some(&Event::SeatsFreed { seats: vec![SeatId(0), SeatId(1)] }));
    assert!(
        matches!(&at.events[1..], [Event::Hold { change: HoldChange::Expired, hold: HoldFact::Seats(h) }]
            if h.id == a.id && h.status == HoldStatus::Expired),
        "{:?}",
        at.events
    );
    let b_ = book(&sale);
    assert_eq!((b_.owner_of(SeatId(0)), b_.owner_of(SeatId(1)), b_.owner_of(SeatId(3))), (None, None, Some(b.id)));
    assert_eq!(b_.taken_bits(), &[1 << 3]);
    assert_eq!(b_.hold(a.id).map(|h| h.status), Some(HoldStatus::Expired));
    assert_eq!(b_.seats_of(UserId(1)), 0);

    let again = sale.apply(&Input::Tick { at_us: 110 });
    assert!(!again.changed && again.events.is_empty(), "nothing is freed twice");
    assert_eq!(
        sale.apply(&cmd(111, 1, "b", Action::Confirm { hold: a.id })).outcome,
        Outcome::Rejected(Rejection::HoldExpired)
    );
    assert_eq!(
        sale.apply(&cmd(112, 1, "c", Action::Cancel { hold: a.id })).outcome,
        Outcome::Rejected(Rejection::HoldExpired)
    );
    assert_eq!(
        sale.apply(&cmd(113, 1, "d", Action::Seated(SeatedAction::ReleaseSeat { order: a.id, seat: SeatId(0) })))
            .outcome,
        Outcome::Rejected(Rejection::HoldExpired)
    );

    // Confirming at the expiry instant is too late; the seat is freed by that very command.
    let late = sale.apply(&cmd(115, 2, "b", Action::Confirm { hold: b.id }));
    assert_eq!(late.outcome, Outcome::Rejected(Rejection::HoldExpired));
    assert_eq!(late.events.first(), Some(&Event::SeatsFreed { seats: vec![SeatId(3)] }));
    assert!(
        matches!(&late.events[1..], [Event::Hold { change: HoldChange::Expired, hold: HoldFact::Seats(h) }] if h.id == b.id),
        "{:?}",
        late.events
    );
    assert_eq!(book(&sale).view().available, 6);
    assert!(sale.apply(&Input::Tick { at_us: 500 }).events.is_empty());
    assert_eq!(sale.next_deadline_us(), None);
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn swap_keeps_the_holder_and_moves_exactly_one_seat() {
    let mut sale = two_section_sale(4);
    let h = held(
        &sale
            .apply(&cmd(
                10,
                1,
                "a",
                Action::Seated(SeatedAction::HoldSeats {
                    seats: vec![SeatId(0), SeatId(1)],
                    holders: vec![UserId(1), UserId(2)],
                }),
            ))
            .outcome,
    );
    let bits = book(&sale).taken_bits().to_vec();
    let swap =
        |from: u32, to: u32| Action::Seated(SeatedAction::SwapSeat { order: h.id, from: SeatId(from), to: SeatId(to) });
    let got = match sale.apply(&cmd(11, 1, "b", swap(1, 9))).outcome {
        Outcome::Seated(SeatedOutcome::SeatSwapped(h)) => h,
        other => panic!("expected a swap, got {other:?}"),
    };
    assert_eq!(
        got.seats,
        vec![
            HeldSeat { seat: SeatId(0), holder: UserId(1), price: 300 },
            HeldSeat { seat: SeatId(9), holder: UserId(2), price: 100 },
        ],
        "the friend keeps their place in the hold, at the new seat's price"
    );
    assert_eq!(got.released, vec![HeldSeat { seat: SeatId(1), holder: UserId(2), price: 300 }]);
    assert_eq!((got.status, got.expires_at_us), (HoldStatus::Held, h.expires_at_us));
    let b = book(&sale);
    assert_eq!(b.taken_bits(), &[(bits[0] & !(1 << 1)) | (1 << 9)]);
    assert_eq!((b.owner_of(SeatId(1)), b.owner_of(SeatId(9))), (None, Some(h.id)));
    assert_eq!((b.seats_of(UserId(1)), b.seats_of(UserId(2))), (1, 1));

    // Onto a taken seat, or someone else's hold: nothing moves.
    held(&sale.apply(&cmd(12, 3, "a", hold_seats(&[5]))).outcome);
    let before = book(&sale).clone();
    assert_eq!(
        sale.apply(&cmd(13, 1, "c", swap(0, 5))).outcome,
        Outcome::Rejected(Rejection::SeatsTaken { count: 1, seats: vec![SeatId(5)] })
    );
    assert_eq!(sale.apply(&cmd(14, 3, "b", swap(0, 6))).outcome, Outcome::Rejected(Rejection::NotYourHold));
    assert!(*book(&sale) == before);

    // A paid order swaps too, and stays paid.
    assert!(matches!(
        sale.apply(&cmd(15, 1, "d", Action::Confirm { hold: h.id })).outcome,
        Outcome::Seated(SeatedOutcome::Confirmed(_))
    ));
    let got = match sale.apply(&cmd(16, 1, "e", swap(0, 2))).outcome {
        Outcome::Seated(SeatedOutcome::SeatSwapped(h)) => h,
        other => panic!("expected a swap, got {other:?}"),
    };
    assert_eq!(got.status, HoldStatus::Confirmed);
    assert_eq!((book(&sale).view().sold, book(&sale).view().held), (2, 1));
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn releasing_the_last_seat_ends_the_hold_or_the_order() {
    let mut sale = open_sale(1, 6, 6, 1_000);
    let release = |order: HoldId, seat: u32| Action::Seated(SeatedAction::ReleaseSeat { order, seat: SeatId(seat) });
    let released = |o: Outcome| match o {
        Outcome::Seated(SeatedOutcome::SeatReleased(h)) => h,
        other => panic!("expected a release, got {other:?}"),
    };

    let hold = held(&sale.apply(&cmd(10, 1, "a", hold_seats(&[0, 1]))).outcome).id;
    let h = released(sale.apply(&cmd(11, 1, "b", release(hold, 0))).outcome);
    assert_eq!((h.status, seat_ids(&h)), (HoldStatus::Held, vec![1]));
    assert_eq!(book(&sale).owner_of(SeatId(0)), None);
    assert_eq!(sale.apply(&cmd(12, 1, "c", release(hold, 0))).outcome, Outcome::Rejected(Rejection::SeatNotInOrder));
    let h = released(sale.apply(&cmd(13, 1, "d", release(hold, 1))).outcome);
    assert_eq!((h.status, h.seats.len(), h.released.len()), (HoldStatus::Cancelled, 0, 2));
    assert_eq!(sale.next_deadline_us(), None, "a cancelled hold no longer expires");
    assert_eq!(
        sale.apply(&cmd(14, 1, "e", Action::Confirm { hold })).outcome,
        Outcome::Rejected(Rejection::HoldNotActive)
    );

    let order = held(&sale.apply(&cmd(20, 1, "f", hold_seats(&[2, 3]))).outcome).id;
    assert!(matches!(
        sale.apply(&cmd(21, 1, "g", Action::Confirm { hold: order })).outcome,
        Outcome::Seated(SeatedOutcome::Confirmed(_))
    ));
    let h = released(sale.apply(&cmd(22, 1, "h", release(order, 3))).outcome);
    assert_eq!((h.status, seat_ids(&h)), (HoldStatus::Confirmed, vec![2]));
    assert_eq!(book(&sale).view().sold, 1);
    let h = released(sale.apply(&cmd(23, 1, "i", release(order, 2))).outcome);
    assert_eq!(h.status, HoldStatus::Refunded);
    assert_eq!(
        sale.apply(&cmd(24, 1, "j", Action::Refund { order })).outcome,
        Outcome::Rejected(Rejection::AlreadyRefunded)
    );
    let v = book(&sale).view();
    assert_eq!((v.available, v.held, v.sold), (6, 0, 0));
    assert_eq!(book(&sale).seats_of(UserId(1)), 0);
    assert_eq!(sale.check_invariants(), Ok(()));
}
