//! Live status for waiting rooms: one shared message per change, fanned out
//! to every watcher.
//!
//! Each sale's engine task publishes its durable public state on a watch
//! channel. One broadcaster task per watched sale turns that into the
//! `QueueStatus` JSON (serialized once), coalesced to at most
//! [`PUBLISH_EVERY`] apart except when the sale's status or sold-out flag
//! changes, which goes out at once. Every WebSocket and every REST poll reads
//! the same message; nobody gets a personal one, so the cost per change is
//! one serialization plus one frame per watcher.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use parking_lot::Mutex;
use stampede_core::{AdmissionPolicy, US_PER_S};
use stampede_engine::{LiveView, SaleHandle};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::dto::QueueStatusOut;

/// Least time between two messages that change only counts.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);
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
    sales: Mutex<BTreeMap<u64, watch::Receiver<Arc<Published>>>>,
}

impl LiveHub {
    /// A watch of the sale's published status, starting its broadcaster if needed.
    pub fn watch(&self, sale: &SaleHandle) -> watch::Receiver<Arc<Published>> {
        let mut sales = self.sales.lock();
        if let Some(rx) = sales.get(&sale.id)
            && rx.has_changed().is_ok()
        {
            return rx.clone();
        }
        let mut source = sale.live();
        let first = source.borrow_and_update().clone();
        let mut broadcaster = Broadcaster::new(sale.id, nominal_rate(sale));
        let (tx, rx) = watch::channel(Arc::new(broadcaster.publish(&first)));
        tokio::spawn(broadcaster.run(source, tx, first));
        sales.insert(sale.id, rx.clone());
        rx
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

    async fn run(
        mut self,
        mut source: watch::Receiver<Arc<LiveView>>,
        tx: watch::Sender<Arc<Published>>,
        mut last: Arc<LiveView>,
    ) {
        let mut last_at = Instant::now();
        loop {
            if source.changed().await.is_err() {
                return;
            }
            let mut next = source.borrow_and_update().clone();
            let urgent = next.view.status != last.view.status || (next.available == 0) != (last.available == 0);
            if !urgent {
                let due = last_at + PUBLISH_EVERY;
                tokio::time::sleep_until(due).await;
                // Take whatever is newest after the pause: that is the coalescing.
                next = source.borrow_and_update().clone();
            }
            tx.send_replace(Arc::new(self.publish(&next)));
            last = next;
            last_at = Instant::now();
        }
    }
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
