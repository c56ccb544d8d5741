//! Model-based tests of the order state machine.
//!
//! `Order::apply` is driven with random payments, failures, cancellations,
//! refunds of units and seats, and ticks, and compared after every input with
//! [`Model`]: a naive re-statement (lines as lists of units still held, the
//! legal moves as the module doc's table typed out again, amounts recounted
//! in `u128`). The model shares only data types with the core.
//!
//! Checked along the way: every move is one of the table's, the status after
//! an input is where its last move went, refunds never exceed what was paid,
//! and the amounts always equal a recount of the lines.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_core::{
    LineItems, LineRefund, Money, NewOrder, ORDER_EDGES, Order, OrderAction, OrderInput, OrderMove, OrderOutcome,
    OrderProblem, OrderRef, OrderRejection, OrderStatus, RefundPart, SeatId, UserId,
};

const T0: i64 = 1_000;

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

use OrderStatus::{AwaitingPayment, Cancelled, Expired, Paid, PartlyRefunded, PaymentFailed, Refunded};

/// The module doc's table, typed out again.
const LEGAL: &[(OrderStatus, OrderStatus)] = &[
    (AwaitingPayment, Paid),
    (AwaitingPayment, PaymentFailed),
    (AwaitingPayment, Expired),
    (AwaitingPayment, Cancelled),
    (Paid, PartlyRefunded),
    (Paid, Refunded),
    (PartlyRefunded, PartlyRefunded),
    (PartlyRefunded, Refunded),
];

#[derive(Clone, Debug)]
struct MLine {
    /// `None` for a units line.
    seats: Option<Vec<SeatId>>,
    units: u32,
    price: u64,
    refunded_units: u32,
    refunded_seats: Vec<SeatId>,
}

struct Model {
    status: OrderStatus,
    lines: Vec<MLine>,
    paid: u128,
    refunded: u128,
    pay_by: i64,
    now: i64,
}

impl Model {
    fn new(order: &NewOrder) -> Self {
        let lines = order
            .lines
            .iter()
            .map(|(items, price)| match items {
                LineItems::Units { quantity } => MLine {
                    seats: None,
                    units: *quantity,
                    price: price.minor(),
                    refunded_units: 0,
                    refunded_seats: vec![],
                },
                LineItems::Seats { seats } => MLine {
                    seats: Some(seats.clone()),
                    units: seats.len() as u32,
                    price: price.minor(),
                    refunded_units: 0,
                    refunded_seats: vec![],
                },
            })
            .collect();
        Model {
            status: AwaitingPayment,
            lines,
            paid: 0,
            refunded: 0,
            pay_by: order.pay_by_us,
            now: order.created_at_us,
        }
    }

    fn total(&self) -> u128 {
        let mut t = 0;
        for l in &self.lines {
            t += u128::from(l.price) * u128::from(l.units);
        }
        t
    }

    fn go(&mut self, to: OrderStatus, moves: &mut Vec<OrderMove>) {
        moves.push(OrderMove { from: self.status, to });
        self.status = to;
    }

    fn apply(&mut self, input: &OrderInput) -> (OrderOutcome, Vec<OrderMove>) {
        if input.at_us() > self.now {
            self.now = input.at_us();
        }
        let mut moves = Vec::new();
        if self.status == AwaitingPayment && self.now >= self.pay_by {
            self.go(Expired, &mut moves);
        }
        let OrderInput::Act { action, .. } = input else { return (OrderOutcome::Ticked, moves) };
        let outcome = match self.act(action, &mut moves) {
            Ok(o) => o,
            Err(r) => OrderOutcome::Rejected(r),
        };
        (outcome, moves)
    }

