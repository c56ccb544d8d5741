//! The runtime that runs sales: one task per sale, group commit to the command
//! log, timers, replay at start-up.
//!
//! This crate owns the path from "a request wants to do X to sale S" to "X is
//! decided and durable": [`Engine::command`] puts the command in the sale's
//! bounded mailbox ([`actor`]), the sale task applies it with the pure core and
//! chains it into the log, and the [`writer`] thread commits batches with one
//! fsync each before the answer is released. [`step`] is one input's decision
//! as plain calls, shared by the sale task and the simulator. [`replay`] rebuilds every sale
//! from the log on start and powers `stampede verify`; [`record`] is the
//! versioned format of log entries. [`ledger`] runs the platform's money
//! ledger the same way, as stream 0 of the same log.

mod actor;
pub mod events;
pub mod ledger;
pub mod metrics;
pub mod persons;
pub mod public;
pub mod receipt;
pub mod record;
pub mod replay;
mod room;
mod snapshotter;
pub mod step;
pub mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use stampede_core::{
    Account, AccountId, Action, Click, IdempotencyKey, LedgerLimits, Outcome, QueueEntry, Sale, SaleConfig, SaleView,
    Schedule, Transfer, TransferId, UserId,
};
use stampede_log::{ChainTip, CommandLog, Hash, SaleId};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::actor::{SaleMsg, SaleTask};
use crate::events::{EventBus, Subscription};
use crate::ledger::task::{LedgerMsg, LedgerTask, LedgerTracker};
use crate::ledger::{DurableLedger, LedgerAcked, LedgerStatus, TransferState, is_ledger_stream};
use crate::persons::PersonKey;
pub use crate::room::DurableRoom;
use crate::room::RoomTracker;
use crate::snapshotter::Snapshotter;
use crate::writer::{Job, WriterHandle};

/// The tracing target of the debug event that says a command is durable,
/// with its `request_id`, `sale` and `seq`: how an operator finds which log
/// entry a request caused (`RUST_LOG=info,stampede_engine::durable=debug`).
pub const DURABLE_TARGET: &str = "stampede_engine::durable";

// The engine stamps commands with the time; the core never reads it. The
// clock is shared with the account store (`stampede-clock` says why).
pub use stampede_clock::{AnchoredClock, Clock, ManualClock, SystemClock};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    #[error("no such sale")]
    UnknownSale,
    /// The sale's mailbox is full: answer 503 with Retry-After.
    #[error("the sale is busy; retry shortly")]
    Overloaded,
    /// The log cannot be written (or the engine is stopping): nothing more is accepted.
    #[error("the command log is unavailable")]
    Unavailable,
    /// A read waited [`DEADLINE_WAIT_MAX`] for the sale to apply a deadline
    /// the clock has passed: answer 503 with Retry-After.
    #[error("the sale is catching up with the time; retry shortly")]
    Behind,
    /// A new sale's terms lie outside what the rules can keep.
    #[error("{0}")]
    BadTerms(stampede_core::TermsProblem),
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("replaying sale {sale} failed: {source}")]
    Replay { sale: SaleId, source: replay::ReplayError },
    #[error("replaying the ledger failed: {0}")]
    Ledger(replay::ReplayError),
    #[error(transparent)]
    Log(#[from] stampede_log::LogError),
    #[error("cannot start the log writer thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Tunables, each a named bound.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Commands waiting per sale; beyond it the API answers 503.
    pub mailbox_len_max: usize,
    /// Fewest entries between snapshots of a sale; the gap also grows to half
    /// the sale's log, so snapshot work stays linear in the log's length.
    pub snapshot_every: u64,
    /// Batches of events kept for subscribers; one that falls further behind
    /// catches up from the log ([`events::EVENT_BATCHES_MAX`] by default).
    pub event_batches_max: usize,
    /// The server's key for pseudonyms: sales created with it seal the
    /// people in their records, so their logs can be published
    /// ([`persons`]); sales already sealed need it to be served. `None`
    /// (tests, the simulator) creates sales whose records name accounts.
    pub persons: Option<PersonKey>,
    /// The bounds of a new ledger. A ledger already in the log keeps the
    /// bounds its first record names, so replay refuses where it refused.
    pub ledger_limits: LedgerLimits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            mailbox_len_max: 4096,
            snapshot_every: 50_000,
            event_batches_max: events::EVENT_BATCHES_MAX,
            persons: None,
            ledger_limits: LedgerLimits::DEFAULT,
        }
    }
}

