//! Sending webhooks: every change of a payment becomes a signed
//! `PAYMENT_STATUS_CHANGED` event, POSTed to the configured URL and retried
//! with growing pauses until it is answered 2xx (or the attempts run out).
//!
//! The seed decides which events are sent twice (two independent deliveries
//! of the same event id) and which are held back: a held event goes out
//! right after the payment's next event, or alone once `reorder_hold` has
//! passed, so a receiver sees a newer version before an older one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Uri};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tokio::time::Instant;

use super::Outage;
use super::faults::Faults;
use crate::http::{Failure, Http};
use crate::payment::{Payment, PaymentStatus};
use crate::webhook::{self, PAYMENT_STATUS_CHANGED, WebhookEvent};

/// How webhooks are sent.
#[derive(Clone, Debug)]
pub struct WebhookPolicy {
    /// Attempts per delivery, the first included.
    pub attempts_max: u32,
    /// The pause after the first failed attempt; each next one is four times
    /// longer (Toss Payments: 1, 4, 16, 64 … minutes), up to `backoff_max`.
    pub backoff_first: Duration,
    pub backoff_max: Duration,
    /// Each attempt must be answered within this.
    pub timeout: Duration,
    /// Longest a reordered event waits for its payment's next event.
    pub reorder_hold: Duration,
    /// Deliveries under way at once (each with its retries).
    pub in_flight_max: usize,
    /// Events waiting to be sent; a change waits for room.
    pub outbox_len_max: usize,
    /// Events held back for reordering at once; beyond it they go out in order.
    pub held_max: usize,
}

impl Default for WebhookPolicy {
    fn default() -> Self {
        WebhookPolicy {
            attempts_max: 8,
            backoff_first: Duration::from_millis(100),
            backoff_max: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
            reorder_hold: Duration::from_millis(500),
            in_flight_max: 64,
            outbox_len_max: 4096,
            held_max: 4096,
        }
    }
}

/// The end of one delivery (one copy of one event), for whoever watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: String,
    pub payment_key: String,
    pub order_id: String,
    pub version: u64,
    pub status: PaymentStatus,
    /// Attempts made, the successful one included.
    pub attempts: u32,
    /// Answered 2xx; `false`: every attempt failed, or no webhook URL is set.
    pub delivered: bool,
    /// The last attempt's HTTP status or failure.
    pub last: String,
}

pub(crate) struct Courier {
    pub url: Option<Uri>,
    pub secret: Vec<u8>,
    pub policy: WebhookPolicy,
    pub faults: Faults,
    pub outage: Arc<Outage>,
    pub http: Http,
    pub reports: broadcast::Sender<Delivery>,
    pub in_flight: Arc<Semaphore>,
}

/// Takes changes from the outbox in order, decides reorders and duplicates,
/// and starts the deliveries. Ends when every sender of the outbox is gone.
pub(crate) async fn dispatch(mut outbox: mpsc::Receiver<Payment>, courier: Arc<Courier>) {
    let mut held: BTreeMap<String, (Payment, Instant)> = BTreeMap::new();
    loop {
        let next_release = held.values().map(|(_, at)| *at).min();
        tokio::select! {
            change = outbox.recv() => {
                let Some(payment) = change else { break };
                if let Some((older, _)) = held.remove(&payment.payment_key) {
                    // The older event starts only once the newer one is
                    // through, so the receiver surely sees them swapped.
                    let newer_done = launch(&courier, payment, None).await;
                    launch(&courier, older, Some(newer_done)).await;
                } else if held.len() < courier.policy.held_max
                    && courier.faults.reorders(&payment.payment_key, payment.version)
                {
                    let release = Instant::now() + courier.policy.reorder_hold;
                    held.insert(payment.payment_key.clone(), (payment, release));
                } else {
                    launch(&courier, payment, None).await;
                }
            }
            () = tokio::time::sleep_until(next_release.unwrap_or_else(Instant::now)), if next_release.is_some() => {
                let now = Instant::now();
                let due: Vec<String> = held.iter().filter(|(_, (_, at))| *at <= now).map(|(k, _)| k.clone()).collect();
                for key in due {
                    if let Some((payment, _)) = held.remove(&key) {
                        launch(&courier, payment, None).await;
                    }
                }
            }
        }
    }
    for (_, (payment, _)) in std::mem::take(&mut held) {
        launch(&courier, payment, None).await;
    }
}

