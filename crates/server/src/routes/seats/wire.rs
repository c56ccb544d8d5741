//! What the seat routes read and answer: a sale's venue for drawing, seat
//! hold requests (chosen or best available), giving back or swapping one
//! seat, and my seats. A hold of seats itself (`SeatHoldOut`) is shared
//! vocabulary, in `routes::common::wire`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::common::wire::SeatHoldOut;

/// A sale's venue for drawing: sections with their rows; each seat is
/// `[label, x, y]` and its id is the row's `first_seat` plus its position.
#[derive(Serialize, ToSchema)]
pub struct VenueLayoutOut {
    pub name: String,
    pub seats: u32,
    pub sections: Vec<SectionLayoutOut>,
}

#[derive(Serialize, ToSchema)]
pub struct SectionLayoutOut {
    pub index: u16,
    pub name: String,
    pub tier: String,
    pub price: u64,
    pub colour: String,
    pub first_seat: u32,
    pub rows: Vec<RowLayoutOut>,
}

#[derive(Serialize, ToSchema)]
pub struct RowLayoutOut {
    pub label: String,
    pub first_seat: u32,
    /// Each seat as `[label, x, y]`.
    #[schema(schema_with = seat_tuples)]
    pub seats: Vec<(String, i32, i32)>,
}

/// Where best-available looks: a section (by index or name) or a price tier.
#[derive(Deserialize, ToSchema)]
pub struct BestRequest {
    /// At most the sale's `seats_per_hold_max` (422 `/problems/too-many-seats` beyond it).
    #[schema(minimum = 1, maximum = 50)]
    pub count: i64,
    #[serde(default)]
    #[schema(schema_with = section_ref)]
    pub section: Option<SectionRef>,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub tier: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SectionRef {
    Index(u16),
    Name(String),
}

/// Body of `POST /api/sales/{id}/seats/holds`: `seats` (chosen) or `best`.
/// `holders[i]` is who sits in the i-th seat (you or a friend); omitted: you.
#[derive(Deserialize, ToSchema)]
pub struct SeatHoldRequest {
    #[serde(default)]
    #[schema(max_items = 50)]
    pub seats: Option<Vec<u32>>,
    #[serde(default)]
    pub best: Option<BestRequest>,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub holders: Option<Vec<u64>>,
}

#[derive(Deserialize, ToSchema)]
pub struct ReleaseSeatRequest {
    pub seat: u32,
}

#[derive(Deserialize, ToSchema)]
pub struct SwapSeatRequest {
    pub from: u32,
    pub to: u32,
}

#[derive(Serialize, ToSchema)]
pub struct MySeatsOut {
    /// Holds and orders you booked, and those where a friend booked a seat for you.
    pub seats: Vec<SeatHoldOut>,
}

/// A venue row's seats as sent: `[label, x, y]` tuples.
pub fn seat_tuples() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ArrayItems, ObjectBuilder, Type};
    let coordinate = || ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(i32::MIN)).maximum(Some(i32::MAX));
    let seat = ArrayBuilder::new()
        .prefix_items([
            ObjectBuilder::new().schema_type(Type::String).build(),
            coordinate().build(),
            coordinate().build(),
        ])
        .items(ArrayItems::False)
        .min_items(Some(3))
        .max_items(Some(3));
    ArrayBuilder::new().items(seat).build()
}

/// Where best-available looks: a section by index (`u16`) or by name, or nothing.
pub fn section_ref() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(u16::MAX)))
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(stampede_core::VENUE_NAME_LEN_MAX)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .build()
        .into()
}
