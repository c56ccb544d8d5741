//! The in-memory index that authenticates a request with no database access:
//! users by id, and SHA-256 digests of API tokens and session cookies; and
//! the set of friendships, which group seat holds check on every request.
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

/// See the module documentation.
#[derive(Default)]
pub(crate) struct Index {
    pub(crate) users: HashMap<UserId, User>,
    /// sha256(token) -> owner.
    pub(crate) tokens: HashMap<Digest32, UserId>,
    /// How many tokens each user has (absent = 0).
    pub(crate) token_counts: HashMap<UserId, usize>,
    /// sha256(cookie value) -> session.
    pub(crate) sessions: HashMap<Digest32, SessionEntry>,
    /// Every friendship once, as `(lower id, higher id)` (see
    /// [`crate::friends::pair`]): one hash lookup per "are these two
    /// friends?", with no SQLite and no connection lock on the hold path.
    pub(crate) friend_pairs: HashSet<(UserId, UserId)>,
}

impl Index {
    pub(crate) fn add_token(&mut self, hash: Digest32, user: UserId) {
        if self.tokens.insert(hash, user).is_none() {
            *self.token_counts.entry(user).or_default() += 1;
        }
    }

    pub(crate) fn remove_token(&mut self, hash: &Digest32) {
        if let Some(user) = self.tokens.remove(hash)
            && let Some(n) = self.token_counts.get_mut(&user)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.token_counts.remove(&user);
            }
        }
    }

    pub(crate) fn token_count(&self, user: UserId) -> usize {
        self.token_counts.get(&user).copied().unwrap_or(0)
    }
}
