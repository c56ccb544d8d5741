//! Secrets: random tokens, their SHA-256 digests, and argon2id password
//! hashes. Nothing here logs or prints a secret.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::StoreError;

/// Prefix of every API bearer token.
pub const TOKEN_PREFIX: &str = "stp_";

/// A SHA-256 digest, the only form in which tokens and session ids are stored.
pub(crate) type Digest32 = [u8; 32];

/// 256 random bits from the thread-local CSPRNG (ChaCha, seeded from the OS),
/// base64url without padding (43 characters).
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes[..]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new API token: `"stp_"` + base64url(32 random bytes).
pub(crate) fn new_token() -> String {
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + 43);
    token.push_str(TOKEN_PREFIX);
    token.push_str(&random_secret());
    token
}

/// SHA-256 of a token or cookie value.
pub(crate) fn sha256(secret: &str) -> Digest32 {
    Sha256::digest(secret.as_bytes()).into()
}

/// Hashes a password with argon2id (the crate's default, OWASP-recommended
/// parameters) and a fresh random salt; returns the PHC string. Slow.
pub(crate) fn hash_password(password: &str) -> Result<String, StoreError> {
    let hash: PasswordHash = Argon2::default().hash_password(password.as_bytes()).map_err(StoreError::Hash)?;
    Ok(hash.to_string())
}

/// A PHC string with this build's argon2id parameters and a made-up salt and
/// digest, which no password matches. Log-in checks the password against it
/// when the account does not exist or has no password, so that answer costs
/// the same argon2 work as a wrong password and timing does not tell
/// whether an address has an account. `dummy_matches_current_parameters`
/// keeps it in step with [`hash_password`].
pub(crate) const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c3RhbXBlZGUtZHVtbXkhIQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Spends the same work as checking a real password, and matches nothing.
pub(crate) fn verify_dummy(password: &str) {
    // The answer is always "no"; only the time spent matters.
    let _ = verify_password(password, DUMMY_PHC);
}

/// Checks a password against a stored PHC string, using the algorithm,
/// parameters and salt recorded in that string. Slow.
pub(crate) fn verify_password(password: &str, phc: &str) -> Result<bool, StoreError> {
    let parsed = PasswordHash::new(phc).map_err(|e| StoreError::Corrupt(format!("password hash: {e}")))?;
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(StoreError::Hash(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_shaped() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with("stp_"));
        assert_eq!(a.len(), 4 + 43);
        assert!(a[4..].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(URL_SAFE_NO_PAD.decode(&a[4..]).map(|v| v.len()).ok(), Some(32));
        assert_ne!(sha256(&a), sha256(&b));
    }

    #[test]
    fn sha256_known_answer() {
        // SHA-256("abc")
        let d = sha256("abc");
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(d[28..], [0xf2, 0x00, 0x15, 0xad]);
    }

    #[test]
    fn dummy_matches_current_parameters() -> Result<(), StoreError> {
        let real = hash_password("anything at all")?;
        let params = |phc: &str| phc.split('$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(params(DUMMY_PHC), params(&real));
        assert!(!verify_password("anything at all", DUMMY_PHC)?);
        assert!(!verify_password("", DUMMY_PHC)?);
        Ok(())
    }

    #[test]
    fn argon2id_round_trip() -> Result<(), StoreError> {
        let phc = hash_password("correct horse")?;
        assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password("correct horse", &phc)?);
        assert!(!verify_password("correct horsE", &phc)?);
        // random salt: the same password hashes differently
        assert_ne!(phc, hash_password("correct horse")?);
        Ok(())
    }
}
