//! The plain data types: user ids, roles, users, what a request authenticates
//! as, and the secret values handed out when a session starts.

use std::fmt;
use std::str::FromStr;

use crate::StoreError;

/// A user's id (SQLite rowid, never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What a person may do (MISSION A2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Buys, clicks, bids.
    Participant,
    /// Creates and runs sales (approved by an admin).
    Organizer,
    /// Runs the platform.
    Admin,
}

impl Role {
    /// Every role, lowest privilege first.
    pub const ALL: [Role; 3] = [Role::Participant, Role::Organizer, Role::Admin];

    /// The wire and database name: `participant`, `organizer`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Participant => "participant",
            Role::Organizer => "organizer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Role, StoreError> {
        match s {
            "participant" => Ok(Role::Participant),
            "organizer" => Ok(Role::Organizer),
            "admin" => Ok(Role::Admin),
            _ => Err(StoreError::InvalidRole),
        }
    }
}

/// An account as the rest of the system sees it (no credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Trimmed, lowercased e-mail address; unique.
    pub email: String,
    /// Display name (trimmed, 1-64 characters).
    pub name: String,
    /// Current role.
    pub role: Role,
}

impl User {
    /// What a request by this user authenticates as.
    pub fn auth(&self) -> AuthUser {
        AuthUser { id: self.id, role: self.role }
    }
}

/// What a request authenticates as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthUser {
    /// Who.
    pub id: UserId,
    /// Their role right now.
    pub role: Role,
}

/// A freshly started browser session: the cookie value to set and the CSRF
/// token the page must echo in a header. Both are 256-bit random values,
/// base64url without padding. `Debug` prints neither.
pub struct NewSession {
    /// The session cookie's value (the store keeps only its SHA-256).
    pub cookie_value: String,
    /// The CSRF token bound to this session.
    pub csrf_token: String,
}

impl fmt::Debug for NewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSession").field("cookie_value", &"[redacted]").field("csrf_token", &"[redacted]").finish()
    }
}

/// An API token's id (SQLite rowid, never reused), to list and revoke it by.
/// Not a secret: the token itself is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub u64);

/// What the owner sees of one of their API tokens (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its id.
    pub id: TokenId,
    /// The owner's label ("laptop", "ci"); may be empty.
    pub label: String,
    /// When it was issued, microseconds since the Unix epoch.
    pub created_us: i64,
    /// When it stops working; `None` = until revoked.
    pub expires_us: Option<i64>,
}

/// A freshly issued API token. The token is shown now or never; `Debug`
/// does not print it.
pub struct IssuedToken {
    /// Its id, for listing and revoking.
    pub id: TokenId,
    /// The bearer token (the store keeps only its SHA-256).
    pub token: String,
    /// When it stops working; `None` = until revoked.
    pub expires_us: Option<i64>,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("id", &self.id)
            .field("token", &"[redacted]")
            .field("expires_us", &self.expires_us)
            .finish()
    }
}
