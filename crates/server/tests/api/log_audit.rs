//! /readyz and the background audit of the log: a server that started on a log
//! damaged before its newest snapshot reports itself unready once the audit
//! finds the damage.

use stampede_core::StockAction;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use stampede_core::{Action, IdempotencyKey, KindConfig, SaleConfig, StockConfig, US_PER_S, UserId};
use stampede_engine::{EngineConfig, LogAudit};
use stampede_server::routes::system::readyz;
use stampede_server::{App, AppState, ServerConfig};

fn open(dir: &std::path::Path) -> App {
    let config = ServerConfig {
        data_dir: dir.to_path_buf(),
        admin_token: None,
        connections_max: 100,
        public_url: None,
        metrics: true,
        engine: EngineConfig { snapshot_every: 5, ..EngineConfig::default() },
    };
    App::open_with_clock(&config, Arc::new(stampede_engine::SystemClock)).expect("App::open")
}

async fn audited(state: &AppState) -> LogAudit {
    tokio::time::timeout(Duration::from_secs(30), state.engine.log_audit_finished())
        .await
        .expect("the audit ends within 30 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_when_the_background_audit_finds_the_log_damaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = open(dir.path());
    let engine = app.state.engine.clone();
    let sale = engine
        .create_sale(SaleConfig {
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
                per_person_limit: 100,
                order_quantity_max: 10,
                hold_ttl_us: 3600 * US_PER_S,
            }),
            queue: None,
        })
        .await
        .expect("create")
        .id;
    engine.command(sale, UserId(1), IdempotencyKey::parse("open").expect("key"), Action::Open).await.expect("open");
    for i in 0..20 {
        let key = IdempotencyKey::parse(&format!("k{i}")).expect("key");
        engine.command(sale, UserId(2), key, Action::Stock(StockAction::Reserve { quantity: 1 })).await.expect("hold");
    }
    assert!(matches!(audited(&app.state).await, LogAudit::Intact { .. }));
    assert_eq!(readyz(State(app.state.clone())).await, (axum::http::StatusCode::OK, "ready"));
    engine.shutdown().await;
    drop((app, engine));

    // Entry 2 (the first hold) rewritten; the snapshots and what follows them are intact.
    let conn = rusqlite::Connection::open(dir.path().join("log.sqlite")).expect("open log");
    conn.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    let changed = conn
        .execute("UPDATE entries SET payload = CAST('{}' AS BLOB) WHERE sale = ?1 AND seq = 2", [sale as i64])
        .expect("tamper");
    assert_eq!(changed, 1);
    drop(conn);

    let app = open(dir.path());
    match audited(&app.state).await {
        LogAudit::Damaged { sale: s, checked: 2, .. } => assert_eq!(s, sale),
        other => panic!("the audit missed the rewritten entry: {other:?}"),
    }
    let (status, body) = readyz(State(app.state.clone())).await;
    assert_eq!(status, axum::http::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    app.state.engine.shutdown().await;
}
