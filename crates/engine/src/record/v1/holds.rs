//! Version 1 of the hold lifecycle's records, shared by every kind that holds
//! (stock, seated): confirm, cancel, refund. Written once; decoded the same
//! way forever.

use serde::{Deserialize, Serialize};
use stampede_core::{Action, HoldId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldActionV1 {
    Confirm { hold: u64 },
    Cancel { hold: u64 },
    Refund { order: u64 },
}

impl HoldActionV1 {
    /// The names it is written under; `de.rs` reads a name's record with this part.
    pub const NAMES: &[&str] = &["confirm", "cancel", "refund"];
}

impl From<HoldActionV1> for Action {
    fn from(a: HoldActionV1) -> Self {
        match a {
            HoldActionV1::Confirm { hold } => Action::Confirm { hold: HoldId(hold) },
            HoldActionV1::Cancel { hold } => Action::Cancel { hold: HoldId(hold) },
            HoldActionV1::Refund { order } => Action::Refund { order: HoldId(order) },
        }
    }
}
