//! The server's seams: it runs on whatever parts the binary hands it (here
//! the in-memory log instead of SQLite's), and the engine and the account
//! store read one clock, so moving time moves sales and credentials alike.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;
use stampede_engine::Clock;
use stampede_log::{CommandLog, MemoryDisk, MemoryLog};
use stampede_server::pass::PassKeys;
use stampede_server::{AppParts, ViewsParts};
use stampede_store::Store;

use crate::common::{ADMIN, Server, ShiftedClock};

fn memory_parts(disk: &MemoryDisk, dir: &std::path::Path) -> AppParts {
    let clock: Arc<dyn Clock> = Arc::new(stampede_engine::SystemClock);
    AppParts {
        log: Box::new(MemoryLog::open(disk)),
        audit_reader: Some(Box::new(MemoryLog::open(disk)) as Box<dyn CommandLog>),
        store: Store::open_with_clock(&dir.join("store.sqlite"), clock.clone()).expect("store"),
        clock,
        passes: PassKeys::from_secret(&[7; 32]),
        // Read models on SQLite beside it, filled from their own reader of the memory log.
        views: Some(ViewsParts { path: dir.join("views.sqlite"), log_reader: Box::new(MemoryLog::open(disk)) }),
        log_readers: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_the_memory_log_keeps_its_sales_across_a_restart_on_the_same_disk() {
    let disk = MemoryDisk::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let parts = memory_parts(&disk, dir.path());
    let s = Server::start_on(dir, parts).await;
    let u = s.users(1, "mem").await.remove(0);
    let id = s.stock_sale_by(ADMIN, json!({})).await["id"].as_u64().expect("id");
    s.open(id).await;
    s.hold(id, &u.token, 2).await;
    assert_eq!(s.numbers(id).await, (8, 2, 0));
    let dir = s.stop().await;
    assert!(!dir.path().join("log.sqlite").exists(), "nothing was written to SQLite's log");
    assert!(!MemoryLog::open(&disk).sales().expect("sales").is_empty());

    let parts = memory_parts(&disk, dir.path());
    let s = Server::start_on(dir, parts).await;
    assert_eq!(s.numbers(id).await, (8, 2, 0), "the restarted server replayed the memory log");
    s.hold(id, &u.token, 1).await;
    assert_eq!(s.numbers(id).await, (7, 3, 0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_reads_the_clock_that_moves_sales_so_a_token_expires_with_it() {
    let clock = Arc::new(ShiftedClock(AtomicI64::new(0)));
    let s = Server::start_with(tempfile::tempdir().expect("tempdir"), clock.clone()).await;
    let creds = json!({"email": "kim@example.com", "password": "plum-river-42", "name": "Kim"});
    s.post("/api/auth/signup", None, creds).await.ok(201);
    let body = json!({"email": "kim@example.com", "password": "plum-river-42", "label": "ci", "expires_in": 3600});
    let issued = s.post("/api/auth/tokens", None, body).await.ok(201);
    let token = issued["token"].as_str().expect("token");
    s.get("/api/me", Some(token)).await.ok(200);

    clock.0.store(3_599_000_000, Ordering::SeqCst);
    s.get("/api/me", Some(token)).await.ok(200);
    // An hour has passed for the sales; the store reads the same clock.
    clock.0.store(3_601_000_000, Ordering::SeqCst);
    let refused = s.get("/api/me", Some(token)).await;
    assert_eq!(refused.status, 401, "an expired token still works: {}", refused.body);
    s.stop().await;
}
