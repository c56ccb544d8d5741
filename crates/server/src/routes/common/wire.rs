//! The wire vocabulary several features speak: times, the text rules as JSON
//! Schema, amounts, the waiting room's and the drop leaderboard's live
//! messages (the routes and the live sockets send the same ones), and a
//! hold of seats (seat routes answer with it, an order lookup shows it).
//! Wire types are kept apart from the core's types so the wire format
//! changes only on purpose; each feature's own are in its `wire.rs`.

use serde::Serialize;
use stampede_core::{HeldSeat, SaleConfig, SeatHold, SeatedConfig, Venue};
use stampede_engine::LiveView;
use utoipa::ToSchema;

use super::seated::seated_of;

/// RFC 3339 in UTC with microseconds.
pub fn fmt_us(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map(|t| t.to_string()).unwrap_or_default()
}

pub fn parse_time(raw: &str, field: &str) -> Result<i64, crate::problem::ApiError> {
    raw.parse::<jiff::Timestamp>().map(|t| t.as_microsecond()).map_err(|_| {
        crate::problem::ApiError::bad_format(
            field,
            format!("{field} must be an RFC 3339 time like 2026-11-22T20:00:00Z"),
        )
    })
}

// Text rules as JSON Schema patterns, written with `\uXXXX` escapes that
// every regex dialect reads alike. `W` is what Rust's `str::trim` removes
// (Unicode White_Space), `C` the control characters `char::is_control`
// refuses. Where a field is trimmed before its length is checked, the
// pattern bounds the trimmed length, as the server counts it.
macro_rules! ws {
    () => {
        r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}
macro_rules! ctl {
    () => {
        r"\u0000-\u001f\u007f-\u009f"
    };
}
/// A display name: 1 to 64 characters once trimmed, no control characters.
pub const NAME_PATTERN: &str =
    concat!("^[", ws!(), "]*[^", ws!(), ctl!(), "](?:[^", ctl!(), "]{0,62}[^", ws!(), ctl!(), "])?[", ws!(), "]*$");
/// A token label: at most 64 characters once trimmed, no control characters.
pub const LABEL_PATTERN: &str = concat!(
    "^[",
    ws!(),
    "]*(?:[^",
    ws!(),
    ctl!(),
    "](?:[^",
    ctl!(),
    "]{0,62}[^",
    ws!(),
    ctl!(),
    "])?)?[",
    ws!(),
    "]*$"
);
/// A sale's title: 1 to 200 characters once trimmed.
pub const TITLE_PATTERN: &str =
    concat!("^[", ws!(), "]*[^", ws!(), "](?:[\\s\\S]{0,198}[^", ws!(), "])?[", ws!(), "]*$");
/// A sale's description: at most 4000 characters once trimmed.
pub const DESCRIPTION_PATTERN: &str =
    concat!("^[", ws!(), "]*(?:[^", ws!(), "](?:[\\s\\S]{0,3998}[^", ws!(), "])?)?[", ws!(), "]*$");
/// An e-mail address: one `@` with something before it, a domain with a `.`
/// neither first nor last, no whitespace or control characters but around
/// it (trimmed), 3 to 254 characters.
pub const EMAIL_PATTERN: &str = concat!(
    "^[",
    ws!(),
    "]*[^@",
    ws!(),
    ctl!(),
    "]+@[^@.",
    ws!(),
    ctl!(),
    "][^@",
    ws!(),
    ctl!(),
    "]*[.][^@",
    ws!(),
    ctl!(),
    "]*[^@.",
    ws!(),
    ctl!(),
    "][",
    ws!(),
    "]*$"
);

fn text_schema(pattern: &str, min_length: Option<usize>, max_length: Option<usize>) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(pattern))
        .min_length(min_length)
        .max_length(max_length)
        .build()
}

pub fn name_schema() -> utoipa::openapi::Object {
    text_schema(NAME_PATTERN, None, None)
}

pub fn label_schema() -> utoipa::openapi::Object {
    text_schema(LABEL_PATTERN, None, None)
}

pub fn title_schema() -> utoipa::openapi::Object {
    text_schema(TITLE_PATTERN, None, None)
}

pub fn description_schema() -> utoipa::openapi::Object {
    text_schema(DESCRIPTION_PATTERN, None, None)
}

/// Three letters of ISO 4217, in any case (stored upper case).
pub fn currency_schema() -> utoipa::openapi::Object {
    text_schema(concat!("^[", ws!(), "]*[A-Za-z]{3}[", ws!(), "]*$"), None, None)
}

pub fn email_schema() -> utoipa::openapi::Object {
    text_schema(EMAIL_PATTERN, Some(3), Some(254))
}

pub fn hex(bytes: &[u8]) -> String {
    stampede_engine::record::hex(bytes)
}

