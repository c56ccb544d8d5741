//! The one retry policy of the load generator: which attempts are tried
//! again, how long to wait before the next one, when to give up, and how
//! every attempt is counted. Every request the bench sends goes through
//! [`send`].
//!
//! An attempt is tried again when it got a `503` or `429` (the server asks
//! to come back: a full mailbox, a log it cannot write, too many requests)
//! or no answer at all. A
//! lost answer is repeated only for requests that are safe to repeat
//! ([`Repeat::Idempotent`]: commands with an idempotency key, reads, joins);
//! otherwise only a failed connect, which certainly had no effect. Before the
//! next attempt it waits for the backoff's step (50 ms doubling up to 500 ms)
//! or the server's `Retry-After`, whichever is longer, never past the
//! deadline. It gives up at the deadline or after [`ATTEMPTS_MAX`] attempts.
//!
//! Every attempt is counted in the caller's statistics as before this helper
//! existed: a `503` as an error with its status and problem type, no answer
//! as a `connect`, `transport` or `timeout` error, and the final answer as
//! the caller's `judge` says.

use std::time::Duration;

use bytes::Bytes;
use hyper::{Request, StatusCode};
use tokio::time::{Instant, sleep_until};

use crate::api::problem_type;
use crate::error::BenchError;
use crate::http::{Attempt, Body, Link};
use crate::pool::Pool;
use crate::stats::{Class, ConnStats, Live};

/// Most attempts of one request. In practice the deadline ends a retry first
/// (at the backoff's 500 ms ceiling, 100 attempts take about 48 s); this
/// bounds a server that answers `503` at once with a short `Retry-After`.
pub(crate) const ATTEMPTS_MAX: u32 = 100;

/// The longest `Retry-After` waited for; a server asking for more is asked
/// again after this long (the deadline bounds the wait in any case).
pub(crate) const RETRY_AFTER_MAX: Duration = Duration::from_secs(10);

/// Which attempts without an answer may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// A repeat has no second effect (a command with an idempotency key, a
    /// read, a join): an attempt whose answer was lost is repeated too.
    Idempotent,
    /// A repeat could act twice: only a failed connect is repeated.
    NotIdempotent,
}

/// By when one attempt must have its answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AnswerBy {
    /// A fixed instant (a load run's deadline plus its grace).
    At(Instant),
    /// This long after the attempt starts (provisioning: bulk user creation
    /// hashes many tokens).
    Within(Duration),
}

/// Bounded exponential backoff: 50 ms doubling up to 500 ms.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_millis(500);

    pub fn new() -> Backoff {
        Backoff { next: Self::MIN }
    }

    /// The current step; the next one is twice as long, up to the ceiling.
    fn step(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        step
    }
}

/// The policy of one request's attempts.
#[derive(Debug)]
pub(crate) struct Retry {
    /// No attempt starts at or after this, and no pause goes past it.
    until: Instant,
    answer_by: AnswerBy,
    repeat: Repeat,
    attempts_max: u32,
    backoff: Backoff,
}

impl Retry {
    /// Attempts until `until`, each answered by then too ([`AnswerBy::At`]),
    /// at most [`ATTEMPTS_MAX`], repeating lost answers.
    pub fn until(until: Instant) -> Retry {
        Retry {
            until,
            answer_by: AnswerBy::At(until),
            repeat: Repeat::Idempotent,
            attempts_max: ATTEMPTS_MAX,
            backoff: Backoff::new(),
        }
    }

    pub fn answer_by(self, answer_by: AnswerBy) -> Retry {
        Retry { answer_by, ..self }
    }

    pub fn repeat(self, repeat: Repeat) -> Retry {
        Retry { repeat, ..self }
    }

    #[cfg(test)]
    fn attempts(self, attempts_max: u32) -> Retry {
        Retry { attempts_max, ..self }
    }

