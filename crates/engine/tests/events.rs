//! Durable events: what a live subscriber receives equals what the log
//! re-derives, and a subscriber that falls behind (or starts late) catches up
//! from the log by seq and ends with exactly the live stream.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use stampede_clock::ManualClock;
use stampede_core::{
    Action, DropAction, DropConfig, HoldId, IdempotencyKey, KindConfig, Outcome, SaleConfig, StockAction, StockConfig,
    StockOutcome, US_PER_S, UserId,
};
use stampede_engine::events::{EntryEvents, Received, Subscription};
use stampede_engine::{Engine, EngineConfig, replay};
use stampede_log::{CommandLog, SqliteLog};

const T0: i64 = 1_800_000_000 * US_PER_S;

fn stock_config() -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "t".into(),
        description: String::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: Some(T0),
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: 40,
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

type Streams = BTreeMap<u64, Vec<EntryEvents>>;

/// A subscriber as a projection would be written: applies batches whose
/// seqs continue what it has, fills any gap (and a lag) from the log.
struct Follower {
    got: Streams,
    log: SqliteLog,
    lagged: bool,
}

impl Follower {
    fn next_seq(&self, sale: u64) -> u64 {
        self.got.get(&sale).and_then(|v| v.last()).map_or(0, |e| e.seq + 1)
    }

    fn catch_up(&mut self, sale: u64) {
        let from = self.next_seq(sale);
        let mut fresh = Vec::new();
        replay::events_since(&mut self.log, sale, from, &mut |e| {
            fresh.push(e);
            Ok(())
        })
        .unwrap();
        self.got.entry(sale).or_default().extend(fresh);
    }

    fn take(&mut self, r: Received) {
        match r {
            Received::Batch(b) => {
                if b.entries[0].seq > self.next_seq(b.sale) {
                    self.catch_up(b.sale);
                }
                let next = self.next_seq(b.sale);
                self.got.entry(b.sale).or_default().extend(b.entries.iter().filter(|e| e.seq >= next).cloned());
            }
            Received::Lagged { .. } => {
                self.lagged = true;
                for sale in self.log.sales().unwrap() {
                    self.catch_up(sale);
                }
            }
            Received::Closed => panic!("the engine stopped early"),
        }
    }

    /// Takes what is already published. A command's batch is published
    /// before its answer, so after an awaited command it is here.
    async fn drain_now(&mut self, sub: &mut Subscription) {
        while let Ok(r) = tokio::time::timeout(Duration::ZERO, sub.recv()).await {
            self.take(r);
        }
    }

    fn len(&self) -> usize {
        self.got.values().map(Vec::len).sum()
    }
}

