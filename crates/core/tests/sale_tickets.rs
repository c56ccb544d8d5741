#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tickets follow orders: a property test of the sale with its check-in book.
//!
//! Random holds, confirms, refunds, seat releases and swaps, transfers,
//! admissions (of the latest and of stale generations) and the passing of
//! time are applied to a seated sale and to a stock sale. After every input
//! the property the issue names is checked against a plain restatement:
//!
//! - a ticket is valid if and only if its order is paid and its place (seat,
//!   or unit) is still in the order: not refunded, released or swapped away;
//! - a transferred ticket's earlier generation is refused at the gate, and
//!   an admitted ticket is never admitted again;
//! - what was let in is never given back (refund or release answer
//!   `ticket-used`), so every admitted ticket's place stays paid;
//! - the sale's invariants hold (the book recounts its indexes).

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    Action, CheckinOutcome, CheckinRefusal, Command, GateId, HoldId, HoldStatus, IdempotencyKey, Input, KindConfig,
    Outcome, Rejection, Row, Sale, SaleConfig, Seat, SeatId, SeatedAction, SeatedConfig, Section, StockAction,
    StockConfig, TicketAction, TicketId, TicketPayload, TicketPlace, UserId, Venue,
};

const SALE: u64 = 7;
const SEATS: u32 = 8;
const OWNER: UserId = UserId(99);
const TTL_US: i64 = 60_000_000;

#[derive(Clone, Debug)]
enum Op {
    Hold { by: u64, seats: Vec<u32>, quantity: u32 },
    Confirm { hold: usize, by_booker: bool },
    Refund { hold: usize },
    Release { hold: usize, seat: usize },
    Swap { hold: usize, seat: usize, to: u32 },
    Transfer { ticket: u64, to: u64, by_holder: bool },
    Admit { ticket: u64, gate: u64, stale: bool },
    Wait { us: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1..4u64, prop::collection::vec(0..SEATS, 1..3), 1..4u32)
            .prop_map(|(by, seats, quantity)| Op::Hold { by, seats, quantity }),
        3 => (0..8usize, prop::bool::weighted(0.9)).prop_map(|(hold, by_booker)| Op::Confirm { hold, by_booker }),
        1 => (0..8usize).prop_map(|hold| Op::Refund { hold }),
        1 => (0..8usize, 0..3usize).prop_map(|(hold, seat)| Op::Release { hold, seat }),
        1 => (0..8usize, 0..3usize, 0..SEATS).prop_map(|(hold, seat, to)| Op::Swap { hold, seat, to }),
        2 => (1..12u64, 1..4u64, prop::bool::weighted(0.8))
            .prop_map(|(ticket, to, by_holder)| Op::Transfer { ticket, to, by_holder }),
        3 => (1..12u64, 1..3u64, prop::bool::weighted(0.2)).prop_map(|(ticket, gate, stale)| Op::Admit { ticket, gate, stale }),
        1 => (1..40_000_000i64).prop_map(|us| Op::Wait { us }),
    ]
}

fn config(seated: bool) -> SaleConfig {
    let kind = if seated {
        let seats = (0..SEATS).map(|k| Seat { label: (k + 1).to_string(), x: k as i32, y: 0 }).collect();
        let venue = Venue {
            name: "Hall".into(),
            sections: vec![Section {
                name: "A".into(),
                tier: "R".into(),
                price: 1_000,
                colour: "#aa0000".into(),
                rows: vec![Row { label: "A".into(), seats }],
            }],
        };
        KindConfig::Seated(SeatedConfig { venue, per_person_limit: 8, seats_per_hold_max: 4, hold_ttl_us: TTL_US })
    } else {
        KindConfig::Stock(StockConfig {
            stock: 12,
            price: 1_000,
            per_person_limit: 12,
            order_quantity_max: 4,
            hold_ttl_us: TTL_US,
        })
    };
    SaleConfig {
        title: "Tickets".into(),
        description: String::new(),
        owner: OWNER,
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind,
        queue: None,
        translations: Vec::new(),
    }
}

