#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The web app's tests against the real server (127.0.0.1:0, fresh data
//! directory): first the pages over plain HTTP (languages, escaping, 404s,
//! sessions, assets), then the browser run: `node tests/browser/run.mjs
//! <base-url>` drives headless Debian chromium through sign-up, log-in,
//! buying, a drop, the seat map (two people live, a 50,000-seat venue), the
//! waiting room, the organizer pages, friends and the language switch, and
//! saves screenshots to `target/browser-screenshots/`.
//!
//! When `/usr/bin/chromium`, node or `tests/browser/node_modules` is missing
//! the test fails and says what to install (`.ci/run` installs them): a
//! passing run must mean the pages were tried. `STAMPEDE_SKIP_BROWSER=1` is
//! the explicit opt-out, which prints SKIPPED; it is refused when `CI` is set.

#[allow(dead_code)]
#[path = "api/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{ADMIN, Server};
use reqwest::Method;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
/// What chromium sends in `Accept` when it navigates.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
/// The browser run is stopped after this long.
const BROWSER_RUN_MAX: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A client that shows redirects instead of following them.
fn no_follow() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// GET (redirects not followed) with optional cookies and Accept-Language.
async fn page(server: &Server, path: &str, cookie: Option<&str>, accept_language: Option<&str>) -> common::Resp {
    let mut rb = no_follow().get(format!("{}{path}", server.base)).header("accept", BROWSER_ACCEPT);
    if let Some(c) = cookie {
        rb = rb.header("cookie", c);
    }
    if let Some(l) = accept_language {
        rb = rb.header("accept-language", l);
    }
    server.send(rb).await
}

#[track_caller]
fn html(r: &common::Resp, status: u16) -> &str {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert!(r.header("content-security-policy").contains("default-src 'self'"), "CSP on every page");
    &r.body
}

