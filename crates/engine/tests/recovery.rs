//! Recovery on start: snapshots keep coming on a server restarted often, a log
//! changed behind its snapshots is refused, and damage start-up cannot see is
//! found by the background audit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stampede_core::{StockAction, StockOutcome};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stampede_clock::ManualClock;
use stampede_core::{
    Action, Event, HoldChange, IdempotencyKey, KindConfig, Outcome, SaleConfig, StockConfig, US_PER_S, UserId,
};
use stampede_engine::replay::{self, ReplayError};
use stampede_engine::{Engine, EngineConfig, LogAudit, StartError};
use stampede_log::{CommandLog, SqliteLog};

const T0: i64 = 1_800_000_000 * US_PER_S;
const SNAPSHOT_EVERY: u64 = 10;

fn config() -> EngineConfig {
    EngineConfig { mailbox_len_max: 64, snapshot_every: SNAPSHOT_EVERY, ..EngineConfig::default() }
}

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
            hold_ttl_us: 3600 * US_PER_S,
        }),
        queue: None,
    }
}

fn start(dir: &Path) -> Result<Engine, StartError> {
    let log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    let clock = Arc::new(ManualClock::at(T0 + 1));
    Engine::start(Box::new(log), clock, config()).map(|(engine, _)| engine)
}

async fn hold(engine: &Engine, sale: u64, key: &str) {
    let outcome = engine
        .command(
            sale,
            UserId(7),
            IdempotencyKey::parse(key).unwrap(),
            Action::Stock(StockAction::Reserve { quantity: 1 }),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Stock(StockOutcome::Held(_))), "{outcome:?}");
}

async fn stop(engine: Engine) {
    engine.shutdown().await;
    drop(engine);
}

/// A sale with `holds` holds after its create and open entries, written by one engine.
async fn sale_with_holds(dir: &Path, holds: u32) -> u64 {
    let engine = start(dir).unwrap();
    let sale = engine.create_sale(stock_sale()).await.unwrap().id;
    let opened = engine.command(sale, UserId(1), IdempotencyKey::parse("open").unwrap(), Action::Open).await.unwrap();
    assert_eq!(opened, Outcome::Opened);
    for i in 0..holds {
        hold(&engine, sale, &format!("h{i}")).await;
    }
    stop(engine).await;
    sale
}

fn snapshot_seqs(dir: &Path, sale: u64) -> Vec<u64> {
    let mut log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    log.snapshot_marks(sale).unwrap().into_iter().map(|(seq, _)| seq).collect()
}

