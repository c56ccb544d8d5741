//! The engine's ledger against the core's: random transfers, two-phase posts
//! and voids, repeats and clock jumps go through `Engine::ledger_command` on
//! a real SQLite log, with restarts at random points, and each answer must be
//! what `Ledger::apply` gives for the same input at the same time. The core
//! is the model here (it has its own model test); what is checked is the
//! runtime around it: stamping, logging, replay from the log and from
//! snapshots, ticks at timeouts, and the published read side, compared with
//! the model's accounts and transfers after every step.
//!
//! Small bounds (accounts, pending, remembered ids) make refusals for lack of
//! room common, so a restart must replay them with the bounds the log's
//! first record names. The case count follows PROPTEST_CASES (default 24:
//! every step is an fsync).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{FileFailurePersistence, TestCaseError};
use stampede_clock::ManualClock;
use stampede_core::{
    AccountId, Ledger, LedgerInput, LedgerLimits, Money, Movement, TRANSFER_ID_TTL_US, Transfer, TransferBody,
    TransferCode, TransferId, TransferRefs, US_PER_S, UserId,
};
use stampede_engine::ledger::TransferState;
use stampede_engine::{Clock, Engine, EngineConfig};
use stampede_log::SqliteLog;

const T0: i64 = 1_800_000_000 * US_PER_S;
const LIMITS: LedgerLimits = LedgerLimits { accounts_max: 7, pending_max: 3, remembered_max: 12 };
const IDS: usize = 14;

#[derive(Clone, Debug)]
enum Op {
    Send {
        advance_us: i64,
        id: usize,
        body: TransferBody,
    },
    Restart,
    /// Moves the clock (past timeouts, or past the ids' memory) and reads.
    Jump {
        advance_us: i64,
    },
}

fn tid(i: usize) -> TransferId {
    TransferId::parse(&format!("t{i}")).unwrap()
}

fn account() -> impl Strategy<Value = AccountId> {
    prop_oneof![
        2 => Just(AccountId::World),
        3 => Just(AccountId::Clearing),
        1 => Just(AccountId::Fees),
        4 => (1..4u64).prop_map(|u| AccountId::Wallet(UserId(u))),
        2 => (1..3u64).prop_map(|u| AccountId::Payable(UserId(u))),
    ]
}

fn code() -> impl Strategy<Value = TransferCode> {
    prop_oneof![
        Just(TransferCode::TopUp),
        Just(TransferCode::Grant),
        Just(TransferCode::GatewayPayment),
        Just(TransferCode::WalletPayment),
        Just(TransferCode::Settlement),
        Just(TransferCode::Fee),
        Just(TransferCode::Refund),
        Just(TransferCode::GatewayRefund),
        Just(TransferCode::Payout),
    ]
}

/// Movements the codes allow most of the time, so money actually moves.
fn movement() -> impl Strategy<Value = Movement> {
    let sensible = (1..4u64, 1..3u64, 0..8usize).prop_map(|(w, p, pick)| {
        let (wallet, payable) = (AccountId::Wallet(UserId(w)), AccountId::Payable(UserId(p)));
        [
            (AccountId::World, wallet, TransferCode::TopUp),
            (AccountId::World, wallet, TransferCode::Grant),
            (AccountId::World, AccountId::Clearing, TransferCode::GatewayPayment),
            (wallet, AccountId::Clearing, TransferCode::WalletPayment),
            (AccountId::Clearing, payable, TransferCode::Settlement),
            (payable, AccountId::Fees, TransferCode::Fee),
            (AccountId::Clearing, wallet, TransferCode::Refund),
            (payable, AccountId::World, TransferCode::Payout),
        ][pick]
    });
    let arbitrary = (account(), account(), code());
    (prop_oneof![4 => sensible, 1 => arbitrary], 0..120u64, any::<bool>()).prop_map(
        |((debit, credit, code), amount, refs)| {
            let refs = if refs {
                TransferRefs { order: None, payment: Some(amount), actor: Some(UserId(9)) }
            } else {
                TransferRefs::default()
            };
            Movement { debit, credit, amount: Money::from_minor(amount), code, refs }
        },
    )
}

