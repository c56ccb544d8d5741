//! The sandbox gateway: an in-memory stand-in for Toss Payments that
//! `stampede gateway-sandbox` and the tests run on any port.
//!
//! - `GET /checkout?orderId&amount&orderName&successUrl&failUrl`: the hosted
//!   checkout page (`checkout.rs`); approving redirects to `successUrl` with
//!   `paymentKey`, `orderId` and `amount`, declining to `failUrl` with a code.
//! - `POST /v1/payments/confirm`, `GET /v1/payments/{paymentKey}`,
//!   `GET /v1/payments/orders/{orderId}`, `POST /v1/payments/{paymentKey}/cancel`:
//!   the API the adapter calls, basic-authenticated with the secret key, with
//!   idempotency keys honoured (the first answer is kept and repeated).
//! - Webhooks for every change, signed, retried (`deliver.rs`).
//! - `GET /sandbox/payments`: every payment as the sandbox has it, for a test
//!   reading "both sides"; `PUT /sandbox/outage {"seconds": n}` starts (or,
//!   with 0, ends) an outage now.
//!
//! Faults come from the seed (`faults.rs`): declines, duplicated and
//! reordered webhooks; an outage window answers 503 (or hangs) to everything
//! but the operator routes and sends no webhooks; a fixed latency slows every
//! API answer. Everything is bounded: payments, remembered idempotency keys,
//! the webhook outbox and the deliveries under way.

mod book;
mod checkout;
mod deliver;
mod faults;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::time::Instant;

pub use book::{AMOUNT_MAX, Limits, PaymentBook, Refusal, Step, iso};
pub use deliver::{Delivery, WebhookPolicy};
pub use faults::FaultRates;

use crate::http::Http;
use crate::payment::{ErrorBody, Payment};
use faults::Faults;

/// How the sandbox behaves during an outage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutageMode {
    /// Answer `503 PROVIDER_ERROR` with `Retry-After` at once.
    #[default]
    Refuse,
    /// Answer nothing until the outage ends (then 503): the caller's timeout fires.
    Hang,
}

/// An outage planned at start: from `after` the start, for `length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutageWindow {
    pub after: Duration,
    pub length: Duration,
}

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The merchant's secret key the API accepts (basic auth user).
    pub secret_key: String,
    /// The shared secret webhooks are signed with.
    pub webhook_secret: String,
    /// Where webhooks go (`http://…`); none: changes are only recorded.
    pub webhook_url: Option<String>,
    /// Fixes every fault decision and every payment key.
    pub seed: u64,
    pub faults: FaultRates,
    pub outage: Option<OutageWindow>,
    pub outage_mode: OutageMode,
    /// Added before every API answer.
    pub latency: Duration,
    /// How long a `READY` payment waits for its confirmation before it expires.
    pub confirm_window: Duration,
    /// Most payments kept.
    pub payments_max: usize,
    /// Most idempotency keys remembered; the oldest is forgotten first.
    pub idempotency_keys_max: usize,
    pub webhooks: WebhookPolicy,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            secret_key: "test_sk_sandbox".into(),
            webhook_secret: "whsec_sandbox".into(),
            webhook_url: None,
            seed: 0,
            faults: FaultRates::default(),
            outage: None,
            outage_mode: OutageMode::Refuse,
            latency: Duration::ZERO,
            confirm_window: Duration::from_secs(600),
            payments_max: 100_000,
            idempotency_keys_max: 100_000,
            webhooks: WebhookPolicy::default(),
        }
    }
}

/// When the gateway is down.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    window: Mutex<Option<(Instant, Instant)>>,
}

impl Outage {
    /// The end of the outage under way, if one is.
    fn until(&self) -> Option<Instant> {
        let now = Instant::now();
        match *self.window.lock() {
            Some((from, until)) if from <= now && now < until => Some(until),
            _ => None,
        }
    }

    pub(crate) fn active(&self) -> bool {
        self.until().is_some()
    }

