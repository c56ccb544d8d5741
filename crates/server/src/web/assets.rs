//! The static files of the web app, embedded in the binary and served under
//! `/assets/`: the stylesheets, the ES modules, each language's catalogue
//! as a small classic script for the modules to read, and vendored scripts
//! (jsQR under `vendor/`, with its licence beside it).
//!
//! Pages name every file by a content-hashed URL, `/assets/{version}/{path}`,
//! answered `immutable` for a year: a repeat visit fetches only the page's
//! HTML, and a new binary's changed files get new URLs. A file's version is
//! the hash of its own bytes, except the modules under `js/`: they import one
//! another by relative paths (`./app.js`), so they share one version, the hash
//! of them all, and a module is never loaded twice under two names. A request
//! for the bare path or for another version (a page rendered by an older
//! binary) gets today's file with `no-cache` and its ETag, so it is revalidated
//! rather than kept.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::Lang;

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
pub const TICKET_JS: &str = include_str!("../../assets/js/ticket.js");
pub const GATE_JS: &str = include_str!("../../assets/js/gate.js");
pub const GATE_CSS: &str = include_str!("../../assets/gate.css");
/// jsQR 1.4.0 (npm `jsqr`, Apache-2.0), the gate page's QR decoder: its
/// `dist/jsQR.js` byte for byte, a classic script that sets `globalThis.jsQR`.
/// Kept as published so its hash can be checked against the package; the
/// licence travels beside it and is served too.
pub const JSQR_JS: &str = include_str!("../../assets/vendor/jsQR.js");
pub const JSQR_LICENSE: &str = include_str!("../../assets/vendor/jsQR.LICENSE.txt");

/// How long a browser keeps a versioned file: a year, the most RFC 9111 caches honour.
const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Hex digits of a version: 64 bits of blake3, plenty to tell releases apart.
const VERSION_LEN: usize = 16;

struct Asset {
    path: String,
    body: Bytes,
    content_type: &'static str,
    etag: String,
    /// The hash in the file's URL: its own, or the modules' shared one.
    version: String,
    /// The URL pages use: `/assets/{version}/{path}`.
    href: String,
}

const JS: &str = "text/javascript; charset=utf-8";

fn hash_hex(parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    for p in parts {
        // Length-prefixed, so no two different lists of parts hash alike.
        hasher.update(&(p.len() as u64).to_le_bytes());
        hasher.update(p);
    }
    hasher.finalize().to_hex().to_string()
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let modules: [(&str, &'static str); 13] = [
        ("js/app.js", APP_JS),
        ("js/clock.js", CLOCK_JS),
        ("js/auth.js", AUTH_JS),
        ("js/stock.js", STOCK_JS),
        ("js/drop.js", DROP_JS),
        ("js/me.js", ME_JS),
        ("js/seats.js", SEATS_JS),
        ("js/queue.js", QUEUE_JS),
        ("js/organizer.js", ORGANIZER_JS),
        ("js/dashboard.js", DASHBOARD_JS),
        ("js/live.js", LIVE_JS),
        ("js/ticket.js", TICKET_JS),
        ("js/gate.js", GATE_JS),
    ];
    let module_parts: Vec<&[u8]> = modules.iter().flat_map(|(p, b)| [p.as_bytes(), b.as_bytes()]).collect();
    let modules_version = hash_hex(&module_parts)[..VERSION_LEN].to_owned();

    let mut files: Vec<(String, Bytes, &'static str, Option<String>)> =
        vec![("app.css".to_owned(), Bytes::from_static(APP_CSS.as_bytes()), "text/css; charset=utf-8", None)];
    files.push(("gate.css".to_owned(), Bytes::from_static(GATE_CSS.as_bytes()), "text/css; charset=utf-8", None));
    for lang in Lang::ALL {
        files.push((format!("i18n/{}.js", lang.code()), Bytes::from(lang.catalogue_script()), JS, None));
    }
    files.push(("vendor/jsQR.js".to_owned(), Bytes::from_static(JSQR_JS.as_bytes()), JS, None));
    files.push((
        "vendor/jsQR.LICENSE.txt".to_owned(),
        Bytes::from_static(JSQR_LICENSE.as_bytes()),
        "text/plain; charset=utf-8",
        None,
    ));
    for (path, body) in modules {
        files.push((path.to_owned(), Bytes::from_static(body.as_bytes()), JS, Some(modules_version.clone())));
    }
    files
        .into_iter()
        .map(|(path, body, content_type, shared_version)| {
            let hash = hash_hex(&[&body]);
            let version = shared_version.unwrap_or_else(|| hash[..VERSION_LEN].to_owned());
            let href = format!("/assets/{version}/{path}");
            Asset { path, body, content_type, etag: format!("\"{}\"", &hash[..32]), version, href }
        })
        .collect()
});

/// The paths served under `/assets/` (each also under its versioned URL, [`href`]).
pub fn paths() -> Vec<&'static str> {
    ASSETS.iter().map(|a| a.path.as_str()).collect()
}

