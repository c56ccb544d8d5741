//! Simple models the run is checked against, written apart from the core:
//! stock and seat accounting rebuilt from the answers alone, per-person
//! limits, hold expiry by the clock, drop ranks, idempotent answers, and the
//! waiting room's passes as a history that may only move forward.
//!
//! The model learns every input that became durable, in log order (answers
//! given, and inputs a torn append left in the log unanswered), and checks
//! each answer against what it knows; after every step it compares itself
//! with the sales' state.

use std::collections::{BTreeMap, VecDeque};

use stampede_core::{
    Action, AdmissionPolicy, DropAction, HoldId, HoldStatus, IDEMPOTENCY_KEYS_PER_PERSON_MAX, IDEMPOTENCY_TTL_US,
    IdempotencyKey, KindConfig, Outcome, PassState, Rejection, Sale, SaleConfig, SeatId, SeatedAction, SeatedOutcome,
    StockAction, StockOutcome, UserId,
};

/// A durable input of one sale: a command with its answer, or a tick.
#[derive(Clone, Debug)]
pub struct Learned {
    pub at_us: i64,
    pub command: Option<(UserId, IdempotencyKey, Action, Outcome)>,
}

/// A hold as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MHold {
    by: UserId,
    status: HoldStatus,
    expires_at_us: i64,
    /// Units of stock, or seats (each counted against its holder).
    quantity: u32,
    seats: Vec<(SeatId, UserId)>,
}

impl MHold {
    fn counted(&self) -> Vec<(UserId, u32)> {
        if self.seats.is_empty() {
            vec![(self.by, self.quantity)]
        } else {
            self.seats.iter().map(|(_, who)| (*who, 1)).collect()
        }
    }
}

#[derive(Debug)]
enum Kind {
    Stock { total: u64, limit: u32, max: u32, ttl: i64 },
    Drop { winners: u32, clicks: Vec<stampede_core::Click> },
    Seated { seats: u32, limit: u32, ttl: i64, owner: BTreeMap<u32, u64> },
}

/// One person's remembered keys on one sale, as the core's table keeps them.
#[derive(Debug, Default)]
struct Keys {
    first: BTreeMap<IdempotencyKey, (Action, Outcome)>,
    order: VecDeque<(i64, IdempotencyKey)>,
}

#[derive(Debug)]
pub struct SaleModel {
    kind: Kind,
    queued: bool,
    holds: BTreeMap<u64, MHold>,
    now_us: i64,
    keys: BTreeMap<UserId, Keys>,
    /// Queue tickets by person, and each ticket's pass as last seen.
    tickets: BTreeMap<UserId, u32>,
    passes: BTreeMap<u32, PassState>,
    /// Admissions seen per `Chunk` period.
    per_period: BTreeMap<i64, u32>,
}

fn fail<T>(what: impl Into<String>) -> Result<T, String> {
    Err(what.into())
}

impl SaleModel {
    pub fn new(config: &SaleConfig) -> Self {
        let kind = match &config.kind {
            KindConfig::Stock(c) => {
                Kind::Stock { total: c.stock, limit: c.per_person_limit, max: c.order_quantity_max, ttl: c.hold_ttl_us }
            }
            KindConfig::Drop(c) => Kind::Drop { winners: c.winners, clicks: Vec::new() },
            KindConfig::Seated(c) => Kind::Seated {
                seats: u32::try_from(c.venue.seat_count()).unwrap_or(u32::MAX),
                limit: c.per_person_limit,
                ttl: c.hold_ttl_us,
                owner: BTreeMap::new(),
            },
        };
        SaleModel {
            kind,
            queued: config.queue.is_some(),
            holds: BTreeMap::new(),
            now_us: i64::MIN,
            keys: BTreeMap::new(),
            tickets: BTreeMap::new(),
            passes: BTreeMap::new(),
            per_period: BTreeMap::new(),
        }
    }

    fn active_of(&self, who: UserId) -> u32 {
        self.holds
            .values()
            .filter(|h| h.status.is_active())
            .flat_map(MHold::counted)
            .filter(|(w, _)| *w == who)
            .map(|(_, n)| n)
            .sum()
    }

    fn units(&self, status: HoldStatus) -> u64 {
        self.holds.values().filter(|h| h.status == status).map(units_of).sum()
    }

