//! One person of the queue scenario: its WebSocket on `queue/ws` and what it
//! does on each status message (find its place after the shuffle, buy once
//! admitted, give up at the sell-out), with the HTTP work in background jobs
//! ([`super::client`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::{self, Message};

use super::client::{Ctx, JobDone, buy, locate};
use crate::room::{StatusLite, parse_status};
use crate::ws::Ws;

/// How long a closing handshake may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(2);

/// How a person's run ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// Still going when the run ended.
    #[default]
    Unfinished,
    /// Hold and confirm acknowledged.
    Bought,
    /// The hold was refused as sold out.
    Refused,
    /// Saw `sold_out` while still waiting and stopped.
    GaveUp,
    /// The join had failed, so there was nothing to wait for.
    NotJoined,
    /// Something went wrong (see the report's failure).
    Failed,
    /// The WebSocket never opened.
    NoSocket,
}

/// What one person's task observed.
#[derive(Debug, Default)]
pub(super) struct Report {
    pub(super) connected: bool,
    /// Why the socket ended before the run did.
    pub(super) dropped: Option<String>,
    /// Status messages received.
    pub(super) messages: u64,
    /// Text messages that were not status messages.
    pub(super) unparsed: u64,
    /// Messages whose `seq` was not above the previous one.
    pub(super) out_of_order: u64,
    pub(super) last_seq: Option<u64>,
    pub(super) max_admitted: u64,
    pub(super) saw_sold_out_at: Option<Instant>,
    /// When the person learned it was admitted (a message, or `queue/me`).
    pub(super) admitted_at: Option<Instant>,
    pub(super) ticket: Option<u32>,
    pub(super) place: Option<u32>,
    /// A hold was acknowledged.
    pub(super) held: bool,
    pub(super) end: End,
    pub(super) failure: Option<String>,
    /// The failure is not an HTTP error already counted.
    pub(super) protocol_error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Before the shuffle.
    Idle,
    /// Asking `queue/me` for the place.
    Locating,
    Waiting {
        place: u32,
    },
    Buying,
    Done,
}

pub(super) struct Client {
    ctx: Arc<Ctx>,
    i: usize,
    r: Report,
    stage: Stage,
    latest: Option<StatusLite>,
    job: Option<JoinHandle<JobDone>>,
}

enum Event {
    Stop,
    Socket(Option<Result<Message, tungstenite::Error>>),
    Job(Result<JobDone, JoinError>),
}

impl Client {
    /// Person `i`, before anything happened.
    pub(super) fn new(ctx: Arc<Ctx>, i: usize) -> Client {
        Client { ctx, i, r: Report::default(), stage: Stage::Idle, latest: None, job: None }
    }

