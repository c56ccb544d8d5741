//! Input rules for e-mail addresses, passwords, names, token labels and bulk
//! name prefixes, plus [`mask_name`] for public leaderboards. Every text a
//! person sees goes through the core's one rule for human-visible text
//! ([`stampede_core::text`]: NFC, no control, format or bidi characters,
//! must show something).

use stampede_core::text::{TextError, clean_line};

use crate::StoreError;

/// The domain every bulk-created account's address lives in; sign-up refuses it.
pub(crate) const BULK_DOMAIN: &str = "bulk.invalid";

/// Trims and lowercases an e-mail address and checks its shape: 3..=254
/// characters, exactly one `@` with something before it, and a `.` in the
/// domain that neither starts nor ends it. No whitespace or control
/// characters. Addresses in the reserved bulk domain are refused.
pub fn normalize_email(email: &str) -> Result<String, StoreError> {
    // NFC and the visible-text rule (no U+202E and the like), then lowercase.
    let email = clean_line(email, 254, true).map_err(|_| StoreError::InvalidEmail)?.to_lowercase();
    let len = email.chars().count();
    if !(3..=254).contains(&len) {
        return Err(StoreError::InvalidEmail);
    }
    if email.chars().any(char::is_whitespace) {
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

/// Checks a password's length: 8..=128 characters. Passwords are not
/// trimmed. Log-in checks only this (an old password that would be too weak
/// today still opens its account); sign-up also runs [`check_password_strength`].
pub fn check_password(password: &str) -> Result<(), StoreError> {
    if (8..=128).contains(&password.chars().count()) { Ok(()) } else { Err(StoreError::InvalidPassword) }
}

/// Why a password was judged too easy to guess. The page shows a sentence
/// per reason in the person's language; [`PasswordWeakness::code`] is the
/// stable name on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordWeakness {
    /// One of the most used passwords, or close to one.
    Common,
    /// Contains the account's own e-mail address or name.
    Personal,
    /// Repeats (`aaaa`, `abcabc`), sequences (`1234`, `abcd`) or keyboard rows (`qwerty`).
    Pattern,
    /// A date or a recent year.
    Date,
    /// A single dictionary word or a common name.
    Word,
    /// None of the above stands out, but it is still quick to guess.
    Guessable,
}

impl PasswordWeakness {
    /// The stable wire name: `common`, `personal`, `pattern`, `date`, `word`, `guessable`.
    pub fn code(self) -> &'static str {
        match self {
            PasswordWeakness::Common => "common",
            PasswordWeakness::Personal => "personal",
            PasswordWeakness::Pattern => "pattern",
            PasswordWeakness::Date => "date",
            PasswordWeakness::Word => "word",
            PasswordWeakness::Guessable => "guessable",
        }
    }

    /// A sentence for the person, in English.
    pub fn message(self) -> &'static str {
        match self {
            PasswordWeakness::Common => "this is one of the most common passwords",
            PasswordWeakness::Personal => "the password contains your e-mail address or name",
            PasswordWeakness::Pattern => "repeats, sequences like 1234 or abcd, and keyboard rows are easy to guess",
            PasswordWeakness::Date => "dates and years are easy to guess",
            PasswordWeakness::Word => "a single word or name is easy to guess",
            PasswordWeakness::Guessable => "the password is too easy to guess; add another word or two",
        }
    }
}

/// The least zxcvbn score a new password needs: 3 means "more than 10^8
/// guesses", safely out of reach of online guessing and slow to attack
/// offline against argon2id.
const PASSWORD_SCORE_MIN: zxcvbn::Score = zxcvbn::Score::Three;

/// Pieces of the account's identity an attacker would try first: the whole
/// address, its local part, its domain's first label, the name and each word
/// of it (zxcvbn's user inputs). Pieces shorter than 3 characters would match too much.
fn personal_words(email: &str, name: &str) -> Vec<String> {
    let (email, name) = (email.to_lowercase(), name.to_lowercase());
    let mut words = vec![email.clone(), name.replace(' ', "")];
    if let Some((local, domain)) = email.split_once('@') {
        words.push(local.to_owned());
        words.extend(domain.split('.').next().map(str::to_owned));
    }
    words.extend(name.split_whitespace().map(str::to_owned));
    words.retain(|w| w.chars().count() >= 3);
    words.sort();
    words.dedup();
    words
}

/// What a password must not contain outright: the address, its local part
/// and the whole name (4 characters or more, so a short name like "Lee" does
/// not forbid "sleepy").
fn contained_words(email: &str, name: &str) -> Vec<String> {
    let email = email.to_lowercase();
    let mut words = vec![email.clone(), name.to_lowercase().replace(' ', "")];
    words.extend(email.split_once('@').map(|(local, _)| local.to_owned()));
    words.retain(|w| w.chars().count() >= 4);
    words
}

