//! Version 1 of a stock sale's records: its terms, its one action and the
//! summary of its outcomes. Written once; decoded the same way forever.

use serde::{Deserialize, Serialize};
use stampede_core::{StockAction, StockConfig, StockOutcome};

use super::OutcomeV1;

/// A stock sale's terms, as created and as edited (the same fields).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockConfigV1 {
    pub stock: u64,
    pub price: u64,
    pub per_person_limit: u32,
    pub order_quantity_max: u32,
    pub hold_ttl_us: i64,
}

impl From<&StockConfig> for StockConfigV1 {
    fn from(s: &StockConfig) -> Self {
        StockConfigV1 {
            stock: s.stock,
            price: s.price,
            per_person_limit: s.per_person_limit,
            order_quantity_max: s.order_quantity_max,
            hold_ttl_us: s.hold_ttl_us,
        }
    }
}

impl From<StockConfigV1> for StockConfig {
    fn from(s: StockConfigV1) -> Self {
        StockConfig {
            stock: s.stock,
            price: s.price,
            per_person_limit: s.per_person_limit,
            order_quantity_max: s.order_quantity_max,
            hold_ttl_us: s.hold_ttl_us,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockActionV1 {
    Reserve { quantity: u32 },
}

impl StockActionV1 {
    /// The names it is written under; `de.rs` reads a name's record with this part.
    pub const NAMES: &[&str] = &["reserve"];
}

impl From<&StockAction> for StockActionV1 {
    fn from(a: &StockAction) -> Self {
        match a {
            StockAction::Reserve { quantity } => StockActionV1::Reserve { quantity: *quantity },
        }
    }
}

impl From<StockActionV1> for StockAction {
    fn from(a: StockActionV1) -> Self {
        match a {
            StockActionV1::Reserve { quantity } => StockAction::Reserve { quantity },
        }
    }
}

/// The hold's id and quantity, under the outcome's name.
pub fn summary(o: &StockOutcome) -> OutcomeV1 {
    let h = o.hold();
    let kind = match o {
        StockOutcome::Held(_) => "held",
        StockOutcome::Confirmed(_) => "confirmed",
        StockOutcome::Cancelled(_) => "cancelled",
        StockOutcome::Refunded(_) => "refunded",
    };
    OutcomeV1 { hold: Some(h.id.0), quantity: Some(h.quantity), ..OutcomeV1::named(kind) }
}
