//! The adapter: Toss Payments' core API as a merchant server calls it.
//!
//! - `POST /v1/payments/confirm` `{paymentKey, orderId, amount}`: capture a
//!   payment the buyer authorised on the checkout page.
//! - `GET /v1/payments/{paymentKey}`, `GET /v1/payments/orders/{orderId}`: read it.
//! - `POST /v1/payments/{paymentKey}/cancel` `{cancelReason, cancelAmount?}`:
//!   refund all of it, or part.
//!
//! Authentication is HTTP basic with the secret key as the user and an empty
//! password. Every mutating call carries the caller's `Idempotency-Key`: a
//! caller that lost an answer (timeout, outage, its own crash) repeats the
//! call with the same key and gets the first answer, never a second capture
//! or refund. The key is the caller's to choose and keep (derive it from the
//! order and the step), because only the caller knows that two calls are one.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use serde::Serialize;

use crate::error::GatewayError;
use crate::http::{Failure, Http};
use crate::payment::{ErrorBody, Payment};

/// The idempotency header, as Toss Payments spells it.
pub const IDEMPOTENCY_KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");

/// The longest idempotency key the gateway accepts.
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 300;

/// The longest payment key or order id put in a path.
const ID_LEN_MAX: usize = 200;

/// A caller-chosen key that makes a mutating call safe to repeat.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1 to 300 visible ASCII characters.
    pub fn new(key: impl Into<String>) -> Result<IdempotencyKey, GatewayError> {
        let key = key.into();
        if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LEN_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(GatewayError::Config(format!(
                "an idempotency key is 1 to {IDEMPOTENCY_KEY_LEN_MAX} visible ASCII characters"
            )));
        }
        Ok(IdempotencyKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `url` with `pairs` appended to its query, each value percent-encoded.
pub(crate) fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (name, value) in pairs {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.push_str(&encode(value));
        sep = '&';
    }
    out
}

/// The hosted checkout page a buyer is sent to for `order_id` (Toss
/// Payments' redirect flow): approving there redirects to `success_url` with
/// `paymentKey`, `orderId` and `amount`, declining to `fail_url`.
pub fn checkout_url(
    base_url: &str,
    order_id: &str,
    amount: u64,
    order_name: &str,
    success_url: &str,
    fail_url: &str,
) -> String {
    let base = format!("{}/checkout", base_url.trim_end_matches('/'));
    let amount = amount.to_string();
    with_query(
        &base,
        &[
            ("orderId", order_id),
            ("amount", &amount),
            ("orderName", order_name),
            ("successUrl", success_url),
            ("failUrl", fail_url),
        ],
    )
}

/// Where the gateway is and how to talk to it.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// `http://host:port` (a path prefix is allowed), e.g. the sandbox's address.
    pub base_url: String,
    /// The merchant's secret key (Toss: `test_sk_…` / `live_sk_…`).
    pub secret_key: String,
    /// The whole call (connect, send, read the answer) must end within this.
    pub timeout: Duration,
}

impl GatewayConfig {
    pub fn new(base_url: impl Into<String>, secret_key: impl Into<String>) -> GatewayConfig {
        GatewayConfig { base_url: base_url.into(), secret_key: secret_key.into(), timeout: Duration::from_secs(10) }
    }
}

/// The adapter; cheap to clone (one connection pool).
#[derive(Clone, Debug)]
pub struct Gateway {
    base: String,
    authorization: HeaderValue,
    timeout: Duration,
    http: Http,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody<'a> {
    payment_key: &'a str,
    order_id: &'a str,
    amount: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CancelBody<'a> {
    cancel_reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancel_amount: Option<u64>,
}

