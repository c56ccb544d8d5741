//! Tickets as signed statements a gate can check offline: the binary
//! payload, its signature and the text a QR code carries.
//!
//! A ticket says "generation `g` of ticket `t` of sale `s`, for this seat or
//! unit, belongs to person `h`", signed with the sale's ed25519 key under the
//! domain tag [`TICKET_DOMAIN`], so the same key's signatures on anything else
//! (receipts, passes) can never pass for a ticket. Which tickets exist, which
//! generation is the latest and which are revoked is the check-in book's
//! business (`checkin.rs`); this module only makes and reads the bytes.
//!
//! **The payload** (version 1), every integer an unsigned LEB128 varint:
//!
//! ```text
//! version u8 (= 1) | sale | ticket | place kind u8 (0 unit, 1 seat) | place | holder | generation
//! ```
//!
//! followed by the 64-byte signature over `TICKET_DOMAIN ‖ payload`. Varints
//! keep a typical ticket near 75 bytes (the signature is most of it). There
//! is exactly one encoding of every ticket: a varint with a needless
//! continuation byte, a value past its type's width, an unknown version or
//! place kind, and any byte after the signature are refused, so a changed
//! byte can never decode to the same ticket under the same signature.
//!
//! **The QR text** is RFC 4648 base32 (`A`-`Z`, `2`-`7`), upper case, no
//! padding. Every symbol is in the QR code's alphanumeric set, so the code
//! is drawn in alphanumeric mode (5.5 bits a symbol: 10 % over the bytes;
//! byte mode would cost 8 bits a symbol). Base45 (RFC 9285) would be 3 %
//! over, about 7 symbols fewer on a typical ticket, but its alphabet holds a
//! space and `$ % * + - . / :`: a USB scanner "types" what it reads through
//! the keyboard layout, where the shifted symbols differ between layouts,
//! input fields trim spaces, and `%` and `/` need escaping in a URL. Base32
//! survives all of them, and a typical ticket (120 symbols) still fits a
//! version 5 QR code at error correction level M (37 × 37 modules). The
//! decoder is strict (upper case only, unused low bits zero), so every
//! changed symbol is refused; a gate page that reads lower case from a
//! scanner upper-cases it before it decodes.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{SeatId, UserId};

/// Signed before the payload, so a ticket signature means nothing elsewhere.
pub const TICKET_DOMAIN: &[u8] = b"stampede-ticket-v1";
/// The payload version this code writes and the only one it reads.
pub const TICKET_VERSION: u8 = 1;
/// Bytes of the signature that follows the payload.
pub const TICKET_SIGNATURE_LEN: usize = 64;
/// The longest payload: the version and kind bytes, three u64 varints (10
/// bytes each) and two u32 varints (5 bytes each).
pub const TICKET_PAYLOAD_LEN_MAX: usize = 1 + 10 + 10 + 1 + 5 + 10 + 5;
/// The longest signed ticket in bytes.
pub const TICKET_LEN_MAX: usize = TICKET_PAYLOAD_LEN_MAX + TICKET_SIGNATURE_LEN;
/// The longest QR text: base32 of [`TICKET_LEN_MAX`] bytes.
pub const TICKET_QR_LEN_MAX: usize = (TICKET_LEN_MAX * 8).div_ceil(5);

/// The RFC 4648 base32 alphabet, in value order.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A ticket's number within its sale, dense from 1 in issue order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TicketId(pub u64);

/// What a ticket lets its holder into: a seat of a seated sale, or the
/// `n`-th unit (from 1) of its order in a sale without seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TicketPlace {
    Unit(u32),
    Seat(SeatId),
}

/// The signed statement, as plain data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TicketPayload {
    pub sale: u64,
    pub ticket: TicketId,
    pub place: TicketPlace,
    pub holder: UserId,
    /// 1 when first issued; a transfer issues the next one and revokes this.
    pub generation: u32,
}

/// Why bytes or text are not a ticket.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("a ticket is at most {max} long (got {len})")]
    TooLong { len: usize, max: usize },
    #[error("the ticket ends early")]
    Truncated,
    #[error("ticket version {0} is not known")]
    UnknownVersion(u8),
    #[error("place kind {0} is not known")]
    UnknownPlaceKind(u8),
    #[error("a number in the ticket is not in its one canonical form")]
    NonCanonical,
    #[error("{0} bytes follow the signature")]
    TrailingBytes(usize),
    #[error("the ticket text has a symbol outside upper-case base32")]
    BadSymbol,
    #[error("the ticket's signature does not verify")]
    BadSignature,
}

