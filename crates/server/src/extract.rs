//! Request extractors that turn bad input into problem answers: JSON bodies,
//! authentication (bearer token, session cookie + CSRF, the operator's admin
//! token), idempotency keys and ids in paths.

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use stampede_core::IdempotencyKey;
use stampede_store::{AuthUser, Role, UserId};

use crate::AppState;
use crate::problem::ApiError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "stampede_session";
/// The `Set-Cookie` value of a session cookie (`max_age_s` 0 clears it). It is
/// `Secure` when the server's public URL is https, so a deployment behind a
/// TLS proxy never lets the browser send the session in clear.
pub fn session_cookie(state: &AppState, value: &str, max_age_s: i64) -> String {
    let secure = if state.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_s}{secure}")
}

/// Header carrying the CSRF token for cookie-authenticated changes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The user id the operator's `STAMPEDE_ADMIN_TOKEN` acts as. Accounts start at 1.
pub const OPERATOR_ID: UserId = UserId(0);

/// A JSON body whose rejections are problem answers.
///
/// A number written with a zero fraction (`2124.0`) is the integer it equals,
/// as JSON Schema (and so the OpenAPI document) counts it; serde alone would
/// refuse it for an integer field, so such a body is read a second time with
/// those numbers made integers. Bodies that parse at once pay nothing extra.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::malformed("send the body as JSON with content-type: application/json"));
        }
        let bytes = match Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(ApiError::body_too_large()),
            Err(e) if crate::edge::is_body_too_slow(&e) => return Err(ApiError::body_too_slow()),
            Err(e) => return Err(ApiError::malformed(e.body_text())),
        };
        // Every request body is an object. serde would also read a struct
        // from an array of its fields in order (`[null, null]`), which no
        // document promises and no client means.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::malformed("the body must be a JSON object"));
        }
        let first = match serde_json::from_slice::<T>(&bytes) {
            Ok(v) => return Ok(ApiJson(v)),
            Err(e) => e,
        };
        if !first.is_data() {
            return Err(ApiError::malformed(format!("the body is not JSON: {first}")));
        }
        let mut value =
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| ApiError::malformed(e.to_string()))?;
        if !integral_floats_to_integers(&mut value) {
            return Err(ApiError::malformed(format!("the body is not of the expected shape: {first}")));
        }
        // The second reading's complaint, if any, is about what is really wrong.
        match serde_json::from_value::<T>(value) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => Err(ApiError::malformed(format!("the body is not of the expected shape: {e}"))),
        }
    }
}

/// `application/json` or any `application/*+json`, parameters ignored.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Turns every float with a zero fraction that fits an `i64` or `u64` into
/// that integer; says whether it changed anything.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^63 and 2^64 as floats: the first integer past each type's range.
            const I64_END: f64 = 9_223_372_036_854_775_808.0;
            const U64_END: f64 = 18_446_744_073_709_551_616.0;
            if f.fract() != 0.0 || !f.is_finite() {
                return false;
            }
            *n = if (-I64_END..I64_END).contains(&f) {
                serde_json::Number::from(f as i64)
            } else if (0.0..U64_END).contains(&f) {
                serde_json::Number::from(f as u64)
            } else {
                return false;
            };
            true
        }
        Value::Array(items) => items.iter_mut().fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        Value::Object(fields) => fields.values_mut().fold(false, |changed, v| integral_floats_to_integers(v) | changed),
        _ => false,
    }
}

/// Path parameters whose rejections are problem answers. A segment that
/// cannot be decoded (e.g. `%FF`, not UTF-8) names nothing: 404.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(e @ PathRejection::MissingPathParams(_)) => Err(ApiError::internal(&e.body_text())),
            Err(e) => Err(ApiError::not_found(e.body_text())),
        }
    }
}

/// A query string whose rejections are problem answers (422, naming the field).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::invalid_field(e.body_text())),
        }
    }
}

/// Who is asking. Extracting it fails with 401 when nobody is signed in, and
/// with 403 when a session cookie makes a change without its CSRF token.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    pub user: AuthUser,
}

impl Auth {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    pub fn can_organize(&self) -> bool {
        matches!(self.user.role, Role::Organizer | Role::Admin)
    }

