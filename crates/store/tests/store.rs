//! Behaviour tests for the account store.

use std::collections::HashSet;

use sha2::{Digest, Sha256};
use stampede_clock::{Clock, ManualClock, SystemClock};
use stampede_store::{
    AuthUser, MAX_SESSIONS_PER_USER, MAX_TOKENS_PER_USER, PasswordWeakness, Role, SESSION_TTL_US, Store, StoreError,
    TOKEN_TTL_US_MAX, TOKEN_TTL_US_MIN, TokenId, UserId, mask_name,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn temp_db() -> Result<(tempfile::TempDir, std::path::PathBuf), std::io::Error> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("accounts.db");
    Ok((dir, path))
}

#[test]
fn store_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Store>();
}

/// The only test that runs argon2 (slow in debug builds).
#[test]
fn sign_up_log_in_round_trip() -> TestResult {
    let store = Store::open_in_memory()?;
    let user = store.sign_up("  Kim@Example.com ", "plum-river-42", "  Kim Min ", Role::Participant)?;
    assert_eq!(user.email, "kim@example.com");
    assert_eq!(user.name, "Kim Min");
    assert_eq!(user.role, Role::Participant);
    assert_eq!(store.user(user.id), Some(user.clone()));
    assert_eq!(store.user_count(), 1);

    // right password, address in any case
    assert_eq!(store.log_in("KIM@example.COM", "plum-river-42")?, user);
    // wrong password vs no such account: two different, clear answers (A1)
    assert!(matches!(store.log_in("kim@example.com", "plum-river-43"), Err(StoreError::WrongPassword)));
    assert!(matches!(store.log_in("nobody@example.com", "plum-river-42"), Err(StoreError::UnknownAccount)));
    // same address, different case: taken
    assert!(matches!(
        store.sign_up("KIM@EXAMPLE.COM", "violet-harbor-77", "Other", Role::Organizer),
        Err(StoreError::EmailTaken)
    ));
    assert_eq!(store.user_count(), 1);
    Ok(())
}

/// email, password, name, which error
type Case<'a> = (&'a str, &'a str, &'a str, fn(&StoreError) -> bool);

#[test]
fn sign_up_validation() -> TestResult {
    let store = Store::open_in_memory()?;
    let cases: [Case<'_>; 8] = [
        ("no-at-sign.com", "password1", "A", |e| matches!(e, StoreError::InvalidEmail)),
        ("a@nodot", "password1", "A", |e| matches!(e, StoreError::InvalidEmail)),
        ("a@b@c.d", "password1", "A", |e| matches!(e, StoreError::InvalidEmail)),
        ("x-1@bulk.invalid", "password1", "A", |e| matches!(e, StoreError::InvalidEmail)),
        ("a@b.c", "short", "A", |e| matches!(e, StoreError::InvalidPassword)),
        ("a@b.c", &"p".repeat(129), "A", |e| matches!(e, StoreError::InvalidPassword)),
        ("a@b.c", "password1", "   ", |e| matches!(e, StoreError::InvalidName)),
        ("a@b.c", "password1", "bad\u{0}name", |e| matches!(e, StoreError::InvalidName)),
    ];
    for (email, password, name, expected) in cases {
        match store.sign_up(email, password, name, Role::Participant) {
            Err(e) if expected(&e) => {}
            other => panic!("{email:?}/{name:?}: unexpected {other:?}"),
        }
    }
    let long_email = format!("{}@b.c", "a".repeat(251));
    assert!(matches!(store.sign_up(&long_email, "password1", "A", Role::Participant), Err(StoreError::InvalidEmail)));
    let long_name = "n".repeat(65);
    assert!(matches!(store.sign_up("a@b.c", "password1", &long_name, Role::Participant), Err(StoreError::InvalidName)));
    assert_eq!(store.user_count(), 0);
    Ok(())
}

#[test]
fn role_names_round_trip() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
    }
    assert!(matches!("Admin".parse::<Role>(), Err(StoreError::InvalidRole)));
    assert!(matches!("root".parse::<Role>(), Err(StoreError::InvalidRole)));
}

#[test]
fn bulk_user_cannot_log_in_with_a_password() -> TestResult {
    let store = Store::open_in_memory()?;
    let users = store.bulk_create(1, "bench")?;
    let (user, _) = &users[0];
    assert!(matches!(store.log_in(&user.email, "password1"), Err(StoreError::WrongPassword)));
    assert!(matches!(store.log_in(&user.email, ""), Err(StoreError::WrongPassword)));
    Ok(())
}