struct Run {
    sale: Sale,
    now: i64,
    keys: u64,
    /// Holds in the order they were made.
    holds: Vec<HoldId>,
    /// Tickets that were admitted, and at which generation.
    admitted: BTreeSet<u64>,
}

impl Run {
    fn command(&mut self, by: UserId, action: Action) -> Outcome {
        self.keys += 1;
        let key = IdempotencyKey::parse(&format!("k{}", self.keys)).expect("a short key");
        self.now += 1_000;
        self.sale.apply(&Input::Command(Command { at_us: self.now, by, key, action })).outcome
    }

    /// The booker and paid places of every order, as the sale's book has them.
    fn paid(&self) -> Vec<(HoldId, HoldStatus, BTreeSet<TicketPlace>)> {
        let mut out = Vec::new();
        for &id in &self.holds {
            if let Some(h) = self.sale.seats().and_then(|b| b.hold(id)) {
                let places = if h.status == HoldStatus::Confirmed {
                    h.seats.iter().map(|s| TicketPlace::Seat(s.seat)).collect()
                } else {
                    BTreeSet::new()
                };
                out.push((id, h.status, places));
            } else if let Some(h) = self.sale.stock().and_then(|b| b.hold(id)) {
                let places = if h.status == HoldStatus::Confirmed {
                    (1..=h.quantity).map(TicketPlace::Unit).collect()
                } else {
                    BTreeSet::new()
                };
                out.push((id, h.status, places));
            }
        }
        out
    }

