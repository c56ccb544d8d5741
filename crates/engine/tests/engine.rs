//! The engine against a real SQLite log: durability across restarts,
//! snapshots, backpressure, and the audit of what was written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stampede_core::{DropAction, DropOutcome, StockAction, StockOutcome};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use stampede_clock::ManualClock;
use stampede_core::{
    Action, DropConfig, HoldId, IdempotencyKey, KindConfig, Outcome, Rejection, SaleConfig, StockConfig, US_PER_S,
    UserId,
};
use stampede_engine::{Clock, Engine, EngineConfig, EngineError, replay};
use stampede_log::{CommandLog, SqliteLog};

const T0: i64 = 1_800_000_000 * US_PER_S;

fn stock_config(stock: u64) -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "t".into(),
        description: String::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: Some(T0),
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock,
            price: 10,
            per_person_limit: 100,
            order_quantity_max: 10,
            hold_ttl_us: 60 * US_PER_S,
        }),
        queue: None,
    }
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

fn start(
    dir: &std::path::Path,
    clock: Arc<ManualClock>,
    config: EngineConfig,
) -> (Engine, stampede_engine::StartReport) {
    let log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    Engine::start(Box::new(log), clock, config).unwrap()
}

async fn reserve(engine: &Engine, sale: u64, user: u64, k: &str, quantity: u32) -> Outcome {
    engine.command(sale, UserId(user), key(k), Action::Stock(StockAction::Reserve { quantity })).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commands_survive_a_restart_and_snapshots_are_used_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let config = EngineConfig { mailbox_len_max: 64, snapshot_every: 10, ..EngineConfig::default() };
    let (engine, _) = start(dir.path(), clock.clone(), config.clone());
    // Opened by command, not by schedule, so no timer tick races into the log.
    let mut sale_config = stock_config(100);
    sale_config.opens_at_us = None;
    let sale = engine.create_sale(sale_config).await.unwrap().id;
    assert_eq!(engine.command(sale, UserId(1), key("open"), Action::Open).await.unwrap(), Outcome::Opened);
    let mut held = Vec::new();
    for i in 0..25u64 {
        match reserve(&engine, sale, 10 + i % 3, &format!("k{i}"), 2).await {
            Outcome::Stock(StockOutcome::Held(h)) => held.push(h.id),
            other => panic!("unexpected {other:?}"),
        }
    }
    let confirmed = engine.command(sale, UserId(10), key("c"), Action::Confirm { hold: held[0] }).await.unwrap();
    assert!(matches!(confirmed, Outcome::Stock(StockOutcome::Confirmed(_))));
    let before = engine.live(sale).await.unwrap();
    engine.shutdown().await;
    drop(engine);
    {
        // What a restart starts from (the newest snapshot and the entries
        // after it) is the whole state a replay from the first entry gives.
        let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
        let recovered = replay::recover(&mut log, sale).unwrap();
        assert!(recovered.from_snapshot_seq.is_some());
        assert_eq!(recovered.sale, replay::audit(&mut log, sale).unwrap().final_state);
    }

    let (engine, report) = start(dir.path(), clock.clone(), config);
    assert_eq!(report.sales, 1);
    assert_eq!(report.from_snapshots, 1, "a snapshot was written every 10 entries and used on restart");
    assert!(report.entries_replayed < 27, "replay started from the snapshot, replayed {}", report.entries_replayed);
    let after = engine.live(sale).await.unwrap();
    assert_eq!(before, after);
    let view = after.view.stock.clone().unwrap();
    assert_eq!((view.available, view.held, view.sold), (50, 48, 2));

    // A repeat of an acknowledged command after the restart returns its first outcome.
    match reserve(&engine, sale, 10, "k0", 2).await {
        Outcome::Stock(StockOutcome::Held(h)) => assert_eq!(h.id, held[0]),
        other => panic!("unexpected {other:?}"),
    }
    engine.shutdown().await;
    drop(engine);

    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let audit = replay::audit(&mut log, sale).unwrap();
    assert!(audit.snapshot_checked.is_some());
    assert_eq!(audit.entries, 1 + 1 + 25 + 1 + 1, "create, open, 25 holds, confirm, repeat");
}

