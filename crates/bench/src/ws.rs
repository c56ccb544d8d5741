//! WebSocket clients for the queue and seats scenarios (tokio-tungstenite),
//! with small buffers so that tens of thousands fit in memory.
//!
//! One source address holds at most one socket per ephemeral port (about
//! 28,000 by default), so when the server is on an IPv4 loopback address the
//! sockets are spread over the source addresses `127.0.0.1..=127.0.0.N`:
//! each socket binds `127.0.0.k:0` before connecting.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::http::Target;

/// One client WebSocket.
pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Read buffer of one client socket (status messages are a few hundred bytes).
const READ_BUFFER: usize = 4 * 1024;
/// Largest message accepted from the server.
const MESSAGE_MAX: usize = 64 * 1024;
/// Time limit of the TCP connect plus the upgrade handshake.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);

/// Opens WebSockets to one URL.
pub(crate) struct Connector {
    addr: SocketAddr,
    url: String,
    /// Source addresses to spread over; empty: let the kernel choose.
    sources: Vec<Ipv4Addr>,
    config: WebSocketConfig,
}

/// The source addresses used for a server at `server`: `127.0.0.1..=127.0.0.n`
/// when it is on IPv4 loopback, else none.
pub(crate) fn sources_for(server: SocketAddr, n: u8) -> Vec<Ipv4Addr> {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => (1..=n.max(1)).map(|k| Ipv4Addr::new(127, 0, 0, k)).collect(),
        _ => Vec::new(),
    }
}

impl Connector {
    pub fn new(target: &Target, api_path: &str, sources: u8) -> Connector {
        let addr = target.addr();
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_write_buffer_size(64 * 1024)
            .max_message_size(Some(MESSAGE_MAX))
            .max_frame_size(Some(MESSAGE_MAX));
        Connector { addr, url: target.ws_url(api_path), sources: sources_for(addr, sources), config }
    }

    /// Accepts messages up to `bytes` (a seat map's snapshot or a burst's
    /// delta is larger than a waiting room's status).
    pub fn message_max(mut self, bytes: usize) -> Connector {
        self.config = self.config.max_message_size(Some(bytes)).max_frame_size(Some(bytes));
        self
    }

    /// How many source addresses the sockets are spread over (0: one, chosen by the kernel).
    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Opens client number `k` (its source address is `k` modulo the count).
    pub async fn connect(&self, k: usize) -> Result<Ws, String> {
        match tokio::time::timeout(CONNECT_LIMIT, self.connect_inner(k)).await {
            Ok(result) => result,
            Err(_) => Err("timed out".into()),
        }
    }

    async fn connect_inner(&self, k: usize) -> Result<Ws, String> {
        let stream = self.tcp(k).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let (ws, _response) = tokio_tungstenite::client_async_with_config(self.url.as_str(), stream, Some(self.config))
            .await
            .map_err(|e| format!("upgrade: {e}"))?;
        Ok(ws)
    }

    async fn tcp(&self, k: usize) -> io::Result<TcpStream> {
        if self.sources.is_empty() {
            return TcpStream::connect(self.addr).await;
        }
        let source = self.sources[k % self.sources.len()];
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(source), 0))?;
        socket.connect(self.addr).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sources_only_on_loopback() {
        let s = sources_for("127.0.0.1:8080".parse().unwrap(), 3);
        assert_eq!(s, vec![Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)]);
        assert_eq!(sources_for("127.0.0.1:8080".parse().unwrap(), 0).len(), 1);
        assert!(sources_for("10.1.2.3:8080".parse().unwrap(), 3).is_empty());
        assert!(sources_for("[::1]:8080".parse().unwrap(), 3).is_empty());
    }

    #[tokio::test]
    async fn talks_to_a_websocket_server_from_spread_sources() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut peers = Vec::new();
            for _ in 0..2 {
                let (stream, peer) = listener.accept().await.unwrap();
                peers.push(peer.ip());
                let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                ws.send(Message::text(r#"{"type":"status","seq":1}"#)).await.unwrap();
                // Answer the client's close.
                while let Some(Ok(_)) = ws.next().await {}
            }
            peers
        });
        let target = Target::resolve(&format!("http://{addr}")).await.unwrap();
        let connector = Connector::new(&target, "/api/sales/1/queue/ws", 2);
        assert_eq!(connector.source_count(), 2);
        for k in 0..2 {
            let mut ws = connector.connect(k).await.unwrap();
            let first = ws.next().await.unwrap().unwrap();
            assert_eq!(first.into_text().unwrap().as_str(), r#"{"type":"status","seq":1}"#);
            ws.close(None).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        }
        let peers = server.await.unwrap();
        assert_eq!(peers, vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))]);
    }
}
