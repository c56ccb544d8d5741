//! Version 1 of a seated sale's records: its venue and terms, its actions
//! (seats by hand, best available, release, swap) and the summary of its
//! outcomes. Written once; decoded the same way forever.

use serde::{Deserialize, Serialize};
use stampede_core::{
    HoldId, Row, Seat, SeatArea, SeatId, SeatedAction, SeatedConfig, SeatedOutcome, SeatedTerms, Section, UserId, Venue,
};

use super::{OutcomeV1, RecordError};

/// A venue as the log keeps it. Seats are `[label, x, y]` triples: a
/// 50,000-seat stadium is then about a megabyte, once, in the `create` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueV1 {
    pub name: String,
    pub sections: Vec<SectionV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionV1 {
    pub name: String,
    pub tier: String,
    pub price: u64,
    pub colour: String,
    pub rows: Vec<RowV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowV1 {
    pub label: String,
    pub seats: Vec<(String, i32, i32)>,
}

impl From<&Venue> for VenueV1 {
    fn from(v: &Venue) -> Self {
        VenueV1 {
            name: v.name.clone(),
            sections: v
                .sections
                .iter()
                .map(|s| SectionV1 {
                    name: s.name.clone(),
                    tier: s.tier.clone(),
                    price: s.price,
                    colour: s.colour.clone(),
                    rows: s
                        .rows
                        .iter()
                        .map(|r| RowV1 {
                            label: r.label.clone(),
                            seats: r.seats.iter().map(|seat| (seat.label.clone(), seat.x, seat.y)).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl From<VenueV1> for Venue {
    fn from(v: VenueV1) -> Self {
        Venue {
            name: v.name,
            sections: v
                .sections
                .into_iter()
                .map(|s| Section {
                    name: s.name,
                    tier: s.tier,
                    price: s.price,
                    colour: s.colour,
                    rows: s
                        .rows
                        .into_iter()
                        .map(|r| Row {
                            label: r.label,
                            seats: r.seats.into_iter().map(|(label, x, y)| Seat { label, x, y }).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Where best-available looks, as the log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaV1 {
    Any,
    Section(u16),
    Tier(String),
}

/// A seated sale as created: its venue, then its terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatedConfigV1 {
    pub venue: VenueV1,
    pub per_person_limit: u32,
    pub seats_per_hold_max: u32,
    pub hold_ttl_us: i64,
}

impl From<&SeatedConfig> for SeatedConfigV1 {
    fn from(s: &SeatedConfig) -> Self {
        SeatedConfigV1 {
            venue: (&s.venue).into(),
            per_person_limit: s.per_person_limit,
            seats_per_hold_max: s.seats_per_hold_max,
            hold_ttl_us: s.hold_ttl_us,
        }
    }
}

impl TryFrom<SeatedConfigV1> for SeatedConfig {
    type Error = RecordError;

    fn try_from(s: SeatedConfigV1) -> Result<Self, RecordError> {
        let venue: Venue = s.venue.into();
        venue.validate().map_err(|_| RecordError::Invalid("venue"))?;
        Ok(SeatedConfig {
            venue,
            per_person_limit: s.per_person_limit,
            seats_per_hold_max: s.seats_per_hold_max,
            hold_ttl_us: s.hold_ttl_us,
        })
    }
}

/// New terms of a seated sale. Its venue never changes, so an edit does not repeat it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatedTermsV1 {
    pub per_person_limit: u32,
    pub seats_per_hold_max: u32,
    pub hold_ttl_us: i64,
}

impl From<&SeatedTerms> for SeatedTermsV1 {
    fn from(t: &SeatedTerms) -> Self {
        SeatedTermsV1 {
            per_person_limit: t.per_person_limit,
            seats_per_hold_max: t.seats_per_hold_max,
            hold_ttl_us: t.hold_ttl_us,
        }
    }
}

impl From<SeatedTermsV1> for SeatedTerms {
    fn from(t: SeatedTermsV1) -> Self {
        SeatedTerms {
            per_person_limit: t.per_person_limit,
            seats_per_hold_max: t.seats_per_hold_max,
            hold_ttl_us: t.hold_ttl_us,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatedActionV1 {
    HoldSeats {
        seats: Vec<u32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        holders: Vec<u64>,
    },
    HoldBest {
        area: AreaV1,
        count: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        holders: Vec<u64>,
    },
    ReleaseSeat {
        order: u64,
        seat: u32,
    },
    SwapSeat {
        order: u64,
        from: u32,
        to: u32,
    },
}

impl SeatedActionV1 {
    /// The names it is written under; `de.rs` reads a name's record with this part.
    pub const NAMES: &[&str] = &["hold_seats", "hold_best", "release_seat", "swap_seat"];
}

impl From<&SeatedAction> for SeatedActionV1 {
    fn from(a: &SeatedAction) -> Self {
        match a {
            SeatedAction::HoldSeats { seats, holders } => SeatedActionV1::HoldSeats {
                seats: seats.iter().map(|s| s.0).collect(),
                holders: holders.iter().map(|h| h.0).collect(),
            },
            SeatedAction::HoldBest { area, count, holders } => SeatedActionV1::HoldBest {
                area: match area {
                    SeatArea::Any => AreaV1::Any,
                    SeatArea::Section(s) => AreaV1::Section(*s),
                    SeatArea::Tier(t) => AreaV1::Tier(t.clone()),
                },
                count: *count,
                holders: holders.iter().map(|h| h.0).collect(),
            },
            SeatedAction::ReleaseSeat { order, seat } => SeatedActionV1::ReleaseSeat { order: order.0, seat: seat.0 },
            SeatedAction::SwapSeat { order, from, to } => {
                SeatedActionV1::SwapSeat { order: order.0, from: from.0, to: to.0 }
            }
        }
    }
}

impl From<SeatedActionV1> for SeatedAction {
    fn from(a: SeatedActionV1) -> Self {
        match a {
            SeatedActionV1::HoldSeats { seats, holders } => SeatedAction::HoldSeats {
                seats: seats.into_iter().map(SeatId).collect(),
                holders: holders.into_iter().map(UserId).collect(),
            },
            SeatedActionV1::HoldBest { area, count, holders } => SeatedAction::HoldBest {
                area: match area {
                    AreaV1::Any => SeatArea::Any,
                    AreaV1::Section(s) => SeatArea::Section(s),
                    AreaV1::Tier(t) => SeatArea::Tier(t),
                },
                count,
                holders: holders.into_iter().map(UserId).collect(),
            },
            SeatedActionV1::ReleaseSeat { order, seat } => {
                SeatedAction::ReleaseSeat { order: HoldId(order), seat: SeatId(seat) }
            }
            SeatedActionV1::SwapSeat { order, from, to } => {
                SeatedAction::SwapSeat { order: HoldId(order), from: SeatId(from), to: SeatId(to) }
            }
        }
    }
}

/// The hold's id and the seats it has after the command, under the outcome's name.
pub fn summary(o: &SeatedOutcome) -> OutcomeV1 {
    let h = o.hold();
    let kind = match o {
        SeatedOutcome::Held(_) => "seats_held",
        SeatedOutcome::Confirmed(_) => "seats_confirmed",
        SeatedOutcome::Cancelled(_) => "seats_cancelled",
        SeatedOutcome::Refunded(_) => "seats_refunded",
        SeatedOutcome::SeatReleased(_) => "seat_released",
        SeatedOutcome::SeatSwapped(_) => "seat_swapped",
    };
    OutcomeV1 { hold: Some(h.id.0), seats: Some(h.seats.iter().map(|s| s.seat.0).collect()), ..OutcomeV1::named(kind) }
}