/// Signs up through the API; returns (session cookie pair, csrf token, name).
async fn sign_up(server: &Server, name: &str) -> (String, String) {
    let email = format!("{}-{}@example.com", name.to_lowercase(), uuid::Uuid::new_v4().simple());
    let r =
        server.post("/api/auth/signup", None, json!({"email": email, "password": "page-test-1", "name": name})).await;
    let body = r.ok(201);
    let cookie = r.header("set-cookie").split(';').next().unwrap().to_owned();
    (cookie, body["csrf_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn home_page_speaks_korean_and_english_by_cookie_and_accept_language() {
    let server = Server::start().await;
    server.open_stock_sale(json!({"title": "Festival pass", "price": 55000})).await;
    let drop = server
        .post(
            "/api/sales",
            Some(ADMIN),
            json!({"kind": "drop", "title": "Sneaker drop", "winners": 100, "opens_at": "2099-01-01T00:00:00Z"}),
        )
        .await
        .ok(201);
    assert_eq!(drop["status"], "scheduled");

    let en = page(&server, "/", Some("lang=en"), Some("ko-KR,ko;q=0.9")).await;
    let body = html(&en, 200);
    assert!(body.contains("<html lang=\"en\""));
    assert!(
        body.contains("Open now")
            && body.contains("Opening today")
            && body.contains("Later")
            && body.contains("Closed")
    );
    assert!(body.contains("Festival pass") && body.contains("₩55,000") && body.contains("10 left"));
    assert!(body.contains("Sneaker drop") && body.contains("100 of 100 prizes left"));
    assert!(body.contains("Jan 1, 2099 00:00 UTC"), "opening time for English readers");

    let ko = page(&server, "/", Some("lang=ko"), Some("en-US")).await;
    let body = html(&ko, 200);
    assert!(body.contains("<html lang=\"ko\""));
    assert!(
        body.contains("지금 판매 중")
            && body.contains("오늘 오픈")
            && body.contains("이후 오픈")
            && body.contains("판매 종료")
    );
    assert!(body.contains("10개 남음") && body.contains("₩55,000"));
    assert!(body.contains("2099년 1월 1일 09:00 KST"), "opening time in Korea's zone");

    let by_header = page(&server, "/", None, Some("ko-KR,ko;q=0.9,en;q=0.5")).await;
    assert!(html(&by_header, 200).contains("<html lang=\"ko\""));
    let fallback = page(&server, "/", None, None).await;
    assert!(html(&fallback, 200).contains("<html lang=\"en\""));
    // The page links its catalogue for the scripts (a cached file, not inline), and nothing from another origin.
    assert!(body.contains("/i18n/ko.js\"></script>") && !body.contains("\"queue.no_webcrypto\""));
    assert!(html(&en, 200).contains("/i18n/en.js\"></script>"));
    assert!(!body.contains("http://") && !body.contains("https://"), "no external resource");
}

#[tokio::test]
async fn the_home_page_groups_by_opening_day_and_narrows_by_kind() {
    let server = Server::start().await;
    server.open_stock_sale(json!({"title": "Open deal"})).await;
    let in_3_days = common::now_us() + 3 * 86_400 * 1_000_000;
    let at = |us: i64| {
        let secs = us / 1_000_000;
        jiff::Timestamp::from_second(secs).unwrap().to_string()
    };
    server.stock_sale_by(ADMIN, json!({"title": "Deal in three days", "opens_at": at(in_3_days)})).await;
    server
        .stock_sale_by(ADMIN, json!({"title": "Deal in a month", "opens_at": at(in_3_days + 27 * 86_400_000_000)}))
        .await;
    let body = html(&page(&server, "/", Some("lang=en"), None).await, 200).to_owned();
    let section = |id: &str| {
        let start = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("section {id}"));
        let end = body[start..].find("</section>").map_or(body.len(), |e| start + e);
        body[start..end].to_owned()
    };
    assert!(section("open-now").contains("Open deal"));
    assert!(section("opening-this-week").contains("Deal in three days"));
    assert!(section("opening-later").contains("Deal in a month"));
    assert!(!section("opening-today").contains("Deal in"));
    let drops = html(&page(&server, "/?kind=drop", Some("lang=en"), None).await, 200).to_owned();
    assert!(!drops.contains("Open deal") && !drops.contains("Deal in three days"), "only drops are listed");
    assert!(drops.contains("aria-current=\"page\""));
}

#[tokio::test]
async fn the_language_switch_sets_a_cookie_and_only_goes_back_to_local_pages() {
    let server = Server::start().await;
    let r = page(&server, "/lang/ko?next=%2Fsales%2F3%3Fa%3Db", None, None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/sales/3?a=b");
    assert!(r.header("set-cookie").starts_with("lang=ko;"), "{}", r.header("set-cookie"));
    assert!(r.header("set-cookie").contains("Max-Age=31536000"));
    for evil in ["%2F%2Fevil.example", "https%3A%2F%2Fevil.example", "%2F%5Cevil.example"] {
        let r = page(&server, &format!("/lang/en?next={evil}"), None, None).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), "/", "{evil}");
    }
    let r = page(&server, "/lang/fr?next=%2F", None, None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("set-cookie"), "", "an unknown language changes nothing");
}

