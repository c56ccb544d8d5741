//! `stampede verify` on a log someone rewrote: one recorded outcome changed
//! in the SQLite file and every hash after it recomputed, so the chain is
//! whole and only the replay can tell. The binary must fail, name the sale
//! and the seq, and still report the untouched sale as intact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use stampede_core::{
    Action, IdempotencyKey, KindConfig, Outcome, SaleConfig, StockAction, StockConfig, StockOutcome, US_PER_S, UserId,
};
use stampede_engine::{Engine, EngineConfig, ManualClock};
use stampede_log::{CommandLog, SqliteLog, chain_hash};

const T0: i64 = 1_800_000_000 * US_PER_S;
const HOLDS: u64 = 6;

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
            stock: 100,
            price: 10,
            per_person_limit: 10,
            order_quantity_max: 1,
            hold_ttl_us: 3600 * US_PER_S,
        }),
        queue: None,
    }
}

/// Two stock sales of create, open and [`HOLDS`] holds each, written by the engine.
async fn write_log(data: &Path) -> [u64; 2] {
    std::fs::create_dir_all(data).unwrap();
    let log = SqliteLog::open(&data.join("log.sqlite")).unwrap();
    let clock = Arc::new(ManualClock::at(T0));
    let (engine, _) = Engine::start(Box::new(log), clock.clone(), EngineConfig::default()).unwrap();
    let mut ids = [0; 2];
    for id in &mut ids {
        *id = engine.create_sale(stock_sale()).await.unwrap().id;
        let key = |k: String| IdempotencyKey::parse(&k).unwrap();
        assert_eq!(engine.command(*id, UserId(1), key("open".into()), Action::Open).await.unwrap(), Outcome::Opened);
        for i in 0..HOLDS {
            clock.advance(1_000);
            let reserve = Action::Stock(StockAction::Reserve { quantity: 1 });
            let outcome = engine.command(*id, UserId(10 + i), key(format!("h{i}")), reserve).await.unwrap();
            assert!(matches!(outcome, Outcome::Stock(StockOutcome::Held(_))), "{outcome:?}");
        }
    }
    engine.shutdown().await;
    drop(engine);
    ids
}

