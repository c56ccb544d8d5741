//! Orders: what a buyer bought, what it cost, what was paid and refunded, and
//! the one table of states an order may move between. An order is made from
//! a hold (its lines: a quantity or seats, each at a unit price) and then
//! follows its payment and refunds. It owns its amounts (total, paid,
//! refunded, all [`Money`]) and its status; the sale owns the stock and seats,
//! the ledger owns the money.
//!
//! | from | to | when |
//! |---|---|---|
//! | awaiting payment | paid | the provider captured exactly the total, before `pay_by_us` |
//! | awaiting payment | payment failed | the provider declined or failed |
//! | awaiting payment | expired | `pay_by_us` came with nothing paid (by itself, on any input) |
//! | awaiting payment | cancelled | given up before paying |
//! | paid | partly refunded | some units or seats refunded |
//! | paid | refunded | every unit and seat refunded |
//! | partly refunded | partly refunded | more refunded, not all |
//! | partly refunded | refunded | the rest refunded |
//!
//! Refunded, expired, cancelled and payment failed are final. A payment that
//! arrives too late is refused here (the order has expired), and whoever took
//! the money must give it back. Refunds are per line, by units or by named
//! seats, at the line's unit price, so the refunded amount never exceeds what
//! was paid. [`Order::check_invariants`] recounts all of this.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{Money, OrderRef, PER_PERSON_MAX, SeatId, UserId};

/// Most lines in one order.
pub const ORDER_LINES_MAX: usize = 100;

/// Most seats in one order, over all its lines.
pub const ORDER_SEATS_MAX: usize = 1_000;

/// Most units on one line: a person's limit can be no higher.
pub const LINE_UNITS_MAX: u32 = PER_PERSON_MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    AwaitingPayment,
    Paid,
    PartlyRefunded,
    Refunded,
    Expired,
    Cancelled,
    PaymentFailed,
}

/// Every legal move, as the module doc's table lists them; nothing else moves an order.
pub const ORDER_EDGES: [(OrderStatus, OrderStatus); 8] = [
    (OrderStatus::AwaitingPayment, OrderStatus::Paid),
    (OrderStatus::AwaitingPayment, OrderStatus::PaymentFailed),
    (OrderStatus::AwaitingPayment, OrderStatus::Expired),
    (OrderStatus::AwaitingPayment, OrderStatus::Cancelled),
    (OrderStatus::Paid, OrderStatus::PartlyRefunded),
    (OrderStatus::Paid, OrderStatus::Refunded),
    (OrderStatus::PartlyRefunded, OrderStatus::PartlyRefunded),
    (OrderStatus::PartlyRefunded, OrderStatus::Refunded),
];

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::AwaitingPayment => "awaiting-payment",
            OrderStatus::Paid => "paid",
            OrderStatus::PartlyRefunded => "partly-refunded",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::PaymentFailed => "payment-failed",
        }
    }

    pub fn can_move_to(self, to: OrderStatus) -> bool {
        ORDER_EDGES.contains(&(self, to))
    }

    /// No move leaves it.
    pub fn is_final(self) -> bool {
        !ORDER_EDGES.iter().any(|(from, _)| *from == self)
    }

    /// Money was captured for it (some of it may have gone back since).
    pub fn was_paid(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::PartlyRefunded | OrderStatus::Refunded)
    }
}

/// What one line sells.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineItems {
    /// Units of stock (or a drop's prize).
    Units { quantity: u32 },
    /// Named seats, in the order they were held.
    Seats { seats: Vec<SeatId> },
}

/// A line of an order, and what of it has been refunded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub items: LineItems,
    pub unit_price: Money,
    pub refunded_units: u32,
    /// For a seat line, the seats given back (sorted); empty otherwise.
    pub refunded_seats: Vec<SeatId>,
}

impl OrderLine {
    pub fn units(&self) -> u32 {
        match &self.items {
            LineItems::Units { quantity } => *quantity,
            LineItems::Seats { seats } => u32::try_from(seats.len()).unwrap_or(u32::MAX),
        }
    }

    pub fn remaining_units(&self) -> u32 {
        self.units().saturating_sub(self.refunded_units)
    }
}

