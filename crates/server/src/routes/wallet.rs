//! The wallet: a buyer's balance and statement, an admin's grant onto a
//! wallet, and paying for a hold from it. The saga itself (reserve, confirm,
//! post or void, and resuming after a crash) lives in the shared layer
//! (`routes::common::pay`), since the confirm and refund routes of every
//! kind of sale use it too.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use stampede_core::{
    AccountId, HoldId, LedgerOutcome, LedgerRejection, Money, Movement, OrderRef, PendingEnd, Transfer, TransferBody,
    TransferCode, TransferId, TransferRefs, UserId,
};
use stampede_engine::ledger::TransferState;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth, IdemKey, parse_id};
use crate::problem::{ApiError, Problem};
use crate::routes::common::pay::{self, WALLET_CURRENCY, wallet_of};
use crate::routes::common::wire::fmt_us;
use crate::routes::common::{ReceiptHeader, in_range, require_admin, sale_handle};

pub mod wire;
use wire::*;

/// Lines of the statement `GET /api/me/wallet` shows.
pub const STATEMENT_LEN: usize = 50;
/// The largest single grant: ₩100,000,000.
pub const GRANT_MAX: i64 = 100_000_000;
/// Longest grant note kept in the operator's log, in characters.
pub const GRANT_NOTE_LEN_MAX: usize = 200;

/// An account's balance, available and pending money, never below zero
/// (only the world's may be, and it is never shown).
fn amounts(account: Option<stampede_core::Account>) -> (u64, u64, u64) {
    let Some(a) = account else { return (0, 0, 0) };
    let clamp = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
    (clamp(a.balance()), clamp(a.available()), a.debits_pending.minor())
}

/// The statement's state word for a transfer.
fn state_word(s: &TransferState) -> &'static str {
    match (&s.body, &s.end) {
        (TransferBody::Pending { .. }, None) => "pending",
        (_, Some(PendingEnd::Posted { .. })) => "posted",
        (_, Some(PendingEnd::Voided { .. })) => "voided",
        (_, Some(PendingEnd::Expired)) => "expired",
        _ => "done",
    }
}

async fn statement_line(
    state: &AppState,
    wallet: AccountId,
    id: TransferId,
    s: TransferState,
) -> Result<Option<StatementLineOut>, ApiError> {
    let movement = match &s.body {
        TransferBody::Single(m) | TransferBody::Pending { movement: m, .. } => *m,
        TransferBody::Post { .. } | TransferBody::Void { .. } => return Ok(None),
    };
    // Refused transfers moved nothing and are no part of a statement.
    if matches!(s.outcome, LedgerOutcome::Rejected(_)) {
        return Ok(None);
    }
    let mut amount = movement.amount;
    if let Some(PendingEnd::Posted { by }) = &s.end
        && let Some(LedgerOutcome::Posted { amount: posted, .. }) =
            state.engine.ledger_transfer(by).await?.map(|p| p.outcome)
    {
        amount = posted;
    }
    let magnitude = i64::try_from(amount.minor()).unwrap_or(i64::MAX);
    Ok(Some(StatementLineOut {
        id: id.as_str().to_owned(),
        kind: movement.code.as_str(),
        amount: if movement.credit == wallet { magnitude } else { -magnitude },
        state: state_word(&s),
        order: movement.refs.order.map(|o| o.to_string()),
        at: fmt_us(s.at_us),
        at_us: s.at_us,
    }))
}

/// Your wallet: balance, what is available and reserved, and its statement.
#[utoipa::path(get, path = "/api/me/wallet", tag = "wallet", responses((status = 200, body = WalletOut), (status = 401, body = Problem)))]
pub async fn my_wallet(State(state): State<AppState>, auth: Auth) -> Result<Json<WalletOut>, ApiError> {
    let wallet = wallet_of(auth.core_id());
    pay::settled(&state).await?;
    let (balance, available, pending) = amounts(state.engine.ledger_account(wallet).await?);
    let mut statement = Vec::new();
    for (id, s) in state.engine.ledger_statement(wallet, STATEMENT_LEN).await? {
        statement.extend(statement_line(&state, wallet, id, s).await?);
    }
    Ok(Json(WalletOut { currency: WALLET_CURRENCY, balance, available, pending, statement }))
}

