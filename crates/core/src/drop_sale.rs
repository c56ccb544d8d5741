//! The first-come drop: the first N clickers after opening win.
//!
//! A click's rank is its position in the sale's input order, and its time is
//! the time the sale's single writer stamped on it, so rank order and time
//! order can never disagree. A person's repeated click returns their first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Event, Outcome, UserId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropConfig {
    pub winners: u32,
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
    pub fn new(config: DropConfig) -> Self {
        DropBook { config, clicks: Vec::new(), by_person: BTreeMap::new() }
    }

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

    /// The open-status check happens in the caller, except for a repeat, which
    /// returns the first click whatever the status now is.
    pub(crate) fn first_click(&self, by: UserId) -> Option<Outcome> {
        self.click_of(by).map(|c| Outcome::Clicked(c.clone()))
    }

    pub(crate) fn click(&mut self, by: UserId, at_us: i64, opened_at_us: i64, events: &mut Vec<Event>) -> Outcome {
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
        Outcome::Clicked(click)
    }

    pub fn check_invariants(&self) -> Result<(), String> {
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