/// What is needed to make an order (from a confirmed hold).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub reference: OrderRef,
    pub buyer: UserId,
    /// (items, unit price) per line.
    pub lines: Vec<(LineItems, Money)>,
    pub created_at_us: i64,
    /// Payment must be captured before this instant (the hold's expiry).
    pub pay_by_us: i64,
}

/// Why an order cannot be made as asked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderProblem {
    NoLines,
    TooManyLines {
        max: usize,
    },
    /// A line of no units or no seats.
    EmptyLine {
        line: u32,
    },
    TooManyUnits {
        max: u32,
    },
    TooManySeats {
        max: usize,
    },
    DuplicateSeat {
        seat: SeatId,
    },
    /// The total does not fit in [`Money`].
    TotalOverflow,
    /// `pay_by_us` is not after `created_at_us`.
    BadDeadline,
}

impl std::fmt::Display for OrderProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderProblem::NoLines => write!(f, "an order needs at least one line"),
            OrderProblem::TooManyLines { max } => write!(f, "an order has at most {max} lines"),
            OrderProblem::EmptyLine { line } => write!(f, "line {line} has no units or seats"),
            OrderProblem::TooManyUnits { max } => write!(f, "a line has at most {max} units"),
            OrderProblem::TooManySeats { max } => write!(f, "an order has at most {max} seats"),
            OrderProblem::DuplicateSeat { seat } => write!(f, "seat {} is in the order twice", seat.0),
            OrderProblem::TotalOverflow => write!(f, "the order's total is too large"),
            OrderProblem::BadDeadline => write!(f, "the payment deadline must be after the order's creation"),
        }
    }
}

impl std::error::Error for OrderProblem {}

/// Part of one line to refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRefund {
    /// The line's index in the order, from 0.
    pub line: u32,
    pub part: RefundPart,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RefundPart {
    /// Units of a units line.
    Units(u32),
    /// Named seats of a seat line.
    Seats(Vec<SeatId>),
}

/// What happens to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderAction {
    /// The provider captured `amount`, which must be the total.
    Pay { amount: Money },
    /// The provider declined or failed.
    FailPayment,
    /// Given up before paying.
    Cancel,
    /// Parts of lines given back, each line at most once per refund.
    Refund { lines: Vec<LineRefund> },
    /// Everything not yet refunded given back.
    RefundRest,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderInput {
    Act { at_us: i64, action: OrderAction },
    Tick { at_us: i64 },
}

impl OrderInput {
    pub fn at_us(&self) -> i64 {
        match self {
            OrderInput::Act { at_us, .. } | OrderInput::Tick { at_us } => *at_us,
        }
    }
}

/// Why an action did nothing. An ordinary answer, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderRejection {
    /// Paying, failing or cancelling needs an order awaiting payment.
    NotAwaitingPayment {
        status: OrderStatus,
    },
    /// Refunding needs a paid, not wholly refunded order.
    NotRefundable {
        status: OrderStatus,
    },
    /// A payment of another amount than the total.
    AmountMismatch {
        total: Money,
    },
    NothingToRefund,
    UnknownLine {
        line: u32,
    },
    /// Units asked of a seat line, or seats of a units line.
    WrongLineKind {
        line: u32,
    },
    DuplicateLine {
        line: u32,
    },
    /// 0 units, or more than the line has left.
    BadUnits {
        line: u32,
        remaining: u32,
    },
    SeatNotInLine {
        line: u32,
        seat: SeatId,
    },
    SeatAlreadyRefunded {
        line: u32,
        seat: SeatId,
    },
    /// The refund would come to more than was paid and not yet refunded.
    RefundExceedsPaid {
        refundable: Money,
    },
    Overflow,
}

