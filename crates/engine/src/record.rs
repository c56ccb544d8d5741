//! The durable record format: what one log entry's payload says, version 1.
//!
//! These types are the published, replayable log, so they are deliberately not
//! the core's types: the core may reshape its structs freely, while a record
//! written today must decode the same way forever. Each record carries `v`; a
//! decoder meeting an unknown version refuses rather than guessing.
//!
//! A command record stores its outcome's summary too, so `stampede verify` can
//! replay the log and check that every recorded answer is the one the rules give.

use serde::{Deserialize, Serialize};
use stampede_core::{
    Action, AdmissionPolicy, Command, DropConfig, HoldId, IdempotencyKey, Input, KindConfig, Outcome, QueueConfig, Row,
    SaleConfig, SaleEdit, SaleText, Seat, SeatArea, SeatId, SeatedConfig, Section, StockConfig, TermsEdit, UserId,
    Venue,
};

pub const RECORD_VERSION: u16 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    Create { v: u16, config: ConfigV1 },
    Cmd { v: u16, by: u64, key: String, action: ActionV1, out: OutcomeV1 },
    Tick { v: u16 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigV1 {
    pub title: String,
    pub description: String,
    pub owner: u64,
    pub currency: String,
    pub opens_at_us: Option<i64>,
    pub closes_at_us: Option<i64>,
    pub kind: KindV1,
    /// Added within v1: absent means no waiting room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueV1>,
    /// Added within v1: absent means the title and description in one language only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub translations: Vec<TextV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextV1 {
    pub lang: String,
    pub title: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueV1 {
    pub policy: PolicyV1,
    pub pass_ttl_us: i64,
    pub prequeue_opens_at_us: Option<i64>,
    pub pow_bits: u8,
    pub places_per_address: u32,
    /// Hex of the 32-byte shuffle seed. The log is private to the operator;
    /// the API shows only its commitment until the sale opens.
    pub seed: String,
    /// Added within v1: absent (sales logged before) means a pass ends at its
    /// first checkout instead of at the per-person limit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pass_up_to_limit: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum PolicyV1 {
    Chunk { size: u32, every_us: i64 },
    Active { max: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KindV1 {
    Stock { stock: u64, price: u64, per_person_limit: u32, order_quantity_max: u32, hold_ttl_us: i64 },
    Drop { winners: u32 },
    Seated { venue: VenueV1, per_person_limit: u32, seats_per_hold_max: u32, hold_ttl_us: i64 },
}

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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionV1 {
    Open,
    Close,
    Reserve {
        quantity: u32,
    },
    Confirm {
        hold: u64,
    },
    Cancel {
        hold: u64,
    },
    Refund {
        order: u64,
    },
    Click,
    Join {
        nonce: u64,
        address: u64,
    },
    SetPowBits {
        bits: u8,
    },
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
    /// Added within v1: an organizer's edit; absent fields stay as they were.
    Edit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opens_at_us: Option<TimeV1>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        closes_at_us: Option<TimeV1>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        terms: Option<TermsV1>,
    },
    /// Added within v1.
    Archive,
}

/// A new opening or closing time: an instant, or none (by hand).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeV1 {
    At(i64),
    ByHand,
}

impl TimeV1 {
    fn of(t: Option<i64>) -> Self {
        t.map_or(TimeV1::ByHand, TimeV1::At)
    }

    fn time(&self) -> Option<i64> {
        match self {
            TimeV1::At(t) => Some(*t),
            TimeV1::ByHand => None,
        }
    }
}

/// New terms of a sale's kind. A seated sale's venue never changes, so an edit
/// does not repeat it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TermsV1 {
    Stock { stock: u64, price: u64, per_person_limit: u32, order_quantity_max: u32, hold_ttl_us: i64 },
    Drop { winners: u32 },
    Seated { per_person_limit: u32, seats_per_hold_max: u32, hold_ttl_us: i64 },
}

impl From<&TermsEdit> for TermsV1 {
    fn from(t: &TermsEdit) -> Self {
        match t {
            TermsEdit::Stock(s) => TermsV1::Stock {
                stock: s.stock,
                price: s.price,
                per_person_limit: s.per_person_limit,
                order_quantity_max: s.order_quantity_max,
                hold_ttl_us: s.hold_ttl_us,
            },
            TermsEdit::Drop(d) => TermsV1::Drop { winners: d.winners },
            TermsEdit::Seated { per_person_limit, seats_per_hold_max, hold_ttl_us } => TermsV1::Seated {
                per_person_limit: *per_person_limit,
                seats_per_hold_max: *seats_per_hold_max,
                hold_ttl_us: *hold_ttl_us,
            },
        }
    }
}

impl From<TermsV1> for TermsEdit {
    fn from(t: TermsV1) -> Self {
        match t {
            TermsV1::Stock { stock, price, per_person_limit, order_quantity_max, hold_ttl_us } => {
                TermsEdit::Stock(StockConfig { stock, price, per_person_limit, order_quantity_max, hold_ttl_us })
            }
            TermsV1::Drop { winners } => TermsEdit::Drop(DropConfig { winners }),
            TermsV1::Seated { per_person_limit, seats_per_hold_max, hold_ttl_us } => {
                TermsEdit::Seated { per_person_limit, seats_per_hold_max, hold_ttl_us }
            }
        }
    }
}

/// What the command's answer was, in enough detail to check a replay and a receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeV1 {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The seats a seated hold or order has after the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<u32>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("record is not valid JSON of a known shape: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("record version {0} is not known to this build")]
    UnknownVersion(u16),
    #[error("record field out of range: {0}")]
    Invalid(&'static str),
    #[error("the first record of a sale must be `create`, and only the first")]
    Misplaced,
}

impl From<&SaleConfig> for ConfigV1 {
    fn from(c: &SaleConfig) -> Self {
        ConfigV1 {
            title: c.title.clone(),
            description: c.description.clone(),
            translations: c
                .translations
                .iter()
                .map(|t| TextV1 { lang: t.lang.clone(), title: t.title.clone(), description: t.description.clone() })
                .collect(),
            owner: c.owner.0,
            currency: c.currency.clone(),
            opens_at_us: c.opens_at_us,
            closes_at_us: c.closes_at_us,
            kind: match &c.kind {
                KindConfig::Stock(s) => KindV1::Stock {
                    stock: s.stock,
                    price: s.price,
                    per_person_limit: s.per_person_limit,
                    order_quantity_max: s.order_quantity_max,
                    hold_ttl_us: s.hold_ttl_us,
                },
                KindConfig::Drop(d) => KindV1::Drop { winners: d.winners },
                KindConfig::Seated(s) => KindV1::Seated {
                    venue: (&s.venue).into(),
                    per_person_limit: s.per_person_limit,
                    seats_per_hold_max: s.seats_per_hold_max,
                    hold_ttl_us: s.hold_ttl_us,
                },
            },
            queue: c.queue.as_ref().map(|q| QueueV1 {
                policy: match q.policy {
                    AdmissionPolicy::Chunk { size, every_us } => PolicyV1::Chunk { size, every_us },
                    AdmissionPolicy::Active { max } => PolicyV1::Active { max },
                },
                pass_ttl_us: q.pass_ttl_us,
                prequeue_opens_at_us: q.prequeue_opens_at_us,
                pow_bits: q.pow_bits,
                places_per_address: q.places_per_address,
                seed: hex(&q.seed),
                pass_up_to_limit: q.pass_up_to_limit,
            }),
        }
    }
}

impl TryFrom<ConfigV1> for SaleConfig {
    type Error = RecordError;

    fn try_from(c: ConfigV1) -> Result<Self, RecordError> {
        let queue = match c.queue {
            None => None,
            Some(q) => Some(QueueConfig {
                policy: match q.policy {
                    PolicyV1::Chunk { size, every_us } => AdmissionPolicy::Chunk { size, every_us },
                    PolicyV1::Active { max } => AdmissionPolicy::Active { max },
                },
                pass_ttl_us: q.pass_ttl_us,
                prequeue_opens_at_us: q.prequeue_opens_at_us,
                pow_bits: q.pow_bits,
                places_per_address: q.places_per_address,
                seed: unhex32(&q.seed).ok_or(RecordError::Invalid("waiting room seed"))?,
                pass_up_to_limit: q.pass_up_to_limit,
            }),
        };
        Ok(SaleConfig {
            title: c.title,
            description: c.description,
            translations: c
                .translations
                .into_iter()
                .map(|t| SaleText { lang: t.lang, title: t.title, description: t.description })
                .collect(),
            owner: UserId(c.owner),
            currency: c.currency,
            opens_at_us: c.opens_at_us,
            closes_at_us: c.closes_at_us,
            kind: match c.kind {
                KindV1::Stock { stock, price, per_person_limit, order_quantity_max, hold_ttl_us } => {
                    KindConfig::Stock(StockConfig { stock, price, per_person_limit, order_quantity_max, hold_ttl_us })
                }
                KindV1::Drop { winners } => KindConfig::Drop(DropConfig { winners }),
                KindV1::Seated { venue, per_person_limit, seats_per_hold_max, hold_ttl_us } => {
                    let venue: Venue = venue.into();
                    venue.validate().map_err(|_| RecordError::Invalid("venue"))?;
                    KindConfig::Seated(SeatedConfig { venue, per_person_limit, seats_per_hold_max, hold_ttl_us })
                }
            },
            queue,
        })
    }
}

/// Lower-case hex, as the API shows seeds and commitments.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Parses 64 hex digits.
pub fn unhex32(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let digits = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(digits, 16).ok()?;
    }
    Some(out)
}

