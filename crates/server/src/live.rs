//! Live status: one shared message per change, fanned out to every watcher,
//! for waiting rooms and for each sale's typed live socket.
//!
//! Each sale's engine task publishes its durable public state on a watch
//! channel. One broadcaster task per watched sale turns that into the
//! `QueueStatus` JSON (serialized once), coalesced to at most one per
//! [`pace`] (250 ms, slower when very many watch) except when the sale's
//! status or sold-out flag changes, which goes out at once. Every WebSocket
//! and every REST poll reads the same message; nobody gets a personal one,
//! so the cost per change is one serialization plus one frame per watcher.
//!
//! The sale's live socket (`GET /api/sales/{id}/live/ws`, [`serve_live`])
//! carries typed messages: `status`, `stock`, `drop` and, for the organizer,
//! `dashboard`, made the same way by a [`StreamBroadcaster`], the waiting
//! room's message typed `queue`, and, for a viewer who asks, the seat map's
//! frames typed `seats` (made by `crate::seatmap`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use parking_lot::Mutex;
use serde::Serialize;
use stampede_core::{AdmissionPolicy, KindConfig, US_PER_S};
use stampede_engine::{Engine, LiveView, SaleHandle};
use stampede_store::Store;
use tokio::sync::watch;
use tokio::time::Instant;
use utoipa::ToSchema;

use crate::routes::common::wire::{LeaderEntry, QueueStatusOut, fmt_us};
use crate::seatmap::{SeatCursor, SeatFrame};

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
    /// The same message typed `queue`, as the sale's one live socket
    /// (`/api/sales/{id}/live/ws`) carries it beside its other streams.
    pub tagged: Utf8Bytes,
}

