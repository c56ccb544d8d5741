//! The platform ledger run by the engine as stream 0 of the command log:
//! acknowledged transfers and balances survive a restart (from a snapshot
//! too), a pending transfer times out by itself and stays timed out, the
//! stream is audited like a sale's and a tampered entry is caught, a failed
//! log write answers `Unavailable` and loses nothing acknowledged, a full
//! mailbox answers `Overloaded` at once, and sales still number from 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use stampede_clock::ManualClock;
use stampede_core::{
    AccountId, KindConfig, LedgerOutcome, LedgerRejection, Money, Movement, PendingEnd, SaleConfig, StockConfig,
    Transfer, TransferBody, TransferCode, TransferId, TransferRefs, US_PER_S, UserId,
};
use stampede_engine::ledger::{self, LEDGER_SNAPSHOT_TAG, LEDGER_STREAM, LedgerAcked};
use stampede_engine::record::ledger::{LedgerOutcomeV1, LedgerRecord};
use stampede_engine::replay::ReplayError;
use stampede_engine::{Clock, Engine, EngineConfig, EngineError, LogAudit, StartError};
use stampede_log::{
    ChainFault, ChainTip, CommandLog, Entry, Fault, FaultyLog, LogError, MemoryDisk, MemoryLog, SqliteLog,
};

const T0: i64 = 1_800_000_000 * US_PER_S;

fn tid(s: &str) -> TransferId {
    TransferId::parse(s).unwrap()
}

fn wallet(u: u64) -> AccountId {
    AccountId::Wallet(UserId(u))
}

fn movement(debit: AccountId, credit: AccountId, amount: u64, code: TransferCode) -> Movement {
    Movement { debit, credit, amount: Money::from_minor(amount), code, refs: TransferRefs::default() }
}

fn top_up(user: u64, amount: u64) -> TransferBody {
    TransferBody::Single(movement(AccountId::World, wallet(user), amount, TransferCode::TopUp))
}

fn hold(user: u64, amount: u64, timeout_us: i64) -> TransferBody {
    TransferBody::Pending {
        movement: movement(wallet(user), AccountId::Clearing, amount, TransferCode::WalletPayment),
        timeout_us,
    }
}

fn config() -> EngineConfig {
    EngineConfig { mailbox_len_max: 64, snapshot_every: 5, ..EngineConfig::default() }
}

fn start(dir: &Path, clock: Arc<ManualClock>) -> Engine {
    let log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    Engine::start(Box::new(log), clock, config()).unwrap().0
}

async fn send(engine: &Engine, id: &str, body: TransferBody) -> LedgerAcked {
    engine.ledger_command(Transfer { id: tid(id), body }).await.unwrap()
}

async fn stop(engine: Engine) {
    engine.shutdown().await;
    drop(engine);
}

fn stock_sale() -> SaleConfig {
    SaleConfig {
        title: "t".into(),
        description: String::new(),
        translations: Vec::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: 10,
            price: 10,
            per_person_limit: 10,
            order_quantity_max: 10,
            hold_ttl_us: 3600 * US_PER_S,
        }),
        queue: None,
    }
}

fn entries_of(log: &mut dyn CommandLog, stream: u64) -> Vec<Entry> {
    let mut out = Vec::new();
    log.replay(stream, 0, &mut |e| {
        out.push(e);
        Ok(())
    })
    .unwrap();
    out
}