    /// Units not held or sold (stock sales).
    fn available(&self) -> u64 {
        match self.kind {
            Kind::Stock { total, .. } => {
                total.saturating_sub(self.units(HoldStatus::Held) + self.units(HoldStatus::Confirmed))
            }
            _ => 0,
        }
    }

    /// The remembered first answer for a key, if the core still remembers it.
    fn recall(&mut self, by: UserId, key: &IdempotencyKey, now: i64) -> Option<&(Action, Outcome)> {
        let keys = self.keys.get_mut(&by)?;
        let horizon = now.saturating_sub(IDEMPOTENCY_TTL_US);
        while keys.order.front().is_some_and(|(at, _)| *at <= horizon) {
            if let Some((_, k)) = keys.order.pop_front() {
                keys.first.remove(&k);
            }
        }
        keys.first.get(key)
    }

    fn remember(&mut self, by: UserId, key: IdempotencyKey, action: Action, outcome: Outcome, at: i64) {
        let keys = self.keys.entry(by).or_default();
        keys.order.push_back((at, key.clone()));
        keys.first.insert(key, (action, outcome));
        while keys.order.len() > IDEMPOTENCY_KEYS_PER_PERSON_MAX {
            if let Some((_, k)) = keys.order.pop_front() {
                keys.first.remove(&k);
            }
        }
    }

    /// Every key the core must still answer from memory when asked at
    /// `now_us`, with its first answer.
    pub fn remembered(&self, now_us: i64) -> Vec<(UserId, IdempotencyKey, Action, Outcome)> {
        let horizon = now_us.max(self.now_us).saturating_sub(IDEMPOTENCY_TTL_US);
        let mut all = Vec::new();
        for (by, keys) in &self.keys {
            for (at, key) in &keys.order {
                if *at > horizon
                    && let Some((action, outcome)) = keys.first.get(key)
                {
                    all.push((*by, key.clone(), action.clone(), outcome.clone()));
                }
            }
        }
        all
    }

    /// Learns one durable input, checking its answer first.
    pub fn learn(&mut self, input: &Learned) -> Result<(), String> {
        if input.at_us < self.now_us {
            return fail(format!("input stamped {} after one stamped {}", input.at_us, self.now_us));
        }
        self.now_us = input.at_us;
        self.expire(input.at_us);
        let Some((by, key, action, outcome)) = &input.command else { return Ok(()) };
        if let Some((first_action, first)) = self.recall(*by, key, input.at_us) {
            let expected =
                if first_action == action { first.clone() } else { Outcome::Rejected(Rejection::IdempotencyKeyReused) };
            if &expected != outcome {
                return fail(format!(
                    "key {} of {by:?} answered {outcome:?}, but its first answer makes it {expected:?}",
                    key.as_str()
                ));
            }
            return Ok(());
        }
        self.act(*by, action, outcome, input.at_us).map_err(|e| format!("{by:?} {action:?} -> {outcome:?}: {e}"))?;
        self.remember(*by, key.clone(), action.clone(), outcome.clone(), input.at_us);
        Ok(())
    }

    /// Holds whose time is up expire when the sale sees an input at or after it.
    fn expire(&mut self, now: i64) {
        for h in self.holds.values_mut() {
            if h.status == HoldStatus::Held && h.expires_at_us <= now {
                h.status = HoldStatus::Expired;
            }
        }
        self.free_seats();
    }

    /// Seats belong to the active hold that holds them, and to no other;
    /// rebuilt from the holds after every change.
    fn free_seats(&mut self) {
        if let Kind::Seated { owner, .. } = &mut self.kind {
            owner.clear();
            for (id, h) in self.holds.iter().filter(|(_, h)| h.status.is_active()) {
                for (s, _) in &h.seats {
                    // A seat in two holds is reported by `claim_seats`.
                    owner.entry(s.0).or_insert(*id);
                }
            }
        }
    }

