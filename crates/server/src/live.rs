//! Live status for waiting rooms: one shared message per change, fanned out
//! to every watcher.
//!
//! Each sale's engine task publishes its durable public state on a watch
//! channel. One broadcaster task per watched sale turns that into the
//! `QueueStatus` JSON (serialized once), coalesced to at most one per
//! [`pace`] (250 ms, slower when very many watch) except when the sale's
//! status or sold-out flag changes, which goes out at once. Every WebSocket
//! and every REST poll reads the same message; nobody gets a personal one,
//! so the cost per change is one serialization plus one frame per watcher.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use parking_lot::Mutex;
use stampede_core::{AdmissionPolicy, US_PER_S};
use stampede_engine::{LiveView, SaleHandle};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::dto::QueueStatusOut;

/// Least time between two messages that change only counts.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);
/// Most time between two such messages, however many watch.
pub const PUBLISH_EVERY_MAX: Duration = Duration::from_secs(2);
/// Frames per second one sale's count-only messages may cost in all. Every
/// frame is a send system call, and with tens of thousands watching a fixed
/// 250 ms pace would spend most of the server's CPU on repeating counts while
/// the rush needs it for joins; past this budget the pace slows with the
/// number of watchers. Status and sell-out changes are never slowed.
pub const FANOUT_FRAMES_PER_S: u32 = 7_500;
/// The window over which the admission rate is measured.
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Shortest window that gives a measured rate rather than the nominal one.
const RATE_WINDOW_MIN: Duration = Duration::from_secs(1);

/// One published message: its sequence number and its JSON text.
#[derive(Clone, Debug)]
pub struct Published {
    pub seq: u64,
    pub text: Utf8Bytes,
}

/// Broadcasters by sale, started on first watch.
#[derive(Default)]
pub struct LiveHub {
    sales: Mutex<BTreeMap<u64, Room>>,
}

/// Watchers are spread over [`SHARDS`] channels that the broadcaster sends to
/// one after another, yielding in between: waking tens of thousands of
/// socket tasks at once would queue every other request (a join, a hold)
/// behind all of them, while a shard at a time lets those run in between.
pub const SHARDS: usize = 16;

/// One sale's published status: the newest message, and the shards watchers read.
struct Room {
    latest: watch::Receiver<Arc<Published>>,
    shards: Vec<watch::Receiver<Arc<Published>>>,
    next: usize,
}

impl LiveHub {
    /// The newest published status of the sale, starting its broadcaster if needed.
    pub fn latest(&self, sale: &SaleHandle) -> Arc<Published> {
        let mut sales = self.sales.lock();
        Self::room(&mut sales, sale).latest.borrow().clone()
    }

    /// A watch of the sale's published status for one watcher, starting its
    /// broadcaster if needed.
    pub fn watch(&self, sale: &SaleHandle) -> watch::Receiver<Arc<Published>> {
        let mut sales = self.sales.lock();
        let room = Self::room(&mut sales, sale);
        let shard = room.next % SHARDS;
        room.next = room.next.wrapping_add(1);
        room.shards[shard].clone()
    }

    fn room<'a>(sales: &'a mut BTreeMap<u64, Room>, sale: &SaleHandle) -> &'a mut Room {
        // A broadcaster ends when its sale's engine task does; start anew then.
        if sales.get(&sale.id).is_some_and(|room| room.latest.has_changed().is_err()) {
            sales.remove(&sale.id);
        }
        sales.entry(sale.id).or_insert_with(|| {
            let mut source = sale.live();
            let first = source.borrow_and_update().clone();
            let mut broadcaster = Broadcaster::new(sale.id, nominal_rate(sale));
            let published = Arc::new(broadcaster.publish(&first));
            let (latest_tx, latest) = watch::channel(published.clone());
            let (shard_tx, shards): (Vec<_>, Vec<_>) = (0..SHARDS).map(|_| watch::channel(published.clone())).unzip();
            tokio::spawn(broadcaster.run(source, Outlets { latest: latest_tx, shards: shard_tx }, first));
            Room { latest, shards, next: 0 }
        })
    }
}

/// Where a broadcaster sends: the newest message for REST, then each shard.
struct Outlets {
    latest: watch::Sender<Arc<Published>>,
    shards: Vec<watch::Sender<Arc<Published>>>,
}

impl Outlets {
    fn watchers(&self) -> usize {
        self.shards.iter().map(watch::Sender::receiver_count).sum()
    }

    async fn send(&self, message: Arc<Published>) {
        self.latest.send_replace(message.clone());
        for shard in &self.shards {
            shard.send_replace(message.clone());
            // Let the woken sockets (and anything else queued) run before the next shard.
            tokio::task::yield_now().await;
        }
    }
}

fn nominal_rate(sale: &SaleHandle) -> Option<f64> {
    match sale.config.queue.as_ref()?.policy {
        AdmissionPolicy::Chunk { size, every_us } if every_us > 0 => {
            Some(f64::from(size) * US_PER_S as f64 / every_us as f64)
        }
        _ => None,
    }
}

struct Broadcaster {
    sale: u64,
    seq: u64,
    nominal_rate: Option<f64>,
    /// (when, admitted) samples inside the rate window, oldest first.
    samples: VecDeque<(Instant, u32)>,
}

impl Broadcaster {
    fn new(sale: u64, nominal_rate: Option<f64>) -> Self {
        Broadcaster { sale, seq: 0, nominal_rate, samples: VecDeque::new() }
    }

