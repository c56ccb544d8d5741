//! One torture client: a bulk user on its own keep-alive connection, acting
//! on the current generation's sales in a loop (hold, confirm, cancel,
//! refund, seat holds, a drop click, the waiting room) with a fresh
//! idempotency key per command, and recording every command and its answer
//! in its [`Sent`] history. An answer lost in a kill is either retried with
//! the same key until the restarted server answers it, or given up (the
//! command stays "unknown"). Now and then it resends an earlier command with
//! its key and body and compares the answer with the first one, or sends an
//! earlier key with another body, which must be refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use hyper::header::{HeaderName, HeaderValue};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tokio::sync::watch;
use tokio::time::Instant;

use super::history::{Answered, KEYS_REMEMBERED, Op, Outcome, Read, SaleKind, Sent};
use super::{Findings, Generation, Shared};
use crate::api::{VUser, problem_type};
use crate::error::BenchError;
use crate::http::{self, Link, Target};
use crate::retry::{self, AnswerBy, Judged, Repeat, Retry, Via};
use crate::stats::Class;

/// How long a command keeps being retried: longer than a restart takes.
const RETRY_FOR: Duration = Duration::from_secs(90);
/// The time limit of one attempt.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(20);
/// The pass header of a sale behind a waiting room.
static PASS: HeaderName = HeaderName::from_static("stampede-pass");

/// What one client did, besides its history.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ClientStats {
    /// Resends compared with their first answer.
    pub resends: u64,
    /// Keys sent again with another body.
    pub reused_keys: u64,
    /// Commands whose answer was lost and that were answered on a retry.
    pub answered_after_loss: u64,
    /// Commands that never reached the server (no connection until the deadline).
    pub not_sent: u64,
}

/// The client's view of a waiting room it is in.
#[derive(Debug, Default)]
struct Room {
    joined: bool,
    /// The pass and its expiry (µs since the epoch).
    pass: Option<(HeaderValue, i64)>,
    /// The pass ended (used or expired): nothing more to do in this sale.
    done: bool,
}

pub(crate) struct Client {
    index: usize,
    user: VUser,
    target: Arc<Target>,
    link: Link,
    rng: Xoshiro256PlusPlus,
    generation: watch::Receiver<Arc<Generation>>,
    stop: watch::Receiver<bool>,
    shared: Arc<Shared>,
    history: Vec<Sent>,
    /// Keys sent per sale.
    keys: BTreeMap<u64, u32>,
    next_key: u64,
    /// Acknowledged holds not yet settled: (sale, kind, hold).
    held: Vec<(u64, SaleKind, u64)>,
    /// Acknowledged orders not refunded.
    orders: Vec<(u64, SaleKind, u64)>,
    /// The first acknowledged click per drop.
    clicked: BTreeMap<u64, (u64, i64)>,
    rooms: BTreeMap<u64, Room>,
    /// Longest pause between two actions.
    think_max: Duration,
    stats: ClientStats,
}

/// A command's method, path and body.
fn request_of(kind: SaleKind, sale: u64, op: &Op) -> (Method, String, Option<Bytes>) {
    let seats = if kind == SaleKind::Seated { "/seats" } else { "" };
    let base = format!("/api/sales/{sale}{seats}");
    match op {
        Op::Hold { quantity } => {
            (Method::POST, format!("{base}/holds"), Some(Bytes::from(format!("{{\"quantity\":{quantity}}}"))))
        }
        Op::SeatHold { seats } => {
            let list = seats.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            (Method::POST, format!("{base}/holds"), Some(Bytes::from(format!("{{\"seats\":[{list}]}}"))))
        }
        Op::Confirm { hold } => (Method::POST, format!("{base}/holds/{hold}/confirm"), None),
        Op::Cancel { hold } => (Method::DELETE, format!("{base}/holds/{hold}"), None),
        Op::Refund { hold } => (Method::POST, format!("{base}/orders/{hold}/refund"), None),
        Op::Click => (Method::POST, format!("/api/sales/{sale}/clicks"), None),
    }
}

