//! Stock sales: the happy path and every refusal, each checked to leave the
//! sale exactly as it was.

use serde_json::{Value, json};

use crate::common::{ADMIN, Server, ShiftedClock, now_us, us};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserve_confirm_refund_and_cancel() {
    let s = Server::start().await;
    let u = s.users(1, "buyer").await.remove(0);
    let created =
        s.stock_sale_by(ADMIN, json!({"title": "  Festival pass  ", "description": "Main stage", "price": 1000})).await;
    assert_eq!(created["kind"], "stock");
    assert_eq!(created["title"], "Festival pass", "titles are trimmed");
    assert_eq!(created["status"], "scheduled");
    assert_eq!(created["opens_at"], Value::Null);
    assert_eq!(created["opened_at"], Value::Null);
    assert_eq!(created["drop"], Value::Null);
    assert_eq!(
        created["stock"],
        json!({"total": 10, "available": 10, "held": 0, "sold": 0, "price": 1000, "currency": "KRW",
               "per_person_limit": 4, "order_quantity_max": 3, "hold_seconds": 300})
    );
    let id = created["id"].as_u64().expect("id");
    let listed = s.get("/api/sales", None).await.ok(200);
    assert_eq!(listed["sales"], json!([created]));
    s.open(id).await;

    // Reserve: 201 with the amount and an expiry hold_seconds ahead.
    let t0 = now_us();
    let hold = s.hold(id, &u.token, 2).await;
    let t1 = now_us();
    assert_eq!(hold["sale_id"], id);
    assert_eq!(hold["amount"], 2000);
    let expires = us(&hold["expires_at"]);
    assert!(
        (t0 + 300_000_000..=t1 + 300_000_000).contains(&expires),
        "expires_at {} not 300 s after now",
        hold["expires_at"]
    );
    assert_eq!(s.numbers(id).await, (8, 2, 0));
    let mine = s.mine(&u.token).await;
    assert_eq!(mine["holds"], json!([hold]));
    assert_eq!(mine["orders"], json!([]));

    // Pay (which confirms; a priced hold cannot be confirmed alone): it
    // becomes an order with the same id.
    let hold_id = hold["id"].as_u64().expect("hold id");
    s.post_empty(&format!("/api/sales/{id}/holds/{hold_id}/confirm"), Some(&u.token))
        .await
        .problem(402, "/problems/payment-required");
    s.grant(u.id, 2000).await;
    let paid = s.pay(id, hold_id, &u.token).await.ok(200);
    let reference = hold["reference"].as_str().expect("a hold has a reference").to_owned();
    assert_eq!((paid["order_id"].as_u64(), paid["reference"].as_str()), (Some(hold_id), Some(reference.as_str())));
    let order = json!({"id": hold_id, "reference": reference, "sale_id": id, "quantity": 2, "status": "confirmed",
        "amount": 2000, "payment": {"provider": "wallet", "status": "paid", "paid": 2000, "refunded": 0}});
    assert_eq!(s.numbers(id).await, (8, 0, 2));
    let mine = s.mine(&u.token).await;
    assert_eq!(mine["holds"], json!([]), "a confirmed hold is no longer active");
    assert_eq!(mine["orders"], json!([order]));
    let results = s.get(&format!("/api/sales/{id}/results"), Some(ADMIN)).await.ok(200);
    assert_eq!(results["revenue"], 2000);
    assert_eq!(results["recipients"][0]["user_id"], u.id);
    assert_eq!(results["recipients"][0]["reference"], reference.as_str());
    assert_eq!(results["recipients"][0]["order"], hold_id);
    assert_eq!(results["recipients"][0]["email"], format!("buyer-{}@bulk.invalid", u.id));

    // Refund: the stock comes back, the order stays listed as refunded.
    let refunded = s.post_empty(&format!("/api/sales/{id}/orders/{hold_id}/refund"), Some(&u.token)).await.ok(200);
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["id"], hold_id);
    assert_eq!(s.numbers(id).await, (10, 0, 0));
    let refunded = &s.mine(&u.token).await["orders"][0];
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(
        refunded["payment"],
        json!({"provider": "wallet", "status": "refunded", "paid": 2000, "refunded": 2000})
    );
    assert_eq!(s.get(&format!("/api/sales/{id}/results"), Some(ADMIN)).await.ok(200)["revenue"], 0);

    // Cancel: the hold's stock comes back at once.
    let hold = s.hold(id, &u.token, 3).await;
    assert_eq!(s.numbers(id).await, (7, 3, 0));
    let cancelled = s.delete(&format!("/api/sales/{id}/holds/{}", hold["id"]), Some(&u.token)).await.ok(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["id"], hold["id"]);
    assert_eq!(s.numbers(id).await, (10, 0, 0));
    assert_eq!(s.mine(&u.token).await["holds"], json!([]));

    // The owner's listing shows the history.
    let rows = s.get(&format!("/api/sales/{id}/holds"), Some(ADMIN)).await.ok(200);
    let statuses: Vec<&str> =
        rows["holds"].as_array().expect("holds").iter().filter_map(|h| h["status"].as_str()).collect();
    assert_eq!(statuses, ["refunded", "cancelled"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserve_before_open_and_after_close() {
    let s = Server::start().await;
    let u = s.users(1, "early").await.remove(0);
    let id = s.stock_sale_by(ADMIN, json!({})).await["id"].as_u64().expect("id");

    let before = s.state(id).await;
    s.reserve(id, &u.token, 1).await.problem(409, "/problems/not-open-yet");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await["holds"], json!([]));

    s.open(id).await;
    let hold = s.hold(id, &u.token, 1).await;
    let closed = s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.ok(200);
    assert_eq!(closed["status"], "closed");

    let before = s.state(id).await;
    let mine = s.mine(&u.token).await;
    s.reserve(id, &u.token, 1).await.problem(409, "/problems/sale-closed");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await, mine);

    // A hold taken while the sale was open may still be paid for.
    let order = s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", hold["id"]), Some(&u.token)).await.ok(200);
    assert_eq!(order["status"], "confirmed");
    assert_eq!(s.numbers(id).await, (9, 0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sold_out_and_per_person_limit() {
    let s = Server::start().await;
    let users = s.users(3, "rush").await;
    let id = s.open_stock_sale(json!({"stock": 5, "per_person_limit": 4, "order_quantity_max": 3})).await;

    s.hold(id, &users[0].token, 3).await;
    // 3 + 2 = 5 > 4: over the per-person limit, though stock remains.
    let before = s.state(id).await;
    let mine = s.mine(&users[0].token).await;
    let p = s.reserve(id, &users[0].token, 2).await.problem(409, "/problems/limit-reached");
    assert!(p["detail"].as_str().unwrap_or_default().contains('1'), "{p}");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&users[0].token).await, mine);
    s.hold(id, &users[0].token, 1).await;
    assert_eq!(s.numbers(id).await, (1, 4, 0));

    // One left: two is too many, one is fine, then nothing is left.
    let before = s.state(id).await;
    let p = s.reserve(id, &users[1].token, 2).await.problem(409, "/problems/sold-out");
    assert!(p["detail"].as_str().unwrap_or_default().contains("1 available"), "{p}");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&users[1].token).await["holds"], json!([]));
    s.hold(id, &users[1].token, 1).await;
    let before = s.state(id).await;
    s.reserve(id, &users[2].token, 1).await.problem(409, "/problems/sold-out");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.numbers(id).await, (0, 5, 0));
    assert_eq!(s.sale(id).await["status"], "open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_quantities_and_malformed_bodies_change_nothing() {
    let s = Server::start().await;
    let u = s.users(1, "typo").await.remove(0);
    let id = s.open_stock_sale(json!({"order_quantity_max": 3})).await;
    s.hold(id, &u.token, 1).await;
    let path = format!("/api/sales/{id}/holds");
    let before = s.state(id).await;
    let mine = s.mine(&u.token).await;

    for q in [json!(0), json!(-1), json!(4), json!(5_000_000_000_i64), json!(i64::MIN)] {
        let p = s.post(&path, Some(&u.token), json!({"quantity": q})).await.problem(422, "/problems/bad-quantity");
        assert!(p["detail"].as_str().unwrap_or_default().contains('3'), "quantity {q}: {p}");
    }
    for body in [
        json!({"quantity": "2"}),
        json!({"quantity": 1.5}),
        json!({"quantity": null}),
        json!({"amount": 2}),
        json!("2"),
    ] {
        s.post(&path, Some(&u.token), body).await.problem(400, "/problems/malformed-json");
    }
    for raw in [r#"{"quantity": 2"#, "", "quantity=2", r#"{"quantity": 99999999999999999999999}"#] {
        s.post_raw(&path, Some(&u.token), raw).await.problem(400, "/problems/malformed-json");
    }
    // JSON without the JSON content type.
    let plain = s.request(reqwest::Method::POST, &path).bearer_auth(&u.token).body(r#"{"quantity": 1}"#);
    s.send(plain).await.problem(400, "/problems/malformed-json");

    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await, mine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_16_kib_are_refused() {
    let s = Server::start().await;
    let u = s.users(1, "big").await.remove(0);
    let id = s.open_stock_sale(json!({})).await;
    let sales = s.get("/api/sales", None).await.ok(200);
    let before = s.state(id).await;

    let huge = "x".repeat(20 * 1024);
    // Creating a sale may carry a whole venue, so its limit is 8 MiB; the
    // description's own bound still holds.
    let body = json!({"kind": "stock", "title": "Big", "description": huge, "stock": 10, "price": 1,
        "per_person_limit": 1, "order_quantity_max": 1, "hold_seconds": 60});
    s.post("/api/sales", Some(ADMIN), body).await.problem(422, "/problems/invalid-field");
    let body = json!({"kind": "stock", "title": "Big", "description": "x".repeat(9 * 1024 * 1024), "stock": 10,
        "price": 1, "per_person_limit": 1, "order_quantity_max": 1, "hold_seconds": 60});
    s.post("/api/sales", Some(ADMIN), body).await.problem(413, "/problems/body-too-large");
    let p = s
        .post(&format!("/api/sales/{id}/holds"), Some(&u.token), json!({"quantity": 1, "pad": huge}))
        .await
        .problem(413, "/problems/body-too-large");
    assert!(p["detail"].as_str().unwrap_or_default().contains("16 KiB"), "{p}");

    assert_eq!(s.get("/api/sales", None).await.ok(200), sales);
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await["holds"], json!([]));

    // Just under the limit, unknown fields are ignored and the hold is taken.
    let pad = "y".repeat(15 * 1024);
    s.post(&format!("/api/sales/{id}/holds"), Some(&u.token), json!({"quantity": 1, "pad": pad})).await.ok(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_sales_holds_and_orders_are_not_found() {
    let s = Server::start().await;
    let u = s.users(1, "lost").await.remove(0);
    let id = s.open_stock_sale(json!({})).await;
    let hold = s.hold(id, &u.token, 1).await;
    let before = s.state(id).await;
    let mine = s.mine(&u.token).await;

    for bad in ["999", "abc", "-1", "1.0", "18446744073709551616", "%FF", "%20"] {
        s.get(&format!("/api/sales/{bad}"), None).await.problem(404, "/problems/not-found");
        s.reserve_path(bad, &u.token).await.problem(404, "/problems/not-found");
        s.post_empty(&format!("/api/sales/{bad}/open"), Some(ADMIN)).await.problem(404, "/problems/not-found");
        s.post_empty(&format!("/api/sales/{bad}/close"), Some(ADMIN)).await.problem(404, "/problems/not-found");
        s.post_empty(&format!("/api/sales/{bad}/holds/{}/confirm", hold["id"]), Some(&u.token))
            .await
            .problem(404, "/problems/not-found");
        s.delete(&format!("/api/sales/{bad}/holds/{}", hold["id"]), Some(&u.token))
            .await
            .problem(404, "/problems/not-found");
        s.post_empty(&format!("/api/sales/{bad}/clicks"), Some(&u.token)).await.problem(404, "/problems/not-found");
        s.get(&format!("/api/sales/{bad}/leaderboard"), None).await.problem(404, "/problems/not-found");
        s.get(&format!("/api/sales/{bad}/holds"), Some(ADMIN)).await.problem(404, "/problems/not-found");
        s.get(&format!("/api/sales/{bad}/results"), Some(ADMIN)).await.problem(404, "/problems/not-found");
        // In the real sale, an unknown hold or order.
        s.post_empty(&format!("/api/sales/{id}/holds/{bad}/confirm"), Some(&u.token))
            .await
            .problem(404, "/problems/not-found");
        s.delete(&format!("/api/sales/{id}/holds/{bad}"), Some(&u.token)).await.problem(404, "/problems/not-found");
        s.post_empty(&format!("/api/sales/{id}/orders/{bad}/refund"), Some(&u.token))
            .await
            .problem(404, "/problems/not-found");
    }
    // A hold that is not (yet) an order cannot be refunded.
    s.post_empty(&format!("/api/sales/{id}/orders/{}/refund", hold["id"]), Some(&u.token))
        .await
        .problem(404, "/problems/not-found");

    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await, mine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_elses_hold_or_order_is_not_yours() {
    let s = Server::start().await;
    let users = s.users(2, "pair").await;
    let (owner, thief) = (&users[0].token, &users[1].token);
    let id = s.open_stock_sale(json!({})).await;
    let held = s.hold(id, owner, 2).await;
    let ordered = s.hold(id, owner, 1).await;
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", ordered["id"]), Some(owner)).await.ok(200);

    let before = s.state(id).await;
    let (mine, theirs) = (s.mine(owner).await, s.mine(thief).await);
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", held["id"]), Some(thief))
        .await
        .problem(403, "/problems/not-your-hold");
    s.delete(&format!("/api/sales/{id}/holds/{}", held["id"]), Some(thief))
        .await
        .problem(403, "/problems/not-your-hold");
    s.post_empty(&format!("/api/sales/{id}/orders/{}/refund", ordered["id"]), Some(thief))
        .await
        .problem(403, "/problems/not-your-hold");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(owner).await, mine);
    assert_eq!(s.mine(thief).await, theirs);

    // The owner still can.
    s.post_empty(&format!("/api/sales/{id}/holds/{}/confirm", held["id"]), Some(owner)).await.ok(200);
    assert_eq!(s.numbers(id).await, (7, 0, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_holds_and_orders_refuse_a_second_change() {
    let s = Server::start().await;
    let u = s.users(1, "twice").await.remove(0);
    let id = s.open_stock_sale(json!({"per_person_limit": 10})).await;
    let confirmed = s.hold(id, &u.token, 1).await["id"].as_u64().expect("id");
    let cancelled = s.hold(id, &u.token, 1).await["id"].as_u64().expect("id");
    s.post_empty(&format!("/api/sales/{id}/holds/{confirmed}/confirm"), Some(&u.token)).await.ok(200);
    s.delete(&format!("/api/sales/{id}/holds/{cancelled}"), Some(&u.token)).await.ok(200);

    let before = s.state(id).await;
    let mine = s.mine(&u.token).await;
    // No idempotency key: each retry is a new command.
    s.post_empty(&format!("/api/sales/{id}/holds/{confirmed}/confirm"), Some(&u.token))
        .await
        .problem(409, "/problems/hold-not-active");
    s.delete(&format!("/api/sales/{id}/holds/{confirmed}"), Some(&u.token))
        .await
        .problem(409, "/problems/hold-not-active");
    s.post_empty(&format!("/api/sales/{id}/holds/{cancelled}/confirm"), Some(&u.token))
        .await
        .problem(409, "/problems/hold-not-active");
    s.delete(&format!("/api/sales/{id}/holds/{cancelled}"), Some(&u.token))
        .await
        .problem(409, "/problems/hold-not-active");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await, mine);

    s.post_empty(&format!("/api/sales/{id}/orders/{confirmed}/refund"), Some(&u.token)).await.ok(200);
    let before = s.state(id).await;
    let mine = s.mine(&u.token).await;
    s.post_empty(&format!("/api/sales/{id}/orders/{confirmed}/refund"), Some(&u.token))
        .await
        .problem(409, "/problems/already-refunded");
    s.post_empty(&format!("/api/sales/{id}/holds/{confirmed}/confirm"), Some(&u.token))
        .await
        .problem(409, "/problems/hold-not-active");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&u.token).await, mine);
    assert_eq!(s.numbers(id).await, (10, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_and_close_conflicts() {
    let s = Server::start().await;
    let id = s.open_stock_sale(json!({})).await;
    let before = s.state(id).await;
    s.post_empty(&format!("/api/sales/{id}/open"), Some(ADMIN)).await.problem(409, "/problems/already-open");
    assert_eq!(s.state(id).await, before);

    s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.ok(200);
    let before = s.state(id).await;
    s.post_empty(&format!("/api/sales/{id}/close"), Some(ADMIN)).await.problem(409, "/problems/already-closed");
    s.post_empty(&format!("/api/sales/{id}/open"), Some(ADMIN)).await.problem(409, "/problems/already-closed");
    assert_eq!(s.state(id).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_sale_validation() {
    let s = Server::start().await;
    let stock = |over: Value| {
        let mut b = json!({"kind": "stock", "title": "T", "stock": 10, "price": 100, "per_person_limit": 2,
            "order_quantity_max": 2, "hold_seconds": 60});
        if let (Some(b), Some(o)) = (b.as_object_mut(), over.as_object()) {
            b.extend(o.clone());
        }
        b
    };
    let invalid = [
        (stock(json!({"stock": 0})), "stock"),
        (stock(json!({"stock": 100_000_001})), "stock"),
        (stock(json!({"hold_seconds": 5})), "hold_seconds"),
        (stock(json!({"hold_seconds": 9})), "hold_seconds"),
        (stock(json!({"hold_seconds": 86_401})), "hold_seconds"),
        (stock(json!({"per_person_limit": 0})), "per_person_limit"),
        (stock(json!({"order_quantity_max": 0})), "order_quantity_max"),
        (stock(json!({"price": -1})), "price"),
        (stock(json!({"currency": "WONS"})), "currency"),
        (stock(json!({"title": ""})), "title"),
        (stock(json!({"title": "   "})), "title"),
        (stock(json!({"title": "t".repeat(201)})), "title"),
        (stock(json!({"description": "d".repeat(4001)})), "description"),
        (stock(json!({"opens_at": "tomorrow"})), "opens_at"),
        (stock(json!({"closes_at": "2026-13-01T00:00:00Z"})), "closes_at"),
        (stock(json!({"opens_at": "2030-01-02T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"})), "closes_at"),
        (stock(json!({"opens_at": "2030-01-01T00:00:00Z", "closes_at": "2030-01-01T00:00:00Z"})), "closes_at"),
        (json!({"kind": "drop", "title": "D", "winners": 0}), "winners"),
        (json!({"kind": "drop", "title": "D", "winners": 1_000_001}), "winners"),
        (json!({"kind": "drop", "title": "", "winners": 1}), "title"),
    ];
    for (body, field) in invalid {
        let p = s.post("/api/sales", Some(ADMIN), body.clone()).await.problem(422, "/problems/invalid-field");
        assert!(p["detail"].as_str().unwrap_or_default().contains(field), "{body} -> {p}");
    }
    for body in [
        json!({"kind": "raffle", "title": "R"}),
        json!({"title": "no kind", "stock": 1}),
        json!({"kind": "stock", "title": "missing fields"}),
        json!({"kind": "stock", "title": "T", "stock": "10", "price": 1, "per_person_limit": 1,
               "order_quantity_max": 1, "hold_seconds": 60}),
    ] {
        s.post("/api/sales", Some(ADMIN), body).await.problem(400, "/problems/malformed-json");
    }
    assert_eq!(s.get("/api/sales", None).await.ok(200)["sales"], json!([]));

    // The edges of the ranges are accepted.
    let edge = stock(json!({"hold_seconds": 10, "stock": 100_000_000, "title": "t".repeat(200),
        "description": "d".repeat(4000), "currency": "usd"}));
    let sale = s.post("/api/sales", Some(ADMIN), edge).await.ok(201);
    assert_eq!(sale["stock"]["hold_seconds"], 10);
    assert_eq!(sale["stock"]["currency"], "USD");
    assert_eq!(sale["id"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opens_at_in_the_past_opens_by_itself_and_holds_last_hold_seconds() {
    let s = Server::start().await;
    let u = s.users(1, "late").await.remove(0);
    let an_hour = 3_600_000_000_i64;
    // Within the tolerance for times in the past (a slow form, a clock behind).
    let opens = jiff::Timestamp::from_microsecond(now_us() - 60_000_000).expect("time");
    let closes = jiff::Timestamp::from_microsecond(now_us() + an_hour).expect("time");
    let sale = s
        .stock_sale_by(
            ADMIN,
            json!({"hold_seconds": 10, "opens_at": opens.to_string(), "closes_at": closes.to_string()}),
        )
        .await;
    assert_eq!(us(&sale["opens_at"]), opens.as_microsecond());
    assert_eq!(us(&sale["closes_at"]), closes.as_microsecond());
    let id = sale["id"].as_u64().expect("id");

    // No POST /open: the schedule opened it.
    let t0 = now_us();
    let hold = s.hold(id, &u.token, 1).await;
    let t1 = now_us();
    let expires = us(&hold["expires_at"]);
    assert!(
        (t0 + 10_000_000..=t1 + 10_000_000).contains(&expires),
        "expires_at {} is not 10 s after the request ({t0}..{t1})",
        hold["expires_at"]
    );
    let sale = s.sale(id).await;
    assert_eq!(sale["status"], "open");
    assert!(sale["opened_at"].is_string());
    assert_eq!(sale["stock"]["hold_seconds"], 10);
    assert_eq!(s.numbers(id).await, (9, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_cannot_be_confirmed_or_cancelled_and_its_stock_is_back() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    let clock = Arc::new(ShiftedClock(AtomicI64::new(0)));
    let s = Server::start_with(tempfile::tempdir().expect("tempdir"), clock.clone()).await;
    let u = s.users(1, "late").await.remove(0);
    let id = s.stock_sale_by(ADMIN, json!({"hold_seconds": 10})).await["id"].as_u64().expect("id");
    s.open(id).await;
    let hold = s.hold(id, &u.token, 2).await;
    let hold_id = hold["id"].as_u64().expect("hold id");
    assert_eq!(s.numbers(id).await, (8, 2, 0));

    // Eleven seconds pass for the sale; the next read or command expires the hold.
    clock.0.store(11_000_000, Ordering::SeqCst);
    let before = s.get(&format!("/api/sales/{id}"), None).await.ok(200);
    assert_eq!(before["stock"]["available"], 10, "expiry returned the stock: {before}");
    s.post_empty(&format!("/api/sales/{id}/holds/{hold_id}/confirm"), Some(&u.token))
        .await
        .problem(409, "/problems/hold-expired");
    s.delete(&format!("/api/sales/{id}/holds/{hold_id}"), Some(&u.token)).await.problem(409, "/problems/hold-expired");
    let after = s.get(&format!("/api/sales/{id}"), None).await.ok(200);
    assert_eq!(before, after, "refused commands changed nothing");
    let rows = s.get(&format!("/api/sales/{id}/holds"), Some(ADMIN)).await.ok(200);
    assert_eq!(rows["holds"][0]["status"], "expired");
    assert_eq!(s.mine(&u.token).await["holds"], json!([]));
}

#[tokio::test]
async fn the_organizer_sees_commands_counted_and_nobody_else_does() {
    let s = Server::start().await;
    let id = s.open_stock_sale(json!({})).await;
    let u = s.users(1, "rps").await.remove(0);
    let stats = async || {
        let v = s.get(&format!("/api/sales/{id}/stats"), Some(ADMIN)).await.ok(200);
        let (Some(commands), Some(at_us)) = (v["commands_total"].as_u64(), v["at_us"].as_i64()) else {
            panic!("stats without commands_total or at_us: {v}");
        };
        (commands, at_us)
    };
    let before = stats().await;
    s.reserve(id, &u.token, 1).await.ok(201);
    let after = stats().await;
    assert_eq!(after.0, before.0 + 1, "one command posted to the sale: {before:?} {after:?}");
    assert!(after.1 >= before.1, "the readings' time goes forward: {before:?} {after:?}");
    s.reserve(id, &u.token, 99).await.problem(422, "/problems/bad-quantity");
    s.get(&format!("/api/sales/{id}/stats"), Some(&u.token)).await.problem(403, "/problems/forbidden");
}
