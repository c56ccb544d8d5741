//! The waiting room as the queue scenario sees it: the wire types it reads
//! (docs/API.md, "Waiting room" and "Operator"), the public shuffle recomputed
//! from the revealed seed, and the pure checks run after the load:
//! [`count_missed`] (updates a WebSocket client should have seen and did not)
//! and [`spread_ms`].

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;

/// The part of a WebSocket `QueueStatus` message a client acts on (parsed
/// for every message on every socket, so nothing is allocated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusLite {
    pub seq: u64,
    pub sold_out: bool,
    pub prequeue: bool,
    pub admitted: u64,
}

#[derive(Deserialize)]
struct StatusWire<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    seq: u64,
    #[serde(default)]
    sold_out: bool,
    #[serde(default)]
    prequeue: bool,
    #[serde(default)]
    admitted: u64,
}

/// Parses one WebSocket text message; `None` for anything that is not a
/// `{"type": "status", ...}` message with a `seq`.
pub(crate) fn parse_status(text: &str) -> Option<StatusLite> {
    let wire: StatusWire<'_> = serde_json::from_str(text).ok()?;
    (wire.kind == "status").then_some(StatusLite {
        seq: wire.seq,
        sold_out: wire.sold_out,
        prequeue: wire.prequeue,
        admitted: wire.admitted,
    })
}

/// `QueueStatus` from `GET /api/sales/{id}/queue`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct QueueStatus {
    pub seq: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub sold_out: bool,
    #[serde(default)]
    pub prequeue_len: Option<u32>,
    #[serde(default)]
    pub joined: u64,
    #[serde(default)]
    pub admitted: u64,
    #[serde(default)]
    pub waiting: u64,
    #[serde(default)]
    pub available: u64,
    #[serde(default)]
    pub commitment: String,
    #[serde(default)]
    pub seed: Option<String>,
}

/// `QueueTicket` from `POST queue/join` and `GET queue/me`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct QueueTicket {
    pub ticket: u32,
    #[serde(default)]
    pub place: Option<u32>,
    #[serde(default)]
    pub admitted: bool,
    #[serde(default)]
    pub pass: Option<String>,
    #[serde(default)]
    pub pass_state: String,
}

/// `Sale.waiting_room`: what the bench needs before joining.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RoomInfo {
    pub commitment: String,
    #[serde(default)]
    pub pow_bits: u8,
}

/// `GET /api/admin/stats`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(crate) struct ServerStats {
    #[serde(default)]
    pub ws_open: u64,
    #[serde(default)]
    pub ws_peak: u64,
    #[serde(default)]
    pub rss_kb: Option<u64>,
    #[serde(default)]
    pub open_files_limit: Option<u64>,
}

/// 64 hex digits as 32 bytes.
pub(crate) fn hex32(text: &str) -> Option<[u8; 32]> {
    let text = text.as_bytes();
    if text.len() != 64 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let hi = digit(text[2 * i])?;
        let lo = digit(text[2 * i + 1])?;
        *byte = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// The pre-queue's places recomputed from the revealed seed: element
/// `ticket - 1` is that ticket's place. Written from docs/API.md: place `p`
/// holds the ticket with the `p`-th smallest `blake3(seed || ticket u32 LE)`,
/// ties by ticket.
pub(crate) fn prequeue_places(seed: &[u8; 32], len: u32) -> Vec<u32> {
    let mut keyed: Vec<([u8; 32], u32)> = (1..=len)
        .map(|ticket| {
            let mut input = Vec::with_capacity(36);
            input.extend_from_slice(seed);
            input.extend_from_slice(&ticket.to_le_bytes());
            (*blake3::hash(&input).as_bytes(), ticket)
        })
        .collect();
    keyed.sort_unstable();
    let mut places = vec![0u32; keyed.len()];
    for (place, (_, ticket)) in (1u32..).zip(keyed) {
        places[(ticket - 1) as usize] = place;
    }
    places
}

/// What one WebSocket client saw, for [`count_missed`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClientView {
    /// The socket opened (clients that never connected are not judged here).
    pub connected: bool,
    /// `seq` of the last status message received.
    pub last_seq: Option<u64>,
    /// The largest `admitted` received.
    pub max_admitted: u64,
    /// The client's place, once known.
    pub place: Option<u32>,
    /// A message with `sold_out: true` was received.
    pub saw_sold_out: bool,
    /// The run ended with the client still waiting for its turn (it neither
    /// tried to buy nor gave up).
    pub still_waiting: bool,
}

