//! One task per sale: the sale's single writer.
//!
//! The task takes messages from its bounded mailbox, stamps each command with
//! the time (never earlier than the previous one, so log order, time order and
//! rank order agree), applies it to the in-memory sale at once, appends the
//! entry to the sale's hash chain, and hands the batch to the log writer. The
//! answer leaves only when the writer reports the batch durable. When idle it
//! sleeps until the sale's next deadline and then applies a tick; a reader
//! that finds the deadline passed sooner (a clock moved by a test) wakes it.
//!
//! Once a batch is durable, and before any of its answers leave, the task
//! publishes what readers see: the batch's events, the sale's configuration
//! in the registry, its waiting room's changed entries and its [`LiveView`].
//! Reads never come through the mailbox.

use std::sync::{Arc, Weak};
use std::time::Duration;

use stampede_core::{Action, Command, Event, IdempotencyKey, Input, Outcome, Sale, UserId};
use stampede_log::{ChainTip, Entry};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::events::{EntryEvents, EventBus};
use crate::persons::SaleSeal;
use crate::receipt::{BatchPlace, ReceiptBatch};
use crate::record::{OutcomeV1, Record};
use crate::step;

use crate::room::{DurableRoom, RoomTracker};
use crate::snapshotter::Snapshotter;
use crate::writer::{Job, WriterHandle};
use crate::{Acked, Clock, EngineError, LiveView, Logged, Registry};

/// Most messages taken from the mailbox at one wake-up.
const DRAIN_MAX: usize = 1024;
/// Most entries (or answers) waiting for the batch in flight: a commit holds
/// at most the writer's own bound.
const JOB_ENTRIES_MAX: usize = crate::writer::BATCH_ENTRIES_MAX;
/// Longest sleep between deadline checks, so a clock step is noticed.
const IDLE_WAKE_MAX: Duration = Duration::from_secs(60);

pub(crate) type CommandReply = oneshot::Sender<Result<Acked, EngineError>>;

/// A decided command waiting for its batch to be durable.
struct Answer {
    reply: CommandReply,
    outcome: Outcome,
    logged: Option<Logged>,
    request_id: Option<Arc<str>>,
}

/// What the mailbox carries: commands only. Reads take what the task
/// publishes once durable (`SaleHandle::live`, its room).
pub(crate) struct SaleMsg {
    pub by: UserId,
    pub key: IdempotencyKey,
    pub action: Action,
    pub reply: CommandReply,
    /// The id of the request that sent it, for the "durable" debug event
    /// (`crate::DURABLE_TARGET`); `None` when that event is off. Never logged
    /// in the entry.
    pub request_id: Option<Arc<str>>,
}

pub(crate) struct SaleTask {
    pub id: u64,
    pub sale: Sale,
    pub tip: ChainTip,
    pub rx: mpsc::Receiver<SaleMsg>,
    pub writer: WriterHandle,
    pub clock: Arc<dyn Clock>,
    pub snapshot_every: u64,
    pub entries_since_snapshot: u64,
    /// Encodes and writes snapshots off this task; `None`: the log keeps none.
    pub snapshots: Option<Snapshotter>,
    pub last_at_us: i64,
    /// Published once a batch is durable, so watchers never see an effect that could still be lost.
    pub live: Arc<watch::Sender<Arc<LiveView>>>,
    /// The waiting room's entries as durable, for a person's own place and pass.
    pub room: Arc<DurableRoom>,
    /// Which entries the batch being built changed.
    pub room_tracker: RoomTracker,
    /// A reader found the next deadline passed: tick now.
    pub wake: Arc<Notify>,
    /// The sale's revision last handed to the registry.
    pub revision: u32,
    /// Where handles come from; weak, so a task does not keep a dropped engine alive.
    pub registry: Weak<Registry>,
    /// Where each durable batch's events go, in log order.
    pub bus: Arc<EventBus>,
    /// The events of the entries in the batch being built, one item per entry
    /// (empty while nobody subscribes: a late subscriber reads the log anyway).
    pub pending: Vec<EntryEvents>,
    /// The sale's pseudonyms, when its records are sealed ([`crate::persons`]).
    pub seal: Option<SaleSeal>,
    /// The version its records are written at: its `create` record's.
    pub record_version: u16,
    /// Messages waiting when a batch is taken ([`crate::metrics::MAILBOX_DEPTH`]).
    pub mailbox_depth: metrics::Histogram,
}

