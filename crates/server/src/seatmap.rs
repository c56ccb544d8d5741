//! The live seat map of seated sales: a compact snapshot, then coalesced deltas.
//!
//! Each sale's engine task publishes its durable state, including one bit per
//! seat (held or sold), after every durable batch. One broadcaster per watched
//! sale diffs consecutive bitsets into a delta (seats taken, seats freed, and
//! the free count of every section), at most one per [`DELTA_EVERY`] (10 a
//! second), and keeps the matching snapshot. A viewer gets the snapshot on
//! connect, then each delta in `seq` order; a viewer too slow to take every
//! delta (the watch channel only keeps the newest) gets a fresh snapshot
//! instead of a gap, so what it shows always adds up to the server's state.
//!
//! Each frame is encoded twice, once per socket that carries it: the seat
//! map's own socket (`GET /api/sales/{id}/seats/ws`, types `snapshot` and
//! `delta`) and the sale's live socket (`live/ws`, type `seats` with `form`
//! `snapshot` or `delta`, see `crate::live`); every viewer of either hands
//! out the same bytes. [`SeatCursor`] is the one rule of which a viewer gets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use base64::Engine as _;
use parking_lot::Mutex;
use serde::Serialize;
use stampede_core::{KindConfig, SaleConfig, SeatIndex};
use stampede_engine::{LiveView, SaleHandle};
use tokio::sync::watch;
use tokio::time::Instant;

/// Least time between two deltas: at most 10 messages a second per viewer.
pub const DELTA_EVERY: Duration = Duration::from_millis(100);

/// One published state of a sale's seat map.
#[derive(Debug)]
pub struct SeatFrame {
    pub seq: u64,
    /// As the seat map's own socket and `GET seats` send it.
    pub own: SeatTexts,
    /// As the sale's live socket sends it: type `seats`, with `form`.
    pub tagged: SeatTexts,
}

/// One seat-map state in one encoding.
#[derive(Debug)]
pub struct SeatTexts {
    /// The change from `seq - 1` (absent for the first frame).
    pub delta: Option<Utf8Bytes>,
    /// The whole map at `seq`.
    pub snapshot: Utf8Bytes,
}

/// What one viewer was last sent, so that the next delta continues it: a
/// viewer that skipped a frame (a watch keeps only the newest) or has
/// nothing yet gets the snapshot instead.
#[derive(Debug, Default)]
pub struct SeatCursor {
    sent: u64,
}

impl SeatCursor {
    /// The text of `frame` for this viewer, from the encoding `texts` picks.
    pub fn next(&mut self, frame: &SeatFrame, texts: impl Fn(&SeatFrame) -> &SeatTexts) -> Utf8Bytes {
        let texts = texts(frame);
        let text = match &texts.delta {
            Some(d) if self.sent != 0 && frame.seq == self.sent + 1 => d.clone(),
            _ => texts.snapshot.clone(),
        };
        self.sent = frame.seq;
        text
    }
}

/// The seat map as `GET /api/sales/{id}/seats` and a WebSocket viewer's first frame give it.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SeatMapSnapshot)]
pub struct Snapshot<'a> {
    /// `snapshot`; `seats` on the sale's live socket.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Only on the sale's live socket: `snapshot`.
    #[serde(skip_serializing_if = "Option::is_none")]
    form: Option<&'static str>,
    seq: u64,
    sale_id: u64,
    status: &'static str,
    seats: u32,
    available: u32,
    /// Free seats per section, in venue order.
    sections: &'a [u32],
    /// base64 of the taken bitset: seat `i` is bit `i % 8` of byte `i / 8`.
    taken: &'a str,
}

/// What changed on the seat map since the message of `seq - 1`.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = SeatMapDelta)]
pub struct Delta<'a> {
    /// `delta`; `seats` on the sale's live socket.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Only on the sale's live socket: `delta`.
    #[serde(skip_serializing_if = "Option::is_none")]
    form: Option<&'static str>,
    seq: u64,
    sale_id: u64,
    status: &'static str,
    available: u32,
    /// Free seats per section, in venue order.
    sections: &'a [u32],
    /// Seats held or sold since `seq - 1`.
    taken: &'a [u32],
    /// Seats free again since `seq - 1`.
    freed: &'a [u32],
}

/// Broadcasters by sale, started on first watch, and each seated sale's
/// immutable layout and seat numbering, computed once.
#[derive(Default)]
pub struct SeatMapHub {
    sales: Mutex<BTreeMap<u64, watch::Receiver<Arc<SeatFrame>>>>,
    layouts: Mutex<BTreeMap<u64, bytes::Bytes>>,
    indexes: Mutex<BTreeMap<u64, Arc<SeatIndex>>>,
}

impl SeatMapHub {
    /// The sale's layout JSON, serialized on first use (a stadium's is a few
    /// megabytes of work, and it never changes).
    pub fn layout<T: Serialize>(
        &self,
        sale: u64,
        make: impl FnOnce() -> Option<T>,
    ) -> Result<bytes::Bytes, crate::problem::ApiError> {
        if let Some(b) = self.layouts.lock().get(&sale) {
            return Ok(b.clone());
        }
        let value = make().ok_or_else(|| crate::problem::ApiError::internal(&"seated sale without seats"))?;
        let text = serde_json::to_vec(&value).map_err(|e| crate::problem::ApiError::internal(&e))?;
        let bytes = bytes::Bytes::from(text);
        self.layouts.lock().insert(sale, bytes.clone());
        Ok(bytes)
    }

