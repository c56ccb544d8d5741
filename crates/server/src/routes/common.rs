//! What every route module shares: who may act (owner, organizer, admin,
//! friend), turning a path's sale id into a running sale, the bounds checks
//! on what a request asks for, running blocking store work off the async
//! workers, and the one confirm/cancel/refund body (a priced confirm is
//! paid for through `pay`, a refund gives the money back through it). Beside it: the shared
//! wire vocabulary (`wire`), the one sale presenter (`present`) and what a
//! seated sale's features share (`seated`). Feature modules import from
//! here, never from each other; nothing here names a feature.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponseParts, ResponseParts};
use stampede_core::{Action, HoldId, KindConfig, Outcome};
use stampede_engine::SaleHandle;
use stampede_store::UserId;

use crate::AppState;
use crate::extract::{Auth, IdemKey, parse_id};
use crate::problem::{ApiError, RECEIPT_HEADER};

pub mod gateway_pay;
pub mod pay;
pub mod present;
pub mod seated;
pub mod wire;

use wire::SeatHoldOut;

/// Most a person may buy or hold in one sale, whatever its kind.
pub const PER_PERSON_MAX: i64 = stampede_core::PER_PERSON_MAX as i64;
/// How long a hold may last, whatever the sale's kind.
pub const HOLD_SECONDS_MIN: i64 = 10;
pub const HOLD_SECONDS_MAX: i64 = 86_400;

/// The running sale a path's `{id}` names, else 404.
pub(crate) fn sale_handle(state: &AppState, raw: &str) -> Result<SaleHandle, ApiError> {
    let id = parse_id(raw, "sale")?;
    state.engine.sale(id).ok_or_else(|| ApiError::not_found("no such sale"))
}

/// Owner or admin, else 403.
pub(crate) fn require_owner(auth: &Auth, sale: &SaleHandle) -> Result<(), ApiError> {
    // The role is re-checked so an organizer who lost the role loses access too.
    if auth.is_admin() || (auth.can_organize() && sale.config.owner == auth.core_id()) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only the sale's organizer may do this"))
    }
}

/// Admin, else 403.
pub(crate) fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    if auth.is_admin() { Ok(()) } else { Err(ApiError::forbidden("only an admin may do this")) }
}

/// Organizer (or admin), else 403 with `why` as the detail.
pub(crate) fn require_organizer(auth: &Auth, why: &str) -> Result<(), ApiError> {
    if auth.can_organize() { Ok(()) } else { Err(ApiError::forbidden(why)) }
}

/// `v` when it is within `lo..=hi`, else the out-of-range problem naming `field`.
pub(crate) fn in_range(v: i64, lo: i64, hi: i64, field: &str) -> Result<i64, ApiError> {
    if (lo..=hi).contains(&v) { Ok(v) } else { Err(ApiError::out_of_range(field, lo, hi)) }
}

/// Runs store work (SQLite, big venue JSON) off the async workers, so pings
/// and holds are not queued behind it.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(&e))?
}

/// What a person may do to a hold once they have it, in every kind of sale
/// that holds (the core's shared `Action::Confirm`, `Cancel` and `Refund`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum HoldVerb {
    /// Pay for a hold; it becomes an order with the same id.
    Confirm,
    /// Give a hold back before it expires.
    Cancel,
    /// Refund a confirmed order.
    Refund,
}

impl HoldVerb {
    fn action(self, id: HoldId) -> Action {
        match self {
            HoldVerb::Confirm => Action::Confirm { hold: id },
            HoldVerb::Cancel => Action::Cancel { hold: id },
            HoldVerb::Refund => Action::Refund { order: id },
        }
    }
}

/// How one family of hold routes answers a verb. The stock routes answer
/// with the hold (cancel) or the order (confirm, refund); the seated routes
/// (`/seats/...`) always with the seat hold, and serve seated sales only.
pub(crate) trait HoldAnswer: Sized {
    /// Whether these routes serve seated sales, and only them; the other
    /// family serves every other kind.
    const SEATED: bool;
    /// The answer for `verb`'s accepted outcome.
    fn answer(state: &AppState, sale: &SaleHandle, verb: HoldVerb, outcome: Outcome) -> Result<Self, ApiError>;
}

/// An accepted outcome a route did not expect for its command: a bug,
/// answered 500 and logged.
pub(crate) fn unexpected(o: &Outcome) -> ApiError {
    ApiError::internal(&format!("unexpected outcome {o:?}"))
}

