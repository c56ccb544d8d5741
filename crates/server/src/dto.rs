//! The JSON shapes of the API: what requests carry and what answers say.
//! Kept apart from the core's types so the wire format changes only on purpose.

use serde::{Deserialize, Serialize};
use stampede_core::{
    AdmissionPolicy, Click, HeldSeat, Hold, HoldStatus, KindConfig, OrderRef, QueueConfig, QueueView, SaleConfig,
    SaleView, SeatHold, SeatedConfig, SeatedView, SectionSpec, StockView, US_PER_S, Venue,
};
use stampede_engine::LiveView;
use stampede_store::User;
use utoipa::ToSchema;

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

#[derive(Deserialize, ToSchema)]
pub struct SignUpRequest {
    #[schema(schema_with = email_schema)]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(schema_with = name_schema)]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LogInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    pub email: String,
    pub password: String,
    /// What the token is for, to recognise it later.
    #[serde(default)]
    #[schema(schema_with = label_schema)]
    pub label: String,
    /// Seconds until the token stops working (60 to 31,622,400); absent: until revoked.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 31_622_400)]
    pub expires_in: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct AdminCreateUser {
    #[schema(schema_with = email_schema)]
    pub email: String,
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
    #[schema(schema_with = name_schema)]
    pub name: String,
    #[schema(value_type = RoleName)]
    pub role: String,
}

#[derive(Deserialize, ToSchema)]
pub struct BulkUsersRequest {
    #[schema(minimum = 1, maximum = 10000)]
    pub count: i64,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$")]
    pub name_prefix: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RoleRequest {
    #[schema(value_type = RoleName)]
    pub role: String,
}

/// An account's role.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: roles travel as strings
pub enum RoleName {
    Participant,
    Organizer,
    Admin,
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

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub id: u64,
    pub email: String,
    pub name: String,
    pub role: String,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        UserOut { id: u.id.0, email: u.email.clone(), name: u.name.clone(), role: u.role.as_str().to_owned() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionOut {
    pub user: UserOut,
    pub csrf_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    pub token: String,
    /// Its id, to revoke it with `DELETE /api/auth/tokens/{id}`.
    pub id: u64,
    /// When it stops working (RFC 3339); absent: until revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub user: UserOut,
}

/// One of your API tokens, as `GET /api/auth/tokens` lists it (never the token itself).
#[derive(Serialize, ToSchema)]
pub struct TokenInfoOut {
    pub id: u64,
    pub label: String,
    pub created_at: String,
    /// When it stops working (RFC 3339); absent: until revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokensOut {
    pub tokens: Vec<TokenInfoOut>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkUserOut {
    pub id: u64,
    pub name: String,
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct BulkUsersOut {
    pub users: Vec<BulkUserOut>,
}

/// A sale's title and description in one language.
#[derive(Deserialize, Serialize, ToSchema, Clone)]
pub struct SaleTextRequest {
    #[schema(schema_with = title_schema)]
    pub title: String,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: String,
}

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

#[derive(Deserialize, ToSchema)]
pub struct JoinRequest {
    pub nonce: u64,
}

#[derive(Deserialize, ToSchema)]
pub struct PowRequest {
    #[schema(minimum = 0, maximum = 28)]
    pub pow_bits: i64,
}

/// The waiting room's settings and numbers, as part of a sale.
#[derive(Serialize, ToSchema)]
pub struct WaitingRoomOut {
    pub policy: &'static str,
    pub chunk_size: Option<u32>,
    pub chunk_seconds: Option<f64>,
    pub active_max: Option<u32>,
    pub pass_seconds: i64,
    pub prequeue_opens_at: Option<String>,
    pub pow_bits: u8,
    pub places_per_address: u32,
    pub commitment: String,
    pub seed: Option<String>,
    pub joined: u32,
    pub prequeue: bool,
    pub prequeue_len: Option<u32>,
    pub admitted: u32,
    pub waiting: u32,
    pub active: u32,
}

impl WaitingRoomOut {
    fn new(config: &QueueConfig, q: &QueueView) -> Self {
        let (chunk_size, chunk_seconds, active_max) = match q.policy {
            AdmissionPolicy::Chunk { size, every_us } => (Some(size), Some(every_us as f64 / US_PER_S as f64), None),
            AdmissionPolicy::Active { max } => (None, None, Some(max)),
        };
        WaitingRoomOut {
            policy: policy_name(q.policy),
            chunk_size,
            chunk_seconds,
            active_max,
            pass_seconds: q.pass_ttl_us / US_PER_S,
            prequeue_opens_at: q.prequeue_opens_at_us.map(fmt_us),
            pow_bits: q.pow_bits,
            places_per_address: config.places_per_address,
            commitment: hex(&q.commitment),
            seed: q.seed.as_ref().map(|s| hex(s)),
            joined: q.joined,
            prequeue: q.prequeue,
            prequeue_len: q.prequeue_len,
            admitted: q.admitted,
            waiting: q.waiting,
            active: q.active,
        }
    }
}

fn policy_name(p: AdmissionPolicy) -> &'static str {
    match p {
        AdmissionPolicy::Chunk { .. } => "chunk",
        AdmissionPolicy::Active { .. } => "active",
    }
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

/// A person's place in a waiting room, with their pass while it is valid.
#[derive(Serialize, ToSchema)]
pub struct QueueTicketOut {
    pub sale_id: u64,
    pub ticket: u32,
    pub place: Option<u32>,
    pub admitted: bool,
    pub pass_state: &'static str,
    pub pass: Option<String>,
    pub pass_expires_at: Option<String>,
    pub pass_expires_at_us: Option<i64>,
    /// The most one person may buy in this sale (a drop: one click); a pass
    /// is good for its whole lifetime up to this many.
    pub per_person_limit: u32,
    /// Units bought with the pass while it was live (refunds do not lower it).
    pub bought: u32,
    /// How many more the live pass allows (0 once it ended).
    pub pass_left: u32,
    /// When the pass ended (`pass_state` `used` or `expired`). Nobody joins a
    /// sale's line twice, so an ended pass is not given again.
    pub pass_ended_at: Option<String>,
    pub pass_ended_at_us: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct PassKeyOut {
    pub algorithm: &'static str,
    pub public_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatsOut {
    pub ws_open: u64,
    pub ws_peak: u64,
    pub rss_kb: Option<u64>,
    pub open_files_limit: Option<u64>,
}

pub fn hex(bytes: &[u8]) -> String {
    stampede_engine::record::hex(bytes)
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

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StockOut {
    pub total: u64,
    pub available: u64,
    pub held: u64,
    pub sold: u64,
    pub price: u64,
    pub currency: String,
    pub per_person_limit: u32,
    pub order_quantity_max: u32,
    pub hold_seconds: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DropOut {
    pub winners: u32,
    pub clicks: u32,
    pub won: u32,
}

/// One section of a seated sale, for lists and legends (the layout is `GET venue`).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SectionOut {
    pub index: u16,
    pub name: String,
    pub tier: String,
    pub price: u64,
    pub colour: String,
    pub seats: u32,
    pub available: u32,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SeatedOut {
    pub venue: String,
    pub total: u32,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
    pub currency: String,
    pub per_person_limit: u32,
    pub seats_per_hold_max: u32,
    pub hold_seconds: i64,
    pub sections: Vec<SectionOut>,
}

#[derive(Serialize, ToSchema)]
pub struct SaleOut {
    pub id: u64,
    pub kind: &'static str,
    pub title: String,
    pub description: String,
    /// The title and description in other languages, by language (`ko`, `en`); absent when there are none.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub translations: std::collections::BTreeMap<String, SaleTextRequest>,
    pub owner_id: u64,
    pub status: &'static str,
    pub opens_at: Option<String>,
    pub closes_at: Option<String>,
    pub opened_at: Option<String>,
    pub stock: Option<StockOut>,
    pub drop: Option<DropOut>,
    pub seated: Option<SeatedOut>,
    pub waiting_room: Option<WaitingRoomOut>,
    /// Deleted by its organizer: off every list, its log kept.
    pub archived: bool,
}

/// A sale's kind by the name the API and the pages both show.
pub fn kind_name(kind: &KindConfig) -> &'static str {
    match kind {
        KindConfig::Stock(_) => "stock",
        KindConfig::Drop(_) => "drop",
        KindConfig::Seated(_) => "seated",
    }
}

impl StockOut {
    /// A stock sale's terms and numbers, for the JSON answers and the pages
    /// alike; `None` for another kind.
    pub fn of(c: &SaleConfig, v: &StockView) -> Option<StockOut> {
        let KindConfig::Stock(sc) = &c.kind else { return None };
        Some(StockOut {
            total: v.total,
            available: v.available,
            held: v.held,
            sold: v.sold,
            price: sc.price,
            currency: c.currency.clone(),
            per_person_limit: sc.per_person_limit,
            order_quantity_max: sc.order_quantity_max,
            hold_seconds: sc.hold_ttl_us / US_PER_S,
        })
    }
}

impl SeatedOut {
    /// A seated sale's terms, sections and numbers, for the JSON answers and
    /// the pages alike; `None` for another kind.
    pub fn of(c: &SaleConfig, v: &SeatedView) -> Option<SeatedOut> {
        let KindConfig::Seated(sc) = &c.kind else { return None };
        Some(SeatedOut {
            venue: sc.venue.name.clone(),
            total: v.total,
            available: v.available,
            held: v.held,
            sold: v.sold,
            currency: c.currency.clone(),
            per_person_limit: sc.per_person_limit,
            seats_per_hold_max: sc.seats_per_hold_max,
            hold_seconds: sc.hold_ttl_us / US_PER_S,
            sections: sc
                .venue
                .sections
                .iter()
                .enumerate()
                .map(|(i, sec)| SectionOut {
                    index: u16::try_from(i).unwrap_or(u16::MAX),
                    name: sec.name.clone(),
                    tier: sec.tier.clone(),
                    price: sec.price,
                    colour: sec.colour.clone(),
                    // The seat index numbers a section's seats row by row, so
                    // this is its `section_seats(i).len()`.
                    seats: u32::try_from(sec.rows.iter().map(|r| r.seats.len()).sum::<usize>()).unwrap_or(u32::MAX),
                    available: v.section_available.get(i).copied().unwrap_or(0),
                })
                .collect(),
        })
    }
}

impl SaleOut {
    /// A sale from its configuration and its durable public state (the
    /// engine's `LiveView`): no trip through the sale's mailbox.
    pub fn of(id: u64, c: &SaleConfig, live: &LiveView) -> Self {
        let schedule = &live.schedule;
        let SaleView { status, stock, drop, seats, queue } = &live.view;
        let kind = kind_name(&c.kind);
        let stock = stock.as_ref().and_then(|v| StockOut::of(c, v));
        let seated = seats.as_ref().and_then(|v| SeatedOut::of(c, v));
        SaleOut {
            id,
            kind,
            title: c.title.clone(),
            description: c.description.clone(),
            translations: c
                .translations
                .iter()
                .map(|t| {
                    (t.lang.clone(), SaleTextRequest { title: t.title.clone(), description: t.description.clone() })
                })
                .collect(),
            owner_id: c.owner.0,
            status: status.as_str(),
            opens_at: schedule.opens_at_us.map(fmt_us),
            closes_at: schedule.closes_at_us.map(fmt_us),
            opened_at: schedule.opened_at_us.map(fmt_us),
            stock,
            drop: drop.as_ref().map(|d| DropOut { winners: d.winners, clicks: d.clicks, won: d.won }),
            seated,
            waiting_room: c.queue.as_ref().zip(queue.as_ref()).map(|(c, q)| WaitingRoomOut::new(c, q)),
            archived: live.archived,
        }
    }
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

/// An amount for an answer. Sales are created so that every amount fits;
/// one that does not is a bug, answered 500 and logged, never a wrong number.
pub fn amount_out(amount: Option<stampede_core::Money>) -> Result<u64, crate::problem::ApiError> {
    amount
        .map(stampede_core::Money::minor)
        .ok_or_else(|| crate::problem::ApiError::internal(&"an amount does not fit in 64 bits"))
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

// ---------------------------------------------------------------- seated sales

/// The seated part of `POST /api/sales` with `"kind": "seated"`: a venue
/// given whole (`venue`), generated from blocks (`generate`), or stored in
/// the venue library (`venue_id`, resolved by `routes::venues::resolve_venue_id`).
#[derive(Deserialize, ToSchema)]
pub struct SeatedRequest {
    #[serde(default)]
    #[schema(value_type = Option<crate::openapi::VenueIn>)]
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
    #[schema(value_type = Vec<crate::openapi::SectionSpecIn>, max_items = 200)]
    pub sections: Vec<SectionSpec>,
}

/// The seated terms of a sale, if it is a seated one.
pub(crate) fn seated_of(config: &SaleConfig) -> Option<&SeatedConfig> {
    match &config.kind {
        KindConfig::Seated(c) => Some(c),
        _ => None,
    }
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
