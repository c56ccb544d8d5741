//! The overload scenario: what a rush at ten times the server's capacity
//! does to the people it can serve. Three phases on one stock sale:
//!
//! 1. **normal**: `--connections` clients (enough to saturate the server)
//!    send holds back to back; their rate per second is the normal rate;
//! 2. **overload**: `--overload-factor` times as many clients (10 by default)
//!    do the same. Every answer must be a hold (201), a correct refusal
//!    (409), or `429`/`503` *with* `Retry-After`, which the client honours
//!    before resending the same key; anything else (another status, a broken
//!    connection, no answer in time) is a violation. Measured: the latency of
//!    admitted requests (answered 201 or 409), how many were shed, and the
//!    server's peak resident memory (`GET /api/admin/stats`, sampled);
//! 3. **recovery**: back to `--connections` clients the moment the overload
//!    stops; the run is clean only if some second within
//!    [`RECOVERY_MAX_S`] reaches [`RECOVERED_SHARE`] of the rate to recover
//!    to, and the phase settles at half the normal rate at least. The rate to
//!    recover to is the normal rate, or the rate the recovery phase settles
//!    at (the median of its second half) when that is lower: the sale now
//!    holds the hundreds of thousands of holds the overload made, and a
//!    bigger sale costs more per command (its snapshots, for one), which is
//!    not the overload lingering.
//!
//! With `--waiting-room` the sale has a waiting room that admits
//! `--connections` people at once, and every client is a person of their
//! own: they join, then ask `queue/me` back to back (as people refreshing a
//! page do) until it gives them a pass, then hold with it. The first
//! `--connections` people are admitted at once and buy through all three
//! phases; the crowd that joins in the overload phase waits. Joins, `queue/me`
//! answers and a refused hold (a pass expired or used: the client goes back
//! to waiting) count as admitted requests too; the rate is still holds.
//!
//! Afterwards the sale's books must balance and hold every acknowledged unit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode, Uri};
use tokio::time::{Instant, sleep_until};

use super::{GRACE, provision};
use crate::api::{Api, VUser};
use crate::error::BenchError;
use crate::http::{self, Attempt, Link, Target};
use crate::room::QueueTicket;
use crate::{BenchArgs, Scenario, Summary};

/// The load stops; within this many seconds the normal rate must be back.
pub(crate) const RECOVERY_MAX_S: usize = 5;
/// A second whose rate reaches this share of the normal phase's median
/// counts as recovered (a shared two-core machine wobbles by some percent).
pub(crate) const RECOVERED_SHARE: f64 = 0.8;
/// The recovery phase runs at least this long, to see the rate settle.
const RECOVERY_PHASE_MIN_S: u64 = 8;
/// The server's resident memory is read this often.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// The longest `Retry-After` honoured (the phase's end comes first anyway).
const RETRY_AFTER_MAX: Duration = Duration::from_secs(10);
/// Waited before resending after a `429`/`503` without `Retry-After` (a
/// violation, but the client still must not hammer).
const RETRY_WITHOUT_HEADER: Duration = Duration::from_secs(1);

static PASS_HEADER: hyper::header::HeaderName = hyper::header::HeaderName::from_static("stampede-pass");

/// The waiting room's routes, when the sale has one.
struct Room {
    join_uri: Uri,
    me_uri: Uri,
    join_body: Bytes,
}

/// Everything the clients share.
struct Plan {
    target: Arc<Target>,
    room: Option<Room>,
    holds_uri: Uri,
    body: Bytes,
    users: Vec<VUser>,
    /// When the first phase started: `ok_per_s[i]` counts the holds answered
    /// in the `i`-th second since.
    origin: Instant,
    ok_per_s: Vec<AtomicU64>,
}

