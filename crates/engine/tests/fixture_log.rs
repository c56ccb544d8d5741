//! A log written before sale kinds became modules (`fixtures/v1-log.jsonl`,
//! every entry of a real `log.sqlite` as the engine wrote it: a stock sale
//! with edits, expiries, refunds and rejections, a drop, a seated sale with
//! best-available, friends, seat release and swap, a stock sale behind a
//! waiting room, and an archived sale) must stay readable the same way forever:
//! it audits clean (chain, every recorded outcome reproduced, invariants), and
//! every payload, decoded and replayed, encodes back to the very same bytes.
//!
//! The events the old build's core emitted for it, in order, are pinned too
//! (`fixtures/v1-log.events.txt`, their `Debug` text, made by that build):
//! events are a contract projections fold over.
//!
//! The fixture was written by `tests/write_fixture.rs` as of commit bbd612f
//! (the last build with flat actions), then removed: regenerating it with a
//! later build would pin nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use stampede_core::{Input, Sale, SaleConfig, SaleStatus};
use stampede_engine::record::{Record, unhex32};
use stampede_engine::replay;
use stampede_log::{CommandLog, Entry, SqliteLog};

const FIXTURE: &str = include_str!("fixtures/v1-log.jsonl");
const EVENTS: &str = include_str!("fixtures/v1-log.events.txt");

fn entries() -> BTreeMap<u64, Vec<Entry>> {
    let mut sales: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
    for line in FIXTURE.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let entry = Entry {
            sale: v["sale"].as_u64().unwrap(),
            seq: v["seq"].as_u64().unwrap(),
            at_us: v["at_us"].as_i64().unwrap(),
            payload: v["payload"].as_str().unwrap().as_bytes().to_vec(),
            hash: unhex32(v["hash"].as_str().unwrap()).unwrap(),
        };
        sales.entry(entry.sale).or_default().push(entry);
    }
    sales
}

#[test]
fn the_old_log_audits_clean_with_every_outcome_reproduced() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let sales = entries();
    assert_eq!(sales.len(), 5, "stock, drop, seated, waiting room, archived");
    for batch in sales.values() {
        log.append(batch, &[]).unwrap();
    }
    let mut finals = BTreeMap::new();
    for (&id, batch) in &sales {
        let audit = replay::audit(&mut log, id).unwrap_or_else(|e| panic!("sale {id}: {e}"));
        assert_eq!(audit.entries, batch.len() as u64);
        finals.insert(id, audit.final_state);
    }
    // What the old build's sales ended as, read off its own replay.
    let stock = finals[&1].stock().unwrap().view();
    assert_eq!((stock.total, stock.available, stock.held, stock.sold), (12, 9, 0, 3));
    assert_eq!(finals[&1].config().title, "Renamed");
    assert_eq!(finals[&1].schedule().status, SaleStatus::Closed);
    let drop = finals[&2].drop_book().unwrap().view();
    assert_eq!((drop.winners, drop.clicks, drop.won), (3, 5, 3));
    let seats = finals[&3].seats().unwrap().view();
    assert_eq!((seats.total, seats.available, seats.held, seats.sold), (36, 36, 0, 0));
    let room = finals[&4].waiting_room().unwrap().view();
    assert_eq!((room.joined, room.admitted), (6, 5));
    assert_eq!(finals[&4].stock().unwrap().view().sold, 4);
    assert!(finals[&5].archived());
}

