//! Paying for a hold through an external payment gateway (Toss Payments'
//! redirect flow; `stampede gateway-sandbox` stands in for it in the demo and
//! the tests), as a saga between the gateway, the platform ledger and the sale.
//!
//! 1. **Checkout** (`POST …/holds/{hold}/pay {"provider":"gateway"}`): a
//!    pending ledger transfer `gw:{sale}:{hold}[:{n}]` from the world to
//!    clearing marks the payment as under way, durably, so a restart finds
//!    it; the answer is the gateway's checkout URL for the attempt's order id
//!    `{reference}-{n}`.
//! 2. **Completion** (the gateway's `successUrl`, `POST
//!    /api/payments/gateway/confirm`, a webhook or the poll): the amount must
//!    be the reserved one; the gateway captures the payment (idempotently,
//!    keyed by the order id); the sale confirms the hold; the transfer is
//!    posted. A declined payment voids the transfer; the hold stays the
//!    buyer's until its timer runs out. A confirm the sale refuses (the hold
//!    expired while the buyer was at the gateway) posts the capture and gives
//!    it straight back through the gateway, recorded as a `gateway-refund`
//!    transfer `gwrefund:{sale}:{hold}:{n}`: the money came in and went out,
//!    and the ledger says both.
//! 3. **Failure** (`failUrl`): the attempt is voided.
//! 4. **Catching up**: [`poll`] runs at start and then every
//!    [`POLL_EVERY`]: each attempt still pending is looked up at the gateway
//!    by its order id and completed, voided or left, so a lost redirect, a
//!    crash or an outage end where a clean run would have.
//!
//! Invariant: money is posted to clearing only for a captured payment, and a
//! captured payment ends with its hold confirmed or with a gateway refund.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::StatusCode;
use parking_lot::Mutex;
use stampede_core::{
    AccountId, Action, HoldId, HoldStatus, LedgerOutcome, LedgerRejection, Money, Movement, OrderRef, PendingEnd,
    Transfer, TransferBody, TransferCode, TransferId, TransferRefs, US_PER_S, UserId,
};
use stampede_engine::ledger::TransferState;
use stampede_gateway::{ErrorKind, Gateway, GatewayError, IdempotencyKey, PaymentStatus, WebhookVerifier};

use super::pay::{hold_facts, ledger_refused, parse_saga_id, suffixed, transfer_id, void};
use crate::AppState;
use crate::problem::ApiError;

/// Prefix of every gateway payment's pending transfer id.
pub const GW_PREFIX: &str = "gw:";
/// Prefix of the transfer recording a capture given back.
pub const GW_REFUND_PREFIX: &str = "gwrefund:";
/// Most checkout attempts for one hold (declines, abandoned checkouts).
pub const GW_ATTEMPTS_MAX: u32 = 8;
/// How much longer than its hold an attempt's reservation lives: a payment
/// captured after the hold expired must still find it, to be given back.
pub const GW_GRACE_US: i64 = 3600 * US_PER_S;
/// How often pending attempts are looked up at the gateway.
pub const POLL_EVERY: Duration = Duration::from_secs(5);
/// Most payment versions remembered for deduplicating webhooks.
pub const WEBHOOK_SEEN_MAX: usize = 100_000;

/// The gateway this server takes payments through.
pub struct GatewayLink {
    pub client: Gateway,
    /// Where buyers are sent to pay (`{base_url}/checkout?…`).
    pub base_url: String,
    /// Where the gateway sends buyers back (this server's public address).
    pub public_url: String,
    pub webhooks: WebhookVerifier,
    /// The newest version of each payment a webhook was acted on for.
    seen: Mutex<BTreeMap<String, u64>>,
}

