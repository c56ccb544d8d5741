//! The frame of every sale, whatever its kind: the schedule, opening and
//! closing, the optional waiting room, idempotency, per-person pass limits,
//! edits and archiving, behind a single `apply`. What a kind sells and how
//! is in [`crate::kinds`]; the frame hands a kind's actions to its book.

use serde::{Deserialize, Serialize};

use crate::UserId;
use crate::checkin::{CheckinBook, CheckinInput, CheckinOutcome, GateId, OfflineScan, TicketEvent};
use crate::holds::{HoldId, HoldStatus};
use crate::idempotency::{FirstAnswer, IdempotencyKey, IdempotencyTable, Recall};
use crate::kinds::drop::{Click, DropAction, DropBook, DropOutcome, DropView};
use crate::kinds::seated::{SeatBook, SeatHold, SeatedAction, SeatedOutcome, SeatedView};
use crate::kinds::stock::{Hold, StockAction, StockBook, StockOutcome, StockView};
use crate::kinds::{Book, Gate, KindConfig, TermsEdit};
use crate::queue::{PassState, QueueConfig, QueueEntry, QueueView, WaitingRoom};
use crate::schedule::{SaleStatus, Schedule};
use crate::ticket::{TicketId, TicketPayload, TicketPlace};
use crate::venue::SeatId;

/// Version of the snapshot encoding of [`Sale`]. Bump it whenever a state
/// struct changes shape: older snapshots are then ignored and the sale is
/// rebuilt from its log, which is always possible.
pub const SNAPSHOT_FORMAT: u32 = 9;

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
    /// A waiting room in front of the sale; buying then needs an admission.
    pub queue: Option<QueueConfig>,
    /// The title and description in other languages, each language at most
    /// once; pages show a viewer the one in their language, else `title`.
    pub translations: Vec<SaleText>,
}

/// A sale's title and description in one language (`lang`: `ko`, `en`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleText {
    pub lang: String,
    pub title: String,
    pub description: String,
}

impl SaleConfig {
    /// The title and description to show a viewer who reads `lang`.
    pub fn text_in(&self, lang: &str) -> (&str, &str) {
        match self.translations.iter().find(|t| t.lang == lang) {
            Some(t) => (&t.title, &t.description),
            None => (&self.title, &self.description),
        }
    }
}

/// An organizer's change to a sale; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    /// `Some(None)` removes the time: the sale then opens by hand.
    pub opens_at_us: Option<Option<i64>>,
    /// `Some(None)` removes the time: the sale then closes by hand.
    pub closes_at_us: Option<Option<i64>>,
    pub terms: Option<TermsEdit>,
}

/// What may no longer change once a sale has opened, named in a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EditField {
    OpensAt,
    ClosesAt,
    Terms,
}

impl EditField {
    pub fn as_str(self) -> &'static str {
        match self {
            EditField::OpensAt => "opens_at",
            EditField::ClosesAt => "closes_at",
            EditField::Terms => "terms",
        }
    }
}

/// What a person (or the organizer) asks a sale to do: the frame's own
/// actions, the hold lifecycle shared by every kind that holds, and each
/// kind's actions nested under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Open,
    Close,
    /// Pay for a hold: it becomes an order with the same id.
    Confirm {
        hold: HoldId,
    },
    Cancel {
        hold: HoldId,
    },
    Refund {
        order: HoldId,
    },
    /// Take a place in the waiting room. `address` is an opaque tag of the
    /// network address (the server hashes it), counted against the per-address limit.
    Join {
        nonce: u64,
        address: u64,
    },
    /// The organizer changes the waiting room's proof-of-work difficulty.
    SetPowBits {
        bits: u8,
    },
    /// The organizer changes the sale: anything before it opens; after, only
    /// the title, the description and (while open) the closing time.
    Edit(Box<SaleEdit>),
    /// The organizer takes a sale nobody has bought from off the lists. It
    /// closes for good; its log stays, so it can still be audited.
    Archive,
    Stock(StockAction),
    Drop(DropAction),
    Seated(SeatedAction),
    /// Tickets of paid orders: letting them in, handing them on.
    Ticket(TicketAction),
}

