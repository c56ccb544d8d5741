//! The system under test, driven one operation at a time on one thread: the
//! sales as the engine runs them (state, chain tip, stamped time), the
//! command log on an in-memory disk behind the fault injector, and the
//! virtual clock. Every decision goes through the engine's own
//! [`stampede_engine::step`] and every restart through its
//! [`stampede_engine::replay::recover`]; only the tokio plumbing around
//! them (mailboxes, the writer thread) is replaced by plain calls.

use stampede_clock::{Clock, ManualClock};
use stampede_core::{
    Action, Command, DropAction, HoldId, IdempotencyKey, Input, KindConfig, Outcome, SNAPSHOT_FORMAT, Sale, SeatArea,
    SeatId, SeatedAction, SeatedOutcome, StockAction, StockOutcome, UserId,
};
use stampede_engine::{replay, step};
use stampede_log::{ChainTip, CommandLog, Entry, Fault, FaultyLog, MemoryDisk, MemoryLog, SaleId, Snapshot};

use crate::model::{Learned, SaleModel};
use crate::plan::{ORGANIZER, Op, Plan, Req, ReqKind, START_US};

/// A sale as its task holds it.
struct Running {
    id: SaleId,
    sale: Sale,
    tip: ChainTip,
    last_at_us: i64,
}

/// A request as a client sent it, kept so it can be sent again.
#[derive(Clone)]
struct Sent {
    sale: usize,
    by: UserId,
    key: IdempotencyKey,
    action: Action,
}

/// One input applied in memory, waiting for its batch to be durable.
struct Pending {
    sale: usize,
    input: Input,
    outcome: Outcome,
    entry: Entry,
}

/// Counts of what a run did, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub requests: u64,
    pub acknowledged: u64,
    pub entries: u64,
    pub crashes: u64,
    pub torn: u64,
    pub failed_appends: u64,
    pub snapshots: u64,
    pub recovered_from_snapshot: u64,
    pub holds: u64,
    /// Seat holds with a seat held for a friend.
    pub for_friends: u64,
    pub confirmed: u64,
    pub clicks: u64,
    pub admitted: u64,
}

pub(crate) struct World {
    disk: MemoryDisk,
    log: FaultyLog<MemoryLog>,
    /// The fault armed for the next append, applied when that append happens.
    armed: Option<Fault>,
    /// The fault the current log handle was opened with.
    last_fault: Option<Fault>,
    clock: ManualClock,
    sales: Vec<Running>,
    /// Each sale's state as of its newest durable entry: what a restart must find.
    durable: Vec<Sale>,
    /// Each sale's durable (next seq, last hash).
    durable_tips: Vec<(u64, [u8; 32])>,
    models: Vec<SaleModel>,
    sent: Vec<Sent>,
    /// Holds handed out in answers: what clients can name.
    holds: Vec<(usize, UserId, HoldId)>,
    /// Buyers are `UserId(1..=users)`.
    users: u64,
    next_key: u64,
    /// [`Plan::unlogged_request`].
    unlogged_request: Option<u64>,
    pub stats: Stats,
}

impl World {
    /// Creates the plan's sales, committed in the first append.
    pub(crate) fn new(plan: &Plan) -> Result<Self, String> {
        let disk = MemoryDisk::new();
        let clock = ManualClock::at(START_US - 10 * stampede_core::US_PER_S);
        let mut world = World {
            log: FaultyLog::new(MemoryLog::open(&disk)),
            disk,
            armed: None,
            last_fault: None,
            clock,
            sales: Vec::new(),
            durable: Vec::new(),
            durable_tips: Vec::new(),
            models: Vec::new(),
            sent: Vec::new(),
            holds: Vec::new(),
            users: plan.users,
            next_key: 0,
            unlogged_request: plan.unlogged_request,
            stats: Stats::default(),
        };
        let mut entries = Vec::new();
        for (i, config) in plan.sales.iter().enumerate() {
            let id = i as SaleId + 1;
            let (sale, tip, entry) = step::create(id, config.clone(), world.clock.now_us());
            entries.push(entry);
            world.models.push(SaleModel::new(config));
            world.durable.push(sale.clone());
            world.durable_tips.push((tip.next_seq, tip.last_hash));
            world.sales.push(Running { id, last_at_us: sale.last_at_us(), sale, tip });
        }
        world.log.append(&entries, &[]).map_err(|e| format!("creating the sales: {e}"))?;
        Ok(world)
    }

