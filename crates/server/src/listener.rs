//! A TCP listener that holds at most a set number of connections, so a flood
//! of sockets waits in the kernel's backlog instead of exhausting descriptors,
//! and closes a connection that neither reads nor writes for `idle_max`, so
//! idle sockets cannot keep those slots forever. (Long-lived WebSockets must
//! therefore carry pings more often than `idle_max`.) [`serve_connections`]
//! runs HTTP/1 on each with a deadline for the request head, since a client
//! trickling one byte at a time is never idle.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::{Service, ServiceExt};

/// Pause after a failed accept (typically EMFILE) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

pub struct LimitedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    idle_max: Duration,
}

impl LimitedListener {
    pub fn new(inner: TcpListener, connections_max: usize, idle_max: Duration) -> Self {
        LimitedListener { inner, permits: Arc::new(Semaphore::new(connections_max)), idle_max }
    }
}

/// A connection that gives its permit back when dropped and fails once it
/// has been idle for `idle_max`.
pub struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle_max: Duration,
    idle: Pin<Box<Sleep>>,
}

impl LimitedStream {
    fn progressed(&mut self) {
        let deadline = Instant::now() + self.idle_max;
        self.idle.as_mut().reset(deadline);
    }

    /// Progress resets the idle deadline; a socket with nothing to offer fails
    /// once the deadline has passed.
    fn track<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(r) => {
                self.progressed();
                Poll::Ready(r)
            }
            Poll::Pending if self.idle.as_mut().poll(cx).is_ready() => Poll::Ready(Err(idle_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn idle_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl LimitedListener {
    /// Waits for a free slot, then for a connection.
    async fn accept(&mut self) -> (LimitedStream, SocketAddr) {
        loop {
            let Ok(permit) = self.permits.clone().acquire_owned().await else {
                // The semaphore is never closed; if it were, keep serving without a bound.
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let idle = Box::pin(tokio::time::sleep(self.idle_max));
                    return (LimitedStream { stream, _permit: permit, idle_max: self.idle_max, idle }, addr);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
    }
}

/// Serves `app` on every connection `listener` accepts until `shutdown`
/// resolves; then stops accepting, asks each connection to finish its
/// current request, and returns once all have closed.
///
/// HTTP/1 only (as before), with hyper's head deadline
/// (`header_read_max`) and upgrades for WebSockets. Each request carries
/// `ConnectInfo<PeerAddr>`.
pub async fn serve_connections<S>(
    mut listener: LimitedListener,
    app: S,
    header_read_max: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_read_max);
    // Dropping the receiver tells the connections to finish; each holds a
    // clone of `all_closed_rx`, so `closed()` resolves once every one is gone.
    let (stop_tx, stop_rx) = watch::channel(());
    let (all_closed_tx, all_closed_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(stop_rx);
    });
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop_tx.closed() => break,
        };
        let service = app.clone().map_request(move |req: Request<Incoming>| {
            let mut req = req.map(Body::new);
            req.extensions_mut().insert(ConnectInfo(PeerAddr(addr)));
            req
        });
        let conn = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(service)).with_upgrades();
        let stop_tx = stop_tx.clone();
        let all_closed_rx = all_closed_rx.clone();
        tokio::spawn(async move {
            let mut conn = pin!(conn);
            let mut stopping = pin!(stop_tx.closed());
            let mut asked = false;
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::trace!(error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    () = &mut stopping, if !asked => {
                        asked = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            drop(all_closed_rx);
        });
    }
    drop(all_closed_rx);
    drop(listener);
    all_closed_tx.closed().await;
}

impl AsyncRead for LimitedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.track(cx, polled)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.track(cx, polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.track(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The peer's address, as handlers see it through `ConnectInfo<PeerAddr>`.
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);
