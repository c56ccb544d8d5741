//! The checks of the seats rush: each answer against its request, and after
//! the rush what was acknowledged against the server's counts and map and
//! every viewer's map; then the summary.

use hdrhistogram::Histogram;

use super::NOTES_MAX;
use super::client::{Acked, RushOut};
use super::plan::{Area, Pick, Venue};
use super::viewers::ViewerReport;
use crate::error::BenchError;
use crate::scenario::summary;
use crate::seatmap::{Frame, bit, bits_differ, bitset_of, double_sold};
use crate::{Scenario, Summary};

/// Checks the seats of a `201` against what was asked for.
pub(super) fn check_seats(venue: &Venue, count: u32, pick: &Pick, seats: &[u32]) -> Result<(), String> {
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

/// The inputs of [`conclude`] besides the rush's statistics.
pub(super) struct Checked<'a> {
    pub(super) total: u32,
    pub(super) seated: crate::api::SeatedState,
    pub(super) server_frame: &'a Frame,
    pub(super) server_bits: &'a [u8],
    pub(super) viewers: &'a [ViewerReport],
    pub(super) elapsed_s: f64,
    pub(super) connections: usize,
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

pub(super) fn conclude(c: &Checked<'_>, totals: crate::stats::Totals, outs: &[RushOut]) -> Result<Summary, BenchError> {
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
    use super::super::plan::tests::venue;
    use super::*;
    use crate::seatmap::{Kind, Numbering, Taken, ViewerMap};

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
