//! Model-based tests of the check-in book.
//!
//! `CheckinBook::apply` is driven with random issues, refunds, transfers,
//! online scans from several gates, offline syncs (with reused nonces and
//! replays of earlier syncs) and compared after every input with [`Model`]:
//! a deliberately naive re-statement of the rules (a `Vec` of tickets with
//! every generation's holder, admissions, remembered scans and conflicts in
//! plain `Vec`s searched by loops). The model shares only data types with
//! the core, never its logic. Beside the comparison, the properties the
//! brief names are asserted on their own:
//!
//! - a ticket is admitted at most once, whatever the interleaving of gates;
//! - a ticket passes the book's check iff it was issued, is the latest
//!   generation, is not refunded (and not yet admitted); an offline gate's
//!   revocation list agrees on everything but admissions;
//! - an offline admission of an admitted ticket is listed as a conflict;
//! - a replayed sync changes nothing and answers what it answered first.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    Admission, CheckinBook, CheckinInput, CheckinOutcome, CheckinRefusal, Conflict, GateId, OfflineRefusal,
    OfflineScan, Revocation, RevocationList, ScanVerdict, SeatId, SignedTicket, TicketId, TicketPayload, TicketPlace,
    UserId,
};

const SALE: u64 = 7;
const T0: i64 = 1_000_000;

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct MTicket {
    order: u64,
    place: TicketPlace,
    /// Generation `g` belongs to `holders[g - 1]`.
    holders: Vec<UserId>,
    issued_at_us: i64,
    refunded_at_us: Option<i64>,
}

#[derive(Clone, Debug, Default)]
struct Model {
    tickets: Vec<MTicket>,
    admissions: Vec<Admission>,
    /// (gate, scan, verdict) of every scan recorded, in arrival order.
    scans: Vec<(GateId, OfflineScan, ScanVerdict)>,
    conflicts: Vec<Conflict>,
}

impl Model {
    fn find(&self, ticket: TicketId) -> Option<&MTicket> {
        if ticket.0 == 0 {
            return None;
        }
        self.tickets.get((ticket.0 - 1) as usize)
    }

    fn admission(&self, ticket: TicketId) -> Option<&Admission> {
        self.admissions.iter().find(|a| a.ticket == ticket)
    }

    /// Refusal for changing a ticket's hands, if any.
    fn unchangeable(&self, ticket: TicketId) -> Option<CheckinRefusal> {
        let Some(t) = self.find(ticket) else { return Some(CheckinRefusal::UnknownTicket) };
        if let Some(at_us) = t.refunded_at_us {
            return Some(CheckinRefusal::Revoked { at_us });
        }
        self.admission(ticket).map(|a| CheckinRefusal::AlreadyAdmitted { at_us: a.at_us, gate: a.gate })
    }

    fn verdict(&self, p: &TicketPayload) -> Result<(), CheckinRefusal> {
        if p.sale != SALE {
            return Err(CheckinRefusal::WrongSale { sale: p.sale });
        }
        let Some(t) = self.find(p.ticket) else { return Err(CheckinRefusal::UnknownTicket) };
        let latest = t.holders.len() as u32;
        if p.place != t.place || p.generation == 0 || p.generation > latest {
            return Err(CheckinRefusal::UnknownTicket);
        }
        if p.generation < latest {
            return Err(CheckinRefusal::Superseded { generation: latest });
        }
        if p.holder != t.holders[t.holders.len() - 1] {
            return Err(CheckinRefusal::UnknownTicket);
        }
        if let Some(at_us) = t.refunded_at_us {
            return Err(CheckinRefusal::Revoked { at_us });
        }
        if let Some(a) = self.admission(p.ticket) {
            return Err(CheckinRefusal::AlreadyAdmitted { at_us: a.at_us, gate: a.gate });
        }
        Ok(())
    }

    fn admission_of(p: &TicketPayload, gate: GateId, at_us: i64, offline: Option<(u64, i64)>) -> Admission {
        Admission { ticket: p.ticket, generation: p.generation, place: p.place, holder: p.holder, gate, at_us, offline }
    }