    pub(crate) fn apply(&mut self, op: &Op) -> Result<(), String> {
        match op {
            Op::Batch(reqs) => {
                let mut batch = Vec::new();
                self.fire_timers(&mut batch);
                for req in reqs {
                    if let Some(sent) = self.resolve(req) {
                        self.stats.requests += 1;
                        let at_us = {
                            let r = &mut self.sales[sent.sale];
                            step::stamp(&mut r.last_at_us, self.clock.now_us())
                        };
                        let input = Input::Command(Command {
                            at_us,
                            by: sent.by,
                            key: sent.key.clone(),
                            action: sent.action.clone(),
                        });
                        self.decide(sent.sale, input, &mut batch);
                        if self.unlogged_request == Some(self.stats.requests) {
                            batch.pop();
                        }
                        self.sent.push(sent);
                    }
                }
                self.commit(batch)
            }
            Op::Clock { us } => {
                self.clock.advance(*us);
                self.timers()
            }
            Op::ToDeadline => {
                if let Some(d) = self.sales.iter().filter_map(|r| r.sale.next_deadline_us()).min() {
                    self.clock.set(d.max(self.clock.now_us()));
                }
                self.timers()
            }
            Op::Fault { tear } => {
                self.armed = Some(match tear {
                    Some(keep) => Fault::Tear { keep: *keep },
                    None => Fault::Fail,
                });
                Ok(())
            }
            Op::Crash => self.restart(&[]),
            Op::Snapshot { sale } => self.snapshot(*sale % self.sales.len()),
        }
    }

    /// What a sale task's timer does: a tick for every sale whose deadline has come.
    fn timers(&mut self) -> Result<(), String> {
        let mut batch = Vec::new();
        self.fire_timers(&mut batch);
        self.commit(batch)
    }

    fn fire_timers(&mut self, batch: &mut Vec<Pending>) {
        let now = self.clock.now_us();
        for i in 0..self.sales.len() {
            let r = &mut self.sales[i];
            if r.sale.next_deadline_us().is_some_and(|d| d <= now) {
                let at_us = step::stamp(&mut r.last_at_us, now);
                self.decide(i, Input::Tick { at_us }, batch);
            }
        }
    }

    fn decide(&mut self, sale: usize, input: Input, batch: &mut Vec<Pending>) {
        let r = &mut self.sales[sale];
        let decided = step::decide(&mut r.sale, &mut r.tip, &input);
        if let Some(entry) = decided.entry {
            batch.push(Pending { sale, input, outcome: decided.outcome, entry });
        }
    }

