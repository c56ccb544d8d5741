//! The crate's error type, [`StoreError`].
//!
//! Messages are written to be shown to the person at the keyboard (for the
//! validation and log-in variants) and never contain a password, token or
//! session id.

use crate::UserId;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The e-mail address is malformed (3-254 characters, one `@`, a `.` after it).
    #[error("invalid e-mail address (3-254 characters, one '@' and a '.' after it)")]
    InvalidEmail,
    /// The password is too short or too long.
    #[error("invalid password (8-128 characters)")]
    InvalidPassword,
    /// A new password that is easy to guess; says why.
    #[error("password too easy to guess: {}", .0.message())]
    WeakPassword(crate::PasswordWeakness),
    /// The display name is empty, too long, shows nothing, or has control,
    /// format or bidi characters.
    #[error(
        "invalid name (1-64 characters that show something, no control, invisible or direction-changing characters)"
    )]
    InvalidName,
    /// A token label is too long or has control characters.
    #[error("invalid token label (at most 64 characters, no control characters)")]
    InvalidLabel,
    /// A bulk name prefix is not 1-32 characters of `A-Z a-z 0-9 - _`.
    #[error("invalid name prefix (1-32 characters of A-Z, a-z, 0-9, '-', '_')")]
    InvalidPrefix,
    /// A bulk count outside `1..=10_000`.
    #[error("invalid count (1-10000)")]
    InvalidCount,
    /// A role name that is not `participant`, `organizer` or `admin`.
    #[error("unknown role (participant, organizer or admin)")]
    InvalidRole,
    /// Someone already signed up with this e-mail address (compared case-insensitively).
    #[error("an account with this e-mail address already exists")]
    EmailTaken,
    /// No account has this e-mail address (MISSION A1: say so clearly).
    #[error("no account exists with this e-mail address")]
    UnknownAccount,
    /// The account exists but the password does not match (or the account has no password).
    #[error("wrong password")]
    WrongPassword,
    /// No token of this user has this id.
    #[error("no such token")]
    UnknownToken,
    /// A token lifetime outside the allowed range.
    #[error("invalid token lifetime (1 minute to 1 year)")]
    InvalidTokenLifetime,
    /// No user has this id.
    #[error("no such user")]
    UnknownUser,
    /// The user already has the maximum number of live API tokens: revoke
    /// one (expired ones are removed by themselves).
    #[error("too many API tokens for this user (at most {max}); revoke one")]
    TooManyTokens {
        /// The limit.
        max: usize,
    },
    /// A friend request to oneself.
    #[error("you cannot befriend yourself")]
    CannotBefriendSelf,
    /// A friend request, or an acceptance, between people who are friends already.
    #[error("you are already friends")]
    AlreadyFriends,
    /// A second friend request to the same person while the first is pending.
    #[error("you have already asked this person to be friends")]
    FriendRequestExists,
    /// Accepting or declining a friend request that nobody sent.
    #[error("no pending friend request from this person")]
    NoFriendRequest,
    /// Removing a friend who is not one, with no pending request to withdraw either.
    #[error("not your friend, and no pending request to them")]
    NotFriends,
    /// One side of a new friendship already has the most friends allowed.
    #[error("user {user} already has the most friends allowed ({max})")]
    TooManyFriends {
        /// Who is full (either side of the would-be friendship).
        user: UserId,
        /// The limit.
        max: usize,
    },
    /// The sender already has the most pending outgoing friend requests allowed.
    #[error("too many pending friend requests (at most {max}); wait for answers or withdraw some")]
    TooManyFriendRequests {
        /// The limit.
        max: usize,
    },
    /// A venue that breaks the core's bounds (`Venue::validate`); the
    /// message says which.
    #[error("invalid venue: {0}")]
    InvalidVenue(String),
    /// The owner already has the most venues allowed.
    #[error("too many venues (at most {max}); delete one first")]
    TooManyVenues {
        /// The limit.
        max: usize,
    },
    /// No venue has this id.
    #[error("no such venue")]
    UnknownVenue,
    /// The sale already has the most staff allowed.
    #[error("too many staff for this sale (at most {max}); remove one first")]
    TooManyStaff {
        /// The limit.
        max: usize,
    },
    /// Removing someone from a sale's staff who is not on it.
    #[error("not staff of this sale")]
    NotStaff,
    /// The database file was written by a newer build.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// `PRAGMA user_version` in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A row in the database does not make sense (for example an unknown role).
    #[error("corrupt database row: {0}")]
    Corrupt(String),
    /// Password hashing failed (not a wrong password: an internal error).
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    /// SQLite said no.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
}

impl StoreError {
    /// Whether the database could not be written because its disk is full
    /// (`SQLITE_FULL`): nothing was written, and the same request can succeed
    /// once space returns, so it is a 503 to retry, not a bug.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Db(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DiskFull)
    }
}
