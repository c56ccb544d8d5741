//! The wallet over HTTP (issue 13): an admin's grant, paying for a stock or
//! seat hold from the wallet, refusals that change nothing (402 for a short
//! wallet, 402 for a priced confirm without paying), retries that charge
//! once, money going back on refunds, and a saga a restart finds half-way
//! (the ledger's pending transfer written, the rest not) settled by the sale's
//! word: confirmed → posted, otherwise voided.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use stampede_core::{
    AccountId, Action, HoldId, IdempotencyKey, Money, Movement, Transfer, TransferBody, TransferCode, TransferId,
    TransferRefs, UserId,
};

use crate::common::{ADMIN, Server, ShiftedClock, User};
use crate::seats::{seat_ids, seated_sale};

async fn grant(s: &Server, user: u64, amount: i64) -> Value {
    s.post(&format!("/api/admin/wallets/{user}/grant"), Some(ADMIN), json!({"amount": amount, "note": "test"}))
        .await
        .ok(201)
}

async fn wallet(s: &Server, u: &User) -> Value {
    s.get("/api/me/wallet", Some(&u.token)).await.ok(200)
}

/// `(balance, available, pending)`.
fn amounts(w: &Value) -> (u64, u64, u64) {
    (w["balance"].as_u64().unwrap(), w["available"].as_u64().unwrap(), w["pending"].as_u64().unwrap())
}

fn pay_path(sale: u64, hold: u64) -> String {
    format!("/api/sales/{sale}/holds/{hold}/pay")
}

async fn pay(s: &Server, sale: u64, hold: u64, u: &User) -> crate::common::Resp {
    s.post(&pay_path(sale, hold), Some(&u.token), json!({"provider": "wallet"})).await
}

