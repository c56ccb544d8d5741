//! What a seated sale's features share: its venue as a creation request
//! gives it (whole, generated, or from the venue library) turned into the
//! core's config, the limits on seats per hold and on a venue's body, and the
//! venue's shapes for the OpenAPI document. Sales create seated sales with
//! it, seats hold in them, venues store the same venues.

use serde::Deserialize;
use stampede_core::{KindConfig, SaleConfig, SeatedConfig, SectionSpec, US_PER_S, Venue};
use stampede_store::{UserId, VenueId};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::Auth;
use crate::problem::ApiError;

use super::{HOLD_SECONDS_MAX, HOLD_SECONDS_MIN, PER_PERSON_MAX, blocking, in_range};

/// The seated part of `POST /api/sales` with `"kind": "seated"`: a venue
/// given whole (`venue`), generated from blocks (`generate`), or stored in
/// the organizer's venue library (`venue_id`, one of their own venues).
#[derive(Deserialize, ToSchema)]
pub struct SeatedRequest {
    #[serde(default)]
    #[schema(value_type = Option<VenueIn>)]
    pub venue: Option<Venue>,
    #[serde(default)]
    pub generate: Option<GenerateRequest>,
    #[serde(default)]
    pub venue_id: Option<u64>,
    #[schema(minimum = 1, maximum = 1000000)]
    pub per_person_limit: i64,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 50)]
    pub seats_per_hold_max: Option<i64>,
    #[schema(minimum = 10, maximum = 86400)]
    pub hold_seconds: i64,
}

/// A venue built from rectangular or curved blocks.
#[derive(Deserialize, ToSchema)]
pub struct GenerateRequest {
    #[schema(max_length = 100)]
    pub name: String,
    #[schema(value_type = Vec<SectionSpecIn>, max_items = 200)]
    pub sections: Vec<SectionSpec>,
}

/// The seated terms of a sale, if it is a seated one.
pub(crate) fn seated_of(config: &SaleConfig) -> Option<&SeatedConfig> {
    match &config.kind {
        KindConfig::Seated(c) => Some(c),
        _ => None,
    }
}

/// Largest body of a request carrying a whole venue (sale creation, import):
/// a 50,000-seat stadium with explicit seats is about 2 MB of JSON.
pub const VENUE_BODY_LEN_MAX: usize = 8 * 1024 * 1024;
/// Most seats one hold may take, whatever the organizer asks.
pub const SEATS_PER_HOLD_LIMIT: i64 = 50;
pub const SEATS_PER_HOLD_DEFAULT: i64 = 8;

/// Turns the seated part of a creation request into the core's config.
pub fn seated_config(req: SeatedRequest) -> Result<SeatedConfig, ApiError> {
    let venue = match (req.venue, req.generate, req.venue_id) {
        (Some(v), None, None) => {
            v.validate()
                .and_then(|()| v.check_overlap())
                .and_then(|()| v.check_prices())
                .map_err(|e| ApiError::venue("venue", e))?;
            v
        }
        (None, Some(g), None) => {
            if g.sections.len() > stampede_core::VENUE_SECTIONS_MAX {
                return Err(ApiError::invalid_field("generate: too many sections"));
            }
            stampede_core::generate(&g.name, &g.sections).map_err(|e| ApiError::venue("generate", e))?
        }
        _ => return Err(ApiError::invalid_field("give exactly one of venue, generate and venue_id")),
    };
    let per_person_limit = in_range(req.per_person_limit, 1, PER_PERSON_MAX, "per_person_limit")?;
    let per_hold = in_range(
        req.seats_per_hold_max.unwrap_or(SEATS_PER_HOLD_DEFAULT),
        1,
        SEATS_PER_HOLD_LIMIT,
        "seats_per_hold_max",
    )?;
    let hold_seconds = in_range(req.hold_seconds, HOLD_SECONDS_MIN, HOLD_SECONDS_MAX, "hold_seconds")?;
    Ok(SeatedConfig {
        venue,
        per_person_limit: u32::try_from(per_person_limit).unwrap_or(u32::MAX),
        seats_per_hold_max: u32::try_from(per_hold).unwrap_or(u32::MAX),
        hold_ttl_us: hold_seconds * US_PER_S,
    })
}

