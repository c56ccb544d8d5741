//! Input rules for e-mail addresses, passwords, names, token labels and bulk
//! name prefixes, plus [`mask_name`] for public leaderboards.

use crate::StoreError;

/// The domain every bulk-created account's address lives in; sign-up refuses it.
pub(crate) const BULK_DOMAIN: &str = "bulk.invalid";

/// Trims and lowercases an e-mail address and checks its shape: 3..=254
/// characters, exactly one `@` with something before it, and a `.` in the
/// domain that neither starts nor ends it. No whitespace or control
/// characters. Addresses in the reserved bulk domain are refused.
pub fn normalize_email(email: &str) -> Result<String, StoreError> {
    let email = email.trim().to_lowercase();
    let len = email.chars().count();
    if !(3..=254).contains(&len) {
        return Err(StoreError::InvalidEmail);
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(StoreError::InvalidEmail);
    }
    let mut parts = email.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(StoreError::InvalidEmail);
    };
    if local.is_empty()
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain == BULK_DOMAIN
    {
        return Err(StoreError::InvalidEmail);
    }
    Ok(email)
}

/// Checks a password: 8..=128 characters. Passwords are not trimmed.
pub fn check_password(password: &str) -> Result<(), StoreError> {
    if (8..=128).contains(&password.chars().count()) { Ok(()) } else { Err(StoreError::InvalidPassword) }
}

/// Trims a display name and checks it: 1..=64 characters, no control characters.
pub fn normalize_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(name.to_owned())
    } else {
        Err(StoreError::InvalidName)
    }
}

/// Trims a token label and checks it: at most 64 characters, no control characters.
pub(crate) fn normalize_label(label: &str) -> Result<String, StoreError> {
    let label = label.trim();
    if label.chars().count() <= 64 && !label.chars().any(char::is_control) {
        Ok(label.to_owned())
    } else {
        Err(StoreError::InvalidLabel)
    }
}

/// Checks a bulk name prefix: 1..=32 characters of `A-Z a-z 0-9 - _`, so that
/// `"{prefix}-{id}@bulk.invalid"` is a valid address and `"{prefix} {id}"` a
/// valid name.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    if (1..=32).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(StoreError::InvalidPrefix)
    }
}

/// Masks a display name for public leaderboards: keeps the first and last
/// character, stars between (`"Kim Min"` -> `"K*****n"`, `"Ab"` -> `"A*"`,
/// `"A"` -> `"*"`, `""` -> `""`). Counts Unicode scalar values, not bytes
/// (`"김민수"` -> `"김*수"`).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => String::new(),
        [_] => "*".to_owned(),
        [first, _] => format!("{first}*"),
        [first, middle @ .., last] => {
            let mut out = String::with_capacity(name.len());
            out.push(*first);
            out.extend(std::iter::repeat_n('*', middle.len()));
            out.push(*last);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(normalize_email("  Kim@Example.COM ").ok().as_deref(), Some("kim@example.com"));
        assert_eq!(normalize_email("a@b.c").ok().as_deref(), Some("a@b.c"));
        for bad in
            ["", "ab", "a@b", "@b.c", "a@.c", "a@b.", "a@@b.c", "a@b@c.d", "a b@c.d", "a@b\u{7}.c", "x-1@bulk.invalid"]
        {
            assert!(matches!(normalize_email(bad), Err(StoreError::InvalidEmail)), "{bad:?} should be refused");
        }
        let long = format!("{}@b.c", "a".repeat(250));
        assert_eq!(long.len(), 254);
        assert!(normalize_email(&long).is_ok());
        let too_long = format!("{}@b.c", "a".repeat(251));
        assert!(matches!(normalize_email(&too_long), Err(StoreError::InvalidEmail)));
    }

    #[test]
    fn passwords() {
        assert!(check_password("1234567").is_err());
        assert!(check_password("12345678").is_ok());
        assert!(check_password(&"x".repeat(128)).is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
        // characters, not bytes: 8 Hangul syllables are 24 bytes but 8 characters
        assert!(check_password("가나다라마바사아").is_ok());
        assert!(check_password(&"가".repeat(129)).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("  Kim  ").ok().as_deref(), Some("Kim"));
        assert!(normalize_name("   ").is_err());
        assert!(normalize_name("").is_err());
        assert!(normalize_name("a\nb").is_err());
        assert!(normalize_name(&"김".repeat(64)).is_ok());
        assert!(normalize_name(&"김".repeat(65)).is_err());
    }

    #[test]
    fn labels_and_prefixes() {
        assert_eq!(normalize_label(" ci ").ok().as_deref(), Some("ci"));
        assert!(normalize_label("").is_ok());
        assert!(normalize_label(&"l".repeat(65)).is_err());
        assert!(normalize_label("a\tb").is_err());
        assert!(check_prefix("bench_01-x").is_ok());
        assert!(check_prefix("").is_err());
        assert!(check_prefix("has space").is_err());
        assert!(check_prefix("a@b").is_err());
        assert!(check_prefix(&"p".repeat(33)).is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask_name("Kim Min"), "K*****n");
        assert_eq!(mask_name("Ab"), "A*");
        assert_eq!(mask_name("A"), "*");
        assert_eq!(mask_name(""), "");
        assert_eq!(mask_name("Kim"), "K*m");
        assert_eq!(mask_name("김민수"), "김*수");
        assert_eq!(mask_name("김민"), "김*");
        assert_eq!(mask_name("김"), "*");
        assert_eq!(mask_name("남궁민수"), "남**수");
    }
}
