//! Friends (MISSION A5): sending, answering and withdrawing friend requests,
//! listing friends, and [`check_friends`], which group seat holds call to
//! make sure someone holds seats only for their friends.
//!
//! The wire types live here rather than in `dto.rs`: this feature is one
//! file end to end. Other people appear only as id and display name, never
//! with their e-mail address (MISSION A4).
//!
//! Store calls that touch SQLite run in `spawn_blocking`: every write is a
//! transaction with `synchronous=FULL`, an fsync that must not stall an async
//! worker during a rush. [`check_friends`] reads only the store's memory and
//! runs inline.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use stampede_store::{Friend, FriendRequest, FriendRequestOutcome, Person, StoreError, UserId};
use utoipa::ToSchema;

use crate::AppState;
use crate::dto::fmt_us;
use crate::extract::{ApiJson, ApiPath, Auth, OPERATOR_ID, parse_id};
use crate::problem::{ApiError, Problem};
use crate::routes::common::blocking;

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

/// The signed-in person's account id. The operator's admin token is not an
/// account, so it can have no friends: refused rather than "no such user".
fn me(auth: &Auth) -> Result<UserId, ApiError> {
    if auth.user.id == OPERATOR_ID {
        Err(ApiError::forbidden("the operator token is not a person's account and has no friends"))
    } else {
        Ok(auth.user.id)
    }
}

/// The problem for a group member who is not the holder's friend.
pub fn not_a_friend(user: u64) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not-a-friend",
        "Not a friend",
        format!("user {user} is not your friend; you may hold seats only for your friends"),
    )
}

/// For the seat routes: `Ok` when every one of `others` is a friend of `me`
/// (`me` itself may be among them), else a 403 `/problems/not-a-friend`
/// naming the first who is not. Memory only, one lock for the whole group,
/// so it is cheap on every group hold.
pub async fn check_friends(state: &AppState, me: u64, others: &[u64]) -> Result<(), ApiError> {
    match state.store.first_non_friend(UserId(me), others.iter().map(|&o| UserId(o))) {
        None => Ok(()),
        Some(stranger) => Err(not_a_friend(stranger.0)),
    }
}

/// Your friends and your pending requests, both ways.
#[utoipa::path(get, path = "/api/me/friends", tag = "friends",
    responses((status = 200, body = FriendsOut), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_friends(State(state): State<AppState>, auth: Auth) -> Result<Json<FriendsOut>, ApiError> {
    let me = me(&auth)?;
    let store = state.store.clone();
    let (friends, pending) = blocking(move || Ok((store.friends_of(me)?, store.pending_requests(me)?))).await?;
    Ok(Json(FriendsOut {
        friends: friends.into_iter().map(FriendOut::from).collect(),
        incoming: pending.incoming.into_iter().map(PendingFriendOut::from).collect(),
        incoming_total: pending.incoming_total,
        outgoing: pending.outgoing.into_iter().map(PendingFriendOut::from).collect(),
    }))
}

/// Ask someone, by e-mail or id, to be friends. If they had already asked
/// you, you are friends at once (200); otherwise the request waits (201).
#[utoipa::path(post, path = "/api/me/friends", tag = "friends", request_body = FriendRequestBody,
    responses((status = 201, body = FriendshipOut), (status = 200, body = FriendshipOut),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn send_request(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<FriendRequestBody>,
) -> Result<(StatusCode, Json<FriendshipOut>), ApiError> {
    let me = me(&auth)?;
    let target = match (req.email, req.user_id) {
        (Some(email), None) => Target::Email(email),
        (None, Some(id)) => Target::Id(UserId(id)),
        _ => return Err(ApiError::invalid_field("send exactly one of email or user_id")),
    };
    let store = state.store.clone();
    let (outcome, person) = blocking(move || {
        let person = match target {
            Target::Email(email) => store.find_person_by_email(&email)?,
            Target::Id(id) => store.person(id),
        }
        .ok_or(StoreError::UnknownUser)?;
        Ok((store.request_friend(me, person.id)?, person))
    })
    .await?;
    let (status, state) = match outcome {
        FriendRequestOutcome::Requested => (StatusCode::CREATED, FriendState::Requested),
        FriendRequestOutcome::BecameFriends => (StatusCode::OK, FriendState::Friends),
    };
    Ok((status, Json(FriendshipOut { state, user: person.into() })))
}

/// Whom a request names.
enum Target {
    Email(String),
    Id(UserId),
}

/// Accept the pending request from this user.
#[utoipa::path(post, path = "/api/me/friends/{user_id}/accept", tag = "friends", params(("user_id" = u64, Path)),
    responses((status = 200, body = FriendshipOut), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<FriendshipOut>, ApiError> {
    let me = me(&auth)?;
    let from = UserId(parse_id(&user_id, "user")?);
    let store = state.store.clone();
    let person = blocking(move || Ok(store.accept_friend(me, from)?)).await?;
    Ok(Json(FriendshipOut { state: FriendState::Friends, user: person.into() }))
}

/// Decline the pending request from this user; they may ask again later.
#[utoipa::path(post, path = "/api/me/friends/{user_id}/decline", tag = "friends", params(("user_id" = u64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn decline(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let me = me(&auth)?;
    let from = UserId(parse_id(&user_id, "user")?);
    let store = state.store.clone();
    blocking(move || Ok(store.decline_friend(me, from)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End a friendship (for both of you), or withdraw your pending request.
#[utoipa::path(delete, path = "/api/me/friends/{user_id}", tag = "friends", params(("user_id" = u64, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn remove(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let me = me(&auth)?;
    let other = UserId(parse_id(&user_id, "user")?);
    let store = state.store.clone();
    blocking(move || Ok(store.remove_friend(me, other)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
