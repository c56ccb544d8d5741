//! The edge against hostile clients: slow heads and bodies are cut off within
//! a bound (real sockets trickling bytes, against a server with short limits),
//! an oversized declared body is refused before it is sent, venue generation
//! refuses seat counts before building seats, prices are bounded, and the
//! small things: `nosniff`, problem answers from WebSocket routes, canonical
//! ids, and the `Secure` session cookie behind https.

use std::time::{Duration, Instant};

use serde_json::json;
use stampede_server::{App, EdgeLimits, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::{ADMIN, Resp, Server};

/// Short limits, so a test sees each cut-off in well under a second.
fn short_limits(connections_max: usize) -> EdgeLimits {
    EdgeLimits {
        connections_max,
        // Long: a trickle must be cut by the head or body limits, not for idling.
        idle_max: Duration::from_secs(60),
        header_read_max: Duration::from_millis(500),
        body_grace: Duration::from_millis(300),
        body_rate_min_bytes_per_s: 1000,
        body_read_max: Duration::from_secs(2),
        ..EdgeLimits::default()
    }
}

/// A server over a fresh directory with `limits`; returns its address, the
/// directory (kept alive) and the public URL setting's effect.
async fn serve_with(limits: EdgeLimits, public_url: Option<&str>) -> (std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        admin_token: Some(ADMIN.into()),
        connections_max: limits.connections_max,
        engine: Default::default(),
        public_url: public_url.map(str::to_owned),
        metrics: true,
    };
    let app = App::open(&config).expect("open");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(stampede_server::serve_with_limits(listener, app.state, limits, std::future::pending()));
    (addr, dir)
}