#[test]
fn every_old_payload_decodes_replays_and_encodes_to_the_same_bytes() {
    let mut events = String::new();
    for (id, batch) in entries() {
        let mut sale: Option<Sale> = None;
        for e in batch {
            let record = Record::decode(&e.payload).unwrap_or_else(|err| panic!("sale {id} seq {}: {err}", e.seq));
            assert_eq!(record.encode(), e.payload, "sale {id} seq {}: the record re-encodes", e.seq);
            let again = match (&record, sale.as_mut()) {
                (Record::Create { config, .. }, None) => {
                    let config = SaleConfig::try_from(config.clone()).unwrap();
                    sale = Some(Sale::new(config.clone()));
                    Record::create(&config)
                }
                (_, Some(s)) => {
                    let (input, _) = record.to_input(e.at_us).unwrap().unwrap();
                    let applied = s.apply(&input);
                    for event in &applied.events {
                        events.push_str(&format!("{id} {} {event:?}\n", e.seq));
                    }
                    if let Input::Tick { .. } = input {
                        assert!(applied.changed, "sale {id} seq {}: a logged tick changes something", e.seq);
                    }
                    Record::from_input(&input, &applied.outcome)
                }
                _ => panic!("sale {id} seq {}: create only first", e.seq),
            };
            let text = String::from_utf8_lossy(&e.payload);
            assert_eq!(again.encode(), e.payload, "sale {id} seq {}: what this build writes for {text}", e.seq);
        }
    }
    // Ticket events came after the log was written (issue 13): this build
    // issues a ticket per paid unit as it replays the orders. Those of sale 1
    // must leave one valid ticket per unit it sold (3); the rest must be what
    // the old build emitted.
    let tickets = |kind: &str| events.lines().filter(|l| l.starts_with("1 ") && l.contains(kind)).count();
    assert_eq!(tickets("Ticket(Issued") - tickets("Ticket(Revoked"), 3, "one valid ticket per unit sold");
    let events: String = events.lines().filter(|l| !l.contains(" Ticket(")).map(|l| format!("{l}\n")).collect();
    for (line, (now, then)) in events.lines().zip(EVENTS.lines()).enumerate() {
        assert_eq!(now, then, "event {line}: this build emits another event than the build that wrote the log");
    }
    assert_eq!(events.lines().count(), EVENTS.lines().count(), "as many events as the old build emitted");
}

/// The same log spelled in the binary records new sales write (version 3):
/// every record of every kind round-trips through the frame, and the sales
/// replay, re-chained, to the very states the JSON log gives.
#[test]
fn the_old_log_respelled_in_binary_replays_to_the_same_sales() {
    use stampede_engine::record::BINARY_RECORD_VERSION;
    use stampede_log::ChainTip;
    let dir = tempfile::tempdir().unwrap();
    let mut log = SqliteLog::open(&dir.path().join("log.sqlite")).unwrap();
    let sales = entries();
    let mut binary_bytes = 0;
    let mut json_bytes = 0;
    for (&id, batch) in &sales {
        let mut tip = ChainTip::genesis(id);
        let respelled: Vec<Entry> = batch
            .iter()
            .map(|e| {
                let record = match Record::decode(&e.payload).unwrap() {
                    Record::Create { config, .. } => Record::Create { v: BINARY_RECORD_VERSION, config },
                    Record::Cmd { by, key, action, out, .. } => {
                        Record::Cmd { v: BINARY_RECORD_VERSION, by, key, action, out }
                    }
                    Record::Tick { .. } => Record::Tick { v: BINARY_RECORD_VERSION },
                };
                let bytes = record.encode();
                assert_eq!(Record::decode(&bytes).unwrap(), record, "sale {id} seq {}", e.seq);
                json_bytes += e.payload.len();
                binary_bytes += bytes.len();
                tip.append(e.at_us, bytes)
            })
            .collect();
        log.append(&respelled, &[]).unwrap();
    }
    assert!(binary_bytes * 2 < json_bytes, "binary {binary_bytes} bytes, JSON {json_bytes}");
    let mut json = SqliteLog::open(&dir.path().join("json.sqlite")).unwrap();
    for batch in sales.values() {
        json.append(batch, &[]).unwrap();
    }
    for &id in sales.keys() {
        let binary = replay::audit(&mut log, id).unwrap_or_else(|e| panic!("sale {id}: {e}"));
        let old = replay::audit(&mut json, id).unwrap();
        assert_eq!(binary.entries, old.entries);
        assert!(binary.final_state == old.final_state, "sale {id} ends otherwise in binary");
    }
}
