//! The seats scenario: a reserved-seating rush on a 50,000-seat venue, watched
//! live on the seat map.
//!
//! 1. Bulk users (`--users`, default 20,000) and a seated sale: 40 sections of
//!    25 rows of 50 seats in three price tiers, at most 4 seats per person and
//!    per hold, holds kept 600 s (longer than the run: no hold expires). The
//!    seat numbering is read back from `GET venue`.
//! 2. `--viewers` WebSockets on `seats/ws`, all holding their first snapshot
//!    before the rush. Each keeps its own bitset ([`ViewerMap`](crate::seatmap::ViewerMap)): deltas must
//!    continue the last `seq` by one (a skipped viewer gets a snapshot with a
//!    larger `seq` instead), and after each message the map's free counts must
//!    match the message's. It notes when each seat's taken bit first arrived.
//! 3. The rush: the users over `--connections` keep-alive connections, each
//!    connection serving its users one after another. Every user holds 2-4
//!    seats once (a pure function of its index, see [`plan::plan`]): half ask for
//!    the best available (in a section, by index or name, in a price tier, or
//!    anywhere), half name adjacent seats in a random row, `--hot-percent` of
//!    those in the middle of the front rows of the first sections, where the
//!    best-available holds land too, so they collide. `409 seats-taken` (a
//!    collision) and `409 no-adjacent-seats` are correct refusals; after a
//!    collision the user tries once more, best available in the same section.
//!    `--confirm-percent` of the acknowledged holds are then confirmed. A
//!    command without an answer (or `503`) is retried ([`crate::retry`]) with
//!    the same idempotency key.
//! 4. The server's counts (`GET sale`) and map (`GET seats`, once it shows
//!    what the counts do), every viewer given a moment to reach that map's
//!    `seq`, then the sockets close.
//!
//! Checks: `double_sold` ([`double_sold`](crate::seatmap::double_sold) over every acknowledged answer),
//! `oversold` (acknowledged seats beyond the venue, plus the difference
//! between the server's `held + sold` and the acknowledged seats),
//! `server_vs_acked` (seats where the server's map and the acknowledged holds
//! disagree), `map_mismatch` (viewers whose final map is not the server's),
//! `wrong_seats` (answers whose seats are not what was asked for: not the
//! seats named, not adjacent in one row of the asked-for area, or a
//! confirmation with other seats). Measured: `holds_per_s` (acknowledged holds
//! per second of the rush) and `delta_p50_ms` / `delta_p99_ms`: for every
//! viewer and acknowledged hold, the time from the bench receiving the `201`
//! to that viewer receiving the hold's seats (0 when they arrived first), on
//! one monotonic clock.
//!
//! The parts: [`plan`] (the venue and what each user asks for), [`client`]
//! (the rush over HTTP), [`viewers`] (the seat-map WebSockets), [`check`]
//! (answers against requests, acknowledgements against the server and the
//! viewers, and the summary). This module runs them in order.

mod check;
mod client;
mod plan;
mod viewers;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep};

use self::check::{Checked, conclude};
use self::client::{Rush, rush_task};
use self::plan::{Venue, sale_spec};
use self::viewers::{VIEWER_MESSAGE_MAX, Watch, viewer};
use super::{FD_SPARE, drive, provision_users, raise_nofile};
use crate::error::BenchError;
use crate::http::Target;
use crate::seatmap::{Frame, snapshot_bits};
use crate::stats::Live;
use crate::ws::Connector;
use crate::{BenchArgs, Summary};

/// `--users` when not given.
pub(super) const USERS_DEFAULT: u32 = 20_000;
/// Least time allowed for the rush (it ends as soon as every user is done).
const RUSH_MIN: Duration = Duration::from_secs(60);
/// How long the viewers may take to open and get their first snapshot.
const OPEN_LIMIT: Duration = Duration::from_secs(30);
/// How long the server's map and the viewers get to catch up after the rush.
const FINAL_GRACE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(20);
/// Most notes of one kind in the report.
pub(super) const NOTES_MAX: usize = 5;

pub(super) fn validate(args: &BenchArgs) -> Result<(), BenchError> {
    let bad = |msg: &str| Err(BenchError::InvalidArgs(msg.to_owned()));
    if args.confirm_percent > 100 {
        return bad("--confirm-percent must be 0..=100");
    }
    if args.hot_percent > 100 {
        return bad("--hot-percent must be 0..=100");
    }
    if args.viewers > 100_000 {
        return bad("--viewers must be 0..=100000");
    }
    if args.ws_sources == 0 {
        return bad("--ws-sources must be 1..=255");
    }
    if !(1..=100_000).contains(&args.ws_concurrency) {
        return bad("--ws-concurrency must be 1..=100000");
    }
    if args.acked_out.is_some() {
        return bad("--acked-out is not supported by the seats scenario (--verify-acked reads stock holds)");
    }
    Ok(())
}

/// Microseconds since `epoch`: the one monotonic clock on which the rush's
/// acknowledgements and the viewers' arrivals are compared.
fn micros_since(epoch: std::time::Instant) -> u32 {
    u32::try_from(epoch.elapsed().as_micros()).unwrap_or(u32::MAX - 1)
}

