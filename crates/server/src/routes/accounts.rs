//! Sign-up, log-in, sessions, tokens, and the admin's account tools.

use std::net::IpAddr;
use std::time::Instant;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_store::{Role, StoreError, TokenId, UserId};

use crate::extract::{ApiJson, ApiPath, Auth, OPERATOR_ID, SESSION_COOKIE, cookie_from_headers, parse_id};
use crate::listener::PeerAddr;
use crate::problem::{ApiError, Problem};
use crate::routes::common::wire::fmt_us;
use crate::routes::common::{blocking, require_admin};
use crate::throttle::Ending;
use crate::{AppState, blocking_hash_work};

pub mod wire;
use wire::*;

/// Runs a password check or an account lookup (`f`, slow: argon2) under the
/// log-in throttle for `email` from `peer`: 429 with `Retry-After` when a
/// limit is reached; the attempt keeps its cost only if it failed in a way
/// that tells something (wrong password, no such account, address taken).
async fn throttled<T, F>(state: &AppState, peer: IpAddr, email: &str, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    let attempt = state.logins.begin(email, peer, Instant::now()).map_err(ApiError::too_many_attempts)?;
    let result = blocking_hash_work(state, f).await;
    let ending = match &result {
        Ok(Ok(_)) => Ending::Succeeded,
        Ok(Err(StoreError::UnknownAccount | StoreError::WrongPassword | StoreError::EmailTaken)) => Ending::Failed,
        _ => Ending::Neutral,
    };
    state.logins.finish(attempt, ending, Instant::now());
    Ok(result??)
}

fn session_cookie(state: &AppState, value: &str, max_age_s: i64) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&crate::extract::session_cookie(state, value, max_age_s)).map_err(|e| ApiError::internal(&e))
}

fn with_session(state: &AppState, status: StatusCode, user: &stampede_store::User) -> Result<Response, ApiError> {
    let session = state.store.create_session(user.id)?;
    let cookie = session_cookie(state, &session.cookie_value, 30 * 24 * 3600)?;
    let body = SessionOut { user: user.into(), csrf_token: session.csrf_token };
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(res)
}

/// Create a participant account and sign in.
/// A password that is easy to guess is refused with 422 `weak-password` and
/// a `reason`. "Email taken" tells that an account exists, so sign-up is
/// throttled like log-in.
#[utoipa::path(post, path = "/api/auth/signup", tag = "accounts", request_body = SignUpRequest,
    responses((status = 201, body = SessionOut), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
pub async fn signup(
    State(state): State<AppState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    ApiJson(req): ApiJson<SignUpRequest>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let email = req.email.clone();
    let user = throttled(&state, peer.ip(), &email, move || {
        store.sign_up(&req.email, &req.password, &req.name, Role::Participant)
    })
    .await?;
    with_session(&state, StatusCode::CREATED, &user)
}

/// Sign in with email and password; sets the session cookie. Throttled per
/// account and per address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = LogInRequest,
    responses((status = 200, body = SessionOut), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    ApiJson(req): ApiJson<LogInRequest>,
) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let email = req.email.clone();
    let user = throttled(&state, peer.ip(), &email, move || store.log_in(&req.email, &req.password)).await?;
    with_session(&state, StatusCode::OK, &user)
}

/// End the current session; with a bearer token, revoke that token.
#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts", responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(State(state): State<AppState>, auth: Auth, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = bearer_token(&headers)
        && auth.user.id != OPERATOR_ID
    {
        state.store.revoke_token(token)?;
    } else if let Some(v) = cookie_from_headers(&headers, SESSION_COOKIE) {
        state.store.end_session(v)?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, "", 0)?);
    Ok(res)
}

/// The token an `Authorization: Bearer` header carries, if any.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Exchange email and password for a bearer token (for scripts and apps).
/// `expires_in` (seconds) makes it stop working by itself. An account holds
/// at most 100 live tokens: at the cap this answers 409 `too-many-tokens`,
/// and the way out is to list them (`GET /api/auth/tokens`) and revoke one
/// (`DELETE /api/auth/tokens/{id}`); nothing is replaced silently, so no
/// script loses its token by surprise. Throttled like log-in.
#[utoipa::path(post, path = "/api/auth/tokens", tag = "accounts", request_body = TokenRequest,
    responses((status = 201, body = TokenOut), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    let ttl_us = match req.expires_in {
        None => None,
        Some(s) => Some(s.checked_mul(1_000_000).ok_or(StoreError::InvalidTokenLifetime)?),
    };
    if ttl_us.is_some_and(|t| !(stampede_store::TOKEN_TTL_US_MIN..=stampede_store::TOKEN_TTL_US_MAX).contains(&t)) {
        return Err(StoreError::InvalidTokenLifetime.into());
    }
    let store = state.store.clone();
    let (email, password) = (req.email.clone(), req.password);
    let user = throttled(&state, peer.ip(), &req.email, move || store.log_in(&email, &password)).await?;
    let issued = state.store.issue_token(user.id, &req.label, ttl_us)?;
    Ok((
        StatusCode::CREATED,
        Json(TokenOut {
            token: issued.token,
            id: issued.id.0,
            expires_at: issued.expires_us.map(fmt_us),
            user: (&user).into(),
        }),
    ))
}

