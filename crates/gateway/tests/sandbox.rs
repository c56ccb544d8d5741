//! The adapter against the sandbox over real HTTP, both on port 0: the
//! checkout redirect flow, confirm / status / cancel, idempotent retries,
//! declines, expiry, outages, and webhooks (signed, retried, duplicated and
//! reordered as configured). Nothing waits on a sleep: tests await the
//! receiver's channel or the sandbox's delivery reports, under a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use stampede_gateway::sandbox::{
    Delivery, FaultRates, OutageMode, Sandbox, SandboxConfig, SandboxPayments, WebhookPolicy,
};
use stampede_gateway::{
    ErrorKind, Freshness, Gateway, GatewayConfig, GatewayError, IdempotencyKey, PaymentStatus, WebhookError,
    WebhookEvent, WebhookVerifier,
};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

/// Longest any awaited event may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(10);
const WEBHOOK_SECRET: &str = "whsec_test";

struct Running {
    sandbox: Sandbox,
    base: String,
    gateway: Gateway,
    web: reqwest::Client,
}

async fn start(config: SandboxConfig) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sandbox = Sandbox::start(config.clone());
    tokio::spawn(sandbox.clone().serve(listener, std::future::pending()));
    let base = format!("http://{addr}");
    let gateway = Gateway::new(GatewayConfig {
        timeout: Duration::from_secs(5),
        ..GatewayConfig::new(&base, &config.secret_key)
    })
    .unwrap();
    let web = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Running { sandbox, base, gateway, web }
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).unwrap()
}

/// What a merchant's webhook endpoint saw: each verified event, in arrival order.
struct Receiver {
    url: String,
    events: mpsc::UnboundedReceiver<(HeaderMap, Bytes, WebhookEvent)>,
}

#[derive(Clone)]
struct ReceiverState {
    verifier: WebhookVerifier,
    tx: mpsc::UnboundedSender<(HeaderMap, Bytes, WebhookEvent)>,
    /// Attempts to answer 500 before accepting.
    fail_first: Arc<AtomicU32>,
}

async fn receive(State(state): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if state.fail_first.load(Ordering::SeqCst) > 0 {
        state.fail_first.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    match state.verifier.verify(&headers, &body, jiff::Timestamp::now().as_microsecond()) {
        Ok(event) => {
            let _ = state.tx.send((headers, body, event));
            StatusCode::OK
        }
        Err(_) => StatusCode::UNAUTHORIZED,
    }
}

async fn receiver(fail_first: u32) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (tx, events) = mpsc::unbounded_channel();
    let state = ReceiverState {
        verifier: WebhookVerifier::new(WEBHOOK_SECRET),
        tx,
        fail_first: Arc::new(AtomicU32::new(fail_first)),
    };
    let app = axum::Router::new().route("/webhooks/payments", post(receive)).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Receiver { url: format!("http://{addr}/webhooks/payments"), events }
}

impl Receiver {
    async fn next(&mut self) -> (HeaderMap, Bytes, WebhookEvent) {
        tokio::time::timeout(DEADLINE, self.events.recv()).await.expect("a webhook within the deadline").unwrap()
    }
}

async fn next_delivery(reports: &mut broadcast::Receiver<Delivery>) -> Delivery {
    tokio::time::timeout(DEADLINE, reports.recv()).await.expect("a delivery within the deadline").unwrap()
}

fn config_with(url: Option<&str>, faults: FaultRates) -> SandboxConfig {
    SandboxConfig {
        webhook_secret: WEBHOOK_SECRET.into(),
        webhook_url: url.map(str::to_owned),
        seed: 42,
        faults,
        webhooks: WebhookPolicy { backoff_first: Duration::from_millis(10), ..WebhookPolicy::default() },
        ..SandboxConfig::default()
    }
}

