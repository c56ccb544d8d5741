//! The fold from events to row changes: pure, no SQL, no I/O.
//!
//! [`fold`] turns one log entry's events into [`Change`]s; [`Model`] applies
//! them to plain maps. The SQLite tables ([`crate::Views`]) apply the same
//! changes, so "the projections equal a fold of the log's events" is a
//! comparison of the two. Statistics are not folded event by event: they are
//! the sum of every hold's [`Contribution`] (plus the clicks), kept up to date
//! by subtracting a hold's old contribution and adding its new one, so they
//! can never drift from the holds they summarize.

use std::collections::BTreeMap;

use stampede_core::{Event, HoldChange, HoldFact, HoldStatus, Money, SaleStatus, TicketEvent, TicketPlace};
use stampede_engine::events::EntryEvents;
use stampede_log::SaleId;

/// Width of one bar of the click-time histogram.
pub const HISTOGRAM_BUCKET_US: i64 = 10_000;
/// Bars kept per sale; later clicks all fall in the last one.
pub const HISTOGRAM_BUCKETS_MAX: u32 = 1_000;

/// The bar of the click-time histogram a click falls in: 10 ms wide, counted
/// from the opening; the last bar takes every later click.
pub fn histogram_bucket(after_open_us: i64) -> u32 {
    let bar = after_open_us.max(0) / HISTOGRAM_BUCKET_US;
    u32::try_from(bar).unwrap_or(u32::MAX).min(HISTOGRAM_BUCKETS_MAX - 1)
}

/// Units of stock, or a hold of seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HoldKind {
    Stock,
    Seats,
}

impl HoldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Stock => "stock",
            HoldKind::Seats => "seats",
        }
    }

    pub fn parse(s: &str) -> Option<HoldKind> {
        match s {
            "stock" => Some(HoldKind::Stock),
            "seats" => Some(HoldKind::Seats),
            _ => None,
        }
    }
}

/// One hold (an order once confirmed) as the tables keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldRow {
    pub sale: SaleId,
    pub id: u64,
    pub kind: HoldKind,
    /// Who booked it (and alone may confirm, cancel or refund it).
    pub booker: u64,
    pub status: HoldStatus,
    /// Units of stock, or seats held now.
    pub quantity: u32,
    /// Stock: the unit price. Seats: 0 (each seat has its own).
    pub unit_price: u64,
    /// What it costs (or cost) in the currency's minor unit.
    pub amount: u64,
    pub created_at_us: i64,
    pub expires_at_us: i64,
    /// The time of the entry that last changed it.
    pub updated_at_us: i64,
}

/// One seat of a seat hold: held now, or given back from it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SeatRow {
    pub released: bool,
    /// Its place in the hold's list (held or released).
    pub position: u32,
    pub seat: u32,
    /// Who will sit there: the booker or a friend.
    pub holder: u64,
    pub price: u64,
}

/// One click of a drop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClickRow {
    pub sale: SaleId,
    pub rank: u32,
    pub person: u64,
    pub won: bool,
    pub at_us: i64,
    pub after_open_us: i64,
}

/// Where a ticket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TicketState {
    /// Its latest generation may go in.
    Valid,
    /// Let in at the gate.
    Admitted,
    /// Refunded: revoked for good.
    Revoked,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Valid => "valid",
            TicketState::Admitted => "admitted",
            TicketState::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<TicketState> {
        match s {
            "valid" => Some(TicketState::Valid),
            "admitted" => Some(TicketState::Admitted),
            "revoked" => Some(TicketState::Revoked),
            _ => None,
        }
    }
}

/// One ticket of a paid order, at its latest generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketRow {
    pub sale: SaleId,
    pub ticket: u64,
    /// The order (hold number) that paid for it.
    pub order: u64,
    pub place: TicketPlace,
    pub holder: u64,
    pub generation: u32,
    pub state: TicketState,
    pub issued_at_us: i64,
    /// When it was last transferred, revoked or admitted.
    pub changed_at_us: i64,
    /// The gate that let it in, and whether it was offline then.
    pub gate: Option<u64>,
    pub offline: bool,
}

