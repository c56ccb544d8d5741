//! A graceful stop and a fresh start on the same data directory.

use serde_json::json;

use crate::common::{ADMIN, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_sales_holds_orders_and_keys() {
    let s = Server::start().await;
    let users = s.users(2, "keep").await;
    let (a, b) = (&users[0], &users[1]);
    let id = s.open_stock_sale(json!({"stock": 20})).await;
    let path = format!("/api/sales/{id}/holds");
    let kept = s.post_keyed(&path, &a.token, "before-restart", Some(json!({"quantity": 2}))).await.ok(201);
    let paid = s.hold(id, &b.token, 3).await;
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", paid["id"]), Some(&b.token)).await.ok(200);
    let dropped = s.hold(id, &b.token, 1).await;
    s.delete(&format!("/api/sales/{id}/holds/{}", dropped["id"]), Some(&b.token)).await.ok(200);
    let drop_id = s.post("/api/sales", Some(ADMIN), json!({"kind": "drop", "title": "D", "winners": 1})).await.ok(201)
        ["id"]
        .as_u64()
        .expect("id");
    s.open(drop_id).await;
    let click = s.post_empty(&format!("/api/sales/{drop_id}/clicks"), Some(&a.token)).await.ok(200);

    let sales = s.get("/api/sales", None).await.ok(200);
    let (state, drop_state) = (s.state(id).await, s.state(drop_id).await);
    let (mine_a, mine_b) = (s.mine(&a.token).await, s.mine(&b.token).await);
    assert_eq!(s.numbers(id).await, (15, 2, 3));
    let old_base = s.base.clone();

    let dir = s.stop().await;
    let s = Server::start_in(dir).await;
    assert_ne!(s.base, old_base);

    let ready = s.get("/readyz", None).await;
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready"));
    assert_eq!(s.get("/api/sales", None).await.ok(200), sales);
    assert_eq!(s.state(id).await, state);
    assert_eq!(s.state(drop_id).await, drop_state);
    assert_eq!(s.numbers(id).await, (15, 2, 3));
    // Tokens live in the account store and survive too.
    assert_eq!(s.mine(&a.token).await, mine_a);
    assert_eq!(s.mine(&b.token).await, mine_b);

    // Idempotency keys and first clicks are remembered across the restart.
    assert_eq!(s.post_keyed(&path, &a.token, "before-restart", Some(json!({"quantity": 2}))).await.ok(201), kept);
    assert_eq!(s.post_empty(&format!("/api/sales/{drop_id}/clicks"), Some(&a.token)).await.ok(200), click);
    assert_eq!(s.numbers(id).await, (15, 2, 3));

    // And the server keeps working: the held stock can be confirmed, new sales get new ids.
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", kept["id"]), Some(&a.token)).await.ok(200);
    assert_eq!(s.numbers(id).await, (15, 0, 5));
    let next = s.stock_sale_by(ADMIN, json!({})).await;
    assert_eq!(next["id"], drop_id + 1);
}
