//! Paying for a hold with the buyer's wallet, and giving the money back when
//! a paid order (or one seat of it) is refunded: the sagas between the
//! platform ledger (log stream 0) and a sale, and their resumption after a
//! crash. Routes call in here; the ledger and the sale never call each other.
//!
//! **Paying** (`pay:{sale}:{hold}`, a later attempt `…:{n}`): (a) a pending transfer reserves the
//! hold's total on the buyer's wallet for clearing, for the hold's remaining
//! lifetime and [`PAY_GRACE_US`]; (b) the sale confirms the hold; (c) the
//! pending transfer is posted (`pay:{sale}:{hold}:post`). A refused confirm
//! voids it (`…:void`). The ids are fixed by the hold, so a retry or a second
//! request for the same hold finds the same transfers: the ledger answers a
//! repeated transfer with its first outcome and never reserves twice. Only
//! when an attempt was refused (a short wallet) or voided does the next take
//! the next number, at most [`PAY_ATTEMPTS_MAX`].
//!
//! **Refunding** (`refund:{sale}:{order}[:{seat}]`): the same shape the
//! other way, clearing → wallet: reserve the refunded amount on clearing,
//! refund at the sale, post (or void when the sale refuses). Money goes back
//! only for money taken: an order whose payment was never posted (a free
//! order) is refunded at the sale alone.
//!
//! **Never money without an order, never an order without money.** Money is
//! posted only once the sale has confirmed the hold, and the sale confirms a
//! priced hold only after its money is reserved (the plain confirm route
//! answers 402, [`require_free`]). The saga runs in its own task, so a client
//! that hangs up does not stop it half-way. After a crash, [`resume`] (started
//! by `serve`; wallet reads and payments wait for it, [`settled`]) settles
//! every pending `pay:` and
//! `refund:` transfer by what the sale says: confirmed (refunded) → post,
//! otherwise void; and a payment whose reservation timed out while the server
//! was down, on a confirmed order, refunds that order at the sale, so the
//! order does not stay paid without money.

use axum::http::StatusCode;
use stampede_core::{
    AccountId, Action, HoldId, HoldStatus, KindConfig, LedgerOutcome, LedgerRejection, Money, Movement, OrderRef,
    Outcome, PendingEnd, SeatId, Transfer, TransferBody, TransferCode, TransferId, TransferRefs, US_PER_S, UserId,
};
use stampede_engine::SaleHandle;
use stampede_engine::ledger::TransferState;

use super::{ReceiptHeader, command};
use crate::AppState;
use crate::extract::{Auth, IdemKey};
use crate::problem::ApiError;

/// Prefix of every payment's pending transfer id.
pub const PAY_PREFIX: &str = "pay:";
/// Prefix of every refund's pending transfer id.
pub const REFUND_PREFIX: &str = "refund:";
/// How much longer than its hold a payment's reservation lives: a confirm the
/// sale accepted at the hold's last instant must still find it to post.
pub const PAY_GRACE_US: i64 = 60 * US_PER_S;
/// How long a refund's reservation on clearing lives: the refund at the sale
/// is one command, so this covers a slow log with room to spare.
pub const REFUND_TIMEOUT_US: i64 = 600 * US_PER_S;
/// Most payment attempts for one hold (a short wallet, a voided try): each
/// is remembered by the ledger for a day, so retries stay bounded.
pub const PAY_ATTEMPTS_MAX: u32 = 8;
/// Most pending transfers looked at when resuming: the ledger's own bound.
pub const RESUME_SCAN_MAX: usize = stampede_core::PENDING_TRANSFERS_MAX;
/// The one currency the wallet holds.
pub const WALLET_CURRENCY: &str = "KRW";

/// A buyer's wallet account.
pub fn wallet_of(user: UserId) -> AccountId {
    AccountId::Wallet(user)
}

pub(super) fn transfer_id(raw: String) -> Result<TransferId, ApiError> {
    TransferId::parse(&raw).map_err(|e| ApiError::internal(&e))
}