    pub fn core_id(&self) -> stampede_core::UserId {
        stampede_core::UserId(self.user.id.0)
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Hashes the operator token once at start; requests compare hashes, so the
/// comparison time says nothing about the token.
pub fn admin_token_hash(token: &str) -> [u8; 32] {
    sha256(token.as_bytes())
}

pub fn cookie_from_headers<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim())
                .ok_or_else(ApiError::unauthenticated)?;
            if let Some(admin) = &state.admin_token_hash
                && sha256(token.as_bytes()) == *admin
            {
                return Ok(Auth { user: AuthUser { id: OPERATOR_ID, role: Role::Admin } });
            }
            return state.store.bearer(token).map(|user| Auth { user }).ok_or_else(ApiError::unauthenticated);
        }
        let cookie_value = cookie_from_headers(&parts.headers, SESSION_COOKIE).ok_or_else(ApiError::unauthenticated)?;
        let (user, csrf) = state.store.session(cookie_value).ok_or_else(ApiError::unauthenticated)?;
        if !is_safe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if sha256(sent.as_bytes()) != sha256(csrf.as_bytes()) {
                return Err(ApiError::csrf());
            }
        }
        Ok(Auth { user })
    }
}

/// The `idempotency-key` header, or a fresh key when the client sent none.
pub struct IdemKey(pub IdempotencyKey);

impl<S: Send + Sync> FromRequestParts<S> for IdemKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let invalid = || {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid idempotency key",
                "idempotency-key must be 1-64 printable ASCII characters",
            )
        };
        match parts.headers.get("idempotency-key") {
            None => {
                let fresh = uuid::Uuid::new_v4().simple().to_string();
                IdempotencyKey::parse(&fresh).map(IdemKey).map_err(|_| invalid())
            }
            Some(v) => {
                let raw = v.to_str().map_err(|_| invalid())?;
                IdempotencyKey::parse(raw).map(IdemKey).map_err(|_| invalid())
            }
        }
    }
}

/// Parses an id from a path segment; anything else is simply "not found".
/// Only the canonical spelling names a resource (`1`, not `+1` or `01`), so
/// one thing has one address and caches, logs and permission checks agree.
pub fn parse_id(raw: &str, what: &str) -> Result<u64, ApiError> {
    let canonical = raw.bytes().all(|b| b.is_ascii_digit()) && (raw == "0" || !raw.starts_with('0'));
    raw.parse::<u64>().ok().filter(|_| canonical).ok_or_else(|| ApiError::not_found(format!("no such {what}")))
}

/// A WebSocket upgrade whose rejection (a plain GET, a missing or wrong
/// upgrade header) is a problem answer like every other API error.
pub struct ApiWebSocket(pub WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for ApiWebSocket {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(ApiWebSocket)
            .map_err(|e| ApiError::new(e.status(), "websocket-required", "WebSocket upgrade required", e.body_text()))
    }
}

/// Header carrying a waiting-room pass.
pub const PASS_HEADER: &str = "stampede-pass";

/// The `stampede-pass` header, checked against a sale by [`SalePass::check`].
pub struct SalePass(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SalePass {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(PASS_HEADER) {
            None => Ok(SalePass(None)),
            Some(v) => match v.to_str() {
                Ok(s) => Ok(SalePass(Some(s.trim().to_owned()))),
                Err(_) => Err(pass_invalid("the stampede-pass header is not a pass")),
            },
        }
    }
}

fn pass_invalid(detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "pass-invalid", "Invalid pass", detail)
}

impl SalePass {
    /// For a sale with a waiting room: a pass signed by this server, for this
    /// sale and person, not expired. The sale itself then checks the
    /// admission is still live (not used); a sale without a room needs nothing.
    pub fn check(&self, state: &AppState, auth: &Auth, sale: &stampede_engine::SaleHandle) -> Result<(), ApiError> {
        if sale.config.queue.is_none() {
            return Ok(());
        }
        let Some(raw) = &self.0 else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "pass-required",
                "Pass required",
                "this sale has a waiting room: join it and send your pass in the stampede-pass header",
            ));
        };
        let claims = state.passes.verify(raw).map_err(|e| pass_invalid(&e.to_string()))?;
        if claims.sale != sale.id || claims.user != auth.core_id().0 {
            return Err(pass_invalid("the pass is for another sale or person"));
        }
        if claims.exp_us <= state.engine.now_us() {
            return Err(stampede_core::Rejection::PassExpired.into());
        }
        Ok(())
    }
}
