//! The web app: server-rendered pages (askama templates compiled into the
//! binary) with small ES modules for the live parts, in Korean and English.
//!
//! Pages read the engine and the store directly, as the JSON routes do; the
//! scripts call the JSON API with the session cookie and the CSRF token that
//! the page carries in `<meta name="csrf-token">` for signed-in viewers. Every
//! file the pages need (CSS, scripts, the catalogues) is embedded, so
//! `stampede serve` needs nothing on disk, and no page loads anything from
//! another origin (the Content-Security-Policy says so to the browser). Pages
//! link those files by content-hashed URLs that browsers keep for a year
//! (`assets.rs`); the pages themselves are `no-store` and carry only their
//! own content, so a repeat visit costs the HTML alone.
//!
//! Routes: `/`, `/login`, `/signup`, `/logout` (GET asks, POST signs out),
//! `/me`, `/sales/{id}`, `/sales/{id}/gate`, `/organizer`, `/organizer/new`, `/organizer/sales/{id}`, `/lang/{code}?next=PATH`, `/assets/...`, `/api/time`, `/api/time/ws`,
//! and a catch-all that answers browsers a human 404 page outside `/api/`.

pub mod assets;
pub mod gate;
pub mod i18n;
pub mod pages;
pub mod qr;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Serialize;

use crate::AppState;
use crate::extract::{ApiWebSocket, Auth, SESSION_COOKIE, cookie_from_headers};
use i18n::{LANG_COOKIE, Lang};

/// Where the content may come from: this server only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The routes of the web app, merged into the API's router by [`crate::router`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login))
        .route("/signup", get(pages::signup))
        .route("/logout", get(pages::logout_page).post(pages::logout))
        .route("/me", get(pages::me))
        .route("/sales/{id}", get(pages::sale))
        .route("/sales/{id}/gate", get(gate::gate))
        .route("/organizer", get(pages::organizer))
        .route("/organizer/new", get(pages::organizer_new))
        .route("/organizer/sales/{id}", get(pages::organizer_sale))
        .route("/lang/{code}", get(set_lang))
        .route("/assets/{*path}", get(assets::serve))
        .route("/api/time", get(server_time))
        .route("/api/time/ws", get(server_time_ws))
        .route("/{*path}", any(not_found))
}

/// A signed-in viewer, as the page needs them.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub id: u64,
    pub name: String,
    pub role: &'static str,
    /// Echoed by the page's scripts in `x-csrf-token`.
    pub csrf: String,
    pub auth: Auth,
}

/// What every page's frame (header, language switch) needs.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub lang: Lang,
    pub user: Option<SignedIn>,
    /// This page's path and query, to come back to after switching language.
    pub here: String,
    /// Which navigation entry is current: `sales`, `me`, `organizer`, `login`, `signup`, or empty.
    pub nav: &'static str,
}

impl Chrome {
    /// Reads the viewer from the request: language (cookie, Accept-Language)
    /// and the session cookie, if it names a live session.
    pub fn from_request(state: &AppState, headers: &HeaderMap, uri: &Uri, nav: &'static str) -> Chrome {
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let lang = Lang::negotiate(cookie_from_headers(headers, LANG_COOKIE), accept);
        let user = cookie_from_headers(headers, SESSION_COOKIE).and_then(|value| {
            let (auth_user, csrf) = state.store.session(value)?;
            let user = state.store.user(auth_user.id)?;
            Some(SignedIn {
                id: user.id.0,
                name: user.name,
                role: user.role.as_str(),
                csrf,
                auth: Auth { user: auth_user },
            })
        });
        let here = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        Chrome { lang, user, here, nav }
    }

    /// The catalogue text for `key` in the viewer's language.
    pub fn t<'k>(&self, key: &'k str) -> &'k str {
        self.lang.t(key)
    }

    /// The text for `key` with `{n}` replaced.
    pub fn tn(&self, key: &str, n: impl std::fmt::Display) -> String {
        self.lang.tn(key, n)
    }

    /// See [`Lang::count`] (templates pass their values by reference).
    pub fn count<N: Into<u64> + Copy>(&self, key: &str, n: &N) -> String {
        self.lang.count(key, (*n).into())
    }

    /// The text of `group.value` (`kind.stock`, `status.open`, `order.refunded`).
    pub fn label(&self, group: &str, value: &str) -> String {
        let key = format!("{group}.{value}");
        self.lang.t(&key).to_owned()
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn locale(&self) -> &'static str {
        self.lang.locale()
    }

    /// The content-hashed URL of an embedded file (`js/stock.js`); a unit
    /// test checks that every name the templates use is embedded.
    pub fn asset(&self, path: &str) -> &'static str {
        assets::href(path).unwrap_or("/assets/not-embedded")
    }

    /// The URL of the viewer's catalogue script, which the page's modules read.
    pub fn catalogue_href(&self) -> &'static str {
        match self.lang {
            Lang::En => self.asset("i18n/en.js"),
            Lang::Ko => self.asset("i18n/ko.js"),
        }
    }

    /// The link that switches to `code` and comes back here.
    pub fn lang_href(&self, code: &str) -> String {
        format!("/lang/{code}?next={}", url_encode(&self.here))
    }

    pub fn is_lang(&self, code: &str) -> bool {
        self.lang.code() == code
    }

    pub fn signed_in(&self) -> bool {
        self.user.is_some()
    }

    /// Whether the viewer organizes sales (organizer or admin): the header links the organizer pages.
    pub fn organizes(&self) -> bool {
        self.user.as_ref().is_some_and(|u| matches!(u.role, "organizer" | "admin"))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn url_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn url_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A path on this site to go to after an action, or `/`: only a local path
/// (`/x`, not `//host` or `/\host`) is followed, so no link can send a
/// viewer elsewhere.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !p.chars().any(|c| c.is_control())
                && p.len() <= 2048 =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
}