/// The pending transfer of attempt `n` (from 1) of the payment for `hold`:
/// `pay:{sale}:{hold}` for the first, `pay:{sale}:{hold}:{n}` after.
pub fn pay_attempt_id(sale: u64, hold: u64, n: u32) -> Result<TransferId, ApiError> {
    if n <= 1 {
        transfer_id(format!("{PAY_PREFIX}{sale}:{hold}"))
    } else {
        transfer_id(format!("{PAY_PREFIX}{sale}:{hold}:{n}"))
    }
}

/// The pending transfer of the refund of `order`, or of one seat of it.
pub fn refund_id(sale: u64, order: u64, seat: Option<u32>) -> Result<TransferId, ApiError> {
    match seat {
        Some(s) => transfer_id(format!("{REFUND_PREFIX}{sale}:{order}:{s}")),
        None => transfer_id(format!("{REFUND_PREFIX}{sale}:{order}")),
    }
}

pub(super) fn suffixed(id: &TransferId, suffix: &str) -> Result<TransferId, ApiError> {
    transfer_id(format!("{}:{suffix}", id.as_str()))
}

/// What the read models know of a hold: enough to price it and to tell
/// whether the sale confirmed or refunded it.
#[derive(Clone, Debug)]
pub struct HoldFacts {
    pub booker: UserId,
    pub status: HoldStatus,
    /// What it costs now (a seat hold: its seats still in it).
    pub amount: Money,
    pub expires_at_us: i64,
    /// Seat holds: the seats in it and their prices.
    pub seats: Vec<(u32, u64)>,
    /// Seat holds: the seats given back from it.
    pub released: Vec<u32>,
}

/// The hold as the read models show it once they have caught up with every
/// answered command; `None`: no such hold.
pub async fn hold_facts(state: &AppState, sale: u64, hold: u64) -> Result<Option<HoldFacts>, ApiError> {
    let row = crate::projections::read(state, move |v| v.hold(sale, hold)).await?;
    Ok(row.map(|(h, seats)| HoldFacts {
        booker: UserId(h.booker),
        status: h.status,
        amount: Money::from_minor(h.amount),
        expires_at_us: h.expires_at_us,
        seats: seats.iter().filter(|s| !s.released).map(|s| (s.seat, s.price)).collect(),
        released: seats.iter().filter(|s| s.released).map(|s| s.seat).collect(),
    }))
}

/// Whether every hold of the sale costs nothing, from its terms alone (no
/// read): a stock sale at price 0, a seated sale whose sections are all free.
/// Prices are fixed once a sale opens, and holds exist only after.
pub fn sale_is_free(sale: &SaleHandle) -> bool {
    match &sale.config.kind {
        KindConfig::Stock(c) => c.price == 0,
        KindConfig::Seated(c) => c.venue.sections.iter().all(|s| s.price == 0),
        KindConfig::Drop(_) => true,
    }
}

/// The problem for a priced hold confirmed without paying.
pub fn payment_required(sale: u64, hold: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "payment-required",
        "Payment required",
        format!("this hold has a price: pay for it with POST /api/sales/{sale}/holds/{hold}/pay"),
    )
}

/// The problem for a wallet that cannot cover a hold.
pub fn insufficient_funds(needed: Money, available: Money) -> ApiError {
    ApiError::new(
        StatusCode::PAYMENT_REQUIRED,
        "insufficient-funds",
        "Insufficient funds",
        format!("the hold costs {} but the wallet has {} available", needed.minor(), available.minor()),
    )
}

fn hold_changed() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "hold-changed",
        "Hold changed while paying",
        "the hold cost more when it was confirmed than was reserved; it was refunded, nothing was charged",
    )
}

pub(super) fn ledger_refused(r: &LedgerRejection) -> ApiError {
    if r.is_lack_of_room() {
        ApiError::overloaded("the ledger is full for now; retry shortly")
    } else {
        ApiError::internal(&format!("the ledger refused a payment saga transfer: {}", r.code()))
    }
}

