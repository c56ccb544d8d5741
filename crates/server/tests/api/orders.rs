//! Order references, and organizers editing and deleting their sales.

use serde_json::{Value, json};
use stampede_log::CommandLog;

use crate::common::{ADMIN, Server, now_us};

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).expect("time").to_string()
}

/// Holds and confirms one unit in `sale`; answers the order.
async fn buy(s: &Server, sale: u64, token: &str) -> Value {
    let hold = s.hold(sale, token, 1).await;
    s.post_empty(&format!("/api/sales/{sale}/holds/{}/confirm", hold["id"]), Some(token)).await.ok(200)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_orders_of_two_sales_have_different_references() {
    let s = Server::start().await;
    let users = s.users(2, "ref").await;
    let (buyer, other) = (&users[0], &users[1]);
    let a = s.open_stock_sale(json!({"title": "A"})).await;
    let b = s.open_stock_sale(json!({"title": "B"})).await;
    let (first, second) = (buy(&s, a, &buyer.token).await, buy(&s, b, &buyer.token).await);
    assert_eq!((first["id"].as_u64(), second["id"].as_u64()), (Some(1), Some(1)), "numbers restart per sale");
    let (ra, rb) = (first["reference"].as_str().expect("ref"), second["reference"].as_str().expect("ref"));
    assert_ne!(ra, rb);
    for r in [ra, rb] {
        assert_eq!(r.len(), 8, "{r}");
        assert!(!r.contains(['0', 'O', '1', 'I']), "{r} has a symbol that reads ambiguously");
    }
    let mine = s.mine(&buyer.token).await;
    let listed: Vec<&str> =
        mine["orders"].as_array().expect("orders").iter().filter_map(|o| o["reference"].as_str()).collect();
    assert_eq!(listed, [ra, rb]);

    // The owner (and the organizer) find the order by its reference, in any case.
    let found = s.get(&format!("/api/orders/{}", ra.to_lowercase()), Some(&buyer.token)).await.ok(200);
    assert_eq!(
        (found["reference"].as_str(), found["sale_id"].as_u64(), found["kind"].as_str()),
        (Some(ra), Some(a), Some("stock"))
    );
    assert_eq!(found["sale_title"], "A");
    assert_eq!(found["stock"]["id"], 1);
    assert_eq!(found["stock"]["status"], "confirmed");
    s.get(&format!("/api/orders/{rb}"), Some(ADMIN)).await.ok(200);
    // Anyone else learns nothing, not even that it exists.
    s.get(&format!("/api/orders/{ra}"), Some(&other.token)).await.problem(404, "/problems/not-found");
    s.get(&format!("/api/orders/{ra}"), None).await.problem(401, "/problems/unauthenticated");
    // A misheard symbol fails the check character instead of finding another order.
    let mut misheard = ra.to_owned();
    let last = misheard.pop().expect("char");
    misheard.push(if last == 'Z' { 'Y' } else { 'Z' });
    s.get(&format!("/api/orders/{misheard}"), Some(&buyer.token)).await.problem(404, "/problems/not-found");
    s.get("/api/orders/not-a-reference", Some(&buyer.token)).await.problem(404, "/problems/not-found");

    // Results and the hold itself carry the same reference.
    let results = s.get(&format!("/api/sales/{a}/results"), Some(ADMIN)).await.ok(200);
    assert_eq!(results["recipients"][0]["reference"], ra);
    let hold = s.hold(a, &buyer.token, 1).await;
    assert_ne!(hold["reference"], ra);
    assert_eq!(hold["id"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_opening_everything_changes_after_only_what_is_safe() {
    let s = Server::start().await;
    let org = s.organizer("editor").await;
    let stranger = s.organizer("stranger").await;
    let buyer = s.users(1, "edit-buyer").await.remove(0);
    let sale = s.stock_sale_by(&org.token, json!({"title": "Draft"})).await;
    let id = sale["id"].as_u64().expect("id");
    let path = format!("/api/sales/{id}");
    let patch = |token: &str, body: Value| {
        let rb = s.request(reqwest::Method::PATCH, &path).bearer_auth(token).json(&body);
        s.send(rb)
    };

    // Scheduled: title, terms and times all change.
    let opens = now_us() + 3_600_000_000;
    let edited = patch(
        &org.token,
        json!({"title": "Final", "description": "Now with a description", "stock": 50, "price": 2500,
               "per_person_limit": 2, "opens_at": rfc3339(opens)}),
    )
    .await
    .ok(200);
    assert_eq!(edited["title"], "Final");
    assert_eq!(edited["description"], "Now with a description");
    assert_eq!(edited["stock"]["total"], 50);
    assert_eq!(edited["stock"]["available"], 50);
    assert_eq!(edited["stock"]["price"], 2500);
    assert_eq!(edited["stock"]["per_person_limit"], 2);
    assert_eq!(edited["stock"]["order_quantity_max"], 3, "terms not sent keep their values");
    assert_eq!(edited["opens_at"], rfc3339(opens));
    assert_eq!(s.sale(id).await, edited);
    // Back to opening by hand.
    let by_hand = patch(&org.token, json!({"opens_at": null})).await.ok(200);
    assert_eq!(by_hand["opens_at"], Value::Null);

    // Who may edit, and what is checked at the edge.
    patch(&buyer.token, json!({"title": "Mine"})).await.problem(403, "/problems/forbidden");
    patch(&stranger.token, json!({"title": "Mine"})).await.problem(403, "/problems/forbidden");
    patch(&org.token, json!({"stock": 0})).await.problem(422, "/problems/invalid-field");
    patch(&org.token, json!({"winners": 3})).await.problem(422, "/problems/invalid-field");
    patch(&org.token, json!({"title": "  "})).await.problem(422, "/problems/invalid-field");
    patch(&org.token, json!({"opens_at": rfc3339(now_us() - 60_000_000)})).await.problem(422, "/problems/bad-schedule");
    let rb = s.request(reqwest::Method::PATCH, &path).bearer_auth(&org.token).json(&json!({"colour": "red"}));
    s.send(rb).await.problem(400, "/problems/malformed-json");
    assert_eq!(s.sale(id).await["title"], "Final", "refusals change nothing");

    // Open: the title and the closing time still change; the stock and opening time do not.
    s.post_empty(&format!("/api/sales/{id}/open"), Some(&org.token)).await.ok(200);
    let before = s.sale(id).await;
    patch(&org.token, json!({"stock": 5})).await.problem(409, "/problems/edit-not-allowed");
    patch(&org.token, json!({"price": 1})).await.problem(409, "/problems/edit-not-allowed");
    patch(&org.token, json!({"opens_at": rfc3339(now_us() + 60_000_000)}))
        .await
        .problem(409, "/problems/edit-not-allowed");
    assert_eq!(s.sale(id).await, before);
    // Unchanged terms are no change, so a form may send them all.
    let closes = now_us() + 7_200_000_000;
    let after =
        patch(&org.token, json!({"title": "Final, again", "stock": 50, "closes_at": rfc3339(closes)})).await.ok(200);
    assert_eq!(after["title"], "Final, again");
    assert_eq!(after["closes_at"], rfc3339(closes));
    assert_eq!(after["stock"]["total"], 50);

    // Edits are commands: the same key answers the same, another key is a new edit.
    let keyed = |key: &str, title: &str| {
        let rb = s
            .request(reqwest::Method::PATCH, &path)
            .bearer_auth(&org.token)
            .header("idempotency-key", key)
            .json(&json!({"title": title}));
        s.send(rb)
    };
    let once = keyed("retitle-1", "Keyed").await.ok(200);
    assert_eq!(keyed("retitle-1", "Keyed").await.ok(200)["title"], once["title"]);
    keyed("retitle-1", "Other").await.problem(422, "/problems/idempotency-key-reused");

    // Closed: only the words change.
    s.post_empty(&format!("/api/sales/{id}/close"), Some(&org.token)).await.ok(200);
    patch(&org.token, json!({"closes_at": null})).await.problem(409, "/problems/edit-not-allowed");
    assert_eq!(patch(&org.token, json!({"description": "Sold through"})).await.ok(200)["description"], "Sold through");

    // The log is the one source: a restart shows the edited sale, and the audit replays every edit.
    let state = s.sale(id).await;
    let dir = s.stop().await;
    let s = Server::start_in(dir).await;
    assert_eq!(s.sale(id).await, state);
    assert_eq!(s.sale(id).await["title"], "Keyed");
    audit(s.stop().await.path());
}

/// `stampede verify` in a test: every sale's log replays to the recorded outcomes.
fn audit(data: &std::path::Path) {
    let mut log = stampede_log::SqliteLog::open(&data.join("log.sqlite")).expect("log");
    for id in log.sales().expect("sales") {
        stampede_engine::replay::audit(&mut log, id).unwrap_or_else(|e| panic!("sale {id}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsold_sale_can_be_deleted_and_a_sold_one_cannot() {
    let s = Server::start().await;
    let org = s.organizer("cleaner").await;
    let buyer = s.users(1, "del-buyer").await.remove(0);
    let test_sale = s.stock_sale_by(&org.token, json!({"title": "Test sale"})).await["id"].as_u64().expect("id");
    let real_sale = s.stock_sale_by(&org.token, json!({"title": "Real sale"})).await["id"].as_u64().expect("id");
    s.post_empty(&format!("/api/sales/{real_sale}/open"), Some(&org.token)).await.ok(200);
    s.hold(real_sale, &buyer.token, 1).await;

    s.delete(&format!("/api/sales/{test_sale}"), Some(&buyer.token)).await.problem(403, "/problems/forbidden");
    s.delete(&format!("/api/sales/{real_sale}"), Some(&org.token)).await.problem(409, "/problems/sale-has-orders");
    let deleted = s.delete(&format!("/api/sales/{test_sale}"), Some(&org.token)).await.ok(200);
    assert_eq!(deleted["archived"], true);
    assert_eq!(deleted["status"], "closed");
    s.delete(&format!("/api/sales/{test_sale}"), Some(&org.token)).await.problem(409, "/problems/sale-archived");

    let listed = |sales: &Value| -> Vec<u64> {
        sales["sales"].as_array().expect("sales").iter().filter_map(|x| x["id"].as_u64()).collect()
    };
    assert_eq!(listed(&s.get("/api/sales", None).await.ok(200)), [real_sale]);
    // It takes nothing any more.
    s.post_empty(&format!("/api/sales/{test_sale}/open"), Some(&org.token))
        .await
        .problem(409, "/problems/already-closed");
    let rb = s
        .request(reqwest::Method::PATCH, &format!("/api/sales/{test_sale}"))
        .bearer_auth(&org.token)
        .json(&json!({"title": "x"}));
    s.send(rb).await.problem(409, "/problems/sale-archived");
    s.reserve(test_sale, &buyer.token, 1).await.problem(409, "/problems/sale-closed");
    // The home page does not show it, and its page is gone for buyers.
    let home = s.get("/", None).await;
    assert!(!home.body.contains("Test sale"), "the home page lists a deleted sale");
    assert_eq!(s.get(&format!("/sales/{test_sale}"), None).await.status, 404);

    // Archived survives a restart, and its log still audits.
    let dir = s.stop().await;
    let s = Server::start_in(dir).await;
    assert_eq!(listed(&s.get("/api/sales", None).await.ok(200)), [real_sale]);
    assert_eq!(s.sale(test_sale).await["archived"], true);
    audit(s.stop().await.path());
}