fn body() -> impl Strategy<Value = TransferBody> {
    let timeout = prop_oneof![8 => 1..(10 * US_PER_S), 1 => -5..1i64];
    prop_oneof![
        3 => movement().prop_map(TransferBody::Single),
        3 => (movement(), timeout).prop_map(|(movement, timeout_us)| TransferBody::Pending { movement, timeout_us }),
        2 => (0..IDS, prop::option::of(0..130u64))
            .prop_map(|(p, a)| TransferBody::Post { pending: tid(p), amount: a.map(Money::from_minor) }),
        1 => (0..IDS).prop_map(|p| TransferBody::Void { pending: tid(p) }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        16 => (0..(3 * US_PER_S), 0..IDS, body()).prop_map(|(advance_us, id, body)| Op::Send { advance_us, id, body }),
        2 => Just(Op::Restart),
        2 => prop_oneof![Just(5 * US_PER_S), Just(TRANSFER_ID_TTL_US + US_PER_S)]
            .prop_map(|advance_us| Op::Jump { advance_us }),
    ]
}

fn start(dir: &std::path::Path, clock: Arc<ManualClock>) -> Engine {
    let log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    // Snapshots often, so restarts also start from them.
    let config = EngineConfig { snapshot_every: 7, ledger_limits: LIMITS, ..EngineConfig::default() };
    Engine::start(Box::new(log), clock, config).unwrap().0
}

/// The engine's published side equals the model's (the model ticked to now first).
async fn compare(engine: &Engine, model: &mut Ledger, now_us: i64) -> Result<(), TestCaseError> {
    model.apply(&LedgerInput::Tick { at_us: now_us });
    let want: Vec<_> = model.accounts().map(|(id, a)| (*id, *a)).collect();
    prop_assert_eq!(engine.ledger_accounts().await.unwrap(), want);
    for i in 0..IDS {
        let published = engine.ledger_transfer(&tid(i)).await.unwrap();
        match TransferState::of(model, &tid(i)) {
            Some(state) => prop_assert_eq!(published, Some(state), "t{}", i),
            // A forgotten id may stay published until the next batch; never one the ledger never had.
            None => prop_assert!(published.is_none() || model.last_at_us() >= T0 + TRANSFER_ID_TTL_US, "t{}", i),
        }
    }
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let mut engine = start(dir.path(), clock.clone());
    let mut model = Ledger::with_limits(LIMITS);
    for op in ops {
        match op {
            Op::Send { advance_us, id, body } => {
                clock.advance(advance_us);
                let transfer = Transfer { id: tid(id), body };
                let acked = engine.ledger_command(transfer.clone()).await.unwrap();
                prop_assert_eq!(acked.at_us, clock.now_us());
                let want = model.apply(&LedgerInput::Transfer { at_us: acked.at_us, transfer });
                prop_assert_eq!(acked.outcome, want.outcome);
            }
            Op::Restart => {
                engine.shutdown().await;
                drop(engine);
                engine = start(dir.path(), clock.clone());
            }
            Op::Jump { advance_us } => clock.advance(advance_us),
        }
        compare(&engine, &mut model, clock.now_us()).await?;
        prop_assert_eq!(model.check_invariants(), Ok(()));
    }
    engine.shutdown().await;
    drop(engine);
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let audit = stampede_engine::ledger::replay::audit(&mut log).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let replayed: Vec<_> = audit.final_state.accounts().map(|(id, a)| (*id, *a)).collect();
    let want: Vec<_> = model.accounts().map(|(id, a)| (*id, *a)).collect();
    prop_assert_eq!(replayed, want);
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(24);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_engine_answers_what_the_core_answers_across_restarts(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
