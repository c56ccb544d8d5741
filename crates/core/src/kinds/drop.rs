//! The first-come drop: the first N clickers after opening win.
//!
//! A click's rank is its position in the sale's input order, and its time is
//! the time the sale's single writer stamped on it, so rank order and time
//! order can never disagree. A person's repeated click returns their first.
//! Owns its config, its action (click), its outcome, its view and the
//! invariant that ranks are dense, in time order, one per person.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Gate, Kind};
use crate::schedule::SaleStatus;
use crate::{Event, Outcome, Rejection, UserId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropConfig {
    pub winners: u32,
}

/// What a person asks of a drop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DropAction {
    Click,
}

/// A drop's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DropOutcome {
    Clicked(Click),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Click {
    pub by: UserId,
    /// 1-based.
    pub rank: u32,
    pub at_us: i64,
    pub won: bool,
    /// Microseconds between the sale opening and this click.
    pub after_open_us: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropView {
    pub winners: u32,
    pub clicks: u32,
    pub won: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropBook {
    pub config: DropConfig,
    /// In rank order: `clicks[i].rank == i + 1`.
    clicks: Vec<Click>,
    by_person: BTreeMap<UserId, u32>,
}

impl DropBook {
    pub fn view(&self) -> DropView {
        let clicks = u32::try_from(self.clicks.len()).unwrap_or(u32::MAX);
        DropView { winners: self.config.winners, clicks, won: clicks.min(self.config.winners) }
    }

    pub fn clicks(&self) -> &[Click] {
        &self.clicks
    }

    pub fn click_of(&self, by: UserId) -> Option<&Click> {
        let i = *self.by_person.get(&by)?;
        self.clicks.get(i as usize)
    }

    fn click(&mut self, by: UserId, at_us: i64, opened_at_us: i64, events: &mut Vec<Event>) -> Outcome {
        let index = u32::try_from(self.clicks.len()).unwrap_or(u32::MAX);
        let rank = index.saturating_add(1);
        let click = Click {
            by,
            rank,
            at_us,
            won: rank <= self.config.winners,
            after_open_us: at_us.saturating_sub(opened_at_us),
        };
        self.clicks.push(click.clone());
        self.by_person.insert(by, index);
        events.push(Event::Clicked(click.clone()));
        Outcome::Drop(DropOutcome::Clicked(click))
    }
}

impl Kind for DropBook {
    const NAME: &'static str = "drop";
    type Config = DropConfig;
    type Terms = DropConfig;
    type Action = DropAction;

    fn new(config: DropConfig) -> Self {
        DropBook { config, clicks: Vec::new(), by_person: BTreeMap::new() }
    }

    /// A repeat returns the first click whatever the status now is; a new
    /// click needs the sale open and, with a waiting room, a live pass, which
    /// the click uses up (a drop's limit is one).
    fn act(&mut self, by: UserId, action: &DropAction, gate: &mut Gate<'_>, events: &mut Vec<Event>) -> Outcome {
        match action {
            DropAction::Click => {
                if let Some(first) = self.click_of(by) {
                    return Outcome::Drop(DropOutcome::Clicked(first.clone()));
                }
                let opened = match (gate.status, gate.opened_at_us) {
                    (SaleStatus::Open, Some(opened)) => opened,
                    (SaleStatus::Closed, _) => return Outcome::Rejected(Rejection::Closed),
                    _ => return Outcome::Rejected(Rejection::NotOpenYet),
                };
                if let Err(r) = gate.check_pass(by) {
                    return Outcome::Rejected(r);
                }
                let outcome = self.click(by, gate.now, opened, events);
                gate.record_purchase(by, 1, events);
                outcome
            }
        }
    }

    fn per_person_limit(&self) -> u32 {
        1
    }

    /// Winning ranks not yet taken.
    fn available(&self) -> u64 {
        let v = self.view();
        u64::from(v.winners.saturating_sub(v.won))
    }

    fn has_orders(&self) -> bool {
        !self.clicks.is_empty()
    }

    fn same_terms(&self, terms: &DropConfig) -> bool {
        *terms == self.config
    }

    fn config_with(&self, terms: &DropConfig) -> DropConfig {
        terms.clone()
    }

    fn check_invariants(&self) -> Result<(), String> {
        for (i, c) in self.clicks.iter().enumerate() {
            if c.rank as usize != i + 1 {
                return Err(format!("click {i} has rank {}", c.rank));
            }
            if c.won != (c.rank <= self.config.winners) {
                return Err(format!("rank {} won={} with {} winners", c.rank, c.won, self.config.winners));
            }
            if i > 0 && self.clicks[i - 1].at_us > c.at_us {
                return Err(format!("rank {} clicked before rank {}", c.rank, c.rank - 1));
            }
            if self.by_person.get(&c.by) != Some(&(i as u32)) {
                return Err(format!("{:?} clicked twice or is unindexed", c.by));
            }
        }
        if self.by_person.len() != self.clicks.len() {
            return Err("person index has extra entries".into());
        }
        Ok(())
    }
}