/// For the plain confirm routes: `Ok` when the hold costs nothing, else the
/// 402 that points to the pay route. A sale whose terms make every hold free
/// is not read at all.
pub async fn require_free(state: &AppState, sale: &SaleHandle, hold: HoldId) -> Result<(), ApiError> {
    if sale_is_free(sale) {
        return Ok(());
    }
    match hold_facts(state, sale.id, hold.0).await? {
        Some(f) if f.amount > Money::ZERO => Err(payment_required(sale.id, hold.0)),
        // Free, or unknown: the sale gives the answer it gives today.
        _ => Ok(()),
    }
}

/// A payment as the saga leaves it.
pub struct Paid {
    pub sale: u64,
    pub order: u64,
    /// What was taken from the wallet (0 for a free hold).
    pub amount: Money,
    /// The confirm's receipt when this call confirmed the hold.
    pub receipt: ReceiptHeader,
}

/// Pays for `hold` from `auth`'s wallet and confirms it (module doc). Runs in
/// its own task: the steps go on even if the client hangs up.
pub async fn pay_with_wallet(
    state: &AppState,
    auth: Auth,
    key: IdemKey,
    sale: SaleHandle,
    hold: HoldId,
) -> Result<Paid, ApiError> {
    let state = state.clone();
    tokio::spawn(async move { pay_saga(&state, auth, key, &sale, hold).await })
        .await
        .map_err(|e| ApiError::internal(&e))?
}

async fn pay_saga(
    state: &AppState,
    auth: Auth,
    key: IdemKey,
    sale: &SaleHandle,
    hold: HoldId,
) -> Result<Paid, ApiError> {
    let me = auth.core_id();
    let facts = hold_facts(state, sale.id, hold.0).await?.ok_or(stampede_core::Rejection::UnknownHold)?;
    if facts.booker != me {
        return Err(stampede_core::Rejection::NotYourHold.into());
    }
    let paid = |amount, receipt| Paid { sale: sale.id, order: hold.0, amount, receipt };
    let (id, reserved) = loop {
        let id = match current_attempt(state, sale.id, hold.0).await? {
            Attempt::Posted(by) => return Ok(paid(posted_amount(state, &by).await?, ReceiptHeader(None))),
            Attempt::Live(id, s) => break (id, reserved_amount(&s)?),
            Attempt::Fresh(id) => id,
            Attempt::Exhausted => return Err(attempts_exhausted()),
        };
        if facts.amount == Money::ZERO {
            // Free: nothing to take; confirm as the plain route does.
            let (_, receipt) = command(state, sale, &auth, key, Action::Confirm { hold }).await?;
            return Ok(paid(Money::ZERO, receipt));
        }
        let now_us = state.engine.now_us();
        match facts.status {
            HoldStatus::Held if facts.expires_at_us > now_us => {}
            HoldStatus::Held | HoldStatus::Expired => return Err(stampede_core::Rejection::HoldExpired.into()),
            _ => return Err(stampede_core::Rejection::HoldNotActive.into()),
        }
        let movement = Movement {
            debit: wallet_of(me),
            credit: AccountId::Clearing,
            amount: facts.amount,
            code: TransferCode::WalletPayment,
            refs: TransferRefs { order: Some(OrderRef::new(sale.id, hold.0)), payment: None, actor: Some(me) },
        };
        let timeout_us = facts.expires_at_us - now_us + PAY_GRACE_US;
        let body = TransferBody::Pending { movement, timeout_us };
        match state.engine.ledger_command(Transfer { id: id.clone(), body }).await?.outcome {
            LedgerOutcome::Reserved { .. } => break (id, facts.amount),
            LedgerOutcome::Rejected(LedgerRejection::InsufficientFunds { available }) => {
                return Err(insufficient_funds(facts.amount, available));
            }
            // Another request for this hold took this attempt first (its
            // timeout differed): look again, and join it.
            LedgerOutcome::Rejected(LedgerRejection::IdReused) => continue,
            LedgerOutcome::Rejected(r) => return Err(ledger_refused(&r)),
            other => return Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
        }
    };
    match command(state, sale, &auth, key, Action::Confirm { hold }).await {
        Ok((outcome, receipt)) => {
            let total = confirmed_amount(&outcome)?;
            if total > reserved {
                // A seat swapped for a dearer one between the read and the
                // confirm: undo the order rather than sell it below its price.
                let undo = IdemKey(fresh_key()?);
                command(state, sale, &auth, undo, Action::Refund { order: hold }).await?;
                void(state, &id).await?;
                return Err(hold_changed());
            }
            post(state, sale, &id, reserved, total, me).await?;
            Ok(paid(total, receipt))
        }
        Err(refused) => {
            // Confirmed by an earlier attempt whose post is still to come?
            match hold_facts(state, sale.id, hold.0).await? {
                Some(f) if f.status == HoldStatus::Confirmed && f.booker == me => {
                    post(state, sale, &id, reserved, f.amount, me).await?;
                    Ok(paid(f.amount, ReceiptHeader(None)))
                }
                _ => {
                    void(state, &id).await?;
                    Err(refused)
                }
            }
        }
    }
}

