//! The wallet ledger: money as a double-entry state machine, in the shape of a
//! sale (`apply(input) -> outcome + events`, time inside every input,
//! [`Ledger::next_deadline_us`] for the runtime's ticks). It owns the accounts,
//! their balances, the transfers between them and the memory of transfer ids.
//! TigerBeetle's transfers are the model: every transfer debits one account
//! and credits another, and a two-phase transfer first reserves its amount
//! (pending), then is posted (fully or in part, the rest released), voided,
//! or voided by itself when its timeout passes.
//!
//! **Accounts** ([`AccountId`]): the world (money outside the platform: a
//! gateway, a bank), the platform's clearing account, its fees, a wallet per
//! buyer and a payable per organizer. The world, the clearing account and the
//! fees always exist; a wallet or payable comes into being when first
//! credited. Each account keeps four running totals (debits and credits,
//! posted and pending), as TigerBeetle does, so a fold over the events
//! rebuilds every balance.
//!
//! **Codes** ([`TransferCode`]) say why money moved and which accounts it may
//! move between, so a top-up, an admin grant and a gateway payment are told
//! apart in the log and nothing else can create money:
//!
//! | code | debit → credit |
//! |---|---|
//! | `TopUp`, `Grant` | world → wallet |
//! | `GatewayPayment` | world → clearing |
//! | `WalletPayment` | wallet → clearing |
//! | `Settlement` | clearing → payable |
//! | `Fee` | clearing or payable → fees |
//! | `Refund` | clearing or payable → wallet |
//! | `GatewayRefund` | clearing or payable → world |
//! | `Payout` | payable → world |
//!
//! **Invariants**, recounted by [`Ledger::check_invariants`]: the posted
//! balances of all accounts sum to zero with the world's signed (money is
//! never created or lost, only brought in from or sent out to the world);
//! pending debits and credits each equal the sum of the live pending
//! transfers; no account but the world has a negative *available* balance
//! (posted credits − posted debits − pending debits); every pending transfer
//! ends exactly once (posted, voided or expired), and is in the expiry index
//! while it lives.
//!
//! **Checks, in order** (the first that fails is the answer). A transfer or
//! pending transfer: a known id (same body: the first outcome, changing
//! nothing; another body: [`LedgerRejection::IdReused`]), no room to remember
//! another id, a zero amount, the same account on both sides, a code that does
//! not allow the two accounts, a timeout out of range (pending), no room for
//! another pending transfer, no room for the credited account if it is new,
//! insufficient available funds, a total that would overflow. A post or void:
//! a known id, no room, the pending transfer (unknown, not a pending one,
//! already posted, voided or expired), for a post a zero amount or more than
//! was reserved, an overflow.
//!
//! **Bounds**: [`LedgerLimits`] (accounts, live pending transfers, remembered
//! ids), [`TRANSFER_ID_LEN_MAX`], [`PENDING_TIMEOUT_MAX_US`]. A refusal for
//! lack of room is not remembered under the transfer's id, since a retry may
//! find room; every other outcome is. Ids are forgotten
//! [`TRANSFER_ID_TTL_US`] after their transfer was last touched (a pending
//! transfer only once it has ended), so memory stays bounded and replay
//! forgets the same ids.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::{Money, OrderRef, US_PER_S, UserId};

/// Version of the snapshot encoding of [`Ledger`]; bump it when a state struct
/// changes shape (older snapshots are then ignored and the log replayed).
pub const LEDGER_SNAPSHOT_FORMAT: u32 = 1;

/// Longest transfer id, in bytes.
pub const TRANSFER_ID_LEN_MAX: usize = 64;

/// Most accounts by default: every buyer's wallet and organizer's payable.
pub const LEDGER_ACCOUNTS_MAX: usize = 1_000_000;

/// Most pending transfers alive at once by default: one per checkout in flight.
pub const PENDING_TRANSFERS_MAX: usize = 100_000;

/// Most transfer ids remembered at once by default (live pending ones included).
pub const TRANSFERS_REMEMBERED_MAX: usize = 2_000_000;

/// How long an id is remembered after its transfer was last touched: a day,
/// like a sale's idempotency keys, covers any retry loop.
pub const TRANSFER_ID_TTL_US: i64 = 24 * 3600 * US_PER_S;

