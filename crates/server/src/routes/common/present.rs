//! The one presenter of a sale: its kind, terms, numbers and waiting room,
//! from its configuration and its durable public state. The JSON answers
//! (`SaleOut`) and the web pages (`StockOut::of`, `SeatedOut::of`,
//! `kind_name`) both show a sale through it.

use serde::{Deserialize, Serialize};
use stampede_core::{
    AdmissionPolicy, KindConfig, QueueConfig, QueueView, SaleConfig, SaleView, SeatedView, StockView, US_PER_S,
};
use stampede_engine::LiveView;
use utoipa::ToSchema;

use super::wire::{description_schema, fmt_us, hex, title_schema};

/// A sale's title and description in one language.
#[derive(Deserialize, Serialize, ToSchema, Clone)]
pub struct SaleTextRequest {
    #[schema(schema_with = title_schema)]
    pub title: String,
    #[serde(default)]
    #[schema(schema_with = description_schema)]
    pub description: String,
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

/// A sale's kind by the name the API and the pages both show (the core's).
pub fn kind_name(kind: &KindConfig) -> &'static str {
    kind.name()
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
