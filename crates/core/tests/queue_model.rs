#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Model-based tests of the waiting room in front of a sale.
//!
//! `Sale::apply` is driven with random joins (with good and bad proofs of
//! work, from a few network addresses), buying commands, opens, closes,
//! proof-of-work changes and ticks, on stock and drop sales with either
//! admission policy, and compared after every input with [`Model`]: a plain
//! list of people in ticket order, searched by loops, with the documented
//! shuffle (`blake3`) and proof of work (SHA-256) recomputed here directly.
//! The model shares only data types with the core, never its logic.
//!
//! On top of the comparison, the acceptance properties are stated on the
//! core's own answers: the line is the documented shuffle then arrival order,
//! a pass goes `Waiting -> Admitted` at most once and in place order, the
//! policy's bound holds and the room never idles while someone could be let
//! in, a pass is refused past its lifetime, once it bought up to the
//! per-person limit and in another sale,
//! a refused command changes nothing, and the same inputs give the same sale.

mod kit;

use stampede_core::{DropAction, DropOutcome, SeatedAction, StockAction, StockOutcome};
use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use sha2::{Digest, Sha256};
use stampede_core::{
    Action, AdmissionPolicy, Applied, Click, Command, DropConfig, DropView, Event, Hold, HoldChange, HoldFact, HoldId,
    HoldStatus, IdempotencyKey, Input, KindConfig, Outcome, PassState, QueueConfig, QueueEntry, QueueView, Rejection,
    Sale, SaleConfig, SaleStatus, StockConfig, StockView, UserId, WaitingRoom, leading_zero_bits, pow_hash, pow_ok,
    prequeue_order, solve_pow,
};

/// Roughly where every generated run starts, in microseconds.
const T0: i64 = 1_000;
const PRICE: u64 = 100;
const USERS: u64 = 8;
const ADDRESSES: u64 = 4;
const OWNER: u64 = 99;
/// The documented proof-of-work domain, written again here.
const POW_TAG: &[u8] = b"stampede-pow-v1";
/// The documented ceiling of `pow_bits`.
const POW_CEILING: u8 = 28;
/// Above this the generator does not try to solve (it would take too long in debug builds).
const SOLVABLE_BITS: u8 = 8;

// ---------------------------------------------------------------------------
// Helpers shared by the properties and the examples
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum KindSetup {
    Stock { stock: u64, per_person_limit: u32, order_quantity_max: u32, hold_ttl_us: i64 },
    Drop { winners: u32 },
}

#[derive(Clone, Debug)]
struct Setup {
    kind: KindSetup,
    opens_at_us: Option<i64>,
    closes_at_us: Option<i64>,
    policy: AdmissionPolicy,
    pass_ttl_us: i64,
    prequeue_opens_at_us: Option<i64>,
    pow_bits: u8,
    places_per_address: u32,
    seed: [u8; 32],
    /// False: the rule of sales logged before passes were good up to the limit (one checkout).
    pass_up_to_limit: bool,
}

fn kind_config(kind: &KindSetup) -> KindConfig {
    match *kind {
        KindSetup::Stock { stock, per_person_limit, order_quantity_max, hold_ttl_us } => {
            KindConfig::Stock(StockConfig { stock, price: PRICE, per_person_limit, order_quantity_max, hold_ttl_us })
        }
        KindSetup::Drop { winners } => KindConfig::Drop(DropConfig { winners }),
    }
}

fn sale_config(s: &Setup) -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "Stampede queue test".into(),
        description: String::new(),
        owner: UserId(OWNER),
        currency: "KRW".into(),
        opens_at_us: s.opens_at_us,
        closes_at_us: s.closes_at_us,
        kind: kind_config(&s.kind),
        queue: Some(QueueConfig {
            policy: s.policy,
            pass_ttl_us: s.pass_ttl_us,
            prequeue_opens_at_us: s.prequeue_opens_at_us,
            pow_bits: s.pow_bits,
            places_per_address: s.places_per_address,
            seed: s.seed,
            pass_up_to_limit: s.pass_up_to_limit,
        }),
    }
}

fn key(name: &str) -> IdempotencyKey {
    IdempotencyKey::parse(name).expect("a valid key")
}

fn cmd(at_us: i64, by: u64, key_name: &str, action: Action) -> Input {
    Input::Command(Command { at_us, by: UserId(by), key: key(key_name), action })
}

fn room(sale: &Sale) -> &WaitingRoom {
    sale.waiting_room().expect("every sale here has a waiting room")
}

/// The documented commitment: `blake3(seed)`.
fn commitment_of(seed: &[u8; 32]) -> [u8; 32] {
    *blake3::hash(seed).as_bytes()
}

/// The documented shuffle, written again: place `p` holds the ticket with the
/// `p`-th smallest `blake3(seed || ticket as u32 LE)`, ties by ticket. Done by
/// repeatedly picking the smallest remaining key, not by sorting.
fn documented_shuffle(seed: &[u8; 32], n: u32) -> Vec<u32> {
    let mut left: Vec<(u32, [u8; 32])> = Vec::new();
    for ticket in 1..=n {
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(&ticket.to_le_bytes());
        left.push((ticket, *blake3::hash(&bytes).as_bytes()));
    }
    let mut order = Vec::new();
    while !left.is_empty() {
        let mut best = 0;
        for i in 1..left.len() {
            let (t, h) = &left[i];
            let (bt, bh) = &left[best];
            if h < bh || (h == bh && t < bt) {
                best = i;
            }
        }
        order.push(left.remove(best).0);
    }
    order
}

/// The documented proof-of-work hash, written again:
/// `SHA-256("stampede-pow-v1" || commitment || user as u64 LE || nonce as u64 LE)`.
fn documented_pow_hash(commitment: &[u8; 32], by: u64, nonce: u64) -> [u8; 32] {
    let mut bytes = POW_TAG.to_vec();
    bytes.extend_from_slice(commitment);
    bytes.extend_from_slice(&by.to_le_bytes());
    bytes.extend_from_slice(&nonce.to_le_bytes());
    Sha256::digest(&bytes).into()
}

/// The documented proof of work: the hash starts with at least `bits` zero
/// bits, most significant bit of byte 0 first.
fn documented_pow(commitment: &[u8; 32], by: u64, nonce: u64, bits: u8) -> bool {
    let hash = documented_pow_hash(commitment, by, nonce);
    let mut zeros = 0u32;
    'scan: for byte in &hash {
        for bit in (0..8).rev() {
            if (byte >> bit) & 1 == 1 {
                break 'scan;
            }
            zeros += 1;
        }
    }
    zeros >= u32::from(bits)
}