fn raw(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("log.sqlite")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_is_snapshotted_even_when_every_run_writes_fewer_entries_than_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    // 2 + 4 entries, then four more runs of 4 holds each: 22 entries, never 10 in one run.
    let sale = sale_with_holds(dir.path(), 4).await;
    assert_eq!(snapshot_seqs(dir.path(), sale), Vec::<u64>::new());
    for run in 0..4 {
        let engine = start(dir.path()).unwrap();
        for i in 0..4 {
            hold(&engine, sale, &format!("r{run}-{i}")).await;
        }
        stop(engine).await;
    }
    let snapshots = snapshot_seqs(dir.path(), sale);
    assert!(!snapshots.is_empty(), "22 entries over 5 runs with a gap of 10, and no snapshot");
    // Entries 0..=9 are the first 10 since the (absent) snapshot: the first is due at seq 9 at the latest.
    assert!(snapshots.iter().all(|&seq| seq >= SNAPSHOT_EVERY - 1), "{snapshots:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_log_that_lost_the_entries_under_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let sale = sale_with_holds(dir.path(), 30).await;
    let snapshots = snapshot_seqs(dir.path(), sale);
    assert_eq!(snapshots.len(), 2, "two snapshots kept: {snapshots:?}");
    let newest = snapshots[0];
    // As a copy of the database file taken before its WAL would: the snapshot
    // row is there, the last entries (the snapshot's own among them) are not.
    raw(dir.path())
        .execute("DELETE FROM entries WHERE sale = ?1 AND seq >= ?2", (sale as i64, newest as i64 - 3))
        .unwrap();
    match start(dir.path()) {
        Err(StartError::Replay { sale: s, source: ReplayError::SnapshotNotInLog { seq, missing: true, .. } }) => {
            assert_eq!((s, seq), (sale, newest));
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("started on a log that lost the entries under its newest snapshot"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_log_whose_older_snapshot_names_another_entry() {
    let dir = tempfile::tempdir().unwrap();
    let sale = sale_with_holds(dir.path(), 30).await;
    let snapshots = snapshot_seqs(dir.path(), sale);
    let older = snapshots[1];
    // Entry `older` rewritten with a hash of its own; the entries after the
    // newest snapshot, which is all a start replays, are untouched.
    raw(dir.path())
        .execute("UPDATE entries SET hash = zeroblob(32) WHERE sale = ?1 AND seq = ?2", (sale as i64, older as i64))
        .unwrap();
    match start(dir.path()) {
        Err(StartError::Replay { source: ReplayError::SnapshotNotInLog { seq, missing: false, .. }, .. }) => {
            assert_eq!(seq, older);
        }
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("started on a log whose snapshot names an entry it does not have"),
    }
}

async fn audit_result(engine: &Engine) -> LogAudit {
    tokio::time::timeout(Duration::from_secs(30), engine.log_audit_finished())
        .await
        .expect("the audit ends within 30 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_audit_finds_damage_before_the_newest_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let sale = sale_with_holds(dir.path(), 30).await;
    let oldest = *snapshot_seqs(dir.path(), sale).last().unwrap();

    // An intact log passes.
    let engine = start(dir.path()).unwrap();
    assert_eq!(engine.log_audit(), LogAudit::NotStarted);
    engine.audit_log_in_background(Box::new(SqliteLog::open(&dir.path().join("log.sqlite")).unwrap())).unwrap();
    assert_eq!(audit_result(&engine).await, LogAudit::Intact { sales: 1, entries: 32 });
    stop(engine).await;

    // Entry 5 deleted: both snapshots and everything after them are intact,
    // so the server starts and serves; the audit finds the gap.
    assert!(oldest > 5, "{oldest}");
    raw(dir.path()).execute("DELETE FROM entries WHERE sale = ?1 AND seq = 5", [sale as i64]).unwrap();
    let engine = start(dir.path()).expect("a start replays only from the newest snapshot");
    engine.audit_log_in_background(Box::new(SqliteLog::open(&dir.path().join("log.sqlite")).unwrap())).unwrap();
    hold(&engine, sale, "after-start").await;
    match audit_result(&engine).await {
        LogAudit::Damaged { sale: s, checked, problem } => {
            assert_eq!((s, checked), (sale, 5), "{problem}");
            assert!(problem.contains("seq 6"), "{problem}");
        }
        other => panic!("the audit did not find the missing entry: {other:?}"),
    }
    stop(engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_held_back_never_delays_the_sale_and_is_written_beside_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path()).unwrap();
    let sale = engine.create_sale(stock_sale()).await.unwrap().id;
    engine.command(sale, UserId(1), IdempotencyKey::parse("open").unwrap(), Action::Open).await.unwrap();
    // Another writer holds the snapshots database: the snapshot due at seq 9
    // waits for it, and the sale must go on answering meanwhile.
    let snapshots_db = stampede_log::snapshots_path(&dir.path().join("log.sqlite"));
    let blocker = rusqlite::Connection::open(&snapshots_db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    for i in 0..12 {
        tokio::time::timeout(Duration::from_secs(3), hold(&engine, sale, &format!("h{i}")))
            .await
            .expect("a command waited behind a snapshot");
    }
    assert_eq!(snapshot_seqs(dir.path(), sale), Vec::<u64>::new(), "the snapshot is still held back");
    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);
    stop(engine).await;

    let seqs = snapshot_seqs(dir.path(), sale);
    assert!(!seqs.is_empty() && seqs.iter().all(|&seq| (SNAPSHOT_EVERY - 1..14).contains(&seq)), "{seqs:?}");
    let in_log: i64 = raw(dir.path()).query_row("SELECT count(*) FROM snapshots", [], |row| row.get(0)).unwrap();
    assert_eq!(in_log, 0, "snapshots never go into the log's own file");
    let log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let (engine, report) = Engine::start(Box::new(log), clock, config()).unwrap();
    assert_eq!((report.from_snapshots, report.entries_replayed), (1, 14 - 1 - seqs[0]));
    stop(engine).await;
}

/// Every `Expired` event of the sale's log, by hold, re-derived from the log.
fn expiries(dir: &Path, sale: u64) -> Vec<u64> {
    let mut log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    let mut out = Vec::new();
    stampede_engine::replay::events_since(&mut log, sale, 0, &mut |entry| {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_that_expires_while_the_server_is_down_expires_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0 + 1));
    let begin = |clock: &Arc<ManualClock>| {
        let log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
        Engine::start(Box::new(log), clock.clone(), config()).unwrap().0
    };
    let mut config = stock_sale();
    let KindConfig::Stock(stock) = &mut config.kind else { unreachable!() };
    stock.hold_ttl_us = 60 * US_PER_S;
    let engine = begin(&clock);
    let sale = engine.create_sale(config).await.unwrap().id;
    engine.command(sale, UserId(1), IdempotencyKey::parse("open").unwrap(), Action::Open).await.unwrap();
    let reserve = Action::Stock(StockAction::Reserve { quantity: 3 });
    let Outcome::Stock(StockOutcome::Held(hold)) =
        engine.command(sale, UserId(7), IdempotencyKey::parse("h").unwrap(), reserve.clone()).await.unwrap()
    else {
        panic!("not held");
    };
    stop(engine).await;

    // Down for two minutes: the hold's minute ends meanwhile.
    clock.set(hold.expires_at_us + 60 * US_PER_S);
    assert_eq!(expiries(dir.path(), sale), Vec::<u64>::new(), "nothing expires while nothing runs");
    for restart in 0..2 {
        let engine = begin(&clock);
        // A read waits for the sale to apply the deadlines the clock has passed.
        let live = engine.live(sale).await.unwrap();
        let stock = live.view.stock.clone().unwrap();
        assert_eq!((stock.available, stock.held, stock.sold), (1000, 0, 0), "restart {restart}");
        // The holder's repeat gets the first answer, not a second hold.
        let again =
            engine.command(sale, UserId(7), IdempotencyKey::parse("h").unwrap(), reserve.clone()).await.unwrap();
        assert!(matches!(again, Outcome::Stock(StockOutcome::Held(ref h)) if h.id == hold.id), "{again:?}");
        assert_eq!(engine.live(sale).await.unwrap().view.stock.clone().unwrap().held, 0);
        stop(engine).await;
        assert_eq!(expiries(dir.path(), sale), vec![hold.id.0], "restart {restart}: expired exactly once");
    }
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    replay::audit(&mut log, sale).unwrap().final_state.check_invariants().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_the_sale_rebuilt_from_the_durable_log_at_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let sale = sale_with_holds(dir.path(), 25).await;
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let whole = replay::recover(&mut log, sale).unwrap();
    let last = whole.tip.next_seq - 1;
    // At the last entry: the very state a restart recovers, byte for byte.
    let (at_last, tip) = replay::state_at(&mut log, sale, None, last).unwrap().unwrap();
    assert_eq!(tip, whole.tip);
    assert_eq!(replay::encode_snapshot(&at_last), replay::encode_snapshot(&whole.sale));
    // Before the newest snapshot and after it: the sale as it was then.
    let snapshots = snapshot_seqs(dir.path(), sale);
    assert!(!snapshots.is_empty(), "25 holds with a snapshot every {SNAPSHOT_EVERY} entries left none");
    for seq in [2, snapshots[0] - 1, snapshots[0], snapshots[0] + 1] {
        let (state, tip) = replay::state_at(&mut log, sale, None, seq).unwrap().unwrap();
        assert_eq!(tip.next_seq, seq + 1);
        assert_eq!(Some(tip.last_hash), log.entry_hash(sale, seq).unwrap());
        assert_ne!(replay::encode_snapshot(&state), replay::encode_snapshot(&whole.sale), "seq {seq}");
        state.check_invariants().unwrap();
    }
    // An entry the log does not hold yet: no state.
    assert!(replay::state_at(&mut log, sale, None, last + 1).unwrap().is_none());
}

/// A sale logged in JSON (record version 1, before binary records) keeps
/// its encoding after a restart by a build that creates binary sales: its
/// log stays one encoding, and both sales audit clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_sale_keeps_writing_json_beside_new_binary_sales() {
    use stampede_core::{Input, Sale};
    use stampede_engine::record::{BINARY_RECORD_VERSION, RECORD_VERSION, Record};
    use stampede_log::ChainTip;
    let dir = tempfile::tempdir().unwrap();
    {
        // What an older build wrote: a version-1 sale, opened.
        let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
        let mut tip = ChainTip::genesis(1);
        let mut sale = Sale::new(stock_sale());
        let create = tip.append(T0, Record::create(&stock_sale()).encode());
        let open = Input::Command(stampede_core::Command {
            at_us: T0,
            by: UserId(1),
            key: IdempotencyKey::parse("open").unwrap(),
            action: Action::Open,
        });
        let applied = sale.apply(&open);
        let opened = tip.append(T0, Record::from_input(&open, &applied.outcome).encode());
        log.append(&[create, opened], &[]).unwrap();
    }
    let engine = start(dir.path()).unwrap();
    hold(&engine, 1, "after-restart").await;
    let new_sale = engine.create_sale(stock_sale()).await.unwrap().id;
    stop(engine).await;
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    for (sale, version, entries) in [(1, RECORD_VERSION, 3), (new_sale, BINARY_RECORD_VERSION, 1)] {
        let mut versions = Vec::new();
        log.replay(sale, 0, &mut |e| {
            versions.push(Record::decode(&e.payload).unwrap().version());
            Ok(())
        })
        .unwrap();
        assert_eq!(versions, vec![version; entries], "sale {sale}");
        assert_eq!(replay::audit(&mut log, sale).unwrap().entries, entries as u64);
    }
}