impl OrderRejection {
    /// A stable, kebab-case name for the log and the API.
    pub fn code(&self) -> &'static str {
        match self {
            OrderRejection::NotAwaitingPayment { .. } => "not-awaiting-payment",
            OrderRejection::NotRefundable { .. } => "not-refundable",
            OrderRejection::AmountMismatch { .. } => "amount-mismatch",
            OrderRejection::NothingToRefund => "nothing-to-refund",
            OrderRejection::UnknownLine { .. } => "unknown-line",
            OrderRejection::WrongLineKind { .. } => "wrong-line-kind",
            OrderRejection::DuplicateLine { .. } => "duplicate-line",
            OrderRejection::BadUnits { .. } => "bad-units",
            OrderRejection::SeatNotInLine { .. } => "seat-not-in-line",
            OrderRejection::SeatAlreadyRefunded { .. } => "seat-already-refunded",
            OrderRejection::RefundExceedsPaid { .. } => "refund-exceeds-paid",
            OrderRejection::Overflow => "overflow",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderOutcome {
    Paid,
    PaymentFailed,
    Cancelled,
    /// `amount` given back; the order is now `status`.
    Refunded {
        amount: Money,
        status: OrderStatus,
    },
    Ticked,
    Rejected(OrderRejection),
}

/// One move along [`ORDER_EDGES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMove {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// The result of one input: the answer, and the moves it made in order
/// (an expiry, then the action's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderApplied {
    pub outcome: OrderOutcome,
    pub moves: Vec<OrderMove>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    reference: OrderRef,
    buyer: UserId,
    lines: Vec<OrderLine>,
    status: OrderStatus,
    total: Money,
    paid: Money,
    refunded: Money,
    created_at_us: i64,
    pay_by_us: i64,
    /// Inputs must arrive in time order; a late input is treated as arriving now.
    last_at_us: i64,
}

impl Order {
    /// An order awaiting payment, or why these lines cannot make one.
    pub fn new(new: NewOrder) -> Result<Order, OrderProblem> {
        if new.lines.is_empty() {
            return Err(OrderProblem::NoLines);
        }
        if new.lines.len() > ORDER_LINES_MAX {
            return Err(OrderProblem::TooManyLines { max: ORDER_LINES_MAX });
        }
        if new.pay_by_us <= new.created_at_us {
            return Err(OrderProblem::BadDeadline);
        }
        let mut seen = BTreeSet::new();
        let mut total = Money::ZERO;
        let mut lines = Vec::with_capacity(new.lines.len());
        for (i, (items, unit_price)) in new.lines.into_iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let units = match &items {
                LineItems::Units { quantity } if *quantity > LINE_UNITS_MAX => {
                    return Err(OrderProblem::TooManyUnits { max: LINE_UNITS_MAX });
                }
                LineItems::Units { quantity } => *quantity,
                LineItems::Seats { seats } => {
                    for seat in seats {
                        if !seen.insert(*seat) {
                            return Err(OrderProblem::DuplicateSeat { seat: *seat });
                        }
                    }
                    if seen.len() > ORDER_SEATS_MAX {
                        return Err(OrderProblem::TooManySeats { max: ORDER_SEATS_MAX });
                    }
                    u32::try_from(seats.len()).unwrap_or(u32::MAX)
                }
            };
            if units == 0 {
                return Err(OrderProblem::EmptyLine { line: index });
            }
            let line_total = unit_price.checked_mul(u64::from(units)).ok_or(OrderProblem::TotalOverflow)?;
            total = total.checked_add(line_total).ok_or(OrderProblem::TotalOverflow)?;
            lines.push(OrderLine { items, unit_price, refunded_units: 0, refunded_seats: Vec::new() });
        }
        Ok(Order {
            reference: new.reference,
            buyer: new.buyer,
            lines,
            status: OrderStatus::AwaitingPayment,
            total,
            paid: Money::ZERO,
            refunded: Money::ZERO,
            created_at_us: new.created_at_us,
            pay_by_us: new.pay_by_us,
            last_at_us: new.created_at_us,
        })
    }

    pub fn reference(&self) -> OrderRef {
        self.reference
    }

    pub fn buyer(&self) -> UserId {
        self.buyer
    }

    pub fn lines(&self) -> &[OrderLine] {
        &self.lines
    }

    pub fn status(&self) -> OrderStatus {
        self.status
    }

    pub fn total(&self) -> Money {
        self.total
    }

    pub fn paid(&self) -> Money {
        self.paid
    }

    pub fn refunded(&self) -> Money {
        self.refunded
    }

    pub fn created_at_us(&self) -> i64 {
        self.created_at_us
    }

