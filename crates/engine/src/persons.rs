//! Pseudonyms: how a sale's log names people, so that the log itself can be
//! published.
//!
//! A sale created with a [`PersonKey`] writes its records at version 2
//! ("sealed"): every person in them (who sent a command, the organizer, the
//! friends a seat is held for) is a *pseudonym*, a keyed permutation of the
//! account id under a key of that sale alone, and so is the network-address
//! tag of a join. The stored log is then the public log, byte for byte, so
//! one hash chain serves both: a downloaded log verifies end to end with no
//! secret, and a receipt's chain hash is the published entry's.
//!
//! A permutation rather than a hash, because the server must read its own log
//! back: recovery turns pseudonyms into accounts again with the key
//! ([`SaleSeal::person_back`]), while without the key nobody can link a
//! pseudonym to an account, nor one sale's pseudonym of a person to another
//! sale's. Since it is a permutation, two people never share a pseudonym,
//! so a replay on pseudonyms reaches exactly the outcomes the server did
//! (limits per person, the waiting room's places per address, seat holders).
//!
//! Idempotency keys are chosen by clients and may say anything (an e-mail
//! address is a valid key), so a sealed sale never sees them: the sale task
//! replaces each by a keyed hash of (person, key) before applying it
//! ([`SaleSeal::key`]), which keeps repeats equal and nothing else.
//!
//! The permutation is a ten-round Feistel network on the 64-bit id with
//! keyed BLAKE3 as its round function (the shape of NIST's FF1 with BLAKE3
//! in place of AES).

use stampede_core::{IdempotencyKey, UserId};
use stampede_log::SaleId;

/// Rounds of the Feistel network (FF1 uses 10).
const ROUNDS: u8 = 10;
/// Domain tags: a person and an address tag with the same value get unrelated pseudonyms.
const PERSON: u8 = b'p';
const ADDRESS: u8 = b'a';

/// The server's secret for pseudonyms, from which each sale's key is
/// derived. Its `Debug` shows nothing.
#[derive(Clone)]
pub struct PersonKey([u8; 32]);

impl std::fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonKey(..)")
    }
}

impl PersonKey {
    /// Derived from the server's secret under a domain of its own, so it
    /// reveals nothing of the secret's other uses (signing, address tags).
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        PersonKey(blake3::derive_key("stampede-pseudonym-v1", secret))
    }

    /// The key of one sale.
    pub fn sale(&self, sale: SaleId) -> SaleSeal {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(b"sale");
        h.update(&sale.to_le_bytes());
        SaleSeal { key: *h.finalize().as_bytes() }
    }
}

/// One sale's pseudonyms.
#[derive(Clone)]
pub struct SaleSeal {
    key: [u8; 32],
}

impl std::fmt::Debug for SaleSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaleSeal(..)")
    }
}

impl SaleSeal {
    fn round(&self, domain: u8, round: u8, half: u32) -> u32 {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(&[domain, round]);
        h.update(&half.to_le_bytes());
        let out = h.finalize();
        let b = out.as_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    fn forward(&self, domain: u8, x: u64) -> u64 {
        let (mut left, mut right) = ((x >> 32) as u32, x as u32);
        for r in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(domain, r, right));
        }
        (u64::from(left) << 32) | u64::from(right)
    }

    fn backward(&self, domain: u8, y: u64) -> u64 {
        let (mut left, mut right) = ((y >> 32) as u32, y as u32);
        for r in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(domain, r, left), left);
        }
        (u64::from(left) << 32) | u64::from(right)
    }

    /// The pseudonym of an account in this sale.
    pub fn person(&self, user: UserId) -> UserId {
        UserId(self.forward(PERSON, user.0))
    }

    /// The account behind a pseudonym of this sale.
    pub fn person_back(&self, pseudonym: UserId) -> UserId {
        UserId(self.backward(PERSON, pseudonym.0))
    }

    /// The logged form of a network-address tag.
    pub fn address(&self, tag: u64) -> u64 {
        self.forward(ADDRESS, tag)
    }

    pub fn address_back(&self, sealed: u64) -> u64 {
        self.backward(ADDRESS, sealed)
    }

    /// What a sealed sale applies and logs instead of `by`'s key: 128 bits
    /// of a keyed hash, in hex, so repeats stay equal and the text is gone.
    pub fn key(&self, by: UserId, key: &IdempotencyKey) -> IdempotencyKey {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(b"key");
        h.update(&by.0.to_le_bytes());
        h.update(key.as_str().as_bytes());
        let text = crate::record::hex(&h.finalize().as_bytes()[..16]);
        // 32 hex digits are always a valid key; the fallback is unreachable.
        IdempotencyKey::parse(&text).unwrap_or_else(|_| key.clone())
    }
}

