//! The waiting room's proof of work, as docs/API.md ("Proof of work") gives
//! it: a join's `nonce` is valid when
//! `SHA-256("stampede-pow-v1" || commitment (32 bytes) || user_id u64 LE || nonce u64 LE)`
//! starts with at least `pow_bits` zero bits, most significant bit of byte 0
//! first.
//!
//! [`solve_all`] finds nonces for many users on every core before the join
//! burst starts, so solving never counts in the measured join rate.

use sha2::{Digest, Sha256};

/// Domain tag hashed first.
pub(crate) const DOMAIN: &[u8] = b"stampede-pow-v1";

/// Leading zero bits of a hash, most significant bit of byte 0 first.
fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        if *byte != 0 {
            return bits + byte.leading_zeros();
        }
        bits += 8;
    }
    bits
}

/// The smallest nonce that meets `bits` for `user`.
pub(crate) fn solve(commitment: &[u8; 32], user: u64, bits: u8) -> u64 {
    // The prefix is the same for every attempt: hash it once, clone the state.
    let mut prefix = Sha256::new();
    prefix.update(DOMAIN);
    prefix.update(commitment);
    prefix.update(user.to_le_bytes());
    let want = u32::from(bits);
    let mut nonce = 0u64;
    loop {
        let mut h = prefix.clone();
        h.update(nonce.to_le_bytes());
        if leading_zero_bits(&h.finalize()) >= want {
            return nonce;
        }
        nonce = nonce.wrapping_add(1);
    }
}

/// Nonces for all `users` (same order), solved on every available core.
pub(crate) fn solve_all(commitment: &[u8; 32], users: &[u64], bits: u8) -> Vec<u64> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let per = users.len().div_ceil(threads).max(1);
    let mut nonces = vec![0u64; users.len()];
    std::thread::scope(|scope| {
        for (ids, out) in users.chunks(per).zip(nonces.chunks_mut(per)) {
            scope.spawn(move || {
                for (id, slot) in ids.iter().zip(out.iter_mut()) {
                    *slot = solve(commitment, *id, bits);
                }
            });
        }
    });
    nonces
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The check written from the text of the spec alone: one buffer, one
    /// hash, then the bits one by one.
    fn verify(commitment: &[u8; 32], user: u64, nonce: u64, bits: u8) -> bool {
        let mut message = Vec::new();
        message.extend_from_slice(b"stampede-pow-v1");
        message.extend_from_slice(commitment);
        message.extend_from_slice(&user.to_le_bytes());
        message.extend_from_slice(&nonce.to_le_bytes());
        let hash = Sha256::digest(&message);
        (0..usize::from(bits)).all(|i| hash[i / 8] & (0x80 >> (i % 8)) == 0)
    }

    #[test]
    fn counts_leading_zero_bits() {
        assert_eq!(leading_zero_bits(&[0x80, 0]), 0);
        assert_eq!(leading_zero_bits(&[0x01, 0xff]), 7);
        assert_eq!(leading_zero_bits(&[0, 0x10]), 11);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }

    #[test]
    fn solutions_verify_and_are_the_smallest() {
        let commitment: [u8; 32] = *blake3::hash(b"some seed").as_bytes();
        for (user, bits) in [(1u64, 0u8), (7, 4), (123_456, 10), (u64::MAX, 12)] {
            let nonce = solve(&commitment, user, bits);
            assert!(verify(&commitment, user, nonce, bits), "user {user} bits {bits}");
            assert!((0..nonce).all(|n| !verify(&commitment, user, n, bits)));
        }
        assert_eq!(solve(&commitment, 5, 0), 0);
    }

    #[test]
    fn a_solution_is_bound_to_its_user_and_commitment() {
        let commitment = [7u8; 32];
        let nonce = solve(&commitment, 42, 12);
        assert!(verify(&commitment, 42, nonce, 12));
        // With 12 bits a nonce also valid for another user or commitment is a 1 in 4096 chance;
        // these inputs are fixed, so the test is deterministic.
        let other_user = (43..48).filter(|u| verify(&commitment, *u, nonce, 12)).count();
        let other_commitment = verify(&[8u8; 32], 42, nonce, 12);
        assert!(other_user == 0 && !other_commitment);
    }

    #[test]
    fn the_server_accepts_the_solutions() {
        // The server's own check (crates/core), as a cross-check of the reading of the spec.
        let commitment: [u8; 32] = *blake3::hash(b"another seed").as_bytes();
        for user in [1u64, 2, 99, 1 << 40] {
            let nonce = solve(&commitment, user, 10);
            assert!(stampede_core::pow_ok(&commitment, stampede_core::UserId(user), nonce, 10));
            assert_eq!(nonce, stampede_core::solve_pow(&commitment, stampede_core::UserId(user), 10));
        }
    }

    #[test]
    fn solve_all_matches_solve() {
        let commitment = [3u8; 32];
        let users: Vec<u64> = (1..=37).collect();
        let nonces = solve_all(&commitment, &users, 6);
        assert_eq!(nonces.len(), users.len());
        for (user, nonce) in users.iter().zip(&nonces) {
            assert_eq!(*nonce, solve(&commitment, *user, 6));
            assert!(verify(&commitment, *user, *nonce, 6));
        }
        assert!(solve_all(&commitment, &[], 6).is_empty());
    }
}
