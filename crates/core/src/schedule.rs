//! When a sale is open: the scheduled -> open -> closed life shared by every kind.

use serde::{Deserialize, Serialize};

/// Where a sale is in its life. Sold out is not a status: stock can come back
/// (a hold expires, an order is refunded), so it is read from the numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SaleStatus {
    Scheduled,
    Open,
    Closed,
}

impl SaleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SaleStatus::Scheduled => "scheduled",
            SaleStatus::Open => "open",
            SaleStatus::Closed => "closed",
        }
    }
}

/// Opening and closing times and the status they imply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub status: SaleStatus,
    /// When the sale opens by itself; `None` waits for an explicit open.
    pub opens_at_us: Option<i64>,
    /// When the sale closes by itself; `None` waits for an explicit close.
    pub closes_at_us: Option<i64>,
    /// When it actually opened: the scheduled time, or the time of the open command.
    /// Drops measure reaction times from here.
    pub opened_at_us: Option<i64>,
    pub closed_at_us: Option<i64>,
}

impl Schedule {
    pub fn new(opens_at_us: Option<i64>, closes_at_us: Option<i64>) -> Self {
        Schedule { status: SaleStatus::Scheduled, opens_at_us, closes_at_us, opened_at_us: None, closed_at_us: None }
    }

    /// Moves the status along as time passes; returns true if it changed.
    /// Opening takes effect at the scheduled instant, not at the (later) tick,
    /// so reaction times do not depend on how promptly the timer fired.
    pub fn advance(&mut self, now_us: i64) -> bool {
        let mut changed = false;
        if self.status == SaleStatus::Scheduled
            && let Some(opens) = self.opens_at_us
            && opens <= now_us
        {
            self.status = SaleStatus::Open;
            self.opened_at_us = Some(opens);
            changed = true;
        }
        if self.status != SaleStatus::Closed
            && let Some(closes) = self.closes_at_us
            && closes <= now_us
        {
            self.status = SaleStatus::Closed;
            self.closed_at_us = Some(closes);
            changed = true;
        }
        changed
    }

    /// The next instant at which [`Schedule::advance`] would change something.
    pub fn next_deadline_us(&self) -> Option<i64> {
        match self.status {
            SaleStatus::Scheduled => match (self.opens_at_us, self.closes_at_us) {
                (Some(o), Some(c)) => Some(o.min(c)),
                (o, c) => o.or(c),
            },
            SaleStatus::Open => self.closes_at_us,
            SaleStatus::Closed => None,
        }
    }

    pub fn open_now(&mut self, now_us: i64) {
        self.status = SaleStatus::Open;
        self.opened_at_us = Some(now_us);
    }

    pub fn close_now(&mut self, now_us: i64) {
        self.status = SaleStatus::Closed;
        self.closed_at_us = Some(now_us);
    }
}
