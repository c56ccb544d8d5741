//! The ledger's single writer: a task like a sale's ([`crate::actor`]).
//!
//! It takes transfers from its bounded mailbox, stamps each with the time
//! (never earlier than the previous input's), applies it to the in-memory
//! ledger at once, chains the entry and hands the batch to the log writer;
//! answers leave only when the writer reports the batch durable. When idle it
//! sleeps until the next pending transfer's timeout and then ticks; a reader
//! that finds the timeout passed sooner (a clock moved by a test) wakes it.
//!
//! Once a batch is durable, and before any of its answers leave, the task
//! publishes what readers see: the accounts and transfers the batch changed
//! ([`DurableLedger`]) and the [`LedgerStatus`].

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use stampede_core::{
    AccountId, Ledger, LedgerEvent, LedgerInput, TRANSFER_ID_TTL_US, Transfer, TransferBody, TransferId,
};
use stampede_log::ChainTip;
use tokio::sync::{Notify, mpsc, oneshot, watch};

use super::{DurableLedger, LEDGER_STREAM, LedgerAcked, LedgerChanges, LedgerStatus, TransferState, decide};
use crate::snapshotter::Snapshotter;
use crate::writer::{BATCH_ENTRIES_MAX, Job, WriterHandle};
use crate::{Clock, EngineError, step};

/// Most messages taken from the mailbox before handing a batch to the writer.
const DRAIN_MAX: usize = 1024;
/// Longest sleep between deadline checks, so a clock step is noticed.
const IDLE_WAKE_MAX: Duration = Duration::from_secs(60);

pub(crate) type LedgerReply = oneshot::Sender<Result<LedgerAcked, EngineError>>;

/// What the ledger's mailbox carries: transfers only.
pub(crate) struct LedgerMsg {
    pub transfer: Transfer,
    pub reply: LedgerReply,
}

/// Which accounts and transfers the batch being built changed, and when
/// each published transfer was last touched (so the published copy forgets
/// ids as the core does, and stays as bounded as the core's memory).
#[derive(Default)]
pub(crate) struct LedgerTracker {
    accounts: BTreeSet<AccountId>,
    transfers: BTreeSet<TransferId>,
    /// (touched at, id), oldest first: an id is dropped from the published
    /// copy once the core has forgotten it, looked up when its time is up.
    published: VecDeque<(i64, TransferId)>,
}

impl LedgerTracker {
    /// Notes what one input touched: its transfer (`None` for a tick) and
    /// whatever its events moved or ended.
    fn touch(&mut self, ledger: &Ledger, id: Option<&TransferId>, events: &[LedgerEvent]) {
        self.transfers.extend(id.cloned());
        for e in events {
            match e {
                LedgerEvent::Moved { movement, pending, .. } => {
                    self.accounts.extend([movement.debit, movement.credit]);
                    self.transfers.extend(pending.iter().cloned());
                }
                LedgerEvent::Reserved { movement, .. } => {
                    self.accounts.extend([movement.debit, movement.credit]);
                }
                LedgerEvent::Ended { pending, .. } => {
                    // An ended transfer's accounts are in its remembered body.
                    if let Some((TransferBody::Pending { movement, .. }, _)) = ledger.recall(pending) {
                        self.accounts.extend([movement.debit, movement.credit]);
                    }
                    self.transfers.insert(pending.clone());
                }
            }
        }
    }

    /// What the batch changed, as the ledger stands after it (the durable
    /// state once the batch is).
    fn changes(&mut self, ledger: &Ledger) -> LedgerChanges {
        let now = ledger.last_at_us();
        let mut changes = LedgerChanges::default();
        for id in std::mem::take(&mut self.accounts) {
            if let Some(a) = ledger.account(id) {
                changes.accounts.push((id, *a));
            }
        }
        let horizon = now.saturating_sub(TRANSFER_ID_TTL_US);
        while let Some((at, _)) = self.published.front()
            && *at <= horizon
        {
            let Some((_, id)) = self.published.pop_front() else { break };
            if ledger.recall(&id).is_none() && !self.transfers.contains(&id) {
                changes.transfers.push((id, None));
            }
        }
        for id in std::mem::take(&mut self.transfers) {
            let state = TransferState::of(ledger, &id);
            if state.is_some() {
                self.published.push_back((now, id.clone()));
            }
            changes.transfers.push((id, state));
        }
        changes
    }
}

pub(crate) struct LedgerTask {
    pub ledger: Ledger,
    pub tip: ChainTip,
    pub rx: mpsc::Receiver<LedgerMsg>,
    pub writer: WriterHandle,
    pub clock: Arc<dyn Clock>,
    pub snapshot_every: u64,
    pub entries_since_snapshot: u64,
    /// Encodes and writes snapshots off this task; `None`: the log keeps none.
    pub snapshots: Option<Snapshotter>,
    pub last_at_us: i64,
    /// Published once a batch is durable.
    pub status: Arc<watch::Sender<LedgerStatus>>,
    pub durable: Arc<DurableLedger>,
    pub tracker: LedgerTracker,
    /// A reader found the next timeout passed: tick now.
    pub wake: Arc<Notify>,
}

