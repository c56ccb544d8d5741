//! Friends (MISSION A5): sending, answering and withdrawing friend requests,
//! and listing friends. The check that someone holds seats only for their
//! friends, which the seat routes need, is `check_friends` in the shared
//! layer (`routes::common`), re-exported here.
//!
//! Store calls that touch SQLite run in `spawn_blocking`: every write is a
//! transaction with `synchronous=FULL`, an fsync that must not stall an async
//! worker during a rush. `check_friends` reads only the store's memory and
//! runs inline.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use stampede_store::{FriendRequestOutcome, StoreError, UserId};

use crate::AppState;
use crate::extract::{ApiJson, ApiPath, Auth, OPERATOR_ID, parse_id};
use crate::problem::{ApiError, Problem};
// Group seat holds check friends through the shared layer; named here too,
// where friendship lives.
use crate::routes::common::blocking;
pub use crate::routes::common::{check_friends, not_a_friend};

pub mod wire;
use wire::*;

/// The signed-in person's account id. The operator's admin token is not an
/// account, so it can have no friends: refused rather than "no such user".
fn me(auth: &Auth) -> Result<UserId, ApiError> {
    if auth.user.id == OPERATOR_ID {
        Err(ApiError::forbidden("the operator token is not a person's account and has no friends"))
    } else {
        Ok(auth.user.id)
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