impl GatewayLink {
    pub fn new(client: Gateway, base_url: String, public_url: String, webhooks: WebhookVerifier) -> Self {
        GatewayLink {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            webhooks,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether a webhook for `payment_key` at `version` is news; remembers it if so.
    pub fn fresh(&self, payment_key: &str, version: u64) -> bool {
        let mut seen = self.seen.lock();
        match seen.get(payment_key) {
            Some(v) if *v >= version => false,
            _ => {
                if seen.len() >= WEBHOOK_SEEN_MAX {
                    seen.pop_first();
                }
                seen.insert(payment_key.to_owned(), version);
                true
            }
        }
    }
}

impl std::fmt::Debug for GatewayLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayLink").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

fn link(state: &AppState) -> Result<&GatewayLink, ApiError> {
    state.gateway.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "provider-not-configured",
            "Payment provider not configured",
            "this server takes no card payments; pay with the wallet",
        )
    })
}

/// The pending transfer of attempt `n` (from 1) of `hold`'s gateway payment.
pub fn attempt_id(sale: u64, hold: u64, n: u32) -> Result<TransferId, ApiError> {
    transfer_id(if n <= 1 { format!("{GW_PREFIX}{sale}:{hold}") } else { format!("{GW_PREFIX}{sale}:{hold}:{n}") })
}

/// The gateway's order id of attempt `n`: the order's reference and the attempt.
pub fn order_id(sale: u64, hold: u64, n: u32) -> String {
    format!("{}-{n}", OrderRef::new(sale, hold))
}

/// `(sale, hold, n)` of a gateway order id.
pub fn parse_order_id(text: &str) -> Option<(u64, u64, u32)> {
    let (reference, n) = text.rsplit_once('-')?;
    let n: u32 = n.parse().ok().filter(|n| (1..=GW_ATTEMPTS_MAX).contains(n))?;
    let r = OrderRef::parse(reference)?;
    Some((r.sale, r.order, n))
}

fn gateway_failed(e: &GatewayError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "gateway-unavailable",
        "Payment gateway unavailable",
        format!("the payment gateway did not answer ({e}); the payment is checked again shortly"),
    )
}

/// Where the gateway attempts of one hold stand.
enum Attempt {
    Posted,
    Live(u32),
    Fresh(u32),
    Exhausted,
}

async fn current_attempt(state: &AppState, sale: u64, hold: u64) -> Result<Attempt, ApiError> {
    for n in 1..=GW_ATTEMPTS_MAX {
        match state.engine.ledger_transfer(&attempt_id(sale, hold, n)?).await? {
            None => return Ok(Attempt::Fresh(n)),
            Some(s) if s.is_live_pending() => return Ok(Attempt::Live(n)),
            Some(TransferState { end: Some(PendingEnd::Posted { .. }), .. }) => return Ok(Attempt::Posted),
            Some(_) => {}
        }
    }
    Ok(Attempt::Exhausted)
}

/// What a buyer is sent to.
pub struct Checkout {
    pub url: String,
    pub order_id: String,
    pub amount: Money,
}