/// An offline admission the sale would have refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflictRow {
    pub sale: SaleId,
    pub gate: u64,
    pub nonce: u64,
    pub ticket: u64,
    pub generation: u32,
    pub holder: u64,
    pub reason: String,
    pub scanned_at_us: i64,
    pub synced_at_us: i64,
}

/// What one event does to the tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Insert or replace the hold. `new`: this entry made it, so there is no
    /// earlier row whose share of the statistics to take back (the tables
    /// skip looking one up; the model looks anyway, so a wrong `new` shows).
    Hold {
        row: HoldRow,
        new: bool,
    },
    /// Replace the seats of a seat hold.
    HoldSeats {
        sale: SaleId,
        hold: u64,
        seats: Vec<SeatRow>,
    },
    /// A click (ranks only ever grow; each is added once).
    Click(ClickRow),
    /// The sale's status, as of `at_us`.
    Status {
        sale: SaleId,
        status: SaleStatus,
        at_us: i64,
    },
    /// A new ticket.
    TicketIssued(TicketRow),
    /// A ticket's new generation and holder.
    TicketTransferred {
        ticket: u64,
        holder: u64,
        generation: u32,
        at_us: i64,
    },
    TicketRevoked {
        ticket: u64,
        at_us: i64,
    },
    TicketAdmitted {
        ticket: u64,
        gate: u64,
        offline: bool,
        at_us: i64,
    },
    TicketConflict(ConflictRow),
}

/// The row changes of one ticket event of `sale`.
fn ticket_change(sale: SaleId, event: &TicketEvent) -> Change {
    match event {
        TicketEvent::Issued { order, ticket, at_us } => Change::TicketIssued(TicketRow {
            sale,
            ticket: ticket.ticket.0,
            order: *order,
            place: ticket.place,
            holder: ticket.holder.0,
            generation: ticket.generation,
            state: TicketState::Valid,
            issued_at_us: *at_us,
            changed_at_us: *at_us,
            gate: None,
            offline: false,
        }),
        TicketEvent::Transferred { ticket, at_us, .. } => Change::TicketTransferred {
            ticket: ticket.ticket.0,
            holder: ticket.holder.0,
            generation: ticket.generation,
            at_us: *at_us,
        },
        TicketEvent::Revoked { ticket, at_us, .. } => Change::TicketRevoked { ticket: ticket.0, at_us: *at_us },
        TicketEvent::Admitted(a) => {
            Change::TicketAdmitted { ticket: a.ticket.0, gate: a.gate.0, offline: a.offline.is_some(), at_us: a.at_us }
        }
        TicketEvent::Conflict(c) => Change::TicketConflict(ConflictRow {
            sale,
            gate: c.gate.0,
            nonce: c.nonce,
            ticket: c.ticket.ticket.0,
            generation: c.ticket.generation,
            holder: c.ticket.holder.0,
            reason: c.reason.code().to_owned(),
            scanned_at_us: c.scanned_at_us,
            synced_at_us: c.synced_at_us,
        }),
    }
}

fn minor(amount: Option<Money>) -> u64 {
    // Sales are created so that every amount fits (the server checks
    // stock × price, seat prices are bounded); a sum that did not would show
    // as the largest amount rather than a small wrong one.
    amount.map_or(u64::MAX, Money::minor)
}

