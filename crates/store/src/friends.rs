//! Friends (MISSION A5): friend requests, friendships, and finding someone
//! to befriend by e-mail address.
//!
//! Friendship is what lets one person hold seats for a group, so
//! [`Store::are_friends`] and [`Store::first_non_friend`] are on the hold
//! path: they read only the in-memory pair set ([`crate::index::Index`]),
//! never SQLite. Everything else (requests, lists) reads and writes SQLite
//! and is as slow as one small transaction with `synchronous=FULL`: call it
//! from `spawn_blocking`.
//!
//! Rules, kept by every write in one transaction under the connection lock:
//! a pair is either strangers, or has one pending request, or is friends;
//! never two of these. A friendship is two rows, `(a, b)` and `(b, a)`.
//!
//! Other people are shown only as [`Person`] (id and display name): their
//! e-mail address is personal data (MISSION A4) and never leaves here.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::index::Index;
use crate::store::{db_id, user_id};
use crate::{Store, StoreError, UserId};

/// Friends one person may have. Bounds the work of listing them and the
/// memory of the pair set; far above any group a seat map can seat together.
pub const MAX_FRIENDS_PER_USER: usize = 500;
/// Pending friend requests one person may have sent. Stops one account from
/// spamming everybody's inbox; a request answered or withdrawn frees its slot.
pub const MAX_OUTGOING_REQUESTS_PER_USER: usize = 100;
/// Incoming requests listed by [`Store::pending_requests`], newest first.
/// Incoming requests are not limited (many may ask one popular person), so
/// the list is; [`PendingRequests::incoming_total`] gives the full count.
pub const MAX_INCOMING_LISTED: usize = 1000;

/// Someone else as the friends feature shows them: no e-mail address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Their id.
    pub id: UserId,
    /// Their display name.
    pub name: String,
}

/// One of my friends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Friend {
    /// Who.
    pub person: Person,
    /// When the friendship began (microseconds since the Unix epoch).
    pub since_us: i64,
}

/// A pending friend request, seen from one side: `person` is the other one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FriendRequest {
    /// The sender (incoming) or the recipient (outgoing).
    pub person: Person,
    /// When it was sent (microseconds since the Unix epoch).
    pub created_us: i64,
}

/// Someone's pending friend requests, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingRequests {
    /// Sent to me, at most [`MAX_INCOMING_LISTED`] of them.
    pub incoming: Vec<FriendRequest>,
    /// How many requests are sent to me in all (may exceed `incoming.len()`).
    pub incoming_total: usize,
    /// Sent by me (at most [`MAX_OUTGOING_REQUESTS_PER_USER`], all listed).
    pub outgoing: Vec<FriendRequest>,
}

/// What [`Store::request_friend`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FriendRequestOutcome {
    /// A request now waits for the other person's answer.
    Requested,
    /// The other person had already asked me, so we are friends now.
    BecameFriends,
}

/// What [`Store::remove_friend`] removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FriendRemoval {
    /// A friendship ended (for both sides).
    Unfriended,
    /// My pending request to them was withdrawn.
    Withdrawn,
}

/// The key of a friendship in [`Index::friend_pairs`]: lower id first, so
/// each friendship is stored once and found from either side.
pub(crate) fn pair(a: UserId, b: UserId) -> (UserId, UserId) {
    if a <= b { (a, b) } else { (b, a) }
}

/// Loads every friendship into the index when the store opens.
pub(crate) fn load_pairs(conn: &Connection, index: &mut Index) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT user_id, friend_id FROM friends WHERE user_id < friend_id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        index.friend_pairs.insert((user_id(r.get(0)?)?, user_id(r.get(1)?)?));
    }
    Ok(())
}

fn as_count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

fn friend_count(tx: &Transaction<'_>, user: i64) -> Result<usize, StoreError> {
    let n: i64 = tx.query_row("SELECT COUNT(*) FROM friends WHERE user_id = ?1", [user], |r| r.get(0))?;
    Ok(as_count(n))
}