/// What gates and holders do with the tickets a sale issued for its paid
/// orders (the sale issues and revokes them itself, as orders are paid and
/// refunded; [`crate::checkin`] keeps them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketAction {
    /// A gate online lets this ticket in; the server checked its signature.
    Admit { gate: GateId, ticket: TicketPayload },
    /// A gate back online reports what it let in while offline.
    Sync { gate: GateId, scans: Vec<OfflineScan> },
    /// The holder hands the ticket to `to`: a new generation, the old one revoked.
    Transfer { ticket: TicketId, to: UserId },
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
    SoldOut {
        available: u64,
    },
    LimitReached {
        remaining: u32,
    },
    BadQuantity {
        max: u32,
    },
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
    NoWaitingRoom,
    QueueNotOpen,
    BadProofOfWork {
        bits: u8,
    },
    AddressLimitReached,
    NotInQueue,
    NotAdmitted,
    PassExpired,
    PassUsed,
    UnknownSeat {
        seat: SeatId,
    },
    /// Some of the seats asked for are held or sold (`seats`: the first few of them).
    SeatsTaken {
        count: u32,
        seats: Vec<SeatId>,
    },
    TooManySeats {
        max: u32,
    },
    DuplicateSeat,
    BadHolders,
    NoAdjacentSeats,
    UnknownSection,
    SeatNotInOrder,
    FriendLimitReached {
        friend: UserId,
        remaining: u32,
    },
    /// The sale has opened, so this field is fixed now.
    EditNotAllowed {
        field: EditField,
    },
    /// The opening must lie ahead, the closing after it and ahead too.
    BadSchedule,
    SaleArchived,
    /// Someone holds or bought something (or clicked a drop): the sale stays listed.
    SaleHasOrders,
    /// New terms the rules cannot keep (`TermsProblem`; `field` as the API names it).
    BadTerms {
        field: String,
    },
    /// A ticket of this order (or seat) was let in at the gate: what was
    /// used is not given back.
    TicketUsed,
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
            Rejection::NoWaitingRoom => "no-waiting-room",
            Rejection::QueueNotOpen => "queue-not-open",
            Rejection::BadProofOfWork { .. } => "bad-proof-of-work",
            Rejection::AddressLimitReached => "address-limit-reached",
            Rejection::NotInQueue => "not-in-queue",
            Rejection::NotAdmitted => "not-admitted",
            Rejection::PassExpired => "pass-expired",
            Rejection::PassUsed => "pass-used",
            Rejection::UnknownSeat { .. } => "unknown-seat",
            Rejection::SeatsTaken { .. } => "seats-taken",
            Rejection::TooManySeats { .. } => "too-many-seats",
            Rejection::DuplicateSeat => "duplicate-seat",
            Rejection::BadHolders => "bad-holders",
            Rejection::NoAdjacentSeats => "no-adjacent-seats",
            Rejection::UnknownSection => "unknown-section",
            Rejection::SeatNotInOrder => "seat-not-in-order",
            Rejection::FriendLimitReached { .. } => "friend-limit-reached",
            Rejection::EditNotAllowed { .. } => "edit-not-allowed",
            Rejection::BadSchedule => "bad-schedule",
            Rejection::SaleArchived => "sale-archived",
            Rejection::SaleHasOrders => "sale-has-orders",
            Rejection::BadTerms { .. } => "bad-terms",
            Rejection::TicketUsed => "ticket-used",
        }
    }
}

/// A command's answer: the frame's own, or a kind's nested under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Opened,
    Closed,
    Joined(QueueEntry),
    PowSet {
        bits: u8,
    },
    Edited,
    Archived,
    /// A tick that moved time forward.
    Ticked,
    Rejected(Rejection),
    Stock(StockOutcome),
    Drop(DropOutcome),
    Seated(SeatedOutcome),
    Ticket(CheckinOutcome),
}

impl Outcome {
    /// The event that this outcome is, for the outcomes that change a hold or
    /// the sale's configuration (the rest announce themselves from inside).
    fn event(&self) -> Option<Event> {
        match self {
            Outcome::Stock(o) => Some(o.event()),
            Outcome::Seated(o) => Some(o.event()),
            Outcome::Edited => Some(Event::Edited),
            Outcome::Archived => Some(Event::Archived),
            _ => None,
        }
    }
}

