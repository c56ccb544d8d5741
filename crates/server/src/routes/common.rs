//! What every route module shares: who may act (owner, organizer, admin),
//! turning a path's sale id into a running sale, the bounds checks on what a
//! request asks for, and running blocking store work off the async workers.
//! Feature modules import from here, never from each other.

use stampede_core::{Action, HoldId, KindConfig, Outcome, StockOutcome};
use stampede_engine::SaleHandle;

use crate::AppState;
use crate::dto::{HoldOut, OrderOut, SeatHoldOut};
use crate::extract::{Auth, IdemKey, parse_id};
use crate::problem::ApiError;

/// Most a person may buy or hold in one sale, whatever its kind.
pub const PER_PERSON_MAX: i64 = 1_000_000;
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

fn unexpected(o: &Outcome) -> ApiError {
    ApiError::internal(&format!("unexpected outcome {o:?}"))
}

impl HoldAnswer for OrderOut {
    const SEATED: bool = false;
    fn answer(_: &AppState, sale: &SaleHandle, verb: HoldVerb, outcome: Outcome) -> Result<Self, ApiError> {
        match (verb, outcome) {
            (HoldVerb::Confirm, Outcome::Stock(StockOutcome::Confirmed(h)))
            | (HoldVerb::Refund, Outcome::Stock(StockOutcome::Refunded(h))) => OrderOut::new(sale.id, &h),
            (_, other) => Err(unexpected(&other)),
        }
    }
}

impl HoldAnswer for HoldOut {
    const SEATED: bool = false;
    fn answer(_: &AppState, sale: &SaleHandle, verb: HoldVerb, outcome: Outcome) -> Result<Self, ApiError> {
        match (verb, outcome) {
            (HoldVerb::Cancel, Outcome::Stock(StockOutcome::Cancelled(h))) => HoldOut::new(sale.id, &h),
            (_, other) => Err(unexpected(&other)),
        }
    }
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
) -> Result<A, ApiError> {
    let sale = sale_handle(state, sale)?;
    // Seat holds have their own routes (and answer with their seats).
    if A::SEATED != matches!(sale.config.kind, KindConfig::Seated(_)) {
        return Err(stampede_core::Rejection::WrongSaleKind.into());
    }
    let hold = HoldId(parse_id(hold, "hold")?);
    match state.engine.command(sale.id, auth.core_id(), key.0, verb.action(hold)).await? {
        Outcome::Rejected(r) => Err(r.into()),
        outcome => A::answer(state, &sale, verb, outcome),
    }
}