/// A nonce that fails `bits` (for `bits >= 1`), found with the independent check.
fn bad_nonce(commitment: &[u8; 32], by: u64, bits: u8) -> u64 {
    (0u64..).find(|n| !documented_pow(commitment, by, *n, bits)).unwrap()
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct MEntry {
    ticket: u32,
    by: u64,
    address: u64,
    place: Option<u32>,
    pass: PassState,
    /// When the pass was issued; kept apart because `Used`/`Expired` forget it.
    admitted_at: Option<i64>,
    /// Units bought while the pass was live.
    bought: u32,
}

#[derive(Clone, Debug)]
struct MHold {
    id: u64,
    by: u64,
    quantity: u32,
    status: HoldStatus,
    created_at_us: i64,
    expires_at_us: i64,
}

/// What the model says one input did.
#[derive(Debug)]
struct MStep {
    outcome: Outcome,
    status_before: SaleStatus,
    status_after: SaleStatus,
    /// A command that was carried out (not a tick, not a remembered key).
    acted: bool,
    expired_holds: Vec<(u64, u64, u32)>,
    passes_expired: u32,
    admitted: u32,
    shuffled: Option<u32>,
    joined: Option<u32>,
    new_click: bool,
}

struct Model {
    setup: Setup,
    status: SaleStatus,
    opened_at: Option<i64>,
    now: i64,
    pow_bits: u8,
    /// In ticket order.
    entries: Vec<MEntry>,
    shuffled: bool,
    prequeue_len: u32,
    holds: Vec<MHold>,
    clicks: Vec<Click>,
    /// (person, key, action, first outcome), in arrival order.
    remembered: Vec<(u64, String, Action, Outcome)>,
    // Per-input tallies.
    passes_expired: u32,
    admitted: u32,
    shuffled_now: Option<u32>,
    joined_now: Option<u32>,
}

impl Model {
    fn new(setup: Setup) -> Self {
        Model {
            status: SaleStatus::Scheduled,
            opened_at: None,
            now: i64::MIN,
            pow_bits: setup.pow_bits.min(POW_CEILING),
            entries: Vec::new(),
            shuffled: false,
            prequeue_len: 0,
            holds: Vec::new(),
            clicks: Vec::new(),
            remembered: Vec::new(),
            passes_expired: 0,
            admitted: 0,
            shuffled_now: None,
            joined_now: None,
            setup,
        }
    }

    fn is_stock(&self) -> bool {
        matches!(self.setup.kind, KindSetup::Stock { .. })
    }

    fn entry_of(&self, by: u64) -> Option<&MEntry> {
        self.entries.iter().find(|e| e.by == by)
    }

    fn queue_entry(e: &MEntry) -> QueueEntry {
        QueueEntry { ticket: e.ticket, by: UserId(e.by), place: e.place, pass: e.pass, bought: e.bought }
    }

    fn queue_entries(&self) -> Vec<QueueEntry> {
        self.entries.iter().map(Self::queue_entry).collect()
    }

    /// Tickets in place order.
    fn line(&self) -> Vec<u32> {
        let mut line = Vec::new();
        let mut place = 1;
        while let Some(e) = self.entries.iter().find(|e| e.place == Some(place)) {
            line.push(e.ticket);
            place += 1;
        }
        line
    }

    fn live(&self) -> u32 {
        self.entries.iter().filter(|e| matches!(e.pass, PassState::Admitted { .. })).count() as u32
    }

    fn ever_admitted(&self) -> u32 {
        self.entries.iter().filter(|e| e.admitted_at.is_some()).count() as u32
    }

    fn waiting_placed(&self) -> u32 {
        self.entries.iter().filter(|e| e.place.is_some() && e.pass == PassState::Waiting).count() as u32
    }

    fn view(&self) -> QueueView {
        let joined = self.entries.len() as u32;
        QueueView {
            policy: self.setup.policy,
            pass_ttl_us: self.setup.pass_ttl_us,
            prequeue_opens_at_us: self.setup.prequeue_opens_at_us,
            joined,
            prequeue: !self.shuffled,
            prequeue_len: if self.shuffled { Some(self.prequeue_len) } else { None },
            admitted: self.ever_admitted(),
            waiting: if self.shuffled { self.waiting_placed() } else { joined },
            active: self.live(),
            pow_bits: self.pow_bits,
            commitment: commitment_of(&self.setup.seed),
            seed: if self.shuffled { Some(self.setup.seed) } else { None },
        }
    }

    /// The `Chunk` period containing now, counted from the sale's opening.
    fn period(&self, every: i64) -> (i64, i64) {
        let origin = self.opened_at.expect("periods only while open");
        let k = (self.now - origin).div_euclid(every);
        (origin + k * every, origin + (k + 1) * every)
    }

    fn has_capacity(&self) -> bool {
        match self.setup.policy {
            AdmissionPolicy::Active { max } => self.live() < max,
            AdmissionPolicy::Chunk { size, every_us } => {
                let (start, end) = self.period(every_us);
                let used = self.entries.iter().filter(|e| e.admitted_at.is_some_and(|a| start <= a && a < end)).count();
                (used as u32) < size
            }
        }
    }

    fn shuffle(&mut self) {
        let n = self.entries.len() as u32;
        let order = documented_shuffle(&self.setup.seed, n);
        for (i, ticket) in order.iter().enumerate() {
            for e in &mut self.entries {
                if e.ticket == *ticket {
                    e.place = Some(i as u32 + 1);
                }
            }
        }
        self.shuffled = true;
        self.prequeue_len = n;
        self.shuffled_now = Some(n);
    }

    /// Brings the room up to date with the sale: shuffled once the sale has
    /// opened, passes past their lifetime expired, and as many people let in
    /// as the policy allows while the sale is open.
    fn settle(&mut self) {
        if self.opened_at.is_some() && !self.shuffled {
            self.shuffle();
        }
        for e in &mut self.entries {
            if let PassState::Admitted { expires_at_us, .. } = e.pass
                && expires_at_us <= self.now
            {
                e.pass = PassState::Expired { at_us: expires_at_us };
                self.passes_expired += 1;
            }
        }
        if self.status != SaleStatus::Open {
            return;
        }
        loop {
            let mut next: Option<usize> = None;
            for (i, e) in self.entries.iter().enumerate() {
                if e.pass == PassState::Waiting
                    && let Some(p) = e.place
                    && next.is_none_or(|j| self.entries[j].place.is_some_and(|q| p < q))
                {
                    next = Some(i);
                }
            }
            let Some(i) = next else { break };
            if !self.has_capacity() {
                break;
            }
            let now = self.now;
            let e = &mut self.entries[i];
            e.pass = PassState::Admitted { at_us: now, expires_at_us: now + self.setup.pass_ttl_us };
            e.admitted_at = Some(now);
            self.admitted += 1;
        }
    }

    fn check_pass(&self, by: u64, at: i64) -> Result<(), Rejection> {
        let Some(e) = self.entry_of(by) else { return Err(Rejection::NotInQueue) };
        match e.pass {
            PassState::Waiting => Err(Rejection::NotAdmitted),
            PassState::Admitted { expires_at_us, .. } => {
                if at < expires_at_us {
                    Ok(())
                } else {
                    Err(Rejection::PassExpired)
                }
            }
            PassState::Expired { .. } => Err(Rejection::PassExpired),
            PassState::Used { .. } => Err(Rejection::PassUsed),
        }
    }

    /// What a pass is good for: the documented per-person limit (a stock
    /// sale's, one click in a drop), or one checkout under the old rule.
    fn limit(&self) -> u32 {
        if !self.setup.pass_up_to_limit {
            return 1;
        }
        match self.setup.kind {
            KindSetup::Stock { per_person_limit, .. } => per_person_limit,
            KindSetup::Drop { .. } => 1,
        }
    }

    /// A live pass counts what it bought and ends once that reaches the limit.
    fn record_purchase(&mut self, by: u64, units: u32) {
        let (now, limit) = (self.now, self.limit());
        for e in &mut self.entries {
            if e.by == by && matches!(e.pass, PassState::Admitted { .. }) {
                e.bought += units;
                if e.bought >= limit {
                    e.pass = PassState::Used { at_us: now };
                }
            }
        }
    }

    fn held(&self) -> u64 {
        self.holds.iter().filter(|h| h.status == HoldStatus::Held).map(|h| u64::from(h.quantity)).sum()
    }

    fn sold(&self) -> u64 {
        self.holds.iter().filter(|h| h.status == HoldStatus::Confirmed).map(|h| u64::from(h.quantity)).sum()
    }

    fn as_hold(h: &MHold) -> Hold {
        Hold {
            id: HoldId(h.id),
            by: UserId(h.by),
            quantity: h.quantity,
            status: h.status,
            created_at_us: h.created_at_us,
            expires_at_us: h.expires_at_us,
            price: PRICE,
        }
    }

    /// The earliest future instant at which something happens by itself.
    fn deadline(&self) -> Option<i64> {
        let mut candidates = Vec::new();
        if self.status == SaleStatus::Scheduled {
            candidates.extend(self.setup.opens_at_us);
        }
        if self.status != SaleStatus::Closed {
            candidates.extend(self.setup.closes_at_us);
        }
        for h in &self.holds {
            if h.status == HoldStatus::Held {
                candidates.push(h.expires_at_us);
            }
        }
        for e in &self.entries {
            if let PassState::Admitted { expires_at_us, .. } = e.pass {
                candidates.push(expires_at_us);
            }
        }
        if let AdmissionPolicy::Chunk { every_us, .. } = self.setup.policy
            && self.status == SaleStatus::Open
            && self.waiting_placed() > 0
        {
            candidates.push(self.period(every_us).1);
        }
        candidates.into_iter().min()
    }

    fn apply(&mut self, input: &Input) -> MStep {
        self.passes_expired = 0;
        self.admitted = 0;
        self.shuffled_now = None;
        self.joined_now = None;
        let clicks_before = self.clicks.len();
        let status_before = self.status;
        let at = match input {
            Input::Command(c) => c.at_us,
            Input::Tick { at_us } => *at_us,
        };
        if at > self.now {
            self.now = at;
        }
        let now = self.now;

        // Time passes: the schedule, holds, then the room.
        if self.status == SaleStatus::Scheduled
            && let Some(opens) = self.setup.opens_at_us
            && opens <= now
        {
            self.status = SaleStatus::Open;
            self.opened_at = Some(opens);
        }
        if self.status != SaleStatus::Closed && self.setup.closes_at_us.is_some_and(|c| c <= now) {
            self.status = SaleStatus::Closed;
        }
        let mut expired_holds = Vec::new();
        for h in &mut self.holds {
            if h.status == HoldStatus::Held && h.expires_at_us <= now {
                h.status = HoldStatus::Expired;
                expired_holds.push((h.id, h.by, h.quantity));
            }
        }
        self.settle();

        let (outcome, acted) = match input {
            Input::Tick { .. } => (Outcome::Ticked, false),
            Input::Command(c) => {
                let (by, key) = (c.by.0, c.key.as_str().to_owned());
                let mut recalled = None;
                for (who, k, action, outcome) in &self.remembered {
                    if *who == by && *k == key {
                        recalled = Some(if *action == c.action {
                            outcome.clone()
                        } else {
                            Outcome::Rejected(Rejection::IdempotencyKeyReused)
                        });
                    }
                }
                match recalled {
                    Some(o) => (o, false),
                    None => {
                        let o = self.act(by, &c.action);
                        self.settle();
                        self.remembered.push((by, key, c.action.clone(), o.clone()));
                        (o, true)
                    }
                }
            }
        };
        MStep {
            outcome,
            status_before,
            status_after: self.status,
            acted,
            expired_holds,
            passes_expired: self.passes_expired,
            admitted: self.admitted,
            shuffled: self.shuffled_now,
            joined: self.joined_now,
            new_click: self.clicks.len() > clicks_before,
        }
    }

    fn act(&mut self, by: u64, action: &Action) -> Outcome {
        let reject = Outcome::Rejected;
        match action {
            Action::Open => match self.status {
                SaleStatus::Scheduled => {
                    self.status = SaleStatus::Open;
                    self.opened_at = Some(self.now);
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
            Action::SetPowBits { bits } => {
                self.pow_bits = (*bits).min(POW_CEILING);
                Outcome::PowSet { bits: self.pow_bits }
            }
            Action::Join { nonce, address } => {
                if let Some(e) = self.entry_of(by) {
                    return Outcome::Joined(Self::queue_entry(e));
                }
                if self.status == SaleStatus::Closed {
                    return reject(Rejection::Closed);
                }
                if self.setup.prequeue_opens_at_us.is_some_and(|at| self.now < at) {
                    return reject(Rejection::QueueNotOpen);
                }
                if !documented_pow(&commitment_of(&self.setup.seed), by, *nonce, self.pow_bits) {
                    return reject(Rejection::BadProofOfWork { bits: self.pow_bits });
                }
                let at_address = self.entries.iter().filter(|e| e.address == *address).count() as u32;
                if at_address >= self.setup.places_per_address {
                    return reject(Rejection::AddressLimitReached);
                }
                let ticket = self.entries.len() as u32 + 1;
                let place = if self.shuffled {
                    Some(self.entries.iter().filter(|e| e.place.is_some()).count() as u32 + 1)
                } else {
                    None
                };
                self.entries.push(MEntry {
                    ticket,
                    by,
                    address: *address,
                    place,
                    pass: PassState::Waiting,
                    admitted_at: None,
                    bought: 0,
                });
                self.joined_now = Some(ticket);
                // A newcomer may be let in at once.
                self.settle();
                Outcome::Joined(Self::queue_entry(self.entry_of(by).expect("just joined")))
            }
            Action::Stock(StockAction::Reserve { quantity }) => {
                let KindSetup::Stock { stock, per_person_limit, order_quantity_max, hold_ttl_us } = self.setup.kind
                else {
                    return reject(Rejection::WrongSaleKind);
                };
                match self.status {
                    SaleStatus::Scheduled => return reject(Rejection::NotOpenYet),
                    SaleStatus::Closed => return reject(Rejection::Closed),
                    SaleStatus::Open => {}
                }
                if let Err(r) = self.check_pass(by, self.now) {
                    return reject(r);
                }
                let q = *quantity;
                if q == 0 || q > order_quantity_max {
                    return reject(Rejection::BadQuantity { max: order_quantity_max });
                }
                let mine: u32 = self
                    .holds
                    .iter()
                    .filter(|h| h.by == by && matches!(h.status, HoldStatus::Held | HoldStatus::Confirmed))
                    .map(|h| h.quantity)
                    .sum();
                let remaining = per_person_limit.saturating_sub(mine);
                if q > remaining {
                    return reject(Rejection::LimitReached { remaining });
                }
                let available = stock - self.held() - self.sold();
                if u64::from(q) > available {
                    return reject(Rejection::SoldOut { available });
                }
                let hold = MHold {
                    id: self.holds.len() as u64 + 1,
                    by,
                    quantity: q,
                    status: HoldStatus::Held,
                    created_at_us: self.now,
                    expires_at_us: self.now + hold_ttl_us,
                };
                let out = Outcome::Stock(StockOutcome::Held(Self::as_hold(&hold)));
                self.holds.push(hold);
                out
            }
            Action::Confirm { hold } | Action::Cancel { hold } => {
                if !self.is_stock() {
                    return reject(Rejection::WrongSaleKind);
                }
                let Some(i) = self.holds.iter().position(|h| h.id == hold.0) else {
                    return reject(Rejection::UnknownHold);
                };
                if self.holds[i].by != by {
                    return reject(Rejection::NotYourHold);
                }
                match self.holds[i].status {
                    HoldStatus::Held => {}
                    HoldStatus::Expired => return reject(Rejection::HoldExpired),
                    _ => return reject(Rejection::HoldNotActive),
                }
                if matches!(action, Action::Confirm { .. }) {
                    self.holds[i].status = HoldStatus::Confirmed;
                    // What is paid for counts against the pass.
                    let units = self.holds[i].quantity;
                    self.record_purchase(by, units);
                    Outcome::Stock(StockOutcome::Confirmed(Self::as_hold(&self.holds[i])))
                } else {
                    self.holds[i].status = HoldStatus::Cancelled;
                    Outcome::Stock(StockOutcome::Cancelled(Self::as_hold(&self.holds[i])))
                }
            }
            Action::Refund { order } => {
                if !self.is_stock() {
                    return reject(Rejection::WrongSaleKind);
                }
                let Some(i) = self.holds.iter().position(|h| h.id == order.0) else {
                    return reject(Rejection::UnknownOrder);
                };
                if self.holds[i].by != by {
                    return reject(Rejection::NotYourHold);
                }
                match self.holds[i].status {
                    HoldStatus::Confirmed => {
                        self.holds[i].status = HoldStatus::Refunded;
                        Outcome::Stock(StockOutcome::Refunded(Self::as_hold(&self.holds[i])))
                    }
                    HoldStatus::Refunded => reject(Rejection::AlreadyRefunded),
                    _ => reject(Rejection::UnknownOrder),
                }
            }
            Action::Seated(SeatedAction::HoldSeats { .. })
            | Action::Seated(SeatedAction::HoldBest { .. })
            | Action::Seated(SeatedAction::ReleaseSeat { .. })
            | Action::Seated(SeatedAction::SwapSeat { .. }) => reject(Rejection::WrongSaleKind),
            // Editing and archiving have their own model (edit_model.rs); these runs never send them.
            Action::Edit(_) | Action::Archive | Action::Ticket(_) => {
                panic!("model: the waiting-room runs do not edit, archive or scan tickets")
            }
            Action::Drop(DropAction::Click) => {
                let KindSetup::Drop { winners } = self.setup.kind else {
                    return reject(Rejection::WrongSaleKind);
                };
                if let Some(c) = self.clicks.iter().find(|c| c.by.0 == by) {
                    return Outcome::Drop(DropOutcome::Clicked(c.clone()));
                }
                let opened = match (self.status, self.opened_at) {
                    (SaleStatus::Scheduled, _) => return reject(Rejection::NotOpenYet),
                    (SaleStatus::Closed, _) => return reject(Rejection::Closed),
                    (SaleStatus::Open, None) => panic!("model: open without an opening time"),
                    (SaleStatus::Open, Some(o)) => o,
                };
                if let Err(r) = self.check_pass(by, self.now) {
                    return reject(r);
                }
                let rank = self.clicks.len() as u32 + 1;
                let click = Click {
                    by: UserId(by),
                    rank,
                    at_us: self.now,
                    won: rank <= winners,
                    after_open_us: self.now - opened,
                };
                self.clicks.push(click.clone());
                self.record_purchase(by, 1);
                Outcome::Drop(DropOutcome::Clicked(click))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// A second sale, to show a pass is bound to its own sale
// ---------------------------------------------------------------------------

/// The person who holds the other sale's only pass, for as long as the test runs.
const OTHER_HOLDER: u64 = 1_000;

/// An open sale of the same kind with its own room, where the holder has the
/// only pass (`Active { max: 1 }`, a very long lifetime) and the odd-numbered
/// users wait behind them; even-numbered users never joined it.
fn other_sale(kind: &KindSetup) -> Sale {
    let mut sale = Sale::new(SaleConfig {
        translations: Vec::new(),
        title: "Another sale".into(),
        description: String::new(),
        owner: UserId(OWNER),
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind: kind_config(kind),
        queue: Some(QueueConfig {
            policy: AdmissionPolicy::Active { max: 1 },
            pass_ttl_us: 1_000_000_000_000,
            prequeue_opens_at_us: None,
            pow_bits: 0,
            places_per_address: 1_000,
            seed: [0xB0; 32],
            pass_up_to_limit: true,
        }),
    });
    let t = T0 - 10_000;
    assert!(matches!(
        sale.apply(&cmd(t, OTHER_HOLDER, "j", Action::Join { nonce: 0, address: 0 })).outcome,
        Outcome::Joined(_)
    ));
    assert_eq!(sale.apply(&cmd(t, OWNER, "open", Action::Open)).outcome, Outcome::Opened);
    for u in (1..=USERS).filter(|u| u % 2 == 1) {
        let joined = sale.apply(&cmd(t, u, "j", Action::Join { nonce: 0, address: 0 })).outcome;
        assert!(matches!(joined, Outcome::Joined(QueueEntry { pass: PassState::Waiting, .. })), "{joined:?}");
    }
    sale
}

// ---------------------------------------------------------------------------
// The checked run: core and model side by side
// ---------------------------------------------------------------------------

struct Run {
    sale: Sale,
    model: Model,
    /// First outcome the core gave per (person, key), with its action.
    first: BTreeMap<(u64, String), (Action, Outcome)>,
    /// The pass of every ticket as the core last showed it, and what it had bought.
    seen: Vec<PassState>,
    seen_bought: Vec<u32>,
    /// Each person's ticket and (once known) place, as first shown.
    people: BTreeMap<UserId, (u32, Option<u32>)>,
    /// When each admission happened, from the core's own states.
    admissions: Vec<i64>,
    other: Sale,
    other_book: (Option<StockView>, Option<DropView>),
    mirrored: u64,
}

impl Run {
    fn new(setup: &Setup) -> Self {
        let other = other_sale(&setup.kind);
        let other_book = (other.view().stock, other.view().drop);
        Run {
            sale: Sale::new(sale_config(setup)),
            model: Model::new(setup.clone()),
            first: BTreeMap::new(),
            seen: Vec::new(),
            seen_bought: Vec::new(),
            people: BTreeMap::new(),
            admissions: Vec::new(),
            other,
            other_book,
            mirrored: 0,
        }
    }

    /// Applies one input. A command whose key the sale knows, and every
    /// join or buying command, is also tried on a copy after a tick to the
    /// same instant, so that its own effect shows on its own: a remembered
    /// key and a refused command change nothing.
    fn drive(&mut self, input: &Input) -> Result<(), TestCaseError> {
        let Input::Command(c) = input else { return self.step(input).map(|_| ()) };
        let slot = (c.by.0, c.key.as_str().to_owned());
        if let Some((first_action, first_outcome)) = self.first.get(&slot).cloned() {
            self.step(&Input::Tick { at_us: c.at_us })?;
            let before = self.sale.clone();
            let applied = self.step(input)?;
            prop_assert!(self.sale == before, "a remembered key changed the sale: {input:?}");
            prop_assert_eq!(&applied.events, &Vec::<Event>::new(), "a remembered key emitted events");
            let expected = if first_action == c.action {
                first_outcome
            } else {
                Outcome::Rejected(Rejection::IdempotencyKeyReused)
            };
            prop_assert_eq!(&applied.outcome, &expected, "remembered key {:?}", slot);
            return Ok(());
        }
        if !matches!(
            c.action,
            Action::Stock(StockAction::Reserve { .. }) | Action::Drop(DropAction::Click) | Action::Join { .. }
        ) {
            return self.step(input).map(|_| ());
        }
        let mut probe = self.sale.clone();
        probe.apply(&Input::Tick { at_us: c.at_us });
        let before = probe.clone();
        let joined_before = room(&before).entries().len() as u32;
        let tried = probe.apply(input);
        let changes_nothing = match &tried.outcome {
            Outcome::Rejected(_) => true,
            Outcome::Joined(e) => e.ticket <= joined_before,
            _ => false,
        };
        if changes_nothing {
            let ctx = format!("{input:?} -> {:?}", tried.outcome);
            prop_assert!(probe.waiting_room() == before.waiting_room(), "the room changed: {ctx}");
            prop_assert!(probe.stock() == before.stock(), "the stock changed: {ctx}");
            prop_assert!(probe.drop_book() == before.drop_book(), "the drop changed: {ctx}");
            prop_assert!(probe.schedule() == before.schedule(), "the schedule changed: {ctx}");
            prop_assert_eq!(probe.view(), before.view(), "{}", ctx);
            prop_assert_eq!(probe.next_deadline_us(), before.next_deadline_us(), "{}", ctx);
            prop_assert_eq!(&tried.events, &Vec::<Event>::new(), "{}", ctx);
            prop_assert_eq!(probe.check_invariants(), Ok(()), "{}", ctx);
        }
        let applied = self.step(input)?;
        prop_assert_eq!(
            &applied.outcome,
            &tried.outcome,
            "a tick at the same instant changed the answer to {:?}",
            input
        );

        // The same buying command in another sale, where this person has no pass.
        if let Action::Stock(StockAction::Reserve { .. }) | Action::Drop(DropAction::Click) = c.action {
            self.mirrored += 1;
            let mirrored = cmd(c.at_us, c.by.0, &format!("m{}", self.mirrored), c.action.clone());
            let got = self.other.apply(&mirrored).outcome;
            let kind_fits = matches!(
                (&self.model.setup.kind, &c.action),
                (KindSetup::Stock { .. }, Action::Stock(StockAction::Reserve { .. }))
                    | (KindSetup::Drop { .. }, Action::Drop(DropAction::Click))
            );
            let want = if !kind_fits {
                Rejection::WrongSaleKind
            } else if c.by.0 % 2 == 1 {
                Rejection::NotAdmitted
            } else {
                Rejection::NotInQueue
            };
            prop_assert_eq!(got, Outcome::Rejected(want), "the other sale accepted {:?}", mirrored);
            prop_assert_eq!(
                (self.other.view().stock, self.other.view().drop),
                self.other_book.clone(),
                "the other sale's book moved"
            );
            prop_assert_eq!(self.other.check_invariants(), Ok(()));
        }
        Ok(())
    }

    fn step(&mut self, input: &Input) -> Result<Applied, TestCaseError> {
        let setup = self.model.setup.clone();
        let applied = self.sale.apply(input);
        let m = self.model.apply(input);
        let now = self.model.now;
        let ctx = format!("input {input:?}");

        // The answer and the whole state, against the model.
        prop_assert_eq!(&applied.outcome, &m.outcome, "{}", ctx);
        prop_assert_eq!(self.sale.check_invariants(), Ok(()), "{}", ctx);
        prop_assert_eq!(self.sale.last_at_us(), now, "{}", ctx);
        prop_assert_eq!(self.sale.view().status, self.model.status, "{}", ctx);
        prop_assert_eq!(self.sale.schedule().opened_at_us, self.model.opened_at, "{}", ctx);
        let r = room(&self.sale);
        prop_assert_eq!(r.entries(), &self.model.queue_entries()[..], "{}", ctx);
        prop_assert_eq!(r.line(), &self.model.line()[..], "{}", ctx);
        let view = r.view();
        prop_assert_eq!(&view, &self.model.view(), "{}", ctx);
        prop_assert_eq!(self.sale.view().queue, Some(view.clone()), "{}", ctx);
        prop_assert_eq!(r.pow_bits(), self.model.pow_bits, "{}", ctx);
        prop_assert_eq!(r.commitment(), commitment_of(&setup.seed), "{}", ctx);
        match setup.kind {
            KindSetup::Stock { stock, .. } => {
                let (held, sold) = (self.model.held(), self.model.sold());
                let want = StockView { total: stock, available: stock - held - sold, held, sold };
                prop_assert_eq!(self.sale.view().stock, Some(want), "{}", ctx);
                let book = self.sale.stock().unwrap();
                for h in &self.model.holds {
                    prop_assert_eq!(book.hold(HoldId(h.id)), Some(&Model::as_hold(h)), "{}", ctx);
                }
                prop_assert_eq!(book.holds_after(HoldId(0), usize::MAX).count(), self.model.holds.len());
            }
            KindSetup::Drop { .. } => {
                prop_assert_eq!(self.sale.drop_book().unwrap().clicks(), &self.model.clicks[..], "{}", ctx);
            }
        }

        // Every person's pass, at now and at the edges of its lifetime.
        for u in 1..=USERS {
            prop_assert_eq!(r.check_pass(UserId(u), now), self.model.check_pass(u, now), "user {}; {}", u, ctx);
            if let Some(PassState::Admitted { at_us, expires_at_us }) = r.entry_of(UserId(u)).map(|e| e.pass) {
                prop_assert_eq!(expires_at_us, at_us + setup.pass_ttl_us, "{}", ctx);
                prop_assert!(now < expires_at_us, "a live pass past its lifetime; {ctx}");
                prop_assert_eq!(r.check_pass(UserId(u), expires_at_us - 1), Ok(()), "{}", ctx);
                prop_assert_eq!(r.check_pass(UserId(u), expires_at_us), Err(Rejection::PassExpired), "{}", ctx);
            }
        }

        self.check_line(&ctx)?;
        self.check_passes(now, &ctx)?;
        self.check_policy(now, &ctx)?;

        // The rules, stated on the core's own answers.
        if let Input::Command(c) = input
            && m.acted
        {
            self.first.insert((c.by.0, c.key.as_str().to_owned()), (c.action.clone(), applied.outcome.clone()));
            let pass = room(&self.sale).entry_of(c.by).map(|e| e.pass);
            match (&c.action, &applied.outcome) {
                (Action::Stock(StockAction::Reserve { .. }), Outcome::Stock(StockOutcome::Held(_))) => prop_assert!(
                    matches!(pass, Some(PassState::Admitted { expires_at_us, .. }) if now < expires_at_us),
                    "a hold without a live pass: {pass:?}; {ctx}"
                ),
                (Action::Drop(DropAction::Click), Outcome::Drop(DropOutcome::Clicked(click))) if m.new_click => {
                    prop_assert_eq!(click.at_us, now);
                    prop_assert_eq!(pass, Some(PassState::Used { at_us: now }), "a click uses the pass; {}", ctx);
                }
                (Action::Join { .. }, Outcome::Joined(e)) => {
                    prop_assert_eq!(e.by, c.by);
                    let known = self.people.get(&c.by).copied();
                    match known {
                        Some((ticket, place)) => {
                            prop_assert_eq!(e.ticket, ticket, "joining again gives the same ticket; {}", ctx);
                            if place.is_some() {
                                prop_assert_eq!(e.place, place, "joining again gives the same place; {}", ctx);
                            }
                            prop_assert_eq!(m.joined, None, "{}", ctx);
                        }
                        None => {
                            prop_assert_eq!(Some(e.ticket), m.joined, "{}", ctx);
                            prop_assert_eq!(e.ticket as usize, room(&self.sale).entries().len(), "{}", ctx);
                        }
                    }
                }
                (Action::Join { .. }, Outcome::Rejected(Rejection::BadProofOfWork { bits })) => {
                    prop_assert_eq!(*bits, self.model.pow_bits);
                    let Action::Join { nonce, .. } = c.action else { unreachable!() };
                    let commitment = room(&self.sale).commitment();
                    prop_assert!(!pow_ok(&commitment, c.by, nonce, *bits), "{}", ctx);
                }
                (Action::SetPowBits { bits }, outcome) => {
                    prop_assert_eq!(outcome, &Outcome::PowSet { bits: (*bits).min(POW_CEILING) }, "{}", ctx);
                }
                _ => {}
            }
        }
        // A refused command lets nobody in line; tickets and places, once given, never change.
        if let Outcome::Rejected(_) = applied.outcome {
            prop_assert_eq!(m.joined, None, "{}", ctx);
        }
        for e in room(&self.sale).entries() {
            match self.people.get(&e.by).copied() {
                None => {
                    self.people.insert(e.by, (e.ticket, e.place));
                }
                Some((ticket, place)) => {
                    prop_assert_eq!(ticket, e.ticket, "{:?} changed ticket; {}", e.by, ctx);
                    if place.is_some() {
                        prop_assert_eq!(place, e.place, "{:?} changed place; {}", e.by, ctx);
                    } else {
                        self.people.insert(e.by, (ticket, e.place));
                    }
                }
            }
        }

        self.check_events(input, &applied, &m, &ctx)?;

        // Deadlines: the model's, and something does happen there and not before.
        let deadline = self.sale.next_deadline_us();
        prop_assert_eq!(deadline, self.model.deadline(), "{}", ctx);
        if let Some(d) = deadline {
            prop_assert!(d > now, "deadline {d} not after now {now}; {ctx}");
            let mut probe = self.sale.clone();
            prop_assert!(probe.apply(&Input::Tick { at_us: d }).changed, "nothing happened at the deadline {d}; {ctx}");
            if d - 1 > now {
                let mut probe = self.sale.clone();
                prop_assert!(!probe.apply(&Input::Tick { at_us: d - 1 }).changed, "something happened before {d}");
            }
        }
        Ok(applied)
    }

    /// The pre-queue is in the documented shuffle's order, later joiners in arrival order.
    fn check_line(&self, ctx: &str) -> Result<(), TestCaseError> {
        let r = room(&self.sale);
        let view = r.view();
        let seed = self.model.setup.seed;
        match view.prequeue_len {
            None => {
                prop_assert!(r.line().is_empty(), "places before the shuffle; {ctx}");
                prop_assert_eq!(view.seed, None, "seed revealed before the shuffle; {}", ctx);
                prop_assert!(r.entries().iter().all(|e| e.place.is_none()), "{}", ctx);
            }
            Some(n) => {
                let line = r.line();
                let shuffled = documented_shuffle(&seed, n);
                prop_assert_eq!(
                    &line[..n as usize],
                    &shuffled[..],
                    "the pre-queue is not the documented shuffle; {}",
                    ctx
                );
                prop_assert_eq!(prequeue_order(&seed, n), shuffled, "prequeue_order disagrees with the docs");
                let later: Vec<u32> = (n + 1..=view.joined).collect();
                prop_assert_eq!(&line[n as usize..], &later[..], "later joiners out of arrival order; {}", ctx);
                prop_assert_eq!(view.seed, Some(seed), "{}", ctx);
                prop_assert_eq!(commitment_of(&view.seed.unwrap()), view.commitment, "the seed does not match");
            }
        }
        Ok(())
    }

    /// Each pass goes `Waiting -> Admitted -> Used | Expired`, once (admitted
    /// and used may fall in one input), and admission follows place order. A
    /// pass is live exactly while it has bought less than the per-person
    /// limit and its lifetime lasts; what it bought never goes down.
    fn check_passes(&mut self, now: i64, ctx: &str) -> Result<(), TestCaseError> {
        let ttl = self.model.setup.pass_ttl_us;
        let limit = self.model.limit();
        let entries = room(&self.sale).entries().to_vec();
        prop_assert!(entries.len() >= self.seen.len(), "someone left the room; {ctx}");
        for e in &entries {
            let i = e.ticket as usize - 1;
            let bought_before = self.seen_bought.get(i).copied().unwrap_or(0);
            prop_assert!(e.bought >= bought_before, "ticket {} bought went down; {ctx}", e.ticket);
            match e.pass {
                PassState::Waiting => prop_assert_eq!(e.bought, 0, "bought before admission; {}", ctx),
                PassState::Admitted { .. } => prop_assert!(e.bought < limit, "live at {} of {limit}; {ctx}", e.bought),
                PassState::Used { .. } => prop_assert!(e.bought >= limit, "ended at {} of {limit}; {ctx}", e.bought),
                PassState::Expired { .. } => {}
            }
            let prev = self.seen.get(i).copied().unwrap_or(PassState::Waiting);
            let ok = match (prev, e.pass) {
                (a, b) if a == b => true,
                (PassState::Waiting, PassState::Admitted { at_us, expires_at_us }) => {
                    self.admissions.push(at_us);
                    at_us == now && expires_at_us == now + ttl
                }
                // Let in by this very input, then used by it (a click).
                (PassState::Waiting, PassState::Used { at_us }) => {
                    self.admissions.push(now);
                    at_us == now
                }
                (PassState::Admitted { expires_at_us, .. }, PassState::Expired { at_us }) => {
                    at_us == expires_at_us && expires_at_us <= now
                }
                (PassState::Admitted { expires_at_us, .. }, PassState::Used { at_us }) => {
                    at_us == now && now < expires_at_us
                }
                _ => false,
            };
            prop_assert!(ok, "ticket {} went from {prev:?} to {:?}; {ctx}", e.ticket, e.pass);
            if i < self.seen.len() {
                self.seen[i] = e.pass;
                self.seen_bought[i] = e.bought;
            } else {
                prop_assert_eq!(i, self.seen.len(), "tickets skipped; {}", ctx);
                self.seen.push(e.pass);
                self.seen_bought.push(e.bought);
            }
        }
        let admitted = entries.iter().filter(|e| e.pass != PassState::Waiting).count();
        prop_assert_eq!(admitted, self.admissions.len(), "an admission was undone; {}", ctx);
        let mut places: Vec<u32> =
            entries.iter().filter(|e| e.pass != PassState::Waiting).map(|e| e.place.unwrap_or(0)).collect();
        places.sort_unstable();
        let prefix: Vec<u32> = (1..=admitted as u32).collect();
        prop_assert_eq!(places, prefix, "admissions out of place order; {}", ctx);
        prop_assert_eq!(room(&self.sale).view().admitted as usize, admitted, "{}", ctx);
        Ok(())
    }

    /// The policy's bound, and no idling while someone could be let in.
    fn check_policy(&self, now: i64, ctx: &str) -> Result<(), TestCaseError> {
        let r = room(&self.sale);
        let view = r.view();
        let open = self.sale.view().status == SaleStatus::Open;
        let live = r.entries().iter().filter(|e| matches!(e.pass, PassState::Admitted { .. })).count() as u32;
        prop_assert_eq!(view.active, live, "{}", ctx);
        match self.model.setup.policy {
            AdmissionPolicy::Active { max } => {
                prop_assert!(live <= max, "{live} live passes over {max}; {ctx}");
                if open && live < max {
                    prop_assert_eq!(view.waiting, 0, "a free slot while people wait; {}", ctx);
                }
            }
            AdmissionPolicy::Chunk { size, every_us } => {
                let Some(opened) = self.sale.schedule().opened_at_us else {
                    prop_assert!(self.admissions.is_empty(), "admitted before opening; {ctx}");
                    return Ok(());
                };
                let instants = if now >= opened { (now - opened) / every_us + 1 } else { 0 };
                let total = self.admissions.len() as i64;
                prop_assert!(
                    total <= i64::from(size) * instants,
                    "{total} admitted by {now}, over {size} x {instants} chunks from {opened}; {ctx}"
                );
                let mut per_period: BTreeMap<i64, u32> = BTreeMap::new();
                for at in &self.admissions {
                    prop_assert!(*at >= opened, "admitted at {at} before opening at {opened}; {ctx}");
                    *per_period.entry((at - opened).div_euclid(every_us)).or_insert(0) += 1;
                }
                for (k, n) in &per_period {
                    prop_assert!(*n <= size, "{n} admitted in period {k} over {size}; {ctx}");
                }
                if open && view.waiting > 0 {
                    let current = (now - opened).div_euclid(every_us);
                    let n = per_period.get(&current).copied().unwrap_or(0);
                    prop_assert_eq!(n, size, "capacity left in the current period while people wait; {}", ctx);
                }
            }
        }
        Ok(())
    }

    fn check_events(&self, input: &Input, applied: &Applied, m: &MStep, ctx: &str) -> Result<(), TestCaseError> {
        let ev = &applied.events;
        let shuffles: Vec<u32> = ev
            .iter()
            .filter_map(|e| if let Event::QueueShuffled { prequeue_len } = e { Some(*prequeue_len) } else { None })
            .collect();
        prop_assert_eq!(shuffles, m.shuffled.into_iter().collect::<Vec<_>>(), "{}", ctx);
        let joins: Vec<u32> = ev
            .iter()
            .filter_map(|e| if let Event::QueueJoined { ticket, .. } = e { Some(*ticket) } else { None })
            .collect();
        prop_assert_eq!(joins, m.joined.into_iter().collect::<Vec<_>>(), "{}", ctx);
        let uptos: Vec<u32> =
            ev.iter().filter_map(|e| if let Event::QueueAdmitted { upto } = e { Some(*upto) } else { None }).collect();
        if m.admitted == 0 {
            prop_assert!(uptos.is_empty(), "an admission event without admissions; {ctx}");
        } else {
            prop_assert!(uptos.windows(2).all(|w| w[0] < w[1]), "{}", ctx);
            prop_assert_eq!(uptos.last().copied(), Some(self.model.ever_admitted()), "{}", ctx);
        }
        let expired: Vec<u32> = ev
            .iter()
            .filter_map(|e| if let Event::PassesExpired { count } = e { Some(*count) } else { None })
            .collect();
        prop_assert!(expired.iter().all(|n| *n > 0), "{}", ctx);
        prop_assert_eq!(expired.iter().sum::<u32>(), m.passes_expired, "{}", ctx);
        let mut holds: Vec<(u64, u64, u32)> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Hold { change: HoldChange::Expired, hold: HoldFact::Stock(h) } => {
                    Some((h.id.0, h.by.0, h.quantity))
                }
                _ => None,
            })
            .collect();
        holds.sort_unstable();
        let mut want = m.expired_holds.clone();
        want.sort_unstable();
        prop_assert_eq!(holds, want, "{}", ctx);
        let clicks: Vec<&Click> =
            ev.iter().filter_map(|e| if let Event::Clicked(c) = e { Some(c) } else { None }).collect();
        if m.new_click {
            prop_assert_eq!(clicks, self.model.clicks.last().into_iter().collect::<Vec<_>>(), "{}", ctx);
        } else {
            prop_assert!(clicks.is_empty(), "{}", ctx);
        }
        let statuses: Vec<SaleStatus> =
            ev.iter().filter_map(|e| if let Event::StatusChanged(s) = e { Some(*s) } else { None }).collect();
        if m.status_before == m.status_after {
            prop_assert!(statuses.is_empty(), "status event without a change; {ctx}");
        } else {
            prop_assert_eq!(statuses.last(), Some(&m.status_after), "{}", ctx);
        }
        match input {
            Input::Tick { .. } => {
                let something = m.status_before != m.status_after
                    || !m.expired_holds.is_empty()
                    || m.passes_expired > 0
                    || m.admitted > 0
                    || m.shuffled.is_some();
                prop_assert_eq!(applied.changed, something, "tick changed flag; {}", ctx);
            }
            Input::Command(_) => prop_assert!(applied.changed),
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum OnHold {
    Confirm,
    Cancel,
    Refund,
}

#[derive(Clone, Copy, Debug)]
enum Nonce {
    /// `stampede_core::solve_pow` for the difficulty in force.
    Solved,
    /// Whatever; usually wrong once `pow_bits > 0`.
    Random(u64),
    /// One the independent check says fails (when `pow_bits > 0`).
    Bad,
}

/// An action, or one resolved when the inputs are stamped: a purchase of the
/// sale's own kind, one aimed at the author's holds, a join with a nonce for
/// the difficulty in force.
#[derive(Clone, Debug)]
enum Act {
    Plain(Action),
    /// `Reserve { quantity }` in a stock sale, `Click` in a drop.
    Buy(u32),
    Own(OnHold, prop::sample::Index),
    Join(Nonce, u64),
}

#[derive(Clone, Debug)]
enum Aim {
    /// `by` as generated.
    Anyone,
    /// Someone for whom the action is likely to work: a live pass for a
    /// purchase, an active hold for `Own`.
    Likely(prop::sample::Index),
    /// Someone in the room, whatever their pass.
    InRoom(prop::sample::Index),
}

#[derive(Clone, Debug)]
enum Step {
    Tick {
        dt: i64,
    },
    Cmd {
        dt: i64,
        by: u64,
        /// Instead of `by`, someone picked from the sale's state, when there is one.
        aim: Aim,
        key: u16,
        act: Act,
    },
    /// The previous command again, stamped with the previous input's time.
    RepeatLast,
}

fn policy_strategy() -> impl Strategy<Value = AdmissionPolicy> {
    prop_oneof![
        (1u32..=3, 1i64..=40).prop_map(|(size, every_us)| AdmissionPolicy::Chunk { size, every_us }),
        (1u32..=3).prop_map(|max| AdmissionPolicy::Active { max }),
    ]
}

fn kind_strategy() -> impl Strategy<Value = KindSetup> {
    prop_oneof![
        (0u64..=12, 1u32..=3, 1u32..=3, 1i64..=60).prop_map(
            |(stock, per_person_limit, order_quantity_max, hold_ttl_us)| KindSetup::Stock {
                stock,
                per_person_limit,
                order_quantity_max,
                hold_ttl_us
            }
        ),
        (1u32..=4).prop_map(|winners| KindSetup::Drop { winners }),
    ]
}

fn setup_strategy() -> impl Strategy<Value = Setup> {
    (
        kind_strategy(),
        proptest::option::weighted(0.7, T0..T0 + 300),
        proptest::option::weighted(0.3, T0 + 300..T0 + 3_000),
        policy_strategy(),
        prop_oneof![1 => 1i64..=20, 3 => 20i64..=200],
        proptest::option::weighted(0.3, T0 - 250..T0 + 100),
        0u8..=4,
        1u32..=4,
        any::<[u8; 32]>(),
        proptest::bool::weighted(0.8),
    )
        .prop_map(
            |(
                kind,
                opens_at_us,
                closes_at_us,
                policy,
                pass_ttl_us,
                prequeue_opens_at_us,
                pow_bits,
                places_per_address,
                seed,
                pass_up_to_limit,
            )| Setup {
                kind,
                opens_at_us,
                closes_at_us,
                policy,
                pass_ttl_us,
                prequeue_opens_at_us,
                pow_bits,
                places_per_address,
                seed,
                pass_up_to_limit,
            },
        )
}

fn dt_strategy(backwards: bool) -> BoxedStrategy<i64> {
    // Rarely a long wait: openings and closings missed by the ticks, whole periods skipped.
    if backwards {
        prop_oneof![40 => 0i64..5, 50 => 0i64..20, 8 => -20i64..0, 1 => 100i64..1_500].boxed()
    } else {
        prop_oneof![40 => 0i64..5, 50 => 0i64..20, 1 => 100i64..1_500].boxed()
    }
}

fn act_strategy() -> impl Strategy<Value = Act> {
    let on_hold = prop_oneof![5 => Just(OnHold::Confirm), 2 => Just(OnHold::Cancel), 2 => Just(OnHold::Refund)];
    let nonce = prop_oneof![8 => Just(Nonce::Solved), 2 => any::<u64>().prop_map(Nonce::Random), 1 => Just(Nonce::Bad)];
    let bits = prop_oneof![10 => 0u8..=4, 1 => 29u8..=255];
    // Close is rare: once closed, a sale only winds down.
    prop_oneof![
        10 => Just(Act::Plain(Action::Open)),
        1 => Just(Act::Plain(Action::Close)),
        50 => (nonce, 0..ADDRESSES).prop_map(|(n, a)| Act::Join(n, a)),
        100 => prop_oneof![4 => 1u32..=2, 1 => 0u32..=4].prop_map(Act::Buy),
        80 => (on_hold, any::<prop::sample::Index>()).prop_map(|(op, pick)| Act::Own(op, pick)),
        3 => Just(Act::Plain(Action::Drop(DropAction::Click))),
        3 => Just(Act::Plain(Action::Stock(StockAction::Reserve { quantity: 1 }))),
        8 => bits.prop_map(|bits| Act::Plain(Action::SetPowBits { bits })),
    ]
}

fn step_strategy(backwards: bool) -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => dt_strategy(backwards).prop_map(|dt| Step::Tick { dt }),
        12 => (
            dt_strategy(backwards),
            1..=USERS,
            prop_oneof![
                2 => Just(Aim::Anyone),
                3 => any::<prop::sample::Index>().prop_map(Aim::Likely),
                1 => any::<prop::sample::Index>().prop_map(Aim::InRoom),
            ],
            prop_oneof![2 => 0u16..3, 3 => 100u16..10_000],
            act_strategy(),
        )
            .prop_map(|(dt, by, aim, key, act)| Step::Cmd { dt, by, aim, key, act }),
        1 => Just(Step::RepeatLast),
    ]
}

fn steps_strategy(backwards: bool) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(step_strategy(backwards), 1..150)
}

/// Turns steps into stamped inputs. A scratch sale fed the same inputs is
/// consulted to pick likely actors, to aim at the author's holds and to solve
/// the proof of work in force.
fn inputs(setup: &Setup, steps: &[Step]) -> Vec<Input> {
    let mut scratch = Sale::new(sale_config(setup));
    let mut clock = T0 - 200;
    let mut last_at = clock;
    let mut last_cmd: Option<Command> = None;
    let mut out = Vec::new();
    for s in steps {
        let input = match s {
            Step::Tick { dt } => {
                clock += dt;
                Input::Tick { at_us: clock }
            }
            Step::Cmd { dt, by, aim, key: k, act } => {
                clock += dt;
                let now = clock.max(scratch.last_at_us());
                let mut by = *by;
                let (pick, candidates): (_, Vec<u64>) = match (aim, act) {
                    (Aim::Anyone, _) => (None, Vec::new()),
                    (Aim::InRoom(pick), _) => (Some(pick), room(&scratch).entries().iter().map(|e| e.by.0).collect()),
                    (Aim::Likely(pick), Act::Own(..)) => (
                        Some(pick),
                        scratch
                            .stock()
                            .map(|b| {
                                b.holds_after(HoldId(0), usize::MAX)
                                    .filter(|h| h.status == HoldStatus::Held && now < h.expires_at_us)
                                    .map(|h| h.by.0)
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    (Aim::Likely(pick), _) => (
                        Some(pick),
                        room(&scratch)
                            .entries()
                            .iter()
                            .filter(
                                |e| matches!(e.pass, PassState::Admitted { expires_at_us, .. } if now < expires_at_us),
                            )
                            .map(|e| e.by.0)
                            .collect(),
                    ),
                };
                if let Some(pick) = pick
                    && !candidates.is_empty()
                {
                    by = candidates[pick.index(candidates.len())];
                }
                let action = match act {
                    Act::Plain(a) => a.clone(),
                    Act::Buy(quantity) => match setup.kind {
                        KindSetup::Stock { .. } => Action::Stock(StockAction::Reserve { quantity: *quantity }),
                        KindSetup::Drop { .. } => Action::Drop(DropAction::Click),
                    },
                    // In a drop, mostly a click; now and then a hold command, which does not fit.
                    Act::Own(_, pick) if scratch.stock().is_none() => {
                        if pick.index(4) == 0 {
                            Action::Confirm { hold: HoldId(1) }
                        } else {
                            Action::Drop(DropAction::Click)
                        }
                    }
                    Act::Own(op, pick) => {
                        let mine: Vec<HoldId> = match scratch.stock() {
                            Some(book) => book.holds_of(UserId(by)).map(|h| h.id).collect(),
                            None => Vec::new(),
                        };
                        let hold = match (mine.last(), pick.index(3)) {
                            (None, _) => HoldId(1 + pick.index(4) as u64),
                            (Some(newest), 0 | 1) => *newest,
                            (Some(_), _) => mine[pick.index(mine.len())],
                        };
                        match op {
                            OnHold::Confirm => Action::Confirm { hold },
                            OnHold::Cancel => Action::Cancel { hold },
                            OnHold::Refund => Action::Refund { order: hold },
                        }
                    }
                    Act::Join(n, address) => {
                        let r = room(&scratch);
                        let bits = r.pow_bits();
                        let nonce = match n {
                            Nonce::Solved if bits <= SOLVABLE_BITS => solve_pow(&r.commitment(), UserId(by), bits),
                            Nonce::Bad if bits > 0 => bad_nonce(&commitment_of(&setup.seed), by, bits),
                            Nonce::Random(x) => *x,
                            _ => 0,
                        };
                        Action::Join { nonce, address: *address }
                    }
                };
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

/// `cases` at proptest's default of 256, scaled like the default: CI sets
/// `PROPTEST_CASES` (see `.ci/run`) to run every property test longer.
fn scaled(cases: u32) -> u32 {
    let default = ProptestConfig::default().cases;
    u32::try_from(u64::from(cases) * u64::from(default) / 256).unwrap_or(u32::MAX).max(1)
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: scaled(cases),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// The core agrees with the model after every input, and every listed
    /// property of the waiting room holds along the way.
    #[test]
    fn waiting_room_matches_the_model(setup in setup_strategy(), steps in steps_strategy(true)) {
        let mut run = Run::new(&setup);
        for input in inputs(&setup, &steps) {
            run.drive(&input)?;
        }
    }

    /// The properties every kind has (`kit/mod.rs`): determinism, replay
    /// without unchanged ticks, remembered keys doing nothing, invariants.
    #[test]
    fn waiting_room_has_the_generic_properties(
        setup in setup_strategy(),
        steps in steps_strategy(true),
        split in any::<prop::sample::Index>(),
    ) {
        kit::properties(&sale_config(&setup), &inputs(&setup, &steps), split)?;
    }


}

proptest! {
    #![proptest_config(config(64))]

    /// `prequeue_order` is the documented shuffle, and the room uses it.
    #[test]
    fn prequeue_order_is_the_documented_shuffle(seed in any::<[u8; 32]>(), n in 0u32..40) {
        let shuffled = documented_shuffle(&seed, n);
        prop_assert_eq!(prequeue_order(&seed, n), shuffled.clone());
        let mut sorted = shuffled.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (1..=n).collect::<Vec<_>>(), "a permutation of the tickets");

        let mut setup = example_setup(AdmissionPolicy::Active { max: 1 });
        setup.seed = seed;
        let mut sale = Sale::new(sale_config(&setup));
        for u in 1..=u64::from(n) {
            sale.apply(&cmd(T0, u, "j", Action::Join { nonce: 0, address: u }));
        }
        sale.apply(&cmd(T0 + 1, OWNER, "open", Action::Open));
        let line: Vec<u64> = room(&sale).line().iter().map(|t| u64::from(*t)).collect();
        prop_assert_eq!(line, shuffled.iter().map(|t| u64::from(*t)).collect::<Vec<_>>());
    }

    /// The proof of work is the documented hash, `solve_pow` meets it, and a
    /// join is accepted exactly when the independent check says so.
    #[test]
    fn proof_of_work_is_the_documented_hash(
        seed in any::<[u8; 32]>(),
        by in 1u64..1_000_000,
        nonce in any::<u64>(),
        bits in 0u8..=6,
    ) {
        let commitment = commitment_of(&seed);
        prop_assert_eq!(stampede_core::commitment(&seed), commitment);
        prop_assert_eq!(pow_hash(&commitment, UserId(by), nonce), documented_pow_hash(&commitment, by, nonce));
        prop_assert_eq!(pow_ok(&commitment, UserId(by), nonce, bits), documented_pow(&commitment, by, nonce, bits));
        let solved = solve_pow(&commitment, UserId(by), bits);
        prop_assert!(documented_pow(&commitment, by, solved, bits), "solve_pow gave a bad nonce");
        prop_assert!((0..solved).all(|n| !documented_pow(&commitment, by, n, bits)), "not the smallest nonce");

        let mut setup = example_setup(AdmissionPolicy::Active { max: 1 });
        setup.seed = seed;
        setup.pow_bits = bits;
        let mut sale = Sale::new(sale_config(&setup));
        let before = room(&sale).clone();
        let got = sale.apply(&cmd(T0, by, "j", Action::Join { nonce, address: 0 }));
        if documented_pow(&commitment, by, nonce, bits) {
            prop_assert!(matches!(got.outcome, Outcome::Joined(_)), "{:?}", got.outcome);
        } else {
            prop_assert_eq!(got.outcome, Outcome::Rejected(Rejection::BadProofOfWork { bits }));
            prop_assert!(got.events.is_empty());
            prop_assert!(*room(&sale) == before, "a refused join changed the room");
        }
    }
}

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

fn example_setup(policy: AdmissionPolicy) -> Setup {
    Setup {
        kind: KindSetup::Stock { stock: 100, per_person_limit: 4, order_quantity_max: 4, hold_ttl_us: 1_000 },
        opens_at_us: None,
        closes_at_us: None,
        policy,
        pass_ttl_us: 100,
        prequeue_opens_at_us: None,
        pow_bits: 0,
        places_per_address: 100,
        seed: [7; 32],
        pass_up_to_limit: true,
    }
}

fn joined(outcome: &Outcome) -> QueueEntry {
    match outcome {
        Outcome::Joined(e) => e.clone(),
        other => panic!("expected a join, got {other:?}"),
    }
}

fn held(outcome: &Outcome) -> HoldId {
    match outcome {
        Outcome::Stock(StockOutcome::Held(h)) => h.id,
        other => panic!("expected a hold, got {other:?}"),
    }
}

fn join(sale: &mut Sale, at: i64, by: u64) -> QueueEntry {
    joined(&sale.apply(&cmd(at, by, &format!("join-{at}"), Action::Join { nonce: 0, address: by })).outcome)
}

#[test]
fn the_pre_queue_is_shuffled_at_opening_and_later_joiners_queue_in_order() {
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 2 })));
    for u in 1..=10 {
        let e = join(&mut sale, T0 + u as i64, u);
        assert_eq!((e.ticket, e.place, e.pass), (u as u32, None, PassState::Waiting));
    }
    assert_eq!(room(&sale).view().seed, None);
    let opened = sale.apply(&cmd(T0 + 20, OWNER, "open", Action::Open));
    assert!(opened.events.contains(&Event::QueueShuffled { prequeue_len: 10 }));
    let order = documented_shuffle(&[7; 32], 10);
    assert_eq!(room(&sale).line(), &order[..]);
    assert_eq!(room(&sale).view().seed, Some([7; 32]));
    for (p, t) in order.iter().enumerate() {
        let e = &room(&sale).entries()[*t as usize - 1];
        assert_eq!(e.place, Some(p as u32 + 1));
        assert_eq!(matches!(e.pass, PassState::Admitted { .. }), p < 2, "the first two places are let in");
    }
    let late = join(&mut sale, T0 + 30, 11);
    assert_eq!((late.ticket, late.place), (11, Some(11)));
    let later = join(&mut sale, T0 + 31, 12);
    assert_eq!((later.ticket, later.place), (12, Some(12)));
    // Joining again, with another key and even a bad nonce, gives the same ticket and place.
    let again = sale.apply(&cmd(T0 + 40, 3, "again", Action::Join { nonce: 12345, address: 99 }));
    assert_eq!(joined(&again.outcome).ticket, 3);
    assert_eq!(joined(&again.outcome).place, room(&sale).entries()[2].place);
    assert!(again.events.is_empty());
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn a_pass_is_refused_from_its_expiry_instant() {
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 1 })));
    sale.apply(&cmd(T0, OWNER, "open", Action::Open));
    let e = join(&mut sale, T0 + 10, 1);
    assert_eq!(e.pass, PassState::Admitted { at_us: T0 + 10, expires_at_us: T0 + 110 });
    join(&mut sale, T0 + 11, 2);
    assert_eq!(sale.next_deadline_us(), Some(T0 + 110));
    held(&sale.apply(&cmd(T0 + 109, 1, "r1", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    let late = sale.apply(&cmd(T0 + 110, 1, "r2", Action::Stock(StockAction::Reserve { quantity: 1 })));
    assert_eq!(late.outcome, Outcome::Rejected(Rejection::PassExpired));
    assert!(late.events.contains(&Event::PassesExpired { count: 1 }));
    assert!(late.events.contains(&Event::QueueAdmitted { upto: 2 }), "the freed slot goes to the next place");
    assert_eq!(room(&sale).check_pass(UserId(2), T0 + 110), Ok(()));
    assert_eq!(room(&sale).check_pass(UserId(1), T0 + 110), Err(Rejection::PassExpired));
    assert_eq!(room(&sale).check_pass(UserId(3), T0 + 110), Err(Rejection::NotInQueue));
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn a_pass_is_good_until_its_holder_bought_up_to_the_limit_or_clicked() {
    // example_setup: a limit of 4 per person, one live pass at a time.
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 1 })));
    sale.apply(&cmd(T0, OWNER, "open", Action::Open));
    join(&mut sale, T0 + 1, 1);
    join(&mut sale, T0 + 2, 2);
    let a = held(&sale.apply(&cmd(T0 + 3, 1, "r1", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    let paid = sale.apply(&cmd(T0 + 4, 1, "c1", Action::Confirm { hold: a }));
    assert!(matches!(paid.outcome, Outcome::Stock(StockOutcome::Confirmed(_))));
    // One of four bought: the pass goes on, and still holds the only slot.
    assert_eq!(room(&sale).check_pass(UserId(1), T0 + 4), Ok(()));
    assert_eq!(room(&sale).entry_of(UserId(1)).map(|e| e.bought), Some(1));
    assert_eq!(room(&sale).check_pass(UserId(2), T0 + 4), Err(Rejection::NotAdmitted));
    let b = held(&sale.apply(&cmd(T0 + 5, 1, "r2", Action::Stock(StockAction::Reserve { quantity: 2 }))).outcome);
    let c = held(&sale.apply(&cmd(T0 + 6, 1, "r3", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    assert!(matches!(
        sale.apply(&cmd(T0 + 7, 1, "c2", Action::Confirm { hold: b })).outcome,
        Outcome::Stock(StockOutcome::Confirmed(_))
    ));
    assert_eq!(room(&sale).check_pass(UserId(1), T0 + 7), Ok(()), "three of four bought");
    let last = sale.apply(&cmd(T0 + 8, 1, "c3", Action::Confirm { hold: c }));
    assert!(matches!(last.outcome, Outcome::Stock(StockOutcome::Confirmed(_))));
    assert!(last.events.contains(&Event::QueueAdmitted { upto: 2 }), "reaching the limit frees the slot");
    assert_eq!(
        room(&sale).entry_of(UserId(1)).map(|e| (e.pass, e.bought)),
        Some((PassState::Used { at_us: T0 + 8 }, 4))
    );
    // A refund gives the units back to the stock, not the pass back to its holder.
    assert!(matches!(
        sale.apply(&cmd(T0 + 9, 1, "f1", Action::Refund { order: a })).outcome,
        Outcome::Stock(StockOutcome::Refunded(_))
    ));
    assert_eq!(
        sale.apply(&cmd(T0 + 10, 1, "r4", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome,
        Outcome::Rejected(Rejection::PassUsed)
    );
    assert_eq!(sale.check_invariants(), Ok(()));

    // A hold taken with a live pass may still be paid for after the pass expired.
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 1 })));
    sale.apply(&cmd(T0, OWNER, "open", Action::Open));
    join(&mut sale, T0 + 1, 1);
    let h = held(&sale.apply(&cmd(T0 + 2, 1, "r1", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    let late = T0 + 1 + 100;
    assert!(matches!(
        sale.apply(&cmd(late, 1, "c1", Action::Confirm { hold: h })).outcome,
        Outcome::Stock(StockOutcome::Confirmed(_))
    ));
    assert_eq!(
        room(&sale).entry_of(UserId(1)).map(|e| (e.pass, e.bought)),
        Some((PassState::Expired { at_us: late }, 0))
    );

    // A sale logged under the old rule replays as it was: one checkout per pass.
    let mut setup = example_setup(AdmissionPolicy::Active { max: 1 });
    setup.pass_up_to_limit = false;
    let mut sale = Sale::new(sale_config(&setup));
    sale.apply(&cmd(T0, OWNER, "open", Action::Open));
    join(&mut sale, T0 + 1, 1);
    let h = held(&sale.apply(&cmd(T0 + 2, 1, "r1", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    assert!(matches!(
        sale.apply(&cmd(T0 + 3, 1, "c1", Action::Confirm { hold: h })).outcome,
        Outcome::Stock(StockOutcome::Confirmed(_))
    ));
    assert_eq!(room(&sale).check_pass(UserId(1), T0 + 3), Err(Rejection::PassUsed));

    let mut setup = example_setup(AdmissionPolicy::Active { max: 1 });
    setup.kind = KindSetup::Drop { winners: 1 };
    let mut drop = Sale::new(sale_config(&setup));
    drop.apply(&cmd(T0, OWNER, "open", Action::Open));
    join(&mut drop, T0 + 1, 1);
    join(&mut drop, T0 + 2, 2);
    assert_eq!(
        drop.apply(&cmd(T0 + 3, 2, "c", Action::Drop(DropAction::Click))).outcome,
        Outcome::Rejected(Rejection::NotAdmitted)
    );
    let click = drop.apply(&cmd(T0 + 4, 1, "c", Action::Drop(DropAction::Click)));
    assert!(matches!(click.outcome, Outcome::Drop(DropOutcome::Clicked(Click { rank: 1, won: true, .. }))));
    assert_eq!(room(&drop).check_pass(UserId(1), T0 + 4), Err(Rejection::PassUsed));
    // The repeat returns the first click; the next person was let in.
    assert_eq!(drop.apply(&cmd(T0 + 5, 1, "c2", Action::Drop(DropAction::Click))).outcome, click.outcome);
    assert!(matches!(
        drop.apply(&cmd(T0 + 6, 2, "c3", Action::Drop(DropAction::Click))).outcome,
        Outcome::Drop(DropOutcome::Clicked(Click { rank: 2, .. }))
    ));
}

#[test]
fn a_pass_is_good_for_its_own_sale_only() {
    let mut a = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 5 })));
    let mut setup_b = example_setup(AdmissionPolicy::Active { max: 1 });
    setup_b.seed = [8; 32];
    let mut b = Sale::new(sale_config(&setup_b));
    for sale in [&mut a, &mut b] {
        sale.apply(&cmd(T0, OWNER, "open", Action::Open));
    }
    join(&mut a, T0 + 1, 1);
    join(&mut b, T0 + 1, 2);
    join(&mut b, T0 + 2, 1);
    assert_eq!(room(&a).check_pass(UserId(1), T0 + 3), Ok(()));
    held(&a.apply(&cmd(T0 + 3, 1, "r", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome);
    assert_eq!(
        b.apply(&cmd(T0 + 3, 1, "r", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome,
        Outcome::Rejected(Rejection::NotAdmitted)
    );
    join(&mut a, T0 + 4, 3);
    assert_eq!(
        b.apply(&cmd(T0 + 5, 3, "r", Action::Stock(StockAction::Reserve { quantity: 1 }))).outcome,
        Outcome::Rejected(Rejection::NotInQueue)
    );
    assert_eq!(b.view().stock.map(|s| s.available), Some(100));
}

#[test]
fn proof_of_work_difficulty_can_be_changed() {
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 1 })));
    let c = commitment_of(&[7; 32]);
    assert_eq!(room(&sale).commitment(), c);
    // A nonce good at 0 bits but not at 4.
    let weak = bad_nonce(&c, 1, 4);
    assert!(documented_pow(&c, 1, weak, 0));
    let set = sale.apply(&cmd(T0, OWNER, "pow", Action::SetPowBits { bits: 4 }));
    assert_eq!(set.outcome, Outcome::PowSet { bits: 4 });
    assert_eq!(room(&sale).view().pow_bits, 4);
    let before = room(&sale).clone();
    let refused = sale.apply(&cmd(T0 + 1, 1, "j1", Action::Join { nonce: weak, address: 0 }));
    assert_eq!(refused.outcome, Outcome::Rejected(Rejection::BadProofOfWork { bits: 4 }));
    assert!(*room(&sale) == before);
    let strong = solve_pow(&c, UserId(1), 4);
    assert!(documented_pow(&c, 1, strong, 4));
    assert_eq!(
        joined(&sale.apply(&cmd(T0 + 2, 1, "j2", Action::Join { nonce: strong, address: 0 })).outcome).ticket,
        1
    );
    // Easier again: any nonce does.
    sale.apply(&cmd(T0 + 3, OWNER, "pow2", Action::SetPowBits { bits: 0 }));
    assert_eq!(joined(&sale.apply(&cmd(T0 + 4, 2, "j", Action::Join { nonce: 0, address: 0 })).outcome).ticket, 2);
    // Capped at the documented ceiling.
    let capped = sale.apply(&cmd(T0 + 5, OWNER, "pow3", Action::SetPowBits { bits: 200 }));
    assert_eq!(capped.outcome, Outcome::PowSet { bits: POW_CEILING });
    let mut zeros = [0u8; 32];
    assert_eq!(leading_zero_bits(&zeros), 256);
    zeros[1] = 0b0001_0000;
    assert_eq!(leading_zero_bits(&zeros), 11);
}

#[test]
fn an_address_holds_a_limited_number_of_places() {
    let mut setup = example_setup(AdmissionPolicy::Active { max: 1 });
    setup.places_per_address = 2;
    let mut sale = Sale::new(sale_config(&setup));
    for u in 1..=2 {
        joined(&sale.apply(&cmd(T0, u, "j", Action::Join { nonce: 0, address: 42 })).outcome);
    }
    let before = room(&sale).clone();
    let third = sale.apply(&cmd(T0, 3, "j", Action::Join { nonce: 0, address: 42 }));
    assert_eq!(third.outcome, Outcome::Rejected(Rejection::AddressLimitReached));
    assert!(*room(&sale) == before);
    joined(&sale.apply(&cmd(T0, 3, "j2", Action::Join { nonce: 0, address: 43 })).outcome);
    // Joining again does not count twice.
    joined(&sale.apply(&cmd(T0, 1, "j2", Action::Join { nonce: 0, address: 42 })).outcome);
    assert_eq!(room(&sale).view().joined, 3);
}

#[test]
fn joining_waits_for_the_pre_queue_and_stops_at_closing() {
    let mut setup = example_setup(AdmissionPolicy::Active { max: 1 });
    setup.prequeue_opens_at_us = Some(T0);
    let mut sale = Sale::new(sale_config(&setup));
    let early = sale.apply(&cmd(T0 - 1, 1, "j", Action::Join { nonce: 0, address: 0 }));
    assert_eq!(early.outcome, Outcome::Rejected(Rejection::QueueNotOpen));
    joined(&sale.apply(&cmd(T0, 1, "j2", Action::Join { nonce: 0, address: 0 })).outcome);
    sale.apply(&cmd(T0 + 1, OWNER, "close", Action::Close));
    let late = sale.apply(&cmd(T0 + 2, 2, "j", Action::Join { nonce: 0, address: 0 }));
    assert_eq!(late.outcome, Outcome::Rejected(Rejection::Closed));
    assert_eq!(joined(&sale.apply(&cmd(T0 + 3, 1, "j3", Action::Join { nonce: 0, address: 0 })).outcome).ticket, 1);
}

#[test]
fn chunks_are_let_in_period_by_period() {
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Chunk { size: 2, every_us: 10 })));
    for u in 1..=7 {
        join(&mut sale, T0, u);
    }
    sale.apply(&cmd(T0 + 5, OWNER, "open", Action::Open));
    assert_eq!(room(&sale).view().admitted, 2);
    assert_eq!(sale.next_deadline_us(), Some(T0 + 15));
    assert!(!sale.apply(&Input::Tick { at_us: T0 + 14 }).changed);
    sale.apply(&Input::Tick { at_us: T0 + 15 });
    assert_eq!(room(&sale).view().admitted, 4);
    // A late tick grants one period's capacity, not all the missed ones.
    sale.apply(&Input::Tick { at_us: T0 + 100 });
    assert_eq!(room(&sale).view().admitted, 6);
    assert_eq!(sale.next_deadline_us(), Some(T0 + 105));
    // A newcomer in a period with capacity left is let in at once.
    sale.apply(&Input::Tick { at_us: T0 + 105 });
    assert_eq!(room(&sale).view().admitted, 7);
    let e = join(&mut sale, T0 + 106, 8);
    assert!(matches!(e.pass, PassState::Admitted { at_us, .. } if at_us == T0 + 106));
    let e = join(&mut sale, T0 + 107, 9);
    assert_eq!(e.pass, PassState::Waiting);
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn chunk_periods_count_from_the_scheduled_opening() {
    let mut setup = example_setup(AdmissionPolicy::Chunk { size: 1, every_us: 10 });
    setup.opens_at_us = Some(T0);
    let mut sale = Sale::new(sale_config(&setup));
    for u in 1..=3 {
        join(&mut sale, T0 - 50, u);
    }
    // The first input after the opening comes late, in the middle of a period.
    sale.apply(&Input::Tick { at_us: T0 + 7 });
    assert_eq!(sale.schedule().opened_at_us, Some(T0));
    assert_eq!(room(&sale).view().admitted, 1);
    assert_eq!(sale.next_deadline_us(), Some(T0 + 10), "the next period starts 10 after the opening");
    sale.apply(&Input::Tick { at_us: T0 + 10 });
    assert_eq!(room(&sale).view().admitted, 2);
}

#[test]
fn a_sale_that_opened_and_closed_unwatched_still_shuffles_its_pre_queue() {
    let mut setup = example_setup(AdmissionPolicy::Active { max: 5 });
    setup.opens_at_us = Some(T0);
    setup.closes_at_us = Some(T0 + 100);
    let mut sale = Sale::new(sale_config(&setup));
    for u in 1..=5 {
        join(&mut sale, T0 - 50, u);
    }
    // The first input after the opening comes after the closing too.
    let late = sale.apply(&Input::Tick { at_us: T0 + 500 });
    assert_eq!(sale.view().status, SaleStatus::Closed);
    assert_eq!(sale.schedule().opened_at_us, Some(T0));
    assert!(late.events.contains(&Event::QueueShuffled { prequeue_len: 5 }), "{:?}", late.events);
    let view = room(&sale).view();
    assert_eq!((view.prequeue, view.prequeue_len, view.seed), (false, Some(5), Some([7; 32])));
    assert_eq!(room(&sale).line(), &documented_shuffle(&[7; 32], 5)[..]);
    assert_eq!(view.admitted, 0, "nobody is let into a closed sale");
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn a_sale_closed_before_opening_keeps_its_seed() {
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 5 })));
    join(&mut sale, T0, 1);
    sale.apply(&cmd(T0 + 1, OWNER, "close", Action::Close));
    let view = room(&sale).view();
    assert_eq!((view.prequeue, view.seed), (true, None));
    assert_eq!(sale.check_invariants(), Ok(()));
}

#[test]
fn refused_buying_changes_nothing() {
    let mut sale = Sale::new(sale_config(&example_setup(AdmissionPolicy::Active { max: 1 })));
    sale.apply(&cmd(T0, OWNER, "open", Action::Open));
    join(&mut sale, T0 + 1, 1);
    join(&mut sale, T0 + 2, 2);
    for (by, why) in [(2, Rejection::NotAdmitted), (3, Rejection::NotInQueue)] {
        let before = sale.clone();
        let got = sale.apply(&cmd(T0 + 3, by, "r", Action::Stock(StockAction::Reserve { quantity: 1 })));
        assert_eq!(got.outcome, Outcome::Rejected(why));
        assert!(got.events.is_empty());
        assert_eq!(sale.view(), before.view());
        assert!(sale.waiting_room() == before.waiting_room() && sale.stock() == before.stock());
    }
}