/// Longest a pending transfer may reserve money: a week. Every pending
/// transfer has a timeout, so no money stays reserved forever.
pub const PENDING_TIMEOUT_MAX_US: i64 = 7 * 24 * 3600 * US_PER_S;

/// An account of the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccountId {
    /// Everything outside the platform (gateways, banks): the one account
    /// whose balance may go below zero, by as much as the platform holds.
    World,
    /// Money paid for orders and not yet settled to an organizer or refunded.
    Clearing,
    /// The platform's own takings.
    Fees,
    /// A buyer's prepaid wallet.
    Wallet(UserId),
    /// What the platform owes an organizer.
    Payable(UserId),
}

impl AccountId {
    /// The accounts that exist from the start.
    const FIXED: [AccountId; 3] = [AccountId::World, AccountId::Clearing, AccountId::Fees];

    /// Only the world may be debited beyond its credits.
    pub fn may_go_negative(self) -> bool {
        self == AccountId::World
    }
}

/// Why money moved; also which accounts it may move between (module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TransferCode {
    /// Money in through a payment gateway onto a wallet.
    TopUp,
    /// Money an admin put on a wallet by hand; shown as such, never as a top-up.
    Grant,
    /// An order paid through a gateway, straight into clearing.
    GatewayPayment,
    /// An order paid from a wallet.
    WalletPayment,
    /// Clearing to an organizer's payable.
    Settlement,
    /// The platform's cut.
    Fee,
    /// Money back onto a buyer's wallet.
    Refund,
    /// Money back to a buyer through the gateway that took it.
    GatewayRefund,
    /// An organizer's payable paid out to their bank.
    Payout,
}

impl TransferCode {
    /// Whether this code may debit `debit` and credit `credit`.
    pub fn allows(self, debit: AccountId, credit: AccountId) -> bool {
        use AccountId::{Clearing, Fees, Payable, Wallet, World};
        match self {
            TransferCode::TopUp | TransferCode::Grant => debit == World && matches!(credit, Wallet(_)),
            TransferCode::GatewayPayment => debit == World && credit == Clearing,
            TransferCode::WalletPayment => matches!(debit, Wallet(_)) && credit == Clearing,
            TransferCode::Settlement => debit == Clearing && matches!(credit, Payable(_)),
            TransferCode::Fee => matches!(debit, Clearing | Payable(_)) && credit == Fees,
            TransferCode::Refund => matches!(debit, Clearing | Payable(_)) && matches!(credit, Wallet(_)),
            TransferCode::GatewayRefund => matches!(debit, Clearing | Payable(_)) && credit == World,
            TransferCode::Payout => matches!(debit, Payable(_)) && credit == World,
        }
    }

    /// A stable name for logs, pages and CSV exports.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferCode::TopUp => "top-up",
            TransferCode::Grant => "grant",
            TransferCode::GatewayPayment => "gateway-payment",
            TransferCode::WalletPayment => "wallet-payment",
            TransferCode::Settlement => "settlement",
            TransferCode::Fee => "fee",
            TransferCode::Refund => "refund",
            TransferCode::GatewayRefund => "gateway-refund",
            TransferCode::Payout => "payout",
        }
    }
}

/// A caller-chosen transfer id (1-64 printable ASCII bytes): the ledger's
/// idempotency key, e.g. `pay:K7M-4QX2`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TransferId(String);

/// A transfer id that is empty, too long or not printable ASCII.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTransferId;

impl std::fmt::Display for InvalidTransferId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a transfer id is 1 to {TRANSFER_ID_LEN_MAX} printable ASCII characters")
    }
}

impl std::error::Error for InvalidTransferId {}

