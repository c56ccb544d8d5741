//! The rush's client: each connection serves its users one after another
//! over one keep-alive connection, holding (and maybe confirming) what the
//! plan says, with every command retried under [`crate::retry`].

use std::sync::Arc;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode, Uri};
use serde::Deserialize;
use tokio::time::Instant;

use super::check::check_seats;
use super::plan::{Area, Pick, Venue, hold_body, plan};
use super::{NOTES_MAX, micros_since};
use crate::api::{VUser, problem_type};
use crate::error::BenchError;
use crate::http::{self, Link, Target};
use crate::retry::{self, Answer, AnswerBy, Judged, Retry, Sent, Via};
use crate::scenario::{GRACE, user_indices};
use crate::stats::{Class, ConnStats, Live};

static HOLD_KEY: HeaderValue = HeaderValue::from_static("bench-seats-hold");
static RETRY_KEY: HeaderValue = HeaderValue::from_static("bench-seats-retry");
static CONFIRM_KEY: HeaderValue = HeaderValue::from_static("bench-seats-confirm");

const SEATS_TAKEN: &str = "/problems/seats-taken";
const NO_ADJACENT: &str = "/problems/no-adjacent-seats";
/// Refusals that are a correct answer to a hold under load.
const HOLD_REFUSALS: [&str; 4] = [SEATS_TAKEN, NO_ADJACENT, "/problems/limit-reached", "/problems/sold-out"];

/// Everything the connection tasks share.
pub(super) struct Rush {
    pub(super) target: Arc<Target>,
    pub(super) live: Arc<Live>,
    pub(super) users: Vec<VUser>,
    pub(super) connections: usize,
    pub(super) venue: Arc<Venue>,
    pub(super) holds_uri: Uri,
    /// `<base>/api/sales/{id}/seats/holds/`, to which `{hold}/confirm` is appended.
    pub(super) confirm_prefix: String,
    pub(super) hot_percent: u8,
    pub(super) confirm_percent: u8,
    pub(super) epoch: std::time::Instant,
}

/// An acknowledged hold.
#[derive(Debug, Clone)]
pub(super) struct Acked {
    pub(super) hold: u64,
    /// When the `201` was received (µs since the epoch).
    pub(super) at_us: u32,
    pub(super) seats: Vec<u32>,
    /// The seats of the `200` to the confirmation, if confirmed.
    pub(super) confirmed: Option<Vec<u32>>,
}

/// What one connection's users got.
#[derive(Debug, Default)]
pub(super) struct RushOut {
    pub(super) acked: Vec<Acked>,
    /// First holds answered (201 or a refusal), and retries.
    pub(super) asked: u64,
    pub(super) collisions: u64,
    pub(super) hot_collisions: u64,
    pub(super) retries: u64,
    pub(super) retries_held: u64,
    pub(super) no_adjacent: u64,
    pub(super) other_refusals: u64,
    /// Users whose command got no usable answer before the deadline.
    pub(super) unresolved: u64,
    /// Users not started before the deadline.
    pub(super) unstarted: u64,
    /// Answers that are not what was asked (wrong seats, status).
    pub(super) wrong: u64,
    /// `201`/`200` bodies that could not be read.
    pub(super) unparsable: u64,
    pub(super) notes: Vec<String>,
}

impl RushOut {
    fn note(&mut self, text: String) {
        if self.notes.len() < NOTES_MAX {
            self.notes.push(text);
        }
    }
}

#[derive(Deserialize)]
struct HoldOut {
    id: u64,
    status: String,
    seats: Vec<SeatOut>,
}

#[derive(Deserialize)]
struct SeatOut {
    id: u32,
}

#[derive(Deserialize)]
struct TakenProblem {
    #[serde(default)]
    seats: Vec<u32>,
}

/// How a hold request ended.
enum Held {
    Yes(HoldOut, u32),
    Refused(String),
    /// No usable answer (an error already counted).
    Failed,
}

/// One connection task: its link, statistics and results.
struct Conn<'a> {
    rush: &'a Rush,
    link: Link,
    stats: ConnStats,
    out: RushOut,
    deadline: Instant,
}

