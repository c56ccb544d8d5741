//! The binary record encoding (record versions 3 and 4): what a log entry's
//! payload holds for every sale created since log format v2. Versions 1 and
//! 2 spelled a record as JSON, about 200 bytes for a stock hold; this frame
//! spells the same [`Record`] in about 40. It means exactly what the JSON
//! meant (a record decodes to the same `Record` value, with the same
//! outcome digest), so everything after decoding is shared.
//!
//! A payload is `version (u8) · tag (u8) · body`; JSON payloads start with
//! `{`, so the first byte tells the two apart. Integers are LEB128 varints
//! unless they are uniformly random 64-bit values (pseudonyms, nonces, sealed
//! address tags), which are 8 bytes little-endian: a varint of those is 9–10.
//! Text is `varint length · UTF-8`.
//!
//! - tag 0, `create`: the sale's configuration as its version-1 JSON
//!   ([`ConfigV1`]): written once per sale, and the one shape that already
//!   decodes forever.
//! - tag 1, `cmd`: `by` · key · action · outcome (see [`put_key`],
//!   [`put_action`], [`put_outcome`]).
//! - tag 2, `tick`: nothing.
//!
//! Written once; decoded the same way forever. The test vectors at the end
//! pin the bytes.

use super::v1::drop::DropActionV1;
use super::v1::frame::FrameActionV1;
use super::v1::holds::HoldActionV1;
use super::v1::seated::{AreaV1, SeatedActionV1};
use super::v1::stock::StockActionV1;
use super::{ActionV1, ConfigV1, OutcomeV1, Record, RecordError};

/// Binary records with people as they are.
pub const BINARY_RECORD_VERSION: u16 = 3;
/// Binary records with people sealed as pseudonyms ([`crate::persons`]).
pub const SEALED_BINARY_RECORD_VERSION: u16 = 4;

const TAG_CREATE: u8 = 0;
const TAG_CMD: u8 = 1;
const TAG_TICK: u8 = 2;

/// An idempotency key as text.
const KEY_TEXT: u8 = 0;
/// 32 lower-case hex digits (every sealed key, [`crate::persons::SaleSeal::key`]) as their 16 bytes.
const KEY_HEX128: u8 = 1;
/// A lower-case hyphenated UUID (what most clients send) as its 16 bytes.
const KEY_UUID: u8 = 2;

/// Action tags. 0 carries the action's version-1 JSON: rare actions (an
/// organizer's edit, a gate's scan: one per ticket, not per click) need no
/// frame of their own.
const ACTION_JSON: u8 = 0;
const ACTION_RESERVE: u8 = 1;
const ACTION_CONFIRM: u8 = 2;
const ACTION_CANCEL: u8 = 3;
const ACTION_REFUND: u8 = 4;
const ACTION_CLICK: u8 = 5;
const ACTION_OPEN: u8 = 6;
const ACTION_CLOSE: u8 = 7;
const ACTION_JOIN: u8 = 8;
const ACTION_SET_POW_BITS: u8 = 9;
const ACTION_ARCHIVE: u8 = 10;
const ACTION_HOLD_SEATS: u8 = 11;
const ACTION_HOLD_BEST: u8 = 12;
const ACTION_RELEASE_SEAT: u8 = 13;
const ACTION_SWAP_SEAT: u8 = 14;

const AREA_ANY: u8 = 0;
const AREA_SECTION: u8 = 1;
const AREA_TIER: u8 = 2;

/// Outcome names written as their index + 1 in this list (0: the name as
/// text follows). Only ever appended to: an index is forever.
const OUTCOME_NAMES: &[&str] = &[
    "held",
    "confirmed",
    "cancelled",
    "refunded",
    "clicked",
    "opened",
    "closed",
    "ticked",
    "edited",
    "archived",
    "joined",
    "pow_set",
    "rejected",
    "seats_held",
    "seats_confirmed",
    "seats_cancelled",
    "seats_refunded",
    "seat_released",
    "seat_swapped",
];

/// Which optional fields of an outcome follow its name, one bit each.
const HAS_HOLD: u8 = 1;
const HAS_QUANTITY: u8 = 2;
const HAS_RANK: u8 = 4;
const HAS_TICKET: u8 = 8;
const HAS_REASON: u8 = 16;
const HAS_SEATS: u8 = 32;

