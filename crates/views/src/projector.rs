//! The projector: one thread that keeps the tables caught up with the log.
//!
//! It subscribes to the engine's events before anything else, then catches up
//! every sale from the log (from each sale's cursor), then applies published
//! batches as they come. A batch whose first seq is past a sale's cursor (it
//! subscribed late, or a batch was lost) is filled from the log instead; a lag
//! reported by the channel means a catch-up of every sale. The log is always
//! the source; memory is only the fast path.
//!
//! Requests read through [`Projector::read`] on a connection of their own
//! (SQLite WAL: readers and the projector do not block each other), and
//! [`Projector::wait_for`] gives read-your-writes: a handler waits until the
//! projector has applied the batch number [`stampede_engine::Engine::published`]
//! reported when the request arrived, which covers every command answered before.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use stampede_engine::events::{Received, Subscription};
use stampede_log::CommandLog;
use tokio::sync::watch;

use crate::tables::{Views, ViewsError};
use crate::{catch_up, catch_up_all};

/// How far the projector has got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The start-up catch-up from the log is done.
    pub ready: bool,
    /// Every batch numbered up to this is in the tables.
    pub applied: u64,
    /// The projector stopped on an error (logged); the tables stay as they were.
    pub failed: bool,
}

/// A running projector and a connection for reading its tables.
pub struct Projector {
    progress: watch::Receiver<Progress>,
    reader: Mutex<Views>,
}

impl Projector {
    /// Opens the tables at `path` (creating them) and starts following
    /// `events`, catching up from `log` first. `log` is a reading connection
    /// of its own (the engine's writer keeps its own).
    pub fn start(events: Subscription, path: &Path, log: Box<dyn CommandLog>) -> Result<Arc<Projector>, ViewsError> {
        let views = Views::open(path)?;
        let reader = Views::open(path)?;
        let (tx, progress) = watch::channel(Progress::default());
        std::thread::Builder::new()
            .name("stampede-projector".into())
            .spawn(move || {
                let mut follower = Follower { views, log, events, progress: tx };
                if let Err(e) = follower.run() {
                    tracing::error!(error = %e, "the projector stopped; pages that read projections will lag");
                    follower.progress.send_modify(|p| p.failed = true);
                }
            })
            .map_err(|e| ViewsError::Io(e.to_string()))?;
        Ok(Arc::new(Projector { progress, reader: Mutex::new(reader) }))
    }

    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Waits (at most `max`) until the start-up catch-up is done and batch
    /// `number` is applied. False if that did not happen in time.
    pub async fn wait_for(&self, number: u64, max: Duration) -> bool {
        let mut rx = self.progress.clone();
        let reached = rx.wait_for(|p| p.failed || (p.ready && p.applied >= number));
        matches!(tokio::time::timeout(max, reached).await, Ok(Ok(p)) if !p.failed)
    }

    /// Runs a query on the reading connection. Queries are short indexed
    /// lookups, so this runs on the caller's thread.
    pub fn read<T>(&self, f: impl FnOnce(&Views) -> Result<T, ViewsError>) -> Result<T, ViewsError> {
        f(&self.reader.lock())
    }
}

/// At most this many published batches go into one transaction, so a
/// request waiting to read its own write is not held behind an endless group.
const GROUP_BATCHES_MAX: usize = 256;

struct Follower {
    views: Views,
    log: Box<dyn CommandLog>,
    events: Subscription,
    progress: watch::Sender<Progress>,
}

impl Follower {
    fn run(&mut self) -> Result<(), ViewsError> {
        self.catch_up_everything()?;
        let mut next = Some(self.events.blocking_recv());
        while let Some(received) = next.take() {
            match received {
                Received::Batch(first) => {
                    // Whatever else is already waiting goes into the same
                    // transaction: the busier the engine, the bigger the group.
                    let mut group = vec![first];
                    while group.len() < GROUP_BATCHES_MAX {
                        match self.events.try_recv() {
                            Some(Received::Batch(b)) => group.push(b),
                            Some(other) => {
                                next = Some(other);
                                break;
                            }
                            None => break,
                        }
                    }
                    // Subscribed after some of a sale's entries, or a gap:
                    // the log has them all (every published batch is durable).
                    for sale in self.views.apply_group(&group)? {
                        catch_up(&mut self.views, self.log.as_mut(), sale)?;
                    }
                    let newest = group.iter().map(|b| b.number).max().unwrap_or(0);
                    self.progress.send_modify(|p| p.applied = p.applied.max(newest));
                }
                Received::Lagged { missed } => {
                    tracing::info!(missed, "the projector fell behind the event stream; catching up from the log");
                    self.catch_up_everything()?;
                }
                Received::Closed => return Ok(()),
            }
            if next.is_none() {
                next = Some(self.events.blocking_recv());
            }
        }
        Ok(())
    }

    /// Everything published before this starts is durable, so once the log
    /// is folded to its end those batches are all applied.
    fn catch_up_everything(&mut self) -> Result<(), ViewsError> {
        let published = self.events.published();
        let started = std::time::Instant::now();
        let entries = catch_up_all(&mut self.views, self.log.as_mut())?;
        tracing::debug!(entries, took_ms = started.elapsed().as_millis(), "projections caught up with the log");
        self.progress.send_modify(|p| {
            p.ready = true;
            p.applied = p.applied.max(published);
        });
        Ok(())
    }
}
