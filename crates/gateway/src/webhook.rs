//! Webhooks: the gateway's signature over them, checking it, the typed event,
//! and deciding whether an event is new, a duplicate or a stale reorder.
//!
//! The scheme (docs/API.md, "Payment webhooks", has the receiver's side in full) follows the one
//! Toss Payments uses for the webhooks it signs:
//! - `tosspayments-webhook-transmission-time`: when this attempt was sent
//!   (RFC 3339); every retry is signed afresh with its own time;
//! - `tosspayments-webhook-signature`: `v1:` and one or more base64
//!   HMAC-SHA256 values, comma-separated (two while a secret is rotated),
//!   each over the text `{raw body}:{transmission time}` with a shared secret.
//!
//! The time is inside the signed text, so a captured request cannot be
//! replayed with a fresh time; the receiver refuses one whose time is further
//! than the tolerance from its own clock. Webhooks are at-least-once and
//! unordered: each carries the whole payment with its `version`, so the
//! receiver applies one only if its version is newer than what it holds
//! ([`Freshness::of`]), and skipping an older one loses nothing.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::payment::Payment;

/// The header with the signatures.
pub const SIGNATURE_HEADER: &str = "tosspayments-webhook-signature";
/// The header with the signed transmission time.
pub const TRANSMISSION_TIME_HEADER: &str = "tosspayments-webhook-transmission-time";
/// The only event type the sandbox sends.
pub const PAYMENT_STATUS_CHANGED: &str = "PAYMENT_STATUS_CHANGED";
/// How far a webhook's transmission time may be from the receiver's clock.
pub const TOLERANCE_DEFAULT: Duration = Duration::from_secs(300);
/// At most this many signatures in one header are tried.
const SIGNATURES_MAX: usize = 4;

type HmacSha256 = Hmac<Sha256>;

/// A verified webhook: a payment's status changed; `data` is the payment now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEvent {
    pub event_type: String,
    /// Unique per event; a duplicated delivery repeats it.
    pub event_id: String,
    pub created_at: String,
    pub data: Payment,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("the {0} header is missing or not text")]
    MissingHeader(&'static str),
    #[error("the signature header is not `v1:` and base64 values")]
    MalformedSignature,
    #[error("no signature matches the body")]
    BadSignature,
    #[error("the transmission time is not an RFC 3339 time")]
    MalformedTime,
    #[error("the transmission time is {age_s} s away from now, over the tolerance of {tolerance_s} s")]
    OutsideTolerance { age_s: i64, tolerance_s: u64 },
    #[error("the body is not a payment event: {0}")]
    MalformedBody(String),
    /// A correctly signed event of a type this receiver does not handle:
    /// answer 2xx so the gateway stops sending it.
    #[error("unsupported event type {0:?}")]
    UnsupportedEvent(String),
}

/// Signs `body` as sent at `transmission_time`: the signature header's value.
pub fn sign(secret: &[u8], body: &[u8], transmission_time: &str) -> String {
    format!("v1:{}", base64::engine::general_purpose::STANDARD.encode(mac(secret, body, transmission_time)))
}

fn mac(secret: &[u8], body: &[u8], transmission_time: &str) -> [u8; 32] {
    let mut m = new_mac(secret);
    m.update(body);
    m.update(b":");
    m.update(transmission_time.as_bytes());
    m.finalize().into_bytes().into()
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length (a long one is hashed first), so this
    // cannot fail; the fallback keeps the function total without a panic.
    match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => {
            let mut m = <HmacSha256 as KeyInit>::new(&Default::default());
            m.update(secret);
            m
        }
    }
}

/// Checks webhooks signed with a shared secret (or either of two, while one is rotated).
#[derive(Clone)]
pub struct WebhookVerifier {
    secrets: Vec<Vec<u8>>,
    tolerance: Duration,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("secrets", &self.secrets.len())
            .field("tolerance", &self.tolerance)
            .finish()
    }
}

impl WebhookVerifier {
    pub fn new(secret: impl Into<Vec<u8>>) -> WebhookVerifier {
        WebhookVerifier { secrets: vec![secret.into()], tolerance: TOLERANCE_DEFAULT }
    }

    /// Also accepts webhooks signed with `secret` (the old one, while rotating).
    pub fn also_accepting(mut self, secret: impl Into<Vec<u8>>) -> WebhookVerifier {
        self.secrets.push(secret.into());
        self
    }

    pub fn with_tolerance(mut self, tolerance: Duration) -> WebhookVerifier {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a request's headers and raw body at `now_us` (microseconds
    /// since the Unix epoch) and parses the event.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now_us: i64) -> Result<WebhookEvent, WebhookError> {
        let text = |name: &'static str| {
            headers.get(name).and_then(|v| v.to_str().ok()).ok_or(WebhookError::MissingHeader(name))
        };
        self.verify_parts(text(SIGNATURE_HEADER)?, text(TRANSMISSION_TIME_HEADER)?, body, now_us)
    }

    /// [`Self::verify`] on the two header values.
    pub fn verify_parts(
        &self,
        signature: &str,
        transmission_time: &str,
        body: &[u8],
        now_us: i64,
    ) -> Result<WebhookEvent, WebhookError> {
        let values = signature.trim().strip_prefix("v1:").ok_or(WebhookError::MalformedSignature)?;
        let mut given = Vec::new();
        for value in values.split(',').take(SIGNATURES_MAX) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|_| WebhookError::MalformedSignature)?;
            given.push(bytes);
        }
        // The signature first: nothing unauthenticated (not even the time) is
        // reported back in detail.
        let signed = self.secrets.iter().any(|secret| {
            given.iter().any(|sig| {
                let mut m = new_mac(secret);
                m.update(body);
                m.update(b":");
                m.update(transmission_time.as_bytes());
                // Constant time: `verify_slice` compares without an early exit.
                m.verify_slice(sig).is_ok()
            })
        });
        if !signed {
            return Err(WebhookError::BadSignature);
        }
        let sent: jiff::Timestamp = transmission_time.trim().parse().map_err(|_| WebhookError::MalformedTime)?;
        let age_us = now_us.saturating_sub(sent.as_microsecond());
        let tolerance_us = i64::try_from(self.tolerance.as_micros()).unwrap_or(i64::MAX);
        if age_us.saturating_abs() > tolerance_us {
            return Err(WebhookError::OutsideTolerance {
                age_s: age_us / 1_000_000,
                tolerance_s: self.tolerance.as_secs(),
            });
        }
        let event: WebhookEvent =
            serde_json::from_slice(body).map_err(|e| WebhookError::MalformedBody(e.to_string()))?;
        if event.event_type != PAYMENT_STATUS_CHANGED {
            return Err(WebhookError::UnsupportedEvent(event.event_type));
        }
        Ok(event)
    }
}

