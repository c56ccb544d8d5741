//! The in-memory index that authenticates a request with no database access:
//! users by id, and SHA-256 digests of API tokens and session cookies; and
//! the set of friendships, which group seat holds check on every request;
//! and who is staff of which sale, which every scan at a gate checks.
//!
//! It is a cache of SQLite: it is loaded in full when the store opens, and
//! every write goes to SQLite first and then here, while the connection mutex
//! is held, so the index never shows a state the database does not have.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::crypto::Digest32;
use crate::{User, UserId};

/// A value that must never reach a log: `Debug` prints `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Redacted<T>(pub(crate) T);

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A live browser session.
#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub(crate) user: UserId,
    pub(crate) csrf_token: Redacted<String>,
    pub(crate) expires_us: i64,
}

/// A live API token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenEntry {
    pub(crate) user: UserId,
    /// `None` = until revoked.
    pub(crate) expires_us: Option<i64>,
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Index {
    pub(crate) users: HashMap<UserId, User>,
    /// sha256(token) -> owner and expiry.
    pub(crate) tokens: HashMap<Digest32, TokenEntry>,
    /// sha256(cookie value) -> session.
    pub(crate) sessions: HashMap<Digest32, SessionEntry>,
    /// Every friendship once, as `(lower id, higher id)` (see
    /// [`crate::friends::pair`]): one hash lookup per "are these two
    /// friends?", with no SQLite and no connection lock on the hold path.
    pub(crate) friend_pairs: HashSet<(UserId, UserId)>,
    /// Every `(sale, user)` staff pair ([`crate::staff`]): one hash lookup
    /// per scan at a gate, with no SQLite on the check-in path.
    pub(crate) staff: HashSet<(u64, UserId)>,
}

impl Index {
    pub(crate) fn add_token(&mut self, hash: Digest32, user: UserId, expires_us: Option<i64>) {
        self.tokens.insert(hash, TokenEntry { user, expires_us });
    }

    pub(crate) fn remove_token(&mut self, hash: &Digest32) {
        self.tokens.remove(hash);
    }
}