    fn limit(&self) -> Instant {
        match self.answer_by {
            AnswerBy::At(at) => at,
            AnswerBy::Within(d) => Instant::now() + d,
        }
    }

    /// Waits before the next attempt (see [`pause_for`]).
    async fn pause(&mut self, attempt: &Attempt) {
        let wait = pause_for(self.backoff.step(), attempt);
        sleep_until((Instant::now() + wait).min(self.until)).await;
    }
}

/// The server asks to come back later (a full mailbox, an unwritable log,
/// too many requests in flight, or too many from this client).
fn busy(status: StatusCode) -> bool {
    status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS
}

/// Whether an attempt is tried again under `repeat`.
fn again(attempt: &Attempt, repeat: Repeat) -> bool {
    match attempt {
        Attempt::Response { status, .. } => busy(*status),
        Attempt::Connect(_) => true,
        Attempt::Transport(_) | Attempt::Timeout => repeat == Repeat::Idempotent,
    }
}

/// The wait before the next attempt: the backoff's step, or the server's
/// `Retry-After` (at most [`RETRY_AFTER_MAX`]) when that is longer.
fn pause_for(step: Duration, attempt: &Attempt) -> Duration {
    match attempt {
        Attempt::Response { retry_after: Some(asked), .. } => step.max((*asked).min(RETRY_AFTER_MAX)),
        _ => step,
    }
}

/// Whether an attempt may have reached the server and taken effect although
/// its answer never came.
fn maybe_applied(attempt: &Attempt) -> bool {
    matches!(attempt, Attempt::Transport(_) | Attempt::Timeout)
}

/// How a final answer counts, and what the caller read from it.
pub(crate) struct Judged<T> {
    pub class: Class,
    /// Counted as the problem type instead of the body's (an unusable answer).
    pub label: Option<&'static str>,
    pub value: T,
}

impl<T> Judged<T> {
    pub fn new(class: Class, value: T) -> Judged<T> {
        Judged { class, label: None, value }
    }

    /// An answer with the expected status that cannot be used: an error,
    /// counted under `label`.
    pub fn unusable(label: &'static str, value: T) -> Judged<T> {
        Judged { class: Class::Error, label: Some(label), value }
    }
}

/// A final answer (not a `503`), already counted.
pub(crate) struct Answer<T> {
    pub status: StatusCode,
    pub body: Bytes,
    /// What the judge read from it.
    pub value: T,
    /// An earlier attempt may have taken effect (its answer was lost).
    pub maybe_applied: bool,
}

/// How the attempts ended.
pub(crate) enum Sent<T> {
    Answer(Answer<T>),
    /// No final answer: the deadline or the attempt bound was reached, or an
    /// attempt failed in a way that may not be repeated.
    NoAnswer {
        /// The last attempt (`None` when none started: past the deadline).
        last: Option<Attempt>,
        /// Some attempt may have taken effect (its answer was lost).
        maybe_applied: bool,
    },
}