impl TicketPayload {
    /// The canonical bytes (the part that is signed after the domain tag).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TICKET_PAYLOAD_LEN_MAX);
        out.push(TICKET_VERSION);
        put_varint(&mut out, self.sale);
        put_varint(&mut out, self.ticket.0);
        match self.place {
            TicketPlace::Unit(n) => {
                out.push(0);
                put_varint(&mut out, u64::from(n));
            }
            TicketPlace::Seat(seat) => {
                out.push(1);
                put_varint(&mut out, u64::from(seat.0));
            }
        }
        put_varint(&mut out, self.holder.0);
        put_varint(&mut out, u64::from(self.generation));
        out
    }

    /// Reads one payload from the front of `bytes`; returns it and the bytes
    /// it used, so the caller decides what may follow.
    fn decode_prefix(bytes: &[u8]) -> Result<(Self, usize), TicketError> {
        let mut r = Reader { bytes, at: 0 };
        let version = r.byte()?;
        if version != TICKET_VERSION {
            return Err(TicketError::UnknownVersion(version));
        }
        let sale = r.varint(u64::MAX)?;
        let ticket = TicketId(r.varint(u64::MAX)?);
        let kind = r.byte()?;
        let place = match kind {
            0 => TicketPlace::Unit(r.varint_u32()?),
            1 => TicketPlace::Seat(SeatId(r.varint_u32()?)),
            other => return Err(TicketError::UnknownPlaceKind(other)),
        };
        let holder = UserId(r.varint(u64::MAX)?);
        let generation = r.varint_u32()?;
        Ok((TicketPayload { sale, ticket, place, holder, generation }, r.at))
    }

    /// Reads exactly one payload: nothing may follow it.
    pub fn decode(bytes: &[u8]) -> Result<Self, TicketError> {
        if bytes.len() > TICKET_PAYLOAD_LEN_MAX {
            return Err(TicketError::TooLong { len: bytes.len(), max: TICKET_PAYLOAD_LEN_MAX });
        }
        let (payload, used) = Self::decode_prefix(bytes)?;
        match bytes.len() - used {
            0 => Ok(payload),
            extra => Err(TicketError::TrailingBytes(extra)),
        }
    }
}

/// A payload with a signature that verified (or that was just made): the
/// only way to hold one is [`SignedTicket::sign`] or a successful open, so
/// holding one means its signature is good for the key it was checked with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTicket {
    payload: TicketPayload,
    signature: [u8; TICKET_SIGNATURE_LEN],
}

impl SignedTicket {
    pub fn sign(payload: TicketPayload, key: &SigningKey) -> Self {
        let signature = key.sign(&signed_bytes(&payload.encode())).to_bytes();
        SignedTicket { payload, signature }
    }

    pub fn payload(&self) -> &TicketPayload {
        &self.payload
    }

    /// Payload then signature: what the QR text carries.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.payload.encode();
        out.extend_from_slice(&self.signature);
        out
    }

    pub fn to_qr_text(&self) -> String {
        base32_encode(&self.to_bytes())
    }

    /// Checks the layout and the signature by `key` (strictly: no
    /// malleable signature, no weak key).
    pub fn open(bytes: &[u8], key: &VerifyingKey) -> Result<Self, TicketError> {
        if bytes.len() > TICKET_LEN_MAX {
            return Err(TicketError::TooLong { len: bytes.len(), max: TICKET_LEN_MAX });
        }
        let (payload, used) = TicketPayload::decode_prefix(bytes)?;
        let rest = &bytes[used..];
        let signature: [u8; TICKET_SIGNATURE_LEN] = match rest.len() {
            n if n < TICKET_SIGNATURE_LEN => return Err(TicketError::Truncated),
            TICKET_SIGNATURE_LEN => rest.try_into().map_err(|_| TicketError::Truncated)?,
            n => return Err(TicketError::TrailingBytes(n - TICKET_SIGNATURE_LEN)),
        };
        key.verify_strict(&signed_bytes(&bytes[..used]), &Signature::from_bytes(&signature))
            .map_err(|_| TicketError::BadSignature)?;
        Ok(SignedTicket { payload, signature })
    }

    /// What a gate does with a scanned code: the text, the layout and the
    /// signature. Whether the ticket is still valid is the check-in book's
    /// (online) or the revocation list's (offline) question.
    pub fn open_qr_text(text: &str, key: &VerifyingKey) -> Result<Self, TicketError> {
        if text.len() > TICKET_QR_LEN_MAX {
            return Err(TicketError::TooLong { len: text.len(), max: TICKET_QR_LEN_MAX });
        }
        Self::open(&base32_decode(text)?, key)
    }
}

