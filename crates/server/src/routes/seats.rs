//! Seated sales: the venue's layout, holding seats (chosen, or best
//! available, for oneself and friends), confirming, cancelling, refunding,
//! giving back or swapping one seat, and the live seat map. Creating one
//! from a venue is the sales' route, with the parsing both share in
//! `routes::common::seated`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_core::{Action, HoldId, KindConfig, SeatArea, SeatId, SeatedAction, SeatedConfig, UserId};
use stampede_engine::SaleHandle;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, ApiWebSocket, Auth, IdemKey, SalePass, parse_id};
use crate::live;
use crate::problem::{ApiError, Problem};
use crate::routes::common::seated::seated_of;
// The limits of seated sales live in the shared layer, as the sales route
// that creates seated sales needs them too; named here as well, where seats
// are held (the OpenAPI test reads them here).
use crate::routes::common::pay::{check_swap, refund_with_wallet};
pub use crate::routes::common::seated::{SEATS_PER_HOLD_DEFAULT, SEATS_PER_HOLD_LIMIT, VENUE_BODY_LEN_MAX};
use crate::routes::common::wire::SeatHoldOut;
use crate::routes::common::{
    HoldVerb, ReceiptHeader, check_friends, command, sale_handle as handle, seat_hold_answer, settle_hold,
};
use crate::seatmap::{SeatCursor, SeatFrame};

pub mod wire;
use wire::*;

fn seated_sale(state: &AppState, raw: &str) -> Result<SaleHandle, ApiError> {
    let sale = handle(state, raw)?;
    if !matches!(sale.config.kind, KindConfig::Seated(_)) {
        return Err(stampede_core::Rejection::WrongSaleKind.into());
    }
    Ok(sale)
}

// ---------------------------------------------------------------- layout

