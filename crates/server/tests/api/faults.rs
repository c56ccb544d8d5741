//! A log append that fails under the real server (a `FaultyLog` handed in
//! through `AppParts`, as the binary hands in SQLite): the command whose
//! batch failed is answered 503 and never acknowledged, later commands are
//! refused with 503 too, `/readyz` says unready, reads show only what was
//! durable, and a restart on what reached the disk serves again.

use std::sync::Arc;

use serde_json::json;
use stampede_engine::Clock;
use stampede_log::{CommandLog, FaultyLog, MemoryDisk, MemoryLog};
use stampede_server::pass::PassKeys;
use stampede_server::{AppParts, ViewsParts};
use stampede_store::Store;

use crate::common::{ADMIN, Resp, Server};

fn parts(log: Box<dyn CommandLog>, disk: &MemoryDisk, dir: &std::path::Path) -> AppParts {
    let clock: Arc<dyn Clock> = Arc::new(stampede_engine::SystemClock);
    AppParts {
        log,
        audit_reader: Some(Box::new(MemoryLog::open(disk)) as Box<dyn CommandLog>),
        store: Store::open_with_clock(&dir.join("store.sqlite"), clock.clone()).expect("store"),
        clock,
        passes: PassKeys::from_secret(&[7; 32]),
        views: Some(ViewsParts { path: dir.join("views.sqlite"), log_reader: Box::new(MemoryLog::open(disk)) }),
        log_readers: None,
    }
}

#[track_caller]
fn refused(r: &Resp) {
    r.problem(503, "/problems/unavailable");
    assert_eq!(r.header("retry-after"), "5", "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_log_append_is_answered_503_poisons_the_server_and_a_restart_recovers() {
    let disk = MemoryDisk::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path_of_dir = dir.path().to_path_buf();
    // Appends: 1 creates the sale, 2 opens it, 3 is the first hold; 4 fails.
    let log = Box::new(FaultyLog::failing(MemoryLog::open(&disk), 4));
    let s = Server::start_on(dir, parts(log, &disk, &path_of_dir)).await;
    let u = s.users(2, "fault").await;
    let id = s.stock_sale_by(ADMIN, json!({})).await["id"].as_u64().expect("id");
    s.open(id).await;
    let kept = s.hold(id, &u[0].token, 2).await;
    assert_eq!(s.get("/readyz", None).await.status, 200);

    let path = format!("/api/sales/{id}/holds");
    refused(&s.post_keyed(&path, &u[1].token, "lost", Some(json!({"quantity": 3}))).await);
    let ready = s.get("/readyz", None).await;
    assert_eq!((ready.status, ready.body.as_str()), (503, "unready"));
    // Everything that would write is refused now, not only the failed batch.
    refused(&s.post_keyed(&path, &u[0].token, "later", Some(json!({"quantity": 1}))).await);
    refused(&s.post_empty(&format!("{path}/{}/confirm", kept["id"]), Some(&u[0].token)).await);
    refused(&s.post("/api/sales", Some(ADMIN), json!({"kind": "drop", "title": "D", "winners": 1})).await);
    // Reads show what is durable: the lost hold applied in memory is not there.
    assert_eq!(s.numbers(id).await, (8, 2, 0));
    let dir = s.stop().await;

    // What reached the disk: the sale, its opening and the first hold.
    let s = Server::start_on(dir, parts(Box::new(MemoryLog::open(&disk)), &disk, &path_of_dir)).await;
    let ready = s.get("/readyz", None).await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
    assert_eq!(s.numbers(id).await, (8, 2, 0));
    // The refused key was never acknowledged, so it is decided afresh, once.
    let fresh = s.post_keyed(&path, &u[1].token, "lost", Some(json!({"quantity": 3}))).await.ok(201);
    assert_eq!(s.post_keyed(&path, &u[1].token, "lost", Some(json!({"quantity": 3}))).await.ok(201), fresh);
    assert_ne!(fresh["id"], kept["id"]);
    s.post_empty(&format!("{path}/{}/confirm", kept["id"]), Some(&u[0].token)).await.ok(200);
    assert_eq!(s.numbers(id).await, (5, 3, 2));
    s.stop().await;
}
