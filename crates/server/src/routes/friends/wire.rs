//! What the friends routes read and answer. Other people appear only as id
//! and display name, never with their e-mail address (MISSION A4).

use serde::{Deserialize, Serialize};
use stampede_store::{Friend, FriendRequest, Person};
use utoipa::ToSchema;

use crate::routes::common::wire::fmt_us;

/// `POST /api/me/friends`: whom to ask, by exactly one of the two fields.
#[derive(Deserialize, ToSchema)]
pub struct FriendRequestBody {
    /// Their exact e-mail address (any case), for someone you know offline.
    #[serde(default)]
    pub email: Option<String>,
    /// Their user id, for someone you found in the app.
    #[serde(default)]
    pub user_id: Option<u64>,
}

/// Someone else: id and display name only.
#[derive(Serialize, ToSchema)]
pub struct PersonOut {
    pub id: u64,
    pub name: String,
}

impl From<Person> for PersonOut {
    fn from(p: Person) -> Self {
        PersonOut { id: p.id.0, name: p.name }
    }
}

/// One friend.
#[derive(Serialize, ToSchema)]
pub struct FriendOut {
    pub id: u64,
    pub name: String,
    /// When you became friends (RFC 3339).
    pub since: String,
}

impl From<Friend> for FriendOut {
    fn from(f: Friend) -> Self {
        FriendOut { id: f.person.id.0, name: f.person.name, since: fmt_us(f.since_us) }
    }
}

/// A pending request; `id` and `name` are the other person's.
#[derive(Serialize, ToSchema)]
pub struct PendingFriendOut {
    pub id: u64,
    pub name: String,
    /// When the request was sent (RFC 3339).
    pub requested_at: String,
}

impl From<FriendRequest> for PendingFriendOut {
    fn from(r: FriendRequest) -> Self {
        PendingFriendOut { id: r.person.id.0, name: r.person.name, requested_at: fmt_us(r.created_us) }
    }
}

/// `GET /api/me/friends`.
#[derive(Serialize, ToSchema)]
pub struct FriendsOut {
    /// By name, then id.
    pub friends: Vec<FriendOut>,
    /// Requests to you, newest first, at most 1000.
    pub incoming: Vec<PendingFriendOut>,
    /// How many requests to you are pending in all.
    pub incoming_total: usize,
    /// Your requests still waiting for an answer, newest first.
    pub outgoing: Vec<PendingFriendOut>,
}

/// Where two people stand after a request or an acceptance.
#[derive(Serialize, ToSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FriendState {
    /// Your request waits for their answer.
    Requested,
    /// You are friends.
    Friends,
}

/// The answer to sending or accepting a request.
#[derive(Serialize, ToSchema)]
pub struct FriendshipOut {
    pub state: FriendState,
    pub user: PersonOut,
}
