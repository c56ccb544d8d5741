//! The verifier on bad logs: `replay::audit` (what `stampede verify` runs) is
//! handed logs the real engine wrote (a stock, a seated and a drop sale) and
//! then the same logs tampered with, and must name the exact failure: a
//! recorded outcome changed and the chain rehashed, a chain cut, a snapshot
//! changed, the books unbalanced. A verifier that accepted everything fails
//! every test here but the first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use stampede_core::{
    Action, AdmissionPolicy, Command, DropAction, DropConfig, IdempotencyKey, Input, KindConfig, Outcome, QueueConfig,
    Row, SNAPSHOT_FORMAT, Sale, SaleConfig, Seat, SeatArea, SeatId, SeatedAction, SeatedConfig, SeatedOutcome, Section,
    StockAction, StockConfig, StockOutcome, US_PER_S, UserId, Venue,
};
use stampede_engine::record::Record;
use stampede_engine::replay::{self, AuditFailure, ReplayError};
use stampede_engine::{Engine, EngineConfig, EngineError, ManualClock};
use stampede_log::{ChainFault, ChainTip, CommandLog, Entry, LogError, MemoryLog, SaleId, Snapshot};

const T0: i64 = 1_800_000_000 * US_PER_S;

/// A log as storage holds it after someone edited it behind the log's back:
/// whatever it was given, handed back as is, no link checked on the way in.
#[derive(Default)]
struct Tampered {
    entries: BTreeMap<SaleId, Vec<Entry>>,
    snapshots: BTreeMap<SaleId, Snapshot>,
}

impl Tampered {
    fn of(entries: Vec<Entry>, snapshot: Option<Snapshot>) -> Self {
        let sale = entries[0].sale;
        let mut log = Tampered::default();
        log.entries.insert(sale, entries);
        if let Some(s) = snapshot {
            log.snapshots.insert(sale, s);
        }
        log
    }
}

impl CommandLog for Tampered {
    fn append(&mut self, entries: &[Entry], snapshots: &[Snapshot]) -> Result<(), LogError> {
        for e in entries {
            self.entries.entry(e.sale).or_default().push(e.clone());
        }
        for s in snapshots {
            self.snapshots.insert(s.sale, s.clone());
        }
        Ok(())
    }

    fn sales(&mut self) -> Result<Vec<SaleId>, LogError> {
        Ok(self.entries.keys().copied().collect())
    }

    fn latest_snapshot(&mut self, sale: SaleId) -> Result<Option<Snapshot>, LogError> {
        Ok(self.snapshots.get(&sale).cloned())
    }

    fn replay(
        &mut self,
        sale: SaleId,
        from_seq: u64,
        visit: &mut dyn FnMut(Entry) -> Result<(), LogError>,
    ) -> Result<(), LogError> {
        for e in self.entries.get(&sale).into_iter().flatten().filter(|e| e.seq >= from_seq) {
            visit(e.clone())?;
        }
        Ok(())
    }
}

/// The entries of the three sales, as the engine wrote them.
struct GoodLog {
    stock: Vec<Entry>,
    seated: Vec<Entry>,
    drop: Vec<Entry>,
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).unwrap()
}

fn frame(kind: KindConfig) -> SaleConfig {
    SaleConfig {
        title: "t".into(),
        description: String::new(),
        translations: Vec::new(),
        owner: UserId(1),
        currency: "KRW".into(),
        // Opened by command, so no timer tick lands in the log.
        opens_at_us: None,
        closes_at_us: None,
        kind,
        queue: None,
    }
}

fn stock_kind() -> KindConfig {
    KindConfig::Stock(StockConfig {
        stock: 20,
        price: 10,
        per_person_limit: 4,
        order_quantity_max: 2,
        hold_ttl_us: 3600 * US_PER_S,
    })
}

fn venue() -> Venue {
    let row = |r: i32| Row {
        label: format!("R{r}"),
        seats: (0..6).map(|k| Seat { label: (k + 1).to_string(), x: k, y: r }).collect(),
    };
    Venue {
        name: "Hall".into(),
        sections: vec![Section {
            name: "A".into(),
            tier: "R".into(),
            price: 100,
            colour: "#aa0000".into(),
            rows: vec![row(0), row(1)],
        }],
    }
}