#[tokio::test]
async fn sale_pages_escape_what_organizers_write_and_unknown_ones_are_a_human_404() {
    let server = Server::start().await;
    let id = server
        .open_stock_sale(json!({"title": "<script>alert(1)</script> & co", "description": "\"quoted\" <b>bold</b>"}))
        .await;
    let r = page(&server, &format!("/sales/{id}"), Some("lang=en"), None).await;
    let body = html(&r, 200);
    assert!(body.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; co") || body.contains("&lt;script&gt;"));
    assert!(!body.contains("<script>alert(1)</script>"), "title not escaped");
    assert!(!body.contains("<b>bold</b>"), "description not escaped");
    assert!(!body.contains("id=\"hold-form\""), "signed-out viewers get a log-in link, not the form");
    assert!(body.contains(&format!("/login?next=/sales/{id}")));
    assert!(body.contains("/js/stock.js\""));

    for path in ["/sales/999999", "/sales/abc", "/no/such/page"] {
        let r = page(&server, path, Some("lang=ko"), None).await;
        let body = html(&r, 404);
        assert!(body.contains("페이지를 찾을 수 없습니다"), "{path}: {body}");
    }
    // The API keeps answering problems for unknown routes, and so does any
    // path for a client that does not ask for HTML.
    server.get("/no/such/page", None).await.problem(404, "/problems/not-found");
    page(&server, "/api/no-such-route", None, None).await.problem(404, "/problems/not-found");
    let r = server.send(server.request(Method::POST, "/api/no-such-route")).await;
    r.problem(404, "/problems/not-found");
}

#[tokio::test]
async fn drop_and_seated_sale_pages_show_their_summary() {
    let server = Server::start().await;
    let drop = server
        .post("/api/sales", Some(ADMIN), json!({"kind": "drop", "title": "Drop", "winners": 5, "opens_at": null}))
        .await
        .ok(201);
    let r = page(&server, &format!("/sales/{}", drop["id"]), Some("lang=en"), None).await;
    let body = html(&r, 200);
    assert!(body.contains("5 winners") && body.contains("id=\"countdown\"") && body.contains("/js/drop.js\""));
    assert!(body.contains("Opening time to be announced"));

    let seated = server
        .post(
            "/api/sales",
            Some(ADMIN),
            json!({"kind": "seated", "title": "Concert", "seated": {"generate": {"name": "Hall", "sections": [
                {"name": "Floor", "tier": "VIP", "price": 150000, "colour": "#cc3333", "rows": 2, "seats_per_row": 5,
                 "x": 0, "y": 0, "curve_degrees": 0.0, "spacing": 10}]},
                "per_person_limit": 4, "seats_per_hold_max": 4, "hold_seconds": 300}}),
        )
        .await
        .ok(201);
    let r = page(&server, &format!("/sales/{}", seated["id"]), Some("lang=ko"), None).await;
    let body = html(&r, 200);
    assert!(body.contains("Floor") && body.contains("₩150,000") && body.contains("10석 남음"), "{body}");
    assert!(body.contains("id=\"seatmap-svg\"") && body.contains("/js/seats.js\""), "{body}");
    assert!(body.contains("data-hold-max=\"4\"") && body.contains("한 번에 최대 4석"), "{body}");
}

#[tokio::test]
async fn a_sale_behind_a_waiting_room_shows_the_room_and_hides_buying_until_admission() {
    let server = Server::start().await;
    let sale = server
        .post(
            "/api/sales",
            Some(ADMIN),
            json!({"kind": "stock", "title": "Queued", "stock": 10, "price": 1000, "currency": "KRW",
                "per_person_limit": 2, "order_quantity_max": 2, "hold_seconds": 60, "opens_at": null,
                "waiting_room": {"policy": "active", "active_max": 10, "pow_bits": 8}}),
        )
        .await
        .ok(201);
    let path = format!("/sales/{}", sale["id"]);
    let r = page(&server, &path, Some("lang=en"), None).await;
    let body = html(&r, 200);
    assert!(body.contains("/js/queue.js\"") && !body.contains("/js/stock.js\""), "{body}");
    assert!(body.contains("id=\"login-to-join\""), "{body}");
    let (cookie, _) = sign_up(&server, "Queuer").await;
    let r = page(&server, &path, Some(&format!("{cookie}; lang=ko")), None).await;
    let body = html(&r, 200);
    assert!(body.contains("id=\"queue-join\"") && body.contains("대기실"), "{body}");
    assert!(body.contains("<form id=\"hold-form\" class=\"buy\" hidden data-after-admission>"), "{body}");
}

#[tokio::test]
async fn my_page_needs_a_session_and_lists_holds_and_orders() {
    let server = Server::start().await;
    let r = page(&server, "/me", None, None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/login?next=%2Fme");

    let id = server.open_stock_sale(json!({"title": "Pass", "price": 1000})).await;
    let (cookie, csrf) = sign_up(&server, "Minji").await;
    let hold = |quantity: i64| {
        server
            .request(Method::POST, &format!("/api/sales/{id}/holds"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"quantity": quantity}))
    };
    let first = server.send(hold(2)).await.ok(201);
    // A priced hold is paid for (a plain confirm answers 402): from a granted wallet.
    let me = server.send(server.request(Method::GET, "/api/me").header("cookie", &cookie)).await.ok(200);
    let me_id = me["id"].as_u64().or_else(|| me["user"]["id"].as_u64()).expect("my id");
    server.post(&format!("/api/admin/wallets/{me_id}/grant"), Some(ADMIN), json!({"amount": 10000})).await.ok(201);
    let pay = server
        .request(Method::POST, &format!("/api/sales/{id}/holds/{}/pay", first["id"]))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"provider": "wallet"}));
    server.send(pay).await.ok(200);
    server.send(hold(1)).await.ok(201);

    let r = page(&server, "/me", Some(&format!("{cookie}; lang=en")), None).await;
    let body = html(&r, 200);
    assert!(body.contains("Minji"));
    assert!(body.contains(&format!("<meta name=\"csrf-token\" content=\"{csrf}\">")), "the page carries the token");
    assert!(body.contains("data-countdown-us="), "the open hold has a timer");
    let reference = first["reference"].as_str().expect("a hold has a reference");
    assert!(
        body.contains(&format!("<strong class=\"reference\">{reference}</strong>")),
        "the order shows its reference"
    );
    assert!(body.contains("₩2,000") && body.contains(">Paid<"), "the paid order shows as paid");
    assert_eq!(r.header("cache-control"), "no-store");
}