    fn rate(&mut self, admitted: u32) -> Option<f64> {
        let now = Instant::now();
        self.samples.push_back((now, admitted));
        while self.samples.front().is_some_and(|(at, _)| now.duration_since(*at) > RATE_WINDOW) {
            self.samples.pop_front();
        }
        match self.samples.front() {
            Some((at, first)) if now.duration_since(*at) >= RATE_WINDOW_MIN => {
                Some(f64::from(admitted.saturating_sub(*first)) / now.duration_since(*at).as_secs_f64())
            }
            _ => self.nominal_rate,
        }
    }

    fn publish(&mut self, live: &LiveView) -> Published {
        self.seq += 1;
        let admitted = live.view.queue.as_ref().map_or(0, |q| q.admitted);
        let rate = self.rate(admitted);
        let out = QueueStatusOut::new(self.seq, self.sale, live, rate);
        let text = serde_json::to_string(&out).unwrap_or_default();
        Published { seq: self.seq, text: Utf8Bytes::from(text) }
    }

    async fn run(mut self, mut source: watch::Receiver<Arc<LiveView>>, out: Outlets, mut last: Arc<LiveView>) {
        let mut last_at = Instant::now();
        loop {
            if source.changed().await.is_err() {
                return;
            }
            let mut next = source.borrow_and_update().clone();
            let urgent = next.view.status != last.view.status || (next.available == 0) != (last.available == 0);
            if !urgent {
                let due = last_at + pace(out.watchers());
                tokio::time::sleep_until(due).await;
                // Take whatever is newest after the pause: that is the coalescing.
                next = source.borrow_and_update().clone();
            }
            out.send(Arc::new(self.publish(&next))).await;
            last = next;
            last_at = Instant::now();
        }
    }
}

/// Least time between count-only messages to `watchers` receivers: the
/// budget [`FANOUT_FRAMES_PER_S`] spread over them, within
/// [`PUBLISH_EVERY`]..=[`PUBLISH_EVERY_MAX`].
pub fn pace(watchers: usize) -> Duration {
    let spread =
        Duration::from_secs(1).saturating_mul(u32::try_from(watchers).unwrap_or(u32::MAX)) / FANOUT_FRAMES_PER_S;
    spread.clamp(PUBLISH_EVERY, PUBLISH_EVERY_MAX)
}

/// Read buffer of one watcher's WebSocket. Watchers send almost nothing, and
/// with thousands of them idle the default (128 KiB each) would dominate memory.
pub const WS_READ_BUFFER: usize = 4 * 1024;
/// Largest message a watcher may send; they have nothing big to say.
pub const WS_MESSAGE_LEN_MAX: usize = 4 * 1024;
/// Outgoing bytes buffered for a slow watcher before sends fail.
pub const WS_WRITE_BUFFER_MAX: usize = 64 * 1024;
/// Pings keep the connection well inside the 60 s idle limit and find dead peers.
pub const WS_PING_EVERY: Duration = Duration::from_secs(20);

/// A watcher's upgrade with the buffers sized for many idle sockets.
pub fn watcher_upgrade(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(WS_WRITE_BUFFER_MAX)
        .max_message_size(WS_MESSAGE_LEN_MAX)
        .max_frame_size(WS_MESSAGE_LEN_MAX)
}

/// Serves one watcher: `text(value, first)` of the current value at once,
/// then of each newer value (a slow watcher skips to the newest); what the
/// watcher sends is ignored; pings every [`WS_PING_EVERY`]. Ends when the
/// peer leaves, a send fails, or the publisher is gone (then with a close).
pub async fn serve_watcher<T>(
    mut socket: WebSocket,
    mut updates: watch::Receiver<T>,
    mut text: impl FnMut(&T, bool) -> Utf8Bytes,
    _guard: WsGuard,
) {
    let first = text(&updates.borrow_and_update(), true);
    if socket.send(Message::Text(first)).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval_at(Instant::now() + WS_PING_EVERY, WS_PING_EVERY);
    loop {
        tokio::select! {
            changed = updates.changed() => {
                if changed.is_err() {
                    break;
                }
                let next = text(&updates.borrow_and_update(), false);
                if socket.send(Message::Text(next)).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Watchers have nothing to say; pongs and stray messages are ignored.
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// WebSockets open now and at most, for the operator and the bench.
#[derive(Default)]
pub struct WsGauge {
    open: AtomicU64,
    peak: AtomicU64,
}

impl WsGauge {
    pub fn open(self: &Arc<Self>) -> WsGuard {
        let now = self.open.fetch_add(1, Ordering::AcqRel) + 1;
        self.peak.fetch_max(now, Ordering::AcqRel);
        WsGuard(self.clone())
    }

    pub fn open_now(&self) -> u64 {
        self.open.load(Ordering::Acquire)
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Acquire)
    }
}

/// Counts one open WebSocket until dropped.
pub struct WsGuard(Arc<WsGauge>);

impl Drop for WsGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resident memory of this process in KiB (Linux), for `GET /api/admin/stats`.
pub fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_slows_only_past_the_fanout_budget() {
        assert_eq!(pace(0), PUBLISH_EVERY);
        assert_eq!(pace(1_000), PUBLISH_EVERY);
        assert_eq!(pace(3_750), Duration::from_millis(500));
        assert_eq!(pace(7_500), Duration::from_secs(1));
        assert_eq!(pace(1_000_000), PUBLISH_EVERY_MAX);
    }
}