/// A sale's pseudonyms read back into accounts during a replay, remembering
/// the people met so far: undoing a pseudonym is ten keyed hashes, and a
/// rush's log names the same few thousand people over and over, so without
/// it unsealing was most of a replay's time.
pub struct Unsealer {
    seal: SaleSeal,
    known: std::cell::RefCell<std::collections::HashMap<u64, UserId>>,
}

impl std::fmt::Debug for Unsealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unsealer(..)")
    }
}

/// People remembered at most; beyond, the memo starts over (bounded memory
/// for a sale of millions of people, who then cost their hashes again).
const UNSEALED_KNOWN_MAX: usize = 1 << 17;

impl Unsealer {
    pub fn new(seal: SaleSeal) -> Self {
        Unsealer { seal, known: Default::default() }
    }

    /// [`SaleSeal::person_back`], remembered.
    pub fn person_back(&self, pseudonym: UserId) -> UserId {
        let mut known = self.known.borrow_mut();
        if let Some(user) = known.get(&pseudonym.0) {
            return *user;
        }
        if known.len() >= UNSEALED_KNOWN_MAX {
            known.clear();
        }
        let user = self.seal.person_back(pseudonym);
        known.insert(pseudonym.0, user);
        user
    }

    pub fn address_back(&self, sealed: u64) -> u64 {
        self.seal.address_back(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pseudonym_is_a_permutation_per_sale_and_per_field() {
        let key = PersonKey::from_secret(&[7; 32]);
        let (one, two) = (key.sale(1), key.sale(2));
        let ids = [0, 1, 2, 17, u64::from(u32::MAX), u64::MAX - 1, u64::MAX];
        let mut seen = std::collections::BTreeSet::new();
        for id in ids {
            let p = one.person(UserId(id));
            assert_eq!(one.person_back(p), UserId(id));
            assert_ne!(p, UserId(id));
            assert_ne!(p, two.person(UserId(id)), "sales must not share pseudonyms");
            assert_ne!(p.0, one.address(id), "a person and an address must not share one");
            assert_eq!(one.address_back(one.address(id)), id);
            assert!(seen.insert(p), "two ids got one pseudonym");
        }
        // Another server's secret gives other pseudonyms.
        assert_ne!(PersonKey::from_secret(&[8; 32]).sale(1).person(UserId(17)), one.person(UserId(17)));
    }

    #[test]
    fn keys_stay_equal_per_person_and_lose_their_text() {
        let seal = PersonKey::from_secret(&[7; 32]).sale(1);
        let k = IdempotencyKey::parse("alice@example.com").unwrap_or_else(|_| panic!("valid key"));
        let a = seal.key(UserId(5), &k);
        assert_eq!(a, seal.key(UserId(5), &k));
        assert_ne!(a, seal.key(UserId(6), &k));
        assert!(!a.as_str().contains("alice"));
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn the_unsealer_remembers_nothing_wrong() {
        let seal = PersonKey::from_secret(&[7; 32]).sale(1);
        let unsealer = Unsealer::new(seal.clone());
        for round in 0..2 {
            for id in [3, 4, 3, u64::MAX] {
                assert_eq!(unsealer.person_back(seal.person(UserId(id))), UserId(id), "round {round}");
            }
        }
        assert_eq!(unsealer.address_back(seal.address(9)), 9);
    }
}