impl Gateway {
    pub fn new(config: GatewayConfig) -> Result<Gateway, GatewayError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        if base.starts_with("https://") {
            return Err(GatewayError::Config(
                "https is not built in: reach the provider through a TLS-terminating proxy (http://)".into(),
            ));
        }
        if !base.starts_with("http://") || base.len() <= "http://".len() {
            return Err(GatewayError::Config(format!("expected http://host:port, got {:?}", config.base_url)));
        }
        base.parse::<Uri>().map_err(|e| GatewayError::Config(format!("bad base URL {base:?}: {e}")))?;
        if config.secret_key.is_empty() {
            return Err(GatewayError::Config("the secret key is empty".into()));
        }
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{}:", config.secret_key));
        let mut authorization = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| GatewayError::Config("the secret key cannot be sent in a header".into()))?;
        authorization.set_sensitive(true);
        // Connecting is part of the call's time; a dead host should fail well
        // within it so the error says "unavailable" rather than "timeout".
        let connect_timeout = config.timeout.min(Duration::from_secs(3));
        Ok(Gateway { base, authorization, timeout: config.timeout, http: Http::new(connect_timeout) })
    }

    /// Captures a payment the buyer authorised. `amount` must be the amount
    /// the checkout was opened with: the merchant's check that the browser
    /// did not change it on the way.
    pub async fn confirm(
        &self,
        payment_key: &str,
        order_id: &str,
        amount: u64,
        key: &IdempotencyKey,
    ) -> Result<Payment, GatewayError> {
        let body = serde_json::to_vec(&ConfirmBody { payment_key, order_id, amount })
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        self.call(Method::POST, "/v1/payments/confirm".to_owned(), Some(key), Some(body)).await
    }

    /// The payment as the gateway has it now.
    pub async fn status(&self, payment_key: &str) -> Result<Payment, GatewayError> {
        let path = format!("/v1/payments/{}", path_segment(payment_key)?);
        self.call(Method::GET, path, None, None).await
    }

    /// The payment made for an order (the latest one, if the buyer checked out twice).
    pub async fn status_by_order(&self, order_id: &str) -> Result<Payment, GatewayError> {
        let path = format!("/v1/payments/orders/{}", path_segment(order_id)?);
        self.call(Method::GET, path, None, None).await
    }

    /// Refunds `amount` of a captured payment, or all that is left when `None`.
    pub async fn cancel(
        &self,
        payment_key: &str,
        reason: &str,
        amount: Option<u64>,
        key: &IdempotencyKey,
    ) -> Result<Payment, GatewayError> {
        let path = format!("/v1/payments/{}/cancel", path_segment(payment_key)?);
        let body = serde_json::to_vec(&CancelBody { cancel_reason: reason, cancel_amount: amount })
            .map_err(|e| GatewayError::Config(e.to_string()))?;
        self.call(Method::POST, path, Some(key), Some(body)).await
    }

    async fn call(
        &self,
        method: Method,
        path: String,
        key: Option<&IdempotencyKey>,
        body: Option<Vec<u8>>,
    ) -> Result<Payment, GatewayError> {
        let uri: Uri = format!("{}{path}", self.base)
            .parse()
            .map_err(|e| GatewayError::Config(format!("cannot build a request for {path}: {e}")))?;
        let has_body = body.is_some();
        let mut req = Request::new(Full::new(Bytes::from(body.unwrap_or_default())));
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        headers.insert(header::AUTHORIZATION, self.authorization.clone());
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if has_body {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(key) = key {
            let value = HeaderValue::from_str(key.as_str())
                .map_err(|_| GatewayError::Config("the idempotency key cannot be sent in a header".into()))?;
            headers.insert(IDEMPOTENCY_KEY_HEADER, value);
        }
        let answer = match self.http.send(req, self.timeout).await {
            Ok(answer) => answer,
            Err(Failure::Timeout) => return Err(GatewayError::Timeout(self.timeout)),
            Err(Failure::Transport(reason)) => return Err(GatewayError::Unavailable { reason, retry_after: None }),
        };
        let status = answer.status.as_u16();
        if answer.status.is_success() {
            return serde_json::from_slice::<Payment>(&answer.body)
                .map_err(|e| GatewayError::Protocol { status, reason: e.to_string() });
        }
        let retry_after = answer
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        match serde_json::from_slice::<ErrorBody>(&answer.body) {
            Ok(ErrorBody { code, message }) => Err(GatewayError::from_answer(status, code, message, retry_after)),
            // An error without the gateway's body (a proxy's page, a bare 502):
            // the status alone decides.
            Err(_) if status >= 500 || status == 429 => {
                Err(GatewayError::Unavailable { reason: format!("status {status}"), retry_after })
            }
            Err(e) => Err(GatewayError::Protocol { status, reason: e.to_string() }),
        }
    }
}

/// An id put in a path: the gateway's keys and ids are URL-safe; anything
/// else is refused rather than escaped, so a path can never be redirected.
fn path_segment(id: &str) -> Result<&str, GatewayError> {
    let ok = !id.is_empty()
        && id.len() <= ID_LEN_MAX
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'~'))
        && id != "."
        && id != "..";
    if ok { Ok(id) } else { Err(GatewayError::Config(format!("{id:?} is not a payment key or order id"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_paths_cannot_escape_them() {
        assert!(path_segment("tgen_20240101abcDEF-_.=~").is_ok());
        for bad in ["", ".", "..", "a/b", "a?b", "a b", "a%2F", "가"] {
            assert!(path_segment(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn configuration_is_checked() {
        assert!(Gateway::new(GatewayConfig::new("https://api.tosspayments.com", "sk")).is_err());
        assert!(Gateway::new(GatewayConfig::new("api.tosspayments.com", "sk")).is_err());
        assert!(Gateway::new(GatewayConfig::new("http://127.0.0.1:1", "")).is_err());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("x".repeat(301)).is_err());
        assert!(IdempotencyKey::new("order-7 confirm").is_err());
        assert!(IdempotencyKey::new("order-7:confirm").is_ok());
    }
}
