//! What the sale routes read and answer: creating and editing a sale, holds
//! and orders of stock sales, clicks, the leaderboard, results and an order
//! found by its reference. The sale itself is shown by the shared presenter
//! (`routes::common::present`).

use serde::{Deserialize, Serialize};
use stampede_core::{Click, Hold, HoldStatus, OrderRef};
use utoipa::{IntoParams, ToSchema};

use crate::routes::common::present::{SaleOut, SaleTextRequest};
use crate::routes::common::seated::SeatedRequest;
use crate::routes::common::wire::{
    LeaderEntry, SeatHoldOut, amount_out, currency_schema, description_schema, fmt_us, title_schema,
};

/// Body of `POST /api/sales`; `kind` chooses the sale style.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CreateSaleRequest {
    Stock {
        #[schema(schema_with = title_schema)]
        title: String,
        #[serde(default)]
        #[schema(schema_with = description_schema)]
        description: String,
        /// The title and description in other page languages (`ko`, `en`), shown to viewers of that language.
        #[serde(default)]
        translations: std::collections::BTreeMap<String, SaleTextRequest>,
        #[schema(minimum = 1, maximum = 100000000)]
        stock: i64,
        /// In the currency's smallest unit.
        #[schema(minimum = 0, maximum = 1000000000000.0)]
        price: i64,
        #[serde(default = "default_currency")]
        #[schema(schema_with = currency_schema)]
        currency: String,
        #[schema(minimum = 1, maximum = 1000000)]
        per_person_limit: i64,
        #[schema(minimum = 1, maximum = 1000000)]
        order_quantity_max: i64,
        #[schema(minimum = 10, maximum = 86400)]
        hold_seconds: i64,
        /// RFC 3339; before `closes_at`.
        #[serde(default)]
        #[schema(format = DateTime)]
        opens_at: Option<String>,
        #[serde(default)]
        #[schema(format = DateTime)]
        closes_at: Option<String>,
        #[serde(default)]
        waiting_room: Option<WaitingRoomRequest>,
    },
    /// Reserved seating: `seated` gives the venue and the rules (docs/API.md, "Seated sales").
    Seated {
        #[schema(schema_with = title_schema)]
        title: String,
        #[serde(default)]
        #[schema(schema_with = description_schema)]
        description: String,
        /// The title and description in other page languages (`ko`, `en`), shown to viewers of that language.
        #[serde(default)]
        translations: std::collections::BTreeMap<String, SaleTextRequest>,
        #[serde(default = "default_currency")]
        #[schema(schema_with = currency_schema)]
        currency: String,
        seated: SeatedRequest,
        /// RFC 3339; before `closes_at`.
        #[serde(default)]
        #[schema(format = DateTime)]
        opens_at: Option<String>,
        #[serde(default)]
        #[schema(format = DateTime)]
        closes_at: Option<String>,
        #[serde(default)]
        waiting_room: Option<WaitingRoomRequest>,
    },
    Drop {
        #[schema(schema_with = title_schema)]
        title: String,
        #[serde(default)]
        #[schema(schema_with = description_schema)]
        description: String,
        /// The title and description in other page languages (`ko`, `en`), shown to viewers of that language.
        #[serde(default)]
        translations: std::collections::BTreeMap<String, SaleTextRequest>,
        #[schema(minimum = 1, maximum = 1000000)]
        winners: i64,
        /// RFC 3339; before `closes_at`.
        #[serde(default)]
        #[schema(format = DateTime)]
        opens_at: Option<String>,
        #[serde(default)]
        #[schema(format = DateTime)]
        closes_at: Option<String>,
        #[serde(default)]
        waiting_room: Option<WaitingRoomRequest>,
    },
}

/// A waiting room in front of a new sale (docs/API.md, "Waiting room").
#[derive(Deserialize, ToSchema)]
pub struct WaitingRoomRequest {
    /// `chunk` or `active`.
    #[schema(value_type = AdmissionPolicyName)]
    pub policy: String,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub chunk_size: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 0.05, maximum = 3600.0)]
    pub chunk_seconds: Option<f64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub active_max: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 10, maximum = 86400)]
    pub pass_seconds: Option<i64>,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub prequeue_opens_at: Option<String>,
    #[serde(default)]
    #[schema(minimum = 0, maximum = 28)]
    pub pow_bits: Option<i64>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub places_per_address: Option<i64>,
}