/// Your live API tokens (ids, labels, times; never the tokens themselves), oldest first.
#[utoipa::path(get, path = "/api/auth/tokens", tag = "accounts",
    responses((status = 200, body = TokensOut), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_tokens(State(state): State<AppState>, auth: Auth) -> Result<Json<TokensOut>, ApiError> {
    if auth.user.id == OPERATOR_ID {
        return Err(ApiError::forbidden("the operator token is configured, not issued; it has no token list"));
    }
    let tokens = state
        .store
        .tokens_of(auth.user.id)?
        .into_iter()
        .map(|t| TokenInfoOut {
            id: t.id.0,
            label: t.label,
            created_at: fmt_us(t.created_us),
            expires_at: t.expires_us.map(fmt_us),
        })
        .collect();
    Ok(Json(TokensOut { tokens }))
}

/// Revoke one of your API tokens; it stops working at once.
#[utoipa::path(delete, path = "/api/auth/tokens/{id}", tag = "accounts", params(("id" = u64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if auth.user.id == OPERATOR_ID {
        return Err(ApiError::forbidden("the operator token has no issued tokens"));
    }
    let id = TokenId(parse_id(&id, "token")?);
    state.store.revoke_token_of(auth.user.id, id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/me", tag = "accounts", responses((status = 200, body = UserOut), (status = 401, body = Problem)))]
pub async fn me(State(state): State<AppState>, auth: Auth) -> Result<Json<UserOut>, ApiError> {
    if auth.user.id == OPERATOR_ID {
        return Ok(Json(UserOut { id: 0, email: String::new(), name: "operator".into(), role: "admin".into() }));
    }
    let user = state.store.user(auth.user.id).ok_or_else(ApiError::unauthenticated)?;
    Ok(Json((&user).into()))
}

/// Change your display name (what leaderboards mask and friends see).
#[utoipa::path(put, path = "/api/me", tag = "accounts", request_body = ProfileRequest,
    responses((status = 200, body = UserOut), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<ProfileRequest>,
) -> Result<Json<UserOut>, ApiError> {
    if auth.user.id == OPERATOR_ID {
        return Err(ApiError::forbidden("the operator token has no profile"));
    }
    let store = state.store.clone();
    let id = auth.user.id;
    let user = blocking(move || Ok(store.set_name(id, &req.name)?)).await?;
    Ok(Json((&user).into()))
}

fn parse_role(raw: &str) -> Result<Role, ApiError> {
    raw.parse::<Role>().map_err(|_| ApiError::invalid_field("role must be participant, organizer or admin"))
}

/// Admin: create an account with any role.
#[utoipa::path(post, path = "/api/admin/users", tag = "admin", request_body = AdminCreateUser,
    responses((status = 201, body = UserOut), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn admin_create_user(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<AdminCreateUser>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    require_admin(&auth)?;
    let role = parse_role(&req.role)?;
    let store = state.store.clone();
    let user = blocking_hash_work(&state, move || store.sign_up(&req.email, &req.password, &req.name, role)).await??;
    Ok((StatusCode::CREATED, Json((&user).into())))
}

/// Admin: create many token-only accounts at once (load tests, imports).
#[utoipa::path(post, path = "/api/admin/users/bulk", tag = "admin", request_body = BulkUsersRequest,
    responses((status = 201, body = BulkUsersOut), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn admin_bulk_users(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<BulkUsersRequest>,
) -> Result<(StatusCode, Json<BulkUsersOut>), ApiError> {
    require_admin(&auth)?;
    let count = u32::try_from(req.count).map_err(|_| ApiError::from(StoreError::InvalidCount))?;
    let store = state.store.clone();
    let created = blocking(move || Ok(store.bulk_create(count, &req.name_prefix)?)).await?;
    let users = created.into_iter().map(|(u, token)| BulkUserOut { id: u.id.0, name: u.name, token }).collect();
    Ok((StatusCode::CREATED, Json(BulkUsersOut { users })))
}

/// Admin: change an account's role (approve an organizer).
#[utoipa::path(put, path = "/api/admin/users/{id}/role", tag = "admin", request_body = RoleRequest,
    params(("id" = u64, Path)),
    responses((status = 200, body = UserOut), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn admin_set_role(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RoleRequest>,
) -> Result<Json<UserOut>, ApiError> {
    require_admin(&auth)?;
    let id = UserId(parse_id(&id, "user")?);
    let user = state.store.set_role(id, parse_role(&req.role)?)?;
    Ok(Json((&user).into()))
}