    /// Turns a planned request into a concrete one, as a client would send it.
    fn resolve(&mut self, req: &Req) -> Option<Sent> {
        let sale = req.sale % self.sales.len();
        let mut by = UserId(req.user);
        let kind = &self.sales[sale].sale.config().kind;
        let pick_hold = |pick: usize, own: bool, by: &mut UserId| {
            let mine: Vec<&(usize, UserId, HoldId)> = self.holds.iter().filter(|h| h.0 == sale).collect();
            // Clients mostly act on a hold they just got; now and then on an old one.
            let index = match mine.len() {
                0 => 0,
                n if !pick.is_multiple_of(3) => n - 1 - (pick / 3) % n.min(3),
                n => pick % n,
            };
            match mine.get(index) {
                Some(&&(_, booker, id)) => {
                    if own {
                        *by = booker;
                    }
                    id
                }
                None => HoldId(1 + pick as u64 % 4),
            }
        };
        let action = match &req.kind {
            ReqKind::Take { n, at } => match kind {
                KindConfig::Stock(_) => Action::Stock(StockAction::Reserve { quantity: *n }),
                KindConfig::Drop(_) => Action::Drop(DropAction::Click),
                KindConfig::Seated(c) => {
                    let total = u32::try_from(c.venue.seat_count()).unwrap_or(1).max(1);
                    let seats: Vec<SeatId> = (0..(*n).max(1)).map(|k| SeatId((at % total + k) % total)).collect();
                    // One time in three the booker holds the other seats for a friend.
                    let holders = if at % 3 == 0 && seats.len() > 1 {
                        let friend = UserId(by.0 % self.users.max(1) + 1);
                        (0..seats.len()).map(|i| if i == 0 { by } else { friend }).collect()
                    } else {
                        Vec::new()
                    };
                    Action::Seated(SeatedAction::HoldSeats { seats, holders })
                }
            },
            ReqKind::TakeBest { n } => match kind {
                KindConfig::Seated(_) => {
                    Action::Seated(SeatedAction::HoldBest { area: SeatArea::Any, count: *n, holders: Vec::new() })
                }
                KindConfig::Stock(_) => Action::Stock(StockAction::Reserve { quantity: *n }),
                KindConfig::Drop(_) => Action::Drop(DropAction::Click),
            },
            ReqKind::Confirm { pick, own } => Action::Confirm { hold: pick_hold(*pick, *own, &mut by) },
            ReqKind::Cancel { pick, own } => Action::Cancel { hold: pick_hold(*pick, *own, &mut by) },
            ReqKind::Refund { pick, own } => Action::Refund { order: pick_hold(*pick, *own, &mut by) },
            ReqKind::Release { pick, seat } | ReqKind::Swap { pick, seat, .. } => {
                let order = pick_hold(*pick, true, &mut by);
                let held = self.sales[sale].sale.seats().and_then(|b| b.hold(order)).map(|h| h.seats.clone());
                let from = held.as_ref().and_then(|s| s.get(seat % s.len().max(1))).map_or(SeatId(0), |s| s.seat);
                match &req.kind {
                    ReqKind::Swap { to, .. } => {
                        let total = self.sales[sale].sale.seats().map_or(1, |b| b.view().total.max(1));
                        Action::Seated(SeatedAction::SwapSeat { order, from, to: SeatId(to % total) })
                    }
                    _ => Action::Seated(SeatedAction::ReleaseSeat { order, seat: from }),
                }
            }
            ReqKind::Join { address } => Action::Join { nonce: 0, address: *address },
            ReqKind::Open => {
                by = ORGANIZER;
                Action::Open
            }
            ReqKind::Close => {
                by = ORGANIZER;
                Action::Close
            }
            ReqKind::Retry { pick } => return self.sent.get(pick % self.sent.len().max(1)).cloned(),
            ReqKind::Again => return self.sent.last().cloned(),
            ReqKind::Conflict { pick } => {
                let mut s = self.sent.get(pick % self.sent.len().max(1)).cloned()?;
                s.action = match s.action {
                    Action::Stock(StockAction::Reserve { quantity }) => {
                        Action::Stock(StockAction::Reserve { quantity: quantity + 1 })
                    }
                    Action::Cancel { hold } => Action::Confirm { hold },
                    _ => Action::Cancel { hold: HoldId(1) },
                };
                return Some(s);
            }
        };
        self.next_key += 1;
        let key = IdempotencyKey::parse(&format!("sim-{}", self.next_key)).ok()?;
        Some(Sent { sale, by, key, action })
    }