/// Where an acknowledged command is in the log, what a receipt signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logged {
    pub sale: SaleId,
    pub seq: u64,
    pub at_us: i64,
    /// The entry's chain hash.
    pub hash: Hash,
    /// Who sent it, as the log names them (their pseudonym in a sealed sale).
    pub by: u64,
    /// [`record::Record::outcome_digest`] of the recorded outcome.
    pub outcome: [u8; 32],
}

/// A command's durable answer and where the log has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    pub outcome: Outcome,
    /// Always there for a command (every command is logged): where it is in
    /// the batch whose receipts are signed together.
    pub logged: Option<receipt::BatchPlace>,
}

impl Acked {
    /// Where the log has the command.
    pub fn logged(&self) -> Option<&Logged> {
        self.logged.as_ref().and_then(|place| place.logged())
    }
}

/// A sale's public state as of its newest durable entry: what live pages and
/// the API's reads of one sale show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveView {
    pub view: SaleView,
    /// Stock units or drop wins left.
    pub available: u64,
    /// The time of the newest input applied.
    pub at_us: i64,
    /// When the sale opens and closes, and when it did.
    pub schedule: Schedule,
    /// Taken off the lists by its organizer.
    pub archived: bool,
    /// The sale's next opening, closing, expiry or admission: once the clock
    /// has passed it, this view is stale until the tick that applies it is
    /// durable ([`Engine::live`] waits for that).
    pub next_deadline_us: Option<i64>,
    /// Seated sales: which seats are held or sold, one bit per seat (the live
    /// seat map diffs consecutive values into deltas).
    pub seats_taken: Option<Arc<[u64]>>,
    /// Drops: the first [`LEADERS_LIVE_LEN`] clicks in rank order, what the
    /// live leaderboard shows. Ranks only ever append, so this is a copy of at
    /// most that many clicks per batch whatever the number of clicks.
    pub leaders: Option<Arc<[Click]>>,
    /// Tickets let in so far, and offline admissions recorded as conflicts:
    /// two counters the check-in book keeps, so the organizer's dashboard
    /// follows the doors live at no cost (the tickets themselves are counted
    /// by `view`: one per unit or seat sold).
    pub tickets_admitted: u64,
    pub ticket_conflicts: u64,
}

/// Clicks of a drop's leaderboard published live with every durable batch
/// (the drop page shows this many; deeper pages are read over REST).
pub const LEADERS_LIVE_LEN: usize = 100;

impl LiveView {
    pub fn of(sale: &Sale) -> Self {
        LiveView {
            view: sale.view(),
            available: sale.available(),
            at_us: sale.last_at_us(),
            schedule: sale.schedule().clone(),
            archived: sale.archived(),
            next_deadline_us: sale.next_deadline_us(),
            seats_taken: sale.seats().map(|b| Arc::from(b.taken_bits())),
            leaders: sale.drop_book().map(|b| Arc::from(&b.clicks()[..b.clicks().len().min(LEADERS_LIVE_LEN)])),
            tickets_admitted: sale.tickets().admitted(),
            ticket_conflicts: sale.tickets().conflicts().len() as u64,
        }
    }

    /// Whether readers could tell `self` from `other` (time alone does not
    /// count, but a moved deadline does: a reader waiting for a passed one
    /// must be woken). `leaders` needs no comparison of its own: it changes
    /// only with the drop's click count, which is in `view`. A scan at a
    /// gate changes only the check-in counters, and the dashboard shows them.
    pub fn differs_from(&self, other: &LiveView) -> bool {
        self.view != other.view
            || self.tickets_admitted != other.tickets_admitted
            || self.ticket_conflicts != other.ticket_conflicts
            || self.seats_taken != other.seats_taken
            || self.schedule != other.schedule
            || self.archived != other.archived
            || self.next_deadline_us != other.next_deadline_us
    }
}

/// How long a read waits for a sale to apply a deadline the clock has passed
/// (normally one commit: the task is woken at once).
pub const DEADLINE_WAIT_MAX: Duration = Duration::from_secs(5);

