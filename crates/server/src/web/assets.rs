//! The static files of the web app, embedded in the binary and served under
//! `/assets/`: one stylesheet and the ES modules. Each answer carries an
//! ETag (its blake3 hash) and must be revalidated, so a new binary's files
//! are picked up at once while unchanged ones cost a 304.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const APP_CSS: &str = include_str!("../../assets/app.css");
pub const APP_JS: &str = include_str!("../../assets/js/app.js");
pub const CLOCK_JS: &str = include_str!("../../assets/js/clock.js");
pub const AUTH_JS: &str = include_str!("../../assets/js/auth.js");
pub const STOCK_JS: &str = include_str!("../../assets/js/stock.js");
pub const DROP_JS: &str = include_str!("../../assets/js/drop.js");
pub const ME_JS: &str = include_str!("../../assets/js/me.js");
pub const SEATS_JS: &str = include_str!("../../assets/js/seats.js");
pub const QUEUE_JS: &str = include_str!("../../assets/js/queue.js");
pub const ORGANIZER_JS: &str = include_str!("../../assets/js/organizer.js");
pub const DASHBOARD_JS: &str = include_str!("../../assets/js/dashboard.js");
pub const LIVE_JS: &str = include_str!("../../assets/js/live.js");

struct Asset {
    path: &'static str,
    body: &'static str,
    content_type: &'static str,
    etag: String,
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        ("app.css", APP_CSS, "text/css; charset=utf-8"),
        ("js/app.js", APP_JS, JS),
        ("js/clock.js", CLOCK_JS, JS),
        ("js/auth.js", AUTH_JS, JS),
        ("js/stock.js", STOCK_JS, JS),
        ("js/drop.js", DROP_JS, JS),
        ("js/me.js", ME_JS, JS),
        ("js/seats.js", SEATS_JS, JS),
        ("js/queue.js", QUEUE_JS, JS),
        ("js/organizer.js", ORGANIZER_JS, JS),
        ("js/dashboard.js", DASHBOARD_JS, JS),
        ("js/live.js", LIVE_JS, JS),
    ]
    .into_iter()
    .map(|(path, body, content_type)| {
        let hash = blake3::hash(body.as_bytes()).to_hex();
        Asset { path, body, content_type, etag: format!("\"{}\"", &hash[..32]) }
    })
    .collect()
});

/// The paths served under `/assets/`.
pub fn paths() -> Vec<&'static str> {
    ASSETS.iter().map(|a| a.path).collect()
}

/// `GET /assets/{path}`.
pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "no such file")
            .into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut res = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.into_response() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&asset.etag) {
        h.insert(header::ETAG, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module says what it owns in a comment at the top, and nothing
    /// reaches for another origin.
    #[test]
    fn scripts_are_documented_and_local() {
        for a in ASSETS.iter() {
            assert!(!a.body.contains("http://") && !a.body.contains("https://"), "{} names a URL", a.path);
            if a.path.ends_with(".js") {
                assert!(a.body.starts_with("//"), "{} must start with a comment saying what it owns", a.path);
            }
        }
    }
}