/// What happened to a hold (an order, once confirmed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldChange {
    Held,
    Confirmed,
    Cancelled,
    Refunded,
    Expired,
    /// One seat of a seat order given back.
    SeatReleased,
    /// One seat of a seat order exchanged for another.
    SeatSwapped,
}

/// A hold as it is after a change: of units of stock, or of seats.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldFact {
    Stock(Hold),
    Seats(SeatHold),
}

impl HoldFact {
    pub fn id(&self) -> HoldId {
        match self {
            HoldFact::Stock(h) => h.id,
            HoldFact::Seats(h) => h.id,
        }
    }

    pub fn by(&self) -> UserId {
        match self {
            HoldFact::Stock(h) => h.by,
            HoldFact::Seats(h) => h.by,
        }
    }
}

/// A fact for everybody but the caller: live pages, projections (orders,
/// statistics, results) and later notifications are all made from these.
/// Each event says enough on its own that a fold over a sale's events,
/// in log order, rebuilds what they describe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    StatusChanged(SaleStatus),
    StockChanged(StockView),
    /// A hold was taken, or changed state or seats; `hold` is its state after.
    Hold {
        change: HoldChange,
        hold: HoldFact,
    },
    Clicked(Click),
    QueueJoined {
        ticket: u32,
        by: UserId,
    },
    QueueShuffled {
        prequeue_len: u32,
    },
    /// Places `1..=upto` have now been let in.
    QueueAdmitted {
        upto: u32,
    },
    PassesExpired {
        count: u32,
    },
    SeatsTaken {
        seats: Vec<SeatId>,
    },
    SeatsFreed {
        seats: Vec<SeatId>,
    },
    /// The organizer changed the sale's text, schedule or terms.
    Edited,
    /// The organizer took the sale off the lists.
    Archived,
    Ticket(TicketEvent),
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
    pub seats: Option<SeatedView>,
    pub queue: Option<QueueView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    config: SaleConfig,
    schedule: Schedule,
    book: Book,
    queue: Option<WaitingRoom>,
    idempotency: IdempotencyTable,
    /// Taken off the lists by its organizer; closed for good.
    archived: bool,
    /// Counts edits and archiving, so the runtime can tell cheaply that the
    /// configuration it shows has changed.
    revision: u32,
    /// Inputs must arrive in time order; a late input is treated as arriving now.
    last_at_us: i64,
    /// The tickets of paid orders, and who has been let in on them.
    tickets: CheckinBook,
}

impl Sale {
    /// For a verifier of a published log only: joins take `verdict` as their
    /// proof of work's (the log's people are pseudonyms, and a proof binds
    /// the account). `None` checks the work again.
    pub fn assume_proof_of_work(&mut self, verdict: Option<bool>) {
        if let Some(q) = &mut self.queue {
            q.assume_proof_of_work(verdict);
        }
    }

    /// A sale whose id is not known (tests, tools): its tickets name sale 0.
    pub fn new(config: SaleConfig) -> Self {
        Sale::with_id(config, 0)
    }

    /// A sale that is stream `id` of the log: its tickets name it.
    pub fn with_id(config: SaleConfig, id: u64) -> Self {
        let book = Book::new(&config.kind);
        Sale {
            schedule: Schedule::new(config.opens_at_us, config.closes_at_us),
            queue: config.queue.clone().map(WaitingRoom::new),
            config,
            book,
            idempotency: IdempotencyTable::default(),
            archived: false,
            revision: 0,
            last_at_us: i64::MIN,
            tickets: CheckinBook::new(id),
        }
    }

    /// The tickets of this sale's paid orders.
    pub fn tickets(&self) -> &CheckinBook {
        &self.tickets
    }

    /// The sale's configuration as edited so far: its `create` record with
    /// every logged edit applied (the one source of its title and terms).
    pub fn config(&self) -> &SaleConfig {
        &self.config
    }

    pub fn archived(&self) -> bool {
        self.archived
    }