impl HoldAnswer for SeatHoldOut {
    const SEATED: bool = true;
    fn answer(state: &AppState, sale: &SaleHandle, _: HoldVerb, outcome: Outcome) -> Result<Self, ApiError> {
        seat_hold_answer(state, sale, outcome)
    }
}

/// The seat hold an accepted seated command answers with, whatever the
/// command (hold, confirm, cancel, refund, release, swap).
pub(crate) fn seat_hold_answer(state: &AppState, sale: &SaleHandle, outcome: Outcome) -> Result<SeatHoldOut, ApiError> {
    match outcome {
        Outcome::Seated(o) => {
            let index = state.seatmaps.index(sale.id, &sale.config);
            SeatHoldOut::new(sale.id, &sale.config, &index, &o.into_hold())
        }
        other => Err(unexpected(&other)),
    }
}

/// Confirm, cancel or refund the hold `hold` of the sale `sale` (both raw
/// path segments) for either family of routes: one body for every kind that
/// holds, so stock and seated sales cannot drift apart.
pub(crate) async fn settle_hold<A: HoldAnswer>(
    state: &AppState,
    auth: &Auth,
    key: IdemKey,
    sale: &str,
    hold: &str,
    verb: HoldVerb,
) -> Result<(ReceiptHeader, A), ApiError> {
    let sale = sale_handle(state, sale)?;
    // Seat holds have their own routes (and answer with their seats).
    if A::SEATED != matches!(sale.config.kind, KindConfig::Seated(_)) {
        return Err(stampede_core::Rejection::WrongSaleKind.into());
    }
    let hold = HoldId(parse_id(hold, "hold")?);
    let (outcome, receipt) = match verb {
        HoldVerb::Confirm => {
            // A priced hold is confirmed by paying for it (402 otherwise).
            pay::require_free(state, &sale, hold).await?;
            command(state, &sale, auth, key, verb.action(hold)).await?
        }
        HoldVerb::Refund => {
            let action = verb.action(hold);
            pay::refund_with_wallet(state, *auth, key, sale.clone(), hold, None, action).await?
        }
        HoldVerb::Cancel => command(state, &sale, auth, key, verb.action(hold)).await?,
    };
    Ok((receipt, A::answer(state, &sale, verb, outcome)?))
}

/// An acknowledged command's signed receipt as a response header
/// ([`RECEIPT_HEADER`]); put first in a handler's answer.
pub struct ReceiptHeader(pub Option<String>);

impl IntoResponseParts for ReceiptHeader {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(value) = self.0.as_deref().and_then(|r| HeaderValue::from_str(r).ok()) {
            res.headers_mut().insert(RECEIPT_HEADER, value);
        }
        Ok(res)
    }
}

/// Sends `action` to the sale as `auth`'s and waits for its durable answer:
/// the outcome with its signed receipt, or a refusal (`Err`, with the receipt
/// too: a refused command is logged like any other).
pub async fn command(
    state: &AppState,
    sale: &SaleHandle,
    auth: &Auth,
    key: IdemKey,
    action: Action,
) -> Result<(Outcome, ReceiptHeader), ApiError> {
    let request_id = crate::request_id::for_engine();
    let acked = state.engine.command_for_request(sale.id, auth.core_id(), key.0, action, request_id).await?;
    let receipt = acked.logged.as_ref().and_then(|place| state.passes.receipt(place)).map(|r| r.to_header());
    match acked.outcome {
        Outcome::Rejected(r) => Err(ApiError::from(r).with_receipt(receipt)),
        outcome => Ok((outcome, ReceiptHeader(receipt))),
    }
}

/// The problem for a group member who is not the holder's friend.
pub fn not_a_friend(user: u64) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not-a-friend",
        "Not a friend",
        format!("user {user} is not your friend; you may hold seats only for your friends"),
    )
}

/// For the seat routes: `Ok` when every one of `others` is a friend of `me`
/// (`me` itself may be among them), else a 403 `/problems/not-a-friend`
/// naming the first who is not. Memory only, one lock for the whole group,
/// so it is cheap on every group hold.
pub async fn check_friends(state: &AppState, me: u64, others: &[u64]) -> Result<(), ApiError> {
    match state.store.first_non_friend(UserId(me), others.iter().map(|&o| UserId(o))) {
        None => Ok(()),
        Some(stranger) => Err(not_a_friend(stranger.0)),
    }
}