/// An amount for an answer. Sales are created so that every amount fits;
/// one that does not is a bug, answered 500 and logged, never a wrong number.
pub fn amount_out(amount: Option<stampede_core::Money>) -> Result<u64, crate::problem::ApiError> {
    amount
        .map(stampede_core::Money::minor)
        .ok_or_else(|| crate::problem::ApiError::internal(&"an amount does not fit in 64 bits"))
}

/// The one shared live message of a waiting room (REST and WebSocket alike).
#[derive(Serialize, ToSchema)]
pub struct QueueStatusOut {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    pub sale_id: u64,
    pub status: &'static str,
    pub sold_out: bool,
    pub server_time_us: i64,
    pub joined: u32,
    pub prequeue: bool,
    pub prequeue_len: Option<u32>,
    pub admitted: u32,
    pub waiting: u32,
    pub active: u32,
    pub rate_per_s: Option<f64>,
    pub pow_bits: u8,
    pub commitment: String,
    pub seed: Option<String>,
    pub available: u64,
}

impl QueueStatusOut {
    pub fn new(seq: u64, sale_id: u64, live: &LiveView, rate_per_s: Option<f64>) -> Self {
        let q = live.view.queue.as_ref();
        QueueStatusOut {
            kind: "status",
            seq,
            sale_id,
            status: live.view.status.as_str(),
            sold_out: live.available == 0,
            server_time_us: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            joined: q.map_or(0, |q| q.joined),
            prequeue: q.is_some_and(|q| q.prequeue),
            prequeue_len: q.and_then(|q| q.prequeue_len),
            admitted: q.map_or(0, |q| q.admitted),
            waiting: q.map_or(0, |q| q.waiting),
            active: q.map_or(0, |q| q.active),
            rate_per_s: rate_per_s.map(|r| (r * 10.0).round() / 10.0),
            pow_bits: q.map_or(0, |q| q.pow_bits),
            commitment: q.map(|q| hex(&q.commitment)).unwrap_or_default(),
            seed: q.and_then(|q| q.seed.as_ref().map(|s| hex(s))),
            available: live.available,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LeaderEntry {
    pub rank: u32,
    /// Masked display name (`K*m`).
    pub name: String,
    pub won: bool,
    pub clicked_at: String,
    pub clicked_at_us: i64,
    pub after_open_ms: f64,
}

#[derive(Serialize, ToSchema)]
pub struct SeatOut {
    pub id: u32,
    pub section: String,
    pub row: String,
    pub label: String,
    pub holder_id: u64,
    pub price: u64,
}

/// A hold of seats, or (once confirmed) an order with the same id.
#[derive(Serialize, ToSchema)]
pub struct SeatHoldOut {
    pub id: u64,
    /// Unique across the platform, e.g. `K7M-4QX2`: what a buyer quotes.
    pub reference: String,
    pub sale_id: u64,
    pub booker_id: u64,
    /// `held`, `confirmed`, `cancelled`, `expired` or `refunded`.
    pub status: &'static str,
    pub expires_at: String,
    pub expires_at_us: i64,
    pub amount: u64,
    pub currency: String,
    pub seats: Vec<SeatOut>,
    /// Seats given back from this hold or order one at a time.
    pub released: Vec<SeatOut>,
}

fn seat_out(config: &SeatedConfig, index: &stampede_core::SeatIndex, s: &HeldSeat) -> SeatOut {
    let place = index.place(s.seat);
    let section = place.and_then(|p| config.venue.sections.get(usize::from(p.section)));
    let row = place.and_then(|p| section?.rows.get(usize::from(p.row)));
    let seat = place.and_then(|p| row?.seats.get(usize::from(p.index)));
    SeatOut {
        id: s.seat.0,
        section: section.map(|x| x.name.clone()).unwrap_or_default(),
        row: row.map(|x| x.label.clone()).unwrap_or_default(),
        label: seat.map(|x| x.label.clone()).unwrap_or_default(),
        holder_id: s.holder.0,
        price: s.price,
    }
}

impl SeatHoldOut {
    pub fn new(
        sale_id: u64,
        sale: &SaleConfig,
        index: &stampede_core::SeatIndex,
        h: &SeatHold,
    ) -> Result<Self, crate::problem::ApiError> {
        let empty = SeatedConfig {
            venue: Venue { name: String::new(), sections: Vec::new() },
            per_person_limit: 0,
            seats_per_hold_max: 0,
            hold_ttl_us: 0,
        };
        let config = seated_of(sale).unwrap_or(&empty);
        Ok(SeatHoldOut {
            id: h.id.0,
            reference: stampede_core::OrderRef::new(sale_id, h.id.0).to_string(),
            sale_id,
            booker_id: h.by.0,
            status: h.status.as_str(),
            expires_at: fmt_us(h.expires_at_us),
            expires_at_us: h.expires_at_us,
            amount: amount_out(h.amount())?,
            currency: sale.currency.clone(),
            seats: h.seats.iter().map(|s| seat_out(config, index, s)).collect(),
            released: h.released.iter().map(|s| seat_out(config, index, s)).collect(),
        })
    }
}