    /// What the writer does with a batch: one append; answers only once it is durable.
    fn commit(&mut self, batch: Vec<Pending>) -> Result<(), String> {
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(fault) = self.armed.take() {
            self.log = FaultyLog::with_fault(MemoryLog::open(&self.disk), 1, fault);
            self.last_fault = Some(fault);
        }
        let entries: Vec<Entry> = batch.iter().map(|p| p.entry.clone()).collect();
        match self.log.append(&entries, &[]) {
            Ok(()) => {
                for p in &batch {
                    self.learn(p)?;
                    self.stats.acknowledged += u64::from(matches!(p.input, Input::Command(_)));
                }
                let mut touched: Vec<usize> = batch.iter().map(|p| p.sale).collect();
                touched.dedup();
                for i in touched {
                    let r = &self.sales[i];
                    if self.durable_tips[i].0 != r.tip.next_seq {
                        self.durable[i] = r.sale.clone();
                        self.durable_tips[i] = (r.tip.next_seq, r.tip.last_hash);
                    }
                }
                Ok(())
            }
            // Only an injected fault may fail an append: a refusal (a broken
            // chain) means the engine chained its entries wrong.
            Err(e) if e.is_refusal() || self.last_fault.is_none() => Err(format!("the log refused a batch: {e}")),
            Err(_) => {
                // The writer is poisoned: nothing of this batch was answered.
                // What reached the disk is what a torn append left there.
                let kept = match self.last_fault {
                    Some(Fault::Tear { keep }) => {
                        self.stats.torn += 1;
                        keep.min(batch.len())
                    }
                    _ => {
                        self.stats.failed_appends += 1;
                        0
                    }
                };
                self.restart(&batch[..kept])
            }
        }
    }

    /// The model learns an input that is durable, and what it means for the clients.
    fn learn(&mut self, p: &Pending) -> Result<(), String> {
        self.stats.entries += 1;
        let command = match &p.input {
            Input::Command(c) => Some((c.by, c.key.clone(), c.action.clone(), p.outcome.clone())),
            Input::Tick { .. } => None,
        };
        match &p.outcome {
            Outcome::Stock(StockOutcome::Held(h)) => {
                self.stats.holds += 1;
                self.holds.push((p.sale, h.by, h.id));
            }
            Outcome::Seated(SeatedOutcome::Held(h)) => {
                self.stats.holds += 1;
                self.stats.for_friends += u64::from(h.seats.iter().any(|s| s.holder != h.by));
                self.holds.push((p.sale, h.by, h.id));
            }
            Outcome::Stock(StockOutcome::Confirmed(_)) | Outcome::Seated(SeatedOutcome::Confirmed(_)) => {
                self.stats.confirmed += 1
            }
            Outcome::Drop(_) => self.stats.clicks += 1,
            _ => {}
        }
        let learned = Learned { at_us: p.input.at_us(), command };
        self.models[p.sale].learn(&learned).map_err(|e| format!("sale {}: {e}", p.sale + 1))
    }

