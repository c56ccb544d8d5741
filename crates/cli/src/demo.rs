//! `stampede serve --demo`: demo accounts and one sale of every kind, so a
//! newcomer has something to look at, and a buyer with money on their wallet
//! to pay with. Seeds only an empty data directory.

use std::net::SocketAddr;

use anyhow::Context;
use stampede_core::{
    AccountId, AdmissionPolicy, DropConfig, KindConfig, LedgerOutcome, Money, Movement, QueueConfig, SaleConfig,
    SaleText, SeatedConfig, SectionSpec, StockConfig, Transfer, TransferBody, TransferCode, TransferId, TransferRefs,
    US_PER_S, UserId,
};
use stampede_engine::{Clock, SystemClock};
use stampede_server::AppState;
use stampede_store::Role;

pub const DEMO_PASSWORD: &str = "stampede-demo";
/// What the demo buyer finds on their wallet: ₩1,000,000, granted by the demo admin.
pub const DEMO_BUYER_GRANT: u64 = 1_000_000;
const ACCOUNTS: [(&str, &str, Role); 3] = [
    ("admin@demo.stampede", "Demo Admin", Role::Admin),
    ("organizer@demo.stampede", "김주최", Role::Organizer),
    ("buyer@demo.stampede", "Min Buyer", Role::Participant),
];

/// The Korean title and description of a demo sale (pages show them to Korean viewers).
fn korean(title: &str, description: &str) -> Vec<SaleText> {
    vec![SaleText { lang: "ko".into(), title: title.into(), description: description.into() }]
}

pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    if state.store.user_count() > 0 || !state.engine.sales().is_empty() {
        tracing::info!("data directory is not empty; demo data not added");
        return Ok(());
    }
    let (mut organizer, mut admin, mut buyer) = (UserId(0), UserId(0), UserId(0));
    for (email, name, role) in ACCOUNTS {
        let store = state.store.clone();
        let user = tokio::task::spawn_blocking(move || store.sign_up(email, DEMO_PASSWORD, name, role))
            .await
            .context("hashing a demo password")??;
        match role {
            Role::Organizer => organizer = UserId(user.id.0),
            Role::Admin => admin = UserId(user.id.0),
            Role::Participant => buyer = UserId(user.id.0),
        }
    }
    grant_demo_buyer(state, admin, buyer).await?;
    for config in demo_sales(organizer, SystemClock.now_us())? {
        state.engine.create_sale(config).await.context("creating a demo sale")?;
    }
    Ok(())
}

/// Puts [`DEMO_BUYER_GRANT`] on the demo buyer's wallet: a logged grant by
/// the demo admin, as `POST /api/admin/wallets/{user}/grant` makes one.
async fn grant_demo_buyer(state: &AppState, admin: UserId, buyer: UserId) -> anyhow::Result<()> {
    let movement = Movement {
        debit: AccountId::World,
        credit: AccountId::Wallet(buyer),
        amount: Money::from_minor(DEMO_BUYER_GRANT),
        code: TransferCode::Grant,
        refs: TransferRefs { order: None, payment: None, actor: Some(admin) },
    };
    let id = TransferId::parse(&format!("grant:demo:{}", buyer.0)).context("the demo grant's id")?;
    let acked = state
        .engine
        .ledger_command(Transfer { id, body: TransferBody::Single(movement) })
        .await
        .context("granting the demo buyer")?;
    anyhow::ensure!(acked.outcome == LedgerOutcome::Transferred, "the demo grant was refused: {:?}", acked.outcome);
    Ok(())
}

