//! A minimal keep-alive HTTP/1.1 client on hyper's low-level connection API.
//!
//! One [`Link`] is one TCP connection (`TCP_NODELAY`) used for requests issued
//! back to back. A broken connection is dropped and re-established on the next
//! request; whether and when to try again is [`crate::retry`]'s. Requests are
//! built without the fallible `http::request::Builder` so that the hot path
//! allocates as little as possible.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::error::BenchError;

/// Request body type used everywhere.
pub(crate) type Body = Full<Bytes>;

/// The `idempotency-key` header name.
pub(crate) static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

static JSON: HeaderValue = HeaderValue::from_static("application/json");
static ZERO: HeaderValue = HeaderValue::from_static("0");

/// The server to talk to: resolved addresses, `host` header and path prefix.
#[derive(Debug)]
pub(crate) struct Target {
    /// The URL as given, for messages.
    pub url: String,
    /// `host[:port]` as given.
    authority: String,
    host: HeaderValue,
    base: String,
    addrs: Vec<SocketAddr>,
}

impl Target {
    /// Parses `http://host[:port][/prefix]` and resolves the host once.
    pub async fn resolve(url: &str) -> Result<Target, BenchError> {
        let bad = |reason: &str| BenchError::Target { url: url.to_owned(), reason: reason.to_owned() };
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(bad("https is not supported; use the server's plain HTTP listener"));
        } else {
            return Err(bad("expected http://host:port"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected http://host:port"));
        }
        if path.contains(['?', '#']) {
            return Err(bad("the target may have a path prefix but no query or fragment"));
        }
        let has_port = match authority.rfind(']') {
            Some(close) => authority[close..].contains(':'),
            None => authority.contains(':'),
        };
        let lookup = if has_port { authority.to_owned() } else { format!("{authority}:80") };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(lookup.as_str())
            .await
            .map_err(|e| bad(&format!("cannot resolve {lookup}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(bad(&format!("{lookup} resolves to no address")));
        }
        let host = HeaderValue::from_str(authority).map_err(|_| bad("invalid host"))?;
        Ok(Target {
            url: url.to_owned(),
            authority: authority.to_owned(),
            host,
            base: path.trim_end_matches('/').to_owned(),
            addrs,
        })
    }

    /// The full request path for an API path such as `/api/ping`.
    pub fn path(&self, api_path: &str) -> String {
        format!("{}{}", self.base, api_path)
    }

    /// The `ws://` URL of an API path (same host, port and prefix).
    pub fn ws_url(&self, api_path: &str) -> String {
        format!("ws://{}{}", self.authority, self.path(api_path))
    }

    /// The first resolved address (what a WebSocket client connects to).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The origin-form URI for an API path.
    pub fn uri(&self, api_path: &str) -> Result<Uri, BenchError> {
        let path = self.path(api_path);
        path.parse::<Uri>().map_err(|e| BenchError::Target {
            url: self.url.clone(),
            reason: format!("cannot build a request for {path}: {e}"),
        })
    }
}

/// Builds a request without fallible builders.
///
/// `body: None` sends an empty body (with `content-length: 0` on non-GET).
pub(crate) fn request(
    target: &Target,
    method: Method,
    uri: Uri,
    auth: Option<&HeaderValue>,
    key: Option<HeaderValue>,
    body: Option<Bytes>,
) -> Request<Body> {
    let has_body = body.is_some();
    let mut req = Request::new(Full::new(body.unwrap_or_default()));
    let is_get = method == Method::GET;
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    headers.insert(header::HOST, target.host.clone());
    if let Some(auth) = auth {
        headers.insert(header::AUTHORIZATION, auth.clone());
    }
    if let Some(key) = key {
        headers.insert(IDEMPOTENCY_KEY.clone(), key);
    }
    if has_body {
        headers.insert(header::CONTENT_TYPE, JSON.clone());
    } else if !is_get {
        headers.insert(header::CONTENT_LENGTH, ZERO.clone());
    }
    req
}

/// One established HTTP/1.1 connection.
struct Conn {
    tx: SendRequest<Body>,
}

async fn connect(target: &Target) -> io::Result<Conn> {
    let stream = TcpStream::connect(&target.addrs[..]).await?;
    stream.set_nodelay(true)?;
    let (tx, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(io::Error::other)?;
    tokio::spawn(async move {
        // Ends when the connection closes or `tx` is dropped; errors surface
        // through `tx` to the request that was in flight.
        let _ = driver.await;
    });
    Ok(Conn { tx })
}

/// The result of one request attempt.
pub(crate) enum Attempt {
    /// A complete answer; `micros` excludes connection set-up. `retry_after`
    /// is the `Retry-After` of a `503` or `429` (whole seconds; other answers: `None`).
    Response { status: StatusCode, body: Bytes, micros: u64, retry_after: Option<Duration> },
    /// No connection could be established.
    Connect(io::Error),
    /// The connection broke while the request was in flight.
    Transport(hyper::Error),
    /// No answer before the time limit.
    Timeout,
}

impl Attempt {
    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Attempt::Response { status, .. } => format!("status {status}"),
            Attempt::Connect(e) => format!("connect: {e}"),
            Attempt::Transport(e) => format!("transport: {e}"),
            Attempt::Timeout => "timed out".to_owned(),
        }
    }
}

/// A keep-alive connection that reconnects on demand.
pub(crate) struct Link {
    target: Arc<Target>,
    conn: Option<Conn>,
}

impl Link {
    pub fn new(target: Arc<Target>) -> Link {
        Link { target, conn: None }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The target, to build requests while the link is borrowed to send them.
    pub fn shared_target(&self) -> Arc<Target> {
        self.target.clone()
    }

    /// Sends one request, waiting at most until `limit`.
    pub async fn send(&mut self, req: Request<Body>, limit: Instant) -> Attempt {
        match timeout_at(limit, self.send_inner(req)).await {
            Ok(attempt) => attempt,
            Err(_) => {
                // The connection is in an unknown state (request half-sent or
                // answer half-read): never reuse it.
                self.conn = None;
                Attempt::Timeout
            }
        }
    }

    async fn send_inner(&mut self, req: Request<Body>) -> Attempt {
        // A kept-alive connection may have been closed by the server while idle:
        // that is not a failed request, just reconnect.
        if let Some(conn) = &mut self.conn
            && conn.tx.ready().await.is_err()
        {
            self.conn = None;
        }
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => match connect(&self.target).await {
                Ok(mut conn) => {
                    if let Err(e) = conn.tx.ready().await {
                        return Attempt::Connect(io::Error::other(e));
                    }
                    self.conn.insert(conn)
                }
                Err(e) => return Attempt::Connect(e),
            },
        };
        let start = std::time::Instant::now();
        let result = async {
            let resp = conn.tx.send_request(req).await?;
            let status = resp.status();
            // Only a 503 or a 429 asks to come back later; reading the header
            // of every answer would cost the hot path for nothing.
            let retry_after = if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
                retry_after(resp.headers())
            } else {
                None
            };
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body, retry_after))
        }
        .await;
        match result {
            Ok((status, body, retry_after)) => Attempt::Response {
                status,
                body,
                micros: u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX),
                retry_after,
            },
            Err(e) => {
                self.conn = None;
                Attempt::Transport(e)
            }
        }
    }
}

