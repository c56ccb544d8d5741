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
//!
//! While nobody waits to read, the projector gathers published batches for up
//! to [`GROUP_WINDOW`] and applies them in one transaction. During a rush most
//! of its cost is the per-person index of holds, whose pages are spread at
//! random: each transaction rewrites every page it touched once, so the more
//! holds share a transaction, the fewer pages each one costs
//! (`cargo bench -p stampede-views --bench apply`). A reader that waits is
//! never held by the window: it tells the projector, which applies what it has
//! at once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use stampede_engine::events::{Received, SaleEvents, Subscription};
use stampede_log::CommandLog;
use tokio::sync::{Notify, watch};

use crate::tables::{Views, ViewsError};
use crate::{catch_up, catch_up_all};

/// How far the projector has got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The start-up catch-up from the log is done.
    pub ready: bool,
    /// Every batch numbered up to this is in the tables.
    pub applied: u64,
    /// The newest batch received, applied or still gathering in the window.
    pub received: u64,
    /// The projector's last write failed (logged); the tables stay as they
    /// were until it has caught up from the log again, which it retries
    /// every [`RETRY_PAUSE_MAX`] at most.
    pub failed: bool,
}

/// A running projector and a connection for reading its tables.
pub struct Projector {
    progress: watch::Receiver<Progress>,
    reader: Mutex<Views>,
    wanted: Arc<Wanted>,
}

/// What readers are waiting for, so the projector stops gathering.
#[derive(Default)]
struct Wanted {
    /// The highest batch number a reader has waited for.
    number: AtomicU64,
    ring: Notify,
}

impl Projector {
    /// Opens the tables at `path` (creating them) and starts following
    /// `events`, catching up from `log` first. `log` is a reading connection
    /// of its own (the engine's writer keeps its own).
    pub fn start(events: Subscription, path: &Path, log: Box<dyn CommandLog>) -> Result<Arc<Projector>, ViewsError> {
        Self::start_with_window(events, path, log, GROUP_WINDOW)
    }