impl SaleTask {
    pub(crate) async fn run(mut self, first: Option<Job>) {
        let wake = self.wake.clone();
        // One batch of this sale at the writer at a time: what arrives while
        // it is being made durable is decided at once and waits in `job` for
        // the next. Batches are durable in order anyway, so this costs no
        // latency, and under load a batch holds everything one commit's fsync
        // let arrive instead of a command or two: one receipt signature, one
        // live view and one set of closures for all of them.
        let landed = Arc::new(Notify::new());
        let mut in_flight = false;
        if let Some(job) = first {
            self.submit(job, &landed).await;
            in_flight = true;
        }
        let mut job = Job::empty();
        let mut answers = Vec::new();
        loop {
            let wait = self.sleep_for();
            // A waiting batch is bounded: beyond it the mailbox fills and
            // senders are told `Overloaded`, as without batching.
            let room = job.entries.len().max(answers.len()) < JOB_ENTRIES_MAX;
            tokio::select! {
                m = self.rx.recv(), if room => match m {
                    Some(m) => {
                        self.mailbox_depth.record((1 + self.rx.len()) as f64);
                        self.handle(m, &mut job, &mut answers);
                        for _ in 0..DRAIN_MAX {
                            match self.rx.try_recv() {
                                Ok(m) => self.handle(m, &mut job, &mut answers),
                                Err(_) => break,
                            }
                        }
                    }
                    None => break,
                },
                () = tokio::time::sleep(wait), if room => self.tick(&mut job),
                () = wake.notified(), if room => self.tick(&mut job),
                () = landed.notified(), if in_flight => in_flight = false,
            }
            let waiting = !(job.entries.is_empty() && answers.is_empty());
            if waiting && !in_flight {
                let mut ready = std::mem::replace(&mut job, Job::empty());
                self.answer_when_durable(std::mem::take(&mut answers), &mut ready);
                self.submit(ready, &landed).await;
                in_flight = true;
            }
        }
        // The mailbox closed: what was decided still goes to the log, after
        // the batch in flight (the writer keeps the order).
        if !job.entries.is_empty() || !answers.is_empty() {
            self.answer_when_durable(answers, &mut job);
            self.submit(job, &landed).await;
        }
    }

    fn sleep_for(&self) -> Duration {
        match self.sale.next_deadline_us() {
            None => IDLE_WAKE_MAX,
            Some(deadline) => {
                let us = deadline.saturating_sub(self.clock.now_us()).max(0);
                Duration::from_micros(u64::try_from(us).unwrap_or(0)).min(IDLE_WAKE_MAX)
            }
        }
    }

    /// The time stamped on the next input: never earlier than the previous one.
    fn now(&mut self) -> i64 {
        step::stamp(&mut self.last_at_us, self.clock.now_us())
    }

    fn tick(&mut self, job: &mut Job) {
        let input = Input::Tick { at_us: self.now() };
        let decided = step::decide_as(&mut self.sale, &mut self.tip, &input, self.seal.as_ref(), self.record_version);
        self.log(decided.entry, decided.events, job);
    }

    fn handle(&mut self, msg: SaleMsg, job: &mut Job, answers: &mut Vec<Answer>) {
        let SaleMsg { by, key, action, reply, request_id } = msg;
        if !self.writer.healthy() {
            let _ = reply.send(Err(EngineError::Unavailable));
            return;
        }
        // A sealed sale never sees a client's key text (`persons` says why).
        let key = match &self.seal {
            Some(seal) => seal.key(by, &key),
            None => key,
        };
        let input = Input::Command(Command { at_us: self.now(), by, key, action });
        let decided = step::decide_as(&mut self.sale, &mut self.tip, &input, self.seal.as_ref(), self.record_version);
        let outcome = decided.outcome;
        // What the receipt will say: the entry as logged, the person as the log names them.
        let logged = decided.entry.as_ref().map(|e| Logged {
            sale: e.sale,
            seq: e.seq,
            at_us: e.at_us,
            hash: e.hash,
            by: self.seal.as_ref().map_or(by, |s| s.person(by)).0,
            outcome: Record::outcome_digest(&OutcomeV1::from(&outcome)),
        });
        self.log(decided.entry, decided.events, job);
        self.room_tracker.touch(&self.sale, by);
        answers.push(Answer { reply, outcome, logged, request_id });
    }