    fn act(&mut self, action: &OrderAction, moves: &mut Vec<OrderMove>) -> Result<OrderOutcome, OrderRejection> {
        let unpaid = |status| OrderRejection::NotAwaitingPayment { status };
        match action {
            OrderAction::Pay { amount } => {
                if self.status != AwaitingPayment {
                    return Err(unpaid(self.status));
                }
                if u128::from(amount.minor()) != self.total() {
                    return Err(OrderRejection::AmountMismatch { total: Money::from_minor(self.total() as u64) });
                }
                self.paid = self.total();
                self.go(Paid, moves);
                Ok(OrderOutcome::Paid)
            }
            OrderAction::FailPayment => {
                if self.status != AwaitingPayment {
                    return Err(unpaid(self.status));
                }
                self.go(PaymentFailed, moves);
                Ok(OrderOutcome::PaymentFailed)
            }
            OrderAction::Cancel => {
                if self.status != AwaitingPayment {
                    return Err(unpaid(self.status));
                }
                self.go(Cancelled, moves);
                Ok(OrderOutcome::Cancelled)
            }
            OrderAction::Refund { lines } => self.refund(lines, moves),
            OrderAction::RefundRest => {
                let mut rest = Vec::new();
                for (i, l) in self.lines.iter().enumerate() {
                    match &l.seats {
                        None if l.units > l.refunded_units => rest
                            .push(LineRefund { line: i as u32, part: RefundPart::Units(l.units - l.refunded_units) }),
                        None => {}
                        Some(seats) => {
                            let left: Vec<SeatId> =
                                seats.iter().filter(|s| !l.refunded_seats.contains(s)).copied().collect();
                            if !left.is_empty() {
                                rest.push(LineRefund { line: i as u32, part: RefundPart::Seats(left) });
                            }
                        }
                    }
                }
                self.refund(&rest, moves)
            }
        }
    }

    fn refund(&mut self, parts: &[LineRefund], moves: &mut Vec<OrderMove>) -> Result<OrderOutcome, OrderRejection> {
        if self.status != Paid && self.status != PartlyRefunded {
            return Err(OrderRejection::NotRefundable { status: self.status });
        }
        if parts.is_empty() {
            return Err(OrderRejection::NothingToRefund);
        }
        let mut seen = Vec::new();
        let mut amount: u128 = 0;
        for p in parts {
            let Some(l) = self.lines.get(p.line as usize) else {
                return Err(OrderRejection::UnknownLine { line: p.line });
            };
            if seen.contains(&p.line) {
                return Err(OrderRejection::DuplicateLine { line: p.line });
            }
            seen.push(p.line);
            let left = l.units - l.refunded_units;
            let n = match (&p.part, &l.seats) {
                (RefundPart::Units(n), None) => {
                    if *n == 0 || *n > left {
                        return Err(OrderRejection::BadUnits { line: p.line, remaining: left });
                    }
                    *n
                }
                (RefundPart::Seats(asked), Some(seats)) => {
                    if asked.is_empty() {
                        return Err(OrderRejection::BadUnits { line: p.line, remaining: left });
                    }
                    for (k, s) in asked.iter().enumerate() {
                        if !seats.contains(s) {
                            return Err(OrderRejection::SeatNotInLine { line: p.line, seat: *s });
                        }
                        if l.refunded_seats.contains(s) || asked[..k].contains(s) {
                            return Err(OrderRejection::SeatAlreadyRefunded { line: p.line, seat: *s });
                        }
                    }
                    asked.len() as u32
                }
                _ => return Err(OrderRejection::WrongLineKind { line: p.line }),
            };
            amount += u128::from(l.price) * u128::from(n);
        }
        if amount > self.paid - self.refunded {
            return Err(OrderRejection::RefundExceedsPaid {
                refundable: Money::from_minor((self.paid - self.refunded) as u64),
            });
        }
        for p in parts {
            let l = &mut self.lines[p.line as usize];
            match &p.part {
                RefundPart::Units(n) => l.refunded_units += n,
                RefundPart::Seats(s) => {
                    l.refunded_seats.extend(s);
                    l.refunded_units += s.len() as u32;
                }
            }
        }
        self.refunded += amount;
        let all = self.lines.iter().all(|l| l.refunded_units == l.units);
        let to = if all { Refunded } else { PartlyRefunded };
        self.go(to, moves);
        Ok(OrderOutcome::Refunded { amount: Money::from_minor(amount as u64), status: to })
    }
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Line {
    Units(u32),
    /// How many seats; the seats are numbered on from the previous line's.
    Seats(u32),
}

/// One part of a refund, aimed at the order's lines when it is resolved.
#[derive(Clone, Debug)]
struct PartPick {
    /// A line of the order, or (when `None`) one past the last.
    line: Option<prop::sample::Index>,
    /// Units (of any line) rather than seats.
    units: bool,
    count: u32,
    /// Seats of the line (`Ok`), or any seat number (`Err`).
    seats: Vec<Result<prop::sample::Index, u32>>,
}

#[derive(Clone, Debug)]
enum Step {
    Pay { dt: i64, exact: bool, other: u64 },
    Fail { dt: i64 },
    Cancel { dt: i64 },
    Refund { dt: i64, parts: Vec<PartPick> },
    RefundRest { dt: i64 },
    Tick { dt: i64 },
}

fn new_order(lines: &[(Line, u64)], ttl: i64) -> NewOrder {
    let mut next_seat = 0u32;
    let lines = lines
        .iter()
        .map(|(l, price)| {
            let items = match l {
                Line::Units(q) => LineItems::Units { quantity: *q },
                Line::Seats(n) => {
                    let seats = (next_seat..next_seat + n).map(SeatId).collect();
                    next_seat += n;
                    LineItems::Seats { seats }
                }
            };
            (items, Money::from_minor(*price))
        })
        .collect();
    NewOrder { reference: OrderRef::new(3, 41), buyer: UserId(7), lines, created_at_us: T0, pay_by_us: T0 + ttl }
}

fn lines_strategy() -> impl Strategy<Value = Vec<(Line, u64)>> {
    let line = prop_oneof![(1u32..=5).prop_map(Line::Units), (1u32..=4).prop_map(Line::Seats)];
    let price = prop_oneof![1 => Just(0u64), 6 => 1u64..=1_000];
    prop::collection::vec((line, price), 1..=4)
}

fn dt_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 0i64..10, 1 => 10i64..100, 1 => -10i64..0]
}

