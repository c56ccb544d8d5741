//! `stampede serve --demo`: demo accounts and one sale of every kind, so a
//! newcomer has something to look at. Seeds only an empty data directory.

use std::net::SocketAddr;

use anyhow::Context;
use stampede_core::{
    AdmissionPolicy, DropConfig, KindConfig, QueueConfig, SaleConfig, SeatedConfig, SectionSpec, StockConfig, US_PER_S,
    UserId,
};
use stampede_engine::{Clock, SystemClock};
use stampede_server::AppState;
use stampede_store::Role;

pub const DEMO_PASSWORD: &str = "stampede-demo";
const ACCOUNTS: [(&str, &str, Role); 3] = [
    ("admin@demo.stampede", "Demo Admin", Role::Admin),
    ("organizer@demo.stampede", "김주최", Role::Organizer),
    ("buyer@demo.stampede", "Min Buyer", Role::Participant),
];

pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    if state.store.user_count() > 0 || !state.engine.sales().is_empty() {
        tracing::info!("data directory is not empty; demo data not added");
        return Ok(());
    }
    let mut organizer = UserId(0);
    for (email, name, role) in ACCOUNTS {
        let store = state.store.clone();
        let user = tokio::task::spawn_blocking(move || store.sign_up(email, DEMO_PASSWORD, name, role))
            .await
            .context("hashing a demo password")??;
        if role == Role::Organizer {
            organizer = UserId(user.id.0);
        }
    }
    let now = SystemClock.now_us();
    let sales = [
        SaleConfig {
            title: "Seoul Summer Festival 2027 — 3-day pass".into(),
            description: "General admission, limit 4 per person. Holds last 5 minutes.".into(),
            owner: organizer,
            currency: "KRW".into(),
            opens_at_us: Some(now),
            closes_at_us: None,
            kind: KindConfig::Stock(StockConfig {
                stock: 5000,
                price: 165_000,
                per_person_limit: 4,
                order_quantity_max: 4,
                hold_ttl_us: 300 * US_PER_S,
            }),
            queue: None,
        },
        SaleConfig {
            title: "Limited sneaker drop — first 100 win".into(),
            description: "Opens two minutes after the server starts. One click per person.".into(),
            owner: organizer,
            currency: "KRW".into(),
            opens_at_us: Some(now + 120 * US_PER_S),
            closes_at_us: None,
            kind: KindConfig::Drop(DropConfig { winners: 100 }),
            queue: None,
        },
        SaleConfig {
            title: "59-second giveaway — open now".into(),
            description: "The first 10 clickers win a coffee voucher.".into(),
            owner: organizer,
            currency: "KRW".into(),
            opens_at_us: Some(now),
            closes_at_us: None,
            kind: KindConfig::Drop(DropConfig { winners: 10 }),
            queue: None,
        },
        SaleConfig {
            title: "K-pop arena concert — presale with waiting room".into(),
            description: "Join the waiting room now: everyone who joins before opening is shuffled fairly \
                          at opening (check it with `stampede queue-order`). 100 people are let in every \
                          10 seconds; a pass lasts 10 minutes."
                .into(),
            owner: organizer,
            currency: "KRW".into(),
            opens_at_us: Some(now + 15 * 60 * US_PER_S),
            closes_at_us: None,
            kind: KindConfig::Stock(StockConfig {
                stock: 2000,
                price: 154_000,
                per_person_limit: 2,
                order_quantity_max: 2,
                hold_ttl_us: 300 * US_PER_S,
            }),
            queue: Some(QueueConfig {
                policy: AdmissionPolicy::Chunk { size: 100, every_us: 10 * US_PER_S },
                pass_ttl_us: 600 * US_PER_S,
                prequeue_opens_at_us: None,
                pow_bits: 12,
                places_per_address: 16,
                seed: rand::random(),
                pass_up_to_limit: true,
            }),
        },
        SaleConfig {
            title: "Orchestra night — reserved seats".into(),
            description: "Pick your seats on the live map, or let best-available find seats side by side; \
                          hold up to 4 for yourself and friends. Holds last 5 minutes."
                .into(),
            owner: organizer,
            currency: "KRW".into(),
            opens_at_us: Some(now),
            closes_at_us: None,
            kind: KindConfig::Seated(SeatedConfig {
                venue: demo_hall()?,
                per_person_limit: 4,
                seats_per_hold_max: 4,
                hold_ttl_us: 300 * US_PER_S,
            }),
            queue: None,
        },
    ];
    for config in sales {
        state.engine.create_sale(config).await.context("creating a demo sale")?;
    }
    Ok(())
}

/// A concert hall: a straight floor in front, two angled wings, a curved balcony.
fn demo_hall() -> anyhow::Result<stampede_core::Venue> {
    let block = |name: &str, tier: &str, price: u64, colour: &str, rows, seats, x, y, curve| SectionSpec {
        name: name.into(),
        tier: tier.into(),
        price,
        colour: colour.into(),
        rows,
        seats_per_row: seats,
        x,
        y,
        curve_degrees: curve,
        spacing: 10,
    };
    let specs = [
        block("Floor", "VIP", 180_000, "#c0392b", 12, 24, 0, 40, 0.0),
        block("Left wing", "R", 130_000, "#2e86c1", 10, 8, -220, 60, 0.0),
        block("Right wing", "R", 130_000, "#2e86c1", 10, 8, 220, 60, 0.0),
        block("Balcony", "S", 90_000, "#27ae60", 8, 40, 0, 200, 50.0),
    ];
    Ok(stampede_core::generate("Stampede Concert Hall", &specs)?)
}

pub fn print_welcome(addr: SocketAddr) {
    println!();
    println!("Demo data is ready. Every demo account's password is `{DEMO_PASSWORD}`:");
    for (email, _, role) in ACCOUNTS {
        println!("  {:<12} {email}", role.as_str());
    }
    println!();
    println!("Try it:");
    println!("  curl http://{addr}/api/sales");
    println!(
        "  TOKEN=$(curl -s -XPOST http://{addr}/api/auth/tokens -H 'content-type: application/json' \\\n    -d '{{\"email\":\"buyer@demo.stampede\",\"password\":\"{DEMO_PASSWORD}\"}}' | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')"
    );
    println!(
        "  curl -XPOST http://{addr}/api/sales/1/holds -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"quantity\":2}}'"
    );
    println!("  API guide: docs/API.md; OpenAPI: http://{addr}/api/openapi.json");
}