/// A clock that, once armed, parks the next caller (the sale task, stamping
/// a command) until released: a test can hold a sale task still.
struct GateClock {
    now_us: i64,
    armed: std::sync::atomic::AtomicBool,
    entered: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    release: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl Clock for GateClock {
    fn now_us(&self) -> i64 {
        if self.armed.swap(false, Ordering::SeqCst) {
            if let Some(entered) = self.entered.lock().unwrap().take() {
                let _ = entered.send(());
            }
            if let Some(release) = self.release.lock().unwrap().take() {
                let _ = release.recv();
            }
        }
        self.now_us
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mailbox_is_refused_at_once_and_nothing_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let clock = Arc::new(GateClock {
        now_us: T0 + 1,
        armed: false.into(),
        entered: Some(entered_tx).into(),
        release: Some(release_rx).into(),
    });
    let log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let config = EngineConfig { mailbox_len_max: 1, snapshot_every: 1000, ..EngineConfig::default() };
    let (engine, _) = Engine::start(Box::new(log), clock.clone(), config).unwrap();
    let sale = engine.create_sale(stock_config(10)).await.unwrap();
    // Opened by its schedule; after that the idle task reads the clock again
    // only for the next command.
    sale.live().wait_for(|v| v.view.status == stampede_core::SaleStatus::Open).await.unwrap();
    let sale = sale.id;

    // Park the sale task while it stamps a command, so its mailbox cannot drain.
    clock.armed.store(true, Ordering::SeqCst);
    let parked = {
        let engine = engine.clone();
        tokio::spawn(async move { reserve(&engine, sale, 3, "p", 1).await })
    };
    entered_rx.await.unwrap();
    let queued = {
        let engine = engine.clone();
        tokio::spawn(async move { reserve(&engine, sale, 1, "a", 1).await })
    };
    // The queued command occupies the only slot; wait until it is in the mailbox.
    let handle = engine.sale(sale).unwrap();
    while handle.queued() < 1 {
        tokio::task::yield_now().await;
    }
    let refused = engine.command(sale, UserId(2), key("b"), Action::Stock(StockAction::Reserve { quantity: 1 })).await;
    assert_eq!(refused, Err(EngineError::Overloaded));
    release_tx.send(()).unwrap();
    assert!(matches!(parked.await.unwrap(), Outcome::Stock(StockOutcome::Held(_))));
    assert!(matches!(queued.await.unwrap(), Outcome::Stock(StockOutcome::Held(_))));
    let view = engine.live(sale).await.unwrap();
    let held = view.view.stock.as_ref().unwrap().held;
    assert_eq!(held, 2, "the parked and the queued commands were applied, not the refused one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_comes_from_the_clock_and_expired_holds_return_stock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 - US_PER_S));
    let (engine, _) = start(dir.path(), clock.clone(), EngineConfig::default());
    let sale = engine.create_sale(stock_config(5)).await.unwrap().id;
    assert_eq!(reserve(&engine, sale, 1, "early", 1).await, Outcome::Rejected(Rejection::NotOpenYet));
    clock.set(T0 + 1);
    let hold = match reserve(&engine, sale, 1, "x", 5).await {
        Outcome::Stock(StockOutcome::Held(h)) => h,
        other => panic!("{other:?}"),
    };
    assert_eq!(hold.expires_at_us, T0 + 1 + 60 * US_PER_S);
    assert!(matches!(reserve(&engine, sale, 2, "y", 1).await, Outcome::Rejected(Rejection::SoldOut { .. })));
    clock.set(hold.expires_at_us);
    assert!(matches!(reserve(&engine, sale, 2, "z", 1).await, Outcome::Stock(StockOutcome::Held(_))));
    let stock = engine.live(sale).await.unwrap().view.stock.clone().unwrap();
    assert_eq!((stock.available, stock.held), (4, 1), "the first hold expired and gave its 5 back");
    let confirm = engine.command(sale, UserId(1), key("c"), Action::Confirm { hold: HoldId(1) }).await.unwrap();
    assert_eq!(confirm, Outcome::Rejected(Rejection::HoldExpired));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_ranks_follow_log_order_and_the_log_replays_to_the_same_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 + 5));
    let (engine, _) = start(dir.path(), clock.clone(), EngineConfig::default());
    let mut config = stock_config(1);
    config.kind = KindConfig::Drop(DropConfig { winners: 3 });
    let sale = engine.create_sale(config).await.unwrap().id;
    let mut tasks = Vec::new();
    for u in 0..50u64 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            engine.command(sale, UserId(u), key("click"), Action::Drop(DropAction::Click)).await.unwrap()
        }));
    }
    let mut ranks = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Outcome::Drop(DropOutcome::Clicked(c)) => ranks.push(c.rank),
            other => panic!("{other:?}"),
        }
    }
    ranks.sort_unstable();
    assert_eq!(ranks, (1..=50).collect::<Vec<_>>());
    let live = engine.live(sale).await.unwrap().leaders.clone().unwrap().to_vec();
    engine.shutdown().await;
    drop(engine);
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    assert_eq!(log.sales().unwrap(), vec![sale]);
    let audit = replay::audit(&mut log, sale).unwrap();
    assert_eq!(audit.final_state.drop_book().unwrap().clicks(), &live[..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_follows_durable_changes_and_skips_unchanged_batches() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let (engine, _) = start(dir.path(), clock, EngineConfig::default());
    let sale = engine.create_sale(stock_config(10)).await.unwrap();
    let mut live = sale.live();
    assert_eq!(live.borrow_and_update().available, 10);
    assert!(matches!(reserve(&engine, sale.id, 1, "a", 3).await, Outcome::Stock(StockOutcome::Held(_))));
    // The acknowledgement came after the publish: the watch has already moved.
    assert!(live.has_changed().unwrap(), "a durable hold is published before it is acknowledged");
    let view = live.borrow_and_update().clone();
    assert_eq!(view.available, 7);
    assert_eq!(view.view.stock.as_ref().map(|s| s.held), Some(3));
    // A refusal changes nothing anyone can see, so nothing is published.
    let refused = reserve(&engine, sale.id, 1, "b", 100).await;
    assert!(matches!(refused, Outcome::Rejected(Rejection::BadQuantity { .. })), "{refused:?}");
    assert!(!live.has_changed().unwrap(), "an unchanged view is not published again");
    drop(sale);
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_reach_the_handle_once_durable_and_archived_sales_leave_the_list_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 - 10 * US_PER_S));
    // Snapshots after every couple of entries, so the restart starts from one.
    let config = EngineConfig { mailbox_len_max: 64, snapshot_every: 2, ..EngineConfig::default() };
    let (engine, _) = start(dir.path(), clock.clone(), config.clone());
    let kept = engine.create_sale(stock_config(5)).await.unwrap().id;
    let gone = engine.create_sale(stock_config(5)).await.unwrap().id;
    let edit = stampede_core::SaleEdit {
        title: Some("Renamed".into()),
        terms: Some(stampede_core::TermsEdit::Stock(StockConfig {
            stock: 7,
            price: 10,
            per_person_limit: 100,
            order_quantity_max: 10,
            hold_ttl_us: 60 * US_PER_S,
        })),
        ..Default::default()
    };
    let out = engine.command(kept, UserId(1), key("e1"), Action::Edit(Box::new(edit))).await.unwrap();
    assert_eq!(out, Outcome::Edited);
    // The server reads titles and terms from the handle: it must already say so.
    let handle = engine.sale(kept).unwrap();
    assert_eq!(handle.config.title, "Renamed");
    assert!(matches!(&handle.config.kind, KindConfig::Stock(s) if s.stock == 7));
    // A handle holds the sale's mailbox open; shutdown waits for every one to go.
    drop(handle);
    assert_eq!(engine.command(gone, UserId(1), key("a1"), Action::Archive).await.unwrap(), Outcome::Archived);
    assert!(engine.sale(gone).unwrap().archived);
    let listed: Vec<u64> = engine.sales().iter().map(|h| h.id).collect();
    assert_eq!(listed, [kept]);
    engine.shutdown().await;
    drop(engine);

    let (engine, _) = start(dir.path(), clock, config);
    assert_eq!(engine.sale(kept).unwrap().config.title, "Renamed");
    assert!(engine.sale(gone).unwrap().archived, "archived is in the log, not in memory only");
    assert_eq!(engine.sales().iter().map(|h| h.id).collect::<Vec<_>>(), [kept]);
    engine.shutdown().await;
    drop(engine);
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    for id in [kept, gone] {
        replay::audit(&mut log, id).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_after_the_clock_passed_a_deadline_waits_for_its_tick_and_asks_no_task() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let (engine, _) = start(dir.path(), clock.clone(), EngineConfig::default());
    let mut config = stock_config(5);
    config.closes_at_us = Some(T0 + 3600 * US_PER_S);
    let sale = engine.create_sale(config).await.unwrap().id;
    let hold = match reserve(&engine, sale, 1, "x", 5).await {
        Outcome::Stock(StockOutcome::Held(h)) => h,
        other => panic!("{other:?}"),
    };
    let before = engine.messages_posted();
    let live = engine.live(sale).await.unwrap();
    assert_eq!(live.available, 0, "the hold is shown as soon as it was answered");
    assert_eq!(live.next_deadline_us, Some(hold.expires_at_us));

    // The task sleeps until the expiry by the machine's time, a minute away;
    // the read wakes it and waits for the tick, which returns the stock.
    clock.set(hold.expires_at_us);
    let live = engine.live(sale).await.unwrap();
    assert_eq!(live.available, 5, "the expiry was applied before the answer");
    assert_eq!(live.next_deadline_us, Some(T0 + 3600 * US_PER_S), "the closing is next");
    clock.set(T0 + 3600 * US_PER_S);
    let live = engine.live(sale).await.unwrap();
    assert_eq!(live.view.status, stampede_core::SaleStatus::Closed);
    assert_eq!(live.schedule.closed_at_us, Some(T0 + 3600 * US_PER_S));
    assert_eq!(engine.messages_posted(), before, "no read went through the mailbox");
    engine.shutdown().await;

    // The ticks the reads waited for are in the log.
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let state = replay::audit(&mut log, sale).unwrap().final_state;
    assert_eq!(state.stock().unwrap().view().available, 5);
    assert_eq!(state.view().status, stampede_core::SaleStatus::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_persons_queue_entry_is_read_without_the_task_and_matches_the_log() {
    use stampede_core::{AdmissionPolicy, PassState, QueueConfig};

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 - 10 * US_PER_S));
    let (engine, _) = start(dir.path(), clock.clone(), EngineConfig::default());
    let mut config = stock_config(20);
    config.kind = KindConfig::Stock(StockConfig {
        stock: 20,
        price: 10,
        per_person_limit: 2,
        order_quantity_max: 2,
        hold_ttl_us: 60 * US_PER_S,
    });
    config.queue = Some(QueueConfig {
        policy: AdmissionPolicy::Active { max: 2 },
        pass_ttl_us: 30 * US_PER_S,
        prequeue_opens_at_us: None,
        pow_bits: 0,
        places_per_address: 100,
        seed: [7; 32],
        pass_up_to_limit: true,
    });
    let sale = engine.create_sale(config).await.unwrap().id;
    let join = |user: u64| {
        let engine = engine.clone();
        async move {
            let action = Action::Join { nonce: 0, address: 1 };
            engine.command(sale, UserId(user), key(&format!("join{user}")), action).await.unwrap()
        }
    };
    let people: Vec<u64> = (1..=6).collect();
    let before = engine.messages_posted();
    for &u in &people[..5] {
        assert!(matches!(join(u).await, Outcome::Joined(_)));
        // Seen as soon as the join is answered.
        let mine = engine.queue_entry(sale, UserId(u)).await.unwrap().unwrap();
        assert_eq!((mine.ticket, mine.place, mine.pass), (u as u32, None, PassState::Waiting));
    }
    assert_eq!(engine.queue_entry(sale, UserId(6)).await.unwrap(), None);

    // The opening shuffles the pre-queue and admits two: every place shows.
    clock.set(T0);
    let mut admitted = Vec::new();
    for &u in &people[..5] {
        let e = engine.queue_entry(sale, UserId(u)).await.unwrap().unwrap();
        assert!(e.place.is_some(), "{e:?}");
        if matches!(e.pass, PassState::Admitted { .. }) {
            admitted.push(u);
        }
    }
    assert_eq!(admitted.len(), 2);
    assert!(matches!(join(6).await, Outcome::Joined(_)));
    assert_eq!(engine.queue_entry(sale, UserId(6)).await.unwrap().unwrap().place, Some(6));

    // Buying up to the limit uses a pass and lets the next place in.
    let buyer = admitted[0];
    let hold = match reserve(&engine, sale, buyer, "h", 2).await {
        Outcome::Stock(StockOutcome::Held(h)) => h,
        other => panic!("{other:?}"),
    };
    let confirmed = engine.command(sale, UserId(buyer), key("c"), Action::Confirm { hold: hold.id }).await.unwrap();
    assert!(matches!(confirmed, Outcome::Stock(StockOutcome::Confirmed(_))), "{confirmed:?}");
    let mine = engine.queue_entry(sale, UserId(buyer)).await.unwrap().unwrap();
    assert_eq!((mine.bought, mine.pass.as_str()), (2, "used"));

    // The other pass expires with time alone; the read waits for that tick.
    clock.set(T0 + 31 * US_PER_S);
    let mine = engine.queue_entry(sale, UserId(admitted[1])).await.unwrap().unwrap();
    assert_eq!(mine.pass, PassState::Expired { at_us: T0 + 30 * US_PER_S });
    let seen: Vec<_> = {
        let mut seen = Vec::new();
        for &u in &people {
            seen.push(engine.queue_entry(sale, UserId(u)).await.unwrap());
        }
        seen
    };
    assert_eq!(engine.messages_posted() - before, 6 + 2, "six joins and two purchase commands, no reads");
    engine.shutdown().await;

    // What was read is what the log says, person by person.
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let state = replay::audit(&mut log, sale).unwrap().final_state;
    let room = state.waiting_room().unwrap();
    let logged: Vec<_> = people.iter().map(|&u| room.entry_of(UserId(u)).cloned()).collect();
    assert_eq!(seen, logged);
}