/// Starts (or repeats) a gateway checkout for `hold`, booked by `buyer`.
pub async fn start_checkout(state: &AppState, buyer: UserId, sale: u64, hold: u64) -> Result<Checkout, ApiError> {
    let link = link(state)?;
    let facts = hold_facts(state, sale, hold).await?.ok_or(stampede_core::Rejection::UnknownHold)?;
    if facts.booker != buyer {
        return Err(stampede_core::Rejection::NotYourHold.into());
    }
    let now_us = state.engine.now_us();
    match facts.status {
        HoldStatus::Held if facts.expires_at_us > now_us => {}
        HoldStatus::Held | HoldStatus::Expired => return Err(stampede_core::Rejection::HoldExpired.into()),
        _ => return Err(stampede_core::Rejection::HoldNotActive.into()),
    }
    if facts.amount == Money::ZERO {
        return Err(ApiError::invalid_field("this hold is free: confirm it, there is nothing to pay"));
    }
    let n = match current_attempt(state, sale, hold).await? {
        Attempt::Live(n) => n,
        Attempt::Fresh(n) => {
            let movement = Movement {
                debit: AccountId::World,
                credit: AccountId::Clearing,
                amount: facts.amount,
                code: TransferCode::GatewayPayment,
                refs: TransferRefs { order: Some(OrderRef::new(sale, hold)), payment: None, actor: Some(buyer) },
            };
            let timeout_us = facts.expires_at_us - now_us + GW_GRACE_US;
            let body = TransferBody::Pending { movement, timeout_us };
            match state.engine.ledger_command(Transfer { id: attempt_id(sale, hold, n)?, body }).await?.outcome {
                LedgerOutcome::Reserved { .. } | LedgerOutcome::Rejected(LedgerRejection::IdReused) => n,
                LedgerOutcome::Rejected(r) => return Err(ledger_refused(&r)),
                other => return Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
            }
        }
        Attempt::Posted => return Err(stampede_core::Rejection::HoldNotActive.into()),
        Attempt::Exhausted => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "payment-attempts-exhausted",
                "Too many payment attempts",
                format!("{GW_ATTEMPTS_MAX} card payments for this hold failed; hold again to buy"),
            ));
        }
    };
    let order = order_id(sale, hold, n);
    let title = state.engine.sale(sale).map(|s| s.config.title.clone()).unwrap_or_default();
    let url = stampede_gateway::checkout_url(
        &link.base_url,
        &order,
        facts.amount.minor(),
        &title,
        &format!("{}/payments/gateway/success", link.public_url),
        &format!("{}/payments/gateway/fail", link.public_url),
    );
    Ok(Checkout { url, order_id: order, amount: facts.amount })
}

/// How a completion ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completed {
    /// The order is paid.
    Paid { sale: u64, order: u64, amount: Money },
    /// The gateway declined; the hold is still the buyer's.
    Declined { sale: u64, order: u64, message: String },
    /// Captured after the hold ran out: given back through the gateway.
    Refunded { sale: u64, order: u64 },
    /// The gateway could not say yet; [`poll`] finishes it.
    Unsettled { sale: u64, order: u64 },
}

/// Completes the attempt `order_id` whose payment the buyer approved
/// (`payment_key`, for `amount`): module doc, step 2. Idempotent.
pub async fn complete(state: &AppState, payment_key: &str, order_id: &str, amount: u64) -> Result<Completed, ApiError> {
    let link = link(state)?;
    let (sale, hold, n) = parse_order_id(order_id).ok_or_else(|| ApiError::not_found("no such payment"))?;
    let id = attempt_id(sale, hold, n)?;
    let Some(s) = state.engine.ledger_transfer(&id).await? else {
        return Err(ApiError::not_found("no such payment"));
    };
    let reserved = match &s.body {
        TransferBody::Pending { movement, .. } => movement.amount,
        _ => return Err(ApiError::internal(&"a gateway saga id names a transfer that is not pending")),
    };
    if reserved.minor() != amount {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount-mismatch",
            "Amount does not match",
            format!("the order costs {}, the payment says {amount}: nothing was taken", reserved.minor()),
        ));
    }
    match &s.end {
        Some(PendingEnd::Posted { .. }) => return finished(state, sale, hold, n, amount).await,
        Some(_) => return Ok(Completed::Declined { sale, order: hold, message: "the payment was given up".into() }),
        None => {}
    }
    let key = IdempotencyKey::new(format!("confirm:{order_id}")).map_err(|e| ApiError::internal(&e))?;
    let payment = match link.client.confirm(payment_key, order_id, amount, &key).await {
        Ok(p) => p,
        Err(e) if e.kind() == ErrorKind::Declined => {
            void(state, &id).await?;
            return Ok(Completed::Declined { sale, order: hold, message: e.to_string() });
        }
        Err(e) if e.is_retryable() => return Ok(Completed::Unsettled { sale, order: hold }),
        Err(e) => return Err(gateway_failed(&e)),
    };
    if !payment.status.is_captured() {
        if payment.status.is_final() {
            void(state, &id).await?;
            return Ok(Completed::Declined { sale, order: hold, message: payment.status.as_str().to_owned() });
        }
        return Ok(Completed::Unsettled { sale, order: hold });
    }
    settle_captured(state, sale, hold, n, &payment.payment_key, reserved).await
}