/// Where the payments of one hold stand.
enum Attempt {
    /// One was posted (by this post transfer): the hold is paid.
    Posted(TransferId),
    /// One is reserved and not yet ended: join it.
    Live(TransferId, TransferState),
    /// None is live or posted: the next attempt takes this id.
    Fresh(TransferId),
    /// [`PAY_ATTEMPTS_MAX`] attempts were refused or voided.
    Exhausted,
}

/// The attempts of a hold's payment, in order: `pay:{sale}:{hold}`, then
/// `pay:{sale}:{hold}:2`, …. An attempt refused (a short wallet) or voided
/// (a refused confirm, a crash before it) keeps its id in the ledger, so a
/// later one takes the next; a live or posted one is the hold's payment.
async fn current_attempt(state: &AppState, sale: u64, hold: u64) -> Result<Attempt, ApiError> {
    settled(state).await?;
    for n in 1..=PAY_ATTEMPTS_MAX {
        let id = pay_attempt_id(sale, hold, n)?;
        match state.engine.ledger_transfer(&id).await? {
            None => return Ok(Attempt::Fresh(id)),
            Some(s) if s.is_live_pending() => return Ok(Attempt::Live(id, s)),
            Some(TransferState { end: Some(PendingEnd::Posted { by }), .. }) => return Ok(Attempt::Posted(by)),
            Some(_) => {}
        }
    }
    Ok(Attempt::Exhausted)
}

fn attempts_exhausted() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "payment-attempts-exhausted",
        "Too many payment attempts",
        format!("{PAY_ATTEMPTS_MAX} payments for this hold were refused or voided; hold again to buy"),
    )
}

fn fresh_key() -> Result<stampede_core::IdempotencyKey, ApiError> {
    stampede_core::IdempotencyKey::parse(&uuid::Uuid::new_v4().simple().to_string())
        .map_err(|e| ApiError::internal(&format!("{e:?}")))
}

fn reserved_amount(s: &TransferState) -> Result<Money, ApiError> {
    match &s.body {
        TransferBody::Pending { movement, .. } => Ok(movement.amount),
        _ => Err(ApiError::internal(&"a saga id names a transfer that is not pending")),
    }
}

/// What a post moved, from the post's own remembered answer.
async fn posted_amount(state: &AppState, post: &TransferId) -> Result<Money, ApiError> {
    match state.engine.ledger_transfer(post).await?.map(|s| s.outcome) {
        Some(LedgerOutcome::Posted { amount, .. }) => Ok(amount),
        _ => Ok(Money::ZERO),
    }
}

/// The total of the hold the sale just confirmed.
fn confirmed_amount(outcome: &Outcome) -> Result<Money, ApiError> {
    let amount = match outcome {
        Outcome::Stock(stampede_core::StockOutcome::Confirmed(h)) => h.amount(),
        Outcome::Seated(o) => o.hold().amount(),
        other => return Err(super::unexpected(other)),
    };
    amount.ok_or_else(|| ApiError::internal(&"a hold's total does not fit"))
}