/// Commands answered from one durable batch share one signature, and each
/// receipt proves its own entry: its seq, its sender, its place in the batch.
#[tokio::test(flavor = "current_thread")]
async fn the_receipts_of_one_batch_share_one_signature_and_each_proves_its_own_entry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let (engine, _) = start(dir.path(), clock, EngineConfig::default());
    let sale = engine.create_sale(stock_config(100)).await.unwrap().id;
    let signer = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    // On one thread every command is in the mailbox before the sale task
    // runs, so it drains them into one batch.
    let sends: Vec<_> = (0..20u64)
        .map(|u| {
            let engine = engine.clone();
            tokio::spawn(async move {
                let action = Action::Stock(StockAction::Reserve { quantity: 1 });
                engine.command_logged(sale, UserId(100 + u), key(&format!("k{u}")), action).await.unwrap()
            })
        })
        .collect();
    let mut acked = Vec::new();
    for send in sends {
        acked.push(send.await.unwrap());
    }
    let receipts: Vec<_> =
        acked.iter().map(|a| a.logged.as_ref().and_then(|place| place.receipt(&signer)).unwrap()).collect();
    assert!(receipts.iter().all(|r| r.leaves == Some(20) && r.sig == receipts[0].sig), "{receipts:?}");
    let mut leaves: Vec<_> = receipts.iter().map(|r| r.leaf.unwrap()).collect();
    leaves.sort_unstable();
    assert_eq!(leaves, (0..20).collect::<Vec<_>>());
    for (u, (a, r)) in acked.iter().zip(&receipts).enumerate() {
        let logged = r.verify_signature(Some(&r.key)).unwrap();
        assert_eq!(Some(&logged), a.logged());
        assert_eq!(logged.by, 100 + u as u64);
        // Another leaf's place does not carry this entry.
        let mut moved = r.clone();
        moved.leaf = Some((r.leaf.unwrap() + 1) % 20);
        assert!(moved.verify_signature(None).is_err());
    }
    engine.shutdown().await;
}