/// The row changes of one log entry of `sale`, in the order of its events.
pub fn fold(sale: SaleId, entry: &EntryEvents) -> Vec<Change> {
    let mut out = Vec::new();
    for event in &entry.events {
        match event {
            Event::Hold { change, hold } => match hold {
                HoldFact::Stock(h) => out.push(Change::Hold {
                    new: *change == HoldChange::Held,
                    row: HoldRow {
                        sale,
                        id: h.id.0,
                        kind: HoldKind::Stock,
                        booker: h.by.0,
                        status: h.status,
                        quantity: h.quantity,
                        unit_price: h.price,
                        amount: minor(h.amount()),
                        created_at_us: h.created_at_us,
                        expires_at_us: h.expires_at_us,
                        updated_at_us: entry.at_us,
                    },
                }),
                HoldFact::Seats(h) => {
                    out.push(Change::Hold {
                        new: *change == HoldChange::Held,
                        row: HoldRow {
                            sale,
                            id: h.id.0,
                            kind: HoldKind::Seats,
                            booker: h.by.0,
                            status: h.status,
                            quantity: u32::try_from(h.seats.len()).unwrap_or(u32::MAX),
                            unit_price: 0,
                            amount: minor(h.amount()),
                            created_at_us: h.created_at_us,
                            expires_at_us: h.expires_at_us,
                            updated_at_us: entry.at_us,
                        },
                    });
                    let row = |released: bool| {
                        move |(i, s): (usize, &stampede_core::HeldSeat)| SeatRow {
                            released,
                            position: u32::try_from(i).unwrap_or(u32::MAX),
                            seat: s.seat.0,
                            holder: s.holder.0,
                            price: s.price,
                        }
                    };
                    let seats = h
                        .seats
                        .iter()
                        .enumerate()
                        .map(row(false))
                        .chain(h.released.iter().enumerate().map(row(true)))
                        .collect();
                    out.push(Change::HoldSeats { sale, hold: h.id.0, seats });
                }
            },
            Event::Clicked(c) => out.push(Change::Click(ClickRow {
                sale,
                rank: c.rank,
                person: c.by.0,
                won: c.won,
                at_us: c.at_us,
                after_open_us: c.after_open_us,
            })),
            Event::StatusChanged(status) => out.push(Change::Status { sale, status: *status, at_us: entry.at_us }),
            // The rest describe the waiting room, the seat map and the sale's
            // configuration: live pages show those from the engine's published view.
            Event::StockChanged(_)
            | Event::QueueJoined { .. }
            | Event::QueueShuffled { .. }
            | Event::QueueAdmitted { .. }
            | Event::PassesExpired { .. }
            | Event::SeatsTaken { .. }
            | Event::SeatsFreed { .. }
            | Event::Edited
            | Event::Archived => {}
            Event::Ticket(t) => out.push(ticket_change(sale, t)),
        }
    }
    out
}

/// A sale's figures for its organizer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SaleStats {
    /// Units or seats held now (not yet confirmed).
    pub held: u64,
    /// Units or seats sold (confirmed and not refunded).
    pub sold: u64,
    /// Amount of the orders that stand (refunded ones excluded).
    pub revenue: u64,
    /// Orders refunded, and what they had cost.
    pub refunds: u64,
    pub refunded_amount: u64,
    /// Drops: clicks, and winning clicks.
    pub clicks: u64,
    pub won: u64,
}

/// What one hold adds to its sale's statistics in its current state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contribution {
    pub held: u64,
    pub sold: u64,
    pub revenue: u64,
    pub refunds: u64,
    pub refunded_amount: u64,
}

impl Contribution {
    pub fn of(row: &HoldRow) -> Contribution {
        let q = u64::from(row.quantity);
        match row.status {
            HoldStatus::Held => Contribution { held: q, ..Contribution::default() },
            HoldStatus::Confirmed => Contribution { sold: q, revenue: row.amount, ..Contribution::default() },
            HoldStatus::Refunded => Contribution { refunds: 1, refunded_amount: row.amount, ..Contribution::default() },
            HoldStatus::Cancelled | HoldStatus::Expired => Contribution::default(),
        }
    }
}