async fn drain_until(sub: &mut Subscription, f: &mut Follower, entries: usize) {
    tokio::time::timeout(Duration::from_secs(20), async {
        while f.len() < entries {
            let r = sub.recv().await;
            f.take(r);
        }
    })
    .await
    .expect("the stream reached the log's end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_or_late_subscriber_ends_with_exactly_the_live_stream() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    let clock = Arc::new(ManualClock::at(T0 + 1));
    // Four batches in the channel, snapshots every few entries: the laggard
    // loses batches and catches up across snapshots.
    let config = EngineConfig { snapshot_every: 7, event_batches_max: 4, ..EngineConfig::default() };
    let (engine, _) = Engine::start(Box::new(SqliteLog::open(&path).unwrap()), clock.clone(), config).unwrap();
    let mut live_sub = engine.subscribe();
    let mut lagging_sub = engine.subscribe();
    let stock = engine.create_sale(stock_config()).await.unwrap().id;
    let mut drop_config = stock_config();
    drop_config.kind = KindConfig::Drop(DropConfig { winners: 3 });
    let drop = engine.create_sale(drop_config).await.unwrap().id;

    // The live follower reads as things happen.
    let live_log = SqliteLog::open(&path).unwrap();
    let mut live = Follower { got: Streams::new(), log: live_log, lagged: false };
    let mut holds = Vec::new();
    for i in 0..30u64 {
        let by = UserId(10 + i % 4);
        match engine
            .command(stock, by, key(&format!("h{i}")), Action::Stock(StockAction::Reserve { quantity: 1 }))
            .await
            .unwrap()
        {
            Outcome::Stock(StockOutcome::Held(h)) => holds.push((by, h.id)),
            other => panic!("{other:?}"),
        }
        live.drain_now(&mut live_sub).await;
    }
    for (i, (by, id)) in holds.iter().enumerate().take(12) {
        let action = if i % 3 == 0 { Action::Cancel { hold: *id } } else { Action::Confirm { hold: *id } };
        engine.command(stock, *by, key(&format!("c{i}")), action).await.unwrap();
        live.drain_now(&mut live_sub).await;
    }
    engine.command(stock, UserId(11), key("refund"), Action::Refund { order: HoldId(2) }).await.unwrap();
    live.drain_now(&mut live_sub).await;
    // A rejection is an entry without events; it still has its seq.
    engine.command(stock, UserId(10), key("bad"), Action::Confirm { hold: HoldId(999) }).await.unwrap();
    live.drain_now(&mut live_sub).await;
    for u in 0..6u64 {
        engine.command(drop, UserId(u), key("click"), Action::Drop(DropAction::Click)).await.unwrap();
        live.drain_now(&mut live_sub).await;
    }
    // The rest of the holds expire: a tick, published like any entry.
    clock.advance(120 * US_PER_S);
    engine.command(stock, UserId(99), key("late"), Action::Stock(StockAction::Reserve { quantity: 1 })).await.unwrap();
    live.drain_now(&mut live_sub).await;

    let mut log = SqliteLog::open(&path).unwrap();
    let mut from_log = Streams::new();
    for sale in log.sales().unwrap() {
        let mut all = Vec::new();
        replay::events_since(&mut log, sale, 0, &mut |e| {
            all.push(e);
            Ok(())
        })
        .unwrap();
        from_log.insert(sale, all);
    }
    let total: usize = from_log.values().map(Vec::len).sum();
    drain_until(&mut live_sub, &mut live, total).await;
    assert!(!live.lagged, "the live subscriber kept up, so it saw only published batches");
    assert_eq!(live.got, from_log, "the live stream is what the log re-derives");
    let expired = from_log[&stock]
        .iter()
        .flat_map(|e| &e.events)
        .filter(|e| matches!(e, stampede_core::Event::Hold { change: stampede_core::HoldChange::Expired, .. }))
        .count();
    assert!(expired > 0, "expiries are published too");

    // The laggard read nothing so far: it finds it lagged, catches up from the log.
    let mut laggard = Follower { got: Streams::new(), log: SqliteLog::open(&path).unwrap(), lagged: false };
    drain_until(&mut lagging_sub, &mut laggard, total).await;
    assert!(laggard.lagged, "it fell behind the channel's bound");
    assert_eq!(laggard.got, live.got);

    // A late subscriber starts from the log and then follows the live stream.
    let mut late_sub = engine.subscribe();
    let mut late = Follower { got: Streams::new(), log: SqliteLog::open(&path).unwrap(), lagged: false };
    for sale in [stock, drop] {
        late.catch_up(sale);
    }
    engine.command(stock, UserId(11), key("after"), Action::Stock(StockAction::Reserve { quantity: 1 })).await.unwrap();
    drain_until(&mut live_sub, &mut live, total + 1).await;
    drain_until(&mut late_sub, &mut late, total + 1).await;
    assert_eq!(late.got, live.got);

    // From the middle, across a snapshot: the suffix is the same.
    let snapshot = log.latest_snapshot(stock).unwrap().expect("the stock sale was snapshotted").seq;
    let from = snapshot + 2;
    assert!((from as usize) < live.got[&stock].len());
    let mut suffix = Vec::new();
    replay::events_since(&mut log, stock, from, &mut |e| {
        suffix.push(e);
        Ok(())
    })
    .unwrap();
    assert_eq!(suffix[..], live.got[&stock][from as usize..]);
    engine.shutdown().await;
}
