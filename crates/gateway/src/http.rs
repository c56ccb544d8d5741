//! One small HTTP/1.1 client (hyper-util's pooled client) shared by the
//! adapter and the sandbox's webhook sender: a request with a deadline, its
//! answer read whole and bounded.
//!
//! Plain `http://` only: this build carries no TLS stack, so a real provider
//! is reached through a TLS-terminating proxy (ARCHITECTURE.md, gateway).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The largest answer read: a payment with many cancels is a few KiB.
pub(crate) const ANSWER_BYTES_MAX: usize = 256 * 1024;

/// Idle keep-alive connections kept per host.
const IDLE_PER_HOST_MAX: usize = 16;

/// A pooled client.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

/// A whole answer.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why no answer came.
pub(crate) enum Failure {
    /// No answer before the deadline.
    Timeout,
    /// No connection, a broken one, or an unreadable or oversized answer.
    Transport(String),
}

impl Http {
    pub fn new(connect_timeout: Duration) -> Http {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(IDLE_PER_HOST_MAX)
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Http { client }
    }

    /// Sends `req` and reads its answer, all within `timeout`.
    pub async fn send(&self, req: Request<Full<Bytes>>, timeout: Duration) -> Result<Answer, Failure> {
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| Failure::Transport(e.to_string()))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, ANSWER_BYTES_MAX)
                .collect()
                .await
                .map_err(|e| Failure::Transport(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer { status: parts.status, headers: parts.headers, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(Failure::Timeout),
        }
    }
}