fn are_friend_rows(tx: &Transaction<'_>, a: i64, b: i64) -> Result<bool, StoreError> {
    let found =
        tx.query_row("SELECT 1 FROM friends WHERE user_id = ?1 AND friend_id = ?2", [a, b], |_| Ok(())).optional()?;
    Ok(found.is_some())
}

fn request_exists(tx: &Transaction<'_>, from: i64, to: i64) -> Result<bool, StoreError> {
    let found = tx
        .query_row("SELECT 1 FROM friend_requests WHERE from_id = ?1 AND to_id = ?2", [from, to], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}

/// Refuses when `user` already has [`MAX_FRIENDS_PER_USER`] friends.
fn check_friend_room(tx: &Transaction<'_>, user: UserId) -> Result<(), StoreError> {
    if friend_count(tx, db_id(user)?)? >= MAX_FRIENDS_PER_USER {
        return Err(StoreError::TooManyFriends { user, max: MAX_FRIENDS_PER_USER });
    }
    Ok(())
}

/// Makes `a` and `b` friends inside `tx`: checks both have room, deletes any
/// request between them (either direction) and writes both rows. The caller
/// commits and then updates the index.
fn befriend(tx: &Transaction<'_>, a: UserId, b: UserId, now_us: i64) -> Result<(), StoreError> {
    check_friend_room(tx, a)?;
    check_friend_room(tx, b)?;
    let (x, y) = (db_id(a)?, db_id(b)?);
    tx.execute(
        "DELETE FROM friend_requests WHERE (from_id = ?1 AND to_id = ?2) OR (from_id = ?2 AND to_id = ?1)",
        [x, y],
    )?;
    tx.execute(
        "INSERT INTO friends (user_id, friend_id, since_us) VALUES (?1, ?2, ?3), (?2, ?1, ?3)",
        params![x, y, now_us],
    )?;
    Ok(())
}

/// Reads `(other id, other name, time)` rows into [`FriendRequest`]s.
fn request_rows(tx: &Transaction<'_>, sql: &str, me: i64, limit: usize) -> Result<Vec<FriendRequest>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = tx.prepare(sql)?;
    let mut rows = stmt.query(params![me, limit])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(FriendRequest { person: Person { id: user_id(r.get(0)?)?, name: r.get(1)? }, created_us: r.get(2)? });
    }
    Ok(out)
}

impl Store {
    /// Refuses unless every one of `ids` has an account. Memory only; users
    /// are never deleted, so the answer stays true for the transaction that
    /// follows.
    pub(crate) fn require_users(&self, ids: &[UserId]) -> Result<(), StoreError> {
        let index = self.inner.index.read();
        if ids.iter().all(|id| index.users.contains_key(id)) { Ok(()) } else { Err(StoreError::UnknownUser) }
    }

    /// The person with this id (id and display name only), from memory.
    pub fn person(&self, id: UserId) -> Option<Person> {
        self.inner.index.read().users.get(&id).map(|u| Person { id: u.id, name: u.name.clone() })
    }

