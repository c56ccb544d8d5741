//! The queue scenario: a flash sale behind a waiting room, seen by `--users`
//! people at once.
//!
//! 1. Bulk users and a stock sale (`--queue-stock`, default half the users,
//!    one unit per person) with a `chunk` waiting room (`--chunk-size` per
//!    `--chunk-seconds`, `--pow-bits`), not open yet. Every join's proof of
//!    work is solved now, before any clock runs.
//! 2. One WebSocket per person on `queue/ws` (at most `--ws-concurrency`
//!    handshakes at a time, spread over `--ws-sources` loopback source
//!    addresses). `GET /api/admin/stats` before and after gives `ws_peak` and
//!    the server's memory per socket.
//! 3. The join burst: every person joins over `--connections` keep-alive
//!    connections; `joins_per_s` is the joins answered per second from the
//!    first sent to the last answered.
//! 4. The sale opens. Each person's task watches its socket: after the
//!    shuffle (`prequeue: false`) it reads its place (`GET queue/me`); when a
//!    status message shows `admitted >= place` it fetches its pass, holds one
//!    unit with it and confirms. `201` then `200` is a purchase, `409
//!    sold-out` a correct refusal; a person still waiting who sees `sold_out`
//!    stops. HTTP requests of all people share a pool of `--connections`.
//! 5. When everyone is done (or at the deadline: `--duration`, at least 60 s,
//!    plus the nominal admission time), the final `GET queue` `seq` is read
//!    (once it shows the sell-out the sale's counters show); connected
//!    clients get a moment to receive it, then every socket is closed.
//!
//! `ws_peak` is the server's peak and `rss_kb_per_ws` the growth of its
//! resident memory over the sockets this run opened: both are meaningful on a
//! fresh server only (a reused one keeps the memory its allocator already
//! holds, and its earlier peak).
//!
//! Checks: `oversold` (server counters and acknowledged holds against the
//! stock), `misranked` (places from `queue/me` that disagree with the shuffle
//! recomputed from the revealed seed, or a seed that does not match the
//! commitment) and `missed_updates` ([`count_missed`]).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinError, JoinHandle};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::{self, Message};

use super::{FD_SPARE, ack_sender, ack_writer, provision_users, raise_nofile, summary, user_indices};
use crate::acked::{Ack, AckRecord, AckSender};
use crate::api::{Api, VUser, problem_type};
use crate::error::BenchError;
use crate::http::{self, Body, Target};
use crate::pool::Pool;
use crate::progress::Progress;
use crate::retry::{self, Answer, Judged, Retry, Sent, Via};
use crate::room::{
    ClientView, FinalRoom, Missed, QueueStatus, QueueTicket, ServerStats, StatusLite, count_missed, hex32,
    parse_status, prequeue_places, quantile_ms, spread_ms,
};
use crate::stats::{Class, Live, Totals};
use crate::ws::{Connector, Ws};
use crate::{BenchArgs, Scenario, Summary, pow};

/// Lifetime of a pass (the bench uses it at once).
const PASS_SECONDS: u64 = 120;
/// Pause before asking `queue/me` again for a place or pass not there yet.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// How often `queue/me` is asked for a place or pass before giving up (2 s).
const ME_TRIES: u32 = 40;
/// How long connected clients get to receive the final message.
const FINAL_GRACE: Duration = Duration::from_secs(3);
/// How long a closing handshake may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(2);
/// How often the coordinator looks at the shared counters.
const POLL: Duration = Duration::from_millis(20);
/// Least time allowed for a phase: the run ends as soon as everyone is done,
/// so the limit only matters when something is stuck.
const PHASE_MIN: Duration = Duration::from_secs(60);

static PASS_HEADER: HeaderName = HeaderName::from_static("stampede-pass");
static HOLD_KEY: HeaderValue = HeaderValue::from_static("bench-queue-hold");
static CONFIRM_KEY: HeaderValue = HeaderValue::from_static("bench-queue-confirm");

pub(super) fn validate(args: &BenchArgs) -> Result<(), BenchError> {
    let bad = |msg: &str| Err(BenchError::InvalidArgs(msg.to_owned()));
    if !(1..=1_000_000).contains(&args.chunk_size) {
        return bad("--chunk-size must be 1..=1000000");
    }
    if !(0.05..=3600.0).contains(&args.chunk_seconds) {
        return bad("--chunk-seconds must be 0.05..=3600");
    }
    if args.pow_bits > 28 {
        return bad("--pow-bits must be 0..=28");
    }
    if args.queue_stock.is_some_and(|s| !(1..=100_000_000).contains(&s)) {
        return bad("--queue-stock must be 1..=100000000");
    }
    if args.ws_sources == 0 {
        return bad("--ws-sources must be 1..=255");
    }
    if !(1..=100_000).contains(&args.ws_concurrency) {
        return bad("--ws-concurrency must be 1..=100000");
    }
    Ok(())
}

