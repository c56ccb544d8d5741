//! Card payments through the sandbox gateway, over real HTTP on both sides:
//! the checkout page approved (the order paid, a ticket issued, the money in
//! the gateway's book), declined (nothing changes, a new attempt pays), and
//! completed after the hold ran out (captured, given back, both recorded).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::common::{ADMIN, Server, ShiftedClock, User};

struct Both {
    server: Server,
    gateway: String,
    clock: Arc<ShiftedClock>,
    /// Follows no redirect, as a test of where each one goes must.
    browser: reqwest::Client,
}

async fn start() -> Both {
    let clock = Arc::new(ShiftedClock(std::sync::atomic::AtomicI64::new(0)));
    let (server, gateway) = Server::start_with_sandbox(clock.clone()).await;
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    Both { server, gateway, clock, browser }
}

/// Asks to pay `hold` by card; answers the checkout URL.
async fn checkout(b: &Both, sale: u64, hold: u64, buyer: &User) -> String {
    let out = b
        .server
        .post(&format!("/api/sales/{sale}/holds/{hold}/pay"), Some(&buyer.token), json!({"provider": "gateway"}))
        .await
        .ok(200);
    assert_eq!((out["provider"].as_str(), out["status"].as_str()), (Some("gateway"), Some("redirect")), "{out}");
    let url = out["checkout_url"].as_str().expect("checkout_url").to_owned();
    assert!(url.starts_with(&format!("{}/checkout?", b.gateway)), "{url}");
    url
}

/// Presses approve or decline on the gateway's page; answers where the
/// gateway sends the buyer back.
async fn press(b: &Both, checkout_url: &str, button: &str) -> String {
    let page = b.browser.get(checkout_url).send().await.expect("checkout page");
    assert_eq!(page.status(), 200);
    // The page's form carries the checkout's own fields: post them back as it would.
    let form = checkout_url.split_once('?').expect("query").1.to_owned();
    let back = b
        .browser
        .post(format!("{}/checkout/{button}", b.gateway))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("press");
    assert_eq!(back.status(), 303);
    back.headers()["location"].to_str().expect("location").to_owned()
}

/// Follows the gateway's redirect back to the server; answers where the server sends the buyer.
async fn come_back(b: &Both, location: &str) -> String {
    assert!(location.starts_with(&b.server.base), "the gateway sends the buyer back to the server: {location}");
    let r = b.browser.get(location).send().await.expect("return");
    assert_eq!(r.status(), 303, "{location}");
    r.headers()["location"].to_str().expect("location").to_owned()
}

async fn payments_at_gateway(b: &Both) -> Vec<Value> {
    let all: Value = b
        .browser
        .get(format!("{}/sandbox/payments", b.gateway))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    all.as_array().cloned().or_else(|| all["payments"].as_array().cloned()).expect("payments")
}

