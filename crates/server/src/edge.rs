//! What every request passes before a handler sees it: the cap on requests
//! in flight (beyond it an immediate 503 with `Retry-After`), the slow-client
//! limits ([`EdgeLimits`]), an immediate 413 for a declared body over the
//! route's limit, and the security headers of every answer.
//!
//! The cap is what keeps a rush at ten times the server's capacity from
//! slowing everyone: a request waits its turn in proportion to the requests
//! ahead of it, so a bounded number in flight bounds the wait of every
//! admitted one (about `requests_in_flight_max` / throughput), and the rest
//! are told at once, for the cost of reading a head and writing a short
//! answer, to come back after `Retry-After`.
//!
//! The connection-level limits (how many sockets, idle time, time to send a
//! request head) are enforced by `listener.rs`; this module bounds the body.
//! A body must keep up a minimum rate after a short grace period and end
//! within an absolute time, so one slow sender cannot hold a connection
//! slot (and with `--max-connections` slots taken, everybody else) forever.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

use crate::problem::ApiError;

/// The limits that keep slow or idle clients from holding connections.
/// The defaults suit a public server; tests shorten them.
#[derive(Clone, Copy, Debug)]
pub struct EdgeLimits {
    /// Most connections open at once; more wait in the kernel's backlog.
    pub connections_max: usize,
    /// A connection that neither reads nor writes for this long is closed.
    pub idle_max: Duration,
    /// Time a client has to send a complete request head, counted from the
    /// connection's start or the end of the previous answer. It also ends idle
    /// keep-alive connections, which is what lets trickled heads be refused.
    pub header_read_max: Duration,
    /// Time a body may take before the minimum rate starts to count.
    pub body_grace: Duration,
    /// Each byte received buys the sender this much more time after the grace:
    /// a body must arrive at least this fast on average (bytes per second).
    pub body_rate_min_bytes_per_s: u32,
    /// A whole body must have arrived this long after its head, however fast.
    pub body_read_max: Duration,
    /// Most requests being answered at once; more are answered 503 with
    /// `Retry-After` at once (the health checks, the admin's statistics and
    /// `/metrics` are never refused, so an operator can see an overloaded server).
    pub requests_in_flight_max: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            connections_max: crate::CONNECTIONS_MAX_DEFAULT,
            idle_max: crate::CONNECTION_IDLE_MAX,
            header_read_max: HEADER_READ_MAX_DEFAULT,
            body_grace: BODY_GRACE_DEFAULT,
            body_rate_min_bytes_per_s: BODY_RATE_MIN_DEFAULT,
            body_read_max: BODY_READ_MAX_DEFAULT,
            requests_in_flight_max: REQUESTS_IN_FLIGHT_MAX_DEFAULT,
        }
    }
}

/// Enough for every request a saturated server can work on (the benches
/// saturate two cores with 64 to 256 connections, one request each), few
/// enough that the last admitted waits tens of milliseconds, not seconds
/// (BENCHMARKS.md, "Overload").
pub const REQUESTS_IN_FLIGHT_MAX_DEFAULT: usize = 1024;

/// A request head takes one round trip; 10 s is generous on a bad phone line.
pub const HEADER_READ_MAX_DEFAULT: Duration = Duration::from_secs(10);
/// Bodies of up to a few KiB arrive in one round trip; 5 s covers slow starts.
pub const BODY_GRACE_DEFAULT: Duration = Duration::from_secs(5);
/// 1 KiB/s: a 16 KiB body has 21 s, far beyond any honest client.
pub const BODY_RATE_MIN_DEFAULT: u32 = 1024;
/// An 8 MiB venue upload needs about 140 KB/s to make it.
pub const BODY_READ_MAX_DEFAULT: Duration = Duration::from_secs(60);

/// The largest body `method path` accepts. Must agree with the
/// `DefaultBodyLimit` layers in [`crate::router`]; this copy answers a
/// declared length before any of the body is read. The routes with a larger
/// limit have no parameters, and the router matches paths exactly (no
/// decoding, no trailing-slash redirect), so comparing the path before
/// routing gives the matched route's limit.
fn body_len_max(method: &Method, path: &str) -> usize {
    match (method, path) {
        (&Method::POST, "/api/sales" | "/api/venues") => crate::routes::common::seated::VENUE_BODY_LEN_MAX,
        _ => crate::BODY_LEN_MAX,
    }
}

/// The edge as one tower layer, put once around the whole router by
/// [`crate::serve_with_limits`]: the body guard ([`guard_body`]) on the way in
/// and the security headers ([`add_security_headers`]) on the way out.
///
/// Hand-written and outside the router rather than `axum::middleware::from_fn`
/// layers on it: `Router::layer` wraps every route, and each such layer (and
/// each `from_fn`) cloned and boxed the inner service and boxed a future on
/// every request, which made a ping cost about 50 % more instructions than
/// before the edge existed (BENCHMARKS.md, "issue 9 regression").
#[derive(Clone, Debug)]
pub struct EdgeLayer {
    limits: EdgeLimits,
    in_flight: Arc<AtomicUsize>,
}

impl EdgeLayer {
    pub fn new(limits: EdgeLimits) -> Self {
        EdgeLayer { limits, in_flight: Arc::new(AtomicUsize::new(0)) }
    }
}

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner, limits: self.limits, in_flight: self.in_flight.clone() }
    }
}

/// The service [`EdgeLayer`] wraps around each route.
#[derive(Clone, Debug)]
pub struct Edge<S> {
    inner: S,
    limits: EdgeLimits,
    /// Requests being answered, shared by every connection's copy.
    in_flight: Arc<AtomicUsize>,
}

