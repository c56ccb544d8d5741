//! The model checker: the history of every command and answer against what
//! the server shows over its API after the last restart (and the figures
//! under load before every kill). Written apart from the server's rules: it
//! knows only what a client was told.
//!
//! For each hold it keeps what happened to it ([`Fate`]: a confirm, cancel
//! or refund acknowledged, refused, or lost in a kill) and allows exactly the
//! statuses that could follow. Holds the server has that nobody was answered
//! for must each match a hold command of the same person, with the same
//! quantity or seats, whose answer was lost; a drop may have at most as many
//! unanswered clicks as people whose click was lost.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::history::{Op, Read, SaleKind, Sent};
use super::{Findings, Generation, HOLD_SECONDS, ROOM_LIMIT, SEAT_LIMIT, SEATS, STOCK_LIMIT, Shared};
use crate::api::{Api, As, HoldRow, Sale, VUser};
use crate::error::BenchError;
use crate::seatmap::{Frame, Taken, base64_decode, bitset_of};

/// The figures under load, read just before a kill: `/readyz`, and every
/// sale of the current generation adding up.
pub(crate) async fn live_figures(api: &mut Api, g: &Generation, shared: &Shared) -> Result<(), BenchError> {
    let ready = api.ready().await?;
    let mut sales = Vec::new();
    for kind in KINDS {
        sales.push((kind, api.sale(g.sale(kind)).await?));
    }
    let mut f = shared.findings();
    if !ready {
        f.inconsistent(
            "/readyz answered 503 under load: the log cannot be written or the audit found it damaged".into(),
        );
    }
    for (kind, sale) in &sales {
        figures(*kind, sale, &mut f);
    }
    Ok(())
}

const KINDS: [SaleKind; 4] = [SaleKind::Stock, SaleKind::Room, SaleKind::Seated, SaleKind::Drop];

/// Sold + held + available = stock (seats alike); a drop's winners are the
/// first clicks, never more than it has.
fn figures(kind: SaleKind, sale: &Sale, f: &mut Findings) {
    let id = sale.id;
    let counts = match kind {
        SaleKind::Stock | SaleKind::Room => sale.stock.map(|s| (s.total, s.available, s.held, s.sold)),
        SaleKind::Seated => sale.seated.map(|s| (s.total, s.available, s.held, s.sold)),
        SaleKind::Drop => {
            let Some(d) = sale.drop else { return f.inconsistent(format!("drop {id} has no `drop` figures")) };
            if d.won > d.winners {
                f.oversold(format!("drop {id}: {} won, {} winners", d.won, d.winners));
            } else if d.won != d.clicks.min(d.winners) {
                f.inconsistent(format!("drop {id}: {} won of {} clicks with {} winners", d.won, d.clicks, d.winners));
            }
            return;
        }
    };
    let Some((total, available, held, sold)) = counts else {
        return f.inconsistent(format!("{} sale {id} has no figures", kind.name()));
    };
    if held + sold > total {
        f.oversold(format!("{} sale {id}: held {held} + sold {sold} > {total}", kind.name()));
    } else if available + held + sold != total {
        f.inconsistent(format!(
            "{} sale {id}: available {available} + held {held} + sold {sold} != {total}",
            kind.name()
        ));
    }
}

/// What one kind of settling command did to a hold, as its client knows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Said {
    #[default]
    Never,
    Refused,
    /// Sent, answer lost: it may have taken effect.
    Unknown,
    Acked,
}

/// What was said about one hold.
#[derive(Debug, Clone, Copy, Default)]
struct Fate {
    confirm: Said,
    cancel: Said,
    refund: Said,
}