/// Posts `total` (at most `reserved`) of the payment `id`. A post that finds
/// the reservation timed out (the server was down past its grace) refunds the
/// order at the sale instead: no paid order stays without its money.
async fn post(
    state: &AppState,
    sale: &SaleHandle,
    id: &TransferId,
    reserved: Money,
    total: Money,
    buyer: UserId,
) -> Result<(), ApiError> {
    let amount = if total >= reserved { None } else { Some(total) };
    if amount == Some(Money::ZERO) {
        // Nothing left to take (every seat given back): release it all.
        return void(state, id).await;
    }
    let body = TransferBody::Post { pending: id.clone(), amount };
    let outcome = state.engine.ledger_command(Transfer { id: suffixed(id, "post")?, body }).await?.outcome;
    match outcome {
        LedgerOutcome::Posted { .. } | LedgerOutcome::Rejected(LedgerRejection::AlreadyPosted) => Ok(()),
        LedgerOutcome::Rejected(LedgerRejection::IdReused) => match state.engine.ledger_transfer(id).await? {
            Some(TransferState { end: Some(PendingEnd::Posted { .. }), .. }) => Ok(()),
            _ => Err(ApiError::internal(&"a payment's post id was reused")),
        },
        LedgerOutcome::Rejected(LedgerRejection::PendingExpired | LedgerRejection::AlreadyVoided) => {
            let hold = hold_of(id)?;
            let acked = state.engine.command(sale.id, buyer, fresh_key()?, Action::Refund { order: hold }).await?;
            tracing::warn!(transfer = id.as_str(), outcome = ?acked, "payment lapsed before its post; order refunded");
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "payment-lapsed",
                "Payment lapsed",
                "the payment's reservation ran out before it was taken; the order was refunded",
            ))
        }
        LedgerOutcome::Rejected(r) => Err(ledger_refused(&r)),
        other => Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
    }
}

/// The hold number of a `pay:{sale}:{hold}[:{n}]` id.
fn hold_of(id: &TransferId) -> Result<HoldId, ApiError> {
    parse_saga_id(id.as_str(), PAY_PREFIX)
        .map(|(_, hold, _)| HoldId(hold))
        .ok_or_else(|| ApiError::internal(&"not a payment id"))
}

/// Voids the pending transfer `id`; one that already ended is left as it is.
pub(super) async fn void(state: &AppState, id: &TransferId) -> Result<(), ApiError> {
    let body = TransferBody::Void { pending: id.clone() };
    let outcome = state.engine.ledger_command(Transfer { id: suffixed(id, "void")?, body }).await?.outcome;
    match outcome {
        LedgerOutcome::Voided { .. } => Ok(()),
        LedgerOutcome::Rejected(
            LedgerRejection::AlreadyVoided | LedgerRejection::PendingExpired | LedgerRejection::AlreadyPosted,
        ) => Ok(()),
        LedgerOutcome::Rejected(r) => Err(ledger_refused(&r)),
        other => Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
    }
}

/// `(sale, hold, seat)` of a `{prefix}{sale}:{hold}[:{seat}]` id; `None` for
/// a post or void id, or anything else.
pub fn parse_saga_id(id: &str, prefix: &str) -> Option<(u64, u64, Option<u32>)> {
    let mut parts = id.strip_prefix(prefix)?.split(':');
    let sale = parts.next()?.parse().ok()?;
    let hold = parts.next()?.parse().ok()?;
    let seat = match parts.next() {
        None => None,
        Some(s) => Some(s.parse().ok()?),
    };
    parts.next().is_none().then_some((sale, hold, seat))
}

/// What the wallet paid for an order: the posted amount of its payment, or 0
/// (a free order, or one confirmed before payments existed).
pub async fn paid_for(state: &AppState, sale: u64, order: u64) -> Result<Money, ApiError> {
    match current_attempt(state, sale, order).await? {
        Attempt::Posted(by) => posted_amount(state, &by).await,
        _ => Ok(Money::ZERO),
    }
}