    pub fn pay_by_us(&self) -> i64 {
        self.pay_by_us
    }

    /// When the runtime should send a tick: the payment deadline while awaited.
    pub fn next_deadline_us(&self) -> Option<i64> {
        (self.status == OrderStatus::AwaitingPayment).then_some(self.pay_by_us)
    }

    /// Applies one input. Deterministic: depends only on the state and the input.
    pub fn apply(&mut self, input: &OrderInput) -> OrderApplied {
        let now = input.at_us().max(self.last_at_us);
        self.last_at_us = now;
        let mut moves = Vec::new();
        if self.status == OrderStatus::AwaitingPayment && now >= self.pay_by_us {
            self.move_to(OrderStatus::Expired, &mut moves);
        }
        let OrderInput::Act { action, .. } = input else {
            return OrderApplied { outcome: OrderOutcome::Ticked, moves };
        };
        let outcome = match self.act(action, &mut moves) {
            Ok(o) => o,
            Err(r) => OrderOutcome::Rejected(r),
        };
        OrderApplied { outcome, moves }
    }

    fn move_to(&mut self, to: OrderStatus, moves: &mut Vec<OrderMove>) {
        debug_assert!(self.status.can_move_to(to), "{:?} -> {to:?}", self.status);
        moves.push(OrderMove { from: self.status, to });
        self.status = to;
    }

    fn awaiting(&self) -> Result<(), OrderRejection> {
        match self.status {
            OrderStatus::AwaitingPayment => Ok(()),
            status => Err(OrderRejection::NotAwaitingPayment { status }),
        }
    }

    fn act(&mut self, action: &OrderAction, moves: &mut Vec<OrderMove>) -> Result<OrderOutcome, OrderRejection> {
        match action {
            OrderAction::Pay { amount } => {
                self.awaiting()?;
                if *amount != self.total {
                    return Err(OrderRejection::AmountMismatch { total: self.total });
                }
                self.paid = *amount;
                self.move_to(OrderStatus::Paid, moves);
                Ok(OrderOutcome::Paid)
            }
            OrderAction::FailPayment => {
                self.awaiting()?;
                self.move_to(OrderStatus::PaymentFailed, moves);
                Ok(OrderOutcome::PaymentFailed)
            }
            OrderAction::Cancel => {
                self.awaiting()?;
                self.move_to(OrderStatus::Cancelled, moves);
                Ok(OrderOutcome::Cancelled)
            }
            OrderAction::Refund { lines } => self.refund(lines, moves),
            OrderAction::RefundRest => {
                let rest = self.rest();
                self.refund(&rest, moves)
            }
        }
    }