/// The grant's transfer id: fixed by the wallet and the Idempotency-Key, so a
/// repeated request names the same transfer; hashed to fit the ledger's ids.
fn grant_id(user: UserId, key: &str) -> Result<TransferId, ApiError> {
    let digest = Sha256::digest(format!("{}:{key}", user.0).as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    TransferId::parse(&format!("grant:{}:{hex}", user.0)).map_err(|e| ApiError::internal(&e))
}

/// Admin: put money on a user's wallet by hand. Logged as a grant (never a
/// top-up) with the admin as its actor; idempotent by Idempotency-Key.
#[utoipa::path(post, path = "/api/admin/wallets/{user}/grant", tag = "admin", request_body = GrantRequest,
    params(("user" = u64, Path)),
    responses((status = 201, body = GrantOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn grant(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(user): ApiPath<String>,
    ApiJson(req): ApiJson<GrantRequest>,
) -> Result<(StatusCode, Json<GrantOut>), ApiError> {
    require_admin(&auth)?;
    let user = UserId(parse_id(&user, "user")?);
    if state.store.user(stampede_store::UserId(user.0)).is_none() {
        return Err(ApiError::not_found("no such user"));
    }
    let amount = in_range(req.amount, 1, GRANT_MAX, "amount")?;
    let note = req.note.unwrap_or_default();
    if note.chars().count() > GRANT_NOTE_LEN_MAX {
        return Err(ApiError::invalid_field(format!("note must be at most {GRANT_NOTE_LEN_MAX} characters"))
            .with_field("note", "length", Some(0.into()), Some(GRANT_NOTE_LEN_MAX.into())));
    }
    let amount = Money::from_minor(u64::try_from(amount).unwrap_or(0));
    let id = grant_id(user, key.0.as_str())?;
    let movement = Movement {
        debit: AccountId::World,
        credit: wallet_of(user),
        amount,
        code: TransferCode::Grant,
        refs: TransferRefs { order: None, payment: None, actor: Some(auth.core_id()) },
    };
    let acked = state.engine.ledger_command(Transfer { id: id.clone(), body: TransferBody::Single(movement) }).await?;
    match acked.outcome {
        LedgerOutcome::Transferred => {}
        LedgerOutcome::Rejected(LedgerRejection::IdReused) => {
            return Err(stampede_core::Rejection::IdempotencyKeyReused.into());
        }
        LedgerOutcome::Rejected(r) if r.is_lack_of_room() => {
            return Err(ApiError::overloaded("the ledger is full for now; retry shortly"));
        }
        other => return Err(ApiError::internal(&format!("unexpected grant outcome {other:?}"))),
    }
    tracing::info!(transfer = id.as_str(), user = user.0, amount = amount.minor(), admin = auth.core_id().0, note = %note, "wallet grant");
    let (balance, _, _) = amounts(state.engine.ledger_account(wallet_of(user)).await?);
    Ok((
        StatusCode::CREATED,
        Json(GrantOut { id: id.as_str().to_owned(), user_id: user.0, amount: amount.minor(), balance }),
    ))
}

/// Pay for a hold (stock or seats) and confirm it in one step: the money is
/// reserved on your wallet, the hold confirmed, then the money taken; if the
/// sale refuses the confirm, nothing is taken. Repeating it is safe.
#[utoipa::path(post, path = "/api/sales/{id}/holds/{hold}/pay", tag = "buying", request_body = PayRequest,
    params(("id" = u64, Path), ("hold" = u64, Path)),
    responses((status = 200, body = PaymentOut), (status = 402, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem)))]
pub async fn pay(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, hold)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<PayRequest>,
) -> Result<(ReceiptHeader, Json<PaymentOut>), ApiError> {
    let sale = sale_handle(&state, &sale)?;
    let hold = HoldId(parse_id(&hold, "hold")?);
    if let PayProvider::Gateway = req.provider {
        let hold = hold.0;
        let checkout =
            crate::routes::common::gateway_pay::start_checkout(&state, auth.core_id(), sale.id, hold).await?;
        return Ok((
            ReceiptHeader(None),
            Json(PaymentOut {
                sale_id: sale.id,
                order_id: hold,
                reference: OrderRef::new(sale.id, hold).to_string(),
                provider: "gateway",
                status: "redirect",
                amount: checkout.amount.minor(),
                currency: WALLET_CURRENCY,
                available: 0,
                checkout_url: Some(checkout.url),
            }),
        ));
    }
    if !pay::sale_is_free(&sale) && !sale.config.currency.eq_ignore_ascii_case(WALLET_CURRENCY) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "currency-not-supported",
            "Currency not supported",
            format!("the wallet holds {WALLET_CURRENCY}; this sale is in {}", sale.config.currency),
        ));
    }
    let paid = pay::pay_with_wallet(&state, auth, key, sale, hold).await?;
    let (_, available, _) = amounts(state.engine.ledger_account(wallet_of(auth.core_id())).await?);
    Ok((
        paid.receipt,
        Json(PaymentOut {
            sale_id: paid.sale,
            order_id: paid.order,
            reference: OrderRef::new(paid.sale, paid.order).to_string(),
            provider: "wallet",
            status: "paid",
            amount: paid.amount.minor(),
            currency: WALLET_CURRENCY,
            available,
            checkout_url: None,
        }),
    ))
}
