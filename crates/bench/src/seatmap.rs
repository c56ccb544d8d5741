//! The live seat map as a viewer keeps it, and the checks of the seats
//! scenario that need no network: applying the server's snapshot and delta
//! messages to a bitset, and finding seats acknowledged to two holds.
//!
//! Messages (`GET /api/sales/{id}/seats/ws`, and `GET .../seats` for the
//! snapshot alone):
//!
//! ```text
//! {"type":"snapshot","seq":1,"sale_id":3,"status":"open","seats":50000,"available":50000,
//!  "sections":[1250,...],"taken":"<base64 bitset: seat i is bit i % 8 of byte i / 8>"}
//! {"type":"delta","seq":2,"sale_id":3,"status":"open","available":49996,"sections":[1246,...],
//!  "taken":[0,1,2,3],"freed":[]}
//! ```
//!
//! A delta continues the previous message (`seq` one more); a viewer the
//! server skipped ahead gets a snapshot with a larger `seq` instead. After
//! each message the viewer's own counts must match the message's `available`
//! and per-section free counts.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// Decodes standard base64 (`A-Z a-z 0-9 + /`, padding optional).
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let body = text.trim_end_matches('=');
    if text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for chunk in body.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | value(c)?;
        }
        // A chunk of n characters holds n * 6 bits, of which (n - 1) bytes.
        let bits = chunk.len() as u32 * 6;
        let bytes = chunk.len() - 1;
        acc <<= 24 - bits;
        for k in 0..bytes {
            out.push((acc >> (16 - 8 * k)) as u8);
        }
    }
    Some(out)
}

/// Standard base64 with padding (for tests and messages).
#[cfg(test)]
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let acc = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[((acc >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The kind of a seat map message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Snapshot,
    Delta,
}

/// `taken`: the whole bitset (a snapshot) or the seats newly taken (a delta).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Taken {
    Bits(String),
    Ids(Vec<u32>),
}

impl<'de> Deserialize<'de> for Taken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Taken, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Taken;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 bitset or an array of seat ids")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Taken, E> {
                Ok(Taken::Bits(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Taken, A::Error> {
                let mut ids = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(id) = seq.next_element::<u32>()? {
                    ids.push(id);
                }
                Ok(Taken::Ids(ids))
            }
        }
        d.deserialize_any(V)
    }
}

/// One seat map message (fields the bench does not check are skipped).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Frame {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub seq: u64,
    /// Seats in the venue (snapshots only).
    #[serde(default)]
    pub seats: Option<u32>,
    pub available: u32,
    /// Free seats per section, in venue order.
    #[serde(default)]
    pub sections: Vec<u32>,
    pub taken: Taken,
    /// Seats given back (deltas only).
    #[serde(default)]
    pub freed: Vec<u32>,
}

impl Frame {
    pub fn parse(text: &str) -> Result<Frame, String> {
        serde_json::from_str(text).map_err(|e| format!("unparsable seat map message: {e}"))
    }
}

/// The venue's seat numbering as far as the map needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Numbering {
    pub seats: u32,
    /// First seat of each section, ascending, then `seats`.
    pub bounds: Vec<u32>,
}

impl Numbering {
    /// From the first seat of each section (ascending, starting at 0).
    pub fn new(seats: u32, section_starts: &[u32]) -> Numbering {
        let mut bounds = section_starts.to_vec();
        bounds.push(seats);
        Numbering { seats, bounds }
    }

    pub fn sections(&self) -> usize {
        self.bounds.len().saturating_sub(1)
    }

    pub fn section_of(&self, seat: u32) -> usize {
        self.bounds.partition_point(|&b| b <= seat).saturating_sub(1)
    }

    fn section_len(&self, section: usize) -> u32 {
        self.bounds[section + 1] - self.bounds[section]
    }

    pub fn bitset_len(&self) -> usize {
        (self.seats as usize).div_ceil(8)
    }
}

/// Bit `seat` of a bitset in the server's layout.
pub(crate) fn bit(bits: &[u8], seat: u32) -> bool {
    bits.get(seat as usize / 8).is_some_and(|b| b & (1 << (seat % 8)) != 0)
}

fn set_bit(bits: &mut [u8], seat: u32, on: bool) {
    if let Some(b) = bits.get_mut(seat as usize / 8) {
        if on {
            *b |= 1 << (seat % 8);
        } else {
            *b &= !(1 << (seat % 8));
        }
    }
}