/// A log whose appends wait for a permit, and say when one has started: so a
/// test holds a batch "being made durable" for as long as it likes.
struct GatedLog {
    inner: stampede_log::MemoryLog,
    permits: std::sync::mpsc::Receiver<()>,
    started: tokio::sync::mpsc::UnboundedSender<usize>,
}

impl CommandLog for GatedLog {
    fn append(
        &mut self,
        entries: &[stampede_log::Entry],
        snapshots: &[stampede_log::Snapshot],
    ) -> Result<(), stampede_log::LogError> {
        let _ = self.started.send(entries.len());
        // A dropped gate lets everything through, so the engine can shut down.
        let _ = self.permits.recv();
        self.inner.append(entries, snapshots)
    }
    fn sales(&mut self) -> Result<Vec<u64>, stampede_log::LogError> {
        self.inner.sales()
    }
    fn latest_snapshot(&mut self, sale: u64) -> Result<Option<stampede_log::Snapshot>, stampede_log::LogError> {
        self.inner.latest_snapshot(sale)
    }
    fn replay(
        &mut self,
        sale: u64,
        from_seq: u64,
        visit: &mut dyn FnMut(stampede_log::Entry) -> Result<(), stampede_log::LogError>,
    ) -> Result<(), stampede_log::LogError> {
        self.inner.replay(sale, from_seq, visit)
    }
}

