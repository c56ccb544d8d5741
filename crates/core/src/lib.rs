//! The pure heart of Stampede: every sale kind as a deterministic state machine.
//!
//! This crate owns the rules of selling: who may hold how much, when a hold
//! expires, who ranks where in a drop, what a repeated command returns. It does
//! no I/O, reads no clock and draws no randomness: time arrives inside every
//! input (`at_us`), so the same inputs give the same outcomes on every machine,
//! which is what makes replay, audit and cluster mode possible.
//!
//! The entry point is [`Sale::apply`]: `(state, input) -> (outcome, events)`,
//! plus [`Sale::next_deadline_us`] telling the runtime when to send a tick.
//! Rejections (sold out, limit reached, hold expired...) are ordinary
//! [`Outcome::Rejected`] values, never `Err`.
//!
//! The serde derives exist for snapshots, which are disposable caches tagged
//! with [`SNAPSHOT_FORMAT`]; the durable log format is the engine's own
//! versioned record type, not these structs.

mod checkin;
mod holds;
mod idempotency;
mod kinds;
mod ledger;
mod money;
mod order;
mod queue;
mod reference;
mod sale;
mod schedule;
mod terms;
pub mod text;
mod ticket;
mod venue;

pub use checkin::{
    Admission, CheckinBook, CheckinInput, CheckinOutcome, CheckinRefusal, Conflict, GateId, OFFLINE_SCANS_MAX,
    OfflineRefusal, OfflineScan, REVOCATION_LIST_DOMAIN, REVOCATION_LIST_VERSION, Revocation, RevocationList,
    RevocationListError, SYNC_SCANS_MAX, ScanVerdict, TICKET_GENERATION_MAX, TICKETS_MAX, TicketEvent, TicketRecord,
};
pub use holds::{HoldId, HoldLedger, HoldStatus, Holding};
pub use idempotency::{
    IDEMPOTENCY_KEY_LEN_MAX, IDEMPOTENCY_KEYS_PER_PERSON_MAX, IDEMPOTENCY_TTL_US, IdempotencyKey, InvalidKey,
};
pub use kinds::drop::{Click, DropAction, DropBook, DropConfig, DropOutcome, DropView};
pub use kinds::seated::{
    HeldSeat, SeatArea, SeatBook, SeatHold, SeatedAction, SeatedConfig, SeatedOutcome, SeatedTerms, SeatedView,
    TAKEN_LISTED_MAX,
};
pub use kinds::stock::{Hold, StockAction, StockBook, StockConfig, StockOutcome, StockView};
pub use kinds::{KindConfig, TermsEdit};
pub use ledger::{
    Account, AccountId, InvalidTransferId, LEDGER_ACCOUNTS_MAX, LEDGER_SNAPSHOT_FORMAT, Ledger, LedgerApplied,
    LedgerEvent, LedgerInput, LedgerLimits, LedgerOutcome, LedgerRejection, Movement, PENDING_TIMEOUT_MAX_US,
    PENDING_TRANSFERS_MAX, PendingEnd, PendingTransfer, TRANSFER_ID_LEN_MAX, TRANSFER_ID_TTL_US,
    TRANSFERS_REMEMBERED_MAX, Transfer, TransferBody, TransferCode, TransferId, TransferRefs,
};
pub use money::{Money, PRICE_MAX, PriceTooHigh};
pub use order::{
    LINE_UNITS_MAX, LineItems, LineRefund, NewOrder, ORDER_EDGES, ORDER_LINES_MAX, ORDER_SEATS_MAX, Order, OrderAction,
    OrderApplied, OrderInput, OrderLine, OrderMove, OrderOutcome, OrderProblem, OrderRejection, OrderStatus,
    RefundPart,
};
pub use queue::{
    AdmissionPolicy, POW_BITS_MAX, POW_DOMAIN, PassState, QueueConfig, QueueEntry, QueueView, WaitingRoom, commitment,
    leading_zero_bits, pow_hash, pow_ok, prequeue_order, solve_pow,
};
pub use reference::OrderRef;
pub use sale::{
    Action, Applied, Command, EditField, Event, HoldChange, HoldFact, Input, Outcome, Rejection, SNAPSHOT_FORMAT, Sale,
    SaleConfig, SaleEdit, SaleText, SaleView, TicketAction,
};
pub use schedule::{SaleStatus, Schedule};
pub use terms::{ADMISSIONS_MAX, PER_PERSON_MAX, PLACES_PER_ADDRESS_MAX, STOCK_MAX, TermsProblem, WINNERS_MAX};
pub use ticket::{
    SignedTicket, TICKET_DOMAIN, TICKET_LEN_MAX, TICKET_PAYLOAD_LEN_MAX, TICKET_QR_LEN_MAX, TICKET_SIGNATURE_LEN,
    TICKET_VERSION, TicketError, TicketId, TicketPayload, TicketPlace,
};
pub use venue::{
    COORD_MAX, ROW_SEATS_MAX, Row, RowSpan, SEAT_LABEL_LEN_MAX, SECTION_ROWS_MAX, Seat, SeatId, SeatIndex, SeatPlace,
    Section, SectionSpec, VENUE_NAME_LEN_MAX, VENUE_SEATS_MAX, VENUE_SECTIONS_MAX, Venue, VenueError, generate,
    row_label,
};

use serde::{Deserialize, Serialize};

/// A person, as the accounts store numbers them. The core only compares ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserId(pub u64);

/// Microseconds in one second, for readable durations.
pub const US_PER_S: i64 = 1_000_000;
