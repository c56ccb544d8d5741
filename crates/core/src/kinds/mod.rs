//! The sale kinds, one module each, and the one place that dispatches to them.
//!
//! A kind owns its config, its actions and outcomes, its view and its
//! invariants, behind [`Kind`]; the frame ([`crate::Sale`]: schedule, waiting
//! room, idempotency, edits) lends it a [`Gate`] while it acts. Kinds that
//! hold something (stock, seats) keep their holds in [`crate::holds`].
//!
//! Adding a kind: its module here, a variant in [`KindConfig`], [`Book`],
//! [`TermsEdit`], `Action` and `Outcome` (`sale.rs`), one line in
//! [`each_book!`], and its view's field in `SaleView`.

pub mod drop;
pub mod seated;
pub mod stock;

use serde::{Deserialize, Serialize};

use crate::holds::HoldId;
use crate::queue::WaitingRoom;
use crate::schedule::SaleStatus;
use crate::{Action, Event, Outcome, Rejection, UserId};
use drop::{DropBook, DropConfig};
use seated::{SeatBook, SeatedConfig, SeatedTerms};
use stock::{StockBook, StockConfig};

/// A sale's kind and its terms, as created (and edited before opening).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KindConfig {
    Stock(StockConfig),
    Drop(DropConfig),
    Seated(SeatedConfig),
}

impl KindConfig {
    /// Every kind's name, in the order the pages list them.
    pub const NAMES: [&'static str; 3] = [StockBook::NAME, DropBook::NAME, SeatBook::NAME];

    /// The kind's name ([`KindConfig::NAMES`]).
    pub fn name(&self) -> &'static str {
        match self {
            KindConfig::Stock(_) => StockBook::NAME,
            KindConfig::Drop(_) => DropBook::NAME,
            KindConfig::Seated(_) => SeatBook::NAME,
        }
    }
}

/// The terms of a sale's kind that an organizer may change before opening.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TermsEdit {
    Stock(StockConfig),
    Drop(DropConfig),
    Seated(SeatedTerms),
}

/// What the frame lends a kind while it acts: the sale's status and time,
/// and its waiting room (a pass to check, a purchase to count against it).
pub(crate) struct Gate<'a> {
    pub(crate) status: SaleStatus,
    pub(crate) opened_at_us: Option<i64>,
    pub(crate) now: i64,
    pub(crate) queue: Option<&'a mut WaitingRoom>,
    /// How many units a pass is good for (see `Sale::pass_limit`).
    pub(crate) pass_limit: u32,
}

impl Gate<'_> {
    /// The sale is open.
    pub(crate) fn is_open(&self) -> Result<(), Rejection> {
        match self.status {
            SaleStatus::Scheduled => Err(Rejection::NotOpenYet),
            SaleStatus::Closed => Err(Rejection::Closed),
            SaleStatus::Open => Ok(()),
        }
    }

    /// Buying needs a live pass when the sale has a waiting room.
    pub(crate) fn check_pass(&self, by: UserId) -> Result<(), Rejection> {
        match &self.queue {
            Some(q) => q.check_pass(by, self.now),
            None => Ok(()),
        }
    }

    /// Taking stock or seats needs the sale open and, with a waiting room, a live pass.
    pub(crate) fn may_take(&self, by: UserId) -> Result<(), Rejection> {
        self.is_open()?;
        self.check_pass(by)
    }

    /// `by` bought `units`: with a waiting room, they count against the pass.
    pub(crate) fn record_purchase(&mut self, by: UserId, units: u32, events: &mut Vec<Event>) {
        if units == 0 {
            return;
        }
        let (limit, now) = (self.pass_limit, self.now);
        if let Some(q) = self.queue.as_deref_mut() {
            q.record_purchase(by, units, limit, now, events);
        }
    }
}

/// One sale kind's rules. Everything a kind does not hold (a drop) keeps the
/// defaults of the hold lifecycle: confirm, cancel and refund are the wrong kind.
pub(crate) trait Kind: Sized {
    /// The kind's name where people and programs read it (the API's `kind`,
    /// the pages' filter): stable, lowercase, one word.
    const NAME: &'static str;
    type Config;
    /// What an organizer may change before opening.
    type Terms;
    type Action;

    fn new(config: Self::Config) -> Self;