const IDS: [&str; 12] = ["a", "b", "c", "g", "p1", "p2", "post1", "void2", "pay", "settle", "broke", "reuse"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_transfers_and_balances_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let engine = start(dir.path(), clock.clone());
    let sale = engine.create_sale(stock_sale()).await.unwrap().id;
    assert_eq!(sale, 1, "sales number from 1: stream 0 is the ledger");

    let first = send(&engine, "a", top_up(1, 1000)).await;
    assert_eq!(first.outcome, LedgerOutcome::Transferred);
    assert_eq!(first.seq, 1, "the stream's open record comes first");
    send(&engine, "b", top_up(2, 500)).await;
    send(&engine, "c", top_up(3, 70)).await;
    let grant = TransferBody::Single(Movement {
        refs: TransferRefs { actor: Some(UserId(99)), ..TransferRefs::default() },
        ..movement(AccountId::World, wallet(3), 30, TransferCode::Grant)
    });
    send(&engine, "g", grant).await;
    clock.advance(US_PER_S);
    assert!(matches!(send(&engine, "p1", hold(1, 400, 600 * US_PER_S)).await.outcome, LedgerOutcome::Reserved { .. }));
    send(&engine, "p2", hold(2, 200, 600 * US_PER_S)).await;
    let posted =
        send(&engine, "post1", TransferBody::Post { pending: tid("p1"), amount: Some(Money::from_minor(300)) }).await;
    assert_eq!(
        posted.outcome,
        LedgerOutcome::Posted { amount: Money::from_minor(300), released: Money::from_minor(100) }
    );
    send(&engine, "void2", TransferBody::Void { pending: tid("p2") }).await;
    let pay = TransferBody::Single(movement(wallet(3), AccountId::Clearing, 100, TransferCode::WalletPayment));
    send(&engine, "pay", pay).await;
    let settle = TransferBody::Single(movement(
        AccountId::Clearing,
        AccountId::Payable(UserId(1)),
        350,
        TransferCode::Settlement,
    ));
    send(&engine, "settle", settle).await;
    let broke = TransferBody::Single(movement(wallet(3), AccountId::Clearing, 1, TransferCode::WalletPayment));
    assert_eq!(
        send(&engine, "broke", broke).await.outcome,
        LedgerOutcome::Rejected(LedgerRejection::InsufficientFunds { available: Money::ZERO })
    );
    send(&engine, "reuse", top_up(1, 1)).await;
    assert_eq!(send(&engine, "reuse", top_up(1, 2)).await.outcome, LedgerOutcome::Rejected(LedgerRejection::IdReused));

    let before = engine.ledger_accounts().await.unwrap();
    let balance = |accounts: &[(AccountId, stampede_core::Account)], id| {
        accounts.iter().find(|(a, _)| *a == id).map(|(_, a)| a.balance()).unwrap()
    };
    assert_eq!(balance(&before, wallet(1)), 1000 - 300 + 1);
    assert_eq!(balance(&before, wallet(2)), 500);
    assert_eq!(balance(&before, wallet(3)), 0);
    assert_eq!(balance(&before, AccountId::Clearing), 300 + 100 - 350);
    assert_eq!(balance(&before, AccountId::Payable(UserId(1))), 350);
    assert_eq!(before.iter().map(|(_, a)| a.balance()).sum::<i128>(), 0, "money is conserved");
    let mut transfers = Vec::new();
    for id in IDS {
        transfers.push(engine.ledger_transfer(&tid(id)).await.unwrap().expect("remembered"));
    }
    assert_eq!(transfers[4].end, Some(PendingEnd::Posted { by: tid("post1") }));
    assert_eq!(transfers[5].end, Some(PendingEnd::Voided { by: tid("void2") }));
    stop(engine).await;

    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    assert_eq!(log.sales().unwrap(), vec![LEDGER_STREAM, sale]);
    let snap = log.latest_snapshot(LEDGER_STREAM).unwrap().expect("the ledger was snapshotted");
    assert_eq!(snap.format, LEDGER_SNAPSHOT_TAG);
    drop(log);

    let log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let (engine, report) = Engine::start(Box::new(log), clock.clone(), config()).unwrap();
    assert_eq!(report.sales, 1, "the ledger is not counted as a sale");
    assert!(report.ledger_entries > 0 && report.ledger_entries < 15, "replayed from the snapshot: {report:?}");
    assert_eq!(engine.ledger_accounts().await.unwrap(), before);
    for (id, want) in IDS.iter().zip(&transfers) {
        assert_eq!(engine.ledger_transfer(&tid(id)).await.unwrap().as_ref(), Some(want), "{id}");
    }
    // A repeat after the restart answers the first outcome and moves nothing.
    assert_eq!(
        send(&engine, "post1", TransferBody::Post { pending: tid("p1"), amount: Some(Money::from_minor(300)) })
            .await
            .outcome,
        posted.outcome
    );
    assert_eq!(engine.ledger_accounts().await.unwrap(), before);
    assert_eq!(engine.create_sale(stock_sale()).await.unwrap().id, 2);
    stop(engine).await;

    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let audit = ledger::replay::audit(&mut log).unwrap();
    assert_eq!(audit.entries, 1 + 14, "open and every transfer, the repeat included");
    assert!(audit.snapshot_checked.is_some());
    assert_eq!(audit.final_state.accounts().map(|(id, a)| (*id, *a)).collect::<Vec<_>>(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_transfer_times_out_by_itself_and_stays_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let engine = start(dir.path(), clock.clone());
    send(&engine, "top", top_up(1, 100)).await;
    let mut status = engine.ledger_status().unwrap();
    // A short real timeout: the task's own timer fires; nothing is sent and nothing read.
    let reserved = send(&engine, "hold", hold(1, 60, 50_000)).await;
    assert_eq!(reserved.outcome, LedgerOutcome::Reserved { expires_at_us: T0 + 50_000 });
    clock.advance(US_PER_S);
    let ticked = tokio::time::timeout(Duration::from_secs(30), status.wait_for(|s| s.next_deadline_us.is_none()))
        .await
        .expect("the ledger ticks by itself")
        .unwrap()
        .to_owned();
    assert_eq!(ticked.entries, 4, "open, top-up, hold, the tick");
    let state = engine.ledger_transfer(&tid("hold")).await.unwrap().unwrap();
    assert_eq!(state.end, Some(PendingEnd::Expired));
    let account = engine.ledger_account(wallet(1)).await.unwrap().unwrap();
    assert_eq!((account.balance(), account.available(), account.debits_pending), (100, 100, Money::ZERO));

    // A long timeout passed by moving the clock: a read wakes the task and
    // waits for the durable tick, so it never shows a stale reservation.
    send(&engine, "hold2", hold(1, 70, 3600 * US_PER_S)).await;
    assert_eq!(engine.ledger_account(wallet(1)).await.unwrap().unwrap().available(), 30);
    clock.advance(2 * 3600 * US_PER_S);
    assert_eq!(engine.ledger_transfer(&tid("hold2")).await.unwrap().unwrap().end, Some(PendingEnd::Expired));
    assert_eq!(engine.ledger_account(wallet(1)).await.unwrap().unwrap().available(), 100);
    let before = engine.ledger_accounts().await.unwrap();
    stop(engine).await;

    let engine = start(dir.path(), clock.clone());
    assert_eq!(engine.ledger_accounts().await.unwrap(), before);
    assert_eq!(engine.ledger_transfer(&tid("hold")).await.unwrap().unwrap().end, Some(PendingEnd::Expired));
    let late = send(&engine, "late", TransferBody::Post { pending: tid("hold2"), amount: None }).await;
    assert_eq!(late.outcome, LedgerOutcome::Rejected(LedgerRejection::PendingExpired));
    stop(engine).await;
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    assert!(ledger::replay::audit(&mut log).is_ok());
}

/// A small ledger written by the engine: its stream's entries.
async fn good_ledger() -> Vec<Entry> {
    let disk = MemoryDisk::new();
    let clock = Arc::new(ManualClock::at(T0));
    let (engine, _) = Engine::start(Box::new(MemoryLog::open(&disk)), clock, config()).unwrap();
    send(&engine, "a", top_up(1, 100)).await;
    send(&engine, "p", hold(1, 40, 60 * US_PER_S)).await;
    send(&engine, "post", TransferBody::Post { pending: tid("p"), amount: None }).await;
    send(&engine, "x", hold(1, 500, 60 * US_PER_S)).await;
    stop(engine).await;
    entries_of(&mut MemoryLog::open(&disk), LEDGER_STREAM)
}

/// Every entry rechained into a fresh log: what someone who rewrites a log
/// and rehashes it produces.
fn rechained(entries: &[Entry]) -> MemoryLog {
    let mut tip = ChainTip::genesis(LEDGER_STREAM);
    let rehashed: Vec<Entry> = entries.iter().map(|e| tip.append(e.at_us, e.payload.clone())).collect();
    let mut log = MemoryLog::new();
    log.append(&rehashed, &[]).unwrap();
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_stream_is_audited_and_a_tampered_entry_is_caught() {
    let entries = good_ledger().await;
    assert_eq!(entries.len(), 5);
    let audit = ledger::replay::audit(&mut rechained(&entries)).unwrap();
    assert_eq!(audit.entries, 5);

    // The post's outcome rewritten to have moved less, the chain rehashed.
    let mut tampered = entries.clone();
    let mut record = LedgerRecord::decode(&tampered[3].payload).unwrap();
    let LedgerRecord::Transfer { out, .. } = &mut record else { panic!("entry 3 is the post") };
    assert_eq!(*out, LedgerOutcomeV1::Posted { amount: 40, released: 0 });
    *out = LedgerOutcomeV1::Posted { amount: 4, released: 36 };
    tampered[3].payload = record.encode();
    let failure = ledger::replay::audit(&mut rechained(&tampered)).unwrap_err();
    assert!(matches!(failure.source, ReplayError::Diverged { sale: 0, seq: 3, .. }), "{failure}");
    assert_eq!(failure.checked, 3);
    // A start refuses it too: recovery re-decides every input.
    let refused = Engine::start(Box::new(rechained(&tampered)), Arc::new(ManualClock::at(T0)), config());
    assert!(matches!(refused, Err(StartError::Ledger(ReplayError::Diverged { seq: 3, .. }))));

    // The refusal's amount changed without rehashing: a broken link.
    let mut cut = entries.clone();
    let mut record = LedgerRecord::decode(&cut[4].payload).unwrap();
    let LedgerRecord::Transfer { out, .. } = &mut record else { panic!("entry 4 is the refused hold") };
    *out = LedgerOutcomeV1::Reserved { expires_at_us: T0 };
    cut[4].payload = record.encode();
    let mut log = rechained(&entries[..4]);
    let dir = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    sqlite.append(&entries_of(&mut log, LEDGER_STREAM), &[]).unwrap();
    drop(sqlite);
    // Write the bad entry behind the log's back.
    let conn = rusqlite::Connection::open(dir.path().join("log.sqlite")).unwrap();
    conn.execute(
        "INSERT INTO entries (sale, seq, at_us, payload, hash) VALUES (0, 4, ?1, ?2, ?3)",
        rusqlite::params![cut[4].at_us, cut[4].payload, cut[4].hash.to_vec()],
    )
    .unwrap();
    drop(conn);
    let mut sqlite = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let failure = ledger::replay::audit(&mut sqlite).unwrap_err();
    assert!(
        matches!(
            failure.source,
            ReplayError::Log(LogError::ChainBroken { sale: 0, seq: 4, fault: ChainFault::HashMismatch })
        ),
        "{failure}"
    );
    assert_eq!(failure.checked, 4);

    // The engine's background audit checks the ledger stream too.
    let good = tempfile::tempdir().unwrap();
    let mut sqlite = SqliteLog::open(&good.path().join("log.sqlite")).unwrap();
    sqlite.append(&entries, &[]).unwrap();
    drop(sqlite);
    let engine = start(good.path(), Arc::new(ManualClock::at(T0)));
    engine.audit_log_in_background(Box::new(SqliteLog::open(&good.path().join("log.sqlite")).unwrap())).unwrap();
    assert_eq!(engine.log_audit_finished().await, LogAudit::Intact { sales: 0, entries: 5 });
    stop(engine).await;
    // (A start on the damaged file is refused; the audit reads it beside a good one.)
    assert!(matches!(
        Engine::start(
            Box::new(SqliteLog::open(&dir.path().join("log.sqlite")).unwrap()),
            Arc::new(ManualClock::at(T0)),
            config()
        ),
        Err(StartError::Ledger(ReplayError::Log(LogError::ChainBroken { seq: 4, .. })))
    ));
    let engine = start(good.path(), Arc::new(ManualClock::at(T0)));
    engine.audit_log_in_background(Box::new(SqliteLog::open(&dir.path().join("log.sqlite")).unwrap())).unwrap();
    assert!(matches!(engine.log_audit_finished().await, LogAudit::Damaged { sale: 0, checked: 4, .. }));
    stop(engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_answers_unavailable_and_loses_nothing_acknowledged() {
    let disk = MemoryDisk::new();
    let clock = Arc::new(ManualClock::at(T0));
    let log = FaultyLog::with_fault(MemoryLog::open(&disk), 3, Fault::Fail);
    let (engine, _) = Engine::start(Box::new(log), clock.clone(), config()).unwrap();
    send(&engine, "a", top_up(1, 100)).await;
    send(&engine, "b", top_up(2, 50)).await;
    let failed = engine.ledger_command(Transfer { id: tid("c"), body: top_up(1, 7) }).await;
    assert_eq!(failed, Err(EngineError::Unavailable));
    assert!(!engine.healthy());
    assert_eq!(
        engine.ledger_command(Transfer { id: tid("d"), body: top_up(1, 7) }).await,
        Err(EngineError::Unavailable)
    );
    // Reads show only what was durable.
    assert_eq!(engine.ledger_account(wallet(1)).await.unwrap().unwrap().balance(), 100);
    stop(engine).await;

    let (engine, _) = Engine::start(Box::new(MemoryLog::open(&disk)), clock, config()).unwrap();
    assert_eq!(engine.ledger_account(wallet(1)).await.unwrap().unwrap().balance(), 100);
    assert_eq!(engine.ledger_account(wallet(2)).await.unwrap().unwrap().balance(), 50);
    assert_eq!(engine.ledger_transfer(&tid("c")).await.unwrap(), None, "never durable, never answered");
    assert_eq!(send(&engine, "c", top_up(1, 7)).await.outcome, LedgerOutcome::Transferred);
    assert_eq!(engine.ledger_account(wallet(1)).await.unwrap().unwrap().balance(), 107);
    stop(engine).await;
}

/// A clock that, once armed, parks the next caller (the ledger task,
/// stamping a transfer) until released.
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
async fn a_full_ledger_mailbox_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let clock = Arc::new(GateClock {
        now_us: T0,
        armed: false.into(),
        entered: Some(entered_tx).into(),
        release: Some(release_rx).into(),
    });
    let log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let config = EngineConfig { mailbox_len_max: 1, ..config() };
    let (engine, _) = Engine::start(Box::new(log), clock.clone(), config).unwrap();
    clock.armed.store(true, Ordering::SeqCst);
    let parked = {
        let engine = engine.clone();
        tokio::spawn(async move { send(&engine, "p", top_up(1, 1)).await })
    };
    entered_rx.await.unwrap();
    let queued = {
        let engine = engine.clone();
        tokio::spawn(async move { send(&engine, "q", top_up(1, 2)).await })
    };
    while engine.ledger_queued() < 1 {
        tokio::task::yield_now().await;
    }
    let refused = engine.ledger_command(Transfer { id: tid("r"), body: top_up(1, 4) }).await;
    assert_eq!(refused, Err(EngineError::Overloaded));
    release_tx.send(()).unwrap();
    assert_eq!(parked.await.unwrap().outcome, LedgerOutcome::Transferred);
    assert_eq!(queued.await.unwrap().outcome, LedgerOutcome::Transferred);
    assert_eq!(engine.ledger_account(wallet(1)).await.unwrap().unwrap().balance(), 3, "the refused one moved nothing");
    assert_eq!(engine.ledger_transfer(&tid("r")).await.unwrap(), None);
    stop(engine).await;
}

/// A wallet's statement lists the single and pending transfers that name it,
/// newest first, with how a pending one ended; posts, voids and other
/// wallets' transfers are not on it; it is the same after a restart (rebuilt
/// from the log). Listing by prefix finds a saga's transfers and no others,
/// in byte order of their ids.
#[tokio::test]
async fn a_statement_lists_a_wallets_transfers_newest_first_and_prefixes_find_a_sagas() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let engine = start(dir.path(), clock.clone());
    send(&engine, "grant:1", top_up(1, 1000)).await;
    send(&engine, "grant:2", top_up(2, 500)).await;
    clock.advance(10);
    send(&engine, "pay:1:2", hold(1, 300, 60 * US_PER_S)).await;
    clock.advance(10);
    send(&engine, "pay:1:23", hold(1, 200, 60 * US_PER_S)).await;
    clock.advance(10);
    send(&engine, "pay:1:2:post", TransferBody::Post { pending: tid("pay:1:2"), amount: None }).await;
    let lines = |engine: Engine| async move {
        let statement = engine.ledger_statement(wallet(1), 10).await.unwrap();
        let lines: Vec<(String, Option<PendingEnd>)> =
            statement.into_iter().map(|(id, s)| (id.as_str().to_owned(), s.end)).collect();
        (engine, lines)
    };
    let (engine, got) = lines(engine).await;
    let posted = Some(PendingEnd::Posted { by: tid("pay:1:2:post") });
    let want = vec![("pay:1:2".to_owned(), posted), ("pay:1:23".to_owned(), None), ("grant:1".to_owned(), None)];
    assert_eq!(got, want, "the post touched pay:1:2 last, so it is newest");
    assert_eq!(engine.ledger_statement(wallet(1), 1).await.unwrap().len(), 1, "bounded by the caller");
    let ids = |v: Vec<(TransferId, ledger::TransferState)>| {
        v.into_iter().map(|(id, _)| id.as_str().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(engine.ledger_transfers_with_prefix("pay:1:2", 10).await.unwrap()),
        ["pay:1:2", "pay:1:23", "pay:1:2:post"]
    );
    assert_eq!(ids(engine.ledger_transfers_with_prefix("grant:", 10).await.unwrap()), ["grant:1", "grant:2"]);
    assert!(engine.ledger_transfers_with_prefix("refund:", 10).await.unwrap().is_empty());
    stop(engine).await;
    let (_, again) = lines(start(dir.path(), clock)).await;
    assert_eq!(again, want, "rebuilt from the log");
}