#[test]
fn bearer_token_survives_reopen() -> TestResult {
    let (_dir, path) = temp_db()?;
    let (user, token, labelled, cookie) = {
        let store = Store::open(&path)?;
        let (user, token) = store.bulk_create(1, "Keep")?.remove(0);
        let labelled = store.create_token(user.id, " laptop ")?;
        assert_ne!(labelled, token);
        let session = store.create_session(user.id)?;
        (user, token, labelled, session.cookie_value)
    };
    let store = Store::open(&path)?;
    assert_eq!(store.user_count(), 1);
    assert_eq!(store.user(user.id), Some(user.clone()));
    let me = Some(AuthUser { id: user.id, role: Role::Participant });
    assert_eq!(store.bearer(&token), me);
    assert_eq!(store.bearer(&labelled), me);
    assert_eq!(store.session(&cookie).map(|(a, _)| a), me);
    // unknown, altered, or prefix-less tokens do not authenticate
    assert_eq!(store.bearer("stp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None);
    let mut altered = token.clone();
    altered.pop();
    altered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(store.bearer(&altered), None);
    assert_eq!(store.bearer(token.trim_start_matches("stp_")), None);
    assert_eq!(store.bearer(""), None);
    // a session cookie is not a bearer token and vice versa
    assert_eq!(store.bearer(&cookie), None);
    assert_eq!(store.session(&token), None);
    Ok(())
}

#[test]
fn revoked_token_stops_working_and_stays_revoked() -> TestResult {
    let (_dir, path) = temp_db()?;
    let token = {
        let store = Store::open(&path)?;
        let (user, token) = store.bulk_create(1, "r")?.remove(0);
        let other = store.create_token(user.id, "")?;
        assert!(store.revoke_token(&token)?);
        assert!(!store.revoke_token(&token)?);
        assert_eq!(store.bearer(&token), None);
        assert!(store.bearer(&other).is_some());
        token
    };
    let store = Store::open(&path)?;
    assert_eq!(store.bearer(&token), None);
    Ok(())
}

#[test]
fn sessions_start_check_and_end() -> TestResult {
    let (_dir, path) = temp_db()?;
    let (ended, kept) = {
        let store = Store::open(&path)?;
        let (user, _) = store.bulk_create(1, "s")?.remove(0);
        let a = store.create_session(user.id)?;
        let b = store.create_session(user.id)?;
        assert_ne!(a.cookie_value, b.cookie_value);
        assert_ne!(a.cookie_value, a.csrf_token);
        assert_eq!(a.cookie_value.len(), 43);
        assert_eq!(a.csrf_token.len(), 43);

        let (auth, csrf) = store.session(&a.cookie_value).ok_or("session a missing")?;
        assert_eq!(auth.id, user.id);
        assert_eq!(csrf, a.csrf_token);

        store.end_session(&a.cookie_value)?;
        assert_eq!(store.session(&a.cookie_value), None);
        // ending twice, or ending nonsense, is fine
        store.end_session(&a.cookie_value)?;
        store.end_session("nonsense")?;
        assert!(store.session(&b.cookie_value).is_some());
        (a, b)
    };
    let store = Store::open(&path)?;
    assert_eq!(store.session(&ended.cookie_value), None);
    let (_, csrf) = store.session(&kept.cookie_value).ok_or("kept session lost")?;
    assert_eq!(csrf, kept.csrf_token);
    assert!(matches!(store.create_session(UserId(999)), Err(StoreError::UnknownUser)));
    Ok(())
}

#[test]
fn expired_session_is_refused_and_pruned() -> TestResult {
    let (_dir, path) = temp_db()?;
    let t0 = 1_700_000_000_000_000_i64; // Nov 2023
    let clock = ManualClock::at(t0);
    let cookie = {
        let store = Store::open_with_clock(&path, std::sync::Arc::new(clock.clone()))?;
        let (user, _) = store.bulk_create(1, "e")?.remove(0);
        let s = store.create_session(user.id)?;
        assert!(store.session(&s.cookie_value).is_some());
        clock.set(t0 + SESSION_TTL_US - 1);
        assert!(store.session(&s.cookie_value).is_some());
        assert_eq!(store.prune_expired_sessions()?, 0);
        clock.set(t0 + SESSION_TTL_US);
        assert_eq!(store.session(&s.cookie_value), None);
        assert_eq!(store.prune_expired_sessions()?, 1);
        // Pruned: gone even at a time it was live.
        clock.set(t0);
        assert_eq!(store.session(&s.cookie_value), None);
        // another one, expired by the time the store reopens, left for the reopen to clean up
        store.create_session(user.id)?.cookie_value
    };
    // By the real clock (years later) it is long gone, from memory and from the file.
    let store = Store::open(&path)?;
    assert_eq!(store.session(&cookie), None);
    let conn = rusqlite::Connection::open(&path)?;
    let left: i64 = conn.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?;
    assert_eq!(left, 0);
    Ok(())
}

#[test]
fn at_most_100_sessions_per_user_oldest_dropped() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let mut users = store.bulk_create(2, "m")?;
    let (other, _) = users.pop().ok_or("no user")?;
    let (user, _) = users.pop().ok_or("no user")?;
    let other_session = store.create_session(other.id)?;
    let sessions: Vec<_> =
        (0..=MAX_SESSIONS_PER_USER).map(|_| store.create_session(user.id)).collect::<Result<_, _>>()?;
    assert_eq!(store.session(&sessions[0].cookie_value), None, "oldest not dropped");
    for s in &sessions[1..] {
        assert!(store.session(&s.cookie_value).is_some());
    }
    // the other user's session is untouched
    assert!(store.session(&other_session.cookie_value).is_some());
    let conn = rusqlite::Connection::open(&path)?;
    let n: i64 =
        conn.query_row("SELECT COUNT(*) FROM sessions WHERE user_id = ?1", [i64::try_from(user.id.0)?], |r| r.get(0))?;
    assert_eq!(n, i64::try_from(MAX_SESSIONS_PER_USER)?);
    assert_eq!(store.end_all_sessions(user.id)?, MAX_SESSIONS_PER_USER);
    assert_eq!(store.session(&sessions[50].cookie_value), None);
    assert!(store.session(&other_session.cookie_value).is_some());
    Ok(())
}

#[test]
fn at_most_100_tokens_per_user() -> TestResult {
    let store = Store::open_in_memory()?;
    let (user, first) = store.bulk_create(1, "t")?.remove(0);
    let mut tokens = vec![first];
    for i in 1..MAX_TOKENS_PER_USER {
        tokens.push(store.create_token(user.id, &format!("t{i}"))?);
    }
    assert!(matches!(store.create_token(user.id, "one too many"), Err(StoreError::TooManyTokens { max: 100 })));
    assert!(tokens.iter().all(|t| store.bearer(t).is_some()));
    assert!(store.revoke_token(&tokens[0])?);
    store.create_token(user.id, "after revoke")?;
    assert!(matches!(store.create_token(UserId(12345), "x"), Err(StoreError::UnknownUser)));
    assert!(matches!(store.create_token(user.id, &"l".repeat(65)), Err(StoreError::InvalidLabel)));
    Ok(())
}

/// Issue 9 item 17: at the cap, listing and revoking by id is the way out;
/// expired tokens stop working, are not listed and free their place.
#[test]
fn tokens_are_listed_revoked_by_id_and_expire() -> TestResult {
    let (_dir, path) = temp_db()?;
    let t0 = SystemClock.now_us();
    let clock = ManualClock::at(t0);
    let (user, other_token) = {
        let store = Store::open_with_clock(&path, std::sync::Arc::new(clock.clone()))?;
        let (user, _) = store.bulk_create(1, "tok")?.remove(0);
        let (other, other_token) = store.bulk_create(1, "other")?.remove(0);
        let listed = store.tokens_of(user.id)?;
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].label.as_str(), listed[0].expires_us), ("bulk", None));

        // Fill up with short-lived tokens: the cap answers, then time frees it.
        let mut short = Vec::new();
        for i in 1..MAX_TOKENS_PER_USER {
            short.push(store.issue_token(user.id, &format!("t{i}"), Some(TOKEN_TTL_US_MIN))?);
        }
        assert!(matches!(store.issue_token(user.id, "full", None), Err(StoreError::TooManyTokens { max: 100 })));
        assert_eq!(store.tokens_of(user.id)?.len(), MAX_TOKENS_PER_USER);
        let first = &short[0];
        assert_eq!(first.expires_us, Some(t0 + TOKEN_TTL_US_MIN));
        clock.set(t0 + TOKEN_TTL_US_MIN - 1);
        assert_eq!(store.bearer(&first.token).map(|a| a.id), Some(user.id));
        clock.set(t0 + TOKEN_TTL_US_MIN);
        assert_eq!(store.bearer(&first.token), None, "expired tokens stop working");
        assert_eq!(store.tokens_of(user.id)?.len(), 1, "expired tokens are not listed");
        let kept = store.issue_token(user.id, "after expiry", None)?;

        // Revoke by id: only your own, once.
        assert!(matches!(store.revoke_token_of(other.id, kept.id), Err(StoreError::UnknownToken)));
        assert!(store.bearer(&kept.token).is_some());
        store.revoke_token_of(user.id, kept.id)?;
        assert_eq!(store.bearer(&kept.token), None);
        assert!(matches!(store.revoke_token_of(user.id, kept.id), Err(StoreError::UnknownToken)));
        assert!(matches!(store.revoke_token_of(user.id, TokenId(u64::MAX)), Err(StoreError::UnknownToken)));

        for bad in [Some(TOKEN_TTL_US_MIN - 1), Some(TOKEN_TTL_US_MAX + 1), Some(0), Some(-5)] {
            assert!(matches!(store.issue_token(user.id, "x", bad), Err(StoreError::InvalidTokenLifetime)));
        }
        (user, other_token)
    };
    // After a reopen the expiry is still known, and revoked tokens stay revoked.
    let store = Store::open_with_clock(&path, std::sync::Arc::new(clock.clone()))?;
    assert!(store.bearer(&other_token).is_some());
    let long = store.issue_token(user.id, "a year", Some(TOKEN_TTL_US_MAX))?;
    let store = {
        drop(store);
        Store::open_with_clock(&path, std::sync::Arc::new(clock.clone()))?
    };
    assert!(store.bearer(&long.token).is_some());
    clock.advance(TOKEN_TTL_US_MAX);
    assert_eq!(store.bearer(&long.token), None);
    clock.advance(-TOKEN_TTL_US_MAX);
    let listed = store.tokens_of(user.id)?;
    assert_eq!(listed.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["bulk", "a year"]);
    Ok(())
}