/// A captured payment: confirm the hold and post, or give it back.
async fn settle_captured(
    state: &AppState,
    sale: u64,
    hold: u64,
    n: u32,
    payment_key: &str,
    reserved: Money,
) -> Result<Completed, ApiError> {
    let id = attempt_id(sale, hold, n)?;
    let facts = hold_facts(state, sale, hold).await?.ok_or(stampede_core::Rejection::UnknownHold)?;
    let confirmed = match facts.status {
        HoldStatus::Confirmed => true,
        _ => {
            // One key per attempt: the return, a webhook and the poll may all
            // get here at once, and must all get the sale's one answer.
            let key = stampede_core::IdempotencyKey::parse(&format!("gw-confirm-{sale}-{hold}-{n}"))
                .map_err(|e| ApiError::internal(&format!("{e:?}")))?;
            let acked = state.engine.command(sale, facts.booker, key, Action::Confirm { hold: HoldId(hold) }).await?;
            !matches!(acked, stampede_core::Outcome::Rejected(_))
                // Refused because it is confirmed already (a key forgotten after a day)?
                || hold_facts(state, sale, hold).await?.is_some_and(|f| f.status == HoldStatus::Confirmed)
        }
    };
    let body = TransferBody::Post { pending: id.clone(), amount: None };
    match state.engine.ledger_command(Transfer { id: suffixed(&id, "post")?, body }).await?.outcome {
        LedgerOutcome::Posted { .. } | LedgerOutcome::Rejected(LedgerRejection::AlreadyPosted) => {}
        LedgerOutcome::Rejected(r) => return Err(ledger_refused(&r)),
        other => return Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
    }
    if confirmed {
        return Ok(Completed::Paid { sale, order: hold, amount: reserved });
    }
    give_back(state, sale, hold, n, payment_key, reserved).await?;
    Ok(Completed::Refunded { sale, order: hold })
}

/// Refunds a capture whose hold could not be confirmed, and records it.
async fn give_back(
    state: &AppState,
    sale: u64,
    hold: u64,
    n: u32,
    payment_key: &str,
    amount: Money,
) -> Result<(), ApiError> {
    let link = link(state)?;
    let order = order_id(sale, hold, n);
    let key = IdempotencyKey::new(format!("cancel:{order}")).map_err(|e| ApiError::internal(&e))?;
    link.client
        .cancel(payment_key, "the hold ran out before the payment completed", None, &key)
        .await
        .map_err(|e| gateway_failed(&e))?;
    let movement = Movement {
        debit: AccountId::Clearing,
        credit: AccountId::World,
        amount,
        code: TransferCode::GatewayRefund,
        refs: TransferRefs { order: Some(OrderRef::new(sale, hold)), payment: None, actor: None },
    };
    let id = transfer_id(format!("{GW_REFUND_PREFIX}{sale}:{hold}:{n}"))?;
    match state.engine.ledger_command(Transfer { id, body: TransferBody::Single(movement) }).await?.outcome {
        LedgerOutcome::Transferred => {
            tracing::warn!(sale, hold, "a card payment completed after its hold ran out; refunded");
            Ok(())
        }
        LedgerOutcome::Rejected(LedgerRejection::IdReused) => Ok(()),
        LedgerOutcome::Rejected(r) => Err(ledger_refused(&r)),
        other => Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
    }
}