/// Transfers arriving while the ledger's batch is being made durable are
/// written together in the next append, in the order they came. (The writer
/// would group separate jobs too; the ledger task now also holds them in one
/// job, so one durable update and one set of answers serve them all.)
#[tokio::test(flavor = "current_thread")]
async fn transfers_arriving_during_a_ledger_commit_wait_together_for_the_next_batch() {
    use stampede_core::{AccountId, Money, Movement, Transfer, TransferBody, TransferCode, TransferId, TransferRefs};
    let (permit, permits) = std::sync::mpsc::channel();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let log = GatedLog { inner: stampede_log::MemoryLog::new(), permits, started: started_tx };
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let (engine, _) = Engine::start(Box::new(log), clock, EngineConfig::default()).unwrap();
    let grant = |u: u64| {
        let engine = engine.clone();
        tokio::spawn(async move {
            let movement = Movement {
                debit: AccountId::World,
                credit: AccountId::Wallet(UserId(u)),
                amount: Money::from_minor(100),
                code: TransferCode::Grant,
                refs: TransferRefs::default(),
            };
            let transfer = Transfer {
                id: TransferId::parse(&format!("grant:{u}")).unwrap(),
                body: TransferBody::Single(movement),
            };
            engine.ledger_command(transfer).await.unwrap()
        })
    };
    let first = grant(1);
    assert_eq!(started.recv().await, Some(2), "the ledger's open record and the first grant, waiting");
    let second = grant(2);
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    let third = grant(3);
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    permit.send(()).unwrap();
    assert_eq!(started.recv().await, Some(2), "the second and third grants in one batch");
    permit.send(()).unwrap();
    let (first, second, third) = (first.await.unwrap(), second.await.unwrap(), third.await.unwrap());
    assert_eq!((first.seq, second.seq, third.seq), (1, 2, 3));
    drop(permit);
    engine.shutdown().await;
}

