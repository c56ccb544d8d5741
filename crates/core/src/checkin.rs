//! The check-in book of one sale: which tickets exist, which generation of
//! each is the valid one, who has been let in, and what offline gates
//! admitted that they should not have.
//!
//! Like a sale it is a deterministic state machine: [`CheckinBook::apply`]
//! takes a [`CheckinInput`] with its time inside and returns a
//! [`CheckinOutcome`]; refusals are values, never `Err`. The engine logs the
//! inputs, so replaying them rebuilds the book.
//!
//! - **Issue** makes generation 1 of a new ticket (ids are dense from 1). A
//!   seat has at most one valid ticket at a time.
//! - **Refund** revokes the ticket for good. **Transfer** issues generation
//!   `n + 1` to the new holder and revokes `n` in the same step, so there is
//!   never a moment with two valid generations or none. Neither is allowed
//!   once the ticket has been admitted: it has been used.
//! - **Scan** (online) admits a ticket once; a second scan, at any gate, is
//!   refused with when and where it was admitted.
//! - **Sync** hands over what an offline gate admitted, each scan with a
//!   nonce the gate chose. The gate already let the person in, so the book
//!   cannot refuse the scan; it records it as the admission when the ticket
//!   was valid and not yet admitted, and otherwise as a [`Conflict`] the
//!   organizer lists. The first admission the book learns of is the
//!   admission, whatever the gates' clocks say; a later one is the conflict.
//!   A scan is remembered by (gate, nonce), so a gate that syncs again after
//!   a lost answer changes nothing and is told the same verdicts.
//!
//! What an offline gate downloads is the [`RevocationList`]: each ticket
//! with a revoked generation, and either the generation now valid (every
//! one below is revoked) or that it was refunded (every one is).

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::ticket::{Reader, TicketError, put_varint};
use crate::{STOCK_MAX, SeatId, TicketId, TicketPayload, TicketPlace, UserId};

/// Most tickets in one sale: one per unit a sale can sell.
pub const TICKETS_MAX: u64 = STOCK_MAX;
/// Most generations of one ticket: a transfer a day for years. A script
/// passing a ticket back and forth stops here, and the generation stays
/// within two bytes of the QR code.
pub const TICKET_GENERATION_MAX: u32 = 1_000;
/// Most scans in one sync; a gate with more sends several.
pub const SYNC_SCANS_MAX: usize = 1_000;
/// Most offline scans a sale remembers. Each is kept for good (its nonce
/// makes a replay harmless), so the book refuses syncs past this rather
/// than grow without end: about 150 MB at worst, and ten scans a ticket for
/// the largest venue (100,000 seats).
pub const OFFLINE_SCANS_MAX: usize = 1_000_000;
/// Signed before a revocation list, so its signature means nothing elsewhere.
pub const REVOCATION_LIST_DOMAIN: &[u8] = b"stampede-revocations-v1";
/// The list format this code writes and the only one it reads.
pub const REVOCATION_LIST_VERSION: u8 = 1;

/// A scanning device at the doors, as the server names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GateId(pub u64);

/// One ticket an offline gate let in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineScan {
    /// Chosen by the gate, unique among its own scans.
    pub nonce: u64,
    /// The gate's clock, which nobody checked: kept as the gate said it.
    pub scanned_at_us: i64,
    /// What the gate read and whose signature it checked.
    pub ticket: TicketPayload,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckinInput {
    /// Issue generation 1 of a new ticket for `order` (the order number in
    /// this sale that paid for it).
    Issue { at_us: i64, order: u64, place: TicketPlace, holder: UserId },
    /// Revoke a ticket for good (its order line was refunded).
    Refund { at_us: i64, ticket: TicketId },
    /// Re-issue the ticket to `to`; only its holder `by` may.
    Transfer { at_us: i64, ticket: TicketId, by: UserId, to: UserId },
    /// A gate online asks to let this ticket in now.
    Scan { at_us: i64, gate: GateId, ticket: TicketPayload },
    /// A gate back online reports what it let in.
    Sync { at_us: i64, gate: GateId, scans: Vec<OfflineScan> },
}