/// The answer for an attempt that was posted before.
async fn finished(state: &AppState, sale: u64, hold: u64, n: u32, amount: u64) -> Result<Completed, ApiError> {
    let refund = transfer_id(format!("{GW_REFUND_PREFIX}{sale}:{hold}:{n}"))?;
    if state.engine.ledger_transfer(&refund).await?.is_some() {
        return Ok(Completed::Refunded { sale, order: hold });
    }
    Ok(Completed::Paid { sale, order: hold, amount: Money::from_minor(amount) })
}

/// The buyer gave up or the gateway declined on its page: void the attempt.
pub async fn fail(state: &AppState, order_id: &str) -> Result<Option<(u64, u64)>, ApiError> {
    let Some((sale, hold, n)) = parse_order_id(order_id) else { return Ok(None) };
    let id = attempt_id(sale, hold, n)?;
    if state.engine.ledger_transfer(&id).await?.is_some_and(|s| s.is_live_pending()) {
        void(state, &id).await?;
    }
    Ok(Some((sale, hold)))
}

/// Prefix of the transfer that gives a card-paid order (or one seat of it) back.
pub const CARD_REFUND_PREFIX: &str = "cardrefund:";

/// The attempt that paid for `order` by card, and what it took; `None` when
/// the order was not paid by card.
pub async fn paid_by_card(state: &AppState, sale: u64, order: u64) -> Result<Option<(u32, Money)>, ApiError> {
    for n in 1..=GW_ATTEMPTS_MAX {
        match state.engine.ledger_transfer(&attempt_id(sale, order, n)?).await? {
            None => return Ok(None),
            Some(TransferState {
                end: Some(PendingEnd::Posted { .. }),
                body: TransferBody::Pending { movement, .. },
                ..
            }) => {
                let late = transfer_id(format!("{GW_REFUND_PREFIX}{sale}:{order}:{n}"))?;
                if state.engine.ledger_transfer(&late).await?.is_some() {
                    return Ok(None);
                }
                return Ok(Some((n, movement.amount)));
            }
            Some(_) => {}
        }
    }
    Ok(None)
}

/// Refunds `amount` of a card-paid order (all of it, or one seat's price)
/// through the gateway that took it, around the sale's own refund (`refund`):
/// reserve it on clearing (`cardrefund:{sale}:{order}[:{seat}]`), refund at
/// the sale, cancel that much at the gateway, post. A refund the sale refuses
/// releases the reservation; one the gateway cannot take now stays reserved
/// and is retried by the next attempt (the ids and keys are the same).
pub async fn refund_by_card<F, Fut, T>(
    state: &AppState,
    sale: u64,
    order: u64,
    seat: Option<u32>,
    attempt: (u32, Money),
    amount: Money,
    refund: F,
) -> Result<T, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let link = link(state)?;
    let (n, _) = attempt;
    let id = transfer_id(match seat {
        Some(s) => format!("{CARD_REFUND_PREFIX}{sale}:{order}:{s}"),
        None => format!("{CARD_REFUND_PREFIX}{sale}:{order}"),
    })?;
    let movement = Movement {
        debit: AccountId::Clearing,
        credit: AccountId::World,
        amount,
        code: TransferCode::GatewayRefund,
        refs: TransferRefs { order: Some(OrderRef::new(sale, order)), payment: None, actor: None },
    };
    let body = TransferBody::Pending { movement, timeout_us: super::pay::REFUND_TIMEOUT_US };
    match state.engine.ledger_command(Transfer { id: id.clone(), body }).await?.outcome {
        LedgerOutcome::Reserved { .. } | LedgerOutcome::Rejected(LedgerRejection::IdReused) => {}
        LedgerOutcome::Rejected(r) => return Err(ledger_refused(&r)),
        other => return Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
    }
    let done = match refund().await {
        Ok(done) => done,
        Err(refused) => {
            void(state, &id).await?;
            return Err(refused);
        }
    };
    let gateway_order = order_id(sale, order, n);
    let payment = link.client.status_by_order(&gateway_order).await.map_err(|e| gateway_failed(&e))?;
    let key = IdempotencyKey::new(format!("refund:{}", id.as_str())).map_err(|e| ApiError::internal(&e))?;
    link.client
        .cancel(&payment.payment_key, "refunded by the buyer", Some(amount.minor()), &key)
        .await
        .map_err(|e| gateway_failed(&e))?;
    let body = TransferBody::Post { pending: id.clone(), amount: None };
    match state.engine.ledger_command(Transfer { id: suffixed(&id, "post")?, body }).await?.outcome {
        LedgerOutcome::Posted { .. } | LedgerOutcome::Rejected(LedgerRejection::AlreadyPosted) => Ok(done),
        LedgerOutcome::Rejected(r) => Err(ledger_refused(&r)),
        other => Err(ApiError::internal(&format!("unexpected ledger outcome {other:?}"))),
    }
}

