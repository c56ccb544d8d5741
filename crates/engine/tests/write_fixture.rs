//! Writes `tests/fixtures/v1-log/log.sqlite`: a real log written by the engine
//! before sale kinds became modules. Run by hand only, with the build whose
//! format the fixture is to pin:
//! `STAMPEDE_WRITE_FIXTURE=1 cargo test -p stampede-engine --test write_fixture`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use stampede_core::{
    Action, AdmissionPolicy, DropConfig, HoldId, IdempotencyKey, KindConfig, Outcome, QueueConfig, SaleConfig,
    SaleEdit, SeatArea, SeatId, SeatedConfig, SectionSpec, StockConfig, TermsEdit, US_PER_S, UserId,
};
use stampede_engine::{Clock, Engine, EngineConfig};
use stampede_log::{CommandLog, SqliteLog};

struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_us(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const T0: i64 = 1_800_000_000 * US_PER_S;

fn base(kind: KindConfig) -> SaleConfig {
    SaleConfig {
        translations: Vec::new(),
        title: "t".into(),
        description: "d".into(),
        owner: UserId(1),
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind,
        queue: None,
    }
}

fn stock() -> KindConfig {
    KindConfig::Stock(StockConfig {
        stock: 10,
        price: 1000,
        per_person_limit: 4,
        order_quantity_max: 3,
        hold_ttl_us: 60 * US_PER_S,
    })
}

struct W {
    engine: Engine,
    clock: Arc<ManualClock>,
    n: u64,
}

impl W {
    async fn cmd(&mut self, sale: u64, by: u64, action: Action) -> Outcome {
        self.n += 1;
        self.clock.0.fetch_add(1000, Ordering::SeqCst);
        let key = IdempotencyKey::parse(&format!("k{}", self.n)).unwrap();
        self.engine.command(sale, UserId(by), key, action).await.unwrap()
    }
    async fn again(&mut self, sale: u64, by: u64, key: &str, action: Action) -> Outcome {
        self.clock.0.fetch_add(1000, Ordering::SeqCst);
        let key = IdempotencyKey::parse(key).unwrap();
        self.engine.command(sale, UserId(by), key, action).await.unwrap()
    }
    fn pass(&self, us: i64) {
        self.clock.0.fetch_add(us, Ordering::SeqCst);
    }
    async fn read(&self, sale: u64) {
        self.engine.read(sale, |s| s.view()).await.unwrap();
    }
}

fn hold_of(o: &Outcome) -> HoldId {
    match o {
        Outcome::Held(h) => h.id,
        Outcome::SeatsHeld(h) => h.id,
        other => panic!("not a hold: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_fixture() {
    if std::env::var_os("STAMPEDE_WRITE_FIXTURE").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-log");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let clock = Arc::new(ManualClock(AtomicI64::new(T0)));
    let log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    let (engine, _) =
        Engine::start(Box::new(log), clock.clone(), EngineConfig { mailbox_len_max: 64, snapshot_every: 20 }).unwrap();
    let mut w = W { engine, clock, n: 0 };

    // 1. Stock: edits before and after opening, holds, confirm, cancel, refund,
    // expiry (inside a command and by a logged tick), rejections, a repeat.
    let mut c = base(stock());
    c.translations = vec![stampede_core::SaleText { lang: "en".into(), title: "T".into(), description: "D".into() }];
    let s = w.engine.create_sale(c).await.unwrap().id;
    w.cmd(s, 5, Action::Reserve { quantity: 1 }).await; // not open yet
    let edit = SaleEdit {
        title: Some("Stock sale".into()),
        description: None,
        opens_at_us: None,
        closes_at_us: Some(Some(T0 + 3600 * US_PER_S)),
        terms: Some(TermsEdit::Stock(StockConfig {
            stock: 12,
            price: 1500,
            per_person_limit: 4,
            order_quantity_max: 3,
            hold_ttl_us: 60 * US_PER_S,
        })),
    };
    w.cmd(s, 1, Action::Edit(Box::new(edit))).await;
    w.cmd(s, 1, Action::Open).await;
    w.cmd(s, 1, Action::Open).await; // already open
    let h1 = hold_of(&w.cmd(s, 10, Action::Reserve { quantity: 2 }).await);
    w.again(s, 10, "k-repeat", Action::Reserve { quantity: 3 }).await;
    w.again(s, 10, "k-repeat", Action::Reserve { quantity: 3 }).await; // repeat
    w.again(s, 10, "k-repeat", Action::Reserve { quantity: 1 }).await; // key reused
    w.cmd(s, 10, Action::Reserve { quantity: 1 }).await; // limit reached? 5 > 4
    w.cmd(s, 11, Action::Reserve { quantity: 9 }).await; // bad quantity
    let h3 = hold_of(&w.cmd(s, 11, Action::Reserve { quantity: 3 }).await);
    w.cmd(s, 10, Action::Confirm { hold: h1 }).await;
    w.cmd(s, 11, Action::Confirm { hold: h1 }).await; // not your hold
    w.cmd(s, 11, Action::Cancel { hold: h3 }).await;
    w.cmd(s, 11, Action::Cancel { hold: h3 }).await; // not active
    w.cmd(s, 10, Action::Refund { order: h1 }).await;
    w.cmd(s, 10, Action::Refund { order: h1 }).await; // already refunded
    w.cmd(s, 10, Action::Refund { order: HoldId(99) }).await; // unknown order
    let h4 = hold_of(&w.cmd(s, 12, Action::Reserve { quantity: 3 }).await);
    hold_of(&w.cmd(s, 13, Action::Reserve { quantity: 3 }).await);
    w.pass(61 * US_PER_S);
    w.cmd(s, 12, Action::Confirm { hold: h4 }).await; // expired inside the command
    let h6 = hold_of(&w.cmd(s, 14, Action::Reserve { quantity: 3 }).await);
    w.cmd(s, 14, Action::Confirm { hold: h6 }).await;
    hold_of(&w.cmd(s, 15, Action::Reserve { quantity: 2 }).await);
    w.pass(61 * US_PER_S);
    w.read(s).await; // a logged tick expires the hold
    w.cmd(s, 1, Action::Edit(Box::new(SaleEdit { title: Some("Renamed".into()), ..SaleEdit::default() }))).await;
    w.cmd(s, 1, Action::Edit(Box::new(SaleEdit { opens_at_us: Some(None), ..SaleEdit::default() }))).await; // not allowed
    w.cmd(s, 5, Action::Click).await; // wrong kind
    w.cmd(s, 5, Action::Join { nonce: 0, address: 1 }).await; // no waiting room
    w.cmd(s, 1, Action::Archive).await; // has orders
    w.cmd(s, 1, Action::Close).await;
    w.cmd(s, 5, Action::Reserve { quantity: 1 }).await; // closed

    // 2. Drop: clicks, a repeat, a late click after close, edits of its terms.
    let d = w.engine.create_sale(base(KindConfig::Drop(DropConfig { winners: 2 }))).await.unwrap().id;
    w.cmd(d, 20, Action::Click).await; // not open
    let e = SaleEdit { terms: Some(TermsEdit::Drop(DropConfig { winners: 3 })), ..SaleEdit::default() };
    w.cmd(d, 1, Action::Edit(Box::new(e))).await;
    w.cmd(d, 1, Action::Open).await;
    for by in 20..25 {
        w.cmd(d, by, Action::Click).await;
    }
    w.cmd(d, 21, Action::Click).await; // repeat returns the first
    w.cmd(d, 21, Action::Reserve { quantity: 1 }).await; // wrong kind
    w.cmd(d, 21, Action::Confirm { hold: HoldId(1) }).await; // wrong kind
    w.cmd(d, 1, Action::Close).await;
    w.cmd(d, 30, Action::Click).await; // closed
    w.cmd(d, 22, Action::Click).await; // a repeat after close still answers

    // 3. Seated: seats by hand and best available, friends, release, swap,
    // confirm, cancel, refund, expiry, rejections.
    let spec = |name: &str, tier: &str, price: u64, x: i32| SectionSpec {
        name: name.into(),
        tier: tier.into(),
        price,
        colour: "#336699".into(),
        rows: 3,
        seats_per_row: 6,
        x,
        y: 0,
        curve_degrees: 0.0,
        spacing: 10,
    };
    let venue = stampede_core::generate("Hall", &[spec("A", "R", 5000, 0), spec("B", "S", 3000, 200)]).unwrap();
    let seated = KindConfig::Seated(SeatedConfig {
        venue,
        per_person_limit: 4,
        seats_per_hold_max: 4,
        hold_ttl_us: 60 * US_PER_S,
    });
    let z = w.engine.create_sale(base(seated)).await.unwrap().id;
    let e = SaleEdit {
        terms: Some(TermsEdit::Seated { per_person_limit: 5, seats_per_hold_max: 4, hold_ttl_us: 90 * US_PER_S }),
        ..SaleEdit::default()
    };
    w.cmd(z, 1, Action::Edit(Box::new(e))).await;
    w.cmd(z, 1, Action::Open).await;
    let a = hold_of(&w.cmd(z, 40, Action::HoldSeats { seats: vec![SeatId(0), SeatId(1)], holders: vec![] }).await);
    w.cmd(z, 41, Action::HoldSeats { seats: vec![SeatId(1)], holders: vec![] }).await; // taken
    w.cmd(z, 41, Action::HoldSeats { seats: vec![SeatId(2), SeatId(2)], holders: vec![] }).await; // duplicate
    w.cmd(z, 41, Action::HoldSeats { seats: vec![SeatId(999)], holders: vec![] }).await; // unknown
    w.cmd(z, 41, Action::HoldSeats { seats: vec![SeatId(3)], holders: vec![UserId(1), UserId(2)] }).await; // bad holders
    let b = hold_of(
        &w.cmd(
            z,
            41,
            Action::HoldBest {
                area: SeatArea::Tier("S".into()),
                count: 3,
                holders: vec![UserId(41), UserId(42), UserId(43)],
            },
        )
        .await,
    );
    let c2 = hold_of(&w.cmd(z, 44, Action::HoldBest { area: SeatArea::Any, count: 2, holders: vec![] }).await);
    w.cmd(z, 44, Action::HoldBest { area: SeatArea::Section(7), count: 2, holders: vec![] }).await; // unknown section
    w.cmd(z, 44, Action::HoldBest { area: SeatArea::Section(0), count: 5, holders: vec![] }).await; // too many
    let d2 = hold_of(&w.cmd(z, 45, Action::HoldBest { area: SeatArea::Section(1), count: 4, holders: vec![] }).await);
    w.cmd(z, 40, Action::ReleaseSeat { order: a, seat: SeatId(1) }).await;
    w.cmd(z, 40, Action::SwapSeat { order: a, from: SeatId(0), to: SeatId(5) }).await;
    w.cmd(z, 40, Action::SwapSeat { order: a, from: SeatId(5), to: SeatId(c2_first(&w, z).await) }).await; // taken
    w.cmd(z, 40, Action::Confirm { hold: a }).await;
    w.cmd(z, 41, Action::Confirm { hold: b }).await;
    w.cmd(z, 41, Action::ReleaseSeat { order: b, seat: SeatId(0) }).await; // seat not in order
    w.cmd(z, 44, Action::Cancel { hold: c2 }).await;
    w.cmd(z, 41, Action::Refund { order: b }).await;
    w.cmd(z, 40, Action::SwapSeat { order: a, from: SeatId(5), to: SeatId(6) }).await; // swap in an order
    w.cmd(z, 40, Action::ReleaseSeat { order: a, seat: SeatId(6) }).await; // last seat: refunded
    w.pass(91 * US_PER_S);
    w.read(z).await; // d2 expires by a logged tick
    w.cmd(z, 45, Action::Confirm { hold: d2 }).await; // expired
    w.cmd(z, 45, Action::Reserve { quantity: 1 }).await; // wrong kind
    w.cmd(z, 1, Action::Close).await;

    // 4. A stock sale behind a waiting room: pre-queue, shuffle, admission,
    // passes used and expired, pow bits changed.
    let mut q = base(stock());
    q.opens_at_us = Some(T0 + 10_000 * US_PER_S);
    q.queue = Some(QueueConfig {
        policy: AdmissionPolicy::Active { max: 2 },
        pass_ttl_us: 30 * US_PER_S,
        prequeue_opens_at_us: None,
        pow_bits: 0,
        places_per_address: 2,
        seed: [7; 32],
        pass_up_to_limit: true,
    });
    let r = w.engine.create_sale(q).await.unwrap().id;
    w.cmd(r, 50, Action::Reserve { quantity: 1 }).await; // not open
    for by in 50..55 {
        w.cmd(r, by, Action::Join { nonce: 0, address: by / 2 }).await;
    }
    w.cmd(r, 55, Action::Join { nonce: 0, address: 25 }).await; // address limit (50, 51 share 25)
    w.cmd(r, 52, Action::Join { nonce: 0, address: 26 }).await; // joins again: same ticket
    w.cmd(r, 1, Action::SetPowBits { bits: 1 }).await;
    w.cmd(r, 1, Action::SetPowBits { bits: 0 }).await;
    let now = w.clock.0.load(Ordering::SeqCst);
    w.pass(T0 + 10_000 * US_PER_S - now + 1);
    w.read(r).await; // opens by the schedule: shuffle, first admissions
    let view = w.engine.read(r, |s| s.waiting_room().map(|q| q.entries().to_vec())).await.unwrap().unwrap();
    let admitted: Vec<u64> =
        view.iter().filter(|e| matches!(e.pass, stampede_core::PassState::Admitted { .. })).map(|e| e.by.0).collect();
    let waiting: Vec<u64> =
        view.iter().filter(|e| !matches!(e.pass, stampede_core::PassState::Admitted { .. })).map(|e| e.by.0).collect();
    w.cmd(r, waiting[0], Action::Reserve { quantity: 1 }).await; // not admitted
    let first = admitted[0];
    let h = hold_of(&w.cmd(r, first, Action::Reserve { quantity: 3 }).await);
    w.cmd(r, first, Action::Confirm { hold: h }).await;
    let h = hold_of(&w.cmd(r, first, Action::Reserve { quantity: 1 }).await);
    w.cmd(r, first, Action::Confirm { hold: h }).await; // pass used up: next admitted
    w.cmd(r, 60, Action::Join { nonce: 0, address: 60 }).await; // joins after opening
    w.pass(31 * US_PER_S);
    w.read(r).await; // passes expire, more admitted
    w.cmd(r, admitted[1], Action::Reserve { quantity: 1 }).await; // pass expired
    w.cmd(r, 1, Action::Close).await;

    // 5. Archived: a sale nobody bought from; then edits are refused.
    let x = w.engine.create_sale(base(KindConfig::Drop(DropConfig { winners: 1 }))).await.unwrap().id;
    w.cmd(x, 1, Action::Archive).await;
    w.cmd(x, 1, Action::Archive).await; // already archived
    w.cmd(x, 1, Action::Edit(Box::new(SaleEdit { title: Some("x".into()), ..SaleEdit::default() }))).await;

    w.engine.shutdown().await;
    drop(w);

    // The entries as they are in the log, payload bytes untouched.
    let mut log = SqliteLog::open(&dir.join("log.sqlite")).unwrap();
    let mut out = String::new();
    for sale in log.sales().unwrap() {
        stampede_engine::replay::audit(&mut log, sale).unwrap();
        log.replay(sale, 0, &mut |e| {
            let line = serde_json::json!({
                "sale": e.sale,
                "seq": e.seq,
                "at_us": e.at_us,
                "hash": stampede_engine::record::hex(&e.hash),
                "payload": String::from_utf8(e.payload.clone()).unwrap(),
            });
            out.push_str(&line.to_string());
            out.push('\n');
            Ok(())
        })
        .unwrap();
    }
    drop(log);
    std::fs::write(dir.with_extension("jsonl"), out).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn c2_first(w: &W, z: u64) -> u32 {
    // A seat best-available gave someone else: any taken seat but ours.
    w.engine
        .read(z, |s| {
            let b = s.seats().unwrap();
            (0..b.index().seat_count())
                .find(|i| !b.is_free(SeatId(*i)) && b.owner_of(SeatId(*i)) != Some(HoldId(1)))
                .unwrap()
        })
        .await
        .unwrap()
}