/// The buyer's side: opens the checkout page and presses a button; returns
/// the redirect's location.
async fn checkout(run: &Running, order_id: &str, amount: u64, button: &str) -> String {
    let query = format!(
        "orderId={order_id}&amount={amount}&orderName=VIP%20%EC%A2%8C%EC%84%9D&successUrl=http%3A%2F%2Fshop.test%2Fpay%2Fok&failUrl=http%3A%2F%2Fshop.test%2Fpay%2Ffail"
    );
    let page = run.web.get(format!("{}/checkout?{query}", run.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("결제 승인") && html.contains("Approve") && html.contains(order_id), "{html}");
    assert!(html.contains("VIP 좌석"));
    let resp = run
        .web
        .post(format!("{}/checkout/{button}", run.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    resp.headers()["location"].to_str().unwrap().to_owned()
}

fn query_value(location: &str, name: &str) -> String {
    let query = location.split_once('?').unwrap().1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("{name} in {location}"))
        .to_owned()
}

/// Checks out and approves; returns the payment key.
async fn approved(run: &Running, order_id: &str, amount: u64) -> String {
    let location = checkout(run, order_id, amount, "approve").await;
    assert!(location.starts_with("http://shop.test/pay/ok?"), "{location}");
    assert_eq!(query_value(&location, "orderId"), order_id);
    assert_eq!(query_value(&location, "amount"), amount.to_string());
    query_value(&location, "paymentKey")
}

#[tokio::test]
async fn checkout_confirm_status_and_refunds() {
    let run = start(config_with(None, FaultRates::default())).await;
    let pk = approved(&run, "order-0001", 30_000).await;
    assert_eq!(run.gateway.status(&pk).await.unwrap().status, PaymentStatus::Ready);

    let done = run.gateway.confirm(&pk, "order-0001", 30_000, &key("o1:confirm")).await.unwrap();
    assert_eq!((done.status, done.total_amount, done.balance_amount), (PaymentStatus::Done, 30_000, 30_000));
    assert!(done.approved_at.is_some());
    assert_eq!(run.gateway.status(&pk).await.unwrap(), done);
    assert_eq!(run.gateway.status_by_order("order-0001").await.unwrap(), done);

    let part = run.gateway.cancel(&pk, "one seat returned", Some(10_000), &key("o1:refund:1")).await.unwrap();
    assert_eq!((part.status, part.balance_amount), (PaymentStatus::PartialCanceled, 20_000));
    assert_eq!(part.cancels.len(), 1);
    assert!(part.version > done.version);
    let over = run.gateway.cancel(&pk, "too much", Some(20_001), &key("o1:refund:2")).await.unwrap_err();
    assert_eq!((over.kind(), over.code()), (ErrorKind::BadRequest, Some("NOT_CANCELABLE_AMOUNT")));
    let rest = run.gateway.cancel(&pk, "the rest", None, &key("o1:refund:3")).await.unwrap();
    assert_eq!((rest.status, rest.balance_amount, rest.cancels.len()), (PaymentStatus::Canceled, 0, 2));
    let again = run.gateway.cancel(&pk, "again", None, &key("o1:refund:4")).await.unwrap_err();
    assert_eq!(again.code(), Some("ALREADY_CANCELED_PAYMENT"));

    // Wrong amount or order on confirm, unknown payments, a wrong secret key.
    let pk2 = approved(&run, "order-0002", 5_000).await;
    let wrong = run.gateway.confirm(&pk2, "order-0002", 4_000, &key("o2:confirm:a")).await.unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::BadRequest);
    let wrong = run.gateway.confirm(&pk2, "order-9999", 5_000, &key("o2:confirm:b")).await.unwrap_err();
    assert_eq!(wrong.kind(), ErrorKind::BadRequest);
    let missing = run.gateway.status("sbx_nothing").await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert_eq!(run.gateway.status_by_order("order-none").await.unwrap_err().kind(), ErrorKind::NotFound);
    let stranger = Gateway::new(GatewayConfig::new(&run.base, "test_sk_wrong")).unwrap();
    assert_eq!(stranger.status(&pk2).await.unwrap_err().kind(), ErrorKind::Config);
    // An order already paid cannot be checked out again.
    let location = checkout(&run, "order-0001", 30_000, "approve").await;
    assert!(location.starts_with("http://shop.test/pay/fail?"), "{location}");
    assert_eq!(query_value(&location, "code"), "DUPLICATED_ORDER_ID");
}

#[tokio::test]
async fn idempotent_retries_get_the_first_answer() {
    let run = start(config_with(None, FaultRates::default())).await;
    let pk = approved(&run, "order-idem-1", 12_000).await;
    let first = run.gateway.confirm(&pk, "order-idem-1", 12_000, &key("idem:confirm")).await.unwrap();
    let retry = run.gateway.confirm(&pk, "order-idem-1", 12_000, &key("idem:confirm")).await.unwrap();
    assert_eq!(first, retry);
    // A new key is a new request: the payment is already confirmed.
    let other = run.gateway.confirm(&pk, "order-idem-1", 12_000, &key("idem:confirm:2")).await.unwrap_err();
    assert_eq!(other.code(), Some("ALREADY_PROCESSED_PAYMENT"));

    let refund = run.gateway.cancel(&pk, "seat", Some(2_000), &key("idem:refund")).await.unwrap();
    let refund_again = run.gateway.cancel(&pk, "seat", Some(2_000), &key("idem:refund")).await.unwrap();
    assert_eq!(refund, refund_again);
    let now = run.gateway.status(&pk).await.unwrap();
    assert_eq!((now.balance_amount, now.cancels.len()), (10_000, 1), "one refund, not two");
    // The same key with another request is refused, not answered with the first.
    let reused = run.gateway.cancel(&pk, "seat", Some(3_000), &key("idem:refund")).await.unwrap_err();
    assert_eq!(reused.code(), Some("IDEMPOTENCY_KEY_REUSED"));
    assert_eq!(run.gateway.status(&pk).await.unwrap().balance_amount, 10_000);

    // Concurrent retries of one confirmation capture once.
    let pk = approved(&run, "order-idem-2", 7_000).await;
    let calls = (0..8).map(|_| {
        let gateway = run.gateway.clone();
        let pk = pk.clone();
        tokio::spawn(async move { gateway.confirm(&pk, "order-idem-2", 7_000, &key("idem2:confirm")).await })
    });
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(answers[0].version, 2, "READY then DONE, once");
}

#[tokio::test]
async fn declines_are_final_and_the_checkout_can_be_declined() {
    let run = start(config_with(None, FaultRates { decline_pct: 100, ..FaultRates::default() })).await;
    let pk = approved(&run, "order-decl-1", 9_000).await;
    let declined = run.gateway.confirm(&pk, "order-decl-1", 9_000, &key("decl:confirm")).await.unwrap_err();
    assert!(matches!(declined, GatewayError::Declined { .. }), "{declined:?}");
    assert!(!declined.is_retryable());
    let retried = run.gateway.confirm(&pk, "order-decl-1", 9_000, &key("decl:confirm")).await.unwrap_err();
    assert_eq!(retried.kind(), ErrorKind::Declined);
    let new_key = run.gateway.confirm(&pk, "order-decl-1", 9_000, &key("decl:confirm:2")).await.unwrap_err();
    assert_eq!(new_key.kind(), ErrorKind::Declined);
    let aborted = run.gateway.status(&pk).await.unwrap();
    assert_eq!((aborted.status, aborted.balance_amount), (PaymentStatus::Aborted, 0));
    assert_eq!(aborted.failure.unwrap().code, "REJECT_CARD_PAYMENT");
    // After a decline the order may be paid again: a new payment.
    let pk2 = approved(&run, "order-decl-1", 9_000).await;
    assert_ne!(pk, pk2);

    let location = checkout(&run, "order-decl-2", 9_000, "decline").await;
    assert!(location.starts_with("http://shop.test/pay/fail?"), "{location}");
    assert_eq!(query_value(&location, "code"), "PAY_PROCESS_CANCELED");
    assert_eq!(query_value(&location, "orderId"), "order-decl-2");
    assert_eq!(run.gateway.status_by_order("order-decl-2").await.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn outage_answers_are_retryable_and_the_retry_lands_once() {
    let run = start(config_with(None, FaultRates::default())).await;
    let pk = approved(&run, "order-out-1", 1_000).await;
    run.sandbox.outage_for(Duration::from_secs(3600));
    let down = run.gateway.confirm(&pk, "order-out-1", 1_000, &key("out:confirm")).await.unwrap_err();
    assert!(down.is_retryable(), "{down:?}");
    let GatewayError::Unavailable { retry_after, .. } = &down else { panic!("{down:?}") };
    assert!(retry_after.is_some());
    assert!(run.gateway.status(&pk).await.unwrap_err().is_retryable());
    // The operator view answers during an outage, and the payment is untouched.
    let view: SandboxPayments =
        run.web.get(format!("{}/sandbox/payments", run.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(view.payments.len(), 1);
    assert_eq!(view.payments[0].payment.status, PaymentStatus::Ready);
    // The operator route ends it.
    let end = run.web.put(format!("{}/sandbox/outage", run.base)).body(r#"{"seconds":0}"#).send().await.unwrap();
    assert_eq!(end.status(), 204);
    let done = run.gateway.confirm(&pk, "order-out-1", 1_000, &key("out:confirm")).await.unwrap();
    assert_eq!(done.status, PaymentStatus::Done);
}

#[tokio::test]
async fn a_hanging_outage_is_a_timeout_and_retryable() {
    let mut config = config_with(None, FaultRates::default());
    config.outage_mode = OutageMode::Hang;
    let run = start(config).await;
    let pk = approved(&run, "order-hang-1", 1_000).await;
    run.sandbox.outage_for(Duration::from_secs(3600));
    let impatient = Gateway::new(GatewayConfig {
        timeout: Duration::from_millis(200),
        ..GatewayConfig::new(&run.base, "test_sk_sandbox")
    })
    .unwrap();
    let err = impatient.confirm(&pk, "order-hang-1", 1_000, &key("hang:confirm")).await.unwrap_err();
    assert!(matches!(err, GatewayError::Timeout(_)), "{err:?}");
    assert!(err.is_retryable());
    run.sandbox.outage_for(Duration::ZERO);
    assert_eq!(run.gateway.status(&pk).await.unwrap().status, PaymentStatus::Ready);
}

#[tokio::test]
async fn webhooks_are_signed_retried_until_2xx_and_verifiable() {
    let mut rx = receiver(2).await;
    let run = start(config_with(Some(&rx.url), FaultRates::default())).await;
    let mut reports = run.sandbox.deliveries();
    let pk = approved(&run, "order-hook-1", 4_000).await;
    run.gateway.confirm(&pk, "order-hook-1", 4_000, &key("hook:confirm")).await.unwrap();
    let (headers, body, event) = rx.next().await;
    assert_eq!((event.data.status, event.data.version), (PaymentStatus::Done, 2));
    assert_eq!(event.data.payment_key, pk);
    let report = next_delivery(&mut reports).await;
    assert!(report.delivered);
    assert_eq!(report.attempts, 3, "two 500s, then 200");

    // The captured request: verifiable now, not ten minutes later, not changed,
    // not with another secret.
    let now = jiff::Timestamp::now().as_microsecond();
    let verifier = WebhookVerifier::new(WEBHOOK_SECRET);
    assert_eq!(verifier.verify(&headers, &body, now).unwrap(), event);
    let later = now + 600 * 1_000_000;
    assert!(matches!(verifier.verify(&headers, &body, later), Err(WebhookError::OutsideTolerance { .. })));
    let mut changed = body.to_vec();
    let at = String::from_utf8_lossy(&changed).find("4000").unwrap();
    changed[at] = b'9';
    assert_eq!(verifier.verify(&headers, &changed, now), Err(WebhookError::BadSignature));
    assert_eq!(WebhookVerifier::new("whsec_other").verify(&headers, &body, now), Err(WebhookError::BadSignature));
    let mut unsigned = headers.clone();
    unsigned.remove("tosspayments-webhook-signature");
    assert!(matches!(verifier.verify(&unsigned, &body, now), Err(WebhookError::MissingHeader(_))));

    // The refund's webhook follows; the operator view counts both.
    run.gateway.cancel(&pk, "refund", None, &key("hook:refund")).await.unwrap();
    let (_, _, event) = rx.next().await;
    assert_eq!((event.data.status, event.data.version), (PaymentStatus::Canceled, 3));
    assert!(next_delivery(&mut reports).await.delivered);
    let view = run.sandbox.payments();
    assert_eq!(view.payments[0].webhooks_delivered, 2);
}

#[tokio::test]
async fn duplicates_and_reorders_are_delivered_as_configured() {
    // Every event twice.
    let mut rx = receiver(0).await;
    let run = start(config_with(Some(&rx.url), FaultRates { duplicate_pct: 100, ..FaultRates::default() })).await;
    let pk = approved(&run, "order-dup-1", 2_000).await;
    run.gateway.confirm(&pk, "order-dup-1", 2_000, &key("dup:confirm")).await.unwrap();
    let (_, _, a) = rx.next().await;
    let (_, _, b) = rx.next().await;
    assert_eq!(a, b);
    assert_eq!(a.event_id, format!("evt_{pk}_2"));
    // A receiver keeping the last version applies it once.
    assert_eq!(Freshness::of(None, a.data.version), Freshness::New);
    assert_eq!(Freshness::of(Some(a.data.version), b.data.version), Freshness::Duplicate);

    // Every event held back until the payment's next one: the refund (v3)
    // arrives before the capture (v2).
    let mut rx = receiver(0).await;
    let run = start(config_with(Some(&rx.url), FaultRates { reorder_pct: 100, ..FaultRates::default() })).await;
    let pk = approved(&run, "order-reo-1", 2_000).await;
    run.gateway.confirm(&pk, "order-reo-1", 2_000, &key("reo:confirm")).await.unwrap();
    run.gateway.cancel(&pk, "refund", None, &key("reo:refund")).await.unwrap();
    let (_, _, first) = rx.next().await;
    let (_, _, second) = rx.next().await;
    assert_eq!((first.data.version, first.data.status), (3, PaymentStatus::Canceled));
    assert_eq!((second.data.version, second.data.status), (2, PaymentStatus::Done));
    assert_eq!(Freshness::of(Some(first.data.version), second.data.version), Freshness::Stale);
}

#[tokio::test]
async fn unconfirmed_payments_expire_with_a_webhook() {
    let mut rx = receiver(0).await;
    let mut config = config_with(Some(&rx.url), FaultRates::default());
    config.confirm_window = Duration::from_millis(1);
    let run = start(config).await;
    let pk = approved(&run, "order-exp-1", 3_000).await;
    let (_, _, event) = rx.next().await;
    assert_eq!((event.data.payment_key.as_str(), event.data.status), (pk.as_str(), PaymentStatus::Expired));
    let late = run.gateway.confirm(&pk, "order-exp-1", 3_000, &key("exp:confirm")).await.unwrap_err();
    assert_eq!((late.kind(), late.code()), (ErrorKind::NotFound, Some("NOT_FOUND_PAYMENT_SESSION")));
}

#[tokio::test]
async fn the_seed_fixes_payment_keys_and_declines() {
    let rates = FaultRates { decline_pct: 50, ..FaultRates::default() };
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        let run = start(config_with(None, rates)).await;
        let mut seen = Vec::new();
        for i in 0..12 {
            let order = format!("order-seed-{i:02}");
            let pk = approved(&run, &order, 1_000).await;
            let declined = run.gateway.confirm(&pk, &order, 1_000, &key(&format!("{order}:confirm"))).await.is_err();
            seen.push((pk, declined));
        }
        outcomes.push(seen);
    }
    assert_eq!(outcomes[0], outcomes[1]);
    let declined = outcomes[0].iter().filter(|(_, d)| *d).count();
    assert!((1..12).contains(&declined), "about half of 12 declined, got {declined}");
}
