//! A sale's public log and what proves things against it: the download
//! (`GET /api/sales/{id}/log`, streamed, once the sale has closed), one's
//! own pseudonym in it, and the key that signs receipts.
//!
//! Only sales whose records seal people ([`stampede_engine::persons`]) are
//! published: the file is the stored log itself, so its chain verifies with
//! no secret, and it names nobody. Sales logged before pseudonyms name
//! accounts and are never published.

use std::convert::Infallible;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use stampede_core::SaleStatus;
use stampede_engine::public::{LogHeader, LogLine, RECEIPT_BATCH_DOMAIN};
use stampede_log::LogError;
use tokio::sync::mpsc;

use crate::AppState;
use crate::extract::{ApiPath, Auth};
use crate::problem::{ApiError, Problem};
use crate::routes::common::sale_handle as handle;

pub mod wire;
use wire::*;

/// Bytes of log lines gathered before handing them to the connection.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks waiting for a slow client before the reading thread waits too:
/// the download holds at most this much of the log in memory.
const CHUNKS_QUEUED_MAX: usize = 8;

fn not_public(slug: &'static str, detail: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, slug, "The log is not public", detail)
}

/// The sale's log as JSON lines (a header line, then one line per entry:
/// sale, seq, time in µs, the record as stored (base64url of a binary
/// record, with what it says as JSON beside it), its chain hash), streamed.
/// Public once the sale has closed; people appear only as pseudonyms.
/// `stampede verify --log FILE` replays it and checks every outcome.
#[utoipa::path(get, path = "/api/sales/{id}/log", tag = "public log", params(("id" = u64, Path)),
    responses((status = 200, content_type = "application/x-ndjson", body = String,
            description = "the header line, then one line per entry, in seq order"),
        (status = 403, body = Problem, description = "not closed yet (`log-not-public-yet`), or logged before pseudonyms (`log-not-published`)"),
        (status = 404, body = Problem), (status = 503, body = Problem)))]
pub async fn download(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    let sale = handle(&state, &id)?;
    if !sale.sealed {
        return Err(not_public(
            "log-not-published",
            "this sale was logged before people were pseudonymised, so its log names accounts and is not published",
        ));
    }
    let live = state.engine.live(sale.id).await?;
    if live.view.status != SaleStatus::Closed {
        return Err(not_public("log-not-public-yet", "the log is published once the sale has closed"));
    }
    let busy = || ApiError::overloaded("too many downloads of public logs at once; retry shortly");
    let permit = state.log_downloads.clone().try_acquire_owned().map_err(|_| busy())?;
    let open = state.log_readers.clone().ok_or_else(busy)?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>(CHUNKS_QUEUED_MAX);
    let id = sale.id;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut chunk = serde_json::to_vec(&LogHeader::of(id)).unwrap_or_default();
        chunk.push(b'\n');
        let result = open().and_then(|mut log| {
            log.replay(id, 0, &mut |entry| {
                chunk.extend_from_slice(&LogLine::of(&entry).encode());
                if chunk.len() >= CHUNK_BYTES {
                    // The client went away: stop reading.
                    tx.blocking_send(std::mem::take(&mut chunk)).map_err(|_| LogError::Visitor("gone".into()))?;
                }
                Ok(())
            })
        });
        match result {
            Ok(()) => {
                let _ = tx.blocking_send(chunk);
            }
            Err(LogError::Visitor(_)) => {}
            // The body is cut short, which the client sees as a broken download.
            Err(e) => tracing::error!(sale = id, error = %e, "reading the log for a download failed"),
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut res = Body::from_stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"stampede-sale-{id}-log.jsonl\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Your pseudonym in the sale's log, so you can pick out your own entries
/// (your receipts carry it too). Only for sales whose log is published.
#[utoipa::path(get, path = "/api/sales/{id}/log/me", tag = "public log", params(("id" = u64, Path)),
    responses((status = 200, body = LogIdentityOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn me(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<LogIdentityOut>, ApiError> {
    let sale = handle(&state, &id)?;
    let seal = match state.engine.persons() {
        Some(key) if sale.sealed => key.sale(sale.id),
        _ => return Err(not_public("log-not-published", "this sale's log names accounts and is not published")),
    };
    Ok(Json(LogIdentityOut { sale: sale.id, pseudonym: seal.person(auth.core_id()).0 }))
}

/// The public key receipts are signed with: what `stampede verify-receipt
/// --key` pins a receipt's signer to.
#[utoipa::path(get, path = "/.well-known/stampede/receipt-key", tag = "public log",
    responses((status = 200, body = ReceiptKeyOut)))]
pub async fn receipt_key(State(state): State<AppState>) -> Json<ReceiptKeyOut> {
    Json(ReceiptKeyOut {
        algorithm: "ed25519",
        public_key: state.passes.public_key(),
        domain: std::str::from_utf8(RECEIPT_BATCH_DOMAIN).unwrap_or("stampede-receipt-batch-v2"),
    })
}