/// The content-hashed URL of the file at `path` (`js/app.js`), for pages to
/// link; `None` for a file that is not embedded.
pub fn href(path: &str) -> Option<&'static str> {
    ASSETS.iter().find(|a| a.path == path).map(|a| a.href.as_str())
}

/// `{version}/{path}` as the version and the rest, or the bare path.
fn split_version(raw: &str) -> (Option<&str>, &str) {
    match raw.split_once('/') {
        Some((first, rest)) if first.len() == VERSION_LEN && first.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (Some(first), rest)
        }
        _ => (None, raw),
    }
}

/// `GET /assets/{path}` and `GET /assets/{version}/{path}`.
pub async fn serve(Path(raw): Path<String>, headers: HeaderMap) -> Response {
    let (version, path) = split_version(&raw);
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "no such file")
            .into_response();
    };
    let current = version == Some(asset.version.as_str());
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let mut res = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { asset.body.clone().into_response() };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    let cache = if current { CACHE_IMMUTABLE } else { "no-cache" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&asset.etag) {
        h.insert(header::ETAG, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(a: &Asset) -> &str {
        std::str::from_utf8(&a.body).expect("assets are UTF-8")
    }

    /// Every script says what it owns in a comment at the top, and nothing
    /// reaches for another origin. Vendored files are kept as published
    /// (their comments and licence name their authors' sites), so they are
    /// pinned by hash instead, and must not fetch anything either.
    #[test]
    fn scripts_are_documented_and_local() {
        use sha2::Digest;
        let vendored = [
            ("vendor/jsQR.js", "bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859"),
            ("vendor/jsQR.LICENSE.txt", "c6596eb7be8581c18be736c846fb9173b69eccf6ef94c5135893ec56bd92ba08"),
        ];
        for a in ASSETS.iter() {
            let body = text(a);
            if let Some((_, pinned)) = vendored.iter().find(|(p, _)| *p == a.path) {
                let hash: String = sha2::Sha256::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(&hash, pinned, "{} is not the published file", a.path);
                for reach in ["fetch(", "XMLHttpRequest", "import(", "WebSocket"] {
                    assert!(!body.contains(reach), "{} calls {reach}", a.path);
                }
                continue;
            }
            assert!(!body.contains("http://") && !body.contains("https://"), "{} names a URL", a.path);
            if a.path.ends_with(".js") {
                assert!(body.starts_with("//"), "{} must start with a comment saying what it owns", a.path);
            }
        }
    }

    /// The modules import each other relatively, so they must share one
    /// version; every other file is versioned by its own bytes.
    #[test]
    fn modules_share_a_version_and_other_files_have_their_own() {
        let version = |p: &str| ASSETS.iter().find(|a| a.path == p).map(|a| a.version.clone()).expect(p);
        let modules: Vec<&Asset> = ASSETS.iter().filter(|a| a.path.starts_with("js/")).collect();
        assert!(modules.len() >= 11);
        assert!(modules.iter().all(|a| a.version == modules[0].version), "one version for all modules");
        for a in ASSETS.iter() {
            assert_eq!(a.version.len(), VERSION_LEN);
            assert_eq!(a.href, format!("/assets/{}/{}", a.version, a.path));
            assert_eq!(href(&a.path), Some(a.href.as_str()));
            assert_eq!(split_version(&a.href["/assets/".len()..]), (Some(a.version.as_str()), a.path.as_str()));
        }
        let own = ["app.css", "i18n/ko.js", "i18n/en.js"].map(version);
        assert!(own.iter().all(|v| *v != modules[0].version));
        assert_ne!(own[1], own[2], "each language's catalogue has its own version");
        assert_eq!(href("js/nope.js"), None);
        assert_eq!(split_version("js/app.js"), (None, "js/app.js"));
        assert_eq!(split_version("0123456789abcdeg/app.css"), (None, "0123456789abcdeg/app.css"));
    }
}