    /// Finds whom to befriend by exact e-mail address (trimmed, any case;
    /// accounts are identified by e-mail, there are no handles). Answers
    /// only the id and display name: the caller already knows the address,
    /// and nothing else about the account is theirs to see (MISSION A4).
    pub fn find_person_by_email(&self, email: &str) -> Result<Option<Person>, StoreError> {
        let email = email.trim().to_lowercase();
        // Longer than any stored address (sign-up allows 254): not worth a query.
        if email.chars().count() > 254 {
            return Ok(None);
        }
        let conn = self.inner.conn.lock();
        let row = conn
            .query_row("SELECT id, name FROM users WHERE email = ?1", [&email], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        row.map(|(id, name)| Ok(Person { id: user_id(id)?, name })).transpose()
    }

    /// `from` asks `to` to be friends. Refused for oneself, an unknown user,
    /// people who are friends already, a request already pending, and when
    /// either side has [`MAX_FRIENDS_PER_USER`] friends or `from` has
    /// [`MAX_OUTGOING_REQUESTS_PER_USER`] pending requests. If `to` had
    /// already asked `from`, both wanted it: they become friends at once.
    pub fn request_friend(&self, from: UserId, to: UserId) -> Result<FriendRequestOutcome, StoreError> {
        if from == to {
            return Err(StoreError::CannotBefriendSelf);
        }
        let (f, t) = (db_id(from)?, db_id(to)?);
        let now = self.now_us();
        let mut conn = self.inner.conn.lock();
        self.require_users(&[from, to])?;
        // IMMEDIATE: the checks below and the write are one decision, even if
        // another process opened the same file.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if are_friend_rows(&tx, f, t)? {
            return Err(StoreError::AlreadyFriends);
        }
        if request_exists(&tx, f, t)? {
            return Err(StoreError::FriendRequestExists);
        }
        if request_exists(&tx, t, f)? {
            befriend(&tx, from, to, now)?;
            tx.commit()?;
            self.inner.index.write().friend_pairs.insert(pair(from, to));
            return Ok(FriendRequestOutcome::BecameFriends);
        }
        // Refuse now what could never be accepted, with the reason.
        check_friend_room(&tx, from)?;
        check_friend_room(&tx, to)?;
        let outgoing: i64 =
            tx.query_row("SELECT COUNT(*) FROM friend_requests WHERE from_id = ?1", [f], |r| r.get(0))?;
        if as_count(outgoing) >= MAX_OUTGOING_REQUESTS_PER_USER {
            return Err(StoreError::TooManyFriendRequests { max: MAX_OUTGOING_REQUESTS_PER_USER });
        }
        tx.execute("INSERT INTO friend_requests (from_id, to_id, created_us) VALUES (?1, ?2, ?3)", params![f, t, now])?;
        tx.commit()?;
        Ok(FriendRequestOutcome::Requested)
    }

    /// `me` accepts the pending request from `from`; answers who the new
    /// friend is. [`StoreError::NoFriendRequest`] when there is none
    /// ([`StoreError::AlreadyFriends`] if that is why), and the friend limit
    /// applies to both sides.
    pub fn accept_friend(&self, me: UserId, from: UserId) -> Result<Person, StoreError> {
        let (m, f) = (db_id(me)?, db_id(from)?);
        let now = self.now_us();
        let mut conn = self.inner.conn.lock();
        self.require_users(&[me])?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if !request_exists(&tx, f, m)? {
            // A second click on "accept" should say what is true, not "not found".
            return Err(if are_friend_rows(&tx, m, f)? {
                StoreError::AlreadyFriends
            } else {
                StoreError::NoFriendRequest
            });
        }
        befriend(&tx, me, from, now)?;
        tx.commit()?;
        self.inner.index.write().friend_pairs.insert(pair(me, from));
        self.person(from).ok_or(StoreError::UnknownUser)
    }

    /// `me` declines the pending request from `from`; it is deleted, and
    /// `from` may ask again later. [`StoreError::NoFriendRequest`] when there
    /// is none.
    pub fn decline_friend(&self, me: UserId, from: UserId) -> Result<(), StoreError> {
        let (m, f) = (db_id(me)?, db_id(from)?);
        let conn = self.inner.conn.lock();
        let n = conn.execute("DELETE FROM friend_requests WHERE from_id = ?1 AND to_id = ?2", [f, m])?;
        if n == 0 {
            return Err(StoreError::NoFriendRequest);
        }
        Ok(())
    }