/// Where the attempts go and where they are counted.
pub(crate) enum Via<'a> {
    /// A task's own connection, counted in its statistics.
    Link { link: &'a mut Link, stats: &'a mut ConnStats, live: &'a Live },
    /// A connection leased from the pool for each attempt (given back while
    /// waiting), counted in that slot's statistics.
    Pool { pool: &'a Pool, live: &'a Live },
    /// Provisioning and checks: not counted.
    Uncounted(&'a mut Link),
}

/// Counts one attempt. A final answer is judged (and its problem type read
/// from the body unless it counts as ok or the judge labels it).
fn count<T>(
    counted: Option<(&mut ConnStats, &Live)>,
    attempt: Attempt,
    judge: &mut impl FnMut(StatusCode, &Bytes) -> Judged<T>,
) -> Result<Answer<T>, Attempt> {
    let (status, body, micros) = match attempt {
        Attempt::Response { status, body, micros, .. } if !busy(status) => (status, body, micros),
        // A 503 or no answer: counted as an error, never judged.
        other => {
            if let Some((stats, live)) = counted {
                match &other {
                    Attempt::Response { status, body, micros, .. } => {
                        stats.response(live, *status, *micros, problem_type(body).as_deref(), Class::Error);
                    }
                    failed => stats.failure(live, failed),
                }
            }
            return Err(other);
        }
    };
    let judged = judge(status, &body);
    if let Some((stats, live)) = counted {
        let problem = match (judged.class, judged.label) {
            (Class::Ok, _) => None,
            (_, Some(label)) => Some(std::borrow::Cow::Borrowed(label)),
            (_, None) => problem_type(&body),
        };
        stats.response(live, status, micros, problem.as_deref(), judged.class);
    }
    Ok(Answer { status, body, value: judged.value, maybe_applied: false })
}

/// Sends the request `make` builds until a final answer, under `retry`.
/// `judge` says how a final answer counts and reads what the caller needs
/// from it. Fails only when the pool is closed.
pub(crate) async fn send<T>(
    via: &mut Via<'_>,
    mut retry: Retry,
    mut make: impl FnMut() -> Request<Body>,
    mut judge: impl FnMut(StatusCode, &Bytes) -> Judged<T>,
) -> Result<Sent<T>, BenchError> {
    let mut attempts = 0u32;
    let mut applied = false;
    let mut last = None;
    while attempts < retry.attempts_max && Instant::now() < retry.until {
        attempts += 1;
        let limit = retry.limit();
        let counted = match via {
            Via::Link { link, stats, live } => {
                let attempt = link.send(make(), limit).await;
                count(Some((&mut **stats, &**live)), attempt, &mut judge)
            }
            Via::Pool { pool, live } => {
                let mut lease = pool.lease().await?;
                let attempt = lease.link.send(make(), limit).await;
                count(Some((&mut lease.stats, &**live)), attempt, &mut judge)
            }
            Via::Uncounted(link) => {
                let attempt = link.send(make(), limit).await;
                count(None, attempt, &mut judge)
            }
        };
        let attempt = match counted {
            Ok(answer) => return Ok(Sent::Answer(Answer { maybe_applied: applied, ..answer })),
            Err(attempt) => attempt,
        };
        applied |= maybe_applied(&attempt);
        if !again(&attempt, retry.repeat) {
            return Ok(Sent::NoAnswer { last: Some(attempt), maybe_applied: applied });
        }
        if attempts < retry.attempts_max {
            retry.pause(&attempt).await;
        }
        last = Some(attempt);
    }
    Ok(Sent::NoAnswer { last, maybe_applied: applied })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::http::Target;

    fn answer(status: StatusCode, retry_after: Option<u64>) -> Attempt {
        Attempt::Response {
            status,
            body: Bytes::from_static(br#"{"type":"/problems/overloaded"}"#),
            micros: 10,
            retry_after: retry_after.map(Duration::from_secs),
        }
    }

    #[test]
    fn backoff_is_bounded() {
        let mut b = Backoff::new();
        let steps: Vec<u64> = (0..8).map(|_| b.step().as_millis() as u64).collect();
        assert_eq!(steps, [50, 100, 200, 400, 500, 500, 500, 500]);
    }

    #[test]
    fn what_is_tried_again() {
        let busy = answer(StatusCode::SERVICE_UNAVAILABLE, None);
        let refused = Attempt::Connect(std::io::Error::other("refused"));
        for repeat in [Repeat::Idempotent, Repeat::NotIdempotent] {
            assert!(again(&busy, repeat));
            assert!(again(&answer(StatusCode::TOO_MANY_REQUESTS, Some(1)), repeat));
            assert!(again(&refused, repeat));
            assert!(!again(&answer(StatusCode::OK, None), repeat));
            assert!(!again(&answer(StatusCode::INTERNAL_SERVER_ERROR, None), repeat));
            assert!(!again(&answer(StatusCode::CONFLICT, None), repeat));
        }
        assert!(again(&Attempt::Timeout, Repeat::Idempotent));
        assert!(!again(&Attempt::Timeout, Repeat::NotIdempotent));
        assert!(maybe_applied(&Attempt::Timeout));
        assert!(!maybe_applied(&refused));
        assert!(!maybe_applied(&busy));
    }

    #[test]
    fn retry_after_is_honoured_and_bounded() {
        let step = Duration::from_millis(100);
        assert_eq!(pause_for(step, &answer(StatusCode::SERVICE_UNAVAILABLE, None)), step);
        assert_eq!(pause_for(step, &answer(StatusCode::SERVICE_UNAVAILABLE, Some(1))), Duration::from_secs(1));
        assert_eq!(pause_for(step, &answer(StatusCode::SERVICE_UNAVAILABLE, Some(0))), step);
        assert_eq!(pause_for(step, &answer(StatusCode::SERVICE_UNAVAILABLE, Some(3600))), RETRY_AFTER_MAX);
        assert_eq!(pause_for(step, &Attempt::Timeout), step);
    }

    #[test]
    fn attempts_are_counted_as_they_end() {
        let live = Live::default();
        let mut stats = ConnStats::new().unwrap();
        let mut judge = |status: StatusCode, _: &Bytes| {
            if status == StatusCode::OK { Judged::new(Class::Ok, 1) } else { Judged::unusable("(odd)", 2) }
        };
        let busy = count(Some((&mut stats, &live)), answer(StatusCode::SERVICE_UNAVAILABLE, Some(1)), &mut judge);
        assert!(busy.is_err());
        let ok = count(Some((&mut stats, &live)), answer(StatusCode::OK, None), &mut judge);
        assert_eq!(ok.ok().map(|a| a.value), Some(1));
        let odd = count(Some((&mut stats, &live)), answer(StatusCode::ACCEPTED, None), &mut judge);
        assert_eq!(odd.ok().map(|a| (a.status, a.value)), Some((StatusCode::ACCEPTED, 2)));
        assert!(count(Some((&mut stats, &live)), Attempt::Timeout, &mut judge).is_err());
        let mut totals = crate::stats::Totals::new().unwrap();
        totals.add(stats).unwrap();
        assert_eq!((totals.requests, totals.ok, totals.errors), (4, 1, 3));
        assert_eq!(totals.statuses.get("503"), Some(&1));
        assert_eq!(totals.statuses.get("timeout"), Some(&1));
        assert_eq!(totals.problems.get("/problems/overloaded"), Some(&1));
        assert_eq!(totals.problems.get("(odd)"), Some(&1));
    }

    #[tokio::test]
    async fn gives_up_after_the_bounded_attempts() {
        // Nothing listens there: every attempt fails to connect.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let target = Arc::new(Target::resolve(&format!("http://{addr}")).await.unwrap());
        let uri = target.uri("/api/ping").unwrap();
        let mut link = Link::new(target.clone());
        let mut stats = ConnStats::new().unwrap();
        let live = Live::default();
        let retry = Retry::until(Instant::now() + Duration::from_secs(30)).attempts(3);
        let started = Instant::now();
        let make = || crate::http::request(&target, hyper::Method::GET, uri.clone(), None, None, None);
        let sent = send(&mut Via::Link { link: &mut link, stats: &mut stats, live: &live }, retry, make, |_, _| {
            Judged::new(Class::Ok, ())
        })
        .await
        .unwrap();
        assert!(matches!(sent, Sent::NoAnswer { last: Some(Attempt::Connect(_)), maybe_applied: false }));
        // Two pauses (50 + 100 ms) between three attempts, none after the last.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(150) && took < Duration::from_secs(5), "{took:?}");
        let mut totals = crate::stats::Totals::new().unwrap();
        totals.add(stats).unwrap();
        assert_eq!((totals.requests, totals.errors), (3, 3));
    }
}