#[tokio::test]
async fn organizer_pages_are_for_organizers_and_admins_and_list_only_their_sales() {
    let server = Server::start().await;
    let admins_sale = server.open_stock_sale(json!({"title": "Admin pass", "price": 1000})).await;
    let r = page(&server, "/organizer", None, None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/login?next=%2Forganizer");

    let (participant, _) = sign_up(&server, "Part").await;
    for path in ["/organizer", "/organizer/new", &format!("/organizer/sales/{admins_sale}")] {
        let r = page(&server, path, Some(&format!("{participant}; lang=en")), None).await;
        assert!(html(&r, 403).contains("For organizers only"), "{path}");
    }
    let r = page(&server, "/me", Some(&participant), None).await;
    assert!(!html(&r, 200).contains("id=\"nav-organizer\""), "participants have no organizer link");

    let (organizer, _) = sign_up(&server, "Org").await;
    let me = server.send(server.request(Method::GET, "/api/me").header("cookie", &organizer)).await.ok(200);
    let role = server
        .request(Method::PUT, &format!("/api/admin/users/{}/role", me["id"]))
        .bearer_auth(ADMIN)
        .json(&json!({"role": "organizer"}));
    server.send(role).await.ok(200);
    let cookie = format!("{organizer}; lang=en");
    let r = page(&server, "/organizer", Some(&cookie), None).await;
    let body = html(&r, 200);
    assert!(body.contains("id=\"nav-organizer\"") && body.contains("data-role=\"organizer\""), "{body}");
    assert!(body.contains("You have no sales yet.") && !body.contains("Admin pass"), "{body}");
    let r = page(&server, "/organizer/new", Some(&cookie), None).await;
    assert!(html(&r, 200).contains("/js/organizer.js\""));
    let r = page(&server, &format!("/organizer/sales/{admins_sale}"), Some(&cookie), None).await;
    html(&r, 403);
    let r = page(&server, "/organizer/sales/987654", Some(&cookie), None).await;
    html(&r, 404);
}

#[tokio::test]
async fn logging_out_needs_the_forms_csrf_token_and_ends_the_session() {
    let server = Server::start().await;
    let (cookie, csrf) = sign_up(&server, "Jisoo").await;
    let post = |form: &str| {
        no_follow()
            .post(format!("{}/logout", server.base))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
    };
    let r = server.send(post("csrf=wrong")).await;
    assert_eq!(r.status, 403);
    let r = server.send(server.request(Method::GET, "/api/me").header("cookie", &cookie)).await;
    r.ok(200);
    let r = server.send(post(&format!("csrf={csrf}"))).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), "/");
    assert!(r.header("set-cookie").contains("Max-Age=0"));
    let r = server.send(server.request(Method::GET, "/api/me").header("cookie", &cookie)).await;
    r.problem(401, "/problems/unauthenticated");
}