impl Fate {
    /// The statuses the hold may have now, and whether one of them is owed
    /// to an acknowledged command (so that another status is a loss).
    fn legal(&self) -> (Vec<&'static str>, bool) {
        let maybe = |s: Said| s >= Said::Unknown;
        if self.refund == Said::Acked {
            return (vec!["refunded"], true);
        }
        if self.cancel == Said::Acked {
            return (vec!["cancelled"], true);
        }
        if self.confirm == Said::Acked {
            let mut ok = vec!["confirmed"];
            if maybe(self.refund) {
                ok.push("refunded");
            }
            return (ok, true);
        }
        let mut ok = vec!["held", "expired"];
        if maybe(self.confirm) {
            ok.push("confirmed");
            if maybe(self.refund) {
                ok.push("refunded");
            }
        }
        if maybe(self.cancel) {
            ok.push("cancelled");
        }
        (ok, false)
    }
}

/// The fates of a sale's holds, from the settling commands sent to it.
fn fates(history: &[&Sent]) -> BTreeMap<u64, Fate> {
    let mut fates: BTreeMap<u64, Fate> = BTreeMap::new();
    for s in history {
        let said = match &s.outcome {
            super::history::Outcome::Unknown => Said::Unknown,
            super::history::Outcome::Answered(a) if a.acked() => Said::Acked,
            super::history::Outcome::Answered(_) => Said::Refused,
        };
        let (hold, slot): (u64, fn(&mut Fate) -> &mut Said) = match s.op {
            Op::Confirm { hold } => (hold, |f| &mut f.confirm),
            Op::Cancel { hold } => (hold, |f| &mut f.cancel),
            Op::Refund { hold } => (hold, |f| &mut f.refund),
            _ => continue,
        };
        let slot = slot(fates.entry(hold).or_default());
        *slot = (*slot).max(said);
    }
    fates
}

/// One hold as the server shows it: who booked it, its status, and its
/// quantity or seats (sorted).
#[derive(Debug, Clone)]
struct ServerHold {
    id: u64,
    booker: u64,
    status: String,
    /// Units (stock) or seats (seated).
    quantity: u32,
    seats: Vec<u32>,
}

/// `GET /api/me/seats`, the fields checked.
#[derive(Debug, Deserialize)]
struct MySeats {
    seats: Vec<SeatHoldOut>,
}

#[derive(Debug, Deserialize)]
struct SeatHoldOut {
    id: u64,
    sale_id: u64,
    booker_id: u64,
    status: String,
    seats: Vec<SeatOut>,
}

#[derive(Debug, Deserialize)]
struct SeatOut {
    id: u32,
    holder_id: u64,
}

