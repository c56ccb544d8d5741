//! The projector's gathering window: while nobody reads, published batches
//! wait for the window to close and go into the tables together; a reader who
//! waits for read-your-writes is served at once, whatever the window.

#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use stampede_clock::SystemClock;
use stampede_core::{
    Action, HoldStatus, IdempotencyKey, KindConfig, Outcome, SaleConfig, StockAction, StockConfig, StockOutcome, UserId,
};
use stampede_engine::{Engine, EngineConfig};
use stampede_log::{MemoryDisk, MemoryLog};
use stampede_views::Projector;

/// Long enough that a test waiting for it would time out first.
const NEVER: Duration = Duration::from_secs(3_600);
/// Generous bound on waiting for an event in a loaded CI machine.
const PATIENCE: Duration = Duration::from_secs(30);
const BUYER: u64 = 7;

fn stock_sale() -> SaleConfig {
    SaleConfig {
        title: "t".into(),
        description: String::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: 10,
            price: 1_000,
            per_person_limit: 4,
            order_quantity_max: 2,
            hold_ttl_us: 600_000_000,
        }),
        queue: None,
        translations: Vec::new(),
    }
}

/// An engine on an in-memory log with one stock sale, a projector with
/// `window`, and one hold by [`BUYER`]; returns what was published by then.
async fn one_hold(window: Duration) -> (Engine, Arc<Projector>, tempfile::TempDir, u64) {
    let disk = MemoryDisk::new();
    let (engine, _) = Engine::start(Box::new(MemoryLog::open(&disk)), Arc::new(SystemClock), EngineConfig::default())
        .expect("engine");
    let dir = tempfile::tempdir().expect("temp dir");
    let projector = Projector::start_with_window(
        engine.subscribe(),
        &dir.path().join("views.sqlite"),
        Box::new(MemoryLog::open(&disk)),
        window,
    )
    .expect("projector");
    // Caught up with the (empty) log first, so what follows arrives as published batches.
    let ready = tokio::time::timeout(PATIENCE, projector.watch().wait_for(|p| p.ready)).await.map(|r| r.is_ok());
    assert!(matches!(ready, Ok(true)), "the projector never caught up with an empty log");
    let sale = engine.create_sale(stock_sale()).await.expect("sale").id;
    let opened = engine.command(sale, UserId(1), IdempotencyKey::parse("open").expect("key"), Action::Open).await;
    assert!(matches!(opened, Ok(Outcome::Opened)), "{opened:?}");
    let outcome = engine
        .command(
            sale,
            UserId(BUYER),
            IdempotencyKey::parse("k1").expect("key"),
            Action::Stock(StockAction::Reserve { quantity: 2 }),
        )
        .await
        .expect("hold");
    assert!(matches!(outcome, Outcome::Stock(StockOutcome::Held(_))), "{outcome:?}");
    let published = engine.published();
    assert!(published > 0, "the hold's batch was published before its answer");
    (engine, projector, dir, published)
}

fn held_by_buyer(projector: &Projector) -> usize {
    projector.read(|v| v.stock_holds_of(BUYER, &[HoldStatus::Held])).expect("read").len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_reader_is_served_at_once_whatever_the_window() {
    let (engine, projector, _dir, published) = one_hold(NEVER).await;
    // The batch is in the window before the reader asks, so only the
    // reader's call can have it applied.
    let mut progress = projector.watch();
    let gathered =
        tokio::time::timeout(PATIENCE, progress.wait_for(|p| p.received >= published)).await.map(|r| r.map(|p| *p));
    assert!(matches!(gathered, Ok(Ok(p)) if p.applied < published), "{gathered:?}");
    assert!(projector.wait_for(published, PATIENCE).await, "the reader was left waiting for the window");
    assert_eq!(held_by_buyer(&projector), 1);
    // Paging past the largest id SQLite's signed integers hold finds nothing
    // (wrapped, it would compare as negative and list every hold).
    let page = |after| projector.read(|v| v.holds_of_sale(1, after, 10, None)).expect("read").len();
    assert_eq!((page(0), page(1 << 63), page(u64::MAX)), (1, 0, 0));
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_readers_the_window_closes_on_its_own() {
    let (engine, projector, _dir, published) = one_hold(Duration::from_millis(20)).await;
    // Following progress does not ring the projector: only the window can apply the batch.
    let mut progress = projector.watch();
    let reached = tokio::time::timeout(PATIENCE, progress.wait_for(|p| p.ready && p.applied >= published))
        .await
        .map(|r| r.map(|p| *p));
    assert!(matches!(reached, Ok(Ok(_))), "the window never closed");
    assert_eq!(held_by_buyer(&projector), 1);
    engine.shutdown().await;
}