    /// One job-end step for all the batch's answers: their receipts are
    /// signed together ([`crate::receipt`]), once the batch is durable.
    fn answer_when_durable(&self, answers: Vec<Answer>, job: &mut Job) {
        if answers.is_empty() {
            return;
        }
        let sale_id = self.id;
        let batch = Arc::new(ReceiptBatch::new(answers.iter().filter_map(|a| a.logged).collect()));
        job.on_durable.push(Box::new(move |ok| {
            let mut leaf = 0;
            for Answer { reply, outcome, logged, request_id } in answers {
                if ok && let Some(request_id) = request_id {
                    match &logged {
                        Some(l) => tracing::debug!(target: crate::DURABLE_TARGET, request_id = &*request_id, sale = sale_id, seq = l.seq, "command durable"),
                        None => tracing::debug!(target: crate::DURABLE_TARGET, request_id = &*request_id, sale = sale_id, "command answered without a new entry"),
                    }
                }
                let place = logged.map(|_| {
                    leaf += 1;
                    BatchPlace { batch: batch.clone(), leaf: leaf - 1 }
                });
                let _ = reply.send(if ok { Ok(Acked { outcome, logged: place }) } else { Err(EngineError::Unavailable) });
            }
        }));
    }

    /// Adds a decided entry (if the input is logged) to the batch being built.
    fn log(&mut self, entry: Option<Entry>, events: Vec<Event>, job: &mut Job) {
        let Some(entry) = entry else { return };
        if self.bus.has_subscribers() {
            self.pending.push(EntryEvents { seq: entry.seq, at_us: entry.at_us, events });
        }
        job.entries.push(entry);
        self.entries_since_snapshot += 1;
    }

    /// Hands a batch to the writer; `landed` is told once it is durable (or failed).
    async fn submit(&mut self, mut job: Job, landed: &Arc<Notify>) {
        if !job.entries.is_empty() {
            // A snapshot costs O(state) and state grows with the log, so the gap
            // grows with the log too (at least half of it): total snapshot work
            // stays linear, and a restart replays at most a third of the log.
            let due = self.snapshot_every.max(self.tip.next_seq / 2);
            if self.entries_since_snapshot >= due
                && let Some(snapshots) = &self.snapshots
                // Busy with another snapshot: try again with the next batch.
                && snapshots.claim()
            {
                let seq = self.tip.next_seq - 1;
                let store = snapshots.when_durable(self.id, seq, self.tip.last_hash);
                // Last: the snapshot leaves only once the batch is durable.
                job.on_durable.push(store);
                self.entries_since_snapshot = 0;
            }
            let live = self.live.clone();
            let view = Arc::new(LiveView::of(&self.sale));
            let room = self.room.clone();
            let room_changed = self.room_tracker.changed(&self.sale);
            let edited = (self.sale.revision() != self.revision).then(|| {
                self.revision = self.sale.revision();
                (Arc::new(self.sale.config().clone()), self.sale.archived(), self.registry.clone())
            });
            let id = self.id;
            let bus = self.bus.clone();
            let events = std::mem::take(&mut self.pending);
            // First, before any answer: whoever is told "done" finds it published.
            job.on_durable.insert(
                0,
                Box::new(move |ok| {
                    if ok {
                        // Batches of one sale are durable in log order, and
                        // these closures run in commit order: so the bus
                        // carries each sale's entries in log order. Before the
                        // view: whoever reads state this batch made durable
                        // finds `Engine::published` counting it.
                        bus.publish(id, events);
                        // Batches of one sale become durable in order, so the
                        // registry never goes back to an older configuration.
                        if let Some((config, archived, registry)) = edited
                            && let Some(registry) = registry.upgrade()
                            && let Some(handle) = registry.write().get_mut(&id)
                        {
                            handle.config = config;
                            handle.archived = archived;
                        }
                        // Before the view: a reader that saw the view finds the room as new.
                        room.update(room_changed);
                        live.send_if_modified(|old| {
                            let changed = view.differs_from(old);
                            if changed {
                                *old = view;
                            }
                            changed
                        });
                    }
                }),
            );
        }
        // Last of all: the next batch leaves only after this one's answers.
        let landed = landed.clone();
        job.on_durable.push(Box::new(move |_| landed.notify_one()));
        self.writer.submit(job).await;
    }
}