impl CheckinInput {
    pub fn at_us(&self) -> i64 {
        match self {
            CheckinInput::Issue { at_us, .. }
            | CheckinInput::Refund { at_us, .. }
            | CheckinInput::Transfer { at_us, .. }
            | CheckinInput::Scan { at_us, .. }
            | CheckinInput::Sync { at_us, .. } => *at_us,
        }
    }
}

/// Someone went in on a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admission {
    pub ticket: TicketId,
    pub generation: u32,
    pub place: TicketPlace,
    pub holder: UserId,
    pub gate: GateId,
    /// When the person went in: the book's time online, the gate's offline.
    pub at_us: i64,
    /// `Some((nonce, synced_at_us))` when an offline gate reported it.
    pub offline: Option<(u64, i64)>,
}

/// Why a ticket is not let in (online), or why an offline admission is a
/// conflict. Also why an issue, refund or transfer is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckinRefusal {
    /// No such ticket, or not this generation, seat or holder as issued.
    UnknownTicket,
    /// A ticket of another sale.
    WrongSale { sale: u64 },
    /// A newer generation was issued (the ticket was transferred).
    Superseded { generation: u32 },
    /// Refunded at `at_us`.
    Revoked { at_us: i64 },
    /// Already let in.
    AlreadyAdmitted { at_us: i64, gate: GateId },
    /// A transfer by someone who does not hold the ticket.
    NotHolder,
    /// The seat has a valid ticket already.
    SeatTaken { ticket: TicketId },
    /// [`TICKETS_MAX`] reached.
    TooManyTickets,
    /// [`TICKET_GENERATION_MAX`] reached.
    TooManyGenerations,
    /// A sync over [`SYNC_SCANS_MAX`], or one that would pass [`OFFLINE_SCANS_MAX`].
    TooManyScans,
}

impl CheckinRefusal {
    /// A stable name for APIs and pages.
    pub fn code(&self) -> &'static str {
        match self {
            CheckinRefusal::UnknownTicket => "unknown-ticket",
            CheckinRefusal::WrongSale { .. } => "wrong-sale",
            CheckinRefusal::Superseded { .. } => "ticket-superseded",
            CheckinRefusal::Revoked { .. } => "ticket-revoked",
            CheckinRefusal::AlreadyAdmitted { .. } => "already-admitted",
            CheckinRefusal::NotHolder => "not-holder",
            CheckinRefusal::SeatTaken { .. } => "seat-taken",
            CheckinRefusal::TooManyTickets => "too-many-tickets",
            CheckinRefusal::TooManyGenerations => "too-many-generations",
            CheckinRefusal::TooManyScans => "too-many-scans",
        }
    }
}

/// An offline admission the book would have refused: someone went in on a
/// ticket that was already used, revoked or not as issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub gate: GateId,
    pub nonce: u64,
    pub scanned_at_us: i64,
    pub synced_at_us: i64,
    pub ticket: TicketPayload,
    pub reason: CheckinRefusal,
}

/// What the book made of one offline scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScanVerdict {
    /// Recorded as the ticket's admission.
    Admitted,
    /// Recorded as a conflict for the organizer.
    Conflict(CheckinRefusal),
    /// The gate used this nonce before for another scan: nothing recorded.
    NonceReused,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckinOutcome {
    /// A ticket to sign and hand to its holder.
    Issued(TicketPayload),
    Refunded {
        ticket: TicketId,
        generation: u32,
    },
    /// The new generation to sign; `revoked` is the generation it replaces.
    Transferred {
        ticket: TicketPayload,
        revoked: u32,
    },
    Admitted(Admission),
    Refused(CheckinRefusal),
    /// One verdict per scan, in the order sent; a scan remembered from an
    /// earlier sync gets its first verdict again.
    Synced(Vec<ScanVerdict>),
}

/// A change to the book for everybody but the caller: projections (a
/// buyer's tickets, the organizer's check-in progress and conflicts) fold these.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketEvent {
    /// Generation 1 of a ticket of a paid order.
    Issued {
        order: u64,
        ticket: TicketPayload,
        at_us: i64,
    },
    /// A new generation for a new holder; the one before is revoked.
    Transferred {
        from: UserId,
        ticket: TicketPayload,
        at_us: i64,
    },
    /// Revoked for good: its place was refunded.
    Revoked {
        ticket: TicketId,
        generation: u32,
        at_us: i64,
    },
    Admitted(Admission),
    /// An offline gate let someone in who should not have been.
    Conflict(Conflict),
}