    fn finish(&mut self, end: End) {
        if self.stage != Stage::Done {
            self.stage = Stage::Done;
            self.r.end = end;
            self.ctx.done.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn fail(&mut self, why: String, protocol: bool) {
        if self.stage != Stage::Done {
            self.r.failure = Some(why);
            self.r.protocol_error = protocol;
        }
        self.finish(End::Failed);
    }

    fn start_locate(&mut self) {
        self.stage = Stage::Locating;
        self.job = Some(tokio::spawn(locate(self.ctx.clone(), self.i)));
    }

    fn start_buy(&mut self, pass: Option<String>) {
        self.stage = Stage::Buying;
        self.job = Some(tokio::spawn(buy(self.ctx.clone(), self.i, pass)));
    }

    fn learned_admitted(&mut self) {
        self.r.admitted_at.get_or_insert_with(Instant::now);
    }

    fn on_status(&mut self, st: StatusLite) {
        let r = &mut self.r;
        r.messages += 1;
        if r.last_seq.is_some_and(|last| st.seq <= last) {
            r.out_of_order += 1;
        }
        r.last_seq = Some(r.last_seq.map_or(st.seq, |last| last.max(st.seq)));
        self.ctx.people[self.i].seen.fetch_max(st.seq + 1, Ordering::Relaxed);
        r.max_admitted = r.max_admitted.max(st.admitted);
        if st.sold_out {
            r.saw_sold_out_at.get_or_insert_with(Instant::now);
        }
        // Admission latency counts only for people still in line (one who
        // gave up on the sell-out may be admitted afterwards).
        if self.stage != Stage::Done && r.place.is_some_and(|p| st.admitted >= u64::from(p)) {
            self.learned_admitted();
        }
        self.latest = Some(st);
        match self.stage {
            Stage::Idle if !st.prequeue => {
                if self.ctx.people[self.i].joined.load(Ordering::Acquire) {
                    self.start_locate();
                } else {
                    self.finish(End::NotJoined);
                }
            }
            Stage::Waiting { place } => {
                if st.admitted >= u64::from(place) {
                    self.start_buy(None);
                } else if st.sold_out {
                    self.finish(End::GaveUp);
                }
            }
            _ => {}
        }
    }

    fn on_job(&mut self, done: Result<JobDone, JoinError>) {
        let done = match done {
            Ok(done) => done,
            Err(e) => return self.fail(format!("person task: {e}"), true),
        };
        match done {
            JobDone::Located(t) => {
                self.r.ticket = Some(t.ticket);
                self.r.place = t.place;
                let Some(place) = t.place else {
                    return self.fail("queue/me gave no place".into(), true);
                };
                let latest =
                    self.latest.unwrap_or(StatusLite { seq: 0, sold_out: false, prequeue: false, admitted: 0 });
                if self.r.max_admitted >= u64::from(place) {
                    // A message had admitted this place before the place was known.
                    self.learned_admitted();
                }
                if t.pass.is_some() || t.admitted {
                    self.learned_admitted();
                    self.start_buy(t.pass);
                } else if latest.admitted >= u64::from(place) {
                    self.start_buy(None);
                } else if latest.sold_out {
                    self.finish(End::GaveUp);
                } else {
                    self.stage = Stage::Waiting { place };
                }
            }
            JobDone::Bought => {
                self.r.held = true;
                self.finish(End::Bought);
            }
            JobDone::Refused => self.finish(End::Refused),
            JobDone::Failed { why, held, protocol } => {
                self.r.held |= held;
                self.fail(why, protocol);
            }
        }
    }

    async fn next_event(&mut self, ws: &mut Ws, stop: &mut watch::Receiver<bool>) -> Event {
        let job = &mut self.job;
        tokio::select! {
            _ = stop.changed() => Event::Stop,
            msg = ws.next() => Event::Socket(msg),
            done = async {
                match job.as_mut() {
                    Some(handle) => handle.await,
                    None => std::future::pending().await,
                }
            } => Event::Job(done),
        }
    }

    /// Runs until told to stop (or the socket ends), then closes the socket.
    pub(super) async fn run(mut self, mut stop: watch::Receiver<bool>) -> Report {
        let opened = {
            let _permit = self.ctx.ws_gate.acquire().await;
            match self.ctx.open_failure.get() {
                Some(_) => Err("not tried: an earlier socket could not open".to_string()),
                None => self.ctx.connector.connect(self.i).await.inspect_err(|e| {
                    let _ = self.ctx.open_failure.set(format!(
                        "websocket {} of {}: {e}",
                        self.i + 1,
                        self.ctx.people.len()
                    ));
                }),
            }
        };
        self.ctx.attempted.fetch_add(1, Ordering::AcqRel);
        let mut ws = match opened {
            Ok(ws) => ws,
            Err(e) => {
                self.r.failure = Some(format!("websocket: {e}"));
                self.finish(End::NoSocket);
                return self.r;
            }
        };
        self.r.connected = true;
        self.ctx.people[self.i].open.store(true, Ordering::Release);
        let stopped = loop {
            match self.next_event(&mut ws, &mut stop).await {
                Event::Stop => break true,
                Event::Socket(Some(Ok(Message::Text(text)))) => match parse_status(text.as_str()) {
                    Some(st) => self.on_status(st),
                    None => self.r.unparsed += 1,
                },
                Event::Socket(Some(Ok(Message::Close(_))) | None) => {
                    self.r.dropped = Some("closed by the server".into());
                    break false;
                }
                // Pings are answered by tungstenite on the next read.
                Event::Socket(Some(Ok(_))) => {}
                Event::Socket(Some(Err(e))) => {
                    self.r.dropped = Some(e.to_string());
                    break false;
                }
                Event::Job(done) => {
                    self.job = None;
                    self.on_job(done);
                }
            }
        };
        self.ctx.people[self.i].open.store(false, Ordering::Release);
        if let Some(job) = self.job.take() {
            if stopped {
                job.abort();
                let _ = job.await;
            } else {
                // The socket is gone but the purchase goes on (bounded by the deadline).
                let done = job.await;
                self.on_job(done);
            }
        }
        if !stopped {
            let why = self.r.dropped.clone().unwrap_or_default();
            self.fail(format!("websocket dropped: {why}"), false);
            return self.r;
        }
        // Close politely: our close frame, then read until the server's answer.
        let _ = timeout(CLOSE_LIMIT, async {
            if ws.close(None).await.is_ok() {
                while let Some(Ok(_)) = ws.next().await {}
            }
        })
        .await;
        self.r
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::OnceLock;
    use std::sync::atomic::AtomicUsize;

    use bytes::Bytes;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::api::VUser;
    use crate::http::Target;
    use crate::pool::Pool;
    use crate::room::QueueTicket;
    use crate::scenario::queue::client::Person;
    use crate::stats::Live;
    use crate::ws::Connector;

    async fn test_ctx(people: usize) -> Arc<Ctx> {
        let target = Arc::new(Target::resolve("http://127.0.0.1:9").await.unwrap());
        let users = (0..people).map(|i| VUser { id: i as u64 + 1, auth: crate::api::bearer("t").unwrap() }).collect();
        Arc::new(Ctx {
            join_uri: target.uri("/api/sales/1/queue/join").unwrap(),
            me_uri: target.uri("/api/sales/1/queue/me").unwrap(),
            holds_uri: target.uri("/api/sales/1/holds").unwrap(),
            confirm_prefix: target.path("/api/sales/1/holds/"),
            hold_body: Bytes::from_static(b"{}"),
            connector: Connector::new(&target, "/api/sales/1/queue/ws", 1),
            pool: Pool::new(&target, 1).unwrap(),
            target,
            live: Arc::new(Live::default()),
            users,
            people: (0..people).map(|_| Person::default()).collect(),
            connections: 1,
            sale: 1,
            ws_gate: Semaphore::new(1),
            attempted: AtomicUsize::new(0),
            open_failure: OnceLock::new(),
            done: AtomicUsize::new(0),
            opened_at: OnceLock::new(),
            deadline: OnceLock::new(),
            acks: None,
        })
    }

    fn client(ctx: &Arc<Ctx>, i: usize) -> Client {
        Client::new(ctx.clone(), i)
    }

    fn st(seq: u64, prequeue: bool, admitted: u64, sold_out: bool) -> StatusLite {
        StatusLite { seq, sold_out, prequeue, admitted }
    }

    fn ticket(place: u32, pass: Option<&str>) -> JobDone {
        JobDone::Located(QueueTicket {
            ticket: 3,
            place: Some(place),
            admitted: pass.is_some(),
            pass: pass.map(str::to_owned),
            pass_state: if pass.is_some() { "admitted" } else { "waiting" }.into(),
        })
    }

    /// Stops the job a transition started (it would talk to the network).
    async fn started_job(c: &mut Client) -> bool {
        match c.job.take() {
            Some(job) => {
                job.abort();
                let _ = job.await;
                true
            }
            None => false,
        }
    }

    #[tokio::test]
    async fn a_person_waits_for_its_place_then_buys() {
        let ctx = test_ctx(2).await;
        ctx.people[0].joined.store(true, Ordering::Release);
        let mut c = client(&ctx, 0);
        // Pre-queue messages change nothing.
        c.on_status(st(1, true, 0, false));
        assert_eq!(c.stage, Stage::Idle);
        // The shuffle: ask for the place.
        c.on_status(st(2, false, 0, false));
        assert_eq!(c.stage, Stage::Locating);
        assert!(started_job(&mut c).await);
        c.on_job(Ok(ticket(1500, None)));
        assert_eq!((c.stage, c.r.place, c.r.ticket), (Stage::Waiting { place: 1500 }, Some(1500), Some(3)));
        c.on_status(st(3, false, 1000, false));
        assert_eq!(c.stage, Stage::Waiting { place: 1500 });
        assert!(c.r.admitted_at.is_none());
        // Admitted: buy.
        c.on_status(st(4, false, 2000, false));
        assert_eq!(c.stage, Stage::Buying);
        assert!(c.r.admitted_at.is_some());
        assert!(started_job(&mut c).await);
        c.on_job(Ok(JobDone::Bought));
        assert_eq!((c.stage, c.r.end, c.r.held), (Stage::Done, End::Bought, true));
        assert_eq!(ctx.done.load(Ordering::Acquire), 1);
        // Later messages are still tracked, but the person is done once.
        c.on_status(st(5, false, 2000, true));
        c.on_status(st(5, false, 2000, true));
        assert_eq!((c.r.last_seq, c.r.messages, c.r.out_of_order), (Some(5), 6, 1));
        assert_eq!(ctx.people[0].seen.load(Ordering::Relaxed), 6);
        assert!(c.r.saw_sold_out_at.is_some());
        assert_eq!(ctx.done.load(Ordering::Acquire), 1);
    }

    #[tokio::test]
    async fn a_waiting_person_stops_at_the_sell_out() {
        let ctx = test_ctx(1).await;
        ctx.people[0].joined.store(true, Ordering::Release);
        let mut c = client(&ctx, 0);
        c.on_status(st(1, false, 100, false));
        assert!(started_job(&mut c).await);
        c.on_job(Ok(ticket(500, None)));
        c.on_status(st(2, false, 200, true));
        assert_eq!((c.stage, c.r.end), (Stage::Done, End::GaveUp));
        // Admitted after giving up: not an admission it waited for.
        c.on_status(st(3, false, 600, true));
        assert!(c.r.admitted_at.is_none());
        assert_eq!(c.r.max_admitted, 600);
    }

    #[tokio::test]
    async fn located_outcomes() {
        let ctx = test_ctx(4).await;
        for p in &ctx.people {
            p.joined.store(true, Ordering::Release);
        }
        // Already admitted when asked: buy with the pass given.
        let mut a = client(&ctx, 0);
        a.on_status(st(1, false, 10, false));
        assert!(started_job(&mut a).await);
        a.on_job(Ok(ticket(5, Some("v1.x.y"))));
        assert_eq!(a.stage, Stage::Buying);
        assert!(a.r.admitted_at.is_some());
        assert!(started_job(&mut a).await);
        a.on_job(Ok(JobDone::Refused));
        assert_eq!(a.r.end, End::Refused);
        // Sold out before the place came back: give up.
        let mut b = client(&ctx, 1);
        b.on_status(st(1, false, 10, false));
        assert!(started_job(&mut b).await);
        b.on_status(st(2, false, 10, true));
        b.on_job(Ok(ticket(50, None)));
        assert_eq!(b.r.end, End::GaveUp);
        // A failure after a granted hold keeps the hold on the books.
        let mut c = client(&ctx, 2);
        c.on_status(st(1, false, 10, false));
        assert!(started_job(&mut c).await);
        c.on_job(Ok(ticket(5, Some("p"))));
        assert!(started_job(&mut c).await);
        c.on_job(Ok(JobDone::Failed { why: "confirm answered 500".into(), held: true, protocol: false }));
        assert_eq!((c.r.end, c.r.held, c.r.protocol_error), (End::Failed, true, false));
        assert_eq!(c.r.failure.as_deref(), Some("confirm answered 500"));
        // Not joined: nothing to wait for.
        ctx.people[3].joined.store(false, Ordering::Release);
        let mut d = client(&ctx, 3);
        d.on_status(st(1, false, 0, false));
        assert_eq!(d.r.end, End::NotJoined);
        assert!(d.job.is_none());
        assert_eq!(ctx.done.load(Ordering::Acquire), 4);
    }
}