#[tokio::test]
async fn assets_are_embedded_with_etags_and_hashed_urls_and_the_server_tells_its_time() {
    let server = Server::start().await;
    for (path, kind) in [
        ("/assets/app.css", "text/css"),
        ("/assets/js/app.js", "text/javascript"),
        ("/assets/js/clock.js", "text/javascript"),
        ("/assets/js/auth.js", "text/javascript"),
        ("/assets/js/stock.js", "text/javascript"),
        ("/assets/js/drop.js", "text/javascript"),
        ("/assets/js/me.js", "text/javascript"),
        ("/assets/js/seats.js", "text/javascript"),
        ("/assets/js/queue.js", "text/javascript"),
    ] {
        let r = page(&server, path, None, None).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(r.header("content-type").starts_with(kind), "{path}: {}", r.header("content-type"));
        let etag = r.header("etag").to_owned();
        assert!(etag.starts_with('"'), "{path} has an etag");
        let again = server.send(server.request(Method::GET, path).header("if-none-match", &etag)).await;
        assert_eq!(again.status, 304, "{path} revalidates");
    }
    assert_eq!(page(&server, "/js/nope.js\"", None, None).await.status, 404);

    // Pages link each file by its content-hashed URL, kept for a year; the
    // bare path and a stale version (a page from an older binary) get
    // today's file, to be revalidated.
    let home = page(&server, "/", None, None).await;
    for path in stampede_server::web::assets::paths() {
        let href = stampede_server::web::assets::href(path).unwrap();
        let r = page(&server, href, None, None).await;
        assert_eq!(r.status, 200, "{href}");
        assert_eq!(r.header("cache-control"), "public, max-age=31536000, immutable", "{href}");
        let bare = page(&server, &format!("/assets/{path}"), None, None).await;
        assert_eq!(bare.body, r.body, "{path}");
        assert_eq!(bare.header("cache-control"), "no-cache", "{path}");
        let stale = page(&server, &format!("/assets/0123456789abcdef/{path}"), None, None).await;
        assert_eq!((stale.status, stale.header("cache-control")), (200, "no-cache"), "{path}");
        if path == "app.css" || path == "js/app.js" || path == "i18n/en.js" {
            assert!(home.body.contains(href), "the home page links {href}");
        }
    }

    let before = common::now_us();
    let t = server.get("/api/time", None).await.ok(200);
    let after = common::now_us();
    let us = t["server_time_us"].as_i64().unwrap();
    assert!((before..=after).contains(&us), "{before} <= {us} <= {after}");
}

#[tokio::test]
async fn the_clock_socket_answers_each_sample_at_once_then_closes() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::start().await;
    let url = format!("{}/api/time/ws", server.base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut answered = 0;
    for i in 0..16 {
        let before = common::now_us();
        ws.send(Message::Text(format!("s{i}").into())).await.unwrap();
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
        let after = common::now_us();
        let v: serde_json::Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        assert_eq!(v["tag"], format!("s{i}"));
        let us = v["server_time_us"].as_i64().unwrap();
        assert!((before..=after).contains(&us), "{before} <= {us} <= {after}");
        answered += 1;
    }
    assert_eq!(answered, 16);
    // Sixteen samples is all one socket gets.
    let end = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap();
    assert!(matches!(end, Some(Ok(Message::Close(_))) | None), "{end:?}");
}

/// Why the browser run cannot happen here, if it cannot.
fn browser_missing(root: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install chromium)"));
    }
    if !root.join("tests/browser/node_modules/playwright-core").exists() {
        missing.push("tests/browser/node_modules (cd tests/browser && npm ci)".into());
    }
    if std::process::Command::new("node").arg("--version").output().map_or(true, |o| !o.status.success()) {
        missing.push("node".into());
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_tests_in_headless_chromium() {
    let root = repo_root();
    let missing = browser_missing(&root);
    if !missing.is_empty() {
        let what = missing.join(", ");
        let opted_out = std::env::var("STAMPEDE_SKIP_BROWSER").is_ok_and(|v| v == "1");
        if !opted_out || std::env::var_os("CI").is_some() {
            panic!(
                "the browser tests need {what}; .ci/run installs them (STAMPEDE_SKIP_BROWSER=1 skips them, outside CI)"
            );
        }
        eprintln!("SKIPPED browser tests (STAMPEDE_SKIP_BROWSER=1): missing {what}");
        return;
    }
    // Card payments go through a sandbox gateway beside the server, as in the demo.
    let (server, gateway) = Server::start_with_sandbox(std::sync::Arc::new(stampede_engine::SystemClock)).await;
    let base = server.base.clone();
    let mut child = tokio::process::Command::new("node")
        .arg("tests/browser/run.mjs")
        .arg(&base)
        .env("STAMPEDE_ADMIN_TOKEN", ADMIN)
        .env("STAMPEDE_GATEWAY", &gateway)
        .current_dir(&root)
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let status = tokio::time::timeout(BROWSER_RUN_MAX, child.wait()).await.ok().map(|s| s.expect("wait for node"));
    let status = status.unwrap_or_else(|| panic!("the browser tests took over {BROWSER_RUN_MAX:?}"));
    assert!(status.success(), "the browser tests failed ({status}); see their output above");
    server.stop().await;
}