fn layout(config: &SeatedConfig) -> VenueLayoutOut {
    let index = stampede_core::SeatIndex::new(&config.venue);
    VenueLayoutOut {
        name: config.venue.name.clone(),
        seats: index.seat_count(),
        sections: config
            .venue
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| SectionLayoutOut {
                index: u16::try_from(i).unwrap_or(u16::MAX),
                name: s.name.clone(),
                tier: s.tier.clone(),
                price: s.price,
                colour: s.colour.clone(),
                first_seat: index.section_seats(i).start,
                rows: s
                    .rows
                    .iter()
                    .zip(index.section_rows(i))
                    .map(|(r, span)| RowLayoutOut {
                        label: r.label.clone(),
                        first_seat: span.start,
                        seats: r.seats.iter().map(|s| (s.label.clone(), s.x, s.y)).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The venue of a seated sale, for drawing the map. It never changes.
#[utoipa::path(get, path = "/api/sales/{id}/venue", tag = "seats", params(("id" = u64, Path)),
    responses((status = 200, body = VenueLayoutOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn venue(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let sale = seated_sale(&state, &id)?;
    let text = state.seatmaps.layout(sale.id, || seated_of(&sale.config).map(layout))?;
    let mut res = text.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600, immutable"));
    Ok(res)
}

// ---------------------------------------------------------------- live map

/// The seat map now: the same snapshot a WebSocket viewer gets first.
#[utoipa::path(get, path = "/api/sales/{id}/seats", tag = "seats", params(("id" = u64, Path)),
    responses((status = 200, body = crate::seatmap::Snapshot), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn seat_map(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let sale = seated_sale(&state, &id)?;
    let frames = state.seatmaps.watch(&sale).ok_or_else(|| ApiError::internal(&"seated sale without seats"))?;
    let text = frames.borrow().own.snapshot.clone();
    let mut res = text.as_str().to_owned().into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Live seat map: a snapshot at once, then deltas (at most 10 a second).
/// The single-stream form: a page gets the same as `seats` messages of the
/// sale's live socket (`GET live/ws?seats=true`) beside its other streams.
#[utoipa::path(get, path = "/api/sales/{id}/seats/ws", tag = "seats", params(("id" = u64, Path)),
    responses((status = 101), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn watch(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiWebSocket(ws): ApiWebSocket,
) -> Result<Response, ApiError> {
    let sale = seated_sale(&state, &id)?;
    let frames = state.seatmaps.watch(&sale).ok_or_else(|| ApiError::internal(&"seated sale without seats"))?;
    let guard = state.websockets.open();
    let mut cursor = SeatCursor::default();
    let text = move |f: &Arc<SeatFrame>, _first: bool| cursor.next(f, |f| &f.own);
    Ok(live::watcher_upgrade(ws).on_upgrade(move |socket| live::serve_watcher(socket, frames, text, guard)))
}

// ---------------------------------------------------------------- holding

async fn seat_command(
    state: &AppState,
    auth: &Auth,
    sale: &SaleHandle,
    key: IdemKey,
    action: Action,
) -> Result<(ReceiptHeader, SeatHoldOut), ApiError> {
    let (outcome, receipt) = command(state, sale, auth, key, action).await?;
    Ok((receipt, seat_hold_answer(state, sale, outcome)?))
}

/// Hold seats, all or none: the ones you chose, or the best adjacent ones.
#[utoipa::path(post, path = "/api/sales/{id}/seats/holds", tag = "seats", params(("id" = u64, Path)),
    request_body = SeatHoldRequest,
    responses((status = 201, body = SeatHoldOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn hold(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    pass: SalePass,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SeatHoldRequest>,
) -> Result<(StatusCode, ReceiptHeader, Json<SeatHoldOut>), ApiError> {
    let sale = seated_sale(&state, &id)?;
    pass.check(&state, &auth, &sale)?;
    let config = seated_of(&sale.config).ok_or_else(|| ApiError::internal(&"seated sale without seats"))?;
    let max = config.seats_per_hold_max as usize;
    let me = auth.core_id();
    let holders: Vec<UserId> = req.holders.unwrap_or_default().into_iter().map(UserId).collect();
    if holders.len() > max {
        return Err(stampede_core::Rejection::TooManySeats { max: config.seats_per_hold_max }.into());
    }
    let friends: Vec<u64> = holders.iter().filter(|h| **h != me).map(|h| h.0).collect();
    if !friends.is_empty() {
        check_friends(&state, me.0, &friends).await?;
    }
    let action = match (req.seats, req.best) {
        (Some(seats), None) => {
            if seats.len() > max {
                return Err(stampede_core::Rejection::TooManySeats { max: config.seats_per_hold_max }.into());
            }
            Action::Seated(SeatedAction::HoldSeats { seats: seats.into_iter().map(SeatId).collect(), holders })
        }
        (None, Some(best)) => {
            let count = match u32::try_from(best.count) {
                Ok(c) if c >= 1 && c as usize <= max => c,
                _ => return Err(stampede_core::Rejection::TooManySeats { max: config.seats_per_hold_max }.into()),
            };
            let area = match (best.section, best.tier) {
                (None, None) => SeatArea::Any,
                (Some(SectionRef::Index(i)), None) => SeatArea::Section(i),
                (Some(SectionRef::Name(n)), None) => {
                    let i = config.venue.sections.iter().position(|s| s.name == n);
                    match i.and_then(|i| u16::try_from(i).ok()) {
                        Some(i) => SeatArea::Section(i),
                        None => return Err(stampede_core::Rejection::UnknownSection.into()),
                    }
                }
                (None, Some(t)) if t.chars().count() <= stampede_core::VENUE_NAME_LEN_MAX => SeatArea::Tier(t),
                _ => return Err(ApiError::invalid_field("best: give a section or a tier, not both")),
            };
            Action::Seated(SeatedAction::HoldBest { area, count, holders })
        }
        _ => return Err(ApiError::invalid_field("give exactly one of seats and best")),
    };
    let (receipt, out) = seat_command(&state, &auth, &sale, key, action).await?;
    Ok((StatusCode::CREATED, receipt, Json(out)))
}

fn hold_ids(state: &AppState, sale: &str, hold: &str) -> Result<(SaleHandle, HoldId), ApiError> {
    Ok((seated_sale(state, sale)?, HoldId(parse_id(hold, "hold")?)))
}

/// Pay for a seat hold; it becomes an order with the same id.
#[utoipa::path(post, path = "/api/sales/{id}/seats/holds/{hold}/confirm", tag = "seats",
    params(("id" = u64, Path), ("hold" = u64, Path)),
    responses((status = 200, body = SeatHoldOut), (status = 402, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn confirm(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, hold)): ApiPath<(String, String)>,
) -> Result<(ReceiptHeader, Json<SeatHoldOut>), ApiError> {
    let (receipt, answer) = settle_hold(&state, &auth, key, &sale, &hold, HoldVerb::Confirm).await?;
    Ok((receipt, Json(answer)))
}

/// Give a seat hold back before it expires.
#[utoipa::path(delete, path = "/api/sales/{id}/seats/holds/{hold}", tag = "seats",
    params(("id" = u64, Path), ("hold" = u64, Path)),
    responses((status = 200, body = SeatHoldOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, hold)): ApiPath<(String, String)>,
) -> Result<(ReceiptHeader, Json<SeatHoldOut>), ApiError> {
    let (receipt, answer) = settle_hold(&state, &auth, key, &sale, &hold, HoldVerb::Cancel).await?;
    Ok((receipt, Json(answer)))
}

/// Refund a whole seat order.
#[utoipa::path(post, path = "/api/sales/{id}/seats/orders/{order}/refund", tag = "seats",
    params(("id" = u64, Path), ("order" = u64, Path)),
    responses((status = 200, body = SeatHoldOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn refund(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, order)): ApiPath<(String, String)>,
) -> Result<(ReceiptHeader, Json<SeatHoldOut>), ApiError> {
    let (receipt, answer) = settle_hold(&state, &auth, key, &sale, &order, HoldVerb::Refund).await?;
    Ok((receipt, Json(answer)))
}

/// Give back one seat of a hold or order; the others stay.
#[utoipa::path(post, path = "/api/sales/{id}/seats/holds/{hold}/release", tag = "seats",
    params(("id" = u64, Path), ("hold" = u64, Path)), request_body = ReleaseSeatRequest,
    responses((status = 200, body = SeatHoldOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn release(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, hold)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<ReleaseSeatRequest>,
) -> Result<(ReceiptHeader, Json<SeatHoldOut>), ApiError> {
    let (sale, order) = hold_ids(&state, &sale, &hold)?;
    let seat = SeatId(req.seat);
    let action = Action::Seated(SeatedAction::ReleaseSeat { order, seat });
    // A seat given back from a paid order goes back to the wallet that paid.
    let (outcome, receipt) = refund_with_wallet(&state, auth, key, sale.clone(), order, Some(seat), action).await?;
    Ok((receipt, Json(seat_hold_answer(&state, &sale, outcome)?)))
}

/// Exchange one seat of a hold or order for a free one, in one step.
#[utoipa::path(post, path = "/api/sales/{id}/seats/holds/{hold}/swap", tag = "seats",
    params(("id" = u64, Path), ("hold" = u64, Path)), request_body = SwapSeatRequest,
    responses((status = 200, body = SeatHoldOut), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn swap(
    State(state): State<AppState>,
    auth: Auth,
    key: IdemKey,
    ApiPath((sale, hold)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<SwapSeatRequest>,
) -> Result<(ReceiptHeader, Json<SeatHoldOut>), ApiError> {
    let (sale, order) = hold_ids(&state, &sale, &hold)?;
    // A paid order keeps its worth: no money moves on a swap.
    check_swap(&state, &sale, order, SeatId(req.from), SeatId(req.to)).await?;
    let action = Action::Seated(SeatedAction::SwapSeat { order, from: SeatId(req.from), to: SeatId(req.to) });
    let (receipt, out) = seat_command(&state, &auth, &sale, key, action).await?;
    Ok((receipt, Json(out)))
}

/// Your seat holds and orders in every seated sale, including seats friends booked for you.
#[utoipa::path(get, path = "/api/me/seats", tag = "seats", responses((status = 200, body = MySeatsOut)))]
pub async fn my_seats(State(state): State<AppState>, auth: Auth) -> Result<Json<MySeatsOut>, ApiError> {
    let me = auth.core_id();
    let rows = crate::projections::read(&state, |v| v.seat_holds_of(me.0)).await?;
    let mut seats = Vec::with_capacity(rows.len());
    for (row, seat_rows) in &rows {
        // The sale's configuration from the engine's registry: no message to its task.
        let Some(sale) = state.engine.sale(row.sale).filter(|s| matches!(s.config.kind, KindConfig::Seated(_))) else {
            continue;
        };
        let index = state.seatmaps.index(sale.id, &sale.config);
        let hold = crate::projections::seat_hold(row, seat_rows);
        seats.push(SeatHoldOut::new(sale.id, &sale.config, &index, &hold)?);
    }
    Ok(Json(MySeatsOut { seats }))
}