/// Issue 9 item 16: common and guessable passwords are refused with the reason.
#[test]
fn sign_up_refuses_guessable_passwords() -> TestResult {
    let store = Store::open_in_memory()?;
    for (password, why) in [
        ("12345678", PasswordWeakness::Common),
        ("password", PasswordWeakness::Common),
        ("        ", PasswordWeakness::Pattern),
        ("kim@example.com", PasswordWeakness::Personal),
    ] {
        match store.sign_up("kim@example.com", password, "Kim Min", Role::Participant) {
            Err(StoreError::WeakPassword(w)) => assert_eq!(w, why, "{password:?}"),
            other => panic!("{password:?}: unexpected {other:?}"),
        }
    }
    assert_eq!(store.user_count(), 0);
    Ok(())
}

/// Issue 9 item 18: invisible, control and direction-changing characters.
#[test]
fn names_and_emails_refuse_invisible_characters() -> TestResult {
    let store = Store::open_in_memory()?;
    for name in ["Kim\u{202E}nim", "\u{200B}", "\u{FEFF}Kim", "Kim\u{FFFF}", "Kim\u{E000}", "\u{3164}"] {
        assert!(
            matches!(store.sign_up("a@b.cd", "plum-river-42", name, Role::Participant), Err(StoreError::InvalidName)),
            "{name:?}"
        );
    }
    assert!(matches!(
        store.sign_up("ki\u{202E}m@b.cd", "plum-river-42", "Kim", Role::Participant),
        Err(StoreError::InvalidEmail)
    ));
    let (user, _) = store.bulk_create(1, "n")?.remove(0);
    assert!(matches!(store.set_name(user.id, "x\u{202E}y"), Err(StoreError::InvalidName)));
    assert_eq!(store.set_name(user.id, "\u{1100}\u{1161}\u{11A8}")?.name, "각", "stored in NFC");
    Ok(())
}

