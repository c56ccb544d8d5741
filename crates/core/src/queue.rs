//! The waiting room: a fair line in front of any sale.
//!
//! People join and get a ticket (1, 2, 3... in join order). Everyone who joins
//! before the sale opens is in the pre-queue; at opening the pre-queue is
//! shuffled with a seed whose hash (the commitment) was public from the start,
//! and the seed is revealed then, so anyone can recompute the order with
//! [`prequeue_order`]. Later arrivals queue in arrival order. Places are
//! admitted in order by the sale's [`AdmissionPolicy`]; an admission is a pass
//! which buying commands check. A pass is good for its whole lifetime, for as
//! many purchases as the sale's per-person limit allows: it ends early only
//! when what was bought with it reaches that limit (a drop's one click). A
//! person joins at most once: joining again returns the same ticket and place,
//! so a pass that ended is not given again.
//!
//! Invariants, checked by [`WaitingRoom::check_invariants`] and the property
//! tests: places `1..=admitted` are exactly the admitted ones (their pass
//! admitted, used or expired), nobody is admitted twice, and under `Active`
//! no more than `max` passes are live at once. A pass stops being live (and
//! frees its slot) when its lifetime ends or its holder reached the limit.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Event, Outcome, Rejection, UserId};

/// Domain tag of the proof-of-work hash, so a hash made for anything else never counts.
pub const POW_DOMAIN: &[u8] = b"stampede-pow-v1";
/// Hardest proof of work a sale may ask for (about 2^28 hashes on average).
pub const POW_BITS_MAX: u8 = 28;

/// How places are let in once the sale is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdmissionPolicy {
    /// At most `size` admissions in each period of `every_us`, periods
    /// counted from opening. Unused capacity is not carried over, but a
    /// newcomer in a period with capacity left is let in at once.
    Chunk { size: u32, every_us: i64 },
    /// At most `max` live passes; the next place is admitted when a pass is used or expires.
    Active { max: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub policy: AdmissionPolicy,
    pub pass_ttl_us: i64,
    /// When joining starts; `None`: from the sale's creation.
    pub prequeue_opens_at_us: Option<i64>,
    /// Proof-of-work difficulty at the start; the organizer may change it later.
    pub pow_bits: u8,
    pub places_per_address: u32,
    /// Secret until the sale opens; [`commitment`] of it is public from creation.
    pub seed: [u8; 32],
    /// A pass is good up to the sale's per-person limit. False only for sales
    /// logged before that rule, whose passes ended at the first checkout: a
    /// replay must give the answers they were given.
    pub pass_up_to_limit: bool,
}

/// Where one person's pass stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PassState {
    Waiting,
    Admitted {
        at_us: i64,
        expires_at_us: i64,
    },
    /// Its holder bought up to the per-person limit with it (a drop: clicked).
    Used {
        at_us: i64,
    },
    Expired {
        at_us: i64,
    },
}

impl PassState {
    pub fn as_str(self) -> &'static str {
        match self {
            PassState::Waiting => "waiting",
            PassState::Admitted { .. } => "admitted",
            PassState::Used { .. } => "used",
            PassState::Expired { .. } => "expired",
        }
    }

    fn was_admitted(self) -> bool {
        !matches!(self, PassState::Waiting)
    }
}

/// One person in line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub ticket: u32,
    pub by: UserId,
    /// `None` while in the pre-queue, before the shuffle.
    pub place: Option<u32>,
    pub pass: PassState,
    /// Units bought while the pass was live (stock confirmed, seats confirmed,
    /// a click). Never goes down, not even on a refund, so a pass that ended
    /// never comes back and the `Active` bound stays simple.
    pub bought: u32,
}

/// The numbers everyone may see; the same for every watcher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueView {
    pub policy: AdmissionPolicy,
    pub pass_ttl_us: i64,
    pub prequeue_opens_at_us: Option<i64>,
    pub joined: u32,
    /// True until the pre-queue has been shuffled (places unknown).
    pub prequeue: bool,
    pub prequeue_len: Option<u32>,
    /// Places `1..=admitted` have been let in.
    pub admitted: u32,
    pub waiting: u32,
    /// Passes admitted and neither used nor expired.
    pub active: u32,
    pub pow_bits: u8,
    pub commitment: [u8; 32],
    /// Revealed at the shuffle.
    pub seed: Option<[u8; 32]>,
}

