//! Version 1 of a drop's records: its terms, its click and the click's
//! summary. Written once; decoded the same way forever.

use serde::{Deserialize, Serialize};
use stampede_core::{DropAction, DropConfig, DropOutcome};

use super::OutcomeV1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropConfigV1 {
    pub winners: u32,
}

impl From<&DropConfig> for DropConfigV1 {
    fn from(d: &DropConfig) -> Self {
        DropConfigV1 { winners: d.winners }
    }
}

impl From<DropConfigV1> for DropConfig {
    fn from(d: DropConfigV1) -> Self {
        DropConfig { winners: d.winners }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropActionV1 {
    Click,
}

impl DropActionV1 {
    /// The names it is written under; `de.rs` reads a name's record with this part.
    pub const NAMES: &[&str] = &["click"];
}

impl From<&DropAction> for DropActionV1 {
    fn from(a: &DropAction) -> Self {
        match a {
            DropAction::Click => DropActionV1::Click,
        }
    }
}

impl From<DropActionV1> for DropAction {
    fn from(a: DropActionV1) -> Self {
        match a {
            DropActionV1::Click => DropAction::Click,
        }
    }
}

/// The click's rank.
pub fn summary(o: &DropOutcome) -> OutcomeV1 {
    match o {
        DropOutcome::Clicked(c) => OutcomeV1 { rank: Some(c.rank), ..OutcomeV1::named("clicked") },
    }
}