/// One sale of every kind, owned by `organizer`, timed from `now`.
fn demo_sales(organizer: UserId, now: i64) -> anyhow::Result<Vec<SaleConfig>> {
    Ok(vec![
        SaleConfig {
            title: "Seoul Summer Festival 2027 — 3-day pass".into(),
            description: "General admission, limit 4 per person. Holds last 5 minutes.".into(),
            translations: korean(
                "서울 썸머 페스티벌 2027 — 3일권",
                "자유 입장, 1인 4매까지. 선점은 5분 동안 유지됩니다.",
            ),
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
            description: "Opens two minutes after the server starts and closes an hour later. One click per person."
                .into(),
            translations: korean(
                "한정판 스니커즈 드롭 — 선착순 100명",
                "서버가 시작되고 2분 뒤에 열리고 1시간 뒤에 닫힙니다. 한 사람당 한 번만 클릭할 수 있습니다.",
            ),
            owner: organizer,
            currency: "KRW".into(),
            opens_at_us: Some(now + 120 * US_PER_S),
            closes_at_us: Some(now + 120 * US_PER_S + 3600 * US_PER_S),
            kind: KindConfig::Drop(DropConfig { winners: 100 }),
            queue: None,
        },
        SaleConfig {
            title: "Coffee giveaway — open now".into(),
            description: "The first 10 clickers win a coffee voucher. Closes 30 minutes after the server starts."
                .into(),
            translations: korean(
                "커피 쿠폰 증정 — 지금 진행 중",
                "먼저 클릭한 10명에게 커피 쿠폰을 드립니다. 서버가 시작되고 30분 뒤에 닫힙니다.",
            ),
            owner: organizer,
            currency: "KRW".into(),
            opens_at_us: Some(now),
            closes_at_us: Some(now + 30 * 60 * US_PER_S),
            kind: KindConfig::Drop(DropConfig { winners: 10 }),
            queue: None,
        },
        SaleConfig {
            title: "K-pop arena concert — presale with waiting room".into(),
            description: "Join the waiting room now: everyone who joins before opening gets a fair random \
                          place at opening, drawn from a seed whose fingerprint is shown in advance. 100 people \
                          are let in every 10 seconds; a pass lasts 10 minutes."
                .into(),
            translations: korean(
                "K-pop 아레나 콘서트 — 대기실이 있는 선예매",
                "지금 대기실에 들어오세요. 오픈 전에 들어온 모든 분은 오픈할 때 공정한 무작위 순번을 받습니다 \
                 (순번을 정하는 시드의 지문을 미리 공개합니다). 10초마다 100명씩 입장하며, 입장권은 10분 동안 유효합니다.",
            ),
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
            translations: korean(
                "오케스트라의 밤 — 지정석",
                "실시간 좌석 배치도에서 좌석을 고르거나, 최적 좌석 찾기로 나란히 붙은 좌석을 찾으세요. \
                 본인과 친구를 위해 최대 4석까지 선점할 수 있습니다. 선점은 5분 동안 유지됩니다.",
            ),
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
    ])
}

/// A concert hall: a straight floor in front, a wing on each side, a curved
/// balcony behind. Section names are in both languages, as signs in a
/// Korean hall are. The balcony's ends curve towards the stage, so it starts
/// far enough back that its box clears the floor and the wings (the core
/// refuses overlapping sections).
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
        block("플로어 Floor", "VIP", 180_000, "#c0392b", 12, 24, 0, 40, 0.0),
        block("왼쪽 윙 Left wing", "R", 130_000, "#2e86c1", 10, 8, -220, 60, 0.0),
        block("오른쪽 윙 Right wing", "R", 130_000, "#2e86c1", 10, 8, 220, 60, 0.0),
        block("발코니 Balcony", "S", 90_000, "#27ae60", 8, 40, 0, 250, 50.0),
    ];
    Ok(stampede_core::generate("스탬피드 콘서트홀 Stampede Concert Hall", &specs)?)
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
    println!(
        "  curl -XPOST http://{addr}/api/sales/1/holds/1/pay -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"provider\":\"wallet\"}}'"
    );
    println!(
        "  (the demo buyer's wallet holds ₩1,000,000: curl http://{addr}/api/me/wallet -H \"authorization: Bearer $TOKEN\")"
    );
    println!("  API guide: docs/API.md; OpenAPI: http://{addr}/api/openapi.json");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_sales_read_in_korean_close_and_fit_their_hall() -> anyhow::Result<()> {
        // demo_sales builds the hall, so an overlapping hall fails here.
        let sales = demo_sales(UserId(2), 1_000_000 * US_PER_S)?;
        assert_eq!(sales.len(), 5);
        for s in &sales {
            let (title, description) = s.text_in("ko");
            assert!(title != s.title && description != s.description, "{} has no Korean text", s.title);
            assert!(!s.description.contains('`') && !description.contains('`'), "no commands for buyers: {}", s.title);
            if matches!(s.kind, KindConfig::Drop(_)) {
                assert!(s.closes_at_us.is_some(), "the drop {} never closes", s.title);
            }
        }
        Ok(())
    }
}