fn step_strategy() -> impl Strategy<Value = Step> {
    let seat = prop_oneof![8 => any::<prop::sample::Index>().prop_map(Ok), 1 => (0u32..20).prop_map(Err)];
    let part = (
        prop_oneof![12 => any::<prop::sample::Index>().prop_map(Some), 1 => Just(None)],
        prop::bool::weighted(0.4),
        0u32..6,
        prop::collection::vec(seat, 0..4),
    )
        .prop_map(|(line, units, count, seats)| PartPick { line, units, count, seats });
    prop_oneof![
        6 => (dt_strategy(), prop::bool::weighted(0.85), 0u64..3_000)
            .prop_map(|(dt, exact, other)| Step::Pay { dt, exact, other }),
        1 => dt_strategy().prop_map(|dt| Step::Fail { dt }),
        1 => dt_strategy().prop_map(|dt| Step::Cancel { dt }),
        8 => (dt_strategy(), prop::collection::vec(part, 0..3)).prop_map(|(dt, parts)| Step::Refund { dt, parts }),
        2 => dt_strategy().prop_map(|dt| Step::RefundRest { dt }),
        2 => dt_strategy().prop_map(|dt| Step::Tick { dt }),
    ]
}

fn inputs(order: &Order, steps: &[Step]) -> Vec<OrderInput> {
    let mut clock = T0;
    let mut out = Vec::new();
    for s in steps {
        let (dt, action) = match s {
            Step::Pay { dt, exact, other } => {
                let amount = if *exact { order.total() } else { Money::from_minor(*other) };
                (dt, Some(OrderAction::Pay { amount }))
            }
            Step::Fail { dt } => (dt, Some(OrderAction::FailPayment)),
            Step::Cancel { dt } => (dt, Some(OrderAction::Cancel)),
            Step::Refund { dt, parts } => {
                let lines = parts
                    .iter()
                    .map(|p| {
                        let n = order.lines().len();
                        let line = p.line.as_ref().map_or(n, |i| i.index(n));
                        let of_line: Vec<SeatId> = match order.lines().get(line).map(|l| &l.items) {
                            Some(LineItems::Seats { seats }) => seats.clone(),
                            _ => vec![],
                        };
                        let seats = p
                            .seats
                            .iter()
                            .map(|s| match s {
                                Ok(i) if !of_line.is_empty() => of_line[i.index(of_line.len())],
                                Ok(_) => SeatId(0),
                                Err(k) => SeatId(*k),
                            })
                            .collect();
                        let part = if p.units { RefundPart::Units(p.count) } else { RefundPart::Seats(seats) };
                        LineRefund { line: line as u32, part }
                    })
                    .collect();
                (dt, Some(OrderAction::Refund { lines }))
            }
            Step::RefundRest { dt } => (dt, Some(OrderAction::RefundRest)),
            Step::Tick { dt } => (dt, None),
        };
        clock += dt;
        out.push(match action {
            Some(action) => OrderInput::Act { at_us: clock, action },
            None => OrderInput::Tick { at_us: clock },
        });
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

fn check_step(
    order: &Order,
    before: OrderStatus,
    outcome: &OrderOutcome,
    moves: &[OrderMove],
    model: &Model,
    expected: &(OrderOutcome, Vec<OrderMove>),
) -> Result<(), TestCaseError> {
    prop_assert_eq!(outcome, &expected.0);
    prop_assert_eq!(moves, &expected.1[..]);
    let mut at = before;
    for m in moves {
        prop_assert_eq!(m.from, at, "a move from where the order was not");
        prop_assert!(LEGAL.contains(&(m.from, m.to)), "illegal move {:?}", m);
        at = m.to;
    }
    prop_assert_eq!(order.status(), at);
    prop_assert_eq!(order.status(), model.status);
    prop_assert_eq!(u128::from(order.paid().minor()), model.paid);
    prop_assert_eq!(u128::from(order.refunded().minor()), model.refunded);
    prop_assert!(order.refunded() <= order.paid(), "refunded more than paid");
    prop_assert_eq!(order.check_invariants(), Ok(()));
    for (line, m) in order.lines().iter().zip(&model.lines) {
        prop_assert_eq!(line.refunded_units, m.refunded_units);
        let mut seats = m.refunded_seats.clone();
        seats.sort();
        prop_assert_eq!(&line.refunded_seats, &seats);
    }
    let deadline = (model.status == AwaitingPayment).then_some(model.pay_by);
    prop_assert_eq!(order.next_deadline_us(), deadline);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// The order agrees with the model after every input, moves only along
    /// the table's edges, and never refunds more than was paid.
    #[test]
    fn order_matches_the_model(
        lines in lines_strategy(),
        ttl in 1i64..200,
        steps in prop::collection::vec(step_strategy(), 1..40),
    ) {
        let new = new_order(&lines, ttl);
        let mut order = Order::new(new.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut model = Model::new(&new);
        prop_assert_eq!(u128::from(order.total().minor()), model.total());
        for input in inputs(&order, &steps) {
            let before = order.status();
            let applied = order.apply(&input);
            let expected = model.apply(&input);
            check_step(&order, before, &applied.outcome, &applied.moves, &model, &expected)?;
        }
        let bytes = postcard::to_allocvec(&order).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: Order = postcard::from_bytes(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(back == order);
    }
}

/// The core's table is the module doc's, and the final states are final.
#[test]
fn the_edge_table_is_the_documented_one() {
    assert_eq!(ORDER_EDGES.to_vec(), LEGAL.to_vec());
    let all = [AwaitingPayment, Paid, PartlyRefunded, Refunded, Expired, Cancelled, PaymentFailed];
    let finals: BTreeSet<OrderStatus> = all.iter().copied().filter(|s| s.is_final()).collect();
    assert_eq!(finals, BTreeSet::from([Refunded, Expired, Cancelled, PaymentFailed]));
    for from in all {
        for to in all {
            assert_eq!(from.can_move_to(to), LEGAL.contains(&(from, to)), "{from:?} -> {to:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Examples
// ---------------------------------------------------------------------------

fn seats_order() -> Order {
    let new = NewOrder {
        reference: OrderRef::new(3, 41),
        buyer: UserId(7),
        lines: vec![
            (LineItems::Seats { seats: vec![SeatId(10), SeatId(11), SeatId(12)] }, Money::from_minor(50_000)),
            (LineItems::Units { quantity: 2 }, Money::from_minor(5_000)),
        ],
        created_at_us: T0,
        pay_by_us: T0 + 600,
    };
    match Order::new(new) {
        Ok(order) => order,
        Err(e) => panic!("a valid order: {e}"),
    }
}

fn act(order: &mut Order, at_us: i64, action: OrderAction) -> OrderOutcome {
    order.apply(&OrderInput::Act { at_us, action }).outcome
}

/// Paid, then one seat refunded, then the rest: partly refunded, refunded.
#[test]
fn a_seat_order_is_paid_then_refunded_seat_by_seat() {
    let mut order = seats_order();
    assert_eq!(order.total(), Money::from_minor(160_000));
    assert_eq!(act(&mut order, T0 + 10, OrderAction::Pay { amount: Money::from_minor(160_000) }), OrderOutcome::Paid);
    let one_seat =
        OrderAction::Refund { lines: vec![LineRefund { line: 0, part: RefundPart::Seats(vec![SeatId(11)]) }] };
    assert_eq!(
        act(&mut order, T0 + 20, one_seat.clone()),
        OrderOutcome::Refunded { amount: Money::from_minor(50_000), status: PartlyRefunded }
    );
    assert_eq!(
        act(&mut order, T0 + 21, one_seat),
        OrderOutcome::Rejected(OrderRejection::SeatAlreadyRefunded { line: 0, seat: SeatId(11) })
    );
    assert_eq!(
        act(&mut order, T0 + 30, OrderAction::RefundRest),
        OrderOutcome::Refunded { amount: Money::from_minor(110_000), status: Refunded }
    );
    assert_eq!(order.refunded(), order.paid());
    assert_eq!(
        act(&mut order, T0 + 40, OrderAction::RefundRest),
        OrderOutcome::Rejected(OrderRejection::NotRefundable { status: Refunded })
    );
}

/// A payment at the deadline is too late: the order has expired, and the
/// caller must give the money back.
#[test]
fn payment_at_the_deadline_is_too_late() {
    let mut order = seats_order();
    let applied = order.apply(&OrderInput::Act { at_us: T0 + 600, action: OrderAction::Pay { amount: order.total() } });
    assert_eq!(applied.moves, vec![OrderMove { from: AwaitingPayment, to: Expired }]);
    assert_eq!(applied.outcome, OrderOutcome::Rejected(OrderRejection::NotAwaitingPayment { status: Expired }));
    assert_eq!(order.paid(), Money::ZERO);
}

/// Only the exact total pays; a declined payment is final.
#[test]
fn only_the_total_pays_and_a_decline_is_final() {
    let mut order = seats_order();
    assert_eq!(
        act(&mut order, T0 + 1, OrderAction::Pay { amount: Money::from_minor(1) }),
        OrderOutcome::Rejected(OrderRejection::AmountMismatch { total: Money::from_minor(160_000) })
    );
    assert_eq!(act(&mut order, T0 + 2, OrderAction::FailPayment), OrderOutcome::PaymentFailed);
    assert_eq!(
        act(&mut order, T0 + 3, OrderAction::Pay { amount: Money::from_minor(160_000) }),
        OrderOutcome::Rejected(OrderRejection::NotAwaitingPayment { status: PaymentFailed })
    );
    assert_eq!(order.next_deadline_us(), None);
}

#[test]
fn an_order_must_make_sense_to_be_made() {
    let base =
        |lines| NewOrder { reference: OrderRef::new(1, 1), buyer: UserId(1), lines, created_at_us: 0, pay_by_us: 10 };
    assert_eq!(Order::new(base(vec![])), Err(OrderProblem::NoLines));
    assert_eq!(
        Order::new(base(vec![(LineItems::Units { quantity: 0 }, Money::ZERO)])),
        Err(OrderProblem::EmptyLine { line: 0 })
    );
    let twice = vec![
        (LineItems::Seats { seats: vec![SeatId(1)] }, Money::ZERO),
        (LineItems::Seats { seats: vec![SeatId(1)] }, Money::ZERO),
    ];
    assert_eq!(Order::new(base(twice)), Err(OrderProblem::DuplicateSeat { seat: SeatId(1) }));
    let huge = vec![(LineItems::Units { quantity: 2 }, Money::from_minor(u64::MAX))];
    assert_eq!(Order::new(base(huge)), Err(OrderProblem::TotalOverflow));
    let mut late = base(vec![(LineItems::Units { quantity: 1 }, Money::ZERO)]);
    late.pay_by_us = 0;
    assert_eq!(Order::new(late), Err(OrderProblem::BadDeadline));
}