pub(crate) async fn run(args: &BenchArgs, target: Arc<Target>) -> Result<Summary, BenchError> {
    let users_n = args.users as usize;
    let connections = args.connections.min(users_n).max(1);
    raise_nofile(args.viewers as u64 + connections as u64 + FD_SPARE)?;
    let (mut api, users) = provision_users(args, target.clone()).await?;
    let sale = api.create_open_sale(sale_spec()).await?;
    let layout = api.venue(sale.id).await?;
    let venue = Venue::from_layout(layout).map_err(|reason| BenchError::Protocol {
        method: "GET".into(),
        path: target.path(&format!("/api/sales/{}/venue", sale.id)),
        reason,
    })?;
    let total = venue.seats();
    if sale.seated.is_none_or(|s| s.total != u64::from(total)) {
        return Err(BenchError::Protocol {
            method: "POST".into(),
            path: target.path("/api/sales"),
            reason: format!("the sale's seated.total is not the venue's {total} seats: {:?}", sale.seated),
        });
    }
    eprintln!("bench: sale {} created and open: {total} seats in {} sections", sale.id, venue.sections.len());
    let venue = Arc::new(venue);
    let epoch = std::time::Instant::now();

    // The viewers.
    let watch_path = format!("/api/sales/{}/seats/ws", sale.id);
    let w = Arc::new(Watch {
        connector: Connector::new(&target, &watch_path, args.ws_sources).message_max(VIEWER_MESSAGE_MAX),
        numbering: Arc::new(venue.numbering.clone()),
        epoch,
        gate: Semaphore::new(args.ws_concurrency),
        seen: (0..args.viewers).map(|_| AtomicU64::new(0)).collect(),
        attempted: AtomicUsize::new(0),
        open: AtomicUsize::new(0),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let viewers: Vec<_> = (0..args.viewers).map(|k| tokio::spawn(viewer(w.clone(), k, stop_rx.clone()))).collect();
    let open_by = started + OPEN_LIMIT;
    while Instant::now() < open_by
        && (w.attempted.load(Ordering::Acquire) < args.viewers
            || w.seen.iter().filter(|s| s.load(Ordering::Acquire) > 0).count() < w.open.load(Ordering::Acquire))
    {
        sleep(POLL).await;
    }
    let ready = w.seen.iter().filter(|s| s.load(Ordering::Acquire) > 0).count();
    eprintln!(
        "bench: {ready}/{} viewers watching the seat map after {:.1} s",
        args.viewers,
        started.elapsed().as_secs_f64()
    );

    // The rush.
    let live = Arc::new(Live::default());
    let rush = Arc::new(Rush {
        holds_uri: target.uri(&format!("/api/sales/{}/seats/holds", sale.id))?,
        confirm_prefix: target.path(&format!("/api/sales/{}/seats/holds/", sale.id)),
        target: target.clone(),
        live: live.clone(),
        users,
        connections,
        venue: venue.clone(),
        hot_percent: args.hot_percent,
        confirm_percent: args.confirm_percent,
        epoch,
    });
    let rush_args = BenchArgs { duration: args.duration.max(RUSH_MIN.as_secs()), ..args.clone() };
    let driven = drive(&rush_args, connections, live, |conn, deadline| rush_task(rush.clone(), conn, deadline)).await;
    drop(rush);
    let driven = match driven {
        Ok(d) => d,
        Err(e) => {
            let _ = stop_tx.send(true);
            return Err(e);
        }
    };
    eprintln!("bench: rush done in {:.2} s", driven.elapsed_s);

    // The server's counts, then its map once it shows them, then the viewers.
    let state = api.sale(sale.id).await?;
    let seated = state.seated.ok_or_else(|| BenchError::Protocol {
        method: "GET".into(),
        path: target.path(&format!("/api/sales/{}", sale.id)),
        reason: "a seated sale without `seated`".into(),
    })?;
    let map_path = target.path(&format!("/api/sales/{}/seats", sale.id));
    let protocol = |reason: String| BenchError::Protocol { method: "GET".into(), path: map_path.clone(), reason };
    let grace = Instant::now() + FINAL_GRACE;
    let (server_frame, server_bits) = loop {
        let text = api.seat_map(sale.id).await?;
        let frame = Frame::parse(&String::from_utf8_lossy(&text)).map_err(&protocol)?;
        let bits = snapshot_bits(&frame, &venue.numbering).map_err(&protocol)?;
        let taken: u64 = bits.iter().map(|b| u64::from(b.count_ones())).sum();
        if taken == seated.held + seated.sold || Instant::now() >= grace {
            break (frame, bits);
        }
        sleep(POLL).await;
    };
    let grace = Instant::now() + FINAL_GRACE;
    let behind =
        |w: &Watch| w.seen.iter().filter(|s| (1..=server_frame.seq).contains(&s.load(Ordering::Acquire))).count();
    while Instant::now() < grace && behind(&w) > 0 {
        sleep(POLL).await;
    }
    let _ = stop_tx.send(true);
    let mut reports = Vec::with_capacity(viewers.len());
    for v in viewers {
        reports.push(v.await.map_err(|e| BenchError::Internal(format!("viewer task: {e}")))?);
    }

    let input = Checked {
        total,
        seated,
        server_frame: &server_frame,
        server_bits: &server_bits,
        viewers: &reports,
        elapsed_s: driven.elapsed_s,
        connections,
    };
    let server_cpu = driven.server_cpu();
    let mut s = conclude(&input, driven.totals, &driven.per_conn)?;
    s.server_cpu = server_cpu;
    s.sale_id = Some(sale.id);
    s.extra.push(("sale".into(), sale.id.to_string()));
    Ok(s)
}