fn signed_bytes(payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(TICKET_DOMAIN.len() + payload.len());
    m.extend_from_slice(TICKET_DOMAIN);
    m.extend_from_slice(payload);
    m
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A cursor over bytes whose every read refuses what is not canonical.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl Reader<'_> {
    pub(crate) fn byte(&mut self) -> Result<u8, TicketError> {
        let b = *self.bytes.get(self.at).ok_or(TicketError::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    /// An unsigned LEB128 number no larger than `max`, in its shortest form.
    pub(crate) fn varint(&mut self, max: u64) -> Result<u64, TicketError> {
        let mut value: u64 = 0;
        // Ten bytes of seven bits cover 64 bits; an eleventh is never needed.
        for i in 0..10u32 {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            let shift = 7 * i;
            // The tenth byte may carry only the top bit of a u64.
            if shift == 63 && bits > 1 {
                return Err(TicketError::NonCanonical);
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                // A zero last byte after others is a padded (longer) form.
                if i > 0 && bits == 0 {
                    return Err(TicketError::NonCanonical);
                }
                return if value > max { Err(TicketError::NonCanonical) } else { Ok(value) };
            }
        }
        Err(TicketError::NonCanonical)
    }

    pub(crate) fn varint_u32(&mut self) -> Result<u32, TicketError> {
        let v = self.varint(u64::from(u32::MAX))?;
        u32::try_from(v).map_err(|_| TicketError::NonCanonical)
    }
}

pub(crate) fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Strict base32: upper case, no padding, a length some byte string has,
/// and the unused low bits of the last symbol zero.
pub(crate) fn base32_decode(text: &str) -> Result<Vec<u8>, TicketError> {
    // Lengths whose leftover bits (5n mod 8) are 5 or more encode no string.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err(TicketError::NonCanonical);
    }
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => return Err(TicketError::BadSymbol),
        };
        acc = ((acc << 5) | u32::from(v)) & 0xfff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if acc & ((1 << bits) - 1) != 0 {
        return Err(TicketError::NonCanonical);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn seat_ticket() -> TicketPayload {
        TicketPayload {
            sale: 42,
            ticket: TicketId(1_234),
            place: TicketPlace::Seat(SeatId(517)),
            holder: UserId(90_001),
            generation: 2,
        }
    }

    /// The format, pinned: a change to the encoding, the domain tag or the
    /// text form fails here before it reaches a printed ticket.
    #[test]
    fn the_test_vector_is_pinned() {
        let t = SignedTicket::sign(seat_ticket(), &key());
        let payload_hex: String = t.payload().encode().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(payload_hex, "012ad20901850491bf0502");
        let text = t.to_qr_text();
        assert_eq!(text, PINNED_QR);
        assert_eq!(text.len(), 120);
        let back = SignedTicket::open_qr_text(PINNED_QR, &key().verifying_key());
        assert_eq!(back.as_ref().map(SignedTicket::payload), Ok(&seat_ticket()));
    }

    /// Checked against an independent ed25519 and base32 implementation
    /// (Python's `cryptography` and `base64`) when it was pinned.
    const PINNED_QR: &str = concat!(
        "AEVNECIBQUCJDPYFALEZADQXBXJG2WV4GNEH6K3JXRKBDIGJLOTOVX4NKW2J5FNE",
        "IZGBNLKYMA2XKRXBAKBVHRDPJG36HE3VBVRZUD2YZF5AOMFDKN2YCXYL",
    );

    #[test]
    fn every_single_symbol_change_of_the_text_is_refused() {
        let k = key();
        let vk = k.verifying_key();
        let text = SignedTicket::sign(seat_ticket(), &k).to_qr_text();
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for b in 0..=255u8 {
                if b == bytes[i] {
                    continue;
                }
                let mut changed = bytes.to_vec();
                changed[i] = b;
                // Bytes that are not UTF-8 never reach the decoder as text.
                if let Ok(s) = std::str::from_utf8(&changed) {
                    assert!(SignedTicket::open_qr_text(s, &vk).is_err(), "symbol {i} set to {b}");
                }
            }
            let mut cut = bytes.to_vec();
            cut.remove(i);
            let cut = String::from_utf8(cut).unwrap();
            assert!(SignedTicket::open_qr_text(&cut, &vk).is_err(), "symbol {i} removed");
        }
        for extra in ["A", "AA", "AAAAAAAA", " "] {
            assert!(SignedTicket::open_qr_text(&format!("{text}{extra}"), &vk).is_err(), "{extra:?} appended");
        }
        assert_eq!(SignedTicket::open_qr_text(&text.to_lowercase(), &vk), Err(TicketError::BadSymbol));
    }

    #[test]
    fn every_single_byte_change_of_the_binary_is_refused() {
        let k = key();
        let vk = k.verifying_key();
        let bytes = SignedTicket::sign(seat_ticket(), &k).to_bytes();
        for i in 0..bytes.len() {
            for b in 0..=255u8 {
                if b == bytes[i] {
                    continue;
                }
                let mut changed = bytes.clone();
                changed[i] = b;
                assert!(SignedTicket::open(&changed, &vk).is_err(), "byte {i} set to {b}");
            }
        }
    }

    #[test]
    fn trailing_bytes_short_signatures_and_other_keys_are_refused() {
        let k = key();
        let vk = k.verifying_key();
        let bytes = SignedTicket::sign(seat_ticket(), &k).to_bytes();
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(SignedTicket::open(&long, &vk), Err(TicketError::TrailingBytes(1)));
        assert_eq!(SignedTicket::open(&bytes[..bytes.len() - 1], &vk), Err(TicketError::Truncated));
        assert_eq!(SignedTicket::open(&[], &vk), Err(TicketError::Truncated));
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert_eq!(SignedTicket::open(&bytes, &other), Err(TicketError::BadSignature));
        let huge = vec![0u8; TICKET_LEN_MAX + 1];
        assert!(matches!(SignedTicket::open(&huge, &vk), Err(TicketError::TooLong { .. })));
        let text = "A".repeat(TICKET_QR_LEN_MAX + 1);
        assert!(matches!(SignedTicket::open_qr_text(&text, &vk), Err(TicketError::TooLong { .. })));
    }

    #[test]
    fn unknown_versions_and_place_kinds_are_refused() {
        let mut p = seat_ticket().encode();
        p[0] = 2;
        assert_eq!(TicketPayload::decode(&p), Err(TicketError::UnknownVersion(2)));
        p[0] = 0;
        assert_eq!(TicketPayload::decode(&p), Err(TicketError::UnknownVersion(0)));
        // version, sale 42, ticket 1234 (two bytes), then the kind byte.
        let mut p = seat_ticket().encode();
        p[4] = 2;
        assert_eq!(TicketPayload::decode(&p), Err(TicketError::UnknownPlaceKind(2)));
    }

    #[test]
    fn non_canonical_numbers_are_refused() {
        let decode = |bytes: &[u8]| Reader { bytes, at: 0 }.varint(u64::MAX);
        assert_eq!(decode(&[0x00]), Ok(0));
        assert_eq!(decode(&[0x7f]), Ok(127));
        assert_eq!(decode(&[0x80, 0x01]), Ok(128));
        // 0 and 1 with a needless continuation byte.
        assert_eq!(decode(&[0x80, 0x00]), Err(TicketError::NonCanonical));
        assert_eq!(decode(&[0x81, 0x00]), Err(TicketError::NonCanonical));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(decode(&max), Ok(u64::MAX));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(decode(&over), Err(TicketError::NonCanonical));
        let eleven = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00];
        assert_eq!(decode(&eleven), Err(TicketError::NonCanonical));
        assert_eq!(decode(&[0x80]), Err(TicketError::Truncated));
        let gen_over_u32 = Reader { bytes: &[0x80, 0x80, 0x80, 0x80, 0x10], at: 0 }.varint_u32();
        assert_eq!(gen_over_u32, Err(TicketError::NonCanonical));
        // A payload whose sale is written in two bytes instead of one.
        let padded = [1, 0xaa, 0x00, 0xd2, 0x09, 1, 0x85, 0x04, 0x91, 0xbf, 0x05, 2];
        assert_eq!(TicketPayload::decode(&padded), Err(TicketError::NonCanonical));
    }

    #[test]
    fn payloads_round_trip_at_the_edges() {
        let cases = [
            TicketPayload {
                sale: 0,
                ticket: TicketId(0),
                place: TicketPlace::Unit(0),
                holder: UserId(0),
                generation: 0,
            },
            TicketPayload {
                sale: u64::MAX,
                ticket: TicketId(u64::MAX),
                place: TicketPlace::Seat(SeatId(u32::MAX)),
                holder: UserId(u64::MAX),
                generation: u32::MAX,
            },
            TicketPayload {
                sale: 1,
                ticket: TicketId(1),
                place: TicketPlace::Unit(3),
                holder: UserId(7),
                generation: 1,
            },
        ];
        let k = key();
        for p in cases {
            let bytes = p.encode();
            assert!(bytes.len() <= TICKET_PAYLOAD_LEN_MAX);
            assert_eq!(TicketPayload::decode(&bytes), Ok(p));
            let t = SignedTicket::sign(p, &k);
            let text = t.to_qr_text();
            assert!(text.len() <= TICKET_QR_LEN_MAX);
            assert_eq!(SignedTicket::open_qr_text(&text, &k.verifying_key()), Ok(t));
        }
        let longest = cases[1].encode();
        assert_eq!(longest.len(), TICKET_PAYLOAD_LEN_MAX);
    }

    #[test]
    fn base32_round_trips_and_refuses_stray_bits() {
        for len in 0..20usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base32_encode(&bytes);
            assert_eq!(base32_decode(&text), Ok(bytes));
        }
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        // "MY" is "f"; "MZ" sets an unused bit.
        assert_eq!(base32_decode("MY"), Ok(b"f".to_vec()));
        assert_eq!(base32_decode("MZ"), Err(TicketError::NonCanonical));
        assert_eq!(base32_decode("MYA"), Err(TicketError::NonCanonical));
        assert_eq!(base32_decode("MY======"), Err(TicketError::BadSymbol));
    }

    fn any_payload() -> impl proptest::strategy::Strategy<Value = TicketPayload> {
        use proptest::prelude::*;
        let place = prop_oneof![
            any::<u32>().prop_map(TicketPlace::Unit),
            any::<u32>().prop_map(|s| TicketPlace::Seat(SeatId(s)))
        ];
        (any::<u64>(), any::<u64>(), place, any::<u64>(), any::<u32>()).prop_map(|(sale, t, place, h, generation)| {
            TicketPayload { sale, ticket: TicketId(t >> (t % 64)), place, holder: UserId(h >> (h % 64)), generation }
        })
    }

    fn config() -> proptest::test_runner::Config {
        proptest::test_runner::Config {
            failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource(
                "proptest-regressions",
            ))),
            ..proptest::test_runner::Config::default()
        }
    }

    proptest::proptest! {
        #![proptest_config(config())]

        /// Every payload comes back as itself.
        #[test]
        fn payloads_round_trip(p in any_payload()) {
            proptest::prop_assert_eq!(TicketPayload::decode(&p.encode()), Ok(p));
        }

        /// One encoding per ticket: whatever bytes decode re-encode to
        /// exactly those bytes, so no second spelling can carry a signature.
        #[test]
        fn whatever_decodes_is_canonical(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..48)) {
            if let Ok(p) = TicketPayload::decode(&bytes) {
                proptest::prop_assert_eq!(p.encode(), bytes);
            }
        }

        /// The same for the text: any base32 symbols that decode are the
        /// one spelling of their bytes.
        #[test]
        fn whatever_text_decodes_is_canonical(text in "[A-Z2-7]{0,40}") {
            if let Ok(bytes) = base32_decode(&text) {
                proptest::prop_assert_eq!(base32_encode(&bytes), text);
            }
        }

        /// Random valid payload prefixes with random tails: decoding is
        /// canonical there too (random bytes rarely get past the version).
        #[test]
        fn changed_payloads_decode_canonically(p in any_payload(), at in 0usize..48, b in proptest::prelude::any::<u8>()) {
            let mut bytes = p.encode();
            let at = at % bytes.len();
            bytes[at] = b;
            if let Ok(q) = TicketPayload::decode(&bytes) {
                proptest::prop_assert_eq!(q.encode(), bytes);
            }
        }
    }

    /// A ticket with small numbers fits the size the module doc promises.
    #[test]
    fn a_typical_ticket_fits_a_version_5_code() {
        let t = SignedTicket::sign(seat_ticket(), &key());
        // Version 5 at level M holds 122 alphanumeric symbols.
        assert!(t.to_qr_text().len() <= 122);
    }
}