/// One ticket as the book keeps it: only its latest generation's holder,
/// since every earlier generation is revoked by definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRecord {
    pub order: u64,
    pub place: TicketPlace,
    pub holder: UserId,
    pub generation: u32,
    /// When the latest generation was issued.
    pub issued_at_us: i64,
    pub refunded_at_us: Option<i64>,
    /// Boxed: most tickets are never scanned while the sale runs, and an
    /// admission is half again the size of the rest of the record.
    pub admission: Option<Box<Admission>>,
}

impl TicketRecord {
    fn is_valid(&self) -> bool {
        self.refunded_at_us.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct RememberedScan {
    scan: OfflineScan,
    verdict: ScanVerdict,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinBook {
    sale: u64,
    /// Ticket `i + 1` is `tickets[i]`.
    tickets: Vec<TicketRecord>,
    /// The valid ticket of each seat, so a seat is never sold on two.
    seats: BTreeMap<SeatId, TicketId>,
    /// Every ticket with a revoked generation: the revocation list, kept
    /// as it changes so a download does not scan every ticket.
    revocations: BTreeMap<TicketId, Revocation>,
    /// Counts every change to `revoked_below`, so a gate can tell whether
    /// its copy is current.
    revision: u64,
    offline_scans: BTreeMap<(GateId, u64), RememberedScan>,
    conflicts: Vec<Conflict>,
    admitted: u64,
    /// Each order's tickets, valid or not, in issue order: what a refund
    /// revokes. A set of pairs rather than a list per order, so an order
    /// costs no allocation of its own (one-unit orders are the common case).
    orders: BTreeSet<(u64, TicketId)>,
}

impl CheckinBook {
    pub fn new(sale: u64) -> Self {
        CheckinBook {
            sale,
            tickets: Vec::new(),
            seats: BTreeMap::new(),
            revocations: BTreeMap::new(),
            revision: 0,
            offline_scans: BTreeMap::new(),
            conflicts: Vec::new(),
            admitted: 0,
            orders: BTreeSet::new(),
        }
    }

    pub fn sale(&self) -> u64 {
        self.sale
    }

    pub fn apply(&mut self, input: &CheckinInput) -> CheckinOutcome {
        self.apply_with_events(input).0
    }

    /// [`CheckinBook::apply`], with the events for everybody else.
    pub fn apply_with_events(&mut self, input: &CheckinInput) -> (CheckinOutcome, Vec<TicketEvent>) {
        let mut events = Vec::new();
        let result = match input {
            CheckinInput::Issue { at_us, order, place, holder } => self.issue(*at_us, *order, *place, *holder),
            CheckinInput::Refund { at_us, ticket } => self.refund(*at_us, *ticket),
            CheckinInput::Transfer { at_us, ticket, by, to } => self.transfer(*at_us, *ticket, *by, *to),
            CheckinInput::Scan { at_us, gate, ticket } => self.scan(*at_us, *gate, ticket),
            CheckinInput::Sync { at_us, gate, scans } => self.sync(*at_us, *gate, scans, &mut events),
        };
        let outcome = result.unwrap_or_else(CheckinOutcome::Refused);
        match (&outcome, input) {
            (CheckinOutcome::Transferred { ticket, .. }, CheckinInput::Transfer { at_us, by, .. }) => {
                events.push(TicketEvent::Transferred { from: *by, ticket: *ticket, at_us: *at_us });
            }
            (CheckinOutcome::Admitted(a), _) => events.push(TicketEvent::Admitted(*a)),
            (CheckinOutcome::Issued(ticket), CheckinInput::Issue { at_us, order, .. }) => {
                events.push(TicketEvent::Issued { order: *order, ticket: *ticket, at_us: *at_us });
            }
            (CheckinOutcome::Refunded { ticket, generation }, _) => {
                events.push(TicketEvent::Revoked { ticket: *ticket, generation: *generation, at_us: input.at_us() });
            }
            _ => {}
        }
        (outcome, events)
    }

    fn issue(
        &mut self,
        at_us: i64,
        order: u64,
        place: TicketPlace,
        holder: UserId,
    ) -> Result<CheckinOutcome, CheckinRefusal> {
        if self.tickets.len() as u64 >= TICKETS_MAX {
            return Err(CheckinRefusal::TooManyTickets);
        }
        let ticket = TicketId(self.tickets.len() as u64 + 1);
        if let TicketPlace::Seat(seat) = place {
            if let Some(&taken) = self.seats.get(&seat) {
                return Err(CheckinRefusal::SeatTaken { ticket: taken });
            }
            self.seats.insert(seat, ticket);
        }
        self.orders.insert((order, ticket));
        self.tickets.push(TicketRecord {
            order,
            place,
            holder,
            generation: 1,
            issued_at_us: at_us,
            refunded_at_us: None,
            admission: None,
        });
        Ok(CheckinOutcome::Issued(self.payload(ticket, 1, place, holder)))
    }

    /// A ticket that may still change hands: issued, not refunded, not used.
    fn live_mut(&mut self, ticket: TicketId) -> Result<&mut TicketRecord, CheckinRefusal> {
        let rec = index(ticket).and_then(|i| self.tickets.get_mut(i)).ok_or(CheckinRefusal::UnknownTicket)?;
        if let Some(at_us) = rec.refunded_at_us {
            return Err(CheckinRefusal::Revoked { at_us });
        }
        if let Some(a) = &rec.admission {
            return Err(CheckinRefusal::AlreadyAdmitted { at_us: a.at_us, gate: a.gate });
        }
        Ok(rec)
    }

    fn refund(&mut self, at_us: i64, ticket: TicketId) -> Result<CheckinOutcome, CheckinRefusal> {
        let rec = self.live_mut(ticket)?;
        rec.refunded_at_us = Some(at_us);
        let (generation, place) = (rec.generation, rec.place);
        if let TicketPlace::Seat(seat) = place {
            self.seats.remove(&seat);
        }
        self.revocations.insert(ticket, Revocation::Refunded);
        self.revision += 1;
        Ok(CheckinOutcome::Refunded { ticket, generation })
    }

    fn transfer(
        &mut self,
        at_us: i64,
        ticket: TicketId,
        by: UserId,
        to: UserId,
    ) -> Result<CheckinOutcome, CheckinRefusal> {
        let rec = self.live_mut(ticket)?;
        if rec.holder != by {
            return Err(CheckinRefusal::NotHolder);
        }
        if rec.generation >= TICKET_GENERATION_MAX {
            return Err(CheckinRefusal::TooManyGenerations);
        }
        let revoked = rec.generation;
        rec.generation += 1;
        rec.holder = to;
        rec.issued_at_us = at_us;
        let (generation, place) = (rec.generation, rec.place);
        self.revocations.insert(ticket, Revocation::Superseded { generation });
        self.revision += 1;
        Ok(CheckinOutcome::Transferred { ticket: self.payload(ticket, generation, place, to), revoked })
    }

    fn payload(&self, ticket: TicketId, generation: u32, place: TicketPlace, holder: UserId) -> TicketPayload {
        TicketPayload { sale: self.sale, ticket, place, holder, generation }
    }

    /// Whether `payload` would be let in now, and its record if so. The
    /// order of the checks decides which reason a gate shows.
    pub fn check(&self, payload: &TicketPayload) -> Result<&TicketRecord, CheckinRefusal> {
        if payload.sale != self.sale {
            return Err(CheckinRefusal::WrongSale { sale: payload.sale });
        }
        let rec = self.ticket(payload.ticket).ok_or(CheckinRefusal::UnknownTicket)?;
        // The seat never changes between generations; the holder does.
        if payload.place != rec.place || payload.generation == 0 || payload.generation > rec.generation {
            return Err(CheckinRefusal::UnknownTicket);
        }
        if payload.generation < rec.generation {
            return Err(CheckinRefusal::Superseded { generation: rec.generation });
        }
        if payload.holder != rec.holder {
            return Err(CheckinRefusal::UnknownTicket);
        }
        if let Some(at_us) = rec.refunded_at_us {
            return Err(CheckinRefusal::Revoked { at_us });
        }
        if let Some(a) = &rec.admission {
            return Err(CheckinRefusal::AlreadyAdmitted { at_us: a.at_us, gate: a.gate });
        }
        Ok(rec)
    }

    fn admit(&mut self, payload: &TicketPayload, gate: GateId, at_us: i64, offline: Option<(u64, i64)>) -> Admission {
        let admission = Admission {
            ticket: payload.ticket,
            generation: payload.generation,
            place: payload.place,
            holder: payload.holder,
            gate,
            at_us,
            offline,
        };
        if let Some(rec) = index(payload.ticket).and_then(|i| self.tickets.get_mut(i)) {
            rec.admission = Some(Box::new(admission));
            self.admitted += 1;
        }
        admission
    }

    fn scan(&mut self, at_us: i64, gate: GateId, payload: &TicketPayload) -> Result<CheckinOutcome, CheckinRefusal> {
        self.check(payload)?;
        Ok(CheckinOutcome::Admitted(self.admit(payload, gate, at_us, None)))
    }

    fn sync(
        &mut self,
        at_us: i64,
        gate: GateId,
        scans: &[OfflineScan],
        events: &mut Vec<TicketEvent>,
    ) -> Result<CheckinOutcome, CheckinRefusal> {
        if scans.len() > SYNC_SCANS_MAX || self.offline_scans.len() + scans.len() > OFFLINE_SCANS_MAX {
            return Err(CheckinRefusal::TooManyScans);
        }
        let mut verdicts = Vec::with_capacity(scans.len());
        for scan in scans {
            let verdict = match self.offline_scans.get(&(gate, scan.nonce)) {
                Some(seen) if seen.scan == *scan => seen.verdict,
                Some(_) => ScanVerdict::NonceReused,
                None => {
                    let verdict = match self.check(&scan.ticket) {
                        Ok(_) => {
                            let a = self.admit(&scan.ticket, gate, scan.scanned_at_us, Some((scan.nonce, at_us)));
                            events.push(TicketEvent::Admitted(a));
                            ScanVerdict::Admitted
                        }
                        Err(reason) => {
                            let conflict = Conflict {
                                gate,
                                nonce: scan.nonce,
                                scanned_at_us: scan.scanned_at_us,
                                synced_at_us: at_us,
                                ticket: scan.ticket,
                                reason,
                            };
                            self.conflicts.push(conflict);
                            events.push(TicketEvent::Conflict(conflict));
                            ScanVerdict::Conflict(reason)
                        }
                    };
                    self.offline_scans.insert((gate, scan.nonce), RememberedScan { scan: *scan, verdict });
                    verdict
                }
            };
            verdicts.push(verdict);
        }
        Ok(CheckinOutcome::Synced(verdicts))
    }

    /// Makes an order's valid tickets match `places`, the units or seats it
    /// has paid for now, each with who sits there: revokes the tickets of
    /// places no longer in it (refunded, or a seat released or swapped away)
    /// and issues one for each place without one. An admitted ticket is
    /// never revoked (the sale refuses to give back what was used first);
    /// an issue the book refuses for lack of room issues nothing.
    pub fn follow_order(&mut self, at_us: i64, order: u64, places: &[(TicketPlace, UserId)]) -> Vec<TicketEvent> {
        let mut events = Vec::new();
        let mut covered = Vec::new();
        for (_, ticket) in self.orders.range((order, TicketId(0))..=(order, TicketId(u64::MAX))) {
            let ticket = *ticket;
            let Some(rec) = self.ticket(ticket) else { continue };
            if !rec.is_valid() {
                continue;
            }
            if places.iter().any(|(place, _)| *place == rec.place) {
                covered.push(rec.place);
            } else if rec.admission.is_none() {
                events.push((ticket, rec.generation));
            }
        }
        let mut out: Vec<TicketEvent> = Vec::new();
        for (ticket, generation) in events {
            if self.refund(at_us, ticket).is_ok() {
                out.push(TicketEvent::Revoked { ticket, generation, at_us });
            }
        }
        for &(place, holder) in places {
            if covered.contains(&place) {
                continue;
            }
            if let Ok(CheckinOutcome::Issued(ticket)) = self.issue(at_us, order, place, holder) {
                out.push(TicketEvent::Issued { order, ticket, at_us });
            }
        }
        out
    }

    /// Whether any ticket of `order` (of its seat `seat`, when given) has
    /// been let in: what was used cannot be given back.
    pub fn used(&self, order: u64, seat: Option<SeatId>) -> bool {
        self.order_tickets(order)
            .any(|(_, rec)| rec.admission.is_some() && seat.is_none_or(|s| rec.place == TicketPlace::Seat(s)))
    }

    /// The tickets of one order, in issue order.
    pub fn order_tickets(&self, order: u64) -> impl Iterator<Item = (TicketId, &TicketRecord)> {
        let ids = self.orders.range((order, TicketId(0))..=(order, TicketId(u64::MAX)));
        ids.filter_map(|(_, id)| Some((*id, self.ticket(*id)?)))
    }

    pub fn ticket(&self, ticket: TicketId) -> Option<&TicketRecord> {
        index(ticket).and_then(|i| self.tickets.get(i))
    }

    /// Every ticket, in id order (`TicketId(1)` first).
    pub fn tickets(&self) -> impl Iterator<Item = (TicketId, &TicketRecord)> {
        self.tickets.iter().enumerate().map(|(i, r)| (TicketId(i as u64 + 1), r))
    }

    /// Offline admissions the book would have refused, in the order synced.
    pub fn conflicts(&self) -> &[Conflict] {
        &self.conflicts
    }

    /// Tickets let in, for the dashboard's check-in progress.
    pub fn admitted(&self) -> u64 {
        self.admitted
    }

    /// What an offline gate downloads.
    pub fn revocation_list(&self) -> RevocationList {
        RevocationList {
            sale: self.sale,
            revision: self.revision,
            revocations: self.revocations.iter().map(|(&t, &r)| (t, r)).collect(),
        }
    }

    /// Recounts what the book keeps twice and checks the rules it relies on.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seats = BTreeMap::new();
        let mut admitted = 0;
        let mut revocations = BTreeMap::new();
        let mut revision = 0u64;
        for (id, rec) in self.tickets() {
            if rec.generation == 0 || rec.generation > TICKET_GENERATION_MAX {
                return Err(format!("ticket {} is at generation {}", id.0, rec.generation));
            }
            if let (TicketPlace::Seat(seat), true) = (rec.place, rec.is_valid())
                && let Some(other) = seats.insert(seat, id)
            {
                return Err(format!("seat {} has valid tickets {} and {}", seat.0, other.0, id.0));
            }
            if let Some(a) = &rec.admission {
                admitted += 1;
                if a.ticket != id || a.generation != rec.generation || a.holder != rec.holder {
                    return Err(format!("ticket {} holds an admission of another ticket", id.0));
                }
                if rec.refunded_at_us.is_some() {
                    return Err(format!("ticket {} was admitted and refunded", id.0));
                }
            }
            // Every transfer and the refund each moved the list once.
            revision += u64::from(rec.generation - 1) + u64::from(rec.refunded_at_us.is_some());
            match (rec.refunded_at_us, rec.generation) {
                (Some(_), _) => {
                    revocations.insert(id, Revocation::Refunded);
                }
                (None, 1) => {}
                (None, generation) => {
                    revocations.insert(id, Revocation::Superseded { generation });
                }
            }
        }
        let orders: BTreeSet<(u64, TicketId)> = self.tickets().map(|(id, rec)| (rec.order, id)).collect();
        if orders != self.orders {
            return Err("the order index is not the tickets' orders".into());
        }
        if seats != self.seats {
            return Err("the seat index is not the valid seat tickets".into());
        }
        if admitted != self.admitted {
            return Err(format!("{admitted} tickets admitted, the count says {}", self.admitted));
        }
        if revocations != self.revocations || revision != self.revision {
            return Err("the revocation list is not what the tickets say".into());
        }
        let conflicts = self.offline_scans.values().filter(|s| matches!(s.verdict, ScanVerdict::Conflict(_))).count();
        if conflicts != self.conflicts.len() {
            return Err(format!("{conflicts} conflicting scans remembered, {} listed", self.conflicts.len()));
        }
        Ok(())
    }
}

fn index(ticket: TicketId) -> Option<usize> {
    usize::try_from(ticket.0).ok()?.checked_sub(1)
}

/// Why bytes are not a revocation list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RevocationListError {
    #[error("the revocation list is not well formed ({0})")]
    Malformed(#[from] TicketError),
    #[error("revocation list version {0} is not known")]
    UnknownVersion(u8),
    #[error("ticket ids in a revocation list must rise")]
    NotAscending,
    #[error("the revocation list's signature does not verify")]
    BadSignature,
}

/// Which generations of a listed ticket are revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Revocation {
    /// All of them: the ticket was refunded.
    Refunded,
    /// Every one below `generation`, the one now valid (it was transferred).
    Superseded { generation: u32 },
}

/// Why a gate offline refuses a ticket whose signature is good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfflineRefusal {
    WrongSale { sale: u64 },
    Revoked(Revocation),
}

