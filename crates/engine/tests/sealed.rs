//! Sales whose people are sealed ([`stampede_engine::persons`]): a seated
//! sale behind a waiting room with a proof of work, seats held for a friend,
//! refusals, and a retried key. Its stored log names nobody; replayed on its
//! pseudonyms with no key (what a published log's verifier does) it
//! reproduces every outcome; with the key a restart recovers exactly the
//! state that was served and answers a retried key as before; without the
//! key the engine refuses to serve it; and each receipt proves its entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use stampede_clock::ManualClock;
use stampede_core::{
    Action, AdmissionPolicy, IdempotencyKey, KindConfig, Outcome, QueueConfig, Rejection, Row, SaleConfig, Seat,
    SeatId, SeatedAction, SeatedConfig, SeatedOutcome, Section, US_PER_S, UserId, Venue,
};
use stampede_engine::persons::PersonKey;
use stampede_engine::public::{LogHeader, LogLine, check_receipt};
use stampede_engine::record::Record;
use stampede_engine::replay::{self, LogVerifier, ReplayError};
use stampede_engine::{Engine, EngineConfig, StartError};
use stampede_log::{CommandLog, Entry, MemoryLog};

const T0: i64 = 1_800_000_000 * US_PER_S;
const POW_BITS: u8 = 4;
const ORGANIZER: u64 = 1;
const ALICE: u64 = 7;
const BOB: u64 = 8;

fn config() -> SaleConfig {
    let row = |r: i32| Row {
        label: format!("R{r}"),
        seats: (0..6).map(|k| Seat { label: (k + 1).to_string(), x: k, y: r }).collect(),
    };
    SaleConfig {
        title: "t".into(),
        description: String::new(),
        translations: Vec::new(),
        owner: UserId(ORGANIZER),
        currency: "KRW".into(),
        opens_at_us: None,
        closes_at_us: None,
        kind: KindConfig::Seated(SeatedConfig {
            venue: Venue {
                name: "Hall".into(),
                sections: vec![Section {
                    name: "A".into(),
                    tier: "R".into(),
                    price: 100,
                    colour: "#aa0000".into(),
                    rows: vec![row(0), row(1)],
                }],
            },
            per_person_limit: 4,
            seats_per_hold_max: 4,
            hold_ttl_us: 3600 * US_PER_S,
        }),
        queue: Some(QueueConfig {
            policy: AdmissionPolicy::Active { max: 10 },
            pass_ttl_us: 3600 * US_PER_S,
            prequeue_opens_at_us: None,
            pow_bits: POW_BITS,
            places_per_address: 1,
            seed: [9; 32],
            pass_up_to_limit: true,
        }),
    }
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::parse(s).unwrap()
}