/// Issue 9 item 14: an unknown address costs the same argon2 work as a
/// wrong password, so timing does not tell which addresses have accounts.
/// Compares the fastest of a few runs of each (noise only adds time): before
/// the fix the unknown address answered about 15 times faster.
#[test]
fn unknown_account_takes_as_long_as_a_wrong_password() -> TestResult {
    let store = Store::open_in_memory()?;
    store.sign_up("kim@example.com", "plum-river-42", "Kim", Role::Participant)?;
    let (bulk, _) = store.bulk_create(1, "nopw")?.remove(0);
    let fastest = |email: &str| {
        (0..4)
            .map(|_| {
                let start = std::time::Instant::now();
                let _ = store.log_in(email, "plum-river-43");
                start.elapsed()
            })
            .min()
            .unwrap_or_default()
    };
    let known = fastest("kim@example.com");
    let unknown = fastest("nobody@example.com");
    let no_password = fastest(&bulk.email);
    assert!(unknown * 2 > known, "unknown {unknown:?} vs known {known:?}");
    assert!(no_password * 2 > known, "password-less {no_password:?} vs known {known:?}");
    Ok(())
}

#[test]
fn bulk_create_1000_distinct_tokens_stored_only_as_hashes() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    let created = store.bulk_create(1000, "Bench")?;
    assert_eq!(created.len(), 1000);
    assert_eq!(store.user_count(), 1000);

    let ids: HashSet<UserId> = created.iter().map(|(u, _)| u.id).collect();
    let tokens: HashSet<&str> = created.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(ids.len(), 1000);
    assert_eq!(tokens.len(), 1000);
    for (user, token) in &created {
        assert!(token.starts_with("stp_"));
        assert_eq!(user.email, format!("bench-{}@bulk.invalid", user.id.0));
        assert_eq!(user.name, format!("Bench {}", user.id.0));
        assert_eq!(user.role, Role::Participant);
        assert_eq!(store.bearer(token), Some(AuthUser { id: user.id, role: Role::Participant }));
        assert_eq!(store.user(user.id).as_ref(), Some(user));
    }

    // A second connection sees only digests.
    let conn = rusqlite::Connection::open(&path)?;
    let mut stmt = conn.prepare("SELECT t.hash, u.id FROM tokens t JOIN users u ON u.id = t.user_id")?;
    let stored: Vec<(Vec<u8>, i64)> = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    assert_eq!(stored.len(), 1000);
    let digests: HashSet<Vec<u8>> = stored.iter().map(|(h, _)| h.clone()).collect();
    for (_, token) in &created {
        assert!(digests.contains(Sha256::digest(token.as_bytes()).as_slice()));
        assert!(!digests.contains(token.as_bytes()));
    }
    let no_passwords: i64 =
        conn.query_row("SELECT COUNT(*) FROM users WHERE password_hash IS NULL", [], |r| r.get(0))?;
    assert_eq!(no_passwords, 1000);
    drop(stmt);
    drop(conn);

    // And no plaintext token (or its random part) anywhere in the files on disk.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(path.parent().ok_or("no parent")?)? {
        bytes.extend(std::fs::read(entry?.path())?);
    }
    assert!(bytes.len() > 1000 * 32);
    for (_, token) in created.iter().step_by(7) {
        let body = token.trim_start_matches("stp_").as_bytes();
        assert!(!bytes.windows(body.len()).any(|w| w == body), "plaintext token on disk");
    }
    // a second batch continues the ids
    let more = store.bulk_create(2, "more")?;
    let max_first = ids.iter().max().ok_or("empty")?;
    assert!(more.iter().all(|(u, _)| u.id > *max_first));
    Ok(())
}

