//! Version 1 of the frame's records, whatever the sale's kind: the waiting
//! room and translations of a `create` record, and the actions open, close,
//! join, set the proof of work, edit and archive with their outcomes.
//! Written once; decoded the same way forever.

use serde::{Deserialize, Serialize};
use stampede_core::{Action, AdmissionPolicy, Outcome, QueueConfig, SaleEdit, SaleText, TermsEdit};

use super::{OutcomeV1, TermsV1};
use crate::record::{RecordError, hex, unhex32};

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

impl From<&SaleText> for TextV1 {
    fn from(t: &SaleText) -> Self {
        TextV1 { lang: t.lang.clone(), title: t.title.clone(), description: t.description.clone() }
    }
}

impl From<TextV1> for SaleText {
    fn from(t: TextV1) -> Self {
        SaleText { lang: t.lang, title: t.title, description: t.description }
    }
}

impl From<&QueueConfig> for QueueV1 {
    fn from(q: &QueueConfig) -> Self {
        QueueV1 {
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
        }
    }
}

impl TryFrom<QueueV1> for QueueConfig {
    type Error = RecordError;

    fn try_from(q: QueueV1) -> Result<Self, RecordError> {
        Ok(QueueConfig {
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
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameActionV1 {
    Open,
    Close,
    Join {
        nonce: u64,
        address: u64,
    },
    SetPowBits {
        bits: u8,
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

impl FrameActionV1 {
    /// The names it is written under; `de.rs` reads a name's record with this part.
    pub const NAMES: &[&str] = &["open", "close", "join", "set_pow_bits", "edit", "archive"];
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

impl FrameActionV1 {
    pub fn edit(e: &SaleEdit) -> Self {
        FrameActionV1::Edit {
            title: e.title.clone(),
            description: e.description.clone(),
            opens_at_us: e.opens_at_us.map(TimeV1::of),
            closes_at_us: e.closes_at_us.map(TimeV1::of),
            terms: e.terms.as_ref().map(TermsV1::from),
        }
    }
}

impl From<FrameActionV1> for Action {
    fn from(a: FrameActionV1) -> Self {
        match a {
            FrameActionV1::Open => Action::Open,
            FrameActionV1::Close => Action::Close,
            FrameActionV1::Join { nonce, address } => Action::Join { nonce, address },
            FrameActionV1::SetPowBits { bits } => Action::SetPowBits { bits },
            FrameActionV1::Edit { title, description, opens_at_us, closes_at_us, terms } => {
                Action::Edit(Box::new(SaleEdit {
                    title,
                    description,
                    opens_at_us: opens_at_us.map(|t| t.time()),
                    closes_at_us: closes_at_us.map(|t| t.time()),
                    terms: terms.map(TermsEdit::from),
                }))
            }
            FrameActionV1::Archive => Action::Archive,
        }
    }
}

/// The summary of a frame's outcome; `None` for a kind's.
pub fn summary(o: &Outcome) -> Option<OutcomeV1> {
    Some(match o {
        Outcome::Opened => OutcomeV1::named("opened"),
        Outcome::Closed => OutcomeV1::named("closed"),
        Outcome::Ticked => OutcomeV1::named("ticked"),
        Outcome::Edited => OutcomeV1::named("edited"),
        Outcome::Archived => OutcomeV1::named("archived"),
        Outcome::Joined(e) => OutcomeV1 { ticket: Some(e.ticket), ..OutcomeV1::named("joined") },
        Outcome::PowSet { bits } => OutcomeV1 { quantity: Some(u32::from(*bits)), ..OutcomeV1::named("pow_set") },
        Outcome::Rejected(r) => OutcomeV1 { reason: Some(r.code().to_owned()), ..OutcomeV1::named("rejected") },
        Outcome::Stock(_) | Outcome::Drop(_) | Outcome::Seated(_) | Outcome::Ticket(_) => return None,
    })
}
