//! Faults the engine must survive: a log append that fails or is torn (the
//! engine poisons itself: the failed batch's commands are answered as
//! failures, later ones refused, and a restart from what was durable
//! recovers), and a wall clock that jumps while sales run (an
//! `AnchoredClock` keeps the sales' time on the steady clock, so holds
//! expire neither early nor twice).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use stampede_clock::{AnchoredClock, Clock, ManualClock};
use stampede_core::{
    Action, Event, HoldChange, HoldStatus, IdempotencyKey, KindConfig, Outcome, SaleConfig, StockAction, StockConfig,
    StockOutcome, US_PER_S, UserId,
};
use stampede_engine::{Engine, EngineConfig, EngineError, replay};
use stampede_log::{CommandLog, Fault, FaultyLog, MemoryDisk, MemoryLog};

const T0: i64 = 1_800_000_000 * US_PER_S;
const HOLD_TTL_US: i64 = 60 * US_PER_S;

fn stock_sale() -> SaleConfig {
    SaleConfig {
        title: "t".into(),
        description: String::new(),
        translations: Vec::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        // Opened by command, so no timer tick races into the log.
        opens_at_us: None,
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: 1000,
            price: 10,
            per_person_limit: 1000,
            order_quantity_max: 10,
            hold_ttl_us: HOLD_TTL_US,
        }),
        queue: None,
    }
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

fn reserve() -> Action {
    Action::Stock(StockAction::Reserve { quantity: 1 })
}

/// Every hold of the sale in the durable log, by id, with its status.
fn durable_holds(disk: &MemoryDisk, sale: u64) -> Vec<(u64, u64, HoldStatus)> {
    let mut log = MemoryLog::open(disk);
    let audit = replay::audit(&mut log, sale).unwrap();
    audit.final_state.check_invariants().unwrap();
    let book = audit.final_state.stock().unwrap();
    book.holds_after(stampede_core::HoldId(0), 100_000).map(|h| (h.id.0, h.by.0, h.status)).collect()
}