#[test]
fn bulk_create_limits() -> TestResult {
    let (_dir, path) = temp_db()?;
    let store = Store::open(&path)?;
    assert!(matches!(store.bulk_create(0, "b"), Err(StoreError::InvalidCount)));
    assert!(matches!(store.bulk_create(10_001, "b"), Err(StoreError::InvalidCount)));
    assert!(matches!(store.bulk_create(1, ""), Err(StoreError::InvalidPrefix)));
    assert!(matches!(store.bulk_create(1, "a b"), Err(StoreError::InvalidPrefix)));
    assert!(matches!(store.bulk_create(1, "a@b"), Err(StoreError::InvalidPrefix)));
    assert_eq!(store.user_count(), 0);
    let start = std::time::Instant::now();
    assert_eq!(store.bulk_create(10_000, "max")?.len(), 10_000);
    eprintln!("bulk_create(10000) took {:?}", start.elapsed());
    assert_eq!(store.user_count(), 10_000);
    Ok(())
}

#[test]
fn role_change_applies_at_once() -> TestResult {
    let (_dir, path) = temp_db()?;
    let (user, token) = {
        let store = Store::open(&path)?;
        let (user, token) = store.bulk_create(1, "r")?.remove(0);
        let session = store.create_session(user.id)?;
        assert_eq!(store.bearer(&token).map(|a| a.role), Some(Role::Participant));
        let updated = store.set_role(user.id, Role::Organizer)?;
        assert_eq!(updated.role, Role::Organizer);
        assert_eq!(store.bearer(&token).map(|a| a.role), Some(Role::Organizer));
        assert_eq!(store.session(&session.cookie_value).map(|(a, _)| a.role), Some(Role::Organizer));
        assert_eq!(store.user(user.id).map(|u| u.role), Some(Role::Organizer));
        assert!(matches!(store.set_role(UserId(4242), Role::Admin), Err(StoreError::UnknownUser)));
        (user, token)
    };
    let store = Store::open(&path)?;
    assert_eq!(store.user(user.id).map(|u| u.role), Some(Role::Organizer));
    store.set_role(user.id, Role::Admin)?;
    assert_eq!(store.bearer(&token).map(|a| a.role), Some(Role::Admin));
    Ok(())
}

