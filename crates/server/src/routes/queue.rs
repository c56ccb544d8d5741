//! Waiting rooms: joining, one's own place and pass, the shared live status
//! over REST and WebSocket, and the organizer's proof-of-work dial.

use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_core::{Action, KindConfig, Outcome, POW_BITS_MAX, PassState, QueueEntry, Rejection};
use stampede_engine::SaleHandle;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiWebSocket, Auth, IdemKey};
use crate::listener::PeerAddr;
use crate::live::{self, Published};
use crate::pass::PassClaims;
use crate::problem::{ApiError, Problem};
use crate::routes::common::wire::{QueueStatusOut, fmt_us};
use crate::routes::common::{ReceiptHeader, command, require_owner, sale_handle as handle};

pub mod wire;
use wire::*;

fn room(state: &AppState, raw: &str) -> Result<SaleHandle, ApiError> {
    let sale = handle(state, raw)?;
    if sale.config.queue.is_none() {
        return Err(Rejection::NoWaitingRoom.into());
    }
    Ok(sale)
}

/// The most one person may buy in the sale: what a pass is good for.
fn per_person_limit(sale: &SaleHandle) -> u32 {
    match &sale.config.kind {
        KindConfig::Stock(c) => c.per_person_limit,
        KindConfig::Seated(c) => c.per_person_limit,
        KindConfig::Drop(_) => 1,
    }
}

fn ticket_out(state: &AppState, sale: &SaleHandle, e: &QueueEntry, now_us: i64) -> QueueTicketOut {
    let live = match e.pass {
        PassState::Admitted { expires_at_us, .. } if expires_at_us > now_us => Some(expires_at_us),
        _ => None,
    };
    let limit = per_person_limit(sale);
    let ended_at_us = match e.pass {
        PassState::Admitted { expires_at_us, .. } if expires_at_us <= now_us => Some(expires_at_us),
        PassState::Used { at_us } | PassState::Expired { at_us } => Some(at_us),
        _ => None,
    };
    let sale = sale.id;
    QueueTicketOut {
        sale_id: sale,
        ticket: e.ticket,
        place: e.place,
        admitted: !matches!(e.pass, PassState::Waiting),
        pass_state: match e.pass {
            PassState::Admitted { expires_at_us, .. } if expires_at_us <= now_us => "expired",
            other => other.as_str(),
        },
        pass: live.map(|exp_us| state.passes.issue(&PassClaims { sale, user: e.by.0, ticket: e.ticket, exp_us })),
        pass_expires_at: live.map(fmt_us),
        pass_expires_at_us: live,
        per_person_limit: limit,
        bought: e.bought,
        pass_left: if live.is_some() { limit.saturating_sub(e.bought) } else { 0 },
        pass_ended_at: ended_at_us.map(fmt_us),
        pass_ended_at_us: ended_at_us,
    }
}

/// One's own entry from what the sale task published once durable (the
/// engine's `DurableRoom`): no message to the task.
async fn my_entry(state: &AppState, sale: &SaleHandle, auth: &Auth) -> Result<Option<QueueEntry>, ApiError> {
    Ok(state.engine.queue_entry(sale.id, auth.core_id()).await?)
}

/// Take a place in the waiting room (proof of work required). Joining again
/// returns the same ticket and place.
#[utoipa::path(post, path = "/api/sales/{id}/queue/join", tag = "waiting room", params(("id" = u64, Path)),
    request_body = JoinRequest,
    responses((status = 200, body = QueueTicketOut), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
pub async fn join(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<JoinRequest>,
) -> Result<(ReceiptHeader, Json<QueueTicketOut>), ApiError> {
    let sale = room(&state, &id)?;
    // A refresh or a second tab is answered from the published room, without
    // a command. (Two joins at once both go to the sale, which answers the
    // second with the first's place.)
    if let Some(e) = my_entry(&state, &sale, &auth).await? {
        return Ok((ReceiptHeader(None), Json(ticket_out(&state, &sale, &e, state.engine.now_us()))));
    }
    let address = state.passes.address_tag(peer.ip());
    let action = Action::Join { nonce: req.nonce, address };
    match command(&state, &sale, &auth, key, action).await? {
        (Outcome::Joined(e), receipt) => Ok((receipt, Json(ticket_out(&state, &sale, &e, state.engine.now_us())))),
        (other, _) => Err(ApiError::internal(&format!("unexpected outcome {other:?}"))),
    }
}

/// Your ticket, place, and pass once admitted: what it is good for and when
/// it ends. Not being in line is an ordinary state, not an error: 204.
#[utoipa::path(get, path = "/api/sales/{id}/queue/me", tag = "waiting room", params(("id" = u64, Path)),
    responses((status = 200, body = QueueTicketOut), (status = 204, description = "you have not joined this line"),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn me(State(state): State<AppState>, auth: Auth, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let sale = room(&state, &id)?;
    match my_entry(&state, &sale, &auth).await? {
        Some(e) => Ok(Json(ticket_out(&state, &sale, &e, state.engine.now_us())).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// The waiting room's shared live status: the newest message WebSocket watchers got.
#[utoipa::path(get, path = "/api/sales/{id}/queue", tag = "waiting room", params(("id" = u64, Path)),
    responses((status = 200, body = QueueStatusOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn status(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let sale = room(&state, &id)?;
    let text = state.live.latest(&sale).text.clone();
    let mut res = text.as_str().to_owned().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// WebSocket of the shared live status: the current message at once, then one per change.
#[utoipa::path(get, path = "/api/sales/{id}/queue/ws", tag = "waiting room", params(("id" = u64, Path)),
    responses((status = 101), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn watch(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiWebSocket(ws): ApiWebSocket,
) -> Result<Response, ApiError> {
    let sale = room(&state, &id)?;
    let updates = state.live.watch(&sale);
    let guard = state.websockets.open();
    Ok(live::watcher_upgrade(ws)
        .on_upgrade(move |socket| live::serve_watcher(socket, updates, |p: &Arc<Published>, _| p.text.clone(), guard)))
}

/// Change the proof-of-work difficulty while the sale runs (its organizer or an admin).
#[utoipa::path(put, path = "/api/sales/{id}/queue/pow", tag = "waiting room", params(("id" = u64, Path)),
    request_body = PowRequest,
    responses((status = 200, body = QueueStatusOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn set_pow(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<PowRequest>,
) -> Result<Response, ApiError> {
    let sale = room(&state, &id)?;
    require_owner(&auth, &sale)?;
    let bits = match u8::try_from(req.pow_bits) {
        Ok(b) if b <= POW_BITS_MAX => b,
        _ => return Err(ApiError::invalid_field(format!("pow_bits must be between 0 and {POW_BITS_MAX}"))),
    };
    let receipt = match command(&state, &sale, &auth, key, Action::SetPowBits { bits }).await? {
        (Outcome::PowSet { .. }, receipt) => receipt,
        (other, _) => return Err(ApiError::internal(&format!("unexpected outcome {other:?}"))),
    };
    let live = state.engine.live(sale.id).await?;
    let out = QueueStatusOut::new(state.live.latest(&sale).seq, sale.id, &live, None);
    Ok((receipt, Json(out)).into_response())
}

/// The public key passes are signed with, so anyone can check one.
#[utoipa::path(get, path = "/api/queue/pass-key", tag = "waiting room", responses((status = 200, body = PassKeyOut)))]
pub async fn pass_key(State(state): State<AppState>) -> Json<PassKeyOut> {
    Json(PassKeyOut { algorithm: "ed25519", public_key: state.passes.public_key() })
}
