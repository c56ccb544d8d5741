//! Issue 9, items 13, 14, 16, 17 and 18 over HTTP: guessing passwords and
//! probing for accounts is throttled per account and per address without
//! locking the owner out, an unknown account costs as long as a wrong
//! password, guessable passwords are refused with a reason, bearer tokens
//! can be listed, revoked (also by logging out) and given an expiry, and
//! text people see refuses invisible and control characters.
//!
//! Clients take source addresses from 127.0.0.0/8 to act as different
//! machines; the server listens on 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{ADMIN, Resp, Server};

const PASSWORD: &str = "plum-river-42";

/// A client whose requests come from 127.0.0.`last`.
fn from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn post_from(s: &Server, client: &reqwest::Client, path: &str, body: Value) -> Resp {
    s.send(client.post(format!("{}{path}", s.base)).json(&body)).await
}

async fn log_in_from(s: &Server, client: &reqwest::Client, email: &str, password: &str) -> Resp {
    post_from(s, client, "/api/auth/login", json!({"email": email, "password": password})).await
}

#[track_caller]
fn assert_throttled(r: &Resp, most_s: u64) {
    r.problem(429, "/problems/too-many-attempts");
    let retry: u64 = r.header("retry-after").parse().unwrap_or(0);
    assert!((1..=most_s).contains(&retry), "Retry-After {:?}", r.header("retry-after"));
}

/// Item 13: wrong passwords from many addresses lock the account for
/// strangers (429 + Retry-After, at most 30 s away), but the owner, who
/// signed in from their own address before, still gets in.
#[tokio::test]
async fn guessing_one_account_is_throttled_and_the_owner_still_gets_in() {
    let s = Server::start().await;
    let home = from(1);
    post_from(&s, &home, "/api/auth/signup", json!({"email": "kim@example.com", "password": PASSWORD, "name": "Kim"}))
        .await
        .ok(201);

    // A botnet: one wrong password from each of many addresses.
    let mut refused = None;
    for last in 2..30u8 {
        let r = log_in_from(&s, &from(last), "kim@example.com", "wrong-guess-1").await;
        if r.status == 429 {
            refused = Some((last, r));
            break;
        }
        r.problem(401, "/problems/wrong-password");
    }
    let (last, r) = refused.expect("never throttled");
    assert_eq!(last, 12, "10 wrong guesses are let through, the 11th is throttled");
    assert_throttled(&r, 30);

    // A stranger with the right password waits too: the limit is the account's.
    assert_throttled(&log_in_from(&s, &from(40), "kim@example.com", PASSWORD).await, 30);
    // The owner, at home, is let in.
    log_in_from(&s, &home, "kim@example.com", PASSWORD).await.ok(200);
    // So is their script, asking for a token.
    let body = json!({"email": "kim@example.com", "password": PASSWORD, "label": "cli"});
    post_from(&s, &home, "/api/auth/tokens", body).await.ok(201);
}

/// Items 13 and 14: one address can probe at most 20 addresses (known or
/// not) at once, and 16 parallel clients on it get no more than that.
#[tokio::test]
async fn probing_for_accounts_from_one_address_is_throttled_in_parallel_too() {
    let s = Server::start().await;
    let prober = from(50);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (client, base) = (prober.clone(), s.base.clone());
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for j in 0..3 {
                let body = json!({"email": format!("probe-{i}-{j}@example.com"), "password": "a guess of mine"});
                let r = client.post(format!("{base}/api/auth/login")).json(&body).send().await.expect("request");
                let retry = r.headers().get("retry-after").is_some();
                statuses.push((r.status().as_u16(), retry));
            }
            statuses
        }));
    }
    let mut answered = 0;
    let mut throttled = 0;
    for t in tasks {
        for (status, retry) in t.await.expect("task") {
            match status {
                404 => answered += 1,
                429 => {
                    assert!(retry, "429 without Retry-After");
                    throttled += 1;
                }
                other => panic!("unexpected status {other}"),
            }
        }
    }
    // The burst, plus one for every 3 s the run took (the limiter refills).
    let refilled = started.elapsed().as_secs() / 3 + 1;
    assert!(
        (20..=20 + refilled).contains(&answered),
        "{answered} answered in {:?}: the address's burst of 20, even in parallel",
        started.elapsed()
    );
    assert_eq!(throttled, 48 - answered);
    // Another address is not affected, and a lookup still says clearly that there is no such account (A1).
    log_in_from(&s, &from(51), "nobody@example.com", "a guess of mine").await.problem(404, "/problems/unknown-account");
}