    fn step(&mut self, input: &CheckinInput) -> CheckinOutcome {
        match input {
            CheckinInput::Issue { at_us, order, place, holder } => {
                for (i, t) in self.tickets.iter().enumerate() {
                    if t.place == *place && matches!(place, TicketPlace::Seat(_)) && t.refunded_at_us.is_none() {
                        return CheckinOutcome::Refused(CheckinRefusal::SeatTaken { ticket: TicketId(i as u64 + 1) });
                    }
                }
                self.tickets.push(MTicket {
                    order: *order,
                    place: *place,
                    holders: vec![*holder],
                    issued_at_us: *at_us,
                    refunded_at_us: None,
                });
                CheckinOutcome::Issued(TicketPayload {
                    sale: SALE,
                    ticket: TicketId(self.tickets.len() as u64),
                    place: *place,
                    holder: *holder,
                    generation: 1,
                })
            }
            CheckinInput::Refund { at_us, ticket } => {
                if let Some(r) = self.unchangeable(*ticket) {
                    return CheckinOutcome::Refused(r);
                }
                let t = &mut self.tickets[(ticket.0 - 1) as usize];
                t.refunded_at_us = Some(*at_us);
                CheckinOutcome::Refunded { ticket: *ticket, generation: t.holders.len() as u32 }
            }
            CheckinInput::Transfer { at_us, ticket, by, to } => {
                if let Some(r) = self.unchangeable(*ticket) {
                    return CheckinOutcome::Refused(r);
                }
                let t = &mut self.tickets[(ticket.0 - 1) as usize];
                if t.holders.last() != Some(by) {
                    return CheckinOutcome::Refused(CheckinRefusal::NotHolder);
                }
                t.holders.push(*to);
                t.issued_at_us = *at_us;
                let generation = t.holders.len() as u32;
                CheckinOutcome::Transferred {
                    ticket: TicketPayload { sale: SALE, ticket: *ticket, place: t.place, holder: *to, generation },
                    revoked: generation - 1,
                }
            }
            CheckinInput::Scan { at_us, gate, ticket } => match self.verdict(ticket) {
                Ok(()) => {
                    let a = Self::admission_of(ticket, *gate, *at_us, None);
                    self.admissions.push(a);
                    CheckinOutcome::Admitted(a)
                }
                Err(r) => CheckinOutcome::Refused(r),
            },
            CheckinInput::Sync { at_us, gate, scans } => {
                let mut out = Vec::new();
                for scan in scans {
                    let seen = self.scans.iter().find(|(g, s, _)| g == gate && s.nonce == scan.nonce);
                    let v = match seen {
                        Some((_, s, v)) if s == scan => *v,
                        Some(_) => ScanVerdict::NonceReused,
                        None => {
                            let v = match self.verdict(&scan.ticket) {
                                Ok(()) => {
                                    let a = Self::admission_of(
                                        &scan.ticket,
                                        *gate,
                                        scan.scanned_at_us,
                                        Some((scan.nonce, *at_us)),
                                    );
                                    self.admissions.push(a);
                                    ScanVerdict::Admitted
                                }
                                Err(reason) => {
                                    self.conflicts.push(Conflict {
                                        gate: *gate,
                                        nonce: scan.nonce,
                                        scanned_at_us: scan.scanned_at_us,
                                        synced_at_us: *at_us,
                                        ticket: scan.ticket,
                                        reason,
                                    });
                                    ScanVerdict::Conflict(reason)
                                }
                            };
                            self.scans.push((*gate, *scan, v));
                            v
                        }
                    };
                    out.push(v);
                }
                CheckinOutcome::Synced(out)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Generated operations, resolved against the model's state when run
// ---------------------------------------------------------------------------

/// Which generation, holder and sale a scanned ticket claims.
#[derive(Clone, Copy, Debug)]
enum Pick {
    Current,
    Older,
    Newer,
    WrongHolder,
    WrongSale,
    WrongPlace,
}

#[derive(Clone, Debug)]
enum Op {
    Issue {
        order: u64,
        seat: Option<u32>,
        holder: u64,
    },
    Refund {
        ticket: u64,
    },
    Transfer {
        ticket: u64,
        by_holder: bool,
        to: u64,
    },
    Scan {
        gate: u64,
        ticket: u64,
        pick: Pick,
    },
    Sync {
        gate: u64,
        scans: Vec<(u64, u64, Pick, i64)>,
    },
    /// Sends the n-th earlier sync again, as a gate whose answer was lost.
    Replay {
        which: prop::sample::Index,
    },
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        8 => Just(Pick::Current),
        3 => Just(Pick::Older),
        1 => Just(Pick::Newer),
        1 => Just(Pick::WrongHolder),
        1 => Just(Pick::WrongSale),
        1 => Just(Pick::WrongPlace),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let ticket = 1..6u64;
    prop_oneof![
        4 => (0..4u64, prop::option::of(0..6u32), 0..4u64)
            .prop_map(|(order, seat, holder)| Op::Issue { order, seat, holder }),
        1 => ticket.clone().prop_map(|ticket| Op::Refund { ticket }),
        2 => (ticket.clone(), prop::bool::weighted(0.8), 0..4u64)
            .prop_map(|(ticket, by_holder, to)| Op::Transfer { ticket, by_holder, to }),
        4 => (0..3u64, ticket.clone(), pick()).prop_map(|(gate, ticket, pick)| Op::Scan { gate, ticket, pick }),
        3 => (0..3u64, prop::collection::vec((0..40u64, ticket, pick(), 0..5_000i64), 0..5))
            .prop_map(|(gate, scans)| Op::Sync { gate, scans }),
        1 => any::<prop::sample::Index>().prop_map(|which| Op::Replay { which }),
    ]
}

fn steps() -> impl Strategy<Value = Vec<(Op, i64)>> {
    // A step of 0 µs puts two inputs at the same moment.
    prop::collection::vec((op(), prop_oneof![1 => Just(0i64), 3 => 1..2_000i64]), 1..60)
}

fn resolve(model: &Model, ticket: u64, pick: Pick) -> TicketPayload {
    let id = TicketId(ticket);
    let Some(t) = model.find(id) else {
        return TicketPayload { sale: SALE, ticket: id, place: TicketPlace::Unit(1), holder: UserId(0), generation: 1 };
    };
    let latest = t.holders.len() as u32;
    let current = TicketPayload {
        sale: SALE,
        ticket: id,
        place: t.place,
        holder: t.holders[t.holders.len() - 1],
        generation: latest,
    };
    match pick {
        Pick::Current => current,
        Pick::Older if latest > 1 => {
            TicketPayload { generation: latest - 1, holder: t.holders[t.holders.len() - 2], ..current }
        }
        Pick::Older => current,
        Pick::Newer => TicketPayload { generation: latest + 1, ..current },
        Pick::WrongHolder => TicketPayload { holder: UserId(current.holder.0 + 100), ..current },
        Pick::WrongSale => TicketPayload { sale: SALE + 1, ..current },
        Pick::WrongPlace => TicketPayload { place: TicketPlace::Seat(SeatId(999)), ..current },
    }
}

fn input_of(model: &Model, op: &Op, at_us: i64, syncs: &[CheckinInput]) -> CheckinInput {
    match op {
        Op::Issue { order, seat, holder } => CheckinInput::Issue {
            at_us,
            order: *order,
            place: match seat {
                Some(s) => TicketPlace::Seat(SeatId(*s)),
                None => TicketPlace::Unit(*order as u32 + 1),
            },
            holder: UserId(*holder),
        },
        Op::Refund { ticket } => CheckinInput::Refund { at_us, ticket: TicketId(*ticket) },
        Op::Transfer { ticket, by_holder, to } => {
            let holder = model.find(TicketId(*ticket)).map_or(UserId(0), |t| t.holders[t.holders.len() - 1]);
            let by = if *by_holder { holder } else { UserId(holder.0 + 1) };
            CheckinInput::Transfer { at_us, ticket: TicketId(*ticket), by, to: UserId(*to) }
        }
        Op::Scan { gate, ticket, pick } => {
            CheckinInput::Scan { at_us, gate: GateId(*gate), ticket: resolve(model, *ticket, *pick) }
        }
        Op::Sync { gate, scans } => CheckinInput::Sync {
            at_us,
            gate: GateId(*gate),
            scans: scans
                .iter()
                .map(|&(nonce, ticket, pick, back_us)| OfflineScan {
                    nonce,
                    scanned_at_us: at_us - back_us,
                    ticket: resolve(model, ticket, pick),
                })
                .collect(),
        },
        Op::Replay { which } => match syncs.get(which.index(syncs.len().max(1))) {
            Some(CheckinInput::Sync { gate, scans, .. }) => {
                CheckinInput::Sync { at_us, gate: *gate, scans: scans.clone() }
            }
            _ => CheckinInput::Sync { at_us, gate: GateId(0), scans: Vec::new() },
        },
    }
}

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

struct Run {
    book: CheckinBook,
    model: Model,
    inputs: Vec<CheckinInput>,
    /// Earlier syncs with what they answered, for replays.
    syncs: Vec<CheckinInput>,
    sync_outcomes: Vec<CheckinOutcome>,
    /// Admissions seen in outcomes, counted apart from model and book.
    admitted_per_ticket: BTreeMap<TicketId, u32>,
    /// (gate, nonce) pairs already handed to the book.
    nonces_sent: BTreeSet<(GateId, u64)>,
    key: SigningKey,
}

impl Run {
    fn new() -> Self {
        Run {
            book: CheckinBook::new(SALE),
            model: Model::default(),
            inputs: Vec::new(),
            syncs: Vec::new(),
            sync_outcomes: Vec::new(),
            admitted_per_ticket: BTreeMap::new(),
            nonces_sent: BTreeSet::new(),
            key: SigningKey::from_bytes(&[5; 32]),
        }
    }

    fn drive(&mut self, op: &Op, at_us: i64) -> Result<(), TestCaseError> {
        let input = input_of(&self.model, op, at_us, &self.syncs);
        let before = self.book.clone();
        let admitted_before: BTreeSet<TicketId> =
            self.book.tickets().filter(|(_, r)| r.admission.is_some()).map(|(id, _)| id).collect();

        let expected = self.model.step(&input);
        let got = self.book.apply(&input);
        prop_assert_eq!(&got, &expected, "input {:?}", input);
        prop_assert_eq!(self.book.check_invariants(), Ok(()));

        // Admitted at most once, counted from the outcomes alone.
        match (&input, &got) {
            (_, CheckinOutcome::Admitted(a)) => *self.admitted_per_ticket.entry(a.ticket).or_default() += 1,
            (CheckinInput::Sync { gate, scans, .. }, CheckinOutcome::Synced(verdicts)) => {
                prop_assert_eq!(scans.len(), verdicts.len());
                for (scan, v) in scans.iter().zip(verdicts) {
                    let fresh = self.nonces_sent.insert((*gate, scan.nonce));
                    if fresh && *v == ScanVerdict::Admitted {
                        *self.admitted_per_ticket.entry(scan.ticket.ticket).or_default() += 1;
                    }
                    // An offline admission of a ticket already in is flagged.
                    if fresh && admitted_before.contains(&scan.ticket.ticket) {
                        prop_assert!(
                            matches!(v, ScanVerdict::Conflict(_)),
                            "second admission of {:?} not flagged: {:?}",
                            scan.ticket.ticket,
                            v
                        );
                        prop_assert!(self.book.conflicts().iter().any(|c| c.gate == *gate && c.nonce == scan.nonce));
                    }
                }
            }
            _ => {}
        }
        for (ticket, n) in &self.admitted_per_ticket {
            prop_assert!(*n <= 1, "ticket {:?} admitted {} times", ticket, n);
        }

        // A replayed sync changes nothing and answers as it did first.
        if let Op::Replay { which } = op
            && !self.syncs.is_empty()
        {
            let first = &self.sync_outcomes[which.index(self.syncs.len())];
            prop_assert_eq!(&got, first);
            prop_assert!(self.book == before, "a replayed sync changed the book");
        }
        if let CheckinInput::Sync { .. } = input {
            self.syncs.push(input.clone());
            self.sync_outcomes.push(got);
        }
        self.inputs.push(input);
        self.compare_state()
    }

    fn compare_state(&self) -> Result<(), TestCaseError> {
        let m = &self.model;
        prop_assert_eq!(self.book.tickets().count(), m.tickets.len());
        prop_assert_eq!(self.book.conflicts(), &m.conflicts[..]);
        prop_assert_eq!(self.book.admitted(), m.admissions.len() as u64);
        let list = self.book.revocation_list();
        let signed = list.sign(&self.key);
        prop_assert_eq!(RevocationList::open(&signed, &self.key.verifying_key()), Ok(list.clone()));

        for (i, t) in m.tickets.iter().enumerate() {
            let id = TicketId(i as u64 + 1);
            let Some(rec) = self.book.ticket(id) else { return Err(TestCaseError::fail("ticket missing")) };
            let latest = t.holders.len() as u32;
            prop_assert_eq!(rec.order, t.order);
            prop_assert_eq!(rec.place, t.place);
            prop_assert_eq!(rec.generation, latest);
            prop_assert_eq!(rec.holder, t.holders[t.holders.len() - 1]);
            prop_assert_eq!(rec.issued_at_us, t.issued_at_us);
            prop_assert_eq!(rec.refunded_at_us, t.refunded_at_us);
            prop_assert_eq!(rec.admission.as_deref(), m.admission(id));

            // Valid iff issued, the latest generation and not revoked (and
            // not used yet); the offline list agrees but for admissions.
            let admitted = m.admission(id).is_some();
            for g in 1..=latest + 1 {
                let holder = t.holders.get(g as usize - 1).copied().unwrap_or(UserId(0));
                let p = TicketPayload { sale: SALE, ticket: id, place: t.place, holder, generation: g };
                let issued = g <= latest;
                let valid = issued && g == latest && t.refunded_at_us.is_none();
                prop_assert_eq!(self.book.check(&p).is_ok(), valid && !admitted, "{:?}", p);
                if issued {
                    prop_assert_eq!(list.check(&p).is_ok(), valid, "list on {:?}", p);
                }
                if issued && !valid {
                    let why = list.check(&p);
                    let refunded = t.refunded_at_us.is_some();
                    prop_assert!(
                        matches!(why, Err(OfflineRefusal::Revoked(Revocation::Refunded))) == refunded,
                        "{:?} for {:?}",
                        why,
                        p
                    );
                }
            }
        }
        Ok(())
    }

    /// Replaying the logged inputs on a fresh book rebuilds the same book.
    fn finish(&self) -> Result<(), TestCaseError> {
        let mut again = CheckinBook::new(SALE);
        for input in &self.inputs {
            again.apply(input);
        }
        prop_assert!(again == self.book, "replay from the inputs gives another book");
        Ok(())
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// The book agrees with the model after every input, and the listed
    /// properties hold along the way.
    #[test]
    fn checkin_book_matches_the_model(steps in steps()) {
        let mut run = Run::new();
        let mut at_us = T0;
        for (op, dt) in &steps {
            at_us += dt;
            run.drive(op, at_us)?;
        }
        run.finish()?;
    }
}

// ---------------------------------------------------------------------------
// The acceptance lines of issue 13, as examples
// ---------------------------------------------------------------------------

fn issue(book: &mut CheckinBook, at_us: i64, seat: u32, holder: u64) -> TicketPayload {
    let input = CheckinInput::Issue { at_us, order: 1, place: TicketPlace::Seat(SeatId(seat)), holder: UserId(holder) };
    match book.apply(&input) {
        CheckinOutcome::Issued(p) => p,
        other => panic!("issue refused: {other:?}"),
    }
}

#[test]
fn two_gates_scanning_one_ticket_at_the_same_moment_admit_it_once() {
    let mut book = CheckinBook::new(SALE);
    let p = issue(&mut book, T0, 3, 1);
    let a = book.apply(&CheckinInput::Scan { at_us: T0 + 10, gate: GateId(1), ticket: p });
    let b = book.apply(&CheckinInput::Scan { at_us: T0 + 10, gate: GateId(2), ticket: p });
    assert!(matches!(a, CheckinOutcome::Admitted(Admission { gate: GateId(1), .. })));
    assert_eq!(b, CheckinOutcome::Refused(CheckinRefusal::AlreadyAdmitted { at_us: T0 + 10, gate: GateId(1) }));
    assert_eq!(book.admitted(), 1);
}

#[test]
fn an_offline_gate_syncing_a_second_admission_gets_it_flagged() {
    let mut book = CheckinBook::new(SALE);
    let p = issue(&mut book, T0, 3, 1);
    book.apply(&CheckinInput::Scan { at_us: T0 + 50, gate: GateId(1), ticket: p });
    let scan = OfflineScan { nonce: 77, scanned_at_us: T0 + 40, ticket: p };
    let sync = CheckinInput::Sync { at_us: T0 + 90, gate: GateId(9), scans: vec![scan] };
    let first = book.apply(&sync);
    let reason = CheckinRefusal::AlreadyAdmitted { at_us: T0 + 50, gate: GateId(1) };
    assert_eq!(first, CheckinOutcome::Synced(vec![ScanVerdict::Conflict(reason)]));
    let listed =
        Conflict { gate: GateId(9), nonce: 77, scanned_at_us: T0 + 40, synced_at_us: T0 + 90, ticket: p, reason };
    assert_eq!(book.conflicts(), &[listed]);
    // The gate syncs again after losing the answer: nothing new.
    assert_eq!(book.apply(&CheckinInput::Sync { at_us: T0 + 95, gate: GateId(9), scans: vec![scan] }), first);
    assert_eq!(book.conflicts().len(), 1);
    // The same nonce for another ticket is a gate's mistake, not a scan.
    let other = OfflineScan { nonce: 77, scanned_at_us: T0 + 41, ticket: p };
    let reused = book.apply(&CheckinInput::Sync { at_us: T0 + 96, gate: GateId(9), scans: vec![other] });
    assert_eq!(reused, CheckinOutcome::Synced(vec![ScanVerdict::NonceReused]));
}

#[test]
fn a_refunded_ticket_is_refused_online_and_offline_after_the_gate_refreshes() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut book = CheckinBook::new(SALE);
    let p = issue(&mut book, T0, 3, 1);
    let qr = SignedTicket::sign(p, &key).to_qr_text();
    let stale = book.revocation_list();
    assert_eq!(
        book.apply(&CheckinInput::Refund { at_us: T0 + 5, ticket: p.ticket }),
        CheckinOutcome::Refunded { ticket: p.ticket, generation: 1 }
    );

    let read = SignedTicket::open_qr_text(&qr, &key.verifying_key()).map(|t| *t.payload());
    assert_eq!(read, Ok(p), "the signature stays good: only the book and the list can refuse it");
    let online = book.apply(&CheckinInput::Scan { at_us: T0 + 6, gate: GateId(1), ticket: p });
    assert_eq!(online, CheckinOutcome::Refused(CheckinRefusal::Revoked { at_us: T0 + 5 }));

    assert_eq!(stale.check(&p), Ok(()), "a gate that has not refreshed cannot know");
    let fresh = RevocationList::open(&book.revocation_list().sign(&key), &key.verifying_key());
    let fresh = fresh.unwrap();
    assert!(fresh.revision > stale.revision);
    assert_eq!(fresh.check(&p), Err(OfflineRefusal::Revoked(Revocation::Refunded)));
    // The seat can carry a new ticket now.
    let again = issue(&mut book, T0 + 7, 3, 2);
    assert_eq!(again.ticket, TicketId(2));
}

#[test]
fn a_transfer_revokes_the_old_code_and_the_new_one_enters() {
    let mut book = CheckinBook::new(SALE);
    let old = issue(&mut book, T0, 3, 1);
    let not_mine = CheckinInput::Transfer { at_us: T0 + 1, ticket: old.ticket, by: UserId(2), to: UserId(2) };
    assert_eq!(book.apply(&not_mine), CheckinOutcome::Refused(CheckinRefusal::NotHolder));
    let CheckinOutcome::Transferred { ticket: new, revoked: 1 } =
        book.apply(&CheckinInput::Transfer { at_us: T0 + 2, ticket: old.ticket, by: UserId(1), to: UserId(2) })
    else {
        panic!("the holder may transfer")
    };
    assert_eq!((new.ticket, new.generation, new.holder, new.place), (old.ticket, 2, UserId(2), old.place));
    let refused = book.apply(&CheckinInput::Scan { at_us: T0 + 3, gate: GateId(1), ticket: old });
    assert_eq!(refused, CheckinOutcome::Refused(CheckinRefusal::Superseded { generation: 2 }));
    assert_eq!(
        book.revocation_list().check(&old),
        Err(OfflineRefusal::Revoked(Revocation::Superseded { generation: 2 }))
    );
    assert!(matches!(
        book.apply(&CheckinInput::Scan { at_us: T0 + 4, gate: GateId(1), ticket: new }),
        CheckinOutcome::Admitted(_)
    ));
    // Once in, the ticket can be neither refunded nor passed on.
    let late = book.apply(&CheckinInput::Refund { at_us: T0 + 5, ticket: new.ticket });
    assert_eq!(late, CheckinOutcome::Refused(CheckinRefusal::AlreadyAdmitted { at_us: T0 + 4, gate: GateId(1) }));
}

#[test]
fn a_qr_with_one_symbol_changed_is_refused_offline() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut book = CheckinBook::new(SALE);
    let qr = SignedTicket::sign(issue(&mut book, T0, 3, 1), &key).to_qr_text();
    let mut changed = qr.into_bytes();
    changed[10] = if changed[10] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    assert!(SignedTicket::open_qr_text(&changed, &key.verifying_key()).is_err());
}

#[test]
fn a_sync_past_its_bound_is_refused_whole() {
    let mut book = CheckinBook::new(SALE);
    let p = issue(&mut book, T0, 3, 1);
    let scans: Vec<OfflineScan> = (0..=stampede_core::SYNC_SCANS_MAX as u64)
        .map(|nonce| OfflineScan { nonce, scanned_at_us: T0, ticket: p })
        .collect();
    let out = book.apply(&CheckinInput::Sync { at_us: T0 + 1, gate: GateId(1), scans });
    assert_eq!(out, CheckinOutcome::Refused(CheckinRefusal::TooManyScans));
    assert_eq!(book.admitted(), 0);
}
