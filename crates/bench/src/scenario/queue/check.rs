//! The checks of the queue scenario: what the people saw against the final
//! live status (missed updates, places against the public shuffle) and the
//! acknowledged purchases and the server's counters against the stock; then
//! the summary.

use std::time::Duration;

use tokio::time::Instant;

use super::person::{End, Report};
use crate::api::Sale;
use crate::error::BenchError;
use crate::room::{
    ClientView, FinalRoom, Missed, QueueStatus, ServerStats, count_missed, hex32, prequeue_places, quantile_ms,
    spread_ms,
};
use crate::scenario::summary;
use crate::stats::Totals;
use crate::{Scenario, Summary};

/// The inputs of [`conclude`].
pub(super) struct Checked<'a> {
    pub(super) stock: u64,
    pub(super) baseline: ServerStats,
    pub(super) loaded: ServerStats,
    pub(super) final_status: &'a QueueStatus,
    /// The sale's counters show no stock left.
    pub(super) counted_sold_out: bool,
    pub(super) reports: &'a [Report],
    pub(super) opened_at: Instant,
    pub(super) joins_ok: u64,
    pub(super) joins_per_s: f64,
    pub(super) join_totals: &'a Totals,
}

/// The checks and the summary, from what the people saw.
pub(super) fn conclude(c: &Checked<'_>, buy_totals: Totals, elapsed_s: f64) -> Result<Summary, BenchError> {
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
pub(super) fn check_places(status: &QueueStatus, reports: &[Report], notes: &mut Vec<String>) -> u64 {
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

/// The server's counters against the stock: held and sold beyond it is
/// oversold; counts that do not add up are noted.
pub(super) fn check_counts(s: &mut Summary, state: &Sale) -> Result<(), BenchError> {
    let Some(counts) = state.stock else {
        return Err(BenchError::Protocol {
            method: "GET".into(),
            path: format!("/api/sales/{}", state.id),
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
        ("sale".into(), state.id.to_string()),
    ]);
    Ok(())
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
}