/// How a waiting room lets people in.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: the policy travels as a string
pub enum AdmissionPolicyName {
    /// A number of places every so many seconds.
    Chunk,
    /// Whenever fewer than `active_max` passes are live.
    Active,
}

fn default_currency() -> String {
    "KRW".to_owned()
}

#[derive(Deserialize, ToSchema)]
pub struct ReserveRequest {
    /// At most the sale's `order_quantity_max` (422 `/problems/bad-quantity` beyond it).
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i64,
}

#[derive(Serialize, ToSchema)]
pub struct SalesOut {
    pub sales: Vec<SaleOut>,
}

#[derive(Serialize, ToSchema)]
pub struct HoldOut {
    pub id: u64,
    /// Unique across the platform, e.g. `K7M-4QX2`; the order keeps it once confirmed.
    pub reference: String,
    pub sale_id: u64,
    pub quantity: u32,
    pub status: &'static str,
    pub expires_at: String,
    pub amount: u64,
}

impl HoldOut {
    pub fn new(sale_id: u64, h: &Hold) -> Result<Self, crate::problem::ApiError> {
        Ok(HoldOut {
            id: h.id.0,
            reference: OrderRef::new(sale_id, h.id.0).to_string(),
            sale_id,
            quantity: h.quantity,
            status: h.status.as_str(),
            expires_at: fmt_us(h.expires_at_us),
            amount: amount_out(h.amount())?,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct OrderOut {
    /// The order's number in its sale (they restart in every sale).
    pub id: u64,
    /// Unique across the platform, e.g. `K7M-4QX2`: what a buyer quotes.
    pub reference: String,
    pub sale_id: u64,
    pub quantity: u32,
    pub status: &'static str,
    pub amount: u64,
    /// `GET /api/me/orders` only, for an order paid from the wallet: what was
    /// paid and what has gone back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<OrderPaymentOut>,
}

/// What the wallet paid for an order and got back.
#[derive(Serialize, ToSchema)]
pub struct OrderPaymentOut {
    /// `wallet`.
    pub provider: &'static str,
    /// `paid`, `partly-refunded` or `refunded`.
    pub status: &'static str,
    pub paid: u64,
    pub refunded: u64,
}

impl OrderPaymentOut {
    /// `None` when nothing was paid (a free order).
    pub fn of(paid: u64, refunded: u64) -> Option<Self> {
        let status = match refunded {
            _ if paid == 0 => return None,
            0 => "paid",
            r if r >= paid => "refunded",
            _ => "partly-refunded",
        };
        Some(OrderPaymentOut { provider: "wallet", status, paid, refunded })
    }
}

impl OrderOut {
    pub fn new(sale_id: u64, h: &Hold) -> Result<Self, crate::problem::ApiError> {
        let amount = amount_out(h.amount())?;
        Ok(OrderOut {
            id: h.id.0,
            reference: OrderRef::new(sale_id, h.id.0).to_string(),
            sale_id,
            quantity: h.quantity,
            status: h.status.as_str(),
            amount,
            payment: None,
        })
    }

    pub fn is_order(h: &Hold) -> bool {
        matches!(h.status, HoldStatus::Confirmed | HoldStatus::Refunded)
    }
}

#[derive(Serialize, ToSchema)]
pub struct HoldsOut {
    pub holds: Vec<HoldOut>,
}

#[derive(Serialize, ToSchema)]
pub struct OrdersOut {
    pub orders: Vec<OrderOut>,
}

#[derive(Serialize, ToSchema)]
pub struct ClickOut {
    pub sale_id: u64,
    pub rank: u32,
    pub won: bool,
    /// A win's reference, unique across the platform (from the sale and the rank).
    pub reference: Option<String>,
    pub winners: u32,
    pub clicked_at: String,
    pub clicked_at_us: i64,
    pub after_open_ms: f64,
}

impl ClickOut {
    pub fn new(sale_id: u64, winners: u32, c: &Click) -> Self {
        ClickOut {
            sale_id,
            rank: c.rank,
            won: c.won,
            reference: c.won.then(|| OrderRef::new(sale_id, u64::from(c.rank)).to_string()),
            winners,
            clicked_at: fmt_us(c.at_us),
            clicked_at_us: c.at_us,
            after_open_ms: c.after_open_us as f64 / 1000.0,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LeaderboardOut {
    pub total: u32,
    pub winners: u32,
    pub entries: Vec<LeaderEntry>,
}

#[derive(Serialize, ToSchema)]
pub struct HoldRow {
    pub id: u64,
    pub user_id: u64,
    pub quantity: u32,
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct HoldPage {
    pub holds: Vec<HoldRow>,
    pub next_after: Option<u64>,
}

/// A buyer or winner with the contact data needed to deliver (MISSION A4).
#[derive(Serialize, ToSchema)]
pub struct Recipient {
    pub user_id: u64,
    pub name: String,
    pub email: String,
    /// The order's reference, unique across the platform, e.g. `K7M-4QX2`.
    pub reference: String,
    /// The order's number in its sale (stock, seats) or the winner's rank (drop).
    pub order: u64,
    pub quantity: u32,
    pub amount: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ResultsOut {
    pub sale: SaleOut,
    /// Confirmed orders' total, refunds excluded.
    pub revenue: u64,
    pub recipients: Vec<Recipient>,
    /// True when `recipients` was cut at the listing limit.
    pub truncated: bool,
}

/// Reads a field that may be absent (leave as is), `null` (remove) or a value.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PATCH /api/sales/{id}`: only the fields sent change. Before the
/// sale opens anything here may change; after, only `title`, `description`
/// and (while open) `closes_at`. A field sent with its current value is no
/// change, so a form may send them all.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct EditSaleRequest {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// RFC 3339; `null` removes it (the organizer opens the sale by hand).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub opens_at: Option<Option<String>>,
    /// RFC 3339; `null` removes it (the organizer closes the sale by hand).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, nullable)]
    pub closes_at: Option<Option<String>>,
    /// Stock sales.
    #[serde(default)]
    pub stock: Option<i64>,
    /// Stock sales.
    #[serde(default)]
    pub price: Option<i64>,
    /// Stock and seated sales.
    #[serde(default)]
    pub per_person_limit: Option<i64>,
    /// Stock sales.
    #[serde(default)]
    pub order_quantity_max: Option<i64>,
    /// Stock and seated sales.
    #[serde(default)]
    pub hold_seconds: Option<i64>,
    /// Drops.
    #[serde(default)]
    pub winners: Option<i64>,
    /// Seated sales.
    #[serde(default)]
    pub seats_per_hold_max: Option<i64>,
}

/// One order (or hold, or drop win) found by its reference.
#[derive(Serialize, ToSchema)]
pub struct OrderLookupOut {
    pub reference: String,
    pub sale_id: u64,
    pub sale_title: String,
    /// `stock`, `seated` or `drop`: which of the next three is present.
    pub kind: &'static str,
    pub stock: Option<HoldOut>,
    pub seats: Option<SeatHoldOut>,
    pub click: Option<ClickOut>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[serde(default)]
    pub offset: usize,
    #[serde(default = "default_leaderboard_limit")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: usize,
}

fn default_leaderboard_limit() -> usize {
    100
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HoldPageQuery {
    #[serde(default)]
    pub after: u64,
    #[serde(default = "default_hold_page")]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: usize,
}

fn default_hold_page() -> usize {
    1000
}

/// Live counters of one sale for its organizer's dashboard.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SaleStatsOut {
    /// Commands (holds, clicks, joins...) received since the server started.
    pub commands_total: u64,
    /// Commands waiting in the sale's mailbox now.
    pub queued: usize,
    /// The server's clock when read, so two readings give a rate.
    pub at_us: i64,
    /// Units or seats held now, and sold (confirmed, not refunded).
    pub held: u64,
    pub sold: u64,
    /// Confirmed orders' total, refunds excluded, in the currency's minor unit.
    pub revenue: u64,
    /// Orders refunded, and what they had cost.
    pub refunds: u64,
    pub refunded_amount: u64,
    /// Drops: clicks, and winning clicks.
    pub clicks: u64,
    pub won: u64,
    /// Drops: every click by its time after the opening, in bars of
    /// `bar_ms` (the last bar takes every later click); bars without clicks are left out.
    pub click_histogram: Vec<HistogramBar>,
    pub bar_ms: u64,
}

/// One bar of the click-time histogram.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct HistogramBar {
    /// Start of the bar, in milliseconds after the opening.
    pub from_ms: u64,
    pub clicks: u64,
}