impl From<&Action> for ActionV1 {
    fn from(a: &Action) -> Self {
        match a {
            Action::Open => ActionV1::Open,
            Action::Close => ActionV1::Close,
            Action::Reserve { quantity } => ActionV1::Reserve { quantity: *quantity },
            Action::Confirm { hold } => ActionV1::Confirm { hold: hold.0 },
            Action::Cancel { hold } => ActionV1::Cancel { hold: hold.0 },
            Action::Refund { order } => ActionV1::Refund { order: order.0 },
            Action::Click => ActionV1::Click,
            Action::Join { nonce, address } => ActionV1::Join { nonce: *nonce, address: *address },
            Action::SetPowBits { bits } => ActionV1::SetPowBits { bits: *bits },
            Action::HoldSeats { seats, holders } => ActionV1::HoldSeats {
                seats: seats.iter().map(|s| s.0).collect(),
                holders: holders.iter().map(|h| h.0).collect(),
            },
            Action::HoldBest { area, count, holders } => ActionV1::HoldBest {
                area: match area {
                    SeatArea::Any => AreaV1::Any,
                    SeatArea::Section(s) => AreaV1::Section(*s),
                    SeatArea::Tier(t) => AreaV1::Tier(t.clone()),
                },
                count: *count,
                holders: holders.iter().map(|h| h.0).collect(),
            },
            Action::ReleaseSeat { order, seat } => ActionV1::ReleaseSeat { order: order.0, seat: seat.0 },
            Action::SwapSeat { order, from, to } => ActionV1::SwapSeat { order: order.0, from: from.0, to: to.0 },
            Action::Edit(e) => ActionV1::Edit {
                title: e.title.clone(),
                description: e.description.clone(),
                opens_at_us: e.opens_at_us.map(TimeV1::of),
                closes_at_us: e.closes_at_us.map(TimeV1::of),
                terms: e.terms.as_ref().map(TermsV1::from),
            },
            Action::Archive => ActionV1::Archive,
        }
    }
}