/// The public hash of a waiting room's seed.
pub fn commitment(seed: &[u8; 32]) -> [u8; 32] {
    *blake3::hash(seed).as_bytes()
}

/// The pre-queue's order: element `p - 1` is the ticket at place `p`.
///
/// Tickets `1..=len` are sorted by `blake3(seed || ticket as u32 LE)`, ties by
/// ticket. Published so anyone holding the revealed seed can check the line.
pub fn prequeue_order(seed: &[u8; 32], len: u32) -> Vec<u32> {
    let mut keyed: Vec<([u8; 32], u32)> = (1..=len)
        .map(|ticket| {
            let mut h = blake3::Hasher::new();
            h.update(seed);
            h.update(&ticket.to_le_bytes());
            (*h.finalize().as_bytes(), ticket)
        })
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, ticket)| ticket).collect()
}

/// The proof-of-work hash of one join attempt. SHA-256, so a browser can
/// solve it with WebCrypto and no library.
pub fn pow_hash(commitment: &[u8; 32], by: UserId, nonce: u64) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(POW_DOMAIN);
    h.update(commitment);
    h.update(by.0.to_le_bytes());
    h.update(nonce.to_le_bytes());
    h.finalize().into()
}

/// Leading zero bits of a hash, most significant bit of byte 0 first.
pub fn leading_zero_bits(hash: &[u8; 32]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

/// Whether `nonce` is a valid proof of work for `by` at `bits`.
pub fn pow_ok(commitment: &[u8; 32], by: UserId, nonce: u64, bits: u8) -> bool {
    leading_zero_bits(&pow_hash(commitment, by, nonce)) >= u32::from(bits)
}

/// Finds the smallest nonce that meets `bits` (what a client does; used by tests and the bench).
pub fn solve_pow(commitment: &[u8; 32], by: UserId, bits: u8) -> u64 {
    (0u64..).find(|n| pow_ok(commitment, by, *n, bits)).unwrap_or(0)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingRoom {
    config: QueueConfig,
    commitment: [u8; 32],
    pow_bits: u8,
    /// By ticket: `entries[t - 1]`.
    entries: Vec<QueueEntry>,
    by_person: BTreeMap<UserId, u32>,
    places_by_address: BTreeMap<u64, u32>,
    /// `line[p - 1]` is the ticket at place `p`; empty until the shuffle.
    line: Vec<u32>,
    shuffled: bool,
    /// How many joined before the shuffle: the tickets whose place it decided.
    prequeue: u32,
    /// Admission runs only while the sale is open.
    admitting: bool,
    admitted: u32,
    active: u32,
    /// Where `Chunk` periods are counted from: the opening.
    periods_from_us: Option<i64>,
    /// The last `Chunk` period anyone was admitted in, and how many. Changed
    /// only by admissions, so time passing alone changes no state (an
    /// unlogged tick must leave nothing a replay would miss).
    last_period: Option<(i64, u32)>,
    /// Live passes by expiry, so expiry is a range scan.
    expiry: BTreeSet<(i64, u32)>,
    /// Set only while a verifier replays a published log, whose people are
    /// pseudonyms: a proof of work binds the account, which that log hides,
    /// so the next join takes the verdict the log recorded. Never in a
    /// snapshot; `None` (the server, `stampede verify --data`) checks the work.
    #[serde(skip)]
    pow_as_recorded: Option<bool>,
}

impl WaitingRoom {
    pub fn new(config: QueueConfig) -> Self {
        WaitingRoom {
            commitment: commitment(&config.seed),
            pow_bits: config.pow_bits.min(POW_BITS_MAX),
            config,
            entries: Vec::new(),
            by_person: BTreeMap::new(),
            places_by_address: BTreeMap::new(),
            line: Vec::new(),
            shuffled: false,
            prequeue: 0,
            admitting: false,
            admitted: 0,
            active: 0,
            periods_from_us: None,
            last_period: None,
            expiry: BTreeSet::new(),
            pow_as_recorded: None,
        }
    }

    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    pub fn commitment(&self) -> [u8; 32] {
        self.commitment
    }

    pub fn pow_bits(&self) -> u8 {
        self.pow_bits
    }

    pub fn entry_of(&self, by: UserId) -> Option<&QueueEntry> {
        let ticket = *self.by_person.get(&by)?;
        self.entry(ticket)
    }

    fn entry(&self, ticket: u32) -> Option<&QueueEntry> {
        self.entries.get(usize::try_from(ticket).ok()?.checked_sub(1)?)
    }

    fn entry_mut(&mut self, ticket: u32) -> Option<&mut QueueEntry> {
        self.entries.get_mut(usize::try_from(ticket).ok()?.checked_sub(1)?)
    }

    /// Tickets in place order (after the shuffle).
    pub fn line(&self) -> &[u32] {
        &self.line
    }

    pub fn entries(&self) -> &[QueueEntry] {
        &self.entries
    }

    pub fn view(&self) -> QueueView {
        let joined = len_u32(self.entries.len());
        let placed = len_u32(self.line.len());
        QueueView {
            policy: self.config.policy,
            pass_ttl_us: self.config.pass_ttl_us,
            prequeue_opens_at_us: self.config.prequeue_opens_at_us,
            joined,
            prequeue: !self.shuffled,
            prequeue_len: self.shuffled.then_some(self.prequeue),
            admitted: self.admitted,
            waiting: if self.shuffled { placed - self.admitted } else { joined },
            active: self.active,
            pow_bits: self.pow_bits,
            commitment: self.commitment,
            seed: self.shuffled.then_some(self.config.seed),
        }
    }

    /// When the runtime should tick: the next period while people wait, or the next pass expiry.
    pub fn next_deadline_us(&self) -> Option<i64> {
        let expiry = self.expiry.first().map(|(at, _)| *at);
        // Someone waits only when the last period with admissions filled up,
        // so the next chance is the period after it.
        let chunk = match (self.config.policy, self.periods_from_us, self.last_period) {
            (AdmissionPolicy::Chunk { every_us, .. }, Some(from), Some((index, _)))
                if self.admitting && self.waiting() > 0 =>
            {
                Some(from.saturating_add(index.saturating_add(1).saturating_mul(every_us.max(1))))
            }
            _ => None,
        };
        match (expiry, chunk) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn waiting(&self) -> u32 {
        len_u32(self.line.len()) - self.admitted
    }

    /// The sale opened at `opened_at_us` (its scheduled time, or the open
    /// command's): shuffle the pre-queue, reveal the seed, start admitting.
    /// `Chunk` periods count from `opened_at_us`, even when the first input
    /// after a scheduled opening comes late; admissions happen at `now_us`.
    pub(crate) fn open(&mut self, opened_at_us: i64, now_us: i64, events: &mut Vec<Event>) {
        self.shuffle(events);
        if !self.admitting {
            self.admitting = true;
            if let AdmissionPolicy::Chunk { .. } = self.config.policy {
                self.periods_from_us = Some(opened_at_us);
            }
        }
        self.advance(now_us, events);
    }

    /// Shuffles the pre-queue and reveals the seed, once: at opening, even if
    /// the sale has closed again by the time an input shows it opened.
    pub(crate) fn shuffle(&mut self, events: &mut Vec<Event>) {
        if !self.shuffled {
            self.shuffled = true;
            self.prequeue = len_u32(self.entries.len());
            self.line = prequeue_order(&self.config.seed, self.prequeue);
            for (ticket, place) in self.line.clone().into_iter().zip(1u32..) {
                if let Some(e) = self.entry_mut(ticket) {
                    e.place = Some(place);
                }
            }
            events.push(Event::QueueShuffled { prequeue_len: self.prequeue });
        }
    }

    /// The sale closed: nobody more is let in.
    pub(crate) fn close(&mut self) {
        self.admitting = false;
    }

    /// Expires passes and admits whoever the policy lets in by `now_us`.
    pub(crate) fn advance(&mut self, now_us: i64, events: &mut Vec<Event>) {
        let mut expired = 0u32;
        while let Some(&(at, ticket)) = self.expiry.first() {
            if at > now_us {
                break;
            }
            self.expiry.pop_first();
            if let Some(e) = self.entry_mut(ticket) {
                e.pass = PassState::Expired { at_us: at };
            }
            self.active -= 1;
            expired += 1;
        }
        if expired > 0 {
            events.push(Event::PassesExpired { count: expired });
        }
        if !self.admitting {
            return;
        }
        let from = self.admitted;
        match self.config.policy {
            AdmissionPolicy::Chunk { size, every_us } => {
                // A late tick grants the current period's capacity, never several at once.
                let origin = self.periods_from_us.unwrap_or(now_us);
                let index = now_us.saturating_sub(origin).max(0) / every_us.max(1);
                let used = match self.last_period {
                    Some((i, used)) if i == index => used,
                    _ => 0,
                };
                let n = size.saturating_sub(used).min(self.waiting());
                if n > 0 {
                    self.last_period = Some((index, used + n));
                    self.admit(n, now_us);
                }
            }
            AdmissionPolicy::Active { max } => {
                let n = max.saturating_sub(self.active).min(self.waiting());
                self.admit(n, now_us);
            }
        }
        if self.admitted > from {
            events.push(Event::QueueAdmitted { upto: self.admitted });
        }
    }

    fn admit(&mut self, n: u32, now_us: i64) {
        let expires_at_us = now_us.saturating_add(self.config.pass_ttl_us);
        for _ in 0..n {
            let Some(&ticket) = self.line.get(self.admitted as usize) else { return };
            self.admitted += 1;
            self.active += 1;
            if let Some(e) = self.entry_mut(ticket) {
                e.pass = PassState::Admitted { at_us: now_us, expires_at_us };
            }
            self.expiry.insert((expires_at_us, ticket));
        }
    }

    /// A person asks for a place. Joining again returns the first place.
    pub(crate) fn join(
        &mut self,
        by: UserId,
        nonce: u64,
        address: u64,
        now_us: i64,
        sale_closed: bool,
        events: &mut Vec<Event>,
    ) -> Outcome {
        if let Some(e) = self.entry_of(by) {
            return Outcome::Joined(e.clone());
        }
        if sale_closed {
            return Outcome::Rejected(Rejection::Closed);
        }
        if self.config.prequeue_opens_at_us.is_some_and(|at| now_us < at) {
            return Outcome::Rejected(Rejection::QueueNotOpen);
        }
        let pow_valid = self.pow_as_recorded.unwrap_or_else(|| pow_ok(&self.commitment, by, nonce, self.pow_bits));
        if !pow_valid {
            return Outcome::Rejected(Rejection::BadProofOfWork { bits: self.pow_bits });
        }
        let at_address = self.places_by_address.get(&address).copied().unwrap_or(0);
        if at_address >= self.config.places_per_address {
            return Outcome::Rejected(Rejection::AddressLimitReached);
        }
        let ticket = len_u32(self.entries.len()).saturating_add(1);
        let place = if self.shuffled {
            self.line.push(ticket);
            Some(len_u32(self.line.len()))
        } else {
            None
        };
        let entry = QueueEntry { ticket, by, place, pass: PassState::Waiting, bought: 0 };
        self.entries.push(entry);
        self.by_person.insert(by, ticket);
        self.places_by_address.insert(address, at_address + 1);
        events.push(Event::QueueJoined { ticket, by });
        // A newcomer may be let in at once (a free `Active` slot, a chunk not yet used up).
        self.advance(now_us, events);
        match self.entry(ticket) {
            Some(e) => Outcome::Joined(e.clone()),
            None => Outcome::Rejected(Rejection::NotInQueue),
        }
    }

    /// See `pow_as_recorded`: `Some(verdict)` for the next joins, `None` to check the work again.
    pub fn assume_proof_of_work(&mut self, verdict: Option<bool>) {
        self.pow_as_recorded = verdict;
    }

    pub(crate) fn set_pow_bits(&mut self, bits: u8) -> Outcome {
        self.pow_bits = bits.min(POW_BITS_MAX);
        Outcome::PowSet { bits: self.pow_bits }
    }

    /// Whether `by` holds a live pass at `now_us`.
    pub fn check_pass(&self, by: UserId, now_us: i64) -> Result<(), Rejection> {
        let e = self.entry_of(by).ok_or(Rejection::NotInQueue)?;
        match e.pass {
            PassState::Waiting => Err(Rejection::NotAdmitted),
            PassState::Admitted { expires_at_us, .. } if now_us < expires_at_us => Ok(()),
            PassState::Admitted { .. } | PassState::Expired { .. } => Err(Rejection::PassExpired),
            PassState::Used { .. } => Err(Rejection::PassUsed),
        }
    }

    /// `by` bought `units` with their pass: they count against the per-person
    /// `limit`, and when they reach it the pass ends and, under `Active`,
    /// frees a slot. A purchase without a live pass (a hold paid for after
    /// the pass expired) changes nothing here.
    pub(crate) fn record_purchase(&mut self, by: UserId, units: u32, limit: u32, now_us: i64, events: &mut Vec<Event>) {
        let Some(&ticket) = self.by_person.get(&by) else { return };
        let Some(e) = self.entry_mut(ticket) else { return };
        let PassState::Admitted { expires_at_us, .. } = e.pass else { return };
        e.bought = e.bought.saturating_add(units);
        if e.bought < limit {
            return;
        }
        e.pass = PassState::Used { at_us: now_us };
        self.expiry.remove(&(expires_at_us, ticket));
        self.active -= 1;
        self.advance(now_us, events);
    }

    /// Recounts everything; Err names the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        if self.by_person.len() != self.entries.len() {
            return Err("someone joined twice or is unindexed".into());
        }
        for (i, e) in self.entries.iter().enumerate() {
            if e.ticket as usize != i + 1 || self.by_person.get(&e.by) != Some(&e.ticket) {
                return Err(format!("ticket {} misindexed", e.ticket));
            }
        }
        if self.places_by_address.values().map(|n| *n as usize).sum::<usize>() != self.entries.len() {
            return Err("per-address counts drifted".into());
        }
        if self.shuffled {
            if self.line.len() != self.entries.len() {
                return Err(format!("{} tickets but {} places", self.entries.len(), self.line.len()));
            }
            let mut seen = BTreeSet::new();
            for (place, ticket) in (1u32..).zip(&self.line) {
                if !seen.insert(*ticket) {
                    return Err(format!("ticket {ticket} has two places"));
                }
                let Some(e) = self.entry(*ticket) else { return Err(format!("place {place} has no ticket")) };
                if e.place != Some(place) {
                    return Err(format!("ticket {ticket} thinks it is at {:?}, not {place}", e.place));
                }
                if e.pass.was_admitted() != (place <= self.admitted) {
                    return Err(format!(
                        "place {place} admitted={} with {} admitted",
                        e.pass.was_admitted(),
                        self.admitted
                    ));
                }
            }
        } else if self.admitted != 0 || self.entries.iter().any(|e| e.place.is_some() || e.pass.was_admitted()) {
            return Err("someone has a place or pass before the shuffle".into());
        }
        let live = self.entries.iter().filter(|e| matches!(e.pass, PassState::Admitted { .. })).count();
        if live != self.active as usize || live != self.expiry.len() {
            return Err(format!("{live} live passes, active {} expiry {}", self.active, self.expiry.len()));
        }
        if let AdmissionPolicy::Active { max } = self.config.policy
            && self.active > max
        {
            return Err(format!("{} live passes over the limit {max}", self.active));
        }
        Ok(())
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