    /// Ends `me`'s friendship with `other` (for both), or, if they are not
    /// friends, withdraws `me`'s pending request to `other`.
    /// [`StoreError::NotFriends`] when there is neither. An incoming request
    /// is not touched: that is [`Store::decline_friend`].
    pub fn remove_friend(&self, me: UserId, other: UserId) -> Result<FriendRemoval, StoreError> {
        let (m, o) = (db_id(me)?, db_id(other)?);
        let mut conn = self.inner.conn.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute(
            "DELETE FROM friends WHERE (user_id = ?1 AND friend_id = ?2) OR (user_id = ?2 AND friend_id = ?1)",
            [m, o],
        )?;
        if n > 0 {
            tx.commit()?;
            self.inner.index.write().friend_pairs.remove(&pair(me, other));
            return Ok(FriendRemoval::Unfriended);
        }
        let n = tx.execute("DELETE FROM friend_requests WHERE from_id = ?1 AND to_id = ?2", [m, o])?;
        if n == 0 {
            return Err(StoreError::NotFriends);
        }
        tx.commit()?;
        Ok(FriendRemoval::Withdrawn)
    }

    /// `me`'s friends (at most [`MAX_FRIENDS_PER_USER`]), by name then id.
    pub fn friends_of(&self, me: UserId) -> Result<Vec<Friend>, StoreError> {
        let m = db_id(me)?;
        let conn = self.inner.conn.lock();
        self.require_users(&[me])?;
        let mut stmt = conn.prepare(
            "SELECT u.id, u.name, f.since_us FROM friends f JOIN users u ON u.id = f.friend_id
             WHERE f.user_id = ?1 ORDER BY u.name, u.id",
        )?;
        let mut rows = stmt.query([m])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Friend { person: Person { id: user_id(r.get(0)?)?, name: r.get(1)? }, since_us: r.get(2)? });
        }
        Ok(out)
    }

    /// `me`'s pending requests, incoming and outgoing, newest first. One
    /// read transaction, so the lists and the count agree.
    pub fn pending_requests(&self, me: UserId) -> Result<PendingRequests, StoreError> {
        let m = db_id(me)?;
        let mut conn = self.inner.conn.lock();
        self.require_users(&[me])?;
        let tx = conn.transaction()?;
        let incoming = request_rows(
            &tx,
            "SELECT r.from_id, u.name, r.created_us FROM friend_requests r JOIN users u ON u.id = r.from_id
             WHERE r.to_id = ?1 ORDER BY r.created_us DESC, r.from_id DESC LIMIT ?2",
            m,
            MAX_INCOMING_LISTED,
        )?;
        let total: i64 = tx.query_row("SELECT COUNT(*) FROM friend_requests WHERE to_id = ?1", [m], |r| r.get(0))?;
        let outgoing = request_rows(
            &tx,
            "SELECT r.to_id, u.name, r.created_us FROM friend_requests r JOIN users u ON u.id = r.to_id
             WHERE r.from_id = ?1 ORDER BY r.created_us DESC, r.to_id DESC LIMIT ?2",
            m,
            MAX_OUTGOING_REQUESTS_PER_USER,
        )?;
        tx.commit()?;
        Ok(PendingRequests { incoming, incoming_total: as_count(total), outgoing })
    }

    /// Whether `a` and `b` are friends. Memory only, one hash lookup: group
    /// seat holds ask this for every member. Nobody is their own friend.
    pub fn are_friends(&self, a: UserId, b: UserId) -> bool {
        a != b && self.inner.index.read().friend_pairs.contains(&pair(a, b))
    }

    /// The first of `others` who is not a friend of `me`, or `None` when all
    /// are. `me` itself may appear in `others` and passes (one is always in
    /// one's own group). One read lock for the whole group; memory only.
    pub fn first_non_friend(&self, me: UserId, others: impl IntoIterator<Item = UserId>) -> Option<UserId> {
        let index = self.inner.index.read();
        others.into_iter().find(|&o| o != me && !index.friend_pairs.contains(&pair(me, o)))
    }
}
