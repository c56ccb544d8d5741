//! One sale of any kind: the schedule, the kind's book, and idempotency,
//! behind a single `apply`.
//!
//! New sale kinds (seated sales, auctions, lotteries) and the waiting room are
//! added as new [`KindConfig`] / book variants; the runtime only sees [`Sale`].

use serde::{Deserialize, Serialize};

use crate::UserId;
use crate::drop_sale::{Click, DropBook, DropConfig, DropView};
use crate::idempotency::{IdempotencyKey, IdempotencyTable, Recall};
use crate::schedule::{SaleStatus, Schedule};
use crate::stock::{Hold, HoldId, StockBook, StockConfig, StockView};

/// Version of the snapshot encoding of [`Sale`]. Bump it whenever a state
/// struct changes shape: older snapshots are then ignored and the sale is
/// rebuilt from its log, which is always possible.
pub const SNAPSHOT_FORMAT: u32 = 3;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KindConfig {
    Stock(StockConfig),
    Drop(DropConfig),
}

/// Everything needed to start a sale; the first entry of its log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleConfig {
    pub title: String,
    pub description: String,
    pub owner: UserId,
    pub currency: String,
    pub opens_at_us: Option<i64>,
    pub closes_at_us: Option<i64>,
    pub kind: KindConfig,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Book {
    Stock(StockBook),
    Drop(DropBook),
}

/// What a person (or the organizer) asks a sale to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Open,
    Close,
    Reserve { quantity: u32 },
    Confirm { hold: HoldId },
    Cancel { hold: HoldId },
    Refund { order: HoldId },
    Click,
}

/// An action with its author, its idempotency key and the time the sale's
/// writer stamped on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub at_us: i64,
    pub by: UserId,
    pub key: IdempotencyKey,
    pub action: Action,
}

/// What a sale consumes: commands, and ticks that let time pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    Command(Command),
    Tick { at_us: i64 },
}

impl Input {
    pub fn at_us(&self) -> i64 {
        match self {
            Input::Command(c) => c.at_us,
            Input::Tick { at_us } => *at_us,
        }
    }
}

/// Why a command did nothing. An ordinary answer, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    NotOpenYet,
    Closed,
    SoldOut { available: u64 },
    LimitReached { remaining: u32 },
    BadQuantity { max: u32 },
    UnknownHold,
    NotYourHold,
    HoldExpired,
    HoldNotActive,
    UnknownOrder,
    AlreadyRefunded,
    AlreadyOpen,
    AlreadyClosed,
    WrongSaleKind,
    IdempotencyKeyReused,
}

impl Rejection {
    /// A stable, kebab-case name: the log records it and the API's problem
    /// types are built from it, so it never changes once released.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::NotOpenYet => "not-open-yet",
            Rejection::Closed => "sale-closed",
            Rejection::SoldOut { .. } => "sold-out",
            Rejection::LimitReached { .. } => "limit-reached",
            Rejection::BadQuantity { .. } => "bad-quantity",
            Rejection::UnknownHold => "unknown-hold",
            Rejection::NotYourHold => "not-your-hold",
            Rejection::HoldExpired => "hold-expired",
            Rejection::HoldNotActive => "hold-not-active",
            Rejection::UnknownOrder => "unknown-order",
            Rejection::AlreadyRefunded => "already-refunded",
            Rejection::AlreadyOpen => "already-open",
            Rejection::AlreadyClosed => "already-closed",
            Rejection::WrongSaleKind => "wrong-sale-kind",
            Rejection::IdempotencyKeyReused => "idempotency-key-reused",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Opened,
    Closed,
    Held(Hold),
    Confirmed(Hold),
    Cancelled(Hold),
    Refunded(Hold),
    Clicked(Click),
    /// A tick that moved time forward.
    Ticked,
    Rejected(Rejection),
}

/// Something watchers may want to hear about (live pages, notifications).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    StatusChanged(SaleStatus),
    StockChanged(StockView),
    HoldExpired { hold: HoldId, by: UserId, quantity: u32 },
    Clicked(Click),
}

/// The result of applying one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    pub events: Vec<Event>,
    /// False only for a tick that changed nothing; such ticks need not be logged.
    pub changed: bool,
}

/// The public state of a sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleView {
    pub status: SaleStatus,
    pub stock: Option<StockView>,
    pub drop: Option<DropView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    config: SaleConfig,
    schedule: Schedule,
    book: Book,
    idempotency: IdempotencyTable,
    /// Inputs must arrive in time order; a late input is treated as arriving now.
    last_at_us: i64,
}

impl Sale {
    pub fn new(config: SaleConfig) -> Self {
        let book = match &config.kind {
            KindConfig::Stock(c) => Book::Stock(StockBook::new(c.clone())),
            KindConfig::Drop(c) => Book::Drop(DropBook::new(c.clone())),
        };
        Sale {
            schedule: Schedule::new(config.opens_at_us, config.closes_at_us),
            config,
            book,
            idempotency: IdempotencyTable::default(),
            last_at_us: i64::MIN,
        }
    }