/// What has gone back to the wallet for an order: its whole refund, and a
/// refund per seat given back from it, as posted.
pub async fn refunded_for(state: &AppState, sale: u64, order: u64, released: &[u32]) -> Result<Money, ApiError> {
    let mut total = Money::ZERO;
    let ids = std::iter::once(None).chain(released.iter().map(|s| Some(*s)));
    for seat in ids {
        if let Some(TransferState { end: Some(PendingEnd::Posted { by }), .. }) =
            state.engine.ledger_transfer(&refund_id(sale, order, seat)?).await?
        {
            total = total.checked_add(posted_amount(state, &by).await?).unwrap_or(total);
        }
    }
    Ok(total)
}

/// Refunds `order` at the sale with `action` (a whole refund, or one seat
/// given back when `seat` is set), moving the money back to the buyer's
/// wallet when the order was paid from it (module doc). Not paid: the sale
/// alone answers.
pub async fn refund_with_wallet(
    state: &AppState,
    auth: Auth,
    key: IdemKey,
    sale: SaleHandle,
    order: HoldId,
    seat: Option<SeatId>,
    action: Action,
) -> Result<(Outcome, ReceiptHeader), ApiError> {
    let state = state.clone();
    tokio::spawn(async move { refund_saga(&state, auth, key, &sale, order, seat, action).await })
        .await
        .map_err(|e| ApiError::internal(&e))?
}

async fn refund_saga(
    state: &AppState,
    auth: Auth,
    key: IdemKey,
    sale: &SaleHandle,
    order: HoldId,
    seat: Option<SeatId>,
    action: Action,
) -> Result<(Outcome, ReceiptHeader), ApiError> {
    let paid = paid_for(state, sale.id, order.0).await?;
    if paid == Money::ZERO
        && state.gateway.is_some()
        && let Some(attempt) = super::gateway_pay::paid_by_card(state, sale.id, order.0).await?
    {
        return refund_card_paid(state, &auth, key, sale, order, seat, action, attempt).await;
    }
    let facts = if paid > Money::ZERO { hold_facts(state, sale.id, order.0).await? } else { None };
    let Some(facts) = facts.filter(|f| f.booker == auth.core_id() && f.status == HoldStatus::Confirmed) else {
        return command(state, sale, &auth, key, action).await;
    };
    let already = refunded_for(state, sale.id, order.0, &facts.released).await?;
    let owed = match seat {
        // The seat's price, if it is in the order (else the sale refuses).
        Some(s) => facts.seats.iter().find(|(id, _)| *id == s.0).map_or(Money::ZERO, |(_, p)| Money::from_minor(*p)),
        None => facts.amount,
    };
    let left = paid.checked_sub(already).unwrap_or(Money::ZERO);
    let amount = if owed < left { owed } else { left };
    if amount == Money::ZERO {
        return command(state, sale, &auth, key, action).await;
    }
    let id = refund_id(sale.id, order.0, seat.map(|s| s.0))?;
    match state.engine.ledger_transfer(&id).await? {
        None => {
            let movement = Movement {
                debit: AccountId::Clearing,
                credit: wallet_of(facts.booker),
                amount,
                code: TransferCode::Refund,
                refs: TransferRefs {
                    order: Some(OrderRef::new(sale.id, order.0)),
                    payment: None,
                    actor: Some(auth.core_id()),
                },
            };
            let body = TransferBody::Pending { movement, timeout_us: REFUND_TIMEOUT_US };
            match state.engine.ledger_command(Transfer { id: id.clone(), body }).await?.outcome {
                LedgerOutcome::Reserved { .. } => {}
                LedgerOutcome::Rejected(LedgerRejection::IdReused) => {}
                LedgerOutcome::Rejected(r) => return Err(ledger_refused(&r)),
                other => return Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
            }
        }
        Some(s) if s.is_live_pending() => {}
        // Refunded before: the sale says so (already refunded, or the seat is gone).
        Some(_) => return command(state, sale, &auth, key, action).await,
    }
    match command(state, sale, &auth, key, action).await {
        Ok(done) => {
            let body = TransferBody::Post { pending: id.clone(), amount: None };
            match state.engine.ledger_command(Transfer { id: suffixed(&id, "post")?, body }).await?.outcome {
                LedgerOutcome::Posted { .. } | LedgerOutcome::Rejected(LedgerRejection::AlreadyPosted) => Ok(done),
                LedgerOutcome::Rejected(r) => Err(ledger_refused(&r)),
                other => Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
            }
        }
        Err(refused) => {
            void(state, &id).await?;
            Err(refused)
        }
    }
}