/// `Retry-After` in whole seconds; the HTTP-date form (which the server
/// never sends) is ignored.
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    let secs = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parses_targets() {
        let t = Target::resolve("http://127.0.0.1:8080").await.unwrap();
        assert_eq!(t.path("/api/ping"), "/api/ping");
        assert_eq!(t.host, "127.0.0.1:8080");
        let t = Target::resolve("http://127.0.0.1:9/prefix/").await.unwrap();
        assert_eq!(t.path("/api/ping"), "/prefix/api/ping");
        assert_eq!(t.ws_url("/api/sales/1/queue/ws"), "ws://127.0.0.1:9/prefix/api/sales/1/queue/ws");
        assert_eq!(t.addr(), "127.0.0.1:9".parse().unwrap());
        let t = Target::resolve("http://[::1]:8080").await.unwrap();
        assert_eq!(t.addrs[0].port(), 8080);
        let t = Target::resolve("http://127.0.0.1").await.unwrap();
        assert_eq!(t.addrs[0].port(), 80);
        assert!(Target::resolve("https://127.0.0.1").await.is_err());
        assert!(Target::resolve("127.0.0.1:8080").await.is_err());
        assert!(Target::resolve("http://127.0.0.1:1/x?y").await.is_err());
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        let mut h = hyper::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, HeaderValue::from_static(" 5"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(5)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&h), None);
    }
}