    pub fn config(&self) -> &SaleConfig {
        &self.config
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn stock(&self) -> Option<&StockBook> {
        match &self.book {
            Book::Stock(b) => Some(b),
            Book::Drop(_) => None,
        }
    }

    pub fn drop_book(&self) -> Option<&DropBook> {
        match &self.book {
            Book::Drop(b) => Some(b),
            Book::Stock(_) => None,
        }
    }

    pub fn view(&self) -> SaleView {
        SaleView {
            status: self.schedule.status,
            stock: self.stock().map(StockBook::view),
            drop: self.drop_book().map(DropBook::view),
        }
    }

    /// The time of the newest input applied; the runtime stamps no earlier time.
    pub fn last_at_us(&self) -> i64 {
        self.last_at_us
    }

    pub fn idempotency_len(&self) -> usize {
        self.idempotency.len()
    }

    /// When the runtime should send a tick: the next opening, closing or hold expiry.
    pub fn next_deadline_us(&self) -> Option<i64> {
        let book = match &self.book {
            Book::Stock(b) => b.next_deadline_us(),
            Book::Drop(_) => None,
        };
        match (self.schedule.next_deadline_us(), book) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies one input. Deterministic: depends only on the state and the input.
    pub fn apply(&mut self, input: &Input) -> Applied {
        let now = input.at_us().max(self.last_at_us);
        self.last_at_us = now;
        let mut events = Vec::new();
        let changed = self.advance(now, &mut events);
        let Input::Command(cmd) = input else {
            return Applied { outcome: Outcome::Ticked, events, changed };
        };
        let outcome = match self.idempotency.recall(cmd.by, &cmd.key, &cmd.action, now) {
            Recall::Repeat(first) => first,
            Recall::Conflict => Outcome::Rejected(Rejection::IdempotencyKeyReused),
            Recall::New => {
                let outcome = self.act(cmd.by, &cmd.action, now, &mut events);
                self.idempotency.remember(cmd.by, cmd.key.clone(), cmd.action.clone(), outcome.clone(), now);
                outcome
            }
        };
        Applied { outcome, events, changed: true }
    }

    fn advance(&mut self, now: i64, events: &mut Vec<Event>) -> bool {
        let before = events.len();
        if self.schedule.advance(now) {
            events.push(Event::StatusChanged(self.schedule.status));
        }
        if let Book::Stock(b) = &mut self.book {
            b.expire(now, events);
        }
        events.len() > before
    }

    fn act(&mut self, by: UserId, action: &Action, now: i64, events: &mut Vec<Event>) -> Outcome {
        let status = self.schedule.status;
        match action {
            Action::Open => match status {
                SaleStatus::Scheduled => {
                    self.schedule.open_now(now);
                    events.push(Event::StatusChanged(SaleStatus::Open));
                    Outcome::Opened
                }
                SaleStatus::Open => Outcome::Rejected(Rejection::AlreadyOpen),
                SaleStatus::Closed => Outcome::Rejected(Rejection::AlreadyClosed),
            },
            Action::Close => match status {
                SaleStatus::Closed => Outcome::Rejected(Rejection::AlreadyClosed),
                _ => {
                    self.schedule.close_now(now);
                    events.push(Event::StatusChanged(SaleStatus::Closed));
                    Outcome::Closed
                }
            },
            Action::Reserve { quantity } => {
                let Book::Stock(book) = &mut self.book else { return Outcome::Rejected(Rejection::WrongSaleKind) };
                match status {
                    SaleStatus::Scheduled => Outcome::Rejected(Rejection::NotOpenYet),
                    SaleStatus::Closed => Outcome::Rejected(Rejection::Closed),
                    SaleStatus::Open => book.reserve(by, *quantity, now, events),
                }
            }
            // A hold taken while the sale was open may still be paid for or
            // given back after it closes.
            Action::Confirm { hold } => match &mut self.book {
                Book::Stock(book) => book.confirm(by, *hold, events),
                Book::Drop(_) => Outcome::Rejected(Rejection::WrongSaleKind),
            },
            Action::Cancel { hold } => match &mut self.book {
                Book::Stock(book) => book.cancel(by, *hold, events),
                Book::Drop(_) => Outcome::Rejected(Rejection::WrongSaleKind),
            },
            Action::Refund { order } => match &mut self.book {
                Book::Stock(book) => book.refund(by, *order, events),
                Book::Drop(_) => Outcome::Rejected(Rejection::WrongSaleKind),
            },
            Action::Click => {
                let Book::Drop(book) = &mut self.book else { return Outcome::Rejected(Rejection::WrongSaleKind) };
                if let Some(first) = book.first_click(by) {
                    return first;
                }
                match (status, self.schedule.opened_at_us) {
                    (SaleStatus::Open, Some(opened)) => book.click(by, now, opened, events),
                    (SaleStatus::Closed, _) => Outcome::Rejected(Rejection::Closed),
                    _ => Outcome::Rejected(Rejection::NotOpenYet),
                }
            }
        }
    }

    /// Recounts the books; Err names the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        match &self.book {
            Book::Stock(b) => b.check_invariants(),
            Book::Drop(b) => b.check_invariants(),
        }
    }
}