    fn act(&mut self, by: UserId, action: &Action, outcome: &Outcome, now: i64) -> Result<(), String> {
        match (action, outcome) {
            (Action::Join { .. }, Outcome::Joined(e)) => {
                if e.by != by {
                    return fail("joined as somebody else");
                }
                match self.tickets.get(&by) {
                    Some(t) if *t != e.ticket => return fail(format!("joined again with ticket {}", e.ticket)),
                    Some(_) => {}
                    None => {
                        let next = u32::try_from(self.tickets.len()).unwrap_or(u32::MAX) + 1;
                        if e.ticket != next {
                            return fail(format!("new ticket {} but {} were given before", e.ticket, next - 1));
                        }
                        self.tickets.insert(by, e.ticket);
                    }
                }
                Ok(())
            }
            (Action::Drop(DropAction::Click), Outcome::Drop(stampede_core::DropOutcome::Clicked(c))) => {
                let Kind::Drop { winners, clicks } = &mut self.kind else { return fail("a click outside a drop") };
                if let Some(first) = clicks.iter().find(|f| f.by == by) {
                    return if first == c { Ok(()) } else { fail(format!("a second click differs from {first:?}")) };
                }
                let rank = u32::try_from(clicks.len()).unwrap_or(u32::MAX) + 1;
                if c.by != by || c.rank != rank || c.at_us != now || c.won != (rank <= *winners) {
                    return fail(format!("expected rank {rank} at {now}, won {}", rank <= *winners));
                }
                clicks.push(c.clone());
                Ok(())
            }
            (Action::Stock(StockAction::Reserve { quantity }), _) => self.reserve(by, *quantity, outcome, now),
            (Action::Seated(a), _) => self.seated(by, a, outcome, now),
            (Action::Confirm { hold }, _) => {
                self.lifecycle(by, *hold, HoldStatus::Held, HoldStatus::Confirmed, outcome)
            }
            (Action::Cancel { hold }, _) => self.lifecycle(by, *hold, HoldStatus::Held, HoldStatus::Cancelled, outcome),
            (Action::Refund { order }, _) => {
                self.lifecycle(by, *order, HoldStatus::Confirmed, HoldStatus::Refunded, outcome)
            }
            (_, Outcome::Rejected(_) | Outcome::Opened | Outcome::Closed | Outcome::PowSet { .. }) => Ok(()),
            _ => fail("an answer of the wrong shape"),
        }
    }

    fn reserve(&mut self, by: UserId, quantity: u32, outcome: &Outcome, now: i64) -> Result<(), String> {
        let Kind::Stock { limit, max, ttl, .. } = self.kind else {
            return match outcome {
                Outcome::Rejected(_) => Ok(()),
                _ => fail("a reservation outside a stock sale"),
            };
        };
        let (available, mine) = (self.available(), self.active_of(by));
        match outcome {
            Outcome::Stock(StockOutcome::Held(h)) => {
                let next = self.holds.keys().next_back().map_or(1, |k| k + 1);
                if quantity == 0 || quantity > max {
                    return fail(format!("held a quantity outside 1..={max}"));
                }
                if mine + quantity > limit {
                    return fail(format!("over the limit: had {mine}, limit {limit}"));
                }
                if u64::from(quantity) > available {
                    return fail(format!("oversold: {available} available"));
                }
                if h.id != HoldId(next) || h.by != by || h.quantity != quantity || h.expires_at_us != now + ttl {
                    return fail(format!("expected hold #{next} expiring at {}", now + ttl));
                }
                self.holds.insert(
                    next,
                    MHold { by, status: HoldStatus::Held, expires_at_us: h.expires_at_us, quantity, seats: vec![] },
                );
                Ok(())
            }
            Outcome::Rejected(Rejection::SoldOut { available: a }) if *a != available || u64::from(quantity) <= *a => {
                fail(format!("sold out with {available} available"))
            }
            Outcome::Rejected(Rejection::LimitReached { remaining })
                if *remaining != limit.saturating_sub(mine) || quantity <= *remaining =>
            {
                fail(format!("limit reached with {} remaining", limit.saturating_sub(mine)))
            }
            Outcome::Rejected(_) => Ok(()),
            _ => fail("an answer of the wrong shape"),
        }
    }

