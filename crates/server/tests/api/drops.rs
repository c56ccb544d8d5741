//! First-come drops: clicks, ranks, the public leaderboard and the owner's results.

use serde_json::{Value, json};

use crate::common::{Server, masked};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_clicks_rank_in_order_and_only_winners_are_delivered() {
    let s = Server::start().await;
    let org = s.organizer("org").await;
    let users = s.users(3, "fan").await;
    let sale = s
        .post("/api/sales", Some(&org.token), json!({"kind": "drop", "title": "Sneaker drop", "winners": 2}))
        .await
        .ok(201);
    assert_eq!(sale["kind"], "drop");
    assert_eq!(sale["stock"], Value::Null);
    assert_eq!(sale["drop"], json!({"winners": 2, "clicks": 0, "won": 0}));
    assert_eq!(sale["owner_id"], org.id);
    let id = sale["id"].as_u64().expect("id");
    let click = |token: String| {
        let s = &s;
        async move { s.post_empty(&format!("/api/sales/{id}/clicks"), Some(&token)).await }
    };

    // Before opening: refused, nothing recorded.
    let before = s.state(id).await;
    click(users[0].token.clone()).await.problem(409, "/problems/not-open-yet");
    assert_eq!(s.state(id).await, before);
    assert_eq!(before["detail"]["total"], 0);

    let opened = s.post_empty(&format!("/api/sales/{id}/open"), Some(&org.token)).await.ok(200);
    let opened_us = crate::common::us(&opened["opened_at"]);

    // Three clicks, one after another.
    let mut clicks = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let c = click(u.token.clone()).await.ok(200);
        assert_eq!(c["sale_id"], id);
        assert_eq!(c["rank"], i + 1);
        assert_eq!(c["won"], i < 2);
        assert_eq!(c["winners"], 2);
        let at = c["clicked_at_us"].as_i64().expect("clicked_at_us");
        assert_eq!(crate::common::us(&c["clicked_at"]), at);
        assert!(at >= opened_us);
        let after_ms = c["after_open_ms"].as_f64().expect("after_open_ms");
        assert!((after_ms - (at - opened_us) as f64 / 1000.0).abs() < 0.002, "{c}");
        clicks.push(c);
    }
    // A second click (new key) returns the first.
    let again = click(users[1].token.clone()).await.ok(200);
    assert_eq!(again, clicks[1]);
    assert_eq!(s.sale(id).await["drop"], json!({"winners": 2, "clicks": 3, "won": 2}));

    // The leaderboard: public, masked, in rank order.
    let board = s.get(&format!("/api/sales/{id}/leaderboard"), None).await.ok(200);
    assert_eq!(board["total"], 3);
    assert_eq!(board["winners"], 2);
    let entries = board["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3);
    let mut last_at = i64::MIN;
    for (i, (e, u)) in entries.iter().zip(&users).enumerate() {
        assert_eq!(e["rank"], i + 1);
        assert_eq!(e["name"], masked(&u.name), "{e}");
        assert_ne!(e["name"], u.name.as_str());
        assert_eq!(e["won"], i < 2);
        assert_eq!(e["clicked_at_us"], clicks[i]["clicked_at_us"]);
        let at = e["clicked_at_us"].as_i64().expect("clicked_at_us");
        assert!(at >= last_at, "clicked_at_us goes back in time");
        last_at = at;
        assert!(e.get("email").is_none() && e.get("user_id").is_none(), "the leaderboard leaks: {e}");
    }
    let page = s.get(&format!("/api/sales/{id}/leaderboard?offset=1&limit=1"), None).await.ok(200);
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["entries"][0]["rank"], 2);
    s.get(&format!("/api/sales/{id}/leaderboard?limit=0"), None).await.problem(422, "/problems/invalid-field");
    s.get(&format!("/api/sales/{id}/leaderboard?limit=1001"), None).await.problem(422, "/problems/invalid-field");
    s.get(&format!("/api/sales/{id}/leaderboard?offset=-1"), None).await.problem(422, "/problems/invalid-field");
    s.get(&format!("/api/sales/{id}/leaderboard?limit=ten"), None).await.problem(422, "/problems/invalid-field");

    // Stock commands on a drop are the wrong kind and change nothing.
    let before = s.state(id).await;
    for q in [1, 0] {
        s.reserve(id, &users[2].token, q).await.problem(409, "/problems/wrong-sale-kind");
    }
    s.post_empty(&format!("/api/sales/{id}/holds/1/confirm"), Some(&users[0].token))
        .await
        .problem(409, "/problems/wrong-sale-kind");
    s.get(&format!("/api/sales/{id}/holds"), Some(&org.token)).await.problem(409, "/problems/wrong-sale-kind");
    assert_eq!(s.state(id).await, before);
    assert_eq!(s.mine(&users[2].token).await, json!({"holds": [], "orders": []}));

    // Results: the owner sees the winners with their contact data; others may not.
    let results = s.get(&format!("/api/sales/{id}/results"), Some(&org.token)).await.ok(200);
    let recipients = results["recipients"].as_array().expect("recipients");
    assert_eq!(recipients.len(), 2);
    for (i, r) in recipients.iter().enumerate() {
        let u = &users[i];
        assert_eq!(r["user_id"], u.id);
        assert_eq!(r["name"], u.name.as_str());
        assert_eq!(r["email"], format!("fan-{}@bulk.invalid", u.id));
        assert_eq!(r["order"], i + 1, "a winner's order number is the rank");
    }
    assert_eq!(results["sale"]["drop"]["won"], 2);
    s.get(&format!("/api/sales/{id}/results"), Some(&users[0].token)).await.problem(403, "/problems/forbidden");

    // Closed: further clicks refused, but a winner's repeat still answers.
    s.post_empty(&format!("/api/sales/{id}/close"), Some(&org.token)).await.ok(200);
    let late = s.users(1, "late").await.remove(0);
    let before = s.state(id).await;
    click(late.token.clone()).await.problem(409, "/problems/sale-closed");
    assert_eq!(s.state(id).await, before);
    assert_eq!(click(users[0].token.clone()).await.ok(200), clicks[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_commands_on_a_stock_sale_are_the_wrong_kind() {
    let s = Server::start().await;
    let u = s.users(1, "mix").await.remove(0);
    let id = s.open_stock_sale(json!({})).await;
    let before = s.state(id).await;
    s.post_empty(&format!("/api/sales/{id}/clicks"), Some(&u.token)).await.problem(409, "/problems/wrong-sale-kind");
    s.get(&format!("/api/sales/{id}/leaderboard"), None).await.problem(409, "/problems/wrong-sale-kind");
    assert_eq!(s.state(id).await, before);
}