    /// Every unit and seat not yet refunded, as a refund of each line.
    fn rest(&self) -> Vec<LineRefund> {
        let mut rest = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let part = match &line.items {
                LineItems::Units { .. } if line.remaining_units() > 0 => RefundPart::Units(line.remaining_units()),
                LineItems::Seats { seats } => {
                    let left: Vec<SeatId> =
                        seats.iter().filter(|s| line.refunded_seats.binary_search(s).is_err()).copied().collect();
                    if left.is_empty() {
                        continue;
                    }
                    RefundPart::Seats(left)
                }
                LineItems::Units { .. } => continue,
            };
            rest.push(LineRefund { line: index, part });
        }
        rest
    }

    /// Checks the whole refund before changing anything.
    fn refund(&mut self, parts: &[LineRefund], moves: &mut Vec<OrderMove>) -> Result<OrderOutcome, OrderRejection> {
        if !matches!(self.status, OrderStatus::Paid | OrderStatus::PartlyRefunded) {
            return Err(OrderRejection::NotRefundable { status: self.status });
        }
        if parts.is_empty() {
            return Err(OrderRejection::NothingToRefund);
        }
        let mut seen_lines = BTreeSet::new();
        let mut amount = Money::ZERO;
        for p in parts {
            let line = self.lines.get(p.line as usize).ok_or(OrderRejection::UnknownLine { line: p.line })?;
            if !seen_lines.insert(p.line) {
                return Err(OrderRejection::DuplicateLine { line: p.line });
            }
            let units = match (&p.part, &line.items) {
                (RefundPart::Units(n), LineItems::Units { .. }) => {
                    if *n == 0 || *n > line.remaining_units() {
                        return Err(OrderRejection::BadUnits { line: p.line, remaining: line.remaining_units() });
                    }
                    *n
                }
                (RefundPart::Seats(asked), LineItems::Seats { seats }) => {
                    if asked.is_empty() {
                        return Err(OrderRejection::BadUnits { line: p.line, remaining: line.remaining_units() });
                    }
                    let mut once = BTreeSet::new();
                    for seat in asked {
                        if !seats.contains(seat) {
                            return Err(OrderRejection::SeatNotInLine { line: p.line, seat: *seat });
                        }
                        if line.refunded_seats.binary_search(seat).is_ok() || !once.insert(*seat) {
                            return Err(OrderRejection::SeatAlreadyRefunded { line: p.line, seat: *seat });
                        }
                    }
                    u32::try_from(asked.len()).map_err(|_| OrderRejection::Overflow)?
                }
                _ => return Err(OrderRejection::WrongLineKind { line: p.line }),
            };
            let part = line.unit_price.checked_mul(u64::from(units)).ok_or(OrderRejection::Overflow)?;
            amount = amount.checked_add(part).ok_or(OrderRejection::Overflow)?;
        }
        let refundable = self.paid.checked_sub(self.refunded).ok_or(OrderRejection::Overflow)?;
        if amount > refundable {
            return Err(OrderRejection::RefundExceedsPaid { refundable });
        }
        for p in parts {
            let Some(line) = self.lines.get_mut(p.line as usize) else { continue };
            match &p.part {
                RefundPart::Units(n) => line.refunded_units = line.refunded_units.saturating_add(*n),
                RefundPart::Seats(seats) => {
                    line.refunded_seats.extend_from_slice(seats);
                    line.refunded_seats.sort_unstable();
                    line.refunded_units = u32::try_from(line.refunded_seats.len()).unwrap_or(u32::MAX);
                }
            }
        }
        self.refunded = self.refunded.checked_add(amount).ok_or(OrderRejection::Overflow)?;
        let to = if self.lines.iter().all(|l| l.remaining_units() == 0) {
            OrderStatus::Refunded
        } else {
            OrderStatus::PartlyRefunded
        };
        self.move_to(to, moves);
        Ok(OrderOutcome::Refunded { amount, status: to })
    }

    /// Recounts the amounts; Err names the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut total: u128 = 0;
        let mut refunded: u128 = 0;
        for (i, line) in self.lines.iter().enumerate() {
            let price = u128::from(line.unit_price.minor());
            total += price * u128::from(line.units());
            refunded += price * u128::from(line.refunded_units);
            if line.refunded_units > line.units() {
                return Err(format!("line {i} refunded {} of {}", line.refunded_units, line.units()));
            }
            if let LineItems::Seats { seats } = &line.items
                && (line.refunded_seats.len() != line.refunded_units as usize
                    || line.refunded_seats.iter().any(|s| !seats.contains(s)))
            {
                return Err(format!("line {i}'s refunded seats are not its seats"));
            }
        }
        if total != u128::from(self.total.minor()) {
            return Err(format!("total {} but the lines come to {total}", self.total.minor()));
        }
        if refunded != u128::from(self.refunded.minor()) {
            return Err(format!("refunded {} but the lines say {refunded}", self.refunded.minor()));
        }
        if self.refunded > self.paid {
            return Err("refunded more than paid".into());
        }
        let expected_paid = if self.status.was_paid() { self.total } else { Money::ZERO };
        if self.paid != expected_paid {
            return Err(format!("{:?} with {} paid of {}", self.status, self.paid.minor(), self.total.minor()));
        }
        let all_refunded = self.lines.iter().all(|l| l.remaining_units() == 0);
        let any_refunded = self.lines.iter().any(|l| l.refunded_units > 0);
        let consistent = match self.status {
            OrderStatus::Refunded => all_refunded,
            OrderStatus::PartlyRefunded => any_refunded && !all_refunded,
            _ => !any_refunded,
        };
        if !consistent {
            return Err(format!("{:?} does not match the refunded lines", self.status));
        }
        Ok(())
    }
}