/// The refund of an order paid by card: the seat's price or the whole
/// order, through the gateway (`gateway_pay::refund_by_card`).
#[allow(clippy::too_many_arguments)]
async fn refund_card_paid(
    state: &AppState,
    auth: &Auth,
    key: IdemKey,
    sale: &SaleHandle,
    order: HoldId,
    seat: Option<SeatId>,
    action: Action,
    attempt: (u32, Money),
) -> Result<(Outcome, ReceiptHeader), ApiError> {
    let facts = hold_facts(state, sale.id, order.0).await?;
    let Some(facts) = facts.filter(|f| f.booker == auth.core_id() && f.status == HoldStatus::Confirmed) else {
        return command(state, sale, auth, key, action).await;
    };
    let amount = match seat {
        Some(s) => facts.seats.iter().find(|(id, _)| *id == s.0).map_or(Money::ZERO, |(_, p)| Money::from_minor(*p)),
        None => facts.amount,
    };
    if amount == Money::ZERO {
        return command(state, sale, auth, key, action).await;
    }
    super::gateway_pay::refund_by_card(state, sale.id, order.0, seat.map(|s| s.0), attempt, amount, || {
        command(state, sale, auth, key, action)
    })
    .await
}

/// How long start-up waits for the read models before settling payments.
pub const RESUME_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(30);
/// The pause between background attempts to settle payments, at most.
pub const RESUME_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a wallet read or payment waits for [`resume`] to have settled
/// what a crash left half-way; past it the answer is 503.
pub const SETTLED_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits until [`resume`] has settled the payments a crash left half-way
/// (at most [`SETTLED_WAIT_MAX`], then 503): no one sees or joins a saga the
/// restart has not decided yet.
pub async fn settled(state: &AppState) -> Result<(), ApiError> {
    let mut rx = state.payments_settled.subscribe();
    match tokio::time::timeout(SETTLED_WAIT_MAX, rx.wait_for(|done| *done)).await {
        Ok(Ok(_)) => Ok(()),
        _ => Err(ApiError::overloaded("payments left half-way by a restart are being settled; retry shortly")),
    }
}

/// [`resume`] once the read models are usable, logging what it did; false
/// if it could not finish (nothing it did is undone: every step is idempotent).
pub async fn resume_logged(state: &AppState) -> bool {
    if !crate::projections::usable(state, RESUME_WAIT_MAX).await {
        tracing::warn!("the read models are not ready; payments left half-way are settled later");
        return false;
    }
    match resume(state).await {
        Ok(r) if r == Resumed::default() => true,
        Ok(r) => {
            tracing::info!(posted = r.posted, voided = r.voided, refunded = r.refunded, "payments resumed");
            true
        }
        Err(e) => {
            tracing::warn!(problem = e.slug, detail = %e.detail, "settling payments left half-way failed; retrying");
            false
        }
    }
}

/// Runs [`resume_logged`] until it finishes, with a growing pause between
/// tries (a payment left half-way must be settled before its reservation
/// runs out), then marks the payments settled ([`settled`]).
pub async fn resume_until_done(state: AppState) {
    let mut pause = std::time::Duration::from_secs(1);
    while !resume_logged(&state).await {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RESUME_RETRY_MAX);
    }
    state.payments_settled.send_replace(true);
}

