//! The seats scenario: a reserved-seating rush on a 50,000-seat venue, watched
//! live on the seat map.
//!
//! 1. Bulk users (`--users`, default 20,000) and a seated sale: 40 sections of
//!    25 rows of 50 seats in three price tiers, at most 4 seats per person and
//!    per hold, holds kept 600 s (longer than the run: no hold expires). The
//!    seat numbering is read back from `GET venue`.
//! 2. `--viewers` WebSockets on `seats/ws`, all holding their first snapshot
//!    before the rush. Each keeps its own bitset ([`ViewerMap`]): deltas must
//!    continue the last `seq` by one (a skipped viewer gets a snapshot with a
//!    larger `seq` instead), and after each message the map's free counts must
//!    match the message's. It notes when each seat's taken bit first arrived.
//! 3. The rush: the users over `--connections` keep-alive connections, each
//!    connection serving its users one after another. Every user holds 2-4
//!    seats once (a pure function of its index, see [`plan`]): half ask for
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
//! Checks: `double_sold` ([`double_sold`] over every acknowledged answer),
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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode, Uri};
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

use super::queue::{FD_SPARE, raise_nofile};
use super::{GRACE, drive, provision_users, summary, user_indices};
use crate::api::{VUser, VenueLayout, problem_type};
use crate::error::BenchError;
use crate::http::{self, Link, Target};
use crate::retry::{self, Answer, AnswerBy, Judged, Retry, Sent, Via};
use crate::seatmap::{Frame, Numbering, ViewerMap, bit, bits_differ, bitset_of, double_sold, snapshot_bits};
use crate::stats::{Class, ConnStats, Live};
use crate::ws::Connector;
use crate::{BenchArgs, Scenario, Summary};

/// `--users` when not given.
pub(super) const USERS_DEFAULT: u32 = 20_000;
/// The venue: sections of rows of seats (40 × 25 × 50 = 50,000 seats).
const SECTIONS: u32 = 40;
const ROWS: u32 = 25;
const SEATS_PER_ROW: u32 = 50;
/// Most seats per person and per hold.
const PER_PERSON: u32 = 4;
/// Longer than any run: no acknowledged hold expires during it.
const HOLD_SECONDS: u64 = 600;
/// Least time allowed for the rush (it ends as soon as every user is done).
const RUSH_MIN: Duration = Duration::from_secs(60);
/// Largest seat map message accepted (a delta of a whole burst can be large).
const VIEWER_MESSAGE_MAX: usize = 4 << 20;
/// How long the viewers may take to open and get their first snapshot.
const OPEN_LIMIT: Duration = Duration::from_secs(30);
/// How long the server's map and the viewers get to catch up after the rush.
const FINAL_GRACE: Duration = Duration::from_secs(3);
const CLOSE_LIMIT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(20);
/// The hot area: the middle `HOT_WIDTH` seats of the first `HOT_ROWS` rows
/// of the first `HOT_SECTIONS` sections.
const HOT_SECTIONS: usize = 4;
const HOT_ROWS: usize = 2;
const HOT_WIDTH: u32 = 12;
/// Most notes of one kind in the report.
const NOTES_MAX: usize = 5;

static HOLD_KEY: HeaderValue = HeaderValue::from_static("bench-seats-hold");
static RETRY_KEY: HeaderValue = HeaderValue::from_static("bench-seats-retry");
static CONFIRM_KEY: HeaderValue = HeaderValue::from_static("bench-seats-confirm");

const SEATS_TAKEN: &str = "/problems/seats-taken";
const NO_ADJACENT: &str = "/problems/no-adjacent-seats";
/// Refusals that are a correct answer to a hold under load.
const HOLD_REFUSALS: [&str; 4] = [SEATS_TAKEN, NO_ADJACENT, "/problems/limit-reached", "/problems/sold-out"];

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