impl SaleStats {
    /// Replaces `old`'s contribution with `new`'s. Wrapping arithmetic is exact
    /// here: every figure is a sum of what the holds contribute now, which fits.
    pub fn replace(&mut self, old: Contribution, new: Contribution) {
        let f = |v: u64, o: u64, n: u64| v.wrapping_sub(o).wrapping_add(n);
        self.held = f(self.held, old.held, new.held);
        self.sold = f(self.sold, old.sold, new.sold);
        self.revenue = f(self.revenue, old.revenue, new.revenue);
        self.refunds = f(self.refunds, old.refunds, new.refunds);
        self.refunded_amount = f(self.refunded_amount, old.refunded_amount, new.refunded_amount);
    }

    pub fn add_click(&mut self, won: bool) {
        self.clicks += 1;
        self.won += u64::from(won);
    }
}

/// The projections as plain maps: what the SQL tables must equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    /// The next seq to apply, per sale.
    pub next_seq: BTreeMap<SaleId, u64>,
    pub holds: BTreeMap<(SaleId, u64), HoldRow>,
    pub seats: BTreeMap<(SaleId, u64), Vec<SeatRow>>,
    pub clicks: BTreeMap<(SaleId, u32), ClickRow>,
    pub stats: BTreeMap<SaleId, SaleStats>,
    pub status: BTreeMap<SaleId, (SaleStatus, i64)>,
    pub histogram: BTreeMap<(SaleId, u32), u64>,
    pub tickets: BTreeMap<(SaleId, u64), TicketRow>,
    pub conflicts: BTreeMap<(SaleId, u64, u64), ConflictRow>,
}

impl Model {
    /// Applies one entry unless it was applied already (its seq is behind).
    pub fn apply(&mut self, sale: SaleId, entry: &EntryEvents) {
        let next = self.next_seq.entry(sale).or_insert(0);
        if entry.seq < *next {
            return;
        }
        *next = entry.seq + 1;
        for change in fold(sale, entry) {
            match change {
                Change::Hold { row, new: _ } => {
                    let old = self.holds.get(&(sale, row.id)).map(Contribution::of).unwrap_or_default();
                    self.stats.entry(sale).or_default().replace(old, Contribution::of(&row));
                    self.holds.insert((sale, row.id), row);
                }
                Change::HoldSeats { sale, hold, seats } => {
                    self.seats.insert((sale, hold), seats);
                }
                Change::Click(c) => {
                    self.stats.entry(sale).or_default().add_click(c.won);
                    *self.histogram.entry((sale, histogram_bucket(c.after_open_us))).or_default() += 1;
                    self.clicks.insert((sale, c.rank), c);
                }
                Change::Status { sale, status, at_us } => {
                    self.stats.entry(sale).or_default();
                    self.status.insert(sale, (status, at_us));
                }
                Change::TicketIssued(row) => {
                    self.tickets.insert((sale, row.ticket), row);
                }
                Change::TicketTransferred { ticket, holder, generation, at_us } => {
                    if let Some(t) = self.tickets.get_mut(&(sale, ticket)) {
                        (t.holder, t.generation, t.changed_at_us) = (holder, generation, at_us);
                    }
                }
                Change::TicketRevoked { ticket, at_us } => {
                    if let Some(t) = self.tickets.get_mut(&(sale, ticket)) {
                        (t.state, t.changed_at_us) = (TicketState::Revoked, at_us);
                    }
                }
                Change::TicketAdmitted { ticket, gate, offline, at_us } => {
                    if let Some(t) = self.tickets.get_mut(&(sale, ticket)) {
                        (t.state, t.changed_at_us, t.gate, t.offline) =
                            (TicketState::Admitted, at_us, Some(gate), offline);
                    }
                }
                Change::TicketConflict(c) => {
                    self.conflicts.insert((sale, c.gate, c.nonce), c);
                }
            }
        }
    }

