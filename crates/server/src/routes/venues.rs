//! The organizers' venue library (issue #4): import a venue as JSON or
//! generate one from blocks, list yours, export one (the same JSON, ready to
//! import again) and delete one. Naming one by id when creating a seated
//! sale (`resolve_venue_id`) is shared with the sales, in `routes::common::seated`.
//!
//! Organizers see and touch only their own venues; someone else's answers
//! 404 exactly like a venue that does not exist. Admins see all of them.
//! Store calls run in `spawn_blocking`: a stadium is megabytes of JSON to
//! encode, write with an fsync, read and parse.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_core::Venue;
use stampede_store::VenueId;

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth, parse_id};
use crate::problem::{ApiError, Problem};
use crate::routes::common::seated::{VenueIn, owns_venue};
use crate::routes::common::{self, blocking};

pub mod wire;
use wire::*;

fn require_organizer(auth: &Auth) -> Result<(), ApiError> {
    common::require_organizer(auth, "only organizers keep venues")
}

/// Whether `auth` may see and change a venue stored by `owner`.
fn no_such_venue() -> ApiError {
    ApiError::not_found("no such venue")
}

/// The venue a creation request describes (validated later, by the store).
fn requested_venue(req: CreateVenueRequest) -> Result<Venue, ApiError> {
    match (req.name, req.sections, req.generate) {
        (Some(name), Some(sections), None) => {
            let venue = Venue { name, sections };
            // The store checks the bounds; a venue over them is refused there, as before.
            if venue.validate().is_ok() {
                venue.check_overlap().and_then(|()| venue.check_prices()).map_err(|e| ApiError::venue("venue", e))?;
            }
            Ok(venue)
        }
        (None, None, Some(g)) => {
            if g.sections.len() > stampede_core::VENUE_SECTIONS_MAX {
                return Err(ApiError::invalid_field("generate: too many sections"));
            }
            stampede_core::generate(&g.name, &g.sections).map_err(|e| ApiError::venue("generate", e))
        }
        _ => Err(ApiError::invalid_field("send either a venue (name and sections) or generate, not both")),
    }
}

/// Store a venue: import its JSON, or generate it from blocks (organizers).
#[utoipa::path(post, path = "/api/venues", tag = "venues", request_body = CreateVenueRequest,
    responses((status = 201, body = VenueSummaryOut, headers(("location" = String, description = "/api/venues/{id}"))),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)))]
pub async fn create_venue(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<CreateVenueRequest>,
) -> Result<Response, ApiError> {
    require_organizer(&auth)?;
    let store = state.store.clone();
    let owner = auth.user.id;
    let summary = blocking(move || {
        let venue = requested_venue(req)?;
        Ok(store.create_venue(owner, &venue)?)
    })
    .await?;
    let location = HeaderValue::from_str(&format!("/api/venues/{}", summary.id)).map_err(|e| ApiError::internal(&e))?;
    let mut res = (StatusCode::CREATED, Json(VenueSummaryOut::from(summary))).into_response();
    res.headers_mut().insert(header::LOCATION, location);
    Ok(res)
}

/// Your venues; an admin gets everybody's.
#[utoipa::path(get, path = "/api/venues", tag = "venues",
    responses((status = 200, body = VenuesOut), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_venues(State(state): State<AppState>, auth: Auth) -> Result<Json<VenuesOut>, ApiError> {
    require_organizer(&auth)?;
    let store = state.store.clone();
    let venues =
        blocking(move || Ok(if auth.is_admin() { store.all_venues()? } else { store.venues_of(auth.user.id)? }))
            .await?;
    Ok(Json(VenuesOut { venues: venues.into_iter().map(VenueSummaryOut::from).collect() }))
}

/// Export a venue: its JSON exactly as stored, which `POST /api/venues` takes back as is.
#[utoipa::path(get, path = "/api/venues/{id}", tag = "venues", params(("id" = u64, Path)),
    responses((status = 200, description = "the venue, as POST /api/venues takes it", body = VenueIn),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_venue(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    require_organizer(&auth)?;
    let id = VenueId(parse_id(&id, "venue")?);
    let store = state.store.clone();
    let json = match blocking(move || Ok(store.venue_json(id)?)).await? {
        Some((owner, json)) if owns_venue(&auth, owner) => json,
        _ => return Err(no_such_venue()),
    };
    let mut res = json.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    Ok(res)
}

/// Delete a venue. Sales created from it keep their own copy.
#[utoipa::path(delete, path = "/api/venues/{id}", tag = "venues", params(("id" = u64, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_venue(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    require_organizer(&auth)?;
    let id = VenueId(parse_id(&id, "venue")?);
    let store = state.store.clone();
    blocking(move || match store.venue_summary(id)? {
        // Ids are never reused, so the venue checked is the venue deleted.
        Some(v) if owns_venue(&auth, v.owner) => Ok(store.delete_venue(id)?),
        _ => Err(no_such_venue()),
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