/// `POST /api/sales` for the venue: tiers VIP (the first 8 sections, nearest
/// the stage), R (the next 16) and S (the last 16).
fn sale_spec() -> serde_json::Value {
    let sections: Vec<serde_json::Value> = (0..SECTIONS)
        .map(|i| {
            let (tier, price, colour) = match i {
                0..8 => ("VIP", 200_000, "#cc3333"),
                8..24 => ("R", 120_000, "#3366cc"),
                _ => ("S", 80_000, "#33aa55"),
            };
            serde_json::json!({
                "name": format!("S{i}"),
                "tier": tier,
                "price": price,
                "colour": colour,
                "rows": ROWS,
                "seats_per_row": SEATS_PER_ROW,
                "x": (i % 8) as i32 * 600,
                "y": (i / 8) as i32 * 350,
                "curve_degrees": 0.0,
                "spacing": 10,
            })
        })
        .collect();
    serde_json::json!({
        "kind": "seated",
        "title": "stampede bench (seats)",
        "description": "",
        "currency": "KRW",
        "seated": {
            "generate": {"name": "Stadium", "sections": sections},
            "per_person_limit": PER_PERSON,
            "seats_per_hold_max": PER_PERSON,
            "hold_seconds": HOLD_SECONDS,
        },
    })
}

// ---------------------------------------------------------------- the venue

/// One section as the bench uses it.
#[derive(Debug, Clone)]
struct Section {
    index: u16,
    name: String,
    tier: String,
    /// `(first seat, seats)` of each row, front first.
    rows: Vec<(u32, u32)>,
}

/// The venue's numbering, from `GET venue`.
#[derive(Debug, Clone)]
struct Venue {
    numbering: Numbering,
    sections: Vec<Section>,
    tiers: Vec<String>,
}

impl Venue {
    /// Checks that sections and rows number the seats `0..seats` in order,
    /// without gaps, as the seat map's bitset assumes.
    fn from_layout(layout: VenueLayout) -> Result<Venue, String> {
        let mut next = 0u32;
        let mut sections = Vec::with_capacity(layout.sections.len());
        let mut starts = Vec::with_capacity(layout.sections.len());
        let mut tiers: Vec<String> = Vec::new();
        for (i, s) in layout.sections.into_iter().enumerate() {
            if usize::from(s.index) != i || s.first_seat != next {
                return Err(format!(
                    "section {} ({}) starts at seat {}, expected {next}",
                    s.index, s.name, s.first_seat
                ));
            }
            starts.push(next);
            let mut rows = Vec::with_capacity(s.rows.len());
            for r in s.rows {
                if r.first_seat != next {
                    return Err(format!(
                        "a row of section {} starts at seat {}, expected {next}",
                        s.name, r.first_seat
                    ));
                }
                rows.push((r.first_seat, r.len));
                next += r.len;
            }
            if !tiers.contains(&s.tier) {
                tiers.push(s.tier.clone());
            }
            sections.push(Section { index: s.index, name: s.name, tier: s.tier, rows });
        }
        if next != layout.seats || sections.is_empty() {
            return Err(format!("the rows hold {next} seats, the venue says {}", layout.seats));
        }
        Ok(Venue { numbering: Numbering::new(layout.seats, &starts), sections, tiers })
    }

    fn seats(&self) -> u32 {
        self.numbering.seats
    }

    /// `(section, row)` of a seat.
    fn place(&self, seat: u32) -> Option<(usize, usize)> {
        if seat >= self.seats() {
            return None;
        }
        let s = self.numbering.section_of(seat);
        let rows = &self.sections[s].rows;
        let r = rows.partition_point(|&(first, _)| first <= seat).checked_sub(1)?;
        Some((s, r))
    }
}

// ---------------------------------------------------------------- what users do

/// Where best-available looks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Area {
    Any,
    Section(u16),
    SectionName(String),
    Tier(String),
}

