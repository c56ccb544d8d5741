//! The seat-map viewers: WebSockets on `seats/ws`, each keeping its own map
//! of the venue from the snapshots and deltas it receives, and noting when
//! each seat's taken bit arrived.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use super::micros_since;
use crate::seatmap::{Frame, Numbering, ViewerMap};
use crate::ws::Connector;

/// Largest seat map message accepted (a delta of a whole burst can be large).
pub(super) const VIEWER_MESSAGE_MAX: usize = 4 << 20;
const CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// Everything the viewer tasks share.
pub(super) struct Watch {
    pub(super) connector: Connector,
    pub(super) numbering: Arc<Numbering>,
    pub(super) epoch: std::time::Instant,
    pub(super) gate: Semaphore,
    /// Per viewer: `seq + 1` of the last message applied; 0 before the first.
    pub(super) seen: Vec<AtomicU64>,
    /// Viewers whose opening finished (open or failed).
    pub(super) attempted: AtomicUsize,
    /// Viewers open now.
    pub(super) open: AtomicUsize,
}

/// What one viewer saw.
#[derive(Debug)]
pub(super) struct ViewerReport {
    pub(super) map: ViewerMap,
    pub(super) connected: bool,
    /// Why the socket ended before the run did.
    pub(super) dropped: Option<String>,
    pub(super) failure: Option<String>,
    pub(super) messages: u64,
    /// Messages that broke the protocol (one each).
    pub(super) protocol_errors: u64,
    pub(super) first_error: Option<String>,
}

pub(super) async fn viewer(w: Arc<Watch>, k: usize, mut stop: watch::Receiver<bool>) -> ViewerReport {
    let numbering = &*w.numbering;
    let mut r = ViewerReport {
        map: ViewerMap::new(numbering),
        connected: false,
        dropped: None,
        failure: None,
        messages: 0,
        protocol_errors: 0,
        first_error: None,
    };
    let opened = {
        let _permit = w.gate.acquire().await;
        w.connector.connect(k).await
    };
    w.attempted.fetch_add(1, Ordering::AcqRel);
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            r.failure = Some(format!("websocket: {e}"));
            return r;
        }
    };
    r.connected = true;
    w.open.fetch_add(1, Ordering::AcqRel);
    let stopped = loop {
        let msg = tokio::select! {
            _ = stop.changed() => break true,
            msg = ws.next() => msg,
        };
        match msg {
            Some(Ok(Message::Text(text))) => {
                let at = micros_since(w.epoch);
                r.messages += 1;
                let applied = Frame::parse(text.as_str()).and_then(|f| r.map.apply(&f, numbering, at));
                if let Err(e) = applied {
                    r.protocol_errors += 1;
                    r.first_error.get_or_insert(e);
                }
                if let Some(seq) = r.map.last_seq() {
                    w.seen[k].store(seq + 1, Ordering::Release);
                }
            }
            Some(Ok(Message::Close(_))) | None => {
                r.dropped = Some("closed by the server".into());
                break false;
            }
            // Pings are answered by tungstenite on the next read.
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                r.dropped = Some(e.to_string());
                break false;
            }
        }
    };
    w.open.fetch_sub(1, Ordering::AcqRel);
    if stopped {
        let _ = timeout(CLOSE_LIMIT, async {
            if ws.close(None).await.is_ok() {
                while let Some(Ok(_)) = ws.next().await {}
            }
        })
        .await;
    }
    r
}