/// What one look at the gateway did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Polled {
    pub completed: usize,
    pub voided: usize,
    pub waiting: usize,
}

/// Looks up every attempt still pending at the gateway and completes it,
/// voids it (the gateway gave it up, or never saw it and the hold is over),
/// or leaves it (module doc, step 4).
pub async fn poll(state: &AppState) -> Result<Polled, ApiError> {
    let link = link(state)?;
    let mut done = Polled::default();
    let pending = state.engine.ledger_transfers_with_prefix(GW_PREFIX, super::pay::RESUME_SCAN_MAX).await?;
    for (id, s) in pending {
        if !s.is_live_pending() {
            continue;
        }
        let Some((sale, hold, seat)) = parse_saga_id(id.as_str(), GW_PREFIX) else { continue };
        let n = seat.unwrap_or(1);
        let TransferBody::Pending { movement, .. } = &s.body else { continue };
        let order = order_id(sale, hold, n);
        let over = hold_facts(state, sale, hold)
            .await?
            .is_none_or(|f| f.status != HoldStatus::Held || f.expires_at_us <= state.engine.now_us());
        match link.client.status_by_order(&order).await {
            Ok(p) if p.status.is_captured() => {
                settle_captured(state, sale, hold, n, &p.payment_key, movement.amount).await?;
                done.completed += 1;
            }
            Ok(p) if p.status == PaymentStatus::Ready => {
                // Approved on the checkout page, never confirmed: confirm it now.
                match complete(state, &p.payment_key, &order, movement.amount.minor()).await? {
                    Completed::Unsettled { .. } => done.waiting += 1,
                    _ => done.completed += 1,
                }
            }
            Ok(p) if p.status.is_final() => {
                void(state, &id).await?;
                done.voided += 1;
            }
            Ok(_) => done.waiting += 1,
            Err(e) if e.kind() == ErrorKind::NotFound && over => {
                void(state, &id).await?;
                done.voided += 1;
            }
            Err(_) => done.waiting += 1,
        }
    }
    Ok(done)
}

/// Runs [`poll`] now and then every [`POLL_EVERY`], for as long as the server runs.
pub async fn poll_forever(state: AppState) {
    if state.gateway.is_none() {
        return;
    }
    loop {
        match poll(&state).await {
            Ok(p) if p == Polled::default() => {}
            Ok(p) => {
                tracing::info!(completed = p.completed, voided = p.voided, waiting = p.waiting, "card payments polled")
            }
            Err(e) => tracing::warn!(problem = e.slug, detail = %e.detail, "polling card payments failed"),
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_parse_back() {
        let id = order_id(3, 17, 2);
        assert_eq!(parse_order_id(&id), Some((3, 17, 2)));
        assert_eq!(parse_order_id(&format!("{}-0", OrderRef::new(3, 17))), None);
        assert_eq!(parse_order_id("nonsense"), None);
        assert!(id.len() >= 6 && id.len() <= 64, "Toss Payments' orderId is 6 to 64 characters: {id}");
    }
}