/// Broadcasters by sale, started on first watch: the waiting rooms' status
/// and every sale's typed live streams ([`SaleFrames`]).
#[derive(Default)]
pub struct LiveHub {
    sales: Mutex<BTreeMap<u64, Room>>,
    streams: Mutex<BTreeMap<u64, Streams>>,
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
        let mut out = QueueStatusOut::new(self.seq, self.sale, live, rate);
        let text = serde_json::to_string(&out).unwrap_or_default();
        out.kind = "queue";
        let tagged = serde_json::to_string(&out).unwrap_or_default();
        Published { seq: self.seq, text: Utf8Bytes::from(text), tagged: Utf8Bytes::from(tagged) }
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

// ---- A sale's typed live streams: status, stock, drop, dashboard ----

/// The newest frame of each public stream of a sale. A frame keeps the `seq`
/// of the publication that last changed it, so a watcher sends exactly the
/// frames it has not sent yet (all of them at first), and every watcher
/// sends the same bytes.
#[derive(Debug)]
pub struct SaleFrames {
    pub status: Frame,
    /// Stock sales only.
    pub stock: Option<Frame>,
    /// Drops only.
    pub drop: Option<Frame>,
}

/// One serialized message of a stream and the publication that made it.
#[derive(Clone, Debug)]
pub struct Frame {
    pub seq: u64,
    pub text: Utf8Bytes,
}

/// One sale's typed streams: the public frames, spread over [`SHARDS`]
/// channels like a waiting room's, and the organizer's dashboard, on a
/// channel of its own so that its once-a-second rate ticks wake only the
/// dashboards, not every viewer.
struct Streams {
    shards: Vec<watch::Receiver<Arc<SaleFrames>>>,
    dashboard: watch::Receiver<Arc<Frame>>,
    next: usize,
}

/// What one watcher of a sale's live socket receives.
pub struct LiveFeeds {
    pub public: watch::Receiver<Arc<SaleFrames>>,
    /// Present only for the sale's organizer or an admin (the route checks).
    pub dashboard: Option<watch::Receiver<Arc<Frame>>>,
    /// Present for a sale with a waiting room.
    pub queue: Option<watch::Receiver<Arc<Published>>>,
    /// Present for a seated sale; sent only once the watcher asks for it
    /// (`?seats=true` or a `{"subscribe":"seats"}` message): a snapshot is
    /// 8 KB for 50,000 seats and deltas come ten times a second, which a
    /// page that shows no map (a waiting room before admission) must not pay.
    pub seats: Option<watch::Receiver<Arc<SeatFrame>>>,
    pub seats_wanted: bool,
}

impl LiveHub {
    /// The feeds of the sale's one live socket, starting its broadcasters if
    /// needed; `dashboard` only when the caller checked the watcher may see
    /// it; `seats` is the seat map's watch of a seated sale.
    pub fn feeds(
        &self,
        engine: &Engine,
        store: &Store,
        sale: &SaleHandle,
        dashboard: bool,
        seats: Option<watch::Receiver<Arc<SeatFrame>>>,
        seats_wanted: bool,
    ) -> LiveFeeds {
        let queue = sale.config.queue.is_some().then(|| self.watch(sale));
        let mut streams = self.streams.lock();
        // A broadcaster ends when its sale's engine task does; start anew then.
        if streams.get(&sale.id).is_some_and(|s| s.dashboard.has_changed().is_err()) {
            streams.remove(&sale.id);
        }
        let room = streams.entry(sale.id).or_insert_with(|| {
            let mut source = sale.live();
            let first = source.borrow_and_update().clone();
            let mut broadcaster = StreamBroadcaster::new(sale.id, engine.clone(), store.clone());
            let frames = Arc::new(broadcaster.frames(&first, None));
            let board = Arc::new(broadcaster.dashboard(&first));
            let (shard_tx, shards): (Vec<_>, Vec<_>) = (0..SHARDS).map(|_| watch::channel(frames.clone())).unzip();
            let (board_tx, board_rx) = watch::channel(board);
            tokio::spawn(broadcaster.run(source, shard_tx, board_tx, first, frames));
            Streams { shards, dashboard: board_rx, next: 0 }
        });
        let shard = room.next % SHARDS;
        room.next = room.next.wrapping_add(1);
        LiveFeeds {
            public: room.shards[shard].clone(),
            dashboard: dashboard.then(|| room.dashboard.clone()),
            queue,
            seats_wanted: seats_wanted && seats.is_some(),
            seats,
        }
    }
}

/// How often the dashboard's commands-per-second figure is refreshed while
/// commands arrive (the count moves without the sale's view changing).
pub const DASHBOARD_RATE_EVERY: Duration = Duration::from_secs(1);

/// Turns a sale's durable view into its typed frames.
struct StreamBroadcaster {
    sale: u64,
    /// For the sale's current configuration (an edit before opening may
    /// change the price) and its command counter, read at each publication.
    /// Not a `SaleHandle`: holding its mailbox sender would keep the sale's
    /// task alive past the engine's shutdown.
    engine: Engine,
    /// For the leaderboard's names (an in-memory lookup).
    store: Store,
    seq: u64,
    /// Masked names of the leaderboard's ranks so far, by rank - 1: ranks
    /// only ever append, so each name is looked up once.
    names: Vec<String>,
    /// The command count the last dashboard frame showed, and the one before
    /// it: while they differ the dashboard shows a rate above zero, so a rate
    /// tick must still send one more frame once commands stop.
    commands_shown: u64,
    commands_before: u64,
}

impl StreamBroadcaster {
    fn new(sale: u64, engine: Engine, store: Store) -> Self {
        StreamBroadcaster { sale, engine, store, seq: 0, names: Vec::new(), commands_shown: 0, commands_before: 0 }
    }

    fn commands_total(&self) -> u64 {
        self.engine.sale(self.sale).map_or(self.commands_shown, |h| h.commands_total())
    }