    fn seated(&mut self, by: UserId, action: &SeatedAction, outcome: &Outcome, now: i64) -> Result<(), String> {
        let Kind::Seated { seats: total, limit, ttl, owner } = &self.kind else {
            return match outcome {
                Outcome::Rejected(_) => Ok(()),
                _ => fail("a seat answer outside a seated sale"),
            };
        };
        let (total, limit, ttl) = (*total, *limit, *ttl);
        let free = |s: SeatId| s.0 < total && !owner.contains_key(&s.0);
        let h = match outcome {
            Outcome::Seated(o) => o.hold().clone(),
            Outcome::Rejected(Rejection::SeatsTaken { seats, .. }) => {
                if let Some(s) = seats.iter().find(|s| free(**s)) {
                    return fail(format!("seat {} called taken but is free", s.0));
                }
                return Ok(());
            }
            Outcome::Rejected(_) => return Ok(()),
            _ => return fail("an answer of the wrong shape"),
        };
        let id = h.id.0;
        let hold_seats: Vec<(SeatId, UserId)> = h.seats.iter().map(|s| (s.seat, s.holder)).collect();
        match (action, outcome) {
            (
                SeatedAction::HoldSeats { .. } | SeatedAction::HoldBest { .. },
                Outcome::Seated(SeatedOutcome::Held(_)),
            ) => {
                let next = self.holds.keys().next_back().map_or(1, |k| k + 1);
                if id != next || h.by != by || h.expires_at_us != now + ttl {
                    return fail(format!("expected hold #{next} by {by:?} expiring at {}", now + ttl));
                }
                if let SeatedAction::HoldSeats { seats, holders } = action {
                    // Each seat for the person asked for (the booker unless named).
                    let mut asked: Vec<(SeatId, UserId)> =
                        seats.iter().enumerate().map(|(i, s)| (*s, holders.get(i).copied().unwrap_or(by))).collect();
                    let mut got = hold_seats.clone();
                    asked.sort();
                    got.sort();
                    if asked != got {
                        return fail("held other seats, or for other people, than asked");
                    }
                }
                if let Some((s, _)) = hold_seats.iter().find(|(s, _)| !free(*s)) {
                    return fail(format!("seat {} held twice", s.0));
                }
                self.holds.insert(
                    id,
                    MHold {
                        by,
                        status: HoldStatus::Held,
                        expires_at_us: h.expires_at_us,
                        quantity: 0,
                        seats: hold_seats,
                    },
                );
            }
            (SeatedAction::ReleaseSeat { order, seat }, Outcome::Seated(SeatedOutcome::SeatReleased(_))) => {
                let m = self.active_hold(by, *order)?;
                if !m.seats.iter().any(|(s, _)| s == seat) || hold_seats.iter().any(|(s, _)| s == seat) {
                    return fail(format!("released seat {} it did not hold, or kept it", seat.0));
                }
                self.replace(id, &h, hold_seats)?;
            }
            (SeatedAction::SwapSeat { order, from, to }, Outcome::Seated(SeatedOutcome::SeatSwapped(_))) => {
                let m = self.active_hold(by, *order)?;
                if !m.seats.iter().any(|(s, _)| s == from) || !free(*to) {
                    return fail(format!(
                        "swapped {} for {} without holding the one or the other being free",
                        from.0, to.0
                    ));
                }
                self.replace(id, &h, hold_seats)?;
            }
            _ => return fail("an answer of the wrong shape"),
        }
        self.claim_seats(id)?;
        self.check_limit(limit)
    }

    fn active_hold(&self, by: UserId, id: HoldId) -> Result<&MHold, String> {
        match self.holds.get(&id.0) {
            Some(m) if m.by == by && m.status.is_active() => Ok(m),
            _ => fail(format!("changed hold #{} that is not an active hold of its booker", id.0)),
        }
    }

    /// Takes the seats and status the core answered, once checked against the model.
    fn replace(&mut self, id: u64, h: &stampede_core::SeatHold, seats: Vec<(SeatId, UserId)>) -> Result<(), String> {
        let Some(m) = self.holds.get_mut(&id) else { return fail("unknown hold") };
        let expected = match (seats.is_empty(), m.status) {
            (false, s) => s,
            (true, HoldStatus::Confirmed) => HoldStatus::Refunded,
            (true, _) => HoldStatus::Cancelled,
        };
        if h.status != expected {
            return fail(format!("hold #{id} is {:?}, expected {expected:?}", h.status));
        }
        m.seats = seats;
        m.status = expected;
        self.free_seats();
        Ok(())
    }

