//! A sale's one live socket: every live stream a page needs (status, stock,
//! drop, waiting room, the seat map on request, and for the sale's organizer
//! the dashboard) as typed messages over one WebSocket. The broadcasters are in `crate::live`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use crate::AppState;
use crate::extract::{ApiPath, ApiQuery, ApiWebSocket, Auth};
use crate::live::{self, LiveMessage};
use crate::problem::{ApiError, Problem};
use crate::routes::common::{require_owner, sale_handle as handle};

pub mod wire;
use wire::*;

/// Every live stream of a sale over one WebSocket. Each text frame is one
/// JSON message told apart by `type`:
/// `status` (status and sold-out, at once on a change), `stock` (stock
/// sales: units left, held, sold), `drop` (drops: counts and the first 100
/// ranks of the leaderboard), `queue` (sales with a waiting room: the shared
/// waiting-room status, as `GET queue` with `type` `queue`) and, with
/// `?dashboard=true` for the sale's organizer or an admin, `dashboard`.
/// Every message the sale has is sent at once, then each one again when it
/// changes, coalesced to at most one per 250 ms (slower with very many
/// watchers) except status changes. Each carries `seq`, increasing.
/// A seated sale's seat map comes only on request, with `?seats=true` or by
/// sending `{"subscribe":"seats"}` (again: a new snapshot): `seats` messages,
/// `form` `snapshot` first, then `form` `delta`s that each continue the last
/// `seq` (at most 10 a second), exactly as `GET seats/ws` (the single-stream
/// form) sends them. Anything else the client sends is ignored; the server
/// pings every 20 s.
#[utoipa::path(get, path = "/api/sales/{id}/live/ws", tag = "live", params(("id" = u64, Path), LiveQuery),
    responses((status = 101, description = "switching to the WebSocket; each message is a LiveMessage", body = LiveMessage),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn watch(
    State(state): State<AppState>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    ApiWebSocket(ws): ApiWebSocket,
) -> Result<Response, ApiError> {
    let sale = handle(&state, &id)?;
    if q.dashboard {
        require_owner(&auth?, &sale)?;
        same_origin(&headers)?;
    }
    let seats = state.seatmaps.watch(&sale);
    let feeds = state.live.feeds(&state.engine, &state.store, &sale, q.dashboard, seats, q.seats);
    let guard = state.websockets.open();
    Ok(live::watcher_upgrade(ws).on_upgrade(move |socket| live::serve_live(socket, feeds, guard)))
}

/// A browser sends the session cookie with a WebSocket opened from any
/// site, and WebSockets have no CSRF header: a socket that carries
/// organizer-only numbers must come from a page of this server.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(()); // not a browser
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(o), Some(h)) if o.eq_ignore_ascii_case(h) => Ok(()),
        _ => Err(ApiError::forbidden("the dashboard stream is only for this server's pages")),
    }
}