/// One request's place among those in flight, given back when its answer is
/// ready (or the connection drops the request).
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Takes a place if fewer than `max` are taken.
    fn enter(count: &Arc<AtomicUsize>, max: usize) -> Option<InFlight> {
        count.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(InFlight(count.clone()))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Paths never refused for load: the health checks (a load balancer must
/// not take a busy server for a dead one), the admin's statistics and the
/// metrics (an overloaded server is exactly what an operator must see).
pub(crate) fn never_shed(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/api/admin/stats" | "/metrics")
}

/// The answer to a request over the cap: a problem for the API, a short
/// page in both languages for a person.
fn shed(path: &str) -> Response {
    if path.starts_with("/api/") {
        return ApiError::overloaded("the server is answering as many requests as it can; retry after Retry-After")
            .into_response();
    }
    let page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Busy</title>\
        <meta http-equiv=\"refresh\" content=\"2\"></head><body>\
        <p lang=\"ko\">접속자가 많습니다. 잠시 후 자동으로 다시 시도합니다.</p>\
        <p lang=\"en\">Very busy right now; this page retries by itself in a moment.</p></body></html>";
    let mut res =
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page)
            .into_response();
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let path = req.uri().path();
        let place = if never_shed(path) {
            None
        } else {
            match InFlight::enter(&self.in_flight, self.limits.requests_in_flight_max) {
                Some(place) => Some(place),
                None => {
                    // A lookup by name, not a kept handle: sheds are rare, and
                    // the recorder may be installed after this layer is made.
                    metrics::counter!(crate::metrics::REQUESTS_SHED).increment(1);
                    return EdgeFuture::Refused(shed(path));
                }
            }
        };
        match guard_body(self.limits, req) {
            Ok(req) => EdgeFuture::Inner(self.inner.call(req), place),
            Err(refused) => EdgeFuture::Refused(*refused),
        }
    }
}

/// The answer of an [`Edge`]: the route's (holding its place in flight until
/// it is ready), or the edge's own refusal; either way with the security
/// headers added.
pub enum EdgeFuture<F> {
    Inner(F, Option<InFlight>),
    Refused(Response),
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut res = match self.get_mut() {
            EdgeFuture::Inner(inner, place) => match Pin::new(inner).poll(cx) {
                Poll::Ready(Ok(res)) => {
                    drop(place.take());
                    res
                }
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
            EdgeFuture::Refused(res) => std::mem::take(res),
        };
        add_security_headers(&mut res);
        Poll::Ready(Ok(res))
    }
}

/// Refuses a declared `Content-Length` over the route's limit at once (413,
/// and the connection is closed so the body is never read), and puts every
/// other body on the clock of [`EdgeLimits`].
/// The refusal is boxed: it is rare, and the common path should not carry its size.
fn guard_body(limits: EdgeLimits, req: Request) -> Result<Request, Box<Response>> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let max = body_len_max(req.method(), req.uri().path());
    if let Some(len) = declared.filter(|&n| n > max as u64) {
        let mut res = ApiError::body_too_large().into_response();
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        // Most clients send the body without waiting for an answer; closing on
        // them mid-send resets the connection and loses this answer. So a body
        // of plausible size is read away (on the same clock) while the answer
        // goes out; a huge one is not worth reading and the connection just closes.
        if len <= REFUSED_BODY_DRAIN_LEN_MAX {
            tokio::spawn(discard(TimedBody::new(req.into_body(), limits)));
        }
        return Err(Box::new(res));
    }
    // A request that says it has no body costs no timer.
    let bodiless = declared == Some(0) || (declared.is_none() && req.body().is_end_stream());
    if bodiless {
        return Ok(req);
    }
    Ok(req.map(|body| Body::new(TimedBody::new(body, limits))))
}

/// The largest refused body still read (and thrown away) so that its sender
/// sees the 413 rather than a reset connection.
pub const REFUSED_BODY_DRAIN_LEN_MAX: u64 = 16 * 1024 * 1024;

/// Reads a body to its end (or its first error, e.g. too slow) and drops it.
async fn discard(mut body: TimedBody) {
    while let Some(Ok(_)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {}
}

/// Adds the headers every answer carries: `nosniff`, so a browser never runs
/// a JSON (or any) answer as script or style because of its content.
fn add_security_headers(res: &mut Response) {
    res.headers_mut().entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
}

/// The failure a body reports when its sender fell behind the minimum rate
/// or ran out of time; extractors answer it with 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub struct BodyTooSlow;

/// True when `err` (a rejection or body error) was caused by [`BodyTooSlow`].
pub fn is_body_too_slow(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.is::<BodyTooSlow>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// A request body that fails with [`BodyTooSlow`] once it is later than
/// `start + grace + received / rate`, or than `start + body_read_max`.
struct TimedBody {
    inner: Body,
    start: Instant,
    limits: EdgeLimits,
    received: u64,
    /// Made on the first wait: most bodies arrive with their head and never need one.
    timer: Option<Pin<Box<Sleep>>>,
}

impl TimedBody {
    fn new(inner: Body, limits: EdgeLimits) -> Self {
        TimedBody { inner, start: Instant::now(), limits, received: 0, timer: None }
    }

    fn deadline(&self) -> Instant {
        let rate = u64::from(self.limits.body_rate_min_bytes_per_s.max(1));
        let earned = Duration::from_micros(self.received.saturating_mul(1_000_000) / rate);
        let by_rate = self.limits.body_grace.saturating_add(earned);
        self.start + by_rate.min(self.limits.body_read_max)
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len() as u64);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = this.deadline();
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Box::new(BodyTooSlow))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