// Ordered as its string (derived `Ord` on the one field), so a map of ids can
// be searched by a `&str` prefix.
impl std::borrow::Borrow<str> for TransferId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TransferId {
    pub fn parse(raw: &str) -> Result<Self, InvalidTransferId> {
        let ok = !raw.is_empty() && raw.len() <= TRANSFER_ID_LEN_MAX && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok { Ok(TransferId(raw.to_owned())) } else { Err(InvalidTransferId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a transfer is about, as plain numbers, for readers of the log: the
/// ledger checks none of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRefs {
    pub order: Option<OrderRef>,
    /// The platform's number of the payment this transfer belongs to.
    pub payment: Option<u64>,
    /// Who caused it, when a person did (the admin of a grant).
    pub actor: Option<UserId>,
}

/// Money to move from one account to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement {
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Money,
    pub code: TransferCode,
    pub refs: TransferRefs,
}

/// What a transfer asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferBody {
    /// Move the money now.
    Single(Movement),
    /// Reserve the amount on the debit account until it is posted or voided,
    /// or until `timeout_us` (1 to [`PENDING_TIMEOUT_MAX_US`]) has passed.
    Pending { movement: Movement, timeout_us: i64 },
    /// Move `amount` (all of it when `None`) of a pending transfer; release the rest.
    Post { pending: TransferId, amount: Option<Money> },
    /// Release a pending transfer's amount.
    Void { pending: TransferId },
}

/// A transfer: its id and what it asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: TransferId,
    pub body: TransferBody,
}

/// What the ledger consumes: transfers, and ticks that let time pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerInput {
    Transfer { at_us: i64, transfer: Transfer },
    Tick { at_us: i64 },
}

impl LedgerInput {
    pub fn at_us(&self) -> i64 {
        match self {
            LedgerInput::Transfer { at_us, .. } | LedgerInput::Tick { at_us } => *at_us,
        }
    }
}

/// Why a transfer did nothing. An ordinary answer, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerRejection {
    /// The id names an earlier transfer with another body.
    IdReused,
    ZeroAmount,
    SameAccount,
    /// The code does not allow money to move between these two accounts.
    CodeNotAllowed,
    BadTimeout {
        max_us: i64,
    },
    InsufficientFunds {
        available: Money,
    },
    /// A running total would not fit.
    Overflow,
    UnknownPending,
    /// The id names a transfer that was not a pending one.
    NotPending,
    AlreadyPosted,
    AlreadyVoided,
    PendingExpired,
    /// A post of more than the pending transfer reserved.
    ExceedsPending {
        pending: Money,
    },
    TooManyAccounts {
        max: u64,
    },
    TooManyPending {
        max: u64,
    },
    TooManyTransfers {
        max: u64,
    },
}

impl LedgerRejection {
    /// A stable, kebab-case name, as the log and the API will carry it.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerRejection::IdReused => "transfer-id-reused",
            LedgerRejection::ZeroAmount => "zero-amount",
            LedgerRejection::SameAccount => "same-account",
            LedgerRejection::CodeNotAllowed => "code-not-allowed",
            LedgerRejection::BadTimeout { .. } => "bad-timeout",
            LedgerRejection::InsufficientFunds { .. } => "insufficient-funds",
            LedgerRejection::Overflow => "overflow",
            LedgerRejection::UnknownPending => "unknown-pending",
            LedgerRejection::NotPending => "not-pending",
            LedgerRejection::AlreadyPosted => "already-posted",
            LedgerRejection::AlreadyVoided => "already-voided",
            LedgerRejection::PendingExpired => "pending-expired",
            LedgerRejection::ExceedsPending { .. } => "exceeds-pending",
            LedgerRejection::TooManyAccounts { .. } => "too-many-accounts",
            LedgerRejection::TooManyPending { .. } => "too-many-pending",
            LedgerRejection::TooManyTransfers { .. } => "too-many-transfers",
        }
    }

    /// Refusals for lack of room: not remembered, so a retry may get through.
    pub fn is_lack_of_room(&self) -> bool {
        matches!(
            self,
            LedgerRejection::TooManyAccounts { .. }
                | LedgerRejection::TooManyPending { .. }
                | LedgerRejection::TooManyTransfers { .. }
        )
    }
}

/// A transfer's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerOutcome {
    /// A single-phase transfer moved its money.
    Transferred,
    /// A pending transfer reserved its amount until `expires_at_us`.
    Reserved {
        expires_at_us: i64,
    },
    /// A pending transfer was posted: `amount` moved, `released` went back.
    Posted {
        amount: Money,
        released: Money,
    },
    /// A pending transfer was voided: `released` went back.
    Voided {
        released: Money,
    },
    /// A tick.
    Ticked,
    Rejected(LedgerRejection),
}