/// Every ticket with a revoked generation, as an offline gate keeps it.
///
/// Encoded (version 1) as varints: `version u8 | sale | revision | count`,
/// then per ticket in rising order the gap from the previous id (from 0,
/// so never 0) and `0` for refunded or the valid generation (never 1, which
/// would revoke nothing); about 3 bytes a ticket. Signed like a ticket,
/// under [`REVOCATION_LIST_DOMAIN`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    pub sale: u64,
    /// Rises with every refund and transfer: a gate with a lower one is behind.
    pub revision: u64,
    /// In rising ticket order.
    pub revocations: Vec<(TicketId, Revocation)>,
}

impl RevocationList {
    /// What a gate offline can say of a ticket whose signature it checked:
    /// whether it is of this sale and its generation not revoked. It cannot
    /// know about admissions at other gates; those come back as conflicts
    /// when it syncs.
    pub fn check(&self, payload: &TicketPayload) -> Result<(), OfflineRefusal> {
        if payload.sale != self.sale {
            return Err(OfflineRefusal::WrongSale { sale: payload.sale });
        }
        let Ok(i) = self.revocations.binary_search_by_key(&payload.ticket, |&(t, _)| t) else {
            return Ok(());
        };
        match self.revocations[i].1 {
            Revocation::Superseded { generation } if payload.generation >= generation => Ok(()),
            revoked => Err(OfflineRefusal::Revoked(revoked)),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + 4 * self.revocations.len());
        out.push(REVOCATION_LIST_VERSION);
        put_varint(&mut out, self.sale);
        put_varint(&mut out, self.revision);
        put_varint(&mut out, self.revocations.len() as u64);
        let mut last = 0;
        for &(ticket, revocation) in &self.revocations {
            put_varint(&mut out, ticket.0.wrapping_sub(last));
            put_varint(
                &mut out,
                match revocation {
                    Revocation::Refunded => 0,
                    Revocation::Superseded { generation } => u64::from(generation),
                },
            );
            last = ticket.0;
        }
        out
    }