    /// The model in [`crate::Views::dump`]'s format, so the two compare as text.
    pub fn dump(&self) -> String {
        use std::fmt::Write as _;
        let i = |v: u64| v as i64;
        let mut out = String::new();
        let _ = writeln!(out, "# cursors");
        for (sale, next) in &self.next_seq {
            let _ = writeln!(out, "{}|{}", i(*sale), i(*next));
        }
        let _ = writeln!(out, "# holds");
        for h in self.holds.values() {
            let _ = writeln!(
                out,
                "{}|{}|{:?}|{}|{:?}|{}|{}|{}|{}|{}|{}",
                i(h.sale),
                i(h.id),
                h.kind.as_str(),
                i(h.booker),
                h.status.as_str(),
                h.quantity,
                i(h.unit_price),
                i(h.amount),
                h.created_at_us,
                h.expires_at_us,
                h.updated_at_us
            );
        }
        let _ = writeln!(out, "# hold_seats");
        for ((sale, hold), seats) in &self.seats {
            let mut seats = seats.clone();
            seats.sort();
            for s in seats {
                let _ = writeln!(
                    out,
                    "{}|{}|{}|{}|{}|{}|{}",
                    i(*sale),
                    i(*hold),
                    u8::from(s.released),
                    s.position,
                    s.seat,
                    i(s.holder),
                    i(s.price)
                );
            }
        }
        let _ = writeln!(out, "# sale_stats");
        for (sale, s) in &self.stats {
            let (status, at) = match self.status.get(sale) {
                Some((st, at)) => (format!("{:?}", st.as_str()), at.to_string()),
                None => ("NULL".to_owned(), "NULL".to_owned()),
            };
            let _ = writeln!(
                out,
                "{}|{status}|{at}|{}|{}|{}|{}|{}|{}|{}",
                i(*sale),
                i(s.held),
                i(s.sold),
                i(s.revenue),
                i(s.refunds),
                i(s.refunded_amount),
                i(s.clicks),
                i(s.won)
            );
        }
        let _ = writeln!(out, "# clicks");
        for c in self.clicks.values() {
            let _ = writeln!(
                out,
                "{}|{}|{}|{}|{}|{}",
                i(c.sale),
                c.rank,
                i(c.person),
                u8::from(c.won),
                c.at_us,
                c.after_open_us
            );
        }
        let _ = writeln!(out, "# click_histogram");
        for ((sale, bucket), n) in &self.histogram {
            let _ = writeln!(out, "{}|{bucket}|{}", i(*sale), i(*n));
        }
        let _ = writeln!(out, "# tickets");
        for t in self.tickets.values() {
            let (kind, place) = place_columns(t.place);
            let gate = t.gate.map_or("NULL".to_owned(), |g| i(g).to_string());
            let _ = writeln!(
                out,
                "{}|{}|{}|{kind:?}|{place}|{}|{}|{:?}|{}|{}|{gate}|{}",
                i(t.sale),
                i(t.ticket),
                i(t.order),
                i(t.holder),
                t.generation,
                t.state.as_str(),
                t.issued_at_us,
                t.changed_at_us,
                u8::from(t.offline)
            );
        }
        let _ = writeln!(out, "# ticket_conflicts");
        for c in self.conflicts.values() {
            let _ = writeln!(
                out,
                "{}|{}|{}|{}|{}|{}|{:?}|{}|{}",
                i(c.sale),
                i(c.gate),
                i(c.nonce),
                i(c.ticket),
                c.generation,
                i(c.holder),
                c.reason,
                c.scanned_at_us,
                c.synced_at_us
            );
        }
        out
    }
}

/// A ticket's place as the tables spell it: its kind (`unit`, `seat`) and number.
pub fn place_columns(place: TicketPlace) -> (&'static str, u32) {
    match place {
        TicketPlace::Unit(n) => ("unit", n),
        TicketPlace::Seat(s) => ("seat", s.0),
    }
}
