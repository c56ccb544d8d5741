//! Version 1 of the record format, one module per part of a sale: the frame
//! (`frame.rs`), the hold lifecycle shared by kinds that hold (`holds.rs`),
//! and one module per kind (`stock.rs`, `drop.rs`, `seated.rs`). This module
//! only joins them; what it joins must encode to the very JSON it always did
//! (`tests/fixture_log.rs` holds a log written before the split).

mod de;
pub mod drop;
pub mod frame;
pub mod holds;
pub mod seated;
pub mod stock;
pub mod tickets;

use serde::{Deserialize, Serialize};
use stampede_core::{Action, KindConfig, Outcome, SaleConfig, TermsEdit, UserId};

use super::RecordError;
use drop::{DropActionV1, DropConfigV1};
use frame::{FrameActionV1, QueueV1, TextV1};
use holds::HoldActionV1;
use seated::{SeatedActionV1, SeatedConfigV1, SeatedTermsV1};
use stock::{StockActionV1, StockConfigV1};
use tickets::TicketActionV1;

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

/// A sale's kind and terms: `{"kind": "stock", ...its fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KindV1 {
    Stock(StockConfigV1),
    Drop(DropConfigV1),
    Seated(SeatedConfigV1),
}

/// New terms of a sale's kind: `{"kind": "stock", ...its fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TermsV1 {
    Stock(StockConfigV1),
    Drop(DropConfigV1),
    Seated(SeatedTermsV1),
}

/// A command's action. The log has always written it as one externally
/// tagged enum (`"open"`, `{"reserve":{"quantity":2}}`); each part's enum
/// writes exactly that (so serializing is untagged), and no name is in two
/// parts, so reading looks the name up in the parts' [`NAMES`](stock::StockActionV1::NAMES)
/// and hands the rest to that part alone (`de.rs`), without buffering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ActionV1 {
    Stock(StockActionV1),
    Holds(HoldActionV1),
    Drop(DropActionV1),
    Seated(SeatedActionV1),
    Frame(FrameActionV1),
    Tickets(TicketActionV1),
}

/// What the command's answer was, in enough detail to check a replay and a
/// receipt. One shape for every kind: the outcome's name and the fields it uses.
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

impl OutcomeV1 {
    /// An outcome with its name only; the parts fill in their fields.
    pub fn named(kind: &str) -> Self {
        OutcomeV1 {
            kind: kind.to_owned(),
            hold: None,
            quantity: None,
            rank: None,
            ticket: None,
            reason: None,
            seats: None,
        }
    }
}

impl From<&Outcome> for OutcomeV1 {
    fn from(o: &Outcome) -> Self {
        match o {
            Outcome::Stock(o) => stock::summary(o),
            Outcome::Drop(o) => drop::summary(o),
            Outcome::Seated(o) => seated::summary(o),
            Outcome::Ticket(o) => tickets::summary(o),
            frame => frame::summary(frame).unwrap_or_else(|| OutcomeV1::named("unknown")),
        }
    }
}

impl From<&Action> for ActionV1 {
    fn from(a: &Action) -> Self {
        match a {
            Action::Stock(a) => ActionV1::Stock(a.into()),
            Action::Drop(a) => ActionV1::Drop(a.into()),
            Action::Seated(a) => ActionV1::Seated(a.into()),
            Action::Ticket(a) => ActionV1::Tickets(a.into()),
            Action::Confirm { hold } => ActionV1::Holds(HoldActionV1::Confirm { hold: hold.0 }),
            Action::Cancel { hold } => ActionV1::Holds(HoldActionV1::Cancel { hold: hold.0 }),
            Action::Refund { order } => ActionV1::Holds(HoldActionV1::Refund { order: order.0 }),
            Action::Open => ActionV1::Frame(FrameActionV1::Open),
            Action::Close => ActionV1::Frame(FrameActionV1::Close),
            Action::Join { nonce, address } => {
                ActionV1::Frame(FrameActionV1::Join { nonce: *nonce, address: *address })
            }
            Action::SetPowBits { bits } => ActionV1::Frame(FrameActionV1::SetPowBits { bits: *bits }),
            Action::Edit(e) => ActionV1::Frame(FrameActionV1::edit(e)),
            Action::Archive => ActionV1::Frame(FrameActionV1::Archive),
        }
    }
}

impl From<ActionV1> for Action {
    fn from(a: ActionV1) -> Self {
        match a {
            ActionV1::Stock(a) => Action::Stock(a.into()),
            ActionV1::Drop(a) => Action::Drop(a.into()),
            ActionV1::Seated(a) => Action::Seated(a.into()),
            ActionV1::Holds(a) => a.into(),
            ActionV1::Frame(a) => a.into(),
            ActionV1::Tickets(a) => Action::Ticket(a.into()),
        }
    }
}

impl From<&TermsEdit> for TermsV1 {
    fn from(t: &TermsEdit) -> Self {
        match t {
            TermsEdit::Stock(s) => TermsV1::Stock(s.into()),
            TermsEdit::Drop(d) => TermsV1::Drop(d.into()),
            TermsEdit::Seated(s) => TermsV1::Seated(s.into()),
        }
    }
}

impl From<TermsV1> for TermsEdit {
    fn from(t: TermsV1) -> Self {
        match t {
            TermsV1::Stock(s) => TermsEdit::Stock(s.into()),
            TermsV1::Drop(d) => TermsEdit::Drop(d.into()),
            TermsV1::Seated(s) => TermsEdit::Seated(s.into()),
        }
    }
}

impl From<&KindConfig> for KindV1 {
    fn from(k: &KindConfig) -> Self {
        match k {
            KindConfig::Stock(s) => KindV1::Stock(s.into()),
            KindConfig::Drop(d) => KindV1::Drop(d.into()),
            KindConfig::Seated(s) => KindV1::Seated(s.into()),
        }
    }
}

impl TryFrom<KindV1> for KindConfig {
    type Error = RecordError;

    fn try_from(k: KindV1) -> Result<Self, RecordError> {
        Ok(match k {
            KindV1::Stock(s) => KindConfig::Stock(s.into()),
            KindV1::Drop(d) => KindConfig::Drop(d.into()),
            KindV1::Seated(s) => KindConfig::Seated(s.try_into()?),
        })
    }
}

impl From<&SaleConfig> for ConfigV1 {
    fn from(c: &SaleConfig) -> Self {
        ConfigV1 {
            title: c.title.clone(),
            description: c.description.clone(),
            translations: c.translations.iter().map(TextV1::from).collect(),
            owner: c.owner.0,
            currency: c.currency.clone(),
            opens_at_us: c.opens_at_us,
            closes_at_us: c.closes_at_us,
            kind: (&c.kind).into(),
            queue: c.queue.as_ref().map(QueueV1::from),
        }
    }
}

impl TryFrom<ConfigV1> for SaleConfig {
    type Error = RecordError;

    fn try_from(c: ConfigV1) -> Result<Self, RecordError> {
        let queue = c.queue.map(TryInto::try_into).transpose()?;
        Ok(SaleConfig {
            title: c.title,
            description: c.description,
            translations: c.translations.into_iter().map(Into::into).collect(),
            owner: UserId(c.owner),
            currency: c.currency,
            opens_at_us: c.opens_at_us,
            closes_at_us: c.closes_at_us,
            kind: c.kind.try_into()?,
            queue,
        })
    }
}
