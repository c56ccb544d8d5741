//! Replay entries per second (issue 12: at least 1,000,000 on one core):
//! a sealed stock sale of 200,000 holds by 20,000 people, recorded by the
//! engine's own steps into a real SQLite log, then rebuilt the ways a server
//! and an auditor do, with no snapshot:
//!
//! - `recover`: what start-up does for a sale whose snapshots are gone (every
//!   link of the chain checked, every record decoded and applied);
//! - `audit`: what `stampede verify` does (the chain, then every recorded
//!   outcome reproduced, invariants recounted);
//! - `read`: the log's own read of the entries, the floor under both.
//!
//! `cargo bench -p stampede-engine --bench replay`

// A benchmark that cannot set up has nothing to measure: failing loudly is right.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use divan::counter::ItemsCount;
use stampede_core::{
    Action, Command, IdempotencyKey, Input, KindConfig, Sale, SaleConfig, StockAction, StockConfig, US_PER_S, UserId,
};
use stampede_engine::persons::PersonKey;
use stampede_engine::record::{Record, SEALED_RECORD_VERSION, new_sale_version};
use stampede_engine::{replay, step};
use stampede_log::{ChainTip, CommandLog, SqliteLog};

fn main() {
    divan::main();
}

const T0: i64 = 1_800_000_000 * US_PER_S;
const HOLDS: u64 = 200_000;
const PEOPLE: u64 = 20_000;
const SECRET: [u8; 32] = [3; 32];

/// The records compared: `json` as sales before log format v2 wrote them
/// (version 2), `binary` as new sales do (version 4).
const ENCODINGS: [&str; 2] = ["json", "binary"];

/// The filled log of an encoding, made once per run.
fn log_file(encoding: &str) -> &'static Path {
    static JSON: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    static BINARY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (cell, version) = match encoding {
        "json" => (&JSON, SEALED_RECORD_VERSION),
        _ => (&BINARY, new_sale_version(true)),
    };
    &cell
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("log.sqlite");
            fill(&path, version);
            (dir, path)
        })
        .1
}

fn fill(path: &Path, version: u16) {
    let mut log = SqliteLog::open(path).expect("log");
    let seal = PersonKey::from_secret(&SECRET).sale(1);
    let config = SaleConfig {
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
            per_person_limit: 20,
            order_quantity_max: 10,
            hold_ttl_us: 3600 * US_PER_S,
        }),
        queue: None,
    };
    let mut tip = ChainTip::genesis(1);
    let create = tip.append(T0, Record::create_as(&config, Some(&seal), version).encode());
    let mut sale = Sale::new(config);
    log.append(&[create], &[]).expect("create");
    let mut batch = Vec::new();
    for i in 0..HOLDS {
        let by = UserId(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % PEOPLE + 2);
        let key = IdempotencyKey::parse(&format!("{:032x}", u128::from(i) * 0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
            .expect("key");
        let input = Input::Command(Command {
            at_us: T0 + 1 + (i as i64) * 7,
            by,
            key: seal.key(by, &key),
            action: Action::Stock(StockAction::Reserve { quantity: 1 }),
        });
        let decided = step::decide_as(&mut sale, &mut tip, &input, Some(&seal), version);
        batch.push(decided.entry.expect("a command is logged"));
        if batch.len() == 256 {
            log.append(&batch, &[]).expect("append");
            batch.clear();
        }
    }
    log.append(&batch, &[]).expect("append");
}

const ENTRIES: u64 = HOLDS + 1;

#[divan::bench(args = ENCODINGS, sample_count = 10, sample_size = 1)]
fn recover(bencher: divan::Bencher, encoding: &str) {
    let path = log_file(encoding);
    let key = PersonKey::from_secret(&SECRET);
    bencher.counter(ItemsCount::new(ENTRIES)).bench_local(|| {
        let mut log = SqliteLog::open(path).expect("log");
        let r = replay::recover_with(&mut log, 1, Some(&key)).expect("recovered");
        assert_eq!(r.replayed, ENTRIES);
    });
}

#[divan::bench(args = ENCODINGS, sample_count = 10, sample_size = 1)]
fn audit(bencher: divan::Bencher, encoding: &str) {
    let path = log_file(encoding);
    let key = PersonKey::from_secret(&SECRET);
    bencher.counter(ItemsCount::new(ENTRIES)).bench_local(|| {
        let mut log = SqliteLog::open(path).expect("log");
        let a = replay::audit_with(&mut log, 1, Some(&key)).expect("audited");
        assert_eq!(a.entries, ENTRIES);
    });
}

#[divan::bench(args = ENCODINGS, sample_count = 10, sample_size = 1)]
fn read(bencher: divan::Bencher, encoding: &str) {
    let path = log_file(encoding);
    bencher.counter(ItemsCount::new(ENTRIES)).bench_local(|| {
        let mut log = SqliteLog::open(path).expect("log");
        let mut n = 0u64;
        log.replay(1, 0, &mut |_| {
            n += 1;
            Ok(())
        })
        .expect("read");
        assert_eq!(n, ENTRIES);
    });
}