fn entries(log: &mut dyn CommandLog, sale: u64) -> Vec<Entry> {
    let mut out = Vec::new();
    log.replay(sale, 0, &mut |e| {
        out.push(e);
        Ok(())
    })
    .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_sale_names_nobody_replays_on_pseudonyms_and_recovers_with_the_key() {
    let secret = PersonKey::from_secret(&[42; 32]);
    let log = MemoryLog::new();
    let disk = log.disk();
    let clock = Arc::new(ManualClock::at(T0));
    let sealed = EngineConfig { persons: Some(secret.clone()), ..EngineConfig::default() };
    let (engine, _) = Engine::start(Box::new(log), clock.clone(), sealed.clone()).unwrap();
    // The handle is dropped at once: a live handle keeps its sale's task (and shutdown) waiting.
    let id = {
        let sale = engine.create_sale(config()).await.unwrap();
        assert!(sale.sealed);
        sale.id
    };
    let commitment = stampede_core::commitment(&[9; 32]);
    let mut receipts = Vec::new();
    let signer = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let mut send = async |by: u64, k: &str, action: Action| {
        clock.advance(1_000);
        let acked = engine.command_logged(id, UserId(by), key(k), action).await.unwrap();
        receipts.push(acked.logged.as_ref().and_then(|place| place.receipt(&signer)).unwrap());
        acked.outcome
    };
    let solve = |by: u64| stampede_core::solve_pow(&commitment, UserId(by), POW_BITS);
    let wrong = (0u64..).find(|n| !stampede_core::pow_ok(&commitment, UserId(ALICE), *n, POW_BITS)).unwrap();
    assert_eq!(
        send(ALICE, "alice@example.com", Action::Join { nonce: wrong, address: 77 }).await,
        Outcome::Rejected(Rejection::BadProofOfWork { bits: POW_BITS })
    );
    assert!(matches!(
        send(ALICE, "a-join", Action::Join { nonce: solve(ALICE), address: 77 }).await,
        Outcome::Joined(_)
    ));
    // One place per address: Bob from Alice's address is refused, from his own he joins.
    assert_eq!(
        send(BOB, "b-join-1", Action::Join { nonce: solve(BOB), address: 77 }).await,
        Outcome::Rejected(Rejection::AddressLimitReached)
    );
    assert!(matches!(send(BOB, "b-join-2", Action::Join { nonce: solve(BOB), address: 78 }).await, Outcome::Joined(_)));
    assert_eq!(send(ORGANIZER, "open", Action::Open).await, Outcome::Opened);
    let for_bob = Action::Seated(SeatedAction::HoldSeats {
        seats: vec![SeatId(0), SeatId(1)],
        holders: vec![UserId(ALICE), UserId(BOB)],
    });
    let held = send(ALICE, "alice@example.com-hold", for_bob.clone()).await;
    assert!(matches!(held, Outcome::Seated(SeatedOutcome::Held(_))), "{held:?}");
    // The same key again is the same answer, not a second hold.
    assert_eq!(send(ALICE, "alice@example.com-hold", for_bob).await, held);
    let taken =
        send(BOB, "b-hold", Action::Seated(SeatedAction::HoldSeats { seats: vec![SeatId(1)], holders: vec![] })).await;
    assert!(matches!(taken, Outcome::Rejected(Rejection::SeatsTaken { .. })), "{taken:?}");
    assert_eq!(send(ORGANIZER, "close", Action::Close).await, Outcome::Closed);
    let served = engine.live(id).await.unwrap();
    engine.shutdown().await;
    drop(engine);

    // The stored log names nobody and keeps no key text.
    let mut reader = MemoryLog::open(&disk);
    let stored = entries(&mut reader, id);
    let seal = secret.sale(id);
    let mut senders = std::collections::BTreeSet::new();
    for e in &stored {
        // The bytes as stored, and what they say.
        let record = Record::decode(&e.payload).unwrap();
        let text = format!("{} {}", String::from_utf8_lossy(&e.payload), serde_json::to_string(&record).unwrap());
        assert!(!text.contains("alice@example.com"), "{text}");
        assert!(!text.contains("\"address\":77") && !text.contains("\"address\":78"), "{text}");
        match record {
            Record::Cmd { v, by, .. } => {
                assert_eq!(v, 4);
                senders.insert(by);
            }
            Record::Create { v, config } => assert_eq!((v, config.owner), (4, seal.person(UserId(ORGANIZER)).0)),
            Record::Tick { v } => assert_eq!(v, 4),
        }
    }
    let pseudonyms: std::collections::BTreeSet<u64> =
        [ORGANIZER, ALICE, BOB].iter().map(|u| seal.person(UserId(*u)).0).collect();
    assert_eq!(senders, pseudonyms);

    // No key: replayed on pseudonyms, every outcome reproduced (the address
    // limit, the friend's seat and the taken seat included).
    let audit = replay::audit(&mut reader, id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(audit.entries, stored.len() as u64);
    let mut verifier = LogVerifier::new(id);
    for e in &stored {
        verifier.feed(e).unwrap_or_else(|f| panic!("{f}"));
    }
    verifier.finish().unwrap();
    // The key: the state is exactly the one served.
    let with_key = replay::audit_with(&mut reader, id, Some(&secret)).unwrap();
    assert_eq!(stampede_engine::LiveView::of(&with_key.final_state).view, served.view);
    // A replay that serves refuses without the key.
    assert!(matches!(replay::recover(&mut reader, id), Err(ReplayError::Sealed { .. })));
    assert!(matches!(
        Engine::start(Box::new(MemoryLog::open(&disk)), clock.clone(), EngineConfig::default()),
        Err(StartError::Replay { source: ReplayError::Sealed { .. }, .. })
    ));

    // With the key a restart serves the same sale, and a retried key gets its first answer.
    let (engine, _) = Engine::start(Box::new(MemoryLog::open(&disk)), clock.clone(), sealed).unwrap();
    assert_eq!(engine.live(id).await.unwrap().view, served.view);
    let again = engine
        .command(
            id,
            UserId(ALICE),
            key("alice@example.com-hold"),
            Action::Seated(SeatedAction::HoldSeats {
                seats: vec![SeatId(0), SeatId(1)],
                holders: vec![UserId(ALICE), UserId(BOB)],
            }),
        )
        .await
        .unwrap();
    assert_eq!(again, held);
    engine.shutdown().await;

    // Every receipt proves its entry against the file's lines; another entry's does not pass for it.
    let mut file = vec![serde_json::to_string(&LogHeader::of(id)).unwrap()];
    file.extend(stored.iter().map(|e| String::from_utf8(LogLine::of(e).encode()).unwrap().trim_end().to_owned()));
    let key_b64 = receipts[0].key.clone();
    for r in &receipts {
        let proof = check_receipt(r, Some(&key_b64), &mut file.iter().cloned().map(Ok)).unwrap();
        assert_eq!(proof.entries, stored.len() as u64);
    }
    let mut moved = receipts[2].clone();
    moved.seq = receipts[3].seq;
    assert!(check_receipt(&moved, None, &mut file.iter().cloned().map(Ok)).is_err());
}
