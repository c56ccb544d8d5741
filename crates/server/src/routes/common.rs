//! What every route module shares: who may act (owner, organizer, admin),
//! turning a path's sale id into a running sale, the bounds checks on what a
//! request asks for, and running blocking store work off the async workers.
//! Feature modules import from here, never from each other.

use stampede_engine::SaleHandle;

use crate::AppState;
use crate::extract::{Auth, parse_id};
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