/// Whether `version` is one of this encoding's.
pub fn is_binary(version: u16) -> bool {
    version == BINARY_RECORD_VERSION || version == SEALED_BINARY_RECORD_VERSION
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A person: fixed width when sealed (a pseudonym is uniformly random).
fn put_person(out: &mut Vec<u8>, sealed: bool, person: u64) {
    if sealed {
        out.extend_from_slice(&person.to_le_bytes());
    } else {
        put_varint(out, person);
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

/// 32 lower-case hex digits as 16 bytes; `None` for any other text (upper
/// case included: the key must come back as the very same text).
fn hex128(text: &[u8]) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        out[i] = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

/// Where a UUID's hyphens are.
const UUID_HYPHENS: [usize; 4] = [8, 13, 18, 23];

fn uuid128(text: &[u8]) -> Option<[u8; 16]> {
    if text.len() != 36 || UUID_HYPHENS.iter().any(|&i| text[i] != b'-') {
        return None;
    }
    let mut digits = [0u8; 32];
    let mut n = 0;
    for (i, &b) in text.iter().enumerate() {
        if !UUID_HYPHENS.contains(&i) {
            digits[n] = b;
            n += 1;
        }
    }
    hex128(&digits)
}

fn put_key(out: &mut Vec<u8>, key: &str) {
    if let Some(bytes) = hex128(key.as_bytes()) {
        out.push(KEY_HEX128);
        out.extend_from_slice(&bytes);
    } else if let Some(bytes) = uuid128(key.as_bytes()) {
        out.push(KEY_UUID);
        out.extend_from_slice(&bytes);
    } else {
        out.push(KEY_TEXT);
        put_bytes(out, key.as_bytes());
    }
}

fn put_json<T: serde::Serialize>(out: &mut Vec<u8>, value: &T) {
    put_bytes(out, &serde_json::to_vec(value).unwrap_or_default());
}

fn put_people(out: &mut Vec<u8>, sealed: bool, people: &[u64]) {
    put_varint(out, people.len() as u64);
    for p in people {
        put_person(out, sealed, *p);
    }
}

fn put_seats(out: &mut Vec<u8>, seats: &[u32]) {
    put_varint(out, seats.len() as u64);
    for s in seats {
        put_varint(out, u64::from(*s));
    }
}

fn put_action(out: &mut Vec<u8>, sealed: bool, action: &ActionV1) {
    match action {
        ActionV1::Stock(StockActionV1::Reserve { quantity }) => {
            out.push(ACTION_RESERVE);
            put_varint(out, u64::from(*quantity));
        }
        ActionV1::Holds(HoldActionV1::Confirm { hold }) => {
            out.push(ACTION_CONFIRM);
            put_varint(out, *hold);
        }
        ActionV1::Holds(HoldActionV1::Cancel { hold }) => {
            out.push(ACTION_CANCEL);
            put_varint(out, *hold);
        }
        ActionV1::Holds(HoldActionV1::Refund { order }) => {
            out.push(ACTION_REFUND);
            put_varint(out, *order);
        }
        ActionV1::Drop(DropActionV1::Click) => out.push(ACTION_CLICK),
        ActionV1::Frame(FrameActionV1::Open) => out.push(ACTION_OPEN),
        ActionV1::Frame(FrameActionV1::Close) => out.push(ACTION_CLOSE),
        ActionV1::Frame(FrameActionV1::Join { nonce, address }) => {
            out.push(ACTION_JOIN);
            out.extend_from_slice(&nonce.to_le_bytes());
            put_person(out, sealed, *address);
        }
        ActionV1::Frame(FrameActionV1::SetPowBits { bits }) => {
            out.push(ACTION_SET_POW_BITS);
            out.push(*bits);
        }
        ActionV1::Frame(FrameActionV1::Archive) => out.push(ACTION_ARCHIVE),
        ActionV1::Seated(SeatedActionV1::HoldSeats { seats, holders }) => {
            out.push(ACTION_HOLD_SEATS);
            put_seats(out, seats);
            put_people(out, sealed, holders);
        }
        ActionV1::Seated(SeatedActionV1::HoldBest { area, count, holders }) => {
            out.push(ACTION_HOLD_BEST);
            match area {
                AreaV1::Any => out.push(AREA_ANY),
                AreaV1::Section(s) => {
                    out.push(AREA_SECTION);
                    put_varint(out, u64::from(*s));
                }
                AreaV1::Tier(t) => {
                    out.push(AREA_TIER);
                    put_bytes(out, t.as_bytes());
                }
            }
            put_varint(out, u64::from(*count));
            put_people(out, sealed, holders);
        }
        ActionV1::Seated(SeatedActionV1::ReleaseSeat { order, seat }) => {
            out.push(ACTION_RELEASE_SEAT);
            put_varint(out, *order);
            put_varint(out, u64::from(*seat));
        }
        ActionV1::Seated(SeatedActionV1::SwapSeat { order, from, to }) => {
            out.push(ACTION_SWAP_SEAT);
            put_varint(out, *order);
            put_varint(out, u64::from(*from));
            put_varint(out, u64::from(*to));
        }
        rare @ (ActionV1::Frame(FrameActionV1::Edit { .. }) | ActionV1::Tickets(_)) => {
            out.push(ACTION_JSON);
            put_json(out, rare);
        }
    }
}

fn put_outcome(out: &mut Vec<u8>, o: &OutcomeV1) {
    match OUTCOME_NAMES.iter().position(|n| *n == o.kind) {
        Some(i) => out.push(i as u8 + 1),
        None => {
            out.push(0);
            put_bytes(out, o.kind.as_bytes());
        }
    }
    let flags = [
        (o.hold.is_some(), HAS_HOLD),
        (o.quantity.is_some(), HAS_QUANTITY),
        (o.rank.is_some(), HAS_RANK),
        (o.ticket.is_some(), HAS_TICKET),
        (o.reason.is_some(), HAS_REASON),
        (o.seats.is_some(), HAS_SEATS),
    ]
    .iter()
    .filter(|(present, _)| *present)
    .fold(0, |acc, (_, bit)| acc | bit);
    out.push(flags);
    if let Some(hold) = o.hold {
        put_varint(out, hold);
    }
    for n in [o.quantity, o.rank, o.ticket].into_iter().flatten() {
        put_varint(out, u64::from(n));
    }
    if let Some(reason) = &o.reason {
        put_bytes(out, reason.as_bytes());
    }
    if let Some(seats) = &o.seats {
        put_seats(out, seats);
    }
}

/// The payload of `record`, whose version must be 3 or 4.
pub(super) fn encode(record: &Record) -> Vec<u8> {
    let version = record.version();
    let sealed = version == SEALED_BINARY_RECORD_VERSION;
    let mut out = Vec::with_capacity(48);
    // Both binary versions fit a byte; `decode` refuses any other.
    out.push(version as u8);
    match record {
        Record::Create { config, .. } => {
            out.push(TAG_CREATE);
            out.extend_from_slice(&serde_json::to_vec(config).unwrap_or_default());
        }
        Record::Cmd { by, key, action, out: outcome, .. } => {
            out.push(TAG_CMD);
            put_person(&mut out, sealed, *by);
            put_key(&mut out, key);
            put_action(&mut out, sealed, action);
            put_outcome(&mut out, outcome);
        }
        Record::Tick { .. } => out.push(TAG_TICK),
    }
    out
}

/// Reads a payload front to back; every read fails cleanly at its end.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
}

const TRUNCATED: RecordError = RecordError::Invalid("binary record ends early");

impl<'a> Reader<'a> {
    pub(crate) fn byte(&mut self) -> Result<u8, RecordError> {
        let (&first, rest) = self.bytes.split_first().ok_or(TRUNCATED)?;
        self.bytes = rest;
        Ok(first)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        if self.bytes.len() < n {
            return Err(TRUNCATED);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(crate) fn varint(&mut self) -> Result<u64, RecordError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let part = u64::from(b & 0x7f);
            // The tenth byte may only carry the top bit of a u64.
            if shift == 63 && part > 1 {
                break;
            }
            value |= part << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(RecordError::Invalid("varint out of range"))
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        u32::try_from(self.varint()?).map_err(|_| RecordError::Invalid("number out of range"))
    }

    fn fixed64(&mut self) -> Result<u64, RecordError> {
        let bytes = self.take(8)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(word))
    }

    fn person(&mut self, sealed: bool) -> Result<u64, RecordError> {
        if sealed { self.fixed64() } else { self.varint() }
    }

    fn bytes(&mut self) -> Result<&'a [u8], RecordError> {
        let len = usize::try_from(self.varint()?).map_err(|_| TRUNCATED)?;
        self.take(len)
    }

    pub(crate) fn text(&mut self) -> Result<String, RecordError> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| RecordError::Invalid("text is not UTF-8"))
    }

    fn key(&mut self) -> Result<String, RecordError> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let kind = self.byte()?;
        if kind == KEY_TEXT {
            return self.text();
        }
        let raw = self.take(16)?;
        let mut text = String::with_capacity(36);
        for (i, b) in raw.iter().enumerate() {
            if kind == KEY_UUID && matches!(i, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(DIGITS[usize::from(b >> 4)]));
            text.push(char::from(DIGITS[usize::from(b & 0xf)]));
        }
        match kind {
            KEY_HEX128 | KEY_UUID => Ok(text),
            _ => Err(RecordError::Invalid("idempotency key kind")),
        }
    }

    fn seats(&mut self) -> Result<Vec<u32>, RecordError> {
        let n = self.varint()?;
        // Each seat takes a byte at least: a count beyond the rest is a lie,
        // and must not reserve memory.
        if n > self.bytes.len() as u64 {
            return Err(TRUNCATED);
        }
        (0..n).map(|_| self.u32()).collect()
    }

    fn people(&mut self, sealed: bool) -> Result<Vec<u64>, RecordError> {
        let n = self.varint()?;
        if n > self.bytes.len() as u64 {
            return Err(TRUNCATED);
        }
        (0..n).map(|_| self.person(sealed)).collect()
    }

    fn action(&mut self, sealed: bool) -> Result<ActionV1, RecordError> {
        Ok(match self.byte()? {
            ACTION_JSON => {
                let json = self.bytes()?;
                let action: ActionV1 = serde_json::from_slice(json)?;
                if !matches!(action, ActionV1::Frame(FrameActionV1::Edit { .. }) | ActionV1::Tickets(_)) {
                    // Each other action has one spelling only: its frame.
                    return Err(RecordError::Invalid("action spelled as JSON"));
                }
                action
            }
            ACTION_RESERVE => ActionV1::Stock(StockActionV1::Reserve { quantity: self.u32()? }),
            ACTION_CONFIRM => ActionV1::Holds(HoldActionV1::Confirm { hold: self.varint()? }),
            ACTION_CANCEL => ActionV1::Holds(HoldActionV1::Cancel { hold: self.varint()? }),
            ACTION_REFUND => ActionV1::Holds(HoldActionV1::Refund { order: self.varint()? }),
            ACTION_CLICK => ActionV1::Drop(DropActionV1::Click),
            ACTION_OPEN => ActionV1::Frame(FrameActionV1::Open),
            ACTION_CLOSE => ActionV1::Frame(FrameActionV1::Close),
            ACTION_JOIN => {
                ActionV1::Frame(FrameActionV1::Join { nonce: self.fixed64()?, address: self.person(sealed)? })
            }
            ACTION_SET_POW_BITS => ActionV1::Frame(FrameActionV1::SetPowBits { bits: self.byte()? }),
            ACTION_ARCHIVE => ActionV1::Frame(FrameActionV1::Archive),
            ACTION_HOLD_SEATS => {
                ActionV1::Seated(SeatedActionV1::HoldSeats { seats: self.seats()?, holders: self.people(sealed)? })
            }
            ACTION_HOLD_BEST => {
                let area = match self.byte()? {
                    AREA_ANY => AreaV1::Any,
                    AREA_SECTION => AreaV1::Section(
                        u16::try_from(self.varint()?).map_err(|_| RecordError::Invalid("section out of range"))?,
                    ),
                    AREA_TIER => AreaV1::Tier(self.text()?),
                    _ => return Err(RecordError::Invalid("seat area kind")),
                };
                let count = self.u32()?;
                ActionV1::Seated(SeatedActionV1::HoldBest { area, count, holders: self.people(sealed)? })
            }
            ACTION_RELEASE_SEAT => {
                ActionV1::Seated(SeatedActionV1::ReleaseSeat { order: self.varint()?, seat: self.u32()? })
            }
            ACTION_SWAP_SEAT => {
                ActionV1::Seated(SeatedActionV1::SwapSeat { order: self.varint()?, from: self.u32()?, to: self.u32()? })
            }
            _ => return Err(RecordError::Invalid("action tag")),
        })
    }

    fn outcome(&mut self) -> Result<OutcomeV1, RecordError> {
        let kind = match self.byte()? {
            0 => self.text()?,
            n => (*OUTCOME_NAMES.get(usize::from(n) - 1).ok_or(RecordError::Invalid("outcome name"))?).to_owned(),
        };
        let flags = self.byte()?;
        if flags & !(HAS_HOLD | HAS_QUANTITY | HAS_RANK | HAS_TICKET | HAS_REASON | HAS_SEATS) != 0 {
            return Err(RecordError::Invalid("outcome fields"));
        }
        let mut o = OutcomeV1::named(&kind);
        o.hold = if flags & HAS_HOLD != 0 { Some(self.varint()?) } else { None };
        o.quantity = if flags & HAS_QUANTITY != 0 { Some(self.u32()?) } else { None };
        o.rank = if flags & HAS_RANK != 0 { Some(self.u32()?) } else { None };
        o.ticket = if flags & HAS_TICKET != 0 { Some(self.u32()?) } else { None };
        o.reason = if flags & HAS_REASON != 0 { Some(self.text()?) } else { None };
        o.seats = if flags & HAS_SEATS != 0 { Some(self.seats()?) } else { None };
        Ok(o)
    }
}