/// Bits set among seats `from..to`.
fn count_range(bits: &[u8], from: u32, to: u32) -> u32 {
    let mut n = 0;
    let mut seat = from;
    // Bit by bit up to a byte boundary, then whole bytes, then the rest.
    while seat < to && !seat.is_multiple_of(8) {
        n += u32::from(bit(bits, seat));
        seat += 1;
    }
    while seat + 8 <= to {
        n += bits.get(seat as usize / 8).map_or(0, |b| b.count_ones());
        seat += 8;
    }
    while seat < to {
        n += u32::from(bit(bits, seat));
        seat += 1;
    }
    n
}

/// A bitset of `seats` seats with the given ones set (ids beyond are ignored).
pub(crate) fn bitset_of(seats: u32, taken: impl IntoIterator<Item = u32>) -> Vec<u8> {
    let mut bits = vec![0u8; (seats as usize).div_ceil(8)];
    for s in taken {
        if s < seats {
            set_bit(&mut bits, s, true);
        }
    }
    bits
}

/// Seats set in one bitset and not the other.
pub(crate) fn bits_differ(a: &[u8], b: &[u8]) -> u64 {
    let common: u64 = a.iter().zip(b).map(|(x, y)| u64::from((x ^ y).count_ones())).sum();
    let rest = |longer: &[u8], n: usize| -> u64 { longer[n..].iter().map(|x| u64::from(x.count_ones())).sum() };
    common + if a.len() > b.len() { rest(a, b.len()) } else { rest(b, a.len()) }
}

/// Decodes a snapshot's bitset for `numbering`, refusing a wrong length or
/// bits set beyond the last seat.
pub(crate) fn snapshot_bits(frame: &Frame, numbering: &Numbering) -> Result<Vec<u8>, String> {
    let Taken::Bits(text) = &frame.taken else {
        return Err("a snapshot whose `taken` is not a bitset".into());
    };
    if frame.seats.is_some_and(|s| s != numbering.seats) {
        return Err(format!("a snapshot of {:?} seats for a venue of {}", frame.seats, numbering.seats));
    }
    let bits = base64_decode(text).ok_or("a snapshot whose `taken` is not base64")?;
    if bits.len() != numbering.bitset_len() {
        return Err(format!("a bitset of {} bytes for {} seats", bits.len(), numbering.seats));
    }
    let tail = numbering.seats % 8;
    if tail != 0 && bits.last().is_some_and(|b| b >> tail != 0) {
        return Err("bits set beyond the last seat".into());
    }
    Ok(bits)
}

/// One viewer's copy of the seat map, with the time each seat's taken bit
/// first arrived.
#[derive(Debug, Clone)]
pub(crate) struct ViewerMap {
    bits: Vec<u8>,
    taken: u32,
    section_taken: Vec<u32>,
    last_seq: Option<u64>,
    /// A delta did not fit (a gap, a seat taken twice...): until the next
    /// snapshot the map is known to be off, and its counts are not compared.
    desynced: bool,
    /// Per seat: `1 +` the time (µs since the run's epoch) its taken bit first
    /// arrived; 0 while it never did.
    arrived: Vec<u32>,
    pub snapshots: u64,
    pub deltas: u64,
}

impl ViewerMap {
    pub fn new(numbering: &Numbering) -> ViewerMap {
        ViewerMap {
            bits: vec![0; numbering.bitset_len()],
            taken: 0,
            section_taken: vec![0; numbering.sections()],
            last_seq: None,
            desynced: false,
            arrived: vec![0; numbering.seats as usize],
            snapshots: 0,
            deltas: 0,
        }
    }

    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// When seat's taken bit first arrived (µs since the epoch).
    pub fn arrived(&self, seat: u32) -> Option<u32> {
        self.arrived.get(seat as usize).and_then(|&a| a.checked_sub(1))
    }

    fn mark(arrived: &mut [u32], seat: u32, at_us: u32) {
        if let Some(a) = arrived.get_mut(seat as usize)
            && *a == 0
        {
            *a = at_us.saturating_add(1);
        }
    }