    /// A crash: all memory is gone; every sale is rebuilt from the log, as
    /// the engine does at start. `kept` are inputs of the failed batch that
    /// a torn append left on disk though nobody was answered.
    fn restart(&mut self, kept: &[Pending]) -> Result<(), String> {
        self.stats.crashes += 1;
        self.armed = None;
        self.last_fault = None;
        let mut expected = self.durable.clone();
        let mut tips: Vec<Option<(u64, [u8; 32])>> = vec![None; self.sales.len()];
        for p in kept {
            expected[p.sale].apply(&p.input);
            tips[p.sale] = Some((p.entry.seq + 1, p.entry.hash));
        }
        let expected_tips: Vec<(u64, [u8; 32])> =
            self.durable_tips.iter().zip(&tips).map(|(d, t)| t.unwrap_or(*d)).collect();
        self.sales.clear();
        self.log = FaultyLog::new(MemoryLog::open(&self.disk));
        let ids = self.log.sales().map_err(|e| format!("listing sales after a crash: {e}"))?;
        if ids.len() != expected.len() {
            return Err(format!("{} sales in the log after a crash, {} created", ids.len(), expected.len()));
        }
        for (i, id) in ids.into_iter().enumerate() {
            let r = replay::recover(&mut self.log, id).map_err(|e| format!("recovering sale {id}: {e}"))?;
            self.stats.recovered_from_snapshot += u64::from(r.from_snapshot_seq.is_some());
            let (next_seq, last_hash) = expected_tips[i];
            if r.tip.next_seq != next_seq || r.tip.last_hash != last_hash {
                return Err(format!("sale {id} recovered {} entries, {next_seq} were durable", r.tip.next_seq));
            }
            if r.sale != expected[i] {
                return Err(format!("sale {id} recovered a state other than the durable one"));
            }
            replay::audit(&mut self.log, id).map_err(|e| format!("auditing sale {id} after a crash: {e}"))?;
            self.sales.push(Running { id, last_at_us: r.sale.last_at_us(), sale: r.sale, tip: r.tip });
        }
        for p in kept {
            self.learn(p)?;
        }
        self.durable = self.sales.iter().map(|r| r.sale.clone()).collect();
        self.durable_tips = self.sales.iter().map(|r| (r.tip.next_seq, r.tip.last_hash)).collect();
        self.check_remembered()
    }

    /// Every answer the model remembers by key is still the answer: asked
    /// again (on a copy, so the run is not changed by the asking).
    pub(crate) fn check_remembered(&self) -> Result<(), String> {
        for (i, r) in self.sales.iter().enumerate() {
            let mut copy = r.sale.clone();
            let at_us = r.last_at_us.max(self.clock.now_us());
            for (by, key, action, outcome) in self.models[i].remembered(at_us) {
                let input = Input::Command(Command { at_us, by, key: key.clone(), action });
                let again = copy.apply(&input).outcome;
                if again != outcome {
                    return Err(format!(
                        "sale {}: key {} of {by:?} was answered {outcome:?}, asked again it is {again:?}",
                        r.id,
                        key.as_str()
                    ));
                }
            }
        }
        Ok(())
    }

    fn snapshot(&mut self, sale: usize) -> Result<(), String> {
        let r = &self.sales[sale];
        let Some(state) = replay::encode_snapshot(&r.sale) else { return Err("a snapshot did not encode".into()) };
        let snap =
            Snapshot { sale: r.id, seq: r.tip.next_seq - 1, hash: r.tip.last_hash, format: SNAPSHOT_FORMAT, state };
        if let Some(mut store) = self.log.snapshot_store().map_err(|e| e.to_string())? {
            store.put(&snap).map_err(|e| e.to_string())?;
            self.stats.snapshots += 1;
        }
        Ok(())
    }

    /// Compares every sale with its model.
    pub(crate) fn check(&mut self) -> Result<(), String> {
        for (i, r) in self.sales.iter().enumerate() {
            self.models[i].compare(&r.sale).map_err(|e| format!("sale {}: {e}", r.id))?;
        }
        Ok(())
    }

    /// A digest of the run's end: every sale's tip. Two runs of one plan end alike.
    pub(crate) fn tips(&self) -> Vec<(SaleId, u64, [u8; 32])> {
        self.sales.iter().map(|r| (r.id, r.tip.next_seq, r.tip.last_hash)).collect()
    }

    /// Audits every sale's log from its first entry, as `stampede verify` does.
    pub(crate) fn audit(&mut self) -> Result<(), String> {
        for r in &self.sales {
            replay::audit(&mut self.log, r.id).map_err(|e| format!("auditing sale {}: {e}", r.id))?;
        }
        self.stats.admitted =
            self.sales.iter().filter_map(|r| r.sale.waiting_room()).map(|q| u64::from(q.view().admitted)).sum();
        Ok(())
    }
}