/// What the person tasks share with each other and the coordinator, per person.
#[derive(Default)]
struct Person {
    joined: AtomicBool,
    /// The join's ticket; 0 until joined.
    ticket: AtomicU32,
    /// `seq + 1` of the last status message received; 0 before the first.
    seen: AtomicU64,
    /// The socket is open.
    open: AtomicBool,
}

/// Everything the tasks share.
struct Ctx {
    target: Arc<Target>,
    live: Arc<Live>,
    pool: Pool,
    users: Vec<VUser>,
    people: Vec<Person>,
    /// Size of the pool: `--connections`, at most one per person.
    connections: usize,
    sale: u64,
    join_uri: Uri,
    me_uri: Uri,
    holds_uri: Uri,
    /// `<base>/api/sales/{id}/holds/`, to which `{hold}/confirm` is appended.
    confirm_prefix: String,
    hold_body: Bytes,
    connector: Connector,
    ws_gate: Semaphore,
    /// Sockets whose opening finished (open or failed).
    attempted: AtomicUsize,
    /// People in a final state.
    done: AtomicUsize,
    /// When `POST /open` was sent.
    opened_at: OnceLock<Instant>,
    /// When the buying phase gives up.
    deadline: OnceLock<Instant>,
    acks: Option<AckSender>,
}

impl Ctx {
    fn deadline(&self) -> Instant {
        self.deadline.get().copied().unwrap_or_else(|| Instant::now() + Duration::from_secs(60))
    }
}

/// What an answer is expected to be, for counting.
#[derive(Clone, Copy)]
struct Expect {
    ok: StatusCode,
    /// A `409` with this problem type is a correct refusal.
    refusal: Option<&'static str>,
}

const JOIN: Expect = Expect { ok: StatusCode::OK, refusal: None };
const ME: Expect = Expect { ok: StatusCode::OK, refusal: None };
const HOLD: Expect = Expect { ok: StatusCode::CREATED, refusal: Some("/problems/sold-out") };
const CONFIRM: Expect = Expect { ok: StatusCode::OK, refusal: None };

impl Expect {
    /// Counts an answer: ok, a correct refusal, or an error.
    fn judge(self, status: StatusCode, body: &Bytes) -> Judged<()> {
        let class = if status == self.ok {
            Class::Ok
        } else if status == StatusCode::CONFLICT
            && self.refusal.is_some()
            && problem_type(body).as_deref() == self.refusal
        {
            Class::Rejected
        } else {
            Class::Error
        };
        Judged::new(class, ())
    }
}

/// Sends a request built by `make` on a connection leased from the pool for
/// each attempt, retrying ([`crate::retry`], same idempotency key) until an
/// answer other than `503` or `limit`.
async fn call(
    ctx: &Ctx,
    make: impl Fn() -> Request<Body>,
    limit: Instant,
    expect: Expect,
) -> Result<Option<(StatusCode, Bytes)>, BenchError> {
    let mut via = Via::Pool { pool: &ctx.pool, live: &ctx.live };
    Ok(match retry::send(&mut via, Retry::until(limit), make, |status, body| expect.judge(status, body)).await? {
        Sent::Answer(Answer { status, body, .. }) => Some((status, body)),
        Sent::NoAnswer { .. } => None,
    })
}

// ---------------------------------------------------------------- joining

/// Joins worker `w`'s share of the people on one leased connection; returns
/// when its last join was answered.
async fn join_worker(
    ctx: Arc<Ctx>,
    w: usize,
    workers: usize,
    nonces: Arc<Vec<u64>>,
    limit: Instant,
) -> Result<Option<Instant>, BenchError> {
    let mut lease = ctx.pool.lease().await?;
    let mut last = None;
    for i in user_indices(w, workers, ctx.users.len()) {
        let user = &ctx.users[i];
        let body = Bytes::from(format!("{{\"nonce\":{}}}", nonces[i]));
        let make = || {
            http::request(&ctx.target, Method::POST, ctx.join_uri.clone(), Some(&user.auth), None, Some(body.clone()))
        };
        let slot = &mut *lease;
        let mut via = Via::Link { link: &mut slot.link, stats: &mut slot.stats, live: &ctx.live };
        // A person has one ticket per sale: a repeated join has no second effect.
        let sent = retry::send(&mut via, Retry::until(limit), make, |status, body| JOIN.judge(status, body)).await?;
        if let Sent::Answer(Answer { status, body: answer, .. }) = sent {
            last = Some(Instant::now());
            if status == StatusCode::OK
                && let Ok(ticket) = serde_json::from_slice::<QueueTicket>(&answer)
            {
                ctx.people[i].ticket.store(ticket.ticket, Ordering::Relaxed);
                ctx.people[i].joined.store(true, Ordering::Release);
            }
        }
    }
    Ok(last)
}

