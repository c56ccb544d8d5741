//! Publication of durable events: after each batch is committed, the sale
//! task's events for it go out, in log order, to every subscriber.
//!
//! The channel is bounded ([`EVENT_BATCHES_MAX`] batches). A subscriber that
//! falls behind is told it lagged and loses the oldest batches; it then
//! catches up from the log by sequence number ([`crate::replay::events_since`]),
//! never from memory, so nothing here has to keep events for slow readers.
//! Every batch carries the seq of each of its entries (an entry whose command
//! was rejected carries no events, but still its seq), so a subscriber sees a
//! gap in a sale's seqs and can fill it from the log.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stampede_core::Event;
use stampede_log::SaleId;
use tokio::sync::broadcast;

/// Batches kept for subscribers; one that falls further behind re-reads the log.
pub const EVENT_BATCHES_MAX: usize = 4096;

/// The events of one log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryEvents {
    pub seq: u64,
    pub at_us: i64,
    pub events: Vec<Event>,
}

/// One durable batch of one sale, as published.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaleEvents {
    pub sale: SaleId,
    /// Consecutive entries in log order (never empty).
    pub entries: Vec<EntryEvents>,
    /// This batch's place in the order of publication (1, 2, 3... across all
    /// sales). A reader that has applied batch `n` has applied everything
    /// answered before batch `n` was published: see [`crate::Engine::published`].
    pub number: u64,
}

/// The sending side, shared by the engine and every sale task.
pub(crate) struct EventBus {
    tx: broadcast::Sender<Arc<SaleEvents>>,
    /// Batches published so far; the number of the newest. Shared with
    /// subscriptions, which must not keep the sender (and so the stream) alive.
    published: Arc<AtomicU64>,
}

impl EventBus {
    pub(crate) fn new(batches_max: usize) -> Self {
        EventBus { tx: broadcast::Sender::new(batches_max), published: Arc::new(AtomicU64::new(0)) }
    }

    /// Whether events are worth keeping: without subscribers a sale task
    /// drops them at once (a subscriber that comes later reads the log).
    pub(crate) fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Called by the writer thread once a batch is durable, in commit order.
    pub(crate) fn publish(&self, sale: SaleId, entries: Vec<EntryEvents>) {
        if entries.is_empty() {
            return;
        }
        let number = self.published.fetch_add(1, Ordering::AcqRel) + 1;
        // No receiver is not a failure: nobody is listening right now.
        let _ = self.tx.send(Arc::new(SaleEvents { sale, entries, number }));
    }

    pub(crate) fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    pub(crate) fn subscribe(&self) -> Subscription {
        Subscription { rx: self.tx.subscribe(), published: self.published.clone(), persons: None }
    }
}

/// What a subscriber receives next.
#[derive(Debug)]
pub enum Received {
    Batch(Arc<SaleEvents>),
    /// Batches were lost because this subscriber fell behind: catch up from
    /// the log (every sale, from the seq after the last one applied).
    Lagged {
        missed: u64,
    },
    /// The engine stopped.
    Closed,
}

/// A subscriber's end of the event stream; it sees batches published after it
/// subscribed. Whatever came before, it reads from the log.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<SaleEvents>>,
    published: Arc<AtomicU64>,
    /// The engine's key for pseudonyms: catching up from the log with
    /// [`crate::replay::events_since_with`] needs it for sealed sales.
    pub(crate) persons: Option<crate::persons::PersonKey>,
}

impl Subscription {
    /// The key a catch-up from the log needs to read sealed sales' people.
    pub fn persons(&self) -> Option<&crate::persons::PersonKey> {
        self.persons.as_ref()
    }

    /// The number of the newest batch published ([`crate::Engine::published`]).
    /// A subscriber that lagged reads it before catching up from the log: once
    /// caught up it has applied at least everything published by then.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Acquire)
    }

    pub async fn recv(&mut self) -> Received {
        Self::map(self.rx.recv().await)
    }

    /// For a subscriber on a thread of its own (a projector writing SQLite).
    pub fn blocking_recv(&mut self) -> Received {
        Self::map(self.rx.blocking_recv())
    }

    /// What is already waiting, without blocking; `None` when nothing is.
    /// A projector drains these to apply many batches in one transaction.
    pub fn try_recv(&mut self) -> Option<Received> {
        match self.rx.try_recv() {
            Ok(b) => Some(Received::Batch(b)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Some(Received::Lagged { missed }),
            Err(broadcast::error::TryRecvError::Closed) => Some(Received::Closed),
        }
    }

    fn map(r: Result<Arc<SaleEvents>, broadcast::error::RecvError>) -> Received {
        match r {
            Ok(b) => Received::Batch(b),
            Err(broadcast::error::RecvError::Lagged(missed)) => Received::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}