impl Plan {
    fn count_ok(&self) {
        let second = self.origin.elapsed().as_secs() as usize;
        if let Some(slot) = self.ok_per_s.get(second) {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn ok_in_second(&self, second: usize) -> u64 {
        self.ok_per_s.get(second).map_or(0, |n| n.load(Ordering::Relaxed))
    }
}

/// What the clients of one phase saw.
struct Phase {
    name: &'static str,
    clients: usize,
    started_s: usize,
    seconds: usize,
    /// Latency of admitted requests (answered 201 or 409).
    admitted: Histogram<u64>,
    held_units: u64,
    refused: u64,
    shed: u64,
    shed_without_retry_after: u64,
    /// Any other answer, by status or failure: each is a violation.
    other: BTreeMap<String, u64>,
}

impl Phase {
    fn new(name: &'static str, clients: usize, started_s: usize, seconds: usize) -> Result<Phase, BenchError> {
        Ok(Phase {
            name,
            clients,
            started_s,
            seconds,
            admitted: Histogram::new(3).map_err(|e| BenchError::Internal(format!("histogram: {e}")))?,
            held_units: 0,
            refused: 0,
            shed: 0,
            shed_without_retry_after: 0,
            other: BTreeMap::new(),
        })
    }

    fn merge(&mut self, c: Phase) -> Result<(), BenchError> {
        self.admitted.add(&c.admitted).map_err(|e| BenchError::Internal(format!("histogram merge: {e:?}")))?;
        self.held_units += c.held_units;
        self.refused += c.refused;
        self.shed += c.shed;
        self.shed_without_retry_after += c.shed_without_retry_after;
        for (k, n) in c.other {
            *self.other.entry(k).or_default() += n;
        }
        Ok(())
    }

    /// `record` grows the auto-resizing histogram; `saturating_record` alone
    /// would clamp to its current (small) range.
    fn admit(&mut self, micros: u64) {
        let micros = micros.max(1);
        if self.admitted.record(micros).is_err() {
            self.admitted.saturating_record(micros);
        }
    }

    fn p99_ms(&self) -> f64 {
        if self.admitted.is_empty() { 0.0 } else { self.admitted.value_at_quantile(0.99) as f64 / 1000.0 }
    }

    fn violations(&self) -> u64 {
        self.shed_without_retry_after + self.other.values().sum::<u64>()
    }

    /// The holds answered in each second of the phase.
    fn rates(&self, plan: &Plan) -> Vec<u64> {
        (self.started_s..self.started_s + self.seconds).map(|s| plan.ok_in_second(s)).collect()
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let normal = args.connections;
    let overload = normal.saturating_mul(args.overload_factor.max(1));
    super::raise_nofile(overload as u64 + super::FD_SPARE)?;
    let mut spec = super::stock::sale_spec(args, "stampede bench (overload)");
    let mut args = args.clone();
    if args.waiting_room {
        spec["waiting_room"] = serde_json::json!({
            "policy": "active",
            "active_max": normal,
            "pass_seconds": 3600,
            "pow_bits": 0,
            "places_per_address": 1_000_000,
        });
        // Every client is a person of their own: one place each.
        args.users = args.users.max(u32::try_from(overload).unwrap_or(u32::MAX));
    }
    let args = &args;
    let (mut api, users, sale) = provision(args, target.clone(), spec).await?;
    let duration = args.duration;
    let recovery = duration.max(RECOVERY_PHASE_MIN_S);
    let total_s = (2 * duration + recovery) as usize + 10;
    let room = match args.waiting_room {
        false => None,
        true => Some(Room {
            join_uri: target.uri(&format!("/api/sales/{}/queue/join", sale.id))?,
            me_uri: target.uri(&format!("/api/sales/{}/queue/me", sale.id))?,
            join_body: Bytes::from_static(b"{\"nonce\":0}"),
        }),
    };
    let plan = Arc::new(Plan {
        room,
        holds_uri: target.uri(&format!("/api/sales/{}/holds", sale.id))?,
        body: Bytes::from(format!("{{\"quantity\":{}}}", args.quantity)),
        users,
        target: target.clone(),
        origin: Instant::now(),
        ok_per_s: (0..total_s).map(|_| AtomicU64::new(0)).collect(),
    });

    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn(sample_rss(Api::new(target, args.admin_token.as_deref())?, sampling.clone()));
    let mut phases = Vec::new();
    let mut key_epoch = 0u64;
    for (name, clients, seconds) in
        [("normal", normal, duration), ("overload", overload, duration), ("recovery", normal, recovery)]
    {
        key_epoch += 1;
        let started_s = plan.origin.elapsed().as_secs() as usize;
        if !args.quiet {
            eprintln!("bench: overload: phase {name}, {clients} clients for {seconds} s");
        }
        let phase = run_phase(&plan, name, clients, started_s, seconds, key_epoch, args.quantity).await?;
        phases.push(phase);
    }
    sampling.store(false, Ordering::Relaxed);
    let rss_peak_kb = sampler.await.map_err(|e| BenchError::Internal(format!("rss sampler: {e}")))?;
    let state = api.sale(sale.id).await?;
    let stock = state.stock.ok_or_else(|| BenchError::Protocol {
        method: "GET".into(),
        path: format!("/api/sales/{}", sale.id),
        reason: "a stock sale without `stock`".into(),
    })?;

    let [normal, overload, recovery] =
        <[Phase; 3]>::try_from(phases).map_err(|_| BenchError::Internal("the overload run has three phases".into()))?;
    // The first second of a phase starts part way through: leave it out.
    let normal_rates = normal.rates(&plan);
    let normal_rate = median(normal_rates.iter().skip(1).copied().collect());
    let recovery_rates = recovery.rates(&plan);
    let settled = median(recovery_rates.iter().skip(recovery_rates.len() / 2).copied().collect());
    let recover_to = normal_rate.min(settled);
    let recovered_after_s =
        recovery_rates.iter().position(|&n| n as f64 >= RECOVERED_SHARE * recover_to as f64).map(|i| i + 1);

    let mut s = Summary { scenario: Scenario::Overload, sale_id: Some(sale.id), ..Summary::default() };
    s.connections = overload.clients;
    s.elapsed_s = overload.seconds as f64;
    let admitted = overload.admitted.len();
    s.ok = admitted - overload.refused.min(admitted);
    s.rejected = overload.refused + overload.shed;
    s.errors = overload.violations();
    s.requests = admitted + overload.shed + overload.other.values().sum::<u64>();
    s.rps = median(overload.rates(&plan).iter().skip(1).copied().collect()) as f64;
    let q = |h: &Histogram<u64>, quantile: f64| {
        if h.is_empty() { 0.0 } else { h.value_at_quantile(quantile) as f64 / 1000.0 }
    };
    s.p50_ms = q(&overload.admitted, 0.5);
    s.p90_ms = q(&overload.admitted, 0.9);
    s.p99_ms = q(&overload.admitted, 0.99);
    s.p999_ms = q(&overload.admitted, 0.999);
    s.max_ms = if overload.admitted.is_empty() { 0.0 } else { overload.admitted.max() as f64 / 1000.0 };
    for phase in [&normal, &overload, &recovery] {
        for (k, n) in &phase.other {
            *s.statuses.entry(format!("{}:{k}", phase.name)).or_default() += n;
        }
        if phase.shed_without_retry_after > 0 {
            s.notes.push(format!(
                "{}: {} answers of 429/503 without Retry-After",
                phase.name, phase.shed_without_retry_after
            ));
        }
        if !phase.other.is_empty() {
            s.notes.push(format!("{}: answers other than 201, 409, 429 or 503: {:?}", phase.name, phase.other));
        }
        s.violations += phase.violations();
    }
    match recovered_after_s {
        Some(after) if after <= RECOVERY_MAX_S => {}
        _ => {
            s.violations += 1;
            s.notes.push(format!(
                "the rate did not come back to {:.0} % of {recover_to}/s within {RECOVERY_MAX_S} s \
                 after the overload stopped: {recovery_rates:?}",
                RECOVERED_SHARE * 100.0
            ));
        }
    }
    if settled * 2 < normal_rate {
        s.violations += 1;
        s.notes
            .push(format!("after the overload the rate settled at {settled}/s, under half the normal {normal_rate}/s"));
    }
    if let Some(ceiling_mb) = args.rss_ceiling_mb
        && rss_peak_kb.is_some_and(|kb| kb > ceiling_mb * 1024)
    {
        s.violations += 1;
        s.notes.push(format!("the server's memory peaked over the ceiling of {ceiling_mb} MB"));
    }
    let acked: u64 = normal.held_units + overload.held_units + recovery.held_units;
    if stock.held + stock.sold + stock.available != stock.total || stock.held + stock.sold > stock.total {
        s.oversold += (stock.held + stock.sold).saturating_sub(stock.total).max(1);
        s.notes.push(format!(
            "server counts do not add up: held {} + sold {} + available {} against total {}",
            stock.held, stock.sold, stock.available, stock.total
        ));
    }
    if acked > stock.held + stock.sold {
        s.violations += 1;
        s.notes.push(format!(
            "acknowledged {acked} units but the server has only {} held or sold",
            stock.held + stock.sold
        ));
    }
    s.notes.push(format!(
        "normal {} clients: {normal_rate} holds/s, p99 {:.1} ms; overload {} clients: {:.0} holds/s, p99 {:.1} ms, \
         {} shed; recovery {} clients: {:?} holds/s per second",
        normal.clients,
        normal.p99_ms(),
        overload.clients,
        s.rps,
        overload.p99_ms(),
        overload.shed,
        recovery.clients,
        recovery_rates
    ));
    s.extra.extend([
        ("sale".into(), sale.id.to_string()),
        ("normal_clients".into(), normal.clients.to_string()),
        ("normal_rps".into(), normal_rate.to_string()),
        ("normal_p99_ms".into(), format!("{:.3}", normal.p99_ms())),
        ("overload_clients".into(), overload.clients.to_string()),
        ("overload_shed".into(), overload.shed.to_string()),
        ("overload_p99_ms".into(), format!("{:.3}", overload.p99_ms())),
        ("recovery_p99_ms".into(), format!("{:.3}", recovery.p99_ms())),
        ("recovery_settled_rps".into(), settled.to_string()),
        ("recovered_after_s".into(), recovered_after_s.map_or_else(|| "never".into(), |s| s.to_string())),
        ("rss_peak_mb".into(), rss_peak_kb.map_or_else(|| "?".into(), |kb| format!("{:.0}", kb as f64 / 1024.0))),
        ("acked_qty".into(), acked.to_string()),
    ]);
    Ok(s)
}

/// Reads the server's resident memory until told to stop; the peak seen.
async fn sample_rss(mut api: Api, sampling: Arc<AtomicBool>) -> Option<u64> {
    let mut peak = None;
    while sampling.load(Ordering::Relaxed) {
        if let Ok(stats) = api.admin_stats().await
            && let Some(kb) = stats.rss_kb
        {
            peak = Some(peak.map_or(kb, |p: u64| p.max(kb)));
        }
        tokio::time::sleep(RSS_SAMPLE_EVERY).await;
    }
    peak
}

async fn run_phase(
    plan: &Arc<Plan>,
    name: &'static str,
    clients: usize,
    started_s: usize,
    seconds: u64,
    epoch: u64,
    quantity: u32,
) -> Result<Phase, BenchError> {
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for conn in 0..clients {
        let plan = plan.clone();
        tasks.spawn(async move { client(plan, name, conn, epoch, until, quantity).await });
    }
    let mut phase = Phase::new(name, clients, started_s, seconds as usize)?;
    while let Some(joined) = tasks.join_next().await {
        let counts = joined.map_err(|e| BenchError::Internal(format!("overload client: {e}")))??;
        phase.merge(counts)?;
    }
    Ok(phase)
}

/// Where a client stands.
enum Step {
    /// To join the waiting room.
    Join,
    /// In line: asking `queue/me` for a pass.
    Wait,
    /// Holding, with the pass when the sale has a waiting room.
    Hold(Option<HeaderValue>),
}

/// One client: holds back to back until `until`, each resent with the same
/// key after a shed answer's `Retry-After` or a lost answer (with a waiting
/// room, first the join and the wait for a pass).
async fn client(
    plan: Arc<Plan>,
    name: &'static str,
    conn: usize,
    epoch: u64,
    until: Instant,
    quantity: u32,
) -> Result<Phase, BenchError> {
    let mut seen = Phase::new(name, 1, 0, 0)?;
    let user = &plan.users[conn % plan.users.len().max(1)];
    let mut link = Link::new(plan.target.clone());
    // Unique per phase and client, so a key is never reused with another hold.
    let key_base = (epoch << 56) | ((conn as u64) << 32);
    let mut seq = 0u64;
    // Without a waiting room everyone holds at once; with one, a person
    // joins, then waits for a pass.
    let mut step = if plan.room.is_some() { Step::Join } else { Step::Hold(None) };
    'holds: while Instant::now() < until {
        seq += 1;
        let key = HeaderValue::from(key_base | seq);
        loop {
            let req = match (&step, &plan.room) {
                (Step::Join, Some(room)) => http::request(
                    &plan.target,
                    Method::POST,
                    room.join_uri.clone(),
                    Some(&user.auth),
                    None,
                    Some(room.join_body.clone()),
                ),
                (Step::Wait, Some(room)) => {
                    http::request(&plan.target, Method::GET, room.me_uri.clone(), Some(&user.auth), None, None)
                }
                (Step::Hold(pass), _) => {
                    let mut req = http::request(
                        &plan.target,
                        Method::POST,
                        plan.holds_uri.clone(),
                        Some(&user.auth),
                        Some(key.clone()),
                        Some(plan.body.clone()),
                    );
                    if let Some(pass) = pass {
                        req.headers_mut().insert(PASS_HEADER.clone(), pass.clone());
                    }
                    req
                }
                (Step::Join | Step::Wait, None) => return Err(BenchError::Internal("waiting without a room".into())),
            };
            match link.send(req, until + GRACE).await {
                Attempt::Response { status: StatusCode::CREATED, micros, .. } if matches!(step, Step::Hold(_)) => {
                    seen.admit(micros);
                    seen.held_units += u64::from(quantity);
                    plan.count_ok();
                    break;
                }
                Attempt::Response { status: StatusCode::OK, micros, .. } if matches!(step, Step::Join) => {
                    seen.admit(micros);
                    step = Step::Wait;
                    break;
                }
                Attempt::Response { status: StatusCode::OK, micros, body, .. } if matches!(step, Step::Wait) => {
                    seen.admit(micros);
                    match serde_json::from_slice::<QueueTicket>(&body) {
                        Ok(ticket) => {
                            if let Some(pass) = ticket.pass.and_then(|p| HeaderValue::try_from(p).ok()) {
                                step = Step::Hold(Some(pass));
                            }
                        }
                        Err(_) => *seen.other.entry("unparsable queue/me".into()).or_default() += 1,
                    }
                    break;
                }
                Attempt::Response { status: StatusCode::CONFLICT, micros, .. } if matches!(step, Step::Hold(_)) => {
                    seen.admit(micros);
                    seen.refused += 1;
                    break;
                }
                // A pass that expired or was used up: back to waiting.
                Attempt::Response { status: StatusCode::FORBIDDEN, micros, .. }
                    if matches!(step, Step::Hold(Some(_))) =>
                {
                    seen.admit(micros);
                    seen.refused += 1;
                    step = Step::Wait;
                    break;
                }
                Attempt::Response { status, retry_after, .. }
                    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS =>
                {
                    seen.shed += 1;
                    let asked = match retry_after {
                        Some(asked) => asked.min(RETRY_AFTER_MAX),
                        None => {
                            seen.shed_without_retry_after += 1;
                            RETRY_WITHOUT_HEADER
                        }
                    };
                    // At least what was asked, spread by up to half again, as
                    // real clients are: shed together, they must not all
                    // come back in the same instant.
                    let wait = asked + asked * ((conn as u64 + seq) % 8) as u32 / 16;
                    if Instant::now() + wait >= until {
                        break 'holds;
                    }
                    sleep_until(Instant::now() + wait).await;
                }
                Attempt::Response { status, .. } => {
                    *seen.other.entry(status.as_u16().to_string()).or_default() += 1;
                    break;
                }
                Attempt::Timeout => {
                    *seen.other.entry("timeout".into()).or_default() += 1;
                    break 'holds;
                }
                failed @ (Attempt::Connect(_) | Attempt::Transport(_)) => {
                    let kind = if matches!(failed, Attempt::Connect(_)) { "connect" } else { "transport" };
                    *seen.other.entry(kind.into()).or_default() += 1;
                    // Already a violation; pausing keeps a dead server from
                    // turning this client into a busy loop.
                    if Instant::now() + RETRY_WITHOUT_HEADER >= until {
                        break 'holds;
                    }
                    sleep_until(Instant::now() + RETRY_WITHOUT_HEADER).await;
                }
            }
        }
    }
    Ok(seen)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_the_rates() {
        assert_eq!(median(vec![]), 0);
        assert_eq!(median(vec![5, 1, 9]), 5);
        assert_eq!(median(vec![4, 1, 9, 7]), 7);
    }

    #[test]
    fn shed_answers_without_retry_after_and_other_statuses_are_violations() {
        let mut p = Phase::new("overload", 1, 0, 0).unwrap();
        p.shed = 10;
        assert_eq!(p.violations(), 0);
        p.shed_without_retry_after = 2;
        p.other.insert("500".into(), 1);
        assert_eq!(p.violations(), 3);
    }
}