/// A running sale as the server sees it: its configuration, its mailbox, and
/// its durable public state (a watch, and its waiting room's entries).
#[derive(Clone)]
pub struct SaleHandle {
    pub id: SaleId,
    /// The configuration as of the newest durable edit when this handle was
    /// taken from the engine ([`Engine::sale`] hands out the current one).
    pub config: Arc<SaleConfig>,
    /// Taken off the lists by its organizer ([`Engine::sales`] leaves it out).
    pub archived: bool,
    /// Its records name people by pseudonym, so its log may be published.
    pub sealed: bool,
    tx: mpsc::Sender<SaleMsg>,
    live: watch::Receiver<Arc<LiveView>>,
    /// The waiting room's entries as durable (empty without a room).
    room: Arc<DurableRoom>,
    /// Wakes the task to apply a deadline a reader found passed. Not a
    /// mailbox message: it carries nothing, and many wakes are one.
    wake: Arc<Notify>,
    /// Commands posted to the mailbox since start (accepted or not), for the
    /// organizer's requests-per-second figure.
    commands: Arc<AtomicU64>,
    /// Messages posted to any sale's mailbox since start, shared by every
    /// handle: tests show a read asked no sale task.
    messages: Arc<AtomicU64>,
}

impl SaleHandle {
    /// Commands posted since this server started; a dashboard derives a rate
    /// from two readings.
    pub fn commands_total(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Puts a message in the mailbox without waiting: full is `Overloaded` at once.
    fn post(&self, msg: SaleMsg) -> Result<(), EngineError> {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.tx.try_send(msg).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EngineError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => EngineError::Unavailable,
        })
    }

    /// The sale's public state, updated after every durable batch that changed
    /// it. Watchers see the newest value, not every intermediate one.
    pub fn live(&self) -> watch::Receiver<Arc<LiveView>> {
        self.live.clone()
    }

    /// Messages waiting in the sale's mailbox now (for dashboards and tests).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

/// What the background audit of the log (started by
/// [`Engine::audit_log_in_background`]) has found so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogAudit {
    /// No audit was started.
    NotStarted,
    /// Replaying; `sales_done` sales checked so far.
    Running { sales_done: usize },
    /// Every sale's chain, outcomes, invariants and newest snapshot checked,
    /// and the ledger stream's likewise (`sales` counts sales only; `entries`
    /// includes the ledger's).
    Intact { sales: usize, entries: u64 },
    /// A sale (or, as `sale` 0, the ledger) failed the audit: the log is not
    /// the one that was written.
    Damaged { sale: SaleId, checked: u64, problem: String },
}

impl LogAudit {
    pub fn is_damaged(&self) -> bool {
        matches!(self, LogAudit::Damaged { .. })
    }
}

/// Facts about start-up, for the log line that says what was recovered.
#[derive(Debug, Default, Clone)]
pub struct StartReport {
    pub sales: usize,
    /// Entries of the ledger stream replayed (included in `entries_replayed`).
    pub ledger_entries: u64,
    pub entries_replayed: u64,
    pub from_snapshots: usize,
    /// Time the replay of every sale took.
    pub replay_duration: Duration,
}

/// The ledger task's mailbox and what it publishes once durable.
struct LedgerHandle {
    tx: mpsc::Sender<LedgerMsg>,
    status: watch::Receiver<LedgerStatus>,
    /// Wakes the task to apply a timeout a reader found passed.
    wake: Arc<Notify>,
}

/// Every running sale's handle; a sale task replaces its own entry's
/// configuration once an edit is durable.
pub(crate) type Registry = RwLock<BTreeMap<SaleId, SaleHandle>>;

struct Inner {
    sales: Arc<Registry>,
    /// `None` once shutting down (the ledger task then ends).
    ledger: RwLock<Option<Arc<LedgerHandle>>>,
    /// What the ledger published, kept past shutdown for the reads.
    ledger_durable: Arc<DurableLedger>,
    writer: Mutex<Option<WriterHandle>>,
    healthy_probe: WriterHandle,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
    next_sale: AtomicU64,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// A watch, so tests and tools can await the audit's end instead of polling.
    audit: watch::Sender<LogAudit>,
    snapshots: Option<Snapshotter>,
    /// Durable events out to subscribers (projections, live views).
    bus: Arc<EventBus>,
    /// Messages posted to sale mailboxes, all sales together.
    messages: Arc<AtomicU64>,
}