impl Conn<'_> {
    /// Sends a command until it gets an answer other than `503` (same
    /// idempotency key each time, [`crate::retry`]) or the deadline passes;
    /// counts every attempt.
    async fn command(
        &mut self,
        uri: &Uri,
        auth: &HeaderValue,
        key: &HeaderValue,
        body: Option<&Bytes>,
        ok: StatusCode,
        refusals: &[&str],
    ) -> Result<Option<(StatusCode, Bytes, u32)>, BenchError> {
        let rush = self.rush;
        let make =
            || http::request(&rush.target, Method::POST, uri.clone(), Some(auth), Some(key.clone()), body.cloned());
        let judge = |status: StatusCode, answer: &Bytes| {
            let class = if status == ok {
                Class::Ok
            } else if status == StatusCode::CONFLICT
                && problem_type(answer).as_deref().is_some_and(|p| refusals.contains(&p))
            {
                Class::Rejected
            } else {
                Class::Error
            };
            Judged::new(class, ())
        };
        let mut via = Via::Link { link: &mut self.link, stats: &mut self.stats, live: &rush.live };
        let retry = Retry::until(self.deadline).answer_by(AnswerBy::At(self.deadline + GRACE));
        Ok(match retry::send(&mut via, retry, make, judge).await? {
            Sent::Answer(Answer { status, body, .. }) => Some((status, body, micros_since(rush.epoch))),
            Sent::NoAnswer { .. } => None,
        })
    }

    async fn hold(&mut self, auth: &HeaderValue, key: &HeaderValue, body: &Bytes) -> Result<Held, BenchError> {
        let uri = &self.rush.holds_uri;
        let answer = self.command(uri, auth, key, Some(body), StatusCode::CREATED, &HOLD_REFUSALS).await?;
        let out = &mut self.out;
        let Some((status, answer, at)) = answer else {
            out.unresolved += 1;
            return Ok(Held::Failed);
        };
        out.asked += 1;
        if status == StatusCode::CREATED {
            return Ok(match serde_json::from_slice::<HoldOut>(&answer) {
                Ok(h) => Held::Yes(h, at),
                Err(e) => {
                    out.unparsable += 1;
                    out.note(format!("unparsable 201 to a hold: {e}"));
                    Held::Failed
                }
            });
        }
        Ok(match problem_type(&answer) {
            Some(p) if status == StatusCode::CONFLICT && HOLD_REFUSALS.contains(&p.as_ref()) => {
                if p == SEATS_TAKEN {
                    // The refusal names taken seats: they must be among those asked for.
                    let named = serde_json::from_slice::<TakenProblem>(&answer).map(|t| t.seats).unwrap_or_default();
                    let asked: Vec<u32> = serde_json::from_slice::<serde_json::Value>(body)
                        .ok()
                        .and_then(|v| serde_json::from_value(v.get("seats")?.clone()).ok())
                        .unwrap_or_default();
                    if named.is_empty() || named.iter().any(|s| !asked.contains(s)) {
                        out.wrong += 1;
                        out.note(format!("seats-taken for {asked:?} names {named:?}"));
                    }
                }
                Held::Refused(p.into_owned())
            }
            _ => Held::Failed,
        })
    }

    /// One user: a hold, a second try after a collision, maybe a confirmation.
    async fn user(&mut self, i: usize) -> Result<(), BenchError> {
        let rush = self.rush;
        let venue = &*rush.venue;
        let auth = &rush.users[i].auth;
        let plan = plan(i, venue, rush.hot_percent, rush.confirm_percent);
        let mut pick = plan.pick.clone();
        let mut held = self.hold(auth, &HOLD_KEY, &hold_body(plan.count, &pick)).await?;
        if let Held::Refused(p) = &held {
            match p.as_str() {
                SEATS_TAKEN => {
                    self.out.collisions += 1;
                    if let Pick::Seats { section, hot, .. } = &plan.pick {
                        self.out.hot_collisions += u64::from(*hot);
                        // Once more: best available in the same section.
                        pick = Pick::Best(Area::Section(venue.sections[*section].index));
                        self.out.retries += 1;
                        held = self.hold(auth, &RETRY_KEY, &hold_body(plan.count, &pick)).await?;
                        let out = &mut self.out;
                        match &held {
                            Held::Yes(..) => out.retries_held += 1,
                            Held::Refused(p) if p == NO_ADJACENT => out.no_adjacent += 1,
                            Held::Refused(p) if p == SEATS_TAKEN => out.collisions += 1,
                            Held::Refused(_) => out.other_refusals += 1,
                            Held::Failed => {}
                        }
                    }
                }
                NO_ADJACENT => self.out.no_adjacent += 1,
                _ => self.out.other_refusals += 1,
            }
        }
        let Held::Yes(answer, at_us) = held else { return Ok(()) };
        let seats: Vec<u32> = answer.seats.iter().map(|s| s.id).collect();
        if answer.status != "held" {
            self.out.wrong += 1;
            self.out.note(format!("hold {} answered with status {:?}", answer.id, answer.status));
        }
        if let Err(e) = check_seats(venue, plan.count, &pick, &seats) {
            self.out.wrong += 1;
            self.out.note(format!("hold {}: {e}", answer.id));
        }
        let mut acked = Acked { hold: answer.id, at_us, seats, confirmed: None };
        if plan.confirm {
            let uri: Uri = format!("{}{}/confirm", rush.confirm_prefix, answer.id)
                .parse()
                .map_err(|e| BenchError::Internal(format!("confirm uri: {e}")))?;
            let answer = self.command(&uri, auth, &CONFIRM_KEY, None, StatusCode::OK, &[]).await?;
            let out = &mut self.out;
            match answer {
                Some((StatusCode::OK, body, _)) => match serde_json::from_slice::<HoldOut>(&body) {
                    Ok(order) => {
                        let seats: Vec<u32> = order.seats.iter().map(|s| s.id).collect();
                        if order.id != acked.hold || order.status != "confirmed" || seats != acked.seats {
                            out.wrong += 1;
                            out.note(format!(
                                "confirming hold {} {:?} answered order {} {:?} with status {:?}",
                                acked.hold, acked.seats, order.id, seats, order.status
                            ));
                        }
                        acked.confirmed = Some(seats);
                    }
                    Err(e) => {
                        out.unparsable += 1;
                        out.note(format!("unparsable 200 to a confirmation: {e}"));
                    }
                },
                Some(_) => {}
                None => out.unresolved += 1,
            }
        }
        self.out.acked.push(acked);
        Ok(())
    }
}

pub(super) async fn rush_task(
    rush: Arc<Rush>,
    conn: usize,
    deadline: Instant,
) -> Result<(ConnStats, RushOut), BenchError> {
    let mut c = Conn {
        rush: &rush,
        link: Link::new(rush.target.clone()),
        stats: ConnStats::new()?,
        out: RushOut::default(),
        deadline,
    };
    for i in user_indices(conn, rush.connections, rush.users.len()) {
        if Instant::now() >= deadline {
            c.out.unstarted += 1;
            continue;
        }
        c.user(i).await?;
    }
    Ok((c.stats, c.out))
}