/// What a user asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pick {
    Best(Area),
    /// Adjacent seats of one row of `section`.
    Seats {
        section: usize,
        seats: Vec<u32>,
        hot: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct UserPlan {
    count: u32,
    pick: Pick,
    confirm: bool,
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5eed_5eed_5eed_5eed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn percent(&mut self, p: u8) -> bool {
        self.below(100) < u64::from(p)
    }
}

/// What user number `user` does: a pure function of its index.
fn plan(user: usize, venue: &Venue, hot_percent: u8, confirm_percent: u8) -> UserPlan {
    let mut r = Rng::new(user as u64);
    let count = 2 + r.below(3) as u32;
    let confirm = r.percent(confirm_percent);
    let n = venue.sections.len() as u64;
    let best = r.below(2) == 0;
    let area = if best {
        match r.below(3) {
            0 => {
                let s = &venue.sections[r.below(n) as usize];
                if r.below(2) == 0 { Area::Section(s.index) } else { Area::SectionName(s.name.clone()) }
            }
            1 => Area::Tier(venue.tiers[r.below(venue.tiers.len() as u64) as usize].clone()),
            _ => Area::Any,
        }
    } else {
        let hot = r.percent(hot_percent);
        let section = if hot { r.below(n.min(HOT_SECTIONS as u64)) } else { r.below(n) } as usize;
        let rows = &venue.sections[section].rows;
        let row = if hot { r.below((rows.len() as u64).min(HOT_ROWS as u64)) } else { r.below(rows.len() as u64) };
        let (first, len) = rows[row as usize];
        if len < count {
            Area::Section(venue.sections[section].index)
        } else {
            // The window the group starts in: the whole row, or its middle.
            let (lo, hi) = if hot {
                let lo = (len / 2).saturating_sub(HOT_WIDTH / 2);
                let hi = (lo + HOT_WIDTH).min(len);
                if hi - lo >= count { (lo, hi) } else { (0, len) }
            } else {
                (0, len)
            };
            let start = lo + r.below(u64::from(hi - lo - count + 1)) as u32;
            let seats = (first + start..first + start + count).collect();
            return UserPlan { count, pick: Pick::Seats { section, seats, hot }, confirm };
        }
    };
    UserPlan { count, pick: Pick::Best(area), confirm }
}

/// The body of `POST seats/holds`.
fn hold_body(count: u32, pick: &Pick) -> Bytes {
    let body = match pick {
        Pick::Seats { seats, .. } => serde_json::json!({ "seats": seats }),
        Pick::Best(Area::Any) => serde_json::json!({ "best": { "count": count } }),
        Pick::Best(Area::Section(i)) => serde_json::json!({ "best": { "count": count, "section": i } }),
        Pick::Best(Area::SectionName(s)) => serde_json::json!({ "best": { "count": count, "section": s } }),
        Pick::Best(Area::Tier(t)) => serde_json::json!({ "best": { "count": count, "tier": t } }),
    };
    Bytes::from(body.to_string())
}

/// Checks the seats of a `201` against what was asked for.
fn check_seats(venue: &Venue, count: u32, pick: &Pick, seats: &[u32]) -> Result<(), String> {
    if seats.len() != count as usize {
        return Err(format!("asked for {count} seats, got {seats:?}"));
    }
    match pick {
        Pick::Seats { seats: asked, .. } => {
            let mut got = seats.to_vec();
            got.sort_unstable();
            if got != *asked {
                return Err(format!("asked for seats {asked:?}, got {seats:?}"));
            }
        }
        Pick::Best(area) => {
            let mut got = seats.to_vec();
            got.sort_unstable();
            if got.windows(2).any(|w| w[1] != w[0] + 1) {
                return Err(format!("best available gave seats that are not adjacent: {seats:?}"));
            }
            let (Some(first), Some(last)) = (venue.place(got[0]), venue.place(got[got.len() - 1])) else {
                return Err(format!("best available gave seats not in the venue: {seats:?}"));
            };
            if first != last {
                return Err(format!("best available gave seats across rows: {seats:?}"));
            }
            let section = &venue.sections[first.0];
            let inside = match area {
                Area::Any => true,
                Area::Section(i) => section.index == *i,
                Area::SectionName(n) => section.name == *n,
                Area::Tier(t) => section.tier == *t,
            };
            if !inside {
                return Err(format!("best available in {area:?} gave seats {seats:?} in section {}", section.name));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the rush

/// Everything the connection tasks share.
struct Rush {
    target: Arc<Target>,
    live: Arc<Live>,
    users: Vec<VUser>,
    connections: usize,
    venue: Arc<Venue>,
    holds_uri: Uri,
    /// `<base>/api/sales/{id}/seats/holds/`, to which `{hold}/confirm` is appended.
    confirm_prefix: String,
    hot_percent: u8,
    confirm_percent: u8,
    epoch: std::time::Instant,
}

/// An acknowledged hold.
#[derive(Debug, Clone)]
struct Acked {
    hold: u64,
    /// When the `201` was received (µs since the epoch).
    at_us: u32,
    seats: Vec<u32>,
    /// The seats of the `200` to the confirmation, if confirmed.
    confirmed: Option<Vec<u32>>,
}

/// What one connection's users got.
#[derive(Debug, Default)]
struct RushOut {
    acked: Vec<Acked>,
    /// First holds answered (201 or a refusal), and retries.
    asked: u64,
    collisions: u64,
    hot_collisions: u64,
    retries: u64,
    retries_held: u64,
    no_adjacent: u64,
    other_refusals: u64,
    /// Users whose command got no usable answer before the deadline.
    unresolved: u64,
    /// Users not started before the deadline.
    unstarted: u64,
    /// Answers that are not what was asked (wrong seats, status).
    wrong: u64,
    /// `201`/`200` bodies that could not be read.
    unparsable: u64,
    notes: Vec<String>,
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

fn micros_since(epoch: std::time::Instant) -> u32 {
    u32::try_from(epoch.elapsed().as_micros()).unwrap_or(u32::MAX - 1)
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

async fn rush_task(rush: Arc<Rush>, conn: usize, deadline: Instant) -> Result<(ConnStats, RushOut), BenchError> {
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

// ---------------------------------------------------------------- the viewers

/// Everything the viewer tasks share.
struct Watch {
    connector: Connector,
    numbering: Arc<Numbering>,
    epoch: std::time::Instant,
    gate: Semaphore,
    /// Per viewer: `seq + 1` of the last message applied; 0 before the first.
    seen: Vec<AtomicU64>,
    /// Viewers whose opening finished (open or failed).
    attempted: AtomicUsize,
    /// Viewers open now.
    open: AtomicUsize,
}

/// What one viewer saw.
#[derive(Debug)]
struct ViewerReport {
    map: ViewerMap,
    connected: bool,
    /// Why the socket ended before the run did.
    dropped: Option<String>,
    failure: Option<String>,
    messages: u64,
    /// Messages that broke the protocol (one each).
    protocol_errors: u64,
    first_error: Option<String>,
}

async fn viewer(w: Arc<Watch>, k: usize, mut stop: watch::Receiver<bool>) -> ViewerReport {
    let numbering = &*w.numbering;
    let mut r = ViewerReport {
        map: ViewerMap::new(numbering),
        connected: false,
        dropped: None,
        failure: None,
        messages: 0,
        protocol_errors: 0,
        first_error: None,
    };
    let opened = {
        let _permit = w.gate.acquire().await;
        w.connector.connect(k).await
    };
    w.attempted.fetch_add(1, Ordering::AcqRel);
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            r.failure = Some(format!("websocket: {e}"));
            return r;
        }
    };
    r.connected = true;
    w.open.fetch_add(1, Ordering::AcqRel);
    let stopped = loop {
        let msg = tokio::select! {
            _ = stop.changed() => break true,
            msg = ws.next() => msg,
        };
        match msg {
            Some(Ok(Message::Text(text))) => {
                let at = micros_since(w.epoch);
                r.messages += 1;
                let applied = Frame::parse(text.as_str()).and_then(|f| r.map.apply(&f, numbering, at));
                if let Err(e) = applied {
                    r.protocol_errors += 1;
                    r.first_error.get_or_insert(e);
                }
                if let Some(seq) = r.map.last_seq() {
                    w.seen[k].store(seq + 1, Ordering::Release);
                }
            }
            Some(Ok(Message::Close(_))) | None => {
                r.dropped = Some("closed by the server".into());
                break false;
            }
            // Pings are answered by tungstenite on the next read.
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                r.dropped = Some(e.to_string());
                break false;
            }
        }
    };
    w.open.fetch_sub(1, Ordering::AcqRel);
    if stopped {
        let _ = timeout(CLOSE_LIMIT, async {
            if ws.close(None).await.is_ok() {
                while let Some(Ok(_)) = ws.next().await {}
            }
        })
        .await;
    }
    r
}

// ---------------------------------------------------------------- the run

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
    let mut s = conclude(&input, driven.totals, &driven.per_conn)?;
    s.sale_id = Some(sale.id);
    s.extra.push(("sale".into(), sale.id.to_string()));
    Ok(s)
}

/// The inputs of [`conclude`] besides the rush's statistics.
struct Checked<'a> {
    total: u32,
    seated: crate::api::SeatedState,
    server_frame: &'a Frame,
    server_bits: &'a [u8],
    viewers: &'a [ViewerReport],
    elapsed_s: f64,
    connections: usize,
}

/// Delays from each acknowledgement to each viewer (µs), and the
/// (viewer, hold) pairs where the viewer never got the hold's seats.
fn delays(acked: &[&Acked], viewers: &[ViewerReport]) -> Result<(Histogram<u64>, u64), BenchError> {
    let mut hist = Histogram::<u64>::new(3).map_err(|e| BenchError::Internal(format!("histogram: {e}")))?;
    let mut missing = 0u64;
    for v in viewers.iter().filter(|v| v.connected && v.map.snapshots > 0) {
        for h in acked {
            let mut latest = Some(0u32);
            for &seat in &h.seats {
                latest = match (latest, v.map.arrived(seat)) {
                    (Some(l), Some(a)) => Some(l.max(a)),
                    _ => None,
                };
            }
            match latest {
                Some(t) => {
                    // `record` grows the auto-resizing histogram (`saturating_record` would clamp).
                    let delay = u64::from(t.saturating_sub(h.at_us));
                    if hist.record(delay).is_err() {
                        hist.saturating_record(delay);
                    }
                }
                None => missing += 1,
            }
        }
    }
    Ok((hist, missing))
}

fn conclude(c: &Checked<'_>, totals: crate::stats::Totals, outs: &[RushOut]) -> Result<Summary, BenchError> {
    let acked: Vec<&Acked> = outs.iter().flat_map(|o| &o.acked).collect();
    let sum = |f: fn(&RushOut) -> u64| outs.iter().map(f).sum::<u64>();
    let (collisions, hot_collisions, retries, retries_held) =
        (sum(|o| o.collisions), sum(|o| o.hot_collisions), sum(|o| o.retries), sum(|o| o.retries_held));
    let (no_adjacent, other_refusals, unresolved, unstarted) =
        (sum(|o| o.no_adjacent), sum(|o| o.other_refusals), sum(|o| o.unresolved), sum(|o| o.unstarted));
    let (wrong, unparsable, asked) = (sum(|o| o.wrong), sum(|o| o.unparsable), sum(|o| o.asked));
    let confirmed = acked.iter().filter(|a| a.confirmed.is_some()).count() as u64;

    let mut s = summary(Scenario::Seats, totals, c.elapsed_s, c.connections);
    for o in outs {
        for n in &o.notes {
            if s.notes.len() < NOTES_MAX {
                s.notes.push(n.clone());
            }
        }
    }

    // Seats acknowledged twice.
    let answers = acked
        .iter()
        .flat_map(|a| std::iter::once((a.hold, a.seats.as_slice())).chain(a.confirmed.as_deref().map(|c| (a.hold, c))));
    let double = double_sold(answers, c.total);
    s.notes.extend(double.examples.iter().cloned());
    if double.unknown > 0 {
        s.notes.push(format!("{} acknowledged seats are not in the venue", double.unknown));
    }

    // The acknowledged seats against the server's counts and map.
    let acked_bits = bitset_of(c.total, acked.iter().flat_map(|a| a.seats.iter().copied()));
    let acked_seats: u64 = acked_bits.iter().map(|b| u64::from(b.count_ones())).sum();
    let acked_sold: u64 = acked.iter().filter(|a| a.confirmed.is_some()).map(|a| a.seats.len() as u64).sum();
    let acked_held: u64 = acked.iter().filter(|a| a.confirmed.is_none()).map(|a| a.seats.len() as u64).sum();
    let st = c.seated;
    let server_taken = st.held + st.sold;
    let mut oversold = acked_seats.saturating_sub(u64::from(c.total)) + server_taken.saturating_sub(st.total);
    oversold += server_taken.abs_diff(acked_seats);
    if server_taken != acked_seats {
        s.notes.push(format!(
            "the server counts held {} + sold {} = {server_taken} seats, the acknowledged holds {acked_seats}{}",
            st.held,
            st.sold,
            if unresolved > 0 { " (some commands got no answer)" } else { "" }
        ));
    }
    if (st.held, st.sold) != (acked_held, acked_sold) {
        s.notes.push(format!(
            "the server counts held {} and sold {}; acknowledged: held {acked_held}, confirmed {acked_sold}",
            st.held, st.sold
        ));
    }
    if st.held + st.sold + st.available != st.total || st.total != u64::from(c.total) {
        s.notes.push(format!(
            "server counts do not add up: held {} + sold {} + available {} != total {} (venue {})",
            st.held, st.sold, st.available, st.total, c.total
        ));
    }
    if u64::from(c.server_frame.available) != st.available {
        s.notes.push(format!(
            "the seat map (seq {}) says available {}, the sale {}",
            c.server_frame.seq, c.server_frame.available, st.available
        ));
    }
    let server_vs_acked = bits_differ(c.server_bits, &acked_bits);
    if server_vs_acked > 0 {
        let taken_unacked = (0..c.total).filter(|&i| bit(c.server_bits, i) && !bit(&acked_bits, i)).count();
        s.notes.push(format!(
            "the server's map differs from the acknowledged holds in {server_vs_acked} seats \
             ({taken_unacked} taken without an acknowledged hold, the others acknowledged but free)"
        ));
    }

    // The viewers.
    let connected = c.viewers.iter().filter(|v| v.connected).count() as u64;
    let failed = c.viewers.iter().filter(|v| !v.connected).count() as u64;
    let dropped = c.viewers.iter().filter(|v| v.dropped.is_some()).count() as u64;
    let ws_errors: u64 = c.viewers.iter().map(|v| v.protocol_errors).sum();
    let map_mismatch = c.viewers.iter().filter(|v| !v.connected || v.map.bits() != c.server_bits).count() as u64;
    let behind = c.viewers.iter().filter(|v| v.connected && v.map.last_seq() < Some(c.server_frame.seq)).count();
    let snapshots: u64 = c.viewers.iter().map(|v| v.map.snapshots).sum();
    let messages: u64 = c.viewers.iter().map(|v| v.messages).sum();
    let mut errors: Vec<&str> = c.viewers.iter().filter_map(|v| v.first_error.as_deref()).collect();
    errors.sort_unstable();
    errors.dedup();
    for e in errors.iter().take(NOTES_MAX) {
        s.notes.push(format!("viewer protocol error: {e}"));
    }
    let mut failures: Vec<&str> =
        c.viewers.iter().filter_map(|v| v.failure.as_deref().or(v.dropped.as_deref())).collect();
    failures.sort_unstable();
    failures.dedup();
    for f in failures.iter().take(NOTES_MAX) {
        s.notes.push(format!("viewer failed: {f}"));
    }
    if map_mismatch > 0 {
        s.notes.push(format!(
            "{map_mismatch} viewers' final maps differ from the server's (seq {}); {behind} never got that seq",
            c.server_frame.seq
        ));
    }
    let (hist, missing) = delays(&acked, c.viewers)?;
    let q = |quantile: f64| if hist.is_empty() { 0.0 } else { hist.value_at_quantile(quantile) as f64 / 1000.0 };
    if missing > 0 {
        s.notes.push(format!("{missing} (viewer, acknowledged hold) pairs: the viewer never got the seats"));
    }

    s.oversold = oversold;
    s.violations = double.seats + double.unknown + map_mismatch + server_vs_acked + wrong;
    s.errors += failed + dropped + ws_errors + unparsable + unstarted;
    let holds_per_s = if c.elapsed_s > 0.0 { acked.len() as f64 / c.elapsed_s } else { 0.0 };
    s.notes.push(format!(
        "{} holds acknowledged ({confirmed} confirmed) of {asked} hold answers; {collisions} collisions \
         ({hot_collisions} in the hot area), {retries} retried best available ({retries_held} held), \
         {no_adjacent} no adjacent seats, {other_refusals} other refusals, {unresolved} unresolved, \
         {unstarted} not started",
        acked.len()
    ));
    s.notes.push(format!(
        "viewers: {connected} connected, {failed} failed, {dropped} dropped; {messages} messages \
         ({snapshots} snapshots); server map seq {}",
        c.server_frame.seq
    ));
    s.extra = vec![
        ("double_sold".into(), double.seats.to_string()),
        ("delta_p99_ms".into(), format!("{:.1}", q(0.99))),
        ("delta_p50_ms".into(), format!("{:.1}", q(0.5))),
        ("holds_per_s".into(), format!("{holds_per_s:.1}")),
        ("map_mismatch".into(), map_mismatch.to_string()),
        ("collisions".into(), collisions.to_string()),
        ("viewers".into(), connected.to_string()),
        ("holds".into(), acked.len().to_string()),
        ("confirmed".into(), confirmed.to_string()),
        ("no_adjacent".into(), no_adjacent.to_string()),
        ("seats_acked".into(), acked_seats.to_string()),
        ("held".into(), st.held.to_string()),
        ("sold".into(), st.sold.to_string()),
        ("available".into(), st.available.to_string()),
        ("server_vs_acked".into(), server_vs_acked.to_string()),
        ("wrong_seats".into(), wrong.to_string()),
        ("ws_errors".into(), ws_errors.to_string()),
        ("delta_max_ms".into(), format!("{:.1}", if hist.is_empty() { 0.0 } else { hist.max() as f64 / 1000.0 })),
        ("delta_missing".into(), missing.to_string()),
    ];
    Ok(s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::seatmap::{Kind, Taken};

    /// The venue the scenario creates, as `GET venue` would number it.
    fn venue() -> Venue {
        let spec = sale_spec();
        let mut next = 0u32;
        let sections = spec["seated"]["generate"]["sections"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let first = next;
                let rows: Vec<serde_json::Value> = (0..ROWS)
                    .map(|r| {
                        let row = serde_json::json!({"label": r.to_string(), "first_seat": next,
                            "seats": (0..SEATS_PER_ROW).map(|k| serde_json::json!([k.to_string(), 0, 0])).collect::<Vec<_>>()});
                        next += SEATS_PER_ROW;
                        row
                    })
                    .collect();
                serde_json::json!({"index": i, "name": s["name"], "tier": s["tier"], "price": s["price"],
                    "colour": s["colour"], "first_seat": first, "rows": rows})
            })
            .collect::<Vec<_>>();
        let layout: VenueLayout =
            serde_json::from_value(serde_json::json!({"name": "Stadium", "seats": next, "sections": sections}))
                .unwrap();
        Venue::from_layout(layout).unwrap()
    }

    #[test]
    fn the_venue_has_fifty_thousand_seats() {
        let v = venue();
        assert_eq!(v.seats(), 50_000);
        assert_eq!(v.sections.len(), 40);
        assert_eq!(v.tiers, vec!["VIP", "R", "S"]);
        assert_eq!(v.place(0), Some((0, 0)));
        assert_eq!(v.place(49), Some((0, 0)));
        assert_eq!(v.place(50), Some((0, 1)));
        assert_eq!(v.place(1250), Some((1, 0)));
        assert_eq!(v.place(49_999), Some((39, 24)));
        assert_eq!(v.place(50_000), None);
    }

    #[test]
    fn layouts_with_gaps_are_refused() {
        let layout = |first_row: u32| -> VenueLayout {
            serde_json::from_value(serde_json::json!({"name": "V", "seats": 2, "sections": [
                {"index": 0, "name": "A", "tier": "R", "price": 1, "colour": "#000", "first_seat": 0,
                 "rows": [{"label": "A", "first_seat": first_row, "seats": [["1",0,0],["2",0,0]]}]}]}))
            .unwrap()
        };
        assert!(Venue::from_layout(layout(0)).is_ok());
        assert!(Venue::from_layout(layout(1)).is_err());
    }

    #[test]
    fn plans_are_deterministic_and_mixed() {
        let v = venue();
        let plans: Vec<UserPlan> = (0..20_000).map(|i| plan(i, &v, 30, 50)).collect();
        assert_eq!(plans[123], plan(123, &v, 30, 50));
        let best = plans.iter().filter(|p| matches!(p.pick, Pick::Best(_))).count();
        let hot = plans.iter().filter(|p| matches!(p.pick, Pick::Seats { hot: true, .. })).count();
        let confirm = plans.iter().filter(|p| p.confirm).count();
        assert!((9_000..11_000).contains(&best), "{best}");
        assert!((2_500..3_500).contains(&hot), "{hot}");
        assert!((9_000..11_000).contains(&confirm), "{confirm}");
        for count in 2..=4 {
            assert!(plans.iter().any(|p| p.count == count));
        }
        for p in &plans {
            assert!((2..=4).contains(&p.count));
            if let Pick::Seats { section, seats, hot } = &p.pick {
                // Adjacent seats of one row of the section, and asked for as such.
                assert_eq!(seats.len(), p.count as usize);
                check_seats(&v, p.count, &Pick::Best(Area::Section(*section as u16)), seats).unwrap();
                if *hot {
                    let (s, r) = v.place(seats[0]).unwrap();
                    assert!(s < HOT_SECTIONS && r < HOT_ROWS);
                    let pos = seats[0] - v.sections[s].rows[r].0;
                    assert!((19..=31).contains(&pos), "{pos}");
                }
            }
        }
        let kinds: [fn(&Area) -> bool; 4] = [
            |a| matches!(a, Area::Any),
            |a| matches!(a, Area::Tier(_)),
            |a| matches!(a, Area::Section(_)),
            |a| matches!(a, Area::SectionName(_)),
        ];
        for kind in kinds {
            let found = plans.iter().filter(|p| matches!(&p.pick, Pick::Best(a) if kind(a))).count();
            assert!(found > 1000, "{found}");
        }
        // No hot picks, no confirmations.
        let calm: Vec<UserPlan> = (0..2000).map(|i| plan(i, &v, 0, 0)).collect();
        assert!(calm.iter().all(|p| !p.confirm && !matches!(p.pick, Pick::Seats { hot: true, .. })));
    }

    #[test]
    fn bodies() {
        let b = |pick: Pick| String::from_utf8(hold_body(3, &pick).to_vec()).unwrap();
        assert_eq!(b(Pick::Seats { section: 0, seats: vec![4, 5, 6], hot: false }), r#"{"seats":[4,5,6]}"#);
        assert_eq!(b(Pick::Best(Area::Any)), r#"{"best":{"count":3}}"#);
        assert_eq!(b(Pick::Best(Area::Section(7))), r#"{"best":{"count":3,"section":7}}"#);
        assert_eq!(b(Pick::Best(Area::SectionName("S7".into()))), r#"{"best":{"count":3,"section":"S7"}}"#);
        assert_eq!(b(Pick::Best(Area::Tier("VIP".into()))), r#"{"best":{"count":3,"tier":"VIP"}}"#);
    }

    #[test]
    fn answers_are_checked_against_the_request() {
        let v = venue();
        let named = Pick::Seats { section: 0, seats: vec![10, 11], hot: false };
        assert!(check_seats(&v, 2, &named, &[11, 10]).is_ok());
        assert!(check_seats(&v, 2, &named, &[10, 12]).is_err());
        assert!(check_seats(&v, 3, &named, &[10, 11]).is_err());
        let any = Pick::Best(Area::Any);
        assert!(check_seats(&v, 3, &any, &[100, 101, 102]).is_ok());
        assert!(check_seats(&v, 3, &any, &[100, 101, 103]).is_err(), "not adjacent");
        assert!(check_seats(&v, 2, &any, &[49, 50]).is_err(), "across rows");
        assert!(check_seats(&v, 2, &any, &[49_999, 50_000]).is_err(), "outside the venue");
        assert!(check_seats(&v, 2, &Pick::Best(Area::Section(1)), &[1250, 1251]).is_ok());
        assert!(check_seats(&v, 2, &Pick::Best(Area::Section(2)), &[1250, 1251]).is_err());
        assert!(check_seats(&v, 2, &Pick::Best(Area::SectionName("S1".into())), &[1250, 1251]).is_ok());
        assert!(check_seats(&v, 2, &Pick::Best(Area::Tier("VIP".into())), &[1250, 1251]).is_ok());
        assert!(check_seats(&v, 2, &Pick::Best(Area::Tier("S".into())), &[1250, 1251]).is_err());
    }

    fn viewer_report(numbering: &Numbering, frames: &[(Frame, u32)]) -> ViewerReport {
        let mut map = ViewerMap::new(numbering);
        for (f, at) in frames {
            map.apply(f, numbering, *at).unwrap();
        }
        ViewerReport {
            map,
            connected: true,
            dropped: None,
            failure: None,
            messages: frames.len() as u64,
            protocol_errors: 0,
            first_error: None,
        }
    }

    #[test]
    fn delays_per_viewer_and_hold() {
        let n = Numbering::new(16, &[0]);
        let snap = Frame {
            kind: Kind::Snapshot,
            seq: 1,
            seats: Some(16),
            available: 16,
            sections: vec![16],
            taken: Taken::Bits(crate::seatmap::base64_encode(&[0, 0])),
            freed: vec![],
        };
        let delta = |seq, available, taken: Vec<u32>| Frame {
            kind: Kind::Delta,
            seq,
            seats: None,
            available,
            sections: vec![available],
            taken: Taken::Ids(taken),
            freed: vec![],
        };
        // Viewer a: seats 0,1 at 5,000 µs, seats 2,3 at 9,000 µs; viewer b got nothing after the snapshot.
        let a = viewer_report(
            &n,
            &[(snap.clone(), 0), (delta(2, 14, vec![0, 1]), 5_000), (delta(3, 12, vec![2, 3]), 9_000)],
        );
        let b = viewer_report(&n, &[(snap, 0)]);
        let h1 = Acked { hold: 1, at_us: 6_000, seats: vec![0, 1], confirmed: None };
        let h2 = Acked { hold: 2, at_us: 4_000, seats: vec![2, 3], confirmed: None };
        let (hist, missing) = delays(&[&h1, &h2], &[a, b]).unwrap();
        assert_eq!(missing, 2);
        assert_eq!(hist.len(), 2);
        // Before the acknowledgement counts as 0; after it, the difference.
        assert_eq!(hist.min(), 0);
        assert!(hist.equivalent(hist.max(), 5_000), "{}", hist.max());
    }
}