/// Organizer of the venue (its owner) or admin: who may see, use or delete
/// a stored venue.
pub(crate) fn owns_venue(auth: &Auth, owner: UserId) -> bool {
    auth.is_admin() || (auth.can_organize() && owner == auth.user.id)
}

/// For `POST /api/sales`: a seated request naming a stored venue by
/// `venue_id` gets that venue as its `venue`. The venue must be the creating
/// organizer's own (any venue for an admin); otherwise, or when `venue` or
/// `generate` is given too, the answer is 422, the same whether the venue
/// exists or not.
pub(crate) async fn resolve_venue_id(
    state: &AppState,
    auth: &Auth,
    seated: &mut SeatedRequest,
) -> Result<(), ApiError> {
    let Some(raw) = seated.venue_id else { return Ok(()) };
    if seated.venue.is_some() || seated.generate.is_some() {
        return Err(ApiError::invalid_field("give exactly one of venue, generate and venue_id"));
    }
    let store = state.store.clone();
    match blocking(move || Ok(store.venue(VenueId(raw))?)).await? {
        Some((owner, venue)) if owns_venue(auth, owner) => {
            seated.venue = Some(venue);
            seated.venue_id = None;
            Ok(())
        }
        _ => Err(ApiError::invalid_field(format!("venue_id: you have no venue {raw}"))),
    }
}

// The venue's wire shapes, for the document only: the core's own types
// (`stampede_core::Venue`, `SectionSpec`) carry no OpenAPI derive, as the core
// depends on nothing of the edge. Whether a venue is drawable (labels unique,
// seats apart, at most 100,000 seats) is checked by `Venue::validate`: 422.

/// A whole venue, as `POST /api/venues` and a seated sale take it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct VenueIn {
    #[schema(max_length = 100)]
    name: String,
    #[schema(min_items = 1, max_items = 200)]
    sections: Vec<SectionIn>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SectionIn {
    #[schema(max_length = 100)]
    name: String,
    /// Price tier; sections of one tier share a price.
    #[schema(max_length = 100)]
    tier: String,
    /// One seat's price in the currency's minor unit, at most `PRICE_MAX`.
    #[schema(maximum = 1000000000000.0)]
    price: u64,
    /// `#rrggbb`.
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    colour: String,
    /// Front row first.
    #[schema(min_items = 1, max_items = 500)]
    rows: Vec<RowIn>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct RowIn {
    #[schema(max_length = 16)]
    label: String,
    /// Left to right as seen from the stage.
    #[schema(min_items = 1, max_items = 1000)]
    seats: Vec<SeatIn>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SeatIn {
    #[schema(max_length = 16)]
    label: String,
    #[schema(minimum = -1000000, maximum = 1000000)]
    x: i32,
    #[schema(minimum = -1000000, maximum = 1000000)]
    y: i32,
}

/// One block of seats for `generate`: `rows` × `seats_per_row`, straight or curved.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SectionSpecIn {
    #[schema(max_length = 100)]
    name: String,
    #[schema(max_length = 100)]
    tier: String,
    #[schema(maximum = 1000000000000.0)]
    price: u64,
    #[schema(pattern = "^#[0-9A-Fa-f]{6}$")]
    colour: String,
    #[schema(minimum = 1, maximum = 500)]
    rows: u32,
    #[schema(minimum = 1, maximum = 1000)]
    seats_per_row: u32,
    /// Where the front row's middle is drawn.
    x: i32,
    y: i32,
    /// 0 for straight rows; else the arc each row spans.
    #[schema(minimum = 0.0, maximum = 180.0)]
    curve_degrees: f64,
    #[schema(minimum = 1, maximum = 1000)]
    spacing: i32,
}