/// Reads a binary payload (its first byte is 3 or 4).
pub(super) fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
    let mut r = Reader { bytes };
    let v = u16::from(r.byte()?);
    if !is_binary(v) {
        return Err(RecordError::UnknownVersion(v));
    }
    let sealed = v == SEALED_BINARY_RECORD_VERSION;
    let record = match r.byte()? {
        TAG_CREATE => {
            let config: ConfigV1 = serde_json::from_slice(r.bytes)?;
            r.bytes = &[];
            Record::Create { v, config }
        }
        TAG_CMD => {
            let by = r.person(sealed)?;
            let key = r.key()?;
            let action = r.action(sealed)?;
            let out = r.outcome()?;
            Record::Cmd { v, by, key, action, out }
        }
        TAG_TICK => Record::Tick { v },
        _ => return Err(RecordError::Invalid("record tag")),
    };
    if !r.bytes.is_empty() {
        return Err(RecordError::Invalid("bytes after the record"));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::v1::tickets::{ScanV1, TicketActionV1, TicketV1};

    fn cmd(v: u16, by: u64, key: &str, action: ActionV1, out: OutcomeV1) -> Record {
        Record::Cmd { v, by, key: key.into(), action, out }
    }

    fn held(hold: u64, quantity: u32) -> OutcomeV1 {
        OutcomeV1 { hold: Some(hold), quantity: Some(quantity), ..OutcomeV1::named("held") }
    }

    /// The bytes of a sealed stock hold, as the server writes one. A change
    /// here is a change of the format: old logs would stop replaying.
    #[test]
    fn a_sealed_stock_hold_is_pinned() {
        let rec = cmd(
            4,
            0x0123_4567_89ab_cdef,
            "00112233445566778899aabbccddeeff",
            ActionV1::Stock(StockActionV1::Reserve { quantity: 2 }),
            held(300, 2),
        );
        let bytes = rec.encode();
        let want: &[u8] = &[
            4, 1, // version 4, cmd
            0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // by, 8 bytes LE
            1, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee,
            0xff, // key: 16 bytes
            1, 2, // reserve 2
            1, 3, 0xac, 0x02, 2, // held, hold + quantity, 300, 2
        ];
        assert_eq!(bytes, want);
        assert_eq!(Record::decode(&bytes).unwrap_or_else(|e| panic!("{e}")), rec);
    }

    #[test]
    fn plain_records_are_pinned() {
        let uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        let rec = cmd(
            3,
            7,
            uuid,
            ActionV1::Holds(HoldActionV1::Confirm { hold: 5 }),
            OutcomeV1 { reason: Some("sold-out".into()), ..OutcomeV1::named("rejected") },
        );
        let bytes = rec.encode();
        let mut want = vec![3, 1, 7, 2];
        want.extend_from_slice(&[
            0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
        ]);
        want.extend_from_slice(&[2, 5, 13, 16, 8]);
        want.extend_from_slice(b"sold-out");
        assert_eq!(bytes, want);
        assert_eq!(Record::decode(&bytes).unwrap_or_else(|e| panic!("{e}")), rec);
        assert_eq!(Record::Tick { v: 3 }.encode(), [3, 2]);
        let text = cmd(
            3,
            300,
            "K-1",
            ActionV1::Drop(DropActionV1::Click),
            OutcomeV1 { rank: Some(1), ..OutcomeV1::named("new-kind") },
        );
        let mut want = vec![3, 1, 0xac, 0x02, 0, 3];
        want.extend_from_slice(b"K-1");
        want.extend_from_slice(&[5, 0, 8]);
        want.extend_from_slice(b"new-kind");
        want.extend_from_slice(&[HAS_RANK, 1]);
        assert_eq!(text.encode(), want);
        assert_eq!(Record::decode(&want).unwrap_or_else(|e| panic!("{e}")), text);
    }

    #[test]
    fn keys_come_back_as_the_very_same_text() {
        for key in [
            "00112233445566778899aabbccddeeff",
            "00112233445566778899AABBCCDDEEFF",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0",
            "0f1e2d3c4-b5a-6978-8796-a5b4c3d2e1f0",
            "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f",
            "x",
            "alice@example.com",
        ] {
            let rec = cmd(3, 1, key, ActionV1::Drop(DropActionV1::Click), OutcomeV1::named("clicked"));
            assert_eq!(Record::decode(&rec.encode()).unwrap_or_else(|e| panic!("{key}: {e}")), rec, "{key}");
        }
    }

    #[test]
    fn every_action_round_trips() {
        let actions = [
            ActionV1::Holds(HoldActionV1::Cancel { hold: 1 << 40 }),
            ActionV1::Holds(HoldActionV1::Refund { order: 3 }),
            ActionV1::Frame(FrameActionV1::Open),
            ActionV1::Frame(FrameActionV1::Close),
            ActionV1::Frame(FrameActionV1::Join { nonce: u64::MAX, address: 12 }),
            ActionV1::Frame(FrameActionV1::SetPowBits { bits: 20 }),
            ActionV1::Frame(FrameActionV1::Archive),
            ActionV1::Frame(FrameActionV1::Edit {
                title: Some("t".into()),
                description: None,
                opens_at_us: None,
                closes_at_us: None,
                terms: None,
            }),
            ActionV1::Seated(SeatedActionV1::HoldSeats { seats: vec![1, 70_000], holders: vec![u64::MAX, 2] }),
            ActionV1::Seated(SeatedActionV1::HoldBest { area: AreaV1::Any, count: 2, holders: vec![] }),
            ActionV1::Seated(SeatedActionV1::HoldBest { area: AreaV1::Section(3), count: 1, holders: vec![4] }),
            ActionV1::Seated(SeatedActionV1::HoldBest { area: AreaV1::Tier("R".into()), count: 1, holders: vec![] }),
            ActionV1::Seated(SeatedActionV1::ReleaseSeat { order: 4, seat: 9 }),
            ActionV1::Seated(SeatedActionV1::SwapSeat { order: 4, from: 9, to: 10 }),
            ActionV1::Tickets(TicketActionV1::TransferTicket { ticket: 3, to: u64::MAX }),
            ActionV1::Tickets(TicketActionV1::Admit {
                gate: 1 << 52,
                ticket: TicketV1 { sale: 1, ticket: 3, unit: None, seat: Some(17), holder: u64::MAX, generation: 2 },
            }),
            ActionV1::Tickets(TicketActionV1::SyncScans {
                gate: 7,
                scans: vec![ScanV1 {
                    nonce: 9,
                    scanned_at_us: -5,
                    ticket: TicketV1 { sale: 1, ticket: 4, unit: Some(2), seat: None, holder: 8, generation: 1 },
                }],
            }),
        ];
        let out = OutcomeV1 { hold: Some(1), seats: Some(vec![9, 10]), ..OutcomeV1::named("seat_swapped") };
        for v in [3, 4] {
            for a in &actions {
                let rec = cmd(v, u64::MAX - 1, "k", a.clone(), out.clone());
                assert_eq!(Record::decode(&rec.encode()).unwrap_or_else(|e| panic!("{a:?}: {e}")), rec);
            }
        }
    }

    #[test]
    fn damaged_payloads_are_refused_not_misread() {
        let rec = cmd(
            4,
            9,
            "00112233445566778899aabbccddeeff",
            ActionV1::Stock(StockActionV1::Reserve { quantity: 2 }),
            held(300, 2),
        );
        let bytes = rec.encode();
        for cut in 0..bytes.len() {
            assert!(Record::decode(&bytes[..cut]).is_err(), "a payload cut at {cut} decoded");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Record::decode(&longer).is_err());
        assert!(matches!(Record::decode(&[5, 2]), Err(RecordError::UnknownVersion(5))));
        // An eleven-byte varint, a seat count beyond the payload.
        assert!(Record::decode(&[3, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).is_err());
        assert!(Record::decode(&[3, 1, 1, 0, 1, b'k', 11, 0xff, 0xff, 0x03]).is_err());
    }
}