impl From<ActionV1> for Action {
    fn from(a: ActionV1) -> Self {
        match a {
            ActionV1::Open => Action::Open,
            ActionV1::Close => Action::Close,
            ActionV1::Reserve { quantity } => Action::Reserve { quantity },
            ActionV1::Confirm { hold } => Action::Confirm { hold: HoldId(hold) },
            ActionV1::Cancel { hold } => Action::Cancel { hold: HoldId(hold) },
            ActionV1::Refund { order } => Action::Refund { order: HoldId(order) },
            ActionV1::Click => Action::Click,
            ActionV1::Join { nonce, address } => Action::Join { nonce, address },
            ActionV1::SetPowBits { bits } => Action::SetPowBits { bits },
            ActionV1::HoldSeats { seats, holders } => Action::HoldSeats {
                seats: seats.into_iter().map(SeatId).collect(),
                holders: holders.into_iter().map(UserId).collect(),
            },
            ActionV1::HoldBest { area, count, holders } => Action::HoldBest {
                area: match area {
                    AreaV1::Any => SeatArea::Any,
                    AreaV1::Section(s) => SeatArea::Section(s),
                    AreaV1::Tier(t) => SeatArea::Tier(t),
                },
                count,
                holders: holders.into_iter().map(UserId).collect(),
            },
            ActionV1::ReleaseSeat { order, seat } => Action::ReleaseSeat { order: HoldId(order), seat: SeatId(seat) },
            ActionV1::SwapSeat { order, from, to } => {
                Action::SwapSeat { order: HoldId(order), from: SeatId(from), to: SeatId(to) }
            }
            ActionV1::Edit { title, description, opens_at_us, closes_at_us, terms } => {
                Action::Edit(Box::new(SaleEdit {
                    title,
                    description,
                    opens_at_us: opens_at_us.map(|t| t.time()),
                    closes_at_us: closes_at_us.map(|t| t.time()),
                    terms: terms.map(TermsEdit::from),
                }))
            }
            ActionV1::Archive => Action::Archive,
        }
    }
}