    /// Goes up with every edit and with archiving.
    pub fn revision(&self) -> u32 {
        self.revision
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn stock(&self) -> Option<&StockBook> {
        match &self.book {
            Book::Stock(b) => Some(b),
            _ => None,
        }
    }

    pub fn drop_book(&self) -> Option<&DropBook> {
        match &self.book {
            Book::Drop(b) => Some(b),
            _ => None,
        }
    }

    pub fn seats(&self) -> Option<&SeatBook> {
        match &self.book {
            Book::Seated(b) => Some(b),
            _ => None,
        }
    }

    pub fn waiting_room(&self) -> Option<&WaitingRoom> {
        self.queue.as_ref()
    }

    pub fn view(&self) -> SaleView {
        SaleView {
            status: self.schedule.status,
            stock: self.stock().map(StockBook::view),
            drop: self.drop_book().map(DropBook::view),
            seats: self.seats().map(SeatBook::view),
            queue: self.queue.as_ref().map(WaitingRoom::view),
        }
    }

    /// What is left to win: units of stock, or winning ranks of a drop.
    pub fn available(&self) -> u64 {
        self.book.available()
    }

    /// The time of the newest input applied; the runtime stamps no earlier time.
    pub fn last_at_us(&self) -> i64 {
        self.last_at_us
    }

    pub fn idempotency_len(&self) -> usize {
        self.idempotency.len()
    }

    /// When the runtime should send a tick: the next opening, closing, hold
    /// expiry, admission or pass expiry.
    pub fn next_deadline_us(&self) -> Option<i64> {
        let book = self.book.next_deadline_us();
        let queue = self.queue.as_ref().and_then(WaitingRoom::next_deadline_us);
        [self.schedule.next_deadline_us(), book, queue].into_iter().flatten().min()
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
        // Borrows the book alone, beside the table.
        let stock = match &self.book {
            Book::Stock(b) => Some(b),
            _ => None,
        };
        let held = |id| stock.and_then(|b| b.first_answer(id));
        let outcome = match self.idempotency.recall(cmd.by, &cmd.key, &cmd.action, now, held) {
            Recall::Repeat(first) => first,
            Recall::Conflict => Outcome::Rejected(Rejection::IdempotencyKeyReused),
            Recall::New => {
                let mark = events.len();
                let outcome = self.act(cmd.by, &cmd.action, now, &mut events);
                events.extend(outcome.event());
                self.follow_orders(now, mark, &mut events);
                let answer = self.first_answer(&cmd.action, &outcome);
                self.idempotency.remember(cmd.by, &cmd.key, answer, now);
                outcome
            }
        };
        Applied { outcome, events, changed: true }
    }

    /// How the idempotency table keeps this first answer: a stock hold by its
    /// id when the hold gives back exactly this command and answer, anything
    /// else whole.
    fn first_answer(&self, action: &Action, outcome: &Outcome) -> FirstAnswer {
        if let Outcome::Stock(StockOutcome::Held(hold)) = outcome
            && let Some((first_action, first_outcome)) = self.stock().and_then(|b| b.first_answer(hold.id))
            && first_action == *action
            && first_outcome == *outcome
        {
            return FirstAnswer::Held(hold.id);
        }
        FirstAnswer::Whole(Box::new((action.clone(), outcome.clone())))
    }

    /// Issues and revokes tickets as `events[mark..]` paid, refunded or
    /// changed orders: an order's valid tickets are always its paid units
    /// or seats.
    fn follow_orders(&mut self, now: i64, mark: usize, events: &mut Vec<Event>) {
        let mut orders = Vec::new();
        for event in &events[mark..] {
            let Event::Hold { change, hold } = event else { continue };
            if matches!(change, HoldChange::Held | HoldChange::Cancelled | HoldChange::Expired) {
                continue;
            }
            let places: Vec<(TicketPlace, UserId)> = match hold {
                HoldFact::Stock(h) if h.status == HoldStatus::Confirmed => {
                    (1..=h.quantity).map(|n| (TicketPlace::Unit(n), h.by)).collect()
                }
                HoldFact::Seats(h) if h.status == HoldStatus::Confirmed => {
                    h.seats.iter().map(|s| (TicketPlace::Seat(s.seat), s.holder)).collect()
                }
                _ => Vec::new(),
            };
            orders.push((hold.id().0, places));
        }
        for (order, places) in orders {
            let changes = self.tickets.follow_order(now, order, &places);
            events.extend(changes.into_iter().map(Event::Ticket));
        }
    }

    fn advance(&mut self, now: i64, events: &mut Vec<Event>) -> bool {
        let before = events.len();
        if self.schedule.advance(now) {
            events.push(Event::StatusChanged(self.schedule.status));
            self.follow_status(now, events);
        }
        self.book.expire(now, events);
        if let Some(q) = &mut self.queue {
            q.advance(now, events);
        }
        events.len() > before
    }

    /// The waiting room shuffles and starts admitting when the sale opens,
    /// and stops when it closes.
    fn follow_status(&mut self, now: i64, events: &mut Vec<Event>) {
        let Some(q) = &mut self.queue else { return };
        match self.schedule.status {
            SaleStatus::Scheduled => {}
            SaleStatus::Open => q.open(self.schedule.opened_at_us.unwrap_or(now), now, events),
            SaleStatus::Closed => {
                // Opened and closed since the previous input: the opening
                // still shuffles the pre-queue and reveals the seed.
                if self.schedule.opened_at_us.is_some() {
                    q.shuffle(events);
                }
                q.close();
            }
        }
    }

    /// The most one person may have: units of stock, seats, or a drop's one click.
    pub fn per_person_limit(&self) -> u32 {
        self.book.per_person_limit()
    }

    /// How many units a pass is good for: the per-person limit, or one
    /// checkout in sales logged before that rule.
    fn pass_limit(&self) -> u32 {
        match &self.queue {
            Some(q) if !q.config().pass_up_to_limit => 1,
            _ => self.per_person_limit(),
        }
    }

    /// The book, and what the frame lends it while it acts.
    fn gate(&mut self, now: i64) -> (&mut Book, Gate<'_>) {
        let pass_limit = self.pass_limit();
        let gate = Gate {
            status: self.schedule.status,
            opened_at_us: self.schedule.opened_at_us,
            now,
            queue: self.queue.as_mut(),
            pass_limit,
        };
        (&mut self.book, gate)
    }

    fn act(&mut self, by: UserId, action: &Action, now: i64, events: &mut Vec<Event>) -> Outcome {
        let status = self.schedule.status;
        match action {
            Action::Open => match status {
                SaleStatus::Scheduled => {
                    self.schedule.open_now(now);
                    events.push(Event::StatusChanged(SaleStatus::Open));
                    self.follow_status(now, events);
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
                    self.follow_status(now, events);
                    Outcome::Closed
                }
            },
            Action::Seated(
                SeatedAction::ReleaseSeat { order, seat } | SeatedAction::SwapSeat { order, from: seat, .. },
            ) if self.tickets.used(order.0, Some(*seat)) => Outcome::Rejected(Rejection::TicketUsed),
            Action::Stock(_) | Action::Drop(_) | Action::Seated(_) => {
                let (book, mut gate) = self.gate(now);
                book.act(by, action, &mut gate, events)
            }
            Action::Confirm { hold } => {
                let (book, mut gate) = self.gate(now);
                book.confirm(by, *hold, &mut gate, events)
            }
            Action::Cancel { hold } => self.book.cancel(by, *hold, events),
            Action::Refund { order } if self.tickets.used(order.0, None) => Outcome::Rejected(Rejection::TicketUsed),
            Action::Refund { order } => self.book.refund(by, *order, events),
            Action::Ticket(action) => {
                let input = match action {
                    TicketAction::Admit { gate, ticket } => {
                        CheckinInput::Scan { at_us: now, gate: *gate, ticket: *ticket }
                    }
                    TicketAction::Sync { gate, scans } => {
                        CheckinInput::Sync { at_us: now, gate: *gate, scans: scans.clone() }
                    }
                    TicketAction::Transfer { ticket, to } => {
                        CheckinInput::Transfer { at_us: now, ticket: *ticket, by, to: *to }
                    }
                };
                let (outcome, changes) = self.tickets.apply_with_events(&input);
                events.extend(changes.into_iter().map(Event::Ticket));
                Outcome::Ticket(outcome)
            }
            Action::Join { nonce, address } => {
                let closed = status == SaleStatus::Closed;
                match &mut self.queue {
                    Some(q) => q.join(by, *nonce, *address, now, closed, events),
                    None => Outcome::Rejected(Rejection::NoWaitingRoom),
                }
            }
            Action::SetPowBits { bits } => match &mut self.queue {
                Some(q) => q.set_pow_bits(*bits),
                None => Outcome::Rejected(Rejection::NoWaitingRoom),
            },
            Action::Edit(edit) => match self.edit(edit, now, events) {
                Ok(()) => Outcome::Edited,
                Err(r) => Outcome::Rejected(r),
            },
            Action::Archive => match self.archive(now, events) {
                Ok(()) => Outcome::Archived,
                Err(r) => Outcome::Rejected(r),
            },
        }
    }

    /// Before opening everything but the kind, the venue and the waiting room
    /// may change (nobody can hold anything yet, so the book starts afresh).
    /// After opening only what promises nobody anything: the title, the
    /// description, and the closing time while the sale is still open.
    /// A field sent with its current value is no change, so a form may send
    /// every field. Checks everything before changing anything.
    fn edit(&mut self, edit: &SaleEdit, now: i64, events: &mut Vec<Event>) -> Result<(), Rejection> {
        if self.archived {
            return Err(Rejection::SaleArchived);
        }
        let status = self.schedule.status;
        let opens = edit.opens_at_us.filter(|o| *o != self.schedule.opens_at_us);
        let closes = edit.closes_at_us.filter(|c| *c != self.schedule.closes_at_us);
        let terms = edit.terms.as_ref().filter(|t| !self.book.same_terms(t));
        if status != SaleStatus::Scheduled {
            if opens.is_some() {
                return Err(Rejection::EditNotAllowed { field: EditField::OpensAt });
            }
            if terms.is_some() {
                return Err(Rejection::EditNotAllowed { field: EditField::Terms });
            }
            if status == SaleStatus::Closed && closes.is_some() {
                return Err(Rejection::EditNotAllowed { field: EditField::ClosesAt });
            }
        }
        if opens.flatten().is_some_and(|o| o <= now) || closes.flatten().is_some_and(|c| c <= now) {
            return Err(Rejection::BadSchedule);
        }
        let new_opens = opens.unwrap_or(self.schedule.opens_at_us);
        let new_closes = closes.unwrap_or(self.schedule.closes_at_us);
        if status == SaleStatus::Scheduled
            && let (Some(o), Some(c)) = (new_opens, new_closes)
            && c <= o
        {
            return Err(Rejection::BadSchedule);
        }
        let kind = match terms {
            None => None,
            Some(t) => {
                let kind = self.book.config_with(t)?;
                kind.check().map_err(|p| Rejection::BadTerms { field: p.field.into() })?;
                Some(kind)
            }
        };
        if let Some(title) = &edit.title {
            self.config.title.clone_from(title);
        }
        if let Some(description) = &edit.description {
            self.config.description.clone_from(description);
        }
        self.schedule.opens_at_us = new_opens;
        self.schedule.closes_at_us = new_closes;
        self.config.opens_at_us = new_opens;
        self.config.closes_at_us = new_closes;
        if let Some(kind) = kind {
            self.book = Book::new(&kind);
            self.config.kind = kind;
            self.book.announce(events);
        }
        self.revision = self.revision.wrapping_add(1);
        Ok(())
    }

    /// Only a sale nobody has bought from (or held, or clicked) may go: the
    /// buyers' orders must stay where they can see them.
    fn archive(&mut self, now: i64, events: &mut Vec<Event>) -> Result<(), Rejection> {
        if self.archived {
            return Err(Rejection::SaleArchived);
        }
        // A refunded order still counts: its buyer keeps seeing it on their page.
        if self.book.has_orders() {
            return Err(Rejection::SaleHasOrders);
        }
        if self.schedule.status != SaleStatus::Closed {
            self.schedule.close_now(now);
            events.push(Event::StatusChanged(SaleStatus::Closed));
            self.follow_status(now, events);
        }
        self.archived = true;
        self.revision = self.revision.wrapping_add(1);
        Ok(())
    }

    /// Recounts the books; Err names the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        self.book.check_invariants()?;
        self.tickets.check_invariants()?;
        let Some(q) = &self.queue else { return Ok(()) };
        q.check_invariants()?;
        // A pass that bought up to the limit has ended and frees its slot.
        let limit = self.pass_limit();
        match q.entries().iter().find(|e| matches!(e.pass, PassState::Admitted { .. }) && e.bought >= limit) {
            Some(e) => Err(format!("ticket {} is live after buying {} of {limit}", e.ticket, e.bought)),
            None => Ok(()),
        }
    }
}