/// How a pending transfer ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingEnd {
    Posted { by: TransferId },
    Voided { by: TransferId },
    Expired,
}

/// A fact for projections (balances, statements, revenue). A fold over the
/// events in log order rebuilds every account's four totals: `Reserved`
/// adds to pending, `Ended` takes `posted + released` off pending, `Moved`
/// adds to posted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LedgerEvent {
    /// Money moved: a single-phase transfer (`pending: None`), or the posted
    /// part of the pending transfer `pending` (by the post `id`).
    Moved { id: TransferId, pending: Option<TransferId>, movement: Movement },
    /// A pending transfer reserved its amount.
    Reserved { id: TransferId, movement: Movement, expires_at_us: i64 },
    /// A pending transfer ended: `posted` moved (see `Moved`), `released` went back.
    Ended { pending: TransferId, end: PendingEnd, posted: Money, released: Money },
}

/// The result of applying one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerApplied {
    pub outcome: LedgerOutcome,
    pub events: Vec<LedgerEvent>,
    /// False only for a tick that changed nothing; such ticks need not be logged.
    pub changed: bool,
}

/// An account's running totals. They only grow; balances are differences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub debits_posted: Money,
    pub credits_posted: Money,
    pub debits_pending: Money,
    pub credits_pending: Money,
}

impl Account {
    /// Posted credits − posted debits; negative only for the world.
    pub fn balance(&self) -> i128 {
        i128::from(self.credits_posted.minor()) - i128::from(self.debits_posted.minor())
    }

    /// What may still be debited: the balance less what pending transfers reserve.
    pub fn available(&self) -> i128 {
        self.balance() - i128::from(self.debits_pending.minor())
    }
}

/// A pending transfer while it lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransfer {
    pub movement: Movement,
    pub reserved_at_us: i64,
    pub expires_at_us: i64,
}

/// The ledger's bounds. [`LedgerLimits::DEFAULT`] is what the platform runs
/// with; tests choose small ones to reach them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLimits {
    pub accounts_max: usize,
    pub pending_max: usize,
    pub remembered_max: usize,
}

impl LedgerLimits {
    pub const DEFAULT: LedgerLimits = LedgerLimits {
        accounts_max: LEDGER_ACCOUNTS_MAX,
        pending_max: PENDING_TRANSFERS_MAX,
        remembered_max: TRANSFERS_REMEMBERED_MAX,
    };
}

impl Default for LedgerLimits {
    fn default() -> Self {
        LedgerLimits::DEFAULT
    }
}

/// A remembered transfer: its body, its first outcome, how a pending one
/// ended, and when it was last touched (for forgetting).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    body: TransferBody,
    outcome: LedgerOutcome,
    end: Option<PendingEnd>,
    touched_at_us: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    limits: LedgerLimits,
    accounts: BTreeMap<AccountId, Account>,
    pending: BTreeMap<TransferId, PendingTransfer>,
    /// Live pending transfers by expiry, for ticks and `next_deadline_us`.
    expiries: BTreeSet<(i64, TransferId)>,
    remembered: BTreeMap<TransferId, Remembered>,
    /// (touched at, id), oldest first; an entry is stale once its record was
    /// touched again later, and then skipped.
    forget_order: VecDeque<(i64, TransferId)>,
    /// Inputs must arrive in time order; a late input is treated as arriving now.
    last_at_us: i64,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new()
    }
}

impl Ledger {
    pub fn new() -> Self {
        Ledger::with_limits(LedgerLimits::DEFAULT)
    }

    pub fn with_limits(limits: LedgerLimits) -> Self {
        Ledger {
            limits,
            accounts: AccountId::FIXED.into_iter().map(|a| (a, Account::default())).collect(),
            pending: BTreeMap::new(),
            expiries: BTreeSet::new(),
            remembered: BTreeMap::new(),
            forget_order: VecDeque::new(),
            last_at_us: i64::MIN,
        }
    }