/// The value of `name` in a query string, decoded.
pub fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| url_decode(v))
    })
}

/// The headers every HTML page carries.
pub fn html_response(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages carry the viewer's CSRF token and personal data: never cache them.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("cookie, accept-language"));
    res
}

/// Renders a template, or a plain 500 page (logged) if rendering fails.
pub fn render(status: StatusCode, template: &impl askama::Template) -> Response {
    match template.render() {
        Ok(body) => html_response(status, body),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><meta charset=utf-8><title>Error</title><p>Something went wrong. \
                 문제가 생겼습니다.</p><p><a href=\"/\">Stampede</a></p>"
                    .to_owned(),
            )
        }
    }
}

/// A 303 to a local path.
pub fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /lang/{code}?next=/path`: remembers the language for a year and goes back.
async fn set_lang(axum::extract::Path(code): axum::extract::Path<String>, uri: Uri) -> Response {
    let next = local_path(query_param(&uri, "next").as_deref());
    let mut res = see_other(&next);
    if let Some(lang) = Lang::from_code(&code) {
        let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    res
}

#[derive(Serialize)]
struct ServerTime {
    server_time_us: i64,
}

/// `GET /api/time`: the sales' clock in microseconds since the Unix epoch, for
/// pages that count down to an opening (they sample it NTP-style).
async fn server_time(State(state): State<AppState>) -> Response {
    let mut res = axum::Json(ServerTime { server_time_us: state.engine.now_us() }).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// Samples one clock WebSocket answers before it closes: enough for the
/// shortest-round-trip pick, not a channel to keep open.
const TIME_SAMPLES_MAX: usize = 16;
/// Longest tag a clock sample may carry.
const TIME_TAG_LEN_MAX: usize = 64;
/// How long the clock socket waits for the next sample before closing.
const TIME_SAMPLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `GET /api/time/ws`: every message the page sends (a short tag, up to 64
/// bytes) is answered at once with `{"tag": ..., "server_time_us": ...}`. Over
/// one open connection a sample's round trip is the network's alone, so the
/// page's NTP-style offset is tighter than over separate HTTP requests.
async fn server_time_ws(State(state): State<AppState>, ApiWebSocket(ws): ApiWebSocket) -> Response {
    use axum::extract::ws::Message;
    let guard = state.websockets.open();
    ws.read_buffer_size(1024)
        .write_buffer_size(0)
        .max_message_size(TIME_TAG_LEN_MAX)
        .max_frame_size(TIME_TAG_LEN_MAX)
        .on_upgrade(move |mut socket| async move {
            let _guard = guard;
            for _ in 0..TIME_SAMPLES_MAX {
                let tag = match tokio::time::timeout(TIME_SAMPLE_WAIT, socket.recv()).await {
                    Ok(Some(Ok(Message::Text(t)))) => t,
                    Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                    _ => return,
                };
                let now = state.engine.now_us();
                let answer = serde_json::json!({"tag": tag.as_str(), "server_time_us": now}).to_string();
                if socket.send(Message::Text(answer.into())).await.is_err() {
                    return;
                }
            }
            let _ = socket.send(Message::Close(None)).await;
        })
}

/// Paths nobody routes: a human page for browsers (they ask for `text/html`)
/// outside `/api/`, else the API's problem answer.
async fn not_found(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let wants_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|m| m.trim().starts_with("text/html")));
    if !wants_html || uri.path().starts_with("/api/") || uri.path() == "/api" {
        return crate::routes::system::not_found().await.into_response();
    }
    let c = Chrome::from_request(&state, &headers, &uri, "");
    pages::not_found_page(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/sales/3?x=1")), "/sales/3?x=1");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/a\nb")), "/");
        assert_eq!(local_path(None), "/");
    }

    /// Every file a template links by `c.asset("...")` is embedded, so no
    /// page links `/assets/not-embedded`.
    #[test]
    fn templates_link_only_embedded_files() {
        let templates = [
            include_str!("../../templates/base.html"),
            include_str!("../../templates/login.html"),
            include_str!("../../templates/signup.html"),
            include_str!("../../templates/me.html"),
            include_str!("../../templates/sale.html"),
            include_str!("../../templates/organizer_new.html"),
            include_str!("../../templates/organizer_sale.html"),
            include_str!("../../templates/gate.html"),
        ];
        let mut linked = 0;
        for src in templates {
            for part in src.split("c.asset(\"").skip(1) {
                let path = part.split('"').next().unwrap_or("");
                assert!(assets::href(path).is_some(), "a template links {path}, which is not embedded");
                linked += 1;
            }
            assert!(!src.contains("\"/assets/"), "a template links an asset by a bare path");
        }
        assert!(linked >= 11, "found only {linked} links");
        for lang in Lang::ALL {
            let c = Chrome { lang, user: None, here: "/".to_owned(), nav: "" };
            assert!(c.catalogue_href().ends_with(&format!("/i18n/{}.js", lang.code())));
        }
    }

    #[test]
    fn query_values_round_trip_through_encoding() {
        let here = "/sales/3?tab=a b&x=한";
        let uri: Uri = format!("/lang/ko?next={}", url_encode(here)).parse().expect("uri");
        assert_eq!(query_param(&uri, "next").as_deref(), Some(here));
        let uri: Uri = "/x?next=%ZZ&y".parse().expect("uri");
        assert_eq!(query_param(&uri, "next").as_deref(), Some("%ZZ"));
        assert_eq!(query_param(&uri, "y").as_deref(), Some(""));
        let uri: Uri = "/x?a=%4".parse().expect("uri");
        assert_eq!(query_param(&uri, "a").as_deref(), Some("%4"));
    }
}
