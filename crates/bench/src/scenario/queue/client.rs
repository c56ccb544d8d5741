//! The queue scenario's HTTP client: what the people share (the pool of
//! connections, the sale's addresses, per-person flags), the join burst, and
//! the background jobs of a person (finding its place, buying with its
//! pass), every request retried under [`crate::retry`].

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep};

use crate::acked::{Ack, AckRecord, AckSender};
use crate::api::{VUser, problem_type};
use crate::error::BenchError;
use crate::http::{self, Body, Target};
use crate::pool::Pool;
use crate::retry::{self, Answer, Judged, Retry, Sent, Via};
use crate::room::QueueTicket;
use crate::scenario::user_indices;
use crate::stats::{Class, Live};
use crate::ws::Connector;

/// Pause before asking `queue/me` again for a place or pass not there yet.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// How often `queue/me` is asked for a place or pass before giving up (2 s).
const ME_TRIES: u32 = 40;

static PASS_HEADER: HeaderName = HeaderName::from_static("stampede-pass");
static HOLD_KEY: HeaderValue = HeaderValue::from_static("bench-queue-hold");
static CONFIRM_KEY: HeaderValue = HeaderValue::from_static("bench-queue-confirm");

/// What the person tasks share with each other and the coordinator, per person.
#[derive(Default)]
pub(super) struct Person {
    pub(super) joined: AtomicBool,
    /// The join's ticket; 0 until joined.
    pub(super) ticket: AtomicU32,
    /// `seq + 1` of the last status message received; 0 before the first.
    pub(super) seen: AtomicU64,
    /// The socket is open.
    pub(super) open: AtomicBool,
}

/// Everything the tasks share.
pub(super) struct Ctx {
    pub(super) target: Arc<Target>,
    pub(super) live: Arc<Live>,
    pub(super) pool: Pool,
    pub(super) users: Vec<VUser>,
    pub(super) people: Vec<Person>,
    /// Size of the pool: `--connections`, at most one per person.
    pub(super) connections: usize,
    pub(super) sale: u64,
    pub(super) join_uri: Uri,
    pub(super) me_uri: Uri,
    pub(super) holds_uri: Uri,
    /// `<base>/api/sales/{id}/holds/`, to which `{hold}/confirm` is appended.
    pub(super) confirm_prefix: String,
    pub(super) hold_body: Bytes,
    pub(super) connector: Connector,
    pub(super) ws_gate: Semaphore,
    /// Sockets whose opening finished (open or failed).
    pub(super) attempted: AtomicUsize,
    /// Why the first socket that could not open failed: the people still
    /// waiting to open theirs then give up at once, so a run the server
    /// cannot hold ends in seconds with the reason, not after every socket
    /// timed out in turn.
    pub(super) open_failure: OnceLock<String>,
    /// People in a final state.
    pub(super) done: AtomicUsize,
    /// When `POST /open` was sent.
    pub(super) opened_at: OnceLock<Instant>,
    /// When the buying phase gives up.
    pub(super) deadline: OnceLock<Instant>,
    pub(super) acks: Option<AckSender>,
}

impl Ctx {
    pub(super) fn deadline(&self) -> Instant {
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

/// Joins worker `w`'s share of the people on one leased connection; returns
/// when its last join was answered.
pub(super) async fn join_worker(
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

/// What a background job of a person produced.
pub(super) enum JobDone {
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

pub(super) fn failed(why: impl Into<String>, protocol: bool) -> JobDone {
    JobDone::Failed { why: why.into(), held: false, protocol }
}

/// `GET queue/me` until it gives a place.
pub(super) async fn locate(ctx: Arc<Ctx>, i: usize) -> JobDone {
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
pub(super) async fn buy(ctx: Arc<Ctx>, i: usize, pass: Option<String>) -> JobDone {
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
