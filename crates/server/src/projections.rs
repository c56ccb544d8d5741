//! Reading the projections (`stampede-views`) from handlers: waiting until
//! they show every command answered before the request (read-your-writes),
//! and turning their rows back into the core's hold types for the presenters.

use std::sync::Arc;
use std::time::Duration;

use stampede_core::{HeldSeat, Hold, HoldId, SeatHold, SeatId, UserId};
use stampede_views::{HoldRow, Projector, SeatRow, Views, ViewsError};

use crate::AppState;
use crate::problem::ApiError;

/// Longest a read waits for the projector to reach the newest published
/// batch; past it the answer is 503 rather than a page missing a purchase.
pub const CATCH_UP_WAIT_MAX: Duration = Duration::from_secs(5);

impl From<ViewsError> for ApiError {
    fn from(e: ViewsError) -> Self {
        ApiError::internal(&e)
    }
}

/// The projections once they show every command answered before this call:
/// the engine's published batch number is read first, then awaited. No sale
/// task is asked anything.
pub async fn caught_up(state: &AppState) -> Result<Arc<Projector>, ApiError> {
    let views = state.views.clone().ok_or_else(ApiError::unavailable)?;
    let published = state.engine.published();
    if views.wait_for(published, CATCH_UP_WAIT_MAX).await {
        Ok(views)
    } else {
        Err(ApiError::overloaded("the read models are catching up; retry shortly"))
    }
}

/// Waits (at most `max`) until the projector has done its start-up catch-up
/// and is not failing (a failed write is retried by catching up from the
/// log again): what start-up work that reads projections waits for, since
/// [`caught_up`] answers at once while the projector is failing.
pub async fn usable(state: &AppState, max: Duration) -> bool {
    let Some(views) = state.views.clone() else { return false };
    let mut progress = views.watch();
    let ok = progress.wait_for(|p| p.ready && !p.failed);
    matches!(tokio::time::timeout(max, ok).await, Ok(Ok(_)))
}

/// Runs a query on the projections once they are caught up.
pub async fn read<T>(state: &AppState, f: impl FnOnce(&Views) -> Result<T, ViewsError>) -> Result<T, ApiError> {
    let views = caught_up(state).await?;
    Ok(views.read(f)?)
}

/// A stock hold as the core describes it, from its row.
pub fn stock_hold(row: &HoldRow) -> Hold {
    Hold {
        id: HoldId(row.id),
        by: UserId(row.booker),
        quantity: row.quantity,
        status: row.status,
        created_at_us: row.created_at_us,
        expires_at_us: row.expires_at_us,
        price: row.unit_price,
    }
}

/// A seat hold as the core describes it, from its row and its seats' rows.
pub fn seat_hold(row: &HoldRow, seats: &[SeatRow]) -> SeatHold {
    let seat = |s: &SeatRow| HeldSeat { seat: SeatId(s.seat), holder: UserId(s.holder), price: s.price };
    SeatHold {
        id: HoldId(row.id),
        by: UserId(row.booker),
        seats: seats.iter().filter(|s| !s.released).map(seat).collect(),
        status: row.status,
        created_at_us: row.created_at_us,
        expires_at_us: row.expires_at_us,
        released: seats.iter().filter(|s| s.released).map(seat).collect(),
    }
}
