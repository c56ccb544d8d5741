//! What the log costs on disk per stock hold (issue 12: at most 120 bytes,
//! every index included). A rush of 100,000 holds by 20,000 people, decided
//! and recorded by the engine's own steps as a server with pseudonyms does
//! (sealed people, sealed keys from UUIDs), appended in group-commit-sized
//! batches to a real SQLite log, then measured as the file's pages after a
//! checkpoint. Sizes are deterministic, so this asserts no timing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stampede_core::{
    Action, Command, IdempotencyKey, Input, KindConfig, Sale, SaleConfig, StockAction, StockConfig, US_PER_S, UserId,
};
use stampede_engine::persons::PersonKey;
use stampede_engine::record::{Record, SEALED_BINARY_RECORD_VERSION, SEALED_RECORD_VERSION, new_sale_version};
use stampede_engine::step;
use stampede_log::{ChainTip, CommandLog, SqliteLog};

const T0: i64 = 1_800_000_000 * US_PER_S;
const HOLDS: u64 = 100_000;
const PEOPLE: u64 = 20_000;
const BATCH: usize = 64;
/// The budget.
const BYTES_PER_HOLD_MAX: f64 = 120.0;

fn rush_sale() -> SaleConfig {
    SaleConfig {
        title: "rush".into(),
        description: String::new(),
        translations: Vec::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: Some(T0),
        closes_at_us: None,
        kind: KindConfig::Stock(StockConfig {
            stock: HOLDS,
            price: 10_000,
            per_person_limit: 10,
            order_quantity_max: 10,
            hold_ttl_us: 3600 * US_PER_S,
        }),
        queue: None,
    }
}

/// A client's idempotency key as most send one: a random-looking UUID.
fn uuid_key(i: u64) -> IdempotencyKey {
    let a = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let b = a.rotate_left(17) ^ 0xD1B5_4A32_D192_ED03;
    let hex = format!("{a:016x}{b:016x}");
    let text = format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]);
    IdempotencyKey::parse(&text).unwrap()
}

#[test]
fn a_stock_hold_costs_at_most_120_bytes_of_log() {
    let version = new_sale_version(true);
    assert_eq!(version, SEALED_BINARY_RECORD_VERSION);
    let binary = bytes_per_hold(version);
    // The same rush in the JSON records sales wrote before (version 2), for the record.
    let json = bytes_per_hold(SEALED_RECORD_VERSION);
    println!("bytes per stock hold: binary {binary:.1}, JSON {json:.1}");
    assert!(binary <= BYTES_PER_HOLD_MAX, "{binary:.1} bytes per stock hold (budget {BYTES_PER_HOLD_MAX})");
    assert!(binary < json / 2.0, "binary {binary:.1}, JSON {json:.1}");
}

/// Log bytes on disk per hold of the rush, its records at `version`.
fn bytes_per_hold(version: u16) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    let mut log = SqliteLog::open(&path).unwrap();
    let key = PersonKey::from_secret(&[3; 32]);
    let seal = key.sale(1);
    let mut tip = ChainTip::genesis(1);
    let create = tip.append(T0, Record::create_as(&rush_sale(), Some(&seal), version).encode());
    let mut sale = Sale::new(rush_sale());
    log.append(&[create], &[]).unwrap();
    let mut batch = Vec::with_capacity(BATCH);
    let mut held = 0;
    for i in 0..HOLDS {
        // Spread over the people as a hash would, a few µs apart.
        let by = UserId(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % PEOPLE + 2);
        let input = Input::Command(Command {
            at_us: T0 + 1 + (i as i64) * 7,
            by,
            key: seal.key(by, &uuid_key(i)),
            action: Action::Stock(StockAction::Reserve { quantity: 1 }),
        });
        let decided = step::decide_as(&mut sale, &mut tip, &input, Some(&seal), version);
        held += u64::from(matches!(decided.outcome, stampede_core::Outcome::Stock(_)));
        batch.push(decided.entry.unwrap());
        if batch.len() == BATCH {
            log.append(&batch, &[]).unwrap();
            batch.clear();
        }
    }
    log.append(&batch, &[]).unwrap();
    assert_eq!(held, HOLDS, "every command was a hold");
    assert_eq!(log.verify_chain(1).unwrap().entries, HOLDS + 1);
    drop(log);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let (busy, _, _): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
    assert_eq!(busy, 0, "the checkpoint completed");
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let wal = std::fs::metadata(dir.path().join("log.sqlite-wal")).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal, 0, "everything is in the database file");
    (pages * page_size) as f64 / HOLDS as f64
}