    fn set(&self, from: Instant, until: Instant) {
        *self.window.lock() = Some((from, until));
    }
}

/// What an idempotency key was first answered.
struct Remembered {
    /// The method, path and body it came with: the same key with another
    /// request is refused, not answered with the first one's result.
    fingerprint: [u8; 32],
    status: StatusCode,
    body: Bytes,
}

struct Books {
    payments: PaymentBook,
    remembered: BTreeMap<String, Remembered>,
    remembered_order: VecDeque<String>,
}

struct Inner {
    config: SandboxConfig,
    faults: Faults,
    books: Mutex<Books>,
    outage: Arc<Outage>,
    outbox: mpsc::Sender<Payment>,
    reports: broadcast::Sender<Delivery>,
    /// Deliveries that ended 2xx, per payment key (for the operator view).
    delivered: Mutex<BTreeMap<String, u32>>,
    authorization: String,
}

/// A running sandbox; clones share it. Dropping the last clone stops its
/// background tasks once the webhooks under way are done.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

/// Every payment and how many of its webhooks were delivered.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxPayment {
    #[serde(flatten)]
    pub payment: Payment,
    pub webhooks_delivered: u32,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SandboxPayments {
    pub payments: Vec<SandboxPayment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmIn {
    payment_key: String,
    order_id: String,
    amount: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelIn {
    cancel_reason: String,
    #[serde(default)]
    cancel_amount: Option<u64>,
}

#[derive(Deserialize)]
struct OutageIn {
    seconds: u64,
}

fn now_us() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(ErrorBody { code: code.into(), message: message.into() })).into_response()
}