    /// The public frames for `live`, reusing from `last` (made from `before`)
    /// every frame whose content did not change.
    fn frames(&mut self, live: &LiveView, last: Option<(&LiveView, &SaleFrames)>) -> SaleFrames {
        self.seq += 1;
        let seq = self.seq;
        let frame = |text: String| Frame { seq, text: Utf8Bytes::from(text) };
        let v = &live.view;
        let sold_out = live.available == 0;
        let status = match last {
            Some((before, f)) if before.view.status == v.status && (before.available == 0) == sold_out => {
                f.status.clone()
            }
            _ => frame(to_json(&LiveStatusOut {
                kind: "status",
                seq,
                sale_id: self.sale,
                status: v.status.as_str(),
                sold_out,
            })),
        };
        let stock = v.stock.as_ref().map(|st| match last {
            Some((before, SaleFrames { stock: Some(f), .. })) if before.view.stock.as_ref() == Some(st) => f.clone(),
            _ => frame(to_json(&LiveStockOut {
                kind: "stock",
                seq,
                sale_id: self.sale,
                total: st.total,
                available: st.available,
                held: st.held,
                sold: st.sold,
            })),
        });
        let drop = v.drop.as_ref().map(|d| match last {
            Some((before, SaleFrames { drop: Some(f), .. })) if before.view.drop.as_ref() == Some(d) => f.clone(),
            _ => {
                let leaders = live.leaders.as_deref().unwrap_or_default();
                for c in &leaders[self.names.len().min(leaders.len())..] {
                    let name = self.store.user(stampede_store::UserId(c.by.0)).map(|u| u.name).unwrap_or_default();
                    self.names.push(stampede_store::mask_name(&name));
                }
                frame(to_json(&LiveDropOut {
                    kind: "drop",
                    seq,
                    sale_id: self.sale,
                    winners: d.winners,
                    clicks: d.clicks,
                    won: d.won,
                    left: d.winners.saturating_sub(d.won),
                    leaders: leaders
                        .iter()
                        .zip(&self.names)
                        .map(|(c, name)| LeaderEntry {
                            rank: c.rank,
                            name: name.clone(),
                            won: c.won,
                            clicked_at: fmt_us(c.at_us),
                            clicked_at_us: c.at_us,
                            after_open_ms: c.after_open_us as f64 / 1000.0,
                        })
                        .collect(),
                }))
            }
        });
        SaleFrames { status, stock, drop }
    }

    /// The organizer's numbers for `live`, with the command count now.
    fn dashboard(&mut self, live: &LiveView) -> Frame {
        self.seq += 1;
        let v = &live.view;
        self.commands_before = self.commands_shown;
        self.commands_shown = self.commands_total();
        let config = self.engine.sale(self.sale).map(|h| h.config);
        let (sold, held, available, revenue) = match (&v.stock, &v.drop, &v.seats) {
            (Some(st), _, _) => {
                let price = match config.as_deref().map(|c| &c.kind) {
                    Some(KindConfig::Stock(c)) => c.price,
                    _ => 0,
                };
                (st.sold, st.held, st.available, Some(price.saturating_mul(st.sold)))
            }
            (_, Some(d), _) => (u64::from(d.won), 0, u64::from(d.winners.saturating_sub(d.won)), None),
            (_, _, Some(s)) => (u64::from(s.sold), u64::from(s.held), u64::from(s.available), None),
            _ => (0, 0, live.available, None),
        };
        let out = LiveDashboardOut {
            kind: "dashboard",
            seq: self.seq,
            sale_id: self.sale,
            status: v.status.as_str(),
            sold,
            held,
            available,
            revenue,
            clicks: v.drop.as_ref().map(|d| d.clicks),
            joined: v.queue.as_ref().map(|q| q.joined),
            admitted: v.queue.as_ref().map(|q| q.admitted),
            waiting: v.queue.as_ref().map(|q| q.waiting),
            tickets_admitted: v.drop.is_none().then_some(live.tickets_admitted),
            ticket_conflicts: v.drop.is_none().then_some(live.ticket_conflicts),
            commands_total: self.commands_shown,
            at_us: self.engine.now_us(),
        };
        Frame { seq: self.seq, text: Utf8Bytes::from(to_json(&out)) }
    }