/// The fastest of eight failed log-ins, each answered with `status`.
async fn fastest_log_in(s: &Server, client: &reqwest::Client, email: &str, status: u16) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..8 {
        let start = Instant::now();
        let r = log_in_from(s, client, email, "not-my-password-9").await;
        best = best.min(start.elapsed());
        assert_eq!(r.status, status, "{}", r.body);
    }
    best
}

/// Item 14: an unknown address takes as long to answer as a wrong password
/// (compared by the fastest of a few tries; noise only adds time). Before,
/// 1.6 ms against 25 ms. The store's test `every_failed_log_in_costs_one_password_check_account_or_not`
/// shows the same by counting argon2 runs, which no load can disturb; this
/// one checks what an outsider measures, with the margin of a factor of two.
#[tokio::test]
async fn an_unknown_account_answers_as_slowly_as_a_wrong_password() {
    let s = Server::start().await;
    let client = from(60);
    post_from(
        &s,
        &client,
        "/api/auth/signup",
        json!({"email": "lee@example.com", "password": PASSWORD, "name": "Lee"}),
    )
    .await
    .ok(201);
    let known = fastest_log_in(&s, &client, "lee@example.com", 401).await;
    let unknown = fastest_log_in(&s, &client, "nobody@example.com", 404).await;
    assert!(unknown * 2 > known, "unknown {unknown:?} vs known {known:?}");
}

/// Item 16: guessable passwords are refused with a reason code; the page
/// turns it into a sentence (see the browser test).
#[tokio::test]
async fn guessable_passwords_are_refused_with_the_reason() {
    let s = Server::start().await;
    for (password, reason) in
        [("12345678", "common"), ("password", "common"), ("        ", "pattern"), ("kim@example.com", "personal")]
    {
        let body = json!({"email": "kim@example.com", "password": password, "name": "Kim"});
        let p = s.post("/api/auth/signup", None, body).await.problem(422, "/problems/weak-password");
        assert_eq!(p["reason"], reason, "{password:?}: {p}");
        assert!(p["detail"].as_str().is_some_and(|d| d.len() > 20), "{p}");
    }
    // The admin's account tool keeps the same rule.
    let body = json!({"email": "org@example.com", "password": "password1", "name": "Org", "role": "organizer"});
    s.post("/api/admin/users", Some(ADMIN), body).await.problem(422, "/problems/weak-password");
    let body = json!({"email": "kim@example.com", "password": PASSWORD, "name": "Kim"});
    s.post("/api/auth/signup", None, body).await.ok(201);
}

async fn token(s: &Server, body: Value) -> Value {
    s.post("/api/auth/tokens", None, body).await.ok(201)
}