/// The waiting room's state at the end (from REST).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FinalRoom {
    pub seq: u64,
    pub admitted: u64,
    pub sold_out: bool,
}

/// The outcome of [`count_missed`]; a client may be in several kinds but
/// counts once in `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Missed {
    pub total: u64,
    /// The last message received is older than the final REST `seq`.
    pub stale: u64,
    /// Admitted per the final status (`place <= admitted`) but no message
    /// with `admitted >= place` was received.
    pub admission: u64,
    /// Still waiting at the end of a sold-out sale without having received
    /// `sold_out: true`.
    pub sold_out: u64,
}

/// Counts the connected clients that missed an update they must have seen.
pub(crate) fn count_missed(clients: &[ClientView], end: FinalRoom) -> Missed {
    let mut m = Missed::default();
    for c in clients.iter().filter(|c| c.connected) {
        let stale = c.last_seq.is_none_or(|s| s < end.seq);
        let admission = c.place.is_some_and(|p| u64::from(p) <= end.admitted && c.max_admitted < u64::from(p));
        let sold_out = end.sold_out && c.still_waiting && !c.saw_sold_out;
        m.stale += u64::from(stale);
        m.admission += u64::from(admission);
        m.sold_out += u64::from(sold_out);
        m.total += u64::from(stale || admission || sold_out);
    }
    m
}

/// Latest minus earliest of the offsets, in milliseconds (0 for fewer than two).
pub(crate) fn spread_ms(offsets: impl IntoIterator<Item = Duration>) -> f64 {
    let mut range: Option<(Duration, Duration)> = None;
    for t in offsets {
        range = Some(match range {
            None => (t, t),
            Some((lo, hi)) => (lo.min(t), hi.max(t)),
        });
    }
    range.map_or(0.0, |(lo, hi)| (hi - lo).as_secs_f64() * 1000.0)
}