/// Starts the delivery of one event (twice when the seed duplicates it),
/// after `after` fires if given; the answer fires when the first copy's
/// delivery has ended.
async fn launch(
    courier: &Arc<Courier>,
    payment: Payment,
    after: Option<oneshot::Receiver<()>>,
) -> oneshot::Receiver<()> {
    let (done_tx, done_rx) = oneshot::channel();
    let copies = if courier.faults.duplicates(&payment.payment_key, payment.version) { 2 } else { 1 };
    let event = WebhookEvent {
        event_type: PAYMENT_STATUS_CHANGED.into(),
        event_id: format!("evt_{}_{}", payment.payment_key, payment.version),
        created_at: jiff::Timestamp::now().to_string(),
        data: payment,
    };
    let body = match serde_json::to_vec(&event) {
        Ok(body) => Bytes::from(body),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a webhook");
            return done_rx;
        }
    };
    match after {
        // Waiting for a place holds the dispatcher, and so the outbox, back:
        // the bound on deliveries is also a bound on memory.
        None => start_copies(courier.clone(), event, body, copies, done_tx).await,
        // Takes its places only once the newer event is through, so a full
        // house cannot leave it waiting on itself; such waiters are bounded
        // by `held_max`.
        Some(after) => {
            let courier = courier.clone();
            tokio::spawn(async move {
                let _ = after.await;
                start_copies(courier, event, body, copies, done_tx).await;
            });
        }
    }
    done_rx
}

async fn start_copies(courier: Arc<Courier>, event: WebhookEvent, body: Bytes, copies: u8, done: oneshot::Sender<()>) {
    let mut done = Some(done);
    for _ in 0..copies {
        let Ok(permit) = courier.in_flight.clone().acquire_owned().await else { return };
        let courier = courier.clone();
        let event = event.clone();
        let body = body.clone();
        let done = done.take();
        tokio::spawn(async move {
            let report = deliver(&courier, &event, body).await;
            drop(permit);
            if let Some(done) = done {
                let _ = done.send(());
            }
            // Nobody listening is fine.
            let _ = courier.reports.send(report);
        });
    }
}

async fn deliver(courier: &Courier, event: &WebhookEvent, body: Bytes) -> Delivery {
    let mut report = Delivery {
        event_id: event.event_id.clone(),
        payment_key: event.data.payment_key.clone(),
        order_id: event.data.order_id.clone(),
        version: event.data.version,
        status: event.data.status,
        attempts: 0,
        delivered: false,
        last: String::new(),
    };
    let Some(url) = &courier.url else {
        report.last = "no webhook URL configured".into();
        return report;
    };
    let mut pause = courier.policy.backoff_first;
    for attempt in 1..=courier.policy.attempts_max.max(1) {
        report.attempts = attempt;
        report.last = if courier.outage.active() {
            // The gateway is down: it sends nothing either.
            "outage".into()
        } else {
            let sent_at = jiff::Timestamp::now().to_string();
            let signature = webhook::sign(&courier.secret, &body, &sent_at);
            match request(url, body.clone(), &sent_at, &signature) {
                Err(e) => {
                    report.last = e;
                    return report;
                }
                Ok(req) => match courier.http.send(req, courier.policy.timeout).await {
                    Ok(answer) if answer.status.is_success() => {
                        report.delivered = true;
                        report.last = answer.status.as_u16().to_string();
                        return report;
                    }
                    Ok(answer) => answer.status.as_u16().to_string(),
                    Err(Failure::Timeout) => "timeout".into(),
                    Err(Failure::Transport(e)) => e,
                },
            }
        };
        if attempt < courier.policy.attempts_max {
            // The retry schedule is the behaviour being simulated, not a wait
            // for something else to happen.
            tokio::time::sleep(pause).await;
            pause = (pause * 4).min(courier.policy.backoff_max);
        }
    }
    tracing::warn!(event = %report.event_id, last = %report.last, "webhook given up");
    report
}

fn request(url: &Uri, body: Bytes, sent_at: &str, signature: &str) -> Result<Request<Full<Bytes>>, String> {
    let header = |v: &str| HeaderValue::from_str(v).map_err(|e| e.to_string());
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = url.clone();
    let headers = req.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(webhook::TRANSMISSION_TIME_HEADER, header(sent_at)?);
    headers.insert(webhook::SIGNATURE_HEADER, header(signature)?);
    Ok(req)
}