    fn claim_seats(&mut self, id: u64) -> Result<(), String> {
        self.free_seats();
        let Some(m) = self.holds.get(&id) else { return Ok(()) };
        if !m.status.is_active() {
            return Ok(());
        }
        if let Kind::Seated { owner, .. } = &self.kind
            && let Some((s, _)) = m.seats.iter().find(|(s, _)| owner.get(&s.0) != Some(&id))
        {
            return fail(format!("seat {} in hold #{id} and in hold {:?}", s.0, owner.get(&s.0)));
        }
        Ok(())
    }

    fn check_limit(&self, limit: u32) -> Result<(), String> {
        let mut per: BTreeMap<UserId, u32> = BTreeMap::new();
        for h in self.holds.values().filter(|h| h.status.is_active()) {
            for (who, n) in h.counted() {
                *per.entry(who).or_default() += n;
            }
        }
        match per.iter().find(|(_, n)| **n > limit) {
            Some((who, n)) => fail(format!("{who:?} has {n}, over the limit {limit}")),
            None => Ok(()),
        }
    }

    /// Confirm, cancel or refund: `from` → `to` if the answer says it happened.
    fn lifecycle(
        &mut self,
        by: UserId,
        id: HoldId,
        from: HoldStatus,
        to: HoldStatus,
        outcome: &Outcome,
    ) -> Result<(), String> {
        let known = self.holds.get(&id.0).cloned();
        let done = match outcome {
            Outcome::Stock(o) => Some(o.hold().status),
            Outcome::Seated(o) => Some(o.hold().status),
            Outcome::Rejected(r) => {
                let consistent = match (r, &known) {
                    (Rejection::UnknownHold, k) => k.is_none(),
                    (Rejection::UnknownOrder, k) => k.as_ref().is_none_or(|m| {
                        m.by != by || !matches!(m.status, HoldStatus::Confirmed | HoldStatus::Refunded)
                    }),
                    (Rejection::NotYourHold, Some(m)) => m.by != by,
                    (Rejection::HoldExpired, Some(m)) => m.status == HoldStatus::Expired,
                    (Rejection::HoldNotActive, Some(m)) => m.status != from && m.status != HoldStatus::Expired,
                    (Rejection::AlreadyRefunded, Some(m)) => m.status == HoldStatus::Refunded,
                    (Rejection::WrongSaleKind, _) => matches!(self.kind, Kind::Drop { .. }),
                    (
                        Rejection::NotYourHold
                        | Rejection::HoldExpired
                        | Rejection::HoldNotActive
                        | Rejection::AlreadyRefunded,
                        None,
                    ) => false,
                    _ => true,
                };
                if !consistent {
                    return fail(format!("rejected, but the model has hold #{} as {known:?}", id.0));
                }
                None
            }
            _ => return fail("an answer of the wrong shape"),
        };
        let Some(status) = done else { return Ok(()) };
        match known {
            Some(m) if m.by == by && m.status == from && status == to => {
                if let Some(m) = self.holds.get_mut(&id.0) {
                    m.status = to;
                }
                self.free_seats();
                Ok(())
            }
            _ => fail(format!("hold #{} became {status:?}, but the model has it as {known:?}", id.0)),
        }
    }

