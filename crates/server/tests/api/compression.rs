//! Compression of text answers (`compression.rs`): pages, JSON, scripts and
//! styles go out as brotli or gzip when asked and decode to the very bytes
//! sent to a client that did not ask; small answers, revalidations and
//! WebSocket upgrades go as they are; and the in-flight cap still sheds with
//! the compression service in place.

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::json;
use stampede_server::{App, EdgeLimits, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{ADMIN, Server};

/// What Chromium sends.
const BROWSER_ENCODINGS: &str = "gzip, deflate, br, zstd";

/// GET `path` with `accept-encoding` if given: status, headers, raw body bytes.
async fn get_raw(server: &Server, path: &str, accept_encoding: Option<&str>) -> (u16, HeaderMap, Vec<u8>) {
    let mut rb = server.request(Method::GET, path).header("accept", "text/html,*/*");
    if let Some(e) = accept_encoding {
        rb = rb.header("accept-encoding", e);
    }
    let res = rb.send().await.expect("request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.expect("body").to_vec())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn decode(encoding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip"),
        "br" => brotli::Decompressor::new(bytes, 4096).read_to_end(&mut out).expect("unbrotli"),
        other => panic!("unexpected encoding {other}"),
    };
    out
}

#[tokio::test]
async fn text_answers_are_compressed_as_asked_and_decode_to_the_same_bytes() {
    let server = Server::start().await;
    for title in ["Compressed pass", "Compressed day pass", "Compressed night pass"] {
        server.open_stock_sale(json!({"title": title})).await;
    }
    let css = stampede_server::web::assets::href("app.css").expect("css");
    let module = stampede_server::web::assets::href("js/seats.js").expect("module");
    let catalogue = stampede_server::web::assets::href("i18n/ko.js").expect("catalogue");
    for (path, media_type) in [
        ("/api/openapi.json", "application/json"),
        ("/api/sales", "application/json"),
        (css, "text/css"),
        (module, "text/javascript"),
        (catalogue, "text/javascript"),
    ] {
        let (status, plain_headers, plain) = get_raw(&server, path, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(header(&plain_headers, "content-type").starts_with(media_type), "{path}");
        assert_eq!(header(&plain_headers, "content-encoding"), "", "{path}: nothing asked, nothing compressed");
        assert!(plain.len() > 1024, "{path} is big enough to compress: {}", plain.len());
        for (asked, expected) in
            [("gzip", "gzip"), ("br", "br"), (BROWSER_ENCODINGS, "br"), ("gzip;q=1, br;q=0.5", "gzip")]
        {
            let (status, headers, body) = get_raw(&server, path, Some(asked)).await;
            assert_eq!(status, 200);
            assert_eq!(header(&headers, "content-encoding"), expected, "{path} asked {asked}");
            assert!(header(&headers, "vary").to_ascii_lowercase().contains("accept-encoding"), "{path}");
            assert!(body.len() < plain.len() / 2, "{path} {expected}: {} of {} bytes", body.len(), plain.len());
            assert_eq!(decode(expected, &body), plain, "{path} {expected} decodes to the same bytes");
        }
    }
    // A page: its CSRF-free parts are stable, so compare what it says.
    let (_, headers, body) = get_raw(&server, "/", Some(BROWSER_ENCODINGS)).await;
    assert_eq!(header(&headers, "content-encoding"), "br");
    assert_eq!(header(&headers, "cache-control"), "no-store", "pages are still never kept");
    let page = String::from_utf8(decode("br", &body)).expect("utf-8");
    assert!(page.starts_with("<!doctype html>") && page.contains("Compressed pass"), "{page}");
}

#[tokio::test]
async fn small_and_bodiless_answers_and_websocket_upgrades_go_as_they_are() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = Server::start().await;
    // A ping and a problem are far below the threshold: the hot path is untouched.
    let (status, headers, _) = get_raw(&server, "/api/ping", Some(BROWSER_ENCODINGS)).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), "");
    let (status, headers, body) = get_raw(&server, "/api/sales/999999", Some(BROWSER_ENCODINGS)).await;
    assert_eq!(status, 404);
    assert_eq!(header(&headers, "content-encoding"), "");
    assert!(String::from_utf8(body).expect("plain").contains("/problems/"));
    // A revalidated file is a 304 without a body.
    let css = stampede_server::web::assets::href("app.css").expect("css");
    let (_, headers, _) = get_raw(&server, css, None).await;
    let etag = header(&headers, "etag").to_owned();
    let res = server
        .send(
            server
                .request(Method::GET, css)
                .header("if-none-match", &etag)
                .header("accept-encoding", BROWSER_ENCODINGS),
        )
        .await;
    assert_eq!(res.status, 304);
    assert_eq!(res.header("content-encoding"), "");
    // A WebSocket upgrade asked by a browser that accepts compression still upgrades.
    let url = format!("{}/api/time/ws", server.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert("accept-encoding", BROWSER_ENCODINGS.parse().expect("value"));
    let (mut ws, answer) = tokio_tungstenite::connect_async(request).await.expect("upgrade");
    assert_eq!(answer.status().as_u16(), 101);
    assert!(answer.headers().get("content-encoding").is_none());
    ws.send(tokio_tungstenite::tungstenite::Message::Text("t".into())).await.expect("send");
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("in time").expect("open");
    assert!(msg.expect("message").to_text().expect("text").contains("server_time_us"));
}

/// One request on a connection of its own, asking for compression; the answer's head and body as text.
async fn get_closing(addr: std::net::SocketAddr, path: &str) -> String {
    let (mut r, mut w) = TcpStream::connect(addr).await.expect("connect").into_split();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\nAccept-Encoding: {BROWSER_ENCODINGS}\r\nConnection: close\r\n\r\n"
    );
    w.write_all(head.as_bytes()).await.expect("head");
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), r.read_to_end(&mut got)).await.expect("answered").expect("read");
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_cap_still_sheds_with_compression_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = EdgeLimits { requests_in_flight_max: 2, ..EdgeLimits::default() };
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        admin_token: Some(ADMIN.into()),
        connections_max: limits.connections_max,
        engine: Default::default(),
        public_url: None,
        metrics: true,
    };
    let app = App::open(&config).expect("open");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(stampede_server::serve_with_limits(listener, app.state, limits, std::future::pending()));
    let page = get_closing(addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.to_ascii_lowercase().contains("content-encoding: br\r\n"), "the page is compressed: {page}");
    // Two requests whose bodies never come hold both places.
    let mut held = Vec::new();
    for _ in 0..2 {
        let (r, mut w) = TcpStream::connect(addr).await.expect("connect").into_split();
        let head = format!(
            "POST /api/sales/1/holds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
             Accept-Encoding: {BROWSER_ENCODINGS}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        w.write_all(head.as_bytes()).await.expect("head");
        held.push((r, w));
    }
    // The server reads the two heads on its own time: ask until it sheds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shed = loop {
        let answer = get_closing(addr, "/").await;
        if answer.starts_with("HTTP/1.1 503") {
            break answer;
        }
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(Instant::now() < deadline, "two requests in flight never filled a cap of two");
        tokio::task::yield_now().await;
    };
    assert!(shed.to_ascii_lowercase().contains("retry-after: 1\r\n"), "{shed}");
    assert!(shed.contains("Very busy"), "the busy page is readable as sent: {shed}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = get_closing(addr, "/").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the places were never given back: {answer}");
        tokio::task::yield_now().await;
    }
}