impl From<&Outcome> for OutcomeV1 {
    fn from(o: &Outcome) -> Self {
        let mut out = OutcomeV1 {
            kind: String::new(),
            hold: None,
            quantity: None,
            rank: None,
            ticket: None,
            reason: None,
            seats: None,
        };
        let kind = match o {
            Outcome::Opened => "opened",
            Outcome::Closed => "closed",
            Outcome::Ticked => "ticked",
            Outcome::Edited => "edited",
            Outcome::Archived => "archived",
            Outcome::Held(h) | Outcome::Confirmed(h) | Outcome::Cancelled(h) | Outcome::Refunded(h) => {
                out.hold = Some(h.id.0);
                out.quantity = Some(h.quantity);
                match o {
                    Outcome::Held(_) => "held",
                    Outcome::Confirmed(_) => "confirmed",
                    Outcome::Cancelled(_) => "cancelled",
                    _ => "refunded",
                }
            }
            Outcome::SeatsHeld(h)
            | Outcome::SeatsConfirmed(h)
            | Outcome::SeatsCancelled(h)
            | Outcome::SeatsRefunded(h)
            | Outcome::SeatReleased(h)
            | Outcome::SeatSwapped(h) => {
                out.hold = Some(h.id.0);
                out.seats = Some(h.seats.iter().map(|s| s.seat.0).collect());
                match o {
                    Outcome::SeatsHeld(_) => "seats_held",
                    Outcome::SeatsConfirmed(_) => "seats_confirmed",
                    Outcome::SeatsCancelled(_) => "seats_cancelled",
                    Outcome::SeatsRefunded(_) => "seats_refunded",
                    Outcome::SeatReleased(_) => "seat_released",
                    _ => "seat_swapped",
                }
            }
            Outcome::Clicked(c) => {
                out.rank = Some(c.rank);
                "clicked"
            }
            Outcome::Joined(e) => {
                out.ticket = Some(e.ticket);
                "joined"
            }
            Outcome::PowSet { bits } => {
                out.quantity = Some(u32::from(*bits));
                "pow_set"
            }
            Outcome::Rejected(r) => {
                out.reason = Some(r.code().to_owned());
                "rejected"
            }
        };
        out.kind = kind.to_owned();
        out
    }
}