fn seated_kind() -> KindConfig {
    KindConfig::Seated(SeatedConfig {
        venue: venue(),
        per_person_limit: 4,
        seats_per_hold_max: 4,
        hold_ttl_us: 3600 * US_PER_S,
    })
}

fn entries_of(log: &mut dyn CommandLog, sale: SaleId) -> Vec<Entry> {
    let mut out = Vec::new();
    log.replay(sale, 0, &mut |e| {
        out.push(e);
        Ok(())
    })
    .unwrap();
    out
}

/// Runs the real engine on a memory log: a stock sale (holds, a confirm, a
/// cancel, a refusal), a seated sale (picked and best-available holds, a
/// confirm, a swap) and a drop (more clicks than places).
async fn good_log() -> GoodLog {
    let log = MemoryLog::new();
    let disk = log.disk();
    let clock = Arc::new(ManualClock::at(T0));
    let (engine, _) = Engine::start(Box::new(log), clock.clone(), EngineConfig::default()).unwrap();
    let run = |sale, by, k: &str, action| {
        let engine = &engine;
        let k = key(k);
        clock.advance(1_000);
        async move { engine.command(sale, UserId(by), k, action).await.unwrap() }
    };

    let stock = engine.create_sale(frame(stock_kind())).await.unwrap().id;
    assert_eq!(run(stock, 1, "open", Action::Open).await, Outcome::Opened);
    let mut holds = Vec::new();
    for i in 0..8u64 {
        match run(stock, 10 + i % 3, &format!("s{i}"), Action::Stock(StockAction::Reserve { quantity: 2 })).await {
            Outcome::Stock(StockOutcome::Held(h)) => holds.push((h.by, h.id)),
            // The third hold of 2 of users 10 and 11 is over their limit of 4.
            Outcome::Rejected(_) if i >= 6 => {}
            other => panic!("stock hold {i}: {other:?}"),
        }
    }
    let (by, id) = holds[0];
    assert!(matches!(
        run(stock, by.0, "c", Action::Confirm { hold: id }).await,
        Outcome::Stock(StockOutcome::Confirmed(_))
    ));
    let (by, id) = holds[1];
    assert!(matches!(
        run(stock, by.0, "x", Action::Cancel { hold: id }).await,
        Outcome::Stock(StockOutcome::Cancelled(_))
    ));

    let seated = engine.create_sale(frame(seated_kind())).await.unwrap().id;
    assert_eq!(run(seated, 1, "open", Action::Open).await, Outcome::Opened);
    let picked = SeatedAction::HoldSeats { seats: vec![SeatId(0), SeatId(1)], holders: vec![] };
    let Outcome::Seated(SeatedOutcome::Held(first)) = run(seated, 20, "p", Action::Seated(picked)).await else {
        panic!("picked seats not held");
    };
    let best = SeatedAction::HoldBest { area: SeatArea::Any, count: 2, holders: vec![] };
    assert!(matches!(run(seated, 21, "b", Action::Seated(best)).await, Outcome::Seated(SeatedOutcome::Held(_))));
    let taken = SeatedAction::HoldSeats { seats: vec![SeatId(1)], holders: vec![] };
    assert!(matches!(run(seated, 22, "t", Action::Seated(taken)).await, Outcome::Rejected(_)));
    let confirmed = run(seated, 20, "c", Action::Confirm { hold: first.id }).await;
    assert!(matches!(confirmed, Outcome::Seated(SeatedOutcome::Confirmed(_))));
    let swap = SeatedAction::SwapSeat { order: first.id, from: SeatId(0), to: SeatId(11) };
    assert!(matches!(run(seated, 20, "w", Action::Seated(swap)).await, Outcome::Seated(SeatedOutcome::SeatSwapped(_))));

    let lottery = engine.create_sale(frame(KindConfig::Drop(DropConfig { winners: 3 }))).await.unwrap().id;
    assert_eq!(run(lottery, 1, "open", Action::Open).await, Outcome::Opened);
    for u in 0..5 {
        run(lottery, 30 + u, "click", Action::Drop(DropAction::Click)).await;
    }
    engine.shutdown().await;
    drop(engine);

    let mut log = MemoryLog::open(&disk);
    GoodLog {
        stock: entries_of(&mut log, stock),
        seated: entries_of(&mut log, seated),
        drop: entries_of(&mut log, lottery),
    }
}