    /// Applies one message received at `at_us`. An `Err` is a protocol error
    /// (one per message); whatever can be applied is applied anyway, so that
    /// later messages are judged on their own.
    pub fn apply(&mut self, frame: &Frame, numbering: &Numbering, at_us: u32) -> Result<(), String> {
        let mut problem = None;
        match frame.kind {
            Kind::Snapshot => {
                if let Some(last) = self.last_seq
                    && frame.seq <= last
                {
                    return Err(format!("snapshot seq {} after seq {last}", frame.seq));
                }
                let bits = snapshot_bits(frame, numbering)?;
                for (i, (&new, &old)) in bits.iter().zip(&self.bits).enumerate() {
                    let mut fresh = new & !old;
                    while fresh != 0 {
                        let k = fresh.trailing_zeros();
                        fresh &= fresh - 1;
                        Self::mark(&mut self.arrived, i as u32 * 8 + k, at_us);
                    }
                }
                self.bits = bits;
                self.recount(numbering);
                self.desynced = false;
                self.snapshots += 1;
            }
            Kind::Delta => {
                let Some(last) = self.last_seq else {
                    return Err(format!("delta seq {} before any snapshot", frame.seq));
                };
                if frame.seq != last + 1 {
                    problem = Some(format!("delta seq {} after seq {last}", frame.seq));
                }
                let Taken::Ids(taken) = &frame.taken else {
                    return Err("a delta whose `taken` is not a list of seats".into());
                };
                for &seat in taken {
                    if seat >= numbering.seats {
                        problem.get_or_insert_with(|| format!("delta takes seat {seat}, not in the venue"));
                    } else if bit(&self.bits, seat) {
                        problem.get_or_insert_with(|| format!("delta takes seat {seat}, already taken"));
                    } else {
                        set_bit(&mut self.bits, seat, true);
                        Self::mark(&mut self.arrived, seat, at_us);
                        self.taken += 1;
                        self.section_taken[numbering.section_of(seat)] += 1;
                    }
                }
                for &seat in &frame.freed {
                    if seat < numbering.seats && bit(&self.bits, seat) {
                        set_bit(&mut self.bits, seat, false);
                        self.taken -= 1;
                        self.section_taken[numbering.section_of(seat)] -= 1;
                    } else {
                        problem.get_or_insert_with(|| format!("delta frees seat {seat}, not taken"));
                    }
                }
                self.deltas += 1;
            }
        }
        self.last_seq = Some(self.last_seq.map_or(frame.seq, |l| l.max(frame.seq)));
        if let Some(p) = problem {
            self.desynced = true;
            return Err(p);
        }
        if self.desynced { Ok(()) } else { self.check_counts(frame, numbering) }
    }

    fn recount(&mut self, numbering: &Numbering) {
        self.taken = self.bits.iter().map(|b| b.count_ones()).sum();
        for (s, n) in self.section_taken.iter_mut().enumerate() {
            *n = count_range(&self.bits, numbering.bounds[s], numbering.bounds[s + 1]);
        }
    }

    /// The message's free counts against the map as it now is.
    fn check_counts(&self, frame: &Frame, numbering: &Numbering) -> Result<(), String> {
        let free = numbering.seats - self.taken;
        if frame.available != free {
            return Err(format!("seq {}: available {} but the map has {free} free seats", frame.seq, frame.available));
        }
        if frame.sections.len() != numbering.sections() {
            return Err(format!(
                "seq {}: {} section counts for {} sections",
                frame.seq,
                frame.sections.len(),
                numbering.sections()
            ));
        }
        for (s, (&said, &taken)) in frame.sections.iter().zip(&self.section_taken).enumerate() {
            let free = numbering.section_len(s) - taken;
            if said != free {
                return Err(format!(
                    "seq {}: section {s} has {said} free per the message, {free} per the map",
                    frame.seq
                ));
            }
        }
        Ok(())
    }
}

/// The outcome of [`double_sold`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct DoubleSold {
    /// Seats acknowledged to two (or more) different holds, each counted once.
    pub seats: u64,
    /// Acknowledged seat ids that are not in the venue.
    pub unknown: u64,
    /// The first few cases, for the report.
    pub examples: Vec<String>,
}