/// Appends 1 and 2 create and open the sale, 3 and 4 are two holds taken one
/// after the other; append 5 is spoiled by `fault`, while 40 holds are in
/// flight at once.
async fn poisoned_mid_load(fault: Fault) {
    let disk = MemoryDisk::new();
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let log = FaultyLog::with_fault(MemoryLog::open(&disk), 5, fault);
    let (engine, _) = Engine::start(Box::new(log), clock.clone(), EngineConfig::default()).unwrap();
    let sale = engine.create_sale(stock_sale()).await.unwrap().id;
    assert_eq!(engine.command(sale, UserId(1), key("open"), Action::Open).await.unwrap(), Outcome::Opened);
    let mut acked = BTreeSet::new();
    for i in 0..2u64 {
        match engine.command(sale, UserId(10 + i), key(&format!("before-{i}")), reserve()).await.unwrap() {
            Outcome::Stock(StockOutcome::Held(h)) => assert!(acked.insert(h.id.0)),
            other => panic!("{other:?}"),
        }
    }
    assert!(engine.healthy());

    let answers = holds_at_once(&engine, sale, 40).await;
    // Nothing after the fault is acknowledged: the batch it spoiled is
    // answered as a failure and every later batch is refused.
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, &Err(EngineError::Unavailable), "command {i} under {fault:?}");
    }
    assert!(!engine.healthy(), "readiness reports the poisoned writer");
    // Later commands are refused too, and so is a new sale.
    assert_eq!(engine.command(sale, UserId(99), key("after"), reserve()).await, Err(EngineError::Unavailable));
    assert!(matches!(engine.create_sale(stock_sale()).await, Err(EngineError::Unavailable)));
    // Reads show only what was durable: the two holds before the fault.
    let view = engine.live(sale).await.unwrap().view.stock.clone().unwrap();
    assert_eq!((view.available, view.held), (998, 2));
    engine.shutdown().await;
    drop(engine);

    // A restart from what was durable: the acknowledged holds, plus (after a
    // tear) a prefix of the spoiled batch that nobody was answered for.
    let durable = durable_holds(&disk, sale);
    let ids: BTreeSet<u64> = durable.iter().map(|h| h.0).collect();
    assert!(acked.is_subset(&ids), "acked {acked:?}, durable {ids:?}");
    let expected_extra = match fault {
        Fault::Fail => 0,
        Fault::Tear { keep } => keep,
    };
    assert_eq!(ids.len(), acked.len() + expected_extra.min(40), "{durable:?}");
    assert!(durable.iter().all(|h| h.2 == HoldStatus::Held));

    let (engine, report) =
        Engine::start(Box::new(MemoryLog::open(&disk)), clock.clone(), EngineConfig::default()).unwrap();
    assert_eq!(report.sales, 1);
    assert!(engine.healthy());
    // A retried key gets the answer the log has for it (a hold the tear
    // kept), or is decided afresh (a hold that was never written): either
    // way exactly one hold per key.
    let again = holds_at_once(&engine, sale, 40).await;
    let mut retried = BTreeSet::new();
    for answer in again {
        match answer.unwrap() {
            Outcome::Stock(StockOutcome::Held(h)) => assert!(retried.insert(h.id.0)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(retried.len(), 40);
    let view = engine.live(sale).await.unwrap().view.stock.clone().unwrap();
    assert_eq!((view.available, view.held), (1000 - 42, 42), "one hold per key, no more");
    engine.shutdown().await;
    drop(engine);
    assert_eq!(durable_holds(&disk, sale).len(), 42);
}

/// Sends `n` holds at once, each by its own person with its own key, and
/// returns the answers in order.
async fn holds_at_once(engine: &Engine, sale: u64, n: u64) -> Vec<Result<Outcome, EngineError>> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let engine = engine.clone();
            tokio::spawn(
                async move { engine.command(sale, UserId(100 + i), key(&format!("load-{i}")), reserve()).await },
            )
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_append_poisons_the_engine_and_a_restart_recovers_what_was_durable() {
    poisoned_mid_load(Fault::Fail).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_append_poisons_the_engine_and_a_restart_keeps_a_prefix_nobody_was_answered_for() {
    poisoned_mid_load(Fault::Tear { keep: 1 }).await;
}

/// Every hold that expired in the sale's log, in log order.
fn expiries(disk: &MemoryDisk, sale: u64) -> Vec<u64> {
    let mut log = MemoryLog::open(disk);
    let mut out = Vec::new();
    replay::events_since(&mut log, sale, 0, &mut |entry| {
        for e in &entry.events {
            if let Event::Hold { change: HoldChange::Expired, hold } = e {
                out.push(hold.id().0);
            }
        }
        Ok(())
    })
    .unwrap();
    out
}

/// The wall clock jumps an hour forward and two hours back while holds are
/// taken; the sales run on an `AnchoredClock`, so a hold of a minute lives a
/// minute of the steady clock: not expired by the jump, expired once when its
/// minute is over, and every stamp in the log is later than the one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_clock_jumps_move_no_hold_on_an_anchored_clock() {
    let disk = MemoryDisk::new();
    let wall = ManualClock::at(T0);
    let steady = ManualClock::at(5);
    let clock: Arc<dyn Clock> = Arc::new(AnchoredClock::anchor(&wall, Arc::new(steady.clone())));
    let (engine, _) = Engine::start(Box::new(MemoryLog::open(&disk)), clock, EngineConfig::default()).unwrap();
    let sale = engine.create_sale(stock_sale()).await.unwrap().id;
    engine.command(sale, UserId(1), key("open"), Action::Open).await.unwrap();
    let hold = |user: u64, k: &'static str| {
        let engine = engine.clone();
        async move {
            match engine.command(sale, UserId(user), key(k), reserve()).await.unwrap() {
                Outcome::Stock(StockOutcome::Held(h)) => h,
                other => panic!("{other:?}"),
            }
        }
    };
    let first = hold(10, "first").await;
    assert_eq!(first.expires_at_us, T0 + HOLD_TTL_US);

    // An hour forward: on the wall clock itself, this would expire `first`.
    wall.advance(3600 * US_PER_S);
    steady.advance(US_PER_S);
    let second = hold(11, "second").await;
    assert_eq!(second.created_at_us, T0 + US_PER_S, "the jump did not move the sale's time");
    let view = engine.live(sale).await.unwrap().view.stock.clone().unwrap();
    assert_eq!(view.held, 2, "no hold expired early");

    // Two hours back: the sale's time still moves forward with the steady clock.
    wall.advance(-7200 * US_PER_S);
    steady.advance(US_PER_S);
    let third = hold(12, "third").await;
    assert_eq!(third.created_at_us, T0 + 2 * US_PER_S);

    // Just before `first`'s minute is over nothing has expired; at it, only `first`.
    steady.set(5 + HOLD_TTL_US - 1);
    assert_eq!(engine.live(sale).await.unwrap().view.stock.clone().unwrap().held, 3);
    steady.set(5 + HOLD_TTL_US);
    assert_eq!(engine.live(sale).await.unwrap().view.stock.clone().unwrap().held, 2);
    // Past every hold's minute (and another jump of the wall): all expired, once each.
    wall.advance(86_400 * US_PER_S);
    steady.set(5 + HOLD_TTL_US + 2 * US_PER_S);
    let view = engine.live(sale).await.unwrap().view.stock.clone().unwrap();
    assert_eq!((view.available, view.held), (1000, 0));
    engine.shutdown().await;
    drop(engine);
    assert_eq!(expiries(&disk, sale), vec![first.id.0, second.id.0, third.id.0], "each hold expired exactly once");

    let mut log = MemoryLog::open(&disk);
    let mut last = i64::MIN;
    log.replay(sale, 0, &mut |entry| {
        assert!(entry.at_us >= last, "a stamp went back: {} after {last}", entry.at_us);
        assert!(entry.at_us < T0 + 3600 * US_PER_S, "a stamp followed the wall clock's jump: {}", entry.at_us);
        last = entry.at_us;
        Ok(())
    })
    .unwrap();
}