/// The sale's state right after entry `seq`, as a replay of the entries up to it gives it.
fn state_at(entries: &[Entry], seq: u64) -> Sale {
    let mut log = MemoryLog::new();
    log.append(&entries[..=seq as usize], &[]).unwrap();
    replay::recover(&mut log, entries[0].sale).unwrap().sale
}

fn snapshot_at(entries: &[Entry], seq: u64, state: Vec<u8>) -> Snapshot {
    let e = &entries[seq as usize];
    Snapshot { sale: e.sale, seq, hash: e.hash, format: SNAPSHOT_FORMAT, state }
}

/// Every entry rechained from the first through `CommandLog::append` into a
/// fresh log: what someone who rewrites a log and rehashes it produces.
fn rechained(entries: &[Entry]) -> MemoryLog {
    let mut tip = ChainTip::genesis(entries[0].sale);
    let rehashed: Vec<Entry> = entries.iter().map(|e| tip.append(e.at_us, e.payload.clone())).collect();
    let mut log = MemoryLog::new();
    log.append(&rehashed, &[]).expect("a rehashed chain is a valid chain");
    log
}

fn audit(log: &mut dyn CommandLog, sale: SaleId) -> Result<replay::SaleAudit, AuditFailure> {
    replay::audit(log, sale)
}