#[test]
fn clones_share_state_across_threads() -> TestResult {
    let store = Store::open_in_memory()?;
    let users = store.bulk_create(8, "c")?;
    let handles: Vec<_> = users
        .into_iter()
        .map(|(user, _)| {
            let store = store.clone();
            std::thread::spawn(move || -> Result<Vec<String>, StoreError> {
                (0..20).map(|_| store.create_token(user.id, "thread")).collect()
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().map_err(|_| "thread panicked")??);
    }
    assert_eq!(all.len(), 160);
    assert!(all.iter().all(|t| store.bearer(t).is_some()));
    Ok(())
}

#[test]
fn secrets_are_not_debug_printed() -> TestResult {
    let store = Store::open_in_memory()?;
    let (user, token) = store.bulk_create(1, "d")?.remove(0);
    let session = store.create_session(user.id)?;
    let printed = format!("{session:?} {store:?}");
    assert!(printed.contains("[redacted]"));
    assert!(!printed.contains(&session.cookie_value));
    assert!(!printed.contains(&session.csrf_token));
    assert!(!printed.contains(&token));
    Ok(())
}

#[test]
fn newer_schema_is_refused() -> TestResult {
    let (_dir, path) = temp_db()?;
    drop(Store::open(&path)?);
    let conn = rusqlite::Connection::open(&path)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    assert_eq!(mode, "wal");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, 5);
    conn.pragma_update(None, "user_version", 99)?;
    drop(conn);
    assert!(matches!(Store::open(&path), Err(StoreError::SchemaTooNew { found: 99, .. })));
    Ok(())
}

#[test]
fn mask_name_for_leaderboards() {
    assert_eq!(mask_name("Kim Min"), "K*****n");
    assert_eq!(mask_name("Ab"), "A*");
    assert_eq!(mask_name("A"), "*");
    assert_eq!(mask_name("김민수"), "김*수");
    assert_eq!(mask_name("이수"), "이*");
}

/// Whether an address has an account must not show in how long a log-in
/// takes: every failed log-in with a plausible password runs argon2id
/// exactly once, against the account's hash or a dummy of the same cost
/// (`crypto::dummy_matches_current_parameters` checks the cost). Counted,
/// not timed, so a loaded machine cannot make it pass or fail.
#[test]
fn every_failed_log_in_costs_one_password_check_account_or_not() -> TestResult {
    let store = Store::open_in_memory()?;
    store.sign_up("kim@example.com", "plum-river-42", "Kim", Role::Participant)?;
    let (bulk, _) = store.bulk_create(1, "bulk")?.remove(0);
    let cost = |email: &str, password: &str| {
        let before = store.password_checks();
        let answer = store.log_in(email, password);
        (store.password_checks() - before, answer)
    };
    for (email, what) in [
        ("kim@example.com", "a wrong password"),
        ("nobody@example.com", "an unknown address"),
        (bulk.email.as_str(), "an account without a password"),
        ("not an address", "a malformed address"),
    ] {
        let (checks, answer) = cost(email, "plum-river-43");
        assert!(answer.is_err(), "{what} logged in");
        assert_eq!(checks, 1, "{what} ran {checks} password checks");
    }
    // A password no account can have is refused without hashing, whoever asks.
    for email in ["kim@example.com", "nobody@example.com"] {
        let (checks, answer) = cost(email, "");
        assert!(answer.is_err());
        assert_eq!(checks, 0);
    }
    Ok(())
}