// ---------------------------------------------------------------- buying

/// How a person's run ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum End {
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

/// What a background job of a person produced.
enum JobDone {
    Located(QueueTicket),
    Bought,
    Refused,
    /// `held`: a hold was acknowledged before the failure; `protocol`: the
    /// failure was not an HTTP error already counted (an unusable answer).
    Failed {
        why: String,
        held: bool,
        protocol: bool,
    },
}

fn failed(why: impl Into<String>, protocol: bool) -> JobDone {
    JobDone::Failed { why: why.into(), held: false, protocol }
}

/// `GET queue/me` until it gives a place.
async fn locate(ctx: Arc<Ctx>, i: usize) -> JobDone {
    let auth = &ctx.users[i].auth;
    for _ in 0..ME_TRIES {
        let make = || http::request(&ctx.target, Method::GET, ctx.me_uri.clone(), Some(auth), None, None);
        match call(&ctx, make, ctx.deadline(), ME).await {
            Ok(Some((StatusCode::OK, body))) => match serde_json::from_slice::<QueueTicket>(&body) {
                Ok(t) if t.place.is_some() => return JobDone::Located(t),
                Ok(_) => sleep(RETRY_PAUSE).await,
                Err(e) => return failed(format!("queue/me: unparsable answer: {e}"), true),
            },
            Ok(Some((status, _))) => return failed(format!("queue/me answered {status}"), false),
            Ok(None) => return failed("queue/me: no answer before the deadline", false),
            Err(e) => return failed(e.to_string(), true),
        }
    }
    failed("queue/me gave no place after the shuffle", true)
}

/// Fetches the pass if not known, holds one unit with it and confirms.
async fn buy(ctx: Arc<Ctx>, i: usize, pass: Option<String>) -> JobDone {
    match buy_inner(&ctx, i, pass).await {
        Ok(done) => done,
        Err(e) => failed(e.to_string(), true),
    }
}

async fn buy_inner(ctx: &Ctx, i: usize, pass: Option<String>) -> Result<JobDone, BenchError> {
    let user = &ctx.users[i];
    let limit = ctx.deadline();
    let pass = match pass {
        Some(pass) => pass,
        None => {
            let mut found = None;
            for _ in 0..ME_TRIES {
                let make = || http::request(&ctx.target, Method::GET, ctx.me_uri.clone(), Some(&user.auth), None, None);
                let Some((status, body)) = call(ctx, make, limit, ME).await? else {
                    return Ok(failed("queue/me: no answer before the deadline", false));
                };
                if status != StatusCode::OK {
                    return Ok(failed(format!("queue/me answered {status}"), false));
                }
                let t: QueueTicket = match serde_json::from_slice(&body) {
                    Ok(t) => t,
                    Err(e) => return Ok(failed(format!("queue/me: unparsable answer: {e}"), true)),
                };
                if let Some(pass) = t.pass {
                    found = Some(pass);
                    break;
                }
                if matches!(t.pass_state.as_str(), "used" | "expired") {
                    return Ok(failed(format!("admitted, but the pass is {}", t.pass_state), true));
                }
                sleep(RETRY_PAUSE).await;
            }
            match found {
                Some(pass) => pass,
                None => return Ok(failed("admitted per the live status, but queue/me gives no pass", true)),
            }
        }
    };
    let Ok(pass) = HeaderValue::from_str(&pass) else {
        return Ok(failed("the pass is not a valid header value", true));
    };

    let make = || {
        let mut req = http::request(
            &ctx.target,
            Method::POST,
            ctx.holds_uri.clone(),
            Some(&user.auth),
            Some(HOLD_KEY.clone()),
            Some(ctx.hold_body.clone()),
        );
        req.headers_mut().insert(PASS_HEADER.clone(), pass.clone());
        req
    };
    let Some((status, body)) = call(ctx, make, limit, HOLD).await? else {
        return Ok(failed("hold: no answer before the deadline", false));
    };
    if status == StatusCode::CONFLICT && problem_type(&body).as_deref() == HOLD.refusal {
        return Ok(JobDone::Refused);
    }
    if status != StatusCode::CREATED {
        return Ok(failed(format!("hold answered {status}"), false));
    }
    #[derive(Deserialize)]
    struct HoldAnswer {
        id: u64,
    }
    let hold = match serde_json::from_slice::<HoldAnswer>(&body) {
        Ok(h) => h.id,
        Err(e) => return Ok(JobDone::Failed { why: format!("hold: unparsable 201: {e}"), held: true, protocol: true }),
    };
    if let Some(acks) = &ctx.acks {
        acks.send(AckRecord { sale: ctx.sale, user: user.id, what: Ack::Hold { hold, quantity: 1 } });
    }

    let uri: Uri = format!("{}{hold}/confirm", ctx.confirm_prefix)
        .parse()
        .map_err(|e| BenchError::Internal(format!("confirm uri: {e}")))?;
    let make =
        || http::request(&ctx.target, Method::POST, uri.clone(), Some(&user.auth), Some(CONFIRM_KEY.clone()), None);
    match call(ctx, make, limit, CONFIRM).await? {
        Some((StatusCode::OK, _)) => {
            if let Some(acks) = &ctx.acks {
                acks.send(AckRecord { sale: ctx.sale, user: user.id, what: Ack::Order { hold, quantity: 1 } });
            }
            Ok(JobDone::Bought)
        }
        Some((status, _)) => {
            Ok(JobDone::Failed { why: format!("confirm answered {status}"), held: true, protocol: false })
        }
        None => {
            Ok(JobDone::Failed { why: "confirm: no answer before the deadline".into(), held: true, protocol: false })
        }
    }
}

