//! Every request's id: taken from the client's `x-request-id` when it is
//! short and printable, else a fresh UUID; echoed on the answer, carried by
//! a tracing span around the request, and handed with a command to its sale
//! so the log line that says the command is durable names it (with the
//! sale and the seq the command got).
//!
//! The layers, outermost first (as `crate::serve_with_limits` stacks them): a check that drops an
//! unacceptable incoming id, tower-http's `SetRequestId` (which keeps an
//! accepted one or makes a UUID) and `PropagateRequestId` (which copies it to
//! the answer), then [`RequestSpan`]: the span, and the id in a task-local
//! that [`for_engine`] reads when a handler sends a command.

use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, header::HeaderName};
use tower::{Layer, Service};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Instrument;

/// The header that carries the id both ways.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id kept. A UUID is 36; 64 leaves room for other schemes
/// while keeping a log line and a span's fields small.
pub const REQUEST_ID_LEN_MAX: usize = 64;

/// Whether a client's id is kept: 1 to [`REQUEST_ID_LEN_MAX`] visible ASCII
/// characters (no spaces, no control characters), so it can neither forge
/// a log line nor bloat one.
pub fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= REQUEST_ID_LEN_MAX && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// Makes a version 4 UUID from the thread's random generator: no system call
/// per request (uuid's own `new_v4` asks the kernel each time).
#[derive(Clone, Copy, Debug, Default)]
pub struct FreshUuid;

impl MakeRequestId for FreshUuid {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        HeaderValue::from_str(uuid.hyphenated().encode_lower(&mut text)).ok().map(RequestId::new)
    }
}

/// Drops an incoming id that is not [`acceptable`], so that `SetRequestId`
/// makes a fresh one in its place.
#[derive(Clone, Copy, Debug, Default)]
pub struct RefuseUnacceptableLayer;

impl<S> Layer<S> for RefuseUnacceptableLayer {
    type Service = RefuseUnacceptable<S>;

    fn layer(&self, inner: S) -> RefuseUnacceptable<S> {
        RefuseUnacceptable { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RefuseUnacceptable<S> {
    inner: S,
}

impl<S: Service<Request>> Service<Request> for RefuseUnacceptable<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> S::Future {
        let headers = req.headers_mut();
        // Several copies of the header are as unacceptable as a bad one.
        let mut sent = headers.get_all(&REQUEST_ID_HEADER).iter();
        let keep = sent.next().is_some_and(acceptable) && sent.next().is_none();
        if !keep {
            headers.remove(&REQUEST_ID_HEADER);
        }
        self.inner.call(req)
    }
}

tokio::task_local! {
    /// The id of the request whose handler runs on this task now.
    static CURRENT: HeaderValue;
}

/// Opens the request's span (`request`, with `request_id`, `method` and
/// `path`) and keeps the id where [`for_engine`] finds it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestSpanLayer;

impl<S> Layer<S> for RequestSpanLayer {
    type Service = RequestSpan<S>;

    fn layer(&self, inner: S) -> RequestSpan<S> {
        RequestSpan { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestSpan<S> {
    inner: S,
}

impl<S: Service<Request>> Service<Request> for RequestSpan<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = tracing::instrument::Instrumented<tokio::task::futures::TaskLocalFuture<HeaderValue, S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // `SetRequestId` (outside this layer) always leaves one.
        let id = req.extensions().get::<RequestId>().map_or(HeaderValue::from_static(""), |r| r.header_value().clone());
        let span = tracing::info_span!(
            "request",
            request_id = id.to_str().unwrap_or_default(),
            method = %req.method(),
            path = req.uri().path(),
        );
        CURRENT.scope(id, self.inner.call(req)).instrument(span)
    }
}

/// The request id to send with a command, when the engine's "command
/// durable" event (`stampede_engine::DURABLE_TARGET`, debug) is enabled;
/// otherwise `None`, so a command costs no copy of it.
pub fn for_engine() -> Option<std::sync::Arc<str>> {
    if !tracing::enabled!(target: stampede_engine::DURABLE_TARGET, tracing::Level::DEBUG) {
        return None;
    }
    CURRENT.try_with(|id| id.to_str().ok().filter(|s| !s.is_empty()).map(std::sync::Arc::from)).ok().flatten()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn short_printable_ids_are_kept_and_others_replaced() {
        assert!(acceptable(&HeaderValue::from_static("abc-123_X.y:z")));
        assert!(acceptable(&HeaderValue::from_static("0f5c1a2e-9b7d-4c3e-8a61-2d4f6b8c0e1a")));
        assert!(acceptable(&HeaderValue::from_str(&"a".repeat(REQUEST_ID_LEN_MAX)).unwrap()));
        assert!(!acceptable(&HeaderValue::from_str(&"a".repeat(REQUEST_ID_LEN_MAX + 1)).unwrap()));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("two words")));
        assert!(!acceptable(&HeaderValue::from_bytes(b"tab\there").unwrap()));
        assert!(!acceptable(&HeaderValue::from_bytes("ü".as_bytes()).unwrap()));
    }

    #[test]
    fn fresh_ids_are_distinct_v4_uuids() {
        let req = axum::http::Request::new(());
        let a = FreshUuid.make_request_id(&req).map(RequestId::into_header_value);
        let b = FreshUuid.make_request_id(&req).map(RequestId::into_header_value);
        let parse = |v: &Option<HeaderValue>| v.as_ref().and_then(|v| uuid::Uuid::parse_str(v.to_str().ok()?).ok());
        let (ua, ub) = (parse(&a), parse(&b));
        assert_eq!(ua.map(|u| u.get_version_num()), Some(4));
        assert_ne!(ua, ub);
    }
}