    fn booker(&self, id: HoldId) -> UserId {
        self.sale
            .seats()
            .and_then(|b| b.hold(id))
            .map(|h| h.by)
            .or_else(|| self.sale.stock().and_then(|b| b.hold(id)).map(|h| h.by))
            .unwrap_or(UserId(0))
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let seated = self.sale.seats().is_some();
        let pick = |holds: &[HoldId], i: usize| holds.get(i % holds.len().max(1)).copied();
        match op {
            Op::Hold { by, seats, quantity } => {
                let action = if seated {
                    let seats: BTreeSet<u32> = seats.iter().copied().collect();
                    Action::Seated(SeatedAction::HoldSeats {
                        seats: seats.into_iter().map(SeatId).collect(),
                        holders: Vec::new(),
                    })
                } else {
                    Action::Stock(StockAction::Reserve { quantity: *quantity })
                };
                let id = match self.command(UserId(*by), action) {
                    Outcome::Seated(o) => Some(o.hold().id),
                    Outcome::Stock(o) => Some(o.hold().id),
                    _ => None,
                };
                self.holds.extend(id);
            }
            Op::Confirm { hold, by_booker } => {
                if let Some(id) = pick(&self.holds, *hold) {
                    let by = if *by_booker { self.booker(id) } else { UserId(55) };
                    self.command(by, Action::Confirm { hold: id });
                }
            }
            Op::Refund { hold } => {
                if let Some(id) = pick(&self.holds, *hold) {
                    let used = self.sale.tickets().used(id.0, None);
                    let out = self.command(self.booker(id), Action::Refund { order: id });
                    if used {
                        prop_assert_eq!(out, Outcome::Rejected(Rejection::TicketUsed));
                    }
                }
            }
            Op::Release { hold, seat } | Op::Swap { hold, seat, .. } => {
                let Some(id) = pick(&self.holds, *hold) else { return Ok(()) };
                let Some(h) = self.sale.seats().and_then(|b| b.hold(id)) else { return Ok(()) };
                let Some(from) = h.seats.get(seat % h.seats.len().max(1)).map(|s| s.seat) else { return Ok(()) };
                let used = self.sale.tickets().used(id.0, Some(from));
                let action = match op {
                    Op::Swap { to, .. } => SeatedAction::SwapSeat { order: id, from, to: SeatId(*to) },
                    _ => SeatedAction::ReleaseSeat { order: id, seat: from },
                };
                let out = self.command(self.booker(id), Action::Seated(action));
                if used {
                    prop_assert_eq!(out, Outcome::Rejected(Rejection::TicketUsed));
                }
            }
            Op::Transfer { ticket, to, by_holder } => {
                let Some(rec) = self.sale.tickets().ticket(TicketId(*ticket)) else { return Ok(()) };
                let by = if *by_holder { rec.holder } else { UserId(77) };
                let before = rec.generation;
                let out = self
                    .command(by, Action::Ticket(TicketAction::Transfer { ticket: TicketId(*ticket), to: UserId(*to) }));
                if let Outcome::Ticket(CheckinOutcome::Transferred { ticket: t, revoked }) = out {
                    prop_assert!(*by_holder, "a transfer by someone else went through");
                    prop_assert_eq!((revoked, t.generation), (before, before + 1));
                }
            }
            Op::Admit { ticket, gate, stale } => {
                let Some(rec) = self.sale.tickets().ticket(TicketId(*ticket)) else { return Ok(()) };
                let generation = if *stale { rec.generation.saturating_sub(1).max(1) } else { rec.generation };
                let payload = TicketPayload {
                    sale: SALE,
                    ticket: TicketId(*ticket),
                    place: rec.place,
                    holder: rec.holder,
                    generation,
                };
                let current = generation == rec.generation;
                let valid = rec.refunded_at_us.is_none();
                let out =
                    self.command(OWNER, Action::Ticket(TicketAction::Admit { gate: GateId(*gate), ticket: payload }));
                match out {
                    Outcome::Ticket(CheckinOutcome::Admitted(a)) => {
                        prop_assert!(current && valid, "a stale or revoked ticket went in");
                        prop_assert!(self.admitted.insert(a.ticket.0), "ticket {} went in twice", a.ticket.0);
                    }
                    Outcome::Ticket(CheckinOutcome::Refused(r)) => {
                        let expected = !current || !valid || self.admitted.contains(ticket);
                        prop_assert!(expected, "a valid ticket was refused: {:?}", r);
                        if current && valid {
                            prop_assert!(matches!(r, CheckinRefusal::AlreadyAdmitted { .. }), "{:?}", r);
                        }
                    }
                    other => prop_assert!(false, "admit answered {:?}", other),
                }
            }
            Op::Wait { us } => {
                self.now += us;
                self.sale.apply(&Input::Tick { at_us: self.now });
            }
        }
        self.check()
    }

    fn check(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.sale.check_invariants(), Ok(()));
        let book = self.sale.tickets();
        for (id, status, places) in self.paid() {
            let valid: BTreeSet<TicketPlace> =
                book.order_tickets(id.0).filter(|(_, r)| r.refunded_at_us.is_none()).map(|(_, r)| r.place).collect();
            prop_assert_eq!(&valid, &places, "order {} ({:?}): valid tickets are not its paid places", id.0, status);
        }
        for (ticket, rec) in book.tickets() {
            if rec.admission.is_some() {
                prop_assert!(rec.refunded_at_us.is_none(), "admitted ticket {} was revoked", ticket.0);
            }
        }
        Ok(())
    }
}

fn run(seated: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut run = Run {
        sale: Sale::with_id(config(seated), SALE),
        now: 1_000_000,
        keys: 0,
        holds: Vec::new(),
        admitted: BTreeSet::new(),
    };
    prop_assert_eq!(run.command(OWNER, Action::Open), Outcome::Opened);
    for op in ops {
        run.step(op)?;
    }
    Ok(())
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn seat_tickets_follow_their_orders(ops in prop::collection::vec(op(), 1..60)) {
        run(true, &ops)?;
    }

    #[test]
    fn stock_tickets_follow_their_orders(ops in prop::collection::vec(op(), 1..60)) {
        run(false, &ops)?;
    }
}