/// Refuses a new password that is easy to guess, saying why: the zxcvbn
/// strength estimate (with the person's e-mail and name as words an attacker
/// would try first) must reach score 3, and the password must not contain
/// the address or name outright. Run after [`check_password`].
pub fn check_password_strength(password: &str, email: &str, name: &str) -> Result<(), StoreError> {
    use zxcvbn::feedback::Warning as W;
    let lowered = password.to_lowercase();
    if contained_words(email, name).iter().any(|w| lowered.contains(w.as_str())) {
        return Err(StoreError::WeakPassword(PasswordWeakness::Personal));
    }
    let personal = personal_words(email, name);
    let inputs: Vec<&str> = personal.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() >= PASSWORD_SCORE_MIN {
        return Ok(());
    }
    let weakness = match estimate.feedback().and_then(|f| f.warning()) {
        Some(W::ThisIsATop10Password | W::ThisIsATop100Password | W::ThisIsACommonPassword) => PasswordWeakness::Common,
        Some(W::ThisIsSimilarToACommonlyUsedPassword) => PasswordWeakness::Common,
        Some(
            W::StraightRowsOfKeysAreEasyToGuess
            | W::ShortKeyboardPatternsAreEasyToGuess
            | W::RepeatsLikeAaaAreEasyToGuess
            | W::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess
            | W::SequencesLikeAbcAreEasyToGuess,
        ) => PasswordWeakness::Pattern,
        Some(W::RecentYearsAreEasyToGuess | W::DatesAreOftenEasyToGuess) => PasswordWeakness::Date,
        Some(
            W::AWordByItselfIsEasyToGuess
            | W::NamesAndSurnamesByThemselvesAreEasyToGuess
            | W::CommonNamesAndSurnamesAreEasyToGuess,
        ) => PasswordWeakness::Word,
        None => PasswordWeakness::Guessable,
    };
    Err(StoreError::WeakPassword(weakness))
}

/// A display name: NFC, trimmed, 1..=64 characters, showing something, with
/// no control, format or bidi characters.
pub fn normalize_name(name: &str) -> Result<String, StoreError> {
    clean_line(name, 64, true).map_err(|_| StoreError::InvalidName)
}

/// A token label: like a name, but may be empty.
pub(crate) fn normalize_label(label: &str) -> Result<String, StoreError> {
    clean_line(label, 64, false).map_err(|_: TextError| StoreError::InvalidLabel)
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
        assert!(check_password("12345678").is_ok(), "length only; strength is check_password_strength");
        assert!(check_password(&"x".repeat(128)).is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
        // characters, not bytes: 8 Hangul syllables are 24 bytes but 8 characters
        assert!(check_password("가나다라마바사아").is_ok());
        assert!(check_password(&"가".repeat(129)).is_err());
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        let weak = |p: &str| match check_password_strength(p, "kim@example.com", "Kim Min") {
            Err(StoreError::WeakPassword(w)) => Some(w),
            _ => None,
        };
        assert_eq!(weak("12345678"), Some(PasswordWeakness::Common));
        assert_eq!(weak("password"), Some(PasswordWeakness::Common));
        assert_eq!(weak("password1"), Some(PasswordWeakness::Common));
        assert_eq!(weak("        "), Some(PasswordWeakness::Pattern));
        assert_eq!(weak("abcdabcdabcd"), Some(PasswordWeakness::Pattern));
        assert_eq!(weak("kim@example.com"), Some(PasswordWeakness::Personal));
        assert_eq!(weak("KIM@EXAMPLE.COM"), Some(PasswordWeakness::Personal));
        assert_eq!(weak("kimmin2026"), Some(PasswordWeakness::Personal));
        assert_eq!(weak("가나다라마바사아"), Some(PasswordWeakness::Guessable));
        // The demo accounts' password (crates/cli/src/demo.rs) must pass for each of them.
        for (email, name) in [("admin@demo.stampede", "Demo Admin"), ("buyer@demo.stampede", "Min Buyer")] {
            assert!(check_password_strength("stampede-demo", email, name).is_ok(), "{email}");
        }
        for strong in ["correct horse battery", "plum-river-42", "Tr0ub4dor&3", "browser-pass-1", "sleepy-kimchi-7"] {
            assert_eq!(weak(strong), None, "{strong:?}");
        }
    }

    #[test]
    fn emails_and_names_refuse_invisible_characters() {
        assert!(matches!(normalize_email("kim\u{202E}@example.com"), Err(StoreError::InvalidEmail)));
        assert!(matches!(normalize_email("\u{FEFF}kim@example.com"), Err(StoreError::InvalidEmail)));
        for bad in
            ["a\u{202E}b", "\u{200B}", "\u{200B}\u{200B}", "\u{FEFF}Kim", "Kim\u{FFFF}", "Kim\u{E000}", "\u{3164}"]
        {
            assert!(matches!(normalize_name(bad), Err(StoreError::InvalidName)), "{bad:?} should be refused");
        }
        // NFC: two jamo become one syllable
        assert_eq!(normalize_name("\u{1100}\u{1161}").ok().as_deref(), Some("가"));
        assert!(matches!(normalize_label("ci\u{202E}"), Err(StoreError::InvalidLabel)));
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