/// For a seat swap: `Ok` unless `order` was paid from the wallet and the new
/// seat costs other than the old, which would change what the order is worth
/// without moving money (409 `/problems/swap-changes-price`).
pub async fn check_swap(
    state: &AppState,
    sale: &SaleHandle,
    order: HoldId,
    from: SeatId,
    to: SeatId,
) -> Result<(), ApiError> {
    let KindConfig::Seated(config) = &sale.config.kind else { return Ok(()) };
    let index = state.seatmaps.index(sale.id, &sale.config);
    let price = |seat: SeatId| {
        let place = index.place(seat)?;
        config.venue.sections.get(usize::from(place.section)).map(|s| s.price)
    };
    let (Some(old), Some(new)) = (price(from), price(to)) else { return Ok(()) };
    if old == new || paid_for(state, sale.id, order.0).await? == Money::ZERO {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "swap-changes-price",
        "Swap changes the price",
        format!("this order is paid: a seat at {old} can be changed only for one at the same price, not {new}"),
    ))
}

/// What [`resume`] did, for the start-up log line and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resumed {
    pub posted: usize,
    pub voided: usize,
    /// Orders refunded at the sale because their payment lapsed.
    pub refunded: usize,
}

/// Settles every payment and refund a crash left half-way (module doc). Run
/// once at start, before connections are accepted.
pub async fn resume(state: &AppState) -> Result<Resumed, ApiError> {
    let mut done = Resumed::default();
    for (id, s) in state.engine.ledger_transfers_with_prefix(PAY_PREFIX, RESUME_SCAN_MAX).await? {
        let Some((sale_id, hold, _)) = parse_saga_id(id.as_str(), PAY_PREFIX) else { continue };
        let Some(sale) = state.engine.sale(sale_id) else { continue };
        let facts = hold_facts(state, sale_id, hold).await?;
        let confirmed = facts.as_ref().filter(|f| f.status == HoldStatus::Confirmed);
        if s.is_live_pending() {
            match confirmed {
                Some(f) => match post(state, &sale, &id, reserved_amount(&s)?, f.amount, f.booker).await {
                    Ok(()) => done.posted += 1,
                    Err(e) if e.slug == "payment-lapsed" => done.refunded += 1,
                    Err(e) => return Err(e),
                },
                None => {
                    void(state, &id).await?;
                    done.voided += 1;
                }
            }
        } else if s.end == Some(PendingEnd::Expired)
            && let Some(f) = confirmed
        {
            // Confirmed, but the reservation ran out before its post.
            state.engine.command(sale_id, f.booker, fresh_key()?, Action::Refund { order: HoldId(hold) }).await?;
            done.refunded += 1;
        }
    }
    for (id, s) in state.engine.ledger_transfers_with_prefix(REFUND_PREFIX, RESUME_SCAN_MAX).await? {
        if !s.is_live_pending() {
            continue;
        }
        let Some((sale_id, order, seat)) = parse_saga_id(id.as_str(), REFUND_PREFIX) else { continue };
        let facts = hold_facts(state, sale_id, order).await?;
        let refunded = facts.is_some_and(|f| match seat {
            Some(seat) => f.released.contains(&seat) || f.status == HoldStatus::Refunded,
            None => f.status == HoldStatus::Refunded,
        });
        if refunded {
            let body = TransferBody::Post { pending: id.clone(), amount: None };
            state.engine.ledger_command(Transfer { id: suffixed(&id, "post")?, body }).await?;
            done.posted += 1;
        } else {
            void(state, &id).await?;
            done.voided += 1;
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saga_ids_parse_back() {
        assert_eq!(parse_saga_id("pay:3:17", PAY_PREFIX), Some((3, 17, None)));
        assert_eq!(parse_saga_id("refund:3:17:42", REFUND_PREFIX), Some((3, 17, Some(42))));
        assert_eq!(parse_saga_id("pay:3:17:post", PAY_PREFIX), None);
        assert_eq!(parse_saga_id("pay:3", PAY_PREFIX), None);
        assert_eq!(parse_saga_id("grant:3:17", PAY_PREFIX), None);
        let longest = refund_id(u64::MAX, u64::MAX, Some(u32::MAX)).map(|id| id.as_str().len());
        assert!(longest.is_ok_and(|n| n <= stampede_core::TRANSFER_ID_LEN_MAX - ":post".len()));
    }
}