    /// [`Projector::start`] with another gathering window than [`GROUP_WINDOW`].
    pub fn start_with_window(
        events: Subscription,
        path: &Path,
        log: Box<dyn CommandLog>,
        window: Duration,
    ) -> Result<Arc<Projector>, ViewsError> {
        let views = Views::open(path)?;
        let reader = Views::open(path)?;
        let path_buf = path.to_path_buf();
        let (tx, progress) = watch::channel(Progress::default());
        let wanted = Arc::new(Wanted::default());
        // A runtime of its own only for waiting on the stream, a reader and
        // the window at once; every SQL statement runs on this thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| ViewsError::Io(e.to_string()))?;
        let follower_wanted = wanted.clone();
        std::thread::Builder::new()
            .name("stampede-projector".into())
            .spawn(move || {
                let mut follower = Follower { views, log, events, progress: tx, wanted: follower_wanted, window };
                let mut pause = RETRY_PAUSE_FIRST;
                // A write that failed (a full disk, an I/O error) rolled its
                // transaction back with its cursors, so the tables are still
                // a prefix of the log: once the file takes writes again the
                // projector catches up from the log and serves as before.
                // Meanwhile readers are answered at once that it lags.
                while let Err(e) = runtime.block_on(follower.run()) {
                    tracing::error!(
                        error = %e,
                        retry_in_ms = pause.as_millis(),
                        "the projector failed; reads of projections answer 503 until it catches up from the log"
                    );
                    follower.progress.send_modify(|p| p.failed = true);
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(RETRY_PAUSE_MAX);
                    match Views::open(&path_buf) {
                        Ok(views) => follower.views = views,
                        Err(e) => tracing::warn!(error = %e, "reopening the read models failed; trying again"),
                    }
                }
            })
            .map_err(|e| ViewsError::Io(e.to_string()))?;
        Ok(Arc::new(Projector { progress, reader: Mutex::new(reader), wanted }))
    }

    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Progress as it changes, for what follows the tables without asking
    /// for read-your-writes (it does not hurry the projector).
    pub fn watch(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// Waits (at most `max`) until the start-up catch-up is done and batch
    /// `number` is applied. False if that did not happen in time.
    pub async fn wait_for(&self, number: u64, max: Duration) -> bool {
        let mut rx = self.progress.clone();
        let applied = *rx.borrow();
        if applied.failed {
            return false;
        }
        if !(applied.ready && applied.applied >= number) {
            self.wanted.number.fetch_max(number, Ordering::AcqRel);
            self.wanted.ring.notify_one();
        }
        let reached = rx.wait_for(|p| p.failed || (p.ready && p.applied >= number));
        matches!(tokio::time::timeout(max, reached).await, Ok(Ok(p)) if !p.failed)
    }

    /// Runs a query on the reading connection. Queries are short indexed
    /// lookups, so this runs on the caller's thread.
    pub fn read<T>(&self, f: impl FnOnce(&Views) -> Result<T, ViewsError>) -> Result<T, ViewsError> {
        f(&self.reader.lock())
    }
}

/// Longest the projector gathers published batches into one transaction
/// while no reader waits. Pages that read projections and ask for
/// read-your-writes never wait for it; what it delays is only what nobody
/// has asked for yet.
pub const GROUP_WINDOW: Duration = Duration::from_millis(250);

/// The first pause after a failed write before the projector catches up
/// from the log again; it doubles up to [`RETRY_PAUSE_MAX`].
pub const RETRY_PAUSE_FIRST: Duration = Duration::from_millis(250);

/// The longest pause between two attempts after failed writes, so reads
/// recover within seconds of the disk taking writes again.
pub const RETRY_PAUSE_MAX: Duration = Duration::from_secs(5);

/// At most this many log entries go into one transaction, which bounds the
/// memory a group holds and the time one commit takes.
pub const GROUP_ENTRIES_MAX: usize = 16_384;

struct Follower {
    views: Views,
    log: Box<dyn CommandLog>,
    events: Subscription,
    progress: watch::Sender<Progress>,
    wanted: Arc<Wanted>,
    window: Duration,
}

impl Follower {
    async fn run(&mut self) -> Result<(), ViewsError> {
        self.catch_up_everything()?;
        let mut next = None;
        loop {
            let received = match next.take() {
                Some(r) => r,
                None => self.events.recv().await,
            };
            match received {
                Received::Batch(first) => {
                    let (group, after) = self.gather(first).await;
                    next = after;
                    // Subscribed after some of a sale's entries, or a gap:
                    // the log has them all (every published batch is durable).
                    for sale in self.views.apply_group(&group)? {
                        catch_up(&mut self.views, self.log.as_mut(), sale, self.events.persons())?;
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
        }
    }

    /// Gathers batches after `first` until the window closes, the group is
    /// full, or a reader waits for one of them; returns the group and what
    /// arrived that is not a batch (to handle after applying the group).
    async fn gather(&mut self, first: Arc<SaleEvents>) -> (Vec<Arc<SaleEvents>>, Option<Received>) {
        let deadline = tokio::time::Instant::now() + self.window;
        let mut entries = first.entries.len();
        self.progress.send_modify(|p| p.received = p.received.max(first.number));
        let mut group = vec![first];
        loop {
            let applied = self.progress.borrow().applied;
            if entries >= GROUP_ENTRIES_MAX
                || self.wanted.number.load(Ordering::Acquire) > applied
                || tokio::time::Instant::now() >= deadline
            {
                return (group, None);
            }
            tokio::select! {
                // The stream first: a reader's ring then finds its batch in the group.
                biased;
                received = self.events.recv() => match received {
                    Received::Batch(b) => {
                        entries += b.entries.len();
                        self.progress.send_modify(|p| p.received = p.received.max(b.number));
                        group.push(b);
                    }
                    other => return (group, Some(other)),
                },
                () = self.wanted.ring.notified() => {}
                () = tokio::time::sleep_until(deadline) => return (group, None),
            }
        }
    }
    /// Everything published before this starts is durable, so once the log
    /// is folded to its end those batches are all applied.
    fn catch_up_everything(&mut self) -> Result<(), ViewsError> {
        let published = self.events.published();
        let started = std::time::Instant::now();
        let entries = catch_up_all(&mut self.views, self.log.as_mut(), self.events.persons())?;
        tracing::debug!(entries, took_ms = started.elapsed().as_millis(), "projections caught up with the log");
        self.progress.send_modify(|p| {
            p.ready = true;
            p.applied = p.applied.max(published);
            p.failed = false;
        });
        Ok(())
    }
}
