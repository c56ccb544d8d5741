//! Compression of text answers: pages, JSON, problems, scripts and styles go
//! out as brotli or gzip when the client's `Accept-Encoding` allows, through
//! tower-http's compression service put once around the whole router (inside
//! the edge, so the in-flight cap counts a request until its answer's head is
//! ready, as before).
//!
//! What is left alone: bodies under [`COMPRESS_LEN_MIN`] (a hold's answer, a
//! ping: too small to gain, and the hot path stays as it was), answers without
//! a body (WebSocket upgrades, 204, 304), types that are already compressed or
//! binary, and the streamed public log (`application/x-ndjson`, which can be
//! hundreds of megabytes: compressing it would spend the cores the sales need).
//! A client that sends no `Accept-Encoding` (`stampede bench`, curl) gets the
//! body as it was, at the cost of one header lookup and one box per answer.

use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use tower_http::compression::{Compression, CompressionBody, CompressionLevel, Predicate};

/// Smallest body compressed. Below about a kilobyte an answer fits one packet
/// either way and the encoder's setup costs more than the bytes it saves.
pub const COMPRESS_LEN_MIN: u64 = 1024;

/// The media types compressed (the part before any `;`).
const TEXT_TYPES: [&str; 7] = [
    "text/html",
    "text/css",
    "text/javascript",
    "text/plain",
    "application/json",
    "application/problem+json",
    "image/svg+xml",
];

/// Which answers are worth compressing: see the module's documentation.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextAnswers;

impl Predicate for TextAnswers {
    fn should_compress<B>(&self, response: &Response<B>) -> bool
    where
        B: http_body::Body,
    {
        let status = response.status();
        if status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            return false;
        }
        let media_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::trim)
            .unwrap_or("");
        if !TEXT_TYPES.iter().any(|t| media_type.eq_ignore_ascii_case(t)) {
            return false;
        }
        tower_http::compression::predicate::SizeAbove::new(COMPRESS_LEN_MIN).should_compress(response)
    }
}

/// The router's answers, compressed where [`TextAnswers`] says so, with the
/// body boxed back into axum's [`Body`] so the edge around it is unchanged.
pub type Compressed<S> =
    tower::util::MapResponse<Compression<S, TextAnswers>, fn(Response<CompressionBody<Body>>) -> Response<Body>>;

/// Wraps `inner` (the router) in the compression service.
pub fn around<S>(inner: S) -> Compressed<S> {
    // Brotli at quality 4 and gzip at 6 (tower-http's defaults): a few
    // hundred microseconds for a page, where brotli's best (11) would cost
    // tens of milliseconds per answer in a rush of first visits.
    let compression =
        Compression::new(inner).no_deflate().no_zstd().quality(CompressionLevel::Default).compress_when(TextAnswers);
    tower::util::MapResponse::new(compression, boxed as fn(Response<CompressionBody<Body>>) -> Response<Body>)
}

fn boxed(res: Response<CompressionBody<Body>>) -> Response<Body> {
    res.map(Body::new)
}