/// Reads what the checker needs from a `2xx` answer.
fn read_answer(op: &Op, body: &[u8]) -> Result<Read, String> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("unparsable answer: {e}"))?;
    let id = || v["id"].as_u64().ok_or_else(|| format!("no id in {v}"));
    Ok(match op {
        Op::Hold { .. } => Read::Hold {
            id: id()?,
            quantity: v["quantity"].as_u64().and_then(|q| u32::try_from(q).ok()).ok_or("no quantity")?,
        },
        Op::SeatHold { .. } => {
            let mut seats = v["seats"]
                .as_array()
                .ok_or("no seats")?
                .iter()
                .map(|s| s["id"].as_u64().and_then(|id| u32::try_from(id).ok()).ok_or("a seat without an id"))
                .collect::<Result<Vec<u32>, _>>()?;
            seats.sort_unstable();
            Read::SeatHold { id: id()?, seats }
        }
        Op::Click => Read::Click {
            rank: v["rank"].as_u64().ok_or("no rank")?,
            at_us: v["clicked_at_us"].as_i64().ok_or("no clicked_at_us")?,
        },
        Op::Confirm { .. } | Op::Cancel { .. } | Op::Refund { .. } => Read::Nothing,
    })
}

impl Client {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        index: usize,
        user: VUser,
        target: Arc<Target>,
        seed: u64,
        think_max: Duration,
        generation: watch::Receiver<Arc<Generation>>,
        stop: watch::Receiver<bool>,
        shared: Arc<Shared>,
    ) -> Client {
        Client {
            index,
            user,
            link: Link::new(target.clone()),
            target,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            generation,
            stop,
            shared,
            history: Vec::new(),
            keys: BTreeMap::new(),
            next_key: 0,
            held: Vec::new(),
            orders: Vec::new(),
            clicked: BTreeMap::new(),
            rooms: BTreeMap::new(),
            think_max,
            stats: ClientStats::default(),
        }
    }

    fn findings(&self) -> std::sync::MutexGuard<'_, Findings> {
        self.shared.findings.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Acts until told to stop; returns the history.
    pub(crate) async fn run(mut self) -> Result<(Vec<Sent>, ClientStats), BenchError> {
        while !*self.stop.borrow() {
            let generation = self.generation.borrow_and_update().clone();
            // A person's pause between two clicks: pacing, not waiting for anything.
            let think = self.rng.random_range(0..=self.think_max.as_millis() as u64);
            tokio::time::sleep(Duration::from_millis(think)).await;
            if !self.step(&generation).await? {
                // Every sale of this generation is done for this client: wait
                // for the next generation (or the end).
                tokio::select! {
                    _ = self.generation.changed() => {}
                    _ = self.stop.changed() => {}
                }
            }
        }
        Ok((self.history, self.stats))
    }

    /// One action; `false` when there was nothing left to do.
    async fn step(&mut self, g: &Generation) -> Result<bool, BenchError> {
        let roll = self.rng.random_range(0..100u32);
        if roll < 10 && !self.history.is_empty() {
            self.resend().await?;
            return Ok(true);
        }
        let order: [SaleKind; 4] = match roll {
            10..40 => [SaleKind::Stock, SaleKind::Seated, SaleKind::Room, SaleKind::Drop],
            40..65 => [SaleKind::Seated, SaleKind::Stock, SaleKind::Room, SaleKind::Drop],
            65..85 => [SaleKind::Room, SaleKind::Stock, SaleKind::Seated, SaleKind::Drop],
            _ => [SaleKind::Drop, SaleKind::Stock, SaleKind::Seated, SaleKind::Room],
        };
        for kind in order {
            let sale = g.sale(kind);
            if self.keys.get(&sale).copied().unwrap_or(0) >= KEYS_REMEMBERED {
                continue;
            }
            let acted = match kind {
                SaleKind::Stock | SaleKind::Seated => self.buy(sale, kind).await?,
                SaleKind::Room => self.room(sale).await?,
                SaleKind::Drop => self.click(sale).await?,
            };
            if acted {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A new hold, or settling one of ours: confirm, cancel, refund.
    async fn buy(&mut self, sale: u64, kind: SaleKind) -> Result<bool, BenchError> {
        let mine = |list: &[(u64, SaleKind, u64)]| list.iter().position(|(s, _, _)| *s == sale);
        if let Some(i) = mine(&self.held).filter(|_| self.rng.random_bool(0.7)) {
            let (_, _, hold) = self.held.remove(i);
            let op = if self.rng.random_bool(0.75) { Op::Confirm { hold } } else { Op::Cancel { hold } };
            let confirm = matches!(op, Op::Confirm { .. });
            if self.command(sale, kind, op, None).await?.is_some_and(|a| a.acked()) && confirm {
                self.orders.push((sale, kind, hold));
            }
            return Ok(true);
        }
        if let Some(i) = mine(&self.orders).filter(|_| self.rng.random_bool(0.25)) {
            let (_, _, hold) = self.orders.remove(i);
            self.command(sale, kind, Op::Refund { hold }, None).await?;
            return Ok(true);
        }
        let op = match kind {
            SaleKind::Seated => {
                // Two rows... of 8 seats: pick 1 or 2 neighbours in one row.
                let first = self.rng.random_range(0..super::SEATS);
                let pair = first % super::SEATS_PER_ROW != super::SEATS_PER_ROW - 1 && self.rng.random_bool(0.5);
                Op::SeatHold { seats: if pair { vec![first, first + 1] } else { vec![first] } }
            }
            _ => Op::Hold { quantity: self.rng.random_range(1..=super::STOCK_QUANTITY_MAX) },
        };
        if let Some(Answered { read: Read::Hold { id, .. } | Read::SeatHold { id, .. }, .. }) =
            self.command(sale, kind, op, None).await?
        {
            self.held.push((sale, kind, id));
        }
        Ok(true)
    }

    /// The waiting room: join, fetch the pass once admitted, then hold one
    /// unit with it and confirm, until the pass is used or expired.
    async fn room(&mut self, sale: u64) -> Result<bool, BenchError> {
        let room = self.rooms.entry(sale).or_default();
        if room.done {
            return Ok(false);
        }
        let now_us = now_us();
        let pass_live = room.pass.as_ref().is_some_and(|(_, exp)| *exp > now_us + 1_000_000);
        if !room.joined || !pass_live {
            let (method, path, body) = if room.joined {
                (Method::GET, format!("/api/sales/{sale}/queue/me"), None)
            } else {
                (Method::POST, format!("/api/sales/{sale}/queue/join"), Some(Bytes::from_static(b"{\"nonce\":0}")))
            };
            let Some((status, ticket)) = self.plain(method, &path, body).await? else { return Ok(true) };
            if status != 200 {
                self.findings().inconsistent(format!("{path} answered {status}: {ticket}"));
                self.rooms.entry(sale).or_default().done = true;
                return Ok(true);
            }
            let room = self.rooms.entry(sale).or_default();
            room.joined = true;
            room.pass = match (ticket["pass"].as_str(), ticket["pass_expires_at_us"].as_i64()) {
                (Some(pass), Some(exp)) => HeaderValue::from_str(pass).ok().map(|p| (p, exp)),
                _ => None,
            };
            room.done = matches!(ticket["pass_state"].as_str(), Some("used" | "expired"));
            return Ok(true);
        }
        // A hold of ours in this sale is confirmed first (no pass needed).
        if let Some(i) = self.held.iter().position(|(s, _, _)| *s == sale) {
            let (_, _, hold) = self.held.remove(i);
            if self.command(sale, SaleKind::Room, Op::Confirm { hold }, None).await?.is_some_and(|a| a.acked()) {
                self.orders.push((sale, SaleKind::Room, hold));
            }
            return Ok(true);
        }
        let pass = room.pass.as_ref().map(|(p, _)| p.clone());
        let answer = self.command(sale, SaleKind::Room, Op::Hold { quantity: 1 }, pass).await?;
        let room = self.rooms.entry(sale).or_default();
        match answer {
            Some(Answered { read: Read::Hold { id, .. }, .. }) => self.held.push((sale, SaleKind::Room, id)),
            Some(Answered { problem: Some(p), .. }) => match p.as_str() {
                "/problems/pass-used" | "/problems/limit-reached" | "/problems/sold-out" => room.done = true,
                // Fetch the pass again next time.
                _ => room.pass = None,
            },
            _ => {}
        }
        Ok(true)
    }

    /// Clicks the drop once; later clicks with fresh keys must get the first answer.
    async fn click(&mut self, sale: u64) -> Result<bool, BenchError> {
        let first = self.clicked.get(&sale).copied();
        if first.is_some() && !self.rng.random_bool(0.2) {
            return Ok(false);
        }
        if let Some(Answered { read: Read::Click { rank, at_us }, .. }) =
            self.command(sale, SaleKind::Drop, Op::Click, None).await?
        {
            match first {
                None => {
                    self.clicked.insert(sale, (rank, at_us));
                }
                Some(was) if was != (rank, at_us) => self.findings().inconsistent(format!(
                    "user {} clicked drop {sale} again and got rank {rank} at {at_us}, first {was:?}",
                    self.user.id
                )),
                Some(_) => {}
            }
        }
        Ok(true)
    }

    /// Sends one command with a fresh key and records it. `None` when it
    /// never reached the server or its answer was lost for good.
    async fn command(
        &mut self,
        sale: u64,
        kind: SaleKind,
        op: Op,
        pass: Option<HeaderValue>,
    ) -> Result<Option<Answered>, BenchError> {
        let key = format!("t{}-{}", self.index, self.next_key);
        self.next_key += 1;
        let count = self.keys.entry(sale).or_insert(0);
        let key_index = *count;
        *count += 1;
        self.shared.keys_max.fetch_max(*count, std::sync::atomic::Ordering::Relaxed);
        // Half the clients whose answer is lost retry with the key until
        // answered; the others give up, leaving an unknown outcome.
        let persist = self.rng.random_bool(0.5);
        let Some(outcome) = self.send(kind, sale, &op, &key, pass, persist).await? else {
            return Ok(None);
        };
        let answered = match &outcome {
            Outcome::Answered(a) => Some(a.clone()),
            Outcome::Unknown => None,
        };
        self.history.push(Sent { user: self.index, sale, kind, op, key, key_index, outcome });
        Ok(answered)
    }

    /// Sends a command (no record): `None` when nothing reached the server.
    async fn send(
        &mut self,
        kind: SaleKind,
        sale: u64,
        op: &Op,
        key: &str,
        pass: Option<HeaderValue>,
        persist: bool,
    ) -> Result<Option<Outcome>, BenchError> {
        let (method, path, body) = request_of(kind, sale, op);
        let uri = self.target.uri(&path)?;
        let key_value = HeaderValue::from_str(key).map_err(|_| BenchError::Internal(format!("bad key {key}")))?;
        let retry = Retry::until(Instant::now() + RETRY_FOR)
            .answer_by(AnswerBy::Within(ATTEMPT_LIMIT))
            .repeat(if persist { Repeat::Idempotent } else { Repeat::NotIdempotent });
        let (target, auth) = (self.target.clone(), self.user.auth.clone());
        let make = || {
            let mut req =
                http::request(&target, method.clone(), uri.clone(), Some(&auth), Some(key_value.clone()), body.clone());
            if let Some(pass) = &pass {
                req.headers_mut().insert(PASS.clone(), pass.clone());
            }
            req
        };
        let sent =
            retry::send(&mut Via::Uncounted(&mut self.link), retry, make, |_, _| Judged::new(Class::Ok, ())).await?;
        Ok(match sent {
            retry::Sent::Answer(a) => {
                if a.maybe_applied {
                    self.stats.answered_after_loss += 1;
                }
                let status = a.status.as_u16();
                let read = if a.status.is_success() {
                    match read_answer(op, &a.body) {
                        Ok(read) => read,
                        Err(e) => {
                            self.findings().inconsistent(format!("{method} {path} answered {status}: {e}"));
                            Read::Nothing
                        }
                    }
                } else {
                    Read::Nothing
                };
                Some(Outcome::Answered(Answered {
                    status,
                    digest: *blake3::hash(&a.body).as_bytes(),
                    problem: if a.status.is_success() { None } else { problem_type(&a.body).map(|p| p.into_owned()) },
                    read,
                }))
            }
            retry::Sent::NoAnswer { maybe_applied: true, .. } => Some(Outcome::Unknown),
            retry::Sent::NoAnswer { maybe_applied: false, .. } => {
                self.stats.not_sent += 1;
                None
            }
        })
    }

    /// A request that is no sale command (join, queue/me), retried until answered.
    async fn plain(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Option<(u16, serde_json::Value)>, BenchError> {
        let uri = self.target.uri(path)?;
        let (target, auth) = (self.target.clone(), self.user.auth.clone());
        let retry = Retry::until(Instant::now() + RETRY_FOR).answer_by(AnswerBy::Within(ATTEMPT_LIMIT));
        let make = || http::request(&target, method.clone(), uri.clone(), Some(&auth), None, body.clone());
        let sent =
            retry::send(&mut Via::Uncounted(&mut self.link), retry, make, |_, _| Judged::new(Class::Ok, ())).await?;
        Ok(match sent {
            retry::Sent::Answer(a) => {
                Some((a.status.as_u16(), serde_json::from_slice(&a.body).unwrap_or(serde_json::Value::Null)))
            }
            retry::Sent::NoAnswer { .. } => None,
        })
    }

    /// Sends an earlier command again with its key, and compares the answer
    /// with the first; or, for a hold, the key with another quantity, which
    /// must be refused as a reused key.
    async fn resend(&mut self) -> Result<(), BenchError> {
        for _ in 0..8 {
            let i = self.rng.random_range(0..self.history.len());
            let sent = &self.history[i];
            let Some(first) = sent.answered() else { continue };
            let remembered = self.keys.get(&sent.sale).copied().unwrap_or(0) - sent.key_index <= KEYS_REMEMBERED;
            // Refusals at the edge (a pass, a bad request) are not commands
            // and are not remembered; a hold behind a waiting room needs a
            // pass that may have expired since.
            let outcome = (200..300).contains(&first.status)
                || (first.status == 409
                    && !first
                        .problem
                        .as_deref()
                        .is_some_and(|p| p.starts_with("/problems/pass") || p.ends_with("reused")));
            if !remembered || !outcome || (sent.kind == SaleKind::Room && matches!(sent.op, Op::Hold { .. })) {
                continue;
            }
            let (kind, sale, key, first) = (sent.kind, sent.sale, sent.key.clone(), first.clone());
            if let Op::Hold { quantity } = sent.op
                && self.rng.random_bool(0.2)
            {
                let other = Op::Hold { quantity: quantity % super::STOCK_QUANTITY_MAX + 1 };
                if let Some(Outcome::Answered(a)) = self.send(kind, sale, &other, &key, None, true).await? {
                    self.stats.reused_keys += 1;
                    if a.problem.as_deref() != Some("/problems/idempotency-key-reused") {
                        self.findings().inconsistent(format!(
                            "key {key} of user {} sent again with another quantity was answered {} {:?}",
                            self.user.id, a.status, a.problem
                        ));
                    }
                }
                return Ok(());
            }
            let op = sent.op.clone();
            if let Some(Outcome::Answered(again)) = self.send(kind, sale, &op, &key, None, true).await? {
                self.stats.resends += 1;
                let same = again.status == first.status
                    && if first.acked() { again.digest == first.digest } else { again.problem == first.problem };
                if !same {
                    self.findings().inconsistent(format!(
                        "{} sale {sale}: {op:?} key {key} of user {} first answered {} {:?}, resent {} {:?}",
                        kind.name(),
                        self.user.id,
                        first.status,
                        first.problem,
                        again.status,
                        again.problem
                    ));
                }
            }
            return Ok(());
        }
        Ok(())
    }
}

/// The wall clock in µs (to tell whether a pass is about to expire; the
/// server decides).
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