/// Writes `bytes` one at a time, `every` apart, until done or the server
/// hangs up (a failed write ends it quietly).
fn trickle(mut w: tokio::net::tcp::OwnedWriteHalf, bytes: Vec<u8>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for b in bytes {
            if w.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Reads until the server closes the connection, at most `bound`; returns
/// what it sent, or panics if it kept the connection open.
async fn read_until_closed(r: &mut tokio::net::tcp::OwnedReadHalf, bound: Duration) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open for {bound:?}; got {:?}", String::from_utf8_lossy(&got));
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_byte_by_byte_is_cut_off() {
    let (addr, _dir) = serve_with(short_limits(16), None).await;
    let started = Instant::now();
    let (mut r, w) = TcpStream::connect(addr).await.expect("connect").into_split();
    // Each byte well inside the idle limit, the whole head far beyond the head limit.
    let head = b"GET /api/ping HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
        .to_vec();
    let writer = trickle(w, head, Duration::from_millis(50));
    let answer = read_until_closed(&mut r, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(450), "closed before the head limit: {took:?}");
    assert!(took < Duration::from_secs(3), "closed long after the 500 ms head limit: {took:?}");
    assert!(!answer.contains("200 OK"), "the trickled request was served: {answer}");
    writer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_sent_byte_by_byte_is_answered_408_and_closed() {
    let (addr, _dir) = serve_with(short_limits(16), None).await;
    let (mut r, mut w) = TcpStream::connect(addr).await.expect("connect").into_split();
    let head = format!(
        "POST /api/sales/1/holds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    w.write_all(head.as_bytes()).await.expect("head");
    let started = Instant::now();
    // 100 bytes at 10 a second: 10 s, against 300 ms + 1 ms a byte.
    let writer = trickle(w, vec![b' '; 100], Duration::from_millis(100));
    let answer = read_until_closed(&mut r, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "the slow body was cut only after {took:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("content-type: application/problem+json"), "{answer}");
    assert!(answer.contains("/problems/body-too-slow"), "{answer}");
    writer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_body_within_the_rate_is_read() {
    let (addr, _dir) = serve_with(short_limits(16), None).await;
    let (mut r, mut w) = TcpStream::connect(addr).await.expect("connect").into_split();
    let body = br#"{"quantity": 1}"#;
    let head = format!(
        "POST /api/sales/1/holds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    w.write_all(head.as_bytes()).await.expect("head");
    // Within the 300 ms grace: read whole, then answered (no such sale).
    let writer = trickle(w, body.to_vec(), Duration::from_millis(10));
    let answer = read_until_closed(&mut r, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    writer.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_clients_in_every_slot_do_not_keep_a_ping_out_for_long() {
    let slots = 4;
    let (addr, _dir) = serve_with(short_limits(slots), None).await;
    let mut writers = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..slots {
        let (r, w) = TcpStream::connect(addr).await.expect("connect").into_split();
        writers.push(trickle(
            w,
            b"GET /api/ping HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa".repeat(10),
            Duration::from_millis(50),
        ));
        readers.push(r);
    }
    // Every slot is taken now; the ping waits in the backlog until the head limit frees one.
    let started = Instant::now();
    let client = reqwest::Client::new();
    let ping = tokio::time::timeout(Duration::from_secs(5), client.get(format!("http://{addr}/api/ping")).send()).await;
    let took = started.elapsed();
    assert!(matches!(&ping, Ok(Ok(res)) if res.status() == 200), "ping not answered within 5 s: {ping:?}");
    assert!(took < Duration::from_secs(3), "ping waited {took:?}");
    for w in writers {
        w.abort();
    }
}

/// Sends a head declaring `len` body bytes and no body; returns the answer
/// the server gave within `bound`, without any of the body.
async fn declare(addr: std::net::SocketAddr, path: &str, len: u64, bound: Duration) -> String {
    let (mut r, mut w) = TcpStream::connect(addr).await.expect("connect").into_split();
    let head =
        format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n");
    w.write_all(head.as_bytes()).await.expect("head");
    let mut got = Vec::new();
    let read = tokio::time::timeout(bound, async {
        let mut buf = [0u8; 4096];
        // The problem's JSON ends the answer; the connection may stay open for the body.
        while !got.ends_with(b"}") {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&got).into_owned();
    assert!(read.is_ok(), "no whole answer to {path} within {bound:?}: {answer:?}");
    drop(w);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_routes_limit_is_refused_before_it_is_sent() {
    // Default limits: nothing is cut for slowness within the bound here.
    let (addr, _dir) = serve_with(EdgeLimits { connections_max: 16, ..EdgeLimits::default() }, None).await;
    for path in ["/api/sales/1/holds", "/api/auth/login", "/api/venues"] {
        let answer = declare(addr, path, 100_000_000, Duration::from_secs(3)).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.to_ascii_lowercase().contains("content-type: application/problem+json"), "{answer}");
        assert!(answer.contains("/problems/body-too-large"), "{answer}");
    }
    // Each route's own limit: 17 KiB is too much for a hold, not for a venue.
    let answer = declare(addr, "/api/sales/1/holds", 17 * 1024, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    // A client that sends the refused body anyway still reads the answer.
    let client = reqwest::Client::new();
    let refused = client
        .post(format!("http://{addr}/api/sales/1/holds"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .expect("the refused client gets its answer");
    assert_eq!(refused.status(), 413);
    let venue = client
        .post(format!("http://{addr}/api/venues"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(17 * 1024)))
        .send()
        .await
        .expect("venue");
    assert_eq!(venue.status(), 422, "a 17 KiB venue body is read and judged, not refused by size");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn venue_generation_counts_seats_before_building_them() {
    let s = Server::start().await;
    let org = s.organizer("gen").await;
    // 32 blocks of 500 × 1,000: 16 million seats in under 5 KB of request.
    let sections: Vec<_> = (0..32)
        .map(|i| {
            json!({"name": format!("S{i}"), "tier": "R", "price": 1000, "colour": "#336699", "rows": 500,
                   "seats_per_row": 1000, "x": i * 100, "y": 0, "curve_degrees": 0.0, "spacing": 10})
        })
        .collect();
    let generate = json!({"name": "Huge", "sections": sections});
    let sale = json!({"kind": "seated", "title": "Huge", "currency": "KRW",
                      "seated": {"generate": generate, "per_person_limit": 4, "hold_seconds": 300}});
    for (path, body) in [("/api/venues", json!({"generate": generate})), ("/api/sales", sale)] {
        let started = Instant::now();
        let p = s.post(path, Some(&org.token), body).await.problem(422, "/problems/invalid-field");
        assert!(p["detail"].as_str().unwrap_or("").contains("these blocks make 16000000"), "{path}: {p}");
        assert!(started.elapsed() < Duration::from_secs(2), "{path} took {:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_are_bounded_everywhere_and_a_sellout_cannot_overflow() {
    let s = Server::start().await;
    let org = s.organizer("price").await;
    let max = stampede_core::PRICE_MAX;
    let section = |price: u64| {
        json!({"name": "A", "tier": "R", "price": price, "colour": "#336699", "rows": 2, "seats_per_row": 2,
               "x": 0, "y": 0, "curve_degrees": 0.0, "spacing": 10})
    };
    let explicit = |price: u64| {
        json!({"name": "Club", "sections": [{"name": "A", "tier": "R", "price": price, "colour": "#336699",
               "rows": [{"label": "A", "seats": [{"label": "1", "x": 0, "y": 0}]}]}]})
    };
    let seated = |venue: serde_json::Value| {
        json!({"kind": "seated", "title": "Gala", "currency": "KRW",
               "seated": {"venue": venue, "per_person_limit": 4, "hold_seconds": 300}})
    };
    for price in [u64::MAX, max + 1] {
        let generated = json!({"generate": {"name": "Hall", "sections": [section(price)]}});
        s.post("/api/venues", Some(&org.token), generated).await.problem(422, "/problems/invalid-field");
        s.post("/api/venues", Some(&org.token), explicit(price)).await.problem(422, "/problems/invalid-field");
        s.post("/api/sales", Some(&org.token), seated(explicit(price))).await.problem(422, "/problems/invalid-field");
    }
    s.post("/api/venues", Some(&org.token), explicit(max)).await.ok(201);
    s.post("/api/sales", Some(&org.token), seated(explicit(max))).await.ok(201);

    // Each bound alone is fine; selling out 100 million at the top price is not.
    let stock = |stock: u64, price: u64| {
        json!({"kind": "stock", "title": "Pass", "description": "", "stock": stock, "price": price,
               "currency": "KRW", "per_person_limit": 4, "order_quantity_max": 3, "hold_seconds": 300,
               "opens_at": null, "closes_at": null})
    };
    let p =
        s.post("/api/sales", Some(&org.token), stock(100_000_000, max)).await.problem(422, "/problems/invalid-field");
    assert!(p["detail"].as_str().unwrap_or("").contains("stock × price"), "{p}");
    s.post("/api/sales", Some(&org.token), stock(100_000_000, 1000)).await.ok(201);
    s.post("/api/sales", Some(&org.token), stock(1000, max)).await.ok(201);

    // Amounts and revenue at the top price are exact.
    let id = s.open_stock_sale(json!({"price": max, "stock": 10})).await;
    let u = s.users(1, "rich").await.remove(0);
    let hold = s.hold(id, &u.token, 3).await;
    assert_eq!(hold["amount"], 3 * max);
    // Paid from a wallet granted that much in one grant per ₩100,000,000.
    let mut left = 3 * max;
    while left > 0 {
        let part = left.min(100_000_000);
        s.grant(u.id, part).await;
        left -= part;
    }
    let order = s.pay(id, hold["id"].as_u64().unwrap(), &u.token).await.ok(200);
    assert_eq!(order["amount"], 3 * max);
    let results = s.get(&format!("/api/sales/{id}/results"), Some(ADMIN)).await.ok(200);
    assert_eq!(results["revenue"], 3 * max);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_nosniff() {
    let s = Server::start().await;
    for r in [s.get("/api/ping", None).await, s.get("/api/sales/999", None).await, s.get("/api/nothing", None).await] {
        assert_eq!(r.header("x-content-type-options"), "nosniff", "{} {}", r.status, r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_routes_without_an_upgrade_answer_a_problem() {
    let s = Server::start().await;
    let id = s.open_stock_sale(json!({})).await;
    for path in [
        format!("/api/sales/{id}/queue/ws"),
        format!("/api/sales/{id}/seats/ws"),
        format!("/api/sales/{id}/live/ws"),
        "/api/time/ws".to_owned(),
    ] {
        let r: Resp = s.get(&path, None).await;
        assert!(r.status >= 400 && r.status < 500, "{path}: {} {}", r.status, r.body);
        r.problem(r.status, "/problems/websocket-required");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_canonical_ids_name_a_sale() {
    let s = Server::start().await;
    let id = s.open_stock_sale(json!({})).await;
    assert_eq!(id, 1, "the first sale");
    s.get("/api/sales/1", None).await.ok(200);
    for bad in ["+1", "01", "001", "%2B1", "%201", "1%20"] {
        s.get(&format!("/api/sales/{bad}"), None).await.problem(404, "/problems/not-found");
        s.get(&format!("/api/sales/{bad}/results"), Some(ADMIN)).await.problem(404, "/problems/not-found");
    }
}

/// Signs up and returns the session cookie as set.
async fn signup_cookie(addr: std::net::SocketAddr) -> String {
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/auth/signup"))
        .json(&json!({"email": "cookie@example.com", "password": "a long and unusual pass phrase 7", "name": "Cookie"}))
        .send()
        .await
        .expect("signup");
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_secure_when_the_public_url_is_https() {
    let limits = EdgeLimits { connections_max: 16, ..EdgeLimits::default() };
    let (addr, _dir) = serve_with(limits, Some("https://tickets.example.com")).await;
    let cookie = signup_cookie(addr).await;
    assert!(cookie.starts_with("stampede_session="), "{cookie}");
    assert!(cookie.split(';').any(|a| a.trim() == "Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    let (addr, _dir) = serve_with(limits, Some("http://localhost:8080")).await;
    let cookie = signup_cookie(addr).await;
    assert!(!cookie.contains("Secure"), "plain http cannot keep a Secure cookie: {cookie}");
}

/// One request on a connection of its own, read to the end.
async fn get_closing(addr: std::net::SocketAddr, path: &str) -> String {
    let (mut r, mut w) = TcpStream::connect(addr).await.expect("connect").into_split();
    let head = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    w.write_all(head.as_bytes()).await.expect("head");
    read_until_closed(&mut r, Duration::from_secs(5)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_in_flight_cap_are_answered_503_at_once_and_the_cap_frees_up() {
    let limits = EdgeLimits { requests_in_flight_max: 2, ..EdgeLimits::default() };
    let (addr, _dir) = serve_with(limits, None).await;
    assert!(get_closing(addr, "/api/ping").await.starts_with("HTTP/1.1 200"));
    // Two requests whose bodies never come hold both places (the default body
    // limits give them seconds).
    let mut held = Vec::new();
    for _ in 0..2 {
        let (r, mut w) = TcpStream::connect(addr).await.expect("connect").into_split();
        let head = format!(
            "POST /api/sales/1/holds HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        w.write_all(head.as_bytes()).await.expect("head");
        held.push((r, w));
    }
    // The server reads the two heads on its own time: ask until it sheds.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shed = loop {
        let answer = get_closing(addr, "/api/ping").await;
        if answer.starts_with("HTTP/1.1 503") {
            break answer;
        }
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(Instant::now() < deadline, "two requests in flight never filled a cap of two");
        tokio::task::yield_now().await;
    };
    let lower = shed.to_ascii_lowercase();
    assert!(lower.contains("retry-after: 1\r\n"), "{shed}");
    assert!(lower.contains("content-type: application/problem+json"), "{shed}");
    assert!(shed.contains("/problems/overloaded"), "{shed}");
    // A person gets a page in both languages that retries by itself.
    let page = get_closing(addr, "/").await;
    assert!(page.starts_with("HTTP/1.1 503"), "{page}");
    assert!(page.to_ascii_lowercase().contains("retry-after: 1\r\n"), "{page}");
    assert!(page.contains("접속자가 많습니다") && page.contains("Very busy"), "{page}");
    // Health checks are never shed: a busy server is not a dead one.
    assert!(get_closing(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
    // Hanging up gives the places back.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = get_closing(addr, "/api/ping").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the places were never given back: {answer}");
        tokio::task::yield_now().await;
    }
}