/// The order's status in the buyer's list of orders.
async fn order_status(s: &Server, u: &User, sale: u64, order: u64) -> Option<String> {
    let orders = s.get("/api/me/orders", Some(&u.token)).await.ok(200);
    orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["sale_id"] == sale && o["id"] == order)
        .map(|o| o["status"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_grant_needs_an_admin_is_idempotent_and_shows_as_a_grant() {
    let s = Server::start().await;
    let u = s.users(2, "granted").await;
    let path = format!("/api/admin/wallets/{}/grant", u[0].id);
    s.post(&path, Some(&u[1].token), json!({"amount": 1000})).await.problem(403, "/problems/forbidden");
    s.post(&path, None, json!({"amount": 1000})).await.problem(401, "/problems/unauthenticated");
    s.post(&path, Some(ADMIN), json!({"amount": 0})).await.problem(422, "/problems/invalid-field");
    s.post("/api/admin/wallets/999999/grant", Some(ADMIN), json!({"amount": 5}))
        .await
        .problem(404, "/problems/not-found");
    assert_eq!(amounts(&wallet(&s, &u[0]).await), (0, 0, 0), "refusals granted nothing");

    let first = s.post_keyed(&path, ADMIN, "grant-1", Some(json!({"amount": 7000}))).await.ok(201);
    let again = s.post_keyed(&path, ADMIN, "grant-1", Some(json!({"amount": 7000}))).await.ok(201);
    assert_eq!(first["id"], again["id"], "the same key names the same transfer");
    s.post_keyed(&path, ADMIN, "grant-1", Some(json!({"amount": 8000})))
        .await
        .problem(422, "/problems/idempotency-key-reused");
    s.post_keyed(&path, ADMIN, "grant-2", Some(json!({"amount": 500}))).await.ok(201);

    let w = wallet(&s, &u[0]).await;
    assert_eq!(amounts(&w), (7500, 7500, 0), "{w}");
    let lines = w["statement"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{w}");
    assert!(lines.iter().all(|l| l["kind"] == "grant" && l["state"] == "done"), "{w}");
    let mut got: Vec<i64> = lines.iter().map(|l| l["amount"].as_i64().unwrap()).collect();
    got.sort_unstable();
    assert_eq!(got, vec![500, 7000]);
    assert_eq!(amounts(&wallet(&s, &u[1]).await), (0, 0, 0), "another wallet is untouched");
}

#[tokio::test]
async fn paying_takes_the_total_confirms_the_hold_and_a_retry_charges_once() {
    let s = Server::start().await;
    let u = s.users(1, "payer").await.remove(0);
    let sale = s.open_stock_sale(json!({"price": 1500})).await;
    grant(&s, u.id, 10_000).await;
    let hold = s.hold(sale, &u.token, 2).await["id"].as_u64().unwrap();

    // A priced hold cannot be confirmed without paying.
    let p = s.post_empty(&format!("/api/sales/{sale}/holds/{hold}/confirm"), Some(&u.token)).await;
    let p = p.problem(402, "/problems/payment-required");
    assert!(p["detail"].as_str().unwrap().contains(&pay_path(sale, hold)), "{p}");
    s.post(&pay_path(sale, hold), Some(&u.token), json!({"provider": "card"}))
        .await
        .problem(400, "/problems/malformed-json");
    assert_eq!(s.numbers(sale).await, (8, 2, 0), "nothing confirmed yet");

    let paid =
        s.post_keyed(&pay_path(sale, hold), &u.token, "pay-1", Some(json!({"provider": "wallet"}))).await.ok(200);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amount"], 3000);
    assert_eq!(paid["available"], 7000);
    assert_eq!(s.numbers(sale).await, (8, 0, 2));
    assert_eq!(order_status(&s, &u, sale, hold).await.as_deref(), Some("confirmed"));

    // Retries, with the same key and without one, answer paid and take nothing more.
    let again =
        s.post_keyed(&pay_path(sale, hold), &u.token, "pay-1", Some(json!({"provider": "wallet"}))).await.ok(200);
    assert_eq!(again["amount"], 3000);
    let again = pay(&s, sale, hold, &u).await.ok(200);
    assert_eq!(again["amount"], 3000);
    let w = wallet(&s, &u).await;
    assert_eq!(amounts(&w), (7000, 7000, 0), "{w}");
    let line = &w["statement"][0];
    assert_eq!(line["kind"], "wallet-payment", "{w}");
    assert_eq!(line["amount"], -3000, "{w}");
    assert_eq!(line["state"], "posted", "{w}");
    assert_eq!(line["order"], paid["reference"], "{w}");
    assert_eq!(w["statement"].as_array().unwrap().len(), 2, "one payment and one grant: {w}");
}

#[tokio::test]
async fn a_short_wallet_is_refused_with_402_and_nothing_changes() {
    let s = Server::start().await;
    let u = s.users(1, "short").await.remove(0);
    let sale = s.open_stock_sale(json!({"price": 1000})).await;
    grant(&s, u.id, 1500).await;
    let hold = s.hold(sale, &u.token, 2).await["id"].as_u64().unwrap();
    let before = (s.state(sale).await, wallet(&s, &u).await);
    let p = pay(&s, sale, hold, &u).await.problem(402, "/problems/insufficient-funds");
    assert!(p["detail"].as_str().unwrap().contains("2000"), "{p}");
    let after = (s.state(sale).await, wallet(&s, &u).await);
    assert_eq!(after, before, "a refused payment changed nothing");
    assert_eq!(amounts(&after.1), (1500, 1500, 0));
    // With enough money the same hold is paid.
    grant(&s, u.id, 500).await;
    pay(&s, sale, hold, &u).await.ok(200);
    assert_eq!(amounts(&wallet(&s, &u).await), (0, 0, 0));
}

#[tokio::test]
async fn only_the_booker_pays_and_free_holds_confirm_as_before() {
    let s = Server::start().await;
    let u = s.users(2, "free").await;
    let free = s.open_stock_sale(json!({"price": 0})).await;
    let h = s.hold(free, &u[0].token, 1).await["id"].as_u64().unwrap();
    s.post_empty(&format!("/api/sales/{free}/holds/{h}/confirm"), Some(&u[0].token)).await.ok(200);

    let sale = s.open_stock_sale(json!({"price": 1000})).await;
    grant(&s, u[1].id, 5000).await;
    let h = s.hold(sale, &u[0].token, 1).await["id"].as_u64().unwrap();
    pay(&s, sale, h, &u[1]).await.problem(403, "/problems/not-your-hold");
    assert_eq!(amounts(&wallet(&s, &u[1]).await), (5000, 5000, 0));
    pay(&s, sale, 999, &u[1]).await.problem(404, "/problems/not-found");
}

/// Money reserved by a payment whose confirm the sale refuses (here the
/// hold expired while the first attempt was cut off after reserving) is
/// voided by the retry, and nothing is taken.
#[tokio::test]
async fn paying_after_expiry_voids_the_reservation_and_releases_the_money() {
    let clock = Arc::new(ShiftedClock(AtomicI64::new(0)));
    let s = Server::start_with(tempfile::tempdir().unwrap(), clock.clone()).await;
    let u = s.users(1, "late").await.remove(0);
    let sale = s.open_stock_sale(json!({"price": 1000, "hold_seconds": 10})).await;
    grant(&s, u.id, 5000).await;
    let hold = s.hold(sale, &u.token, 1).await["id"].as_u64().unwrap();
    // The saga's first step, as a request cut off after it would leave it.
    reserve_like_the_saga(&s, sale, hold, u.id, 1000).await;
    assert_eq!(amounts(&wallet(&s, &u).await), (5000, 4000, 1000));

    clock.0.store(11_000_000, Ordering::SeqCst);
    pay(&s, sale, hold, &u).await.problem(409, "/problems/hold-expired");
    let w = wallet(&s, &u).await;
    assert_eq!(amounts(&w), (5000, 5000, 0), "{w}");
    assert_eq!(w["statement"][0]["state"], "voided", "{w}");
    assert_eq!(s.numbers(sale).await, (10, 0, 0), "the stock is back");
    // A hold that expired with nothing reserved is refused before anything is reserved.
    let h2 = s.hold(sale, &u.token, 1).await["id"].as_u64().unwrap();
    clock.0.store(22_000_000, Ordering::SeqCst);
    pay(&s, sale, h2, &u).await.problem(409, "/problems/hold-expired");
    assert_eq!(amounts(&wallet(&s, &u).await), (5000, 5000, 0));
}

#[tokio::test]
async fn refunds_give_the_money_back_and_revenue_follows() {
    let s = Server::start().await;
    let u = s.users(1, "refunded").await.remove(0);
    let sale = s.open_stock_sale(json!({"price": 1000})).await;
    grant(&s, u.id, 10_000).await;
    let a = s.hold(sale, &u.token, 2).await["id"].as_u64().unwrap();
    pay(&s, sale, a, &u).await.ok(200);
    let b = s.hold(sale, &u.token, 1).await["id"].as_u64().unwrap();
    pay(&s, sale, b, &u).await.ok(200);
    assert_eq!(amounts(&wallet(&s, &u).await), (7000, 7000, 0));

    let refunded = s.post_empty(&format!("/api/sales/{sale}/orders/{a}/refund"), Some(&u.token)).await.ok(200);
    assert_eq!(refunded["status"], "refunded");
    let w = wallet(&s, &u).await;
    assert_eq!(amounts(&w), (9000, 9000, 0), "{w}");
    let line = &w["statement"][0];
    assert_eq!(
        (line["kind"].as_str(), line["amount"].as_i64(), line["state"].as_str()),
        (Some("refund"), Some(2000), Some("posted"))
    );
    // A second refund is refused by the sale and moves no money.
    s.post_empty(&format!("/api/sales/{sale}/orders/{a}/refund"), Some(&u.token))
        .await
        .problem(409, "/problems/already-refunded");
    assert_eq!(amounts(&wallet(&s, &u).await), (9000, 9000, 0));

    // Clearing holds what the sale's revenue says it kept.
    let stats = s.get(&format!("/api/sales/{sale}/stats"), Some(ADMIN)).await.ok(200);
    assert_eq!(stats["revenue"], 1000, "{stats}");
    let clearing = s.engine.ledger_account(AccountId::Clearing).await.unwrap().unwrap();
    assert_eq!(clearing.balance(), 1000);
}

#[tokio::test]
async fn a_seat_order_is_paid_and_one_seat_given_back_is_refunded() {
    let s = Server::start().await;
    let u = s.users(1, "seated").await.remove(0);
    let sale = seated_sale(&s, json!({})).await;
    grant(&s, u.id, 1_000_000).await;
    let held = crate::seats::hold(&s, sale, &u, json!({"seats": [0, 1]})).await.ok(201);
    let order = held["id"].as_u64().unwrap();
    assert_eq!(seat_ids(&held), vec![0, 1]);
    s.post_empty(&format!("/api/sales/{sale}/seats/holds/{order}/confirm"), Some(&u.token))
        .await
        .problem(402, "/problems/payment-required");
    let paid = pay(&s, sale, order, &u).await.ok(200);
    assert_eq!(paid["amount"], 300_000);
    assert_eq!(amounts(&wallet(&s, &u).await), (700_000, 700_000, 0));

    let base = format!("/api/sales/{sale}/seats/holds/{order}");
    let released = s.post(&format!("{base}/release"), Some(&u.token), json!({"seat": 0})).await.ok(200);
    assert_eq!(released["status"], "confirmed");
    let w = wallet(&s, &u).await;
    assert_eq!(amounts(&w), (850_000, 850_000, 0), "{w}");
    assert_eq!(w["statement"][0]["id"], format!("refund:{sale}:{order}:0"));
    // A paid order's seat changes only for one at the same price.
    let (floor, balcony) = (2, 12);
    s.post(&format!("{base}/swap"), Some(&u.token), json!({"from": 1, "to": balcony}))
        .await
        .problem(409, "/problems/swap-changes-price");
    let swapped = s.post(&format!("{base}/swap"), Some(&u.token), json!({"from": 1, "to": floor})).await.ok(200);
    assert_eq!(seat_ids(&swapped), vec![floor]);
    assert_eq!(amounts(&wallet(&s, &u).await), (850_000, 850_000, 0), "a swap moves no money");
    // The rest of the order: only what is left of it comes back.
    s.post_empty(&format!("/api/sales/{sale}/seats/orders/{order}/refund"), Some(&u.token)).await.ok(200);
    assert_eq!(amounts(&wallet(&s, &u).await), (1_000_000, 1_000_000, 0));
    let clearing = s.engine.ledger_account(AccountId::Clearing).await.unwrap().unwrap();
    assert_eq!(clearing.balance(), 0);
}

/// What the saga's first step writes: a pending transfer `pay:{sale}:{hold}`.
async fn reserve_like_the_saga(s: &Server, sale: u64, hold: u64, user: u64, amount: u64) {
    let movement = Movement {
        debit: AccountId::Wallet(UserId(user)),
        credit: AccountId::Clearing,
        amount: Money::from_minor(amount),
        code: TransferCode::WalletPayment,
        refs: TransferRefs::default(),
    };
    let transfer = Transfer {
        id: TransferId::parse(&format!("pay:{sale}:{hold}")).unwrap(),
        body: TransferBody::Pending { movement, timeout_us: 3_600_000_000 },
    };
    let acked = s.engine.ledger_command(transfer).await.unwrap();
    assert!(matches!(acked.outcome, stampede_core::LedgerOutcome::Reserved { .. }), "{acked:?}");
}

/// A server stopped between the saga's steps: for one hold after the
/// reservation and the sale's confirm (before the post), for another after
/// the reservation alone. On restart, before any request is answered, the
/// first is posted and the second voided.
#[tokio::test]
async fn a_restart_settles_a_saga_left_half_way_by_the_sales_word() {
    let s = Server::start().await;
    let u = s.users(1, "crash").await.remove(0);
    let sale = s.open_stock_sale(json!({"price": 1000})).await;
    grant(&s, u.id, 10_000).await;
    let confirmed = s.hold(sale, &u.token, 2).await["id"].as_u64().unwrap();
    let unconfirmed = s.hold(sale, &u.token, 1).await["id"].as_u64().unwrap();
    reserve_like_the_saga(&s, sale, confirmed, u.id, 2000).await;
    reserve_like_the_saga(&s, sale, unconfirmed, u.id, 1000).await;
    let key = IdempotencyKey::parse("crash-confirm").unwrap();
    s.engine.command(sale, UserId(u.id), key, Action::Confirm { hold: HoldId(confirmed) }).await.unwrap();
    assert_eq!(amounts(&wallet(&s, &u).await), (10_000, 7000, 3000), "both reserved, nothing taken");

    let s = Server::start_in(s.stop().await).await;
    let w = wallet(&s, &u).await;
    assert_eq!(amounts(&w), (8000, 8000, 0), "the confirmed one posted, the other voided: {w}");
    let state_of = |id: String| {
        w["statement"].as_array().unwrap().iter().find(|l| l["id"] == id.as_str()).map(|l| l["state"].clone())
    };
    assert_eq!(state_of(format!("pay:{sale}:{confirmed}")), Some(json!("posted")));
    assert_eq!(state_of(format!("pay:{sale}:{unconfirmed}")), Some(json!("voided")));
    assert_eq!(order_status(&s, &u, sale, confirmed).await.as_deref(), Some("confirmed"));
    let clearing = s.engine.ledger_account(AccountId::Clearing).await.unwrap().unwrap();
    assert_eq!(clearing.balance(), 2000);
    // The unconfirmed hold is still held: paying again is a new attempt.
    let paid = pay(&s, sale, unconfirmed, &u).await.ok(200);
    assert_eq!(paid["amount"], 1000);
    let w = wallet(&s, &u).await;
    assert_eq!(amounts(&w), (7000, 7000, 0), "{w}");
    assert_eq!(w["statement"][0]["id"], format!("pay:{sale}:{unconfirmed}:2"), "{w}");
}