    async fn run(
        mut self,
        mut source: watch::Receiver<Arc<LiveView>>,
        shards: Vec<watch::Sender<Arc<SaleFrames>>>,
        dashboard: watch::Sender<Arc<Frame>>,
        mut last: Arc<LiveView>,
        mut frames: Arc<SaleFrames>,
    ) {
        let mut last_at = Instant::now();
        let mut rate = tokio::time::interval_at(Instant::now() + DASHBOARD_RATE_EVERY, DASHBOARD_RATE_EVERY);
        rate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                changed = source.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let mut next = source.borrow_and_update().clone();
                    let urgent = next.view.status != last.view.status || (next.available == 0) != (last.available == 0);
                    if !urgent {
                        let watchers = shards.iter().map(watch::Sender::receiver_count).sum();
                        tokio::time::sleep_until(last_at + pace(watchers)).await;
                        // Take whatever is newest after the pause: that is the coalescing.
                        next = source.borrow_and_update().clone();
                    }
                    frames = Arc::new(self.frames(&next, Some((&last, &frames))));
                    dashboard.send_replace(Arc::new(self.dashboard(&next)));
                    for shard in &shards {
                        shard.send_replace(frames.clone());
                        // Let the woken sockets (and anything else queued) run before the next shard.
                        tokio::task::yield_now().await;
                    }
                    last = next;
                    last_at = Instant::now();
                }
                _ = rate.tick() => {
                    let stale = self.commands_total() != self.commands_shown || self.commands_shown != self.commands_before;
                    // The broadcaster's own receiver aside, is any dashboard watching?
                    if stale && dashboard.receiver_count() > 1 {
                        dashboard.send_replace(Arc::new(self.dashboard(&last)));
                    }
                }
            }
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // These types are plain structs of numbers and strings: serializing cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Message `status` of the live socket: the sale's status and whether
/// nothing is left; sent at once when either changes.
#[derive(Serialize, ToSchema)]
pub struct LiveStatusOut {
    /// `status`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    pub sale_id: u64,
    /// `scheduled`, `open` or `closed`.
    pub status: &'static str,
    pub sold_out: bool,
}

/// Message `stock` of the live socket (stock sales): units left, held and sold.
#[derive(Serialize, ToSchema)]
pub struct LiveStockOut {
    /// `stock`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    pub sale_id: u64,
    pub total: u64,
    pub available: u64,
    pub held: u64,
    pub sold: u64,
}

/// Message `drop` of the live socket (drops): the counts and the top of the
/// leaderboard (the first 100 ranks, masked names), as `GET leaderboard` pages.
#[derive(Serialize, ToSchema)]
pub struct LiveDropOut {
    /// `drop`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    pub sale_id: u64,
    pub winners: u32,
    pub clicks: u32,
    pub won: u32,
    /// Winning ranks still to be had.
    pub left: u32,
    pub leaders: Vec<LeaderEntry>,
}

/// Message `dashboard` of the live socket, only for the sale's organizer or
/// an admin (`?dashboard=true`): the numbers of the organizer's page.
#[derive(Serialize, ToSchema)]
pub struct LiveDashboardOut {
    /// `dashboard`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub seq: u64,
    pub sale_id: u64,
    pub status: &'static str,
    /// Units sold, seats sold, or a drop's winning clicks.
    pub sold: u64,
    pub held: u64,
    pub available: u64,
    /// Stock sales: price × sold. Other kinds: read `GET results`.
    pub revenue: Option<u64>,
    /// Drops: every click so far.
    pub clicks: Option<u32>,
    /// With a waiting room: places taken, let in, still waiting.
    pub joined: Option<u32>,
    pub admitted: Option<u32>,
    pub waiting: Option<u32>,
    /// Stock and seated sales: tickets let in at the gates (of `sold`, one
    /// ticket per unit or seat), and offline admissions recorded as
    /// conflicts (the list: `GET /api/sales/{id}/checkin`).
    pub tickets_admitted: Option<u64>,
    pub ticket_conflicts: Option<u64>,
    /// Commands posted to the sale since the server started; two messages
    /// give a rate. Refreshed every second while commands arrive.
    pub commands_total: u64,
    /// The server's clock when this message was made.
    pub at_us: i64,
}

/// Any message of the live socket, told apart by `type`.
#[derive(ToSchema)]
#[allow(dead_code)] // only documents the socket's messages in the OpenAPI description
pub enum LiveMessage {
    Status(LiveStatusOut),
    Stock(LiveStockOut),
    Drop(LiveDropOut),
    Queue(QueueStatusOut),
    Dashboard(LiveDashboardOut),
    /// Type `seats`, `form` `snapshot`.
    SeatsSnapshot(crate::seatmap::Snapshot<'static>),
    /// Type `seats`, `form` `delta`.
    SeatsDelta(crate::seatmap::Delta<'static>),
}

/// What a watcher of the live socket may say: ask for a stream that is
/// sent only on request (`seats`). Asking again for one already sent starts
/// it over (for `seats`: a snapshot).
#[derive(serde::Deserialize)]
struct LiveRequest {
    subscribe: String,
}

/// Serves one watcher of a sale's live socket: every frame of its feeds at
/// once, then each newer frame (a slow watcher skips to the newest, and for
/// the seat map gets a snapshot rather than a delta that does not continue
/// what it has); pings every [`WS_PING_EVERY`]. The watcher may ask for the
/// seat map ([`LiveRequest`]); anything else it sends is ignored. Ends when
/// the peer leaves, a send fails, or the sale's broadcaster is gone.
pub async fn serve_live(mut socket: WebSocket, mut feeds: LiveFeeds, _guard: WsGuard) {
    // The seq of the newest frame of each public stream sent, to send only what changed.
    let mut sent = [0u64; 3];
    let mut seats_sent = SeatCursor::default();
    let mut ping = tokio::time::interval_at(Instant::now() + WS_PING_EVERY, WS_PING_EVERY);
    // Which feeds have news: all of them at first.
    let (mut public_new, mut queue_new, mut board_new, mut seats_new) = (true, true, true, true);
    loop {
        let mut out: Vec<Utf8Bytes> = Vec::new();
        if public_new {
            let frames = feeds.public.borrow_and_update().clone();
            for (i, frame) in
                [Some(&frames.status), frames.stock.as_ref(), frames.drop.as_ref()].into_iter().enumerate()
            {
                if let Some(f) = frame
                    && f.seq > sent[i]
                {
                    sent[i] = f.seq;
                    out.push(f.text.clone());
                }
            }
        }
        if queue_new && let Some(queue) = &mut feeds.queue {
            out.push(queue.borrow_and_update().tagged.clone());
        }
        if board_new && let Some(board) = &mut feeds.dashboard {
            out.push(board.borrow_and_update().text.clone());
        }
        if seats_new
            && feeds.seats_wanted
            && let Some(seats) = &mut feeds.seats
        {
            let frame = seats.borrow_and_update().clone();
            out.push(seats_sent.next(&frame, |f| &f.tagged));
        }
        (public_new, queue_new, board_new, seats_new) = (false, false, false, false);
        for text in out {
            if socket.send(Message::Text(text)).await.is_err() {
                return;
            }
        }
        // Unwanted, the seat feed is not even polled: its changes wake nobody.
        let seats = if feeds.seats_wanted { feeds.seats.as_mut() } else { None };
        tokio::select! {
            changed = feeds.public.changed() => match changed {
                Ok(()) => public_new = true,
                Err(_) => break,
            },
            changed = changed_or_pending(feeds.queue.as_mut()) => match changed {
                Ok(()) => queue_new = true,
                Err(_) => break,
            },
            changed = changed_or_pending(feeds.dashboard.as_mut()) => match changed {
                Ok(()) => board_new = true,
                Err(_) => break,
            },
            changed = changed_or_pending(seats) => match changed {
                Ok(()) => seats_new = true,
                Err(_) => break,
            },
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(text))) => {
                    if let Ok(LiveRequest { subscribe }) = serde_json::from_str(text.as_str())
                        && subscribe == "seats"
                        && feeds.seats.is_some()
                    {
                        feeds.seats_wanted = true;
                        seats_sent = SeatCursor::default();
                        seats_new = true;
                    }
                }
                // Pongs and stray messages are ignored.
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

/// Waits for a change of `rx`, or forever when there is no such feed.
async fn changed_or_pending<T>(rx: Option<&mut watch::Receiver<T>>) -> Result<(), watch::error::RecvError> {
    match rx {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
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
