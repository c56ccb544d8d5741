//! Sign-up, log-in, sessions, tokens, and the admin's account tools.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_store::{Role, StoreError, UserId};

use crate::dto::*;
use crate::extract::{ApiJson, ApiPath, Auth, SESSION_COOKIE, cookie_from_headers, parse_id};
use crate::problem::{ApiError, Problem};
use crate::{AppState, blocking_hash_work};

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
#[utoipa::path(post, path = "/api/auth/signup", tag = "accounts", request_body = SignUpRequest,
    responses((status = 201, body = SessionOut), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn signup(State(state): State<AppState>, ApiJson(req): ApiJson<SignUpRequest>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let user =
        blocking_hash_work(&state, move || store.sign_up(&req.email, &req.password, &req.name, Role::Participant))
            .await??;
    with_session(&state, StatusCode::CREATED, &user)
}

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(post, path = "/api/auth/login", tag = "accounts", request_body = LogInRequest,
    responses((status = 200, body = SessionOut), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn login(State(state): State<AppState>, ApiJson(req): ApiJson<LogInRequest>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let user = blocking_hash_work(&state, move || store.log_in(&req.email, &req.password)).await??;
    with_session(&state, StatusCode::OK, &user)
}

/// End the current session.
#[utoipa::path(post, path = "/api/auth/logout", tag = "accounts", responses((status = 204)))]
pub async fn logout(State(state): State<AppState>, _auth: Auth, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(v) = cookie_from_headers(&headers, SESSION_COOKIE) {
        state.store.end_session(v)?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, "", 0)?);
    Ok(res)
}

/// Exchange email and password for a bearer token (for scripts and apps).
#[utoipa::path(post, path = "/api/auth/tokens", tag = "accounts", request_body = TokenRequest,
    responses((status = 201, body = TokenOut), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<(StatusCode, Json<TokenOut>), ApiError> {
    let store = state.store.clone();
    let (email, password) = (req.email, req.password);
    let user = blocking_hash_work(&state, move || store.log_in(&email, &password)).await??;
    let token = state.store.create_token(user.id, &req.label)?;
    Ok((StatusCode::CREATED, Json(TokenOut { token, user: (&user).into() })))
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/me", tag = "accounts", responses((status = 200, body = UserOut), (status = 401, body = Problem)))]
pub async fn me(State(state): State<AppState>, auth: Auth) -> Result<Json<UserOut>, ApiError> {
    if auth.user.id == crate::extract::OPERATOR_ID {
        return Ok(Json(UserOut { id: 0, email: String::new(), name: "operator".into(), role: "admin".into() }));
    }
    let user = state.store.user(auth.user.id).ok_or_else(ApiError::unauthenticated)?;
    Ok(Json((&user).into()))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct ProfileRequest {
    #[schema(schema_with = crate::dto::name_schema)]
    pub name: String,
}

/// Change your display name (what leaderboards mask and friends see).
#[utoipa::path(put, path = "/api/me", tag = "accounts", request_body = ProfileRequest,
    responses((status = 200, body = UserOut), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(req): ApiJson<ProfileRequest>,
) -> Result<Json<UserOut>, ApiError> {
    if auth.user.id == crate::extract::OPERATOR_ID {
        return Err(ApiError::forbidden("the operator token has no profile"));
    }
    let store = state.store.clone();
    let id = auth.user.id;
    let user = tokio::task::spawn_blocking(move || store.set_name(id, &req.name))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    Ok(Json((&user).into()))
}

fn require_admin(auth: &Auth) -> Result<(), ApiError> {
    if auth.is_admin() { Ok(()) } else { Err(ApiError::forbidden("only an admin may do this")) }
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
    let created = tokio::task::spawn_blocking(move || store.bulk_create(count, &req.name_prefix))
        .await
        .map_err(|e| ApiError::internal(&e))??;
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
