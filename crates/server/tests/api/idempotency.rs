//! The `idempotency-key` header: a repeat returns the first outcome and has
//! no second effect; a reuse for another command is refused.

use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::json;

use crate::common::{ADMIN, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_returns_the_first_outcome_once() {
    let s = Server::start().await;
    let users = s.users(2, "retry").await;
    let (u, v) = (&users[0].token, &users[1].token);
    let id = s.open_stock_sale(json!({"per_person_limit": 10})).await;
    let path = format!("/api/sales/{id}/holds");

    let first = s.post_keyed(&path, u, "order-1", Some(json!({"quantity": 2}))).await.ok(201);
    let again = s.post_keyed(&path, u, "order-1", Some(json!({"quantity": 2}))).await.ok(201);
    assert_eq!(first, again, "same key, same hold");
    assert_eq!(s.numbers(id).await, (8, 2, 0), "stock taken once");
    assert_eq!(s.mine(u).await["holds"].as_array().map(Vec::len), Some(1));

    // The same key with another quantity is another command: refused, no effect.
    let before = s.state(id).await;
    let mine = s.mine(u).await;
    s.post_keyed(&path, u, "order-1", Some(json!({"quantity": 3})))
        .await
        .problem(422, "/problems/idempotency-key-reused");
    // ...and so is the same key for a different kind of command.
    let confirm = format!("/api/sales/{id}/holds/{}/confirm", first["id"]);
    s.post_keyed(&confirm, u, "order-1", None).await.problem(422, "/problems/idempotency-key-reused");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(u).await, mine);

    // Keys are per person: another person's "order-1" is their own command.
    let theirs = s.post_keyed(&path, v, "order-1", Some(json!({"quantity": 2}))).await.ok(201);
    assert_ne!(theirs["id"], first["id"]);
    assert_eq!(s.numbers(id).await, (6, 4, 0));

    // A repeated confirm answers the order again instead of hold-not-active.
    let order = s.post_keyed(&confirm, u, "pay-1", None).await.ok(200);
    let order_again = s.post_keyed(&confirm, u, "pay-1", None).await.ok(200);
    assert_eq!(order, order_again);
    assert_eq!(s.numbers(id).await, (6, 2, 2));
    // Without the key, a retry is a new command.
    s.post_empty(&confirm, Some(u)).await.problem(409, "/problems/hold-not-active");

    // A repeated refused command repeats its refusal, even once it would succeed.
    let late = s.stock_sale_by(ADMIN, json!({})).await["id"].as_u64().expect("id");
    let late_path = format!("/api/sales/{late}/holds");
    s.post_keyed(&late_path, u, "early-bird", Some(json!({"quantity": 1})))
        .await
        .problem(409, "/problems/not-open-yet");
    s.open(late).await;
    s.post_keyed(&late_path, u, "early-bird", Some(json!({"quantity": 1})))
        .await
        .problem(409, "/problems/not-open-yet");
    assert_eq!(s.numbers(late).await, (10, 0, 0));
    s.post_keyed(&late_path, u, "early-bird-2", Some(json!({"quantity": 1}))).await.ok(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_keys_are_refused_before_anything_happens() {
    let s = Server::start().await;
    let u = s.users(1, "keys").await.remove(0);
    let id = s.open_stock_sale(json!({})).await;
    let path = format!("/api/sales/{id}/holds");
    let before = s.state(id).await;

    let too_long = "k".repeat(65);
    let seventy = "k".repeat(70);
    for key in [seventy.as_str(), too_long.as_str(), "has space", "", "tab\tkey"] {
        s.post_keyed(&path, &u.token, key, Some(json!({"quantity": 1})))
            .await
            .problem(400, "/problems/invalid-idempotency-key");
    }
    // Bytes beyond ASCII.
    let value = HeaderValue::from_bytes(b"cl\xe9").expect("obs-text header");
    let rb = s
        .request(Method::POST, &path)
        .bearer_auth(&u.token)
        .header("idempotency-key", value)
        .json(&json!({"quantity": 1}));
    s.send(rb).await.problem(400, "/problems/invalid-idempotency-key");
    // Also on organizer commands and clicks.
    s.post_keyed(&format!("/api/sales/{id}/close"), ADMIN, "bad key", None)
        .await
        .problem(400, "/problems/invalid-idempotency-key");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await["holds"], json!([]));

    // 64 printable characters is the longest accepted key.
    let longest = "~".repeat(64);
    s.post_keyed(&path, &u.token, &longest, Some(json!({"quantity": 1}))).await.ok(201);
    assert_eq!(s.numbers(id).await, (9, 1, 0));
}
