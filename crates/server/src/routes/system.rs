//! Liveness, readiness, the ping endpoint, the fallbacks and operator stats.
//! (The OpenAPI document is served by `crate::openapi`, which owns it: the
//! document lists this module's routes, so serving it here made a cycle.)

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::problem::ApiError;

pub mod wire;
use wire::*;

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 once the log is replayed and the writer is healthy; 503 when the log
/// cannot be written or the background audit found it damaged.
#[utoipa::path(get, path = "/readyz", tag = "system", responses((status = 200, body = String), (status = 503, body = String)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if !state.engine.healthy() {
        (StatusCode::SERVICE_UNAVAILABLE, "unready")
    } else if state.engine.log_audit().is_damaged() {
        (StatusCode::SERVICE_UNAVAILABLE, "unready: the log failed its audit")
    } else {
        (StatusCode::OK, "ready")
    }
}

/// Prometheus metrics in the text exposition format: request latency by
/// route and outcome, group commits, mailbox depth, replay, WebSockets, CPU
/// and memory (ARCHITECTURE.md, "Metrics and logs"). Never refused for load;
/// 404 when the server runs with `--metrics off`.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "the metrics", content_type = "text/plain; version=0.0.4", body = String),
        (status = 404, body = crate::problem::Problem)))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl axum::response::IntoResponse, ApiError> {
    let Some(handle) = &state.metrics else {
        return Err(ApiError::not_found("metrics are off (the server runs with --metrics off)"));
    };
    // Rendering folds every histogram's pending samples: not on an async thread.
    let handle = handle.clone();
    let websockets = state.websockets.clone();
    let text =
        tokio::task::spawn_blocking(move || crate::metrics::render(&handle, websockets.open_now(), websockets.peak()))
            .await
            .map_err(|e| ApiError::internal(&e))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text))
}

/// The trivial endpoint `stampede bench --scenario ping` measures.
#[utoipa::path(get, path = "/api/ping", tag = "system", responses((status = 200, body = String)))]
pub async fn ping() -> &'static str {
    "pong"
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this route does not take that method",
    )
}

/// Operator numbers: WebSockets open and at most, memory, the open-file limit (admins).
#[utoipa::path(get, path = "/api/admin/stats", tag = "admin",
    responses((status = 200, body = StatsOut), (status = 403, body = crate::problem::Problem)))]
pub async fn admin_stats(
    State(state): State<AppState>,
    auth: crate::extract::Auth,
) -> Result<Json<StatsOut>, crate::problem::ApiError> {
    if !auth.is_admin() {
        return Err(crate::problem::ApiError::forbidden("only admins may read server stats"));
    }
    let open_files_limit = rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft);
    Ok(Json(StatsOut {
        ws_open: state.websockets.open_now(),
        ws_peak: state.websockets.peak(),
        rss_kb: crate::live::rss_kb(),
        open_files_limit,
    }))
}