// ---------------------------------------------------------------- one person

/// What one person's task observed.
#[derive(Debug, Default)]
struct Report {
    connected: bool,
    /// Why the socket ended before the run did.
    dropped: Option<String>,
    /// Status messages received.
    messages: u64,
    /// Text messages that were not status messages.
    unparsed: u64,
    /// Messages whose `seq` was not above the previous one.
    out_of_order: u64,
    last_seq: Option<u64>,
    max_admitted: u64,
    saw_sold_out_at: Option<Instant>,
    /// When the person learned it was admitted (a message, or `queue/me`).
    admitted_at: Option<Instant>,
    ticket: Option<u32>,
    place: Option<u32>,
    /// A hold was acknowledged.
    held: bool,
    end: End,
    failure: Option<String>,
    /// The failure is not an HTTP error already counted.
    protocol_error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
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

struct Client {
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
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> Report {
        let opened = {
            let _permit = self.ctx.ws_gate.acquire().await;
            self.ctx.connector.connect(self.i).await
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

// ---------------------------------------------------------------- the run

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let users_n = args.users as usize;
    let connections = args.connections.min(users_n).max(1);
    let fd_limit = raise_nofile(u64::from(args.users) + connections as u64 + FD_SPARE)?;
    let stock = args.queue_stock.unwrap_or_else(|| (u64::from(args.users) / 2).max(1));
    let writer = ack_writer(args)?;
    let (mut api, users) = provision_users(args, target.clone()).await?;
    let spec = serde_json::json!({
        "kind": "stock",
        "title": "stampede bench (queue)",
        "description": "",
        "stock": stock,
        "price": 1000,
        "currency": "KRW",
        "per_person_limit": 1,
        "order_quantity_max": 1,
        "hold_seconds": 3600,
        "opens_at": null,
        "closes_at": null,
        "waiting_room": {
            "policy": "chunk",
            "chunk_size": args.chunk_size,
            "chunk_seconds": args.chunk_seconds,
            "pass_seconds": PASS_SECONDS,
            "pow_bits": args.pow_bits,
            "places_per_address": 1_000_000,
        },
    });
    let sale = api.create_sale(spec).await?;
    let protocol =
        |reason: String| BenchError::Protocol { method: "POST".into(), path: target.path("/api/sales"), reason };
    let room = sale.waiting_room.clone().ok_or_else(|| protocol("the sale has no waiting_room".into()))?;
    let commitment = hex32(&room.commitment)
        .ok_or_else(|| protocol(format!("commitment {:?} is not 32 bytes of hex", room.commitment)))?;
    eprintln!("bench: sale {} created with a waiting room (stock {stock}, pow_bits {})", sale.id, room.pow_bits);

    let started = Instant::now();
    let ids: Vec<u64> = users.iter().map(|u| u.id).collect();
    let bits = room.pow_bits;
    let nonces = tokio::task::spawn_blocking(move || pow::solve_all(&commitment, &ids, bits))
        .await
        .map_err(|e| BenchError::Internal(format!("proof-of-work solver: {e}")))?;
    eprintln!(
        "bench: solved {} proofs of work ({bits} bits) in {:.1} s",
        nonces.len(),
        started.elapsed().as_secs_f64()
    );

    let live = Arc::new(Live::default());
    let ctx = Arc::new(Ctx {
        join_uri: target.uri(&format!("/api/sales/{}/queue/join", sale.id))?,
        me_uri: target.uri(&format!("/api/sales/{}/queue/me", sale.id))?,
        holds_uri: target.uri(&format!("/api/sales/{}/holds", sale.id))?,
        confirm_prefix: target.path(&format!("/api/sales/{}/holds/", sale.id)),
        hold_body: Bytes::from_static(b"{\"quantity\":1}"),
        connector: Connector::new(&target, &format!("/api/sales/{}/queue/ws", sale.id), args.ws_sources),
        pool: Pool::new(&target, connections)?,
        target: target.clone(),
        live: live.clone(),
        people: (0..users_n).map(|_| Person::default()).collect(),
        users,
        connections,
        sale: sale.id,
        ws_gate: Semaphore::new(args.ws_concurrency),
        attempted: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        opened_at: OnceLock::new(),
        deadline: OnceLock::new(),
        acks: ack_sender(&writer),
    });
    let outcome = drive(args, &mut api, &ctx, nonces, stock, fd_limit).await;
    drop(ctx);
    if let Some(writer) = writer {
        writer.finish()?;
    }
    outcome
}

/// Phases 2 to 5 and the checks.
async fn drive(
    args: &BenchArgs,
    api: &mut Api,
    ctx: &Arc<Ctx>,
    nonces: Vec<u64>,
    stock: u64,
    fd_limit: u64,
) -> Result<Summary, BenchError> {
    let users_n = ctx.users.len();
    let phase = Duration::from_secs(args.duration).max(PHASE_MIN);

    // Sockets.
    let baseline = api.admin_stats().await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(users_n);
    for i in 0..users_n {
        let client = Client { ctx: ctx.clone(), i, r: Report::default(), stage: Stage::Idle, latest: None, job: None };
        tasks.push(tokio::spawn(client.run(stop_rx.clone())));
    }
    while ctx.attempted.load(Ordering::Acquire) < users_n {
        sleep(POLL).await;
    }
    let open_s = started.elapsed().as_secs_f64();
    let connected = ctx.people.iter().filter(|p| p.open.load(Ordering::Acquire)).count();
    // Let the first messages arrive before measuring.
    let first_by = Instant::now() + Duration::from_secs(2);
    while Instant::now() < first_by
        && ctx.people.iter().any(|p| p.open.load(Ordering::Relaxed) && p.seen.load(Ordering::Relaxed) == 0)
    {
        sleep(POLL).await;
    }
    let loaded = api.admin_stats().await?;
    eprintln!(
        "bench: {connected}/{users_n} websockets open in {open_s:.1} s over {} source addresses \
         (server: ws_open {}, ws_peak {}, rss {} kB, open-file limit {}; bench open-file limit {fd_limit})",
        ctx.connector.source_count().max(1),
        loaded.ws_open,
        loaded.ws_peak,
        loaded.rss_kb.map_or_else(|| "?".into(), |k| k.to_string()),
        loaded.open_files_limit.map_or_else(|| "?".into(), |k| k.to_string()),
    );

    // The join burst.
    let nonces = Arc::new(nonces);
    let workers = ctx.connections;
    let join_limit = Instant::now() + phase;
    let join_started = Instant::now();
    let mut joiners = tokio::task::JoinSet::new();
    for w in 0..workers {
        joiners.spawn(join_worker(ctx.clone(), w, workers, nonces.clone(), join_limit));
    }
    let mut last_answer = join_started;
    while let Some(joined) = joiners.join_next().await {
        match joined {
            Ok(Ok(last)) => last_answer = last_answer.max(last.unwrap_or(join_started)),
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(BenchError::Internal(format!("join worker: {e}"))),
        }
    }
    let join_s = last_answer.duration_since(join_started).as_secs_f64();
    let joins_ok = ctx.people.iter().filter(|p| p.joined.load(Ordering::Acquire)).count();
    let joins_per_s = if join_s > 0.0 { joins_ok as f64 / join_s } else { 0.0 };
    let join_totals = ctx.pool.take_totals()?;
    eprintln!("bench: {joins_ok}/{users_n} joined in {join_s:.2} s ({joins_per_s:.0}/s)");

    // Open, admit, buy.
    let chunks = users_n.div_ceil(args.chunk_size.max(1) as usize) as f64;
    let admission = Duration::from_secs_f64(chunks * args.chunk_seconds);
    let opened_at = Instant::now();
    let deadline = opened_at + phase + admission;
    let _ = ctx.opened_at.set(opened_at);
    let _ = ctx.deadline.set(deadline);
    let progress = Progress::start(ctx.live.clone(), phase + admission, args.quiet, "queue");
    api.open_sale(ctx.sale).await?;
    while ctx.done.load(Ordering::Acquire) < users_n && Instant::now() < deadline {
        sleep(POLL).await;
    }
    let buy_s = opened_at.elapsed().as_secs_f64();
    progress.finish();
    let done = ctx.done.load(Ordering::Acquire);
    eprintln!("bench: sale opened; {done}/{users_n} people done {buy_s:.2} s later");

    // The final message must reach every open socket. The counters (read
    // through the sale's mailbox) say whether it sold out; the live status
    // must say so too.
    let state = api.sale(ctx.sale).await?;
    let counted_sold_out = state.stock.is_some_and(|c| c.available == 0);
    let mut final_status = api.queue_status(ctx.sale).await?;
    let grace = Instant::now() + FINAL_GRACE;
    while counted_sold_out && !final_status.sold_out && Instant::now() < grace {
        sleep(POLL).await;
        final_status = api.queue_status(ctx.sale).await?;
    }
    let grace = Instant::now() + FINAL_GRACE;
    while Instant::now() < grace
        && ctx
            .people
            .iter()
            .any(|p| p.open.load(Ordering::Relaxed) && p.seen.load(Ordering::Relaxed) <= final_status.seq)
    {
        sleep(POLL).await;
    }
    let _ = stop_tx.send(true);
    let mut reports = Vec::with_capacity(users_n);
    for task in tasks {
        reports.push(task.await.map_err(|e| BenchError::Internal(format!("person task: {e}")))?);
    }
    drop(stop_tx);
    let buy_totals = ctx.pool.take_totals()?;

    let input = Checked {
        stock,
        baseline,
        loaded,
        final_status: &final_status,
        counted_sold_out,
        reports: &reports,
        opened_at,
        joins_ok: joins_ok as u64,
        joins_per_s,
        join_totals: &join_totals,
    };
    let mut s = conclude(&input, buy_totals, join_s + buy_s)?;
    s.sale_id = Some(ctx.sale);
    s.connections = ctx.connections;
    // Server counters against the stock.
    let Some(counts) = state.stock else {
        return Err(BenchError::Protocol {
            method: "GET".into(),
            path: format!("/api/sales/{}", ctx.sale),
            reason: "a stock sale without `stock`".into(),
        });
    };
    let server_over = (counts.held + counts.sold).saturating_sub(counts.total);
    if server_over > 0 {
        s.notes.push(format!("server counts held {} + sold {} > total {}", counts.held, counts.sold, counts.total));
    }
    if counts.held + counts.sold + counts.available != counts.total {
        s.notes.push(format!(
            "server counts do not add up: held {} + sold {} + available {} != total {}",
            counts.held, counts.sold, counts.available, counts.total
        ));
    }
    s.oversold += server_over;
    s.extra.extend([
        ("sold".into(), counts.sold.to_string()),
        ("held".into(), counts.held.to_string()),
        ("available".into(), counts.available.to_string()),
        ("sale".into(), ctx.sale.to_string()),
    ]);
    Ok(s)
}

/// The inputs of [`conclude`].
struct Checked<'a> {
    stock: u64,
    baseline: ServerStats,
    loaded: ServerStats,
    final_status: &'a QueueStatus,
    /// The sale's counters show no stock left.
    counted_sold_out: bool,
    reports: &'a [Report],
    opened_at: Instant,
    joins_ok: u64,
    joins_per_s: f64,
    join_totals: &'a Totals,
}

/// The checks and the summary, from what the people saw.
fn conclude(c: &Checked<'_>, buy_totals: Totals, elapsed_s: f64) -> Result<Summary, BenchError> {
    let reports = c.reports;
    let count = |end: End| reports.iter().filter(|r| r.end == end).count() as u64;
    let (bought, refused, gave_up) = (count(End::Bought), count(End::Refused), count(End::GaveUp));
    let (not_joined, failed, unfinished, no_socket) =
        (count(End::NotJoined), count(End::Failed), count(End::Unfinished), count(End::NoSocket));
    let connected = reports.iter().filter(|r| r.connected).count() as u64;
    let dropped = reports.iter().filter(|r| r.dropped.is_some()).count() as u64;
    let protocol_errors = reports.iter().filter(|r| r.protocol_error).count() as u64;
    let unparsed: u64 = reports.iter().map(|r| r.unparsed).sum();
    let out_of_order: u64 = reports.iter().map(|r| r.out_of_order).sum();
    let held = reports.iter().filter(|r| r.held).count() as u64;

    let mut totals = Totals::new()?;
    totals.merge(c.join_totals)?;
    totals.merge(&buy_totals)?;
    let mut s = summary(Scenario::Queue, totals, elapsed_s, 0);
    // Failures that are not HTTP errors already counted.
    s.errors += no_socket + dropped + unfinished + protocol_errors;

    // Missed updates.
    let end =
        FinalRoom { seq: c.final_status.seq, admitted: c.final_status.admitted, sold_out: c.final_status.sold_out };
    let views: Vec<ClientView> = reports
        .iter()
        .map(|r| ClientView {
            connected: r.connected,
            last_seq: r.last_seq,
            max_admitted: r.max_admitted,
            place: r.place,
            saw_sold_out: r.saw_sold_out_at.is_some(),
            still_waiting: r.end == End::Unfinished && r.place.is_some_and(|p| u64::from(p) > r.max_admitted),
        })
        .collect();
    let mut missed = count_missed(&views, end);
    if c.counted_sold_out && !end.sold_out {
        // A sell-out the live status never showed: every client missed it.
        s.notes.push(format!(
            "the sale has no stock left but the live status (seq {}) still says sold_out false",
            end.seq
        ));
        let everyone: Vec<ClientView> = views.iter().map(|v| ClientView { still_waiting: true, ..*v }).collect();
        missed = count_missed(&everyone, FinalRoom { sold_out: true, ..end });
    }
    if missed.total > 0 {
        let Missed { total, stale, admission, sold_out } = missed;
        s.notes.push(format!(
            "{total} clients missed updates: {stale} never got seq {} (the final one), {admission} never saw \
             their admission, {sold_out} still waiting never saw the sell-out",
            end.seq
        ));
    }

    // Places against the public shuffle.
    let misplaced = check_places(c.final_status, reports, &mut s.notes);
    s.misranked = misplaced;

    // Overselling by acknowledgements (the server's counters are added by the caller).
    let acked_over = held.saturating_sub(c.stock);
    if acked_over > 0 {
        s.notes.push(format!("{held} holds acknowledged for a stock of {}", c.stock));
    }
    s.oversold = acked_over;
    if gave_up > 0 && !c.final_status.sold_out {
        s.notes.push(format!("{gave_up} people gave up on a sell-out the final status does not show"));
    }

    // Timings from the opening.
    let offsets = |pick: fn(&Report) -> Option<Instant>| -> Vec<Duration> {
        reports.iter().filter_map(pick).map(|t| t.saturating_duration_since(c.opened_at)).collect()
    };
    let sold_seen = offsets(|r| r.saw_sold_out_at);
    let soldout_spread_ms = spread_ms(sold_seen.iter().copied());
    let mut admit: Vec<f64> = offsets(|r| r.admitted_at).iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    admit.sort_unstable_by(f64::total_cmp);

    // Memory per socket.
    let ws_peak = c.loaded.ws_peak;
    let opened = connected.max(1);
    let rss_kb_per_ws = match (c.baseline.rss_kb, c.loaded.rss_kb) {
        (Some(before), Some(after)) => after.saturating_sub(before) as f64 / opened as f64,
        _ => {
            s.notes.push("the server reports no rss_kb".into());
            0.0
        }
    };
    if ws_peak < connected {
        s.notes.push(format!("{connected} sockets open but the server's ws_peak is {ws_peak}"));
    }

    let join_q = |q: f64| {
        if c.join_totals.hist.is_empty() { 0.0 } else { c.join_totals.hist.value_at_quantile(q) as f64 / 1000.0 }
    };
    let mut failures: Vec<&str> = reports.iter().filter_map(|r| r.failure.as_deref()).collect();
    failures.sort_unstable();
    failures.dedup();
    for why in failures.iter().take(5) {
        s.notes.push(format!("failure: {why}"));
    }
    if unparsed + out_of_order > 0 {
        s.notes
            .push(format!("{unparsed} websocket messages were not status messages, {out_of_order} came out of order"));
    }
    s.notes.push(format!(
        "{} users: {bought} bought, {refused} refused as sold out, {gave_up} gave up on the sell-out while waiting, \
         {not_joined} not joined, {failed} failed, {no_socket} without a socket, {unfinished} unfinished",
        reports.len()
    ));
    s.notes.push(format!(
        "final status: seq {}, {}, joined {}, admitted {}, waiting {}, available {}, sold_out {}",
        c.final_status.seq,
        c.final_status.status,
        c.final_status.joined,
        c.final_status.admitted,
        c.final_status.waiting,
        c.final_status.available,
        c.final_status.sold_out
    ));

    s.extra = vec![
        ("ws_peak".into(), ws_peak.to_string()),
        ("rss_kb_per_ws".into(), format!("{rss_kb_per_ws:.1}")),
        ("joins_per_s".into(), format!("{:.1}", c.joins_per_s)),
        ("missed_updates".into(), missed.total.to_string()),
        ("bought".into(), bought.to_string()),
        ("sold_out_refusals".into(), refused.to_string()),
        ("sold_out_waiting".into(), gave_up.to_string()),
        ("soldout_spread_ms".into(), format!("{soldout_spread_ms:.1}")),
        ("soldout_seen".into(), sold_seen.len().to_string()),
        ("admit_p50_ms".into(), format!("{:.1}", quantile_ms(&admit, 0.5))),
        ("admit_p99_ms".into(), format!("{:.1}", quantile_ms(&admit, 0.99))),
        ("join_p50_ms".into(), format!("{:.3}", join_q(0.5))),
        ("join_p99_ms".into(), format!("{:.3}", join_q(0.99))),
        ("joined".into(), c.joins_ok.to_string()),
        ("ws_open".into(), connected.to_string()),
        ("ws_failed".into(), no_socket.to_string()),
        ("ws_dropped".into(), dropped.to_string()),
        ("misplaced".into(), misplaced.to_string()),
        ("unfinished".into(), unfinished.to_string()),
        ("stock".into(), c.stock.to_string()),
    ];
    Ok(s)
}

/// Recomputes the pre-queue from the revealed seed and counts the people
/// whose place from `queue/me` disagrees (plus everyone, if the seed does
/// not match the commitment published at creation).
fn check_places(status: &QueueStatus, reports: &[Report], notes: &mut Vec<String>) -> u64 {
    let located: Vec<(u32, u32)> = reports.iter().filter_map(|r| Some((r.ticket?, r.place?))).collect();
    if located.is_empty() {
        return 0;
    }
    let Some(seed) = status.seed.as_deref().and_then(hex32) else {
        notes.push("the final status reveals no seed: places cannot be checked".into());
        return located.len() as u64;
    };
    if hex32(&status.commitment) != Some(*blake3::hash(&seed).as_bytes()) {
        notes.push("the revealed seed does not match the commitment".into());
        return located.len() as u64;
    }
    let len = status.prequeue_len.unwrap_or(0);
    let places = prequeue_places(&seed, len);
    let mut misplaced = 0u64;
    for &(ticket, place) in &located {
        let want = places.get((ticket as usize).wrapping_sub(1)).copied();
        // Tickets after the pre-queue queue in arrival order, after it.
        let ok = match want {
            Some(want) => want == place,
            None => place > len,
        };
        if !ok {
            misplaced += 1;
            if misplaced <= 5 {
                notes.push(format!("ticket {ticket} was given place {place}, the shuffle says {want:?}"));
            }
        }
    }
    misplaced
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn status(seed: &[u8; 32], len: u32) -> QueueStatus {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        serde_json::from_value(serde_json::json!({
            "type": "status", "seq": 9, "sold_out": true, "prequeue": false, "prequeue_len": len,
            "admitted": len, "commitment": hex(blake3::hash(seed).as_bytes()), "seed": hex(seed),
        }))
        .unwrap()
    }

    fn located(ticket: u32, place: u32) -> Report {
        Report { ticket: Some(ticket), place: Some(place), ..Report::default() }
    }

    #[test]
    fn places_are_checked_against_the_shuffle() {
        let seed = [5u8; 32];
        let places = prequeue_places(&seed, 20);
        let good: Vec<Report> = (1..=20u32).map(|t| located(t, places[(t - 1) as usize])).collect();
        let mut notes = Vec::new();
        assert_eq!(check_places(&status(&seed, 20), &good, &mut notes), 0, "{notes:?}");
        // Two places swapped.
        let mut bad = good;
        let (a, b) = (bad[0].place, bad[1].place);
        bad[0].place = b;
        bad[1].place = a;
        assert_eq!(check_places(&status(&seed, 20), &bad, &mut notes), 2);
        // A late arrival after the pre-queue is fine behind it, not inside it.
        let late = [located(21, 21)];
        assert_eq!(check_places(&status(&seed, 20), &late, &mut Vec::new()), 0);
        assert_eq!(check_places(&status(&seed, 20), &[located(21, 3)], &mut Vec::new()), 1);
        // A seed that is not the committed one fails everything.
        let mut lying = status(&seed, 20);
        lying.commitment = "00".repeat(32);
        assert_eq!(check_places(&lying, &[located(1, places[0])], &mut Vec::new()), 1);
        // Nobody located: nothing to check.
        assert_eq!(check_places(&status(&seed, 20), &[Report::default()], &mut Vec::new()), 0);
    }

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
            done: AtomicUsize::new(0),
            opened_at: OnceLock::new(),
            deadline: OnceLock::new(),
            acks: None,
        })
    }

    fn client(ctx: &Arc<Ctx>, i: usize) -> Client {
        Client { ctx: ctx.clone(), i, r: Report::default(), stage: Stage::Idle, latest: None, job: None }
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

    #[test]
    fn validation() {
        let ok = BenchArgs { scenario: Scenario::Queue, admin_token: Some("t".into()), ..BenchArgs::default() };
        assert!(validate(&ok).is_ok());
        assert!(validate(&BenchArgs { chunk_seconds: 3601.0, ..ok.clone() }).is_err());
        assert!(validate(&BenchArgs { chunk_size: 1_000_001, ..ok.clone() }).is_err());
        assert!(validate(&BenchArgs { queue_stock: Some(100_000_001), ..ok }).is_err());
    }
}
