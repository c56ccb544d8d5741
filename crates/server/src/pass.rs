//! Waiting-room passes: signed proof that a person was admitted to a sale.
//!
//! The sale's waiting room (in the core) is the authority on who is admitted;
//! a pass lets any edge reject a forged, foreign or stale request without
//! asking the sale, and lets a client show its own expiry. Passes are signed
//! with an ed25519 key kept in the data directory (created on first start,
//! readable only by the owner); the public key is served so anyone can check
//! a pass. The same secret also keys the hash that turns a network address
//! into the opaque tag the waiting room counts per-address places by, so the
//! log never holds addresses, and (under domain tags of their own) signs
//! receipts (`stampede-receipt-batch-v2`) and derives each sale's pseudonyms
//! (`stampede_engine::persons`).

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use stampede_engine::persons::PersonKey;
use stampede_engine::public::Receipt;
use stampede_engine::receipt::BatchPlace;

/// Domain tag signed before the payload, so a pass signature means nothing elsewhere.
const PASS_DOMAIN: &[u8] = b"stampede-pass-v1";
/// A header value longer than this is not a pass.
pub const PASS_LEN_MAX: usize = 512;
const KEY_FILE: &str = "pass-key";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassClaims {
    pub sale: u64,
    pub user: u64,
    pub ticket: u32,
    pub exp_us: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PassError {
    #[error("not a pass")]
    Malformed,
    #[error("the pass signature does not verify")]
    BadSignature,
}

#[derive(Debug, thiserror::Error)]
pub enum PassKeyError {
    #[error("cannot read or write the pass key {0}: {1}")]
    Io(std::path::PathBuf, std::io::Error),
    #[error("the pass key file {0} is not 32 bytes")]
    Corrupt(std::path::PathBuf),
}

pub struct PassKeys {
    signing: SigningKey,
    verifying: VerifyingKey,
    address_key: [u8; 32],
    persons: PersonKey,
    /// Each sale's ticket key is derived from this and the sale's id.
    ticket_seed: [u8; 32],
}

impl std::fmt::Debug for PassKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassKeys").field("public_key", &self.public_key()).finish_non_exhaustive()
    }
}

impl PassKeys {
    /// Loads `dir/pass-key`, creating it (mode 0600) on first start.
    pub fn load_or_create(dir: &Path) -> Result<PassKeys, PassKeyError> {
        let path = dir.join(KEY_FILE);
        let io = |e| PassKeyError::Io(path.clone(), e);
        let secret: [u8; 32] = match std::fs::read(&path) {
            Ok(bytes) => bytes.try_into().map_err(|_| PassKeyError::Corrupt(path.clone()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut secret = [0u8; 32];
                rand::fill(&mut secret[..]);
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io)?;
                file.write_all(&secret).map_err(io)?;
                file.sync_all().map_err(io)?;
                secret
            }
            Err(e) => return Err(io(e)),
        };
        Ok(Self::from_secret(&secret))
    }

    /// Loads `dir/pass-key` if it exists (tools that must not create one).
    pub fn load(dir: &Path) -> Result<Option<PassKeys>, PassKeyError> {
        let path = dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let secret: [u8; 32] = bytes.try_into().map_err(|_| PassKeyError::Corrupt(path.clone()))?;
                Ok(Some(Self::from_secret(&secret)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PassKeyError::Io(path, e)),
        }
    }

    pub fn from_secret(secret: &[u8; 32]) -> PassKeys {
        let signing = SigningKey::from_bytes(secret);
        PassKeys {
            verifying: signing.verifying_key(),
            address_key: blake3::derive_key("stampede address tag v1", secret),
            persons: PersonKey::from_secret(secret),
            ticket_seed: blake3::derive_key("stampede ticket keys v1", secret),
            signing,
        }
    }

    /// base64url of the 32-byte ed25519 public key.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.verifying.to_bytes())
    }

    /// The key that signs a sale's tickets and revocation lists: one per
    /// sale, so a gate given one sale's public key accepts no other sale's
    /// tickets, and derived, so nothing more is stored.
    pub fn ticket_key(&self, sale: u64) -> SigningKey {
        SigningKey::from_bytes(blake3::keyed_hash(&self.ticket_seed, &sale.to_le_bytes()).as_bytes())
    }

    /// The key each sale's pseudonyms are derived from.
    pub fn person_key(&self) -> &PersonKey {
        &self.persons
    }

    /// A signed receipt for an acknowledged command, signed with the rest of
    /// its batch (the signature's domain tag is the receipt's own, so it
    /// cannot pass for a pass).
    pub fn receipt(&self, place: &BatchPlace) -> Option<Receipt> {
        place.receipt(&self.signing)
    }

    pub fn issue(&self, claims: &PassClaims) -> String {
        let payload = serde_json::to_vec(claims).unwrap_or_default();
        let signature = self.signing.sign(&signed_bytes(&payload));
        format!("v1.{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// Checks the signature and returns the claims; the caller checks sale, person and time.
    pub fn verify(&self, pass: &str) -> Result<PassClaims, PassError> {
        if pass.len() > PASS_LEN_MAX {
            return Err(PassError::Malformed);
        }
        let mut parts = pass.split('.');
        let (Some("v1"), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(PassError::Malformed);
        };
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| PassError::Malformed)?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| PassError::Malformed)?
            .try_into()
            .map_err(|_| PassError::Malformed)?;
        self.verifying
            .verify_strict(&signed_bytes(&payload), &Signature::from_bytes(&signature))
            .map_err(|_| PassError::BadSignature)?;
        serde_json::from_slice(&payload).map_err(|_| PassError::Malformed)
    }

    /// The opaque per-address tag the waiting room counts places by.
    pub fn address_tag(&self, ip: IpAddr) -> u64 {
        let octets = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let hash = blake3::keyed_hash(&self.address_key, &octets);
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(tag)
    }
}

fn signed_bytes(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(PASS_DOMAIN.len() + payload.len());
    bytes.extend_from_slice(PASS_DOMAIN);
    bytes.extend_from_slice(payload);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> PassKeys {
        PassKeys::from_secret(&[7u8; 32])
    }

    #[test]
    fn a_pass_round_trips_and_tampering_is_caught() {
        let k = keys();
        let claims = PassClaims { sale: 3, user: 7, ticket: 812, exp_us: 1_795_377_900_000_000 };
        let pass = k.issue(&claims);
        assert_eq!(k.verify(&pass), Ok(claims));
        let forged = PassClaims { user: 8, ..claims };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap_or_default());
        let mut parts: Vec<&str> = pass.split('.').collect();
        parts[1] = &forged_payload;
        assert_eq!(k.verify(&parts.join(".")), Err(PassError::BadSignature));
        assert_eq!(PassKeys::from_secret(&[8u8; 32]).verify(&pass), Err(PassError::BadSignature));
        assert_eq!(k.verify("v1.abc"), Err(PassError::Malformed));
        assert_eq!(k.verify(&"x".repeat(PASS_LEN_MAX + 1)), Err(PassError::Malformed));
    }

    #[test]
    fn address_tags_are_stable_and_distinct() {
        let k = keys();
        let a: IpAddr = "127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "127.0.0.2".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(k.address_tag(a), k.address_tag(a));
        assert_ne!(k.address_tag(a), k.address_tag(b));
    }

    #[test]
    fn the_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = PassKeys::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let again = PassKeys::load_or_create(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.public_key(), again.public_key());
    }
}
