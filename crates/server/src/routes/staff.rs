//! Staff of a sale: the accounts its organizer names to run its gates
//! (`GET/POST /api/sales/{id}/staff`, `DELETE /api/sales/{id}/staff/{user}`).
//! Staff may scan this sale's tickets, fetch its offline kit, sync an
//! offline gate and see its check-in progress
//! ([`crate::routes::tickets::require_gate`]); nothing else, and nothing in
//! any other sale. Only the sale's organizer or an admin names them.
//!
//! The list is a store table ([`stampede_store::Store::add_staff`]), not a
//! command in the sale's log: who may hold a scanner is the organizer's
//! arrangement, not part of the sale's outcome, and scans themselves are
//! logged with their gate. Writes touch SQLite and run in `spawn_blocking`;
//! the check on every scan reads memory only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stampede_store::{StaffMember, StoreError, UserId};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth, IdemKey, parse_id};
use crate::problem::{ApiError, Problem};
use crate::routes::common::wire::fmt_us;
use crate::routes::common::{blocking, require_owner, sale_handle};

/// One staff member: id and display name only (no e-mail address).
#[derive(Serialize, ToSchema)]
pub struct StaffOut {
    pub user_id: u64,
    pub name: String,
    /// When they were named.
    pub since: String,
}

impl From<StaffMember> for StaffOut {
    fn from(m: StaffMember) -> Self {
        StaffOut { user_id: m.person.id.0, name: m.person.name, since: fmt_us(m.since_us) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StaffListOut {
    /// In the order they were named.
    pub staff: Vec<StaffOut>,
    /// The most a sale may have.
    pub max: usize,
}

/// Whom to name, by exactly one of the two fields.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffIn {
    /// Their user id.
    #[serde(default)]
    pub user_id: Option<u64>,
    /// Their exact e-mail address (any case), which the organizer already knows.
    #[serde(default)]
    pub email: Option<String>,
}

/// The sale's staff.
#[utoipa::path(get, path = "/api/sales/{id}/staff", tag = "tickets", params(("id" = u64, Path)),
    responses((status = 200, body = StaffListOut), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StaffListOut>, ApiError> {
    let sale = sale_handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    let (store, sale) = (state.store.clone(), sale.id);
    let staff = blocking(move || Ok(store.staff_of(sale)?)).await?;
    Ok(Json(StaffListOut {
        staff: staff.into_iter().map(StaffOut::from).collect(),
        max: stampede_store::MAX_STAFF_PER_SALE,
    }))
}

/// Name someone staff of the sale: from now on they may run its gates.
/// Naming someone who is staff already answers 200 and changes nothing.
#[utoipa::path(post, path = "/api/sales/{id}/staff", tag = "tickets", params(("id" = u64, Path)),
    request_body = StaffIn,
    responses((status = 201, body = StaffOut), (status = 200, body = StaffOut), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add(
    State(state): State<AppState>,
    auth: Auth,
    // Taken as every change under /api/sales/{id}/ takes it; naming is
    // idempotent by itself, so nothing is stored under it.
    _key: IdemKey,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StaffIn>,
) -> Result<(StatusCode, Json<StaffOut>), ApiError> {
    let sale = sale_handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    let (store, sale, by) = (state.store.clone(), sale.id, auth.user.id);
    let (added, member) = blocking(move || {
        let person = match (body.user_id, body.email) {
            (Some(id), None) => store.person(UserId(id)),
            (None, Some(email)) => store.find_person_by_email(&email)?,
            _ => return Err(ApiError::invalid_field("send exactly one of user_id or email")),
        }
        .ok_or(StoreError::UnknownUser)?;
        let added = store.add_staff(sale, person.id, by)?;
        let member = store.staff_of(sale)?.into_iter().find(|m| m.person.id == person.id);
        Ok((added, member.ok_or(StoreError::NotStaff)?))
    })
    .await?;
    let status = if added { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(member.into())))
}

/// Remove someone from the sale's staff: their next scan is refused.
#[utoipa::path(delete, path = "/api/sales/{id}/staff/{user}", tag = "tickets",
    params(("id" = u64, Path), ("user" = u64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    _key: IdemKey,
    ApiPath((id, user)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let sale = sale_handle(&state, &id)?;
    require_owner(&auth, &sale)?;
    let user = UserId(parse_id(&user, "user")?);
    let (store, sale) = (state.store.clone(), sale.id);
    blocking(move || Ok(store.remove_staff(sale, user)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