    /// The sale's seat numbering (empty for other kinds).
    pub fn index(&self, sale: u64, config: &SaleConfig) -> Arc<SeatIndex> {
        if let Some(i) = self.indexes.lock().get(&sale) {
            return i.clone();
        }
        let index = Arc::new(match &config.kind {
            KindConfig::Seated(c) => SeatIndex::new(&c.venue),
            _ => SeatIndex::new(&stampede_core::Venue { name: String::new(), sections: Vec::new() }),
        });
        self.indexes.lock().insert(sale, index.clone());
        index
    }

    /// A watch of the sale's seat map; `None` for a sale without seats.
    pub fn watch(&self, sale: &SaleHandle) -> Option<watch::Receiver<Arc<SeatFrame>>> {
        let mut sales = self.sales.lock();
        if let Some(rx) = sales.get(&sale.id)
            && rx.has_changed().is_ok()
        {
            return Some(rx.clone());
        }
        let mut source = sale.live();
        let first = source.borrow_and_update().clone();
        let bits = first.seats_taken.clone()?;
        let mut broadcaster = Broadcaster { sale: sale.id, seq: 0 };
        let frame = broadcaster.frame(&first, &bits, None);
        let (tx, rx) = watch::channel(Arc::new(frame));
        tokio::spawn(broadcaster.run(source, tx, bits));
        sales.insert(sale.id, rx.clone());
        Some(rx)
    }
}

struct Broadcaster {
    sale: u64,
    seq: u64,
}

/// Seats whose bit differs between `old` and `new`, split into taken and freed.
pub fn diff(old: &[u64], new: &[u64]) -> (Vec<u32>, Vec<u32>) {
    let (mut taken, mut freed) = (Vec::new(), Vec::new());
    for (w, (a, b)) in old.iter().zip(new).enumerate() {
        let mut changed = a ^ b;
        while changed != 0 {
            let bit = changed.trailing_zeros();
            changed &= changed - 1;
            let seat = u32::try_from(w * 64).unwrap_or(u32::MAX).saturating_add(bit);
            if b & (1 << bit) != 0 {
                taken.push(seat);
            } else {
                freed.push(seat);
            }
        }
    }
    (taken, freed)
}

/// The bitset as bytes, seat `i` at bit `i % 8` of byte `i / 8`.
pub fn bitset_bytes(words: &[u64], seats: u32) -> Vec<u8> {
    let mut bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    bytes.truncate((seats as usize).div_ceil(8));
    bytes
}

impl Broadcaster {
    fn frame(&mut self, live: &LiveView, bits: &[u64], previous: Option<&[u64]>) -> SeatFrame {
        self.seq += 1;
        let (seats, available, sections) = match &live.view.seats {
            Some(v) => (v.total, v.available, v.section_available.as_slice()),
            None => (0, 0, &[][..]),
        };
        let status = live.view.status.as_str();
        // The base64 and the diff are made once for both encodings.
        let taken = base64::engine::general_purpose::STANDARD.encode(bitset_bytes(bits, seats));
        let change = previous.map(|old| diff(old, bits));
        let texts = |kind: &'static str, form: Option<&'static str>, delta_kind: &'static str| SeatTexts {
            snapshot: json(&Snapshot {
                kind,
                form,
                seq: self.seq,
                sale_id: self.sale,
                status,
                seats,
                available,
                sections,
                taken: &taken,
            }),
            delta: change.as_ref().map(|(taken, freed)| {
                json(&Delta {
                    kind: delta_kind,
                    form: form.map(|_| "delta"),
                    seq: self.seq,
                    sale_id: self.sale,
                    status,
                    available,
                    sections,
                    taken,
                    freed,
                })
            }),
        };
        SeatFrame {
            seq: self.seq,
            own: texts("snapshot", None, "delta"),
            tagged: texts("seats", Some("snapshot"), "seats"),
        }
    }

    async fn run(
        mut self,
        mut source: watch::Receiver<Arc<LiveView>>,
        tx: watch::Sender<Arc<SeatFrame>>,
        mut last_bits: Arc<[u64]>,
    ) {
        let mut last_at = Instant::now();
        let mut last_status = source.borrow().view.status;
        loop {
            if source.changed().await.is_err() {
                return;
            }
            let mut next = source.borrow_and_update().clone();
            // A status change (open, closed) goes out at once; seat changes are coalesced.
            if next.view.status == last_status {
                tokio::time::sleep_until(last_at + DELTA_EVERY).await;
                next = source.borrow_and_update().clone();
            }
            let Some(bits) = next.seats_taken.clone() else { return };
            if bits == last_bits && next.view.status == last_status {
                continue;
            }
            let frame = self.frame(&next, &bits, Some(&last_bits));
            tx.send_replace(Arc::new(frame));
            last_bits = bits;
            last_status = next.view.status;
            last_at = Instant::now();
        }
    }
}

fn json<T: Serialize>(value: &T) -> Utf8Bytes {
    // Plain structs of numbers and strings: serializing cannot fail.
    Utf8Bytes::from(serde_json::to_string(value).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_splits_taken_and_freed() {
        let old = [0b1010u64, 0];
        let new = [0b0110u64, 1 << 3];
        assert_eq!(diff(&old, &new), (vec![2, 67], vec![3]));
    }

    #[test]
    fn bitset_bytes_are_little_endian_and_trimmed() {
        assert_eq!(bitset_bytes(&[0x0102], 10), vec![0x02, 0x01]);
        assert_eq!(bitset_bytes(&[u64::MAX, 1], 65), vec![0xff; 8].into_iter().chain([1]).collect::<Vec<_>>());
    }
}