/// A decided transfer waiting for its batch to be durable.
struct Answer {
    reply: LedgerReply,
    acked: LedgerAcked,
}

impl LedgerTask {
    pub(crate) async fn run(mut self) {
        let wake = self.wake.clone();
        // One ledger batch at the writer at a time, as a sale's (`crate::actor`):
        // what arrives while it is made durable is decided at once and waits
        // in `job` for the next, so under load one batch carries what one
        // fsync let arrive rather than a transfer or two, at no cost in latency.
        let landed = Arc::new(Notify::new());
        let mut in_flight = false;
        let mut job = Job::empty();
        let mut answers = Vec::new();
        loop {
            let wait = self.sleep_for();
            // A waiting batch is bounded: beyond it the mailbox fills and
            // senders are told `Overloaded`.
            let room = job.entries.len().max(answers.len()) < BATCH_ENTRIES_MAX;
            tokio::select! {
                m = self.rx.recv(), if room => match m {
                    Some(m) => {
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
                let ready = std::mem::replace(&mut job, Job::empty());
                in_flight = self.submit(ready, std::mem::take(&mut answers), &landed).await;
            }
        }
        // The mailbox closed: what was decided still goes to the log, after
        // the batch in flight (the writer keeps the order).
        if !job.entries.is_empty() || !answers.is_empty() {
            self.submit(job, answers, &landed).await;
        }
    }

    fn sleep_for(&self) -> Duration {
        match self.ledger.next_deadline_us() {
            None => IDLE_WAKE_MAX,
            Some(deadline) => {
                let us = deadline.saturating_sub(self.clock.now_us()).max(0);
                Duration::from_micros(u64::try_from(us).unwrap_or(0)).min(IDLE_WAKE_MAX)
            }
        }
    }

    fn now(&mut self) -> i64 {
        step::stamp(&mut self.last_at_us, self.clock.now_us())
    }

    fn tick(&mut self, job: &mut Job) {
        let input = LedgerInput::Tick { at_us: self.now() };
        let decided = decide(&mut self.ledger, &mut self.tip, &input);
        self.tracker.touch(&self.ledger, None, &decided.events);
        self.entries_since_snapshot += decided.entries.len() as u64;
        job.entries.extend(decided.entries);
    }

    fn handle(&mut self, msg: LedgerMsg, job: &mut Job, answers: &mut Vec<Answer>) {
        let LedgerMsg { transfer, reply } = msg;
        if !self.writer.healthy() {
            let _ = reply.send(Err(EngineError::Unavailable));
            return;
        }
        let at_us = self.now();
        let id = transfer.id.clone();
        let input = LedgerInput::Transfer { at_us, transfer };
        let decided = decide(&mut self.ledger, &mut self.tip, &input);
        self.tracker.touch(&self.ledger, Some(&id), &decided.events);
        // A transfer is always logged; its own entry is the last one.
        let seq = decided.entries.last().map_or(self.tip.next_seq, |e| e.seq);
        self.entries_since_snapshot += decided.entries.len() as u64;
        job.entries.extend(decided.entries);
        answers.push(Answer { reply, acked: LedgerAcked { outcome: decided.outcome, seq, at_us } });
    }

    /// Hands a batch to the writer; `landed` is told once it is durable (or
    /// failed). False when there was nothing to write (and nothing will land).
    async fn submit(&mut self, mut job: Job, answers: Vec<Answer>, landed: &Arc<Notify>) -> bool {
        if job.entries.is_empty() {
            for a in answers {
                let _ = a.reply.send(Err(EngineError::Unavailable));
            }
            return false;
        }
        let changes = self.tracker.changes(&self.ledger);
        let status = LedgerStatus::of(&self.ledger, &self.tip);
        let durable = self.durable.clone();
        let status_tx = self.status.clone();
        // First, before any answer: whoever is told "done" finds it published.
        job.on_durable.push(Box::new(move |ok| {
            if ok {
                durable.update(changes);
                status_tx.send_replace(status);
            }
        }));
        if !answers.is_empty() {
            job.on_durable.push(Box::new(move |ok| {
                for Answer { reply, acked } in answers {
                    let _ = reply.send(if ok { Ok(acked) } else { Err(EngineError::Unavailable) });
                }
            }));
        }
        // A snapshot costs O(state), so the gap grows with the log (see `crate::actor`).
        let due = self.snapshot_every.max(self.tip.next_seq / 2);
        if self.entries_since_snapshot >= due
            && let Some(snapshots) = &self.snapshots
            && snapshots.claim()
        {
            let seq = self.tip.next_seq - 1;
            // Last: the snapshot leaves only once the batch is durable.
            job.on_durable.push(snapshots.when_durable(LEDGER_STREAM, seq, self.tip.last_hash));
            self.entries_since_snapshot = 0;
        }
        // Last of all: the next batch leaves only after this one's answers.
        let landed = landed.clone();
        job.on_durable.push(Box::new(move |_| landed.notify_one()));
        self.writer.submit(job).await;
        true
    }
}
