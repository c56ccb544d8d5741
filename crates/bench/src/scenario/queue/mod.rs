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
//! commitment) and `missed_updates` ([`count_missed`](crate::room::count_missed)).
//!
//! The parts: [`plan`] (the sale and its numbers), [`client`] (what the
//! people share, the join burst and the HTTP jobs), [`person`] (one person's
//! WebSocket and what it does on each message), [`check`] (what the people
//! saw and were acknowledged against the server, and the summary). This
//! module runs the phases in order.

mod check;
mod client;
mod person;
mod plan;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep};

use self::check::{Checked, check_counts, conclude};
use self::client::{Ctx, Person, join_worker};
use self::person::Client;
use self::plan::PHASE_MIN;
use super::{FD_SPARE, ack_sender, ack_writer, provision_users, raise_nofile};
use crate::api::Api;
use crate::error::BenchError;
use crate::http::Target;
use crate::pool::Pool;
use crate::progress::Progress;
use crate::room::hex32;
use crate::stats::Live;
use crate::ws::Connector;
use crate::{BenchArgs, Summary, pow};

/// How long connected clients get to receive the final message.
const FINAL_GRACE: Duration = Duration::from_secs(3);
/// How often the coordinator looks at the shared counters.
const POLL: Duration = Duration::from_millis(20);

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

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let users_n = args.users as usize;
    let connections = args.connections.min(users_n).max(1);
    let fd_limit = raise_nofile(u64::from(args.users) + connections as u64 + FD_SPARE)?;
    let stock = plan::stock(args);
    let writer = ack_writer(args)?;
    let (mut api, users) = provision_users(args, target.clone()).await?;
    let spec = plan::sale_spec(args, stock);
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
        open_failure: OnceLock::new(),
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
        tasks.push(tokio::spawn(Client::new(ctx.clone(), i).run(stop_rx.clone())));
    }
    while ctx.attempted.load(Ordering::Acquire) < users_n {
        sleep(POLL).await;
    }
    let open_s = started.elapsed().as_secs_f64();
    let connected = ctx.people.iter().filter(|p| p.open.load(Ordering::Acquire)).count();
    if let Some(failure) = ctx.open_failure.get() {
        let _ = stop_tx.send(true);
        let server = api.admin_stats().await.ok();
        let limit = server.and_then(|s| s.open_files_limit).map_or_else(|| "unknown".into(), |l| l.to_string());
        return Err(BenchError::CannotOpen(format!(
            "only {connected} of {users_n} websockets opened in {open_s:.1} s (first failure: {failure}). \
             The run needs {users_n} websockets and {} connections open at once: check the server's \
             --max-connections (by default its open-file limit, here {limit}, less a reserve) and both \
             processes' open-file limits, or lower --users",
            ctx.connections
        )));
    }
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
    let admission = plan::admission(args, users_n);
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
    check_counts(&mut s, &state)?;
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::Scenario;

    #[test]
    fn validation() {
        let ok = BenchArgs { scenario: Scenario::Queue, admin_token: Some("t".into()), ..BenchArgs::default() };
        assert!(validate(&ok).is_ok());
        assert!(validate(&BenchArgs { chunk_seconds: 3601.0, ..ok.clone() }).is_err());
        assert!(validate(&BenchArgs { chunk_size: 1_000_001, ..ok.clone() }).is_err());
        assert!(validate(&BenchArgs { queue_stock: Some(100_000_001), ..ok }).is_err());
    }
}
