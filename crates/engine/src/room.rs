//! The waiting room's entries as of a sale's newest durable batch, published
//! by the sale task so that a person's own ticket, place and pass are read
//! without asking the task.
//!
//! A map rather than a copy inside [`crate::LiveView`]: a room can hold
//! hundreds of thousands of entries, and copying them with every batch would
//! cost more than the batch. The task hands over only what a batch changed
//! ([`RoomTracker`]): the entries of the people whose commands it carried (a
//! join; a purchase, which counts against a pass and may use it up), the places
//! it admitted, and every entry once, at the shuffle, when the pre-queue gets
//! its places. Nothing else changes an entry except a pass expiring, which the
//! core records as `Expired { at_us: expires_at_us }` and nothing more, so
//! [`DurableRoom::entry_at`] gives it that state once its time has come rather
//! than being told. The map holds one entry per person who joined, as the
//! core's room does: its size is the room's, and a batch's work is the number
//! of entries it changed.

use std::collections::HashMap;

use parking_lot::RwLock;
use stampede_core::{PassState, QueueEntry, Sale, UserId};

/// One sale's waiting-room entries, as durable.
#[derive(Debug, Default)]
pub struct DurableRoom {
    entries: RwLock<HashMap<UserId, QueueEntry>>,
}

impl DurableRoom {
    pub(crate) fn of(sale: &Sale) -> Self {
        let entries = sale.waiting_room().map(|q| q.entries().iter().map(|e| (e.by, e.clone())).collect());
        DurableRoom { entries: RwLock::new(entries.unwrap_or_default()) }
    }

    /// `by`'s entry as the core would show it at `now_us`, provided every
    /// deadline up to `now_us` has been applied (see [`crate::Engine::queue_entry`]).
    pub fn entry_at(&self, by: UserId, now_us: i64) -> Option<QueueEntry> {
        let mut entry = self.entries.read().get(&by).cloned()?;
        if let PassState::Admitted { expires_at_us, .. } = entry.pass
            && expires_at_us <= now_us
        {
            entry.pass = PassState::Expired { at_us: expires_at_us };
        }
        Some(entry)
    }

    /// Called once the batch that made `changed` is durable, in log order.
    pub(crate) fn update(&self, changed: Vec<QueueEntry>) {
        if changed.is_empty() {
            return;
        }
        let mut entries = self.entries.write();
        for e in changed {
            entries.insert(e.by, e);
        }
    }
}

/// What the sale task remembers to tell which entries a batch changed.
#[derive(Debug, Default)]
pub(crate) struct RoomTracker {
    /// Whether the pre-queue had been shuffled when the last batch was handed over.
    shuffled: bool,
    /// Places admitted when the last batch was handed over.
    admitted: u32,
    /// People whose commands the batch being built carries.
    touched: Vec<UserId>,
}

impl RoomTracker {
    pub(crate) fn of(sale: &Sale) -> Self {
        let view = sale.waiting_room().map(|q| q.view());
        RoomTracker {
            shuffled: view.as_ref().is_some_and(|v| !v.prequeue),
            admitted: view.map_or(0, |v| v.admitted),
            touched: Vec::new(),
        }
    }

    /// A command by `by` was applied (only rooms are tracked).
    pub(crate) fn touch(&mut self, sale: &Sale, by: UserId) {
        if sale.waiting_room().is_some() {
            self.touched.push(by);
        }
    }

    /// The entries changed since the last call, to publish with the batch.
    pub(crate) fn changed(&mut self, sale: &Sale) -> Vec<QueueEntry> {
        let touched = std::mem::take(&mut self.touched);
        let Some(q) = sale.waiting_room() else { return Vec::new() };
        let view = q.view();
        let shuffled = !view.prequeue;
        let mut out = Vec::new();
        if shuffled && !self.shuffled {
            // Every place was decided at once; once per sale.
            out.extend(q.entries().iter().cloned());
        } else {
            let newly =
                q.line().iter().skip(self.admitted as usize).take(view.admitted.saturating_sub(self.admitted) as usize);
            out.extend(newly.filter_map(|&ticket| q.entries().get((ticket as usize).checked_sub(1)?).cloned()));
            out.extend(touched.into_iter().filter_map(|by| q.entry_of(by).cloned()));
        }
        self.shuffled = shuffled;
        self.admitted = view.admitted;
        out
    }
}