    pub fn limits(&self) -> LedgerLimits {
        self.limits
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    /// Every account, in `AccountId` order.
    pub fn accounts(&self) -> impl Iterator<Item = (&AccountId, &Account)> {
        self.accounts.iter()
    }

    pub fn pending(&self, id: &TransferId) -> Option<&PendingTransfer> {
        self.pending.get(id)
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    pub fn remembered_len(&self) -> usize {
        self.remembered.len()
    }

    /// A remembered transfer's body and first outcome: what a saga resuming
    /// after a crash asks before it sends a transfer again.
    pub fn recall(&self, id: &TransferId) -> Option<(&TransferBody, &LedgerOutcome)> {
        self.remembered.get(id).map(|r| (&r.body, &r.outcome))
    }

    /// When a remembered transfer was last touched: when it was applied, or
    /// for a pending transfer that ended, when it ended. What a statement
    /// dates its lines by.
    pub fn touched_at_us(&self, id: &TransferId) -> Option<i64> {
        self.remembered.get(id).map(|r| r.touched_at_us)
    }

    /// How a pending transfer ended, while its id is remembered.
    pub fn pending_end(&self, id: &TransferId) -> Option<&PendingEnd> {
        self.remembered.get(id).and_then(|r| r.end.as_ref())
    }

    /// The time of the newest input applied; the runtime stamps no earlier time.
    pub fn last_at_us(&self) -> i64 {
        self.last_at_us
    }

    /// When the runtime should send a tick: the next pending transfer's expiry.
    pub fn next_deadline_us(&self) -> Option<i64> {
        self.expiries.first().map(|(at, _)| *at)
    }

    /// Applies one input. Deterministic: depends only on the state and the input.
    pub fn apply(&mut self, input: &LedgerInput) -> LedgerApplied {
        let now = input.at_us().max(self.last_at_us);
        self.last_at_us = now;
        let mut events = Vec::new();
        let expired = self.expire(now, &mut events);
        self.forget(now);
        let LedgerInput::Transfer { transfer, .. } = input else {
            return LedgerApplied { outcome: LedgerOutcome::Ticked, events, changed: expired };
        };
        let outcome = match self.remembered.get(&transfer.id) {
            Some(r) if r.body == transfer.body => r.outcome.clone(),
            Some(_) => LedgerOutcome::Rejected(LedgerRejection::IdReused),
            None if self.remembered.len() >= self.limits.remembered_max => {
                LedgerOutcome::Rejected(LedgerRejection::TooManyTransfers { max: self.limits.remembered_max as u64 })
            }
            None => {
                let outcome = match self.act(&transfer.id, &transfer.body, now, &mut events) {
                    Ok(o) => o,
                    Err(r) => LedgerOutcome::Rejected(r),
                };
                let room = matches!(&outcome, LedgerOutcome::Rejected(r) if r.is_lack_of_room());
                if !room {
                    self.remember(transfer.id.clone(), transfer.body.clone(), outcome.clone(), now);
                }
                outcome
            }
        };
        LedgerApplied { outcome, events, changed: true }
    }

    fn act(
        &mut self,
        id: &TransferId,
        body: &TransferBody,
        now: i64,
        events: &mut Vec<LedgerEvent>,
    ) -> Result<LedgerOutcome, LedgerRejection> {
        match body {
            TransferBody::Single(m) => {
                self.check_movement(m)?;
                let (debit, credit) = self.totals_after(m, false)?;
                self.accounts.insert(m.debit, debit);
                self.accounts.insert(m.credit, credit);
                events.push(LedgerEvent::Moved { id: id.clone(), pending: None, movement: *m });
                Ok(LedgerOutcome::Transferred)
            }
            TransferBody::Pending { movement: m, timeout_us } => {
                self.check_movement(m)?;
                if !(1..=PENDING_TIMEOUT_MAX_US).contains(timeout_us) {
                    return Err(LedgerRejection::BadTimeout { max_us: PENDING_TIMEOUT_MAX_US });
                }
                if self.pending.len() >= self.limits.pending_max {
                    return Err(LedgerRejection::TooManyPending { max: self.limits.pending_max as u64 });
                }
                let (debit, credit) = self.totals_after(m, true)?;
                let expires_at_us = now.checked_add(*timeout_us).ok_or(LedgerRejection::Overflow)?;
                self.accounts.insert(m.debit, debit);
                self.accounts.insert(m.credit, credit);
                self.pending.insert(id.clone(), PendingTransfer { movement: *m, reserved_at_us: now, expires_at_us });
                self.expiries.insert((expires_at_us, id.clone()));
                events.push(LedgerEvent::Reserved { id: id.clone(), movement: *m, expires_at_us });
                Ok(LedgerOutcome::Reserved { expires_at_us })
            }
            TransferBody::Post { pending, amount } => {
                let p = self.live_pending(pending)?;
                let reserved = p.movement.amount;
                let posted = match amount {
                    None => reserved,
                    Some(a) if *a == Money::ZERO => return Err(LedgerRejection::ZeroAmount),
                    Some(a) if *a > reserved => return Err(LedgerRejection::ExceedsPending { pending: reserved }),
                    Some(a) => *a,
                };
                let m = p.movement;
                let mut debit = self.account_or_new(m.debit);
                let mut credit = self.account_or_new(m.credit);
                debit.debits_posted = debit.debits_posted.checked_add(posted).ok_or(LedgerRejection::Overflow)?;
                credit.credits_posted = credit.credits_posted.checked_add(posted).ok_or(LedgerRejection::Overflow)?;
                let released = reserved.checked_sub(posted).ok_or(LedgerRejection::Overflow)?;
                self.accounts.insert(m.debit, debit);
                self.accounts.insert(m.credit, credit);
                self.end_pending(pending, PendingEnd::Posted { by: id.clone() }, posted, now, events);
                let moved = Movement { amount: posted, ..m };
                events.push(LedgerEvent::Moved { id: id.clone(), pending: Some(pending.clone()), movement: moved });
                Ok(LedgerOutcome::Posted { amount: posted, released })
            }
            TransferBody::Void { pending } => {
                let released = self.live_pending(pending)?.movement.amount;
                self.end_pending(pending, PendingEnd::Voided { by: id.clone() }, Money::ZERO, now, events);
                Ok(LedgerOutcome::Voided { released })
            }
        }
    }

    /// The checks a movement passes before any total is computed.
    fn check_movement(&self, m: &Movement) -> Result<(), LedgerRejection> {
        if m.amount == Money::ZERO {
            return Err(LedgerRejection::ZeroAmount);
        }
        if m.debit == m.credit {
            return Err(LedgerRejection::SameAccount);
        }
        if !m.code.allows(m.debit, m.credit) {
            return Err(LedgerRejection::CodeNotAllowed);
        }
        Ok(())
    }

    /// The two accounts' totals once `m` is posted (or reserved, when
    /// `pending`), after the room, funds and overflow checks.
    fn totals_after(&self, m: &Movement, pending: bool) -> Result<(Account, Account), LedgerRejection> {
        if !self.accounts.contains_key(&m.credit) && self.accounts.len() >= self.limits.accounts_max {
            return Err(LedgerRejection::TooManyAccounts { max: self.limits.accounts_max as u64 });
        }
        let mut debit = self.account_or_new(m.debit);
        let mut credit = self.account_or_new(m.credit);
        if !m.debit.may_go_negative() {
            let available = debit.available();
            if available < i128::from(m.amount.minor()) {
                // Never negative for these accounts (an invariant); 0 if it were.
                let available = Money::from_minor(u64::try_from(available).unwrap_or(0));
                return Err(LedgerRejection::InsufficientFunds { available });
            }
        }
        let add = |total: Money| total.checked_add(m.amount).ok_or(LedgerRejection::Overflow);
        if pending {
            debit.debits_pending = add(debit.debits_pending)?;
            credit.credits_pending = add(credit.credits_pending)?;
        } else {
            debit.debits_posted = add(debit.debits_posted)?;
            credit.credits_posted = add(credit.credits_posted)?;
        }
        Ok((debit, credit))
    }

    fn account_or_new(&self, id: AccountId) -> Account {
        self.accounts.get(&id).copied().unwrap_or_default()
    }

    /// The live pending transfer `id`, or why a post or void of it is refused.
    fn live_pending(&self, id: &TransferId) -> Result<PendingTransfer, LedgerRejection> {
        if let Some(p) = self.pending.get(id) {
            return Ok(*p);
        }
        let Some(r) = self.remembered.get(id) else { return Err(LedgerRejection::UnknownPending) };
        match (&r.body, &r.end) {
            (_, Some(PendingEnd::Posted { .. })) => Err(LedgerRejection::AlreadyPosted),
            (_, Some(PendingEnd::Voided { .. })) => Err(LedgerRejection::AlreadyVoided),
            (_, Some(PendingEnd::Expired)) => Err(LedgerRejection::PendingExpired),
            // A refused pending transfer never reserved anything.
            (TransferBody::Pending { .. }, None) => Err(LedgerRejection::UnknownPending),
            _ => Err(LedgerRejection::NotPending),
        }
    }

    /// Takes a live pending transfer's amount off both accounts' pending
    /// totals, records how it ended and announces it. The posted part, if
    /// any, has been added to the posted totals by the caller.
    fn end_pending(
        &mut self,
        id: &TransferId,
        end: PendingEnd,
        posted: Money,
        now: i64,
        events: &mut Vec<LedgerEvent>,
    ) {
        let Some(p) = self.pending.remove(id) else { return };
        self.expiries.remove(&(p.expires_at_us, id.clone()));
        let m = p.movement;
        // Both totals include this reservation (an invariant), so neither subtraction can fail.
        if let Some(a) = self.accounts.get_mut(&m.debit) {
            debug_assert!(a.debits_pending >= m.amount, "{:?} reserves less than {id:?}", m.debit);
            a.debits_pending = a.debits_pending.checked_sub(m.amount).unwrap_or(Money::ZERO);
        }
        if let Some(a) = self.accounts.get_mut(&m.credit) {
            debug_assert!(a.credits_pending >= m.amount, "{:?} awaits less than {id:?}", m.credit);
            a.credits_pending = a.credits_pending.checked_sub(m.amount).unwrap_or(Money::ZERO);
        }
        if let Some(r) = self.remembered.get_mut(id) {
            r.end = Some(end.clone());
            r.touched_at_us = now;
            self.forget_order.push_back((now, id.clone()));
        }
        let released = m.amount.checked_sub(posted).unwrap_or(Money::ZERO);
        events.push(LedgerEvent::Ended { pending: id.clone(), end, posted, released });
    }

    /// Voids every pending transfer whose time is up (`expires_at_us <= now`).
    fn expire(&mut self, now: i64, events: &mut Vec<LedgerEvent>) -> bool {
        let mut any = false;
        while let Some((at, id)) = self.expiries.first().cloned() {
            if at > now {
                break;
            }
            self.end_pending(&id, PendingEnd::Expired, Money::ZERO, now, events);
            any = true;
        }
        any
    }

    fn remember(&mut self, id: TransferId, body: TransferBody, outcome: LedgerOutcome, now: i64) {
        self.forget_order.push_back((now, id.clone()));
        self.remembered.insert(id, Remembered { body, outcome, end: None, touched_at_us: now });
    }

    /// Forgets ids untouched for [`TRANSFER_ID_TTL_US`], except live pending ones.
    fn forget(&mut self, now: i64) {
        let horizon = now.saturating_sub(TRANSFER_ID_TTL_US);
        while let Some((at, id)) = self.forget_order.front().cloned() {
            if at > horizon {
                break;
            }
            self.forget_order.pop_front();
            let current = self.remembered.get(&id).is_some_and(|r| r.touched_at_us == at);
            if current && !self.pending.contains_key(&id) {
                self.remembered.remove(&id);
            }
        }
    }

    /// Recounts the books; Err names the first broken invariant.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut net: i128 = 0;
        let (mut debits_pending, mut credits_pending) = (0u128, 0u128);
        for (id, a) in &self.accounts {
            net += a.balance();
            debits_pending += u128::from(a.debits_pending.minor());
            credits_pending += u128::from(a.credits_pending.minor());
            if !id.may_go_negative() && a.available() < 0 {
                return Err(format!("{id:?} has {} available", a.available()));
            }
        }
        if net != 0 {
            return Err(format!("the posted balances sum to {net}, not 0"));
        }
        if self.accounts.get(&AccountId::World).is_some_and(|w| w.balance() > 0) {
            return Err("the world holds money the platform never had".into());
        }
        let mut by_debit: BTreeMap<AccountId, u128> = BTreeMap::new();
        let mut by_credit: BTreeMap<AccountId, u128> = BTreeMap::new();
        let mut reserved = 0u128;
        for (id, p) in &self.pending {
            let amount = u128::from(p.movement.amount.minor());
            reserved += amount;
            *by_debit.entry(p.movement.debit).or_default() += amount;
            *by_credit.entry(p.movement.credit).or_default() += amount;
            if !self.expiries.contains(&(p.expires_at_us, id.clone())) {
                return Err(format!("pending {id:?} is not in the expiry index"));
            }
            let remembered_live = self.remembered.get(id).is_some_and(|r| r.end.is_none());
            if !remembered_live {
                return Err(format!("pending {id:?} is not remembered as live"));
            }
        }
        if reserved != debits_pending || reserved != credits_pending {
            return Err(format!("pending {reserved}, debits {debits_pending}, credits {credits_pending}"));
        }
        for (id, a) in &self.accounts {
            let d = by_debit.get(id).copied().unwrap_or(0);
            let c = by_credit.get(id).copied().unwrap_or(0);
            if d != u128::from(a.debits_pending.minor()) || c != u128::from(a.credits_pending.minor()) {
                return Err(format!("{id:?}'s pending totals are not its pending transfers'"));
            }
        }
        if self.expiries.len() != self.pending.len() {
            return Err("the expiry index holds ended transfers".into());
        }
        if self.accounts.len() > self.limits.accounts_max.max(AccountId::FIXED.len())
            || self.pending.len() > self.limits.pending_max
            || self.remembered.len() > self.limits.remembered_max
        {
            return Err("a bound is exceeded".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TransferId {
        TransferId::parse(s).unwrap()
    }

    #[test]
    fn ids_are_bounded_printable_ascii() {
        assert!(TransferId::parse("pay:K7M-4QX2").is_ok());
        assert_eq!(TransferId::parse(""), Err(InvalidTransferId));
        assert_eq!(TransferId::parse("a b"), Err(InvalidTransferId));
        assert!(TransferId::parse(&"x".repeat(TRANSFER_ID_LEN_MAX)).is_ok());
        assert_eq!(TransferId::parse(&"x".repeat(TRANSFER_ID_LEN_MAX + 1)), Err(InvalidTransferId));
    }

    #[test]
    fn only_the_world_brings_money_in() {
        let w = AccountId::Wallet(UserId(1));
        assert!(TransferCode::TopUp.allows(AccountId::World, w));
        assert!(!TransferCode::TopUp.allows(AccountId::Clearing, w));
        assert!(!TransferCode::WalletPayment.allows(AccountId::World, AccountId::Clearing));
        assert!(!TransferCode::Payout.allows(w, AccountId::World));
    }

    #[test]
    fn ids_are_forgotten_after_the_ttl_but_not_while_pending() {
        let mut ledger = Ledger::new();
        let w = AccountId::Wallet(UserId(1));
        let top_up = Movement {
            debit: AccountId::World,
            credit: w,
            amount: Money::from_minor(10),
            code: TransferCode::TopUp,
            refs: TransferRefs::default(),
        };
        let t = |at_us, id_: &str, body: TransferBody| LedgerInput::Transfer {
            at_us,
            transfer: Transfer { id: id(id_), body },
        };
        ledger.apply(&t(0, "a", TransferBody::Single(top_up)));
        let hold = TransferBody::Pending {
            movement: Movement { debit: w, credit: AccountId::Clearing, code: TransferCode::WalletPayment, ..top_up },
            timeout_us: PENDING_TIMEOUT_MAX_US,
        };
        ledger.apply(&t(0, "p", hold));
        ledger.apply(&LedgerInput::Tick { at_us: TRANSFER_ID_TTL_US });
        assert_eq!(ledger.remembered_len(), 1, "the single is forgotten, the live pending is not");
        ledger.apply(&LedgerInput::Tick { at_us: PENDING_TIMEOUT_MAX_US });
        assert_eq!(ledger.pending_end(&id("p")), Some(&PendingEnd::Expired));
        ledger.apply(&LedgerInput::Tick { at_us: PENDING_TIMEOUT_MAX_US + TRANSFER_ID_TTL_US });
        assert_eq!(ledger.remembered_len(), 0);
        assert_eq!(ledger.check_invariants(), Ok(()));
    }
}