fn verify(data: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stampede")).args(["verify", "--data"]).arg(data).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Gives entry `seq` of `sale` another hold id in its recorded outcome, and
/// rehashes it and every entry after it, as someone rewriting the file would.
fn rewrite_outcome_and_rehash(db: &Path, sale: u64, seq: u64) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let rows: Vec<(i64, i64, Vec<u8>)> = conn
        .prepare("SELECT seq, at_us, payload FROM entries WHERE sale = ?1 ORDER BY seq")
        .unwrap()
        .query_map([sale as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev: [u8; 32] = if seq == 0 {
        stampede_log::GENESIS_HASH
    } else {
        conn.query_row("SELECT hash FROM entries WHERE sale = ?1 AND seq = ?2", (sale as i64, seq as i64 - 1), |r| {
            r.get::<_, Vec<u8>>(0)
        })
        .unwrap()
        .try_into()
        .unwrap()
    };
    for (s, at_us, mut payload) in rows.into_iter().skip(seq as usize) {
        if s as u64 == seq {
            let mut record = stampede_engine::record::Record::decode(&payload).unwrap();
            let stampede_engine::record::Record::Cmd { out, .. } = &mut record else { panic!("not a command") };
            out.hold = Some(out.hold.expect("a hold's outcome") + 1);
            payload = record.encode();
        }
        let hash = chain_hash(&prev, sale, s as u64, at_us, &payload);
        conn.execute(
            "UPDATE entries SET payload = ?3, hash = ?4 WHERE sale = ?1 AND seq = ?2",
            (sale as i64, s, &payload, hash.as_slice()),
        )
        .unwrap();
        prev = hash;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_fails_on_an_outcome_rewritten_under_a_rehashed_chain() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let [first, second] = write_log(&data).await;
    let entries = 2 + HOLDS;

    let (ok, stdout, stderr) = verify(&data);
    assert!(ok, "the untouched log fails:\n{stdout}{stderr}");
    assert!(stdout.contains(&format!("verify sales=2 entries={} failed=0", 2 * entries)), "{stdout}");

    // Entry 4 of the second sale is its third hold.
    let seq = 4;
    rewrite_outcome_and_rehash(&data.join("log.sqlite"), second, seq);
    let mut log = SqliteLog::open(&data.join("log.sqlite")).unwrap();
    assert_eq!(log.verify_chain(second).unwrap().entries, entries, "the rewritten chain is a valid chain");
    drop(log);

    let (ok, stdout, stderr) = verify(&data);
    assert!(!ok, "verify passed a rewritten outcome:\n{stdout}");
    assert!(
        stdout.contains(&format!("sale {first}: {entries} entries, chain intact, outcomes reproduced")),
        "{stdout}"
    );
    let failure = format!("sale {second}: FAILED after {seq} entries checked: sale {second} seq {seq}: the rules give");
    assert!(stdout.contains(&failure), "{stdout}");
    assert!(stdout.contains(&format!("verify sales=2 entries={} failed=1", entries + seq)), "{stdout}");
    assert!(stderr.contains("1 sale(s) failed verification"), "{stderr}");
}

/// The ledger's stream (stream 0) is verified beside the sales, and an
/// outcome rewritten under a rehashed chain is caught there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_the_ledger_stream_and_catches_a_rewritten_transfer() {
    use stampede_core::{AccountId, LedgerOutcome, Money, Movement, Transfer, TransferBody, TransferCode, TransferId};
    use stampede_engine::record::ledger::{LedgerOutcomeV1, LedgerRecord};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_log(&data).await;
    let log = SqliteLog::open(&data.join("log.sqlite")).unwrap();
    let (engine, _) = Engine::start(Box::new(log), Arc::new(ManualClock::at(T0)), EngineConfig::default()).unwrap();
    let movement = |debit, credit, code| Movement {
        debit,
        credit,
        amount: Money::from_minor(100),
        code,
        refs: stampede_core::TransferRefs::default(),
    };
    let wallet = AccountId::Wallet(UserId(5));
    let transfers = [
        ("top", TransferBody::Single(movement(AccountId::World, wallet, TransferCode::TopUp))),
        ("pay", TransferBody::Single(movement(wallet, AccountId::Clearing, TransferCode::WalletPayment))),
    ];
    for (id, body) in transfers {
        let transfer = Transfer { id: TransferId::parse(id).unwrap(), body };
        assert_eq!(engine.ledger_command(transfer).await.unwrap().outcome, LedgerOutcome::Transferred);
    }
    engine.shutdown().await;
    drop(engine);

    let (ok, stdout, stderr) = verify(&data);
    assert!(ok, "the untouched log fails:\n{stdout}{stderr}");
    assert!(stdout.contains("ledger: 3 entries, chain intact, outcomes reproduced, books balance (net 0)"), "{stdout}");
    assert!(stdout.contains(&format!("verify sales=2 entries={} failed=0", 2 * (2 + HOLDS) + 3)), "{stdout}");

    // The payment (entry 2) recorded as refused, every hash from it recomputed.
    let conn = rusqlite::Connection::open(data.join("log.sqlite")).unwrap();
    let rows: Vec<(i64, i64, Vec<u8>, Vec<u8>)> = conn
        .prepare("SELECT seq, at_us, payload, hash FROM entries WHERE sale = 0 ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut prev: [u8; 32] = rows[1].3.clone().try_into().unwrap();
    let (seq, at_us, payload, _) = &rows[2];
    let mut record = LedgerRecord::decode(payload).unwrap();
    let LedgerRecord::Transfer { out, .. } = &mut record else { panic!("entry 2 is the payment") };
    *out = LedgerOutcomeV1::Voided { released: 100 };
    let payload = record.encode();
    prev = chain_hash(&prev, 0, *seq as u64, *at_us, &payload);
    conn.execute(
        "UPDATE entries SET payload = ?2, hash = ?3 WHERE sale = 0 AND seq = ?1",
        (seq, &payload, prev.as_slice()),
    )
    .unwrap();
    drop(conn);

    let (ok, stdout, _) = verify(&data);
    assert!(!ok, "verify passed a rewritten transfer:\n{stdout}");
    assert!(stdout.contains("ledger: FAILED after 2 entries checked: sale 0 seq 2: the rules give"), "{stdout}");
    assert!(stdout.contains("verify sales=2 entries="), "{stdout}");
}