    fn act(&mut self, by: UserId, action: &Self::Action, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome;

    /// A hold taken while the sale was open (and, with a waiting room, with a
    /// live pass) may still be paid for after it closes or the pass ends.
    /// What is paid for counts against the pass.
    fn confirm(&mut self, _by: UserId, _id: HoldId, _gate: &mut Gate<'_>, _events: &mut Vec<Event>) -> Outcome {
        Outcome::Rejected(Rejection::WrongSaleKind)
    }

    fn cancel(&mut self, _by: UserId, _id: HoldId, _events: &mut Vec<Event>) -> Outcome {
        Outcome::Rejected(Rejection::WrongSaleKind)
    }

    fn refund(&mut self, _by: UserId, _id: HoldId, _events: &mut Vec<Event>) -> Outcome {
        Outcome::Rejected(Rejection::WrongSaleKind)
    }

    /// Lets time pass: expires what ended at or before `now_us`.
    fn expire(&mut self, _now_us: i64, _events: &mut Vec<Event>) {}

    fn next_deadline_us(&self) -> Option<i64> {
        None
    }

    /// The most one person may have (units, seats, a drop's one click).
    fn per_person_limit(&self) -> u32;

    /// What is left to win.
    fn available(&self) -> u64;

    /// Someone holds, bought or clicked something: the sale stays listed.
    fn has_orders(&self) -> bool;

    fn same_terms(&self, terms: &Self::Terms) -> bool;

    /// The config under new terms (the book then starts afresh).
    fn config_with(&self, terms: &Self::Terms) -> Self::Config;

    /// Events that announce a fresh book after an edit of its terms.
    fn announce(&self, _events: &mut Vec<Event>) {}

    fn check_invariants(&self) -> Result<(), String>;
}

/// The state of a sale's kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Book {
    Stock(StockBook),
    Drop(DropBook),
    Seated(SeatBook),
}

/// Runs `$body` with `$b` bound to whichever kind the book is.
macro_rules! each_book {
    ($book:expr, $b:ident => $body:expr) => {
        match $book {
            Book::Stock($b) => $body,
            Book::Drop($b) => $body,
            Book::Seated($b) => $body,
        }
    };
}

impl Book {
    pub(crate) fn new(config: &KindConfig) -> Book {
        match config {
            KindConfig::Stock(c) => Book::Stock(StockBook::new(c.clone())),
            KindConfig::Drop(c) => Book::Drop(DropBook::new(c.clone())),
            KindConfig::Seated(c) => Book::Seated(SeatBook::new(c.clone())),
        }
    }

    /// A kind's own action; an action of another kind is refused.
    pub(crate) fn act(&mut self, by: UserId, action: &Action, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome {
        match (self, action) {
            (Book::Stock(b), Action::Stock(a)) => b.act(by, a, gate, events),
            (Book::Drop(b), Action::Drop(a)) => b.act(by, a, gate, events),
            (Book::Seated(b), Action::Seated(a)) => b.act(by, a, gate, events),
            _ => Outcome::Rejected(Rejection::WrongSaleKind),
        }
    }

    pub(crate) fn confirm(&mut self, by: UserId, id: HoldId, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome {
        each_book!(self, b => b.confirm(by, id, gate, events))
    }

    pub(crate) fn cancel(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        each_book!(self, b => b.cancel(by, id, events))
    }

    pub(crate) fn refund(&mut self, by: UserId, id: HoldId, events: &mut Vec<Event>) -> Outcome {
        each_book!(self, b => b.refund(by, id, events))
    }

    pub(crate) fn expire(&mut self, now_us: i64, events: &mut Vec<Event>) {
        each_book!(self, b => b.expire(now_us, events))
    }

    pub(crate) fn next_deadline_us(&self) -> Option<i64> {
        each_book!(self, b => b.next_deadline_us())
    }

    pub(crate) fn per_person_limit(&self) -> u32 {
        each_book!(self, b => b.per_person_limit())
    }

    pub(crate) fn available(&self) -> u64 {
        each_book!(self, b => b.available())
    }

    pub(crate) fn has_orders(&self) -> bool {
        each_book!(self, b => b.has_orders())
    }

    pub(crate) fn announce(&self, events: &mut Vec<Event>) {
        each_book!(self, b => b.announce(events))
    }

    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        each_book!(self, b => b.check_invariants())
    }

    /// Whether `terms` are what the book runs under (terms of another kind never are).
    pub(crate) fn same_terms(&self, terms: &TermsEdit) -> bool {
        match (self, terms) {
            (Book::Stock(b), TermsEdit::Stock(t)) => b.same_terms(t),
            (Book::Drop(b), TermsEdit::Drop(t)) => b.same_terms(t),
            (Book::Seated(b), TermsEdit::Seated(t)) => b.same_terms(t),
            _ => false,
        }
    }

    /// The kind's config under new terms of the same kind.
    pub(crate) fn config_with(&self, terms: &TermsEdit) -> Result<KindConfig, Rejection> {
        match (self, terms) {
            (Book::Stock(b), TermsEdit::Stock(t)) => Ok(KindConfig::Stock(b.config_with(t))),
            (Book::Drop(b), TermsEdit::Drop(t)) => Ok(KindConfig::Drop(b.config_with(t))),
            (Book::Seated(b), TermsEdit::Seated(t)) => Ok(KindConfig::Seated(b.config_with(t))),
            _ => Err(Rejection::WrongSaleKind),
        }
    }
}
