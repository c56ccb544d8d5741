//! What the venue library's routes read and answer.

use serde::{Deserialize, Serialize};
use stampede_core::Section;
use stampede_store::VenueSummary;
use utoipa::ToSchema;

use crate::routes::common::seated::{GenerateRequest, SectionIn};
use crate::routes::common::wire::fmt_us;

/// `POST /api/venues`: a whole venue (`name` and `sections`, the export
/// format), or `generate` (blocks, as for a seated sale); not both.
#[derive(Deserialize, ToSchema)]
pub struct CreateVenueRequest {
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<SectionIn>>, max_items = 200)]
    pub sections: Option<Vec<Section>>,
    #[serde(default)]
    pub generate: Option<GenerateRequest>,
}

/// A stored venue without its seats.
#[derive(Serialize, ToSchema)]
pub struct VenueSummaryOut {
    pub id: u64,
    /// Who stored it (0: the operator's admin token).
    pub owner: u64,
    pub name: String,
    pub seats: u32,
    pub sections: u32,
    /// When it was stored (RFC 3339).
    pub created_at: String,
}

impl From<VenueSummary> for VenueSummaryOut {
    fn from(v: VenueSummary) -> Self {
        VenueSummaryOut {
            id: v.id.0,
            owner: v.owner.0,
            name: v.name,
            seats: v.seats,
            sections: v.sections,
            created_at: fmt_us(v.created_us),
        }
    }
}

/// `GET /api/venues`.
#[derive(Serialize, ToSchema)]
pub struct VenuesOut {
    /// Oldest first: yours, or, for an admin, everybody's (at most 10,000).
    pub venues: Vec<VenueSummaryOut>,
}