fn json_answer(status: StatusCode, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

impl Sandbox {
    /// Starts the sandbox's background tasks (webhook dispatch, expiry of
    /// unconfirmed payments); needs a tokio runtime.
    pub fn start(config: SandboxConfig) -> Sandbox {
        let faults = Faults { seed: config.seed, rates: config.faults };
        let outage = Arc::new(Outage::default());
        if let Some(window) = config.outage {
            let from = Instant::now() + window.after;
            outage.set(from, from + window.length);
        }
        let (outbox, outbox_rx) = mpsc::channel(config.webhooks.outbox_len_max.max(1));
        let (reports, _) = broadcast::channel(1024);
        let url = config.webhook_url.as_deref().and_then(|u| match u.parse() {
            Ok(uri) => Some(uri),
            Err(e) => {
                tracing::error!(url = u, error = %e, "the webhook URL does not parse; webhooks are not sent");
                None
            }
        });
        let courier = Arc::new(deliver::Courier {
            url,
            secret: config.webhook_secret.clone().into_bytes(),
            policy: config.webhooks.clone(),
            faults,
            outage: outage.clone(),
            http: Http::new(config.webhooks.timeout),
            reports: reports.clone(),
            in_flight: Arc::new(Semaphore::new(config.webhooks.in_flight_max.max(1))),
        });
        tokio::spawn(deliver::dispatch(outbox_rx, courier));
        let limits = Limits {
            payments_max: config.payments_max,
            confirm_window_us: i64::try_from(config.confirm_window.as_micros()).unwrap_or(i64::MAX),
        };
        let authorization =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:", config.secret_key)));
        let inner = Arc::new(Inner {
            config,
            faults,
            books: Mutex::new(Books {
                payments: PaymentBook::new(limits),
                remembered: BTreeMap::new(),
                remembered_order: VecDeque::new(),
            }),
            outage,
            outbox,
            reports,
            delivered: Mutex::new(BTreeMap::new()),
            authorization,
        });
        tokio::spawn(expire_unconfirmed(Arc::downgrade(&inner)));
        tokio::spawn(count_deliveries(Arc::downgrade(&inner), inner.reports.subscribe()));
        Sandbox { inner }
    }

    /// Every webhook delivery's end (delivered or given up), from now on.
    pub fn deliveries(&self) -> broadcast::Receiver<Delivery> {
        self.inner.reports.subscribe()
    }

    /// Starts an outage now, for `length` (zero ends one under way).
    pub fn outage_for(&self, length: Duration) {
        let now = Instant::now();
        self.inner.outage.set(now, now + length);
    }

    /// Every payment, as `GET /sandbox/payments` shows them.
    pub fn payments(&self) -> SandboxPayments {
        let all = self.inner.books.lock().payments.all();
        let delivered = self.inner.delivered.lock();
        SandboxPayments {
            payments: all
                .into_iter()
                .map(|payment| {
                    let webhooks_delivered = delivered.get(&payment.payment_key).copied().unwrap_or(0);
                    SandboxPayment { payment, webhooks_delivered }
                })
                .collect(),
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/checkout", get(checkout::page))
            .route("/checkout/approve", post(checkout::approve))
            .route("/checkout/decline", post(checkout::decline))
            .route("/v1/payments/confirm", post(confirm))
            .route("/v1/payments/orders/{order_id}", get(status_by_order))
            .route("/v1/payments/{payment_key}", get(status))
            .route("/v1/payments/{payment_key}/cancel", post(cancel))
            .route("/sandbox/payments", get(operator_payments))
            .route("/sandbox/outage", put(operator_outage))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await
    }

    /// The outage check and the latency every gateway route goes through.
    async fn gate(&self) -> Result<(), Response> {
        if let Some(until) = self.inner.outage.until() {
            if self.inner.config.outage_mode == OutageMode::Hang {
                // Simulates a gateway that accepts and never answers.
                tokio::time::sleep_until(until).await;
            }
            let left_s = until.saturating_duration_since(Instant::now()).as_secs().max(1);
            let mut answer =
                error(StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_ERROR", "the sandbox gateway is in an outage");
            if let Ok(v) = HeaderValue::from_str(&left_s.to_string()) {
                answer.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return Err(answer);
        }
        if !self.inner.config.latency.is_zero() {
            tokio::time::sleep(self.inner.config.latency).await;
        }
        Ok(())
    }

    async fn api_gate(&self, headers: &HeaderMap) -> Result<(), Response> {
        self.gate().await?;
        let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        // A sandbox key is no secret worth a constant-time comparison.
        if given != self.inner.authorization {
            return Err(error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED_KEY", "unknown secret key"));
        }
        Ok(())
    }

    /// Runs `act` once per idempotency key: a repeated key with the same
    /// request gets the first answer (marked `idempotent-replayed: true`); with
    /// another request, 422.
    fn once(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
        act: impl FnOnce(&mut PaymentBook) -> Step,
    ) -> Response {
        let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
            None => None,
            Some(Ok(k)) if !k.is_empty() && k.len() <= crate::client::IDEMPOTENCY_KEY_LEN_MAX => Some(k.to_owned()),
            Some(_) => return error(StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY", "1 to 300 visible characters"),
        };
        let mut fingerprint = Sha256::new();
        fingerprint.update(path.as_bytes());
        fingerprint.update([0]);
        fingerprint.update(body);
        let fingerprint: [u8; 32] = fingerprint.finalize().into();
        let (answer, changed) = {
            let mut books = self.inner.books.lock();
            if let Some(key) = &key
                && let Some(first) = books.remembered.get(key)
            {
                if first.fingerprint != fingerprint {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "IDEMPOTENCY_KEY_REUSED",
                        "this idempotency key came with another request",
                    );
                }
                let mut answer = json_answer(first.status, first.body.clone());
                answer.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
                return answer;
            }
            let step = act(&mut books.payments);
            let (status, body) = match &step.answer {
                Ok(payment) => (StatusCode::OK, serde_json::to_vec(payment)),
                Err(refusal) => (
                    StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
                    serde_json::to_vec(&ErrorBody { code: refusal.code.into(), message: refusal.message.clone() }),
                ),
            };
            let body = Bytes::from(body.unwrap_or_default());
            // A full sandbox said nothing about the payment: do not pin it.
            if let Some(key) = key
                && status != StatusCode::SERVICE_UNAVAILABLE
            {
                if books.remembered.len() >= self.inner.config.idempotency_keys_max.max(1)
                    && let Some(oldest) = books.remembered_order.pop_front()
                {
                    books.remembered.remove(&oldest);
                }
                books.remembered_order.push_back(key.clone());
                books.remembered.insert(key, Remembered { fingerprint, status, body: body.clone() });
            }
            (json_answer(status, body), step.changed)
        };
        self.send_changes(changed);
        answer
    }

    fn send_changes(&self, changed: Vec<Payment>) {
        if changed.is_empty() {
            return;
        }
        let outbox = self.inner.outbox.clone();
        // In order, off the request: the outbox may be full for a moment.
        tokio::spawn(async move {
            for payment in changed {
                if outbox.send(payment).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Expires `READY` payments whose confirmation window passed, four times a second.
async fn expire_unconfirmed(sandbox: std::sync::Weak<Inner>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = sandbox.upgrade() else { return };
        let changed = inner.books.lock().payments.expire_due(now_us());
        for payment in changed {
            if inner.outbox.send(payment).await.is_err() {
                return;
            }
        }
    }
}

async fn count_deliveries(sandbox: std::sync::Weak<Inner>, mut reports: broadcast::Receiver<Delivery>) {
    loop {
        match reports.recv().await {
            Ok(d) => {
                let Some(inner) = sandbox.upgrade() else { return };
                if d.delivered {
                    *inner.delivered.lock().entry(d.payment_key).or_default() += 1;
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(missed = n, "delivery counts fell behind"),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", e.to_string())))
}

async fn confirm(State(sandbox): State<Sandbox>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(answer) = sandbox.api_gate(&headers).await {
        return answer;
    }
    let input: ConfirmIn = match parse(&body) {
        Ok(input) => input,
        Err(answer) => return *answer,
    };
    let declined = sandbox.inner.faults.declines(&input.payment_key);
    sandbox.once(&headers, "/v1/payments/confirm", &body, |book| {
        book.confirm(&input.payment_key, &input.order_id, input.amount, declined, now_us())
    })
}

async fn cancel(
    State(sandbox): State<Sandbox>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(answer) = sandbox.api_gate(&headers).await {
        return answer;
    }
    let input: CancelIn = match parse(&body) {
        Ok(input) => input,
        Err(answer) => return *answer,
    };
    let path = format!("/v1/payments/{payment_key}/cancel");
    sandbox.once(&headers, &path, &body, |book| {
        book.cancel(&payment_key, &input.cancel_reason, input.cancel_amount, now_us())
    })
}

fn read_answer(found: Result<Payment, Refusal>) -> Response {
    match found {
        Ok(payment) => axum::Json(payment).into_response(),
        Err(r) => error(StatusCode::from_u16(r.status).unwrap_or(StatusCode::NOT_FOUND), r.code, r.message),
    }
}

async fn status(State(sandbox): State<Sandbox>, Path(payment_key): Path<String>, headers: HeaderMap) -> Response {
    if let Err(answer) = sandbox.api_gate(&headers).await {
        return answer;
    }
    read_answer(sandbox.inner.books.lock().payments.get(&payment_key))
}

async fn status_by_order(State(sandbox): State<Sandbox>, Path(order_id): Path<String>, headers: HeaderMap) -> Response {
    if let Err(answer) = sandbox.api_gate(&headers).await {
        return answer;
    }
    read_answer(sandbox.inner.books.lock().payments.get_by_order(&order_id))
}

async fn operator_payments(State(sandbox): State<Sandbox>) -> Response {
    axum::Json(sandbox.payments()).into_response()
}

async fn operator_outage(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    match parse::<OutageIn>(&body) {
        Ok(OutageIn { seconds }) => {
            sandbox.outage_for(Duration::from_secs(seconds));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(answer) => *answer,
    }
}