/// What a receiver should do with an event, given the newest version of the
/// payment it has applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Newer than anything applied: apply it (it carries the whole payment).
    New,
    /// The version already applied (a duplicated delivery): acknowledge, do nothing.
    Duplicate,
    /// Older than what is applied (a reordered delivery): acknowledge, do nothing.
    Stale,
}

impl Freshness {
    pub fn of(applied: Option<u64>, incoming: u64) -> Freshness {
        match applied {
            None => Freshness::New,
            Some(v) if incoming > v => Freshness::New,
            Some(v) if incoming == v => Freshness::Duplicate,
            Some(_) => Freshness::Stale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "eventType": PAYMENT_STATUS_CHANGED, "eventId": "evt_1", "createdAt": "2026-12-01T00:00:00Z",
            "data": {"paymentKey": "pk_1", "orderId": "o_1", "status": "DONE", "totalAmount": 1000,
                     "balanceAmount": 1000, "requestedAt": "2026-12-01T00:00:00Z", "version": 2}
        }))
        .unwrap()
    }

    const T: &str = "2026-12-01T00:00:10Z";

    fn now_us(offset_s: i64) -> i64 {
        T.parse::<jiff::Timestamp>().unwrap().as_microsecond() + offset_s * 1_000_000
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let mut m = new_mac(b"Jefe");
        m.update(b"what do ya want for nothing?");
        let hex: String = m.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_signed_event_verifies_and_parses() {
        let sig = sign(b"whsec", &body(), T);
        let event = WebhookVerifier::new("whsec").verify_parts(&sig, T, &body(), now_us(3)).unwrap();
        assert_eq!(event.event_id, "evt_1");
        assert_eq!(event.data.version, 2);
        // Either of two signatures (rotation), and either of two secrets.
        let two = format!("{},{}", sign(b"old", &body(), T), &sig[3..]);
        assert!(WebhookVerifier::new("whsec").verify_parts(&two, T, &body(), now_us(0)).is_ok());
        let rotating = WebhookVerifier::new("new").also_accepting("whsec");
        assert!(rotating.verify_parts(&sig, T, &body(), now_us(0)).is_ok());
    }

    #[test]
    fn tampering_is_refused() {
        let v = WebhookVerifier::new("whsec");
        let sig = sign(b"whsec", &body(), T);
        let mut changed = body();
        let i = changed.iter().position(|b| *b == b'1').unwrap();
        changed[i] = b'9';
        assert_eq!(v.verify_parts(&sig, T, &changed, now_us(0)), Err(WebhookError::BadSignature));
        // The time is signed: moving it breaks the signature.
        assert_eq!(v.verify_parts(&sig, "2026-12-01T00:00:11Z", &body(), now_us(0)), Err(WebhookError::BadSignature));
        assert_eq!(
            WebhookVerifier::new("other").verify_parts(&sig, T, &body(), now_us(0)),
            Err(WebhookError::BadSignature)
        );
        assert_eq!(v.verify_parts(&sig[3..], T, &body(), now_us(0)), Err(WebhookError::MalformedSignature));
        assert_eq!(v.verify_parts("v1:!!", T, &body(), now_us(0)), Err(WebhookError::MalformedSignature));
    }

    #[test]
    fn old_and_future_times_are_refused() {
        let v = WebhookVerifier::new("whsec").with_tolerance(Duration::from_secs(60));
        let sig = sign(b"whsec", &body(), T);
        assert!(v.verify_parts(&sig, T, &body(), now_us(60)).is_ok());
        assert_eq!(
            v.verify_parts(&sig, T, &body(), now_us(61)),
            Err(WebhookError::OutsideTolerance { age_s: 61, tolerance_s: 60 })
        );
        assert_eq!(
            v.verify_parts(&sig, T, &body(), now_us(-61)),
            Err(WebhookError::OutsideTolerance { age_s: -61, tolerance_s: 60 })
        );
        let sig = sign(b"whsec", &body(), "yesterday");
        assert_eq!(v.verify_parts(&sig, "yesterday", &body(), now_us(0)), Err(WebhookError::MalformedTime));
    }

    #[test]
    fn freshness_orders_versions() {
        assert_eq!(Freshness::of(None, 1), Freshness::New);
        assert_eq!(Freshness::of(Some(2), 3), Freshness::New);
        assert_eq!(Freshness::of(Some(3), 3), Freshness::Duplicate);
        assert_eq!(Freshness::of(Some(3), 2), Freshness::Stale);
    }
}