/// Everything after the last restart: waits until every hold has expired or
/// been settled (nothing is held any more, so every figure is final), then
/// checks every sale against the history. Returns how many commands whose
/// answer was lost had taken effect.
pub(crate) async fn final_state(
    api: &mut Api,
    users: &[VUser],
    generations: &[Generation],
    history: &[Sent],
    shared: &Shared,
) -> Result<u64, BenchError> {
    // Holds last HOLD_SECONDS; the engine's timer then expires them. Nothing
    // on the API announces that, so the figures are polled, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(3 * HOLD_SECONDS + 30);
    for g in generations {
        for kind in [SaleKind::Stock, SaleKind::Room, SaleKind::Seated] {
            loop {
                let sale = api.sale(g.sale(kind)).await?;
                let held = sale.stock.map(|s| s.held).or(sale.seated.map(|s| s.held)).unwrap_or(0);
                if held == 0 {
                    break;
                }
                if Instant::now() >= deadline {
                    shared.findings().inconsistent(format!(
                        "{} sale {} still has {held} held long after every hold should have expired",
                        kind.name(),
                        sale.id
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let user_ids: Vec<u64> = users.iter().map(|u| u.id).collect();
    let mut seat_holds: BTreeMap<u64, Vec<ServerHold>> = BTreeMap::new();
    for user in users {
        let mine: MySeats = serde_json::from_value(api.get_json("/api/me/seats", As::User(user.auth.clone())).await?)
            .map_err(|e| BenchError::Internal(format!("GET /api/me/seats: {e}")))?;
        for h in mine.seats {
            // Friends' seats would list a hold twice; nobody books for friends here.
            if h.booker_id != user.id {
                continue;
            }
            if let Some(other) = h.seats.iter().find(|s| s.holder_id != h.booker_id) {
                shared
                    .findings()
                    .inconsistent(format!("seat hold {} has seat {} for {}", h.id, other.id, other.holder_id));
            }
            let mut seats: Vec<u32> = h.seats.iter().map(|s| s.id).collect();
            seats.sort_unstable();
            let hold =
                ServerHold { id: h.id, booker: h.booker_id, status: h.status, quantity: seats.len() as u32, seats };
            seat_holds.entry(h.sale_id).or_default().push(hold);
        }
    }
    let mut applied = 0;
    for g in generations {
        for kind in KINDS {
            let id = g.sale(kind);
            let sale = api.sale(id).await?;
            let sent: Vec<&Sent> = history.iter().filter(|s| s.sale == id).collect();
            match kind {
                SaleKind::Stock | SaleKind::Room => {
                    let mut rows: Vec<HoldRow> = Vec::new();
                    let mut after = None;
                    loop {
                        let page = api.holds(id, after).await?;
                        rows.extend(page.holds);
                        match page.next_after {
                            Some(next) => after = Some(next),
                            None => break,
                        }
                    }
                    let holds = rows
                        .into_iter()
                        .map(|r| ServerHold {
                            id: r.id,
                            booker: r.user_id,
                            status: r.status,
                            quantity: u32::try_from(r.quantity).unwrap_or(u32::MAX),
                            seats: Vec::new(),
                        })
                        .collect::<Vec<_>>();
                    let limit = if kind == SaleKind::Stock { STOCK_LIMIT } else { ROOM_LIMIT };
                    let mut f = shared.findings();
                    figures(kind, &sale, &mut f);
                    let (held, sold) = sale.stock.map(|s| (s.held, s.sold)).unwrap_or_default();
                    applied += holds_against_history(kind, id, &holds, (held, sold), limit, &sent, &user_ids, &mut f);
                }
                SaleKind::Seated => {
                    let holds = seat_holds.remove(&id).unwrap_or_default();
                    let map = seat_map(api, id, &holds).await?;
                    let mut f = shared.findings();
                    if let Some(problem) = map {
                        f.inconsistent(problem);
                    }
                    figures(kind, &sale, &mut f);
                    let (held, sold) = sale.seated.map(|s| (s.held, s.sold)).unwrap_or_default();
                    applied +=
                        holds_against_history(kind, id, &holds, (held, sold), SEAT_LIMIT, &sent, &user_ids, &mut f);
                }
                SaleKind::Drop => {
                    let (_, board) = api.leaderboard_all(id, None).await?;
                    let mut f = shared.findings();
                    figures(kind, &sale, &mut f);
                    let winners = sale.drop.map(|d| d.winners).unwrap_or(0);
                    applied += clicks_against_history(id, winners, &board, &sent, &mut f);
                }
            }
        }
    }
    Ok(applied)
}

/// The seat map shows exactly the seats of active holds. It may trail the
/// sale by 100 ms, so a difference is read again for a few seconds.
async fn seat_map(api: &mut Api, id: u64, holds: &[ServerHold]) -> Result<Option<String>, BenchError> {
    let active = holds.iter().filter(|h| active(&h.status)).flat_map(|h| h.seats.iter().copied());
    let expected = bitset_of(SEATS, active);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body = api.seat_map(id).await?;
        let frame = Frame::parse(&String::from_utf8_lossy(&body)).map_err(BenchError::Internal)?;
        let bits = match &frame.taken {
            Taken::Bits(text) => base64_decode(text),
            Taken::Ids(_) => None,
        };
        if bits.as_deref() == Some(&expected[..]) {
            return Ok(None);
        }
        if Instant::now() >= deadline {
            return Ok(Some(format!(
                "seated sale {id}: the seat map {bits:?} is not the active holds' seats {expected:?}"
            )));
        }
        // The map is published at most 10 times a second.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn active(status: &str) -> bool {
    matches!(status, "held" | "confirmed")
}

/// One stock or seated sale's holds against its history; returns how many
/// holds came from commands whose answer was lost.
#[allow(clippy::too_many_arguments)]
fn holds_against_history(
    kind: SaleKind,
    sale: u64,
    holds: &[ServerHold],
    (held, sold): (u64, u64),
    limit: u32,
    history: &[&Sent],
    user_ids: &[u64],
    f: &mut Findings,
) -> u64 {
    let name = kind.name();
    let mut by_id: BTreeMap<u64, &ServerHold> = BTreeMap::new();
    for h in holds {
        if by_id.insert(h.id, h).is_some() {
            f.inconsistent(format!("{name} sale {sale}: hold {} listed twice", h.id));
        }
    }
    // Holds are numbered 1, 2, 3... in the order they were granted: a gap is a hold lost.
    if let Some((i, id)) = by_id.keys().enumerate().find(|(i, id)| **id != *i as u64 + 1) {
        f.lost(format!("{name} sale {sale}: hold ids have a gap: the {}th is {id}", i + 1));
    }
    let units = |status: &str| holds.iter().filter(|h| h.status == status).map(|h| u64::from(h.quantity)).sum::<u64>();
    if (units("held"), units("confirmed")) != (held, sold) {
        f.inconsistent(format!(
            "{name} sale {sale}: the holds add up to held {} sold {}, the sale says held {held} sold {sold}",
            units("held"),
            units("confirmed")
        ));
    }
    let mut per_person: BTreeMap<u64, u32> = BTreeMap::new();
    let mut seat_owner: BTreeMap<u32, u64> = BTreeMap::new();
    for h in holds.iter().filter(|h| active(&h.status)) {
        *per_person.entry(h.booker).or_default() += h.quantity;
        for seat in &h.seats {
            if let Some(other) = seat_owner.insert(*seat, h.id) {
                f.oversold(format!("{name} sale {sale}: seat {seat} is in holds {other} and {}", h.id));
            }
        }
    }
    for (person, n) in per_person.iter().filter(|(_, n)| **n > limit) {
        f.oversold(format!("{name} sale {sale}: user {person} has {n}, over the limit {limit}"));
    }

    // What each acknowledged hold command was answered.
    let mut acked: BTreeMap<u64, (u64, u32, Vec<u32>, &str)> = BTreeMap::new();
    // What each hold command whose answer was lost asked for, per person.
    let mut lost_answers: BTreeMap<u64, Vec<(u32, Vec<u32>)>> = BTreeMap::new();
    for s in history {
        let asked = match &s.op {
            Op::Hold { quantity } => (*quantity, Vec::new()),
            Op::SeatHold { seats } => (seats.len() as u32, seats.clone()),
            _ => continue,
        };
        let person = user_ids[s.user];
        if s.unknown() {
            lost_answers.entry(person).or_default().push(asked);
            continue;
        }
        let Some(a) = s.acked() else { continue };
        let (id, quantity, seats) = match &a.read {
            Read::Hold { id, quantity } => (*id, *quantity, Vec::new()),
            Read::SeatHold { id, seats } => (*id, seats.len() as u32, seats.clone()),
            _ => continue,
        };
        if (quantity, &seats) != (asked.0, &asked.1) {
            f.inconsistent(format!("{name} sale {sale}: asked for {asked:?}, hold {id} granted {quantity} {seats:?}"));
        }
        if let Some((_, _, _, key)) = acked.insert(id, (person, quantity, seats, &s.key))
            && key != s.key
        {
            f.inconsistent(format!("{name} sale {sale}: hold {id} acknowledged to keys {key} and {}", s.key));
        }
    }
    let fates = fates(history);
    for (id, (person, quantity, seats, key)) in &acked {
        let Some(h) = by_id.get(id) else {
            f.lost(format!("{name} sale {sale}: acknowledged hold {id} (key {key}) is not on the server"));
            continue;
        };
        if (h.booker, h.quantity) != (*person, *quantity) || (kind == SaleKind::Seated && h.seats != *seats) {
            f.inconsistent(format!(
                "{name} sale {sale}: hold {id} acknowledged to user {person} for {quantity} {seats:?}, \
                 the server has user {} with {} {:?}",
                h.booker, h.quantity, h.seats
            ));
        }
        let fate = fates.get(id).copied().unwrap_or_default();
        let (legal, owed) = fate.legal();
        if !legal.contains(&h.status.as_str()) {
            let message = format!("{name} sale {sale}: hold {id} is {}, after {fate:?} only {legal:?}", h.status);
            if owed { f.lost(message) } else { f.inconsistent(message) }
        }
    }
    for id in fates.keys().filter(|id| !acked.contains_key(id)) {
        f.inconsistent(format!("{name} sale {sale}: hold {id} was settled but never acknowledged to anyone"));
    }
    let mut applied = 0;
    for h in holds.iter().filter(|h| !acked.contains_key(&h.id)) {
        let candidates = lost_answers.entry(h.booker).or_default();
        let matches =
            |(q, seats): &(u32, Vec<u32>)| *q == h.quantity && (kind != SaleKind::Seated || *seats == h.seats);
        match candidates.iter().position(matches) {
            Some(i) => {
                candidates.swap_remove(i);
                applied += 1;
                // Its id was never told to anyone, so nobody could settle it.
                if !matches!(h.status.as_str(), "held" | "expired") {
                    f.inconsistent(format!("{name} sale {sale}: hold {} nobody was told of is {}", h.id, h.status));
                }
            }
            None => f.inconsistent(format!(
                "{name} sale {sale}: phantom hold {} of user {} ({} {:?}): no command of theirs could have made it",
                h.id, h.booker, h.quantity, h.seats
            )),
        }
    }
    applied
}

/// A drop's leaderboard against the clicks: every acknowledged click at its
/// rank and time, one rank per person, ranks dense and in time order, the
/// first `winners` winning, and no more clicks than were answered or lost.
fn clicks_against_history(
    sale: u64,
    winners: u64,
    board: &[crate::api::LeaderboardEntry],
    history: &[&Sent],
    f: &mut Findings,
) -> u64 {
    for (i, e) in board.iter().enumerate() {
        if e.rank != i as u64 + 1 {
            f.inconsistent(format!("drop {sale}: the {}th place has rank {}", i + 1, e.rank));
            break;
        }
        if e.won != (e.rank <= winners) {
            f.inconsistent(format!("drop {sale}: rank {} won={} with {winners} winners", e.rank, e.won));
        }
    }
    if board.windows(2).any(|w| w[1].clicked_at_us < w[0].clicked_at_us) {
        f.inconsistent(format!("drop {sale}: a later rank clicked earlier"));
    }
    let mut by_person: BTreeMap<usize, (u64, i64)> = BTreeMap::new();
    let mut lost_only: BTreeSet<usize> = BTreeSet::new();
    for s in history {
        if s.unknown() {
            lost_only.insert(s.user);
        }
        if let Some(Read::Click { rank, at_us }) = s.acked().map(|a| &a.read) {
            match by_person.insert(s.user, (*rank, *at_us)) {
                Some(was) if was != (*rank, *at_us) => f.inconsistent(format!(
                    "drop {sale}: client {} was answered rank {rank} and rank {} ",
                    s.user, was.0
                )),
                _ => {}
            }
        }
    }
    lost_only.retain(|u| !by_person.contains_key(u));
    let mut ranks = BTreeSet::new();
    for (user, (rank, at_us)) in &by_person {
        if !ranks.insert(*rank) {
            f.inconsistent(format!("drop {sale}: rank {rank} acknowledged to two people"));
        }
        match board.get((*rank as usize).wrapping_sub(1)) {
            Some(e) if e.clicked_at_us == *at_us => {}
            other => f.lost(format!(
                "drop {sale}: client {user}'s acknowledged rank {rank} at {at_us} is {:?} on the leaderboard",
                other.map(|e| e.clicked_at_us)
            )),
        }
    }
    let total = board.len() as u64;
    let acked = by_person.len() as u64;
    if total > acked + lost_only.len() as u64 {
        f.inconsistent(format!("drop {sale}: {total} clicks, but only {acked} answered and {} lost", lost_only.len()));
    }
    total.saturating_sub(acked)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::api::LeaderboardEntry;
    use crate::torture::history::{Answered, Outcome};

    const USERS: [u64; 2] = [101, 102];

    fn sent(user: usize, op: Op, outcome: Outcome) -> Sent {
        Sent { user, sale: 1, kind: SaleKind::Stock, op, key: format!("k{}", rand_key()), key_index: 0, outcome }
    }

    fn rand_key() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    fn ok(status: u16, read: Read) -> Outcome {
        Outcome::Answered(Answered { status, digest: [0; 32], problem: None, read })
    }

    fn hold(id: u64, booker: u64, status: &str, quantity: u32) -> ServerHold {
        ServerHold { id, booker, status: status.into(), quantity, seats: Vec::new() }
    }

    fn check(holds: &[ServerHold], history: &[Sent], limit: u32) -> (Findings, u64) {
        let mut f = Findings::default();
        let units = |s: &str| holds.iter().filter(|h| h.status == s).map(|h| u64::from(h.quantity)).sum();
        let refs: Vec<&Sent> = history.iter().collect();
        let applied = holds_against_history(
            SaleKind::Stock,
            1,
            holds,
            (units("held"), units("confirmed")),
            limit,
            &refs,
            &USERS,
            &mut f,
        );
        (f, applied)
    }

    /// Two acknowledged holds of user 0, the first confirmed; a lost hold command of user 1.
    fn history() -> Vec<Sent> {
        vec![
            sent(0, Op::Hold { quantity: 1 }, ok(201, Read::Hold { id: 1, quantity: 1 })),
            sent(0, Op::Hold { quantity: 2 }, ok(201, Read::Hold { id: 2, quantity: 2 })),
            sent(0, Op::Confirm { hold: 1 }, ok(200, Read::Nothing)),
            sent(1, Op::Hold { quantity: 1 }, Outcome::Unknown),
        ]
    }

    #[test]
    fn a_true_history_passes_and_counts_what_lost_answers_did() {
        let server = [hold(1, 101, "confirmed", 1), hold(2, 101, "expired", 2), hold(3, 102, "held", 1)];
        let (f, applied) = check(&server, &history(), 3);
        assert_eq!((f.lost, f.oversold, f.inconsistent, applied), (0, 0, 0, 1), "{:?}", f.messages);
        // The lost command may also have done nothing.
        let (f, applied) = check(&server[..2], &history(), 3);
        assert_eq!((f.lost, f.oversold, f.inconsistent, applied), (0, 0, 0, 0), "{:?}", f.messages);
    }

    #[test]
    fn an_acknowledged_hold_missing_or_undone_is_lost() {
        let (f, _) = check(&[hold(1, 101, "confirmed", 1)], &history(), 3);
        assert_eq!(f.lost, 1, "{:?}", f.messages);
        // Confirmed was acknowledged; expired is not a legal later status.
        let (f, _) = check(&[hold(1, 101, "expired", 1), hold(2, 101, "held", 2)], &history(), 3);
        assert_eq!((f.lost, f.inconsistent), (1, 0), "{:?}", f.messages);
        // A gap in the ids is a hold lost, even one nobody was told of.
        let (f, _) = check(&[hold(1, 101, "confirmed", 1), hold(3, 101, "held", 2)], &history()[..1], 3);
        assert!(f.lost >= 1, "{:?}", f.messages);
    }

    #[test]
    fn a_phantom_an_unsettled_change_and_a_wrong_owner_are_inconsistent() {
        // A hold of user 0 nobody was answered for, and user 0 had no lost command.
        let server = [hold(1, 101, "confirmed", 1), hold(2, 101, "held", 2), hold(3, 101, "held", 1)];
        let (f, _) = check(&server, &history(), 5);
        assert_eq!((f.lost, f.inconsistent), (0, 1), "{:?}", f.messages);
        // The lost command asked for 1 unit, not 2.
        let server = [hold(1, 101, "confirmed", 1), hold(2, 101, "held", 2), hold(3, 102, "held", 2)];
        let (f, _) = check(&server, &history(), 5);
        assert_eq!(f.inconsistent, 1, "{:?}", f.messages);
        // A hold nobody confirmed is confirmed.
        let server = [hold(1, 101, "confirmed", 1), hold(2, 101, "confirmed", 2)];
        let (f, _) = check(&server, &history(), 5);
        assert_eq!(f.inconsistent, 1, "{:?}", f.messages);
        // Acknowledged to user 0, on the server as user 1's.
        let server = [hold(1, 101, "confirmed", 1), hold(2, 102, "held", 2)];
        let (f, _) = check(&server, &history(), 5);
        assert_eq!(f.inconsistent, 1, "{:?}", f.messages);
    }

    #[test]
    fn more_than_the_limit_is_oversold() {
        let server = [hold(1, 101, "confirmed", 1), hold(2, 101, "held", 2)];
        let (f, _) = check(&server, &history(), 2);
        assert_eq!(f.oversold, 1, "{:?}", f.messages);
    }

    #[test]
    fn a_seat_in_two_active_holds_is_oversold() {
        let seated = |id, status: &str, seats: Vec<u32>| ServerHold {
            id,
            booker: 101,
            status: status.into(),
            quantity: seats.len() as u32,
            seats,
        };
        let server = [seated(1, "confirmed", vec![4, 5]), seated(2, "held", vec![5])];
        let mut f = Findings::default();
        holds_against_history(SaleKind::Seated, 1, &server, (1, 2), 9, &[], &USERS, &mut f);
        assert_eq!(f.oversold, 1, "{:?}", f.messages);
        // The same seat again once the first hold expired is fine (but nobody was answered for them).
        let server = [seated(1, "expired", vec![4, 5]), seated(2, "held", vec![5])];
        let mut f = Findings::default();
        holds_against_history(SaleKind::Seated, 1, &server, (1, 0), 9, &[], &USERS, &mut f);
        assert_eq!((f.oversold, f.inconsistent), (0, 2), "{:?}", f.messages);
    }

    #[test]
    fn clicks_keep_their_ranks_and_no_click_appears_from_nowhere() {
        let entry = |rank, at| LeaderboardEntry { rank, won: rank <= 1, clicked_at_us: at };
        let clicks =
            [sent(0, Op::Click, ok(200, Read::Click { rank: 1, at_us: 10 })), sent(1, Op::Click, Outcome::Unknown)];
        let refs: Vec<&Sent> = clicks.iter().collect();
        let mut f = Findings::default();
        assert_eq!(clicks_against_history(1, 1, &[entry(1, 10), entry(2, 20)], &refs, &mut f), 1);
        assert_eq!((f.lost, f.inconsistent), (0, 0), "{:?}", f.messages);
        // Rank 1 at another time: lost.
        let mut f = Findings::default();
        clicks_against_history(1, 1, &[entry(1, 11)], &refs, &mut f);
        assert_eq!(f.lost, 1, "{:?}", f.messages);
        // Three clicks, one answered and one lost: a phantom.
        let mut f = Findings::default();
        clicks_against_history(1, 1, &[entry(1, 10), entry(2, 20), entry(3, 30)], &refs, &mut f);
        assert_eq!(f.inconsistent, 1, "{:?}", f.messages);
    }

    #[test]
    fn fates_allow_only_what_could_follow() {
        let fate = |confirm, cancel, refund| Fate { confirm, cancel, refund }.legal();
        use Said::*;
        assert_eq!(fate(Never, Never, Never), (vec!["held", "expired"], false));
        assert_eq!(fate(Acked, Never, Never), (vec!["confirmed"], true));
        assert_eq!(fate(Acked, Never, Unknown), (vec!["confirmed", "refunded"], true));
        assert_eq!(fate(Refused, Never, Never), (vec!["held", "expired"], false));
        assert_eq!(fate(Unknown, Never, Never), (vec!["held", "expired", "confirmed"], false));
        assert_eq!(fate(Never, Acked, Never), (vec!["cancelled"], true));
        assert_eq!(fate(Never, Unknown, Never), (vec!["held", "expired", "cancelled"], false));
    }
}
