//! `stampede-store` owns people and their credentials (MISSION A1, A2):
//! accounts and roles, argon2id password hashing, browser sessions with CSRF
//! tokens, API bearer tokens, and an in-memory index that authenticates a
//! request in O(1) without touching the database; and friends (MISSION A5):
//! requests, friendships, and an O(1) in-memory "are these two friends?";
//! organizers' venue library (issue #4): venues stored as JSON for reuse;
//! and the staff an organizer names to run a sale's gates (issue #13).
//!
//! Storage is one SQLite file (WAL, schema versioned with
//! `PRAGMA user_version`). Tokens and session cookies are stored only as
//! SHA-256 digests; passwords only as argon2id PHC strings. No secret is
//! ever logged or `Debug`-printed.
//!
//! Time comes from a [`stampede_clock::Clock`] given at open (the engine's,
//! in a server), never from the system clock at a call site.
//!
//! Every write goes to SQLite first, then to the index. All methods are
//! synchronous; the two that run argon2 ([`Store::sign_up`],
//! [`Store::log_in`]) are slow and belong in `spawn_blocking`.

mod crypto;
mod error;
mod friends;
mod index;
mod model;
mod schema;
mod staff;
mod store;
mod validate;
mod venues;

pub use crypto::TOKEN_PREFIX;
pub use error::StoreError;
pub use friends::{
    Friend, FriendRemoval, FriendRequest, FriendRequestOutcome, MAX_FRIENDS_PER_USER, MAX_INCOMING_LISTED,
    MAX_OUTGOING_REQUESTS_PER_USER, PendingRequests, Person,
};
pub use model::{AuthUser, IssuedToken, NewSession, Role, TokenId, TokenInfo, User, UserId};
pub use staff::{MAX_STAFF_PER_SALE, StaffMember};
pub use store::{
    MAX_BULK, MAX_SESSIONS_PER_USER, MAX_TOKENS_PER_USER, SESSION_TTL_US, Store, TOKEN_TTL_US_MAX, TOKEN_TTL_US_MIN,
};
pub use validate::{
    PasswordWeakness, check_password, check_password_strength, mask_name, normalize_email, normalize_name,
};
pub use venues::{MAX_VENUES_LISTED, MAX_VENUES_PER_OWNER, VenueId, VenueSummary};