/// While a sale's batch is being made durable, the commands that arrive are
/// decided and wait together for the next batch: one batch, one signature,
/// however they trickled in.
#[tokio::test(flavor = "current_thread")]
async fn commands_arriving_during_a_commit_wait_together_for_the_next_batch() {
    let (permit, permits) = std::sync::mpsc::channel();
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let log = GatedLog { inner: stampede_log::MemoryLog::new(), permits, started: started_tx };
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let (engine, _) = Engine::start(Box::new(log), clock, EngineConfig::default()).unwrap();
    permit.send(()).unwrap();
    // Open from its creation: no opening tick to take the first batch.
    let sale = engine.create_sale(SaleConfig { opens_at_us: None, ..stock_config(100) }).await.unwrap().id;
    assert_eq!(started.recv().await, Some(1), "the create entry");
    let signer = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let send = |u: u64| {
        let engine = engine.clone();
        tokio::spawn(async move {
            let action = Action::Stock(StockAction::Reserve { quantity: 1 });
            engine.command_logged(sale, UserId(u), key(&format!("k{u}")), action).await.unwrap()
        })
    };
    let first = send(1);
    assert_eq!(started.recv().await, Some(1), "the first hold's batch is at the writer, waiting");
    // Two more, one after the other, each given time to be decided alone.
    let second = send(2);
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    let third = send(3);
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    permit.send(()).unwrap();
    assert_eq!(started.recv().await, Some(2), "the second and third holds in one batch");
    permit.send(()).unwrap();
    let receipt = |a: &stampede_engine::Acked| a.logged.as_ref().and_then(|p| p.receipt(&signer)).unwrap();
    let (first, second, third) = (first.await.unwrap(), second.await.unwrap(), third.await.unwrap());
    assert_eq!(receipt(&first).leaves, Some(1));
    assert_eq!((receipt(&second).leaves, receipt(&third).leaves), (Some(2), Some(2)));
    assert_eq!(receipt(&second).sig, receipt(&third).sig);
    drop(permit);
    engine.shutdown().await;
}
