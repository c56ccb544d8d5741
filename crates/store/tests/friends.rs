//! Behaviour tests for friends: requests, answers, removal, limits, the
//! in-memory pair set, and the schema migration that added them.

use stampede_store::{
    FriendRemoval, FriendRequestOutcome, MAX_FRIENDS_PER_USER, MAX_OUTGOING_REQUESTS_PER_USER, Person, Store,
    StoreError, User, UserId,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `count` token-only users (no argon2), in id order.
fn people(store: &Store, count: u32, prefix: &str) -> Result<Vec<User>, StoreError> {
    Ok(store.bulk_create(count, prefix)?.into_iter().map(|(u, _)| u).collect())
}

fn ids_of(friends: &[stampede_store::Friend]) -> Vec<UserId> {
    friends.iter().map(|f| f.person.id).collect()
}

fn person(u: &User) -> Person {
    Person { id: u.id, name: u.name.clone() }
}

#[test]
fn request_then_accept_makes_both_friends() -> TestResult {
    let store = Store::open_in_memory()?;
    let [a, b, c] = <[User; 3]>::try_from(people(&store, 3, "fr")?).map_err(|_| "three users")?;

    assert_eq!(store.request_friend(a.id, b.id)?, FriendRequestOutcome::Requested);
    assert!(!store.are_friends(a.id, b.id), "a request is not a friendship");
    let a_pending = store.pending_requests(a.id)?;
    assert!(a_pending.incoming.is_empty());
    assert_eq!(a_pending.outgoing.len(), 1);
    assert_eq!(a_pending.outgoing[0].person, person(&b));
    let b_pending = store.pending_requests(b.id)?;
    assert_eq!(b_pending.incoming_total, 1);
    assert_eq!(b_pending.incoming[0].person, person(&a));
    assert!(b_pending.outgoing.is_empty());

    assert_eq!(store.accept_friend(b.id, a.id)?, person(&a));
    assert!(store.are_friends(a.id, b.id));
    assert!(store.are_friends(b.id, a.id));
    assert!(!store.are_friends(a.id, c.id));
    assert_eq!(ids_of(&store.friends_of(a.id)?), vec![b.id]);
    assert_eq!(ids_of(&store.friends_of(b.id)?), vec![a.id]);
    assert!(store.friends_of(c.id)?.is_empty());
    let since = store.friends_of(a.id)?[0].since_us;
    assert_eq!(store.friends_of(b.id)?[0].since_us, since, "one friendship, one start");
    // The request is gone from both sides.
    assert_eq!(store.pending_requests(a.id)?, Default::default());
    assert_eq!(store.pending_requests(b.id)?, Default::default());

    // Asking or accepting again says what is true.
    assert!(matches!(store.request_friend(a.id, b.id), Err(StoreError::AlreadyFriends)));
    assert!(matches!(store.request_friend(b.id, a.id), Err(StoreError::AlreadyFriends)));
    assert!(matches!(store.accept_friend(b.id, a.id), Err(StoreError::AlreadyFriends)));
    Ok(())
}

#[test]
fn crossed_requests_become_a_friendship_at_once() -> TestResult {
    let store = Store::open_in_memory()?;
    let [a, b] = <[User; 2]>::try_from(people(&store, 2, "x")?).map_err(|_| "two users")?;
    assert_eq!(store.request_friend(a.id, b.id)?, FriendRequestOutcome::Requested);
    assert_eq!(store.request_friend(b.id, a.id)?, FriendRequestOutcome::BecameFriends);
    assert!(store.are_friends(a.id, b.id));
    assert_eq!(store.pending_requests(a.id)?, Default::default());
    assert_eq!(store.pending_requests(b.id)?, Default::default());
    Ok(())
}

#[test]
fn decline_deletes_the_request_and_they_may_ask_again() -> TestResult {
    let store = Store::open_in_memory()?;
    let [a, b] = <[User; 2]>::try_from(people(&store, 2, "d")?).map_err(|_| "two users")?;
    store.request_friend(a.id, b.id)?;
    // Only the recipient declines: the sender's own id finds no request to them.
    assert!(matches!(store.decline_friend(a.id, b.id), Err(StoreError::NoFriendRequest)));
    store.decline_friend(b.id, a.id)?;
    assert!(!store.are_friends(a.id, b.id));
    assert_eq!(store.pending_requests(a.id)?, Default::default());
    assert_eq!(store.pending_requests(b.id)?, Default::default());
    assert!(matches!(store.decline_friend(b.id, a.id), Err(StoreError::NoFriendRequest)));
    assert!(matches!(store.accept_friend(b.id, a.id), Err(StoreError::NoFriendRequest)));
    assert_eq!(store.request_friend(a.id, b.id)?, FriendRequestOutcome::Requested);
    Ok(())
}

#[test]
fn remove_ends_a_friendship_for_both_or_withdraws_my_request() -> TestResult {
    let store = Store::open_in_memory()?;
    let [a, b, c] = <[User; 3]>::try_from(people(&store, 3, "r")?).map_err(|_| "three users")?;
    store.request_friend(a.id, b.id)?;
    store.accept_friend(b.id, a.id)?;
    assert_eq!(store.remove_friend(b.id, a.id)?, FriendRemoval::Unfriended);
    assert!(!store.are_friends(a.id, b.id));
    assert!(store.friends_of(a.id)?.is_empty());
    assert!(store.friends_of(b.id)?.is_empty());
    assert!(matches!(store.remove_friend(a.id, b.id), Err(StoreError::NotFriends)));

    store.request_friend(a.id, c.id)?;
    // The recipient cannot "remove" an incoming request: that is declining.
    assert!(matches!(store.remove_friend(c.id, a.id), Err(StoreError::NotFriends)));
    assert_eq!(store.remove_friend(a.id, c.id)?, FriendRemoval::Withdrawn);
    assert_eq!(store.pending_requests(c.id)?, Default::default());
    assert!(matches!(store.accept_friend(c.id, a.id), Err(StoreError::NoFriendRequest)));
    Ok(())
}

#[test]
fn self_unknown_and_duplicate_requests_are_refused() -> TestResult {
    let store = Store::open_in_memory()?;
    let [a, b] = <[User; 2]>::try_from(people(&store, 2, "s")?).map_err(|_| "two users")?;
    let nobody = UserId(9_999);
    assert!(matches!(store.request_friend(a.id, a.id), Err(StoreError::CannotBefriendSelf)));
    assert!(matches!(store.request_friend(a.id, nobody), Err(StoreError::UnknownUser)));
    assert!(matches!(store.request_friend(nobody, a.id), Err(StoreError::UnknownUser)));
    assert!(matches!(store.request_friend(a.id, UserId(u64::MAX)), Err(StoreError::UnknownUser)));
    assert!(matches!(store.friends_of(nobody), Err(StoreError::UnknownUser)));
    assert!(matches!(store.pending_requests(nobody), Err(StoreError::UnknownUser)));
    store.request_friend(a.id, b.id)?;
    assert!(matches!(store.request_friend(a.id, b.id), Err(StoreError::FriendRequestExists)));
    assert_eq!(store.pending_requests(b.id)?.incoming_total, 1);
    Ok(())
}

#[test]
fn a_third_person_cannot_answer_or_withdraw_others_requests() -> TestResult {
    let store = Store::open_in_memory()?;
    let [a, b, c] = <[User; 3]>::try_from(people(&store, 3, "t")?).map_err(|_| "three users")?;
    store.request_friend(a.id, b.id)?;
    assert!(matches!(store.accept_friend(c.id, a.id), Err(StoreError::NoFriendRequest)));
    assert!(matches!(store.decline_friend(c.id, a.id), Err(StoreError::NoFriendRequest)));
    assert!(matches!(store.remove_friend(c.id, b.id), Err(StoreError::NotFriends)));
    assert!(matches!(store.remove_friend(c.id, a.id), Err(StoreError::NotFriends)));
    assert_eq!(store.pending_requests(c.id)?, Default::default());
    // The request is untouched.
    assert_eq!(store.pending_requests(b.id)?.incoming[0].person.id, a.id);
    Ok(())
}

#[test]
fn at_most_500_friends_on_either_side() -> TestResult {
    let store = Store::open_in_memory()?;
    let n = u32::try_from(MAX_FRIENDS_PER_USER)? + 3;
    let users = people(&store, n, "lim")?;
    let (hub, rest) = users.split_first().ok_or("users")?;
    let (fill, extra) = rest.split_at(MAX_FRIENDS_PER_USER);
    for u in fill {
        assert_eq!(store.request_friend(u.id, hub.id)?, FriendRequestOutcome::Requested);
        store.accept_friend(hub.id, u.id)?;
    }
    assert_eq!(store.friends_of(hub.id)?.len(), MAX_FRIENDS_PER_USER);
    let (x, y) = (&extra[0], &extra[1]);
    let full = |e: Option<StoreError>| match e {
        Some(StoreError::TooManyFriends { user, max }) => user == hub.id && max == MAX_FRIENDS_PER_USER,
        _ => false,
    };
    // Neither the full person nor someone asking them can start a request...
    assert!(full(store.request_friend(hub.id, x.id).err()));
    assert!(full(store.request_friend(x.id, hub.id).err()));
    // ...and a request from before the limit cannot be accepted past it.
    store.remove_friend(hub.id, fill[0].id)?;
    store.request_friend(x.id, hub.id)?;
    store.request_friend(y.id, hub.id)?;
    store.accept_friend(hub.id, x.id)?;
    assert!(full(store.accept_friend(hub.id, y.id).err()));
    assert!(!store.are_friends(hub.id, y.id));
    assert_eq!(store.pending_requests(hub.id)?.incoming_total, 1, "the refused request still waits");
    assert_eq!(store.friends_of(hub.id)?.len(), MAX_FRIENDS_PER_USER);
    Ok(())
}

#[test]
fn at_most_100_pending_outgoing_requests() -> TestResult {
    let store = Store::open_in_memory()?;
    let n = u32::try_from(MAX_OUTGOING_REQUESTS_PER_USER)? + 3;
    let users = people(&store, n, "out")?;
    let (me, rest) = users.split_first().ok_or("users")?;
    for u in &rest[..MAX_OUTGOING_REQUESTS_PER_USER] {
        store.request_friend(me.id, u.id)?;
    }
    let (last, asker) = (&rest[MAX_OUTGOING_REQUESTS_PER_USER], &rest[MAX_OUTGOING_REQUESTS_PER_USER + 1]);
    assert!(matches!(
        store.request_friend(me.id, last.id),
        Err(StoreError::TooManyFriendRequests { max: MAX_OUTGOING_REQUESTS_PER_USER })
    ));
    assert_eq!(store.pending_requests(me.id)?.outgoing.len(), MAX_OUTGOING_REQUESTS_PER_USER);
    // A full outbox does not stop others asking me, nor me accepting.
    store.request_friend(asker.id, me.id)?;
    store.accept_friend(me.id, asker.id)?;
    // An answer to one of mine frees a slot.
    store.accept_friend(rest[0].id, me.id)?;
    assert_eq!(store.request_friend(me.id, last.id)?, FriendRequestOutcome::Requested);
    assert!(matches!(store.request_friend(me.id, asker.id), Err(StoreError::AlreadyFriends)));
    Ok(())
}

#[test]
fn pending_lists_are_newest_first() -> TestResult {
    let store = Store::open_in_memory()?;
    let users = people(&store, 4, "p")?;
    let (me, rest) = users.split_first().ok_or("users")?;
    for u in rest {
        store.request_friend(u.id, me.id)?;
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let pending = store.pending_requests(me.id)?;
    assert_eq!(pending.incoming_total, 3);
    let got: Vec<UserId> = pending.incoming.iter().map(|r| r.person.id).collect();
    let want: Vec<UserId> = rest.iter().rev().map(|u| u.id).collect();
    assert_eq!(got, want);
    assert!(pending.incoming.windows(2).all(|w| w[0].created_us >= w[1].created_us));
    Ok(())
}

#[test]
fn first_non_friend_checks_a_whole_group() -> TestResult {
    let store = Store::open_in_memory()?;
    let users = people(&store, 4, "g")?;
    let (me, rest) = users.split_first().ok_or("users")?;
    for u in &rest[..2] {
        store.request_friend(me.id, u.id)?;
        store.accept_friend(u.id, me.id)?;
    }
    let (f1, f2, stranger) = (rest[0].id, rest[1].id, rest[2].id);
    assert_eq!(store.first_non_friend(me.id, []), None);
    assert_eq!(store.first_non_friend(me.id, [f1, f2]), None);
    assert_eq!(store.first_non_friend(me.id, [me.id, f2]), None, "I am in my own group");
    assert_eq!(store.first_non_friend(me.id, [f1, stranger, UserId(9_999)]), Some(stranger));
    assert_eq!(store.first_non_friend(me.id, [UserId(9_999), stranger]), Some(UserId(9_999)));
    // Friendship is not transitive.
    assert_eq!(store.first_non_friend(f1, [f2]), Some(f2));
    assert!(!store.are_friends(me.id, me.id));
    Ok(())
}

#[test]
fn find_by_email_answers_only_id_and_name() -> TestResult {
    let store = Store::open_in_memory()?;
    let users = people(&store, 2, "Find")?;
    let target = &users[1];
    let email = format!("  {}  ", target.email.to_uppercase());
    assert_eq!(store.find_person_by_email(&email)?, Some(person(target)));
    assert_eq!(store.find_person_by_email("nobody@example.com")?, None);
    assert_eq!(store.find_person_by_email("")?, None);
    assert_eq!(store.find_person_by_email(&"a".repeat(300))?, None);
    assert_eq!(store.person(target.id), Some(person(target)));
    assert_eq!(store.person(UserId(9_999)), None);
    Ok(())
}

#[test]
fn friendships_and_requests_survive_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("accounts.db");
    let (a, b, c) = {
        let store = Store::open(&path)?;
        let [a, b, c] = <[User; 3]>::try_from(people(&store, 3, "keep")?).map_err(|_| "three users")?;
        store.request_friend(a.id, b.id)?;
        store.accept_friend(b.id, a.id)?;
        store.request_friend(c.id, a.id)?;
        (a, b, c)
    };
    let store = Store::open(&path)?;
    assert!(store.are_friends(a.id, b.id), "the in-memory pair set is reloaded");
    assert!(!store.are_friends(a.id, c.id));
    assert_eq!(store.pending_requests(a.id)?.incoming[0].person, person(&c));
    assert_eq!(store.remove_friend(a.id, b.id)?, FriendRemoval::Unfriended);
    drop(store);
    let store = Store::open(&path)?;
    assert!(!store.are_friends(a.id, b.id));
    Ok(())
}

#[test]
fn version_1_database_gains_the_friend_tables() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("accounts.db");
    let (user, token) = Store::open(&path)?.bulk_create(1, "old")?.remove(0);
    // Turn the file back into what a version-1 build wrote.
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "DROP TABLE staff; DROP TABLE venues; DROP TABLE friends; DROP TABLE friend_requests;
             ALTER TABLE tokens DROP COLUMN expires_us; PRAGMA user_version = 1;",
        )?;
    }
    let store = Store::open(&path)?;
    assert_eq!(store.bearer(&token).map(|a| a.id), Some(user.id), "accounts are kept");
    let other = people(&store, 1, "new")?.remove(0);
    store.request_friend(user.id, other.id)?;
    store.accept_friend(other.id, user.id)?;
    assert!(store.are_friends(user.id, other.id));
    drop(store);
    let conn = rusqlite::Connection::open(&path)?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    assert_eq!(version, 5);
    Ok(())
}