/// Item 17: tokens are listed and revoked by id, logging out with a bearer
/// token revokes it, and a token may be given an expiry.
#[tokio::test]
async fn tokens_are_listed_revoked_and_may_expire() {
    let s = Server::start().await;
    let creds = json!({"email": "kim@example.com", "password": PASSWORD, "name": "Kim"});
    s.post("/api/auth/signup", None, creds).await.ok(201);
    let login = |label: &str, expires_in: Value| json!({"email": "kim@example.com", "password": PASSWORD, "label": label, "expires_in": expires_in});
    let laptop = token(&s, login("laptop", Value::Null)).await;
    assert!(laptop.get("expires_at").is_none(), "{laptop}");
    let ci = token(&s, login("ci", json!(3600))).await;
    let expires = crate::common::us(&ci["expires_at"]);
    let hour_us = 3_600_000_000;
    assert!((expires - crate::common::now_us() - hour_us).abs() < 60_000_000, "{ci}");
    for bad in [json!(0), json!(59), json!(31_622_401), json!(-1)] {
        s.post("/api/auth/tokens", None, login("x", bad)).await.problem(422, "/problems/invalid-field");
    }
    let laptop_token = laptop["token"].as_str().unwrap();
    let ci_token = ci["token"].as_str().unwrap();

    let listed = s.get("/api/auth/tokens", Some(laptop_token)).await.ok(200);
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{listed}");
    assert_eq!(tokens[0]["id"], laptop["id"]);
    assert_eq!(tokens[0]["label"], "laptop");
    assert_eq!(tokens[1]["label"], "ci");
    assert_eq!(tokens[1]["expires_at"], ci["expires_at"]);
    assert!(!listed.to_string().contains(laptop_token), "the list never shows a token");

    // Nobody else can revoke them, or see them.
    let other = s.users(1, "other").await.remove(0);
    s.delete(&format!("/api/auth/tokens/{}", ci["id"]), Some(&other.token)).await.problem(404, "/problems/not-found");
    let theirs = s.get("/api/auth/tokens", Some(&other.token)).await.ok(200);
    assert_eq!(theirs["tokens"].as_array().map(Vec::len), Some(1));

    // Revoke by id: the token stops working at once.
    let r = s.delete(&format!("/api/auth/tokens/{}", ci["id"]), Some(laptop_token)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    s.get("/api/me", Some(ci_token)).await.problem(401, "/problems/unauthenticated");
    s.delete(&format!("/api/auth/tokens/{}", ci["id"]), Some(laptop_token)).await.problem(404, "/problems/not-found");

    // Logging out with a bearer token revokes it.
    s.get("/api/me", Some(laptop_token)).await.ok(200);
    let r = s.post_empty("/api/auth/logout", Some(laptop_token)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    s.get("/api/me", Some(laptop_token)).await.problem(401, "/problems/unauthenticated");

    // The operator's configured token has nothing to list.
    s.get("/api/auth/tokens", Some(ADMIN)).await.problem(403, "/problems/forbidden");
}

/// Item 18: names, e-mails, titles and section names refuse control,
/// format and bidi characters and names that show nothing; text is stored in NFC.
#[tokio::test]
async fn invisible_and_control_characters_are_refused() {
    let s = Server::start().await;
    for name in
        ["Kim\u{202E}nim", "\u{200B}", "\u{200B}\u{200B}", "\u{FEFF}Kim", "Kim\u{FFFF}", "Kim\u{E000}", "\u{3164}"]
    {
        let body = json!({"email": "kim@example.com", "password": PASSWORD, "name": name});
        s.post("/api/auth/signup", None, body).await.problem(422, "/problems/invalid-field");
    }
    let body = json!({"email": "ki\u{202E}m@example.com", "password": PASSWORD, "name": "Kim"});
    s.post("/api/auth/signup", None, body).await.problem(422, "/problems/invalid-field");

    let user = s.users(1, "txt").await.remove(0);
    s.put("/api/me", Some(&user.token), json!({"name": "a\u{202E}b"})).await.problem(422, "/problems/invalid-field");
    let renamed = s.put("/api/me", Some(&user.token), json!({"name": "\u{1100}\u{1161}\u{11A8}"})).await.ok(200);
    assert_eq!(renamed["name"], "각", "stored in NFC");

    let org = s.organizer("org").await;
    for title in ["A\u{0}B", "A\u{1B}[31mB", "A\u{202E}B", "\u{200B}", "A\u{FFFF}", "A\u{E000}"] {
        let body = json!({"kind": "stock", "title": title, "description": "", "stock": 1, "price": 1000,
                          "currency": "KRW", "per_person_limit": 1, "order_quantity_max": 1, "hold_seconds": 300});
        let p = s.post("/api/sales", Some(&org.token), body).await.problem(422, "/problems/invalid-field");
        assert!(p["detail"].as_str().is_some_and(|d| d.contains("title")), "{p}");
    }
    let sale =
        s.stock_sale_by(&org.token, json!({"title": "Jazz\u{2003}night", "description": "Line one\nLine two"})).await;
    assert_eq!(sale["description"], "Line one\nLine two", "descriptions keep their line breaks");

    let venue = json!({"name": "Club", "sections": [
        {"name": "Front\u{202E}", "tier": "VIP", "price": 1000, "colour": "#aa2222", "rows": [
            {"label": "A", "seats": [{"label": "1", "x": 0, "y": 0}]}]}]});
    let p = s.post("/api/venues", Some(&org.token), venue).await.problem(422, "/problems/invalid-field");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("section name")), "{p}");
}