/// Finds seats that acknowledged answers gave to two different holds: `acks`
/// are `(hold id, seats)` of every acknowledged answer (a hold's and its
/// confirmation's answers both name the same hold, which is no conflict).
/// Every acknowledged hold is active for the whole run (none is cancelled,
/// and none lives long enough to expire), so any shared seat is sold twice.
pub(crate) fn double_sold<'a>(acks: impl IntoIterator<Item = (u64, &'a [u32])>, seats: u32) -> DoubleSold {
    let mut owner = vec![0u64; seats as usize];
    let mut counted = vec![false; seats as usize];
    let mut out = DoubleSold::default();
    for (hold, held) in acks {
        for &seat in held {
            let Some(o) = owner.get_mut(seat as usize) else {
                out.unknown += 1;
                continue;
            };
            if *o == 0 {
                *o = hold;
            } else if *o != hold && !counted[seat as usize] {
                counted[seat as usize] = true;
                out.seats += 1;
                if out.examples.len() < 5 {
                    out.examples.push(format!("seat {seat} acknowledged to holds {} and {hold}", *o));
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for n in 0..40usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let text = base64_encode(&bytes);
            assert_eq!(base64_decode(&text).unwrap(), bytes, "{text}");
            assert_eq!(base64_decode(text.trim_end_matches('=')).unwrap(), bytes);
        }
        assert_eq!(base64_decode("AAAAAAAAAAA=").unwrap(), vec![0; 8]);
        assert_eq!(base64_decode("/w==").unwrap(), vec![255]);
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("a$==").is_none());
        assert!(base64_decode("aa===").is_none());
    }

    /// Two sections: seats 0..10 and 10..20.
    fn numbering() -> Numbering {
        Numbering::new(20, &[0, 10])
    }

    fn snapshot(seq: u64, taken: &[u32]) -> Frame {
        let n = numbering();
        let bits = bitset_of(n.seats, taken.iter().copied());
        let in_first = taken.iter().filter(|&&s| s < 10).count() as u32;
        Frame {
            kind: Kind::Snapshot,
            seq,
            seats: Some(20),
            available: 20 - taken.len() as u32,
            sections: vec![10 - in_first, 10 - (taken.len() as u32 - in_first)],
            taken: Taken::Bits(base64_encode(&bits)),
            freed: vec![],
        }
    }

    fn delta(seq: u64, available: u32, sections: [u32; 2], taken: &[u32], freed: &[u32]) -> Frame {
        Frame {
            kind: Kind::Delta,
            seq,
            seats: None,
            available,
            sections: sections.to_vec(),
            taken: Taken::Ids(taken.to_vec()),
            freed: freed.to_vec(),
        }
    }

    #[test]
    fn parses_server_messages() {
        let s = Frame::parse(
            r#"{"type":"snapshot","seq":1,"sale_id":1,"status":"open","seats":60,"available":60,
               "sections":[15,15,15,15],"taken":"AAAAAAAAAAA="}"#,
        )
        .unwrap();
        assert_eq!((s.kind, s.seq, s.seats, s.available), (Kind::Snapshot, 1, Some(60), 60));
        assert_eq!(s.taken, Taken::Bits("AAAAAAAAAAA=".into()));
        let d = Frame::parse(
            r#"{"type":"delta","seq":2,"sale_id":1,"status":"open","available":57,"sections":[12,15,15,15],
               "taken":[0,1,2],"freed":[]}"#,
        )
        .unwrap();
        assert_eq!((d.kind, d.seq, d.available), (Kind::Delta, 2, 57));
        assert_eq!(d.taken, Taken::Ids(vec![0, 1, 2]));
        assert!(Frame::parse(r#"{"type":"status","seq":1}"#).is_err());
        assert!(Frame::parse("nope").is_err());
    }

    #[test]
    fn snapshot_then_deltas_in_order() {
        let n = numbering();
        let mut m = ViewerMap::new(&n);
        m.apply(&snapshot(5, &[3, 12]), &n, 100).unwrap();
        assert_eq!(m.last_seq(), Some(5));
        assert_eq!((m.arrived(3), m.arrived(12), m.arrived(4)), (Some(100), Some(100), None));
        m.apply(&delta(6, 16, [8, 8], &[4, 13], &[]), &n, 200).unwrap();
        assert_eq!((m.arrived(4), m.arrived(13), m.arrived(3)), (Some(200), Some(200), Some(100)));
        // Freed then taken again: the first arrival stays.
        m.apply(&delta(7, 17, [9, 8], &[], &[3]), &n, 300).unwrap();
        assert!(!bit(m.bits(), 3));
        m.apply(&delta(8, 16, [8, 8], &[3], &[]), &n, 400).unwrap();
        assert_eq!(m.arrived(3), Some(100));
        assert_eq!(m.bits(), bitset_of(20, [3, 4, 12, 13]).as_slice());
        assert_eq!((m.snapshots, m.deltas), (1, 3));
    }

    #[test]
    fn a_snapshot_after_a_skip_resynchronizes() {
        let n = numbering();
        let mut m = ViewerMap::new(&n);
        m.apply(&snapshot(1, &[]), &n, 10).unwrap();
        m.apply(&delta(2, 19, [9, 10], &[0], &[]), &n, 20).unwrap();
        // Skipped seq 3..=5: a snapshot with the jump is fine.
        m.apply(&snapshot(6, &[0, 1, 15]), &n, 60).unwrap();
        assert_eq!((m.arrived(0), m.arrived(1), m.arrived(15)), (Some(20), Some(60), Some(60)));
        m.apply(&delta(7, 16, [7, 9], &[2], &[]), &n, 70).unwrap();
        assert_eq!(m.last_seq(), Some(7));
        // An older snapshot is refused and not applied.
        assert!(m.apply(&snapshot(7, &[]), &n, 80).is_err());
        assert_eq!(m.bits(), bitset_of(20, [0, 1, 2, 15]).as_slice());
    }

    #[test]
    fn protocol_errors_are_reported() {
        let n = numbering();
        let mut m = ViewerMap::new(&n);
        // A delta before any snapshot.
        assert!(m.apply(&delta(1, 19, [9, 10], &[0], &[]), &n, 1).is_err());
        assert_eq!(m.last_seq(), None);
        m.apply(&snapshot(1, &[]), &n, 1).unwrap();
        // A gap: reported, but applied.
        let e = m.apply(&delta(3, 19, [9, 10], &[0], &[]), &n, 2).unwrap_err();
        assert!(e.contains("seq 3 after seq 1"), "{e}");
        assert!(bit(m.bits(), 0));
        // Taken twice.
        assert!(m.apply(&delta(4, 19, [9, 10], &[0], &[]), &n, 3).is_err());
        // Freed while free.
        assert!(m.apply(&delta(5, 19, [9, 10], &[], &[7]), &n, 4).is_err());
        // Out of step since the gap: counts are not compared (they would be
        // wrong after a lost delta) until a snapshot.
        assert!(m.apply(&delta(6, 5, [1, 2], &[1], &[]), &n, 5).is_ok());
        m.apply(&snapshot(10, &[0, 1]), &n, 5).unwrap();
        // Counts that do not match the map.
        assert!(m.apply(&delta(11, 17, [7, 10], &[5], &[]), &n, 5).is_ok());
        let e = m.apply(&delta(12, 17, [7, 10], &[2], &[]), &n, 6).unwrap_err();
        assert!(e.contains("available 17"), "{e}");
        let e = m.apply(&delta(13, 15, [6, 10], &[3], &[]), &n, 7).unwrap_err();
        assert!(e.contains("section 0"), "{e}");
        // Bad snapshots.
        let mut s = snapshot(20, &[]);
        s.taken = Taken::Bits("AAAAAA==".into());
        assert!(m.apply(&s, &n, 8).unwrap_err().contains("bytes"));
        let mut s = snapshot(21, &[]);
        s.taken = Taken::Bits(base64_encode(&[0, 0, 0xf0]));
        assert!(m.apply(&s, &n, 9).unwrap_err().contains("beyond"));
        let mut s = snapshot(22, &[]);
        s.seats = Some(21);
        assert!(m.apply(&s, &n, 10).is_err());
        let mut s = snapshot(23, &[]);
        s.taken = Taken::Ids(vec![]);
        assert!(m.apply(&s, &n, 11).is_err());
    }

    #[test]
    fn ranges_are_counted() {
        let bits = bitset_of(40, [0, 3, 7, 8, 15, 16, 17, 30, 39]);
        for from in 0..40 {
            for to in from..=40 {
                let want = (from..to).filter(|&s| bit(&bits, s)).count() as u32;
                assert_eq!(count_range(&bits, from, to), want, "{from}..{to}");
            }
        }
    }

    #[test]
    fn numbering_finds_sections() {
        let n = Numbering::new(20, &[0, 10, 15]);
        assert_eq!((n.section_of(0), n.section_of(9), n.section_of(10), n.section_of(19)), (0, 0, 1, 2));
        assert_eq!((n.sections(), n.bitset_len(), n.section_len(2)), (3, 3, 5));
        assert_eq!(bits_differ(&bitset_of(20, [1, 2]), &bitset_of(20, [2, 19])), 2);
        assert_eq!(bits_differ(&[1], &[1, 3]), 2);
    }

    #[test]
    fn double_sold_seats_are_found() {
        let a: &[u32] = &[1, 2, 3];
        let b: &[u32] = &[4, 5];
        let c: &[u32] = &[5, 6, 3];
        // A hold and its confirmation name the same seats: no conflict.
        let clean = double_sold([(1, a), (2, b), (1, a)], 10);
        assert_eq!(clean, DoubleSold::default());
        let bad = double_sold([(1, a), (2, b), (3, c), (4, c)], 10);
        assert_eq!(bad.seats, 3, "{:?}", bad.examples);
        assert!(bad.examples[0].contains("seat 5"));
        let unknown: &[u32] = &[10, 11];
        assert_eq!(double_sold([(1, unknown)], 10).unknown, 2);
    }
}