async fn hold_status(s: &Server, sale: u64, hold: u64) -> Value {
    let holds = s.get(&format!("/api/sales/{sale}/holds?limit=100"), Some(ADMIN)).await.ok(200);
    let list = holds["holds"].as_array().or_else(|| holds.as_array()).cloned().expect("holds");
    list.into_iter().find(|h| h["id"] == hold).map(|h| h["status"].clone()).expect("the hold")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_card_payment_pays_the_order_and_a_declined_one_changes_nothing() {
    let b = start().await;
    let s = &b.server;
    let sale = s.open_stock_sale(json!({"price": 55000, "title": "Card gig"})).await;
    let buyer = s.users(1, "card").await.remove(0);
    let hold = s.hold(sale, &buyer.token, 1).await["id"].as_u64().expect("id");

    // Declined on the gateway's page: back on the sale page, the hold still held.
    let url = checkout(&b, sale, hold, &buyer).await;
    let back = press(&b, &url, "decline").await;
    assert_eq!(come_back(&b, &back).await, format!("/sales/{sale}?payment=declined"));
    assert_eq!(hold_status(s, sale, hold).await, "held");
    assert!(s.get("/api/me/tickets", Some(&buyer.token)).await.ok(200)["tickets"].as_array().expect("t").is_empty());

    // A second attempt (a new order id at the gateway), approved: paid.
    let again = checkout(&b, sale, hold, &buyer).await;
    assert_ne!(again, url, "a declined attempt is not reused");
    let back = press(&b, &again, "approve").await;
    assert_eq!(come_back(&b, &back).await, format!("/sales/{sale}?payment=paid"));
    assert_eq!(hold_status(s, sale, hold).await, "confirmed");
    let tickets = s.get("/api/me/tickets", Some(&buyer.token)).await.ok(200);
    assert_eq!(tickets["tickets"].as_array().expect("t").len(), 1, "{tickets}");
    let done: Vec<Value> = payments_at_gateway(&b).await.into_iter().filter(|p| p["status"] == "DONE").collect();
    assert_eq!(done.len(), 1, "one capture at the gateway");
    assert_eq!(done[0]["totalAmount"], 55000);
    // Coming back twice (a reload) changes nothing.
    assert_eq!(come_back(&b, &back).await, format!("/sales/{sale}?payment=paid"));
    assert_eq!(payments_at_gateway(&b).await.iter().filter(|p| p["status"] == "DONE").count(), 1);
    // The wallet was never touched.
    let wallet = s.get("/api/me/wallet", Some(&buyer.token)).await.ok(200);
    assert_eq!(wallet["balance"], 0, "{wallet}");

    // A refund goes back through the gateway that took the money.
    s.post_empty(&format!("/api/sales/{sale}/orders/{hold}/refund"), Some(&buyer.token)).await.ok(200);
    assert_eq!(hold_status(s, sale, hold).await, "refunded");
    let payment =
        payments_at_gateway(&b).await.into_iter().find(|p| p["totalAmount"] == 55000 && p["approvedAt"].is_string());
    let payment = payment.expect("the captured payment");
    assert_eq!(
        (payment["status"].as_str(), payment["balanceAmount"].as_u64()),
        (Some("CANCELED"), Some(0)),
        "{payment}"
    );
    let tickets = s.get("/api/me/tickets", Some(&buyer.token)).await.ok(200);
    assert_eq!(tickets["tickets"][0]["state"], "revoked", "{tickets}");
    assert_eq!(s.numbers(sale).await.0, 10, "the unit is back on sale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_payment_completed_after_the_hold_ran_out_is_given_back() {
    let b = start().await;
    let s = &b.server;
    let sale = s.open_stock_sale(json!({"price": 30000, "hold_seconds": 10})).await;
    let buyer = s.users(1, "late").await.remove(0);
    let hold = s.hold(sale, &buyer.token, 1).await["id"].as_u64().expect("id");
    let url = checkout(&b, sale, hold, &buyer).await;
    let back = press(&b, &url, "approve").await;
    // The buyer dawdled: the hold runs out before they come back.
    b.clock.0.fetch_add(11_000_000, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(come_back(&b, &back).await, format!("/sales/{sale}?payment=refunded"));
    assert_eq!(hold_status(s, sale, hold).await, "expired");
    let payments = payments_at_gateway(&b).await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["status"], "CANCELED", "captured, then given back: {payments:?}");
    assert!(s.get("/api/me/tickets", Some(&buyer.token)).await.ok(200)["tickets"].as_array().expect("t").is_empty());
    // The stock is back on sale.
    assert_eq!(s.numbers(sale).await.0, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_payments_refuse_what_they_must() {
    let b = start().await;
    let s = &b.server;
    let sale = s.open_stock_sale(json!({"price": 1000})).await;
    let users = s.users(2, "cardno").await;
    let hold = s.hold(sale, &users[0].token, 1).await["id"].as_u64().expect("id");
    // Someone else's hold.
    s.post(&format!("/api/sales/{sale}/holds/{hold}/pay"), Some(&users[1].token), json!({"provider": "gateway"}))
        .await
        .problem(403, "/problems/not-your-hold");
    // A forged return: an amount other than the order's is refused, nothing taken.
    let url = checkout(&b, sale, hold, &users[0]).await;
    let order_id = reqwest::Url::parse(&url)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "orderId")
        .map(|(_, v)| v.into_owned())
        .expect("orderId");
    s.post(
        "/api/payments/gateway/confirm",
        Some(&users[0].token),
        json!({"paymentKey": "pk_forged", "orderId": order_id, "amount": 1}),
    )
    .await
    .problem(422, "/problems/amount-mismatch");
    s.post(
        "/api/payments/gateway/confirm",
        Some(&users[0].token),
        json!({"paymentKey": "pk", "orderId": "NOPE-1", "amount": 1000}),
    )
    .await
    .problem(404, "/problems/not-found");
    assert_eq!(hold_status(s, sale, hold).await, "held");
    // An unsigned webhook is refused.
    let r = b
        .browser
        .post(format!("{}/api/payments/gateway/webhook", s.base))
        .header("content-type", "application/json")
        .body(r#"{"eventType":"PAYMENT_STATUS_CHANGED"}"#)
        .send()
        .await
        .expect("webhook");
    assert_eq!(r.status(), 401);
}