fn each_sale(good: &GoodLog) -> [(&'static str, &[Entry]); 3] {
    [("stock", &good.stock), ("seated", &good.seated), ("drop", &good.drop)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_untouched_log_passes_with_and_without_a_snapshot() {
    let good = good_log().await;
    for (name, entries) in each_sale(&good) {
        let n = entries.len() as u64;
        let sale = entries[0].sale;
        let mut log = Tampered::of(entries.to_vec(), None);
        let report = audit(&mut log, sale).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((report.entries, report.snapshot_checked), (n, None), "{name}");
        // A true snapshot halfway is checked and passes.
        let half = n / 2;
        let state = replay::encode_snapshot(&state_at(entries, half)).unwrap();
        let mut log = Tampered::of(entries.to_vec(), Some(snapshot_at(entries, half, state)));
        let report = audit(&mut log, sale).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((report.entries, report.snapshot_checked), (n, Some(half)), "{name}");
        report.final_state.check_invariants().unwrap();
    }
    assert_eq!(good.stock.len(), 2 + 8 + 2, "create, open, 8 reserves, confirm, cancel");
    assert_eq!(good.seated.len(), 2 + 3 + 2, "create, open, 3 holds, confirm, swap");
    assert_eq!(good.drop.len(), 2 + 5, "create, open, 5 clicks");
}

/// The first command entry whose recorded outcome `pick` chooses, and the
/// same log with that outcome changed by `change` and the chain rehashed.
fn flip_outcome(
    entries: &[Entry],
    pick: impl Fn(&stampede_engine::record::OutcomeV1) -> bool,
    change: impl Fn(&mut stampede_engine::record::OutcomeV1),
) -> (u64, Vec<Entry>) {
    let mut forged = entries.to_vec();
    let e = forged
        .iter_mut()
        .find(|e| matches!(Record::decode(&e.payload).unwrap(), Record::Cmd { ref out, .. } if pick(out)))
        .expect("an entry with such an outcome");
    let Record::Cmd { v, by, key, action, mut out } = Record::decode(&e.payload).unwrap() else { unreachable!() };
    let before = out.clone();
    change(&mut out);
    assert_ne!(before, out, "the change changes something");
    e.payload = Record::Cmd { v, by, key, action, out }.encode();
    (e.seq, forged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_changed_and_rehashed_is_a_divergence_at_its_seq() {
    let good = good_log().await;
    let cases = [
        // A hold answered with another hold's id.
        flip_outcome(&good.stock, |o| o.kind == "held", |o| o.hold = o.hold.map(|h| h + 1)),
        // A refusal recorded as a grant.
        flip_outcome(
            &good.stock,
            |o| o.kind == "rejected",
            |o| {
                o.kind = "held".into();
                o.reason = None;
                o.hold = Some(99);
                o.quantity = Some(2);
            },
        ),
        // A seated hold recorded with seats it did not get.
        flip_outcome(&good.seated, |o| o.kind == "seats_held", |o| o.seats = Some(vec![4, 5])),
        // A swap recorded as never having happened.
        flip_outcome(&good.seated, |o| o.kind == "seat_swapped", |o| o.kind = "seats_confirmed".into()),
        // A drop click moved up the ranking.
        flip_outcome(&good.drop, |o| o.rank == Some(4), |o| o.rank = Some(1)),
    ];
    for (seq, forged) in cases {
        let sale = forged[0].sale;
        let mut log = rechained(&forged);
        // The chain alone cannot tell: it is a valid chain.
        assert_eq!(log.verify_chain(sale).unwrap().entries, forged.len() as u64);
        match audit(&mut log, sale) {
            Err(AuditFailure { checked, source: ReplayError::Diverged { sale: s, seq: at, recorded, replayed } }) => {
                assert_eq!((s, at, checked), (sale, seq, seq), "recorded {recorded}, replayed {replayed}");
                assert_ne!(recorded, replayed);
            }
            Err(other) => panic!("sale {sale} seq {seq}: expected a divergence, got {other} ({:?})", other.source),
            Ok(_) => panic!("sale {sale}: a log with outcome {seq} changed passed the audit"),
        }
    }
}

#[track_caller]
fn assert_chain_broken(log: &mut dyn CommandLog, sale: SaleId, want_seq: u64, want_fault: ChainFault, good_links: u64) {
    match audit(log, sale) {
        Err(AuditFailure { checked, source: ReplayError::Log(LogError::ChainBroken { sale: s, seq, fault }) }) => {
            assert_eq!((s, seq, fault, checked), (sale, want_seq, want_fault, good_links));
        }
        Err(other) => panic!("expected the chain broken at {want_seq}, got {other} ({:?})", other.source),
        Ok(_) => panic!("a cut chain passed the audit"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_chain_is_reported_at_the_first_bad_link_with_the_good_links_before_it() {
    let good = good_log().await;
    for (name, entries) in each_sale(&good) {
        let sale = entries[0].sale;
        let k = entries.len() as u64 / 2;
        println!("{name}: cutting at {k}");

        // An entry removed: the next one is not the next link.
        let mut removed = entries.to_vec();
        removed.remove(k as usize);
        assert_chain_broken(&mut Tampered::of(removed, None), sale, k + 1, ChainFault::SeqMismatch { expected: k }, k);

        // The last entry removed leaves a shorter, valid chain: nothing in
        // the log says it had one more entry (that is what receipts are for).
        let mut truncated = entries.to_vec();
        truncated.pop();
        assert_eq!(audit(&mut Tampered::of(truncated, None), sale).unwrap().entries, entries.len() as u64 - 1);

        // One payload byte changed, not rehashed.
        let mut changed = entries.to_vec();
        let payload = &mut changed[k as usize].payload;
        let at = payload.len() / 2;
        payload[at] ^= 0x01;
        assert_chain_broken(&mut Tampered::of(changed, None), sale, k, ChainFault::HashMismatch, k);

        // The time of an entry moved, not rehashed.
        let mut moved = entries.to_vec();
        moved[k as usize].at_us -= 1;
        assert_chain_broken(&mut Tampered::of(moved, None), sale, k, ChainFault::HashMismatch, k);

        // An entry changed and rehashed, the chain after it left alone: the
        // next link no longer follows.
        let mut relinked = entries.to_vec();
        let prev = if k == 0 { stampede_log::GENESIS_HASH } else { relinked[k as usize - 1].hash };
        let e = &mut relinked[k as usize];
        e.at_us += 1;
        e.hash = stampede_log::chain_hash(&prev, e.sale, e.seq, e.at_us, &e.payload);
        assert_chain_broken(&mut Tampered::of(relinked, None), sale, k + 1, ChainFault::HashMismatch, k + 1);
    }
}

#[track_caller]
fn assert_snapshot_mismatch(log: &mut dyn CommandLog, sale: SaleId, want_seq: u64) {
    match audit(log, sale) {
        Err(AuditFailure { checked, source: ReplayError::SnapshotMismatch { sale: s, seq } }) => {
            // The entries up to the snapshot were replayed and found right.
            assert_eq!((s, seq, checked), (sale, want_seq, want_seq + 1));
        }
        Err(other) => panic!("expected a snapshot mismatch, got {other} ({:?})", other.source),
        Ok(_) => panic!("a wrong snapshot passed the audit"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_snapshot_is_a_snapshot_mismatch() {
    let good = good_log().await;
    for (name, entries) in each_sale(&good) {
        let sale = entries[0].sale;
        let at = entries.len() as u64 - 2;
        println!("{name}: snapshot at {at}");
        let true_state = replay::encode_snapshot(&state_at(entries, at)).unwrap();

        // Bytes of the state changed: it no longer decodes, or decodes to something else.
        for (i, bit) in [(0, 0x01), (true_state.len() / 2, 0x10), (true_state.len() - 1, 0x80)] {
            let mut state = true_state.clone();
            state[i] ^= bit;
            assert_snapshot_mismatch(
                &mut Tampered::of(entries.to_vec(), Some(snapshot_at(entries, at, state))),
                sale,
                at,
            );
        }
        let mut cut = true_state.clone();
        cut.truncate(cut.len() / 2);
        assert_snapshot_mismatch(&mut Tampered::of(entries.to_vec(), Some(snapshot_at(entries, at, cut))), sale, at);

        // A state that decodes, a true state of this sale, but one entry
        // older than the entry the snapshot names.
        let stale = replay::encode_snapshot(&state_at(entries, at - 1)).unwrap();
        assert_ne!(stale, true_state);
        assert_snapshot_mismatch(&mut Tampered::of(entries.to_vec(), Some(snapshot_at(entries, at, stale))), sale, at);

        // The true state under the hash of another entry.
        let mut wrong_hash = snapshot_at(entries, at, true_state.clone());
        wrong_hash.hash = entries[at as usize - 1].hash;
        assert_snapshot_mismatch(&mut Tampered::of(entries.to_vec(), Some(wrong_hash)), sale, at);
    }
}

/// The state a snapshot would hold with one more unit available than the
/// stock allows: it decodes, and its books do not balance.
fn unbalanced(sale: &Sale) -> Sale {
    let mut value = serde_json::to_value(sale).unwrap();
    let shown = value.to_string();
    let available =
        value.pointer_mut("/book/Stock/available").unwrap_or_else(|| panic!("no available count in {shown}"));
    *available = serde_json::json!(available.as_u64().unwrap() + 1);
    serde_json::from_value(value).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbalanced_snapshot_is_refused_by_the_audit_and_set_aside_by_recovery() {
    let good = good_log().await;
    let entries = &good.stock;
    let sale = entries[0].sale;
    let at = entries.len() as u64 - 1;
    let broken = unbalanced(&state_at(entries, at));
    let problem = broken.check_invariants().unwrap_err();
    assert!(problem.contains("oversold"), "{problem}");
    let snapshot = snapshot_at(entries, at, replay::encode_snapshot(&broken).unwrap());

    // The audit never takes a snapshot's state for the truth: it replays
    // from the first entry and compares, so the snapshot is a mismatch, and
    // the invariant recount never sees the bad books.
    assert_snapshot_mismatch(&mut Tampered::of(entries.clone(), Some(snapshot.clone())), sale, at);

    // Start-up recovery recounts the snapshot it would start from, sets this
    // one aside, and replays the log in full: the sale it serves balances.
    let mut log = MemoryLog::new();
    log.append(entries, &[snapshot]).unwrap();
    let recovered = replay::recover(&mut log, sale).unwrap();
    assert_eq!(recovered.from_snapshot_seq, None, "an unbalanced snapshot was trusted");
    assert_eq!(recovered.sale.check_invariants(), Ok(()));
}

/// A stock sale with a waiting room whose passes last up to the per-person
/// limit, and a limit of 0: the API refuses such a sale (the limit is 1 at
/// least), and so do the engine and replay, through the core's one check of
/// a sale's terms (`SaleConfig::check`). Before that check, a log's `create`
/// record was replayed as written and only the invariant recount noticed.
fn limitless_room() -> SaleConfig {
    let mut config = frame(KindConfig::Stock(StockConfig {
        stock: 5,
        price: 10,
        per_person_limit: 0,
        order_quantity_max: 1,
        hold_ttl_us: 60 * US_PER_S,
    }));
    config.queue = Some(QueueConfig {
        policy: AdmissionPolicy::Active { max: 10 },
        pass_ttl_us: 600 * US_PER_S,
        prequeue_opens_at_us: None,
        pow_bits: 0,
        places_per_address: 10,
        seed: [7; 32],
        pass_up_to_limit: true,
    });
    config
}

#[test]
fn a_create_record_with_terms_the_rules_cannot_keep_is_refused_at_its_seq() {
    // Written with the core itself, as the engine writes: every recorded
    // outcome is the one the rules give, and the chain is whole.
    let config = limitless_room();
    let mut sale = Sale::new(config.clone());
    let mut tip = ChainTip::genesis(1);
    let mut entries = vec![tip.append(T0, Record::create(&config).encode())];
    let inputs = [(1, "open", Action::Open), (40, "join", Action::Join { nonce: 0, address: 1 })];
    for (i, (by, k, action)) in inputs.into_iter().enumerate() {
        let at_us = T0 + 1 + i as i64;
        let input = Input::Command(Command { at_us, by: UserId(by), key: key(k), action });
        let applied = sale.apply(&input);
        entries.push(tip.append(at_us, Record::from_input(&input, &applied.outcome).encode()));
    }
    assert!(sale.check_invariants().is_err(), "the rules kept the books on this config after all");
    match audit(&mut Tampered::of(entries.clone(), None), 1) {
        Err(AuditFailure { checked, source: ReplayError::BadTerms { sale: 1, seq, problem } }) => {
            assert_eq!((seq, checked), (0, 0), "{problem}");
            assert_eq!(problem.field, "per_person_limit");
        }
        Err(other) => panic!("expected terms refused at the create record, got {other} ({:?})", other.source),
        Ok(_) => panic!("the audit passed a sale whose books it could not recount"),
    }
    // Starting from such a log fails the same way, rather than serving it.
    match replay::recover(&mut Tampered::of(entries, None), 1) {
        Err(ReplayError::BadTerms { sale: 1, seq: 0, problem }) => assert_eq!(problem.field, "per_person_limit"),
        Err(other) => panic!("expected terms refused on recovery, got {other}"),
        Ok(_) => panic!("a sale whose terms the rules cannot keep was recovered"),
    }
}

#[tokio::test]
async fn the_engine_refuses_to_create_a_sale_whose_terms_the_rules_cannot_keep() {
    let log = MemoryLog::new();
    let disk = log.disk();
    let (engine, _) = Engine::start(Box::new(log), Arc::new(ManualClock::at(T0)), EngineConfig::default()).unwrap();
    match engine.create_sale(limitless_room()).await {
        Err(EngineError::BadTerms(problem)) => assert_eq!(problem.field, "per_person_limit"),
        Err(other) => panic!("expected the terms refused, got {other}"),
        Ok(_) => panic!("the engine created a sale with a per-person limit of 0"),
    }
    assert!(engine.sales().is_empty(), "a refused sale was registered");
    assert!(MemoryLog::open(&disk).sales().unwrap().is_empty(), "a refused sale was logged");
}