    /// Exactly one list and nothing after it. Its length is bounded by the
    /// input's: every entry takes at least two bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, RevocationListError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.byte()?;
        if version != REVOCATION_LIST_VERSION {
            return Err(RevocationListError::UnknownVersion(version));
        }
        let sale = r.varint(u64::MAX)?;
        let revision = r.varint(u64::MAX)?;
        let room = (bytes.len() - r.at) / 2;
        let count = r.varint(room as u64)?;
        let mut revocations = Vec::with_capacity(usize::try_from(count).map_err(|_| TicketError::NonCanonical)?);
        let mut last = 0u64;
        for _ in 0..count {
            let gap = r.varint(u64::MAX)?;
            if gap == 0 {
                return Err(RevocationListError::NotAscending);
            }
            let ticket = last.checked_add(gap).ok_or(RevocationListError::NotAscending)?;
            let revocation = match r.varint_u32()? {
                0 => Revocation::Refunded,
                1 => return Err(TicketError::NonCanonical.into()),
                generation => Revocation::Superseded { generation },
            };
            revocations.push((TicketId(ticket), revocation));
            last = ticket;
        }
        match bytes.len() - r.at {
            0 => Ok(RevocationList { sale, revision, revocations }),
            extra => Err(TicketError::TrailingBytes(extra).into()),
        }
    }

    /// The encoding followed by its 64-byte signature.
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        let mut out = self.encode();
        let signature = key.sign(&list_signed_bytes(&out));
        out.extend_from_slice(&signature.to_bytes());
        out
    }

    pub fn open(bytes: &[u8], key: &VerifyingKey) -> Result<Self, RevocationListError> {
        let split = bytes.len().checked_sub(64).ok_or(TicketError::Truncated)?;
        let (list, signature) = bytes.split_at(split);
        let signature: [u8; 64] = signature.try_into().map_err(|_| TicketError::Truncated)?;
        key.verify_strict(&list_signed_bytes(list), &Signature::from_bytes(&signature))
            .map_err(|_| RevocationListError::BadSignature)?;
        Self::decode(list)
    }
}