/// The `q` quantile (0..=1) of sorted milliseconds, nearest rank; 0 if empty.
pub(crate) fn quantile_ms(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"type": "status", "seq": 41, "sale_id": 3, "status": "open", "sold_out": false,
        "server_time_us": 1795377600012345, "joined": 15000, "prequeue": false, "prequeue_len": 9000,
        "admitted": 1200, "waiting": 13800, "active": 480, "rate_per_s": 100.0,
        "pow_bits": 12, "commitment": "9f", "seed": "3a", "available": 512}"#;

    #[test]
    fn parses_status_messages() {
        let s = parse_status(EXAMPLE).unwrap();
        assert_eq!(s, StatusLite { seq: 41, sold_out: false, prequeue: false, admitted: 1200 });
        let sold = parse_status(r#"{"type":"status","seq":7,"sold_out":true,"prequeue":true,"admitted":0}"#);
        assert_eq!(sold, Some(StatusLite { seq: 7, sold_out: true, prequeue: true, admitted: 0 }));
        // Other message types, missing seq, and garbage are not status messages.
        assert_eq!(parse_status(r#"{"type":"hello","seq":1}"#), None);
        assert_eq!(parse_status(r#"{"type":"status"}"#), None);
        assert_eq!(parse_status("not json"), None);
        // The full REST form parses too.
        let full: QueueStatus = serde_json::from_str(EXAMPLE).unwrap();
        assert_eq!((full.seq, full.prequeue_len, full.available), (41, Some(9000), 512));
        assert_eq!(full.seed.as_deref(), Some("3a"));
        let t: QueueTicket = serde_json::from_str(
            r#"{"sale_id": 3, "ticket": 812, "place": null, "admitted": false, "pass": null,
                "pass_expires_at": null, "pass_expires_at_us": null, "pass_state": "waiting"}"#,
        )
        .unwrap();
        assert_eq!((t.ticket, t.place, t.admitted, t.pass.is_none()), (812, None, false, true));
        let stats: ServerStats = serde_json::from_str(
            r#"{"ws_open": 15000, "ws_peak": 15003, "rss_kb": 251234, "open_files_limit": 20000}"#,
        )
        .unwrap();
        assert_eq!((stats.ws_peak, stats.rss_kb), (15003, Some(251234)));
    }

    #[test]
    fn hex_decoding() {
        let bytes: Vec<u8> = (0u8..32).collect();
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex32(&text).unwrap().to_vec(), bytes);
        assert_eq!(hex32(&text.to_uppercase()).unwrap().to_vec(), bytes);
        assert!(hex32(&text[2..]).is_none());
        assert!(hex32(&format!("zz{}", &text[2..])).is_none());
    }

    #[test]
    fn shuffle_is_a_permutation_and_deterministic() {
        let seed = [9u8; 32];
        let places = prequeue_places(&seed, 500);
        let mut sorted = places.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (1..=500).collect::<Vec<u32>>());
        assert_eq!(places, prequeue_places(&seed, 500));
        assert_ne!(places, prequeue_places(&[10u8; 32], 500));
        assert!(prequeue_places(&seed, 0).is_empty());
        // Place 1 holds the ticket with the smallest hash.
        let first = (1..=500u32)
            .min_by_key(|t| {
                let mut input = seed.to_vec();
                input.extend_from_slice(&t.to_le_bytes());
                *blake3::hash(&input).as_bytes()
            })
            .unwrap();
        assert_eq!(places[(first - 1) as usize], 1);
    }

    #[test]
    fn shuffle_matches_the_server() {
        let seed: [u8; 32] = *blake3::hash(b"seed").as_bytes();
        let order = stampede_core::prequeue_order(&seed, 300);
        let places = prequeue_places(&seed, 300);
        for (place, ticket) in (1u32..).zip(order) {
            assert_eq!(places[(ticket - 1) as usize], place);
        }
    }

    fn view(
        connected: bool,
        last_seq: Option<u64>,
        max_admitted: u64,
        place: Option<u32>,
        saw_sold_out: bool,
        still_waiting: bool,
    ) -> ClientView {
        ClientView { connected, last_seq, max_admitted, place, saw_sold_out, still_waiting }
    }

    fn client(last_seq: u64, max_admitted: u64, place: u32) -> ClientView {
        view(true, Some(last_seq), max_admitted, Some(place), true, false)
    }

    #[test]
    fn missed_updates() {
        let end = FinalRoom { seq: 50, admitted: 1000, sold_out: true };
        // Up to date, admitted and seen: fine. Not admitted yet: nothing to see.
        assert_eq!(count_missed(&[client(50, 1000, 10), client(51, 1000, 2000)], end).total, 0);
        // A stale client.
        let m = count_missed(&[client(49, 1000, 10)], end);
        assert_eq!((m.total, m.stale), (1, 1));
        // Admitted (place 900 <= 1000) but only saw admitted up to 800.
        let m = count_missed(&[client(50, 800, 900)], end);
        assert_eq!((m.total, m.admission, m.stale), (1, 1, 0));
        // Still waiting at a sell-out it never heard of; stale as well, counted once.
        let waiting = view(true, Some(40), 1000, Some(5000), false, true);
        let m = count_missed(&[waiting], end);
        assert_eq!((m.total, m.sold_out, m.stale), (1, 1, 1));
        // ... not a miss when the sale did not sell out.
        let m = count_missed(&[ClientView { last_seq: Some(50), ..waiting }], FinalRoom { sold_out: false, ..end });
        assert_eq!(m, Missed::default());
        // No message at all is stale; a client that never connected is not judged.
        let m = count_missed(&[view(true, None, 0, None, false, false)], end);
        assert_eq!((m.total, m.stale), (1, 1));
        assert_eq!(count_missed(&[ClientView::default()], end).total, 0);
        // A client whose place never became known cannot miss its admission.
        let m = count_missed(&[view(true, Some(50), 0, None, true, false)], end);
        assert_eq!(m.total, 0);
    }

    #[test]
    fn spreads_and_quantiles() {
        let ms = Duration::from_millis;
        assert_eq!(spread_ms([]), 0.0);
        assert_eq!(spread_ms([ms(5)]), 0.0);
        assert!((spread_ms([ms(30), ms(5), ms(12)]) - 25.0).abs() < 1e-9);
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_ms(&sorted, 0.5), 2.0);
        assert_eq!(quantile_ms(&sorted, 0.99), 4.0);
        assert_eq!(quantile_ms(&sorted, 0.0), 1.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }
}