/// The running engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Replays every sale in `log` (blocking; call before serving), then
    /// starts the writer thread and one task per sale. Needs a tokio runtime.
    pub fn start(
        mut log: Box<dyn CommandLog>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Result<(Engine, StartReport), StartError> {
        let mut recovered = Vec::new();
        let mut report = StartReport::default();
        let started = std::time::Instant::now();
        let mut ledger = None;
        for id in log.sales()? {
            if is_ledger_stream(id) {
                let r = ledger::replay::recover(log.as_mut()).map_err(StartError::Ledger)?;
                if let Some(r) = &r {
                    report.ledger_entries = r.replayed;
                    report.entries_replayed += r.replayed;
                }
                ledger = r;
                continue;
            }
            let r = replay::recover_with(log.as_mut(), id, config.persons.as_ref())
                .map_err(|source| StartError::Replay { sale: id, source })?;
            report.sales += 1;
            report.entries_replayed += r.replayed;
            report.from_snapshots += usize::from(r.from_snapshot_seq.is_some());
            recovered.push((id, r));
        }
        report.replay_duration = started.elapsed();
        metrics::replayed(report.replay_duration.as_secs_f64(), report.entries_replayed);
        let next_sale = recovered.last().map_or(1, |(id, _)| id + 1);
        // Snapshots are built from the log, so they need a reading handle too.
        let snapshots = match (log.snapshot_store()?, log.reader()?) {
            (Some(store), Some(reader)) => Some(Snapshotter::spawn(store, reader, config.persons.clone())?),
            _ => None,
        };
        let (writer, thread) = writer::spawn(log)?;
        let bus = Arc::new(EventBus::new(config.event_batches_max.max(1)));
        let (ledger, ledger_tip, ledger_since_snapshot, transfer_ids) = match ledger {
            Some(r) => {
                let since = r.tip.next_seq - r.from_snapshot_seq.map_or(0, |seq| seq + 1);
                (r.ledger, r.tip, since, r.transfer_ids)
            }
            None => {
                let (l, tip) = ledger::fresh(config.ledger_limits);
                (l, tip, 0, Vec::new())
            }
        };
        let ledger_durable = Arc::new(DurableLedger::of(&ledger, &transfer_ids));
        let engine = Engine {
            inner: Arc::new(Inner {
                sales: Arc::new(RwLock::new(BTreeMap::new())),
                ledger: RwLock::new(None),
                ledger_durable,
                healthy_probe: writer.clone(),
                writer: Mutex::new(Some(writer)),
                writer_thread: Mutex::new(Some(thread)),
                clock,
                config,
                next_sale: AtomicU64::new(next_sale),
                tasks: Mutex::new(Vec::new()),
                audit: watch::Sender::new(LogAudit::NotStarted),
                snapshots,
                bus,
                messages: Arc::new(AtomicU64::new(0)),
            }),
        };
        for (id, r) in recovered {
            // Counted from the snapshot recovery started from, not from this
            // start: a server restarted more often than every `snapshot_every`
            // entries must still snapshot its sales.
            let since_snapshot = r.tip.next_seq - r.from_snapshot_seq.map_or(0, |seq| seq + 1);
            engine.spawn_sale(id, r.sale, r.tip, since_snapshot, None, r.record_version);
        }
        engine.spawn_ledger(ledger, ledger_tip, ledger_since_snapshot);
        Ok((engine, report))
    }

    fn spawn_ledger(&self, ledger: stampede_core::Ledger, tip: ChainTip, entries_since_snapshot: u64) {
        let Some(writer) = self.inner.writer.lock().clone() else { return };
        let (tx, rx) = mpsc::channel(self.inner.config.mailbox_len_max);
        let (status_tx, status) = watch::channel(LedgerStatus::of(&ledger, &tip));
        let wake = Arc::new(Notify::new());
        let task = LedgerTask {
            last_at_us: ledger.last_at_us(),
            ledger,
            tip,
            rx,
            writer,
            clock: self.inner.clock.clone(),
            snapshot_every: self.inner.config.snapshot_every,
            entries_since_snapshot,
            snapshots: self.inner.snapshots.clone(),
            status: Arc::new(status_tx),
            durable: self.inner.ledger_durable.clone(),
            tracker: LedgerTracker::default(),
            wake: wake.clone(),
        };
        *self.inner.ledger.write() = Some(Arc::new(LedgerHandle { tx, status, wake }));
        self.inner.tasks.lock().push(tokio::spawn(task.run()));
    }

    fn spawn_sale(
        &self,
        id: SaleId,
        sale: Sale,
        tip: ChainTip,
        entries_since_snapshot: u64,
        first: Option<Job>,
        record_version: u16,
    ) -> Option<SaleHandle> {
        let seal = if record::is_sealed(record_version) {
            self.inner.config.persons.as_ref().map(|k| k.sale(id))
        } else {
            None
        };
        let writer = self.inner.writer.lock().clone()?;
        let (tx, rx) = mpsc::channel(self.inner.config.mailbox_len_max);
        let (live_tx, live) = watch::channel(Arc::new(LiveView::of(&sale)));
        let room = Arc::new(DurableRoom::of(&sale));
        let wake = Arc::new(Notify::new());
        let handle = SaleHandle {
            id,
            config: Arc::new(sale.config().clone()),
            archived: sale.archived(),
            sealed: seal.is_some(),
            tx,
            live,
            room: room.clone(),
            wake: wake.clone(),
            commands: Arc::new(AtomicU64::new(0)),
            messages: self.inner.messages.clone(),
        };
        let last_at_us = sale.last_at_us();
        let sale_revision = sale.revision();
        let room_tracker = RoomTracker::of(&sale);
        let task = SaleTask {
            id,
            sale,
            tip,
            rx,
            writer,
            clock: self.inner.clock.clone(),
            snapshot_every: self.inner.config.snapshot_every,
            entries_since_snapshot,
            snapshots: self.inner.snapshots.clone(),
            last_at_us,
            live: Arc::new(live_tx),
            room,
            room_tracker,
            wake,
            revision: sale_revision,
            registry: Arc::downgrade(&self.inner.sales),
            bus: self.inner.bus.clone(),
            pending: Vec::new(),
            seal,
            record_version,
            mailbox_depth: metrics::mailbox_depth(),
        };
        self.inner.sales.write().insert(id, handle.clone());
        self.inner.tasks.lock().push(tokio::spawn(task.run(first)));
        Some(handle)
    }

    /// Creates a sale; answers once its `create` entry is durable.
    pub async fn create_sale(&self, config: SaleConfig) -> Result<SaleHandle, EngineError> {
        config.check().map_err(EngineError::BadTerms)?;
        if !self.healthy() {
            return Err(EngineError::Unavailable);
        }
        let id = self.inner.next_sale.fetch_add(1, Ordering::AcqRel);
        let seal = self.inner.config.persons.as_ref().map(|k| k.sale(id));
        let (sale, tip, entry) = step::create_sealed(id, config, self.inner.clock.now_us(), seal.as_ref());
        let (tx, rx) = oneshot::channel();
        let job = Job {
            entries: vec![entry],
            snapshot: None,
            on_durable: vec![Box::new(move |ok| {
                let _ = tx.send(ok);
            })],
        };
        let version = record::new_sale_version(seal.is_some());
        let handle = self.spawn_sale(id, sale, tip, 1, Some(job), version).ok_or(EngineError::Unavailable)?;
        match rx.await {
            Ok(true) => Ok(handle),
            _ => Err(EngineError::Unavailable),
        }
    }

    pub fn sale(&self, id: SaleId) -> Option<SaleHandle> {
        self.inner.sales.read().get(&id).cloned()
    }

    /// Every sale not archived, in id order. An archived sale is still found
    /// by [`Engine::sale`]: its log and its page stay.
    pub fn sales(&self) -> Vec<SaleHandle> {
        self.inner.sales.read().values().filter(|h| !h.archived).cloned().collect()
    }

    /// Sends a command to a sale and waits for its durable outcome.
    /// Never waits for mailbox space: a full mailbox is `Overloaded` at once.
    pub async fn command(
        &self,
        sale: SaleId,
        by: UserId,
        key: IdempotencyKey,
        action: Action,
    ) -> Result<Outcome, EngineError> {
        Ok(self.command_logged(sale, by, key, action).await?.outcome)
    }

    /// [`Engine::command`], answering also where the log has the command
    /// (for its receipt).
    pub async fn command_logged(
        &self,
        sale: SaleId,
        by: UserId,
        key: IdempotencyKey,
        action: Action,
    ) -> Result<Acked, EngineError> {
        self.command_for_request(sale, by, key, action, None).await
    }

    /// [`Engine::command_logged`] for a request with this id: once the
    /// command is durable the sale task emits a debug event (target
    /// [`DURABLE_TARGET`]) naming the request, the sale and the entry's seq.
    /// The id is not logged in the entry itself.
    pub async fn command_for_request(
        &self,
        sale: SaleId,
        by: UserId,
        key: IdempotencyKey,
        action: Action,
        request_id: Option<Arc<str>>,
    ) -> Result<Acked, EngineError> {
        let handle = self.sale(sale).ok_or(EngineError::UnknownSale)?;
        handle.commands.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        handle.post(SaleMsg { by, key, action, reply, request_id })?;
        rx.await.map_err(|_| EngineError::Unavailable)?
    }

    /// Sends a transfer to the platform ledger and waits for its durable
    /// outcome (the engine stamps the time). A refusal is an outcome
    /// (`LedgerOutcome::Rejected`); `Err` is a full mailbox (`Overloaded`, at
    /// once) or a log that cannot be written (`Unavailable`: nothing that was
    /// not answered is acknowledged).
    pub async fn ledger_command(&self, transfer: Transfer) -> Result<LedgerAcked, EngineError> {
        let handle = self.inner.ledger.read().clone().ok_or(EngineError::Unavailable)?;
        let (reply, rx) = oneshot::channel();
        self.inner.messages.fetch_add(1, Ordering::Relaxed);
        handle.tx.try_send(LedgerMsg { transfer, reply }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => EngineError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => EngineError::Unavailable,
        })?;
        rx.await.map_err(|_| EngineError::Unavailable)?
    }

    /// An account's totals as of the newest durable ledger batch, with every
    /// pending transfer whose timeout the clock has passed already voided
    /// (as [`Engine::live`] does for a sale's deadlines). `None`: the account
    /// has never been credited.
    pub async fn ledger_account(&self, id: AccountId) -> Result<Option<Account>, EngineError> {
        self.ledger_now().await?;
        Ok(self.inner.ledger_durable.account(id))
    }

    /// Every account of the ledger, in `AccountId` order, as [`Engine::ledger_account`].
    pub async fn ledger_accounts(&self) -> Result<Vec<(AccountId, Account)>, EngineError> {
        self.ledger_now().await?;
        Ok(self.inner.ledger_durable.accounts())
    }

    /// A remembered transfer's body, first answer and, for a pending one, how
    /// it ended, as durable (with passed timeouts applied). `None`: never
    /// seen, refused for lack of room, or forgotten a day after last touched.
    pub async fn ledger_transfer(&self, id: &TransferId) -> Result<Option<TransferState>, EngineError> {
        self.ledger_now().await?;
        Ok(self.inner.ledger_durable.transfer(id))
    }

    /// An account's statement: the remembered single and pending transfers
    /// that debit or credit it, newest first, at most `limit` (capped at
    /// [`ledger::STATEMENT_LEN_MAX`]), as durable with passed timeouts
    /// applied. Transfers are remembered a day after last touched
    /// ([`stampede_core::TRANSFER_ID_TTL_US`]); older ones are not listed.
    pub async fn ledger_statement(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<(TransferId, TransferState)>, EngineError> {
        self.ledger_now().await?;
        Ok(self.inner.ledger_durable.statement(account, limit))
    }

    /// The remembered transfers whose id starts with `prefix`, in id order,
    /// at most `limit`, as [`Engine::ledger_transfer`]: how a saga finds the
    /// transfers it started (`pay:`) after a restart.
    pub async fn ledger_transfers_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<(TransferId, TransferState)>, EngineError> {
        self.ledger_now().await?;
        Ok(self.inner.ledger_durable.with_prefix(prefix, limit))
    }

    /// Transfers waiting in the ledger's mailbox now (for dashboards and tests).
    pub fn ledger_queued(&self) -> usize {
        self.inner.ledger.read().as_ref().map_or(0, |h| h.tx.max_capacity() - h.tx.capacity())
    }

    /// The ledger's durable status, updated after every durable ledger batch:
    /// a watch, so a caller can await a timeout being applied.
    pub fn ledger_status(&self) -> Option<watch::Receiver<LedgerStatus>> {
        self.inner.ledger.read().as_ref().map(|h| h.status.clone())
    }

    /// Waits (at most [`DEADLINE_WAIT_MAX`]) until no published pending
    /// timeout lies in the past, waking the ledger task if one does.
    async fn ledger_now(&self) -> Result<LedgerStatus, EngineError> {
        let now_us = self.now_us();
        let handle = self.inner.ledger.read().clone().ok_or(EngineError::Unavailable)?;
        let passed = |s: &LedgerStatus| s.next_deadline_us.is_some_and(|d| d <= now_us);
        let mut status = handle.status.clone();
        {
            let current = status.borrow_and_update();
            if !passed(&current) {
                return Ok(*current);
            }
        }
        if !self.healthy() {
            return Err(EngineError::Unavailable);
        }
        handle.wake.notify_one();
        match tokio::time::timeout(DEADLINE_WAIT_MAX, status.wait_for(|s| !passed(s))).await {
            Ok(Ok(s)) => Ok(*s),
            Ok(Err(_)) => Err(EngineError::Unavailable),
            Err(_) => Err(EngineError::Behind),
        }
    }

    /// The server's key for pseudonyms, if sales are sealed.
    pub fn persons(&self) -> Option<&PersonKey> {
        self.inner.config.persons.as_ref()
    }

    /// A sale's public state as of its newest durable batch, with every
    /// deadline the clock has passed applied: no message goes to the sale's
    /// task. The view is published before any command it reflects is
    /// answered, so it shows whatever the caller was told. If the clock has
    /// passed the sale's next deadline (an opening, a closing, an expiry)
    /// and the task has not yet applied it (its timer fires a moment later,
    /// or a test moved the clock), the task is woken and the read waits for
    /// that tick to be durable, at most [`DEADLINE_WAIT_MAX`] (then
    /// `Behind`): a read never shows a stale status.
    pub async fn live(&self, sale: SaleId) -> Result<Arc<LiveView>, EngineError> {
        let handle = self.sale(sale).ok_or(EngineError::UnknownSale)?;
        self.live_now(&handle, self.now_us()).await
    }

    /// `by`'s entry in the sale's waiting room as it stands now (`None`: not
    /// in line, or no room), with the same guarantees as [`Engine::live`].
    pub async fn queue_entry(&self, sale: SaleId, by: UserId) -> Result<Option<QueueEntry>, EngineError> {
        let handle = self.sale(sale).ok_or(EngineError::UnknownSale)?;
        let now_us = self.now_us();
        // The room is updated in the same step as the view, before it.
        self.live_now(&handle, now_us).await?;
        Ok(handle.room.entry_at(by, now_us))
    }

    async fn live_now(&self, handle: &SaleHandle, now_us: i64) -> Result<Arc<LiveView>, EngineError> {
        let passed = |v: &LiveView| v.next_deadline_us.is_some_and(|d| d <= now_us);
        let mut live = handle.live();
        {
            let current = live.borrow_and_update();
            if !passed(&current) {
                return Ok(current.clone());
            }
        }
        if !self.healthy() {
            return Err(EngineError::Unavailable);
        }
        handle.wake.notify_one();
        match tokio::time::timeout(DEADLINE_WAIT_MAX, live.wait_for(|v| !passed(v))).await {
            Ok(Ok(v)) => Ok(v.clone()),
            // The task has stopped.
            Ok(Err(_)) => Err(EngineError::Unavailable),
            Err(_) => Err(EngineError::Behind),
        }
    }

    /// Messages (commands) posted to sale mailboxes since start, all sales
    /// together.
    pub fn messages_posted(&self) -> u64 {
        self.inner.messages.load(Ordering::Relaxed)
    }

    /// The durable events of every sale from now on, batch by batch in log
    /// order (see [`events`]). Subscribe before reading the log to catch up,
    /// so that nothing falls between the two.
    pub fn subscribe(&self) -> Subscription {
        let mut s = self.inner.bus.subscribe();
        s.persons = self.inner.config.persons.clone();
        s
    }

    /// The number of the newest batch of events published. Every command
    /// answered before this call was published in a batch numbered at most
    /// this: a reader that has applied that far shows it (read-your-writes
    /// without asking any sale).
    pub fn published(&self) -> u64 {
        self.inner.bus.published()
    }

    /// The time the engine would stamp now (its clock), for checks at the edge
    /// that must agree with the sales' notion of time.
    pub fn now_us(&self) -> i64 {
        self.inner.clock.now_us()
    }

    /// Audits every sale of the log from its first entry (as `stampede verify`
    /// does) on a thread of its own, reading through `reader`, a second
    /// connection to the log this engine writes. Start-up only replays from the
    /// newest snapshot, so damage before it would otherwise go unnoticed while
    /// the server serves; a failure is logged loudly and shows in [`Engine::log_audit`].
    pub fn audit_log_in_background(&self, mut reader: Box<dyn CommandLog>) -> std::io::Result<()> {
        self.inner.audit.send_replace(LogAudit::Running { sales_done: 0 });
        let inner = Arc::downgrade(&self.inner);
        let persons = self.inner.config.persons.clone();
        std::thread::Builder::new().name("stampede-log-audit".into()).spawn(move || {
            let set = |state: LogAudit| {
                if let Some(inner) = inner.upgrade() {
                    inner.audit.send_replace(state);
                }
            };
            let started = std::time::Instant::now();
            let sales = match reader.sales() {
                Ok(sales) => sales,
                Err(e) => {
                    tracing::error!(error = %e, "LOG AUDIT FAILED: cannot list the log's sales");
                    set(LogAudit::Damaged { sale: 0, checked: 0, problem: e.to_string() });
                    return;
                }
            };
            let mut entries = 0;
            let mut sales_done = 0;
            for &id in &sales {
                if inner.strong_count() == 0 {
                    return; // the engine stopped; nobody is left to tell
                }
                let audited = if is_ledger_stream(id) {
                    ledger::replay::audit(reader.as_mut()).map(|a| a.entries)
                } else {
                    sales_done += 1;
                    replay::audit_with(reader.as_mut(), id, persons.as_ref()).map(|a| a.entries)
                };
                match audited {
                    Ok(n) => entries += n,
                    Err(_) if inner.strong_count() == 0 => return,
                    Err(e) => {
                        tracing::error!(
                            sale = id,
                            checked = e.checked,
                            error = %e,
                            "LOG DAMAGED: the log fails verification; /readyz now answers 503. \
                             Stop taking traffic, run `stampede verify` and restore from a backup"
                        );
                        set(LogAudit::Damaged { sale: id, checked: e.checked, problem: e.to_string() });
                        return;
                    }
                }
                set(LogAudit::Running { sales_done });
            }
            tracing::info!(sales = sales_done, entries, took_ms = started.elapsed().as_millis(), "log audit passed");
            set(LogAudit::Intact { sales: sales_done, entries });
        })?;
        Ok(())
    }

    /// What the background audit of the log has found so far.
    pub fn log_audit(&self) -> LogAudit {
        self.inner.audit.borrow().clone()
    }

    /// Waits until the background audit is no longer running, and says what it found.
    pub async fn log_audit_finished(&self) -> LogAudit {
        let mut rx = self.inner.audit.subscribe();
        match rx.wait_for(|a| !matches!(a, LogAudit::Running { .. })).await {
            Ok(a) => a.clone(),
            // The sender lives as long as the engine, which `self` keeps alive.
            Err(_) => self.log_audit(),
        }
    }

    /// False once the log could not be written; the server then reports unready.
    pub fn healthy(&self) -> bool {
        self.inner.healthy_probe.healthy()
    }

    /// Stops accepting work, lets every sale task finish what it holds, and
    /// waits until the writer has committed everything queued and the
    /// snapshots of those batches are written.
    pub async fn shutdown(&self) {
        self.inner.sales.write().clear();
        self.inner.ledger.write().take();
        self.inner.writer.lock().take();
        let tasks: Vec<_> = std::mem::take(&mut *self.inner.tasks.lock());
        for t in tasks {
            let _ = t.await;
        }
        let thread = self.inner.writer_thread.lock().take();
        if let Some(thread) = thread {
            // The probe handle keeps the channel open; the writer exits when
            // the engine itself is dropped. Joining here would wait forever, so
            // wait only until the queue is drained.
            let probe = self.inner.healthy_probe.clone();
            let (tx, rx) = oneshot::channel();
            probe
                .submit(Job {
                    entries: Vec::new(),
                    snapshot: None,
                    on_durable: vec![Box::new(move |_| {
                        let _ = tx.send(());
                    })],
                })
                .await;
            let _ = rx.await;
            drop(thread);
        }
        // Every durable batch has handed its snapshot over by now.
        if let Some(snapshots) = &self.inner.snapshots {
            snapshots.flush().await;
        }
    }
}