fn list_signed_bytes(list: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(REVOCATION_LIST_DOMAIN.len() + list.len());
    m.extend_from_slice(REVOCATION_LIST_DOMAIN);
    m.extend_from_slice(list);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> RevocationList {
        RevocationList {
            sale: 42,
            revision: 5,
            revocations: vec![
                (TicketId(3), Revocation::Superseded { generation: 2 }),
                (TicketId(130), Revocation::Refunded),
                (TicketId(131), Revocation::Superseded { generation: 4 }),
            ],
        }
    }

    #[test]
    fn a_gate_refuses_what_the_list_revokes() {
        let l = list();
        let at = |ticket, generation| TicketPayload {
            sale: 42,
            ticket: TicketId(ticket),
            place: TicketPlace::Unit(1),
            holder: UserId(1),
            generation,
        };
        assert_eq!(l.check(&at(1, 1)), Ok(()));
        assert_eq!(l.check(&at(3, 1)), Err(OfflineRefusal::Revoked(Revocation::Superseded { generation: 2 })));
        assert_eq!(l.check(&at(3, 2)), Ok(()));
        assert_eq!(l.check(&at(130, 1)), Err(OfflineRefusal::Revoked(Revocation::Refunded)));
        assert_eq!(l.check(&at(131, 3)), Err(OfflineRefusal::Revoked(Revocation::Superseded { generation: 4 })));
        assert_eq!(l.check(&at(131, 4)), Ok(()));
        let other_sale = TicketPayload { sale: 41, ..at(1, 1) };
        assert_eq!(l.check(&other_sale), Err(OfflineRefusal::WrongSale { sale: 41 }));
    }

    #[test]
    fn the_revocation_list_format_is_pinned() {
        let hex: String = list().encode().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "012a050303027f000104");
        assert_eq!(RevocationList::decode(&list().encode()), Ok(list()));
    }

    #[test]
    fn a_revocation_list_refuses_changes_and_disorder() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let signed = list().sign(&key);
        assert_eq!(RevocationList::open(&signed, &key.verifying_key()), Ok(list()));
        for i in 0..signed.len() {
            let mut changed = signed.clone();
            changed[i] ^= 0x01;
            assert!(RevocationList::open(&changed, &key.verifying_key()).is_err(), "byte {i}");
        }
        let mut bytes = list().encode();
        bytes.push(0);
        assert_eq!(RevocationList::decode(&bytes), Err(TicketError::TrailingBytes(1).into()));
        // A gap of 0 repeats a ticket.
        assert_eq!(RevocationList::decode(&[1, 42, 5, 2, 3, 2, 0, 2]), Err(RevocationListError::NotAscending));
        // A count larger than the bytes could hold is refused before allocating.
        assert!(RevocationList::decode(&[1, 42, 5, 0xff, 0xff, 0x03]).is_err());
        // Generation 1 revokes nothing, so it is never listed.
        assert_eq!(RevocationList::decode(&[1, 42, 5, 1, 3, 1]), Err(TicketError::NonCanonical.into()));
        assert_eq!(RevocationList::decode(&[2, 42, 5, 0]), Err(RevocationListError::UnknownVersion(2)));
    }
}