    /// Compares the model with the sale's state after a step.
    pub fn compare(&mut self, sale: &Sale) -> Result<(), String> {
        match &self.kind {
            Kind::Stock { total, limit, .. } => {
                let book = sale.stock().ok_or("not a stock sale")?;
                let v = book.view();
                let (held, sold) = (self.units(HoldStatus::Held), self.units(HoldStatus::Confirmed));
                if (v.available, v.held, v.sold) != (self.available(), held, sold) || v.total != *total {
                    return fail(format!(
                        "stock {v:?}, model: available {} held {held} sold {sold} of {total}",
                        self.available()
                    ));
                }
                if book.holds_after(HoldId(0), usize::MAX).count() != self.holds.len() {
                    return fail("the sale has holds nobody was told of");
                }
                for (id, m) in &self.holds {
                    let found = book.hold(HoldId(*id)).map(|h| (h.status, h.by, h.quantity));
                    if found != Some((m.status, m.by, m.quantity)) {
                        return fail(format!("hold #{id}: sale {found:?}, model {:?}", (m.status, m.by, m.quantity)));
                    }
                }
                self.check_limit(*limit)?;
            }
            Kind::Drop { winners, clicks } => {
                let book = sale.drop_book().ok_or("not a drop")?;
                if book.clicks() != clicks.as_slice() {
                    return fail(format!(
                        "{} clicks ranked, model {} (winners {winners})",
                        book.clicks().len(),
                        clicks.len()
                    ));
                }
            }
            Kind::Seated { seats, owner, .. } => {
                let book = sale.seats().ok_or("not a seated sale")?;
                for s in 0..*seats {
                    let found = book.owner_of(SeatId(s)).map(|h| h.0);
                    if found != owner.get(&s).copied() {
                        return fail(format!("seat {s}: sale says hold {found:?}, model {:?}", owner.get(&s)));
                    }
                }
                if book.holds_after(HoldId(0), usize::MAX).count() != self.holds.len() {
                    return fail("the sale has holds nobody was told of");
                }
                for (id, m) in &self.holds {
                    if book.hold(HoldId(*id)).map(|h| h.status) != Some(m.status) {
                        return fail(format!(
                            "hold #{id}: sale {:?}, model {:?}",
                            book.hold(HoldId(*id)).map(|h| h.status),
                            m.status
                        ));
                    }
                }
            }
        }
        self.compare_queue(sale)?;
        // Last, so a bug is reported by the model when the model sees it.
        sale.check_invariants().map_err(|e| format!("the core's own invariants: {e}"))
    }

    /// Passes only move forward (waiting, admitted once, then used or
    /// expired), live passes stay within the policy, and whoever took
    /// something from a sale behind a waiting room had been admitted.
    fn compare_queue(&mut self, sale: &Sale) -> Result<(), String> {
        let Some(room) = sale.waiting_room() else {
            return if self.queued { fail("the waiting room is gone") } else { Ok(()) };
        };
        let opened = sale.schedule().opened_at_us;
        let mut live = 0u32;
        for e in room.entries() {
            let before = self.passes.get(&e.ticket).copied().unwrap_or(PassState::Waiting);
            let ok = match (before, e.pass) {
                (a, b) if a == b => true,
                // Let in and used up (or, never within one step, expired) since the last look.
                (
                    PassState::Waiting,
                    PassState::Admitted { at_us, .. } | PassState::Used { at_us } | PassState::Expired { at_us },
                ) => {
                    if let (AdmissionPolicy::Chunk { every_us, .. }, Some(o)) = (room.config().policy, opened) {
                        *self.per_period.entry((at_us - o).max(0) / every_us.max(1)).or_default() += 1;
                    }
                    true
                }
                (PassState::Admitted { .. }, PassState::Used { .. } | PassState::Expired { .. }) => true,
                _ => false,
            };
            if !ok {
                return fail(format!("ticket {}: pass went from {before:?} to {:?}", e.ticket, e.pass));
            }
            self.passes.insert(e.ticket, e.pass);
            live += u32::from(matches!(e.pass, PassState::Admitted { .. }));
        }
        match room.config().policy {
            AdmissionPolicy::Active { max } if live > max => return fail(format!("{live} live passes, at most {max}")),
            AdmissionPolicy::Chunk { size, .. } => {
                if let Some((p, n)) = self.per_period.iter().find(|(_, n)| **n > size) {
                    return fail(format!("{n} admitted in period {p}, at most {size}"));
                }
            }
            AdmissionPolicy::Active { .. } => {}
        }
        let admitted = self.passes.values().filter(|p| !matches!(p, PassState::Waiting)).count();
        if admitted != room.view().admitted as usize {
            return fail(format!("{admitted} passes given, the room counts {}", room.view().admitted));
        }
        let takers = self.holds.values().map(|h| h.by).chain(match &self.kind {
            Kind::Drop { clicks, .. } => clicks.iter().map(|c| c.by).collect(),
            _ => Vec::new(),
        });
        for by in takers {
            let entry = room.entry_of(by);
            if !entry.is_some_and(|e| !matches!(e.pass, PassState::Waiting)) {
                return fail(format!("{by:?} took something without a pass ({entry:?})"));
            }
        }
        Ok(())
    }
}

fn units_of(h: &MHold) -> u64 {
    if h.seats.is_empty() { u64::from(h.quantity) } else { h.seats.len() as u64 }
}