impl Record {
    pub fn create(config: &SaleConfig) -> Self {
        Record::Create { v: RECORD_VERSION, config: config.into() }
    }

    pub fn from_input(input: &Input, outcome: &Outcome) -> Self {
        match input {
            Input::Command(c) => Record::Cmd {
                v: RECORD_VERSION,
                by: c.by.0,
                key: c.key.as_str().to_owned(),
                action: (&c.action).into(),
                out: outcome.into(),
            },
            Input::Tick { .. } => Record::Tick { v: RECORD_VERSION },
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain structs cannot fail; an empty payload would
        // still be caught by decode on replay.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let record: Record = serde_json::from_slice(bytes)?;
        let v = match &record {
            Record::Create { v, .. } | Record::Cmd { v, .. } | Record::Tick { v } => *v,
        };
        if v != RECORD_VERSION {
            return Err(RecordError::UnknownVersion(v));
        }
        Ok(record)
    }

    /// The input this record replays as, stamped with the entry's time.
    /// `None` for `create`, which starts the sale instead.
    pub fn to_input(&self, at_us: i64) -> Result<Option<(Input, Option<&OutcomeV1>)>, RecordError> {
        match self {
            Record::Create { .. } => Ok(None),
            Record::Tick { .. } => Ok(Some((Input::Tick { at_us }, None))),
            Record::Cmd { by, key, action, out, .. } => {
                let key = IdempotencyKey::parse(key).map_err(|_| RecordError::Invalid("idempotency key"))?;
                let cmd = Command { at_us, by: UserId(*by), key, action: action.clone().into() };
                Ok(Some((Input::Command(cmd), Some(out))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_record_round_trips_and_is_readable() {
        let cmd = Command {
            at_us: 5,
            by: UserId(7),
            key: IdempotencyKey::parse("k-1").unwrap_or_else(|_| panic!("valid key")),
            action: Action::Reserve { quantity: 2 },
        };
        let outcome = Outcome::Rejected(stampede_core::Rejection::SoldOut { available: 1 });
        let rec = Record::from_input(&Input::Command(cmd.clone()), &outcome);
        let bytes = rec.encode();
        let text = String::from_utf8(bytes.clone()).unwrap_or_default();
        assert!(text.contains(r#""reason":"sold-out""#), "{text}");
        let back = Record::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, rec);
        let (input, out) = back.to_input(5).unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("input"));
        assert_eq!(input, Input::Command(cmd));
        assert_eq!(out, Some(&OutcomeV1::from(&outcome)));
    }

    #[test]
    fn seated_sales_and_seat_commands_round_trip() {
        let spec = stampede_core::SectionSpec {
            name: "A".into(),
            tier: "R".into(),
            price: 5,
            colour: "#123456".into(),
            rows: 3,
            seats_per_row: 4,
            x: 0,
            y: 0,
            curve_degrees: 30.0,
            spacing: 10,
        };
        let venue = stampede_core::generate("Hall", &[spec]).unwrap_or_else(|e| panic!("{e}"));
        let config = SaleConfig {
            translations: vec![SaleText { lang: "ko".into(), title: "티".into(), description: String::new() }],
            title: "t".into(),
            description: String::new(),
            owner: UserId(1),
            currency: "KRW".into(),
            opens_at_us: None,
            closes_at_us: None,
            kind: KindConfig::Seated(SeatedConfig {
                venue,
                per_person_limit: 4,
                seats_per_hold_max: 4,
                hold_ttl_us: 10,
            }),
            queue: None,
        };
        let bytes = Record::create(&config).encode();
        let Ok(Record::Create { config: back, .. }) = Record::decode(&bytes) else { panic!("decodes") };
        assert_eq!(SaleConfig::try_from(back).unwrap_or_else(|e| panic!("{e}")), config);
        let actions = [
            Action::HoldSeats { seats: vec![SeatId(1), SeatId(2)], holders: vec![] },
            Action::HoldSeats { seats: vec![SeatId(3)], holders: vec![UserId(9)] },
            Action::HoldBest { area: SeatArea::Tier("R".into()), count: 2, holders: vec![] },
            Action::HoldBest { area: SeatArea::Section(0), count: 1, holders: vec![UserId(2)] },
            Action::HoldBest { area: SeatArea::Any, count: 3, holders: vec![] },
            Action::ReleaseSeat { order: HoldId(4), seat: SeatId(7) },
            Action::SwapSeat { order: HoldId(4), from: SeatId(7), to: SeatId(8) },
            Action::Edit(Box::new(SaleEdit {
                title: Some("New".into()),
                description: None,
                opens_at_us: Some(None),
                closes_at_us: Some(Some(99)),
                terms: Some(TermsEdit::Seated { per_person_limit: 2, seats_per_hold_max: 2, hold_ttl_us: 5 }),
            })),
            Action::Edit(Box::new(SaleEdit {
                terms: Some(TermsEdit::Stock(StockConfig {
                    stock: 3,
                    price: 4,
                    per_person_limit: 1,
                    order_quantity_max: 1,
                    hold_ttl_us: 6,
                })),
                ..SaleEdit::default()
            })),
            Action::Edit(Box::new(SaleEdit {
                terms: Some(TermsEdit::Drop(DropConfig { winners: 3 })),
                ..SaleEdit::default()
            })),
            Action::Archive,
        ];
        for a in actions {
            let text = serde_json::to_string(&ActionV1::from(&a)).unwrap_or_default();
            let back: ActionV1 = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(Action::from(back), a, "{text}");
        }
    }

    /// A waiting room logged before passes were good up to the per-person
    /// limit has no `pass_up_to_limit`: it replays under the old rule.
    #[test]
    fn a_room_logged_before_the_pass_rule_keeps_one_checkout_per_pass() {
        let old = br#"{"t":"create","v":1,"config":{"title":"t","description":"","owner":1,"currency":"KRW",
            "opens_at_us":null,"closes_at_us":null,
            "kind":{"kind":"stock","stock":10,"price":5,"per_person_limit":2,"order_quantity_max":2,"hold_ttl_us":10},
            "queue":{"policy":{"policy":"active","max":1},"pass_ttl_us":100,"prequeue_opens_at_us":null,"pow_bits":0,
            "places_per_address":4,"seed":"0000000000000000000000000000000000000000000000000000000000000000"}}}"#;
        let Ok(Record::Create { config, .. }) = Record::decode(old) else { panic!("an old create record decodes") };
        let config = SaleConfig::try_from(config).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.queue.as_ref().map(|q| q.pass_up_to_limit), Some(false));
        // New sales write the rule down, and read it back.
        let mut new = config.clone();
        if let Some(q) = &mut new.queue {
            q.pass_up_to_limit = true;
        }
        let bytes = Record::create(&new).encode();
        assert!(String::from_utf8_lossy(&bytes).contains(r#""pass_up_to_limit":true"#));
        let Ok(Record::Create { config: back, .. }) = Record::decode(&bytes) else { panic!("decodes") };
        assert_eq!(SaleConfig::try_from(back).unwrap_or_else(|e| panic!("{e}")), new);
    }

    #[test]
    fn unknown_version_is_refused() {
        let bytes = br#"{"t":"tick","v":2}"#;
        assert!(matches!(Record::decode(bytes), Err(RecordError::UnknownVersion(2))));
    }
}
